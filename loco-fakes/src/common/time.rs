//! The fakes' clocks and RFC 3339 times: a wall clock that never answers the same instant twice,
//! and UTC timestamps written and read as the providers do (`2026-11-23T08:36:00.123456Z`).

use std::time::{SystemTime, UNIX_EPOCH};

/// A wall clock in a fixed unit whose every answer is strictly later than the one before (so
/// timestamps order what happened and page boundaries never split two events of one instant).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StrictClock {
    last: i64,
    micros_per_unit: u128,
}

impl StrictClock {
    /// A clock counting microseconds since the Unix epoch.
    pub(crate) fn micros() -> Self {
        Self { last: 0, micros_per_unit: 1 }
    }

    /// A clock counting milliseconds since the Unix epoch.
    pub(crate) fn millis() -> Self {
        Self { last: 0, micros_per_unit: 1_000 }
    }

    /// Now, in the clock's unit, later than any earlier answer.
    pub(crate) fn now(&mut self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros() / self.micros_per_unit).unwrap_or(i64::MAX));
        self.last = wall.max(self.last + 1);
        self.last
    }
}

/// Whole seconds since the Unix epoch, on the wall clock.
pub(crate) fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Microseconds since the Unix epoch as RFC 3339 UTC, to the microsecond
/// (`2026-11-23T08:36:00.123456Z`).
pub(crate) fn rfc3339_micros(micros: i64) -> String {
    let seconds = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    format!("{}.{fraction:06}Z", date_time(seconds))
}

/// Seconds since the Unix epoch as RFC 3339 UTC, to the second (`2023-10-31T02:35:26Z`).
pub(crate) fn rfc3339_seconds(seconds: i64) -> String {
    format!("{}Z", date_time(seconds))
}

/// `YYYY-MM-DDTHH:MM:SS` for seconds since the epoch.
fn date_time(seconds: i64) -> String {
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// Which character may separate the date from the time when parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Separator {
    /// `T` or `t` only, as RFC 3339 requires.
    Strict,
    /// `T`, `t` or a space (RFC 3339 §5.6 allows readers to accept one).
    OrSpace,
}

/// Parses RFC 3339 (`Z` or `±HH:MM` offsets, any fraction) into microseconds since the epoch.
pub(crate) fn parse_rfc3339(text: &str, separator: Separator) -> Option<i64> {
    let bytes = text.as_bytes();
    let separated = match bytes.get(10) {
        Some(b'T' | b't') => true,
        Some(b' ') => separator == Separator::OrSpace,
        _ => false,
    };
    if bytes.len() < 20 || bytes[4] != b'-' || bytes[7] != b'-' || !separated || bytes[13] != b':' || bytes[16] != b':'
    {
        return None;
    }
    let number = |from: usize, to: usize| text.get(from..to)?.parse::<i64>().ok();
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_and_offsets_are_applied() {
        let t = parse_rfc3339("2026-11-23T08:36:00.123456Z", Separator::Strict).unwrap();
        assert_eq!(rfc3339_micros(t), "2026-11-23T08:36:00.123456Z");
        assert_eq!(parse_rfc3339("2026-11-23T09:36:00.123456+01:00", Separator::Strict), Some(t));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z", Separator::Strict), Some(0));
        assert_eq!(rfc3339_micros(951_782_400_000_000), "2000-02-29T00:00:00.000000Z");
        assert_eq!(parse_rfc3339("2026-11-23T08:36:00.Z", Separator::Strict), None);
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z", Separator::Strict), None);
        assert_eq!(parse_rfc3339("yesterday", Separator::Strict), None);
    }

    #[test]
    fn a_space_separates_date_and_time_only_when_allowed() {
        assert_eq!(parse_rfc3339("1970-01-01 00:00:01Z", Separator::OrSpace), Some(1_000_000));
        assert_eq!(parse_rfc3339("1970-01-01 00:00:01Z", Separator::Strict), None);
    }

    #[test]
    fn second_timestamps_are_rfc3339() {
        assert_eq!(rfc3339_seconds(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_seconds(1_698_719_726), "2023-10-31T02:35:26Z");
        assert_eq!(rfc3339_seconds(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn the_strict_clock_never_repeats_an_instant() {
        let mut clock = StrictClock::micros();
        let (a, b) = (clock.now(), clock.now());
        assert!(b > a);
        let mut clock = StrictClock::millis();
        assert!(clock.now() < StrictClock::micros().now());
    }
}
