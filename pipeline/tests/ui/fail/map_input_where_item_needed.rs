// Must not compile: the design note's defect, `{"chunk_id.$": "$"}`, in the Distributed Map. Inside the
// ItemSelector `$` is the Map's whole input (a Task02State), not the item; the chunk id is only
// `chunk.item()`.
use asl::typed::Path;
use asl::{distributed_map_over, path, selector, Scope, Transition};
use pipeline::{lambda_task, Task02State};
use etl_lambda::contract::{ProcessChunkInput, ProcessTask02Chunk};

fn main() {
    let _ = distributed_map_over(path!(Task02State.task02_chunks.chunk_ids))
        .item_selector(|chunk| {
            selector!(ProcessChunkInput {
                format_version: chunk.input(path!(Task02State.task02_chunks.format_version)),
                execution: chunk.input(path!(Task02State.task02_chunks.execution)),
                chunk_store: chunk.input(path!(Task02State.task02_chunks.chunk_store)),
                chunk_id: chunk.input(Path::root()),
            })
        })
        .processor(lambda_task::processor::<ProcessTask02Chunk>("arn:fn"), Transition::End);
}
