//! The scheduled-start operations of [`Handle`], shared by `loco.Engine` and `loco.SyncEngine`:
//! schedule a deployment's start for a time, list and cancel schedules, and start those due. The
//! request is checked, and due starts are made, by the core alone.

use loco_core::schedule::{ScheduleRequest, ScheduledStart};

use super::{Handle, Operation, instant};

impl Handle {
    /// `schedule_start(id, at, actor, rollout=False, override_reason=None, by=None)`: `at` is
    /// RFC 3339; `by` is the actor when not given.
    pub fn schedule_start(
        &self,
        id: String,
        at: String,
        actor: String,
        rollout: bool,
        override_reason: Option<String>,
        by: Option<String>,
    ) -> Operation<ScheduledStart> {
        let engine = self.engine();
        Box::pin(async move {
            let by = by.unwrap_or_else(|| actor.clone());
            let request = ScheduleRequest { at: instant(&at)?, actor, rollout, override_reason };
            engine?.schedule_start(&id, request, &by).await
        })
    }

    /// `scheduled_starts()`.
    pub fn scheduled_starts(&self) -> Operation<Vec<ScheduledStart>> {
        let engine = self.engine();
        Box::pin(async move { engine?.scheduled_starts().await })
    }

    /// `cancel_scheduled_start(id)`; `not_found` when the deployment has no pending schedule.
    pub fn cancel_scheduled_start(&self, id: String) -> Operation<ScheduledStart> {
        let engine = self.engine();
        Box::pin(async move { engine?.cancel_scheduled_start(&id).await })
    }

    /// `run_due_starts()`: the schedules that fell due, as they ended.
    pub fn run_due_starts(&self) -> Operation<Vec<ScheduledStart>> {
        let engine = self.engine();
        Box::pin(async move { engine?.run_due_starts().await })
    }
}
