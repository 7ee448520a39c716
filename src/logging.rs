//! Logging goes to a file, never to the terminal: the console owns the screen and a
//! stray line would corrupt it. `tail -f` the file while the console runs.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use color_eyre::eyre::{Result, WrapErr};
use tracing_subscriber::EnvFilter;

/// `$XDG_STATE_HOME`, or `~/.local/state` as the XDG spec defaults it.
pub fn state_home() -> PathBuf {
    state_home_from(
        std::env::var_os("XDG_STATE_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

fn state_home_from(xdg: Option<PathBuf>, home: Option<PathBuf>) -> PathBuf {
    // The spec says relative paths are invalid and must be ignored.
    match xdg {
        Some(p) if p.is_absolute() => p,
        _ => home
            .unwrap_or_else(|| PathBuf::from("/"))
            .join(".local/state"),
    }
}

pub fn default_log_file() -> PathBuf {
    state_home().join("fleetdeck").join("fleetdeck.log")
}

/// Installs the global subscriber writing to `path` (appending). Returns the path used.
pub fn init(path: Option<&Path>, filter: &str) -> Result<PathBuf> {
    let path = path.map(Path::to_path_buf).unwrap_or_else(default_log_file);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .wrap_err_with(|| format!("creating the log directory {}", parent.display()))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .wrap_err_with(|| format!("opening the log file {}", path.display()))?;
    let filter = EnvFilter::try_new(filter).wrap_err_with(|| {
        format!("invalid log filter {filter:?} (try `info` or `fleetdeck=debug`)")
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init()
        .map_err(|e| color_eyre::eyre::eyre!("installing the logger: {e}"))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_state_home_wins_when_absolute() {
        let p = state_home_from(Some("/s".into()), Some("/home/u".into()));
        assert_eq!(p, PathBuf::from("/s"));
    }

    #[test]
    fn relative_xdg_state_home_is_ignored() {
        let p = state_home_from(Some("rel".into()), Some("/home/u".into()));
        assert_eq!(p, PathBuf::from("/home/u/.local/state"));
    }
}
