//! The engine counts statuses reached, refused requests and rollbacks, and renders them in
//! Prometheus text format.

use crate::common::{request, started, temp_engine};

fn value(text: &str, series: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn lifecycle_metrics_count_exactly_what_happened() {
    let (_dir, _path, engine) = temp_engine().await;
    let d = started(&engine, "api").await;
    engine.rollback(&d.id, "ops", "bad").await.unwrap();
    engine.create(request("api", "staging"), Some("k")).await.unwrap();
    engine.create(request("api", "staging"), Some("k")).await.unwrap(); // replay: not counted again
    let mut prod = request("api", "production");
    prod.rollback_plan = String::new();
    engine.create(prod, None).await.unwrap_err();
    engine.approve(&d.id, "bob", None).await.unwrap_err(); // refused actions count nothing

    let text = engine.metrics().render();
    let status = |s: &str| {
        value(
            &text,
            &format!(r#"sparki_deployment_total{{stage="staging",platform="none",strategy="none",status="{s}"}}"#),
        )
    };
    assert_eq!(status("pending_approval"), Some(2), "{text}");
    assert_eq!(status("approved"), Some(1));
    assert_eq!(status("started"), Some(1));
    assert_eq!(status("rolled_back"), Some(1));
    assert_eq!(status("succeeded"), None);
    for field in ["risk", "rollback_plan"] {
        let series = format!(r#"sparki_deployment_validation_errors_total{{stage="production",error_type="{field}"}}"#);
        assert_eq!(value(&text, &series), Some(1), "{text}");
    }
    assert_eq!(value(&text, r#"sparki_deployment_rollback_total{trigger_reason="manual",automatic="false"}"#), Some(1));
    assert!(text.contains("# TYPE sparki_deployment counter"));
    assert!(text.ends_with("# EOF\n"));
}

#[tokio::test]
async fn validation_error_labels_stay_bounded() {
    let (_dir, _path, engine) = temp_engine().await;
    for i in 0..100 {
        let mut bad = request("api", &format!("env-{i}"));
        bad.rollback_plan = String::new();
        engine.create(bad, None).await.unwrap_err();
    }
    let mut junk = request("api", "");
    junk.version = String::new();
    engine.create(junk, None).await.unwrap_err();
    let text = engine.metrics().render();
    let series: Vec<&str> =
        text.lines().filter(|l| l.starts_with("sparki_deployment_validation_errors_total{")).collect();
    assert_eq!(series.iter().filter(|l| !l.contains(r#"stage="other""#)).count(), 64, "the first 64 environments");
    let other = |field: &str| {
        value(&text, &format!(r#"sparki_deployment_validation_errors_total{{stage="other",error_type="{field}"}}"#))
    };
    assert_eq!(other("rollback_plan"), Some(36));
    assert_eq!(other("environment"), Some(1), "an invalid environment is never a label");
}

#[tokio::test]
async fn plain_lifecycles_record_their_duration_and_every_stage_label_stays_bounded() {
    let (_dir, _path, engine) = temp_engine().await;
    let d = started(&engine, "api").await;
    engine.succeed(&d.id, "ops", None).await.unwrap();
    // Rolling a succeeded deployment back ends no run: it is observed once, when it left `started`.
    engine.rollback(&d.id, "ops", "bad release").await.unwrap();
    // 70 environments: the first 64 name their series, the rest share `other`.
    for i in 0..70 {
        engine.create(request("api", &format!("env-{i}")), None).await.unwrap();
    }
    let text = engine.metrics().render();
    let count = r#"sparki_deployment_duration_seconds_count{stage="staging",platform="none",strategy="none"}"#;
    assert_eq!(value(&text, count), Some(1), "{text}");
    let buckets: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with(r#"sparki_deployment_duration_seconds_bucket{le=""#) || l.contains("duration_seconds_bucket{")
        })
        .filter(|l| l.contains(r#"stage="staging""#))
        .filter_map(|l| l.split("le=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(buckets, ["10.0", "30.0", "60.0", "120.0", "300.0", "600.0", "1800.0", "+Inf"], "{text}");
    let stages: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("sparki_deployment_total{"))
        .filter_map(|l| l.split("stage=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(stages.len(), 64 + 1, "64 named stages and `other`: {stages:?}");
    assert!(stages.contains("other"));
    assert_eq!(
        value(
            &text,
            r#"sparki_deployment_total{stage="other",platform="none",strategy="none",status="pending_approval"}"#
        ),
        Some(7),
        "staging and 63 env-* fill the 64; the 7 after share `other`"
    );
}
