//! The design note's defects as regression tests: its definitions
//! (tests/fixtures/design_note_*.json), run by our runner with small functions that mimic the
//! design note's Python handlers, fail the way AWS fails; our committed pipeline, run by
//! `cm-etl run` with the real handlers, succeeds on the same amount of data; the design note's
//! deprecated Map shape is upgraded and run.
//!
//! The design note's defects: the Map over full chunks fails with `States.DataLimitExceeded` at 30
//! chunks of 500 keys (and below the limit with `States.Runtime` on its `$.chunk_id` selector);
//! chunks kept in `/tmp` are not found by ProcessChunk in another execution environment, yet pass
//! with one environment, as in the design note's local test; `{"chunk_id.$": "$"}` gives every
//! iteration the Map's whole input.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asl::limits::PAYLOAD_BYTES;
use cm_etl::runner::engine::{
    Engine, ExecutionOutcome, ExecutionSpec, ExecutionStatus, InvocationTime,
};
use cm_etl::runner::function::{ExecutionEnvironment, Functions, LambdaError, SyncFunction};
use cm_etl::runner::load;
use serde_json::{Value, json};

use crate::support::local_run::{cm_etl_run, run_definition};

/// The design note's scale that broke it: 30 chunks of 500 keys.
const DESIGN_NOTE_CHUNKS: usize = 30;
const DESIGN_NOTE_KEYS_PER_CHUNK: usize = 500;
const ROWS_PER_KEY: u64 = 3;

/// Where the design note's get_task02_chunks writes `task02_chunks.json`.
#[derive(Clone)]
enum ChunksFile {
    /// `/tmp` of the execution environment that runs the invocation (the design note's pipeline on
    /// Lambda).
    EnvironmentTmp,
    /// One directory every invocation can read (what the design note's local test effectively
    /// had).
    Shared(PathBuf),
}

/// One invocation as the mimic saw it.
#[derive(Clone, Debug)]
struct Call {
    action: String,
    environment: usize,
    chunk_id: Option<Value>,
    failed_with: Option<String>,
}

/// Mimics the design note's Python Lambda (`lambda_handler.py` dispatching on `action`).
struct DesignNoteLambda {
    chunks: usize,
    keys_per_chunk: usize,
    /// The pre-fix handler returned the chunks with their keys; the fixed one only ids.
    returns_full_chunks: bool,
    file: ChunksFile,
    calls: Mutex<Vec<Call>>,
}

impl DesignNoteLambda {
    fn new(returns_full_chunks: bool, file: ChunksFile) -> Arc<Self> {
        Arc::new(Self {
            chunks: DESIGN_NOTE_CHUNKS,
            keys_per_chunk: DESIGN_NOTE_KEYS_PER_CHUNK,
            returns_full_chunks,
            file,
            calls: Mutex::new(Vec::new()),
        })
    }

    fn chunks_path(&self, env: &ExecutionEnvironment) -> PathBuf {
        match &self.file {
            ChunksFile::EnvironmentTmp => env.tmp_dir().join("task02_chunks.json"),
            ChunksFile::Shared(dir) => dir.join("task02_chunks.json"),
        }
    }

    /// `task_02_get_chunks.py`: keys as {date, ssn, rows}, packed into chunks. The SSNs are
    /// made-up test values in the never-issued 9xx area.
    fn get_chunks(&self, env: &ExecutionEnvironment) -> Result<Value, LambdaError> {
        let chunks: Vec<Value> = (0..self.chunks)
            .map(|c| {
                let keys: Vec<Value> = (0..self.keys_per_chunk)
                    .map(|k| {
                        let n = c * self.keys_per_chunk + k;
                        json!({"date": format!("2024-{:02}-{:02}", 1 + n % 12, 1 + n % 28),
                               "ssn": format!("9{:02}-{:02}-{:04}", n % 100, (n / 100) % 100, n),
                               "rows": ROWS_PER_KEY})
                    })
                    .collect();
                json!({"chunk_id": c, "keys": keys, "estimated_rows": ROWS_PER_KEY * self.keys_per_chunk as u64,
                       "date_range": {"start": "2024-01-01", "end": "2024-12-28"}})
            })
            .collect();
        let total_rows = ROWS_PER_KEY * (self.chunks * self.keys_per_chunk) as u64;
        std::fs::write(self.chunks_path(env), json!(chunks).to_string())
            .map_err(|e| LambdaError::new("OSError", e.to_string()))?;
        Ok(if self.returns_full_chunks {
            json!({"num_chunks": self.chunks, "chunks": chunks, "total_rows": total_rows})
        } else {
            json!({"num_chunks": self.chunks, "chunk_ids": (0..self.chunks).collect::<Vec<_>>(),
                   "chunks_file": "/tmp/task02_chunks.json", "total_rows": total_rows})
        })
    }

    /// `task_02_process_chunk.py`: takes the keys from the payload if given, else loads its chunk
    /// from the chunks file by id.
    fn process_chunk(
        &self,
        payload: &Value,
        env: &ExecutionEnvironment,
    ) -> Result<Value, LambdaError> {
        let chunk_id = payload["chunk_id"].clone();
        let keys = match payload.get("keys") {
            Some(keys) => keys.clone(),
            None => {
                let text = std::fs::read_to_string(self.chunks_path(env)).map_err(|_| {
                    LambdaError::new(
                        "FileNotFoundError",
                        "[Errno 2] No such file or directory: '/tmp/task02_chunks.json'",
                    )
                })?;
                let chunks: Vec<Value> = serde_json::from_str(&text).unwrap();
                chunks
                    .into_iter()
                    .find(|c| c["chunk_id"] == chunk_id)
                    .map(|c| c["keys"].clone())
                    .ok_or_else(|| LambdaError::new("ValueError", "Chunk not found"))?
            }
        };
        let rows: u64 = keys
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["rows"].as_u64().unwrap())
            .sum();
        Ok(json!({"chunk_id": chunk_id, "rows_processed": rows}))
    }

    fn handle(&self, payload: Value, env: &mut ExecutionEnvironment) -> Result<Value, LambdaError> {
        let action = payload["action"].as_str().unwrap_or_default().to_owned();
        let result = match action.as_str() {
            "get_task02_chunks" => self.get_chunks(env),
            "process_task02_chunk" => self.process_chunk(&payload, env),
            other => Err(LambdaError::new(
                "ValueError",
                format!("unknown action {other}"),
            )),
        };
        self.calls.lock().unwrap().push(Call {
            action,
            environment: env.id(),
            chunk_id: payload.get("chunk_id").cloned(),
            failed_with: result.as_ref().err().map(|e| e.error_type.clone()),
        });
        result
    }

    fn calls(&self, action: &str) -> Vec<Call> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.action == action)
            .cloned()
            .collect()
    }
}

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn run_design_note(definition: Value, mimic: &Arc<DesignNoteLambda>) -> ExecutionOutcome {
    let machine = load::load(definition).unwrap();
    let handler = mimic.clone();
    let functions = Functions::builder()
        .function(
            "cm-etl-design-note",
            SyncFunction(move |payload, env: &mut ExecutionEnvironment| {
                handler.handle(payload, env)
            }),
        )
        .build();
    let spec = ExecutionSpec {
        region: "us-east-1".into(),
        account: "123456789012".into(),
        state_machine: "cm-etl-pipeline-phase2".into(),
        name: "design-note-regression".into(),
        role_arn: "arn:aws:iam::123456789012:role/design-note".into(),
        input: json!({}),
    };
    Engine::new(functions)
        .invocation_time(InvocationTime::Fixed(Duration::from_secs(1)))
        .execute(&machine, &spec)
        .await
}

#[tokio::test]
async fn design_note_map_over_full_chunks_fails_with_data_limit_exceeded_at_30_chunks_of_500_keys()
{
    let mimic = DesignNoteLambda::new(true, ChunksFile::EnvironmentTmp);
    let out = run_design_note(fixture("design_note_map_over_full_chunks.json"), &mimic).await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    let error = out.error.unwrap();
    assert_eq!(error.error, "States.DataLimitExceeded");
    // AWS's wording for the Lambda integration's result (the state has no Catch to take it).
    assert!(
        error.cause.contains("'lambda' returned a result"),
        "{}",
        error.cause
    );
    // Under Lambda's 6 MB (so Lambda returned it) but over Step Functions' 256 KiB.
    let largest = out.largest_result_bytes["GetTask02Chunks"];
    assert!(largest > PAYLOAD_BYTES && largest < 1_000_000, "{largest}");
    assert!(
        mimic.calls("process_task02_chunk").is_empty(),
        "the Map never started"
    );
}

/// Below the limit the same definition fails on its other defect, as moto's interpreter showed:
/// the Map's legacy `Parameters` read `$` as the Map's input, where `$.chunk_id` does not exist.
#[tokio::test]
async fn design_note_map_over_full_chunks_below_the_limit_fails_on_its_selector_instead() {
    let mimic = Arc::new(DesignNoteLambda {
        chunks: 3,
        ..Arc::into_inner(DesignNoteLambda::new(true, ChunksFile::EnvironmentTmp)).unwrap()
    });
    let out = run_design_note(fixture("design_note_map_over_full_chunks.json"), &mimic).await;
    let error = out.error.unwrap();
    assert_eq!(error.error, "States.Runtime");
    assert!(error.cause.contains("$.chunk_id"), "{}", error.cause);
    assert!(out.largest_result_bytes["GetTask02Chunks"] < PAYLOAD_BYTES);
    assert!(mimic.calls("process_task02_chunk").is_empty());
}

#[tokio::test]
async fn chunks_in_tmp_are_not_found_by_process_chunk_in_another_environment() {
    let mimic = DesignNoteLambda::new(false, ChunksFile::EnvironmentTmp);
    let out = run_design_note(fixture("design_note_chunks_in_tmp.json"), &mimic).await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(out.error.unwrap().error, "FileNotFoundError");
    let writer = mimic.calls("get_task02_chunks")[0].environment;
    let processed = mimic.calls("process_task02_chunk");
    let (found, not_found): (Vec<_>, Vec<_>) =
        processed.iter().partition(|c| c.failed_with.is_none());
    assert!(!not_found.is_empty());
    assert!(found.iter().all(|c| c.environment == writer), "{found:?}");
    assert!(
        not_found
            .iter()
            .all(|c| c.environment != writer
                && c.failed_with.as_deref() == Some("FileNotFoundError")),
        "{not_found:?}"
    );
}

#[tokio::test]
async fn chunks_in_tmp_pass_when_one_environment_serves_every_call_as_in_the_design_notes_local_test()
 {
    let mut definition = fixture("design_note_chunks_in_tmp.json");
    definition["States"]["ProcessTask02Chunks"]["MaxConcurrency"] = json!(1);
    let mimic = DesignNoteLambda::new(false, ChunksFile::EnvironmentTmp);
    let out = run_design_note(definition, &mimic).await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    assert_eq!(out.environments, 1);
    let ids: Vec<Value> = mimic
        .calls("process_task02_chunk")
        .into_iter()
        .map(|c| c.chunk_id.unwrap())
        .collect();
    assert_eq!(
        ids,
        (0..DESIGN_NOTE_CHUNKS).map(Value::from).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn chunk_id_from_dollar_is_the_whole_map_input_not_the_item() {
    // Chunks readable from every environment, so only the `{"chunk_id.$": "$"}` defect remains.
    let shared = tempfile::tempdir().unwrap();
    let mimic = DesignNoteLambda::new(false, ChunksFile::Shared(shared.path().to_owned()));
    let out = run_design_note(fixture("design_note_ready.json"), &mimic).await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(out.error.unwrap().error, "ValueError");
    let calls = mimic.calls("process_task02_chunk");
    assert!(!calls.is_empty());
    for call in calls {
        let chunk_id = call.chunk_id.unwrap();
        // The Map's input: the execution input plus GetTask02Chunks' result.
        assert_eq!(
            chunk_id["task02_chunks"]["num_chunks"],
            json!(DESIGN_NOTE_CHUNKS),
            "{chunk_id}"
        );
        assert_eq!(
            chunk_id["task02_chunks"]["chunk_ids"]
                .as_array()
                .unwrap()
                .len(),
            DESIGN_NOTE_CHUNKS
        );
    }
}

/// Our committed pipeline with the real handlers, through the CLI, on the same number of keys.
#[test]
fn committed_pipeline_migrates_the_same_data_with_small_payloads() {
    let keys = (DESIGN_NOTE_CHUNKS * DESIGN_NOTE_KEYS_PER_CHUNK).to_string();
    let output = cm_etl_run(&[
        "--keys",
        &keys,
        "--rows-per-key",
        "3",
        "--bad-rows-percent",
        "5",
        "--output",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(output.status.success(), "{report:#}");
    assert_eq!(report["status"], json!("SUCCEEDED"));
    let n = |k: &str| report[k].as_u64().unwrap();
    assert_eq!(
        n("source_rows"),
        (DESIGN_NOTE_CHUNKS * DESIGN_NOTE_KEYS_PER_CHUNK) as u64 * ROWS_PER_KEY
    );
    assert!(
        n("rejected_rows") > 0,
        "bad rows must be rejected: {report:#}"
    );
    assert_eq!(n("migrated_rows") + n("rejected_rows"), n("source_rows"));
    let chunks = n("invocations") - 1;
    let largest = report["largest_payload_bytes"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .max()
        .unwrap();
    assert!(
        largest <= 1024 + 8 * chunks,
        "largest payload {largest} B for {chunks} chunks: {report:#}"
    );
    assert!(report["error"].is_null());
}

/// The design note's definition (with the deprecated Map `Iterator` and `Parameters`) is upgraded and executed: it fails on its Lambda function, which `run` does not
/// have, not on its shape.
#[test]
fn the_design_notes_deprecated_map_shape_is_upgraded_and_run() {
    let output = run_definition(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/design_note_ready.json"),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], json!("FAILED"));
    assert_eq!(
        report["error"],
        json!("Lambda.ResourceNotFoundException"),
        "{report:#}"
    );
}
