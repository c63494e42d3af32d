//! The configured-platform methods of `Engine`: add (or replace), list, test and remove the cloud
//! platforms plans may name. Settings are a JSON document with snake_case keys (an object or JSON
//! text) that the core alone parses and checks (`settings.app`); the token is sealed by the core
//! and never returned (`"***"`).

use loco_core::platform_config::PlatformSettings;
use napi::bindgen_prelude::{Env, PromiseRaw, Unknown};
use napi_derive::napi;

use crate::args::Args;
use crate::engine::Engine;
use crate::error::Failure;
use crate::promise::{settle, settle_record};

#[napi]
impl Engine {
    /// Configures (or replaces) the cloud platform `name` that plans may name in `platform`, on
    /// behalf of `by`: `settings` such as `{ kind: 'fly', app: 'shop' }`; `token` is sealed before
    /// it is stored and never shown again. Resolves with the configuration as stored (token
    /// `***`); a bad name, setting or empty token is a `validation_error` naming each field.
    #[napi(
        ts_args_type = "name: string, settings: PlatformSettings | string, token: string, by: string",
        ts_return_type = "Promise<PlatformConfig>"
    )]
    pub fn add_platform<'env>(
        &self,
        env: &'env Env,
        name: Unknown,
        settings: Unknown,
        token: Unknown,
        by: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let input = (
            args.text(name, "name"),
            args.document(*env, settings, "settings"),
            args.text(token, "token"),
            args.text(by, "by"),
        );
        let input = args.finish(input);
        let engine = self.inner.clone();
        settle_record(env, async move {
            let (name, json, token, by) = input?;
            let settings = PlatformSettings::from_json(&json).map_err(Failure::Document)?;
            engine.add_platform(&name, settings, &token, &by).await.map_err(Failure::Document)
        })
    }

    /// Every configured platform, by name (tokens `***`).
    #[napi(ts_return_type = "Promise<Array<PlatformConfig>>")]
    pub fn platforms<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.inner.clone();
        settle_record(env, async move { Ok(engine.platform_configs().await?) })
    }

    /// Tests a configured platform's connection: the token is accepted and the app or service
    /// exists. Rejects with `platform_error` (the provider's answer, never the token) or
    /// `not_found` (with the `platform` it looked for).
    #[napi(ts_args_type = "name: string", ts_return_type = "Promise<void>")]
    pub fn test_platform<'env>(&self, env: &'env Env, name: Unknown) -> napi::Result<PromiseRaw<'env, ()>> {
        let mut args = Args::new();
        let name = args.required(name, "name");
        let name = args.finish(name);
        let engine = self.inner.clone();
        settle(env, async move { Ok(engine.test_platform(&name?).await?) })
    }

    /// Removes a configured platform (`validation_error` while a rollout on it is active,
    /// `not_found` when there is none).
    #[napi(ts_args_type = "name: string", ts_return_type = "Promise<void>")]
    pub fn remove_platform<'env>(&self, env: &'env Env, name: Unknown) -> napi::Result<PromiseRaw<'env, ()>> {
        let mut args = Args::new();
        let name = args.required(name, "name");
        let name = args.finish(name);
        let engine = self.inner.clone();
        settle(env, async move { Ok(engine.remove_platform(&name?).await?) })
    }
}
