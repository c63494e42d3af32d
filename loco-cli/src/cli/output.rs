//! How CLI results are shown: aligned tables and key/value blocks for people, or the HTTP API's
//! exact JSON with `--json`; errors go to stderr in the same two styles.

use std::fmt::Write as _;
use std::io::{self, Write};

use serde::Serialize;

use crate::cli::exit::CliError;
use crate::wire::{AuditReport, Deployment, DeploymentPage, Event, EventList};

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
            ("status", d.status.to_string()),
            ("requester", cell(&d.requester)),
            ("work refs", d.work_refs.iter().map(|w| cell(w)).collect::<Vec<_>>().join(", ")),
            ("rollback plan", cell(&d.rollback_plan)),
            ("risk", d.risk.as_deref().map_or_else(|| "-".to_owned(), cell)),
            ("reviewed", review),
            ("created at", d.created_at.clone()),
            ("updated at", d.updated_at.clone()),
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
                    d.created_at.clone(),
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
                    e.at.clone(),
                    e.kind.clone(),
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
        match &report.first_broken {
            None => {
                let _ = writeln!(text, "head hash      {}", report.head_hash.as_deref().unwrap_or("-"));
                text.push_str("audit chain    valid\n");
            }
            Some(b) => {
                let _ = writeln!(text, "audit chain    BROKEN at event #{} ({})", b.seq, b.event_id);
                let _ = writeln!(text, "deployment     {}", b.deployment_id);
                let _ = writeln!(text, "reason         {}", b.reason);
            }
        }
        print_text(&text)
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
        let mut text = format!("error: {} ({})\n", e.message, e.code);
        for d in &e.details {
            let _ = writeln!(text, "  - {}: {}", d.field, d.message);
        }
        eprint!("{text}");
    }
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

/// A value safe for one table cell: control characters (newlines, tabs, escapes) are shown
/// escaped so user text cannot break the layout or drive the terminal.
fn cell(value: &str) -> String {
    value.chars().fold(String::with_capacity(value.len()), |mut out, c| {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        out
    })
}

/// Left-aligned columns separated by two spaces.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, value) in widths.iter_mut().zip(row) {
            *w = (*w).max(value.chars().count());
        }
    }
    let mut text = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, value) in cells.enumerate() {
            if i + 1 == widths.len() {
                l.push_str(value);
            } else {
                let pad = widths[i].saturating_sub(value.chars().count());
                l.push_str(value);
                l.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        text.push_str(l.trim_end());
        text.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(&["A", "BB"], &[vec!["xyz".into(), "1".into()], vec!["é".into(), "22".into()]]);
        assert_eq!(t, "A    BB\nxyz  1\né    22\n");
    }

    #[test]
    fn control_characters_are_escaped_in_cells() {
        assert_eq!(cell("a\nb\t\u{1b}[31m"), "a\\nb\\t\\u{1b}[31m");
        assert_eq!(cell("支付 🚀"), "支付 🚀");
    }
}
