//! Who may do what over the network: roles, grants (a role, optionally for one environment),
//! API tokens (stored only as a hash) and the [`Identity`] a valid token stands for. The rules
//! that decide — is this token still valid, does this identity hold this role here — live here,
//! once; the HTTP server and the CLI apply them.
//!
//! | role | may |
//! |---|---|
//! | `viewer` | read everything (every role includes it, whatever its scope) |
//! | `requester` | create deployments |
//! | `approver` | approve or reject (never their own) |
//! | `deployer` | start, succeed, fail, roll back; start and override rollouts |
//! | `admin` | everything, including tokens, services and thresholds |
//!
//! ```
//! use loco_types::identity::{Grant, Identity, Role};
//! let ops = Identity::new("ops", vec![Grant::parse("approver:production").unwrap()]);
//! assert!(ops.allows(Role::Approver, Some("Production")));
//! assert!(!ops.allows(Role::Approver, Some("staging")));
//! assert!(ops.allows(Role::Viewer, Some("staging")), "every role reads everywhere");
//! ```

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::audit::sha256_hex;
use crate::error::{Error, FieldError, Result};
use crate::lifecycle::{NAME_MAX_CHARS, UnknownName};
use crate::model::Timestamp;

/// What an identity may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read deployments, events, rollouts, releases, metrics.
    Viewer,
    /// Create deployments.
    Requester,
    /// Approve or reject deployments requested by someone else.
    Approver,
    /// Start, finish and roll back deployments; start and override rollouts.
    Deployer,
    /// Everything, including tokens, services and thresholds.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [Role::Viewer, Role::Requester, Role::Approver, Role::Deployer, Role::Admin];

    /// The name used in JSON, grants and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Requester => "requester",
            Role::Approver => "approver",
            Role::Deployer => "deployer",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = UnknownName;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// A role, everywhere or in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Grant {
    /// The role.
    pub role: Role,
    /// The environment it is limited to (compared case-insensitively); `null` for every one.
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub environment: Option<String>,
}

impl Grant {
    /// Parses `role` or `role:environment` (`approver:production`).
    pub fn parse(text: &str) -> Result<Self> {
        let (role, environment) = match text.split_once(':') {
            Some((role, environment)) => (role, Some(environment.trim())),
            None => (text, None),
        };
        let role = role.trim().parse::<Role>().map_err(|_| {
            Error::invalid(
                "grants",
                format!("'{text}' names no role; expected viewer, requester, approver, deployer or admin, optionally followed by :environment"),
            )
        })?;
        if environment.is_some_and(str::is_empty) {
            return Err(Error::invalid("grants", format!("'{text}' has an empty environment")));
        }
        Ok(Grant { role, environment: environment.map(str::to_owned) })
    }

    fn covers(&self, environment: Option<&str>) -> bool {
        match (&self.environment, environment) {
            (None, _) => true,
            (Some(scope), Some(env)) => scope.trim().eq_ignore_ascii_case(env.trim()),
            (Some(_), None) => false,
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.environment {
            Some(environment) => write!(f, "{}:{environment}", self.role),
            None => write!(f, "{}", self.role),
        }
    }
}

/// Who is acting, as a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The person or system: the actor of everything they do, compared with a deployment's
    /// requester for self-approval.
    pub subject: String,
    /// What they may do.
    pub grants: Vec<Grant>,
    /// The token they authenticated with, if any.
    pub token_id: Option<String>,
}

impl Identity {
    /// An identity with these grants (not tied to a token).
    pub fn new(subject: impl Into<String>, grants: Vec<Grant>) -> Self {
        Self { subject: subject.into(), grants, token_id: None }
    }

    /// Whether the identity holds `role` for `environment` (`None`: an action tied to no
    /// environment, which only an unscoped grant covers). `admin` holds every role. Reading
    /// (`viewer`) needs any grant at all: scopes limit what an identity may change, not what it
    /// may see.
    pub fn allows(&self, role: Role, environment: Option<&str>) -> bool {
        if role == Role::Viewer {
            return !self.grants.is_empty();
        }
        self.grants.iter().any(|g| (g.role == role || g.role == Role::Admin) && g.covers(environment))
    }

    /// [`allows`](Self::allows), or `permission_denied` naming the missing role.
    pub fn require(&self, role: Role, environment: Option<&str>) -> Result<()> {
        if self.allows(role, environment) {
            Ok(())
        } else {
            Err(Error::permission_denied(&self.subject, role, environment))
        }
    }
}

/// An API token as stored and listed: never its secret, only a hash of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Token {
    /// `tok_` followed by a ULID.
    pub id: String,
    /// What it is for (`ci`, `alice's laptop`).
    pub name: String,
    /// Who it acts as.
    pub subject: String,
    /// What it may do.
    pub grants: Vec<Grant>,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: Timestamp,
    /// When it stops working; `null` for never.
    #[schemars(with = "crate::schema::Nullable<Timestamp>")]
    pub expires_at: Option<Timestamp>,
    /// When it was revoked; `null` while valid.
    #[schemars(with = "crate::schema::Nullable<Timestamp>")]
    pub revoked_at: Option<Timestamp>,
}

impl Token {
    /// The identity this token stands for at `now`, or `unauthenticated` when it expired or was
    /// revoked.
    pub fn identity_at(&self, now: Timestamp) -> Result<Identity> {
        if self.revoked_at.is_some() {
            return Err(Error::Unauthenticated { reason: "the token was revoked".to_owned() });
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            return Err(Error::Unauthenticated { reason: "the token expired".to_owned() });
        }
        Ok(Identity { subject: self.subject.clone(), grants: self.grants.clone(), token_id: Some(self.id.clone()) })
    }
}

/// What creating a token needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What it is for.
    pub name: String,
    /// Who it acts as.
    pub subject: String,
    /// What it may do (at least one grant).
    pub grants: Vec<Grant>,
    /// When it stops working; absent for never.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
}

impl NewToken {
    /// Checks the request: a name and subject, at least one grant, an expiry in the future.
    pub fn validate(&self, now: Timestamp) -> Result<()> {
        let mut details = Vec::new();
        for (field, value) in [("name", &self.name), ("subject", &self.subject)] {
            if value.trim().is_empty() {
                details.push(FieldError::new(field, "is required and must not be blank"));
            } else if value.chars().count() > NAME_MAX_CHARS || value.chars().any(char::is_control) {
                details.push(FieldError::new(field, format!("must be at most {NAME_MAX_CHARS} printable characters")));
            }
        }
        if self.grants.is_empty() {
            details.push(FieldError::new("grants", "needs at least one role"));
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            details.push(FieldError::new("expires_at", "is in the past"));
        }
        if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
    }
}

/// The prefix of every token secret, so a leaked one is easy to recognise (and to scan for).
pub const TOKEN_PREFIX: &str = "loco_";

/// The hash a token is stored and looked up by.
pub fn token_hash(secret: &str) -> String {
    sha256_hex(&[secret.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(grants: &[&str]) -> Identity {
        Identity::new("alice", grants.iter().map(|g| Grant::parse(g).unwrap()).collect())
    }

    #[test]
    fn grants_parse_and_print() {
        assert_eq!(Grant::parse("approver:production").unwrap().to_string(), "approver:production");
        assert_eq!(Grant::parse("admin").unwrap(), Grant { role: Role::Admin, environment: None });
        for bad in ["root", "approver:", "", "approve:prod"] {
            assert_eq!(Grant::parse(bad).unwrap_err().details()[0].field, "grants", "{bad}");
        }
    }

    #[test]
    fn each_role_allows_its_own_actions_and_reading() {
        let cases: [(&[&str], Role, Option<&str>, bool); 10] = [
            (&["viewer"], Role::Viewer, Some("prod"), true),
            (&["viewer"], Role::Requester, Some("prod"), false),
            (&["requester"], Role::Requester, Some("dev"), true),
            (&["requester"], Role::Approver, Some("dev"), false),
            (&["approver:production"], Role::Approver, Some("PRODUCTION"), true),
            (&["approver:production"], Role::Approver, Some("staging"), false),
            (&["deployer:staging"], Role::Viewer, Some("production"), true),
            (&["deployer:staging"], Role::Admin, None, false),
            (&["admin"], Role::Deployer, Some("anything"), true),
            (&["admin:dev"], Role::Admin, None, false),
        ];
        for (grants, role, environment, expected) in cases {
            assert_eq!(identity(grants).allows(role, environment), expected, "{grants:?} {role} {environment:?}");
        }
        let denied = identity(&["viewer"]).require(Role::Approver, Some("prod")).unwrap_err();
        assert_eq!(denied.code(), "permission_denied");
        assert!(denied.to_string().contains("approver"), "{denied}");
    }

    #[test]
    fn expired_and_revoked_tokens_are_unauthenticated() {
        let now = Timestamp::now();
        let later = Timestamp::parse("2999-01-01T00:00:00Z").unwrap();
        let earlier = Timestamp::parse("2000-01-01T00:00:00Z").unwrap();
        let token = Token {
            id: "tok_1".into(),
            name: "ci".into(),
            subject: "alice".into(),
            grants: vec![Grant::parse("viewer").unwrap()],
            created_by: "admin".into(),
            created_at: now,
            expires_at: Some(later),
            revoked_at: None,
        };
        assert_eq!(token.identity_at(now).unwrap().token_id.as_deref(), Some("tok_1"));
        let expired = Token { expires_at: Some(earlier), ..token.clone() };
        assert_eq!(expired.identity_at(now).unwrap_err().code(), "unauthenticated");
        let revoked = Token { revoked_at: Some(now), ..token };
        assert_eq!(revoked.identity_at(now).unwrap_err().code(), "unauthenticated");
    }

    #[test]
    fn new_tokens_are_checked() {
        let now = Timestamp::now();
        let bad = NewToken { name: " ".into(), subject: String::new(), grants: vec![], expires_at: Some(now) };
        let fields: Vec<String> = bad.validate(now).unwrap_err().details().iter().map(|d| d.field.clone()).collect();
        assert_eq!(fields, ["name", "subject", "grants", "expires_at"]);
        assert_eq!(token_hash("loco_x").len(), 64);
    }
}
