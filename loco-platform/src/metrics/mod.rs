//! Where metric windows come from: the [`MetricSource`] trait, [`SampleBuffer`] (the bounded
//! in-memory record of every request the local proxy forwarded, with a live feed of samples so
//! critical triggers fire on the deciding request), and the [`prometheus`] source.

pub mod prometheus;

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::broadcast;

use loco_types::analysis::WindowStats;

use crate::{PlatformResult, Target};

/// Samples kept per target; older ones are dropped first.
const MAX_SAMPLES: usize = 200_000;

/// One request as the local proxy saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSample {
    /// The release version that served it.
    pub version: String,
    /// The HTTP status returned to the client (502/504 when the instance failed to answer).
    pub status: u16,
    /// Time to the response head, in milliseconds.
    pub latency_ms: f64,
    /// When the response head arrived.
    pub at: Instant,
}

impl RequestSample {
    /// Server errors count as failures; client errors (4xx) do not.
    pub fn is_error(&self) -> bool {
        self.status >= 500
    }
}

/// A source of per-version metrics for canary analysis.
#[async_trait]
pub trait MetricSource: Send + Sync {
    /// A short name for events (`local-proxy`, `prometheus`).
    fn name(&self) -> &str;

    /// Metrics of `version` of `target` over the last `window`.
    async fn stats(&self, target: &Target, version: &str, window: Duration) -> PlatformResult<WindowStats>;

    /// A live feed of individual requests, for sources that see them (the local proxy does).
    fn samples(&self, _target: &Target) -> Option<broadcast::Receiver<RequestSample>> {
        None
    }
}

struct TargetSamples {
    recent: VecDeque<RequestSample>,
    live: broadcast::Sender<RequestSample>,
}

/// Every proxied request per target, bounded, plus a live broadcast of new ones.
#[derive(Default)]
pub struct SampleBuffer {
    targets: Mutex<HashMap<Target, TargetSamples>>,
}

impl SampleBuffer {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Target, TargetSamples>> {
        self.targets.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn entry<'a>(targets: &'a mut HashMap<Target, TargetSamples>, target: &Target) -> &'a mut TargetSamples {
        targets
            .entry(target.clone())
            .or_insert_with(|| TargetSamples { recent: VecDeque::new(), live: broadcast::channel(8192).0 })
    }

    /// Records one request and publishes it to live subscribers.
    pub fn record(&self, target: &Target, sample: RequestSample) {
        let mut targets = self.lock();
        let t = Self::entry(&mut targets, target);
        if t.recent.len() == MAX_SAMPLES {
            t.recent.pop_front();
        }
        let _ = t.live.send(sample.clone());
        t.recent.push_back(sample);
    }

    /// Aggregates the samples of `version` newer than `window`.
    pub fn window(&self, target: &Target, version: &str, window: Duration) -> WindowStats {
        let since = Instant::now().checked_sub(window);
        let targets = self.lock();
        let Some(t) = targets.get(target) else { return WindowStats::default() };
        // Samples are in arrival order; walk back from the newest until the window starts.
        let in_window = t.recent.iter().rev().take_while(|s| since.is_none_or(|since| s.at >= since));
        WindowStats::from_requests(in_window.filter(|s| s.version == version).map(|s| (s.is_error(), s.latency_ms)))
    }

    /// A live feed of the target's new samples.
    pub fn subscribe(&self, target: &Target) -> broadcast::Receiver<RequestSample> {
        Self::entry(&mut self.lock(), target).live.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(version: &str, status: u16, latency_ms: f64, age: Duration) -> RequestSample {
        RequestSample { version: version.into(), status, latency_ms, at: Instant::now().checked_sub(age).unwrap() }
    }

    #[test]
    fn windows_count_only_recent_samples_of_the_version() {
        let store = SampleBuffer::default();
        let t = Target { service: "api".into(), environment: "dev".into() };
        store.record(&t, sample("v1", 200, 10.0, Duration::from_secs(120)));
        store.record(&t, sample("v2", 500, 30.0, Duration::from_secs(5)));
        store.record(&t, sample("v1", 200, 20.0, Duration::from_secs(2)));
        store.record(&t, sample("v1", 503, 40.0, Duration::from_secs(1)));
        let w = store.window(&t, "v1", Duration::from_secs(60));
        assert_eq!((w.requests, w.errors, w.p99_ms), (2, 1, Some(40.0)));
        assert!((w.error_rate - 0.5).abs() < 1e-12);
        assert_eq!(store.window(&t, "v2", Duration::from_secs(60)).requests, 1);
        assert_eq!(store.window(&t, "v3", Duration::from_secs(60)).requests, 0);
    }

    #[test]
    fn live_subscribers_get_new_samples() {
        let store = SampleBuffer::default();
        let t = Target { service: "api".into(), environment: "dev".into() };
        let mut live = store.subscribe(&t);
        store.record(&t, sample("v2", 502, 1.0, Duration::ZERO));
        assert_eq!(live.try_recv().unwrap().status, 502);
    }
}
