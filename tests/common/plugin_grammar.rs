//! The grammars of the outputs monitoring systems read from `status --format nagios`
//! and `--format checkmk`, written down from the tools' own documentation, plus the
//! Monitoring::Plugin Perl library's own performance-data parser (Debian's
//! libmonitoring-plugin-perl, the library the Monitoring Plugins project publishes for
//! plugin authors). Used by tests/status_plugin.rs and tests/status_plugin_lab.rs.

#![allow(dead_code)]

use std::process::Command;

use regex_automata::dfa::regex::Regex;

/// Whether all of `text` matches `pattern`.
fn full(pattern: &str, text: &str) -> bool {
    Regex::new(&format!("^(?:{pattern})$"))
        .unwrap_or_else(|e| panic!("pattern {pattern}: {e}"))
        .is_match(text)
}

/// A number as performance data writes it: digits, a sign and a decimal point only
/// (Monitoring Plugins Development Guidelines, "Performance data": "value, min and
/// max in class [-0-9.]").
const NUMBER: &str = r"-?[0-9]+(?:\.[0-9]+)?";

/// A threshold range (guidelines, "Threshold and ranges"): `10`, `10:`, `~:10`,
/// `10:20`, `@10:20`, or empty.
fn range() -> String {
    format!(r"(?:@?(?:(?:{NUMBER}|~):)?(?:{NUMBER})?)")
}

/// One performance-data item's value part: `value[UOM];[warn];[crit];[min];[max]`,
/// trailing semicolons optional; UOM one of the guidelines' units (none, s, ms, us,
/// %, B, KB, MB, TB, c).
fn perf_value() -> String {
    let range = range();
    format!(
        r"{NUMBER}(?:s|ms|us|%|B|KB|MB|TB|c)?(?:;{range}(?:;{range}(?:;(?:{NUMBER})?(?:;(?:{NUMBER})?)?)?)?)?"
    )
}

/// A parsed Nagios plugin output.
#[derive(Debug)]
pub struct Nagios {
    pub state: String,
    pub text: String,
    /// (label without its quotes, value part)
    pub perfdata: Vec<(String, String)>,
    /// The raw performance data after the first line's `|`.
    pub perf_raw: String,
    pub long: Vec<String>,
}

/// Parses `output` by the Monitoring Plugins Development Guidelines
/// (https://www.monitoring-plugins.org/doc/guidelines.html, "Plugin Output" and
/// "Performance data"), as Nagios 3+ and Icinga read it: the first line
/// `SERVICE STATUS: text | perfdata` — here `FLEETDECK <STATE> - <text> | <perfdata>` —
/// with no `|` in the text; performance data as space-separated
/// `'label'=value[UOM];[warn];[crit];[min];[max]` where the label is quoted and
/// (Icinga's developer guidelines, "Performance Data Metrics") contains no `'` and no
/// `=`; then long-output lines, none with a `|` (it would start more performance
/// data). Panics naming what breaks the grammar.
pub fn nagios(output: &str) -> Nagios {
    assert!(
        output.ends_with('\n'),
        "output ends with a newline: {output:?}"
    );
    let mut lines = output.lines();
    let first = lines.next().expect("a first line");
    let (head, perf_raw) = match first.split_once('|') {
        Some((head, perf)) => {
            let perf = perf.strip_prefix(' ').unwrap_or(perf);
            (head.strip_suffix(' ').unwrap_or(head), perf.to_owned())
        }
        None => (first, String::new()),
    };
    assert!(
        full(
            r"FLEETDECK (OK|WARNING|CRITICAL|UNKNOWN) - [^|\x00-\x1f\x7f]*",
            head
        ),
        "first line: {first:?}"
    );
    let rest = head.strip_prefix("FLEETDECK ").expect("prefix");
    let (state, text) = rest.split_once(" - ").expect("state - text");
    let mut perfdata = Vec::new();
    let mut left = perf_raw.as_str();
    let value = perf_value();
    while !left.is_empty() {
        let after_quote = left
            .strip_prefix('\'')
            .unwrap_or_else(|| panic!("a quoted label at {left:?} in {perf_raw:?}"));
        let (label, after_label) = after_quote
            .split_once('\'')
            .unwrap_or_else(|| panic!("a closing quote at {left:?}"));
        assert!(
            !label.is_empty() && !label.contains('=') && !label.contains(['\n', '\r']),
            "label {label:?}"
        );
        let after_eq = after_label
            .strip_prefix('=')
            .unwrap_or_else(|| panic!("= after label {label:?}: {after_label:?}"));
        let (item, next) = after_eq.split_once(' ').unwrap_or((after_eq, ""));
        assert!(full(&value, item), "value of {label:?}: {item:?}");
        perfdata.push((label.to_owned(), item.to_owned()));
        left = next;
    }
    let long: Vec<String> = lines.map(str::to_owned).collect();
    for line in &long {
        assert!(
            !line.contains('|') && !line.chars().any(char::is_control),
            "long output line {line:?}"
        );
    }
    Nagios {
        state: state.to_owned(),
        text: text.to_owned(),
        perfdata,
        perf_raw,
        long,
    }
}

/// The labels Monitoring::Plugin::Performance->parse_perfstring reads from
/// `perfdata`, in order, with their values and units; panics if the library is not
/// installed (Debian: libmonitoring-plugin-perl, installed by scripts/lib.sh).
pub fn perl_perfdata(perfdata: &str) -> Vec<(String, String, String)> {
    let script = r#"use Monitoring::Plugin::Performance;
my @p = Monitoring::Plugin::Performance->parse_perfstring($ARGV[0]);
print join("\t", $_->label, $_->value, $_->uom), "\n" for @p;"#;
    let out = Command::new("perl")
        .args(["-e", script, perfdata])
        .output()
        .expect("running perl");
    assert!(
        out.status.success(),
        "Monitoring::Plugin::Performance (apt-get install libmonitoring-plugin-perl): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| {
            let mut f = l.split('\t').map(str::to_owned);
            let mut next = || f.next().unwrap_or_default();
            (next(), next(), next())
        })
        .collect()
}

/// One Checkmk local-check service.
#[derive(Debug, Clone)]
pub struct Service {
    pub status: u8,
    pub name: String,
    /// (name, value part)
    pub metrics: Vec<(String, String)>,
    /// The details with Checkmk's `\n` turned into newlines.
    pub details: String,
}

/// Parses a local-check section by Checkmk's "Local checks" manual
/// (https://docs.checkmk.com/latest/en/localchecks.html): a `<<<local>>>` header
/// (here `<<<local:sep(0)>>>`: lines are not split at blanks), then one line per
/// service, `<status> <service name> <metrics> <status detail>`: status 0, 1, 2, 3
/// (or P); a service name without blanks or quotes (double-quoted names with blanks
/// are read by Checkmk 2 only, so fleetdeck uses none); metrics `-` or
/// `name=value;warn;crit;min;max` joined by `|`, levels optionally `lower:upper`;
/// the detail one line, `\n` standing for a line break of the long output. Panics
/// naming what breaks the grammar.
pub fn checkmk(output: &str) -> Vec<Service> {
    let mut lines = output.lines();
    assert_eq!(
        lines.next(),
        Some("<<<local:sep(0)>>>"),
        "header: {output:?}"
    );
    let level = format!(r"(?:(?:{NUMBER})?:)?(?:{NUMBER})?");
    let metric = format!(
        r"[A-Za-z0-9_]+={NUMBER}(?:;{level}(?:;{level}(?:;(?:{NUMBER})?(?:;(?:{NUMBER})?)?)?)?)?"
    );
    let mut services = Vec::new();
    for line in lines {
        assert!(
            !line.chars().any(char::is_control),
            "control character in {line:?}"
        );
        assert!(
            !line.starts_with("<<<"),
            "a second section header: {line:?}"
        );
        let mut parts = line.splitn(4, ' ');
        let status = parts.next().unwrap_or_default();
        let name = parts.next().unwrap_or_default();
        let metrics = parts.next().unwrap_or_default();
        let details = parts.next().unwrap_or_default();
        assert!(full("[0-3P]", status), "status {status:?} in {line:?}");
        assert!(
            full(r#"[^ "'\t]+"#, name),
            "service name {name:?} in {line:?}"
        );
        assert!(
            metrics == "-" || full(&format!("{metric}(?:\\|{metric})*"), metrics),
            "metrics {metrics:?} in {line:?}"
        );
        services.push(Service {
            status: status.parse().unwrap_or(3),
            name: name.to_owned(),
            metrics: if metrics == "-" {
                Vec::new()
            } else {
                metrics
                    .split('|')
                    .map(|m| {
                        let (n, v) = m.split_once('=').expect("name=value");
                        (n.to_owned(), v.to_owned())
                    })
                    .collect()
            },
            details: details.replace("\\n", "\n"),
        });
    }
    services
}
