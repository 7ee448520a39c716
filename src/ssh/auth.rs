//! Public-key authentication the way `ssh` does it: agent keys and `IdentityFile`s in
//! OpenSSH's order, passphrases asked for only when the server would accept the key
//! (and once per process), and a failure that says what was tried and why each failed.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use russh::client::{self, AuthResult};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::ssh_encoding::Encode;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use super::known_hosts::fingerprint;

/// How many times a passphrase is asked for before the key is given up, as `ssh` does.
const PASSPHRASE_ATTEMPTS: u32 = 3;

pub type PromptFuture<'a> = Pin<Box<dyn Future<Output = Option<Zeroizing<String>>> + Send + 'a>>;

/// Asks the operator for a key's passphrase. `None` means "cannot or will not answer"
/// (batch mode, no terminal, cancelled): the key is then skipped, never retried blindly.
pub trait PassphrasePrompt: Send + Sync {
    fn ask<'a>(&'a self, key_file: &'a Path, previous_was_wrong: bool) -> PromptFuture<'a>;
    /// Said in the error when the prompt declined, e.g. "... --batch forbids asking ...".
    fn declined_reason(&self) -> &'static str;
}

/// `--batch`: never ask; passphrase-protected keys fail with a reason instead.
pub struct NeverAsk;

impl PassphrasePrompt for NeverAsk {
    fn ask<'a>(&'a self, _: &'a Path, _: bool) -> PromptFuture<'a> {
        Box::pin(async { None })
    }
    fn declined_reason(&self) -> &'static str {
        "passphrase-protected and --batch forbids asking (load it into ssh-agent instead)"
    }
}

/// Asks on the controlling terminal (`/dev/tty`) with echo off, like `ssh` does, so it
/// works even when stdin and stdout are redirected. One question at a time, across
/// every prompt in the process ([`crate::tty`]).
pub struct TerminalPrompt;

impl PassphrasePrompt for TerminalPrompt {
    fn ask<'a>(&'a self, key_file: &'a Path, previous_was_wrong: bool) -> PromptFuture<'a> {
        let key_file = key_file.to_path_buf();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                crate::tty::ask_passphrase(
                    &format!("Enter passphrase for key '{}': ", key_file.display()),
                    "Bad passphrase, try again.",
                    previous_was_wrong,
                )
            })
            .await
            .ok()
            .flatten()
        })
    }
    fn declined_reason(&self) -> &'static str {
        "passphrase-protected and no passphrase was entered (no terminal, or cancelled)"
    }
}

/// One identity file's decrypted key, once someone has unlocked it. Locked while its
/// passphrase is being asked for, so other sessions wait for that answer.
type KeySlot = Arc<Mutex<Option<Arc<PrivateKey>>>>;

/// Decrypted identity files, shared by every session of the process, so a passphrase is
/// asked once however many hosts use the key. Keys stay in memory only.
pub struct KeyStore {
    prompt: Arc<dyn PassphrasePrompt>,
    unlocked: Mutex<HashMap<PathBuf, KeySlot>>,
}

impl KeyStore {
    pub fn new(prompt: Arc<dyn PassphrasePrompt>) -> Arc<KeyStore> {
        Arc::new(KeyStore {
            prompt,
            unlocked: Mutex::new(HashMap::new()),
        })
    }

    /// The decrypted key, asking for the passphrase at most `PASSPHRASE_ATTEMPTS` times.
    /// Concurrent callers for the same file wait for the first one's answer.
    async fn unlock(&self, file: &Path, encrypted: &str) -> Result<Arc<PrivateKey>, String> {
        let slot = {
            let mut unlocked = self.unlocked.lock().await;
            unlocked.entry(file.to_path_buf()).or_default().clone()
        };
        let mut slot = slot.lock().await;
        if let Some(key) = slot.as_ref() {
            return Ok(key.clone());
        }
        let mut wrong = false;
        for _ in 0..PASSPHRASE_ATTEMPTS {
            let Some(passphrase) = self.prompt.ask(file, wrong).await else {
                return Err(if wrong {
                    "wrong passphrase".to_owned()
                } else {
                    self.prompt.declined_reason().to_owned()
                });
            };
            match russh::keys::decode_secret_key(encrypted, Some(&passphrase)) {
                Ok(key) => {
                    let key = Arc::new(key);
                    *slot = Some(key.clone());
                    return Ok(key);
                }
                Err(error) => {
                    tracing::debug!(target: "fleetdeck::ssh", "decrypting {}: {error}", file.display());
                    wrong = true;
                }
            }
        }
        Err(format!("wrong passphrase ({PASSPHRASE_ATTEMPTS} attempts)"))
    }
}

/// One key tried, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// "agent key ED25519 SHA256:... (comment)" or "key file /path".
    pub method: String,
    pub outcome: String,
}

/// Authentication failed: every method tried, each with its reason.
#[derive(Debug, Clone)]
pub struct AuthError {
    pub user: String,
    pub host: String,
    pub attempts: Vec<Attempt>,
    /// Identity files that do not exist; `ssh` skips them silently, we list them.
    pub missing_files: Vec<PathBuf>,
    /// What the server said it accepts, when it said so.
    pub server_methods: Option<String>,
}

impl std::error::Error for AuthError {}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "authentication as {}@{} failed", self.user, self.host)?;
        if self.attempts.is_empty() {
            write!(
                f,
                "; no key to offer (no ssh-agent keys and no readable IdentityFile)"
            )?;
        } else {
            write!(f, "; tried:")?;
            for attempt in &self.attempts {
                write!(f, "\n  - {}: {}", attempt.method, attempt.outcome)?;
            }
        }
        if !self.missing_files.is_empty() {
            let missing: Vec<String> = self
                .missing_files
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            write!(f, "\n  (identity files not found: {})", missing.join(", "))?;
        }
        if let Some(methods) = &self.server_methods {
            write!(f, "\n  the server accepts: {methods}")?;
        }
        Ok(())
    }
}

/// Where the keys come from for one connection.
pub struct AuthSources<'a> {
    pub user: &'a str,
    /// For messages: `host` or `host:port`.
    pub host: &'a str,
    pub identity_files: &'a [PathBuf],
    pub identities_only: bool,
    /// `SSH_AUTH_SOCK`, if any.
    pub agent_socket: Option<&'a Path>,
    pub keys: &'a KeyStore,
}

/// A key as it will be offered.
enum Candidate {
    Agent { key: PublicKey, comment: String },
    File(IdentityFile),
}

struct IdentityFile {
    path: PathBuf,
    public: PublicKey,
    /// The PEM/OpenSSH text; decrypted only when the server accepts the public key.
    secret: Zeroizing<String>,
    encrypted: bool,
}

impl Candidate {
    fn describe(&self) -> String {
        match self {
            Candidate::Agent { key, comment } => {
                let comment = if comment.is_empty() {
                    String::new()
                } else {
                    format!(" ({comment})")
                };
                format!(
                    "agent key {} {}{comment}",
                    key.algorithm().as_str(),
                    fingerprint(key)
                )
            }
            Candidate::File(file) => format!("key file {}", file.path.display()),
        }
    }
}

/// Runs public-key authentication on an established (host-key checked) connection.
pub async fn authenticate<H: client::Handler>(
    handle: &mut client::Handle<H>,
    sources: &AuthSources<'_>,
) -> Result<(), AuthError> {
    let mut attempts = Vec::new();
    let mut missing_files = Vec::new();
    let mut server_methods = None;

    let mut files = Vec::new();
    for path in sources.identity_files {
        match load_identity(path) {
            Ok(Some(file)) => files.push(file),
            Ok(None) => missing_files.push(path.clone()),
            Err(error) => attempts.push(Attempt {
                method: format!("key file {}", path.display()),
                outcome: error,
            }),
        }
    }

    let mut agent = None;
    let mut agent_keys = Vec::new();
    if let Some(socket) = sources.agent_socket {
        match AgentClient::connect_uds(socket).await {
            Ok(mut client) => match client.request_identities().await {
                Ok(identities) => {
                    for identity in identities {
                        if let AgentIdentity::PublicKey { key, comment } = identity {
                            agent_keys.push((key, comment));
                        }
                    }
                    agent = Some(client);
                }
                Err(error) => attempts.push(Attempt {
                    method: format!("ssh-agent at {}", socket.display()),
                    outcome: format!("cannot list keys: {error}"),
                }),
            },
            Err(error) => attempts.push(Attempt {
                method: format!("ssh-agent at {}", socket.display()),
                outcome: format!("cannot connect: {error}"),
            }),
        }
    }

    for candidate in offer_order(files, agent_keys, sources.identities_only) {
        let method = candidate.describe();
        let hash_alg = rsa_hash(handle, &candidate).await;
        let result = match &candidate {
            Candidate::Agent { key, .. } => match agent.as_mut() {
                Some(agent) => handle
                    .authenticate_publickey_with(sources.user, key.clone(), hash_alg, agent)
                    .await
                    .map_err(|e| format!("agent could not sign: {e}")),
                None => Err("agent unavailable".to_owned()),
            },
            Candidate::File(file) if !file.encrypted => {
                match russh::keys::decode_secret_key(&file.secret, None) {
                    Ok(key) => handle
                        .authenticate_publickey(
                            sources.user,
                            PrivateKeyWithHashAlg::new(Arc::new(key), hash_alg),
                        )
                        .await
                        .map_err(|e| format!("protocol error: {e}")),
                    Err(error) => Err(format!("cannot read the private key: {error}")),
                }
            }
            Candidate::File(file) => {
                let mut signer = UnlockOnDemand {
                    file,
                    keys: sources.keys,
                    failure: None,
                };
                let result = handle
                    .authenticate_publickey_with(
                        sources.user,
                        file.public.clone(),
                        hash_alg,
                        &mut signer,
                    )
                    .await;
                match (result, signer.failure) {
                    (_, Some(reason)) => Err(reason),
                    (result, None) => result.map_err(|e| format!("protocol error: {e}")),
                }
            }
        };
        match result {
            Ok(AuthResult::Success) => return Ok(()),
            Ok(AuthResult::Failure {
                remaining_methods, ..
            }) => {
                let names: Vec<&str> = remaining_methods.iter().map(|m| m.into()).collect();
                server_methods = Some(names.join(","));
                attempts.push(Attempt {
                    method,
                    outcome: "not accepted by the server".to_owned(),
                });
                if !remaining_methods.contains(&russh::MethodKind::PublicKey) {
                    break;
                }
            }
            Err(outcome) => attempts.push(Attempt { method, outcome }),
        }
        if handle.is_closed() {
            break;
        }
    }
    Err(AuthError {
        user: sources.user.to_owned(),
        host: sources.host.to_owned(),
        attempts,
        missing_files,
        server_methods,
    })
}

/// OpenSSH's `pubkey_prepare` order: configured files the agent holds (signed by the
/// agent), then the agent's other keys unless `IdentitiesOnly`, then the remaining files.
fn offer_order(
    files: Vec<IdentityFile>,
    agent_keys: Vec<(PublicKey, String)>,
    identities_only: bool,
) -> Vec<Candidate> {
    let in_agent = |file: &IdentityFile| {
        agent_keys
            .iter()
            .any(|(key, _)| key.key_data() == file.public.key_data())
    };
    let (agent_held, file_only): (Vec<IdentityFile>, Vec<IdentityFile>) =
        files.into_iter().partition(|f| in_agent(f));
    let mut order = Vec::new();
    for file in &agent_held {
        if let Some((key, comment)) = agent_keys
            .iter()
            .find(|(key, _)| key.key_data() == file.public.key_data())
        {
            order.push(Candidate::Agent {
                key: key.clone(),
                comment: comment.clone(),
            });
        }
    }
    if !identities_only {
        for (key, comment) in &agent_keys {
            let already = agent_held
                .iter()
                .any(|f| f.public.key_data() == key.key_data());
            if !already {
                order.push(Candidate::Agent {
                    key: key.clone(),
                    comment: comment.clone(),
                });
            }
        }
    }
    order.extend(file_only.into_iter().map(Candidate::File));
    order
}

async fn rsa_hash<H: client::Handler>(
    handle: &client::Handle<H>,
    candidate: &Candidate,
) -> Option<HashAlg> {
    let algorithm = match candidate {
        Candidate::Agent { key, .. } => key.algorithm(),
        Candidate::File(file) => file.public.algorithm(),
    };
    if !algorithm.is_rsa() {
        return None;
    }
    handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten()
}

/// Reads an identity file's public half without decrypting it: from `FILE.pub` when
/// present (as `ssh` does), else from the OpenSSH private key, whose public key is stored
/// in clear. `Ok(None)`: the file does not exist.
fn load_identity(path: &Path) -> Result<Option<IdentityFile>, String> {
    let secret = match std::fs::read_to_string(path) {
        Ok(text) => Zeroizing::new(text),
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("cannot read: {error}")),
    };
    let (encrypted, parsed_public) = match russh::keys::decode_secret_key(&secret, None) {
        Ok(key) => (false, Some(key.public_key().clone())),
        Err(russh::keys::Error::KeyIsEncrypted) => (true, None),
        Err(error) => {
            // Legacy encrypted PEM reports other errors without a passphrase; tell them
            // apart by whether the OpenSSH container still yields a public key.
            let public = PrivateKey::from_openssh(secret.as_bytes())
                .ok()
                .map(|k| k.public_key().clone());
            if public.is_none() && !secret.contains("ENCRYPTED") {
                return Err(format!("not a private key this client can read: {error}"));
            }
            (true, public)
        }
    };
    let public = match parsed_public {
        Some(public) => public,
        None => {
            let from_pub_file = PathBuf::from(format!("{}.pub", path.display()));
            match PrivateKey::from_openssh(secret.as_bytes()) {
                Ok(key) => key.public_key().clone(),
                Err(_) => russh::keys::load_public_key(&from_pub_file).map_err(|error| {
                    format!(
                        "encrypted, and its public key {} cannot be read: {error}",
                        from_pub_file.display()
                    )
                })?,
            }
        }
    };
    Ok(Some(IdentityFile {
        path: path.to_path_buf(),
        public,
        secret,
        encrypted,
    }))
}

/// Signs with an encrypted identity file, asking for its passphrase only now that the
/// server has said it would accept the key (after `USERAUTH_PK_OK`), as `ssh` does.
struct UnlockOnDemand<'a> {
    file: &'a IdentityFile,
    keys: &'a KeyStore,
    /// Why signing did not happen, for the attempt list.
    failure: Option<String>,
}

#[derive(Debug)]
struct SignError;

impl From<russh::SendError> for SignError {
    fn from(_: russh::SendError) -> Self {
        SignError
    }
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not sign")
    }
}

impl russh::Signer for UnlockOnDemand<'_> {
    type Error = SignError;

    #[allow(clippy::manual_async_fn)]
    fn auth_sign(
        &mut self,
        _key: &AgentIdentity,
        hash_alg: Option<HashAlg>,
        mut to_sign: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, Self::Error>> + Send {
        async move {
            let key = match self.keys.unlock(&self.file.path, &self.file.secret).await {
                Ok(key) => key,
                Err(reason) => {
                    self.failure = Some(reason);
                    return Err(SignError);
                }
            };
            match sign(&key, hash_alg, &to_sign) {
                Ok(signature) => {
                    if signature.encode(&mut to_sign).is_err() {
                        self.failure = Some("cannot encode the signature".to_owned());
                        return Err(SignError);
                    }
                    Ok(to_sign)
                }
                Err(error) => {
                    self.failure = Some(format!("cannot sign: {error}"));
                    Err(SignError)
                }
            }
        }
    }
}

/// An SSH signature blob (algorithm name + signature) over `data`.
fn sign(
    key: &PrivateKey,
    hash_alg: Option<HashAlg>,
    data: &[u8],
) -> Result<Vec<u8>, russh::keys::ssh_key::Error> {
    use russh::keys::signature::Signer;
    use russh::keys::ssh_key::Signature;
    use russh::keys::ssh_key::private::KeypairData;
    let signature: Signature = match key.key_data() {
        KeypairData::Rsa(rsa) => Signer::try_sign(&(rsa, hash_alg), data)?,
        _ => Signer::try_sign(key, data)?,
    };
    let mut blob = Vec::new();
    signature.encode(&mut blob)?;
    Ok(blob)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keygen(dir: &Path, name: &str, passphrase: &str) -> PathBuf {
        let path = dir.join(name);
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f"])
            .arg(&path)
            .status()
            .expect("ssh-keygen runs");
        assert!(status.success());
        path
    }

    #[test]
    fn identity_files_are_read_without_decrypting() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = keygen(dir.path(), "plain", "");
        let locked = keygen(dir.path(), "locked", "sesame");
        let plain = load_identity(&plain).expect("reads").expect("exists");
        assert!(!plain.encrypted);
        let locked_file = load_identity(&locked).expect("reads").expect("exists");
        assert!(locked_file.encrypted);
        let on_disk =
            russh::keys::load_public_key(format!("{}.pub", locked.display())).expect("pub");
        assert_eq!(locked_file.public.key_data(), on_disk.key_data());
        // Even without the .pub file, the OpenSSH format yields the public key.
        std::fs::remove_file(format!("{}.pub", locked.display())).expect("rm");
        let again = load_identity(&locked).expect("reads").expect("exists");
        assert_eq!(again.public.key_data(), on_disk.key_data());
        assert!(
            load_identity(&dir.path().join("absent"))
                .expect("ok")
                .is_none()
        );
        std::fs::write(dir.path().join("junk"), "not a key").expect("write");
        assert!(load_identity(&dir.path().join("junk")).is_err());
    }

    #[test]
    fn agent_held_files_first_then_agent_then_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = load_identity(&keygen(dir.path(), "a", ""))
            .expect("a")
            .expect("a");
        let b = load_identity(&keygen(dir.path(), "b", ""))
            .expect("b")
            .expect("b");
        let other = load_identity(&keygen(dir.path(), "other", ""))
            .expect("o")
            .expect("o");
        let agent = vec![
            (other.public.clone(), "other".to_owned()),
            (b.public.clone(), "b".to_owned()),
        ];
        let describe = |order: Vec<Candidate>| -> Vec<String> {
            order
                .iter()
                .map(|c| match c {
                    Candidate::Agent { comment, .. } => format!("agent:{comment}"),
                    Candidate::File(f) => format!(
                        "file:{}",
                        f.path.file_name().and_then(|n| n.to_str()).unwrap_or("?")
                    ),
                })
                .collect()
        };
        let reload = |f: &IdentityFile| load_identity(&f.path).expect("r").expect("r");
        assert_eq!(
            describe(offer_order(
                vec![reload(&a), reload(&b)],
                agent.clone(),
                false
            )),
            ["agent:b", "agent:other", "file:a"]
        );
        assert_eq!(
            describe(offer_order(vec![reload(&a), reload(&b)], agent, true)),
            ["agent:b", "file:a"]
        );
    }

    struct Answers(
        std::sync::Mutex<Vec<&'static str>>,
        std::sync::atomic::AtomicU32,
    );

    impl PassphrasePrompt for Answers {
        fn ask<'a>(&'a self, _: &'a Path, _: bool) -> PromptFuture<'a> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let next = self.0.lock().expect("lock").pop();
            Box::pin(async move { next.map(|s| Zeroizing::new(s.to_owned())) })
        }
        fn declined_reason(&self) -> &'static str {
            "declined"
        }
    }

    #[tokio::test]
    async fn passphrase_asked_once_and_wrong_ones_retried_then_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = keygen(dir.path(), "locked", "sesame");
        let secret = std::fs::read_to_string(&path).expect("read");
        // Answers are popped from the end: wrong, then right.
        let prompt = Arc::new(Answers(
            std::sync::Mutex::new(vec!["sesame", "wrong"]),
            Default::default(),
        ));
        let store = KeyStore::new(prompt.clone());
        store
            .unlock(&path, &secret)
            .await
            .expect("second answer is right");
        store.unlock(&path, &secret).await.expect("cached");
        assert_eq!(prompt.1.load(std::sync::atomic::Ordering::SeqCst), 2);

        let wrong = Arc::new(Answers(
            std::sync::Mutex::new(vec!["x", "y", "z"]),
            Default::default(),
        ));
        let store = KeyStore::new(wrong);
        let error = store.unlock(&path, &secret).await.expect_err("all wrong");
        assert!(error.contains("wrong passphrase"), "{error}");

        let store = KeyStore::new(Arc::new(NeverAsk));
        let error = store.unlock(&path, &secret).await.expect_err("batch");
        assert!(error.contains("--batch"), "{error}");
    }
}
