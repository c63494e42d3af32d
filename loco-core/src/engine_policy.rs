//! The policy half of [`Engine`]: freeze windows. They are stored with the deployments, so every
//! engine on one database enforces the same ones; a start (plain or a rollout) during a window
//! in force for its environment is refused with `policy_violation`, unless the input carries an
//! admin's `override_reason`, which is then recorded as a `policy_override` event just before
//! `started`, in the same transaction. Rollbacks are never frozen: undoing a change stays
//! possible during a freeze.

use loco_store::NewEvent;
use loco_types::freeze::{self, ActiveFreeze, FreezeWindow};
use loco_types::lifecycle::{self, Action, ActionInput};
use loco_types::model::Timestamp;
use loco_types::{Error, Result};

use crate::engine::Engine;

impl Engine {
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
