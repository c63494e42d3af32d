//! Freeze windows: times when deployments to an environment may not start. A window is either
//! one-off (`start` to `end`) or recurring (a five-field cron expression read in a time zone,
//! and how long each occurrence lasts). A start during a window is refused with
//! `policy_violation` naming the window, unless an admin overrides it with a reason, which the
//! `started` event records.
//!
//! Recurring windows follow wall-clock time in their zone: `0 18 * * FRI` with 62 hours in
//! `Europe/Berlin` freezes every weekend from Friday 18:00 Berlin time, in summer and winter. On
//! the day the clocks go forward, an occurrence whose start falls in the skipped hour starts at
//! the first minute after the gap; on the day they go back, a start in the repeated hour
//! happens at both instants (freezing longer, never shorter).
//!
//! ```
//! use loco_types::freeze::FreezeWindow;
//! use loco_types::model::Timestamp;
//! let weekend = FreezeWindow::from_json(r#"{"name": "weekend", "environments": ["production"],
//!     "reason": "no weekend deploys",
//!     "schedule": {"type": "recurring", "cron": "0 18 * * FRI", "duration_minutes": 3720,
//!                  "time_zone": "Europe/Berlin"}}"#).unwrap();
//! let saturday = Timestamp::parse("2026-12-05T12:00:00Z").unwrap();
//! let occurrence = weekend.active_at("production", saturday).unwrap();
//! assert_eq!(occurrence.start.to_string(), "2026-12-04T17:00:00.000000Z");
//! assert_eq!(occurrence.end.to_string(), "2026-12-07T07:00:00.000000Z");
//! assert!(weekend.active_at("staging", saturday).is_none());
//! ```

use chrono::{DateTime, Datelike, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Result};
use crate::event_data::{EventData, PolicyOverrideData};
use crate::lifecycle::{NAME_MAX_CHARS, TEXT_MAX_BYTES};
use crate::model::Timestamp;
use crate::rules::NewEvent;

/// Longest occurrence of a recurring window: 14 days, in minutes.
pub const MAX_DURATION_MINUTES: u32 = 14 * 24 * 60;
/// Most environments one window may name.
pub const MAX_ENVIRONMENTS: usize = 100;

/// A named period in which deployments to some environments may not start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FreezeWindow {
    /// Unique name (letters, digits, `-`, `_`, `.`); setting a window with an existing name
    /// replaces it.
    pub name: String,
    /// The environments it freezes (compared case-insensitively); at least one.
    pub environments: Vec<String>,
    /// Why; shown in every refusal it causes.
    pub reason: String,
    /// When it is in force.
    pub schedule: FreezeSchedule,
}

/// When a freeze window is in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FreezeSchedule {
    /// Once, from `start` (inclusive) to `end` (exclusive).
    Once {
        /// When it begins (RFC 3339, any offset).
        start: Timestamp,
        /// When it ends; after `start`.
        end: Timestamp,
    },
    /// Every time `cron` matches the wall clock in `time_zone`, for `duration_minutes`.
    Recurring {
        /// Five fields — minute, hour, day of month, month, day of week — each `*`, a number, a
        /// range `a-b`, a list `a,b`, or one of those with a step `/n` (every n-th value; `*` with
        /// a step of 15 in the minute field is every quarter hour); months and days may be named
        /// (`JAN`, `MON`); Sunday is 0 or 7. When both day fields are restricted either may match
        /// (as in cron).
        cron: String,
        /// How long each occurrence lasts, 1 to 20160 (14 days).
        duration_minutes: u32,
        /// An IANA time zone (`Europe/Berlin`, `America/New_York`, `UTC`).
        time_zone: String,
    },
}

/// One occurrence of a window that is in force at some instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ActiveFreeze {
    /// The window's name.
    pub window: String,
    /// The window's reason.
    pub reason: String,
    /// When this occurrence began.
    pub start: Timestamp,
    /// When it ends.
    pub end: Timestamp,
}

impl FreezeWindow {
    /// Parses and checks a window; problems name their field.
    pub fn from_json(json: &str) -> Result<Self> {
        let window: FreezeWindow = crate::document::parse(json, "", "freeze window")?;
        window.validate()?;
        Ok(window)
    }

    /// Checks the name, environments, reason and schedule; every problem names its field.
    pub fn validate(&self) -> Result<()> {
        let mut details = Vec::new();
        if !is_name(&self.name) {
            details.push(FieldError::new("name", "must be 1-256 letters, digits, '-', '_' or '.'"));
        }
        if self.environments.is_empty() || self.environments.len() > MAX_ENVIRONMENTS {
            details.push(FieldError::new("environments", "must name 1 to 100 environments"));
        }
        for (i, environment) in self.environments.iter().enumerate() {
            if environment.trim().is_empty() || environment.chars().count() > NAME_MAX_CHARS {
                details.push(FieldError::new(format!("environments[{i}]"), "must be 1-256 characters, not blank"));
            }
        }
        if self.reason.trim().is_empty() || self.reason.len() > TEXT_MAX_BYTES {
            details.push(FieldError::new("reason", "is required (at most 64 KiB)"));
        }
        match &self.schedule {
            FreezeSchedule::Once { start, end } => {
                if end <= start {
                    details.push(FieldError::new("schedule.end", "must be after schedule.start"));
                }
            }
            FreezeSchedule::Recurring { cron, duration_minutes, time_zone } => {
                if let Err(message) = Cron::parse(cron) {
                    details.push(FieldError::new("schedule.cron", message));
                }
                if !(1..=MAX_DURATION_MINUTES).contains(duration_minutes) {
                    details.push(FieldError::new("schedule.duration_minutes", "must be 1 to 20160 (14 days)"));
                }
                if time_zone.parse::<Tz>().is_err() {
                    details.push(FieldError::new(
                        "schedule.time_zone",
                        format!("'{time_zone}' is not an IANA time zone (such as Europe/Berlin or UTC)"),
                    ));
                }
            }
        }
        if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
    }

    /// Whether this window freezes `environment`.
    pub fn covers(&self, environment: &str) -> bool {
        self.environments.iter().any(|e| e.eq_ignore_ascii_case(environment))
    }

    /// The occurrence in force for `environment` at `at`, if any (for a recurring window whose
    /// occurrences overlap, the one that began last). A window that does not validate is never
    /// in force.
    pub fn active_at(&self, environment: &str, at: Timestamp) -> Option<ActiveFreeze> {
        if !self.covers(environment) {
            return None;
        }
        let (start, end) = match &self.schedule {
            FreezeSchedule::Once { start, end } => (start <= &at && at < *end).then_some((*start, *end))?,
            FreezeSchedule::Recurring { cron, duration_minutes, time_zone } => {
                let cron = Cron::parse(cron).ok()?;
                let zone = time_zone.parse::<Tz>().ok()?;
                let duration = (1..=MAX_DURATION_MINUTES).contains(duration_minutes).then_some(*duration_minutes)?;
                let start = cron.last_start(zone, at.as_datetime(), duration)?;
                let end = start + TimeDelta::minutes(i64::from(duration));
                (Timestamp::from(start), Timestamp::from(end))
            }
        };
        Some(ActiveFreeze { window: self.name.clone(), reason: self.reason.clone(), start, end })
    }
}

/// The window in force for `environment` at `at` among `windows`: the one ending last (by name
/// when two end together), or `None`.
pub fn active_freeze(windows: &[FreezeWindow], environment: &str, at: Timestamp) -> Option<ActiveFreeze> {
    windows
        .iter()
        .filter_map(|w| w.active_at(environment, at))
        .max_by(|a, b| a.end.cmp(&b.end).then_with(|| b.window.cmp(&a.window)))
}

/// The refusal of a start during `freeze` in `environment`.
pub fn violation(freeze: &ActiveFreeze, environment: &str) -> Error {
    Error::PolicyViolation {
        rule: "freeze_window".to_owned(),
        name: freeze.window.clone(),
        environment: environment.to_owned(),
        until: Some(freeze.end.to_string()),
        details: vec![FieldError::new(
            "freeze_window",
            format!(
                "environment '{environment}' is frozen by window '{}' until {}: {}",
                freeze.window, freeze.end, freeze.reason
            ),
        )],
    }
}

/// The `policy_override` event an admin's start during `freeze` writes just before `started`:
/// `actor` is the admin, `reason` becomes the note.
pub fn override_event(freeze: &ActiveFreeze, environment: &str, actor: &str, reason: &str) -> NewEvent {
    NewEvent::new(
        actor,
        reason,
        EventData::PolicyOverride(PolicyOverrideData {
            rule: "freeze_window".to_owned(),
            name: freeze.window.clone(),
            environment: environment.to_owned(),
            start: freeze.start,
            end: freeze.end,
        }),
    )
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= NAME_MAX_CHARS
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A parsed five-field cron expression: one bit per allowed value of each field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cron {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Cron {
    fn parse(text: &str) -> std::result::Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(format!("needs 5 fields (minute hour day-of-month month day-of-week), got {}", fields.len()));
        };
        let mut weekdays = field(weekday, "day of week", 0, 7, &WEEKDAYS, 0)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & !(1 << 7); // 7 is Sunday too
        }
        Ok(Cron {
            minutes: field(minute, "minute", 0, 59, &[], 0)?,
            hours: field(hour, "hour", 0, 23, &[], 0)?,
            days: field(day, "day of month", 1, 31, &[], 0)?,
            months: field(month, "month", 1, 12, &MONTHS, 1)?,
            weekdays,
            days_restricted: !day.starts_with('*'),
            weekdays_restricted: !weekday.starts_with('*'),
        })
    }

    fn matches(&self, local: NaiveDateTime) -> bool {
        let bit = |set: u64, value: u32| set & (1 << value) != 0;
        let day = bit(self.days, local.day());
        let weekday = bit(self.weekdays, local.weekday().num_days_from_sunday());
        let day_ok = match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => day || weekday,
            _ => day && weekday,
        };
        day_ok && bit(self.minutes, local.minute()) && bit(self.hours, local.hour()) && bit(self.months, local.month())
    }

    /// The latest occurrence start `s` with `s <= at < s + duration`, searching minute by minute
    /// back from `at` in UTC and reading each minute's wall clock in `zone`; a start whose wall
    /// time was skipped by a clock change happens at the first minute after the gap.
    fn last_start(&self, zone: Tz, at: DateTime<Utc>, duration_minutes: u32) -> Option<DateTime<Utc>> {
        let at_minute = at.with_second(0)?.with_nanosecond(0)?;
        for back in 0..i64::from(duration_minutes) {
            let instant = at_minute - TimeDelta::minutes(back);
            let local = zone.from_utc_datetime(&instant.naive_utc()).naive_local();
            if self.matches(local) {
                return Some(instant);
            }
            // Wall-clock minutes a forward clock change skipped right before this instant.
            let before = zone.from_utc_datetime(&(instant - TimeDelta::minutes(1)).naive_utc()).naive_local();
            let mut skipped = before + TimeDelta::minutes(1);
            while skipped < local {
                if self.matches(skipped) {
                    return Some(instant);
                }
                skipped += TimeDelta::minutes(1);
            }
        }
        None
    }
}

/// One cron field as a bit set of the values in `min..=max`; `names` (upper case) stand for
/// `first_name`, `first_name + 1`, ….
fn field(
    text: &str,
    what: &str,
    min: u32,
    max: u32,
    names: &[&str],
    first_name: u32,
) -> std::result::Result<u64, String> {
    let value = |s: &str| -> std::result::Result<u32, String> {
        let upper = s.to_ascii_uppercase();
        if let Some(i) = names.iter().position(|n| *n == upper) {
            return Ok(first_name + u32::try_from(i).unwrap_or(0));
        }
        match s.parse::<u32>() {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(format!("{what} '{s}' is not a value from {min} to {max}")),
        }
    };
    let mut set = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => match step.parse::<u32>() {
                Ok(step) if step >= 1 && step <= max => (range, step),
                _ => return Err(format!("{what} step '{step}' must be a number from 1 to {max}")),
            },
            None => (part, 1),
        };
        let (low, high) = if range == "*" {
            (min, max)
        } else if let Some((low, high)) = range.split_once('-') {
            (value(low)?, value(high)?)
        } else if part.contains('/') {
            (value(range)?, max)
        } else {
            let v = value(range)?;
            (v, v)
        };
        if low > high {
            return Err(format!("{what} range '{range}' runs backwards"));
        }
        let mut v = low;
        while v <= high {
            set |= 1 << v;
            v += step;
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recurring(cron: &str, minutes: u32, zone: &str) -> FreezeWindow {
        FreezeWindow {
            name: "w".into(),
            environments: vec!["Production".into()],
            reason: "because".into(),
            schedule: FreezeSchedule::Recurring {
                cron: cron.into(),
                duration_minutes: minutes,
                time_zone: zone.into(),
            },
        }
    }

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn start_of(w: &FreezeWindow, t: &str) -> Option<String> {
        w.active_at("production", at(t)).map(|f| f.start.to_string())
    }

    #[test]
    fn cron_fields_parse_ranges_lists_steps_and_names() {
        let c = Cron::parse("*/15 9-17/4 1,15 JAN-mar 7").unwrap();
        assert_eq!(c.minutes, (1 << 0) | (1 << 15) | (1 << 30) | (1 << 45));
        assert_eq!(c.hours, (1 << 9) | (1 << 13) | (1 << 17));
        assert_eq!(c.days, (1 << 1) | (1 << 15));
        assert_eq!(c.months, 0b1110);
        assert_eq!(c.weekdays, 1, "7 is Sunday");
        assert!(c.days_restricted && c.weekdays_restricted);
        assert_eq!(Cron::parse("5/20 * * * *").unwrap().minutes, (1 << 5) | (1 << 25) | (1 << 45));
    }

    #[test]
    fn bad_cron_expressions_say_what_is_wrong() {
        for (text, needle) in [
            ("* * * *", "needs 5 fields"),
            ("60 * * * *", "minute '60'"),
            ("* 24 * * *", "hour '24'"),
            ("* * 0 * *", "day of month '0'"),
            ("* * * 13 *", "month '13'"),
            ("* * * * 8", "day of week '8'"),
            ("* * * * FUN", "day of week 'FUN'"),
            ("*/0 * * * *", "step '0'"),
            ("10-5 * * * *", "runs backwards"),
            ("1,,2 * * * *", "minute ''"),
        ] {
            let e = Cron::parse(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn a_recurring_window_covers_its_occurrence_and_not_a_minute_more() {
        let w = recurring("0 18 * * FRI", 62 * 60, "UTC");
        assert_eq!(start_of(&w, "2026-12-04T17:59:59Z"), None);
        assert_eq!(start_of(&w, "2026-12-04T18:00:00Z").as_deref(), Some("2026-12-04T18:00:00.000000Z"));
        assert_eq!(start_of(&w, "2026-12-07T07:59:59.999999Z").as_deref(), Some("2026-12-04T18:00:00.000000Z"));
        assert_eq!(start_of(&w, "2026-12-07T08:00:00Z"), None);
        assert!(w.active_at("staging", at("2026-12-05T00:00:00Z")).is_none());
    }

    #[test]
    fn wall_clock_time_holds_across_daylight_saving_changes() {
        let w = recurring("0 18 * * FRI", 60, "Europe/Berlin");
        // Winter: UTC+1; summer: UTC+2.
        assert_eq!(start_of(&w, "2026-12-04T17:30:00Z").as_deref(), Some("2026-12-04T17:00:00.000000Z"));
        assert_eq!(start_of(&w, "2026-07-03T16:30:00Z").as_deref(), Some("2026-07-03T16:00:00.000000Z"));
        assert_eq!(start_of(&w, "2026-07-03T17:30:00Z"), None);
    }

    #[test]
    fn a_start_in_the_skipped_hour_begins_after_the_gap_and_the_repeated_hour_fires_twice() {
        // New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
        let gap = recurring("30 2 * * *", 30, "America/New_York");
        assert_eq!(start_of(&gap, "2026-03-08T07:10:00Z").as_deref(), Some("2026-03-08T07:00:00.000000Z"));
        assert_eq!(start_of(&gap, "2026-03-08T07:30:00Z"), None);
        // 2026-11-01: 02:00 EDT goes back to 01:00 EST; 01:30 happens at 05:30 and 06:30 UTC.
        let twice = recurring("30 1 * * *", 10, "America/New_York");
        assert_eq!(start_of(&twice, "2026-11-01T05:35:00Z").as_deref(), Some("2026-11-01T05:30:00.000000Z"));
        assert_eq!(start_of(&twice, "2026-11-01T06:35:00Z").as_deref(), Some("2026-11-01T06:30:00.000000Z"));
        assert_eq!(start_of(&twice, "2026-11-01T06:00:00Z"), None);
    }

    #[test]
    fn day_fields_match_either_when_both_are_restricted() {
        let w = recurring("0 0 13 * FRI", 24 * 60, "UTC");
        assert!(start_of(&w, "2026-11-13T12:00:00Z").is_some(), "the 13th (a Friday)");
        assert!(start_of(&w, "2026-12-13T12:00:00Z").is_some(), "the 13th (a Sunday)");
        assert!(start_of(&w, "2026-12-04T12:00:00Z").is_some(), "a Friday");
        assert!(start_of(&w, "2026-12-05T12:00:00Z").is_none());
        let only_fridays = recurring("0 0 * * FRI", 24 * 60, "UTC");
        assert!(start_of(&only_fridays, "2026-12-13T12:00:00Z").is_none());
    }

    #[test]
    fn the_window_ending_last_is_the_one_reported() {
        let mut short = recurring("0 0 * * *", 60, "UTC");
        short.name = "short".into();
        let long = FreezeWindow {
            name: "holidays".into(),
            environments: vec!["production".into()],
            reason: "holidays".into(),
            schedule: FreezeSchedule::Once { start: at("2026-12-20T00:00:00Z"), end: at("2027-01-04T00:00:00+01:00") },
        };
        let found = active_freeze(&[short, long], "PRODUCTION", at("2026-12-24T00:30:00Z")).unwrap();
        assert_eq!(
            (found.window.as_str(), found.end.to_string().as_str()),
            ("holidays", "2027-01-03T23:00:00.000000Z")
        );
        let e = violation(&found, "production");
        assert_eq!(e.code(), "policy_violation");
        assert!(e.to_string().contains("'holidays'"), "{e}");
    }

    #[test]
    fn invalid_windows_name_every_bad_field() {
        let w = FreezeWindow {
            name: "bad name".into(),
            environments: vec![" ".into()],
            reason: String::new(),
            schedule: FreezeSchedule::Recurring {
                cron: "* *".into(),
                duration_minutes: 0,
                time_zone: "Mars/Olympus".into(),
            },
        };
        let Err(Error::Validation { details }) = w.validate() else { panic!("expected a validation error") };
        let fields: Vec<&str> = details.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "environments[0]", "reason", "schedule.cron", "schedule.duration_minutes", "schedule.time_zone"]
        );
        let once = r#"{"name": "x", "environments": ["p"], "reason": "r",
            "schedule": {"type": "once", "start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}}"#;
        let Err(Error::Validation { details }) = FreezeWindow::from_json(once) else { panic!() };
        assert_eq!(details[0].field, "schedule.end");
        let unknown = r#"{"name": "x", "environments": ["p"], "reason": "r", "colour": "red",
            "schedule": {"type": "once", "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}}"#;
        assert_eq!(FreezeWindow::from_json(unknown).unwrap_err().code(), "validation_error");
    }
}
