// Must not compile: `execution` is given the chunk store URI, a value of the wrong type
// (ChunkStoreUri where ExecutionName is expected).
use asl::{distributed_map_over, path, selector, Scope, Transition};
use pipeline::{lambda_task, Task02State};
use etl_lambda::contract::{ProcessChunkInput, ProcessTask02Chunk};

fn main() {
    let _ = distributed_map_over(path!(Task02State.task02_chunks.chunk_ids))
        .item_selector(|chunk| {
            selector!(ProcessChunkInput {
                format_version: chunk.input(path!(Task02State.task02_chunks.format_version)),
                execution: chunk.input(path!(Task02State.task02_chunks.chunk_store)),
                chunk_store: chunk.input(path!(Task02State.task02_chunks.chunk_store)),
                chunk_id: chunk.item(),
            })
        })
        .processor(lambda_task::processor::<ProcessTask02Chunk>("arn:fn"), Transition::End);
}
