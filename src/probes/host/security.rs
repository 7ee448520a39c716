//! The host's own security settings from the round's output: sshd's effective
//! configuration, fail2ban and its sshd jail, unattended upgrades. Each becomes a
//! finding, `unknown` when the host could not be asked.

use time::OffsetDateTime;

use super::script::{Remembered, RoundMemo};
use super::sections::{Part, Sections, excerpt, failed, key_of, unattended};
use super::{Fail2banState, UpdatesState};
use crate::probes::Severity;
use crate::probes::posture::Finding;
use crate::sanitize;

/// `sshd`'s own default; more lets a guesser try more passwords per connection.
pub const MAX_AUTH_TRIES: u32 = 6;

/// The host's own posture findings: sshd, fail2ban, unattended upgrades.
pub(super) fn posture(
    sections: &Sections,
    updates: &UpdatesState,
    now: OffsetDateTime,
    memo: &mut RoundMemo,
) -> Vec<Finding> {
    let mut findings = sshd(sections);
    findings.extend(fail2ban_finding(fail2ban(sections, now, memo)));
    match (updates.unattended_upgrades, unattended(sections)) {
        (Some(true), _) => {}
        (Some(false), _) => findings.push(Finding::new(
            "unattended_upgrades",
            None,
            Severity::Warning,
            "unattended upgrades are not enabled",
            "install unattended-upgrades and set APT::Periodic::Unattended-Upgrade \"1\" (`dpkg-reconfigure unattended-upgrades`)",
        )),
        (None, result) => findings.push(Finding::new(
            "unattended_upgrades",
            None,
            Severity::Unknown,
            format!(
                "whether unattended upgrades are enabled cannot be told: {}",
                result.err().unwrap_or_default()
            ),
            "fleetdeck asks `apt-config`; other package managers are not asked",
        )),
    }
    findings
}

fn sshd(sections: &Sections) -> Vec<Finding> {
    let cannot_tell = |why: String| {
        vec![Finding::new(
            "sshd",
            None,
            Severity::Unknown,
            format!("sshd's settings cannot be read: {why}"),
            "let fleetdeck's user run `sshd -T` (root, or `sudo -n` without a password)",
        )]
    };
    let section = match sections.part("sshd") {
        Part::Printed(section) if section.ok() => section,
        Part::Printed(section) => return cannot_tell(format!("sshd -T: {}", failed(section))),
        Part::Absent => return cannot_tell("sshd is not installed".to_owned()),
        Part::Missing => return cannot_tell("the round did not print it".to_owned()),
    };
    let setting = |name: &str| {
        section.lines().find_map(|l| {
            let (key, value) = l.split_once(' ')?;
            (key == name).then(|| value.trim().to_ascii_lowercase())
        })
    };
    let root = setting("permitrootlogin");
    let password = setting("passwordauthentication");
    let keyboard = setting("kbdinteractiveauthentication")
        .or_else(|| setting("challengeresponseauthentication"));
    let tries = setting("maxauthtries");
    if root.is_none() && password.is_none() && keyboard.is_none() && tries.is_none() {
        return cannot_tell(format!(
            "sshd -T printed none of the settings read: {}",
            excerpt(&section.body)
        ));
    }
    let mut findings = Vec::new();
    if root.as_deref() == Some("yes") {
        findings.push(Finding::new(
            "sshd_root_login",
            None,
            Severity::Critical,
            "sshd lets root log in with a password (PermitRootLogin yes)",
            "set `PermitRootLogin prohibit-password` (or `no`) in /etc/ssh/sshd_config and reload sshd",
        ));
    }
    if password.as_deref() == Some("yes") {
        findings.push(Finding::new(
            "sshd_password_login",
            None,
            Severity::Critical,
            "sshd accepts password logins (PasswordAuthentication yes)",
            "set `PasswordAuthentication no` in /etc/ssh/sshd_config (keys only) and reload sshd",
        ));
    }
    if keyboard.as_deref() == Some("yes") {
        findings.push(Finding::new(
            "sshd_keyboard_interactive",
            None,
            Severity::Warning,
            "sshd accepts keyboard-interactive logins, which can ask for a password (KbdInteractiveAuthentication yes)",
            "set `KbdInteractiveAuthentication no` in /etc/ssh/sshd_config and reload sshd",
        ));
    }
    if let Some(n) = tries.as_deref().and_then(|t| t.parse::<u32>().ok())
        && n > MAX_AUTH_TRIES
    {
        findings.push(Finding::new(
            "sshd_max_auth_tries",
            None,
            Severity::Warning,
            format!("sshd allows {n} authentication attempts per connection (MaxAuthTries)"),
            format!(
                "set `MaxAuthTries {MAX_AUTH_TRIES}` (or fewer) in /etc/ssh/sshd_config and reload sshd"
            ),
        ));
    }
    findings
}

fn fail2ban(sections: &Sections, now: OffsetDateTime, memo: &mut RoundMemo) -> Fail2banState {
    let section = match sections.part("fail2ban") {
        Part::Printed(section) => section,
        Part::Absent => {
            memo.fail2ban = None;
            return Fail2banState::NotInstalled;
        }
        Part::Missing => {
            memo.fail2ban = None;
            return Fail2banState::CannotTell("the round did not print it".to_owned());
        }
    };
    let (key, unchanged) = key_of(section);
    if unchanged && section.ok() {
        return match (&memo.fail2ban, key) {
            (Some(remembered), Some(key)) if remembered.key == key => remembered.value.clone(),
            _ => Fail2banState::CannotTell(
                "the host said unchanged, but no earlier answer is at hand".to_owned(),
            ),
        };
    }
    let state = if section.ok() {
        let jails = section.lines().find_map(|l| {
            let (_, list) = l.split_once("Jail list:")?;
            Some(
                list.split(',')
                    .map(|j| sanitize::line(j.trim()))
                    .filter(|j| !j.is_empty())
                    .collect::<Vec<_>>(),
            )
        });
        match jails {
            Some(jails) => Fail2banState::Running { jails },
            None => Fail2banState::CannotTell(format!(
                "unexpected `fail2ban-client status` output: {}",
                excerpt(&section.body)
            )),
        }
    } else {
        let body = &section.body;
        let text = excerpt(body);
        if body.contains("sudo:")
            || body.contains("Permission denied")
            || body.contains("must be root")
        {
            Fail2banState::CannotTell(text)
        } else {
            Fail2banState::NotAnswering(failed(section))
        }
    };
    // A stopped server is remembered too: starting it writes a new pid, a new key.
    memo.fail2ban = match (&state, key) {
        (Fail2banState::Running { .. } | Fail2banState::NotAnswering(_), Some(key)) => {
            Some(Remembered {
                key,
                value: state.clone(),
                at: now,
            })
        }
        _ => None,
    };
    state
}

/// Whether one of `jails` guards sshd (`sshd`, `ssh`, or a variant such as
/// `sshd-ddos`).
fn guards_sshd(jails: &[String]) -> bool {
    jails
        .iter()
        .any(|j| j == "ssh" || j == "sshd" || j.starts_with("sshd-") || j.starts_with("sshd_"))
}

fn fail2ban_finding(state: Fail2banState) -> Option<Finding> {
    let fix = "install fail2ban and enable its sshd jail ([sshd] enabled = true), then start it";
    match state {
        Fail2banState::Running { jails } if guards_sshd(&jails) => None,
        Fail2banState::Running { jails } => Some(Finding::new(
            "fail2ban",
            None,
            Severity::Warning,
            format!(
                "fail2ban runs without an sshd jail (jails: {})",
                if jails.is_empty() {
                    "none".to_owned()
                } else {
                    jails.join(", ")
                }
            ),
            "enable the sshd jail ([sshd] enabled = true in /etc/fail2ban/jail.local) and reload fail2ban",
        )),
        Fail2banState::NotAnswering(why) => Some(Finding::new(
            "fail2ban",
            None,
            Severity::Warning,
            format!("fail2ban is installed but its server does not answer: {why}"),
            "start fail2ban (`systemctl enable --now fail2ban`) and look at its log for why it stopped",
        )),
        Fail2banState::NotInstalled => Some(Finding::new(
            "fail2ban",
            None,
            Severity::Unknown,
            "fail2ban is not installed",
            fix,
        )),
        Fail2banState::CannotTell(why) => Some(Finding::new(
            "fail2ban",
            None,
            Severity::Unknown,
            format!("fail2ban cannot be asked: {why}"),
            "let fleetdeck's user run `fail2ban-client status` (root, or `sudo -n`)",
        )),
    }
}
