//! Asking the person at the terminal: on `/dev/tty` (not stdin, which may be a pipe),
//! with echo off for secrets, restored afterwards whatever happens.
//!
//! Every question goes through here and holds the one process-wide terminal lock while
//! it is on screen, so an SSH key passphrase asked by one session and an age identity
//! passphrase asked by a deploy never interleave their prompts or steal each other's
//! answer.

use std::io::{self, BufRead as _, Write as _};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use zeroize::Zeroizing;

/// The controlling terminal, whatever stdin and stdout are redirected to.
const TERMINAL_PATH: &str = "/dev/tty";

/// Held by whoever has a question on the terminal. A poisoned lock (a prompt that
/// panicked) is taken over: the terminal itself is restored by the reader.
static TERMINAL: Mutex<()> = Mutex::new(());

/// The terminal, reserved for one question. Released when dropped.
pub struct TerminalLock {
    _guard: MutexGuard<'static, ()>,
}

/// Waits until no other question is on the terminal and reserves it. The prompt
/// functions below take it themselves; hold it only around terminal I/O done elsewhere
/// (never around a call to them: the lock is not re-entrant).
pub fn lock() -> TerminalLock {
    TerminalLock {
        _guard: TERMINAL.lock().unwrap_or_else(|p| p.into_inner()),
    }
}

/// Prints `retry` (after a wrong answer) and `prompt` on the terminal, reads one line
/// without echoing it, and returns it without its line ending. End of input (Ctrl-D)
/// is `UnexpectedEof`: the person declined. Waits for the terminal lock first.
pub fn read_hidden_line(prompt: &str, retry: Option<&str>) -> io::Result<Zeroizing<String>> {
    let _one_at_a_time = lock();
    read_hidden_line_from(Path::new(TERMINAL_PATH), prompt, retry)
}

/// Asks for a passphrase: `prompt`, preceded by `retry` when the previous answer was
/// wrong. `None` when there is no terminal or the person pressed Ctrl-D (declined); an
/// empty line is an answer (the empty passphrase), as with `ssh` and `age`.
pub fn ask_passphrase(
    prompt: &str,
    retry: &str,
    previous_was_wrong: bool,
) -> Option<Zeroizing<String>> {
    ask_passphrase_at(Path::new(TERMINAL_PATH), prompt, retry, previous_was_wrong)
}

fn ask_passphrase_at(
    terminal: &Path,
    prompt: &str,
    retry: &str,
    previous_was_wrong: bool,
) -> Option<Zeroizing<String>> {
    let _one_at_a_time = lock();
    read_hidden_line_from(terminal, prompt, previous_was_wrong.then_some(retry)).ok()
}

fn read_hidden_line_from(
    terminal: &Path,
    prompt: &str,
    retry: Option<&str>,
) -> io::Result<Zeroizing<String>> {
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(terminal)?;
    let fd = tty.as_raw_fd();
    let mut writer = &tty;
    if let Some(retry) = retry {
        writeln!(writer, "{retry}")?;
    }
    write!(writer, "{prompt}")?;
    writer.flush()?;
    // SAFETY: termios is plain data filled in by tcgetattr on an open descriptor.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open for the lifetime of `tty`; `saved` is valid storage.
    if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut quiet = saved;
    quiet.c_lflag &= !(libc::ECHO | libc::ECHONL);
    quiet.c_lflag |= libc::ICANON;
    // SAFETY: as above; `quiet` is a valid termios derived from the current one.
    unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &quiet) };
    let mut line = Zeroizing::new(String::new());
    let read = io::BufReader::new(&tty).read_line(&mut line);
    // SAFETY: restores the settings read above on the same descriptor.
    unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &saved) };
    writeln!(writer)?;
    if read? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cancelled"));
    }
    Ok(Zeroizing::new(
        line.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

/// The y/N question, asked on stderr and answered on stdin; only "y" or "yes" goes
/// ahead. Without a terminal on stdin nothing can be asked: `Err` says to pass `--yes`.
pub fn ask_yes_no(question: &str) -> Result<bool, String> {
    use std::io::IsTerminal as _;
    if !io::stdin().is_terminal() {
        return Err("not confirmed: stdin is not a terminal; pass --yes to go ahead".into());
    }
    // The same lock as the passphrase prompts: a question never interleaves with one.
    let _terminal = lock();
    eprint!("{question} [y/N] ");
    let _ = io::stderr().flush();
    let mut answer = String::new();
    io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| format!("reading the answer: {e}"))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// A passphrase question waits while another question holds the terminal, and
    /// goes ahead once it is released. (A path that is not a terminal stands in for
    /// `/dev/tty`, so the test needs none and never blocks on input.)
    #[test]
    fn a_second_question_waits_for_the_first() {
        let first = lock();
        let (done, finished) = mpsc::channel();
        let second = std::thread::spawn(move || {
            let answer = ask_passphrase_at(
                Path::new("/nonexistent/fleetdeck-test-tty"),
                "Enter passphrase: ",
                "Bad passphrase, try again.",
                false,
            );
            let _ = done.send(answer.is_none());
        });
        assert_eq!(
            finished.recv_timeout(Duration::from_millis(300)),
            Err(mpsc::RecvTimeoutError::Timeout),
            "the second question ran while the terminal was held"
        );
        drop(first);
        assert_eq!(finished.recv_timeout(Duration::from_secs(10)), Ok(true));
        second.join().unwrap();
    }
}
