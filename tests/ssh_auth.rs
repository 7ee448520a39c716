//! Authentication against a real OpenSSH server: ssh-agent, key files, passphrase-
//! protected keys (asked once, wrong passphrase, batch mode), and the failure report.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::client::{Answers, context_from_text, host_block, pub_of, try_connect};
use common::sshd::{SshdOptions, TestAgent, TestSshd, keygen, public_key_line};
use fleetdeck::ssh::auth::NeverAsk;
use fleetdeck::ssh::session::{ConnectError, ExecLimits};

/// An sshd authorizing exactly `keys`, and a known_hosts trusting it.
fn server(dir: &Path, keys: &[&Path]) -> (TestSshd, std::path::PathBuf) {
    let sshd = TestSshd::start(SshdOptions {
        authorized_keys: keys.iter().map(|k| public_key_line(&pub_of(k))).collect(),
        ..SshdOptions::default()
    });
    let known_hosts = dir.join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!(
            "[127.0.0.1]:{} {}\n",
            sshd.port(),
            sshd.host_public_key_line()
        ),
    )
    .expect("write known_hosts");
    (sshd, known_hosts)
}

fn auth_error(result: Result<impl std::fmt::Debug, ConnectError>) -> String {
    match result {
        Err(ConnectError::Auth(error)) => error.to_string(),
        other => panic!("expected an authentication failure, got {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs root: runs sshd"]
async fn agent_key_authenticates_without_any_key_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("agent_only");
    keygen(&key, "", "agent-only");
    let (sshd, known_hosts) = server(dir.path(), &[&key]);
    let agent = TestAgent::start();
    agent.add(&key);
    // Only the agent holds it now.
    std::fs::remove_file(&key).expect("rm key");
    std::fs::remove_file(pub_of(&key)).expect("rm pub");
    let missing = dir.path().join("no_such_key");
    let config = host_block(
        "target",
        sshd.port(),
        &known_hosts,
        &[&format!("IdentityFile {}", missing.display())],
    );

    let without_agent = context_from_text(dir.path(), &config, Arc::new(NeverAsk), None);
    let text = auth_error(try_connect(&without_agent, "target", None).await);
    assert!(text.contains("no key to offer"), "{text}");
    assert!(
        text.contains(&missing.display().to_string()),
        "lists the missing file: {text}"
    );

    let with_agent = context_from_text(
        dir.path(),
        &config,
        Arc::new(NeverAsk),
        Some(agent.socket()),
    );
    let session = try_connect(&with_agent, "target", None)
        .await
        .expect("agent auth");
    let out = session
        .exec("id -un", &ExecLimits::default())
        .await
        .expect("exec");
    assert_eq!(out.stdout.text(), "root\n");
}

#[tokio::test]
#[ignore = "needs root: runs sshd"]
async fn key_file_auth_lists_every_key_tried_when_none_is_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good");
    let stranger = dir.path().join("stranger");
    keygen(&good, "", "good");
    keygen(&stranger, "", "stranger");
    let (sshd, known_hosts) = server(dir.path(), &[&good]);

    let config = |key: &Path| {
        host_block(
            "target",
            sshd.port(),
            &known_hosts,
            &[
                &format!("IdentityFile {}", key.display()),
                "IdentitiesOnly yes",
            ],
        )
    };
    let ctx = context_from_text(dir.path(), &config(&good), Arc::new(NeverAsk), None);
    try_connect(&ctx, "target", None)
        .await
        .expect("key file auth");

    let ctx = context_from_text(dir.path(), &config(&stranger), Arc::new(NeverAsk), None);
    let text = auth_error(try_connect(&ctx, "target", None).await);
    assert!(text.contains("root@127.0.0.1"), "{text}");
    assert!(
        text.contains(&format!(
            "key file {}: not accepted by the server",
            stranger.display()
        )),
        "{text}"
    );
    assert!(text.contains("the server accepts: publickey"), "{text}");
}

#[tokio::test]
#[ignore = "needs root: runs sshd"]
async fn passphrase_is_asked_once_and_wrong_or_batch_fail_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let locked = dir.path().join("locked");
    keygen(&locked, "correct horse", "locked");
    let (sshd, known_hosts) = server(dir.path(), &[&locked]);
    let config = host_block(
        "target",
        sshd.port(),
        &known_hosts,
        &[
            &format!("IdentityFile {}", locked.display()),
            "IdentitiesOnly yes",
        ],
    );

    // Right passphrase: asked once, however many sessions use the key.
    let answers = Answers::new(&["correct horse"]);
    let ctx = context_from_text(dir.path(), &config, answers.clone(), None);
    let first = try_connect(&ctx, "target", None).await.expect("unlocked");
    let second = try_connect(&ctx, "target", None).await.expect("cached key");
    assert_eq!(answers.asked(), 1);
    drop((first, second));

    // Wrong passphrases: three tries, then a clear error naming the key.
    let answers = Answers::new(&["nope", "still no", "no again"]);
    let ctx = context_from_text(dir.path(), &config, answers.clone(), None);
    let text = auth_error(try_connect(&ctx, "target", None).await);
    assert_eq!(answers.asked(), 3);
    assert!(
        text.contains(&format!("key file {}: wrong passphrase", locked.display())),
        "{text}"
    );

    // --batch: never asks, says why.
    let ctx = context_from_text(dir.path(), &config, Arc::new(NeverAsk), None);
    let text = auth_error(try_connect(&ctx, "target", None).await);
    assert!(text.contains("--batch"), "{text}");
}

#[tokio::test]
#[ignore = "needs root: runs sshd"]
async fn a_key_the_server_would_refuse_is_never_unlocked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good");
    let locked = dir.path().join("locked");
    keygen(&good, "", "good");
    keygen(&locked, "secret", "locked-but-unauthorized");
    let (sshd, known_hosts) = server(dir.path(), &[&good]);
    let config = host_block(
        "target",
        sshd.port(),
        &known_hosts,
        &[
            &format!("IdentityFile {}", locked.display()),
            &format!("IdentityFile {}", good.display()),
            "IdentitiesOnly yes",
        ],
    );
    let answers = Answers::new(&["secret"]);
    let ctx = context_from_text(dir.path(), &config, answers.clone(), None);
    try_connect(&ctx, "target", None)
        .await
        .expect("second key works");
    assert_eq!(
        answers.asked(),
        0,
        "no passphrase asked for a key the server refuses"
    );
}
