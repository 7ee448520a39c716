//! What runs inside each host's namespace: sshd (with the host's own name in its UTS
//! namespace), the nftables firewall, a TLS endpoint on 443 and plain HTTP on 80.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, bail, eyre};

use super::plan::{HostPlan, LabPlan};
use super::sys::{self, in_netns, run, run_cmd};
use super::{render, tls, view};

/// The host's sshd_config, in its own `/etc/ssh`.
pub fn sshd_config_path(plan: &LabPlan, host: &HostPlan) -> PathBuf {
    view::etc_ssh_dir(plan, host).join("sshd_config")
}

pub fn host_key_path(plan: &LabPlan, host: &HostPlan) -> PathBuf {
    view::etc_ssh_dir(plan, host).join("ssh_host_ed25519_key")
}

/// `ssh-keygen` an ed25519 key at `path` unless one is there.
pub async fn ensure_ssh_key(path: &Path, comment: &str) -> Result<()> {
    if path.exists() && path.with_extension("pub").exists() {
        return Ok(());
    }
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("pub"));
    run(
        "ssh-keygen",
        [
            "-q".as_ref(),
            "-t".as_ref(),
            "ed25519".as_ref(),
            "-N".as_ref(),
            "".as_ref(),
            "-C".as_ref(),
            comment.as_ref(),
            "-f".as_ref(),
            path.as_os_str(),
        ],
    )
    .await?;
    Ok(())
}

pub async fn ensure_host_key(plan: &LabPlan, host: &HostPlan) -> Result<String> {
    let key = host_key_path(plan, host);
    std::fs::create_dir_all(view::etc_ssh_dir(plan, host))?;
    ensure_ssh_key(&key, &format!("root@{}", host.name)).await?;
    Ok(std::fs::read_to_string(key.with_extension("pub"))?
        .trim()
        .to_string())
}

/// Replaces the host's SSH key and makes its sshd serve the new one (SIGHUP makes sshd
/// re-execute itself and read its keys again; established sessions stay). Returns the
/// new public key line. known_hosts is left alone on purpose.
pub async fn rekey_host(plan: &LabPlan, host: &HostPlan) -> Result<String> {
    let pid = sshd_running(plan, host)
        .ok_or_else(|| eyre!("sshd on {} is not running; run `lab up` first", host.name))?;
    let key = host_key_path(plan, host);
    std::fs::remove_file(&key)?;
    std::fs::remove_file(key.with_extension("pub"))?;
    let public = ensure_host_key(plan, host).await?;
    let log = view::sshd_log(plan, host);
    let logged_before = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    // SAFETY: kill(2) with a pid read from sshd's pidfile and checked against its
    // command line by `sshd_running`.
    if unsafe { libc::kill(pid, libc::SIGHUP) } != 0 {
        bail!(
            "signalling sshd on {}: {}",
            host.name,
            std::io::Error::last_os_error()
        );
    }
    // The re-executed sshd logs "Server listening" once it serves the new key.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read(&log).unwrap_or_default();
        let fresh = text.get(logged_before as usize..).unwrap_or_default();
        if String::from_utf8_lossy(fresh).contains("Server listening") {
            return Ok(public);
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "sshd on {} did not come back after SIGHUP; see {}",
                host.name,
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// sshd's pid. Its command line names its log, which is the host's own (its config
/// path, `/etc/ssh/sshd_config`, is the same on every host).
pub fn sshd_running(plan: &LabPlan, host: &HostPlan) -> Option<i32> {
    sys::pidfile_process(
        &plan.host_dir(host).join("sshd.pid"),
        &view::sshd_log(plan, host).display().to_string(),
    )
}

/// Starts the host's sshd in the host's own view (see `view`) unless it runs; returns
/// its pid.
pub async fn ensure_sshd(plan: &LabPlan, host: &HostPlan) -> Result<i32> {
    view::prepare(plan, host)
        .await
        .wrap_err_with(|| format!("preparing the view of {}", host.name))?;
    let config = sshd_config_path(plan, host);
    std::fs::write(&config, render::sshd_config(plan, host))?;
    if let Some(pid) = sshd_running(plan, host) {
        return Ok(pid);
    }
    let sshd = sys::find_program("sshd").ok_or_else(|| eyre!("sshd not found"))?;
    let log = view::sshd_log(plan, host);
    let mut cmd = view::sshd_command(plan, host, &sshd)?;
    run_cmd(&mut cmd)
        .await
        .wrap_err_with(|| format!("starting sshd on {} (log: {})", host.name, log.display()))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(pid) = sshd_running(plan, host) {
            return Ok(pid);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("sshd on {} did not start; see {}", host.name, log.display());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn apply_firewall(plan: &LabPlan, host: &HostPlan) -> Result<()> {
    let file = plan.host_dir(host).join("firewall.nft");
    std::fs::write(&file, render::nft_ruleset(host))?;
    let mut cmd = in_netns(&host.netns, "nft");
    cmd.arg("-f").arg(&file);
    run_cmd(&mut cmd)
        .await
        .wrap_err_with(|| format!("loading the firewall of {}", host.name))?;
    Ok(())
}

/// A long-running program inside the namespace, tracked by a pidfile we write
/// (`ip netns exec` execs the program, so the child's pid is the program's).
async fn ensure_netns_daemon(
    host: &HostPlan,
    name: &str,
    pidfile: &Path,
    marker: &str,
    program: &str,
    args: &[String],
    log: &Path,
) -> Result<()> {
    if sys::pidfile_process(pidfile, marker).is_some() {
        return Ok(());
    }
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let mut cmd = in_netns(&host.netns, program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .process_group(0);
    let child = cmd
        .spawn()
        .wrap_err_with(|| format!("starting the {name} server of {}", host.name))?;
    let pid = child
        .id()
        .ok_or_else(|| eyre!("{name} server of {} exited at once", host.name))?;
    std::fs::write(pidfile, format!("{pid}\n"))?;
    Ok(())
}

fn https_marker(plan: &LabPlan, host: &HostPlan) -> String {
    tls::cert_path(plan, host).display().to_string()
}

pub fn https_running(plan: &LabPlan, host: &HostPlan) -> bool {
    sys::pidfile_process(
        &plan.host_dir(host).join("https.pid"),
        &https_marker(plan, host),
    )
    .is_some()
}

pub async fn ensure_https(plan: &LabPlan, host: &HostPlan) -> Result<()> {
    let hd = plan.host_dir(host);
    let args = vec![
        "s_server".to_string(),
        "-accept".into(),
        format!("{}:443", host.addr),
        "-cert".into(),
        tls::cert_path(plan, host).display().to_string(),
        "-key".into(),
        tls::key_path(plan, host).display().to_string(),
        "-www".into(),
        "-quiet".into(),
    ];
    ensure_netns_daemon(
        host,
        "TLS",
        &hd.join("https.pid"),
        &https_marker(plan, host),
        "openssl",
        &args,
        &hd.join("https.log"),
    )
    .await?;
    wait_for_port(host.addr, 443, Duration::from_secs(10))
        .await
        .wrap_err_with(|| {
            format!(
                "TLS endpoint of {} (log: {})",
                host.name,
                hd.join("https.log").display()
            )
        })
}

pub async fn ensure_http(plan: &LabPlan, host: &HostPlan) -> Result<()> {
    let hd = plan.host_dir(host);
    let root = plan.data_dir(host).join("web");
    let args = vec![
        "httpd".to_string(),
        "-f".into(),
        "-p".into(),
        format!("{}:80", host.addr),
        "-h".into(),
        root.display().to_string(),
    ];
    ensure_netns_daemon(
        host,
        "HTTP",
        &hd.join("http.pid"),
        &root.display().to_string(),
        sys::STATIC_BUSYBOX,
        &args,
        &hd.join("http.log"),
    )
    .await?;
    wait_for_port(host.addr, 80, Duration::from_secs(10))
        .await
        .wrap_err_with(|| format!("HTTP endpoint of {}", host.name))
}

pub fn http_running(plan: &LabPlan, host: &HostPlan) -> bool {
    let root = plan.data_dir(host).join("web");
    sys::pidfile_process(
        &plan.host_dir(host).join("http.pid"),
        &root.display().to_string(),
    )
    .is_some()
}

/// Polls a TCP connect from the root namespace (80 and 443 are open to it).
pub async fn wait_for_port(addr: Ipv4Addr, port: u16, timeout: Duration) -> Result<()> {
    let target = SocketAddr::V4(SocketAddrV4::new(addr, port));
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let attempt = tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(target),
        )
        .await;
        if matches!(attempt, Ok(Ok(_))) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{target} does not accept connections");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn port_open(addr: Ipv4Addr, port: u16) -> bool {
    let target = SocketAddr::V4(SocketAddrV4::new(addr, port));
    matches!(
        tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(target)
        )
        .await,
        Ok(Ok(_))
    )
}
