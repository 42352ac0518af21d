//! `cm-etl run` with the real handlers. Our pipeline migrates or rejects every row, every state
//! payload at most 2 KiB and the parent's history 20 events, on 5,000 chunks through its
//! Distributed Map (the chunk ids, manifest and Map results in a local bucket), within the bounds
//! synth committed and at the cost its history says; its JSONata rendering ends the same; nothing
//! is left behind after a success. A warehouse without a schema fails after the committed retries
//! (on virtual time) with exit 1; bad input, a definition synth refuses and generated data out of
//! bounds are refused before anything runs. Redrive: a run that fails in one chunk fails at the
//! Distributed Map; once the chunk is fixed, redriving the same execution re-runs only the chunks
//! that did not succeed, and every row is migrated or rejected.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cm_etl::runner::engine::{Engine, ExecutionSpec, ExecutionStatus, InvocationTime};
use cm_etl::runner::function::Functions;
use cm_etl::runner::load;
use etl_lambda::ObjectStore;
use serde_json::{Value, json};

use support::local_run::{
    assert_migrated_through_the_map_run, cm_etl_run, deployment, modes_under, run_definition,
    run_deployed,
};

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
