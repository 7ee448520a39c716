//! The console's state and its one `update` function. `update` is synchronous, never
//! does I/O and never awaits: it turns a message (a key, a host actor's report, a log
//! line) into new state plus the commands the event loop should carry out. Everything
//! here is testable without a terminal.
//!
//! This file holds the state types; `messages` what goes in and out of `update`,
//! `update` the function itself, `actions` what each keymap action does, `wizard` the
//! open wizard, `passphrase` the passphrase modal, `timeline` the fleet timeline.

use std::collections::VecDeque;

use super::action::View;
use super::keymap::{Key, Keymap};
pub use super::wizards::{CanaryWizard, DeployWizard, DrillWizard, OpenWizard, WizardOutput};
use crate::core::PendingAction;
use crate::fleet::containers::ContainerReport;
use crate::fleet::model::HostState;
use crate::probes::Severity;

mod actions;
mod maintenance;
mod messages;
mod passphrase;
mod timeline;
mod triage;
mod update;
mod wizard;

pub use maintenance::{DEFAULT_LENGTH, MaintenanceForm, MaintenanceStep};
pub use messages::{Command, Msg};
pub use passphrase::{PASSPHRASE_MAX_BYTES, PassphrasePrompts, PassphraseRequest};
pub use timeline::{TimelineEntry, TimelineKind, TimelineState, entries};

/// Timeline entries kept; older ones are dropped (the console is not an archive).
pub const TIMELINE_CAPACITY: usize = 5_000;
/// Log lines kept for the open container.
pub const LOG_CAPACITY: usize = 10_000;
/// Resource samples kept per container for the sparklines (about a minute).
pub const STATS_SAMPLES: usize = 60;

/// What fills the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Overview,
    Host {
        host: usize,
    },
    Logs {
        host: usize,
        container: String,
    },
    Inspect {
        host: usize,
        container: String,
    },
    Timeline,
    /// The open wizard (`App::wizard`), full screen.
    Wizard,
}

impl Screen {
    pub fn view(&self) -> View {
        match self {
            Screen::Overview => View::Overview,
            Screen::Host { .. } => View::Host,
            Screen::Logs { .. } => View::Logs,
            Screen::Inspect { .. } => View::Inspect,
            Screen::Timeline => View::Timeline,
            Screen::Wizard => View::Wizard,
        }
    }
}

/// How the overview orders hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Inventory,
    Name,
    Severity,
}

impl SortKey {
    fn next(self) -> SortKey {
        match self {
            SortKey::Inventory => SortKey::Severity,
            SortKey::Severity => SortKey::Name,
            SortKey::Name => SortKey::Inventory,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Inventory => "inventory order",
            SortKey::Name => "name",
            SortKey::Severity => "severity",
        }
    }
}

/// The host detail's panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    Containers,
    Backups,
    Certificates,
    Firewall,
    Facts,
    Resources,
    Posture,
    Apps,
}

impl Pane {
    pub const ALL: [Pane; 8] = [
        Pane::Containers,
        Pane::Backups,
        Pane::Certificates,
        Pane::Firewall,
        Pane::Facts,
        Pane::Resources,
        Pane::Posture,
        Pane::Apps,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Containers => "Containers",
            Pane::Backups => "Backups",
            Pane::Certificates => "Certificates",
            Pane::Firewall => "Firewall",
            Pane::Facts => "Facts",
            Pane::Resources => "Resources",
            Pane::Posture => "Posture",
            Pane::Apps => "Apps",
        }
    }
}

/// A line of text being typed (filter, search).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    pub text: String,
    pub editing: bool,
}

/// The open container's log.
#[derive(Debug, Clone, Default)]
pub struct LogsState {
    pub lines: VecDeque<String>,
    pub dropped: u64,
    pub follow: bool,
    pub wrap: bool,
    pub timestamps: bool,
    pub search: Input,
    /// Lines from the bottom when not following.
    pub scroll: usize,
    pub ended: Option<String>,
}

impl LogsState {
    pub fn matches(&self) -> Vec<usize> {
        if self.search.text.is_empty() {
            return Vec::new();
        }
        let needle = self.search.text.to_lowercase();
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.to_lowercase().contains(&needle))
            .map(|(i, _)| i)
            .collect()
    }
}

/// A mutating action waiting for the operator's yes: only its confirmation can be
/// run (the core takes nothing else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingConfirm {
    pub host: usize,
    pub pending: PendingAction,
}

/// A mutation the console refused because of read-only mode, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The host it was about (inventory name).
    pub host: String,
    /// `start`, `stop`, `restart`, or `deploy` / `canary` / `drill` for a wizard.
    pub action: String,
    /// The container, or `deploy wizard` / `canary wizard` / `drill wizard`.
    pub target: String,
    /// Which rule refused it.
    pub why: String,
}

pub struct App {
    pub hosts: Vec<HostState>,
    pub screens: Vec<Screen>,
    pub keymap: Keymap,
    pub read_only: bool,
    pub overview_selected: usize,
    pub filter: Input,
    pub sort: SortKey,
    pub group_by_group: bool,
    pub problems_first: bool,
    /// The launch order is still to be decided: problems first if a host is critical
    /// once every host has been heard from (no `overview_order` in config.yaml).
    pub order_pending: bool,
    /// The operator has moved the overview's selection or changed its order: the
    /// launch decision no longer moves it.
    pub order_touched: bool,
    pub pane: Pane,
    pub pane_selected: usize,
    pub timeline: TimelineState,
    pub logs: LogsState,
    pub inspect: Vec<(String, String)>,
    pub inspect_scroll: usize,
    /// Readings for the open host's containers, by container id.
    pub stats: std::collections::HashMap<String, VecDeque<crate::docker::stats::Sample>>,
    pub stats_host: Option<usize>,
    pub help: bool,
    pub confirm: Option<PendingConfirm>,
    /// The maintenance key's form (start: length, reason, yes; end: yes).
    pub maintenance: Option<MaintenanceForm>,
    /// Hosts the inventory marks `fleetdeck_read_only: true`, by index.
    pub host_read_only: Vec<bool>,
    pub passphrase: PassphrasePrompts,
    /// The open wizard (shown by `Screen::Wizard`).
    pub wizard: Option<OpenWizard>,
    pub notice: Option<String>,
    pending_keys: Vec<Key>,
    pub should_quit: bool,
}

impl App {
    pub fn new(hosts: Vec<HostState>, keymap: Keymap, read_only: bool) -> App {
        App {
            hosts,
            screens: vec![Screen::Overview],
            keymap,
            read_only,
            overview_selected: 0,
            filter: Input::default(),
            sort: SortKey::Inventory,
            group_by_group: false,
            problems_first: false,
            order_pending: false,
            order_touched: false,
            pane: Pane::Containers,
            pane_selected: 0,
            timeline: TimelineState::default(),
            logs: LogsState::default(),
            inspect: Vec::new(),
            inspect_scroll: 0,
            stats: std::collections::HashMap::new(),
            stats_host: None,
            help: false,
            confirm: None,
            maintenance: None,
            host_read_only: Vec::new(),
            passphrase: PassphrasePrompts::default(),
            wizard: None,
            notice: None,
            pending_keys: Vec::new(),
            should_quit: false,
        }
    }

    pub fn screen(&self) -> &Screen {
        self.screens.last().unwrap_or(&Screen::Overview)
    }

    /// Whether nothing may be changed on `host`: the whole console is read-only, or the
    /// inventory says so for that host.
    pub fn is_read_only(&self, host: Option<usize>) -> bool {
        self.read_only || host.is_some_and(|h| self.host_read_only.get(h) == Some(&true))
    }

    /// The host the current view is about, if any.
    pub fn current_host(&self) -> Option<usize> {
        match self.screen() {
            Screen::Host { host } | Screen::Logs { host, .. } | Screen::Inspect { host, .. } => {
                Some(*host)
            }
            Screen::Overview | Screen::Timeline | Screen::Wizard => None,
        }
    }

    /// The hosts in overview order: filtered, grouped, sorted (by severity: worst
    /// first, then by name), problems first.
    /// Returns indices into `hosts`.
    pub fn overview_rows(&self) -> Vec<usize> {
        let needle = self.filter.text.to_lowercase();
        let mut rows: Vec<usize> = (0..self.hosts.len())
            .filter(|&i| {
                needle.is_empty() || {
                    let h = &self.hosts[i];
                    h.name.to_lowercase().contains(&needle)
                        || h.groups.iter().any(|g| g.to_lowercase().contains(&needle))
                }
            })
            .collect();
        let severity = |i: &usize| std::cmp::Reverse(self.hosts[*i].severity());
        match self.sort {
            SortKey::Inventory => {}
            SortKey::Name => rows.sort_by(|a, b| self.hosts[*a].name.cmp(&self.hosts[*b].name)),
            SortKey::Severity => rows.sort_by_cached_key(|i| (severity(i), &self.hosts[*i].name)),
        }
        if self.problems_first {
            rows.sort_by_cached_key(|i| self.hosts[*i].severity() == Severity::Ok);
        }
        if self.group_by_group {
            rows.sort_by(|a, b| group_of(&self.hosts[*a]).cmp(group_of(&self.hosts[*b])));
        }
        rows
    }

    pub fn selected_host(&self) -> Option<usize> {
        self.overview_rows().get(self.overview_selected).copied()
    }

    /// The containers of `host`, as listed in the detail pane.
    pub fn containers(&self, host: usize) -> &[ContainerReport] {
        self.hosts
            .get(host)
            .and_then(|h| h.containers.value.as_deref())
            .unwrap_or_default()
    }
}

impl Input {
    fn pop_char(&mut self) {
        self.text.pop();
    }
}

fn group_of(host: &HostState) -> &str {
    host.groups
        .first()
        .map(String::as_str)
        .unwrap_or("ungrouped")
}
