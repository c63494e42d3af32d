//! Configured cloud platforms: what `loco platforms add` stores — a name plans refer to, the
//! provider's settings, and the API token (sealed at rest, shown as `"***"`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::Timestamp;
use crate::{Error, Result};

/// One configured platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlatformConfig {
    /// The name plans use in `platform` (`fly-prod`): 1–63 of `a-z 0-9 -`, starting with a
    /// letter; `local` and `memory` are reserved.
    pub name: String,
    /// The provider and its settings.
    pub settings: PlatformSettings,
    /// The API token: sealed in the database, `"***"` wherever it is shown.
    pub token: String,
    /// Who added it.
    pub created_by: String,
    /// When it was added (or last replaced).
    pub created_at: Timestamp,
}

/// A platform to configure, as sent by a client (`PUT /api/v1/platforms/{name}`, the bindings'
/// `add_platform`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlatform {
    /// The name plans will use.
    pub name: String,
    /// The provider and its settings.
    pub settings: PlatformSettings,
    /// The API token, in the clear (sealed before it is stored, never shown again).
    pub token: String,
}

impl std::fmt::Display for NewPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, token ***)", self.name, self.settings.kind())
    }
}

/// The provider a platform deploys to, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlatformSettings {
    /// Fly.io Machines.
    Fly(FlySettings),
    /// Render.
    Render(RenderSettings),
    /// Railway.
    Railway(RailwaySettings),
    /// Vercel.
    Vercel(VercelSettings),
}

/// A Fly.io app deployed through the Machines API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlySettings {
    /// The app name.
    pub app: String,
    /// The region new machines are created in (the app's primary region when absent).
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub region: Option<String>,
    /// The Machines API base URL (default `https://api.machines.dev`).
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub api_url: Option<String>,
    /// The logs API base URL (default `https://api.fly.io`).
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub logs_url: Option<String>,
}

/// A Render service deployed through the REST API v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderSettings {
    /// The service id (`srv-…`).
    pub service_id: String,
    /// The workspace (owner) id (`tea-…`), needed for logs; looked up from the service when absent.
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub owner_id: Option<String>,
    /// The API base URL (default `https://api.render.com`).
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub api_url: Option<String>,
}

/// One Railway service in one environment of a project, deployed through the GraphQL API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RailwaySettings {
    /// The project id.
    pub project_id: String,
    /// The environment id within the project.
    pub environment_id: String,
    /// The service id.
    pub service_id: String,
    /// Which kind of token is given: an account, workspace or OAuth token (sent as
    /// `Authorization: Bearer`), or a project token (sent as `Project-Access-Token`).
    #[serde(default)]
    pub token_kind: RailwayTokenKind,
    /// The GraphQL endpoint (default `https://backboard.railway.com/graphql/v2`).
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub api_url: Option<String>,
}

/// How a Railway token is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RailwayTokenKind {
    /// An account, workspace or OAuth token: `Authorization: Bearer <token>`.
    #[default]
    Account,
    /// A project token (one environment of one project): `Project-Access-Token: <token>`.
    Project,
}

/// One Vercel project deployed from its linked git repository through the REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VercelSettings {
    /// The project id (`prj_…`) or name.
    pub project_id: String,
    /// The team id (`team_…`) sent as `teamId` on every call, for team projects.
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub team_id: Option<String>,
    /// The API base URL (default `https://api.vercel.com`).
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub api_url: Option<String>,
}

/// Default Machines API base URL.
pub const FLY_API_URL: &str = "https://api.machines.dev";
/// Default Fly logs API base URL.
pub const FLY_LOGS_URL: &str = "https://api.fly.io";
/// Default Render API base URL.
pub const RENDER_API_URL: &str = "https://api.render.com";
/// Default Railway GraphQL endpoint.
pub const RAILWAY_API_URL: &str = "https://backboard.railway.com/graphql/v2";
/// Default Vercel API base URL.
pub const VERCEL_API_URL: &str = "https://api.vercel.com";

/// Platform names a configuration may not take: the built-in platforms'.
pub const RESERVED_PLATFORM_NAMES: [&str; 2] = ["local", "memory"];

impl PlatformSettings {
    /// The provider's name (`fly`, `render`).
    pub fn kind(&self) -> &'static str {
        match self {
            PlatformSettings::Fly(_) => "fly",
            PlatformSettings::Render(_) => "render",
            PlatformSettings::Railway(_) => "railway",
            PlatformSettings::Vercel(_) => "vercel",
        }
    }

    /// Parses a settings document (`{"kind": "fly", "app": …}`), naming bad fields
    /// `settings.<field>`; [`validate`](Self::validate) checks the values (the engine does when
    /// a platform is added, together with its name and token).
    pub fn from_json(json: &str) -> Result<Self> {
        crate::document::parse(json, "settings.", "settings")
    }

    /// Checks every field, naming each bad one (`settings.app`).
    pub fn validate(&self) -> Result<()> {
        let mut details = Vec::new();
        let mut url = |field: &str, value: &Option<String>| {
            if let Some(v) = value
                && !(v.starts_with("https://")
                    || v.starts_with("http://127.0.0.1")
                    || v.starts_with("http://localhost"))
            {
                details.push(crate::FieldError::new(
                    format!("settings.{field}"),
                    "must be an https:// URL (plain http only to 127.0.0.1 or localhost)",
                ));
            }
        };
        match self {
            PlatformSettings::Fly(fly) => {
                url("api_url", &fly.api_url);
                url("logs_url", &fly.logs_url);
                if !is_slug(&fly.app) {
                    details.push(crate::FieldError::new("settings.app", "must be a Fly app name (a-z, 0-9, -)"));
                }
            }
            PlatformSettings::Render(render) => {
                url("api_url", &render.api_url);
                if !render.service_id.starts_with("srv-") || !is_slug(&render.service_id) {
                    details.push(crate::FieldError::new("settings.service_id", "must be a Render service id (srv-…)"));
                }
            }
            PlatformSettings::Railway(railway) => {
                url("api_url", &railway.api_url);
                for (field, id) in [
                    ("project_id", &railway.project_id),
                    ("environment_id", &railway.environment_id),
                    ("service_id", &railway.service_id),
                ] {
                    if !is_id(id) {
                        details.push(crate::FieldError::new(format!("settings.{field}"), "must be a Railway id"));
                    }
                }
            }
            PlatformSettings::Vercel(vercel) => {
                url("api_url", &vercel.api_url);
                if !is_id(&vercel.project_id) {
                    details.push(crate::FieldError::new("settings.project_id", "must be a Vercel project id or name"));
                }
                if vercel.team_id.as_deref().is_some_and(|t| !is_id(t)) {
                    details.push(crate::FieldError::new("settings.team_id", "must be a Vercel team id (team_…)"));
                }
            }
        }
        if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
    }
}

/// Checks a platform name: 1–63 of `a-z 0-9 -`, starting with a letter, not reserved.
pub fn validate_platform_name(name: &str) -> Result<()> {
    let shaped = name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !shaped {
        return Err(Error::invalid("name", "must be 1-63 of a-z, 0-9 and -, starting with a letter"));
    }
    if RESERVED_PLATFORM_NAMES.contains(&name) {
        return Err(Error::invalid("name", format!("'{name}' is a built-in platform")));
    }
    Ok(())
}

/// An opaque provider id: 1–100 of letters, digits, `-` and `_`.
fn is_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 100 && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 100
        && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_tagged_by_kind_and_refuse_unknown_fields() {
        let fly: PlatformSettings = serde_json::from_str(r#"{"kind": "fly", "app": "shop"}"#).unwrap();
        assert_eq!(fly.kind(), "fly");
        assert!(serde_json::from_str::<PlatformSettings>(r#"{"kind": "fly", "app": "a", "colour": 1}"#).is_err());
        assert!(serde_json::from_str::<PlatformSettings>(r#"{"kind": "heroku", "app": "a"}"#).is_err());
        let named = |json: &str| match PlatformSettings::from_json(json) {
            Err(Error::Validation { details }) => details[0].field.clone(),
            other => panic!("accepted: {other:?}"),
        };
        assert_eq!(named(r#"{"kind": "render", "service_id": "srv-1", "colour": 1}"#), "settings.colour");
        assert_eq!(named(r#"{"kind": "fly"}"#), "settings.app");
        assert_eq!(named("[]"), "settings");
    }

    #[test]
    fn urls_must_be_https_or_loopback_and_names_are_checked() {
        let bad = PlatformSettings::Fly(FlySettings {
            app: "Shop!".into(),
            region: None,
            api_url: Some("http://example.com".into()),
            logs_url: Some("http://127.0.0.1:9".into()),
        });
        let Err(Error::Validation { details }) = bad.validate() else { panic!("accepted") };
        let fields: Vec<&str> = details.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["settings.api_url", "settings.app"]);
        assert!(validate_platform_name("fly-prod").is_ok());
        assert!(validate_platform_name("local").is_err());
        assert!(validate_platform_name("Fly").is_err());
        assert!(validate_platform_name("").is_err());
    }
}
