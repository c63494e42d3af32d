//! The `url` health probe over real TLS on loopback: a server with a self-signed certificate
//! passes when the plan trusts that certificate (`ca_pem`) and fails — naming the certificate —
//! when it does not; a wrong status and a closed port fail with what happened.

use std::sync::Arc;

use loco_platform::extensions::Extensions;
use loco_platform::health::{Checker, check_with_retries};
use loco_platform::memory::MemoryPlatform;
use loco_platform::{Instance, InstanceState, Platform, Target};
use loco_types::plan::{HealthSpec, Probe, ReleaseSpec};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An HTTPS server on 127.0.0.1 answering every request with `status`; returns its port and
/// the certificate's PEM.
async fn https_server(status: u16) -> (u16, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let pem = cert.cert.pem();
    let chain = vec![CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(cert.signing_key.serialize_pem().as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = [0u8; 1024];
                let _ = tls.read(&mut buf).await;
                let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, pem)
}

/// Checks one instance of the memory platform with `probe`: (ok, detail).
async fn check(probe: Probe) -> (bool, String) {
    let sim = MemoryPlatform::new("sim");
    let target = Target { service: "api".into(), environment: "prod".into() };
    let release = ReleaseSpec { version: "v1".into(), ..ReleaseSpec::default() };
    let instance: Instance = sim.deploy(&target, &release, &["ins_1".to_owned()]).await.unwrap().remove(0);
    assert_eq!(instance.state, InstanceState::Running);
    let spec = HealthSpec { probes: vec![probe], timeout_seconds: 5.0, retries: 0, ..HealthSpec::default() };
    let outcome =
        check_with_retries(&spec, Checker { platform: &sim, extensions: &Extensions::default() }, &target, &instance)
            .await;
    (outcome.ok, outcome.detail)
}

#[tokio::test]
async fn an_https_endpoint_passes_only_when_its_certificate_is_trusted() {
    let (port, pem) = https_server(200).await;
    let url = format!("https://127.0.0.1:{port}/health");
    let trusted = Probe::Url { url: url.clone(), expect_status: 200, ca_pem: Some(pem) };
    assert_eq!(check(trusted).await, (true, "all probes passed".to_owned()));

    let (ok, detail) = check(Probe::Url { url, expect_status: 200, ca_pem: None }).await;
    assert!(!ok);
    assert!(detail.to_lowercase().contains("certificate"), "the refusal names the certificate: {detail}");
}

#[tokio::test]
async fn a_wrong_status_and_a_closed_port_fail_saying_what_happened() {
    let (port, pem) = https_server(503).await;
    let url = format!("https://127.0.0.1:{port}/health");
    let (ok, detail) = check(Probe::Url { url: url.clone(), expect_status: 200, ca_pem: Some(pem) }).await;
    assert!(!ok);
    assert!(detail.ends_with("answered 503"), "{detail}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (ok, detail) =
        check(Probe::Url { url: format!("http://127.0.0.1:{closed}/"), expect_status: 200, ca_pem: None }).await;
    assert!(!ok);
    assert!(detail.contains("connect failed"), "{detail}");
}
