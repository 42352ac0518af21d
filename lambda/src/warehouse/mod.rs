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
//!   is one transaction: delete the target and reject rows of exactly the span's keys, insert the
//!   valid rows and the rejects with `INSERT ... SELECT` over one index range of the source, upsert
//!   the ledger row. Running it again replaces, so nothing doubles and nothing is lost; two
//!   executions writing the same keys at once on PostgreSQL meet on the target's key, and the one
//!   that loses fails as `Transient` and, retried, replaces the other's rows.

pub mod database_url;
mod postgres;
mod sqlite;
mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::NaiveDate;
use tokio::sync::mpsc;

use crate::chunks::{KeySpan, PackedChunk};
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
    /// `sqlite::memory:` (private, in memory), or `postgres://` / `postgresql://` URLs.
    pub async fn connect(url: &str) -> Result<Self, HandlerError> {
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
            Engine::Postgres(postgres::Postgres::connect(url).await?)
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
}

/// ProcessTask02Chunk's statements for one kind of span, in order: the deletes clear the target
/// and reject rows of exactly the span's keys, then the inserts write them again (plain inserts:
/// the deletes cleared every key). The fault hook fires after the first insert. The deletes take
/// the span's bounds as parameters (dated: first date, first SSN, last date, last SSN; otherwise
/// first SSN, last SSN); the inserts take the execution and the chunk id, then the bounds.
struct SpanStatements {
    deletes: Vec<String>,
    inserts: Vec<String>,
}

/// Every statement of ProcessTask02Chunk, by kind of span, and the ledger upsert (parameters:
/// execution, chunk id, rows migrated, rows rejected).
struct ChunkStatements {
    dated: SpanStatements,
    undated: SpanStatements,
    bad_date: SpanStatements,
    upsert_ledger: String,
}

impl ChunkStatements {
    fn new(dialect: &Dialect) -> Self {
        let p = dialect.param;
        let valid = (dialect.valid_ssn)("v.ssn");
        // The span, as a condition on the source alias `v` (or on `t` for the rejects), whose
        // bounds are the parameters from `at` on. Both engines scan it as one index range.
        let dated = |alias: &str, at: usize| {
            let (d1, s1, d2, s2) = (p(at), p(at + 1), p(at + 2), p(at + 3));
            format!(
                "{alias}.visit_date BETWEEN {d1} AND {d2} \
                 AND ({alias}.visit_date, {alias}.ssn) >= ({d1}, {s1}) \
                 AND ({alias}.visit_date, {alias}.ssn) <= ({d2}, {s2}){}",
                (dialect.well_formed_date)(&format!("{alias}.visit_date"))
            )
        };
        let by_ssn = |alias: &str, at: usize, date_condition: &str| {
            format!(
                "{date_condition} AND {alias}.ssn >= {} AND {alias}.ssn <= {}",
                p(at),
                p(at + 1)
            )
        };
        let (execution, chunk) = (p(1), p(2));
        let reject = |reason: RejectReason, from: String| {
            format!(
                "{REJECT_INSERT} SELECT v.id, v.visit_date, v.ssn, '{}', {execution}, {chunk} {from}",
                reason.as_str()
            )
        };
        let malformed = |alias: &str| (dialect.malformed_date)(&format!("{alias}.visit_date"));
        Self {
            dated: SpanStatements {
                deletes: vec![
                    // The target keeps the SSN's nine digits: its span runs from the first valid
                    // key to the last (dashes at fixed places keep the order).
                    format!(
                        "DELETE FROM visits_migrated WHERE \
                         (visit_date, ssn) >= (SELECT v.visit_date, replace(v.ssn, '-', '') \
                          FROM visits v WHERE {} AND {valid} ORDER BY v.visit_date, v.ssn LIMIT 1) \
                         AND (visit_date, ssn) <= (SELECT v.visit_date, replace(v.ssn, '-', '') \
                          FROM visits v WHERE {} AND {valid} \
                          ORDER BY v.visit_date DESC, v.ssn DESC LIMIT 1)",
                        dated("v", 1),
                        dated("v", 1)
                    ),
                    format!("DELETE FROM visits_rejected AS t WHERE {}", dated("t", 1)),
                ],
                inserts: vec![
                    format!(
                        "INSERT INTO visits_migrated \
                         (visit_date, ssn, source_id, amount_cents, provider, execution, chunk_id) \
                         SELECT v.visit_date, replace(v.ssn, '-', ''), v.id, v.amount_cents, \
                         upper(trim(v.provider)), {execution}, {chunk} FROM visits v \
                         WHERE {} AND {valid}",
                        dated("v", 3)
                    ),
                    reject(
                        RejectReason::BadSsnFormat,
                        format!("FROM visits v WHERE {} AND NOT ({valid})", dated("v", 3)),
                    ),
                ],
            },
            undated: SpanStatements {
                deletes: vec![format!(
                    "DELETE FROM visits_rejected AS t WHERE {}",
                    by_ssn("t", 1, "t.visit_date IS NULL")
                )],
                inserts: vec![reject(
                    RejectReason::MissingDate,
                    format!(
                        "FROM visits v WHERE {}",
                        by_ssn("v", 3, "v.visit_date IS NULL")
                    ),
                )],
            },
            bad_date: SpanStatements {
                deletes: vec![format!(
                    "DELETE FROM visits_rejected AS t WHERE {}",
                    by_ssn("t", 1, &malformed("t"))
                )],
                inserts: vec![reject(
                    RejectReason::BadVisitDate,
                    format!("FROM visits v WHERE {}", by_ssn("v", 3, &malformed("v"))),
                )],
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

    fn for_span(&self, span: &KeySpan) -> &SpanStatements {
        match span {
            KeySpan::Dated { .. } => &self.dated,
            KeySpan::Undated { .. } => &self.undated,
            KeySpan::BadDate { .. } => &self.bad_date,
        }
    }
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

/// A span's bounds in the order its statements take them (dated: first date, first SSN, last
/// date, last SSN; otherwise first SSN, last SSN), as the engine's parameter type `P`.
fn span_bounds<P>(
    span: &KeySpan,
    date: impl Fn(NaiveDate) -> P,
    ssn: impl Fn(&str) -> P,
) -> Vec<P> {
    match span {
        KeySpan::Dated { first, last } => vec![
            date(first.visit_date),
            ssn(first.ssn.expose()),
            date(last.visit_date),
            ssn(last.ssn.expose()),
        ],
        KeySpan::Undated { first, last } | KeySpan::BadDate { first, last } => {
            vec![ssn(first.expose()), ssn(last.expose())]
        }
    }
}

/// Rows migrated and rows rejected, from the counts of a span's inserts in order: a dated span
/// inserts its valid rows first, then its rejects; the others only reject.
fn split_counts(span: &KeySpan, inserted: &[u64]) -> (u64, u64) {
    match span {
        KeySpan::Dated { .. } => (inserted[0], inserted[1..].iter().sum()),
        KeySpan::Undated { .. } | KeySpan::BadDate { .. } => (0, inserted.iter().sum()),
    }
}

fn channel_closed() -> HandlerError {
    HandlerError::transient("store chunks", "the chunk writer stopped")
}

fn count_to_u64(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
}
