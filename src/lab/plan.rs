//! What the lab should look like, decided without touching the machine. Every name
//! (namespace, link, socket) carries the lab's id, so two labs never collide and
//! `lab down` can remove exactly what this plan names.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const MIN_HOSTS: usize = 3;
pub const MAX_HOSTS: usize = 200;
/// Above this many hosts, engines are shared: host `i` uses engine `i % MAX_ENGINES`.
/// Each dockerd with its containerd costs ~70 MiB and a few seconds of CPU to start;
/// past a dozen, a 2-core machine spends minutes just starting them.
pub const MAX_ENGINES: usize = 12;
/// Host part of the first lab host's address; `.1` is the management address.
const FIRST_HOST_OCTET: u8 = 10;

const GREEK: [&str; 23] = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi",
    "psi",
];

/// The image every lab container runs: the version the lab starts with, a newer one
/// to deploy, and a release whose health check fails, to practise the rollback.
pub const IMAGE_REPO: &str = "fleetdeck-lab/app";
pub const IMAGE_TAGS: [&str; 3] = ["1.0", "1.1", BROKEN_TAG];
pub const BROKEN_TAG: &str = "1.2-broken";

/// How a sample container behaves, chosen so the lab shows every state an on-call
/// engineer must recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// Running, health check passing.
    Healthy,
    /// Running, health check failing.
    Unhealthy,
    /// Crashes at start; restart policy `always` keeps it restarting.
    Restarting,
    /// Ran once and exited with this code; no restart policy.
    Exited(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerPlan {
    /// The app this container belongs to (the inventory's `fleetdeck_apps` entry).
    pub app: String,
    /// Container name on its engine; prefixed with the host when engines are shared.
    pub name: String,
    pub behaviour: Behaviour,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertPlan {
    /// Validity window relative to `lab up`, in days (negative = in the past).
    pub not_before_days: i64,
    pub not_after_days: i64,
    pub server_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPlan {
    pub index: usize,
    pub name: String,
    pub groups: Vec<String>,
    pub addr: Ipv4Addr,
    pub netns: String,
    /// Root-namespace end of the veth pair (the namespace end is `eth0`).
    pub veth: String,
    /// Reachable only through the bastion (ProxyJump).
    pub via_bastion: bool,
    /// Source address allowed to reach port 22.
    pub ssh_allowed_from: Ipv4Addr,
    /// Ports open beyond the declared policy: the drift the console must notice.
    pub drift_ports: Vec<u16>,
    pub cert: CertPlan,
    /// Ages of the restic snapshots to create, oldest first, in hours before `lab up`.
    pub snapshot_ages_hours: Vec<u64>,
    pub containers: Vec<ContainerPlan>,
    pub engine: usize,
    /// What the host's own view holds: sshd settings, data filesystem, reboot
    /// marker, fail2ban. Absent in the lab.json of an older fleetdeck (all clean).
    #[serde(default)]
    pub system: SystemPlan,
}

/// A host's system as its SSH sessions see it (docs/lab.md, "Each host's own view").
/// Every host is clean except for one planted problem on hosts 1 to 4.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemPlan {
    /// sshd says `PasswordAuthentication yes` (client-alpha).
    pub password_logins: bool,
    /// How full the data filesystem at `/srv` is made, in percent (client-beta).
    pub data_fill_percent: Option<u8>,
    /// `/var/run/reboot-required` is present (client-delta).
    pub reboot_required: bool,
    /// fail2ban-server runs with an `sshd` jail. Without it, fail2ban's programs are
    /// absent from the host's view, as on a host where it was never installed.
    pub fail2ban: bool,
}

/// Only the first this many hosts run fail2ban: each server is a Python process of
/// about 23 MiB that polls its log every second, so 200 of them would cost over
/// 4 GiB. Later hosts show fail2ban as not installed (`unknown`, which does not
/// raise the posture's severity).
pub const FAIL2BAN_HOSTS: usize = 12;

/// Size of each host's data filesystem image (sparse: it takes the space its files
/// use).
pub const DATA_FS_BYTES: u64 = 8 << 20;

/// How full client-beta's data filesystem is made: past the 90 % critical threshold
/// (`disk` is critical from 90 %; the issue asks for at least 93 %).
pub const DATA_FULL_PERCENT: u8 = 95;
const _: () = assert!(DATA_FULL_PERCENT >= 93 && DATA_FULL_PERCENT < 100);

/// Which host problem host `index` carries: one per host on hosts 1 to 4, so each
/// finding appears once and every other host is clean.
pub fn system_plan(index: usize) -> SystemPlan {
    SystemPlan {
        password_logins: index == 1,
        data_fill_percent: (index == 2).then_some(DATA_FULL_PERCENT),
        reboot_required: index == 4,
        fail2ban: index != 3 && index < FAIL2BAN_HOSTS,
    }
}

impl HostPlan {
    pub fn apps(&self) -> Vec<String> {
        self.containers.iter().map(|c| c.app.clone()).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnginePlan {
    pub index: usize,
    pub socket: PathBuf,
    pub pidfile: PathBuf,
    pub exec_root: PathBuf,
    pub data_root: PathBuf,
    pub config_file: PathBuf,
    pub log_file: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabPlan {
    pub id: String,
    pub dir: PathBuf,
    /// Short path for sockets (a unix socket path must fit in 108 bytes).
    pub run_dir: PathBuf,
    pub bridge: String,
    /// The /24 the lab owns, as its first three octets.
    pub subnet: [u8; 3],
    pub hosts: Vec<HostPlan>,
    pub engines: Vec<EnginePlan>,
}

impl LabPlan {
    /// The stacks' health-check timing for this lab's size.
    pub fn health(&self) -> HealthTiming {
        HealthTiming::for_hosts(self.hosts.len())
    }
}

/// A short id derived from the lab directory: stable across runs, distinct per DIR.
pub fn lab_id(dir: &Path) -> String {
    let digest = Sha256::digest(dir.as_os_str().as_encoded_bytes());
    hex::encode(&digest[..3])
}

pub fn host_name(index: usize) -> String {
    match index {
        0 => "bastion".to_string(),
        i if i <= GREEK.len() => format!("client-{}", GREEK[i - 1]),
        i => format!("client-{i:03}"),
    }
}

/// A demo failure planted on a host's containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlantedFailure {
    /// `worker` unhealthy (its queue is down), as on `client-alpha`.
    UnhealthyWorker,
    /// `cron` crash-looping under restart policy `always`, as on `client-beta`.
    CrashLoop,
}

/// Beyond `client-alpha` and `client-beta`, one host in this many repeats each of
/// their container failures, so a large lab shows a few problems spread over the
/// fleet, never one on every host.
pub const FAILURE_EVERY: usize = 25;

/// Which demo container failure host `index` carries. Hosts 1 and 2 tell the lab's
/// story at every size; hosts `25k` and `25k + 1` (k ≥ 1) repeat it on large labs.
pub fn planted_failure(index: usize) -> Option<PlantedFailure> {
    match index {
        1 => Some(PlantedFailure::UnhealthyWorker),
        2 => Some(PlantedFailure::CrashLoop),
        i if i >= FAILURE_EVERY && i % FAILURE_EVERY == 0 => Some(PlantedFailure::UnhealthyWorker),
        i if i > FAILURE_EVERY && i % FAILURE_EVERY == 1 => Some(PlantedFailure::CrashLoop),
        _ => None,
    }
}

/// Health-check timing of the lab's stacks. A check is a `docker exec`: dockerd,
/// containerd, a shim and runc all work for each one, on the machine's few cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthTiming {
    /// `web` and `proxy` (the deploy gate waits for their first verdict).
    pub web_interval_secs: u64,
    pub worker_interval_secs: u64,
    /// How long a deploy's gate waits by default: 60 s, or the first verdict (one
    /// interval after the container starts) plus 30 s when that is longer.
    pub gate_timeout_secs: u64,
}

/// Intervals of a small lab (up to `FAST_CHECKS_UP_TO` hosts): fast first verdicts for
/// the deploy gates the tests wait on.
pub const WEB_CHECK_SECS: u64 = 3;
pub const WORKER_CHECK_SECS: u64 = 10;
/// The deploy gate's default timeout (the stacks' `web_gate_timeout` default).
pub const GATE_TIMEOUT_SECS: u64 = 60;
/// On a large lab every health check runs once per this many seconds per host, so
/// the whole lab runs about two checks a second at any size (each host has about two
/// checked containers): what a 5-host lab runs with its fast checks.
pub const CHECK_SECS_PER_HOST: u64 = 1;
/// The test suite's lab size: labs up to this size keep the fast checks.
pub const FAST_CHECKS_UP_TO: usize = 5;

impl HealthTiming {
    pub fn for_hosts(hosts: usize) -> Self {
        let scaled = hosts as u64 * CHECK_SECS_PER_HOST;
        let (web_interval_secs, worker_interval_secs) = if hosts <= FAST_CHECKS_UP_TO {
            (WEB_CHECK_SECS, WORKER_CHECK_SECS)
        } else {
            (WEB_CHECK_SECS.max(scaled), WORKER_CHECK_SECS.max(scaled))
        };
        HealthTiming {
            web_interval_secs,
            worker_interval_secs,
            gate_timeout_secs: GATE_TIMEOUT_SECS.max(web_interval_secs + GATE_TIMEOUT_SECS / 2),
        }
    }

    /// The longest a container waits for its first verdict.
    pub fn first_verdict_secs(&self) -> u64 {
        self.web_interval_secs.max(self.worker_interval_secs)
    }
}

impl LabPlan {
    /// Plans a lab of `hosts` hosts in `dir` on the subnet `a.b.c.0/24`.
    pub fn new(dir: &Path, hosts: usize, subnet: [u8; 3]) -> Result<Self, String> {
        if !(MIN_HOSTS..=MAX_HOSTS).contains(&hosts) {
            return Err(format!(
                "--hosts must be between {MIN_HOSTS} and {MAX_HOSTS} (got {hosts}): the lab needs a \
                 bastion, a canary and a host behind the bastion"
            ));
        }
        let id = lab_id(dir);
        let run_dir = PathBuf::from(format!("/run/fdlab-{id}"));
        let ip = |octet: u8| Ipv4Addr::new(subnet[0], subnet[1], subnet[2], octet);
        let management = ip(1);
        let bastion_addr = ip(FIRST_HOST_OCTET);
        let engine_count = hosts.min(MAX_ENGINES);
        let shared_engines = hosts > MAX_ENGINES;

        let engines = (0..engine_count)
            .map(|e| {
                let engine_run = run_dir.join(format!("e{e}"));
                let engine_dir = dir.join("engines").join(format!("e{e}"));
                EnginePlan {
                    index: e,
                    socket: engine_run.join("docker.sock"),
                    pidfile: engine_run.join("dockerd.pid"),
                    exec_root: engine_run.join("x"),
                    data_root: engine_dir.join("data"),
                    config_file: engine_dir.join("daemon.json"),
                    log_file: engine_dir.join("dockerd.log"),
                }
            })
            .collect();

        let host_plans = (0..hosts)
            .map(|i| {
                let name = host_name(i);
                let addr = ip(FIRST_HOST_OCTET + i as u8);
                // Roles are fixed by index so the lab's story is the same at any size:
                // 0 bastion, 1 canary with stale backups and a cert about to expire,
                // 2 behind the bastion with an expired cert and firewall drift.
                let (groups, via_bastion) = match i {
                    0 => (vec!["bastions".to_string()], false),
                    1 => (vec!["canary".to_string()], false),
                    2 => (vec!["production".to_string()], true),
                    _ => (vec!["production".to_string()], false),
                };
                let (not_before_days, not_after_days) = match i {
                    1 => (-85, 5),
                    2 => (-93, -3),
                    _ => (-1, 90),
                };
                let snapshot_ages_hours = match i {
                    1 => vec![74, 50],
                    _ => vec![26, 2],
                };
                let apps: Vec<(&str, Behaviour)> = match (i, planted_failure(i)) {
                    (0, _) => vec![("proxy", Behaviour::Healthy)],
                    (2, _) => vec![
                        ("web", Behaviour::Healthy),
                        ("cron", Behaviour::Restarting),
                        ("migrate", Behaviour::Exited(3)),
                    ],
                    (_, Some(PlantedFailure::UnhealthyWorker)) => vec![
                        ("web", Behaviour::Healthy),
                        ("worker", Behaviour::Unhealthy),
                    ],
                    (_, Some(PlantedFailure::CrashLoop)) => vec![
                        ("web", Behaviour::Healthy),
                        ("worker", Behaviour::Healthy),
                        ("cron", Behaviour::Restarting),
                    ],
                    (_, None) => {
                        vec![("web", Behaviour::Healthy), ("worker", Behaviour::Healthy)]
                    }
                };
                let containers = apps
                    .into_iter()
                    .map(|(app, behaviour)| ContainerPlan {
                        app: app.to_string(),
                        // As the deployment core names an app's main service, after
                        // the host's container prefix.
                        name: if shared_engines {
                            format!("{name}-{app}")
                        } else {
                            app.to_string()
                        },
                        behaviour,
                    })
                    .collect();
                HostPlan {
                    index: i,
                    netns: format!("fdlab-{id}-{i}"),
                    veth: format!("fdl{id}h{i}"),
                    addr,
                    via_bastion,
                    ssh_allowed_from: if via_bastion {
                        bastion_addr
                    } else {
                        management
                    },
                    drift_ports: if i == 2 { vec![5432] } else { vec![] },
                    cert: CertPlan {
                        not_before_days,
                        not_after_days,
                        server_name: format!("{name}.lab.fleetdeck.test"),
                    },
                    snapshot_ages_hours,
                    containers,
                    engine: i % engine_count,
                    system: system_plan(i),
                    groups,
                    name,
                }
            })
            .collect();

        Ok(LabPlan {
            bridge: format!("fdl{id}br"),
            dir: dir.to_path_buf(),
            run_dir,
            subnet,
            hosts: host_plans,
            engines,
            id,
        })
    }

    pub fn management_addr(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.subnet[0], self.subnet[1], self.subnet[2], 1)
    }

    pub fn subnet_cidr(&self) -> String {
        format!(
            "{}.{}.{}.0/24",
            self.subnet[0], self.subnet[1], self.subnet[2]
        )
    }

    pub fn bastion(&self) -> &HostPlan {
        &self.hosts[0]
    }

    pub fn engine_of(&self, host: &HostPlan) -> &EnginePlan {
        &self.engines[host.engine]
    }

    pub fn host_dir(&self, host: &HostPlan) -> PathBuf {
        self.dir.join("hosts").join(&host.name)
    }

    /// The app data directory that restic backs up and the `web` container mounts.
    pub fn data_dir(&self, host: &HostPlan) -> PathBuf {
        self.host_dir(host).join("srv")
    }

    /// fleetdeck's state directory on the host (deploy lock, journal, secret files).
    pub fn state_dir(&self, host: &HostPlan) -> PathBuf {
        self.host_dir(host).join("state")
    }

    /// Put before container names when several hosts share one engine.
    pub fn container_prefix(&self, host: &HostPlan) -> String {
        if self.hosts.len() > MAX_ENGINES {
            format!("{}-", host.name)
        } else {
            String::new()
        }
    }

    /// The host's secret file (fleetdeck's age format, for the lab's age key).
    pub fn secrets_file(&self, host: &HostPlan) -> PathBuf {
        self.dir.join("secrets").join(format!("{}.yml", host.name))
    }

    /// The apps' compose files.
    pub fn stacks_dir(&self) -> PathBuf {
        self.dir.join("stacks")
    }

    pub fn restic_repo(&self, host: &HostPlan) -> PathBuf {
        self.host_dir(host).join("backup").join("restic-repo")
    }

    pub fn restic_password_file(&self, host: &HostPlan) -> PathBuf {
        self.host_dir(host).join("backup").join("restic-password")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(n: usize) -> LabPlan {
        LabPlan::new(Path::new("/tmp/lab-a"), n, [10, 89, 7]).expect("valid plan")
    }

    #[test]
    fn three_hosts_cover_every_state_the_console_must_show() {
        let p = plan(3);
        let behaviours: Vec<Behaviour> = p
            .hosts
            .iter()
            .flat_map(|h| h.containers.iter().map(|c| c.behaviour))
            .collect();
        assert!(behaviours.contains(&Behaviour::Healthy));
        assert!(behaviours.contains(&Behaviour::Unhealthy));
        assert!(behaviours.contains(&Behaviour::Restarting));
        assert!(behaviours.iter().any(|b| matches!(b, Behaviour::Exited(_))));

        // One cert within 7 days, one expired, the rest more than 60 days out.
        let days: Vec<i64> = p.hosts.iter().map(|h| h.cert.not_after_days).collect();
        assert_eq!(days.iter().filter(|d| (0..7).contains(*d)).count(), 1);
        assert_eq!(days.iter().filter(|d| **d < 0).count(), 1);
        assert_eq!(days.iter().filter(|d| **d > 60).count(), 1);

        // Exactly one host's latest backup is older than 48 h; each has two snapshots.
        let stale = p
            .hosts
            .iter()
            .filter(|h| h.snapshot_ages_hours.iter().min().is_some_and(|a| *a > 48))
            .count();
        assert_eq!(stale, 1);
        assert!(p.hosts.iter().all(|h| h.snapshot_ages_hours.len() >= 2));

        assert_eq!(
            p.hosts.iter().filter(|h| !h.drift_ports.is_empty()).count(),
            1
        );
        assert_eq!(p.bastion().groups, vec!["bastions"]);
        let behind: Vec<_> = p.hosts.iter().filter(|h| h.via_bastion).collect();
        assert_eq!(behind.len(), 1);
        assert_eq!(behind[0].ssh_allowed_from, p.bastion().addr);
    }

    fn failure_hosts(p: &LabPlan) -> Vec<(usize, Vec<(String, Behaviour)>)> {
        p.hosts
            .iter()
            .filter(|h| {
                h.containers
                    .iter()
                    .any(|c| c.behaviour != Behaviour::Healthy)
            })
            .map(|h| {
                let containers = h
                    .containers
                    .iter()
                    .map(|c| (c.app.clone(), c.behaviour))
                    .collect();
                (h.index, containers)
            })
            .collect()
    }

    fn apps(list: &[(&str, Behaviour)]) -> Vec<(String, Behaviour)> {
        list.iter().map(|(a, b)| (a.to_string(), *b)).collect()
    }

    #[test]
    fn the_five_host_story_is_unchanged() {
        let p = plan(5);
        let all: Vec<Vec<(String, Behaviour)>> = p
            .hosts
            .iter()
            .map(|h| {
                h.containers
                    .iter()
                    .map(|c| (c.app.clone(), c.behaviour))
                    .collect()
            })
            .collect();
        use Behaviour::*;
        assert_eq!(
            all,
            vec![
                apps(&[("proxy", Healthy)]),
                apps(&[("web", Healthy), ("worker", Unhealthy)]),
                apps(&[
                    ("web", Healthy),
                    ("cron", Restarting),
                    ("migrate", Exited(3))
                ]),
                apps(&[("web", Healthy), ("worker", Healthy)]),
                apps(&[("web", Healthy), ("worker", Healthy)]),
            ]
        );
    }

    #[test]
    fn planted_failures_stay_on_a_few_hosts_at_any_size() {
        use Behaviour::*;
        let alpha = apps(&[("web", Healthy), ("worker", Unhealthy)]);
        let beta = apps(&[
            ("web", Healthy),
            ("cron", Restarting),
            ("migrate", Exited(3)),
        ]);
        let crash = apps(&[("web", Healthy), ("worker", Healthy), ("cron", Restarting)]);

        let five = failure_hosts(&plan(5));
        assert_eq!(five, vec![(1, alpha.clone()), (2, beta.clone())]);

        let fifty = failure_hosts(&plan(50));
        assert_eq!(
            fifty,
            vec![
                (1, alpha.clone()),
                (2, beta.clone()),
                (25, alpha.clone()),
                (26, crash.clone())
            ]
        );

        let big = failure_hosts(&plan(MAX_HOSTS));
        let indexes: Vec<usize> = big.iter().map(|(i, _)| *i).collect();
        let mut expected = vec![1, 2];
        for k in 1..=7 {
            expected.extend([25 * k, 25 * k + 1]);
        }
        assert_eq!(indexes, expected);
        assert!(big.len() * 10 < MAX_HOSTS, "{} failing hosts", big.len());
        // The repeats carry the container failures only: the certificate, backup,
        // firewall and bastion roles stay on hosts 1 and 2.
        let p = plan(MAX_HOSTS);
        for h in p.hosts.iter().skip(3) {
            assert_eq!(h.cert.not_after_days, 90, "{}", h.name);
            assert_eq!(h.snapshot_ages_hours, vec![26, 2], "{}", h.name);
            assert!(h.drift_ports.is_empty() && !h.via_bastion, "{}", h.name);
        }
    }

    /// Health checks per second the whole lab runs at idle.
    fn checks_per_second(p: &LabPlan) -> f64 {
        let t = p.health();
        p.hosts
            .iter()
            .flat_map(|h| &h.containers)
            .map(|c| match (c.app.as_str(), c.behaviour) {
                (_, Behaviour::Restarting | Behaviour::Exited(_)) => 0.0,
                ("web" | "proxy", _) => 1.0 / t.web_interval_secs as f64,
                ("worker", _) => 1.0 / t.worker_interval_secs as f64,
                (app, _) => panic!("unexpected app {app}"),
            })
            .sum()
    }

    #[test]
    fn health_checks_are_fast_on_small_labs_and_quiet_on_large_ones() {
        let timing = |n| {
            let t = plan(n).health();
            (
                t.web_interval_secs,
                t.worker_interval_secs,
                t.gate_timeout_secs,
            )
        };
        // The 5-host lab the tests use keeps its fast checks: deploy gates wait on them.
        assert_eq!(timing(3), (3, 10, 60));
        assert_eq!(timing(5), (3, 10, 60));
        assert_eq!(timing(50), (50, 50, 80));
        assert_eq!(timing(MAX_HOSTS), (200, 200, 230));
        for n in MIN_HOSTS..=MAX_HOSTS {
            let p = plan(n);
            let t = p.health();
            // At most a 5-host lab's rate, whatever the size.
            let rate = checks_per_second(&p);
            assert!(rate <= 2.0, "{n} hosts: {rate:.2} checks/s");
            // The gate and `lab up` wait longer than the first verdict takes.
            assert!(
                t.gate_timeout_secs >= t.web_interval_secs + 30,
                "{n}: {t:?}"
            );
            assert_eq!(
                t.first_verdict_secs(),
                t.web_interval_secs.max(t.worker_interval_secs)
            );
        }
    }

    #[test]
    fn each_host_problem_is_planted_once_and_later_hosts_are_clean() {
        let p = plan(5);
        let systems: Vec<&SystemPlan> = p.hosts.iter().map(|h| &h.system).collect();
        let clean = SystemPlan {
            fail2ban: true,
            ..SystemPlan::default()
        };
        assert_eq!(systems[0], &clean, "bastion");
        assert!(systems[1].password_logins);
        assert_eq!(systems[2].data_fill_percent, Some(DATA_FULL_PERCENT));
        assert!(!systems[3].fail2ban, "client-gamma has no fail2ban");
        assert!(systems[4].reboot_required);
        for (i, s) in systems.iter().enumerate().skip(1) {
            // One problem each, and nothing else out of the ordinary.
            let problems = [
                s.password_logins,
                s.data_fill_percent.is_some(),
                s.reboot_required,
                !s.fail2ban,
            ];
            assert_eq!(problems.iter().filter(|p| **p).count(), 1, "host {i}");
        }
        let big = plan(MAX_HOSTS);
        for h in big.hosts.iter().skip(5) {
            let expected = SystemPlan {
                fail2ban: h.index < FAIL2BAN_HOSTS,
                ..SystemPlan::default()
            };
            assert_eq!(h.system, expected, "{}", h.name);
        }
    }

    #[test]
    fn a_lab_json_without_system_plans_still_loads_as_clean_hosts() {
        let p = plan(3);
        let mut json = serde_json::to_value(&p).expect("json");
        for h in json["hosts"].as_array_mut().expect("hosts") {
            h.as_object_mut().expect("host").remove("system");
        }
        let old: LabPlan = serde_json::from_value(json).expect("older lab.json loads");
        assert!(old.hosts.iter().all(|h| h.system == SystemPlan::default()));
    }

    #[test]
    fn names_are_unique_and_fit_linux_interface_limits() {
        let p = plan(MAX_HOSTS);
        let mut names: Vec<&str> = p.hosts.iter().map(|h| h.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), MAX_HOSTS);
        for h in &p.hosts {
            assert!(h.veth.len() <= 15, "{} too long for IFNAMSIZ", h.veth);
        }
        assert!(p.bridge.len() <= 15);
        assert_eq!(p.hosts[MAX_HOSTS - 1].addr, Ipv4Addr::new(10, 89, 7, 209));
    }

    #[test]
    fn engines_are_shared_only_above_the_limit_and_names_stay_unique() {
        let small = plan(MAX_ENGINES);
        assert_eq!(small.engines.len(), MAX_ENGINES);
        assert!(small.hosts.iter().all(|h| h.engine == h.index));

        let big = plan(50);
        assert_eq!(big.engines.len(), MAX_ENGINES);
        let mut per_engine: Vec<Vec<String>> = vec![vec![]; MAX_ENGINES];
        for h in &big.hosts {
            for c in &h.containers {
                per_engine[h.engine].push(c.name.clone());
            }
        }
        for names in per_engine {
            let mut sorted = names.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(
                sorted.len(),
                names.len(),
                "duplicate container names on one engine"
            );
        }
    }

    #[test]
    fn socket_paths_fit_sun_path() {
        let p = plan(MAX_HOSTS);
        for e in &p.engines {
            assert!(e.socket.as_os_str().len() < 100, "{}", e.socket.display());
        }
    }

    #[test]
    fn host_count_is_bounded_with_a_reason() {
        let err = LabPlan::new(Path::new("/x"), 2, [10, 89, 0]).expect_err("too small");
        assert!(err.contains("between 3 and 200"), "{err}");
        assert!(LabPlan::new(Path::new("/x"), 201, [10, 89, 0]).is_err());
    }

    #[test]
    fn the_id_depends_on_the_directory() {
        assert_ne!(lab_id(Path::new("/a")), lab_id(Path::new("/b")));
        assert_eq!(lab_id(Path::new("/a")), lab_id(Path::new("/a")));
    }
}
