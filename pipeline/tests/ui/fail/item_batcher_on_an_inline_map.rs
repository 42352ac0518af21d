// Must not compile: `.item_batcher(..)` on an inline Map. AWS batches items only in a Distributed
// Map (an inline Map with an ItemBatcher is refused when the machine is created), so an inline
// `map_over` has no such method.
use asl::typed::PayloadSafe;
use asl::{map_over, path, selector, BatchLimits, BoundedVec, Scope};
use etl_lambda::contract::{ChunkId, ExecutionName, ProcessChunkInput, Task02Chunks};

/// A state holding the chunk ids as an array.
#[derive(schemars::JsonSchema)]
struct InlineChunks {
    task02_chunks: Task02Chunks,
    chunk_ids: BoundedVec<ChunkId, 40>,
}

/// What every chunk of a batch would share.
struct BatchContext {
    execution: ExecutionName,
}
impl PayloadSafe for BatchContext {
    const MAX_JSON_BYTES: usize = 100;
}

fn main() {
    let _ = map_over(path!(InlineChunks.chunk_ids))
        .item_selector(|chunk| {
            selector!(ProcessChunkInput {
                format_version: chunk.input(path!(InlineChunks.task02_chunks.format_version)),
                execution: chunk.input(path!(InlineChunks.task02_chunks.execution)),
                chunk_store: chunk.input(path!(InlineChunks.task02_chunks.chunk_store)),
                chunk_id: chunk.item(),
            })
        })
        .item_batcher(BatchLimits { max_items: Some(25), max_input_bytes: None }, |input| {
            selector!(BatchContext {
                execution: input.input(path!(InlineChunks.task02_chunks.execution)),
            })
        });
}
