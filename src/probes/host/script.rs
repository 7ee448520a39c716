//! The round's shell script: one POSIX `sh` program sent as the exec command. It
//! writes nothing on the host and prints one marked section per part; each part
//! stands alone, so a missing or refused tool leaves only its own part unknown.
//!
//! Two parts cost more than all the others together (`apt list --upgradable` rebuilds
//! apt's cache: ~0.6 s of CPU here; `fail2ban-client` starts Python: ~0.06 s), and
//! their answers change only when the host's state does. The script prints a key for
//! each — the modification times of the files the answer depends on — and skips the
//! work, printing `unchanged`, when fleetdeck passes the key of the answer it already
//! has as an argument ([`RoundMemo`]).

use std::time::Duration;

use time::OffsetDateTime;

use super::{DockerDiskUse, Fail2banState, PendingUpdates};

/// The whole round's time on the host; each tool inside it has 10 s (`timeout`).
pub const ROUND_TIMEOUT: Duration = Duration::from_secs(30);
/// Per stream. A round prints about 2 KiB; a host with hundreds of mounts a few
/// dozen.
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024;
/// A remembered fail2ban answer is asked again after this long even when its key
/// (the server's process and start time, the jail files' times) did not change: a
/// jail stopped at run time, or a server that hangs, changes neither.
pub const FAIL2BAN_REASK: Duration = Duration::from_secs(600);

/// Filesystem types that are not storage a host can fill: memory-backed, kernel
/// interfaces, container layers (their space is the backing filesystem's), read-only
/// images (always 100 %) and user-space mounts.
pub const PSEUDO_FILESYSTEMS: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fusectl",
    "hugetlbfs",
    "iso9660",
    "mqueue",
    "none",
    "nsfs",
    "overlay",
    "proc",
    "pstore",
    "ramfs",
    "rootfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "sysfs",
    "tmpfs",
    "tracefs",
    "udf",
];

/// Whether `fstype` is left out of the filesystems (also `fuse.*`: lxcfs, snapfuse,
/// sshfs, …).
pub fn is_pseudo(fstype: &str) -> bool {
    PSEUDO_FILESYSTEMS.contains(&fstype) || fstype.starts_with("fuse.") || fstype == "fuse"
}

/// What fleetdeck remembers between rounds of one host: the answers of the costly
/// parts with the keys they were computed under.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoundMemo {
    pub updates: Option<Remembered<PendingUpdates>>,
    pub fail2ban: Option<Remembered<Fail2banState>>,
    /// Docker's disk use and when it was read: the engine walks every volume and
    /// container layer to answer, so it is asked less often than the round runs.
    pub docker_disk: Option<(DockerDiskUse, OffsetDateTime)>,
}

/// One part's answer and the host state it was computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Remembered<T> {
    pub key: String,
    pub value: T,
    pub at: OffsetDateTime,
}

/// A key as the host printed it, when it is safe to send back on a command line:
/// digits, dots and dashes only (what `stat -c %Y.%s` and `awk` print there).
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 512
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
}

/// The exec command of one round, with the keys of the answers `memo` holds (a
/// fail2ban answer older than [`FAIL2BAN_REASK`] is asked again).
pub fn command(memo: &RoundMemo, now: OffsetDateTime) -> String {
    let updates = memo
        .updates
        .as_ref()
        .map(|r| r.key.as_str())
        .filter(|k| valid_key(k))
        .unwrap_or_default();
    let fail2ban = memo
        .fail2ban
        .as_ref()
        .filter(|r| now - r.at < FAIL2BAN_REASK)
        .map(|r| r.key.as_str())
        .filter(|k| valid_key(k))
        .unwrap_or_default();
    format!("set -- '{updates}' '{fail2ban}'\n{SCRIPT}")
}

/// The round, after `set -- UPDATES_KEY FAIL2BAN_KEY` (see [`command`]); it also runs
/// as `sh -s` with no arguments, asking everything. `LC_ALL=C` keeps every tool's
/// output in the form the parser reads; `sudo -n` asks for `sshd -T` and
/// `fail2ban-client` when not root and never waits for a password. `pseudo` is
/// [`PSEUDO_FILESYSTEMS`]: left out on the host already, to keep a host with many
/// containers (one overlay mount each) from sending a line per container.
pub const SCRIPT: &str = r#"exec </dev/null
pseudo='^(autofs|binfmt_misc|bpf|cgroup|cgroup2|configfs|debugfs|devpts|devtmpfs|efivarfs|fusectl|hugetlbfs|iso9660|mqueue|none|nsfs|overlay|proc|pstore|ramfs|rootfs|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tmpfs|tracefs|udf|fuse|fuse[.].*)$'
PATH="$PATH:/usr/sbin:/sbin"
LC_ALL=C
export LC_ALL
s=
[ "$(id -u)" = 0 ] || s='sudo -n'
t=
timeout 10 true 2>/dev/null && t='timeout 10'
have() { command -v "$1" >/dev/null 2>&1; }
begin() { printf '@@section %s\n' "$1"; }
ended() { printf '@@exit %s\n' "$1"; }
absent() { printf '@@absent %s\n' "$1"; }
real_filesystems() { awk -v p="$pseudo" 'NR == 1 || $2 !~ p'; }
echo '@@fleetdeck-host 1'
begin df
out=$($t df -P -T -B1 2>&1); rc=$?
printf '%s\n' "$out" | real_filesystems
ended $rc
begin inodes
out=$($t df -P -T -i 2>&1); rc=$?
printf '%s\n' "$out" | real_filesystems
ended $rc
begin memory
grep -E '^(MemTotal|MemAvailable|SwapTotal|SwapFree):' /proc/meminfo 2>&1
ended $?
begin load
cat /proc/loadavg /proc/uptime 2>&1 && { nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>&1; }
ended $?
begin reboot
if [ -e /var/run/reboot-required ]; then
  echo "marker $(stat -c %Y /var/run/reboot-required 2>/dev/null)"
  head -n 5 /var/run/reboot-required.pkgs 2>/dev/null | sed 's/^/package /'
fi
echo "running $(uname -r)"
for k in /boot/vmlinuz-*; do [ -e "$k" ] && echo "installed ${k#/boot/vmlinuz-}"; done
ended 0
if have apt-get; then
  begin updates
  key=$(stat -c %Y.%s /var/lib/dpkg/status /var/lib/apt/lists /etc/apt/sources.list /etc/apt/sources.list.d /etc/apt/preferences.d 2>/dev/null | tr '\n' '-')
  echo "key $key"
  if [ -n "$key" ] && [ "$key" = "$1" ]; then
    echo unchanged
    ended 0
  else
    out=$($t apt list --upgradable 2>&1); rc=$?
    if [ "$rc" = 0 ]; then
      printf '%s\n' "$out" | awk '/upgradable from/ { n++; split($1, p, "/"); if (p[2] ~ /security/) s++ } END { printf "pending %d\nsecurity %d\n", n, s }'
    else
      printf '%s\n' "$out" | tail -n 3
    fi
    ended $rc
  fi
else
  absent updates
fi
if have apt-config; then
  begin unattended
  apt-config dump APT::Periodic::Unattended-Upgrade 2>&1; rc=$?
  have unattended-upgrade && echo 'program present'
  ended $rc
else
  absent unattended
fi
if have timedatectl && v=$(timedatectl show -p NTPSynchronized --value 2>/dev/null) && [ -n "$v" ]; then
  begin clock
  echo "timedatectl $v"
  ended 0
elif have chronyc; then
  begin clock
  out=$($t chronyc -n tracking 2>&1); rc=$?
  printf '%s\n' "$out" | grep -E '^Leap status' || printf '%s\n' "$out" | tail -n 2
  ended $rc
else
  absent clock
fi
if have sshd; then
  begin sshd
  out=$($t $s "$(command -v sshd)" -T 2>&1); rc=$?
  if [ "$rc" = 0 ]; then
    printf '%s\n' "$out" | grep -E '^(permitrootlogin|passwordauthentication|kbdinteractiveauthentication|challengeresponseauthentication|maxauthtries) '
  else
    printf '%s\n' "$out" | tail -n 3
  fi
  ended $rc
else
  absent sshd
fi
if have fail2ban-client; then
  begin fail2ban
  server=0
  pid=$(cat /var/run/fail2ban/fail2ban.pid 2>/dev/null)
  case "$pid" in
    ''|*[!0-9]*) ;;
    *) started=$(awk '{ print $22 }' "/proc/$pid/stat" 2>/dev/null)
       [ -n "$started" ] && server="$pid.$started" ;;
  esac
  key="$server-$(stat -c %Y /etc/fail2ban /etc/fail2ban/jail.conf /etc/fail2ban/jail.local /etc/fail2ban/jail.d /etc/fail2ban/jail.d/* 2>/dev/null | tr '\n' '-')"
  echo "key $key"
  if [ -n "$key" ] && [ "$key" = "$2" ]; then
    echo unchanged
    ended 0
  else
    out=$($t $s fail2ban-client status 2>&1); rc=$?
    printf '%s\n' "$out" | tail -n 5
    ended $rc
  fi
else
  absent fail2ban
fi
echo '@@end'
"#;
