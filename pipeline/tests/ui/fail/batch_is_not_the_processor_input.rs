// Must not compile: after `.item_batcher(..)` each child execution receives an ItemBatch of
// ProcessChunkInput with the BatchInput, but the processor is ProcessTask02Chunk, which takes one
// ProcessChunkInput; it would refuse every batch.
use asl::typed::PayloadSafe;
use asl::{distributed_map_over, path, selector, BatchLimits, Scope, Transition};
use pipeline::{lambda_task, Task02State};
use etl_lambda::contract::{ExecutionName, ProcessChunkInput, ProcessTask02Chunk};

/// What every chunk of a batch shares.
struct BatchContext {
    execution: ExecutionName,
}
impl PayloadSafe for BatchContext {
    const MAX_JSON_BYTES: usize = 100;
}

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
        .item_batcher(
            BatchLimits { max_items: Some(25), max_input_bytes: None },
            |input| {
                selector!(BatchContext {
                    execution: input.input(path!(Task02State.task02_chunks.execution)),
                })
            },
        )
        .processor(lambda_task::processor::<ProcessTask02Chunk>("arn:fn"), Transition::End);
}
