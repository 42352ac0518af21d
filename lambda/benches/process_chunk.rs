//! ProcessTask02Chunk throughput in rows/s, against a raw `INSERT ... SELECT` writing the same
//! source rows into a table of the target's shape, on the same engine in the same run (targets:
//! ratio >= 0.9 on SQLite, >= 0.8 on PostgreSQL; both rates count every source row): a first
//! run, a re-run of the same chunks (the retry of a chunk that committed, which finds every row
//! in place) and a re-run by another execution (which rewrites every row). SQLite
//! always; PostgreSQL too when `TEST_DATABASE_URL` is set (a fresh schema is used).
//! Run: `cargo bench -p etl-lambda --bench process_chunk`.

#[path = "common.rs"]
mod common;

use std::time::Instant;

use etl_lambda::contract::{
    CHUNK_FORMAT_VERSION, ChunkBudget, ChunkId, ExecutionArn, ExecutionName, GetTask02ChunksInput,
    ProcessChunkInput, Task02Chunks,
};

const KEYS: u64 = 50_000;
const ROWS_PER_KEY: u32 = 4;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    bench(&sqlite, &dir).await;
    if let Ok(base) = std::env::var("TEST_DATABASE_URL") {
        let schema = common::Schema::create(&base, "process_chunk").await;
        bench(&schema.url, &dir).await;
        schema.drop().await;
    }
}

async fn bench(url: &str, dir: &tempfile::TempDir) {
    let sample = common::sample(KEYS, ROWS_PER_KEY, 5);
    let warehouse = common::loaded(url, &sample).await;
    let engine = warehouse.engine_name();
    println!(
        "process_chunk on {engine}: {} source rows",
        sample.source_rows()
    );
    let handlers = common::local_handlers(warehouse.clone(), &dir.path().join(engine)).await;
    let get_chunks = |execution: &str| {
        handlers.get_task02_chunks(GetTask02ChunksInput {
            execution: ExecutionName::new(execution).unwrap(),
            execution_arn: ExecutionArn::new(format!(
                "arn:aws:states:us-east-1:123456789012:execution:bench:{execution}"
            ))
            .unwrap(),
            date_range: sample.date_range(),
            budget: ChunkBudget {
                max_rows: 20_000,
                max_keys: 10_000,
            },
        })
    };
    let chunks = get_chunks("bench").await.unwrap();
    // The same spans for another execution, which rewrites every row with its name.
    let other = get_chunks("bench-again").await.unwrap();

    let process_all = |chunks: &Task02Chunks| {
        let handlers = &handlers;
        let chunks = chunks.clone();
        async move {
            let start = Instant::now();
            let mut rows = 0;
            for id in (0..chunks.num_chunks).map(ChunkId) {
                let summary = handlers
                    .process_task02_chunk(ProcessChunkInput {
                        format_version: CHUNK_FORMAT_VERSION,
                        execution: chunks.execution.clone(),
                        chunk_store: chunks.chunk_store.clone(),
                        chunk_id: id,
                    })
                    .await
                    .unwrap();
                rows += summary.rows_migrated + summary.rows_rejected;
            }
            assert_eq!(rows, sample.source_rows());
            start.elapsed().as_secs_f64()
        }
    };
    let mut process_seconds = vec![process_all(&chunks).await, process_all(&chunks).await];

    // The baseline: one statement writing the same rows, transformed the same way, into a table
    // of the target's shape (same columns, same primary key, on SQLite WITHOUT ROWID as the
    // target), with no chunking, validation or replacement.
    warehouse
        .execute_batch(&format!(
            "CREATE TABLE raw_copy (visit_date DATE NOT NULL, ssn TEXT NOT NULL, \
             source_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL, provider TEXT NOT NULL, \
             execution TEXT NOT NULL, chunk_id BIGINT NOT NULL, \
             PRIMARY KEY (visit_date, ssn, source_id)){}",
            if engine == "sqlite" {
                " WITHOUT ROWID"
            } else {
                ""
            }
        ))
        .await
        .unwrap();
    let start = Instant::now();
    warehouse
        .execute_batch(
            "INSERT INTO raw_copy SELECT visit_date, replace(ssn, '-', ''), id, amount_cents, \
             upper(trim(provider)), 'raw', 0 FROM visits WHERE visit_date IS NOT NULL",
        )
        .await
        .unwrap();
    let raw_seconds = start.elapsed().as_secs_f64();
    // After the baseline, so that the dead rows it leaves do not slow it.
    process_seconds.push(process_all(&other).await);

    let rows = sample.source_rows() as f64;
    let raw_rate = rows / raw_seconds;
    let target = if engine == "sqlite" { 0.9 } else { 0.8 };
    let passes = [
        ("first run", Some(target)),
        ("re-run (replace)", Some(target)),
        ("re-run by another execution", None),
    ];
    for ((pass, target), seconds) in passes.iter().zip(&process_seconds) {
        let rate = rows / seconds;
        let ratio = rate / raw_rate;
        let verdict = match target {
            Some(target) if ratio >= *target => format!(" (target >= {target}: met)"),
            Some(target) => format!(" (target >= {target}: MISSED)"),
            None => String::new(),
        };
        println!(
            "  {pass}: {} chunks, {rate:.0} rows/s ({seconds:.3} s); raw INSERT ... SELECT {raw_rate:.0} rows/s \
             ({raw_seconds:.3} s); ratio {ratio:.2}{verdict}",
            chunks.num_chunks,
        );
    }
}
