//! The maintenance key: on a host without a window it asks how long and why, then
//! for confirmation; on a host in maintenance it asks to end the window. The change
//! itself is a [`Command::Maintenance`] the event loop runs through the core.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use time::OffsetDateTime;

use super::{App, Command, Refusal, Screen};
use crate::core::maintenance::{self, MaintenanceChange, length_text};
use crate::tui::action::Action;

/// The length the form starts with.
pub const DEFAULT_LENGTH: &str = "2h";

/// Where the maintenance form is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaintenanceStep {
    /// Typing the window's length (`2h`, `45m`).
    Length,
    /// Typing the reason.
    Reason,
    /// Waiting for yes or no to this change.
    Confirm(MaintenanceChange),
}

/// The open maintenance form, about one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceForm {
    pub host: usize,
    pub host_name: String,
    pub step: MaintenanceStep,
    pub length: String,
    pub reason: String,
    /// Why the last Enter did not go on (a bad length or reason).
    pub error: Option<String>,
}

impl MaintenanceForm {
    /// The question for the confirmation step.
    pub fn title(&self) -> String {
        match &self.step {
            MaintenanceStep::Confirm(MaintenanceChange::End) => {
                format!("End maintenance on {}?", self.host_name)
            }
            _ => format!("Start maintenance on {}?", self.host_name),
        }
    }

    /// What the confirmation will do.
    pub fn describe(&self) -> String {
        match &self.step {
            MaintenanceStep::Confirm(MaintenanceChange::Start { length, reason }) => format!(
                "For {}: its problems are shown as silenced, left out of exit codes and \
                 notifications, for every operator, until the window ends by itself. \
                 Reason: {reason}. Recorded in the audit logs.",
                length_text(*length)
            ),
            MaintenanceStep::Confirm(MaintenanceChange::End) => {
                "Its window is removed from the host: its problems count again for every \
                 operator. Recorded in the audit logs."
                    .to_owned()
            }
            _ => String::new(),
        }
    }
}

impl App {
    /// The key on the selected host (overview) or the open host: a form to start a
    /// window, or the question to end the one it has. Refused on a read-only host.
    pub(super) fn open_maintenance(&mut self, now: OffsetDateTime) -> Vec<Command> {
        let host = match self.screen() {
            Screen::Overview => self.selected_host(),
            _ => self.current_host(),
        };
        let Some((host, state)) = host.and_then(|h| self.hosts.get(h).map(|s| (h, s))) else {
            return Vec::new();
        };
        let host_name = state.name.clone();
        if self.is_read_only(Some(host)) {
            self.notice = Some(format!(
                "{host_name} is read-only (fleetdeck_read_only): no changes can be made"
            ));
            return vec![Command::RecordRefusals(vec![Refusal {
                host: host_name,
                action: "maintenance".to_owned(),
                target: "maintenance window".to_owned(),
                why: crate::core::HOST_READ_ONLY_WHY.to_owned(),
            }])];
        }
        let step = if state.in_maintenance(now).is_some() {
            MaintenanceStep::Confirm(MaintenanceChange::End)
        } else {
            MaintenanceStep::Length
        };
        self.maintenance = Some(MaintenanceForm {
            host,
            host_name,
            step,
            length: DEFAULT_LENGTH.to_owned(),
            reason: String::new(),
            error: None,
        });
        Vec::new()
    }

    /// Whether the form waits for yes or no (the confirm keys apply).
    pub fn maintenance_confirming(&self) -> bool {
        self.maintenance
            .as_ref()
            .is_some_and(|f| matches!(f.step, MaintenanceStep::Confirm(_)))
    }

    /// A key while the form takes text: typing, Backspace, Enter (next), Esc
    /// (cancel). `None` when the form is not taking text.
    pub(super) fn on_maintenance_text_key(&mut self, key: KeyEvent) -> Option<Vec<Command>> {
        let form = self.maintenance.as_mut()?;
        let field = match form.step {
            MaintenanceStep::Length => &mut form.length,
            MaintenanceStep::Reason => &mut form.reason,
            MaintenanceStep::Confirm(_) => return None,
        };
        match key.code {
            KeyCode::Esc => {
                self.maintenance = None;
                self.notice = Some("cancelled".to_owned());
            }
            KeyCode::Backspace => {
                field.pop();
            }
            KeyCode::Char(c)
                if !key.modifiers.contains(KeyModifiers::CONTROL)
                    && field.chars().count() < maintenance::MAX_REASON_CHARS =>
            {
                field.push(c);
            }
            KeyCode::Enter => form.next(),
            _ => {}
        }
        Some(Vec::new())
    }

    /// The confirm keys while the form asks for yes or no.
    pub(super) fn maintenance_act(&mut self, action: Action) -> Vec<Command> {
        match action {
            Action::Confirm => {
                let Some(form) = self.maintenance.take() else {
                    return Vec::new();
                };
                let MaintenanceStep::Confirm(change) = form.step else {
                    return Vec::new();
                };
                self.notice = Some(match &change {
                    MaintenanceChange::Start { .. } => {
                        format!("starting maintenance on {}…", form.host_name)
                    }
                    MaintenanceChange::End => format!("ending maintenance on {}…", form.host_name),
                });
                vec![Command::Maintenance {
                    host: form.host,
                    change,
                }]
            }
            Action::Cancel | Action::Back => {
                self.maintenance = None;
                self.notice = Some("cancelled".to_owned());
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}

impl MaintenanceForm {
    /// Enter: the length checked, then the reason and the whole change.
    fn next(&mut self) {
        self.error = None;
        match self.step {
            MaintenanceStep::Length => match parse_length(&self.length) {
                Ok(_) => self.step = MaintenanceStep::Reason,
                Err(e) => self.error = Some(e),
            },
            MaintenanceStep::Reason => {
                let change = parse_length(&self.length)
                    .and_then(|length| MaintenanceChange::start(length, &self.reason));
                match change {
                    Ok(change) => self.step = MaintenanceStep::Confirm(change),
                    Err(e) => self.error = Some(e),
                }
            }
            MaintenanceStep::Confirm(_) => {}
        }
    }
}

/// A length as `--for` takes it, within the bounds a window may have.
fn parse_length(text: &str) -> Result<Duration, String> {
    let length = crate::stack::duration(text)?;
    maintenance::check_length(length)?;
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::model::{Expectations, HostEvent, HostState};
    use crate::probes::maintenance::Maintenance;
    use crate::tui::app::Msg;
    use crate::tui::keymap::Keymap;

    fn app(read_only: bool) -> App {
        let dir = tempfile::tempdir().expect("tempdir");
        let hosts = vec![
            HostState::new("alpha", Vec::new(), Expectations::default()),
            HostState::new("beta", Vec::new(), Expectations::default()),
        ];
        App::new(
            hosts,
            Keymap::load(None, dir.path()).expect("keymap"),
            read_only,
        )
    }

    fn press(app: &mut App, text: &str) -> Vec<Command> {
        let mut commands = Vec::new();
        for c in text.chars() {
            let code = match c {
                '\n' => KeyCode::Enter,
                '\u{1b}' => KeyCode::Esc,
                '\u{8}' => KeyCode::Backspace,
                c => KeyCode::Char(c),
            };
            let modifiers = if c.is_uppercase() {
                KeyModifiers::SHIFT
            } else {
                KeyModifiers::NONE
            };
            commands.extend(app.update(Msg::Key(KeyEvent::new(code, modifiers))));
        }
        commands
    }

    fn step(app: &App) -> Option<MaintenanceStep> {
        app.maintenance.as_ref().map(|f| f.step.clone())
    }

    #[test]
    fn the_report_key_asks_for_the_selected_hosts_report_even_in_read_only() {
        // Writing a local file changes no host: read-only does not refuse it.
        let mut app = app(true);
        app.overview_selected = 1;
        let commands = press(&mut app, "I");
        assert!(
            matches!(
                commands.as_slice(),
                [Command::WriteReport {
                    host: 1,
                    container: None
                }]
            ),
            "{commands:?}"
        );
        assert!(app.notice.as_deref().is_some_and(|n| n.contains("report")));
    }

    #[test]
    fn the_key_asks_how_long_and_why_then_confirms_a_start() {
        let mut app = app(false);
        assert!(press(&mut app, "M").is_empty());
        assert_eq!(step(&app), Some(MaintenanceStep::Length));
        assert_eq!(
            app.maintenance.as_ref().map(|f| f.length.as_str()),
            Some("2h")
        );
        // A length that is no window stays on the question, saying why.
        press(&mut app, "\u{8}\u{8}0s\n");
        assert_eq!(step(&app), Some(MaintenanceStep::Length));
        let error = app.maintenance.as_ref().and_then(|f| f.error.clone());
        assert!(error.is_some_and(|e| e.contains("more than zero")));
        press(&mut app, "\u{8}\u{8}45m\n");
        assert_eq!(step(&app), Some(MaintenanceStep::Reason));
        // Typed text is text: `q` and `M` do not quit or reopen.
        press(&mut app, "\n");
        assert_eq!(
            step(&app),
            Some(MaintenanceStep::Reason),
            "a reason is needed"
        );
        press(&mut app, "quick Mount fix\n");
        let change = MaintenanceChange::start(Duration::from_secs(45 * 60), "quick Mount fix")
            .expect("valid");
        assert_eq!(step(&app), Some(MaintenanceStep::Confirm(change.clone())));
        assert!(!app.should_quit);
        let commands = press(&mut app, "y");
        assert_eq!(commands, vec![Command::Maintenance { host: 0, change }]);
        assert!(app.maintenance.is_none());
    }

    #[test]
    fn on_a_host_in_maintenance_the_key_asks_to_end_it() {
        let mut app = app(false);
        let now = OffsetDateTime::now_utc();
        let window = Maintenance {
            by: "ops@laptop".into(),
            started_at: now - time::Duration::minutes(5),
            until: now + time::Duration::hours(1),
            reason: "disk swap".into(),
        };
        app.update(Msg::Fleet(1, HostEvent::Maintenance(Ok(Some(window)), now)));
        // The overview's second row is beta.
        press(&mut app, "jM");
        assert_eq!(
            step(&app),
            Some(MaintenanceStep::Confirm(MaintenanceChange::End))
        );
        assert!(press(&mut app, "n").is_empty(), "no is no");
        assert!(app.maintenance.is_none());
        assert_eq!(app.notice.as_deref(), Some("cancelled"));
        let commands = press(&mut app, "My");
        assert_eq!(
            commands,
            vec![Command::Maintenance {
                host: 1,
                change: MaintenanceChange::End
            }]
        );
        // Esc while typing cancels without a command.
        press(&mut app, "kM");
        assert_eq!(step(&app), Some(MaintenanceStep::Length));
        assert!(press(&mut app, "\u{1b}").is_empty());
        assert!(app.maintenance.is_none());
    }

    #[test]
    fn read_only_refuses_the_key_with_a_message_and_an_audit_line() {
        let mut app = app(true);
        let commands = press(&mut app, "M");
        assert!(app.maintenance.is_none());
        assert!(
            app.notice
                .as_deref()
                .is_some_and(|n| n.contains("read-only"))
        );
        assert!(
            matches!(&commands[..], [Command::RecordRefusals(r)] if r[0].host == "alpha"),
            "{commands:?}"
        );
        let mut app = self::app(false);
        app.host_read_only = vec![false, true];
        let commands = press(&mut app, "jM");
        assert!(app.maintenance.is_none());
        assert!(
            app.notice
                .as_deref()
                .is_some_and(|n| n.contains("beta is read-only"))
        );
        assert!(
            matches!(&commands[..], [Command::RecordRefusals(r)] if r[0].host == "beta"),
            "{commands:?}"
        );
    }
}
