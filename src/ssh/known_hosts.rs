//! OpenSSH `known_hosts` files.
//!
//! Reads the format described in sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT" and answers the
//! questions `ssh` asks when it connects: is this host key trusted, revoked, or has it
//! changed? Which certificate authorities may sign host certificates for this host?
//!
//! Semantics follow OpenSSH (`hostfile.c`, `sshconnect.c`, `match.c`) so that a file
//! that works with `ssh` works here unchanged:
//! - host names are lowercased before matching, plain patterns match case-insensitively;
//! - a host on a non-standard port is looked up as `[host]:port`, on port 22 as `host`;
//! - hashed names (`|1|salt|hash`) are HMAC-SHA1 of that lookup name keyed with the salt;
//! - `@revoked` lines apply to hosts their pattern matches, and override any trusting line;
//! - `@cert-authority` lines trust a CA for host certificates, never as a plain host key.

use super::pattern::{HostPattern, matches_list};
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::ssh_key::certificate::CertType;
use russh::keys::ssh_key::public::KeyData;
use russh::keys::{Certificate, HashAlg, PublicKey, ssh_key};
use sha1::Sha1;

/// The port `ssh` uses when none is given; hosts on it are recorded without `[...]:port`.
pub const DEFAULT_PORT: u16 = 22;

/// Length of the salt and of the HMAC-SHA1 output in a hashed host name.
const HASH_LEN: usize = 20;

/// Where a line came from, so that users can be pointed at the line to edit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    /// 1-based, as editors and `ssh` count.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A line that could not be understood. OpenSSH skips such lines, so do we, but we say so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub location: Location,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// The optional `@...` marker that starts a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// A plain host key.
    None,
    /// `@cert-authority`: the key is a CA trusted to sign host certificates.
    CertAuthority,
    /// `@revoked`: the key must never be accepted.
    Revoked,
}

/// One parsed line of a known_hosts file.
#[derive(Clone, Debug)]
pub struct Entry {
    pub marker: Marker,
    pub key: PublicKey,
    pub location: Location,
    hosts: HostField,
}

impl Entry {
    /// Whether this line is about the host known by `lookup_name` (`host` or `[host]:port`,
    /// already lowercased).
    fn applies_to(&self, lookup_name: &str) -> bool {
        self.hosts.matches(lookup_name)
    }

    fn applies_to_any(&self, lookup_names: &[String]) -> bool {
        lookup_names.iter().any(|name| self.applies_to(name))
    }
}

/// The host field of a line: either a salted hash of one name, or a pattern list.
#[derive(Clone, Debug)]
enum HostField {
    Hashed { salt: Vec<u8>, hash: [u8; HASH_LEN] },
    Patterns(Vec<HostPattern>),
}

impl HostField {
    fn parse(field: &str) -> Result<HostField, String> {
        if let Some(rest) = field.strip_prefix('|') {
            return parse_hashed(rest).map(|(salt, hash)| HostField::Hashed { salt, hash });
        }
        let patterns = field
            .split(',')
            // Lowercased: OpenSSH matches known_hosts names case-insensitively.
            .map(|pattern| HostPattern::parse(&pattern.to_ascii_lowercase()))
            .collect::<Vec<_>>();
        if patterns.iter().any(|p| p.glob.is_empty()) {
            return Err(format!("empty host pattern in {field:?}"));
        }
        Ok(HostField::Patterns(patterns))
    }

    fn matches(&self, lookup_name: &str) -> bool {
        match self {
            HostField::Hashed { salt, hash } => hmac_sha1(salt, lookup_name)
                .map(|mac| mac.verify_slice(hash).is_ok())
                .unwrap_or(false),
            HostField::Patterns(patterns) => matches_list(patterns, lookup_name),
        }
    }
}

/// Parses `1|salt|hash` (the leading `|` already removed).
fn parse_hashed(rest: &str) -> Result<(Vec<u8>, [u8; HASH_LEN]), String> {
    let mut parts = rest.split('|');
    let (Some(magic), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("hashed host name is not |1|salt|hash".to_owned());
    };
    if magic != "1" {
        return Err(format!("unsupported host name hash type {magic:?}"));
    }
    let salt = BASE64
        .decode(salt)
        .map_err(|e| format!("bad base64 in hashed host salt: {e}"))?;
    let hash = BASE64
        .decode(hash)
        .map_err(|e| format!("bad base64 in hashed host name: {e}"))?;
    if salt.len() != HASH_LEN {
        return Err(format!(
            "hashed host salt is {} bytes, expected {HASH_LEN}",
            salt.len()
        ));
    }
    let hash: [u8; HASH_LEN] = hash.try_into().map_err(|bytes: Vec<u8>| {
        format!(
            "hashed host name is {} bytes, expected {HASH_LEN}",
            bytes.len()
        )
    })?;
    Ok((salt, hash))
}

fn hmac_sha1(salt: &[u8], name: &str) -> Option<Hmac<Sha1>> {
    // HMAC accepts keys of any length; `None` cannot happen but is not worth a panic.
    let mut mac = Hmac::<Sha1>::new_from_slice(salt).ok()?;
    mac.update(name.as_bytes());
    Some(mac)
}

/// The name OpenSSH records and looks up for `host` on `port` (its `put_host_port`).
pub fn lookup_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == DEFAULT_PORT || port == 0 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// A key already known for a host, as shown to the user when the offered key differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownKey {
    pub location: Location,
    /// Key type as written in known_hosts, e.g. `ssh-ed25519`.
    pub algorithm: String,
    /// `SHA256:...`, as `ssh` and `ssh-keygen -l` print it.
    pub fingerprint: String,
}

/// How the offered key relates to the keys already known for the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// A key of the same type is known and differs: the classic "HOST KEY HAS CHANGED".
    KeyDiffers,
    /// Only keys of other types are known. `ssh` treats this as a new key but warns that
    /// the host is known with different key types; it still needs the user's attention.
    OnlyOtherTypes,
}

/// The answer to "may I trust this host key?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A plain line for the host lists exactly this key.
    Trusted(Location),
    /// An `@revoked` line for the host lists this key. Beats any trusting line.
    Revoked(Location),
    /// The host is known, but not with this key.
    Changed {
        kind: ChangeKind,
        known: Vec<KnownKey>,
    },
    /// No plain line applies to the host.
    Unknown,
}

/// Why a host certificate was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertRejection {
    /// A user certificate presented as a host key.
    NotHostCertificate,
    /// No `@cert-authority` line for the host lists the signing key.
    UntrustedAuthority,
    NotYetValid {
        valid_after: u64,
    },
    Expired {
        valid_before: u64,
    },
    /// The CA is trusted but its signature over the certificate does not verify.
    BadSignature,
    /// None of the names the host is known by is among the certificate's principals.
    PrincipalMismatch {
        principals: Vec<String>,
    },
    /// OpenSSH defines no critical options for host certificates and refuses any.
    UnsupportedCriticalOptions(Vec<String>),
}

impl fmt::Display for CertRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertRejection::NotHostCertificate => write!(f, "not a host certificate"),
            CertRejection::UntrustedAuthority => {
                write!(
                    f,
                    "signed by a CA not listed as @cert-authority for this host"
                )
            }
            CertRejection::NotYetValid { valid_after } => {
                write!(f, "not valid before {valid_after} (unix time)")
            }
            CertRejection::Expired { valid_before } => {
                write!(f, "expired at {valid_before} (unix time)")
            }
            CertRejection::BadSignature => write!(f, "CA signature does not verify"),
            CertRejection::PrincipalMismatch { principals } => {
                write!(f, "host name not in principals {}", principals.join(","))
            }
            CertRejection::UnsupportedCriticalOptions(options) => {
                write!(f, "unsupported critical options {}", options.join(","))
            }
        }
    }
}

/// The answer to "may I trust this host certificate?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertVerdict {
    /// Signed by the CA on this `@cert-authority` line, and valid for the host now.
    Trusted(Location),
    /// The CA key or the certified key is listed under `@revoked` for the host.
    Revoked(Location),
    Rejected(CertRejection),
}

/// All entries of one or more known_hosts files, in file order.
#[derive(Clone, Debug, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
}

impl KnownHosts {
    /// Parses known_hosts text. Lines that cannot be parsed are skipped and reported.
    pub fn parse(text: &str, source: &Path) -> (KnownHosts, Vec<Warning>) {
        let mut known_hosts = KnownHosts::default();
        let mut warnings = Vec::new();
        known_hosts.add_text(text, source, &mut warnings);
        (known_hosts, warnings)
    }

    /// Reads the files in order, as `ssh` reads `UserKnownHostsFile` then
    /// `GlobalKnownHostsFile`. Missing files are normal (a fresh account has none) and
    /// are skipped; other I/O errors are returned.
    pub fn load(paths: &[PathBuf]) -> io::Result<(KnownHosts, Vec<Warning>)> {
        let mut known_hosts = KnownHosts::default();
        let mut warnings = Vec::new();
        for path in paths {
            let bytes = match std::fs::read(path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("reading {}: {e}", path.display()),
                    ));
                }
            };
            // Invalid UTF-8 can only sit in a broken line; it then fails to parse and warns.
            known_hosts.add_text(&String::from_utf8_lossy(&bytes), path, &mut warnings);
        }
        Ok((known_hosts, warnings))
    }

    fn add_text(&mut self, text: &str, source: &Path, warnings: &mut Vec<Warning>) {
        for (index, line) in text.lines().enumerate() {
            let location = Location {
                file: source.to_path_buf(),
                line: index + 1,
            };
            match parse_line(line) {
                Ok(Some((marker, hosts, key))) => self.entries.push(Entry {
                    marker,
                    key,
                    location,
                    hosts,
                }),
                Ok(None) => {}
                Err(message) => warnings.push(Warning { location, message }),
            }
        }
    }

    /// All lines (of any marker) that apply to the host known by any of `names` on `port`.
    /// This is what `ssh-keygen -F` lists.
    pub fn entries_for<'a>(
        &'a self,
        names: &[&str],
        port: u16,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        let lookup_names = lookup_names(names, port);
        self.entries
            .iter()
            .filter(move |entry| entry.applies_to_any(&lookup_names))
    }

    /// Decides whether `key` is an acceptable host key for the host known by `names`
    /// (e.g. `[HostKeyAlias or HostName, IP]`) on `port`. A line applies if it matches any
    /// of the names; negated patterns veto a line for the name they match.
    pub fn check(&self, names: &[&str], port: u16, key: &PublicKey) -> Verdict {
        let applicable: Vec<&Entry> = self.entries_for(names, port).collect();
        let same_key = |entry: &&&Entry| entry.key.key_data() == key.key_data();

        if let Some(revoked) = applicable
            .iter()
            .filter(|e| e.marker == Marker::Revoked)
            .find(same_key)
        {
            return Verdict::Revoked(revoked.location.clone());
        }
        let plain: Vec<&Entry> = applicable
            .into_iter()
            .filter(|e| e.marker == Marker::None)
            .collect();
        if let Some(trusted) = plain.iter().find(same_key) {
            return Verdict::Trusted(trusted.location.clone());
        }
        if plain.is_empty() {
            return Verdict::Unknown;
        }
        let kind = if plain.iter().any(|e| e.key.algorithm() == key.algorithm()) {
            ChangeKind::KeyDiffers
        } else {
            ChangeKind::OnlyOtherTypes
        };
        let known = plain
            .iter()
            .map(|entry| KnownKey {
                location: entry.location.clone(),
                algorithm: entry.key.algorithm().as_str().to_owned(),
                fingerprint: fingerprint(&entry.key),
            })
            .collect();
        Verdict::Changed { kind, known }
    }

    /// The CA keys trusted to sign host certificates for this host, minus revoked ones.
    pub fn cert_authorities(&self, names: &[&str], port: u16) -> Vec<&PublicKey> {
        let applicable: Vec<&Entry> = self.entries_for(names, port).collect();
        let revoked = |key: &KeyData| {
            applicable
                .iter()
                .any(|e| e.marker == Marker::Revoked && e.key.key_data() == key)
        };
        applicable
            .iter()
            .filter(|e| e.marker == Marker::CertAuthority && !revoked(e.key.key_data()))
            .map(|e| &e.key)
            .collect()
    }

    /// Decides whether a host certificate is acceptable, as `ssh` does: a host
    /// certificate, not revoked, signed by an `@cert-authority` for the host, valid at
    /// `now_unix`, without critical options, and naming one of `names` as a principal.
    /// Like OpenSSH, a certificate with no principals is valid for any host.
    pub fn check_certificate(
        &self,
        names: &[&str],
        port: u16,
        cert: &Certificate,
        now_unix: u64,
    ) -> CertVerdict {
        if cert.cert_type() != CertType::Host {
            return CertVerdict::Rejected(CertRejection::NotHostCertificate);
        }
        let applicable: Vec<&Entry> = self.entries_for(names, port).collect();
        if let Some(revoked) = applicable.iter().find(|e| {
            e.marker == Marker::Revoked
                && (e.key.key_data() == cert.signature_key()
                    || e.key.key_data() == cert.public_key())
        }) {
            return CertVerdict::Revoked(revoked.location.clone());
        }
        let Some(authority) = applicable.iter().find(|e| {
            e.marker == Marker::CertAuthority && e.key.key_data() == cert.signature_key()
        }) else {
            return CertVerdict::Rejected(CertRejection::UntrustedAuthority);
        };
        if now_unix < cert.valid_after() {
            return CertVerdict::Rejected(CertRejection::NotYetValid {
                valid_after: cert.valid_after(),
            });
        }
        if now_unix >= cert.valid_before() {
            return CertVerdict::Rejected(CertRejection::Expired {
                valid_before: cert.valid_before(),
            });
        }
        let ca_fingerprint = authority.key.fingerprint(HashAlg::Sha256);
        if cert.validate_at(now_unix, [&ca_fingerprint]).is_err() {
            return CertVerdict::Rejected(CertRejection::BadSignature);
        }
        if !cert.critical_options().is_empty() {
            return CertVerdict::Rejected(CertRejection::UnsupportedCriticalOptions(
                cert.critical_options().keys().cloned().collect(),
            ));
        }
        let principals = cert.valid_principals();
        let names_principal = names.iter().any(|name| {
            let name = name.to_ascii_lowercase();
            principals.contains(&name)
        });
        if !principals.is_empty() && !names_principal {
            return CertVerdict::Rejected(CertRejection::PrincipalMismatch {
                principals: principals.to_vec(),
            });
        }
        CertVerdict::Trusted(authority.location.clone())
    }
}

fn lookup_names(names: &[&str], port: u16) -> Vec<String> {
    names.iter().map(|name| lookup_name(name, port)).collect()
}

/// Parses one line; `Ok(None)` for blank and comment lines.
fn parse_line(line: &str) -> Result<Option<(Marker, HostField, PublicKey)>, String> {
    let line = line.trim_start_matches([' ', '\t']);
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut fields = line.split([' ', '\t']).filter(|f| !f.is_empty());
    let mut next_field = |what: &str| fields.next().ok_or_else(|| format!("missing {what} field"));

    let mut first = next_field("host")?;
    let marker = match first {
        "@cert-authority" => Marker::CertAuthority,
        "@revoked" => Marker::Revoked,
        other if other.starts_with('@') => return Err(format!("unknown marker {other:?}")),
        _ => Marker::None,
    };
    if marker != Marker::None {
        first = next_field("host")?;
    }
    let hosts = HostField::parse(first)?;
    let key_type = next_field("key type")?;
    let key_base64 = next_field("key")?;
    let mut key = PublicKey::from_openssh(&format!("{key_type} {key_base64}"))
        .map_err(|e| format!("cannot parse {key_type} key: {e}"))?;
    if key.algorithm().as_str() != key_type {
        return Err(format!(
            "key type {key_type:?} does not match the key, which is {}",
            key.algorithm().as_str()
        ));
    }
    // Keep the comment: it often says which machine or admin the key belongs to.
    key.set_comment(fields.collect::<Vec<_>>().join(" "));
    Ok(Some((marker, hosts, key)))
}

/// The SHA-256 fingerprint as OpenSSH prints it: `SHA256:` and unpadded base64.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// `keytype base64` without the comment, the way `ssh` writes keys into known_hosts.
fn key_text(key: &PublicKey) -> Result<String, ssh_key::Error> {
    PublicKey::new(key.key_data().clone(), "").to_openssh()
}

/// The plain (unhashed) line a user could add to known_hosts to trust `key` for the host.
pub fn suggested_line(host: &str, port: u16, key: &PublicKey) -> Result<String, ssh_key::Error> {
    Ok(format!("{} {}", lookup_name(host, port), key_text(key)?))
}

/// A hashed known_hosts line (`HashKnownHosts yes` style) for `key` on the host, with a
/// fresh random salt so that equal host names do not produce equal lines.
pub fn hashed_entry(host: &str, port: u16, key: &PublicKey) -> io::Result<String> {
    let mut salt = [0u8; HASH_LEN];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut salt)?;
    hashed_entry_with_salt(host, port, key, &salt)
}

fn hashed_entry_with_salt(
    host: &str,
    port: u16,
    key: &PublicKey,
    salt: &[u8; HASH_LEN],
) -> io::Result<String> {
    let mac = hmac_sha1(salt, &lookup_name(host, port))
        .ok_or_else(|| io::Error::other("HMAC-SHA1 rejected the salt"))?;
    let hash = mac.finalize().into_bytes();
    let key = key_text(key).map_err(|e| io::Error::other(format!("encoding key: {e}")))?;
    Ok(format!(
        "|1|{}|{} {key}",
        BASE64.encode(salt),
        BASE64.encode(hash)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::process::Command;

    const SOURCE: &str = "/test/known_hosts";

    fn parse(text: &str) -> (KnownHosts, Vec<Warning>) {
        KnownHosts::parse(text, Path::new(SOURCE))
    }

    fn field_matches(field: &str, host: &str, port: u16) -> bool {
        HostField::parse(field)
            .expect("valid host field")
            .matches(&lookup_name(host, port))
    }

    /// Runs ssh-keygen, failing the test with its stderr if it fails.
    fn ssh_keygen(args: &[&str]) -> String {
        let output = Command::new("ssh-keygen")
            .args(args)
            .output()
            .expect("run ssh-keygen");
        assert!(
            output.status.success(),
            "ssh-keygen {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    /// Generates an ed25519 key pair `dir/name`, returning the private key path and public key.
    fn generate_key(dir: &Path, name: &str) -> (PathBuf, PublicKey) {
        let path = dir.join(name);
        let path_str = path.to_str().expect("utf-8 temp path");
        ssh_keygen(&["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path_str]);
        let public = PublicKey::read_openssh_file(path.with_extension("pub"))
            .expect("read generated public key");
        (path, public)
    }

    fn key_line(key: &PublicKey) -> String {
        key_text(key).expect("encode key")
    }

    /// Line numbers `ssh-keygen -F name -f file` reports, empty when not found (exit 1).
    fn ssh_keygen_find(file: &Path, name: &str) -> BTreeSet<usize> {
        let output = Command::new("ssh-keygen")
            .args(["-F", name, "-f"])
            .arg(file)
            .output()
            .expect("run ssh-keygen -F");
        let stdout = String::from_utf8(output.stdout).expect("utf-8 output");
        let lines: BTreeSet<usize> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("# Host "))
            .filter_map(|l| l.split("found: line ").nth(1))
            .map(|l| {
                l.split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("line number")
            })
            .collect();
        assert_eq!(
            output.status.success(),
            !lines.is_empty(),
            "exit status and output disagree for {name}: {stdout}"
        );
        lines
    }

    fn our_find(known_hosts: &KnownHosts, host: &str, port: u16) -> BTreeSet<usize> {
        known_hosts
            .entries_for(&[host], port)
            .map(|e| e.location.line)
            .collect()
    }

    #[test]
    fn pattern_lists_negation_and_case() {
        assert!(field_matches("a.example,b.example", "b.example", 22));
        assert!(!field_matches("a.example,b.example", "c.example", 22));
        assert!(field_matches("*.example,!bad.example", "good.example", 22));
        assert!(!field_matches("*.example,!bad.example", "bad.example", 22));
        // The veto holds whatever the order of the patterns.
        assert!(!field_matches("!bad.example,*.example", "bad.example", 22));
        // A negation alone never makes a line apply.
        assert!(!field_matches("!bad.example", "other.example", 22));
        assert!(field_matches("Web.EXAMPLE", "web.example", 22));
        assert!(field_matches("web.example", "WEB.Example", 22));
    }

    #[test]
    fn ports_use_bracketed_names_except_22() {
        assert_eq!(lookup_name("Host", 22), "host");
        assert_eq!(lookup_name("host", 2222), "[host]:2222");
        assert!(field_matches("host", "host", 22));
        assert!(!field_matches("host", "host", 2222));
        assert!(field_matches("[host]:2222", "host", 2222));
        assert!(!field_matches("[host]:2222", "host", 22));
        assert!(!field_matches("[host]:2222", "host", 2223));
        assert!(field_matches("[*.example]:2222", "a.example", 2222));
        assert!(!field_matches("[host]:22", "host", 2222));
    }

    #[test]
    fn malformed_lines_warn_with_file_and_line() {
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBCYGLI+/kv8PyM89WO4wUcIh6gP0xcozdyCNgoLPUaC";
        let text = format!(
            "# comment\n\n   \ngood {key}\nonlyhost\nhost ssh-ed25519\nhost ssh-ed25519 !!notbase64\n\
             @bogus host {key}\n|1|short|short {key}\nhost ssh-rsa {}\n@revoked\n,host {key}\n  \tindented {key} trailing comment\n",
            key.split(' ').nth(1).expect("base64 part")
        );
        let (known_hosts, warnings) = parse(&text);
        let warned_lines: Vec<usize> = warnings.iter().map(|w| w.location.line).collect();
        assert_eq!(warned_lines, vec![5, 6, 7, 8, 9, 10, 11, 12]);
        assert!(
            warnings
                .iter()
                .all(|w| w.location.file == Path::new(SOURCE))
        );
        assert_eq!(
            warnings[0].to_string(),
            "/test/known_hosts:5: missing key type field"
        );
        assert!(warnings[3].message.contains("@bogus"), "{}", warnings[3]);
        assert!(warnings[5].message.contains("ssh-rsa"), "{}", warnings[5]);
        let parsed: Vec<usize> = known_hosts
            .entries
            .iter()
            .map(|e| e.location.line)
            .collect();
        assert_eq!(parsed, vec![4, 13]);
    }

    #[test]
    fn load_skips_missing_files_and_keeps_sources() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, key) = generate_key(dir.path(), "k");
        let first = dir.path().join("first");
        let second = dir.path().join("second");
        std::fs::write(&first, format!("a.example {}\n", key_line(&key))).expect("write");
        std::fs::write(&second, format!("\nb.example {}\nbroken\n", key_line(&key)))
            .expect("write");
        let missing = dir.path().join("missing");
        let (known_hosts, warnings) =
            KnownHosts::load(&[first.clone(), missing, second.clone()]).expect("load");
        assert_eq!(
            known_hosts.check(&["b.example"], 22, &key),
            Verdict::Trusted(Location {
                file: second.clone(),
                line: 2
            })
        );
        assert_eq!(
            known_hosts.check(&["a.example"], 22, &key),
            Verdict::Trusted(Location {
                file: first,
                line: 1
            })
        );
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            warnings[0].location,
            Location {
                file: second,
                line: 3
            }
        );
    }

    #[test]
    fn lookups_agree_with_ssh_keygen_plain_and_hashed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, k1) = generate_key(dir.path(), "k1");
        let (_, k2) = generate_key(dir.path(), "k2");
        let (k1, k2) = (key_line(&k1), key_line(&k2));
        let text = format!(
            "# fleet hosts\n\
             host.example,10.0.0.1 {k1}\n\
             [host.example]:2222 {k2}\n\
             *.wild.example,!bad.wild.example {k2}\n\
             Mixed.Case.Example {k1}\n\
             ho?t.q {k1}\n\
             host.example {k2} second key\n\
             @revoked other.example {k2}\n"
        );
        let file = dir.path().join("known_hosts");
        std::fs::write(&file, &text).expect("write");
        let queries: &[(&str, u16)] = &[
            ("host.example", 22),
            ("10.0.0.1", 22),
            ("host.example", 2222),
            ("host.example", 2223),
            ("10.0.0.1", 2222),
            ("a.wild.example", 22),
            ("bad.wild.example", 22),
            ("wild.example", 22),
            ("mixed.case.example", 22),
            ("host.q", 22),
            ("hoost.q", 22),
            ("other.example", 22),
            ("unknown.example", 22),
        ];
        // Returns how many queries found something, so the hashed run can be compared.
        let check_all = || {
            let (known_hosts, warnings) =
                KnownHosts::load(std::slice::from_ref(&file)).expect("load");
            assert!(warnings.is_empty(), "{warnings:?}");
            let mut found_any = 0;
            for &(host, port) in queries {
                let theirs = ssh_keygen_find(&file, &lookup_name(host, port));
                let ours = our_find(&known_hosts, host, port);
                assert_eq!(ours, theirs, "lookup of {host} port {port}");
                found_any += usize::from(!ours.is_empty());
            }
            found_any
        };
        let plain_found = check_all();
        assert_eq!(plain_found, 7);

        let file_str = file.to_str().expect("utf-8 path");
        ssh_keygen(&["-H", "-f", file_str]);
        let hashed = std::fs::read_to_string(&file).expect("read hashed");
        assert!(hashed.contains("|1|"), "{hashed}");
        assert!(!hashed.contains("[host.example]:2222"), "{hashed}");
        assert_eq!(check_all(), plain_found);
    }

    #[test]
    fn hashed_entry_is_found_by_ssh_keygen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, key) = generate_key(dir.path(), "k");
        let file = dir.path().join("known_hosts");
        let lines = [
            hashed_entry("Host.Example", 22, &key).expect("hashed entry"),
            hashed_entry("host.example", 2222, &key).expect("hashed entry"),
        ];
        assert_ne!(lines[0].split(' ').next(), lines[1].split(' ').next());
        std::fs::write(&file, lines.join("\n") + "\n").expect("write");
        assert_eq!(ssh_keygen_find(&file, "host.example"), BTreeSet::from([1]));
        assert_eq!(
            ssh_keygen_find(&file, "[host.example]:2222"),
            BTreeSet::from([2])
        );
        assert!(ssh_keygen_find(&file, "[host.example]:2223").is_empty());

        let (known_hosts, warnings) = KnownHosts::load(&[file]).expect("load");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(matches!(
            known_hosts.check(&["host.example"], 22, &key),
            Verdict::Trusted(Location { line: 1, .. })
        ));
        assert!(matches!(
            known_hosts.check(&["host.example"], 2222, &key),
            Verdict::Trusted(Location { line: 2, .. })
        ));
    }

    #[test]
    fn hashed_entry_matches_known_vector() {
        // Produced by `ssh-keygen -H` for "host.example" (see the hashed file test);
        // pins the salt/hash encoding independently of randomness.
        let (known_hosts, warnings) = parse(
            "|1|FO2um2PoLTtAG7qdi6KUhaWTvhU=|CTyjCr3IIFtHuo5h4sFPtx2c1nQ= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBCYGLI+/kv8PyM89WO4wUcIh6gP0xcozdyCNgoLPUaC\n",
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            our_find(&known_hosts, "host.example", 22),
            BTreeSet::from([1])
        );
        assert!(our_find(&known_hosts, "host.example2", 22).is_empty());
        let key = &known_hosts.entries[0].key;
        let salt: [u8; HASH_LEN] = BASE64
            .decode("FO2um2PoLTtAG7qdi6KUhaWTvhU=")
            .expect("base64")
            .try_into()
            .expect("20 bytes");
        assert_eq!(
            hashed_entry_with_salt("host.example", 22, key, &salt).expect("hashed entry"),
            "|1|FO2um2PoLTtAG7qdi6KUhaWTvhU=|CTyjCr3IIFtHuo5h4sFPtx2c1nQ= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBCYGLI+/kv8PyM89WO4wUcIh6gP0xcozdyCNgoLPUaC"
        );
    }

    #[test]
    fn suggested_line_is_found_by_ssh_keygen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, key) = generate_key(dir.path(), "k");
        let line = suggested_line("host.example", 2222, &key).expect("line");
        assert!(
            line.starts_with("[host.example]:2222 ssh-ed25519 AAAA"),
            "{line}"
        );
        assert!(!line.ends_with(' ') && !line.contains(" k"), "{line}");
        let file = dir.path().join("known_hosts");
        std::fs::write(&file, format!("{line}\n")).expect("write");
        assert_eq!(
            ssh_keygen_find(&file, "[host.example]:2222"),
            BTreeSet::from([1])
        );
    }

    #[test]
    fn revoked_beats_trusting_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, key) = generate_key(dir.path(), "k");
        let line = key_line(&key);
        let (known_hosts, _) = parse(&format!("host.example {line}\n@revoked *.example {line}\n"));
        assert_eq!(
            known_hosts.check(&["host.example"], 22, &key),
            Verdict::Revoked(Location {
                file: PathBuf::from(SOURCE),
                line: 2
            })
        );
        // The revocation only covers hosts its pattern matches, as in OpenSSH.
        let (known_hosts, _) = parse(&format!(
            "host.example {line}\n@revoked other.example {line}\n"
        ));
        assert!(matches!(
            known_hosts.check(&["host.example"], 22, &key),
            Verdict::Trusted(Location { line: 1, .. })
        ));
    }

    #[test]
    fn changed_key_reports_known_fingerprints() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (old_path, old) = generate_key(dir.path(), "old");
        let (_, new) = generate_key(dir.path(), "new");
        let (known_hosts, _) = parse(&format!(
            "host.example,10.0.0.1 {}\nunrelated.example {}\n",
            key_line(&old),
            key_line(&new)
        ));
        // `256 SHA256:... old (ED25519)`
        let listed = ssh_keygen(&[
            "-lf",
            old_path.with_extension("pub").to_str().expect("utf-8 path"),
        ]);
        let expected_fingerprint = listed.split_whitespace().nth(1).expect("fingerprint");
        assert_eq!(fingerprint(&old), expected_fingerprint);

        let expected = Verdict::Changed {
            kind: ChangeKind::KeyDiffers,
            known: vec![KnownKey {
                location: Location {
                    file: PathBuf::from(SOURCE),
                    line: 1,
                },
                algorithm: "ssh-ed25519".to_owned(),
                fingerprint: expected_fingerprint.to_owned(),
            }],
        };
        assert_eq!(known_hosts.check(&["host.example"], 22, &new), expected);
        // Known by IP only: still the same host, still changed.
        assert_eq!(known_hosts.check(&["nope", "10.0.0.1"], 22, &new), expected);
        assert_eq!(
            known_hosts.check(&["host.example"], 2222, &new),
            Verdict::Unknown
        );
        assert_eq!(
            known_hosts.check(&["fresh.example"], 22, &old),
            Verdict::Unknown
        );
    }

    #[test]
    fn only_other_key_types_known() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, ed25519) = generate_key(dir.path(), "ed");
        let ecdsa_path = dir.path().join("ec");
        ssh_keygen(&[
            "-q",
            "-t",
            "ecdsa",
            "-N",
            "",
            "-f",
            ecdsa_path.to_str().expect("utf-8 path"),
        ]);
        let ecdsa = PublicKey::read_openssh_file(ecdsa_path.with_extension("pub")).expect("read");
        let rsa_path = dir.path().join("rsa");
        let rsa_path_str = rsa_path.to_str().expect("utf-8 path");
        ssh_keygen(&[
            "-q",
            "-t",
            "rsa",
            "-b",
            "2048",
            "-N",
            "",
            "-f",
            rsa_path_str,
        ]);
        let rsa = PublicKey::read_openssh_file(rsa_path.with_extension("pub")).expect("read");
        let (known_hosts, warnings) = parse(&format!(
            "host.example {} ecdsa comment\nhost.example {}\n",
            key_line(&ecdsa),
            key_line(&rsa)
        ));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(matches!(
            known_hosts.check(&["host.example"], 22, &ed25519),
            Verdict::Changed {
                kind: ChangeKind::OnlyOtherTypes,
                ref known
            } if known.len() == 2
                && known[0].algorithm.starts_with("ecdsa-sha2-")
                && known[1].algorithm == "ssh-rsa"
        ));
        assert_eq!(
            known_hosts.entries[0].key.comment().as_bytes(),
            b"ecdsa comment"
        );
        assert!(matches!(
            known_hosts.check(&["host.example"], 22, &ecdsa),
            Verdict::Trusted(Location { line: 1, .. })
        ));
        assert!(matches!(
            known_hosts.check(&["host.example"], 22, &rsa),
            Verdict::Trusted(Location { line: 2, .. })
        ));
    }

    /// Principals and validity of the usual test certificate.
    const PRINCIPALS: [&str; 2] = ["-n", "host.example,10.0.0.1"];
    const VALID_NOW: [&str; 2] = ["-V", "-5m:+1h"];

    /// A CA and a host key signed by it; `options` are ssh-keygen's (`-h`, `-n`, `-V`).
    struct SignedHost {
        dir: tempfile::TempDir,
        ca: PublicKey,
        cert: Certificate,
    }

    fn sign_host(options: &[&str]) -> SignedHost {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ca_path, ca) = generate_key(dir.path(), "ca");
        let (host_path, _) = generate_key(dir.path(), "host");
        let host_pub = host_path.with_extension("pub");
        let mut args = vec![
            "-q",
            "-s",
            ca_path.to_str().expect("utf-8 path"),
            "-I",
            "host-id",
        ];
        args.extend_from_slice(options);
        args.push(host_pub.to_str().expect("utf-8 path"));
        ssh_keygen(&args);
        let cert_text =
            std::fs::read_to_string(dir.path().join("host-cert.pub")).expect("read certificate");
        let cert = Certificate::from_openssh(cert_text.trim()).expect("parse certificate");
        SignedHost { dir, ca, cert }
    }

    fn now_unix() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs()
    }

    #[test]
    fn host_certificate_from_listed_ca() {
        let signed = sign_host(&[&["-h"][..], &PRINCIPALS, &VALID_NOW].concat());
        let (_, other_ca) = generate_key(signed.dir.path(), "other-ca");
        let (known_hosts, warnings) = parse(&format!(
            "@cert-authority *.example,10.0.0.* {}\n@cert-authority elsewhere.test {}\n",
            key_line(&signed.ca),
            key_line(&other_ca)
        ));
        assert!(warnings.is_empty(), "{warnings:?}");
        let now = now_unix();
        let trusted = CertVerdict::Trusted(Location {
            file: PathBuf::from(SOURCE),
            line: 1,
        });
        assert_eq!(
            known_hosts.check_certificate(&["host.example"], 22, &signed.cert, now),
            trusted
        );
        assert_eq!(
            known_hosts.check_certificate(&["10.0.0.1"], 22, &signed.cert, now),
            trusted
        );
        // The CA applies (*.example) but the name is not a principal.
        assert!(matches!(
            known_hosts.check_certificate(&["other.example"], 22, &signed.cert, now),
            CertVerdict::Rejected(CertRejection::PrincipalMismatch { .. })
        ));
        // The CA is not listed for this host pattern.
        assert_eq!(
            known_hosts.check_certificate(&["elsewhere.test"], 22, &signed.cert, now),
            CertVerdict::Rejected(CertRejection::UntrustedAuthority)
        );
        // Outside the validity window.
        assert!(matches!(
            known_hosts.check_certificate(&["host.example"], 22, &signed.cert, now + 7200),
            CertVerdict::Rejected(CertRejection::Expired { .. })
        ));
        assert!(matches!(
            known_hosts.check_certificate(&["host.example"], 22, &signed.cert, now - 3600),
            CertVerdict::Rejected(CertRejection::NotYetValid { .. })
        ));
        // A CA line does not make the CA key a trusted host key.
        assert_eq!(
            known_hosts.check(&["host.example"], 22, &signed.ca),
            Verdict::Unknown
        );
        let authorities = |host: &str| -> Vec<KeyData> {
            known_hosts
                .cert_authorities(&[host], 22)
                .into_iter()
                .map(|key| key.key_data().clone())
                .collect()
        };
        assert_eq!(
            authorities("host.example"),
            vec![signed.ca.key_data().clone()]
        );
        assert_eq!(
            authorities("elsewhere.test"),
            vec![other_ca.key_data().clone()]
        );
    }

    #[test]
    fn expired_host_certificate_is_rejected() {
        let signed = sign_host(&[&["-h", "-V", "20200101:20200102"][..], &PRINCIPALS].concat());
        let (known_hosts, _) = parse(&format!("@cert-authority * {}\n", key_line(&signed.ca)));
        assert!(matches!(
            known_hosts.check_certificate(&["host.example"], 22, &signed.cert, now_unix()),
            CertVerdict::Rejected(CertRejection::Expired { .. })
        ));
    }

    #[test]
    fn user_certificate_is_not_a_host_certificate() {
        let signed = sign_host(&[PRINCIPALS, VALID_NOW].concat());
        let (known_hosts, _) = parse(&format!("@cert-authority * {}\n", key_line(&signed.ca)));
        assert_eq!(
            known_hosts.check_certificate(&["host.example"], 22, &signed.cert, now_unix()),
            CertVerdict::Rejected(CertRejection::NotHostCertificate)
        );
    }

    #[test]
    fn revoked_ca_rejects_certificate() {
        let signed = sign_host(&[&["-h"][..], &PRINCIPALS, &VALID_NOW].concat());
        let ca = key_line(&signed.ca);
        let (known_hosts, _) = parse(&format!(
            "@cert-authority * {ca}\n@revoked host.example {ca}\n"
        ));
        let now = now_unix();
        assert!(matches!(
            known_hosts.check_certificate(&["host.example"], 22, &signed.cert, now),
            CertVerdict::Revoked(Location { line: 2, .. })
        ));
        assert!(
            known_hosts
                .cert_authorities(&["host.example"], 22)
                .is_empty()
        );
        // Revocation is per host pattern: the IP is not covered by it.
        assert!(matches!(
            known_hosts.check_certificate(&["10.0.0.1"], 22, &signed.cert, now),
            CertVerdict::Trusted(Location { line: 1, .. })
        ));
    }

    #[test]
    fn tampered_certificate_fails_signature_check() {
        let signed = sign_host(&[&["-h"][..], &PRINCIPALS, &VALID_NOW].concat());
        let mut bytes = signed.cert.to_bytes().expect("encode certificate");
        // Layout: string algorithm, then string nonce; flip the nonce's first byte.
        let algorithm_len = u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
        bytes[4 + algorithm_len + 4] ^= 0xff;
        let tampered = Certificate::from_bytes(&bytes).expect("decode tampered certificate");
        let (known_hosts, _) = parse(&format!("@cert-authority * {}\n", key_line(&signed.ca)));
        let now = now_unix();
        assert!(matches!(
            known_hosts.check_certificate(&["host.example"], 22, &signed.cert, now),
            CertVerdict::Trusted(_)
        ));
        assert_eq!(
            known_hosts.check_certificate(&["host.example"], 22, &tampered, now),
            CertVerdict::Rejected(CertRejection::BadSignature)
        );
    }

    #[test]
    fn certificate_without_principals_is_valid_for_any_host() {
        // OpenSSH's check_host_cert does not require principals on host certificates.
        let signed = sign_host(&[&["-h"][..], &VALID_NOW].concat());
        assert!(signed.cert.valid_principals().is_empty());
        let (known_hosts, _) = parse(&format!("@cert-authority * {}\n", key_line(&signed.ca)));
        assert!(matches!(
            known_hosts.check_certificate(&["anything.example"], 2222, &signed.cert, now_unix()),
            CertVerdict::Trusted(_)
        ));
    }
}
