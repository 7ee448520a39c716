//! `fleetdeck_posture`: disk thresholds and accepted container posture exceptions,
//! checked where they are written. Keys are checked first (so a misspelled one gets a
//! "did you mean"), then types (serde, located by `de`), then values against each
//! other, each problem at its own node.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::de::from_node;
use super::yaml::{Mark, Node, Value};
use crate::probes::posture::containers::CONTAINER_CHECKS;
use crate::probes::posture::{AcceptedException, DiskThresholds, PosturePolicy};
use crate::util::suggest::{self, Nearness};

/// What `KNOWN` in settings.rs says the variable holds.
pub(super) const EXPECTED: &str = "a mapping with optional disk ({warning, critical} percent), \
     mounts (mount point → {warning, critical}) and accept (a list of {container, check, reason})";

const TOP_KEYS: &[&str] = &["disk", "mounts", "accept"];
const THRESHOLD_KEYS: &[&str] = &["warning", "critical"];
const ACCEPT_KEYS: &[&str] = &["container", "check", "reason"];

type Located = (Option<Mark>, String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    disk: Option<RawThresholds>,
    #[serde(default)]
    mounts: BTreeMap<String, RawThresholds>,
    #[serde(default)]
    accept: Vec<RawAccept>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    warning: Option<u32>,
    critical: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccept {
    container: String,
    check: String,
    reason: String,
}

/// The policy `node` declares, or its first problem (where it is, when known).
pub(super) fn parse(node: &Node) -> Result<PosturePolicy, Located> {
    check_keys(node)?;
    let raw: Raw = from_node(node).map_err(|e| (e.mark, e.message))?;
    let disk_node = entry(node, "disk");
    let disk = thresholds(raw.disk, DiskThresholds::default(), disk_node, "disk")?;
    let mut mounts = BTreeMap::new();
    for (mount, value) in &raw.mounts {
        let located = entry(node, "mounts").and_then(|mounts| pair(mounts, mount));
        let (key, value_node) = (located.map(|(k, _)| k), located.map(|(_, v)| v));
        if !mount.starts_with('/') {
            return Err((
                key.map(|k| k.mark),
                format!("mounts: {mount:?} is not a mount point (an absolute path)"),
            ));
        }
        let what = format!("mounts.{mount}");
        mounts.insert(
            mount.clone(),
            thresholds(Some(*value), disk, value_node, &what)?,
        );
    }
    let items = entry(node, "accept").and_then(|n| match &n.value {
        Value::Seq(items) => Some(items.as_slice()),
        _ => None,
    });
    let mut accept = Vec::new();
    for (i, raw) in raw.accept.into_iter().enumerate() {
        let item = items.and_then(|items| items.get(i));
        let at = |field: &str| item.and_then(|n| entry(n, field)).or(item).map(|n| n.mark);
        if raw.container.trim().is_empty() {
            return Err((at("container"), "accept: `container` is empty".to_owned()));
        }
        if !CONTAINER_CHECKS.contains(&raw.check.as_str()) && !templated(&raw.check) {
            return Err((
                at("check"),
                format!(
                    "accept: unknown check `{}`{}; the container checks are {}",
                    raw.check,
                    suggest::did_you_mean(
                        &raw.check,
                        CONTAINER_CHECKS.iter().copied(),
                        Nearness::Edits(3)
                    ),
                    CONTAINER_CHECKS.join(", ")
                ),
            ));
        }
        if raw.reason.trim().is_empty() {
            return Err((
                at("reason"),
                format!(
                    "accept: the exception for `{}` ({}) needs a reason: the console shows it",
                    raw.container, raw.check
                ),
            ));
        }
        accept.push(AcceptedException {
            container: raw.container,
            check: raw.check,
            reason: raw.reason.trim().to_owned(),
        });
    }
    Ok(PosturePolicy {
        disk,
        mounts,
        accept,
    })
}

/// Thresholds with what is missing taken from `fallback`, checked: percentages
/// 1..=100, warning below critical.
fn thresholds(
    raw: Option<RawThresholds>,
    fallback: DiskThresholds,
    node: Option<&Node>,
    what: &str,
) -> Result<DiskThresholds, Located> {
    let Some(raw) = raw else {
        return Ok(fallback);
    };
    let at = |field: &str| node.and_then(|n| entry(n, field)).or(node).map(|n| n.mark);
    let percent = |value: Option<u32>, field: &str, default: u8| match value {
        None => Ok(default),
        Some(p @ 1..=100) => Ok(u8::try_from(p).unwrap_or(100)),
        Some(p) => Err((
            at(field),
            format!("{what}.{field}: {p} is not a percentage from 1 to 100"),
        )),
    };
    let warning = percent(raw.warning, "warning", fallback.warning)?;
    let critical = percent(raw.critical, "critical", fallback.critical)?;
    if warning >= critical {
        return Err((
            at("warning"),
            format!("{what}: warning ({warning} %) must be below critical ({critical} %)"),
        ));
    }
    Ok(DiskThresholds { warning, critical })
}

/// Unknown keys anywhere in the value, each with the nearest known one.
fn check_keys(node: &Node) -> Result<(), Located> {
    known_keys(node, TOP_KEYS, "")?;
    if let Some(disk) = entry(node, "disk") {
        known_keys(disk, THRESHOLD_KEYS, "disk")?;
    }
    if let Some(Value::Map(pairs)) = entry(node, "mounts").map(|n| &n.value) {
        for (key, value) in pairs {
            let mount = key.key_string().unwrap_or_default();
            known_keys(value, THRESHOLD_KEYS, &format!("mounts.{mount}"))?;
        }
    }
    if let Some(Value::Seq(items)) = entry(node, "accept").map(|n| &n.value) {
        for item in items {
            known_keys(item, ACCEPT_KEYS, "accept")?;
        }
    }
    Ok(())
}

fn known_keys(node: &Node, known: &[&str], within: &str) -> Result<(), Located> {
    let Value::Map(pairs) = &node.value else {
        return Ok(());
    };
    for (key, _) in pairs {
        let name = key.key_string().unwrap_or_default();
        if known.contains(&name.as_str()) {
            continue;
        }
        let place = if within.is_empty() {
            String::new()
        } else {
            format!(" in `{within}`")
        };
        return Err((
            Some(key.mark),
            format!(
                "unknown key `{name}`{place}{}; known: {}",
                suggest::did_you_mean(&name, known.iter().copied(), Nearness::Edits(3)),
                known.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The value of `key` in the mapping `node`.
fn entry<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    pair(node, key).map(|(_, value)| value)
}

/// The key and value nodes of `key` in the mapping `node`.
fn pair<'a>(node: &'a Node, key: &str) -> Option<(&'a Node, &'a Node)> {
    match &node.value {
        Value::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| k.key_string().as_deref() == Some(key))
            .map(|(k, v)| (k, v)),
        _ => None,
    }
}

fn templated(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}
