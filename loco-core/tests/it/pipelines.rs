//! Pipelines and promotion through the engine on real SQLite files: the conformance vectors of
//! `tests/conformance/pipelines.json`, and concurrent promotions of one commit making one
//! deployment.

use std::collections::BTreeMap;
use std::sync::Arc;

use loco_core::pipeline::Pipeline;
use loco_core::{Engine, Error, NewDeployment};
use serde_json::{Value, json};

use crate::common::{temp_db, text, vectors};

fn new(step: &Value) -> NewDeployment {
    NewDeployment {
        service: text(step, "service").into(),
        environment: text(step, "environment").into(),
        version: text(step, "version").into(),
        requester: "alice".into(),
        work_refs: vec!["PIPE-1".into()],
        rollback_plan: "redeploy".into(),
        risk: Some("low".into()),
        commit: step["commit"].as_str().map(str::to_owned),
    }
}

/// Runs every vector of `tests/conformance/pipelines.json` through the engine.
#[tokio::test]
async fn pipeline_vectors() {
    let vectors = vectors("pipelines.json");
    assert!(vectors.len() >= 35, "the vectors are there");
    for vector in &vectors {
        let name = text(vector, "name");
        let (_dir, path) = temp_db();
        let engine = Engine::open(&path).await.expect("open");
        let mut refs: BTreeMap<String, String> = BTreeMap::new();
        for (n, step) in vector["steps"].as_array().expect("steps").iter().enumerate() {
            let at = format!("{name}, step {n}");
            let id = || refs.get(text(step, "ref")).cloned().unwrap_or_else(|| "dep_00000000000000000000000000".into());
            let outcome: Result<Value, Error> = match text(step, "op") {
                "pipeline" => match Pipeline::from_json(&step["pipeline"].to_string()) {
                    Ok(p) => engine.set_pipeline(p, "root").await.map(|_| Value::Null),
                    Err(e) => Err(e),
                },
                "remove_pipeline" => engine.remove_pipeline(text(step, "service")).await.map(|()| Value::Null),
                "create" => engine.create(new(step), None).await.map(|d| {
                    refs.insert(text(step, "ref").to_owned(), d.id);
                    Value::Null
                }),
                "approve" => engine.approve(&id(), "bob", None).await.map(|_| Value::Null),
                "start" => engine.start(&id(), "dana", None).await.map(|_| Value::Null),
                "succeed" => engine.succeed(&id(), "dana", None).await.map(|_| Value::Null),
                "fail" => engine.fail(&id(), "dana", "vector").await.map(|_| Value::Null),
                "rollback" => engine.rollback(&id(), "dana", "vector").await.map(|_| Value::Null),
                "promote" => engine.promote(&id(), text(step, "actor")).await.map(|d| {
                    refs.insert(text(step, "as").to_owned(), d.id);
                    Value::Null
                }),
                "view" => engine
                    .pipeline_view(text(step, "service"), text(step, "version"))
                    .await
                    .map(|v| serde_json::to_value(v).expect("json")),
                op => panic!("{at}: unknown op {op}"),
            };
            let expect = &step["expect"];
            if expect.is_null() {
                outcome.unwrap_or_else(|e| panic!("{at}: {e}"));
                continue;
            }
            let name_of = |id: &Value| {
                id.as_str().map_or(Value::Null, |id| {
                    json!(refs.iter().find(|(_, v)| v.as_str() == id).map_or(id, |(k, _)| k.as_str()))
                })
            };
            match (expect["error"].as_str(), outcome) {
                (Some(code), Err(e)) => {
                    assert_eq!(e.code(), code, "{at}: {e}");
                    if let Some(fields) = expect.get("fields") {
                        let found: Vec<&str> = e.details().iter().map(|d| d.field.as_str()).collect();
                        assert_eq!(&json!(found), fields, "{at}: fields");
                    }
                }
                (Some(code), Ok(value)) => panic!("{at}: expected {code}, got {value}"),
                (None, Err(e)) => panic!("{at}: {e}"),
                (None, Ok(view)) => {
                    if let Some(stages) = expect.get("stages") {
                        let found: Vec<Value> = view["stages"]
                            .as_array()
                            .expect("stages")
                            .iter()
                            .map(|s| json!([s["environment"], name_of(&s["deployment_id"]), s["status"]]))
                            .collect();
                        assert_eq!(&json!(found), stages, "{at}: stages");
                        assert_eq!(view["next"], expect["next"], "{at}: next");
                    }
                }
            }
            if let Some(pipelines) = expect.get("pipelines") {
                let found = engine.pipelines().await.expect("pipelines");
                let found: Vec<Value> = found.iter().map(|p| json!([p.service, p.stages])).collect();
                assert_eq!(&json!(found), pipelines, "{at}: pipelines");
            }
            if let Some([a, b]) = expect["same"].as_array().map(Vec::as_slice) {
                assert_eq!(refs[a.as_str().unwrap()], refs[b.as_str().unwrap()], "{at}: the same deployment");
            }
            for (r, status) in expect["statuses"].as_object().into_iter().flatten() {
                let found = engine.get(&refs[r]).await.expect("get").status;
                assert_eq!(found.as_str(), status, "{at}: status of {r}");
            }
            for (r, kinds) in expect["events"].as_object().into_iter().flatten() {
                let events = engine.events(&refs[r]).await.expect("events");
                let found: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
                assert_eq!(&json!(found), kinds, "{at}: events of {r}");
            }
            for (r, fields) in expect["deployment"].as_object().into_iter().flatten() {
                let d = serde_json::to_value(engine.get(&refs[r]).await.expect("get")).expect("json");
                for (field, value) in fields.as_object().expect("fields") {
                    assert_eq!(&d[field], value, "{at}: {field} of {r}");
                }
            }
        }
        assert!(engine.verify_audit().await.expect("verify").valid, "{name}: the audit chain holds");
        engine.close().await.expect("close");
    }
}

#[tokio::test]
async fn concurrent_promotions_of_one_commit_make_one_deployment_with_one_promoted_event() {
    let (_dir, path) = temp_db();
    let engine = Arc::new(Engine::open(&path).await.unwrap());
    let pipeline = Pipeline::from_json(r#"{"service": "web", "stages": ["dev", "production"]}"#).unwrap();
    engine.set_pipeline(pipeline, "root").await.unwrap();
    let source =
        json!({"op": "create", "service": "web", "environment": "dev", "version": "3.1.0", "commit": "c0ffee"});
    let d = engine.create(new(&source), None).await.unwrap();
    engine.approve(&d.id, "bob", None).await.unwrap();
    engine.start(&d.id, "dana", None).await.unwrap();
    engine.succeed(&d.id, "dana", None).await.unwrap();
    let promotions: Vec<_> = (0..8)
        .map(|i| {
            let (engine, id) = (Arc::clone(&engine), d.id.clone());
            tokio::spawn(async move { engine.promote(&id, &format!("promoter-{i}")).await })
        })
        .collect();
    let mut ids = Vec::new();
    for promotion in promotions {
        ids.push(promotion.await.unwrap().unwrap().id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every promotion returned the one open deployment");
    let events = engine.events(&ids[0]).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["created", "promoted"]);
    assert_eq!(events[1].data.as_ref().unwrap()["from_deployment"], json!(d.id));
    assert_eq!(events[0].actor, events[1].actor, "the promoter requested it");
}
