//! The configured-platform operations of [`Handle`], shared by `loco.Engine` and
//! `loco.SyncEngine`: add (or replace), list, test and remove the cloud platforms plans may name.
//! Settings are parsed and checked by the core alone; tokens are sealed by it and never returned.

use loco_core::platform_config::PlatformConfig;

use super::{Handle, Operation};
use crate::document::Document;

impl Handle {
    /// `add_platform(name, settings, token, by)`: the configuration as stored, token `***`.
    pub fn add_platform(
        &self,
        name: String,
        settings: Document,
        token: String,
        by: String,
    ) -> Operation<PlatformConfig> {
        let engine = self.engine();
        let settings = settings.into_platform_settings();
        Box::pin(async move { engine?.add_platform(&name, settings?, &token, &by).await })
    }

    /// `platforms()`.
    pub fn platforms(&self) -> Operation<Vec<PlatformConfig>> {
        let engine = self.engine();
        Box::pin(async move { engine?.platform_configs().await })
    }

    /// `test_platform(name)`: `PlatformError` when the provider refuses, `NotFoundError` when no
    /// platform has the name.
    pub fn test_platform(&self, name: String) -> Operation<()> {
        let engine = self.engine();
        Box::pin(async move { engine?.test_platform(&name).await })
    }

    /// `remove_platform(name)`.
    pub fn remove_platform(&self, name: String) -> Operation<()> {
        let engine = self.engine();
        Box::pin(async move { engine?.remove_platform(&name).await })
    }
}
