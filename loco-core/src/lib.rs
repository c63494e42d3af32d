//! # Loco core
//!
//! Loco is an embeddable deployment engine. This crate holds all of it: the deployment lifecycle
//! (request → review → start → success/failure → rollback) as a pure state machine, a durable
//! store with an append-only, hash-chained event history, and the [`Engine`] facade that the HTTP
//! server, the CLI and the Python and Node bindings all call.
//!
//! ## Modules
//! - [`lifecycle`]: statuses, actions, the transition table and every input rule (pure, no I/O).
//! - [`model`]: [`Deployment`], [`Event`], list queries and pages.
//! - [`store`]: the [`Store`] trait and [`SqliteStore`] (WAL, `synchronous=FULL`, group commit).
//! - [`audit`]: the SHA-256 event chain and its verifier.
//! - [`engine`]: [`Engine`], the facade.
//! - [`metrics`]: deployment metrics in Prometheus text format.
//! - [`platform`]: the [`Platform`] trait and the `local` (processes + weighted proxy) and
//!   `memory` (simulated) platforms.
//! - [`rollout`]: plans, strategies, the orchestrator and crash recovery.
//! - [`health`]: HTTP, TCP, command and SQLite probes with retries and backoff.
//! - [`analysis`]: metric windows, the statistical canary judge and rollback triggers.
//! - [`error`]: [`Error`], one variant per stable error code.
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
//! (`validation_error`, `not_found`, `invalid_transition`, `self_approval`,
//! `idempotency_conflict`, `payload_too_large`, `storage_error`) that every surface reports.

pub mod analysis;
pub mod audit;
pub mod engine;
pub mod error;
pub mod health;
pub mod lifecycle;
pub mod metrics;
pub mod model;
pub mod platform;
pub mod rollout;
pub mod store;

pub use audit::{AuditReport, BrokenLink};
pub use engine::{Engine, EngineBuilder, EventSubscription};
pub use error::{Error, FieldError, Result};
pub use lifecycle::{Action, ActionInput, Status};
pub use metrics::Metrics;
pub use model::{Deployment, Event, EventKind, ListQuery, NewDeployment, Page, Timestamp};
pub use platform::Platform;
pub use rollout::{Rollout, RolloutPlan, RolloutState};
pub use store::{Created, Durability, SqliteOptions, SqliteStore, Store};
