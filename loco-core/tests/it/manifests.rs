//! The manifest vectors (tests/conformance/manifests.json) through `loco_core::manifest::parse`:
//! valid manifests give the values listed, invalid ones every problem at its path and line.

use std::fmt::Write as _;

use loco_core::ErrorCode;
use loco_core::manifest;
use serde_json::Value;

use crate::common::{text, vectors};

/// The value at `path` (`stages[1].rollout.instances`) inside `value`.
pub fn at<'a>(value: &'a Value, path: &str) -> &'a Value {
    let mut here = value;
    for part in path.split('.') {
        let (name, indexes) = part.split_once('[').map_or((part, ""), |(n, rest)| (n, rest));
        here = &here[name];
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            here = &here[index.trim_end_matches(']').parse::<usize>().expect("index")];
        }
    }
    here
}

#[test]
fn every_manifest_vector_reads_the_same_way() {
    let all = vectors("manifests.json");
    assert!(all.iter().filter(|v| v["expect"]["valid"] == false).count() >= 30, "at least 30 bad manifests");
    for vector in all {
        let name = text(&vector, "name");
        let expect = &vector["expect"];
        match manifest::parse(text(&vector, "manifest")) {
            Ok(parsed) => {
                assert_eq!(expect["valid"], true, "{name}: parsed, but should fail with {expect}");
                let json = serde_json::to_value(&parsed).expect("serialize");
                for (path, value) in expect["values"].as_object().expect("values") {
                    assert_eq!(at(&json, path), value, "{name}: {path}");
                }
            }
            Err(error) => {
                assert_eq!(expect["valid"], false, "{name}: {error}");
                assert_eq!(error.code(), ErrorCode::ValidationError.as_str(), "{name}");
                let got: Vec<(String, Option<u32>)> =
                    error.details().iter().map(|d| (d.field.clone(), d.line)).collect();
                let want: Vec<(String, Option<u32>)> = expect["problems"]
                    .as_array()
                    .expect("problems")
                    .iter()
                    .map(|p| (text(p, "field").to_owned(), p["line"].as_u64().map(|l| l as u32)))
                    .collect();
                assert_eq!(got, want, "{name}: {error}");
                assert!(error.details().iter().all(|d| d.column.is_some_and(|c| c >= 1)), "{name}: columns");
            }
        }
    }
}

#[test]
fn the_published_schema_is_the_generated_one_and_names_every_top_level_field() {
    let schema = manifest::schema();
    let published: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/manifest.schema.json")).expect("read"),
    )
    .expect("parse");
    assert_eq!(schema, published, "schema/manifest.schema.json is stale: run scripts/codegen/run");
    let properties: Vec<&String> = schema["properties"].as_object().expect("properties").keys().collect();
    assert_eq!(properties, ["apiVersion", "freeze_windows", "require_previous_success", "service", "stages"]);
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["$defs"]["Stage"]["additionalProperties"], false);
}

#[test]
fn an_oversized_manifest_is_refused_before_it_is_read() {
    let text = format!("apiVersion: loco/v1\n# {}\n", "x".repeat(manifest::MAX_BYTES));
    let error = manifest::parse(&text).unwrap_err();
    assert_eq!(error.details()[0].field, "manifest");
    assert!(error.details()[0].message.contains("262144"), "{error}");
}

#[test]
fn a_manifest_with_thousands_of_problems_reports_the_first_hundred_and_how_many_more() {
    let stages = (0..6000).fold(String::new(), |mut text, i| {
        let _ = writeln!(text, "  - {{environment: e{i}, colour: blue}}");
        text
    });
    let text = format!("apiVersion: loco/v1\nservice: web\nstages:\n{stages}");
    assert!(text.len() < manifest::MAX_BYTES);
    let error = manifest::parse(&text).unwrap_err();
    let details = error.details();
    assert_eq!(details.len(), manifest::MAX_PROBLEMS + 1);
    assert_eq!((details[0].field.as_str(), details[0].line), ("stages", Some(3)), "10 stages at most: {}", details[0]);
    assert_eq!((details[1].field.as_str(), details[1].line), ("stages[0].colour", Some(4)));
    assert_eq!(details[100].field, "manifest");
    assert_eq!(details[100].message, "has 5901 more problems after these");
}

#[tokio::test]
async fn an_engine_applies_a_manifest_only_when_it_is_valid_and_signed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = loco_core::Engine::open(dir.path().join("loco.db")).await.unwrap();
    let good = text(&vectors("manifests.json")[0], "manifest").to_owned();
    let bad = good.replace("required_approvals: 2", "required_approvals: 0");
    let refused = engine.apply_manifest(&bad, "root").await.unwrap_err();
    assert_eq!(
        (refused.details()[0].field.as_str(), refused.details()[0].line),
        ("stages[2].approval.required_approvals", Some(19))
    );
    let unsigned = engine.apply_manifest(&good, " ").await.unwrap_err();
    assert_eq!(unsigned.details()[0].field, "by");
    assert!(engine.manifests().await.unwrap().is_empty(), "nothing stored");
    assert!(engine.pipelines().await.unwrap().is_empty() && engine.gates().await.unwrap().is_empty());
    let missing = engine.manifest("checkout", None).await.unwrap_err();
    assert_eq!(missing.code(), ErrorCode::NotFound.as_str());
    assert_eq!(missing.to_string(), "service 'checkout' has no manifest");
    assert_eq!(engine.manifest_history("checkout").await.unwrap_err().code(), "not_found");

    let (record, wrote) = engine.apply_manifest(&good, "root").await.unwrap();
    assert_eq!((record.version, wrote, record.applied_by.as_str()), (1, true, "root"));
    assert_eq!(
        engine.manifest("checkout", Some(2)).await.unwrap_err().to_string(),
        "service 'checkout' has no manifest version 2"
    );
    engine.close().await.unwrap();
    let engine = loco_core::Engine::open(dir.path().join("loco.db")).await.unwrap();
    let (again, wrote) = engine.apply_manifest(&good, "someone else").await.unwrap();
    assert_eq!((again.version, wrote, again.applied_by.as_str()), (1, false, "root"), "the same text keeps version 1");
    assert_eq!(engine.gates().await.unwrap()[0].environment, "production");
    // A deployment created under the manifest records its version, and the audit replays it.
    let new = loco_core::NewDeployment {
        service: "checkout".into(),
        environment: "dev".into(),
        version: "1.0.0".into(),
        requester: "alice".into(),
        work_refs: vec!["PAY-1".into()],
        rollback_plan: "redeploy".into(),
        risk: None,
        commit: None,
    };
    let created = engine.create(new, None).await.unwrap();
    let events = engine.events(&created.id).await.unwrap();
    assert_eq!(events[0].data.as_ref().unwrap()["manifest_version"], 1);
    let report = engine.verify_audit().await.unwrap();
    assert!(report.valid && report.deployments_checked == 1, "{report:?}");
    engine.close().await.unwrap();
}

/// A manifest of `web` whose dev stage runs the demo service on the local platform, `instances`
/// of it, and whose staging stage sets no rollout.
fn local_manifest(instances: u32) -> String {
    format!(
        "apiVersion: loco/v1
service: web
stages:
  - environment: dev
    rollout:
      platform: local
      strategy: {{type: immediate}}
      release: {{command: [python3, '{app}']}}
      instances: {instances}
      health: {{probes: [{{type: http, path: /health}}], retries: 40, backoff_initial_seconds: 0.05, backoff_max_seconds: 0.2}}
  - environment: staging
",
        app = crate::local::APP
    )
}

fn web(environment: &str, version: &str) -> loco_core::NewDeployment {
    loco_core::NewDeployment { version: version.into(), ..crate::common::request("web", environment) }
}

async fn approved(engine: &loco_core::Engine, environment: &str, version: &str) -> String {
    let created = engine.create(web(environment, version), None).await.unwrap();
    engine.apply(&created.id, loco_core::Action::Approve, loco_core::ActionInput::new("bob")).await.unwrap();
    created.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_without_a_plan_rolls_out_the_stage_plan_of_the_manifest_the_deployment_was_created_under() {
    let dir = tempfile::tempdir().unwrap();
    let engine = crate::local::local_engine(dir.path()).await;
    let before = approved(&engine, "dev", "0.9.0").await;
    let refused = engine.manifest_plan(&before).await.unwrap_err();
    assert_eq!((refused.code(), refused.details()[0].field.as_str()), ("validation_error", "plan"));
    assert!(refused.to_string().contains("was not created under a manifest of service 'web'"), "{refused}");
    let input = loco_core::ActionInput::new("ops");
    let refused = engine.start_rollout_with(&before, None, input.clone()).await.unwrap_err();
    assert_eq!(refused.details()[0].field, "plan");
    assert_eq!(engine.get(&before).await.unwrap().status, loco_core::Status::Approved, "nothing started");

    engine.apply_manifest(&local_manifest(1), "root").await.unwrap();
    let v1 = approved(&engine, "dev", "1.0.0").await;
    engine.apply_manifest(&local_manifest(2), "root").await.unwrap();
    // The plan is the one of the version it was created under (1 instance), not the newest (2).
    let plan = engine.manifest_plan(&v1).await.unwrap();
    assert_eq!((plan.instances, plan.release.version.as_str()), (1, ""));
    let handle = engine.start_rollout_with(&v1, None, input.clone()).await.unwrap();
    let rollout = engine.wait_rollout(&handle.deployment_id).await.unwrap();
    assert_eq!(rollout.state, loco_core::rollout::RolloutState::Succeeded, "{:?}", rollout.failure);
    assert_eq!(rollout.plan.instances, 1);
    assert_eq!(rollout.plan.release.version, "1.0.0", "the deployment's version fills the empty one");
    let endpoint = rollout.progress.endpoint.clone().expect("proxy endpoint");
    let served = crate::local::versions(&endpoint, 3).await;
    assert_eq!(served, std::collections::HashMap::from([("1.0.0".to_owned(), 3)]));

    let v2 = approved(&engine, "dev", "2.0.0").await;
    assert_eq!(engine.manifest_plan(&v2).await.unwrap().instances, 2, "created under version 2");
    let staged = engine.promote(&v1, "alice").await.unwrap();
    let none = engine.manifest_plan(&staged.id).await.unwrap_err();
    assert!(
        none.to_string().contains("stage 'staging' of version 2 of the manifest of 'web' sets no rollout"),
        "{none}"
    );
    assert_eq!(engine.manifest_plan("dep_missing").await.unwrap_err().code(), "not_found");
    engine.close().await.unwrap();
}

#[tokio::test]
async fn a_manifest_may_name_only_reviewer_groups_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    let engine = loco_core::Engine::open(dir.path().join("loco.db")).await.unwrap();
    let text = "apiVersion: loco/v1
service: web
stages:
  - environment: staging
  - environment: production
    approval: {required_approvals: 2, approvers: [dana], groups: [sre, security]}
";
    let refused = engine.apply_manifest(text, "root").await.unwrap_err();
    let fields: Vec<&str> = refused.details().iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, ["stages[1].approval.groups[0]", "stages[1].approval.groups[1]"], "{refused}");
    assert!(engine.manifests().await.unwrap().is_empty() && engine.pipelines().await.unwrap().is_empty());
    for name in ["sre", "security"] {
        let group = loco_core::gate::ReviewerGroup { name: name.into(), members: vec![format!("{name}-lead")] };
        engine.set_group(group, "root").await.unwrap();
    }
    let (record, _) = engine.apply_manifest(text, "root").await.unwrap();
    assert_eq!(record.version, 1);
    let gates = engine.gates().await.unwrap();
    assert_eq!(
        (gates[0].groups.as_slice(), gates[0].members.as_slice()),
        (["sre", "security"].map(String::from).as_slice(), ["security-lead", "sre-lead"].map(String::from).as_slice())
    );
    let named = engine.remove_group("security").await.unwrap_err();
    assert!(named.to_string().contains("named by the gate of production"), "{named}");
    engine.close().await.unwrap();
}
