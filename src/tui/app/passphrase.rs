//! The passphrase modal's side of `update`: the requests waiting for the operator
//! (sent by `tui::prompt`), the masked input, and the keys that answer or cancel.

use super::{App, Command};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};
use tokio::sync::oneshot;
use zeroize::Zeroizing;

/// A key's passphrase, asked of the operator. Answer it exactly once with
/// [`PassphraseRequest::answer`]; dropping it unanswered counts as cancelled.
pub struct PassphraseRequest {
    /// Ties a withdrawal ([`super::Msg::PassphraseWithdrawn`]) to its request.
    pub id: u64,
    pub key_file: PathBuf,
    /// The previous passphrase for this key was wrong ("try again").
    pub previous_was_wrong: bool,
    reply: oneshot::Sender<Option<Zeroizing<String>>>,
}

impl PassphraseRequest {
    /// A request and the receiver its answer arrives on (for tests and the prompt).
    pub fn new(
        id: u64,
        key_file: &Path,
        previous_was_wrong: bool,
    ) -> (
        PassphraseRequest,
        oneshot::Receiver<Option<Zeroizing<String>>>,
    ) {
        let (reply, answer) = oneshot::channel();
        (
            PassphraseRequest {
                id,
                key_file: key_file.to_path_buf(),
                previous_was_wrong,
                reply,
            },
            answer,
        )
    }

    /// `Some` unlocks the key, `None` cancels. The asker may have given up already
    /// (its authentication timed out); then the passphrase is dropped, and wiped.
    pub fn answer(self, passphrase: Option<Zeroizing<String>>) {
        let _ = self.reply.send(passphrase);
    }

    /// Whether the asker still waits for an answer.
    pub fn is_waiting(&self) -> bool {
        !self.reply.is_closed()
    }
}

impl fmt::Debug for PassphraseRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassphraseRequest")
            .field("id", &self.id)
            .field("key_file", &self.key_file)
            .field("previous_was_wrong", &self.previous_was_wrong)
            .finish_non_exhaustive()
    }
}

/// Longest passphrase the modal takes, in bytes. Its buffer is allocated this large up
/// front and never grows, so no copy of a partly typed passphrase is left behind in
/// freed memory.
pub const PASSPHRASE_MAX_BYTES: usize = 1024;

/// Passphrase requests waiting for the operator; the first is shown. The typed text
/// lives only in `input`, wiped when answered, cancelled or dropped.
pub struct PassphrasePrompts {
    pub queue: VecDeque<PassphraseRequest>,
    input: Zeroizing<String>,
}

impl Default for PassphrasePrompts {
    fn default() -> Self {
        PassphrasePrompts {
            queue: VecDeque::new(),
            input: Zeroizing::new(String::with_capacity(PASSPHRASE_MAX_BYTES)),
        }
    }
}

impl PassphrasePrompts {
    /// The request the modal shows.
    pub fn current(&self) -> Option<&PassphraseRequest> {
        self.queue.front()
    }

    /// Whether anything has been typed (the modal shows that much, never the length).
    pub fn has_input(&self) -> bool {
        !self.input.is_empty()
    }

    pub(super) fn clear_input(&mut self) {
        // Zeroizing wipes on drop; clearing in place keeps the one allocation.
        use zeroize::Zeroize as _;
        self.input.zeroize();
    }
}

impl App {
    /// Keys while the passphrase modal is up: typed text is taken as is (never shown),
    /// Enter answers, Esc (or Ctrl-C) cancels, Backspace deletes.
    pub(super) fn on_passphrase_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let control = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => {
                let Some(request) = self.passphrase.queue.pop_front() else {
                    return Vec::new();
                };
                let typed = std::mem::replace(
                    &mut self.passphrase.input,
                    Zeroizing::new(String::with_capacity(PASSPHRASE_MAX_BYTES)),
                );
                let key_file = request.key_file.clone();
                // Other first-time requests for the same file (hosts connected with a
                // different ssh_config keep their own key store) get the same answer.
                let mut same = Vec::new();
                let mut rest = VecDeque::new();
                for other in self.passphrase.queue.drain(..) {
                    if other.key_file == key_file && !other.previous_was_wrong {
                        same.push(other);
                    } else {
                        rest.push_back(other);
                    }
                }
                self.passphrase.queue = rest;
                for other in same {
                    other.answer(Some(typed.clone()));
                }
                request.answer(Some(typed));
                self.notice = Some(format!(
                    "passphrase given for {}",
                    crate::sanitize::line(&key_file.display().to_string())
                ));
            }
            KeyCode::Esc => self.cancel_passphrase(),
            KeyCode::Char('c') if control => self.cancel_passphrase(),
            KeyCode::Backspace => {
                self.passphrase.input.pop();
            }
            KeyCode::Char(c)
                if !control
                    && self.passphrase.input.len() + c.len_utf8() <= PASSPHRASE_MAX_BYTES =>
            {
                self.passphrase.input.push(c);
            }
            _ => {}
        }
        Vec::new()
    }

    /// Esc in the modal: this key's hosts fail to authenticate (saying why); every
    /// request waiting for the same key is cancelled with it.
    pub(super) fn cancel_passphrase(&mut self) {
        self.passphrase.clear_input();
        let Some(request) = self.passphrase.queue.pop_front() else {
            return;
        };
        let key_file = request.key_file.clone();
        request.answer(None);
        let mut rest = VecDeque::new();
        for other in self.passphrase.queue.drain(..) {
            if other.key_file == key_file {
                other.answer(None);
            } else {
                rest.push_back(other);
            }
        }
        self.passphrase.queue = rest;
        self.notice = Some(format!(
            "passphrase for {} not given: hosts that need it cannot authenticate",
            crate::sanitize::line(&key_file.display().to_string())
        ));
    }
}
