//! The scheduled-start methods of `Engine`: "start deployment X at 02:00", checked by the core when
//! it is scheduled and again when it falls due (`runDueStarts`, which an embedding service calls on
//! its own timer). Schedules are records (`ScheduledStart`, camelCase keys); the arguments become
//! the core's `ScheduleRequest` here and nothing else.

use loco_core::schedule::ScheduleRequest;
use napi::bindgen_prelude::{Env, PromiseRaw, Unknown};
use napi_derive::napi;

use crate::args::Args;
use crate::engine::{Engine, read_id};
use crate::policy::instant;
use crate::promise::settle_record;

/// The properties of `Engine.scheduleStart`'s options (`ScheduleOptions` in `dts-api.d.ts`).
const SCHEDULE_OPTIONS_FIELDS: [&str; 3] = ["rollout", "overrideReason", "by"];

/// `Engine.scheduleStart`'s options as read: absent properties are the core's defaults.
#[derive(Debug, Default)]
struct ScheduleOptions {
    rollout: bool,
    override_reason: Option<String>,
    by: Option<String>,
}

#[napi]
impl Engine {
    /// Schedules the start of deployment `id` at `at` (RFC 3339) as `actor`, on behalf of
    /// `options.by` (the actor when absent): with `options.rollout`, a rollout with the plan its
    /// stage sets in its manifest, otherwise the plain `start`. Resolves with the pending schedule,
    /// which replaces any earlier one of the deployment. Rejects with a `validation_error` on `at`
    /// for a time that is past, more than 90 days ahead or not RFC 3339 (on `plan` for a rollout
    /// without a manifest plan), `not_found` for an unknown deployment, `invalid_transition` for
    /// one that can no longer start, and `policy_violation` when a freeze window of its environment
    /// is in force at `at`, unless `options.overrideReason` says why it must go ahead.
    #[napi(
        ts_args_type = "id: string, at: string, actor: string, options?: ScheduleOptions | null",
        ts_return_type = "Promise<ScheduledStart>"
    )]
    pub fn schedule_start<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
        at: Unknown,
        actor: Unknown,
        options: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (
            args.required(id, "id"),
            args.required(at, "at"),
            args.text(actor, "actor"),
            read_options(&mut args, options),
        );
        let input = args.finish(input).and_then(|(id, at, actor, options)| {
            let by = options.by.unwrap_or_else(|| actor.clone());
            let request = ScheduleRequest {
                at: instant(&at)?,
                actor,
                rollout: options.rollout,
                override_reason: options.override_reason,
            };
            Ok((id, request, by))
        });
        let engine = self.inner.clone();
        settle_record(env, async move {
            let (id, request, by) = input?;
            Ok(engine.schedule_start(&id, request, &by).await?)
        })
    }

    /// Every deployment's latest scheduled start (pending, or how it ended), soonest first.
    #[napi(ts_return_type = "Promise<Array<ScheduledStart>>")]
    pub fn scheduled_starts<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.inner.clone();
        settle_record(env, async move { Ok(engine.scheduled_starts().await?) })
    }

    /// Cancels the pending scheduled start of deployment `id`: resolves with it `cancelled`;
    /// rejects with `not_found` when it has none pending.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<ScheduledStart>")]
    pub fn cancel_scheduled_start<'env>(
        &self,
        env: &'env Env,
        id: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let id = read_id(id);
        let engine = self.inner.clone();
        settle_record(env, async move { Ok(engine.cancel_scheduled_start(&id?).await?) })
    }

    /// Starts every scheduled start due now, as its actor would (the gate, the deploy lock and the
    /// freeze windows in force now all apply), each once however many engines share the database.
    /// Resolves with them as they ended: `started`, or `refused` with `outcome` the error's code
    /// and message (`invalid_transition: …`). `loco serve` calls it every second; an embedding
    /// service calls it on a timer of its own.
    #[napi(ts_return_type = "Promise<Array<ScheduledStart>>")]
    pub fn run_due_starts<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.inner.clone();
        settle_record(env, async move { Ok(engine.run_due_starts().await?) })
    }
}

/// Reads `scheduleStart`'s optional options object; unknown properties are type errors.
fn read_options(args: &mut Args, value: Unknown) -> ScheduleOptions {
    let mut options = ScheduleOptions::default();
    let Some(object) = args.object(value, "options", &SCHEDULE_OPTIONS_FIELDS) else { return options };
    for name in SCHEDULE_OPTIONS_FIELDS {
        let Some(value) = args.property(&object, name) else { continue };
        match name {
            "rollout" => options.rollout = args.optional_bool(value, name).unwrap_or(false),
            "overrideReason" => options.override_reason = args.optional_text(value, name),
            _ => options.by = args.optional_text(value, name),
        }
    }
    options
}
