//! POSIX shell words: quoting a value for a command line fleetdeck sends to a host,
//! and splitting a command line into words without running a shell.

/// `s` as one word for POSIX `sh`: single-quoted, a `'` inside becoming `'\''`. Used
/// for every command fleetdeck builds to change a host, where one rule is easiest to
/// audit.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `s` as one word for POSIX `sh`, left bare when it is made only of safe characters
/// (the probes' commands stay readable in logs and `--json`), otherwise [`quote`]d.
/// `None` for a NUL byte, which no shell argument can hold.
pub fn quote_if_needed(s: &str) -> Option<String> {
    if s.contains('\0') {
        return None;
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        return Some(s.to_owned());
    }
    Some(quote(s))
}

/// Splits a command line into words as a POSIX shell would, without running one: blanks
/// separate words, `'…'` is literal, `"…"` keeps `\$`, `` \` ``, `\"`, `\\` and
/// `\newline` escapes, a backslash outside quotes escapes the next character. Nothing
/// is expanded (`$HOME`, `*`, `;` are ordinary characters).
pub fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated single quote in {text:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('$' | '`' | '"' | '\\')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("unterminated double quote in {text:?}")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated double quote in {text:?}")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
                None => return Err(format!("a trailing backslash in {text:?} escapes nothing")),
            },
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Words joined into one line that [`split_words`] gives back: each word bare when it
/// is safe, otherwise single-quoted (the deploy wizard's `-e` answers, shown and
/// edited as one line).
pub fn join_words<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| {
            let w = w.as_ref();
            quote_if_needed(w).unwrap_or_else(|| quote(w))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_the_shell() {
        for s in [
            "plain",
            "with space",
            "it's",
            "$(rm -rf /)",
            "`x`",
            "a\nb",
            "",
        ] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", quote(s)))
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), s);
        }
    }

    #[test]
    fn shell_words_split_without_a_shell() {
        assert_eq!(
            split_words(r#"sh -c 'echo "$HOME"; ls' "a b" c\ d "x\"y" e\\f"#),
            Ok(vec![
                "sh".into(),
                "-c".into(),
                "echo \"$HOME\"; ls".into(),
                "a b".into(),
                "c d".into(),
                "x\"y".into(),
                "e\\f".into(),
            ])
        );
        assert_eq!(split_words("  a\t\tb  "), Ok(vec!["a".into(), "b".into()]));
        assert_eq!(split_words("''"), Ok(vec![String::new()]));
        assert!(split_words("'open").is_err());
        assert!(split_words("\"open").is_err());
        assert!(split_words("end\\").is_err());
    }

    #[test]
    fn shell_quote_leaves_plain_words_and_quotes_the_rest() {
        assert_eq!(
            quote_if_needed("/srv/backup/repo").as_deref(),
            Some("/srv/backup/repo")
        );
        assert_eq!(
            quote_if_needed("sftp:backup@host:/srv/restic-repo").as_deref(),
            Some("sftp:backup@host:/srv/restic-repo")
        );
        assert_eq!(quote_if_needed("").as_deref(), Some("''"));
        assert_eq!(quote_if_needed("a b").as_deref(), Some("'a b'"));
        assert_eq!(quote_if_needed("it's").as_deref(), Some(r"'it'\''s'"));
        assert_eq!(
            quote_if_needed("$(reboot)`x`;|&").as_deref(),
            Some("'$(reboot)`x`;|&'")
        );
        assert_eq!(quote_if_needed("-rf").as_deref(), Some("-rf"));
        assert_eq!(quote_if_needed("a\0b"), None);
    }

    #[test]
    fn splits_on_whitespace_with_quotes() {
        assert_eq!(
            split_words("  a=1 b=\"two words\"  c='x y' d=e\\ f").as_deref(),
            Ok(&["a=1", "b=two words", "c=x y", "d=e f"].map(String::from)[..])
        );
        assert_eq!(split_words("").map(|w| w.len()), Ok(0));
        assert!(split_words("a=\"open").is_err());
        assert!(split_words("a='open").is_err());
    }

    #[test]
    fn join_round_trips() {
        let words = [
            "web_version=1.1",
            "motd=hello world",
            "q=\"quoted\"",
            "b=back\\slash",
            "",
            "tab=a\tb",
            "it's=fine",
        ];
        assert_eq!(
            split_words(&join_words(&words)),
            Ok(words.map(String::from).to_vec())
        );
        assert_eq!(join_words(&["a=1", "b=2"]), "a=1 b=2");
    }
}
