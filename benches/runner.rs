//! `cm-etl run` at scale, in process: generates N keys (default 1,000,000; `RUNNER_BENCH_KEYS`),
//! runs the committed definition with the real handlers, and prints wall time, peak memory
//! (VmHWM), rows/s and the largest payload against the budget of 1 KiB + 8 B per chunk.
//!
//! `cargo bench --bench runner` (from the repository root).

use std::path::PathBuf;

use cm_etl::output::OutputFormat;
use cm_etl::runner::RunArgs;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::main]
async fn main() {
    let keys: u64 = std::env::var("RUNNER_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(&root).unwrap();
    let args = RunArgs {
        definition: PathBuf::from(cm_etl::synth::DEFINITION_PATH),
        config: PathBuf::from("deploy.toml"),
        keys,
        rows_per_key: 3,
        bad_rows_percent: 2,
        database_url: None,
        chunk_dir: None,
        date_from: None,
        date_to: None,
        input: None,
        execution_name: None,
        output: OutputFormat::Json,
    };
    let report = cm_etl::runner::run(args).await.unwrap();
    assert!(report.succeeded(), "{:?} {:?}", report.error, report.cause);
    let chunks = report.invocations.saturating_sub(1);
    let largest = report
        .largest_payload_bytes
        .values()
        .copied()
        .max()
        .unwrap_or(0);
    let largest_result = report
        .largest_result_bytes
        .values()
        .copied()
        .max()
        .unwrap_or(0);
    let budget = 1024 + 8 * chunks as usize;
    let source = report.source_rows.unwrap_or(0);
    println!(
        "runner/keys={keys}: source rows {source}, migrated {:?}, rejected {:?}",
        report.migrated_rows, report.rejected_rows
    );
    println!(
        "runner/keys={keys}: {chunks} chunks, {} history events, {} environments",
        report.history_events, report.execution_environments
    );
    println!(
        "runner/keys={keys}: wall {:.1} s (seeding included), {:.0} rows/s overall",
        report.wall_seconds,
        source as f64 / report.wall_seconds
    );
    println!(
        "runner/keys={keys}: peak memory {} MiB (VmHWM)",
        peak_rss_kib().unwrap_or(0) / 1024
    );
    println!(
        "runner/keys={keys}: largest state input/output {largest} B (budget 1 KiB + 8 B x {chunks} chunks = {budget} B: {}), largest raw result {largest_result} B",
        if largest <= budget { "within" } else { "OVER" }
    );
}
