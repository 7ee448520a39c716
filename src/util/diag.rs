//! Positioned errors: a problem in a file the user wrote (an inventory, a stack, a
//! theme, a keymap), named by file, line and column so an editor can jump to it, and
//! the list of every problem one pass over such a file found.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where something starts in a text file: 1-based line and column. The default
/// (`0:0`) means no position: the problem is about the file as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Mark {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One problem in a file: the file, 1-based line and column (0 when the problem is the
/// file as a whole, such as a missing file), what is wrong, and optionally what to do
/// about it.
///
/// Shown as `FILE:LINE:COLUMN: MESSAGE` (`FILE: MESSAGE` without a position), then
/// ` (HINT)` when there is a hint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Positioned {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl Positioned {
    /// A problem at `mark` in `file`.
    pub fn at(file: &Path, mark: Mark, message: impl Into<String>) -> Positioned {
        Positioned {
            file: file.to_path_buf(),
            line: mark.line,
            column: mark.column,
            message: message.into(),
            hint: None,
        }
    }

    /// A problem with the file as a whole (no line or column).
    pub fn whole(file: &Path, message: impl Into<String>) -> Positioned {
        Positioned::at(file, Mark::default(), message)
    }

    /// The same problem with what to do about it.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Positioned {
        self.hint = Some(hint.into());
        self
    }

    /// Where in the file the problem is.
    pub fn mark(&self) -> Mark {
        Mark {
            line: self.line,
            column: self.column,
        }
    }
}

impl fmt::Display for Positioned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )?;
        }
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Positioned {}

/// Writes every problem one pass found, under a count naming what was read:
///
/// ```text
/// the SUBJECT has N error(s):
///   FILE:LINE:COLUMN: MESSAGE
///   …
/// ```
///
/// The list types of the readers (`StackErrors`, `InventoryErrors`) show themselves
/// with it, so every "all problems at once" report reads the same.
pub fn write_list(
    f: &mut fmt::Formatter<'_>,
    subject: &str,
    problems: &[Positioned],
) -> fmt::Result {
    let n = problems.len();
    writeln!(
        f,
        "the {subject} has {n} error{}:",
        if n == 1 { "" } else { "s" }
    )?;
    for (i, problem) in problems.iter().enumerate() {
        if i + 1 < n {
            writeln!(f, "  {problem}")?;
        } else {
            write!(f, "  {problem}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Listed(Vec<Positioned>);

    impl fmt::Display for Listed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_list(f, "stack", &self.0)
        }
    }

    #[test]
    fn a_position_is_written_before_the_message_and_a_hint_after() {
        let file = Path::new("web.yml");
        let at = Mark { line: 3, column: 5 };
        assert_eq!(
            Positioned::at(file, at, "bad key").to_string(),
            "web.yml:3:5: bad key"
        );
        assert_eq!(
            Positioned::whole(file, "not found").to_string(),
            "web.yml: not found"
        );
        assert_eq!(
            Positioned::at(file, at, "bad key")
                .with_hint("did you mean `image`?")
                .to_string(),
            "web.yml:3:5: bad key (did you mean `image`?)"
        );
    }

    #[test]
    fn a_list_counts_its_problems_and_indents_each() {
        let file = Path::new("web.yml");
        let one = Positioned::whole(file, "empty");
        assert_eq!(
            Listed(vec![one.clone()]).to_string(),
            "the stack has 1 error:\n  web.yml: empty"
        );
        assert_eq!(
            Listed(vec![one.clone(), one]).to_string(),
            "the stack has 2 errors:\n  web.yml: empty\n  web.yml: empty"
        );
    }
}
