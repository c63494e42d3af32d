//! Integration tests of `loco-core` against real SQLite files in temporary directories.

mod analysis;
mod atomicity;
mod audit;
mod chaos;
mod cloud;
mod common;
mod concurrency;
mod conformance;
mod crash;
mod extensions;
mod fly;
mod freeze;
mod local;
mod metrics;
mod platforms;
mod prometheus;
mod props;
mod railway;
mod render;
mod restarts;
mod rollouts;
mod scripts;
mod store;
mod subscribe;
mod validation;
mod vercel;
