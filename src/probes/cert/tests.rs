use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::ServerName;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::evaluate::evaluate;
use super::starttls::{MAX_LINE, starttls};
use super::trust::{Roots, anchors_from_pem};
use super::*;
use crate::probes::Severity;
use time::macros::datetime;

const CA: &[u8] = include_bytes!("../../../tests/fixtures/cert/ca.pem");
const LEAF: &[u8] = include_bytes!("../../../tests/fixtures/cert/leaf.pem");
const NOSAN: &[u8] = include_bytes!("../../../tests/fixtures/cert/nosan.pem");
const HOSTILE: &[u8] = include_bytes!("../../../tests/fixtures/cert/hostile.pem");
const SELF_SIGNED: &[u8] = include_bytes!("../../../tests/fixtures/cert/selfsigned.pem");

fn endpoint(server_name: &str) -> CertEndpoint {
    serde_yaml::from_str(&format!(
        "{{name: https, host: 192.0.2.1, server_name: '{server_name}'}}"
    ))
    .expect("endpoint yaml")
}

fn der(pem: &[u8]) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem).expect("fixture PEM")
}

fn ca_roots() -> Roots {
    anchors_from_pem(CA)
}

fn judge(pem: &[u8], server_name: &str, now: OffsetDateTime) -> CertReport {
    judge_with(&endpoint(server_name), pem, &ca_roots(), now)
}

fn judge_with(ep: &CertEndpoint, pem: &[u8], roots: &Roots, now: OffsetDateTime) -> CertReport {
    let name = ServerName::try_from(ep.effective_server_name().to_string()).expect("server name");
    evaluate(ep, &name, &[der(pem)], roots, now)
}

#[test]
fn a_valid_certificate_is_ok_with_its_fields() {
    let r = judge(LEAF, "www.example.test", datetime!(2027-02-01 00:00 UTC));
    assert_eq!(r.severity, Severity::Ok, "{r:?}");
    assert_eq!(r.days_left, Some(59));
    assert_eq!(r.not_after, Some(datetime!(2027-04-01 00:00 UTC)));
    assert_eq!(r.not_before, Some(datetime!(2027-01-01 00:00 UTC)));
    assert_eq!(r.issuer.as_deref(), Some("fleetdeck fixture CA"));
    assert_eq!(r.subject.as_deref(), Some("www.example.test"));
    assert_eq!(
        r.names,
        [
            "www.example.test",
            "*.apps.example.test",
            "127.0.0.1",
            "::1",
            "email:ops@example.test",
            "uri:https://example.test/"
        ]
    );
    assert!(r.chain_valid && r.name_matches);
    assert_eq!((r.chain_error, r.error), (None, None));
}

#[test]
fn days_left_is_the_floor_and_negative_exactly_once_expired() {
    let at = |now| judge(LEAF, "www.example.test", now);
    let cases = [
        (datetime!(2027-03-31 00:00:00 UTC), 1, Severity::Critical),
        (datetime!(2027-03-31 00:00:01 UTC), 0, Severity::Critical),
        // notAfter itself is still valid (RFC 5280: inclusive).
        (datetime!(2027-04-01 00:00:00 UTC), 0, Severity::Critical),
        (datetime!(2027-04-01 00:00:01 UTC), -1, Severity::Critical),
        (datetime!(2027-04-04 00:00:00 UTC), -3, Severity::Critical),
        (datetime!(2027-04-04 01:00:00 UTC), -4, Severity::Critical),
    ];
    for (now, days, severity) in cases {
        let r = at(now);
        assert_eq!(
            (r.days_left, r.severity),
            (Some(days), severity),
            "at {now}"
        );
        let expired = r
            .error
            .as_deref()
            .is_some_and(|e| e.contains("expired 2027-04-01T00:00:00Z"));
        assert_eq!(expired, days < 0, "at {now}: {:?}", r.error);
        // An expired leaf is not a broken chain: the chain is judged in its window.
        assert!(r.chain_valid, "at {now}: {:?}", r.chain_error);
    }
}

#[test]
fn thresholds_are_strictly_below_and_configurable() {
    let at = |now| judge(LEAF, "www.example.test", now);
    // 21 days left: ok; 20: warning; 7: warning; 6: critical.
    assert_eq!(
        at(datetime!(2027-03-11 00:00:00 UTC)).severity,
        Severity::Ok
    );
    assert_eq!(
        at(datetime!(2027-03-11 00:00:01 UTC)).severity,
        Severity::Warning
    );
    let seven = at(datetime!(2027-03-25 00:00:00 UTC));
    assert_eq!(
        (seven.days_left, seven.severity),
        (Some(7), Severity::Warning)
    );
    let six = at(datetime!(2027-03-25 00:00:01 UTC));
    // Critical by the threshold alone: the error says so.
    assert_eq!(
        (six.days_left, six.severity, six.error.as_deref()),
        (
            Some(6),
            Severity::Critical,
            Some("6d 23h left, under the critical threshold of 7 days")
        )
    );
    assert_eq!(seven.error, None, "a warning leaves it to days_left");

    let mut ep = endpoint("www.example.test");
    (ep.warning_days, ep.critical_days) = (60, 30);
    let r = judge_with(&ep, LEAF, &ca_roots(), datetime!(2027-02-01 00:00 UTC));
    assert_eq!((r.days_left, r.severity), (Some(59), Severity::Warning));
}

#[test]
fn day_counts_shown_round_to_the_nearest_day() {
    let at = |now| judge(LEAF, "www.example.test", now).lifetime();
    // notAfter is 2027-04-01T00:00:00Z.
    let cases = [
        // 89 days 23 hours: a 90-day certificate an hour after it was made.
        (
            datetime!(2027-01-01 01:00 UTC),
            Lifetime::Left(90),
            "90d left",
        ),
        (
            datetime!(2027-03-27 12:00 UTC),
            Lifetime::Left(5),
            "5d left",
        ),
        (
            datetime!(2027-03-27 12:00:01 UTC),
            Lifetime::Left(4),
            "4d left",
        ),
        (
            datetime!(2027-03-31 18:00 UTC),
            Lifetime::Left(0),
            "0d left",
        ),
        (
            datetime!(2027-04-01 05:00 UTC),
            Lifetime::Expired(0),
            "expired today",
        ),
        // Expired 3 days 17 minutes ago.
        (
            datetime!(2027-04-04 00:17 UTC),
            Lifetime::Expired(3),
            "expired 3d ago",
        ),
        (
            datetime!(2027-04-04 12:00 UTC),
            Lifetime::Expired(4),
            "expired 4d ago",
        ),
    ];
    for (now, lifetime, text) in cases {
        assert_eq!(at(now), Some(lifetime), "at {now}");
        assert_eq!(lifetime.text(), text, "at {now}");
    }
    assert_eq!(Lifetime::Expired(3).short(), "expired 3d");
    assert_eq!(Lifetime::Left(90).short(), "90d");
    assert_eq!(Lifetime::Expired(3).signed(), "-3");
    // days_left, which the thresholds judge, stays rounded down.
    let r = judge(LEAF, "www.example.test", datetime!(2027-04-04 00:17 UTC));
    assert_eq!(r.days_left, Some(-4));
}

#[test]
fn not_yet_valid_is_critical() {
    let r = judge(LEAF, "www.example.test", datetime!(2026-12-31 00:00 UTC));
    assert_eq!(r.severity, Severity::Critical);
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("not valid before 2027-01-01")),
        "{r:?}"
    );
}

#[test]
fn names_match_dns_wildcards_and_ip_sans_only() {
    let now = datetime!(2027-02-01 00:00 UTC);
    for name in [
        "www.example.test",
        "api.apps.example.test",
        "127.0.0.1",
        "::1",
    ] {
        let r = judge(LEAF, name, now);
        assert!(r.name_matches, "{name}: {r:?}");
        assert_eq!(r.severity, Severity::Ok, "{name}");
    }
    for name in ["example.test", "a.b.apps.example.test", "127.0.0.2", "::2"] {
        let r = judge(LEAF, name, now);
        assert!(!r.name_matches, "{name}");
        assert!(
            r.chain_valid,
            "{name}: the chain is fine, only the name is wrong"
        );
        assert_eq!(r.severity, Severity::Critical, "{name}");
        let error = r.error.unwrap_or_default();
        assert!(
            error.starts_with(&format!("not valid for {name}: it covers www.example.test")),
            "{error}"
        );
    }
    // Host is an IP and no server_name: the IP is matched against IP SANs.
    let ep: CertEndpoint = serde_yaml::from_str("{name: https, host: 127.0.0.1}").expect("yaml");
    assert!(judge_with(&ep, LEAF, &ca_roots(), now).name_matches);
}

#[test]
fn a_name_only_in_the_common_name_does_not_match() {
    let r = judge(NOSAN, "www.example.test", datetime!(2027-02-01 00:00 UTC));
    assert!(!r.name_matches && r.chain_valid);
    assert_eq!(r.severity, Severity::Critical);
    assert!(
        r.error
            .unwrap_or_default()
            .contains("it has no subject alternative names")
    );
}

#[test]
fn an_unknown_issuer_is_an_invalid_chain() {
    let r = judge(
        SELF_SIGNED,
        "www.example.test",
        datetime!(2027-02-01 00:00 UTC),
    );
    assert!(!r.chain_valid && r.name_matches);
    assert_eq!(r.severity, Severity::Critical);
    assert_eq!(
        r.chain_error.as_deref(),
        Some("self-signed, not issued by a trusted CA")
    );
    assert!(r.error.unwrap_or_default().contains("untrusted chain"));
    // Issued by a CA that is not trusted: the leaf of another CA.
    let other_ca = anchors_from_pem(SELF_SIGNED);
    let ep = endpoint("www.example.test");
    let r = judge_with(&ep, LEAF, &other_ca, datetime!(2027-02-01 00:00 UTC));
    assert_eq!(
        r.chain_error.as_deref(),
        Some("not issued by a trusted CA (unknown issuer)")
    );
    assert_eq!(r.severity, Severity::Critical);
}

#[test]
fn a_self_signed_certificate_declared_as_ca_file_is_trusted() {
    let pinned = anchors_from_pem(SELF_SIGNED);
    let ep = endpoint("www.example.test");
    let r = judge_with(&ep, SELF_SIGNED, &pinned, datetime!(2027-02-01 00:00 UTC));
    assert!(r.chain_valid, "{r:?}");
    assert_eq!(r.severity, Severity::Ok);
}

#[test]
fn without_roots_the_chain_is_unknown_not_critical() {
    let roots: Roots = Err("CA file /nope: No such file".into());
    let ep = endpoint("www.example.test");
    let r = judge_with(&ep, LEAF, &roots, datetime!(2027-02-01 00:00 UTC));
    assert_eq!(r.severity, Severity::Unknown);
    assert!(!r.chain_valid);
    assert_eq!(
        r.chain_error.as_deref(),
        Some("cannot verify: CA file /nope: No such file")
    );
    // …but what is known to be bad still wins.
    let r = judge_with(&ep, LEAF, &roots, datetime!(2027-05-01 00:00 UTC));
    assert_eq!(r.severity, Severity::Critical);
}

#[test]
fn text_from_the_certificate_cannot_drive_the_terminal() {
    let r = judge(HOSTILE, "www.example.test", datetime!(2027-02-01 00:00 UTC));
    let subject = r.subject.unwrap_or_default();
    assert!(
        !subject.contains('\u{1b}') && !subject.contains('\u{7}') && !subject.contains('\u{202e}')
    );
    assert_eq!(subject, "evilname\\u{202e}txt");
}

#[test]
fn hostile_der_never_panics_and_is_never_ok() {
    let good = der(LEAF).as_ref().to_vec();
    let ep = endpoint("www.example.test");
    let name = ServerName::try_from("www.example.test").expect("name");
    let roots = ca_roots();
    let now = datetime!(2027-02-01 00:00 UTC);
    let mut inputs: Vec<Vec<u8>> = (0..good.len()).map(|n| good[..n].to_vec()).collect();
    for i in 0..good.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[i] ^= flip;
            inputs.push(bad);
        }
    }
    inputs.push(b"\x30\x84\xff\xff\xff\xff".to_vec());
    for (i, input) in inputs.into_iter().enumerate() {
        let r = evaluate(&ep, &name, &[CertificateDer::from(input)], &roots, now);
        assert_ne!(r.severity, Severity::Ok, "mutation {i} judged ok");
    }
    let empty = evaluate(&ep, &name, &[], &roots, now);
    assert_eq!(empty.severity, Severity::Unknown);
}

#[test]
fn ca_files_must_hold_certificates() {
    assert!(anchors_from_pem(b"").is_err_and(|e| e == "no certificate in it"));
    assert!(
        anchors_from_pem(b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
            .is_err()
    );
    assert_eq!(ca_roots().map(|t| t.anchors.len()), Ok(1));
}

#[test]
fn json_has_the_documented_fields() {
    let r = judge(LEAF, "www.example.test", datetime!(2027-03-30 12:00 +02:00));
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["endpoint"], "https");
    assert_eq!(json["not_after"], "2027-04-01T00:00:00Z");
    assert_eq!(json["checked_at"], "2027-03-30T10:00:00Z");
    assert_eq!(json["days_left"], 1);
    assert_eq!(json["severity"], "critical");
    assert_eq!(json["chain_valid"], true);
    assert_eq!(
        json["error"],
        "1d 14h left, under the critical threshold of 7 days"
    );
    let unreachable = CertReport::unreachable(
        &endpoint("x.test"),
        datetime!(2027-01-01 0:00 UTC),
        "refused",
    );
    let json = serde_json::to_value(&unreachable).expect("json");
    assert_eq!(
        (json["not_after"].is_null(), json["days_left"].is_null()),
        (true, true)
    );
    assert_eq!(
        (&json["severity"], &json["error"]),
        (&"unknown".into(), &"refused".into())
    );
}

// ---- STARTTLS, against a scripted server on an in-memory pipe ----

/// Runs `starttls` against a server that answers each client line with the next
/// scripted reply (the first reply is sent unprompted); returns the result and
/// what the client sent.
async fn scripted(kind: StartTls, replies: &[&str]) -> (Result<(), String>, String) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let replies: Vec<String> = replies.iter().map(|r| r.to_string()).collect();
    let server = tokio::spawn(async move {
        let mut server = BufReader::new(server);
        let mut heard = String::new();
        for (i, reply) in replies.iter().enumerate() {
            if i > 0 {
                let mut line = String::new();
                if server.read_line(&mut line).await.unwrap_or(0) == 0 {
                    break;
                }
                heard.push_str(&line);
            }
            if server.get_mut().write_all(reply.as_bytes()).await.is_err() {
                break;
            }
        }
        heard
    });
    let result = tokio::time::timeout(Duration::from_secs(5), starttls(kind, client))
        .await
        .expect("starttls hung")
        .map(|_| ());
    let heard = server.await.expect("server task");
    (result, heard)
}

#[tokio::test]
async fn smtp_starttls_speaks_rfc_3207() {
    let (result, heard) = scripted(
        StartTls::Smtp,
        &[
            "220-mail.example.test ESMTP\r\n220 welcome\r\n",
            "250-mail.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
            "220 2.0.0 Ready to start TLS\r\n",
        ],
    )
    .await;
    assert_eq!(result, Ok(()));
    assert_eq!(heard, "EHLO fleetdeck.invalid\r\nSTARTTLS\r\n");
}

#[tokio::test]
async fn smtp_starttls_refusals_say_why() {
    let (result, _) = scripted(
        StartTls::Smtp,
        &[
            "220 hi\r\n",
            "250-mail\r\n250 PIPELINING\r\n",
            "454 4.7.0 TLS not available\r\n",
        ],
    )
    .await;
    assert_eq!(
        result,
        Err("STARTTLS refused: 454 4.7.0 TLS not available (not advertised in EHLO)".into())
    );
    let (result, _) = scripted(StartTls::Smtp, &["554 go away\r\n"]).await;
    assert_eq!(result, Err("unexpected greeting: 554 go away".into()));
    let (result, _) = scripted(StartTls::Smtp, &["SSH-2.0-OpenSSH_9.2\r\n"]).await;
    assert!(result.is_err_and(|e| e.starts_with("not an SMTP reply")));
    // Remote text is sanitized before it reaches a message.
    let (result, _) = scripted(StartTls::Smtp, &["554 \u{1b}]0;owned\u{7}bye\r\n"]).await;
    assert_eq!(result, Err("unexpected greeting: 554 bye".into()));
}

#[tokio::test]
async fn data_pipelined_after_starttls_is_refused() {
    let (result, _) = scripted(
        StartTls::Smtp,
        &[
            "220 hi\r\n",
            "250 STARTTLS\r\n",
            "220 go ahead\r\n250 injected\r\n",
        ],
    )
    .await;
    assert!(result.is_err_and(|e| e.contains("sent data right after accepting STARTTLS")));
}

#[tokio::test]
async fn imap_starttls_speaks_rfc_3501() {
    let (result, heard) = scripted(
        StartTls::Imap,
        &[
            "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n",
            "* CAPABILITY IMAP4rev1\r\na001 OK Begin TLS\r\n",
        ],
    )
    .await;
    assert_eq!(result, Ok(()));
    assert_eq!(heard, "a001 STARTTLS\r\n");
    let (result, _) = scripted(StartTls::Imap, &["* OK ready\r\n", "a001 NO not now\r\n"]).await;
    assert_eq!(result, Err("STARTTLS refused: a001 NO not now".into()));
    let (result, _) = scripted(StartTls::Imap, &["* PREAUTH logged in\r\n"]).await;
    assert!(result.is_err_and(|e| e.contains("pre-authenticated")));
}

#[tokio::test]
async fn endless_lines_and_closed_connections_end_the_exchange() {
    let long = "2".repeat(MAX_LINE * 3);
    let (result, _) = scripted(StartTls::Smtp, &[&long]).await;
    assert_eq!(result, Err(format!("a line longer than {MAX_LINE} bytes")));
    let (result, _) = scripted(StartTls::Imap, &[]).await;
    assert_eq!(result, Err("the server closed the connection".into()));
}

#[tokio::test]
async fn a_silent_server_times_out_as_unknown() {
    let (client, _server) = tokio::io::duplex(1024);
    let mut ep = endpoint("www.example.test");
    let now = datetime!(2027-02-01 00:00 UTC);
    let r = probe_with_timeout(&ep, client, now, Duration::from_millis(200)).await;
    assert_eq!(r.severity, Severity::Unknown);
    assert_eq!(
        r.error.as_deref(),
        Some("TLS handshake: timed out after 200ms")
    );

    ep.starttls = Some(StartTls::Imap);
    let (client, _server) = tokio::io::duplex(1024);
    let r = probe_with_timeout(&ep, client, now, Duration::from_millis(200)).await;
    assert_eq!(
        r.error.as_deref(),
        Some("STARTTLS (imap): timed out after 200ms")
    );
}

#[tokio::test]
async fn a_non_tls_peer_is_unknown_with_the_error() {
    let (client, mut server) = tokio::io::duplex(4096);
    tokio::spawn(async move {
        let _ = server.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        let _ = server.shutdown().await;
    });
    let r = probe(
        &endpoint("www.example.test"),
        client,
        datetime!(2027-02-01 00:00 UTC),
    )
    .await;
    assert_eq!(r.severity, Severity::Unknown);
    assert!(r.error.unwrap_or_default().starts_with("TLS handshake: "));
}

#[test]
fn an_invalid_server_name_is_reported() {
    let ep = endpoint("not a name");
    let r = futures_util::FutureExt::now_or_never(probe(
        &ep,
        tokio::io::empty(),
        datetime!(2027-01-01 0:00 UTC),
    ));
    let r = r.expect("returns without I/O");
    assert_eq!(r.severity, Severity::Unknown);
    assert_eq!(
        r.error.as_deref(),
        Some("\"not a name\" is not a valid DNS name or IP address")
    );
}
