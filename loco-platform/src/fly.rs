//! The Fly.io Machines adapter (being written).
