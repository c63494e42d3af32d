//! P9: what Loco's script runner adds to running a program: `sh -c true` through
//! `loco_platform::scripts::run` (clean environment, process group, captured and redacted output,
//! time limit, the group stopped afterwards) against spawning the same command directly with tokio.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Instant;

use loco_core::platform::scripts::{self, ScriptLog};
use loco_core::rollout::{ScriptLanguage, ScriptSpec};
use tokio::runtime::Runtime;

use crate::stats::Latencies;
use crate::table::{Row, Target, micros};
use crate::{Result, on_runtime};

/// P9 results.
pub struct Scripts {
    /// The P9 row.
    pub rows: Vec<Row>,
    /// How it was run.
    pub note: String,
}

/// Runs `count` scripts each way, interleaved.
pub fn run(runtime: &Runtime, count: usize) -> Result<Scripts> {
    let (mut through_loco, mut direct) = on_runtime(runtime, async move {
        let spec = ScriptSpec {
            name: "noop".to_owned(),
            language: ScriptLanguage::Shell,
            inline: Some("echo ok".to_owned()),
            file: None,
            working_dir: None,
            timeout_seconds: 30.0,
            continue_on_error: false,
            env: BTreeMap::new(),
            secrets: Vec::new(),
        };
        let env: BTreeMap<String, String> = [("LOCO_DEPLOYMENT_ID".to_owned(), "dep_bench".to_owned())].into();
        let secrets: BTreeMap<String, String> = [("TOKEN".to_owned(), "s3cr3t".to_owned())].into();
        let (mut loco, mut plain) = (Latencies::with_capacity(count), Latencies::with_capacity(count));
        for _ in 0..count {
            let started = Instant::now();
            let outcome = scripts::run(&spec, &env, &secrets, &ScriptLog::new("script:pre_deploy:noop")).await;
            loco.push(started.elapsed());
            if !outcome.ok() {
                return Err(format!("the script failed: {}", outcome.describe()));
            }
            let started = Instant::now();
            let output = tokio::process::Command::new("sh")
                .args(["-c", "echo ok"])
                .stdin(Stdio::null())
                .output()
                .await
                .map_err(|e| e.to_string())?;
            plain.push(started.elapsed());
            if !output.status.success() {
                return Err("sh -c failed".to_owned());
            }
        }
        Ok((loco, plain))
    })??;
    let (loco, plain) = (through_loco.percentile(50.0), direct.percentile(50.0));
    let rows = vec![Row::measured(
        "P9",
        "one script (`sh -c 'echo ok'`) through Loco's runner vs spawned directly (time ratio, medians)",
        micros(loco),
        micros(plain),
        loco.as_secs_f64() / plain.as_secs_f64(),
        Target::AtMost(1.5),
    )];
    let note = format!(
        "P9: {count} runs each way, interleaved. Loco's runner clears the environment, starts a process group, \
         reads stdout and stderr line by line into the script's log (redacting one secret), waits under a time \
         limit and stops the group afterwards; the baseline is `tokio::process::Command::output()` of the same \
         command."
    );
    Ok(Scripts { rows, note })
}
