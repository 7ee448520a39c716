//! The host-key decision: may this connection go on with the key (or certificate) the
//! server presented? OpenSSH's semantics, with two fleetdeck rules on top: a changed key
//! is refused in every mode, and an inventory pin overrides known_hosts.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use russh::keys::{Certificate, PublicKey, PublicKeyOrCertificate};

use super::config::{ResolvedHost, StrictHostKeyChecking};
use super::known_hosts::{
    self, CertRejection, CertVerdict, KnownHosts, KnownKey, Location, Verdict,
};

/// What to do with a host that no known_hosts line mentions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownHosts {
    /// Refuse (the default): the error carries the fingerprint and a line to add.
    Refuse,
    /// Trust it and record the key, hashed, in fleetdeck's own known_hosts.
    AcceptNew,
}

impl UnknownHosts {
    /// From the configured `StrictHostKeyChecking`. `ask` cannot ask in the middle of a
    /// fleet-wide connect, so it refuses like `yes`; `no` records like `accept-new`
    /// (fleetdeck never connects to a host whose key changed, whatever the setting).
    pub fn from_config(setting: StrictHostKeyChecking) -> UnknownHosts {
        match setting {
            StrictHostKeyChecking::Yes | StrictHostKeyChecking::Ask => UnknownHosts::Refuse,
            StrictHostKeyChecking::AcceptNew | StrictHostKeyChecking::No => UnknownHosts::AcceptNew,
        }
    }
}

/// Everything needed to judge one host's key.
#[derive(Debug, Clone)]
pub struct HostKeyPolicy {
    /// The name the key is recorded under: `HostKeyAlias`, else the host name.
    pub lookup_host: String,
    /// 22 when `HostKeyAlias` is set (OpenSSH then ignores the port), else the port.
    pub lookup_port: u16,
    /// Read in order: `UserKnownHostsFile`s, `GlobalKnownHostsFile`s, then fleetdeck's own.
    pub known_hosts_files: Vec<PathBuf>,
    /// Where `AcceptNew` writes.
    pub record_file: PathBuf,
    pub unknown: UnknownHosts,
    /// `SHA256:...` from the inventory; when set, known_hosts is not consulted.
    pub pin: Option<String>,
}

impl HostKeyPolicy {
    pub fn for_host(resolved: &ResolvedHost, record_file: &Path, pin: Option<String>) -> Self {
        let (lookup_host, lookup_port) = match &resolved.host_key_alias {
            Some(alias) => (alias.clone(), known_hosts::DEFAULT_PORT),
            None => (resolved.hostname.clone(), resolved.port),
        };
        let mut known_hosts_files = resolved.user_known_hosts_files.clone();
        known_hosts_files.extend(resolved.global_known_hosts_files.iter().cloned());
        if !known_hosts_files.iter().any(|f| f == record_file) {
            known_hosts_files.push(record_file.to_path_buf());
        }
        HostKeyPolicy {
            lookup_host,
            lookup_port,
            known_hosts_files,
            record_file: record_file.to_path_buf(),
            unknown: UnknownHosts::from_config(resolved.strict_host_key_checking),
            pin,
        }
    }

    /// Key types known for the host, so the client can ask for those first (OpenSSH's
    /// `order_hostkeyalgs`): a host with several keys then presents the one on file.
    /// The second value says whether a CA is trusted for the host, which is when
    /// certificate algorithms are worth offering.
    pub fn known_key_types(&self) -> (Vec<String>, bool) {
        let Ok((known, _)) = KnownHosts::load(&self.known_hosts_files) else {
            return (Vec::new(), false);
        };
        let names = [self.lookup_host.as_str()];
        let mut types = Vec::new();
        for entry in known.entries_for(&names, self.lookup_port) {
            let name = entry.key.algorithm().as_str().to_owned();
            if entry.marker == known_hosts::Marker::None && !types.contains(&name) {
                types.push(name);
            }
        }
        let has_ca = !known.cert_authorities(&names, self.lookup_port).is_empty();
        (types, has_ca)
    }

    /// Decides, reading the files now (they may have changed since the last connection).
    /// Recording an accepted new key happens here too, so that "accepted" always means
    /// "on file".
    pub fn judge(&self, offered: &PublicKeyOrCertificate) -> Result<Acceptance, HostKeyError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let (known, warnings) =
            KnownHosts::load(&self.known_hosts_files).map_err(|error| HostKeyError {
                host: self.display_host(),
                kind: HostKeyErrorKind::Unreadable(error.to_string()),
            })?;
        for warning in warnings {
            tracing::warn!(target: "fleetdeck::ssh", "{}: {}", warning.location, warning.message);
        }
        let decision = decide(self, &known, offered, now);
        if let Ok(Acceptance::New { key }) = &decision {
            record(&self.record_file, &self.lookup_host, self.lookup_port, key).map_err(
                |error| HostKeyError {
                    host: self.display_host(),
                    kind: HostKeyErrorKind::RecordFailed {
                        file: self.record_file.clone(),
                        error: error.to_string(),
                    },
                },
            )?;
        }
        decision
    }

    fn display_host(&self) -> String {
        known_hosts::lookup_name(&self.lookup_host, self.lookup_port)
    }
}

/// Why a key was accepted; shown in logs so an operator can see which line vouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acceptance {
    Known(Location),
    CertifiedBy(Location),
    Pinned,
    /// Unknown before, accepted under `accept-new`, now recorded.
    New {
        key: PublicKey,
    },
}

/// A refused host key, with what the operator needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeyError {
    /// As known_hosts names it: `host` or `[host]:port`.
    pub host: String,
    pub kind: HostKeyErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyErrorKind {
    Unknown {
        algorithm: String,
        fingerprint: String,
        /// A plain known_hosts line that would trust this key.
        suggested_line: String,
        /// Where fleetdeck looked, so the operator knows where to add it.
        files: Vec<PathBuf>,
    },
    Changed {
        algorithm: String,
        fingerprint: String,
        known: Vec<KnownKey>,
    },
    Revoked {
        fingerprint: String,
        location: Location,
    },
    Certificate {
        fingerprint: String,
        reason: CertRejection,
    },
    PinMismatch {
        pinned: String,
        fingerprint: String,
    },
    Unreadable(String),
    RecordFailed {
        file: PathBuf,
        error: String,
    },
}

impl std::error::Error for HostKeyError {}

impl fmt::Display for HostKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = &self.host;
        match &self.kind {
            HostKeyErrorKind::Unknown {
                algorithm,
                fingerprint,
                suggested_line,
                files,
            } => {
                let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                write!(
                    f,
                    "host key for {host} is not known ({algorithm} {fingerprint}); refusing \
                     to connect under strict host-key checking. Verify the fingerprint out \
                     of band, then add this line to a known_hosts file ({}):\n  {suggested_line}\n\
                     or set StrictHostKeyChecking accept-new for this host",
                    files.join(", ")
                )
            }
            HostKeyErrorKind::Changed {
                algorithm,
                fingerprint,
                known,
            } => {
                write!(
                    f,
                    "HOST KEY FOR {host} HAS CHANGED: it now presents {algorithm} {fingerprint}, \
                     but known_hosts has"
                )?;
                for key in known {
                    write!(
                        f,
                        " {} {} ({})",
                        key.algorithm, key.fingerprint, key.location
                    )?;
                }
                write!(
                    f,
                    ". Someone may be intercepting the connection, or the host was re-keyed. \
                     Refused; nothing was written. If the change is expected, remove the old \
                     line and connect again"
                )
            }
            HostKeyErrorKind::Revoked {
                fingerprint,
                location,
            } => write!(
                f,
                "host key {fingerprint} for {host} is marked @revoked at {location}; refused"
            ),
            HostKeyErrorKind::Certificate {
                fingerprint,
                reason,
            } => write!(
                f,
                "host certificate for {host} (key {fingerprint}) refused: {reason}"
            ),
            HostKeyErrorKind::PinMismatch {
                pinned,
                fingerprint,
            } => write!(
                f,
                "host key for {host} is {fingerprint}, but the inventory pins {pinned}; refused"
            ),
            HostKeyErrorKind::Unreadable(error) => {
                write!(f, "cannot read known_hosts for {host}: {error}")
            }
            HostKeyErrorKind::RecordFailed { file, error } => write!(
                f,
                "accepting the new host key for {host}: cannot write {}: {error}; not connecting \
                 with a key that is not on file",
                file.display()
            ),
        }
    }
}

/// The pure decision, given the files' contents and the time.
pub fn decide(
    policy: &HostKeyPolicy,
    known: &KnownHosts,
    offered: &PublicKeyOrCertificate,
    now_unix: u64,
) -> Result<Acceptance, HostKeyError> {
    let refuse = |kind| {
        Err(HostKeyError {
            host: policy.display_host(),
            kind,
        })
    };
    let names = [policy.lookup_host.as_str()];
    let port = policy.lookup_port;

    // The certified key stands in for a certificate wherever a plain key is compared.
    let plain_key: PublicKey = match offered {
        PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
        PublicKeyOrCertificate::Certificate(cert) => certified_key(cert),
    };
    let fingerprint = known_hosts::fingerprint(&plain_key);

    if let Some(pinned) = &policy.pin {
        return if pinned.trim() == fingerprint {
            Ok(Acceptance::Pinned)
        } else {
            refuse(HostKeyErrorKind::PinMismatch {
                pinned: pinned.clone(),
                fingerprint,
            })
        };
    }

    if let PublicKeyOrCertificate::Certificate(cert) = offered {
        match known.check_certificate(&names, port, cert, now_unix) {
            CertVerdict::Trusted(location) => return Ok(Acceptance::CertifiedBy(location)),
            CertVerdict::Revoked(location) => {
                return refuse(HostKeyErrorKind::Revoked {
                    fingerprint,
                    location,
                });
            }
            // As OpenSSH: with no CA on file for it, the certificate is judged as the
            // plain key it certifies.
            CertVerdict::Rejected(CertRejection::UntrustedAuthority) => {}
            CertVerdict::Rejected(reason) => {
                return refuse(HostKeyErrorKind::Certificate {
                    fingerprint,
                    reason,
                });
            }
        }
    }

    let algorithm = plain_key.algorithm().as_str().to_owned();
    match known.check(&names, port, &plain_key) {
        Verdict::Trusted(location) => Ok(Acceptance::Known(location)),
        Verdict::Revoked(location) => refuse(HostKeyErrorKind::Revoked {
            fingerprint,
            location,
        }),
        Verdict::Changed { known, .. } => refuse(HostKeyErrorKind::Changed {
            algorithm,
            fingerprint,
            known,
        }),
        Verdict::Unknown => match policy.unknown {
            UnknownHosts::AcceptNew => Ok(Acceptance::New { key: plain_key }),
            UnknownHosts::Refuse => {
                let suggested_line =
                    known_hosts::suggested_line(&policy.lookup_host, port, &plain_key)
                        .unwrap_or_else(|_| format!("{} {algorithm} …", policy.display_host()));
                refuse(HostKeyErrorKind::Unknown {
                    algorithm,
                    fingerprint,
                    suggested_line,
                    files: policy.known_hosts_files.clone(),
                })
            }
        },
    }
}

fn certified_key(cert: &Certificate) -> PublicKey {
    PublicKey::new(cert.public_key().clone(), "")
}

/// Serialises appends from concurrent connections in this process; each line is one
/// `write` on an `O_APPEND` file, so other processes cannot interleave inside it.
static RECORD_LOCK: Mutex<()> = Mutex::new(());

fn record(file: &Path, host: &str, port: u16, key: &PublicKey) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let line = known_hosts::hashed_entry(host, port, key)?;
    let _guard = RECORD_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(parent) = file.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)?;
    out.write_all(format!("{line}\n").as_bytes())?;
    out.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const KEY_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF/2tS4CK4DcGWSOyFrxLf0c4GDaNNbAI+acGqkOwEq5";
    const KEY_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDYTyE5mCh8OM4UdbGBoW5kCfIDUfrvkd5LQ7VvWWZd6";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).expect("test key parses")
    }

    fn offered(text: &str) -> PublicKeyOrCertificate {
        PublicKeyOrCertificate::PublicKey {
            key: key(text),
            hash_alg: None,
        }
    }

    fn policy(unknown: UnknownHosts, pin: Option<&str>) -> HostKeyPolicy {
        HostKeyPolicy {
            lookup_host: "web1".into(),
            lookup_port: 22,
            known_hosts_files: vec![PathBuf::from("/k")],
            record_file: PathBuf::from("/own"),
            unknown,
            pin: pin.map(str::to_owned),
        }
    }

    fn known(text: &str) -> KnownHosts {
        KnownHosts::parse(text, Path::new("/k")).0
    }

    #[test]
    fn changed_key_is_refused_even_under_accept_new() {
        let known = known(&format!("web1 {KEY_A}\n"));
        let error = decide(
            &policy(UnknownHosts::AcceptNew, None),
            &known,
            &offered(KEY_B),
            0,
        )
        .expect_err("a changed key must be refused");
        assert!(matches!(error.kind, HostKeyErrorKind::Changed { .. }));
        let text = error.to_string();
        assert!(text.contains("HAS CHANGED"), "{text}");
        assert!(text.contains("/k:1"), "points at the line: {text}");
    }

    #[test]
    fn unknown_host_refused_with_fingerprint_and_line_or_accepted_new() {
        let empty = known("");
        let error = decide(
            &policy(UnknownHosts::Refuse, None),
            &empty,
            &offered(KEY_A),
            0,
        )
        .expect_err("unknown under strict");
        let text = error.to_string();
        assert!(
            text.contains(&known_hosts::fingerprint(&key(KEY_A))),
            "{text}"
        );
        assert!(text.contains(&format!("web1 {KEY_A}")), "{text}");
        let accepted = decide(
            &policy(UnknownHosts::AcceptNew, None),
            &empty,
            &offered(KEY_A),
            0,
        );
        assert!(matches!(accepted, Ok(Acceptance::New { .. })));
    }

    #[test]
    fn pin_overrides_known_hosts_both_ways() {
        let trusted = known(&format!("web1 {KEY_A}\n"));
        let pin_b = known_hosts::fingerprint(&key(KEY_B));
        // A pin accepts a key known_hosts would call changed...
        assert_eq!(
            decide(
                &policy(UnknownHosts::Refuse, Some(&pin_b)),
                &trusted,
                &offered(KEY_B),
                0
            ),
            Ok(Acceptance::Pinned)
        );
        // ...and refuses one known_hosts trusts.
        let error = decide(
            &policy(UnknownHosts::Refuse, Some(&pin_b)),
            &trusted,
            &offered(KEY_A),
            0,
        )
        .expect_err("pin mismatch");
        assert!(matches!(error.kind, HostKeyErrorKind::PinMismatch { .. }));
    }

    #[test]
    fn revoked_beats_trusted() {
        let known = known(&format!("web1 {KEY_A}\n@revoked * {KEY_A}\n"));
        let error = decide(
            &policy(UnknownHosts::AcceptNew, None),
            &known,
            &offered(KEY_A),
            0,
        )
        .expect_err("revoked");
        assert!(matches!(error.kind, HostKeyErrorKind::Revoked { .. }));
    }

    #[test]
    fn accepted_key_is_recorded_hashed_and_then_trusted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let own = dir.path().join("sub/known_hosts");
        let mut policy = policy(UnknownHosts::AcceptNew, None);
        policy.known_hosts_files = vec![own.clone()];
        policy.record_file = own.clone();
        assert!(matches!(
            policy.judge(&offered(KEY_A)),
            Ok(Acceptance::New { .. })
        ));
        let text = std::fs::read_to_string(&own).expect("recorded");
        assert!(text.starts_with("|1|"), "hashed: {text}");
        assert!(!text.contains("web1"), "host name not in clear: {text}");
        assert!(matches!(
            policy.judge(&offered(KEY_A)),
            Ok(Acceptance::Known(_))
        ));
        assert_eq!(
            std::fs::read_to_string(&own).expect("read"),
            text,
            "no second line"
        );
    }
}
