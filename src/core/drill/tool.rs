//! The restic and borg commands a drill runs on the host, and pure readers of what
//! they print. Every command is a script for `sh -c` with its arguments quoted; the
//! password is read by the tool from the declared file on the host — it never travels
//! on a command line, in fleetdeck's memory, or in a report.

use serde::Deserialize;

use crate::core::deploy::shell::Output;
use crate::probes::backup::{BackupKind, BackupRepo, ListedSnapshot, borg, restic};
use crate::probes::drill::SnapshotInfo;
use crate::sanitize;
use crate::util::shell::quote;

fn borg_env(repo: &BackupRepo) -> String {
    let mut env = String::new();
    if let Some(file) = &repo.password_file {
        let passcommand = format!("cat {}", quote(&file.to_string_lossy()));
        env.push_str("BORG_PASSCOMMAND=");
        env.push_str(&quote(&passcommand));
        env.push(' ');
    }
    env.push_str(
        "BORG_RELOCATED_REPO_ACCESS_IS_OK=no BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=no \
         BORG_CACHE_DIR=\"$HOME/.cache/fleetdeck/borg-drill\" TZ=UTC0 ",
    );
    env
}

fn restic(repo: &BackupRepo) -> String {
    let mut cmd = format!("restic -r {}", quote(&repo.repository));
    if let Some(file) = &repo.password_file {
        cmd.push_str(" --password-file ");
        cmd.push_str(&quote(&file.to_string_lossy()));
    }
    cmd
}

fn borg(repo: &BackupRepo, sub: &str) -> String {
    format!("{}borg {sub}", borg_env(repo))
}

fn archive(repo: &BackupRepo, name: &str) -> String {
    quote(&format!("{}::{name}", repo.repository))
}

/// Every snapshot, as JSON (restic `snapshots --json`, borg `list --json`).
pub fn list(repo: &BackupRepo) -> String {
    match repo.kind {
        BackupKind::Restic => format!("{} snapshots --json --no-lock </dev/null", restic(repo)),
        BackupKind::Borg => format!(
            "{} -- {} </dev/null",
            borg(repo, "list --json --log-json --bypass-lock"),
            quote(&repo.repository)
        ),
    }
}

/// What restoring `snap` writes (restic `stats --mode restore-size`, borg `info`).
pub fn size(repo: &BackupRepo, snap: &SnapshotInfo) -> String {
    match repo.kind {
        BackupKind::Restic => format!(
            "{} stats --mode restore-size --json --no-lock {} </dev/null",
            restic(repo),
            quote(&snap.full_id)
        ),
        BackupKind::Borg => format!(
            "{} -- {} </dev/null",
            borg(repo, "info --json --log-json --bypass-lock"),
            archive(repo, &snap.id)
        ),
    }
}

/// Preflight: the repository opens with the declared password and its metadata is
/// consistent — restic: `cat config`, then `check` without reading data (index, pack
/// list and sizes, every tree); borg: `check --archives-only` of the archive (its
/// metadata chunks).
pub fn metadata(repo: &BackupRepo, snap: &SnapshotInfo) -> String {
    match repo.kind {
        BackupKind::Restic => format!(
            "{r} cat config >/dev/null </dev/null && {r} check </dev/null",
            r = restic(repo)
        ),
        BackupKind::Borg => format!(
            "{} -- {} </dev/null",
            borg(repo, "check --archives-only --log-json"),
            archive(repo, &snap.id)
        ),
    }
}

/// Restores `snap` into `target` (an existing, empty directory).
pub fn restore(repo: &BackupRepo, snap: &SnapshotInfo, target: &str) -> String {
    match repo.kind {
        BackupKind::Restic => format!(
            "{} restore {} --target {} </dev/null",
            restic(repo),
            quote(&snap.full_id),
            quote(target)
        ),
        BackupKind::Borg => format!(
            "cd {} && {} -- {} </dev/null",
            quote(target),
            borg(repo, "extract --log-json"),
            archive(repo, &snap.id)
        ),
    }
}

/// Verification of the stored data: restic `check --read-data-subset=N%` (packs read
/// and their hashes and blobs verified); borg `check --verify-data` of the archive
/// (every chunk it references read and authenticated).
pub fn verify(repo: &BackupRepo, snap: &SnapshotInfo, subset: &str) -> String {
    match repo.kind {
        BackupKind::Restic => format!(
            "{} check --read-data-subset={} </dev/null",
            restic(repo),
            quote(subset)
        ),
        BackupKind::Borg => format!(
            "{} -- {} </dev/null",
            borg(repo, "check --verify-data --log-json"),
            archive(repo, &snap.id)
        ),
    }
}

/// What a restore created under `dir`, counted as the tool counts the snapshot:
/// prints `ENTRIES BYTES` (entries: restic — everything below `dir`; borg — regular
/// files; bytes: regular files' sizes).
pub fn count_restored(kind: BackupKind, dir: &str) -> String {
    let d = quote(dir);
    let entries = match kind {
        BackupKind::Restic => format!("find {d} -mindepth 1 | wc -l"),
        BackupKind::Borg => format!("find {d} -type f | wc -l"),
    };
    format!(
        "set -e; e=$({entries}); b=$(find {d} -type f -exec stat -c %s {{}} + | awk '{{s+=$1}} END {{printf \"%d\", s}}'); echo \"$e ${{b:-0}}\""
    )
}

/// Parses `ENTRIES BYTES`.
pub fn parse_counts(stdout: &str) -> Option<(u64, u64)> {
    let mut it = stdout.split_whitespace();
    let e = it.next()?.parse().ok()?;
    let b = it.next()?.parse().ok()?;
    Some((e, b))
}

const MAX_COMPLAINT_CHARS: usize = 800;

/// The tool's own words about a failure: the last lines of stderr (or stdout), borg's
/// JSON log lines reduced to their messages, cleaned of control sequences, bounded.
pub fn complaint(tool: &str, out: &Output) -> String {
    let text = if out.stderr.trim().is_empty() {
        &out.stdout
    } else {
        &out.stderr
    };
    let lines: Vec<String> = text
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.is_empty() {
                return None;
            }
            if l.starts_with('{')
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(l)
            {
                return v["message"].as_str().map(|m| sanitize::line(m.trim()));
            }
            Some(sanitize::line(l))
        })
        .filter(|l| !l.is_empty())
        .collect();
    let skip = lines.len().saturating_sub(6);
    let mut words = lines[skip..].join(" / ");
    let n = words.chars().count();
    if n > MAX_COMPLAINT_CHARS {
        words = format!(
            "…{}",
            words
                .chars()
                .skip(n - MAX_COMPLAINT_CHARS)
                .collect::<String>()
        );
    }
    let exit = match out.status {
        Some(code) => format!("exit {code}"),
        None => "killed by a signal".to_owned(),
    };
    if words.is_empty() {
        format!("{tool} failed ({exit})")
    } else {
        format!("{tool} failed ({exit}): {words}")
    }
}

/// Every snapshot of a listing, newest first. Read by the status probe's own readers
/// (`probes::backup::{restic, borg}`), so a drill and a status check agree on what is
/// in a repository; text from the host is sanitized there.
pub fn parse_list(kind: BackupKind, stdout: &[u8]) -> Result<Vec<SnapshotInfo>, String> {
    let listed = match kind {
        BackupKind::Restic => restic::parse_snapshots(stdout)?,
        BackupKind::Borg => borg::parse_archives(stdout)?,
    };
    let mut list = listed
        .into_iter()
        .map(|s| snapshot_info(kind, s))
        .collect::<Result<Vec<_>, String>>()?;
    // Both tools list oldest first; reversed before a stable sort, of two snapshots in
    // the same second (borg lists whole seconds) the one listed later comes first.
    list.reverse();
    list.sort_by_key(|s| std::cmp::Reverse(s.time));
    Ok(list)
}

/// A listed snapshot as a drill names it: restic by its ids, borg by its archive name
/// (what `borg extract REPO::NAME` takes). A drill needs that name to restore, so a
/// snapshot without one is an error here, where the status probe only counts it.
fn snapshot_info(kind: BackupKind, s: ListedSnapshot) -> Result<SnapshotInfo, String> {
    let (id, full_id) = match kind {
        BackupKind::Restic => {
            let full_id = s
                .full_id
                .ok_or_else(|| "a restic snapshot in the list has no id".to_owned())?;
            let id = s
                .short_id
                .unwrap_or_else(|| full_id.chars().take(8).collect());
            (id, full_id)
        }
        BackupKind::Borg => {
            let name = s
                .name
                .ok_or_else(|| "a borg archive in the list has no name".to_owned())?;
            (name, s.full_id.unwrap_or_default())
        }
    };
    Ok(SnapshotInfo {
        id,
        full_id,
        time: s.time,
        host: s.host,
        paths: s.paths,
        size_bytes: None,
        entries: None,
    })
}

#[derive(Deserialize)]
struct ResticStats {
    total_size: u64,
    total_file_count: u64,
}

#[derive(Deserialize)]
struct BorgInfo {
    archives: Vec<BorgInfoArchive>,
}

#[derive(Deserialize)]
struct BorgInfoArchive {
    stats: BorgStats,
}

#[derive(Deserialize)]
struct BorgStats {
    nfiles: u64,
    original_size: u64,
}

/// `(entries, bytes)` a restore of the snapshot creates, from `size`'s output.
pub fn parse_size(kind: BackupKind, stdout: &[u8]) -> Result<(u64, u64), String> {
    match kind {
        BackupKind::Restic => {
            let s: ResticStats = serde_json::from_slice(stdout)
                .map_err(|e| format!("restic stats is not the JSON expected: {e}"))?;
            Ok((s.total_file_count, s.total_size))
        }
        BackupKind::Borg => {
            let info: BorgInfo = serde_json::from_slice(stdout)
                .map_err(|e| format!("borg info is not the JSON expected: {e}"))?;
            let a = info
                .archives
                .first()
                .ok_or_else(|| "borg info listed no archive".to_owned())?;
            Ok((a.stats.nfiles, a.stats.original_size))
        }
    }
}

/// Finds `wanted` (`latest`, a short or full id / id prefix, or a borg archive name)
/// among `list` (newest first), restricted to snapshots that hold `root` when the
/// listing says which paths a snapshot holds.
pub fn select<'a>(
    list: &'a [SnapshotInfo],
    wanted: &str,
    root: Option<&str>,
) -> Result<&'a SnapshotInfo, String> {
    let holds_root = |s: &SnapshotInfo| match root {
        Some(root) if !s.paths.is_empty() => s.paths.iter().any(|p| {
            matches!(
                super::overlap::overlap(root, p),
                Some(super::overlap::Overlap::Equal | super::overlap::Overlap::Inside)
            )
        }),
        _ => true,
    };
    if wanted == "latest" {
        return list
            .iter()
            .find(|s| holds_root(s))
            .ok_or_else(|| match root {
                Some(root) if !list.is_empty() => {
                    format!(
                        "no snapshot holds {root} ({} snapshot(s) in the repository)",
                        list.len()
                    )
                }
                _ => "the repository holds no snapshot".to_owned(),
            });
    }
    let matches: Vec<&SnapshotInfo> = list
        .iter()
        .filter(|s| {
            s.id == wanted
                || s.full_id == wanted
                || (wanted.len() >= 4 && s.full_id.starts_with(wanted))
        })
        .collect();
    match matches.as_slice() {
        [] => Err(format!(
            "snapshot {} not found in the repository ({} snapshot(s) listed)",
            sanitize::line(wanted),
            list.len()
        )),
        [one] => Ok(one),
        _ => Err(format!(
            "snapshot {} is ambiguous ({} match)",
            sanitize::line(wanted),
            matches.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn repo(kind: BackupKind) -> BackupRepo {
        BackupRepo {
            name: "app-data".into(),
            kind,
            repository: "/backup/it's repo".into(),
            password_file: Some("/etc/restic pw".into()),
            paths: vec!["/srv/app".into()],
            warning_hours: 26,
            critical_hours: 48,
        }
    }

    #[test]
    fn restic_lists_newest_first_and_selects() {
        let out = br#"[
          {"time":"2024-03-01T10:00:00Z","paths":["/srv/app"],"hostname":"h","id":"aaaa1111ffff","short_id":"aaaa1111"},
          {"time":"2024-03-02T10:00:00+02:00","paths":["/srv/other"],"hostname":"h","id":"bbbb2222ffff","short_id":"bbbb2222"},
          {"time":"2024-03-01T12:00:00Z","paths":["/srv"],"hostname":"h\u001b[2J","id":"cccc3333ffff","short_id":"cccc3333"}
        ]"#;
        let list = parse_list(BackupKind::Restic, out).expect("parses");
        let ids: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["bbbb2222", "cccc3333", "aaaa1111"]);
        assert_eq!(list[0].time, datetime!(2024-03-02 08:00:00 UTC));
        assert_eq!(list[1].host.as_deref(), Some("h"));
        // `latest` is the newest snapshot that holds the root: /srv holds /srv/app.
        assert_eq!(
            select(&list, "latest", Some("/srv/app")).expect("found").id,
            "cccc3333"
        );
        assert_eq!(select(&list, "latest", None).expect("found").id, "bbbb2222");
        assert_eq!(
            select(&list, "aaaa1111", None).expect("found").id,
            "aaaa1111"
        );
        assert_eq!(
            select(&list, "aaaa1111ff", None).expect("prefix").id,
            "aaaa1111"
        );
        let err = select(&list, "dddd", None).expect_err("missing");
        assert!(err.contains("not found"), "{err}");
        let err = select(&list, "latest", Some("/elsewhere")).expect_err("none holds it");
        assert!(err.contains("no snapshot holds /elsewhere"), "{err}");
        assert!(select(&[], "latest", None).is_err());
    }

    #[test]
    fn borg_lists_archives_in_utc() {
        let out = br#"{"archives":[
          {"name":"first","id":"0011","start":"2024-03-01T10:00:00.000000"},
          {"name":"second","id":"0022","start":"2024-03-02T10:00:00.000000"}]}"#;
        let list = parse_list(BackupKind::Borg, out).expect("parses");
        assert_eq!(list[0].id, "second");
        assert_eq!(list[0].time, datetime!(2024-03-02 10:00:00 UTC));
        assert!(parse_list(BackupKind::Borg, b"{}").is_err());
        assert!(parse_list(BackupKind::Restic, b"[{\"time\":\"x\",\"id\":\"a\"}]").is_err());
    }

    #[test]
    fn sizes_parse_from_each_tool() {
        assert_eq!(
            parse_size(
                BackupKind::Restic,
                br#"{"total_size":12,"total_file_count":8,"snapshots_count":1}"#
            ),
            Ok((8, 12))
        );
        let borg = br#"{"archives":[{"name":"a","stats":{"compressed_size":98,"deduplicated_size":949,"nfiles":2,"original_size":12}}]}"#;
        assert_eq!(parse_size(BackupKind::Borg, borg), Ok((2, 12)));
        assert!(parse_size(BackupKind::Restic, b"Fatal").is_err());
        assert_eq!(parse_counts("8 12\n"), Some((8, 12)));
        assert_eq!(parse_counts("8"), None);
    }

    #[test]
    fn commands_quote_and_never_carry_the_password() {
        let r = repo(BackupKind::Restic);
        let snap = SnapshotInfo {
            id: "aaaa1111".into(),
            full_id: "aaaa1111ffff".into(),
            time: datetime!(2024-03-01 10:00:00 UTC),
            host: None,
            paths: vec![],
            size_bytes: None,
            entries: None,
        };
        let cmd = restore(&r, &snap, "/var/tmp/x y");
        assert!(cmd.contains("--password-file '/etc/restic pw'"), "{cmd}");
        assert!(cmd.contains("-r '/backup/it'\\''s repo'"), "{cmd}");
        assert!(
            cmd.contains("restore 'aaaa1111ffff' --target '/var/tmp/x y'"),
            "{cmd}"
        );
        let b = repo(BackupKind::Borg);
        let cmd = verify(&b, &snap, "10%");
        assert!(
            cmd.contains("BORG_PASSCOMMAND='cat '\\''/etc/restic pw'\\'''"),
            "{cmd}"
        );
        assert!(cmd.contains("check --verify-data"), "{cmd}");
        assert!(cmd.contains("TZ=UTC0"), "{cmd}");
        assert!(verify(&r, &snap, "10%").contains("--read-data-subset='10%'"));
    }

    #[test]
    fn complaints_keep_the_tools_words_cleaned() {
        let out = Output {
            status: Some(1),
            stdout: String::new(),
            stderr: "using temporary cache\nPack ID does not match, want 5a1b, got 9c2d\n\x1b[2KFatal: repository contains errors\n".into(),
        };
        assert_eq!(
            complaint("restic check", &out),
            "restic check failed (exit 1): using temporary cache / Pack ID does not match, want 5a1b, got 9c2d / Fatal: repository contains errors"
        );
        let borg = Output {
            status: Some(2),
            stdout: String::new(),
            stderr: r#"{"type": "log_message", "levelname": "ERROR", "message": "passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect.", "msgid": "PassphraseWrong"}"#.into(),
        };
        assert!(complaint("borg", &borg).ends_with("is incorrect."));
    }
}
