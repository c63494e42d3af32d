//! How CLI results are shown: aligned tables and key/value blocks for people, or the HTTP API's
//! exact JSON with `--json`; errors go to stderr in the same two styles.

use std::fmt::Write as _;
use std::io::{self, Write};

use loco_core::analysis::Judgement;
use loco_core::rollout::{RolloutPlan, Strategy};
use serde::Serialize;

use crate::cli::exit::CliError;

mod text;
mod validation;

use crate::wire::{
    AuditHead, AuditReport, Deployment, DeploymentPage, Event, EventList, LogLine, ReleaseList, Rollout, RolloutList,
    TokenList,
};
use text::{cell, table};

/// The chosen output style.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Print JSON (the HTTP API's shapes) instead of text.
    pub json: bool,
}

impl Output {
    /// One deployment.
    pub fn deployment(self, d: &Deployment) -> Result<(), CliError> {
        if self.json {
            return print_json(d);
        }
        let review = match (&d.reviewed_by, &d.reviewed_at) {
            (Some(by), Some(at)) => format!("{} at {at}", cell(by)),
            _ => "-".to_owned(),
        };
        let rows = [
            ("id", d.id.clone()),
            ("service", cell(&d.service)),
            ("environment", cell(&d.environment)),
            ("version", cell(&d.version)),
            ("commit", d.commit.as_deref().map_or_else(|| "-".to_owned(), cell)),
            ("status", d.status.to_string()),
            ("requester", cell(&d.requester)),
            ("work refs", d.work_refs.iter().map(|w| cell(w)).collect::<Vec<_>>().join(", ")),
            ("rollback plan", cell(&d.rollback_plan)),
            ("risk", d.risk.as_deref().map_or_else(|| "-".to_owned(), cell)),
            ("reviewed", review),
            ("created at", d.created_at.to_string()),
            ("updated at", d.updated_at.to_string()),
        ];
        let mut text = String::new();
        for (key, value) in rows {
            let _ = writeln!(text, "{key:<14} {value}");
        }
        print_text(&text)
    }

    /// One page of deployments, and on stderr how to get the next one.
    pub fn page(self, page: &DeploymentPage) -> Result<(), CliError> {
        if self.json {
            return print_json(page);
        }
        let rows: Vec<Vec<String>> = page
            .items
            .iter()
            .map(|d| {
                vec![
                    d.id.clone(),
                    cell(&d.service),
                    cell(&d.environment),
                    cell(&d.version),
                    d.status.to_string(),
                    cell(&d.requester),
                    d.created_at.to_string(),
                ]
            })
            .collect();
        print_text(&table(&["ID", "SERVICE", "ENVIRONMENT", "VERSION", "STATUS", "REQUESTER", "CREATED"], &rows))?;
        if let Some(cursor) = &page.next_cursor {
            eprintln!("more deployments: add --cursor {cursor} (or use --all)");
        }
        Ok(())
    }

    /// A deployment's events, oldest first.
    pub fn events(self, events: Vec<Event>) -> Result<(), CliError> {
        if self.json {
            return print_json(&EventList { items: events });
        }
        let status = |s: Option<loco_core::Status>| s.map_or_else(|| "-".to_owned(), |s| s.to_string());
        let rows: Vec<Vec<String>> = events
            .iter()
            .map(|e| {
                vec![
                    e.seq.to_string(),
                    e.at.to_string(),
                    e.kind.to_string(),
                    cell(&e.actor),
                    status(e.from_status),
                    status(e.to_status),
                    e.note.as_deref().map_or_else(|| "-".to_owned(), cell),
                ]
            })
            .collect();
        print_text(&table(&["SEQ", "AT", "KIND", "ACTOR", "FROM", "TO", "NOTE"], &rows))
    }

    /// One event as a single line (JSON: one object per line), for following a stream.
    pub fn event_line(self, e: &Event) -> Result<(), CliError> {
        if self.json {
            let line = serde_json::to_string(e).map_err(|err| CliError::Internal(err.to_string()))?;
            return print_text(&(line + "\n"));
        }
        let status = |s: Option<loco_core::Status>| s.map_or_else(|| "-".to_owned(), |s| s.to_string());
        let note = e.note.as_deref().map_or_else(String::new, |n| format!("  {}", cell(n)));
        print_text(&format!(
            "{:<6} {}  {:<12} {:<20} {} -> {}{note}\n",
            e.seq,
            e.at,
            e.kind,
            cell(&e.actor),
            status(e.from_status),
            status(e.to_status)
        ))
    }

    /// An audit report; a broken chain is then reported as [`CliError::AuditBroken`] by the caller.
    pub fn audit(self, report: &AuditReport) -> Result<(), CliError> {
        if self.json {
            return print_json(report);
        }
        let mut text = format!("events checked {}\n", report.events_checked);
        let _ = write!(text, "deployments    {} compared with their history", report.deployments_checked);
        if report.deployments_status_only > 0 {
            let _ =
                write!(text, " ({} on status only: history from before full records)", report.deployments_status_only);
        }
        text.push('\n');
        match &report.first_broken {
            None => {
                let _ = writeln!(text, "head hash      {}", report.head_hash.as_deref().unwrap_or("-"));
                if let Some(seq) = report.exported_head_seq {
                    let _ = writeln!(text, "exported head  #{seq} found");
                }
                text.push_str("audit chain    valid\n");
            }
            Some(b) => {
                let _ = writeln!(text, "audit chain    BROKEN at event #{} ({})", b.seq, or_dash(&b.event_id));
                let _ = writeln!(text, "deployment     {}", or_dash(&b.deployment_id));
                if let Some(field) = &b.field {
                    let _ = writeln!(text, "field          {field}");
                }
                let _ = writeln!(text, "reason         {}", cell(&b.reason));
            }
        }
        print_text(&text)
    }

    /// The audit chain's head: a key/value block (JSON: the head to keep for `verify --head`).
    pub fn audit_head(self, head: &AuditHead) -> Result<(), CliError> {
        if self.json {
            return print_json(head);
        }
        let rows = [
            ("seq", head.seq.to_string()),
            ("hash", if head.hash.is_empty() { "-".to_owned() } else { head.hash.clone() }),
            ("hmac", head.hmac.clone().unwrap_or_else(|| "- (LOCO_AUDIT_KEY is not set)".to_owned())),
            ("at", head.at.map_or_else(|| "-".to_owned(), |t| t.to_string())),
        ];
        let mut text = String::new();
        for (key, value) in rows {
            let _ = writeln!(text, "{key:<5} {value}");
        }
        print_text(&text)
    }

    /// One rollout: a key/value block with its progress, instances, analysis and failure.
    pub fn rollout(self, r: &Rollout) -> Result<(), CliError> {
        if self.json {
            return print_json(r);
        }
        let p = &r.progress;
        let mut rows = vec![
            ("deployment", r.deployment_id.clone()),
            ("service", cell(&r.service)),
            ("environment", cell(&r.environment)),
            ("version", cell(&r.plan.release.version)),
            ("platform", cell(&r.platform)),
            ("strategy", strategy(&r.plan)),
            ("state", r.state.to_string()),
            ("step", format!("{}/{} {}", p.completed_steps, p.total_steps, cell(&p.step))),
            ("traffic", traffic(r)),
            ("endpoint", p.endpoint.as_deref().map_or_else(|| "-".to_owned(), cell)),
        ];
        match &p.analysis {
            None => rows.push(("analysis", "-".to_owned())),
            Some(judgement) => {
                rows.push(("analysis", verdict(judgement)));
                for reason in &judgement.reasons {
                    rows.push(("", format!("- {}", cell(reason))));
                }
            }
        }
        for (i, instance) in p.instances.iter().enumerate() {
            let pid = instance.pid.map_or_else(String::new, |pid| format!(" pid {pid}"));
            let address = instance.address.as_deref().map_or_else(String::new, |a| format!(" {}", cell(a)));
            let line =
                format!("{} {} {}{address}{pid}", instance.id, cell(&instance.version), json_name(&instance.state));
            rows.push((if i == 0 { "instances" } else { "" }, line));
        }
        let previous = r
            .previous
            .as_ref()
            .map_or_else(|| "-".to_owned(), |p| format!("{} ({})", cell(&p.version), p.deployment_id));
        rows.push(("previous", previous));
        if let Some(f) = &r.failure {
            let step = f.step.map_or_else(String::new, |s| format!(" at step {s}"));
            rows.push(("failure", format!("{}{step}: {}", f.code, cell(&f.message))));
        }
        rows.push(("started by", cell(&r.actor)));
        rows.push(("started at", r.started_at.to_string()));
        rows.push(("finished at", r.finished_at.map_or_else(|| "-".to_owned(), |t| t.to_string())));
        let mut text = String::new();
        for (key, value) in rows {
            let _ = writeln!(text, "{key:<12} {value}");
        }
        print_text(&text)
    }

    /// One line saying where a watched rollout is (JSON: the whole rollout on one line).
    pub fn progress_line(self, r: &Rollout) -> Result<(), CliError> {
        if self.json {
            let line = serde_json::to_string(r).map_err(|err| CliError::Internal(err.to_string()))?;
            return print_text(&(line + "\n"));
        }
        print_text(&(progress(r) + "\n"))
    }

    /// Rollouts as a table.
    pub fn rollouts(self, list: &RolloutList) -> Result<(), CliError> {
        if self.json {
            return print_json(list);
        }
        let rows: Vec<Vec<String>> = list
            .items
            .iter()
            .map(|r| {
                vec![
                    r.deployment_id.clone(),
                    cell(&r.service),
                    cell(&r.environment),
                    cell(&r.plan.release.version),
                    r.plan.strategy.name().to_owned(),
                    r.state.to_string(),
                    format!("{}/{}", r.progress.completed_steps, r.progress.total_steps),
                    r.started_at.to_string(),
                ]
            })
            .collect();
        print_text(&table(
            &["DEPLOYMENT", "SERVICE", "ENVIRONMENT", "VERSION", "STRATEGY", "STATE", "STEPS", "STARTED"],
            &rows,
        ))
    }

    /// Releases as a table, newest first.
    pub fn releases(self, list: &ReleaseList) -> Result<(), CliError> {
        if self.json {
            return print_json(list);
        }
        let rows: Vec<Vec<String>> = list
            .items
            .iter()
            .map(|r| {
                vec![
                    cell(&r.version),
                    r.deployment_id.clone(),
                    cell(&r.platform),
                    r.instances.len().to_string(),
                    r.activated_at.to_string(),
                    r.retired_at.map_or_else(|| "-".to_owned(), |t| t.to_string()),
                ]
            })
            .collect();
        print_text(&table(&["VERSION", "DEPLOYMENT", "PLATFORM", "INSTANCES", "ACTIVATED", "RETIRED"], &rows))
    }

    /// One line of instance output (JSON: one object per line).
    pub fn log_line(self, l: &LogLine) -> Result<(), CliError> {
        if self.json {
            let line = serde_json::to_string(l).map_err(|err| CliError::Internal(err.to_string()))?;
            return print_text(&(line + "\n"));
        }
        print_text(&format!("{:<6} {}\n", json_name(&l.stream), cell(&l.line)))
    }

    /// Deploy locks as a table (JSON: the API's list).
    pub fn locks(self, list: &crate::wire::LockList) -> Result<(), CliError> {
        if self.json {
            return print_json(list);
        }
        let rows: Vec<Vec<String>> = list
            .items
            .iter()
            .map(|l| {
                vec![
                    cell(&l.service),
                    cell(&l.environment),
                    l.deployment_id.clone(),
                    cell(&l.holder),
                    l.since.to_string(),
                ]
            })
            .collect();
        print_text(&table(&["SERVICE", "ENVIRONMENT", "DEPLOYMENT", "HOLDER", "SINCE"], &rows))
    }

    /// Any JSON-shaped result: pretty JSON (there is no table for it).
    pub fn value<T: Serialize>(self, value: &T) -> Result<(), CliError> {
        print_json(value)
    }

    /// One plain line of text.
    pub fn line(self, text: &str) -> Result<(), CliError> {
        print_text(&format!("{}\n", cell(text)))
    }

    /// API tokens as a table (JSON: the API's list).
    pub fn tokens(self, list: &TokenList) -> Result<(), CliError> {
        if self.json {
            return print_json(list);
        }
        let rows: Vec<Vec<String>> = list
            .items
            .iter()
            .map(|t| {
                let grants: Vec<String> = t.grants.iter().map(ToString::to_string).collect();
                let state = match (t.revoked_at, t.expires_at) {
                    (Some(_), _) => "revoked".to_owned(),
                    (None, Some(at)) if at <= loco_core::Timestamp::now() => "expired".to_owned(),
                    (None, Some(at)) => format!("expires {at}"),
                    (None, None) => "valid".to_owned(),
                };
                vec![t.id.clone(), cell(&t.name), cell(&t.subject), grants.join(","), state]
            })
            .collect();
        print_text(&table(&["ID", "NAME", "SUBJECT", "GRANTS", "STATE"], &rows))
    }

    /// Reports a failure on stderr.
    pub fn error(self, error: &CliError) {
        if matches!(error, CliError::AuditBroken) {
            // The report itself was printed on stdout already.
            return;
        }
        let body = error.body();
        if self.json {
            eprintln!("{}", serde_json::to_string(&body).unwrap_or_default());
            return;
        }
        let e = &body.error;
        // A validation error's details follow one per line; its message would repeat them all.
        let message = if e.code == "validation_error" && e.details.len() > 1 {
            format!("invalid input: {} problems", e.details.len())
        } else {
            e.message.clone()
        };
        let mut text = format!("error: {message} ({})\n", e.code);
        for d in &e.details {
            let _ = writeln!(text, "  - {d}");
        }
        eprint!("{text}");
    }
}

/// Where a rollout is, in one line: state, step k/n, traffic split, latest analysis verdict.
pub fn progress(r: &Rollout) -> String {
    let p = &r.progress;
    let mut line =
        format!("{:<13} step {}/{} {} | {}", r.state, p.completed_steps, p.total_steps, cell(&p.step), traffic(r));
    if let Some(judgement) = &p.analysis {
        let _ = write!(line, " | analysis {}", verdict(judgement));
    }
    if let Some(f) = &r.failure {
        let _ = write!(line, " | {}", f.code);
    }
    line
}

fn traffic(r: &Rollout) -> String {
    if r.progress.traffic.is_empty() {
        return "-".to_owned();
    }
    r.progress.traffic.iter().map(|w| format!("{} {}%", cell(&w.version), w.percent)).collect::<Vec<_>>().join(" / ")
}

/// `pass`, `inconclusive`, `fail (critical)`.
fn verdict(judgement: &Judgement) -> String {
    let verdict = json_name(&judgement.verdict);
    match &judgement.severity {
        Some(severity) => format!("{verdict} ({})", json_name(severity)),
        None => verdict,
    }
}

/// `canary 10% → 50%, 60.0s per step, 2 instance(s), with analysis`.
fn strategy(plan: &RolloutPlan) -> String {
    let mut text = match &plan.strategy {
        Strategy::Canary { steps, interval_seconds } => {
            let steps: Vec<String> = steps.iter().map(|p| format!("{p}%")).collect();
            format!("canary {}, {}s per step", steps.join(" → "), seconds(*interval_seconds))
        }
        Strategy::Rolling { max_surge, max_unavailable } => {
            format!("rolling, max surge {max_surge}, max unavailable {max_unavailable}")
        }
        Strategy::BlueGreen { switch_delay_seconds } => {
            format!("blue_green, switch after {}s", seconds(*switch_delay_seconds))
        }
        Strategy::Immediate {} => plan.strategy.name().to_owned(),
    };
    let _ = write!(text, ", {} instance(s)", plan.instances);
    if plan.analysis.is_some() {
        text.push_str(", with analysis");
    }
    text
}

/// Seconds as the plan's JSON writes them (`60.0`).
fn seconds(value: f64) -> String {
    serde_json::Value::from(value).to_string()
}

/// The JSON name of a core enum value (`running`, `stdout`).
fn json_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// A cell, or `-` for an empty value.
fn or_dash(value: &str) -> String {
    if value.is_empty() { "-".to_owned() } else { cell(value) }
}

fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Internal(e.to_string()))?;
    print_text(&(text + "\n"))
}

fn print_text(text: &str) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A closed pipe (`loco ls | head`) is the reader's choice, not our failure.
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(CliError::Internal(format!("cannot write output: {e}"))),
        _ => Ok(()),
    }
}
