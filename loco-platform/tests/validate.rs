//! Pre-deployment validation against real files and real child processes: artifacts as
//! directories, tar, tar.gz and zip archives built here; configuration formats; every secret
//! rule, the allow-list and the promise that no secret value reaches a report; and dependency
//! scanners replaying recorded reports (`tests/fixtures/validate/`) through `cat`, failing closed
//! when they cannot start, print something else or run past their time limit.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use loco_platform::validate;
use loco_types::plan::{
    ArtifactCheck, CheckKind, ConfigCheck, ConfigFormat, DependencyScan, ReleaseSpec, ScanFormat, SecretScan, Severity,
    ValidationReport, ValidationSpec,
};
use sha2::{Digest, Sha256};

const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const GITHUB_TOKEN: &str = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
const SLACK_TOKEN: &str = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx";
const STRIPE_KEY: &str = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
const GOOGLE_KEY: &str = "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI";
const DB_PASSWORD: &str = "x8Kq2LmZ9vR4tY7wP3nB6cJ1";
const KEY_BODY: &str = "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi8L2hDs0mgkSAnc7Nl5oRp";
const CERT_BODY: &str = "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQG";

/// What a test compares: rule, severity, blocking, file, line.
type Fact = (String, Severity, bool, Option<String>, Option<u32>);

fn fact(rule: &str, severity: Severity, blocking: bool, file: Option<&str>, line: Option<u32>) -> Fact {
    (rule.to_owned(), severity, blocking, file.map(str::to_owned), line)
}

/// The report's findings as facts, in a stable order.
fn facts(report: &ValidationReport) -> Vec<Fact> {
    let mut facts: Vec<Fact> =
        report.findings.iter().map(|f| (f.rule.clone(), f.severity, f.blocking, f.file.clone(), f.line)).collect();
    facts.sort_by(|a, b| (&a.3, a.4, &a.0).cmp(&(&b.3, b.4, &b.0)));
    facts
}

fn sorted(mut facts: Vec<Fact>) -> Vec<Fact> {
    facts.sort_by(|a, b| (&a.3, a.4, &a.0).cmp(&(&b.3, b.4, &b.0)));
    facts
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn release(env: &[(&str, &str)], secret_env: &[(&str, &str)]) -> ReleaseSpec {
    ReleaseSpec { env: map(env), secret_env: map(secret_env), ..ReleaseSpec::default() }
}

fn artifact(path: &Path) -> ArtifactCheck {
    ArtifactCheck {
        path: path.display().to_string(),
        sha256: None,
        checksum_file: None,
        required_files: Vec::new(),
        max_bytes: None,
        max_file_bytes: None,
    }
}

async fn check_artifact(check: ArtifactCheck) -> ValidationReport {
    let spec = ValidationSpec { artifact: Some(check), ..ValidationSpec::default() };
    validate::run(&spec, &ReleaseSpec::default()).await
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

fn write_dir(root: &Path, files: &[(&str, &[u8])]) {
    for (name, data) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
}

/// A tar archive of `files`; a name ending in `/` is a directory. Names are written raw, so that
/// a test can store what the tar crate's own builder refuses (`../x`, `/etc/x`).
fn tar_bytes(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        let directory = name.ends_with('/');
        header.set_entry_type(if directory { tar::EntryType::Directory } else { tar::EntryType::Regular });
        header.set_size(data.len() as u64);
        header.set_mode(if directory { 0o755 } else { 0o644 });
        header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn write_tar(path: &Path, files: &[(&str, &[u8])]) {
    std::fs::write(path, tar_bytes(files)).unwrap();
}

fn write_tar_gz(path: &Path, files: &[(&str, &[u8])]) {
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::default());
    gz.write_all(&tar_bytes(files)).unwrap();
    gz.finish().unwrap();
}

fn write_zip(path: &Path, files: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap();
}

// ---------------------------------------------------------------------------------------------
// Artifact

#[tokio::test]
async fn a_clean_directory_artifact_passes_every_artifact_rule() {
    let dir = tempfile::tempdir().unwrap();
    let files: [(&str, &[u8]); 3] = [
        ("app/main.py", b"print('hello')\n"),
        ("app/requirements.txt", b"flask==3.0.3\n"),
        ("static/index.html", b"<h1>hi</h1>\n"),
    ];
    write_dir(dir.path(), &files);
    let sums =
        files.iter().map(|(name, data)| format!("{}  {name}", sha256(data))).collect::<Vec<_>>().join("\n") + "\n";
    write_dir(dir.path(), &[("SHA256SUMS", sums.as_bytes())]);
    let mut check = artifact(dir.path());
    check.required_files = vec!["app/main.py".into(), "static".into(), "./app/requirements.txt".into()];
    check.checksum_file = Some("SHA256SUMS".into());
    check.max_bytes = Some(10_000);
    check.max_file_bytes = Some(1_000);
    let report = check_artifact(check).await;
    assert!(report.passed, "{report:#?}");
    assert_eq!(report.findings, []);
    let total: usize = files.iter().map(|(_, data)| data.len()).sum::<usize>() + sums.len();
    assert_eq!(report.checks[0].check, CheckKind::Artifact);
    assert_eq!(report.checks[0].summary, format!("4 files, {total} B (directory)"));
}

#[tokio::test]
async fn required_files_missing_from_a_tar_gz_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("release.tgz");
    write_tar_gz(&path, &[("./", b""), ("./app/", b""), ("./app/main.py", b"print(1)\n"), ("./README.md", b"# app\n")]);
    let mut check = artifact(&path);
    check.required_files = vec!["app/main.py".into(), "app".into(), "Procfile".into(), "config/settings.py".into()];
    let report = check_artifact(check).await;
    assert_eq!(
        facts(&report),
        sorted(vec![
            fact("missing_file", Severity::High, true, Some("Procfile"), None),
            fact("missing_file", Severity::High, true, Some("config/settings.py"), None),
        ])
    );
    assert!(!report.passed && !report.checks[0].passed);
    assert_eq!(report.checks[0].summary, "2 files, 15 B (tar.gz)");
}

#[tokio::test]
async fn a_checksum_file_next_to_the_archive_checks_its_files_and_the_archive_itself() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.tar");
    let (main, util) = (b"print('main')\n".as_slice(), b"def util(): pass\n".as_slice());
    write_tar(&path, &[("app/main.py", main), ("app/util.py", util), ("bin/app", b"#!/bin/sh\n")]);
    let archive = std::fs::read(&path).unwrap();
    let sums = format!(
        "# built by CI\n\n{}  app/main.py\n{}  app/util.py\n{} *docs/missing.md\n{}  app.tar\n",
        sha256(main),
        sha256(b"something else"),
        sha256(b"docs"),
        sha256(&archive)
    );
    std::fs::write(dir.path().join("SHA256SUMS"), sums).unwrap();
    let mut check = artifact(&path);
    check.checksum_file = Some("SHA256SUMS".into());
    let report = check_artifact(check.clone()).await;
    assert_eq!(
        facts(&report),
        sorted(vec![
            fact("checksum_mismatch", Severity::Critical, true, Some("app/util.py"), None),
            fact("missing_file", Severity::High, true, Some("docs/missing.md"), None),
        ])
    );
    let mismatch = report.findings.iter().find(|f| f.rule == "checksum_mismatch").unwrap();
    assert!(mismatch.message.contains("listed on line 4 of"), "{}", mismatch.message);

    // The archive's own line is compared with the archive's digest.
    let wrong_own = format!("{}  app/main.py\n{}  app.tar\n", sha256(main), sha256(b"another archive"));
    std::fs::write(dir.path().join("SHA256SUMS"), wrong_own).unwrap();
    let report = check_artifact(check).await;
    assert_eq!(facts(&report), [fact("checksum_mismatch", Severity::Critical, true, None, None)]);
    assert_eq!(report.findings[0].location, "app.tar");
}

#[tokio::test]
async fn a_checksum_file_inside_a_zip_is_read_first_and_a_malformed_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.zip");
    let index = b"<h1>site</h1>\n".as_slice();
    let sums = format!("{}  index.html\nnot a checksum line\n", sha256(index));
    write_zip(&path, &[("index.html", index), ("SHA256SUMS", sums.as_bytes())]);
    // A decoy next to the archive, which must not be the one read.
    std::fs::write(dir.path().join("SHA256SUMS"), format!("{}  index.html\n", sha256(b"decoy"))).unwrap();
    let mut check = artifact(&path);
    check.checksum_file = Some("SHA256SUMS".into());
    let report = check_artifact(check).await;
    assert_eq!(facts(&report), [fact("bad_checksum_file", Severity::High, true, Some("SHA256SUMS"), Some(2))]);
    assert_eq!(report.findings[0].location, "SHA256SUMS:2");

    let mut check = artifact(&path);
    check.checksum_file = Some("SHA512SUMS".into());
    let report = check_artifact(check).await;
    assert_eq!(facts(&report), [fact("missing_file", Severity::High, true, None, None)]);
    assert!(report.findings[0].message.contains("neither in the artifact nor next to it"));
}

#[tokio::test]
async fn sha256_checks_an_archive_and_is_refused_for_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.tar.gz");
    write_tar_gz(&path, &[("app/main.py", b"print(1)\n")]);
    let digest = sha256(&std::fs::read(&path).unwrap());

    let mut check = artifact(&path);
    check.sha256 = Some(digest.to_uppercase());
    assert!(check_artifact(check.clone()).await.passed);

    check.sha256 = Some(sha256(b"not the archive"));
    let report = check_artifact(check).await;
    assert_eq!(facts(&report), [fact("checksum_mismatch", Severity::Critical, true, None, None)]);
    assert!(report.findings[0].message.contains(&digest));

    let mut check = artifact(dir.path());
    check.sha256 = Some(digest);
    let report = check_artifact(check).await;
    assert_eq!(facts(&report), [fact("unsupported_check", Severity::High, true, None, None)]);
    assert!(report.findings[0].message.contains("archives only"));
}

#[tokio::test]
async fn size_limits_name_the_file_that_is_too_large() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path(), &[("small.txt", &[b'a'; 10]), ("assets/big.bin", &[0u8; 5000])]);
    let mut check = artifact(dir.path());
    check.max_file_bytes = Some(1000);
    check.max_bytes = Some(4000);
    let report = check_artifact(check).await;
    assert_eq!(
        facts(&report),
        sorted(vec![
            fact("too_large", Severity::High, true, Some("assets/big.bin"), None),
            fact("too_large", Severity::High, true, None, None),
        ])
    );
    assert_eq!(report.checks[0].summary, "2 files, 5.0 kB (directory)");
}

#[tokio::test]
async fn entries_that_would_escape_the_archive_are_critical() {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("evil.tar");
    write_tar(&tar, &[("app/ok.txt", b"ok"), ("../evil.sh", b"rm -rf ~"), ("/etc/cron.d/evil", b"* * * * * root x")]);
    let report = check_artifact(artifact(&tar)).await;
    assert_eq!(
        facts(&report),
        sorted(vec![
            fact("unsafe_path", Severity::Critical, true, Some("../evil.sh"), None),
            fact("unsafe_path", Severity::Critical, true, Some("/etc/cron.d/evil"), None),
        ])
    );

    let zip = dir.path().join("evil.zip");
    write_zip(&zip, &[("ok.txt", b"ok"), ("app/../../escape.txt", b"x")]);
    let report = check_artifact(artifact(&zip)).await;
    assert_eq!(facts(&report), [fact("unsafe_path", Severity::Critical, true, Some("app/../../escape.txt"), None)]);
}

#[tokio::test]
async fn a_missing_unsupported_or_corrupt_artifact_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let report = check_artifact(artifact(&dir.path().join("nowhere.tar.gz"))).await;
    assert_eq!(facts(&report), [fact("missing_artifact", Severity::High, true, None, None)]);
    assert_eq!(report.checks[0].summary, "missing");

    let rar = dir.path().join("app.rar");
    std::fs::write(&rar, b"Rar!").unwrap();
    let report = check_artifact(artifact(&rar)).await;
    assert_eq!(facts(&report), [fact("unsupported_artifact", Severity::High, true, None, None)]);

    let corrupt = dir.path().join("app.tgz");
    std::fs::write(&corrupt, b"\x1f\x8b\x08\x00 and then nothing that inflates").unwrap();
    let mut check = artifact(&corrupt);
    check.required_files = vec!["app/main.py".into()];
    let report = check_artifact(check).await;
    assert_eq!(facts(&report), [fact("unreadable_artifact", Severity::High, true, None, None)], "{report:#?}");
}

#[tokio::test]
async fn symbolic_links_in_a_directory_artifact_are_not_followed() {
    let outside = tempfile::tempdir().unwrap();
    write_dir(outside.path(), &[("credentials", format!("aws_access_key_id = {AWS_KEY}\n").as_bytes())]);
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path(), &[("app/main.py", b"print(1)\n")]);
    std::os::unix::fs::symlink(outside.path().join("credentials"), dir.path().join("credentials")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("elsewhere")).unwrap();
    let mut check = artifact(dir.path());
    check.required_files = vec!["credentials".into()];
    let spec =
        ValidationSpec { artifact: Some(check), secrets: Some(SecretScan::default()), ..ValidationSpec::default() };
    let report = validate::run(&spec, &ReleaseSpec::default()).await;
    assert!(report.passed, "{report:#?}");
    assert_eq!(report.checks[0].summary, "1 file, 9 B (directory)");
    assert_eq!(report.checks[1].summary, "1 file scanned, 0 environment values");
}

// ---------------------------------------------------------------------------------------------
// Config

fn formats(pairs: Vec<(&str, ConfigFormat)>) -> BTreeMap<String, ConfigFormat> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[tokio::test]
async fn configuration_that_meets_every_format_passes() {
    let config = ConfigCheck {
        required: vec!["DATABASE_URL".into(), "PORT".into()],
        formats: formats(vec![
            ("DATABASE_URL", ConfigFormat::Url {}),
            ("PORT", ConfigFormat::Integer { min: Some(1), max: Some(65535) }),
            ("TIMEOUT", ConfigFormat::Duration {}),
            ("LOG_LEVEL", ConfigFormat::Enum { values: vec!["debug".into(), "info".into()] }),
            ("REGION", ConfigFormat::Regex { pattern: "[a-z]{2}-[a-z]+-[0-9]".into() }),
            ("SENTRY_DSN", ConfigFormat::Url {}),
        ]),
    };
    let release = release(
        &[("PORT", "8080"), ("TIMEOUT", "1h30m"), ("LOG_LEVEL", "info"), ("REGION", "eu-west-1")],
        &[("DATABASE_URL", "postgres://app:pw@db.internal:5432/app")],
    );
    let spec = ValidationSpec { config: Some(config), ..ValidationSpec::default() };
    let report = validate::run(&spec, &release).await;
    assert!(report.passed, "{report:#?}");
    assert_eq!(report.checks[0].summary, "2 variables required, 6 with a format");
}

#[tokio::test]
async fn configuration_failures_name_the_variable_and_never_show_a_secret_value() {
    let config = ConfigCheck {
        required: vec!["PORT".into(), "QUEUE_URL".into(), "BLANK".into()],
        formats: formats(vec![
            ("API_URL", ConfigFormat::Url {}),
            ("PORT", ConfigFormat::Integer { min: Some(1), max: Some(65535) }),
            ("TIMEOUT", ConfigFormat::Duration {}),
            ("LOG_LEVEL", ConfigFormat::Enum { values: vec!["debug".into(), "info".into()] }),
            ("REGION", ConfigFormat::Regex { pattern: "[a-z]{2}-[a-z]+-[0-9]".into() }),
            ("DATABASE_URL", ConfigFormat::Url {}),
            ("MAX_CONNECTIONS", ConfigFormat::Integer { min: None, max: Some(100) }),
        ]),
    };
    let release = release(
        &[
            ("API_URL", "api.example.com/v1"),
            ("PORT", "80a"),
            ("TIMEOUT", "10sec"),
            ("LOG_LEVEL", "verbose"),
            ("REGION", "EU"),
            ("BLANK", "   "),
        ],
        &[("DATABASE_URL", "s3cr3t-not-a-url"), ("MAX_CONNECTIONS", "31337000")],
    );
    let spec = ValidationSpec { config: Some(config), ..ValidationSpec::default() };
    let report = validate::run(&spec, &release).await;
    let mut found: Vec<(&str, &str)> = report.findings.iter().map(|f| (f.rule.as_str(), f.location.as_str())).collect();
    found.sort_unstable();
    assert_eq!(
        found,
        [
            ("bad_format", "release.env.API_URL"),
            ("bad_format", "release.env.LOG_LEVEL"),
            ("bad_format", "release.env.PORT"),
            ("bad_format", "release.env.REGION"),
            ("bad_format", "release.env.TIMEOUT"),
            ("bad_format", "release.secret_env.DATABASE_URL"),
            ("bad_format", "release.secret_env.MAX_CONNECTIONS"),
            ("missing_variable", "release.env.BLANK"),
            ("missing_variable", "release.env.QUEUE_URL"),
        ]
    );
    assert!(report.findings.iter().all(|f| f.blocking && f.severity == Severity::High && f.file.is_none()));
    let message = |location: &str| &report.findings.iter().find(|f| f.location == location).unwrap().message;
    assert_eq!(message("release.env.PORT"), "PORT must be an integer from 1 to 65535; got \"80a\"");
    assert_eq!(message("release.env.LOG_LEVEL"), "LOG_LEVEL must be one of debug, info; got \"verbose\"");
    assert!(message("release.env.TIMEOUT").contains("a duration such as 30s"));
    assert_eq!(
        message("release.secret_env.MAX_CONNECTIONS"),
        "MAX_CONNECTIONS must be an integer of at most 100; the value is a secret and not shown"
    );
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains("s3cr3t-not-a-url") && !json.contains("31337000"), "{json}");
}

#[tokio::test]
async fn a_pattern_that_does_not_compile_is_a_blocking_bad_pattern() {
    let config = ConfigCheck {
        required: Vec::new(),
        formats: formats(vec![("REGION", ConfigFormat::Regex { pattern: "([a-z]+".into() })]),
    };
    let spec = ValidationSpec { config: Some(config), ..ValidationSpec::default() };
    let report = validate::run(&spec, &release(&[], &[])).await;
    assert_eq!(facts(&report), [fact("bad_pattern", Severity::High, true, None, None)]);
    assert_eq!(report.findings[0].location, "validation.config.formats.REGION");
    assert!(report.findings[0].message.contains("unclosed group"), "{}", report.findings[0].message);
}

// ---------------------------------------------------------------------------------------------
// Secrets

fn private_key() -> String {
    format!("-----BEGIN RSA PRIVATE KEY-----\n{KEY_BODY}\n-----END RSA PRIVATE KEY-----\n")
}

fn certificate() -> String {
    format!("-----BEGIN CERTIFICATE-----\n{CERT_BODY}\n-----END CERTIFICATE-----\n")
}

/// A settings file with one secret of each kind per line (line 1 is a comment).
fn settings_py() -> String {
    [
        "# settings".to_owned(),
        format!("AWS_ACCESS_KEY_ID = '{AWS_KEY}'"),
        format!("aws_secret_access_key = \"{AWS_SECRET}\""),
        format!("GITHUB = '{GITHUB_TOKEN}'"),
        format!("SLACK_BOT = \"{SLACK_TOKEN}\""),
        format!("STRIPE = '{STRIPE_KEY}'"),
        format!("MAPS = \"{GOOGLE_KEY}\""),
        format!("DB_PASSWORD = \"{DB_PASSWORD}\""),
        "DEBUG = False".to_owned(),
    ]
    .join("\n")
}

fn secrets_only(path: &Path, scan: SecretScan) -> ValidationSpec {
    // The artifact check rides along: the secrets check scans the artifact it names.
    ValidationSpec { artifact: Some(artifact(path)), secrets: Some(scan), ..ValidationSpec::default() }
}

#[tokio::test]
async fn every_secret_rule_is_found_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.tar.gz");
    let pem = format!("{}\n\n\n{}", private_key(), certificate());
    let mut binary = b"\x7fELF\x00\x00".to_vec();
    binary.extend_from_slice(AWS_KEY.as_bytes());
    write_tar_gz(
        &path,
        &[
            ("config/settings.py", settings_py().as_bytes()),
            ("keys/server.pem", pem.as_bytes()),
            ("bin/server", &binary),
            ("README.md", b"# app\nNothing secret here.\n"),
        ],
    );
    let report = validate::run(&secrets_only(&path, SecretScan::default()), &release(&[], &[])).await;
    let file = Some("config/settings.py");
    assert_eq!(
        facts(&report),
        sorted(vec![
            fact("aws_access_key", Severity::Critical, true, file, Some(2)),
            fact("aws_secret_key", Severity::Critical, true, file, Some(3)),
            fact("github_token", Severity::Critical, true, file, Some(4)),
            fact("slack_token", Severity::Critical, true, file, Some(5)),
            fact("stripe_key", Severity::Critical, true, file, Some(6)),
            fact("google_api_key", Severity::Critical, true, file, Some(7)),
            fact("high_entropy", Severity::High, true, file, Some(8)),
            fact("private_key", Severity::Critical, true, Some("keys/server.pem"), Some(1)),
            fact("certificate", Severity::Info, false, Some("keys/server.pem"), Some(7)),
        ])
    );
    let secrets = &report.checks[1];
    assert_eq!((secrets.check, secrets.passed, secrets.findings), (CheckKind::Secrets, false, 9));
    assert_eq!(secrets.summary, "3 files scanned (1 skipped: binary or over 10 MiB), 0 environment values");
    let finding = |rule: &str| report.findings.iter().find(|f| f.rule == rule).unwrap();
    let aws = finding("aws_access_key");
    assert_eq!(aws.message, "AWS access key ID (aws_access_key): AKIA****************");
    assert_eq!(aws.location, "config/settings.py:2");
    assert_eq!(aws.fingerprint.as_deref(), Some(&sha256(AWS_KEY.as_bytes())[..16]));
    assert_eq!(finding("private_key").message, "private key (private_key)");
    assert_eq!(finding("private_key").fingerprint.as_deref(), Some(&sha256(private_key().trim_end().as_bytes())[..16]));
}

#[tokio::test]
async fn release_env_values_are_scanned_and_secret_env_values_never_are() {
    let spec = ValidationSpec { secrets: Some(SecretScan::default()), ..ValidationSpec::default() };
    let release = release(
        &[("GITHUB_TOKEN", GITHUB_TOKEN), ("LOG_LEVEL", "info"), ("SESSION_SECRET", DB_PASSWORD)],
        &[("AWS_ACCESS_KEY_ID", AWS_KEY), ("STRIPE_KEY", STRIPE_KEY)],
    );
    let report = validate::run(&spec, &release).await;
    let mut found: Vec<(&str, &str, Severity)> =
        report.findings.iter().map(|f| (f.rule.as_str(), f.location.as_str(), f.severity)).collect();
    found.sort_unstable();
    assert_eq!(
        found,
        [
            ("github_token", "release.env.GITHUB_TOKEN", Severity::Critical),
            ("high_entropy", "release.env.SESSION_SECRET", Severity::High),
        ]
    );
    assert!(report.findings.iter().all(|f| f.file.is_none() && f.line.is_none()));
    assert_eq!(report.checks[0].summary, "3 environment values");
}

#[tokio::test]
async fn the_allow_list_takes_fingerprints_and_whole_files() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(
        dir.path(),
        &[
            (".env", format!("AWS_ACCESS_KEY_ID={AWS_KEY}\nGH={GITHUB_TOKEN}\n").as_bytes()),
            ("tests/fixtures/stripe.json", format!("{{\"key\": \"{STRIPE_KEY}\"}}\n").as_bytes()),
        ],
    );
    let report = validate::run(&secrets_only(dir.path(), SecretScan::default()), &release(&[], &[])).await;
    assert_eq!(report.findings.len(), 3);
    let aws = report.findings.iter().find(|f| f.rule == "aws_access_key").unwrap();
    let fingerprint = aws.fingerprint.clone().unwrap();

    let scan =
        SecretScan { allow: vec![fingerprint, "file:tests/fixtures/stripe.json".into()], ..SecretScan::default() };
    let report = validate::run(&secrets_only(dir.path(), scan), &release(&[], &[])).await;
    assert_eq!(facts(&report), [fact("github_token", Severity::Critical, true, Some(".env"), Some(2))]);
    assert_eq!(report.checks[1].summary, "2 files scanned, 0 environment values, 2 allowed");
}

#[tokio::test]
async fn a_clean_artifact_and_environment_have_no_secret_findings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.zip");
    write_zip(&path, &[("app/main.py", b"import os\nTOKEN = os.environ['API_TOKEN']\n"), ("README.md", b"# app\n")]);
    let spec = secrets_only(&path, SecretScan::default());
    let report = validate::run(&spec, &release(&[("LOG_LEVEL", "info"), ("PASSWORD_MIN_LENGTH", "12")], &[])).await;
    assert!(report.passed, "{report:#?}");
    assert_eq!(report.checks[1].summary, "2 files scanned, 2 environment values");
}

#[tokio::test]
async fn no_secret_value_appears_anywhere_in_the_serialized_report() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = dir.path().join("artifact");
    let pem = format!("{}{}", private_key(), certificate());
    write_dir(&fixtures, &[("config/settings.py", settings_py().as_bytes()), ("keys/server.pem", pem.as_bytes())]);
    let declared = "declared-secret-value-9f3k2";
    let spec = ValidationSpec {
        artifact: Some(artifact(&fixtures)),
        config: Some(ConfigCheck {
            required: Vec::new(),
            formats: formats(vec![("GITHUB_TOKEN", ConfigFormat::Url {}), ("DATABASE_URL", ConfigFormat::Url {})]),
        }),
        secrets: Some(SecretScan::default()),
        dependencies: vec![scan(
            "pip",
            ScanFormat::PipAudit,
            &["sh", "-c", &format!("echo 'login failed for {declared}' >&2; echo nope")],
        )],
        ..ValidationSpec::default()
    };
    let release = release(&[("GITHUB_TOKEN", GITHUB_TOKEN)], &[("DATABASE_URL", declared)]);
    let report = validate::run(&spec, &release).await;
    let kinds: Vec<CheckKind> = report.checks.iter().map(|c| c.check).collect();
    assert_eq!(kinds, [CheckKind::Artifact, CheckKind::Config, CheckKind::Secrets, CheckKind::Dependencies]);
    assert!(report.findings.iter().any(|f| f.rule == "scanner_failed" && f.message.contains("login failed for ***")));
    assert!(report.findings.iter().any(|f| f.location == "release.env.GITHUB_TOKEN" && f.rule == "bad_format"));
    let json = serde_json::to_string(&report).unwrap();
    for value in [
        AWS_KEY,
        AWS_SECRET,
        GITHUB_TOKEN,
        SLACK_TOKEN,
        STRIPE_KEY,
        GOOGLE_KEY,
        DB_PASSWORD,
        KEY_BODY,
        CERT_BODY,
        declared,
    ] {
        assert!(!json.contains(value), "{value} is in the report: {json}");
    }
}

// ---------------------------------------------------------------------------------------------
// Dependencies

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/validate/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn scan(name: &str, format: ScanFormat, command: &[&str]) -> DependencyScan {
    DependencyScan {
        name: name.to_owned(),
        format,
        command: command.iter().map(|s| (*s).to_owned()).collect(),
        working_dir: None,
        fail_on: Severity::Critical,
        unrated: Severity::Critical,
        timeout_seconds: 10.0,
    }
}

fn replay(name: &str, format: ScanFormat, file: &str) -> DependencyScan {
    scan(name, format, &["cat", &fixture(file)])
}

async fn check_dependencies(scans: Vec<DependencyScan>) -> ValidationReport {
    let spec = ValidationSpec { dependencies: scans, ..ValidationSpec::default() };
    validate::run(&spec, &ReleaseSpec::default()).await
}

fn locations(report: &ValidationReport) -> Vec<(&str, Severity, bool)> {
    let mut found: Vec<_> = report.findings.iter().map(|f| (f.location.as_str(), f.severity, f.blocking)).collect();
    found.sort_unstable();
    found
}

#[tokio::test]
async fn pip_audit_vulnerabilities_take_the_scans_unrated_severity() {
    let report = check_dependencies(vec![replay("pip", ScanFormat::PipAudit, "pip-audit.json")]).await;
    assert_eq!(
        locations(&report),
        [
            ("dependencies.pip:flask@0.5", Severity::Critical, true),
            ("dependencies.pip:flask@0.5", Severity::Critical, true)
        ]
    );
    let first = report.findings.iter().find(|f| f.message.starts_with("PYSEC-2019-179")).unwrap();
    assert_eq!(first.rule, "vulnerability");
    assert!(
        first.message.starts_with(
            "PYSEC-2019-179, CVE-2019-1010083, GHSA-5wv5-4vpf-pj6m in flask@0.5: The Pallets Project Flask before 1.0"
        ),
        "{}",
        first.message
    );
    assert!(first.message.ends_with("; fixed in 1.0 (unrated; counted as critical)"), "{}", first.message);
    assert!(first.message.chars().count() < 330, "the description is cut: {}", first.message);
    assert_eq!(report.checks[0].summary, "pip: 2 vulnerabilities (2 critical)");

    let mut lenient = replay("pip", ScanFormat::PipAudit, "pip-audit.json");
    lenient.unrated = Severity::Low;
    let report = check_dependencies(vec![lenient]).await;
    assert!(report.passed, "{report:#?}");
    assert_eq!(report.checks[0].summary, "pip: 2 vulnerabilities (2 low)");
}

#[tokio::test]
async fn the_legacy_pip_audit_list_is_read_too() {
    let report = check_dependencies(vec![replay("pip", ScanFormat::PipAudit, "pip-audit-legacy.json")]).await;
    assert_eq!(report.findings.len(), 2);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.message == "PYSEC-2018-66 in flask@0.5; fixed in 0.12.3 (unrated; counted as critical)")
    );
}

#[tokio::test]
async fn npm_audit_blocks_from_its_fail_on_severity() {
    let npm = || replay("npm", ScanFormat::NpmAudit, "npm-audit.json");
    let report = check_dependencies(vec![npm()]).await;
    assert_eq!(
        locations(&report),
        [
            ("dependencies.npm:brace-expansion@1.0.0 - 1.1.11", Severity::Low, false),
            ("dependencies.npm:braces@<3.0.3", Severity::High, false),
            ("dependencies.npm:cookie@<0.7.0", Severity::Low, false),
            ("dependencies.npm:micromatch@<=4.0.7", Severity::High, false),
            ("dependencies.npm:minimist@<0.2.4", Severity::Critical, true),
        ]
    );
    assert!(!report.passed);
    assert_eq!(report.checks[0].summary, "npm: 5 vulnerabilities (1 critical, 2 high, 2 low)");
    let message = |package: &str| {
        report.findings.iter().find(|f| f.location.contains(&format!(":{package}@"))).unwrap().message.clone()
    };
    assert_eq!(
        message("minimist"),
        "GHSA-xvch-5gv4-984h in minimist@<0.2.4: Prototype Pollution in minimist; no fix available (critical)"
    );
    assert_eq!(
        message("micromatch"),
        "micromatch@<=4.0.7: vulnerable through braces; fix available with npm audit fix (high)"
    );
    assert!(message("cookie").contains("fixed by installing express@4.21.2"));

    let report = check_dependencies(vec![replay("npm", ScanFormat::NpmAudit, "npm-audit-no-critical.json")]).await;
    assert!(report.passed, "no critical vulnerability, fail_on critical: {report:#?}");
    assert_eq!(report.findings.len(), 4);

    let mut strict = npm();
    strict.fail_on = Severity::High;
    let report = check_dependencies(vec![strict]).await;
    assert_eq!(report.blocking().count(), 3);
}

#[tokio::test]
async fn cargo_audit_severities_come_from_each_advisorys_cvss_vector() {
    let mut cargo = replay("cargo", ScanFormat::CargoAudit, "cargo-audit.json");
    cargo.fail_on = Severity::High;
    cargo.unrated = Severity::Low;
    let report = check_dependencies(vec![cargo]).await;
    assert_eq!(
        locations(&report),
        [
            ("dependencies.cargo:base64@0.5.1", Severity::Critical, true),
            ("dependencies.cargo:idna@0.5.0", Severity::Low, false),
            ("dependencies.cargo:time@0.1.45", Severity::Moderate, false),
        ]
    );
    let message = |id: &str| report.findings.iter().find(|f| f.message.starts_with(id)).unwrap().message.clone();
    assert_eq!(
        message("RUSTSEC-2017-0004"),
        "RUSTSEC-2017-0004, CVE-2017-1000430 in base64@0.5.1: Integer overflow leads to heap-based buffer overflow in \
         encode_config_buf; patched in >=0.5.2 (critical, CVSS 9.8)"
    );
    assert!(message("RUSTSEC-2020-0071").ends_with("(moderate, CVSS 6.2)"));
    assert!(message("RUSTSEC-2024-0421").ends_with("(unrated; counted as low)"));
    assert_eq!(report.checks[0].summary, "cargo: 3 vulnerabilities (1 critical, 1 moderate, 1 low)");
}

#[tokio::test]
async fn scanners_are_summarised_together_and_an_exit_code_of_1_still_parses() {
    let npm_exits_1 =
        scan("npm", ScanFormat::NpmAudit, &["sh", "-c", "cat \"$0\"; exit 1", &fixture("npm-audit.json")]);
    let mut pip = replay("pip", ScanFormat::PipAudit, "pip-audit.json");
    pip.unrated = Severity::Moderate;
    let report = check_dependencies(vec![pip, npm_exits_1]).await;
    assert_eq!(report.checks.len(), 1);
    assert_eq!(
        report.checks[0].summary,
        "pip: 2 vulnerabilities (2 moderate); npm: 5 vulnerabilities (1 critical, 2 high, 2 low)"
    );
    assert_eq!(report.findings.len(), 7);
    assert!(report.findings.iter().all(|f| f.rule == "vulnerability"));
}

#[tokio::test]
async fn output_that_is_not_the_report_fails_closed_with_the_stderr_tail() {
    let broken =
        scan("npm", ScanFormat::NpmAudit, &["sh", "-c", "echo 'audit endpoint returned 503' >&2; echo '{not json'"]);
    let report = check_dependencies(vec![broken]).await;
    assert_eq!(facts(&report), [fact("scanner_failed", Severity::High, true, None, None)]);
    let failed = &report.findings[0];
    assert_eq!(failed.location, "dependencies.npm");
    assert!(
        failed.message.contains("exited with code 0 but its output is not what `npm audit --json` prints: not JSON"),
        "{}",
        failed.message
    );
    assert!(failed.message.ends_with("; stderr: audit endpoint returned 503"), "{}", failed.message);
    assert_eq!(report.checks[0].summary, "npm: failed");

    let wrong_format = replay("cargo", ScanFormat::CargoAudit, "npm-audit.json");
    let report = check_dependencies(vec![wrong_format]).await;
    assert_eq!(report.findings[0].rule, "scanner_failed");
}

#[tokio::test]
async fn a_scanner_that_cannot_start_fails_closed() {
    let report = check_dependencies(vec![scan("osv", ScanFormat::PipAudit, &["loco-no-such-scanner", "--json"])]).await;
    assert_eq!(facts(&report), [fact("scanner_failed", Severity::High, true, None, None)]);
    assert!(report.findings[0].message.starts_with("scanner osv failed: could not start loco-no-such-scanner"));
}

#[tokio::test]
async fn a_scanner_past_its_time_limit_is_stopped_with_its_grandchildren() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("grandchild.pid");
    let script = format!("sleep 30 & echo $! > {}; sleep 30", pidfile.display());
    let mut slow = scan("slow", ScanFormat::NpmAudit, &["sh", "-c", &script]);
    slow.timeout_seconds = 1.0;
    let started = Instant::now();
    let report = check_dependencies(vec![slow]).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "the scanner's group was stopped: {took:?}");
    assert_eq!(facts(&report), [fact("scanner_failed", Severity::High, true, None, None)]);
    assert!(report.findings[0].message.contains("timed out after 1.0 s"), "{}", report.findings[0].message);
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
    assert!(!alive, "grandchild {pid} still runs");
}

#[tokio::test]
async fn a_scanner_runs_in_the_artifact_directory_with_only_path_in_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("pip-audit-legacy.json"), dir.path().join("audit.json")).unwrap();
    let in_artifact = scan("local", ScanFormat::PipAudit, &["cat", "audit.json"]);
    // Prints the names of its environment variables as a package name.
    let env_names = "printf '[{\"name\":\"%s\",\"version\":\"1\",\"vulns\":[{\"id\":\"ENV\"}]}]' \
                     \"$(env | cut -d= -f1 | grep -vx -e PWD -e SHLVL -e _ | sort | paste -sd, -)\"";
    let environment = scan("env", ScanFormat::PipAudit, &["sh", "-c", env_names]);
    let spec = ValidationSpec {
        artifact: Some(artifact(dir.path())),
        dependencies: vec![in_artifact, environment],
        ..ValidationSpec::default()
    };
    let report = validate::run(&spec, &release(&[("LOG_LEVEL", "info")], &[("DB_PASSWORD", "pw-123456")])).await;
    assert_eq!(report.checks[1].summary, "local: 2 vulnerabilities (2 critical); env: 1 vulnerability (1 critical)");
    assert!(report.findings.iter().any(|f| f.location == "dependencies.env:PATH@1"), "{:#?}", report.findings);
}
