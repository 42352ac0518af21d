// Must not compile: the design note's defect, the chunk ids as a list in the state. The list
// grows with the data until Step Functions refuses the payload (256 KiB); the ids belong in S3,
// behind an `S3Items<ChunkId>` that the Distributed Map reads.
use asl::record;
use etl_lambda::contract::{ChunkId, ChunkStoreUri, DateRange, ExecutionName};

/// `etl_lambda::contract::Task02Chunks` as the design note had it.
mod contract {
    use etl_lambda::contract::{ChunkId, ChunkStoreUri, DateRange, ExecutionName};

    #[derive(schemars::JsonSchema)]
    pub struct Task02Chunks {
        pub format_version: u16,
        pub execution: ExecutionName,
        pub chunk_store: ChunkStoreUri,
        pub date_range: DateRange,
        pub num_chunks: u32,
        pub chunk_ids: Vec<ChunkId>,
    }
}
use contract::Task02Chunks;

record!(Task02Chunks {
    format_version: u16,
    execution: ExecutionName,
    chunk_store: ChunkStoreUri,
    date_range: DateRange,
    num_chunks: u32,
    chunk_ids: Vec<ChunkId>,
});

fn main() {}
