//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use loco_core::{Deployment, Engine, NewDeployment};
use tempfile::TempDir;

/// A valid staging deployment request for `service`.
pub fn request(service: &str, environment: &str) -> NewDeployment {
    NewDeployment {
        service: service.into(),
        environment: environment.into(),
        version: "1.0.0".into(),
        requester: "alice".into(),
        work_refs: vec!["PROJ-1".into()],
        rollback_plan: "redeploy the previous version".into(),
        risk: None,
        commit: None,
    }
}

/// A fresh database file in its own temporary directory (kept alive by the returned guard).
pub fn temp_db() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("loco.db");
    (dir, path)
}

/// An engine on a fresh database file.
pub async fn temp_engine() -> (TempDir, PathBuf, Engine) {
    let (dir, path) = temp_db();
    let engine = Engine::open(&path).await.expect("open engine");
    (dir, path, engine)
}

/// Creates a deployment and drives it through approve → start.
pub async fn started(engine: &Engine, service: &str) -> Deployment {
    let d = engine.create(request(service, "staging"), None).await.expect("create");
    engine.approve(&d.id, "bob", None).await.expect("approve");
    engine.start(&d.id, "ops", None).await.expect("start")
}

/// Makes a rollout look like its engine died: another host's owner with an old heartbeat.
pub fn orphan(path: &Path, id: &str) {
    let raw = rusqlite::Connection::open(path).unwrap();
    raw.execute(
        "UPDATE rollouts SET owner = 'crashed-host/1/1', heartbeat_at = '2020-01-01T00:00:00.000000Z' WHERE deployment_id = ?1",
        [id],
    )
    .unwrap();
}

/// The vectors of `tests/conformance/{file}`.
pub fn vectors(file: &str) -> Vec<serde_json::Value> {
    let path = format!("{}/../tests/conformance/{file}", env!("CARGO_MANIFEST_DIR"));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read vectors")).expect("parse");
    doc["vectors"].as_array().expect("vectors").clone()
}

/// The string `key` of a vector or step (panics naming it when it is missing).
pub fn text<'a>(step: &'a serde_json::Value, key: &str) -> &'a str {
    step[key].as_str().unwrap_or_else(|| panic!("'{key}' in {step}"))
}
