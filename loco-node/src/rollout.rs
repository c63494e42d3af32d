//! The rollout methods of `Engine`: validate a plan, start, wait for, inspect and override
//! rollouts, list releases and roll a target back to one, follow instance logs, set analysis
//! thresholds. Each
//! reads its arguments, awaits the core off the JavaScript thread and converts the result. Plans
//! and thresholds arrive as JSON documents with the same snake_case keys in every language
//! (`args.rs` turns a JavaScript object into that JSON); the core alone parses and checks them,
//! naming fields as the document does.

use loco_core::analysis::Thresholds;
use loco_core::lifecycle::validate_action;
use loco_core::model::DEFAULT_PAGE_LIMIT;
use loco_core::rollout::RolloutPlan;
use loco_core::{Action, ActionInput};
use napi::bindgen_prelude::{Env, PromiseRaw, Unknown};
use napi_derive::napi;

use crate::args::Args;
use crate::engine::{Engine, read_id};
use crate::error::{self, Failure};
use crate::platform::InstanceLogs;
use crate::promise::{settle, settle_document, settle_record};

/// The properties of `Engine.rollouts`' query (`RolloutQuery` in `dts-api.d.ts`).
const ROLLOUT_QUERY_FIELDS: [&str; 1] = ["activeOnly"];

#[napi]
impl Engine {
    /// Runs a plan's pre-deployment checks on their own, as `startRollout` runs them first;
    /// nothing is recorded and nothing starts. Resolves with the validation report, passed or not.
    #[napi(ts_args_type = "plan: RolloutPlan | string", ts_return_type = "Promise<ValidationReport>")]
    pub fn validate_plan<'env>(&self, env: &'env Env, plan: Unknown) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let plan = args.document(*env, plan, "plan");
        let plan = args.finish(plan);
        let engine = self.inner.clone();
        settle_record(env, async move { engine.validate_plan(parse_plan(&plan?)?).await.map_err(Failure::Document) })
    }

    /// Starts rolling out an approved deployment: the core validates the plan and runs its
    /// pre-deployment checks (a blocking finding rejects with `validation_failed`, its `report`
    /// attached, and the deployment stays `approved`), records `started` and the rollout
    /// atomically (`rollout_conflict` when the service+environment already has an active rollout)
    /// and executes the steps in the background. Resolves with the rollout record as it stands
    /// right after the start. While a freeze window is in force for the deployment's environment
    /// it rejects with `policy_violation` and nothing is recorded, unless `overrideReason` says
    /// why the start must go ahead: then a `policy_override` event records the reason and the
    /// window just before `started`. Without a plan (`null` or `undefined`), the plan the
    /// deployment's stage sets in the manifest it was created under is used (`manifestPlan`); a
    /// `validation_error` on `plan` when there is none.
    #[napi(
        ts_args_type = "id: string, plan: RolloutPlan | string | null, actor: string, overrideReason?: string | null",
        ts_return_type = "Promise<Rollout>"
    )]
    pub fn start_rollout<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        plan: Unknown,
        actor: Unknown,
        override_reason: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let (id, plan) = (args.required(id, "id"), args.optional_document(*env, plan, "plan"));
        let input = ActionInput {
            override_reason: args.optional_text(override_reason, "overrideReason"),
            ..ActionInput::new(args.text(actor, "actor"))
        };
        // The input's own problems are argument errors (`overrideReason`, as the caller wrote
        // it); the plan's keep the document's names.
        let input = args.finish((id, plan, input)).and_then(|(id, plan, input)| {
            validate_action(Action::Start, &input)?;
            Ok((id, plan, input))
        });
        let engine = self.inner.clone();
        settle_record(env, async move {
            let (id, plan, input) = input?;
            let plan = plan.as_deref().map(parse_plan).transpose()?;
            engine.start_rollout_with(&id, plan, input).await.map_err(Failure::Document)
        })
    }

    /// `startRollout`, then waits for the outcome: `succeeded`, `rolled_back`
    /// after a failed step, or `rollback_failed`.
    #[napi(ts_args_type = "id: string, plan: RolloutPlan | string, actor: string", ts_return_type = "Promise<Rollout>")]
    pub fn run_rollout<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        plan: Unknown,
        actor: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (args.required(id, "id"), args.document(*env, plan, "plan"), args.text(actor, "actor"));
        let input = args.finish(input);
        let engine = self.inner.clone();
        settle_record(env, async move {
            let (id, plan, actor) = input?;
            engine.run_rollout(&id, parse_plan(&plan)?, &actor).await.map_err(Failure::Document)
        })
    }

    /// Waits until the deployment's rollout is no longer active (a paused rollout still is) and
    /// resolves with it; for a rollout started earlier or by another call.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<Rollout>")]
    pub fn wait_rollout<'env>(&self, env: &'env Env, id: Unknown) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let id = read_id(id);
        let engine = self.inner.clone();
        settle_record(env, async move { Ok(engine.wait_rollout(&id?).await?) })
    }

    /// The rollout of one deployment; `not_found` when it has none.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<Rollout>")]
    pub fn rollout<'env>(&self, env: &'env Env, id: Unknown) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let id = read_id(id);
        let engine = self.inner.clone();
        settle_record(env, async move { Ok(engine.rollout(&id?).await?) })
    }

    /// Every rollout, or with `activeOnly` only those running, paused or rolling back.
    #[napi(ts_args_type = "query?: RolloutQuery | null", ts_return_type = "Promise<Array<Rollout>>")]
    pub fn rollouts<'env>(&self, env: &'env Env, query: Unknown) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let active_only = args
            .object(query, "query", &ROLLOUT_QUERY_FIELDS)
            .and_then(|query| args.property(&query, "activeOnly"))
            .and_then(|flag| args.optional_bool(flag, "activeOnly"));
        let active_only = args.finish(active_only.unwrap_or(false));
        let engine = self.inner.clone();
        settle_record(env, async move { Ok(engine.rollouts(active_only?).await?) })
    }

    /// The releases that served a service+environment, newest first (the first is current
    /// unless retired); `limit` is 1 to 500 (a `validation_error` otherwise), 50 when absent.
    #[napi(
        ts_args_type = "service: string, environment: string, limit?: number | null",
        ts_return_type = "Promise<Array<Release>>"
    )]
    pub fn releases<'env>(
        &self,
        env: &'env Env,
        service: Unknown,
        environment: Unknown,
        limit: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input =
            (args.text(service, "service"), args.text(environment, "environment"), args.optional_u32(limit, "limit"));
        let input = args.finish(input);
        let engine = self.inner.clone();
        settle_record(env, async move {
            let (service, environment, limit) = input?;
            Ok(engine.releases(&service, &environment, limit.unwrap_or(DEFAULT_PAGE_LIMIT)).await?)
        })
    }

    /// Continues a rollout paused by its analysis, on behalf of `actor`, who must say why;
    /// `rollout_not_paused` when it is not paused. To roll a paused rollout back, use `rollback`.
    #[napi(ts_args_type = "id: string, actor: string, note: string", ts_return_type = "Promise<Rollout>")]
    pub fn override_rollout<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        actor: Unknown,
        note: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (args.required(id, "id"), args.text(actor, "actor"), args.text(note, "note"));
        let input = args.finish(input);
        let engine = self.inner.clone();
        settle_record(env, async move {
            let (id, actor, note) = input?;
            engine.override_rollout(&id, &actor, &note).await.map_err(Failure::Document)
        })
    }

    /// Rolls `service` in `environment` back to its retained release `version`, on behalf of
    /// `actor`, who must say why (`note`): the deployment of the release serving now becomes
    /// `rolled_back` and `version` serves again once its instances (kept or started again) pass
    /// their health checks. Resolves with the rolled-back rollout of the release that served;
    /// `validation_error` on `version` for the serving release or one no longer retained,
    /// `rollout_conflict` while a rollout is active on the target.
    #[napi(
        ts_args_type = "service: string, environment: string, version: string, actor: string, note: string",
        ts_return_type = "Promise<Rollout>"
    )]
    pub fn rollback_to<'env>(
        &self,
        env: &'env Env,
        service: Unknown,
        environment: Unknown,
        version: Unknown,
        actor: Unknown,
        note: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (
            args.text(service, "service"),
            args.text(environment, "environment"),
            args.text(version, "version"),
            args.text(actor, "actor"),
            args.text(note, "note"),
        );
        let input = args.finish(input);
        let engine = self.inner.clone();
        settle_record(env, async move {
            let (service, environment, version, actor, note) = input?;
            Ok(engine.rollback_to(&service, &environment, &version, &actor, &note).await?)
        })
    }

    /// Follows the output of one instance of a deployment's rollout, as an async iterator
    /// (`for await (const line of engine.logs(id, instanceId))`): its recent lines, then new ones
    /// until it stops. Errors of the lookup (`not_found`, `platform_error`) reject the first
    /// `next()`.
    #[napi(ts_args_type = "id: string, instanceId: string")]
    pub fn logs(&self, env: Env, id: Unknown, instance_id: Unknown) -> napi::Result<InstanceLogs> {
        let mut args = Args::new();
        let input = (args.required(id, "id"), args.required(instance_id, "instanceId"));
        match args.finish(input) {
            Ok((id, instance_id)) => Ok(InstanceLogs::new(self.inner.clone(), id, instance_id)),
            Err(failure) => Err(error::to_js(env, &failure)),
        }
    }

    /// Sets the analysis thresholds of one environment (compared case-insensitively) for
    /// rollouts started from now on; a plan's `analysis.thresholds` still wins. Throws a
    /// `validation_error` naming the fields the core refuses (`thresholds.production.alpha`).
    #[napi(ts_args_type = "environment: string, thresholds: Thresholds | string")]
    pub fn set_thresholds(&self, env: Env, environment: Unknown, thresholds: Unknown) -> napi::Result<()> {
        let set = environment_thresholds(env, environment, thresholds).and_then(|(environment, thresholds)| {
            self.inner.set_thresholds(&environment, thresholds).map_err(Failure::Document)
        });
        set.map_err(|failure| error::to_js(env, &failure))
    }

    /// The analysis thresholds of every environment as this engine has them (saved in the database
    /// or set on it), every field filled in.
    #[napi(ts_return_type = "Promise<Record<string, Thresholds>>")]
    pub fn thresholds<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.inner.clone();
        settle_document(env, async move { Ok(engine.thresholds()) })
    }

    /// Sets the analysis thresholds of one environment like `setThresholds` and stores them, so
    /// engines opened on this database later start with them. The document is checked before
    /// anything is written: a `validation_error` rejects the Promise.
    #[napi(ts_args_type = "environment: string, thresholds: Thresholds | string", ts_return_type = "Promise<void>")]
    pub fn save_thresholds<'env>(
        &self,
        env: &'env Env,
        environment: Unknown,
        thresholds: Unknown,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let parsed = environment_thresholds(*env, environment, thresholds);
        let engine = self.inner.clone();
        settle(env, async move {
            let (environment, thresholds) = parsed?;
            Ok(engine.save_thresholds(&environment, thresholds).await?)
        })
    }
}

/// Reads `setThresholds`/`saveThresholds` arguments: the environment and its thresholds document,
/// checked by the core with fields named `thresholds.<environment>.<field>`.
fn environment_thresholds(
    env: Env,
    environment: Unknown,
    thresholds: Unknown,
) -> Result<(String, Thresholds), Failure> {
    let mut args = Args::new();
    let input = (args.required(environment, "environment"), args.document(env, thresholds, "thresholds"));
    let (environment, json) = args.finish(input)?;
    let thresholds = Thresholds::from_json(&json, &format!("thresholds.{environment}.")).map_err(Failure::Document)?;
    Ok((environment, thresholds))
}

/// Parses and validates a rollout plan (`RolloutPlan::from_json`, the one place plans are checked).
fn parse_plan(json: &str) -> Result<RolloutPlan, Failure> {
    RolloutPlan::from_json(json).map_err(Failure::Document)
}
