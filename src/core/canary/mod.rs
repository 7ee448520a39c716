//! Canary rollouts: the canary hosts first, then the rest in waves, each wave followed
//! by the same gate — every host of the wave deployed, then healthy for the soak time
//! with no restarts and its HTTP probes passing, then (in the wizard) the operator's
//! go. A wave that fails halts the rollout: no further wave starts, the failed wave is
//! rolled back (and with `rollback_all`, every host this rollout deployed).
//!
//! The rollout is journalled locally (`$XDG_STATE_HOME/fleetdeck/rollouts/ID.json`),
//! rewritten after every change: after a crash, `--resume` continues from the wave
//! that was running (its hosts converge: a host already deployed finds nothing to do)
//! and never starts a passed wave again.

pub mod soak;
pub mod summary;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::core::Core;
use crate::core::deploy::apply::{self, RollbackScope};
use crate::core::deploy::{
    ApplyOptions, Change, Desired, Events, HostResult, Planned, Prepared, ServiceResult,
};
use crate::core::interrupt::Interrupt;
use crate::fleet::target::Target;
use crate::inventory::Inventory;
use crate::ssh::setup::SshOptions;

/// The default soak: long enough for a crash loop or a failing health check to show.
pub const DEFAULT_SOAK: Duration = Duration::from_secs(60);

/// `--wave-size`: a number of hosts, or a percentage of the hosts after the canary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaveSize {
    Hosts(usize),
    Percent(u8),
}

impl WaveSize {
    pub fn parse(text: &str) -> Result<WaveSize, String> {
        let bad = || {
            format!("--wave-size {text:?}: expected a number of hosts (3) or a percentage (25%)")
        };
        if let Some(p) = text.strip_suffix('%') {
            let p: u8 = p.trim().parse().map_err(|_| bad())?;
            if p == 0 || p > 100 {
                return Err(bad());
            }
            Ok(WaveSize::Percent(p))
        } else {
            let n: usize = text.trim().parse().map_err(|_| bad())?;
            if n == 0 {
                return Err(bad());
            }
            Ok(WaveSize::Hosts(n))
        }
    }

    /// Hosts per wave for `rest` hosts after the canary (at least one).
    pub fn per_wave(self, rest: usize) -> usize {
        match self {
            WaveSize::Hosts(n) => n,
            WaveSize::Percent(p) => (rest * usize::from(p)).div_ceil(100),
        }
        .max(1)
    }
}

impl std::fmt::Display for WaveSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaveSize::Hosts(n) => write!(f, "{n}"),
            WaveSize::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Where a host is in the rollout: the board's cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostStage {
    Pending,
    Deploying,
    Soaking,
    Passed,
    Failed,
    RolledBack,
    /// A failed wave or a halted rollout left it untouched.
    Skipped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaveStage {
    Pending,
    Deploying,
    Soaking,
    /// Soaked; waiting for the operator's go.
    Gate,
    Passed,
    Failed,
    RolledBack,
    Skipped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutStatus {
    Running,
    Passed,
    /// A wave failed (or the operator said no-go): stopped, failed wave rolled back.
    Halted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutHost {
    pub name: String,
    pub wave: usize,
    pub stage: HostStage,
    /// Containers this rollout replaced on the host (what a rollback returns).
    pub deployed: Vec<String>,
    pub error: Option<String>,
    /// Problems the soak saw in services this rollout did not change, which they
    /// already had before it ("already unhealthy before the rollout"): shown on the
    /// board and in the summary, left to the operator's go / no-go.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wave {
    /// 0 is the canary.
    pub index: usize,
    pub hosts: Vec<String>,
    pub stage: WaveStage,
}

/// What was asked, kept in the journal so `--resume` does the same rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutRequest {
    pub inventory: PathBuf,
    pub limit: Option<String>,
    pub apps: Vec<String>,
    pub extra_vars: serde_json::Map<String, serde_json::Value>,
    pub canary: String,
    pub wave_size: WaveSize,
    pub max_failures: usize,
    pub soak_seconds: u64,
    /// `--strict-soak`: a service the rollout did not change fails the soak too when
    /// it was already unhealthy before.
    #[serde(default)]
    pub strict_soak: bool,
    pub rollback_all: bool,
    pub reason: Option<String>,
}

/// The rollout and its journal: everything the board shows and `--resume` needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    pub id: String,
    pub started: String,
    pub finished: Option<String>,
    pub request: RolloutRequest,
    pub status: RolloutStatus,
    pub waves: Vec<Wave>,
    pub hosts: Vec<RolloutHost>,
    /// Why it halted.
    pub error: Option<String>,
}

impl Rollout {
    pub fn host(&self, name: &str) -> Option<&RolloutHost> {
        self.hosts.iter().find(|h| h.name == name)
    }

    fn host_mut(&mut self, name: &str) -> Option<&mut RolloutHost> {
        self.hosts.iter_mut().find(|h| h.name == name)
    }

    pub fn failed_hosts(&self) -> usize {
        self.hosts
            .iter()
            .filter(|h| matches!(h.stage, HostStage::Failed | HostStage::RolledBack))
            .count()
    }

    /// The journal's path.
    pub fn path(&self) -> PathBuf {
        rollouts_dir().join(format!("{}.json", self.id))
    }

    /// Rewrites the journal (atomically: a crash leaves the old or the new one).
    pub fn save(&self) -> io::Result<()> {
        let path = self.path();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).map_err(io::Error::other)?,
        )?;
        std::fs::rename(&tmp, &path)
    }
}

/// `$XDG_STATE_HOME/fleetdeck/rollouts`.
pub fn rollouts_dir() -> PathBuf {
    crate::paths::state_home()
        .join("fleetdeck")
        .join("rollouts")
}

/// The most recent rollout of `inventory` that did not finish, if any.
pub fn unfinished(inventory: &Path) -> io::Result<Option<Rollout>> {
    let dir = rollouts_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut found: Vec<Rollout> = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if let Ok(rollout) = serde_json::from_slice::<Rollout>(&bytes)
            && rollout.status == RolloutStatus::Running
            && rollout.request.inventory == inventory
        {
            found.push(rollout);
        }
    }
    found.sort_by(|a, b| a.started.cmp(&b.started));
    Ok(found.pop())
}

/// Splits the selected hosts into the canary wave and the waves after it, keeping the
/// inventory's order. The canary wave may be empty (no host matches the pattern): the
/// first wave is then the canary's gate.
pub fn waves(selected: &[String], canary: &[String], wave_size: WaveSize) -> Vec<Vec<String>> {
    let first: Vec<String> = selected
        .iter()
        .filter(|h| canary.contains(h))
        .cloned()
        .collect();
    let rest: Vec<String> = selected
        .iter()
        .filter(|h| !canary.contains(h))
        .cloned()
        .collect();
    let mut waves = vec![first];
    let per = wave_size.per_wave(rest.len());
    waves.extend(rest.chunks(per).map(<[String]>::to_vec));
    waves.retain(|w| !w.is_empty());
    waves
}

/// Something the rollout reports while it runs.
#[derive(Debug, Clone)]
pub enum CanaryEvent {
    /// The whole rollout as it stands (the board).
    Board(Box<Rollout>),
    /// A deploy step on one host.
    Step(crate::core::deploy::DeployEvent),
    /// Soak progress for a wave: seconds left.
    Soak { wave: usize, left: u64 },
}

/// How the operator's go / no-go is asked after a wave has soaked.
pub trait GoNoGo: Send + Sync {
    /// `true` to go on to the next wave.
    fn decide<'a>(
        &'a self,
        rollout: &'a Rollout,
        wave: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>>;
}

/// Always go: `--yes`, and the gate's automatic checks are the only gate.
pub struct AlwaysGo;

impl GoNoGo for AlwaysGo {
    fn decide<'a>(
        &'a self,
        _: &'a Rollout,
        _: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>> {
        Box::pin(async { true })
    }
}

/// Starts a rollout: every host's desired state checked first (nothing changes if one
/// is wrong), then the waves decided and journalled.
pub fn plan_rollout(
    inventory: &Inventory,
    request: RolloutRequest,
    prepared: &Prepared,
) -> Result<Rollout, String> {
    let selected: Vec<String> = prepared.hosts.iter().map(|(t, _)| t.name.clone()).collect();
    let canary: Vec<String> = inventory
        .select(Some(&request.canary))
        .map_err(|e| format!("--canary {}: {e}", request.canary))?
        .iter()
        .map(|h| h.name().to_owned())
        .collect();
    if !selected.iter().any(|h| canary.contains(h)) {
        return Err(format!(
            "no selected host is in the canary ({}): a rollout starts with a canary",
            request.canary
        ));
    }
    let waves = waves(&selected, &canary, request.wave_size);
    let now = crate::util::time::rfc3339(OffsetDateTime::now_utc());
    let hosts = waves
        .iter()
        .enumerate()
        .flat_map(|(i, w)| {
            w.iter().map(move |h| RolloutHost {
                name: h.clone(),
                wave: i,
                stage: HostStage::Pending,
                deployed: vec![],
                error: None,
                notes: vec![],
            })
        })
        .collect();
    Ok(Rollout {
        id: format!(
            "{}-{}",
            OffsetDateTime::now_utc().unix_timestamp(),
            std::process::id()
        ),
        started: now,
        finished: None,
        request,
        status: RolloutStatus::Running,
        waves: waves
            .into_iter()
            .enumerate()
            .map(|(index, hosts)| Wave {
                index,
                hosts,
                stage: WaveStage::Pending,
            })
            .collect(),
        hosts,
        error: None,
    })
}

/// Runs (or resumes) `rollout` to its end. `prepared` holds the desired state of every
/// host in it.
pub async fn run(
    core: &Core,
    ssh: &SshOptions,
    rollout: &mut Rollout,
    prepared: Prepared,
    gate: &dyn GoNoGo,
    events: &tokio::sync::mpsc::UnboundedSender<CanaryEvent>,
    break_lock: bool,
) {
    let never = Interrupt::default();
    run_interruptible(
        core, ssh, rollout, prepared, gate, events, break_lock, &never,
    )
    .await;
}

/// Marks the rollout stopped by a signal: still `running` (its journal resumes it with
/// `--resume`), with why and where.
fn interrupted(rollout: &mut Rollout, interrupt: &Interrupt, index: usize, during: &str) {
    let signal = interrupt.requested().map_or("a signal", |s| s.name());
    rollout.error = Some(format!(
        "interrupted by {signal} during wave {index}'s {during}; every host runs a revision \
         that passed its health gate, no lock is held; resume with --resume"
    ));
}

/// As [`run`], stopped at a safe point by `interrupt` (SIGINT, SIGTERM, SIGHUP): a
/// deploy under way finishes its switch-over and rolls it back (see the deployment
/// core), a soak stops; the rollout stays resumable.
#[allow(clippy::too_many_arguments)]
pub async fn run_interruptible(
    core: &Core,
    ssh: &SshOptions,
    rollout: &mut Rollout,
    mut prepared: Prepared,
    gate: &dyn GoNoGo,
    events: &tokio::sync::mpsc::UnboundedSender<CanaryEvent>,
    break_lock: bool,
    interrupt: &Interrupt,
) {
    interrupt.listen();
    let board = |r: &Rollout| {
        if let Err(e) = r.save() {
            tracing::warn!("saving the rollout journal {}: {e}", r.path().display());
        }
        let _ = events.send(CanaryEvent::Board(Box::new(r.clone())));
    };
    let mut by_host: BTreeMap<String, (Target, Desired)> = prepared
        .hosts
        .drain(..)
        .map(|(t, d)| (t.name.clone(), (t, d)))
        .collect();
    let options = ApplyOptions {
        gate: true,
        reason: rollout.request.reason.clone(),
        break_lock,
        interrupt: interrupt.clone(),
    };
    let soak = Duration::from_secs(rollout.request.soak_seconds);
    board(rollout);

    for index in 0..rollout.waves.len() {
        let stage = rollout.waves[index].stage;
        if stage == WaveStage::Passed {
            continue; // finished before a crash: never deployed again
        }
        let names = rollout.waves[index].hosts.clone();
        if interrupt.requested().is_some() {
            interrupted(rollout, interrupt, index, "start");
            board(rollout);
            return;
        }
        let wave_prepared = Prepared {
            hosts: names.iter().filter_map(|n| by_host.remove(n)).collect(),
        };
        rollout.waves[index].stage = WaveStage::Deploying;
        for n in &names {
            if let Some(h) = rollout.host_mut(n) {
                h.stage = HostStage::Deploying;
                h.error = None;
                h.notes.clear();
            }
        }
        board(rollout);

        let planned = match crate::core::deploy::connect_and_plan(ssh, wave_prepared).await {
            Ok(p) => p,
            Err(e) => {
                halt(core, ssh, rollout, index, &e, &options, events).await;
                board(rollout);
                return;
            }
        };
        // Journalled before anything changes: what this wave is about to replace, so a
        // rollback after a crash still knows what to return.
        let prior: BTreeMap<String, Vec<String>> = rollout
            .hosts
            .iter()
            .map(|h| (h.name.clone(), h.deployed.clone()))
            .collect();
        for p in &planned {
            let replacing: Vec<String> = p
                .plan()
                .map(|plan| {
                    plan.services
                        .iter()
                        .filter(|s| s.change == Change::Replace)
                        .map(|s| s.container.clone())
                        .collect()
                })
                .unwrap_or_default();
            if let Some(h) = rollout.host_mut(&p.target.name) {
                h.deployed.extend(replacing);
                h.deployed.sort();
                h.deployed.dedup();
            }
        }
        board(rollout);
        // What the services this wave leaves unchanged look like before it.
        let before = soak::before(&planned).await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let forward = {
            let events = events.clone();
            tokio::spawn(async move {
                while let Some(e) = rx.recv().await {
                    let _ = events.send(CanaryEvent::Step(e));
                }
            })
        };
        let outcomes = crate::core::deploy::apply_all(core, &planned, &options, &tx).await;
        drop(tx);
        let _ = forward.await;
        for outcome in &outcomes {
            let Some(h) = rollout.host_mut(&outcome.name) else {
                continue;
            };
            // What switched now, plus what an interrupted run had switched; what did
            // not switch (reverted by its gate, skipped, never reached) is not this
            // rollout's to roll back.
            h.deployed = prior.get(&h.name).cloned().unwrap_or_default();
            h.deployed.extend(
                outcome
                    .services
                    .iter()
                    .filter(|s| s.result == ServiceResult::Deployed && s.from_image.is_some())
                    .map(|s| s.container.clone()),
            );
            h.deployed.sort();
            h.deployed.dedup();
            match outcome.result {
                HostResult::Deployed | HostResult::Unchanged => h.stage = HostStage::Soaking,
                // Back on its previous revision, or not begun: deployed on --resume.
                HostResult::Interrupted => {
                    h.stage = HostStage::Pending;
                    h.error = outcome.error.clone();
                }
                HostResult::RolledBack => {
                    h.stage = HostStage::RolledBack;
                    h.error = outcome.error.clone();
                }
                _ => {
                    h.stage = HostStage::Failed;
                    h.error = outcome.error.clone();
                }
            }
        }
        if interrupt.requested().is_some() {
            interrupted(rollout, interrupt, index, "deploy");
            board(rollout);
            return;
        }
        rollout.waves[index].stage = WaveStage::Soaking;
        board(rollout);

        // The soak watches every host that deployed; the others have already failed.
        let soaking: Vec<&Planned> = planned
            .iter()
            .filter(|p| {
                rollout
                    .host(&p.target.name)
                    .is_some_and(|h| h.stage == HostStage::Soaking)
            })
            .collect();
        let strict = rollout.request.strict_soak;
        let results = tokio::select! {
            results = soak::watch(&soaking, soak, index, events, &before, strict) => results,
            _ = interrupt.wait() => {
                interrupted(rollout, interrupt, index, "soak");
                board(rollout);
                return;
            }
        };
        for (name, result) in results {
            if let Some(h) = rollout.host_mut(&name) {
                match result {
                    Ok(notes) => {
                        h.stage = HostStage::Passed;
                        h.notes = notes;
                    }
                    Err(e) => {
                        h.stage = HostStage::Failed;
                        h.error = Some(e);
                    }
                }
            }
        }
        let failed_in_wave = names
            .iter()
            .filter(|n| {
                rollout
                    .host(n)
                    .is_some_and(|h| matches!(h.stage, HostStage::Failed | HostStage::RolledBack))
            })
            .count();
        // The canary tolerates nothing; later waves up to --max-failures in all.
        let too_many = if index == 0 {
            failed_in_wave > 0
        } else {
            rollout.failed_hosts() > rollout.request.max_failures
        };
        if too_many {
            let why = format!(
                "wave {index} failed: {}",
                names
                    .iter()
                    .filter_map(|n| rollout.host(n))
                    .filter_map(|h| h.error.as_ref().map(|e| format!("{}: {e}", h.name)))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            halt(core, ssh, rollout, index, &why, &options, events).await;
            board(rollout);
            return;
        }
        // Tolerated failures are rolled back on their own host.
        let tolerated: Vec<String> = names
            .iter()
            .filter(|n| {
                rollout
                    .host(n)
                    .is_some_and(|h| h.stage == HostStage::Failed)
            })
            .cloned()
            .collect();
        roll_back(core, ssh, rollout, &tolerated, &options, events).await;

        if interrupt.requested().is_some() {
            interrupted(rollout, interrupt, index, "soak");
            board(rollout);
            return;
        }
        if index + 1 < rollout.waves.len() {
            rollout.waves[index].stage = WaveStage::Gate;
            board(rollout);
            let go = gate.decide(rollout, index).await;
            // A signal at the question takes effect when it is answered.
            if interrupt.requested().is_some() {
                interrupted(rollout, interrupt, index, "go / no-go question");
                board(rollout);
                return;
            }
            if !go {
                let why = format!("no-go after wave {index}: stopped by the operator");
                rollout.waves[index].stage = WaveStage::Passed;
                stop_remaining(rollout, index + 1);
                rollout.status = RolloutStatus::Halted;
                rollout.error = Some(why);
                rollout.finished = Some(crate::util::time::rfc3339(OffsetDateTime::now_utc()));
                board(rollout);
                return;
            }
        }
        rollout.waves[index].stage = WaveStage::Passed;
        board(rollout);
    }
    rollout.status = RolloutStatus::Passed;
    rollout.finished = Some(crate::util::time::rfc3339(OffsetDateTime::now_utc()));
    board(rollout);
}

fn stop_remaining(rollout: &mut Rollout, from: usize) {
    for wave in rollout.waves.iter_mut().skip(from) {
        wave.stage = WaveStage::Skipped;
    }
    for host in rollout.hosts.iter_mut().filter(|h| h.wave >= from) {
        host.stage = HostStage::Skipped;
    }
}

/// Stops the rollout at wave `index`: the rest is skipped, the failed wave rolled back
/// (with `rollback_all`, every host this rollout deployed).
async fn halt(
    core: &Core,
    ssh: &SshOptions,
    rollout: &mut Rollout,
    index: usize,
    why: &str,
    options: &ApplyOptions,
    events: &tokio::sync::mpsc::UnboundedSender<CanaryEvent>,
) {
    stop_remaining(rollout, index + 1);
    rollout.waves[index].stage = WaveStage::Failed;
    rollout.status = RolloutStatus::Halted;
    rollout.error = Some(why.to_owned());
    let back: Vec<String> = rollout
        .hosts
        .iter()
        .filter(|h| {
            (h.wave == index || (rollout.request.rollback_all && h.wave < index))
                && !h.deployed.is_empty()
                && h.stage != HostStage::RolledBack
        })
        .map(|h| h.name.clone())
        .collect();
    roll_back(core, ssh, rollout, &back, options, events).await;
    if rollout.request.rollback_all {
        for wave in rollout.waves.iter_mut().take(index) {
            wave.stage = WaveStage::RolledBack;
        }
    }
    rollout.waves[index].stage = WaveStage::RolledBack;
    rollout.finished = Some(crate::util::time::rfc3339(OffsetDateTime::now_utc()));
}

/// Returns `hosts` to what ran before this rollout: exactly the containers it
/// replaced there, nothing else.
async fn roll_back(
    core: &Core,
    ssh: &SshOptions,
    rollout: &mut Rollout,
    hosts: &[String],
    options: &ApplyOptions,
    events: &tokio::sync::mpsc::UnboundedSender<CanaryEvent>,
) {
    if hosts.is_empty() {
        return;
    }
    let inventory = match Inventory::load(&rollout.request.inventory) {
        Ok(i) => i,
        Err(e) => {
            for h in hosts {
                if let Some(entry) = rollout.host_mut(h) {
                    entry.error = Some(format!("rollback impossible: {e}"));
                }
            }
            return;
        }
    };
    let targets = match crate::fleet::target::nonempty_targets(
        &inventory,
        rollout.request.limit.as_deref(),
    ) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!("rollback: {e}");
            return;
        }
    };
    let prepared = Prepared {
        hosts: targets
            .into_iter()
            .filter(|t| hosts.contains(&t.name))
            .map(|t| {
                let desired = Desired {
                    host: t.name.clone(),
                    apps: vec![],
                    declared: t.settings.apps.clone(),
                };
                (t, desired)
            })
            .collect(),
    };
    let planned = match crate::core::deploy::connect_and_plan(ssh, prepared).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("rollback: {e}");
            return;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let forward = {
        let events = events.clone();
        tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                let _ = events.send(CanaryEvent::Step(e));
            }
        })
    };
    let tx: Events = tx;
    for p in &planned {
        let Some(entry) = rollout.host_mut(&p.target.name) else {
            continue;
        };
        let containers = entry.deployed.clone();
        let outcome = match &p.reached {
            Ok((access, _)) => {
                apply::rollback_scope(
                    core,
                    access,
                    RollbackScope::Containers(&containers),
                    options,
                    &tx,
                )
                .await
            }
            Err(e) => {
                entry.error = Some(format!("rollback impossible: unreachable: {e}"));
                continue;
            }
        };
        match outcome.result {
            HostResult::RolledBack | HostResult::Unchanged => {
                entry.stage = HostStage::RolledBack;
                entry.deployed.clear();
            }
            _ => {
                entry.error = Some(format!(
                    "rollback failed: {}",
                    outcome.error.unwrap_or_default()
                ));
            }
        }
    }
    drop(tx);
    let _ = forward.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn canary_first_then_waves_in_inventory_order() {
        let selected = names(&["a", "b", "c", "d", "e"]);
        let w = waves(&selected, &names(&["c"]), WaveSize::Hosts(2));
        assert_eq!(
            w,
            vec![names(&["c"]), names(&["a", "b"]), names(&["d", "e"])]
        );
        let w = waves(&selected, &names(&["a"]), WaveSize::Percent(50));
        assert_eq!(
            w,
            vec![names(&["a"]), names(&["b", "c"]), names(&["d", "e"])]
        );
        // Rounded up, never zero.
        assert_eq!(WaveSize::Percent(10).per_wave(3), 1);
        assert_eq!(WaveSize::Percent(34).per_wave(3), 2);
    }

    #[test]
    fn wave_sizes_parse_with_clear_errors() {
        assert_eq!(WaveSize::parse("3"), Ok(WaveSize::Hosts(3)));
        assert_eq!(WaveSize::parse("25%"), Ok(WaveSize::Percent(25)));
        for bad in ["0", "0%", "101%", "x", "-1"] {
            let err = WaveSize::parse(bad).expect_err(bad);
            assert!(err.contains("--wave-size"), "{err}");
        }
    }
}
