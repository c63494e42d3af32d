//! Integration tests of the `loco` server and CLI: real loopback HTTP on 127.0.0.1, real SQLite
//! files in temporary directories, and the real binary as a child process.

mod api;
mod audit;
mod cli;
mod cli_rollouts;
mod common;
mod concurrency;
mod conformance;
mod dashboard;
mod demo;
mod durability;
mod freeze;
mod gates;
mod guards;
mod locks;
mod manifests;
mod openapi;
mod otlp;
mod pipelines;
mod platforms;
mod recovery;
mod replicas;
mod roles;
mod rollout_support;
mod rollouts;
mod schedules;
mod scripts;
mod secrets;
mod security;
mod sse;
mod validation;
