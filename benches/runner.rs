//! `cm-etl run` at scale, in process: generates N keys (`RUNNER_BENCH_KEYS`, default 1,000,000),
//! packs them into chunks of at most `RUNNER_BENCH_MAX_KEYS` keys (default 10, so 100,000 chunks
//! by default), runs the pipeline rendered for that budget with the real handlers, and prints the
//! chunks, the largest state payload and its state, the largest child history of the Distributed
//! Map, the parent's history, wall time and peak memory (VmHWM).
//!
//! `cargo bench --bench runner` (from the repository root).

use std::path::{Path, PathBuf};

use cm_etl::config::{ConfigArgs, DEFAULT_CONFIG_PATH, DeployConfig};
use cm_etl::output::{OutputArgs, OutputFormat};
use cm_etl::runner::RunArgs;

/// Step Functions would allow 256 KiB; the pipeline's states must stay this small at any scale.
const PAYLOAD_BUDGET_BYTES: usize = 2048;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text} is not a number")),
        Err(_) => default,
    }
}

/// The pipeline rendered for deploy.toml with `[chunking] max_keys = max_keys`, in `dir`.
fn definition_for(max_keys: u32, dir: &Path) -> PathBuf {
    let mut config = DeployConfig::load(Path::new(DEFAULT_CONFIG_PATH)).unwrap();
    config.chunking.max_keys = max_keys;
    let name = cm_etl::pipeline::STATE_MACHINE_NAME
        .to_owned()
        .try_into()
        .unwrap();
    let path = dir.join("definition.json");
    std::fs::write(
        &path,
        cm_etl::synth::render_definition(&config, &name).unwrap(),
    )
    .unwrap();
    path
}

#[tokio::main]
async fn main() {
    let keys: u64 = env_number("RUNNER_BENCH_KEYS", 1_000_000);
    let max_keys: u32 = env_number("RUNNER_BENCH_MAX_KEYS", 10);
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let args = RunArgs {
        definition: definition_for(max_keys, scratch.path()),
        config: ConfigArgs {
            path: PathBuf::from(DEFAULT_CONFIG_PATH),
        },
        keys,
        rows_per_key: 3,
        bad_rows_percent: 2,
        database_url: None,
        chunk_dir: None,
        keep_chunks: false,
        s3_endpoint_url: None,
        date_from: None,
        date_to: None,
        input: None,
        execution_name: None,
        output: OutputArgs {
            format: OutputFormat::Json,
        },
    };
    let report = cm_etl::runner::run(args).await.unwrap();
    assert!(report.succeeded(), "{:?} {:?}", report.error, report.cause);
    let label = format!("runner/keys={keys},max_keys={max_keys}");
    let map_run = report.map_runs.first().expect("the pipeline's Map Run");
    let (largest_state, largest) = report
        .largest_payload_bytes
        .iter()
        .max_by_key(|(_, bytes)| **bytes)
        .map(|(state, bytes)| (state.as_str(), *bytes))
        .unwrap_or_default();
    println!(
        "{label}: {} chunks ({} succeeded, {} failed); source rows {:?}, migrated {:?}, rejected {:?}",
        map_run.items_total,
        map_run.succeeded,
        map_run.failed,
        report.source_rows,
        report.migrated_rows,
        report.rejected_rows
    );
    println!(
        "{label}: largest state payload {largest} B ({largest_state}; budget {PAYLOAD_BUDGET_BYTES} B)"
    );
    println!(
        "{label}: largest child history {} events; parent history {} events; {} environments",
        map_run.largest_child_history_events, report.history_events, report.execution_environments
    );
    println!(
        "{label}: wall {:.1} s (seeding included); peak memory {} MiB (VmHWM)",
        report.wall_seconds,
        peak_rss_kib().unwrap_or(0) / 1024
    );
    assert!(
        largest <= PAYLOAD_BUDGET_BYTES,
        "{largest_state}'s payload of {largest} B is over {PAYLOAD_BUDGET_BYTES} B"
    );
}
