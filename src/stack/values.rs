//! Pure parsers for the scalar notations a compose file uses: durations (`1m30s`),
//! byte sizes (`256M`), CPU counts, POSIX shell words, image references, short port
//! and volume syntax. Each returns a message on failure; the caller adds the position.

use std::time::Duration;

/// A Go-style duration as compose writes them: one or more `<number><unit>` with units
/// `ns`, `us`/`µs`, `ms`, `s`, `m`, `h` (`1m30s`, `10s`, `500ms`, `1.5s`).
pub fn duration(text: &str) -> Result<Duration, String> {
    let fail = || {
        format!(
            "{text:?} is not a duration: write a number with a unit, like `10s`, `1m30s` or `500ms`"
        )
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(fail());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..num_end];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(fail());
        }
        let value: f64 = number.parse().map_err(|_| fail())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(fail()),
        };
        rest = &rest[unit_end..];
        total += value * nanos_per;
    }
    // Docker takes nanoseconds as an i64.
    if !total.is_finite() || total > i64::MAX as f64 {
        return Err(format!("{text:?} is too long a duration"));
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

/// A byte size: a number of bytes, or a number with a unit `b`, `k`/`kb`, `m`/`mb`,
/// `g`/`gb`, `t`/`tb` (powers of 1024, any case), as `docker run --memory` reads it.
pub fn bytes(text: &str) -> Result<i64, String> {
    let fail = || {
        format!("{text:?} is not a size: write bytes or a number with a unit, like `256M` or `1g`")
    };
    let s = text.trim().to_ascii_lowercase();
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(num_end);
    if number.is_empty() {
        return Err(fail());
    }
    let value: f64 = number.parse().map_err(|_| fail())?;
    let factor: f64 = match unit.trim() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(fail()),
    };
    let total = value * factor;
    if !total.is_finite() || total >= i64::MAX as f64 {
        return Err(format!("{text:?} is too large"));
    }
    let total = total.round() as i64;
    if total <= 0 {
        return Err(format!("{text:?}: a memory limit must be more than zero"));
    }
    Ok(total)
}

/// CPUs (`0.5`, `2`) as Docker's NanoCpus.
pub fn nano_cpus(value: f64) -> Result<i64, String> {
    if !value.is_finite() || value <= 0.0 {
        return Err(format!("cpus must be a number above zero, found {value}"));
    }
    if value > 4096.0 {
        return Err(format!("cpus {value} is more than any host has"));
    }
    Ok((value * 1e9).round() as i64)
}

/// What an image reference pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// A digest (`@sha256:…`), with or without a tag.
    Digest,
    /// A tag other than `latest`.
    Tag,
    /// No tag, or `latest`.
    Unpinned,
}

/// Checks an image reference's shape (`[registry[:port]/]path[:tag][@sha256:hex]`) and
/// says what it pins.
pub fn image(reference: &str) -> Result<Pin, String> {
    let bad = |why: &str| format!("{reference:?} is not an image reference: {why}");
    if reference.is_empty() {
        return Err(bad("it is empty"));
    }
    if reference
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad("it contains blanks or control characters"));
    }
    let (name, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    if let Some(d) = digest {
        let hex = d
            .strip_prefix("sha256:")
            .ok_or_else(|| bad("a digest is `sha256:` and 64 hex digits"))?;
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad("a digest is `sha256:` and 64 lowercase hex digits"));
        }
    }
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    if repo.is_empty() || repo.starts_with('/') || repo.ends_with('/') || repo.contains("//") {
        return Err(bad("the repository name is malformed"));
    }
    let mut components = repo.split('/').peekable();
    let mut first = true;
    while let Some(component) = components.next() {
        let is_last = components.peek().is_none();
        let registry = first
            && !is_last
            && (component.contains('.') || component.contains(':') || component == "localhost");
        first = false;
        let ok = if registry {
            component
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        } else {
            !component.is_empty()
                && component.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                })
                && component.starts_with(|c: char| c.is_ascii_alphanumeric())
        };
        if !ok {
            return Err(bad(
                "repository names are lowercase letters, digits and `._-` separated by `/`",
            ));
        }
    }
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !ok {
            return Err(bad("a tag is up to 128 letters, digits and `_.-`"));
        }
    }
    Ok(if digest.is_some() {
        Pin::Digest
    } else if tag.is_some_and(|t| t != "latest") {
        Pin::Tag
    } else {
        Pin::Unpinned
    })
}

/// A port number 1..=65535 from text.
pub fn port_number(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(format!("{text:?} is not a port number (1 to 65535)")),
    }
}

/// Short port syntax `[IP:]HOST:CONTAINER[/tcp|udp]` (an IPv6 address in brackets):
/// `(host_ip, host_port, container_port, protocol)`.
pub fn short_port(text: &str) -> Result<(Option<String>, u16, u16, String), String> {
    let (spec, protocol) = match text.rsplit_once('/') {
        Some((s, p)) => (s, p.to_string()),
        None => (text, "tcp".to_string()),
    };
    if protocol != "tcp" && protocol != "udp" {
        return Err(format!(
            "{text:?}: the protocol is tcp or udp, not {protocol:?}"
        ));
    }
    let (ip, rest) = if let Some(after) = spec.strip_prefix('[') {
        let Some((ip, rest)) = after.split_once(']') else {
            return Err(format!("{text:?}: unclosed `[` around an IPv6 address"));
        };
        let Some(rest) = rest.strip_prefix(':') else {
            return Err(format!("{text:?}: expected `:` after the IPv6 address"));
        };
        (Some(ip.to_string()), rest)
    } else {
        match spec.matches(':').count() {
            1 => (None, spec),
            2 => {
                let (ip, rest) = spec.split_once(':').unwrap_or((spec, ""));
                (Some(ip.to_string()), rest)
            }
            0 => {
                return Err(format!(
                    "{text:?}: fleetdeck publishes ports explicitly; write HOST:CONTAINER (like \"8080:80\")"
                ));
            }
            _ => {
                return Err(format!(
                    "{text:?}: write [IP:]HOST:CONTAINER, with an IPv6 address in brackets"
                ));
            }
        }
    };
    if let Some(ip) = &ip {
        host_ip(ip).map_err(|e| format!("{text:?}: {e}"))?;
    }
    let (host, container) = rest.split_once(':').unwrap_or((rest, ""));
    if host.contains('-') || container.contains('-') {
        return Err(format!(
            "{text:?}: port ranges are not supported; list each port"
        ));
    }
    let host = port_number(host).map_err(|e| format!("{text:?}: host port: {e}"))?;
    let container = port_number(container).map_err(|e| format!("{text:?}: container port: {e}"))?;
    Ok((ip, host, container, protocol))
}

/// An IP address to publish on.
pub fn host_ip(text: &str) -> Result<(), String> {
    text.parse::<std::net::IpAddr>()
        .map(|_| ())
        .map_err(|_| format!("{text:?} is not an IP address"))
}

/// Names of services, networks, volumes and secrets: they become parts of Docker
/// object names and DNS aliases.
pub fn object_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && name.len() <= 63
}

/// A Linux capability name, canonical: upper case without the `CAP_` prefix.
pub fn capability(text: &str) -> Result<String, String> {
    let upper = text.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("CAP_").unwrap_or(&upper);
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
        return Err(format!(
            "{text:?} is not a capability name (like NET_BIND_SERVICE or ALL)"
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_compose() {
        assert_eq!(duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("1h2m3s4ms"), Ok(Duration::from_millis(3_723_004)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        for bad in [
            "",
            "10",
            "s",
            "10x",
            "1..5s",
            "-1s",
            "1m 30s",
            "9999999999999h",
        ] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_and_cpus() {
        assert_eq!(bytes("256M"), Ok(256 * 1024 * 1024));
        assert_eq!(bytes("1g"), Ok(1024 * 1024 * 1024));
        assert_eq!(bytes("1gb"), Ok(1024 * 1024 * 1024));
        assert_eq!(bytes("512k"), Ok(512 * 1024));
        assert_eq!(bytes("1000"), Ok(1000));
        assert_eq!(bytes("1.5g"), Ok(1_610_612_736));
        for bad in ["", "g", "1x", "0", "-1m", "99999999999999t"] {
            assert!(bytes(bad).is_err(), "{bad}");
        }
        assert_eq!(nano_cpus(0.5), Ok(500_000_000));
        assert_eq!(nano_cpus(2.0), Ok(2_000_000_000));
        assert!(nano_cpus(0.0).is_err());
        assert!(nano_cpus(f64::NAN).is_err());
    }

    #[test]
    fn image_references_and_pinning() {
        let d = format!("@sha256:{}", "a".repeat(64));
        assert_eq!(image("nginx:1.27"), Ok(Pin::Tag));
        assert_eq!(image("registry.example.net:5000/team/app:v2"), Ok(Pin::Tag));
        assert_eq!(image(&format!("nginx{d}")), Ok(Pin::Digest));
        assert_eq!(image(&format!("nginx:latest{d}")), Ok(Pin::Digest));
        assert_eq!(image("nginx"), Ok(Pin::Unpinned));
        assert_eq!(image("nginx:latest"), Ok(Pin::Unpinned));
        assert_eq!(image("localhost:5000/app"), Ok(Pin::Unpinned));
        for bad in [
            "",
            "Nginx:1",
            "nginx:",
            "nginx@sha256:abc",
            "a b:1",
            "/x:1",
            "x//y:1",
            "x:!",
        ] {
            assert!(image(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_ports() {
        assert_eq!(short_port("8080:80"), Ok((None, 8080, 80, "tcp".into())));
        assert_eq!(
            short_port("127.0.0.1:53:53/udp"),
            Ok((Some("127.0.0.1".into()), 53, 53, "udp".into()))
        );
        assert_eq!(
            short_port("[::1]:8443:443"),
            Ok((Some("::1".into()), 8443, 443, "tcp".into()))
        );
        for bad in [
            "80",
            "0:80",
            "80:70000",
            "a:80",
            "1-2:1-2",
            "80:80/sctp",
            "x:1:2",
            "[::1:80:80",
        ] {
            assert!(short_port(bad).is_err(), "{bad}");
        }
    }
}
