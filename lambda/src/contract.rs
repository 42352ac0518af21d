//! The contract between the state machine and the handlers: every value that travels in a state
//! payload, the handler input and output types, and the error names a Retry or Catch can match.
//!
//! This module compiles without the Lambda runtime, the warehouse or the chunk store (no cargo
//! feature needed), so the CLI and the ASL model can share these types at compile time.
//! Invariant: nothing here carries an SSN or a visit key; payloads hold ids, counts and URIs only.

use std::fmt;

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Version of the stored chunk format. GetTask02Chunks stamps it into its result; ProcessChunk
/// refuses a chunk written with another version, so an execution never mixes incompatible builds.
pub const CHUNK_FORMAT_VERSION: u16 = 1;

/// The environment variables the function reads at cold start. Deploy sets the last three from
/// `deploy.toml`; the first is for local runs and tests (a URL there may carry a password, which is
/// why deployed functions read it from a secret instead).
pub mod env {
    /// The warehouse URL itself: `sqlite://PATH` or `postgres://...`.
    pub const DATABASE_URL: &str = "DATABASE_URL";
    /// The ARN of the Secrets Manager secret that holds the warehouse URL.
    pub const WAREHOUSE_SECRET_ARN: &str = "WAREHOUSE_SECRET_ARN";
    /// The base chunk store, `s3://bucket/prefix/`.
    pub const CHUNK_STORE_URI: &str = "CHUNK_STORE_URI";
    /// `true`: create missing warehouse tables at cold start.
    pub const WAREHOUSE_CREATE_SCHEMA: &str = "WAREHOUSE_CREATE_SCHEMA";
}

/// The name of a Step Functions execution (`$$.Execution.Name`); it keys the chunk store, so two
/// executions never see each other's chunks.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct ExecutionName(String);

impl ExecutionName {
    /// Step Functions allows 1 to 80 characters; we further keep to characters that are safe in
    /// an S3 key and a file name.
    pub fn new(name: impl Into<String>) -> Result<Self, ContractError> {
        let name = name.into();
        let valid = (1..=80).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            && name != "."
            && name != "..";
        if valid {
            Ok(Self(name))
        } else {
            Err(ContractError::new(
                "execution",
                "must be 1 to 80 characters of A-Z, a-z, 0-9, '-', '_' or '.'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ExecutionName {
    type Error = ContractError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<ExecutionName> for String {
    fn from(value: ExecutionName) -> Self {
        value.0
    }
}

impl fmt::Display for ExecutionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of one chunk within one execution: 0, 1, 2, ... in key order.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct ChunkId(pub u32);

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where one execution's chunks live: `s3://bucket/prefix/` when deployed, `file:///dir/` for
/// local runs and tests. Always ends with `/`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct ChunkStoreUri(String);

impl ChunkStoreUri {
    pub fn new(uri: impl Into<String>) -> Result<Self, ContractError> {
        let mut uri = uri.into();
        let rest = uri
            .strip_prefix("s3://")
            .or_else(|| uri.strip_prefix("file://"));
        match rest {
            Some(rest) if !rest.trim_matches('/').is_empty() => {
                if !uri.ends_with('/') {
                    uri.push('/');
                }
                Ok(Self(uri))
            }
            _ => Err(ContractError::new(
                "chunk_store",
                "must be s3://bucket/prefix/ or file:///directory/",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ChunkStoreUri {
    type Error = ContractError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<ChunkStoreUri> for String {
    fn from(value: ChunkStoreUri) -> Self {
        value.0
    }
}

impl fmt::Display for ChunkStoreUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An inclusive range of visit dates, `from <= to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "UncheckedDateRange")]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, ContractError> {
        if from <= to {
            Ok(Self { from, to })
        } else {
            Err(ContractError::new(
                "date_range",
                "`from` must not be after `to`",
            ))
        }
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && date <= self.to
    }
}

#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "DateRange")]
struct UncheckedDateRange {
    from: NaiveDate,
    to: NaiveDate,
}

impl TryFrom<UncheckedDateRange> for DateRange {
    type Error = ContractError;
    fn try_from(value: UncheckedDateRange) -> Result<Self, Self::Error> {
        Self::new(value.from, value.to)
    }
}

/// How GetTask02Chunks packs keys into chunks. A key is never split; a key with more rows than
/// `max_rows` gets a chunk of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChunkBudget {
    pub max_rows: u32,
    pub max_keys: u32,
}

/// The input the whole state machine is started with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineInput {
    pub date_range: DateRange,
}

/// GetTask02Chunks' input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetTask02ChunksInput {
    pub execution: ExecutionName,
    pub date_range: DateRange,
    pub budget: ChunkBudget,
}

/// GetTask02Chunks' output: counts, ids and where the chunks are; never the keys themselves, so
/// its size is O(1) in the number of keys and 8 bytes or less per chunk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Task02Chunks {
    pub format_version: u16,
    pub execution: ExecutionName,
    pub chunk_store: ChunkStoreUri,
    pub date_range: DateRange,
    pub num_chunks: u32,
    pub total_keys: u64,
    pub total_rows: u64,
    pub chunk_ids: Vec<ChunkId>,
}

/// ProcessTask02Chunk's input: which chunk of which execution, and where to find it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessChunkInput {
    pub format_version: u16,
    pub execution: ExecutionName,
    pub chunk_store: ChunkStoreUri,
    pub chunk_id: ChunkId,
}

/// ProcessTask02Chunk's output: what one chunk did to the warehouse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChunkSummary {
    pub chunk_id: ChunkId,
    pub rows_migrated: u64,
    pub rows_rejected: u64,
}

/// The actions the one Lambda function serves; each is one handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Action {
    #[serde(rename = "get_task02_chunks")]
    GetTask02Chunks,
    #[serde(rename = "process_task02_chunk")]
    ProcessTask02Chunk,
}

impl Action {
    pub const ALL: [Action; 2] = [Action::GetTask02Chunks, Action::ProcessTask02Chunk];

    /// The tag as it appears in the request's `action` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::GetTask02Chunks => "get_task02_chunks",
            Action::ProcessTask02Chunk => "process_task02_chunk",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Lambda's request: `{"action": "<tag>", "input": {...}}`. The state machine's Payload is
/// built from `Handler::ACTION` and the handler's input type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "action", content = "input", deny_unknown_fields)]
pub enum Request {
    #[serde(rename = "get_task02_chunks")]
    GetTask02Chunks(GetTask02ChunksInput),
    #[serde(rename = "process_task02_chunk")]
    ProcessTask02Chunk(ProcessChunkInput),
}

impl Request {
    pub fn action(&self) -> Action {
        match self {
            Request::GetTask02Chunks(_) => Action::GetTask02Chunks,
            Request::ProcessTask02Chunk(_) => Action::ProcessTask02Chunk,
        }
    }
}

/// A handler of the Lambda function, known at compile time by its input and output types.
pub trait Handler {
    const ACTION: Action;
    /// The state name the pipeline gives this handler's Task.
    const STATE_NAME: &'static str;
    type Input: Serialize + for<'de> Deserialize<'de> + JsonSchema;
    type Output: Serialize + for<'de> Deserialize<'de> + JsonSchema;
}

/// Splits the (visit_date, ssn) keys into chunks and stores them.
pub struct GetTask02Chunks;

impl Handler for GetTask02Chunks {
    const ACTION: Action = Action::GetTask02Chunks;
    const STATE_NAME: &'static str = "GetTask02Chunks";
    type Input = GetTask02ChunksInput;
    type Output = Task02Chunks;
}

/// Loads one chunk by id and migrates its rows, idempotently.
pub struct ProcessTask02Chunk;

impl Handler for ProcessTask02Chunk {
    const ACTION: Action = Action::ProcessTask02Chunk;
    const STATE_NAME: &'static str = "ProcessTask02Chunk";
    type Input = ProcessChunkInput;
    type Output = ChunkSummary;
}

/// The error names a handler fails with (the Lambda `errorType`), so a Retry or Catch matches them
/// by type rather than by a string typed twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorName {
    /// The request does not match the contract: do not retry.
    InvalidInput,
    /// The chunk or its manifest is not in the store: do not retry.
    ChunkNotFound,
    /// The chunk was written by a build with another chunk format: do not retry.
    ChunkFormatMismatch,
    /// The warehouse or the store failed in a way that may pass: retry.
    Transient,
}

impl ErrorName {
    pub const ALL: [ErrorName; 4] = [
        ErrorName::InvalidInput,
        ErrorName::ChunkNotFound,
        ErrorName::ChunkFormatMismatch,
        ErrorName::Transient,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorName::InvalidInput => "Task02.InvalidInput",
            ErrorName::ChunkNotFound => "Task02.ChunkNotFound",
            ErrorName::ChunkFormatMismatch => "Task02.ChunkFormatMismatch",
            ErrorName::Transient => "Task02.Transient",
        }
    }

    /// Whether the state machine should retry a task that failed with this error.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorName::Transient)
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A contract value that failed validation: names the field and the rule, never the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractError {
    pub field: &'static str,
    pub rule: &'static str,
}

impl ContractError {
    pub fn new(field: &'static str, rule: &'static str) -> Self {
        Self { field, rule }
    }
}

impl fmt::Display for ContractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.field, self.rule)
    }
}

impl std::error::Error for ContractError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_is_tagged_by_action_with_the_input_beside_it() {
        let request = Request::ProcessTask02Chunk(ProcessChunkInput {
            format_version: CHUNK_FORMAT_VERSION,
            execution: ExecutionName::new("exec-1").unwrap(),
            chunk_store: ChunkStoreUri::new("s3://bucket/task02/exec-1").unwrap(),
            chunk_id: ChunkId(7),
        });
        let value = serde_json::to_value(&request).unwrap();
        assert_eq!(value["action"], json!("process_task02_chunk"));
        assert_eq!(value["input"]["chunk_id"], json!(7));
        assert_eq!(
            value["input"]["chunk_store"],
            json!("s3://bucket/task02/exec-1/")
        );
        assert_eq!(serde_json::from_value::<Request>(value).unwrap(), request);
    }

    #[test]
    fn invalid_values_name_the_field_not_the_value() {
        let err =
            serde_json::from_value::<DateRange>(json!({"from": "2024-02-01", "to": "2024-01-01"}))
                .unwrap_err()
                .to_string();
        assert!(err.contains("date_range"), "{err}");
        assert!(!err.contains("2024-02-01"), "{err}");
        assert!(ExecutionName::new("a/b").is_err());
        assert!(ExecutionName::new("x".repeat(81)).is_err());
        assert!(ChunkStoreUri::new("http://bucket/").is_err());
        assert!(ChunkStoreUri::new("s3://").is_err());
    }
}
