//! Facts the docs state that drift when the code moves: the keymap table of
//! docs/console.md against both shipped keymaps, and the JSON fields of
//! docs/status.md against what a lab `status --json` prints.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

fn read(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text between backticks, in order: "`a`, `b` c" gives ["a", "b"].
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The cells of a Markdown table row (`| a | b |`), trimmed.
fn cells(line: &str) -> Vec<&str> {
    let line = line.trim();
    let inner = line
        .strip_prefix('|')
        .and_then(|l| l.strip_suffix('|'))
        .unwrap_or(line);
    inner.split('|').map(str::trim).collect()
}

/// (view, action) → the set of key chords, for one keymap.
type Bindings = BTreeMap<(String, String), BTreeSet<String>>;

/// The bindings of a shipped keymap file.
fn keymap_file(name: &str) -> Bindings {
    let text = read(&format!("keymaps/{name}.yaml"));
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("keymaps/{name}.yaml: {e}"));
    let mut bindings = Bindings::new();
    let sections = yaml
        .as_mapping()
        .unwrap_or_else(|| panic!("keymaps/{name}.yaml is a mapping of views"));
    for (view, list) in sections {
        let view = view.as_str().expect("a view name").to_owned();
        for binding in list.as_sequence().expect("a list of bindings") {
            let action = binding["action"].as_str().expect("an action").to_owned();
            let keys: Vec<String> = match &binding["keys"] {
                serde_yaml::Value::String(one) => vec![one.clone()],
                serde_yaml::Value::Sequence(many) => many
                    .iter()
                    .map(|k| k.as_str().expect("a key chord").to_owned())
                    .collect(),
                other => panic!("keymaps/{name}.yaml: keys {other:?}"),
            };
            bindings
                .entry((view.clone(), action))
                .or_default()
                .extend(keys);
        }
    }
    bindings
}

/// A cell of the doc's keymap table: "overview, timeline: `/`; host: `l`".
fn doc_cell(action: &str, cell: &str, into: &mut Bindings) {
    for part in cell.split(';') {
        let (views, keys) = part
            .split_once(':')
            .unwrap_or_else(|| panic!("`{action}`: \"{part}\" is not `views: keys`"));
        let keys: BTreeSet<String> = backticked(keys).into_iter().collect();
        assert!(!keys.is_empty(), "`{action}`: no keys in \"{part}\"");
        for view in views.split(',') {
            into.entry((view.trim().to_owned(), action.to_owned()))
                .or_default()
                .extend(keys.iter().cloned());
        }
    }
}

/// Every binding the table in docs/console.md ("Shipped keymaps") lists is in the
/// keymap it names, with the same keys, and every binding of both shipped keymaps is
/// in the table: no action documented that a keymap lacks, none shipped undocumented.
#[test]
fn the_keymap_table_in_console_md_matches_both_shipped_keymaps() {
    let doc = read("docs/console.md");
    let start = doc
        .find("| Action | Does | `default` | `arrows` |")
        .expect("docs/console.md has the keymap table");
    let mut documented = [Bindings::new(), Bindings::new()];
    let mut actions = BTreeSet::new();
    for line in doc[start..].lines().skip(2) {
        if !line.starts_with('|') {
            break;
        }
        let row = cells(line);
        assert_eq!(row.len(), 4, "docs/console.md: {line}");
        let action = backticked(row[0]).concat();
        assert!(!action.is_empty(), "docs/console.md: {line}");
        assert!(actions.insert(action.clone()), "`{action}` listed twice");
        doc_cell(&action, row[2], &mut documented[0]);
        doc_cell(&action, row[3], &mut documented[1]);
    }
    assert!(actions.len() > 20, "the table was read: {actions:?}");
    for (keymap, documented) in ["default", "arrows"].into_iter().zip(documented) {
        let shipped = keymap_file(keymap);
        let mut problems = Vec::new();
        for ((view, action), keys) in &documented {
            match shipped.get(&(view.clone(), action.clone())) {
                None => problems.push(format!(
                    "docs/console.md says {keymap} binds `{action}` in {view}; keymaps/{keymap}.yaml does not"
                )),
                Some(bound) if bound != keys => problems.push(format!(
                    "`{action}` in {view}: docs/console.md says {keys:?}, keymaps/{keymap}.yaml binds {bound:?}"
                )),
                Some(_) => {}
            }
        }
        for (view, action) in shipped.keys() {
            if !documented.contains_key(&(view.clone(), action.clone())) {
                problems.push(format!(
                    "keymaps/{keymap}.yaml binds `{action}` in {view}; docs/console.md does not say so"
                ));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        // "Every action is bound in both": each documented action, in some view.
        for action in &actions {
            assert!(
                shipped.keys().any(|(_, a)| a == action),
                "`{action}` is not bound in keymaps/{keymap}.yaml"
            );
        }
    }
}

/// The JSON tables of docs/status.md, up to the audit log: section title → the field
/// names its table lists (a cell may name several: "`host`, `port`, `server_name`").
fn documented_json_fields() -> BTreeMap<String, Vec<String>> {
    let doc = read("docs/status.md");
    let start = doc
        .find("## JSON")
        .expect("docs/status.md has a JSON section");
    let end = doc[start..]
        .find("\n## ")
        .map_or(doc.len(), |offset| start + offset);
    let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in doc[start..end].lines() {
        if let Some(title) = line.strip_prefix("### ") {
            current = Some(title.trim().to_owned());
            continue;
        }
        let Some(section) = &current else { continue };
        if !line.starts_with('|') || line.starts_with("| field") || line.starts_with("|---") {
            continue;
        }
        let row = cells(line);
        sections
            .entry(section.clone())
            .or_default()
            .extend(backticked(row[0]));
    }
    sections
}

/// Every JSON field docs/status.md documents appears in a lab `status --json`, and
/// every field that output has is documented.
#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn every_json_field_in_status_md_is_in_a_lab_status() {
    let state = common::lab();
    let out = std::process::Command::new(common::bin())
        .args(["status", "--json", "-i"])
        .arg(state.plan.dir.join("inventory.yml"))
        .output()
        .expect("running fleetdeck status");
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status --json is JSON ({e}): {}", common::stderr(&out)));
    let hosts = json["hosts"].as_array().expect("hosts");
    let each = |pick: &dyn Fn(&Value) -> Vec<Value>| -> Vec<Value> {
        hosts.iter().flat_map(pick).collect()
    };
    let objects: BTreeMap<&str, Vec<Value>> = BTreeMap::from([
        ("Top level (`status --json`)", vec![json.clone()]),
        ("`hosts[]`", hosts.clone()),
        ("`containers[]`", each(&list_of("containers"))),
        ("`backups[]`", each(&list_of("backups"))),
        ("`last_drill`", each(&object_of("last_drill"))),
        ("`facts`", each(&object_of("facts"))),
        ("`certs[]`", each(&list_of("certs"))),
        ("`firewall`", each(&object_of("firewall"))),
        ("`resources`", each(&object_of("resources"))),
        ("`posture`", each(&object_of("posture"))),
        (
            "`findings[]`",
            each(&|h: &Value| {
                [&h["posture"]["findings"], &h["resources"]["findings"]]
                    .into_iter()
                    .flat_map(|list| list.as_array().cloned().unwrap_or_default())
                    .collect()
            }),
        ),
        ("`apps`", each(&object_of("apps"))),
        (
            "`apps[]`",
            each(&|h: &Value| h["apps"]["apps"].as_array().cloned().unwrap_or_default()),
        ),
    ]);
    let documented = documented_json_fields();
    let mut problems = Vec::new();
    for (section, fields) in &documented {
        let Some(seen) = objects.get(section.as_str()) else {
            problems.push(format!(
                "docs/status.md: a section this test does not know: {section}"
            ));
            continue;
        };
        assert!(
            !seen.is_empty(),
            "the lab's status has no {section}: {json}"
        );
        let keys: BTreeSet<&str> = seen
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|o| o.keys().map(String::as_str))
            .collect();
        for field in fields {
            if !keys.contains(field.as_str()) {
                problems.push(format!(
                    "docs/status.md documents `{field}` in {section}; status --json has no such field"
                ));
            }
        }
        for key in keys {
            if !fields.iter().any(|f| f == key) {
                problems.push(format!(
                    "status --json has `{key}` in {section}; docs/status.md does not document it"
                ));
            }
        }
    }
    for section in objects.keys() {
        if !documented.contains_key(*section) {
            problems.push(format!("docs/status.md has no table for {section}"));
        }
    }
    // The per-signal fields, documented in the `signals` row of `hosts[]`.
    let doc = read("docs/status.md");
    let row = doc
        .lines()
        .find(|l| l.starts_with("| `signals` |"))
        .expect("the signals row");
    let named: BTreeSet<String> = backticked(row).into_iter().skip(1).collect();
    for host in hosts {
        let signals = host["signals"].as_object().expect("signals");
        for (signal, fields) in signals {
            if !named.contains(signal) {
                problems.push(format!("signals.{signal} is not documented"));
            }
            for field in fields.as_object().expect("a signal").keys() {
                if !named.contains(field) {
                    problems.push(format!("signals.{signal}.{field} is not documented"));
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The objects in a host's array `key`.
fn list_of(key: &'static str) -> impl Fn(&Value) -> Vec<Value> {
    move |h: &Value| h[key].as_array().cloned().unwrap_or_default()
}

/// A host's object `key`, when it is not null.
fn object_of(key: &'static str) -> impl Fn(&Value) -> Vec<Value> {
    move |h: &Value| {
        h[key]
            .is_object()
            .then(|| h[key].clone())
            .into_iter()
            .collect()
    }
}
