//! Releases: an execution keeps the code it started with, whatever is deployed meanwhile; and
//! `deploy`, `--canary`, `--promote`, `rollback` and `releases` against moto
//! (`bash tests/run.sh -- --test integration releases::`).
//!
//! In the local runner, with the real handlers on SQLite: an execution of a release (its
//! definition pinned to function version 1) is part way through its chunks when a deploy
//! publishes version 2 and moves the function's alias; every remaining chunk still runs version 1.
//! The same execution of the committed definition (which names the alias) runs its remaining
//! chunks on version 2: what releases prevent.
//!
//! Against moto (through `FaultProxy::with_state_machine_versions`, which adds what moto 5.2
//! lacks: ListStateMachineVersions, DeleteStateMachineVersion, and StartExecution on an alias):
//! each deploy that changes the code publishes a state machine version whose definition names
//! the new function version, and routes the alias `live` to it; the older version still names the
//! older function version; `rollback` routes the alias (and the function's alias) back, `--to`
//! forward again; `releases` lists them; `--canary 10` routes 10 % to the new release and
//! `--promote` all; versions past `keep` are deleted, never a routed one or one an execution runs
//! on; deploy names the running executions; `start` starts on the alias.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cm_etl::runner::engine::{Engine, ExecutionSpec, ExecutionStatus, InvocationTime};
use cm_etl::runner::function::{ExecutionEnvironment, Functions, LambdaError, LambdaFunction};
use cm_etl::runner::handlers::InProcessHandlers;
use cm_etl::runner::load;
use cm_etl::synth::{FunctionVersion, render_definition, render_release_definition};
use etl_lambda::contract::PipelineInput;
use etl_lambda::{ChunkStores, ObjectStore};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use support::fault_proxy::FaultProxy;
use support::*;

const PROCESS_CHUNK: &str = "process_task02_chunk";

/// Which function version served each invocation, in order.
type Served = Arc<Mutex<Vec<(u64, String)>>>;

/// One published version of the function: the real handlers, recording that this version
/// served the invocation; version 1 deploys version 2 (publishes it and moves the function's
/// alias to it, as `cm-etl deploy` does) when it has served `deploy_after` chunks.
struct Version {
    number: u64,
    handlers: InProcessHandlers,
    served: Served,
    deploy_after: Option<(usize, Box<dyn Fn() + Send + Sync>)>,
}

impl LambdaFunction for Version {
    fn invoke<'a>(
        &'a self,
        payload: Value,
        env: &'a mut ExecutionEnvironment,
    ) -> BoxFuture<'a, Result<Value, LambdaError>> {
        let action = payload["action"].as_str().unwrap_or_default().to_owned();
        let chunks = {
            let mut served = self.served.lock().unwrap();
            served.push((self.number, action.clone()));
            served.iter().filter(|(_, a)| a == PROCESS_CHUNK).count()
        };
        if let Some((after, deploy)) = &self.deploy_after
            && action == PROCESS_CHUNK
            && chunks == *after
        {
            deploy();
        }
        self.handlers.invoke(payload, env)
    }
}

/// Runs the pipeline rendered by `definition` (from the config) over 1,000 keys in chunks of
/// 100, one chunk at a time, with a deploy of function version 2 after the third chunk; returns
/// which version served each chunk.
async fn chunks_served_across_a_deploy(
    definition: impl Fn(&cm_etl::config::DeployConfig, &cm_etl::config::StateMachineName) -> String,
) -> Vec<u64> {
    let scratch = tempfile::tempdir().unwrap();
    let mut config =
        cm_etl::config::DeployConfig::load(&support::repo().join("deploy.toml")).unwrap();
    config.chunking.max_keys = 100;
    let (name, machine_config) = config.state_machines.iter_mut().next().unwrap();
    // One chunk at a time, so "before" and "after" the deploy are well defined.
    machine_config.map.max_concurrency = 1.try_into().unwrap();
    let (name, machine_config) = (name.clone(), machine_config.clone());
    let machine = load::from_json(&definition(&config, &name)).unwrap();

    let support::SampleWarehouse {
        warehouse,
        url,
        sample,
    } = support::sample_warehouse(scratch.path(), 1_000, 23).await;
    let objects = ObjectStore::local(scratch.path().join("s3"));
    objects
        .create_local_bucket(config.chunk_store.bucket.as_str())
        .await
        .unwrap();
    let handlers = || {
        InProcessHandlers::with_stores(
            url.clone(),
            config.chunk_store_uri(),
            ChunkStores::on(objects.clone()),
        )
    };
    let function = config.function.name.as_str();
    let alias = config.function.alias.as_str();
    let functions = Functions::builder()
        .tmp_root(scratch.path())
        .function(function, handlers())
        .build();
    let served = Served::default();
    let deploy = {
        let (functions, served, function, alias) = (
            functions.clone(),
            served.clone(),
            function.to_owned(),
            alias.to_owned(),
        );
        let version_2 = Mutex::new(Some(handlers()));
        move || {
            let handlers = version_2.lock().unwrap().take().expect("one deploy");
            let number = functions.publish(
                &function,
                Version {
                    number: 2,
                    handlers,
                    served: served.clone(),
                    deploy_after: None,
                },
            );
            functions.point_alias(&function, &alias, number);
        }
    };
    let one = functions.publish(
        function,
        Version {
            number: 1,
            handlers: handlers(),
            served: served.clone(),
            deploy_after: Some((3, Box::new(deploy))),
        },
    );
    functions.point_alias(function, alias, one);

    let spec = ExecutionSpec {
        region: config.region.to_string(),
        account: config.account.to_string(),
        state_machine: name.to_string(),
        name: "across-a-deploy".into(),
        role_arn: machine_config.role_arn.to_string(),
        input: serde_json::to_value(PipelineInput {
            date_range: sample.date_range(),
        })
        .unwrap(),
    };
    let out = Engine::new(functions)
        .objects(objects)
        .invocation_time(InvocationTime::Fixed(Duration::from_millis(50)))
        .execute(&machine, &spec)
        .await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    let counts = warehouse.counts().await.unwrap();
    assert_eq!(
        (counts.migrated_rows, counts.rejected_rows),
        sample.expected_split()
    );
    let served = served.lock().unwrap().clone();
    served
        .into_iter()
        .filter(|(_, action)| action == PROCESS_CHUNK)
        .map(|(version, _)| version)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_execution_started_before_a_deploy_finishes_every_chunk_on_its_own_version() {
    let served = chunks_served_across_a_deploy(|config, name| {
        render_release_definition(config, name, FunctionVersion(1)).unwrap()
    })
    .await;
    assert!(served.len() >= 10, "{served:?}");
    assert!(served.iter().all(|version| *version == 1), "{served:?}");
}

/// What releases prevent: the committed definition names the function's alias, so the chunks
/// after the deploy run the new code.
#[tokio::test(flavor = "multi_thread")]
async fn through_the_alias_the_chunks_after_a_deploy_would_run_the_new_version() {
    let served =
        chunks_served_across_a_deploy(|config, name| render_definition(config, name).unwrap())
            .await;
    assert_eq!(&served[..3], [1, 1, 1], "{served:?}");
    assert!(
        served[3..].iter().all(|version| *version == 2),
        "{served:?}"
    );
}

fn fresh_moto_with_roles() -> Moto {
    reset_moto();
    create_roles();
    Moto::connect()
}

/// `cm-etl ARGS --output json` through `proxy`, from `dir` (a workspace copy) or the repository.
fn cm_etl_json(proxy: &FaultProxy, dir: Option<&std::path::Path>, args: &[&str]) -> Value {
    let mut command = cm_etl();
    command
        .current_dir(dir.unwrap_or(&repo()))
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .args(args)
        .args(["--output", "json"]);
    run(&mut command).json()
}

fn cm_etl_error(proxy: &FaultProxy, args: &[&str]) -> String {
    let mut command = cm_etl();
    command
        .current_dir(repo())
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .args(args);
    let out = run(&mut command);
    assert_eq!(out.code, 2, "{}", out.stderr);
    out.stderr
}

/// A copy of the workspace whose Lambda logs a different line at cold start: a code change.
fn changed_workspace() -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    copy_workspace(copy.path());
    let main_rs = copy.path().join("lambda/src/main.rs");
    let source = std::fs::read_to_string(&main_rs).unwrap();
    assert!(source.contains("\"handlers ready\""));
    std::fs::write(
        &main_rs,
        source.replace("\"handlers ready\"", "\"handlers ready (release 2)\""),
    )
    .unwrap();
    copy
}

fn version_definition(moto: &Moto, version: u64) -> String {
    moto.block_on(
        moto.sfn
            .describe_state_machine()
            .state_machine_arn(format!("{STATE_MACHINE_ARN}:{version}"))
            .send(),
    )
    .unwrap()
    .definition()
    .to_owned()
}

fn routing(moto: &Moto) -> Vec<(String, i32)> {
    moto.block_on(
        moto.sfn
            .describe_state_machine_alias()
            .state_machine_alias_arn(format!("{STATE_MACHINE_ARN}:live"))
            .send(),
    )
    .unwrap()
    .routing_configuration()
    .iter()
    .map(|r| {
        let version = r.state_machine_version_arn().rsplit(':').next().unwrap();
        (version.to_owned(), r.weight())
    })
    .collect()
}

fn function_arn(version: &str) -> String {
    format!("\"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}:{version}\"")
}

#[test]
fn each_deploy_is_a_release_pinned_to_its_code_and_rollback_goes_back() {
    let _serial = serial();
    let moto = fresh_moto_with_roles();
    let proxy = FaultProxy::with_state_machine_versions(&moto_endpoint());

    let first = cm_etl_json(&proxy, None, &["deploy"]);
    assert_eq!(first["function_version"], "1");
    assert_eq!(
        first["state_machine_version_arn"],
        format!("{STATE_MACHINE_ARN}:1")
    );
    assert_eq!(first["alias_arn"], format!("{STATE_MACHINE_ARN}:live"));
    let v1 = version_definition(&moto, 1);
    assert!(v1.contains(&function_arn("1")), "{v1}");
    assert!(!v1.contains(&function_arn("live")), "{v1}");
    // The committed file still names the alias; the release differs from it in exactly that.
    let committed = std::fs::read_to_string(repo().join(cm_etl::synth::DEFINITION_PATH)).unwrap();
    assert_eq!(
        committed.replace(&function_arn("live"), &function_arn("1")),
        v1
    );
    assert_eq!(routing(&moto), [("1".to_owned(), 100)]);

    let copy = changed_workspace();
    let second = cm_etl_json(&proxy, Some(copy.path()), &["deploy"]);
    assert_eq!(second["function_version"], "2");
    assert_eq!(
        second["state_machine_version_arn"],
        format!("{STATE_MACHINE_ARN}:2")
    );
    assert!(version_definition(&moto, 2).contains(&function_arn("2")));
    // Release 1 is unchanged: an execution running on it keeps invoking function version 1.
    assert_eq!(version_definition(&moto, 1), v1);
    assert_eq!(routing(&moto), [("2".to_owned(), 100)]);
    assert_eq!(moto.alias_version(), "2");

    // Nothing changed: no version, no routing change.
    let again = cm_etl_json(&proxy, Some(copy.path()), &["deploy"]);
    assert_eq!(again["changes"], json!([]), "{again}");
    assert_eq!(
        again["state_machine_version_arn"],
        format!("{STATE_MACHINE_ARN}:2")
    );

    let releases = cm_etl_json(&proxy, None, &["releases"]);
    let listed: Vec<(u64, String, String)> = releases["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["version"].as_u64().unwrap(),
                r["function_version"].as_str().unwrap().to_owned(),
                r["definition_sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        listed
            .iter()
            .map(|(v, f, _)| (*v, f.as_str()))
            .collect::<Vec<_>>(),
        [(2, "2"), (1, "1")]
    );
    assert_eq!(listed[1].2.len(), 64);
    assert_ne!(listed[0].2, listed[1].2);
    assert!(releases["releases"][0]["commit"].as_str().unwrap().len() >= 7);

    // Back to release 1: the state machine's alias and the function's.
    let back = cm_etl_json(&proxy, None, &["rollback"]);
    assert_eq!(back["to"]["stable"], 1, "{back}");
    assert_eq!(routing(&moto), [("1".to_owned(), 100)]);
    assert_eq!(moto.alias_version(), "1");
    // Forward again, by number.
    cm_etl_json(&proxy, None, &["rollback", "--to", "2"]);
    assert_eq!(routing(&moto), [("2".to_owned(), 100)]);
    assert_eq!(moto.alias_version(), "2");
    let err = cm_etl_error(&proxy, &["rollback", "--to", "9"]);
    assert!(err.contains("has no version 9"), "{err}");
    // From release 1 there is nothing older.
    cm_etl_json(&proxy, None, &["rollback", "--to", "1"]);
    let err = cm_etl_error(&proxy, &["rollback"]);
    assert!(err.contains("oldest release"), "{err}");

    // The first checkout's code deployed again over release 2: a new function version and a new
    // release.
    cm_etl_json(&proxy, None, &["rollback", "--to", "2"]);
    let redeploy = cm_etl_json(&proxy, None, &["deploy"]);
    assert_eq!(
        redeploy["state_machine_version_arn"],
        format!("{STATE_MACHINE_ARN}:3")
    );
    assert!(version_definition(&moto, 3).contains(&function_arn("3")));
}

#[test]
fn a_canary_takes_its_share_until_promoted() {
    let _serial = serial();
    let moto = fresh_moto_with_roles();
    let proxy = FaultProxy::with_state_machine_versions(&moto_endpoint());

    let err = cm_etl_error(&proxy, &["deploy", "--canary", "10"]);
    assert!(err.contains("deploy without --canary first"), "{err}");
    cm_etl_json(&proxy, None, &["deploy"]);
    let err = cm_etl_error(&proxy, &["deploy", "--canary", "10"]);
    assert!(err.contains("nothing to canary"), "{err}");
    let err = cm_etl_error(&proxy, &["deploy", "--promote"]);
    assert!(err.contains("no canary to promote"), "{err}");
    let err = cm_etl_error(&proxy, &["deploy", "--canary", "100"]);
    assert!(err.contains("1 to 99"), "{err}");

    let copy = changed_workspace();
    let canary = cm_etl_json(&proxy, Some(copy.path()), &["deploy", "--canary", "10"]);
    assert_eq!(
        canary["routing"],
        json!({"stable": 1, "canary": [2, 10]}),
        "{canary}"
    );
    assert_eq!(routing(&moto), [("1".to_owned(), 90), ("2".to_owned(), 10)]);
    let dry = cm_etl_json(&proxy, None, &["deploy", "--promote", "--dry-run"]);
    assert_eq!(dry["to"], json!({"stable": 2, "canary": null}));
    assert_eq!(routing(&moto), [("1".to_owned(), 90), ("2".to_owned(), 10)]);
    cm_etl_json(&proxy, None, &["deploy", "--promote"]);
    assert_eq!(routing(&moto), [("2".to_owned(), 100)]);
    assert_eq!(moto.alias_version(), "2");
}

#[test]
fn old_versions_are_pruned_but_never_a_routed_or_running_one_and_running_executions_are_named() {
    let _serial = serial();
    fresh_moto_with_roles();
    let running_on = Arc::new(Mutex::new(None::<u64>));
    let proxy =
        FaultProxy::with_state_machine_versions_and_running(&moto_endpoint(), running_on.clone());
    let config = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("deploy.toml")).unwrap();
    assert!(text.contains("keep = 20"));
    let path = config.path().join("deploy.toml");
    std::fs::write(&path, text.replace("keep = 20", "keep = 1")).unwrap();
    let path = path.to_str().unwrap();

    cm_etl_json(&proxy, None, &["deploy", "--config", path]);
    // An execution is running on release 1 (AWS's ListExecutions names its version).
    *running_on.lock().unwrap() = Some(1);
    let copy = changed_workspace();
    let second = cm_etl_json(&proxy, Some(copy.path()), &["deploy", "--config", path]);
    assert_eq!(
        second["running_executions"],
        json!([{"name": "migration-2024", "version": 1}])
    );
    assert_eq!(second["pruned_versions"], json!([]), "{second}");
    // It finished: the next release prunes 1 and 2 (keep = 1; 3 is routed).
    *running_on.lock().unwrap() = None;
    let third = cm_etl_json(&proxy, None, &["deploy", "--config", path]);
    assert_eq!(third["pruned_versions"], json!([2, 1]), "{third}");
    let deleted: Vec<String> = proxy
        .requests()
        .iter()
        .filter(|r| r.json_operation() == Some("DeleteStateMachineVersion"))
        .map(|r| {
            r.json()["stateMachineVersionArn"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        deleted,
        [
            format!("{STATE_MACHINE_ARN}:2"),
            format!("{STATE_MACHINE_ARN}:1")
        ]
    );
    let releases = cm_etl_json(&proxy, None, &["releases", "--config", path]);
    assert_eq!(releases["releases"].as_array().unwrap().len(), 1);
}

#[test]
fn start_starts_on_the_alias() {
    let _serial = serial();
    fresh_moto_with_roles();
    let proxy = FaultProxy::with_state_machine_versions(&moto_endpoint());
    cm_etl_json(&proxy, None, &["deploy"]);
    queue_lambda_results(&[json!({"error": "not needed"})]);
    let mut command = cm_etl();
    command
        .current_dir(repo())
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .args(["start", "--name", "on-the-alias", "--input"])
        .arg(r#"{"date_range":{"from":"2024-01-01","to":"2024-01-31"}}"#);
    let out = run(&mut command);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let started: Vec<Value> = proxy
        .requests()
        .iter()
        .filter(|r| r.json_operation() == Some("StartExecution"))
        .map(|r| r.json())
        .collect();
    assert_eq!(started.len(), 1);
    assert_eq!(
        started[0]["stateMachineArn"],
        format!("{STATE_MACHINE_ARN}:live")
    );
}
