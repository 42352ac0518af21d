// Compiles: the pipeline's Distributed Map written the right way — the items are read from the
// S3 object `chunk_ids` names, the ItemSelector builds exactly ProcessChunkInput, the chunk id is
// the item, and the processor takes ProcessChunkInput.
use asl::{distributed_map_over, path, selector, Scope, StateName, Transition};
use pipeline::{lambda_task, Task02State};
use etl_lambda::contract::{ProcessChunkInput, ProcessTask02Chunk};

fn main() {
    let map = distributed_map_over(path!(Task02State.task02_chunks.chunk_ids))
        .item_selector(|chunk| {
            selector!(ProcessChunkInput {
                format_version: chunk.input(path!(Task02State.task02_chunks.format_version)),
                execution: chunk.input(path!(Task02State.task02_chunks.execution)),
                chunk_store: chunk.input(path!(Task02State.task02_chunks.chunk_store)),
                chunk_id: chunk.item(),
            })
        })
        .processor(
            lambda_task::processor::<ProcessTask02Chunk>("arn:aws:lambda:us-east-1:123456789012:function:f:live"),
            Transition::Next(StateName::new("Done").unwrap()),
        );
    assert!(map.is_distributed() && map.items_path.is_none());
    let reader = serde_json::to_value(map.item_reader.unwrap()).unwrap();
    assert_eq!(reader["Parameters"]["Key.$"], "$.task02_chunks.chunk_ids.key");
}
