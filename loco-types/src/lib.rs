//! # Loco types
//!
//! The data model and the rules of Loco, with no I/O: what a deployment, an event, a rollout plan
//! and a rollout record are; the lifecycle's transition table and input rules; the decisions every
//! store applies inside its transactions ([`rules`]); the audit chain's hashing; the error enum
//! with its stable codes; and the JSON Schema every other surface's types are generated from
//! ([`schema`]).
//!
//! This crate depends on no runtime, database or network crate; the layers above it (storage,
//! platforms, rollouts, the engine facade) do. Most users depend on `loco-core`, which re-exports
//! everything here.
//!
//! ```
//! use loco_types::lifecycle::{next_status, Action, Status};
//! assert_eq!(next_status(Status::Approved, Action::Start), Some(Status::Started));
//! ```

pub mod analysis;
pub mod audit;
pub mod cursor;
pub mod document;
pub mod error;
pub mod event_data;
pub mod freeze;
pub mod gate;
pub mod identity;
pub mod lifecycle;
pub mod lock;
pub mod manifest;
pub mod model;
pub mod pipeline;
pub mod plan;
pub mod platform;
pub mod platform_config;
pub mod rollout;
pub mod rules;
pub mod schedule;
pub mod schema;
pub mod service;

pub use error::{Error, ErrorCode, FieldError, Result};
