//! Each lab host's app data and its restic repository, with snapshots back-dated by
//! `restic backup --time` so backup age is something the lab decides.

use color_eyre::eyre::{Result, WrapErr};
use tokio::process::Command;

use super::plan::{HostPlan, LabPlan};
use super::sys::{self, run_cmd};

/// Writes the app data the `web` container serves and restic backs up. `generation`
/// changes a file so consecutive snapshots differ.
pub fn write_app_data(plan: &LabPlan, host: &HostPlan, generation: usize) -> Result<()> {
    let web = plan.data_dir(host).join("web");
    std::fs::create_dir_all(&web).wrap_err_with(|| format!("creating {}", web.display()))?;
    std::fs::write(
        web.join("index.html"),
        format!(
            "<!doctype html><title>{name}</title><h1>{name}</h1><p>fleetdeck lab</p>\n",
            name = host.name
        ),
    )?;
    std::fs::write(web.join("generation.txt"), format!("{generation}\n"))?;
    let mut rows = String::new();
    for i in 0..200 {
        rows.push_str(&format!("{i},customer-{i}@{}.example,active\n", host.name));
    }
    std::fs::write(plan.data_dir(host).join("customers.csv"), rows)?;
    write_manifest(&plan.data_dir(host))?;
    Ok(())
}

/// The checksum manifest a backup hook writes before each backup, which restore
/// drills verify with `sha256sum -c` (`fleetdeck_drills`' `manifest`).
pub const MANIFEST: &str = "MANIFEST.sha256";
/// The files the manifest covers, relative to the data directory.
pub const MANIFEST_FILES: &[&str] = &["web/index.html", "web/generation.txt", "customers.csv"];

/// Bumped when what a snapshot holds changes, so `lab up` remakes older repositories.
const REPOSITORY_FORMAT: &str = "2 (data with MANIFEST.sha256)\n";

fn write_manifest(data_dir: &std::path::Path) -> Result<()> {
    use sha2::Digest as _;
    let mut manifest = String::new();
    for file in MANIFEST_FILES {
        let bytes = std::fs::read(data_dir.join(file))
            .wrap_err_with(|| format!("reading {}", data_dir.join(file).display()))?;
        manifest.push_str(&format!(
            "{}  {file}\n",
            hex::encode(sha2::Sha256::digest(&bytes))
        ));
    }
    std::fs::write(data_dir.join(MANIFEST), manifest)
        .wrap_err_with(|| format!("writing {}", data_dir.join(MANIFEST).display()))
}

fn format_marker(plan: &LabPlan, host: &HostPlan) -> std::path::PathBuf {
    plan.restic_repo(host).with_file_name("repository-format")
}

fn restic(plan: &LabPlan, host: &HostPlan) -> Command {
    let mut cmd = Command::new("restic");
    cmd.arg("--repo")
        .arg(plan.restic_repo(host))
        .arg("--password-file")
        .arg(plan.restic_password_file(host))
        // No cache: it would land in ~/.cache, outside the lab.
        .arg("--no-cache")
        .arg("--quiet")
        // `--time` is read in local time; pin it so snapshot ages are exact.
        .env("TZ", "UTC");
    cmd
}

async fn snapshot_count(plan: &LabPlan, host: &HostPlan) -> Option<usize> {
    let mut cmd = restic(plan, host);
    cmd.args(["snapshots", "--json"]);
    let out = run_cmd(&mut cmd).await.ok()?;
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).ok()?;
    Some(list.len())
}

fn random_password() -> Result<String> {
    let mut buf = [0u8; 24];
    let mut f = std::fs::File::open("/dev/urandom")?;
    std::io::Read::read_exact(&mut f, &mut buf)?;
    Ok(hex::encode(buf))
}

/// Creates the repository and its back-dated snapshots unless they are all there.
pub async fn ensure_repository(
    plan: &LabPlan,
    host: &HostPlan,
    now: time::OffsetDateTime,
) -> Result<()> {
    let repo = plan.restic_repo(host);
    let password_file = plan.restic_password_file(host);
    let current_format =
        std::fs::read_to_string(format_marker(plan, host)).is_ok_and(|f| f == REPOSITORY_FORMAT);
    if repo.join("config").exists()
        && current_format
        && snapshot_count(plan, host).await >= Some(host.snapshot_ages_hours.len())
    {
        return Ok(());
    }
    // Half-made (a crashed `lab up`), or made by an older fleetdeck: start over.
    if repo.exists() {
        std::fs::remove_dir_all(&repo)?;
    }
    if let Some(parent) = repo.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if !password_file.exists() {
        sys::write_private(&password_file, &random_password()?)?;
    }
    let mut init = restic(plan, host);
    init.arg("init");
    run_cmd(&mut init)
        .await
        .wrap_err_with(|| format!("creating the restic repository of {}", host.name))?;

    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    for (generation, age_hours) in host.snapshot_ages_hours.iter().enumerate() {
        write_app_data(plan, host, generation + 1)?;
        let when = now - time::Duration::hours(*age_hours as i64);
        let mut backup = restic(plan, host);
        backup
            .args(["backup", "--host", &host.name, "--tag", "lab", "--time"])
            .arg(when.format(&fmt)?)
            .arg(plan.data_dir(host));
        run_cmd(&mut backup)
            .await
            .wrap_err_with(|| format!("backing up {} into restic", host.name))?;
    }
    std::fs::write(format_marker(plan, host), REPOSITORY_FORMAT)?;
    Ok(())
}
