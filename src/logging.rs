//! Logging goes to a file, never to the terminal: the console owns the screen and a
//! stray line would corrupt it. `tail -f` the file while the console runs.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use color_eyre::eyre::{Result, WrapErr};
use tracing_subscriber::EnvFilter;

pub fn default_log_file() -> PathBuf {
    crate::paths::state_home()
        .join("fleetdeck")
        .join("fleetdeck.log")
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
