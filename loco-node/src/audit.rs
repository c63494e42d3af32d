//! The audit head methods of `Engine`: export the head of the verified chain, and verify the
//! chain against a head exported earlier. The key (`LOCO_AUDIT_KEY`) is read by the core; a head
//! is taken as an object or JSON text and parsed and checked by the core alone.

use loco_core::AuditHead;
use napi::bindgen_prelude::{Env, PromiseRaw, Unknown};
use napi_derive::napi;

use crate::args::Args;
use crate::engine::Engine;
use crate::error::Failure;
use crate::promise::settle_record;

#[napi]
impl Engine {
    /// The head of the verified audit chain (`seq`, `hash` and time of its last event), signed
    /// with `LOCO_AUDIT_KEY` when it is set: keep it outside the database. A chain that does not
    /// verify is a `storage_error`.
    #[napi(ts_return_type = "Promise<AuditHead>")]
    pub fn audit_head<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.inner.clone();
        settle_record(env, async move { Ok(engine.audit_head().await?) })
    }

    /// Verifies the audit chain and that it still contains `head` (what `auditHead()` gave, or
    /// its JSON text), so events deleted from the end are found; with `LOCO_AUDIT_KEY` set, the
    /// head's HMAC must match it.
    #[napi(ts_args_type = "head: AuditHead | string", ts_return_type = "Promise<AuditReport>")]
    pub fn verify_audit_against<'env>(
        &self,
        env: &'env Env,
        head: Unknown,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let mut args = Args::new();
        let json = args.document(*env, head, "head");
        let json = args.finish(json);
        let engine = self.inner.clone();
        settle_record(env, async move {
            let head = AuditHead::from_json(&json?).map_err(Failure::Document)?;
            engine.verify_audit_against(&head).await.map_err(Failure::Document)
        })
    }
}
