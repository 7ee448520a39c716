//! One line of `KEY=VALUE ...` words, as an input step takes them: split on
//! whitespace, with `"..."` and `'...'` quoting and `\` escapes so a value may hold
//! spaces. [`join`] is the inverse, for answers that arrive as a list (`-e` flags).

/// Splits `text` into words. An unterminated quote is an error.
pub fn split(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err("a quote (') is not closed".to_owned()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => current.push(c),
                            None => return Err("a quote (\") is not closed".to_owned()),
                        },
                        Some(c) => current.push(c),
                        None => return Err("a quote (\") is not closed".to_owned()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    current.push(c);
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

/// One word as [`split`] reads it back.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && !word
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\'));
    if plain {
        return word.to_owned();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Words joined so that [`split`] gives them back.
pub fn join<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_whitespace_with_quotes() {
        assert_eq!(
            split("  a=1 b=\"two words\"  c='x y' d=e\\ f").as_deref(),
            Ok(&["a=1", "b=two words", "c=x y", "d=e f"].map(String::from)[..])
        );
        assert_eq!(split("").map(|w| w.len()), Ok(0));
        assert!(split("a=\"open").is_err());
        assert!(split("a='open").is_err());
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
        assert_eq!(split(&join(&words)), Ok(words.map(String::from).to_vec()));
        assert_eq!(join(&["a=1", "b=2"]), "a=1 b=2");
    }
}
