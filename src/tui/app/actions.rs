//! What each keymap action does to the state (`App::act`), and the moves it is
//! made of: opening, going back, selecting, searching.

use super::{App, Command, Input, LogsState, Pane, PendingConfirm, Refusal, Screen, TimelineKind};
use crate::core::{ContainerAction, PendingAction};
use crate::fleet::containers::ContainerReport;
use crate::probes::Severity;
use crate::tui::action::Action;

impl App {
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
        if self.maintenance_confirming() {
            return self.maintenance_act(action);
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
            Action::Maintenance => {
                return self.open_maintenance(time::OffsetDateTime::now_utc());
            }
            Action::IncidentReport => {
                let (host, container) = match self.selected_container() {
                    Some((host, container)) => (Some(host), Some(container.name.clone())),
                    None if *self.screen() == Screen::Overview => (self.selected_host(), None),
                    None => (self.current_host(), None),
                };
                if let Some(host) = host {
                    self.notice = Some("writing the incident report…".to_owned());
                    return vec![Command::WriteReport { host, container }];
                }
            }
            Action::CycleSort => self.sort = self.sort.next(),
            Action::ToggleGroupByGroup => self.group_by_group = !self.group_by_group,
            Action::ToggleProblemsFirst => self.problems_first = !self.problems_first,
            Action::OpenLogs if *self.screen() == Screen::Overview => {
                return self.logs_from_overview();
            }
            Action::OpenLogs => return self.open_logs(),
            Action::NextProblem => return self.jump_to_problem(true),
            Action::PrevProblem => return self.jump_to_problem(false),
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
    pub(super) fn refusals(
        &self,
        action: Action,
        hosts: Option<Vec<usize>>,
        why: &str,
    ) -> Vec<Command> {
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
            Action::Maintenance => {
                let host = match self.screen() {
                    Screen::Overview => self.selected_host(),
                    _ => self.current_host(),
                };
                host.and_then(|h| refusal(h, "maintenance", "maintenance window".to_owned()))
                    .into_iter()
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

    pub(super) fn back(&mut self) -> Vec<Command> {
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

    pub(super) fn open(&mut self) -> Vec<Command> {
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

    /// Opens a host's detail, its worst container selected, and starts its
    /// containers' resource readings.
    pub(super) fn enter_host(&mut self, host: usize) -> Vec<Command> {
        self.screens.push(Screen::Host { host });
        self.pane = Pane::Containers;
        self.pane_selected = self.worst_container(host).unwrap_or(0);
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

    pub(super) fn open_logs(&mut self) -> Vec<Command> {
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

    pub(super) fn selected_container(&self) -> Option<(usize, &ContainerReport)> {
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

    pub(super) fn move_selection(&mut self, delta: isize) {
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
                    Pane::Facts | Pane::Resources => 0,
                    Pane::Posture => host.posture().map_or(0, |p| p.findings.len()),
                    Pane::Apps => host.apps().map_or(0, |a| a.apps.len()),
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

    pub(super) fn jump_to_match(&mut self, forward: bool) {
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
