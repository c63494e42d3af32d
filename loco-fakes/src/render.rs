//! Render REST API fake (being written).
