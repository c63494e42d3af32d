//! # Loco core
//!
//! Loco is an embeddable deployment engine. This crate holds all of it: the deployment lifecycle
//! (request → review → start → success/failure → rollback) as a pure state machine, a durable
//! store with an append-only, hash-chained event history, and the [`Engine`] facade that the HTTP
//! server, the CLI and the Python and Node bindings all call.
//!
//! ## Crates and modules
//! `loco-core` is the facade of five crates (see `docs/architecture.md`); everything is
//! re-exported here, so users depend on this crate alone.
//! - [`lifecycle`], [`model`], [`event_data`], [`plan`], [`audit`], [`error`], [`rules`],
//!   [`schema`] (from `loco-types`): the data model and the rules, no I/O.
//! - [`store`] (from `loco-store`): the [`Store`] trait, [`SqliteStore`] and the store
//!   conformance suite.
//! - [`platform`] and [`health`] (from `loco-platform`): the [`Platform`] trait, the `local`
//!   (processes + weighted proxy) and `memory` (simulated) platforms, health probes, metric
//!   sources.
//! - [`rollout`] and [`analysis`] (records from `loco-types`, the orchestrator and the judge from
//!   `loco-rollout`).
//! - [`Engine`], [`EngineBuilder`], [`EventSubscription`], [`RolloutWatch`], [`LogFollower`],
//!   [`Metrics`] and [`AuditKey`] (signs exported audit heads): the facade itself.
//!
//! ## Crate features
//! None; SQLite is bundled.
//!
//! ## Quick start
//!
//! ```
//! use loco_core::{Engine, NewDeployment, Status};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> loco_core::Result<()> {
//! let engine = Engine::open_in_memory().await?;
//! let d = engine
//!     .create(
//!         NewDeployment {
//!             service: "checkout".into(),
//!             environment: "staging".into(),
//!             version: "2.4.0".into(),
//!             requester: "alice@example.com".into(),
//!             work_refs: vec!["PAY-142".into()],
//!             rollback_plan: "redeploy 2.3.9".into(),
//!             risk: None,
//!             commit: None,
//!         },
//!         None,
//!     )
//!     .await?;
//! engine.approve(&d.id, "bob@example.com", Some("looks good")).await?;
//! engine.start(&d.id, "deploy-bot", None).await?;
//! let done = engine.succeed(&d.id, "deploy-bot", None).await?;
//! assert_eq!(done.status, Status::Succeeded);
//! assert_eq!(engine.events(&d.id).await?.len(), 4);
//! assert!(engine.verify_audit().await?.valid);
//! # Ok(())
//! # }
//! ```
//!
//! ## Errors
//! Every operation returns [`Result`]; [`Error::code`] gives the stable code
//! (`validation_error`, `not_found`, `invalid_transition`, `self_approval`, `policy_violation`,
//! …; [`ErrorCode::ALL`] lists them) that every surface reports.

mod access;
mod audit_key;
mod builder;
mod engine;
mod engine_policy;
mod engine_rollouts;
mod follow;
mod keys;
pub mod metrics;
mod platforms;
pub mod session;
mod subscription;
pub mod vault;

pub use loco_types::{
    audit, cursor, document, error, event_data, freeze, gate, identity, lifecycle, lock, manifest, model, pipeline,
    plan, platform_config, rules, schedule, schema, service,
};

/// Canary analysis: thresholds and verdicts, the statistical judge, and the metric sources.
pub mod analysis {
    pub use loco_platform::metrics::{MetricSource, RequestSample, SampleBuffer, prometheus};
    pub use loco_rollout::analysis::{CriticalWatch, judge, stats};
    pub use loco_types::analysis::*;
}

/// Platforms: the [`Platform`] trait and its adapters.
pub mod platform {
    pub use loco_platform::*;
}

/// Health probes of rollout instances.
pub mod health {
    pub use loco_platform::health::*;
}

/// Rollouts: plans, records, steps and the orchestrator.
pub mod rollout {
    pub use loco_rollout::{RolloutHandle, lease, observer, orchestrator, steps};
    pub use loco_types::plan::*;
    pub use loco_types::rollout::*;
}

/// Storage: the [`Store`] trait, the SQLite store and the conformance suite.
pub mod store {
    pub use loco_store::*;
}

pub use audit::{AuditHead, AuditReport, BrokenLink};
pub use audit_key::{AUDIT_KEY_ENV, AuditKey};
pub use builder::{EngineBuilder, is_postgres_url, shown_location};
pub use engine::{DEFAULT_MAX_CONCURRENT_ROLLOUTS, Engine};
pub use error::{Error, ErrorCode, FieldError, Result};
pub use follow::{LogFollower, RolloutWatch};
pub use lifecycle::{Action, ActionInput, Status};
pub use metrics::Metrics;
pub use model::{Deployment, Event, EventKind, ListQuery, NewDeployment, Page, Timestamp};
pub use platform::Platform;
pub use rollout::{Rollout, RolloutPlan, RolloutState};
pub use session::Session;
pub use store::context::{current_request_id, with_request_id};
pub use store::{Created, Durability, SqliteOptions, SqliteStore, Store};
pub use subscription::EventSubscription;
pub use vault::Vault;
