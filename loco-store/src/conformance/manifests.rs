//! Manifests: applying one sets its pipeline, gates and windows with its version in one write;
//! the same text keeps its version; the next version removes what the previous one set and this
//! one does not, and nothing set another way; creates record the manifest version ordering them;
//! concurrent applies each get their own version.

use std::fmt::Write as _;

use loco_types::freeze::{FreezeSchedule, FreezeWindow};
use loco_types::gate::ApprovalGate;
use loco_types::manifest;
use loco_types::model::{NewDeployment, Timestamp};

use super::{Backend, open, request};
use crate::Store;

/// A manifest of `service` with stages dev and production, a gate of `approvals` on production
/// when given, and the freeze window `window` on production when given.
fn text(service: &str, approvals: Option<u32>, window: Option<&str>) -> String {
    let mut text = format!(
        "apiVersion: loco/v1\nservice: {service}\nstages:\n  - environment: dev\n  - environment: production\n"
    );
    if let Some(n) = approvals {
        let _ = writeln!(text, "    approval: {{required_approvals: {n}}}");
    }
    if let Some(name) = window {
        let _ = writeln!(
            text,
            "freeze_windows:\n  - {{name: {name}, environments: [production], reason: r, schedule: {{type: once, \
             start: '2030-01-01T00:00:00Z', end: '2030-01-02T00:00:00Z'}}}}"
        );
    }
    text
}

async fn apply(store: &dyn Store, text: &str) -> (u32, bool) {
    let parsed = manifest::parse(text).expect("a valid manifest");
    let (record, wrote) = store.apply_manifest(text, parsed, "root").await.expect("apply");
    (record.version, wrote)
}

fn window(name: &str) -> FreezeWindow {
    FreezeWindow {
        name: name.to_owned(),
        environments: vec!["production".to_owned()],
        reason: "set by hand".to_owned(),
        schedule: FreezeSchedule::Once {
            start: Timestamp::parse("2031-01-01T00:00:00Z").unwrap(),
            end: Timestamp::parse("2031-01-02T00:00:00Z").unwrap(),
        },
    }
}

async fn manifest_version_of_create(store: &dyn Store, environment: &str) -> Option<u64> {
    let new = NewDeployment { environment: environment.to_owned(), ..request("web") };
    let id = store.create(new, None).await.expect("create").deployment.id;
    let events = store.events(&id).await.expect("events");
    events[0].data.as_ref().and_then(|d| d.get("manifest_version")).and_then(serde_json::Value::as_u64)
}

pub(super) async fn a_manifest_applies_in_versions_and_removes_only_what_it_set(backend: &dyn Backend) {
    let check = "a_manifest_applies_in_versions_and_removes_only_what_it_set";
    let store = open(backend, check).await;
    let first = text("web", Some(2), Some("launch"));
    assert_eq!(apply(store.as_ref(), &first).await, (1, true), "{check}");
    assert_eq!(apply(store.as_ref(), &first).await, (1, false), "{check}: the same text keeps its version");
    let pipelines = store.pipelines().await.expect("pipelines");
    assert_eq!(pipelines[0].stages, ["dev", "production"], "{check}");
    assert_eq!(store.gates().await.expect("gates")[0].required_approvals, 2, "{check}");
    assert_eq!(store.freeze_windows().await.expect("windows")[0].name, "launch", "{check}");
    // Set by hand: a gate on another environment and another window; the next version keeps them.
    let gate = ApprovalGate {
        environment: "qa".to_owned(),
        service: None,
        required_approvals: 1,
        approvers: vec![],
        groups: Vec::new(),
        members: Vec::new(),
        expires_after_minutes: None,
        wait_minutes: None,
    };
    store.put_gate(gate, "root").await.expect("gate");
    store.put_freeze_window(window("audit"), "root").await.expect("window");
    assert_eq!(manifest_version_of_create(store.as_ref(), "dev").await, Some(1), "{check}: recorded");

    assert_eq!(apply(store.as_ref(), &text("web", None, None)).await, (2, true), "{check}");
    store.close().await.expect("close");
    let store = open(backend, check).await;
    let gates: Vec<String> = store.gates().await.expect("gates").into_iter().map(|g| g.environment).collect();
    assert_eq!(gates, ["qa"], "{check}: version 1's production gate is gone, the hand-set one stays");
    let windows: Vec<String> = store.freeze_windows().await.expect("windows").into_iter().map(|w| w.name).collect();
    assert_eq!(windows, ["audit"], "{check}: version 1's window is gone, the hand-set one stays");
    assert_eq!(manifest_version_of_create(store.as_ref(), "dev").await, Some(2), "{check}: after a reopen");

    let history: Vec<u32> =
        store.manifest_history("web").await.expect("history").into_iter().map(|r| r.version).collect();
    assert_eq!(history, [2, 1], "{check}: newest first");
    let one = store.manifest("web", Some(1)).await.expect("read").expect("version 1");
    assert_eq!((one.text.as_str(), one.digest.as_str()), (first.as_str(), manifest::digest(&first).as_str()));
    assert_eq!(one.manifest.gates()[0].required_approvals, 2, "{check}");
    assert!(store.manifest("web", Some(3)).await.expect("read").is_none(), "{check}");
    assert!(store.manifest("api", None).await.expect("read").is_none(), "{check}");
    assert_eq!(store.manifest("web", None).await.expect("read").map(|r| r.version), Some(2), "{check}");
    apply(store.as_ref(), &text("api", None, None)).await;
    let newest: Vec<(String, u32)> =
        store.manifests().await.expect("list").into_iter().map(|r| (r.service, r.version)).collect();
    assert_eq!(newest, [("api".to_owned(), 1), ("web".to_owned(), 2)], "{check}");

    // A pipeline set by hand no longer comes from a manifest: creates record no version.
    store.put_pipeline(manifest::parse(&first).unwrap().pipeline(), "root").await.expect("by hand");
    assert_eq!(manifest_version_of_create(store.as_ref(), "dev").await, None, "{check}");
    store.close().await.expect("close");
}

pub(super) async fn concurrent_applies_each_get_their_own_version(backend: &dyn Backend) {
    let check = "concurrent_applies_each_get_their_own_version";
    let store = open(backend, check).await;
    let applies: Vec<_> = (1..=8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { apply(store.as_ref(), &text("web", Some(n), None)).await })
        })
        .collect();
    let mut versions = Vec::new();
    for applied in applies {
        let (version, wrote) = applied.await.expect("join");
        assert!(wrote, "{check}");
        versions.push(version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=8).collect::<Vec<_>>(), "{check}");
    let newest = store.manifest("web", None).await.expect("read").expect("newest");
    let gate = store.gates().await.expect("gates");
    assert_eq!(gate.len(), 1, "{check}");
    assert_eq!(newest.manifest.gates()[0].required_approvals, gate[0].required_approvals, "{check}: the newest won");
    store.close().await.expect("close");
}

pub(super) async fn two_services_gate_one_environment_each_their_own_way(backend: &dyn Backend) {
    let check = "two_services_gate_one_environment_each_their_own_way";
    let store = open(backend, check).await;
    // Before gates were per service, web's version 1 set an environment-wide gate of 2 on
    // production; it is stored so (as an upgraded database holds it) next to a hand-set one on dev.
    let web_v1 = text("web", Some(2), None);
    apply(store.as_ref(), &web_v1).await;
    store.remove_gate("production", Some("web")).await.expect("web's own, as v1 now sets it");
    let legacy = manifest::legacy_gates(Some(&manifest::parse(&web_v1).unwrap()));
    store.put_gate(legacy[0].clone(), "root").await.expect("the environment-wide gate v1 used to set");
    let by_hand = ApprovalGate { environment: "dev".to_owned(), ..legacy[0].clone() };
    store.put_gate(by_hand, "root").await.expect("by hand");

    apply(store.as_ref(), &text("web", Some(3), None)).await;
    apply(store.as_ref(), &text("api", Some(1), None)).await;
    let gates: Vec<(String, Option<String>, u32)> = store
        .gates()
        .await
        .expect("gates")
        .into_iter()
        .map(|g| (g.environment, g.service, g.required_approvals))
        .collect();
    let own = |service: &str, n| ("production".to_owned(), Some(service.to_owned()), n);
    assert_eq!(
        gates,
        [("dev".to_owned(), None, 2), own("api", 1), own("web", 3)],
        "{check}: v1's environment-wide gate replaced by web's own; api's beside it; the hand-set one stays"
    );
    // api's next version drops its gate; web's stays.
    apply(store.as_ref(), &text("api", None, None)).await;
    let services: Vec<Option<String>> = store.gates().await.expect("gates").into_iter().map(|g| g.service).collect();
    assert_eq!(services, [None, Some("web".to_owned())], "{check}");
    store.close().await.expect("close");
}
