//! Configured cloud platforms: added with their API token (sealed by the vault before it is
//! stored, `"***"` wherever it is shown), registered with the orchestrator at once and by every
//! engine opened on the database later, tested against the provider, removed.

use std::sync::Arc;

use loco_platform::Platform;
use loco_platform::fly::FlyPlatform;
use loco_platform::railway::RailwayPlatform;
use loco_platform::render::RenderPlatform;
use loco_platform::vercel::VercelPlatform;
use loco_types::model::Timestamp;
use loco_types::plan::REDACTED;
use loco_types::platform_config::{PlatformConfig, PlatformSettings, validate_platform_name};

use crate::{Engine, Error, Result};

/// Builds the adapter a configuration names, with its token in the clear.
pub(crate) fn adapter(config: &PlatformConfig, token: &str) -> Result<Arc<dyn Platform>> {
    let failed =
        |e: loco_platform::PlatformError| Error::Platform { platform: config.name.clone(), message: e.message };
    Ok(match &config.settings {
        PlatformSettings::Fly(fly) => Arc::new(FlyPlatform::new(&config.name, fly, token).map_err(failed)?),
        PlatformSettings::Render(render) => Arc::new(RenderPlatform::new(&config.name, render, token).map_err(failed)?),
        PlatformSettings::Railway(railway) => {
            Arc::new(RailwayPlatform::new(&config.name, railway, token).map_err(failed)?)
        }
        PlatformSettings::Vercel(vercel) => Arc::new(VercelPlatform::new(&config.name, vercel, token).map_err(failed)?),
    })
}

fn redacted(mut config: PlatformConfig) -> PlatformConfig {
    REDACTED.clone_into(&mut config.token);
    config
}

impl Engine {
    /// Configures (or replaces) the cloud platform `name`: checks the name and every setting,
    /// seals `token`, stores it and registers the adapter, so plans can name it at once (and
    /// every engine opened on this database later registers it too). Returns the configuration
    /// with the token shown as `"***"`. Nothing is stored when anything is refused; the
    /// provider is not called (see [`test_platform`](Self::test_platform)).
    pub async fn add_platform(
        &self,
        name: &str,
        settings: PlatformSettings,
        token: &str,
        by: &str,
    ) -> Result<PlatformConfig> {
        let mut details = Vec::new();
        if let Err(Error::Validation { details: d }) = validate_platform_name(name) {
            details.extend(d);
        }
        if let Err(Error::Validation { details: d }) = settings.validate() {
            details.extend(d);
        }
        if token.trim().is_empty() {
            details.push(crate::FieldError::new("token", "must not be empty"));
        }
        if by.trim().is_empty() {
            details.push(crate::FieldError::new("by", "must name who adds the platform"));
        }
        if !details.is_empty() {
            return Err(Error::Validation { details });
        }
        let config = PlatformConfig {
            name: name.to_owned(),
            settings,
            token: self.keys.vault()?.seal(token.trim()),
            created_by: by.to_owned(),
            created_at: Timestamp::now(),
        };
        // Built before it is stored, so a configuration that cannot become an adapter is refused.
        let platform = adapter(&config, token.trim())?;
        let config = self.store.put_platform(config).await?;
        self.orchestrator.register(platform);
        tracing::info!(platform = %config.name, kind = config.settings.kind(), by, "platform configured");
        Ok(redacted(config))
    }

    /// Every configured platform, by name, tokens shown as `"***"`.
    pub async fn platform_configs(&self) -> Result<Vec<PlatformConfig>> {
        Ok(self.store.platforms().await?.into_iter().map(redacted).collect())
    }

    /// Tests a configured platform's connection: the token is accepted and the app or service
    /// exists. `PlatformNotFound` for a name not configured; `platform_error` with the
    /// provider's answer (never the token) when the test fails.
    pub async fn test_platform(&self, name: &str) -> Result<()> {
        if !self.store.platforms().await?.iter().any(|p| p.name == name) {
            return Err(Error::PlatformNotFound { name: name.to_owned() });
        }
        let platform = self.orchestrator.platform(name)?;
        platform.test_connection().await.map_err(|e| Error::Platform { platform: name.to_owned(), message: e.message })
    }

    /// Removes a configured platform and unregisters it. Refused (`validation_error` on `name`)
    /// while a rollout on it is active; `PlatformNotFound` when there is none.
    pub async fn remove_platform(&self, name: &str) -> Result<()> {
        let active = self.store.rollouts(true).await?;
        if let Some(busy) = active.iter().find(|r| r.platform == name) {
            return Err(Error::invalid(
                "name",
                format!("platform '{name}' runs the active rollout of deployment '{}'", busy.deployment_id),
            ));
        }
        self.store.remove_platform(name).await?;
        self.orchestrator.unregister(name);
        tracing::info!(platform = %name, "platform removed");
        Ok(())
    }

    /// Registers every configured platform (opening each token); called when the engine opens.
    pub(crate) async fn register_configured_platforms(&self) -> Result<()> {
        let configs = self.store.platforms().await?;
        if configs.is_empty() {
            // No key is needed (or created) when nothing is sealed.
            return Ok(());
        }
        let vault = self.keys.vault()?;
        for config in configs {
            let token = vault.open(&config.token)?;
            self.orchestrator.register(adapter(&config, &token)?);
        }
        Ok(())
    }
}
