//! `lab down`: removes everything the plan in lab.json names — processes, mounts
//! (the hosts' own namespaces go with their processes), loop devices, namespaces,
//! links, files — whether the lab is complete or a crashed `up` left it
//! half-made. Every step tolerates things already gone, so `down` can be rerun.

use std::path::Path;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};

use super::engine;
use super::net;
use super::state::{LAB_FILES, LabState};
use super::sys;

pub async fn down_state(state: &LabState) -> Result<()> {
    let plan = &state.plan;
    let mut errors: Vec<String> = vec![];

    // 1. Everything running inside the hosts' namespaces: sshd and its sessions,
    //    fail2ban, the TLS and HTTP servers. With them go the hosts' own mount
    //    namespaces and every mount in them.
    let mut in_netns = vec![];
    for host in &plan.hosts {
        in_netns.extend(net::netns_pids(&host.netns).await);
    }
    sys::terminate(&in_netns, Duration::from_secs(5)).await;

    // 2. Engines: containers first (SIGKILL: lab containers ignore SIGTERM, and a
    //    shim outliving its engine would keep them running), then dockerd, which
    //    takes its containerd along.
    for e in &plan.engines {
        let started = std::time::Instant::now();
        engine::remove_all_containers(e).await;
        engine::stop_engine(e).await;
        tracing::info!(
            engine = e.index,
            secs = started.elapsed().as_secs_f64(),
            "engine stopped"
        );
    }

    // 3. Anything else still mentioning the lab's paths (a containerd or shim left by
    //    a killed dockerd, a daemon whose pidfile was never written).
    let markers = vec![
        plan.dir.display().to_string(),
        plan.run_dir.display().to_string(),
    ];
    let leftovers = sys::pids_mentioning(&markers);
    if !leftovers.is_empty() {
        tracing::info!(?leftovers, "terminating leftover lab processes");
        sys::terminate(&leftovers, Duration::from_secs(5)).await;
    }

    // 4. Mounts the engines made (overlay layers, shm, netns of containers).
    for root in [&plan.run_dir, &plan.dir] {
        for m in sys::mounts_under(root) {
            if let Err(e) = sys::unmount(&m) {
                errors.push(format!("{e:#}"));
            }
        }
    }

    // 4b. The hosts' data filesystems: their loop devices detach by themselves once
    //     the hosts' namespaces are gone (mount sets autoclear); give the kernel a
    //     moment, then detach what a stuck mount still holds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !sys::loop_devices_under(&plan.dir).is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (device, backing) in sys::loop_devices_under(&plan.dir) {
        tracing::warn!(device = %device.display(), backing = %backing.display(), "detaching a lab loop device");
        if let Err(e) = sys::run("losetup", ["-d".as_ref(), device.as_os_str()]).await {
            errors.push(format!("{e:#}"));
        }
    }

    // 5. Network.
    for host in &plan.hosts {
        if let Err(e) = net::remove_host_network(host).await {
            errors.push(format!("{e:#}"));
        }
    }
    if let Err(e) = net::remove_bridge(plan).await {
        errors.push(format!("{e:#}"));
    }

    // 6. Files: the lab's own names only; DIR itself if the lab created it.
    if plan.run_dir.exists()
        && let Err(e) = std::fs::remove_dir_all(&plan.run_dir)
    {
        errors.push(format!("removing {}: {e}", plan.run_dir.display()));
    }
    for name in LAB_FILES.iter().filter(|n| **n != super::state::STATE_FILE) {
        let path = plan.dir.join(name);
        if let Err(e) = remove_path(&path) {
            errors.push(format!("removing {}: {e}", path.display()));
        }
    }

    // 7. System directories sshd/dockerd/iproute2 created because the lab ran them.
    cleanup_system_dirs(state).await;

    if !errors.is_empty() {
        // Keep lab.json so the next `down` knows what to retry.
        color_eyre::eyre::bail!("lab down left things behind:\n  {}", errors.join("\n  "));
    }
    remove_path(&LabState::path(&plan.dir)).wrap_err("removing lab.json")?;
    if state.created_dir {
        // Only if empty: a file the user put there is not ours to delete.
        let _ = std::fs::remove_dir(&plan.dir);
    }
    Ok(())
}

fn remove_path(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn process_named(names: &[&str]) -> bool {
    sys::all_pids()
        .into_iter()
        .filter(|p| sys::pid_alive(*p))
        .any(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| names.contains(&c.trim()))
        })
}

async fn cleanup_system_dirs(state: &LabState) {
    let netns_dir = Path::new("/run/netns");
    let namespaces_left = std::fs::read_dir(netns_dir)
        .map(|rd| rd.count() > 0)
        .unwrap_or(false);
    if state.netns_mount_created && !namespaces_left {
        // iproute2 bind-mounts /run/netns onto itself to make it shared; undo that
        // (bounded: a mount we cannot remove must not loop forever).
        for _ in 0..4 {
            if !sys::is_mount_point(netns_dir) || sys::unmount(netns_dir).is_err() {
                break;
            }
        }
    }
    let docker_in_use = process_named(&["dockerd", "containerd", "containerd-shim-runc-v2"]);
    let sshd_in_use = process_named(&["sshd"]);
    for dir in &state.system_dirs_created {
        let in_use = if dir.starts_with("/run/sshd") {
            sshd_in_use
        } else if dir.starts_with(netns_dir) {
            namespaces_left || sys::is_mount_point(netns_dir)
        } else {
            docker_in_use
        };
        if !in_use {
            // remove_dir only removes empty directories: never anything else's files.
            let _ = std::fs::remove_dir(dir);
        }
    }
}
