//! The contract's payload types declared to the ASL model: which may travel in a state payload,
//! with every field listed (so a contract change breaks compilation here, where it is made), how a
//! Distributed Map reads an `S3Items` handle, and which context values they may be read from.

use asl::typed::{Field, FromContext, PayloadSafe, S3ItemsObject, context, json_string_bytes};
use asl::{ReaderInputType, field, payload_safe, record};
use chrono::NaiveDate;

use super::{
    ChunkBudget, ChunkId, ChunkStoreUri, ChunkSummary, ChunksDeleted, DateRange, DeleteChunksInput,
    ExecutionArn, ExecutionName, GetTask02ChunksInput, MAX_BUCKET_LEN, MAX_KEY_LEN, PipelineInput,
    ProcessChunkInput, S3Items, Task02Chunks,
};

payload_safe!(
    ExecutionName => json_string_bytes(ExecutionName::MAX_LEN),
    ExecutionArn => json_string_bytes(ExecutionArn::MAX_LEN),
    ChunkId => u32::MAX_JSON_BYTES,
    ChunkStoreUri => json_string_bytes(ChunkStoreUri::MAX_LEN),
);

/// The handle travels (a bucket and a key); the items stay in S3.
impl<T: PayloadSafe> PayloadSafe for S3Items<T> {
    const MAX_JSON_BYTES: usize = r#"{"bucket":,"key":}"#.len()
        + json_string_bytes(MAX_BUCKET_LEN)
        + json_string_bytes(MAX_KEY_LEN);
}

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

// `$$.Execution.Id` is the execution's ARN; the handler checks its form and that it names the
// execution.
impl FromContext<context::ExecutionId> for ExecutionArn {}

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
    execution_arn: ExecutionArn,
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
    execution_arn: ExecutionArn,
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
