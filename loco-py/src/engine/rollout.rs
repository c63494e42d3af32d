//! The rollout operations of [`Handle`], shared by `loco.Engine` and `loco.SyncEngine`: validate
//! a plan, start (with a plan, or the one the deployment's manifest sets), wait for, inspect and
//! override rollouts, list releases and roll a target back to one, follow instance logs, set
//! analysis thresholds. Plans, thresholds and limits are checked by the core alone.

use loco_core::model::parse_limit;
use loco_core::rollout::{Release, ValidationReport};
use loco_core::{ActionInput, Rollout};

use super::{Handle, Operation};
use crate::document::{Document, ThresholdsByEnvironment};
use crate::platform::LogSource;

impl Handle {
    /// `validate_plan(plan)`: the core runs the plan's pre-deployment checks alone, records
    /// nothing and starts nothing; the result is the report, passed or not.
    pub fn validate_plan(&self, plan: Document) -> Operation<ValidationReport> {
        let engine = self.engine();
        Box::pin(async move { engine?.validate_plan(plan.into_plan()?).await })
    }

    /// `start_rollout(id, plan, actor, override_reason)`: the core validates the plan (without
    /// one, takes the plan the deployment's stage sets in its manifest) and starts executing it
    /// in the background (with `override_reason`, an admin's start in spite of a freeze window in
    /// force); the result is the rollout record as it stands right after the start.
    pub fn start_rollout(
        &self,
        id: String,
        plan: Option<Document>,
        actor: String,
        override_reason: Option<String>,
    ) -> Operation<Rollout> {
        let engine = self.engine();
        let input = ActionInput { override_reason, ..ActionInput::new(actor) };
        Box::pin(async move {
            let plan = plan.map(Document::into_plan).transpose()?;
            engine?.start_rollout_with(&id, plan, input).await
        })
    }

    /// `run_rollout(id, plan, actor)`: starts it and waits for the outcome.
    pub fn run_rollout(&self, id: String, plan: Document, actor: String) -> Operation<Rollout> {
        let engine = self.engine();
        Box::pin(async move { engine?.run_rollout(&id, plan.into_plan()?, &actor).await })
    }

    /// `wait_rollout(id)`: waits until the rollout is no longer active (a paused one still is).
    pub fn wait_rollout(&self, id: String) -> Operation<Rollout> {
        let engine = self.engine();
        Box::pin(async move { engine?.wait_rollout(&id).await })
    }

    /// `rollout(id)`.
    pub fn rollout(&self, id: String) -> Operation<Rollout> {
        let engine = self.engine();
        Box::pin(async move { engine?.rollout(&id).await })
    }

    /// `rollouts(active_only=...)`.
    pub fn rollouts(&self, active_only: bool) -> Operation<Vec<Rollout>> {
        let engine = self.engine();
        Box::pin(async move { engine?.rollouts(active_only).await })
    }

    /// `releases(service, environment, limit=...)`; the core reads `limit` as a page size and
    /// refuses one outside 1–500.
    pub fn releases(&self, service: String, environment: String, limit: i64) -> Operation<Vec<Release>> {
        let engine = self.engine();
        Box::pin(async move {
            let limit = parse_limit(&limit.to_string(), "limit")?;
            engine?.releases(&service, &environment, limit).await
        })
    }

    /// `override_rollout(id, actor, note)`: continues a paused rollout.
    pub fn override_rollout(&self, id: String, actor: String, note: String) -> Operation<Rollout> {
        let engine = self.engine();
        Box::pin(async move { engine?.override_rollout(&id, &actor, &note).await })
    }

    /// `rollback_to(service, environment, version, actor, note)`: rolls a target back to a
    /// retained release; the result is the rolled-back rollout of the release that served.
    pub fn rollback_to(
        &self,
        service: String,
        environment: String,
        version: String,
        actor: String,
        note: String,
    ) -> Operation<Rollout> {
        let engine = self.engine();
        Box::pin(async move { engine?.rollback_to(&service, &environment, &version, &actor, &note).await })
    }

    /// `set_thresholds(environment, thresholds)`; the core names the fields it refuses
    /// `thresholds.<environment>.<field>`.
    pub fn set_thresholds(&self, environment: &str, thresholds: Document) -> loco_core::Result<()> {
        let engine = self.engine()?;
        for (environment, thresholds) in ThresholdsByEnvironment::one(environment, thresholds).parse()? {
            engine.set_thresholds(&environment, thresholds)?;
        }
        Ok(())
    }

    /// `thresholds()`: the thresholds of every environment this engine has, saved or set.
    pub fn thresholds(&self) -> loco_core::Result<std::collections::BTreeMap<String, loco_core::analysis::Thresholds>> {
        Ok(self.engine()?.thresholds())
    }

    /// `save_thresholds(environment, thresholds)`: like `set_thresholds`, and stored, so every
    /// engine opened on this database later starts with them. The document is checked before
    /// anything is written.
    pub fn save_thresholds(&self, environment: &str, thresholds: Document) -> Operation<()> {
        let engine = self.engine();
        let parsed = ThresholdsByEnvironment::one(environment, thresholds).parse();
        Box::pin(async move {
            let engine = engine?;
            for (environment, thresholds) in parsed? {
                engine.save_thresholds(&environment, thresholds).await?;
            }
            Ok(())
        })
    }

    /// `logs(id, instance_id)`: the lookup happens on the first line asked for, so its errors
    /// (`not_found`, `platform_error`) are raised there.
    pub fn logs(&self, id: String, instance_id: String) -> loco_core::Result<LogSource> {
        Ok(LogSource::new(self.engine()?, id, instance_id))
    }
}
