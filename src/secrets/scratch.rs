//! `secrets edit`'s private directory for the editor's plaintext, and the removal of
//! such directories that a killed fleetdeck left behind (docs/secrets.md).
//!
//! A directory is named `fleetdeck-secrets-PID-START-XXXXXX`: the creating process's id
//! and its start time (clock ticks since boot, from `/proc/PID/stat`), so a later
//! fleetdeck can tell whether its creator still runs even when the id was reused.

use std::ffi::{CString, OsString};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::SecretsError;

const PREFIX: &str = "fleetdeck-secrets-";

/// A private directory (0700, from mkdtemp) for the editor's plaintext: in /dev/shm when
/// it exists (memory, never a disk), else the temporary directory. On drop every file in
/// it is overwritten with zeros before it is removed, also when the edit failed.
pub(crate) struct Scratch {
    pub(crate) dir: PathBuf,
}

impl Scratch {
    pub(crate) fn new() -> Result<Scratch, SecretsError> {
        let pid = std::process::id();
        let start = process_start(pid).unwrap_or(0);
        let mut last = None;
        for base in bases() {
            match mkdtemp(&base.join(format!("{PREFIX}{pid}-{start}-XXXXXX"))) {
                Ok(dir) => return Ok(Scratch { dir }),
                Err(e) => last = Some((base, e)),
            }
        }
        let (base, e) =
            last.unwrap_or_else(|| (std::env::temp_dir(), io::Error::other("no directory")));
        Err(SecretsError::io(
            &base,
            "create a private temporary directory",
            &e,
        ))
    }
}

/// Scratch directories that could not be removed, with why. `Drop` cannot return an
/// error, and plaintext left behind must still be reported: the command takes these
/// after its work ([`take_removal_failures`]) and says so.
static REMOVAL_FAILURES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// The removal failures since the last call, for the command to report.
pub fn take_removal_failures() -> Vec<String> {
    std::mem::take(
        &mut *REMOVAL_FAILURES
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    )
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = zero_and_remove(&self.dir) {
            let failure = format!("could not remove {}: {e}", self.dir.display());
            tracing::warn!("{failure}");
            REMOVAL_FAILURES
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(failure);
        }
    }
}

/// Where scratch directories are made, in order of preference.
fn bases() -> Vec<PathBuf> {
    let mut bases = Vec::new();
    if Path::new("/dev/shm").is_dir() {
        bases.push(PathBuf::from("/dev/shm"));
    }
    let temp = std::env::temp_dir();
    if !bases.contains(&temp) {
        bases.push(temp);
    }
    bases
}

/// One directory [`remove_leftovers`] found.
#[derive(Debug)]
pub struct Leftover {
    pub dir: PathBuf,
    /// The process that made it, when its name says so.
    pub creator: Option<u32>,
    /// `None` when it was zeroed and removed; otherwise why not.
    pub error: Option<String>,
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let by = match self.creator {
            Some(pid) => format!("by process {pid}, which is gone"),
            None => "by an earlier fleetdeck no process is editing with".to_owned(),
        };
        match &self.error {
            None => write!(
                f,
                "removed the plaintext directory {} left {by} (killed during `secrets edit`); its files were overwritten with zeros first",
                self.dir.display()
            ),
            Some(e) => write!(
                f,
                "could not remove the plaintext directory {} left {by}: {e}",
                self.dir.display()
            ),
        }
    }
}

/// Zeroes and removes every scratch directory of this user whose creating process is
/// gone (a fleetdeck killed with SIGKILL, or a machine that lost power with /dev/shm
/// on a disk-backed temporary directory). Directories of other users, symlinks, and
/// directories whose creator still runs are left alone. Directories from versions
/// that did not record their creator (`fleetdeck-secrets-XXXXXX`) are removed when no
/// process has them in its command line (the editor has the file as its argument).
pub fn remove_leftovers() -> Vec<Leftover> {
    remove_leftovers_in(&bases())
}

pub(crate) fn remove_leftovers_in(bases: &[PathBuf]) -> Vec<Leftover> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let mut found = Vec::new();
    for base in bases {
        let Ok(entries) = fs::read_dir(base) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
                continue;
            };
            let dir = entry.path();
            // Not followed: only a real directory of ours.
            let Ok(meta) = fs::symlink_metadata(&dir) else {
                continue;
            };
            if !meta.is_dir() || meta.uid() != me {
                continue;
            }
            let creator = match parse_creator(rest) {
                Some((pid, start)) => {
                    if creator_alive(pid, start) {
                        continue;
                    }
                    Some(pid)
                }
                None if rest.len() == 6 => {
                    if referenced_by_a_process(&dir) {
                        continue;
                    }
                    None
                }
                None => continue,
            };
            let error = zero_and_remove(&dir).err().map(|e| e.to_string());
            found.push(Leftover {
                dir,
                creator,
                error,
            });
        }
    }
    found
}

/// `PID-START-XXXXXX` → (PID, START).
fn parse_creator(rest: &str) -> Option<(u32, u64)> {
    let mut parts = rest.splitn(3, '-');
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    let suffix = parts.next()?;
    (suffix.len() == 6).then_some((pid, start))
}

/// A process's start time in clock ticks since boot (`/proc/PID/stat`, field 22).
fn process_start(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain anything.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

fn creator_alive(pid: u32, start: u64) -> bool {
    if Path::new("/proc/self/stat").exists() {
        return process_start(pid).is_some_and(|s| start == 0 || s == start);
    }
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Whether a running process has `dir` (or a file in it) in its command line.
fn referenced_by_a_process(dir: &Path) -> bool {
    let Ok(procs) = fs::read_dir("/proc") else {
        // Cannot tell: assume it is in use.
        return true;
    };
    let needle = dir.as_os_str().as_encoded_bytes();
    procs.flatten().any(|p| {
        let is_pid = p
            .file_name()
            .to_str()
            .is_some_and(|n| n.parse::<u32>().is_ok());
        is_pid
            && fs::read(p.path().join("cmdline"))
                .is_ok_and(|c| c.windows(needle.len()).any(|w| w == needle))
    })
}

/// Overwrites every regular file under `dir` with zeros (symlinks are not followed),
/// then removes the directory.
pub(crate) fn zero_and_remove(dir: &Path) -> io::Result<()> {
    zero_files(dir);
    fs::remove_dir_all(dir)
}

fn zero_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        match fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => zero_files(&p),
            Ok(m) if m.is_file() => {
                let _ = zero_file(&p, m.len());
            }
            _ => {}
        }
    }
}

fn zero_file(path: &Path, len: u64) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let zeros = [0u8; 4096];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        f.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    f.sync_all()
}

fn mkdtemp(template: &Path) -> io::Result<PathBuf> {
    let bytes = template.as_os_str().as_encoded_bytes().to_vec();
    let c = CString::new(bytes).map_err(io::Error::other)?;
    let mut raw = c.into_bytes_with_nul();
    // SAFETY: `raw` is a NUL-terminated, writable template ending in XXXXXX; mkdtemp
    // replaces those in place and returns null on failure.
    let out = unsafe { libc::mkdtemp(raw.as_mut_ptr().cast()) };
    if out.is_null() {
        return Err(io::Error::last_os_error());
    }
    raw.pop();
    Ok(PathBuf::from(OsString::from_vec(raw)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn scratch_is_private_named_for_its_creator_and_shredded() {
        let scratch = Scratch::new().unwrap();
        let dir = scratch.dir.clone();
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        if Path::new("/dev/shm").is_dir() {
            assert!(dir.starts_with("/dev/shm"), "{}", dir.display());
        }
        let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let (pid, start) = parse_creator(name.strip_prefix(PREFIX).unwrap()).unwrap();
        assert_eq!(pid, std::process::id());
        assert_eq!(Some(start), process_start(pid));
        fs::write(dir.join("a"), b"secret").unwrap();
        drop(scratch);
        assert!(!dir.exists());
    }

    #[test]
    fn zeroes_files_before_removing() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x");
        fs::write(&f, b"hunter2").unwrap();
        // A hard link keeps the inode readable after the name is removed.
        let keep = d.path().join("keep");
        fs::create_dir(&keep).unwrap();
        let sub = d.path().join("x.d");
        fs::create_dir(&sub).unwrap();
        fs::write(sub.join("swap"), b"hunter3").unwrap();
        fs::hard_link(&f, keep.join("x")).unwrap();
        fs::hard_link(sub.join("swap"), keep.join("swap")).unwrap();
        let victim = d.path().join("victim");
        fs::create_dir(&victim).unwrap();
        fs::rename(&f, victim.join("x")).unwrap();
        fs::rename(&sub, victim.join("x.d")).unwrap();
        zero_and_remove(&victim).unwrap();
        assert!(!victim.exists());
        assert_eq!(fs::read(keep.join("x")).unwrap(), vec![0u8; 7]);
        assert_eq!(fs::read(keep.join("swap")).unwrap(), vec![0u8; 7]);
    }

    #[test]
    fn leftovers_of_gone_creators_are_removed_live_ones_kept() {
        let base = tempfile::tempdir().unwrap();
        let me = std::process::id();
        let start = process_start(me).unwrap();
        // A process that has ended: spawn one and reap it.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let mk = |name: &str| {
            let d = base.path().join(name);
            fs::create_dir(&d).unwrap();
            fs::write(d.join("s.plain.yml"), b"password: hunter2\n").unwrap();
            d
        };
        let dead = mk(&format!("{PREFIX}{gone}-1-abcdef"));
        // Our pid with another start time: the id was reused, the creator is gone.
        let reused = mk(&format!("{PREFIX}{me}-{}-abcdef", start + 1));
        let live = mk(&format!("{PREFIX}{me}-{start}-abcdef"));
        let other = mk("something-else");
        let legacy = mk(&format!("{PREFIX}Qx7pZ2"));
        let target = mk("target");
        let link = base.path().join(format!("{PREFIX}{gone}-2-abcdef"));
        std::os::unix::fs::symlink(&target, &link).unwrap();

        let found = remove_leftovers_in(&[base.path().to_path_buf()]);
        let mut removed: Vec<_> = found.iter().map(|l| l.dir.clone()).collect();
        removed.sort();
        let mut want = vec![dead.clone(), reused.clone(), legacy.clone()];
        want.sort();
        assert_eq!(removed, want, "{found:?}");
        assert!(found.iter().all(|l| l.error.is_none()), "{found:?}");
        assert!(!dead.exists() && !reused.exists() && !legacy.exists());
        assert!(live.join("s.plain.yml").exists());
        assert!(other.join("s.plain.yml").exists());
        assert!(target.join("s.plain.yml").exists());
        assert!(link.exists());
        let text = found
            .iter()
            .find(|l| l.dir == dead)
            .map(|l| l.to_string())
            .unwrap();
        assert!(
            text.contains(&format!("process {gone}, which is gone")),
            "{text}"
        );
    }

    #[test]
    fn a_legacy_directory_an_editor_still_has_open_is_kept() {
        let base = tempfile::tempdir().unwrap();
        let legacy = base.path().join(format!("{PREFIX}Ab12Cd"));
        fs::create_dir(&legacy).unwrap();
        let file = legacy.join("s.plain.yml");
        fs::write(&file, b"password: hunter2\n").unwrap();
        // `tail -f FILE` keeps the file on its command line for as long as it runs,
        // as an editor does; wait until it has exec'd so /proc shows it.
        let mut editor = std::process::Command::new("tail")
            .args(["-f", "-n", "0"])
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let cmdline = format!("/proc/{}/cmdline", editor.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !fs::read(&cmdline)
            .map(|c| String::from_utf8_lossy(&c).contains("s.plain.yml"))
            .unwrap_or(false)
        {
            assert!(std::time::Instant::now() < deadline, "tail never started");
            std::thread::yield_now();
        }
        let found = remove_leftovers_in(&[base.path().to_path_buf()]);
        let _ = editor.kill();
        let _ = editor.wait();
        assert!(found.is_empty(), "{found:?}");
        assert!(file.exists());
    }
}
