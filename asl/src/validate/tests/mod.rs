//! Tests of the checks, by subject; the machines they build come from the helpers here.

mod graph;
mod language;
mod map;
mod schema;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;

use super::*;
use crate::limits::{
    DISTRIBUTED_MAP_MAX_CONCURRENCY, INLINE_MAP_MAX_CONCURRENCY, PAYLOAD_BYTES, READER_MAX_ITEMS,
};
use crate::path::{ContextValue, ReferencePath, SchemaRoot};
use crate::payload::{PayloadTemplate, PayloadValue};
use crate::state::*;

pub(super) fn name(text: &str) -> StateName {
    StateName::new(text).unwrap()
}

pub(super) fn next(to: &str) -> Transition {
    Transition::Next(name(to))
}

pub(super) fn pass(transition: Transition) -> State {
    State::Pass(PassState::new(transition))
}

pub(super) fn build(states: Vec<(&str, State)>) -> StateMachine {
    StateMachine {
        query_language: None,
        comment: None,
        version: None,
        start_at: name(states[0].0),
        timeout_seconds: None,
        states: states.into_iter().map(|(n, s)| (name(n), s)).collect(),
    }
}

pub(super) fn inline_map(processor: Vec<(&str, State)>, transition: Transition) -> MapState {
    MapState::inline(
        Branch {
            comment: None,
            start_at: name(processor[0].0),
            states: processor.into_iter().map(|(n, s)| (name(n), s)).collect(),
        },
        transition,
    )
}

pub(super) fn errors(machine: &StateMachine) -> Vec<String> {
    validate(machine)
        .errors
        .iter()
        .map(ToString::to_string)
        .collect()
}

pub(super) fn assert_one_error(machine: &StateMachine, needle: &str) {
    let found = errors(machine);
    assert!(
        found.len() == 1 && found[0].contains(needle),
        "expected one error with {needle:?}, got {found:#?}"
    );
}

/// A struct whose serde name differs from its Rust name, the case the Rust compiler cannot see.
#[derive(Serialize, JsonSchema)]
pub(super) struct Renamed {
    #[serde(rename = "chunkIds")]
    #[allow(dead_code)]
    chunk_ids: Vec<u32>,
    #[allow(dead_code)]
    nested: Option<Inner>,
}

#[derive(Serialize, JsonSchema)]
pub(super) struct Inner {
    #[allow(dead_code)]
    value: u32,
}

pub(super) fn typed(text: &str) -> ReferencePath {
    ReferencePath::parse(text)
        .unwrap()
        .with_schema_root(SchemaRoot::of::<Renamed>())
}

/// A Distributed Map reading a JSON array from S3 and writing its results back, with no
/// problem; each test below breaks one thing.
pub(super) fn distributed_map() -> MapState {
    let mut map = inline_map(vec![("Each", pass(Transition::End))], Transition::End);
    map.item_processor.processor_config = Some(ProcessorConfig {
        mode: ProcessorMode::Distributed,
        execution_type: Some(ExecutionType::Standard),
    });
    map.item_reader = Some(ItemReader {
        arguments: None,
        resource: S3_GET_OBJECT.into(),
        reader_config: Some(ReaderConfig {
            input_type: Some(ReaderInputType::Json),
            csv_header_location: None,
            csv_headers: None,
            csv_delimiter: None,
            max_items: None,
        }),
        parameters: Some(
            PayloadTemplate::new()
                .with("Bucket", PayloadValue::Literal(json!("chunks")))
                .with(
                    "Key",
                    PayloadValue::Path(ReferencePath::parse("$.ids.key").unwrap()),
                ),
        ),
    });
    map.label = Some("chunks".into());
    map.max_concurrency = Some(Limit::Fixed(DISTRIBUTED_MAP_MAX_CONCURRENCY));
    map.tolerated_failure_percentage = Some(Limit::Fixed(100.0));
    map.result_writer = Some(ResultWriter::s3(
        PayloadTemplate::new().with("Bucket", PayloadValue::Literal(json!("results"))),
    ));
    map
}

pub(super) fn reader_config(map: &mut MapState) -> &mut ReaderConfig {
    map.item_reader
        .as_mut()
        .unwrap()
        .reader_config
        .as_mut()
        .unwrap()
}

pub(super) fn with_map(map: MapState) -> StateMachine {
    build(vec![("Chunks", State::Map(map))])
}
