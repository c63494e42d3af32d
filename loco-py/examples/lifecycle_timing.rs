//! Wall time of N full lifecycles (create → approve → start → succeed, one caller, sequential)
//! through `loco_core::Engine`: the Rust baseline for `lifecycle_timing.py`. Prints, never asserts.
//!
//! `cargo run --release -p loco-py --example lifecycle_timing -- [--memory] [N] [DB]`

use std::time::Instant;

use loco_core::{Engine, NewDeployment};

fn request(i: usize) -> NewDeployment {
    NewDeployment {
        service: format!("svc-{:03}", i % 100),
        environment: "staging".into(),
        version: format!("1.{i}.0"),
        requester: "alice@example.com".into(),
        work_refs: vec![format!("PAY-{i}")],
        rollback_plan: "redeploy the previous version".into(),
        risk: None,
        commit: None,
    }
}

async fn lifecycle(engine: &Engine, i: usize) -> loco_core::Result<()> {
    let d = engine.create(request(i), None).await?;
    engine.approve(&d.id, "bob@example.com", None).await?;
    engine.start(&d.id, "deploy-bot", None).await?;
    engine.succeed(&d.id, "deploy-bot", None).await?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let memory = args.iter().any(|a| a == "--memory");
    let mut rest = args.iter().filter(|a| *a != "--memory");
    let count: usize = rest.next().map_or(Ok(1000), |n| n.parse())?;
    let dir = std::env::temp_dir().join(format!("loco-timing-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = rest.next().map_or_else(|| dir.join("rust.db"), Into::into);

    let runtime = tokio::runtime::Runtime::new()?;
    let seconds = runtime.block_on(async {
        let engine = if memory { Engine::open_in_memory().await? } else { Engine::open(&db).await? };
        for i in 0..10 {
            lifecycle(&engine, i).await?;
        }
        let started = Instant::now();
        for i in 10..10 + count {
            lifecycle(&engine, i).await?;
        }
        let seconds = started.elapsed().as_secs_f64();
        engine.close().await?;
        Ok::<_, loco_core::Error>(seconds)
    })?;
    std::fs::remove_dir_all(&dir)?;
    let target = if memory { "memory" } else { "file" };
    eprintln!("rust {target}: {count} lifecycles in {seconds:.3} s ({:.0}/s)", count as f64 / seconds);
    Ok(())
}
