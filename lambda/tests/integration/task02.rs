//! GetTask02Chunks and ProcessTask02Chunk end to end on a real warehouse (SQLite and
//! PostgreSQL, each test on both) with the local chunk store.
//!
//! Covered: 1,000 chunks give a response under 1 KiB (no key, no per-chunk entry) and a chunk ids
//! object listing exactly the stored chunks, every key once; undated keys come after every dated
//! key; one chunk migrates exactly its keys; processing every chunk twice, and again in reverse
//! order, leaves the same target, rejects and ledger; a re-run after the source changed (amounts,
//! providers, rows gone, added, re-dated, made invalid) and a re-run by another execution leave
//! what a first run over the same chunks does; every source row is migrated or rejected with
//! its reason; two executions at once do not see each other's chunks; chunks written by one
//! environment are read by another; a fault mid-chunk (PostgreSQL: the session terminated; SQLite:
//! the transaction abandoned) leaves the target as before, and the retry replaces exactly that
//! chunk's rows; missing or foreign chunks fail with named errors; deleting an execution's chunks
//! removes its folder only. On SQLite, rows whose visit_date is not a date are rejected with
//! `bad_visit_date`.

use std::collections::BTreeSet;

use crate::common::{
    self, Engine, LOCAL_BUCKET, World, covered, covers, execution, expected_keys, process_all,
    process_input, sample,
};
use crate::on_both_engines;
use etl_lambda::chunks::KeySpan;
use etl_lambda::contract::{ChunkBudget, ChunkId, ChunkStoreUri, HandlerErrorName};
use etl_lambda::warehouse::{MigratedRow, RejectReason};

on_both_engines!(
    get_chunks_stores_the_chunks_and_returns_only_ids,
    undated_keys_are_chunked_after_every_dated_key,
    a_single_chunk_migrates_exactly_its_keys,
    processing_twice_leaves_the_same_target,
    a_rerun_after_the_source_changed_writes_what_a_first_run_would,
    every_source_row_is_migrated_or_rejected_with_its_reason,
    two_executions_at_once_do_not_see_each_other,
    chunks_written_by_one_environment_are_read_by_another,
    a_fault_mid_chunk_leaves_the_target_as_before_and_the_retry_succeeds,
    missing_or_foreign_chunks_fail_with_named_errors,
    deleting_an_executions_chunks_removes_its_folder_only,
);

async fn get_chunks_stores_the_chunks_and_returns_only_ids(engine: Engine) {
    // 2,000 keys, two per chunk: 1,000 chunks.
    let world = World::new(engine, "get_chunks_1000", sample(2_000, 2, 0)).await;
    let chunks = world
        .get_chunks(
            "exec-1000",
            ChunkBudget {
                max_rows: 1_000,
                max_keys: 2,
            },
        )
        .await;

    assert_eq!(chunks.num_chunks, 1_000);
    let ids = world.chunk_ids(&chunks).await;
    assert_eq!(ids, (0..1_000).map(ChunkId).collect::<Vec<_>>());
    let folder = format!("exec-1000-{}", common::execution_arn("exec-1000").digest());
    assert_eq!(
        chunks.chunk_ids.key,
        format!("{}{folder}/chunk-ids.json", world.chunk_store.prefix())
    );
    assert_eq!(chunks.total_keys, 2_000);
    assert_eq!(chunks.total_rows, 4_000);
    assert_eq!(
        chunks.chunk_store.as_str(),
        format!("{}{folder}/", world.chunk_store)
    );
    // Counts and locations only: the same size for 1,000 chunks as for one.
    let response = serde_json::to_string(&chunks).unwrap();
    assert!(
        response.len() <= 1024,
        "response is {} bytes",
        response.len()
    );
    for ssn in world.sample.ssn_spellings() {
        assert!(!response.contains(&ssn), "the response holds a key");
    }

    // The store holds exactly these chunks, and every key is in exactly one of them.
    let store = world.stores.open(&chunks.chunk_store).await;
    assert_eq!(store.list_chunk_ids().await.unwrap(), ids);
    let manifest = store.get_manifest().await.unwrap();
    assert_eq!((manifest.num_chunks, manifest.total_keys), (1_000, 2_000));
    let expected = expected_keys(&world.sample);
    let mut seen = Vec::new();
    for id in ids {
        let chunk = store.get_chunk(id).await.unwrap();
        assert_eq!(chunk.chunk_id, id);
        let keys = covered(&chunk.span, &expected);
        assert!(!keys.is_empty());
        assert_eq!(chunk.keys, keys.len() as u64);
        assert_eq!(chunk.rows, keys.iter().map(|(_, rows)| **rows).sum::<u64>());
        seen.extend(keys);
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        expected.iter().collect::<Vec<_>>(),
        "every key exactly once, with its row count"
    );
    assert_eq!(seen.len(), expected.len());
}

async fn undated_keys_are_chunked_after_every_dated_key(engine: Engine) {
    let world = World::new(engine, "undated_last", sample(300, 2, 20)).await;
    let chunks = world
        .get_chunks(
            "undated",
            ChunkBudget {
                max_rows: 50,
                max_keys: 25,
            },
        )
        .await;
    let store = world.stores.open(&chunks.chunk_store).await;
    let mut spans = Vec::new();
    for id in world.chunk_ids(&chunks).await {
        spans.push(store.get_chunk(id).await.unwrap().span);
    }
    let first_undated = spans
        .iter()
        .position(|s| matches!(s, KeySpan::Undated { .. }))
        .expect("some undated keys");
    assert!(
        spans[first_undated..]
            .iter()
            .all(|s| matches!(s, KeySpan::Undated { .. })),
        "no chunk mixes dated and undated keys, and the undated come last"
    );
    let bounds = |span: &KeySpan| match span {
        KeySpan::Dated { keys, .. } => keys.clone(),
        other => panic!("a dated span expected, got {other:?}"),
    };
    let dated: Vec<_> = spans[..first_undated].iter().map(bounds).collect();
    assert!(dated[0].after.is_none() && dated[dated.len() - 1].through.is_none());
    assert!(
        dated
            .windows(2)
            .all(|w| w[0].through.is_some() && w[0].through == w[1].after),
        "dated spans follow each other in key order with neither gap nor overlap"
    );
}

async fn a_single_chunk_migrates_exactly_its_keys(engine: Engine) {
    let world = World::new(engine, "single_chunk", sample(300, 3, 10)).await;
    let chunks = world
        .get_chunks(
            "single",
            ChunkBudget {
                max_rows: 200,
                max_keys: 50,
            },
        )
        .await;
    assert!(chunks.num_chunks > 2);
    let stored = world
        .stores
        .open(&chunks.chunk_store)
        .await
        .get_chunk(ChunkId(1))
        .await
        .unwrap();

    let summary = world
        .handlers
        .process_task02_chunk(process_input(&chunks, ChunkId(1)))
        .await
        .unwrap();
    assert_eq!(summary.chunk_id, ChunkId(1));
    assert_eq!(summary.rows_migrated + summary.rows_rejected, stored.rows);

    let migrated = world.warehouse.migrated_rows().await.unwrap();
    assert_eq!(migrated.len() as u64, summary.rows_migrated);
    for row in &migrated {
        assert_eq!((row.chunk_id, row.execution.as_str()), (1, "single"));
        let digits = row.ssn.expose();
        let dashed = format!("{}-{}-{}", &digits[..3], &digits[3..5], &digits[5..]);
        assert!(
            covers(&stored.span, Some(row.visit_date), &dashed),
            "a row outside the chunk was migrated"
        );
        assert_eq!(row.ssn.expose().len(), 9, "SSN normalized to nine digits");
        assert_eq!(row.provider, row.provider.trim().to_uppercase());
    }
    let counts = world.warehouse.counts().await.unwrap();
    assert_eq!(counts.rejected_rows, summary.rows_rejected);
    let ledger = world.warehouse.ledger().await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(
        (
            ledger[0].chunk_id,
            ledger[0].rows_migrated as u64,
            ledger[0].rows_rejected as u64
        ),
        (1, summary.rows_migrated, summary.rows_rejected)
    );
}

async fn processing_twice_leaves_the_same_target(engine: Engine) {
    let world = World::new(engine, "idempotent", sample(400, 3, 10)).await;
    let chunks = world
        .get_chunks(
            "twice",
            ChunkBudget {
                max_rows: 300,
                max_keys: 64,
            },
        )
        .await;
    process_all(&world.handlers, &chunks).await;
    let first = (
        world.warehouse.migrated_rows().await.unwrap(),
        world.warehouse.rejected_rows().await.unwrap(),
        world.warehouse.ledger().await.unwrap(),
        world.warehouse.counts().await.unwrap(),
    );
    assert!(!first.0.is_empty() && !first.1.is_empty());
    process_all(&world.handlers, &chunks).await;
    // And once more out of order, as a Map retry would.
    for id in world.chunk_ids(&chunks).await.into_iter().rev() {
        world
            .handlers
            .process_task02_chunk(process_input(&chunks, id))
            .await
            .unwrap();
    }
    let again = (
        world.warehouse.migrated_rows().await.unwrap(),
        world.warehouse.rejected_rows().await.unwrap(),
        world.warehouse.ledger().await.unwrap(),
        world.warehouse.counts().await.unwrap(),
    );
    assert_eq!(first, again, "nothing doubled, nothing lost");
}

async fn a_rerun_after_the_source_changed_writes_what_a_first_run_would(engine: Engine) {
    let world = World::new(engine, "rerun_changed", sample(400, 3, 10)).await;
    let budget = ChunkBudget {
        max_rows: 300,
        max_keys: 64,
    };
    let chunks = world.get_chunks("changed", budget).await;
    // Another execution's chunks of the same keys: the same spans.
    let other = world.get_chunks("changed-again", budget).await;
    assert_eq!(other.num_chunks, chunks.num_chunks);
    process_all(&world.handlers, &chunks).await;
    let first = world.warehouse.migrated_rows().await.unwrap();

    // Every kind of change a re-run must pick up, each to a few rows of every chunk: an amount,
    // a provider, a row gone, a row added to an existing key, a row moved to another date, a
    // valid SSN made invalid (its rows become rejects), an invalid one made valid.
    world
        .warehouse
        .execute_batch(
            "UPDATE visits SET amount_cents = amount_cents + 7 WHERE id % 11 = 0;
             UPDATE visits SET provider = ' changed ' WHERE id % 13 = 0;
             DELETE FROM visits WHERE id % 17 = 0;
             INSERT INTO visits (id, visit_date, ssn, amount_cents, provider)
               SELECT id + 100000, visit_date, ssn, 1, 'added' FROM visits WHERE id % 19 = 0;
             UPDATE visits SET visit_date = '2024-06-15' WHERE id % 23 = 0 AND visit_date IS NOT NULL;
             UPDATE visits SET ssn = replace(ssn, '-', '') WHERE id % 29 = 0;
             UPDATE visits SET ssn = substr(ssn, 1, 3) || '-' || substr(ssn, 4, 2) || '-' || substr(ssn, 6)
               WHERE length(ssn) = 9 AND id % 31 = 0;",
        )
        .await
        .unwrap();
    let snapshot = || async {
        (
            world.warehouse.migrated_rows().await.unwrap(),
            world.warehouse.rejected_rows().await.unwrap(),
            world.warehouse.ledger().await.unwrap(),
        )
    };
    process_all(&world.handlers, &chunks).await;
    let rerun = snapshot().await;
    assert_ne!(rerun.0, first, "the re-run changed the target");

    // The same keys again, by another execution: every row is rewritten with its name.
    process_all(&world.handlers, &other).await;
    let by_other = world.warehouse.migrated_rows().await.unwrap();
    assert!(by_other.iter().all(|row| row.execution == "changed-again"));

    // A first run over the same chunks, from an empty target.
    world
        .warehouse
        .execute_batch(
            "DELETE FROM visits_migrated; DELETE FROM visits_rejected; \
             DELETE FROM task02_chunk_ledger",
        )
        .await
        .unwrap();
    process_all(&world.handlers, &chunks).await;
    assert_eq!(snapshot().await, rerun);
    let relabelled: Vec<_> = by_other
        .into_iter()
        .map(|row| MigratedRow {
            execution: "changed".to_owned(),
            ..row
        })
        .collect();
    assert_eq!(
        relabelled, rerun.0,
        "another execution writes the same rows"
    );
}

async fn every_source_row_is_migrated_or_rejected_with_its_reason(engine: Engine) {
    let world = World::new(engine, "accounting", sample(500, 3, 12)).await;
    let chunks = world
        .get_chunks(
            "accounting",
            ChunkBudget {
                max_rows: 250,
                max_keys: 100,
            },
        )
        .await;
    process_all(&world.handlers, &chunks).await;

    let counts = world.warehouse.counts().await.unwrap();
    let (expected_migrated, expected_rejected) = world.sample.expected_split();
    assert_eq!(counts.source_rows, world.sample.source_rows());
    assert_eq!(
        counts.source_rows,
        counts.migrated_rows + counts.rejected_rows
    );
    assert_eq!(
        (counts.migrated_rows, counts.rejected_rows),
        (expected_migrated, expected_rejected)
    );
    assert_eq!(chunks.total_rows, counts.source_rows);

    let source: Vec<_> = world.sample.rows().collect();
    let rejected = world.warehouse.rejected_rows().await.unwrap();
    let mut reasons = BTreeSet::new();
    for reject in &rejected {
        let row = &source[(reject.source_id - 1) as usize];
        let expected = if row.visit_date.is_none() {
            RejectReason::MissingDate
        } else {
            assert!(!row.ssn.is_valid_format());
            RejectReason::BadSsnFormat
        };
        assert_eq!(reject.reason, expected, "source row {}", reject.source_id);
        assert_eq!(reject.visit_date, row.visit_date);
        reasons.insert(reject.reason);
    }
    assert_eq!(reasons.len(), 2, "both reasons occur in the sample");
    let ledger = world.warehouse.ledger().await.unwrap();
    assert_eq!(ledger.len() as u32, chunks.num_chunks);
    let ledger_total: i64 = ledger
        .iter()
        .map(|l| l.rows_migrated + l.rows_rejected)
        .sum();
    assert_eq!(ledger_total as u64, counts.source_rows);
}

async fn two_executions_at_once_do_not_see_each_other(engine: Engine) {
    let world = World::new(engine, "two_executions", sample(300, 2, 10)).await;
    let other = world.other_environment().await;
    let (a, b) = tokio::join!(
        common::get_chunks(
            &world.handlers,
            "exec-a",
            &world.sample,
            ChunkBudget {
                max_rows: 100,
                max_keys: 40
            }
        ),
        common::get_chunks(
            &other,
            "exec-b",
            &world.sample,
            ChunkBudget {
                max_rows: 1_000,
                max_keys: 150
            }
        ),
    );
    assert_ne!(a.chunk_store, b.chunk_store);
    assert_ne!(a.num_chunks, b.num_chunks);
    assert_ne!(a.chunk_ids, b.chunk_ids);
    let store_a = world.stores.open(&a.chunk_store).await;
    let store_b = world.stores.open(&b.chunk_store).await;
    assert_eq!(
        store_a.list_chunk_ids().await.unwrap(),
        world.chunk_ids(&a).await
    );
    assert_eq!(
        store_b.list_chunk_ids().await.unwrap(),
        world.chunk_ids(&b).await
    );
    assert_eq!(
        store_a.get_manifest().await.unwrap().execution,
        execution("exec-a")
    );
    assert_eq!(
        store_b.get_chunk(ChunkId(0)).await.unwrap().execution,
        execution("exec-b")
    );

    // Asking for exec-a's chunk with exec-b's name is refused.
    let mut crossed = process_input(&a, ChunkId(0));
    crossed.execution = execution("exec-b");
    let error = world
        .handlers
        .process_task02_chunk(crossed)
        .await
        .unwrap_err();
    assert_eq!(error.name, HandlerErrorName::InvalidInput);

    // Both run to the end concurrently, over the same keys: on PostgreSQL the two meet on the
    // target's key, the one that loses fails as Transient and its retry replaces the other's
    // rows. The ledger keeps each execution's chunks apart.
    let (wa, wb) = (world.handlers.clone(), other.clone());
    let (ra, rb) = tokio::join!(
        common::process_all_retrying(&wa, &a),
        common::process_all_retrying(&wb, &b)
    );
    let ((), ()) = (ra, rb);
    let counts = world.warehouse.counts().await.unwrap();
    assert_eq!(
        counts.source_rows,
        counts.migrated_rows + counts.rejected_rows
    );
    let ledger = world.warehouse.ledger().await.unwrap();
    let per_execution = |name: &str| ledger.iter().filter(|l| l.execution == name).count() as u32;
    assert_eq!(
        (per_execution("exec-a"), per_execution("exec-b")),
        (a.num_chunks, b.num_chunks)
    );
}

async fn chunks_written_by_one_environment_are_read_by_another(engine: Engine) {
    let world = World::new(engine, "other_environment", sample(200, 2, 10)).await;
    let chunks = world
        .get_chunks(
            "handoff",
            ChunkBudget {
                max_rows: 100,
                max_keys: 30,
            },
        )
        .await;
    let elsewhere = world.other_environment().await;
    process_all(&elsewhere, &chunks).await;
    let counts = world.warehouse.counts().await.unwrap();
    assert_eq!(
        counts.source_rows,
        counts.migrated_rows + counts.rejected_rows
    );
    assert_eq!(counts.migrated_rows, world.sample.expected_split().0);
}

async fn a_fault_mid_chunk_leaves_the_target_as_before_and_the_retry_succeeds(engine: Engine) {
    let world = World::new(engine, "fault", sample(200, 3, 10)).await;
    let chunks = world
        .get_chunks(
            "fault",
            ChunkBudget {
                max_rows: 200,
                max_keys: 50,
            },
        )
        .await;
    process_all(&world.handlers, &chunks).await;
    let before = (
        world.warehouse.migrated_rows().await.unwrap(),
        world.warehouse.rejected_rows().await.unwrap(),
        world.warehouse.ledger().await.unwrap(),
    );
    // The source changes, so a completed chunk would change the target.
    world
        .warehouse
        .execute_batch("UPDATE visits SET amount_cents = amount_cents + 1")
        .await
        .unwrap();

    world.warehouse.fail_next_chunk_midway();
    let error = world
        .handlers
        .process_task02_chunk(process_input(&chunks, ChunkId(0)))
        .await
        .unwrap_err();
    assert_eq!(error.name, HandlerErrorName::Transient, "{error}");
    let after_fault = (
        world.warehouse.migrated_rows().await.unwrap(),
        world.warehouse.rejected_rows().await.unwrap(),
        world.warehouse.ledger().await.unwrap(),
    );
    assert_eq!(after_fault, before, "the failed chunk left no trace");

    let summary = world
        .handlers
        .process_task02_chunk(process_input(&chunks, ChunkId(0)))
        .await
        .expect("the retry succeeds");
    let after_retry = world.warehouse.migrated_rows().await.unwrap();
    assert_eq!(after_retry.len(), before.0.len());
    let changed = after_retry
        .iter()
        .zip(&before.0)
        .filter(|(now, then)| now.amount_cents == then.amount_cents + 1)
        .count() as u64;
    assert_eq!(
        changed, summary.rows_migrated,
        "exactly chunk 0's rows were replaced"
    );
    assert!(
        after_retry
            .iter()
            .zip(&before.0)
            .all(|(now, then)| now.chunk_id != 0 || now.amount_cents == then.amount_cents + 1)
    );
}

async fn missing_or_foreign_chunks_fail_with_named_errors(engine: Engine) {
    let world = World::new(engine, "named_errors", sample(100, 2, 0)).await;
    let chunks = world
        .get_chunks(
            "errors",
            ChunkBudget {
                max_rows: 40,
                max_keys: 20,
            },
        )
        .await;

    // No manifest: this execution never ran GetTask02Chunks.
    let mut never = process_input(&chunks, ChunkId(0));
    never.execution = execution("never");
    never.chunk_store = ChunkStoreUri::new(format!("{}never/", world.chunk_store)).unwrap();
    let error = world
        .handlers
        .process_task02_chunk(never.clone())
        .await
        .unwrap_err();
    assert_eq!(error.name, HandlerErrorName::ChunkNotFound);
    assert!(
        error.message.contains(never.chunk_store.as_str()),
        "{error}"
    );

    // A chunk id past the manifest, and a chunk object that disappeared.
    let past = process_input(&chunks, ChunkId(chunks.num_chunks));
    let error = world.handlers.process_task02_chunk(past).await.unwrap_err();
    assert_eq!(error.name, HandlerErrorName::ChunkNotFound);
    assert!(
        error
            .message
            .contains(&format!("chunk {}", chunks.num_chunks)),
        "{error}"
    );
    // The local stand-in for the bucket keeps each object as a file under <root>/<bucket>/<key>.
    let dir = format!(
        "{}/s3/{}/{}",
        world.dir.path().display(),
        chunks.chunk_store.bucket(),
        chunks.chunk_store.prefix()
    );
    std::fs::remove_file(format!("{dir}chunk-00000001.json")).unwrap();
    let error = world
        .handlers
        .process_task02_chunk(process_input(&chunks, ChunkId(1)))
        .await
        .unwrap_err();
    assert_eq!(error.name, HandlerErrorName::ChunkNotFound);
    assert!(
        error.message.contains("chunk 1") && error.message.contains(chunks.chunk_store.as_str())
    );

    // A request or a stored chunk from another format version.
    let mut old = process_input(&chunks, ChunkId(0));
    old.format_version += 1;
    let error = world.handlers.process_task02_chunk(old).await.unwrap_err();
    assert_eq!(error.name, HandlerErrorName::ChunkFormatMismatch);
    let path = format!("{dir}chunk-00000002.json");
    let mut stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    stored["format_version"] = serde_json::json!(99);
    std::fs::write(&path, serde_json::to_vec(&stored).unwrap()).unwrap();
    let error = world
        .handlers
        .process_task02_chunk(process_input(&chunks, ChunkId(2)))
        .await
        .unwrap_err();
    assert_eq!(error.name, HandlerErrorName::ChunkFormatMismatch);
    assert!(error.message.contains("99"), "{error}");

    // Nothing was written by any of the failures.
    assert_eq!(world.warehouse.counts().await.unwrap().migrated_rows, 0);

    // A budget of zero is bad input naming the field.
    let error = world
        .handlers
        .get_task02_chunks(etl_lambda::contract::GetTask02ChunksInput {
            execution: execution("zero"),
            execution_arn: common::execution_arn("zero"),
            date_range: world.sample.date_range(),
            budget: ChunkBudget {
                max_rows: 0,
                max_keys: 5,
            },
        })
        .await
        .unwrap_err();
    assert_eq!(error.name, HandlerErrorName::InvalidInput);
    assert!(error.message.contains("input.budget.max_rows"), "{error}");
}

async fn deleting_an_executions_chunks_removes_its_folder_only(engine: Engine) {
    let world = World::new(engine, "delete_chunks", sample(200, 2, 10)).await;
    let budget = ChunkBudget {
        max_rows: 60,
        max_keys: 20,
    };
    let done = world.get_chunks("done", budget).await;
    let kept = world.get_chunks("done-2", budget).await;
    process_all(&world.handlers, &done).await;
    let objects = |prefix: String| {
        let stores = world.stores.clone();
        async move {
            stores
                .objects()
                .await
                .list(LOCAL_BUCKET, &prefix)
                .await
                .unwrap()
                .len() as u64
        }
    };
    let done_objects = objects(done.chunk_store.prefix().to_owned()).await;
    // Every chunk, the chunk ids and the manifest.
    assert_eq!(done_objects, u64::from(done.num_chunks) + 2);

    let input = common::delete_input;
    let deleted = world
        .handlers
        .delete_task02_chunks(input(&done))
        .await
        .unwrap();
    assert_eq!(deleted.objects_deleted, done_objects);
    assert_eq!(objects(done.chunk_store.prefix().to_owned()).await, 0);
    // Nothing of `done-2`, whose name starts like `done`, went with it.
    assert_eq!(
        objects(kept.chunk_store.prefix().to_owned()).await,
        u64::from(kept.num_chunks) + 2
    );
    // Again: nothing left, and that is not an error.
    let again = world
        .handlers
        .delete_task02_chunks(input(&done))
        .await
        .unwrap();
    assert_eq!(again.objects_deleted, 0);
    // The migrated rows stay: only the chunks go.
    let counts = world.warehouse.counts().await.unwrap();
    assert!(counts.migrated_rows > 0);

    // Another execution's folder, or a folder outside the store, is refused.
    let mut crossed = input(&kept);
    crossed.execution = execution("done");
    let error = world
        .handlers
        .delete_task02_chunks(crossed)
        .await
        .unwrap_err();
    assert_eq!(error.name, HandlerErrorName::InvalidInput);
    let mut elsewhere = input(&kept);
    elsewhere.chunk_store = ChunkStoreUri::new("s3://another-bucket/task02/done-2/").unwrap();
    let error = world
        .handlers
        .delete_task02_chunks(elsewhere)
        .await
        .unwrap_err();
    assert_eq!(error.name, HandlerErrorName::InvalidInput);
    assert_eq!(
        objects(kept.chunk_store.prefix().to_owned()).await,
        u64::from(kept.num_chunks) + 2
    );
}

/// Two state machines whose chunk stores share a bucket prefix, each running an execution of the
/// same name, in the local store: neither overwrites nor deletes the other's chunks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_name_executions_never_share_chunks_locally() {
    let world = World::new(Engine::Sqlite, "same_name", sample(120, 2, 10)).await;
    common::same_name_executions_never_share_chunks(&world.handlers, &world.sample).await;
}

/// SQLite keeps dates as text, so a source row can hold a visit_date that is not a date. Each such
/// row is rejected as `bad_visit_date` (a date problem wins over a bad SSN), its key packed after
/// every dated and undated key, and every source row is still accounted for, however many times
/// the chunks run. '2024-02-30' and '2024-1-15' fall inside the requested range as text (the
/// first used to fail the whole split as Transient, the second to lose its rows). PostgreSQL's
/// `date` column cannot hold such a value: the tests above run its split unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rows_with_malformed_dates_are_rejected_with_their_reason() {
    let world = World::new(Engine::Sqlite, "bad_dates", sample(200, 2, 20)).await;
    let ssn = world.sample.ssn_spellings().next().unwrap();
    let first = world.sample.source_rows() as i64 + 1;
    let bad_dates = ["2024-13-45", "yesterday", "2024-02-30", "2024-1-15"];
    let mut rows: Vec<String> = bad_dates
        .iter()
        .enumerate()
        .map(|(i, date)| format!("({}, '{date}', '{ssn}', 100, 'x')", first + i as i64))
        .collect();
    // A malformed date and a bad SSN; and an undated row of the same SSN, a key of its own.
    let bad_ssn_row = first + bad_dates.len() as i64;
    rows.push(format!("({bad_ssn_row}, 'soon', '12345', 100, 'x')"));
    rows.push(format!("({}, NULL, '{ssn}', 100, 'x')", bad_ssn_row + 1));
    world
        .warehouse
        .execute_batch(&format!("INSERT INTO visits VALUES {};", rows.join(", ")))
        .await
        .unwrap();
    let budget = ChunkBudget {
        max_rows: 40,
        max_keys: 15,
    };
    let chunks = world.get_chunks("bad-dates", budget).await;

    let store = world.stores.open(&chunks.chunk_store).await;
    let mut stored = Vec::new();
    for id in world.chunk_ids(&chunks).await {
        stored.push(store.get_chunk(id).await.unwrap());
    }
    let first_bad = stored
        .iter()
        .position(|c| matches!(c.span, KeySpan::BadDate { .. }))
        .unwrap();
    assert!(
        stored[first_bad..]
            .iter()
            .all(|c| matches!(c.span, KeySpan::BadDate { .. }))
    );
    assert!(
        stored[..first_bad]
            .iter()
            .any(|c| matches!(c.span, KeySpan::Undated { .. })),
        "undated keys before"
    );
    assert_eq!(stored[first_bad..].iter().map(|c| c.rows).sum::<u64>(), 5);

    for _ in 0..2 {
        process_all(&world.handlers, &chunks).await;
        let counts = world.warehouse.counts().await.unwrap();
        let (migrated, rejected) = world.sample.expected_split();
        assert_eq!(counts.source_rows, world.sample.source_rows() + 6);
        assert_eq!(
            (counts.migrated_rows, counts.rejected_rows),
            (migrated, rejected + 6)
        );
    }
    let rejected = world.warehouse.rejected_rows().await.unwrap();
    let reason = |id: i64| rejected.iter().find(|r| r.source_id == id).unwrap().reason;
    for id in first..=bad_ssn_row {
        assert_eq!(reason(id), RejectReason::BadVisitDate, "row {id}");
    }
    assert_eq!(reason(bad_ssn_row + 1), RejectReason::MissingDate);
    assert_eq!(chunks.total_rows, world.sample.source_rows() + 6);
}

/// A table loaded a moment ago has no statistics until autovacuum analyzes it; on PostgreSQL,
/// get_chunks gives the source, target and reject tables theirs, so the chunk statements are
/// planned with them (without, finding a chunk's first valid key sorts its whole span).
#[tokio::test]
async fn get_chunks_gives_tables_loaded_a_moment_ago_their_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::database_url(Engine::Postgres, &dir, "statistics").await;
    let warehouse = etl_lambda::Warehouse::connect(&url).await.unwrap();
    warehouse.create_schema().await.unwrap();
    // Autovacuum must not analyze them first, or the test would show nothing.
    warehouse
        .execute_batch(
            "ALTER TABLE visits SET (autovacuum_enabled = false); \
             ALTER TABLE visits_migrated SET (autovacuum_enabled = false); \
             ALTER TABLE visits_rejected SET (autovacuum_enabled = false)",
        )
        .await
        .unwrap();
    let data = sample(500, 2, 5);
    data.load_into(&warehouse).await.unwrap();
    const WITHOUT_STATISTICS: &str = "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_stat_user_tables \
        WHERE relid IN ('visits'::regclass, 'visits_migrated'::regclass, 'visits_rejected'::regclass) \
        AND last_analyze IS NULL AND last_autoanalyze IS NULL) \
        THEN RAISE EXCEPTION 'a table has no statistics'; END IF; END $$";
    assert!(
        warehouse.execute_batch(WITHOUT_STATISTICS).await.is_err(),
        "a table loaded a moment ago has no statistics"
    );
    let stores = common::local_stores(&dir).await;
    let chunk_store = ChunkStoreUri::new(format!("s3://{LOCAL_BUCKET}/task02/")).unwrap();
    let handlers = etl_lambda::Handlers::with_stores(warehouse.clone(), chunk_store, stores);
    common::get_chunks(
        &handlers,
        "statistics",
        &data,
        ChunkBudget {
            max_rows: 100,
            max_keys: 100,
        },
    )
    .await;
    warehouse.execute_batch(WITHOUT_STATISTICS).await.unwrap();
}
