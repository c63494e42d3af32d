//! Where CLI commands run: against a server over HTTP, or directly on a database file through
//! `Engine`. Both return the API's JSON types, so output is identical either way.

use std::collections::BTreeMap;

use loco_core::analysis::Thresholds;
use loco_core::rollout::{RolloutPlan, ValidationReport};
use loco_core::{Action, Engine};
use serde_json::value::RawValue;

use crate::cli::exit::CliError;
use crate::client::Client;
use loco_core::Timestamp;
use loco_core::freeze::FreezeWindow;
use loco_core::gate::{ApprovalGate, ApprovalStatus, ReviewerGroup};
use loco_core::identity::Token;
use loco_core::lock::DeployLock;
use loco_core::manifest::ManifestRecord;
use loco_core::pipeline::{Pipeline, PipelineView};
use loco_core::platform_config::{NewPlatform, PlatformConfig};
use loco_core::schedule::{ScheduleRequest, ScheduledStart};
use loco_core::service::ServiceDefinition;

use crate::wire::{
    ActionRequest, AuditHead, AuditReport, CreateDeployment, CreateToken, CreatedToken, Deployment, DeploymentPage,
    Event, FreezeCheck, FreezeList, GateList, GroupList, ListParams, LockList, LockRelease, LogLine, ManifestList,
    PipelineList, PlatformList, PlatformTest, PromoteRequest, ReleaseList, ReleaseParams, RollbackTo, Rollout,
    RolloutList, ScheduleList, ServiceList, StartRollout, TokenList, ValidatePlan, WhoAmI,
};

/// The target of CLI commands.
#[derive(Debug)]
pub enum Backend {
    /// A running `loco serve`.
    Remote(Client),
    /// A database file opened in this process.
    Local(Engine),
}

impl Backend {
    /// Creates a deployment.
    pub async fn create(&self, body: CreateDeployment, key: Option<&str>) -> Result<Deployment, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.create(&body, key).await?),
            Backend::Local(engine) => Ok(engine.create(body, key).await?),
        }
    }

    /// Applies a lifecycle action.
    pub async fn act(&self, id: &str, action: Action, body: ActionRequest) -> Result<Deployment, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.act(id, action, &body).await?),
            Backend::Local(engine) => Ok(engine.apply(id, action, body).await?),
        }
    }

    /// One deployment.
    pub async fn get(&self, id: &str) -> Result<Deployment, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.get(id).await?),
            Backend::Local(engine) => Ok(engine.get(id).await?),
        }
    }

    /// One page of deployments.
    pub async fn list(&self, params: ListParams) -> Result<DeploymentPage, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.list(&params).await?),
            Backend::Local(engine) => Ok(engine.list(&params.into_query()?).await?),
        }
    }

    /// Every event of one deployment, oldest first.
    pub async fn events(&self, id: &str) -> Result<Vec<Event>, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.events(id).await?.items),
            Backend::Local(engine) => Ok(engine.events(id).await?),
        }
    }

    /// Prints `id`'s events as they are committed, starting after `after`, until the server
    /// ends the stream. Only a server sees every writer's events, so this needs `--server`.
    pub async fn follow(
        &self,
        id: &str,
        after: Option<i64>,
        mut each: impl FnMut(Event) -> Result<(), CliError>,
    ) -> Result<(), CliError> {
        match self {
            Backend::Remote(client) => {
                let mut stream = client.follow(Some(id), after).await?;
                while let Some(event) = stream.next().await {
                    each(event?)?;
                }
                Ok(())
            }
            Backend::Local(_) => Err(CliError::Usage(
                "--follow needs --server: a database file opened here only sees this process's own writes".to_owned(),
            )),
        }
    }

    /// Verifies the audit chain.
    pub async fn verify_audit(&self) -> Result<AuditReport, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.verify_audit().await?),
            Backend::Local(engine) => Ok(engine.verify_audit().await?),
        }
    }

    /// Verifies the audit chain and that it still contains `head` (its HMAC is checked with the
    /// `LOCO_AUDIT_KEY` of whoever verifies: the server, or this process for a database file).
    pub async fn verify_audit_against(&self, head: &AuditHead) -> Result<AuditReport, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.verify_audit_against(head).await?),
            Backend::Local(engine) => Ok(engine.verify_audit_against(head).await?),
        }
    }

    /// The head of the verified audit chain, signed with the `LOCO_AUDIT_KEY` of the server (or of
    /// this process, for a database file).
    pub async fn audit_head(&self) -> Result<AuditHead, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.audit_head().await?),
            Backend::Local(engine) => Ok(engine.audit_head().await?),
        }
    }

    /// Runs a plan's pre-deployment checks: on the server's machine with --server, here with --db.
    pub async fn validate_plan(&self, plan_json: &str) -> Result<ValidationReport, CliError> {
        let plan = RawValue::from_string(plan_json.trim().to_owned())
            .map_err(|e| loco_core::Error::invalid("plan", format!("is not valid JSON: {e}")))?;
        match self {
            Backend::Remote(client) => Ok(client.validate_plan(&ValidatePlan { plan: Some(plan) }).await?),
            Backend::Local(engine) => Ok(engine.validate_plan(RolloutPlan::from_json(plan.get())?).await?),
        }
    }

    /// Starts rolling out `id` with the plan in `plan_json` (the text of a plan file), or without
    /// one, with the plan its stage sets in the manifest it was created under. On a server the
    /// rollout runs there; on a database file it runs in this process, in the background, until
    /// the engine closes.
    pub async fn start_rollout(
        &self,
        id: &str,
        actor: Option<String>,
        override_reason: Option<String>,
        plan_json: Option<&str>,
    ) -> Result<Rollout, CliError> {
        // Text that is not JSON cannot travel inside a request body; like a malformed body over
        // HTTP, it is reported here, naming `plan`. Everything else is the core's to judge.
        let plan = plan_json
            .map(|text| {
                RawValue::from_string(text.trim().to_owned())
                    .map_err(|e| loco_core::Error::invalid("plan", format!("is not valid JSON: {e}")))
            })
            .transpose()?;
        match self {
            Backend::Remote(client) => {
                Ok(client.start_rollout(id, &StartRollout { actor, override_reason, plan }).await?)
            }
            Backend::Local(engine) => {
                let plan = plan.map(|plan| RolloutPlan::from_json(plan.get())).transpose()?;
                let input = ActionRequest { override_reason, ..ActionRequest::new(actor.unwrap_or_default()) };
                Ok(engine.start_rollout_with(id, plan, input).await?)
            }
        }
    }

    /// The rollout of one deployment.
    pub async fn rollout(&self, id: &str) -> Result<Rollout, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.rollout(id).await?),
            Backend::Local(engine) => Ok(engine.rollout(id).await?),
        }
    }

    /// Calls `each` with the rollout now and after every change, until it is no longer active
    /// (succeeded, rolled back or failed to roll back), and returns it as it ended.
    pub async fn watch(
        &self,
        id: &str,
        mut each: impl FnMut(&Rollout) -> Result<(), CliError>,
    ) -> Result<Rollout, CliError> {
        match self {
            Backend::Remote(client) => {
                // Subscribed before the first read, so no change in between is missed.
                let mut events = client.follow(Some(id), None).await?;
                loop {
                    let rollout = client.rollout(id).await?;
                    each(&rollout)?;
                    if !rollout.state.is_active() {
                        return Ok(rollout);
                    }
                    match events.next().await {
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(e.into()),
                        None => {
                            return Err(CliError::Unreachable(format!(
                                "the server ended the event stream while the rollout of '{id}' was {}; a server that \
                                 shuts down suspends its rollouts and recovers them when it starts again",
                                rollout.state
                            )));
                        }
                    }
                }
            }
            Backend::Local(engine) => {
                // The core's watch sees this process's writes at once and another process's by
                // re-reading the database.
                let mut watch = engine.watch_rollout(id).await?;
                let mut last = None;
                while let Some(rollout) = watch.next().await {
                    let rollout = rollout?;
                    each(&rollout)?;
                    last = Some(rollout);
                }
                last.ok_or_else(|| CliError::Internal(format!("the watch of '{id}' ended without a state")))
            }
        }
    }

    /// Continues a paused rollout. Only the process running a rollout can continue it, so on a
    /// database file (where the rollout runs in the `rollout start` process) this needs a server.
    pub async fn override_rollout(&self, id: &str, body: ActionRequest) -> Result<Rollout, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.override_rollout(id, &body).await?),
            Backend::Local(_) => Err(CliError::Usage(
                "rollout override needs --server: a paused rollout is continued by the process running it, and \
                 with --db that is the `loco rollout start` process"
                    .to_owned(),
            )),
        }
    }

    /// Every rollout, or only the active ones.
    pub async fn rollouts(&self, active_only: bool) -> Result<RolloutList, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.rollouts(active_only).await?),
            Backend::Local(engine) => Ok(RolloutList { items: engine.rollouts(active_only).await? }),
        }
    }

    /// The releases of a service+environment, newest first.
    pub async fn releases(&self, params: ReleaseParams) -> Result<ReleaseList, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.releases(&params).await?),
            Backend::Local(engine) => {
                let (service, environment, limit) = params.parts()?;
                let releases = engine.releases(service, environment, limit).await?;
                Ok(ReleaseList { items: releases })
            }
        }
    }

    /// The thresholds of every environment that has its own.
    pub async fn thresholds(&self) -> Result<BTreeMap<String, Thresholds>, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.thresholds().await?),
            Backend::Local(engine) => Ok(engine.thresholds()),
        }
    }

    /// Sets and saves one environment's thresholds.
    pub async fn put_thresholds(&self, environment: &str, thresholds: Thresholds) -> Result<Thresholds, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.put_thresholds(environment, &thresholds).await?),
            Backend::Local(engine) => {
                engine.save_thresholds(environment, thresholds.clone()).await?;
                Ok(thresholds)
            }
        }
    }

    /// Rolls a service and environment back to a retained release.
    pub async fn rollback_to(&self, body: RollbackTo) -> Result<Rollout, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.rollback_to(&body).await?),
            Backend::Local(engine) => {
                let note = body.note.unwrap_or_default();
                Ok(engine.rollback_to(&body.service, &body.environment, &body.version, &body.actor, &note).await?)
            }
        }
    }

    /// Calls `each` with every output line of an instance until it stops. Instance output is
    /// held by the process running the instance, so this needs a server.
    pub async fn logs(
        &self,
        id: &str,
        instance_id: &str,
        mut each: impl FnMut(LogLine) -> Result<(), CliError>,
    ) -> Result<(), CliError> {
        match self {
            Backend::Remote(client) => {
                let mut lines = client.logs(id, instance_id).await?;
                while let Some(line) = lines.next().await {
                    each(line?)?;
                }
                Ok(())
            }
            Backend::Local(_) => Err(CliError::Usage(
                "logs needs --server: instance output is held by the process running the instance".to_owned(),
            )),
        }
    }

    /// Creates an API token (on a database file, created by `cli`).
    pub async fn create_token(&self, body: CreateToken) -> Result<CreatedToken, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.create_token(&body).await?),
            Backend::Local(engine) => {
                let (token, secret) = engine.create_token(body.into_new()?, "cli").await?;
                Ok(CreatedToken { token, secret })
            }
        }
    }

    /// Every API token, newest first.
    pub async fn tokens(&self) -> Result<TokenList, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.tokens().await?),
            Backend::Local(engine) => Ok(TokenList { items: engine.tokens().await? }),
        }
    }

    /// Revokes an API token.
    pub async fn revoke_token(&self, id: &str) -> Result<Token, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.revoke_token(id).await?),
            Backend::Local(engine) => Ok(engine.revoke_token(id).await?),
        }
    }

    /// Every registered service.
    pub async fn services(&self) -> Result<ServiceList, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.services().await?),
            Backend::Local(engine) => Ok(ServiceList { items: engine.services().await? }),
        }
    }

    /// Registers (or replaces) a service.
    pub async fn put_service(&self, definition: ServiceDefinition) -> Result<ServiceDefinition, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.put_service(&definition).await?),
            Backend::Local(engine) => Ok(engine.register_service(definition, "cli").await?),
        }
    }

    /// Every deploy lock held.
    pub async fn locks(&self) -> Result<LockList, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.locks().await?),
            Backend::Local(engine) => Ok(LockList { items: engine.locks().await? }),
        }
    }

    /// Forces a deploy lock free, recording the reason.
    pub async fn release_lock(
        &self,
        service: &str,
        environment: &str,
        body: LockRelease,
    ) -> Result<DeployLock, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.release_lock(service, environment, &body).await?),
            Backend::Local(engine) => Ok(engine.release_lock(service, environment, &body.actor, &body.reason).await?),
        }
    }

    /// Every freeze window.
    pub async fn freeze_windows(&self) -> Result<FreezeList, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.freeze_windows().await?),
            Backend::Local(engine) => Ok(FreezeList { items: engine.freeze_windows().await? }),
        }
    }

    /// Sets (or replaces) a freeze window.
    pub async fn set_freeze_window(&self, window: FreezeWindow) -> Result<FreezeWindow, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.put_freeze_window(&window).await?),
            Backend::Local(engine) => Ok(engine.set_freeze_window(window, "cli").await?),
        }
    }

    /// Removes a freeze window.
    pub async fn remove_freeze_window(&self, name: &str) -> Result<(), CliError> {
        match self {
            Backend::Remote(client) => Ok(client.remove_freeze_window(name).await?),
            Backend::Local(engine) => Ok(engine.remove_freeze_window(name).await?),
        }
    }

    /// The freeze in force for `environment` at `at` (now when `None`).
    pub async fn active_freeze(&self, environment: &str, at: Option<Timestamp>) -> Result<FreezeCheck, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.active_freeze(environment, at).await?),
            Backend::Local(engine) => {
                let at = at.unwrap_or_else(Timestamp::now);
                let active = engine.active_freeze(environment, Some(at)).await?;
                Ok(FreezeCheck { environment: environment.to_owned(), at: at.to_string(), active })
            }
        }
    }

    /// Every approval gate.
    pub async fn gates(&self) -> Result<GateList, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.gates().await?),
            Backend::Local(engine) => Ok(GateList { items: engine.gates().await? }),
        }
    }

    /// Sets (or replaces) the approval gate of its environment.
    pub async fn set_gate(&self, gate: ApprovalGate) -> Result<ApprovalGate, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.put_gate(&gate).await?),
            Backend::Local(engine) => Ok(engine.set_gate(gate, "cli").await?),
        }
    }

    /// Removes the approval gate of an environment, or a service's own gate there.
    pub async fn remove_gate(&self, environment: &str, service: Option<&str>) -> Result<(), CliError> {
        match self {
            Backend::Remote(client) => Ok(client.remove_gate(environment, service).await?),
            Backend::Local(engine) => Ok(engine.remove_gate(environment, service).await?),
        }
    }

    /// Every deployment's latest scheduled start.
    pub async fn schedules(&self) -> Result<ScheduleList, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.schedules().await?),
            Backend::Local(engine) => Ok(ScheduleList { items: engine.scheduled_starts().await? }),
        }
    }

    /// Schedules a deployment's start (on a database file, scheduled by its actor).
    pub async fn schedule_start(&self, id: &str, request: ScheduleRequest) -> Result<ScheduledStart, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.put_schedule(id, &request).await?),
            Backend::Local(engine) => {
                let by = request.actor.clone();
                Ok(engine.schedule_start(id, request, &by).await?)
            }
        }
    }

    /// Cancels a deployment's pending scheduled start.
    pub async fn cancel_scheduled_start(&self, id: &str) -> Result<ScheduledStart, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.cancel_schedule(id).await?),
            Backend::Local(engine) => Ok(engine.cancel_scheduled_start(id).await?),
        }
    }

    /// Every reviewer group.
    pub async fn groups(&self) -> Result<GroupList, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.groups().await?),
            Backend::Local(engine) => Ok(GroupList { items: engine.groups().await? }),
        }
    }

    /// Sets (or replaces) a reviewer group.
    pub async fn set_group(&self, group: ReviewerGroup) -> Result<ReviewerGroup, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.put_group(&group).await?),
            Backend::Local(engine) => Ok(engine.set_group(group, "cli").await?),
        }
    }

    /// Removes a reviewer group.
    pub async fn remove_group(&self, name: &str) -> Result<(), CliError> {
        match self {
            Backend::Remote(client) => Ok(client.remove_group(name).await?),
            Backend::Local(engine) => Ok(engine.remove_group(name).await?),
        }
    }

    /// Where a deployment stands with its environment's review at `at` (now when `None`).
    pub async fn approval_status(&self, id: &str, at: Option<Timestamp>) -> Result<ApprovalStatus, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.approval_status(id, at).await?),
            Backend::Local(engine) => Ok(engine.approval_status(id, at).await?),
        }
    }

    /// Every pipeline.
    pub async fn pipelines(&self) -> Result<PipelineList, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.pipelines().await?),
            Backend::Local(engine) => Ok(PipelineList { items: engine.pipelines().await? }),
        }
    }

    /// Sets (or replaces) the pipeline of its service.
    pub async fn set_pipeline(&self, pipeline: Pipeline) -> Result<Pipeline, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.put_pipeline(&pipeline).await?),
            Backend::Local(engine) => Ok(engine.set_pipeline(pipeline, "cli").await?),
        }
    }

    /// Removes the pipeline of a service.
    pub async fn remove_pipeline(&self, service: &str) -> Result<(), CliError> {
        match self {
            Backend::Remote(client) => Ok(client.remove_pipeline(service).await?),
            Backend::Local(engine) => Ok(engine.remove_pipeline(service).await?),
        }
    }

    /// Where a version of a service stands along its pipeline.
    pub async fn pipeline_view(&self, service: &str, version: &str) -> Result<PipelineView, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.pipeline_view(service, version).await?),
            Backend::Local(engine) => Ok(engine.pipeline_view(service, version).await?),
        }
    }

    /// Applies a manifest: the version in force, and whether this call stored it. A server is
    /// sent it at the path of the service it names (read here for the path alone; the server
    /// reads and checks it).
    pub async fn apply_manifest(&self, text: &str) -> Result<(ManifestRecord, bool), CliError> {
        match self {
            Backend::Remote(client) => {
                let service = loco_core::manifest::parse(text)?.service;
                Ok(client.put_manifest(&service, text).await?)
            }
            Backend::Local(engine) => Ok(engine.apply_manifest(text, "cli").await?),
        }
    }

    /// The newest manifest of every service.
    pub async fn manifests(&self) -> Result<ManifestList, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.manifests().await?),
            Backend::Local(engine) => Ok(ManifestList { items: engine.manifests().await? }),
        }
    }

    /// The plan a start of deployment `id` without one uses (its stage's, in its manifest).
    pub async fn manifest_plan(&self, id: &str) -> Result<RolloutPlan, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.manifest_plan(id).await?),
            Backend::Local(engine) => Ok(engine.manifest_plan(id).await?),
        }
    }

    /// One version of a service's manifest, or its newest.
    pub async fn manifest(&self, service: &str, version: Option<u32>) -> Result<ManifestRecord, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.manifest(service, version).await?),
            Backend::Local(engine) => Ok(engine.manifest(service, version).await?),
        }
    }

    /// Every version of a service's manifest, newest first.
    pub async fn manifest_history(&self, service: &str) -> Result<ManifestList, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.manifest_history(service).await?),
            Backend::Local(engine) => Ok(ManifestList { items: engine.manifest_history(service).await? }),
        }
    }

    /// Promotes a succeeded deployment to the next stage of its pipeline.
    pub async fn promote(&self, id: &str, body: PromoteRequest) -> Result<Deployment, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.promote(id, &body).await?),
            Backend::Local(engine) => Ok(engine.promote(id, &body.actor).await?),
        }
    }

    /// Removes a registered service.
    pub async fn remove_service(&self, name: &str) -> Result<(), CliError> {
        match self {
            Backend::Remote(client) => Ok(client.remove_service(name).await?),
            Backend::Local(engine) => Ok(engine.remove_service(name).await?),
        }
    }

    /// Every configured platform, tokens `***`.
    pub async fn platforms(&self) -> Result<PlatformList, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.platforms().await?),
            Backend::Local(engine) => Ok(PlatformList { items: engine.platform_configs().await? }),
        }
    }

    /// Configures (or replaces) a platform.
    pub async fn put_platform(&self, platform: NewPlatform) -> Result<PlatformConfig, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.put_platform(&platform).await?),
            Backend::Local(engine) => {
                Ok(engine.add_platform(&platform.name, platform.settings, &platform.token, "cli").await?)
            }
        }
    }

    /// Tests a configured platform's connection.
    pub async fn test_platform(&self, name: &str) -> Result<PlatformTest, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.test_platform(name).await?),
            Backend::Local(engine) => {
                engine.test_platform(name).await?;
                Ok(PlatformTest { name: name.to_owned(), ok: true })
            }
        }
    }

    /// Removes a configured platform.
    pub async fn remove_platform(&self, name: &str) -> Result<(), CliError> {
        match self {
            Backend::Remote(client) => Ok(client.remove_platform(name).await?),
            Backend::Local(engine) => Ok(engine.remove_platform(name).await?),
        }
    }

    /// Who the token acts as (on a database file: nobody in particular).
    pub async fn whoami(&self) -> Result<WhoAmI, CliError> {
        match self {
            Backend::Remote(client) => Ok(client.whoami().await?),
            Backend::Local(_) => Ok(WhoAmI { subject: None, grants: Vec::new(), token_id: None }),
        }
    }

    /// Releases the backend; for a local database this flushes and closes it.
    pub async fn close(self) -> Result<(), CliError> {
        match self {
            Backend::Remote(_) => Ok(()),
            Backend::Local(engine) => Ok(engine.close().await?),
        }
    }
}
