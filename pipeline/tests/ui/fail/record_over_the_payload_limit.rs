// Must not compile: a record whose worst case is over Step Functions' 256 KiB payload limit. A
// bounded list is fine while it is small; 30,000 chunk ids (up to 11 bytes of JSON each) is not.
use asl::{record, BoundedVec};
use etl_lambda::contract::ChunkId;

#[derive(schemars::JsonSchema)]
struct ManyChunks {
    chunk_ids: BoundedVec<ChunkId, 30_000>,
}

record!(ManyChunks {
    chunk_ids: BoundedVec<ChunkId, 30_000>,
});

fn main() {}
