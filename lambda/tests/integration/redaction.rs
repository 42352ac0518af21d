//! No SSN from the sample data appears in any log line (the Lambda binary's JSON subscriber at TRACE
//! level, on every thread of the test's runtime, blocking threads included), any error message,
//! or any response, through a full run with bad rows, bad requests and failures, on both engines.

use crate::common::{self, Captured, Engine, World, process_all, process_input, sample};
use etl_lambda::contract::{CHUNK_FORMAT_VERSION, ChunkBudget, ChunkId, Request};
use serde_json::json;

/// Runs everything a deployment does, collecting every error and response as text.
async fn exercise(engine: Engine, outputs: &mut Vec<String>) -> World {
    let world = World::new(engine, "redaction", sample(150, 3, 20)).await;
    let handlers = &world.handlers;
    let event = json!({"action": "get_task02_chunks", "input": {
        "execution": "redaction",
        "execution_arn": common::execution_arn("redaction"),
        "date_range": world.sample.date_range(),
        "budget": {"max_rows": 60, "max_keys": 20}}});
    let response = handlers.handle_json(event).await.unwrap();
    outputs.push(response.to_string());
    let chunks: etl_lambda::contract::Task02Chunks = serde_json::from_value(response).unwrap();
    process_all(handlers, &chunks).await;
    for id in world.chunk_ids(&chunks).await {
        let request = Request::ProcessTask02Chunk(process_input(&chunks, id));
        outputs.push(handlers.handle(request).await.unwrap().to_string());
    }

    // Bad requests carrying real SSNs in every value position.
    let ssn = world.sample.ssn_spellings().next().unwrap();
    let bad_events = [
        json!({"action": ssn, "input": {}}),
        json!({"action": "process_task02_chunk", "input": {"format_version": CHUNK_FORMAT_VERSION,
            "execution": "redaction", "chunk_store": ssn, "chunk_id": 0}}),
        json!({"action": "process_task02_chunk", "input": {"format_version": CHUNK_FORMAT_VERSION,
            "execution": "redaction", "chunk_store": chunks.chunk_store, "chunk_id": ssn}}),
        json!({"action": "get_task02_chunks", "input": {"execution": "x",
            "date_range": {"from": ssn, "to": ssn}, "budget": {"max_rows": 1, "max_keys": 1}}}),
        json!({"action": "get_task02_chunks", ssn.clone(): ssn}),
        json!(ssn),
    ];
    for event in bad_events {
        let error = handlers.handle_json(event).await.unwrap_err();
        outputs.push(format!("{error} {error:?}"));
    }
    // A missing chunk, and a fault mid-chunk.
    let missing = process_input(&chunks, ChunkId(chunks.num_chunks + 5));
    let error = handlers
        .handle(Request::ProcessTask02Chunk(missing))
        .await
        .unwrap_err();
    outputs.push(format!("{error} {error:?}"));
    world.warehouse.fail_next_chunk_midway();
    let error = handlers
        .process_task02_chunk(process_input(&chunks, ChunkId(0)))
        .await
        .unwrap_err();
    outputs.push(format!("{error} {error:?}"));
    // Values that hold SSNs format as redacted.
    let chunk = world
        .stores
        .open(&chunks.chunk_store)
        .await
        .get_chunk(ChunkId(0))
        .await
        .unwrap();
    outputs.push(format!("{chunk:?}"));
    outputs.push(format!(
        "{:?}",
        world.warehouse.migrated_rows().await.unwrap()
    ));
    tracing::info!(chunk = ?chunk, "a chunk logged whole");
    let _ = ChunkBudget {
        max_rows: 1,
        max_keys: 1,
    };
    world
}

#[test]
fn no_ssn_reaches_a_log_line_an_error_or_a_response() {
    let captured = Captured::default();
    let subscriber = etl_lambda::logging::json_subscriber(
        etl_lambda::logging::filter(Some("trace")),
        captured.clone(),
    );
    common::run_logging_to(subscriber, exercise_and_check(captured));
}

/// The run and its checks, logging to `captured`.
async fn exercise_and_check(captured: Captured) {
    let mut outputs = Vec::new();
    let mut samples = Vec::new();
    for engine in [Engine::Sqlite, Engine::Postgres] {
        samples.push(exercise(engine, &mut outputs).await.sample);
    }

    let logs = captured.text();
    assert!(logs.lines().count() > 20, "the run logged: {logs}");
    assert!(logs.contains("task02 chunk processed") && logs.contains("rows_migrated"));
    assert!(
        logs.contains("Task02.ChunkNotFound"),
        "errors are logged by type"
    );
    assert!(
        logs.contains("Task02.InvalidInput"),
        "rejected requests are logged by type"
    );
    let everything = format!("{logs}\n{}", outputs.join("\n"));
    let mut checked = 0;
    for ssn in samples.iter().flat_map(|s| s.ssn_spellings()) {
        if let Some(at) = everything.find(&ssn) {
            // Show where, with the value itself masked.
            let start = everything[..at]
                .char_indices()
                .rev()
                .nth(120)
                .map_or(0, |(i, _)| i);
            let context = everything[start..at].to_owned();
            panic!("an SSN leaked into logs, errors or responses, after: {context}");
        }
        checked += 1;
    }
    assert!(checked >= 300);
}
