//! P7: HTTP create + get requests per second from 64 keep-alive loopback clients (`TCP_NODELAY`,
//! a fixed request count, a time limit, 127.0.0.1 only) against `loco serve` once it exists, and
//! against the pure-Python peer on `http.server`.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier, mpsc};
use std::time::{Duration, Instant};

use crate::Result;
use crate::child::Guard;
use crate::stats::Latencies;
use crate::table::{Row, Target, micros, rate, thousands};

/// Concurrent keep-alive connections.
pub const CLIENTS: usize = 64;
/// Untimed create + get pairs per connection before the clock starts.
const WARMUP_PAIRS: usize = 2;
/// Socket read/write timeout; a server that stalls this long fails the run.
const IO_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a server may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(30);

/// How much P7 sends.
#[derive(Debug, Clone, Copy)]
pub struct HttpScale {
    /// Timed create + get pairs per connection.
    pub pairs_per_client: usize,
    /// The most the timed phase may take per server.
    pub limit: Duration,
}

/// Where the servers are.
pub struct Setup<'a> {
    /// The repository root.
    pub root: &'a Path,
    /// The Python interpreter for the peer.
    pub python: &'a str,
    /// The `loco` binary, if one was given or found.
    pub loco_bin: Option<PathBuf>,
}

/// P7 results.
pub struct Http {
    /// The P7 rows.
    pub rows: Vec<Row>,
    /// How it was run.
    pub note: String,
}

/// What one load run measured.
struct Load {
    requests: usize,
    planned: usize,
    elapsed: Duration,
    latencies: Latencies,
}

impl Load {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn cell(&mut self) -> String {
        let partial = if self.requests < self.planned {
            format!("; time limit hit after {} of {}", thousands(self.requests as f64), thousands(self.planned as f64))
        } else {
            String::new()
        };
        format!(
            "{} (p50 {}, p99 {}{partial})",
            rate(self.rate(), "req/s"),
            micros(self.latencies.percentile(50.0)),
            micros(self.latencies.percentile(99.0))
        )
    }
}

/// Runs P7 in `dir`; `p2_rate` is Loco's 64-caller in-process rate from P2, if it ran.
pub fn run(dir: &Path, setup: &Setup<'_>, scale: HttpScale, p2_rate: Option<f64>) -> Result<Http> {
    eprintln!("  P7 pure-Python peer (http.server)");
    let mut peer = {
        let log = dir.join("http-peer.log");
        let mut cmd = Command::new(setup.python);
        cmd.arg(setup.root.join("bench/peers/http_peer.py")).arg("--db").arg(dir.join("http-peer.db"));
        cmd.args(["--port", "0"]);
        let (server, addr) = start_reporting_port(&mut cmd, &log)?;
        let load = load(addr, scale).map_err(|e| with_log(e, &log))?;
        drop(server);
        load
    };
    let loco = match serve_available(setup.loco_bin.as_deref()) {
        Err(why) => Err(why),
        Ok(bin) => {
            eprintln!("  P7 loco serve");
            let log = dir.join("loco-serve.log");
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let mut cmd = Command::new(bin);
            // Without authentication, like the plain-HTTP peer it is compared with.
            cmd.arg("serve")
                .arg("--no-auth")
                .arg("--db")
                .arg(dir.join("http-loco.db"))
                .arg("--addr")
                .arg(addr.to_string());
            let server = start_polling(&mut cmd, addr, &log)?;
            let load = load(addr, scale).map_err(|e| with_log(e, &log))?;
            drop(server);
            Ok(load)
        }
    };

    let requests = thousands((CLIENTS * scale.pairs_per_client * 2) as f64);
    let what = format!(
        "HTTP requests/s, {CLIENTS} keep-alive loopback clients, each alternating `POST /api/v1/deployments` and \
         `GET /api/v1/deployments/{{id}}` ({requests} requests)"
    );
    let p2_cell = p2_rate.map_or_else(|| "P2 not run".to_owned(), |r| format!("{} (P2, in-process)", rate(r, "tx/s")));
    let peer_cell = peer.cell();
    let mut rows = Vec::new();
    match loco {
        Ok(mut loco) => {
            let cell = loco.cell();
            let vs_p2 = p2_rate.map(|r| loco.rate() / r);
            rows.push(Row {
                id: "P7",
                measure: format!("{what} vs Loco's 64-caller in-process rate (P2)"),
                loco: cell.clone(),
                baseline: p2_cell,
                ratio: vs_p2,
                target: Target::AtLeast(0.3),
                value: None,
            });
            rows.push(Row::measured(
                "P7",
                format!("{what} vs the pure-Python peer on `http.server`"),
                cell,
                peer_cell,
                loco.rate() / peer.rate(),
                Target::AtLeast(10.0),
            ));
        }
        Err(why) => {
            rows.push(Row::unmeasurable("P7", format!("{what} vs P2"), &why, p2_cell, Target::AtLeast(0.3)));
            rows.push(Row::unmeasurable(
                "P7",
                format!("{what} vs the pure-Python peer on `http.server`"),
                &why,
                peer_cell,
                Target::AtLeast(10.0),
            ));
        }
    }
    let note = format!(
        "P7: both servers start on a fresh `synchronous=FULL` file; each of the {CLIENTS} connections sends \
         {WARMUP_PAIRS} untimed create + get pairs, then all start together; a create must answer 201 and a get 200. \
         The peer is `bench/peers/http_peer.py` (`ThreadingHTTPServer`, HTTP/1.1 keep-alive, Nagle off, one sqlite3 \
         connection per thread, writes serialized by a lock)."
    );
    Ok(Http { rows, note })
}

fn with_log(e: impl std::fmt::Display, log: &Path) -> Box<dyn std::error::Error + Send + Sync> {
    let tail = std::fs::read_to_string(log).unwrap_or_default();
    let tail: String = tail.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    format!("{e}\nserver log ({}):\n{tail}", log.display()).into()
}

/// The `loco` binary when it has a working `serve` command, or why not.
fn serve_available(bin: Option<&Path>) -> std::result::Result<PathBuf, String> {
    let bin = bin.ok_or("no `loco` binary (scripts/bench builds one, or set LOCO_BIN)")?;
    let mut guard = Guard(
        Command::new(bin)
            .args(["serve", "--help"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("`loco serve` not available ({}: {e})", bin.display()))?,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match guard.0.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(bin.to_owned()),
            Ok(Some(_)) => return Err("`loco serve --help` fails".to_owned()),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => return Err("`loco serve --help` did not answer".to_owned()),
        }
    }
}

/// Starts a server that prints `LISTENING host:port` as its first stdout line.
fn start_reporting_port(cmd: &mut Command, log: &Path) -> Result<(Guard, SocketAddr)> {
    let mut guard =
        Guard(cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::from(File::create(log)?)).spawn()?);
    let stdout = guard.0.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(START_LIMIT).map_err(|_| with_log("the server did not start listening", log))?;
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("LISTENING ")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| with_log(format!("unexpected first line from the server: {line:?}"), log))?;
    if !addr.ip().is_loopback() {
        return Err(format!("the server listens on {addr}, not on loopback").into());
    }
    Ok((guard, addr))
}

/// Starts a server and polls `GET /healthz` until it answers 200.
fn start_polling(cmd: &mut Command, addr: SocketAddr, log: &Path) -> Result<Guard> {
    let out = File::create(log)?;
    let mut guard = Guard(cmd.stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out).spawn()?);
    let deadline = Instant::now() + START_LIMIT;
    loop {
        if let Some(status) = guard.0.try_wait()? {
            return Err(with_log(format!("the server exited before answering ({status})"), log));
        }
        if let Ok(mut conn) = Conn::open(addr)
            && matches!(conn.request("GET", "/healthz", None), Ok((200, _)))
        {
            return Ok(guard);
        }
        if Instant::now() > deadline {
            return Err(with_log("the server did not answer GET /healthz in time", log));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the load: every connection warms up, then all start together on one barrier.
fn load(addr: SocketAddr, scale: HttpScale) -> Result<Load> {
    let barrier = Arc::new(Barrier::new(CLIENTS + 1));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let barrier = barrier.clone();
            std::thread::spawn(move || -> Result<Vec<Duration>> {
                let warmed = Conn::open(addr).and_then(|mut conn| {
                    for i in 0..WARMUP_PAIRS {
                        conn.pair(client, i)?;
                    }
                    Ok(conn)
                });
                // Everyone reaches the barrier, even after an error, so nobody waits forever.
                barrier.wait();
                let mut conn = warmed?;
                let deadline = Instant::now() + scale.limit;
                let mut samples = Vec::with_capacity(scale.pairs_per_client * 2);
                for i in WARMUP_PAIRS..WARMUP_PAIRS + scale.pairs_per_client {
                    if Instant::now() > deadline {
                        break;
                    }
                    let (create, get) = conn.pair(client, i)?;
                    samples.extend([create, get]);
                }
                Ok(samples)
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let mut latencies = Latencies::with_capacity(CLIENTS * scale.pairs_per_client * 2);
    let mut failure = None;
    for client in clients {
        match client.join().map_err(|_| "a client thread panicked")? {
            Ok(samples) => samples.into_iter().for_each(|s| latencies.push(s)),
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    let elapsed = started.elapsed();
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(Load { requests: latencies.len(), planned: CLIENTS * scale.pairs_per_client * 2, elapsed, latencies })
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(addr: SocketAddr) -> Result<Self> {
        if !addr.ip().is_loopback() {
            return Err(format!("refusing to connect to {addr}: loopback only").into());
        }
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        // Without this, a request written in two segments waits for a delayed ACK (~40 ms).
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(Self { reader: BufReader::new(stream.try_clone()?), writer: stream })
    }

    /// A create, then a get of what was created; returns both latencies.
    fn pair(&mut self, client: usize, i: usize) -> Result<(Duration, Duration)> {
        let body = format!(
            "{{\"service\":\"svc-{client:03}\",\"environment\":\"staging\",\"version\":\"1.{i}.0\",\
             \"requester\":\"alice@example.com\",\"work_refs\":[\"PAY-{i}\"],\
             \"rollback_plan\":\"redeploy the previous version\"}}"
        );
        let started = Instant::now();
        let (status, created) = self.request("POST", "/api/v1/deployments", Some(&body))?;
        let create = started.elapsed();
        if status != 201 {
            return Err(format!("POST /api/v1/deployments answered {status}: {created}").into());
        }
        let id = json_string_field(&created, "id").ok_or_else(|| format!("no id in the create response: {created}"))?;
        let path = format!("/api/v1/deployments/{id}");
        let started = Instant::now();
        let (status, got) = self.request("GET", &path, None)?;
        let get = started.elapsed();
        if status != 200 {
            return Err(format!("GET {path} answered {status}: {got}").into());
        }
        Ok((create, get))
    }

    /// Sends one request in a single write and reads one `Content-Length`-framed response.
    fn request(&mut self, method: &str, path: &str, body: Option<&str>) -> Result<(u16, String)> {
        let request = match body {
            Some(body) => format!(
                "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            ),
            None => format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        };
        self.writer.write_all(request.as_bytes())?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err("the server closed the connection".into());
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let mut length = None;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err("the server closed the connection mid-response".into());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let length = length.ok_or("response without Content-Length (only Content-Length framing is supported)")?;
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// The string value of a top-level `"name": "value"` pair, without a JSON parser.
fn json_string_field(json: &str, name: &str) -> Option<String> {
    let key = format!("\"{name}\"");
    let mut rest = &json[json.find(&key)? + key.len()..];
    rest = rest.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_id_with_or_without_spaces() {
        assert_eq!(json_string_field(r#"{"id": "dep_1", "x": 2}"#, "id").as_deref(), Some("dep_1"));
        assert_eq!(json_string_field(r#"{"a":1,"id":"dep_2"}"#, "id").as_deref(), Some("dep_2"));
        assert_eq!(json_string_field(r#"{"a":1}"#, "id"), None);
    }

    #[test]
    fn only_loopback_is_dialled() {
        let err = Conn::open(SocketAddr::from(([10, 0, 0, 1], 80))).err().unwrap();
        assert!(err.to_string().contains("loopback only"));
    }
}
