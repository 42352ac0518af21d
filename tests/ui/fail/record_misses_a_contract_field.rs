// Must not compile: a `record!` that does not list every field of the contract type, which is
// what happens to the pipeline's declarations when a field is added to `etl_lambda::contract`.
use cm_etl::record;
use etl_lambda::contract::{ChunkStoreUri, ExecutionName};
use schemars::JsonSchema;

/// Stands for a contract type that just gained `chunk_id`.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct ProcessChunkInput {
    format_version: u16,
    execution: ExecutionName,
    chunk_store: ChunkStoreUri,
    chunk_id: u32,
}

record!(ProcessChunkInput {
    format_version: u16,
    execution: ExecutionName,
    chunk_store: ChunkStoreUri,
});

fn main() {}
