//! Executing one GraphQL request against the Railway fake's world: validation (operation name,
//! variables, arguments, selections — before a mutation acts), the token's scope, and one
//! resolver per root field.

use serde_json::{Map, Value, json};

use super::graphql::{self, Field, GqlError, Kind, Operation};
use super::model::{Deployment, Source, World};
use super::schema;
use super::validate;
use crate::common::time::{Separator, parse_rfc3339, rfc3339_micros};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Auth {
    /// An account (or workspace, or OAuth) token: everything.
    Account,
    /// A project token: one environment of one project.
    Project,
    /// No token, or one the fake does not know.
    Rejected,
}

/// What a request produced.
pub(super) struct Executed {
    /// The GraphQL response body.
    pub(super) body: Value,
    /// A mutation created a deployment and must now answer 500 (an unknown outcome).
    pub(super) fail_after_acting: bool,
}

fn error_body(errors: &[(GqlError, Option<&str>)], with_data: bool) -> Value {
    let errors: Vec<Value> = errors
        .iter()
        .map(|(e, path)| {
            let mut entry = json!({ "message": e.message });
            if let Some((line, column)) = e.at {
                entry["locations"] = json!([{ "line": line, "column": column }]);
            }
            if let Some(path) = path {
                entry["path"] = json!([path]);
            }
            let code = match e.message.as_str() {
                "Not Authorized" => "UNAUTHORIZED",
                m if m.ends_with("not found") => "NOT_FOUND",
                _ if path.is_none() => "GRAPHQL_VALIDATION_FAILED",
                _ => "BAD_USER_INPUT",
            };
            entry["extensions"] = json!({ "code": code });
            entry
        })
        .collect();
    if with_data { json!({ "data": null, "errors": errors }) } else { json!({ "errors": errors }) }
}

fn fail(message: impl Into<String>) -> GqlError {
    GqlError::new(message, None)
}

/// Runs the request `body` (`{query, variables, operationName}`) for `auth`.
pub(super) fn execute(world: &mut World, auth: &Auth, body: &Value) -> Executed {
    let refused = |e: GqlError| Executed { body: error_body(&[(e, None)], false), fail_after_acting: false };
    let Some(query) = body.get("query").and_then(Value::as_str) else {
        return refused(fail("Must provide query string."));
    };
    let name = body.get("operationName").and_then(Value::as_str);
    let variables = match body.get("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => {
            return refused(fail("Variables must be provided as an Object where each property is a variable value."));
        }
    };
    let operation = match graphql::parse(query).and_then(|ops| graphql::pick(ops, name)) {
        Ok(operation) => operation,
        Err(e) => return refused(e),
    };
    if let Err(e) = validate::check_variables(&operation, &variables) {
        return refused(e);
    }
    let mut calls = Vec::new();
    for field in &operation.fields {
        match validate(field, &operation, &variables) {
            Ok(args) => calls.push((field, args)),
            Err(e) => return refused(e),
        }
    }
    let mut data = Map::new();
    let mut acted = false;
    for (field, args) in calls {
        let returns = schema::root(&field.name).map_or("", |r| r.returns);
        let resolved = if *auth == Auth::Rejected {
            Err(fail("Not Authorized"))
        } else {
            resolve(world, auth, &field.name, &args, &mut acted)
        };
        match resolved.and_then(|value| validate::project(&value, field, returns.trim_end_matches('!'))) {
            Ok(value) => {
                data.insert(field.name.clone(), value);
            }
            Err(e) => {
                let e = GqlError { at: e.at.or(Some(field.at)), ..e };
                return Executed { body: error_body(&[(e, Some(&field.name))], true), fail_after_acting: false };
            }
        }
    }
    let fail_after_acting = acted && world.fail_after_acting > 0;
    if fail_after_acting {
        world.fail_after_acting -= 1;
    }
    Executed { body: json!({ "data": data }), fail_after_acting }
}

/// Checks a root field before anything runs: it exists on the operation's root type, its
/// arguments type-check, and its selection fits its return type (a mutation with a bad selection
/// must not act).
fn validate(
    field: &Field,
    operation: &Operation,
    variables: &Map<String, Value>,
) -> Result<Map<String, Value>, GqlError> {
    let parent = match operation.kind {
        Kind::Query => "Query",
        Kind::Mutation => "Mutation",
        Kind::Subscription => {
            return Err(GqlError::new(
                "the Railway fake serves no subscriptions (they need a WebSocket)",
                Some(field.at),
            ));
        }
    };
    let root = schema::root(&field.name).filter(|r| r.kind == operation.kind).ok_or_else(|| {
        GqlError::new(format!("Cannot query field \"{}\" on type \"{parent}\".", field.name), Some(field.at))
    })?;
    let args = validate::arguments(field, parent, operation, variables)?;
    let template = match root.returns {
        "String!" => json!(""),
        "Boolean!" => json!(true),
        "Deployment!" => template_deployment(),
        _ => return Ok(args), // queries act on nothing: their selections are checked on the answer
    };
    validate::project(&template, field, root.returns)?;
    Ok(args)
}

fn template_deployment() -> Value {
    Deployment::template().json("", "")
}

fn text<'a>(args: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    args.get(name).and_then(Value::as_str)
}

fn resolve(
    world: &mut World,
    auth: &Auth,
    field: &str,
    args: &Map<String, Value>,
    acted: &mut bool,
) -> Result<Value, GqlError> {
    let id = text(args, "id").unwrap_or_default().to_owned();
    match field {
        "me" => match auth {
            Auth::Account => {
                let o = &world.options;
                Ok(json!({ "__typename": "User", "id": o.user_id, "name": o.user_name, "email": o.email }))
            }
            _ => Err(fail("Not Authorized")),
        },
        "projectToken" => match auth {
            Auth::Project => {
                let o = &world.options;
                let env = o.project_token_environment.clone();
                let env_name = o.environments.iter().find(|(id, _)| *id == env).map(|(_, n)| n.clone());
                Ok(json!({
                    "__typename": "ProjectToken",
                    "projectId": o.project_id,
                    "environmentId": env,
                    "project": { "__typename": "Project", "id": o.project_id, "name": o.project_name },
                    "environment": { "__typename": "Environment", "id": env, "name": env_name },
                }))
            }
            _ => Err(fail("Project Token not found")),
        },
        "project" => {
            scope(world, auth, &id, None)?;
            Ok(project_json(world))
        }
        "service" => {
            let service =
                world.options.services.iter().find(|s| s.id == id).ok_or_else(|| fail("Service not found"))?;
            Ok(json!({
                "__typename": "Service", "id": service.id, "name": service.name,
                "projectId": world.options.project_id, "createdAt": rfc3339_micros(0), "deletedAt": null,
            }))
        }
        "serviceInstance" => {
            let (service, env) =
                (text(args, "serviceId").unwrap_or_default(), text(args, "environmentId").unwrap_or_default());
            scope(world, auth, &world.options.project_id.clone(), Some(env))?;
            instance_json(world, service, env)
        }
        "deployment" => {
            world.tick(world.ticks_per_poll);
            let deployment = visible(world, auth, &id)?;
            Ok(deployment.json(&world.options.project_id, &world.domain_of(deployment)))
        }
        "deployments" => {
            world.tick(world.ticks_per_poll);
            deployments(world, auth, args)
        }
        "buildLogs" | "deploymentLogs" => logs(world, auth, field, args),
        "serviceInstanceDeployV2" => {
            let (service, env) =
                (text(args, "serviceId").unwrap_or_default(), text(args, "environmentId").unwrap_or_default());
            scope(world, auth, &world.options.project_id.clone(), Some(env))?;
            let instance = world.instance(service, env).ok_or_else(|| fail("ServiceInstance not found"))?;
            let source = match (text(args, "commitSha"), &instance.image, &instance.repo) {
                (Some(_), _, None) => return Err(fail("Cannot deploy a commit: the service has no repository source")),
                (Some(sha), _, Some(repo)) if instance.commits.iter().any(|c| c == sha) => {
                    Source::Commit { repo: repo.clone(), sha: sha.to_owned() }
                }
                (Some(_), _, Some(_)) => return Err(fail("Commit not found")),
                (None, Some(image), _) => Source::Image(image.clone()),
                (None, None, Some(repo)) => match instance.commits.last() {
                    Some(head) => Source::Commit { repo: repo.clone(), sha: head.clone() },
                    None => return Err(fail("Commit not found")),
                },
                (None, None, None) => return Err(fail("Service has no source to deploy")),
            };
            *acted = true;
            Ok(json!(world.create(service, env, source, "deploy")))
        }
        "serviceInstanceUpdate" => update(world, auth, args),
        _ => deployment_mutation(world, auth, field, &id, acted),
    }
}

/// Mutations on one deployment.
fn deployment_mutation(
    world: &mut World,
    auth: &Auth,
    field: &str,
    id: &str,
    acted: &mut bool,
) -> Result<Value, GqlError> {
    let deployment = visible(world, auth, id)?.clone();
    let (service, env) = (deployment.service_id.as_str(), deployment.environment_id.as_str());
    let now = world.now();
    let refuse = |message: &str| Err(fail(message));
    match field {
        "deploymentRollback" if !deployment.can_rollback() => refuse("Deployment cannot be rolled back"),
        "deploymentRollback" => {
            if let (Source::Image(image), Some(instance)) = (&deployment.source, world.instance_mut(service, env)) {
                instance.image = Some(image.clone());
            }
            *acted = true;
            world.create(service, env, deployment.source.clone(), "rollback");
            Ok(json!(true))
        }
        "deploymentRedeploy" if deployment.in_progress() => refuse("Deployment cannot be redeployed"),
        "deploymentRedeploy" => {
            *acted = true;
            let new = world.create(service, env, deployment.source.clone(), "redeploy");
            let created = world.deployment(&new).ok_or_else(|| fail("Deployment not found"))?;
            Ok(created.json(&world.options.project_id, &world.domain_of(created)))
        }
        "deploymentCancel" if !deployment.in_progress() || deployment.status == "REMOVING" => {
            refuse("Deployment is not in progress")
        }
        "deploymentStop" if !deployment.serving() => refuse("Deployment is not running"),
        "deploymentRestart" if !matches!(deployment.status, "SUCCESS" | "SLEEPING" | "CRASHED") => {
            refuse("Deployment cannot be restarted")
        }
        "deploymentCancel" | "deploymentRemove" | "deploymentStop" | "deploymentRestart" => {
            let target = world.deployment_mut(id).ok_or_else(|| fail("Deployment not found"))?;
            match field {
                "deploymentCancel" => target.cancel(now),
                "deploymentRemove" => target.remove(now),
                "deploymentStop" => target.stopped = true,
                _ => target.restart(now),
            }
            Ok(json!(true))
        }
        other => Err(fail(format!("Cannot query field \"{other}\" on type \"Mutation\"."))),
    }
}

/// A project token may only reach its own project and environment; an account token every id
/// that exists.
fn scope(world: &World, auth: &Auth, project: &str, environment: Option<&str>) -> Result<(), GqlError> {
    let o = &world.options;
    let token_env = (*auth == Auth::Project).then_some(o.project_token_environment.as_str());
    if project != o.project_id {
        return Err(fail(if token_env.is_some() { "Not Authorized" } else { "Project not found" }));
    }
    match (environment, token_env) {
        (Some(env), Some(own)) if env != own => Err(fail("Not Authorized")),
        (Some(env), _) if !o.environments.iter().any(|(id, _)| id == env) => Err(fail("Environment not found")),
        _ => Ok(()),
    }
}

fn visible<'w>(world: &'w World, auth: &Auth, id: &str) -> Result<&'w Deployment, GqlError> {
    let deployment = world.deployment(id).ok_or_else(|| fail("Deployment not found"))?;
    scope(world, auth, &world.options.project_id, Some(&deployment.environment_id))?;
    Ok(deployment)
}

fn connection(nodes: Vec<Value>) -> Value {
    let edges: Vec<Value> = nodes
        .into_iter()
        .map(|node| json!({ "__typename": "Edge", "cursor": node["id"].clone(), "node": node }))
        .collect();
    json!({ "__typename": "Connection", "edges": edges, "pageInfo": { "__typename": "PageInfo", "hasNextPage": false } })
}

fn project_json(world: &World) -> Value {
    let o = &world.options;
    let environments = o
        .environments
        .iter()
        .map(|(id, name)| json!({ "__typename": "Environment", "id": id, "name": name }))
        .collect();
    let services = o.services.iter().map(|s| json!({ "__typename": "Service", "id": s.id, "name": s.name })).collect();
    json!({
        "__typename": "Project", "id": o.project_id, "name": o.project_name, "workspaceId": o.workspace_id,
        "environments": connection(environments), "services": connection(services),
    })
}

fn instance_json(world: &World, service: &str, env: &str) -> Result<Value, GqlError> {
    let i = world.instance(service, env).ok_or_else(|| fail("ServiceInstance not found"))?;
    let mine: Vec<&Deployment> =
        world.deployments.iter().filter(|d| d.service_id == service && d.environment_id == env).collect();
    let domain = i.domain();
    let latest = mine.last().map_or(Value::Null, |d| d.json(&world.options.project_id, &domain));
    let active: Vec<Value> =
        mine.iter().filter(|d| d.serving()).map(|d| d.json(&world.options.project_id, &domain)).collect();
    Ok(json!({
        "__typename": "ServiceInstance", "id": i.id, "serviceId": i.service_id, "serviceName": i.service_name,
        "environmentId": i.environment_id, "numReplicas": i.num_replicas, "region": "us-west2",
        "healthcheckPath": "/healthz",
        "source": if i.image.is_none() && i.repo.is_none() { Value::Null } else {
            json!({ "__typename": "ServiceSource", "image": i.image, "repo": i.repo })
        },
        "latestDeployment": latest, "activeDeployments": active,
    }))
}

fn deployments(world: &World, auth: &Auth, args: &Map<String, Value>) -> Result<Value, GqlError> {
    let input = args.get("input").cloned().unwrap_or_default();
    let field = |name: &str| input.get(name).and_then(Value::as_str);
    let project = field("projectId").unwrap_or(&world.options.project_id).to_owned();
    scope(world, auth, &project, field("environmentId"))?;
    let own_env = (*auth == Auth::Project).then(|| world.options.project_token_environment.clone());
    let statuses = |key: &str| -> Option<Vec<String>> {
        input
            .get("status")?
            .get(key)?
            .as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
    };
    let (within, without) = (statuses("in"), statuses("notIn"));
    let first =
        args.get("first").and_then(Value::as_u64).map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let nodes = world
        .deployments
        .iter()
        .rev()
        .filter(|d| field("serviceId").is_none_or(|s| s == d.service_id))
        .filter(|d| field("environmentId").or(own_env.as_deref()).is_none_or(|e| e == d.environment_id))
        .filter(|d| within.as_ref().is_none_or(|w| w.iter().any(|s| s == d.status)))
        .filter(|d| without.as_ref().is_none_or(|w| !w.iter().any(|s| s == d.status)))
        .take(first)
        .map(|d| d.json(&world.options.project_id, &world.domain_of(d)))
        .collect();
    Ok(connection(nodes))
}

fn logs(world: &World, auth: &Auth, field: &str, args: &Map<String, Value>) -> Result<Value, GqlError> {
    let deployment = visible(world, auth, text(args, "deploymentId").unwrap_or_default())?;
    let time = |name: &str| -> Result<Option<i64>, GqlError> {
        text(args, name)
            .map(|t| {
                parse_rfc3339(t, Separator::Strict).ok_or_else(|| fail(format!("Invalid DateTime for {name}: {t}")))
            })
            .transpose()
    };
    let (start, end) = (time("startDate")?, time("endDate")?);
    let filter = text(args, "filter").unwrap_or_default();
    let limit = args.get("limit").and_then(Value::as_u64).map_or(500, |n| usize::try_from(n).unwrap_or(500));
    let lines = if field == "buildLogs" { &deployment.build_logs } else { &deployment.deploy_logs };
    let chosen: Vec<_> = lines
        .iter()
        .filter(|l| start.is_none_or(|s| l.at >= s) && end.is_none_or(|e| l.at <= e) && l.message.contains(filter))
        .collect();
    // From a start date: the oldest `limit` after it; without one: the newest `limit`.
    let skip = if start.is_some() { 0 } else { chosen.len().saturating_sub(limit) };
    let tags = json!({ "deploymentId": deployment.id, "serviceId": deployment.service_id, "environmentId": deployment.environment_id });
    Ok(Value::Array(
        chosen
            .into_iter()
            .skip(skip)
            .take(limit)
            .map(|l| {
                json!({
                    "__typename": "Log", "timestamp": rfc3339_micros(l.at), "message": l.message, "severity": l.severity,
                    "attributes": [{ "__typename": "LogAttribute", "key": "level", "value": l.severity }],
                    "tags": tags,
                })
            })
            .collect(),
    ))
}

fn update(world: &mut World, auth: &Auth, args: &Map<String, Value>) -> Result<Value, GqlError> {
    let service = text(args, "serviceId").unwrap_or_default().to_owned();
    let env = match (text(args, "environmentId"), auth) {
        (Some(env), _) => Some(env.to_owned()),
        (None, Auth::Project) => Some(world.options.project_token_environment.clone()),
        (None, _) => None, // every environment of the service
    };
    scope(world, auth, &world.options.project_id.clone(), env.as_deref())?;
    let input = args.get("input").cloned().unwrap_or_default();
    let replicas = input.get("numReplicas").and_then(Value::as_i64);
    if replicas.is_some_and(|n| !(0..=50).contains(&n)) {
        return Err(fail("numReplicas must be between 0 and 50"));
    }
    let mut found = false;
    for instance in world
        .instances
        .iter_mut()
        .filter(|i| i.service_id == service && env.as_ref().is_none_or(|e| *e == i.environment_id))
    {
        found = true;
        if let Some(image) = input.get("source").and_then(|s| s.get("image")).and_then(Value::as_str) {
            (instance.image, instance.repo) = (Some(image.to_owned()), None);
        } else if let Some(repo) = input.get("source").and_then(|s| s.get("repo")).and_then(Value::as_str) {
            (instance.image, instance.repo) = (None, Some(repo.to_owned()));
        }
        if let Some(n) = replicas.and_then(|n| u32::try_from(n).ok()) {
            instance.num_replicas = n;
        }
    }
    if !found {
        return Err(fail("ServiceInstance not found"));
    }
    // Replica changes apply to what runs without a redeploy.
    if let Some(n) = replicas.and_then(|n| u32::try_from(n).ok()) {
        for d in world.deployments.iter_mut().filter(|d| d.service_id == service && d.serving()) {
            if env.as_ref().is_none_or(|e| *e == d.environment_id) {
                d.num_replicas = n;
            }
        }
    }
    Ok(json!(true))
}
