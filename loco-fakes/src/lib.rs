//! Local fakes of the cloud platform APIs Loco deploys to, faithful to the providers' documented
//! behaviour (paths, auth headers, JSON shapes, status progressions, error bodies, rate limits and
//! the quirks listed in `../shared/reference/platform-apis.md`), for tests and `loco demo`.
//!
//! Each fake is an HTTP server on `127.0.0.1` with an ephemeral port. It records every request
//! ([`Recorder`]) and can inject faults ([`Faults`]): bursts of 5xx, 429 with `Retry-After`, hangs.
//! State advances on a logical clock — a fixed number of steps per poll — so tests need no sleeps.

pub mod common;
pub mod fly;
pub mod railway;
pub mod render;
pub mod vercel;

pub use common::{Fault, Faults, RecordedRequest, Recorder, Server};
