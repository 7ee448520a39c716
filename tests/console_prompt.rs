//! The console's passphrase prompt against a real OpenSSH server: the SSH layer asks
//! over the console's message channel, the app's modal answers (a wrong passphrase
//! asks again, saying so), other hosts connect meanwhile, and Esc fails only the hosts
//! that need that key — with a reason, and without asking again.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::client::{context_from_text, host_block, pub_of, try_connect};
use common::sshd::{SshdOptions, TestSshd, keygen, public_key_line};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fleetdeck::fleet::model::{Expectations, HostState};
use fleetdeck::ssh::session::ConnectError;
use fleetdeck::tui::app::{App, Msg};
use fleetdeck::tui::keymap::Keymap;
use fleetdeck::tui::prompt::ConsolePrompt;
use tokio::sync::mpsc;

fn app(dir: &Path) -> App {
    App::new(
        vec![
            HostState::new("locked", Vec::new(), Expectations::default()),
            HostState::new("open", Vec::new(), Expectations::default()),
        ],
        Keymap::load(None, dir).expect("keymap"),
        false,
    )
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(Msg::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
    }
}

fn press(app: &mut App, code: KeyCode) {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

/// The next message the SSH layer sent the console, which must be a passphrase request.
async fn next_request(rx: &mut mpsc::Receiver<Msg>) -> Msg {
    let msg = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("the prompt asked within 20 s")
        .expect("channel open");
    assert!(matches!(msg, Msg::Passphrase(_)), "{msg:?}");
    msg
}

#[tokio::test]
#[ignore = "needs root: runs sshd"]
async fn the_console_modal_unlocks_a_key_and_esc_fails_only_its_hosts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let locked = dir.path().join("locked");
    let open = dir.path().join("open");
    keygen(&locked, "correct horse", "locked");
    keygen(&open, "", "open");
    let sshd = TestSshd::start(SshdOptions {
        authorized_keys: [&locked, &open]
            .iter()
            .map(|k| public_key_line(&pub_of(k)))
            .collect(),
        ..SshdOptions::default()
    });
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!(
            "[127.0.0.1]:{} {}\n",
            sshd.port(),
            sshd.host_public_key_line()
        ),
    )
    .expect("write known_hosts");
    let config = format!(
        "{}{}",
        host_block(
            "locked",
            sshd.port(),
            &known_hosts,
            &[
                &format!("IdentityFile {}", locked.display()),
                "IdentitiesOnly yes"
            ],
        ),
        host_block(
            "open",
            sshd.port(),
            &known_hosts,
            &[
                &format!("IdentityFile {}", open.display()),
                "IdentitiesOnly yes"
            ],
        )
    );

    // Right after a wrong one: the modal says so, and the key unlocks.
    let (tx, mut rx) = mpsc::channel(16);
    let ctx = context_from_text(dir.path(), &config, Arc::new(ConsolePrompt::new(tx)), None);
    let mut app = app(dir.path());
    let waiting = {
        let ctx = ctx.clone();
        tokio::spawn(async move { try_connect(&ctx, "locked", None).await })
    };
    app.update(next_request(&mut rx).await);
    let asked = app.passphrase.current().expect("the modal is up");
    assert_eq!(asked.key_file, locked);
    assert!(!asked.previous_was_wrong);

    // Meanwhile another host authenticates: a prompt stalls only its own key's hosts.
    let other = tokio::time::timeout(Duration::from_secs(20), try_connect(&ctx, "open", None))
        .await
        .expect("not stalled by the open modal")
        .expect("the open key authenticates");
    drop(other);
    assert!(!waiting.is_finished(), "still waiting for its passphrase");

    type_text(&mut app, "nope");
    press(&mut app, KeyCode::Enter);
    app.update(next_request(&mut rx).await);
    assert!(
        app.passphrase
            .current()
            .is_some_and(|r| r.previous_was_wrong),
        "asked again, saying the last one was wrong"
    );
    type_text(&mut app, "correct horse");
    press(&mut app, KeyCode::Enter);
    let session = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("answered in time")
        .expect("task")
        .expect("unlocked and authenticated");
    drop(session);
    assert!(app.passphrase.current().is_none());

    // Esc: that host fails with a reason; the key is not asked for again this run.
    let (tx, mut rx) = mpsc::channel(16);
    let ctx = context_from_text(dir.path(), &config, Arc::new(ConsolePrompt::new(tx)), None);
    let waiting = {
        let ctx = ctx.clone();
        tokio::spawn(async move { try_connect(&ctx, "locked", None).await })
    };
    app.update(next_request(&mut rx).await);
    type_text(&mut app, "half-typed");
    press(&mut app, KeyCode::Esc);
    assert!(!app.passphrase.has_input(), "what was typed is wiped");
    let reason = match waiting.await.expect("task") {
        Err(ConnectError::Auth(error)) => error.to_string(),
        other => panic!("expected an authentication failure, got {other:?}"),
    };
    assert!(
        reason.contains(&format!("key file {}", locked.display()))
            && reason.contains("prompt in the console was cancelled"),
        "{reason}"
    );
    let again = tokio::time::timeout(Duration::from_secs(20), try_connect(&ctx, "locked", None))
        .await
        .expect("not left waiting for a modal");
    assert!(
        matches!(again, Err(ConnectError::Auth(_))),
        "fails again: {again:?}"
    );
    assert!(rx.try_recv().is_err(), "without a second modal");
    try_connect(&ctx, "open", None)
        .await
        .expect("other keys are unaffected");
}
