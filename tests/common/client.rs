//! Building fleetdeck SSH clients for tests: a config written to a tempdir, a context
//! with no agent unless the test gives one, and answers for passphrase prompts.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use fleetdeck::ssh::auth::{KeyStore, PassphrasePrompt, PromptFuture};
use fleetdeck::ssh::config::{ResolveEnv, ResolvedHost, SshConfig};
use fleetdeck::ssh::session::{ConnectContext, ConnectError, InventorySsh, Session};
use zeroize::Zeroizing;

/// A context over the ssh_config text `config` (written into `dir`), with fleetdeck's
/// own known_hosts at `dir/own_known_hosts`.
pub fn context_from_text(
    dir: &Path,
    config: &str,
    prompt: Arc<dyn PassphrasePrompt>,
    agent: Option<&Path>,
) -> Arc<ConnectContext> {
    Arc::new(unshared_context(dir, config, prompt, agent))
}

/// As [`context_from_text`], before it is shared, for tests that adjust it.
pub fn unshared_context(
    dir: &Path,
    config: &str,
    prompt: Arc<dyn PassphrasePrompt>,
    agent: Option<&Path>,
) -> ConnectContext {
    let path = dir.join("ssh_config");
    std::fs::write(&path, config).expect("writing ssh_config");
    let env = ResolveEnv::from_passwd().expect("passwd entry");
    let parsed = SshConfig::parse_file_with_env(&path, env.clone()).expect("ssh_config parses");
    let mut ctx = ConnectContext::new(
        parsed,
        env,
        KeyStore::new(prompt),
        dir.join("own_known_hosts"),
    );
    // Whoever runs the tests may have an agent; it must not change what is tested.
    ctx.agent_socket = agent.map(Path::to_path_buf);
    ctx
}

pub fn resolve(ctx: &ConnectContext, name: &str) -> ResolvedHost {
    ctx.resolve(&InventorySsh {
        name: name.to_owned(),
        ..InventorySsh::default()
    })
}

pub async fn try_connect(
    ctx: &Arc<ConnectContext>,
    name: &str,
    pin: Option<&str>,
) -> Result<Session, ConnectError> {
    Session::connect(ctx, &resolve(ctx, name), pin.map(str::to_owned)).await
}

/// A `Host` block for a loopback test sshd.
pub fn host_block(alias: &str, port: u16, known_hosts: &Path, extra: &[&str]) -> String {
    let mut block = format!(
        "Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  \
         UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n",
        known_hosts.display()
    );
    for line in extra {
        block.push_str("  ");
        block.push_str(line);
        block.push('\n');
    }
    block
}

/// Answers prompts from a list (last first) and counts how often it was asked.
pub struct Answers {
    answers: std::sync::Mutex<Vec<String>>,
    asked: AtomicU32,
}

impl Answers {
    /// `answers` are given in the order they will be used.
    pub fn new(answers: &[&str]) -> Arc<Answers> {
        Arc::new(Answers {
            answers: std::sync::Mutex::new(answers.iter().rev().map(|s| s.to_string()).collect()),
            asked: AtomicU32::new(0),
        })
    }

    pub fn asked(&self) -> u32 {
        self.asked.load(Ordering::SeqCst)
    }
}

impl PassphrasePrompt for Answers {
    fn ask<'a>(&'a self, _: &'a Path, _: bool) -> PromptFuture<'a> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let next = self.answers.lock().expect("answers lock").pop();
        Box::pin(async move { next.map(Zeroizing::new) })
    }

    fn declined_reason(&self) -> &'static str {
        "no more test answers"
    }
}

/// `ssh-keygen -lf`'s SHA256 fingerprint of a public key file.
pub fn fingerprint_of(pub_file: &Path) -> String {
    let out = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(pub_file)
        .output()
        .expect("ssh-keygen -lf");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .expect("fingerprint field")
        .to_owned()
}

pub fn pub_of(key: &Path) -> PathBuf {
    PathBuf::from(format!("{}.pub", key.display()))
}
