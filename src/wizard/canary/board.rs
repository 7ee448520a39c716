//! The rollout as the console's board shows it: the running rollout's events folded
//! into the waves, each host's stage, the soak clock and the go / no-go question.

use time::OffsetDateTime;
use tokio::sync::oneshot;

use super::wave_name;
use crate::core::canary::{Rollout, RolloutStatus, WaveStage};
use crate::sanitize;

/// Something the board shows, from the running rollout.
#[derive(Debug)]
pub enum BoardUpdate {
    /// The rollout as it stands.
    Board(Box<Rollout>),
    /// Seconds left in a wave's soak.
    Soak { wave: usize, left: u64 },
    /// The rollout waits for the operator's go / no-go after `wave`; the answer goes
    /// back over `answer`.
    Gate {
        wave: usize,
        answer: oneshot::Sender<bool>,
    },
}

/// A soak's countdown: `left` seconds as of `at` (the board counts down between the
/// core's reports, which come every 5 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoakClock {
    pub wave: usize,
    pub left: u64,
    pub at: OffsetDateTime,
}

/// The go / no-go being asked.
#[derive(Debug)]
pub struct GateQuestion {
    pub wave: usize,
    answer: Option<oneshot::Sender<bool>>,
}

/// The board's state beyond the engine's progress items: the rollout as the core last
/// reported it, the soak's countdown, the question at the gate, the answers given.
#[derive(Debug, Default)]
pub struct Board {
    pub rollout: Option<Rollout>,
    pub soak: Option<SoakClock>,
    pub question: Option<GateQuestion>,
    /// Go (`true`) or no-go given after each wave, in order.
    pub answered: Vec<(usize, bool)>,
}

impl Board {
    pub fn update(&mut self, update: BoardUpdate, at: OffsetDateTime) {
        match update {
            BoardUpdate::Board(rollout) => {
                // A soak that ended (its wave moved on) stops counting.
                if let Some(clock) = self.soak
                    && rollout
                        .waves
                        .get(clock.wave)
                        .is_none_or(|w| w.stage != WaveStage::Soaking)
                {
                    self.soak = None;
                }
                self.rollout = Some(*rollout);
            }
            BoardUpdate::Soak { wave, left } => {
                self.soak = Some(SoakClock { wave, left, at });
            }
            BoardUpdate::Gate { wave, answer } => {
                self.soak = None;
                self.question = Some(GateQuestion {
                    wave,
                    answer: Some(answer),
                });
            }
        }
    }

    /// Answers the question at the gate; `false` when none is asked.
    pub fn answer(&mut self, go: bool) -> bool {
        let Some(mut question) = self.question.take() else {
            return false;
        };
        if let Some(answer) = question.answer.take() {
            // The rollout may have ended meanwhile; then nobody listens.
            let _ = answer.send(go);
        }
        self.answered.push((question.wave, go));
        true
    }

    /// The soak's seconds left at `now`.
    pub fn soak_left(&self, now: OffsetDateTime) -> Option<(usize, u64)> {
        let clock = self.soak?;
        let gone = (now - clock.at).whole_seconds().max(0) as u64;
        Some((clock.wave, clock.left.saturating_sub(gone)))
    }

    /// The wave being worked on: deploying, soaking or at its gate (else the last one
    /// that failed or was rolled back).
    pub fn active_wave(&self) -> Option<usize> {
        let rollout = self.rollout.as_ref()?;
        rollout
            .waves
            .iter()
            .find(|w| {
                matches!(
                    w.stage,
                    WaveStage::Deploying | WaveStage::Soaking | WaveStage::Gate
                )
            })
            .or_else(|| {
                rollout
                    .waves
                    .iter()
                    .rev()
                    .find(|w| matches!(w.stage, WaveStage::Failed | WaveStage::RolledBack))
            })
            .map(|w| w.index)
    }

    /// The current gate, in words: what the active wave waits for.
    pub fn gate_text(&self, now: OffsetDateTime) -> String {
        if let Some(q) = &self.question {
            return format!(
                "Gate of {}: soaked and healthy — waiting for your go / no-go",
                wave_name(q.wave)
            );
        }
        let Some(rollout) = &self.rollout else {
            return "Starting…".to_owned();
        };
        match rollout.status {
            RolloutStatus::Passed => return "Every wave passed its gate".to_owned(),
            RolloutStatus::Halted => {
                return format!(
                    "HALTED: {}",
                    sanitize::line(rollout.error.as_deref().unwrap_or("a wave failed"))
                );
            }
            RolloutStatus::Running => {}
        }
        let Some(index) = self.active_wave() else {
            return "Between waves".to_owned();
        };
        let name = wave_name(index);
        match rollout.waves.get(index).map(|w| w.stage) {
            Some(WaveStage::Deploying) => format!("Gate of {name}: deploying (health gate)"),
            Some(WaveStage::Soaking) => match self.soak_left(now) {
                Some((wave, left)) if wave == index => {
                    format!("Gate of {name}: soaking, {left} s left")
                }
                _ => format!("Gate of {name}: soaking"),
            },
            Some(WaveStage::Gate) => format!("Gate of {name}: waiting for the go / no-go"),
            Some(WaveStage::Failed) => format!("Gate of {name}: FAILED — rolling back"),
            Some(WaveStage::RolledBack) => format!("{name} rolled back"),
            _ => "Between waves".to_owned(),
        }
    }
}
