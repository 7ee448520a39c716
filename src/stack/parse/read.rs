//! The typed readers every section of the walk uses: a string, a number, a boolean,
//! a mapping or a list from a node, each reporting a wrong type at the node's position.

use std::time::Duration;

use super::STACK_NEARNESS;
use super::{Cx, kind};
use crate::inventory::yaml::{Mark, Node, Value};
use crate::util::suggest::did_you_mean;

impl Cx<'_> {
    pub(super) fn err(&mut self, mark: Mark, message: impl Into<String>) {
        self.problems.push((mark, message.into()));
    }

    pub(super) fn unsupported(&mut self, key: &Node, path: &str, supported: &[&str]) {
        let name = key.as_str().unwrap_or("?");
        self.err(
            key.mark,
            format!(
                "unsupported key `{path}`: supported here: {}{}",
                supported.join(", "),
                did_you_mean(name, supported.iter().copied(), STACK_NEARNESS)
            ),
        );
    }

    /// A mapping key: a plain string, never templated.
    pub(super) fn key<'n>(&mut self, k: &'n Node) -> Option<&'n str> {
        match k.as_str() {
            Some(s) if s.contains("{{") || s.contains("{%") => {
                self.err(k.mark, format!("templates are not allowed in keys: {s:?}"));
                None
            }
            Some(s) => Some(s),
            None => {
                self.err(k.mark, format!("expected a string key, found {}", kind(k)));
                None
            }
        }
    }

    /// A string, templated.
    pub(super) fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => match self.tpl.render(s) {
                Ok(t) => Some(t),
                Err(e) => {
                    self.err(node.mark, e);
                    None
                }
            },
            _ => {
                self.err(
                    node.mark,
                    format!("{what} must be a string, found {}", kind(node)),
                );
                None
            }
        }
    }

    /// A string (templated) or a number, as text.
    pub(super) fn scalar(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(_) => self.text(node, what),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) if f.is_finite() => Some(f.to_string()),
            Value::Bool(_) => {
                self.err(
                    node.mark,
                    format!(
                        "{what} is a YAML boolean; quote it (\"true\", \"yes\") to mean the text"
                    ),
                );
                None
            }
            _ => {
                self.err(
                    node.mark,
                    format!("{what} must be a string or a number, found {}", kind(node)),
                );
                None
            }
        }
    }

    /// An integer, or a (templated) string holding one.
    pub(super) fn int(&mut self, node: &Node, what: &str) -> Option<i128> {
        match &node.value {
            Value::Int(i) => Some(*i),
            Value::Str(_) => {
                let t = self.text(node, what)?;
                match t.trim().parse::<i128>() {
                    Ok(i) => Some(i),
                    Err(_) => {
                        self.err(
                            node.mark,
                            format!("{what} must be a whole number, found {t:?}"),
                        );
                        None
                    }
                }
            }
            _ => {
                self.err(
                    node.mark,
                    format!("{what} must be a whole number, found {}", kind(node)),
                );
                None
            }
        }
    }

    pub(super) fn int_in(&mut self, node: &Node, what: &str, min: i128, max: i128) -> Option<i128> {
        let i = self.int(node, what)?;
        if i < min || i > max {
            self.err(
                node.mark,
                format!("{what} must be between {min} and {max}, found {i}"),
            );
            return None;
        }
        Some(i)
    }

    /// A number, or a (templated) string holding one.
    pub(super) fn number(&mut self, node: &Node, what: &str) -> Option<f64> {
        let value = match &node.value {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(_) => {
                let t = self.text(node, what)?;
                t.trim().parse::<f64>().ok()
            }
            _ => None,
        };
        match value {
            Some(v) if v.is_finite() => Some(v),
            _ => {
                self.err(node.mark, format!("{what} must be a number"));
                None
            }
        }
    }

    /// Seconds (a positive number), as a duration.
    pub(super) fn seconds(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let v = self.number(node, what)?;
        if v <= 0.0 || v > 86_400.0 {
            self.err(
                node.mark,
                format!("{what} is seconds, above 0 and at most 86400; found {v}"),
            );
            return None;
        }
        Some(Duration::from_secs_f64(v))
    }

    /// A boolean, or a (templated) string `true`/`false`.
    pub(super) fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            Value::Str(_) => {
                let t = self.text(node, what)?;
                match t.trim() {
                    "true" | "True" => Some(true),
                    "false" | "False" => Some(false),
                    other => {
                        self.err(
                            node.mark,
                            format!("{what} must be true or false, found {other:?}"),
                        );
                        None
                    }
                }
            }
            _ => {
                self.err(
                    node.mark,
                    format!("{what} must be true or false, found {}", kind(node)),
                );
                None
            }
        }
    }

    pub(super) fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        match &node.value {
            Value::Map(pairs) => Some(pairs),
            _ => {
                self.err(
                    node.mark,
                    format!("{what} must be a mapping, found {}", kind(node)),
                );
                None
            }
        }
    }

    /// A mapping, or nothing (`name:` alone) as an empty one.
    pub(super) fn map_or_null<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
    ) -> Option<&'n [(Node, Node)]> {
        if node.is_null() {
            Some(&[])
        } else {
            self.map(node, what)
        }
    }

    pub(super) fn seq<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            _ => {
                self.err(
                    node.mark,
                    format!("{what} must be a list, found {}", kind(node)),
                );
                None
            }
        }
    }

    pub(super) fn string_list(&mut self, node: &Node, what: &str) -> Vec<(String, Mark)> {
        let Some(items) = self.seq(node, what) else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| self.text(item, what).map(|t| (t, item.mark)))
            .collect()
    }

    /// `labels`-style values: a mapping, or a list of `K=V`.
    pub(super) fn key_values(
        &mut self,
        node: &Node,
        what: &str,
        null_is_empty: bool,
    ) -> Vec<(String, String, Mark)> {
        let mut out: Vec<(String, String, Mark)> = Vec::new();
        match &node.value {
            Value::Map(pairs) => {
                for (k, v) in pairs {
                    let Some(key) = self.key(k) else { continue };
                    let value = if v.is_null() {
                        if null_is_empty {
                            Some(String::new())
                        } else {
                            self.err(
                                v.mark,
                                format!(
                                    "{what} `{key}` has no value; fleetdeck passes none of its own \
                                     environment: give one (a template from the inventory is fine)"
                                ),
                            );
                            None
                        }
                    } else {
                        self.scalar(v, &format!("{what} `{key}`"))
                    };
                    if let Some(value) = value {
                        out.push((key.to_string(), value, k.mark));
                    }
                }
            }
            Value::Seq(items) => {
                for item in items {
                    let Some(t) = self.text(item, what) else {
                        continue;
                    };
                    let (k, v) = match t.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None if null_is_empty => (t.clone(), String::new()),
                        None => {
                            self.err(
                                item.mark,
                                format!(
                                    "{what} {t:?} has no value: write `NAME=value`; fleetdeck \
                                     passes none of its own environment"
                                ),
                            );
                            continue;
                        }
                    };
                    if out.iter().any(|(seen, _, _)| *seen == k) {
                        self.err(item.mark, format!("{what} `{k}` is given twice"));
                        continue;
                    }
                    out.push((k, v, item.mark));
                }
            }
            _ => self.err(
                node.mark,
                format!(
                    "{what} must be a mapping or a list of `NAME=value`, found {}",
                    kind(node)
                ),
            ),
        }
        out
    }
}
