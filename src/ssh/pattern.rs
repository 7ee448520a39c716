//! OpenSSH's host pattern wildcards, shared by `ssh_config` Host lines and
//! `known_hosts` host fields (OpenSSH's `match_pattern`).

/// `*` matches any run of characters, `?` exactly one; everything else literally.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    // Greedy matching with a single backtrack point at the last `*`: linear enough for
    // host names and never exponential.
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, consumed)) => {
                    p = star + 1;
                    t = consumed + 1;
                    backtrack = Some((star, consumed + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// One entry of a pattern list: `glob` or `!glob`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPattern {
    pub negated: bool,
    pub glob: String,
}

impl HostPattern {
    /// Parses `glob` or `!glob`.
    pub fn parse(text: &str) -> HostPattern {
        match text.strip_prefix('!') {
            Some(glob) => HostPattern {
                negated: true,
                glob: glob.to_owned(),
            },
            None => HostPattern {
                negated: false,
                glob: text.to_owned(),
            },
        }
    }
}

/// OpenSSH `match_pattern_list`: a matching negated pattern vetoes the whole list,
/// otherwise any matching positive pattern accepts.
pub fn matches_list(patterns: &[HostPattern], name: &str) -> bool {
    let mut matched = false;
    for pattern in patterns {
        if wildcard_match(&pattern.glob, name) {
            if pattern.negated {
                return false;
            }
            matched = true;
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> Vec<HostPattern> {
        text.split(',').map(HostPattern::parse).collect()
    }

    #[test]
    fn wildcards_match_like_openssh() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("*.example.com", "a.b.example.com"));
        assert!(!wildcard_match("*.example.com", "example.com"));
        assert!(wildcard_match("web?", "web1"));
        assert!(!wildcard_match("web?", "web"));
        assert!(!wildcard_match("web?", "web12"));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxbyy"));
        assert!(wildcard_match("*a*a", "aaaa"));
        assert!(!wildcard_match("exact", "exactly"));
        assert!(wildcard_match("web-*", "web-1"));
        assert!(wildcard_match("web-*", "web-"));
        assert!(!wildcard_match("web-*", "db-1"));
        assert!(wildcard_match("db?", "db1"));
        assert!(!wildcard_match("db?", "db"));
        assert!(!wildcard_match("db?", "db12"));
        assert!(wildcard_match("*.example.*", "a.b.example.com"));
        assert!(wildcard_match("a*b*c", "aXbYbZc"));
        assert!(!wildcard_match("a*b*c", "aXbYbZ"));
        assert!(!wildcard_match("Web", "web"), "matching is case-sensitive");
    }

    #[test]
    fn a_negated_match_vetoes_the_list_whatever_the_order() {
        assert!(matches_list(
            &list("*.example.com,!db.example.com"),
            "web.example.com"
        ));
        assert!(!matches_list(
            &list("*.example.com,!db.example.com"),
            "db.example.com"
        ));
        assert!(!matches_list(
            &list("!db.example.com,*.example.com"),
            "db.example.com"
        ));
        assert!(
            !matches_list(&list("!db"), "web"),
            "a negation alone accepts nothing"
        );
    }
}
