// Must not compile: the Distributed Map reads its items from an S3 object of names (`names`),
// but the processor needs a ChunkId as `chunk_id`; each child would get a name as its chunk id.
use asl::typed::{Field, S3ItemsObject};
use asl::{distributed_map_over, field, path, selector, ReaderInputType, Scope, Transition};
use pipeline::lambda_task;
use etl_lambda::contract::{ProcessChunkInput, ProcessTask02Chunk, Task02Chunks};

/// Names an S3 object holding a JSON array of names.
#[derive(schemars::JsonSchema)]
struct NameList {
    bucket: String,
    key: String,
}

impl S3ItemsObject for NameList {
    type Item = asl::BoundedString<80>;
    const INPUT_TYPE: ReaderInputType = ReaderInputType::Json;
    fn bucket() -> Field<Self, String> {
        field!(bucket)
    }
    fn key() -> Field<Self, String> {
        field!(key)
    }
}

/// A state with the chunks and a list of names.
#[derive(schemars::JsonSchema)]
struct NamedChunks {
    task02_chunks: Task02Chunks,
    names: NameList,
}

fn main() {
    let _ = distributed_map_over(path!(NamedChunks.names))
        .item_selector(|chunk| {
            selector!(ProcessChunkInput {
                format_version: chunk.input(path!(NamedChunks.task02_chunks.format_version)),
                execution: chunk.input(path!(NamedChunks.task02_chunks.execution)),
                chunk_store: chunk.input(path!(NamedChunks.task02_chunks.chunk_store)),
                chunk_id: chunk.item(),
            })
        })
        .processor(lambda_task::processor::<ProcessTask02Chunk>("arn:fn"), Transition::End);
}
