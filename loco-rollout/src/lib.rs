//! # Loco rollouts
//!
//! Running an approved deployment on a [`Platform`](loco_platform::Platform) with a strategy,
//! step by step, persisting progress after every step through the [`Store`](loco_store::Store),
//! judging a canary against its baseline, rolling back to the previous release when a step fails,
//! and recovering rollouts interrupted by a crash.
//!
//! - [`steps`]: each strategy as a list of steps (pure).
//! - [`analysis`]: the statistical canary judge and the per-sample critical watch (pure).
//! - [`orchestrator`]: executes steps, observes, rolls back, recovers.
//! - [`lease`]: which engine process owns a rollout, and whether it is still alive.
//! - [`observer`]: what the orchestrator reports for metrics.
//! - [`secrets`]: how it opens a release's sealed secrets right before a platform call.
//!
//! Plans and records are data of `loco-types`; this crate holds what acts on them.

pub mod analysis;
pub mod lease;
pub mod observer;
pub mod orchestrator;
pub mod secrets;
pub mod steps;

pub use observer::{RolloutLabels, RolloutObserver};
pub use orchestrator::{Orchestrator, RolloutHandle};
pub use secrets::SecretOpener;
