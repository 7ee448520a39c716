//! `fleetdeck` with no subcommand: the console. The inventory is loaded here once;
//! the console watches its selected hosts and opens every wizard on it.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use color_eyre::eyre::{Result, eyre};

use super::Context;
use crate::tui::run::{ConsoleFleet, ConsoleOptions};

/// Runs the console until the operator quits. Exit 2: no terminal.
pub async fn run(ctx: &Context, _args: &()) -> Result<ExitCode> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        eprintln!(
            "fleetdeck: the console needs a terminal. For scripts and pipes use \
             `fleetdeck status [--json]` or `fleetdeck watch --json` (see `fleetdeck --help`)."
        );
        return Ok(ExitCode::from(2));
    }
    let fleet = ctx
        .selection()
        .map_err(|e| eyre!("{e}"))?
        .map(|selection| ConsoleFleet {
            path: selection.path,
            inventory: selection.inventory,
            targets: selection.targets,
        });
    let options = ConsoleOptions {
        theme: ctx.theme.clone(),
        keymap: ctx.keymap.clone(),
        overview_order: ctx.overview_order,
        history_retention_days: ctx.history_retention_days,
        read_only: ctx.read_only,
        limit: ctx.limit.clone(),
        ssh: ctx.ssh.clone(),
        fleet,
    };
    let end = crate::tui::run::run(options).await?;
    if end.drills_pending() {
        eprintln!("fleetdeck: finishing a restore drill (removing its scratch data)…");
    }
    end.wait();
    Ok(ExitCode::SUCCESS)
}
