// Must not compile: the design note's defect, `{"chunk_id.$": "$"}`, in an inline Map over an array of
// chunk ids. `$` is the Map's whole input (an InlineChunks), not the item.
use asl::typed::Path;
use asl::{map_over, path, selector, BoundedVec, Scope, Transition};
use pipeline::lambda_task;
use etl_lambda::contract::{ChunkId, ProcessChunkInput, ProcessTask02Chunk, Task02Chunks};

/// A state holding the chunk ids as an array, payload-safe as the pipeline's states are, so that
/// the only error is the one this case is about.
#[derive(schemars::JsonSchema)]
struct InlineChunks {
    task02_chunks: Task02Chunks,
    chunk_ids: BoundedVec<ChunkId, 40>,
}
impl asl::typed::PayloadSafe for InlineChunks {
    const MAX_JSON_BYTES: usize = 10_000;
}

fn main() {
    let _ = map_over(path!(InlineChunks.chunk_ids))
        .item_selector(|chunk| {
            selector!(ProcessChunkInput {
                format_version: chunk.input(path!(InlineChunks.task02_chunks.format_version)),
                execution: chunk.input(path!(InlineChunks.task02_chunks.execution)),
                chunk_store: chunk.input(path!(InlineChunks.task02_chunks.chunk_store)),
                chunk_id: chunk.input(Path::root()),
            })
        })
        .processor(lambda_task::processor::<ProcessTask02Chunk>("arn:fn"), Transition::End);
}
