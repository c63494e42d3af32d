//! [`SecretOpener`]: how the orchestrator gets a release's secret values in the clear, at the
//! last moment — right before it hands the release to its platform — without knowing the vault
//! that sealed them.

use loco_types::Result;
use loco_types::plan::ReleaseSpec;

/// Opens the sealed secret values of a release spec.
pub trait SecretOpener: Send + Sync {
    /// `spec` with every `secret_env` value opened; a value that does not open is an error (a
    /// `storage_error` that never contains the value).
    fn reveal(&self, spec: &ReleaseSpec) -> Result<ReleaseSpec>;
}

/// For engines whose releases carry no secrets: hands specs over unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unsealed;

impl SecretOpener for Unsealed {
    fn reveal(&self, spec: &ReleaseSpec) -> Result<ReleaseSpec> {
        Ok(spec.clone())
    }
}
