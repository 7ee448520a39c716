//! One configuration line into words, and each supported directive's value into its
//! typed [`Setting`], with OpenSSH's quoting, `=`, and value rules.

use super::{ConfigErrorKind, JumpHost, Setting, StrictHostKeyChecking};

/// Splits one line into keyword and arguments the way OpenSSH does: the keyword ends at
/// whitespace or a single `=`, arguments honour quotes and backslash escapes, and a `#`
/// starting an argument ends the line. `None` for blank and comment lines.
pub(super) fn split_line(line: &str) -> Result<Option<(String, Vec<String>)>, ConfigErrorKind> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let keyword_end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let keyword = line[..keyword_end].to_owned();
    let mut rest = line[keyword_end..].trim_start();
    if let Some(after_equals) = rest.strip_prefix('=') {
        rest = after_equals.trim_start();
    }
    Ok(Some((keyword, split_arguments(rest)?)))
}

/// OpenSSH's `argv_split` with comment termination.
pub(super) fn split_arguments(text: &str) -> Result<Vec<String>, ConfigErrorKind> {
    let mut arguments = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.peek() {
            None | Some('#') => return Ok(arguments),
            Some(_) => {}
        }
        let mut argument = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&next @ ('\'' | '"' | '\\')) => {
                        argument.push(next);
                        chars.next();
                    }
                    Some(&' ') if quote.is_none() => {
                        argument.push(' ');
                        chars.next();
                    }
                    _ => argument.push('\\'),
                },
                '"' | '\'' if quote.is_none() => quote = Some(c),
                _ if quote == Some(c) => quote = None,
                _ if quote.is_none() && c.is_whitespace() => break,
                _ => argument.push(c),
            }
        }
        if quote.is_some() {
            return Err(ConfigErrorKind::UnterminatedQuote);
        }
        arguments.push(argument);
    }
}

/// Parses a supported directive's value; `Ok(None)` for keywords fleetdeck does not handle.
pub(super) fn parse_setting(
    lower: &str,
    keyword: &str,
    args: &[String],
) -> Result<Option<Setting>, ConfigErrorKind> {
    let single = || match args {
        [value] => Ok(value.as_str()),
        _ => Err(ConfigErrorKind::ExtraArguments {
            keyword: keyword.to_owned(),
        }),
    };
    let invalid = |value: &str, expected| ConfigErrorKind::InvalidValue {
        keyword: keyword.to_owned(),
        value: value.to_owned(),
        expected,
    };
    let time = |value: &str| {
        parse_seconds(value).ok_or_else(|| invalid(value, "a time (e.g. 30, 5m, 1h30m)"))
    };
    let setting = match lower {
        "hostname" => Setting::HostName(single()?.to_owned()),
        "user" => Setting::User(single()?.to_owned()),
        "port" => {
            let value = single()?;
            match value.parse::<u16>() {
                Ok(port) if port > 0 => Setting::Port(port),
                _ => return Err(invalid(value, "a port number (1-65535)")),
            }
        }
        "identityfile" => Setting::IdentityFile(single()?.to_owned()),
        "identitiesonly" => {
            let value = single()?;
            Setting::IdentitiesOnly(parse_flag(value).ok_or_else(|| invalid(value, "yes or no"))?)
        }
        "proxyjump" => {
            let value = single()?;
            if value == "none" {
                Setting::ProxyJump(None)
            } else {
                let chain = value
                    .split(',')
                    .map(parse_jump_host)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| invalid(value, "a list of [user@]host[:port]"))?;
                Setting::ProxyJump(Some(chain))
            }
        }
        "userknownhostsfile" => Setting::UserKnownHostsFile(args.to_vec()),
        "globalknownhostsfile" => Setting::GlobalKnownHostsFile(args.to_vec()),
        "stricthostkeychecking" => {
            let value = single()?;
            let mode = match value.to_ascii_lowercase().as_str() {
                "yes" | "true" => StrictHostKeyChecking::Yes,
                "no" | "false" | "off" => StrictHostKeyChecking::No,
                "ask" => StrictHostKeyChecking::Ask,
                "accept-new" => StrictHostKeyChecking::AcceptNew,
                _ => return Err(invalid(value, "yes, no, ask, accept-new or off")),
            };
            Setting::StrictHostKeyChecking(mode)
        }
        "serveraliveinterval" => Setting::ServerAliveInterval(time(single()?)?),
        "serveralivecountmax" => {
            let value = single()?;
            Setting::ServerAliveCountMax(value.parse().map_err(|_| invalid(value, "a number"))?)
        }
        "connecttimeout" => {
            let value = single()?;
            if value.eq_ignore_ascii_case("none") {
                Setting::ConnectTimeout(None)
            } else {
                Setting::ConnectTimeout(Some(time(value)?))
            }
        }
        "hostkeyalias" => Setting::HostKeyAlias(single()?.to_owned()),
        _ => return Ok(None),
    };
    Ok(Some(setting))
}

pub(super) fn parse_flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    }
}

/// OpenSSH's `convtime`: a bare number of seconds, or number+unit groups (`1h30m`).
pub(super) fn parse_seconds(value: &str) -> Option<u32> {
    if value.is_empty() {
        return None;
    }
    let mut total: u32 = 0;
    let mut rest = value;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let number: u32 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let mut units = rest.chars();
        let multiplier = match units.next() {
            None => 1,
            Some(unit) => {
                rest = units.as_str();
                match unit.to_ascii_lowercase() {
                    's' => 1,
                    'm' => 60,
                    'h' => 60 * 60,
                    'd' => 24 * 60 * 60,
                    'w' => 7 * 24 * 60 * 60,
                    _ => return None,
                }
            }
        };
        total = total.checked_add(number.checked_mul(multiplier)?)?;
    }
    i32::try_from(total).ok()?;
    Some(total)
}

/// One `ProxyJump` hop: `[user@]host[:port]`, `[user@][v6addr][:port]` or `ssh://…`.
pub(super) fn parse_jump_host(text: &str) -> Option<JumpHost> {
    let text = text
        .strip_prefix("ssh://")
        .map(|uri| uri.trim_end_matches('/'))
        .unwrap_or(text);
    let (user, host_port) = match text.rsplit_once('@') {
        Some((user, rest)) if !user.is_empty() => (Some(user.to_owned()), rest),
        Some(_) => return None,
        None => (None, text),
    };
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(port) => Some(port.parse::<u16>().ok().filter(|&p| p > 0)?),
        None => None,
    };
    Some(JumpHost {
        user,
        host: host.to_owned(),
        port,
    })
}
