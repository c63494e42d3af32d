//! Reads the JSON reports of dependency scanners — `pip-audit -f json` (current and legacy),
//! `npm audit --json` (npm 7 and later) and `cargo audit --json` — into one list of
//! vulnerabilities.

use std::collections::BTreeMap;

use loco_types::plan::{ScanFormat, Severity};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::cvss;

/// One vulnerable package, as a report gives it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Vulnerability {
    pub package: String,
    /// The installed version (pip, cargo) or, when the report has none, the vulnerable range
    /// (npm), which reads as an npm package spec: `minimist@<1.2.6`.
    pub version: String,
    /// Advisory ids, the report's own first, then aliases.
    pub ids: Vec<String>,
    pub title: String,
    /// What fixes it, in a few words.
    pub fix: String,
    /// `None` when the report does not rate it.
    pub severity: Option<Severity>,
    /// Where the severity came from, when it was computed (`CVSS 9.8`).
    pub basis: Option<String>,
}

/// The vulnerabilities in `stdout`, or why it is not a report in `format`.
pub(super) fn parse(format: ScanFormat, stdout: &[u8]) -> Result<Vec<Vulnerability>, String> {
    let value: Value = serde_json::from_slice(stdout).map_err(|e| format!("not JSON ({e})"))?;
    match format {
        ScanFormat::PipAudit => pip_audit(value),
        ScanFormat::NpmAudit => npm_audit(value),
        ScanFormat::CargoAudit => cargo_audit(value),
    }
}

fn typed<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

#[derive(Deserialize)]
struct PipDependency {
    name: String,
    /// Absent for a dependency pip-audit skipped (`skip_reason`).
    version: Option<String>,
    #[serde(default)]
    vulns: Vec<PipVuln>,
}

#[derive(Deserialize)]
struct PipVuln {
    id: String,
    #[serde(default)]
    fix_versions: Vec<String>,
    /// Printed unless `--aliases off`.
    #[serde(default)]
    aliases: Vec<String>,
    /// Printed unless `--desc off`.
    #[serde(default)]
    description: Option<String>,
}

/// `{"dependencies": [...], "fixes": [...]}`, or before pip-audit 2.0 the bare list.
fn pip_audit(value: Value) -> Result<Vec<Vulnerability>, String> {
    let dependencies: Vec<PipDependency> = match value {
        Value::Array(_) => typed(value)?,
        Value::Object(mut report) => match report.remove("dependencies") {
            Some(list) => typed(list)?,
            None => return Err("it has no \"dependencies\" list".to_owned()),
        },
        _ => return Err("it is neither an object nor a list".to_owned()),
    };
    let mut found = Vec::new();
    for dependency in dependencies {
        for vuln in dependency.vulns {
            let fix = if vuln.fix_versions.is_empty() {
                "no fixed version".to_owned()
            } else {
                format!("fixed in {}", vuln.fix_versions.join(", "))
            };
            found.push(Vulnerability {
                package: dependency.name.clone(),
                version: dependency.version.clone().unwrap_or_default(),
                ids: std::iter::once(vuln.id).chain(vuln.aliases).collect(),
                title: vuln.description.unwrap_or_default(),
                fix,
                severity: None,
                basis: None,
            });
        }
    }
    Ok(found)
}

#[derive(Deserialize)]
struct NpmVulnerability {
    name: Option<String>,
    severity: String,
    #[serde(default)]
    via: Vec<NpmVia>,
    #[serde(default)]
    range: Option<String>,
    #[serde(rename = "fixAvailable", default)]
    fix_available: Option<Value>,
}

/// An advisory, or the name of a vulnerable dependency this package is vulnerable through.
#[derive(Deserialize)]
#[serde(untagged)]
enum NpmVia {
    Dependency(String),
    Advisory { source: Option<Value>, title: Option<String>, url: Option<String> },
}

/// `{"auditReportVersion": 2, "vulnerabilities": {"<package>": {...}}, "metadata": {...}}`.
fn npm_audit(value: Value) -> Result<Vec<Vulnerability>, String> {
    let Value::Object(mut report) = value else { return Err("it is not an object".to_owned()) };
    if let Some(error) = report.get("error") {
        let summary = error.get("summary").and_then(Value::as_str).unwrap_or("no summary");
        return Err(format!("npm reported an error: {summary}"));
    }
    if report.contains_key("advisories") && !report.contains_key("auditReportVersion") {
        return Err("it is npm 6's report format; run npm 7 or later".to_owned());
    }
    let Some(vulnerabilities) = report.remove("vulnerabilities") else {
        return Err("it has no \"vulnerabilities\" object".to_owned());
    };
    let vulnerabilities: BTreeMap<String, NpmVulnerability> = typed(vulnerabilities)?;
    let mut found = Vec::new();
    for (key, vuln) in vulnerabilities {
        let mut ids = Vec::new();
        let mut titles = Vec::new();
        let mut through = Vec::new();
        for via in vuln.via {
            match via {
                NpmVia::Dependency(name) => through.push(name),
                NpmVia::Advisory { source, title, url } => {
                    // The GHSA id ends the advisory's URL; the numeric `source` is npm's own.
                    let id = url
                        .as_deref()
                        .and_then(|u| u.rsplit('/').next())
                        .filter(|id| !id.is_empty())
                        .map(str::to_owned)
                        .or_else(|| source.map(|s| s.to_string()));
                    if let Some(id) = id.filter(|id| !ids.contains(id)) {
                        ids.push(id);
                    }
                    titles.extend(title);
                }
            }
        }
        let title = match (titles.first(), through.is_empty()) {
            (Some(title), _) => title.clone(),
            (None, false) => format!("vulnerable through {}", through.join(", ")),
            (None, true) => String::new(),
        };
        found.push(Vulnerability {
            package: vuln.name.unwrap_or(key),
            version: vuln.range.unwrap_or_default(),
            ids,
            title,
            fix: npm_fix(vuln.fix_available.as_ref()),
            severity: npm_severity(&vuln.severity),
            basis: None,
        });
    }
    Ok(found)
}

fn npm_severity(name: &str) -> Option<Severity> {
    match name {
        "info" => Some(Severity::Info),
        "low" => Some(Severity::Low),
        "moderate" => Some(Severity::Moderate),
        "high" => Some(Severity::High),
        "critical" => Some(Severity::Critical),
        _ => None,
    }
}

/// `fixAvailable`: `true` (a compatible update), `false`, or the top-level package to change.
fn npm_fix(fix: Option<&Value>) -> String {
    match fix {
        Some(Value::Bool(true)) => "fix available with npm audit fix".to_owned(),
        Some(Value::Object(fix)) => {
            let name = fix.get("name").and_then(Value::as_str).unwrap_or("?");
            let version = fix.get("version").and_then(Value::as_str).unwrap_or("?");
            let major = fix.get("isSemVerMajor").and_then(Value::as_bool) == Some(true);
            format!("fixed by installing {name}@{version}{}", if major { " (a semver-major change)" } else { "" })
        }
        _ => "no fix available".to_owned(),
    }
}

#[derive(Deserialize)]
struct CargoReport {
    vulnerabilities: CargoVulnerabilities,
}

#[derive(Deserialize)]
struct CargoVulnerabilities {
    list: Vec<CargoVulnerability>,
}

#[derive(Deserialize)]
struct CargoVulnerability {
    advisory: CargoAdvisory,
    package: CargoPackage,
    #[serde(default)]
    versions: CargoVersions,
}

#[derive(Deserialize)]
struct CargoAdvisory {
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    aliases: Vec<String>,
    /// A CVSS vector string, or null when the advisory has none.
    #[serde(default)]
    cvss: Option<String>,
}

#[derive(Deserialize)]
struct CargoPackage {
    name: String,
    version: String,
}

#[derive(Deserialize, Default)]
struct CargoVersions {
    #[serde(default)]
    patched: Vec<String>,
}

/// `{"vulnerabilities": {"found": …, "count": …, "list": [...]}, "warnings": {...}, …}`; the
/// warnings (unmaintained, unsound, yanked) are not vulnerabilities and are not reported.
fn cargo_audit(value: Value) -> Result<Vec<Vulnerability>, String> {
    let report: CargoReport = typed(value)?;
    let found = report.vulnerabilities.list.into_iter().map(|vuln| {
        let score = vuln.advisory.cvss.as_deref().and_then(cvss::base_score);
        let fix = if vuln.versions.patched.is_empty() {
            "no patched version".to_owned()
        } else {
            format!("patched in {}", vuln.versions.patched.join(", "))
        };
        Vulnerability {
            package: vuln.package.name,
            version: vuln.package.version,
            ids: std::iter::once(vuln.advisory.id).chain(vuln.advisory.aliases).collect(),
            title: vuln.advisory.title,
            fix,
            severity: score.map(cvss::severity),
            basis: score.map(|s| format!("CVSS {s:.1}")),
        }
    });
    Ok(found.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_of_the_wrong_shape_say_why() {
        let cases = [
            (ScanFormat::PipAudit, "{\"fixes\": []}", "no \"dependencies\" list"),
            (ScanFormat::PipAudit, "42", "neither an object nor a list"),
            (ScanFormat::PipAudit, "[{\"version\": \"1\"}]", "missing field `name`"),
            (ScanFormat::NpmAudit, "{\"advisories\": {}, \"metadata\": {}}", "npm 6"),
            (ScanFormat::NpmAudit, "{\"error\": {\"code\": \"ENOLOCK\", \"summary\": \"no lockfile\"}}", "no lockfile"),
            (ScanFormat::NpmAudit, "{\"auditReportVersion\": 2}", "no \"vulnerabilities\""),
            (ScanFormat::CargoAudit, "{\"vulnerabilities\": {\"found\": false}}", "missing field `list`"),
            (ScanFormat::CargoAudit, "not json", "not JSON"),
        ];
        for (format, text, why) in cases {
            let error = parse(format, text.as_bytes()).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
        }
    }

    #[test]
    fn an_npm_advisory_without_a_url_is_named_by_its_source() {
        let text = r#"{"auditReportVersion": 2, "vulnerabilities": {"x": {"name": "x", "severity": "weird",
            "via": [{"source": 1179, "title": "Prototype Pollution"}], "range": "<1.0.0", "fixAvailable": false}}}"#;
        let found = parse(ScanFormat::NpmAudit, text.as_bytes()).unwrap();
        assert_eq!(found[0].ids, ["1179"]);
        assert_eq!(found[0].severity, None, "an unknown severity is unrated");
        assert_eq!(found[0].fix, "no fix available");
    }
}
