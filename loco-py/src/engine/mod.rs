//! The two doors into [`loco_core::Engine`]: `loco.Engine` (asyncio, [`asyncio`]) and
//! `loco.SyncEngine` (blocking, [`blocking`]). They share what is here — the engine handle and the
//! argument conversions — and differ only in how they wait. Neither holds a deployment rule:
//! arguments pass to the core as given (an omitted field is an empty value, so the core reports
//! it as a `validation_error` exactly as for a missing JSON field).

pub mod asyncio;
pub mod blocking;

use loco_core::{ActionInput, ListQuery, NewDeployment, Status};

use crate::process::ProcessBound;

/// An open engine and where it lives (for `repr`).
pub struct Handle {
    engine: ProcessBound<loco_core::Engine>,
    location: String,
}

impl Handle {
    /// Wraps an opened engine; `location` is its path, or `:memory:`.
    pub fn new(engine: loco_core::Engine, location: String) -> Self {
        Self { engine: ProcessBound::new(engine), location }
    }

    /// A clone of the engine to move into an operation (clones share one store).
    pub fn engine(&self) -> loco_core::Result<loco_core::Engine> {
        self.engine.get().cloned()
    }

    /// The database path, or `:memory:`.
    pub fn location(&self) -> &str {
        &self.location
    }
}

/// The location shown for an in-memory engine.
pub const IN_MEMORY: &str = ":memory:";

/// A create request from the keyword arguments of `create()`.
pub fn new_deployment(
    service: Option<String>,
    environment: Option<String>,
    version: Option<String>,
    requester: Option<String>,
    work_refs: Option<Vec<String>>,
    rollback_plan: Option<String>,
    risk: Option<String>,
) -> NewDeployment {
    NewDeployment {
        service: service.unwrap_or_default(),
        environment: environment.unwrap_or_default(),
        version: version.unwrap_or_default(),
        requester: requester.unwrap_or_default(),
        work_refs: work_refs.unwrap_or_default(),
        rollback_plan: rollback_plan.unwrap_or_default(),
        risk,
    }
}

/// A list query from the arguments of `list()`; the core parses and checks every value.
pub fn list_query(
    service: Option<String>,
    environment: Option<String>,
    status: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
) -> loco_core::Result<ListQuery> {
    Ok(ListQuery {
        service,
        environment,
        status: status.map(|s| Status::parse_field(&s, "status")).transpose()?,
        // Out-of-range values saturate so the core's range check reports them.
        limit: limit.map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX)),
        cursor,
    })
}

/// The input of a lifecycle action.
pub fn action_input(actor: String, note: Option<String>) -> ActionInput {
    ActionInput { actor, note }
}
