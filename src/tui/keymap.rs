//! Keymaps: per-view sections of key chords bound to [`Action`]s, each with the
//! description the help overlay shows. Embedded keymaps (`keymaps/*.yaml`) are the
//! defaults; a user file in `$XDG_CONFIG_HOME/fleetdeck/keymaps/` extends one of them
//! section by section (see `docs/console.md`, "Keymaps").
//!
//! Keys are compared in one normalised form ([`Key`]), so a binding written `N`
//! matches what crossterm reports for Shift+n, and `shift-tab` matches `BackTab`.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::{Action, View};
use super::config_file::{
    ConfigFileError, Kind, Source, did_you_mean, extends_name, key_text, parse_yaml, top_map,
    yaml_type,
};
use crate::inventory::yaml::{Mark, Node, Value};

/// One key press, normalised: an uppercase letter always carries SHIFT and a letter
/// with SHIFT is always uppercase; symbols never carry SHIFT (`?` is `?` however the
/// terminal reports it); Shift+Tab is `BackTab` without SHIFT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

/// Modifier prefixes in the order `Display` writes them.
const MODIFIERS: [(&str, KeyModifiers); 6] = [
    ("ctrl", KeyModifiers::CONTROL),
    ("alt", KeyModifiers::ALT),
    ("super", KeyModifiers::SUPER),
    ("hyper", KeyModifiers::HYPER),
    ("meta", KeyModifiers::META),
    ("shift", KeyModifiers::SHIFT),
];

/// Named keys: the spelling `Display` uses first, then accepted aliases.
const NAMED_KEYS: [(&str, KeyCode); 25] = [
    ("enter", KeyCode::Enter),
    ("return", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("escape", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("backspace", KeyCode::Backspace),
    ("bs", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("del", KeyCode::Delete),
    ("insert", KeyCode::Insert),
    ("ins", KeyCode::Insert),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pageup", KeyCode::PageUp),
    ("pgup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("pgdn", KeyCode::PageDown),
    ("pgdown", KeyCode::PageDown),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("space", KeyCode::Char(' ')),
    ("minus", KeyCode::Char('-')),
];

impl Key {
    /// A key from a code and modifiers, normalised (see [`Key`]).
    pub fn new(code: KeyCode, modifiers: KeyModifiers) -> Key {
        let mut modifiers = modifiers;
        let code = match code {
            KeyCode::Tab if modifiers.contains(KeyModifiers::SHIFT) => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::BackTab => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::Char(c) if c.is_uppercase() => {
                modifiers.insert(KeyModifiers::SHIFT);
                KeyCode::Char(c)
            }
            KeyCode::Char(c) if modifiers.contains(KeyModifiers::SHIFT) => match single_upper(c) {
                Some(u) => KeyCode::Char(u),
                None => {
                    modifiers.remove(KeyModifiers::SHIFT);
                    KeyCode::Char(c)
                }
            },
            other => other,
        };
        Key { code, modifiers }
    }

    /// Parses one key as keymap files write it: optional modifiers (`ctrl-`, `alt-`,
    /// `shift-`, `super-`), then one character (`j`, `G`, `/`, `?`) or a key name
    /// (`enter`, `esc`, `tab`, `shift-tab`, `space`, `pageup`, `f5`, …). Modifiers and
    /// names are case-insensitive; a single character is not (`G` is Shift+g).
    pub fn parse(text: &str) -> Result<Key, String> {
        if text.is_empty() {
            return Err("empty key".into());
        }
        let mut rest = text;
        let mut modifiers = KeyModifiers::NONE;
        'prefixes: loop {
            for (name, m) in MODIFIERS {
                let n = name.len();
                // `-` alone and `ctrl--` are the minus key, so a prefix needs a key after it.
                if rest.len() > n + 1
                    && rest.is_char_boundary(n + 1)
                    && rest[..n].eq_ignore_ascii_case(name)
                    && rest.as_bytes()[n] == b'-'
                {
                    if modifiers.contains(m) {
                        return Err(format!("{text:?}: {name}- is given twice"));
                    }
                    modifiers |= m;
                    rest = &rest[n + 1..];
                    continue 'prefixes;
                }
            }
            break;
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(c),
            _ => named_key(rest).ok_or_else(|| unknown_key(text, rest))?,
        };
        if modifiers.contains(KeyModifiers::SHIFT)
            && let KeyCode::Char(c) = code
            && !c.is_uppercase()
            && single_upper(c).is_none()
        {
            // The terminal reports the shifted symbol itself; `shift-/` would never match.
            return Err(format!(
                "{text:?}: shift- only goes with letters and named keys; write the character \
                 Shift produces instead (`?` rather than `shift-/`)"
            ));
        }
        Ok(Key::new(code, modifiers))
    }

    /// Whether a terminal event is this key (its kind — press, repeat, release — is
    /// the caller's to filter).
    pub fn matches(&self, event: &KeyEvent) -> bool {
        Key::from(*event) == *self
    }
}

fn single_upper(c: char) -> Option<char> {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) if u != c => Some(u),
        _ => None,
    }
}

fn named_key(name: &str) -> Option<KeyCode> {
    let lower = name.to_ascii_lowercase();
    if let Some((_, code)) = NAMED_KEYS.iter().find(|(n, _)| *n == lower) {
        return Some(*code);
    }
    let n: u8 = lower.strip_prefix('f')?.parse().ok()?;
    (1..=24).contains(&n).then_some(KeyCode::F(n))
}

fn unknown_key(text: &str, name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let hint = if lower.contains('+') {
        " (modifiers are joined with `-`: ctrl-c)".to_string()
    } else {
        did_you_mean(&lower, NAMED_KEYS.iter().map(|(n, _)| *n))
    };
    format!(
        "{text:?} is not a key{hint}: write one character, or a name such as enter, esc, \
         tab, shift-tab, space, backspace, delete, insert, home, end, pageup, pagedown, \
         up, down, left, right, f1-f24, after optional ctrl-, alt-, shift-"
    )
}

impl From<KeyEvent> for Key {
    fn from(event: KeyEvent) -> Key {
        Key::new(event.code, event.modifiers)
    }
}

impl FromStr for Key {
    type Err = String;
    fn from_str(s: &str) -> Result<Key, String> {
        Key::parse(s)
    }
}

impl fmt::Display for Key {
    /// The canonical spelling, which [`Key::parse`] reads back: `ctrl-c`, `G`,
    /// `shift-tab`, `space`, `f5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, m) in MODIFIERS {
            let implied = m == KeyModifiers::SHIFT
                && matches!(self.code, KeyCode::Char(_) | KeyCode::BackTab);
            if self.modifiers.contains(m) && !implied {
                write!(f, "{name}-")?;
            }
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::F(n) => write!(f, "f{n}"),
            code => match NAMED_KEYS.iter().find(|(_, c)| *c == code) {
                Some((name, _)) => f.write_str(name),
                // Only terminal events get here (caps lock, media keys): never parsed.
                None => write!(f, "{}", format!("{code:?}").to_ascii_lowercase()),
            },
        }
    }
}

/// A sequence of keys pressed one after another: `g g`, or one key alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Chord(Vec<Key>);

impl Chord {
    pub fn keys(&self) -> &[Key] {
        &self.0
    }

    /// Parses keys separated by spaces (`g g`, `ctrl-w h`).
    pub fn parse(text: &str) -> Result<Chord, String> {
        let keys = text
            .split_whitespace()
            .map(Key::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err("empty key; write a key such as \"j\" or \"ctrl-c\"".into());
        }
        Ok(Chord(keys))
    }

    /// Whether one of the two chords begins with the other (equal chords included):
    /// in one section, the shorter would always fire first.
    fn overlaps(&self, other: &Chord) -> bool {
        self.0.starts_with(&other.0) || other.0.starts_with(&self.0)
    }
}

impl FromStr for Chord {
    type Err = String;
    fn from_str(s: &str) -> Result<Chord, String> {
        Chord::parse(s)
    }
}

impl fmt::Display for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, k) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

/// One line of a keymap section: its chords (alternatives), the action, and what the
/// help overlay says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub chords: Vec<Chord>,
    pub action: Action,
    pub desc: String,
}

/// One row of the help overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpEntry {
    /// The binding's chords, `, `-separated (`j, down`).
    pub keys: String,
    pub action: Action,
    pub desc: String,
}

/// What a key press means given the keys already pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// A chord completed.
    Action(Action),
    /// The keys so far begin a longer chord: keep them and wait for the next key.
    Pending,
    /// Nothing is bound to these keys: drop the pending ones.
    Unbound,
}

/// The keymaps embedded in the binary, by name.
pub const BUILTIN_KEYMAPS: &[(&str, &str)] = &[
    ("default", include_str!("../../keymaps/default.yaml")),
    ("arrows", include_str!("../../keymaps/arrows.yaml")),
];

/// The keymap used when none is named.
pub const DEFAULT_KEYMAP: &str = "default";

/// Keymap files: `keymaps/` in the configuration directory, then the embedded ones.
const KEYMAPS: Kind = Kind {
    dir: "keymaps",
    builtins: BUILTIN_KEYMAPS,
    default: DEFAULT_KEYMAP,
};

/// Bindings for every view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    name: String,
    sections: [Vec<Binding>; View::ALL.len()],
}

impl Default for Keymap {
    /// The embedded default keymap. Its file is checked by tests; were it ever broken
    /// the console would start with no bindings rather than not at all.
    fn default() -> Keymap {
        builtin(DEFAULT_KEYMAP).unwrap_or_else(|_| Keymap::empty(DEFAULT_KEYMAP))
    }
}

impl Keymap {
    /// Loads the keymap to use. `name_or_path`: `None` for `default`; a name is looked
    /// up as `config_dir/keymaps/NAME.yaml`, then among the embedded keymaps; a path
    /// (containing `/` or ending in `.yaml`) is read as given.
    ///
    /// A user file extends a base keymap section by section — the embedded keymap of
    /// the same name, or `default`, or what its `extends:` names (`none`: start
    /// empty). Its bindings win: a base binding in the same section whose chord equals,
    /// begins or extends a user chord is dropped. `action: none` only unbinds.
    pub fn load(name_or_path: Option<&str>, config_dir: &Path) -> Result<Keymap, ConfigFileError> {
        let file = KEYMAPS.load(name_or_path.unwrap_or(DEFAULT_KEYMAP), config_dir)?;
        parse_keymap(&file.source, &file.name, file.base)
    }

    /// A keymap from YAML text, read as a user file given by path: extending
    /// `default`, or what its `extends:` names. `path` is what errors name.
    pub fn parse(text: &str, path: &Path) -> Result<Keymap, ConfigFileError> {
        let file = KEYMAPS.given(text, path);
        parse_keymap(&file.source, &file.name, file.base)
    }

    /// The keymap's name: its file name without extension.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bindings of one section, in file order (a user file's after the base's).
    pub fn bindings(&self, view: View) -> &[Binding] {
        &self.sections[view as usize]
    }

    /// What `pending` followed by `next` means in `view`: the view's own section
    /// first, then `global`. A view binding therefore shadows a global one with the
    /// same chord — or one it begins or extends.
    pub fn resolve(&self, view: View, pending: &[Key], next: Key) -> Resolution {
        let mut keys = pending.to_vec();
        keys.push(next);
        for section in self.lookup_order(view) {
            let mut longer = false;
            for binding in self.bindings(section) {
                for chord in &binding.chords {
                    if chord.0 == keys {
                        return Resolution::Action(binding.action);
                    }
                    longer |= chord.0.starts_with(&keys);
                }
            }
            if longer {
                return Resolution::Pending;
            }
        }
        Resolution::Unbound
    }

    /// The help overlay for `view`: its own bindings, then the global ones it does not
    /// shadow (a global chord the view overrides is left out, since it would not do
    /// what the line says).
    pub fn help(&self, view: View) -> Vec<HelpEntry> {
        self.reachable(view)
            .map(|(b, chords)| HelpEntry {
                keys: chords
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                action: b.action,
                desc: b.desc.clone(),
            })
            .collect()
    }

    /// The chords that trigger `action` in `view` (its section first, then global), as
    /// the help overlay writes them — for hints such as "? help" in the status bar.
    pub fn keys_for(&self, view: View, action: Action) -> Vec<String> {
        self.reachable(view)
            .filter(|(b, _)| b.action == action)
            .flat_map(|(_, chords)| chords.into_iter().map(ToString::to_string))
            .collect()
    }

    /// The bindings that could complete `pending` in `view`: what to show while a
    /// chord is half typed (`g` → `g g first host`).
    pub fn continuations(&self, view: View, pending: &[Key]) -> Vec<HelpEntry> {
        self.reachable(view)
            .filter_map(|(b, chords)| {
                let next: Vec<String> = chords
                    .iter()
                    .filter(|c| c.0.len() > pending.len() && c.0.starts_with(pending))
                    .map(ToString::to_string)
                    .collect();
                (!next.is_empty()).then(|| HelpEntry {
                    keys: next.join(", "),
                    action: b.action,
                    desc: b.desc.clone(),
                })
            })
            .collect()
    }

    fn lookup_order(&self, view: View) -> impl Iterator<Item = View> {
        std::iter::once(view).chain((view != View::Global).then_some(View::Global))
    }

    /// Every binding usable in `view` with its chords that can actually fire there.
    fn reachable(&self, view: View) -> impl Iterator<Item = (&Binding, Vec<&Chord>)> {
        let own = self.bindings(view);
        self.lookup_order(view).flat_map(move |section| {
            self.bindings(section).iter().filter_map(move |b| {
                let chords: Vec<&Chord> = b
                    .chords
                    .iter()
                    .filter(|c| {
                        section == view
                            || !own.iter().flat_map(|o| &o.chords).any(|o| o.overlaps(c))
                    })
                    .collect();
                (!chords.is_empty()).then_some((b, chords))
            })
        })
    }

    fn empty(name: &str) -> Keymap {
        Keymap {
            name: name.to_string(),
            sections: Default::default(),
        }
    }
}

fn builtin(name: &str) -> Result<Keymap, ConfigFileError> {
    parse_keymap(&KEYMAPS.builtin(name), name, None)
}

const BINDING_FIELDS: [&str; 3] = ["keys", "action", "desc"];

/// A chord as written in a file, remembered for conflict messages.
struct Seen {
    chord: Chord,
    mark: Mark,
    action: Option<Action>,
}

/// Reads a keymap file. An embedded one stands alone; a user file's sections are
/// applied over `implicit_base`, or over what its `extends:` names.
fn parse_keymap(
    source: &Source,
    name: &str,
    implicit_base: Option<&str>,
) -> Result<Keymap, ConfigFileError> {
    let doc = parse_yaml(source)?;
    let pairs = top_map(source, &doc, "sections to bindings")?;
    let mut base = implicit_base;
    if !source.builtin
        && let Some((_, v)) = pairs.iter().find(|(k, _)| k.as_str() == Some("extends"))
    {
        base = extends_name(source, v, BUILTIN_KEYMAPS)?;
    }
    let mut keymap = match base {
        Some(b) => builtin(b)?,
        None => Keymap::empty(name),
    };
    keymap.name = name.to_string();
    for (k, v) in pairs {
        let key = key_text(source, k)?;
        if key == "extends" && !source.builtin {
            continue;
        }
        let Some(view) = View::from_name(key) else {
            let names = View::ALL.iter().map(|v| v.as_str());
            return Err(ConfigFileError::at(
                &source.path,
                k.mark,
                format!(
                    "unknown section {key:?}{}; sections are {}{}",
                    did_you_mean(key, names.clone()),
                    names.collect::<Vec<_>>().join(", "),
                    if source.builtin {
                        ""
                    } else {
                        ", and `extends`"
                    }
                ),
            ));
        };
        let (bindings, unbound) = parse_section(source, view, v)?;
        let section = &mut keymap.sections[view as usize];
        let user_chords: Vec<&Chord> = bindings
            .iter()
            .flat_map(|b| &b.chords)
            .chain(unbound.iter())
            .collect();
        for b in section.iter_mut() {
            b.chords
                .retain(|c| !user_chords.iter().any(|u| u.overlaps(c)));
        }
        section.retain(|b| !b.chords.is_empty());
        section.extend(bindings);
    }
    Ok(keymap)
}

/// One section: its bindings, and the chords `action: none` unbinds. Conflicts inside
/// the section are errors at the later binding.
fn parse_section(
    source: &Source,
    view: View,
    node: &Node,
) -> Result<(Vec<Binding>, Vec<Chord>), ConfigFileError> {
    let err = |mark: Mark, msg: String| ConfigFileError::at(&source.path, mark, msg);
    let section = view.as_str();
    let items = match &node.value {
        Value::Seq(items) => items.as_slice(),
        Value::Null => &[],
        _ => {
            return Err(err(
                node.mark,
                format!(
                    "{section}: expected a list of bindings ({{ keys: \"j\", action: down, desc: \"…\" }}), found a {}",
                    yaml_type(node)
                ),
            ));
        }
    };
    let mut seen: Vec<Seen> = Vec::new();
    let mut bindings = Vec::new();
    let mut unbound = Vec::new();
    for item in items {
        let Some(fields) = item.as_map() else {
            return Err(err(
                item.mark,
                format!(
                    "{section}: expected a binding ({{ keys: \"j\", action: down, desc: \"…\" }}), found a {}",
                    yaml_type(item)
                ),
            ));
        };
        let mut keys = None;
        let mut action = None;
        let mut desc = None;
        for (k, v) in fields {
            let field = key_text(source, k)?;
            if v.is_null() && field != "desc" {
                // An empty value's position is wherever the next token starts; its
                // key is where the mistake is.
                return Err(err(
                    k.mark,
                    format!(
                        "{section}: {field}: no value; quote keys that YAML treats specially (\"?\", \"#\", \"*\")"
                    ),
                ));
            }
            match field {
                "keys" => keys = Some(v),
                "action" => action = Some(v),
                "desc" => desc = Some(v),
                other => {
                    return Err(err(
                        k.mark,
                        format!(
                            "{section}: unknown field {other:?}{}; a binding has keys, action and desc",
                            did_you_mean(other, BINDING_FIELDS)
                        ),
                    ));
                }
            }
        }
        let Some(keys) = keys else {
            return Err(err(
                item.mark,
                format!("{section}: this binding has no `keys`"),
            ));
        };
        let Some(action_node) = action else {
            return Err(err(
                item.mark,
                format!("{section}: this binding has no `action`"),
            ));
        };
        let action = parse_action(source, section, action_node)?;
        let desc = match desc {
            None => action.map_or_else(String::new, |a| a.name().replace('_', " ")),
            Some(d) => d
                .as_str()
                .ok_or_else(|| {
                    err(
                        d.mark,
                        format!("{section}: desc: expected text, found a {}", yaml_type(d)),
                    )
                })?
                .to_string(),
        };
        let key_nodes: Vec<&Node> = match &keys.value {
            Value::Seq(list) if !list.is_empty() => list.iter().collect(),
            Value::Seq(_) => {
                return Err(err(
                    keys.mark,
                    format!("{section}: keys: the list is empty"),
                ));
            }
            _ => vec![keys],
        };
        let mut chords = Vec::new();
        for key_node in key_nodes {
            let chord = parse_chord_node(source, section, key_node)?;
            if let Some(other) = seen.iter().find(|s| s.chord.overlaps(&chord)) {
                let what = |a: Option<Action>| a.map_or("none", Action::name);
                let message = if other.chord == chord {
                    format!(
                        "{section}: {:?} is bound twice: to {} here and to {} at line {}",
                        chord.to_string(),
                        what(action),
                        what(other.action),
                        other.mark.line
                    )
                } else {
                    let here = (chord.to_string(), key_node.mark.line);
                    let there = (other.chord.to_string(), other.mark.line);
                    let (short, long) = if chord.0.len() < other.chord.0.len() {
                        (here, there)
                    } else {
                        (there, here)
                    };
                    format!(
                        "{section}: {:?} (line {}) begins {:?} (line {}), so the longer chord \
                         could never fire; bind one of them differently",
                        short.0, short.1, long.0, long.1
                    )
                };
                return Err(err(key_node.mark, message));
            }
            seen.push(Seen {
                chord: chord.clone(),
                mark: key_node.mark,
                action,
            });
            chords.push(chord);
        }
        match action {
            Some(action) => bindings.push(Binding {
                chords,
                action,
                desc,
            }),
            None => unbound.extend(chords),
        }
    }
    Ok((bindings, unbound))
}

/// An action name, or `none` (unbind).
fn parse_action(
    source: &Source,
    section: &str,
    node: &Node,
) -> Result<Option<Action>, ConfigFileError> {
    let Some(name) = node.as_str() else {
        return Err(ConfigFileError::at(
            &source.path,
            node.mark,
            format!(
                "{section}: action: expected a name, found a {}",
                yaml_type(node)
            ),
        ));
    };
    if name == "none" {
        return Ok(None);
    }
    Action::from_name(name).map(Some).ok_or_else(|| {
        ConfigFileError::at(
            &source.path,
            node.mark,
            format!(
                "{section}: unknown action {name:?}{}; see docs/console.md for the list",
                did_you_mean(name, Action::ALL.iter().map(|a| a.name()))
            ),
        )
    })
}

/// A chord from its YAML node. Numbers are keys too (`keys: 1`); booleans mean the
/// YAML 1.1 loader took `y`-like words for yes/no, so quoting is the fix.
fn parse_chord_node(source: &Source, section: &str, node: &Node) -> Result<Chord, ConfigFileError> {
    let text = match &node.value {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Null => {
            return Err(ConfigFileError::at(
                &source.path,
                node.mark,
                format!(
                    "{section}: keys: no value; quote keys that YAML treats specially (\"?\", \"#\", \"*\")"
                ),
            ));
        }
        _ => {
            return Err(ConfigFileError::at(
                &source.path,
                node.mark,
                format!(
                    "{section}: keys: expected a key in quotes, found a {}",
                    yaml_type(node)
                ),
            ));
        }
    };
    Chord::parse(&text)
        .map_err(|m| ConfigFileError::at(&source.path, node.mark, format!("{section}: {m}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Key {
        Key::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn keys_parse_to_what_crossterm_reports_and_print_back() {
        let cases = [
            ("ctrl-c", KeyCode::Char('c'), KeyModifiers::CONTROL),
            ("shift-tab", KeyCode::BackTab, KeyModifiers::NONE),
            ("G", KeyCode::Char('G'), KeyModifiers::SHIFT),
            ("f5", KeyCode::F(5), KeyModifiers::NONE),
            ("/", KeyCode::Char('/'), KeyModifiers::NONE),
            ("?", KeyCode::Char('?'), KeyModifiers::NONE),
            ("space", KeyCode::Char(' '), KeyModifiers::NONE),
            ("enter", KeyCode::Enter, KeyModifiers::NONE),
            ("-", KeyCode::Char('-'), KeyModifiers::NONE),
            ("alt--", KeyCode::Char('-'), KeyModifiers::ALT),
            ("shift-f3", KeyCode::F(3), KeyModifiers::SHIFT),
            (
                "ctrl-alt-delete",
                KeyCode::Delete,
                KeyModifiers::CONTROL | KeyModifiers::ALT,
            ),
        ];
        for (text, code, modifiers) in cases {
            let k = key(text);
            assert_eq!(k, Key { code, modifiers }, "{text}");
            assert_eq!(k.to_string(), text);
            assert_eq!(key(&k.to_string()), k);
        }
        // Other spellings of the same keys print canonically.
        assert_eq!(key("Ctrl-C").to_string(), "ctrl-C");
        assert_eq!(key("shift-n").to_string(), "N");
        assert_eq!(key("PgUp").to_string(), "pageup");
        assert_eq!(key("ESCAPE").to_string(), "esc");
        assert_eq!(key("backtab").to_string(), "shift-tab");
    }

    #[test]
    fn terminal_events_normalise_like_parsed_keys() {
        // crossterm: Shift+n is 'N' with SHIFT; some terminals drop SHIFT or report it
        // with the lowercase letter.
        for (code, m) in [
            (KeyCode::Char('N'), KeyModifiers::SHIFT),
            (KeyCode::Char('N'), KeyModifiers::NONE),
            (KeyCode::Char('n'), KeyModifiers::SHIFT),
        ] {
            assert_eq!(Key::from(KeyEvent::new(code, m)), key("N"));
        }
        assert!(key("shift-tab").matches(&KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)));
        assert!(key("shift-tab").matches(&KeyEvent::new(KeyCode::Tab, KeyModifiers::SHIFT)));
        assert!(key("?").matches(&KeyEvent::new(KeyCode::Char('?'), KeyModifiers::SHIFT)));
        assert!(!key("n").matches(&KeyEvent::new(KeyCode::Char('N'), KeyModifiers::SHIFT)));
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        for bad in [
            "",
            "ctrl-",
            "foo",
            "f0",
            "f25",
            "ctrl-ctrl-c",
            "shift-/",
            "ctrl+c",
        ] {
            assert!(Key::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(
            Key::parse("entr")
                .expect_err("typo")
                .contains("did you mean \"enter\"")
        );
        assert!(Key::parse("ctrl+c").expect_err("plus").contains("ctrl-c"));
        assert!(Chord::parse("  ").is_err());
        assert_eq!(
            Chord::parse("g  g").map(|c| c.to_string()),
            Ok("g g".into())
        );
    }

    #[test]
    fn action_names_agree_with_serde() {
        for a in Action::ALL {
            assert_eq!(
                serde_json::to_value(a).ok(),
                Some(serde_json::json!(a.name()))
            );
            assert_eq!(Action::from_name(a.name()), Some(a));
        }
        let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
        for v in View::ALL {
            assert_eq!(View::from_name(v.as_str()), Some(v));
        }
    }

    #[test]
    fn embedded_keymaps_parse() {
        for (name, _) in BUILTIN_KEYMAPS {
            builtin(name).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
