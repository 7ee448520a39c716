//! The local facts resolution depends on (home directory, user name), from the
//! environment or the password database, injectable so tests do not depend on the machine.

use std::ffi::{CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// The local facts resolution depends on; injected so tests do not depend on the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveEnv {
    /// Expands `~`, `%d`, and anchors relative `Include` paths (`~/.ssh/<path>`).
    pub home: PathBuf,
    /// `%u`, and the remote user when the configuration sets none.
    pub local_user: String,
}

impl ResolveEnv {
    /// `$HOME` and `$USER`, falling back to the password database for whichever is unset.
    pub fn from_process() -> ResolveEnv {
        let passwd = passwd_entry();
        let home = std::env::var_os("HOME")
            .filter(|home| !home.is_empty())
            .map(PathBuf::from)
            .or_else(|| passwd.as_ref().map(|(_, dir)| dir.clone()))
            .unwrap_or_else(|| PathBuf::from("/"));
        let local_user = std::env::var("USER")
            .ok()
            .filter(|user| !user.is_empty())
            .or_else(|| passwd.map(|(name, _)| name))
            .unwrap_or_default();
        ResolveEnv { home, local_user }
    }

    /// The password-database entry of the current uid: what `ssh` itself uses for `~`,
    /// `%d`, `%u` and the default user, regardless of `$HOME`/`$USER`.
    pub fn from_passwd() -> Option<ResolveEnv> {
        passwd_entry().map(|(local_user, home)| ResolveEnv { home, local_user })
    }
}

/// Name and home directory of the current uid, via the re-entrant `getpwuid_r`.
fn passwd_entry() -> Option<(String, PathBuf)> {
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: `passwd` is plain old data; an all-zero value is valid and is only read
    // after `getpwuid_r` has filled it in.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to live, correctly sized local storage; `buffer.len()`
    // is the capacity `getpwuid_r` may write into.
    let status = unsafe {
        libc::getpwuid_r(
            libc::getuid(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if status != 0 || found.is_null() || entry.pw_name.is_null() || entry.pw_dir.is_null() {
        return None;
    }
    // SAFETY: on success both fields point at NUL-terminated strings inside `buffer`,
    // which outlives these borrows.
    let (name, dir) = unsafe { (CStr::from_ptr(entry.pw_name), CStr::from_ptr(entry.pw_dir)) };
    Some((
        name.to_string_lossy().into_owned(),
        PathBuf::from(OsStr::from_bytes(dir.to_bytes())),
    ))
}
