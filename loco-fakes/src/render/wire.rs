//! What the Render fake reads and writes on the wire besides its JSON shapes: RFC 3339 times (to
//! the microsecond), form-style query strings with repeated keys, and Render's error body.

use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::common::json_response;

/// Microseconds since the Unix epoch as RFC 3339 UTC (`2026-11-23T08:36:00.123456Z`).
pub(super) fn rfc3339(micros: i64) -> String {
    let seconds = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// Parses RFC 3339 (`Z` or `±HH:MM` offsets, any fraction) into microseconds since the epoch.
pub(super) fn parse_rfc3339(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[4] != b'-' || bytes[7] != b'-' || !matches!(bytes[10], b'T' | b't' | b' ') {
        return None;
    }
    let number = |from: usize, to: usize| text.get(from..to)?.parse::<i64>().ok();
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if bytes[13] != b':' || bytes[16] != b':' || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut micros = 0i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let kept: String = fraction[..digits].chars().chain(std::iter::repeat('0')).take(6).collect();
        micros = kept.parse().ok()?;
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = rest[1..].split_once(':')?;
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(seconds * 1_000_000 + micros)
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A form-style query string: `status=live&status=build_failed&limit=20` keeps both statuses.
#[derive(Debug, Default)]
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a raw query string (percent-decoded, `+` as a space).
    pub(super) fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(name), decode(value))
            })
            .collect();
        Query(pairs)
    }

    /// Every value given for `name`, in order.
    pub(super) fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    /// The first value given for `name`.
    pub(super) fn first(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// `limit`: 1–100, `default` when absent; `Err` with Render's message otherwise.
    pub(super) fn limit(&self, default: usize) -> Result<usize, ApiError> {
        match self.first("limit") {
            None => Ok(default),
            Some(text) => match text.parse::<usize>() {
                Ok(limit) if (1..=100).contains(&limit) => Ok(limit),
                _ => Err(error(400, "invalid limit: must be an integer between 1 and 100")),
            },
        }
    }

    /// A time parameter, `Err` naming it when it is not RFC 3339.
    pub(super) fn time(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.first(name) {
            None => Ok(None),
            Some(text) => {
                parse_rfc3339(text).map(Some).ok_or_else(|| error(400, &format!("invalid {name}: must be RFC 3339")))
            }
        }
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).map(|d| d as u8)
}

/// A refusal: answered with `status` and Render's error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiError {
    status: u16,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &error_body(&self.message), &[])
    }
}

/// A refusal with `status` and `message`.
pub(super) fn error(status: u16, message: &str) -> ApiError {
    ApiError { status, message: message.to_owned() }
}

/// Render's error body: an error id and the message.
pub(super) fn error_body(message: &str) -> serde_json::Value {
    json!({ "id": ulid::Ulid::new().to_string().to_lowercase(), "message": message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_and_offsets_are_applied() {
        let t = parse_rfc3339("2026-11-23T08:36:00.123456Z").unwrap();
        assert_eq!(rfc3339(t), "2026-11-23T08:36:00.123456Z");
        assert_eq!(parse_rfc3339("2026-11-23T09:36:00.123456+01:00"), Some(t));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339(951_782_400_000_000), "2000-02-29T00:00:00.000000Z");
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn queries_keep_repeated_keys_and_decode() {
        let q = Query::parse(Some("status=live&status=build_failed&text=a+b%2Fc&limit=5"));
        assert_eq!(q.all("status"), ["live", "build_failed"]);
        assert_eq!(q.first("text"), Some("a b/c"));
        assert_eq!(q.limit(20).unwrap(), 5);
        assert!(Query::parse(Some("limit=500")).limit(20).is_err());
    }
}
