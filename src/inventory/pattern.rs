//! Ansible host patterns (`--limit`): `all`, names, globs, `a:b` / `a,b` unions,
//! `&` intersections, `!` exclusions and `[i]` / `[i:j]` subscripts, evaluated the
//! way `ansible.inventory.manager` does.

use std::fmt;

use super::Inventory;

/// A `--limit` that cannot be applied. Ansible only warns ("Could not match supplied
/// host pattern") and runs on fewer hosts; an ops console should not quietly show less.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PatternError {}

/// Splits a pattern into terms: on commas if there are any, else on colons outside
/// `[...]` (Ansible keeps colons for ranges, ports and IPv6 addresses).
pub fn split(pattern: &str) -> Vec<String> {
    let terms: Vec<String> = if pattern.contains(',') {
        pattern.split(',').map(str::to_string).collect()
    } else if looks_like_single_address(pattern) {
        vec![pattern.to_string()]
    } else {
        let mut terms = Vec::new();
        let mut current = String::new();
        let mut depth = 0usize;
        for c in pattern.chars() {
            match c {
                '[' => {
                    depth += 1;
                    current.push(c);
                }
                ']' => {
                    depth = depth.saturating_sub(1);
                    current.push(c);
                }
                ':' if depth == 0 => terms.push(std::mem::take(&mut current)),
                c if c.is_whitespace() && depth == 0 => terms.push(std::mem::take(&mut current)),
                c => current.push(c),
            }
        }
        terms.push(current);
        terms
    };
    terms
        .into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// `host:22`, `[::1]:22` and bare IPv6 addresses are one pattern, as Ansible's
/// `parse_address` decides.
fn looks_like_single_address(p: &str) -> bool {
    if let Some((host, port)) = p.rsplit_once(':') {
        let plain_host = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if plain_host && !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) {
            return true;
        }
    }
    p.matches(':').count() >= 2
        && p.trim_start_matches('[')
            .split(']')
            .next()
            .is_some_and(|a| {
                a.chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            })
}

/// Host indices selected by `pattern`, in Ansible's order, without repeats.
pub(crate) fn select(inv: &Inventory, pattern: &str) -> Result<Vec<usize>, PatternError> {
    let terms = split(pattern);
    let mut regular = Vec::new();
    let mut intersect = Vec::new();
    let mut exclude = Vec::new();
    for t in terms {
        if t.starts_with('!') {
            exclude.push(t);
        } else if t.starts_with('&') {
            intersect.push(t);
        } else {
            regular.push(t);
        }
    }
    if regular.is_empty() {
        regular.push("all".to_string());
    }
    let mut unmatched = Vec::new();
    let mut hosts: Vec<usize> = Vec::new();
    for p in regular.iter().chain(&intersect).chain(&exclude) {
        if let Some(&h) = inv.host_index.get(p.as_str()) {
            hosts.push(h);
            continue;
        }
        let that = match_one(inv, p, &mut unmatched)?;
        if p.starts_with('!') {
            hosts.retain(|h| !that.contains(h));
        } else if p.starts_with('&') {
            hosts.retain(|h| that.contains(h));
        } else {
            let existing = hosts.clone();
            hosts.extend(that.into_iter().filter(|h| !existing.contains(h)));
        }
    }
    if !unmatched.is_empty() {
        return Err(PatternError {
            message: format!(
                "Could not match supplied host pattern{}: {} (no host or group of that name in the inventory)",
                if unmatched.len() > 1 { "s" } else { "" },
                unmatched.join(", ")
            ),
        });
    }
    let mut seen = std::collections::HashSet::new();
    hosts.retain(|h| seen.insert(*h));
    Ok(hosts)
}

fn match_one(
    inv: &Inventory,
    pattern: &str,
    unmatched: &mut Vec<String>,
) -> Result<Vec<usize>, PatternError> {
    let bare = pattern.trim_start_matches(['&', '!']);
    if bare.is_empty() {
        return Err(PatternError {
            message: format!("empty host pattern in {pattern:?}"),
        });
    }
    if bare.starts_with('~') {
        return Err(PatternError {
            message: format!(
                "regular-expression host patterns ({bare}) are not supported; use a glob such as client-*"
            ),
        });
    }
    let (expr, subscript) = split_subscript(bare)?;
    let mut results = Vec::new();
    let groups: Vec<usize> = inv
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| glob_match(expr, &g.name))
        .map(|(i, _)| i)
        .collect();
    for &g in &groups {
        results.extend(inv.group_hosts(g));
    }
    if groups.is_empty() || expr.contains(['.', '?', '*', '[']) {
        results.extend(
            inv.hosts
                .iter()
                .enumerate()
                .filter(|(_, h)| glob_match(expr, &h.name))
                .map(|(i, _)| i),
        );
    }
    if results.is_empty() && groups.is_empty() && expr != "all" {
        unmatched.push(bare.to_string());
    }
    apply_subscript(results, subscript).ok_or_else(|| PatternError {
        message: format!("No hosts matched the subscripted pattern '{bare}'"),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subscript {
    Index(i64),
    Range(usize, Option<usize>),
}

/// `name[3]`, `name[-1]`, `name[0:2]`, `name[2:]` (inclusive, as Ansible).
fn split_subscript(pattern: &str) -> Result<(&str, Option<Subscript>), PatternError> {
    let Some(body) = pattern.strip_suffix(']') else {
        return Ok((pattern, None));
    };
    let Some(open) = body.rfind('[') else {
        return Ok((pattern, None));
    };
    let (expr, inner) = (&body[..open], &body[open + 1..]);
    if expr.is_empty() {
        return Ok((pattern, None));
    }
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let bad = || PatternError {
        message: format!("invalid subscript in host pattern {pattern:?}"),
    };
    let signed = inner.strip_prefix('-').unwrap_or(inner);
    if digits(signed) {
        return Ok((
            expr,
            Some(Subscript::Index(inner.parse().map_err(|_| bad())?)),
        ));
    }
    if let Some((start, end)) = inner.split_once([':', '-'])
        && digits(start)
        && (end.is_empty() || digits(end))
    {
        let start = start.parse().map_err(|_| bad())?;
        let end = if end.is_empty() {
            None
        } else {
            Some(end.parse().map_err(|_| bad())?)
        };
        return Ok((expr, Some(Subscript::Range(start, end))));
    }
    // A glob character class such as `web[12]x]` is not a subscript.
    Ok((pattern, None))
}

fn apply_subscript(hosts: Vec<usize>, subscript: Option<Subscript>) -> Option<Vec<usize>> {
    let Some(sub) = subscript else {
        return Some(hosts);
    };
    if hosts.is_empty() {
        return Some(hosts);
    }
    let len = hosts.len();
    match sub {
        Subscript::Index(i) => {
            let idx = if i < 0 { len as i64 + i } else { i };
            usize::try_from(idx)
                .ok()
                .and_then(|i| hosts.get(i).copied())
                .map(|h| vec![h])
        }
        // Python slicing: never fails, clamps to the list.
        Subscript::Range(start, end) => {
            let end = end.map_or(len, |e| (e + 1).min(len));
            Some(
                hosts
                    .get(start.min(len)..end.max(start.min(len)))
                    .unwrap_or(&[])
                    .to_vec(),
            )
        }
    }
}

/// Python's `fnmatch` (as compiled by `fnmatch.translate`): `*`, `?`, `[seq]`,
/// `[!seq]`, case-sensitive, matching the whole name.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n)
}

fn glob_at(p: &[char], n: &[char]) -> bool {
    let Some((&first, rest)) = p.split_first() else {
        return n.is_empty();
    };
    match first {
        '*' => (0..=n.len()).any(|i| glob_at(rest, &n[i..])),
        '?' => !n.is_empty() && glob_at(rest, &n[1..]),
        '[' => match class(p) {
            Some((matcher, len)) => !n.is_empty() && matcher(n[0]) && glob_at(&p[len..], &n[1..]),
            None => n.first() == Some(&'[') && glob_at(rest, &n[1..]),
        },
        c => n.first() == Some(&c) && glob_at(rest, &n[1..]),
    }
}

type ClassMatcher = Box<dyn Fn(char) -> bool>;

/// A `[...]` class at the start of `p`: its matcher and length, or `None` when there
/// is no closing bracket (then `[` is literal).
fn class(p: &[char]) -> Option<(ClassMatcher, usize)> {
    let mut j = 1;
    let negate = p.get(j) == Some(&'!');
    if negate {
        j += 1;
    }
    if p.get(j) == Some(&']') {
        j += 1;
    }
    while j < p.len() && p[j] != ']' {
        j += 1;
    }
    if j >= p.len() {
        return None;
    }
    let start = if negate { 2 } else { 1 };
    let body: Vec<char> = p[start..j].to_vec();
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < body.len() {
        if i + 2 < body.len() && body[i + 1] == '-' {
            ranges.push((body[i], body[i + 2]));
            i += 3;
        } else {
            ranges.push((body[i], body[i]));
            i += 1;
        }
    }
    let matcher = move |c: char| ranges.iter().any(|(a, b)| *a <= c && c <= *b) != negate;
    Some((Box::new(matcher), j + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_follows_ansible() {
        assert_eq!(split("web:&production"), ["web", "&production"]);
        assert_eq!(split("a,b[1], c[2:3] , d"), ["a", "b[1]", "c[2:3]", "d"]);
        assert_eq!(split("all:!client-beta"), ["all", "!client-beta"]);
        assert_eq!(split("web[0:2]:db"), ["web[0:2]", "db"]);
        assert_eq!(split("host1:22"), ["host1:22"]);
        assert_eq!(split("fe80::1"), ["fe80::1"]);
    }

    #[test]
    fn globs_behave_like_fnmatch() {
        assert!(glob_match("client-*", "client-acme"));
        assert!(!glob_match("client-*", "Client-acme"));
        assert!(glob_match("web0?", "web01"));
        assert!(glob_match("web[0-2]", "web1"));
        assert!(!glob_match("web[!0-2]", "web1"));
        assert!(glob_match("a[b", "a[b"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("client", "client-acme"));
    }

    #[test]
    fn subscripts_parse_and_slice_inclusively() {
        assert_eq!(
            split_subscript("web[1]").expect("ok"),
            ("web", Some(Subscript::Index(1)))
        );
        assert_eq!(
            split_subscript("web[0:1]").expect("ok"),
            ("web", Some(Subscript::Range(0, Some(1))))
        );
        assert_eq!(split_subscript("web[ab]").expect("ok"), ("web[ab]", None));
        assert_eq!(
            apply_subscript(vec![5, 6, 7], Some(Subscript::Range(1, None))),
            Some(vec![6, 7])
        );
        assert_eq!(
            apply_subscript(vec![5, 6, 7], Some(Subscript::Index(-1))),
            Some(vec![7])
        );
        assert_eq!(apply_subscript(vec![5], Some(Subscript::Index(3))), None);
    }
}
