//! End-to-end tests of the Render adapter against the Render API fake (being written).
