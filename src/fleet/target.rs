//! The one host type: a selected inventory host ([`Target`]) with its connection
//! context ([`Contexts`]: one SSH context per ssh_config in use), as status, watch, the
//! console and the core use it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::model::{DeclaredThresholds, Expectations, HostState};
use crate::inventory::{Host, HostSettings, Inventory};
use crate::ssh::auth::PassphrasePrompt;
use crate::ssh::config::ConfigError;
use crate::ssh::session::ConnectContext;
use crate::ssh::setup::{self, SshOptions};

/// The hosts `limit` (an Ansible pattern) selects from `inventory`, in its order; an
/// empty selection is not an error here (see [`nonempty_targets`]).
pub fn targets(inventory: &Inventory, limit: Option<&str>) -> Result<Vec<Target>, String> {
    let selected = inventory
        .select(limit)
        .map_err(|e| format!("--limit {}: {e}", limit.unwrap_or_default()))?;
    Ok(selected
        .into_iter()
        .map(|host| Target::from_inventory(inventory, host))
        .collect())
}

/// As [`targets`], for work that needs a host: an empty selection is an error.
pub fn nonempty_targets(inventory: &Inventory, limit: Option<&str>) -> Result<Vec<Target>, String> {
    let targets = targets(inventory, limit)?;
    if targets.is_empty() {
        return Err(format!(
            "--limit {} selects no host",
            limit.unwrap_or("all")
        ));
    }
    Ok(targets)
}

/// The inventory's directory (relative stack and secret paths start here).
fn inventory_dir(inventory: &Inventory) -> PathBuf {
    let source = inventory.source();
    if source.is_dir() {
        source.to_path_buf()
    } else {
        source
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }
}

/// A selected inventory host, independent of the inventory's lifetime: what status,
/// watch, the console, deploy, canary and drill all work on.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub groups: Vec<String>,
    pub settings: HostSettings,
    /// The host's inventory variables (unrendered, as Ansible holds them).
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// The inventory's directory: relative stack and secret paths are taken from here.
    pub inventory_dir: PathBuf,
    /// Whether the host round (resources and the host's posture) is measured: `status
    /// --signal` leaves it out when neither is selected.
    pub host_round: bool,
}

impl Target {
    /// `host` of `inventory`.
    pub fn from_inventory(inventory: &Inventory, host: &Host) -> Target {
        Target {
            name: host.name().to_owned(),
            groups: host.group_names().to_vec(),
            settings: host.settings().clone(),
            vars: host.vars().clone(),
            inventory_dir: inventory_dir(inventory),
            host_round: true,
        }
    }

    /// Where the host's stacks are: `fleetdeck_stacks_dir`, else `stacks/`, under the
    /// inventory's directory.
    pub fn stacks_dir(&self) -> PathBuf {
        let dir = self
            .settings
            .stacks_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("stacks"));
        self.inventory_dir.join(dir)
    }

    /// The host's secrets file, under the inventory's directory.
    pub fn secrets_file(&self) -> Option<PathBuf> {
        self.settings
            .secrets
            .as_ref()
            .map(|p| self.inventory_dir.join(p))
    }

    /// The SSH configuration for this host: ssh_config with the inventory's
    /// connection variables on top, and `fleetdeck_known_hosts` read after the
    /// configured known_hosts files.
    pub fn resolve(&self, ctx: &ConnectContext) -> crate::ssh::config::ResolvedHost {
        let mut resolved = ctx.resolve(&self.settings.ssh);
        if let Some(extra) = &self.settings.known_hosts
            && !resolved.user_known_hosts_files.contains(extra)
        {
            resolved.user_known_hosts_files.push(extra.clone());
        }
        resolved
    }

    /// The host as the fleet starts knowing it: its signals expected, its
    /// `fleetdeck_posture` ready to judge the findings.
    pub fn host_state(&self) -> HostState {
        let mut state = HostState::new(&self.name, self.groups.clone(), self.expectations());
        state.posture_policy = Arc::new(self.settings.posture.clone());
        state.declared_firewall = self.settings.firewall.clone().map(Arc::new);
        state.thresholds = Arc::new(self.thresholds());
        state
    }

    /// The declared thresholds of the host's backup repositories and certificate
    /// endpoints.
    pub fn thresholds(&self) -> DeclaredThresholds {
        DeclaredThresholds {
            backups: self
                .settings
                .backups
                .iter()
                .map(|r| (r.name.clone(), (r.warning_hours, r.critical_hours)))
                .collect(),
            certs: self
                .settings
                .certificates
                .iter()
                .map(|c| (c.name.clone(), (c.warning_days, c.critical_days)))
                .collect(),
        }
    }

    /// Which signals the inventory declares for this host.
    pub fn expectations(&self) -> Expectations {
        Expectations {
            backups: !self.settings.backups.is_empty(),
            certs: !self.settings.certificates.is_empty(),
            firewall: self.settings.firewall.is_some(),
            host_round: self.host_round,
        }
    }
}

/// One connection context per ssh_config in use: `-F` for everyone, else each host's
/// `fleetdeck_ssh_config` (or the user's own configuration when it has none).
pub struct Contexts {
    by_config: HashMap<Option<PathBuf>, Arc<ConnectContext>>,
    /// Unsupported-directive notices, once per configuration.
    pub notices: Vec<String>,
}

impl Contexts {
    pub fn prepare(options: &SshOptions, targets: &[Target]) -> Result<Contexts, ConfigError> {
        Contexts::prepare_with_prompt(options, targets, None)
    }

    /// As [`Contexts::prepare`], asking for passphrases with `prompt` (unless
    /// `--batch`); `None` asks on the terminal.
    pub fn prepare_with_prompt(
        options: &SshOptions,
        targets: &[Target],
        prompt: Option<Arc<dyn PassphrasePrompt>>,
    ) -> Result<Contexts, ConfigError> {
        let mut by_config = HashMap::new();
        let mut notices = Vec::new();
        for target in targets {
            let key = config_key(options, target);
            if by_config.contains_key(&key) {
                continue;
            }
            let prepared = setup::prepare(
                &SshOptions {
                    config_file: key.clone(),
                    ..options.clone()
                },
                prompt.clone(),
            )?;
            notices.extend(prepared.notices);
            by_config.insert(key, prepared.context);
        }
        Ok(Contexts { by_config, notices })
    }

    pub fn for_target(&self, options: &SshOptions, target: &Target) -> Option<Arc<ConnectContext>> {
        self.by_config.get(&config_key(options, target)).cloned()
    }
}

/// The ssh_config a target is connected with: `-F` for everyone, else its own.
fn config_key(options: &SshOptions, target: &Target) -> Option<PathBuf> {
    match &options.config_file {
        Some(file) => Some(file.clone()),
        None => target.settings.ssh_config.clone(),
    }
}
