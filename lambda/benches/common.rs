//! Shared by the benchmarks: peak memory from /proc, a loaded warehouse, a PostgreSQL schema per run.
#![allow(dead_code)] // each benchmark uses part of it

use std::time::Instant;

use chrono::NaiveDate;
use etl_lambda::contract::ChunkStoreUri;
use etl_lambda::{ChunkStores, Handlers, SampleData, Warehouse};

/// Handlers on `warehouse` with a chunk store in a private directory under `dir` standing in for
/// the S3 bucket `bench-chunks`.
pub async fn local_handlers(warehouse: Warehouse, dir: &std::path::Path) -> Handlers {
    let stores = ChunkStores::local(dir.join("s3"));
    stores
        .objects()
        .await
        .create_local_bucket("bench-chunks")
        .await
        .unwrap();
    let uri = ChunkStoreUri::new("s3://bench-chunks/task02/").unwrap();
    Handlers::with_stores(warehouse, uri, stores)
}

/// VmHWM (peak resident set) of this process, in MiB.
pub fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Resets VmHWM to the current RSS (Linux `clear_refs` 5), so a peak measures one phase.
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn sample(keys: u64, rows_per_key: u32, bad_rows_percent: u8) -> SampleData {
    SampleData {
        keys,
        rows_per_key,
        bad_rows_percent,
        seed: 7,
        start_date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
    }
}

/// A warehouse at `url` with the schema and `sample` loaded; prints how long the load took.
pub async fn loaded(url: &str, sample: &SampleData) -> Warehouse {
    let warehouse = Warehouse::connect(url).await.expect("connect");
    warehouse.create_schema().await.expect("schema");
    let start = Instant::now();
    let rows = sample.load_into(&warehouse).await.expect("load");
    println!(
        "  load {rows} rows into {}: {:.2} s",
        warehouse.engine_name(),
        start.elapsed().as_secs_f64()
    );
    warehouse
}

/// A fresh PostgreSQL schema for one bench run, and the URL that puts it first on the search path.
pub struct Schema {
    admin: Warehouse,
    name: String,
    pub url: String,
}

impl Schema {
    pub async fn create(base: &str, bench: &str) -> Self {
        let name = format!("bench_{bench}_{}", std::process::id());
        let admin = Warehouse::connect(base).await.expect("connect");
        admin
            .execute_batch(&format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
            ))
            .await
            .unwrap();
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{name}");
        Self { admin, name, url }
    }

    pub async fn drop(self) {
        self.admin
            .execute_batch(&format!("DROP SCHEMA {} CASCADE", self.name))
            .await
            .unwrap();
    }
}
