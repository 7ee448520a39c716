//! fleetdeck's own settings: the `fleetdeck_*` variables, typed and checked where they
//! are written, and the Ansible connection variables the SSH layer needs.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::PathBuf;

use base64::Engine as _;
use serde::de::DeserializeOwned;

use super::Sourced;
use super::de::from_node;
use super::yaml::{Mark, Node, Value};
use crate::probes::backup::BackupRepo;
use crate::probes::cert::CertEndpoint;
use crate::probes::drill::spec::{self as drill_spec, Drills};
use crate::probes::firewall::DeclaredPolicy;
use crate::probes::posture::PosturePolicy;
use crate::ssh::session::InventorySsh;
use crate::util::suggest::{self, Nearness};

/// Where Docker listens on a host when the inventory does not say.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// Where the deploy lock, journal and host-side audit log live when the inventory
/// does not say.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/fleetdeck";

/// Every `fleetdeck_*` variable and what it holds, as shown in error messages.
pub const KNOWN: &[(&str, &str)] = &[
    ("fleetdeck_apps", "a list of app names (strings)"),
    ("fleetdeck_docker_socket", "an absolute path (string)"),
    (
        "fleetdeck_host_key",
        "a pinned host-key fingerprint `SHA256:` + 43 base64 characters (as `ssh-keygen -lf` prints)",
    ),
    (
        "fleetdeck_firewall",
        "a firewall policy: a mapping with input_policy, optional backend and allow",
    ),
    (
        "fleetdeck_backups",
        "a list of backup repositories (name, kind, repository, ...)",
    ),
    (
        "fleetdeck_certificates",
        "a list of TLS endpoints (name, host, port, ...)",
    ),
    (
        "fleetdeck_drills",
        "a mapping of app name to its restore drill (repository, scratch_dir, live_paths, checks, ...)",
    ),
    ("fleetdeck_ssh_config", "a path (string)"),
    ("fleetdeck_known_hosts", "a path (string)"),
    ("fleetdeck_age_identity", "a path (string)"),
    ("fleetdeck_lab", "a mapping (written by `fleetdeck lab`)"),
    ("fleetdeck_read_only", "a boolean"),
    ("fleetdeck_stacks_dir", "a path (string)"),
    ("fleetdeck_secrets", "a path (string)"),
    ("fleetdeck_state_dir", "an absolute path (string)"),
    ("fleetdeck_allow_unpinned", "a boolean"),
    (
        "fleetdeck_container_prefix",
        "a string of letters, digits, `_`, `.` or `-`",
    ),
    ("fleetdeck_posture", super::posture::EXPECTED),
];

/// What fleetdeck reads from one host's variables.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSettings {
    /// Connection variables for the SSH layer.
    pub ssh: InventorySsh,
    /// `fleetdeck_apps`: the apps this host should run (feature flags per client).
    pub apps: Vec<String>,
    /// `fleetdeck_docker_socket`
    pub docker_socket: String,
    /// `fleetdeck_host_key` (also in `ssh.host_key_pin`).
    pub host_key: Option<String>,
    /// `fleetdeck_firewall`: the declared policy drift is measured against.
    pub firewall: Option<DeclaredPolicy>,
    /// `fleetdeck_backups`
    pub backups: Vec<BackupRepo>,
    /// `fleetdeck_certificates`
    pub certificates: Vec<CertEndpoint>,
    /// `fleetdeck_drills`: per app, its restore drill (docs/drills.md).
    pub drills: Drills,
    /// `fleetdeck_ssh_config`, `~` expanded.
    pub ssh_config: Option<PathBuf>,
    /// `fleetdeck_known_hosts`, `~` expanded.
    pub known_hosts: Option<PathBuf>,
    /// `fleetdeck_age_identity`, `~` expanded.
    pub age_identity: Option<PathBuf>,
    /// `fleetdeck_lab`: free-form, owned by `fleetdeck lab`.
    pub lab: Option<serde_json::Map<String, serde_json::Value>>,
    /// `fleetdeck_read_only`: this host may be looked at, never changed.
    pub read_only: bool,
    /// `fleetdeck_stacks_dir`: where the apps' compose files are (`APP.yml`); relative
    /// paths are taken from the inventory's directory. Default `stacks`.
    pub stacks_dir: Option<PathBuf>,
    /// `fleetdeck_secrets`: this host's secret file (fleetdeck's age format or SOPS);
    /// relative paths are taken from the inventory's directory.
    pub secrets: Option<PathBuf>,
    /// `fleetdeck_state_dir`: where the deploy lock, journal and audit log live on the
    /// host. Default [`DEFAULT_STATE_DIR`].
    pub state_dir: String,
    /// `fleetdeck_allow_unpinned`: allow images tagged `latest` or untagged.
    pub allow_unpinned: bool,
    /// `fleetdeck_container_prefix`: put before every container name fleetdeck
    /// creates on this host (hosts sharing one engine need distinct names).
    pub container_prefix: String,
    /// `fleetdeck_posture`: disk thresholds and accepted posture exceptions.
    pub posture: PosturePolicy,
}

impl HostSettings {
    /// A host that sets nothing: the defaults.
    pub fn defaults(host: &str) -> HostSettings {
        HostSettings {
            ssh: InventorySsh {
                name: host.to_string(),
                ..Default::default()
            },
            apps: Vec::new(),
            docker_socket: DEFAULT_DOCKER_SOCKET.to_string(),
            host_key: None,
            firewall: None,
            backups: Vec::new(),
            certificates: Vec::new(),
            drills: Drills::new(),
            ssh_config: None,
            known_hosts: None,
            age_identity: None,
            lab: None,
            read_only: false,
            stacks_dir: None,
            secrets: None,
            state_dir: DEFAULT_STATE_DIR.to_string(),
            allow_unpinned: false,
            container_prefix: String::new(),
            posture: PosturePolicy::default(),
        }
    }
}

/// A located complaint about one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub mark: Mark,
    pub message: String,
}

/// Checks one `fleetdeck_*` variable where it is defined: a known name, a value of the
/// right type. `{{ ... }}` inside strings is checked again once resolved per host.
pub fn check(name: &str, key_mark: Mark, value: &Node) -> Result<(), Problem> {
    check_all(name, key_mark, value).map_err(|mut problems| problems.swap_remove(0))
}

/// Like [`check`], with every problem of the value, each at its own node.
pub fn check_all(name: &str, key_mark: Mark, value: &Node) -> Result<(), Vec<Problem>> {
    let Some((_, expected)) = KNOWN.iter().find(|(n, _)| *n == name) else {
        let hint = suggest::did_you_mean(name, KNOWN.iter().map(|(k, _)| *k), Nearness::Edits(3));
        return Err(vec![Problem {
            mark: key_mark,
            message: format!("unknown fleetdeck variable `{name}`{hint}"),
        }]);
    };
    convert_all(name, value).map(|_| ()).map_err(|problems| {
        problems
            .into_iter()
            .map(|(mark, message)| Problem {
                mark,
                message: format!("`{name}`: {message}; expected {expected}"),
            })
            .collect()
    })
}

/// At most this many problems are reported for one variable.
const MAX_PROBLEMS: usize = 50;

/// Every problem of one value, each where it is: serde stops at the first, so after
/// each problem the node it is about is taken out of a copy and the value converted
/// again. A `missing field` that only the removal caused is not reported (the mapping
/// goes instead).
fn convert_all(name: &str, node: &Node) -> Result<Setting, Vec<(Mark, String)>> {
    let mut work = node.clone();
    let mut problems: Vec<(Mark, String)> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    for _ in 0..MAX_PROBLEMS * 4 {
        let (mark, message) = match convert(name, &work) {
            Ok(setting) if problems.is_empty() => return Ok(setting),
            Ok(_) => break,
            Err((mark, message)) => (mark.unwrap_or(work.mark), message),
        };
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(field, _)| field.to_string());
        if let Some(field) = &missing
            && removed.contains(field)
        {
            // A consequence of an earlier removal: drop the mapping, say nothing.
            if !remove_at(&mut work, mark, true, &mut removed) {
                break;
            }
            continue;
        }
        // A check of the whole value names its field as `app.field: …`.
        let mark = if mark == work.mark && missing.is_none() {
            locate(&work, &message).unwrap_or(mark)
        } else {
            mark
        };
        if problems.contains(&(mark, message.clone())) {
            break;
        }
        problems.push((mark, message));
        if problems.len() >= MAX_PROBLEMS
            || !remove_at(&mut work, mark, missing.is_some(), &mut removed)
        {
            break;
        }
    }
    Err(problems)
}

/// Removes the deepest entry at `mark` (a mapping's pair by its key or value, a list's
/// item); `container`: only a mapping or list there. Names of removed keys are added
/// to `removed`.
fn remove_at(node: &mut Node, mark: Mark, container: bool, removed: &mut Vec<String>) -> bool {
    let fits = |n: &Node| {
        n.mark == mark && (!container || matches!(n.value, Value::Map(_) | Value::Seq(_)))
    };
    match &mut node.value {
        Value::Map(pairs) => {
            if pairs
                .iter_mut()
                .any(|(_, v)| remove_at(v, mark, container, removed))
            {
                return true;
            }
            let at = pairs
                .iter()
                .position(|(k, v)| fits(v) || (!container && k.mark == mark));
            if let Some(i) = at {
                if let Some(k) = pairs[i].0.key_string() {
                    removed.push(k);
                }
                pairs.remove(i);
                return true;
            }
            false
        }
        Value::Seq(items) => {
            if items
                .iter_mut()
                .any(|item| remove_at(item, mark, container, removed))
            {
                return true;
            }
            match items.iter().position(fits) {
                Some(i) => {
                    items.remove(i);
                    true
                }
                None => false,
            }
        }
        _ => false,
    }
}

/// The node a whole-value message (`web.live_paths: "x" is not …`) is about: the path
/// before the first `: `, and in a list the item the message quotes.
fn locate(root: &Node, message: &str) -> Option<Mark> {
    let (path, rest) = message.split_once(": ")?;
    let mut node = root;
    for segment in path.split('.') {
        let pairs = node.as_map()?;
        node = &pairs
            .iter()
            .find(|(k, _)| k.key_string().as_deref() == Some(segment))?
            .1;
    }
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .find(|item| {
                item.as_str()
                    .is_some_and(|s| rest.contains(&format!("{s:?}")))
            })
            .map(|item| item.mark),
        _ => Some(node.mark),
    }
}

enum Setting {
    Apps(Vec<String>),
    Socket(String),
    HostKey(String),
    Firewall(DeclaredPolicy),
    Backups(Vec<BackupRepo>),
    Certificates(Vec<CertEndpoint>),
    Drills(Drills),
    Path(PathBuf),
    Lab(serde_json::Map<String, serde_json::Value>),
    Flag(bool),
    Text(String),
    Posture(PosturePolicy),
}

fn typed<T: DeserializeOwned>(node: &Node) -> Result<T, (Option<Mark>, String)> {
    from_node::<T>(node).map_err(|e| (e.mark, e.message))
}

fn templated(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

fn convert(name: &str, node: &Node) -> Result<Setting, (Option<Mark>, String)> {
    let here = |m: String| (Some(node.mark), m);
    Ok(match name {
        "fleetdeck_apps" => Setting::Apps(typed(node)?),
        "fleetdeck_docker_socket" => {
            let s: String = typed(node)?;
            if !s.starts_with('/') && !templated(&s) {
                return Err(here(format!("{s:?} is not an absolute path")));
            }
            Setting::Socket(s)
        }
        "fleetdeck_host_key" => {
            let s: String = typed(node)?;
            if !templated(&s) {
                check_fingerprint(&s).map_err(here)?;
            }
            Setting::HostKey(s)
        }
        "fleetdeck_firewall" => Setting::Firewall(typed(node)?),
        "fleetdeck_backups" => Setting::Backups(typed(node)?),
        "fleetdeck_certificates" => Setting::Certificates(typed(node)?),
        "fleetdeck_drills" => {
            let drills: Drills = typed(node)?;
            drill_spec::validate(&drills).map_err(here)?;
            Setting::Drills(drills)
        }
        "fleetdeck_read_only" | "fleetdeck_allow_unpinned" => Setting::Flag(typed(node)?),
        "fleetdeck_state_dir" => {
            let s: String = typed(node)?;
            if !s.starts_with('/') && !templated(&s) {
                return Err(here(format!("{s:?} is not an absolute path")));
            }
            Setting::Text(s)
        }
        "fleetdeck_container_prefix" => {
            let s: String = typed(node)?;
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
            if !templated(&s) && !s.chars().all(allowed) {
                return Err(here(format!("{s:?} cannot start a Docker container name")));
            }
            Setting::Text(s)
        }
        "fleetdeck_ssh_config"
        | "fleetdeck_known_hosts"
        | "fleetdeck_age_identity"
        | "fleetdeck_stacks_dir"
        | "fleetdeck_secrets" => {
            let s: String = typed(node)?;
            if s.is_empty() {
                return Err(here("empty path".into()));
            }
            Setting::Path(expand_tilde(&s))
        }
        "fleetdeck_posture" => Setting::Posture(super::posture::parse(node)?),
        "fleetdeck_lab" => match node.to_json() {
            serde_json::Value::Object(map) => Setting::Lab(map),
            _ => return Err(here(format!("found a {}", node.type_name()))),
        },
        _ => return Err(here("not a fleetdeck setting".into())),
    })
}

fn check_fingerprint(s: &str) -> Result<(), String> {
    let Some(b64) = s.strip_prefix("SHA256:") else {
        return Err(format!("{s:?} does not start with `SHA256:`"));
    };
    let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(b64.trim_end_matches('='))
        .map_err(|e| format!("{s:?} is not base64 after `SHA256:` ({e})"))?;
    if decoded.len() != 32 {
        return Err(format!(
            "{s:?} holds {} bytes, a SHA-256 fingerprint holds 32",
            decoded.len()
        ));
    }
    Ok(())
}

fn expand_tilde(s: &str) -> PathBuf {
    match (s.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ if s == "~" => std::env::var_os("HOME").map_or_else(|| PathBuf::from(s), PathBuf::from),
        _ => PathBuf::from(s),
    }
}

/// How long one setting's string may get once its variables are substituted.
pub const MAX_RENDERED_BYTES: usize = 1 << 20;

/// Resolves `{{ variable }}` in the strings of a setting, for one host. fleetdeck is
/// no Jinja engine: plain variable references are what inventories use in settings
/// (`{{ inventory_hostname }}.example.net`); anything else is refused, not guessed.
struct Templater<'a> {
    host: &'a str,
    vars: &'a BTreeMap<String, Sourced>,
}

impl Templater<'_> {
    fn node(&self, node: &Node) -> Result<Node, Problem> {
        let value = match &node.value {
            Value::Str(s) => Value::Str(self.string(s, node.mark)?),
            Value::Seq(items) => Value::Seq(
                items
                    .iter()
                    .map(|n| self.node(n))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Map(pairs) => Value::Map(
                pairs
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.node(v)?)))
                    .collect::<Result<_, Problem>>()?,
            ),
            other => other.clone(),
        };
        Ok(Node {
            value,
            mark: node.mark,
        })
    }

    /// `s` with its variables substituted, at most [`MAX_RENDERED_BYTES`] long.
    fn string(&self, s: &str, mark: Mark) -> Result<String, Problem> {
        self.string_at(s, mark, 0, &mut { MAX_RENDERED_BYTES })
    }

    /// Every byte of the result is taken from `left` once, where it is produced, so
    /// variables that repeat each other cannot multiply the work past the bound.
    fn spend(&self, n: usize, mark: Mark, left: &mut usize) -> Result<(), Problem> {
        if n > *left {
            return Err(Problem {
                mark,
                message: format!(
                    "the value expands to more than {} MiB for host {} (variables that repeat \
                     each other?)",
                    MAX_RENDERED_BYTES >> 20,
                    self.host
                ),
            });
        }
        *left -= n;
        Ok(())
    }

    fn string_at(
        &self,
        s: &str,
        mark: Mark,
        depth: usize,
        left: &mut usize,
    ) -> Result<String, Problem> {
        let fail = |message: String| Problem { mark, message };
        if depth > 10 {
            return Err(fail(format!(
                "variables refer to each other more than 10 deep for host {}",
                self.host
            )));
        }
        if s.contains("{%") || s.contains("{#") {
            return Err(fail(format!(
                "Jinja statements are not supported in fleetdeck settings: {s:?}"
            )));
        }
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("{{") {
            self.spend(start, mark, left)?;
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(fail(format!("unclosed `{{{{` in {s:?}")));
            };
            let expr = after[..end].trim();
            let is_name = expr
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && expr.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !is_name {
                return Err(fail(format!(
                    "fleetdeck resolves only `{{{{ variable }}}}` in its settings, not `{{{{ {expr} }}}}`"
                )));
            }
            out.push_str(&self.lookup(expr, mark, depth, left)?);
            rest = &after[end + 2..];
        }
        self.spend(rest.len(), mark, left)?;
        out.push_str(rest);
        Ok(out)
    }

    fn lookup(
        &self,
        name: &str,
        mark: Mark,
        depth: usize,
        left: &mut usize,
    ) -> Result<String, Problem> {
        let plain = |text: String, left: &mut usize| {
            self.spend(text.len(), mark, left)?;
            Ok(text)
        };
        match name {
            "inventory_hostname" => return plain(self.host.to_string(), left),
            "inventory_hostname_short" => {
                return plain(
                    self.host.split('.').next().unwrap_or(self.host).to_string(),
                    left,
                );
            }
            _ => {}
        }
        let Some(var) = self.vars.get(name) else {
            return Err(Problem {
                mark,
                message: format!("`{name}` is undefined for host {}", self.host),
            });
        };
        match &var.node.value {
            Value::Str(s) => self.string_at(s, mark, depth + 1, left),
            Value::Int(i) => plain(i.to_string(), left),
            Value::Float(f) => plain(f.to_string(), left),
            Value::Bool(b) => plain(if *b { "True" } else { "False" }.into(), left),
            _ => Err(Problem {
                mark,
                message: format!(
                    "`{name}` is a {} for host {}; only strings and numbers can be substituted",
                    var.node.type_name(),
                    self.host
                ),
            }),
        }
    }
}

/// Builds a host's settings from its merged variables. Errors name the file where the
/// winning value was written; `skip` leaves out values already reported as wrong.
pub(crate) fn for_host(
    host: &str,
    vars: &BTreeMap<String, Sourced>,
    skip: &dyn Fn(&Sourced) -> bool,
) -> Result<HostSettings, Vec<(Sourced, Problem)>> {
    let t = Templater { host, vars };
    let mut errors = Vec::new();
    let mut settings = HostSettings::defaults(host);
    for (name, var) in
        vars.range::<str, _>((Bound::Included("fleetdeck_"), Bound::Excluded("fleetdeck`")))
    {
        if skip(var) {
            continue;
        }
        let result = t.node(&var.node).map_err(|p| vec![p]).and_then(|node| {
            convert_all(name, &node).map_err(|problems| {
                let expected = KNOWN
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or("", |(_, e)| e);
                problems
                    .into_iter()
                    .map(|(mark, message)| Problem {
                        mark,
                        message: format!(
                            "`{name}` for host {host}: {message}; expected {expected}"
                        ),
                    })
                    .collect()
            })
        });
        match result {
            Ok(Setting::Apps(v)) => settings.apps = v,
            Ok(Setting::Socket(v)) => settings.docker_socket = v,
            Ok(Setting::HostKey(v)) => settings.host_key = Some(v),
            Ok(Setting::Firewall(v)) => settings.firewall = Some(v),
            Ok(Setting::Backups(v)) => settings.backups = v,
            Ok(Setting::Certificates(v)) => settings.certificates = v,
            Ok(Setting::Drills(v)) => settings.drills = v,
            Ok(Setting::Path(p)) => match name.as_str() {
                "fleetdeck_ssh_config" => settings.ssh_config = Some(p),
                "fleetdeck_known_hosts" => settings.known_hosts = Some(p),
                "fleetdeck_stacks_dir" => settings.stacks_dir = Some(p),
                "fleetdeck_secrets" => settings.secrets = Some(p),
                _ => settings.age_identity = Some(p),
            },
            Ok(Setting::Lab(m)) => settings.lab = Some(m),
            Ok(Setting::Posture(p)) => settings.posture = p,
            Ok(Setting::Flag(b)) => match name.as_str() {
                "fleetdeck_read_only" => settings.read_only = b,
                _ => settings.allow_unpinned = b,
            },
            Ok(Setting::Text(t)) => match name.as_str() {
                "fleetdeck_state_dir" => settings.state_dir = t,
                _ => settings.container_prefix = t,
            },
            Err(problems) => {
                for problem in problems {
                    errors.push((var.clone(), problem));
                }
            }
        }
    }
    settings.ssh.host_key_pin = settings.host_key.clone();

    // Ansible's ssh connection plugin reads these; of two spellings the later wins.
    let mut string_var = |names: &[&str]| -> Option<String> {
        let (_, var) = names
            .iter()
            .rev()
            .find_map(|n| vars.get(*n).map(|v| (n, v)))?;
        let result = match &var.node.value {
            Value::Str(s) => t.string(s, var.node.mark),
            Value::Int(_) | Value::Float(_) => Ok(var.node.to_json().to_string()),
            _ => Err(Problem {
                mark: var.node.mark,
                message: format!(
                    "`{}` for host {host} is a {}, expected a string",
                    names.last().copied().unwrap_or_default(),
                    var.node.type_name()
                ),
            }),
        };
        result.map_err(|p| errors.push((var.clone(), p))).ok()
    };
    settings.ssh.host = string_var(&["ansible_host", "ansible_ssh_host"]);
    settings.ssh.user = string_var(&["ansible_user", "ansible_ssh_user"]);
    settings.ssh.private_key_file =
        string_var(&["ansible_private_key_file", "ansible_ssh_private_key_file"]);
    let port = string_var(&["ansible_port", "ansible_ssh_port"]);
    if let Some(port) = port {
        match port.trim().parse::<u16>() {
            Ok(p) if p > 0 => settings.ssh.port = Some(p),
            _ => {
                if let Some(var) = vars
                    .get("ansible_ssh_port")
                    .or_else(|| vars.get("ansible_port"))
                {
                    errors.push((
                        var.clone(),
                        Problem {
                            mark: var.node.mark,
                            message: format!(
                                "`ansible_port` for host {host} is {port:?}, expected a port number (1-65535)"
                            ),
                        },
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(settings)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::yaml::load;

    fn node(text: &str) -> Node {
        load(text).expect("yaml").0.expect("doc")
    }

    #[test]
    fn misspelled_names_suggest_the_known_one() {
        let err =
            check("fleetdeck_aps", Mark { line: 3, column: 5 }, &node("[a]")).expect_err("unknown");
        assert_eq!(err.mark, Mark { line: 3, column: 5 });
        assert!(
            err.message.contains("did you mean `fleetdeck_apps`"),
            "{}",
            err.message
        );
        let err = check("fleetdeck_zzzzzzzzzz", Mark::default(), &node("1")).expect_err("unknown");
        assert!(!err.message.contains("did you mean"), "{}", err.message);
    }

    /// Every `fleetdeck_*` setting in docs/inventory.md's table is known to the parser,
    /// and every known one is in the table.
    #[test]
    fn the_settings_table_in_the_docs_matches_the_parser() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/inventory.md"))
                .expect("docs/inventory.md");
        let documented: std::collections::BTreeSet<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `fleetdeck_"))
            .filter_map(|rest| rest.split_once('`'))
            .map(|(name, _)| name)
            .collect();
        let known: std::collections::BTreeSet<&str> = KNOWN
            .iter()
            .map(|(n, _)| n.strip_prefix("fleetdeck_").unwrap_or(n))
            .collect();
        assert_eq!(
            documented.difference(&known).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "documented in docs/inventory.md but unknown to the parser"
        );
        assert_eq!(
            known.difference(&documented).collect::<Vec<_>>(),
            Vec::<&&str>::new(),
            "known to the parser but missing from docs/inventory.md's table"
        );
        // Every known name is also one `convert` takes.
        for (name, _) in KNOWN {
            assert!(
                !matches!(convert(name, &node("x: 1")), Err((_, m)) if m == "not a fleetdeck setting"),
                "{name}"
            );
        }
    }

    #[test]
    fn fingerprints_are_checked() {
        let good = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
        assert!(check_fingerprint(good).is_ok());
        assert!(check_fingerprint("MD5:aa").is_err());
        assert!(check_fingerprint("SHA256:abc").is_err());
        let err =
            check("fleetdeck_host_key", Mark::default(), &node("SHA256:abc")).expect_err("short");
        assert!(err.message.contains("32"), "{}", err.message);
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        let n = node("x: [1, 2]");
        let v = &n.as_map().expect("map")[0].1;
        let err = check("fleetdeck_docker_socket", Mark::default(), v).expect_err("type");
        assert!(
            err.message.contains("expected an absolute path"),
            "{}",
            err.message
        );
        assert_eq!(err.mark, Mark { line: 1, column: 4 });
    }
}
