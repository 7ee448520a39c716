//! Commands on a host, for the deployment core's own bookkeeping there (lock, journal,
//! audit line, secret files): through the host's SSH session, or on this machine when
//! the host is the local engine (the lab, or no inventory).
//!
//! Every command is a fixed script with its arguments quoted by [`quote`]; data
//! (journal lines, secret values) travels on stdin, never on the command line, where
//! any user of the host could read it in the process list.

use crate::util::shell::quote;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;

use crate::sanitize;
use crate::ssh::session::{ExecLimits, Session};

/// How long one bookkeeping command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Bookkeeping output is small (a lock holder, a journal); cap what we keep.
const MAX_OUTPUT: usize = 256 * 1024;

/// Where a host's commands run.
#[derive(Clone)]
pub enum HostShell {
    Ssh(Session),
    /// This machine, as the user fleetdeck runs as.
    Local,
}

/// What a command printed and how it ended.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// The command's complaint, cleaned for a terminal, for error messages.
    pub fn complaint(&self) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        let clean = sanitize::line(text.trim());
        match self.status {
            Some(code) if clean.is_empty() => format!("exit status {code}"),
            Some(code) => format!("{clean} (exit status {code})"),
            None if clean.is_empty() => "killed by a signal".to_owned(),
            None => format!("{clean} (killed by a signal)"),
        }
    }
}

impl HostShell {
    /// Runs `script` with `sh -c` on the host, feeding `input` on stdin.
    pub async fn run(&self, script: &str, input: Option<&[u8]>) -> Result<Output, String> {
        self.run_limited(script, input, COMMAND_TIMEOUT, MAX_OUTPUT)
            .await
    }

    /// As [`HostShell::run`], with its own deadline and output cap (per stream): for
    /// long work such as a restore drill's restore and repository check.
    pub async fn run_limited(
        &self,
        script: &str,
        input: Option<&[u8]>,
        timeout: Duration,
        max_output: usize,
    ) -> Result<Output, String> {
        match self {
            HostShell::Ssh(session) => {
                let limits = ExecLimits {
                    timeout,
                    max_output,
                };
                // The remote login shell runs the command line; wrapping it in `sh -c`
                // gives the same POSIX shell whatever the account's shell is.
                let command = format!("sh -c {}", quote(script));
                let out = session
                    .exec_with_input(&command, input, &limits)
                    .await
                    .map_err(|e| sanitize::line(&e.to_string()))?;
                Ok(Output {
                    status: match out.exit {
                        Some(crate::ssh::session::Exit::Status(code)) => {
                            Some(i32::try_from(code).unwrap_or(i32::MAX))
                        }
                        _ => None,
                    },
                    stdout: out.stdout.text(),
                    stderr: out.stderr.text(),
                })
            }
            HostShell::Local => run_local(script, input, timeout, max_output).await,
        }
    }

    /// Runs `script` and turns a non-zero exit into an error naming `what`.
    pub async fn check(
        &self,
        what: &str,
        script: &str,
        input: Option<&[u8]>,
    ) -> Result<Output, String> {
        let out = self.run(script, input).await?;
        if out.success() {
            Ok(out)
        } else {
            Err(format!("{what}: {}", out.complaint()))
        }
    }
}

async fn run_local(
    script: &str,
    input: Option<&[u8]>,
    timeout: Duration,
    max_output: usize,
) -> Result<Output, String> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting sh: {e}"))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(input)
            .await
            .map_err(|e| format!("writing to sh: {e}"))?;
        drop(stdin);
    }
    let out = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| format!("command timed out after {}s", timeout.as_secs()))?
        .map_err(|e| format!("waiting for sh: {e}"))?;
    let text = |bytes: &[u8]| {
        let kept = &bytes[..bytes.len().min(max_output)];
        String::from_utf8_lossy(kept).into_owned()
    };
    Ok(Output {
        status: out.status.code(),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_commands_take_input_and_report_failures() {
        let out = HostShell::Local
            .run("cat; echo done >&2; exit 3", Some(b"hello"))
            .await
            .expect("runs");
        assert_eq!(out.stdout, "hello");
        assert_eq!(out.status, Some(3));
        assert_eq!(out.complaint(), "done (exit status 3)");
        let err = HostShell::Local
            .check("making the lock", "exit 1", None)
            .await
            .expect_err("fails");
        assert_eq!(err, "making the lock: exit status 1");
    }
}
