//! A whole drill of a real borg repository on this machine (`HostShell::Local`: the
//! same scripts a host runs over SSH). Skipped, loudly, where borg is not installed.

use std::path::Path;

use super::run::{Drill, DrillAccess, DrillPlan};
use crate::audit::AuditLog;
use crate::core::Core;
use crate::core::deploy::shell::HostShell;
use crate::inventory::HostSettings;
use crate::probes::backup::{BackupKind, BackupRepo};
use crate::probes::drill::History;
use crate::probes::drill::report::{DrillResult, Outcome, Step};
use crate::probes::drill::spec::{ContentChecks, DrillSpec};

fn sh(script: &str, env: &[(&str, &Path)]) {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(script);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("sh");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn plan(dir: &Path, password_file: &Path) -> DrillPlan {
    let data = dir.join("data");
    let repo = BackupRepo {
        name: "borg-data".into(),
        kind: BackupKind::Borg,
        repository: dir.join("repo").display().to_string(),
        password_file: Some(password_file.to_path_buf()),
        paths: vec![data.clone()],
        warning_hours: 26,
        critical_hours: 48,
    };
    let spec = DrillSpec {
        repository: "borg-data".into(),
        scratch_dir: dir.join("scratch").display().to_string(),
        live_paths: vec![],
        root: None,
        read_data_subset: "10%".into(),
        warning_days: 30,
        timeout_minutes: 5,
        checks: ContentChecks {
            files: vec!["db/dump.sql".into(), "MANIFEST.sha256".into()],
            manifest: Some("MANIFEST.sha256".into()),
            container: None,
        },
    };
    let mut settings = HostSettings::defaults("borg-host");
    settings.state_dir = dir.join("state").display().to_string();
    settings.backups = vec![repo.clone()];
    DrillPlan {
        host: "borg-host".into(),
        app: "db".into(),
        live: vec![(data.display().to_string(), "the live data".into())],
        root: Some(data.display().to_string()),
        spec,
        repo,
        settings,
    }
}

#[tokio::test]
async fn a_borg_drill_restores_verifies_and_cleans_up() {
    if std::process::Command::new("borg")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: borg is not installed (apt-get install borgbackup)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let pw = d.join("passphrase");
    std::fs::write(&pw, "correct horse\n").expect("pw");
    std::fs::create_dir_all(d.join("data/db")).expect("mkdir");
    let write_data = |notes: &str| {
        use sha2::Digest as _;
        let files = [
            ("db/dump.sql", "insert into t values (1);\n"),
            ("notes.txt", notes),
        ];
        let mut manifest = String::new();
        for (name, text) in files {
            std::fs::write(d.join("data").join(name), text).expect("write");
            manifest.push_str(&format!(
                "{}  {name}\n",
                hex::encode(sha2::Sha256::digest(text.as_bytes()))
            ));
        }
        std::fs::write(d.join("data/MANIFEST.sha256"), manifest).expect("manifest");
    };
    let base = d.join("borg-base");
    let env = [("BORG_BASE_DIR", base.as_path())];
    let borg = |args: &str| {
        sh(
            &format!(
                "cd {d} && BORG_PASSCOMMAND='cat {pw}' borg {args} 2>&1",
                d = d.display(),
                pw = pw.display()
            ),
            &env,
        )
    };
    write_data("hello\n");
    borg("init -e repokey repo");
    borg(&format!("create repo::first {}/data", d.display()));
    write_data("changed\n");
    borg(&format!("create repo::second {}/data", d.display()));
    let core = Core::new(false, AuditLog::new(d.join("audit.log")));
    let history = History::at(d.join("history"));
    let access = || DrillAccess {
        shell: HostShell::Local,
        docker: None,
        session: None,
    };

    let mut drill = Drill::new(core.clone(), plan(d, &pw), access(), None);
    drill.run("latest", |_| Ok(true)).await.expect("passes");
    assert_eq!(drill.chosen().map(|s| s.id.as_str()), Some("second"));
    assert_eq!(drill.snapshots().len(), 2);
    let (report, saved) = drill.finish(&history).await;
    saved.expect("saved");
    assert_eq!(report.result, DrillResult::Passed, "{report:#?}");
    let size = report.size.expect("size compared");
    // borg counts regular files: dump.sql, notes.txt, MANIFEST.sha256.
    assert_eq!((size.expected_entries, size.restored_entries), (3, 3));
    assert!(size.matches);
    for name in ["integrity", "size", "files", "manifest"] {
        let c = report.checks.iter().find(|c| c.name == name).expect(name);
        assert_eq!(c.outcome, Outcome::Passed, "{c:?}");
    }
    assert!(report.rto_seconds.is_some() && report.rpo_seconds.is_some());
    let scratch = d.join("scratch");
    assert_eq!(std::fs::read_dir(&scratch).expect("scratch").count(), 0);
    assert!(!d.join("state/deploy.lock").exists());

    // The older archive by name; then a wrong passphrase fails at the first step.
    let mut drill = Drill::new(core.clone(), plan(d, &pw), access(), None);
    drill.run("first", |_| Ok(true)).await.expect("passes");
    let (report, _) = drill.finish(&history).await;
    assert_eq!(report.result, DrillResult::Passed, "{report:#?}");
    assert_eq!(report.snapshot.map(|s| s.id), Some("first".into()));

    let wrong = d.join("wrong");
    std::fs::write(&wrong, "nope\n").expect("pw");
    let mut drill = Drill::new(core, plan(d, &wrong), access(), None);
    assert!(drill.run("latest", |_| Ok(true)).await.is_err());
    let (report, _) = drill.finish(&history).await;
    assert_eq!(report.result, DrillResult::Failed);
    assert_eq!(report.failed_step, Some(Step::Choose));
    let error = report.error.unwrap_or_default();
    assert!(error.contains("wrong_password"), "{error}");
    assert_eq!(history.load("borg-host", "db").len(), 3);
    assert_eq!(
        history.last_success("borg-host").map(|r| r.result),
        Some(DrillResult::Passed)
    );

    // borg keeps a cache and a security record per repository under $HOME: remove
    // this throwaway repository's.
    let config = std::fs::read_to_string(d.join("repo/config")).unwrap_or_default();
    if let (Some(id), Some(home)) = (
        config
            .lines()
            .find_map(|l| l.strip_prefix("id = ").map(str::trim)),
        std::env::var_os("HOME"),
    ) {
        let home = Path::new(&home);
        let _ = std::fs::remove_dir_all(home.join(".cache/fleetdeck/borg-drill").join(id));
        let _ = std::fs::remove_dir_all(home.join(".config/borg/security").join(id));
    }
}
