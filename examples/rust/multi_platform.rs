//! One service, several platforms: `shop` is released to staging on Render and then to
//! production on Fly.io, one plan per target, each platform configured the way a user would
//! (name, settings, token — sealed before it is stored) and tested before it is used. The
//! providers are the local fakes of `loco-fakes`, so this runs without accounts or a network;
//! point the settings' URLs at the real APIs (or leave them out) and it deploys for real.
//!
//! Run it with `cargo run -p loco-core --example multi_platform`.

use std::io::Write as _;

use loco_core::platform_config::{FlySettings, PlatformSettings, RenderSettings};
use loco_core::rollout::{HealthSpec, ReleaseSpec, RolloutPlan, RolloutState, Strategy};
use loco_core::{Engine, NewDeployment};
use loco_fakes::fly::{FlyFake, FlyFakeOptions};
use loco_fakes::render::{RenderFake, RenderFakeOptions, ServiceSeed};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let render = RenderFake::start(RenderFakeOptions {
        token: "rnd_example-render-key".to_owned(),
        services: vec![ServiceSeed::image("srv-shop-staging", "shop-staging", "docker.io/acme/shop:1.0.0")],
        ..RenderFakeOptions::default()
    })
    .await?;
    let fly = FlyFake::start(FlyFakeOptions { token: "fm2_example-fly-token".to_owned(), ..FlyFakeOptions::default() })
        .await?;

    let mut out = std::io::stdout().lock();
    let dir = tempfile::tempdir()?;
    let engine = Engine::open(dir.path().join("loco.db")).await?;
    let render_settings = PlatformSettings::Render(RenderSettings {
        service_id: "srv-shop-staging".to_owned(),
        owner_id: None,
        api_url: Some(render.base_url().to_owned()),
    });
    let fly_settings = PlatformSettings::Fly(FlySettings {
        app: "shop".to_owned(),
        region: None,
        api_url: Some(fly.base_url().to_owned()),
        logs_url: Some(fly.logs_url().to_owned()),
    });
    engine.add_platform("render-staging", render_settings, "rnd_example-render-key", "ops").await?;
    engine.add_platform("fly-production", fly_settings, "fm2_example-fly-token", "ops").await?;
    for name in ["render-staging", "fly-production"] {
        engine.test_platform(name).await?;
    }
    writeln!(out, "platforms configured and tested: render-staging, fly-production")?;

    // One plan per target: the same release, each platform's own strategy and instance count.
    let targets = [
        ("staging", "render-staging", Strategy::BlueGreen { switch_delay_seconds: 0.0 }, 1),
        ("production", "fly-production", Strategy::Canary { steps: vec![50], interval_seconds: 0.5 }, 2),
    ];
    for (environment, platform, strategy, instances) in targets {
        let d = engine
            .create(
                NewDeployment {
                    service: "shop".to_owned(),
                    environment: environment.to_owned(),
                    version: "1.1.0".to_owned(),
                    requester: "alice@example.com".to_owned(),
                    work_refs: vec!["SHOP-12".to_owned()],
                    rollback_plan: "roll back to 1.0.0".to_owned(),
                    risk: Some("low: copy change".to_owned()),
                    commit: None,
                },
                None,
            )
            .await?;
        engine.approve(&d.id, "bob@example.com", Some("staging is green")).await?;
        let plan = RolloutPlan {
            platform: platform.to_owned(),
            strategy,
            release: ReleaseSpec {
                version: "1.1.0".to_owned(),
                image: Some(if platform.starts_with("fly") {
                    "registry.fly.io/shop:1.1.0".to_owned()
                } else {
                    "docker.io/acme/shop:1.1.0".to_owned()
                }),
                ..ReleaseSpec::default()
            },
            instances,
            health: HealthSpec {
                timeout_seconds: 3.0,
                retries: 20,
                backoff_initial_seconds: 0.02,
                backoff_max_seconds: 0.2,
                interval_seconds: 0.1,
                ..HealthSpec::default()
            },
            analysis: None,
            scale_down_delay_seconds: 0.0,
            on_restart: loco_core::rollout::OnRestart::default(),
            scripts: loco_core::rollout::ScriptHooks::default(),
            validation: loco_core::rollout::ValidationSpec::default(),
        };
        let rollout = engine.run_rollout(&d.id, plan, "deploy-bot").await?;
        writeln!(
            out,
            "{environment:<10} on {platform:<15} {} {}: {} ({} steps)",
            rollout.plan.strategy.name(),
            rollout.plan.release.version,
            rollout.state,
            rollout.progress.completed_steps
        )?;
        if rollout.state != RolloutState::Succeeded {
            return Err(format!("{environment} did not succeed: {:?}", rollout.failure).into());
        }
    }
    let live = render.live_deploy("srv-shop-staging").ok_or("nothing is live on Render")?;
    writeln!(out, "Render serves deploy {} ({} requests made)", live.id, render.recorder().requests().len())?;
    writeln!(
        out,
        "Fly runs {} machine(s) of 1.1.0 ({} requests made)",
        fly.live_machines().iter().filter(|m| m.image.ends_with(":1.1.0")).count(),
        fly.recorder().requests().len()
    )?;
    writeln!(out, "audit: {} events verified", engine.verify_audit().await?.events_checked)?;
    engine.close().await?;
    Ok(())
}
