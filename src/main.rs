//! The binary: error hooks, argument parsing, logging, the configuration file and the
//! runtime, then dispatch to `fleetdeck::commands`.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

use clap::Parser;
use color_eyre::eyre::Result;

use fleetdeck::cli::Cli;
use fleetdeck::commands::{self, Context};
use fleetdeck::{logging, tui};

fn main() -> ExitCode {
    if let Err(e) = tui::terminal::install_hooks() {
        eprintln!("fleetdeck: cannot install error hooks: {e}");
        return ExitCode::from(70);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(report) => {
            tui::terminal::restore();
            eprintln!("Error: {report:?}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    // A log we cannot open (read-only home, another user's state dir) must not stop an
    // operator mid-incident: say so once and carry on without it.
    match logging::init(cli.log_file.as_deref(), &cli.log_level) {
        Ok(path) => tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            log = %path.display(),
            "fleetdeck starting"
        ),
        Err(e) => eprintln!("fleetdeck: warning: logging disabled: {e:#}"),
    }
    // Plaintext a killed `secrets edit` left in /dev/shm goes at the next start of any
    // command, not only the next edit, which may be months away (docs/secrets.md).
    for leftover in fleetdeck::secrets::scratch::remove_leftovers() {
        tracing::warn!(dir = %leftover.dir.display(), "{leftover}");
        if cli.command.is_some() {
            eprintln!("fleetdeck: {leftover}");
        }
    }

    // The configuration file, read once for every command: an error in it stops any
    // command (naming its file, line and column), and its read-only setting becomes
    // the run's own, the one value every command builds its core from (`--read-only`
    // can switch it on, never off).
    let config = fleetdeck::config::load(&fleetdeck::config::path())
        .map_err(|e| color_eyre::eyre::eyre!(e))?;
    let ctx = Context::new(&cli, &config);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(commands::run(&ctx, cli.command.as_ref()))
}
