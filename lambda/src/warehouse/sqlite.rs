//! The SQLite engine: one connection behind a mutex, every call on a blocking thread.
//!
//! SQLite keeps dates as text, so a source row can hold a visit_date that is not a date: such rows
//! are keyed by SSN after the undated keys and rejected as `bad_visit_date` (see the warehouse
//! notes), through a partial index that holds only them.

use std::sync::{Arc, Mutex, OnceLock};

use chrono::NaiveDate;

use rusqlite::types::ToSqlOutput;
use rusqlite::{
    Connection, OptionalExtension, ToSql, TransactionBehavior, params, params_from_iter,
};
use tokio::sync::mpsc;

use super::{
    ChunkCounts, ChunkJob, ChunkStatements, ChunkTransaction, Dialect, KEYS_UNDATED, LEDGER_ROWS,
    LedgerRow, MIGRATED_ROWS, MigratedRow, REJECTED_ROWS, RejectReason, RejectedRow, SqlValue,
    VisitRow, channel_closed, count_to_u64, keys_dated_sql, migrate_span, rows_of_kind_sql,
    unreadable_source_column,
};
use crate::chunks::{ChunkKey, ChunkPacker, KeyKind, PackedChunk};
use crate::contract::{ChunkBudget, DateRange};
use crate::error::HandlerError;
use crate::ssn::Ssn;

/// `visit_date` holds something other than a well-formed date: `date(d, '+0 days')` is NULL for
/// text SQLite cannot read and goes through a day number for the rest, which normalizes it
/// ('2024-02-30' becomes '2024-03-01', '2024-01-01 10:00' '2024-01-01', on every SQLite version),
/// so only a real YYYY-MM-DD comes back unchanged. (A macro, to be spliced into constants: the
/// partial index is used only by queries that repeat its condition word for word.)
macro_rules! malformed_date {
    () => {
        "visit_date IS NOT NULL AND date(visit_date, '+0 days') IS NOT visit_date"
    };
}

pub(super) const SCHEMA: &str = concat!(
    "
CREATE TABLE IF NOT EXISTS visits (
    id INTEGER PRIMARY KEY,
    visit_date TEXT,
    ssn TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    provider TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS visits_key ON visits (visit_date, ssn);
CREATE INDEX IF NOT EXISTS visits_bad_date ON visits (ssn) WHERE ",
    malformed_date!(),
    ";
CREATE INDEX IF NOT EXISTS visits_bad_date_text ON visits (visit_date) WHERE ",
    malformed_date!(),
    ";
CREATE TABLE IF NOT EXISTS visits_migrated (
    visit_date TEXT NOT NULL,
    ssn TEXT NOT NULL,
    source_id INTEGER NOT NULL,
    amount_cents INTEGER NOT NULL,
    provider TEXT NOT NULL,
    execution TEXT NOT NULL,
    chunk_id INTEGER NOT NULL,
    PRIMARY KEY (visit_date, ssn, source_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS visits_rejected (
    source_id INTEGER PRIMARY KEY,
    visit_date TEXT,
    ssn TEXT NOT NULL,
    reason TEXT NOT NULL,
    execution TEXT NOT NULL,
    chunk_id INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS visits_rejected_key ON visits_rejected (visit_date, ssn);
CREATE TABLE IF NOT EXISTS task02_chunk_ledger (
    execution TEXT NOT NULL,
    chunk_id INTEGER NOT NULL,
    rows_migrated INTEGER NOT NULL,
    rows_rejected INTEGER NOT NULL,
    finished_at TEXT NOT NULL,
    PRIMARY KEY (execution, chunk_id)
);
"
);

pub(super) const DIALECT: Dialect = Dialect {
    valid_ssn: |column| format!("{column} GLOB '[0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][0-9][0-9]'"),
    param: |n| format!("?{n}"),
    well_formed_date: |column| format!(" AND date({column}, '+0 days') = {column}"),
    // Word for word the partial index's condition, so the planner uses the index.
    malformed_date: |column| {
        format!("{column} IS NOT NULL AND date({column}, '+0 days') IS NOT {column}")
    },
    valid_rows_by_invalid_keys: false,
};

/// Each SSN with rows of malformed dates, and their number: one key each.
const KEYS_BAD_DATE: &str = concat!(
    "SELECT ssn, count(*) FROM visits WHERE ",
    malformed_date!(),
    " GROUP BY ssn ORDER BY ssn"
);

/// Whether a malformed visit_date sorts between two dates (the first and the last of a dated
/// span): text such as '2024-02-30' lies inside the span's range without being a date of it.
const MALFORMED_DATES_BETWEEN: &str = concat!(
    "SELECT EXISTS (SELECT 1 FROM visits WHERE ",
    malformed_date!(),
    " AND visit_date BETWEEN ?1 AND ?2)"
);

/// The statements for spans whose date range may hold malformed dates: each row's date is
/// checked. Spans without any (nearly all: `MALFORMED_DATES_BETWEEN` asks the partial index
/// `visits_bad_date_text`) skip the check, a tenth of a chunk's time.
fn statements(malformed_dates_in_range: bool) -> &'static ChunkStatements {
    static CHECKED: OnceLock<ChunkStatements> = OnceLock::new();
    static UNCHECKED: OnceLock<ChunkStatements> = OnceLock::new();
    if malformed_dates_in_range {
        CHECKED.get_or_init(|| ChunkStatements::new(&DIALECT))
    } else {
        UNCHECKED.get_or_init(|| {
            ChunkStatements::new(&Dialect {
                well_formed_date: |_| String::new(),
                ..DIALECT
            })
        })
    }
}

/// Creates the database file owner-only (0600) if it does not exist: it will hold SSNs. SQLite
/// gives its -wal, -shm and journal files the database file's mode, so they are private too. An
/// existing file keeps its mode (it is the owner's choice).
fn create_private(path: &str) -> Result<(), HandlerError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(|error| {
            HandlerError::transient(
                "SQLite",
                format_args!("cannot create the database file: {error}"),
            )
        })
}

#[derive(Clone)]
pub(super) struct Sqlite {
    connection: Arc<Mutex<Connection>>,
}

impl Sqlite {
    /// `None` opens a private in-memory database.
    pub(super) fn open(path: Option<&str>) -> Result<Self, HandlerError> {
        let connection = match path {
            Some(path) => {
                create_private(path)?;
                Connection::open(path)?
            }
            None => Connection::open_in_memory()?,
        };
        // WAL lets readers run beside the one writer; a busy writer waits instead of failing.
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        // Room for every statement of a chunk, of both statement sets, parsed once.
        connection.set_prepared_statement_cache_capacity(32);
        if path.is_some() {
            connection
                .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                .optional()?;
        }
        // 64 MiB of page cache (the default is 2 MiB): a re-run checks each target row against
        // its source row, found by id all over the table (at 16 MiB the bench's re-run took
        // 0.27 to 0.29 s instead of 0.21 to 0.25 s), and the sample loader fills the key index
        // in id order.
        connection.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;",
        )?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `work` on a blocking thread with the connection.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, HandlerError> + Send + 'static,
    ) -> Result<T, HandlerError> {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            // A panic mid-transaction rolled it back when the Transaction dropped: the
            // connection is still usable.
            let mut connection = connection.lock().unwrap_or_else(|p| p.into_inner());
            work(&mut connection)
        })
        .await
        .map_err(|_| HandlerError::transient("SQLite", "worker thread panicked"))?
    }

    pub(super) async fn execute_batch(&self, sql: String) -> Result<(), HandlerError> {
        self.run(move |c| Ok(c.execute_batch(&sql)?)).await
    }

    pub(super) async fn query_i64(&self, sql: String) -> Result<i64, HandlerError> {
        self.run(move |c| Ok(c.query_row(&sql, [], |row| row.get(0))?))
            .await
    }

    pub(super) async fn load_visits(
        &self,
        rows: impl Iterator<Item = VisitRow> + Send + 'static,
    ) -> Result<u64, HandlerError> {
        self.run(move |c| {
            let transaction = c.transaction()?;
            let mut loaded = 0;
            {
                let mut insert = transaction.prepare(
                    "INSERT INTO visits (id, visit_date, ssn, amount_cents, provider) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for row in rows {
                    insert.execute(params![
                        row.id,
                        row.visit_date,
                        row.ssn.expose(),
                        row.amount_cents,
                        row.provider
                    ])?;
                    loaded += 1;
                }
            }
            transaction.commit()?;
            Ok(loaded)
        })
        .await
    }

    pub(super) async fn pack_keys(
        &self,
        range: DateRange,
        budget: ChunkBudget,
        chunks: mpsc::Sender<PackedChunk>,
    ) -> Result<(), HandlerError> {
        self.run(move |c| {
            let send = |chunk| chunks.blocking_send(chunk).map_err(|_| channel_closed());
            let mut packer = ChunkPacker::new(budget, range);
            let kinds = [
                (KeyKind::Dated, keys_dated_sql(&DIALECT)),
                (KeyKind::Undated, KEYS_UNDATED.to_owned()),
                (KeyKind::BadDate, KEYS_BAD_DATE.to_owned()),
            ];
            for (kind, keys) in kinds {
                let mut keys = c.prepare(&keys)?;
                let mut rows = match kind {
                    KeyKind::Dated => keys.query(params![range.from, range.to])?,
                    KeyKind::Undated | KeyKind::BadDate => keys.query([])?,
                };
                while let Some(row) = rows.next()? {
                    let key = match kind {
                        KeyKind::Dated => ChunkKey {
                            visit_date: Some(row.get(0).map_err(|_| unreadable_date())?),
                            ssn: ssn_at(row, 1)?,
                            rows: count_to_u64(row.get(2)?),
                            bad_visit_date: false,
                        },
                        KeyKind::Undated | KeyKind::BadDate => ChunkKey {
                            visit_date: None,
                            ssn: ssn_at(row, 0)?,
                            rows: count_to_u64(row.get(1)?),
                            bad_visit_date: kind == KeyKind::BadDate,
                        },
                    };
                    if let Some(chunk) = packer.push(key) {
                        send(chunk)?;
                    }
                }
                match packer.end_kind() {
                    Some(chunk) => send(chunk)?,
                    None if holds_rows_of(c, kind, range)? => {
                        send(PackedChunk::whole_kind(kind, range))?
                    }
                    None => {}
                }
            }
            Ok(())
        })
        .await
    }

    pub(super) async fn process_chunk(&self, job: ChunkJob) -> Result<ChunkCounts, HandlerError> {
        self.run(move |c| {
            // IMMEDIATE takes the write lock up front, so two writers queue instead of one
            // failing to upgrade its read lock.
            let transaction = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let malformed_dates_in_range = match job.span.dates() {
                Some((first, last)) => transaction
                    .prepare_cached(MALFORMED_DATES_BETWEEN)?
                    .query_row(params![first, last], |row| row.get(0))?,
                None => true,
            };
            // The statements run synchronously here, on the blocking thread: the future is
            // ready at its first poll.
            let counts = tokio::runtime::Handle::current().block_on(migrate_span(
                &mut SqliteChunk(&transaction),
                statements(malformed_dates_in_range),
                &job,
            ))?;
            transaction.commit()?;
            Ok(counts)
        })
        .await
    }

    pub(super) async fn migrated_rows(&self) -> Result<Vec<MigratedRow>, HandlerError> {
        self.run(|c| {
            let mut statement = c.prepare(MIGRATED_ROWS)?;
            let rows = statement.query_map([], |row| {
                Ok(MigratedRow {
                    source_id: row.get(0)?,
                    visit_date: row.get(1)?,
                    ssn: Ssn::new(row.get::<_, String>(2)?),
                    amount_cents: row.get(3)?,
                    provider: row.get(4)?,
                    execution: row.get(5)?,
                    chunk_id: row.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub(super) async fn rejected_rows(&self) -> Result<Vec<RejectedRow>, HandlerError> {
        self.run(|c| {
            let mut statement = c.prepare(REJECTED_ROWS)?;
            let mut rows = statement.query([])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(RejectedRow {
                    source_id: row.get(0)?,
                    // A malformed date is rejected as it was: it reads as no date.
                    visit_date: row
                        .get::<_, Option<String>>(1)?
                        .and_then(|text| NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok()),
                    reason: RejectReason::parse(&row.get::<_, String>(2)?)?,
                    execution: row.get(3)?,
                    chunk_id: row.get(4)?,
                });
            }
            Ok(out)
        })
        .await
    }

    pub(super) async fn ledger(&self) -> Result<Vec<LedgerRow>, HandlerError> {
        self.run(|c| {
            let mut statement = c.prepare(LEDGER_ROWS)?;
            let rows = statement.query_map([], |row| {
                Ok(LedgerRow {
                    execution: row.get(0)?,
                    chunk_id: row.get(1)?,
                    rows_migrated: row.get(2)?,
                    rows_rejected: row.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}

/// A chunk's transaction. Statements are cached on the connection: a warm environment parses
/// each once.
struct SqliteChunk<'a>(&'a rusqlite::Transaction<'a>);

impl ChunkTransaction for SqliteChunk<'_> {
    async fn execute(
        &mut self,
        sql: &'static str,
        params: &[SqlValue<'_>],
    ) -> Result<u64, HandlerError> {
        let changed = self
            .0
            .prepare_cached(sql)?
            .execute(params_from_iter(params))?;
        Ok(changed as u64)
    }

    async fn counts<const N: usize>(
        &mut self,
        sql: &'static str,
        params: &[SqlValue<'_>],
    ) -> Result<[u64; N], HandlerError> {
        let counts = self
            .0
            .prepare_cached(sql)?
            .query_row(params_from_iter(params), |row| {
                let mut counts = [0; N];
                for (n, count) in counts.iter_mut().enumerate() {
                    *count = count_to_u64(row.get(n)?);
                }
                Ok(counts)
            })?;
        Ok(counts)
    }

    async fn fail_midway(&mut self) -> HandlerError {
        // Dropping the transaction rolls it back, as a lost connection would.
        HandlerError::transient("SQLite", "injected fault mid-chunk")
    }
}

/// Whether the target or the rejects hold a row of `kind` (see [`super::rows_of_kind_sql`]).
fn holds_rows_of(c: &Connection, kind: KeyKind, range: DateRange) -> Result<bool, HandlerError> {
    let sql = rows_of_kind_sql(&DIALECT, kind);
    let mut statement = c.prepare_cached(&sql)?;
    let count: i64 = match kind {
        KeyKind::Dated => statement.query_row(params![range.from, range.to], |row| row.get(0))?,
        KeyKind::Undated | KeyKind::BadDate => statement.query_row([], |row| row.get(0))?,
    };
    Ok(count > 0)
}

/// The SSN in column `at` of a key row: an error naming the column for a NULL or a non-text
/// value (an existing warehouse's own table may allow them).
fn ssn_at(row: &rusqlite::Row<'_>, at: usize) -> Result<Ssn, HandlerError> {
    row.get::<_, String>(at)
        .map(Ssn::new)
        .map_err(|_| unreadable_source_column("ssn", "text and never NULL"))
}

fn unreadable_date() -> HandlerError {
    unreadable_source_column("visit_date", "a date as YYYY-MM-DD text, or NULL")
}

/// Dates as SQLite keeps them: `YYYY-MM-DD` text.
impl ToSql for SqlValue<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            SqlValue::Text(text) => ToSqlOutput::from(text),
            SqlValue::OptionalText(Some(text)) => ToSqlOutput::from(text),
            SqlValue::OptionalText(None) => ToSqlOutput::from(rusqlite::types::Null),
            SqlValue::Integer(n) => ToSqlOutput::from(n),
            SqlValue::Date(date) => ToSqlOutput::from(date.format("%F").to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dated_span_finds_its_bad_ssn_rows_through_the_partial_index() {
        let db = Sqlite::open(None).unwrap();
        db.execute_batch(SCHEMA.to_owned() + &super::super::bad_ssn_index(&DIALECT))
            .await
            .unwrap();
        let rejects = statements(true).dated_rejects.insert.clone();
        let plan = db
            .run(move |c| {
                let mut plan = c.prepare(&format!("EXPLAIN QUERY PLAN {rejects}"))?;
                let bounds = (
                    "e",
                    0,
                    "2024-01-01",
                    "2024-01-01",
                    "000-00-0000",
                    "2024-12-31",
                    "2024-12-31",
                    "999-99-9999",
                );
                let details = plan.query_map(bounds, |row| row.get::<_, String>(3))?;
                Ok(details.collect::<Result<Vec<_>, _>>()?.join("; "))
            })
            .await
            .unwrap();
        assert!(plan.contains("visits_bad_ssn"), "{plan}");
    }

    #[tokio::test]
    async fn a_span_checks_its_rows_dates_only_when_a_malformed_one_sorts_inside_it() {
        let db = Sqlite::open(None).unwrap();
        db.execute_batch(
            SCHEMA.to_owned()
                + "INSERT INTO visits VALUES (1, '2024-02-30', '123-45-6789', 1, 'x'), \
                   (2, 'yesterday', '123-45-6789', 1, 'x');",
        )
        .await
        .unwrap();
        let (plan, february, march) = db
            .run(|c| {
                let mut plan =
                    c.prepare(&format!("EXPLAIN QUERY PLAN {MALFORMED_DATES_BETWEEN}"))?;
                let details =
                    plan.query_map(("2024-01-01", "2024-12-31"), |row| row.get::<_, String>(3))?;
                let plan = details.collect::<Result<Vec<_>, _>>()?.join("; ");
                let mut between = c.prepare(MALFORMED_DATES_BETWEEN)?;
                let mut holds = |from: &str, to: &str| {
                    between.query_row((from, to), |row| row.get::<_, bool>(0))
                };
                Ok((
                    plan,
                    holds("2024-02-01", "2024-03-03")?,
                    holds("2024-03-01", "2024-03-31")?,
                ))
            })
            .await
            .unwrap();
        assert!(plan.contains("visits_bad_date_text"), "{plan}");
        assert!(
            february,
            "'2024-02-30' sorts between 2024-02-01 and 2024-03-03"
        );
        assert!(!march, "nothing malformed sorts inside March");
        assert!(statements(true).insert_valid.contains("date(v.visit_date"));
        assert!(!statements(false).insert_valid.contains("date(v.visit_date"));
    }

    #[tokio::test]
    async fn a_new_database_and_its_wal_and_shm_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warehouse.sqlite3");
        let db = Sqlite::open(Some(path.to_str().unwrap())).unwrap();
        db.execute_batch(SCHEMA.to_owned()).await.unwrap();
        // The connection is open: the -wal and -shm files exist.
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.path().join(format!("warehouse.sqlite3{suffix}"));
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}: {mode:o}", file.display());
        }
    }
}
