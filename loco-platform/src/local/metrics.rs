//! The local platform's metric source: every request the proxy forwards (status and latency per
//! version, with a live feed), plus CPU and memory of each version's processes read from /proc.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::broadcast;

use loco_types::analysis::WindowStats;

use crate::metrics::{MetricSource, RequestSample, SampleBuffer};
use crate::{PlatformResult, Target};

/// Kernel clock ticks per second for /proc CPU times (`CLK_TCK`, 100 on Linux everywhere in practice).
const CLOCK_TICKS: f64 = 100.0;

/// Per-version request samples and process resources of the local platform.
#[derive(Default)]
pub(crate) struct LocalMetrics {
    pub samples: SampleBuffer,
    pids: Mutex<HashMap<(Target, String), Vec<u32>>>,
    cpu_seen: Mutex<HashMap<u32, (u64, Instant)>>,
}

impl LocalMetrics {
    pub fn add_pid(&self, target: &Target, version: &str, pid: u32) {
        let mut pids = self.pids.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        pids.entry((target.clone(), version.to_owned())).or_default().push(pid);
    }

    pub fn remove_pid(&self, pid: u32) {
        let mut pids = self.pids.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for list in pids.values_mut() {
            list.retain(|p| *p != pid);
        }
    }

    /// CPU (percent of one core since the previous call) and memory (percent of the machine).
    fn resources(&self, target: &Target, version: &str) -> (Option<f64>, Option<f64>) {
        let pids = self.pids.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(pids) = pids.get(&(target.clone(), version.to_owned())).filter(|p| !p.is_empty()) else {
            return (None, None);
        };
        let total_kb = meminfo_total_kb();
        // Per instance: thresholds are about one process, so the busiest instance counts, not
        // the sum of every instance of the version.
        let rss_kb: Option<u64> = pids.iter().filter_map(|pid| rss_kb(*pid)).max();
        let memory = match (rss_kb, total_kb) {
            (Some(rss), Some(total)) if total > 0 => Some(rss as f64 * 100.0 / total as f64),
            _ => None,
        };
        let now = Instant::now();
        let mut seen = self.cpu_seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut cpu = None;
        for pid in pids {
            let Some(ticks) = cpu_ticks(*pid) else { continue };
            if let Some((before, at)) = seen.insert(*pid, (ticks, now)) {
                let secs = now.duration_since(at).as_secs_f64();
                if secs > 0.0 {
                    let percent = (ticks.saturating_sub(before)) as f64 / CLOCK_TICKS / secs * 100.0;
                    cpu = Some(cpu.map_or(percent, |busiest: f64| busiest.max(percent)));
                }
            }
        }
        (cpu, memory)
    }
}

#[async_trait]
impl MetricSource for LocalMetrics {
    fn name(&self) -> &'static str {
        "local-proxy"
    }

    async fn stats(&self, target: &Target, version: &str, window: Duration) -> PlatformResult<WindowStats> {
        let mut stats = self.samples.window(target, version, window);
        (stats.cpu_percent, stats.memory_percent) = self.resources(target, version);
        Ok(stats)
    }

    fn samples(&self, target: &Target) -> Option<broadcast::Receiver<RequestSample>> {
        Some(self.samples.subscribe(target))
    }
}

fn proc_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// utime + stime (fields 14 and 15 of /proc/<pid>/stat), in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let f = proc_fields(pid)?;
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")?.split_whitespace().next()?.parse().ok())
}

fn meminfo_total_kb() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    info.lines().find_map(|l| l.strip_prefix("MemTotal:")?.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resources_of_a_running_process_are_reported() {
        let metrics = LocalMetrics::default();
        let t = Target { service: "api".into(), environment: "dev".into() };
        metrics.add_pid(&t, "v1", std::process::id());
        let first = metrics.stats(&t, "v1", Duration::from_secs(60)).await.unwrap();
        assert!(first.memory_percent.is_some_and(|m| m > 0.0 && m < 100.0), "{first:?}");
        assert_eq!(first.cpu_percent, None, "CPU needs two readings");
        let second = metrics.stats(&t, "v1", Duration::from_secs(60)).await.unwrap();
        assert!(second.cpu_percent.is_some_and(|c| c >= 0.0));
        metrics.remove_pid(std::process::id());
        assert_eq!(metrics.stats(&t, "v1", Duration::from_secs(60)).await.unwrap().memory_percent, None);
    }

    #[tokio::test]
    async fn resources_are_those_of_the_largest_instance_not_the_sum() {
        let t = Target { service: "api".into(), environment: "dev".into() };
        // An instance holding 64 MB, far more than this test process.
        let mut big = std::process::Command::new("python3")
            .args(["-c", "import sys, time; x = bytearray(64 << 20); print(flush=True); time.sleep(30)"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = [0u8; 1];
        std::io::Read::read_exact(big.stdout.as_mut().unwrap(), &mut ready).unwrap();
        let only_big = LocalMetrics::default();
        only_big.add_pid(&t, "v1", big.id());
        let largest = only_big.stats(&t, "v1", Duration::from_secs(60)).await.unwrap().memory_percent.unwrap();
        let both = LocalMetrics::default();
        both.add_pid(&t, "v1", std::process::id());
        both.add_pid(&t, "v1", big.id());
        let reported = both.stats(&t, "v1", Duration::from_secs(60)).await.unwrap().memory_percent.unwrap();
        let _ = big.kill();
        let _ = big.wait();
        assert!((reported - largest).abs() < largest * 0.02, "largest instance {largest}, reported {reported}");
    }
}
