//! Running one command on a host: its limits (time, output size), and what it gives
//! back (exit, captured output) or why it failed.

use std::fmt;
use std::time::Duration;

/// Limits for one command.
#[derive(Debug, Clone)]
pub struct ExecLimits {
    pub timeout: Duration,
    /// Per stream; the rest is counted, not kept.
    pub max_output: usize,
}

impl Default for ExecLimits {
    fn default() -> Self {
        ExecLimits {
            timeout: Duration::from_secs(30),
            max_output: 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Status(u32),
    Signal(String),
}

/// Captured output of one stream, capped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub bytes: Vec<u8>,
    /// Bytes received beyond the cap and dropped.
    pub dropped: u64,
}

impl Captured {
    pub(super) fn push(&mut self, data: &[u8], cap: usize) {
        let room = cap.saturating_sub(self.bytes.len());
        let kept = room.min(data.len());
        self.bytes.extend_from_slice(&data[..kept]);
        self.dropped += (data.len() - kept) as u64;
    }

    pub fn truncated(&self) -> bool {
        self.dropped > 0
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: Captured,
    pub stderr: Captured,
    pub exit: Option<Exit>,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.exit == Some(Exit::Status(0))
    }
}

#[derive(Debug)]
pub enum ExecError {
    Channel(String),
    Timeout {
        after: Duration,
        partial: ExecOutput,
    },
    Closed {
        cause: String,
        partial: ExecOutput,
    },
}

impl std::error::Error for ExecError {}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::Channel(error) => write!(f, "{error}"),
            ExecError::Timeout { after, .. } => {
                write!(f, "command timed out after {}s", after.as_secs_f32())
            }
            ExecError::Closed { cause, .. } => write!(f, "command interrupted: {cause}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_capped_and_the_rest_counted() {
        let mut captured = Captured::default();
        captured.push(b"hello ", 8);
        captured.push(b"world", 8);
        assert_eq!(captured.bytes, b"hello wo");
        assert_eq!(captured.dropped, 3);
        assert!(captured.truncated());
    }
}
