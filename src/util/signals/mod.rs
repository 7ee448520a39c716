//! Signal handling, in one place: the signals a terminal or a supervisor sends to stop
//! fleetdeck, their names and the exit codes a shell expects after them, and the two
//! ways of catching them:
//!
//! - [`listen`] (Tokio): for runs on a runtime (`deploy`, `rollback`, `canary`,
//!   `drill`), feeding `core::interrupt::Interrupt`;
//! - [`catch::Catch`] (raw `sigaction` and a self-pipe): for `secrets edit`, which
//!   waits on an editor without a runtime and must never die with a plaintext copy on
//!   disk.

pub mod catch;

use serde::Serialize;

/// The signals that stop a run (`deploy`, `rollback`, `canary`, `drill`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Signal {
    #[serde(rename = "SIGINT")]
    Int,
    #[serde(rename = "SIGTERM")]
    Term,
    #[serde(rename = "SIGHUP")]
    Hup,
}

impl Signal {
    /// The signal's number (`SIGINT` is 2).
    pub fn number(self) -> libc::c_int {
        match self {
            Signal::Int => libc::SIGINT,
            Signal::Term => libc::SIGTERM,
            Signal::Hup => libc::SIGHUP,
        }
    }

    pub fn name(self) -> &'static str {
        name(self.number())
    }

    /// 128 + the signal's number, as a shell reports a process the signal ended.
    pub fn exit_code(self) -> u8 {
        exit_code(self.number())
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A signal's name by number, for messages.
pub fn name(signal: libc::c_int) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGKILL => "SIGKILL",
        _ => "a signal",
    }
}

/// 128 + the signal's number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP), as a
/// shell reports a process the signal ended.
pub fn exit_code(signal: libc::c_int) -> u8 {
    128u8.saturating_add(u8::try_from(signal).unwrap_or(0))
}

/// Starts catching SIGINT, SIGTERM and SIGHUP on the current Tokio runtime and calls
/// `on_signal` for each one received, for as long as the process lives. A signal that
/// cannot be caught keeps its default action (and a warning is logged).
pub fn listen(on_signal: impl Fn(Signal) + Clone + Send + 'static) {
    use tokio::signal::unix::{SignalKind, signal};
    for (kind, which) in [
        (SignalKind::interrupt(), Signal::Int),
        (SignalKind::terminate(), Signal::Term),
        (SignalKind::hangup(), Signal::Hup),
    ] {
        match signal(kind) {
            Ok(mut stream) => {
                let on_signal = on_signal.clone();
                tokio::spawn(async move {
                    while stream.recv().await.is_some() {
                        on_signal(which);
                    }
                });
            }
            Err(e) => tracing::warn!("cannot catch {which}: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_exit_codes_follow_the_numbers() {
        for (signal, number, code) in [
            (Signal::Int, libc::SIGINT, 130),
            (Signal::Term, libc::SIGTERM, 143),
            (Signal::Hup, libc::SIGHUP, 129),
        ] {
            assert_eq!(signal.number(), number);
            assert_eq!(signal.exit_code(), code);
            assert_eq!(exit_code(number), code);
            assert_eq!(signal.name(), name(number));
        }
        assert_eq!(name(libc::SIGQUIT), "SIGQUIT");
        assert_eq!(exit_code(libc::SIGQUIT), 131);
        assert_eq!(name(libc::SIGUSR1), "a signal");
    }
}
