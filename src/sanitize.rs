//! Text that came from a remote host (container names, labels, health-check output,
//! command output, error messages) is cleaned once, where it enters the program, so
//! that nothing shown later can move the cursor, set the window title, write the
//! clipboard (OSC 52) or reorder text with bidi overrides.

/// Returns `text` safe to put on a terminal: escape sequences (CSI, OSC, DCS and other
/// ESC forms, 7- and 8-bit) are removed whole; other C0/C1 controls and DEL become
/// `\xNN` so their presence stays visible; bidi overrides and isolates become `\u{..}`.
/// Tabs become a space; newlines, and the Unicode line and paragraph separators
/// U+2028/U+2029, become a newline only when `keep_newlines` (multi-line output),
/// else a space; a CR is dropped so it cannot rewind a line.
pub fn clean(text: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            // 8-bit CSI, OSC, DCS, SOS, PM, APC introduce sequences like their ESC forms.
            '\u{9b}' => skip_until_final(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            // U+2028/U+2029 (line and paragraph separators) break lines in terminals,
            // JSON-reading JavaScript and editors as a newline does.
            '\n' | '\u{2028}' | '\u{2029}' if keep_newlines => out.push('\n'),
            '\n' | '\u{2028}' | '\u{2029}' => out.push(' '),
            '\r' => {}
            '\t' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{7f}' || (0x80..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' => {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// One line: newlines become spaces.
pub fn line(text: &str) -> String {
    clean(text, false)
}

/// Multi-line output (logs, command output).
pub fn lines(text: &str) -> String {
    clean(text, true)
}

/// Several lines of a tool's output as one: each trimmed, blank ones dropped, joined
/// with ` / ` and cleaned, for an error note or a report's detail.
pub fn joined(text: &str) -> String {
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ");
    line(&joined)
}

/// The first `max` characters of `text`, `…` marking a cut.
pub fn head(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}

/// The last `max` characters of `text` (where a tool says what went wrong), `…` marking
/// a cut.
pub fn tail(text: String, max: usize) -> String {
    let chars = text.chars().count();
    if chars <= max {
        return text;
    }
    let kept: String = text.chars().skip(chars - max).collect();
    format!("…{kept}")
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_escape(chars: &mut Chars<'_>) {
    match chars.next() {
        Some('[') => skip_until_final(chars),
        // OSC, DCS, SOS, PM, APC: a string ended by BEL or ST.
        Some(']' | 'P' | 'X' | '^' | '_') => skip_string(chars),
        // ESC followed by intermediates then a final byte (e.g. charset designation).
        Some(c) if ('\u{20}'..='\u{2f}').contains(&c) => {
            while let Some(&next) = chars.peek() {
                chars.next();
                if !('\u{20}'..='\u{2f}').contains(&next) {
                    break;
                }
            }
        }
        _ => {}
    }
}

/// CSI parameters and intermediates up to the final byte (0x40..=0x7e).
fn skip_until_final(chars: &mut Chars<'_>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            break;
        }
    }
}

/// A control string up to BEL, ESC \ or 8-bit ST.
fn skip_string(chars: &mut Chars<'_>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => break,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                break;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_removed_whole() {
        assert_eq!(line("a\u{1b}[31mred\u{1b}[0m b"), "ared b");
        assert_eq!(line("\u{1b}]0;pwned title\u{7}name"), "name");
        assert_eq!(
            line("\u{1b}]52;c;ZXZpbA==\u{1b}\\x"),
            "x",
            "OSC 52 clipboard"
        );
        assert_eq!(line("\u{9b}2Jcleared"), "cleared", "8-bit CSI");
        assert_eq!(line("\u{1b}(Bplain"), "plain");
        assert_eq!(line("\u{1b}P1$r\u{1b}\\ok"), "ok", "DCS");
    }

    #[test]
    fn controls_are_shown_not_obeyed() {
        assert_eq!(line("bell\u{7}"), "bell\\x07");
        assert_eq!(line("back\u{8}space"), "back\\x08space");
        assert_eq!(line("del\u{7f}"), "del\\x7f");
        assert_eq!(line("c1\u{85}"), "c1\\x85");
        assert_eq!(line("over\rwrite"), "overwrite");
        assert_eq!(line("a\nb\tc"), "a b c");
        assert_eq!(lines("a\nb"), "a\nb");
    }

    #[test]
    fn unicode_line_and_paragraph_separators_break_lines_like_a_newline() {
        assert_eq!(line("a\u{2028}b\u{2029}c"), "a b c");
        assert_eq!(lines("a\u{2028}b\u{2029}c"), "a\nb\nc");
        // Together with an escape sequence, in a label-like value.
        assert_eq!(line("web\u{2029}\u{1b}]0;x\u{7}\u{2028}2"), "web  2");
    }

    #[test]
    fn bidi_overrides_are_made_visible() {
        assert_eq!(line("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(line("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
    }

    #[test]
    fn ordinary_text_is_untouched() {
        let text = "web-1 ✓ Überprüfung 日本 (healthy)";
        assert_eq!(line(text), text);
    }

    #[test]
    fn truncated_sequences_do_not_swallow_forever_or_panic() {
        assert_eq!(line("\u{1b}"), "");
        assert_eq!(line("\u{1b}["), "");
        assert_eq!(line("ok\u{1b}]unterminated"), "ok");
    }
}
