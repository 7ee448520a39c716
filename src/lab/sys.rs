//! The lab's contact with the machine: running programs with errors that say what
//! failed, checking prerequisites, and finding the lab's processes and mounts.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use tokio::process::Command;

/// Runs `program args…`, returning its output; a non-zero exit becomes an error that
/// quotes the command line and what the program said on stderr.
pub async fn run<I, S>(program: &str, args: I) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(program);
    cmd.args(args);
    run_cmd(&mut cmd).await
}

pub async fn run_cmd(cmd: &mut Command) -> Result<Output> {
    let line = describe(cmd);
    tracing::debug!(command = %line, "run");
    let out = cmd
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| eyre!("cannot run `{line}`: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        bail!(
            "`{line}` failed ({}): {}",
            out.status,
            stderr.trim().lines().last().unwrap_or("no error output")
        );
    }
    Ok(out)
}

fn describe(cmd: &Command) -> String {
    let std = cmd.as_std();
    std::iter::once(std.get_program())
        .chain(std.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `ip netns exec NS program args…`
pub fn in_netns(netns: &str, program: &str) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", netns, program]);
    cmd
}

// ---- prerequisites ----------------------------------------------------------------

/// Programs the lab runs, with the Debian package that provides each.
pub const PREREQUISITES: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("sshd", "openssh-server"),
    ("ssh-keygen", "openssh-client"),
    ("dockerd", "docker.io"),
    ("containerd", "docker.io"),
    ("runc", "docker.io"),
    ("restic", "restic"),
    ("nft", "nftables"),
    ("openssl", "openssl"),
    ("unshare", "util-linux"),
    ("nsenter", "util-linux"),
    ("mount", "mount"),
    ("mkfs.ext4", "e2fsprogs"),
    ("tar", "tar"),
    // Each host's own fail2ban and unattended upgrades (docs/lab.md).
    ("fail2ban-server", "fail2ban"),
    ("unattended-upgrade", "unattended-upgrades"),
];

/// Directories searched for programs: PATH plus the sbin directories a non-login root
/// shell may lack.
fn search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for extra in ["/usr/local/sbin", "/usr/sbin", "/sbin"] {
        if !dirs.iter().any(|d| d == Path::new(extra)) {
            dirs.push(PathBuf::from(extra));
        }
    }
    dirs
}

pub fn find_program(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    search_path().into_iter().map(|d| d.join(name)).find(|p| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The statically linked busybox the lab image is made of (Debian: busybox-static).
pub const STATIC_BUSYBOX: &str = "/bin/busybox";

/// True when the ELF file at `path` has no program interpreter (is statically linked).
pub fn is_static_elf(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    static_elf_bytes(&bytes)
}

fn static_elf_bytes(b: &[u8]) -> bool {
    // ELF64 little-endian only: the lab runs on x86_64 / aarch64 Linux.
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 || b[5] != 1 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let Ok(phoff) = <[u8; 8]>::try_from(&b[32..40]).map(u64::from_le_bytes) else {
        return false;
    };
    let (phentsize, phnum) = (u16_at(54), u16_at(56));
    const PT_INTERP: u32 = 3;
    (0..phnum).all(|i| {
        let off = phoff as usize + i * phentsize;
        match b.get(off..off + 4) {
            Some(t) => u32::from_le_bytes([t[0], t[1], t[2], t[3]]) != PT_INTERP,
            None => false,
        }
    })
}

/// Fails unless this is Linux, we are root, and every program the lab needs is
/// installed; the error names what is missing and the exact install line.
pub fn check_prerequisites() -> Result<()> {
    check_root()?;
    match missing_prerequisites(
        |prog| find_program(prog).is_some(),
        is_static_elf(Path::new(STATIC_BUSYBOX)),
    ) {
        None => Ok(()),
        Some(message) => bail!(message),
    }
}

/// The error for whatever is missing, naming the programs and the exact
/// `apt-get install` line; `None` when everything is there.
pub fn missing_prerequisites(
    installed: impl Fn(&str) -> bool,
    static_busybox: bool,
) -> Option<String> {
    let mut missing: Vec<(&str, &str)> = PREREQUISITES
        .iter()
        .filter(|(prog, _)| !installed(prog))
        .copied()
        .collect();
    if !static_busybox {
        missing.push((
            "busybox (statically linked, at /bin/busybox)",
            "busybox-static",
        ));
    }
    if missing.is_empty() {
        return None;
    }
    let mut packages: Vec<&str> = missing.iter().map(|(_, pkg)| *pkg).collect();
    packages.sort();
    packages.dedup();
    Some(format!(
        "the lab needs programs that are not installed: {}.\nInstall them with:\n  \
         apt-get update && apt-get install -y {}",
        missing
            .iter()
            .map(|(p, _)| *p)
            .collect::<Vec<_>>()
            .join(", "),
        packages.join(" ")
    ))
}

pub fn check_root() -> Result<()> {
    if !cfg!(target_os = "linux") {
        bail!(
            "the lab needs Linux (network namespaces, nftables); this is {}",
            std::env::consts::OS
        );
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "the lab needs root: it creates network namespaces, veth links and firewalls. \
             Run it with sudo, e.g. `sudo fleetdeck lab up`"
        );
    }
    Ok(())
}

/// Writes a secret (key, password) readable by its owner only.
pub fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .wrap_err_with(|| format!("writing {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

// ---- processes ---------------------------------------------------------------------

pub fn pid_alive(pid: i32) -> bool {
    // A zombie still has a /proc entry; count it as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_string())
        })
        .is_some_and(|rest| !rest.starts_with('Z'))
}

pub fn read_pidfile(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The NUL-separated command line of a process, joined with spaces.
pub fn cmdline(pid: i32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
            .trim_end()
            .to_string(),
    )
}

/// The live process named by `pidfile`, if its command line mentions `marker`
/// (guards against a recycled pid).
pub fn pidfile_process(pidfile: &Path, marker: &str) -> Option<i32> {
    let pid = read_pidfile(pidfile)?;
    (pid_alive(pid) && cmdline(pid).is_some_and(|c| c.contains(marker))).then_some(pid)
}

pub fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Processes whose command line mentions any of `markers` — never this process or
/// one of its ancestors (the shell that ran `lab down --dir DIR` names DIR too).
pub fn pids_mentioning(markers: &[String]) -> Vec<i32> {
    let spared = ancestors(std::process::id() as i32);
    all_pids()
        .into_iter()
        .filter(|pid| !spared.contains(pid))
        .filter(|pid| cmdline(*pid).is_some_and(|c| markers.iter().any(|m| c.contains(m))))
        .collect()
}

/// `pid` and its parents up to init, from /proc/PID/stat.
fn ancestors(pid: i32) -> Vec<i32> {
    let mut chain = vec![pid];
    let mut current = pid;
    while current > 1 && chain.len() < 4096 {
        let Some(parent) = std::fs::read_to_string(format!("/proc/{current}/stat"))
            .ok()
            .and_then(|stat| {
                // The command name is in parentheses and may hold spaces: the fields
                // after the last `)` are state, then the parent pid.
                let rest = &stat[stat.rfind(')')? + 1..];
                rest.split_whitespace().nth(1)?.parse::<i32>().ok()
            })
        else {
            break;
        };
        if parent <= 0 || chain.contains(&parent) {
            break;
        }
        chain.push(parent);
        current = parent;
    }
    chain
}

/// Sends SIGTERM, waits up to `grace`, then SIGKILLs whatever is left.
pub async fn terminate(pids: &[i32], grace: Duration) {
    let signal = |pid: i32, sig: i32| {
        // SAFETY: kill(2) with a pid we read from /proc; failure (already gone) is fine.
        unsafe { libc::kill(pid, sig) };
    };
    for pid in pids {
        signal(*pid, libc::SIGTERM);
    }
    let deadline = tokio::time::Instant::now() + grace;
    while pids.iter().any(|p| pid_alive(*p)) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for pid in pids.iter().filter(|p| pid_alive(**p)) {
        tracing::warn!(pid, "did not stop on SIGTERM; sending SIGKILL");
        signal(*pid, libc::SIGKILL);
    }
}

// ---- mounts ------------------------------------------------------------------------

/// Mount points (from /proc/self/mountinfo) under `prefix`, deepest first.
pub fn mounts_under(prefix: &Path) -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return vec![];
    };
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mount_path)
        .filter(|p| p.starts_with(prefix))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

/// mountinfo escapes space, tab, newline and backslash as octal `\ooo`.
fn unescape_mount_path(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

pub fn is_mount_point(path: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|info| {
        info.lines()
            .filter_map(|l| l.split(' ').nth(4))
            .any(|p| unescape_mount_path(p) == path)
    })
}

/// Loop devices whose backing file is under `prefix`, with that file: those of lab
/// hosts' data filesystems, mounted in the hosts' own namespaces.
pub fn loop_devices_under(prefix: &Path) -> Vec<(PathBuf, PathBuf)> {
    let Ok(entries) = std::fs::read_dir("/sys/block") else {
        return vec![];
    };
    entries
        .flatten()
        .filter(|e| e.file_name().as_encoded_bytes().starts_with(b"loop"))
        .filter_map(|e| {
            let backing = std::fs::read_to_string(e.path().join("loop/backing_file")).ok()?;
            let backing = PathBuf::from(backing.trim_end_matches('\n'));
            backing
                .starts_with(prefix)
                .then(|| (Path::new("/dev").join(e.file_name()), backing))
        })
        .collect()
}

/// Lazily unmounts `path` (umount2 MNT_DETACH).
pub fn unmount(path: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: a valid NUL-terminated path; umount2 does not retain the pointer.
    let rc = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINVAL) && err.raw_os_error() != Some(libc::ENOENT) {
            bail!("unmounting {}: {err}", path.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_programs_are_named_with_the_install_line() {
        let msg = missing_prerequisites(|p| !matches!(p, "restic" | "dockerd" | "runc"), true)
            .expect("something is missing");
        assert!(msg.contains("dockerd, runc, restic"), "{msg}");
        assert!(msg.contains("apt-get install -y docker.io restic"), "{msg}");
        assert!(missing_prerequisites(|_| true, true).is_none());
        let busybox = missing_prerequisites(|_| true, false).expect("busybox");
        assert!(
            busybox.contains("apt-get install -y busybox-static"),
            "{busybox}"
        );
    }

    #[test]
    fn mountinfo_paths_are_unescaped() {
        assert_eq!(
            unescape_mount_path(r"/tmp/a\040b\134c"),
            PathBuf::from("/tmp/a b\\c")
        );
        assert_eq!(unescape_mount_path(r"/x\04"), PathBuf::from(r"/x\04"));
    }

    #[test]
    fn static_and_dynamic_elves_are_told_apart() {
        // This test binary is dynamically linked (it has an interpreter).
        let me = std::env::current_exe().expect("current exe");
        assert!(!is_static_elf(&me));
        assert!(!static_elf_bytes(
            b"not an elf at all, and long enough to look at it......"
        ));
    }

    #[test]
    fn the_process_tree_above_us_is_spared() {
        let me = std::process::id() as i32;
        let chain = ancestors(me);
        assert_eq!(chain.first(), Some(&me));
        let parent = std::os::unix::process::parent_id() as i32;
        assert!(chain.contains(&parent), "{chain:?} lacks {parent}");
        // Our own command line names our binary: still never a victim.
        let exe = cmdline(me).expect("cmdline");
        let marker = exe.split_whitespace().next().unwrap_or_default().to_owned();
        assert!(!pids_mentioning(&[marker]).contains(&me));
    }

    #[test]
    fn own_process_is_alive_and_has_a_cmdline() {
        let pid = std::process::id() as i32;
        assert!(pid_alive(pid));
        assert!(cmdline(pid).is_some_and(|c| !c.is_empty()));
    }
}
