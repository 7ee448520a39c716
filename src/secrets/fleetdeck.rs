//! fleetdeck's own secret file format (docs/secrets.md): YAML with the keys in the clear
//! and each value an age-armored ciphertext for the file's `recipients`.
//!
//! ```yaml
//! fleetdeck_secrets: 1
//! recipients:
//! - age1…
//! secrets:
//!   db:
//!     password: |
//!       -----BEGIN AGE ENCRYPTED FILE-----
//!       …
//!       -----END AGE ENCRYPTED FILE-----
//! ```

use std::io::{Read, Write};

use serde_yaml::{Mapping, Value};
use zeroize::Zeroizing;

use super::tree::{Node, Scalar, join_key, key_text, yaml_type_name};
use super::{Identities, Recipients, SecretsError};

pub(crate) const VERSION_KEY: &str = "fleetdeck_secrets";
const VERSION: u64 = 1;

const HEADER: &str = "\
# fleetdeck secrets (docs/secrets.md): keys in the clear, each value age-encrypted for
# the recipients below. Change values with `fleetdeck secrets edit FILE`.
";

/// The encrypted side of a file: same shape as the plain tree, armored leaves.
#[derive(Debug, Clone)]
enum Sealed {
    Map(Vec<(String, Sealed)>),
    List(Vec<Sealed>),
    Value(String),
    Null,
}

/// A parsed (still encrypted) fleetdeck secret file.
#[derive(Debug, Clone)]
pub(crate) struct SecretFile {
    recipients: Recipients,
    secrets: Sealed,
}

impl SecretFile {
    pub(crate) fn from_mapping(mut doc: Mapping) -> Result<SecretFile, SecretsError> {
        match doc.remove(VERSION_KEY) {
            Some(Value::Number(n)) if n.as_u64() == Some(VERSION) => {}
            Some(other) => {
                return Err(SecretsError::input(format!(
                    "unsupported version {} (this fleetdeck reads version {VERSION})",
                    serde_yaml::to_string(&other).unwrap_or_default().trim()
                ))
                .at_field(VERSION_KEY));
            }
            None => return Err(SecretsError::input("missing").at_field(VERSION_KEY)),
        }
        let mut recipients = Recipients::new();
        match doc.remove("recipients") {
            Some(Value::Sequence(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let field = format!("recipients.{i}");
                    let Value::String(r) = item else {
                        return Err(SecretsError::input("must be an age1… string").at_field(field));
                    };
                    recipients.add(r, &field)?;
                }
            }
            Some(other) => {
                return Err(SecretsError::input(format!(
                    "must be a list of age1… recipients, not {}",
                    yaml_type_name(&other)
                ))
                .at_field("recipients"));
            }
            None => return Err(SecretsError::input("missing").at_field("recipients")),
        }
        if recipients.is_empty() {
            return Err(
                SecretsError::input("no recipients: nobody could decrypt new values")
                    .at_field("recipients"),
            );
        }
        let secrets = match doc.remove("secrets") {
            None | Some(Value::Null) => Sealed::Map(Vec::new()),
            Some(Value::Mapping(m)) => sealed_mapping(m, "secrets")?,
            Some(other) => {
                return Err(SecretsError::input(format!(
                    "must be a mapping, not {}",
                    yaml_type_name(&other)
                ))
                .at_field("secrets"));
            }
        };
        if let Some((k, _)) = doc.into_iter().next() {
            let k = serde_yaml::to_string(&k).unwrap_or_default();
            return Err(SecretsError::input(
                "unknown top-level key (expected fleetdeck_secrets, recipients, secrets)",
            )
            .at_field(k.trim().to_owned()));
        }
        Ok(SecretFile {
            recipients,
            secrets,
        })
    }

    #[cfg(test)]
    pub(crate) fn parse(text: &str) -> Result<SecretFile, SecretsError> {
        SecretFile::from_mapping(super::parse_yaml_mapping(text)?)
    }

    pub(crate) fn recipients(&self) -> &Recipients {
        &self.recipients
    }

    /// Every value decrypted (plain tree with string leaves).
    pub(crate) fn decrypt(&self, identities: &Identities) -> Result<Node, SecretsError> {
        open(&self.secrets, "", identities, &self.recipients)
    }

    /// The file re-encrypted after an edit: values that did not change keep their
    /// ciphertext (small diffs), new and changed ones are encrypted afresh.
    pub(crate) fn reseal(&self, old: &Node, new: &Node) -> Result<String, SecretsError> {
        let sealed = seal(new, "", &self.recipients, Some((old, &self.secrets)))?;
        render(&self.recipients, &sealed)
    }
}

fn sealed_mapping(m: Mapping, parent: &str) -> Result<Sealed, SecretsError> {
    let mut out = Vec::with_capacity(m.len());
    for (k, v) in m {
        let k = key_text(&k, parent)?;
        let field = join_key(parent, &k);
        out.push((k, sealed_value(v, &field)?));
    }
    Ok(Sealed::Map(out))
}

fn sealed_value(v: Value, field: &str) -> Result<Sealed, SecretsError> {
    match v {
        Value::Null => Ok(Sealed::Null),
        Value::String(s)
            if s.trim_start()
                .starts_with("-----BEGIN AGE ENCRYPTED FILE-----") =>
        {
            Ok(Sealed::Value(s))
        }
        Value::Mapping(m) => sealed_mapping(m, field),
        Value::Sequence(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| sealed_value(item, &join_key(field, &i.to_string())))
            .collect::<Result<Vec<_>, _>>()
            .map(Sealed::List),
        other => Err(SecretsError::crypto(format!(
            "expected an age-armored ciphertext, found {} in the clear",
            yaml_type_name(&other)
        ))
        .at_field(field)),
    }
}

fn open(
    sealed: &Sealed,
    field: &str,
    identities: &Identities,
    recipients: &Recipients,
) -> Result<Node, SecretsError> {
    Ok(match sealed {
        Sealed::Null => Node::Null,
        Sealed::Map(entries) => Node::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        open(v, &join_key(field, k), identities, recipients)?,
                    ))
                })
                .collect::<Result<_, SecretsError>>()?,
        ),
        Sealed::List(items) => Node::List(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| open(v, &join_key(field, &i.to_string()), identities, recipients))
                .collect::<Result<_, _>>()?,
        ),
        Sealed::Value(armored) => Node::Scalar(Scalar::string(std::mem::take(
            &mut *decrypt_armored(armored, identities, recipients)
                .map_err(|e| e.at_field(field))?,
        ))),
    })
}

fn decrypt_armored(
    armored: &str,
    identities: &Identities,
    recipients: &Recipients,
) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
    let decryptor = age::Decryptor::new(age::armor::ArmoredReader::new(armored.as_bytes()))
        .map_err(|e| SecretsError::crypto(format!("not a valid age ciphertext: {e}")))?;
    let mut reader = decryptor
        .decrypt(identities.as_age())
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => SecretsError::crypto(format!(
                "no identity matches: the file is encrypted for {}; {}",
                recipients.to_strings().join(", "),
                identities.describe()
            )),
            e => SecretsError::crypto(format!("cannot decrypt: {e}")),
        })?;
    let mut plain = Zeroizing::new(Vec::new());
    reader.read_to_end(&mut plain).map_err(|e| {
        SecretsError::crypto(format!(
            "the ciphertext does not authenticate (tampered?): {e}"
        ))
    })?;
    Ok(plain)
}

/// One value encrypted for every recipient, ASCII-armored.
fn encrypt_armored(plain: &[u8], recipients: &Recipients) -> Result<String, SecretsError> {
    let fail = |e: &dyn std::fmt::Display| SecretsError::input(format!("cannot encrypt: {e}"));
    let encryptor = age::Encryptor::with_recipients(recipients.as_age()).map_err(|e| fail(&e))?;
    let armor = age::armor::ArmoredWriter::wrap_output(Vec::new(), age::armor::Format::AsciiArmor)
        .map_err(|e| fail(&e))?;
    let mut writer = encryptor.wrap_output(armor).map_err(|e| fail(&e))?;
    writer.write_all(plain).map_err(|e| fail(&e))?;
    let out = writer
        .finish()
        .and_then(|armor| armor.finish())
        .map_err(|e| fail(&e))?;
    String::from_utf8(out).map_err(|e| fail(&e))
}

fn seal(
    node: &Node,
    field: &str,
    recipients: &Recipients,
    previous: Option<(&Node, &Sealed)>,
) -> Result<Sealed, SecretsError> {
    Ok(match node {
        Node::Null => Sealed::Null,
        Node::Map(entries) => Sealed::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    let prev = match previous {
                        Some((Node::Map(old), Sealed::Map(sealed))) => old
                            .iter()
                            .zip(sealed)
                            .find(|((ok, _), (sk, _))| ok == k && sk == k)
                            .map(|((_, o), (_, s))| (o, s)),
                        _ => None,
                    };
                    Ok((k.clone(), seal(v, &join_key(field, k), recipients, prev)?))
                })
                .collect::<Result<_, SecretsError>>()?,
        ),
        Node::List(items) => Sealed::List(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let prev = match previous {
                        Some((Node::List(old), Sealed::List(sealed))) => {
                            old.get(i).zip(sealed.get(i))
                        }
                        _ => None,
                    };
                    seal(v, &join_key(field, &i.to_string()), recipients, prev)
                })
                .collect::<Result<_, _>>()?,
        ),
        Node::Scalar(s) => match previous {
            Some((Node::Scalar(old), Sealed::Value(armored))) if old.value == s.value => {
                Sealed::Value(armored.clone())
            }
            _ => Sealed::Value(
                encrypt_armored(s.value.expose(), recipients).map_err(|e| e.at_field(field))?,
            ),
        },
    })
}

fn sealed_to_yaml(s: &Sealed) -> Value {
    match s {
        Sealed::Null => Value::Null,
        Sealed::Value(a) => Value::String(a.clone()),
        Sealed::List(items) => Value::Sequence(items.iter().map(sealed_to_yaml).collect()),
        Sealed::Map(entries) => Value::Mapping(
            entries
                .iter()
                .map(|(k, v)| (Value::String(k.clone()), sealed_to_yaml(v)))
                .collect(),
        ),
    }
}

fn render(recipients: &Recipients, sealed: &Sealed) -> Result<String, SecretsError> {
    let mut doc = Mapping::new();
    doc.insert(VERSION_KEY.into(), Value::Number(VERSION.into()));
    doc.insert(
        "recipients".into(),
        Value::Sequence(
            recipients
                .to_strings()
                .into_iter()
                .map(Value::String)
                .collect(),
        ),
    );
    doc.insert("secrets".into(), sealed_to_yaml(sealed));
    let body = serde_yaml::to_string(&Value::Mapping(doc))
        .map_err(|e| SecretsError::input(format!("cannot write YAML: {e}")))?;
    Ok(format!("{HEADER}{body}"))
}

/// A plain YAML mapping (what `encrypt` reads and `edit` shows) as a tree of string
/// values: numbers and booleans become their text; lists and nested mappings are kept.
pub fn parse_plain_yaml(text: &str) -> Result<Node, SecretsError> {
    plain_mapping(super::parse_yaml_mapping(text)?, "")
}

pub(crate) fn plain_from_mapping(m: Mapping) -> Result<Node, SecretsError> {
    plain_mapping(m, "")
}

fn plain_mapping(m: Mapping, parent: &str) -> Result<Node, SecretsError> {
    let mut out = Vec::with_capacity(m.len());
    for (k, v) in m {
        let k = key_text(&k, parent)?;
        let field = join_key(parent, &k);
        out.push((k, plain_value(v, &field)?));
    }
    Ok(Node::Map(out))
}

fn plain_value(v: Value, field: &str) -> Result<Node, SecretsError> {
    Ok(match v {
        Value::Null => Node::Null,
        Value::Bool(b) => Node::Scalar(Scalar::string(b.to_string().into_bytes())),
        Value::Number(n) => Node::Scalar(Scalar::string(n.to_string().into_bytes())),
        Value::String(s) => Node::Scalar(Scalar::string(s.into_bytes())),
        Value::Mapping(m) => plain_mapping(m, field)?,
        Value::Sequence(items) => Node::List(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| plain_value(item, &join_key(field, &i.to_string())))
                .collect::<Result<_, _>>()?,
        ),
        Value::Tagged(_) => {
            return Err(SecretsError::input("tagged YAML values are not supported").at_field(field));
        }
    })
}

/// A plain tree encrypted for `recipients`, as the text of a fleetdeck secret file.
pub fn encrypt_tree_to_string(
    node: &Node,
    recipients: &Recipients,
) -> Result<String, SecretsError> {
    if recipients.is_empty() {
        return Err(SecretsError::input(
            "no recipients: give -r RECIPIENT or -R FILE",
        ));
    }
    let sealed = seal(node, "", recipients, None)?;
    render(recipients, &sealed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::ending::ExitCodeOf;
    use crate::secrets::{FileFormat, decrypt_text};
    use age::x25519;

    fn setup() -> (x25519::Identity, Identities, Recipients) {
        let id = x25519::Identity::generate();
        let ids = Identities::from_identities(vec![id.clone()], vec!["k.txt".into()]);
        let mut r = Recipients::new();
        r.add(&id.to_public().to_string(), "test").unwrap();
        (id, ids, r)
    }

    #[test]
    fn round_trip_keeps_keys_in_clear() {
        let (_, ids, r) = setup();
        let plain = parse_plain_yaml(
            "db:\n  password: hunter2\n  port: 5432\nflags: [a, true]\nnone: null\n",
        )
        .unwrap();
        let text = encrypt_tree_to_string(&plain, &r).unwrap();
        assert!(text.starts_with(HEADER), "{text}");
        assert!(
            text.contains("fleetdeck_secrets: 1\nrecipients:\n- age1"),
            "{text}"
        );
        assert!(
            text.contains(
                "secrets:\n  db:\n    password: |\n      -----BEGIN AGE ENCRYPTED FILE-----\n"
            ),
            "{text}"
        );
        assert!(!text.contains("hunter2"));
        let (format, tree) = decrypt_text(&text, &ids).unwrap();
        assert_eq!(format, FileFormat::Fleetdeck);
        assert_eq!(tree, plain);
        let flat = tree.flatten();
        assert_eq!(flat["db.port"].expose(), b"5432");
        assert_eq!(flat["flags.1"].expose(), b"true");
        assert!(!flat.contains_key("none"));
    }

    #[test]
    fn reseal_keeps_unchanged_ciphertexts() {
        let (_, ids, r) = setup();
        let old = parse_plain_yaml("a: one\nb: two\n").unwrap();
        let text = encrypt_tree_to_string(&old, &r).unwrap();
        let file = SecretFile::parse(&text).unwrap();
        let new = parse_plain_yaml("a: one\nb: changed\nc: new\n").unwrap();
        let resealed = file.reseal(&old, &new).unwrap();
        let block = |t: &str, key: &str| {
            let y: Value = serde_yaml::from_str(t).unwrap();
            y["secrets"][key].as_str().map(str::to_owned)
        };
        assert_eq!(block(&text, "a"), block(&resealed, "a"));
        assert_ne!(block(&text, "b"), block(&resealed, "b"));
        assert_eq!(decrypt_text(&resealed, &ids).unwrap().1, new);
    }

    #[test]
    fn errors_name_fields() {
        let (_, ids, r) = setup();
        let text = encrypt_tree_to_string(&parse_plain_yaml("a:\n  b: x\n").unwrap(), &r).unwrap();

        let other =
            Identities::from_identities(vec![x25519::Identity::generate()], vec!["o.txt".into()]);
        let e = decrypt_text(&text, &other).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(
            e.to_string().starts_with("`a.b`: no identity matches"),
            "{e}"
        );
        assert!(e.to_string().contains("o.txt"), "{e}");

        let e = decrypt_text(
            &text.replace("fleetdeck_secrets: 1", "fleetdeck_secrets: 2"),
            &ids,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("`fleetdeck_secrets`: unsupported version 2"),
            "{e}"
        );

        let y: Value = serde_yaml::from_str(&text).unwrap();
        let mut m = y.as_mapping().unwrap().clone();
        m.insert(
            "secrets".into(),
            serde_yaml::from_str("a: {b: plain}").unwrap(),
        );
        let e = decrypt_text(&serde_yaml::to_string(&m).unwrap(), &ids).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("`secrets.a.b`: expected an age-armored ciphertext"),
            "{e}"
        );

        m.insert(
            "recipients".into(),
            serde_yaml::from_str("[age1nope]").unwrap(),
        );
        let e = decrypt_text(&serde_yaml::to_string(&m).unwrap(), &ids).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("recipients.0: invalid age recipient"),
            "{e}"
        );

        let e = parse_plain_yaml("a: !vault x\n").unwrap_err();
        assert!(e.to_string().starts_with("`a`: tagged YAML values"), "{e}");

        // A tampered ciphertext does not authenticate.
        let mut y: Value = serde_yaml::from_str(&text).unwrap();
        let armored = y["secrets"]["a"]["b"].as_str().unwrap().to_owned();
        let mut lines: Vec<String> = armored.lines().map(str::to_owned).collect();
        let last_body = lines.len() - 2;
        let l = &mut lines[last_body];
        let c = if l.starts_with('A') { "B" } else { "A" };
        l.replace_range(0..1, c);
        y["secrets"]["a"]["b"] = Value::String(lines.join("\n") + "\n");
        let tampered = serde_yaml::to_string(&y).unwrap();
        let e = decrypt_text(&tampered, &ids).unwrap_err();
        assert_eq!(e.exit_code(), 1, "{e}");
        assert!(e.to_string().starts_with("`a.b`:"), "{e}");
    }
}
