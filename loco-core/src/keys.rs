//! [`Keys`]: the engine's vault, loaded on first use (so opening a database that never held a
//! secret creates no key file), sealing a plan's secrets before it is stored and opening a
//! release's secrets for the orchestrator right before a platform call.

use std::path::PathBuf;
use std::sync::RwLock;

use loco_rollout::SecretOpener;
use loco_types::plan::{REDACTED, ReleaseSpec};
use loco_types::{Error, Result};

use crate::vault::Vault;

/// Where the vault's key comes from.
#[derive(Debug, Clone)]
pub(crate) enum KeySource {
    /// `LOCO_MASTER_KEY`, else this key file (created on first use).
    File(PathBuf),
    /// `LOCO_MASTER_KEY` only: a database several engines share (PostgreSQL), where a key file
    /// on one machine would not be the others'.
    Environment,
    /// A fresh key for an engine whose data dies with it.
    Ephemeral,
    /// A vault the host supplied.
    Given(Box<Vault>),
}

/// The engine's vault, loaded when first needed.
#[derive(Debug)]
pub(crate) struct Keys {
    source: KeySource,
    vault: RwLock<Option<Vault>>,
}

impl Keys {
    pub(crate) fn new(source: KeySource) -> Self {
        Self { source, vault: RwLock::new(None) }
    }

    /// The vault, loading it on first use.
    pub(crate) fn vault(&self) -> Result<Vault> {
        if let Some(vault) = self.vault.read().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref() {
            return Ok(vault.clone());
        }
        let mut slot = self.vault.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(vault) = slot.as_ref() {
            return Ok(vault.clone());
        }
        let vault = match &self.source {
            KeySource::File(path) => Vault::load(path)?,
            KeySource::Environment => Vault::from_environment()?,
            KeySource::Ephemeral => Vault::generate(),
            KeySource::Given(vault) => vault.as_ref().clone(),
        };
        *slot = Some(vault.clone());
        Ok(vault)
    }

    /// Replaces the vault (after a key rotation re-sealed every value).
    pub(crate) fn replace(&self, vault: Vault) {
        *self.vault.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(vault);
    }

    /// `spec` with every secret value sealed. Two kinds of value are refused: the redaction
    /// placeholder (a plan copied from an API response must not overwrite secrets with `"***"`)
    /// and a value already in sealed form (one copied from a database or backup must not be
    /// opened for another release: only plaintext goes in).
    pub(crate) fn seal(&self, mut spec: ReleaseSpec) -> Result<ReleaseSpec> {
        if spec.secret_env.is_empty() {
            return Ok(spec);
        }
        for (key, value) in &spec.secret_env {
            let why = if value == REDACTED {
                "is the redaction placeholder \"***\"; give the secret's value"
            } else if Vault::is_sealed(value) {
                "is a sealed value; give the secret's plaintext (sealed values are never accepted as input)"
            } else {
                continue;
            };
            return Err(Error::invalid(format!("release.secret_env.{key}"), why));
        }
        let vault = self.vault()?;
        for value in spec.secret_env.values_mut() {
            *value = vault.seal(value);
        }
        Ok(spec)
    }
}

impl SecretOpener for Keys {
    fn reveal(&self, spec: &ReleaseSpec) -> Result<ReleaseSpec> {
        let mut spec = spec.clone();
        if spec.secret_env.is_empty() {
            return Ok(spec);
        }
        let vault = self.vault()?;
        for value in spec.secret_env.values_mut() {
            *value = vault.open(value)?;
        }
        Ok(spec)
    }
}
