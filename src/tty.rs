//! Asking the person at the terminal for a secret: on `/dev/tty` (not stdin, which may
//! be a pipe), with echo off, restored afterwards whatever happens.

use std::io::{self, BufRead as _, Write as _};

use zeroize::Zeroizing;

/// Prints `retry` (after a wrong answer) and `prompt` on the terminal, reads one line
/// without echoing it, and returns it without its line ending. End of input (Ctrl-D)
/// is `UnexpectedEof`: the person declined.
pub fn read_hidden_line(prompt: &str, retry: Option<&str>) -> io::Result<Zeroizing<String>> {
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
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
    eprint!("{question} [y/N] ");
    let _ = io::stderr().flush();
    let mut answer = String::new();
    io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| format!("reading the answer: {e}"))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
