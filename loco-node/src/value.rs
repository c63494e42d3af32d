//! Core records as JavaScript objects, by one generic conversion: a record is serialized with
//! serde to JSON text off the JavaScript thread, its keys camelCased on the way (`deployment_id`
//! → `deploymentId`) except inside documents, and `JSON.parse` builds the object on the
//! JavaScript thread. Documents (`Rollout.plan`, `Release.spec`, `Event.data`) keep the
//! snake_case keys they have in every language; which fields hold one is generated from the
//! schema (`documents.rs`, by `scripts/codegen/typescript.py`), as are the TypeScript types. A
//! document returned on its own (a service definition) keeps its keys too.
//!
//! JSON text rather than a `serde_json::Value` keeps each object's keys in the order the core
//! declares them (a `Value` sorts them), does the serializing on the runtime's thread, and leaves
//! the JavaScript thread one `JSON.parse` call instead of one Node-API call per property.

mod documents;

use std::io::{self, Write};

use napi::bindgen_prelude::{Env, Function, JsObjectValue, Object, Unknown};
use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};

use crate::error::Failure;
use documents::DOCUMENT_FIELDS;

/// A core value as the JSON text of the JavaScript object it becomes.
#[derive(Debug)]
pub(crate) struct Json(String);

impl Json {
    /// Serializes `value` with camelCase record keys.
    pub(crate) fn of<T: Serialize + ?Sized>(value: &T) -> Result<Json, Failure> {
        Self::write(value, CamelCaseKeys::default())
    }

    /// Serializes `value`, a document (a service definition) or a list of them, with its keys as
    /// they are.
    pub(crate) fn of_document<T: Serialize + ?Sized>(value: &T) -> Result<Json, Failure> {
        Self::write(value, CamelCaseKeys { document_next: true, ..CamelCaseKeys::default() })
    }

    fn write<T: Serialize + ?Sized>(value: &T, formatter: CamelCaseKeys) -> Result<Json, Failure> {
        let mut text = Vec::with_capacity(512);
        let mut serializer = serde_json::Serializer::with_formatter(&mut text, formatter);
        value
            .serialize(&mut serializer)
            .map_err(|e| loco_core::Error::storage(format!("a record could not be written as JSON: {e}")))?;
        // serde_json writes UTF-8 only.
        Ok(Json(String::from_utf8(text).unwrap_or_default()))
    }

    /// The JavaScript value (`JSON.parse` of the text); call on the JavaScript thread.
    pub(crate) fn into_js(self, env: &Env) -> napi::Result<Unknown<'_>> {
        let json: Object = env.get_global()?.get_named_property_unchecked("JSON")?;
        let parse: Function<String, Unknown> = json.get_named_property_unchecked("parse")?;
        parse.call(self.0)
    }
}

/// `work_refs[1]` → `workRefs[1]`: a core (snake_case) name as Node spells it.
pub(crate) fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `serde_json`'s compact output, with each object key outside a document camelCased.
#[derive(Default)]
struct CamelCaseKeys {
    /// For each object or array being written, innermost last: whether it is (inside) a document.
    in_document: Vec<bool>,
    /// Set by a key naming a document field, for the value that follows it.
    document_next: bool,
    /// The key being written, collected to be camelCased when it ends.
    key: Option<String>,
}

impl CamelCaseKeys {
    fn open(&mut self) {
        let inside = self.in_document.last().copied().unwrap_or(false) || std::mem::take(&mut self.document_next);
        self.in_document.push(inside);
    }
}

impl Formatter for CamelCaseKeys {
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open();
        CompactFormatter.begin_array(writer)
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.in_document.pop();
        CompactFormatter.end_array(writer)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open();
        CompactFormatter.begin_object(writer)
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.in_document.pop();
        CompactFormatter.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if !self.in_document.last().copied().unwrap_or(false) {
            self.key = Some(String::new());
        }
        CompactFormatter.begin_object_key(writer, first)
    }

    fn write_string_fragment<W: ?Sized + Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        match &mut self.key {
            Some(key) => {
                key.push_str(fragment);
                Ok(())
            }
            None => writer.write_all(fragment.as_bytes()),
        }
    }

    fn write_char_escape<W: ?Sized + Write>(&mut self, writer: &mut W, escape: CharEscape) -> io::Result<()> {
        // Record keys are Rust field names, which need no escapes; any other key is written as is.
        if let Some(key) = self.key.take() {
            writer.write_all(key.as_bytes())?;
        }
        CompactFormatter.write_char_escape(writer, escape)
    }

    fn end_string<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        if let Some(key) = self.key.take() {
            self.document_next = DOCUMENT_FIELDS.contains(&key.as_str());
            writer.write_all(camel_case(&key).as_bytes())?;
        }
        CompactFormatter.end_string(writer)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.document_next = false;
        CompactFormatter.end_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Json, camel_case};

    fn text(value: &serde_json::Value) -> String {
        Json::of(value).unwrap().0
    }

    #[test]
    fn core_names_become_the_camel_case_names_callers_write() {
        for (core, node) in [
            ("service", "service"),
            ("work_refs", "workRefs"),
            ("work_refs[12]", "workRefs[12]"),
            ("p50_ms", "p50Ms"),
            ("deployment_id", "deploymentId"),
            ("from_status", "fromStatus"),
        ] {
            assert_eq!(camel_case(core), node);
        }
    }

    #[test]
    fn record_keys_are_camel_cased_at_every_depth_but_documents_keep_theirs() {
        let rollout = json!({
            "deployment_id": "dep_1",
            "plan": {"strategy": {"type": "canary", "interval_seconds": 5}, "analysis": null},
            "progress": {"completed_steps": 1, "analysis": {"error_rate_test": {"p_value": 0.5}}},
            "previous": {"deployment_id": "dep_0", "spec": {"env": {"MY_VAR": "a\"b"}}, "retired_at": null},
            "events": [{"from_status": null, "data": {"from_percent": 10, "traffic": [{"new_version": 1}]}}],
            "data": null,
            "after_null": [["x_y"]]
        });
        assert_eq!(
            text(&rollout),
            concat!(
                r#"{"afterNull":[["x_y"]],"data":null,"deploymentId":"dep_1","events":[{"data":{"from_percent":10,"#,
                r#""traffic":[{"new_version":1}]},"fromStatus":null}],"plan":{"analysis":null,"strategy":"#,
                r#"{"interval_seconds":5,"type":"canary"}},"previous":{"deploymentId":"dep_0","retiredAt":null,"#,
                r#""spec":{"env":{"MY_VAR":"a\"b"}}},"progress":{"analysis":{"errorRateTest":{"pValue":0.5}},"#,
                r#""completedSteps":1}}"#
            )
        );
    }

    #[test]
    fn a_document_returned_on_its_own_keeps_its_keys() {
        let definitions = json!([{"name": "shop", "allowed_env": ["API_KEY"], "working_dir": null}]);
        assert_eq!(
            Json::of_document(&definitions).unwrap().0,
            r#"[{"allowed_env":["API_KEY"],"name":"shop","working_dir":null}]"#
        );
    }

    #[test]
    fn records_keep_the_order_the_core_declares() {
        let d = loco_core::Deployment {
            id: "dep_1".into(),
            service: "s".into(),
            environment: "e".into(),
            version: "v".into(),
            requester: "r".into(),
            work_refs: vec!["W-1".into()],
            rollback_plan: "p".into(),
            risk: None,
            commit: None,
            status: loco_core::Status::Approved,
            reviewed_by: Some("b".into()),
            reviewed_at: None,
            created_at: "2026-11-23T08:36:00.5Z".parse().unwrap(),
            updated_at: "2026-11-23T08:36:00.5Z".parse().unwrap(),
        };
        assert_eq!(
            Json::of(&d).unwrap().0,
            concat!(
                r#"{"id":"dep_1","service":"s","environment":"e","version":"v","requester":"r","workRefs":["W-1"],"#,
                r#""rollbackPlan":"p","risk":null,"commit":null,"status":"approved","reviewedBy":"b","reviewedAt":null,"#,
                r#""createdAt":"2026-11-23T08:36:00.500000Z","updatedAt":"2026-11-23T08:36:00.500000Z"}"#
            )
        );
    }
}
