use super::iptables::split_words;
use super::*;

macro_rules! fixture {
    ($name:literal) => {{
        let exit: &str = include_str!(concat!(
            "../../../tests/fixtures/probes/firewall/",
            $name,
            ".exit"
        ));
        (
            Some(exit.trim().parse::<u32>().expect("fixture exit status")),
            &include_bytes!(concat!(
                "../../../tests/fixtures/probes/firewall/",
                $name,
                ".stdout"
            ))[..],
            &include_bytes!(concat!(
                "../../../tests/fixtures/probes/firewall/",
                $name,
                ".stderr"
            ))[..],
        )
    }};
}

fn observe(f: (Option<u32>, &[u8], &[u8])) -> ObservedPolicy {
    parse_detection(f.0, f.1, f.2).expect("detection parses")
}

fn declared(input_policy: Verdict, allow: &[(u16, Protocol, &[&str])]) -> DeclaredPolicy {
    DeclaredPolicy {
        backend: FirewallBackend::Auto,
        input_policy,
        allow: allow
            .iter()
            .map(|(port, proto, from)| AllowRule {
                port: *port,
                proto: *proto,
                from: from.iter().map(|s| s.to_string()).collect(),
            })
            .collect(),
    }
}

fn open(port: u16, end: Option<u16>, proto: Protocol, sources: &[&str]) -> OpenPort {
    OpenPort {
        port,
        port_end: end,
        proto,
        sources: sources.iter().map(|s| s.to_string()).collect(),
        interface: None,
    }
}

fn lab_declared() -> DeclaredPolicy {
    declared(
        Verdict::Drop,
        &[
            (22, Protocol::Tcp, &["10.89.0.1"]),
            (80, Protocol::Tcp, &[]),
            (443, Protocol::Tcp, &[]),
        ],
    )
}

use Protocol::{Tcp, Udp};

#[test]
fn detect_script_fixture_is_the_command() {
    assert_eq!(
        include_str!("../../../tests/fixtures/probes/firewall/detect.sh"),
        DETECT_COMMAND,
        "generate-firewall.sh must run the command fleetdeck runs"
    );
}

#[test]
fn lab_ruleset_drift_is_exactly_the_extra_port() {
    let f = fixture!("nft_lab");
    let report = report(&lab_declared(), f.0, f.1, f.2);
    assert_eq!(report.backend, Some(ObservedBackend::Nftables));
    assert_eq!(report.drift.len(), 1, "{:#?}", report.drift);
    let d = &report.drift[0];
    assert_eq!(
        (d.kind, d.severity, d.port, d.proto),
        (
            DriftKind::ExtraPort,
            Severity::Critical,
            Some(5432),
            Some(Tcp)
        )
    );
    assert_eq!(d.message, "5432/tcp is open from anywhere but not declared");
    assert_eq!(report.severity, Severity::Critical);
    assert!(report.unknown.is_empty());

    // The JSON the status command shows.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["backend"], "nftables");
    assert_eq!(json["severity"], "critical");
    assert_eq!(json["drift"][0]["kind"], "extra_port");
    assert_eq!(json["drift"][0]["port"], 5432);
    assert_eq!(json["observed"]["input_policy"], "drop");

    // The same ruleset with the port declared: nothing to report.
    let mut with_5432 = lab_declared();
    with_5432.allow.push(AllowRule {
        port: 5432,
        proto: Tcp,
        from: vec![],
    });
    let report = super::report(&with_5432, f.0, f.1, f.2);
    assert_eq!(
        (report.severity, report.drift.len()),
        (Severity::Ok, 0),
        "{report:#?}"
    );
}

#[test]
fn nft_sets_ranges_jumps_and_closing_reject() {
    let observed = observe(fixture!("nft_complex"));
    assert_eq!(observed.backend, ObservedBackend::Nftables);
    // Policy accept, but the last rule rejects everything left.
    assert_eq!(observed.input_policy, Verdict::Reject);
    assert_eq!(
        observed.open,
        vec![
            // From the named set via `jump mgmt_in`, and the ip6 rule.
            open(
                22,
                None,
                Tcp,
                &["10.0.0.0/24", "192.0.2.7", "2001:db8::/32"]
            ),
            // `th dport 53`: both protocols.
            open(53, None, Tcp, &[]),
            open(53, None, Udp, &[]),
            // `tcp dport @web`.
            open(80, None, Tcp, &[]),
            open(443, None, Tcp, &[]),
            OpenPort {
                interface: Some("wg0".into()),
                ..open(8080, None, Tcp, &[])
            },
            open(9100, None, Tcp, &["10.0.0.0/24", "192.0.2.7"]),
            open(60000, Some(61000), Udp, &[]),
        ],
        "23 is dropped before it is accepted; ct, lo and icmp rules open no port"
    );
    // The verdict map and the tcp-flags match are shown, not dropped.
    assert_eq!(observed.unknown.len(), 2, "{:#?}", observed.unknown);
    assert!(observed.unknown[0].starts_with("verdict map: nft inet filter chain input"));
    assert!(observed.unknown[1].contains("8443"));
    let report = compare(
        &declared(Verdict::Drop, &[(80, Tcp, &[]), (443, Tcp, &[])]),
        observed,
    );
    assert_eq!(report.severity, Severity::Critical);
    assert!(
        report
            .drift
            .iter()
            .any(|d| d.message == "60000-61000/udp is open from anywhere, none of it declared"),
        "{:#?}",
        report.drift
    );
    assert!(
        report
            .drift
            .iter()
            .any(|d| d.kind == DriftKind::DefaultPolicy && d.severity == Severity::Warning)
    );
}

#[test]
fn iptables_is_read_from_iptables_save_not_from_nft_xt_expressions() {
    let observed = observe(fixture!("iptables"));
    assert_eq!(observed.backend, ObservedBackend::Iptables);
    assert_eq!(observed.input_policy, Verdict::Drop);
    assert_eq!(
        observed.open,
        vec![
            open(22, None, Tcp, &["10.0.0.1/32", "2001:db8::/32"]),
            open(80, None, Tcp, &[]),
            open(443, None, Tcp, &[]),
            open(8080, None, Tcp, &["192.168.0.0/16"]),
            open(60000, Some(61000), Udp, &[]),
        ]
    );
    assert_eq!(
        observed.unknown,
        vec![
            "IPv4: -A INPUT -p tcp -m tcp --dport 5432 -m recent --rcheck --name y --mask \
                 255.255.255.255 --rsource -j ACCEPT (not understood: -m recent --rcheck --name y \
                 --mask 255.255.255.255 --rsource)"
        ]
    );
    let report = compare(
        &declared(
            Verdict::Drop,
            &[
                (22, Tcp, &["10.0.0.1", "2001:db8::/32"]),
                (80, Tcp, &[]),
                (443, Tcp, &[]),
                (8080, Tcp, &["192.168.0.0/16"]),
                (60000, Udp, &[]),
            ],
        ),
        observed,
    );
    assert_eq!(
        report.severity,
        Severity::Critical,
        "the udp range is wider than port 60000"
    );
    assert_eq!(report.drift.len(), 1, "{:#?}", report.drift);
}

#[test]
fn ipv6_left_open_is_a_default_accept() {
    let report = report(
        &declared(Verdict::Drop, &[(22, Tcp, &[])]),
        fixture!("iptables_v6_open").0,
        fixture!("iptables_v6_open").1,
        fixture!("iptables_v6_open").2,
    );
    assert_eq!(report.severity, Severity::Critical);
    assert_eq!(report.drift[0].kind, DriftKind::DefaultPolicy);
    assert_eq!(
        report.drift[0].message,
        "incoming traffic is accepted by default (iptables); declared drop"
    );
    assert!(
        report
            .observed
            .unwrap()
            .notes
            .contains(&"IPv6 INPUT: accept".to_owned())
    );
}

#[test]
fn ufw_when_active_is_read_from_its_own_status() {
    let observed = observe(fixture!("ufw"));
    assert_eq!(observed.backend, ObservedBackend::Ufw);
    assert_eq!(observed.input_policy, Verdict::Drop);
    assert_eq!(
        observed.open,
        vec![
            // 10.0.0.1 and then the OpenSSH profile from anywhere.
            open(22, None, Tcp, &[]),
            open(80, None, Tcp, &[]),
            open(443, None, Tcp, &[]),
            // LIMIT still lets connections in.
            open(2222, None, Tcp, &[]),
            // No protocol given: both.
            open(8080, None, Tcp, &["192.168.0.0/16"]),
            open(8080, None, Udp, &["192.168.0.0/16"]),
            OpenPort {
                interface: Some("eth0".into()),
                ..open(9000, None, Tcp, &[])
            },
            open(60000, Some(61000), Udp, &[]),
        ],
        "DENY 23, REJECT 25 and ALLOW OUT 53 open nothing"
    );
    assert!(observed.unknown.is_empty(), "{:?}", observed.unknown);
    let report = compare(
        &declared(
            Verdict::Drop,
            &[(22, Tcp, &["10.0.0.1"]), (80, Tcp, &[]), (443, Tcp, &[])],
        ),
        observed,
    );
    let kinds: Vec<(DriftKind, Option<u16>, Severity)> = report
        .drift
        .iter()
        .map(|d| (d.kind, d.port, d.severity))
        .collect();
    assert!(
        kinds.contains(&(DriftKind::WiderSource, Some(22), Severity::Critical)),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(DriftKind::ExtraPort, Some(9000), Severity::Warning)),
        "interface-only: {kinds:?}"
    );
    assert!(kinds.contains(&(DriftKind::ExtraPort, Some(2222), Severity::Critical)));
}

#[test]
fn no_firewall_at_all_is_everything_open() {
    let f = fixture!("none");
    let report = report(&lab_declared(), f.0, f.1, f.2);
    assert_eq!(report.backend, Some(ObservedBackend::None));
    assert_eq!(report.severity, Severity::Critical);
    assert_eq!(
        report.drift.len(),
        1,
        "no missing-rule noise when everything is open: {:#?}",
        report.drift
    );
    assert_eq!(
        report.drift[0].message,
        "incoming traffic is accepted by default (no firewall); declared drop"
    );
    assert_eq!(serde_json::to_value(&report).unwrap()["backend"], "none");
}

#[test]
fn unreadable_firewall_is_unknown_not_absent() {
    let f = fixture!("not_root");
    let report = report(&lab_declared(), f.0, f.1, f.2);
    assert_eq!(report.severity, Severity::Unknown);
    assert_eq!(report.backend, None);
    let error = report.error.unwrap();
    assert!(
        error.starts_with("no firewall tool could be read: "),
        "{error}"
    );
    assert!(error.contains("sudo"), "{error}");
}

#[test]
fn drift_kinds_and_severities() {
    let observed = |policy, open: Vec<OpenPort>| ObservedPolicy {
        backend: ObservedBackend::Nftables,
        input_policy: policy,
        open,
        unknown: vec![],
        notes: vec![],
    };
    let decl = declared(Verdict::Drop, &[(22, Tcp, &["10.0.0.1"]), (443, Tcp, &[])]);
    // Wider: a /16 where one address was declared.
    let d = drift(
        &decl,
        &observed(
            Verdict::Drop,
            vec![
                open(22, None, Tcp, &["10.0.0.0/16"]),
                open(443, None, Tcp, &[]),
            ],
        ),
    );
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(
        (d[0].kind, d[0].severity),
        (DriftKind::WiderSource, Severity::Critical)
    );
    assert_eq!(
        d[0].message,
        "22/tcp is open from 10.0.0.0/16; declared only from 10.0.0.1"
    );
    // Narrower and within: 10.0.0.1/32 is the declared address.
    let d = drift(
        &decl,
        &observed(
            Verdict::Drop,
            vec![
                open(22, None, Tcp, &["10.0.0.1/32"]),
                open(443, None, Tcp, &[]),
            ],
        ),
    );
    assert!(d.is_empty(), "{d:#?}");
    // Missing rule and narrower source: warnings.
    let d = drift(
        &decl,
        &observed(Verdict::Drop, vec![open(443, None, Tcp, &["192.0.2.0/24"])]),
    );
    let got: Vec<_> = d.iter().map(|d| (d.kind, d.severity, d.port)).collect();
    assert_eq!(
        got,
        vec![
            (DriftKind::MissingRule, Severity::Warning, Some(22)),
            (DriftKind::NarrowerSource, Severity::Warning, Some(443))
        ]
    );
    // Backend and drop-vs-reject: warnings; accept: critical.
    let mut ufw_declared = decl.clone();
    ufw_declared.backend = FirewallBackend::Ufw;
    let d = drift(
        &ufw_declared,
        &observed(
            Verdict::Reject,
            vec![
                open(22, None, Tcp, &["10.0.0.1"]),
                open(443, None, Tcp, &[]),
            ],
        ),
    );
    let got: Vec<_> = d.iter().map(|d| (d.kind, d.severity)).collect();
    assert_eq!(
        got,
        vec![
            (DriftKind::BackendMismatch, Severity::Warning),
            (DriftKind::DefaultPolicy, Severity::Warning)
        ]
    );
    assert_eq!(d[0].message, "declared backend ufw, found nftables");
    // Unknown constructs make the report at least unknown, even without drift.
    let mut o = observed(
        Verdict::Drop,
        vec![
            open(22, None, Tcp, &["10.0.0.1"]),
            open(443, None, Tcp, &[]),
        ],
    );
    o.unknown.push("something".into());
    assert_eq!(compare(&decl, o).severity, Severity::Unknown);
}

#[test]
fn networks_contain_addresses_by_prefix() {
    assert!(network_contains("10.0.0.0/8", "10.1.2.3"));
    assert!(network_contains("10.0.0.0/8", "10.1.0.0/16"));
    assert!(!network_contains("10.1.0.0/16", "10.0.0.0/8"));
    assert!(network_contains("10.0.0.1", "10.0.0.1/32"));
    assert!(!network_contains("10.0.0.1", "10.0.0.0/24"));
    assert!(network_contains("2001:db8::/32", "2001:db8:1::5"));
    assert!(!network_contains("2001:db8::/32", "10.0.0.1"));
    assert!(network_contains("0.0.0.0/0", "192.0.2.1"));
    assert!(!network_contains("10.0.0.0/99", "10.0.0.1"));
    assert!(!network_contains("garbage", "10.0.0.1"));
}

#[test]
fn iptables_words_keep_quoted_comments_whole() {
    assert_eq!(
        split_words(r#"-A INPUT -m comment --comment "ssh from the \"mgmt\" host" -j ACCEPT"#),
        vec![
            "-A",
            "INPUT",
            "-m",
            "comment",
            "--comment",
            r#"ssh from the "mgmt" host"#,
            "-j",
            "ACCEPT"
        ]
    );
}

#[test]
fn iptables_words_follow_iptables_not_posix_sh() {
    // What iptables-save prints for a comment `it's` and an interface named `a'b`.
    assert_eq!(
        split_words(r#"-A INPUT -i a'b -p tcp -m comment --comment "it\'s" -j ACCEPT"#),
        vec![
            "-A",
            "INPUT",
            "-i",
            "a'b",
            "-p",
            "tcp",
            "-m",
            "comment",
            "--comment",
            "it's",
            "-j",
            "ACCEPT"
        ]
    );
    assert_eq!(split_words(r#"a\b "open"#), vec![r"a\b", "open"]);
}

#[test]
fn hostile_detection_output_fails_cleanly() {
    let lab = fixture!("nft_lab");
    let text = std::str::from_utf8(lab.1).unwrap();
    let cut = &text[..text.len() - 10];
    let err = parse_detection(Some(0), cut.as_bytes(), b"").unwrap_err();
    assert!(err.contains("cut short"), "{err}");
    // JSON cut inside the nft section, markers intact.
    let json_at = text.find("{\"nftables\"").unwrap();
    let broken = format!(
        "{}{}",
        &text[..json_at + 200],
        &text[text.find("\n\n@@exit").unwrap()..]
    );
    // An unreadable nft is not an absent one: with nothing else filtering, the
    // detection fails rather than reporting "no firewall".
    let err = parse_detection(Some(0), broken.as_bytes(), b"").unwrap_err();
    assert!(err.contains("nft's JSON could not be read"), "{err}");
    for garbage in [
        &b""[..],
        b"\xff\xfe\x00",
        b"@@end",
        b"@@fleetdeck-firewall 1\n@@section nft\n{\"nftables\": 5}\n@@exit 0\n@@end\n",
    ] {
        let r = report(&lab_declared(), Some(0), garbage, b"");
        assert_ne!(r.severity, Severity::Ok, "{garbage:?}");
    }
    // Huge numbers, a jump loop, deep nesting: no panic, nothing invented.
    let hostile = r#"{"nftables": [
            {"chain": {"family": "inet", "table": "t", "name": "input", "type": "filter", "hook": "input", "prio": 99999999999999999999, "policy": "drop"}},
            {"chain": {"family": "inet", "table": "t", "name": "a"}},
            {"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 99999999}}, {"accept": null}]}},
            {"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"range": [500, 20]}}}, {"accept": null}]}},
            {"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"jump": {"target": "a"}}]}},
            {"rule": {"family": "inet", "table": "t", "chain": "a", "expr": [{"jump": {"target": "input"}}]}},
            {"rule": {"family": "inet", "table": "t", "chain": "input", "expr": "nonsense"}},
            {"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [[[[[[[[[[]]]]]]]]]]}}
        ]}"#;
    let framed = format!(
        "@@fleetdeck-firewall 1\n@@section nft\n{}\n\n@@exit 0\n@@end\n",
        hostile.replace('\n', " ")
    );
    let observed = parse_detection(Some(0), framed.as_bytes(), b"").unwrap();
    assert!(observed.open.is_empty(), "{observed:#?}");
    assert!(observed.unknown.len() >= 4, "{:#?}", observed.unknown);
    let deep = format!(
        "@@fleetdeck-firewall 1\n@@section nft\n{}{}\n@@exit 0\n@@end\n",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    assert!(parse_detection(Some(0), deep.as_bytes(), b"").is_err());
    // Control characters in names reach nothing raw.
    let evil = "@@fleetdeck-firewall 1\n@@section ufw\nStatus: active\nDefault: deny (incoming)\n--\n22/tcp on \x1b]0;x\x07eth0 ALLOW IN Anywhere\n\n@@exit 0\n@@end\n";
    let observed = parse_detection(Some(0), evil.as_bytes(), b"").unwrap();
    let shown = format!("{:?}", serde_json::to_string(&observed).unwrap());
    assert!(!shown.contains('\x1b'), "{shown}");
}
