//! Typed paths resolving in their schema, and where a Map item's context value may be read.

use super::*;

#[test]
fn typed_paths_must_resolve_in_their_schema() {
    let mut map = inline_map(vec![("Each", pass(Transition::End))], Transition::End);
    map.result_path = ResultPath::Discard;
    map.items_path = Some(typed("$.chunkIds").into());
    map.item_selector = Some(
        PayloadTemplate::new()
            .with("ok", PayloadValue::Path(typed("$.nested.value")))
            .with("first", PayloadValue::Path(typed("$.chunkIds[0]")))
            .with("renamed", PayloadValue::Path(typed("$.chunk_ids")))
            .with("deep", PayloadValue::Path(typed("$.nested.nope"))),
    );
    let machine = build(vec![("Loop", State::Map(map))]);
    let found = errors(&machine);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].contains("ItemSelector `$.chunk_ids` does not resolve in the JSON schema of `Renamed`: there is no field `chunk_ids` (the fields are chunkIds, nested)"), "{found:#?}");
    assert!(found[1].contains("`$.nested.nope`"), "{found:#?}");
    // Untyped paths (from a parsed file) are not checked.
    let parsed: StateMachine = serde_json::from_value(json!({
        "StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.anything", "End": true}}
    }))
    .unwrap();
    assert_eq!(validate(&parsed), Report::default());
}

#[test]
fn the_map_item_exists_only_in_an_item_selector() {
    let mut task = TaskState::new("arn:aws:states:::lambda:invoke", Transition::End);
    task.parameters = Some(PayloadTemplate::new().with(
        "id",
        PayloadValue::Context(ContextValue::MapItemValue.into()),
    ));
    let machine = build(vec![("Call", State::Task(task))]);
    assert_one_error(
        &machine,
        "Parameters reads `$$.Map.Item.Value`, which exists only in a Map's ItemSelector",
    );
}

#[test]
fn the_map_item_is_not_in_the_reader_the_batcher_or_the_writer() {
    let item = || PayloadValue::Context(ContextValue::MapItemValue.into());
    let mut map = distributed_map();
    let reader = map.item_reader.as_mut().unwrap();
    reader.parameters = reader
        .parameters
        .take()
        .map(|p| p.with("VersionId", item()));
    map.item_batcher = Some(ItemBatcher {
        max_items_per_batch: Some(Limit::Fixed(10)),
        max_input_bytes_per_batch: None,
        batch_input: Some(PayloadTemplate::new().with("id", item())),
    });
    let writer = map.result_writer.as_mut().unwrap();
    writer.parameters = writer.parameters.take().map(|p| p.with("Prefix", item()));
    let found = errors(&with_map(map));
    assert_eq!(found.len(), 3, "{found:#?}");
    for (error, field) in found.iter().zip([
        "ItemReader.Parameters",
        "ItemBatcher.BatchInput",
        "ResultWriter.Parameters",
    ]) {
        assert!(
            error.contains(&format!(
                "{field} reads `$$.Map.Item.Value`, which exists only in a Map's ItemSelector"
            )),
            "{error}"
        );
    }
}

#[test]
fn typed_paths_in_the_reader_the_batcher_and_the_writer_must_resolve() {
    let mut map = distributed_map();
    map.item_reader.as_mut().unwrap().parameters = Some(
        PayloadTemplate::new()
            .with("Bucket", PayloadValue::Path(typed("$.chunkIds")))
            .with("Key", PayloadValue::Path(typed("$.chunk_ids"))),
    );
    map.item_batcher = Some(ItemBatcher {
        max_items_per_batch: Some(Limit::Fixed(10)),
        max_input_bytes_per_batch: None,
        batch_input: Some(
            PayloadTemplate::new().with("n", PayloadValue::Path(typed("$.nested.count"))),
        ),
    });
    map.result_writer = Some(ResultWriter::s3(
        PayloadTemplate::new().with("Bucket", PayloadValue::Path(typed("$.bucket"))),
    ));
    let found = errors(&with_map(map));
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        found[0].contains(
            "ItemReader.Parameters `$.chunk_ids` does not resolve in the JSON schema of `Renamed`"
        ),
        "{found:#?}"
    );
    assert!(
        found[1].contains("ItemBatcher.BatchInput `$.nested.count` does not resolve"),
        "{found:#?}"
    );
    assert!(
        found[2].contains("ResultWriter.Parameters `$.bucket` does not resolve"),
        "{found:#?}"
    );
}
