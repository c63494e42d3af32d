//! The policy half of [`Engine`]: deploy locks and freeze windows. A start takes the deploy lock
//! of its service and environment in the transaction that writes `started` (the store does it,
//! as [`loco_types::lock`] decides), so one deployment per target runs at a time; an admin may
//! force a stuck lock free with a reason. Freeze windows They are stored with the deployments, so every
//! engine on one database enforces the same ones; a start (plain or a rollout) during a window
//! in force for its environment is refused with `policy_violation`, unless the input carries an
//! admin's `override_reason`, which is then recorded as a `policy_override` event just before
//! `started`, in the same transaction. Rollbacks are never frozen: undoing a change stays
//! possible during a freeze.

use loco_store::NewEvent;
use loco_types::freeze::{self, ActiveFreeze, FreezeWindow};
use loco_types::lifecycle::{self, Action, ActionInput};
use loco_types::lock::{self, DeployLock};
use loco_types::model::Timestamp;
use loco_types::{Error, Result};

use crate::engine::Engine;

impl Engine {
    /// Every deploy lock held: which deployment of each service is started in each environment,
    /// who started it and since when.
    pub async fn locks(&self) -> Result<Vec<DeployLock>> {
        self.store.locks().await
    }

    /// Frees the deploy lock of `service` in `environment` although its holder is still
    /// `started` (say its runner died): `actor` (an admin, on HTTP) and a non-blank `reason` are
    /// recorded as a `lock_released` event on the holder. `not_found` when no lock is held.
    pub async fn release_lock(
        &self,
        service: &str,
        environment: &str,
        actor: &str,
        reason: &str,
    ) -> Result<DeployLock> {
        lock::validate_release(service, environment, actor, reason)?;
        let released = self.store.release_lock(service, environment, actor, reason).await?;
        tracing::warn!(service, environment, deployment_id = %released.deployment_id, actor, "deploy lock released by force");
        Ok(released)
    }

    /// Sets (or replaces, by name) a freeze window; `by` is who set it.
    pub async fn set_freeze_window(&self, window: FreezeWindow, by: &str) -> Result<FreezeWindow> {
        window.validate()?;
        if by.trim().is_empty() {
            return Err(Error::invalid("by", "must name who sets the window"));
        }
        let window = self.store.put_freeze_window(window, by).await?;
        tracing::info!(window = %window.name, by, "freeze window set");
        Ok(window)
    }

    /// Every freeze window, by name.
    pub async fn freeze_windows(&self) -> Result<Vec<FreezeWindow>> {
        self.store.freeze_windows().await
    }

    /// Removes a freeze window (`not_found` when there is none).
    pub async fn remove_freeze_window(&self, name: &str) -> Result<()> {
        self.store.remove_freeze_window(name).await?;
        tracing::info!(window = %name, "freeze window removed");
        Ok(())
    }

    /// The freeze in force for `environment` at `at` (now when `None`): the occurrence of the
    /// window that ends last, or `None` when deployments there may start.
    pub async fn active_freeze(&self, environment: &str, at: Option<Timestamp>) -> Result<Option<ActiveFreeze>> {
        if environment.trim().is_empty() {
            return Err(Error::invalid("environment", "is required"));
        }
        let windows = self.store.freeze_windows().await?;
        Ok(freeze::active_freeze(&windows, environment, at.unwrap_or_else(Timestamp::now)))
    }

    /// What a start of deployment `id` by `input` must write first under the windows in force
    /// now: nothing, or the override's record; `policy_violation` when a window is in force and
    /// `input` has no override reason. Without any window (the common case) it reads nothing
    /// more; otherwise the lifecycle rule is checked first, so an impossible start says so
    /// rather than naming a window.
    pub(crate) async fn start_gate(&self, id: &str, input: &ActionInput) -> Result<Vec<NewEvent>> {
        let windows = self.store.freeze_windows().await?;
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        let current = self.store.get(id).await?;
        lifecycle::transition(id, current.status, &current.requester, Action::Start, &input.actor)?;
        let environment = current.environment.as_str();
        let Some(active) = freeze::active_freeze(&windows, environment, Timestamp::now()) else {
            return Ok(Vec::new());
        };
        match input.override_reason.as_deref() {
            Some(reason) => {
                tracing::warn!(window = %active.window, environment, actor = %input.actor, "freeze window overridden");
                Ok(vec![freeze::override_event(&active, environment, &input.actor, reason)])
            }
            None => Err(freeze::violation(&active, environment)),
        }
    }
}
