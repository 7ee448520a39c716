//! A host's maintenance window, as it is kept on the host itself
//! (`<fleetdeck_state_dir>/maintenance.json`), so that every operator and every
//! fleetdeck instance sees the same one. The file is remote text: it is parsed
//! strictly and every string in it is sanitized here, where it enters.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::sanitize;

/// The file's name under the host's `fleetdeck_state_dir`.
pub const FILE_NAME: &str = "maintenance.json";

/// The longest `by` and `reason` kept, in characters: a window is read every few
/// seconds by every instance, and shown on one line.
pub const MAX_TEXT_CHARS: usize = 200;

/// One maintenance window: who started it, when, why and until when. It ends by
/// itself at `until`; nothing needs to remove the file for that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Maintenance {
    /// `user@machine` of whoever started it.
    pub by: String,
    #[serde(with = "crate::util::time::serde_rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "crate::util::time::serde_rfc3339")]
    pub until: OffsetDateTime,
    pub reason: String,
}

impl Maintenance {
    /// Whether the window is open at `now` (it has not reached `until`).
    pub fn active_at(&self, now: OffsetDateTime) -> bool {
        self.started_at <= now && now < self.until
    }

    /// The file's content as the host stored it: `None` for an empty file (no
    /// window), the window with its text sanitized and shortened, or why it cannot
    /// be read (sanitized, one line).
    pub fn parse(text: &str) -> Result<Option<Maintenance>, String> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let mut window: Maintenance = serde_json::from_str(text)
            .map_err(|e| sanitize::line(&format!("{FILE_NAME} cannot be read: {e}")))?;
        window.by = short(&sanitize::line(&window.by));
        window.reason = short(&sanitize::line(&window.reason));
        if window.until <= window.started_at {
            return Err(format!(
                "{FILE_NAME} ends ({}) before it starts ({})",
                crate::util::time::rfc3339(window.until),
                crate::util::time::rfc3339(window.started_at)
            ));
        }
        Ok(Some(window))
    }
}

fn short(text: &str) -> String {
    text.chars().take(MAX_TEXT_CHARS).collect()
}
