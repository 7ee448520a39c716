//! age X25519 identities (plain or passphrase-protected files) and recipients.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::{ExposeSecret, SecretString};
use age::x25519;
use zeroize::Zeroizing;

use super::SecretsError;

/// Environment variables naming an identity file, in the order they are consulted.
pub const KEY_FILE_VARIABLES: [&str; 2] = ["FLEETDECK_AGE_KEY_FILE", "SOPS_AGE_KEY_FILE"];

/// How often a passphrase is asked for before giving up, as `age` and `ssh` do.
const PASSPHRASE_ATTEMPTS: u32 = 3;

/// Asks for the passphrase of an encrypted identity file. `None`: cannot or will not
/// answer (batch mode, no terminal, cancelled).
pub trait PassphrasePrompt {
    fn ask(&self, identity_file: &Path, previous_was_wrong: bool) -> Option<Zeroizing<String>>;
    /// Said in the error when the prompt declined.
    fn declined_reason(&self) -> &'static str;
}

/// Never asks (`--batch`, services): a passphrase-protected identity fails with a reason.
pub struct NeverAsk;

impl PassphrasePrompt for NeverAsk {
    fn ask(&self, _: &Path, _: bool) -> Option<Zeroizing<String>> {
        None
    }
    fn declined_reason(&self) -> &'static str {
        "it is passphrase-protected and --batch forbids asking"
    }
}

/// Asks on the controlling terminal (`/dev/tty`) with echo off, so it works with stdin
/// and stdout redirected (`fleetdeck secrets decrypt f.yml > out`). One question at a
/// time, across every prompt in the process ([`crate::tty`]).
pub struct TerminalPrompt;

impl PassphrasePrompt for TerminalPrompt {
    fn ask(&self, identity_file: &Path, previous_was_wrong: bool) -> Option<Zeroizing<String>> {
        crate::tty::ask_passphrase(
            &format!(
                "Enter passphrase for age identity '{}': ",
                identity_file.display()
            ),
            "Wrong passphrase, try again.",
            previous_was_wrong,
        )
    }
    fn declined_reason(&self) -> &'static str {
        "it is passphrase-protected and no passphrase was entered (no terminal, or cancelled)"
    }
}

/// The age identities fleetdeck decrypts with, and the files they came from.
pub struct Identities {
    keys: Vec<x25519::Identity>,
    sources: Vec<PathBuf>,
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identities")
            .field("keys", &self.keys.len())
            .field("sources", &self.sources)
            .finish()
    }
}

impl Identities {
    pub fn from_identities(keys: Vec<x25519::Identity>, sources: Vec<PathBuf>) -> Identities {
        Identities { keys, sources }
    }

    /// The first identity file found, in this order: `explicit` (the inventory's
    /// `fleetdeck_age_identity`, or `--identity`), `$FLEETDECK_AGE_KEY_FILE`,
    /// `$SOPS_AGE_KEY_FILE`, `$XDG_CONFIG_HOME/sops/age/keys.txt`. A path that is named
    /// explicitly must exist; only the last, default one may be absent.
    pub fn discover(
        explicit: Option<&Path>,
        prompt: &dyn PassphrasePrompt,
    ) -> Result<Identities, SecretsError> {
        let env: Vec<(&str, Option<PathBuf>)> = KEY_FILE_VARIABLES
            .iter()
            .map(|v| {
                (
                    *v,
                    std::env::var_os(v)
                        .filter(|s| !s.is_empty())
                        .map(PathBuf::from),
                )
            })
            .collect();
        match discovery_choice(explicit, &env, &default_key_file()) {
            Some(path) => Identities::load(&path, prompt),
            None => Err(SecretsError::input(format!(
                "no age identity: give one (--identity, or fleetdeck_age_identity in the \
                 inventory), or set {} or {}, or create {}",
                KEY_FILE_VARIABLES[0],
                KEY_FILE_VARIABLES[1],
                default_key_file().display()
            ))),
        }
    }

    /// Reads one identity file: `age-keygen` output (comments, `AGE-SECRET-KEY-1…`
    /// lines), or such a file encrypted with a passphrase (`age -p`, armored or not),
    /// whose passphrase is asked through `prompt`.
    pub fn load(path: &Path, prompt: &dyn PassphrasePrompt) -> Result<Identities, SecretsError> {
        let bytes = Zeroizing::new(
            std::fs::read(path).map_err(|e| SecretsError::io(path, "read the age identity", &e))?,
        );
        let keys = if is_age_encrypted(&bytes) {
            let plain = unlock(path, &bytes, prompt)?;
            parse_identities(&plain)
        } else {
            parse_identities(&bytes)
        }
        .map_err(|e| e.in_file(path))?;
        Ok(Identities {
            keys,
            sources: vec![path.to_path_buf()],
        })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn sources(&self) -> &[PathBuf] {
        &self.sources
    }

    /// The recipients these identities decrypt for (`age1…`).
    pub fn recipients(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| k.to_public().to_string())
            .collect()
    }

    pub(crate) fn as_age(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.keys.iter().map(|k| k as &dyn age::Identity)
    }

    /// "identities from FILE (age1…)" for errors about no matching key.
    pub(crate) fn describe(&self) -> String {
        let files: Vec<String> = self
            .sources
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        format!(
            "tried the identities in {} (recipients {})",
            if files.is_empty() {
                "memory".to_owned()
            } else {
                files.join(", ")
            },
            self.recipients().join(", ")
        )
    }
}

fn default_key_file() -> PathBuf {
    crate::paths::config_home().join("sops/age/keys.txt")
}

/// The discovery order, pure: explicit path, then the variables in order, then the
/// default file if it exists.
fn discovery_choice(
    explicit: Option<&Path>,
    env: &[(&str, Option<PathBuf>)],
    default: &Path,
) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = env.iter().find_map(|(_, p)| p.clone()) {
        return Some(p);
    }
    default.exists().then(|| default.to_path_buf())
}

fn is_age_encrypted(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let bytes = &bytes[start..];
    bytes.starts_with(b"age-encryption.org/")
        || bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
}

/// Decrypts a passphrase-protected identity file, asking up to three times.
fn unlock(
    path: &Path,
    bytes: &[u8],
    prompt: &dyn PassphrasePrompt,
) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
    let mut wrong = false;
    for _ in 0..PASSPHRASE_ATTEMPTS {
        let Some(passphrase) = prompt.ask(path, wrong) else {
            return Err(SecretsError::crypto(format!(
                "cannot use this age identity: {}",
                prompt.declined_reason()
            ))
            .in_file(path));
        };
        match decrypt_with_passphrase(bytes, &passphrase) {
            Ok(plain) => return Ok(plain),
            Err(age::DecryptError::DecryptionFailed)
            | Err(age::DecryptError::KeyDecryptionFailed)
            | Err(age::DecryptError::NoMatchingKeys) => wrong = true,
            Err(age::DecryptError::ExcessiveWork { required, target }) => {
                return Err(SecretsError::input(format!(
                    "the passphrase encryption asks for too much work (scrypt log N \
                     {required}, at most {target} accepted)"
                ))
                .in_file(path));
            }
            Err(e) => {
                return Err(SecretsError::input(format!(
                    "not a valid passphrase-encrypted age identity: {e}"
                ))
                .in_file(path));
            }
        }
    }
    Err(SecretsError::crypto(format!(
        "wrong passphrase for the age identity ({PASSPHRASE_ATTEMPTS} attempts)"
    ))
    .in_file(path))
}

fn decrypt_with_passphrase(
    bytes: &[u8],
    passphrase: &str,
) -> Result<Zeroizing<Vec<u8>>, age::DecryptError> {
    let decryptor = age::Decryptor::new(age::armor::ArmoredReader::new(bytes))?;
    let identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    let mut reader = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity))?;
    let mut plain = Zeroizing::new(Vec::new());
    reader.read_to_end(&mut plain)?;
    Ok(plain)
}

/// `AGE-SECRET-KEY-1…` lines; blank lines and `#` comments skipped. Anything else is an
/// error with its line number (plugin and SSH identities are not supported).
fn parse_identities(bytes: &[u8]) -> Result<Vec<x25519::Identity>, SecretsError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| SecretsError::input("not an age identity file (not UTF-8 text)"))?;
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with("AGE-PLUGIN-") {
            return Err(SecretsError::input(format!(
                "line {}: age plugin identities are not supported (X25519 only)",
                n + 1
            )));
        }
        if line.starts_with("-----BEGIN") {
            return Err(SecretsError::input(format!(
                "line {}: SSH or PEM keys are not supported as age identities (X25519 \
                 `AGE-SECRET-KEY-1…` only)",
                n + 1
            )));
        }
        // The parse error is a fixed string; the line itself is never quoted.
        let key = x25519::Identity::from_str(line).map_err(|e| {
            SecretsError::input(format!("line {}: not an age X25519 identity ({e})", n + 1))
        })?;
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(SecretsError::input(
            "no age identity in the file (expected an AGE-SECRET-KEY-1… line)",
        ));
    }
    Ok(keys)
}

/// A new X25519 identity as `age-keygen` writes it, and its recipient.
pub fn generate_identity(now_rfc3339: &str) -> (Zeroizing<String>, String) {
    let key = x25519::Identity::generate();
    let recipient = key.to_public().to_string();
    let text = Zeroizing::new(format!(
        "# created: {now_rfc3339}\n# public key: {recipient}\n{}\n",
        key.to_string().expose_secret()
    ));
    (text, recipient)
}

/// X25519 recipients (`age1…`), parsed with errors that say where each came from.
#[derive(Debug, Clone, Default)]
pub struct Recipients {
    keys: Vec<x25519::Recipient>,
}

impl Recipients {
    pub fn new() -> Recipients {
        Recipients::default()
    }

    /// One recipient; `origin` says where it came from (`-r`, `FILE:3`, a field).
    pub fn add(&mut self, text: &str, origin: &str) -> Result<(), SecretsError> {
        let text = text.trim();
        let key = parse_recipient(text).map_err(|e| {
            SecretsError::input(format!("{origin}: invalid age recipient `{text}`: {e}"))
        })?;
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
        Ok(())
    }

    /// A recipients file as `age -R` reads it: one per line, `#` comments, blanks.
    pub fn add_file(&mut self, path: &Path) -> Result<(), SecretsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SecretsError::io(path, "read the recipients file", &e))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            self.add(line, &format!("line {}", n + 1))
                .map_err(|e| e.in_file(path))?;
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// As `age1…` strings, in the order added.
    pub fn to_strings(&self) -> Vec<String> {
        self.keys.iter().map(ToString::to_string).collect()
    }

    pub(crate) fn as_age(&self) -> impl Iterator<Item = &dyn age::Recipient> {
        self.keys.iter().map(|k| k as &dyn age::Recipient)
    }
}

fn parse_recipient(text: &str) -> Result<x25519::Recipient, String> {
    if text.starts_with("ssh-") {
        return Err("SSH recipients are not supported (X25519 `age1…` only)".into());
    }
    let Some(data) = text.strip_prefix("age1") else {
        return Err("expected an X25519 recipient starting with `age1`".into());
    };
    // Bech32 data never contains `1`: `age1yubikey1…` is a plugin's recipient.
    if data.contains('1') {
        return Err("age plugin recipients are not supported (X25519 only)".into());
    }
    x25519::Recipient::from_str(text).map_err(|e| e.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::ending::ExitCodeOf;
    use std::io::Write as _;
    use std::sync::Mutex;

    struct Answers(Mutex<Vec<&'static str>>, Mutex<Vec<bool>>);

    impl PassphrasePrompt for Answers {
        fn ask(&self, _: &Path, wrong: bool) -> Option<Zeroizing<String>> {
            self.1.lock().unwrap().push(wrong);
            let mut a = self.0.lock().unwrap();
            if a.is_empty() {
                None
            } else {
                Some(Zeroizing::new(a.remove(0).to_owned()))
            }
        }
        fn declined_reason(&self) -> &'static str {
            "no more answers"
        }
    }

    fn encrypt_with_passphrase(plain: &[u8], passphrase: &str, armor: bool) -> Vec<u8> {
        let mut r = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
        r.set_work_factor(2); // fast in tests
        let enc =
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
        let format = if armor {
            age::armor::Format::AsciiArmor
        } else {
            age::armor::Format::Binary
        };
        let out = age::armor::ArmoredWriter::wrap_output(Vec::new(), format).unwrap();
        let mut w = enc.wrap_output(out).unwrap();
        w.write_all(plain).unwrap();
        w.finish().unwrap().finish().unwrap()
    }

    #[test]
    fn discovery_order() {
        let dir = tempfile::tempdir().unwrap();
        let default = dir.path().join("keys.txt");
        let env_none = [("A", None), ("B", None)];
        let env_b = [("A", None), ("B", Some(PathBuf::from("/b")))];
        let env_ab = [
            ("A", Some(PathBuf::from("/a"))),
            ("B", Some(PathBuf::from("/b"))),
        ];
        assert_eq!(discovery_choice(None, &env_none, &default), None);
        std::fs::write(&default, "").unwrap();
        assert_eq!(
            discovery_choice(None, &env_none, &default),
            Some(default.clone())
        );
        assert_eq!(discovery_choice(None, &env_b, &default), Some("/b".into()));
        assert_eq!(discovery_choice(None, &env_ab, &default), Some("/a".into()));
        assert_eq!(
            discovery_choice(Some(Path::new("/x")), &env_ab, &default),
            Some("/x".into())
        );
    }

    #[test]
    fn reads_keygen_output_and_rejects_junk_by_line() {
        let (text, recipient) = generate_identity("2024-01-01T00:00:00Z");
        let keys = parse_identities(text.as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].to_public().to_string(), recipient);
        assert!(text.starts_with("# created: 2024-01-01T00:00:00Z\n# public key: age1"));

        let e = parse_identities(b"# c\n\nAGE-SECRET-KEY-1NOPE\n")
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("line 3: not an age X25519 identity"),
            "{e}"
        );
        let e = parse_identities(b"AGE-PLUGIN-YUBIKEY-1XYZ\n")
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .contains("plugin identities are not supported"),
            "{e}"
        );
        let e = parse_identities(b"# only comments\n").err().unwrap();
        assert!(e.to_string().contains("no age identity"), "{e}");
    }

    #[test]
    fn passphrase_protected_identity_files() {
        let (text, recipient) = generate_identity("2024-01-01T00:00:00Z");
        let dir = tempfile::tempdir().unwrap();
        for armor in [true, false] {
            let path = dir.path().join(format!("key-{armor}.age"));
            std::fs::write(
                &path,
                encrypt_with_passphrase(text.as_bytes(), "s3cret", armor),
            )
            .unwrap();

            // Wrong, then right: asked twice, the second time told it was wrong.
            let prompt = Answers(Mutex::new(vec!["nope", "s3cret"]), Mutex::new(vec![]));
            let ids = Identities::load(&path, &prompt).unwrap();
            assert_eq!(ids.recipients(), vec![recipient.clone()]);
            assert_eq!(*prompt.1.lock().unwrap(), vec![false, true]);

            let e = Identities::load(&path, &NeverAsk).unwrap_err();
            assert_eq!(e.exit_code(), 1);
            assert!(e.to_string().contains("--batch forbids asking"), "{e}");
            assert!(e.to_string().contains(&path.display().to_string()), "{e}");

            let prompt = Answers(Mutex::new(vec!["a", "b", "c", "d"]), Mutex::new(vec![]));
            let e = Identities::load(&path, &prompt).unwrap_err();
            assert!(e.to_string().contains("wrong passphrase"), "{e}");
            assert_eq!(prompt.1.lock().unwrap().len(), 3);
        }
    }

    #[test]
    fn recipients_parse_with_origin() {
        let (_, recipient) = generate_identity("now");
        let mut r = Recipients::new();
        r.add(&recipient, "-r").unwrap();
        r.add(&recipient, "-r").unwrap();
        assert_eq!(r.len(), 1, "duplicates are kept once");
        let e = r.add("age1xyz", "-r").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("-r: invalid age recipient `age1xyz`"),
            "{e}"
        );
        let e = r.add("ssh-ed25519 AAAA", "-r").unwrap_err();
        assert!(
            e.to_string().contains("SSH recipients are not supported"),
            "{e}"
        );
        let e = r.add("AGE-SECRET-KEY-1ABC", "-r").unwrap_err();
        assert!(e.to_string().contains("starting with `age1`"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("recipients.txt");
        std::fs::write(&file, format!("# team\n{recipient}\n\nbogus\n")).unwrap();
        let e = Recipients::new().add_file(&file).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: line 4: invalid age recipient `bogus`: expected an X25519 recipient \
                 starting with `age1`",
                file.display()
            )
        );
    }
}
