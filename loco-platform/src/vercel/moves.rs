//! Moving production traffic: read the project and its rolling release, make the one call
//! [`traffic::next_step`](super::traffic::next_step) names, and read again until the split is in place.

use std::time::Instant;

use serde_json::json;

use super::traffic::{self, Observed, Step, Wanted};
use super::{TRAFFIC_CALLS, TRAFFIC_FAILURES, VercelPlatform, api};
use crate::{PlatformError, PlatformResult};

impl VercelPlatform {
    /// The project's production deployment, active rolling release and last alias job.
    pub(super) async fn observe(&self) -> PlatformResult<(api::Project, Option<api::RollingRelease>, Observed)> {
        let (project, release) = futures_util::future::try_join(self.api.project(), self.api.rolling_release()).await?;
        let observed = Observed {
            production: project.targets.production.as_ref().map(|p| p.id.clone()),
            release: release.as_ref().and_then(|r| {
                Some(traffic::Release {
                    canary: r.canary_deployment.as_ref()?.id.clone(),
                    current: r.current_deployment.as_ref()?.id.clone(),
                    stages: r.stages.iter().map(|s| s.target_percentage).collect(),
                    active_stage: r.active_stage.as_ref().map_or(0, |s| s.index),
                    percent: r.current_canary_percentage.unwrap_or(0),
                })
            }),
            alias_job: project.last_alias_request.as_ref().map(|j| (j.to_deployment_id.clone(), j.job_status.clone())),
        };
        Ok((project, release, observed))
    }

    /// Makes the calls that bring production to `wanted`, reading the project between them.
    pub(super) async fn move_to(&self, wanted: &Wanted) -> PlatformResult<()> {
        let (mut calls, mut failures) = (0, 0);
        let deadline = Instant::now() + self.tuning.alias_timeout;
        loop {
            let (_, _, observed) = self.observe().await?;
            let step = traffic::next_step(&observed, wanted);
            let sent = match &step {
                Step::Done => return Ok(()),
                Step::Refuse(why) => return Err(PlatformError::new(format!("platform '{}': {why}", self.name))),
                Step::Wait if Instant::now() < deadline => {
                    tokio::time::sleep(self.tuning.poll_interval).await;
                    continue;
                }
                Step::Wait => {
                    return Err(PlatformError::new(format!(
                        "platform '{}': Vercel's promote/rollback job did not finish within {:?}",
                        self.name, self.tuning.alias_timeout
                    )));
                }
                Step::Start { canary } => self.api.rolling("start", &json!({ "canaryDeploymentId": canary })).await,
                Step::Approve { canary, next } => {
                    let body =
                        json!({ "nextStageIndex": next, "activeStageIndex": next - 1, "canaryDeploymentId": canary });
                    self.api.rolling("approve-stage", &body).await
                }
                Step::Complete { canary } => {
                    self.api.rolling("complete", &json!({ "canaryDeploymentId": canary })).await
                }
                Step::Rollback { to } => self.api.rollback(to).await,
                Step::Promote { to } => self.api.promote(to).await,
            };
            calls += 1;
            tracing::info!(platform = %self.name, ?step, ok = sent.is_ok(), "Vercel traffic call");
            match sent {
                Ok(()) => {}
                Err(e) if e.status.is_some_and(|s| s < 500) => return Err(e.into()),
                Err(e) if failures + 1 >= TRAFFIC_FAILURES => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(platform = %self.name, error = %e, "Vercel traffic call outcome unknown; reading again");
                    failures += 1;
                }
            }
            if calls >= TRAFFIC_CALLS {
                return Err(PlatformError::new(format!(
                    "platform '{}': the traffic split did not settle after {calls} calls",
                    self.name
                )));
            }
        }
    }
}
