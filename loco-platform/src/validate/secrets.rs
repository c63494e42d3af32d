//! The secrets check: known credential formats and high-entropy values assigned to
//! secret-sounding names, in the artifact's text files and the release's plain environment —
//! reported masked, with a fingerprint to allow-list them by.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;
use std::sync::LazyLock;

use loco_types::plan::{CheckKind, DEFAULT_ENTROPY_THRESHOLD, Finding, SecretScan, Severity};
use regex::bytes::Regex;

use super::archive::{self, Format, Kind, MAX_DECOMPRESSED, WalkError, normalize};
use super::{Outcome, finding, plural, sha256_hex};

/// Larger files are not scanned (and are counted as skipped).
const MAX_SCANNED_FILE: u64 = 10 << 20;
/// A NUL byte this early means a binary file.
const BINARY_SNIFF: usize = 8 * 1024;

/// One detection rule.
struct Rule {
    name: &'static str,
    what: &'static str,
    severity: Severity,
    /// Capture group 1, when the pattern has one, is the secret value; otherwise the whole match.
    regex: Regex,
    /// The value runs on to the block's `-----END …-----` line (keys, certificates).
    pem: bool,
    /// The value is not shown even masked.
    hidden: bool,
}

/// Names that make an assignment worth an entropy test (case-insensitive).
const SECRET_NAMES: &str = "secret|token|password|passwd|pwd|api_key|apikey|access_key|auth|credential";
/// A name, an optional closing quote, `=` or `:`, an optional opening quote.
const ASSIGNED: &str = r#"["']?[ \t]*[:=][ \t]*["']?"#;

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |name, what, severity, pattern: &str, pem, hidden| Rule {
        name,
        what,
        severity,
        regex: Regex::new(pattern).expect("a valid constant pattern"),
        pem,
        hidden,
    };
    let critical = Severity::Critical;
    vec![
        rule(
            "aws_access_key",
            "AWS access key ID",
            critical,
            r"\b((?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})\b",
            false,
            false,
        ),
        rule(
            "aws_secret_key",
            "AWS secret access key",
            critical,
            &format!(
                r"(?i:[a-z0-9_.-]*(?:aws[a-z0-9_.-]*secret|secret[a-z0-9_.-]*aws)[a-z0-9_.-]*){ASSIGNED}([A-Za-z0-9/+]{{40}})(?:[^A-Za-z0-9/+=]|$)"
            ),
            false,
            false,
        ),
        rule(
            "github_token",
            "GitHub token",
            critical,
            r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})\b",
            false,
            false,
        ),
        rule(
            "private_key",
            "private key",
            critical,
            r"-----BEGIN (?:(?:RSA|EC|DSA|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY(?: BLOCK)?-----",
            true,
            true,
        ),
        rule("slack_token", "Slack token", critical, r"\b(xox[baprs]-[0-9A-Za-z-]{10,})", false, false),
        rule("stripe_key", "Stripe live key", critical, r"\b((?:sk|rk)_live_[0-9A-Za-z]{24,})\b", false, false),
        rule(
            "google_api_key",
            "Google API key",
            critical,
            r"\b(AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)",
            false,
            false,
        ),
        rule("certificate", "certificate", Severity::Info, r"-----BEGIN CERTIFICATE-----", true, false),
    ]
});

static HIGH_ENTROPY: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = format!(r#"(?i:[a-z0-9_.-]*(?:{SECRET_NAMES})[a-z0-9_.-]*){ASSIGNED}([^ \t\r\n"'`,;]{{16,}})"#);
    Regex::new(&pattern).expect("a valid constant pattern")
});

/// A secret found in some text: the rule and the byte range of the value.
#[derive(Debug, PartialEq)]
struct Hit {
    rule: &'static str,
    what: &'static str,
    severity: Severity,
    hidden: bool,
    start: usize,
    end: usize,
}

/// Every secret in `text`: the known formats first, then high-entropy assignments that are not
/// one of those.
fn scan(text: &[u8], entropy_threshold: f64) -> Vec<Hit> {
    let mut hits = Vec::new();
    for rule in RULES.iter() {
        for captures in rule.regex.captures_iter(text) {
            let Some(value) = captures.get(1).or_else(|| captures.get(0)) else { continue };
            let end = if rule.pem { pem_end(text, value.end()) } else { value.end() };
            let (rule_name, what, severity, hidden) = (rule.name, rule.what, rule.severity, rule.hidden);
            hits.push(Hit { rule: rule_name, what, severity, hidden, start: value.start(), end });
        }
    }
    for captures in HIGH_ENTROPY.captures_iter(text) {
        let Some(value) = captures.get(1) else { continue };
        let overlaps = hits.iter().any(|h| h.start < value.end() && value.start() < h.end);
        if !overlaps && entropy(value.as_bytes()) >= entropy_threshold {
            let (start, end) = (value.start(), value.end());
            hits.push(Hit {
                rule: "high_entropy",
                what: "high-entropy secret",
                severity: Severity::High,
                hidden: false,
                start,
                end,
            });
        }
    }
    hits.sort_by_key(|h| h.start);
    hits
}

/// Where the PEM block whose header ends at `from` ends (after its `-----END …-----`), or
/// `from` when it has no end.
fn pem_end(text: &[u8], from: usize) -> usize {
    let rest = &text[from..];
    let Some(end) = find(rest, b"-----END ") else { return from };
    let after = end + b"-----END ".len();
    find(&rest[after..], b"-----").map_or(from, |close| from + after + close + 5)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Shannon entropy of `value`, in bits per byte.
fn entropy(value: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for b in value {
        counts[usize::from(*b)] += 1;
    }
    let len = value.len() as f64;
    counts.iter().filter(|c| **c > 0).map(|c| f64::from(*c) / len).map(|p| -p * p.log2()).sum()
}

/// The first four characters, then one `*` per further character (at most 16).
pub(super) fn mask(value: &str) -> String {
    let shown: String = value.chars().take(4).collect();
    let hidden = value.chars().count().saturating_sub(4).min(16);
    format!("{shown}{}", "*".repeat(hidden))
}

/// First 16 hexadecimal digits of the value's SHA-256: stable, and safe to show.
fn fingerprint(value: &[u8]) -> String {
    sha256_hex(value)[..16].to_owned()
}

/// Whether `NAME=value` would be reported by this check (with the default threshold).
pub(super) fn looks_secret(name: &str, value: &str) -> bool {
    !scan(format!("{name}={value}").as_bytes(), DEFAULT_ENTROPY_THRESHOLD).is_empty()
}

/// Runs the secrets check over the artifact at `artifact` (when there is a readable one) and the
/// values of `env` (blocking: it reads the artifact).
pub(super) fn check(spec: &SecretScan, artifact: Option<&str>, env: &BTreeMap<String, String>) -> Outcome {
    let mut found = Vec::new();
    let mut parts = Vec::new();
    if let Some(path) = artifact {
        parts.push(scan_artifact(Path::new(path), spec.entropy_threshold, &mut found));
    }
    for (name, value) in env {
        // Scanned as an assignment, so that the variable's name counts for the named rules.
        let line = format!("{name}={value}");
        for hit in scan(line.as_bytes(), spec.entropy_threshold) {
            found.push(report(&hit, &line.as_bytes()[hit.start..hit.end], format!("release.env.{name}"), None));
        }
    }
    parts.push(plural(env.len(), "environment value"));
    let before = found.len();
    found.retain(|f| {
        let by_file = f.file.as_ref().is_some_and(|file| {
            spec.allow.iter().any(|a| a.strip_prefix("file:").map(normalize) == Some(file.as_str()))
        });
        let by_fingerprint = f.fingerprint.as_ref().is_some_and(|fp| spec.allow.contains(fp));
        !(by_file || by_fingerprint)
    });
    let allowed = before - found.len();
    if allowed > 0 {
        parts.push(format!("{allowed} allowed"));
    }
    Outcome { findings: found, summary: parts.join(", ") }
}

fn report(hit: &Hit, value: &[u8], location: String, place: Option<(&str, u32)>) -> Finding {
    let shown = if hit.hidden { String::new() } else { format!(": {}", mask(&String::from_utf8_lossy(value))) };
    let message = format!("{} ({}){shown}", hit.what, hit.rule);
    let blocking = hit.severity >= Severity::High;
    Finding {
        file: place.map(|(file, _)| file.to_owned()),
        line: place.map(|(_, line)| line),
        fingerprint: Some(fingerprint(value)),
        ..finding(CheckKind::Secrets, hit.rule, hit.severity, blocking, location, message)
    }
}

/// Scans the artifact's text files; returns what it looked at, for the summary.
fn scan_artifact(path: &Path, threshold: f64, found: &mut Vec<Finding>) -> String {
    // The artifact check reports a missing, unsupported or unreadable artifact; here it is
    // only said in the summary.
    let Ok(format) = Format::of(path) else { return "artifact not scanned (missing or unsupported)".to_owned() };
    let (mut scanned, mut skipped) = (0usize, 0usize);
    let walked = archive::walk(path, format, MAX_DECOMPRESSED, &mut |entry| {
        if entry.kind != Kind::File {
            return Ok(());
        }
        if entry.size > MAX_SCANNED_FILE {
            skipped += 1;
            return Ok(());
        }
        let mut text = Vec::new();
        entry.content.take(MAX_SCANNED_FILE + 1).read_to_end(&mut text)?;
        if text.len() as u64 > MAX_SCANNED_FILE || text[..text.len().min(BINARY_SNIFF)].contains(&0) {
            skipped += 1;
            return Ok(());
        }
        scanned += 1;
        for hit in scan(&text, threshold) {
            let line = u32::try_from(text[..hit.start].split(|b| *b == b'\n').count()).unwrap_or(u32::MAX);
            let location = format!("{}:{line}", entry.name);
            found.push(report(&hit, &text[hit.start..hit.end], location, Some((&entry.name, line))));
        }
        Ok(())
    });
    let mut summary = format!("{} scanned", plural(scanned, "file"));
    if skipped > 0 {
        let _ = write!(summary, " ({skipped} skipped: binary or over 10 MiB)");
    }
    match walked {
        Ok(()) => summary,
        Err(WalkError::TooLarge) => format!("{summary}; stopped: the artifact decompresses to more than 4 GiB"),
        Err(WalkError::Unreadable(why)) => format!("{summary}; stopped: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_in(text: &str) -> Vec<(&'static str, String)> {
        scan(text.as_bytes(), DEFAULT_ENTROPY_THRESHOLD)
            .into_iter()
            .map(|h| (h.rule, text[h.start..h.end].to_owned()))
            .collect()
    }

    fn only(text: &str) -> Option<&'static str> {
        let found = rules_in(text);
        assert!(found.len() <= 1, "{text}: {found:?}");
        found.first().map(|(rule, _)| *rule)
    }

    #[test]
    fn aws_access_keys_are_word_bounded() {
        assert_eq!(rules_in("key AKIAIOSFODNN7EXAMPLE here"), [("aws_access_key", "AKIAIOSFODNN7EXAMPLE".to_owned())]);
        assert_eq!(only("ASIAY34FZKBOKMUTVV7A"), Some("aws_access_key"));
        assert_eq!(only("xAKIAIOSFODNN7EXAMPLE"), None);
        assert_eq!(only("AKIAIOSFODNN7EXAMPLEX"), None);
        assert_eq!(only("AKIAiosfodnn7example"), None);
    }

    #[test]
    fn aws_secret_keys_need_an_aws_secret_name() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        assert_eq!(rules_in(&format!("aws_secret_access_key = {secret}")), [("aws_secret_key", secret.to_owned())]);
        assert_eq!(only(&format!("export AWS_SECRET_ACCESS_KEY=\"{secret}\"")), Some("aws_secret_key"));
        assert_eq!(only(&format!("\"SecretAwsKey\": \"{secret}\",")), Some("aws_secret_key"));
        // Any other name is the generic rule's business, not this one's.
        assert_eq!(only(&format!("db_secret = {secret}")), Some("high_entropy"));
        assert_eq!(only(&format!("aws_secret_access_key = {secret}A")), Some("high_entropy"));
    }

    #[test]
    fn github_tokens_of_each_kind() {
        for prefix in ["ghp", "gho", "ghu", "ghs", "ghr"] {
            assert_eq!(
                only(&format!("{prefix}_16C7e42F292c6912E7710c838347Ae178B4a")),
                Some("github_token"),
                "{prefix}"
            );
        }
        let pat = format!("github_pat_11ABCDEFG0a1b2c3d4e5f6_{}Zz", "Xy9".repeat(19));
        assert_eq!(pat.len(), "github_pat_".len() + 82);
        assert_eq!(only(&pat), Some("github_token"));
        assert_eq!(only("ghp_tooshort123"), None);
        assert_eq!(only("ghx_16C7e42F292c6912E7710c838347Ae178B4a"), None);
    }

    #[test]
    fn private_keys_of_each_kind_span_their_block() {
        for kind in ["", "RSA ", "EC ", "DSA ", "OPENSSH ", "ENCRYPTED "] {
            let block = format!("-----BEGIN {kind}PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END {kind}PRIVATE KEY-----");
            assert_eq!(rules_in(&format!("{block}\nnext")), [("private_key", block.clone())], "{kind}");
        }
        assert_eq!(only("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n"), Some("private_key"));
        assert_eq!(only("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"), None);
    }

    #[test]
    fn slack_stripe_and_google_keys() {
        assert_eq!(only("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"), Some("slack_token"));
        assert_eq!(only("xoxp-12"), None);
        assert_eq!(only("sk_live_4eC39HqLyjWDarjtT1zdp7dc"), Some("stripe_key"));
        assert_eq!(only("rk_live_51H8aBcDeFgHiJkLmNoPqRsT"), Some("stripe_key"));
        assert_eq!(only("sk_test_4eC39HqLyjWDarjtT1zdp7dc"), None);
        assert_eq!(only("AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI"), Some("google_api_key"));
        assert_eq!(only("AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsH"), None);
    }

    #[test]
    fn certificates_are_information_only() {
        let hits = scan(b"-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n", DEFAULT_ENTROPY_THRESHOLD);
        assert_eq!(hits.len(), 1);
        assert_eq!((hits[0].rule, hits[0].severity), ("certificate", Severity::Info));
    }

    #[test]
    fn high_entropy_needs_a_secret_name_length_and_randomness() {
        assert_eq!(only("DB_PASSWORD=\"x8Kq2LmZ9vR4tY7wP3nB6cJ1\""), Some("high_entropy"));
        assert_eq!(only("clientSecret: 'Zq8xW3mN7pL2vK9rT5yB'"), Some("high_entropy"));
        assert_eq!(only("DB_PASSWORD=aaaaaaaaaaaaaaaaaaaaaaaa"), None, "not random");
        assert_eq!(only("DB_PASSWORD=x8Kq2LmZ9v"), None, "too short");
        assert_eq!(only("GREETING=x8Kq2LmZ9vR4tY7wP3nB6cJ1"), None, "not a secret name");
    }

    #[test]
    fn a_known_format_is_not_reported_twice() {
        assert_eq!(only("GITHUB_TOKEN=ghp_16C7e42F292c6912E7710c838347Ae178B4a"), Some("github_token"));
    }

    #[test]
    fn entropy_counts_bits_per_character() {
        assert!(entropy(b"aaaa").abs() < 1e-9);
        assert!((entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!((entropy(b"0123456789abcdef") - 4.0).abs() < 1e-9);
    }

    #[test]
    fn masks_show_four_characters_and_at_most_sixteen_stars() {
        assert_eq!(mask("AKIAIOSFODNN7EXAMPLE"), "AKIA****************");
        assert_eq!(mask(&"x".repeat(100)), format!("xxxx{}", "*".repeat(16)));
        assert_eq!(mask("abc"), "abc");
    }
}
