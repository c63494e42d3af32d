//! Placeholder: the loco-node binding is not built yet.
