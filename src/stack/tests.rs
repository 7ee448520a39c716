use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bollard::models::{PortBinding, RestartPolicyNameEnum};
use serde_json::{Map, Value as Json, json};

use super::*;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/stacks/shop.yml"
);

fn vars() -> Map<String, Json> {
    let Json::Object(m) = json!({
        "inventory_hostname": "client-alpha",
        "domain": "example.net",
        "shop_version": "2.4.1",
        "web_port": 8080,
    }) else {
        unreachable!()
    };
    m
}

fn allow(unpinned: bool) -> StackPolicy {
    StackPolicy {
        allow_unpinned: unpinned,
    }
}

fn parse(text: &str) -> Result<Stack, StackErrors> {
    parse_str(
        text,
        Path::new("stacks/t.yml"),
        "t",
        "client-alpha",
        &vars(),
        &allow(false),
    )
}

fn errors(text: &str) -> Vec<StackError> {
    match parse(text) {
        Ok(stack) => panic!("expected errors, loaded {stack:#?}"),
        Err(e) => e.0,
    }
}

/// The single error's `line:column: message`.
fn one_error(text: &str) -> (usize, usize, String) {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let e = &errs[0];
    (e.line, e.column, e.message.clone())
}

fn shop() -> Stack {
    load(
        Path::new(FIXTURE),
        "shop",
        "client-alpha",
        &vars(),
        &allow(false),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_complete_example_parses_to_typed_values() {
    let stack = shop();
    assert_eq!(stack.app, "shop");
    assert_eq!(stack.gate_timeout, Duration::from_secs(90));
    let order: Vec<&str> = stack.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, ["db", "cache", "web", "backup"]);

    let web = stack.service("web").expect("web");
    assert_eq!(web.image, "registry.example.net/shop/web:2.4.1");
    assert_eq!(
        web.command.as_deref(),
        Some(
            &[
                "/usr/bin/web".to_string(),
                "--listen".into(),
                ":8080".into()
            ][..]
        )
    );
    assert_eq!(
        web.environment,
        BTreeMap::from([
            ("LOG_LEVEL".into(), "info".into()),
            ("SHOP_DOMAIN".into(), "client-alpha.example.net".into()),
            ("WORKERS".into(), "4".into()),
        ])
    );
    assert_eq!(
        web.ports,
        [
            PortSpec {
                host_ip: None,
                host_port: 8080,
                container_port: 8080,
                protocol: Protocol::Tcp
            },
            PortSpec {
                host_ip: Some("127.0.0.1".into()),
                host_port: 9090,
                container_port: 9090,
                protocol: Protocol::Tcp
            },
            PortSpec {
                host_ip: Some("127.0.0.1".into()),
                host_port: 5353,
                container_port: 53,
                protocol: Protocol::Udp
            },
        ]
    );
    assert_eq!(
        web.volumes,
        [
            VolumeMount {
                source: MountSource::Volume("uploads".into()),
                target: "/srv/uploads".into(),
                read_only: false
            },
            VolumeMount {
                source: MountSource::Bind("/etc/ssl/shop".into()),
                target: "/etc/ssl/shop".into(),
                read_only: true
            },
            VolumeMount {
                source: MountSource::Bind("/var/log/shop".into()),
                target: "/var/log/web".into(),
                read_only: false
            },
        ]
    );
    assert_eq!(
        web.labels
            .get("traefik.http.routers.shop.rule")
            .map(String::as_str),
        Some("Host(`client-alpha.example.net`)")
    );
    assert_eq!(
        web.healthcheck,
        Some(Healthcheck {
            test: Some(HealthTest::Cmd(vec![
                "/usr/bin/web".into(),
                "--check".into()
            ])),
            interval: Some(Duration::from_secs(10)),
            timeout: Some(Duration::from_secs(2)),
            retries: Some(3),
            start_period: Some(Duration::from_secs(90)),
        })
    );
    // From the merge key.
    assert_eq!(web.restart, RestartPolicy::UnlessStopped);
    assert!(web.read_only);
    assert_eq!(web.cap_drop, ["ALL"]);
    assert_eq!(web.cap_add, ["NET_BIND_SERVICE"]);
    assert_eq!(
        web.networks,
        [
            ServiceNetwork {
                name: "front".into(),
                aliases: vec![]
            },
            ServiceNetwork {
                name: "back".into(),
                aliases: vec!["shop-web".into()]
            },
        ]
    );
    assert_eq!(web.network_mode, None);
    assert_eq!(
        web.depends_on,
        [
            Dependency {
                service: "db".into(),
                condition: DependsCondition::ServiceHealthy
            },
            Dependency {
                service: "cache".into(),
                condition: DependsCondition::ServiceStarted
            },
        ]
    );
    assert_eq!(web.user.as_deref(), Some("1000:1000"));
    assert_eq!(
        web.limits,
        Limits {
            nano_cpus: Some(500_000_000),
            memory: Some(256 << 20)
        }
    );
    assert_eq!(
        web.secrets,
        [
            SecretMount {
                source: "db_password".into(),
                target: "/run/secrets/db_password".into(),
                uid: None,
                gid: None,
                mode: 0o400
            },
            SecretMount {
                source: "api_key".into(),
                target: "/run/secrets/api.key".into(),
                uid: Some("1000".into()),
                gid: Some("1000".into()),
                mode: 0o440
            },
        ]
    );
    assert_eq!(web.secret_env, [("SHOP_API_KEY".into(), "api_key".into())]);
    assert_eq!(
        web.probe,
        Some(HttpProbe {
            url: "http://127.0.0.1:8080/healthz".into(),
            status: 200,
            body: Some("ok".into()),
            timeout: Duration::from_secs(5),
        })
    );
    assert_eq!(web.secret_names(), ["api_key", "db_password"]);

    let db = stack.service("db").expect("db");
    assert_eq!(
        db.environment.get("POSTGRES_USER").map(String::as_str),
        Some("shop")
    );
    assert_eq!(
        db.healthcheck.as_ref().and_then(|h| h.test.clone()),
        Some(HealthTest::Shell("pg_isready -U shop".into()))
    );
    assert_eq!(db.restart, RestartPolicy::Always);
    assert_eq!(
        db.limits,
        Limits {
            nano_cpus: Some(2_000_000_000),
            memory: Some(1 << 30)
        }
    );

    let cache = stack.service("cache").expect("cache");
    assert_eq!(
        cache.command.as_deref(),
        Some(
            &[
                "redis-server".to_string(),
                "--save".into(),
                "".into(),
                "--maxmemory".into(),
                "64mb".into()
            ][..]
        )
    );
    assert_eq!(cache.restart, RestartPolicy::OnFailure(Some(5)));

    let backup = stack.service("backup").expect("backup");
    assert_eq!(backup.network_mode, Some(NetworkMode::None));
    assert!(backup.networks.is_empty());
    assert_eq!(backup.restart, RestartPolicy::No);
    assert_eq!(
        backup.healthcheck.as_ref().and_then(|h| h.test.clone()),
        Some(HealthTest::Disabled)
    );

    assert_eq!(
        stack.networks,
        [
            NetworkSpec {
                name: "front".into(),
                external: Some("traefik".into()),
                driver: None,
                internal: false,
                labels: BTreeMap::new()
            },
            NetworkSpec {
                name: "back".into(),
                external: None,
                driver: None,
                internal: true,
                labels: BTreeMap::from([("tier".into(), "back".into())])
            },
        ]
    );
    assert_eq!(stack.volumes.len(), 2);
    assert_eq!(
        stack.volume("pgdata").and_then(|v| v.driver.as_deref()),
        Some("local")
    );
    assert_eq!(
        stack.secrets,
        [
            SecretSpec {
                name: "db_password".into(),
                key: "db_password".into()
            },
            SecretSpec {
                name: "api_key".into(),
                key: "shop_api_key".into()
            },
        ]
    );
    assert_eq!(stack.secret_key("api_key"), Some("shop_api_key"));
}

#[test]
fn names_on_the_host() {
    let stack = shop();
    assert_eq!(stack.network_name("c1-", "back"), "c1-shop_back");
    assert_eq!(stack.network_name("c1-", "front"), "traefik");
    assert_eq!(stack.volume_name("", "pgdata"), "shop_pgdata");
}

#[test]
fn a_service_without_networks_joins_default() {
    let stack = parse("services:\n  a:\n    image: x:1\n  b:\n    image: y:1\n").expect("loads");
    assert_eq!(stack.services[0].networks[0].name, DEFAULT_NETWORK);
    assert_eq!(stack.networks.len(), 1);
    assert_eq!(stack.network_name("", DEFAULT_NETWORK), "t_default");
    assert_eq!(stack.gate_timeout, DEFAULT_GATE_TIMEOUT);
    assert_eq!(stack.services[0].restart, RestartPolicy::No);
}

#[test]
fn unsupported_keys_are_errors_at_their_position() {
    let (l, c, m) = one_error("services:\n  web:\n    image: x:1\n    privileged: true\n");
    assert_eq!((l, c), (4, 5), "{m}");
    assert!(m.contains("unsupported key `privileged`"), "{m}");

    let (l, c, m) = one_error("services:\n  web:\n    build: .\n    image: x:1\n");
    assert_eq!((l, c), (3, 5));
    assert!(m.contains("`build`") && m.contains("does not build"), "{m}");

    let (l, c, m) =
        one_error("services:\n  web:\n    image: x:1\n    deploy:\n      replicas: 3\n");
    assert_eq!((l, c), (5, 7));
    assert!(m.contains("`deploy.replicas`"), "{m}");

    let (l, c, m) = one_error(
        "services:\n  web:\n    image: x:1\n    deploy:\n      resources:\n        limits:\n          pids: 3\n",
    );
    assert_eq!((l, c), (7, 11));
    assert!(m.contains("deploy.resources.limits.pids"), "{m}");

    let (l, c, m) = one_error("configs: {}\nservices:\n  web:\n    image: x:1\n");
    assert_eq!((l, c), (1, 1));
    assert!(m.contains("`configs`"), "{m}");

    let (l, c, m) = one_error("services:\n  web:\n    image: x:1\n    enviroment: {A: b}\n");
    assert_eq!((l, c), (4, 5));
    assert!(m.contains("did you mean `environment`"), "{m}");

    let (l, c, m) = one_error(
        "services:\n  web:\n    image: x:1\n    healthcheck:\n      test: [CMD, x]\n      start_interval: 1s\n",
    );
    assert_eq!((l, c), (6, 7));
    assert!(m.contains("healthcheck.start_interval"), "{m}");

    let (l, c, m) =
        one_error("services:\n  web:\n    image: x:1\n    x-fleetdeck-prob: {url: 'http://x'}\n");
    assert_eq!((l, c), (4, 5));
    assert!(m.contains("did you mean `x-fleetdeck-probe`"), "{m}");

    let (l, c, m) = one_error(
        "services:\n  web:\n    image: x:1\n    secrets: [s]\nsecrets:\n  s:\n    file: ./s.txt\n",
    );
    assert_eq!((l, c), (7, 5));
    assert!(m.contains("secret file"), "{m}");

    // Extension keys are accepted anywhere they are allowed, and ignored.
    parse("x-anchors: {a: 1}\nservices:\n  web:\n    image: x:1\n    x-note: hi\n").expect("loads");
}

#[test]
fn all_problems_are_collected_in_file_order() {
    let errs = errors(
        "services:\n  web:\n    image: nginx\n    ports: [80]\n    restart: sometimes\n  db:\n    command: x\n",
    );
    let at: Vec<(usize, usize)> = errs.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(at, [(3, 12), (4, 13), (5, 14), (6, 3)], "{errs:#?}");
    let shown = StackErrors(errs).to_string();
    assert!(
        shown.starts_with("the stack has 4 errors:\n  stacks/t.yml:3:12: "),
        "{shown}"
    );
}

#[test]
fn a_missing_variable_names_itself_the_host_and_the_place() {
    let errs = errors("services:\n  web:\n    image: \"shop:{{ shop_tag }}\"\n");
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let shown = errs[0].to_string();
    assert!(shown.starts_with("stacks/t.yml:3:12: "), "{shown}");
    assert!(
        shown.contains("`shop_tag`") && shown.contains("client-alpha"),
        "{shown}"
    );

    let (_, _, m) = one_error("services:\n  web:\n    image: \"shop:{{ tag | upper }}\"\n");
    assert!(m.contains("support"), "{m}");
    let (_, _, m) = one_error("services:\n  web:\n    image: \"{% if x %}a:1{% endif %}\"\n");
    assert!(m.contains("statements"), "{m}");
}

#[test]
fn defaults_and_templated_types() {
    let stack = parse(
        "services:\n  web:\n    image: \"x:{{ tag | default('1.0') }}\"\n    read_only: \"{{ ro | default(true) }}\"\n    ports: [\"{{ p | default(8081) }}:80\"]\n    deploy: {resources: {limits: {cpus: \"{{ c | default(\\\"1.5\\\") }}\"}}}\n    environment: {A: \"{{ a | default(3) }}\"}\n",
    )
    .expect("loads");
    let web = &stack.services[0];
    assert_eq!(web.image, "x:1.0");
    assert!(web.read_only);
    assert_eq!(web.ports[0].host_port, 8081);
    assert_eq!(web.limits.nano_cpus, Some(1_500_000_000));
    assert_eq!(web.environment["A"], "3");
}

#[test]
fn unpinned_images_are_refused_unless_allowed() {
    for image in ["nginx", "nginx:latest", "registry.local:5000/nginx"] {
        let text = format!("services:\n  web:\n    image: {image}\n");
        let (l, c, m) = one_error(&text);
        assert_eq!((l, c), (3, 12));
        assert!(m.contains("not pinned"), "{m}");
        parse_str(&text, Path::new("t.yml"), "t", "h", &vars(), &allow(true)).expect("allowed");
    }
    let digest = format!("nginx@sha256:{}", "ab".repeat(32));
    parse(&format!("services:\n  web:\n    image: {digest}\n")).expect("pinned by digest");
    let (_, _, m) = one_error("services:\n  web:\n    image: Nginx:1\n");
    assert!(m.contains("not an image reference"), "{m}");
    let (l, c, m) = one_error("services:\n  web:\n    restart: always\n");
    assert_eq!((l, c), (2, 3));
    assert!(m.contains("no `image`"), "{m}");
}

#[test]
fn dependencies_come_first_and_cycles_are_errors() {
    let stack = parse(
        "services:\n  a:\n    image: x:1\n    depends_on: [c]\n  b:\n    image: x:1\n  c:\n    image: x:1\n    depends_on: [b]\n",
    )
    .expect("loads");
    let order: Vec<&str> = stack.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, ["b", "c", "a"]);

    let (l, c, m) = one_error(
        "services:\n  a:\n    image: x:1\n    depends_on: [b]\n  b:\n    image: x:1\n    depends_on: [c]\n  c:\n    image: x:1\n    depends_on: [a]\n",
    );
    assert_eq!((l, c), (4, 18));
    assert_eq!(m, "dependency cycle: a → b → c → a");

    let (_, _, m) = one_error("services:\n  a:\n    image: x:1\n    depends_on: [a]\n");
    assert_eq!(m, "dependency cycle: a → a");

    let (l, c, m) = one_error(
        "services:\n  a:\n    image: x:1\n    depends_on: {nope: {condition: service_healthy}}\n",
    );
    assert_eq!((l, c), (4, 18));
    assert!(m.contains("`nope`"), "{m}");
}

#[test]
fn references_must_be_declared() {
    let errs = errors(
        "services:\n  a:\n    image: x:1\n    networks: [back]\n    volumes: [data:/d, ./rel:/r, /abs:rel]\n    secrets: [pw]\n    x-fleetdeck-secret-env: {PW: pw}\n",
    );
    let msgs: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(errs.len(), 6, "{msgs:#?}");
    assert!(msgs[0].contains("network `back`"));
    assert!(msgs[1].contains("named volume `data`"));
    assert!(msgs[2].contains("absolute path on the host"));
    assert!(msgs[3].contains("absolute path in the container"));
    assert!(msgs[4].contains("secret `pw`"));
}

#[test]
fn yaml_pitfalls_are_reported_not_guessed() {
    // 22:22 is the integer 1342 in YAML 1.1.
    let (_, _, m) = one_error("services:\n  a:\n    image: x:1\n    ports: [22:22]\n");
    assert!(m.contains("quoted"), "{m}");
    // A duplicate key is an error, overriding a merged one is not.
    let (l, _, m) = one_error("services:\n  a:\n    image: x:1\n    image: x:2\n");
    assert_eq!(l, 4);
    assert!(m.contains("duplicate"), "{m}");
    // `restart: no` is a boolean in YAML 1.1 and means "no".
    let stack = parse("services:\n  a:\n    image: x:1\n    restart: no\n").expect("loads");
    assert_eq!(stack.services[0].restart, RestartPolicy::No);
    let (_, _, m) = one_error("services:\n  a:\n    image: x:1\n    environment: {DEBUG: yes}\n");
    assert!(m.contains("quote"), "{m}");
    let (_, _, m) = one_error("services:\n  a:\n    image: x:1\n    environment: [HOME]\n");
    assert!(m.contains("no value"), "{m}");
}

#[test]
fn conflicting_settings_are_errors() {
    let (_, _, m) = one_error(
        "services:\n  a:\n    image: x:1\n    network_mode: host\n    networks: [default]\n",
    );
    assert!(m.contains("exclude"), "{m}");
    let (_, _, m) = one_error(
        "services:\n  a:\n    image: x:1\n    network_mode: host\n    ports: ['80:80']\n",
    );
    assert!(m.contains("network_mode host"), "{m}");
    let (_, _, m) = one_error(
        "services:\n  a:\n    image: x:1\n    environment: {K: v}\n    x-fleetdeck-secret-env: {K: s}\nsecrets: {s: {}}\n",
    );
    assert!(m.contains("`K`"), "{m}");
    let (_, _, m) = one_error("services:\n  a:\n    image: x:1\n    volumes: ['/a:/d', '/b:/d']\n");
    assert!(m.contains("two mounts"), "{m}");
    let (_, _, m) = one_error("services:\n  a:\n    image: x:1\n    labels: {fleetdeck.app: x}\n");
    assert!(m.contains("fleetdeck's own"), "{m}");
}

const HASHED: &str = "
services:
  web:
    image: shop:1.0
    environment: {A: '1', B: '2'}
    volumes: [data:/data]
    networks: [back]
    secrets: [pw]
  other:
    image: other:1.0
    secrets: [unrelated]
networks:
  back: {internal: true}
volumes:
  data: {}
secrets:
  pw: {}
  unrelated: {}
";

/// Same meaning, other key order and formatting.
const HASHED_REWRITTEN: &str = "
secrets: {unrelated: , pw: {}}
volumes:
  data:
networks: {back: {internal: yes}}
services:
  other: {secrets: [unrelated], image: 'other:1.0'}
  web:
    secrets:
      - pw
    networks:
      - back
    volumes: ['data:/data']
    environment:
      - B=2
      - A=1
    image: \"shop:{{ '1.0' }}\"
";

fn web_hash(text: &str, digests: &BTreeMap<String, String>) -> String {
    let stack = parse(text).unwrap_or_else(|e| panic!("{e}"));
    stack
        .service("web")
        .expect("web")
        .config_hash(&stack, digests)
}

#[test]
fn the_config_hash_is_stable_and_tracks_what_matters() {
    let digests = BTreeMap::from([
        ("pw".to_string(), "d1".to_string()),
        ("unrelated".to_string(), "u1".to_string()),
    ]);
    let base = web_hash(HASHED, &digests);
    assert_eq!(base.len(), 64);
    assert!(base.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(base, web_hash(HASHED, &digests), "same input, same hash");
    assert_eq!(
        base,
        web_hash(HASHED_REWRITTEN, &digests),
        "order and formatting"
    );

    let changed = |from: &str, to: &str| web_hash(&HASHED.replacen(from, to, 1), &digests);
    assert_ne!(base, changed("shop:1.0", "shop:1.1"), "image");
    assert_ne!(base, changed("A: '1'", "A: '2'"), "environment");
    assert_ne!(
        base,
        changed("internal: true", "internal: false"),
        "network spec"
    );
    assert_ne!(
        base,
        changed("data: {}", "data: {driver: local}"),
        "volume spec"
    );

    let mut rotated = digests.clone();
    rotated.insert("pw".into(), "d2".into());
    assert_ne!(base, web_hash(HASHED, &rotated), "a rotated secret");
    let mut other = digests.clone();
    other.insert("unrelated".into(), "u2".into());
    assert_eq!(base, web_hash(HASHED, &other), "a secret web does not use");

    // The probe steers the gate, not the container.
    let with_probe = HASHED.replacen(
        "    secrets: [pw]\n",
        "    secrets: [pw]\n    x-fleetdeck-probe: {url: 'http://127.0.0.1/'}\n",
        1,
    );
    assert_eq!(base, web_hash(&with_probe, &digests));
}

#[test]
fn the_create_body_maps_every_field() {
    let stack = shop();
    let web = stack.service("web").expect("web");
    let labels = BTreeMap::from([
        ("fleetdeck.app".to_string(), "shop".to_string()),
        ("fleetdeck.config-hash".to_string(), "abc".to_string()),
    ]);
    let body = web.create_body(
        &stack,
        "c1-",
        &labels,
        &[("SHOP_API_KEY".into(), "k3y".into())],
        &[
            (
                "/var/lib/fleetdeck/secrets/shop/web/db_password".into(),
                "/run/secrets/db_password".into(),
            ),
            (
                "/var/lib/fleetdeck/secrets/shop/web/api_key".into(),
                "/run/secrets/api.key".into(),
            ),
        ],
    );
    assert_eq!(
        body.image.as_deref(),
        Some("registry.example.net/shop/web:2.4.1")
    );
    assert_eq!(body.cmd, web.command);
    assert_eq!(body.user.as_deref(), Some("1000:1000"));
    assert_eq!(
        body.env,
        Some(vec![
            "LOG_LEVEL=info".to_string(),
            "SHOP_DOMAIN=client-alpha.example.net".into(),
            "WORKERS=4".into(),
            "SHOP_API_KEY=k3y".into(),
        ])
    );
    let body_labels = body.labels.clone().unwrap_or_default();
    assert_eq!(body_labels["fleetdeck.app"], "shop");
    assert_eq!(body_labels["traefik.enable"], "true");

    let health = body.healthcheck.clone().expect("healthcheck");
    assert_eq!(
        health.test,
        Some(vec![
            "CMD".to_string(),
            "/usr/bin/web".into(),
            "--check".into()
        ])
    );
    assert_eq!(health.interval, Some(10_000_000_000));
    assert_eq!(health.timeout, Some(2_000_000_000));
    assert_eq!(health.start_period, Some(90_000_000_000));
    assert_eq!(health.retries, Some(3));

    let host = body.host_config.clone().expect("host config");
    assert_eq!(host.nano_cpus, Some(500_000_000));
    assert_eq!(host.memory, Some(268_435_456));
    assert_eq!(host.readonly_rootfs, Some(true));
    assert_eq!(host.cap_add, Some(vec!["NET_BIND_SERVICE".to_string()]));
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
    let restart = host.restart_policy.clone().expect("restart");
    assert_eq!(restart.name, Some(RestartPolicyNameEnum::UNLESS_STOPPED));
    assert_eq!(
        host.binds,
        Some(vec![
            "c1-shop_uploads:/srv/uploads".to_string(),
            "/etc/ssl/shop:/etc/ssl/shop:ro".into(),
            "/var/log/shop:/var/log/web".into(),
            "/var/lib/fleetdeck/secrets/shop/web/db_password:/run/secrets/db_password:ro".into(),
            "/var/lib/fleetdeck/secrets/shop/web/api_key:/run/secrets/api.key:ro".into(),
        ])
    );
    let ports = host.port_bindings.clone().expect("ports");
    assert_eq!(
        ports["8080/tcp"],
        Some(vec![PortBinding {
            host_ip: Some(String::new()),
            host_port: Some("8080".into())
        }])
    );
    assert_eq!(
        ports["53/udp"],
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".into()),
            host_port: Some("5353".into())
        }])
    );
    assert_eq!(
        body.exposed_ports,
        Some(vec![
            "53/udp".to_string(),
            "8080/tcp".into(),
            "9090/tcp".into()
        ])
    );
    // First network at creation (the external one, by its own name), the rest after.
    assert_eq!(host.network_mode.as_deref(), Some("traefik"));
    let endpoints = body
        .networking_config
        .and_then(|n| n.endpoints_config)
        .expect("endpoints");
    assert_eq!(endpoints["traefik"].aliases, Some(vec!["web".to_string()]));
    let extra = web.extra_networks(&stack, "c1-");
    assert_eq!(extra.len(), 1);
    assert_eq!(extra[0].0, "c1-shop_back");
    assert_eq!(
        extra[0].1.aliases,
        Some(vec!["web".to_string(), "shop-web".into()])
    );

    let cache = stack.service("cache").expect("cache");
    let host = cache
        .create_body(&stack, "", &BTreeMap::new(), &[], &[])
        .host_config
        .expect("host config");
    let restart = host.restart_policy.expect("restart");
    assert_eq!(restart.name, Some(RestartPolicyNameEnum::ON_FAILURE));
    assert_eq!(restart.maximum_retry_count, Some(5));

    let backup = stack.service("backup").expect("backup");
    let body = backup.create_body(&stack, "", &BTreeMap::new(), &[], &[]);
    assert_eq!(
        body.healthcheck.and_then(|h| h.test),
        Some(vec!["NONE".to_string()])
    );
    let host = body.host_config.expect("host config");
    assert_eq!(host.network_mode.as_deref(), Some("none"));
    assert_eq!(
        host.binds,
        Some(vec![
            "shop_pgdata:/data:ro".to_string(),
            "/srv/backup:/backup".into()
        ])
    );
    assert!(body.networking_config.is_none());
    assert!(backup.extra_networks(&stack, "").is_empty());
}

#[test]
fn stack_files_are_found_by_app_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = stack_file(dir.path(), "shop").expect_err("none");
    assert!(err.message.contains("shop.yml or shop.yaml"), "{err}");
    std::fs::write(dir.path().join("shop.yaml"), "services: {}\n").expect("write");
    assert_eq!(
        stack_file(dir.path(), "shop").ok(),
        Some(dir.path().join("shop.yaml"))
    );
    std::fs::write(dir.path().join("shop.yml"), "services: {}\n").expect("write");
    let err = stack_file(dir.path(), "shop").expect_err("both");
    assert!(err.message.contains("keep one"), "{err}");
    for bad in ["../etc/passwd", "Shop", "", "a/b", "-x"] {
        assert!(stack_file(dir.path(), bad).is_err(), "{bad}");
    }
    let err = load(
        &dir.path().join("gone.yml"),
        "gone",
        "h",
        &vars(),
        &allow(false),
    )
    .expect_err("missing file");
    assert_eq!(err.0[0].line, 0);
    let empty = dir.path().join("empty.yml");
    std::fs::write(&empty, "").expect("write");
    let err = load(&empty, "empty", "h", &vars(), &allow(false)).expect_err("empty");
    assert!(err.to_string().contains("empty"), "{err}");
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// `FLEETDECK_FUZZ_ROUNDS` runs longer.
fn rounds() -> usize {
    std::env::var("FLEETDECK_FUZZ_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3000)
}

#[test]
fn hostile_and_garbage_input_gives_errors_not_panics() {
    let hostile = [
        "",
        "{}",
        "---\n---\n",
        "[",
        "services",
        "services: 3",
        "services: []",
        "services: {a: }",
        "services: {a: [1]}",
        "services: {a: {image: [x]}}",
        "services: {'{{ x }}': {image: 'x:1'}}",
        "services: {a: {image: '{{'}}",
        "services: {a: {image: '{{ a.b.c.d | default(', ports: [{}]}}",
        "services: {a: {image: 'x:1', ports: ['::::'], volumes: [':::'], command: '\"'}}",
        "services: {a: {image: 'x:1', healthcheck: {test: []}, restart: 'on-failure:-1'}}",
        "services: {a: {image: 'x:1', deploy: {resources: {limits: {cpus: .nan, memory: -1}}}}}",
        "services: {a: {image: 'x:1', secrets: [{mode: 99999}], depends_on: {a: {condition: 1}}}}",
        "services: {a: {image: 'x:1', ports: [{target: 99999999999999999999999999, published: x}]}}",
        "services: {a: {image: 'ü:1', command: 'é \\'', environment: {'': ''}}}",
        "a: &a [*a]",
        "services: !!map {a: !!str x}",
        "services: {a: {image: !vault x}}",
        "? [a]\n: b\n",
        "services: {a: {<<: 3}}",
        "\u{feff}services: {\u{202e}: {}}",
    ];
    for text in hostile {
        assert!(parse(text).is_err(), "{text:?}");
    }

    let deep = format!("services: {}{}", "[".repeat(300), "]".repeat(300));
    assert!(parse(&deep).is_err());

    let fixture = std::fs::read_to_string(FIXTURE).expect("fixture");
    let tokens = [
        "services:",
        "image:",
        " ",
        "  ",
        "\n",
        "\n  ",
        "\n    ",
        "- ",
        ": ",
        "{",
        "}",
        "[",
        "]",
        ",",
        "'",
        "\"",
        "{{",
        "}}",
        "{{ x }}",
        "&a ",
        "*a",
        "<<: ",
        "x:1",
        "80:80",
        "/a:/b:ro",
        "ports:",
        "volumes:",
        "secrets:",
        "networks:",
        "depends_on:",
        "healthcheck:",
        "test:",
        "deploy:",
        "1m30s",
        "0o7",
        "~",
        "#",
        "|",
        ">",
        "!!str ",
        "é",
        "\t",
        "\\",
    ];
    let mut rng = Rng(0x5eed_f1ee_7dec_4b1d);
    for round in 0..rounds() {
        let text = if round % 2 == 0 {
            (0..(rng.next() % 40))
                .map(|_| rng.pick(&tokens))
                .collect::<String>()
        } else {
            // Mutate the complete example: replace a few spans with tokens.
            let mut t: Vec<char> = fixture.chars().collect();
            for _ in 0..(1 + rng.next() % 4) {
                let at = (rng.next() % t.len() as u64) as usize;
                let len = ((rng.next() % 8) as usize).min(t.len() - at);
                let with: Vec<char> = rng.pick(&tokens).chars().collect();
                t.splice(at..at + len, with);
            }
            t.into_iter().collect()
        };
        // Either result is fine; errors must be well-formed.
        if let Err(e) = parse(&text) {
            assert!(!e.0.is_empty(), "{text:?}");
            assert!(e.0.iter().all(|e| !e.message.is_empty()), "{text:?}");
        }
    }
}

#[test]
fn an_alias_bomb_in_an_extension_block_is_refused_at_its_line() {
    // A 100 KB string anchored in `x-` and referenced through five levels of alias
    // lists: 10 GB of text, never used by a service.
    let mut text = format!("x-big:\n  s0: &s0 \"{}\"\n", "x".repeat(100_000));
    for i in 1..=5 {
        let refs = vec![format!("*s{}", i - 1); 10].join(", ");
        text.push_str(&format!("  s{i}: &s{i} [{refs}]\n"));
    }
    text.push_str("services:\n  web:\n    image: nginx:1.27\n");
    let (line, _, message) = one_error(&text);
    assert_eq!(line, 5, "{message}");
    assert!(
        message.starts_with("refused: aliases expand to more than 64 MiB"),
        "{message}"
    );
}
