#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

use clap::Parser;
use color_eyre::eyre::Result;

use fleetdeck::cli::{Cli, Command, LabCommand};
use fleetdeck::{lab, logging, tui};

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

fn run(mut cli: Cli) -> Result<ExitCode> {
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
    cli.read_only = cli.read_only || config.read_only;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let Some(command) = cli.command.take() else {
        let options = tui::run::ConsoleOptions {
            theme: cli.theme.clone().or(config.theme),
            keymap: cli.keymap.clone().or(config.keymap),
            read_only: cli.read_only,
        };
        let code = runtime.block_on(tui::run::run(&cli, options))?;
        return Ok(ExitCode::from(code));
    };
    match command {
        Command::Lab(LabCommand::Up(args)) => {
            let dir = lab::resolve_dir(args.dir.dir);
            runtime.block_on(lab::up(&dir, args.hosts))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lab(LabCommand::Status(args)) => {
            let dir = lab::resolve_dir(args.dir.dir);
            let code = runtime.block_on(lab::status(&dir, args.json))?;
            Ok(ExitCode::from(code))
        }
        Command::Lab(LabCommand::Rekey(args)) => {
            let dir = lab::resolve_dir(args.dir.dir);
            runtime.block_on(lab::rekey(&dir, &args.host))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Inventory(args) => Ok(ExitCode::from(fleetdeck::inventory::command::run(
            cli.inventory.as_deref(),
            cli.limit.as_deref(),
            &args,
        ))),
        Command::Secrets(cmd) => Ok(ExitCode::from(fleetdeck::secrets::command::run(
            &cmd, cli.batch,
        ))),
        Command::Status(args) => Ok(ExitCode::from(
            runtime.block_on(fleetdeck::fleet::command::status(&cli, &args)),
        )),
        Command::Watch(_) => Ok(ExitCode::from(
            runtime.block_on(fleetdeck::fleet::command::watch(&cli)),
        )),
        Command::Deploy(args) => Ok(ExitCode::from(
            runtime.block_on(fleetdeck::core::deploy::command::deploy(&cli, &args)),
        )),
        Command::Rollback(args) => Ok(ExitCode::from(
            runtime.block_on(fleetdeck::core::deploy::command::rollback(&cli, &args)),
        )),
        Command::Canary(args) => Ok(ExitCode::from(
            runtime.block_on(fleetdeck::core::canary::command::canary(&cli, &args)),
        )),
        Command::Drill(args) => Ok(ExitCode::from(
            runtime.block_on(fleetdeck::core::drill::command::drill(&cli, &args)),
        )),
        Command::Lab(LabCommand::Down(args)) => {
            let dir = lab::resolve_dir(args.dir);
            runtime.block_on(lab::down(&dir))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
