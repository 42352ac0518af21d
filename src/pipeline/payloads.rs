//! What travels in the pipeline's payloads: the contract types declared to the ASL model (every
//! field listed, so a contract change breaks compilation here), and the state between tasks.

use chrono::NaiveDate;
use etl_lambda::contract::{
    ChunkBudget, ChunkId, ChunkStoreUri, ChunkSummary, ChunksDeleted, DateRange, DeleteChunksInput,
    ExecutionName, GetTask02ChunksInput, PipelineInput, ProcessChunkInput, S3Items, Task02Chunks,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::asl::typed::{Field, FromContext, PayloadSafe, S3ItemsObject, context};
use crate::asl::{ReaderInputType, field, payload_safe, record};

payload_safe!(ExecutionName, ChunkId, ChunkStoreUri);

/// The handle travels (a bucket and a key); the items stay in S3.
impl<T: PayloadSafe> PayloadSafe for S3Items<T> {}

/// A Distributed Map reads its items from the JSON array the handle names.
impl<T> S3ItemsObject for S3Items<T> {
    type Item = T;
    const INPUT_TYPE: ReaderInputType = ReaderInputType::Json;
    fn bucket() -> Field<Self, String> {
        field!(bucket)
    }
    fn key() -> Field<Self, String> {
        field!(key)
    }
}

// Step Functions execution names are 1 to 80 characters; the handler still checks the
// characters (ExecutionName::new) and refuses a name unsafe for a store key with InvalidInput.
impl FromContext<context::ExecutionName> for ExecutionName {}

record!(DateRange {
    from: NaiveDate,
    to: NaiveDate
});
record!(ChunkBudget {
    max_rows: u32,
    max_keys: u32,
});
record!(PipelineInput {
    date_range: DateRange,
});
record!(GetTask02ChunksInput {
    execution: ExecutionName,
    date_range: DateRange,
    budget: ChunkBudget,
});
record!(Task02Chunks {
    format_version: u16,
    execution: ExecutionName,
    chunk_store: ChunkStoreUri,
    date_range: DateRange,
    num_chunks: u32,
    total_keys: u64,
    total_rows: u64,
    chunk_ids: S3Items<ChunkId>,
});
record!(ProcessChunkInput {
    format_version: u16,
    execution: ExecutionName,
    chunk_store: ChunkStoreUri,
    chunk_id: ChunkId,
});
record!(DeleteChunksInput {
    execution: ExecutionName,
    chunk_store: ChunkStoreUri,
});
record!(ChunksDeleted {
    objects_deleted: u64,
});
record!(ChunkSummary {
    chunk_id: ChunkId,
    rows_migrated: u64,
    rows_rejected: u64,
});

/// The state after GetTask02Chunks: the pipeline's input with the chunks' ids, counts and store
/// at `task02_chunks` (its ResultPath). The Map reads it and passes it on unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Task02State {
    pub date_range: DateRange,
    pub task02_chunks: Task02Chunks,
}

record!(Task02State {
    date_range: DateRange,
    task02_chunks: Task02Chunks,
});
