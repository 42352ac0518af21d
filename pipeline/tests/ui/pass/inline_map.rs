// Compiles: an inline Map over an array in the state (`map_over`), the form a Map takes when its
// items are few and already in the payload: ItemsPath points at a `BoundedVec<ChunkId, N>` and each
// iteration's chunk id is the item.
use asl::{map_over, path, selector, BoundedVec, Scope, Transition};
use pipeline::lambda_task;
use etl_lambda::contract::{ChunkId, ProcessChunkInput, ProcessTask02Chunk, Task02Chunks};

/// A state holding the chunk ids as an array.
#[derive(schemars::JsonSchema)]
struct InlineChunks {
    task02_chunks: Task02Chunks,
    chunk_ids: BoundedVec<ChunkId, 40>,
}

fn main() {
    let map = map_over(path!(InlineChunks.chunk_ids))
        .item_selector(|chunk| {
            selector!(ProcessChunkInput {
                format_version: chunk.input(path!(InlineChunks.task02_chunks.format_version)),
                execution: chunk.input(path!(InlineChunks.task02_chunks.execution)),
                chunk_store: chunk.input(path!(InlineChunks.task02_chunks.chunk_store)),
                chunk_id: chunk.item(),
            })
        })
        .processor(lambda_task::processor::<ProcessTask02Chunk>("arn:fn"), Transition::End);
    assert!(!map.is_distributed());
    assert_eq!(map.items_path.unwrap().to_string(), "$.chunk_ids");
}
