//! The contract between the state machine and the handlers: every value that travels in a state
//! payload, the handler input and output types, and the error names a Retry or Catch can match.
//!
//! This module compiles without the Lambda runtime, the warehouse or the chunk store (no cargo
//! feature needed), so the CLI and the ASL model can share these types at compile time.
//! Invariant: nothing here carries an SSN or a visit key; payloads hold ids, counts and URIs only.

use std::fmt;
use std::marker::PhantomData;

mod payloads;

use asl::typed::PayloadSafe;
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Version of the stored chunk format. GetTask02Chunks stamps it into its result; ProcessChunk
/// refuses a chunk written with another version, so an execution never mixes incompatible builds.
/// 2: a key may stand for an SSN's rows whose date is malformed (`bad_visit_date`), which a
/// version-1 build would take for its undated rows. 3: a chunk is a span of keys (its first and
/// last), not a list. 4: the spans of a kind's chunks cover the kind's whole key order, gaps and
/// open ends included (`KeyBounds`), so rows of keys that left the source are removed; and an
/// execution's folder is named after its ARN too (`<execution>-<arn digest>/`, see
/// [`ChunkStoreUri::for_execution`]), which GetTask02Chunks and DeleteTask02Chunks take.
pub const CHUNK_FORMAT_VERSION: u16 = 4;

/// The environment variables the function reads at cold start. Deploy sets the secret's ARN, the
/// chunk store and the TLS opt-out from `deploy.toml`; `DATABASE_URL` is for local runs and tests
/// (a URL there may carry a password, which is why deployed functions read it from a secret).
pub mod env {
    /// The warehouse URL itself: `sqlite://PATH` or `postgres://...`.
    pub const DATABASE_URL: &str = "DATABASE_URL";
    /// The ARN of the Secrets Manager secret that holds the warehouse URL.
    pub const WAREHOUSE_SECRET_ARN: &str = "WAREHOUSE_SECRET_ARN";
    /// The base chunk store, `s3://bucket/prefix/`.
    pub const CHUNK_STORE_URI: &str = "CHUNK_STORE_URI";
    /// `true`: create missing warehouse tables at cold start.
    pub const WAREHOUSE_CREATE_SCHEMA: &str = "WAREHOUSE_CREATE_SCHEMA";
    /// deploy.toml's `function.warehouse_insecure_transport` (`unverified` or `plaintext`): the
    /// explicit opt-out of verified TLS to the warehouse.
    pub const WAREHOUSE_INSECURE_TRANSPORT: &str = "WAREHOUSE_INSECURE_TRANSPORT";
}

/// The name of a Step Functions execution (`$$.Execution.Name`); with its ARN it names the
/// execution's chunk store folder.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct ExecutionName(String);

impl ExecutionName {
    /// Step Functions' limit on an execution name.
    pub const MAX_LEN: usize = asl::limits::NAME_CHARS;

    /// Step Functions allows 1 to 80 characters; we further keep to characters that are safe in
    /// an S3 key and a file name.
    pub fn new(name: impl Into<String>) -> Result<Self, ContractError> {
        let name = name.into();
        let valid = (1..=Self::MAX_LEN).contains(&name.len())
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

    /// The name as Step Functions has it.
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

/// The ARN of a Step Functions execution (`$$.Execution.Id`): region, account, state machine and
/// name. It keys the execution's chunk store folder (see [`ChunkStoreUri::for_execution`]), so two
/// executions never share a folder, even two of the same name in state machines that share a
/// bucket prefix, while a retried or redriven task of the same execution (same ARN) finds its own.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct ExecutionArn(String);

impl ExecutionArn {
    /// IAM's limit on an ARN.
    pub const MAX_LEN: usize = asl::limits::ARN_CHARS;

    /// `arn:...`, at most 2,048 printable ASCII characters with no space.
    pub fn new(arn: impl Into<String>) -> Result<Self, ContractError> {
        let arn = arn.into();
        let valid = arn.starts_with("arn:")
            && arn.len() <= Self::MAX_LEN
            && arn.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            Ok(Self(arn))
        } else {
            Err(ContractError::new(
                "execution_arn",
                "must be an ARN: `arn:` and at most 2048 printable ASCII characters",
            ))
        }
    }

    /// The ARN as Step Functions has it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this ARN is of an execution named `name` (one of its `:`-separated parts).
    pub fn names(&self, name: &ExecutionName) -> bool {
        self.0.split(':').any(|part| part == name.as_str())
    }

    /// The ARN's SHA-256 in lowercase hex (64 digits): what the state machine computes as
    /// `States.Hash($$.Execution.Id, 'SHA-256')` for the Map's ResultWriter, so both name the
    /// same folder.
    pub fn digest(&self) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

impl TryFrom<String> for ExecutionArn {
    type Error = ContractError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<ExecutionArn> for String {
    fn from(value: ExecutionArn) -> Self {
        value.0
    }
}

impl fmt::Display for ExecutionArn {
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

/// Where chunks live: `s3://bucket/prefix/`, always ending with `/`. Deployed, the bucket is in
/// Amazon S3; local runs and tests keep the same bucket and keys in a private directory standing in
/// for S3 (see `ChunkStores::local` in the handlers), so an execution's keys are the same
/// everywhere. The base URI (`CHUNK_STORE_URI`) holds one `<execution>-<arn digest>/` folder per
/// execution ([`ChunkStoreUri::for_execution`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct ChunkStoreUri(String);

/// S3's limit on a bucket name.
pub const MAX_BUCKET_LEN: usize = 63;
/// S3's limit on an object key, in bytes (ours are ASCII).
pub const MAX_KEY_LEN: usize = 1024;

impl ChunkStoreUri {
    /// The longest URI: `s3://`, a bucket, `/`, a key.
    pub const MAX_LEN: usize = "s3://".len() + MAX_BUCKET_LEN + 1 + MAX_KEY_LEN;

    /// The longest base prefix: an execution's folder (`<name>-<64 hex digits>/`) and the
    /// objects in it (chunk keys, the Map Run's results) must still fit in a key.
    pub const MAX_BASE_PREFIX_LEN: usize =
        MAX_KEY_LEN - (ExecutionName::MAX_LEN + 66) - OBJECT_NAMES_ROOM;

    /// The URI with `/` appended if missing, or an error unless it is `s3://bucket/prefix/` with a
    /// valid bucket name and a prefix of safe S3 key characters.
    pub fn new(uri: impl Into<String>) -> Result<Self, ContractError> {
        let mut uri = uri.into();
        let invalid = || ContractError::new("chunk_store", "must be s3://bucket/prefix/");
        let rest = uri.strip_prefix("s3://").ok_or_else(invalid)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_len = bucket.len();
        if !is_bucket_name(bucket) {
            return Err(ContractError::new(
                "chunk_store",
                "must name an S3 bucket: 3 to 63 of a-z, 0-9, '.' and '-', starting and ending with a letter or digit",
            ));
        }
        if !is_safe_key(prefix) {
            return Err(ContractError::new(
                "chunk_store",
                "has a prefix that is not a safe S3 key (A-Z a-z 0-9 ! - _ . * ' ( ) and '/', no empty or '.'/'..' segment)",
            ));
        }
        if !uri.ends_with('/') {
            uri.push('/');
        }
        if uri.len() - "s3://".len() - bucket_len - 1 > Self::MAX_BASE_PREFIX_LEN {
            return Err(ContractError::new(
                "chunk_store",
                "has a prefix over 750 bytes: an execution's folder and its objects must fit in S3's 1,024-byte keys",
            ));
        }
        Ok(Self(uri))
    }

    /// The URI, ending with `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        let rest = &self.0["s3://".len()..];
        rest.split_once('/').map_or(rest, |(bucket, _)| bucket)
    }

    /// The key prefix, `""` or ending with `/`.
    pub fn prefix(&self) -> &str {
        let rest = &self.0["s3://".len()..];
        rest.split_once('/').map_or("", |(_, prefix)| prefix)
    }

    /// The folder of one execution's chunks: `<this uri><execution>-<arn digest>/`, the name
    /// for whoever reads a listing, the digest ([`ExecutionArn::digest`]) so that executions of
    /// the same name in other state machines (or accounts, or regions) sharing this prefix never
    /// write or delete each other's chunks. The same execution (a retry, a redrive) always gets
    /// the same folder.
    pub fn for_execution(&self, execution: &ExecutionName, arn: &ExecutionArn) -> Self {
        Self(format!("{}{}-{}/", self.0, execution, arn.digest()))
    }

    /// The key of the object `name` in this folder.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix())
    }
}

/// Room for the names of the objects in an execution's folder (`chunk-ids.json`, the chunks,
/// `map-results/<map run id>/...`).
const OBJECT_NAMES_ROOM: usize = 128;

/// An S3 bucket name as AWS allows it for new buckets (dots allowed, no `..`, not an IP address).
fn is_bucket_name(name: &str) -> bool {
    let edge = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (3..=MAX_BUCKET_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && edge(name.bytes().next())
        && edge(name.bytes().last())
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
}

/// A key (or prefix) made only of S3's "safe characters", with no empty, `.` or `..` segment, so
/// it maps to the same path in a local directory standing in for the bucket.
fn is_safe_key(key: &str) -> bool {
    key.trim_end_matches('/').is_empty()
        || key.trim_end_matches('/').split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!-_.*'()".contains(&b))
        })
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

/// The object, in an execution's chunk store folder, holding every chunk id as one JSON array: the
/// Distributed Map's ItemReader reads it.
pub const CHUNK_IDS: &str = "chunk-ids.json";

/// The folder, inside an execution's chunk store folder, where the Distributed Map's ResultWriter
/// writes what each child execution returned (no key: chunk ids and counts).
pub const MAP_RESULTS_FOLDER: &str = "map-results";

/// One S3 object holding a JSON array of `T`s: where a Distributed Map's ItemReader
/// (`arn:aws:states:::s3:getObject`, `InputType: JSON`) reads its items. Typed by its element, so
/// the pipeline's Map item is a `T` at compile time; only the bucket and key travel in a payload.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3Items<T> {
    /// The S3 bucket that holds the object.
    pub bucket: String,
    /// The object's key in that bucket.
    pub key: String,
    #[serde(skip)]
    #[schemars(skip)]
    items: PhantomData<fn() -> T>,
}

impl<T> S3Items<T> {
    /// The object `name` in the chunk store folder `folder`.
    pub fn in_folder(folder: &ChunkStoreUri, name: &str) -> Self {
        Self {
            bucket: folder.bucket().to_owned(),
            key: folder.key(name),
            items: PhantomData,
        }
    }
}

// By hand: a derive would ask `T` for each trait, though no `T` is stored.
impl<T> Clone for S3Items<T> {
    fn clone(&self) -> Self {
        Self {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            items: PhantomData,
        }
    }
}

impl<T> fmt::Debug for S3Items<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S3Items(s3://{}/{})", self.bucket, self.key)
    }
}

impl<T> PartialEq for S3Items<T> {
    fn eq(&self, other: &Self) -> bool {
        self.bucket == other.bucket && self.key == other.key
    }
}

impl<T> Eq for S3Items<T> {}

/// An inclusive range of visit dates, `from <= to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "UncheckedDateRange")]
pub struct DateRange {
    /// The first visit date in the range.
    pub from: NaiveDate,
    /// The last visit date in the range (included).
    pub to: NaiveDate,
}

impl DateRange {
    /// The range `from..=to`, or an error when `from` is after `to`.
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

    /// Whether `date` is in the range, both ends included.
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
    /// The most source rows in one chunk (a single key with more gets a chunk of its own).
    pub max_rows: u32,
    /// The most keys in one chunk.
    pub max_keys: u32,
}

/// The input the whole state machine is started with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineInput {
    /// The visit dates whose rows the execution migrates (undated and malformed-date rows are
    /// migrated or rejected on every run too).
    pub date_range: DateRange,
}

/// GetTask02Chunks' input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetTask02ChunksInput {
    /// The execution the chunks are stored for (`$$.Execution.Name`).
    pub execution: ExecutionName,
    /// That execution's ARN (`$$.Execution.Id`), which must name it: with the name, it names the
    /// execution's folder.
    pub execution_arn: ExecutionArn,
    /// The visit dates whose dated keys are chunked.
    pub date_range: DateRange,
    /// How many rows and keys one chunk may hold.
    pub budget: ChunkBudget,
}

/// GetTask02Chunks' output: counts and where the chunks and the list of their ids are; never the
/// keys themselves, nor one entry per chunk, so its size is O(1) in the number of keys and chunks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Task02Chunks {
    /// The chunk format the chunks were written with ([`CHUNK_FORMAT_VERSION`]).
    pub format_version: u16,
    /// The execution the chunks belong to.
    pub execution: ExecutionName,
    /// The execution's chunk store folder.
    pub chunk_store: ChunkStoreUri,
    /// The visit dates the chunks cover (undated and malformed-date keys come on top).
    pub date_range: DateRange,
    /// How many chunks were stored, ids `0..num_chunks`.
    pub num_chunks: u32,
    /// How many keys the chunks hold in all.
    pub total_keys: u64,
    /// How many source rows those keys had when packed.
    pub total_rows: u64,
    /// The JSON array of every chunk id, in the execution's folder: the Map's ItemReader reads it.
    pub chunk_ids: S3Items<ChunkId>,
}

/// ProcessTask02Chunk's input: which chunk of which execution, and where to find it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessChunkInput {
    /// The chunk format GetTask02Chunks stamped; refused unless this build reads that format.
    pub format_version: u16,
    /// The execution whose chunk this is.
    pub execution: ExecutionName,
    /// The execution's chunk store folder.
    pub chunk_store: ChunkStoreUri,
    /// Which of the execution's chunks to migrate.
    pub chunk_id: ChunkId,
}

/// DeleteTask02Chunks' input: the execution whose chunk store folder goes, and that folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteChunksInput {
    /// The execution whose chunks are deleted.
    pub execution: ExecutionName,
    /// That execution's ARN (`$$.Execution.Id`): only the folder it names may be deleted.
    pub execution_arn: ExecutionArn,
    /// The execution's chunk store folder, deleted with everything in it.
    pub chunk_store: ChunkStoreUri,
}

/// DeleteTask02Chunks' output: how many objects the folder held (0 when run again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChunksDeleted {
    /// How many objects were deleted.
    pub objects_deleted: u64,
}

/// ProcessTask02Chunk's output: what one chunk did to the warehouse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChunkSummary {
    /// The chunk that was migrated.
    pub chunk_id: ChunkId,
    /// Rows written to `visits_migrated`.
    pub rows_migrated: u64,
    /// Rows written to `visits_rejected`, each with its reason.
    pub rows_rejected: u64,
}

/// The actions the one Lambda function serves; each is one handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Action {
    /// `get_task02_chunks`: packs the keys into chunks and stores them.
    #[serde(rename = "get_task02_chunks")]
    GetTask02Chunks,
    /// `process_task02_chunk`: migrates one chunk's rows.
    #[serde(rename = "process_task02_chunk")]
    ProcessTask02Chunk,
    /// `delete_task02_chunks`: deletes an execution's chunks.
    #[serde(rename = "delete_task02_chunks")]
    DeleteTask02Chunks,
}

impl Action {
    /// Every action, one per handler.
    pub const ALL: [Action; 3] = [
        Action::GetTask02Chunks,
        Action::ProcessTask02Chunk,
        Action::DeleteTask02Chunks,
    ];

    /// The tag as it appears in the request's `action` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::GetTask02Chunks => "get_task02_chunks",
            Action::ProcessTask02Chunk => "process_task02_chunk",
            Action::DeleteTask02Chunks => "delete_task02_chunks",
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
    /// Packs the keys of a date range into stored chunks.
    #[serde(rename = "get_task02_chunks")]
    GetTask02Chunks(GetTask02ChunksInput),
    /// Migrates one stored chunk.
    #[serde(rename = "process_task02_chunk")]
    ProcessTask02Chunk(ProcessChunkInput),
    /// Deletes an execution's stored chunks.
    #[serde(rename = "delete_task02_chunks")]
    DeleteTask02Chunks(DeleteChunksInput),
}

impl Request {
    /// Which handler serves this request.
    pub fn action(&self) -> Action {
        match self {
            Request::GetTask02Chunks(_) => Action::GetTask02Chunks,
            Request::ProcessTask02Chunk(_) => Action::ProcessTask02Chunk,
            Request::DeleteTask02Chunks(_) => Action::DeleteTask02Chunks,
        }
    }
}

/// A handler of the Lambda function, known at compile time by its input and output types.
pub trait Handler {
    /// The `action` tag that routes a request to this handler.
    const ACTION: Action;
    /// The state name the pipeline gives this handler's Task.
    const STATE_NAME: &'static str;
    /// What the handler takes: the request's `input`, bounded in size as every payload is.
    type Input: Serialize + for<'de> Deserialize<'de> + JsonSchema + PayloadSafe;
    /// What the handler returns: the Task's result, bounded in size as every payload is.
    type Output: Serialize + for<'de> Deserialize<'de> + JsonSchema + PayloadSafe;
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

/// Deletes one execution's chunk store folder once its chunks are migrated: the keys (SSNs) they
/// hold live no longer than the migration needs them.
pub struct DeleteTask02Chunks;

impl Handler for DeleteTask02Chunks {
    const ACTION: Action = Action::DeleteTask02Chunks;
    const STATE_NAME: &'static str = "DeleteTask02Chunks";
    type Input = DeleteChunksInput;
    type Output = ChunksDeleted;
}

/// The error names a handler fails with (the Lambda `errorType`), so a Retry or Catch matches them
/// by type rather than by a string typed twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HandlerErrorName {
    /// The request does not match the contract: do not retry.
    InvalidInput,
    /// The chunk or its manifest is not in the store: do not retry.
    ChunkNotFound,
    /// The chunk was written by a build with another chunk format: do not retry.
    ChunkFormatMismatch,
    /// The warehouse or the store failed in a way that may pass: retry.
    Transient,
}

impl HandlerErrorName {
    /// Every error name a handler fails with.
    pub const ALL: [HandlerErrorName; 4] = [
        HandlerErrorName::InvalidInput,
        HandlerErrorName::ChunkNotFound,
        HandlerErrorName::ChunkFormatMismatch,
        HandlerErrorName::Transient,
    ];

    /// The name as the Lambda `errorType` and `ErrorEquals` spell it (`Task02.Transient`).
    pub fn as_str(self) -> &'static str {
        match self {
            HandlerErrorName::InvalidInput => "Task02.InvalidInput",
            HandlerErrorName::ChunkNotFound => "Task02.ChunkNotFound",
            HandlerErrorName::ChunkFormatMismatch => "Task02.ChunkFormatMismatch",
            HandlerErrorName::Transient => "Task02.Transient",
        }
    }

    /// Whether the state machine should retry a task that failed with this error.
    pub fn is_retryable(self) -> bool {
        matches!(self, HandlerErrorName::Transient)
    }
}

impl fmt::Display for HandlerErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A contract value that failed validation: names the field and the rule, never the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractError {
    /// The contract field that failed (`execution`, `date_range`, ...).
    pub field: &'static str,
    /// The rule the value broke, phrased to follow the field's name.
    pub rule: &'static str,
}

impl ContractError {
    /// The error for `field` breaking `rule`.
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

    /// The longest base prefix leaves an execution's folder and its objects room in a key, so
    /// every URI and handle stays within the bound its payload type declares.
    #[test]
    fn a_chunk_store_prefix_that_leaves_no_room_for_an_executions_folder_is_refused() {
        use asl::typed::PayloadSafe;
        let longest = "p".repeat(ChunkStoreUri::MAX_BASE_PREFIX_LEN - 1) + "/";
        let base = ChunkStoreUri::new(format!("s3://{}/{longest}", "b".repeat(63))).unwrap();
        let error = ChunkStoreUri::new(format!("s3://bucket/{longest}p")).unwrap_err();
        assert!(
            error.to_string().contains("prefix over 750 bytes"),
            "{error}"
        );
        let execution = ExecutionName::new("e".repeat(ExecutionName::MAX_LEN)).unwrap();
        let arn = ExecutionArn::new("arn:aws:states:us-east-1:123456789012:execution:m:e").unwrap();
        let folder = base.for_execution(&execution, &arn);
        assert!(folder.as_str().len() <= ChunkStoreUri::MAX_LEN);
        assert!(folder.prefix().len() + OBJECT_NAMES_ROOM <= MAX_KEY_LEN);
        let handle = S3Items::<ChunkId>::in_folder(&folder, CHUNK_IDS);
        let json = serde_json::to_string(&handle).unwrap();
        assert!(
            json.len() <= S3Items::<ChunkId>::MAX_JSON_BYTES,
            "{}",
            json.len()
        );
        let json = serde_json::to_string(&folder).unwrap();
        assert!(json.len() <= ChunkStoreUri::MAX_JSON_BYTES);
    }

    #[test]
    fn request_is_tagged_by_action_with_the_input_beside_it() {
        let request = Request::ProcessTask02Chunk(ProcessChunkInput {
            format_version: CHUNK_FORMAT_VERSION,
            execution: ExecutionName::new("exec-1").unwrap(),
            chunk_store: ChunkStoreUri::new("s3://chunk-bucket/task02/exec-1").unwrap(),
            chunk_id: ChunkId(7),
        });
        let value = serde_json::to_value(&request).unwrap();
        assert_eq!(value["action"], json!("process_task02_chunk"));
        assert_eq!(value["input"]["chunk_id"], json!(7));
        assert_eq!(
            value["input"]["chunk_store"],
            json!("s3://chunk-bucket/task02/exec-1/")
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
        assert!(ChunkStoreUri::new("file:///tmp/chunks/").is_err());
        assert!(ChunkStoreUri::new("s3://Upper-Case/x/").is_err());
        assert!(ChunkStoreUri::new("s3://bucket/a/../b/").is_err());
        assert!(ChunkStoreUri::new("s3://bucket/a//b/").is_err());
        assert!(ChunkStoreUri::new("s3://bucket/ssn=123 45/").is_err());
    }

    #[test]
    fn a_chunk_store_names_its_bucket_prefix_and_keys() {
        let base = ChunkStoreUri::new("s3://cm-etl-chunks/task02").unwrap();
        assert_eq!(base.as_str(), "s3://cm-etl-chunks/task02/");
        let name = ExecutionName::new("exec-1").unwrap();
        let arn =
            ExecutionArn::new("arn:aws:states:us-east-1:123456789012:execution:sm:exec-1").unwrap();
        let digest = arn.digest();
        // The SHA-256 of the ARN, as `States.Hash(..., 'SHA-256')` writes it.
        assert_eq!(
            ExecutionArn::new("arn:x").unwrap().digest(),
            "37a06272f0dfc7bb2f54fc52ee96e397a3e77c4a540d48d73ccc73def8b54b47"
        );
        assert_eq!(digest.len(), 64);
        assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()));
        let folder = base.for_execution(&name, &arn);
        assert_eq!(
            folder.as_str(),
            format!("s3://cm-etl-chunks/task02/exec-1-{digest}/")
        );
        assert_eq!(folder.bucket(), "cm-etl-chunks");
        assert_eq!(folder.prefix(), format!("task02/exec-1-{digest}/"));
        let items = S3Items::<ChunkId>::in_folder(&folder, "chunk-ids.json");
        assert_eq!(
            serde_json::to_value(&items).unwrap(),
            json!({"bucket": "cm-etl-chunks", "key": format!("task02/exec-1-{digest}/chunk-ids.json")})
        );
        // The same execution always gets the same folder; one of the same name elsewhere, another.
        assert_eq!(folder, base.for_execution(&name, &arn.clone()));
        let elsewhere =
            ExecutionArn::new("arn:aws:states:us-east-1:123456789012:execution:sm-2:exec-1")
                .unwrap();
        assert!(elsewhere.names(&name) && arn.names(&name));
        assert!(!arn.names(&ExecutionName::new("exec").unwrap()));
        assert_ne!(folder, base.for_execution(&name, &elsewhere));
        assert!(ExecutionArn::new("exec-1").is_err());
        assert!(ExecutionArn::new("arn:aws:states:x y").is_err());
        let root = ChunkStoreUri::new("s3://cm-etl-chunks").unwrap();
        assert_eq!((root.bucket(), root.prefix()), ("cm-etl-chunks", ""));
    }
}
