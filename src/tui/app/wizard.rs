//! The open wizard inside the console: opening it (read-only rules), passing it
//! keys, and turning its effects into commands.

use super::{App, Command, Screen};
use crate::tui::action::Action;
use crate::tui::wizards::OpenWizard;
use crate::wizard::{Effect, Ending, StepView};

impl App {
    /// `D` in the overview: the deploy wizard with the filtered hosts checked (or the
    /// selected one without a filter). Read-only hosts are left out; if nothing is
    /// left, it does not open.
    pub(super) fn open_deploy_wizard(&mut self) -> Vec<Command> {
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
    pub(super) fn open_canary_wizard(&mut self) -> Vec<Command> {
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
    pub(super) fn open_drill_wizard(&mut self) -> Vec<Command> {
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
    pub(super) fn wizard_act(&mut self, action: Action) -> Option<Vec<Command>> {
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
    pub(super) fn wizard_effect(&mut self, effect: Effect) -> Vec<Command> {
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

    pub(super) fn close_wizard(&mut self) -> Vec<Command> {
        self.wizard = None;
        self.screens.retain(|s| *s != Screen::Wizard);
        if self.screens.is_empty() {
            self.screens.push(Screen::Overview);
        }
        vec![Command::CloseWizard]
    }
}
