//! Expanding what a configuration value may contain: `~`, `%` tokens, and the globs of
//! an `Include`.

use std::path::{Path, PathBuf};

use super::wildcard_match;

/// `~` or `~/…` to the home directory; `~user` is left as written.
pub(super) fn expand_tilde(path: &str, home: &Path) -> String {
    let home = home.to_string_lossy();
    let home = home.trim_end_matches('/');
    if path == "~" {
        return home.to_owned();
    }
    match path.strip_prefix("~/") {
        Some(rest) => format!("{home}/{rest}"),
        None => path.to_owned(),
    }
}

/// `%x` tokens from `tokens`, `%%` to `%`; unknown tokens stay as written.
pub(super) fn expand_tokens(text: &str, tokens: &[(char, &str)]) -> String {
    let mut expanded = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            expanded.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => expanded.push('%'),
            Some(token) => match tokens.iter().find(|(name, _)| *name == token) {
                Some((_, value)) => expanded.push_str(value),
                None => {
                    expanded.push('%');
                    expanded.push(token);
                }
            },
            None => expanded.push('%'),
        }
    }
    expanded
}

/// Expands `*`/`?` in each path component like glob(3): sorted, hidden entries only for
/// patterns that start with `.`, and nothing (not an error) when nothing matches.
pub(super) fn glob_paths(pattern: &Path) -> Vec<PathBuf> {
    let mut candidates = vec![PathBuf::new()];
    for component in pattern.components() {
        let part = component.as_os_str().to_string_lossy();
        if !part.contains(['*', '?']) {
            for candidate in &mut candidates {
                candidate.push(component);
            }
            continue;
        }
        let mut next = Vec::new();
        for directory in &candidates {
            let Ok(entries) = std::fs::read_dir(directory) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|entry| entry.ok())
                .filter_map(|entry| entry.file_name().into_string().ok())
                .filter(|name| !name.starts_with('.') || part.starts_with('.'))
                .filter(|name| wildcard_match(&part, name))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|name| directory.join(name)));
        }
        candidates = next;
    }
    candidates.retain(|path| path.exists());
    candidates
}
