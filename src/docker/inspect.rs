//! A container's inspect data as rows for a detail pane, safe to show on a shared
//! screen: every string sanitized, and values that look like secrets masked unless
//! the operator explicitly asked to reveal them.
//!
//! Masking errs on the side of hiding: a key that merely contains a secret-looking
//! word (`KEY` in `GPG_KEY`, `AUTH` in `OAUTH_CALLBACK`) is masked too. A false
//! positive costs a keypress to reveal; a false negative puts a password on a screen
//! that may be shared, recorded or photographed.

use std::collections::BTreeMap;

use bollard::Docker;
use bollard::errors::Error;
use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum, RestartPolicyNameEnum,
};

use crate::sanitize;

/// What a masked value is shown as: always the same length, so the mask does not
/// tell how long the secret is.
pub const MASK: &str = "••••••";

/// Label the deployment core puts on a container whose environment carries secrets:
/// the variables' names, comma-separated (never their values).
pub const SECRET_ENV_LABEL: &str = "fleetdeck.secret-env";

/// Words that make a key look secret, matched anywhere in the key, upper-cased.
const SECRET_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "TOKEN",
    "KEY",
    "PRIVATE",
    "CREDENTIAL",
    "AUTH",
    "API_KEY",
    "APIKEY",
    "DSN",
];

/// Key words that contain a secret word yet name something public; only the
/// standard OCI label `org.opencontainers.image.authors` is common enough to matter.
const INNOCENT_WORDS: &[&str] = &["AUTHOR", "AUTHORS"];

/// The pane's groups of rows, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    Container,
    Ports,
    Mounts,
    Networks,
    Labels,
    Env,
}

impl Section {
    pub fn title(self) -> &'static str {
        match self {
            Section::Container => "Container",
            Section::Ports => "Ports",
            Section::Mounts => "Mounts",
            Section::Networks => "Networks",
            Section::Labels => "Labels",
            Section::Env => "Environment",
        }
    }
}

/// One line of the pane. Both strings are sanitized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectRow {
    pub section: Section,
    pub key: String,
    /// The value as it should be shown: secrets replaced by [`MASK`] unless revealed.
    pub value: String,
    /// The value holds (or is) something secret-looking: masked now, or shown only
    /// because the view was built with `reveal` (the pane can flag that).
    pub secret: bool,
}

/// A container's inspect data as rows, grouped by [`Section`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InspectView {
    pub rows: Vec<InspectRow>,
    /// Whether secret-looking values are shown in clear.
    pub revealed: bool,
}

/// Inspects `container_id` and builds its view; secrets are shown only if `reveal`.
pub async fn inspect(
    docker: &Docker,
    container_id: &str,
    reveal: bool,
) -> Result<InspectView, Error> {
    let details = super::clean::inspect_container(docker, container_id).await?;
    Ok(InspectView::new(&details, reveal))
}

/// [`inspect`], as `(key, value)` lines ([`InspectView::lines`]).
pub async fn inspect_lines(
    docker: &Docker,
    container_id: &str,
    reveal: bool,
) -> Result<Vec<(String, String)>, Error> {
    Ok(inspect(docker, container_id, reveal).await?.lines())
}

impl InspectView {
    /// The rows for one inspected container (pure). Rebuild with `reveal` toggled to
    /// show or hide secrets; nothing secret is kept beyond what the rows show.
    pub fn new(details: &ContainerInspectResponse, reveal: bool) -> InspectView {
        let mut rows = Rows {
            rows: Vec::new(),
            reveal,
        };
        container_rows(&mut rows, details);
        port_rows(&mut rows, details);
        mount_rows(&mut rows, details);
        network_rows(&mut rows, details);
        let config = details.config.as_ref();
        let labels: BTreeMap<&String, &String> = config
            .and_then(|c| c.labels.as_ref())
            .map(|labels| labels.iter().collect())
            .unwrap_or_default();
        for (key, value) in &labels {
            if key.as_str() == SECRET_ENV_LABEL {
                // Names, not values: nothing to hide.
                rows.plain(Section::Labels, key, value);
            } else {
                rows.assignment(Section::Labels, key, value);
            }
        }
        // The deployment core names the variables that carry a secret (the stack's
        // `x-fleetdeck-secret-env`): masked whatever they are called.
        let declared: Vec<&str> = labels
            .iter()
            .find(|(k, _)| k.as_str() == SECRET_ENV_LABEL)
            .map(|(_, v)| v.split(',').map(str::trim).collect())
            .unwrap_or_default();
        for entry in config.and_then(|c| c.env.as_ref()).into_iter().flatten() {
            let (key, value) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
            if declared.contains(&key) {
                rows.secret(Section::Env, key, value);
            } else {
                rows.assignment(Section::Env, key, value);
            }
        }
        InspectView {
            rows: rows.rows,
            revealed: reveal,
        }
    }

    /// Rows of one section, in order.
    pub fn section(&self, section: Section) -> impl Iterator<Item = &InspectRow> {
        self.rows.iter().filter(move |r| r.section == section)
    }

    /// The rows as `(key, value)` lines: each section after the first opens with a
    /// `(title, "")` line, and its rows' keys are indented by two spaces.
    pub fn lines(&self) -> Vec<(String, String)> {
        let mut lines = Vec::with_capacity(self.rows.len() + 6);
        let mut current = Section::Container;
        for row in &self.rows {
            if row.section != current {
                current = row.section;
                lines.push((current.title().to_owned(), String::new()));
            }
            let key = if current == Section::Container {
                row.key.clone()
            } else {
                format!("  {}", row.key)
            };
            lines.push((key, row.value.clone()));
        }
        lines
    }

    /// Rows currently hiding a secret: what revealing would show.
    pub fn masked(&self) -> usize {
        if self.revealed {
            0
        } else {
            self.rows.iter().filter(|r| r.secret).count()
        }
    }
}

struct Rows {
    rows: Vec<InspectRow>,
    reveal: bool,
}

impl Rows {
    /// A row whose value is public (after sanitizing).
    fn plain(&mut self, section: Section, key: &str, value: &str) {
        self.rows.push(InspectRow {
            section,
            key: sanitize::line(key),
            value: sanitize::line(value),
            secret: false,
        });
    }

    /// `KEY=value` (an env entry or a label): masked whole when the key looks secret,
    /// otherwise with passwords in URLs masked. An empty value is shown as empty: it
    /// reveals nothing, and an empty password is a misconfiguration worth seeing.
    fn assignment(&mut self, section: Section, key: &str, value: &str) {
        let key = sanitize::line(key);
        let clean = sanitize::line(value);
        let (shown, secret) = if looks_secret(&key) && !clean.is_empty() {
            (MASK.to_owned(), true)
        } else {
            match mask_url_passwords(&clean) {
                Some(masked) => (masked, true),
                None => (clean.clone(), false),
            }
        };
        self.rows.push(InspectRow {
            section,
            key,
            value: if self.reveal { clean } else { shown },
            secret,
        });
    }

    /// `KEY=value` known to hold a secret: masked (unless revealed), whatever the key.
    fn secret(&mut self, section: Section, key: &str, value: &str) {
        let clean = sanitize::line(value);
        self.rows.push(InspectRow {
            section,
            key: sanitize::line(key),
            secret: !clean.is_empty(),
            value: if self.reveal || clean.is_empty() {
                clean
            } else {
                MASK.to_owned()
            },
        });
    }

    /// A command line: `--password=…`, `--token …`, `SECRET=…` words and URL
    /// passwords masked.
    fn command(&mut self, key: &str, words: &[String]) {
        let clean = words
            .iter()
            .map(|w| quote(&sanitize::line(w)))
            .collect::<Vec<_>>()
            .join(" ");
        let masked = mask_command(&clean);
        let secret = masked != clean;
        self.rows.push(InspectRow {
            section: Section::Container,
            key: key.to_owned(),
            value: if self.reveal || !secret {
                clean
            } else {
                masked
            },
            secret,
        });
    }
}

fn container_rows(rows: &mut Rows, details: &ContainerInspectResponse) {
    let s = Section::Container;
    let name = details.name.as_deref().unwrap_or("");
    rows.plain(s, "Name", name.trim_start_matches('/'));
    let id: String = details
        .id
        .as_deref()
        .unwrap_or("")
        .chars()
        .take(12)
        .collect();
    rows.plain(s, "ID", &id);
    let config = details.config.as_ref();
    let image = config
        .and_then(|c| c.image.as_deref())
        .or(details.image.as_deref())
        .unwrap_or("");
    rows.plain(s, "Image", image);
    if let Some(image_id) = details.image.as_deref() {
        rows.plain(s, "Image ID", image_id);
    }
    let command: Vec<String> = config
        .map(|c| {
            let entrypoint = c.entrypoint.iter().flatten();
            entrypoint.chain(c.cmd.iter().flatten()).cloned().collect()
        })
        .unwrap_or_default();
    rows.command("Command", &command);
    if let Some(created) = details.created.as_deref() {
        rows.plain(s, "Created", created);
    }
    rows.plain(s, "State", &state_text(details));
    if let Some(error) = details
        .state
        .as_ref()
        .and_then(|st| st.error.as_deref())
        .filter(|e| !e.is_empty())
    {
        rows.plain(s, "Error", error);
    }
    rows.plain(
        s,
        "Restarts",
        &details.restart_count.unwrap_or(0).to_string(),
    );
    rows.plain(s, "Restart policy", &restart_policy(details));
}

fn state_text(details: &ContainerInspectResponse) -> String {
    let Some(state) = details.state.as_ref() else {
        return "unknown".to_owned();
    };
    let mut text = state
        .status
        .map(|s| s.to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    match state.health.as_ref().and_then(|h| h.status) {
        Some(HealthStatusEnum::HEALTHY) => text.push_str(" (healthy)"),
        Some(HealthStatusEnum::UNHEALTHY) => text.push_str(" (unhealthy)"),
        Some(HealthStatusEnum::STARTING) => text.push_str(" (health: starting)"),
        _ => {}
    }
    let never = |t: &&str| !t.starts_with("0001-");
    if state.running == Some(true) {
        if let Some(started) = state.started_at.as_deref().filter(never) {
            text.push_str(&format!(", since {started}"));
        }
    } else {
        let ended = matches!(
            state.status,
            Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD)
        );
        if let Some(code) = state.exit_code.filter(|_| ended) {
            text.push_str(&format!(", exit code {code}"));
        }
        if let Some(finished) = state.finished_at.as_deref().filter(never) {
            text.push_str(&format!(", at {finished}"));
        }
    }
    if state.oom_killed == Some(true) {
        text.push_str(", OOM-killed");
    }
    text
}

fn restart_policy(details: &ContainerInspectResponse) -> String {
    let policy = details
        .host_config
        .as_ref()
        .and_then(|h| h.restart_policy.as_ref());
    match policy.and_then(|p| p.name) {
        None | Some(RestartPolicyNameEnum::EMPTY) | Some(RestartPolicyNameEnum::NO) => {
            "no".to_owned()
        }
        Some(RestartPolicyNameEnum::ON_FAILURE) => {
            match policy
                .and_then(|p| p.maximum_retry_count)
                .filter(|&n| n > 0)
            {
                Some(max) => format!("on-failure (at most {max} retries)"),
                None => "on-failure".to_owned(),
            }
        }
        Some(other) => other.to_string(),
    }
}

fn port_rows(rows: &mut Rows, details: &ContainerInspectResponse) {
    let ports: BTreeMap<_, _> = details
        .network_settings
        .as_ref()
        .and_then(|n| n.ports.as_ref())
        .map(|ports| ports.iter().collect())
        .unwrap_or_default();
    for (port, bindings) in ports {
        let published: Vec<String> = bindings
            .iter()
            .flatten()
            .map(|b| {
                let ip = b.host_ip.as_deref().filter(|ip| !ip.is_empty());
                let port = b.host_port.as_deref().unwrap_or("");
                match ip {
                    Some(ip) if ip.contains(':') => format!("[{ip}]:{port}"),
                    Some(ip) => format!("{ip}:{port}"),
                    None => port.to_owned(),
                }
            })
            .collect();
        let value = if published.is_empty() {
            "not published".to_owned()
        } else {
            published.join(", ")
        };
        rows.plain(Section::Ports, port, &value);
    }
}

fn mount_rows(rows: &mut Rows, details: &ContainerInspectResponse) {
    for mount in details.mounts.iter().flatten() {
        let kind = mount
            .typ
            .as_deref()
            .filter(|t| !t.is_empty())
            .unwrap_or("mount");
        let source = mount
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .or(mount.source.as_deref())
            .unwrap_or("");
        let access = if mount.rw == Some(false) { "ro" } else { "rw" };
        let value = format!("{kind} {source} ({access})");
        rows.plain(
            Section::Mounts,
            mount.destination.as_deref().unwrap_or(""),
            &value,
        );
    }
}

fn network_rows(rows: &mut Rows, details: &ContainerInspectResponse) {
    let networks: BTreeMap<_, _> = details
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|networks| networks.iter().collect())
        .unwrap_or_default();
    for (name, endpoint) in networks {
        let ip = endpoint.ip_address.as_deref().filter(|ip| !ip.is_empty());
        let value = match (ip, endpoint.ip_prefix_len) {
            (Some(ip), Some(len)) if len > 0 => format!("{ip}/{len}"),
            (Some(ip), _) => ip.to_owned(),
            (None, _) => "no address".to_owned(),
        };
        rows.plain(Section::Networks, name, &value);
    }
}

/// Whether a variable, label or flag name suggests its value is a secret.
pub fn looks_secret(key: &str) -> bool {
    let upper = key.to_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !INNOCENT_WORDS.contains(w))
        .collect();
    let joined = words.join("_");
    SECRET_WORDS.iter().any(|word| joined.contains(word))
}

/// `text` with the password of every URL (`scheme://user:password@host`) replaced by
/// [`MASK`]; `None` when there was none.
pub fn mask_url_passwords(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut masked = false;
    while let Some(scheme_end) = rest.find("://") {
        let authority_start = scheme_end + 3;
        out.push_str(&rest[..authority_start]);
        rest = &rest[authority_start..];
        let authority_len = rest
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(rest.len());
        let authority = &rest[..authority_len];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
            && colon + 1 < at
        {
            out.push_str(&authority[..=colon]);
            out.push_str(MASK);
            out.push_str(&authority[at..]);
            masked = true;
        } else {
            out.push_str(authority);
        }
        rest = &rest[authority_len..];
    }
    out.push_str(rest);
    masked.then_some(out)
}

/// Masks secret-looking `NAME=value` and `--flag=value` words, the word after a
/// secret-looking `--flag`, and URL passwords, in a command line shown word by word.
fn mask_command(command: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut mask_next = false;
    for word in command.split(' ') {
        if mask_next && !word.is_empty() {
            out.push(keep_quotes(word, MASK));
            mask_next = false;
            continue;
        }
        let bare = word.trim_matches(|c| c == '\'' || c == '"');
        if let Some((name, value)) = bare.split_once('=') {
            if !value.is_empty() && looks_secret(name.trim_start_matches('-')) {
                let prefix_len = word.find('=').map_or(0, |i| i + 1);
                out.push(keep_quotes(&word[..prefix_len], MASK) + closing_quote(word));
                continue;
            }
        } else if bare.starts_with('-') && looks_secret(bare.trim_start_matches('-')) {
            mask_next = true;
        }
        out.push(mask_url_passwords(word).unwrap_or_else(|| word.to_owned()));
    }
    out.join(" ")
}

/// `word`'s opening quote (if any) kept in front of `replacement`.
fn keep_quotes(word: &str, replacement: &str) -> String {
    if word.ends_with('=') {
        return format!("{word}{replacement}");
    }
    let open = word
        .chars()
        .next()
        .filter(|c| *c == '\'' || *c == '"')
        .map(String::from)
        .unwrap_or_default();
    format!("{open}{replacement}{}", closing_quote(word))
}

fn closing_quote(word: &str) -> &'static str {
    if word.len() > 1 && word.ends_with('\'') {
        "'"
    } else if word.len() > 1 && word.ends_with('"') {
        "\""
    } else {
        ""
    }
}

/// An argument as it could be typed: quoted when it holds a space or is empty.
fn quote(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains(' ') {
        arg.to_owned()
    } else if !arg.contains('"') {
        format!("\"{arg}\"")
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{
        ContainerConfig, ContainerState, EndpointSettings, Health, HostConfig, MountPoint,
        NetworkSettings, PortBinding, RestartPolicy,
    };
    use std::collections::HashMap;

    fn details(env: &[&str], labels: &[(&str, &str)], cmd: &[&str]) -> ContainerInspectResponse {
        ContainerInspectResponse {
            id: Some("3f2a9c1b7d4e5f60718293a4b5c6d7e8".to_owned()),
            name: Some("/web".to_owned()),
            image: Some("sha256:abcdef".to_owned()),
            created: Some("2024-05-01T12:00:00.000000000Z".to_owned()),
            restart_count: Some(2),
            state: Some(ContainerState {
                status: Some(ContainerStateStatusEnum::RUNNING),
                running: Some(true),
                started_at: Some("2024-05-01T12:00:01Z".to_owned()),
                health: Some(Health {
                    status: Some(HealthStatusEnum::HEALTHY),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::ON_FAILURE),
                    maximum_retry_count: Some(5),
                }),
                ..Default::default()
            }),
            config: Some(ContainerConfig {
                image: Some("fleetdeck-lab/app:1.0".to_owned()),
                env: Some(env.iter().map(|s| s.to_string()).collect()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            }),
            mounts: Some(vec![MountPoint {
                typ: Some("bind".to_owned()),
                source: Some("/srv/web".to_owned()),
                destination: Some("/data".to_owned()),
                rw: Some(false),
                ..Default::default()
            }]),
            network_settings: Some(NetworkSettings {
                ports: Some(HashMap::from([
                    (
                        "80/tcp".to_owned(),
                        Some(vec![
                            PortBinding {
                                host_ip: Some("0.0.0.0".to_owned()),
                                host_port: Some("8080".to_owned()),
                            },
                            PortBinding {
                                host_ip: Some("::".to_owned()),
                                host_port: Some("8080".to_owned()),
                            },
                        ]),
                    ),
                    ("9000/tcp".to_owned(), None),
                ])),
                networks: Some(HashMap::from([(
                    "bridge".to_owned(),
                    EndpointSettings {
                        ip_address: Some("172.17.0.2".to_owned()),
                        ip_prefix_len: Some(16),
                        ..Default::default()
                    },
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn value<'a>(view: &'a InspectView, section: Section, key: &str) -> &'a str {
        view.section(section)
            .find(|r| r.key == key)
            .map(|r| r.value.as_str())
            .unwrap_or_else(|| panic!("no {key} in {section:?}: {:#?}", view.rows))
    }

    #[test]
    fn secret_looking_keys() {
        for key in [
            "POSTGRES_PASSWORD",
            "DB_PASSWD",
            "GPG_PASSPHRASE",
            "SECRET_KEY_BASE",
            "GITHUB_TOKEN",
            "AWS_ACCESS_KEY_ID",
            "PRIVATE_KEY_PATH",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "BASIC_AUTH",
            "traefik.http.middlewares.admin.basicauth.users",
            "STRIPE_API_KEY",
            "apikey",
            "SENTRY_DSN",
            "db.password",
            "oauthClientSecret",
        ] {
            assert!(looks_secret(key), "{key} should look secret");
        }
        for key in [
            "PATH",
            "HOME",
            "PWD",
            "HOSTNAME",
            "LANG",
            "TZ",
            "DATABASE_HOST",
            "org.opencontainers.image.authors",
            "com.docker.compose.project",
            "fleetdeck.app",
        ] {
            assert!(!looks_secret(key), "{key} should not look secret");
        }
    }

    #[test]
    fn variables_the_deployment_core_declares_secret_are_masked_whatever_their_name() {
        let details = ContainerInspectResponse {
            config: Some(ContainerConfig {
                env: Some(vec![
                    "ACME_HANDSHAKE=s3cr3t-value".to_owned(),
                    "EMPTY_ONE=".to_owned(),
                    "REGION=eu-west".to_owned(),
                ]),
                labels: Some(HashMap::from([(
                    SECRET_ENV_LABEL.to_owned(),
                    "ACME_HANDSHAKE, EMPTY_ONE".to_owned(),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let view = InspectView::new(&details, false);
        assert_eq!(value(&view, Section::Env, "ACME_HANDSHAKE"), MASK);
        assert_eq!(value(&view, Section::Env, "EMPTY_ONE"), "");
        assert_eq!(value(&view, Section::Env, "REGION"), "eu-west");
        assert_eq!(view.masked(), 1, "an empty value reveals nothing");
        let revealed = InspectView::new(&details, true);
        assert_eq!(
            value(&revealed, Section::Env, "ACME_HANDSHAKE"),
            "s3cr3t-value"
        );
        // The label itself holds names only.
        assert_eq!(
            value(&view, Section::Labels, SECRET_ENV_LABEL),
            "ACME_HANDSHAKE, EMPTY_ONE"
        );
    }

    #[test]
    fn url_passwords_are_masked_and_only_them() {
        assert_eq!(
            mask_url_passwords("postgres://app:hunter2@db:5432/app?sslmode=require").as_deref(),
            Some("postgres://app:••••••@db:5432/app?sslmode=require")
        );
        assert_eq!(
            mask_url_passwords("redis://:s3cret@cache:6379/0").as_deref(),
            Some("redis://:••••••@cache:6379/0")
        );
        // A password holding an `@`: the last one ends the user info.
        assert_eq!(
            mask_url_passwords("amqp://u:p@ss@mq").as_deref(),
            Some("amqp://u:••••••@mq")
        );
        assert_eq!(
            mask_url_passwords("a=http://x:1@h b=https://y:2@k").as_deref(),
            Some("a=http://x:••••••@h b=https://y:••••••@k")
        );
        assert_eq!(mask_url_passwords("https://example.com/a@b:c"), None);
        assert_eq!(mask_url_passwords("ssh://git@host:22/repo"), None);
        assert_eq!(mask_url_passwords("http://user@host"), None);
        assert_eq!(mask_url_passwords("no url here"), None);
    }

    #[test]
    fn env_and_labels_are_masked_unless_revealed() {
        let d = details(
            &[
                "PATH=/usr/bin:/bin",
                "POSTGRES_PASSWORD=hunter2",
                "DATABASE_URL=postgres://app:hunter2@db/app",
                "EMPTY_TOKEN=",
                "FLAG",
            ],
            &[
                ("fleetdeck.app", "web"),
                (
                    "traefik.http.middlewares.a.basicauth.users",
                    "admin:$apr1$x",
                ),
            ],
            &[],
        );
        let view = InspectView::new(&d, false);
        assert_eq!(value(&view, Section::Env, "PATH"), "/usr/bin:/bin");
        assert_eq!(value(&view, Section::Env, "POSTGRES_PASSWORD"), MASK);
        assert_eq!(
            value(&view, Section::Env, "DATABASE_URL"),
            "postgres://app:••••••@db/app"
        );
        assert_eq!(value(&view, Section::Env, "EMPTY_TOKEN"), "");
        assert_eq!(value(&view, Section::Env, "FLAG"), "");
        assert_eq!(value(&view, Section::Labels, "fleetdeck.app"), "web");
        assert_eq!(
            value(
                &view,
                Section::Labels,
                "traefik.http.middlewares.a.basicauth.users"
            ),
            MASK
        );
        assert_eq!(view.masked(), 3);
        assert!(
            view.rows.iter().all(|r| !r.value.contains("hunter2")),
            "{:#?}",
            view.rows
        );

        let revealed = InspectView::new(&d, true);
        assert_eq!(
            value(&revealed, Section::Env, "POSTGRES_PASSWORD"),
            "hunter2"
        );
        assert_eq!(
            value(&revealed, Section::Env, "DATABASE_URL"),
            "postgres://app:hunter2@db/app"
        );
        assert_eq!(revealed.masked(), 0);
        assert!(
            revealed
                .section(Section::Env)
                .find(|r| r.key == "POSTGRES_PASSWORD")
                .is_some_and(|r| r.secret),
            "a revealed secret is still flagged"
        );
    }

    #[test]
    fn command_line_secrets_are_masked() {
        let d = details(
            &[],
            &[],
            &[
                "server",
                "--listen=:80",
                "--db-password=hunter2",
                "--token",
                "abc123",
                "--upstream",
                "http://u:pw@up",
                "sh -c 'API_KEY=xyz run'",
            ],
        );
        let view = InspectView::new(&d, false);
        let command = value(&view, Section::Container, "Command");
        assert_eq!(
            command,
            "server --listen=:80 --db-password=•••••• --token •••••• --upstream \
             http://u:••••••@up \"sh -c 'API_KEY=•••••• run'\""
        );
        for secret in ["hunter2", "abc123", "pw@", "xyz"] {
            assert!(!command.contains(secret), "{secret} in {command}");
        }
        let revealed = InspectView::new(&d, true);
        assert!(value(&revealed, Section::Container, "Command").contains("--token abc123"));
    }

    #[test]
    fn the_pane_lists_what_an_operator_checks() {
        let d = details(&[], &[], &["sleep", "infinity"]);
        let view = InspectView::new(&d, false);
        assert_eq!(value(&view, Section::Container, "Name"), "web");
        assert_eq!(value(&view, Section::Container, "ID"), "3f2a9c1b7d4e");
        assert_eq!(
            value(&view, Section::Container, "Image"),
            "fleetdeck-lab/app:1.0"
        );
        assert_eq!(
            value(&view, Section::Container, "Command"),
            "sleep infinity"
        );
        assert_eq!(
            value(&view, Section::Container, "State"),
            "running (healthy), since 2024-05-01T12:00:01Z"
        );
        assert_eq!(value(&view, Section::Container, "Restarts"), "2");
        assert_eq!(
            value(&view, Section::Container, "Restart policy"),
            "on-failure (at most 5 retries)"
        );
        assert_eq!(
            value(&view, Section::Ports, "80/tcp"),
            "0.0.0.0:8080, [::]:8080"
        );
        assert_eq!(value(&view, Section::Ports, "9000/tcp"), "not published");
        assert_eq!(value(&view, Section::Mounts, "/data"), "bind /srv/web (ro)");
        assert_eq!(value(&view, Section::Networks, "bridge"), "172.17.0.2/16");
        let order: Vec<Section> = view.rows.iter().map(|r| r.section).collect();
        assert!(order.is_sorted(), "sections in display order: {order:?}");
    }

    #[test]
    fn lines_group_rows_under_section_titles() {
        let d = details(&["A=1"], &[], &[]);
        let lines = InspectView::new(&d, false).lines();
        assert_eq!(lines[0], ("Name".to_owned(), "web".to_owned()));
        let env = lines
            .iter()
            .position(|(k, v)| k == "Environment" && v.is_empty())
            .expect("an Environment title");
        assert_eq!(lines[env + 1], ("  A".to_owned(), "1".to_owned()));
        assert!(lines.iter().any(|(k, _)| k == "Ports"));
    }

    #[test]
    fn exited_state_shows_code_and_time() {
        let mut d = details(&[], &[], &[]);
        d.state = Some(ContainerState {
            status: Some(ContainerStateStatusEnum::EXITED),
            running: Some(false),
            exit_code: Some(137),
            oom_killed: Some(true),
            finished_at: Some("2024-05-01T13:00:00Z".to_owned()),
            error: Some("\u{1b}[31mboom".to_owned()),
            ..Default::default()
        });
        let view = InspectView::new(&d, false);
        assert_eq!(
            value(&view, Section::Container, "State"),
            "exited, exit code 137, at 2024-05-01T13:00:00Z, OOM-killed"
        );
        assert_eq!(value(&view, Section::Container, "Error"), "boom");
    }

    #[test]
    fn every_remote_string_is_sanitized() {
        let mut d = details(
            &["GREETING=\u{1b}]0;pwned\u{7}hello\u{9b}2J", "\u{1b}[2JX=1"],
            &[("evil\u{202e}gpj.exe", "\u{1b}]52;c;ZXZpbA==\u{7}v")],
            &["echo", "\u{1b}[1;1Hmoved"],
        );
        d.name = Some("/we\u{1b}[31mb".to_owned());
        for reveal in [false, true] {
            let view = InspectView::new(&d, reveal);
            assert_eq!(value(&view, Section::Container, "Name"), "web");
            assert_eq!(value(&view, Section::Env, "GREETING"), "hello");
            assert_eq!(value(&view, Section::Env, "X"), "1");
            assert_eq!(value(&view, Section::Labels, "evil\\u{202e}gpj.exe"), "v");
            assert_eq!(value(&view, Section::Container, "Command"), "echo moved");
            for row in &view.rows {
                for text in [&row.key, &row.value] {
                    assert!(
                        !text
                            .chars()
                            .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
                        "{text:?}"
                    );
                }
            }
        }
    }
}
