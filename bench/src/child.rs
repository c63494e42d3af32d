//! Child processes with a time limit: the Python and Node bench scripts, which report their
//! measurements as `RESULT key=value …` lines, or exit with [`UNAVAILABLE`] when what they
//! measure (a Loco binding) is not built yet.

use std::collections::HashMap;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Result;

/// The exit code a bench script uses to say "the thing I measure is not available yet".
pub const UNAVAILABLE: i32 = 3;

/// What a bench script reported.
#[derive(Debug)]
pub enum Outcome {
    /// One map per `RESULT` line.
    Results(Vec<HashMap<String, String>>),
    /// The script could not find what it measures; the text says what is missing.
    Unavailable(String),
}

/// Kills and reaps the child when dropped, so no process outlives the benchmark.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Runs `cmd` to completion within `limit`; a non-zero exit other than [`UNAVAILABLE`], or
/// running out of time, is an error that carries the script's stderr.
pub fn run_script(cmd: &mut Command, limit: Duration) -> Result<Outcome> {
    let what = format!("{cmd:?}");
    let mut guard = Guard(cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?);
    let mut stdout = guard.0.stdout.take().ok_or("no stdout")?;
    let mut stderr = guard.0.stderr.take().ok_or("no stderr")?;
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = guard.0.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            return Err(format!("{what} did not finish within {} s", limit.as_secs()).into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    match status.code() {
        Some(0) => Ok(Outcome::Results(parse_results(&stdout))),
        Some(UNAVAILABLE) => {
            Ok(Outcome::Unavailable(stdout.trim().trim_start_matches("UNAVAILABLE:").trim().to_owned()))
        }
        _ => Err(format!("{what} failed ({status}):\n{stdout}{stderr}").into()),
    }
}

/// Parses `RESULT a=1 b=two` lines.
pub fn parse_results(stdout: &str) -> Vec<HashMap<String, String>> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// The `seconds` field of a result as a number.
pub fn seconds(result: &HashMap<String, String>) -> Result<f64> {
    result
        .get("seconds")
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| format!("result line without a numeric seconds= field: {result:?}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_become_maps() {
        let r = parse_results("noise\nRESULT impl=peer lifecycles=10 seconds=0.5\n");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0]["impl"], "peer");
        assert!((seconds(&r[0]).unwrap() - 0.5).abs() < f64::EPSILON);
    }

    #[test]
    fn a_script_that_runs_too_long_is_killed() {
        let err = run_script(Command::new("sleep").arg("5"), Duration::from_millis(100)).unwrap_err();
        assert!(err.to_string().contains("did not finish"), "{err}");
    }

    #[test]
    fn exit_code_3_means_unavailable() {
        let outcome =
            run_script(Command::new("sh").args(["-c", "echo 'UNAVAILABLE: no loco'; exit 3"]), Duration::from_secs(5))
                .unwrap();
        assert!(matches!(outcome, Outcome::Unavailable(why) if why == "no loco"));
    }
}
