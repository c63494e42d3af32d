//! The records Loco stores and returns: deployments, their events, list queries and pages.

use std::fmt;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::lifecycle::{Action, Status};

/// Default page size of [`ListQuery`].
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
/// Largest accepted page size of [`ListQuery`].
pub const MAX_PAGE_LIMIT: u32 = 500;

/// A point in time, UTC, rendered as RFC 3339 with microseconds (`2026-11-23T08:36:00.123456Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current time, to the microsecond (the precision it is stored and rendered with).
    pub fn now() -> Self {
        Timestamp(Utc::now().trunc_subsecs(6))
    }

    /// Parses an RFC 3339 string.
    pub fn parse(s: &str) -> Result<Self> {
        // The form Loco itself writes (UTC, microseconds) is read directly: every row a store
        // reads has two or three of them, and the general parser costs several times more.
        if let Some(t) = Self::parse_stored(s.as_bytes()) {
            return Ok(t);
        }
        DateTime::parse_from_rfc3339(s)
            .map(|t| Timestamp(t.with_timezone(&Utc)))
            .map_err(|e| Error::storage(format!("bad timestamp '{s}': {e}")))
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ` exactly, or `None` (then the general parser decides).
    fn parse_stored(b: &[u8]) -> Option<Self> {
        if b.len() != 27 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
            return None;
        }
        if b[19] != b'.' || b[26] != b'Z' {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<u32> {
            b[range].iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
        };
        let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)?;
        let time = date.and_hms_micro_opt(num(11..13)?, num(14..16)?, num(17..19)?, num(20..26)?)?;
        Some(Timestamp(time.and_utc()))
    }

    /// The time `duration` after this one (saturating at the far future).
    #[must_use]
    pub fn after(self, duration: std::time::Duration) -> Self {
        let delta = chrono::TimeDelta::from_std(duration).unwrap_or(chrono::TimeDelta::MAX);
        Timestamp(self.0.checked_add_signed(delta).unwrap_or(DateTime::<Utc>::MAX_UTC))
    }

    /// The time `duration` before this one (saturating at the far past).
    #[must_use]
    pub fn before(self, duration: std::time::Duration) -> Self {
        let delta = chrono::TimeDelta::from_std(duration).unwrap_or(chrono::TimeDelta::MAX);
        Timestamp(self.0.checked_sub_signed(delta).unwrap_or(DateTime::<Utc>::MIN_UTC))
    }

    /// The underlying chrono value.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }
}

impl From<DateTime<Utc>> for Timestamp {
    /// The instant, truncated to the microsecond (the precision timestamps are stored with).
    fn from(t: DateTime<Utc>) -> Self {
        Timestamp(t.trunc_subsecs(6))
    }
}

impl std::str::FromStr for Timestamp {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Timestamp::parse(s)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "A point in time, UTC, RFC 3339 with microseconds (`2026-11-23T08:36:00.123456Z`)."
        })
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What a caller asks to deploy. Validated by [`crate::lifecycle::validate_new`].
///
/// As a JSON request body every field may be missing or `null`: it then reads as empty, so the
/// lifecycle rules (not the parser) name it as required; unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("required" = ["service", "environment", "version", "requester", "work_refs", "rollback_plan"]))]
pub struct NewDeployment {
    /// The service being deployed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub service: String,
    /// The target environment (`production`/`prod` require [`NewDeployment::risk`]).
    #[serde(default, deserialize_with = "null_as_default")]
    pub environment: String,
    /// The version or build being deployed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub version: String,
    /// Who asks for the deployment; may not review it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub requester: String,
    /// Issues, pull requests or other planning artifacts (at least one).
    #[serde(default, deserialize_with = "null_as_default")]
    pub work_refs: Vec<String>,
    /// How to recover if the deployment goes wrong.
    #[serde(default, deserialize_with = "null_as_default")]
    pub rollback_plan: String,
    /// Accepted risk; required for production.
    #[serde(default)]
    pub risk: Option<String>,
    /// The source commit being deployed (a VCS revision such as a git SHA), compared exactly.
    /// While a deployment of the same service, environment, version and commit is open
    /// (`pending_approval`, `approved` or `started`), creating it again returns that deployment
    /// instead of a new one. Omitted from JSON when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// Reads a `null` as the type's default (an empty string or list), like a missing field.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The current state of one deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Deployment {
    /// Generated id, `dep_` followed by a ULID.
    pub id: String,
    /// The service being deployed.
    pub service: String,
    /// The target environment.
    pub environment: String,
    /// The version or build being deployed.
    pub version: String,
    /// Who asked for the deployment.
    pub requester: String,
    /// Planning artifacts the deployment delivers.
    pub work_refs: Vec<String>,
    /// How to recover if the deployment goes wrong.
    pub rollback_plan: String,
    /// Accepted risk, if stated.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub risk: Option<String>,
    /// The source commit being deployed, if stated.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub commit: Option<String>,
    /// Where the deployment is in its lifecycle.
    pub status: Status,
    /// Who approved or rejected it.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub reviewed_by: Option<String>,
    /// When it was approved or rejected.
    #[schemars(with = "crate::schema::Nullable<Timestamp>")]
    pub reviewed_at: Option<Timestamp>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When its status last changed.
    pub updated_at: Timestamp,
}

/// What an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// The deployment was created.
    Created,
    /// It was approved.
    Approved,
    /// It was rejected.
    Rejected,
    /// Its rollout started.
    Started,
    /// Its rollout succeeded.
    Succeeded,
    /// Its rollout failed.
    Failed,
    /// It was rolled back.
    RolledBack,
    /// A rollout step finished (traffic shifted, instances started or stopped, a window observed).
    StepProgress,
    /// A health check of a rollout instance finished.
    HealthCheck,
    /// The canary judge compared the new release's metrics with the baseline's.
    Analysis,
    /// A canary passed its observation and was given a larger share of traffic.
    CanaryPromoted,
    /// A deployment script finished (or could not start).
    Script,
    /// The pre-deployment checks ran (their full report; a failed one refused the start).
    Validation,
    /// An admin started the deployment in spite of a policy (a freeze window), with a reason;
    /// written just before `started`.
    PolicyOverride,
    /// An admin force-released the deploy lock this (started) deployment held, with a reason.
    LockReleased,
    /// A reviewer approved a deployment whose environment's gate needs more approvals than it
    /// has had (the approval completing the count is the `approved` transition).
    ApprovalGranted,
    /// The deployment was created by promoting a succeeded one from the stage before (written
    /// just after `created`, in the same transaction).
    Promoted,
}

impl EventKind {
    /// Every event kind.
    pub const ALL: [EventKind; 17] = [
        EventKind::Created,
        EventKind::Approved,
        EventKind::Rejected,
        EventKind::Started,
        EventKind::Succeeded,
        EventKind::Failed,
        EventKind::RolledBack,
        EventKind::StepProgress,
        EventKind::HealthCheck,
        EventKind::Analysis,
        EventKind::CanaryPromoted,
        EventKind::Script,
        EventKind::Validation,
        EventKind::PolicyOverride,
        EventKind::LockReleased,
        EventKind::ApprovalGranted,
        EventKind::Promoted,
    ];

    /// The snake_case name used in JSON, the database and every binding.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Approved => "approved",
            EventKind::Rejected => "rejected",
            EventKind::Started => "started",
            EventKind::Succeeded => "succeeded",
            EventKind::Failed => "failed",
            EventKind::RolledBack => "rolled_back",
            EventKind::StepProgress => "step_progress",
            EventKind::HealthCheck => "health_check",
            EventKind::Analysis => "analysis",
            EventKind::CanaryPromoted => "canary_promoted",
            EventKind::Script => "script",
            EventKind::Validation => "validation",
            EventKind::PolicyOverride => "policy_override",
            EventKind::LockReleased => "lock_released",
            EventKind::ApprovalGranted => "approval_granted",
            EventKind::Promoted => "promoted",
        }
    }

    /// True for the kinds written by lifecycle actions (exactly one per action, plus `created`).
    pub fn is_lifecycle(self) -> bool {
        !matches!(
            self,
            EventKind::StepProgress
                | EventKind::HealthCheck
                | EventKind::Analysis
                | EventKind::CanaryPromoted
                | EventKind::Script
                | EventKind::Validation
                | EventKind::PolicyOverride
                | EventKind::LockReleased
                | EventKind::ApprovalGranted
                | EventKind::Promoted
        )
    }

    /// The action that writes this kind (`None` for `created` and the rollout kinds).
    pub fn action(self) -> Option<Action> {
        Action::ALL.into_iter().find(|action| EventKind::from(*action) == self)
    }

    /// Parses a stored kind name.
    pub fn parse(s: &str) -> Result<Self> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::storage(format!("unknown event kind '{s}' in the database")))
    }
}

impl std::str::FromStr for EventKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        EventKind::parse(s)
    }
}

impl From<Action> for EventKind {
    fn from(action: Action) -> Self {
        match action {
            Action::Approve => EventKind::Approved,
            Action::Reject => EventKind::Rejected,
            Action::Start => EventKind::Started,
            Action::Succeed => EventKind::Succeeded,
            Action::Fail => EventKind::Failed,
            Action::Rollback => EventKind::RolledBack,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One append-only history entry. Lifecycle events (one per action, plus `created`) always have a
/// `to_status`; `from_status` is `None` only on `created`, whose `data` is the request it
/// accepted. Rollout events (`step_progress`, `health_check`, …) have neither and carry their
/// facts in `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    /// Position in the store-wide event order (1, 2, 3, … with no gaps); also the audit chain order.
    pub seq: i64,
    /// Generated id, `evt_` followed by a ULID.
    pub id: String,
    /// The deployment this event belongs to.
    pub deployment_id: String,
    /// What happened.
    pub kind: EventKind,
    /// Who did it.
    pub actor: String,
    /// The request it was done for: the `X-Request-Id` of the HTTP request that caused it (for a
    /// rollout's own events, the request that started, resumed or changed the rollout), or the id
    /// an embedding service scoped the call with; `null` when there was none (in-process calls,
    /// and a rollout continued after a restart).
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub request_id: Option<String>,
    /// Why, if given.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub note: Option<String>,
    /// Status before the event (`None` on `created`).
    #[schemars(with = "crate::schema::Nullable<Status>")]
    pub from_status: Option<Status>,
    /// Status after the event.
    #[schemars(with = "crate::schema::Nullable<Status>")]
    pub to_status: Option<Status>,
    /// When it was recorded.
    pub at: Timestamp,
    /// `sha256(previous event's hash ‖ canonical bytes of this event)`, lowercase hex.
    pub hash: String,
    /// The request a `created` event accepted, or the structured facts of a rollout event (step,
    /// traffic, instances, probe results); `None` on the other lifecycle events (and on `created`
    /// events written before the audit covered whole records).
    /// [`EventData::parse`](crate::event_data::EventData::parse) reads it typed.
    #[schemars(with = "crate::schema::Nullable<crate::event_data::EventData>")]
    pub data: Option<serde_json::Value>,
}

impl Event {
    /// The event's data, typed by its kind (`None` for lifecycle events).
    pub fn typed_data(&self) -> Result<Option<crate::event_data::EventData>> {
        match &self.data {
            Some(value) => crate::event_data::EventData::parse(self.kind, value),
            None => Ok(None),
        }
    }
}

/// Filters and paging for listing deployments, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only this service (exact match).
    pub service: Option<String>,
    /// Only this environment (exact match).
    pub environment: Option<String>,
    /// Only this status.
    pub status: Option<Status>,
    /// Page size, 1..=500; 50 when `None`.
    pub limit: Option<u32>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl ListQuery {
    /// A query from text parameters, as a URL query string, CLI flags or binding arguments give
    /// them: `status` must name a status and `limit` must be a whole number; each bad value is a
    /// validation error naming its field (the range of `limit` and the cursor are checked when
    /// the query runs).
    pub fn parse(
        service: Option<String>,
        environment: Option<String>,
        status: Option<&str>,
        limit: Option<&str>,
        cursor: Option<String>,
    ) -> Result<Self> {
        let status = status.map(|s| Status::parse_field(s, "status")).transpose()?;
        let limit = limit.map(|l| parse_limit(l, "limit")).transpose()?;
        Ok(ListQuery { service, environment, status, limit, cursor })
    }

    /// The page size to use, or a validation error when it is out of range.
    pub fn effective_limit(&self) -> Result<u32> {
        self.limit.map_or(Ok(DEFAULT_PAGE_LIMIT), |n| check_limit(n, "limit"))
    }
}

/// Parses a page size written as text (`"50"`), or returns a validation error naming `field`.
pub fn parse_limit(text: &str, field: &str) -> Result<u32> {
    text.trim().parse::<u32>().map_err(|_| {
        Error::invalid(
            field,
            format!("'{text}' is not a page size; expected an integer between 1 and {MAX_PAGE_LIMIT}"),
        )
    })
}

/// Checks a page size given as a number: 1..=500, or a validation error naming `field`.
pub fn check_limit(limit: u32, field: &str) -> Result<u32> {
    if (1..=MAX_PAGE_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::invalid(field, format!("must be between 1 and {MAX_PAGE_LIMIT}; got {limit}")))
    }
}

/// One page of results and the cursor for the next one (`None` on the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// Pass this as [`ListQuery::cursor`] to get the next page; `None` when there is no more.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub next_cursor: Option<String>,
}

/// A new deployment id (`dep_` + ULID, so ids sort by creation time).
pub fn new_deployment_id() -> String {
    format!("dep_{}", ulid::Ulid::new())
}

/// A new event id (`evt_` + ULID).
pub fn new_event_id() -> String {
    format!("evt_{}", ulid::Ulid::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_rfc3339_utc_with_micros() {
        let t = Timestamp::parse("2026-11-23T08:36:00.5+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-23T06:36:00.500000Z");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2026-11-23T06:36:00.500000Z\"");
        assert_eq!(Timestamp::parse("yesterday").unwrap_err().code(), "storage_error");
    }

    #[test]
    fn the_stored_form_reads_exactly_as_the_general_parser_reads_it() {
        for text in [
            "2026-11-23T06:36:00.500000Z",
            "1970-01-01T00:00:00.000000Z",
            "2024-02-29T23:59:59.999999Z",
            "9999-12-31T23:59:59.000001Z",
        ] {
            let general = DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
            assert_eq!(Timestamp::parse_stored(text.as_bytes()), Some(Timestamp(general)), "{text}");
            assert_eq!(Timestamp::parse(text).unwrap().to_string(), text);
        }
        // Anything else goes to the general parser, which accepts or names it.
        for text in [
            "2026-02-30T00:00:00.000000Z",
            "2026-11-23T24:00:00.000000Z",
            "2026-11-23T06:36:00.50000aZ",
            "2026-11-23T06:36:00.500000+00:00",
            "2026-11-23 06:36:00.500000Z",
            "+026-11-23T06:36:00.500000Z",
        ] {
            assert_eq!(Timestamp::parse_stored(text.as_bytes()), None, "{text}");
        }
        assert!(Timestamp::parse("2026-02-30T00:00:00.000000Z").is_err());
        assert_eq!(Timestamp::parse("2026-11-23 06:36:00.500000Z").unwrap().to_string(), "2026-11-23T06:36:00.500000Z");
        assert!(Timestamp::parse("2016-12-31T23:59:60.000000Z").is_ok(), "a leap second still reads");
    }

    #[test]
    fn limit_defaults_to_50_and_is_bounded() {
        let q = |limit| ListQuery { limit, ..ListQuery::default() };
        assert_eq!(q(None).effective_limit(), Ok(50));
        assert_eq!(q(Some(1)).effective_limit(), Ok(1));
        assert_eq!(q(Some(500)).effective_limit(), Ok(500));
        assert_eq!(q(Some(0)).effective_limit().unwrap_err().details()[0].field, "limit");
        assert_eq!(q(Some(501)).effective_limit().unwrap_err().code(), "validation_error");
    }

    #[test]
    fn every_action_has_its_event_kind() {
        for action in Action::ALL {
            assert_eq!(EventKind::from(action).as_str(), action.target().as_str());
            assert_eq!(EventKind::from(action).action(), Some(action));
        }
        let without: Vec<_> = EventKind::ALL.into_iter().filter(|k| k.action().is_none()).collect();
        assert_eq!(
            without.len(),
            11,
            "created, the six rollout and validation kinds, policy_override, lock_released, approval_granted, \
             promoted: {without:?}"
        );
    }
}
