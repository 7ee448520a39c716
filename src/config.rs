//! `$XDG_CONFIG_HOME/fleetdeck/config.yaml`: defaults for options an operator wants on
//! every run (a theme, a keymap, read-only on a shared screen). Read once at the start
//! of every command (an error in it stops any command). Command-line options win; a
//! read-only setting here cannot be switched off from the command line, and holds for
//! every command that would change a host, not only the console.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::util::diag::{Mark, Positioned};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub theme: Option<String>,
    #[serde(default)]
    pub keymap: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    /// How the console's overview orders hosts at launch; absent: problems first when
    /// a host is critical once every host has been heard from, else inventory order.
    #[serde(default)]
    pub overview_order: Option<OverviewOrder>,
    /// How many days the fleet history keeps (docs/history.md); absent: 30.
    #[serde(default)]
    pub history_retention_days: Option<u32>,
}

/// The longest `history_retention_days`: ten years, past which it is a typo.
pub const MAX_HISTORY_RETENTION_DAYS: u32 = 3650;

/// `overview_order` in config.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverviewOrder {
    /// Worst host first, then by name.
    Problems,
    /// As the inventory lists the hosts.
    Inventory,
}

pub fn path() -> PathBuf {
    crate::paths::config_home()
        .join("fleetdeck")
        .join("config.yaml")
}

/// The file's settings; an absent file is the defaults. Errors name the file, line and
/// column.
pub fn load(path: &Path) -> Result<Config, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(error) => return Err(format!("{}: {error}", path.display())),
    };
    if text.trim().is_empty() {
        return Ok(Config::default());
    }
    // The inventory's YAML bounds first (nesting, what aliases copy), in one linear
    // pass: serde_yaml takes seconds over deep nesting before refusing it.
    crate::inventory::yaml::check_bounds(&text)
        .map_err(|e| Positioned::at(path, e.mark, e.describe()).to_string())?;
    let config: Config = serde_yaml::from_str(&text).map_err(|error| {
        let at = error.location().map_or_else(Mark::default, |at| Mark {
            line: at.line(),
            column: at.column(),
        });
        Positioned::at(path, at, error.to_string()).to_string()
    })?;
    if let Some(days) = config.history_retention_days
        && !(1..=MAX_HISTORY_RETENTION_DAYS).contains(&days)
    {
        // serde gives no position for a value it accepted: the key's own line.
        let at = text
            .lines()
            .position(|l| l.trim_start().starts_with("history_retention_days"))
            .map_or_else(Mark::default, |line| Mark {
                line: line + 1,
                column: 1,
            });
        let why = format!(
            "history_retention_days: {days} is not a number of days from 1 to {MAX_HISTORY_RETENTION_DAYS}"
        );
        return Err(Positioned::at(path, at, why).to_string());
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_retention_is_a_number_of_days_and_a_bad_one_names_its_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.yaml");
        std::fs::write(&file, "history_retention_days: 90\n").expect("write");
        assert_eq!(load(&file).expect("loads").history_retention_days, Some(90));
        std::fs::write(&file, "theme: dark\nhistory_retention_days: 0\n").expect("write");
        let error = load(&file).expect_err("zero days");
        assert!(error.contains(&format!("{}:2:", file.display())), "{error}");
        assert!(error.contains("history_retention_days"), "{error}");
    }

    #[test]
    fn absent_is_default_and_errors_name_the_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.yaml");
        assert_eq!(load(&file), Ok(Config::default()));
        std::fs::write(&file, "theme: light\nread_only: true\n").expect("write");
        let config = load(&file).expect("loads");
        assert!(config.read_only);
        assert_eq!(config.theme.as_deref(), Some("light"));
        std::fs::write(&file, "theme: light\nreadonly: true\n").expect("write");
        let error = load(&file).expect_err("misspelled");
        assert!(error.contains(&format!("{}:2:", file.display())), "{error}");
        assert!(error.contains("readonly"), "{error}");
        std::fs::write(&file, "overview_order: problems\n").expect("write");
        let config = load(&file).expect("loads");
        assert_eq!(config.overview_order, Some(OverviewOrder::Problems));
        std::fs::write(&file, "overview_order: worst\n").expect("write");
        let error = load(&file).expect_err("unknown order");
        assert!(error.contains(&format!("{}:1:", file.display())), "{error}");
        assert!(error.contains("problems"), "{error}");
    }

    #[test]
    fn deep_nesting_is_refused_at_its_place_before_serde_yaml() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.yaml");
        let depth = 100_000;
        let text = format!("theme: {}x{}\n", "[".repeat(depth), "]".repeat(depth));
        std::fs::write(&file, text).expect("write");
        let error = load(&file).expect_err("too deep");
        assert!(
            error.starts_with(&format!("{}:1:", file.display())),
            "{error}"
        );
        assert!(error.contains("refused"), "{error}");
    }
}
