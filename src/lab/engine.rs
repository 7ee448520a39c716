//! Docker engines of the lab. `dockerd` cannot run inside `ip netns exec` (it remounts
//! /sys and loses the devices cgroup), so each engine runs in the root namespace on its
//! own socket, data root and exec root; the host's sshd forwards to that socket, which
//! is the only way the inventory reaches it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{CreateImageOptionsBuilder, ListContainersOptionsBuilder};
use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use futures_util::StreamExt;

use super::plan::{BROKEN_TAG, Behaviour, EnginePlan, HostPlan, IMAGE_REPO, IMAGE_TAGS, LabPlan};
use super::render;
use super::sys;

/// Label put on every container the lab creates, with the lab host as value.
pub const LAB_HOST_LABEL: &str = "lab.fleetdeck.host";

pub async fn connect(socket: &Path) -> Result<Docker> {
    let path = socket
        .to_str()
        .ok_or_else(|| eyre!("socket path {} is not UTF-8", socket.display()))?;
    let docker = Docker::connect_with_socket(path, 120, bollard::API_DEFAULT_VERSION)
        .wrap_err_with(|| format!("connecting to {path}"))?;
    docker
        .negotiate_version()
        .await
        .wrap_err_with(|| format!("Docker engine at {path} does not answer"))
}

fn engine_running(engine: &EnginePlan) -> Option<i32> {
    sys::pidfile_process(&engine.pidfile, &engine.socket.display().to_string())
}

/// Starts the engine unless it already runs; returns once its API answers.
pub async fn ensure_engine(engine: &EnginePlan) -> Result<Docker> {
    if engine_running(engine).is_some()
        && let Ok(d) = connect(&engine.socket).await
    {
        return Ok(d);
    }
    for dir in [&engine.exec_root, &engine.data_root] {
        std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    }
    let engine_dir = engine
        .config_file
        .parent()
        .ok_or_else(|| eyre!("engine config has no parent directory"))?;
    std::fs::write(
        &engine.config_file,
        render::daemon_json(&engine_dir.join("trust-key.json")),
    )?;
    // A stale socket or pidfile from a killed engine makes dockerd refuse to start.
    let _ = std::fs::remove_file(&engine.socket);
    let _ = std::fs::remove_file(&engine.pidfile);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&engine.log_file)
        .wrap_err_with(|| format!("opening {}", engine.log_file.display()))?;
    let dockerd = sys::find_program("dockerd").ok_or_else(|| eyre!("dockerd not found"))?;
    let mut cmd = tokio::process::Command::new(dockerd);
    cmd.arg("--host")
        .arg(format!("unix://{}", engine.socket.display()))
        .arg("--data-root")
        .arg(&engine.data_root)
        .arg("--exec-root")
        .arg(&engine.exec_root)
        .arg("--pidfile")
        .arg(&engine.pidfile)
        .arg("--config-file")
        .arg(&engine.config_file)
        .args([
            "--bridge=none",
            "--iptables=false",
            "--ip-masq=false",
            "--log-level=warn",
            // Lab containers ignore SIGTERM (a shell as pid 1); don't wait 15 s each.
            "--shutdown-timeout=2",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: a Ctrl-C at the terminal must not take engines down.
        .process_group(0);
    let mut child = cmd.spawn().wrap_err("starting dockerd")?;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "dockerd for {} exited ({status}) during start; its log {} ends with: {}",
                engine.socket.display(),
                engine.log_file.display(),
                tail(&engine.log_file)
            );
        }
        if engine.socket.exists()
            && let Ok(d) = connect(&engine.socket).await
        {
            return Ok(d);
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "dockerd for {} did not answer within 60 s; see {}",
                engine.socket.display(),
                engine.log_file.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn tail(path: &Path) -> String {
    std::fs::read_to_string(path)
        .map(|t| t.lines().rev().take(3).collect::<Vec<_>>().join(" | "))
        .unwrap_or_default()
}

/// Force-removes every container of a running engine (best effort).
pub async fn remove_all_containers(engine: &EnginePlan) {
    if engine_running(engine).is_none() {
        return;
    }
    let Ok(docker) = connect(&engine.socket).await else {
        return;
    };
    let all = ListContainersOptionsBuilder::new().all(true).build();
    let Ok(containers) = crate::docker::clean::list_containers(&docker, Some(all)).await else {
        return;
    };
    let force = bollard::query_parameters::RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    let removals = containers.iter().filter_map(|c| c.id.clone()).map(|id| {
        let docker = docker.clone();
        let force = force.clone();
        async move {
            if let Err(e) = docker.remove_container(&id, Some(force)).await {
                tracing::warn!(container = %id, error = %e, "cannot remove lab container");
            }
        }
    });
    futures_util::future::join_all(removals).await;
}

/// Stops an engine gracefully (dockerd stops its containers and containerd).
pub async fn stop_engine(engine: &EnginePlan) {
    if let Some(pid) = engine_running(engine) {
        sys::terminate(&[pid], Duration::from_secs(30)).await;
    }
}

// ---- image ---------------------------------------------------------------------------

/// A root filesystem holding only the static busybox and its applet links.
async fn build_rootfs(root: &Path, version: &str) -> Result<()> {
    let bin = root.join("bin");
    if root.exists() {
        std::fs::remove_dir_all(root)?;
    }
    std::fs::create_dir_all(&bin)?;
    for d in ["tmp", "srv", "etc"] {
        std::fs::create_dir_all(root.join(d))?;
    }
    std::fs::copy(sys::STATIC_BUSYBOX, bin.join("busybox"))
        .wrap_err_with(|| format!("copying {}", sys::STATIC_BUSYBOX))?;
    let list = sys::run(sys::STATIC_BUSYBOX, ["--list"]).await?;
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        if applet == "busybox" || applet.contains('/') {
            continue;
        }
        let link = bin.join(applet);
        if !link.exists() {
            std::os::unix::fs::symlink("busybox", &link)?;
        }
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n")?;
    std::fs::write(root.join("VERSION"), format!("{version}\n"))?;
    // The stacks' health checks run /app/health first: the broken release fails it.
    let app = root.join("app");
    std::fs::create_dir_all(&app)?;
    let health = if version == BROKEN_TAG {
        format!(
            "#!/bin/sh\necho \"release {version}: cannot read /srv/web/config.json: no such file\" >&2\nexit 1\n"
        )
    } else {
        // Silent on success: the checks' own words follow it in the health output.
        "#!/bin/sh\nexit 0\n".to_owned()
    };
    std::fs::write(app.join("health"), health)?;
    std::fs::set_permissions(
        app.join("health"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    Ok(())
}

/// Builds the image tarballs (one per tag) in `image_dir` unless present. Runs once,
/// before the engines import them in parallel.
pub async fn prepare_image_tarballs(image_dir: &Path) -> Result<()> {
    for tag in IMAGE_TAGS {
        let tarball = tarball_path(image_dir, tag);
        if tarball.exists() {
            continue;
        }
        let root = image_dir.join(format!("rootfs-{tag}"));
        build_rootfs(&root, tag)
            .await
            .wrap_err_with(|| format!("building the lab image root {}", root.display()))?;
        let tmp = tarball.with_extension("tar.tmp");
        sys::run(
            "tar",
            [
                "-C".as_ref(),
                root.as_os_str(),
                "-cf".as_ref(),
                tmp.as_os_str(),
                ".".as_ref(),
            ],
        )
        .await?;
        std::fs::rename(&tmp, &tarball)
            .wrap_err_with(|| format!("writing {}", tarball.display()))?;
        std::fs::remove_dir_all(&root)?;
    }
    Ok(())
}

fn tarball_path(image_dir: &Path, tag: &str) -> PathBuf {
    image_dir.join(format!("rootfs-{tag}.tar"))
}

/// Imports the lab image tags the engine lacks (`docker import` of the tarballs).
pub async fn ensure_images(docker: &Docker, image_dir: &Path) -> Result<()> {
    for tag in IMAGE_TAGS {
        let reference = format!("{IMAGE_REPO}:{tag}");
        if docker.inspect_image(&reference).await.is_ok() {
            continue;
        }
        let tarball = tarball_path(image_dir, tag);
        let bytes = tokio::fs::read(&tarball)
            .await
            .wrap_err_with(|| format!("reading {}", tarball.display()))?;
        let options = CreateImageOptionsBuilder::new()
            .from_src("-")
            .repo(IMAGE_REPO)
            .tag(tag)
            .build();
        let mut progress =
            docker.create_image(Some(options), Some(bollard::body_full(bytes.into())), None);
        while let Some(item) = progress.next().await {
            item.wrap_err_with(|| format!("importing {reference}"))?;
        }
    }
    Ok(())
}

// ---- containers ----------------------------------------------------------------------

/// The state a container has reached, in the words `docker ps` uses.
pub async fn observed_state(docker: &Docker, name: &str) -> Result<String> {
    let info = crate::docker::clean::inspect_container(docker, name).await?;
    let state = info.state.unwrap_or_default();
    if state.restarting == Some(true) {
        return Ok("restarting".into());
    }
    if state.running == Some(true) {
        let health = state
            .health
            .and_then(|h| h.status)
            .map(|s| s.to_string())
            .unwrap_or_default();
        return Ok(match health.as_str() {
            "healthy" | "unhealthy" | "starting" => health,
            _ => "running".into(),
        });
    }
    Ok(format!("exited({})", state.exit_code.unwrap_or(-1)))
}

/// Whether `observed` (as `observed_state` words it) is the planned behaviour. A
/// crash-looping container is briefly "running" between restarts.
pub fn state_matches(b: Behaviour, observed: &str) -> bool {
    observed == expected_state(b) || (b == Behaviour::Restarting && observed == "running")
}

pub fn expected_state(b: Behaviour) -> String {
    match b {
        Behaviour::Healthy => "healthy".into(),
        Behaviour::Unhealthy => "unhealthy".into(),
        Behaviour::Restarting => "restarting".into(),
        Behaviour::Exited(code) => format!("exited({code})"),
    }
}

/// Waits until every planned container shows its intended state (health checks need
/// one interval to report), so `lab up` hands over a lab that already tells its story.
pub async fn wait_for_states(docker: &Docker, host: &HostPlan, timeout: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut pending = vec![];
        for c in &host.containers {
            let seen = observed_state(docker, &c.name).await?;
            if !state_matches(c.behaviour, &seen) {
                pending.push(format!("{} is {seen}", c.name));
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "containers on {} did not reach their states: {}",
                host.name,
                pending.join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub fn image_dir(plan: &LabPlan) -> PathBuf {
    plan.dir.join("image")
}
