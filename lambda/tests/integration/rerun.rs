//! A re-run after the source changed leaves exactly what a first run over the final source would,
//! on both engines: the rows of keys that left the source go, wherever they sat (at a chunk's
//! edge, between two chunks, before the first or after the last chunk of the new split, in a key
//! kind that has no chunk any more).
//!
//! The expected tables are computed here from a model of the source, not by the code under test:
//! a row with a date in the range and an SSN in the `ddd-dd-dddd` format migrates (nine digits,
//! provider trimmed and upper-cased); every other row of the range, every undated row and (SQLite)
//! every row whose date is not a date is rejected with its reason.
//!
//! Also here: a source table whose values the migration cannot read is one clear error.

use crate::common::{self, Engine, database_url, local_stores, process_all, unique};
use crate::on_both_engines;
use chrono::NaiveDate;
use etl_lambda::Handlers;
use etl_lambda::contract::{
    ChunkBudget, ChunkStoreUri, DateRange, GetTask02ChunksInput, HandlerErrorName,
};
use etl_lambda::warehouse::{RejectReason, Warehouse};

on_both_engines!(
    a_row_deleted_at_a_chunks_edge_leaves_the_target,
    random_edits_between_runs_leave_what_a_first_run_would,
    an_unreadable_source_column_is_one_clear_error,
);

/// A source row's visit_date as the warehouse holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum VisitDate {
    Missing,
    Date(NaiveDate),
    /// Text that is not a date (SQLite keeps dates as text).
    Malformed(&'static str),
}

#[derive(Clone, Debug)]
struct SourceRow {
    id: i64,
    visit_date: VisitDate,
    ssn: String,
    amount_cents: i64,
    provider: String,
}

/// The source as the test changed it, and one test's warehouse and handlers.
struct Case {
    warehouse: Warehouse,
    handlers: Handlers,
    range: DateRange,
    source: Vec<SourceRow>,
    _dir: tempfile::TempDir,
}

fn day(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(u64::from(n))
}

/// Days 1 to 4 of January 2024 (day 0 and day 5 lie outside).
fn range() -> DateRange {
    DateRange::new(day(1), day(4)).unwrap()
}

fn sql_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn insert_sql(row: &SourceRow) -> String {
    let date = match &row.visit_date {
        VisitDate::Missing => "NULL".to_owned(),
        VisitDate::Date(date) => format!("'{date}'"),
        VisitDate::Malformed(text) => sql_text(text),
    };
    format!(
        "INSERT INTO visits (id, visit_date, ssn, amount_cents, provider) VALUES ({}, {date}, {}, {}, {});",
        row.id,
        sql_text(&row.ssn),
        row.amount_cents,
        sql_text(&row.provider)
    )
}

impl Case {
    async fn new(engine: Engine, name: &str, source: Vec<SourceRow>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = database_url(engine, &dir, name).await;
        let warehouse = Warehouse::connect(&url).await.unwrap();
        warehouse.create_schema().await.unwrap();
        let inserts: String = source.iter().map(insert_sql).collect();
        if !inserts.is_empty() {
            warehouse.execute_batch(&inserts).await.unwrap();
        }
        let chunk_store =
            ChunkStoreUri::new(format!("s3://{}/task02/", common::LOCAL_BUCKET)).unwrap();
        let handlers =
            Handlers::with_stores(warehouse.clone(), chunk_store, local_stores(&dir).await);
        Self {
            warehouse,
            handlers,
            range: range(),
            source,
            _dir: dir,
        }
    }

    /// Runs one execution over the range: GetTask02Chunks, then every chunk.
    async fn run(&self, execution: &str, budget: ChunkBudget) {
        let chunks = self
            .handlers
            .get_task02_chunks(GetTask02ChunksInput {
                execution: common::execution(execution),
                execution_arn: common::execution_arn(execution),
                date_range: self.range,
                budget,
            })
            .await
            .expect("get_task02_chunks");
        process_all(&self.handlers, &chunks).await;
    }

    /// Applies `sql` to the warehouse's source; the model is changed by the caller.
    async fn change_source(&self, sql: &str) {
        self.warehouse.execute_batch(sql).await.unwrap();
    }

    /// Asserts the target and the rejects are what a first run over the model gives, all written
    /// by `execution`, and that migrated + rejected = source rows of the run.
    async fn assert_exact(&self, execution: &str, context: &str) {
        type Migrated = (i64, NaiveDate, String, i64, String);
        let mut migrated: Vec<Migrated> = Vec::new();
        let mut rejected: Vec<(i64, Option<NaiveDate>, RejectReason)> = Vec::new();
        for row in &self.source {
            let valid = etl_lambda::ssn::Ssn::new(row.ssn.clone()).is_valid_format();
            match row.visit_date {
                VisitDate::Date(date) if self.range.from <= date && date <= self.range.to => {
                    if valid {
                        migrated.push((
                            row.id,
                            date,
                            row.ssn.replace('-', ""),
                            row.amount_cents,
                            row.provider.trim().to_uppercase(),
                        ));
                    } else {
                        rejected.push((row.id, Some(date), RejectReason::BadSsnFormat));
                    }
                }
                VisitDate::Date(_) => {}
                VisitDate::Missing => rejected.push((row.id, None, RejectReason::MissingDate)),
                VisitDate::Malformed(_) => {
                    rejected.push((row.id, None, RejectReason::BadVisitDate))
                }
            }
        }
        let actual_migrated = self.warehouse.migrated_rows().await.unwrap();
        let actual_rejected = self.warehouse.rejected_rows().await.unwrap();
        let written_by = |names: Vec<&String>| names.iter().all(|name| *name == execution);
        let by_execution = written_by(actual_migrated.iter().map(|row| &row.execution).collect())
            && written_by(actual_rejected.iter().map(|row| &row.execution).collect());
        let actual_migrated: Vec<Migrated> = actual_migrated
            .into_iter()
            .map(|row| {
                (
                    row.source_id,
                    row.visit_date,
                    row.ssn.expose().to_owned(),
                    row.amount_cents,
                    row.provider,
                )
            })
            .collect();
        let actual_rejected: Vec<_> = actual_rejected
            .into_iter()
            .map(|row| (row.source_id, row.visit_date, row.reason))
            .collect();
        migrated.sort();
        rejected.sort();
        assert_eq!(actual_migrated, migrated, "{context}: visits_migrated");
        assert_eq!(actual_rejected, rejected, "{context}: visits_rejected");
        assert!(by_execution, "{context}: every row is {execution}'s");
    }
}

fn row(id: i64, visit_date: VisitDate, ssn: &str) -> SourceRow {
    SourceRow {
        id,
        visit_date,
        ssn: ssn.to_owned(),
        amount_cents: 100 * id,
        provider: format!(" p{id} "),
    }
}

const ONE_CHUNK: ChunkBudget = ChunkBudget {
    max_rows: 100,
    max_keys: 100,
};

/// The reproduction: three single-row keys in one chunk; the row of the last key is
/// deleted (and, in a second round, the first key's row re-keyed to an SSN after every other);
/// a new execution over the same dates leaves neither old row behind.
async fn a_row_deleted_at_a_chunks_edge_leaves_the_target(engine: Engine) {
    let source = vec![
        row(1, VisitDate::Date(day(2)), "100-00-0001"),
        row(2, VisitDate::Date(day(2)), "100-00-0002"),
        row(3, VisitDate::Date(day(2)), "100-00-0003"),
    ];
    let mut case = Case::new(engine, "edge_delete", source).await;
    case.run("first", ONE_CHUNK).await;
    case.assert_exact("first", "first run").await;

    case.change_source("DELETE FROM visits WHERE id = 3").await;
    case.source.retain(|row| row.id != 3);
    case.run("second", ONE_CHUNK).await;
    case.assert_exact("second", "last key deleted").await;
    let counts = case.warehouse.counts().await.unwrap();
    assert_eq!(
        counts.migrated_rows + counts.rejected_rows,
        counts.source_rows
    );

    case.change_source("UPDATE visits SET ssn = '100-00-0009' WHERE id = 1")
        .await;
    case.source[0].ssn = "100-00-0009".to_owned();
    case.run("third", ONE_CHUNK).await;
    case.assert_exact("third", "first key re-keyed past the last")
        .await;
}

/// A small deterministic generator (SplitMix64): the same cases on every run, so a failure
/// reproduces; the case number is in every assertion's message.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }
}

/// Few SSNs, so that keys repeat and every edit lands next to, or on, a chunk's bound: valid
/// ones, and invalid ones that sort before, between and after them ('' sorts first of all).
const SSNS: [&str; 9] = [
    "100-00-0001",
    "100-00-0002",
    "100-00-0003",
    "200-00-0001",
    "200-00-0002",
    "",
    "100000002",
    "150-00-00x1",
    "zzz",
];

fn random_date(random: &mut Random, engine: Engine) -> VisitDate {
    match random.below(12) {
        0 => VisitDate::Missing,
        // SQLite keeps text: one sorts inside the range, one is not a date at all.
        1 if engine == Engine::Sqlite => VisitDate::Malformed("2024-01-03 10:00"),
        2 if engine == Engine::Sqlite => VisitDate::Malformed("yesterday"),
        // Days 0 and 5 lie outside the range.
        n => VisitDate::Date(day((n % 6) as u32)),
    }
}

fn random_row(random: &mut Random, engine: Engine, id: i64) -> SourceRow {
    SourceRow {
        id,
        visit_date: random_date(random, engine),
        ssn: random.pick(&SSNS).to_owned(),
        amount_cents: random.below(1_000) as i64,
        provider: random.pick(&[" acme ", "Acme", "b"]).to_owned(),
    }
}

fn random_budget(random: &mut Random) -> ChunkBudget {
    ChunkBudget {
        max_rows: 1 + random.below(6) as u32,
        max_keys: 1 + random.below(4) as u32,
    }
}

/// One random edit of the source: the SQL and the same change to the model.
fn random_edit(random: &mut Random, engine: Engine, case: &mut Case, next_id: &mut i64) -> String {
    let source = &mut case.source;
    if source.is_empty() || random.below(5) == 0 {
        let row = random_row(random, engine, *next_id);
        *next_id += 1;
        let sql = insert_sql(&row);
        source.push(row);
        return sql;
    }
    let at = random.below(source.len() as u64) as usize;
    let id = source[at].id;
    match random.below(4) {
        0 => {
            source.remove(at);
            format!("DELETE FROM visits WHERE id = {id};")
        }
        1 => {
            let ssn = random.pick(&SSNS);
            source[at].ssn = ssn.to_owned();
            format!("UPDATE visits SET ssn = {} WHERE id = {id};", sql_text(ssn))
        }
        2 => {
            let date = random_date(random, engine);
            let value = match &date {
                VisitDate::Missing => "NULL".to_owned(),
                VisitDate::Date(date) => format!("'{date}'"),
                VisitDate::Malformed(text) => sql_text(text),
            };
            source[at].visit_date = date;
            format!("UPDATE visits SET visit_date = {value} WHERE id = {id};")
        }
        _ => {
            let amount = random.below(1_000) as i64;
            source[at].amount_cents = amount;
            format!("UPDATE visits SET amount_cents = {amount} WHERE id = {id};")
        }
    }
}

/// Random sources, random edits between executions, random chunk budgets for each execution:
/// after every execution the target and the rejects are exactly a first run's over the source as
/// it is then.
async fn random_edits_between_runs_leave_what_a_first_run_would(engine: Engine) {
    // PostgreSQL takes a few milliseconds a statement: fewer cases there.
    let cases = match engine {
        Engine::Sqlite => 150,
        Engine::Postgres => 50,
    };
    for number in 0..cases {
        let mut random = Random(0xC0FFEE + number);
        let rows = random.below(14) as i64;
        let source = (1..=rows)
            .map(|id| random_row(&mut random, engine, id))
            .collect();
        let name = unique(&format!("random_{number}"));
        let mut case = Case::new(engine, &name, source).await;
        let mut next_id = rows + 1;
        for execution in 0..3 {
            let name = format!("case-{number}-run-{execution}");
            let budget = random_budget(&mut random);
            case.run(&name, budget).await;
            case.assert_exact(
                &name,
                &format!("case {number}, run {execution}, {budget:?}"),
            )
            .await;
            let edits = 1 + random.below(4);
            let sql: String = (0..edits)
                .map(|_| random_edit(&mut random, engine, &mut case, &mut next_id))
                .collect();
            case.change_source(&sql).await;
        }
    }
}

/// An existing warehouse whose `visits` allows what the migration cannot read (a NULL SSN; on
/// PostgreSQL a visit_date that is a timestamp, not a date): GetTask02Chunks fails with one
/// error naming the column and the shape it must have, not retryable, and no panic.
async fn an_unreadable_source_column_is_one_clear_error(engine: Engine) {
    let date_type = match engine {
        Engine::Sqlite => "TEXT",
        Engine::Postgres => "TIMESTAMP",
    };
    let tables = [
        ("ssn", "DATE", "'2024-01-02', NULL"),
        ("visit_date", date_type, "'2024-01-02 10:00', '100-00-0001'"),
    ];
    for (column, date_type, values) in tables {
        if engine == Engine::Sqlite && column == "visit_date" {
            // SQLite keeps any value in any column: such a date is rejected as `bad_visit_date`.
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let url = database_url(engine, &dir, &format!("unreadable_{column}")).await;
        let warehouse = Warehouse::connect(&url).await.unwrap();
        warehouse
            .execute_batch(&format!(
                "CREATE TABLE visits (id BIGINT PRIMARY KEY, visit_date {date_type}, ssn TEXT, \
                 amount_cents BIGINT NOT NULL, provider TEXT NOT NULL); \
                 INSERT INTO visits VALUES (1, {values}, 100, 'x');"
            ))
            .await
            .unwrap();
        warehouse.create_schema().await.unwrap();
        let chunk_store =
            ChunkStoreUri::new(format!("s3://{}/task02/", common::LOCAL_BUCKET)).unwrap();
        let handlers =
            Handlers::with_stores(warehouse.clone(), chunk_store, local_stores(&dir).await);
        let error = handlers
            .get_task02_chunks(GetTask02ChunksInput {
                execution: common::execution("unreadable"),
                execution_arn: common::execution_arn("unreadable"),
                date_range: range(),
                budget: ONE_CHUNK,
            })
            .await
            .expect_err("a source the migration cannot read");
        assert_eq!(error.name, HandlerErrorName::InvalidInput, "{error}");
        assert!(
            error.message.contains(&format!("visits.{column}"))
                && error.message.contains("must be"),
            "{error}"
        );
        assert!(!error.message.contains("100-00-0001"), "{error}");
    }
}
