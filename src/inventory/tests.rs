//! Precedence, patterns and error locations on small inventories written to a
//! temporary directory.

use std::path::Path;

use super::*;

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

fn var<'a>(inv: &'a Inventory, host: &str, name: &str) -> &'a serde_json::Value {
    inv.host(host)
        .unwrap_or_else(|| panic!("no host {host}"))
        .vars()
        .get(name)
        .unwrap_or_else(|| panic!("{host} has no {name}"))
}

fn names(hosts: Vec<&Host>) -> Vec<&str> {
    hosts.into_iter().map(Host::name).collect()
}

const NESTED: &str = "
all:
  vars: {x: all, only_all: 1}
  children:
    production:
      vars: {x: production, ansible_group_priority: 5}
      children:
        web:
          vars: {x: web}
          hosts:
            web1:
            web2: {x: host}
    canary:
      vars: {x: canary}
      hosts:
        web2:
        db1:
    other:
      vars: {x: other, ansible_group_priority: '3'}
      hosts:
        db1:
  hosts:
    lonely:
";

#[test]
fn deeper_groups_win_then_priority_then_name_and_hosts_win_over_groups() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(tmp.path(), "hosts.yml", NESTED);
    let inv = Inventory::load(&tmp.path().join("hosts.yml")).expect("loads");
    // web (depth 2) beats production (depth 1, priority 5) and canary (depth 1).
    assert_eq!(var(&inv, "web1", "x"), "web");
    assert_eq!(var(&inv, "web2", "x"), "host");
    // canary and other are both depth 1: other's priority 3 beats canary's 1.
    assert_eq!(var(&inv, "db1", "x"), "other");
    assert_eq!(var(&inv, "lonely", "x"), "all");
    assert_eq!(var(&inv, "lonely", "only_all"), 1);
    // ansible_group_priority is not a variable when set in the inventory.
    assert!(
        !inv.host("db1")
            .expect("db1")
            .vars()
            .contains_key("ansible_group_priority")
    );
    assert_eq!(
        inv.host("web2").expect("web2").group_names(),
        ["canary", "production", "web"]
    );
    assert_eq!(
        inv.host("lonely").expect("lonely").group_names(),
        ["ungrouped"]
    );
}

#[test]
fn group_vars_files_beat_every_inventory_group_var_and_host_vars_beat_all() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(tmp.path(), "inv/hosts.yml", NESTED);
    // group_vars/all beats production's inventory vars (Ansible's default order).
    write(
        tmp.path(),
        "inv/group_vars/all.yml",
        "x: gv-all\ny: gv-all\n",
    );
    // A file without extension is found first; NAME.yml is then ignored.
    write(tmp.path(), "inv/group_vars/canary", "y: gv-canary\n");
    write(tmp.path(), "inv/group_vars/canary.yml", "y: ignored\n");
    // A directory: every file, sorted; the later file replaces keys (no deep merge).
    write(
        tmp.path(),
        "inv/group_vars/web/10.yml",
        "d: {a: 1}\nz: first\n",
    );
    write(tmp.path(), "inv/group_vars/web/20.yaml", "d: {b: 2}\n");
    write(tmp.path(), "inv/group_vars/web/notes.txt", "z: not read\n");
    write(
        tmp.path(),
        "inv/host_vars/web1.json",
        "{\"x\": \"hv-web1\"}",
    );
    let inv = Inventory::load(&tmp.path().join("inv/hosts.yml")).expect("loads");
    assert_eq!(var(&inv, "lonely", "x"), "gv-all");
    // group_vars/ of canary (no x) does not undo other's inventory x... but
    // group_vars/all does: every group_vars file beats every inventory group var.
    assert_eq!(var(&inv, "db1", "x"), "gv-all");
    assert_eq!(var(&inv, "web2", "x"), "host");
    assert_eq!(var(&inv, "web1", "x"), "hv-web1");
    assert_eq!(var(&inv, "db1", "y"), "gv-canary");
    assert_eq!(var(&inv, "web1", "d"), &serde_json::json!({"b": 2}));
    assert_eq!(var(&inv, "web1", "z"), "first");
}

#[test]
fn patterns_select_like_ansible() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(tmp.path(), "hosts.yml", NESTED);
    let inv = Inventory::load(&tmp.path().join("hosts.yml")).expect("loads");
    let sel = |p: &str| names(inv.select(Some(p)).expect(p));
    assert_eq!(
        names(inv.select(None).expect("all")),
        ["lonely", "web2", "db1", "web1"]
    );
    assert_eq!(sel("all"), sel("*"));
    assert_eq!(sel("production"), ["web1", "web2"]);
    assert_eq!(sel("web*"), ["web1", "web2"]);
    assert_eq!(sel("canary:other"), ["web2", "db1"]);
    assert_eq!(sel("canary,other"), ["web2", "db1"]);
    assert_eq!(sel("production:&canary"), ["web2"]);
    assert_eq!(sel("all:!production"), ["lonely", "db1"]);
    assert_eq!(sel("!production"), ["lonely", "db1"]);
    assert_eq!(sel("db1:lonely"), ["db1", "lonely"]);
    assert_eq!(sel("production[0]"), ["web1"]);
    assert_eq!(sel("production[-1]"), ["web2"]);
    let err = inv.select(Some("canary:nosuch")).expect_err("unknown");
    assert!(
        err.message
            .contains("Could not match supplied host pattern"),
        "{err}"
    );
    assert!(err.message.contains("nosuch"), "{err}");
    assert!(inv.select(Some("client-*")).is_err());
    assert!(inv.select(Some("~web.*")).is_err());
}

#[test]
fn list_json_matches_ansible_shape() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(
        tmp.path(),
        "hosts.yml",
        "zeta:\n  hosts:\n    z1:\nall:\n  children:\n    empty:\n    prod:\n      hosts:\n        p1: {a: 1}\n",
    );
    let inv = Inventory::load(&tmp.path().join("hosts.yml")).expect("loads");
    let json = inv.to_ansible_list_json(None).expect("json");
    assert_eq!(
        json,
        serde_json::json!({
            "_meta": {"hostvars": {"p1": {"a": 1}}, "profile": "inventory_legacy"},
            "all": {"children": ["ungrouped", "empty", "prod", "zeta"]},
            "prod": {"hosts": ["p1"]},
            "zeta": {"hosts": ["z1"]},
        })
    );
    let limited = inv.to_ansible_list_json(Some("zeta")).expect("json");
    assert_eq!(
        limited,
        serde_json::json!({
            "_meta": {"hostvars": {}, "profile": "inventory_legacy"},
            "all": {"children": ["ungrouped", "empty", "prod", "zeta"]},
            "zeta": {"hosts": ["z1"]},
        })
    );
}

#[test]
fn host_ranges_and_ports_expand() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(
        tmp.path(),
        "hosts.yml",
        "all:\n  hosts:\n    web[08:10].example.net:2222:\n    db-[a:c]:\n    '[2001:db8::1]:22':\n",
    );
    let inv = Inventory::load(&tmp.path().join("hosts.yml")).expect("loads");
    let all: Vec<&str> = inv.hosts().map(Host::name).collect();
    assert_eq!(
        all,
        [
            "web08.example.net",
            "web09.example.net",
            "web10.example.net",
            "db-a",
            "db-b",
            "db-c",
            "2001:db8::1"
        ]
    );
    assert_eq!(var(&inv, "web09.example.net", "ansible_port"), 2222);
    assert_eq!(
        inv.host("web10.example.net")
            .expect("h")
            .settings()
            .ssh
            .port,
        Some(2222)
    );
}

#[test]
fn settings_are_typed_and_templated_per_host() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(
        tmp.path(),
        "hosts.yml",
        "
all:
  vars:
    domain: clients.example.net
    fleetdeck_certificates:
      - name: https
        host: '{{ inventory_hostname }}.{{ domain }}'
  hosts:
    acme:
      ansible_host: 192.0.2.7
      ansible_port: '2200'
      ansible_user: deploy
      ansible_ssh_private_key_file: ~/.ssh/fleet
      fleetdeck_apps: [traefik, nextcloud]
      fleetdeck_host_key: SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s
",
    );
    let inv = Inventory::load(&tmp.path().join("hosts.yml")).expect("loads");
    let s = inv.host("acme").expect("acme").settings();
    assert_eq!(s.apps, ["traefik", "nextcloud"]);
    assert_eq!(s.docker_socket, DEFAULT_DOCKER_SOCKET);
    assert_eq!(s.certificates[0].host, "acme.clients.example.net");
    assert_eq!(s.certificates[0].port, 443);
    assert_eq!(s.ssh.name, "acme");
    assert_eq!(s.ssh.host.as_deref(), Some("192.0.2.7"));
    assert_eq!(s.ssh.port, Some(2200));
    assert_eq!(s.ssh.user.as_deref(), Some("deploy"));
    assert_eq!(s.ssh.private_key_file.as_deref(), Some("~/.ssh/fleet"));
    assert_eq!(
        s.ssh.host_key_pin.as_deref(),
        Some("SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s")
    );
    // The JSON keeps the template unrendered, as ansible-inventory does.
    assert_eq!(
        var(&inv, "acme", "fleetdeck_certificates")[0]["host"],
        "{{ inventory_hostname }}.{{ domain }}"
    );
}

#[test]
fn every_error_is_collected_with_its_location_and_nothing_loads() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(
        tmp.path(),
        "inv/a.yml",
        "all:\n  hosts:\n    h1:\n      fleetdeck_aps: [x]\n      fleetdeck_backups: nope\n",
    );
    write(
        tmp.path(),
        "inv/b.yml",
        "g:\n  hosts:\n    h2: {a: [1, 2}\n",
    );
    write(
        tmp.path(),
        "inv/host_vars/h1.yml",
        "fleetdeck_certificates:\n  - name: x\n    host: '{{ missing }}'\n",
    );
    let err = Inventory::load(&tmp.path().join("inv")).expect_err("errors");
    let text = err.to_string();
    let find = |needle: &str| {
        err.0
            .iter()
            .find(|e| e.message.contains(needle))
            .unwrap_or_else(|| panic!("no error about {needle}: {text}"))
    };
    let misspelled = find("fleetdeck_aps");
    assert!(misspelled.file.ends_with("inv/a.yml"));
    assert_eq!((misspelled.line, misspelled.column), (4, 7), "{text}");
    assert!(
        misspelled.message.contains("did you mean `fleetdeck_apps`"),
        "{text}"
    );
    let wrong_type = find("`fleetdeck_backups`");
    assert_eq!((wrong_type.line, wrong_type.column), (5, 26), "{text}");
    assert!(
        wrong_type
            .message
            .contains("expected a list of backup repositories"),
        "{text}"
    );
    let syntax = find("YAML syntax error");
    assert!(syntax.file.ends_with("inv/b.yml"));
    assert_eq!(syntax.line, 3, "{text}");
    // Resolved per host, located where the template was written.
    let undefined = find("`missing` is undefined for host h1");
    assert!(undefined.file.ends_with("inv/host_vars/h1.yml"));
    assert_eq!((undefined.line, undefined.column), (3, 11), "{text}");
    assert_eq!(err.0.len(), 4, "{text}");
}

#[test]
fn an_ini_inventory_is_refused_with_a_hint() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(tmp.path(), "hosts", "[web]\nweb1 ansible_host=192.0.2.1\n");
    let err = Inventory::load(&tmp.path().join("hosts")).expect_err("ini");
    assert!(
        err.to_string().contains("looks like an INI inventory"),
        "{err}"
    );
}

/// A 100 KB string anchored once and referenced through five levels of alias lists:
/// 10 GB of text from a 100 KB file.
fn alias_bomb(indent: &str) -> String {
    let mut text = format!("{indent}s0: &s0 \"{}\"\n", "x".repeat(100_000));
    for i in 1..=5 {
        let refs = vec![format!("*s{}", i - 1); 10].join(", ");
        text.push_str(&format!("{indent}s{i}: &s{i} [{refs}]\n"));
    }
    text
}

#[test]
fn an_alias_bomb_is_refused_with_its_file_and_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let text = format!(
        "all:\n  hosts:\n    h1:\n  vars:\n    big:\n{}",
        alias_bomb("      ")
    );
    write(tmp.path(), "hosts.yml", &text);
    let err = Inventory::load(&tmp.path().join("hosts.yml")).expect_err("refused");
    assert_eq!(err.0.len(), 1, "{err}");
    let e = &err.0[0];
    assert!(e.file.ends_with("hosts.yml"), "{err}");
    assert_eq!((e.line, e.column), (9, 41), "{err}");
    assert!(
        e.message
            .starts_with("refused: aliases expand to more than 64 MiB"),
        "{err}"
    );
    // The same in a group_vars file.
    write(tmp.path(), "hosts.yml", "all:\n  hosts:\n    h1:\n");
    write(tmp.path(), "group_vars/all.yml", &alias_bomb(""));
    let err = Inventory::load(&tmp.path().join("hosts.yml")).expect_err("refused");
    assert!(err.0[0].file.ends_with("group_vars/all.yml"), "{err}");
    assert_eq!(err.0[0].line, 4, "{err}");
}

#[test]
fn settings_whose_variables_multiply_are_refused() {
    // v0 = ten times {{ v1 }}, v1 = ten times {{ v2 }}, …: 10^9 bytes for the setting.
    let mut vars = String::new();
    for i in 0..9 {
        vars.push_str(&format!(
            "    v{i}: \"{}\"\n",
            format!("{{{{ v{} }}}}", i + 1).repeat(10)
        ));
    }
    vars.push_str("    v9: x\n    fleetdeck_state_dir: \"/{{ v0 }}\"\n");
    let tmp = tempfile::tempdir().expect("tmp");
    write(
        tmp.path(),
        "hosts.yml",
        &format!("all:\n  hosts:\n    h1:\n  vars:\n{vars}"),
    );
    let err = Inventory::load(&tmp.path().join("hosts.yml")).expect_err("refused");
    assert_eq!(err.0.len(), 1, "{err}");
    let e = &err.0[0];
    assert_eq!(e.line, 15, "{err}");
    assert!(
        e.message.contains("expands to more than 1 MiB for host h1"),
        "{err}"
    );
}

fn errors_of(path: &Path) -> Vec<InventoryError> {
    match Inventory::load(path) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => e.0,
    }
}

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

#[test]
fn vars_directories_refuse_link_cycles_fifos_devices_and_misnamed_directories() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    write(dir, "hosts.yml", "web:\n  hosts:\n    web1:\n");
    write(dir, "group_vars/web/main.yml", "a: 1\n");
    for link in ["x", "y", "z"] {
        std::os::unix::fs::symlink(".", dir.join("group_vars/web").join(link)).expect("link");
    }
    write(dir, "host_vars/web1/main.yml", "b: 2\n");
    mkfifo(&dir.join("host_vars/web1/pipe.yml"));
    std::os::unix::fs::symlink("/dev/zero", dir.join("host_vars/web1/zero.yml")).expect("link");
    write(dir, "host_vars/web1/sub.yml/more.yml", "c: 3\n");
    let errors = errors_of(&dir.join("hosts.yml"));
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let about = |file: &str, needle: &str| {
        assert!(
            errors
                .iter()
                .any(|e| e.file.ends_with(file) && e.message.contains(needle)),
            "no error about {file} saying {needle:?}: {text:#?}"
        );
    };
    for link in ["x", "y", "z"] {
        about(
            &format!("group_vars/web/{link}"),
            "link cycle (a link to .)",
        );
    }
    about("host_vars/web1/pipe.yml", "not a regular file (a FIFO)");
    about(
        "host_vars/web1/zero.yml",
        "not a regular file (a character device)",
    );
    about(
        "host_vars/web1/sub.yml",
        "a directory named like a variables file",
    );
    assert_eq!(errors.len(), 6, "{text:#?}");
}

#[test]
fn a_fifo_or_device_named_as_a_vars_file_is_refused_without_reading_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    write(dir, "hosts.yml", "web:\n  hosts:\n    web1:\n    web2:\n");
    std::fs::create_dir_all(dir.join("host_vars")).expect("mkdir");
    mkfifo(&dir.join("host_vars/web1.yml"));
    std::os::unix::fs::symlink("/dev/zero", dir.join("host_vars/web2.yml")).expect("link");
    let errors = errors_of(&dir.join("hosts.yml"));
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].message.contains("(a FIFO)"), "{errors:#?}");
    assert!(
        errors[1].message.contains("(a character device)"),
        "{errors:#?}"
    );
}

#[test]
fn a_directory_named_like_a_vars_file_is_read_as_ansible_does() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    write(dir, "hosts.yml", "web:\n  hosts:\n    web1:\n");
    write(dir, "host_vars/web1.yml/vars.yml", "b: 2\n");
    let inv = Inventory::load(&dir.join("hosts.yml")).expect("loads");
    assert_eq!(var(&inv, "web1", "b"), 2);
}

#[test]
fn oversized_files_and_directory_inventory_cycles_are_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    write(dir, "inv/hosts.yml", "web:\n  hosts:\n    web1:\n");
    std::fs::create_dir_all(dir.join("inv/sub")).expect("mkdir");
    std::os::unix::fs::symlink("..", dir.join("inv/sub/up")).expect("link");
    // Sparse: 129 MiB that takes no disk.
    std::fs::create_dir_all(dir.join("inv/group_vars")).expect("mkdir");
    std::fs::File::create(dir.join("inv/group_vars/web.yml"))
        .expect("create")
        .set_len(load::MAX_FILE_BYTES + (1 << 20))
        .expect("grow");
    let errors = errors_of(&dir.join("inv"));
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].file.ends_with("inv/group_vars/web.yml"),
        "{errors:#?}"
    );
    assert!(
        errors[0].message.contains("larger than 128 MiB"),
        "{errors:#?}"
    );
    assert!(errors[1].file.ends_with("inv/sub/up"), "{errors:#?}");
    assert!(errors[1].message.contains("link cycle"), "{errors:#?}");
}

#[test]
fn every_problem_of_a_setting_is_reported_at_its_own_node() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(
        tmp.path(),
        "hosts.yml",
        "all:
  hosts:
    h1:
      fleetdeck_backups:
        - name: a
          kind: restik
          repository: /r
          warning_hours: soon
        - name: b
          kind: borg
          repositry: /x
      fleetdeck_drills:
        web:
          repository: a
          scratch_dir: relative
          live_paths: [/ok, rel]
",
    );
    let errors = errors_of(&tmp.path().join("hosts.yml"));
    let at: Vec<(usize, usize)> = errors.iter().map(|e| (e.line, e.column)).collect();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        at,
        [(6, 17), (8, 26), (9, 11), (11, 11), (15, 24), (16, 29)],
        "{text:#?}"
    );
    assert!(errors[0].message.contains("restik"), "{text:#?}");
    assert!(
        errors[2].message.contains("missing field `repository`"),
        "{text:#?}"
    );
    assert!(errors[3].message.contains("repositry"), "{text:#?}");
    assert!(errors[4].message.contains("web.scratch_dir"), "{text:#?}");
    assert!(errors[5].message.contains("\"rel\""), "{text:#?}");
}

#[test]
fn fleetdeck_posture_is_typed_per_host_with_group_precedence() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(
        tmp.path(),
        "hosts.yml",
        "all:
  vars:
    fleetdeck_posture:
      disk: {warning: 85}
  children:
    proxies:
      vars:
        fleetdeck_posture:
          disk: {warning: 70, critical: 80}
          mounts:
            /srv: {critical: 95}
            /var/lib/docker: {warning: 90, critical: 97}
          accept:
            - container: '{{ inventory_hostname }}-socket-proxy'
              check: docker_socket
              reason: '  filters the Docker API for traefik '
      hosts:
        edge:
  hosts:
    plain:
    untouched:
      fleetdeck_apps: []
",
    );
    let inv = Inventory::load(&tmp.path().join("hosts.yml")).expect("loads");
    let edge = &inv.host("edge").expect("edge").settings().posture;
    use crate::probes::posture::{AcceptedException, DiskThresholds};
    let t = |warning, critical| DiskThresholds { warning, critical };
    assert_eq!(edge.disk, t(70, 80));
    // A mount's missing threshold is the host's.
    assert_eq!(edge.disk_for("/srv"), t(70, 95));
    assert_eq!(edge.disk_for("/var/lib/docker"), t(90, 97));
    assert_eq!(edge.disk_for("/"), t(70, 80));
    assert_eq!(
        edge.accept,
        [AcceptedException {
            container: "edge-socket-proxy".into(),
            check: "docker_socket".into(),
            reason: "filters the Docker API for traefik".into(),
        }]
    );
    // The group's value replaces the whole variable, as Ansible's precedence does.
    let plain = &inv.host("plain").expect("plain").settings().posture;
    assert_eq!(plain.disk, t(85, 90));
    assert!(plain.mounts.is_empty() && plain.accept.is_empty());
}

#[test]
fn fleetdeck_posture_problems_are_located_and_explained() {
    let tmp = tempfile::tempdir().expect("tmp");
    write(
        tmp.path(),
        "hosts.yml",
        "all:
  hosts:
    h1:
      fleetdeck_posture:
        disk: {warning: 95, critical: 90}
        mounts:
          srv: {warning: 50}
          /data: {critcal: 99}
          /big: {warning: 0}
        accept:
          - container: proxy
            check: dokcer_socket
            reason: needed
          - container: backup
            check: host_path
            reason: '  '
          - container: x
            check: privileged
            reason: a test
            why: no
        acept: []
",
    );
    let errors = errors_of(&tmp.path().join("hosts.yml"));
    let at: Vec<(usize, usize)> = errors.iter().map(|e| (e.line, e.column)).collect();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        at,
        [
            (5, 25),
            (7, 11),
            (8, 19),
            (9, 27),
            (12, 20),
            (16, 21),
            (20, 13),
            (21, 9)
        ],
        "{text:#?}"
    );
    let has = |i: usize, needle: &str| {
        assert!(errors[i].message.contains(needle), "{i}: {text:#?}");
        assert!(errors[i].file.ends_with("hosts.yml"), "{text:#?}");
    };
    has(0, "disk: warning (95 %) must be below critical (90 %)");
    has(1, "\"srv\" is not a mount point");
    has(
        2,
        "unknown key `critcal` in `mounts./data` (did you mean `critical`?)",
    );
    has(
        3,
        "mounts./big.warning: 0 is not a percentage from 1 to 100",
    );
    has(
        4,
        "unknown check `dokcer_socket` (did you mean `docker_socket`?)",
    );
    has(4, "privileged, docker_socket, host_path");
    has(5, "needs a reason");
    has(6, "unknown key `why` in `accept`");
    has(7, "unknown key `acept` (did you mean `accept`?)");
    for e in &errors {
        assert!(e.message.contains("`fleetdeck_posture`"), "{text:#?}");
    }
}
