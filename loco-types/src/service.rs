//! The service registry: what an admin allows the local platform to run. A rollout plan that
//! comes over the network names a registered service (`release.service`) and may not carry a
//! command, a working directory, or a command or SQLite probe of its own; the engine fills those
//! in from the service's definition. Code embedding Loco in-process may still pass commands.
//!
//! ```
//! use loco_types::service::ServiceDefinition;
//! let shop = ServiceDefinition::from_json(r#"{"name": "shop", "command": ["python3", "app.py"],
//!     "allowed_env": ["FEATURE_FLAGS"]}"#).unwrap();
//! assert_eq!(shop.command[0], "python3");
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, Result};
use crate::lifecycle::NAME_MAX_CHARS;
use crate::plan::{Probe, RolloutPlan, ScriptHooks, ValidationSpec};

/// A service an admin registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceDefinition {
    /// The name plans use (`release.service`).
    pub name: String,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Where it runs; the engine's working directory when absent.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// Environment variables a plan may set for it (`release.env`, `release.secret_env`); any
    /// other key is refused.
    #[serde(default)]
    pub allowed_env: Vec<String>,
    /// Command and SQLite probes run for every instance, besides the plan's own HTTP and TCP
    /// probes.
    #[serde(default)]
    pub probes: Vec<Probe>,
    /// Deployment scripts run for every rollout of the service (a plan from the network may
    /// not carry scripts of its own); a script's `secrets` must be variables of `allowed_env`.
    #[serde(default)]
    pub scripts: ScriptHooks,
    /// Pre-deployment checks and smoke tests for every rollout of the service; a plan's own
    /// `config` and `secrets` checks replace the service's.
    #[serde(default)]
    pub validation: ValidationSpec,
}

impl ServiceDefinition {
    /// Parses and checks a definition; problems name their field.
    pub fn from_json(json: &str) -> Result<Self> {
        let definition: ServiceDefinition = crate::document::parse(json, "", "service")?;
        definition.validate()?;
        Ok(definition)
    }

    /// Checks the name, the command, the env keys and the probes.
    pub fn validate(&self) -> Result<()> {
        let mut details = Vec::new();
        let name_ok = !self.name.is_empty()
            && self.name.chars().count() <= NAME_MAX_CHARS
            && self.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            details.push(FieldError::new("name", "must be 1-256 letters, digits, '-', '_' or '.'"));
        }
        if self.command.first().is_none_or(String::is_empty) || self.command.iter().any(|a| a.contains('\0')) {
            details.push(FieldError::new("command", "needs a program, and no argument may contain NUL"));
        }
        if self.working_dir.as_deref().is_some_and(|d| d.trim().is_empty()) {
            details.push(FieldError::new("working_dir", "must not be blank"));
        }
        for (i, key) in self.allowed_env.iter().enumerate() {
            if !is_env_key(key) || key.starts_with("LOCO_") || key == "PATH" || key == "PORT" {
                details.push(FieldError::new(
                    format!("allowed_env[{i}]"),
                    format!(
                        "'{key}' is not a variable a plan may set (letters, digits and '_'; not PATH, PORT or LOCO_*)"
                    ),
                ));
            }
        }
        for (i, probe) in self.probes.iter().enumerate() {
            details.extend(probe.problems(&format!("probes[{i}]")));
        }
        // A script may ask for any variable a plan may set as a secret.
        let secrets = self.allowed_env.iter().map(|k| (k.clone(), String::new())).collect();
        details.extend(self.scripts.problems(&secrets));
        details.extend(self.validation.problems(&secrets));
        if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
    }
}

fn is_env_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl RolloutPlan {
    /// Refuses what a plan from the network may not carry: a command, a working directory, and
    /// command or SQLite probes (they come from the registered service instead).
    pub fn check_remote(&self) -> Result<()> {
        let mut details = Vec::new();
        let why = "is not accepted over the network; register the service (admin) and name it in release.service";
        if !self.release.command.is_empty() {
            details.push(FieldError::new("release.command", why));
        }
        if self.release.working_dir.is_some() {
            details.push(FieldError::new("release.working_dir", why));
        }
        let runs = "are not accepted over the network: they run programs or read files on the engine's machine \
                    (register them with the service, or run them from an embedding program)";
        if !self.scripts.is_empty() {
            details.push(FieldError::new("scripts", runs));
        }
        if self.validation.artifact.is_some() {
            details.push(FieldError::new("validation.artifact", runs));
        }
        if !self.validation.dependencies.is_empty() {
            details.push(FieldError::new("validation.dependencies", runs));
        }
        if !self.validation.smoke_tests.is_empty() {
            details.push(FieldError::new("validation.smoke_tests", runs));
        }
        for (i, probe) in self.health.probes.iter().enumerate() {
            match probe {
                Probe::Command { .. } | Probe::Sqlite { .. } => {
                    details.push(FieldError::new(format!("health.probes[{i}]"), why));
                }
                Probe::Url { url, .. } if crate::plan::is_private_host(crate::plan::url_host(url)) => {
                    details.push(FieldError::new(
                        format!("health.probes[{i}].url"),
                        "may not name this machine or a private network over the network",
                    ));
                }
                _ => {}
            }
        }
        if details.is_empty() { Ok(()) } else { Err(Error::Validation { details }) }
    }

    /// This plan with its release completed from `service`: the command and working directory,
    /// and the service's probes. Every env key the plan sets must be one the service allows, and
    /// the plan may not also carry a command of its own.
    pub fn with_service(mut self, service: &ServiceDefinition) -> Result<Self> {
        let mut details = Vec::new();
        if !self.release.command.is_empty() {
            details.push(FieldError::new("release.command", "must be absent when release.service names the command"));
        }
        let keys = self
            .release
            .env
            .keys()
            .map(|k| ("release.env", k))
            .chain(self.release.secret_env.keys().map(|k| ("release.secret_env", k)));
        for (field, key) in keys {
            if !service.allowed_env.contains(key) {
                details.push(FieldError::new(
                    format!("{field}.{key}"),
                    format!("is not an environment variable service '{}' allows", service.name),
                ));
            }
        }
        if !details.is_empty() {
            return Err(Error::Validation { details });
        }
        self.release.command.clone_from(&service.command);
        self.release.working_dir.clone_from(&service.working_dir);
        self.health.probes.extend(service.probes.iter().cloned());
        if self.scripts.is_empty() {
            self.scripts.clone_from(&service.scripts);
        }
        let (own, registered) = (&mut self.validation, &service.validation);
        own.artifact = own.artifact.take().or_else(|| registered.artifact.clone());
        own.config = own.config.take().or_else(|| registered.config.clone());
        own.secrets = own.secrets.take().or_else(|| registered.secrets.clone());
        if own.dependencies.is_empty() {
            own.dependencies.clone_from(&registered.dependencies);
        }
        if own.smoke_tests.is_empty() {
            own.smoke_tests.clone_from(&registered.smoke_tests);
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(json: &str) -> RolloutPlan {
        RolloutPlan::from_json(json).unwrap()
    }

    fn fields(result: Result<impl std::fmt::Debug>) -> Vec<String> {
        result.unwrap_err().details().iter().map(|d| d.field.clone()).collect()
    }

    #[test]
    fn a_remote_plan_may_not_carry_commands() {
        let local = plan(
            r#"{"platform": "local", "strategy": {"type": "immediate"}, "release": {"command": ["sh", "-c", "touch pwned"],
                "working_dir": "/tmp"}, "health": {"probes": [{"type": "command", "command": ["true"]},
                {"type": "http", "path": "/"}, {"type": "sqlite", "path": "x.db"}]}}"#,
        );
        assert_eq!(
            fields(local.check_remote()),
            ["release.command", "release.working_dir", "health.probes[0]", "health.probes[2]"]
        );
        let named = plan(r#"{"platform": "local", "strategy": {"type": "immediate"}, "release": {"service": "shop"}}"#);
        assert!(named.check_remote().is_ok());
    }

    #[test]
    fn a_remote_plan_may_probe_public_urls_but_not_this_machine_or_a_private_network() {
        let probing = plan(
            r#"{"platform": "fly", "strategy": {"type": "immediate"}, "release": {"image": "shop:1"},
                "health": {"probes": [{"type": "url", "url": "https://shop.fly.dev/health"},
                {"type": "url", "url": "http://169.254.169.254/latest/meta-data"},
                {"type": "url", "url": "https://localhost:9/"}]}}"#,
        );
        assert_eq!(fields(probing.check_remote()), ["health.probes[1].url", "health.probes[2].url"]);
    }

    #[test]
    fn a_service_completes_the_plan_and_limits_its_env() {
        let shop = ServiceDefinition::from_json(
            r#"{"name": "shop", "command": ["python3", "app.py"], "allowed_env": ["MODE", "API_KEY"],
                "probes": [{"type": "command", "command": ["true"]}]}"#,
        )
        .unwrap();
        let ok = plan(
            r#"{"platform": "local", "strategy": {"type": "immediate"}, "release": {"service": "shop",
                "env": {"MODE": "fast"}, "secret_env": {"API_KEY": "s3cret"}}}"#,
        )
        .with_service(&shop)
        .unwrap();
        assert_eq!((ok.release.command.len(), ok.health.probes.len()), (2, 1));
        let bad = plan(
            r#"{"platform": "local", "strategy": {"type": "immediate"}, "release": {"service": "shop",
                "env": {"LD_PRELOAD": "/tmp/x.so"}, "command": ["sh"]}}"#,
        );
        assert_eq!(fields(bad.with_service(&shop)), ["release.command", "release.env.LD_PRELOAD"]);
    }

    #[test]
    fn definitions_are_checked() {
        let bad = ServiceDefinition::from_json(
            r#"{"name": "a b", "command": [], "working_dir": " ", "allowed_env": ["PATH", "LOCO_MASTER_KEY", "1X", "OK"]}"#,
        );
        assert_eq!(
            fields(bad),
            ["name", "command", "working_dir", "allowed_env[0]", "allowed_env[1]", "allowed_env[2]"]
        );
        assert_eq!(
            fields(ServiceDefinition::from_json(r#"{"name": "x", "command": ["y"], "shell": true}"#)),
            ["shell"]
        );
        let probes = r#"{"name": "x", "command": ["y"], "probes": [{"type": "command", "command": []},
            {"type": "http", "path": "health", "expect_status": 42}]}"#;
        assert_eq!(
            fields(ServiceDefinition::from_json(probes)),
            ["probes[0].command", "probes[1].path", "probes[1].expect_status"]
        );
        assert_eq!(fields(ServiceDefinition::from_json(r#"{"command": ["y"]}"#)), ["name"], "named, not 'service'");
        assert_eq!(fields(ServiceDefinition::from_json(r#"["x", ["y"]]"#)), ["service"], "an object only");
    }
}
