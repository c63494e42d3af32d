//! End-to-end tests of the Fly.io adapter against the Machines API fake (being written).
