//! The CVSS v3.0/v3.1 base score of a vector string (FIRST.org specification, section 7 and
//! appendix A), and the severity band it falls in.

use loco_types::plan::Severity;

/// The base score (0.0–10.0) of a `CVSS:3.0/…` or `CVSS:3.1/…` vector, or `None` when the vector
/// is another version, misses a base metric, repeats one or has a value the specification
/// does not define. Temporal and environmental metrics may be present; they do not change the
/// base score.
pub(super) fn base_score(vector: &str) -> Option<f64> {
    let metrics = vector.trim().strip_prefix("CVSS:3.1/").or_else(|| vector.trim().strip_prefix("CVSS:3.0/"))?;
    let mut base = [None::<&str>; 8];
    for metric in metrics.split('/') {
        let (key, value) = metric.split_once(':')?;
        if let Some(slot) = BASE_KEYS.iter().position(|k| *k == key) {
            if base[slot].replace(value).is_some() {
                return None;
            }
        } else if !OTHER_KEYS.contains(&key) {
            return None;
        }
    }
    let [av, ac, pr, ui, s, c, i, a] = base;
    let changed = match s? {
        "U" => false,
        "C" => true,
        _ => return None,
    };
    let av = match av? {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        "P" => 0.2,
        _ => return None,
    };
    let ac = match ac? {
        "L" => 0.77,
        "H" => 0.44,
        _ => return None,
    };
    // Privileges weigh more when the scope changes (specification table 16).
    let pr = match (pr?, changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        _ => return None,
    };
    let ui = match ui? {
        "N" => 0.85,
        "R" => 0.62,
        _ => return None,
    };
    let (c, i, a) = (impact(c?)?, impact(i?)?, impact(a?)?);

    let iss = 1.0 - ((1.0 - c) * (1.0 - i) * (1.0 - a));
    let impact = if changed { 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15) } else { 6.42 * iss };
    let exploitability = 8.22 * av * ac * pr * ui;
    if impact <= 0.0 {
        return Some(0.0);
    }
    let raw = if changed { 1.08 * (impact + exploitability) } else { impact + exploitability };
    Some(roundup(raw.min(10.0)))
}

/// The severity band of a base score: 0.1–3.9 low, 4.0–6.9 moderate ("medium"), 7.0–8.9 high,
/// 9.0–10.0 critical; 0.0 ("none") is info.
pub(super) fn severity(score: f64) -> Severity {
    if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Moderate
    } else if score > 0.0 {
        Severity::Low
    } else {
        Severity::Info
    }
}

const BASE_KEYS: [&str; 8] = ["AV", "AC", "PR", "UI", "S", "C", "I", "A"];
const OTHER_KEYS: [&str; 14] = ["E", "RL", "RC", "CR", "IR", "AR", "MAV", "MAC", "MPR", "MUI", "MS", "MC", "MI", "MA"];

fn impact(value: &str) -> Option<f64> {
    match value {
        "H" => Some(0.56),
        "L" => Some(0.22),
        "N" => Some(0.0),
        _ => None,
    }
}

/// The smallest number with one decimal that is at least `value` — appendix A's definition,
/// which works on integers so that floating-point noise (4.000000000000001) does not round
/// up to the next tenth.
fn roundup(value: f64) -> f64 {
    let int_input = (value * 100_000.0).round() as i64;
    if int_input % 10_000 == 0 { int_input as f64 / 100_000.0 } else { ((int_input / 10_000) + 1) as f64 / 10.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors_score_as_the_first_calculator_does() {
        let cases = [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5),
            // RUSTSEC-2017-0004 (base64), a 3.0 vector.
            ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            // RUSTSEC-2020-0071 (time).
            ("CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 6.2),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
            ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
            ("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:C/C:H/I:H/A:H", 9.1),
            ("CVSS:3.1/AV:A/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:L", 6.5),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ];
        for (vector, expected) in cases {
            assert_eq!(base_score(vector), Some(expected), "{vector}");
        }
    }

    #[test]
    fn temporal_metrics_do_not_change_the_base_score() {
        assert_eq!(base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:C"), Some(9.8));
    }

    #[test]
    fn vectors_it_cannot_score_are_none() {
        for vector in [
            "",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            "AV:N/AC:L/Au:N/C:P/I:P/A:P",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:X",
            "CVSS:3.1/AV:N/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A",
        ] {
            assert_eq!(base_score(vector), None, "{vector}");
        }
    }

    #[test]
    #[allow(clippy::float_cmp, reason = "roundup returns exact tenths: n / 10.0 is the literal's double")]
    fn roundup_keeps_exact_tenths_and_raises_the_rest() {
        assert_eq!(roundup(4.0), 4.0);
        assert_eq!(roundup(4.000_000_000_000_001), 4.0);
        assert_eq!(roundup(4.02), 4.1);
        assert_eq!(roundup(9.760_1), 9.8);
    }

    #[test]
    fn scores_fall_in_the_specification_bands() {
        let bands = [
            (0.0, Severity::Info),
            (0.1, Severity::Low),
            (3.9, Severity::Low),
            (4.0, Severity::Moderate),
            (6.9, Severity::Moderate),
            (7.0, Severity::High),
            (8.9, Severity::High),
            (9.0, Severity::Critical),
            (10.0, Severity::Critical),
        ];
        for (score, expected) in bands {
            assert_eq!(severity(score), expected, "{score}");
        }
    }
}
