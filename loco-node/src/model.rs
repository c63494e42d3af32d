//! The reading of `Engine.create`'s request and `Engine.list`'s query: camelCase JavaScript
//! properties into the core's `NewDeployment` and `ListQuery` (the records it returns are
//! converted generically, by `value`).

use loco_core::{ListQuery, NewDeployment};
use napi::bindgen_prelude::Unknown;

use crate::args::Args;
use crate::error::Failure;

/// The properties of `Engine.create`'s request (`NewDeployment`, generated from the schema).
const NEW_DEPLOYMENT_FIELDS: [&str; 8] =
    ["service", "environment", "version", "requester", "workRefs", "rollbackPlan", "risk", "commit"];
/// The properties of `Engine.list`'s query (`ListQuery` in `dts-api.d.ts`).
const LIST_QUERY_FIELDS: [&str; 5] = ["service", "environment", "status", "limit", "cursor"];

/// Reads `Engine.create`'s request object; absent properties read as empty for the core to report.
pub(crate) fn new_deployment(args: &mut Args, value: Unknown) -> NewDeployment {
    let mut new = NewDeployment {
        service: String::new(),
        environment: String::new(),
        version: String::new(),
        requester: String::new(),
        work_refs: Vec::new(),
        rollback_plan: String::new(),
        risk: None,
        commit: None,
    };
    let Some(object) = args.object(value, "request", &NEW_DEPLOYMENT_FIELDS) else {
        return new;
    };
    for name in NEW_DEPLOYMENT_FIELDS {
        let Some(value) = args.property(&object, name) else { continue };
        match name {
            "service" => new.service = args.text(value, name),
            "environment" => new.environment = args.text(value, name),
            "version" => new.version = args.text(value, name),
            "requester" => new.requester = args.text(value, name),
            "workRefs" => new.work_refs = args.text_list(value, name),
            "rollbackPlan" => new.rollback_plan = args.text(value, name),
            "risk" => new.risk = args.optional_text(value, name),
            _ => new.commit = args.optional_text(value, name),
        }
    }
    new
}

/// Reads `Engine.list`'s optional query object; the core parses it (`ListQuery::parse`: an
/// unknown status is a core `validation_error`, not a type error) and checks the limit's range
/// when the query runs.
pub(crate) fn list_query(args: &mut Args, value: Unknown) -> Result<ListQuery, Failure> {
    let (mut service, mut environment, mut status, mut limit, mut cursor) = (None, None, None, None, None);
    if let Some(object) = args.object(value, "query", &LIST_QUERY_FIELDS) {
        for name in LIST_QUERY_FIELDS {
            let Some(value) = args.property(&object, name) else { continue };
            match name {
                "service" => service = args.optional_text(value, name),
                "environment" => environment = args.optional_text(value, name),
                "status" => status = args.optional_text(value, name),
                "limit" => limit = args.optional_u32(value, name).map(|n| n.to_string()),
                _ => cursor = args.optional_text(value, name),
            }
        }
    }
    Ok(ListQuery::parse(service, environment, status.as_deref(), limit.as_deref(), cursor)?)
}
