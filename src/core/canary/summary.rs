//! A rollout as people read it: the waves' names, each host stage's words (one table
//! for the command line's lines and the console's board), and the summary.

use super::{HostStage, Rollout, RolloutStatus};
use crate::sanitize;

/// "wave 0 (canary)", "wave 1", …
pub fn wave_name(index: usize) -> String {
    if index == 0 {
        "wave 0 (canary)".to_owned()
    } else {
        format!("wave {index}")
    }
}

impl HostStage {
    /// The stage's words, in one table: `(in progress lines and summaries, on the
    /// console's board)`. The board writes a rolled-back host in capitals, beside the
    /// wave's own "ROLLED BACK".
    fn words(self) -> (&'static str, &'static str) {
        match self {
            HostStage::Pending => ("pending", "pending"),
            HostStage::Deploying => ("deploying", "deploying"),
            HostStage::Soaking => ("soaking", "soaking"),
            HostStage::Passed => ("passed", "passed"),
            HostStage::Failed => ("FAILED", "FAILED"),
            HostStage::RolledBack => ("rolled back", "ROLLED BACK"),
            HostStage::Skipped => ("skipped", "skipped"),
        }
    }

    /// The stage in a progress line or a summary.
    pub fn word(self) -> &'static str {
        self.words().0
    }

    /// The stage in a cell of the console's board.
    pub fn board_word(self) -> &'static str {
        self.words().1
    }
}

/// The summary as people read it.
pub fn summary_lines(rollout: &Rollout) -> Vec<String> {
    let mut lines = vec![sanitize::line(&format!(
        "rollout {}: {}",
        rollout.id,
        match rollout.status {
            RolloutStatus::Passed => "PASSED".to_owned(),
            RolloutStatus::Running => "interrupted (resume with --resume)".to_owned(),
            RolloutStatus::Halted => format!(
                "HALTED: {}",
                rollout.error.as_deref().unwrap_or("a wave failed")
            ),
        }
    ))];
    for wave in &rollout.waves {
        for name in &wave.hosts {
            if let Some(h) = rollout.host(name) {
                let mut line = format!(
                    "  {:<16} {:<20} {}",
                    wave_name(wave.index),
                    h.name,
                    h.stage.word()
                );
                if let Some(e) = &h.error {
                    line.push_str(&format!(": {e}"));
                }
                lines.push(sanitize::line(&line));
                for note in &h.notes {
                    lines.push(sanitize::line(&format!("  {:<16} {:<20} {note}", "", "")));
                }
            }
        }
    }
    lines
}
