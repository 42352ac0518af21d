//! Differential check of our runner against an independent executor: moto server's Step Functions
//! interpreter (LocalStack's). The committed definition runs in both; moto's Docker-free Lambda
//! returns, in order, the results our real handlers returned in the local run, so any difference
//! in the final output comes from how the two interpret the ASL. Both read the chunk ids from, and
//! write the Map's results to, moto's S3: our handlers store the chunks there.
//!
//! moto's Docker-free Lambda can only return queued results: it never fails, not even for a
//! function that is not deployed. So Retry and Catch are driven by what the function returns:
//! tests/fixtures/differential_retry_catch.json fails a Parallel branch with `Task02.Transient`
//! (a Fail state after a Choice on the Lambda's result), retries it, and catches the error once
//! the retries are spent. A scripted function gives the results on our side; the same results are
//! queued in moto. (The fixture keeps the Parallel's result array whole: moto returns
//! `$[0].status` as a one-element array where AWS's Jayway JSONPath, and our runner, return the
//! value.)
//!
//! Needs `MOTO_ENDPOINT` (run `bash tests/run.sh`). The cases run one after another in one test:
//! moto's queue of Lambda results is shared.
//!
//! Six inputs (a full year, a month, a day, no visits, a retry that then succeeds, a failure caught
//! after its retries): the final status, the output, the Map Run's item count and, without a
//! Distributed Map, the number of task attempts must be equal.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};
use aws_sdk_sfn::types::ExecutionStatus as SfnStatus;
use cm_etl::aws::{AwsArgs, sdk_config};
use cm_etl::config::DeployConfig;
use cm_etl::runner::engine::{Engine, ExecutionSpec, ExecutionStatus, InvocationTime};
use cm_etl::runner::function::{
    ExecutionEnvironment, Functions, LambdaError, LambdaFunction, SyncFunction,
};
use cm_etl::runner::handlers::InProcessHandlers;
use cm_etl::runner::load;
use etl_lambda::{ChunkStores, ObjectStore};
use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::support;

use support::{create_role, moto_endpoint, queue_lambda_results, repo, reset_moto};

/// Delegates to a function and keeps every response, in the order they were returned.
struct Recording<F> {
    inner: F,
    responses: Arc<Mutex<Vec<Value>>>,
}

impl<F: LambdaFunction> LambdaFunction for Recording<F> {
    fn invoke<'a>(
        &'a self,
        payload: Value,
        env: &'a mut ExecutionEnvironment,
    ) -> BoxFuture<'a, Result<Value, LambdaError>> {
        Box::pin(async move {
            let result = self.inner.invoke(payload, env).await;
            if let Ok(response) = &result {
                self.responses.lock().unwrap().push(response.clone());
            }
            result
        })
    }
}

/// How an execution ended, in the terms both executors report.
#[derive(Debug, PartialEq)]
struct Ending {
    status: &'static str,
    output: Option<Value>,
    error: Option<(String, String)>,
    /// Task attempts, for an execution without a Distributed Map: a Map Run's children keep
    /// their own histories, which moto cannot list.
    task_attempts: Option<usize>,
    /// The items of each Map Run, in order.
    map_run_items: Vec<u64>,
}

struct Case {
    name: &'static str,
    definition: &'static str,
    input: Value,
    /// For the fixture: the statuses the scripted function returns, one per invocation.
    script: &'static [&'static str],
}

/// Returns `{"status": script[n], "attempt": n}` on its n-th invocation.
fn scripted(script: &'static [&'static str]) -> impl LambdaFunction {
    let calls = std::sync::atomic::AtomicUsize::new(0);
    SyncFunction(move |_, _: &mut ExecutionEnvironment| {
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(json!({"status": script[n], "attempt": n}))
    })
}

/// Each Map Run's item count, from DescribeMapRun, in the order the history started them.
async fn map_run_items(
    sfn: &aws_sdk_sfn::Client,
    events: &[aws_sdk_sfn::types::HistoryEvent],
) -> Vec<u64> {
    let mut items = Vec::new();
    for arn in events
        .iter()
        .filter_map(|e| e.map_run_started_event_details()?.map_run_arn())
    {
        let run = sfn
            .describe_map_run()
            .map_run_arn(arn)
            .send()
            .await
            .unwrap();
        items.push(run.item_counts().map_or(0, |c| c.total() as u64));
    }
    items
}

fn lambda_zip() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "bootstrap",
        zip::write::SimpleFileOptions::default().unix_permissions(0o755),
    )
    .unwrap();
    zip.write_all(b"#!/bin/sh\n").unwrap();
    zip.finish().unwrap().into_inner()
}

#[test]
fn committed_definition_ends_the_same_in_moto_and_in_our_runner() {
    // moto is shared: this test runs alone (the guard is not held across an await).
    let _serial = support::serial();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(in_moto_and_in_our_runner());
}

async fn in_moto_and_in_our_runner() {
    let moto = moto_endpoint();
    reset_moto();
    let config = DeployConfig::load(&repo().join("deploy.toml")).unwrap();
    let (machine_name, machine_config) = config.state_machines.iter().next().unwrap();
    let role_name = |arn: &str| arn.rsplit('/').next().unwrap().to_owned();
    create_role(
        &role_name(config.function.role_arn.as_str()),
        "lambda-role-trust.json",
    );
    create_role(
        &role_name(machine_config.role_arn.as_str()),
        "state-machine-role-trust.json",
    );

    let aws = sdk_config(
        &AwsArgs {
            endpoint_url: Some(moto.clone()),
            ..AwsArgs::default()
        },
        &config,
    )
    .await;
    let lambda = aws_sdk_lambda::Client::new(&aws);
    let sfn = aws_sdk_sfn::Client::new(&aws);
    let function = config.function.name.as_str();
    lambda
        .create_function()
        .function_name(function)
        .role(config.function.role_arn.as_str())
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(lambda_zip()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let version = lambda
        .publish_version()
        .function_name(function)
        .send()
        .await
        .unwrap();
    lambda
        .create_alias()
        .function_name(function)
        .name(config.function.alias.as_str())
        .function_version(version.version().unwrap())
        .send()
        .await
        .unwrap();

    // The committed definition, and the fixture whose errors come from the function's results.
    let committed =
        std::fs::read_to_string(repo().join("definitions/etl_pipeline_phase2_ready.json")).unwrap();
    let retry_catch =
        std::fs::read_to_string(repo().join("tests/fixtures/differential_retry_catch.json"))
            .unwrap();
    assert!(
        retry_catch.contains(&config.function_alias_arn()),
        "the fixture invokes deploy.toml's alias"
    );
    let definitions = [
        ("committed", committed.as_str()),
        ("retry_catch", retry_catch.as_str()),
    ];
    let mut machine_arns = std::collections::HashMap::new();
    for (key, text) in definitions {
        let created = sfn
            .create_state_machine()
            .name(format!("{machine_name}-diff-{key}"))
            .definition(text)
            .role_arn(machine_config.role_arn.as_str())
            .send()
            .await
            .unwrap();
        machine_arns.insert(key, created.state_machine_arn().to_owned());
    }

    // One generated warehouse and chunk directory for every case, as one user's laptop would have.
    let workspace = tempfile::tempdir().unwrap();
    let support::SampleWarehouse {
        url: database_url,
        sample,
        ..
    } = support::sample_warehouse(workspace.path(), 3_000, 7).await;
    // The chunk store is deploy.toml's bucket, in moto, where moto's ItemReader reads it too.
    let chunk_store = config.chunk_store_uri();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket(chunk_store.bucket())
        .send()
        .await
        .unwrap();
    let objects = ObjectStore::s3(&aws);

    let range = |from: &str, to: &str| json!({"date_range": {"from": from, "to": to}});
    let full = sample.date_range();
    let cases = [
        Case {
            name: "full-year",
            definition: "committed",
            input: json!({"date_range": full}),
            script: &[],
        },
        Case {
            name: "one-month",
            definition: "committed",
            input: range("2024-02-01", "2024-02-29"),
            script: &[],
        },
        Case {
            name: "one-day",
            definition: "committed",
            input: range("2024-07-04", "2024-07-04"),
            script: &[],
        },
        Case {
            name: "no-visits",
            definition: "committed",
            input: range("2030-01-01", "2030-12-31"),
            script: &[],
        },
        Case {
            name: "retry-then-succeed",
            definition: "retry_catch",
            input: range("2024-03-01", "2024-03-31"),
            script: &["transient", "ok"],
        },
        Case {
            name: "caught-after-retries",
            definition: "retry_catch",
            input: range("2024-04-01", "2024-04-30"),
            script: &["transient", "transient", "transient"],
        },
    ];
    let mut compared = 0;
    for case in &cases {
        let text = definitions
            .iter()
            .find(|(k, _)| *k == case.definition)
            .unwrap()
            .1;
        let execution = format!("diff-{}", case.name);

        // Ours, with the real handlers, recording what they return.
        let responses = Arc::new(Mutex::new(Vec::new()));
        let functions = if case.script.is_empty() {
            // moto's run reads the chunk ids ours stored: DeleteTask02Chunks must leave them.
            let handlers = InProcessHandlers::with_stores(
                database_url.clone(),
                chunk_store.clone(),
                ChunkStores::on(objects.clone()),
            )
            .keeping_chunks(true);
            Functions::builder().function(
                function,
                Recording {
                    inner: handlers,
                    responses: responses.clone(),
                },
            )
        } else {
            Functions::builder().function(
                function,
                Recording {
                    inner: scripted(case.script),
                    responses: responses.clone(),
                },
            )
        }
        .build();
        let spec = ExecutionSpec {
            region: config.region.to_string(),
            account: config.account.to_string(),
            state_machine: format!("{machine_name}-diff-{}", case.definition),
            name: execution.clone(),
            role_arn: machine_config.role_arn.to_string(),
            input: case.input.clone(),
        };
        let machine = load::from_json(text).unwrap();
        let outcome = Engine::new(functions)
            .invocation_time(InvocationTime::Fixed(Duration::from_millis(100)))
            .objects(objects.clone())
            .execute(&machine, &spec)
            .await;
        let items: Vec<u64> = outcome.map_runs.iter().map(|r| r.items_total).collect();
        let ours = Ending {
            status: match outcome.status {
                ExecutionStatus::Succeeded => "SUCCEEDED",
                ExecutionStatus::Failed => "FAILED",
                ExecutionStatus::TimedOut => "TIMED_OUT",
            },
            output: outcome.output.clone(),
            error: outcome
                .error
                .as_ref()
                .map(|e| (e.error.clone(), e.cause.clone())),
            task_attempts: items.is_empty().then_some(outcome.task_attempts as usize),
            map_run_items: items,
        };

        // moto's, with the same Lambda results queued in the same order.
        queue_lambda_results(&responses.lock().unwrap());
        let started = sfn
            .start_execution()
            .state_machine_arn(&machine_arns[case.definition])
            .name(&execution)
            .input(case.input.to_string())
            .send()
            .await
            .unwrap();
        let arn = started.execution_arn();
        let deadline = Instant::now() + Duration::from_secs(60);
        let described = loop {
            let described = sfn
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .unwrap();
            if described.status() != &SfnStatus::Running {
                break described;
            }
            assert!(
                Instant::now() < deadline,
                "{}: moto's execution still running after 60 s",
                case.name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let history = sfn
            .get_execution_history()
            .execution_arn(arn)
            .max_results(1000)
            .send()
            .await
            .unwrap();
        let theirs = Ending {
            status: match described.status() {
                SfnStatus::Succeeded => "SUCCEEDED",
                SfnStatus::Failed => "FAILED",
                SfnStatus::TimedOut => "TIMED_OUT",
                other => panic!("{}: unexpected status {other:?}", case.name),
            },
            output: described.output().map(|o| serde_json::from_str(o).unwrap()),
            error: described.error().map(|e| {
                (
                    e.to_owned(),
                    described.cause().unwrap_or_default().to_owned(),
                )
            }),
            task_attempts: None,
            map_run_items: map_run_items(&sfn, history.events()).await,
        };
        let theirs = Ending {
            task_attempts: theirs.map_run_items.is_empty().then(|| {
                history
                    .events()
                    .iter()
                    .filter(|e| e.r#type().as_str() == "TaskScheduled")
                    .count()
            }),
            ..theirs
        };
        assert_eq!(
            ours, theirs,
            "case {}: our runner (left) and moto (right) differ",
            case.name
        );
        compared += 1;

        match case.name {
            "retry-then-succeed" => {
                assert_eq!(ours.task_attempts, Some(2), "one attempt and one retry");
                assert_eq!(
                    ours.output.as_ref().unwrap()["result"],
                    json!([{"status": "ok", "attempt": 1}])
                );
            }
            "caught-after-retries" => {
                assert_eq!(ours.task_attempts, Some(3), "one attempt and two retries");
                assert_eq!(
                    ours.output.as_ref().unwrap()["recovered_from"],
                    json!("Task02.Transient")
                );
            }
            // Only the undated rows (which no date range can exclude) are left to migrate.
            "no-visits" => {
                let rows = ours.output.as_ref().unwrap()["task02_chunks"]["total_rows"]
                    .as_u64()
                    .unwrap();
                assert!(rows < sample.source_rows() / 10, "{rows}");
            }
            _ => {
                let chunks = ours.output.as_ref().unwrap()["task02_chunks"]["num_chunks"]
                    .as_u64()
                    .unwrap();
                assert!(chunks >= 1, "{:?}", ours.output);
                assert_eq!(ours.map_run_items, [chunks], "one child per chunk");
            }
        }
    }
    assert_eq!(compared, cases.len());
}
