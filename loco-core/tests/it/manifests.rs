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
