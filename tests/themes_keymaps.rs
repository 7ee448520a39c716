//! Themes and keymaps as a user meets them: the shipped files load and cover every
//! role and action, user files in the configuration directory override them, and a
//! mistake in a file is reported with its file, line and column.

use std::fs;
use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fleetdeck::tui::ConfigFileError;
use fleetdeck::tui::action::{Action, View};
use fleetdeck::tui::keymap::{BUILTIN_KEYMAPS, Chord, Key, Keymap, Resolution};
use fleetdeck::tui::theme::{BUILTIN_THEMES, Role, Theme};
use ratatui::style::{Color, Modifier, Style};

/// A configuration directory (`$XDG_CONFIG_HOME/fleetdeck`) with the given files.
fn config_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (rel, text) in files {
        let path = dir.path().join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, text).expect("write");
    }
    dir
}

fn empty_dir() -> tempfile::TempDir {
    config_dir(&[])
}

fn key(s: &str) -> Key {
    Key::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

fn keys(chord: &str) -> Vec<Key> {
    Chord::parse(chord)
        .unwrap_or_else(|e| panic!("{e}"))
        .keys()
        .to_vec()
}

/// Asserts the error names `file:line:col` and says `needle`.
fn assert_error_at(err: &ConfigFileError, file: &Path, line: usize, column: usize, needle: &str) {
    let shown = err.to_string();
    let prefix = format!("{}:{line}:{column}: ", file.display());
    assert!(
        shown.starts_with(&prefix),
        "expected {prefix:?}…, got {shown:?}"
    );
    assert!(shown.contains(needle), "expected {needle:?} in {shown:?}");
}

// ---- themes ---------------------------------------------------------------------

#[test]
fn every_shipped_theme_loads_by_name_and_gives_severities_distinct_looks() {
    let dir = empty_dir();
    let mut names: Vec<&str> = BUILTIN_THEMES.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["colorblind", "dark", "high-contrast", "light", "no-color"]
    );
    for name in names {
        let theme = Theme::load(Some(name), dir.path(), false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(theme.name(), name);
        let [ok, warning, critical, unknown] =
            [Role::Ok, Role::Warning, Role::Critical, Role::Unknown].map(|r| theme.style(r));
        for (a, b) in [
            (ok, warning),
            (warning, critical),
            (ok, critical),
            (critical, unknown),
        ] {
            assert_ne!(a, b, "{name}: two severities look the same");
        }
        assert_ne!(
            theme.style(Role::Selection),
            Style::new(),
            "{name}: selection invisible"
        );
        assert_ne!(
            theme.style(Role::Highlight),
            Style::new(),
            "{name}: highlight invisible"
        );
    }
    // No name: the dark default.
    let default = Theme::load(None, dir.path(), false).expect("default");
    assert_eq!(default.name(), "dark");
    assert_eq!(default, Theme::default());
}

#[test]
fn colorblind_theme_avoids_red_green_and_marks_critical_without_colour() {
    let theme = Theme::load(Some("colorblind"), empty_dir().path(), false).expect("loads");
    for role in Role::ALL {
        let s = theme.style(role);
        for c in [s.fg, s.bg].into_iter().flatten() {
            assert!(
                !matches!(
                    c,
                    Color::Red | Color::Green | Color::LightRed | Color::LightGreen
                ),
                "{}: {c:?}",
                role.name()
            );
        }
    }
    let critical = theme.style(Role::Critical);
    assert!(critical.add_modifier.contains(Modifier::BOLD));
    assert_ne!(
        critical.add_modifier,
        theme.style(Role::Warning).add_modifier,
        "critical must differ from warning without colour"
    );
}

#[test]
fn no_color_drops_every_colour_but_keeps_severity_visible() {
    let dir = empty_dir();
    for requested in [None, Some("dark"), Some("colorblind")] {
        let theme = Theme::load(requested, dir.path(), true).expect("loads");
        for role in Role::ALL {
            let s = theme.style(role);
            assert_eq!((s.fg, s.bg), (None, None), "{}", role.name());
        }
        let warning = theme.style(Role::Warning).add_modifier;
        let critical = theme.style(Role::Critical).add_modifier;
        let selection = theme.style(Role::Selection).add_modifier;
        let highlight = theme.style(Role::Highlight).add_modifier;
        assert!(warning.contains(Modifier::BOLD));
        assert!(critical.contains(Modifier::BOLD));
        assert!(selection.contains(Modifier::REVERSED));
        assert!(highlight.contains(Modifier::UNDERLINED));
        let distinct = [warning, critical, selection, highlight];
        for (i, a) in distinct.iter().enumerate() {
            for b in &distinct[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
    // Even a user's no-color theme that sets colours gets none.
    let dir = config_dir(&[(
        "themes/no-color.yaml",
        "critical: { fg: red, modifiers: [bold, italic] }\n",
    )]);
    let theme = Theme::load(None, dir.path(), true).expect("loads");
    assert_eq!(
        theme.style(Role::Critical),
        Style::new().add_modifier(Modifier::BOLD | Modifier::ITALIC)
    );
    // A broken theme is still reported under NO_COLOR.
    assert!(Theme::load(Some("nonexistent"), dir.path(), true).is_err());
}

#[test]
fn a_user_theme_overrides_only_the_roles_it_names() {
    let dark = Theme::default();
    let dir = config_dir(&[
        ("themes/dark.yaml", "ok: blue\n"),
        (
            "themes/mine.yaml",
            "extends: light\ncritical: { fg: \"#ff0000\", modifiers: [bold] }\n",
        ),
        ("themes/plain.yaml", "warning: 214\n"),
    ]);
    // Same name as a built-in: over that built-in.
    let theme = Theme::load(Some("dark"), dir.path(), false).expect("user dark");
    assert_eq!(theme.style(Role::Ok), Style::new().fg(Color::Blue));
    assert_eq!(theme.style(Role::Critical), dark.style(Role::Critical));
    // The default (no name) picks up the user's dark.yaml too.
    assert_eq!(
        Theme::load(None, dir.path(), false).expect("default"),
        theme
    );

    let light = Theme::load(Some("light"), empty_dir().path(), false).expect("light");
    let mine = Theme::load(Some("mine"), dir.path(), false).expect("mine");
    assert_eq!(mine.name(), "mine");
    assert_eq!(
        mine.style(Role::Critical),
        Style::new()
            .fg(Color::Rgb(255, 0, 0))
            .add_modifier(Modifier::BOLD)
    );
    assert_eq!(mine.style(Role::Selection), light.style(Role::Selection));

    // A new name without `extends`: over the embedded dark, not the user's dark.
    let plain = Theme::load(Some("plain"), dir.path(), false).expect("plain");
    assert_eq!(
        plain.style(Role::Warning),
        Style::new().fg(Color::Indexed(214))
    );
    assert_eq!(plain.style(Role::Ok), dark.style(Role::Ok));

    // A path is read as given.
    let path = dir.path().join("themes/mine.yaml");
    let by_path = Theme::load(path.to_str(), Path::new("/nonexistent"), false).expect("path");
    assert_eq!(by_path, mine);
}

#[test]
fn theme_mistakes_name_file_line_and_column() {
    let dir = config_dir(&[
        ("themes/role.yaml", "ok: green\ncritcal: red\n"),
        ("themes/colour.yaml", "ok: green\nwarning:\n  fg: yelow\n"),
        ("themes/hex.yaml", "ok: { fg: \"#12zz00\" }\n"),
        ("themes/index.yaml", "ok: 300\n"),
        (
            "themes/modifier.yaml",
            "ok: { modifiers: [bold, blinking] }\n",
        ),
        ("themes/extends.yaml", "extends: drak\n"),
        ("themes/syntax.yaml", "ok: [green\n"),
    ]);
    let file = |n: &str| dir.path().join("themes").join(format!("{n}.yaml"));
    let load = |n: &str| Theme::load(Some(n), dir.path(), false).expect_err(n);
    assert_error_at(
        &load("role"),
        &file("role"),
        2,
        1,
        "unknown role \"critcal\" (did you mean \"critical\"?)",
    );
    assert_error_at(
        &load("colour"),
        &file("colour"),
        3,
        7,
        "warning.fg: unknown colour \"yelow\" (did you mean \"yellow\"?)",
    );
    assert_error_at(&load("hex"), &file("hex"), 1, 11, "#rrggbb");
    assert_error_at(&load("index"), &file("index"), 1, 5, "out of range");
    assert_error_at(
        &load("modifier"),
        &file("modifier"),
        1,
        25,
        "unknown modifier \"blinking\"",
    );
    assert_error_at(
        &load("extends"),
        &file("extends"),
        1,
        10,
        "did you mean \"dark\"",
    );
    let e = load("syntax");
    assert_eq!(e.file, file("syntax"));
    assert!(e.line >= 1, "{e}");

    let e = Theme::load(Some("nosuch"), dir.path(), false).expect_err("unknown name");
    assert!(e.to_string().contains("no theme named \"nosuch\""), "{e}");
    let e = Theme::load(Some("./missing.yaml"), dir.path(), false).expect_err("missing");
    assert_eq!(e.file, PathBuf::from("./missing.yaml"));
}

// ---- keys -----------------------------------------------------------------------

#[test]
fn key_strings_round_trip_and_match_terminal_events() {
    for text in [
        "ctrl-c",
        "shift-tab",
        "G",
        "g g",
        "f5",
        "/",
        "?",
        "space",
        "ctrl-w h",
        "alt-enter",
    ] {
        let chord = Chord::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(chord.to_string(), text);
        assert_eq!(Chord::parse(&chord.to_string()), Ok(chord));
    }
    let event = |code, m| KeyEvent::new(code, m);
    assert!(key("ctrl-c").matches(&event(KeyCode::Char('c'), KeyModifiers::CONTROL)));
    assert!(key("N").matches(&event(KeyCode::Char('N'), KeyModifiers::SHIFT)));
    assert!(key("shift-tab").matches(&event(KeyCode::BackTab, KeyModifiers::SHIFT)));
    assert!(key("space").matches(&event(KeyCode::Char(' '), KeyModifiers::NONE)));
    assert!(key("pageup").matches(&event(KeyCode::PageUp, KeyModifiers::NONE)));
    assert!(!key("g").matches(&event(KeyCode::Char('G'), KeyModifiers::SHIFT)));
}

// ---- keymaps --------------------------------------------------------------------

/// Where each action is used: it must work there (bound in the view or globally).
const HOME_VIEWS: &[(Action, &[View])] = &[
    (Action::Filter, &[View::Overview]),
    (Action::ClearFilter, &[View::Overview]),
    (Action::CycleSort, &[View::Overview]),
    (Action::ToggleGroupByGroup, &[View::Overview]),
    (Action::ToggleProblemsFirst, &[View::Overview]),
    (Action::Open, &[View::Overview, View::Host, View::Timeline]),
    (Action::NextProblem, &[View::Overview, View::Host]),
    (Action::PrevProblem, &[View::Overview, View::Host]),
    (Action::OpenLogs, &[View::Overview, View::Host]),
    (Action::IncidentReport, &[View::Overview, View::Host]),
    (Action::Inspect, &[View::Host]),
    (Action::StartContainer, &[View::Host]),
    (Action::StopContainer, &[View::Host]),
    (Action::RestartContainer, &[View::Host]),
    (Action::ToggleFollow, &[View::Logs]),
    (Action::Search, &[View::Logs]),
    (Action::NextMatch, &[View::Logs]),
    (Action::PrevMatch, &[View::Logs]),
    (Action::ToggleWrap, &[View::Logs]),
    (Action::ToggleTimestamps, &[View::Logs]),
    (Action::SaveLogs, &[View::Logs]),
    (Action::CycleSeverityFilter, &[View::Timeline]),
    (Action::CycleKindFilter, &[View::Timeline]),
    (Action::FilterByHost, &[View::Timeline]),
    (Action::Confirm, &[View::Confirm]),
    (Action::Cancel, &[View::Confirm]),
];

/// Actions that must work in every view but the confirmation dialog.
const EVERYWHERE: &[Action] = &[
    Action::Quit,
    Action::Help,
    Action::ShowTimeline,
    Action::ShowOverview,
    Action::Up,
    Action::Down,
    Action::PageUp,
    Action::PageDown,
    Action::Top,
    Action::Bottom,
];

#[test]
fn every_shipped_keymap_binds_every_action_where_it_is_used() {
    let dir = empty_dir();
    let mut names: Vec<&str> = BUILTIN_KEYMAPS.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    assert_eq!(names, ["arrows", "default"]);
    for name in names {
        let km = Keymap::load(Some(name), dir.path()).unwrap_or_else(|e| panic!("{e}"));
        for action in Action::ALL {
            let bound = View::ALL
                .iter()
                .any(|v| !km.keys_for(*v, action).is_empty());
            assert!(bound, "{name}: {} is not bound", action.name());
        }
        for (action, views) in HOME_VIEWS {
            for view in *views {
                assert!(
                    !km.keys_for(*view, *action).is_empty(),
                    "{name}: {} does not work in {}",
                    action.name(),
                    view.as_str()
                );
            }
        }
        for view in View::ALL.into_iter().filter(|v| *v != View::Confirm) {
            for action in EVERYWHERE {
                assert!(
                    !km.keys_for(view, *action).is_empty(),
                    "{name}: {} does not work in {}",
                    action.name(),
                    view.as_str()
                );
            }
            // There is always a way out.
            assert!(!km.keys_for(view, Action::Back).is_empty() || view == View::Overview);
        }
        // Ctrl-C never gets swallowed outside the dialog.
        for view in [
            View::Overview,
            View::Host,
            View::Logs,
            View::Inspect,
            View::Timeline,
        ] {
            assert_eq!(
                km.resolve(view, &[], key("ctrl-c")),
                Resolution::Action(Action::Quit),
                "{name}: ctrl-c in {}",
                view.as_str()
            );
        }
        // Every binding has something to show in the help overlay.
        for view in View::ALL {
            for entry in km.help(view) {
                assert!(
                    !entry.desc.is_empty() && !entry.keys.is_empty(),
                    "{entry:?}"
                );
            }
        }
    }
    assert_eq!(
        Keymap::load(None, dir.path()).expect("default"),
        Keymap::default()
    );
}

#[test]
fn resolve_follows_chords_and_lets_views_shadow_global() {
    let km = Keymap::default();
    // `g g` is a chord: `g` waits, a second `g` completes it.
    assert_eq!(km.resolve(View::Host, &[], key("g")), Resolution::Pending);
    assert_eq!(
        km.resolve(View::Host, &keys("g"), key("g")),
        Resolution::Action(Action::Top)
    );
    assert_eq!(
        km.resolve(View::Host, &keys("g"), key("o")),
        Resolution::Action(Action::ShowOverview)
    );
    assert_eq!(
        km.resolve(View::Host, &keys("g"), key("x")),
        Resolution::Unbound
    );
    assert_eq!(
        km.resolve(View::Host, &[], key("G")),
        Resolution::Action(Action::Bottom)
    );
    assert_eq!(km.resolve(View::Host, &[], key("F12")), Resolution::Unbound);
    // `q` is `back` globally, `quit` in the overview; `n` differs by view.
    assert_eq!(
        km.resolve(View::Logs, &[], key("q")),
        Resolution::Action(Action::Back)
    );
    assert_eq!(
        km.resolve(View::Overview, &[], key("q")),
        Resolution::Action(Action::Quit)
    );
    assert_eq!(
        km.resolve(View::Logs, &[], key("n")),
        Resolution::Action(Action::NextMatch)
    );
    assert_eq!(
        km.resolve(View::Confirm, &[], key("n")),
        Resolution::Action(Action::Cancel)
    );
    assert_eq!(
        km.resolve(View::Logs, &[], key("N")),
        Resolution::Action(Action::PrevMatch)
    );
    // A terminal's Shift+n arrives as 'N' with SHIFT.
    let shift_n = Key::from(KeyEvent::new(KeyCode::Char('N'), KeyModifiers::SHIFT));
    assert_eq!(
        km.resolve(View::Logs, &[], shift_n),
        Resolution::Action(Action::PrevMatch)
    );

    // The help overlay lists the view's bindings first and leaves out shadowed
    // global chords; the status bar finds keys by action.
    let help = km.help(View::Overview);
    assert_eq!(help[0].action, Action::Quit);
    // esc and q are both taken by the overview, so `back` is not offered there.
    assert!(help.iter().all(|e| e.action != Action::Back), "{help:?}");
    assert_eq!(km.keys_for(View::Logs, Action::Help), ["?"]);
    assert_eq!(
        km.keys_for(View::Overview, Action::Back),
        Vec::<String>::new()
    );
    assert_eq!(km.keys_for(View::Logs, Action::Back), ["esc", "q"]);
    assert_eq!(km.keys_for(View::Host, Action::Top), ["g g", "home"]);
    let after_g: Vec<Action> = km
        .continuations(View::Host, &keys("g"))
        .iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(after_g, [Action::ShowOverview, Action::Top]);
}

#[test]
fn a_user_keymap_extends_the_shipped_one_per_section() {
    let dir = config_dir(&[(
        "keymaps/default.yaml",
        r#"
overview:
  - { keys: "x", action: quit, desc: "leave" }
global:
  - { keys: "g", action: top, desc: "first row, quickly" }
  - { keys: "ctrl-d", action: none }
logs:
  - { keys: ["ctrl-f", "/"], action: search }
"#,
    )]);
    let km = Keymap::load(None, dir.path()).expect("loads");
    // Added, and the rest of the section kept.
    assert_eq!(
        km.resolve(View::Overview, &[], key("x")),
        Resolution::Action(Action::Quit)
    );
    assert_eq!(
        km.resolve(View::Overview, &[], key("/")),
        Resolution::Action(Action::Filter)
    );
    // `g` replaces the chords it begins (`g g`, `g o`), which could never fire now.
    assert_eq!(
        km.resolve(View::Host, &[], key("g")),
        Resolution::Action(Action::Top)
    );
    assert_eq!(
        km.keys_for(View::Host, Action::ShowOverview),
        Vec::<String>::new()
    );
    // Unbound; the alternative stays.
    assert_eq!(
        km.resolve(View::Host, &[], key("ctrl-d")),
        Resolution::Unbound
    );
    assert_eq!(km.keys_for(View::Host, Action::PageDown), ["pagedown"]);
    // Rebinding an existing chord takes it over; a missing desc falls back to the name.
    assert_eq!(
        km.resolve(View::Logs, &[], key("ctrl-f")),
        Resolution::Action(Action::Search)
    );
    let search = km
        .help(View::Logs)
        .into_iter()
        .find(|e| e.keys == "ctrl-f, /")
        .expect("entry");
    assert_eq!(search.desc, "search");

    // `extends: none` starts empty; a new name extends `default`; arrows can be extended.
    let dir = config_dir(&[
        (
            "keymaps/minimal.yaml",
            "extends: none\nglobal:\n  - { keys: \"q\", action: quit, desc: \"quit\" }\n",
        ),
        (
            "keymaps/mine.yaml",
            "host:\n  - { keys: \"K\", action: stop_container, desc: \"kill\" }\n",
        ),
        (
            "keymaps/arrows.yaml",
            "global:\n  - { keys: \"ctrl-h\", action: help, desc: \"help\" }\n",
        ),
    ]);
    let minimal = Keymap::load(Some("minimal"), dir.path()).expect("minimal");
    assert_eq!(minimal.help(View::Host).len(), 1);
    let mine = Keymap::load(Some("mine"), dir.path()).expect("mine");
    assert_eq!(
        mine.resolve(View::Host, &[], key("K")),
        Resolution::Action(Action::StopContainer)
    );
    assert_eq!(
        mine.resolve(View::Host, &[], key("S")),
        Resolution::Action(Action::StopContainer)
    );
    let arrows = Keymap::load(Some("arrows"), dir.path()).expect("arrows");
    assert_eq!(arrows.keys_for(View::Logs, Action::Help), ["f1", "ctrl-h"]);
    // By path.
    let path = dir.path().join("keymaps/mine.yaml");
    assert_eq!(
        Keymap::load(path.to_str(), Path::new("/nonexistent")).expect("path"),
        mine
    );
}

#[test]
fn keymap_mistakes_name_file_line_and_column() {
    let dir = config_dir(&[
        (
            "keymaps/action.yaml",
            "host:\n  - { keys: \"x\", action: restrat_container }\n",
        ),
        (
            "keymaps/section.yaml",
            "global: []\noverveiw:\n  - { keys: \"x\", action: quit }\n",
        ),
        (
            "keymaps/key.yaml",
            "logs:\n  - { keys: \"ctrl-shfit-x\", action: search }\n",
        ),
        (
            "keymaps/twice.yaml",
            "logs:\n  - { keys: \"x\", action: search }\n  - { keys: [\"y\", \"x\"], action: toggle_wrap }\n",
        ),
        (
            "keymaps/prefix.yaml",
            "timeline:\n  - { keys: \"z z\", action: top }\n  - { keys: \"z\", action: bottom }\n",
        ),
        (
            "keymaps/field.yaml",
            "host:\n  - { keys: \"x\", action: quit, descr: \"q\" }\n",
        ),
        (
            "keymaps/unquoted.yaml",
            "host:\n  - keys:\n    action: help\n",
        ),
    ]);
    let file = |n: &str| dir.path().join("keymaps").join(format!("{n}.yaml"));
    let load = |n: &str| Keymap::load(Some(n), dir.path()).expect_err(n);
    assert_error_at(
        &load("action"),
        &file("action"),
        2,
        26,
        "unknown action \"restrat_container\" (did you mean \"restart_container\"?)",
    );
    assert_error_at(
        &load("section"),
        &file("section"),
        2,
        1,
        "unknown section \"overveiw\" (did you mean \"overview\"?)",
    );
    assert_error_at(
        &load("key"),
        &file("key"),
        2,
        13,
        "\"ctrl-shfit-x\" is not a key",
    );
    assert_error_at(
        &load("twice"),
        &file("twice"),
        3,
        19,
        "\"x\" is bound twice: to toggle_wrap here and to search at line 2",
    );
    assert_error_at(
        &load("prefix"),
        &file("prefix"),
        3,
        13,
        "\"z\" (line 3) begins \"z z\" (line 2)",
    );
    assert_error_at(
        &load("field"),
        &file("field"),
        2,
        32,
        "unknown field \"descr\" (did you mean \"desc\"?)",
    );
    assert_error_at(&load("unquoted"), &file("unquoted"), 2, 5, "keys: no value");

    let e = Keymap::load(Some("vim"), dir.path()).expect_err("unknown name");
    assert!(e.to_string().contains("no keymap named \"vim\""), "{e}");
}
