//! The host round over fleetdeck's own SSH session against a lab host: the script on
//! one exec channel, Docker's disk use from the lab engine's `/system/df` beside it,
//! and a second round that sends back the key of apt's state.

mod common;

use std::sync::Arc;

use fleetdeck::fleet::probe::{self, Probed};
use fleetdeck::probes::host::RoundMemo;
use fleetdeck::probes::posture::PosturePolicy;
use fleetdeck::ssh::auth::{KeyStore, NeverAsk};
use fleetdeck::ssh::config::{ResolveEnv, SshConfig};
use fleetdeck::ssh::session::{ConnectContext, InventorySsh, Session};

#[tokio::test]
#[ignore = "needs the lab (scripts/test.sh)"]
async fn a_round_measures_a_lab_host_and_its_engine() {
    let lab = common::lab();
    let scratch = tempfile::tempdir().expect("tempdir");
    let env = ResolveEnv::from_passwd().expect("passwd entry");
    let config = SshConfig::parse_file_with_env(&lab.plan.dir.join("ssh_config"), env.clone())
        .expect("config");
    let mut ctx = ConnectContext::new(
        config,
        env,
        KeyStore::new(Arc::new(NeverAsk)),
        scratch.path().join("own_known_hosts"),
    );
    ctx.agent_socket = None;
    let ctx = Arc::new(ctx);
    let host = lab
        .plan
        .hosts
        .iter()
        .find(|h| h.name == "client-alpha")
        .expect("client-alpha");
    let socket = lab.plan.engine_of(host).socket.display().to_string();
    let resolved = ctx.resolve(&InventorySsh {
        name: "client-alpha".to_owned(),
        ..InventorySsh::default()
    });
    let session = Session::connect(&ctx, &resolved, None)
        .await
        .expect("connecting to client-alpha");

    let mut memo = RoundMemo::default();
    let policy = PosturePolicy::default();
    let Probed::Measured(first) = probe::host_round(&session, &socket, &policy, &mut memo).await
    else {
        panic!("the link was lost");
    };
    let resources = &first.resources;
    assert_eq!(resources.error, None, "{resources:?}");
    assert!(!resources.filesystems.is_empty(), "{resources:?}");
    assert!(resources.memory.is_some() && resources.load.is_some());
    let docker = resources
        .docker_disk
        .as_ref()
        .expect("the engine's disk use");
    assert!(docker.images_bytes > 0, "{docker:?}");
    // Logged in as root: sshd's settings are read, never "cannot be read".
    assert_eq!(first.posture_error, None);
    assert!(
        !first.posture.iter().any(|f| f.check == "sshd"),
        "{:?}",
        first.posture
    );

    // The second round sends apt's key back and keeps the counts it had.
    let remembered = memo.updates.clone();
    let Probed::Measured(second) = probe::host_round(&session, &socket, &policy, &mut memo).await
    else {
        panic!("the link was lost");
    };
    if remembered.is_some() {
        assert_eq!(memo.updates, remembered);
        assert_eq!(second.resources.updates, first.resources.updates);
    }
    assert_eq!(second.resources.docker_disk, first.resources.docker_disk);
}
