//! Carries out the canary wizard's operations with the rollout core
//! (`core::canary::run`), and asks the go / no-go over a channel.

use std::path::PathBuf;

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::{
    BoardUpdate, CANARY, CanaryOutput, DEFAULT_CANARY, DEFAULT_SOAK_SECONDS, DEFAULT_WAVE_SIZE,
    MAX_FAILURES, ROLLBACK_ALL, SOAK, WAVE_SIZE, parse_max_failures, parse_soak, resuming,
};
use crate::core::Core;
use crate::core::canary::{self, CanaryEvent, GoNoGo, Rollout, RolloutRequest, WaveSize};
use crate::core::deploy::{self as deploy_core, IdentityCache, Prepared, Request};
use crate::sanitize;
use crate::ssh::setup::SshOptions;
use crate::wizard::Runner;
use crate::wizard::deploy::{self as deploy_wizard, PlannedHost, PromptFactory, Selection};
use crate::wizard::engine::{Answers, OpRequest, ProgressSender};

/// The go / no-go asked over a channel: the front end shows the question with the
/// board and answers over the oneshot. A front end that went away is a no-go.
pub struct AskOverChannel {
    updates: mpsc::UnboundedSender<BoardUpdate>,
}

impl AskOverChannel {
    pub fn new(updates: mpsc::UnboundedSender<BoardUpdate>) -> AskOverChannel {
        AskOverChannel { updates }
    }
}

impl GoNoGo for AskOverChannel {
    fn decide<'a>(
        &'a self,
        _: &'a Rollout,
        wave: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>> {
        let (answer, asked) = oneshot::channel();
        let sent = self
            .updates
            .send(BoardUpdate::Gate { wave, answer })
            .is_ok();
        Box::pin(async move { sent && asked.await.unwrap_or(false) })
    }
}

/// Carries out the canary wizard's operations with the rollout core.
pub struct CanaryRunner {
    selection: Selection,
    /// The inventory's canonical path (the journal records it; `--resume` matches it).
    inventory_path: PathBuf,
    ssh: SshOptions,
    core: Core,
    prompt: PromptFactory,
    break_lock: bool,
    updates: mpsc::UnboundedSender<BoardUpdate>,
    unfinished: Option<Rollout>,
    /// Between the plan and the rollout.
    prepared: Option<Prepared>,
    rollout: Option<Rollout>,
}

impl CanaryRunner {
    /// `updates` receives the board and the go / no-go questions while it runs.
    pub fn new(
        selection: Selection,
        inventory_path: PathBuf,
        ssh: SshOptions,
        core: Core,
        prompt: PromptFactory,
        updates: mpsc::UnboundedSender<BoardUpdate>,
    ) -> CanaryRunner {
        let unfinished = canary::unfinished(&inventory_path).ok().flatten();
        CanaryRunner {
            selection,
            inventory_path,
            ssh,
            core,
            prompt,
            break_lock: false,
            updates,
            unfinished,
            prepared: None,
            rollout: None,
        }
    }

    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The unfinished rollout of this inventory, if any (offered for resuming).
    pub fn unfinished(&self) -> Option<&Rollout> {
        self.unfinished.as_ref()
    }

    /// The rollout's request from the answers.
    pub fn request(&self, answers: &Answers<CanaryOutput>) -> Result<RolloutRequest, String> {
        let deploy = self.selection.request(answers, false)?;
        let text = |id| answers.text(id).unwrap_or_default();
        Ok(RolloutRequest {
            inventory: self.inventory_path.clone(),
            limit: deploy.limit,
            apps: deploy.apps,
            extra_vars: deploy.extra_vars,
            canary: match text(CANARY).trim() {
                "" => DEFAULT_CANARY.to_owned(),
                pattern => pattern.to_owned(),
            },
            wave_size: WaveSize::parse(match text(WAVE_SIZE).trim() {
                "" => DEFAULT_WAVE_SIZE,
                size => size,
            })?,
            max_failures: match text(MAX_FAILURES).trim() {
                "" => 0,
                n => parse_max_failures(n)?,
            },
            soak_seconds: match text(SOAK).trim() {
                "" => DEFAULT_SOAK_SECONDS,
                s => parse_soak(s)?,
            },
            strict_soak: false,
            rollback_all: answers
                .chosen(ROLLBACK_ALL)
                .is_some_and(|c| c.iter().any(|v| v == "all")),
            reason: None,
        })
    }

    async fn plan(&mut self, answers: &Answers<CanaryOutput>) -> Result<CanaryOutput, Vec<String>> {
        self.prepared = None;
        self.rollout = None;
        let resumed = if resuming(answers) {
            Some(
                self.unfinished
                    .clone()
                    .ok_or_else(|| vec!["the unfinished rollout is gone".to_owned()])?,
            )
        } else {
            None
        };
        let request = match &resumed {
            Some(r) => r.request.clone(),
            None => self.request(answers).map_err(|e| vec![e])?,
        };
        let deploy_request = Request {
            limit: request.limit.clone(),
            apps: request.apps.clone(),
            extra_vars: request.extra_vars.clone(),
        };
        let prepared = {
            let mut identities = IdentityCache::new((self.prompt)());
            deploy_core::prepare(&self.selection.inventory, &deploy_request, &mut identities)?
        };
        let rollout = match resumed {
            Some(mut r) => {
                // The rollout's hosts must still be selected by its own request.
                let known: Vec<&str> = prepared
                    .hosts
                    .iter()
                    .map(|(t, _)| t.name.as_str())
                    .collect();
                if let Some(missing) = r.hosts.iter().find(|h| !known.contains(&h.name.as_str())) {
                    return Err(vec![sanitize::line(&format!(
                        "{} is part of rollout {} but no longer selected by the inventory",
                        missing.name, r.id
                    ))]);
                }
                r.error = None;
                r
            }
            None => canary::plan_rollout(&self.selection.inventory, request, &prepared)
                .map_err(|e| vec![e])?,
        };
        // Each host's plan, for the review: the connections close after it (the
        // rollout connects wave by wave), and the desired state goes back to the run.
        let planned = deploy_core::connect_and_plan(&self.ssh, prepared)
            .await
            .map_err(|e| vec![e])?;
        let hosts = planned.iter().map(PlannedHost::from_planned).collect();
        self.prepared = Some(Prepared {
            hosts: planned.into_iter().map(|p| (p.target, p.desired)).collect(),
        });
        self.rollout = Some(rollout.clone());
        Ok(CanaryOutput::Plan {
            rollout: Box::new(rollout),
            hosts,
        })
    }

    async fn rollout(&mut self, progress: ProgressSender) -> Result<CanaryOutput, Vec<String>> {
        let (Some(prepared), Some(mut rollout)) = (self.prepared.take(), self.rollout.take())
        else {
            return Err(vec!["nothing was planned: nothing was changed".to_owned()]);
        };
        rollout.save().map_err(|e| {
            vec![format!(
                "cannot write the rollout journal {}: {e}; nothing was changed",
                rollout.path().display()
            )]
        })?;
        let gate = AskOverChannel::new(self.updates.clone());
        let (tx, mut rx) = mpsc::unbounded_channel::<CanaryEvent>();
        let updates = self.updates.clone();
        let (core, ssh, break_lock) = (&self.core, &self.ssh, self.break_lock);
        let work = async {
            canary::run(core, ssh, &mut rollout, prepared, &gate, &tx, break_lock).await;
            drop(tx);
        };
        let forward = async {
            while let Some(event) = rx.recv().await {
                match event {
                    CanaryEvent::Step(step) => {
                        let event = deploy_wizard::progress_event(&step, OffsetDateTime::now_utc());
                        let _ = progress.send(event);
                    }
                    CanaryEvent::Board(r) => {
                        let _ = updates.send(BoardUpdate::Board(r));
                    }
                    CanaryEvent::Soak { wave, left } => {
                        let _ = updates.send(BoardUpdate::Soak { wave, left });
                    }
                }
            }
        };
        tokio::join!(work, forward);
        Ok(CanaryOutput::Finished(Box::new(rollout)))
    }
}

impl Runner<CanaryOutput> for CanaryRunner {
    fn run(
        &mut self,
        op: &OpRequest,
        answers: &Answers<CanaryOutput>,
        progress: ProgressSender,
    ) -> impl std::future::Future<Output = Result<CanaryOutput, Vec<String>>> {
        let op = op.op;
        async move {
            match op {
                "plan" => self.plan(answers).await,
                "rollout" => self.rollout(progress).await,
                other => Err(vec![format!(
                    "the canary wizard has no operation {other:?}"
                )]),
            }
        }
    }
}
