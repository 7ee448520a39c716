//! The round's output split into its marked parts, and what every part's reader
//! shares: a section that must be there, its failure, its key, quoted text.

use std::collections::BTreeMap;

use super::script::valid_key;
use crate::sanitize;

/// One part as the host printed it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Section {
    pub body: String,
    /// The part's exit status; `None` when it printed none (cut short).
    pub exit: Option<i64>,
}

impl Section {
    pub fn ok(&self) -> bool {
        self.exit == Some(0)
    }

    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.body
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
    }
}

/// What a part came to: printed, or its tool is not on the host.
#[derive(Debug, Clone, PartialEq)]
pub enum Part<'a> {
    Printed(&'a Section),
    Absent,
    /// Neither: the round ended before it (or an older script without it).
    Missing,
}

#[derive(Debug, Default)]
pub struct Sections {
    printed: BTreeMap<String, Section>,
    absent: Vec<String>,
}

impl Sections {
    pub fn part(&self, name: &str) -> Part<'_> {
        match self.printed.get(name) {
            Some(section) => Part::Printed(section),
            None if self.absent.iter().any(|a| a == name) => Part::Absent,
            None => Part::Missing,
        }
    }
}

pub const HEADER: &str = "@@fleetdeck-host 1";

/// Splits the round's stdout; an error when the header or the end marker is missing
/// (the round did not run, or was cut short).
pub fn split(text: &str) -> Result<Sections, String> {
    let mut lines = text.lines();
    if !lines.by_ref().any(|l| l.trim_end() == HEADER) {
        return Err("the host round printed no header".to_owned());
    }
    let mut sections = Sections::default();
    let mut current: Option<String> = None;
    for line in lines {
        if let Some(name) = line.strip_prefix("@@section ") {
            let name = name.trim().to_owned();
            sections.printed.insert(name.clone(), Section::default());
            current = Some(name);
        } else if let Some(name) = line.strip_prefix("@@absent ") {
            sections.absent.push(name.trim().to_owned());
            current = None;
        } else if let Some(code) = line.strip_prefix("@@exit ") {
            if let Some(section) = current.as_ref().and_then(|n| sections.printed.get_mut(n)) {
                section.exit = code.trim().parse().ok();
            }
            current = None;
        } else if line.trim_end() == "@@end" {
            return Ok(sections);
        } else if let Some(section) = current.as_ref().and_then(|n| sections.printed.get_mut(n)) {
            section.body.push_str(line);
            section.body.push('\n');
        }
    }
    Err("the host round's output was cut short (no end marker)".to_owned())
}

/// The most of a tool's text a reason quotes.
const MAX_TEXT_CHARS: usize = 300;

/// `text` on one line, sanitized, at most `MAX_TEXT_CHARS` characters.
pub fn excerpt(text: &str) -> String {
    sanitize::head(sanitize::joined(text), MAX_TEXT_CHARS)
}

/// A part that printed and succeeded, or why not.
pub fn printed<'a>(sections: &'a Sections, name: &str) -> Result<&'a Section, String> {
    match sections.part(name) {
        Part::Printed(section) if section.ok() => Ok(section),
        Part::Printed(section) => Err(failed(section)),
        Part::Absent => Err("the tool is not installed".to_owned()),
        Part::Missing => Err("the round did not print it".to_owned()),
    }
}

pub fn failed(section: &Section) -> String {
    let exit = section
        .exit
        .map(|c| format!("exit {c}"))
        .unwrap_or_else(|| "no exit status".to_owned());
    let text = excerpt(&section.body);
    if text.is_empty() {
        exit
    } else {
        format!("{text} ({exit})")
    }
}

/// The part's `key` line and whether it said `unchanged`.
pub fn key_of(section: &Section) -> (Option<String>, bool) {
    let key = section
        .lines()
        .find_map(|l| l.strip_prefix("key"))
        .map(str::trim)
        .filter(|k| valid_key(k))
        .map(str::to_owned);
    let unchanged = section.lines().any(|l| l == "unchanged");
    (key, unchanged)
}

/// Enabled when apt's periodic setting asks for it (a non-zero interval) and the
/// program that does it is installed.
pub fn unattended(sections: &Sections) -> Result<bool, String> {
    let section = printed(sections, "unattended")?;
    let setting = section.lines().find_map(|l| {
        let value = l.strip_prefix("APT::Periodic::Unattended-Upgrade ")?;
        Some(
            value
                .trim()
                .trim_end_matches(';')
                .trim_matches('"')
                .to_owned(),
        )
    });
    let program = section.lines().any(|l| l == "program present");
    Ok(program && setting.is_some_and(|v| !v.is_empty() && v != "0"))
}
