//! What a running operation reports (one item, a host, at a step) and what the engine
//! asks a front end to start.

use time::OffsetDateTime;

use super::{StepId, Tone};

/// A progress report from a running operation: one item (a host) is at a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressEvent {
    pub item: String,
    /// What within the item (an app, `app/service`); may be empty.
    pub label: String,
    pub step: String,
    pub detail: String,
    pub tone: Tone,
    pub at: OffsetDateTime,
}

impl ProgressEvent {
    /// `item label: step detail`, as the headless driver prints it.
    pub fn line(&self) -> String {
        let label = if self.label.is_empty() {
            String::new()
        } else {
            format!(" {}", self.label)
        };
        format!("{}{label}: {} {}", self.item, self.step, self.detail)
    }
}

pub type ProgressSender = tokio::sync::mpsc::UnboundedSender<ProgressEvent>;

/// One item of a running operation, as the progress panel shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressItem {
    pub item: String,
    /// The latest step (`None`: no event yet, waiting).
    pub latest: Option<ProgressEvent>,
    /// When its first event came.
    pub started: Option<OffsetDateTime>,
    pub events: usize,
}

/// Which operation to start, for which wizard instance. Results carry it back, so a
/// result for a closed or reset wizard is recognised and dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpRequest {
    pub wizard: u64,
    pub step: StepId,
    pub op: &'static str,
}
