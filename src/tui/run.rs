//! The console's event loop: keys, host actors' reports and log lines arrive as
//! messages on channels; all pending messages are applied, then the screen is drawn
//! once (at most ~60 times a second, and not at all while nothing changes). Remote
//! work runs in tasks, so a slow or dead host never holds up input.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, eyre};
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::app::{App, Command, Msg, Refusal, Screen};
use super::keymap::Keymap;
use super::maintenance;
use super::prompt::ConsolePrompt;
use super::terminal::TerminalGuard;
use super::theme::Theme;
use super::ui;
use super::wizards::{CanaryWizard, OpenWizard};
use super::worker::{WizardWorker, spawn_drill_worker, spawn_wizard_worker};
use crate::audit::AuditLog;
use crate::core::{ConfirmedAction, Core};
use crate::fleet::actor::{self, HostActor};
use crate::fleet::model::HostEvent;
use crate::fleet::model::{Expectations, HostState};
use crate::fleet::target::{Contexts, Target};
use crate::inventory::Inventory;
use crate::sanitize;
use crate::ssh::setup::SshOptions;
use crate::wizard::canary::{self as canary_wizard, CanaryRunner};
use crate::wizard::deploy::{self as deploy_wizard, DeployRunner, Selection};
use crate::wizard::drill::{self as drill_wizard, DrillRunner};

/// The shortest time between two frames.
const FRAME_INTERVAL: Duration = Duration::from_millis(16);

/// Where a host's Docker API is, for work started from the console.
enum Source {
    Remote {
        actor: HostActor,
        socket: String,
    },
    Local {
        socket: PathBuf,
        _task: JoinHandle<()>,
    },
}

pub struct ConsoleOptions {
    pub theme: Option<String>,
    pub keymap: Option<String>,
    pub overview_order: Option<crate::config::OverviewOrder>,
    pub history_retention_days: Option<u32>,
    pub read_only: bool,
    /// `--limit`, for the wizards' own selection.
    pub limit: Option<String>,
    pub ssh: SshOptions,
    /// The inventory, loaded once by the caller; `None`: this machine's own engine.
    pub fleet: Option<ConsoleFleet>,
}

/// The inventory the console watches: its selected hosts, and the source of every
/// wizard the console opens (loaded once, not again per wizard).
pub struct ConsoleFleet {
    /// As given on the command line.
    pub path: PathBuf,
    pub inventory: Inventory,
    /// The hosts `--limit` selects.
    pub targets: Vec<Target>,
}

/// Runs the console until the operator quits (the caller has made sure stdin and
/// stdout are a terminal), and gives the terminal back.
pub async fn run(options: ConsoleOptions) -> Result<ConsoleEnd> {
    let config_dir = crate::paths::config_home().join("fleetdeck");
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme =
        Theme::load(options.theme.as_deref(), &config_dir, no_color).map_err(|e| eyre!("{e}"))?;
    let keymap = Keymap::load(options.keymap.as_deref(), &config_dir).map_err(|e| eyre!("{e}"))?;
    let targets = options.fleet.as_ref().map(|fleet| &fleet.targets);
    let names = targets.map_or(vec!["localhost".to_owned()], |t| {
        t.iter().map(|t| t.name.clone()).collect()
    });
    let retention = options.history_retention_days;
    let opening = tokio::task::spawn_blocking(move || {
        super::history::open(names, time::OffsetDateTime::now_utc(), retention)
    });

    let (fleet_tx, mut fleet_rx) = mpsc::channel::<(usize, HostEvent)>(4096);
    let (msg_tx, mut msg_rx) = mpsc::channel::<Msg>(4096);
    let base_core = Core::new(options.read_only, AuditLog::at_default_path());
    let mut hosts = Vec::new();
    let mut sources = Vec::new();
    // One core per host, carrying the host's own read-only rule from the inventory.
    let mut cores = Vec::new();
    let mut host_read_only = Vec::new();
    match targets {
        None => {
            let socket = crate::docker::transport::default_local_socket();
            hosts.push(HostState::new(
                "localhost",
                Vec::new(),
                Expectations::default(),
            ));
            let task = actor::spawn_local(socket.clone(), 0, fleet_tx.clone());
            sources.push(Source::Local {
                socket,
                _task: task,
            });
            cores.push(Arc::new(base_core.clone()));
            host_read_only.push(false);
        }
        Some(targets) => {
            let ssh = &options.ssh;
            // Passphrases are asked in a modal of the console (never on the terminal
            // underneath it); `--batch` still never asks.
            let prompt: Arc<dyn crate::ssh::auth::PassphrasePrompt> =
                Arc::new(ConsolePrompt::new(msg_tx.clone()));
            let contexts = Contexts::prepare_with_prompt(ssh, targets, Some(prompt))
                .map_err(|e| eyre!("{e}"))?;
            for (index, target) in targets.iter().enumerate() {
                hosts.push(target.host_state());
                let ctx = contexts
                    .for_target(ssh, target)
                    .ok_or_else(|| eyre!("no SSH configuration for {}", target.name))?;
                let actor = actor::spawn(ctx, Target::clone(target), index, fleet_tx.clone());
                sources.push(Source::Remote {
                    actor,
                    socket: target.settings.docker_socket.clone(),
                });
                cores.push(Arc::new(base_core.for_host(&target.settings)));
                host_read_only.push(target.settings.read_only);
            }
            // Stacks are read and secrets decrypted on a blocking thread; the hosts
            // show their apps once it is done.
            let expected_tx = msg_tx.clone();
            let expected_targets = targets.clone();
            tokio::spawn(async move {
                let expected = crate::core::deploy::expected_fleet(expected_targets).await;
                let _ = expected_tx.send(Msg::ExpectedApps(expected)).await;
            });
            for notice in &contexts.notices {
                tracing::warn!("{notice}");
            }
            // Said on the notice line too, as the CLI says it on stderr.
            if !contexts.notices.is_empty() {
                let text = sanitize::line(&contexts.notices.join(" | "));
                let _ = msg_tx.try_send(Msg::Notice(text));
            }
        }
    }
    drop(fleet_tx);
    let mut app = App::new(hosts, keymap, options.read_only);
    app.host_read_only = host_read_only;
    let opened = opening.await.unwrap_or_else(|e| Err(e.to_string()));
    let history = super::history::attach(&mut app, opened);
    app.set_overview_order(options.overview_order);

    let guard = TerminalGuard::enter().wrap_err("taking over the terminal")?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.clear()?;
    let mut keys = EventStream::new();
    let mut log_task: Option<JoinHandle<()>> = None;
    let mut stats_tasks: Vec<JoinHandle<()>> = Vec::new();
    // The open wizard's worker (its operations run there, one at a time).
    let mut wizard_worker: Option<WizardWorker> = None;
    // Drill workers finishing a closed drill wizard's drill (joined before exiting).
    let mut closing_drills: Vec<std::thread::JoinHandle<()>> = Vec::new();
    let mut next_wizard_id: u64 = 1;
    let mut dirty = true;
    let mut last_frame = tokio::time::Instant::now() - FRAME_INTERVAL;
    'console: loop {
        if dirty {
            let wait = FRAME_INTERVAL.saturating_sub(last_frame.elapsed());
            if wait.is_zero() {
                terminal.draw(|frame| ui::draw(frame, &app, &theme))?;
                last_frame = tokio::time::Instant::now();
                dirty = false;
            }
        }
        // Times on screen (uptimes, ages, a running wizard's elapsed times) move with the clock.
        let ticking = app.clock_interval();
        let next_frame = tokio::time::sleep(if dirty {
            FRAME_INTERVAL.saturating_sub(last_frame.elapsed())
        } else if let Some(tick) = ticking {
            tick
        } else {
            Duration::from_secs(3600)
        });
        let mut commands = Vec::new();
        tokio::select! {
            event = keys.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    commands.extend(app.update(Msg::Key(key)));
                    dirty = true;
                }
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error).wrap_err("reading the terminal"),
                None => break,
            },
            Some((index, event)) = fleet_rx.recv() => {
                commands.extend(app.update(Msg::Fleet(index, event)));
                while let Ok((index, event)) = fleet_rx.try_recv() {
                    commands.extend(app.update(Msg::Fleet(index, event)));
                }
                dirty = true;
            }
            Some(msg) = msg_rx.recv() => {
                commands.extend(app.update(msg));
                while let Ok(msg) = msg_rx.try_recv() {
                    commands.extend(app.update(msg));
                }
                dirty = true;
            }
            _ = next_frame => dirty |= ticking.is_some(),
        }
        super::history::flush(&mut app, history.as_ref());
        let mut commands = std::collections::VecDeque::from(commands);
        while let Some(command) = commands.pop_front() {
            match command {
                // Leaving by the loop's end, so that a drill still finishing is waited
                // for: returning here would end the process under it.
                Command::Quit => break 'console,
                Command::FollowLogs { host, container_id } => {
                    if let Some(task) = log_task.take() {
                        task.abort();
                    }
                    log_task = Some(spawn_logs(&sources, host, container_id, msg_tx.clone()));
                }
                Command::StopLogs => {
                    if let Some(task) = log_task.take() {
                        task.abort();
                    }
                }
                Command::WatchStats { host, containers } => {
                    stats_tasks.drain(..).for_each(|t| t.abort());
                    for id in containers {
                        stats_tasks.push(spawn_stats(&sources, host, id, msg_tx.clone()));
                    }
                }
                Command::StopStats => stats_tasks.drain(..).for_each(|t| t.abort()),
                Command::Inspect { host, container_id } => {
                    spawn_inspect(&sources, host, container_id, msg_tx.clone());
                }
                Command::WriteReport { host, container } => {
                    if let Some(state) = app.hosts.get(host).cloned() {
                        let timeline = (app.timeline.entries.iter())
                            .filter(|e| e.host == state.name)
                            .cloned()
                            .collect();
                        let source = source_of(&sources, host);
                        let docker =
                            async move { docker_for(source.ok_or("no link to this host")?).await };
                        let dir = crate::fleet::report_file::default_dir();
                        super::report::spawn(
                            state,
                            container,
                            Ok(timeline),
                            docker,
                            dir,
                            msg_tx.clone(),
                        );
                    }
                }
                Command::RecordRefusals(refusals) => {
                    spawn_refusals(base_core.clone(), refusals, msg_tx.clone());
                }
                Command::ContainerAction { host, confirmed } => match cores.get(host) {
                    Some(core) => {
                        spawn_action(&sources, core.clone(), host, confirmed, msg_tx.clone())
                    }
                    None => app.notice = Some("no such host".to_owned()),
                },
                Command::Maintenance { host, change } => {
                    let Some(core) = cores.get(host).cloned() else {
                        continue;
                    };
                    let name = app
                        .hosts
                        .get(host)
                        .map(|h| h.name.clone())
                        .unwrap_or_default();
                    let link = match source_of(&sources, host) {
                        Some(DockerSource::Remote(link, _)) => Some(link),
                        _ => None,
                    };
                    let state_dir = targets
                        .and_then(|t| t.get(host))
                        .map(|t| t.settings.state_dir.clone());
                    let target = maintenance::MaintenanceHost {
                        index: host,
                        name,
                        state_dir,
                        link,
                    };
                    maintenance::spawn(core, target, change, msg_tx.clone());
                }
                Command::SaveLogs => {
                    let text = save_logs(&app);
                    app.notice = Some(text);
                }
                Command::OpenDeployWizard { preselect } => {
                    let id = next_wizard_id;
                    next_wizard_id += 1;
                    let opened =
                        open_deploy_wizard(&options, &base_core, preselect, id, msg_tx.clone());
                    commands.extend(show_wizard(&mut app, &mut wizard_worker, "deploy", opened));
                    dirty = true;
                }
                Command::OpenCanaryWizard { preselect } => {
                    let id = next_wizard_id;
                    next_wizard_id += 1;
                    let opened =
                        open_canary_wizard(&options, &base_core, preselect, id, msg_tx.clone());
                    commands.extend(show_wizard(&mut app, &mut wizard_worker, "canary", opened));
                    dirty = true;
                }
                Command::OpenDrillWizard { preselect } => {
                    let id = next_wizard_id;
                    next_wizard_id += 1;
                    let opened =
                        open_drill_wizard(&options, &base_core, preselect, id, msg_tx.clone());
                    commands.extend(show_wizard(&mut app, &mut wizard_worker, "drill", opened));
                    dirty = true;
                }
                Command::RunWizardOp(op) => {
                    let sent = match (&wizard_worker, &app.wizard) {
                        (Some(WizardWorker::Deploy(ops)), Some(OpenWizard::Deploy(w))) => {
                            ops.send((op.clone(), w.answers().clone())).is_ok()
                        }
                        (Some(WizardWorker::Canary(ops)), Some(OpenWizard::Canary(c))) => {
                            ops.send((op.clone(), c.state.answers().clone())).is_ok()
                        }
                        (Some(WizardWorker::Drill(ops, _)), Some(OpenWizard::Drill(w))) => {
                            ops.send((op.clone(), w.answers().clone())).is_ok()
                        }
                        _ => false,
                    };
                    if !sent {
                        commands.extend(app.update(Msg::WizardDone {
                            op,
                            result: Err(vec!["the wizard's worker is gone".to_owned()]),
                        }));
                    }
                }
                // Dropping the worker's channel ends its thread, closing the plan's
                // connections. A drill's worker first finishes a drill under way.
                Command::CloseWizard => {
                    if let Some(WizardWorker::Drill(_, thread)) = wizard_worker.take() {
                        closing_drills.push(thread);
                    }
                }
            }
        }
    }
    drop(terminal);
    drop(guard);
    Ok(ConsoleEnd {
        finishing_drills: closing_drills,
    })
}

/// What is left when the console has closed and given the terminal back: drills of
/// wizards closed just before quitting, still being finished (scratch data removed,
/// the host's lock released, the report saved). The caller waits for them.
pub struct ConsoleEnd {
    finishing_drills: Vec<std::thread::JoinHandle<()>>,
}

impl ConsoleEnd {
    /// Whether a drill is still being finished (worth telling the operator why the
    /// prompt has not come back yet).
    pub fn drills_pending(&self) -> bool {
        self.finishing_drills.iter().any(|t| !t.is_finished())
    }

    /// Waits until every closed drill is finished.
    pub fn wait(self) {
        for thread in self.finishing_drills {
            let _ = thread.join();
        }
    }
}

/// The host's Docker client right now, if it is reachable.
async fn docker_for(source: DockerSource) -> Result<bollard::Docker, String> {
    match source {
        DockerSource::Local(socket) => crate::docker::transport::connect_negotiated(
            Arc::new(crate::docker::transport::LocalSocket::new(&socket)),
            30,
        )
        .await
        .map_err(|e| e.to_string()),
        DockerSource::Remote(link, socket) => {
            let session = link
                .borrow()
                .session()
                .cloned()
                .ok_or_else(|| "the host is not connected".to_owned())?;
            crate::docker::transport::connect_negotiated(session.docker_socket(&socket), 30)
                .await
                .map_err(|e| e.to_string())
        }
    }
}

enum DockerSource {
    Local(PathBuf),
    Remote(
        tokio::sync::watch::Receiver<crate::ssh::link::LinkState>,
        String,
    ),
}

fn source_of(sources: &[Source], host: usize) -> Option<DockerSource> {
    match sources.get(host)? {
        Source::Local { socket, .. } => Some(DockerSource::Local(socket.clone())),
        Source::Remote { actor, socket } => {
            Some(DockerSource::Remote(actor.link(), socket.clone()))
        }
    }
}

fn spawn_logs(
    sources: &[Source],
    host: usize,
    container_id: String,
    out: mpsc::Sender<Msg>,
) -> JoinHandle<()> {
    let source = source_of(sources, host);
    tokio::spawn(async move {
        let Some(source) = source else {
            return;
        };
        let docker = match docker_for(source).await {
            Ok(docker) => docker,
            Err(error) => {
                let _ = out.send(Msg::LogEnded(sanitize::line(&error))).await;
                return;
            }
        };
        // The buffer splits Docker's chunks into sanitized lines; each complete line is
        // sent once (by its sequence number).
        let mut buffer =
            crate::docker::logs::LogBuffer::new(super::app::LOG_CAPACITY, 16 * 1024 * 1024);
        let mut sent: Option<u64> = None;
        let mut chunks = crate::docker::logs::follow(&docker, &container_id, 500, None);
        let ended = loop {
            match chunks.next().await {
                Some(Ok(chunk)) => buffer.push(&chunk),
                Some(Err(error)) => break sanitize::line(&error.to_string()),
                None => {
                    buffer.flush_partials();
                    break "the log stream ended (the container stopped?)".to_owned();
                }
            }
            let fresh: Vec<(u64, String)> = buffer
                .lines()
                .filter(|l| sent.is_none_or(|s| l.seq > s))
                .map(|l| (l.seq, log_text(l)))
                .collect();
            for (seq, text) in fresh {
                sent = Some(seq);
                if out.send(Msg::LogLine(text)).await.is_err() {
                    return;
                }
            }
        };
        for line in buffer.lines().filter(|l| sent.is_none_or(|s| l.seq > s)) {
            let _ = out.send(Msg::LogLine(log_text(line))).await;
        }
        let _ = out.send(Msg::LogEnded(ended)).await;
    })
}

/// Streams one container's CPU and memory readings until aborted. Each stream holds
/// its own channel to the engine, so it never delays other requests.
fn spawn_stats(
    sources: &[Source],
    host: usize,
    container_id: String,
    out: mpsc::Sender<Msg>,
) -> JoinHandle<()> {
    let source = source_of(sources, host);
    tokio::spawn(async move {
        let Some(source) = source else {
            return;
        };
        let Ok(docker) = docker_for(source).await else {
            return;
        };
        let mut samples = Box::pin(crate::docker::stats::follow(&docker, &container_id));
        while let Some(Ok(sample)) = samples.next().await {
            let msg = Msg::Stats {
                host,
                container_id: container_id.clone(),
                sample,
            };
            if out.send(msg).await.is_err() {
                return;
            }
        }
    })
}

fn spawn_inspect(sources: &[Source], host: usize, container_id: String, out: mpsc::Sender<Msg>) {
    let source = source_of(sources, host);
    tokio::spawn(async move {
        let Some(source) = source else {
            return;
        };
        let lines = match docker_for(source).await {
            Ok(docker) => {
                match crate::docker::inspect::inspect(&docker, &container_id, false).await {
                    Ok(view) => view
                        .rows
                        .into_iter()
                        .map(|row| (format!("{} {}", row.section.title(), row.key), row.value))
                        .collect(),
                    Err(error) => vec![("error".to_owned(), sanitize::line(&error.to_string()))],
                }
            }
            Err(error) => vec![("error".to_owned(), sanitize::line(&error))],
        };
        let _ = out.send(Msg::InspectLines(lines)).await;
    });
}

/// One `refused` audit line per refusal (blocking); stops at the first that cannot be
/// written.
pub fn record_refusals(core: &Core, refusals: &[Refusal]) -> std::io::Result<()> {
    refusals
        .iter()
        .try_for_each(|r| core.record_refusal(&r.host, &r.action, &r.target, None, &r.why))
}

/// Writes the console's read-only refusals to the audit log off the event loop; a
/// line that cannot be written is said on the status line.
fn spawn_refusals(core: Core, refusals: Vec<Refusal>, out: mpsc::Sender<Msg>) {
    tokio::spawn(async move {
        let written = tokio::task::spawn_blocking(move || record_refusals(&core, &refusals))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r);
        if let Err(e) = written {
            let text = format!("refused; not recorded in the audit log: {e}");
            let _ = out.send(Msg::Notice(sanitize::line(&text))).await;
        }
    });
}

fn spawn_action(
    sources: &[Source],
    core: Arc<Core>,
    host: usize,
    confirmed: ConfirmedAction,
    out: mpsc::Sender<Msg>,
) {
    let source = source_of(sources, host);
    tokio::spawn(async move {
        let Some(source) = source else {
            return;
        };
        let title = confirmed.pending().title();
        let text = match docker_for(source).await {
            Ok(docker) => match core.container_action(&docker, confirmed).await {
                Ok(outcome) => format!(
                    "{title}: done in {:.1}s{}",
                    outcome.took.as_secs_f32(),
                    outcome
                        .state_after
                        .map(|s| format!(", now {s}"))
                        .unwrap_or_default()
                ),
                Err(error) => format!("{title}: {error}"),
            },
            Err(error) => format!("{title}: {error}"),
        };
        let _ = out.send(Msg::Notice(sanitize::line(&text))).await;
    });
}

/// Writes the open log to a file in the current directory and says where.
fn save_logs(app: &App) -> String {
    let Screen::Logs { host, container } = app.screen() else {
        return String::new();
    };
    let host = app
        .hosts
        .get(*host)
        .map(|h| h.name.as_str())
        .unwrap_or("host");
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let path = PathBuf::from(format!("{host}-{container}-{stamp}.log"));
    let mut text = String::new();
    for line in &app.logs.lines {
        text.push_str(line);
        text.push('\n');
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
    {
        Ok(()) => format!("saved {} lines to {}", app.logs.lines.len(), path.display()),
        Err(error) => format!("could not save to {}: {error}", path.display()),
    }
}

/// `RFC3339 text`: the form the logs view stores (it hides the time unless asked).
fn log_text(line: &crate::docker::logs::LogLine) -> String {
    match line.at.and_then(crate::util::time::try_rfc3339) {
        Some(at) => format!("{at} {}", line.text),
        None => line.text.clone(),
    }
}

/// Shows a wizard that opened (its worker takes the slot), or says why it did not.
fn show_wizard(
    app: &mut App,
    worker_slot: &mut Option<WizardWorker>,
    what: &str,
    opened: std::result::Result<(OpenWizard, WizardWorker), String>,
) -> Vec<Command> {
    match opened {
        Ok((state, worker)) => {
            *worker_slot = Some(worker);
            app.update(Msg::WizardOpened(Box::new(state)))
        }
        Err(error) => {
            app.notice = Some(format!("{what} wizard: {error}"));
            Vec::new()
        }
    }
}

/// Builds the restore-drill wizard on the console's inventory (the hosts that declare
/// drills, `preselect` chosen when it is one of them) and starts its worker.
fn open_drill_wizard(
    options: &ConsoleOptions,
    core: &Core,
    preselect: Option<String>,
    id: u64,
    ui: mpsc::Sender<Msg>,
) -> std::result::Result<(OpenWizard, WizardWorker), String> {
    let Some(fleet) = &options.fleet else {
        return Err("a drill needs an inventory (-i PATH)".to_owned());
    };
    let inventory = fleet.inventory.clone();
    let setup = drill_wizard::Setup::from_inventory(&inventory, preselect);
    if setup.hosts.is_empty() {
        return Err(
            "no host declares a restore drill (fleetdeck_drills, docs/drills.md)".to_owned(),
        );
    }
    let ssh = crate::ssh::setup::SshOptions {
        batch: true,
        ..options.ssh.clone()
    };
    let runner = DrillRunner::new(
        inventory,
        ssh,
        core.clone(),
        crate::probes::drill::History::default_location(),
    );
    let state = crate::wizard::WizardState::new(drill_wizard::wizard(setup), id);
    let worker = spawn_drill_worker(runner, ui)?;
    Ok((OpenWizard::Drill(Box::new(state)), worker))
}

/// Age identities are not unlocked from the console: a passphrase-protected one fails
/// the plan with this reason (the terminal underneath belongs to the console).
struct NoPromptInConsole;

impl crate::secrets::PassphrasePrompt for NoPromptInConsole {
    fn ask(&self, _: &std::path::Path, _: bool) -> Option<zeroize::Zeroizing<String>> {
        None
    }
    fn declined_reason(&self) -> &'static str {
        "it is passphrase-protected, and the console does not ask for age passphrases yet \
         (run `fleetdeck deploy` on a terminal)"
    }
}

/// Builds the deploy wizard on the console's inventory with `preselect` checked and
/// starts its worker.
fn open_deploy_wizard(
    options: &ConsoleOptions,
    core: &Core,
    preselect: Vec<String>,
    id: u64,
    ui: mpsc::Sender<Msg>,
) -> std::result::Result<(OpenWizard, WizardWorker), String> {
    let Some(fleet) = &options.fleet else {
        return Err("deploying needs an inventory (-i PATH)".to_owned());
    };
    let inventory = fleet.inventory.clone();
    // Nothing may be asked on the terminal under the console: keys not in an agent
    // fail with a reason (the SSH modal serves the fleet's own sessions).
    let ssh = crate::ssh::setup::SshOptions {
        batch: true,
        ..options.ssh.clone()
    };
    let runner = DeployRunner::new(
        inventory,
        options.limit.clone(),
        ssh,
        core.clone(),
        Box::new(|| Box::new(NoPromptInConsole)),
        crate::core::deploy::ApplyOptions {
            gate: true,
            reason: None,
            break_lock: false,
            // The console has its own keys (Esc) and no signal handling here.
            interrupt: Default::default(),
        },
    )?;
    let setup = deploy_wizard::Setup {
        targets: runner.targets().to_vec(),
        preselected: Some(preselect),
        read_only_disabled: true,
    };
    let state = crate::wizard::WizardState::new(deploy_wizard::wizard(setup), id);
    let worker = WizardWorker::Deploy(spawn_wizard_worker(runner, ui)?);
    Ok((OpenWizard::Deploy(Box::new(state)), worker))
}

/// Builds the canary wizard on the console's inventory with `preselect` checked
/// (offering an unfinished rollout of the same inventory for resuming) and starts its
/// worker.
/// The board's updates and go / no-go questions reach the console as
/// [`Msg::CanaryBoard`].
fn open_canary_wizard(
    options: &ConsoleOptions,
    core: &Core,
    preselect: Vec<String>,
    id: u64,
    ui: mpsc::Sender<Msg>,
) -> std::result::Result<(OpenWizard, WizardWorker), String> {
    let Some(fleet) = &options.fleet else {
        return Err("a rollout needs an inventory (-i PATH)".to_owned());
    };
    // The journal records the canonical path; `--resume` looks it up by that.
    let path = std::fs::canonicalize(&fleet.path).unwrap_or_else(|_| fleet.path.clone());
    let inventory = fleet.inventory.clone();
    let ssh = crate::ssh::setup::SshOptions {
        batch: true,
        ..options.ssh.clone()
    };
    let (updates, mut board) = mpsc::unbounded_channel();
    let runner = CanaryRunner::new(
        Selection::new(inventory, options.limit.clone())?,
        path,
        ssh,
        core.clone(),
        Box::new(|| Box::new(NoPromptInConsole)),
        updates,
    );
    let setup = canary_wizard::CanarySetup {
        deploy: deploy_wizard::Setup {
            targets: runner.selection().targets().to_vec(),
            preselected: Some(preselect),
            read_only_disabled: true,
        },
        unfinished: runner.unfinished().cloned(),
    };
    let state = crate::wizard::WizardState::new(canary_wizard::wizard(setup), id);
    let forward = ui.clone();
    // Ends when the runner (the sender) is dropped with its worker.
    tokio::spawn(async move {
        while let Some(update) = board.recv().await {
            if forward
                .send(Msg::CanaryBoard { wizard: id, update })
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let worker = WizardWorker::Canary(spawn_wizard_worker(runner, ui)?);
    Ok((
        OpenWizard::Canary(Box::new(CanaryWizard::new(state))),
        worker,
    ))
}
