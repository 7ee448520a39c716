//! fleetdeck's SSH transport against the lab's real sshd and dockerd: exec channels,
//! ProxyJump through the bastion, the Docker API over a streamlocal channel.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fleetdeck::ssh::auth::{KeyStore, NeverAsk};
use fleetdeck::ssh::config::{ResolveEnv, SshConfig};
use fleetdeck::ssh::session::{ConnectContext, ExecError, ExecLimits, InventorySsh, Session};

fn context(lab_dir: &Path, record_file: &Path) -> Arc<ConnectContext> {
    let env = ResolveEnv::from_passwd().expect("passwd entry");
    let config =
        SshConfig::parse_file_with_env(&lab_dir.join("ssh_config"), env.clone()).expect("config");
    let mut ctx = ConnectContext::new(
        config,
        env,
        KeyStore::new(Arc::new(NeverAsk)),
        record_file.to_path_buf(),
    );
    // The agent of whoever runs the tests must not change what is being tested.
    ctx.agent_socket = None;
    Arc::new(ctx)
}

fn host(name: &str) -> InventorySsh {
    InventorySsh {
        name: name.to_owned(),
        ..InventorySsh::default()
    }
}

async fn connect(ctx: &Arc<ConnectContext>, name: &str) -> Session {
    let resolved = ctx.resolve(&host(name));
    Session::connect(ctx, &resolved, None)
        .await
        .unwrap_or_else(|e| panic!("connecting to {name}: {e}"))
}

#[tokio::test]
#[ignore = "needs the lab (scripts/test.sh)"]
async fn exec_returns_output_status_and_respects_cap_and_timeout() {
    let lab = common::lab();
    let scratch = tempfile::tempdir().expect("tempdir");
    let ctx = context(&lab.plan.dir, &scratch.path().join("own_known_hosts"));
    let session = connect(&ctx, "client-alpha").await;

    let output = session
        .exec("hostname; echo oops >&2; exit 7", &ExecLimits::default())
        .await
        .expect("exec");
    assert_eq!(output.stdout.text(), "client-alpha\n");
    assert_eq!(output.stderr.text(), "oops\n");
    assert_eq!(output.exit, Some(fleetdeck::ssh::session::Exit::Status(7)));

    let capped = session
        .exec(
            "head -c 100000 /dev/zero",
            &ExecLimits {
                max_output: 1000,
                ..ExecLimits::default()
            },
        )
        .await
        .expect("exec");
    assert_eq!(capped.stdout.bytes.len(), 1000);
    assert_eq!(capped.stdout.dropped, 99_000);
    assert!(capped.success());

    let slow = session
        .exec(
            "sleep 30",
            &ExecLimits {
                timeout: Duration::from_millis(500),
                ..ExecLimits::default()
            },
        )
        .await;
    assert!(matches!(slow, Err(ExecError::Timeout { .. })), "{slow:?}");

    // The same session keeps serving after a timed-out command.
    let again = session
        .exec("echo still here", &ExecLimits::default())
        .await;
    assert_eq!(again.expect("exec").stdout.text(), "still here\n");
    assert!(
        !scratch.path().join("own_known_hosts").exists(),
        "a known host records nothing"
    );
}

#[tokio::test]
#[ignore = "needs the lab (scripts/test.sh)"]
async fn proxy_jump_through_the_bastion_reaches_the_hidden_host() {
    let lab = common::lab();
    let scratch = tempfile::tempdir().expect("tempdir");
    let ctx = context(&lab.plan.dir, &scratch.path().join("own_known_hosts"));
    let beta = connect(&ctx, "client-beta").await;
    assert!(beta.label().contains(" via root@"), "{}", beta.label());
    let output = beta
        .exec("hostname", &ExecLimits::default())
        .await
        .expect("exec");
    assert_eq!(output.stdout.text(), "client-beta\n");
}

#[tokio::test]
#[ignore = "needs the lab (scripts/test.sh)"]
async fn docker_api_over_the_session_lists_the_hosts_containers() {
    let lab = common::lab();
    let scratch = tempfile::tempdir().expect("tempdir");
    let ctx = context(&lab.plan.dir, &scratch.path().join("own_known_hosts"));
    for name in ["client-alpha", "client-beta"] {
        let plan = lab
            .plan
            .hosts
            .iter()
            .find(|h| h.name == name)
            .expect("host in plan");
        let socket = lab.plan.engine_of(plan).socket.display().to_string();
        let session = connect(&ctx, name).await;
        let docker =
            fleetdeck::docker::transport::connect_negotiated(session.docker_socket(&socket), 30)
                .await
                .expect("docker over ssh");
        let containers = docker
            .list_containers(Some(
                bollard::query_parameters::ListContainersOptionsBuilder::default()
                    .all(true)
                    .build(),
            ))
            .await
            .expect("list containers");
        let names: Vec<String> = containers
            .iter()
            .flat_map(|c| c.names.clone().unwrap_or_default())
            .collect();
        for container in &plan.containers {
            assert!(
                names
                    .iter()
                    .any(|n| n.trim_start_matches('/') == container.name),
                "{name}: {} not in {names:?}",
                container.name
            );
        }
    }
}

/// A two-hop chain: a loopback sshd, then the lab's bastion, then the hidden host.
#[tokio::test]
#[ignore = "needs the lab (scripts/test.sh)"]
async fn a_two_hop_proxy_jump_chain_reaches_the_hidden_host() {
    use common::sshd::{SshdOptions, TestSshd, public_key_line};
    let lab = common::lab();
    let dir = tempfile::tempdir().expect("tempdir");
    let lab_key = lab.plan.dir.join("id_ed25519");
    let first_hop = TestSshd::start(SshdOptions {
        authorized_keys: vec![public_key_line(&common::client::pub_of(&lab_key))],
        ..SshdOptions::default()
    });
    let hop_known_hosts = dir.path().join("hop_known_hosts");
    std::fs::write(
        &hop_known_hosts,
        format!(
            "[127.0.0.1]:{} {}\n",
            first_hop.port(),
            first_hop.host_public_key_line()
        ),
    )
    .expect("write");
    let beta = lab
        .plan
        .hosts
        .iter()
        .find(|h| h.name == "client-beta")
        .expect("beta");
    let config = format!(
        "Include {lab_config}\n\
         {hop}\
         Host beta-two-hops\n  HostName {addr}\n  User root\n  IdentityFile {key}\n  \
         IdentitiesOnly yes\n  UserKnownHostsFile {lab_kh}\n  ProxyJump loophop,bastion\n",
        hop = common::client::host_block(
            "loophop",
            first_hop.port(),
            &hop_known_hosts,
            &[&format!("IdentityFile {}", lab_key.display())]
        ),
        addr = beta.addr,
        key = lab_key.display(),
        lab_kh = lab.plan.dir.join("known_hosts").display(),
        lab_config = lab.plan.dir.join("ssh_config").display(),
    );
    let ctx = common::client::context_from_text(dir.path(), &config, Arc::new(NeverAsk), None);
    let session = common::client::try_connect(&ctx, "beta-two-hops", None)
        .await
        .expect("two-hop chain");
    let label = session.label().to_owned();
    assert!(
        label.contains("via root@10.") && label.contains("via root@127.0.0.1"),
        "{label}"
    );
    let output = session
        .exec("hostname", &ExecLimits::default())
        .await
        .expect("exec");
    assert_eq!(output.stdout.text(), "client-beta\n");
}
