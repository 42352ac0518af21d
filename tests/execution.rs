//! `start` and `status` against moto server: the real CLI binary, a state machine and function
//! deployed in moto, and canned Lambda results standing in for the handlers.
//!
//! moto's Lambda results are one queue per region, shared by every execution, so the tests take
//! turns (`serial()`), each starting from a reset moto (an empty queue) and queueing exactly the
//! results its execution consumes.
//!
//! `deploy()` is the one setup: IAM roles, the chunk bucket, a function from a tiny zip, version
//! and `live` alias, and the pipeline as `synth` renders it for that function, with a deploy.toml
//! copy naming it. The tests: `start --wait` counts every chunk from the Map Run and exits 0;
//! `status` by ARN and by name reports what `start --wait` did, and a duplicate `--name` starts
//! nothing; a split without chunk ids fails and the report names the state and error moto names; a
//! failed iteration of an inline Map and a failed child of a Distributed Map are counted and their
//! state named (a Fail state stands in for a failing handler: moto's Lambda cannot raise); a bad
//! input (unknown field, impossible date, from > to, bad `--input-file` or `--name`) is one line
//! and starts nothing; an undeployed state machine and an unreachable endpoint are one-line errors;
//! Ctrl-C stops following (exit 130) but never the execution; no credentials reads the same for
//! every command.

use crate::support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::MutexGuard;
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt;
use cm_etl::execution::{ExecutionReport, MapIterations, Status};
use serde_json::{Value, json};
use support::fault_proxy::FaultProxy;
use support::{
    CHUNK_BUCKET, Moto, Run, create_role, moto_endpoint, queue_lambda_results, reset_moto, run,
};

const INPUT: &str = r#"{"date_range":{"from":"2024-01-01","to":"2024-01-31"}}"#;

/// Waits for this test's turn, then resets moto: nothing another test left queued or created is
/// seen. (cargo runs test binaries one after another, so no other binary is using moto now.)
fn serial() -> MutexGuard<'static, ()> {
    let turn = support::serial();
    reset_moto();
    turn
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Where the canned split says its chunk ids are.
const CHUNK_IDS_KEY: &str = "task02/canned/chunk-ids.json";

/// What GetTask02Chunks returns for `chunk_ids`, whose list is put where the result says, as the
/// handler would (the Distributed Map's ItemReader reads it from moto's S3); without ids, a result
/// that lacks the field.
fn chunks_result(chunk_ids: Option<&[u32]>) -> Value {
    let mut result = json!({
        "format_version": etl_lambda::contract::CHUNK_FORMAT_VERSION,
        "execution": "canned",
        "chunk_store": "s3://cm-etl-phase2-chunks/task02/canned/",
        "date_range": {"from": "2024-01-01", "to": "2024-01-31"},
        "num_chunks": chunk_ids.map_or(0, <[u32]>::len),
        "total_keys": 40,
        "total_rows": 400,
    });
    if let Some(ids) = chunk_ids {
        Moto::connect().put_object(CHUNK_BUCKET, CHUNK_IDS_KEY, &json!(ids).to_string());
        result["chunk_ids"] = json!({"bucket": CHUNK_BUCKET, "key": CHUNK_IDS_KEY});
    }
    result
}

fn chunk_summary(id: u32) -> Value {
    json!({"chunk_id": id, "rows_migrated": 100, "rows_rejected": 0})
}

/// A state machine deployed into moto, with a deploy.toml that names it.
struct Deployed {
    _dir: tempfile::TempDir,
    config: PathBuf,
    name: String,
    arn: String,
    /// moto cannot start an execution on an alias, which `start` does: this proxy can.
    proxy: FaultProxy,
}

/// The pipeline's shape (the committed definition is written by another part of the project):
/// GetTask02Chunks, then a Map over its chunk ids calling ProcessTask02Chunk, through the alias.
/// The pipeline exactly as `synth` renders it (and `deploy` ships it), invoking the test's own
/// function instead of the committed one.
fn pipeline_definition(function: &str) -> Value {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy.toml")).unwrap();
    let text = committed.replace(
        "name = \"cm-etl-phase2\"",
        &format!("name = \"{function}\""),
    );
    let path = std::path::Path::new("deploy.toml");
    let config = cm_etl::config::DeployConfig::parse(&text, path).unwrap();
    let (name, _) = config
        .state_machine(Some(cm_etl::pipeline::STATE_MACHINE_NAME), path)
        .unwrap();
    serde_json::from_str(&cm_etl::synth::render_definition(&config, name).unwrap()).unwrap()
}

/// Deploys the function (any small zip: moto's Docker-free Lambda does not run it), its `live`
/// alias and a state machine with `definition` (the pipeline when `None`), under fresh names.
/// The one place to switch to the committed definition or to `cm-etl deploy`.
fn deploy(tag: &str, definition: Option<Value>) -> Deployed {
    let function = unique(&format!("fn-{tag}"));
    let name = unique(&format!("sm-{tag}"));
    let lambda_role = create_role(&unique("lambda"), "lambda-role-trust.json");
    let states_role = create_role(&unique("states"), "state-machine-role-trust.json");

    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy.toml")).unwrap();
    let text = committed
        .replace(
            "state_machines.cm-etl-pipeline-phase2",
            &format!("state_machines.{name}"),
        )
        .replace(
            "name = \"cm-etl-phase2\"",
            &format!("name = \"{function}\""),
        );
    assert!(text.contains(&format!("[state_machines.{name}]")));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("deploy.toml");
    std::fs::write(&config, text).unwrap();

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("bootstrap", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut zip, b"#!/bin/sh\n").unwrap();
    let zip = zip.finish().unwrap().into_inner();

    let moto = Moto::connect();
    moto.create_bucket(CHUNK_BUCKET);
    let arn = moto.block_on(async {
        let lambda = &moto.lambda;
        lambda
            .create_function()
            .function_name(&function)
            .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
            .handler("bootstrap")
            .role(&lambda_role)
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(zip))
                    .build(),
            )
            .send()
            .await
            .expect("CreateFunction");
        let version = lambda
            .publish_version()
            .function_name(&function)
            .send()
            .await
            .expect("PublishVersion");
        let alias = lambda
            .create_alias()
            .function_name(&function)
            .name("live")
            .function_version(version.version().unwrap())
            .send()
            .await
            .expect("CreateAlias");
        assert!(alias.alias_arn().is_some());
        let definition = definition.unwrap_or_else(|| pipeline_definition(&function));
        let created = moto
            .sfn
            .create_state_machine()
            .name(&name)
            .role_arn(&states_role)
            .definition(definition.to_string())
            .publish(true)
            .send()
            .await
            .expect("CreateStateMachine");
        moto.sfn
            .create_state_machine_alias()
            .name("live")
            .routing_configuration(
                aws_sdk_sfn::types::RoutingConfigurationListItem::builder()
                    .state_machine_version_arn(created.state_machine_version_arn().unwrap())
                    .weight(100)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("CreateStateMachineAlias");
        created.state_machine_arn().to_owned()
    });

    Deployed {
        _dir: dir,
        config,
        name,
        arn,
        proxy: FaultProxy::with_state_machine_versions(&moto_endpoint()),
    }
}

/// `cm-etl ARGS --config ... --endpoint-url` moto, through the deployment's proxy.
fn cli(deployed: &Deployed, args: &[&str]) -> Command {
    let mut command = Command::cargo_bin("cm-etl").unwrap();
    command
        .args(args)
        .arg("--config")
        .arg(&deployed.config)
        .args(["--endpoint-url", &deployed.proxy.endpoint]);
    command
}

fn report(stdout: &str) -> ExecutionReport {
    serde_json::from_str(stdout).unwrap_or_else(|err| panic!("not a JSON report ({err}): {stdout}"))
}

fn executions_of(deployed: &Deployed) -> usize {
    let moto = Moto::connect();
    moto.block_on(
        moto.sfn
            .list_executions()
            .state_machine_arn(&deployed.arn)
            .send(),
    )
    .expect("ListExecutions")
    .executions()
    .len()
}

#[test]
fn start_wait_succeeds_and_counts_every_chunk_the_split_returned() {
    let _turn = serial();
    let deployed = deploy("ok", None);
    let chunk_ids = [0, 1, 2, 3];
    let mut results = vec![chunks_result(Some(&chunk_ids))];
    results.extend(chunk_ids.iter().map(|&id| chunk_summary(id)));
    queue_lambda_results(&results);

    let Run {
        code,
        stdout,
        stderr,
        ..
    } = run(&mut cli(
        &deployed,
        &[
            "start",
            "--state-machine",
            &deployed.name,
            "--input",
            INPUT,
            "--wait",
            "--output",
            "json",
        ],
    ));
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let report = report(&stdout);
    assert_eq!(report.status, Status::Succeeded);
    // Counted from the Map Run (DescribeMapRun): one child execution per chunk id in the object.
    assert_eq!(
        report.map_iterations,
        MapIterations {
            succeeded: 4,
            failed: 0,
            running: 0,
            total: chunk_ids.len() as u64
        }
    );
    assert_eq!(
        report.output.as_ref().unwrap()["task02_chunks"]["chunk_ids"],
        json!({"bucket": CHUNK_BUCKET, "key": CHUNK_IDS_KEY})
    );
    // The Map's ResultWriter wrote into this execution's chunk store folder: its name and the
    // digest of its ARN.
    let arn = etl_lambda::contract::ExecutionArn::new(report.execution_arn.clone()).unwrap();
    let results = Moto::connect().keys(
        CHUNK_BUCKET,
        &format!("task02/{}-{}/map-results/", report.name, arn.digest()),
    );
    assert!(
        results.iter().any(|key| key.ends_with("/manifest.json")),
        "{results:?}"
    );
    assert!(
        report
            .execution_arn
            .starts_with(&deployed.arn.replace(":stateMachine:", ":execution:"))
    );
    assert!(stderr.contains(&report.execution_arn), "{stderr}");
    assert!(report.duration_ms.is_some() && report.stop.is_some());
    assert_eq!(
        (report.error, report.cause, report.failed_state),
        (None, None, None)
    );
}

#[test]
fn status_of_a_finished_execution_reports_what_start_wait_did() {
    let _turn = serial();
    let deployed = deploy("status", None);
    let mut results = vec![chunks_result(Some(&[0, 1]))];
    results.extend([chunk_summary(0), chunk_summary(1)]);
    queue_lambda_results(&results);
    let Run {
        code,
        stdout: started,
        stderr,
        ..
    } = run(&mut cli(
        &deployed,
        &[
            "start",
            "--input",
            INPUT,
            "--name",
            "nightly-1",
            "--wait",
            "--output",
            "json",
            "--state-machine",
            &deployed.name,
        ],
    ));
    assert_eq!(code, 0, "{stderr}");
    let started = report(&started);
    assert_eq!(started.name, "nightly-1");

    let Run {
        code,
        stdout: by_arn,
        stderr,
        ..
    } = run(&mut cli(
        &deployed,
        &["status", &started.execution_arn, "--output", "json"],
    ));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report(&by_arn), started);

    // A bare name is looked up under the state machine deploy.toml names.
    let Run {
        code,
        stdout: by_name,
        stderr,
        ..
    } = run(&mut cli(
        &deployed,
        &[
            "status",
            "nightly-1",
            "--state-machine",
            &deployed.name,
            "--output",
            "json",
        ],
    ));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report(&by_name), started);

    let Run {
        code, stdout: text, ..
    } = run(&mut cli(&deployed, &["status", &started.execution_arn]));
    assert_eq!(code, 0);
    assert!(text.contains("status        SUCCEEDED"), "{text}");
    assert!(text.contains("2 of 2 succeeded, 0 failed"), "{text}");

    // The same name again is refused with a way out, and nothing new starts.
    let Run { code, stderr, .. } = run(&mut cli(
        &deployed,
        &[
            "start",
            "--input",
            INPUT,
            "--name",
            "nightly-1",
            "--state-machine",
            &deployed.name,
        ],
    ));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("already exists") && stderr.contains("--name"),
        "{stderr}"
    );
    assert_eq!(executions_of(&deployed), 1);
}

#[test]
fn a_split_without_chunk_ids_fails_and_the_report_names_state_and_error() {
    let _turn = serial();
    let deployed = deploy("fail", None);
    // Only the split is invoked: the execution fails before any chunk.
    queue_lambda_results(&[chunks_result(None)]);

    let Run {
        code,
        stdout,
        stderr,
        ..
    } = run(&mut cli(
        &deployed,
        &[
            "start",
            "--state-machine",
            &deployed.name,
            "--input",
            INPUT,
            "--wait",
        ],
    ));
    assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
    let arn = stdout.lines().next().unwrap().to_owned();
    assert!(stdout.contains("status        FAILED"), "{stdout}");
    // The ResultSelector finds no `$.Payload.chunk_ids`: States.Runtime, which no Catch takes
    // (the pipeline catches only a handler's refusals), so the execution fails in the split, where
    // a redrive would restart it; the report names the state and the error.
    let failed = "GetTask02Chunks";
    assert!(stdout.contains("error         States.Runtime"), "{stdout}");
    assert!(
        stdout.contains(&format!("failed state  {failed}")),
        "{stdout}"
    );

    let Run {
        code, stdout: json, ..
    } = run(&mut cli(&deployed, &["status", &arn, "--output", "json"]));
    assert_eq!(code, 1);
    let report = report(&json);
    assert_eq!(report.status, Status::Failed);
    assert_eq!(report.error.as_deref(), Some("States.Runtime"));
    assert_eq!(report.failed_state.as_deref(), Some(failed));
    assert_eq!(report.output, None);
}

#[test]
fn a_bad_input_is_one_clear_error_and_starts_nothing() {
    let _turn = serial();
    let deployed = deploy("input", None);
    let cases = [
        (
            r#"{"date_range":{"from":"2024-01-01","to":"2024-01-31"},"dry_run":true}"#,
            "unknown field `dry_run`",
        ),
        (
            r#"{"date_range":{"from":"2024-02-30","to":"2024-03-31"}}"#,
            "date_range.from",
        ),
        (
            r#"{"date_range":{"from":"2024-03-01","to":"2024-01-31"}}"#,
            "must not be after",
        ),
        (
            r#"{"date_range":{"from":"2024-01-01"}}"#,
            "missing field `to`",
        ),
    ];
    for (input, named) in cases {
        let Run {
            code,
            stdout,
            stderr,
            ..
        } = run(&mut cli(
            &deployed,
            &[
                "start",
                "--state-machine",
                &deployed.name,
                "--input",
                input,
                "--wait",
            ],
        ));
        assert_eq!(code, 2, "{input}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.starts_with("error: --input is not a valid pipeline input"),
            "{stderr}"
        );
        assert!(stderr.contains(named), "{input}: {stderr}");
    }
    // An input file is read up to Step Functions' 256 KiB limit and no further.
    let Run { code, stderr, .. } = run(&mut cli(
        &deployed,
        &[
            "start",
            "--state-machine",
            &deployed.name,
            "--input-file",
            "/dev/zero",
        ],
    ));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with(
            "error: --input-file /dev/zero is over 262144 bytes, Step Functions' limit"
        ),
        "{stderr}"
    );
    let file = deployed.config.with_file_name("input.json");
    std::fs::write(&file, r#"{"range":{}}"#).unwrap();
    let Run { code, stderr, .. } = run(&mut cli(
        &deployed,
        &[
            "start",
            "--state-machine",
            &deployed.name,
            "--input-file",
            file.to_str().unwrap(),
        ],
    ));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--input-file") && stderr.contains("unknown field `range`"),
        "{stderr}"
    );
    let Run { code, stderr, .. } = run(&mut cli(
        &deployed,
        &[
            "start",
            "--state-machine",
            &deployed.name,
            "--name",
            "a/b",
            "--input",
            INPUT,
        ],
    ));
    assert_eq!(code, 2);
    assert!(stderr.contains("--name"), "{stderr}");

    assert_eq!(
        executions_of(&deployed),
        0,
        "a refused input must start nothing"
    );
}

#[test]
fn an_undeployed_state_machine_and_an_unreachable_endpoint_are_one_line_errors() {
    let _turn = serial();
    let deployed = deploy("errors", None);
    let text = std::fs::read_to_string(&deployed.config).unwrap();
    std::fs::write(
        &deployed.config,
        text.replace(&deployed.name, "never-deployed"),
    )
    .unwrap();
    let Run { code, stderr, .. } = run(&mut cli(&deployed, &["start", "--input", INPUT]));
    assert_eq!(code, 2);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("`never-deployed` is not deployed") && stderr.contains("cm-etl deploy"),
        "{stderr}"
    );

    let mut command = Command::cargo_bin("cm-etl").unwrap();
    command
        .args(["status", "some-run", "--config"])
        .arg(&deployed.config)
        .args(["--endpoint-url", "http://127.0.0.1:9"]);
    let Run { code, stderr, .. } = run(&mut command);
    assert_eq!(code, 2);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot reach the AWS endpoint"), "{stderr}");

    let Run { code, stderr, .. } = run(&mut cli(
        &deployed,
        &["status", "no-such-run", "--state-machine", "never-deployed"],
    ));
    assert_eq!(code, 2);
    assert!(stderr.contains("is not deployed"), "{stderr}");
}

#[test]
fn ctrl_c_stops_following_but_never_the_execution() {
    let _turn = serial();
    let hold = json!({"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 120, "End": true}}});
    let deployed = deploy("ctrlc", Some(hold));
    let mut child = cli(
        &deployed,
        &[
            "start",
            "--state-machine",
            &deployed.name,
            "--input",
            INPUT,
            "--wait",
        ],
    );
    let mut child = child
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut arn = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut arn)
        .unwrap();
    let arn = arn.trim().to_owned();
    assert!(arn.contains(":execution:"), "{arn}");
    std::thread::sleep(Duration::from_millis(700));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(&format!("cm-etl status {arn} --wait")),
        "{stderr}"
    );

    let moto = Moto::connect();
    let described = moto
        .block_on(moto.sfn.describe_execution().execution_arn(&arn).send())
        .unwrap();
    assert_eq!(
        described.status(),
        &aws_sdk_sfn::types::ExecutionStatus::Running
    );

    // `status` of the running execution: RUNNING, exit 0, no stop time yet.
    let Run {
        code,
        stdout: json,
        stderr,
        ..
    } = run(&mut cli(&deployed, &["status", &arn, "--output", "json"]));
    assert_eq!(code, 0, "{stderr}");
    let running = report(&json);
    assert_eq!(running.status, Status::Running);
    assert_eq!((running.stop, running.duration_ms), (None, None));
    moto.block_on(moto.sfn.stop_execution().execution_arn(&arn).send())
        .unwrap();
}

/// moto's Lambda cannot raise, so a Fail state inside the Map stands in for a chunk whose handler
/// failed: the report counts the failed iteration and names the state, error and cause.
#[test]
fn a_failed_map_iteration_is_counted_and_its_state_named() {
    let _turn = serial();
    let definition = json!({"StartAt": "ListChunks", "States": {
        "ListChunks": {"Type": "Pass", "Result": [0, 1, 2], "ResultPath": "$.chunk_ids", "Next": "ProcessTask02Chunks"},
        "ProcessTask02Chunks": {"Type": "Map", "ItemsPath": "$.chunk_ids", "MaxConcurrency": 1,
            "ItemSelector": {"chunk_id.$": "$$.Map.Item.Value"},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "IsChunkThere", "States": {
                "IsChunkThere": {"Type": "Choice", "Default": "Migrated",
                    "Choices": [{"Variable": "$.chunk_id", "NumericEquals": 1, "Next": "ChunkMissing"}]},
                "Migrated": {"Type": "Pass", "End": true},
                "ChunkMissing": {"Type": "Fail", "Error": "Task02.ChunkNotFound", "Cause": "chunk 1 is not in the store"}}},
            "ResultPath": null, "End": true}}});
    let deployed = deploy("mapfail", Some(definition));
    let Run {
        code,
        stdout: json,
        stderr,
        ..
    } = run(&mut cli(
        &deployed,
        &[
            "start",
            "--state-machine",
            &deployed.name,
            "--input",
            INPUT,
            "--wait",
            "--output",
            "json",
        ],
    ));
    assert_eq!(code, 1, "{stderr}");
    let report = report(&json);
    assert_eq!(report.status, Status::Failed);
    assert_eq!(
        report.map_iterations,
        MapIterations {
            succeeded: 1,
            failed: 1,
            running: 0,
            total: 3
        }
    );
    assert_eq!(report.failed_state.as_deref(), Some("ChunkMissing"));
    assert_eq!(report.error.as_deref(), Some("Task02.ChunkNotFound"));
    assert_eq!(report.cause.as_deref(), Some("chunk 1 is not in the store"));
}

/// A failed child execution of a Distributed Map is counted from its Map Run. (moto's interpreter
/// does not fail the Map Run past its tolerated failures as AWS does, so the execution itself
/// succeeds here; `cm-etl run` checks that part.)
#[test]
fn a_failed_child_of_a_distributed_map_is_counted_from_its_map_run() {
    let _turn = serial();
    let definition = json!({"StartAt": "ProcessTask02Chunks", "States": {
        "ProcessTask02Chunks": {"Type": "Map",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "JSON"},
                "Parameters": {"Bucket": CHUNK_BUCKET, "Key": CHUNK_IDS_KEY}},
            "ItemSelector": {"chunk_id.$": "$$.Map.Item.Value"},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "IsChunkThere", "States": {
                "IsChunkThere": {"Type": "Choice", "Default": "Migrated",
                    "Choices": [{"Variable": "$.chunk_id", "NumericEquals": 1, "Next": "ChunkMissing"}]},
                "Migrated": {"Type": "Pass", "End": true},
                "ChunkMissing": {"Type": "Fail", "Error": "Task02.ChunkNotFound", "Cause": "chunk 1 is not in the store"}}},
            "MaxConcurrency": 1, "Label": "chunks", "ResultPath": null, "End": true}}});
    let deployed = deploy("childfail", Some(definition));
    Moto::connect().put_object(CHUNK_BUCKET, CHUNK_IDS_KEY, "[0, 1, 2]");
    let Run {
        stdout: json,
        stderr,
        ..
    } = run(&mut cli(
        &deployed,
        &[
            "start",
            "--state-machine",
            &deployed.name,
            "--input",
            INPUT,
            "--wait",
            "--output",
            "json",
        ],
    ));
    let report = report(&json);
    assert_eq!(
        report.map_iterations,
        MapIterations {
            succeeded: 2,
            failed: 1,
            running: 0,
            total: 3
        },
        "{stderr}"
    );
}

/// With no credentials anywhere, every command that calls AWS says so in the same one line (not
/// that the endpoint is unreachable, which is what the SDK's last provider, IMDS, reports).
#[test]
fn no_credentials_is_the_same_line_for_start_status_deploy_and_diff() {
    let empty = tempfile::tempdir().unwrap();
    for file in ["config", "credentials"] {
        std::fs::write(empty.path().join(file), "").unwrap();
    }
    let execution = "arn:aws:states:us-east-1:123456789012:execution:cm-etl-pipeline-phase2:x";
    let commands: [&[&str]; 4] = [
        &["start", "--input", INPUT],
        &["status", execution],
        &["deploy", "--state-machine", support::STATE_MACHINE],
        &["diff", "--state-machine", support::STATE_MACHINE],
    ];
    let mut lines = Vec::new();
    for args in commands {
        let Run { code, stderr, .. } = run(support::cm_etl()
            .args(args)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env("HOME", empty.path())
            .env("AWS_CONFIG_FILE", empty.path().join("config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                empty.path().join("credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true"));
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr
                .starts_with("error: no AWS credentials found: set AWS_PROFILE or pass --profile"),
            "{args:?}: {stderr}"
        );
        lines.push(stderr);
    }
    assert!(
        lines.windows(2).all(|pair| pair[0] == pair[1]),
        "{lines:#?}"
    );
}
