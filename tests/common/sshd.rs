//! A real OpenSSH server on 127.0.0.1 for tests of fleetdeck's SSH client.
//!
//! Each `TestSshd` owns a tempdir with its own host key, optional host certificate,
//! authorized keys, config and log, so a test controls exactly what the server
//! presents and accepts. The server can be killed (established connections die with
//! it), restarted on the same port with the same keys, and have its per-connection
//! processes frozen (the client sees silence, as with a hung host) while new
//! connections still work. Needs root: sshd's privilege separation requires it.

use std::collections::{HashMap, HashSet};
use std::fs::{self, OpenOptions};
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

const SSHD: &str = "/usr/sbin/sshd";
/// Masks root's `~/.bashrc` with `$1` (when there is one), then execs the rest.
const EMPTY_BASHRC_SCRIPT: &str = r#"set -e
empty=$1; shift
if [ -f /root/.bashrc ]; then mount -n --bind "$empty" /root/.bashrc; fi
exec "$@""#;
/// How long a start (or each restart attempt) may take to accept and send its banner.
const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `restart` keeps retrying when the old port is briefly unavailable.
const RESTART_BIND_RETRY: Duration = Duration::from_secs(5);

/// What the server presents and accepts. `Default` is: a fresh ed25519 host key, no
/// certificate, no authorized keys, no extra config.
#[derive(Debug, Clone, Default)]
pub struct SshdOptions {
    /// A private host key to copy in (its `.pub` beside it is used when present).
    pub host_key: Option<PathBuf>,
    /// A host certificate (`*-cert.pub`) for that key, copied in and served.
    pub host_certificate: Option<PathBuf>,
    /// Public key lines for root's authorized_keys.
    pub authorized_keys: Vec<String>,
    /// Raw sshd_config lines appended after the fixture's own.
    pub extra_config: Vec<String>,
}

/// A running `sshd -D` on 127.0.0.1; killed with all its connections on drop.
pub struct TestSshd {
    dir: TempDir,
    port: u16,
    config: PathBuf,
    host_key: PathBuf,
    extra_config: Vec<String>,
    has_certificate: bool,
    child: Option<Child>,
}

/// Why one attempt to bring sshd up failed.
enum StartError {
    /// sshd exited because the port was taken: worth retrying.
    PortBusy,
    Other(String),
}

impl TestSshd {
    pub fn start(options: SshdOptions) -> TestSshd {
        // sshd's privilege separation chroots here and refuses to run without it.
        fs::create_dir_all("/run/sshd").expect("creating /run/sshd");
        let dir = tempfile::Builder::new()
            .prefix("fleetdeck-sshd-")
            .tempdir()
            .expect("creating the sshd tempdir");
        let host_key = dir.path().join("ssh_host_key");
        match &options.host_key {
            Some(src) => install_host_key(src, &host_key),
            None => keygen(&host_key, "", "fleetdeck-test-host"),
        }
        let has_certificate = match &options.host_certificate {
            Some(src) => {
                fs::copy(src, cert_path(&host_key))
                    .unwrap_or_else(|e| panic!("copying {}: {e}", src.display()));
                true
            }
            None => false,
        };
        let mut authorized = options.authorized_keys.join("\n");
        authorized.push('\n');
        fs::write(dir.path().join("authorized_keys"), authorized).expect("writing authorized_keys");

        let config = dir.path().join("sshd_config");
        let mut sshd = TestSshd {
            dir,
            port: 0,
            config,
            host_key,
            extra_config: options.extra_config,
            has_certificate,
            child: None,
        };
        // A port picked by binding :0 can be taken again before sshd binds it (by a
        // parallel test or an outgoing connection), so a lost race picks a new one.
        let mut last = String::new();
        for _ in 0..5 {
            sshd.port = free_port();
            sshd.write_config();
            match sshd.spawn_and_wait() {
                Ok(()) => return sshd,
                Err(StartError::PortBusy) => last = "port taken".into(),
                Err(StartError::Other(e)) => panic!("{e}"),
            }
        }
        panic!(
            "sshd could not bind a free port ({last}); log:\n{}",
            sshd.log()
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> String {
        "127.0.0.1".to_string()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The host public key as one known_hosts-style line: "ssh-ed25519 AAAA... comment".
    pub fn host_public_key_line(&self) -> String {
        public_key_line(&pub_path(&self.host_key))
    }

    /// The private host key (its `.pub` and any `-cert.pub` sit beside it).
    pub fn host_key_path(&self) -> &Path {
        &self.host_key
    }

    /// Everything sshd wrote to stderr, across restarts.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// The listener's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The listener's descendants: one process tree per connection (pre-auth child,
    /// privileged monitor, session process, the remote command).
    pub fn connection_pids(&self) -> Vec<u32> {
        self.pid().map(descendants).unwrap_or_default()
    }

    /// SIGKILLs the listener and every connection process, and waits for them, so
    /// established clients see their TCP connection closed. Idempotent.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let root = child.id();
        // Freeze the whole tree first: a killed parent's children are reparented
        // away and could no longer be found, and a running one could still fork.
        signal(root, libc::SIGSTOP);
        let mut tree = stop_descendants(root);
        tree.push(root);
        for &pid in &tree {
            signal(pid, libc::SIGKILL);
        }
        let _ = child.wait();
        wait_gone(&tree);
    }

    /// Starts sshd again with the same config, keys and port (established
    /// connections from before a `kill` stay dead). Kills a running one first.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + RESTART_BIND_RETRY;
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(StartError::PortBusy) if Instant::now() < deadline => {
                    sleep(Duration::from_millis(100));
                }
                Err(StartError::PortBusy) => panic!(
                    "sshd could not rebind port {} within {:?}; log:\n{}",
                    self.port,
                    RESTART_BIND_RETRY,
                    self.log()
                ),
                Err(StartError::Other(e)) => panic!("{e}"),
            }
        }
    }

    /// SIGSTOPs every connection process (not the listener): established clients
    /// hear nothing more, as from a hung host, while new connections still work.
    pub fn freeze_connections(&self) {
        if let Some(root) = self.pid() {
            stop_descendants(root);
        }
    }

    /// SIGCONTs what `freeze_connections` stopped.
    pub fn thaw_connections(&self) {
        for pid in self.connection_pids() {
            signal(pid, libc::SIGCONT);
        }
    }

    fn write_config(&self) {
        let dir = self.dir.path();
        let mut lines = vec![
            "ListenAddress 127.0.0.1".to_string(),
            format!("Port {}", self.port),
            format!("HostKey {}", self.host_key.display()),
        ];
        if self.has_certificate {
            lines.push(format!(
                "HostCertificate {}",
                cert_path(&self.host_key).display()
            ));
        }
        lines.extend([
            format!(
                "AuthorizedKeysFile {}",
                dir.join("authorized_keys").display()
            ),
            "PermitRootLogin prohibit-password".into(),
            "PasswordAuthentication no".into(),
            "KbdInteractiveAuthentication no".into(),
            "UsePAM no".into(),
            "StrictModes no".into(),
            format!("PidFile {}", dir.join("sshd.pid").display()),
            "LogLevel VERBOSE".into(),
            "AllowStreamLocalForwarding yes".into(),
            "AllowTcpForwarding yes".into(),
            "MaxStartups 100".into(),
        ]);
        lines.extend(self.extra_config.iter().cloned());
        let mut text = lines.join("\n");
        text.push('\n');
        fs::write(&self.config, text).expect("writing sshd_config");
    }

    /// Starts sshd and waits until it logged that it listens on our port and a
    /// connection gets its banner. The log check matters: after a lost port race
    /// the banner could come from someone else's server.
    fn spawn_and_wait(&mut self) -> Result<(), StartError> {
        let log_path = self.dir.path().join("sshd.log");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("opening sshd.log");
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0) as usize;
        // sshd runs in a mount namespace of its own where root's `~/.bashrc` is an
        // empty file: bash reads it for every command run over SSH, and this
        // machine's (`pyenv init`, whose rehash takes a lock for up to a minute when
        // many sessions start at once) is not the test server's. `unshare` execs,
        // so the child is sshd itself.
        let empty_bashrc = self.dir.path().join("empty.bashrc");
        fs::write(&empty_bashrc, "").expect("writing empty.bashrc");
        let mut child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(EMPTY_BASHRC_SCRIPT)
            .arg("sh")
            .arg(&empty_bashrc)
            .arg(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("running {SSHD}: {e}"));
        let new_log = || {
            let all = fs::read(&log_path).unwrap_or_default();
            String::from_utf8_lossy(all.get(log_start..).unwrap_or_default()).into_owned()
        };
        let listening = format!("Server listening on 127.0.0.1 port {}.", self.port);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("polling sshd") {
                let log = new_log();
                return Err(if log.contains("Address already in use") {
                    StartError::PortBusy
                } else {
                    StartError::Other(format!("sshd exited with {status}; log:\n{log}"))
                });
            }
            if new_log().contains(&listening) && banner(addr) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(StartError::Other(format!(
                    "sshd did not answer on {addr} within {READY_TIMEOUT:?}; log:\n{}",
                    new_log()
                )));
            }
            sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a server on `addr` accepts and sends an SSH-2.0 banner.
fn banner(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < 8 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got.starts_with(b"SSH-2.0-")
}

/// A port nothing listens on right now (the kernel's choice for :0).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

fn install_host_key(src: &Path, dst: &Path) {
    fs::copy(src, dst).unwrap_or_else(|e| panic!("copying host key {}: {e}", src.display()));
    // sshd refuses a private key others can read.
    fs::set_permissions(dst, fs::Permissions::from_mode(0o600)).expect("chmod host key");
    let src_pub = pub_path(src);
    if src_pub.exists() {
        fs::copy(&src_pub, pub_path(dst)).expect("copying host .pub");
    } else {
        let out = Command::new("ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(dst)
            .stdin(Stdio::null())
            .output()
            .expect("running ssh-keygen -y");
        assert!(
            out.status.success(),
            "ssh-keygen -y -f {}: {}",
            dst.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        fs::write(pub_path(dst), out.stdout).expect("writing host .pub");
    }
}

/// `KEY` -> `KEY.pub`.
fn pub_path(key: &Path) -> PathBuf {
    let mut s = key.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// Where ssh-keygen -s puts the certificate of `KEY` or `KEY.pub`: `KEY-cert.pub`.
fn cert_path(key: &Path) -> PathBuf {
    let s = key.to_string_lossy();
    let base = s.strip_suffix(".pub").unwrap_or(&s);
    PathBuf::from(format!("{base}-cert.pub"))
}

fn run_keygen(cmd: &mut Command) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("running ssh-keygen");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes an ed25519 key at `path` (+ `.pub`), replacing any; an empty passphrase
/// leaves it unencrypted.
pub fn keygen(path: &Path, passphrase: &str, comment: &str) {
    // ssh-keygen would ask before overwriting, and there is no one to answer.
    let _ = fs::remove_file(path);
    let _ = fs::remove_file(pub_path(path));
    run_keygen(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f"])
            .arg(path),
    );
}

/// A certificate authority's private key in `dir` (its public half is `ca.pub`).
pub fn make_ca(dir: &Path) -> PathBuf {
    let ca = dir.join("ca");
    keygen(&ca, "", "fleetdeck-test-ca");
    ca
}

/// Signs a host public key with `ca` for `principals`, valid for `validity` (as
/// ssh-keygen -V: "-5m:+1h", or a past window like "20200101:20200102"). Returns the
/// `-cert.pub` path beside the key.
pub fn sign_host_key(ca: &Path, host_pub: &Path, principals: &[&str], validity: &str) -> PathBuf {
    let cert = cert_path(host_pub);
    let _ = fs::remove_file(&cert);
    run_keygen(
        Command::new("ssh-keygen")
            .arg("-q")
            .arg("-s")
            .arg(ca)
            .args(["-h", "-I", "fleetdeck-test-host", "-n"])
            .arg(principals.join(","))
            .arg("-V")
            .arg(validity)
            .arg(host_pub),
    );
    assert!(cert.exists(), "ssh-keygen did not write {}", cert.display());
    cert
}

/// The one line of a `.pub` (or `-cert.pub`) file, trimmed.
pub fn public_key_line(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// An `ssh-agent -D` on its own socket, killed on drop, so agent auth is tested
/// without touching the user's agent.
pub struct TestAgent {
    dir: TempDir,
    socket: PathBuf,
    child: Child,
}

impl TestAgent {
    pub fn start() -> TestAgent {
        let dir = tempfile::Builder::new()
            .prefix("fleetdeck-agent-")
            .tempdir()
            .expect("creating the agent tempdir");
        let socket = dir.path().join("agent.sock");
        let log = fs::File::create(dir.path().join("agent.log")).expect("creating agent.log");
        let mut child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("running ssh-agent");
        let deadline = Instant::now() + READY_TIMEOUT;
        while UnixStream::connect(&socket).is_err() {
            let exited = child.try_wait().expect("polling ssh-agent");
            if exited.is_some() || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "ssh-agent did not come up on {} ({exited:?}): {}",
                    socket.display(),
                    fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default()
                );
            }
            sleep(Duration::from_millis(10));
        }
        TestAgent { dir, socket, child }
    }

    /// The value for SSH_AUTH_SOCK.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Loads an unencrypted private key into the agent.
    pub fn add(&self, key_path: &Path) {
        let out = Command::new("ssh-add")
            .arg(key_path)
            .env("SSH_AUTH_SOCK", &self.socket)
            .stdin(Stdio::null())
            .output()
            .expect("running ssh-add");
        assert!(
            out.status.success(),
            "ssh-add {}: {}",
            key_path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // ESRCH (already gone) is fine: we only want it not running.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// State letter and parent pid from /proc/PID/stat; None once the process is gone.
fn proc_stat(pid: u32) -> Option<(char, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid ...": comm may hold spaces and parens, so cut at the last ')'.
    let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((state, ppid))
}

/// All live descendants of `root`, from one scan of /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in fs::read_dir("/proc").expect("reading /proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if let Some((state, ppid)) = proc_stat(pid)
            && !matches!(state, 'Z' | 'X')
        {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        for &child in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
            out.push(child);
            todo.push(child);
        }
    }
    out
}

/// SIGSTOPs every descendant of `root` until a fresh scan finds none that is not
/// stopped (a process caught mid-fork leaves a child the previous scan missed).
/// Returns them all.
fn stop_descendants(root: u32) -> Vec<u32> {
    let mut seen: HashSet<u32> = HashSet::new();
    loop {
        let new: Vec<u32> = descendants(root)
            .into_iter()
            .filter(|p| seen.insert(*p))
            .collect();
        if new.is_empty() {
            return seen.into_iter().collect();
        }
        for &pid in &new {
            signal(pid, libc::SIGSTOP);
        }
        // Wait until the stops have landed before looking again.
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline
            && new
                .iter()
                .any(|&p| proc_stat(p).is_some_and(|(s, _)| !matches!(s, 'T' | 't' | 'Z' | 'X')))
        {
            sleep(Duration::from_millis(2));
        }
    }
}

/// Waits (≤5 s) until each pid has exited; a zombie counts, as its reaper may be
/// an init that never reaps. Reports rather than panics: this runs in `Drop`, where
/// a panic during unwinding would abort the whole test binary.
fn wait_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    for &pid in pids {
        while proc_stat(pid).is_some_and(|(s, _)| !matches!(s, 'Z' | 'X')) {
            if Instant::now() > deadline {
                eprintln!("TestSshd: process {pid} survived SIGKILL");
                break;
            }
            sleep(Duration::from_millis(5));
        }
    }
}
