//! [`LocalPlatform`]: runs releases as child processes on this machine, fronted by a weighted
//! HTTP reverse proxy on 127.0.0.1 per service+environment, so canary and blue-green rollouts
//! really move traffic on one machine.
//!
//! Each instance gets a free port in `PORT` (plus `LOCO_INSTANCE_ID`, `LOCO_VERSION`,
//! `LOCO_SERVICE`, `LOCO_ENVIRONMENT`) and runs in its own process group; stopping it stops the
//! whole group. A pidfile per instance in `state_dir` lets an engine restarted after a crash stop
//! or re-adopt instances started before the crash. The proxy marks every response with
//! `x-loco-version` and records its status and latency per version for canary analysis.

mod metrics;
mod process;
pub mod procfs;
mod proxy;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::metrics::MetricSource;
use crate::{
    Capabilities, Instance, InstanceHealth, InstanceState, LogLine, Platform, PlatformError, PlatformResult,
    PlatformStatus, Target, TrafficWeight,
};
use loco_types::plan::ReleaseSpec;

use metrics::LocalMetrics;
use process::ManagedProcess;
pub use proxy::VERSION_HEADER;
use proxy::{Proxy, Routes};

/// Settings of a [`LocalPlatform`].
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Where pidfiles and proxy ports are kept (created if missing). Use the same directory across
    /// restarts of one engine so a restarted engine can clean up after a crash and serves each
    /// target on the port it used before.
    pub state_dir: PathBuf,
    /// Fixed proxy ports per target; a target not listed keeps the port it had before (recorded
    /// in `state_dir/proxies.json`), or gets a free one the first time.
    pub proxy_ports: HashMap<Target, u16>,
}

impl LocalOptions {
    /// Options with pidfiles under `state_dir` and automatic proxy ports.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self { state_dir: state_dir.into(), proxy_ports: HashMap::new() }
    }
}

struct LocalTarget {
    proxy: Proxy,
    processes: HashMap<String, (Instance, Arc<ManagedProcess>)>,
    /// Instances started by an earlier engine run and taken over after a crash.
    adopted: HashMap<String, Instance>,
}

/// The local platform, registered under the name `local`.
pub struct LocalPlatform {
    options: LocalOptions,
    pid_dir: PathBuf,
    targets: tokio::sync::Mutex<HashMap<Target, LocalTarget>>,
    metrics: Arc<LocalMetrics>,
}

impl LocalPlatform {
    /// A local platform keeping its pidfiles under `options.state_dir`.
    pub fn new(options: LocalOptions) -> PlatformResult<Self> {
        let pid_dir = options.state_dir.join("instances");
        std::fs::create_dir_all(&pid_dir)
            .map_err(|e| PlatformError::new(format!("cannot create {}: {e}", pid_dir.display())))?;
        Ok(Self { options, pid_dir, targets: tokio::sync::Mutex::new(HashMap::new()), metrics: Arc::default() })
    }

    /// The proxy address of a target, once something was deployed to it.
    pub async fn endpoint(&self, target: &Target) -> Option<String> {
        self.targets.lock().await.get(target).map(|t| t.proxy.addr.to_string())
    }

    async fn target<'a>(
        &self,
        targets: &'a mut HashMap<Target, LocalTarget>,
        target: &Target,
    ) -> PlatformResult<&'a mut LocalTarget> {
        if !targets.contains_key(target) {
            let proxy = self.start_proxy(target).await?;
            tracing::info!(%target, addr = %proxy.addr, "local proxy listening");
            targets.insert(target.clone(), LocalTarget { proxy, processes: HashMap::new(), adopted: HashMap::new() });
        }
        targets.get_mut(target).ok_or_else(|| PlatformError::new("target vanished"))
    }

    /// The target's proxy on its configured port, else the port it had before (when still free),
    /// else a free one — recorded for the next start.
    async fn start_proxy(&self, target: &Target) -> PlatformResult<Proxy> {
        if let Some(port) = self.options.proxy_ports.get(target) {
            return Proxy::start(*port, target.clone(), self.metrics.clone()).await;
        }
        let file = self.options.state_dir.join(PROXY_PORTS_FILE);
        let mut ports: HashMap<String, u16> =
            std::fs::read_to_string(&file).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
        let key = target.to_string();
        if let Some(port) = ports.get(&key) {
            match Proxy::start(*port, target.clone(), self.metrics.clone()).await {
                Ok(proxy) => return Ok(proxy),
                Err(e) => {
                    tracing::warn!(%target, port, error = %e.message, "the proxy's earlier port is taken; using another");
                }
            }
        }
        let proxy = Proxy::start(0, target.clone(), self.metrics.clone()).await?;
        ports.insert(key, proxy.addr.port());
        let written = serde_json::to_string_pretty(&ports).map_err(PlatformError::new).and_then(|text| {
            let draft = file.with_extension("json.new");
            std::fs::write(&draft, text).and_then(|()| std::fs::rename(&draft, &file)).map_err(PlatformError::new)
        });
        if let Err(e) = written {
            tracing::warn!(file = %file.display(), error = %e.message, "cannot record the proxy port");
        }
        Ok(proxy)
    }

    fn spawn(
        &self,
        target: &Target,
        release: &ReleaseSpec,
        id: &str,
    ) -> PlatformResult<(Instance, Arc<ManagedProcess>)> {
        let port = free_port()?;
        let mut env: Vec<(String, String)> =
            release.env.iter().chain(&release.secret_env).map(|(k, v)| (k.clone(), v.clone())).collect();
        env.extend([
            ("PORT".to_owned(), port.to_string()),
            ("LOCO_INSTANCE_ID".to_owned(), id.to_owned()),
            ("LOCO_VERSION".to_owned(), release.version.clone()),
            ("LOCO_SERVICE".to_owned(), target.service.clone()),
            ("LOCO_ENVIRONMENT".to_owned(), target.environment.clone()),
        ]);
        let process = ManagedProcess::spawn(id, &release.command, release.working_dir.as_deref(), &env, &self.pid_dir)?;
        let instance = Instance {
            id: id.to_owned(),
            version: release.version.clone(),
            address: Some(format!("127.0.0.1:{port}")),
            pid: Some(process.pid),
            state: InstanceState::Running,
            platform_id: None,
        };
        Ok((instance, process))
    }

    fn start_instances(
        &self,
        t: &mut LocalTarget,
        target: &Target,
        release: &ReleaseSpec,
        ids: &[String],
    ) -> PlatformResult<Vec<Instance>> {
        let mut started = Vec::with_capacity(ids.len());
        for id in ids {
            let (instance, process) = self.spawn(target, release, id)?;
            self.metrics.add_pid(target, &instance.version, process.pid);
            admit_when_listening(t.proxy.routes.clone(), process.clone(), instance.clone());
            t.processes.insert(id.clone(), (instance.clone(), process));
            started.push(instance);
        }
        Ok(started)
    }
}

/// Where the proxies' ports are recorded, in the state directory.
const PROXY_PORTS_FILE: &str = "proxies.json";

/// How long a new instance may take to start listening before it is left out of the routes.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// The readiness gate: an instance joins the proxy's routes only once its port accepts
/// connections (a process still starting would answer every request with 502), and never after
/// it was retired.
fn admit_when_listening(routes: Arc<std::sync::Mutex<Routes>>, process: Arc<ManagedProcess>, instance: Instance) {
    let Some(addr) = instance.address.clone() else { return };
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        while tokio::time::Instant::now() < deadline && !process.is_retired() && process.exit_reason().is_none() {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                admit(&routes, &process, &instance);
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
}

fn admit(routes: &std::sync::Mutex<Routes>, process: &ManagedProcess, instance: &Instance) {
    let mut routes = routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // Checked under the routes lock, which `stop` holds while it retires and removes.
    if let (false, Some(addr)) = (process.is_retired(), &instance.address) {
        routes.add_backend(&instance.version, &instance.id, addr);
    }
}

fn free_port() -> PlatformResult<u16> {
    let listener =
        std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|e| PlatformError::new(format!("no free port: {e}")))?;
    Ok(listener.local_addr().map_err(PlatformError::new)?.port())
}

#[async_trait]
impl Platform for LocalPlatform {
    fn name(&self) -> &'static str {
        "local"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::LOCAL
    }

    async fn test_connection(&self) -> PlatformResult<()> {
        free_port().map(drop)
    }

    async fn deploy(
        &self,
        target: &Target,
        release: &ReleaseSpec,
        instance_ids: &[String],
    ) -> PlatformResult<Vec<Instance>> {
        let mut targets = self.targets.lock().await;
        let t = self.target(&mut targets, target).await?;
        self.start_instances(t, target, release, instance_ids)
    }

    /// Refuses a split that gives a share to a version with no ready instance (one whose port
    /// accepts connections): traffic never moves to a version that cannot answer.
    async fn set_traffic(&self, target: &Target, split: &[TrafficWeight]) -> PlatformResult<()> {
        let mut targets = self.targets.lock().await;
        let t = self.target(&mut targets, target).await?;
        // The readiness gate polls every 10 ms, so an instance that a health check just reached
        // may not have joined the routes yet: one whose port accepts connections now joins here.
        let lacking: Vec<&str> = {
            let routes = t.proxy.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            split
                .iter()
                .filter(|w| w.percent > 0 && !routes.has_backends(&w.version))
                .map(|w| w.version.as_str())
                .collect()
        };
        for (instance, process) in t.processes.values().filter(|(i, _)| lacking.contains(&i.version.as_str())) {
            if let Some(addr) = &instance.address
                && process.exit_reason().is_none()
                && tokio::net::TcpStream::connect(addr).await.is_ok()
            {
                admit(&t.proxy.routes, process, instance);
            }
        }
        let mut routes = t.proxy.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(empty) = split.iter().find(|w| w.percent > 0 && !routes.has_backends(&w.version)) {
            return Err(PlatformError::new(format!(
                "version {} has no ready instance on {target}; traffic was not moved",
                empty.version
            )));
        }
        routes.set_split(split);
        Ok(())
    }

    async fn stop(&self, target: &Target, instances: &[Instance]) -> PlatformResult<()> {
        let mut to_stop = Vec::new();
        {
            let mut targets = self.targets.lock().await;
            if let Some(t) = targets.get_mut(target) {
                let mut routes = t.proxy.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                for i in instances {
                    if let Some((_, p)) = t.processes.get(&i.id) {
                        p.retire();
                    }
                    routes.remove_backend(&i.id);
                    t.adopted.remove(&i.id);
                    to_stop.push((i.id.clone(), t.processes.remove(&i.id).map(|(_, p)| p)));
                }
            } else {
                to_stop.extend(instances.iter().map(|i| (i.id.clone(), None)));
            }
        }
        // Out of the routes first, then stopped, so no request is sent to a stopping instance.
        let stops = to_stop.into_iter().map(|(id, process)| async move {
            match process {
                Some(p) => {
                    self.metrics.remove_pid(p.pid);
                    p.stop().await;
                }
                None => process::stop_orphan(&self.pid_dir, &id).await,
            }
        });
        futures_util::future::join_all(stops).await;
        Ok(())
    }

    async fn health(&self, target: &Target, instance: &Instance) -> PlatformResult<InstanceHealth> {
        let targets = self.targets.lock().await;
        if let Some(t) = targets.get(target)
            && let Some((known, p)) = t.processes.get(&instance.id)
        {
            if let Some(reason) = p.exit_reason() {
                return Ok(InstanceHealth::Exited { reason });
            }
            // A health check that finds the port open admits the instance at once, so traffic can
            // follow a passed check without waiting for the background readiness poll.
            if let Some(addr) = &known.address
                && tokio::net::TcpStream::connect(addr).await.is_ok()
            {
                admit(&t.proxy.routes, p, known);
            }
            return Ok(InstanceHealth::Running);
        }
        let alive = process::read_pidfile(&self.pid_dir, &instance.id).is_some_and(|r| process::is_alive(&r));
        Ok(if alive { InstanceHealth::Running } else { InstanceHealth::Exited { reason: "not running".to_owned() } })
    }

    async fn status(&self, target: &Target) -> PlatformResult<PlatformStatus> {
        let targets = self.targets.lock().await;
        let Some(t) = targets.get(target) else {
            return Ok(PlatformStatus { endpoint: None, traffic: Vec::new(), instances: Vec::new() });
        };
        let mut instances: Vec<Instance> = t.processes.values().map(|(i, _)| i.clone()).collect();
        instances.extend(t.adopted.values().cloned());
        instances.sort_by(|a, b| a.id.cmp(&b.id));
        let traffic = t.proxy.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).split();
        Ok(PlatformStatus { endpoint: Some(t.proxy.addr.to_string()), traffic, instances })
    }

    async fn restore(
        &self,
        target: &Target,
        to: &ReleaseSpec,
        known: &[Instance],
        replacement_ids: &[String],
    ) -> PlatformResult<Vec<Instance>> {
        let mut serving = Vec::new();
        let mut targets = self.targets.lock().await;
        let t = self.target(&mut targets, target).await?;
        for k in known {
            let ours_alive = t.processes.get(&k.id).is_some_and(|(_, p)| p.exit_reason().is_none());
            let orphan_alive =
                !ours_alive && process::read_pidfile(&self.pid_dir, &k.id).is_some_and(|r| process::is_alive(&r));
            if !(ours_alive || orphan_alive) {
                continue;
            }
            if let Some(addr) = &k.address {
                t.proxy.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).add_backend(
                    &to.version,
                    &k.id,
                    addr,
                );
            }
            if orphan_alive {
                t.adopted.insert(k.id.clone(), k.clone());
                if let Some(pid) = k.pid {
                    self.metrics.add_pid(target, &to.version, pid);
                }
            }
            serving.push(Instance { state: InstanceState::Running, ..k.clone() });
        }
        let missing = known.len().saturating_sub(serving.len()).max(usize::from(serving.is_empty()));
        if missing > replacement_ids.len() {
            return Err(PlatformError::new(format!(
                "{missing} replacement instance(s) needed, {} id(s) given",
                replacement_ids.len()
            )));
        }
        serving.extend(self.start_instances(t, target, to, &replacement_ids[..missing])?);
        Ok(serving)
    }

    async fn logs(&self, target: &Target, instance_id: &str) -> PlatformResult<mpsc::Receiver<LogLine>> {
        let targets = self.targets.lock().await;
        let process = targets
            .get(target)
            .and_then(|t| t.processes.get(instance_id))
            .map(|(_, p)| p.clone())
            .ok_or_else(|| PlatformError::new(format!("instance {instance_id} is not running on this engine")))?;
        let (backlog, mut live) = process.logs();
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            for old in backlog {
                if tx.send(old).await.is_err() {
                    return;
                }
            }
            loop {
                match live.recv().await {
                    Ok(new) => {
                        if tx.send(new).await.is_err() {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Ok(rx)
    }

    fn metric_source(&self) -> Option<Arc<dyn MetricSource>> {
        Some(self.metrics.clone())
    }

    fn instances_die_with_engine(&self) -> bool {
        true
    }

    async fn take_failovers(&self, target: &Target) -> PlatformResult<Vec<(String, u64)>> {
        let targets = self.targets.lock().await;
        Ok(targets
            .get(target)
            .map(|t| t.proxy.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take_failovers())
            .unwrap_or_default())
    }

    async fn shutdown(&self) -> PlatformResult<()> {
        let drained: Vec<(Target, LocalTarget)> = self.targets.lock().await.drain().collect();
        let mut stops = Vec::new();
        for (_, t) in drained {
            t.proxy.stop();
            for (_, (_, p)) in t.processes {
                stops.push(tokio::spawn(async move { p.stop().await }));
            }
            for id in t.adopted.into_keys() {
                let pid_dir = self.pid_dir.clone();
                stops.push(tokio::spawn(async move { process::stop_orphan(&pid_dir, &id).await }));
            }
        }
        futures_util::future::join_all(stops).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn routes_have(local: &LocalPlatform, target: &Target, version: &str) -> bool {
        let targets = local.targets.lock().await;
        let routes = targets[target].proxy.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        routes.has_backends(version)
    }

    /// A health check can reach an instance before its readiness gate (a 10 ms poll) admits it;
    /// moving traffic right then admits the listening instance instead of refusing the move.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn traffic_moves_to_a_listening_instance_the_gate_has_not_admitted_yet() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalPlatform::new(LocalOptions::new(dir.path().join("state"))).unwrap();
        let target = Target { service: "gate-race".to_owned(), environment: "staging".to_owned() };
        let listen = "import os, socket, time\n\
                      s = socket.socket()\n\
                      s.bind(('127.0.0.1', int(os.environ['PORT'])))\n\
                      s.listen()\n\
                      time.sleep(60)";
        let release = ReleaseSpec {
            version: "v1".to_owned(),
            command: vec!["python3".to_owned(), "-c".to_owned(), listen.to_owned()],
            ..ReleaseSpec::default()
        };
        let instances = local.deploy(&target, &release, &["i1".to_owned()]).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !routes_have(&local, &target, "v1").await {
            assert!(tokio::time::Instant::now() < deadline, "the gate admits a listening instance");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // As if the gate had not polled yet.
        {
            let targets = local.targets.lock().await;
            targets[&target]
                .proxy
                .routes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove_backend("i1");
        }
        assert!(!routes_have(&local, &target, "v1").await);
        let split = [TrafficWeight { version: "v1".to_owned(), percent: 100 }];
        local.set_traffic(&target, &split).await.unwrap();
        assert!(routes_have(&local, &target, "v1").await);

        // A version with no listening instance is still refused.
        local.stop(&target, &instances).await.unwrap();
        let refused = local.set_traffic(&target, &split).await.unwrap_err();
        assert!(refused.to_string().contains("has no ready instance"), "{refused}");
        local.shutdown().await.unwrap();
    }
}
