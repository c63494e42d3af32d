//! The report: one row per measured ratio, rendered as a single markdown table, plus the number
//! formatting every row shares.

use std::fmt::Write as _;
use std::time::Duration;

/// What a row's ratio should be for its target to count as met.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// The ratio must be at least this.
    AtLeast(f64),
    /// The ratio must be at most this.
    AtMost(f64),
    /// The row's raw value (in the target's unit) must be below this; the text shows the unit.
    Below(f64, &'static str),
    /// Reported for information; no target.
    None,
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The row label (`P1` … `P7`).
    pub id: &'static str,
    /// What is measured, in a few words.
    pub measure: String,
    /// Loco's raw number, or why it cannot be measured yet.
    pub loco: String,
    /// The baseline's raw number, measured in the same run.
    pub baseline: String,
    /// Loco relative to the baseline, in the row's direction (see `measure`).
    pub ratio: Option<f64>,
    /// The target for `ratio` (or for `value`, with [`Target::Below`]).
    pub target: Target,
    /// The raw value an absolute target is judged on.
    pub value: Option<f64>,
}

impl Row {
    /// A measured row.
    pub fn measured(
        id: &'static str,
        measure: impl Into<String>,
        loco: String,
        baseline: String,
        ratio: f64,
        target: Target,
    ) -> Self {
        Self { id, measure: measure.into(), loco, baseline, ratio: Some(ratio), target, value: None }
    }

    /// A measured row judged on its raw value against an absolute target.
    pub fn absolute(
        id: &'static str,
        measure: impl Into<String>,
        loco: String,
        baseline: String,
        value: f64,
        target: Target,
    ) -> Self {
        Self { id, measure: measure.into(), loco, baseline, ratio: None, target, value: Some(value) }
    }

    /// A row whose Loco side cannot be measured yet; the baseline may still be.
    pub fn unmeasurable(
        id: &'static str,
        measure: impl Into<String>,
        why: &str,
        baseline: String,
        target: Target,
    ) -> Self {
        Self {
            id,
            measure: measure.into(),
            loco: format!("not yet measurable: {why}"),
            baseline,
            ratio: None,
            target,
            value: None,
        }
    }

    /// `Some(true)` when a target exists and the ratio meets it.
    pub fn met(&self) -> Option<bool> {
        match (self.ratio, self.value, self.target) {
            (Some(r), _, Target::AtLeast(t)) => Some(r >= t),
            (Some(r), _, Target::AtMost(t)) => Some(r <= t),
            (_, Some(v), Target::Below(t, _)) => Some(v < t),
            _ => None,
        }
    }
}

/// Renders `rows` as one markdown table.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| Row | Measure (ratio = Loco ÷ baseline unless stated) | Loco | Baseline (same run) | Ratio | Target | Met |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let ratio = row.ratio.map_or_else(|| "—".to_owned(), |r| format!("{r:.2}×"));
        let target = match row.target {
            Target::AtLeast(t) => format!("≥ {t}×"),
            Target::AtMost(t) => format!("≤ {t}×"),
            Target::Below(_, text) => format!("< {text}"),
            Target::None => "— (report only)".to_owned(),
        };
        let met = match row.met() {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {ratio} | {target} | {met} |",
            row.id, row.measure, row.loco, row.baseline
        );
    }
    out
}

/// `12345.6` → `12,346`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A rate with its unit, e.g. `4,712 tx/s`.
pub fn rate(per_second: f64, unit: &str) -> String {
    format!("{} {unit}", thousands(per_second))
}

/// A latency: `41.3 µs` below 1 ms, `3.16 ms` above.
pub fn micros(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1_234_567.8), "1,234,568");
    }

    #[test]
    fn targets_are_judged_in_their_direction() {
        let row = |ratio, target| Row::measured("P0", "x", String::new(), String::new(), ratio, target);
        assert_eq!(row(0.95, Target::AtLeast(0.9)).met(), Some(true));
        assert_eq!(row(0.85, Target::AtLeast(0.9)).met(), Some(false));
        assert_eq!(row(1.6, Target::AtMost(1.5)).met(), Some(false));
        assert_eq!(row(1.0, Target::None).met(), None);
        assert_eq!(Row::unmeasurable("P4", "x", "later", String::new(), Target::AtMost(1.0)).met(), None);
        let mb = |value| Row::absolute("P4", "x", String::new(), String::new(), value, Target::Below(200.0, "200 MB"));
        assert_eq!(mb(150.0).met(), Some(true));
        assert_eq!(mb(250.0).met(), Some(false));
    }

    #[test]
    fn renders_one_table_with_a_line_per_row() {
        let rows = [Row::measured("P1", "m", "1".into(), "2".into(), 0.5, Target::AtLeast(0.9))];
        let text = render(&rows);
        assert_eq!(text.lines().count(), 3);
        assert!(text.contains("| P1 | m | 1 | 2 | 0.50× | ≥ 0.9× | **no** |"), "{text}");
    }
}
