//! The lab CA and per-host server certificates with chosen validity windows (expired
//! and about-to-expire included), issued with `openssl ca -startdate/-enddate`.

use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr};

use super::plan::{HostPlan, LabPlan};
use super::render;
use super::sys::run;

pub fn ca_dir(plan: &LabPlan) -> PathBuf {
    plan.dir.join("ca")
}

pub fn cert_path(plan: &LabPlan, host: &HostPlan) -> PathBuf {
    plan.host_dir(host).join("tls").join("cert.pem")
}

pub fn key_path(plan: &LabPlan, host: &HostPlan) -> PathBuf {
    plan.host_dir(host).join("tls").join("key.pem")
}

fn ec_key_args() -> [&'static str; 4] {
    ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
}

pub async fn ensure_ca(plan: &LabPlan) -> Result<()> {
    let dir = ca_dir(plan);
    std::fs::create_dir_all(dir.join("issued"))?;
    std::fs::write(dir.join("ca.cnf"), render::openssl_ca_config(&dir))?;
    if !dir.join("index.txt").exists() {
        std::fs::write(dir.join("index.txt"), "")?;
    }
    if !dir.join("serial").exists() {
        std::fs::write(dir.join("serial"), "1000\n")?;
    }
    if dir.join("ca.crt").exists() && dir.join("ca.key").exists() {
        return Ok(());
    }
    let (key, crt) = (dir.join("ca.key"), dir.join("ca.crt"));
    let mut args: Vec<String> = vec!["req".into(), "-x509".into(), "-nodes".into()];
    args.extend(ec_key_args().map(String::from));
    args.extend([
        "-keyout".into(),
        path_str(&key),
        "-out".into(),
        path_str(&crt),
        "-days".into(),
        "3650".into(),
        "-subj".into(),
        format!("/O=fleetdeck lab/CN=fleetdeck lab CA {}", plan.id),
        "-addext".into(),
        "basicConstraints=critical,CA:true".into(),
        "-addext".into(),
        "keyUsage=critical,keyCertSign,cRLSign".into(),
    ]);
    run("openssl", &args)
        .await
        .wrap_err("creating the lab CA")?;
    Ok(())
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// `YYYYMMDDHHMMSSZ`, the form `openssl ca -startdate/-enddate` takes.
fn asn1_time(t: time::OffsetDateTime) -> Result<String> {
    let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]Z");
    Ok(t.to_offset(time::UtcOffset::UTC).format(&fmt)?)
}

/// Issues the host's certificate unless it has one. Must not run concurrently for
/// two hosts: `openssl ca` keeps its database in one index file.
pub async fn ensure_host_cert(
    plan: &LabPlan,
    host: &HostPlan,
    now: time::OffsetDateTime,
) -> Result<()> {
    let (cert, key) = (cert_path(plan, host), key_path(plan, host));
    if cert.exists() && key.exists() {
        return Ok(());
    }
    let tls_dir = plan.host_dir(host).join("tls");
    std::fs::create_dir_all(&tls_dir)?;
    let csr = tls_dir.join("req.csr");
    let mut args: Vec<String> = vec!["req".into(), "-new".into(), "-nodes".into()];
    args.extend(ec_key_args().map(String::from));
    args.extend([
        "-keyout".into(),
        path_str(&key),
        "-out".into(),
        path_str(&csr),
        "-subj".into(),
        format!("/CN={}", host.cert.server_name),
        "-addext".into(),
        format!(
            "subjectAltName=DNS:{},IP:{}",
            host.cert.server_name, host.addr
        ),
    ]);
    run("openssl", &args)
        .await
        .wrap_err_with(|| format!("certificate request for {}", host.name))?;

    let start = now + time::Duration::days(host.cert.not_before_days);
    let end = now + time::Duration::days(host.cert.not_after_days);
    let ca = ca_dir(plan);
    run(
        "openssl",
        [
            "ca".to_string(),
            "-batch".into(),
            "-notext".into(),
            "-config".into(),
            path_str(&ca.join("ca.cnf")),
            "-in".into(),
            path_str(&csr),
            "-out".into(),
            path_str(&cert),
            "-startdate".into(),
            asn1_time(start)?,
            "-enddate".into(),
            asn1_time(end)?,
        ],
    )
    .await
    .wrap_err_with(|| format!("signing the certificate of {}", host.name))?;
    let _ = std::fs::remove_file(csr);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asn1_time_is_utc_and_compact() {
        let t = time::macros::datetime!(2026-01-02 03:04:05 +02:00);
        assert_eq!(asn1_time(t).expect("format"), "20260102010405Z");
    }
}
