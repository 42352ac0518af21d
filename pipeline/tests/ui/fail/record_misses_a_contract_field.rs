// Must not compile: a `record!` that does not list every field of the contract type, which is
// what happens to the pipeline's declarations when a field is added to `etl_lambda::contract`.
use asl::record;
use etl_lambda::contract::{ChunkStoreUri, ExecutionName};

/// Stands for `etl_lambda::contract`, where ProcessChunkInput just gained `chunk_id`.
mod contract {
    use etl_lambda::contract::{ChunkStoreUri, ExecutionName};

    #[derive(schemars::JsonSchema)]
    pub struct ProcessChunkInput {
        pub format_version: u16,
        pub execution: ExecutionName,
        pub chunk_store: ChunkStoreUri,
        pub chunk_id: u32,
    }
}
use contract::ProcessChunkInput;

record!(ProcessChunkInput {
    format_version: u16,
    execution: ExecutionName,
    chunk_store: ChunkStoreUri,
});

fn main() {}
