//! The PostgreSQL engine: one connection (reopened when the server dropped it) behind an async
//! lock. Keys stream from the server (`query_raw`) so GetTask02Chunks holds one chunk at a time.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bytes::BytesMut;
use chrono::NaiveDate;
use futures_util::{TryStreamExt, pin_mut};
use tokio::sync::{Mutex, MutexGuard, mpsc};
use tokio_postgres::types::{IsNull, ToSql, Type};
use tokio_postgres::{Client, IsolationLevel, Row, Statement, Transaction};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::tls::{self, TlsOptions};
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

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS visits (
    id BIGINT PRIMARY KEY,
    visit_date DATE,
    ssn TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    provider TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS visits_key ON visits (visit_date, ssn);
CREATE TABLE IF NOT EXISTS visits_migrated (
    visit_date DATE NOT NULL,
    ssn TEXT NOT NULL,
    source_id BIGINT NOT NULL,
    amount_cents BIGINT NOT NULL,
    provider TEXT NOT NULL,
    execution TEXT NOT NULL,
    chunk_id BIGINT NOT NULL,
    PRIMARY KEY (visit_date, ssn, source_id)
);
CREATE TABLE IF NOT EXISTS visits_rejected (
    source_id BIGINT PRIMARY KEY,
    visit_date DATE,
    ssn TEXT NOT NULL,
    reason TEXT NOT NULL,
    execution TEXT NOT NULL,
    chunk_id BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS visits_rejected_key ON visits_rejected (visit_date, ssn);
CREATE TABLE IF NOT EXISTS task02_chunk_ledger (
    execution TEXT NOT NULL,
    chunk_id BIGINT NOT NULL,
    rows_migrated BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (execution, chunk_id)
);
";

pub(super) const DIALECT: Dialect = Dialect {
    valid_ssn: |column| format!("{column} ~ '^[0-9]{{3}}-[0-9]{{2}}-[0-9]{{4}}$'"),
    param: |n| format!("${n}"),
    // A `date` column holds dates only.
    well_formed_date: |_| String::new(),
    malformed_date: |_| "FALSE".to_owned(),
    valid_rows_by_invalid_keys: true,
};

fn statements() -> &'static ChunkStatements {
    static STATEMENTS: OnceLock<ChunkStatements> = OnceLock::new();
    STATEMENTS.get_or_init(|| ChunkStatements::new(&DIALECT))
}

/// Rows per multi-row insert when loading the source (arrays expanded by `unnest`).
const LOAD_BATCH_ROWS: usize = 20_000;

/// Gives the source, target and reject tables statistics when they have none yet. A table loaded
/// a moment ago has none until autovacuum analyzes it (within minutes), and without them the
/// planner guesses the sizes of a chunk's ranges. A role that may not analyze a table is told so in a
/// warning, not an error.
const ANALYZE_TABLES_WITHOUT_STATISTICS: &str = "DO $$ DECLARE t regclass; BEGIN \
     FOR t IN SELECT relid FROM pg_stat_user_tables \
       WHERE relid IN ('visits'::regclass, 'visits_migrated'::regclass, 'visits_rejected'::regclass) \
       AND last_analyze IS NULL AND last_autoanalyze IS NULL \
     LOOP EXECUTE format('ANALYZE %s', t); END LOOP; END $$";

#[derive(Clone)]
pub(super) struct Postgres {
    config: Arc<tokio_postgres::Config>,
    tls: MakeRustlsConnect,
    session: Arc<Mutex<Option<Session>>>,
}

/// One open connection and the statements prepared on it (a statement belongs to its connection,
/// so a reconnection starts an empty cache). Preparing once per warm Lambda environment spares
/// every chunk the server's parse of its statements (each is planned for its chunk's span).
struct Session {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
}

impl Postgres {
    pub(super) async fn connect(url: &str, options: &TlsOptions) -> Result<Self, HandlerError> {
        let tls = tls::configure(url, options)?;
        let this = Self {
            config: Arc::new(tls.config),
            tls: tls.connector,
            session: Arc::default(),
        };
        drop(this.client().await?);
        Ok(this)
    }

    /// The connection, reopened if the server closed it (a Lambda environment outlives many
    /// connections).
    async fn client(&self) -> Result<MutexGuard<'_, Option<Session>>, HandlerError> {
        let mut guard = self.session.lock().await;
        if guard
            .as_ref()
            .is_none_or(|session| session.client.is_closed())
        {
            let (client, connection) = self
                .config
                .connect(self.tls.clone())
                .await
                .map_err(tls::connect_error)?;
            tokio::spawn(async move {
                if connection.await.is_err() {
                    tracing::warn!("PostgreSQL connection ended with an error");
                }
            });
            // A chunk's statements join key ranges of thousands of rows each, which a plan from
            // guessed sizes turns into a nested loop rescanning one range per row of the other
            // (12 s where the hash join takes 20 ms): a generic plan guesses a span at a hundred
            // rows, and the target's statistics may date from when it was empty. So: hash joins,
            // planned for each chunk's span; no JIT, which the cost of a disabled plan node sets
            // off (80 ms to compile a 1 ms statement); and no parallel workers, as the Map runs
            // many chunks at once already.
            client
                .batch_execute(
                    "SET plan_cache_mode = force_custom_plan; SET enable_nestloop = off; \
                     SET jit = off; SET max_parallel_workers_per_gather = 0",
                )
                .await?;
            *guard = Some(Session {
                client,
                prepared: HashMap::new(),
            });
        }
        Ok(guard)
    }

    pub(super) async fn execute_batch(&self, sql: &str) -> Result<(), HandlerError> {
        let guard = self.client().await?;
        Ok(connected(&guard).batch_execute(sql).await?)
    }

    pub(super) async fn query_i64(&self, sql: &str) -> Result<i64, HandlerError> {
        let guard = self.client().await?;
        Ok(connected(&guard).query_one(sql, &[]).await?.get(0))
    }

    pub(super) async fn load_visits(
        &self,
        rows: impl Iterator<Item = VisitRow> + Send + 'static,
    ) -> Result<u64, HandlerError> {
        let mut guard = self.client().await?;
        let transaction = connected_mut(&mut guard).client.transaction().await?;
        let insert = transaction
            .prepare(
                "INSERT INTO visits (id, visit_date, ssn, amount_cents, provider) \
                 SELECT * FROM unnest($1::bigint[], $2::date[], $3::text[], $4::bigint[], $5::text[])",
            )
            .await?;
        let mut rows = rows.peekable();
        let mut loaded = 0;
        while rows.peek().is_some() {
            let batch: Vec<VisitRow> = rows.by_ref().take(LOAD_BATCH_ROWS).collect();
            let ids: Vec<i64> = batch.iter().map(|r| r.id).collect();
            let dates: Vec<Option<NaiveDate>> = batch.iter().map(|r| r.visit_date).collect();
            let ssns: Vec<&str> = batch.iter().map(|r| r.ssn.expose()).collect();
            let amounts: Vec<i64> = batch.iter().map(|r| r.amount_cents).collect();
            let providers: Vec<&str> = batch.iter().map(|r| r.provider.as_str()).collect();
            loaded += transaction
                .execute(&insert, &[&ids, &dates, &ssns, &amounts, &providers])
                .await?;
        }
        transaction.commit().await?;
        Ok(loaded)
    }

    pub(super) async fn pack_keys(
        &self,
        range: DateRange,
        budget: ChunkBudget,
        chunks: mpsc::Sender<PackedChunk>,
    ) -> Result<(), HandlerError> {
        let guard = self.client().await?;
        let client = connected(&guard);
        client
            .batch_execute(ANALYZE_TABLES_WITHOUT_STATISTICS)
            .await?;
        let mut packer = ChunkPacker::new(budget, range);
        let dates: [&(dyn ToSql + Sync); 2] = [&range.from, &range.to];
        // A `date` column holds no malformed date: two kinds of key.
        for (kind, keys) in [
            (KeyKind::Dated, keys_dated_sql(&DIALECT)),
            (KeyKind::Undated, KEYS_UNDATED.to_owned()),
        ] {
            let params = if kind == KeyKind::Dated {
                &dates[..]
            } else {
                &[]
            };
            let rows = client
                .query_raw(&keys, params.iter().copied())
                .await
                .map_err(source_error)?;
            pin_mut!(rows);
            while let Some(row) = rows.try_next().await? {
                let key = if kind == KeyKind::Dated {
                    ChunkKey {
                        visit_date: Some(row.try_get(0).map_err(source_error)?),
                        ssn: Ssn::new(row.try_get::<_, String>(1).map_err(ssn_error)?),
                        rows: count_to_u64(row.get(2)),
                        bad_visit_date: false,
                    }
                } else {
                    ChunkKey {
                        visit_date: None,
                        ssn: Ssn::new(row.try_get::<_, String>(0).map_err(ssn_error)?),
                        rows: count_to_u64(row.get(1)),
                        bad_visit_date: false,
                    }
                };
                if let Some(chunk) = packer.push(key) {
                    chunks.send(chunk).await.map_err(|_| channel_closed())?;
                }
            }
            let last = match packer.end_kind() {
                Some(chunk) => Some(chunk),
                None => {
                    let sql = rows_of_kind_sql(&DIALECT, kind);
                    let held: i64 = client.query_one(&sql, params).await?.get(0);
                    (held > 0).then(|| PackedChunk::whole_kind(kind, range))
                }
            };
            if let Some(chunk) = last {
                chunks.send(chunk).await.map_err(|_| channel_closed())?;
            }
        }
        Ok(())
    }

    pub(super) async fn process_chunk(&self, job: ChunkJob) -> Result<ChunkCounts, HandlerError> {
        let mut guard = self.client().await?;
        let result = process_chunk_on(connected_mut(&mut guard), job).await;
        if result.is_err() {
            // The session may be gone (or mid-rollback); the next call starts a fresh one
            // rather than racing the connection task to notice.
            *guard = None;
        }
        result
    }

    pub(super) async fn migrated_rows(&self) -> Result<Vec<MigratedRow>, HandlerError> {
        let guard = self.client().await?;
        let rows = connected(&guard).query(MIGRATED_ROWS, &[]).await?;
        Ok(rows
            .iter()
            .map(|row| MigratedRow {
                source_id: row.get(0),
                visit_date: row.get(1),
                ssn: Ssn::new(row.get::<_, String>(2)),
                amount_cents: row.get(3),
                provider: row.get(4),
                execution: row.get(5),
                chunk_id: row.get(6),
            })
            .collect())
    }

    pub(super) async fn rejected_rows(&self) -> Result<Vec<RejectedRow>, HandlerError> {
        let guard = self.client().await?;
        let rows = connected(&guard).query(REJECTED_ROWS, &[]).await?;
        rows.iter()
            .map(|row| {
                Ok(RejectedRow {
                    source_id: row.get(0),
                    visit_date: row.get(1),
                    reason: RejectReason::parse(row.get(2))?,
                    execution: row.get(3),
                    chunk_id: row.get(4),
                })
            })
            .collect()
    }

    pub(super) async fn ledger(&self) -> Result<Vec<LedgerRow>, HandlerError> {
        let guard = self.client().await?;
        let rows = connected(&guard).query(LEDGER_ROWS, &[]).await?;
        Ok(rows
            .iter()
            .map(|row| LedgerRow {
                execution: row.get(0),
                chunk_id: row.get(1),
                rows_migrated: row.get(2),
                rows_rejected: row.get(3),
            })
            .collect())
    }
}

/// ProcessTask02Chunk on one session, in one REPEATABLE READ transaction: every statement of
/// the chunk sees one snapshot, so the counts add up, and a row another transaction changes
/// meanwhile fails the chunk (a serialization failure or a key conflict) instead of being
/// counted or overwritten unseen.
async fn process_chunk_on(
    session: &mut Session,
    job: ChunkJob,
) -> Result<ChunkCounts, HandlerError> {
    let transaction = session
        .client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()
        .await?;
    let mut chunk = PgChunk {
        transaction,
        prepared: &mut session.prepared,
    };
    let counts = migrate_span(&mut chunk, statements(), &job).await?;
    chunk.transaction.commit().await?;
    Ok(counts)
}

/// A chunk's transaction, and the session's prepared statements (a statement prepared inside a
/// transaction outlives it).
struct PgChunk<'a> {
    transaction: Transaction<'a>,
    prepared: &'a mut HashMap<&'static str, Statement>,
}

impl PgChunk<'_> {
    async fn statement(&mut self, sql: &'static str) -> Result<Statement, HandlerError> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.transaction.prepare(sql).await?;
        self.prepared.insert(sql, statement.clone());
        Ok(statement)
    }

    async fn query(
        &mut self,
        sql: &'static str,
        params: &[SqlValue<'_>],
    ) -> Result<Vec<Row>, HandlerError> {
        let statement = self.statement(sql).await?;
        Ok(self.transaction.query(&statement, &bound(params)).await?)
    }
}

impl ChunkTransaction for PgChunk<'_> {
    async fn execute(
        &mut self,
        sql: &'static str,
        params: &[SqlValue<'_>],
    ) -> Result<u64, HandlerError> {
        let statement = self.statement(sql).await?;
        Ok(self.transaction.execute(&statement, &bound(params)).await?)
    }

    async fn counts<const N: usize>(
        &mut self,
        sql: &'static str,
        params: &[SqlValue<'_>],
    ) -> Result<[u64; N], HandlerError> {
        let rows = self.query(sql, params).await?;
        let row = rows
            .first()
            .ok_or_else(|| HandlerError::transient("PostgreSQL", "a count returned no row"))?;
        Ok(std::array::from_fn(|n| count_to_u64(row.get(n))))
    }

    async fn fail_midway(&mut self) -> HandlerError {
        // The server ends this session mid-transaction, exactly as a dropped connection.
        let _ = self
            .transaction
            .batch_execute("SELECT pg_terminate_backend(pg_backend_pid())")
            .await;
        HandlerError::transient("PostgreSQL", "injected fault mid-chunk")
    }
}

/// A key read that failed on the value's type or a NULL: the source table is not of the shape
/// the migration reads (a visit_date of another type than `date` fails the dates' binding too).
/// Other failures are what they are.
fn source_error(error: tokio_postgres::Error) -> HandlerError {
    if unreadable_value(&error) {
        unreadable_source_column("visit_date", "of type date")
    } else {
        error.into()
    }
}

fn ssn_error(error: tokio_postgres::Error) -> HandlerError {
    if unreadable_value(&error) {
        unreadable_source_column("ssn", "text and never NULL")
    } else {
        error.into()
    }
}

/// Whether a row's value, or a parameter, did not fit the column's type (or was NULL).
fn unreadable_value(error: &tokio_postgres::Error) -> bool {
    use std::error::Error;
    error.source().is_some_and(|source| {
        source.is::<tokio_postgres::types::WrongType>()
            || source.is::<tokio_postgres::types::WasNull>()
    })
}

fn bound<'a>(params: &'a [SqlValue<'_>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|value| value as _).collect()
}

/// Each value as the type it wraps would be written.
impl ToSql for SqlValue<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            SqlValue::Text(text) => text.to_sql(ty, out),
            SqlValue::OptionalText(text) => text.to_sql(ty, out),
            SqlValue::Integer(n) => n.to_sql(ty, out),
            SqlValue::Date(date) => date.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        <&str as ToSql>::accepts(ty) || i64::accepts(ty) || NaiveDate::accepts(ty)
    }

    // Checked against the wrapped value's type, not the union `accepts` gives.
    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            SqlValue::Text(text) => text.to_sql_checked(ty, out),
            SqlValue::OptionalText(text) => text.to_sql_checked(ty, out),
            SqlValue::Integer(n) => n.to_sql_checked(ty, out),
            SqlValue::Date(date) => date.to_sql_checked(ty, out),
        }
    }
}

/// The client a successful [`Postgres::client`] guarantees.
fn connected<'a>(guard: &'a MutexGuard<'_, Option<Session>>) -> &'a Client {
    &guard
        .as_ref()
        .expect("client() connects before returning")
        .client
}

fn connected_mut<'a>(guard: &'a mut MutexGuard<'_, Option<Session>>) -> &'a mut Session {
    guard.as_mut().expect("client() connects before returning")
}
