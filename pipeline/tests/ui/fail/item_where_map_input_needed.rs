// Must not compile: in the Distributed Map the item (a ChunkId read from S3) is given where the
// processor needs a value of the Map's input, the execution name; every child would get a chunk
// id as its execution.
use asl::{distributed_map_over, path, selector, Scope, Transition};
use pipeline::{lambda_task, Task02State};
use etl_lambda::contract::{ProcessChunkInput, ProcessTask02Chunk};

fn main() {
    let _ = distributed_map_over(path!(Task02State.task02_chunks.chunk_ids))
        .item_selector(|chunk| {
            selector!(ProcessChunkInput {
                format_version: chunk.input(path!(Task02State.task02_chunks.format_version)),
                execution: chunk.item(),
                chunk_store: chunk.input(path!(Task02State.task02_chunks.chunk_store)),
                chunk_id: chunk.item(),
            })
        })
        .processor(lambda_task::processor::<ProcessTask02Chunk>("arn:fn"), Transition::End);
}
