//! `fleetdeck secrets keygen | encrypt | decrypt | edit`.
//!
//! Exit codes: 0 ok, 1 decryption or integrity failure, 2 usage or input error. Errors
//! go to stderr and name the file; plaintext goes only to stdout (`decrypt`) or to the
//! editor's private temporary file (`edit`).

use std::ffi::{CString, OsString};
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::cli::{DecryptArgs, EditArgs, EncryptArgs, KeygenArgs, SecretsCommand};
use super::fleetdeck::SecretFile;
use super::{
    FileFormat, Identities, NeverAsk, Node, PassphrasePrompt, Recipients, SecretsError,
    TerminalPrompt, decrypt_text, encrypt_tree_to_string, generate_identity, parse_plain_yaml,
    read_text,
};

/// Runs one `secrets` subcommand; `batch` (the global `--batch`) forbids prompting.
pub fn run(command: &SecretsCommand, batch: bool) -> u8 {
    let prompt: &dyn PassphrasePrompt = if batch { &NeverAsk } else { &TerminalPrompt };
    let result = match command {
        SecretsCommand::Keygen(args) => keygen(args),
        SecretsCommand::Encrypt(args) => encrypt(args),
        SecretsCommand::Decrypt(args) => decrypt(args, prompt),
        SecretsCommand::Edit(args) => edit(args, prompt),
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
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
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
    let doc = super::parse_yaml_mapping(&text).map_err(|e| e.in_file(&args.input))?;
    if super::detect(&doc).is_ok() {
        return Err(
            SecretsError::input("already encrypted (a SOPS or fleetdeck secret file)")
                .in_file(&args.input),
        );
    }
    let tree = super::fleetdeck::plain_from_mapping(doc).map_err(|e| e.in_file(&args.input))?;
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

fn edit(args: &EditArgs, prompt: &dyn PassphrasePrompt) -> Result<(), SecretsError> {
    let path = &args.file;
    let text = read_text(path)?;
    let doc = super::parse_yaml_mapping(&text).map_err(|e| e.in_file(path))?;
    if super::detect(&doc).map_err(|e| e.in_file(path))? == FileFormat::Sops {
        return Err(SecretsError::input("a SOPS file: edit it with `sops FILE`").in_file(path));
    }
    let file = SecretFile::from_mapping(doc).map_err(|e| e.in_file(path))?;
    let identities = Identities::discover(args.identity.identity.as_deref(), prompt)?;
    let old = file.decrypt(&identities).map_err(|e| e.in_file(path))?;
    let shown = old.to_yaml()?;

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
        run_editor(&temp)?;
        let edited = Zeroizing::new(
            fs::read(&temp).map_err(|e| SecretsError::io(&temp, "read the edited file", &e))?,
        );
        if edited.as_slice() == shown.as_bytes() {
            eprintln!("{}: unchanged", path.display());
            return Ok(());
        }
        let parsed = std::str::from_utf8(&edited)
            .map_err(|_| SecretsError::input("the edited file is not UTF-8"))
            .and_then(parse_plain_yaml);
        match parsed {
            Ok(tree) => break tree,
            Err(e) => {
                eprintln!("fleetdeck secrets: the edited file is not valid: {e}");
                if !(stdin_is_terminal() && ask_tty("Edit again? [Y/n] ")) {
                    return Err(e.with_hint(format!("{} left unchanged", path.display())));
                }
            }
        }
    };
    if new == old {
        eprintln!("{}: no value changed", path.display());
        return Ok(());
    }
    let sealed = file.reseal(&old, &new).map_err(|e| e.in_file(path))?;
    write_atomically(path, sealed.as_bytes())?;
    eprintln!(
        "{}: re-encrypted for {} recipients",
        path.display(),
        file.recipients().len()
    );
    Ok(())
}

/// `$VISUAL`, else `$EDITOR`, else `vi`, through `sh -c` so `EDITOR="code --wait"` works.
fn run_editor(file: &Path) -> Result<(), SecretsError> {
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var_os(v).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| OsString::from("vi"));
    let mut script = editor.clone();
    script.push(" \"$1\"");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .arg("sh")
        .arg(file)
        .status()
        .map_err(|e| SecretsError::input(format!("cannot run the editor {editor:?}: {e}")))?;
    if !status.success() {
        return Err(SecretsError::input(format!(
            "the editor {editor:?} failed ({status}); nothing was changed"
        )));
    }
    Ok(())
}

/// A yes/no question on the terminal; `false` when there is none.
fn ask_tty(question: &str) -> bool {
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
    let mut line = String::new();
    match io::BufReader::new(&tty).read_line(&mut line) {
        Ok(0) | Err(_) => false,
        Ok(_) => !line.trim().to_ascii_lowercase().starts_with('n'),
    }
}

/// A private directory (0700, from mkdtemp) for the editor's plaintext: in /dev/shm when
/// it exists (memory, never a disk), else the temporary directory. On drop every file in
/// it is overwritten with zeros before it is removed, also when the edit failed.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new() -> Result<Scratch, SecretsError> {
        let mut bases = Vec::new();
        if Path::new("/dev/shm").is_dir() {
            bases.push(PathBuf::from("/dev/shm"));
        }
        bases.push(std::env::temp_dir());
        let mut last = None;
        for base in bases {
            match mkdtemp(&base.join("fleetdeck-secrets-XXXXXX")) {
                Ok(dir) => return Ok(Scratch { dir }),
                Err(e) => last = Some((base, e)),
            }
        }
        let (base, e) =
            last.unwrap_or_else(|| (std::env::temp_dir(), io::Error::other("no directory")));
        Err(SecretsError::io(
            &base,
            "create a private temporary directory",
            &e,
        ))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(entries) = fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let p = entry.path();
                if p.is_file() {
                    let _ = shred(&p);
                }
            }
        }
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!(
                "fleetdeck secrets: warning: could not remove {}: {e}",
                self.dir.display()
            );
        }
    }
}

fn shred(path: &Path) -> io::Result<()> {
    let len = fs::metadata(path)?.len();
    let mut f = OpenOptions::new().write(true).open(path)?;
    let zeros = [0u8; 4096];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        f.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    f.sync_all()?;
    drop(f);
    fs::remove_file(path)
}

fn mkdtemp(template: &Path) -> io::Result<PathBuf> {
    let bytes = template.as_os_str().as_encoded_bytes().to_vec();
    let c = CString::new(bytes).map_err(io::Error::other)?;
    let mut raw = c.into_bytes_with_nul();
    // SAFETY: `raw` is a NUL-terminated, writable template ending in XXXXXX; mkdtemp
    // replaces those in place and returns null on failure.
    let out = unsafe { libc::mkdtemp(raw.as_mut_ptr().cast()) };
    if out.is_null() {
        return Err(io::Error::last_os_error());
    }
    raw.pop();
    Ok(PathBuf::from(OsString::from_vec(raw)))
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
    fn scratch_is_private_and_shredded() {
        let scratch = Scratch::new().unwrap();
        let dir = scratch.dir.clone();
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        if Path::new("/dev/shm").is_dir() {
            assert!(dir.starts_with("/dev/shm"), "{}", dir.display());
        }
        fs::write(dir.join("a"), b"secret").unwrap();
        drop(scratch);
        assert!(!dir.exists());
    }

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
