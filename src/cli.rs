//! Command-line interface. Kept in the library so tests can parse argument lists
//! exactly as the binary does.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// fleetdeck — watch and operate a fleet of Docker hosts over SSH.
///
/// One SSH session per host carries the Docker Engine API and the probes' commands.
/// Start with a practice fleet on this machine:
///
///   sudo fleetdeck lab up            # build a 3-host practice fleet (needs root)
///   fleetdeck lab status             # what is running, per host
///   ssh -F ~/.local/state/fleetdeck/lab/ssh_config client-alpha
///   sudo fleetdeck lab down          # remove every trace of it
#[derive(Debug, Parser)]
#[command(name = "fleetdeck", version, about, long_about, verbatim_doc_comment)]
pub struct Cli {
    /// Write the log here instead of $XDG_STATE_HOME/fleetdeck/fleetdeck.log.
    /// The log never goes to the terminal: the console owns it.
    #[arg(long, global = true, env = "FLEETDECK_LOG_FILE", value_name = "FILE")]
    pub log_file: Option<PathBuf>,

    /// Log verbosity as a tracing filter (e.g. `info`, `fleetdeck=debug`).
    #[arg(long, global = true, env = "FLEETDECK_LOG", default_value = "info")]
    pub log_level: String,

    /// Ansible inventory: a YAML file, or a directory of them, with group_vars/ and
    /// host_vars/ beside it (docs/inventory.md).
    #[arg(
        short = 'i',
        long,
        global = true,
        env = "FLEETDECK_INVENTORY",
        value_name = "PATH"
    )]
    pub inventory: Option<PathBuf>,

    /// Only these hosts, as an Ansible host pattern: `canary`, `client-*`,
    /// `web:&production`, `all:!client-beta`.
    #[arg(short = 'l', long, global = true, value_name = "PATTERN")]
    pub limit: Option<String>,

    /// Read only this ssh_config (as `ssh -F`), for every host. Without it: each
    /// host's fleetdeck_ssh_config, else ~/.ssh/config then /etc/ssh/ssh_config.
    #[arg(short = 'F', long = "ssh-config", global = true, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,

    /// Never prompt (for scripts and cron): a passphrase-protected key that is not
    /// in ssh-agent fails instead of asking.
    #[arg(long, global = true)]
    pub batch: bool,

    /// Trust hosts whose key is not yet known and record it (hashed) in fleetdeck's
    /// own known_hosts. A changed key is refused regardless.
    #[arg(long, global = true)]
    pub accept_new_host_keys: bool,

    /// Console colours: a theme name (dark, light, high-contrast, colorblind) or a
    /// YAML file. NO_COLOR turns colours off whatever the theme.
    #[arg(long, global = true, value_name = "NAME|PATH")]
    pub theme: Option<String>,

    /// Console key bindings: a keymap name (default, arrows) or a YAML file.
    #[arg(long, global = true, value_name = "NAME|PATH")]
    pub keymap: Option<String>,

    /// Look, never touch: every action that would change a host is hidden in the
    /// console and refused by the core (deploy, rollback, canary, drill, container
    /// actions), each refusal audited. `read_only: true` in the config file does the
    /// same; once the file is read this holds the run's one read-only value.
    #[arg(long, global = true)]
    pub read_only: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build, inspect and remove a real practice fleet on this machine.
    ///
    /// Each lab host is a network namespace with its own sshd, Docker engine,
    /// restic repository, nftables firewall and TLS endpoint. Needs root on Linux.
    #[command(subcommand)]
    Lab(LabCommand),

    /// Print the inventory as `ansible-inventory --list` (or `--host`) does.
    ///
    /// Checks every fleetdeck_* variable on the way: a problem is reported with its
    /// file, line and column, and nothing is printed on stdout.
    Inventory(InventoryArgs),

    /// age identities and secret files: keygen, encrypt, decrypt, edit
    /// (docs/secrets.md). Reads SOPS files with age keys too, verifying their MAC.
    #[command(subcommand)]
    Secrets(SecretsCommand),

    /// One snapshot of every selected host: containers, backups, certificates,
    /// firewall.
    ///
    /// Exit code as a monitoring plugin: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the
    /// worst across hosts, of the --signal ones; hosts in maintenance are left out).
    /// Also prints Nagios plugin output and Checkmk local checks (--format). The JSON
    /// fields are documented in docs/status.md.
    Status(StatusArgs),

    /// Follow the fleet and print each change as one JSON line (docs/status.md);
    /// with --notify or --alertmanager, send alerts as problems start and end
    /// (docs/notify.md).
    Watch(WatchArgs),

    /// Follow the fleet and serve its last known state as Prometheus metrics on
    /// /metrics, and /healthz (docs/exporter.md).
    ///
    /// Runs until interrupted. Exit 2 when it cannot start (a bad --listen address, the
    /// port in use, an unreadable inventory).
    Serve(ServeArgs),

    /// What happened on the fleet: the persistent history that `watch`, `serve` and
    /// the console record, with every audited action (docs/history.md).
    ///
    /// Newest first. Exit 0 (also when nothing matched); 2 on bad input or a history
    /// that cannot be opened (a damaged or locked file: the message says what to do).
    History(HistoryArgs),

    /// Bring the selected hosts' apps to their stacks (docs/deploy.md).
    ///
    /// Plans first (the difference from what runs), asks, then applies host by host
    /// under a lock: the new container is created, the old one stopped (the service
    /// is down for a few seconds), the new one started and put through its health
    /// gate; a failed gate rolls back to the previous container. Ctrl-C or SIGTERM
    /// rolls back the switch-over under way and releases the lock (a second one
    /// abandons). Exit 0: every host deployed or unchanged; 1: a host failed, rolled
    /// back, was locked, unreachable or refused (fleetdeck_read_only); 2: nothing was
    /// done (bad input, no selected host has the --app, or not confirmed); 130/143:
    /// stopped by SIGINT/SIGTERM.
    Deploy(DeployArgs),

    /// Return services to the revision before the last deploy, at once.
    ///
    /// The previous container is kept (stopped) by every deploy; rollback swaps it
    /// with the current one, so a second rollback rolls forward again.
    Rollback(RollbackArgs),

    /// Roll a release out canary first, then in gated waves (docs/canary.md).
    ///
    /// Each wave is deployed, then must stay healthy for the soak time (no restarts,
    /// HTTP probes passing) before the next starts. A failed wave halts the rollout
    /// and is rolled back. Exit 0: passed; 1: halted; 2: nothing was done;
    /// 130/143: stopped by SIGINT/SIGTERM (resume with --resume).
    Canary(CanaryArgs),

    /// Restore drill: restore a snapshot into a scratch directory on the host, verify
    /// it, measure RTO and RPO, report, clean up (docs/drills.md).
    ///
    /// Never restores into live data. Exit 0: passed; 1: failed (the report says at
    /// which step and why); 2: nothing done (bad input, refused, not confirmed);
    /// 130/143: stopped by SIGINT/SIGTERM (scratch data removed, lock released).
    Drill(DrillArgs),

    /// Start, end and list maintenance windows (docs/maintenance.md).
    ///
    /// A window is stored on the host itself (fleetdeck_state_dir/maintenance.json),
    /// so every operator and fleetdeck instance sees it: the host's problems are
    /// listed as silenced and left out of exit codes and notifications until it ends
    /// by itself. Exit 0: every host done; 1: a host failed (unreachable, refused by
    /// fleetdeck_read_only, its command failed); 2: nothing was done (bad input,
    /// read-only mode).
    #[command(subcommand)]
    Maintenance(MaintenanceCommand),

    /// Write an incident report for one host (or one of its containers): every
    /// signal's state and age, the problems, each problem container's inspect data
    /// (environment values masked) and last 200 log lines, the host's timeline, the
    /// firewall drift, the latest deploys and drills (docs/report.md).
    ///
    /// Markdown and JSON, each a new file (mode 0600) in --out or
    /// $XDG_STATE_HOME/fleetdeck/reports; both paths are printed. Exit 0: written;
    /// 1: written, but the host did not answer (the report says why and holds what
    /// was known), or the files could not be written; 2: nothing written (bad input).
    Report(ReportArgs),

    /// Print a shell completion script for bash, zsh or fish on stdout.
    ///
    /// bash: `fleetdeck completions bash > ~/.local/share/bash-completion/completions/fleetdeck`;
    /// zsh: into a directory of `$fpath` as `_fleetdeck`; fish:
    /// `fleetdeck completions fish > ~/.config/fish/completions/fleetdeck.fish`.
    Completions(CompletionsArgs),

    /// Print the manual page (roff) on stdout: `fleetdeck man | man -l -`.
    Man,
}

#[derive(Debug, Subcommand)]
pub enum MaintenanceCommand {
    /// Open a window on the hosts: their problems are silenced until it ends.
    Start(MaintenanceStartArgs),
    /// End the hosts' windows now.
    End(MaintenanceEndArgs),
    /// Every selected host's window (host, by, since, until, reason), or none.
    List(MaintenanceListArgs),
}

#[derive(Debug, Args)]
pub struct MaintenanceStartArgs {
    /// Inventory hosts, or host patterns as --limit takes them (`client-*`).
    #[arg(value_name = "HOST", required = true)]
    pub hosts: Vec<String>,

    /// How long, e.g. `90s`, `45m`, `2h`, `1h30m` (at most 30 days).
    #[arg(long = "for", value_name = "DURATION", value_parser = crate::stack::duration)]
    pub length: std::time::Duration,

    /// Why: shown to everyone with the window and recorded in the audit logs.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,

    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MaintenanceEndArgs {
    /// Inventory hosts, or host patterns as --limit takes them.
    #[arg(value_name = "HOST", required = true)]
    pub hosts: Vec<String>,

    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MaintenanceListArgs {
    /// Only these hosts or patterns (default: every host --limit selects).
    #[arg(value_name = "HOST")]
    pub hosts: Vec<String>,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The host (its inventory name).
    #[arg(value_name = "HOST")]
    pub host: String,

    /// Only this container: its inspect data and log, whatever its state (default:
    /// every container with a problem).
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,

    /// The directory the report is written to (created if missing; default
    /// $XDG_STATE_HOME/fleetdeck/reports).
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,

    /// How far back the host's timeline goes, e.g. `30m`, `6h`, `24h` (at most 30
    /// days).
    #[arg(long, value_name = "DURATION", default_value = "6h", value_parser = crate::stack::duration)]
    pub since: std::time::Duration,

    /// How long the host may take to answer, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: CompletionShell,
}

/// The shells `fleetdeck completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// The host (its inventory name).
    #[arg(long, value_name = "HOST")]
    pub host: String,

    /// The app whose data is restored, as declared in the host's fleetdeck_drills.
    #[arg(long, value_name = "APP")]
    pub app: String,

    /// `latest` (the newest snapshot holding the app's data), a restic snapshot id
    /// or a borg archive name.
    #[arg(long, value_name = "ID|latest", default_value = "latest")]
    pub snapshot: String,

    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,

    /// Print the report as JSON instead of Markdown (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CanaryArgs {
    /// Only this app (repeatable). Hosts without it are left out.
    #[arg(long = "app", value_name = "APP")]
    pub apps: Vec<String>,

    /// Set a variable for the stacks' templates (as `deploy -e`). Repeatable.
    #[arg(short = 'e', long = "extra-var", value_name = "KEY=VALUE")]
    pub extra_vars: Vec<String>,

    /// The canary hosts, as an Ansible pattern over the selection.
    #[arg(long, value_name = "PATTERN", default_value = "canary")]
    pub canary: String,

    /// Hosts per wave after the canary: a number, or a percentage of those hosts.
    #[arg(long, value_name = "N|N%", default_value = "25%")]
    pub wave_size: String,

    /// Failed hosts tolerated (after the canary, which tolerates none) before the
    /// rollout halts.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_failures: usize,

    /// How long every host of a wave must stay healthy before the next wave.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub soak: u64,

    /// Fail the soak also for a service this rollout did not change that was already
    /// unhealthy before it (by default that is shown, "already unhealthy before the
    /// rollout", and left to the go / no-go).
    #[arg(long)]
    pub strict_soak: bool,

    /// On failure, also roll back every host deployed by earlier waves (the canary
    /// included), not only the failed wave.
    #[arg(long)]
    pub rollback_all: bool,

    /// Continue the last unfinished rollout of this inventory (after a crash): passed
    /// waves are not deployed again.
    #[arg(long)]
    pub resume: bool,

    /// Do not ask: start, and go on after each gate.
    #[arg(long)]
    pub yes: bool,

    /// Print the rollout (its journal document) as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// Why: recorded in every host's lock, journal and the audit logs.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// Take a host's lock even if another run holds it.
    #[arg(long)]
    pub break_lock: bool,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Only this app (repeatable). Hosts without it are left out.
    #[arg(long = "app", value_name = "APP")]
    pub apps: Vec<String>,

    /// Print the plan and stop: nothing is changed, no lock is taken.
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,

    /// Print a JSON summary on stdout (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,

    /// Set a variable for the stacks' templates, over the inventory's (as Ansible's
    /// `-e`), e.g. `-e web_version=1.1`. Repeatable.
    #[arg(short = 'e', long = "extra-var", value_name = "KEY=VALUE")]
    pub extra_vars: Vec<String>,

    /// Why: recorded in the lock, the journal and the audit logs.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// Take a host's lock even if another run holds it (after making sure that run
    /// is gone: the lock says who, where and since when).
    #[arg(long)]
    pub break_lock: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Only this app (repeatable).
    #[arg(long = "app", value_name = "APP")]
    pub apps: Vec<String>,

    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,

    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,

    /// Why: recorded in the lock and the audit logs.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// Take a host's lock even if another run holds it.
    #[arg(long)]
    pub break_lock: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON instead of a table (the same as `--format json`).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,

    /// What to print: `table`, `json`, `nagios` (a monitoring plugin's output line
    /// with performance data) or `checkmk` (a Checkmk local-check section, one
    /// service per host and signal) (docs/status.md).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<StatusFormat>,

    /// Judge only this signal (repeatable): the exit code and the problems shown are
    /// the selected signals' (`host` reachability counts in every selection), and
    /// only what they need is measured. Without it, every signal.
    #[arg(long, value_enum, value_name = "SIGNAL")]
    pub signal: Vec<crate::fleet::problems::SignalKind>,

    /// Give up on a host that has not answered and been measured within SECS.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,
}

impl StatusArgs {
    /// The output format: `--format`, else JSON with `--json`, else the table.
    pub fn output(&self) -> StatusFormat {
        match (self.format, self.json) {
            (Some(format), _) => format,
            (None, true) => StatusFormat::Json,
            (None, false) => StatusFormat::Table,
        }
    }
}

/// `status --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    Table,
    Json,
    Nagios,
    Checkmk,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// JSON lines (the only output format of `watch`; the console is the
    /// interactive view).
    #[arg(long, required = true)]
    pub json: bool,

    /// POST each alert as JSON to URL when it starts and when it resolves
    /// (repeatable; docs/notify.md). Only scheme://host:port of it is ever shown.
    #[arg(long = "notify", value_name = "URL")]
    pub notify: Vec<String>,

    /// Push the same alerts to Alertmanager's v2 API at URL (its base URL;
    /// repeatable), so that its routing, grouping and silences apply.
    #[arg(long, value_name = "URL")]
    pub alertmanager: Vec<String>,

    /// How long a problem must last before it is sent: `30s`, `2m`, `1h`
    /// [default: 2m].
    #[arg(long, value_name = "DURATION", value_parser = hold)]
    pub notify_hold: Option<std::time::Duration>,
}

fn hold(text: &str) -> Result<std::time::Duration, String> {
    crate::stack::duration(text)
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// How far back: `30m`, `6h`, `7d`.
    #[arg(long, value_name = "DURATION", default_value = "6h", value_parser = ago)]
    pub since: std::time::Duration,

    /// Until when: a duration back from now (`1h`) or an RFC 3339 time
    /// [default: now].
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,

    /// Only this host (its inventory name).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    /// Only this kind: connection, container, backup, certificate, firewall,
    /// resources, posture, apps, maintenance, action.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,

    /// At most this many entries, the newest (`--limit` is the global host
    /// selection, as for every command).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max: usize,

    /// The entries as one JSON array.
    #[arg(long)]
    pub json: bool,
}

/// A duration back from now: as compose writes them (`90m`, `6h`), or whole days
/// (`7d`), which compose has no unit for.
pub fn ago(text: &str) -> Result<std::time::Duration, String> {
    if let Some(days) = text.trim().strip_suffix('d')
        && let Ok(days) = days.parse::<u64>()
    {
        return Ok(std::time::Duration::from_secs(days.saturating_mul(86_400)));
    }
    crate::stack::duration(text).map_err(|e| format!("{e} (or whole days, like `7d`)"))
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address and port to serve on, e.g. 127.0.0.1:9717 or [::1]:9717.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9717")]
    pub listen: String,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["list", "host"])))]
pub struct InventoryArgs {
    /// Every group and host, with each host's variables under _meta.hostvars.
    #[arg(long)]
    pub list: bool,

    /// One host's variables.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Create the practice fleet, or repair it if it is partly there (idempotent).
    ///
    /// Writes inventory.yml, ssh_config, known_hosts, id_ed25519, age.key and
    /// lab.json into DIR. A failed first `up` removes whatever it had created.
    Up(LabUpArgs),
    /// Show what is running, per lab host (exit 0: all up, 1: degraded, 3: no lab).
    Status(LabStatusArgs),
    /// Stop and remove every process, namespace, link, mount and file of the lab.
    ///
    /// Works after a crashed `up` too; removes nothing the lab did not create.
    Down(LabDirArgs),
    /// Give one lab host a new SSH host key, leaving known_hosts with the old one.
    ///
    /// Practice for a "host key changed" alarm: ssh and fleetdeck refuse the host
    /// until the new key is trusted; `lab up` trusts it again.
    Rekey(LabRekeyArgs),
}

#[derive(Debug, Args)]
pub struct LabRekeyArgs {
    #[command(flatten)]
    pub dir: LabDirArgs,

    /// The lab host to re-key, e.g. client-alpha.
    #[arg(value_name = "HOST")]
    pub host: String,
}

#[derive(Debug, Args)]
pub struct LabDirArgs {
    /// The lab's directory [default: $XDG_STATE_HOME/fleetdeck/lab].
    #[arg(long, value_name = "DIR", env = "FLEETDECK_LAB_DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LabUpArgs {
    #[command(flatten)]
    pub dir: LabDirArgs,

    /// Number of hosts, bastion included (3..=200). Defaults to 3, or to the size
    /// of the lab already in DIR.
    #[arg(long, value_name = "N")]
    pub hosts: Option<usize>,
}

#[derive(Debug, Args)]
pub struct LabStatusArgs {
    #[command(flatten)]
    pub dir: LabDirArgs,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn status_takes_signals_and_a_format_or_json_but_not_both() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(["fleetdeck", "status"].iter().chain(args)).map(|cli| {
                match cli.command {
                    Some(Command::Status(args)) => args,
                    other => panic!("unexpected parse: {other:?}"),
                }
            })
        };
        let args = parse(&[
            "--signal", "backups", "--signal", "certs", "--format", "nagios",
        ])
        .expect("parses");
        use crate::fleet::problems::SignalKind;
        assert_eq!(args.signal, [SignalKind::Backups, SignalKind::Certs]);
        assert_eq!(args.output(), StatusFormat::Nagios);
        assert_eq!(
            parse(&["--json"]).expect("parses").output(),
            StatusFormat::Json
        );
        assert_eq!(parse(&[]).expect("parses").output(), StatusFormat::Table);
        let both = parse(&["--json", "--format", "checkmk"]).expect_err("conflict");
        assert_eq!(both.kind(), clap::error::ErrorKind::ArgumentConflict);
        let bad = parse(&["--signal", "disks"]).expect_err("no such signal");
        assert!(bad.to_string().contains("possible values"), "{bad}");
    }

    #[test]
    fn lab_up_takes_hosts_and_dir() {
        let cli = Cli::try_parse_from(["fleetdeck", "lab", "up", "--hosts", "5", "--dir", "/x"])
            .expect("parses");
        match cli.command {
            Some(Command::Lab(LabCommand::Up(args))) => {
                assert_eq!(args.hosts, Some(5));
                assert_eq!(args.dir.dir, Some(PathBuf::from("/x")));
            }
            other => panic!("unexpected parse: {other:?}"),
        }
    }

    #[test]
    fn inventory_and_limit_are_global_and_list_or_host_is_required() {
        let cli = Cli::try_parse_from([
            "fleetdeck",
            "inventory",
            "--list",
            "-i",
            "/inv",
            "--limit",
            "canary",
        ])
        .expect("parses");
        assert_eq!(cli.inventory, Some(PathBuf::from("/inv")));
        assert_eq!(cli.limit.as_deref(), Some("canary"));
        assert!(matches!(
            cli.command,
            Some(Command::Inventory(InventoryArgs { list: true, .. }))
        ));
        assert!(Cli::try_parse_from(["fleetdeck", "inventory"]).is_err());
        assert!(Cli::try_parse_from(["fleetdeck", "inventory", "--list", "--host", "a"]).is_err());
    }

    #[test]
    fn unknown_subcommand_is_rejected() {
        assert!(Cli::try_parse_from(["fleetdeck", "lab", "explode"]).is_err());
    }
}

// ---- `fleetdeck secrets …` (docs/secrets.md) ----

/// Exit codes: 0 ok, 1 decryption or integrity failure, 2 usage or input error.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Create an age X25519 identity (mode 0600) and print its recipient.
    ///
    /// Without -o it goes to $XDG_CONFIG_HOME/sops/age/keys.txt, where fleetdeck and
    /// sops both find it. An existing file is never overwritten.
    Keygen(KeygenArgs),

    /// Encrypt a plain YAML mapping into a fleetdeck secret file.
    ///
    /// Keys stay in the clear; each value becomes an age ciphertext for every
    /// recipient. Numbers and booleans are stored as their text.
    Encrypt(EncryptArgs),

    /// Print a secret file (fleetdeck's or SOPS's) as plain YAML, or one value.
    ///
    /// This is the explicit reveal: the plaintext goes to stdout. SOPS files are
    /// refused unless their MAC verifies.
    Decrypt(DecryptArgs),

    /// Change a fleetdeck secret file in $VISUAL / $EDITOR.
    ///
    /// The plaintext is written to a 0600 file in a private directory (in /dev/shm
    /// when there is one), overwritten and removed afterwards, also when fleetdeck gets
    /// SIGTERM, SIGHUP, SIGINT or SIGQUIT (the editor is ended, the file left unchanged,
    /// exit 128 + the signal). Changed values are re-encrypted for the file's
    /// recipients; an unchanged file is left untouched.
    Edit(EditArgs),
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the identity here (`-` for stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// An age recipient (`age1…`). Repeatable.
    #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT")]
    pub recipients: Vec<String>,

    /// A file of recipients, one per line (`#` comments), as `age -R`. Repeatable.
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    pub recipients_files: Vec<PathBuf>,

    /// Write the encrypted file here instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// The plain YAML mapping (`-` for stdin).
    #[arg(value_name = "PLAIN.yml")]
    pub input: PathBuf,
}

#[derive(Debug, Args)]
pub struct IdentityArg {
    /// The age identity file. Without it: $FLEETDECK_AGE_KEY_FILE, then
    /// $SOPS_AGE_KEY_FILE, then $XDG_CONFIG_HOME/sops/age/keys.txt.
    #[arg(long = "identity", value_name = "FILE")]
    pub identity: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// Only this value, by flat key (`db.password`, `servers.0`), raw on stdout.
    #[arg(long = "key", value_name = "KEY")]
    pub key: Option<String>,

    #[command(flatten)]
    pub identity: IdentityArg,

    /// A fleetdeck secret file or a SOPS YAML file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    #[command(flatten)]
    pub identity: IdentityArg,

    /// The fleetdeck secret file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}
