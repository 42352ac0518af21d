// Must not compile: the ItemSelector builds ProcessChunkInput but the Distributed Map's processor
// is the GetTask02Chunks handler, which takes GetTask02ChunksInput.
use asl::{distributed_map_over, path, selector, Scope, Transition};
use pipeline::{lambda_task, Task02State};
use etl_lambda::contract::{GetTask02Chunks, ProcessChunkInput};

fn main() {
    let _ = distributed_map_over(path!(Task02State.task02_chunks.chunk_ids))
        .item_selector(|chunk| {
            selector!(ProcessChunkInput {
                format_version: chunk.input(path!(Task02State.task02_chunks.format_version)),
                execution: chunk.input(path!(Task02State.task02_chunks.execution)),
                chunk_store: chunk.input(path!(Task02State.task02_chunks.chunk_store)),
                chunk_id: chunk.item(),
            })
        })
        .processor(lambda_task::processor::<GetTask02Chunks>("arn:fn"), Transition::End);
}
