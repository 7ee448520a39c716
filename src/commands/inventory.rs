//! `fleetdeck inventory --list | --host HOST`: the inventory as `ansible-inventory`
//! prints it. Problems go to stderr, one `file:line:column: message` per line, and
//! stdout stays empty so a pipe never receives half an inventory.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use color_eyre::eyre::Result;

use super::Context;
use crate::cli::InventoryArgs;
use crate::inventory::{INVENTORY_ENV, Inventory};

/// Runs `inventory`: exit 0 printed, 1 failed.
pub async fn run(ctx: &Context, args: &InventoryArgs) -> Result<ExitCode> {
    Ok(ExitCode::from(print(
        ctx.inventory.as_deref(),
        ctx.limit.as_deref(),
        args,
    )))
}

/// Prints the inventory; returns the exit code.
fn print(inventory: Option<&Path>, limit: Option<&str>, args: &InventoryArgs) -> u8 {
    match render(inventory, limit, args) {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
                return 1;
            }
            0
        }
        Err(message) => {
            eprintln!("{message}");
            1
        }
    }
}

/// The text to print, or everything that went wrong.
fn render(
    inventory: Option<&Path>,
    limit: Option<&str>,
    args: &InventoryArgs,
) -> Result<String, String> {
    let Some(path) = inventory else {
        return Err(format!(
            "fleetdeck: no inventory: pass -i PATH (a YAML file or a directory) or set {INVENTORY_ENV}"
        ));
    };
    let inv = Inventory::load(path).map_err(|e| format!("fleetdeck: {e}"))?;
    for w in inv.warnings() {
        eprintln!("[WARNING]: {w}");
    }
    let value = match &args.host {
        Some(host) => inv.to_ansible_host_json(host).ok_or_else(|| {
            format!("fleetdeck: no host {host:?} in the inventory (--host takes one host name)")
        })?,
        None => inv
            .to_ansible_list_json(limit)
            .map_err(|e| format!("fleetdeck: --limit {}: {e}", limit.unwrap_or_default()))?,
    };
    Ok(pretty(&sorted(value)))
}

/// Keys sorted at every level, as `json.dumps(sort_keys=True)`.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Four-space indentation, as `ansible-inventory` prints.
fn pretty(value: &serde_json::Value) -> String {
    use serde::Serialize as _;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    // Serializing a Value into memory cannot fail.
    let _ = value.serialize(&mut ser);
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_sorted_and_indented_like_ansible() {
        let v = serde_json::json!({"b": 1, "a": {"d": [1], "c": 2}});
        assert_eq!(
            pretty(&sorted(v)),
            "{\n    \"a\": {\n        \"c\": 2,\n        \"d\": [\n            1\n        ]\n    },\n    \"b\": 1\n}"
        );
    }

    #[test]
    fn a_missing_inventory_says_how_to_give_one() {
        let args = InventoryArgs {
            list: true,
            host: None,
        };
        let err = render(None, None, &args).expect_err("no inventory");
        assert!(
            err.contains("-i PATH") && err.contains(INVENTORY_ENV),
            "{err}"
        );
    }
}
