//! P3: read latency through [`Engine`] against raw prepared queries on the same file —
//! get-by-id at 100 K rows, and a service+environment keyset page of 50 at 1 M rows — as p50/p99
//! over interleaved blocks of uniformly drawn samples.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use loco_core::{Engine, ListQuery};
use tokio::runtime::Runtime;

use crate::raw::RawReader;
use crate::stats::{Latencies, Rng};
use crate::table::{Row, Target, micros, thousands};
use crate::{Result, on_runtime, seed};

/// Page size of the list query.
const PAGE: u32 = 50;
/// Service+environment pairs whose pages are sampled.
const LIST_COMBOS: usize = 16;
/// Samples per side are taken in this many alternating blocks, so drift hits both sides.
const BLOCKS: usize = 10;

/// How much P3 reads.
#[derive(Debug, Clone, Copy)]
pub struct ReadsScale {
    /// Rows in the get-by-id file.
    pub get_rows: usize,
    /// Rows in the list file.
    pub list_rows: usize,
    /// Timed get samples per side.
    pub get_samples: usize,
    /// Timed list samples per side.
    pub list_samples: usize,
}

/// P3 results.
pub struct Reads {
    /// The P3 rows.
    pub rows: Vec<Row>,
    /// How the files were populated.
    pub note: String,
}

/// Runs P3 in `dir`.
pub fn run(runtime: &Runtime, dir: &Path, scale: ReadsScale) -> Result<Reads> {
    let get_path = dir.join("reads-get.db");
    seed::create_schema(runtime, &get_path)?;
    let populated = seed::populate(&get_path, scale.get_rows)?;
    let mut note = format!(
        "P3 files: the engine created its schema, then rows were bulk-inserted in 50,000-row transactions \
         (`synchronous=OFF` while populating only, then checkpointed): {} rows in {:.1} s",
        thousands(scale.get_rows as f64),
        populated.elapsed.as_secs_f64()
    );
    eprintln!("  P3 get-by-id at {} rows", thousands(scale.get_rows as f64));
    let (mut engine_get, mut raw_get) = gets(runtime, &get_path, &populated.ids, scale.get_samples)?;
    drop(populated);

    let list_path = if scale.list_rows == scale.get_rows {
        get_path
    } else {
        let path = dir.join("reads-list.db");
        seed::create_schema(runtime, &path)?;
        let populated = seed::populate(&path, scale.list_rows)?;
        let _ =
            write!(note, "; {} rows in {:.1} s", thousands(scale.list_rows as f64), populated.elapsed.as_secs_f64());
        path
    };
    let _ = write!(
        note,
        ". Rows cycle through {} services × {} environments, so a service+environment list skips through the index.",
        seed::SERVICES,
        seed::ENVIRONMENTS.len()
    );
    eprintln!("  P3 list at {} rows", thousands(scale.list_rows as f64));
    let (mut engine_list, mut raw_list) = lists(runtime, &list_path, scale.list_samples)?;

    let get_rows = thousands(scale.get_rows as f64);
    let list_rows = thousands(scale.list_rows as f64);
    let gets_n = thousands(engine_get.len() as f64);
    let lists_n = thousands(engine_list.len() as f64);
    let mut rows = Vec::new();
    for (p, label) in [(50.0, "p50"), (99.0, "p99")] {
        let (e, r) = (engine_get.percentile(p), raw_get.percentile(p));
        rows.push(Row::measured(
            "P3",
            format!(
                "get-by-id {label} at {get_rows} rows, `Engine::get` vs raw prepared point read of the same \
                 columns; {gets_n} random ids per side"
            ),
            micros(e),
            micros(r),
            ratio(e, r),
            Target::AtMost(1.5),
        ));
    }
    for (p, label, target) in [(50.0, "p50", Target::None), (99.0, "p99", Target::AtMost(1.5))] {
        let (e, r) = (engine_list.percentile(p), raw_list.percentile(p));
        let under_1ms = if e < Duration::from_millis(1) { "under 1 ms" } else { "**over 1 ms**" };
        rows.push(Row::measured(
            "P3",
            format!(
                "list {label}: service+environment, {PAGE} per page, keyset pages, at {list_rows} rows, \
                 `Engine::list` vs the same raw query; {lists_n} random pages of {LIST_COMBOS} pairs per side"
            ),
            format!("{} ({under_1ms})", micros(e)),
            micros(r),
            ratio(e, r),
            target,
        ));
    }
    Ok(Reads { rows, note })
}

fn ratio(loco: Duration, baseline: Duration) -> f64 {
    loco.as_secs_f64() / baseline.as_secs_f64().max(1e-9)
}

/// Get-by-id latencies: (engine, raw).
fn gets(runtime: &Runtime, path: &Path, ids: &[String], samples: usize) -> Result<(Latencies, Latencies)> {
    let engine = runtime.block_on(Engine::open(path))?;
    let raw = RawReader::open(path)?;
    let mut rng = Rng::new(0x9e7);
    let mut pick = |n: usize| (0..n).map(|_| ids[rng.below(ids.len())].clone()).collect::<Vec<_>>();
    let warmup = (samples / 5).max(500);
    engine_gets(runtime, &engine, pick(warmup))?;
    for id in pick(warmup) {
        std::hint::black_box(raw.get(&id)?.rest);
    }
    let per_block = samples.div_ceil(BLOCKS);
    let (mut e, mut r) = (Latencies::with_capacity(samples), Latencies::with_capacity(samples));
    for block in 0..BLOCKS {
        for side in if block % 2 == 0 { [0, 1] } else { [1, 0] } {
            let picks = pick(per_block);
            if side == 0 {
                for sample in engine_gets(runtime, &engine, picks)? {
                    e.push(sample);
                }
            } else {
                for id in &picks {
                    let started = Instant::now();
                    std::hint::black_box(raw.get(id)?.rest);
                    r.push(started.elapsed());
                }
            }
        }
    }
    runtime.block_on(engine.close())?;
    Ok((e, r))
}

fn engine_gets(runtime: &Runtime, engine: &Engine, ids: Vec<String>) -> Result<Vec<Duration>> {
    let engine = engine.clone();
    on_runtime(runtime, async move {
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            let started = Instant::now();
            std::hint::black_box(engine.get(id).await?);
            out.push(started.elapsed());
        }
        Ok(out)
    })?
}

/// One sampled list page: which service+environment pair and which page of it.
struct PageSpec {
    service: String,
    environment: &'static str,
    engine_cursor: Option<String>,
    raw_before: Option<i64>,
}

/// Keyset-page latencies: (engine, raw).
fn lists(runtime: &Runtime, path: &Path, samples: usize) -> Result<(Latencies, Latencies)> {
    let engine = runtime.block_on(Engine::open(path))?;
    let raw = RawReader::open(path)?;
    let mut rng = Rng::new(0x1157);
    // Walk every page of a few pairs on both sides; the same data gives the same page boundaries,
    // which is checked, so engine cursors and raw `seq` bounds name the same pages.
    let mut pages = Vec::new();
    for _ in 0..LIST_COMBOS {
        let service = seed::service_name(rng.below(seed::SERVICES));
        let environment = seed::ENVIRONMENTS[rng.below(seed::ENVIRONMENTS.len())];
        let mut engine_pages = vec![];
        let mut cursor = None;
        loop {
            let query = ListQuery {
                service: Some(service.clone()),
                environment: Some(environment.to_owned()),
                limit: Some(PAGE),
                cursor: cursor.clone(),
                ..ListQuery::default()
            };
            let page = runtime.block_on(engine.list(&query))?;
            let first = page.items.first().map(|d| d.id.clone());
            engine_pages.push((cursor, first));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let mut before = None;
        for (engine_cursor, engine_first) in engine_pages {
            let rows = raw.list(&service, environment, before, PAGE)?;
            if rows.first().map(|d| &d.id) != engine_first.as_ref() {
                return Err(format!("engine and raw pages of {service}/{environment} differ").into());
            }
            pages.push(PageSpec { service: service.clone(), environment, engine_cursor, raw_before: before });
            before = rows.get(PAGE as usize - 1).map(|d| d.seq);
        }
    }
    let pages = std::sync::Arc::new(pages);
    let count = pages.len();
    let mut pick = |n: usize| (0..n).map(|_| rng.below(count)).collect::<Vec<_>>();
    let warmup = (samples / 5).max(200);
    engine_lists(runtime, &engine, &pages, pick(warmup))?;
    for i in pick(warmup) {
        let p = &pages[i];
        std::hint::black_box(raw.list(&p.service, p.environment, p.raw_before, PAGE)?);
    }
    let per_block = samples.div_ceil(BLOCKS);
    let (mut e, mut r) = (Latencies::with_capacity(samples), Latencies::with_capacity(samples));
    for block in 0..BLOCKS {
        for side in if block % 2 == 0 { [0, 1] } else { [1, 0] } {
            let picks = pick(per_block);
            if side == 0 {
                for sample in engine_lists(runtime, &engine, &pages, picks)? {
                    e.push(sample);
                }
            } else {
                for i in picks {
                    let p = &pages[i];
                    let started = Instant::now();
                    std::hint::black_box(raw.list(&p.service, p.environment, p.raw_before, PAGE)?);
                    r.push(started.elapsed());
                }
            }
        }
    }
    runtime.block_on(engine.close())?;
    Ok((e, r))
}

fn engine_lists(
    runtime: &Runtime,
    engine: &Engine,
    pages: &std::sync::Arc<Vec<PageSpec>>,
    picks: Vec<usize>,
) -> Result<Vec<Duration>> {
    let (engine, pages) = (engine.clone(), pages.clone());
    on_runtime(runtime, async move {
        let mut out = Vec::with_capacity(picks.len());
        for i in picks {
            let p = &pages[i];
            let query = ListQuery {
                service: Some(p.service.clone()),
                environment: Some(p.environment.to_owned()),
                limit: Some(PAGE),
                cursor: p.engine_cursor.clone(),
                ..ListQuery::default()
            };
            let started = Instant::now();
            std::hint::black_box(engine.list(&query).await?);
            out.push(started.elapsed());
        }
        Ok(out)
    })?
}
