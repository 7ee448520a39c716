//! `fleetdeck completions bash|zsh|fish`: a completion script generated from the clap
//! definitions (`crate::cli`), so it always knows every subcommand and option.

use std::io::Write as _;
use std::process::ExitCode;

use clap::CommandFactory as _;
use clap_complete::Shell;
use color_eyre::eyre::Result;

use super::Context;
use crate::cli::{Cli, CompletionShell, CompletionsArgs};

/// Prints the script on stdout (exit 1, quietly, when stdout is closed early).
pub async fn run(_ctx: &Context, args: &CompletionsArgs) -> Result<ExitCode> {
    let shell = match args.shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    // Generated into memory first: the generator panics on a failed write.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(_) => Ok(ExitCode::FAILURE),
    }
}
