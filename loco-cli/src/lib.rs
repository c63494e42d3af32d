//! # loco-cli
//!
//! The `loco` binary and the library behind it: the HTTP API server over
//! [`loco_core::Engine`] (`loco serve`), a typed HTTP [`client`], and the command line that drives
//! deployments against a server or directly on a database file.
//!
//! ## Modules
//! - [`server`]: the axum router (every `/api/v1` route, `/healthz`, `/metrics`,
//!   `/openapi.json`, SSE event streams), error mapping, request logs and graceful shutdown.
//! - [`wire`]: the JSON request and response shapes, shared by server, client and CLI.
//! - [`client`]: a reqwest client for the API.
//! - [`cli`]: clap definitions, commands, output and exit codes.
//!
//! The HTTP layer holds no lifecycle rules: it parses, calls the engine and renders. Every
//! error comes out as `{"error": {"code", "message", "details"}}` with the core's stable codes.

pub mod cli;
pub mod client;
pub mod server;
pub mod wire;
