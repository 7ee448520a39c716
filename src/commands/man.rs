//! `fleetdeck man`: the manual page (roff), generated from the clap definitions
//! (`crate::cli`): the options, then every subcommand with its summary.

use std::io::Write as _;
use std::process::ExitCode;

use clap::CommandFactory as _;
use color_eyre::eyre::Result;

use super::Context;
use crate::cli::Cli;

/// Prints the page on stdout (exit 1, quietly, when stdout is closed early).
pub async fn run(_ctx: &Context, _args: &()) -> Result<ExitCode> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    let mut out = std::io::stdout().lock();
    match out.write_all(&page).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(_) => Ok(ExitCode::FAILURE),
    }
}
