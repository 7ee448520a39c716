//! `App::update`: one message in, new state and the commands for the event loop out.

use super::{App, Command, Input, LOG_CAPACITY, Msg, STATS_SAMPLES, Screen, TIMELINE_CAPACITY};
use crate::fleet::model::HostEvent;
use crate::tui::action::View;
use crate::tui::keymap::{Key, Resolution};
use crate::wizard::{Effect, StepView};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use time::OffsetDateTime;

impl App {
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
            Msg::ExpectedApps(expected) => {
                let now = OffsetDateTime::now_utc();
                for (host, expected) in self.hosts.iter_mut().zip(expected) {
                    let changes = host.set_expected_apps(Some(expected));
                    self.timeline
                        .record(&host.name, changes, now, TIMELINE_CAPACITY);
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

    pub(super) fn on_fleet(&mut self, index: usize, event: HostEvent) {
        // Under an order that follows severity, the selection stays on its host.
        let moving = self.sort == super::SortKey::Severity || self.problems_first;
        let selected = if moving { self.selected_host() } else { None };
        let Some(host) = self.hosts.get_mut(index) else {
            return;
        };
        let changes = host.apply(event);
        self.timeline.record(
            &host.name,
            changes,
            OffsetDateTime::now_utc(),
            TIMELINE_CAPACITY,
        );
        self.keep_selection_on(selected);
        self.settle_launch_order();
    }

    pub(super) fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
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
        // The maintenance form's text takes every key but Enter and Esc.
        if let Some(commands) = self.on_maintenance_text_key(key) {
            return commands;
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
        let view = if self.confirm.is_some() || self.maintenance_confirming() {
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
                // Someone is reading: the launch decision no longer moves the rows.
                self.order_touched = true;
                self.act(action)
            }
        }
    }

    pub(super) fn editing_input(&mut self) -> Option<&mut Input> {
        if self.filter.editing {
            return Some(&mut self.filter);
        }
        if self.logs.search.editing {
            return Some(&mut self.logs.search);
        }
        None
    }
}
