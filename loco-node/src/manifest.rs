//! `parseManifest` and `manifestSchema`: the `service.yaml` manifest of [`loco_core::manifest`],
//! read without an engine. The manifest is a document, returned with the keys it is written with
//! (`apiVersion`, `require_previous_success`); its problems keep the paths the file has
//! (`stages[1].rollout.instances`), each with its line and column.

use loco_core::manifest;
use napi::bindgen_prelude::{Env, Unknown};
use napi_derive::napi;

use crate::args::Args;
use crate::error::{self, Failure};
use crate::value::Json;

/// Reads a `service.yaml` manifest (YAML, or JSON) and checks it: returns the manifest with every
/// default filled in. Every problem is thrown at once as a `validation_error` whose `details` give
/// each problem's `field` (its path, `stages[1].rollout.instances`), `message`, `line` and `column`
/// (from 1), in the order of the file; a manifest over 256 KiB is refused (field `manifest`). A
/// `text` that is not a string throws a `TypeError` with code `validation_error`.
#[napi(ts_args_type = "text: string", ts_return_type = "Required<Manifest>")]
pub fn parse_manifest<'env>(env: &'env Env, text: Unknown) -> napi::Result<Unknown<'env>> {
    let mut args = Args::new();
    let text = args.required(text, "text");
    let parsed = args.finish(text).and_then(|text| {
        let parsed = manifest::parse(&text).map_err(Failure::Document)?;
        Json::of_document(&parsed)
    });
    parsed.map_err(|failure| error::to_js(*env, &failure))?.into_js(env)
}

/// The JSON Schema (draft 2020-12) of a manifest: the same document as
/// `schema/manifest.schema.json` and `loco manifest schema`.
#[napi(ts_return_type = "Record<string, unknown>")]
pub fn manifest_schema(env: &Env) -> napi::Result<Unknown<'_>> {
    let schema = Json::of_document(&manifest::schema()).map_err(|failure| error::to_js(*env, &failure))?;
    schema.into_js(env)
}
