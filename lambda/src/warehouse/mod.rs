//! The warehouse: the source `visits`, the migrated target, the rejects and the chunk ledger,
//! behind one interface over two engines chosen by `DATABASE_URL`: SQLite (embedded default:
//! `sqlite://PATH`, `sqlite::memory:`) and PostgreSQL (`postgres://...`, deployed).
//!
//! Task 02 rules (the same SQL on both engines, differing only where noted in `Dialect`):
//! - A key is (visit_date, ssn) as the source holds them. GetTask02Chunks reads the dated keys of
//!   the requested range, then every undated key (visit_date NULL), then (SQLite, which keeps
//!   dates as text) the key of each SSN's rows whose visit_date is not a date ('2024-13-45',
//!   'yesterday'): those rows belong to no range, so every run covers them and rejects them
//!   (`missing_date`, `bad_visit_date`), which keeps source rows = migrated + rejected when the
//!   range covers the dated rows. (A PostgreSQL `date` column cannot hold a malformed date.)
//! - A row migrates when its date is present and its SSN is `ddd-dd-dddd`; the target keeps the
//!   nine digits (a bijection, so target keys of two chunks never meet), the provider trimmed and
//!   upper-cased, the execution and the chunk id. Other rows go to `visits_rejected` with a reason.
//! - A chunk is a span of the key order (its first and last key, of one kind). ProcessTask02Chunk
//!   is one transaction reading the span as one index range of the source: it brings the target
//!   rows of exactly the span's keys to what the source holds now (inserting them all when the
//!   target holds none yet; otherwise deleting the rows it would not write identically and
//!   inserting the missing ones, so a retry of a chunk that committed writes nothing), replaces
//!   the span's rejects and upserts the ledger row. Running it again leaves what a first run
//!   would, so nothing doubles and nothing is lost. On PostgreSQL the transaction sees one
//!   snapshot (REPEATABLE READ): two executions writing the same keys at once meet on the
//!   target's key or on a row both change, the one that loses fails as `Transient` and,
//!   retried, replaces the other's rows.

pub mod database_url;
mod postgres;
mod sqlite;
mod tls;

pub use tls::{INSECURE_TRANSPORT_PARAMETER, InsecureTransport, TlsOptions};
#[cfg(feature = "runtime")]
pub(crate) use tls::{SslMode, parses};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::NaiveDate;
use tokio::sync::mpsc;

use crate::chunks::{DatedKey, KeySpan, PackedChunk};
use crate::contract::{ChunkBudget, ChunkId, DateRange, ExecutionName};
use crate::error::HandlerError;
use crate::ssn::Ssn;

/// One source row, as the sample generator produces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitRow {
    /// The row's id in `visits`.
    pub id: i64,
    /// The visit date; `None` for an undated row.
    pub visit_date: Option<NaiveDate>,
    /// The patient's SSN as the source holds it (valid or not).
    pub ssn: Ssn,
    /// The visit's amount, in cents.
    pub amount_cents: i64,
    /// The provider as the source holds it (the migration trims and upper-cases it).
    pub provider: String,
}

/// Row counts of the three data tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WarehouseCounts {
    /// Rows in the source `visits`.
    pub source_rows: u64,
    /// Rows in `visits_migrated`.
    pub migrated_rows: u64,
    /// Rows in `visits_rejected`.
    pub rejected_rows: u64,
}

/// What one chunk did: rows inserted into the target and into the rejects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkCounts {
    /// Rows inserted into `visits_migrated`.
    pub migrated: u64,
    /// Rows inserted into `visits_rejected`.
    pub rejected: u64,
}

/// Why a row was not migrated. A date problem takes precedence over an SSN problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// The row has no visit date (`missing_date`).
    MissingDate,
    /// The SSN is not `ddd-dd-dddd` (`bad_ssn_format`).
    BadSsnFormat,
    /// The source holds a visit_date that is not a date (SQLite only).
    BadVisitDate,
}

impl RejectReason {
    /// The reason code stored in `visits_rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::MissingDate => "missing_date",
            RejectReason::BadSsnFormat => "bad_ssn_format",
            RejectReason::BadVisitDate => "bad_visit_date",
        }
    }

    fn parse(text: &str) -> Result<Self, HandlerError> {
        match text {
            "missing_date" => Ok(Self::MissingDate),
            "bad_ssn_format" => Ok(Self::BadSsnFormat),
            "bad_visit_date" => Ok(Self::BadVisitDate),
            _ => Err(HandlerError::transient(
                "read visits_rejected",
                "unknown reason code",
            )),
        }
    }
}

/// One row of `visits_migrated`, for checks.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MigratedRow {
    /// The `visits` row it came from.
    pub source_id: i64,
    /// The visit date.
    pub visit_date: NaiveDate,
    /// The nine digits, without dashes.
    pub ssn: Ssn,
    /// The amount, in cents.
    pub amount_cents: i64,
    /// The provider, trimmed and upper-cased.
    pub provider: String,
    /// The execution that migrated it.
    pub execution: String,
    /// The chunk that migrated it.
    pub chunk_id: i64,
}

/// One row of `visits_rejected`, for checks.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RejectedRow {
    /// The `visits` row it came from.
    pub source_id: i64,
    /// `None` when the source's date is missing or not a date.
    pub visit_date: Option<NaiveDate>,
    /// Why it was not migrated.
    pub reason: RejectReason,
    /// The execution that rejected it.
    pub execution: String,
    /// The chunk that rejected it.
    pub chunk_id: i64,
}

/// One row of `task02_chunk_ledger`, without its timestamp.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LedgerRow {
    /// The execution that migrated the chunk.
    pub execution: String,
    /// The chunk's id.
    pub chunk_id: i64,
    /// Rows the chunk migrated.
    pub rows_migrated: i64,
    /// Rows the chunk rejected.
    pub rows_rejected: i64,
}

/// A connected warehouse. Cheap to clone (one connection shared behind a lock: a Lambda
/// environment serves one invocation at a time).
#[derive(Clone)]
pub struct Warehouse {
    engine: Engine,
    /// Test hook: fail the next ProcessTask02Chunk after its target insert (see
    /// [`Warehouse::fail_next_chunk_midway`]).
    fault: Arc<AtomicBool>,
}

#[derive(Clone)]
enum Engine {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

impl Warehouse {
    /// Connects from a `DATABASE_URL`: `sqlite://PATH` (a file, created if missing),
    /// `sqlite::memory:` (private, in memory), or `postgres://` / `postgresql://` URLs (TLS
    /// verified unless the URL opts out: `tls.rs`).
    pub async fn connect(url: &str) -> Result<Self, HandlerError> {
        Self::connect_with(url, &TlsOptions::default()).await
    }

    /// [`Warehouse::connect`], with TLS settings from outside the URL (the function's: a secret's
    /// root certificates, deploy.toml's opt-out). SQLite ignores them.
    pub async fn connect_with(url: &str, tls: &TlsOptions) -> Result<Self, HandlerError> {
        let engine = if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            Engine::Sqlite(sqlite::Sqlite::open(None)?)
        } else if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(HandlerError::invalid_input(
                    "DATABASE_URL",
                    "has no SQLite file path; use sqlite://PATH or sqlite::memory:",
                ));
            }
            Engine::Sqlite(sqlite::Sqlite::open(Some(path))?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Engine::Postgres(postgres::Postgres::connect(url, tls).await?)
        } else {
            return Err(HandlerError::invalid_input(
                "DATABASE_URL",
                "must start with sqlite://, sqlite::memory: or postgres://",
            ));
        };
        Ok(Self {
            engine,
            fault: Arc::default(),
        })
    }

    /// Which engine this is: "sqlite" or "postgres" (for logs and benchmark labels).
    pub fn engine_name(&self) -> &'static str {
        match self.engine {
            Engine::Sqlite(_) => "sqlite",
            Engine::Postgres(_) => "postgres",
        }
    }

    /// Whether the connection to the warehouse is encrypted (always false for SQLite, a file).
    pub async fn encrypted(&self) -> Result<bool, HandlerError> {
        match &self.engine {
            Engine::Sqlite(_) => Ok(false),
            Engine::Postgres(db) => Ok(db
                .query_i64("SELECT ssl::int::bigint FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .await?
                == 1),
        }
    }

    /// Creates the four tables and their indexes if missing.
    pub async fn create_schema(&self) -> Result<(), HandlerError> {
        match &self.engine {
            Engine::Sqlite(db) => {
                db.execute_batch(sqlite::SCHEMA.to_owned() + &bad_ssn_index(&sqlite::DIALECT))
                    .await
            }
            Engine::Postgres(db) => {
                db.execute_batch(
                    &(postgres::SCHEMA.to_owned() + &bad_ssn_index(&postgres::DIALECT)),
                )
                .await
            }
        }
    }

    /// Inserts source rows in one transaction (the sample generator's loader).
    pub async fn load_visits(
        &self,
        rows: impl Iterator<Item = VisitRow> + Send + 'static,
    ) -> Result<u64, HandlerError> {
        match &self.engine {
            Engine::Sqlite(db) => db.load_visits(rows).await,
            Engine::Postgres(db) => db.load_visits(rows).await,
        }
    }

    /// Streams the distinct keys of `range` (then the undated keys), ordered, with their row
    /// counts, packs them under `budget` and sends each chunk as it closes. Memory stays at one
    /// chunk plus the channel, whatever the number of keys.
    pub async fn pack_keys(
        &self,
        range: DateRange,
        budget: ChunkBudget,
        chunks: mpsc::Sender<PackedChunk>,
    ) -> Result<(), HandlerError> {
        match &self.engine {
            Engine::Sqlite(db) => db.pack_keys(range, budget, chunks).await,
            Engine::Postgres(db) => db.pack_keys(range, budget, chunks).await,
        }
    }

    /// Migrates the rows of exactly `keys`, in one transaction (see the module notes).
    pub async fn process_chunk(
        &self,
        execution: &ExecutionName,
        chunk_id: ChunkId,
        span: KeySpan,
    ) -> Result<ChunkCounts, HandlerError> {
        let fault = self.fault.swap(false, Ordering::SeqCst);
        let job = ChunkJob {
            execution: execution.as_str().to_owned(),
            chunk_id: i64::from(chunk_id.0),
            span,
            fault,
        };
        match &self.engine {
            Engine::Sqlite(db) => db.process_chunk(job).await,
            Engine::Postgres(db) => db.process_chunk(job).await,
        }
    }

    /// Row counts of `visits`, `visits_migrated` and `visits_rejected`.
    pub async fn counts(&self) -> Result<WarehouseCounts, HandlerError> {
        let count = |table| async move {
            let sql = format!("SELECT count(*) FROM {table}");
            match &self.engine {
                Engine::Sqlite(db) => db.query_i64(sql).await,
                Engine::Postgres(db) => db.query_i64(&sql).await,
            }
            .map(|n| n as u64)
        };
        Ok(WarehouseCounts {
            source_rows: count("visits").await?,
            migrated_rows: count("visits_migrated").await?,
            rejected_rows: count("visits_rejected").await?,
        })
    }

    /// Every target row, ordered by source id.
    pub async fn migrated_rows(&self) -> Result<Vec<MigratedRow>, HandlerError> {
        match &self.engine {
            Engine::Sqlite(db) => db.migrated_rows().await,
            Engine::Postgres(db) => db.migrated_rows().await,
        }
    }

    /// Every reject row, ordered by source id.
    pub async fn rejected_rows(&self) -> Result<Vec<RejectedRow>, HandlerError> {
        match &self.engine {
            Engine::Sqlite(db) => db.rejected_rows().await,
            Engine::Postgres(db) => db.rejected_rows().await,
        }
    }

    /// The ledger rows of every execution, ordered by (execution, chunk id).
    pub async fn ledger(&self) -> Result<Vec<LedgerRow>, HandlerError> {
        match &self.engine {
            Engine::Sqlite(db) => db.ledger().await,
            Engine::Postgres(db) => db.ledger().await,
        }
    }

    /// Runs SQL statements without parameters (tests and benchmarks: a schema per test, a raw
    /// `INSERT ... SELECT` baseline, a change to the source).
    #[cfg(feature = "test-hooks")]
    pub async fn execute_batch(&self, sql: &str) -> Result<(), HandlerError> {
        match &self.engine {
            Engine::Sqlite(db) => db.execute_batch(sql.to_owned()).await,
            Engine::Postgres(db) => db.execute_batch(sql).await,
        }
    }

    /// Test hook for fault injection: the next ProcessTask02Chunk fails after it has deleted and
    /// re-inserted the chunk's target rows, before the rejects and the ledger. On PostgreSQL the
    /// server terminates the session (a dropped connection); on SQLite the transaction is
    /// abandoned with an error. Either way the transaction must roll back.
    #[cfg(feature = "test-hooks")]
    pub fn fail_next_chunk_midway(&self) {
        self.fault.store(true, Ordering::SeqCst);
    }
}

/// One ProcessTask02Chunk's work, owned so it can move to a blocking thread.
struct ChunkJob {
    execution: String,
    chunk_id: i64,
    span: KeySpan,
    fault: bool,
}

/// The few places the two engines' SQL differs.
struct Dialect {
    /// A boolean SQL expression: `{}` (a column) is an SSN in the accepted format.
    valid_ssn: fn(&str) -> String,
    /// How the n-th (1-based) parameter is written.
    param: fn(usize) -> String,
    /// A condition (`AND ...` on the column `{}`) that keeps the rows whose visit_date is a
    /// well-formed date; empty where the column's type guarantees it.
    well_formed_date: fn(&str) -> String,
    /// A boolean SQL expression: the column `{}` holds a visit_date that is not a date.
    malformed_date: fn(&str) -> String,
    /// Whether a span's valid rows are found as the rows of its keys that are not invalid
    /// (all rows of a key share its SSN, and the partial index `visits_bad_ssn` holds the
    /// invalid ones) rather than by matching each row's SSN: cheaper where the pattern is a
    /// regular expression (PostgreSQL: 0.5 µs a row), dearer than SQLite's GLOB.
    valid_rows_by_invalid_keys: bool,
}

/// A statement parameter, which each engine turns into its own SQL value.
#[derive(Clone, Copy)]
enum SqlValue<'a> {
    Text(&'a str),
    Integer(i64),
    Date(NaiveDate),
}

/// Text is redacted: a chunk's bounds are SSNs.
impl std::fmt::Debug for SqlValue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlValue::Text(_) => write!(f, "Text({})", crate::ssn::REDACTED),
            SqlValue::Integer(n) => write!(f, "Integer({n})"),
            SqlValue::Date(date) => write!(f, "Date({date})"),
        }
    }
}

/// The statements that replace a span's rejects: `delete` takes the span's bounds (dated: first
/// date, first SSN, last date, last SSN; otherwise first SSN, last SSN), `insert` the execution
/// and the chunk id, then the bounds.
struct RejectStatements {
    delete: String,
    insert: String,
}

/// Every statement of ProcessTask02Chunk (see [`migrate_span`] for the order they run in).
/// Parameters, in order: `span` is the chunk's bounds as above, `target` the span's first and
/// last valid key as the target keeps them (date, nine digits, date, nine digits).
struct ChunkStatements {
    /// The span's first and last valid key, in the target's form: no row when it has none
    /// (span).
    target_span: String,
    /// Target rows in the target span, and of them this chunk's (execution, chunk, target).
    count_target: String,
    /// Deletes every target row of the target span (target).
    delete_target: String,
    /// Valid source rows of the span (span).
    count_valid: String,
    /// Deletes the target rows of the span that this run would not write identically: their
    /// source row is gone, has another key, or migrates to other values (execution, chunk,
    /// span, target).
    delete_stale: String,
    /// Inserts every valid row of the span (execution, chunk, span).
    insert_valid: String,
    /// Inserts the valid rows of the span that the target lacks (execution, chunk, span,
    /// target).
    insert_missing: String,
    dated_rejects: RejectStatements,
    undated_rejects: RejectStatements,
    bad_date_rejects: RejectStatements,
    /// Parameters: execution, chunk id, rows migrated, rows rejected.
    upsert_ledger: String,
}

impl ChunkStatements {
    fn new(dialect: &Dialect) -> Self {
        let p = dialect.param;
        // The span, as a condition on a source alias, whose bounds are the parameters from `at`
        // on. Both engines scan it as one index range. `key_range` leaves out the well-formed
        // date check for where the key is matched to a target row's (a real date).
        let key_range = |alias: &str, at: usize| {
            let (d1, s1, d2, s2) = (p(at), p(at + 1), p(at + 2), p(at + 3));
            format!(
                "{alias}.visit_date BETWEEN {d1} AND {d2} \
                 AND ({alias}.visit_date, {alias}.ssn) >= ({d1}, {s1}) \
                 AND ({alias}.visit_date, {alias}.ssn) <= ({d2}, {s2})"
            )
        };
        let dated = |alias: &str, at: usize| {
            key_range(alias, at) + &(dialect.well_formed_date)(&format!("{alias}.visit_date"))
        };
        // The same on the target, whose bounds are the span's first and last valid key. The
        // dates alone bound the range too: planners estimate a row comparison's range from its
        // first column only, so a span within a day read as a fifth of the table (a parallel
        // scan of it) where the `BETWEEN` tells one day.
        let target_span = |at: usize| {
            let (d1, s1, d2, s2) = (p(at), p(at + 1), p(at + 2), p(at + 3));
            format!(
                "t.visit_date BETWEEN {d1} AND {d2} AND (t.visit_date, t.ssn) >= ({d1}, {s1}) \
                 AND (t.visit_date, t.ssn) <= ({d2}, {s2})"
            )
        };
        let by_ssn = |alias: &str, at: usize, date_condition: &str| {
            format!(
                "{date_condition} AND {alias}.ssn >= {} AND {alias}.ssn <= {}",
                p(at),
                p(at + 1)
            )
        };
        let valid = (dialect.valid_ssn)("v.ssn");
        // The valid rows of the span whose bounds are the parameters from `at` on.
        let valid_rows = |at: usize| {
            if dialect.valid_rows_by_invalid_keys {
                format!(
                    "NOT EXISTS (SELECT 1 FROM visits b WHERE {} AND NOT ({}) \
                     AND b.visit_date = v.visit_date AND b.ssn = v.ssn)",
                    dated("b", at),
                    (dialect.valid_ssn)("b.ssn")
                )
            } else {
                valid.clone()
            }
        };
        let (execution, chunk) = (p(1), p(2));
        let first_or_last_valid_key = |order: &str| {
            format!(
                "(SELECT v.visit_date, replace(v.ssn, '-', '') AS ssn FROM visits v \
                 WHERE {} AND {valid} ORDER BY v.visit_date {order}, v.ssn {order} LIMIT 1)",
                dated("v", 1)
            )
        };
        let insert_valid = format!(
            "INSERT INTO visits_migrated \
             (visit_date, ssn, source_id, amount_cents, provider, execution, chunk_id) \
             SELECT v.visit_date, replace(v.ssn, '-', ''), v.id, v.amount_cents, \
             upper(trim(v.provider)), {execution}, {chunk} FROM visits v \
             WHERE {} AND {}",
            dated("v", 3),
            valid_rows(3)
        );
        // A reject row of the same source row may sit under the key the row had before (a
        // source row re-dated or given another SSN since): it is this row's reject now.
        let reject = |reason: RejectReason, from: String| {
            format!(
                "{REJECT_INSERT} SELECT v.id, v.visit_date, v.ssn, '{}', {execution}, {chunk} {from} \
                 ON CONFLICT (source_id) DO UPDATE SET visit_date = excluded.visit_date, \
                 ssn = excluded.ssn, reason = excluded.reason, execution = excluded.execution, \
                 chunk_id = excluded.chunk_id",
                reason.as_str()
            )
        };
        let malformed = |alias: &str| (dialect.malformed_date)(&format!("{alias}.visit_date"));
        Self {
            // The target keeps the SSN's nine digits; dashes at fixed places keep the order.
            target_span: format!(
                "SELECT first_key.visit_date, first_key.ssn, last_key.visit_date, last_key.ssn \
                 FROM {} AS first_key CROSS JOIN {} AS last_key",
                first_or_last_valid_key("ASC"),
                first_or_last_valid_key("DESC")
            ),
            count_target: format!(
                "SELECT count(*), count(*) FILTER (WHERE t.execution = {execution} \
                 AND t.chunk_id = {chunk}) FROM visits_migrated AS t WHERE {}",
                target_span(3)
            ),
            delete_target: format!("DELETE FROM visits_migrated AS t WHERE {}", target_span(1)),
            count_valid: format!(
                "SELECT count(*) FROM visits v WHERE {} AND {}",
                dated("v", 1),
                valid_rows(1)
            ),
            // `t.ssn` is nine digits, so an SSN of the pattern `___-__-____` that loses its
            // dashes to equal it is a valid one.
            delete_stale: format!(
                "DELETE FROM visits_migrated AS t WHERE {} AND NOT EXISTS (SELECT 1 FROM visits v \
                 WHERE {} AND v.id = t.source_id AND v.visit_date = t.visit_date \
                 AND replace(v.ssn, '-', '') = t.ssn AND v.ssn LIKE '___-__-____' \
                 AND v.amount_cents = t.amount_cents AND upper(trim(v.provider)) = t.provider \
                 AND t.execution = {execution} AND t.chunk_id = {chunk})",
                target_span(7),
                key_range("v", 3)
            ),
            insert_missing: format!(
                "{insert_valid} AND NOT EXISTS (SELECT 1 FROM visits_migrated t WHERE {} \
                 AND t.visit_date = v.visit_date AND t.ssn = replace(v.ssn, '-', '') \
                 AND t.source_id = v.id)",
                target_span(7)
            ),
            insert_valid,
            dated_rejects: RejectStatements {
                delete: format!("DELETE FROM visits_rejected AS t WHERE {}", dated("t", 1)),
                insert: reject(
                    RejectReason::BadSsnFormat,
                    format!("FROM visits v WHERE {} AND NOT ({valid})", dated("v", 3)),
                ),
            },
            undated_rejects: RejectStatements {
                delete: format!(
                    "DELETE FROM visits_rejected AS t WHERE {}",
                    by_ssn("t", 1, "t.visit_date IS NULL")
                ),
                insert: reject(
                    RejectReason::MissingDate,
                    format!(
                        "FROM visits v WHERE {}",
                        by_ssn("v", 3, "v.visit_date IS NULL")
                    ),
                ),
            },
            bad_date_rejects: RejectStatements {
                delete: format!(
                    "DELETE FROM visits_rejected AS t WHERE {}",
                    by_ssn("t", 1, &malformed("t"))
                ),
                insert: reject(
                    RejectReason::BadVisitDate,
                    format!("FROM visits v WHERE {}", by_ssn("v", 3, &malformed("v"))),
                ),
            },
            upsert_ledger: format!(
                "INSERT INTO task02_chunk_ledger \
                 (execution, chunk_id, rows_migrated, rows_rejected, finished_at) \
                 VALUES ({execution}, {chunk}, {}, {}, CURRENT_TIMESTAMP) \
                 ON CONFLICT (execution, chunk_id) DO UPDATE SET \
                 rows_migrated = excluded.rows_migrated, rows_rejected = excluded.rows_rejected, \
                 finished_at = excluded.finished_at",
                p(3),
                p(4)
            ),
        }
    }

    fn rejects(&self, span: &KeySpan) -> &RejectStatements {
        match span {
            KeySpan::Dated { .. } => &self.dated_rejects,
            KeySpan::Undated { .. } => &self.undated_rejects,
            KeySpan::BadDate { .. } => &self.bad_date_rejects,
        }
    }
}

/// ProcessTask02Chunk's transaction as each engine runs it: the statements and their order are
/// [`migrate_span`]'s.
trait ChunkTransaction {
    /// Runs `sql` and returns how many rows it changed.
    async fn execute(
        &mut self,
        sql: &'static str,
        params: &[SqlValue<'_>],
    ) -> Result<u64, HandlerError>;
    /// Runs `sql`, which selects one row of `N` counts.
    async fn counts<const N: usize>(
        &mut self,
        sql: &'static str,
        params: &[SqlValue<'_>],
    ) -> Result<[u64; N], HandlerError>;
    /// Runs [`ChunkStatements::target_span`].
    async fn target_span(
        &mut self,
        sql: &'static str,
        params: &[SqlValue<'_>],
    ) -> Result<Option<(DatedKey, DatedKey)>, HandlerError>;
    /// Test hook: ends the transaction as a failure mid-chunk would, and says so.
    async fn fail_midway(&mut self) -> HandlerError;
}

/// ProcessTask02Chunk inside the engine's transaction. A dated span whose keys the target holds
/// no row of yet gets its valid rows inserted; otherwise the target rows this run would not
/// write identically are deleted and the missing ones inserted, so a re-run rewrites only what
/// changed in the source (a retry of a chunk that committed writes nothing). Then the span's
/// rejects are replaced and the ledger row upserted.
async fn migrate_span(
    transaction: &mut impl ChunkTransaction,
    sql: &'static ChunkStatements,
    job: &ChunkJob,
) -> Result<ChunkCounts, HandlerError> {
    use SqlValue::{Integer, Text};
    let span = match &job.span {
        KeySpan::Dated { first, last } => dated_bounds(first, last).to_vec(),
        KeySpan::Undated { first, last } | KeySpan::BadDate { first, last } => {
            vec![Text(first.expose()), Text(last.expose())]
        }
    };
    let chunk_and_span = [&[Text(&job.execution), Integer(job.chunk_id)][..], &span].concat();

    let mut migrated = 0;
    if matches!(job.span, KeySpan::Dated { .. })
        && let Some((first, last)) = transaction.target_span(&sql.target_span, &span).await?
    {
        let target = dated_bounds(&first, &last);
        let chunk_and_target = [&chunk_and_span[..2], &target].concat();
        let [held, held_as_this_chunk] = transaction
            .counts(&sql.count_target, &chunk_and_target)
            .await?;
        migrated = if held_as_this_chunk == 0 {
            // A first run, or the rows of another execution: every row is written anew.
            if held > 0 {
                transaction.execute(&sql.delete_target, &target).await?;
            }
            transaction
                .execute(&sql.insert_valid, &chunk_and_span)
                .await?
        } else {
            let all = [&chunk_and_span[..], &target].concat();
            let deleted = transaction.execute(&sql.delete_stale, &all).await?;
            // What is left is identical to valid rows of the source, one each: when it is as
            // many as there are, nothing is missing.
            let kept = held.saturating_sub(deleted);
            let [valid] = transaction.counts(&sql.count_valid, &span).await?;
            kept + if kept < valid {
                transaction.execute(&sql.insert_missing, &all).await?
            } else {
                0
            }
        };
    }
    if job.fault {
        return Err(transaction.fail_midway().await);
    }
    let rejects = sql.rejects(&job.span);
    transaction.execute(&rejects.delete, &span).await?;
    let rejected = transaction
        .execute(&rejects.insert, &chunk_and_span)
        .await?;
    let ledger = [
        Text(&job.execution),
        Integer(job.chunk_id),
        Integer(i64::try_from(migrated).unwrap_or(i64::MAX)),
        Integer(i64::try_from(rejected).unwrap_or(i64::MAX)),
    ];
    transaction.execute(&sql.upsert_ledger, &ledger).await?;
    Ok(ChunkCounts { migrated, rejected })
}

/// A dated span's bounds as its statements take them: first date, first SSN, last date, last SSN.
fn dated_bounds<'a>(first: &'a DatedKey, last: &'a DatedKey) -> [SqlValue<'a>; 4] {
    [
        SqlValue::Date(first.visit_date),
        SqlValue::Text(first.ssn.expose()),
        SqlValue::Date(last.visit_date),
        SqlValue::Text(last.ssn.expose()),
    ]
}

/// A partial index of the source rows whose SSN is not in the accepted format (a few percent): a
/// dated span finds its `bad_ssn_format` rejects through it instead of scanning its range again.
/// Its condition is the reject statement's, word for word, so both planners match it.
fn bad_ssn_index(dialect: &Dialect) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS visits_bad_ssn ON visits (visit_date, ssn) WHERE NOT ({});\n",
        (dialect.valid_ssn)("ssn")
    )
}

/// The start of every insert into the rejects.
const REJECT_INSERT: &str =
    "INSERT INTO visits_rejected (source_id, visit_date, ssn, reason, execution, chunk_id)";

const KEYS_DATED: &str = "SELECT visit_date, ssn, count(*) FROM visits \
     WHERE visit_date BETWEEN {from} AND {to}{well_formed} GROUP BY visit_date, ssn \
     ORDER BY visit_date, ssn";
const KEYS_UNDATED: &str =
    "SELECT ssn, count(*) FROM visits WHERE visit_date IS NULL GROUP BY ssn ORDER BY ssn";
const MIGRATED_ROWS: &str = "SELECT source_id, visit_date, ssn, amount_cents, provider, execution, \
     chunk_id FROM visits_migrated ORDER BY source_id";
const REJECTED_ROWS: &str = "SELECT source_id, visit_date, reason, execution, chunk_id FROM visits_rejected ORDER BY source_id";
const LEDGER_ROWS: &str = "SELECT execution, chunk_id, rows_migrated, rows_rejected \
     FROM task02_chunk_ledger ORDER BY execution, chunk_id";

fn keys_dated_sql(dialect: &Dialect) -> String {
    KEYS_DATED
        .replace("{from}", &(dialect.param)(1))
        .replace("{to}", &(dialect.param)(2))
        .replace("{well_formed}", &(dialect.well_formed_date)("visit_date"))
}

fn channel_closed() -> HandlerError {
    HandlerError::transient("store chunks", "the chunk writer stopped")
}

fn count_to_u64(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
}
