//! Host keys under `hosts:`: `name`, `name:port`, `[v6]:port`, and ranges such as
//! `web[01:09]` or `db-[a:c]`, expanded as Ansible expands them.

/// A `hosts:` key: `name`, `name:port`, `[v6]:port`, with `[a:b]` / `[a:b:step]`
/// ranges (numeric with zero padding, or letters) expanded.
pub(crate) fn expand_host_pattern(pattern: &str) -> Result<(Vec<String>, Option<u16>), String> {
    let (host, port) = split_port(pattern)?;
    let names = if host.contains('[') {
        expand_range(&host)?
    } else {
        vec![host]
    };
    Ok((names, port))
}

pub(super) fn split_port(pattern: &str) -> Result<(String, Option<u16>), String> {
    let parse = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("invalid port {p:?} in host {pattern:?}"))
    };
    if let Some(rest) = pattern.strip_prefix('[')
        && let Some((addr, after)) = rest.split_once(']')
        && addr.matches(':').count() >= 2
    {
        return match after.strip_prefix(':') {
            Some(p) => Ok((addr.to_string(), Some(parse(p)?))),
            None if after.is_empty() => Ok((addr.to_string(), None)),
            None => Ok((pattern.to_string(), None)),
        };
    }
    // Colons inside [a:b] ranges are not port separators.
    let mut depth = 0usize;
    let mut colons = Vec::new();
    for (i, c) in pattern.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => colons.push(i),
            _ => {}
        }
    }
    match colons.as_slice() {
        [i] => {
            let (host, port) = (&pattern[..*i], &pattern[i + 1..]);
            if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) {
                Ok((host.to_string(), Some(parse(port)?)))
            } else {
                Ok((pattern.to_string(), None))
            }
        }
        _ => Ok((pattern.to_string(), None)),
    }
}

/// `expand_hostname_range`: the first `[...]` expanded, the rest recursively.
pub(super) fn expand_range(line: &str) -> Result<Vec<String>, String> {
    let bad = |why: &str| format!("invalid host range in {line:?}: {why}");
    let Some(open) = line.find('[') else {
        return Ok(vec![line.to_string()]);
    };
    let Some(close_rel) = line[open..].find(']') else {
        return Err(bad("no closing ]"));
    };
    let close = open + close_rel;
    let (head, range, tail) = (&line[..open], &line[open + 1..close], &line[close + 1..]);
    let bounds: Vec<&str> = range.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err(bad("host range must be begin:end or begin:end:step"));
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err(bad("host range must specify end value"));
    }
    let step: usize = match bounds.get(2) {
        Some(s) => s
            .parse()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| bad("the step must be a positive integer"))?,
        None => 1,
    };
    let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
    let single_letter = |s: &str| {
        let mut it = s.chars();
        match (it.next(), it.next()) {
            (Some(c), None) => letters.iter().position(|l| *l == c),
            _ => None,
        }
    };
    let items: Vec<String> = match (single_letter(beg), single_letter(end)) {
        (Some(a), Some(b)) => {
            if a > b {
                return Err(bad("host range must have begin <= end"));
            }
            letters[a..=b]
                .iter()
                .step_by(step)
                .map(|c| c.to_string())
                .collect()
        }
        _ => {
            let width = if beg.starts_with('0') && beg.len() > 1 {
                if beg.len() != end.len() {
                    return Err(bad(
                        "host range must specify equal-length begin and end formats",
                    ));
                }
                beg.len()
            } else {
                0
            };
            let a: u64 = beg.parse().map_err(|_| bad("not a number or a letter"))?;
            let b: u64 = end.parse().map_err(|_| bad("not a number or a letter"))?;
            if b.saturating_sub(a) > 100_000 {
                return Err(bad("more than 100000 hosts"));
            }
            (a..=b)
                .step_by(step)
                .map(|n| format!("{n:0width$}"))
                .collect()
        }
    };
    let mut hosts = Vec::new();
    for item in items {
        let name = format!("{head}{item}{tail}");
        if name.contains('[') {
            hosts.extend(expand_range(&name)?);
        } else {
            hosts.push(name);
        }
    }
    Ok(hosts)
}
