//! No SSN reaches a log line when the chunk store is S3 (moto server), whatever `RUST_LOG` asks
//! for: the Lambda binary's own subscriber and filter, given `RUST_LOG=trace`, capture every crate's
//! events (the AWS SDK's included) through a full run (chunks put, with and without request
//! checksums, read back by another environment, deleted), and none holds an SSN in either
//! spelling, though the chunk objects themselves do. The SDK's events that print whole HTTP
//! requests and responses are dropped by the subscriber, its other events kept.

use crate::common::{
    self, Captured, Engine, World, moto_bucket, moto_sdk_config, process_all, sample,
};
use etl_lambda::contract::{ChunkBudget, ChunkId};
use etl_lambda::{ChunkStores, Handlers};

#[test]
fn no_ssn_reaches_a_log_line_with_s3_at_trace_level() {
    let captured = Captured::default();
    let subscriber = etl_lambda::logging::json_subscriber(
        etl_lambda::logging::filter(Some("trace")),
        captured.clone(),
    );
    common::run_logging_to(subscriber, run_with_s3_and_check(captured));
}

/// The run and its checks, logging to `captured`.
async fn run_with_s3_and_check(captured: Captured) {
    let (s3, bucket) = moto_bucket("redaction").await;
    let mut world = World::new(Engine::Sqlite, "s3_redaction", sample(120, 2, 20)).await;
    world.chunk_store =
        etl_lambda::contract::ChunkStoreUri::new(format!("s3://{bucket}/task02/")).unwrap();
    let when_required = moto_sdk_config()
        .into_builder()
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .build();
    let handlers = Handlers::with_stores(
        world.warehouse.clone(),
        world.chunk_store.clone(),
        ChunkStores::with_sdk_config(when_required),
    );
    let chunks = common::get_chunks(
        &handlers,
        "s3-redaction",
        &world.sample,
        ChunkBudget {
            max_rows: 50,
            max_keys: 20,
        },
    )
    .await;
    // Another environment reads every chunk back.
    let reader = Handlers::with_stores(
        world.warehouse.clone(),
        world.chunk_store.clone(),
        ChunkStores::with_sdk_config(moto_sdk_config()),
    );
    process_all(&reader, &chunks).await;
    let chunk = reader
        .stores()
        .open(&chunks.chunk_store)
        .await
        .get_chunk(ChunkId(0))
        .await
        .unwrap();
    assert!(chunk.keys > 0);
    // The objects hold SSNs, spelled as the check below looks for them.
    let object = s3
        .get_object()
        .bucket(&bucket)
        .key(chunks.chunk_store.key("chunk-00000000.json"))
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let object = String::from_utf8(object.to_vec()).unwrap();
    assert!(
        world
            .sample
            .ssn_spellings()
            .any(|ssn| object.contains(&ssn)),
        "a chunk object holds its span's SSNs"
    );
    let deleted = reader
        .delete_task02_chunks(common::delete_input(&chunks))
        .await
        .unwrap();
    assert!(deleted.objects_deleted > chunks.num_chunks as u64);

    let logs = captured.text();
    assert!(logs.contains("task02 chunks stored"), "the handlers logged");
    // The SDK's own events were captured at trace level, all but those printing HTTP messages.
    for sdk_event in ["applying client runtime plugins", "beginning attempt #1"] {
        assert!(logs.contains(sdk_event), "the SDK logged {sdk_event:?}");
    }
    for body_event in [
        "transmitting request",
        "received response from service",
        "read HTTP response body",
        "canonical_request",
    ] {
        assert!(!logs.contains(body_event), "the SDK logged {body_event:?}");
    }
    let mut checked = 0;
    for ssn in world.sample.ssn_spellings() {
        // Says which line, never the value.
        if let Some(line) = logs.lines().position(|line| line.contains(&ssn)) {
            panic!("an SSN leaked into log line {line}");
        }
        checked += 1;
    }
    assert!(checked >= 240);
}
