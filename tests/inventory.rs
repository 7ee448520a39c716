//! `fleetdeck inventory` against the real `ansible-inventory` (ansible-core from
//! PyPI): the same JSON, compared as parsed values, on several inventories; and the
//! binary's behaviour on broken ones (file:line:column on stderr, nothing on stdout,
//! non-zero exit).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/inventory").join(name)
}

fn fleetdeck(args: &[&str], inventory: &Path) -> Output {
    let tmp = tempfile::tempdir().expect("tempdir");
    Command::new(env!("CARGO_BIN_EXE_fleetdeck"))
        .args(args)
        .arg("-i")
        .arg(inventory)
        .env("FLEETDECK_LOG_FILE", tmp.path().join("log"))
        .env_remove("FLEETDECK_INVENTORY")
        .stdin(Stdio::null())
        .output()
        .expect("run fleetdeck")
}

/// The installed `ansible-inventory`. Missing means the machine was not prepared: fail
/// loudly, never skip, or the comparison would pass by not running.
fn ansible_inventory() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("ansible-inventory"))
            .find(|p| p.is_file())
    });
    on_path
        .or_else(|| {
            let venv = PathBuf::from("/opt/fleetdeck-ansible/bin/ansible-inventory");
            venv.is_file().then_some(venv)
        })
        .unwrap_or_else(|| {
            panic!(
                "ansible-inventory is not installed: run `source scripts/lib.sh && prepare_machine` \
                 (scripts/test.sh does) to install ansible-core from PyPI"
            )
        })
}

/// `ansible-inventory -i PATH ARGS`, in an empty working directory (Ansible also reads
/// group_vars/ beside the current directory) and failing on any unparsed source, so an
/// inventory Ansible could not read never compares equal to an empty one.
fn ansible(args: &[&str], inventory: &Path) -> Value {
    let cwd = tempfile::tempdir().expect("tempdir");
    let out = Command::new(ansible_inventory())
        .arg("-i")
        .arg(inventory)
        .args(args)
        .current_dir(cwd.path())
        .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true")
        .env("ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED", "true")
        .env("ANSIBLE_HOME", cwd.path().join("ansible-home"))
        .env("ANSIBLE_NOCOLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run ansible-inventory");
    assert!(
        out.status.success(),
        "ansible-inventory failed on {}:\n{}",
        inventory.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ansible-inventory printed JSON")
}

fn ours(args: &[&str], inventory: &Path) -> Value {
    let out = fleetdeck(args, inventory);
    assert!(
        out.status.success(),
        "fleetdeck inventory failed on {}:\n{}",
        inventory.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("fleetdeck printed JSON")
}

/// Both tools, `--list` (optionally limited) and `--host` for every host; returns the
/// number of hosts so callers can check the comparison was not vacuous.
fn compare(fleetdeck_source: &Path, ansible_source: &Path, limits: &[&str]) -> usize {
    let theirs = ansible(&["--list"], ansible_source);
    let mine = ours(&["inventory", "--list"], fleetdeck_source);
    assert_json_eq(
        &mine,
        &theirs,
        &format!("--list of {}", fleetdeck_source.display()),
    );
    for limit in limits {
        let theirs = ansible(&["--list", "--limit", limit], ansible_source);
        let mine = ours(&["inventory", "--list", "--limit", limit], fleetdeck_source);
        assert_json_eq(&mine, &theirs, &format!("--list --limit {limit}"));
    }
    let hosts: Vec<String> = theirs["_meta"]["hostvars"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    for host in &hosts {
        let theirs = ansible(&["--host", host], ansible_source);
        let mine = ours(&["inventory", "--host", host], fleetdeck_source);
        assert_json_eq(&mine, &theirs, &format!("--host {host}"));
    }
    hosts.len()
}

fn assert_json_eq(mine: &Value, theirs: &Value, what: &str) {
    if mine != theirs {
        panic!(
            "{what}: fleetdeck and ansible-inventory differ\n--- ansible-inventory\n{}\n--- fleetdeck\n{}",
            serde_json::to_string_pretty(theirs).unwrap_or_default(),
            serde_json::to_string_pretty(mine).unwrap_or_default()
        );
    }
}

#[test]
fn inventory_example_lists_as_ansible_does() {
    // Ansible's yaml plugin only takes .yml/.yaml/.json or no extension, so it reads a
    // copy; fleetdeck reads inventory.example itself (a file given with -i is YAML).
    let tmp = tempfile::tempdir().expect("tempdir");
    let copy = tmp.path().join("inventory.yml");
    std::fs::copy(repo().join("inventory.example"), &copy).expect("copy");
    let hosts = compare(
        &repo().join("inventory.example"),
        &copy,
        &[
            "canary",
            "client-*",
            "production:!client-umbrella",
            "all:&production",
        ],
    );
    assert!(
        hosts >= 5,
        "the example models a fleet, found {hosts} hosts"
    );
}

#[test]
fn nested_groups_with_group_vars_and_host_vars_list_as_ansible_does() {
    let dir = fixture("nested");
    let hosts = compare(
        &dir.join("hosts.yml"),
        &dir.join("hosts.yml"),
        &["web", "web_eu:staging"],
    );
    assert_eq!(hosts, 6);
}

#[test]
fn a_host_in_conflicting_groups_resolves_as_ansible_does() {
    let path = fixture("conflicts.yml");
    assert_eq!(compare(&path, &path, &["gamma_child"]), 2);
    // And the winning values are the ones precedence predicts, not just "equal".
    let mine = ours(&["inventory", "--host", "shared"], &path);
    assert_eq!(
        mine["color"], "red",
        "alpha: depth 1, priority 10 wins over gamma (5)"
    );
    assert_eq!(mine["weight"], 2, "gamma_child is deeper than gamma");
    assert_eq!(
        mine["settings"],
        serde_json::json!({"a": 1}),
        "replaced, not merged"
    );
    assert_eq!(mine["size"], "small", "host vars: the last definition wins");
}

#[test]
fn a_directory_of_several_files_lists_as_ansible_does() {
    let dir = fixture("multi");
    assert_eq!(compare(&dir, &dir, &["!production", "client-[ab]"]), 5);
}

#[test]
#[ignore = "needs a running lab: scripts/test.sh sets FLEETDECK_LAB_DIR"]
fn the_lab_inventory_lists_as_ansible_does() {
    let dir = std::env::var_os("FLEETDECK_LAB_DIR")
        .map(PathBuf::from)
        .expect("FLEETDECK_LAB_DIR is not set: run through scripts/test.sh");
    let inventory = dir.join("inventory.yml");
    assert!(inventory.is_file(), "no {}", inventory.display());
    assert!(compare(&inventory, &inventory, &["production"]) >= 3);
}

/// A broken inventory: non-zero exit, nothing on stdout, `file:line:column` on stderr.
fn broken(text: &str) -> (String, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("hosts.yml");
    std::fs::write(&path, text).expect("write");
    let out = fleetdeck(&["inventory", "--list"], &path);
    assert!(!out.status.success(), "accepted a broken inventory");
    assert!(
        out.stdout.is_empty(),
        "printed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    (String::from_utf8_lossy(&out.stderr).into_owned(), path)
}

#[test]
fn a_misspelled_setting_is_reported_with_file_line_column_and_the_right_name() {
    let (stderr, path) = broken(
        "all:\n  hosts:\n    client-acme:\n      ansible_host: 192.0.2.1\n      fleetdeck_aps: [traefik]\n",
    );
    let at = format!("{}:5:7:", path.display());
    assert!(stderr.contains(&at), "expected {at} in: {stderr}");
    assert!(stderr.contains("fleetdeck_aps"), "{stderr}");
    assert!(stderr.contains("did you mean `fleetdeck_apps`"), "{stderr}");
}

#[test]
fn a_wrong_type_is_reported_where_the_value_is_with_the_expected_type() {
    let (stderr, path) = broken(
        "production:\n  vars:\n    fleetdeck_backups:\n      name: app-data\n      kind: restic\n",
    );
    let at = format!("{}:4:7:", path.display());
    assert!(stderr.contains(&at), "expected {at} in: {stderr}");
    assert!(stderr.contains("fleetdeck_backups"), "{stderr}");
    assert!(stderr.contains("list of backup repositories"), "{stderr}");
}

#[test]
fn malformed_yaml_is_reported_with_its_position_and_all_errors_are_listed() {
    let (stderr, path) = broken("all:\n  hosts:\n    a:\n      fleetdeck_apps: {x: 1}\n    b: [\n");
    // A syntax error stops that file; it is still reported with its position.
    let prefix = format!("{}:", path.display());
    let located: Vec<&str> = stderr.lines().filter(|l| l.contains(&prefix)).collect();
    assert_eq!(located.len(), 1, "{stderr}");
    assert!(located[0].contains("YAML syntax error"), "{stderr}");

    // Two problems in one file: both reported, in order.
    let (stderr, path) = broken(
        "all:\n  hosts:\n    a:\n      fleetdeck_apps: {x: 1}\n      fleetdeck_host_key: MD5:00\n",
    );
    let first = stderr.find(&format!("{}:4:23:", path.display()));
    let second = stderr.find(&format!("{}:5:27:", path.display()));
    assert!(
        first.is_some() && second.is_some() && first < second,
        "{stderr}"
    );
}

#[test]
fn an_unknown_limit_is_an_error_not_an_empty_fleet() {
    let out = fleetdeck(
        &["inventory", "--list", "--limit", "client-nosuch"],
        &repo().join("inventory.example"),
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Could not match supplied host pattern"),
        "{stderr}"
    );
}

#[test]
fn the_environment_variable_names_the_inventory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_fleetdeck"))
        .args(["inventory", "--host", "client-acme"])
        .env("FLEETDECK_INVENTORY", repo().join("inventory.example"))
        .env("FLEETDECK_LOG_FILE", tmp.path().join("log"))
        .stdin(Stdio::null())
        .output()
        .expect("run fleetdeck");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vars: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(vars["fleetdeck_apps"].is_array(), "{vars}");
}
