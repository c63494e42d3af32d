//! Fly.io Machines API fake (being written).
