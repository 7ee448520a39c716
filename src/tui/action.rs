//! Everything a key can do in the console. Keymaps (`keymaps/*.yaml`) bind key chords
//! to these names, per view; the help overlay lists them from the active keymap.

use serde::{Deserialize, Serialize};

/// The views (keymap sections). `global` bindings apply in every view unless the view
/// binds the same chord itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    Global,
    Overview,
    Host,
    Logs,
    Inspect,
    Timeline,
    Confirm,
    /// A wizard's panel (the deploy, canary and restore-drill wizards).
    Wizard,
}

impl View {
    pub const ALL: [View; 8] = [
        View::Global,
        View::Overview,
        View::Host,
        View::Logs,
        View::Inspect,
        View::Timeline,
        View::Confirm,
        View::Wizard,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            View::Global => "global",
            View::Overview => "overview",
            View::Host => "host",
            View::Logs => "logs",
            View::Inspect => "inspect",
            View::Timeline => "timeline",
            View::Confirm => "confirm",
            View::Wizard => "wizard",
        }
    }

    /// The section name used in keymap files, back from [`View::as_str`].
    pub fn from_name(name: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.as_str() == name)
    }
}

/// An action; the YAML name is the snake_case form (`open_logs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    // Anywhere.
    Quit,
    Help,
    Back,
    ShowTimeline,
    ShowOverview,
    // Moving around lists.
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    NextPane,
    PrevPane,
    // Overview.
    Filter,
    ClearFilter,
    CycleSort,
    ToggleGroupByGroup,
    ToggleProblemsFirst,
    /// Opens the next problem across the fleet (hosts worst first, then by name; a
    /// host's problems worst first), in its host's detail with its row selected.
    NextProblem,
    /// The same, backwards.
    PrevProblem,
    /// Opens the deploy wizard on the selected (or filtered) hosts.
    DeployWizard,
    /// Opens the canary wizard on the shown (filtered) hosts.
    CanaryWizard,
    /// Opens the restore-drill wizard on the selected host (overview or host detail).
    DrillWizard,
    /// Starts (asking how long and why) or ends the selected host's maintenance
    /// window (overview or host detail).
    Maintenance,
    /// Writes an incident report of the selected host (host detail: of its selected
    /// container) to a new file, and shows its path.
    IncidentReport,
    // Host detail and its containers.
    OpenLogs,
    Inspect,
    StartContainer,
    StopContainer,
    RestartContainer,
    // Logs.
    ToggleFollow,
    Search,
    NextMatch,
    PrevMatch,
    ToggleWrap,
    ToggleTimestamps,
    SaveLogs,
    // Timeline.
    CycleSeverityFilter,
    CycleKindFilter,
    FilterByHost,
    // Confirmation dialog (and a wizard's questions).
    Confirm,
    Cancel,
    // Wizards' checklists.
    ToggleItem,
    ToggleAll,
}

impl Action {
    /// Every action, in declaration order. Keymap checks (every action bound in each
    /// shipped keymap) iterate this: add new variants here as well as to `name`.
    pub const ALL: [Action; 45] = [
        Action::Quit,
        Action::Help,
        Action::Back,
        Action::ShowTimeline,
        Action::ShowOverview,
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::Top,
        Action::Bottom,
        Action::Open,
        Action::NextPane,
        Action::PrevPane,
        Action::Filter,
        Action::ClearFilter,
        Action::CycleSort,
        Action::ToggleGroupByGroup,
        Action::ToggleProblemsFirst,
        Action::NextProblem,
        Action::PrevProblem,
        Action::DeployWizard,
        Action::CanaryWizard,
        Action::DrillWizard,
        Action::Maintenance,
        Action::IncidentReport,
        Action::OpenLogs,
        Action::Inspect,
        Action::StartContainer,
        Action::StopContainer,
        Action::RestartContainer,
        Action::ToggleFollow,
        Action::Search,
        Action::NextMatch,
        Action::PrevMatch,
        Action::ToggleWrap,
        Action::ToggleTimestamps,
        Action::SaveLogs,
        Action::CycleSeverityFilter,
        Action::CycleKindFilter,
        Action::FilterByHost,
        Action::Confirm,
        Action::Cancel,
        Action::ToggleItem,
        Action::ToggleAll,
    ];

    /// The name keymap files use: the snake_case form, as serde spells it.
    pub fn name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::Back => "back",
            Action::ShowTimeline => "show_timeline",
            Action::ShowOverview => "show_overview",
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Open => "open",
            Action::NextPane => "next_pane",
            Action::PrevPane => "prev_pane",
            Action::Filter => "filter",
            Action::ClearFilter => "clear_filter",
            Action::CycleSort => "cycle_sort",
            Action::ToggleGroupByGroup => "toggle_group_by_group",
            Action::ToggleProblemsFirst => "toggle_problems_first",
            Action::NextProblem => "next_problem",
            Action::PrevProblem => "prev_problem",
            Action::DeployWizard => "deploy_wizard",
            Action::CanaryWizard => "canary_wizard",
            Action::DrillWizard => "drill_wizard",
            Action::Maintenance => "maintenance",
            Action::IncidentReport => "incident_report",
            Action::OpenLogs => "open_logs",
            Action::Inspect => "inspect",
            Action::StartContainer => "start_container",
            Action::StopContainer => "stop_container",
            Action::RestartContainer => "restart_container",
            Action::ToggleFollow => "toggle_follow",
            Action::Search => "search",
            Action::NextMatch => "next_match",
            Action::PrevMatch => "prev_match",
            Action::ToggleWrap => "toggle_wrap",
            Action::ToggleTimestamps => "toggle_timestamps",
            Action::SaveLogs => "save_logs",
            Action::CycleSeverityFilter => "cycle_severity_filter",
            Action::CycleKindFilter => "cycle_kind_filter",
            Action::FilterByHost => "filter_by_host",
            Action::Confirm => "confirm",
            Action::Cancel => "cancel",
            Action::ToggleItem => "toggle_item",
            Action::ToggleAll => "toggle_all",
        }
    }

    /// The action a keymap file names, back from [`Action::name`].
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
    /// Whether the action changes something on a host: hidden in the UI and refused by
    /// the core in read-only mode.
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Action::StartContainer
                | Action::StopContainer
                | Action::RestartContainer
                | Action::DeployWizard
                | Action::CanaryWizard
                | Action::DrillWizard
                | Action::Maintenance
        )
    }
}
