//! The policy methods of `Engine`: deploy locks (one started deployment per service and
//! environment; listed, and forced free by an admin with a reason), freeze windows, the times when
//! deployments to an environment may not start, and approval gates, the N-of-M review an
//! environment's deployments need before they may start, with the reviewer groups gates admit by
//! name. Windows, gates and groups are JSON documents with the same snake_case keys in every
//! language (`schedule.duration_minutes`, `required_approvals`), taken as an object or JSON text
//! and returned the same way; the core alone parses and checks them, naming fields as the document
//! does (`schedule.cron`, `approvers[1]`, `members[1]`).
//! What is in force at an instant (`activeFreeze`) and where a deployment stands with its review
//! (`approvalStatus`) are records like any other. Pipelines, the stages a service's versions go
//! through in order, are documents too (`require_previous_success`); a promotion returns the
//! deployment it creates and the pipeline view (`pipelineView`) is a record. An applied
//! `service.yaml` manifest sets a service's pipeline, gates and windows at once and is kept as a
//! versioned record whose `manifest` is the document as written (`apiVersion`, `stages`); the
//! rollout plan a deployment's stage sets in it (`manifestPlan`) is a document too.

use loco_core::freeze::FreezeWindow;
use loco_core::gate::{ApprovalGate, ReviewerGroup};
use loco_core::pipeline::Pipeline;
use loco_core::{Error as CoreError, Timestamp};
use napi::bindgen_prelude::{Env, PromiseRaw, Unknown};
use napi_derive::napi;

use crate::args::Args;
use crate::engine::{Engine, read_id};
use crate::error::Failure;
use crate::promise::{settle, settle_document, settle_record};

#[napi]
impl Engine {
    /// Every deploy lock held: the started deployment of each service and environment, who
    /// started it and since when, by service then environment. While one is held, `start` and
    /// `startRollout` of another deployment there reject with `policy_violation` (rule
    /// `deploy_lock`); it is given back when its deployment succeeds, fails or is rolled back.
    #[napi(ts_return_type = "Promise<Array<DeployLock>>")]
    pub fn locks<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.inner.clone();
        settle_record(env, async move { Ok(engine.locks().await?) })
    }

    /// Forces the deploy lock of `service` in `environment` free although its deployment is
    /// still started (say its runner died): `actor` and a non-blank `reason` are recorded as a
    /// `lock_released` event on that deployment. Resolves with the lock as it was held; rejects
    /// with `not_found` when none is held there.
    #[napi(
        ts_args_type = "service: string, environment: string, actor: string, reason: string",
        ts_return_type = "Promise<DeployLock>"
    )]
    pub fn release_lock<'env>(
        &self,
        env: &'env Env,
        service: Unknown,
        environment: Unknown,
        actor: Unknown,
        reason: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (
            args.text(service, "service"),
            args.text(environment, "environment"),
            args.text(actor, "actor"),
            args.text(reason, "reason"),
        );
        let input = args.finish(input);
        let engine = self.inner.clone();
        settle_record(env, async move {
            let (service, environment, actor, reason) = input?;
            Ok(engine.release_lock(&service, &environment, &actor, &reason).await?)
        })
    }

    /// Sets (or replaces, by name) a freeze window on behalf of `by`: while one of its occurrences
    /// is in force, `start` and `startRollout` of a deployment to one of its environments reject
    /// with `policy_violation` unless given an override reason. Resolves with the window as
    /// stored; a bad window is a `validation_error` naming each field the core refuses
    /// (`schedule.cron`, `schedule.time_zone`).
    #[napi(
        ts_args_type = "window: FreezeWindow | string, by: string",
        ts_return_type = "Promise<Required<FreezeWindow>>"
    )]
    pub fn set_freeze_window<'env>(
        &self,
        env: &'env Env,
        window: Unknown,
        by: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (args.document(*env, window, "window"), args.required(by, "by"));
        let input = args.finish(input);
        let engine = self.inner.clone();
        settle_document(env, async move {
            let (json, by) = input?;
            let window = FreezeWindow::from_json(&json).map_err(Failure::Document)?;
            engine.set_freeze_window(window, &by).await.map_err(Failure::Document)
        })
    }

    /// Every freeze window, by name.
    #[napi(ts_return_type = "Promise<Array<Required<FreezeWindow>>>")]
    pub fn freeze_windows<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.inner.clone();
        settle_document(env, async move { Ok(engine.freeze_windows().await?) })
    }

    /// Removes a freeze window (`not_found` when none has the name).
    #[napi(ts_args_type = "name: string", ts_return_type = "Promise<void>")]
    pub fn remove_freeze_window<'env>(&self, env: &'env Env, name: Unknown) -> napi::Result<PromiseRaw<'env, ()>> {
        let mut args = Args::new();
        let name = args.required(name, "name");
        let name = args.finish(name);
        let engine = self.inner.clone();
        settle(env, async move { Ok(engine.remove_freeze_window(&name?).await?) })
    }

    /// The freeze in force for `environment` at `at` (RFC 3339; now when absent): the window, its
    /// reason and the occurrence's `start` and `end` (of the window ending last when several
    /// are), or `null` when deployments there may start. Text that is not an RFC 3339 time is a
    /// `validation_error` on `at`.
    #[napi(ts_args_type = "environment: string, at?: string | null", ts_return_type = "Promise<ActiveFreeze | null>")]
    pub fn active_freeze<'env>(
        &self,
        env: &'env Env,
        environment: Unknown,
        at: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (args.text(environment, "environment"), args.optional_text(at, "at"));
        let input =
            args.finish(input).and_then(|(environment, at)| Ok((environment, at.as_deref().map(instant).transpose()?)));
        let engine = self.inner.clone();
        settle_record(env, async move {
            let (environment, at) = input?;
            Ok(engine.active_freeze(&environment, at).await?)
        })
    }

    /// Sets (or replaces, by environment) the approval gate of an environment on behalf of `by`:
    /// its deployments then need `required_approvals` distinct reviewers (only the named
    /// `approvers` and the members of its `groups`, when it names any) before they may start.
    /// Resolves with the gate as stored; a bad gate is a `validation_error` naming each field the
    /// core refuses (`required_approvals`, `approvers[1]`, `groups[0]` for a group that does not
    /// exist).
    #[napi(
        ts_args_type = "gate: ApprovalGate | string, by: string",
        ts_return_type = "Promise<Required<ApprovalGate>>"
    )]
    pub fn set_gate<'env>(
        &self,
        env: &'env Env,
        gate: Unknown,
        by: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (args.document(*env, gate, "gate"), args.required(by, "by"));
        let input = args.finish(input);
        let engine = self.inner.clone();
        settle_document(env, async move {
            let (json, by) = input?;
            let gate = ApprovalGate::from_json(&json).map_err(Failure::Document)?;
            engine.set_gate(gate, &by).await.map_err(Failure::Document)
        })
    }

    /// Every approval gate, by environment.
    #[napi(ts_return_type = "Promise<Array<Required<ApprovalGate>>>")]
    pub fn gates<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.inner.clone();
        settle_document(env, async move { Ok(engine.gates().await?) })
    }

    /// Removes the gate of `environment`, or `service`'s own gate there when given (`not_found`
    /// when there is none); its deployments then fall back to the environment's gate (from a
    /// service's own) or to the single review.
    #[napi(ts_args_type = "environment: string, service?: string | null", ts_return_type = "Promise<void>")]
    pub fn remove_gate<'env>(
        &self,
        env: &'env Env,
        environment: Unknown,
        service: Option<Unknown>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let mut args = Args::new();
        let environment = args.text(environment, "environment");
        let service = service.and_then(|s| args.optional_text(s, "service"));
        let input = args.finish((environment, service));
        let engine = self.inner.clone();
        settle(env, async move {
            let (environment, service) = input?;
            Ok(engine.remove_gate(&environment, service.as_deref()).await?)
        })
    }

    /// Sets (or replaces, by name) a reviewer group on behalf of `by`: a gate naming it in its
    /// `groups` admits its `members`, read when a review is recorded and when approvals are
    /// counted. Resolves with the group as stored; a bad group is a `validation_error` naming each
    /// field the core refuses (`name`, `members[1]`).
    #[napi(
        ts_args_type = "group: ReviewerGroup | string, by: string",
        ts_return_type = "Promise<Required<ReviewerGroup>>"
    )]
    pub fn set_group<'env>(
        &self,
        env: &'env Env,
        group: Unknown,
        by: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (args.document(*env, group, "group"), args.required(by, "by"));
        let input = args.finish(input);
        let engine = self.inner.clone();
        settle_document(env, async move {
            let (json, by) = input?;
            let group = ReviewerGroup::from_json(&json).map_err(Failure::Document)?;
            engine.set_group(group, &by).await.map_err(Failure::Document)
        })
    }

    /// Every reviewer group, by name.
    #[napi(ts_return_type = "Promise<Array<Required<ReviewerGroup>>>")]
    pub fn groups<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.inner.clone();
        settle_document(env, async move { Ok(engine.groups().await?) })
    }

    /// Removes reviewer group `name` (`not_found` when there is none); while a gate names it,
    /// rejects with a `validation_error` on `name`.
    #[napi(ts_args_type = "name: string", ts_return_type = "Promise<void>")]
    pub fn remove_group<'env>(&self, env: &'env Env, name: Unknown) -> napi::Result<PromiseRaw<'env, ()>> {
        let mut args = Args::new();
        let name = args.text(name, "name");
        let name = args.finish(name);
        let engine = self.inner.clone();
        settle(env, async move { Ok(engine.remove_group(&name?).await?) })
    }

    /// Where deployment `id` stands with its environment's review at `at` (RFC 3339; now when
    /// absent): the approvals required and those that count, whether it was rejected, and when it
    /// may start. Text that is not an RFC 3339 time is a `validation_error` on `at`.
    #[napi(ts_args_type = "id: string, at?: string | null", ts_return_type = "Promise<ApprovalStatus>")]
    pub fn approval_status<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        at: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (args.required(id, "id"), args.optional_text(at, "at"));
        let input = args.finish(input).and_then(|(id, at)| Ok((id, at.as_deref().map(instant).transpose()?)));
        let engine = self.inner.clone();
        settle_record(env, async move {
            let (id, at) = input?;
            Ok(engine.approval_status(&id, at).await?)
        })
    }

    /// Sets (or replaces, by service) the pipeline of a service on behalf of `by`: from then on a
    /// deployment of a version to one of its stages is created only once that version has
    /// succeeded in the stage before (unless `require_previous_success` is false); otherwise
    /// `create` rejects with `policy_violation`, rule `promotion_order`. Resolves with the
    /// pipeline as stored; a bad pipeline is a `validation_error` naming each field the core
    /// refuses (`service`, `stages`, `stages[2]`).
    #[napi(ts_args_type = "pipeline: Pipeline | string, by: string", ts_return_type = "Promise<Required<Pipeline>>")]
    pub fn set_pipeline<'env>(
        &self,
        env: &'env Env,
        pipeline: Unknown,
        by: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (args.document(*env, pipeline, "pipeline"), args.required(by, "by"));
        let input = args.finish(input);
        let engine = self.inner.clone();
        settle_document(env, async move {
            let (json, by) = input?;
            let pipeline = Pipeline::from_json(&json).map_err(Failure::Document)?;
            engine.set_pipeline(pipeline, &by).await.map_err(Failure::Document)
        })
    }

    /// Every pipeline, by service.
    #[napi(ts_return_type = "Promise<Array<Required<Pipeline>>>")]
    pub fn pipelines<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.inner.clone();
        settle_document(env, async move { Ok(engine.pipelines().await?) })
    }

    /// Removes the pipeline of `service` (`not_found` when it has none); its environments then
    /// take any version again.
    #[napi(ts_args_type = "service: string", ts_return_type = "Promise<void>")]
    pub fn remove_pipeline<'env>(&self, env: &'env Env, service: Unknown) -> napi::Result<PromiseRaw<'env, ()>> {
        let mut args = Args::new();
        let service = args.text(service, "service");
        let service = args.finish(service);
        let engine = self.inner.clone();
        settle(env, async move { Ok(engine.remove_pipeline(&service?).await?) })
    }

    /// Promotes deployment `id`, which succeeded in a stage of its service's pipeline: resolves
    /// with the deployment of the same version (commit, work references, rollback plan, risk)
    /// created in the next stage, requested by `actor`, with a `promoted` event naming `id`. It
    /// then goes through that stage's review like any other. A deployment that has not succeeded
    /// is a `policy_violation` (rule `promotion_order`); one in the last stage, outside the
    /// pipeline or of a service without one is a `validation_error`.
    #[napi(ts_args_type = "id: string, actor: string", ts_return_type = "Promise<Deployment>")]
    pub fn promote<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        actor: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (args.required(id, "id"), args.text(actor, "actor"));
        let input = args.finish(input);
        let engine = self.inner.clone();
        settle_record(env, async move {
            let (id, actor) = input?;
            Ok(engine.promote(&id, &actor).await?)
        })
    }

    /// Where `version` of `service` stands along its pipeline: the newest deployment of it in
    /// each stage and the stage it goes to next (`null` once it has succeeded in every stage).
    /// Rejects with `not_found` when the service has no pipeline.
    #[napi(ts_args_type = "service: string, version: string", ts_return_type = "Promise<PipelineView>")]
    pub fn pipeline_view<'env>(
        &self,
        env: &'env Env,
        service: Unknown,
        version: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (args.text(service, "service"), args.text(version, "version"));
        let input = args.finish(input);
        let engine = self.inner.clone();
        settle_record(env, async move {
            let (service, version) = input?;
            Ok(engine.pipeline_view(&service, &version).await?)
        })
    }

    /// Applies a `service.yaml` manifest (`text`, YAML or JSON) on behalf of `actor`: checks it as
    /// `parseManifest` does (a `validation_error` listing every problem with its `line` and
    /// `column`; nothing is written), then in one transaction sets the service's pipeline, its
    /// stages' approval gates and its freeze windows, removes the gates and windows its previous
    /// manifest set and this one does not, and stores it as the service's next version. Resolves
    /// with the record in force: the new version or, when `text` is exactly the newest version's
    /// text, that version unchanged (nothing is written). A blank `actor` is a `validation_error`
    /// on `by`.
    #[napi(ts_args_type = "text: string, actor: string", ts_return_type = "Promise<ManifestRecord>")]
    pub fn apply_manifest<'env>(
        &self,
        env: &'env Env,
        text: Unknown,
        actor: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (args.required(text, "text"), args.text(actor, "actor"));
        let input = args.finish(input);
        let engine = self.inner.clone();
        settle_record(env, async move {
            let (text, actor) = input?;
            // Problems keep the manifest's own paths (`stages[2].approval.required_approvals`).
            let (record, _) = engine.apply_manifest(&text, &actor).await.map_err(Failure::Document)?;
            Ok(record)
        })
    }

    /// The newest applied manifest of `service`, or its version `version` (a whole number from
    /// 1); rejects with `not_found` (with `service`) when there is none.
    #[napi(ts_args_type = "service: string, version?: number | null", ts_return_type = "Promise<ManifestRecord>")]
    pub fn manifest<'env>(
        &self,
        env: &'env Env,
        service: Unknown,
        version: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (args.text(service, "service"), args.optional_positive_u32(version, "version"));
        let input = args.finish(input);
        let engine = self.inner.clone();
        settle_record(env, async move {
            let (service, version) = input?;
            Ok(engine.manifest(&service, version).await?)
        })
    }

    /// Every applied version of the manifest of `service`, newest first; rejects with `not_found`
    /// (with `service`) when it has none.
    #[napi(ts_args_type = "service: string", ts_return_type = "Promise<Array<ManifestRecord>>")]
    pub fn manifest_history<'env>(
        &self,
        env: &'env Env,
        service: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let service = args.text(service, "service");
        let service = args.finish(service);
        let engine = self.inner.clone();
        settle_record(env, async move { Ok(engine.manifest_history(&service?).await?) })
    }

    /// The newest applied manifest of every service that has one, by service.
    #[napi(ts_return_type = "Promise<Array<ManifestRecord>>")]
    pub fn manifests<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.inner.clone();
        settle_record(env, async move { Ok(engine.manifests().await?) })
    }

    /// The rollout plan deployment `id` starts with when `startRollout` is given none: the plan
    /// its stage sets in the version of its service's manifest it was created under (whatever
    /// version is newest now), a document with every default filled in and an empty
    /// `release.version` (the deployment's version is used when it runs). Rejects with
    /// `not_found` for an unknown deployment and with a `validation_error` on `plan` when it was
    /// created without a manifest or its stage sets no rollout.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<Required<RolloutPlan>>")]
    pub fn manifest_plan<'env>(&self, env: &'env Env, id: Unknown) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let id = read_id(id);
        let engine = self.inner.clone();
        settle_document(env, async move { Ok(engine.manifest_plan(&id?).await?) })
    }
}

/// The instant `at` names; text that is not RFC 3339 is a `validation_error` on `at`.
pub(crate) fn instant(text: &str) -> Result<Timestamp, Failure> {
    Timestamp::parse(text).map_err(|_| {
        Failure::Core(CoreError::invalid(
            "at",
            format!("'{text}' is not an RFC 3339 time such as 2026-12-24T18:00:00+01:00"),
        ))
    })
}
