//! SOPS YAML files whose data key is encrypted for age recipients.
//!
//! What SOPS does, and so what this reads back (getsops/sops `sops.go`, `aes/cipher.go`):
//! - a random 32-byte data key, age-encrypted (armored) for each recipient in
//!   `sops.age[].enc`;
//! - each value `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`: AES-256-GCM with a 32-byte
//!   IV, the additional data being the value's key path joined with `:` plus a trailing
//!   `:` (`db:password:`; list items share their list's path);
//! - the MAC: SHA-512 over every value's plaintext in tree order (comments and nulls
//!   excluded; with `mac_only_encrypted`, only encrypted values, after a fixed prefix),
//!   as uppercase hex, stored in `sops.mac` encrypted with the data key and the
//!   `lastmodified` time (RFC 3339, whole seconds) as additional data.

use std::io::Read;

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce, Tag};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use regex_automata::dfa::{dense, regex::Regex};
use serde_yaml::{Mapping, Value};
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use super::tree::{Node, Scalar, ScalarKind, join_key, yaml_type_name};
use super::{Identities, SecretValue, SecretsError};

/// SOPS's AES-GCM: 32-byte nonces.
type SopsGcm = AesGcm<Aes256, U32>;

/// SHA-256 of "sops": the MAC's first bytes when `mac_only_encrypted` is set.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// Which values are encrypted, from the file's metadata.
#[derive(Default)]
struct Rules {
    unencrypted_suffix: Option<String>,
    encrypted_suffix: Option<String>,
    unencrypted_regex: Option<Regex>,
    encrypted_regex: Option<Regex>,
    mac_only_encrypted: bool,
}

impl Rules {
    /// SOPS's `shouldBeEncrypted`, for files without comment rules.
    fn encrypted(&self, path: &[String]) -> bool {
        let mut encrypted = true;
        if let Some(s) = &self.unencrypted_suffix
            && path.iter().any(|p| p.ends_with(s.as_str()))
        {
            encrypted = false;
        }
        if let Some(s) = &self.encrypted_suffix {
            encrypted = path.iter().any(|p| p.ends_with(s.as_str()));
        }
        if let Some(r) = &self.unencrypted_regex
            && path.iter().any(|p| r.is_match(p.as_bytes()))
        {
            encrypted = false;
        }
        if let Some(r) = &self.encrypted_regex {
            encrypted = path.iter().any(|p| r.is_match(p.as_bytes()));
        }
        encrypted
    }
}

struct Metadata {
    stanzas: Vec<(String, String)>,
    lastmodified: String,
    mac: String,
    rules: Rules,
}

/// Decrypts a parsed SOPS document and verifies its MAC.
pub(crate) fn decrypt(mut doc: Mapping, identities: &Identities) -> Result<Node, SecretsError> {
    let meta = doc
        .remove("sops")
        .ok_or_else(|| SecretsError::input("no `sops:` metadata"))?;
    let meta = parse_metadata(meta)?;
    let key = data_key(&meta, identities)?;

    let mut walk = Walk {
        key: &key,
        rules: &meta.rules,
        hash: Sha512::new(),
    };
    if meta.rules.mac_only_encrypted {
        walk.hash.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    let tree = walk.mapping(doc, &mut Vec::new())?;
    let computed = hex::encode_upper(walk.hash.finalize());

    let aad = go_rfc3339(&meta.lastmodified)?;
    let stored = decrypt_value(&meta.mac, &key, &aad).map_err(|_| {
        SecretsError::crypto(
            "integrity check failed: the MAC does not authenticate with this `lastmodified` \
             (the metadata was changed outside sops)",
        )
        .at_field("sops.mac")
    })?;
    if !constant_time_eq(stored.1.as_bytes(), computed.as_bytes()) {
        return Err(SecretsError::crypto(
            "integrity check failed: MAC mismatch (a value was changed, added, removed or \
             reordered outside sops)",
        ));
    }
    Ok(tree)
}

fn parse_metadata(meta: Value) -> Result<Metadata, SecretsError> {
    let Value::Mapping(mut meta) = meta else {
        return Err(SecretsError::input("must be a mapping").at_field("sops"));
    };
    let mut text = |name: &str| -> Result<Option<String>, SecretsError> {
        match meta.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(SecretsError::input(format!(
                "must be a string, not {}",
                yaml_type_name(&other)
            ))
            .at_field(format!("sops.{name}"))),
        }
    };
    for unsupported in ["unencrypted_comment_regex", "encrypted_comment_regex"] {
        if text(unsupported)?.is_some() {
            return Err(SecretsError::input(
                "comment-based encryption rules are not supported by fleetdeck",
            )
            .at_field(format!("sops.{unsupported}")));
        }
    }
    let lastmodified = text("lastmodified")?
        .ok_or_else(|| SecretsError::input("missing").at_field("sops.lastmodified"))?;
    let mac = text("mac")?.ok_or_else(|| {
        SecretsError::input("missing: fleetdeck only reads files with a MAC").at_field("sops.mac")
    })?;
    let regex = |field: &str, pattern: Option<String>| -> Result<Option<Regex>, SecretsError> {
        pattern
            .map(|p| {
                let config = dense::Config::new()
                    .dfa_size_limit(Some(4 << 20))
                    .determinize_size_limit(Some(4 << 20));
                Regex::builder().dense(config).build(&p).map_err(|e| {
                    SecretsError::input(format!("unsupported regular expression: {e}"))
                        .at_field(format!("sops.{field}"))
                })
            })
            .transpose()
    };
    let rules = Rules {
        unencrypted_suffix: text("unencrypted_suffix")?,
        encrypted_suffix: text("encrypted_suffix")?,
        unencrypted_regex: regex("unencrypted_regex", text("unencrypted_regex")?)?,
        encrypted_regex: regex("encrypted_regex", text("encrypted_regex")?)?,
        mac_only_encrypted: matches!(meta.get("mac_only_encrypted"), Some(Value::Bool(true))),
    };

    // One key group, written either flat (`sops.age`) or as `sops.key_groups[0].age`.
    let mut stanzas = age_stanzas(meta.get("age"), "sops.age")?;
    match meta.get("key_groups") {
        None | Some(Value::Null) => {}
        Some(Value::Sequence(groups)) if groups.len() == 1 => {
            stanzas.extend(age_stanzas(groups[0].get("age"), "sops.key_groups.0.age")?);
        }
        Some(Value::Sequence(groups)) if groups.is_empty() => {}
        Some(_) => {
            return Err(SecretsError::input(
                "several key groups (Shamir secret sharing) are not supported by fleetdeck",
            )
            .at_field("sops.key_groups"));
        }
    }
    if stanzas.is_empty() {
        return Err(SecretsError::input(
            "the data key is not encrypted for any age recipient (fleetdeck reads SOPS files \
             with age keys only, not PGP or cloud KMS)",
        )
        .at_field("sops.age"));
    }
    Ok(Metadata {
        stanzas,
        lastmodified,
        mac,
        rules,
    })
}

fn age_stanzas(v: Option<&Value>, field: &str) -> Result<Vec<(String, String)>, SecretsError> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Sequence(items)) => items,
        Some(other) => {
            return Err(SecretsError::input(format!(
                "must be a list, not {}",
                yaml_type_name(other)
            ))
            .at_field(field));
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let get = |k: &str| match item.get(k) {
                Some(Value::String(s)) => Ok(s.clone()),
                _ => Err(SecretsError::input("missing or not a string")
                    .at_field(format!("{field}.{i}.{k}"))),
            };
            Ok((get("recipient")?, get("enc")?))
        })
        .collect()
}

/// The data key from the first age stanza one of our identities opens.
fn data_key(meta: &Metadata, identities: &Identities) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
    let mut problems = Vec::new();
    for (recipient, enc) in &meta.stanzas {
        let attempt = age::Decryptor::new(age::armor::ArmoredReader::new(enc.as_bytes()))
            .and_then(|d| d.decrypt(identities.as_age()))
            .map_err(|e| e.to_string())
            .and_then(|mut reader| {
                let mut key = Zeroizing::new(Vec::new());
                reader.read_to_end(&mut key).map_err(|e| e.to_string())?;
                Ok(key)
            });
        match attempt {
            Ok(key) if key.len() == 32 => return Ok(key),
            Ok(key) => problems.push(format!(
                "{recipient}: the data key has {} bytes, not 32",
                key.len()
            )),
            Err(e) => problems.push(format!("{recipient}: {e}")),
        }
    }
    let recipients: Vec<&str> = meta.stanzas.iter().map(|(r, _)| r.as_str()).collect();
    Err(SecretsError::crypto(format!(
        "cannot decrypt the data key: encrypted for {}; {}",
        recipients.join(", "),
        identities.describe()
    ))
    .with_hint(problems.join("; ")))
}

struct Walk<'a> {
    key: &'a [u8],
    rules: &'a Rules,
    hash: Sha512,
}

impl Walk<'_> {
    fn mapping(&mut self, map: Mapping, path: &mut Vec<String>) -> Result<Node, SecretsError> {
        let mut out = Vec::with_capacity(map.len());
        for (k, v) in map {
            let Value::String(k) = k else {
                return Err(SecretsError::input(format!(
                    "keys must be strings, not {} (as in sops)",
                    yaml_type_name(&k)
                ))
                .at_field(field_name(path)));
            };
            path.push(k);
            let node = self.value(v, path)?;
            let k = path.pop().unwrap_or_default();
            out.push((k, node));
        }
        Ok(Node::Map(out))
    }

    fn value(&mut self, v: Value, path: &mut Vec<String>) -> Result<Node, SecretsError> {
        match v {
            Value::Null => Ok(Node::Null),
            Value::Mapping(m) => self.mapping(m, path),
            Value::Sequence(items) => items
                .into_iter()
                .map(|item| self.value(item, path))
                .collect::<Result<Vec<_>, _>>()
                .map(Node::List),
            Value::Tagged(_) => Err(SecretsError::input("tagged YAML values are not supported")
                .at_field(field_name(path))),
            scalar => {
                let encrypted = self.rules.encrypted(path);
                let node = if encrypted {
                    self.encrypted_scalar(scalar, path)?
                } else {
                    clear_scalar(scalar)
                };
                if encrypted || !self.rules.mac_only_encrypted {
                    self.hash.update(mac_bytes(&node).as_slice());
                }
                Ok(Node::Scalar(node))
            }
        }
    }

    fn encrypted_scalar(&self, v: Value, path: &[String]) -> Result<Scalar, SecretsError> {
        let Value::String(text) = v else {
            return Err(SecretsError::crypto(format!(
                "integrity check failed: expected an encrypted value, found {} in the clear",
                yaml_type_name(&v)
            ))
            .at_field(field_name(path)));
        };
        if text.is_empty() {
            // sops leaves empty strings as they are.
            return Ok(Scalar::string(Vec::new()));
        }
        let aad = format!("{}:", path.join(":"));
        let (kind, plain) =
            decrypt_value(&text, self.key, &aad).map_err(|e| e.at_field(field_name(path)))?;
        Ok(Scalar {
            kind,
            value: SecretValue::new(plain.as_bytes().to_vec()),
        })
    }
}

/// `db.password` for errors (path components joined as flat keys are).
fn field_name(path: &[String]) -> String {
    path.iter().fold(String::new(), |acc, p| join_key(&acc, p))
}

/// A value left in the clear (`*_unencrypted`), typed as sops's YAML loader types it.
fn clear_scalar(v: Value) -> Scalar {
    let (kind, text) = match v {
        Value::Bool(b) => (ScalarKind::Bool, b.to_string()),
        Value::Number(n) if n.is_f64() => {
            (ScalarKind::Float, go_float(n.as_f64().unwrap_or(f64::NAN)))
        }
        Value::Number(n) => (ScalarKind::Int, n.to_string()),
        Value::String(s) => (ScalarKind::Str, s),
        // Nulls, collections and tags are handled by the caller.
        other => (ScalarKind::Str, format!("{other:?}")),
    };
    Scalar {
        kind,
        value: SecretValue::new(text.into_bytes()),
    }
}

/// What sops's `ToBytes` feeds the MAC for a value.
fn mac_bytes(s: &Scalar) -> Zeroizing<Vec<u8>> {
    let text = s.value.expose();
    Zeroizing::new(match s.kind {
        ScalarKind::Bool => {
            if text == b"true" {
                b"True".to_vec()
            } else {
                b"False".to_vec()
            }
        }
        _ => text.to_vec(),
    })
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
fn go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{f}")
    }
}

/// Decrypts one `ENC[AES256_GCM,…]` string: its type and its plaintext, normalised as
/// sops re-types it (ints and floats canonical, booleans `true`/`false`).
fn decrypt_value(
    text: &str,
    key: &[u8],
    aad: &str,
) -> Result<(ScalarKind, Zeroizing<String>), SecretsError> {
    let enc = parse_enc(text)?;
    let cipher = SopsGcm::new_from_slice(key)
        .map_err(|_| SecretsError::crypto("the data key is not 32 bytes"))?;
    let nonce = Nonce::<U32>::try_from(enc.iv.as_slice())
        .map_err(|_| SecretsError::crypto(format!("the IV has {} bytes, not 32", enc.iv.len())))?;
    let tag = Tag::<aes_gcm::aead::consts::U16>::try_from(enc.tag.as_slice()).map_err(|_| {
        SecretsError::crypto(format!("the tag has {} bytes, not 16", enc.tag.len()))
    })?;
    let mut buf = Zeroizing::new(enc.data);
    cipher
        .decrypt_inout_detached(&nonce, aad.as_bytes(), buf.as_mut_slice().into(), &tag)
        .map_err(|_| {
            SecretsError::crypto(
                "integrity check failed: the value does not authenticate (tampered ciphertext, \
                 or moved from another key)",
            )
        })?;
    let plain = Zeroizing::new(String::from_utf8(std::mem::take(&mut *buf)).map_err(|e| {
        let mut bytes = e.into_bytes();
        zeroize::Zeroize::zeroize(&mut bytes);
        SecretsError::input("decrypted value is not UTF-8")
    })?);
    let bad = |what: &str| SecretsError::input(format!("decrypted value is not a valid {what}"));
    Ok(match enc.kind.as_str() {
        "str" => (ScalarKind::Str, plain),
        "bytes" => (ScalarKind::Bytes, plain),
        "int" | "int64" => {
            let n: i64 = plain.trim().parse().map_err(|_| bad("integer"))?;
            (ScalarKind::Int, Zeroizing::new(n.to_string()))
        }
        "float" => {
            let f: f64 = plain.trim().parse().map_err(|_| bad("float"))?;
            (ScalarKind::Float, Zeroizing::new(go_float(f)))
        }
        "bool" => {
            // Go's strconv.ParseBool.
            let b = match plain.as_str() {
                "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
                "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
                _ => return Err(bad("boolean")),
            };
            (ScalarKind::Bool, Zeroizing::new(b.to_string()))
        }
        "comment" => {
            return Err(SecretsError::input(
                "an encrypted comment where a value belongs",
            ));
        }
        other => {
            return Err(SecretsError::input(format!(
                "unknown sops value type `{other}`"
            )));
        }
    })
}

struct Enc {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    kind: String,
}

/// `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.
fn parse_enc(text: &str) -> Result<Enc, SecretsError> {
    let not_enc = || {
        SecretsError::crypto(
            "integrity check failed: expected an encrypted value `ENC[AES256_GCM,data:…,iv:…,\
             tag:…,type:…]`, found something else",
        )
    };
    let inner = text
        .trim()
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(not_enc)?;
    let mut fields = inner.split(',');
    let mut next = |name: &str| {
        fields
            .next()
            .and_then(|f| f.strip_prefix(name))
            .and_then(|f| f.strip_prefix(':'))
            .ok_or_else(not_enc)
    };
    let b64 = |name: &str, s: &str| {
        B64.decode(s).map_err(|_| {
            SecretsError::crypto(format!("integrity check failed: `{name}` is not base64"))
        })
    };
    let data = next("data")?;
    let iv = next("iv")?;
    let tag = next("tag")?;
    let kind = next("type")?;
    Ok(Enc {
        data: b64("data", data)?,
        iv: b64("iv", iv)?,
        tag: b64("tag", tag)?,
        kind: kind.to_owned(),
    })
}

/// `lastmodified` as Go's `time.Format(time.RFC3339)` prints the parsed time: whole
/// seconds, `Z` for UTC, `±hh:mm` otherwise.
fn go_rfc3339(text: &str) -> Result<String, SecretsError> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
        SecretsError::input(format!("not an RFC 3339 time: {e}")).at_field("sops.lastmodified")
    })?;
    let offset = t.offset();
    let zone = if offset.is_utc() {
        "Z".to_owned()
    } else {
        let (h, m, _) = offset.as_hms();
        let sign = if offset.is_negative() { '-' } else { '+' };
        format!("{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())
    };
    Ok(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::commands::ending::ExitCodeOf;
    use crate::secrets::decrypt_text;
    use age::x25519;

    /// Encrypts like sops's `aes.Cipher.Encrypt` (fixed IV: tests only).
    pub(crate) fn enc(plain: &str, kind: &str, key: &[u8], aad: &str) -> String {
        let cipher = SopsGcm::new_from_slice(key).unwrap();
        let iv = [7u8; 32];
        let mut data = plain.as_bytes().to_vec();
        let tag = cipher
            .encrypt_inout_detached(
                &Nonce::<U32>::from(iv),
                aad.as_bytes(),
                data.as_mut_slice().into(),
            )
            .unwrap();
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{kind}]",
            B64.encode(&data),
            B64.encode(iv),
            B64.encode(tag.as_slice())
        )
    }

    fn sha512_hex(parts: &[&[u8]]) -> String {
        let mut h = Sha512::new();
        for p in parts {
            h.update(p);
        }
        hex::encode_upper(h.finalize())
    }

    /// A SOPS file built by hand, as sops would write it.
    fn file(identity: &x25519::Identity, lastmodified_aad: &str, extra_meta: &str) -> String {
        let key = [42u8; 32];
        let data_key = age::encrypt_and_armor(&identity.to_public(), &key).unwrap();
        let mac = sha512_hex(&[b"hunter2", b"5432", b"True", b"1.5", b"a", b"b", b"hello"]);
        format!(
            "db:\n  password: {}\n  port: {}\nflag: {}\nratio: {}\nlist:\n- {}\n- {}\n\
             note_unencrypted: hello\nempty: \"\"\nnothing: null\n\
             sops:\n  age:\n  - recipient: {}\n    enc: {:?}\n  lastmodified: \"2024-05-06T07:08:09Z\"\n  \
             mac: {}\n  unencrypted_suffix: _unencrypted\n{extra_meta}",
            enc("hunter2", "str", &key, "db:password:"),
            enc("5432", "int", &key, "db:port:"),
            enc("True", "bool", &key, "flag:"),
            enc("1.5", "float", &key, "ratio:"),
            enc("a", "str", &key, "list:"),
            enc("b", "str", &key, "list:"),
            identity.to_public(),
            data_key,
            enc(&mac, "str", &key, lastmodified_aad),
        )
    }

    fn ids(identity: &x25519::Identity) -> Identities {
        Identities::from_identities(vec![identity.clone()], vec!["test.key".into()])
    }

    #[test]
    fn decrypts_values_and_verifies_the_mac() {
        let id = x25519::Identity::generate();
        let (_, tree) = decrypt_text(&file(&id, "2024-05-06T07:08:09Z", ""), &ids(&id)).unwrap();
        let flat = tree.flatten();
        let got: Vec<(&str, &str)> = flat
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose_str().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                ("db.password", "hunter2"),
                ("db.port", "5432"),
                ("empty", ""),
                ("flag", "true"),
                ("list.0", "a"),
                ("list.1", "b"),
                ("note_unencrypted", "hello"),
                ("ratio", "1.5"),
            ]
        );
        assert_eq!(
            tree.to_yaml().unwrap().as_str(),
            "db:\n  password: hunter2\n  port: 5432\nflag: true\nratio: 1.5\nlist:\n- a\n- b\n\
             note_unencrypted: hello\nempty: ''\nnothing: null\n"
        );
    }

    #[test]
    fn refuses_tampering() {
        let id = x25519::Identity::generate();
        let good = file(&id, "2024-05-06T07:08:09Z", "");
        let ids = ids(&id);

        // lastmodified changed: the MAC no longer authenticates.
        let e = decrypt_text(&good.replace("07:08:09Z", "07:08:10Z"), &ids).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(
            e.to_string().contains("`sops.mac`: integrity check failed"),
            "{e}"
        );

        // A clear value changed: MAC mismatch.
        let e = decrypt_text(
            &good.replace("unencrypted: hello", "unencrypted: hullo"),
            &ids,
        )
        .unwrap_err();
        assert!(e.to_string().contains("MAC mismatch"), "{e}");

        // Two keys swapped in order: each value still authenticates, the MAC does not.
        let flag = good.lines().find(|l| l.starts_with("flag:")).unwrap();
        let ratio = good.lines().find(|l| l.starts_with("ratio:")).unwrap();
        let swapped = good.replace(&format!("{flag}\n{ratio}"), &format!("{ratio}\n{flag}"));
        assert_ne!(swapped, good);
        let e = decrypt_text(&swapped, &ids).unwrap_err();
        assert!(e.to_string().contains("MAC mismatch"), "{e}");

        // A value moved to another key: it no longer authenticates.
        let renamed = good.replacen("db:\n  password:", "db:\n  zzz:", 1);
        let e = decrypt_text(&renamed, &ids).unwrap_err();
        assert!(
            e.to_string().contains("`db.zzz`: integrity check failed"),
            "{e}"
        );

        // A value removed.
        let removed: String = good
            .lines()
            .filter(|l| !l.starts_with("ratio:"))
            .map(|l| format!("{l}\n"))
            .collect();
        let e = decrypt_text(&removed, &ids).unwrap_err();
        assert!(e.to_string().contains("MAC mismatch"), "{e}");

        // A ciphertext byte changed.
        let line = good.lines().find(|l| l.contains("password:")).unwrap();
        let data_start = line.find("data:").unwrap() + 5;
        let mut tampered_line = line.to_owned();
        let c = if &line[data_start..=data_start] == "A" {
            "B"
        } else {
            "A"
        };
        tampered_line.replace_range(data_start..=data_start, c);
        let e = decrypt_text(&good.replace(line, &tampered_line), &ids).unwrap_err();
        assert!(
            e.to_string()
                .contains("`db.password`: integrity check failed"),
            "{e}"
        );

        // A value replaced by plaintext.
        let e = decrypt_text(&good.replace(line, "  password: plain"), &ids).unwrap_err();
        assert!(e.to_string().contains("expected an encrypted value"), "{e}");
    }

    #[test]
    fn needs_a_matching_identity() {
        let id = x25519::Identity::generate();
        let other = x25519::Identity::generate();
        let e = decrypt_text(&file(&id, "2024-05-06T07:08:09Z", ""), &ids(&other)).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        let msg = e.to_string();
        assert!(msg.contains("cannot decrypt the data key"), "{msg}");
        assert!(msg.contains(&id.to_public().to_string()), "{msg}");
        assert!(msg.contains("test.key"), "{msg}");
    }

    #[test]
    fn unsupported_metadata_is_named() {
        let id = x25519::Identity::generate();
        let e = decrypt_text(
            &file(
                &id,
                "2024-05-06T07:08:09Z",
                "  encrypted_comment_regex: sops\n",
            ),
            &ids(&id),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("`sops.encrypted_comment_regex`: comment-based"),
            "{e}"
        );
    }

    #[test]
    fn encryption_rules() {
        let rule = |meta: &str| {
            let mut m: Mapping = serde_yaml::from_str(&format!(
                "lastmodified: '2024-01-01T00:00:00Z'\nmac: x\nage: [{{recipient: r, enc: e}}]\n{meta}"
            ))
            .unwrap();
            m.remove("x");
            parse_metadata(Value::Mapping(m)).unwrap().rules
        };
        let p = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let r = rule("unencrypted_suffix: _unencrypted");
        assert!(r.encrypted(&p(&["a", "b"])));
        assert!(!r.encrypted(&p(&["a_unencrypted", "b"])));
        let r = rule("encrypted_regex: ^(data|stringData)$");
        assert!(r.encrypted(&p(&["data", "x"])));
        assert!(!r.encrypted(&p(&["metadata", "name"])));
        let r = rule("unencrypted_regex: ^pub");
        assert!(!r.encrypted(&p(&["public"])));
        assert!(r.encrypted(&p(&["secret"])));
        let r = rule("encrypted_suffix: _secret");
        assert!(r.encrypted(&p(&["x_secret"])));
        assert!(!r.encrypted(&p(&["x"])));
    }

    #[test]
    fn go_formats() {
        assert_eq!(
            go_rfc3339("2024-05-06T07:08:09Z").unwrap(),
            "2024-05-06T07:08:09Z"
        );
        assert_eq!(
            go_rfc3339("2024-05-06T07:08:09.123Z").unwrap(),
            "2024-05-06T07:08:09Z"
        );
        assert_eq!(
            go_rfc3339("2024-05-06T07:08:09+00:00").unwrap(),
            "2024-05-06T07:08:09Z"
        );
        assert_eq!(
            go_rfc3339("2024-05-06T07:08:09-05:30").unwrap(),
            "2024-05-06T07:08:09-05:30"
        );
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(1e21), "1000000000000000000000");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
    }
}
