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
//! - A chunk is a span of the key order of one kind (see `chunks::KeySpan`): from just after the
//!   previous chunk's last key through its own, the kind's last chunk open to its end, so the
//!   spans cover the whole key order with neither gap nor overlap. ProcessTask02Chunk is one
//!   transaction reading the span as one index range of the source: it brings the target rows
//!   of exactly the span to what the source holds now (inserting them all when the target holds
//!   none of this chunk's yet; otherwise deleting the rows it would not write identically and
//!   inserting the missing ones, so a retry of a chunk that committed writes nothing), replaces
//!   the span's rejects and upserts the ledger row. A row whose key left the source lies in some
//!   chunk's span and goes, so an execution leaves what a first run would: nothing doubles,
//!   nothing is lost, nothing stays behind. On PostgreSQL the transaction sees one snapshot
//!   (REPEATABLE READ): two executions writing the same keys at once meet on the target's key
//!   or on a row both change, the one that loses fails as `Transient` and, retried, replaces
//!   the other's rows.

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

use crate::chunks::{DatedKey, KeyBounds, KeyKind, KeySpan, PackedChunk};
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

    /// Brings the target and the rejects of `span` to what the source holds, in one transaction
    /// (see the module notes).
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
    /// Text or NULL: an open side of an undated span's bounds.
    OptionalText(Option<&'a str>),
    Integer(i64),
    Date(NaiveDate),
}

/// Text is redacted: a chunk's bounds are SSNs.
impl std::fmt::Debug for SqlValue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlValue::Text(_) | SqlValue::OptionalText(Some(_)) => {
                write!(f, "Text({})", crate::ssn::REDACTED)
            }
            SqlValue::OptionalText(None) => write!(f, "Null"),
            SqlValue::Integer(n) => write!(f, "Integer({n})"),
            SqlValue::Date(date) => write!(f, "Date({date})"),
        }
    }
}

/// How a table keeps a key's SSN: the source as it came, the target as nine digits (dashes at
/// fixed places, so valid SSNs keep their order).
#[derive(Clone, Copy)]
enum SsnForm {
    Source,
    Target,
}

/// A dated region as its statements take it (six parameters, see `ChunkStatements::new`): the
/// days it lies within, then the key it lies after and the key it goes through. An open side is
/// a key just outside the range, so one statement serves every span: after (the day before the
/// range, '') and through (the day after it, ''). An empty region lies after and through the
/// same key.
struct DatedRegion {
    first_day: NaiveDate,
    after: (NaiveDate, String),
    last_day: NaiveDate,
    through: (NaiveDate, String),
}

impl DatedRegion {
    fn new(range: DateRange, bounds: Option<&KeyBounds<DatedKey>>, form: SsnForm) -> Self {
        let key = |key: &DatedKey| {
            let ssn = match form {
                SsnForm::Source => key.ssn.expose().to_owned(),
                SsnForm::Target => key.ssn.expose().replace('-', ""),
            };
            (key.visit_date, ssn)
        };
        let Some(bounds) = bounds else {
            let nowhere = (range.from, String::new());
            return Self {
                first_day: range.from,
                after: nowhere.clone(),
                last_day: range.from,
                through: nowhere,
            };
        };
        let after = bounds.after.as_ref().map_or_else(
            || (range.from.pred_opt().unwrap_or(range.from), String::new()),
            key,
        );
        let through = bounds.through.as_ref().map_or_else(
            || (range.to.succ_opt().unwrap_or(range.to), String::new()),
            key,
        );
        Self {
            first_day: bounds.after.as_ref().map_or(range.from, |k| k.visit_date),
            after,
            last_day: bounds.through.as_ref().map_or(range.to, |k| k.visit_date),
            through,
        }
    }

    fn values(&self) -> [SqlValue<'_>; 6] {
        [
            SqlValue::Date(self.first_day),
            SqlValue::Date(self.after.0),
            SqlValue::Text(&self.after.1),
            SqlValue::Date(self.last_day),
            SqlValue::Date(self.through.0),
            SqlValue::Text(&self.through.1),
        ]
    }
}

/// The statements that replace a span's rejects: `delete` takes the span's bounds (dated: a
/// [`DatedRegion`] of every key; otherwise the SSN after and the SSN through, NULL where open),
/// `insert` the execution and the chunk id, then the bounds.
struct RejectStatements {
    delete: String,
    insert: String,
}

/// Every statement of ProcessTask02Chunk (see [`migrate_span`] for the order they run in).
/// Parameters, in order: `valid` is the [`DatedRegion`] of the span's valid keys as the source
/// keeps them, `target` the same region as the target keeps it.
struct ChunkStatements {
    /// Target rows in the target region, and of them this chunk's (execution, chunk, target).
    count_target: String,
    /// Deletes every target row of the target region (target).
    delete_target: String,
    /// Valid source rows of the region (valid).
    count_valid: String,
    /// Deletes the target rows of the region that this run would not write identically: their
    /// source row is gone, has another key, or migrates to other values (execution, chunk,
    /// valid, target).
    delete_stale: String,
    /// Inserts every valid row of the region (execution, chunk, valid).
    insert_valid: String,
    /// Inserts the valid rows of the region that the target lacks (execution, chunk, valid,
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
        // A dated region (six parameters from `at` on) as a condition on a table alias. Both
        // engines scan it as one index range; the days bound it too, as planners estimate a row
        // comparison's range from its first column only (a span within a day read as a fifth
        // of the table, and was scanned in parallel, where the days tell one day).
        let region = |alias: &str, at: usize| {
            format!(
                "{alias}.visit_date BETWEEN {} AND {} \
                 AND ({alias}.visit_date, {alias}.ssn) > ({}, {}) \
                 AND ({alias}.visit_date, {alias}.ssn) <= ({}, {})",
                p(at),
                p(at + 3),
                p(at + 1),
                p(at + 2),
                p(at + 4),
                p(at + 5)
            )
        };
        // The same on a table whose visit_date may hold text that is not a date (SQLite).
        let dated = |alias: &str, at: usize| {
            region(alias, at) + &(dialect.well_formed_date)(&format!("{alias}.visit_date"))
        };
        // An undated or malformed-date span: the SSN after and through (two parameters from
        // `at` on), NULL for an open side. The comparison comes first so that PostgreSQL infers
        // the parameter's type from it.
        let by_ssn = |alias: &str, at: usize, date_condition: &str| {
            format!(
                "{date_condition} AND ({alias}.ssn > {a} OR {a} IS NULL) \
                 AND ({alias}.ssn <= {t} OR {t} IS NULL)",
                a = p(at),
                t = p(at + 1)
            )
        };
        let valid = (dialect.valid_ssn)("v.ssn");
        // The valid rows of the region whose parameters start at `at`.
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
            count_target: format!(
                "SELECT count(*), count(*) FILTER (WHERE t.execution = {execution} \
                 AND t.chunk_id = {chunk}) FROM visits_migrated AS t WHERE {}",
                region("t", 3)
            ),
            delete_target: format!("DELETE FROM visits_migrated AS t WHERE {}", region("t", 1)),
            count_valid: format!(
                "SELECT count(*) FROM visits v WHERE {} AND {}",
                dated("v", 1),
                valid_rows(1)
            ),
            // `t.ssn` is nine digits, so an SSN of the pattern `___-__-____` that loses its
            // dashes to equal it is a valid one. The source row is matched to a target row's
            // real date, so its own date needs no check.
            delete_stale: format!(
                "DELETE FROM visits_migrated AS t WHERE {} AND NOT EXISTS (SELECT 1 FROM visits v \
                 WHERE {} AND v.id = t.source_id AND v.visit_date = t.visit_date \
                 AND replace(v.ssn, '-', '') = t.ssn AND v.ssn LIKE '___-__-____' \
                 AND v.amount_cents = t.amount_cents AND upper(trim(v.provider)) = t.provider \
                 AND t.execution = {execution} AND t.chunk_id = {chunk})",
                region("t", 9),
                region("v", 3)
            ),
            insert_missing: format!(
                "{insert_valid} AND NOT EXISTS (SELECT 1 FROM visits_migrated t WHERE {} \
                 AND t.visit_date = v.visit_date AND t.ssn = replace(v.ssn, '-', '') \
                 AND t.source_id = v.id)",
                region("t", 9)
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
    /// Test hook: ends the transaction as a failure mid-chunk would, and says so.
    async fn fail_midway(&mut self) -> HandlerError;
}

/// ProcessTask02Chunk inside the engine's transaction. A dated span whose region the target
/// holds no row of this chunk in gets its valid rows inserted (after deleting any other
/// execution's); otherwise the target rows this run would not write identically are deleted and
/// the missing ones inserted, so a re-run rewrites only what changed in the source (a retry of a
/// chunk that committed writes nothing). Then the span's rejects are replaced and the ledger row
/// upserted. The region is the whole span, gaps and open ends included, so rows of keys that
/// left the source go too.
async fn migrate_span(
    transaction: &mut impl ChunkTransaction,
    sql: &'static ChunkStatements,
    job: &ChunkJob,
) -> Result<ChunkCounts, HandlerError> {
    use SqlValue::{Integer, OptionalText, Text};
    let chunk = [Text(&job.execution), Integer(job.chunk_id)];
    let mut migrated = 0;
    let every_key;
    let rejects_region = match &job.span {
        KeySpan::Dated {
            date_range,
            keys,
            valid_keys,
        } => {
            let valid = DatedRegion::new(*date_range, valid_keys.as_ref(), SsnForm::Source);
            let target = DatedRegion::new(*date_range, valid_keys.as_ref(), SsnForm::Target);
            migrated = migrate_valid_rows(transaction, sql, &chunk, &valid, &target).await?;
            every_key = DatedRegion::new(*date_range, Some(keys), SsnForm::Source);
            every_key.values().to_vec()
        }
        KeySpan::Undated { keys } | KeySpan::BadDate { keys } => vec![
            OptionalText(keys.after.as_ref().map(Ssn::expose)),
            OptionalText(keys.through.as_ref().map(Ssn::expose)),
        ],
    };
    if job.fault {
        return Err(transaction.fail_midway().await);
    }
    let rejects = sql.rejects(&job.span);
    transaction
        .execute(&rejects.delete, &rejects_region)
        .await?;
    let rejected = transaction
        .execute(&rejects.insert, &[&chunk[..], &rejects_region].concat())
        .await?;
    let ledger = [
        chunk[0],
        chunk[1],
        Integer(i64::try_from(migrated).unwrap_or(i64::MAX)),
        Integer(i64::try_from(rejected).unwrap_or(i64::MAX)),
    ];
    transaction.execute(&sql.upsert_ledger, &ledger).await?;
    Ok(ChunkCounts { migrated, rejected })
}

/// Brings the target rows of a dated span's valid region to what the source holds; returns the
/// target rows the region holds afterwards.
async fn migrate_valid_rows(
    transaction: &mut impl ChunkTransaction,
    sql: &'static ChunkStatements,
    chunk: &[SqlValue<'_>; 2],
    valid: &DatedRegion,
    target: &DatedRegion,
) -> Result<u64, HandlerError> {
    let (valid, target) = (valid.values(), target.values());
    let chunk_and_valid = [&chunk[..], &valid].concat();
    let [held, held_as_this_chunk] = transaction
        .counts(&sql.count_target, &[&chunk[..], &target].concat())
        .await?;
    if held_as_this_chunk == 0 {
        // A first run, or the rows of another execution: every row is written anew.
        if held > 0 {
            transaction.execute(&sql.delete_target, &target).await?;
        }
        return transaction
            .execute(&sql.insert_valid, &chunk_and_valid)
            .await;
    }
    let all = [&chunk_and_valid[..], &target].concat();
    let deleted = transaction.execute(&sql.delete_stale, &all).await?;
    // What is left is identical to valid rows of the source, one each: when it is as many as
    // there are, nothing is missing.
    let kept = held.saturating_sub(deleted);
    let [valid_rows] = transaction.counts(&sql.count_valid, &valid).await?;
    Ok(kept
        + if kept < valid_rows {
            transaction.execute(&sql.insert_missing, &all).await?
        } else {
            0
        })
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

/// One row (a count: 0 or 1) when the target or the rejects hold a row of `kind` (dated: of the
/// date range, parameters 1 and 2). A kind the source has no key of then still gets a chunk, of
/// its whole span, which removes those rows.
fn rows_of_kind_sql(dialect: &Dialect, kind: KeyKind) -> String {
    let any = |table: &str, condition: String| {
        format!(
            "(SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {condition} LIMIT 1) AS {table})"
        )
    };
    match kind {
        KeyKind::Dated => {
            let dates = format!(
                "visit_date BETWEEN {} AND {}",
                (dialect.param)(1),
                (dialect.param)(2)
            );
            format!(
                "SELECT {} + {}",
                any("visits_migrated", dates.clone()),
                any(
                    "visits_rejected",
                    dates + &(dialect.well_formed_date)("visit_date")
                )
            )
        }
        KeyKind::Undated => format!(
            "SELECT {}",
            any("visits_rejected", "visit_date IS NULL".into())
        ),
        KeyKind::BadDate => format!(
            "SELECT {}",
            any("visits_rejected", (dialect.malformed_date)("visit_date"))
        ),
    }
}

/// A source column holds what the tool cannot read (a NULL SSN, a visit_date of another type):
/// an existing warehouse whose `visits` table is not of the shape the migration reads.
fn unreadable_source_column(column: &str, shape: &str) -> HandlerError {
    HandlerError::new(
        crate::contract::HandlerErrorName::InvalidInput,
        format!(
            "the warehouse's visits.{column} holds a value the migration cannot read; it must be \
             {shape}: fix the source table (or the view the warehouse reads) and start again"
        ),
    )
}

fn channel_closed() -> HandlerError {
    HandlerError::transient("store chunks", "the chunk writer stopped")
}

fn count_to_u64(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
}
