//! The config check: the release's required variables are set, and the variables that are set
//! have the format the plan gives them (a URL, an integer, a duration, one of a list of values,
//! or a match of a regular expression).

use std::sync::LazyLock;

use loco_types::plan::{CheckKind, ConfigCheck, ConfigFormat, Finding, ReleaseSpec, Severity};
use regex::{Regex, RegexBuilder};

use super::{Outcome, finding, first_line, plural, secrets};

/// Largest compiled form of a plan's pattern: a pattern cannot make validation slow or big.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

static DURATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^(?:[0-9]+(?:ms|s|m|h|d))+$").expect("a valid constant pattern"));

/// Runs the config check; `release` has its secret values revealed, and none of them is shown.
pub(super) fn check(spec: &ConfigCheck, release: &ReleaseSpec) -> Outcome {
    let mut findings = Vec::new();
    for name in &spec.required {
        let set =
            [release.env.get(name), release.secret_env.get(name)].into_iter().flatten().any(|v| !v.trim().is_empty());
        if !set {
            let message = format!("{name} is required but is not set (or is blank) in env or secret_env");
            findings.push(blocking("missing_variable", format!("release.env.{name}"), message));
        }
    }
    for (name, format) in &spec.formats {
        let rule = match Rule::new(format) {
            Ok(rule) => rule,
            Err(why) => {
                let message = format!("the pattern for {name} does not compile: {why}");
                findings.push(blocking("bad_pattern", format!("validation.config.formats.{name}"), message));
                continue;
            }
        };
        for (map, secret) in [(&release.env, false), (&release.secret_env, true)] {
            // A blank value counts as not set: `required` is what refuses it.
            let Some(value) = map.get(name).filter(|v| !v.trim().is_empty()) else { continue };
            if rule.accepts(value) {
                continue;
            }
            let (location, shown) = if secret {
                (format!("release.secret_env.{name}"), "the value is a secret and not shown".to_owned())
            } else if secrets::looks_secret(name, value) {
                (
                    format!("release.env.{name}"),
                    format!("got {} (masked: it looks like a secret)", secrets::mask(value)),
                )
            } else {
                (format!("release.env.{name}"), format!("got {:?}", first_line(value, 100)))
            };
            let message = format!("{name} must be {}; {shown}", rule.expected());
            findings.push(blocking("bad_format", location, message));
        }
    }
    let summary = format!("{} required, {} with a format", plural(spec.required.len(), "variable"), spec.formats.len());
    Outcome { findings, summary }
}

fn blocking(rule: &str, location: String, message: String) -> Finding {
    finding(CheckKind::Config, rule, Severity::High, true, location, message)
}

/// A format, ready to test values.
enum Rule<'a> {
    Url,
    Integer { min: Option<i64>, max: Option<i64> },
    Duration,
    Enum(&'a [String]),
    Regex { pattern: &'a str, regex: Regex },
}

impl<'a> Rule<'a> {
    /// The rule for `format`, or why its pattern does not compile.
    fn new(format: &'a ConfigFormat) -> Result<Self, String> {
        Ok(match format {
            ConfigFormat::Url {} => Rule::Url,
            ConfigFormat::Integer { min, max } => Rule::Integer { min: *min, max: *max },
            ConfigFormat::Duration {} => Rule::Duration,
            ConfigFormat::Enum { values } => Rule::Enum(values),
            ConfigFormat::Regex { pattern } => {
                let regex = RegexBuilder::new(&format!("^(?:{pattern})$"))
                    .size_limit(PATTERN_SIZE_LIMIT)
                    .dfa_size_limit(PATTERN_SIZE_LIMIT)
                    .build()
                    // The last line of a parse error says what is wrong; the others draw the pattern.
                    .map_err(|e| e.to_string().lines().last().unwrap_or_default().trim().to_owned())?;
                Rule::Regex { pattern, regex }
            }
        })
    }

    fn accepts(&self, value: &str) -> bool {
        match self {
            Rule::Url => url::Url::parse(value).is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty())),
            Rule::Integer { min, max } => {
                value.parse::<i64>().is_ok_and(|n| min.is_none_or(|min| n >= min) && max.is_none_or(|max| n <= max))
            }
            Rule::Duration => DURATION.is_match(value),
            Rule::Enum(values) => values.iter().any(|v| v == value),
            Rule::Regex { regex, .. } => regex.is_match(value),
        }
    }

    /// What a value must be, for messages.
    fn expected(&self) -> String {
        match self {
            Rule::Url => "an absolute URL with a host".to_owned(),
            Rule::Integer { min: None, max: None } => "an integer".to_owned(),
            Rule::Integer { min: Some(min), max: None } => format!("an integer of at least {min}"),
            Rule::Integer { min: None, max: Some(max) } => format!("an integer of at most {max}"),
            Rule::Integer { min: Some(min), max: Some(max) } => format!("an integer from {min} to {max}"),
            Rule::Duration => "a duration such as 30s, 5m, 1h30m or 250ms".to_owned(),
            Rule::Enum(values) => format!("one of {}", values.join(", ")),
            Rule::Regex { pattern, .. } => format!("a match of the pattern {pattern:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(format: &ConfigFormat, value: &str) -> bool {
        Rule::new(format).unwrap().accepts(value)
    }

    #[test]
    fn urls_need_a_scheme_and_a_host() {
        let url = ConfigFormat::Url {};
        for good in ["https://api.example.com/v1", "postgres://app:pw@db:5432/app", "redis://cache:6379/0"] {
            assert!(accepts(&url, good), "{good}");
        }
        for bad in ["api.example.com", "localhost:8080", "/var/run/app.sock", "mailto:ops@example.com", "http://"] {
            assert!(!accepts(&url, bad), "{bad}");
        }
    }

    #[test]
    fn integers_within_bounds() {
        let port = ConfigFormat::Integer { min: Some(1), max: Some(65535) };
        assert!(accepts(&port, "8080") && accepts(&port, "1") && accepts(&port, "65535"));
        assert!(!accepts(&port, "0") && !accepts(&port, "70000") && !accepts(&port, "80a") && !accepts(&port, "8.0"));
        assert!(accepts(&ConfigFormat::Integer { min: None, max: None }, "-9223372036854775808"));
        assert!(!accepts(&ConfigFormat::Integer { min: None, max: None }, "9223372036854775808"));
    }

    #[test]
    fn durations_are_units_after_digits() {
        let duration = ConfigFormat::Duration {};
        for good in ["30s", "5m", "1h30m", "250ms", "2d", "1h0m5s100ms"] {
            assert!(accepts(&duration, good), "{good}");
        }
        for bad in ["30", "s", "1.5h", "5 m", "10sec", "-5s", "1h-30m", "PT5M"] {
            assert!(!accepts(&duration, bad), "{bad}");
        }
    }

    #[test]
    fn patterns_are_anchored_at_both_ends() {
        let region = ConfigFormat::Regex { pattern: "eu|us".to_owned() };
        assert!(accepts(&region, "eu") && accepts(&region, "us"));
        assert!(!accepts(&region, "eu-west") && !accepts(&region, "asia-us"));
    }

    #[test]
    fn a_pattern_too_big_to_compile_is_refused() {
        let huge = ConfigFormat::Regex { pattern: "(?:\\w{100}){100}".to_owned() };
        let why = Rule::new(&huge).err().unwrap();
        assert!(why.contains("size limit"), "{why}");
        let broken = ConfigFormat::Regex { pattern: "(".to_owned() };
        assert_eq!(Rule::new(&broken).err().unwrap(), "error: unclosed group");
    }
}
