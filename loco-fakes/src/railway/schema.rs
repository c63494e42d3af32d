//! The subset of Railway's GraphQL schema the fake serves (from the introspection snapshot
//! `railwayapp/cli src/gql/schema.json`, see `platform-apis.md` §1): root fields with their
//! argument and return types, the input objects and the `DeploymentStatus` enum, and the checks
//! of a value against a type.
//!
//! ```graphql
//! type Query {
//!   me: User!
//!   projectToken: ProjectToken!
//!   project(id: String!): Project!
//!   service(id: String!): Service!
//!   serviceInstance(environmentId: String!, serviceId: String!): ServiceInstance!
//!   deployment(id: String!): Deployment!
//!   deployments(input: DeploymentListInput!, first: Int, after: String, last: Int, before: String): QueryDeploymentsConnection!
//!   buildLogs(deploymentId: String!, endDate: DateTime, filter: String, limit: Int, startDate: DateTime): [Log!]!
//!   deploymentLogs(deploymentId: String!, endDate: DateTime, filter: String, limit: Int, startDate: DateTime): [Log!]!
//! }
//! type Mutation {
//!   serviceInstanceDeployV2(commitSha: String, environmentId: String!, serviceId: String!): String!
//!   serviceInstanceUpdate(environmentId: String, input: ServiceInstanceUpdateInput!, serviceId: String!): Boolean!
//!   deploymentRollback(id: String!): Boolean!
//!   deploymentRestart(id: String!): Boolean!
//!   deploymentCancel(id: String!): Boolean!
//!   deploymentRemove(id: String!): Boolean!
//!   deploymentStop(id: String!): Boolean!
//!   deploymentRedeploy(id: String!, usePreviousImageTag: Boolean): Deployment!
//! }
//! input ServiceInstanceUpdateInput { source: ServiceSourceInput, numReplicas: Int, region: String,
//!   healthcheckPath: String, healthcheckTimeout: Int, startCommand: String, sleepApplication: Boolean }
//! input ServiceSourceInput { image: String, repo: String }
//! input DeploymentListInput { projectId: String, serviceId: String, environmentId: String,
//!   includeDeleted: Boolean, status: DeploymentStatusInput }
//! input DeploymentStatusInput { in: [DeploymentStatus!], notIn: [DeploymentStatus!] }
//! enum DeploymentStatus { BUILDING CRASHED DEPLOYING FAILED INITIALIZING NEEDS_APPROVAL QUEUED
//!   REMOVED REMOVING SKIPPED SLEEPING SUCCESS WAITING }
//! ```

use serde_json::Value;

use super::graphql::Kind;

/// Every `DeploymentStatus` value.
pub const DEPLOYMENT_STATUSES: [&str; 13] = [
    "BUILDING",
    "CRASHED",
    "DEPLOYING",
    "FAILED",
    "INITIALIZING",
    "NEEDS_APPROVAL",
    "QUEUED",
    "REMOVED",
    "REMOVING",
    "SKIPPED",
    "SLEEPING",
    "SUCCESS",
    "WAITING",
];

/// A root field: which root type it is on, its arguments and its return type.
pub(super) struct Root {
    pub(super) kind: Kind,
    pub(super) args: &'static [(&'static str, &'static str)],
    pub(super) returns: &'static str,
}

const ID: &[(&str, &str)] = &[("id", "String!")];
const LOGS: &[(&str, &str)] = &[
    ("deploymentId", "String!"),
    ("endDate", "DateTime"),
    ("filter", "String"),
    ("limit", "Int"),
    ("startDate", "DateTime"),
];

/// The root field `name`, if the fake serves it.
pub(super) fn root(name: &str) -> Option<Root> {
    let (kind, args, returns): (Kind, &'static [(&'static str, &'static str)], &str) = match name {
        "me" => (Kind::Query, &[], "User!"),
        "projectToken" => (Kind::Query, &[], "ProjectToken!"),
        "project" => (Kind::Query, ID, "Project!"),
        "service" => (Kind::Query, ID, "Service!"),
        "serviceInstance" => {
            (Kind::Query, &[("environmentId", "String!"), ("serviceId", "String!")], "ServiceInstance!")
        }
        "deployment" => (Kind::Query, ID, "Deployment!"),
        "deployments" => (
            Kind::Query,
            &[
                ("input", "DeploymentListInput!"),
                ("first", "Int"),
                ("after", "String"),
                ("last", "Int"),
                ("before", "String"),
            ],
            "QueryDeploymentsConnection!",
        ),
        "buildLogs" | "deploymentLogs" => (Kind::Query, LOGS, "[Log!]!"),
        "serviceInstanceDeployV2" => (
            Kind::Mutation,
            &[("commitSha", "String"), ("environmentId", "String!"), ("serviceId", "String!")],
            "String!",
        ),
        "serviceInstanceUpdate" => (
            Kind::Mutation,
            &[("environmentId", "String"), ("input", "ServiceInstanceUpdateInput!"), ("serviceId", "String!")],
            "Boolean!",
        ),
        "deploymentRollback" | "deploymentRestart" | "deploymentCancel" | "deploymentRemove" | "deploymentStop" => {
            (Kind::Mutation, ID, "Boolean!")
        }
        "deploymentRedeploy" => {
            (Kind::Mutation, &[("id", "String!"), ("usePreviousImageTag", "Boolean")], "Deployment!")
        }
        _ => return None,
    };
    Some(Root { kind, args, returns })
}

/// The fields of an input object type.
fn input_fields(ty: &str) -> Option<&'static [(&'static str, &'static str)]> {
    Some(match ty {
        "ServiceInstanceUpdateInput" => &[
            ("source", "ServiceSourceInput"),
            ("numReplicas", "Int"),
            ("region", "String"),
            ("healthcheckPath", "String"),
            ("healthcheckTimeout", "Int"),
            ("startCommand", "String"),
            ("sleepApplication", "Boolean"),
        ],
        "ServiceSourceInput" => &[("image", "String"), ("repo", "String")],
        "DeploymentListInput" => &[
            ("projectId", "String"),
            ("serviceId", "String"),
            ("environmentId", "String"),
            ("includeDeleted", "Boolean"),
            ("status", "DeploymentStatusInput"),
        ],
        "DeploymentStatusInput" => &[("in", "[DeploymentStatus!]"), ("notIn", "[DeploymentStatus!]")],
        _ => return None,
    })
}

/// The type of field `name` of input object `ty` (any nullability).
pub(super) fn input_field(ty: &str, name: &str) -> Option<&'static str> {
    input_fields(ty.trim_end_matches('!'))?.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The item type of a list type (`[X!]!` → `X!`).
pub(super) fn list_item(ty: &str) -> Option<&str> {
    ty.trim_end_matches('!').strip_prefix('[')?.strip_suffix(']')
}

/// Whether a variable declared `declared` may be used where `expected` is: the same type, or a
/// non-null variable where a nullable one is expected.
pub(super) fn assignable(declared: &str, expected: &str) -> bool {
    declared == expected || declared.strip_suffix('!') == Some(expected)
}

/// Fields whose type is the `JSON` scalar: returned whole, without a selection.
pub(super) fn is_json_scalar(field: &str) -> bool {
    matches!(field, "meta" | "tags")
}

/// Checks `value` against type `ty`; `Err` says what is wrong.
pub(super) fn check_value(value: &Value, ty: &str) -> Result<(), String> {
    let (inner, required) = match ty.strip_suffix('!') {
        Some(inner) => (inner, true),
        None => (ty, false),
    };
    if value.is_null() {
        return if required { Err(format!("Expected non-nullable type \"{ty}\" not to be null.")) } else { Ok(()) };
    }
    if let Some(item) = list_item(inner) {
        let Value::Array(items) = value else { return check_value(value, item) }; // input coercion of one item
        return items.iter().try_for_each(|i| check_value(i, item));
    }
    let ok = match inner {
        "String" | "DateTime" => value.is_string(),
        "Int" => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "Boolean" => value.is_boolean(),
        "DeploymentStatus" => value.as_str().is_some_and(|s| DEPLOYMENT_STATUSES.contains(&s)),
        other => match (input_fields(other), value) {
            (Some(fields), Value::Object(map)) => {
                for (name, field_value) in map {
                    let Some((_, field_ty)) = fields.iter().find(|(n, _)| n == name) else {
                        return Err(format!("Field \"{name}\" is not defined by type \"{other}\"."));
                    };
                    check_value(field_value, field_ty).map_err(|e| format!("at \"{name}\": {e}"))?;
                }
                true
            }
            (Some(_), _) => false,
            (None, _) => return Err(format!("Unknown type \"{other}\".")),
        },
    };
    if ok { Ok(()) } else { Err(format!("{value} is not a valid \"{inner}\".")) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_are_checked_against_types() {
        assert!(check_value(&json!({"status": {"in": ["SUCCESS", "SLEEPING"]}}), "DeploymentListInput!").is_ok());
        assert!(check_value(&json!({"status": {"in": ["LIVE"]}}), "DeploymentListInput!").is_err());
        assert!(check_value(&json!({"status": {"successfulOnly": true}}), "DeploymentListInput!").is_err());
        assert!(
            check_value(&json!({"source": {"image": "a:b"}, "numReplicas": 2}), "ServiceInstanceUpdateInput!").is_ok()
        );
        assert!(check_value(&json!(null), "String!").is_err());
        assert!(check_value(&json!(null), "String").is_ok());
        assert!(check_value(&json!("2"), "Int").is_err());
        assert!(assignable("String!", "String") && !assignable("String", "String!"));
    }
}
