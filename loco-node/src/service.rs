//! The service registry methods of `Engine`: register, list and remove the services a rollout
//! plan may name in `release.service`. A definition is a JSON document with the same snake_case
//! keys in every language, taken as an object or JSON text and returned the same way; the core
//! alone parses and checks it, naming fields as the document does (`allowed_env[0]`).

use loco_core::service::ServiceDefinition;
use napi::bindgen_prelude::{Env, PromiseRaw, Unknown};
use napi_derive::napi;

use crate::args::Args;
use crate::engine::Engine;
use crate::error::Failure;
use crate::promise::{settle, settle_document};

#[napi]
impl Engine {
    /// Registers (or replaces) a service that rollout plans may name in `release.service`, on
    /// behalf of `by`. Resolves with the definition as stored, every default filled in; a bad
    /// definition is a `validation_error` naming each field the core refuses.
    #[napi(
        ts_args_type = "definition: ServiceDefinition | string, by: string",
        ts_return_type = "Promise<Required<ServiceDefinition>>"
    )]
    pub fn register_service<'env>(
        &self,
        env: &'env Env,
        definition: Unknown,
        by: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (args.document(*env, definition, "definition"), args.required(by, "by"));
        let input = args.finish(input);
        let engine = self.inner.clone();
        settle_document(env, async move {
            let (json, by) = input?;
            let definition = ServiceDefinition::from_json(&json).map_err(Failure::Document)?;
            engine.register_service(definition, &by).await.map_err(Failure::Document)
        })
    }

    /// Every registered service, by name.
    #[napi(ts_return_type = "Promise<Array<Required<ServiceDefinition>>>")]
    pub fn services<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.inner.clone();
        settle_document(env, async move { Ok(engine.services().await?) })
    }

    /// Removes a registered service (`not_found`, with the `service` it looked for, when there is
    /// none); rollouts already started keep running it.
    #[napi(ts_args_type = "name: string", ts_return_type = "Promise<void>")]
    pub fn remove_service<'env>(&self, env: &'env Env, name: Unknown) -> napi::Result<PromiseRaw<'env, ()>> {
        let mut args = Args::new();
        let name = args.required(name, "name");
        let name = args.finish(name);
        let engine = self.inner.clone();
        settle(env, async move { Ok(engine.remove_service(&name?).await?) })
    }
}
