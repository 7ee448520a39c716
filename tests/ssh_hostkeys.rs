//! Host-key policy against a real OpenSSH server on loopback: strict refusal of
//! unknown hosts, accept-new recording a hashed line `ssh` itself accepts, changed and
//! revoked keys refused, host certificates, and inventory pins.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::client::{context_from_text, fingerprint_of, host_block, pub_of, try_connect};
use common::sshd::{SshdOptions, TestSshd, keygen, make_ca, public_key_line, sign_host_key};
use fleetdeck::ssh::auth::NeverAsk;
use fleetdeck::ssh::hostkey::{Acceptance, HostKeyErrorKind};
use fleetdeck::ssh::session::ConnectError;

/// A client key authorized on a fresh sshd, and the server.
fn server(dir: &Path, options: SshdOptions) -> TestSshd {
    let key = dir.join("id_ed25519");
    if !key.exists() {
        keygen(&key, "", "client");
    }
    let mut options = options;
    options.authorized_keys = vec![public_key_line(&pub_of(&key))];
    TestSshd::start(options)
}

fn config(dir: &Path, sshd: &TestSshd, known_hosts: &Path, strict: &str) -> String {
    host_block(
        "target",
        sshd.port(),
        known_hosts,
        &[
            &format!("IdentityFile {}", dir.join("id_ed25519").display()),
            "IdentitiesOnly yes",
            &format!("StrictHostKeyChecking {strict}"),
        ],
    )
}

fn host_key_error(
    result: Result<impl std::fmt::Debug, ConnectError>,
) -> (HostKeyErrorKind, String) {
    match result {
        Err(ConnectError::HostKey(error)) => {
            let text = error.to_string();
            (error.kind, text)
        }
        other => panic!("expected a host-key refusal, got {other:?}"),
    }
}

/// OpenSSH's client, strict, with only `known_hosts` to trust.
fn openssh_accepts(dir: &Path, sshd: &TestSshd, known_hosts: &Path) -> bool {
    Command::new("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
        ])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args([
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            "-i",
        ])
        .arg(dir.join("id_ed25519"))
        .args(["-p", &sshd.port().to_string(), "root@127.0.0.1", "true"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("running ssh")
        .success()
}

#[tokio::test]
#[ignore = "needs root: runs sshd"]
async fn unknown_host_is_refused_under_strict_with_fingerprint_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sshd = server(dir.path(), SshdOptions::default());
    let known_hosts = dir.path().join("known_hosts");
    let ctx = context_from_text(
        dir.path(),
        &config(dir.path(), &sshd, &known_hosts, "yes"),
        Arc::new(NeverAsk),
        None,
    );
    let (kind, text) = host_key_error(try_connect(&ctx, "target", None).await);
    assert!(matches!(kind, HostKeyErrorKind::Unknown { .. }), "{kind:?}");
    let fingerprint = fingerprint_of(&pub_of(sshd.host_key_path()));
    assert!(text.contains(&fingerprint), "names the fingerprint: {text}");
    let key_line = sshd.host_public_key_line();
    let key_text: Vec<&str> = key_line.split(' ').take(2).collect();
    let line = format!("[127.0.0.1]:{} {}", sshd.port(), key_text.join(" "));
    assert!(
        text.contains(&line),
        "gives the line to add ({line}): {text}"
    );
    assert!(!known_hosts.exists(), "strict writes nothing");
    assert!(
        !dir.path().join("own_known_hosts").exists(),
        "strict writes nothing"
    );

    // The line we suggest is one OpenSSH accepts.
    std::fs::write(&known_hosts, format!("{line}\n")).expect("write");
    assert!(openssh_accepts(dir.path(), &sshd, &known_hosts));
    let session = try_connect(&ctx, "target", None).await.expect("now known");
    assert!(matches!(session.accepted_by(), Acceptance::Known(_)));
}

#[tokio::test]
#[ignore = "needs root: runs sshd"]
async fn accept_new_records_a_hashed_line_that_openssh_accepts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sshd = server(dir.path(), SshdOptions::default());
    let known_hosts = dir.path().join("known_hosts");
    let own = dir.path().join("own_known_hosts");
    let ctx = context_from_text(
        dir.path(),
        &config(dir.path(), &sshd, &known_hosts, "accept-new"),
        Arc::new(NeverAsk),
        None,
    );
    assert!(!openssh_accepts(dir.path(), &sshd, &own), "unknown before");
    let session = try_connect(&ctx, "target", None).await.expect("accept-new");
    assert!(matches!(session.accepted_by(), Acceptance::New { .. }));
    let recorded = std::fs::read_to_string(&own).expect("recorded in fleetdeck's file");
    assert_eq!(recorded.lines().count(), 1);
    assert!(recorded.starts_with("|1|"), "hashed: {recorded}");
    assert!(
        !recorded.contains("127.0.0.1"),
        "no host name in clear: {recorded}"
    );
    assert!(!known_hosts.exists(), "OpenSSH's files are not written");
    assert!(
        openssh_accepts(dir.path(), &sshd, &own),
        "ssh trusts the recorded line"
    );

    drop(session);
    let again = try_connect(&ctx, "target", None)
        .await
        .expect("second connect");
    assert!(matches!(again.accepted_by(), Acceptance::Known(_)));
    assert_eq!(
        std::fs::read_to_string(&own).expect("read"),
        recorded,
        "recorded once"
    );
}

#[tokio::test]
#[ignore = "needs root: runs sshd"]
async fn changed_host_key_is_refused_in_every_mode_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sshd = server(dir.path(), SshdOptions::default());
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!(
            "[127.0.0.1]:{} {}\n",
            sshd.port(),
            sshd.host_public_key_line()
        ),
    )
    .expect("write");
    let old_fingerprint = fingerprint_of(&pub_of(sshd.host_key_path()));

    // The host is re-keyed: a new host key, same address and port.
    keygen(sshd.host_key_path(), "", "rekeyed");
    sshd.restart();
    let new_fingerprint = fingerprint_of(&pub_of(sshd.host_key_path()));
    let before = std::fs::read(&known_hosts).expect("read");

    for strict in ["yes", "accept-new", "no"] {
        let ctx = context_from_text(
            dir.path(),
            &config(dir.path(), &sshd, &known_hosts, strict),
            Arc::new(NeverAsk),
            None,
        );
        let (kind, text) = host_key_error(try_connect(&ctx, "target", None).await);
        assert!(
            matches!(kind, HostKeyErrorKind::Changed { .. }),
            "{strict}: {kind:?}"
        );
        assert!(text.contains("HAS CHANGED"), "{text}");
        assert!(
            text.contains(&new_fingerprint) && text.contains(&old_fingerprint),
            "{text}"
        );
        assert!(
            text.contains(&format!("{}:1", known_hosts.display())),
            "{text}"
        );
    }
    assert_eq!(
        std::fs::read(&known_hosts).expect("read"),
        before,
        "untouched"
    );
    assert!(
        !dir.path().join("own_known_hosts").exists(),
        "nothing recorded"
    );
}

#[tokio::test]
#[ignore = "needs root: runs sshd"]
async fn revoked_key_is_refused_even_when_also_trusted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sshd = server(dir.path(), SshdOptions::default());
    let known_hosts = dir.path().join("known_hosts");
    let key = sshd.host_public_key_line();
    std::fs::write(
        &known_hosts,
        format!("[127.0.0.1]:{} {key}\n@revoked * {key}\n", sshd.port()),
    )
    .expect("write");
    let ctx = context_from_text(
        dir.path(),
        &config(dir.path(), &sshd, &known_hosts, "accept-new"),
        Arc::new(NeverAsk),
        None,
    );
    let (kind, text) = host_key_error(try_connect(&ctx, "target", None).await);
    assert!(matches!(kind, HostKeyErrorKind::Revoked { .. }), "{kind:?}");
    assert!(
        text.contains(&format!("{}:2", known_hosts.display())),
        "{text}"
    );
    assert!(
        !openssh_accepts(dir.path(), &sshd, &known_hosts),
        "ssh agrees"
    );
}

#[tokio::test]
#[ignore = "needs root: runs sshd"]
async fn host_certificates_from_a_trusted_ca_are_accepted_and_expired_ones_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = make_ca(dir.path());
    let ca_line = public_key_line(&pub_of(&ca));
    for (validity, expect_ok) in [("-5m:+1h", true), ("20200101:20200102", false)] {
        let host_key = dir.path().join(format!("host_{expect_ok}"));
        keygen(&host_key, "", "certified-host");
        let cert = sign_host_key(&ca, &pub_of(&host_key), &["127.0.0.1"], validity);
        let sshd = server(
            dir.path(),
            SshdOptions {
                host_key: Some(host_key.clone()),
                host_certificate: Some(cert),
                ..SshdOptions::default()
            },
        );
        // Only the CA is on file: the plain host key is unknown.
        let known_hosts = dir.path().join(format!("known_hosts_{expect_ok}"));
        std::fs::write(
            &known_hosts,
            format!("@cert-authority [127.0.0.1]:{} {ca_line}\n", sshd.port()),
        )
        .expect("write");
        let ctx = context_from_text(
            dir.path(),
            &config(dir.path(), &sshd, &known_hosts, "yes"),
            Arc::new(NeverAsk),
            None,
        );
        let result = try_connect(&ctx, "target", None).await;
        if expect_ok {
            let session = result.expect("certificate from a trusted CA");
            assert!(
                matches!(session.accepted_by(), Acceptance::CertifiedBy(_)),
                "{:?}",
                session.accepted_by()
            );
        } else {
            let (kind, text) = host_key_error(result);
            assert!(
                matches!(kind, HostKeyErrorKind::Certificate { .. }),
                "{kind:?}"
            );
            assert!(text.contains("expired"), "{text}");
        }
        assert_eq!(
            openssh_accepts(dir.path(), &sshd, &known_hosts),
            expect_ok,
            "ssh agrees"
        );
    }
}

#[tokio::test]
#[ignore = "needs root: runs sshd"]
async fn an_inventory_pin_overrides_known_hosts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sshd = server(dir.path(), SshdOptions::default());
    let known_hosts = dir.path().join("known_hosts");
    let ctx = context_from_text(
        dir.path(),
        &config(dir.path(), &sshd, &known_hosts, "yes"),
        Arc::new(NeverAsk),
        None,
    );
    let right = fingerprint_of(&pub_of(sshd.host_key_path()));
    let session = try_connect(&ctx, "target", Some(&right))
        .await
        .expect("pinned key matches, though known_hosts is empty");
    assert_eq!(session.accepted_by(), &Acceptance::Pinned);

    let other = dir.path().join("other");
    keygen(&other, "", "other");
    let wrong = fingerprint_of(&pub_of(&other));
    let (kind, text) = host_key_error(try_connect(&ctx, "target", Some(&wrong)).await);
    assert!(
        matches!(kind, HostKeyErrorKind::PinMismatch { .. }),
        "{kind:?}"
    );
    assert!(text.contains(&wrong) && text.contains(&right), "{text}");
}
