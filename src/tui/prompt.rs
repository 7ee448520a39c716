//! Passphrases asked inside the console. The SSH layer's [`PassphrasePrompt`] is
//! answered by the UI loop: the prompt sends a [`PassphraseRequest`] over the console's
//! message channel and waits for the reply on a oneshot channel; the UI shows a modal
//! with masked input. Only the host (or hosts) needing that key wait — every
//! connection authenticates in its own task.
//!
//! The passphrase is never echoed, logged or formatted: it travels in a
//! [`Zeroizing`] string that is wiped when dropped, and nothing here implements
//! `Debug` or `Display` over it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use super::app::{Msg, PassphraseRequest};
use crate::ssh::auth::{PassphrasePrompt, PromptFuture};

/// The console's [`PassphrasePrompt`]: asks the UI loop. A key whose prompt was
/// cancelled is not asked for again in this run (the host's reconnect attempts would
/// otherwise bring the modal back every minute); its hosts fail to authenticate with
/// [`ConsolePrompt::declined_reason`].
pub struct ConsolePrompt {
    ui: mpsc::Sender<Msg>,
    next_id: AtomicU64,
    cancelled: StdMutex<HashSet<PathBuf>>,
}

impl ConsolePrompt {
    pub fn new(ui: mpsc::Sender<Msg>) -> ConsolePrompt {
        ConsolePrompt {
            ui,
            next_id: AtomicU64::new(1),
            cancelled: StdMutex::new(HashSet::new()),
        }
    }

    fn was_cancelled(&self, key_file: &Path) -> bool {
        self.cancelled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(key_file)
    }

    fn remember_cancelled(&self, key_file: &Path) {
        self.cancelled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key_file.to_path_buf());
    }
}

/// Tells the UI to take the modal down if the asker stops waiting before it is
/// answered (its authentication timed out, the host's actor stopped).
struct Withdraw {
    ui: mpsc::Sender<Msg>,
    id: u64,
    armed: bool,
}

impl Drop for Withdraw {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.ui.try_send(Msg::PassphraseWithdrawn(self.id));
        }
    }
}

impl PassphrasePrompt for ConsolePrompt {
    fn ask<'a>(&'a self, key_file: &'a Path, previous_was_wrong: bool) -> PromptFuture<'a> {
        Box::pin(async move {
            if self.was_cancelled(key_file) {
                return None;
            }
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let (request, answer) = PassphraseRequest::new(id, key_file, previous_was_wrong);
            if self.ui.send(Msg::Passphrase(request)).await.is_err() {
                return None;
            }
            let mut withdraw = Withdraw {
                ui: self.ui.clone(),
                id,
                armed: true,
            };
            // An error: the UI dropped the request (it quit), which is no answer.
            let passphrase = answer.await.ok().flatten();
            withdraw.armed = false;
            if passphrase.is_none() {
                self.remember_cancelled(key_file);
            }
            passphrase
        })
    }

    fn declined_reason(&self) -> &'static str {
        "passphrase-protected and its prompt in the console was cancelled (load the key \
         into ssh-agent, or restart fleetdeck to be asked again)"
    }
}
