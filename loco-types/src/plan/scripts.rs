//! Deployment scripts of a plan: what runs before any instance starts (`pre_deploy`), after the
//! new release serves all traffic (`post_deploy`), after a rollback restored the previous release
//! (`on_rollback`) and after a rollout failed (`on_failure`), each a shell, Python or Go program
//! given inline or as a file.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// Longest time limit of one script (one hour).
pub const MAX_SCRIPT_SECONDS: f64 = 3600.0;
/// Scripts per hook at most.
pub const MAX_SCRIPTS_PER_HOOK: usize = 20;

/// The scripts of each hook, run in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptHooks {
    /// Before any instance of the new release starts; a failure ends the rollout with nothing
    /// deployed.
    pub pre_deploy: Vec<ScriptSpec>,
    /// After the new release serves 100 % of traffic, before the rollout succeeds; a failure
    /// rolls back.
    pub post_deploy: Vec<ScriptSpec>,
    /// After a rollback restored the previous release's traffic.
    pub on_rollback: Vec<ScriptSpec>,
    /// After a rollout failed (before its rollback, if any, and after a failed `pre_deploy`).
    pub on_failure: Vec<ScriptSpec>,
}

/// Which hook a script belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Hook {
    /// See [`ScriptHooks::pre_deploy`].
    PreDeploy,
    /// See [`ScriptHooks::post_deploy`].
    PostDeploy,
    /// See [`ScriptHooks::on_rollback`].
    OnRollback,
    /// See [`ScriptHooks::on_failure`].
    OnFailure,
    /// The plan's `validation.smoke_tests`, run after `post_deploy`; a failure rolls back.
    SmokeTest,
}

impl Hook {
    /// Every hook, in the order a rollout may reach them.
    pub const ALL: [Hook; 5] = [Hook::PreDeploy, Hook::PostDeploy, Hook::SmokeTest, Hook::OnFailure, Hook::OnRollback];

    /// The hook's name in plans and events.
    pub fn name(self) -> &'static str {
        match self {
            Hook::PreDeploy => "pre_deploy",
            Hook::PostDeploy => "post_deploy",
            Hook::OnRollback => "on_rollback",
            Hook::OnFailure => "on_failure",
            Hook::SmokeTest => "smoke_test",
        }
    }
}

/// The language a script is written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScriptLanguage {
    /// `sh` (POSIX shell).
    #[default]
    Shell,
    /// `python3`.
    Python,
    /// `go run` (needs a Go toolchain on `PATH`).
    Go,
}

/// One script: a program, inline or in a file, with its environment and time limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptSpec {
    /// A name for events and logs, unique within its hook.
    pub name: String,
    /// The language (default `shell`).
    #[serde(default)]
    pub language: ScriptLanguage,
    /// The program's text; exactly one of `inline` and `file` is given.
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub inline: Option<String>,
    /// Path of the program's file (relative to `working_dir`); exactly one of `inline` and
    /// `file` is given.
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub file: Option<String>,
    /// The directory the script runs in (the engine's when absent).
    #[serde(default)]
    #[schemars(with = "crate::schema::Nullable<String>")]
    pub working_dir: Option<String>,
    /// Time limit (default 300 s); the whole process group is stopped when it passes.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: f64,
    /// Whether a failure lets the rollout go on (default false).
    #[serde(default)]
    pub continue_on_error: bool,
    /// Environment variables besides Loco's `LOCO_*` ones and `PATH`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Names of `release.secret_env` variables to pass, revealed only to the script's process
    /// and redacted from its output.
    #[serde(default)]
    pub secrets: Vec<String>,
}

fn default_timeout() -> f64 {
    300.0
}

/// The variables Loco sets for every script (seed 000 §5.2), plus `PATH`.
pub const LOCO_SCRIPT_ENV: [&str; 12] = [
    "LOCO_PLATFORM",
    "LOCO_DEPLOYMENT_ID",
    "LOCO_STAGE",
    "LOCO_STRATEGY",
    "LOCO_BUILD_ID",
    "LOCO_COMMIT_SHA",
    "LOCO_BRANCH",
    "LOCO_BUILD_ARTIFACTS",
    "LOCO_APP_URL",
    "LOCO_APP_NAME",
    "LOCO_DEPLOYED_BY",
    "LOCO_WORKSPACE_ID",
];

impl ScriptHooks {
    /// The scripts of `hook` (none for `smoke_test`: smoke tests are part of the plan's
    /// validation, see [`RolloutPlan::scripts_of`](super::RolloutPlan::scripts_of)).
    pub fn of(&self, hook: Hook) -> &[ScriptSpec] {
        match hook {
            Hook::PreDeploy => &self.pre_deploy,
            Hook::PostDeploy => &self.post_deploy,
            Hook::OnRollback => &self.on_rollback,
            Hook::OnFailure => &self.on_failure,
            Hook::SmokeTest => &[],
        }
    }

    /// Whether no hook has a script.
    pub fn is_empty(&self) -> bool {
        Hook::ALL.iter().all(|h| self.of(*h).is_empty())
    }

    /// Every broken rule, each named under `scripts.<hook>[i]`; `secret_env` is the release's.
    pub fn problems(&self, secret_env: &BTreeMap<String, String>) -> Vec<FieldError> {
        let mut problems = Vec::new();
        for hook in Hook::ALL {
            let scripts = self.of(hook);
            if scripts.len() > MAX_SCRIPTS_PER_HOOK {
                problems.push(FieldError::new(
                    format!("scripts.{}", hook.name()),
                    format!("has {} scripts; at most {MAX_SCRIPTS_PER_HOOK}", scripts.len()),
                ));
            }
            for (i, script) in scripts.iter().enumerate() {
                let field = format!("scripts.{}[{i}]", hook.name());
                if scripts[..i].iter().any(|s| s.name == script.name) {
                    problems.push(FieldError::new(format!("{field}.name"), "is used twice in this hook"));
                }
                problems.extend(script.problems(&field, secret_env));
            }
        }
        problems
    }
}

impl ScriptSpec {
    pub(crate) fn problems(&self, field: &str, secret_env: &BTreeMap<String, String>) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let mut bad = |name: &str, why: String| problems.push(FieldError::new(format!("{field}.{name}"), why));
        if self.name.trim().is_empty() || self.name.len() > 100 {
            bad("name", "must be 1 to 100 characters".to_owned());
        }
        match (&self.inline, &self.file) {
            (Some(_), Some(_)) | (None, None) => bad("inline", "give exactly one of inline and file".to_owned()),
            (Some(text), None) if text.trim().is_empty() => bad("inline", "must not be empty".to_owned()),
            (None, Some(path)) if path.trim().is_empty() => bad("file", "must not be empty".to_owned()),
            _ => {}
        }
        if !(self.timeout_seconds > 0.0 && self.timeout_seconds <= MAX_SCRIPT_SECONDS) {
            bad("timeout_seconds", format!("must be greater than 0 and at most {MAX_SCRIPT_SECONDS}"));
        }
        for key in self.env.keys() {
            if !is_env_name(key) {
                bad(&format!("env.{key}"), "must be a variable name ([A-Za-z_][A-Za-z0-9_]*)".to_owned());
            } else if key == "PATH" || key.starts_with("LOCO_") {
                bad(&format!("env.{key}"), "is set by Loco".to_owned());
            }
        }
        for name in &self.secrets {
            if !secret_env.contains_key(name) {
                bad("secrets", format!("'{name}' is not a key of release.secret_env"));
            } else if self.env.contains_key(name) {
                bad("secrets", format!("'{name}' is also in env"));
            }
        }
        problems
    }
}

/// Whether `name` is a portable environment variable name.
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
