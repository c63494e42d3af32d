//! The Render adapter (being written).
