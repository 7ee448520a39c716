//! What a configuration can be refused for: a line `ssh` would also reject, and a
//! ProxyJump chain that loops or is too long.

use std::fmt;
use std::path::PathBuf;

use super::{JumpHost, MAX_INCLUDE_DEPTH};

/// A configuration problem that `ssh` would also refuse, located by file and line.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    /// `None` when the file as a whole could not be read.
    pub line: Option<usize>,
    pub kind: ConfigErrorKind,
}

#[derive(Debug)]
pub enum ConfigErrorKind {
    Io(std::io::Error),
    MissingArgument {
        keyword: String,
    },
    ExtraArguments {
        keyword: String,
    },
    InvalidValue {
        keyword: String,
        value: String,
        expected: &'static str,
    },
    UnterminatedQuote,
    IncludeTooDeep,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        match &self.kind {
            ConfigErrorKind::Io(error) => write!(f, ": cannot read: {error}"),
            ConfigErrorKind::MissingArgument { keyword } => write!(f, ": {keyword} needs a value"),
            ConfigErrorKind::ExtraArguments { keyword } => {
                write!(f, ": {keyword} takes a single value")
            }
            ConfigErrorKind::InvalidValue {
                keyword,
                value,
                expected,
            } => {
                write!(f, ": {keyword} {value:?} is not {expected}")
            }
            ConfigErrorKind::UnterminatedQuote => write!(f, ": unterminated quote"),
            ConfigErrorKind::IncludeTooDeep => {
                write!(
                    f,
                    ": Include nested deeper than {MAX_INCLUDE_DEPTH} (a loop?)"
                )
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ConfigErrorKind::Io(error) => Some(error),
            _ => None,
        }
    }
}

/// How many hops a ProxyJump chain may have in all, the jump hosts' own chains
/// included. A longer chain is refused when it is resolved, before anything connects.
pub const MAX_JUMP_HOPS: usize = 8;

/// One host whose `ProxyJump` is followed while a chain is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpStep {
    pub alias: String,
    /// Its chain, as written.
    pub chain: Vec<JumpHost>,
    /// The `ProxyJump` line that set it; `None` when it came from somewhere else.
    pub at: Option<(PathBuf, usize)>,
}

/// A ProxyJump chain that cannot be connected: it comes back to a host already on it,
/// or it is longer than [`MAX_JUMP_HOPS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JumpChainError {
    /// Following the chain from `steps[0]` reached `again`, already one of the steps.
    Loop {
        steps: Vec<JumpStep>,
        again: String,
    },
    TooLong {
        steps: Vec<JumpStep>,
        hops: usize,
    },
}

impl JumpChainError {
    pub fn steps(&self) -> &[JumpStep] {
        match self {
            JumpChainError::Loop { steps, .. } | JumpChainError::TooLong { steps, .. } => steps,
        }
    }
}

impl fmt::Display for JumpChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let steps = self.steps();
        let mut path: Vec<&str> = steps.iter().map(|s| s.alias.as_str()).collect();
        match self {
            JumpChainError::Loop { again, .. } => {
                path.push(again);
                write!(f, "ProxyJump loop: {}", path.join(" \u{2192} "))?;
            }
            JumpChainError::TooLong { hops, .. } => write!(
                f,
                "ProxyJump chain of {} has {hops} hops, more than {MAX_JUMP_HOPS} ({})",
                path[0],
                path.join(" \u{2192} ")
            )?,
        }
        let origins: Vec<String> = steps
            .iter()
            .map(|step| {
                let chain: Vec<String> = step.chain.iter().map(ToString::to_string).collect();
                let mut text = format!("{}: ProxyJump {}", step.alias, chain.join(","));
                if let Some((file, line)) = &step.at {
                    text.push_str(&format!(" at {} line {line}", file.display()));
                }
                text
            })
            .collect();
        write!(f, " ({})", origins.join("; "))
    }
}

impl std::error::Error for JumpChainError {}
