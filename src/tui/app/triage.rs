//! Straight to the problem: the overview's order at launch (problems first when a
//! host is critical), the selection kept on its host while the order moves, the
//! fleet's problems in the order the next-problem key walks them, a host's worst
//! container (preselected in its detail, and what `l` in the overview opens), and how
//! often the screen's clock-driven numbers need drawing again.

use std::time::Duration;

use super::{App, Command, Pane, Screen, SortKey};
use crate::config::OverviewOrder;
use crate::fleet::problems::SignalKind;
use crate::probes::Severity;

/// One stop of the next-problem key: a host's detail, a pane, a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemStop {
    pub host: usize,
    pub pane: Pane,
    pub row: usize,
    pub severity: Severity,
}

impl App {
    /// Applies `overview_order` from config.yaml: `problems` sorts worst first now,
    /// `inventory` keeps inventory order; none leaves the choice to the launch
    /// decision ([`App::settle_launch_order`]).
    pub fn set_overview_order(&mut self, order: Option<OverviewOrder>) {
        match order {
            Some(OverviewOrder::Problems) => {
                self.sort = SortKey::Severity;
                self.order_pending = false;
            }
            Some(OverviewOrder::Inventory) => {
                self.sort = SortKey::Inventory;
                self.order_pending = false;
            }
            None => self.order_pending = true,
        }
    }

    /// The launch decision, once every host has been heard from (reached and its
    /// containers listed or their listing failed, or found unreachable): problems
    /// first if any host is critical then, the selection on the first row — unless
    /// the operator has already moved the selection or changed the order.
    pub(super) fn settle_launch_order(&mut self) {
        if !self.order_pending {
            return;
        }
        let heard = |h: &crate::fleet::model::HostState| match h.reachable {
            Some(false) => true,
            Some(true) => h.containers.measured_at.is_some() || h.containers.error.is_some(),
            None => false,
        };
        if !self.hosts.iter().all(heard) {
            return;
        }
        self.order_pending = false;
        if self.order_touched {
            return;
        }
        if self
            .hosts
            .iter()
            .any(|h| h.severity() == Severity::Critical)
        {
            self.sort = SortKey::Severity;
            self.overview_selected = 0;
        }
    }

    /// Puts the overview's selection back on `host` after the rows moved (a host's
    /// severity changed under a severity order).
    pub(super) fn keep_selection_on(&mut self, host: Option<usize>) {
        if let Some(host) = host
            && let Some(row) = self.overview_rows().iter().position(|&h| h == host)
        {
            self.overview_selected = row;
        }
    }

    /// The index (in [`App::containers`]) of `host`'s worst container: the most
    /// severe, then the first listed; `None` when none has a problem.
    pub fn worst_container(&self, host: usize) -> Option<usize> {
        self.containers(host)
            .iter()
            .enumerate()
            .filter(|(_, c)| c.severity != Severity::Ok)
            .max_by(|(a, x), (b, y)| x.severity.cmp(&y.severity).then(b.cmp(a)))
            .map(|(i, _)| i)
    }

    /// Every problem of the fleet as the next-problem key walks them: hosts worst
    /// first, then by name; within a host, worst first, then in pane order
    /// (containers, backups, certificates, firewall, resources, posture, apps).
    pub fn problem_stops(&self) -> Vec<ProblemStop> {
        let mut hosts: Vec<(usize, Severity)> = self
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (i, h.severity()))
            .filter(|(_, s)| *s != Severity::Ok)
            .collect();
        hosts.sort_by(|(a, x), (b, y)| {
            y.cmp(x)
                .then_with(|| self.hosts[*a].name.cmp(&self.hosts[*b].name))
        });
        let mut stops = Vec::new();
        for (index, _) in hosts {
            let host = &self.hosts[index];
            let mut own: Vec<ProblemStop> =
                host.problems()
                    .iter()
                    .map(|p| {
                        let position = |found: Option<usize>| found.unwrap_or(0);
                        let (pane, row) = match p.signal {
                            SignalKind::Host => (Pane::Containers, 0),
                            SignalKind::Containers => (
                                Pane::Containers,
                                position(
                                    self.containers(index)
                                        .iter()
                                        .position(|c| c.name == p.subject),
                                ),
                            ),
                            SignalKind::Backups => (
                                Pane::Backups,
                                position(host.backups.value.as_ref().and_then(|list| {
                                    list.iter().position(|b| b.repo == p.subject)
                                })),
                            ),
                            SignalKind::Certs => (
                                Pane::Certificates,
                                position(host.certs.value.as_ref().and_then(|list| {
                                    list.iter().position(|c| c.endpoint == p.subject)
                                })),
                            ),
                            SignalKind::Firewall => (
                                Pane::Firewall,
                                position(host.firewall.value.as_ref().and_then(|f| {
                                    f.drift.iter().position(|d| d.message == p.subject)
                                })),
                            ),
                            SignalKind::Resources => (Pane::Resources, 0),
                            SignalKind::Posture => (Pane::Posture, 0),
                            SignalKind::Apps => (Pane::Apps, 0),
                        };
                        ProblemStop {
                            host: index,
                            pane,
                            row,
                            severity: p.severity,
                        }
                    })
                    .collect();
            // Stable: equal severities keep the problems' signal order.
            own.sort_by_key(|s| std::cmp::Reverse(s.severity));
            // One stop per row: its worst problem's.
            let mut seen = std::collections::HashSet::new();
            own.retain(|s| seen.insert((s.pane, s.row)));
            stops.extend(own);
        }
        stops
    }

    /// The next (or previous) problem: from a host's detail, the one after the
    /// selected row (or the host's first, when the row is none); from anywhere else,
    /// the selected host's first problem, else the fleet's first. It opens in its
    /// host's detail, the overview's selection following it.
    pub(super) fn jump_to_problem(&mut self, forward: bool) -> Vec<Command> {
        let stops = self.problem_stops();
        if stops.is_empty() {
            self.notice = Some("no problems across the fleet".to_owned());
            return Vec::new();
        }
        let here = match *self.screen() {
            Screen::Host { host } => Some(host),
            _ => None,
        };
        let target = match here {
            Some(host) => {
                let at = stops.iter().position(|s| {
                    s.host == host && s.pane == self.pane && s.row == self.pane_selected
                });
                match at {
                    Some(i) if forward => stops[(i + 1) % stops.len()],
                    Some(i) => stops[(i + stops.len() - 1) % stops.len()],
                    None => stops
                        .iter()
                        .find(|s| s.host == host)
                        .copied()
                        .unwrap_or(stops[0]),
                }
            }
            None => {
                let selected = match self.screen() {
                    Screen::Overview => self.selected_host(),
                    _ => None,
                };
                let first_of = |host| stops.iter().find(|s| s.host == host).copied();
                match selected.and_then(first_of) {
                    Some(stop) => stop,
                    None if forward => stops[0],
                    None => stops[stops.len() - 1],
                }
            }
        };
        let mut commands = Vec::new();
        if here != Some(target.host) {
            commands.extend(self.leave_to_overview());
            commands.extend(self.enter_host(target.host));
        }
        self.pane = target.pane;
        self.pane_selected = target.row;
        let rows = self.overview_rows();
        if let Some(row) = rows.iter().position(|&h| h == target.host) {
            self.overview_selected = row;
        }
        commands
    }

    /// Back to the overview (whatever was open over it closed), as the command list
    /// the event loop needs.
    fn leave_to_overview(&mut self) -> Vec<Command> {
        let leaving_logs = self
            .screens
            .iter()
            .any(|s| matches!(s, Screen::Logs { .. }));
        let leaving_host = self
            .screens
            .iter()
            .any(|s| matches!(s, Screen::Host { .. }));
        self.screens.truncate(1);
        let mut commands = Vec::new();
        if leaving_host {
            self.stats_host = None;
            self.stats.clear();
            commands.push(Command::StopStats);
        }
        if leaving_logs {
            commands.push(Command::StopLogs);
        }
        commands
    }

    /// `l` in the overview: the selected host's detail opens with its worst container
    /// selected, and that container's logs over it (back goes to the detail).
    pub(super) fn logs_from_overview(&mut self) -> Vec<Command> {
        let Some(host) = self.selected_host() else {
            return Vec::new();
        };
        let Some(row) = self.worst_container(host) else {
            let name = self.hosts[host].name.clone();
            self.notice = Some(format!("{name}: no container has a problem"));
            return Vec::new();
        };
        let mut commands = self.enter_host(host);
        self.pane_selected = row;
        commands.extend(self.open_logs());
        commands
    }

    /// How often the screen must be drawn again for its clock-driven numbers to move
    /// (uptimes in a host's detail, a running wizard's elapsed times: every second;
    /// the overview's and timeline's ages: every 10 s); `None`: only when something
    /// changes.
    pub fn clock_interval(&self) -> Option<Duration> {
        let wizard_running = self.wizard.as_ref().is_some_and(|w| w.is_running());
        match self.screen() {
            Screen::Host { .. } => Some(Duration::from_secs(1)),
            Screen::Wizard if wizard_running => Some(Duration::from_secs(1)),
            Screen::Overview | Screen::Timeline => Some(Duration::from_secs(10)),
            _ if wizard_running => Some(Duration::from_secs(1)),
            _ => None,
        }
    }
}
