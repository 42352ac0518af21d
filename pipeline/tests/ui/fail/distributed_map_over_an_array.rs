// Must not compile: `distributed_map_over` of a path to a `Vec<ChunkId>` in the state. A
// Distributed Map reads its items from an S3 object, so the path must end at a handle naming one
// (an `S3ItemsObject`); an array in the state is what an inline `map_over` iterates.
use asl::{distributed_map_over, path};
use etl_lambda::contract::ChunkId;

/// A state holding the chunk ids as an array.
#[derive(schemars::JsonSchema)]
struct InlineChunks {
    chunk_ids: Vec<ChunkId>,
}

fn main() {
    let _ = distributed_map_over(path!(InlineChunks.chunk_ids));
}
