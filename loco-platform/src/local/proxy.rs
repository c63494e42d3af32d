//! The local platform's HTTP reverse proxy: one listener per service+environment on 127.0.0.1
//! that splits requests between release versions by weight (smooth weighted round robin, so a
//! 25 % share is exactly every fourth request) and round-robins within a version.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::metrics::LocalMetrics;
use crate::metrics::RequestSample;
use crate::{PlatformError, PlatformResult, Target, TrafficWeight};

/// Longest time an upstream instance may take to answer a proxied request.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// Response header naming the release version that served the request.
pub const VERSION_HEADER: &str = "x-loco-version";

type ProxyBody = BoxBody<Bytes, hyper::Error>;

struct Backend {
    instance_id: String,
    addr: String,
}

struct Pool {
    version: String,
    weight: i64,
    current: i64,
    backends: Vec<Backend>,
    next: usize,
    /// Requests meant for this version that went to another one: it had no ready instance.
    failovers: u64,
}

/// Which instances serve which version, and the weights between versions.
#[derive(Default)]
pub(crate) struct Routes {
    pools: Vec<Pool>,
}

impl Routes {
    fn pool(&mut self, version: &str) -> &mut Pool {
        if let Some(index) = self.pools.iter().position(|p| p.version == version) {
            return &mut self.pools[index];
        }
        self.pools.push(Pool {
            version: version.to_owned(),
            weight: 0,
            current: 0,
            backends: Vec::new(),
            next: 0,
            failovers: 0,
        });
        let last = self.pools.len() - 1;
        &mut self.pools[last]
    }

    /// Adds a serving instance of `version` (it gets requests once its version has weight).
    pub fn add_backend(&mut self, version: &str, instance_id: &str, addr: &str) {
        let pool = self.pool(version);
        if !pool.backends.iter().any(|b| b.instance_id == instance_id) {
            pool.backends.push(Backend { instance_id: instance_id.to_owned(), addr: addr.to_owned() });
        }
    }

    /// Whether `version` has an instance in rotation.
    pub fn has_backends(&self, version: &str) -> bool {
        self.pools.iter().any(|p| p.version == version && !p.backends.is_empty())
    }

    /// Takes an instance out of rotation.
    pub fn remove_backend(&mut self, instance_id: &str) {
        for pool in &mut self.pools {
            pool.backends.retain(|b| b.instance_id != instance_id);
        }
    }

    /// Sets the weights; versions not named get none.
    pub fn set_split(&mut self, split: &[TrafficWeight]) {
        for pool in &mut self.pools {
            pool.weight = 0;
            pool.current = 0;
        }
        for w in split {
            self.pool(&w.version).weight = i64::from(w.percent);
        }
    }

    /// The current weights (versions with a share only).
    pub fn split(&self) -> Vec<TrafficWeight> {
        self.pools
            .iter()
            .filter(|p| p.weight > 0)
            .map(|p| TrafficWeight { version: p.version.clone(), percent: p.weight as u8 })
            .collect()
    }

    /// Requests that failed over, per version, since the last call.
    pub fn take_failovers(&mut self) -> Vec<(String, u64)> {
        self.pools
            .iter_mut()
            .filter(|p| p.failovers > 0)
            .map(|p| (p.version.clone(), std::mem::take(&mut p.failovers)))
            .collect()
    }

    /// Smooth weighted round robin over the versions with weight (nginx's algorithm: every pool
    /// gains its weight, the richest serves and pays the total). The shares stay as set: a turn
    /// that falls to a version with no ready instance fails over, explicitly and counted, to the
    /// ready version with the largest weight; with none ready there is nothing to pick.
    fn pick(&mut self) -> Option<(String, String)> {
        let total: i64 = self.pools.iter().filter(|p| p.weight > 0).map(|p| p.weight).sum();
        if total == 0 {
            return None;
        }
        for pool in self.pools.iter_mut().filter(|p| p.weight > 0) {
            pool.current += pool.weight;
        }
        let weighted = self.pools.iter().enumerate().filter(|(_, p)| p.weight > 0);
        let turn = weighted.max_by_key(|(_, p)| p.current).map(|(i, _)| i)?;
        self.pools[turn].current -= total;
        let serving = if self.pools[turn].backends.is_empty() {
            let ready = self.pools.iter().enumerate().filter(|(_, p)| p.weight > 0 && !p.backends.is_empty());
            let fallback = ready.max_by_key(|(_, p)| p.weight).map(|(i, _)| i)?;
            self.pools[turn].failovers += 1;
            fallback
        } else {
            turn
        };
        let pool = &mut self.pools[serving];
        let backend = &pool.backends[pool.next % pool.backends.len()];
        pool.next = pool.next.wrapping_add(1);
        Some((pool.version.clone(), backend.addr.clone()))
    }
}

/// A running proxy listener.
pub(crate) struct Proxy {
    pub addr: SocketAddr,
    pub routes: Arc<Mutex<Routes>>,
    stop: watch::Sender<bool>,
}

impl Proxy {
    /// Binds 127.0.0.1 (`port` 0 picks a free one) and starts serving, recording every forwarded
    /// request in `metrics`.
    pub async fn start(port: u16, target: Target, metrics: Arc<LocalMetrics>) -> PlatformResult<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| PlatformError::new(format!("cannot bind the proxy on 127.0.0.1:{port}: {e}")))?;
        let addr = listener.local_addr().map_err(PlatformError::new)?;
        let routes = Arc::new(Mutex::new(Routes::default()));
        let (stop, stopped) = watch::channel(false);
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build_http();
        let shared = Arc::new(Shared { routes: routes.clone(), client, target, metrics });
        tokio::spawn(accept_loop(listener, shared, stopped));
        Ok(Proxy { addr, routes, stop })
    }

    /// Stops accepting and closes open connections.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What every proxied request needs.
struct Shared {
    routes: Arc<Mutex<Routes>>,
    client: Client<HttpConnector, Incoming>,
    target: Target,
    metrics: Arc<LocalMetrics>,
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| forward(req, shared.clone()));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

fn text(status: StatusCode, body: &str) -> Response<ProxyBody> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response
}

/// Headers that describe one hop and must not be forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

async fn forward(req: Request<Incoming>, shared: Arc<Shared>) -> Result<Response<ProxyBody>, Infallible> {
    let picked = shared.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pick();
    let Some((version, addr)) = picked else {
        return Ok(text(StatusCode::SERVICE_UNAVAILABLE, "no release is serving this service\n"));
    };
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = format!("http://{addr}{path}").parse() else {
        return Ok(text(StatusCode::BAD_REQUEST, "bad request target\n"));
    };
    parts.uri = uri;
    for name in HOP_BY_HOP {
        parts.headers.remove(name);
    }
    let upstream = Request::from_parts(parts, body);
    let version_value = HeaderValue::from_str(&version).ok();
    let started = Instant::now();
    let response = match tokio::time::timeout(UPSTREAM_TIMEOUT, shared.client.request(upstream)).await {
        Ok(Ok(response)) => {
            let mut response = response.map(BodyExt::boxed);
            if let Some(v) = version_value {
                response.headers_mut().insert(HeaderName::from_static(VERSION_HEADER), v);
            }
            response
        }
        Ok(Err(e)) => text(StatusCode::BAD_GATEWAY, &format!("release {version} did not answer: {e}\n")),
        Err(_) => text(StatusCode::GATEWAY_TIMEOUT, &format!("release {version} took longer than 30s\n")),
    };
    let at = Instant::now();
    let latency_ms = at.duration_since(started).as_secs_f64() * 1000.0;
    shared
        .metrics
        .samples
        .record(&shared.target, RequestSample { version, status: response.status().as_u16(), latency_ms, at });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(pairs: &[(&str, u8)]) -> Vec<TrafficWeight> {
        pairs.iter().map(|(v, p)| TrafficWeight { version: (*v).to_owned(), percent: *p }).collect()
    }

    #[test]
    fn split_is_exact_over_every_hundred_requests() {
        let mut routes = Routes::default();
        routes.add_backend("v1", "a", "127.0.0.1:1");
        routes.add_backend("v1", "b", "127.0.0.1:2");
        routes.add_backend("v2", "c", "127.0.0.1:3");
        routes.set_split(&weights(&[("v1", 75), ("v2", 25)]));
        let picks: Vec<(String, String)> = (0..100).map(|_| routes.pick().unwrap()).collect();
        assert_eq!(picks.iter().filter(|(v, _)| v == "v2").count(), 25);
        // Within v1, the two instances alternate.
        let v1: Vec<&str> = picks.iter().filter(|(v, _)| v == "v1").map(|(_, a)| a.as_str()).collect();
        assert_eq!(v1.iter().filter(|a| **a == "127.0.0.1:1").count(), 38);
        // The canary is spread out, not bunched: every window of 4 requests holds exactly one.
        for window in picks.chunks(4) {
            assert_eq!(window.iter().filter(|(v, _)| v == "v2").count(), 1);
        }
    }

    #[test]
    fn versions_without_instances_or_weight_get_nothing() {
        let mut routes = Routes::default();
        assert_eq!(routes.pick(), None);
        routes.add_backend("v1", "a", "127.0.0.1:1");
        routes.set_split(&weights(&[("v1", 90), ("v2", 10)]));
        assert!((0..100).all(|_| routes.pick().unwrap().0 == "v1"), "v2 has no instances yet");
        assert_eq!(routes.take_failovers(), [("v2".to_owned(), 10)], "its 10 % went to v1, counted");
        assert_eq!(routes.take_failovers(), [], "counted once");
        assert_eq!(routes.split(), weights(&[("v1", 90), ("v2", 10)]), "the shares stay as set");
        routes.add_backend("v2", "b", "127.0.0.1:2");
        assert_eq!((0..100).filter(|_| routes.pick().unwrap().0 == "v2").count(), 10, "and come back");
        routes.remove_backend("a");
        routes.remove_backend("b");
        assert_eq!(routes.pick(), None);
        assert_eq!(routes.take_failovers(), [], "nothing to fail over to is not a failover");
    }
}
