//! `fleetdeck lab up | status | down | rekey`: the practice fleet on this machine. The
//! lab's progress lines go to stderr as they come; `status` prints a table or JSON
//! (exit 0: all up, 1: degraded, 3: no lab).

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use color_eyre::eyre::Result;

use super::Context;
use crate::cli::{LabCommand, LabStatusArgs};
use crate::lab::{self, Progress};

/// Runs one `lab` subcommand. Its failures are `Err` (printed by the caller, exit 1).
pub async fn run(_ctx: &Context, command: &LabCommand) -> Result<ExitCode> {
    match command {
        LabCommand::Up(args) => {
            let dir = lab::resolve_dir(args.dir.dir.clone());
            lab::up(&dir, args.hosts, to_stderr()).await?;
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Status(args) => status(args).await,
        LabCommand::Rekey(args) => {
            let dir = lab::resolve_dir(args.dir.dir.clone());
            lab::rekey(&dir, &args.host, to_stderr()).await?;
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Down(args) => {
            let dir = lab::resolve_dir(args.dir.clone());
            lab::down(&dir, to_stderr()).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The lab's progress lines, printed on stderr as they come.
fn to_stderr() -> Progress {
    Arc::new(|line: &str| {
        let _ = writeln!(std::io::stderr(), "{line}");
    })
}

/// Prints the lab's status: exit 0 up, 1 degraded, 3 no lab.
async fn status(args: &LabStatusArgs) -> Result<ExitCode> {
    let dir = lab::resolve_dir(args.dir.dir.clone());
    let Some(status) = lab::status(&dir).await? else {
        if args.json {
            println!(
                "{}",
                serde_json::json!({ "dir": dir, "up": false, "hosts": [] })
            );
        } else {
            println!(
                "no lab in {} (create one with `fleetdeck lab up`)",
                dir.display()
            );
        }
        return Ok(ExitCode::from(3));
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", lab::format_status(&status));
    }
    Ok(ExitCode::from(if status.up { 0 } else { 1 }))
}
