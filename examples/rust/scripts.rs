//! Deployment scripts and validation around real releases: each release of `shop` is checked
//! before it may start (its configuration, and no credential in a plain variable), runs a
//! database migration before any instance starts (`pre_deploy`) and a smoke test against the live
//! endpoint once it serves all traffic (`validation.smoke_tests`). Release 1.1.0 answers 500 on
//! `/`, so its smoke test fails and Loco rolls back to 1.0.0 — with the `on_rollback` script
//! telling the team. Release 1.2.0 carries an AWS access key in a plain variable: validation
//! refuses it, and nothing of it runs.
//!
//! The releases are the demo service (`examples/demo-service/app.py`, run by `python3`) on the
//! local platform. Run it with `cargo run -p loco-core --example scripts`.

use std::io::Write as _;

use loco_core::event_data::EventData;
use loco_core::rollout::{RolloutPlan, RolloutState};
use loco_core::{Engine, EventKind, NewDeployment};
use serde_json::json;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Applies the migrations up to `$TARGET` to a SQLite file, once each.
const MIGRATE: &str = r#"
import os, sqlite3
db = sqlite3.connect(os.environ["DATABASE"])
db.execute("CREATE TABLE IF NOT EXISTS migrations (id TEXT PRIMARY KEY)")
for m in ["0001_create_orders", "0002_add_order_notes"][: int(os.environ["TARGET"])]:
    if db.execute("INSERT OR IGNORE INTO migrations VALUES (?)", (m,)).rowcount:
        print("applied", m)
db.commit()
print("schema at", db.execute("SELECT max(id) FROM migrations").fetchone()[0])
"#;

/// `GET $LOCO_APP_URL/` must answer 200 with the version being deployed.
const SMOKE: &str = r#"
import json, os, sys, urllib.error, urllib.request
url = os.environ["LOCO_APP_URL"] + "/"
try:
    body = json.load(urllib.request.urlopen(url, timeout=5))
except urllib.error.HTTPError as e:
    sys.exit(f"GET {url} -> {e.code}")
print(f"GET {url} -> 200 {body['version']}")
sys.exit(0 if body["version"] == os.environ["LOCO_BUILD_ID"] else "wrong version")
"#;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    let dir = tempfile::tempdir()?;
    let app = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/demo-service/app.py");
    let database = dir.path().join("shop.sqlite").to_string_lossy().into_owned();
    let engine =
        Engine::builder().path(dir.path().join("loco.db")).local_platform(dir.path().join("local")).open().await?;

    let releases = [
        ("1.0.0", "1", json!({"FAILURE_RATE": "0"})),
        ("1.1.0", "2", json!({"FAILURE_RATE": "1"})),
        ("1.2.0", "2", json!({"FAILURE_RATE": "0", "S3_KEY_ID": "AKIAIOSFODNN7EXAMPLE"})),
    ];
    for (version, target, env) in releases {
        let plan = json!({
            "platform": "local",
            "strategy": {"type": "immediate"},
            "release": {"version": version, "command": ["python3", app], "env": env},
            "health": {"probes": [{"type": "http", "path": "/health"}], "interval_seconds": 0.2},
            "scripts": {
                "pre_deploy": [{"name": "migrate", "language": "python", "inline": MIGRATE,
                                "env": {"DATABASE": database, "TARGET": target}}],
                "on_rollback": [{"name": "notify", "inline": "echo \"shop $LOCO_BUILD_ID rolled back on $LOCO_STAGE\""}],
            },
            "validation": {
                "config": {"required": ["FAILURE_RATE"],
                           "formats": {"FAILURE_RATE": {"type": "regex", "pattern": "0|1|0\\.[0-9]+"}}},
                "secrets": {},
                "smoke_tests": [{"name": "home", "language": "python", "inline": SMOKE, "timeout_seconds": 30}],
            },
        });
        let d = engine
            .create(
                NewDeployment {
                    service: "shop".into(),
                    environment: "staging".into(),
                    version: version.into(),
                    requester: "alice@example.com".into(),
                    work_refs: vec!["SHOP-7".into()],
                    rollback_plan: "redeploy the previous release; migrations are additive".into(),
                    risk: None,
                    commit: None,
                },
                None,
            )
            .await?;
        engine.approve(&d.id, "bob@example.com", None).await?;
        let rollout = match engine.run_rollout(&d.id, RolloutPlan::from_json(&plan.to_string())?, "deploy-bot").await {
            Err(loco_core::Error::ValidationFailed { report, .. }) if version == "1.2.0" => {
                writeln!(out, "{version}: refused before it started ({})", report.describe())?;
                for finding in &report.findings {
                    writeln!(
                        out,
                        "  {} {} at {}: {}",
                        finding.severity, finding.rule, finding.location, finding.message
                    )?;
                }
                continue;
            }
            other => other?,
        };
        writeln!(out, "{version}: {}", rollout.state)?;
        for event in engine.events(&d.id).await?.iter().filter(|e| e.kind == EventKind::Script) {
            if let Some(EventData::Script(script)) = event.typed_data()? {
                writeln!(out, "  {}", event.note.as_deref().unwrap_or_default())?;
                for line in &script.tail {
                    writeln!(out, "    | {line}")?;
                }
            }
        }
        let expected = if version == "1.0.0" { RolloutState::Succeeded } else { RolloutState::RolledBack };
        if rollout.state != expected {
            return Err(format!("{version} ended {} instead of {expected}", rollout.state).into());
        }
        if let Some(failure) = rollout.failure {
            writeln!(out, "  rolled back because {}: {}", failure.code, failure.message)?;
            writeln!(out, "  serving now: {:?}", rollout.progress.traffic)?;
        }
    }
    engine.close().await?;
    Ok(())
}
