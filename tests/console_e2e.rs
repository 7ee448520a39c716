//! The console end to end: the release binary in tmux against the lab, driven with
//! keys, its screen captured and asserted; and hostile text from a host (a label, a log
//! line, a health-check output full of escape sequences) shown inert.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::lab_container::{LOOP, TestContainer};
use common::{lab, lab_docker, stderr};

/// The binary under test: the release build when `FLEETDECK_RELEASE_BIN` names it
/// (scripts/test.sh builds it), else this build's.
fn binary() -> PathBuf {
    std::env::var_os("FLEETDECK_RELEASE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(common::bin()))
}

struct Tmux {
    socket: PathBuf,
    session: String,
    _dir: tempfile::TempDir,
}

impl Tmux {
    /// Starts `command` in a detached 160×30 tmux session with its own server.
    fn start(command: &str, env: &[(&str, &str)]) -> Tmux {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("tmux.sock");
        let session = "fd".to_owned();
        let mut cmd = Command::new("tmux");
        cmd.arg("-S").arg(&socket).args([
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "160",
            "-y",
            "30",
        ]);
        for (k, v) in env {
            cmd.args(["-e", &format!("{k}={v}")]);
        }
        cmd.arg(command);
        let out = cmd.output().expect("tmux");
        assert!(out.status.success(), "tmux: {}", stderr(&out));
        Tmux {
            socket,
            session,
            _dir: dir,
        }
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux")
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            let out = self.tmux(&["send-keys", "-t", &self.session, key]);
            assert!(out.status.success(), "send-keys {key}: {}", stderr(&out));
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn screen(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-t", &self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text`, and returns it.
    fn wait_for(&self, text: &str) -> String {
        self.wait_for_within(text, Duration::from_secs(30))
    }

    /// Waits up to `limit` until the screen shows `text`, and returns it.
    fn wait_for_within(&self, text: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} never appeared; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn pane_title(&self) -> String {
        let out = self.tmux(&[
            "display-message",
            "-p",
            "-t",
            &self.session,
            "#{pane_title}",
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn alive(&self) -> bool {
        self.tmux(&["has-session", "-t", &self.session])
            .status
            .success()
    }

    /// Records every byte the program writes to its terminal.
    fn record(&self, file: &Path) {
        let out = self.tmux(&[
            "pipe-pane",
            "-O",
            "-t",
            &self.session,
            &format!("cat >> {}", file.display()),
        ]);
        assert!(out.status.success(), "pipe-pane: {}", stderr(&out));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

fn console_command(inventory: &Path, limit: &str, log: &Path, after: &str) -> String {
    format!(
        "{} -i {} --limit {limit} --log-file {} ; {after}",
        binary().display(),
        inventory.display(),
        log.display(),
    )
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn console_moves_to_the_unhealthy_container_reads_its_logs_and_quits_clean() {
    let state = lab();
    let dir = tempfile::tempdir().expect("tempdir");
    let exited = dir.path().join("exited");
    let command = console_command(
        &state.plan.dir.join("inventory.yml"),
        "all",
        &dir.path().join("log"),
        &format!(
            "stty -a > {} 2>&1; echo $? > {}; sleep 30",
            dir.path().join("stty").display(),
            exited.display()
        ),
    );
    // Inventory order, as config.yaml can ask.
    let config = config_home(Some("overview_order: inventory\n"));
    let config_dir = config.path().display().to_string();
    let tmux = Tmux::start(
        &command,
        &[("TERM", "xterm-256color"), ("XDG_CONFIG_HOME", &config_dir)],
    );

    // The overview: every host, the planted problems visible.
    let overview = tmux.wait_for("REACH");
    assert!(overview.contains("client-beta"), "{overview}");
    tmux.wait_for("worker");
    assert!(tmux.screen().contains("sorted by inventory order"));
    // Down to client-alpha (inventory order: bastion, client-alpha, …), into it.
    tmux.keys(&["j", "Enter"]);
    let host = tmux.wait_for("Containers");
    assert!(host.contains("client-alpha"), "{host}");
    assert!(host.contains("unhealthy"), "{host}");
    // The unhealthy `worker` is preselected (the host's worst container).
    tmux.keys(&["l"]);
    let logs = tmux.wait_for("worker on client-alpha");
    assert!(logs.contains("following"), "{logs}");
    // Search.
    tmux.keys(&["/", "w", "o", "r", "k", "Enter"]);
    let searched = tmux.wait_for("search \"work\"");
    assert!(searched.contains("search"), "{searched}");
    // Timeline, then quit.
    tmux.keys(&["t"]);
    let timeline = tmux.wait_for("Timeline");
    assert!(timeline.contains("connected"), "{timeline}");
    // q goes back from the timeline to the logs; ctrl-c quits from anywhere.
    tmux.keys(&["q"]);
    tmux.wait_for("worker on client-alpha");
    tmux.keys(&["C-c"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !exited.exists() {
        assert!(
            Instant::now() < deadline,
            "fleetdeck did not exit; screen:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The terminal is left as it was found: cooked mode with echo, main screen.
    let stty = std::fs::read_to_string(dir.path().join("stty")).expect("stty output");
    assert!(stty.contains(" icanon") && stty.contains(" echo"), "{stty}");
    let after = tmux.screen();
    assert!(
        !after.contains("Timeline"),
        "back on the main screen:\n{after}"
    );
    assert!(tmux.alive());
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn hostile_text_from_a_host_reaches_the_terminal_inert() {
    let state = lab();
    let name = format!("fd-test-hostile-{}", std::process::id());
    // OSC title and clipboard, clear screen, cursor moves, 8-bit CSI, bidi override.
    let payload =
        "\u{1b}]0;PWNED\u{7}\u{1b}]52;c;cHduZWQ=\u{7}\u{1b}[2J\u{1b}[H\u{9b}31m\u{202e}gnp.exe";
    let docker = lab_docker(&state, "bastion");
    let script = "while true; do printf 'hostile-log %s\\n' \"$P\"; sleep 1; done";
    let run = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--label",
        &format!("note={payload}"),
        "--env",
        &format!("P={payload}"),
        "--health-cmd",
        "printf \"hostile-health $P\"; exit 1",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "fleetdeck-lab/app:1.0",
        "sh",
        "-c",
        script,
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    struct Remove<'a>(&'a dyn Fn(&[&str]) -> Output, String);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            (self.0)(&["rm", "-f", &self.1]);
        }
    }
    let _remove = Remove(&docker, name.clone());

    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("raw");
    let command = console_command(
        &state.plan.dir.join("inventory.yml"),
        "bastion",
        &dir.path().join("log"),
        "sleep 30",
    );
    let tmux = Tmux::start(&command, &[("TERM", "xterm-256color")]);
    tmux.record(&raw);
    let title_before = tmux.pane_title();
    // The overview is drawn (not just a line printed before the console started).
    tmux.wait_for("REACH");
    tmux.wait_for("1/2");
    tmux.keys(&["Enter"]);
    // Wait until the health check has failed and the output is shown.
    let host = tmux.wait_for("unhealthy: hostile");
    assert!(host.contains("fd-test-hostile"), "{host}");
    // Select the hostile container (sorted by name: fd-test-… before proxy).
    tmux.keys(&["g", "g", "l"]);
    tmux.wait_for("hostile-log");
    tmux.keys(&["Escape", "i"]);
    tmux.wait_for("note");
    std::thread::sleep(Duration::from_millis(500));
    tmux.keys(&["C-c"]);
    std::thread::sleep(Duration::from_millis(500));

    assert_eq!(
        tmux.pane_title(),
        title_before,
        "the pane title is unchanged"
    );
    let bytes = std::fs::read(&raw).expect("raw terminal output");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("hostile-log"), "the log line was drawn");
    assert!(
        !text.contains("PWNED"),
        "no OSC title payload reached the terminal"
    );
    assert!(
        !bytes.windows(2).any(|w| w == b"\x1b]"),
        "no OSC sequence at all"
    );
    assert!(!bytes.windows(2).any(|w| w == [0xc2, 0x9b]), "no 8-bit CSI");
    assert!(!text.contains('\u{202e}'), "no bidi override");
    assert!(!text.contains("cHduZWQ="), "no clipboard payload");
}

/// Waits up to `limit` for `file` to exist (the shell after the console writes it).
fn wait_for_file(tmux: &Tmux, file: &Path, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !file.exists() {
        assert!(
            Instant::now() < deadline,
            "fleetdeck did not exit; screen:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The entries of `dir` (none when it does not exist).
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// A restore drill walked in the console up to keeping its restored data, its wizard
/// closed and the console quit at once: the process waits for the closed drill to be
/// finished, so when it has exited the drill's scratch directory is gone, the host's
/// deploy lock is released and the report is in the history. (Quitting used to end
/// the process under the drill's worker, leaving all three behind.)
#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn quitting_right_after_closing_a_drill_wizard_finishes_the_drill_first() {
    const HOST: &str = "client-gamma";
    let state = lab();
    let plan_host = state
        .plan
        .hosts
        .iter()
        .find(|h| h.name == HOST)
        .expect("lab host");
    let host_dir = state.plan.host_dir(plan_host);
    // The lab's drill spec: scratch_dir is the host's drill-scratch (src/lab/render.rs);
    // lab hosts share this machine's filesystem.
    let scratch = host_dir.join("drill-scratch");
    let lock = state.plan.state_dir(plan_host).join("deploy.lock");
    assert!(
        !lock.exists(),
        "{HOST}'s deploy lock is free before the test"
    );
    let scratch_before = entries(&scratch);

    let dir = tempfile::tempdir().expect("tempdir");
    let state_home = dir.path().join("state");
    std::fs::create_dir(&state_home).expect("mkdir state");
    let exited = dir.path().join("exited");
    let command = console_command(
        &state.plan.dir.join("inventory.yml"),
        HOST,
        &dir.path().join("log"),
        &format!("echo $? > {}; sleep 30", exited.display()),
    );
    let home = state_home.display().to_string();
    let tmux = Tmux::start(
        &command,
        &[("TERM", "xterm-256color"), ("XDG_STATE_HOME", &home)],
    );
    tmux.wait_for("REACH");
    tmux.wait_for(HOST);

    // The wizard with the selected host chosen; its defaults: the app `web`, its
    // declared repository, the latest snapshot.
    tmux.keys(&["R"]);
    let hosts = tmux.wait_for(": Choose the host ");
    assert!(hosts.contains(HOST), "{hosts}");
    tmux.keys(&["Enter"]);
    tmux.wait_for(": Choose the app ");
    tmux.keys(&["Enter"]);
    tmux.wait_for(": The repository ");
    tmux.keys(&["Enter"]);
    // Listing the snapshots, then the preflight (it takes the host's lock).
    tmux.wait_for(": Choose the snapshot ");
    tmux.keys(&["Enter"]);
    tmux.wait_for(": Review ");
    tmux.keys(&["Enter"]);
    tmux.wait_for(": Confirm ");
    tmux.keys(&["y"]);
    // Restoring and verifying (a throwaway container included) take a while.
    tmux.wait_for_within(": Results ", Duration::from_secs(120));
    tmux.keys(&["Enter"]);
    let offer = tmux.wait_for("Keep the restored data");
    assert!(offer.contains(": Clean up "), "{offer}");
    tmux.keys(&["y"]);
    let kept = tmux.wait_for(": The restored data ");
    assert!(kept.contains("drill dir"), "{kept}");

    // The drill's own directory is kept in the scratch directory, the lock held.
    let new: Vec<PathBuf> = entries(&scratch)
        .into_iter()
        .filter(|p| !scratch_before.contains(p))
        .collect();
    assert_eq!(
        new.len(),
        1,
        "one new drill directory in {scratch:?}: {new:?}"
    );
    let target = new[0].clone();
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a drill directory name")
        .to_owned();
    assert!(name.starts_with("fleetdeck-drill-web-"), "{target:?}");
    assert!(kept.contains(&name), "the panel names {name}: {kept}");
    assert!(lock.exists(), "the drill holds {HOST}'s deploy lock");

    // Back to the results (esc twice), then leave the wizard and quit at once: `q`
    // closes it from there (the drill is committed: Ending::Closed), ctrl-c quits, in
    // one write so that the drill's worker has no head start.
    tmux.keys(&["Escape"]);
    tmux.wait_for("Keep the restored data");
    tmux.keys(&["Escape"]);
    tmux.wait_for(": Results ");
    let out = tmux.tmux(&["send-keys", "-t", &tmux.session, "q", "C-c"]);
    assert!(out.status.success(), "send-keys: {}", stderr(&out));
    wait_for_file(&tmux, &exited, Duration::from_secs(60));
    let code = std::fs::read_to_string(&exited).expect("exit status");
    let after = tmux.screen();
    assert_eq!(code.trim(), "0", "{after}");

    // The process is gone: whatever the drill still owed was done before it exited.
    assert!(
        !target.exists(),
        "the drill's scratch directory {target:?} was removed before the process exited; \
         screen:\n{after}"
    );
    assert!(
        !lock.exists(),
        "{HOST}'s deploy lock was released before the process exited; screen:\n{after}"
    );
    let history =
        fleetdeck::probes::drill::History::at(state_home.join("fleetdeck").join("drills"));
    let reports = history.load(HOST, "web");
    assert_eq!(
        reports.len(),
        1,
        "the drill's report is in the history; screen:\n{after}"
    );
    let report = &reports[0];
    assert_eq!(
        report.target.as_deref(),
        target.to_str(),
        "the report is this drill's"
    );
    assert!(report.cleanup.removed, "{:?}", report.cleanup);
    assert_eq!(
        report.result,
        fleetdeck::probes::drill::DrillResult::Passed,
        "{report:?}"
    );
}

/// ssh_config directives fleetdeck does not act on are said in the console too, on its
/// notice line, with where they are written (not only in the log file).
#[test]
#[ignore = "needs tmux (scripts/test.sh)"]
fn ssh_config_notices_are_shown_on_the_notice_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A port that was just free: the host is unreachable, which does not matter here.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let config = dir.path().join("ssh_config");
    std::fs::write(
        &config,
        format!("Host gone\n  HostName 127.0.0.1\n  Port {port}\n  ProxyCommand nc %h %p\n"),
    )
    .expect("write ssh_config");
    let inventory = dir.path().join("inventory.yml");
    std::fs::write(&inventory, "all:\n  hosts:\n    gone: {}\n").expect("write inventory");
    let command = format!(
        "{} --batch -F {} -i {} --log-file {}; sleep 30",
        binary().display(),
        config.display(),
        inventory.display(),
        dir.path().join("log").display(),
    );
    let tmux = Tmux::start(&command, &[("TERM", "xterm-256color")]);
    let screen = tmux.wait_for("does not act on ProxyCommand");
    assert!(
        screen.contains(&format!("({}:4)", config.display())),
        "names the file and line: {screen}"
    );
    tmux.keys(&["C-c"]);
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn the_posture_pane_names_a_secret_variable_and_never_shows_its_value() {
    let state = lab();
    let name = format!("fd-test-secret-env-{}", std::process::id());
    let secret = format!("pw-{}-not-for-screens", std::process::id());
    let docker = lab_docker(&state, "bastion");
    struct Remove<'a>(&'a dyn Fn(&[&str]) -> Output, String);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            (self.0)(&["rm", "-f", &self.1]);
        }
    }
    let _remove = Remove(&docker, name.clone());
    let env = format!("DB_PASSWORD={secret}");
    let run = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "-e",
        &env,
        "--memory",
        "64m",
        "--user",
        "1000",
        "--health-cmd",
        "true",
        "--restart",
        "unless-stopped",
        "fleetdeck-lab/app:1.0",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 1; done",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));

    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log");
    let bytes = dir.path().join("terminal");
    let command = console_command(
        &state.plan.dir.join("inventory.yml"),
        "bastion",
        &log,
        "sleep 30",
    );
    let tmux = Tmux::start(
        &command,
        &[("TERM", "xterm-256color"), ("FLEETDECK_LOG", "debug")],
    );
    tmux.record(&bytes);
    tmux.wait_for("REACH");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Containers");
    // Tab through the host's panes to the posture pane.
    let mut screen = tmux.screen();
    for _ in 0..10 {
        if screen.contains("DB_PASSWORD") {
            break;
        }
        tmux.keys(&["Tab"]);
        screen = tmux.screen();
    }
    assert!(screen.contains("Posture"), "{screen}");
    assert!(screen.contains("secret_env"), "{screen}");
    assert!(screen.contains("DB_PASSWORD"), "{screen}");
    tmux.keys(&["C-c"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.screen().contains("Posture") {
        assert!(Instant::now() < deadline, "the console did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
    let written = std::fs::read(&bytes).expect("the terminal's bytes");
    let written = String::from_utf8_lossy(&written);
    assert!(
        written.contains("DB_PASSWORD"),
        "the recording has the pane"
    );
    assert!(!written.contains(&secret), "the value reached the terminal");
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!logged.contains(&secret), "the value is in the log");
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn the_maintenance_key_starts_and_ends_a_window_and_another_instances_shows_up() {
    const HOST: &str = "client-beta";
    let state = lab();
    let _lock = common::maintenance_lock(&state, HOST);
    let inventory = state.plan.dir.join("inventory.yml");
    let state_dir = fleetdeck::inventory::Inventory::load(&inventory)
        .expect("inventory")
        .host(HOST)
        .map(|h| h.settings().state_dir.clone())
        .expect("client-beta");
    let file = format!("{state_dir}/maintenance.json");
    // The window is removed whatever happens.
    struct Removed<'a>(&'a Path, &'a str);
    impl Drop for Removed<'_> {
        fn drop(&mut self) {
            drop(common::ssh(
                self.0,
                "client-beta",
                &[],
                &format!("rm -f {}", self.1),
            ));
        }
    }
    let _removed = Removed(&state.plan.dir, &file);
    let exists = || {
        common::ssh(&state.plan.dir, HOST, &[], &format!("test -e {file}"))
            .status
            .success()
    };
    assert!(!exists(), "client-beta starts without a window");
    let dir = tempfile::tempdir().expect("tempdir");
    let xdg = dir.path().display().to_string();
    let command = console_command(&inventory, HOST, &dir.path().join("log"), "sleep 30");
    let tmux = Tmux::start(
        &command,
        &[("TERM", "xterm-256color"), ("XDG_STATE_HOME", &xdg)],
    );
    tmux.wait_for("REACH");
    tmux.wait_for("up ");
    // Start: how long, why, yes.
    tmux.keys(&["M"]);
    tmux.wait_for("how long");
    tmux.keys(&["BSpace", "BSpace", "1", "h", "Enter"]);
    tmux.wait_for("why, one line");
    tmux.keys(&["console e2e", "Enter"]);
    tmux.wait_for("Start maintenance on client-beta?");
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("client-beta in maintenance until");
    assert!(screen.contains("maint"), "{screen}");
    assert!(exists(), "the window is on the host");
    // End it from the console.
    tmux.keys(&["M"]);
    tmux.wait_for("End maintenance on client-beta?");
    tmux.keys(&["y"]);
    tmux.wait_for("maintenance on client-beta ended");
    assert!(!exists(), "the window is gone from the host");
    // A window started by another instance shows within the actor's read interval.
    let other = tempfile::tempdir().expect("tempdir");
    let out = Command::new(common::bin())
        .env("XDG_STATE_HOME", other.path())
        .args(["-i"])
        .arg(&inventory)
        .args([
            "maintenance",
            "start",
            HOST,
            "--for",
            "1h",
            "--reason",
            "from elsewhere",
        ])
        .output()
        .expect("fleetdeck");
    assert!(out.status.success(), "{}", stderr(&out));
    tmux.wait_for_within("1 in maintenance", Duration::from_secs(45));
    tmux.keys(&["Enter"]);
    tmux.wait_for("from elsewhere");
    tmux.keys(&["C-c"]);
}

/// A configuration directory of its own for one console (`config`, when given, as its
/// config.yaml), so that the machine's settings do not steer the test.
fn config_home(config: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    if let Some(text) = config {
        let fleetdeck = dir.path().join("fleetdeck");
        std::fs::create_dir_all(&fleetdeck).expect("config dir");
        std::fs::write(fleetdeck.join("config.yaml"), text).expect("config.yaml");
    }
    dir
}

/// The screen's last line that is not blank: the footer.
fn footer(screen: &str) -> String {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The on-call engineer's first minute: without knowing where the problem is, the
/// console opens problems first (a host is critical) and two keys — next problem,
/// logs — show the unhealthy container's log.
#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn from_launch_to_the_unhealthy_containers_logs_in_two_keys() {
    let state = lab();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_home(None);
    let config_dir = config.path().display().to_string();
    let command = console_command(
        &state.plan.dir.join("inventory.yml"),
        "all",
        &dir.path().join("log"),
        "sleep 30",
    );
    let tmux = Tmux::start(
        &command,
        &[("TERM", "xterm-256color"), ("XDG_CONFIG_HOME", &config_dir)],
    );
    // Every host heard from, a critical one among them: the order switches once.
    let overview = tmux.wait_for_within("sorted by severity", Duration::from_secs(90));
    assert!(footer(&overview).contains("n next problem"), "{overview}");
    tmux.keys(&["n", "l"]);
    let logs = tmux.wait_for("worker on client-alpha");
    assert!(logs.contains("following"), "{logs}");
    // A line the lab's worker prints where its queue is down.
    tmux.wait_for("worker: waiting for queue at queue:5672");
    tmux.keys(&["C-c"]);
}

/// The bottom line names the keys of the view on screen, from the active keymap.
#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn the_footer_shows_the_keys_of_the_view_from_the_active_keymap() {
    let state = lab();
    for (config, overview_keys, host_keys) in [
        (
            None,
            &["? help", "n next problem", "l worst logs", "enter open"][..],
            &["? help", "l logs", "i inspect", "esc back"][..],
        ),
        (
            Some("keymap: arrows\n"),
            &["f1 help", "ctrl-n next problem", "ctrl-l worst logs"][..],
            &["f1 help", "f4 logs", "f3 inspect"][..],
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = config_home(config);
        let home_dir = home.path().display().to_string();
        let command = console_command(
            &state.plan.dir.join("inventory.yml"),
            "bastion",
            &dir.path().join("log"),
            "sleep 30",
        );
        let tmux = Tmux::start(
            &command,
            &[("TERM", "xterm-256color"), ("XDG_CONFIG_HOME", &home_dir)],
        );
        tmux.wait_for("REACH");
        let screen = tmux.wait_for(overview_keys[1]);
        let line = footer(&screen);
        for key in overview_keys {
            assert!(line.contains(key), "{config:?}: {key:?} not in {line:?}");
        }
        tmux.keys(&["Enter"]);
        let screen = tmux.wait_for(host_keys[1]);
        let line = footer(&screen);
        for key in host_keys {
            assert!(line.contains(key), "{config:?}: {key:?} not in {line:?}");
        }
        assert!(!line.contains("worst logs"), "{line}");
        tmux.keys(&["C-c"]);
    }
}

/// A container's uptime moves on the open screen with the clock, not with the
/// once-a-minute re-list: three different values within seconds.
#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn an_uptime_moves_while_the_screen_is_open() {
    let state = lab();
    let name = format!("fd-up-{}", std::process::id());
    let docker = lab_docker(&state, "bastion");
    let run = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "fleetdeck-lab/app:1.0",
        "sh",
        "-c",
        "trap 'exit 0' TERM; sleep 3600 & wait $!",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    struct Remove<'a>(&'a dyn Fn(&[&str]) -> Output, String);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            (self.0)(&["rm", "-f", &self.1]);
        }
    }
    let _remove = Remove(&docker, name.clone());

    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_home(None);
    let config_dir = config.path().display().to_string();
    let command = console_command(
        &state.plan.dir.join("inventory.yml"),
        "bastion",
        &dir.path().join("log"),
        "sleep 30",
    );
    let tmux = Tmux::start(
        &command,
        &[("TERM", "xterm-256color"), ("XDG_CONFIG_HOME", &config_dir)],
    );
    tmux.wait_for("REACH");
    tmux.wait_for("2/2");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&name);
    // NAME IMAGE STATE HEALTH UPTIME …: the uptime in seconds (under two minutes).
    let uptime = |screen: &str| -> Option<u64> {
        let row = screen.lines().find(|l| l.contains(&name))?;
        let cells: Vec<&str> = row
            .trim_matches(|c| c == '│' || c == ' ')
            .split_whitespace()
            .collect();
        cells.get(4)?.strip_suffix('s')?.parse().ok()
    };
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while seen.len() < 3 {
        let screen = tmux.screen();
        if let Some(value) = uptime(&screen)
            && seen.last() != Some(&value)
        {
            seen.push(value);
        }
        assert!(
            Instant::now() < deadline,
            "the uptime did not move ({seen:?}); screen:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert!(
        tmux.screen().contains("Containers — live"),
        "{}",
        tmux.screen()
    );
    tmux.keys(&["C-c"]);
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn the_timeline_shows_a_container_stopped_before_launch_exactly_once() {
    const HOST: &str = "client-delta";
    let state = lab();
    let container = TestContainer::start(&state, HOST, "backfill", LOOP);
    let name = container.name.clone();
    // Killed (exit 137) while no fleetdeck process runs.
    container.docker("kill");

    let dir = tempfile::tempdir().expect("tempdir");
    let command = console_command(
        &state.plan.dir.join("inventory.yml"),
        HOST,
        &dir.path().join("log"),
        "sleep 30",
    );
    // A history of its own: consoles of other tests record into the default one,
    // and what they saw of client-delta is not what this test asks.
    let state_home = dir.path().join("state");
    let state_home = state_home.to_str().expect("a UTF-8 temp path");
    let tmux = Tmux::start(
        &command,
        &[("TERM", "xterm-256color"), ("XDG_STATE_HOME", state_home)],
    );
    tmux.wait_for("REACH");
    tmux.keys(&["t"]);
    let died = format!("{name}: died (exit 137)");
    let timeline = tmux.wait_for(&died);
    assert!(timeline.contains("Timeline"), "{timeline}");
    // Once, and still once while the live feed and a full re-list come in: the first
    // listing shows it exited, which is no news.
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        let screen = tmux.screen();
        assert_eq!(screen.matches(&died).count(), 1, "{screen}");
        // Its start and its death, both backfilled; no line from the live listing.
        assert_eq!(screen.matches(name.as_str()).count(), 2, "{screen}");
        assert!(screen.contains(&format!("{name}: started")), "{screen}");
        std::thread::sleep(Duration::from_millis(500));
    }
    tmux.keys(&["C-c"]);
}
