//! The GraphQL operations the Railway adapter sends, each with its name (sent as
//! `operationName`), its document and whether repeating it is safe.
//!
//! Checked against this subset of Railway's public schema (the introspection snapshot
//! `railwayapp/cli src/gql/schema.json`; `platform-apis.md` §1), which the fake in
//! `loco_fakes::railway` validates every request against:
//!
//! ```graphql
//! type Query {
//!   me: User!                                    # User { id name email }
//!   projectToken: ProjectToken!                  # { projectId environmentId project { id name } environment { id name } }
//!   project(id: String!): Project!               # { id name environments { edges { node { id name } } } services { … } }
//!   serviceInstance(environmentId: String!, serviceId: String!): ServiceInstance!
//!                                                # { id numReplicas source { image repo } }
//!   deployment(id: String!): Deployment!
//!   deployments(input: DeploymentListInput!, first: Int): QueryDeploymentsConnection!  # edges { node { … } }
//!   buildLogs(deploymentId: String!, endDate: DateTime, filter: String, limit: Int, startDate: DateTime): [Log!]!
//!   deploymentLogs(deploymentId: String!, endDate: DateTime, filter: String, limit: Int, startDate: DateTime): [Log!]!
//! }
//! type Mutation {
//!   serviceInstanceDeployV2(commitSha: String, environmentId: String!, serviceId: String!): String!
//!   serviceInstanceUpdate(environmentId: String, input: ServiceInstanceUpdateInput!, serviceId: String!): Boolean!
//!   deploymentRollback(id: String!): Boolean!    # a Boolean: no subfields (the docs' `{ id status }` is wrong)
//!   deploymentCancel(id: String!): Boolean!
//!   deploymentRemove(id: String!): Boolean!
//! }
//! type Deployment { id: String! status: DeploymentStatus! createdAt: DateTime! deploymentStopped: Boolean!
//!   canRollback: Boolean! staticUrl: String url: String meta: JSON }
//! type Log { timestamp: String! message: String! severity: String }
//! input ServiceInstanceUpdateInput { source: ServiceSourceInput numReplicas: Int … }
//! input ServiceSourceInput { image: String repo: String }
//! input DeploymentListInput { projectId: String serviceId: String environmentId: String
//!   includeDeleted: Boolean status: DeploymentStatusInput }
//! input DeploymentStatusInput { in: [DeploymentStatus!] notIn: [DeploymentStatus!] }
//! enum DeploymentStatus { BUILDING CRASHED DEPLOYING FAILED INITIALIZING NEEDS_APPROVAL QUEUED
//!   REMOVED REMOVING SKIPPED SLEEPING SUCCESS WAITING }
//! ```

use crate::http::Retry;

/// One operation: its name, its document, the root field it reads and how it may be retried.
#[derive(Debug, Clone, Copy)]
pub(super) struct Op {
    pub(super) name: &'static str,
    pub(super) field: &'static str,
    pub(super) document: &'static str,
    pub(super) retry: Retry,
}

const fn query(name: &'static str, field: &'static str, document: &'static str) -> Op {
    Op { name, field, document, retry: Retry::Idempotent }
}

/// The fields of a deployment the adapter reads.
macro_rules! deployment_fields {
    () => {
        "id status createdAt deploymentStopped canRollback staticUrl url meta"
    };
}

pub(super) const ME: Op = query("UserMeta", "me", "query UserMeta { me { id name email } }");

pub(super) const PROJECT_TOKEN: Op = query(
    "ProjectToken",
    "projectToken",
    "query ProjectToken { projectToken { projectId environmentId project { id name } environment { id name } } }",
);

pub(super) const PROJECT: Op = query(
    "Project",
    "project",
    "query Project($id: String!) { project(id: $id) { id name environments { edges { node { id name } } } \
     services { edges { node { id name } } } } }",
);

pub(super) const SERVICE_INSTANCE: Op = query(
    "ServiceInstance",
    "serviceInstance",
    "query ServiceInstance($environmentId: String!, $serviceId: String!) { serviceInstance(environmentId: \
     $environmentId, serviceId: $serviceId) { id numReplicas source { image repo } } }",
);

pub(super) const DEPLOYMENT: Op = query(
    "DeploymentStatus",
    "deployment",
    concat!("query DeploymentStatus($id: String!) { deployment(id: $id) { ", deployment_fields!(), " } }"),
);

pub(super) const DEPLOYMENTS: Op = query(
    "Deployments",
    "deployments",
    concat!(
        "query Deployments($input: DeploymentListInput!, $first: Int) { deployments(input: $input, first: $first) ",
        "{ edges { node { ",
        deployment_fields!(),
        " } } } }"
    ),
);

pub(super) const BUILD_LOGS: Op = query(
    "BuildLogs",
    "buildLogs",
    "query BuildLogs($deploymentId: String!, $startDate: DateTime, $limit: Int) { buildLogs(deploymentId: \
     $deploymentId, startDate: $startDate, limit: $limit) { timestamp message severity } }",
);

pub(super) const DEPLOYMENT_LOGS: Op = query(
    "DeploymentLogs",
    "deploymentLogs",
    "query DeploymentLogs($deploymentId: String!, $startDate: DateTime, $limit: Int) { deploymentLogs(deploymentId: \
     $deploymentId, startDate: $startDate, limit: $limit) { timestamp message severity } }",
);

/// Creates a deployment: not idempotent (sent once; an unknown outcome is resolved by looking).
pub(super) const DEPLOY: Op = Op {
    name: "ServiceInstanceDeployV2",
    field: "serviceInstanceDeployV2",
    document: "mutation ServiceInstanceDeployV2($serviceId: String!, $environmentId: String!, $commitSha: String) \
               { serviceInstanceDeployV2(serviceId: $serviceId, environmentId: $environmentId, commitSha: $commitSha) }",
    retry: Retry::Never,
};

/// Sets the source image and replicas: a state, so repeating it is harmless.
pub(super) const UPDATE: Op = Op {
    name: "ServiceInstanceUpdate",
    field: "serviceInstanceUpdate",
    document: "mutation ServiceInstanceUpdate($serviceId: String!, $environmentId: String, $input: \
               ServiceInstanceUpdateInput!) { serviceInstanceUpdate(serviceId: $serviceId, environmentId: \
               $environmentId, input: $input) }",
    retry: Retry::Idempotent,
};

/// Creates a deployment from an earlier one's image: not idempotent.
pub(super) const ROLLBACK: Op = Op {
    name: "DeploymentRollback",
    field: "deploymentRollback",
    document: "mutation DeploymentRollback($id: String!) { deploymentRollback(id: $id) }",
    retry: Retry::Never,
};

/// Ends a deployment in progress (a second call is refused, not doubled).
pub(super) const CANCEL: Op = Op {
    name: "DeploymentCancel",
    field: "deploymentCancel",
    document: "mutation DeploymentCancel($id: String!) { deploymentCancel(id: $id) }",
    retry: Retry::Idempotent,
};

/// Takes a deployment down (removing a removed one changes nothing).
pub(super) const REMOVE: Op = Op {
    name: "DeploymentRemove",
    field: "deploymentRemove",
    document: "mutation DeploymentRemove($id: String!) { deploymentRemove(id: $id) }",
    retry: Retry::Idempotent,
};
