//! Shared test setup: a fresh warehouse per test on either engine (SQLite in a temporary
//! directory; PostgreSQL in a schema of its own on `TEST_DATABASE_URL`), sample data and a local
//! chunk store, plus the moto-backed S3 configuration.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use etl_lambda::chunks::KeySpan;
use etl_lambda::contract::{
    CHUNK_FORMAT_VERSION, ChunkBudget, ChunkId, ChunkStoreUri, DeleteChunksInput, ExecutionArn,
    ExecutionName, GetTask02ChunksInput, HandlerErrorName, ProcessChunkInput, Task02Chunks,
};
use etl_lambda::{ChunkStores, Handlers, SampleData, Warehouse};
use tempfile::TempDir;
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A unique, lower-case name for this test's schema, bucket or execution.
pub fn unique(name: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}_{}_{}",
        name.to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn required_env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run `bash tests/run.sh -- -p etl-lambda`"))
}

/// A `DATABASE_URL` for a warehouse of its own: a SQLite file in `dir`, or a fresh PostgreSQL
/// schema selected through the connection's `search_path`.
pub async fn database_url(engine: Engine, dir: &TempDir, name: &str) -> String {
    match engine {
        Engine::Sqlite => format!("sqlite://{}", dir.path().join("warehouse.db").display()),
        Engine::Postgres => {
            let base = required_env("TEST_DATABASE_URL");
            let schema = unique(name);
            let admin = Warehouse::connect(&base)
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_batch(&format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
                ))
                .await
                .expect("create test schema");
            let separator = if base.contains('?') { '&' } else { '?' };
            format!("{base}{separator}options=-csearch_path%3D{schema}")
        }
    }
}

pub fn sample(keys: u64, rows_per_key: u32, bad_rows_percent: u8) -> SampleData {
    SampleData {
        keys,
        rows_per_key,
        bad_rows_percent,
        seed: 2026,
        start_date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
    }
}

/// The bucket of the tests' local chunk stores.
pub const LOCAL_BUCKET: &str = "cm-etl-test-chunks";

/// Chunk stores in a private directory standing in for S3, with [`LOCAL_BUCKET`] created.
pub async fn local_stores(dir: &TempDir) -> ChunkStores {
    let stores = ChunkStores::local(dir.path().join("s3"));
    stores
        .objects()
        .await
        .create_local_bucket(LOCAL_BUCKET)
        .await
        .unwrap();
    stores
}

/// One test's world: a loaded warehouse, a local chunk store and the handlers over both.
pub struct World {
    pub dir: TempDir,
    pub database_url: String,
    pub warehouse: Warehouse,
    pub sample: SampleData,
    pub chunk_store: ChunkStoreUri,
    pub stores: ChunkStores,
    pub handlers: Handlers,
}

impl World {
    pub async fn new(engine: Engine, name: &str, sample: SampleData) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database_url = database_url(engine, &dir, name).await;
        let warehouse = Warehouse::connect(&database_url).await.unwrap();
        warehouse.create_schema().await.unwrap();
        sample.load_into(&warehouse).await.unwrap();
        let chunk_store = ChunkStoreUri::new(format!("s3://{LOCAL_BUCKET}/task02/")).unwrap();
        let stores = local_stores(&dir).await;
        let handlers =
            Handlers::with_stores(warehouse.clone(), chunk_store.clone(), stores.clone());
        Self {
            dir,
            database_url,
            warehouse,
            sample,
            chunk_store,
            stores,
            handlers,
        }
    }

    /// Handlers as another execution environment would have them: their own warehouse
    /// connection and their own chunk store handles on the same bucket.
    pub async fn other_environment(&self) -> Handlers {
        let warehouse = Warehouse::connect(&self.database_url).await.unwrap();
        let stores = ChunkStores::local(self.dir.path().join("s3"));
        Handlers::with_stores(warehouse, self.chunk_store.clone(), stores)
    }

    /// The chunk ids as the Map's ItemReader reads them.
    pub async fn chunk_ids(&self, chunks: &Task02Chunks) -> Vec<ChunkId> {
        chunk_ids(&self.stores, chunks).await
    }

    pub async fn get_chunks(&self, execution: &str, budget: ChunkBudget) -> Task02Chunks {
        get_chunks(&self.handlers, execution, &self.sample, budget).await
    }
}

pub fn execution(name: &str) -> ExecutionName {
    ExecutionName::new(name).unwrap()
}

/// The ARN of the execution `name` of the tests' state machine `cm-etl-test`.
pub fn execution_arn(name: &str) -> ExecutionArn {
    execution_arn_in("cm-etl-test", name)
}

/// The ARN of the execution `name` of the state machine `machine`.
pub fn execution_arn_in(machine: &str, name: &str) -> ExecutionArn {
    ExecutionArn::new(format!(
        "arn:aws:states:us-east-1:123456789012:execution:{machine}:{name}"
    ))
    .unwrap()
}

/// Two executions of one name in two state machines whose chunk stores share a bucket prefix (as
/// `handlers` has it): each stores its chunks in a folder of its own; a retried GetTask02Chunks of
/// the first (same ARN) succeeds into the same folder; the first deletes its folder and may not
/// delete the second's; every chunk of the second is still there and readable, and migrates.
pub async fn same_name_executions_never_share_chunks(handlers: &Handlers, sample: &SampleData) {
    const NAME: &str = "nightly";
    let input = |machine: &str| GetTask02ChunksInput {
        execution: execution(NAME),
        execution_arn: execution_arn_in(machine, NAME),
        date_range: sample.date_range(),
        budget: ChunkBudget {
            max_rows: 40,
            max_keys: 10,
        },
    };
    let first = handlers
        .get_task02_chunks(input("machine-a"))
        .await
        .unwrap();
    let second = handlers
        .get_task02_chunks(input("machine-b"))
        .await
        .unwrap();
    assert!(first.num_chunks > 2);
    assert_eq!(first.execution, second.execution);
    assert_ne!(first.chunk_store, second.chunk_store);
    assert_ne!(first.chunk_ids, second.chunk_ids);
    for chunks in [&first, &second] {
        let folder = chunks.chunk_store.prefix();
        let base = handlers.chunk_store().prefix();
        assert!(folder.starts_with(&format!("{base}{NAME}-")), "{folder}");
        assert!(chunks.chunk_ids.key.starts_with(folder));
    }

    // GetTask02Chunks retried (or redriven) for the same execution: the same folder, rewritten.
    let retried = handlers
        .get_task02_chunks(input("machine-a"))
        .await
        .unwrap();
    assert_eq!(retried, first);
    // An ARN that does not name the execution is refused.
    let mut mismatched = input("machine-a");
    mismatched.execution_arn = execution_arn_in("machine-a", "other");
    let error = handlers.get_task02_chunks(mismatched).await.unwrap_err();
    assert_eq!(error.name, HandlerErrorName::InvalidInput, "{error}");

    // The first migrates and deletes its folder; it may not delete the second's.
    process_all(handlers, &first).await;
    let crossed = DeleteChunksInput {
        execution: execution(NAME),
        execution_arn: execution_arn_in("machine-a", NAME),
        chunk_store: second.chunk_store.clone(),
    };
    let error = handlers.delete_task02_chunks(crossed).await.unwrap_err();
    assert_eq!(error.name, HandlerErrorName::InvalidInput, "{error}");
    let deleted = handlers
        .delete_task02_chunks(DeleteChunksInput {
            execution: execution(NAME),
            execution_arn: execution_arn_in("machine-a", NAME),
            chunk_store: first.chunk_store.clone(),
        })
        .await
        .unwrap();
    assert_eq!(deleted.objects_deleted, u64::from(first.num_chunks) + 2);
    let objects = handlers.stores().objects().await;
    let left = |chunks: &Task02Chunks| {
        let objects = objects.clone();
        let folder = chunks.chunk_store.clone();
        async move {
            objects
                .list(folder.bucket(), folder.prefix())
                .await
                .unwrap()
                .len() as u64
        }
    };
    assert_eq!(left(&first).await, 0);
    assert_eq!(left(&second).await, u64::from(second.num_chunks) + 2);

    // Every chunk of the second is still there, readable, and migrates.
    let ids = chunk_ids(handlers.stores(), &second).await;
    assert_eq!(ids, (0..second.num_chunks).map(ChunkId).collect::<Vec<_>>());
    let store = handlers.stores().open(&second.chunk_store).await;
    assert_eq!(
        store.get_manifest().await.unwrap().num_chunks,
        second.num_chunks
    );
    for id in ids {
        assert_eq!(store.get_chunk(id).await.unwrap().chunk_id, id);
    }
    process_all(handlers, &second).await;
}

/// DeleteTask02Chunks' input for the chunks of the execution `name` of `cm-etl-test`.
pub fn delete_input(chunks: &Task02Chunks) -> DeleteChunksInput {
    DeleteChunksInput {
        execution: chunks.execution.clone(),
        execution_arn: execution_arn(chunks.execution.as_str()),
        chunk_store: chunks.chunk_store.clone(),
    }
}

pub async fn get_chunks(
    handlers: &Handlers,
    execution_name: &str,
    sample: &SampleData,
    budget: ChunkBudget,
) -> Task02Chunks {
    handlers
        .get_task02_chunks(GetTask02ChunksInput {
            execution: execution(execution_name),
            execution_arn: execution_arn(execution_name),
            date_range: sample.date_range(),
            budget,
        })
        .await
        .expect("get_task02_chunks")
}

pub fn process_input(chunks: &Task02Chunks, chunk_id: ChunkId) -> ProcessChunkInput {
    ProcessChunkInput {
        format_version: CHUNK_FORMAT_VERSION,
        execution: chunks.execution.clone(),
        chunk_store: chunks.chunk_store.clone(),
        chunk_id,
    }
}

/// The chunk ids as the Map's ItemReader reads them: the JSON array GetTask02Chunks stored at the
/// location its result names.
pub async fn chunk_ids(stores: &ChunkStores, chunks: &Task02Chunks) -> Vec<ChunkId> {
    let items = &chunks.chunk_ids;
    let bytes = stores
        .objects()
        .await
        .get(&items.bucket, &items.key)
        .await
        .expect("read the chunk ids")
        .expect("GetTask02Chunks stored its chunk ids");
    serde_json::from_slice(&bytes).expect("the chunk ids are a JSON array of ids")
}

/// Processes every chunk of `chunks`, in the order the chunk ids list them.
pub async fn process_all(handlers: &Handlers, chunks: &Task02Chunks) {
    for id in chunk_ids(handlers.stores(), chunks).await {
        handlers
            .process_task02_chunk(process_input(chunks, id))
            .await
            .unwrap_or_else(|e| panic!("chunk {id}: {e}"));
    }
}

/// The distinct keys of the sample and their row counts, computed from the generated rows.
pub fn expected_keys(sample: &SampleData) -> BTreeMap<(Option<NaiveDate>, String), u64> {
    let mut keys = BTreeMap::new();
    for row in sample.rows() {
        *keys
            .entry((row.visit_date, row.ssn.expose().to_owned()))
            .or_default() += 1;
    }
    keys
}

/// Whether `span` covers the source key (`visit_date`, `ssn`). The test clusters compare text
/// byte by byte (SQLite's BINARY, PostgreSQL's C.UTF-8), as Rust does.
pub fn covers(span: &KeySpan, visit_date: Option<NaiveDate>, ssn: &str) -> bool {
    match (span, visit_date) {
        (
            KeySpan::Dated {
                date_range, keys, ..
            },
            Some(date),
        ) => {
            let key = (date, ssn);
            date_range.from <= date
                && date <= date_range.to
                && keys
                    .after
                    .as_ref()
                    .is_none_or(|after| (after.visit_date, after.ssn.expose()) < key)
                && keys
                    .through
                    .as_ref()
                    .is_none_or(|through| key <= (through.visit_date, through.ssn.expose()))
        }
        (KeySpan::Undated { keys }, None) => {
            keys.after.as_ref().is_none_or(|after| after.expose() < ssn)
                && keys
                    .through
                    .as_ref()
                    .is_none_or(|through| ssn <= through.expose())
        }
        _ => false,
    }
}

/// Processes every chunk as the pipeline's Map does: a `Transient` failure is retried, as the
/// definition's retrier on `Task02.Transient` retries it (up to 3 more attempts).
pub async fn process_all_retrying(handlers: &Handlers, chunks: &Task02Chunks) {
    for id in chunk_ids(handlers.stores(), chunks).await {
        let mut attempt = 0;
        loop {
            match handlers
                .process_task02_chunk(process_input(chunks, id))
                .await
            {
                Ok(_) => break,
                Err(e) if e.name == HandlerErrorName::Transient && attempt < 3 => attempt += 1,
                Err(e) => panic!("chunk {id} after {attempt} retries: {e}"),
            }
        }
    }
}

/// The expected keys `span` covers, with their row counts.
pub fn covered<'a>(
    span: &KeySpan,
    expected: &'a BTreeMap<(Option<NaiveDate>, String), u64>,
) -> Vec<(&'a (Option<NaiveDate>, String), &'a u64)> {
    expected
        .iter()
        .filter(|((date, ssn), _)| covers(span, *date, ssn))
        .collect()
}

/// The S3 configuration of the tests: moto on loopback, static test credentials.
pub fn moto_sdk_config() -> aws_config::SdkConfig {
    let endpoint = required_env("MOTO_ENDPOINT");
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "MOTO_ENDPOINT must be on loopback"
    );
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "tests"),
        ))
        .build()
}

/// A new bucket in moto, named after `name`, and an S3 client on moto.
pub async fn moto_bucket(name: &str) -> (aws_sdk_s3::Client, String) {
    let config = aws_sdk_s3::config::Builder::from(&moto_sdk_config())
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    let bucket = unique(name).replace('_', "-");
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket on moto");
    (client, bucket)
}

/// Instantiates each `async fn NAME(engine: Engine)` of the calling file as two tests,
/// `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Engine::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Engine::Postgres).await
                }
            )*
        }
    };
}

/// A log sink the tests read back: every line a subscriber writes, kept in memory.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for Captured {
    type Writer = Captured;
    fn make_writer(&'w self) -> Self::Writer {
        self.clone()
    }
}

/// Runs `test` as `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` does, with every
/// thread of its runtime (the blocking ones too) and the test's own thread logging to
/// `subscriber`. The tests of this binary share one process: a global subscriber could be set only
/// once, and would log the other tests' events too.
pub fn run_logging_to<S>(subscriber: S, test: impl Future<Output = ()>)
where
    S: tracing::Subscriber + Send + Sync + 'static,
{
    thread_local! {
        /// The runtime thread's subscriber, until the thread stops.
        static RUNTIME_THREAD: RefCell<Option<tracing::dispatcher::DefaultGuard>> =
            const { RefCell::new(None) };
    }
    let dispatch = tracing::Dispatch::new(subscriber);
    let _test_thread = tracing::dispatcher::set_default(&dispatch);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            RUNTIME_THREAD.set(Some(tracing::dispatcher::set_default(&dispatch)));
        })
        .on_thread_stop(|| drop(RUNTIME_THREAD.take()))
        .build()
        .expect("the test's runtime starts");
    runtime.block_on(test);
}
