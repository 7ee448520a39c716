//! Connect to every lab host and list its containers: fleetdeck (one session per host,
//! all hosts at once, Docker API over the session) against `docker -H ssh://HOST ps -a`
//! run one host after another and 16 at a time. Prints a table; not a test.
//!
//! Run through `scripts/bench.sh`, which brings up a lab and builds in release mode.
//! `FLEETDECK_LAB_DIR` names the lab; `BENCH_ROUNDS` (default 3) how often to repeat.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::query_parameters::ListContainersOptionsBuilder;
use fleetdeck::docker::transport::connect_negotiated;
use fleetdeck::lab::state::LabState;
use fleetdeck::ssh::auth::{KeyStore, NeverAsk};
use fleetdeck::ssh::config::{ResolveEnv, SshConfig};
use fleetdeck::ssh::session::{ConnectContext, InventorySsh, Session};
use tokio::sync::Semaphore;

type Failure = Box<dyn std::error::Error + Send + Sync>;

struct Host {
    name: String,
    socket: String,
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let dir = PathBuf::from(
        std::env::var_os("FLEETDECK_LAB_DIR")
            .ok_or("set FLEETDECK_LAB_DIR (scripts/bench.sh does)")?,
    );
    let lab = LabState::load(&dir)?.ok_or("no lab in FLEETDECK_LAB_DIR")?;
    let hosts: Vec<Host> = lab
        .plan
        .hosts
        .iter()
        .map(|h| Host {
            name: h.name.clone(),
            socket: lab.plan.engine_of(h).socket.display().to_string(),
        })
        .collect();
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let shim_dir = tempfile::tempdir()?;
    let shim = ssh_shim(&dir, shim_dir.path())?;

    println!(
        "connect + list containers on {} lab hosts ({} rounds, best round shown)",
        hosts.len(),
        rounds
    );
    let mut fleetdeck_best = Duration::MAX;
    let mut warm_best = Duration::MAX;
    let mut slowest_host = Duration::ZERO;
    let mut sequential_best = Duration::MAX;
    let mut parallel_best = Duration::MAX;
    for _ in 0..rounds {
        let (cold, warm, slowest) = fleetdeck_round(&dir, &hosts).await?;
        fleetdeck_best = fleetdeck_best.min(cold);
        warm_best = warm_best.min(warm);
        slowest_host = slowest_host.max(slowest);
        sequential_best = sequential_best.min(docker_cli_round(&shim, &hosts, 1).await?);
        parallel_best = parallel_best.min(docker_cli_round(&shim, &hosts, 16).await?);
    }
    let ratio = |other: Duration| other.as_secs_f64() / fleetdeck_best.as_secs_f64();
    println!("{:<52} {:>9}  {:>6}", "method", "wall", "× fleetdeck");
    println!(
        "{:<52} {:>8.2}s  {:>6}",
        "fleetdeck: connect all + list (cold)",
        fleetdeck_best.as_secs_f64(),
        "1.0"
    );
    println!(
        "{:<52} {:>8.3}s",
        "fleetdeck: list again on the open sessions",
        warm_best.as_secs_f64()
    );
    println!(
        "{:<52} {:>8.2}s  {:>6.1}",
        "docker -H ssh://HOST ps -a, one host at a time",
        sequential_best.as_secs_f64(),
        ratio(sequential_best)
    );
    println!(
        "{:<52} {:>8.2}s  {:>6.1}",
        "docker -H ssh://HOST ps -a, 16 at a time",
        parallel_best.as_secs_f64(),
        ratio(parallel_best)
    );
    println!(
        "slowest single host with fleetdeck (cold): {:.2}s",
        slowest_host.as_secs_f64()
    );
    Ok(())
}

/// One round: a fresh context (no shared jump sessions, no warm state), every host at
/// once. Returns the cold wall time, the time of a second listing over the open
/// sessions, and the slowest host.
async fn fleetdeck_round(
    dir: &Path,
    hosts: &[Host],
) -> Result<(Duration, Duration, Duration), Failure> {
    let env = ResolveEnv::from_passwd().ok_or("no passwd entry")?;
    let config = SshConfig::parse_file_with_env(&dir.join("ssh_config"), env.clone())?;
    let scratch = tempfile::tempdir()?;
    let mut ctx = ConnectContext::new(
        config,
        env,
        KeyStore::new(Arc::new(NeverAsk)),
        scratch.path().join("known_hosts"),
    );
    ctx.agent_socket = None;
    let ctx = Arc::new(ctx);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for host in hosts {
        let ctx = ctx.clone();
        let name = host.name.clone();
        let socket = host.socket.clone();
        tasks.push(tokio::spawn(async move {
            let began = Instant::now();
            let resolved = ctx.resolve(&InventorySsh {
                name: name.clone(),
                ..InventorySsh::default()
            });
            let session = Session::connect(&ctx, &resolved, None)
                .await
                .map_err(|e| format!("{name}: {e}"))?;
            let docker = connect_negotiated(session.docker_socket(&socket), 30)
                .await
                .map_err(|e| format!("{name}: {e}"))?;
            list(&docker).await.map_err(|e| format!("{name}: {e}"))?;
            Ok::<_, String>((session, docker, began.elapsed()))
        }));
    }
    let mut connected = Vec::new();
    let mut slowest = Duration::ZERO;
    for task in tasks {
        let (session, docker, took) = task.await??;
        slowest = slowest.max(took);
        connected.push((session, docker));
    }
    let cold = started.elapsed();
    let warm_started = Instant::now();
    let listings = connected.iter().map(|(_, docker)| list(docker));
    for result in futures_util::future::join_all(listings).await {
        result?;
    }
    Ok((cold, warm_started.elapsed(), slowest))
}

async fn list(docker: &bollard::Docker) -> Result<usize, bollard::errors::Error> {
    let options = ListContainersOptionsBuilder::default().all(true).build();
    Ok(docker.list_containers(Some(options)).await?.len())
}

/// Runs `docker -H ssh://root@HOST ps -a` for every host, `parallel` at a time.
async fn docker_cli_round(
    shim: &Path,
    hosts: &[Host],
    parallel: usize,
) -> Result<Duration, Failure> {
    let limit = Arc::new(Semaphore::new(parallel));
    let path = format!(
        "{}:{}",
        shim.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for host in hosts {
        let limit = limit.clone();
        let path = path.clone();
        let name = host.name.clone();
        tasks.push(tokio::spawn(async move {
            let _turn = limit.acquire_owned().await.map_err(|e| e.to_string())?;
            let output = tokio::process::Command::new("docker")
                .args(["-H", &format!("ssh://root@{name}"), "ps", "-a", "-q"])
                .env("PATH", path)
                .env_remove("DOCKER_HOST")
                .output()
                .await
                .map_err(|e| format!("running docker: {e}"))?;
            if !output.status.success() {
                return Err(format!(
                    "docker -H ssh://root@{name} ps: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
            Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}

/// docker's ssh:// transport runs `ssh` from PATH with the user's configuration; a
/// shim first in PATH makes it use the lab's (hosts, keys, known_hosts, ProxyJump).
fn ssh_shim(lab_dir: &Path, shim_dir: &Path) -> Result<PathBuf, Failure> {
    use std::os::unix::fs::PermissionsExt;
    let shim = shim_dir.join("ssh");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\nexec /usr/bin/ssh -F {} -o BatchMode=yes \"$@\"\n",
            lab_dir.join("ssh_config").display()
        ),
    )?;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755))?;
    Ok(shim_dir.to_path_buf())
}
