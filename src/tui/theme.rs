//! Themes: components ask for a semantic [`Role`] (`critical`, `selection`, …) and
//! never name a colour, so a theme — `themes/*.yaml`, embedded, or a user file — can
//! recolour the whole console, and `NO_COLOR` can drop colour without losing meaning.
//! Theme files are found and read by the loader themes and keymaps share
//! (`config_file`); this module reads what they say.

use std::path::{Path, PathBuf};

use ratatui::style::{Color, Modifier, Style};

use super::config_file::{
    Kind, Source, did_you_mean, extends_name, key_text, parse_yaml, top_map, yaml_type,
};
use crate::inventory::yaml::{Mark, Node, Value};

pub use super::config_file::ConfigFileError;

/// fleetdeck's configuration directory, `$XDG_CONFIG_HOME/fleetdeck` (or
/// `~/.config/fleetdeck`): the `config_dir` that [`Theme::load`] and
/// `Keymap::load` look in for `themes/` and `keymaps/`.
pub fn default_config_dir() -> PathBuf {
    crate::paths::config_home().join("fleetdeck")
}

/// Whether the user asked for no colour: `NO_COLOR` set and not empty (no-color.org).
pub fn no_color_requested() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// What a piece of the screen means. Components style text by role; themes decide
/// what each role looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Healthy: reachable, containers healthy, fresh backups.
    Ok,
    /// Needs attention soon: a certificate expiring, a backup getting old.
    Warning,
    /// Broken now: an unhealthy container, an expired certificate, firewall drift.
    Critical,
    /// Not known: host unreachable, probe failed.
    Unknown,
    /// Secondary text: hints, units, empty cells.
    Muted,
    /// Something to catch the eye without meaning a state: key hints, counts.
    Accent,
    /// Ordinary text.
    Text,
    /// Pane and dialog titles.
    Title,
    /// Pane borders.
    Border,
    /// The selected row.
    Selection,
    /// A search match.
    Highlight,
    /// Table headers and the fleet header line.
    Header,
    /// Data older than it should be (a host that stopped reporting).
    Stale,
}

impl Role {
    pub const ALL: [Role; 13] = [
        Role::Ok,
        Role::Warning,
        Role::Critical,
        Role::Unknown,
        Role::Muted,
        Role::Accent,
        Role::Text,
        Role::Title,
        Role::Border,
        Role::Selection,
        Role::Highlight,
        Role::Header,
        Role::Stale,
    ];

    /// The name theme files use.
    pub fn name(self) -> &'static str {
        match self {
            Role::Ok => "ok",
            Role::Warning => "warning",
            Role::Critical => "critical",
            Role::Unknown => "unknown",
            Role::Muted => "muted",
            Role::Accent => "accent",
            Role::Text => "text",
            Role::Title => "title",
            Role::Border => "border",
            Role::Selection => "selection",
            Role::Highlight => "highlight",
            Role::Header => "header",
            Role::Stale => "stale",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The themes embedded in the binary, by name.
pub const BUILTIN_THEMES: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.yaml")),
    ("light", include_str!("../../themes/light.yaml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.yaml"),
    ),
    ("colorblind", include_str!("../../themes/colorblind.yaml")),
    ("no-color", include_str!("../../themes/no-color.yaml")),
];

/// Theme files: `themes/` in the configuration directory, then the embedded ones.
const THEMES: Kind = Kind {
    dir: "themes",
    builtins: BUILTIN_THEMES,
    default: DEFAULT_THEME,
};

/// The theme used when none is named.
pub const DEFAULT_THEME: &str = "dark";

/// The theme `NO_COLOR` selects; colours are stripped from it whatever it says.
pub const NO_COLOR_THEME: &str = "no-color";

/// A style for every [`Role`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    name: String,
    styles: [Style; Role::ALL.len()],
}

impl Default for Theme {
    /// The embedded dark theme. Its file is checked by tests; were it ever broken the
    /// console would still run, unstyled.
    fn default() -> Theme {
        builtin(DEFAULT_THEME).unwrap_or_else(|_| Theme::unstyled(DEFAULT_THEME))
    }
}

impl Theme {
    /// Loads the theme to use. `name_or_path`: `None` for the default (`dark`); a name
    /// is looked up as `config_dir/themes/NAME.yaml`, then among the embedded themes;
    /// a path (containing `/` or ending in `.yaml`) is read as given. A user file only
    /// needs the roles it changes: the rest come from the embedded theme of the same
    /// name, or `dark`, or what `extends:` names.
    ///
    /// `no_color` (see [`no_color_requested`]) still loads and checks the named theme
    /// — a mistake in it should not hide behind an environment variable — but returns
    /// the `no-color` theme with every colour removed: modifiers only.
    pub fn load(
        name_or_path: Option<&str>,
        config_dir: &Path,
        no_color: bool,
    ) -> Result<Theme, ConfigFileError> {
        let theme = load_named(name_or_path.unwrap_or(DEFAULT_THEME), config_dir)?;
        if !no_color {
            return Ok(theme);
        }
        Ok(load_named(NO_COLOR_THEME, config_dir)?.without_colours())
    }

    /// A theme from YAML text, read as a user file given by path: on top of `dark`,
    /// or what its `extends:` names. `path` is what errors name.
    pub fn parse(text: &str, path: &Path) -> Result<Theme, ConfigFileError> {
        let file = THEMES.given(text, path);
        parse_theme(&file.source, &file.name, file.base)
    }

    /// The theme's name: its file name without extension.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The style for a role.
    pub fn style(&self, role: Role) -> Style {
        self.styles[role.index()]
    }

    /// Every role with no style at all.
    fn unstyled(name: &str) -> Theme {
        Theme {
            name: name.to_string(),
            styles: [Style::new(); Role::ALL.len()],
        }
    }

    /// The same theme with foreground and background colours removed.
    fn without_colours(mut self) -> Theme {
        for s in &mut self.styles {
            s.fg = None;
            s.bg = None;
            s.underline_color = None;
        }
        self
    }
}

fn builtin(name: &str) -> Result<Theme, ConfigFileError> {
    parse_theme(&THEMES.builtin(name), name, None)
}

/// A user file sits on the embedded theme it is named after, or dark.
fn load_named(name_or_path: &str, config_dir: &Path) -> Result<Theme, ConfigFileError> {
    let file = THEMES.load(name_or_path, config_dir)?;
    parse_theme(&file.source, &file.name, file.base)
}

/// Reads a theme file. The embedded themes (`source.builtin`) are complete on their
/// own; a user file applies its roles over `implicit_base`, or over what its
/// `extends:` names.
fn parse_theme(
    source: &Source,
    name: &str,
    implicit_base: Option<&str>,
) -> Result<Theme, ConfigFileError> {
    let doc = parse_yaml(source)?;
    let pairs = top_map(source, &doc, "roles to styles")?;
    let mut base = implicit_base;
    if !source.builtin
        && let Some((_, v)) = pairs.iter().find(|(k, _)| k.as_str() == Some("extends"))
    {
        base = extends_name(source, v, BUILTIN_THEMES)?;
    }
    let mut theme = match base {
        Some(b) => builtin(b)?,
        None => Theme::unstyled(name),
    };
    theme.name = name.to_string();
    for (k, v) in pairs {
        let key = key_text(source, k)?;
        if key == "extends" && !source.builtin {
            continue;
        }
        let Some(role) = Role::from_name(key) else {
            let names = Role::ALL.iter().map(|r| r.name());
            return Err(ConfigFileError::at(
                &source.path,
                k.mark,
                format!(
                    "unknown role {key:?}{}; roles are {}{}",
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
        if v.is_null() {
            return Err(ConfigFileError::at(&source.path, k.mark, no_value(key)));
        }
        theme.styles[role.index()] = parse_style(source, key, v)?;
    }
    Ok(theme)
}

const STYLE_FIELDS: [&str; 3] = ["fg", "bg", "modifiers"];

/// A role's style: a colour alone (the foreground), or `{fg, bg, modifiers}`.
fn parse_style(source: &Source, role: &str, node: &Node) -> Result<Style, ConfigFileError> {
    let err = |mark: Mark, msg: String| ConfigFileError::at(&source.path, mark, msg);
    match &node.value {
        Value::Map(pairs) => {
            let mut style = Style::new();
            for (k, v) in pairs {
                let field = key_text(source, k)?;
                if v.is_null() {
                    // An empty value's position is wherever the next token starts
                    // (often the next line); its key is where the mistake is.
                    return Err(err(k.mark, no_value(&format!("{role}.{field}"))));
                }
                match field {
                    "fg" => style.fg = Some(parse_colour(source, &format!("{role}.fg"), v)?),
                    "bg" => style.bg = Some(parse_colour(source, &format!("{role}.bg"), v)?),
                    "modifiers" => {
                        style = style.add_modifier(parse_modifiers(source, role, v)?);
                    }
                    other => {
                        return Err(err(
                            k.mark,
                            format!(
                                "{role}: unknown field {other:?}{}; a style has fg, bg and modifiers",
                                did_you_mean(other, STYLE_FIELDS)
                            ),
                        ));
                    }
                }
            }
            Ok(style)
        }
        Value::Null => Err(err(node.mark, no_value(role))),
        _ => Ok(Style::new().fg(parse_colour(source, role, node)?)),
    }
}

fn no_value(field: &str) -> String {
    format!(
        "{field}: no value; write `{{}}` for no style, and quote #rrggbb colours \
         (\"#ff8800\"): YAML reads an unquoted # as the start of a comment"
    )
}

const COLOUR_NAMES: [(&str, Color); 18] = [
    ("reset", Color::Reset),
    ("default", Color::Reset),
    ("black", Color::Black),
    ("red", Color::Red),
    ("green", Color::Green),
    ("yellow", Color::Yellow),
    ("blue", Color::Blue),
    ("magenta", Color::Magenta),
    ("cyan", Color::Cyan),
    ("gray", Color::Gray),
    ("darkgray", Color::DarkGray),
    ("lightred", Color::LightRed),
    ("lightgreen", Color::LightGreen),
    ("lightyellow", Color::LightYellow),
    ("lightblue", Color::LightBlue),
    ("lightmagenta", Color::LightMagenta),
    ("lightcyan", Color::LightCyan),
    ("white", Color::White),
];

/// A colour: a name (`lightgreen`, `dark-gray`, `bright red`), `#rrggbb` (or `#rgb`),
/// or a 0–255 palette index.
pub fn parse_colour_str(text: &str) -> Result<Color, String> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix('#') {
        let digits: Vec<u8> = hex
            .chars()
            .map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok()))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("{text:?} is not a #rrggbb colour"))?;
        return match digits[..] {
            [r1, r2, g1, g2, b1, b2] => Ok(Color::Rgb(r1 * 16 + r2, g1 * 16 + g2, b1 * 16 + b2)),
            [r, g, b] => Ok(Color::Rgb(r * 17, g * 17, b * 17)),
            _ => Err(format!("{text:?} is not a #rrggbb colour")),
        };
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<u8>()
            .map(Color::Indexed)
            .map_err(|_| format!("palette index {t} is out of range (0-255)"));
    }
    let mut norm: String = t
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .collect::<String>()
        .to_ascii_lowercase()
        .replace("grey", "gray");
    if let Some(rest) = norm.strip_prefix("bright") {
        norm = format!("light{rest}");
    }
    COLOUR_NAMES
        .iter()
        .find(|(n, _)| *n == norm)
        .map(|(_, c)| *c)
        .ok_or_else(|| {
            format!(
                "unknown colour {text:?}{}; use a name ({}), \"#rrggbb\" or a 0-255 index",
                did_you_mean(&norm, COLOUR_NAMES.iter().map(|(n, _)| *n)),
                COLOUR_NAMES
                    .iter()
                    .skip(2)
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

fn parse_colour(source: &Source, field: &str, node: &Node) -> Result<Color, ConfigFileError> {
    let result = match &node.value {
        Value::Str(s) => parse_colour_str(s),
        Value::Int(i) => u8::try_from(*i)
            .map(Color::Indexed)
            .map_err(|_| format!("palette index {i} is out of range (0-255)")),
        Value::Null => Err(no_value(field)),
        _ => Err(format!("expected a colour, found a {}", yaml_type(node))),
    };
    result.map_err(|m| {
        let m = if m.starts_with(field) {
            m
        } else {
            format!("{field}: {m}")
        };
        ConfigFileError::at(&source.path, node.mark, m)
    })
}

const MODIFIER_NAMES: [(&str, Modifier); 6] = [
    ("bold", Modifier::BOLD),
    ("dim", Modifier::DIM),
    ("italic", Modifier::ITALIC),
    ("underlined", Modifier::UNDERLINED),
    ("reversed", Modifier::REVERSED),
    ("crossed_out", Modifier::CROSSED_OUT),
];

/// `modifiers: [bold, underlined]`, or one name alone.
fn parse_modifiers(source: &Source, role: &str, node: &Node) -> Result<Modifier, ConfigFileError> {
    let items: Vec<&Node> = match &node.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    let mut all = Modifier::empty();
    for item in items {
        let Some(name) = item.as_str() else {
            return Err(ConfigFileError::at(
                &source.path,
                item.mark,
                format!(
                    "{role}.modifiers: expected a modifier name, found a {}",
                    yaml_type(item)
                ),
            ));
        };
        let Some((_, m)) = MODIFIER_NAMES.iter().find(|(n, _)| *n == name) else {
            let names = MODIFIER_NAMES.iter().map(|(n, _)| *n);
            return Err(ConfigFileError::at(
                &source.path,
                item.mark,
                format!(
                    "{role}.modifiers: unknown modifier {name:?}{}; modifiers are {}",
                    did_you_mean(name, names.clone()),
                    names.collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        all |= *m;
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::suggest::edit_distance;

    /// Parses over no base, so each test sees only what it wrote.
    fn parse(text: &str) -> Result<Theme, ConfigFileError> {
        let source = Source {
            path: PathBuf::from("t.yaml"),
            text: text.to_string(),
            name: None,
            builtin: false,
        };
        parse_theme(&source, "t", None)
    }

    #[test]
    fn every_embedded_theme_parses_and_styles_every_role() {
        for (name, _) in BUILTIN_THEMES {
            let theme = builtin(name).unwrap_or_else(|e| panic!("{e}"));
            for role in Role::ALL {
                // Plain text, and `ok` without colour, are meant to look ordinary.
                let plain = role == Role::Text || (*name == NO_COLOR_THEME && role == Role::Ok);
                if !plain {
                    assert_ne!(theme.style(role), Style::new(), "{name}: {}", role.name());
                }
            }
        }
    }

    #[test]
    fn colours_in_every_spelling() {
        assert_eq!(parse_colour_str("lightgreen"), Ok(Color::LightGreen));
        assert_eq!(parse_colour_str("Dark_Grey"), Ok(Color::DarkGray));
        assert_eq!(parse_colour_str("bright red"), Ok(Color::LightRed));
        assert_eq!(parse_colour_str("#E69F00"), Ok(Color::Rgb(0xe6, 0x9f, 0)));
        assert_eq!(parse_colour_str("#fff"), Ok(Color::Rgb(255, 255, 255)));
        assert_eq!(parse_colour_str("208"), Ok(Color::Indexed(208)));
        assert!(parse_colour_str("256").is_err());
        assert!(parse_colour_str("#12345").is_err());
        let e = parse_colour_str("gren").expect_err("typo");
        assert!(e.contains("did you mean \"green\""), "{e}");
    }

    #[test]
    fn styles_take_shorthand_maps_indexes_and_modifier_lists() {
        let t = parse(
            "ok: green\nwarning: 214\ncritical: {fg: red, bg: \"#000000\", modifiers: [bold, underlined]}\nselection: {modifiers: reversed}\ntext: {}\n",
        )
        .expect("parses");
        assert_eq!(t.style(Role::Ok), Style::new().fg(Color::Green));
        assert_eq!(t.style(Role::Warning), Style::new().fg(Color::Indexed(214)));
        assert_eq!(
            t.style(Role::Critical),
            Style::new()
                .fg(Color::Red)
                .bg(Color::Rgb(0, 0, 0))
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        );
        assert_eq!(
            t.style(Role::Selection),
            Style::new().add_modifier(Modifier::REVERSED)
        );
        assert_eq!(t.style(Role::Text), Style::new());
    }

    #[test]
    fn mistakes_name_line_column_and_field() {
        let e = parse("ok: green\nwarn: yellow\n").expect_err("unknown role");
        assert_eq!((e.line, e.column), (2, 1));
        assert!(e.message.contains("did you mean \"warning\""), "{e}");

        let e = parse("ok:\n  fg: #00ff00\n").expect_err("comment, not colour");
        assert_eq!((e.line, e.column), (2, 3));
        assert!(
            e.message.contains("ok.fg") && e.message.contains("quote"),
            "{e}"
        );

        let e = parse("ok: {fg: green, modifers: [bold]}\n").expect_err("field typo");
        assert!(e.message.contains("did you mean \"modifiers\""), "{e}");

        let e = parse("ok: {modifiers: [bold, blink]}\n").expect_err("modifier");
        assert_eq!((e.line, e.column), (1, 24));
        assert!(e.message.contains("unknown modifier \"blink\""), "{e}");

        let e = parse("ok: green\nok: red\n").expect_err("duplicate");
        assert_eq!(e.line, 2);
        assert_eq!(e.to_string().split(':').next(), Some("t.yaml"));
    }

    #[test]
    fn suggestions_stay_close() {
        assert_eq!(
            did_you_mean("warn", ["ok", "warning"]),
            " (did you mean \"warning\"?)"
        );
        assert_eq!(did_you_mean("zzzz", ["ok", "warning"]), "");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
