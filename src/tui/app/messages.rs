//! What goes into the console's `update` ([`Msg`]) and what comes out of it
//! ([`Command`]): the event loop's side of the state machine.

use super::{PassphraseRequest, Refusal};
use crate::core::ConfirmedAction;
use crate::fleet::model::HostEvent;
use crate::tui::wizards::{OpenWizard, WizardOutput};
use crate::wizard::canary::BoardUpdate;
use crate::wizard::{OpRequest, ProgressEvent};
use crossterm::event::KeyEvent;

/// What the event loop should do for `update`.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Quit,
    /// Write a `refused` line to the audit log for each of these (read-only mode
    /// refused them; nothing was attempted).
    RecordRefusals(Vec<Refusal>),
    /// Start following this container's log (stop any other).
    FollowLogs {
        host: usize,
        container_id: String,
    },
    StopLogs,
    /// Stream CPU and memory of these containers of `host` (stop any other).
    WatchStats {
        host: usize,
        containers: Vec<String>,
    },
    StopStats,
    Inspect {
        host: usize,
        container_id: String,
    },
    /// Run a confirmed container action through the core.
    ContainerAction {
        host: usize,
        confirmed: ConfirmedAction,
    },
    SaveLogs,
    /// Start or end a host's maintenance window through the core (the operator
    /// confirmed it).
    Maintenance {
        host: usize,
        change: crate::core::maintenance::MaintenanceChange,
    },
    /// Write an incident report of `host` (of `container` on it, when given) off the
    /// render path; its path comes back as a notice.
    WriteReport {
        host: usize,
        container: Option<String>,
    },
    /// Open the deploy wizard with these hosts checked (the loop loads the inventory
    /// and answers with [`Msg::WizardOpened`]).
    OpenDeployWizard {
        preselect: Vec<String>,
    },
    /// Open the canary wizard with these hosts checked (answered with
    /// [`Msg::WizardOpened`]).
    OpenCanaryWizard {
        preselect: Vec<String>,
    },
    /// Open the restore-drill wizard with this host chosen (answered with
    /// [`Msg::WizardOpened`]).
    OpenDrillWizard {
        preselect: Option<String>,
    },
    /// Start the open wizard's operation (reported back as `WizardProgress` /
    /// `WizardDone`).
    RunWizardOp(OpRequest),
    /// The wizard was closed: release what its operations held (connections).
    CloseWizard,
}

/// Messages into `update`.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Fleet(usize, HostEvent),
    LogLine(String),
    LogEnded(String),
    InspectLines(Vec<(String, String)>),
    /// A CPU/memory reading of a container of the open host.
    Stats {
        host: usize,
        container_id: String,
        sample: crate::docker::stats::Sample,
    },
    /// A note for the status line (an action's result, a saved file, an error).
    Notice(String),
    /// The SSH layer needs a key's passphrase (see `tui::prompt`).
    Passphrase(PassphraseRequest),
    /// The asker of request `id` stopped waiting (its authentication timed out).
    PassphraseWithdrawn(u64),
    /// A wizard ready to start.
    WizardOpened(Box<OpenWizard>),
    /// Progress of the wizard's running operation.
    WizardProgress {
        wizard: u64,
        event: ProgressEvent,
    },
    /// The wizard's operation ended.
    WizardDone {
        op: OpRequest,
        result: Result<WizardOutput, Vec<String>>,
    },
    /// The canary wizard's running rollout: the board, the soak, a go / no-go.
    CanaryBoard {
        wizard: u64,
        update: BoardUpdate,
    },
    /// What a deploy would run on each host, in the hosts' order (computed once the
    /// console is up, off its loop).
    ExpectedApps(Vec<std::sync::Arc<crate::fleet::apps::ExpectedApps>>),
}
