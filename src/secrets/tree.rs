//! A decrypted secret file's structure: mappings (in file order), lists and typed
//! scalars whose bytes live in [`SecretValue`]s.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use super::{SecretValue, SecretsError};

/// The type a scalar had in the file, so it prints back as it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    Str,
    Int,
    Float,
    Bool,
    /// SOPS's `bytes` type (binary values); printed as text when it is UTF-8.
    Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    pub kind: ScalarKind,
    /// The value as text (`true`, `42`, `1.5`, or the string itself).
    pub value: SecretValue,
}

impl Scalar {
    pub fn string(bytes: Vec<u8>) -> Scalar {
        Scalar {
            kind: ScalarKind::Str,
            value: SecretValue::new(bytes),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
    Scalar(Scalar),
    Null,
}

impl Node {
    /// Flat keys (`a.b`, `list.0`) to values; nulls are left out.
    pub fn flatten(&self) -> BTreeMap<String, SecretValue> {
        let mut out = BTreeMap::new();
        flatten_into(self, String::new(), &mut out);
        out
    }

    /// The tree as YAML text, values in the clear: for the explicit reveal (`decrypt`)
    /// and the editor's temporary file. The returned string is zeroized on drop; the
    /// YAML emitter's own buffers are not (short-lived, in a short-lived command).
    pub fn to_yaml(&self) -> Result<Zeroizing<String>, SecretsError> {
        let value = self.to_yaml_value();
        if matches!(&value, serde_yaml::Value::Mapping(m) if m.is_empty()) {
            return Ok(Zeroizing::new("{}\n".to_owned()));
        }
        let text = serde_yaml::to_string(&value)
            .map_err(|e| SecretsError::input(format!("cannot write YAML: {e}")))?;
        Ok(Zeroizing::new(text))
    }

    fn to_yaml_value(&self) -> serde_yaml::Value {
        use serde_yaml::Value;
        match self {
            Node::Null => Value::Null,
            Node::List(items) => Value::Sequence(items.iter().map(Node::to_yaml_value).collect()),
            Node::Map(entries) => Value::Mapping(
                entries
                    .iter()
                    .map(|(k, v)| (Value::String(k.clone()), v.to_yaml_value()))
                    .collect(),
            ),
            Node::Scalar(s) => {
                let text = String::from_utf8_lossy(s.value.expose());
                match s.kind {
                    ScalarKind::Int => match text.parse::<i64>() {
                        Ok(i) => Value::Number(i.into()),
                        Err(_) => Value::String(text.into_owned()),
                    },
                    ScalarKind::Float => match text.parse::<f64>() {
                        Ok(f) => Value::Number(f.into()),
                        Err(_) => Value::String(text.into_owned()),
                    },
                    ScalarKind::Bool => match text.as_ref() {
                        "true" => Value::Bool(true),
                        "false" => Value::Bool(false),
                        _ => Value::String(text.into_owned()),
                    },
                    ScalarKind::Str | ScalarKind::Bytes => Value::String(text.into_owned()),
                }
            }
        }
    }

    /// The value at a flat key (`a.b`, `list.0`), for `decrypt --key`.
    pub fn lookup(&self, key: &str) -> Option<&Node> {
        if key.is_empty() {
            return Some(self);
        }
        match self {
            Node::Map(entries) => {
                // Keys may themselves contain dots: try the longest matching key first.
                let mut candidates: Vec<&(String, Node)> = entries
                    .iter()
                    .filter(|(k, _)| key == k || key.starts_with(&format!("{k}.")))
                    .collect();
                candidates.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
                candidates.into_iter().find_map(|(k, v)| {
                    let rest = key[k.len()..].strip_prefix('.').unwrap_or("");
                    v.lookup(rest)
                })
            }
            Node::List(items) => {
                let (index, rest) = key.split_once('.').unwrap_or((key, ""));
                items.get(index.parse::<usize>().ok()?)?.lookup(rest)
            }
            Node::Scalar(_) | Node::Null => None,
        }
    }
}

fn flatten_into(node: &Node, prefix: String, out: &mut BTreeMap<String, SecretValue>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match node {
        Node::Null => {}
        Node::Scalar(s) => {
            out.insert(prefix, s.value.clone());
        }
        Node::Map(entries) => {
            for (k, v) in entries {
                flatten_into(v, join(k), out);
            }
        }
        Node::List(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten_into(v, join(&i.to_string()), out);
            }
        }
    }
}

/// `a mapping`, `a list`, … for error messages.
pub(crate) fn yaml_type_name(v: &serde_yaml::Value) -> &'static str {
    use serde_yaml::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// A mapping key as text: strings as they are, numbers and booleans as written.
pub(crate) fn key_text(k: &serde_yaml::Value, parent: &str) -> Result<String, SecretsError> {
    use serde_yaml::Value;
    match k {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(SecretsError::input(format!(
            "keys must be strings, not {}",
            yaml_type_name(other)
        ))
        .at_field(if parent.is_empty() {
            "(top level)"
        } else {
            parent
        })),
    }
}

pub(crate) fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Node {
        Node::Scalar(Scalar::string(v.as_bytes().to_vec()))
    }

    fn tree() -> Node {
        Node::Map(vec![
            (
                "db".into(),
                Node::Map(vec![
                    ("password".into(), s("pw")),
                    (
                        "port".into(),
                        Node::Scalar(Scalar {
                            kind: ScalarKind::Int,
                            value: SecretValue::new(b"5432".to_vec()),
                        }),
                    ),
                ]),
            ),
            ("list".into(), Node::List(vec![s("a"), s("b")])),
            ("a.b".into(), s("dotted")),
            ("nothing".into(), Node::Null),
        ])
    }

    #[test]
    fn flattens_with_dots_and_indices() {
        let flat = tree().flatten();
        let keys: Vec<&str> = flat.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a.b", "db.password", "db.port", "list.0", "list.1"]);
        assert_eq!(flat["db.port"].expose(), b"5432");
    }

    #[test]
    fn looks_up_flat_keys() {
        let t = tree();
        let value = |k: &str| match t.lookup(k) {
            Some(Node::Scalar(s)) => s.value.expose_str().map(str::to_owned),
            _ => None,
        };
        assert_eq!(value("db.password").as_deref(), Some("pw"));
        assert_eq!(value("list.1").as_deref(), Some("b"));
        assert_eq!(value("a.b").as_deref(), Some("dotted"));
        assert_eq!(value("db.nope"), None);
        assert!(matches!(t.lookup("db"), Some(Node::Map(_))));
    }

    #[test]
    fn prints_yaml_with_types() {
        let yaml = tree().to_yaml().unwrap();
        assert_eq!(
            yaml.as_str(),
            "db:\n  password: pw\n  port: 5432\nlist:\n- a\n- b\na.b: dotted\nnothing: null\n"
        );
    }
}
