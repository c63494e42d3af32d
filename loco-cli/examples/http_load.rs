//! A small load generator for `loco serve`: 64 concurrent keep-alive loopback clients with
//! `TCP_NODELAY` create deployments, then read them back, and the requests per second of each
//! phase are printed. A measuring tool, not a test: it asserts nothing about speed.
//!
//! ```sh
//! loco serve --db /tmp/load.db --addr 127.0.0.1:8080 &
//! cargo run --release -p loco-cli --example http_load -- http://127.0.0.1:8080 20000 100000
//! ```

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CLIENTS: usize = 64;

struct Phase {
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    fn report(&mut self, name: &str) -> String {
        self.latencies.sort_unstable();
        let at = |q: f64| self.latencies[((self.latencies.len() - 1) as f64 * q) as usize];
        format!(
            "{name:<7} {:>7} requests  {:>9.0} req/s  p50 {:>7.3} ms  p99 {:>7.3} ms",
            self.requests,
            self.requests as f64 / self.elapsed.as_secs_f64(),
            at(0.50).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
        )
    }
}

/// Runs `total` requests over `CLIENTS` connections; `make` builds request number `i`.
async fn phase<F>(total: usize, make: F) -> (Phase, Vec<Value>)
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (make, next) = (make.clone(), next.clone());
            tokio::spawn(async move {
                // One client per worker: one keep-alive connection each.
                let client = reqwest::Client::builder().tcp_nodelay(true).build().expect("client");
                let mut latencies = Vec::new();
                let mut bodies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let t = Instant::now();
                    let response = make(&client, i).send().await.expect("request");
                    assert!(response.status().is_success(), "{}", response.status());
                    let body: Value = response.json().await.expect("json");
                    latencies.push(t.elapsed());
                    bodies.push(body);
                }
                (latencies, bodies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(total);
    let mut bodies = Vec::with_capacity(total);
    for worker in workers {
        let (l, b) = worker.await.expect("worker");
        latencies.extend(l);
        bodies.extend(b);
    }
    (Phase { requests: total, elapsed: started.elapsed(), latencies }, bodies)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let creates: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let gets: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);

    let create_url = format!("{url}/api/v1/deployments");
    let (mut create, bodies) = phase(creates, move |client, i| {
        client.post(&create_url).json(&json!({
            "service": format!("svc-{}", i % 50),
            "environment": "staging",
            "version": format!("1.0.{i}"),
            "requester": "load@example.com",
            "work_refs": ["LOAD-1"],
            "rollback_plan": "redeploy the previous version",
        }))
    })
    .await;
    let ids: Arc<Vec<String>> = Arc::new(bodies.iter().map(|b| b["id"].as_str().expect("id").to_owned()).collect());

    let (mut get, _) =
        phase(gets, move |client, i| client.get(format!("{url}/api/v1/deployments/{}", ids[i % ids.len()]))).await;

    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{CLIENTS} keep-alive clients, TCP_NODELAY");
    let _ = writeln!(out, "{}", create.report("create"));
    let _ = writeln!(out, "{}", get.report("get"));
}
