//! The certificate probe against real TLS servers: certificates made by `openssl ca`
//! with chosen validity windows, served by `openssl s_server` on loopback, probed over
//! TCP, over an in-memory pipe bridged to the server, and after STARTTLS. The last
//! test probes the lab's endpoints (ignored without a lab).

mod common;

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use fleetdeck::docker::transport::BoxedIo;
use fleetdeck::probes::Severity;
use fleetdeck::probes::cert::{
    CertEndpoint, CertReport, StartTls, connect_and_probe, connect_and_probe_with_timeout, probe,
};
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const NAME: &str = "www.example.test";

// ---- a throwaway CA and the certificates it issues ----------------------------------

struct Pki {
    dir: tempfile::TempDir,
}

/// One issued certificate and its key, on disk.
struct Issued {
    cert: PathBuf,
    key: PathBuf,
}

fn openssl(args: &[&str], cwd: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("running openssl (is it installed?)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `YYYYMMDDHHMMSSZ`, the form `openssl ca -startdate/-enddate` takes.
fn asn1(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]Z");
    t.format(&fmt).expect("format")
}

/// Now, to the second: certificate times have no fractions, so windows chosen
/// relative to it are exact.
fn t0() -> OffsetDateTime {
    OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("zero is a valid nanosecond")
}

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::create_dir(d.join("issued")).expect("mkdir");
        std::fs::write(d.join("index.txt"), "").expect("index");
        std::fs::write(d.join("serial"), "1000\n").expect("serial");
        std::fs::write(
            d.join("ca.cnf"),
            format!(
                "[ ca ]\ndefault_ca = t\n[ t ]\ndir = {}\ndatabase = $dir/index.txt\n\
                 new_certs_dir = $dir/issued\nserial = $dir/serial\ncertificate = $dir/ca.pem\n\
                 private_key = $dir/ca.key\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\n\
                 unique_subject = no\nx509_extensions = x\n[ p ]\ncommonName = supplied\n\
                 [ x ]\nbasicConstraints = critical, CA:false\n\
                 keyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n",
                d.display()
            ),
        )
        .expect("ca.cnf");
        let mut args = vec!["req", "-x509", "-nodes"];
        args.extend(EC);
        args.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "3650",
            "-subj",
            "/CN=probe test CA",
            "-addext",
            "basicConstraints=critical,CA:true",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&args, d);
        Pki { dir }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server certificate for `names` (DNS names or IPs), valid from `start` to `end`.
    fn issue(
        &self,
        file: &str,
        names: &[&str],
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> Issued {
        self.issue_with_key(file, names, start, end, &EC)
    }

    fn issue_with_key(
        &self,
        file: &str,
        names: &[&str],
        start: OffsetDateTime,
        end: OffsetDateTime,
        key_args: &[&str],
    ) -> Issued {
        let d = self.dir.path();
        let (key, csr, cert) = (
            format!("{file}.key"),
            format!("{file}.csr"),
            format!("{file}.pem"),
        );
        let san: Vec<String> = names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(_) => format!("IP:{n}"),
                Err(_) => format!("DNS:{n}"),
            })
            .collect();
        let (subj, san) = (
            format!("/CN={}", names[0]),
            format!("subjectAltName={}", san.join(",")),
        );
        let mut args = vec!["req", "-new", "-nodes"];
        args.extend(key_args);
        args.extend([
            "-keyout", &key, "-out", &csr, "-subj", &subj, "-addext", &san,
        ]);
        openssl(&args, d);
        let (start, end) = (asn1(start), asn1(end));
        openssl(
            &[
                "ca",
                "-batch",
                "-notext",
                "-config",
                "ca.cnf",
                "-in",
                &csr,
                "-out",
                &cert,
                "-startdate",
                &start,
                "-enddate",
                &end,
            ],
            d,
        );
        Issued {
            cert: d.join(cert),
            key: d.join(key),
        }
    }

    /// A self-signed certificate as `openssl req -x509` makes it (CA:TRUE).
    fn self_signed(&self, file: &str, name: &str) -> Issued {
        let d = self.dir.path();
        let (key, cert) = (format!("{file}.key"), format!("{file}.pem"));
        let (subj, san) = (format!("/CN={name}"), format!("subjectAltName=DNS:{name}"));
        let mut args = vec!["req", "-x509", "-nodes"];
        args.extend(EC);
        args.extend([
            "-keyout", &key, "-out", &cert, "-days", "90", "-subj", &subj, "-addext", &san,
        ]);
        openssl(&args, d);
        Issued {
            cert: d.join(cert),
            key: d.join(key),
        }
    }
}

// ---- openssl s_server, killed on drop ------------------------------------------------

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(issued: &Issued, extra: &[&str]) -> Server {
        for _ in 0..5 {
            let port = free_port();
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let mut child = Command::new("openssl")
                .arg("s_server")
                .arg("-accept")
                .arg(addr.to_string())
                .arg("-cert")
                .arg(&issued.cert)
                .arg("-key")
                .arg(&issued.key)
                .args(["-www", "-quiet"])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting openssl s_server");
            let deadline = Instant::now() + StdDuration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // port taken meanwhile: try another
                }
                if StdStream::connect_timeout(&addr, StdDuration::from_millis(200)).is_ok() {
                    return Server { child, addr };
                }
                std::thread::sleep(StdDuration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("openssl s_server did not start");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding a loopback port")
        .port()
}

fn endpoint(addr: SocketAddr, ca: Option<PathBuf>) -> CertEndpoint {
    CertEndpoint {
        name: "https".into(),
        host: addr.ip().to_string(),
        port: addr.port(),
        server_name: Some(NAME.into()),
        ca_file: ca,
        via: Default::default(),
        starttls: None,
        warning_days: 21,
        critical_days: 7,
    }
}

/// Serves a certificate for NAME and 127.0.0.1 valid until `t0 + days`, and probes
/// it at `t0` against the test CA.
async fn probe_days_left(days: i64) -> CertReport {
    let pki = Pki::new();
    let t0 = t0();
    let cert = pki.issue(
        "leaf",
        &[NAME, "127.0.0.1"],
        t0 - Duration::days(30),
        t0 + Duration::days(days),
    );
    let server = Server::start(&cert, &[]);
    connect_and_probe(&endpoint(server.addr, Some(pki.ca())), t0).await
}

// ---- the probe against real servers --------------------------------------------------

#[tokio::test]
async fn a_valid_certificate_is_ok_with_its_fields() {
    let pki = Pki::new();
    let t0 = t0();
    let cert = pki.issue(
        "leaf",
        &[NAME, "127.0.0.1"],
        t0 - Duration::days(1),
        t0 + Duration::days(90),
    );
    let server = Server::start(&cert, &[]);
    let r = connect_and_probe(&endpoint(server.addr, Some(pki.ca())), t0).await;
    assert_eq!(r.severity, Severity::Ok, "{r:?}");
    assert_eq!(r.days_left, Some(90));
    assert_eq!(r.not_after, Some(t0 + Duration::days(90)));
    assert_eq!(r.issuer.as_deref(), Some("probe test CA"));
    assert_eq!(r.subject.as_deref(), Some(NAME));
    assert_eq!(r.names, [NAME, "127.0.0.1"]);
    assert!(r.chain_valid && r.name_matches, "{r:?}");
    assert_eq!((r.error.as_deref(), r.chain_error.as_deref()), (None, None));

    // The JSON fields `fleetdeck status --json` documents.
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["endpoint"], "https");
    assert_eq!(json["days_left"], 90);
    assert_eq!(json["severity"], "ok");
    let not_after = json["not_after"].as_str().expect("a string");
    assert!(not_after.ends_with('Z'), "{not_after}");
    let parsed = OffsetDateTime::parse(not_after, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339");
    assert_eq!(parsed, t0 + Duration::days(90));

    // No server_name: the IP host is matched against the IP SAN.
    let mut by_ip = endpoint(server.addr, Some(pki.ca()));
    by_ip.server_name = None;
    let r = connect_and_probe(&by_ip, t0).await;
    assert!(r.name_matches && r.severity == Severity::Ok, "{r:?}");
    assert_eq!(r.server_name, "127.0.0.1");
}

#[tokio::test]
async fn five_days_left_is_critical() {
    let r = probe_days_left(5).await;
    assert_eq!(
        (r.days_left, r.severity),
        (Some(5), Severity::Critical),
        "{r:?}"
    );
    assert!(r.chain_valid && r.name_matches);
    assert_eq!(
        r.error.as_deref(),
        Some("5d 0h left, under the critical threshold of 7 days"),
        "critical by its threshold alone: the error says why"
    );
}

#[tokio::test]
async fn fifteen_days_left_is_a_warning() {
    let r = probe_days_left(15).await;
    assert_eq!(
        (r.days_left, r.severity),
        (Some(15), Severity::Warning),
        "{r:?}"
    );
}

#[tokio::test]
async fn an_expired_certificate_is_critical_with_negative_days() {
    let pki = Pki::new();
    let t0 = t0();
    let expired_at = t0 - Duration::days(3);
    let cert = pki.issue("leaf", &[NAME], t0 - Duration::days(60), expired_at);
    let server = Server::start(&cert, &[]);
    let ep = endpoint(server.addr, Some(pki.ca()));
    // Exactly 3 days after notAfter: −3; one second later the floor makes it −4.
    let r = connect_and_probe(&ep, t0).await;
    assert_eq!(
        (r.days_left, r.severity),
        (Some(-3), Severity::Critical),
        "{r:?}"
    );
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.starts_with("expired ")),
        "{r:?}"
    );
    assert!(
        r.chain_valid,
        "an expired leaf is not reported as a broken chain"
    );
    let r = connect_and_probe(&ep, t0 + Duration::seconds(1)).await;
    assert_eq!(r.days_left, Some(-4));
}

#[tokio::test]
async fn a_certificate_for_another_name_is_critical() {
    let pki = Pki::new();
    let t0 = t0();
    let cert = pki.issue(
        "other",
        &["other.example.test"],
        t0 - Duration::days(1),
        t0 + Duration::days(90),
    );
    let server = Server::start(&cert, &[]);
    let r = connect_and_probe(&endpoint(server.addr, Some(pki.ca())), t0).await;
    assert!(!r.name_matches && r.chain_valid, "{r:?}");
    assert_eq!(r.severity, Severity::Critical);
    assert_eq!(
        r.error.as_deref(),
        Some("not valid for www.example.test: it covers other.example.test")
    );
}

#[tokio::test]
async fn a_private_ca_is_untrusted_by_the_system_roots() {
    let pki = Pki::new();
    let t0 = t0();
    let cert = pki.issue(
        "leaf",
        &[NAME],
        t0 - Duration::days(1),
        t0 + Duration::days(90),
    );
    let server = Server::start(&cert, &[]);
    let r = connect_and_probe(&endpoint(server.addr, None), t0).await;
    assert!(!r.chain_valid && r.name_matches, "{r:?}");
    assert_eq!(
        r.chain_error.as_deref(),
        Some("not issued by a trusted CA (unknown issuer)")
    );
    assert_eq!(r.severity, Severity::Critical);
    assert_eq!(
        r.days_left,
        Some(90),
        "what could be seen is still reported"
    );
}

#[tokio::test]
async fn a_self_signed_certificate_is_untrusted_unless_declared() {
    let pki = Pki::new();
    let cert = pki.self_signed("self", NAME);
    let server = Server::start(&cert, &[]);
    let t0 = t0();
    let r = connect_and_probe(&endpoint(server.addr, Some(pki.ca())), t0).await;
    assert_eq!(
        r.chain_error.as_deref(),
        Some("self-signed, not issued by a trusted CA")
    );
    assert_eq!(r.severity, Severity::Critical);
    // Declaring the certificate itself as the CA file pins it.
    let r = connect_and_probe(&endpoint(server.addr, Some(cert.cert.clone())), t0).await;
    assert!(r.chain_valid, "{r:?}");
    assert_eq!(r.severity, Severity::Ok);
}

#[tokio::test]
async fn an_unreadable_ca_file_is_unknown_not_critical() {
    let pki = Pki::new();
    let t0 = t0();
    let cert = pki.issue(
        "leaf",
        &[NAME],
        t0 - Duration::days(1),
        t0 + Duration::days(90),
    );
    let server = Server::start(&cert, &[]);
    let missing = pki.dir.path().join("missing.pem");
    let r = connect_and_probe(&endpoint(server.addr, Some(missing)), t0).await;
    assert_eq!(r.severity, Severity::Unknown, "{r:?}");
    assert!(
        r.chain_error
            .as_deref()
            .is_some_and(|e| e.starts_with("cannot verify: CA file ") && e.contains("missing.pem")),
        "{r:?}"
    );
    assert_eq!(r.days_left, Some(90));
}

#[tokio::test]
async fn nothing_listening_is_unknown_with_the_error() {
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let r = connect_and_probe(&endpoint(addr, None), t0()).await;
    assert_eq!(r.severity, Severity::Unknown);
    assert_eq!((r.not_after, r.days_left), (None, None));
    let error = r.error.unwrap_or_default();
    assert!(
        error.starts_with(&format!("connecting to 127.0.0.1:{port}: "))
            && error.contains("refused"),
        "{error}"
    );
}

#[tokio::test]
async fn a_server_that_never_speaks_tls_times_out_as_unknown() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hold = tokio::spawn(async move {
        let conn = listener.accept().await;
        tokio::time::sleep(StdDuration::from_secs(5)).await;
        drop(conn);
    });
    let started = Instant::now();
    let r =
        connect_and_probe_with_timeout(&endpoint(addr, None), t0(), StdDuration::from_millis(300))
            .await;
    assert!(started.elapsed() < StdDuration::from_secs(2));
    assert_eq!(r.severity, Severity::Unknown);
    assert_eq!(
        r.error.as_deref(),
        Some("TLS handshake: timed out after 300ms")
    );
    hold.abort();
}

#[tokio::test]
async fn tls_1_2_with_an_rsa_key_verifies_the_handshake_signature() {
    let pki = Pki::new();
    let t0 = t0();
    let cert = pki.issue_with_key(
        "rsa",
        &[NAME],
        t0 - Duration::days(1),
        t0 + Duration::days(90),
        &["-newkey", "rsa:2048"],
    );
    let server = Server::start(&cert, &["-tls1_2"]);
    let r = connect_and_probe(&endpoint(server.addr, Some(pki.ca())), t0).await;
    assert_eq!(r.severity, Severity::Ok, "{r:?}");
    assert_eq!(r.days_left, Some(90));
}

#[tokio::test]
async fn a_server_without_the_certificates_key_fails_the_handshake() {
    // Presents a's certificate but signs the handshake with b's key (openssl s_server
    // refuses such a pair, so a rustls server with a hand-made CertifiedKey does it):
    // accepting any chain must not mean skipping the handshake signature.
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use rustls::server::{ClientHello, ResolvesServerCert};
    use rustls::sign::CertifiedKey;
    use std::sync::Arc;

    #[derive(Debug)]
    struct Impostor(Arc<CertifiedKey>);
    impl ResolvesServerCert for Impostor {
        fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
            Some(self.0.clone())
        }
    }

    let pki = Pki::new();
    let t0 = t0();
    let a = pki.issue(
        "a",
        &[NAME],
        t0 - Duration::days(1),
        t0 + Duration::days(90),
    );
    let b = pki.issue(
        "b",
        &[NAME],
        t0 - Duration::days(1),
        t0 + Duration::days(90),
    );
    let chain = vec![CertificateDer::from_pem_file(&a.cert).expect("cert a")];
    let key = PrivateKeyDer::from_pem_file(&b.key).expect("key b");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signer = provider
        .key_provider
        .load_private_key(key)
        .expect("signing key");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Impostor(Arc::new(CertifiedKey::new(
            chain, signer,
        )))));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        if let Ok((tcp, _)) = listener.accept().await {
            let _ = acceptor.accept(tcp).await;
        }
    });
    let r = connect_and_probe(&endpoint(addr, Some(pki.ca())), t0).await;
    assert_eq!(r.severity, Severity::Unknown, "{r:?}");
    let error = r.error.unwrap_or_default();
    assert!(
        error.starts_with("TLS handshake: ") && error.contains("ignature"),
        "{error}"
    );
    assert_eq!(
        r.not_after, None,
        "nothing from an impostor is reported as measured"
    );
    server.abort();
}

#[tokio::test]
async fn any_byte_stream_works_an_in_memory_pipe_bridged_to_the_server() {
    let pki = Pki::new();
    let t0 = t0();
    let cert = pki.issue(
        "leaf",
        &[NAME],
        t0 - Duration::days(1),
        t0 + Duration::days(40),
    );
    let server = Server::start(&cert, &[]);
    let (near, mut far) = tokio::io::duplex(16 * 1024);
    let addr = server.addr;
    let bridge = tokio::spawn(async move {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        let _ = tokio::io::copy_bidirectional(&mut far, &mut tcp).await;
    });
    // The type an SSH direct-tcpip channel arrives as.
    let stream: BoxedIo = Box::new(near);
    let r = probe(&endpoint(addr, Some(pki.ca())), stream, t0).await;
    assert_eq!((r.days_left, r.severity), (Some(40), Severity::Ok), "{r:?}");
    let _ = tokio::time::timeout(StdDuration::from_secs(5), bridge).await;
}

// ---- STARTTLS: a plain-text front that hands the socket to s_server -------------------

/// Speaks the plain-text part of `kind` on each connection, then relays the raw bytes
/// to the TLS server: the probe sees one connection, STARTTLS then TLS.
async fn starttls_front(kind: StartTls, tls: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut conn = BufReader::new(conn);
                let mut line = String::new();
                let script: &[(&str, &str)] = match kind {
                    StartTls::Smtp => &[
                        ("", "220 mail.example.test ESMTP\r\n"),
                        (
                            "EHLO",
                            "250-mail.example.test\r\n250-SIZE 1000\r\n250 STARTTLS\r\n",
                        ),
                        ("STARTTLS", "220 2.0.0 Ready to start TLS\r\n"),
                    ],
                    StartTls::Imap => &[
                        ("", "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"),
                        ("a001 STARTTLS", "a001 OK Begin TLS negotiation now\r\n"),
                    ],
                };
                for (expect, reply) in script {
                    if !expect.is_empty() {
                        line.clear();
                        if conn.read_line(&mut line).await.unwrap_or(0) == 0
                            || !line.starts_with(expect)
                        {
                            return;
                        }
                    }
                    if conn.get_mut().write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
                let Ok(mut upstream) = TcpStream::connect(tls).await else {
                    return;
                };
                let mut conn = conn.into_inner();
                let _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn starttls_smtp_and_imap_then_a_real_handshake() {
    let pki = Pki::new();
    let t0 = t0();
    let cert = pki.issue(
        "leaf",
        &[NAME],
        t0 - Duration::days(1),
        t0 + Duration::days(10),
    );
    let server = Server::start(&cert, &[]);
    for kind in [StartTls::Smtp, StartTls::Imap] {
        let front = starttls_front(kind, server.addr).await;
        let mut ep = endpoint(front, Some(pki.ca()));
        ep.starttls = Some(kind);
        let r = connect_and_probe(&ep, t0).await;
        assert_eq!(
            (r.days_left, r.severity),
            (Some(10), Severity::Warning),
            "{kind:?}: {r:?}"
        );
        assert!(r.chain_valid && r.name_matches, "{kind:?}");

        // Without STARTTLS declared, the plain-text greeting fails the handshake.
        ep.starttls = None;
        let r = connect_and_probe_with_timeout(&ep, t0, StdDuration::from_secs(2)).await;
        assert_eq!(r.severity, Severity::Unknown, "{kind:?}: {r:?}");
        assert!(r.error.unwrap_or_default().starts_with("TLS handshake: "));
    }
}

// ---- the lab ---------------------------------------------------------------------------

/// Every lab endpoint, as the lab's inventory declares it, probed from the console;
/// and client-beta's again through its SSH session (OpenSSH `ssh -W`, a direct-tcpip
/// channel via the bastion), the path `via: host` endpoints take.
#[tokio::test]
#[ignore = "needs the lab"]
async fn the_labs_endpoints_have_the_severities_the_lab_chose() {
    let state = common::lab();
    let dir = state.plan.dir.clone();
    let inventory: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(dir.join("inventory.yml")).expect("inventory.yml"),
    )
    .expect("inventory yaml");
    let now = OffsetDateTime::now_utc();
    let age_days = (now - common::created_at(&state)).whole_days();
    for host in &state.plan.hosts {
        let group = host.groups.first().expect("a group");
        let declared = &inventory["all"]["children"][group.as_str()]["hosts"][host.name.as_str()]["fleetdeck_certificates"];
        let endpoints: Vec<CertEndpoint> =
            serde_yaml::from_value(declared.clone()).expect("endpoints match CertEndpoint");
        assert_eq!(endpoints.len(), 1, "{}", host.name);
        let r = connect_and_probe(&endpoints[0], now).await;
        let planned = host.cert.not_after_days;
        let days = r
            .days_left
            .unwrap_or_else(|| panic!("{}: {r:?}", host.name));
        assert!(
            (planned - age_days - 1..=planned - age_days).contains(&days),
            "{}: planned {planned} days at lab up, {age_days} days ago; got {days}",
            host.name
        );
        assert!(r.chain_valid && r.name_matches, "{}: {r:?}", host.name);
        let expected = if planned < 7 {
            Severity::Critical
        } else {
            Severity::Ok
        };
        assert_eq!(r.severity, expected, "{}: {r:?}", host.name);
        match host.name.as_str() {
            "client-alpha" => assert!((0..=5).contains(&days), "client-alpha: {days}"),
            "client-beta" => {
                assert!(days < 0 && r.error.as_deref().unwrap_or("").starts_with("expired"))
            }
            _ => assert!(days > 21, "{}: {days}", host.name),
        }
    }

    let beta = state
        .plan
        .hosts
        .iter()
        .find(|h| h.via_bastion)
        .expect("a host behind the bastion");
    let mut ssh = tokio::process::Command::new("ssh")
        .arg("-F")
        .arg(dir.join("ssh_config"))
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            dir.join("known_hosts").display()
        ))
        .arg("-W")
        .arg(format!("{}:443", beta.addr))
        .arg(&beta.name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("ssh -W");
    let stream = tokio::io::join(
        ssh.stdout.take().expect("stdout"),
        ssh.stdin.take().expect("stdin"),
    );
    let ep = CertEndpoint {
        name: "https-inside".into(),
        host: beta.addr.to_string(),
        port: 443,
        server_name: Some(beta.cert.server_name.clone()),
        ca_file: Some(dir.join("ca").join("ca.crt")),
        via: fleetdeck::probes::cert::CertVia::Host,
        starttls: None,
        warning_days: 21,
        critical_days: 7,
    };
    let r = probe(&ep, stream, now).await;
    assert_eq!(r.severity, Severity::Critical, "{r:?}");
    assert!(
        r.days_left.is_some_and(|d| d < 0) && r.chain_valid && r.name_matches,
        "{r:?}"
    );
    let _ = ssh.kill().await;
}
