// Compiles: the pipeline's Map written the right way — the ItemSelector builds exactly
// ProcessChunkInput, the chunk id is the item, and the processor takes ProcessChunkInput.
use cm_etl::asl::{map_over, path, selector, Scope, Transition, StateName};
use cm_etl::pipeline::{lambda, Task02State};
use etl_lambda::contract::{ProcessChunkInput, ProcessTask02Chunk};

fn main() {
    let map = map_over(path!(Task02State.task02_chunks.chunk_ids))
        .item_selector(|chunk| {
            selector!(ProcessChunkInput {
                format_version: chunk.input(path!(Task02State.task02_chunks.format_version)),
                execution: chunk.input(path!(Task02State.task02_chunks.execution)),
                chunk_store: chunk.input(path!(Task02State.task02_chunks.chunk_store)),
                chunk_id: chunk.item(),
            })
        })
        .processor(
            lambda::processor::<ProcessTask02Chunk>("arn:aws:lambda:us-east-1:123456789012:function:f:live"),
            Transition::Next(StateName::new("Done").unwrap()),
        );
    assert_eq!(map.items_path.unwrap().to_string(), "$.task02_chunks.chunk_ids");
}
