//! Secrets: age identities and recipients, fleetdeck's own secret files, and SOPS files
//! whose data key is encrypted for age recipients (docs/secrets.md).
//!
//! The deployment core calls [`load_file`] with [`Identities`] found by
//! [`Identities::discover`]; it gets a [`SecretMap`] of flat keys (`db.password`) to
//! [`SecretValue`]s. Plaintext lives only in those values: zeroized on drop, masked by
//! `Debug` and `Display`, readable only through [`SecretValue::expose`]. Nothing in this
//! module logs a value.

pub(crate) mod fleetdeck;
mod identity;
pub mod scratch;
mod sops;
mod tree;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use fleetdeck::{encrypt_tree_to_string, parse_plain_yaml};
pub use identity::{
    Identities, NeverAsk, PassphrasePrompt, Recipients, TerminalPrompt, generate_identity,
};
pub use tree::{Node, Scalar, ScalarKind};

/// What `Debug` and `Display` print instead of a value.
pub const MASK: &str = "********";

/// One secret's plaintext. Zeroized when dropped; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<Vec<u8>>);

impl SecretValue {
    pub fn new(bytes: Vec<u8>) -> SecretValue {
        SecretValue(Zeroizing::new(bytes))
    }

    /// The plaintext. The one explicit way to reveal a value: keep the borrow short.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The plaintext as UTF-8, when it is.
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// SHA-256 of the value, lowercase hex: lets a configuration hash change when a
    /// secret changes without holding the plaintext. Do not publish it on its own (a
    /// weak secret can be guessed from its digest); fold it into a larger hash.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.expose()))
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// Which format a secret file was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// fleetdeck's own: clear keys, one age-armored ciphertext per value.
    Fleetdeck,
    /// SOPS YAML with age recipients.
    Sops,
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileFormat::Fleetdeck => "fleetdeck",
            FileFormat::Sops => "sops",
        })
    }
}

/// A secret file's values by flat key: nested mappings joined with `.`, list items by
/// index (`servers.0`). Null values are left out. Keys are sorted, so iterating is
/// deterministic (config hashes).
#[derive(Debug, Clone)]
pub struct SecretMap {
    path: PathBuf,
    format: FileFormat,
    values: BTreeMap<String, SecretValue>,
}

impl SecretMap {
    pub fn new(path: PathBuf, format: FileFormat, values: BTreeMap<String, SecretValue>) -> Self {
        SecretMap {
            path,
            format,
            values,
        }
    }

    /// The file the values came from (for error messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> FileFormat {
        self.format
    }

    pub fn get(&self, key: &str) -> Option<&SecretValue> {
        self.values.get(key)
    }

    /// Like [`SecretMap::get`], with an error that names the file and the key.
    pub fn require(&self, key: &str) -> Result<&SecretValue, SecretsError> {
        self.get(key).ok_or_else(|| {
            SecretsError::input(format!("no secret `{key}`"))
                .in_file(&self.path)
                .with_hint(format!("keys present: {}", self.key_list()))
        })
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &SecretValue)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Every key with its value's SHA-256 (see [`SecretValue::digest`]), sorted.
    pub fn digests(&self) -> BTreeMap<String, String> {
        self.values
            .iter()
            .map(|(k, v)| (k.clone(), v.digest()))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn key_list(&self) -> String {
        if self.values.is_empty() {
            return "none".to_owned();
        }
        self.keys().collect::<Vec<_>>().join(", ")
    }
}

/// Whether an error means "the file is wrong or unusable" or "decryption or integrity
/// failed"; the command line maps them to exit codes 2 and 1 (`commands::ending`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Usage, a missing or malformed file, an unsupported feature: exit 2.
    Input,
    /// No matching identity, a wrong passphrase, a value or MAC that does not
    /// authenticate: exit 1.
    Crypto,
}

/// An error about secrets. Names the file, and the field where one applies; never
/// contains a plaintext value.
#[derive(Debug, Clone)]
pub struct SecretsError {
    kind: ErrorKind,
    file: Option<PathBuf>,
    field: Option<String>,
    message: String,
    hint: Option<String>,
}

impl SecretsError {
    pub fn input(message: impl Into<String>) -> SecretsError {
        SecretsError {
            kind: ErrorKind::Input,
            file: None,
            field: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn crypto(message: impl Into<String>) -> SecretsError {
        SecretsError {
            kind: ErrorKind::Crypto,
            ..SecretsError::input(message)
        }
    }

    pub(crate) fn io(path: &Path, what: &str, e: &std::io::Error) -> SecretsError {
        SecretsError::input(format!("cannot {what}: {e}")).in_file(path)
    }

    pub fn in_file(mut self, path: &Path) -> SecretsError {
        if self.file.is_none() {
            self.file = Some(path.to_path_buf());
        }
        self
    }

    pub fn at_field(mut self, field: impl Into<String>) -> SecretsError {
        if self.field.is_none() {
            self.field = Some(field.into());
        }
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> SecretsError {
        self.hint = Some(hint.into());
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }
}

impl fmt::Display for SecretsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some(field) = &self.field {
            write!(f, "`{field}`: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for SecretsError {}

/// Reads a secret file in either format (SOPS when it has `sops:` metadata, fleetdeck's
/// own when it has `fleetdeck_secrets:`), decrypts every value and, for SOPS, verifies
/// the MAC. Errors name the file.
pub fn load_file(path: &Path, identities: &Identities) -> Result<SecretMap, SecretsError> {
    let (format, tree) = decrypt_file(path, identities)?;
    Ok(SecretMap::new(path.to_path_buf(), format, tree.flatten()))
}

/// Like [`load_file`], keeping the file's structure and value types (for `decrypt`
/// and `edit`, which print it back as YAML).
pub fn decrypt_file(
    path: &Path,
    identities: &Identities,
) -> Result<(FileFormat, Node), SecretsError> {
    let text = read_text(path)?;
    decrypt_text(&text, identities).map_err(|e| e.in_file(path))
}

/// The largest secret file read: a link to `/dev/zero` is refused, not read until
/// memory runs out.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

pub(crate) fn read_text(path: &Path) -> Result<String, SecretsError> {
    use std::io::Read;
    let io = |e: std::io::Error| SecretsError::io(path, "read the file", &e);
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(SecretsError::input(format!(
            "larger than {} MiB: not a secret file",
            MAX_FILE_BYTES >> 20
        ))
        .in_file(path));
    }
    Ok(text)
}

/// Decrypts a secret file's text (errors carry no file name: callers add it).
pub fn decrypt_text(
    text: &str,
    identities: &Identities,
) -> Result<(FileFormat, Node), SecretsError> {
    let doc = parse_yaml_mapping(text)?;
    match detect(&doc)? {
        FileFormat::Sops => Ok((FileFormat::Sops, sops::decrypt(doc, identities)?)),
        FileFormat::Fleetdeck => {
            let file = fleetdeck::SecretFile::from_mapping(doc)?;
            Ok((FileFormat::Fleetdeck, file.decrypt(identities)?))
        }
    }
}

/// Which format a parsed document is in.
pub(crate) fn detect(doc: &serde_yaml::Mapping) -> Result<FileFormat, SecretsError> {
    if doc.contains_key("sops") {
        Ok(FileFormat::Sops)
    } else if doc.contains_key(fleetdeck::VERSION_KEY) {
        Ok(FileFormat::Fleetdeck)
    } else {
        Err(SecretsError::input(format!(
            "not an encrypted secret file: neither SOPS metadata (`sops:`) nor a \
             fleetdeck secrets header (`{}:`)",
            fleetdeck::VERSION_KEY
        )))
    }
}

/// One YAML document whose top level is a mapping; syntax errors with their line.
pub(crate) fn parse_yaml_mapping(text: &str) -> Result<serde_yaml::Mapping, SecretsError> {
    // serde_yaml takes seconds over deep nesting before refusing it, and its aliases
    // can copy gigabytes: the inventory's bounds first, in one linear pass.
    crate::inventory::yaml::check_bounds(text).map_err(|e| {
        let kind = if e.limit { "refused" } else { "invalid YAML" };
        SecretsError::input(format!(
            "line {}, column {}: {kind}: {}",
            e.mark.line, e.mark.column, e.message
        ))
    })?;
    let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!("line {}, column {}: ", l.line(), l.column()))
            .unwrap_or_default();
        // serde_yaml's message repeats the position; ours is first.
        SecretsError::input(format!("{at}invalid YAML: {e}"))
    })?;
    match value {
        serde_yaml::Value::Mapping(m) => Ok(m),
        serde_yaml::Value::Null => Ok(serde_yaml::Mapping::new()),
        other => Err(SecretsError::input(format!(
            "the top level must be a mapping of keys to values, not {}",
            tree::yaml_type_name(&other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::ending::ExitCodeOf;

    #[test]
    fn values_are_masked_and_digested() {
        let v = SecretValue::new(b"hunter2".to_vec());
        assert_eq!(format!("{v}"), MASK);
        assert_eq!(format!("{v:?}"), MASK);
        assert_eq!(v.expose(), b"hunter2");
        assert_eq!(
            v.digest(),
            "f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7"
        );
        let map = SecretMap::new(
            PathBuf::from("s.yml"),
            FileFormat::Fleetdeck,
            BTreeMap::from([("a.b".to_owned(), v)]),
        );
        let dbg = format!("{map:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        let err = map.require("nope").unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.yml: no secret `nope` (keys present: a.b)"
        );
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn errors_name_file_and_field() {
        let e = SecretsError::crypto("does not authenticate")
            .at_field("db.password")
            .in_file(Path::new("/x/s.yml"));
        assert_eq!(
            e.to_string(),
            "/x/s.yml: `db.password`: does not authenticate"
        );
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn plain_yaml_is_neither_format() {
        let ids = Identities::from_identities(Vec::new(), Vec::new());
        let e = decrypt_text("a: 1\n", &ids).unwrap_err();
        assert!(
            e.to_string().contains("not an encrypted secret file"),
            "{e}"
        );
        let e = decrypt_text("a: [1\n", &ids).unwrap_err();
        assert!(e.to_string().contains("invalid YAML"), "{e}");
        let e = decrypt_text("- 1\n", &ids).unwrap_err();
        assert!(e.to_string().contains("must be a mapping"), "{e}");
    }

    #[test]
    fn an_endless_file_is_refused_at_the_bound() {
        let tmp = tempfile::tempdir().expect("tmp");
        let link = tmp.path().join("s.yml");
        std::os::unix::fs::symlink("/dev/zero", &link).expect("link");
        let e = read_text(&link).unwrap_err();
        assert!(e.to_string().contains("larger than 16 MiB"), "{e}");
        assert!(e.to_string().contains("s.yml"), "{e}");
    }

    #[test]
    fn deep_nesting_and_alias_bombs_are_refused_before_serde_yaml() {
        let ids = Identities::from_identities(Vec::new(), Vec::new());
        let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let e = decrypt_text(&deep, &ids).unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("line 1, column "), "{text}");
        assert!(
            text.contains("refused: collections nested more than 128 levels"),
            "{text}"
        );
        let mut bomb = format!("s0: &s0 \"{}\"\n", "x".repeat(100_000));
        for i in 1..=5 {
            let refs = vec![format!("*s{}", i - 1); 10].join(", ");
            bomb.push_str(&format!("s{i}: &s{i} [{refs}]\n"));
        }
        let e = decrypt_text(&bomb, &ids).unwrap_err();
        assert!(e.to_string().starts_with("line 4, column "), "{e}");
        assert!(e.to_string().contains("64 MiB"), "{e}");
    }
}
