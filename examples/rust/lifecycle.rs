//! Creates a deployment, walks it through its lifecycle on a SQLite file and prints its events.
//!
//! Run: `cargo run -p loco-core --example lifecycle [PATH.db]`

use std::io::Write;

use loco_core::{Engine, NewDeployment};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = match std::env::args().nth(1) {
        Some(path) => path.into(),
        None => std::env::temp_dir().join(format!("loco-example-{}.db", std::process::id())),
    };
    let engine = Engine::open(&path).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "database: {}", path.display())?;

    let request = NewDeployment {
        service: "checkout".into(),
        environment: "production".into(),
        version: "2.4.0".into(),
        requester: "alice@example.com".into(),
        work_refs: vec!["PAY-142".into(), "https://github.com/acme/checkout/pull/981".into()],
        rollback_plan: "redeploy 2.3.9; the migration is backwards compatible".into(),
        risk: Some("new payment provider behind a flag".into()),
        commit: None,
    };
    let d = engine.create(request, Some("checkout-2.4.0-prod")).await?;
    writeln!(out, "created {} ({} {} → {})", d.id, d.service, d.version, d.environment)?;

    // The requester cannot approve their own deployment.
    let refused = engine.approve(&d.id, "alice@example.com", None).await.unwrap_err();
    writeln!(out, "self-approval refused: [{}] {refused}", refused.code())?;

    engine.approve(&d.id, "bob@example.com", Some("risk accepted")).await?;
    engine.start(&d.id, "deploy-bot", None).await?;
    engine.succeed(&d.id, "deploy-bot", Some("all health checks green")).await?;
    let d = engine.rollback(&d.id, "carol@example.com", "error rate up 3% in EU; rolling back").await?;
    writeln!(out, "final status: {}", d.status)?;

    writeln!(out, "\nevents (oldest first):")?;
    for e in engine.events(&d.id).await? {
        let from = e.from_status.map_or("—".to_owned(), |s| s.to_string());
        let to = e.to_status.map_or("—".to_owned(), |s| s.to_string());
        writeln!(
            out,
            "  #{:<3} {:<12} {:<18} {:>16} → {:<16} {}  {}",
            e.seq,
            e.kind,
            e.actor,
            from,
            to,
            &e.hash[..12],
            e.note.unwrap_or_default()
        )?;
    }
    let audit = engine.verify_audit().await?;
    writeln!(out, "\naudit chain: {} events, valid = {}", audit.events_checked, audit.valid)?;
    engine.close().await?;
    Ok(())
}
