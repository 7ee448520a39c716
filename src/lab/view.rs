//! Each lab host's own view of the system. Lab hosts share the machine's filesystem,
//! so without this `df`, `sshd -T` and `/var/run/reboot-required` would read the same
//! on every host. A host's sshd runs in a mount namespace of its own (beside its UTS
//! namespace, inside its network namespace) where `/etc/ssh`, `/etc/apt/apt.conf.d`,
//! apt's package lists, `/boot`, `/run` and a small data filesystem at `/srv` are the
//! host's; its SSH sessions and its fail2ban share that namespace. Nothing shows in
//! the machine's mount table, and everything goes with the host's last process.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use tokio::process::Command;

use super::plan::{DATA_FS_BYTES, HostPlan, LabPlan};
use super::render;
use super::sys::{self, run_cmd};

/// The host's `/etc/ssh`: its sshd_config and host key.
pub fn etc_ssh_dir(plan: &LabPlan, host: &HostPlan) -> PathBuf {
    plan.host_dir(host).join("etc").join("ssh")
}

/// The host's `/etc/apt/apt.conf.d`.
fn apt_conf_dir(plan: &LabPlan, host: &HostPlan) -> PathBuf {
    plan.host_dir(host).join("etc/apt/apt.conf.d")
}

/// The host's `/var/lib/apt/lists`: empty, so apt knows of no newer package.
fn apt_lists_dir(plan: &LabPlan, host: &HostPlan) -> PathBuf {
    plan.host_dir(host).join("var/lib/apt/lists")
}

/// The image of the host's data filesystem, loop-mounted at `/srv` in its view.
pub fn data_image(plan: &LabPlan, host: &HostPlan) -> PathBuf {
    plan.host_dir(host).join("data.img")
}

/// Where the host's `/run` tmpfs is mounted before it is moved onto `/run`.
fn run_staging_dir(plan: &LabPlan, host: &HostPlan) -> PathBuf {
    plan.host_dir(host).join("run")
}

/// Whiteouts of fail2ban's programs, laid over `/usr/bin` on hosts without fail2ban.
fn absent_dir(plan: &LabPlan, host: &HostPlan) -> PathBuf {
    plan.host_dir(host).join("absent")
}

/// fail2ban's configuration directory for the host (`fail2ban-server -c`).
pub fn fail2ban_dir(plan: &LabPlan, host: &HostPlan) -> PathBuf {
    plan.host_dir(host).join("fail2ban")
}

pub fn sshd_log(plan: &LabPlan, host: &HostPlan) -> PathBuf {
    plan.host_dir(host).join("sshd.log")
}

fn fail2ban_log(plan: &LabPlan, host: &HostPlan) -> PathBuf {
    plan.host_dir(host).join("fail2ban.log")
}

fn fail2ban_pidfile(plan: &LabPlan, host: &HostPlan) -> PathBuf {
    plan.host_dir(host).join("fail2ban.pid")
}

/// Writes what the host's view mounts: apt's settings and lists, fail2ban's
/// configuration (or the whiteouts that hide it), the data filesystem image and
/// the mount points. Idempotent; the data image is made once and kept.
pub async fn prepare(plan: &LabPlan, host: &HostPlan) -> Result<()> {
    for dir in [
        etc_ssh_dir(plan, host),
        apt_conf_dir(plan, host),
        apt_lists_dir(plan, host).join("partial"),
        run_staging_dir(plan, host),
    ] {
        std::fs::create_dir_all(&dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    }
    for (name, text) in render::apt_conf_files() {
        std::fs::write(apt_conf_dir(plan, host).join(name), text)?;
    }
    if host.system.fail2ban {
        write_fail2ban_config(plan, host)?;
    } else {
        write_fail2ban_whiteouts(plan, host)?;
    }
    ensure_data_image(plan, host).await
}

fn write_fail2ban_config(plan: &LabPlan, host: &HostPlan) -> Result<()> {
    let dir = fail2ban_dir(plan, host);
    for sub in ["filter.d", "action.d"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    std::fs::write(dir.join("fail2ban.conf"), render::fail2ban_conf(plan, host))?;
    std::fs::write(dir.join("jail.conf"), render::fail2ban_jails(plan, host))?;
    std::fs::write(
        dir.join("filter.d/sshd.local"),
        render::fail2ban_sshd_filter(),
    )?;
    // Debian's own filter and ban action, used as they are.
    let system = Path::new("/etc/fail2ban");
    for file in [
        "filter.d/sshd.conf",
        "filter.d/common.conf",
        "action.d/dummy.conf",
    ] {
        let link = dir.join(file);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(system.join(file), &link)
                .wrap_err_with(|| format!("linking {}", link.display()))?;
        }
    }
    Ok(())
}

/// An overlay whiteout (a 0:0 character device) for each of fail2ban's programs in
/// `/usr/bin`: laid over `/usr/bin` in the host's view, they are not there at all.
fn write_fail2ban_whiteouts(plan: &LabPlan, host: &HostPlan) -> Result<()> {
    let dir = absent_dir(plan, host).join("usr-bin");
    std::fs::create_dir_all(&dir)?;
    let programs = std::fs::read_dir("/usr/bin")
        .wrap_err("listing /usr/bin")?
        .flatten()
        .map(|e| e.file_name())
        .filter(|name| name.as_bytes().starts_with(b"fail2ban"));
    for name in programs {
        let path = dir.join(&name);
        if std::fs::symlink_metadata(&path).is_ok() {
            continue;
        }
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
        // SAFETY: a valid NUL-terminated path; mknod does not retain the pointer.
        if unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, 0) } != 0 {
            bail!(
                "creating the whiteout {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}

/// A sparse file holding an empty ext4 filesystem, made once.
async fn ensure_data_image(plan: &LabPlan, host: &HostPlan) -> Result<()> {
    let image = data_image(plan, host);
    if image.exists() {
        return Ok(());
    }
    let partial = image.with_extension("img.tmp");
    std::fs::File::create(&partial)
        .and_then(|f| f.set_len(DATA_FS_BYTES))
        .wrap_err_with(|| format!("creating {}", partial.display()))?;
    // No blocks reserved for root: `df` then counts every block as the host's data.
    let mut mkfs = Command::new("mkfs.ext4");
    mkfs.args(["-q", "-F", "-m", "0", "-L", "srv"])
        .arg(&partial);
    run_cmd(&mut mkfs)
        .await
        .wrap_err_with(|| format!("making the data filesystem of {}", host.name))?;
    std::fs::rename(&partial, &image).wrap_err_with(|| format!("writing {}", image.display()))?;
    Ok(())
}

/// `ip netns exec NS unshare --uts --mount … sh -c HOST_VIEW_SCRIPT …`: sets up the
/// host's view, then execs sshd in it.
pub fn sshd_command(plan: &LabPlan, host: &HostPlan, sshd: &Path) -> Result<Command> {
    // The engines' sockets are under the lab's run directory, which the host's own
    // /run must hold at the same path.
    let run_name = plan
        .run_dir
        .strip_prefix("/run")
        .ok()
        .filter(|rest| rest.components().count() == 1)
        .ok_or_else(|| {
            eyre!(
                "the lab's run directory {} is not directly under /run",
                plan.run_dir.display()
            )
        })?;
    let flag = |on: bool| if on { "1" } else { "0" };
    let mut cmd = sys::in_netns(&host.netns, "unshare");
    cmd.args([
        "--uts",
        "--mount",
        "--propagation",
        "slave",
        "--",
        "sh",
        "-c",
        render::HOST_VIEW_SCRIPT,
        "sh",
    ])
    .arg(plan.host_dir(host))
    .arg(&host.name)
    .arg(run_name)
    .arg(sshd)
    .arg(flag(host.system.reboot_required))
    .arg(flag(!host.system.fail2ban));
    Ok(cmd)
}

/// A path as the process `pid` sees it, in its mount namespace.
fn in_view(pid: i32, path: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/root{path}"))
}

/// `df`'s numbers for the filesystem at `path`: (used %, block size, used blocks,
/// used + available blocks).
fn usage(path: &Path) -> Result<(u8, u64, u64, u64)> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: statvfs fills the zeroed struct we pass; the path is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        bail!(
            "statvfs {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
    }
    let used = (st.f_blocks - st.f_bfree) as u64;
    let total = used + st.f_bavail as u64;
    if total == 0 {
        bail!("{} reports no blocks", path.display());
    }
    // As df rounds: up.
    let percent = (used * 100).div_ceil(total);
    Ok((percent as u8, st.f_frsize as u64, used, total))
}

/// Fills the host's data filesystem (as seen by its sshd, `sshd_pid`) to its planned
/// level, and leaves a README saying what it is. Idempotent.
pub fn ensure_data_volume(plan: &LabPlan, host: &HostPlan, sshd_pid: i32) -> Result<()> {
    let srv = in_view(sshd_pid, "/srv");
    let readme = srv.join("README");
    if !readme.exists() {
        std::fs::write(
            &readme,
            format!(
                "Data filesystem of lab host {}: the image {} (ext4), mounted here in the \
                 host's own mount namespace only.\n",
                host.name,
                data_image(plan, host).display()
            ),
        )
        .wrap_err_with(|| format!("writing {}", readme.display()))?;
    }
    let Some(target) = host.system.data_fill_percent else {
        return Ok(());
    };
    let (percent, block, used, total) = usage(&srv)?;
    if percent >= target {
        return Ok(());
    }
    // A database dump nobody rotates: the story of most full data disks.
    let dumps = srv.join("backups");
    std::fs::create_dir_all(&dumps)?;
    let wanted = (total * u64::from(target)).div_ceil(100);
    let bytes = (wanted - used) * block;
    let line = b"INSERT INTO events (host, payload) VALUES ('lab', 'nightly batch');\n";
    let mut text = Vec::with_capacity(bytes as usize);
    while (text.len() as u64) < bytes {
        let rest = (bytes as usize - text.len()).min(line.len());
        text.extend_from_slice(&line[..rest]);
    }
    let dump = dumps.join("nightly-dump.sql");
    {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&dump)
            .wrap_err_with(|| format!("opening {}", dump.display()))?;
        file.write_all(&text)?;
        file.sync_all()?;
    }
    let (after, ..) = usage(&srv)?;
    if after < target {
        bail!(
            "the data filesystem of {} is {after} % full after filling, not {target} %",
            host.name
        );
    }
    Ok(())
}

/// Whether two processes share a mount namespace.
fn same_mount_namespace(a: i32, b: i32) -> bool {
    let ns = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok();
    ns(a).is_some() && ns(a) == ns(b)
}

pub fn fail2ban_running(plan: &LabPlan, host: &HostPlan) -> Option<i32> {
    sys::pidfile_process(
        &fail2ban_pidfile(plan, host),
        &fail2ban_dir(plan, host).display().to_string(),
    )
}

/// Starts the host's fail2ban-server in its sshd's namespaces (so its socket is in the
/// host's `/run` and sessions reach it with `fail2ban-client`), unless one runs there;
/// returns once the `sshd` jail has started.
pub async fn ensure_fail2ban(plan: &LabPlan, host: &HostPlan, sshd_pid: i32) -> Result<()> {
    if !host.system.fail2ban {
        return Ok(());
    }
    if let Some(pid) = fail2ban_running(plan, host) {
        if same_mount_namespace(pid, sshd_pid) {
            return Ok(());
        }
        // Left from an sshd since restarted: its /run, and so its socket, are gone.
        sys::terminate(&[pid], Duration::from_secs(5)).await;
    }
    let server =
        sys::find_program("fail2ban-server").ok_or_else(|| eyre!("fail2ban-server not found"))?;
    let log_path = fail2ban_log(plan, host);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .wrap_err_with(|| format!("opening {}", log_path.display()))?;
    let logged_before = log.metadata().map(|m| m.len()).unwrap_or(0);
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--target={sshd_pid}"))
        .args(["--mount", "--uts", "--net", "--"])
        .arg(server)
        // Foreground (nsenter execs it: the child is the server), replacing a
        // socket a killed server left behind.
        .args(["-x", "-f", "-c"])
        .arg(fail2ban_dir(plan, host))
        .arg("start")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: a Ctrl-C at the terminal must not take it down.
        .process_group(0);
    let mut child = cmd
        .spawn()
        .wrap_err_with(|| format!("starting fail2ban on {}", host.name))?;
    let pid = child
        .id()
        .ok_or_else(|| eyre!("fail2ban on {} exited at once", host.name))?;
    std::fs::write(fail2ban_pidfile(plan, host), format!("{pid}\n"))?;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read(&log_path).unwrap_or_default();
        let fresh = text.get(logged_before as usize..).unwrap_or_default();
        if String::from_utf8_lossy(fresh).contains("Jail 'sshd' started") {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "fail2ban on {} exited ({status}); see {}",
                host.name,
                log_path.display()
            );
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "fail2ban on {} did not start its sshd jail within 60 s; see {}",
                host.name,
                log_path.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_view_script_is_valid_shell() {
        // `sh -n` parses without running: the script as the real shell reads it.
        let out = std::process::Command::new("sh")
            .args(["-n", "-c", render::HOST_VIEW_SCRIPT])
            .output()
            .expect("sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn the_sshd_command_names_the_host_and_its_plants() {
        let plan = LabPlan::new(Path::new("/tmp/fd lab"), 5, [10, 89, 7]).expect("plan");
        let args = |i: usize| -> Vec<String> {
            let cmd =
                sshd_command(&plan, &plan.hosts[i], Path::new("/usr/sbin/sshd")).expect("command");
            cmd.as_std()
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        let gamma = args(3);
        let tail: Vec<&str> = gamma[gamma.len() - 6..]
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(
            tail,
            [
                "/tmp/fd lab/hosts/client-gamma",
                "client-gamma",
                &format!("fdlab-{}", plan.id),
                "/usr/sbin/sshd",
                "0",
                "1"
            ]
        );
        assert!(gamma.starts_with(&[
            "netns".to_string(),
            "exec".into(),
            plan.hosts[3].netns.clone(),
            "unshare".into()
        ]));
        // REBOOT and NO_FAIL2BAN: client-gamma has no fail2ban, client-delta a reboot
        // pending.
        let delta = args(4);
        assert_eq!(delta[delta.len() - 2..], ["1", "0"]);
    }

    #[test]
    fn usage_is_what_df_reports() {
        let (percent, block, used, total) = usage(Path::new("/")).expect("statvfs /");
        assert!(block > 0 && used <= total);
        let df = std::process::Command::new("df")
            .args(["-P", "/"])
            .output()
            .expect("df");
        let text = String::from_utf8_lossy(&df.stdout);
        let capacity = text
            .lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().nth(4))
            .and_then(|c| c.trim_end_matches('%').parse::<u8>().ok())
            .unwrap_or_else(|| panic!("df output: {text}"));
        // One point of slack: the machine's other users write meanwhile.
        assert!(
            percent.abs_diff(capacity) <= 1,
            "{percent} % vs df {capacity} %"
        );
    }
}
