//! `fleetdeck lab` — a real practice fleet on this machine.
//!
//! Each lab host is a network namespace on a bridge the lab owns, with its own sshd,
//! nftables ruleset, TLS endpoint, restic repository and Docker engine (reached only
//! through that host's SSH session). See `docs/lab.md` for the story each host tells.

pub mod backup;
pub mod engine;
pub mod net;
pub mod plan;
pub mod render;
pub mod services;
pub mod state;
pub mod sys;
pub mod teardown;
pub mod tls;
pub mod view;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use futures_util::{StreamExt, stream};

use plan::{HostPlan, LabPlan};
use state::LabState;

/// How many hosts (or engines) are set up at once: enough to overlap waiting on
/// restic and dockerd, few enough not to thrash two cores.
const PARALLELISM: usize = 4;

/// `--dir`, or `$XDG_STATE_HOME/fleetdeck/lab`.
pub fn resolve_dir(dir: Option<PathBuf>) -> PathBuf {
    dir.unwrap_or_else(|| crate::paths::state_home().join("fleetdeck").join("lab"))
}

/// Where the lab's progress lines go: the caller prints them (the command line, on
/// stderr). Called from the lab's parallel tasks.
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// Creates the lab, or completes/repairs the one already in `dir`.
pub async fn up(dir: &Path, hosts: Option<usize>, progress: Progress) -> Result<()> {
    sys::check_prerequisites()?;
    let created_dir = !dir.exists();
    std::fs::create_dir_all(dir)
        .wrap_err_with(|| format!("creating the lab directory {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .wrap_err_with(|| format!("resolving {}", dir.display()))?;

    let (mut state, fresh) = match LabState::load(&dir)? {
        Some(existing) => {
            let size = existing.plan.hosts.len();
            if let Some(n) = hosts.filter(|n| *n != size) {
                bail!(
                    "the lab in {} has {size} hosts, not {n}. Run `fleetdeck lab down --dir {}` \
                     first to build a lab of another size",
                    dir.display(),
                    dir.display()
                );
            }
            (existing, false)
        }
        None => {
            let n = hosts.unwrap_or(plan::MIN_HOSTS);
            let subnet = net::choose_subnet().await?;
            let plan = LabPlan::new(&dir, n, subnet).map_err(|e| eyre!(e))?;
            (LabState::new(plan, created_dir), true)
        }
    };
    // Written before anything is created, so `lab down` can undo even a crashed `up`.
    state.complete = false;
    state.save()?;

    let started = Instant::now();
    progress(&format!(
        "lab {}: {} hosts on {} in {}",
        state.plan.id,
        state.plan.hosts.len(),
        state.plan.subnet_cidr(),
        dir.display()
    ));
    let plan = Arc::new(state.plan.clone());
    let outcome = tokio::select! {
        r = build(plan.clone(), progress.clone()) => r,
        _ = tokio::signal::ctrl_c() => Err(eyre!("interrupted")),
    };
    match outcome {
        Ok(()) => {
            state.complete = true;
            state.save()?;
            progress(&format!(
                "lab up in {:.1}s. Try:\n  ssh -F {dir}/ssh_config client-alpha docker ps\n  fleetdeck lab status --dir {dir}",
                started.elapsed().as_secs_f64(),
                dir = dir.display()
            ));
            Ok(())
        }
        Err(e) if fresh => {
            progress(&format!(
                "lab up failed: {e:#}\nremoving what it had created…"
            ));
            match teardown::down_state(&state).await {
                Ok(()) => Err(e.wrap_err("lab up failed; everything it had created was removed")),
                Err(cleanup) => Err(e.wrap_err(format!(
                    "lab up failed, and so did the cleanup ({cleanup:#}); run `fleetdeck lab down --dir {}`",
                    dir.display()
                ))),
            }
        }
        Err(e) => Err(e.wrap_err(format!(
            "lab up failed; the lab is incomplete. Run it again, or `fleetdeck lab down --dir {}`",
            dir.display()
        ))),
    }
}

async fn build(plan: Arc<LabPlan>, progress: Progress) -> Result<()> {
    let now = time::OffsetDateTime::now_utc();
    write_keys(&plan).await?;
    net::ensure_bridge(&plan).await?;
    tls::ensure_ca(&plan).await?;
    // `openssl ca` keeps one database: issue certificates one at a time.
    for host in &plan.hosts {
        std::fs::create_dir_all(plan.host_dir(host))?;
        tls::ensure_host_cert(&plan, host, now).await?;
    }

    engine::prepare_image_tarballs(&engine::image_dir(&plan)).await?;
    let engines: Vec<_> = stream::iter(plan.engines.clone())
        .map(|engine| {
            let plan = plan.clone();
            let progress = progress.clone();
            async move {
                let docker = engine::ensure_engine(&engine).await?;
                engine::ensure_images(&docker, &engine::image_dir(&plan)).await?;
                progress(&format!("  engine e{} ready", engine.index));
                Ok::<_, color_eyre::Report>(docker)
            }
        })
        .buffered(PARALLELISM)
        .collect()
        .await;
    let engines = engines.into_iter().collect::<Result<Vec<_>>>()?;

    // The apps are stacks the deployment core deploys: write them and the inventory
    // first, then let the core create each host's containers.
    write_stacks(&plan)?;
    write_secrets(&plan)?;
    std::fs::write(plan.dir.join("inventory.yml"), render::inventory(&plan)?)?;
    let deployments = Arc::new(lab_deployments(&plan)?);

    let host_keys: Vec<_> = stream::iter(plan.hosts.clone())
        .map(|host| {
            let plan = plan.clone();
            let docker = engines[host.engine].clone();
            let deployments = deployments.clone();
            let progress = progress.clone();
            async move {
                let key = build_host(&plan, &host, &docker, &deployments, now, &progress)
                    .await
                    .wrap_err_with(|| format!("setting up lab host {}", host.name))?;
                Ok::<_, color_eyre::Report>(key)
            }
        })
        .buffered(PARALLELISM)
        .collect()
        .await;
    let host_keys = host_keys.into_iter().collect::<Result<Vec<_>>>()?;

    std::fs::write(
        plan.dir.join("known_hosts"),
        render::known_hosts(&plan, &host_keys),
    )?;
    std::fs::write(plan.dir.join("ssh_config"), render::ssh_config(&plan))?;

    // Health checks report after one interval (longer on large labs): wait so the lab
    // is ready to look at.
    let verdict_wait = Duration::from_secs(plan.health().first_verdict_secs() + 60);
    let waits: Vec<Result<()>> = stream::iter(plan.hosts.clone())
        .map(|host| {
            let docker = engines[host.engine].clone();
            async move { engine::wait_for_states(&docker, &host, verdict_wait).await }
        })
        .buffer_unordered(PARALLELISM)
        .collect()
        .await;
    waits.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(())
}

/// Returns the host's public host key line.
async fn build_host(
    plan: &LabPlan,
    host: &HostPlan,
    docker: &bollard::Docker,
    deployments: &LabDeployments,
    now: time::OffsetDateTime,
    progress: &Progress,
) -> Result<String> {
    let started = Instant::now();
    net::ensure_host_network(plan, host).await?;
    let host_key = services::ensure_host_key(plan, host).await?;
    let sshd = services::ensure_sshd(plan, host).await?;
    view::ensure_fail2ban(plan, host, sshd).await?;
    view::ensure_data_volume(plan, host, sshd)?;
    services::apply_firewall(plan, host).await?;
    if !plan.data_dir(host).join("web").join("index.html").exists() {
        backup::write_app_data(plan, host, 0)?;
    }
    backup::ensure_repository(plan, host, now).await?;
    deploy_apps(deployments, host, docker).await?;
    services::ensure_https(plan, host).await?;
    services::ensure_http(plan, host).await?;
    progress(&format!(
        "  {:<16} {:<15} ready in {:.1}s",
        host.name,
        host.addr,
        started.elapsed().as_secs_f64()
    ));
    Ok(host_key)
}

fn write_stacks(plan: &LabPlan) -> Result<()> {
    let dir = plan.stacks_dir();
    std::fs::create_dir_all(&dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    for (file, text) in render::stacks() {
        std::fs::write(dir.join(file), text)
            .wrap_err_with(|| format!("writing {}", dir.join(file).display()))?;
    }
    Ok(())
}

/// Each host's secret file, encrypted for the lab's age key; written once, so a
/// secret keeps its value across `lab up` runs (rewritten if the key changed).
fn write_secrets(plan: &LabPlan) -> Result<()> {
    let identities =
        crate::secrets::Identities::load(&plan.dir.join("age.key"), &crate::secrets::NeverAsk)
            .map_err(|e| eyre!("the lab's age key: {e}"))?;
    let mut recipients = crate::secrets::Recipients::new();
    for r in identities.recipients() {
        recipients
            .add(&r, "the lab's age key")
            .map_err(|e| eyre!("{e}"))?;
    }
    for host in &plan.hosts {
        let path = plan.secrets_file(host);
        // Kept across runs, unless it is not for the lab's current key.
        if path.exists() && crate::secrets::load_file(&path, &identities).is_ok() {
            continue;
        }
        let mut token = [0u8; 16];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut token))
            .wrap_err("reading /dev/urandom")?;
        let plain = zeroize::Zeroizing::new(format!("web_token: {}\n", hex::encode(token)));
        let tree = crate::secrets::parse_plain_yaml(&plain).map_err(|e| eyre!("{e}"))?;
        let text =
            crate::secrets::encrypt_tree_to_string(&tree, &recipients).map_err(|e| eyre!("{e}"))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        sys::write_private(&path, &text)?;
    }
    Ok(())
}

/// Every lab host's desired state, from the inventory just written, as `fleetdeck
/// deploy` would build it.
struct LabDeployments {
    core: crate::core::Core,
    hosts: Vec<(crate::fleet::target::Target, crate::core::deploy::Desired)>,
}

fn lab_deployments(plan: &LabPlan) -> Result<LabDeployments> {
    use crate::core::deploy;
    let inventory = crate::inventory::Inventory::load(&plan.dir.join("inventory.yml"))
        .map_err(|e| eyre!("the lab's own inventory: {e}"))?;
    let mut identities = deploy::IdentityCache::new(Box::new(crate::secrets::NeverAsk));
    let prepared = deploy::prepare(&inventory, &deploy::Request::default(), &mut identities)
        .map_err(|problems| eyre!("the lab's stacks: {}", problems.join("; ")))?;
    Ok(LabDeployments {
        // The lab's own setup is audited in the lab, not in the operator's log.
        core: crate::core::Core::new(
            false,
            crate::audit::AuditLog::new(plan.dir.join("audit.log")),
        ),
        hosts: prepared.hosts,
    })
}

/// Creates (or repairs) the host's containers through the deployment core. No health
/// gate: some of the lab's apps are unhealthy on purpose.
async fn deploy_apps(
    deployments: &LabDeployments,
    host: &HostPlan,
    docker: &bollard::Docker,
) -> Result<()> {
    use crate::core::deploy::{self, ApplyOptions, HostResult};
    let Some((target, desired)) = deployments.hosts.iter().find(|(t, _)| t.name == host.name)
    else {
        bail!("{} is missing from the lab's inventory", host.name);
    };
    let options = ApplyOptions {
        gate: false,
        reason: Some("fleetdeck lab up".into()),
        break_lock: false,
        interrupt: Default::default(),
    };
    let outcome =
        deploy::apply_local(&deployments.core, target, desired, docker.clone(), &options).await;
    match outcome.result {
        HostResult::Deployed | HostResult::Unchanged => Ok(()),
        _ => {
            let details: Vec<String> = outcome
                .services
                .iter()
                .filter_map(|s| s.error.as_ref().map(|e| format!("{}: {e}", s.container)))
                .chain(outcome.error.clone())
                .collect();
            bail!("deploying the lab's apps: {}", details.join("; "))
        }
    }
}

async fn write_keys(plan: &LabPlan) -> Result<()> {
    let key = plan.dir.join("id_ed25519");
    services::ensure_ssh_key(&key, &format!("fleetdeck-lab-{}", plan.id)).await?;
    let public = std::fs::read_to_string(key.with_extension("pub"))?;
    std::fs::write(plan.dir.join("authorized_keys"), public)?;
    let age_key = plan.dir.join("age.key");
    if !age_key.exists() {
        // An X25519 identity in the format `age-keygen` writes.
        let (identity, _recipient) =
            crate::secrets::generate_identity(&crate::util::time::now_rfc3339());
        sys::write_private(&age_key, &identity)?;
    }
    Ok(())
}

// ---- status -------------------------------------------------------------------------

#[derive(Debug, serde::Serialize)]
pub struct HostStatus {
    pub name: String,
    pub address: String,
    pub groups: Vec<String>,
    pub via_bastion: bool,
    pub netns: bool,
    pub sshd: bool,
    /// Whether the host's fail2ban runs; `None` where the lab plans none.
    pub fail2ban: Option<bool>,
    pub engine: bool,
    pub https: bool,
    pub http: bool,
    pub containers: Vec<ContainerStatus>,
}

#[derive(Debug, serde::Serialize)]
pub struct ContainerStatus {
    pub name: String,
    pub app: String,
    pub state: String,
    pub expected: String,
}

impl HostStatus {
    fn up(&self) -> bool {
        self.netns
            && self.sshd
            && self.fail2ban != Some(false)
            && self.engine
            && self.https
            && self.http
    }
}

#[derive(Debug, serde::Serialize)]
pub struct LabStatus {
    pub dir: PathBuf,
    pub id: String,
    pub subnet: String,
    pub complete: bool,
    pub up: bool,
    pub hosts: Vec<HostStatus>,
}

pub async fn collect_status(state: &LabState) -> LabStatus {
    let plan = &state.plan;
    // Above MAX_ENGINES hosts share engines: connect to each engine once.
    let mut engines = Vec::with_capacity(plan.engines.len());
    for e in &plan.engines {
        engines.push(engine::connect(&e.socket).await.ok());
    }
    let mut hosts = vec![];
    for host in &plan.hosts {
        let docker = &engines[host.engine];
        let mut containers = vec![];
        for c in &host.containers {
            let state = match docker {
                Some(d) => engine::observed_state(d, &c.name)
                    .await
                    .unwrap_or_else(|_| "missing".into()),
                None => "unknown".into(),
            };
            containers.push(ContainerStatus {
                name: c.name.clone(),
                app: c.app.clone(),
                state,
                expected: engine::expected_state(c.behaviour),
            });
        }
        hosts.push(HostStatus {
            name: host.name.clone(),
            address: host.addr.to_string(),
            groups: host.groups.clone(),
            via_bastion: host.via_bastion,
            netns: net::netns_exists(&host.netns),
            sshd: services::sshd_running(plan, host).is_some(),
            fail2ban: host
                .system
                .fail2ban
                .then(|| view::fail2ban_running(plan, host).is_some()),
            engine: docker.is_some(),
            https: services::https_running(plan, host) && services::port_open(host.addr, 443).await,
            http: services::http_running(plan, host),
            containers,
        });
    }
    LabStatus {
        dir: plan.dir.clone(),
        id: plan.id.clone(),
        subnet: plan.subnet_cidr(),
        complete: state.complete,
        up: state.complete && hosts.iter().all(HostStatus::up),
        hosts,
    }
}

/// The lab's status, or `None` when there is no lab in `dir`.
pub async fn status(dir: &Path) -> Result<Option<LabStatus>> {
    let Some(state) = LabState::load(dir)? else {
        return Ok(None);
    };
    Ok(Some(collect_status(&state).await))
}

pub fn format_status(s: &LabStatus) -> String {
    use std::fmt::Write as _;
    let mark = |ok: bool| if ok { "up" } else { "DOWN" };
    let mut out = format!(
        "lab {} in {} — {} ({} hosts on {})\n",
        s.id,
        s.dir.display(),
        if s.up {
            "up"
        } else if s.complete {
            "DEGRADED"
        } else {
            "INCOMPLETE (a `lab up` is running or crashed)"
        },
        s.hosts.len(),
        s.subnet
    );
    let _ = writeln!(
        out,
        "{:<16} {:<14} {:<11} {:<5} {:<8} {:<6} {:<6} containers",
        "host", "address", "group", "sshd", "fail2ban", "engine", "https"
    );
    for h in &s.hosts {
        let containers = h
            .containers
            .iter()
            .map(|c| format!("{} {}", c.name, c.state))
            .collect::<Vec<_>>()
            .join(", ");
        let group = format!(
            "{}{}",
            h.groups.join(","),
            if h.via_bastion { "*" } else { "" }
        );
        let _ = writeln!(
            out,
            "{:<16} {:<14} {:<11} {:<5} {:<8} {:<6} {:<6} {}",
            h.name,
            h.address,
            group,
            mark(h.sshd && h.netns),
            h.fail2ban.map_or("-", mark),
            mark(h.engine),
            mark(h.https && h.http),
            containers
        );
    }
    if s.hosts.iter().any(|h| h.via_bastion) {
        out.push_str("* reachable only through the bastion (ProxyJump)\n");
    }
    out
}

/// `lab rekey HOST`: the host gets a new SSH host key that no known_hosts file has, as
/// after a reinstall — or an impostor. Practice for "host key changed"; `lab up`
/// rewrites the lab's known_hosts and so trusts the new key.
pub async fn rekey(dir: &Path, host_name: &str, progress: Progress) -> Result<()> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let state = LabState::load(&dir)?.ok_or_else(|| eyre!("no lab in {}", dir.display()))?;
    sys::check_root()?;
    let plan = &state.plan;
    let Some(host) = plan.hosts.iter().find(|h| h.name == host_name) else {
        let names: Vec<&str> = plan.hosts.iter().map(|h| h.name.as_str()).collect();
        bail!(
            "no host {host_name:?} in the lab at {}; its hosts are {}",
            dir.display(),
            names.join(", ")
        );
    };
    let public = services::rekey_host(plan, host).await?;
    let fingerprint = russh::keys::PublicKey::from_openssh(&public)
        .map(|key| crate::ssh::known_hosts::fingerprint(&key))
        .unwrap_or_else(|_| public.clone());
    progress(&format!(
        "{host_name} now presents a new host key ({fingerprint}); {} still has the old one, \
         so ssh and fleetdeck will refuse it. `fleetdeck lab up --dir {}` trusts the new key.",
        dir.join("known_hosts").display(),
        dir.display()
    ));
    Ok(())
}

pub async fn down(dir: &Path, progress: Progress) -> Result<()> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let Some(state) = LabState::load(&dir)? else {
        progress(&format!("no lab in {}: nothing to remove", dir.display()));
        return Ok(());
    };
    sys::check_root()?;
    teardown::down_state(&state).await?;
    progress(&format!(
        "lab {} removed from {}",
        state.plan.id,
        dir.display()
    ));
    Ok(())
}
