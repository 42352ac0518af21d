//! Dispatch and the two Task 02 handlers. [`Handlers::handle_json`] is what the Lambda runtime
//! calls with the raw event; [`Handlers::handle`] takes an already typed [`Request`] (the local
//! executor `cm-etl run` calls it in process). Logs carry ids and counts only.

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::chunks::{Manifest, PackedChunk, StoredChunk};
use crate::contract::{
    Action, CHUNK_FORMAT_VERSION, ChunkId, ChunkStoreUri, ChunkSummary, ChunksDeleted,
    DeleteChunksInput, GetTask02ChunksInput, HandlerErrorName, ProcessChunkInput, Request,
    Task02Chunks,
};
use crate::error::HandlerError;
use crate::store::{ChunkStore, ChunkStores};
use crate::warehouse::Warehouse;

/// Chunks buffered between the warehouse reader and the store writers.
const CHUNK_CHANNEL_CAPACITY: usize = 8;
/// Chunk objects written at once (S3 PUTs overlap; a local directory does not mind).
const CONCURRENT_CHUNK_WRITES: usize = 16;

/// The handlers' environment: the warehouse, and the base URI under which each execution's chunks
/// are stored (`CHUNK_STORE_URI` when deployed).
#[derive(Clone)]
pub struct Handlers {
    warehouse: Warehouse,
    chunk_store: ChunkStoreUri,
    stores: ChunkStores,
}

impl Handlers {
    /// S3 chunk stores use the default AWS configuration; see [`Handlers::with_stores`].
    pub fn new(warehouse: Warehouse, chunk_store: ChunkStoreUri) -> Self {
        Self::with_stores(warehouse, chunk_store, ChunkStores::new())
    }

    /// Handlers whose chunk stores' objects live in `stores` (S3, or a local stand-in).
    pub fn with_stores(
        warehouse: Warehouse,
        chunk_store: ChunkStoreUri,
        stores: ChunkStores,
    ) -> Self {
        Self {
            warehouse,
            chunk_store,
            stores,
        }
    }

    /// The warehouse the handlers read from and write to.
    pub fn warehouse(&self) -> &Warehouse {
        &self.warehouse
    }

    /// Where the chunk stores' objects live (S3, or a local stand-in).
    pub fn stores(&self) -> &ChunkStores {
        &self.stores
    }

    /// The base chunk store URI (each execution's chunks go under
    /// `<base><execution>-<arn digest>/`).
    pub fn chunk_store(&self) -> &ChunkStoreUri {
        &self.chunk_store
    }

    /// Parses a raw Lambda event (`{"action": ..., "input": {...}}`) and runs its handler. A
    /// request that does not match the contract fails with `InvalidInput` naming the field.
    pub async fn handle_json(&self, event: Value) -> Result<Value, HandlerError> {
        let request = parse_request(event).inspect_err(|error| {
            tracing::warn!(error_type = error.name.as_str(), "request rejected");
        })?;
        self.handle(request).await
    }

    /// Runs the handler of `request`; its output as JSON.
    pub async fn handle(&self, request: Request) -> Result<Value, HandlerError> {
        let action = request.action();
        let result = match request {
            Request::GetTask02Chunks(input) => to_json(self.get_task02_chunks(input).await),
            Request::ProcessTask02Chunk(input) => to_json(self.process_task02_chunk(input).await),
            Request::DeleteTask02Chunks(input) => to_json(self.delete_task02_chunks(input).await),
        };
        if let Err(error) = &result {
            tracing::warn!(action = %action, error_type = error.name.as_str(), "handler failed");
        }
        result
    }

    /// Packs the keys of the date range into chunks, stores each chunk, the list of their ids and a
    /// manifest under the execution's folder, and returns only counts and where those are. The
    /// folder is the execution's own (named after its ARN too): a retry or a redrive of the same
    /// execution rewrites it whole, and no other execution writes there.
    pub async fn get_task02_chunks(
        &self,
        input: GetTask02ChunksInput,
    ) -> Result<Task02Chunks, HandlerError> {
        if input.budget.max_rows == 0 {
            return Err(HandlerError::invalid_input(
                "input.budget.max_rows",
                "must be at least 1",
            ));
        }
        if input.budget.max_keys == 0 {
            return Err(HandlerError::invalid_input(
                "input.budget.max_keys",
                "must be at least 1",
            ));
        }
        if !input.execution_arn.names(&input.execution) {
            return Err(HandlerError::invalid_input(
                "input.execution_arn",
                "is not the ARN of an execution named `input.execution`",
            ));
        }
        let store = self
            .stores
            .open(&self.chunk_store)
            .await
            .for_execution(&input.execution, &input.execution_arn);

        let (sender, receiver) = mpsc::channel(CHUNK_CHANNEL_CAPACITY);
        let reading = self
            .warehouse
            .pack_keys(input.date_range, input.budget, sender);
        let writing = write_chunks(&store, &input, receiver);
        let (read, written) = tokio::join!(reading, writing);
        // A writer failure closes the channel, which then fails the reader: report the cause.
        let totals = written?;
        read?;
        let chunk_ids = store.put_chunk_ids(totals.chunks).await?;

        let manifest = Manifest {
            format_version: CHUNK_FORMAT_VERSION,
            execution: input.execution.clone(),
            date_range: input.date_range,
            num_chunks: totals.chunks,
            total_keys: totals.keys,
            total_rows: totals.rows,
        };
        store.put_manifest(&manifest).await?;
        tracing::info!(
            execution = %input.execution,
            num_chunks = totals.chunks,
            total_keys = totals.keys,
            total_rows = totals.rows,
            "task02 chunks stored"
        );
        Ok(Task02Chunks {
            format_version: CHUNK_FORMAT_VERSION,
            execution: input.execution,
            chunk_store: store.uri().clone(),
            date_range: input.date_range,
            num_chunks: totals.chunks,
            total_keys: totals.keys,
            total_rows: totals.rows,
            chunk_ids,
        })
    }

    /// Loads one chunk from the execution's store and migrates its rows in one transaction.
    pub async fn process_task02_chunk(
        &self,
        input: ProcessChunkInput,
    ) -> Result<ChunkSummary, HandlerError> {
        if input.format_version != CHUNK_FORMAT_VERSION {
            return Err(HandlerError::new(
                HandlerErrorName::ChunkFormatMismatch,
                format!(
                    "`input.format_version` is {}, this build reads {}; rerun GetTask02Chunks \
                     with this build",
                    input.format_version, CHUNK_FORMAT_VERSION
                ),
            ));
        }
        let store = self.stores.open(&input.chunk_store).await;
        let manifest = store.get_manifest().await?;
        if manifest.execution != input.execution {
            return Err(HandlerError::invalid_input(
                "input.execution",
                "differs from the execution that wrote `input.chunk_store`",
            ));
        }
        if input.chunk_id.0 >= manifest.num_chunks {
            return Err(HandlerError::chunk_not_found(
                "chunk",
                Some(input.chunk_id),
                store.uri(),
            ));
        }
        let chunk = store.get_chunk(input.chunk_id).await?;
        if chunk.execution != input.execution || chunk.chunk_id != input.chunk_id {
            return Err(HandlerError::new(
                HandlerErrorName::ChunkFormatMismatch,
                format!(
                    "chunk object {} under {} is stamped with another execution or id",
                    input.chunk_id,
                    store.uri()
                ),
            ));
        }
        let keys = chunk.keys;
        let counts = self
            .warehouse
            .process_chunk(&input.execution, input.chunk_id, chunk.span)
            .await?;
        tracing::info!(
            execution = %input.execution,
            chunk_id = input.chunk_id.0,
            keys,
            rows_migrated = counts.migrated,
            rows_rejected = counts.rejected,
            "task02 chunk processed"
        );
        Ok(ChunkSummary {
            chunk_id: input.chunk_id,
            rows_migrated: counts.migrated,
            rows_rejected: counts.rejected,
        })
    }
}

impl Handlers {
    /// Deletes every object of the execution's chunk store folder (chunks, chunk ids, manifest,
    /// the Map's results). Only that folder: `input.chunk_store` must be the folder of the execution
    /// `input.execution_arn` names under this function's chunk store. Running it again deletes
    /// nothing and succeeds.
    pub async fn delete_task02_chunks(
        &self,
        input: DeleteChunksInput,
    ) -> Result<ChunksDeleted, HandlerError> {
        let own = self
            .chunk_store
            .for_execution(&input.execution, &input.execution_arn);
        if !input.execution_arn.names(&input.execution) || input.chunk_store != own {
            return Err(HandlerError::invalid_input(
                "input.chunk_store",
                "is not this execution's folder under the function's chunk store",
            ));
        }
        let store = self.stores.open(&input.chunk_store).await;
        let objects_deleted = store.delete_all().await?;
        tracing::info!(
            execution = %input.execution,
            objects_deleted,
            "task02 chunks deleted"
        );
        Ok(ChunksDeleted { objects_deleted })
    }
}

struct Totals {
    chunks: u32,
    keys: u64,
    rows: u64,
}

/// Numbers the chunks in arrival (key) order and writes them, a bounded number at once.
async fn write_chunks(
    store: &ChunkStore,
    input: &GetTask02ChunksInput,
    mut chunks: mpsc::Receiver<PackedChunk>,
) -> Result<Totals, HandlerError> {
    let mut totals = Totals {
        chunks: 0,
        keys: 0,
        rows: 0,
    };
    let mut writes = JoinSet::new();
    while let Some(packed) = chunks.recv().await {
        let chunk = StoredChunk {
            format_version: CHUNK_FORMAT_VERSION,
            execution: input.execution.clone(),
            chunk_id: ChunkId(totals.chunks),
            keys: packed.keys.len() as u64,
            rows: packed.rows,
            span: packed.span,
        };
        totals.chunks = totals.chunks.checked_add(1).ok_or_else(|| {
            HandlerError::invalid_input("input.budget", "gives more than 2^32 chunks; raise it")
        })?;
        totals.keys += chunk.keys;
        totals.rows += chunk.rows;
        if writes.len() >= CONCURRENT_CHUNK_WRITES {
            joined(writes.join_next().await)?;
        }
        let store = store.clone();
        writes.spawn(async move { store.put_chunk(&chunk).await });
    }
    while let Some(result) = writes.join_next().await {
        joined(Some(result))?;
    }
    Ok(totals)
}

fn joined(
    result: Option<Result<Result<(), HandlerError>, tokio::task::JoinError>>,
) -> Result<(), HandlerError> {
    match result {
        None => Ok(()),
        Some(Ok(written)) => written,
        Some(Err(_)) => Err(HandlerError::transient("write chunk object", "task failed")),
    }
}

fn to_json<T: serde::Serialize>(result: Result<T, HandlerError>) -> Result<Value, HandlerError> {
    let output = result?;
    serde_json::to_value(output)
        .map_err(|_| HandlerError::transient("serialize handler output", "serde_json"))
}

/// Parses `{"action": ..., "input": {...}}` field by field, so that an error names the JSON path
/// of what is wrong and never quotes the value that was sent.
pub fn parse_request(event: Value) -> Result<Request, HandlerError> {
    let Value::Object(mut fields) = event else {
        return Err(HandlerError::invalid_input(
            "(request)",
            "must be a JSON object {\"action\": ..., \"input\": {...}}",
        ));
    };
    // The extra field's name is not echoed: a name sent to us is data too.
    if fields.keys().any(|k| k != "action" && k != "input") {
        return Err(HandlerError::invalid_input(
            "(request)",
            "has a field other than `action` and `input`",
        ));
    }
    let known = || {
        Action::ALL
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let action = match fields.get("action") {
        Some(Value::String(tag)) => Action::ALL.into_iter().find(|a| a.as_str() == tag),
        _ => None,
    };
    let Some(action) = action else {
        return Err(HandlerError::invalid_input(
            "action",
            format_args!("must be one of: {}", known()),
        ));
    };
    let input = fields
        .remove("input")
        .ok_or_else(|| HandlerError::invalid_input("input", "is missing"))?;
    Ok(match action {
        Action::GetTask02Chunks => Request::GetTask02Chunks(parse_input(input)?),
        Action::ProcessTask02Chunk => Request::ProcessTask02Chunk(parse_input(input)?),
        Action::DeleteTask02Chunks => Request::DeleteTask02Chunks(parse_input(input)?),
    })
}

fn parse_input<T: DeserializeOwned>(input: Value) -> Result<T, HandlerError> {
    serde_path_to_error::deserialize(input).map_err(|error| {
        let segments: Vec<String> = error.path().iter().map(ToString::to_string).collect();
        let message = error.into_inner().to_string();
        let (segments, rule) = safe_rule(&segments, &message);
        let field = std::iter::once("input")
            .chain(segments.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(".");
        HandlerError::invalid_input(&field, rule)
    })
}

/// Keeps serde's message only where it names our fields and rules, never something sent: a
/// missing field, a contract rule (it starts with the field in backticks), or, for an unknown
/// field, the fields expected instead (the unknown name itself, and its path segment, dropped).
/// Anything else may quote the value, so it becomes a generic rule.
fn safe_rule<'a>(segments: &'a [String], message: &str) -> (&'a [String], String) {
    if message.starts_with("missing field") || message.starts_with('`') {
        (segments, message.to_owned())
    } else if message.starts_with("unknown field") {
        let parent = &segments[..segments.len().saturating_sub(1)];
        let expected = message
            .split_once(", expected ")
            .map_or(String::new(), |(_, expected)| {
                format!(" (expected {expected})")
            });
        (
            parent,
            format!("has a field that is not in the schema{expected}"),
        )
    } else {
        (
            segments,
            "has the wrong type or an invalid value".to_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn invalid(event: Value) -> HandlerError {
        let error = parse_request(event).unwrap_err();
        assert_eq!(error.name, HandlerErrorName::InvalidInput);
        error
    }

    #[test]
    fn unknown_action_is_named_without_echoing_it() {
        let error = invalid(json!({"action": "drop_tables_123", "input": {}}));
        assert!(error.message.contains("`action`"), "{error}");
        assert!(error.message.contains("get_task02_chunks"), "{error}");
        assert!(!error.message.contains("drop_tables_123"), "{error}");
    }

    #[test]
    fn a_wrong_value_names_the_path_not_the_value() {
        let error = invalid(json!({"action": "process_task02_chunk", "input": {
            "format_version": 1, "execution": "e", "chunk_store": "s3://chunk-bucket/x/",
            "chunk_id": "123-45-6789"}}));
        assert!(error.message.contains("`input.chunk_id`"), "{error}");
        assert!(!error.message.contains("6789"), "{error}");
    }

    #[test]
    fn missing_and_unknown_fields_are_named() {
        let missing = invalid(json!({"action": "process_task02_chunk", "input": {
            "format_version": 1, "execution": "e", "chunk_store": "s3://chunk-bucket/x/"}}));
        assert!(missing.message.contains("chunk_id"), "{missing}");
        let unknown = invalid(json!({"action": "get_task02_chunks", "input": {
            "execution": "e", "date_range": {"from": "2024-01-01", "to": "2024-01-02"},
            "budget": {"max_rows": 1, "max_keys": 1, "ssn_list": ["123-45-6789"]}}}));
        assert!(unknown.message.contains("`input.budget`"), "{unknown}");
        assert!(unknown.message.contains("`max_rows`"), "{unknown}");
        assert!(!unknown.message.contains("ssn_list"), "{unknown}");
        assert!(!unknown.message.contains("6789"), "{unknown}");
        let bad_range = invalid(json!({"action": "get_task02_chunks", "input": {
            "execution": "e", "date_range": {"from": "2024-02-01", "to": "2024-01-02"},
            "budget": {"max_rows": 1, "max_keys": 1}}}));
        assert!(bad_range.message.contains("date_range"), "{bad_range}");
        assert!(!bad_range.message.contains("2024-02-01"), "{bad_range}");
    }

    #[test]
    fn a_valid_event_parses_to_the_typed_request() {
        let request = parse_request(json!({"action": "process_task02_chunk", "input": {
            "format_version": 1, "execution": "e-1", "chunk_store": "s3://chunk-bucket/x/e-1/",
            "chunk_id": 3}}))
        .unwrap();
        assert_eq!(request.action(), Action::ProcessTask02Chunk);
    }
}
