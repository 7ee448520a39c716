//! Terminal lifecycle. The console switches the terminal to raw mode and the alternate
//! screen; whatever happens next — normal exit, error, panic — the user must get their
//! shell back intact. `install_hooks` wires color-eyre's reports behind a restore step.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use color_eyre::eyre::Result;
use crossterm::{cursor, execute, terminal};

/// True while the console owns the terminal. Restoring only then keeps a panic in a
/// plain CLI command (whose stdout may be a pipe) free of stray escape sequences.
static CONSOLE_ACTIVE: AtomicBool = AtomicBool::new(false);

/// Installs color-eyre's error and panic reports, with the terminal restored first so
/// the report lands on a normal screen.
pub fn install_hooks() -> Result<()> {
    use std::io::IsTerminal;
    let mut builder = color_eyre::config::HookBuilder::default().display_env_section(false);
    // Plain text when piped (CI logs, scripts) or when the user asked for no colour.
    if !io::stderr().is_terminal() || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        builder = builder.theme(color_eyre::config::Theme::new());
    }
    let (panic_hook, eyre_hook) = builder.into_hooks();
    eyre_hook.install()?;
    std::panic::set_hook(Box::new(move |info| {
        restore();
        eprintln!("{}", panic_hook.panic_report(info));
    }));
    Ok(())
}

/// Owns the terminal while alive; dropping it restores the terminal.
pub struct TerminalGuard {
    _private: (),
}

impl TerminalGuard {
    pub fn enter() -> Result<Self> {
        terminal::enable_raw_mode()?;
        CONSOLE_ACTIVE.store(true, Ordering::SeqCst);
        let guard = TerminalGuard { _private: () };
        execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves raw mode and the alternate screen if the console had entered them.
/// Idempotent: safe from the panic hook, a signal path and `Drop` alike.
pub fn restore() {
    if CONSOLE_ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = terminal::disable_raw_mode();
        let mut out = io::stdout();
        let _ = execute!(out, terminal::LeaveAlternateScreen, cursor::Show);
        let _ = out.flush();
    }
}
