//! A minimal HTTP/1.1 client for the fake tests (the fake crate has no client dependency): one
//! request per connection, `Connection: close`, JSON bodies.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One answer: status, headers (names lower-case) and the body as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Answer {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Sends `method path` to the fake at `base_url` (`http://127.0.0.1:PORT`) with an
/// `Authorization` header when one is given, the extra `headers`, and `body` as JSON.
pub async fn send(
    base_url: &str,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Answer {
    let address = base_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let text = body.map(Value::to_string).unwrap_or_default();
    let mut lines =
        vec![format!("{method} {path} HTTP/1.1"), format!("Host: {address}"), "Connection: close".to_owned()];
    if let Some(authorization) = authorization {
        lines.push(format!("Authorization: {authorization}"));
    }
    lines.extend(headers.iter().map(|(name, value)| format!("{name}: {value}")));
    if !text.is_empty() {
        lines.push("Content-Type: application/json".to_owned());
    }
    lines.push(format!("Content-Length: {}", text.len()));
    let request = format!("{}\r\n\r\n{text}", lines.join("\r\n"));
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let raw = String::from_utf8(raw).expect("utf-8 answer");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head");
    let mut lines = head.lines();
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_owned())).collect();
    Answer { status, headers, body: serde_json::from_str(body).unwrap_or(Value::Null) }
}
