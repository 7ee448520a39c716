//! `fleetdeck secrets keygen | encrypt | decrypt | edit`.
//!
//! Exit codes: 0 ok, 1 decryption or integrity failure, 2 usage or input error. Errors
//! go to stderr and name the file; plaintext goes only to stdout (`decrypt`) or to the
//! editor's private temporary file (`edit`).

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::Context;
use super::ending::ExitCodeOf;
use crate::cli::{DecryptArgs, EditArgs, EncryptArgs, KeygenArgs, SecretsCommand};
use crate::secrets::fleetdeck::SecretFile;
use crate::secrets::scratch::Scratch;
use crate::secrets::{
    FileFormat, Identities, NeverAsk, Node, PassphrasePrompt, Recipients, SecretsError,
    TerminalPrompt, decrypt_text, encrypt_tree_to_string, generate_identity, parse_plain_yaml,
    read_text,
};
use crate::util::signals;
use crate::util::signals::catch::{CAUGHT, Catch};

/// Runs one `secrets` subcommand; the global `--batch` forbids prompting.
pub async fn run(
    ctx: &Context,
    command: &SecretsCommand,
) -> color_eyre::eyre::Result<std::process::ExitCode> {
    let code = secrets(command, ctx.batch());
    for failure in crate::secrets::scratch::take_removal_failures() {
        eprintln!("fleetdeck secrets: warning: {failure}");
    }
    Ok(std::process::ExitCode::from(code))
}

/// Runs one `secrets` subcommand; returns the exit code.
fn secrets(command: &SecretsCommand, batch: bool) -> u8 {
    let prompt: &dyn PassphrasePrompt = if batch { &NeverAsk } else { &TerminalPrompt };
    let result = match command {
        SecretsCommand::Keygen(args) => keygen(args),
        SecretsCommand::Encrypt(args) => encrypt(args),
        SecretsCommand::Decrypt(args) => decrypt(args, prompt),
        SecretsCommand::Edit(args) => match edit(args, prompt) {
            Ok(EditEnd::Done) => Ok(()),
            Ok(EditEnd::Interrupted(sig)) => {
                eprintln!(
                    "fleetdeck secrets: {}: interrupted by {}: left unchanged; the editor was ended and the plaintext copy overwritten with zeros and removed",
                    args.file.display(),
                    signals::name(sig)
                );
                return signals::exit_code(sig);
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("fleetdeck secrets: {e}");
            e.exit_code()
        }
    }
}

fn keygen(args: &KeygenArgs) -> Result<(), SecretsError> {
    let now = crate::util::time::rfc3339(
        time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc()),
    );
    let (identity, recipient) = generate_identity(&now);
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| crate::paths::config_home().join("sops/age/keys.txt"));
    if path == Path::new("-") {
        write_stdout(identity.as_bytes())?;
        eprintln!("Public key: {recipient}");
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| SecretsError::io(parent, "create the directory", &e))?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                SecretsError::input("already exists: refusing to overwrite an identity")
                    .in_file(&path)
                    .with_hint("choose another file with -o")
            } else {
                SecretsError::io(&path, "create the identity file", &e)
            }
        })?;
    file.write_all(identity.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| SecretsError::io(&path, "write the identity file", &e))?;
    eprintln!("wrote an age identity to {} (mode 0600)", path.display());
    write_stdout(format!("{recipient}\n").as_bytes())
}

fn encrypt(args: &EncryptArgs) -> Result<(), SecretsError> {
    let mut recipients = Recipients::new();
    for r in &args.recipients {
        recipients.add(r, "-r")?;
    }
    for file in &args.recipients_files {
        recipients.add_file(file)?;
    }
    if recipients.is_empty() {
        return Err(SecretsError::input(
            "no recipients: give -r RECIPIENT or -R FILE",
        ));
    }
    let text = if args.input == Path::new("-") {
        let mut s = Zeroizing::new(String::new());
        io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| SecretsError::io(Path::new("(stdin)"), "read", &e))?;
        s
    } else {
        Zeroizing::new(read_text(&args.input)?)
    };
    let doc = crate::secrets::parse_yaml_mapping(&text).map_err(|e| e.in_file(&args.input))?;
    if crate::secrets::detect(&doc).is_ok() {
        return Err(
            SecretsError::input("already encrypted (a SOPS or fleetdeck secret file)")
                .in_file(&args.input),
        );
    }
    let tree =
        crate::secrets::fleetdeck::plain_from_mapping(doc).map_err(|e| e.in_file(&args.input))?;
    let out = encrypt_tree_to_string(&tree, &recipients).map_err(|e| e.in_file(&args.input))?;
    match &args.output {
        Some(path) if path != Path::new("-") => {
            write_atomically(path, out.as_bytes())?;
            eprintln!(
                "wrote {} ({} values for {} recipients)",
                path.display(),
                tree.flatten().len(),
                recipients.len()
            );
            Ok(())
        }
        _ => write_stdout(out.as_bytes()),
    }
}

fn decrypt(args: &DecryptArgs, prompt: &dyn PassphrasePrompt) -> Result<(), SecretsError> {
    // Read the file first: a missing file is reported before anyone is asked for a
    // passphrase.
    let text = Zeroizing::new(read_text(&args.file)?);
    let identities = Identities::discover(args.identity.identity.as_deref(), prompt)?;
    let (_, tree) = decrypt_text(&text, &identities).map_err(|e| e.in_file(&args.file))?;
    let Some(key) = &args.key else {
        return write_stdout(tree.to_yaml()?.as_bytes());
    };
    match tree.lookup(key) {
        Some(Node::Scalar(s)) => {
            write_stdout(s.value.expose())?;
            if io_is_terminal() {
                write_stdout(b"\n")?;
            }
            Ok(())
        }
        Some(Node::Null) => Ok(()),
        Some(sub) => write_stdout(sub.to_yaml()?.as_bytes()),
        None => Err(SecretsError::input(format!("no key `{key}`"))
            .in_file(&args.file)
            .with_hint(format!(
                "keys: {}",
                tree.flatten().into_keys().collect::<Vec<_>>().join(", ")
            ))),
    }
}

fn io_is_terminal() -> bool {
    use std::io::IsTerminal;
    io::stdout().is_terminal()
}

fn stdin_is_terminal() -> bool {
    use std::io::IsTerminal;
    io::stdin().is_terminal()
}

/// How `edit` ended when it did not fail.
enum EditEnd {
    Done,
    /// Stopped by this signal; the file is unchanged and the plaintext copy removed.
    Interrupted(libc::c_int),
}

fn edit(args: &EditArgs, prompt: &dyn PassphrasePrompt) -> Result<EditEnd, SecretsError> {
    let path = &args.file;
    let text = read_text(path)?;
    let doc = crate::secrets::parse_yaml_mapping(&text).map_err(|e| e.in_file(path))?;
    if crate::secrets::detect(&doc).map_err(|e| e.in_file(path))? == FileFormat::Sops {
        return Err(SecretsError::input("a SOPS file: edit it with `sops FILE`").in_file(path));
    }
    let file = SecretFile::from_mapping(doc).map_err(|e| e.in_file(path))?;
    let identities = Identities::discover(args.identity.identity.as_deref(), prompt)?;
    let old = file.decrypt(&identities).map_err(|e| e.in_file(path))?;
    let shown = old.to_yaml()?;

    // From here until the scratch directory is gone, INT/TERM/HUP/QUIT are caught so it
    // is zeroed and removed whatever ends the edit (declared first: dropped last).
    let catch = Catch::install()
        .map_err(|e| SecretsError::input(format!("cannot catch signals for the edit: {e}")))?;
    let scratch = Scratch::new()?;
    let temp = scratch.dir.join(
        path.file_name()
            .map(|n| PathBuf::from(n).with_extension("plain.yml"))
            .unwrap_or_else(|| PathBuf::from("secrets.plain.yml")),
    );
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(|e| SecretsError::io(&temp, "create the temporary file", &e))?;
    f.write_all(shown.as_bytes())
        .map_err(|e| SecretsError::io(&temp, "write the temporary file", &e))?;
    drop(f);

    let new = loop {
        // Any signal now is meant for fleetdeck: no editor is running.
        if let Some(r) = catch.take().first() {
            return Ok(EditEnd::Interrupted(r.signal));
        }
        if let Some(sig) = run_editor(&temp, &catch)? {
            return Ok(EditEnd::Interrupted(sig));
        }
        if let Some(r) = catch.take().first() {
            return Ok(EditEnd::Interrupted(r.signal));
        }
        let edited = Zeroizing::new(
            fs::read(&temp).map_err(|e| SecretsError::io(&temp, "read the edited file", &e))?,
        );
        if edited.as_slice() == shown.as_bytes() {
            eprintln!("{}: unchanged", path.display());
            return Ok(EditEnd::Done);
        }
        let parsed = std::str::from_utf8(&edited)
            .map_err(|_| SecretsError::input("the edited file is not UTF-8"))
            .and_then(parse_plain_yaml);
        match parsed {
            Ok(tree) => break tree,
            Err(e) => {
                eprintln!("fleetdeck secrets: the edited file is not valid: {e}");
                let again = stdin_is_terminal() && ask_tty("Edit again? [Y/n] ", &catch);
                if let Some(r) = catch.take().first() {
                    return Ok(EditEnd::Interrupted(r.signal));
                }
                if !again {
                    return Err(e.with_hint(format!("{} left unchanged", path.display())));
                }
            }
        }
    };
    if new == old {
        eprintln!("{}: no value changed", path.display());
        return Ok(EditEnd::Done);
    }
    let sealed = file.reseal(&old, &new).map_err(|e| e.in_file(path))?;
    if let Some(r) = catch.take().first() {
        return Ok(EditEnd::Interrupted(r.signal));
    }
    write_atomically(path, sealed.as_bytes())?;
    eprintln!(
        "{}: re-encrypted for {} recipients",
        path.display(),
        file.recipients().len()
    );
    Ok(EditEnd::Done)
}

/// How long an editor told to stop may take (vim preserves its swap file) before it is
/// killed.
const EDITOR_GRACE: Duration = Duration::from_secs(5);

/// Runs `$VISUAL`, else `$EDITOR`, else `vi`, on `file` through `sh -c 'exec …'`, so
/// `EDITOR="code --wait"` works and the editor is fleetdeck's own child. Returns the
/// signal that stopped the edit, if one did.
///
/// While it runs, INT and QUIT from the terminal (Ctrl-C, Ctrl-\) reach the editor too,
/// which decides (vim uses Ctrl-C itself); if they end it, the edit is interrupted.
/// TERM, HUP, and INT or QUIT sent to fleetdeck alone, stop the edit: the editor is sent
/// the same signal (TERM for INT and QUIT), killed if it has not ended after
/// [`EDITOR_GRACE`] or at a second signal, and waited for before its directory goes.
fn run_editor(file: &Path, catch: &Catch) -> Result<Option<libc::c_int>, SecretsError> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var_os(v).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| OsString::from("vi"));
    let mut script = OsString::from("exec ");
    script.push(&editor);
    script.push(" \"$1\"");
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .arg("sh")
        .arg(file)
        .spawn()
        .map_err(|e| SecretsError::input(format!("cannot run the editor {editor:?}: {e}")))?;
    let pid = libc::pid_t::try_from(child.id()).unwrap_or(libc::pid_t::MAX);
    let pidfd = PidFd::open(pid);
    let mut stop: Option<(libc::c_int, Instant)> = None;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                return Err(SecretsError::input(format!(
                    "cannot wait for the editor {editor:?}: {e}"
                )));
            }
        }
        let timeout = match (&pidfd, stop) {
            (_, Some((_, at))) => Some(EDITOR_GRACE.saturating_sub(at.elapsed())),
            (Some(_), None) => None,
            // Without a pidfd (Linux < 5.3) look at the child now and then.
            (None, None) => Some(Duration::from_millis(200)),
        };
        let timeout = match (&pidfd, timeout) {
            (None, Some(t)) => Some(t.min(Duration::from_millis(200))),
            (_, t) => t,
        };
        for r in catch.wait(pidfd.as_ref().map(|p| p.0), timeout) {
            if stop.is_some() {
                // A second signal: do not wait any longer.
                signal(pid, libc::SIGKILL);
                continue;
            }
            let terminal_key = r.from_terminal && matches!(r.signal, libc::SIGINT | libc::SIGQUIT);
            if terminal_key {
                continue;
            }
            let forward = match r.signal {
                libc::SIGINT | libc::SIGQUIT => libc::SIGTERM,
                other => other,
            };
            signal(pid, forward);
            stop = Some((r.signal, Instant::now()));
        }
        if let Some((_, at)) = stop
            && at.elapsed() >= EDITOR_GRACE
        {
            signal(pid, libc::SIGKILL);
        }
    };
    if let Some((sig, _)) = stop {
        return Ok(Some(sig));
    }
    if let Some(sig) = status.signal()
        && CAUGHT.contains(&sig)
    {
        return Ok(Some(sig));
    }
    if !status.success() {
        return Err(SecretsError::input(format!(
            "the editor {editor:?} failed ({status}); nothing was changed"
        )));
    }
    Ok(None)
}

/// Sends `sig` to the editor; it is our unreaped child, so the id cannot be reused.
fn signal(pid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// A process descriptor: readable when the process ends.
struct PidFd(RawFd);

impl PidFd {
    fn open(pid: libc::pid_t) -> Option<PidFd> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        RawFd::try_from(fd).ok().filter(|fd| *fd >= 0).map(PidFd)
    }
}

impl Drop for PidFd {
    fn drop(&mut self) {
        // SAFETY: our descriptor, closed once.
        unsafe {
            libc::close(self.0);
        }
    }
}

/// A yes/no question on the terminal; `false` when there is none, or when a signal
/// arrives while waiting for the answer.
fn ask_tty(question: &str, catch: &Catch) -> bool {
    let Ok(tty) = OpenOptions::new().read(true).write(true).open("/dev/tty") else {
        return false;
    };
    let mut w = &tty;
    if w.write_all(question.as_bytes())
        .and_then(|()| w.flush())
        .is_err()
    {
        return false;
    }
    // The terminal is line-buffered: readable once the answer's line is complete.
    let signals = catch.wait(Some(tty.as_raw_fd()), None);
    if !signals.is_empty() {
        // Put them back for the caller, which stops the edit.
        catch.requeue(&signals);
        return false;
    }
    let mut line = String::new();
    match io::BufReader::new(&tty).read_line(&mut line) {
        Ok(0) | Err(_) => false,
        Ok(_) => !line.trim().to_ascii_lowercase().starts_with('n'),
    }
}

/// Writes beside the target and renames over it, keeping an existing file's mode.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SecretsError> {
    let mode = fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.fleetdeck-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&temp)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&temp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&temp);
        SecretsError::io(path, "write the file", &e)
    })
}

fn write_stdout(bytes: &[u8]) -> Result<(), SecretsError> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| SecretsError::input(format!("cannot write to stdout: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_keeps_mode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.yml");
        fs::write(&p, "old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&p, b"new").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
