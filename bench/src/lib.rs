//! Placeholder: the benchmark harness is not built yet.
