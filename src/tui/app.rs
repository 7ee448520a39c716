//! The console's state and its one `update` function. `update` is synchronous, never
//! does I/O and never awaits: it turns a message (a key, a host actor's report, a log
//! line) into new state plus the commands the event loop should carry out. Everything
//! here is testable without a terminal.

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::action::{Action, View};
use super::keymap::{Key, Keymap, Resolution};
use super::prompt::PassphraseRequest;
pub use super::wizards::{CanaryWizard, DeployWizard, DrillWizard, OpenWizard, WizardOutput};
use crate::core::{ConfirmedAction, ContainerAction, PendingAction};
use crate::fleet::actor::HostEvent;
use crate::fleet::containers::ContainerReport;
use crate::fleet::model::HostState;
use crate::probes::Severity;
use crate::wizard::canary::BoardUpdate;
use crate::wizard::{Effect, Ending, OpRequest, ProgressEvent, StepView};

/// Timeline entries kept; older ones are dropped (the console is not an archive).
pub const TIMELINE_CAPACITY: usize = 5_000;
/// Log lines kept for the open container.
pub const LOG_CAPACITY: usize = 10_000;
/// Resource samples kept per container for the sparklines (about a minute).
pub const STATS_SAMPLES: usize = 60;
/// Longest passphrase the modal takes, in bytes. Its buffer is allocated this large up
/// front and never grows, so no copy of a partly typed passphrase is left behind in
/// freed memory.
pub const PASSPHRASE_MAX_BYTES: usize = 1024;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Containers,
    Backups,
    Certificates,
    Firewall,
    Facts,
}

impl Pane {
    pub const ALL: [Pane; 5] = [
        Pane::Containers,
        Pane::Backups,
        Pane::Certificates,
        Pane::Firewall,
        Pane::Facts,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Containers => "Containers",
            Pane::Backups => "Backups",
            Pane::Certificates => "Certificates",
            Pane::Firewall => "Firewall",
            Pane::Facts => "Facts",
        }
    }
}

/// A line of text being typed (filter, search).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    pub text: String,
    pub editing: bool,
}

/// One entry of the fleet timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: OffsetDateTime,
    pub host: String,
    pub severity: Severity,
    pub kind: TimelineKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineKind {
    Connection,
    Container,
    Backup,
    Certificate,
    Firewall,
}

impl TimelineKind {
    pub const ALL: [TimelineKind; 5] = [
        TimelineKind::Connection,
        TimelineKind::Container,
        TimelineKind::Backup,
        TimelineKind::Certificate,
        TimelineKind::Firewall,
    ];

    pub fn label(self) -> &'static str {
        match self {
            TimelineKind::Connection => "connection",
            TimelineKind::Container => "container",
            TimelineKind::Backup => "backup",
            TimelineKind::Certificate => "certificate",
            TimelineKind::Firewall => "firewall",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct TimelineState {
    pub entries: VecDeque<TimelineEntry>,
    pub selected: usize,
    pub host: Option<String>,
    pub min_severity: Option<Severity>,
    pub kind: Option<TimelineKind>,
}

impl TimelineState {
    /// Newest first, filtered.
    pub fn visible(&self) -> Vec<&TimelineEntry> {
        self.entries
            .iter()
            .rev()
            .filter(|e| self.host.as_ref().is_none_or(|h| &e.host == h))
            .filter(|e| self.min_severity.is_none_or(|s| e.severity >= s))
            .filter(|e| self.kind.is_none_or(|k| e.kind == k))
            .collect()
    }
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
}

/// Passphrase requests waiting for the operator; the first is shown. The typed text
/// lives only in `input`, wiped when answered, cancelled or dropped.
pub struct PassphrasePrompts {
    pub queue: VecDeque<PassphraseRequest>,
    input: Zeroizing<String>,
}

impl Default for PassphrasePrompts {
    fn default() -> Self {
        PassphrasePrompts {
            queue: VecDeque::new(),
            input: Zeroizing::new(String::with_capacity(PASSPHRASE_MAX_BYTES)),
        }
    }
}

impl PassphrasePrompts {
    /// The request the modal shows.
    pub fn current(&self) -> Option<&PassphraseRequest> {
        self.queue.front()
    }

    /// Whether anything has been typed (the modal shows that much, never the length).
    pub fn has_input(&self) -> bool {
        !self.input.is_empty()
    }

    fn clear_input(&mut self) {
        // Zeroizing wipes on drop; clearing in place keeps the one allocation.
        use zeroize::Zeroize as _;
        self.input.zeroize();
    }
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

    /// The hosts in overview order: filtered, grouped, sorted, problems first.
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
            SortKey::Severity => rows.sort_by_key(severity),
        }
        if self.problems_first {
            rows.sort_by_key(|i| self.hosts[*i].severity() == Severity::Ok);
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

    pub fn update(&mut self, msg: Msg) -> Vec<Command> {
        match msg {
            Msg::Key(key) => self.on_key(key),
            Msg::Fleet(index, event) => {
                self.on_fleet(index, event);
                Vec::new()
            }
            Msg::LogLine(line) => {
                if self.logs.lines.len() >= LOG_CAPACITY {
                    self.logs.lines.pop_front();
                    self.logs.dropped += 1;
                }
                self.logs.lines.push_back(line);
                if !self.logs.follow {
                    // Keep the paused view where it is while lines arrive below it.
                    self.logs.scroll = self.logs.scroll.saturating_add(1);
                }
                Vec::new()
            }
            Msg::LogEnded(why) => {
                self.logs.ended = Some(why);
                Vec::new()
            }
            Msg::InspectLines(lines) => {
                self.inspect = lines;
                self.inspect_scroll = 0;
                Vec::new()
            }
            Msg::Stats {
                host,
                container_id,
                sample,
            } => {
                if self.stats_host == Some(host) {
                    let samples = self.stats.entry(container_id).or_default();
                    if samples.len() >= STATS_SAMPLES {
                        samples.pop_front();
                    }
                    samples.push_back(sample);
                }
                Vec::new()
            }
            Msg::Notice(text) => {
                self.notice = Some(text);
                Vec::new()
            }
            Msg::Passphrase(request) => {
                self.passphrase.queue.push_back(request);
                Vec::new()
            }
            Msg::WizardOpened(wizard) => {
                self.wizard = Some(*wizard);
                self.screens.retain(|s| *s != Screen::Wizard);
                self.screens.push(Screen::Wizard);
                self.help = false;
                let effect = self.wizard.as_mut().map_or(Effect::None, |w| w.start());
                self.wizard_effect(effect)
            }
            Msg::WizardProgress { wizard, event } => {
                if let Some(w) = self.wizard.as_mut() {
                    w.on_progress(wizard, event);
                }
                Vec::new()
            }
            Msg::WizardDone { op, result } => {
                let effect = match self.wizard.as_mut() {
                    Some(w) => w.on_done(&op, result),
                    None => Effect::None,
                };
                self.wizard_effect(effect)
            }
            Msg::CanaryBoard { wizard, update } => {
                if let Some(w) = self.wizard.as_mut() {
                    w.on_board(wizard, update, OffsetDateTime::now_utc());
                }
                Vec::new()
            }
            Msg::PassphraseWithdrawn(id) => {
                if let Some(at) = self.passphrase.queue.iter().position(|r| r.id == id) {
                    if at == 0 {
                        self.passphrase.clear_input();
                    }
                    if let Some(gone) = self.passphrase.queue.remove(at) {
                        self.notice = Some(format!(
                            "passphrase prompt for {} timed out",
                            crate::sanitize::line(&gone.key_file.display().to_string())
                        ));
                    }
                }
                Vec::new()
            }
        }
    }

    /// Keys while the passphrase modal is up: typed text is taken as is (never shown),
    /// Enter answers, Esc (or Ctrl-C) cancels, Backspace deletes.
    fn on_passphrase_key(&mut self, key: KeyEvent) -> Vec<Command> {
        let control = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => {
                let Some(request) = self.passphrase.queue.pop_front() else {
                    return Vec::new();
                };
                let typed = std::mem::replace(
                    &mut self.passphrase.input,
                    Zeroizing::new(String::with_capacity(PASSPHRASE_MAX_BYTES)),
                );
                let key_file = request.key_file.clone();
                // Other first-time requests for the same file (hosts connected with a
                // different ssh_config keep their own key store) get the same answer.
                let mut same = Vec::new();
                let mut rest = VecDeque::new();
                for other in self.passphrase.queue.drain(..) {
                    if other.key_file == key_file && !other.previous_was_wrong {
                        same.push(other);
                    } else {
                        rest.push_back(other);
                    }
                }
                self.passphrase.queue = rest;
                for other in same {
                    other.answer(Some(typed.clone()));
                }
                request.answer(Some(typed));
                self.notice = Some(format!(
                    "passphrase given for {}",
                    crate::sanitize::line(&key_file.display().to_string())
                ));
            }
            KeyCode::Esc => self.cancel_passphrase(),
            KeyCode::Char('c') if control => self.cancel_passphrase(),
            KeyCode::Backspace => {
                self.passphrase.input.pop();
            }
            KeyCode::Char(c)
                if !control
                    && self.passphrase.input.len() + c.len_utf8() <= PASSPHRASE_MAX_BYTES =>
            {
                self.passphrase.input.push(c);
            }
            _ => {}
        }
        Vec::new()
    }

    /// Esc in the modal: this key's hosts fail to authenticate (saying why); every
    /// request waiting for the same key is cancelled with it.
    fn cancel_passphrase(&mut self) {
        self.passphrase.clear_input();
        let Some(request) = self.passphrase.queue.pop_front() else {
            return;
        };
        let key_file = request.key_file.clone();
        request.answer(None);
        let mut rest = VecDeque::new();
        for other in self.passphrase.queue.drain(..) {
            if other.key_file == key_file {
                other.answer(None);
            } else {
                rest.push_back(other);
            }
        }
        self.passphrase.queue = rest;
        self.notice = Some(format!(
            "passphrase for {} not given: hosts that need it cannot authenticate",
            crate::sanitize::line(&key_file.display().to_string())
        ));
    }

    fn on_fleet(&mut self, index: usize, event: HostEvent) {
        let Some(host) = self.hosts.get_mut(index) else {
            return;
        };
        let before = host.clone();
        host.apply(event);
        let after = host.clone();
        let now = OffsetDateTime::now_utc();
        for entry in changes(&before, &after, now) {
            if self.timeline.entries.len() >= TIMELINE_CAPACITY {
                self.timeline.entries.pop_front();
            }
            self.timeline.entries.push_back(entry);
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        // A passphrase being asked for takes every key, before anything else.
        if !self.passphrase.queue.is_empty() {
            return self.on_passphrase_key(key);
        }
        // A wizard's text input takes every key but Enter, Esc and Ctrl-C.
        if *self.screen() == Screen::Wizard
            && let Some(w) = self.wizard.as_mut()
            && matches!(w.view(), StepView::Input { .. })
        {
            let control = key.modifiers.contains(KeyModifiers::CONTROL);
            match key.code {
                KeyCode::Enter => {
                    let effect = w.submit();
                    return self.wizard_effect(effect);
                }
                KeyCode::Esc => {
                    let effect = w.back();
                    return self.wizard_effect(effect);
                }
                KeyCode::Backspace => {
                    w.backspace();
                    return Vec::new();
                }
                KeyCode::Char(c) if !control => {
                    w.type_char(c);
                    return Vec::new();
                }
                _ => {}
            }
        }
        // Text being typed takes every key but Enter and Esc.
        if let Some(input) = self.editing_input() {
            match key.code {
                KeyCode::Enter => input.editing = false,
                KeyCode::Esc => {
                    input.editing = false;
                    input.text.clear();
                }
                KeyCode::Backspace => {
                    input.pop_char();
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    input.text.push(c)
                }
                _ => {}
            }
            self.overview_selected = 0;
            return Vec::new();
        }
        let view = if self.confirm.is_some() {
            View::Confirm
        } else {
            self.screen().view()
        };
        let key = Key::from(key);
        match self.keymap.resolve(view, &self.pending_keys, key) {
            Resolution::Pending => {
                self.pending_keys.push(key);
                Vec::new()
            }
            Resolution::Unbound => {
                self.pending_keys.clear();
                Vec::new()
            }
            Resolution::Action(action) => {
                self.pending_keys.clear();
                self.notice = None;
                self.act(action)
            }
        }
    }

    fn editing_input(&mut self) -> Option<&mut Input> {
        if self.filter.editing {
            return Some(&mut self.filter);
        }
        if self.logs.search.editing {
            return Some(&mut self.logs.search);
        }
        None
    }

    /// Carries out an action in the current view.
    pub fn act(&mut self, action: Action) -> Vec<Command> {
        if self.help && action != Action::Quit {
            self.help = false;
            if matches!(action, Action::Help | Action::Back | Action::Cancel) {
                return Vec::new();
            }
        }
        if let Some(waiting) = self.confirm.clone() {
            return match action {
                Action::Confirm => {
                    self.confirm = None;
                    self.notice = Some(format!("{}…", waiting.pending.title()));
                    vec![Command::ContainerAction {
                        host: waiting.host,
                        confirmed: waiting.pending.confirm(),
                    }]
                }
                Action::Cancel | Action::Back => {
                    self.confirm = None;
                    self.notice = Some("cancelled".to_owned());
                    Vec::new()
                }
                _ => Vec::new(),
            };
        }
        if *self.screen() == Screen::Wizard
            && let Some(commands) = self.wizard_act(action)
        {
            return commands;
        }
        if action.is_mutating() && self.read_only {
            self.notice = Some("read-only mode: no changes can be made".to_owned());
            return self.refusals(action, None, crate::core::READ_ONLY_WHY);
        }
        if action.is_mutating() && self.is_read_only(self.current_host()) {
            let name = self
                .current_host()
                .and_then(|h| self.hosts.get(h))
                .map(|h| h.name.as_str())
                .unwrap_or("this host");
            self.notice = Some(format!(
                "{name} is read-only (fleetdeck_read_only): no changes can be made"
            ));
            return self.refusals(action, None, crate::core::HOST_READ_ONLY_WHY);
        }
        match action {
            Action::Quit => {
                self.should_quit = true;
                return vec![Command::Quit];
            }
            Action::Help => self.help = true,
            Action::Back => return self.back(),
            Action::ShowTimeline => {
                if *self.screen() != Screen::Timeline {
                    self.screens.push(Screen::Timeline);
                }
            }
            Action::ShowOverview => {
                let leaving_logs = self
                    .screens
                    .iter()
                    .any(|s| matches!(s, Screen::Logs { .. }));
                self.screens.truncate(1);
                self.stats_host = None;
                self.stats.clear();
                let mut commands = vec![Command::StopStats];
                if leaving_logs {
                    commands.push(Command::StopLogs);
                }
                return commands;
            }
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::PageUp => self.move_selection(-10),
            Action::PageDown => self.move_selection(10),
            Action::Top => self.move_selection(isize::MIN / 2),
            Action::Bottom => self.move_selection(isize::MAX / 2),
            Action::Open => return self.open(),
            Action::NextPane | Action::PrevPane => {
                if matches!(self.screen(), Screen::Host { .. }) {
                    let position = Pane::ALL.iter().position(|p| *p == self.pane).unwrap_or(0);
                    let step = if action == Action::NextPane {
                        1
                    } else {
                        Pane::ALL.len() - 1
                    };
                    self.pane = Pane::ALL[(position + step) % Pane::ALL.len()];
                    self.pane_selected = 0;
                }
            }
            Action::Filter => {
                if *self.screen() == Screen::Overview {
                    self.filter.editing = true;
                }
            }
            Action::ClearFilter => {
                self.filter = Input::default();
                self.overview_selected = 0;
            }
            Action::DeployWizard => return self.open_deploy_wizard(),
            Action::CanaryWizard => return self.open_canary_wizard(),
            Action::DrillWizard => return self.open_drill_wizard(),
            Action::CycleSort => self.sort = self.sort.next(),
            Action::ToggleGroupByGroup => self.group_by_group = !self.group_by_group,
            Action::ToggleProblemsFirst => self.problems_first = !self.problems_first,
            Action::OpenLogs => return self.open_logs(),
            Action::Inspect => {
                if let Some((host, container)) = self.selected_container() {
                    let id = container.id.clone();
                    self.screens.push(Screen::Inspect {
                        host,
                        container: container.name.clone(),
                    });
                    self.inspect.clear();
                    return vec![Command::Inspect {
                        host,
                        container_id: id,
                    }];
                }
            }
            Action::StartContainer | Action::StopContainer | Action::RestartContainer => {
                if let Some((host, container)) = self.selected_container() {
                    let what = match action {
                        Action::StartContainer => ContainerAction::Start,
                        Action::StopContainer => ContainerAction::Stop,
                        _ => ContainerAction::Restart,
                    };
                    let name = self
                        .hosts
                        .get(host)
                        .map(|h| h.name.clone())
                        .unwrap_or_default();
                    let pending = PendingAction::new(&name, &container.id, &container.name, what);
                    self.confirm = Some(PendingConfirm { host, pending });
                }
            }
            Action::ToggleFollow => {
                self.logs.follow = !self.logs.follow;
                if self.logs.follow {
                    self.logs.scroll = 0;
                }
            }
            Action::Search => {
                if matches!(self.screen(), Screen::Logs { .. }) {
                    self.logs.search.editing = true;
                    self.logs.search.text.clear();
                }
            }
            Action::NextMatch | Action::PrevMatch => {
                self.jump_to_match(action == Action::NextMatch)
            }
            Action::ToggleWrap => self.logs.wrap = !self.logs.wrap,
            Action::ToggleTimestamps => self.logs.timestamps = !self.logs.timestamps,
            Action::SaveLogs => {
                if matches!(self.screen(), Screen::Logs { .. }) {
                    return vec![Command::SaveLogs];
                }
            }
            Action::CycleSeverityFilter => {
                self.timeline.min_severity = match self.timeline.min_severity {
                    None => Some(Severity::Warning),
                    Some(Severity::Warning) => Some(Severity::Critical),
                    _ => None,
                };
                self.timeline.selected = 0;
            }
            Action::CycleKindFilter => {
                let kinds = TimelineKind::ALL;
                self.timeline.kind = match self.timeline.kind {
                    None => Some(kinds[0]),
                    Some(k) => kinds
                        .iter()
                        .position(|x| *x == k)
                        .and_then(|i| kinds.get(i + 1).copied()),
                };
                self.timeline.selected = 0;
            }
            Action::FilterByHost => {
                self.timeline.host = match self.timeline.host {
                    Some(_) => None,
                    None => self
                        .timeline
                        .visible()
                        .get(self.timeline.selected)
                        .map(|e| e.host.clone()),
                };
                self.timeline.selected = 0;
            }
            Action::Confirm | Action::Cancel | Action::ToggleItem | Action::ToggleAll => {}
        }
        Vec::new()
    }

    /// The audit lines for a mutating `action` that read-only mode (`why`) refused:
    /// a container action on the selected container; a wizard on the hosts it would
    /// have opened on (`hosts`, or those the key would have chosen). Nothing when the
    /// key was about nothing (no container selected).
    fn refusals(&self, action: Action, hosts: Option<Vec<usize>>, why: &str) -> Vec<Command> {
        let refusal = |host: usize, action: &str, target: String| {
            self.hosts.get(host).map(|h| Refusal {
                host: h.name.clone(),
                action: action.to_owned(),
                target,
                why: why.to_owned(),
            })
        };
        let list: Vec<Refusal> = match action {
            Action::StartContainer | Action::StopContainer | Action::RestartContainer => {
                let what = match action {
                    Action::StartContainer => ContainerAction::Start,
                    Action::StopContainer => ContainerAction::Stop,
                    _ => ContainerAction::Restart,
                };
                self.selected_container()
                    .and_then(|(host, c)| {
                        let target = PendingAction::new("", &c.id, &c.name, what).target();
                        refusal(host, what.verb(), target)
                    })
                    .into_iter()
                    .collect()
            }
            Action::DeployWizard | Action::CanaryWizard | Action::DrillWizard => {
                let word = match action {
                    Action::DeployWizard => "deploy",
                    Action::CanaryWizard => "canary",
                    _ => "drill",
                };
                // The hosts the key would have opened the wizard on (as
                // `open_*_wizard` choose them).
                let hosts = hosts.unwrap_or_else(|| match (action, self.screen()) {
                    (Action::DrillWizard, Screen::Host { host }) => vec![*host],
                    (Action::DeployWizard, Screen::Overview) if self.filter.text.is_empty() => {
                        self.selected_host().into_iter().collect()
                    }
                    (Action::DrillWizard, Screen::Overview) => {
                        self.selected_host().into_iter().collect()
                    }
                    (Action::DeployWizard | Action::CanaryWizard, Screen::Overview) => {
                        self.overview_rows()
                    }
                    _ => Vec::new(),
                });
                hosts
                    .into_iter()
                    .filter_map(|h| refusal(h, word, format!("{word} wizard")))
                    .collect()
            }
            _ => Vec::new(),
        };
        if list.is_empty() {
            Vec::new()
        } else {
            vec![Command::RecordRefusals(list)]
        }
    }

    /// `D` in the overview: the deploy wizard with the filtered hosts checked (or the
    /// selected one without a filter). Read-only hosts are left out; if nothing is
    /// left, it does not open.
    fn open_deploy_wizard(&mut self) -> Vec<Command> {
        if *self.screen() != Screen::Overview {
            return Vec::new();
        }
        let rows = if self.filter.text.is_empty() {
            self.selected_host().into_iter().collect()
        } else {
            self.overview_rows()
        };
        let name = |i: usize| self.hosts.get(i).map(|h| h.name.clone());
        let writable: Vec<String> = rows
            .iter()
            .filter(|&&i| !self.is_read_only(Some(i)))
            .filter_map(|&i| name(i))
            .collect();
        if writable.is_empty() {
            self.notice = Some(match rows.first().and_then(|&i| name(i)) {
                Some(host) => {
                    format!("{host} is read-only (fleetdeck_read_only): no changes can be made")
                }
                None => "no host to deploy to".to_owned(),
            });
            return self.refusals(
                Action::DeployWizard,
                Some(rows),
                crate::core::HOST_READ_ONLY_WHY,
            );
        }
        vec![Command::OpenDeployWizard {
            preselect: writable,
        }]
    }

    /// `C` in the overview: the canary wizard with the filtered hosts checked (every
    /// host without a filter: a rollout is about a fleet). Read-only hosts are left
    /// out; if nothing is left, it does not open.
    fn open_canary_wizard(&mut self) -> Vec<Command> {
        if *self.screen() != Screen::Overview {
            return Vec::new();
        }
        let rows = self.overview_rows();
        let writable: Vec<String> = rows
            .iter()
            .filter(|&&i| !self.is_read_only(Some(i)))
            .filter_map(|&i| self.hosts.get(i).map(|h| h.name.clone()))
            .collect();
        if writable.is_empty() {
            self.notice = Some(if rows.is_empty() {
                "no host to roll out to".to_owned()
            } else {
                "every host shown is read-only (fleetdeck_read_only): no changes can be made"
                    .to_owned()
            });
            return self.refusals(
                Action::CanaryWizard,
                Some(rows),
                crate::core::HOST_READ_ONLY_WHY,
            );
        }
        vec![Command::OpenCanaryWizard {
            preselect: writable,
        }]
    }

    /// `R` in the overview or a host's detail: the restore-drill wizard with that host
    /// chosen (when it declares drills; the wizard lists those that do). Read-only
    /// hosts are refused before this (the action is mutating).
    fn open_drill_wizard(&mut self) -> Vec<Command> {
        let host = match self.screen() {
            Screen::Overview => self.selected_host(),
            Screen::Host { host } => Some(*host),
            _ => return Vec::new(),
        };
        if self.is_read_only(host) {
            let name = host
                .and_then(|h| self.hosts.get(h))
                .map_or("this host", |h| h.name.as_str());
            self.notice = Some(format!(
                "{name} is read-only (fleetdeck_read_only): a drill writes on the host"
            ));
            return self.refusals(
                Action::DrillWizard,
                Some(host.into_iter().collect()),
                crate::core::HOST_READ_ONLY_WHY,
            );
        }
        vec![Command::OpenDrillWizard {
            preselect: host.and_then(|h| self.hosts.get(h)).map(|h| h.name.clone()),
        }]
    }

    /// An action on the wizard's panel; `None` lets the ordinary handling have it
    /// (help, quit when nothing is being changed, the timeline).
    fn wizard_act(&mut self, action: Action) -> Option<Vec<Command>> {
        let wizard = self.wizard.as_mut()?;
        let ended = wizard.ending().is_some();
        // A rollout asking for its go / no-go: yes goes on, no halts it.
        if let OpenWizard::Canary(c) = wizard
            && c.board.question.is_some()
        {
            match action {
                Action::Confirm | Action::Open => {
                    if let Some(wave) = c.board.question.as_ref().map(|q| q.wave) {
                        c.board.answer(true);
                        self.notice = Some(format!("go: wave {} starts", wave + 1));
                    }
                    return Some(Vec::new());
                }
                Action::Cancel => {
                    c.board.answer(false);
                    self.notice = Some(
                        "no-go: the rollout halts; the waves after this one are skipped".to_owned(),
                    );
                    return Some(Vec::new());
                }
                _ => {}
            }
        }
        let effect = match action {
            Action::Quit if wizard.is_applying() => {
                self.notice =
                    Some("changes are being applied: quit once they have ended".to_owned());
                return Some(Vec::new());
            }
            Action::Quit if wizard.drill_under_way().is_some() => {
                let host = wizard.drill_under_way().unwrap_or("the host").to_owned();
                self.notice = Some(format!(
                    "a drill holds {host}'s lock and scratch data: go on to its clean-up, or \
                     close the wizard (that removes them), before quitting"
                ));
                return Some(Vec::new());
            }
            Action::Back | Action::Cancel
                if wizard.is_applying() && matches!(wizard, OpenWizard::Canary(_)) =>
            {
                self.notice = Some(
                    "a rollout cannot be cancelled: answer no-go at the next gate to halt it"
                        .to_owned(),
                );
                return Some(Vec::new());
            }
            Action::Quit | Action::Help | Action::ShowTimeline => return None,
            Action::Confirm | Action::Open if ended => return Some(self.close_wizard()),
            Action::Back | Action::Cancel if ended => return Some(self.close_wizard()),
            Action::Confirm | Action::Open => wizard.submit(),
            Action::Cancel => match wizard.view() {
                StepView::Confirm { .. } => wizard.confirm(false),
                _ => Effect::None,
            },
            Action::Back => wizard.back(),
            Action::Up => {
                wizard.move_by(-1);
                Effect::None
            }
            Action::Down => {
                wizard.move_by(1);
                Effect::None
            }
            Action::PageUp => {
                wizard.move_by(-10);
                Effect::None
            }
            Action::PageDown => {
                wizard.move_by(10);
                Effect::None
            }
            Action::Top => {
                wizard.move_by(isize::MIN / 2);
                Effect::None
            }
            Action::Bottom => {
                wizard.move_by(isize::MAX / 2);
                Effect::None
            }
            Action::ToggleItem => {
                wizard.toggle();
                Effect::None
            }
            Action::ToggleAll => {
                wizard.toggle_all();
                Effect::None
            }
            _ => Effect::None,
        };
        Some(self.wizard_effect(effect))
    }

    /// What an engine effect means for the console.
    fn wizard_effect(&mut self, effect: Effect) -> Vec<Command> {
        let what = self.wizard.as_ref().map_or("wizard", |w| w.what());
        if let Effect::Ended(Ending::Closed | Ending::Refused { .. }) = &effect
            && let Some(host) = self.wizard.as_ref().and_then(|w| w.drill_under_way())
        {
            // The worker finishes the drill when the wizard closes.
            self.notice = Some(format!(
                "drill wizard closed: the drill on {host} is being finished (scratch data \
                 removed, lock released, report saved)"
            ));
            return self.close_wizard();
        }
        match effect {
            Effect::None | Effect::Invalid(_) => Vec::new(),
            Effect::Start(op) => vec![Command::RunWizardOp(op)],
            Effect::Ended(Ending::Cancelled) => {
                self.notice = Some(format!("{what} left: nothing was changed"));
                self.close_wizard()
            }
            Effect::Ended(Ending::Refused { .. }) => {
                self.notice = Some("not confirmed: nothing was changed".to_owned());
                self.close_wizard()
            }
            Effect::Ended(Ending::Completed | Ending::Closed) => {
                self.notice = Some(format!("{what} closed"));
                self.close_wizard()
            }
            // The panel stays with the problems until the operator closes it.
            Effect::Ended(Ending::Failed { .. } | Ending::Stopped { .. }) => Vec::new(),
        }
    }

    fn close_wizard(&mut self) -> Vec<Command> {
        self.wizard = None;
        self.screens.retain(|s| *s != Screen::Wizard);
        if self.screens.is_empty() {
            self.screens.push(Screen::Overview);
        }
        vec![Command::CloseWizard]
    }

    fn back(&mut self) -> Vec<Command> {
        if self.screens.len() > 1 {
            let left = self.screens.pop();
            if matches!(left, Some(Screen::Logs { .. })) {
                return vec![Command::StopLogs];
            }
            if matches!(left, Some(Screen::Host { .. })) {
                self.stats_host = None;
                self.stats.clear();
                return vec![Command::StopStats];
            }
        } else if !self.filter.text.is_empty() {
            self.filter = Input::default();
        }
        Vec::new()
    }

    fn open(&mut self) -> Vec<Command> {
        match self.screen().clone() {
            Screen::Overview => match self.selected_host() {
                Some(host) => self.enter_host(host),
                None => Vec::new(),
            },
            Screen::Host { .. } if self.pane == Pane::Containers => self.open_logs(),
            Screen::Timeline => {
                let host = self
                    .timeline
                    .visible()
                    .get(self.timeline.selected)
                    .map(|e| e.host.clone());
                if let Some(index) = host.and_then(|h| self.hosts.iter().position(|x| x.name == h))
                {
                    self.screens.push(Screen::Host { host: index });
                    self.pane = Pane::Containers;
                    self.pane_selected = 0;
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// Opens a host's detail and starts its containers' resource readings.
    fn enter_host(&mut self, host: usize) -> Vec<Command> {
        self.screens.push(Screen::Host { host });
        self.pane = Pane::Containers;
        self.pane_selected = 0;
        self.stats.clear();
        self.stats_host = Some(host);
        let containers = self
            .containers(host)
            .iter()
            .filter(|c| c.state == "running")
            .map(|c| c.id.clone())
            .collect();
        vec![Command::WatchStats { host, containers }]
    }

    fn open_logs(&mut self) -> Vec<Command> {
        let Some((host, container)) = self.selected_container() else {
            return Vec::new();
        };
        let (id, name) = (container.id.clone(), container.name.clone());
        self.screens.push(Screen::Logs {
            host,
            container: name,
        });
        self.logs = LogsState {
            follow: true,
            timestamps: false,
            ..LogsState::default()
        };
        vec![Command::FollowLogs {
            host,
            container_id: id,
        }]
    }

    fn selected_container(&self) -> Option<(usize, &ContainerReport)> {
        let Screen::Host { host } = *self.screen() else {
            return None;
        };
        if self.pane != Pane::Containers {
            return None;
        }
        self.containers(host)
            .get(self.pane_selected)
            .map(|c| (host, c))
    }

    fn move_selection(&mut self, delta: isize) {
        let screen = self.screen().clone();
        if let Screen::Logs { .. } = screen {
            // Up scrolls back in time, which pauses following; reaching the bottom
            // follows again.
            let len = self.logs.lines.len();
            let scroll = (self.logs.scroll as isize).saturating_sub(delta);
            self.logs.scroll = scroll.clamp(0, len.saturating_sub(1) as isize) as usize;
            if delta < 0 {
                self.logs.follow = false;
            }
            if self.logs.scroll == 0 && delta > 0 {
                self.logs.follow = true;
            }
            return;
        }
        let len = match &screen {
            Screen::Overview => self.overview_rows().len(),
            Screen::Host { host } => {
                let host = &self.hosts[*host];
                match self.pane {
                    Pane::Containers => host.containers.value.as_ref().map_or(0, Vec::len),
                    Pane::Backups => host.backups.value.as_ref().map_or(0, Vec::len),
                    Pane::Certificates => host.certs.value.as_ref().map_or(0, Vec::len),
                    Pane::Firewall => host.firewall.value.as_ref().map_or(0, |f| f.drift.len()),
                    Pane::Facts => 0,
                }
            }
            Screen::Timeline => self.timeline.visible().len(),
            Screen::Inspect { .. } => self.inspect.len(),
            Screen::Logs { .. } | Screen::Wizard => 0,
        };
        let selected = match &screen {
            Screen::Overview => &mut self.overview_selected,
            Screen::Host { .. } => &mut self.pane_selected,
            Screen::Timeline => &mut self.timeline.selected,
            _ => &mut self.inspect_scroll,
        };
        let max = len.saturating_sub(1) as isize;
        *selected = (*selected as isize)
            .saturating_add(delta)
            .clamp(0, max.max(0)) as usize;
    }

    fn jump_to_match(&mut self, forward: bool) {
        let matches = self.logs.matches();
        if matches.is_empty() {
            self.notice = Some("no match".to_owned());
            return;
        }
        let len = self.logs.lines.len();
        let current = len.saturating_sub(1 + self.logs.scroll);
        let target = if forward {
            matches.iter().find(|&&m| m > current).or(matches.first())
        } else {
            matches
                .iter()
                .rev()
                .find(|&&m| m < current)
                .or(matches.last())
        };
        if let Some(&line) = target {
            self.logs.follow = false;
            self.logs.scroll = len.saturating_sub(1 + line);
        }
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

/// What changed on a host, as timeline entries.
pub fn changes(before: &HostState, after: &HostState, now: OffsetDateTime) -> Vec<TimelineEntry> {
    let mut out = Vec::new();
    let entry = |severity, kind, text: String| TimelineEntry {
        at: now,
        host: after.name.clone(),
        severity,
        kind,
        text,
    };
    if before.reachable != after.reachable {
        match after.reachable {
            Some(true) => out.push(entry(
                Severity::Ok,
                TimelineKind::Connection,
                "connected".to_owned(),
            )),
            Some(false) => out.push(entry(
                Severity::Critical,
                TimelineKind::Connection,
                format!(
                    "unreachable: {}",
                    after.error.as_deref().unwrap_or("no answer")
                ),
            )),
            None => {}
        }
    }
    if let Some(new) = &after.containers.value {
        let old = before.containers.value.as_deref().unwrap_or_default();
        let first_listing = before.containers.value.is_none();
        for container in new {
            let previous = old.iter().find(|c| c.id == container.id);
            let changed = match previous {
                None => !first_listing,
                Some(p) => p.state != container.state || p.health != container.health,
            };
            if changed {
                let state = match &container.health {
                    Some(health) => format!("{} ({health})", container.state),
                    None => container.state.clone(),
                };
                out.push(entry(
                    container.severity,
                    TimelineKind::Container,
                    format!("{}: {state}", container.name),
                ));
            }
        }
        for gone in old.iter().filter(|c| !new.iter().any(|n| n.id == c.id)) {
            out.push(entry(
                Severity::Ok,
                TimelineKind::Container,
                format!("{}: removed", gone.name),
            ));
        }
    }
    let b_before = worst_of(before.backups.value.as_ref(), |b| b.severity);
    let b_after = worst_of(after.backups.value.as_ref(), |b| b.severity);
    if let Some(severity) = b_after.filter(|_| b_before != b_after) {
        out.push(entry(
            severity,
            TimelineKind::Backup,
            format!("backups {}", severity.as_str()),
        ));
    }
    let c_before = worst_of(before.certs.value.as_ref(), |c| c.severity);
    let c_after = worst_of(after.certs.value.as_ref(), |c| c.severity);
    if let Some(severity) = c_after.filter(|_| c_before != c_after) {
        out.push(entry(
            severity,
            TimelineKind::Certificate,
            format!("certificates {}", severity.as_str()),
        ));
    }
    let drift = |h: &HostState| {
        h.firewall
            .value
            .as_ref()
            .map(|f| (f.severity, f.drift.len()))
    };
    if let (Some((severity, count)), true) = (drift(after), drift(before) != drift(after)) {
        let text = if count == 0 {
            "firewall as declared".to_owned()
        } else {
            format!("firewall drift: {count} difference(s)")
        };
        out.push(entry(severity, TimelineKind::Firewall, text));
    }
    out
}

fn worst_of<T>(list: Option<&Vec<T>>, severity: impl Fn(&T) -> Severity) -> Option<Severity> {
    list.map(|l| Severity::worst(l.iter().map(&severity)))
}
