//! The service registry operations of [`Handle`], shared by `loco.Engine` and `loco.SyncEngine`:
//! register, list and remove the services a rollout plan may name in `release.service`.
//! Definitions are parsed and checked by the core alone.

use loco_core::service::ServiceDefinition;

use super::{Handle, Operation};
use crate::document::Document;

impl Handle {
    /// `register_service(definition, by)`: registers or replaces the service; the result is the
    /// definition as stored.
    pub fn register_service(&self, definition: Document, by: String) -> Operation<ServiceDefinition> {
        let engine = self.engine();
        Box::pin(async move { engine?.register_service(definition.into_service_definition()?, &by).await })
    }

    /// `services()`.
    pub fn services(&self) -> Operation<Vec<ServiceDefinition>> {
        let engine = self.engine();
        Box::pin(async move { engine?.services().await })
    }

    /// `remove_service(name)`; `not_found` when no service has the name.
    pub fn remove_service(&self, name: String) -> Operation<()> {
        let engine = self.engine();
        Box::pin(async move { engine?.remove_service(&name).await })
    }
}
