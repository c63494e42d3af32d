//! `loco validate`'s output: the verdict, one row per check, one row per finding (JSON: the
//! report as the API returns it).

use std::fmt::Write as _;

use loco_core::rollout::ValidationReport;

use super::text::{cell, table};
use super::{Output, print_json, print_text};
use crate::cli::exit::CliError;

impl Output {
    /// A validation report.
    pub fn validation(self, report: &ValidationReport) -> Result<(), CliError> {
        if self.json {
            return print_json(report);
        }
        let mut text = format!("validation {}\n\n", if report.passed { "PASSED" } else { "FAILED" });
        let checks: Vec<Vec<String>> = report
            .checks
            .iter()
            .map(|c| {
                vec![
                    c.check.as_str().to_owned(),
                    if c.passed { "passed" } else { "failed" }.to_owned(),
                    c.findings.to_string(),
                    format!("{} ms", c.duration_ms),
                    cell(&c.summary),
                ]
            })
            .collect();
        text.push_str(&table(&["CHECK", "RESULT", "FINDINGS", "TOOK", "WHAT"], &checks));
        if !report.findings.is_empty() {
            let findings: Vec<Vec<String>> = report
                .findings
                .iter()
                .map(|f| {
                    let at = match (&f.file, f.line) {
                        (Some(file), Some(line)) => format!("{file}:{line}"),
                        (Some(file), None) => file.clone(),
                        _ => f.location.clone(),
                    };
                    vec![
                        if f.blocking { "BLOCKS" } else { "note" }.to_owned(),
                        f.severity.as_str().to_owned(),
                        f.rule.clone(),
                        cell(&at),
                        cell(&f.message),
                    ]
                })
                .collect();
            text.push('\n');
            text.push_str(&table(&["", "SEVERITY", "RULE", "WHERE", "MESSAGE"], &findings));
        }
        if report.omitted > 0 {
            let _ = writeln!(text, "… and {} more findings (a report keeps the first 1,000)", report.omitted);
        }
        print_text(&text)
    }
}
