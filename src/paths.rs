//! Where fleetdeck keeps its files, following the XDG base directory spec.

use std::path::PathBuf;

/// `$XDG_STATE_HOME`, or `~/.local/state`: logs and the default lab directory.
pub fn state_home() -> PathBuf {
    xdg_dir("XDG_STATE_HOME", ".local/state")
}

/// `$XDG_DATA_HOME`, or `~/.local/share`: data worth keeping, such as host keys that
/// fleetdeck was told to accept.
pub fn data_home() -> PathBuf {
    xdg_dir("XDG_DATA_HOME", ".local/share")
}

/// `$XDG_CONFIG_HOME`, or `~/.config`: user themes, keymaps and settings.
pub fn config_home() -> PathBuf {
    xdg_dir("XDG_CONFIG_HOME", ".config")
}

/// fleetdeck's own known_hosts: where `accept-new` records keys (hashed). It is read
/// after the OpenSSH files, so a key accepted here is trusted on the next connection.
pub fn fleetdeck_known_hosts() -> PathBuf {
    data_home().join("fleetdeck").join("known_hosts")
}

fn xdg_dir(variable: &str, default_under_home: &str) -> PathBuf {
    xdg_dir_from(
        std::env::var_os(variable).map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
        default_under_home,
    )
}

fn xdg_dir_from(xdg: Option<PathBuf>, home: Option<PathBuf>, default_under_home: &str) -> PathBuf {
    // The spec says relative paths are invalid and must be ignored.
    match xdg {
        Some(p) if p.is_absolute() => p,
        _ => home
            .unwrap_or_else(|| PathBuf::from("/"))
            .join(default_under_home),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_variable_wins_when_absolute() {
        let p = xdg_dir_from(Some("/s".into()), Some("/home/u".into()), ".local/state");
        assert_eq!(p, PathBuf::from("/s"));
    }

    #[test]
    fn relative_xdg_variable_is_ignored() {
        let p = xdg_dir_from(Some("rel".into()), Some("/home/u".into()), ".local/share");
        assert_eq!(p, PathBuf::from("/home/u/.local/share"));
    }
}
