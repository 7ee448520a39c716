//! Desired state and the plan: what each host should run (its apps' stacks, rendered
//! with its variables, and their secrets), compared with what runs there.
//!
//! Desired state is built for every selected host before anything connects, so a
//! missing template variable, an unpinned image or an unreadable secret stops the
//! whole run before any host is touched.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bollard::Docker;
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::ListContainersOptionsBuilder;
use serde::Serialize;

use crate::fleet::target::Target;
use crate::sanitize;
use crate::secrets::{self, SecretValue};
use crate::stack::labels::{APP_LABEL, HASH_LABEL, NEXT_SUFFIX, OLDEST_SUFFIX};
use crate::stack::{self, Service, Stack, StackPolicy};

/// Age identities, loaded once per identity file (hosts may name their own with
/// `fleetdeck_age_identity`), so a passphrase is asked at most once per file.
pub struct IdentityCache {
    prompt: Box<dyn secrets::PassphrasePrompt + Send + Sync>,
    /// For a cache that never asks ([`IdentityCache::unattended`]): raised by its
    /// prompt when an identity file turned out to need a passphrase.
    declined: Option<Arc<AtomicBool>>,
    loaded: BTreeMap<Option<PathBuf>, Result<secrets::Identities, IdentityError>>,
}

/// Why no identity could be loaded.
#[derive(Debug, Clone)]
pub struct IdentityError {
    pub message: String,
    /// The identity file is passphrase-protected and the cache may not ask.
    pub needs_passphrase: bool,
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The prompt of an unattended cache: never asks, and remembers that it was asked.
struct Unattended {
    declined: Arc<AtomicBool>,
}

impl secrets::PassphrasePrompt for Unattended {
    fn ask(&self, _: &Path, _: bool) -> Option<zeroize::Zeroizing<String>> {
        self.declined.store(true, Ordering::Relaxed);
        None
    }
    fn declined_reason(&self) -> &'static str {
        "it is passphrase-protected and a passphrase cannot be asked for here"
    }
}

impl IdentityCache {
    pub fn new(prompt: Box<dyn secrets::PassphrasePrompt + Send + Sync>) -> IdentityCache {
        IdentityCache {
            prompt,
            declined: None,
            loaded: BTreeMap::new(),
        }
    }

    /// A cache that never asks for a passphrase (the console's and `status`'s
    /// comparisons, which run with nobody to answer): a passphrase-protected identity
    /// fails with [`IdentityError::needs_passphrase`] set.
    pub fn unattended() -> IdentityCache {
        let declined = Arc::new(AtomicBool::new(false));
        IdentityCache {
            prompt: Box::new(Unattended {
                declined: declined.clone(),
            }),
            declined: Some(declined),
            loaded: BTreeMap::new(),
        }
    }

    /// Whether loading an identity may ask someone for a passphrase.
    pub fn may_ask(&self) -> bool {
        self.declined.is_none()
    }

    fn get(&mut self, explicit: Option<&Path>) -> Result<&secrets::Identities, IdentityError> {
        let key = explicit.map(Path::to_path_buf);
        let prompt = &*self.prompt;
        let declined = self.declined.as_deref();
        self.loaded
            .entry(key)
            .or_insert_with(|| {
                if let Some(flag) = declined {
                    flag.store(false, Ordering::Relaxed);
                }
                secrets::Identities::discover(explicit, prompt).map_err(|e| IdentityError {
                    message: e.to_string(),
                    needs_passphrase: declined.is_some_and(|f| f.load(Ordering::Relaxed)),
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// One app as a host should run it.
pub struct DesiredApp {
    pub stack: Stack,
    /// Secret name (as the stack names it) → value.
    pub secrets: BTreeMap<String, SecretValue>,
    /// Secret name → SHA-256 of its value: part of the config hash, so a rotated
    /// secret redeploys, without keeping plaintext in the plan.
    pub digests: BTreeMap<String, String>,
}

/// Everything one host should run (for the apps asked for).
pub struct Desired {
    pub host: String,
    pub apps: Vec<DesiredApp>,
    /// Every app the inventory lists for the host (not only those asked for).
    pub declared: Vec<String>,
}

/// The name of a service's live container: the app's name for its main service (the
/// one named like the app), `app-service` for the others.
pub fn container_name(prefix: &str, app: &str, service: &str) -> String {
    if service == app {
        format!("{prefix}{app}")
    } else {
        format!("{prefix}{app}-{service}")
    }
}

/// Renders the stacks of `target`'s apps (all of them, or those in `only`) with its
/// variables plus `extra_vars` (which win, as Ansible's `-e`), and reads their
/// secrets. Every problem is collected, each naming its file.
pub fn desired(
    target: &Target,
    only: &[String],
    extra_vars: &serde_json::Map<String, serde_json::Value>,
    identities: &mut IdentityCache,
) -> Result<Desired, Vec<String>> {
    let mut problems = Vec::new();
    for app in only {
        if !target.settings.apps.contains(app) {
            problems.push(format!(
                "{}: app `{app}` is not in its fleetdeck_apps ({})",
                target.name,
                target.settings.apps.join(", ")
            ));
        }
    }
    let render = Renderer::new(target, extra_vars);
    let mut stacks = Vec::new();
    for app in target
        .settings
        .apps
        .iter()
        .filter(|a| only.is_empty() || only.contains(a))
    {
        match render.stack(app) {
            Ok(stack) => stacks.push(stack),
            Err(errors) => problems.extend(errors),
        }
    }
    let needs_secrets = stacks.iter().any(|s| !s.secrets.is_empty());
    let secret_map = if needs_secrets {
        match load_secrets(target, identities) {
            Ok(map) => Some(map),
            Err(e) => {
                problems.push(e.describe(&target.name));
                None
            }
        }
    } else {
        None
    };
    let mut apps = Vec::new();
    for stack in stacks {
        let found = match &secret_map {
            Some(map) => match stack_secrets(target, &stack, map) {
                Ok(found) => found,
                Err(missing) => {
                    problems.extend(missing);
                    continue;
                }
            },
            None => StackSecrets {
                values: BTreeMap::new(),
                digests: BTreeMap::new(),
            },
        };
        apps.push(DesiredApp {
            stack,
            secrets: found.values,
            digests: found.digests,
        });
    }
    if problems.is_empty() {
        Ok(Desired {
            host: target.name.clone(),
            apps,
            declared: target.settings.apps.clone(),
        })
    } else {
        Err(problems)
    }
}

/// Renders one host's stacks: its variables, `inventory_hostname` and extra variables,
/// under its image policy.
pub(super) struct Renderer<'a> {
    target: &'a Target,
    vars: serde_json::Map<String, serde_json::Value>,
    policy: StackPolicy,
    stacks_dir: PathBuf,
}

impl<'a> Renderer<'a> {
    pub(super) fn new(
        target: &'a Target,
        extra_vars: &serde_json::Map<String, serde_json::Value>,
    ) -> Renderer<'a> {
        let mut vars = target.vars.clone();
        vars.insert(
            "inventory_hostname".into(),
            serde_json::Value::String(target.name.clone()),
        );
        for (k, v) in extra_vars {
            vars.insert(k.clone(), v.clone());
        }
        Renderer {
            target,
            vars,
            policy: StackPolicy {
                allow_unpinned: target.settings.allow_unpinned,
            },
            stacks_dir: target.stacks_dir(),
        }
    }

    /// One app's stack, or every problem with it (each naming its file).
    pub(super) fn stack(&self, app: &str) -> Result<Stack, Vec<String>> {
        let file = stack::stack_file(&self.stacks_dir, app)
            .map_err(|e| vec![format!("{}: {e}", self.target.name)])?;
        stack::load(&file, app, &self.target.name, &self.vars, &self.policy)
            .map_err(|errors| errors.0.iter().map(ToString::to_string).collect())
    }
}

/// Why a host's secrets file could not be read.
pub(super) enum SecretsProblem {
    /// Its stacks use secrets but it names no file.
    NoFile,
    /// The identity that decrypts it is passphrase-protected and may not be asked for.
    NeedsPassphrase(PathBuf),
    /// No age identity could be loaded (the reason names the identity file).
    NoIdentity { file: PathBuf, why: String },
    /// The file could not be read or decrypted (the reason names it).
    Unreadable(String),
}

impl SecretsProblem {
    /// For the host's own report (its name said elsewhere): names the file.
    pub(super) fn message(&self) -> String {
        match self {
            SecretsProblem::NoFile => {
                "its stacks use secrets but it has no fleetdeck_secrets file".to_owned()
            }
            SecretsProblem::NeedsPassphrase(file) => format!(
                "needs secrets from {}, which cannot be decrypted without a passphrase here",
                file.display()
            ),
            SecretsProblem::NoIdentity { file, why } => {
                format!("needs secrets from {}: {why}", file.display())
            }
            SecretsProblem::Unreadable(why) => why.clone(),
        }
    }

    /// For a run over several hosts: names the host too.
    pub(super) fn describe(&self, host: &str) -> String {
        match self {
            SecretsProblem::NoIdentity { why, .. } => format!("{host}: {why}"),
            other => format!("{host}: {}", other.message()),
        }
    }
}

/// Decrypts `target`'s secrets file.
pub(super) fn load_secrets(
    target: &Target,
    identities: &mut IdentityCache,
) -> Result<secrets::SecretMap, SecretsProblem> {
    let path = target.secrets_file().ok_or(SecretsProblem::NoFile)?;
    let ids = identities
        .get(target.settings.age_identity.as_deref())
        .map_err(|e| {
            if e.needs_passphrase {
                SecretsProblem::NeedsPassphrase(path.clone())
            } else {
                SecretsProblem::NoIdentity {
                    file: path.clone(),
                    why: e.message,
                }
            }
        })?;
    secrets::load_file(&path, ids).map_err(|e| SecretsProblem::Unreadable(e.to_string()))
}

/// The secrets one stack uses, by the stack's names for them.
pub(super) struct StackSecrets {
    pub(super) values: BTreeMap<String, SecretValue>,
    pub(super) digests: BTreeMap<String, String>,
}

/// The values of the secrets `stack` uses, and their digests; or each one missing
/// from the file.
pub(super) fn stack_secrets(
    target: &Target,
    stack: &Stack,
    map: &secrets::SecretMap,
) -> Result<StackSecrets, Vec<String>> {
    let mut values = BTreeMap::new();
    let mut digests = BTreeMap::new();
    let mut missing = Vec::new();
    for spec in &stack.secrets {
        match map.get(&spec.key) {
            Some(value) => {
                digests.insert(spec.name.clone(), value.digest());
                values.insert(spec.name.clone(), value.clone());
            }
            None => missing.push(format!(
                "{}: secret `{}` (key `{}`) used by {} is not in {}",
                target.name,
                spec.name,
                spec.key,
                stack.file.display(),
                map.path().display()
            )),
        }
    }
    if missing.is_empty() {
        Ok(StackSecrets { values, digests })
    } else {
        Err(missing)
    }
}

/// What the deploy will do to one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Nothing runs it yet.
    Create,
    /// It runs with another configuration.
    Replace,
    /// Same configuration, but stopped although it should run.
    Start,
    Unchanged,
}

/// The container a service runs in now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Current {
    pub id: String,
    pub image: String,
    pub hash: String,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServicePlan {
    pub app: String,
    pub service: String,
    pub container: String,
    pub change: Change,
    pub image: String,
    pub hash: String,
    pub current: Option<Current>,
    /// `.next` / `.old` containers left by an interrupted run: removed first.
    pub leftovers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostPlan {
    pub host: String,
    pub services: Vec<ServicePlan>,
    /// Apps running here (by label) that the inventory no longer lists. Reported, never
    /// removed by a deploy.
    pub orphans: Vec<String>,
}

impl HostPlan {
    pub fn changes(&self) -> impl Iterator<Item = &ServicePlan> {
        self.services
            .iter()
            .filter(|s| s.change != Change::Unchanged || !s.leftovers.is_empty())
    }

    pub fn is_noop(&self) -> bool {
        self.changes().next().is_none()
    }
}

/// The fleetdeck-managed containers on an engine, by name.
pub async fn managed_containers(
    docker: &Docker,
) -> Result<BTreeMap<String, ContainerSummary>, String> {
    let filters = std::collections::HashMap::from([("label", vec![APP_LABEL])]);
    let list = crate::docker::clean::list_containers(
        docker,
        Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ),
    )
    .await
    .map_err(|e| sanitize::line(&format!("listing containers: {e}")))?;
    let mut by_name = BTreeMap::new();
    for c in list {
        let name = c
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_owned());
        if let Some(name) = name {
            by_name.insert(name, c);
        }
    }
    Ok(by_name)
}

fn label<'a>(c: &'a ContainerSummary, key: &str) -> &'a str {
    c.labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map_or("", String::as_str)
}

fn is_stopped(c: &ContainerSummary) -> bool {
    matches!(
        c.state,
        Some(
            ContainerSummaryStateEnum::EXITED
                | ContainerSummaryStateEnum::CREATED
                | ContainerSummaryStateEnum::DEAD
        )
    )
}

/// Whether a service is meant to keep running (a one-shot job with restart `no` that
/// has exited is where it should be): the container model's judgement, with the exit
/// code not known from the listing.
fn keeps_running(service: &Service) -> bool {
    crate::fleet::containers::meant_to_run(&service.restart, None)
}

/// Compares `desired` with the engine's containers.
pub fn plan_host(
    desired: &Desired,
    prefix: &str,
    running: &BTreeMap<String, ContainerSummary>,
) -> HostPlan {
    let mut services = Vec::new();
    for app in &desired.apps {
        let stack = &app.stack;
        for service in &stack.services {
            let container = container_name(prefix, &stack.app, &service.name);
            let hash = service.config_hash(stack, &app.digests);
            let current = running.get(&container).map(|c| Current {
                id: c.id.clone().unwrap_or_default(),
                image: c.image.clone().unwrap_or_default(),
                hash: label(c, HASH_LABEL).to_owned(),
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
            });
            let change = match running.get(&container) {
                None => Change::Create,
                Some(c) if label(c, HASH_LABEL) != hash => Change::Replace,
                Some(c) if is_stopped(c) && keeps_running(service) => Change::Start,
                Some(_) => Change::Unchanged,
            };
            let leftovers = [NEXT_SUFFIX, OLDEST_SUFFIX]
                .iter()
                .map(|suffix| format!("{container}{suffix}"))
                .filter(|name| running.contains_key(name))
                .collect();
            services.push(ServicePlan {
                app: stack.app.clone(),
                service: service.name.clone(),
                leftovers,
                container,
                change,
                image: service.image.clone(),
                hash,
                current,
            });
        }
    }
    // Hosts sharing one engine (the large lab) tell their containers by prefix.
    let orphans = running
        .iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(_, c)| label(c, APP_LABEL).to_owned())
        .filter(|app| !app.is_empty() && !desired.declared.contains(app))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    HostPlan {
        host: desired.host.clone(),
        services,
        orphans,
    }
}

/// The plan as people read it: one line per service that changes.
pub fn describe(plan: &HostPlan) -> Vec<String> {
    let short = |h: &str| h.chars().take(12).collect::<String>();
    let mut lines: Vec<String> = plan
        .changes()
        .map(|s| {
            let mut line = match (s.change, &s.current) {
                (Change::Create, _) => format!("+ {} ({}) {}", s.container, s.app, s.image),
                (Change::Replace, Some(cur)) if cur.image != s.image => {
                    format!("~ {} ({}) {} -> {}", s.container, s.app, cur.image, s.image)
                }
                (Change::Replace, Some(cur)) => format!(
                    "~ {} ({}) {} configuration {} -> {}",
                    s.container,
                    s.app,
                    s.image,
                    short(&cur.hash),
                    short(&s.hash)
                ),
                (Change::Start, _) => format!("> {} ({}) start (stopped)", s.container, s.app),
                _ => format!("= {} ({})", s.container, s.app),
            };
            if !s.leftovers.is_empty() {
                line.push_str(&format!(
                    " [removes {}, left by an earlier run that did not finish]",
                    s.leftovers.join(", ")
                ));
            }
            sanitize::line(&line)
        })
        .collect();
    for orphan in &plan.orphans {
        lines.push(sanitize::line(&format!(
            "! {orphan}: running here but not in fleetdeck_apps (left alone)"
        )));
    }
    lines
}

/// Turns `KEY=VALUE` arguments into variables; values are strings, as Ansible's `-e
/// key=value` makes them.
pub fn extra_vars(pairs: &[String]) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut vars = serde_json::Map::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("-e {pair:?}: expected KEY=VALUE"));
        };
        let valid = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!("-e {pair:?}: {key:?} is not a variable name"));
        }
        vars.insert(key.to_owned(), serde_json::Value::String(value.to_owned()));
    }
    Ok(vars)
}

/// Where a secret's file for one revision lives on the host: per config hash, so the
/// previous revision keeps its own files for a rollback.
pub fn secret_path(state_dir: &str, hash: &str, secret: &str) -> String {
    let dir = Path::new(state_dir)
        .join("secrets")
        .join(hash.chars().take(16).collect::<String>());
    dir.join(secret).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_services_take_the_app_name() {
        assert_eq!(container_name("", "web", "web"), "web");
        assert_eq!(container_name("acme-", "web", "db"), "acme-web-db");
    }

    #[test]
    fn extra_vars_are_checked() {
        let vars = extra_vars(&["web_version=1.1".into(), "x=a=b".into()]).expect("valid");
        assert_eq!(vars["web_version"], "1.1");
        assert_eq!(vars["x"], "a=b");
        assert!(extra_vars(&["novalue".into()]).is_err());
        assert!(extra_vars(&["1x=a".into()]).is_err());
    }
}
