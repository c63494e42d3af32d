//! The dashboard at `/` on a server with authentication on: the page and its assets are served
//! without a token, exactly as built into `loco-cli/dashboard/dist/`, with the content security
//! policy and `nosniff`; the page has no inline script; only GET is allowed; unknown assets are
//! 404; and every API route still demands its token.

use std::collections::BTreeSet;
use std::path::PathBuf;

use loco_cli::server::ServerConfig;
use loco_cli::server::dashboard::{CONTENT_SECURITY_POLICY, embedded_files};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{TestServer, assert_error};

const CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   frame-ancestors 'none'";

fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dashboard/dist")
}

/// Every file name in `dist/`, sorted.
fn dist_files() -> BTreeSet<String> {
    std::fs::read_dir(dist())
        .expect("dashboard/dist exists")
        .map(|entry| entry.expect("entry").file_name().into_string().expect("UTF-8 name"))
        .collect()
}

fn expected_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        other => panic!("no content type expected for {name} ({other:?})"),
    }
}

/// The `/assets/…` paths the page's `src` and `href` attributes name.
fn referenced_assets(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            let value = &rest[..rest.find('"').expect("a closing quote")];
            if value.starts_with("/assets/") {
                found.push(value.to_owned());
            }
        }
    }
    found
}

async fn authenticated_server() -> TestServer {
    TestServer::start_with(ServerConfig::default()).await
}

#[track_caller]
fn assert_security_headers(response: &reqwest::Response) {
    let headers = response.headers();
    assert_eq!(headers["content-security-policy"], CSP, "{}", response.url());
    assert_eq!(headers["x-content-type-options"], "nosniff", "{}", response.url());
    assert_eq!(headers["cache-control"], "no-cache", "{}", response.url());
}

#[test]
fn the_binary_embeds_exactly_the_files_of_dist() {
    let embedded: BTreeSet<String> = embedded_files().into_iter().map(str::to_owned).collect();
    assert_eq!(embedded, dist_files(), "loco-cli/src/server/dashboard.rs lists every file of dashboard/dist/");
    assert_eq!(CONTENT_SECURITY_POLICY, CSP);
}

#[tokio::test]
async fn the_page_is_served_without_a_token_with_its_security_headers_and_no_data() {
    let server = authenticated_server().await;
    let response = server.http.get(server.at("/")).send().await.expect("GET /");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
    assert_security_headers(&response);
    let html = response.text().await.expect("body");
    let built = std::fs::read_to_string(dist().join("index.html")).expect("index.html");
    assert_eq!(html, built, "the page is the built file, byte for byte: it carries no data");
    assert!(!html.contains("dep_") && !html.contains("loco_"), "no ids, no tokens");
    server.stop().await;
}

#[test]
fn the_page_has_no_inline_script_style_or_handler() {
    let html = std::fs::read_to_string(dist().join("index.html")).expect("index.html");
    let scripts: Vec<&str> = html.match_indices("<script").map(|(at, _)| &html[at..]).collect();
    assert!(!scripts.is_empty(), "the page loads its script");
    for script in scripts {
        let open_end = script.find('>').expect("a complete tag");
        let tag = &script[..open_end];
        assert!(tag.contains(" src=\"/assets/"), "every script is a file of this server: {tag}");
        assert!(script[open_end + 1..].starts_with("</script>"), "no inline script body: {tag}");
    }
    let lower = html.to_ascii_lowercase();
    for inline in ["<style", " style=", " onload=", " onclick=", " onerror=", "javascript:"] {
        assert!(!lower.contains(inline), "the page has no inline {inline}");
    }
}

#[test]
fn the_scripts_never_parse_markup() {
    let scripts = dist_files().into_iter().filter(|n| std::path::Path::new(n).extension().is_some_and(|e| e == "js"));
    for name in scripts {
        let code = std::fs::read_to_string(dist().join(&name)).expect("script");
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
            assert!(!code.contains(sink), "{name} uses {sink}");
        }
        for outside in ["http://", "https://"] {
            let urls: Vec<&str> =
                code.match_indices(outside).map(|(at, _)| &code[at..(at + 40).min(code.len())]).collect();
            assert!(
                urls.iter().all(|u| u.starts_with("http://www.w3.org/2000/svg")),
                "{name} names no other origin: {urls:?}"
            );
        }
    }
}

#[tokio::test]
async fn every_asset_is_served_with_its_type_and_unknown_ones_are_404() {
    let server = authenticated_server().await;
    let html = std::fs::read_to_string(dist().join("index.html")).expect("index.html");
    let referenced = referenced_assets(&html);
    assert!(referenced.contains(&"/assets/app.js".to_owned()), "{referenced:?}");
    for name in dist_files().iter().filter(|n| *n != "index.html") {
        let path = format!("/assets/{name}");
        let response = server.http.get(server.at(&path)).send().await.expect("GET asset");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], expected_type(name), "{path}");
        assert_security_headers(&response);
        let etag = response.headers()["etag"].clone();
        let body = response.bytes().await.expect("body");
        assert_eq!(body.as_ref(), std::fs::read(dist().join(name)).expect("file"), "{path}");

        let again = server.http.get(server.at(&path)).header("if-none-match", etag).send().await.expect("GET");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}: an unchanged file is not sent twice");
    }
    for path in referenced {
        let response = server.http.get(server.at(&path)).send().await.expect("GET");
        assert_eq!(response.status(), StatusCode::OK, "the page names {path}, which is served");
    }
    for missing in ["/assets/nope.js", "/assets/app.js.map", "/assets/..%2Findex.html"] {
        let response = server.http.get(server.at(missing)).send().await.expect("GET");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{missing}");
        let body: Value = response.json().await.expect("JSON error");
        assert_error(&body, "not_found", &[]);
    }
    server.stop().await;
}

#[tokio::test]
async fn only_get_is_allowed_on_the_dashboard() {
    let server = authenticated_server().await;
    for path in ["/", "/assets/app.js"] {
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            let response = server
                .http
                .request(method.clone(), server.at(path))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(response.headers()["allow"].to_str().unwrap().contains("GET"), "{method} {path}");
            let body: Value = response.json().await.expect("JSON error");
            assert_error(&body, "method_not_allowed", &[]);
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn the_api_still_needs_a_token_and_the_dashboard_is_not_in_the_openapi_document() {
    let server = authenticated_server().await;
    for path in ["/api/v1/deployments", "/api/v1/whoami", "/assets", "/assets/sub/app.js", "/index.html"] {
        let response = server.http.get(server.at(path)).send().await.expect("GET");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let rebinding = server.http.get(server.at("/")).header("host", "attacker.example").send().await.expect("GET");
    assert_eq!(rebinding.status(), StatusCode::MISDIRECTED_REQUEST, "the page answers only to this server's names");

    let (status, doc) = server.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.keys().all(|p| p != "/" && !p.starts_with("/assets")), "{:?}", paths.keys());
    server.stop().await;
}
