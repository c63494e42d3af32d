//! Placeholder: the loco-py binding is not built yet.
