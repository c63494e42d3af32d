//! The policy operations of [`Handle`], shared by `loco.Engine` and `loco.SyncEngine`: list the
//! deploy locks and force one free; set, list and remove freeze windows, and ask which one is in
//! force for an environment; set, list and remove approval gates and the reviewer groups they
//! admit, and ask where a deployment stands with its gate; set, list and remove pipelines, promote
//! a deployment along its pipeline and ask where a version stands on it; apply a service's
//! `service.yaml` manifest, read the versions applied and the rollout plan a deployment's stage
//! sets in its version. Windows, gates, pipelines and manifests are parsed, checked and evaluated
//! by the core alone; starts and creates they refuse are refused there too.

use loco_core::Deployment;
use loco_core::freeze::{ActiveFreeze, FreezeWindow};
use loco_core::gate::{ApprovalGate, ApprovalStatus, ReviewerGroup};
use loco_core::lock::DeployLock;
use loco_core::manifest::ManifestRecord;
use loco_core::pipeline::{Pipeline, PipelineView};
use loco_core::rollout::RolloutPlan;

use super::{Handle, Operation, instant};
use crate::document::Document;

impl Handle {
    /// `locks()`: every deploy lock held.
    pub fn locks(&self) -> Operation<Vec<DeployLock>> {
        let engine = self.engine();
        Box::pin(async move { engine?.locks().await })
    }

    /// `release_lock(service, environment, actor, reason)`: forces the lock free; the result is
    /// the lock as it was held.
    pub fn release_lock(
        &self,
        service: String,
        environment: String,
        actor: String,
        reason: String,
    ) -> Operation<DeployLock> {
        let engine = self.engine();
        Box::pin(async move { engine?.release_lock(&service, &environment, &actor, &reason).await })
    }

    /// `set_freeze_window(window, by)`: sets or replaces (by name) the window; the result is the
    /// window as stored.
    pub fn set_freeze_window(&self, window: Document, by: String) -> Operation<FreezeWindow> {
        let engine = self.engine();
        Box::pin(async move { engine?.set_freeze_window(window.into_freeze_window()?, &by).await })
    }

    /// `freeze_windows()`.
    pub fn freeze_windows(&self) -> Operation<Vec<FreezeWindow>> {
        let engine = self.engine();
        Box::pin(async move { engine?.freeze_windows().await })
    }

    /// `remove_freeze_window(name)`; `not_found` when no window has the name.
    pub fn remove_freeze_window(&self, name: String) -> Operation<()> {
        let engine = self.engine();
        Box::pin(async move { engine?.remove_freeze_window(&name).await })
    }

    /// `active_freeze(environment, at=None)`: the occurrence in force at `at` (RFC 3339; now
    /// without it), or `None`.
    pub fn active_freeze(&self, environment: String, at: Option<String>) -> Operation<Option<ActiveFreeze>> {
        let engine = self.engine();
        Box::pin(async move {
            let at = at.as_deref().map(instant).transpose()?;
            engine?.active_freeze(&environment, at).await
        })
    }

    /// `set_gate(gate, by)`: sets or replaces (by environment) the gate; the result is the gate
    /// as stored.
    pub fn set_gate(&self, gate: Document, by: String) -> Operation<ApprovalGate> {
        let engine = self.engine();
        Box::pin(async move { engine?.set_gate(gate.into_approval_gate()?, &by).await })
    }

    /// `gates()`.
    pub fn gates(&self) -> Operation<Vec<ApprovalGate>> {
        let engine = self.engine();
        Box::pin(async move { engine?.gates().await })
    }

    /// `remove_gate(environment, service=None)`; `not_found` when there is no such gate.
    pub fn remove_gate(&self, environment: String, service: Option<String>) -> Operation<()> {
        let engine = self.engine();
        Box::pin(async move { engine?.remove_gate(&environment, service.as_deref()).await })
    }

    /// `set_group(group, by)`: sets or replaces (by name) the reviewer group; the result is the
    /// group as stored.
    pub fn set_group(&self, group: Document, by: String) -> Operation<ReviewerGroup> {
        let engine = self.engine();
        Box::pin(async move { engine?.set_group(group.into_reviewer_group()?, &by).await })
    }

    /// `groups()`.
    pub fn groups(&self) -> Operation<Vec<ReviewerGroup>> {
        let engine = self.engine();
        Box::pin(async move { engine?.groups().await })
    }

    /// `remove_group(name)`; `not_found` when no group has the name, `validation_error` on
    /// `name` while a gate names it.
    pub fn remove_group(&self, name: String) -> Operation<()> {
        let engine = self.engine();
        Box::pin(async move { engine?.remove_group(&name).await })
    }

    /// `approval_status(id, at=None)`: where the deployment stands with its review at `at`
    /// (RFC 3339; now without it).
    pub fn approval_status(&self, id: String, at: Option<String>) -> Operation<ApprovalStatus> {
        let engine = self.engine();
        Box::pin(async move {
            let at = at.as_deref().map(instant).transpose()?;
            engine?.approval_status(&id, at).await
        })
    }

    /// `set_pipeline(pipeline, by)`: sets or replaces (by service) the pipeline; the result is
    /// the pipeline as stored.
    pub fn set_pipeline(&self, pipeline: Document, by: String) -> Operation<Pipeline> {
        let engine = self.engine();
        Box::pin(async move { engine?.set_pipeline(pipeline.into_pipeline()?, &by).await })
    }

    /// `pipelines()`.
    pub fn pipelines(&self) -> Operation<Vec<Pipeline>> {
        let engine = self.engine();
        Box::pin(async move { engine?.pipelines().await })
    }

    /// `remove_pipeline(service)`; `not_found` when the service has no pipeline.
    pub fn remove_pipeline(&self, service: String) -> Operation<()> {
        let engine = self.engine();
        Box::pin(async move { engine?.remove_pipeline(&service).await })
    }

    /// `promote(id, actor)`: the deployment of the same version in the next stage.
    pub fn promote(&self, id: String, actor: String) -> Operation<Deployment> {
        let engine = self.engine();
        Box::pin(async move { engine?.promote(&id, &actor).await })
    }

    /// `pipeline_view(service, version)`; `not_found` when the service has no pipeline.
    pub fn pipeline_view(&self, service: String, version: String) -> Operation<PipelineView> {
        let engine = self.engine();
        Box::pin(async move { engine?.pipeline_view(&service, &version).await })
    }

    /// `apply_manifest(text, actor)`: the record in force afterwards, a new version or, for the
    /// newest version's text, that version unchanged.
    pub fn apply_manifest(&self, text: String, actor: String) -> Operation<ManifestRecord> {
        let engine = self.engine();
        Box::pin(async move { Ok(engine?.apply_manifest(&text, &actor).await?.0) })
    }

    /// `manifest(service, version=None)`: the newest version, or that one; `not_found` when
    /// absent. A version no `u32` holds (a negative one) is refused as HTTP refuses it.
    pub fn manifest(&self, service: String, version: Option<i64>) -> Operation<ManifestRecord> {
        let engine = self.engine();
        Box::pin(async move {
            let version = version.map(manifest_version).transpose()?;
            engine?.manifest(&service, version).await
        })
    }

    /// `manifest_history(service)`: newest first; `not_found` when the service has none.
    pub fn manifest_history(&self, service: String) -> Operation<Vec<ManifestRecord>> {
        let engine = self.engine();
        Box::pin(async move { engine?.manifest_history(&service).await })
    }

    /// `manifests()`: the newest of every service that has one.
    pub fn manifests(&self) -> Operation<Vec<ManifestRecord>> {
        let engine = self.engine();
        Box::pin(async move { engine?.manifests().await })
    }

    /// `manifest_plan(id)`: the plan deployment `id` starts with when given none, the one its
    /// stage sets in the manifest version it was created under; `not_found` for an unknown
    /// deployment, `validation_error` on `plan` when there is no such plan.
    pub fn manifest_plan(&self, id: String) -> Operation<RolloutPlan> {
        let engine = self.engine();
        Box::pin(async move { engine?.manifest_plan(&id).await })
    }
}

/// The `version` argument as a manifest version; one below 0 or beyond `u32` is a validation
/// error naming `version`, with the message `GET /manifests/{service}/versions/{version}` gives.
fn manifest_version(version: i64) -> loco_core::Result<u32> {
    u32::try_from(version)
        .map_err(|_| loco_core::Error::invalid("version", format!("must be a whole number from 1; got '{version}'")))
}
