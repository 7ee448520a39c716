//! Following the fleet: one actor per selected host (or this machine's own engine
//! without an inventory), each reporting its host's events on one channel, and the
//! hosts' states those events apply to: what `watch` prints and `serve` exposes.

use tokio::sync::mpsc;

use super::Context;
use crate::fleet::actor::{self, HostActor};
use crate::fleet::model::{Expectations, HostEvent, HostState};

/// How many events may wait before an actor waits for them to be applied.
const EVENTS: usize = 1024;

/// The followed hosts: their states as of no event yet, and the events to apply to
/// them by index. Dropping it stops the actors.
pub struct Following {
    pub hosts: Vec<HostState>,
    pub events: mpsc::Receiver<(usize, HostEvent)>,
    _actors: Vec<HostActor>,
    _local: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Following {
    fn drop(&mut self) {
        if let Some(local) = &self._local {
            local.abort();
        }
    }
}

/// Starts following the selected hosts; without an inventory, this machine's own
/// engine as `localhost`. `Err` says why it cannot (its notices and the ssh_config's
/// errors are printed on stderr by [`Context::connect_contexts`]).
pub async fn start(ctx: &Context) -> Result<Following, Option<String>> {
    let targets = ctx.selected_targets().map_err(Some)?;
    let (tx, events) = mpsc::channel(EVENTS);
    let mut hosts = Vec::new();
    let mut actors = Vec::new();
    let mut local = None;
    match targets {
        None => {
            let socket = crate::docker::transport::default_local_socket();
            hosts.push(HostState::new(
                "localhost",
                Vec::new(),
                Expectations::default(),
            ));
            local = Some(actor::spawn_local(socket, 0, tx.clone()));
        }
        Some(targets) => {
            let Some(contexts) = ctx.connect_contexts(&targets) else {
                return Err(None);
            };
            // What a deploy would run, read from local files on a blocking thread,
            // before the first event so every host compares its apps from the start.
            let mut expected = crate::core::deploy::expected_fleet(targets.clone())
                .await
                .into_iter();
            for (index, target) in targets.iter().enumerate() {
                let mut host = target.host_state();
                host.set_expected_apps(expected.next());
                hosts.push(host);
                if let Some(connect) = contexts.for_target(&ctx.ssh, target) {
                    actors.push(actor::spawn(connect, target.clone(), index, tx.clone()));
                }
            }
        }
    }
    Ok(Following {
        hosts,
        events,
        _actors: actors,
        _local: local,
    })
}
