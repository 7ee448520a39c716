//! The command line's subcommands, one file each, every one with the same signature:
//! `pub async fn run(ctx: &Context, args: &Args) -> Result<ExitCode>`. This is the
//! only layer that prints for the person at the terminal and picks exit codes; what it
//! calls returns typed results and events.
//!
//! [`Context`] is the shared preamble: the global options (inventory, `--limit`, SSH
//! options, read-only) taken from the command line and the configuration file once,
//! and the inventory loaded once with its warnings printed.

pub mod canary;
pub mod completions;
pub mod console;
pub mod deploy;
pub mod drill;
pub mod ending;
pub mod follow;
pub mod headless;
pub mod history;
pub mod inventory;
pub mod lab;
pub mod maintenance;
pub mod man;
pub mod report;
pub mod rollback;
pub mod secrets;
pub mod serve;
pub mod status;
pub mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use color_eyre::eyre::Result;

use crate::audit::AuditLog;
use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::core::Core;
use crate::fleet::target::{self, Contexts, Target};
use crate::inventory::{INVENTORY_ENV, Inventory};
use crate::ssh::setup::SshOptions;

/// What every subcommand is given: the global options, settled once.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `-i PATH` (or `FLEETDECK_INVENTORY`).
    pub inventory: Option<PathBuf>,
    /// `--limit PATTERN`.
    pub limit: Option<String>,
    /// `-F`, `--batch`, `--accept-new-host-keys`.
    pub ssh: SshOptions,
    /// `--read-only`, or `read_only: true` in the configuration file.
    pub read_only: bool,
    /// The console's theme and keymap: the command line's, else the configuration's.
    pub theme: Option<String>,
    pub keymap: Option<String>,
    /// The console's overview order at launch (`overview_order` in config.yaml).
    pub overview_order: Option<crate::config::OverviewOrder>,
    /// `history_retention_days` in config.yaml.
    pub history_retention_days: Option<u32>,
}

impl Context {
    /// The command line's global options over the configuration file's. `--read-only`
    /// can switch read-only on, never off.
    pub fn new(cli: &Cli, config: &Config) -> Context {
        Context {
            inventory: cli.inventory.clone(),
            limit: cli.limit.clone(),
            ssh: SshOptions {
                config_file: cli.ssh_config.clone(),
                batch: cli.batch,
                accept_new_host_keys: cli.accept_new_host_keys,
            },
            read_only: cli.read_only || config.read_only,
            theme: cli.theme.clone().or_else(|| config.theme.clone()),
            keymap: cli.keymap.clone().or_else(|| config.keymap.clone()),
            overview_order: config.overview_order,
            history_retention_days: config.history_retention_days,
        }
    }

    /// `--batch`: never prompt.
    pub fn batch(&self) -> bool {
        self.ssh.batch
    }

    /// The core every command that may change a host builds, carrying the run's
    /// read-only value and the default audit log.
    pub fn core(&self) -> Core {
        Core::new(self.read_only, AuditLog::at_default_path())
    }

    /// The inventory's path, or what to say when there is none: `needed_for` says
    /// why one is needed ("a drill needs an inventory").
    pub fn inventory_path(&self, needed_for: &str) -> Result<&Path, String> {
        self.inventory
            .as_deref()
            .ok_or_else(|| format!("{needed_for}: pass -i PATH or set {INVENTORY_ENV}"))
    }

    /// The inventory, required: loaded once, its warnings printed.
    pub fn require_inventory(&self, needed_for: &str) -> Result<Inventory, String> {
        load_inventory(self.inventory_path(needed_for)?)
    }

    /// The selected hosts' SSH contexts (ssh_config read once for all of them), with
    /// its notices printed; `None` after printing why they cannot be made.
    pub fn connect_contexts(&self, targets: &[Target]) -> Option<Contexts> {
        match Contexts::prepare(&self.ssh, targets) {
            Ok(contexts) => {
                for notice in &contexts.notices {
                    eprintln!("fleetdeck: {notice}");
                }
                Some(contexts)
            }
            Err(error) => {
                eprintln!("fleetdeck: {error}");
                None
            }
        }
    }

    /// The inventory, optional, and the hosts `--limit` selects from it: loaded once,
    /// its warnings printed. `Ok(None)` without an inventory (this machine's own
    /// engine is watched then); `--limit` without one is an error.
    pub fn selection(&self) -> Result<Option<Selection>, String> {
        let Some(path) = self.inventory.as_deref() else {
            if self.limit.is_some() {
                return Err(format!(
                    "--limit needs an inventory: pass -i PATH or set {INVENTORY_ENV}"
                ));
            }
            return Ok(None);
        };
        let inventory = load_inventory(path)?;
        let targets = target::targets(&inventory, self.limit.as_deref())?;
        Ok(Some(Selection {
            path: path.to_path_buf(),
            inventory,
            targets,
        }))
    }

    /// The selected hosts alone (see [`Context::selection`]).
    pub fn selected_targets(&self) -> Result<Option<Vec<Target>>, String> {
        Ok(self.selection()?.map(|selection| selection.targets))
    }
}

/// An inventory with the hosts `--limit` selects from it.
pub struct Selection {
    /// As given on the command line.
    pub path: PathBuf,
    pub inventory: Inventory,
    pub targets: Vec<Target>,
}

/// Loads the inventory at `path` and prints its warnings on stderr.
pub fn load_inventory(path: &Path) -> Result<Inventory, String> {
    let inventory = Inventory::load(path).map_err(|e| e.to_string())?;
    for warning in inventory.warnings() {
        eprintln!("fleetdeck: warning: {warning}");
    }
    Ok(inventory)
}

/// Runs one subcommand, or the console when none is given. `Err` is a failure the
/// command could not turn into an exit code of its own (the caller prints it).
pub async fn run(ctx: &Context, command: Option<&Command>) -> Result<ExitCode> {
    let Some(command) = command else {
        return console::run(ctx, &()).await;
    };
    match command {
        Command::Lab(args) => lab::run(ctx, args).await,
        Command::Inventory(args) => inventory::run(ctx, args).await,
        Command::Secrets(args) => secrets::run(ctx, args).await,
        Command::Status(args) => status::run(ctx, args).await,
        Command::Watch(args) => watch::run(ctx, args).await,
        Command::Serve(args) => serve::run(ctx, args).await,
        Command::History(args) => history::run(ctx, args).await,
        Command::Deploy(args) => deploy::run(ctx, args).await,
        Command::Rollback(args) => rollback::run(ctx, args).await,
        Command::Canary(args) => canary::run(ctx, args).await,
        Command::Drill(args) => drill::run(ctx, args).await,
        Command::Maintenance(args) => maintenance::run(ctx, args).await,
        Command::Report(args) => report::run(ctx, args).await,
        Command::Completions(args) => completions::run(ctx, args).await,
        Command::Man => man::run(ctx, &()).await,
    }
}
