//! Rollouts: running an approved deployment on a [`Platform`](crate::platform::Platform) with a
//! strategy, step by step, persisting progress after every step, rolling back to the previous
//! release when a step fails, and recovering rollouts interrupted by a crash.
//!
//! - [`plan`]: what to run and how ([`RolloutPlan`], [`Strategy`], health checks), validated.
//! - [`steps`]: each strategy as a list of [`Step`]s (pure).
//! - [`record`]: the persisted [`Rollout`] and the [`Release`] history.
//! - [`orchestrator`]: executes steps, rolls back, recovers.

pub mod orchestrator;
pub(crate) mod owner;
pub mod plan;
pub mod record;
pub mod steps;

pub use orchestrator::RolloutHandle;
pub use plan::{AnalysisSpec, HealthSpec, MetricSourceSpec, Probe, ReleaseSpec, RolloutPlan, Strategy};
pub use record::{Release, Rollout, RolloutFailure, RolloutProgress, RolloutState};
pub use steps::Step;
