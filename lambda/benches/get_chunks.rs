//! GetTask02Chunks over 1,000,000 keys: wall time and peak memory (VmHWM of the chunking phase
//! alone) on SQLite, and on PostgreSQL too when `TEST_DATABASE_URL` is set (a fresh schema is
//! used). Target: under 2 s. Run: `cargo bench -p etl-lambda --bench get_chunks`.

#[path = "common.rs"]
mod common;

use std::time::Instant;

use etl_lambda::contract::{ChunkBudget, ExecutionArn, ExecutionName, GetTask02ChunksInput};

const KEYS: u64 = 1_000_000;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    bench(&sqlite, &dir).await;
    if let Ok(base) = std::env::var("TEST_DATABASE_URL") {
        let schema = common::Schema::create(&base, "get_chunks").await;
        bench(&schema.url, &dir).await;
        schema.drop().await;
    }
}

async fn bench(url: &str, dir: &tempfile::TempDir) {
    let sample = common::sample(KEYS, 1, 0);
    let warehouse = common::loaded(url, &sample).await;
    let engine = warehouse.engine_name();
    println!("get_chunks on {engine}: {KEYS} keys, local chunk store");
    let handlers = common::local_handlers(warehouse, &dir.path().join(engine)).await;

    for (run, execution) in ["bench-1", "bench-2"].into_iter().enumerate() {
        common::reset_peak();
        let start = Instant::now();
        let chunks = handlers
            .get_task02_chunks(GetTask02ChunksInput {
                execution: ExecutionName::new(execution).unwrap(),
                execution_arn: ExecutionArn::new(format!(
                    "arn:aws:states:us-east-1:123456789012:execution:bench:{execution}"
                ))
                .unwrap(),
                date_range: sample.date_range(),
                budget: ChunkBudget {
                    max_rows: 5_000,
                    max_keys: 1_000,
                },
            })
            .await
            .expect("get_task02_chunks");
        let seconds = start.elapsed().as_secs_f64();
        let response = serde_json::to_string(&chunks).unwrap().len();
        assert_eq!(chunks.total_keys, KEYS);
        println!(
            "  run {}: {} keys -> {} chunks in {seconds:.3} s, peak RSS {:.1} MiB, response {response} bytes; \
             target < 2 s: {}",
            run + 1,
            chunks.total_keys,
            chunks.num_chunks,
            common::peak_mib(),
            if seconds < 2.0 { "met" } else { "MISSED" }
        );
    }
}
