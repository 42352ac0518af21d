//! The seed's defects as regression tests: its definitions (tests/fixtures/seed_*.json), run by our
//! runner with small functions that mimic the seed's Python handlers, fail the way AWS fails; our
//! committed pipeline, run by `cm-etl run` with the real handlers, succeeds on the same amount of
//! data, and on 5,000 chunks through its Distributed Map, with its chunk store in a local bucket
//! or (`bash tests/run.sh -- --test integration runner::`) in moto server's S3.
//!
//! The seed's defects: the Map over full chunks fails with `States.DataLimitExceeded` at 30 chunks
//! of 500 keys (and below the limit with `States.Runtime` on its `$.chunk_id` selector); chunks
//! kept in `/tmp` are not found by ProcessChunk in another execution environment, yet pass with one
//! environment, as in the seed's local test; `{"chunk_id.$": "$"}` gives every iteration the Map's
//! whole input. Our pipeline: every row migrated or rejected, every state payload at most 2 KiB,
//! the parent's history 20 events, the chunk ids, manifest and Map results in the bucket, and
//! nothing left behind after a success. Also: a warehouse without a schema fails after the
//! committed retries (on virtual time) with exit 1; a run stopped by SIGINT or SIGTERM leaves
//! nothing (exit 130, 143), and every file a run makes is private at every look, even one stopped
//! by SIGKILL; a refused `--database-url sqlite://` creates no file and an accepted one is 0600; a
//! refused `postgres://` URL never shows its password, and one that would not verify the server's
//! TLS is refused with its fix; a missing bucket and a non-loopback S3 endpoint are one-line
//! errors. Redrive: a run that fails in one chunk fails at the Distributed Map; once the chunk is
//! fixed, redriving the same execution re-runs only the chunks that did not succeed, and every row
//! is migrated or rejected.

use crate::support;
use asl::limits::PAYLOAD_BYTES;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cm_etl::runner::engine::{
    Engine, ExecutionOutcome, ExecutionSpec, ExecutionStatus, InvocationTime,
};
use cm_etl::runner::lambda::{ExecutionEnvironment, Functions, LambdaError, SyncFunction};
use cm_etl::runner::load;
use etl_lambda::ObjectStore;
use serde_json::{Value, json};

/// The seed's scale that broke it: 30 chunks of 500 keys.
const SEED_CHUNKS: usize = 30;
const SEED_KEYS_PER_CHUNK: usize = 500;
const ROWS_PER_KEY: u64 = 3;

/// Where the seed's get_task02_chunks writes `task02_chunks.json`.
#[derive(Clone)]
enum ChunksFile {
    /// `/tmp` of the execution environment that runs the invocation (the seed on Lambda).
    EnvironmentTmp,
    /// One directory every invocation can read (what the seed's local test effectively had).
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

/// Mimics the seed's Python Lambda (`lambda_handler.py` dispatching on `action`).
struct SeedLambda {
    chunks: usize,
    keys_per_chunk: usize,
    /// The pre-fix handler returned the chunks with their keys; the fixed one only ids.
    returns_full_chunks: bool,
    file: ChunksFile,
    calls: Mutex<Vec<Call>>,
}

impl SeedLambda {
    fn new(returns_full_chunks: bool, file: ChunksFile) -> Arc<Self> {
        Arc::new(Self {
            chunks: SEED_CHUNKS,
            keys_per_chunk: SEED_KEYS_PER_CHUNK,
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

async fn run_seed(definition: Value, seed: &Arc<SeedLambda>) -> ExecutionOutcome {
    let machine = load::load(definition).unwrap();
    let handler = seed.clone();
    let functions = Functions::builder()
        .function(
            "cm-etl-seed",
            SyncFunction(move |payload, env: &mut ExecutionEnvironment| {
                handler.handle(payload, env)
            }),
        )
        .build();
    let spec = ExecutionSpec {
        region: "us-east-1".into(),
        account: "123456789012".into(),
        state_machine: "cm-etl-pipeline-phase2".into(),
        name: "seed-regression".into(),
        role_arn: "arn:aws:iam::123456789012:role/seed".into(),
        input: json!({}),
    };
    Engine::new(functions)
        .invocation_time(InvocationTime::Fixed(Duration::from_secs(1)))
        .execute(&machine, &spec)
        .await
}

#[tokio::test]
async fn seed_map_over_full_chunks_fails_with_data_limit_exceeded_at_30_chunks_of_500_keys() {
    let seed = SeedLambda::new(true, ChunksFile::EnvironmentTmp);
    let out = run_seed(fixture("seed_map_over_full_chunks.json"), &seed).await;
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
        seed.calls("process_task02_chunk").is_empty(),
        "the Map never started"
    );
}

/// Below the limit the same definition fails on its other defect, as moto's interpreter showed:
/// the Map's legacy `Parameters` read `$` as the Map's input, where `$.chunk_id` does not exist.
#[tokio::test]
async fn seed_map_over_full_chunks_below_the_limit_fails_on_its_selector_instead() {
    let seed = Arc::new(SeedLambda {
        chunks: 3,
        ..Arc::into_inner(SeedLambda::new(true, ChunksFile::EnvironmentTmp)).unwrap()
    });
    let out = run_seed(fixture("seed_map_over_full_chunks.json"), &seed).await;
    let error = out.error.unwrap();
    assert_eq!(error.error, "States.Runtime");
    assert!(error.cause.contains("$.chunk_id"), "{}", error.cause);
    assert!(out.largest_result_bytes["GetTask02Chunks"] < PAYLOAD_BYTES);
    assert!(seed.calls("process_task02_chunk").is_empty());
}

#[tokio::test]
async fn chunks_in_tmp_are_not_found_by_process_chunk_in_another_environment() {
    let seed = SeedLambda::new(false, ChunksFile::EnvironmentTmp);
    let out = run_seed(fixture("seed_chunks_in_tmp.json"), &seed).await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(out.error.unwrap().error, "FileNotFoundError");
    let writer = seed.calls("get_task02_chunks")[0].environment;
    let processed = seed.calls("process_task02_chunk");
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
async fn chunks_in_tmp_pass_when_one_environment_serves_every_call_as_in_the_seeds_local_test() {
    let mut definition = fixture("seed_chunks_in_tmp.json");
    definition["States"]["ProcessTask02Chunks"]["MaxConcurrency"] = json!(1);
    let seed = SeedLambda::new(false, ChunksFile::EnvironmentTmp);
    let out = run_seed(definition, &seed).await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    assert_eq!(out.environments, 1);
    let ids: Vec<Value> = seed
        .calls("process_task02_chunk")
        .into_iter()
        .map(|c| c.chunk_id.unwrap())
        .collect();
    assert_eq!(ids, (0..SEED_CHUNKS).map(Value::from).collect::<Vec<_>>());
}

#[tokio::test]
async fn chunk_id_from_dollar_is_the_whole_map_input_not_the_item() {
    // Chunks readable from every environment, so only the `{"chunk_id.$": "$"}` defect remains.
    let shared = tempfile::tempdir().unwrap();
    let seed = SeedLambda::new(false, ChunksFile::Shared(shared.path().to_owned()));
    let out = run_seed(fixture("seed_ready.json"), &seed).await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(out.error.unwrap().error, "ValueError");
    let calls = seed.calls("process_task02_chunk");
    assert!(!calls.is_empty());
    for call in calls {
        let chunk_id = call.chunk_id.unwrap();
        // The Map's input: the execution input plus GetTask02Chunks' result.
        assert_eq!(
            chunk_id["task02_chunks"]["num_chunks"],
            json!(SEED_CHUNKS),
            "{chunk_id}"
        );
        assert_eq!(
            chunk_id["task02_chunks"]["chunk_ids"]
                .as_array()
                .unwrap()
                .len(),
            SEED_CHUNKS
        );
    }
}

/// Our committed pipeline with the real handlers, through the CLI, on the same number of keys.
#[test]
fn committed_pipeline_migrates_the_same_data_with_small_payloads() {
    let keys = (SEED_CHUNKS * SEED_KEYS_PER_CHUNK).to_string();
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
        (SEED_CHUNKS * SEED_KEYS_PER_CHUNK) as u64 * ROWS_PER_KEY
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

/// What a run measures stays within what synth proved and committed
/// (`definitions/*.bounds.json`), at 10,000 and at 100,000 keys: every state's payload and raw
/// result, the execution's history and every child's. (`run` checks the same itself and fails
/// past a bound.) The payloads do not grow with the keys. The cost it reports follows its history.
#[test]
fn a_runs_payloads_and_histories_stay_within_the_committed_bounds() {
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(
            support::repo().join("definitions/etl_pipeline_phase2_ready.bounds.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let bound = |state: &str, part: &str| committed["payload_bytes"][state][part].as_u64().unwrap();
    let mut largest_by_keys = Vec::new();
    for keys in ["10000", "100000"] {
        let output = cm_etl_run(&["--keys", keys, "--output", "json"]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        let payloads = report["largest_payload_bytes"].as_object().unwrap();
        assert!(payloads.contains_key("ProcessTask02Chunk"), "{payloads:?}");
        for (state, bytes) in payloads {
            let bytes = bytes.as_u64().unwrap();
            assert!(
                bytes <= bound(state, "input").max(bound(state, "output")),
                "{state}: {bytes} B at {keys} keys"
            );
        }
        for (state, bytes) in report["largest_result_bytes"].as_object().unwrap() {
            assert!(
                bytes.as_u64().unwrap() <= bound(state, "result"),
                "{state} at {keys} keys"
            );
        }
        let events = &committed["history_events"];
        assert!(
            report["history_events"].as_u64().unwrap()
                <= events["execution_events"].as_u64().unwrap()
        );
        for run in report["map_runs"].as_array().unwrap() {
            assert!(
                run["largest_child_history_events"].as_u64().unwrap()
                    <= events["child_execution_events"].as_u64().unwrap()
            );
        }
        assert_cost_follows_the_history(&report);
        largest_by_keys.push(report["largest_payload_bytes"].clone());
    }
    // Ten times the keys: a few more digits in the counts, nothing more.
    for (state, small) in largest_by_keys[0].as_object().unwrap() {
        let large = largest_by_keys[1][state].as_u64().unwrap();
        assert!(
            large <= small.as_u64().unwrap() + 16,
            "{state}: {small} B, then {large} B"
        );
    }
}

/// The state transitions `run` bills are those of its own history, read back from the events:
/// the execution's 2, each state's 2 (entered, exited), each Task attempt's 3 and the Map's 4
/// leave 2 per transition (the run retried nothing); each child (the same shape) likewise. The
/// Lambda requests are the invocations, and the dollars are the figures at the list prices.
fn assert_cost_follows_the_history(report: &Value) {
    let n = |v: &Value| v.as_u64().unwrap();
    let [map_run] = report["map_runs"].as_array().unwrap().as_slice() else {
        panic!("one Map Run: {report:#}")
    };
    let children = n(&map_run["items_total"]);
    let parent_tasks = n(&report["invocations"]) - children;
    let parent = (n(&report["history_events"]) - 2 - 3 * parent_tasks - 4) / 2;
    let child = (n(&map_run["largest_child_history_events"]) - 2 - 3) / 2;
    let usage = &report["usage"];
    assert_eq!(parent, 4, "{report:#}");
    assert_eq!(
        n(&usage["standard_transitions"]),
        parent + children * child,
        "{report:#}"
    );
    assert_eq!(usage["lambda_requests"], report["invocations"]);
    assert!(
        n(&usage["s3_get"]) > children,
        "every chunk is read: {usage}"
    );
    let cost = &report["cost"];
    let dollars = |v: &Value| v.as_f64().unwrap();
    let expected = n(&usage["standard_transitions"]) as f64 * 0.025 / 1000.0;
    assert!(
        (dollars(&cost["step_functions_usd"]) - expected).abs() < 1e-12,
        "{cost}"
    );
    let total = dollars(&cost["step_functions_usd"])
        + dollars(&cost["lambda_usd"])
        + dollars(&cost["s3_usd"]);
    assert!(
        (dollars(&cost["total_usd"]) - total).abs() < 1e-12,
        "{cost}"
    );
}

/// The JSONata rendering of the pipeline (`synth --query-language jsonata --stdout`) and the
/// committed JSONPath one, run on the same generated data, end the same: every row migrated or
/// rejected alike, the same invocations, history and payload sizes.
#[test]
fn the_jsonata_rendering_runs_with_the_same_results_as_the_committed_one() {
    let dir = tempfile::tempdir().unwrap();
    let jsonata = dir.path().join("jsonata.json");
    std::fs::write(&jsonata, support::jsonata_rendering()).unwrap();
    let committed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("definitions/etl_pipeline_phase2_ready.json");
    let run = |definition: &Path| {
        let output = cm_etl_run(&[
            "--keys",
            "3000",
            "--rows-per-key",
            "3",
            "--bad-rows-percent",
            "5",
            "--output",
            "json",
            "--definition",
            definition.to_str().unwrap(),
        ]);
        let report: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
        assert!(output.status.success(), "{report:#}");
        report
    };
    let (jsonpath, jsonata) = (run(&committed), run(&jsonata));
    assert_eq!(jsonata["status"], json!("SUCCEEDED"), "{jsonata:#}");
    for field in [
        "source_rows",
        "migrated_rows",
        "rejected_rows",
        "history_events",
        "task_attempts",
        "invocations",
        "largest_payload_bytes",
    ] {
        assert_eq!(jsonata[field], jsonpath[field], "{field}: {jsonata:#}");
    }
    assert_eq!(
        jsonpath["migrated_rows"].as_u64().unwrap() + jsonpath["rejected_rows"].as_u64().unwrap(),
        9000
    );
}

/// A warehouse without the schema: GetTask02Chunks fails with `Task02.Transient`, the committed
/// Retry runs on virtual time (5 s, 10 s, 20 s: nothing sleeps), then, as no Catch takes a
/// retryable error, the execution fails in GetTask02Chunks (where a redrive would restart it);
/// `run` exits non-zero with the error, the cause and the failed state.
#[test]
fn a_failed_execution_exits_non_zero_with_its_error_and_cause_after_virtual_retries() {
    let empty = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", empty.path().join("empty.sqlite3").display());
    let started = std::time::Instant::now();
    let output = assert_cmd::Command::cargo_bin("cm-etl")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "--database-url",
            &url,
            "--date-from",
            "2024-01-01",
            "--date-to",
            "2024-01-31",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], json!("FAILED"));
    assert_eq!(report["error"], json!("Task02.Transient"));
    assert_eq!(report["failed_state"], json!("GetTask02Chunks"));
    assert!(
        report["cause"].as_str().unwrap().contains("SQLite"),
        "{report:#}"
    );
    assert_eq!(
        report["task_attempts"],
        json!(4),
        "one attempt and three retries: {report:#}"
    );
    assert!(
        report["virtual_elapsed_seconds"].as_f64().unwrap() >= 35.0,
        "{report:#}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "retries must not sleep"
    );
    assert!(report["output"].is_null());
}

/// Bad input is refused before anything is generated, with one message naming the flag.
#[test]
fn bad_input_is_refused_with_a_message_naming_what_to_fix() {
    let output = assert_cmd::Command::cargo_bin("cm-etl")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "--input",
            r#"{"date_range": {"from": "2024-03-01"}}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--input") && stderr.contains("`to`"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

/// `cm-etl run --definition FILE` with a small generated warehouse and a JSON report.
fn run_definition(definition: &Path) -> Output {
    let definition = definition.to_str().unwrap();
    cm_etl_run(&[
        "--keys",
        "10",
        "--output",
        "json",
        "--definition",
        definition,
    ])
}

/// `cm-etl run` with `args`, from the repository root.
fn cm_etl_run(args: &[&str]) -> Output {
    assert_cmd::Command::cargo_bin("cm-etl")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("run")
        .args(args)
        .output()
        .unwrap()
}

/// The design note's definition (the seed's, with the deprecated Map `Iterator` and
/// `Parameters`) is upgraded and executed: it fails on its Lambda function, which `run` does not
/// have, not on its shape.
#[test]
fn the_design_notes_deprecated_map_shape_is_upgraded_and_run() {
    let output = run_definition(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed_ready.json"),
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

/// A definition that synth's checks refuse is refused by `run` too, before anything runs: exit
/// 2, every problem on its own line. Two Pass states that loop to each other used to run until
/// the 25,000-event quota.
#[test]
fn a_definition_synth_refuses_is_refused_with_every_problem_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, definition: Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, definition.to_string()).unwrap();
        path
    };
    let looping = write(
        "loop.json",
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}),
    );
    let started = Instant::now();
    let output = run_definition(&looping);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no terminal state"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing ran");
    assert!(started.elapsed() < Duration::from_secs(30));

    let two = write(
        "two.json",
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "Nowhere"}, "B": {"Type": "Succeed"}}}),
    );
    let output = run_definition(&two);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("state `A`") && l.contains("`Nowhere`")),
        "{stderr}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("state `B`") && l.contains("cannot be reached")),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "nothing ran");
}

/// deploy.toml with `[chunking] max_keys` set to `max_keys` (and any other `edit`), and the
/// pipeline `synth` renders for it, written in `dir`.
struct Deployment {
    config: PathBuf,
    definition: PathBuf,
    bucket: String,
    prefix: String,
    /// `arn:aws:states:REGION:ACCOUNT:execution:MACHINE:`, what `run` names its execution under.
    execution_arn_prefix: String,
}

impl Deployment {
    /// The chunk store folder of the execution `name`, under the prefix:
    /// `<name>-<digest of its ARN>`, as GetTask02Chunks names it.
    fn execution_folder(&self, name: &str) -> String {
        let arn =
            etl_lambda::contract::ExecutionArn::new(format!("{}{name}", self.execution_arn_prefix))
                .unwrap();
        format!("{name}-{}", arn.digest())
    }
}

fn deployment(dir: &Path, max_keys: u32, edit: impl FnOnce(&mut toml::Table)) -> Deployment {
    let committed = std::fs::read_to_string(support::repo().join("deploy.toml")).unwrap();
    let mut table: toml::Table = committed.parse().unwrap();
    table["chunking"]["max_keys"] = toml::Value::Integer(max_keys.into());
    edit(&mut table);
    let config = dir.join("deploy.toml");
    std::fs::write(&config, toml::to_string(&table).unwrap()).unwrap();
    let synth = assert_cmd::Command::cargo_bin("cm-etl")
        .unwrap()
        .current_dir(support::repo())
        .args(["synth", "--stdout", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        synth.status.success(),
        "{}",
        String::from_utf8_lossy(&synth.stderr)
    );
    let definition = dir.join("definition.json");
    std::fs::write(&definition, &synth.stdout).unwrap();
    let store = &table["chunk_store"];
    let machine = table["state_machines"]
        .as_table()
        .unwrap()
        .keys()
        .next()
        .unwrap();
    let execution_arn_prefix = format!(
        "arn:aws:states:{}:{}:execution:{machine}:",
        table["region"].as_str().unwrap(),
        table["account"].as_str().unwrap()
    );
    Deployment {
        config,
        definition,
        execution_arn_prefix,
        bucket: store["bucket"].as_str().unwrap().to_owned(),
        prefix: store
            .get("prefix")
            .and_then(|p| p.as_str())
            .unwrap_or("")
            .to_owned(),
    }
}

/// `cm-etl run` of `deployment` with `args`: its exit code, JSON report (when it printed one)
/// and stderr.
fn run_deployed(deployment: &Deployment, args: &[&str]) -> (Option<i32>, Value, String) {
    let output = assert_cmd::Command::cargo_bin("cm-etl")
        .unwrap()
        .current_dir(support::repo())
        .arg("run")
        .arg("--config")
        .arg(&deployment.config)
        .arg("--definition")
        .arg(&deployment.definition)
        .args(args)
        .args(["--output", "json"])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), report, stderr)
}

/// What every successful pipeline run must show: every state small, every row accounted for, and
/// one Map Run in which every chunk succeeded, each in a short history of its own.
fn assert_migrated_through_the_map_run(report: &Value) -> u64 {
    assert_eq!(report["status"], json!("SUCCEEDED"), "{report:#}");
    let n = |k: &str| report[k].as_u64().unwrap();
    assert_eq!(n("migrated_rows") + n("rejected_rows"), n("source_rows"));
    for (state, bytes) in report["largest_payload_bytes"].as_object().unwrap() {
        assert!(bytes.as_u64().unwrap() <= 2048, "{state}: {bytes} B");
    }
    let chunks = report["output"]["task02_chunks"]["num_chunks"]
        .as_u64()
        .unwrap();
    let runs = report["map_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{report:#}");
    let run = &runs[0];
    assert_eq!(run["state"], json!("ProcessTask02Chunks"));
    assert_eq!(
        (&run["items_total"], &run["succeeded"], &run["failed"]),
        (&json!(chunks), &json!(chunks), &json!(0)),
        "{run:#}"
    );
    assert_eq!(run["results_written"], json!(chunks));
    assert_eq!(run["largest_child_history_events"], json!(7));
    // The parent's history is the same size however many chunks: 20 events.
    assert_eq!(n("history_events"), 20, "{report:#}");
    chunks
}

/// 50,000 keys at 10 keys per chunk: about 5,000 chunks, past what the inline Map could hold in
/// one history, through the real binary, with the chunk store in a local bucket (kept, to check
/// its layout).
#[test]
fn five_thousand_chunks_go_through_the_distributed_map_with_small_payloads() {
    let scratch = tempfile::tempdir().unwrap();
    let deployment = deployment(scratch.path(), 10, |_| {});
    let s3 = scratch.path().join("s3");
    let started = Instant::now();
    let (code, report, stderr) = run_deployed(
        &deployment,
        &[
            "--keys",
            "50000",
            "--execution-name",
            "five-thousand",
            "--chunk-dir",
            s3.to_str().unwrap(),
            "--keep-chunks",
        ],
    );
    let took = started.elapsed();
    assert_eq!(code, Some(0), "{stderr}");
    let chunks = assert_migrated_through_the_map_run(&report);
    assert!(chunks >= 5_000, "{chunks} chunks");
    eprintln!("{chunks} chunks in {took:.1?}");

    // Laid out as a deployed execution lays it out: bucket, prefix, execution's folder.
    let folder = s3
        .join(&deployment.bucket)
        .join(&deployment.prefix)
        .join(deployment.execution_folder("five-thousand"));
    let ids: Vec<u64> =
        serde_json::from_slice(&std::fs::read(folder.join("chunk-ids.json")).unwrap()).unwrap();
    assert_eq!(ids, (0..chunks).collect::<Vec<_>>());
    let map_results: Vec<PathBuf> = std::fs::read_dir(folder.join("map-results"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(map_results.len(), 1, "one Map Run: {map_results:?}");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(map_results[0].join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["MapRunArn"], report["map_runs"][0]["map_run_arn"]);
    let succeeded: Value =
        serde_json::from_slice(&std::fs::read(map_results[0].join("SUCCEEDED_0.json")).unwrap())
            .unwrap();
    assert_eq!(succeeded.as_array().unwrap().len() as u64, chunks);
}

/// `run --s3-endpoint-url` against moto server: the chunks, `chunk-ids.json` and the Map's results
/// land in moto's S3, in deploy.toml's bucket under `<prefix><execution>-<arn digest>/`.
#[test]
fn with_an_s3_endpoint_the_chunks_ids_and_map_results_land_in_its_bucket() {
    let _serial = support::serial();
    let endpoint = support::moto_endpoint();
    let scratch = tempfile::tempdir().unwrap();
    let deployment = deployment(scratch.path(), 100, |_| {});
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let objects = runtime.block_on(moto_objects(&endpoint));
    let client = objects.s3_client().expect("an S3 store");
    runtime
        .block_on(client.create_bucket().bucket(&deployment.bucket).send())
        .unwrap();
    let execution = format!("moto-run-{}", std::process::id());
    let (code, report, stderr) = run_deployed(
        &deployment,
        &[
            "--keys",
            "2000",
            "--execution-name",
            &execution,
            "--s3-endpoint-url",
            &endpoint,
            "--keep-chunks",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let chunks = assert_migrated_through_the_map_run(&report);
    assert!(chunks > 1, "{chunks}");

    let folder = format!(
        "{}{}/",
        deployment.prefix,
        deployment.execution_folder(&execution)
    );
    let keys: Vec<String> = runtime
        .block_on(objects.list(&deployment.bucket, &folder))
        .unwrap()
        .into_iter()
        .map(|object| object.key.strip_prefix(&folder).unwrap().to_owned())
        .collect();
    let chunk_objects = keys.iter().filter(|k| k.starts_with("chunk-0")).count();
    assert_eq!(chunk_objects as u64, chunks, "{keys:?}");
    assert!(keys.contains(&"chunk-ids.json".to_owned()), "{keys:?}");
    let map_run_id = report["map_runs"][0]["map_run_arn"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap();
    for name in ["manifest.json", "SUCCEEDED_0.json"] {
        let key = format!("map-results/{map_run_id}/{name}");
        assert!(keys.contains(&key), "{key} not in {keys:?}");
    }
}

/// Without `--keep-chunks`, the pipeline's DeleteTask02Chunks leaves nothing of the execution in
/// the bucket once it succeeded: the chunks hold SSNs.
#[test]
fn a_successful_run_leaves_no_chunk_behind() {
    let scratch = tempfile::tempdir().unwrap();
    let deployment = deployment(scratch.path(), 50, |_| {});
    let s3 = scratch.path().join("s3");
    let (code, report, stderr) = run_deployed(
        &deployment,
        &[
            "--keys",
            "3000",
            "--execution-name",
            "left-nothing",
            "--chunk-dir",
            s3.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(assert_migrated_through_the_map_run(&report) > 1);
    let bucket = s3.join(&deployment.bucket);
    let left: Vec<PathBuf> = walk(&bucket);
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Every file under `dir`, at any depth.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A bucket that does not exist at the endpoint is one clear error, before any data is made.
#[test]
fn with_an_s3_endpoint_a_missing_bucket_is_one_clear_error() {
    let _serial = support::serial();
    let endpoint = support::moto_endpoint();
    let scratch = tempfile::tempdir().unwrap();
    let missing = format!("cm-etl-missing-{}", std::process::id());
    let deployment = deployment(scratch.path(), 100, |table| {
        table["chunk_store"]["bucket"] = toml::Value::String(missing.clone());
    });
    let (code, report, stderr) = run_deployed(
        &deployment,
        &["--keys", "10", "--s3-endpoint-url", &endpoint],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(report.is_null());
    assert!(
        stderr.contains(&missing)
            && stderr.contains("does not exist")
            && stderr.contains("create it"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// Chunks hold SSNs: an endpoint off this machine is refused before anything is made or sent.
#[test]
fn an_s3_endpoint_off_this_machine_is_refused() {
    let output = assert_cmd::Command::cargo_bin("cm-etl")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--s3-endpoint-url", "http://192.0.2.10:9000"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--s3-endpoint-url") && stderr.contains("only an endpoint on this machine"),
        "{stderr}"
    );
}

async fn moto_objects(endpoint: &str) -> ObjectStore {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .load()
        .await;
    ObjectStore::s3(&config)
}

/// Every entry under `dir` (at any depth) with its permission bits; entries that vanish while
/// being read are skipped (the run creates and removes files all the time).
fn modes_under(dir: &Path) -> Vec<(PathBuf, bool, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let is_dir = metadata.is_dir();
        found.push((path.clone(), is_dir, metadata.permissions().mode() & 0o777));
        if is_dir {
            found.extend(modes_under(&path));
        }
    }
    found
}

/// Asserts that nothing under `dir` can be read by anyone but its owner.
fn assert_private(dir: &Path) -> usize {
    let entries = modes_under(dir);
    for (path, is_dir, mode) in &entries {
        let most = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(mode & !most, 0, "{} is {mode:o}", path.display());
    }
    entries.len()
}

/// `cm-etl run` with its temporary directory in `tmp` (TMPDIR), stderr captured.
fn spawn_run(tmp: &Path, args: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_cm-etl"))
        .current_dir(support::repo())
        .env("TMPDIR", tmp)
        .arg("run")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// A run stopped by SIGINT (while it seeds the warehouse), SIGTERM (while the Map processes
/// chunks) or SIGKILL: every file and directory it made was private at every look (sampled as
/// often as the walk allows), and after SIGINT and SIGTERM nothing of it is left, with exit 130
/// or 143 and one line; SIGKILL leaves only private files.
#[test]
fn a_stopped_run_leaves_nothing_and_every_file_it_made_was_private() {
    // (signal, exit status, what must exist before it is sent)
    let cases: [(&str, Option<i32>, &str); 3] = [
        ("INT", Some(130), "warehouse.sqlite3"),
        ("TERM", Some(143), "chunk-00000000.json"),
        ("KILL", None, "warehouse.sqlite3-wal"),
    ];
    for (signal, status, wait_for) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let mut child = spawn_run(tmp.path(), &["--keys", "100000"]);
        let mut samples = 0;
        loop {
            assert_private(tmp.path());
            samples += 1;
            let seen = modes_under(tmp.path())
                .iter()
                .any(|(path, _, _)| path.file_name().is_some_and(|n| n == wait_for));
            if seen {
                break;
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "SIG{signal}: the run ended before {wait_for} appeared"
            );
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "SIG{signal}: no {wait_for} after 120 s"
            );
        }
        let signalled_at = started.elapsed();
        let killed = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(killed.success());
        let exit = loop {
            assert_private(tmp.path());
            samples += 1;
            if let Some(exit) = child.try_wait().unwrap() {
                break exit;
            }
            assert!(
                started.elapsed() < signalled_at + Duration::from_secs(30),
                "SIG{signal}: still running 30 s after the signal"
            );
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(exit.code(), status, "SIG{signal}: {stderr}");
        let left = assert_private(tmp.path());
        match status {
            Some(_) => {
                assert_eq!(left, 0, "SIG{signal} left {:?}", modes_under(tmp.path()));
                assert_eq!(
                    stderr.trim(),
                    format!(
                        "stopped by SIG{signal}: the local execution was abandoned and its temporary files removed"
                    ),
                );
            }
            None => assert!(left > 0, "SIGKILL cannot clean up; what is left is private"),
        }
        eprintln!(
            "SIG{signal} after {signalled_at:.1?}: {samples} samples, exit {:?}",
            exit.code()
        );
    }
}

/// `--database-url sqlite://` creates its file 0600, and only once every argument was checked: a
/// refused run creates nothing.
#[test]
fn a_database_url_file_is_created_private_and_not_at_all_when_the_run_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("new.sqlite3");
    let url = format!("sqlite://{}", file.display());
    let url = url.as_str();
    let dates = ["--date-from", "2024-01-01", "--date-to", "2024-01-31"];
    for refused in [
        vec!["--database-url", url],
        [
            &["--database-url", url, "--execution-name", "no/slash"][..],
            &dates,
        ]
        .concat(),
        [
            &["--database-url", url, "--definition", "missing.json"][..],
            &dates,
        ]
        .concat(),
    ] {
        let output = assert_cmd::Command::cargo_bin("cm-etl")
            .unwrap()
            .current_dir(support::repo())
            .arg("run")
            .args(&refused)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{refused:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!file.exists(), "{refused:?} created {}", file.display());
    }
    // Accepted: the file is made (no schema in it, so the execution fails after its retries).
    let output = assert_cmd::Command::cargo_bin("cm-etl")
        .unwrap()
        .current_dir(support::repo())
        .args(["run", "--database-url", url])
        .args(dates)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
}

/// No message of a refused `run --database-url` shows a password, wherever the URL carries it.
#[test]
fn a_refused_database_url_never_shows_its_password() {
    // Nothing listens on port 1: the connection is refused, after every other check passed.
    let url = "postgres://etl:Secret1@127.0.0.1:1/w?password=Secret2&sslpassword=Secret3&pass%77ord=Secret4";
    for args in [
        vec!["run", "--database-url", url],
        vec![
            "run",
            "--database-url",
            url,
            "--date-from",
            "2024-01-01",
            "--date-to",
            "2024-01-31",
        ],
    ] {
        let output = assert_cmd::Command::cargo_bin("cm-etl")
            .unwrap()
            .current_dir(support::repo())
            .args(&args)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(output.status.code(), Some(2), "{all}");
        assert!(!all.contains("Secret"), "a password is shown: {all}");
        assert_eq!(all.lines().count(), 1, "{all}");
    }
}

/// A `run --database-url` that would not verify the server is refused in one line that names the
/// fix, before any connection, and never shows the password.
#[test]
fn an_unverified_database_url_is_refused_with_its_fix() {
    let url = "postgres://etl:Secret1@127.0.0.1:1/w?sslmode=require";
    let output = assert_cmd::Command::cargo_bin("cm-etl")
        .unwrap()
        .current_dir(support::repo())
        .args(["run", "--database-url", url])
        .args(["--date-from", "2024-01-01", "--date-to", "2024-01-31"])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(2), "{all}");
    assert_eq!(all.lines().count(), 1, "{all}");
    assert!(
        all.contains("sslmode=require") && all.contains("cm_etl_insecure_transport=unverified"),
        "{all}"
    );
    assert!(!all.contains("Secret"), "a password is shown: {all}");
}

/// Generated data has bounds: out of them, one line and exit 2, before anything is made.
#[test]
fn generated_data_out_of_bounds_is_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            vec!["--keys", "18446744073709551615"],
            "is not in 1..=100000000",
        ),
        (vec!["--keys", "0"], "is not in 1..=100000000"),
        (
            vec!["--keys", "1", "--rows-per-key", "4294967295"],
            "is not in 1..=1000",
        ),
        (
            vec!["--keys", "100000000", "--rows-per-key", "2"],
            "the generator makes at most 100000000",
        ),
    ] {
        let started = Instant::now();
        let output = assert_cmd::Command::cargo_bin("cm-etl")
            .unwrap()
            .current_dir(support::repo())
            .env("TMPDIR", tmp.path())
            .arg("run")
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(says),
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(output.stdout.is_empty());
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    assert!(
        modes_under(tmp.path()).is_empty(),
        "a refused run made files"
    );
}

/// Issue 20: AWS's redrive rule in the local runner, with the real handlers and the embedded
/// SQLite warehouse. One chunk cannot be written (a trigger refuses its rows: a warehouse fault
/// the retries cannot outlast), so its child execution fails, the Map Run fails, and the
/// execution fails AT ProcessTask02Chunks (no Catch sends it to a Fail state). The fault is fixed
/// and the same execution redriven: the Map Run re-runs only the children that did not succeed,
/// DeleteTask02Chunks deletes the chunks, and every source row is migrated or rejected once.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_failed_in_a_chunk_is_redriven_at_the_map_and_migrates_the_rest() {
    use cm_etl::runner::handlers::InProcessHandlers;
    use etl_lambda::ChunkStores;
    use etl_lambda::contract::PipelineInput;

    let scratch = tempfile::tempdir().unwrap();
    let mut config =
        cm_etl::config::DeployConfig::load(&support::repo().join("deploy.toml")).unwrap();
    config.chunking.max_keys = 100;
    let (state_machine, machine_config) = config.state_machines.iter().next().unwrap();
    let definition = cm_etl::synth::render_definition(&config, state_machine).unwrap();
    let machine = load::from_json(&definition).unwrap();

    let support::SampleWarehouse {
        warehouse,
        url,
        sample,
    } = support::sample_warehouse(scratch.path(), 1_000, 20).await;
    warehouse
        .execute_batch(
            "CREATE TRIGGER chunk_3_is_broken BEFORE INSERT ON visits_migrated \
             WHEN NEW.chunk_id = 3 BEGIN SELECT RAISE(ABORT, 'chunk 3 is broken'); END;",
        )
        .await
        .unwrap();

    let objects = ObjectStore::local(scratch.path().join("s3"));
    let bucket = config.chunk_store.bucket.as_str();
    objects.create_local_bucket(bucket).await.unwrap();
    let functions = Functions::builder()
        .tmp_root(scratch.path())
        .function(
            config.function.name.as_str(),
            InProcessHandlers::with_stores(
                url.clone(),
                config.chunk_store_uri(),
                ChunkStores::on(objects.clone()),
            ),
        )
        .build();
    let engine = Engine::new(functions)
        .objects(objects.clone())
        .invocation_time(InvocationTime::Fixed(Duration::from_millis(50)));
    let spec = ExecutionSpec {
        region: config.region.to_string(),
        account: config.account.to_string(),
        state_machine: state_machine.to_string(),
        name: "redriven".into(),
        role_arn: machine_config.role_arn.to_string(),
        input: serde_json::to_value(PipelineInput {
            date_range: sample.date_range(),
        })
        .unwrap(),
    };

    let failed = engine.execute(&machine, &spec).await;
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(failed.failed_state(), Some("ProcessTask02Chunks"));
    assert_eq!(
        failed.error.as_ref().unwrap().error,
        "States.ExceedToleratedFailureThreshold"
    );
    let run = &failed.map_runs[0];
    assert_eq!(run.failed, 1, "{run:?}");
    assert_eq!(
        run.first_failure.as_ref().unwrap().error,
        "Task02.Transient"
    );
    let succeeded_before = failed
        .redrive
        .as_ref()
        .unwrap()
        .map_run_children_succeeded()
        .unwrap() as u64;
    assert_eq!(succeeded_before, run.succeeded);
    // The chunks stay for the redrive.
    let folder = config.chunk_store_uri().for_execution(
        &etl_lambda::contract::ExecutionName::new(&spec.name).unwrap(),
        &etl_lambda::contract::ExecutionArn::new(spec.execution_arn()).unwrap(),
    );
    assert!(
        !objects
            .list(bucket, folder.prefix())
            .await
            .unwrap()
            .is_empty()
    );

    // Fixed; the same execution redriven.
    warehouse
        .execute_batch("DROP TRIGGER chunk_3_is_broken;")
        .await
        .unwrap();
    let redriven = engine.redrive(&machine, &spec, &failed).await.unwrap();
    assert_eq!(
        redriven.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        redriven.error
    );
    let chunks = redriven.output.as_ref().unwrap()["task02_chunks"]["num_chunks"]
        .as_u64()
        .unwrap();
    assert!(chunks >= 10, "{chunks} chunks");
    let run = &redriven.map_runs[0];
    assert_eq!(
        run.map_run_arn, failed.map_runs[0].map_run_arn,
        "the same Map Run"
    );
    assert_eq!((run.succeeded, run.failed), (chunks, 0));
    // Only the children that did not succeed ran again (each once: the fault is gone), then the
    // deletion; GetTask02Chunks did not run again.
    assert_eq!(redriven.invocations, chunks - succeeded_before + 1);
    assert_eq!(redriven.task_attempts, chunks - succeeded_before + 1);

    let counts = warehouse.counts().await.unwrap();
    assert_eq!(counts.source_rows, sample.source_rows());
    assert_eq!(
        counts.migrated_rows + counts.rejected_rows,
        counts.source_rows
    );
    assert_eq!(
        (counts.migrated_rows, counts.rejected_rows),
        sample.expected_split()
    );
    let ledger = warehouse.ledger().await.unwrap();
    assert_eq!(
        ledger.iter().map(|row| row.chunk_id).collect::<Vec<_>>(),
        (0..chunks as i64).collect::<Vec<_>>()
    );
    assert!(
        objects
            .list(bucket, folder.prefix())
            .await
            .unwrap()
            .is_empty()
    );
}
