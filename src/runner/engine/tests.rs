//! The interpreter against small fake functions: data flow, Retry/Catch on virtual time, limits,
//! Map concurrency and environments, and the flow states.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use etl_lambda::ObjectStore;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::*;
use crate::runner::function::{ExecutionEnvironment, LambdaError, LambdaFunction, SyncFunction};
use asl::ErrorName;

const SECOND: Duration = Duration::from_secs(1);

fn spec(input: Value) -> ExecutionSpec {
    ExecutionSpec {
        region: "us-east-1".into(),
        account: "123456789012".into(),
        state_machine: "sm".into(),
        name: "exec-1".into(),
        role_arn: "arn:aws:iam::123456789012:role/r".into(),
        input,
    }
}

async fn run(definition: Value, functions: Functions, input: Value) -> ExecutionOutcome {
    let machine = crate::runner::load::from_json(&definition.to_string()).unwrap();
    Engine::new(functions)
        .invocation_time(InvocationTime::Fixed(SECOND))
        .execute(&machine, &spec(input))
        .await
}

fn echo() -> Functions {
    Functions::builder()
        .function(
            "echo",
            SyncFunction(|payload, _: &mut ExecutionEnvironment| Ok(payload)),
        )
        .build()
}

/// Fails with `error` the first `failures` times, then returns `{"ok": true}`.
fn flaky(error: &'static str, failures: u32) -> (Functions, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let functions = Functions::builder()
        .function(
            "flaky",
            SyncFunction(move |_, _: &mut ExecutionEnvironment| {
                if counter.fetch_add(1, Ordering::SeqCst) < failures {
                    Err(LambdaError::new(error, "try again"))
                } else {
                    Ok(json!({"ok": true}))
                }
            }),
        )
        .build();
    (functions, calls)
}

fn invoke_state(function: &str, extra: Value) -> Value {
    let mut state = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": format!("arn:aws:lambda:us-east-1:123456789012:function:{function}:live"), "Payload.$": "$"},
        "End": true
    });
    state
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    state
}

#[tokio::test]
async fn data_flows_input_path_parameters_selector_result_path_output_path() {
    let definition = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "InputPath": "$.in",
        "Parameters": {"FunctionName": "echo", "Payload": {"v.$": "$.v", "exec.$": "$$.Execution.Name", "state.$": "$$.State.Name"}},
        "ResultSelector": {"echoed.$": "$.Payload", "status.$": "$.StatusCode"},
        "ResultPath": "$.in.result",
        "OutputPath": "$.in",
        "End": true}}});
    let out = run(definition, echo(), json!({"in": {"v": 1}, "other": 2})).await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    assert_eq!(
        out.output.unwrap(),
        json!({"v": 1, "result": {"echoed": {"v": 1, "exec": "exec-1", "state": "T"}, "status": 200}})
    );
    assert_eq!(out.invocations, 1);
}

#[tokio::test]
async fn result_path_null_keeps_the_input_and_a_plain_arn_has_no_envelope() {
    let definition = json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo", "Parameters": {"x": 1}, "ResultPath": "$.r", "Next": "B"},
        "B": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo", "ResultPath": null, "End": true}}});
    let out = run(definition, echo(), json!({"k": "v"})).await;
    assert_eq!(out.output.unwrap(), json!({"k": "v", "r": {"x": 1}}));
}

#[tokio::test]
async fn retries_back_off_on_the_virtual_clock_and_then_succeed() {
    let (functions, calls) = flaky("Task02.Transient", 3);
    let retry = json!({"Retry": [{"ErrorEquals": ["Task02.Transient"], "IntervalSeconds": 2, "BackoffRate": 2.0, "MaxAttempts": 3, "MaxDelaySeconds": 5}]});
    let out = run(
        json!({"StartAt": "T", "States": {"T": invoke_state("flaky", retry)}}),
        functions,
        json!({}),
    )
    .await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!((out.task_attempts, out.invocations), (4, 4));
    assert_eq!(out.handled_errors.len(), 3);
    assert!(
        out.handled_errors
            .iter()
            .all(|h| h.handled_by == "retried" && h.error == "Task02.Transient")
    );
    // Delays 2 s, 4 s, then 8 s capped at 5 s; plus four invocations of 1 s each.
    assert_eq!(out.virtual_elapsed, Duration::from_secs(2 + 4 + 5 + 4));
    // Entered, 4 x (scheduled, started, done), exited, execution started and succeeded.
    assert_eq!(out.history_events, 1 + 12 + 1 + 2);
}

#[tokio::test]
async fn full_jitter_never_waits_longer_and_is_reproducible() {
    let retry = json!({"Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 10, "MaxAttempts": 2, "JitterStrategy": "FULL"}]});
    let definition = json!({"StartAt": "T", "States": {"T": invoke_state("flaky", retry)}});
    let (functions, _) = flaky("Boom", 2);
    let first = run(definition.clone(), functions, json!({})).await;
    let (functions, _) = flaky("Boom", 2);
    let second = run(definition, functions, json!({})).await;
    let waited = first.virtual_elapsed - 3 * SECOND;
    assert!(waited < Duration::from_secs(10 + 20), "{waited:?}");
    assert_eq!(first.virtual_elapsed, second.virtual_elapsed);
}

#[tokio::test]
async fn an_exhausted_retrier_hands_the_error_to_the_catcher() {
    let (functions, calls) = flaky("Task02.Transient", 10);
    let state = invoke_state(
        "flaky",
        json!({"Retry": [{"ErrorEquals": ["Task02.Transient"], "MaxAttempts": 1}],
               "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Failed"}]}),
    );
    let mut state = state;
    state.as_object_mut().unwrap().remove("End");
    state["Next"] = json!("Done");
    let definition = json!({"StartAt": "T", "States": {
        "T": state,
        "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Pass", "End": true}}});
    let out = run(definition, functions, json!({"keep": 1})).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let output = out.output.unwrap();
    assert_eq!(output["keep"], json!(1));
    assert_eq!(output["error"]["Error"], json!("Task02.Transient"));
    let cause: Value = serde_json::from_str(output["error"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorMessage"], json!("try again"));
}

#[tokio::test]
async fn a_task_result_over_the_quota_fails_the_task_and_retry_and_catch_handle_it() {
    // As AWS recorded it: the TaskFailed error is States.DataLimitExceeded, which a Catch of
    // States.ALL takes (the documentation says otherwise; the recordings win).
    let functions = Functions::builder()
        .function(
            "big",
            SyncFunction(|_, _: &mut ExecutionEnvironment| Ok(json!("x".repeat(PAYLOAD_BYTES)))),
        )
        .build();
    let mut state = invoke_state(
        "big",
        json!({"Retry": [{"ErrorEquals": ["States.DataLimitExceeded"], "MaxAttempts": 1}],
               "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]}),
    );
    state.as_object_mut().unwrap().remove("End");
    state["Next"] = json!("Caught");
    let definition = json!({"StartAt": "T", "States": {"T": state, "Caught": {"Type": "Succeed"}}});
    let out = run(definition, functions, json!({})).await;
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    let output = out.output.unwrap();
    assert_eq!(output["Error"], json!("States.DataLimitExceeded"));
    assert_eq!(
        output["Cause"],
        json!(
            "The state/task 'lambda' returned a result with a size exceeding the maximum number of bytes service limit."
        )
    );
    assert_eq!(out.invocations, 2, "retried once");
    assert!(out.largest_result_bytes["T"] > PAYLOAD_BYTES);
}

#[tokio::test]
async fn a_state_output_over_the_quota_is_terminal_even_under_a_catch() {
    let big = json!({"Type": "Pass", "Result": "x".repeat(PAYLOAD_BYTES), "End": true});
    let definition = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [{"StartAt": "Big", "States": {"Big": big}}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
        "Caught": {"Type": "Succeed"}}});
    let out = run(definition, echo(), json!({})).await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(out.error.unwrap().error, "States.DataLimitExceeded");
}

#[tokio::test]
async fn a_lambda_response_over_six_megabytes_is_a_catchable_function_error() {
    let functions = Functions::builder()
        .function(
            "huge",
            SyncFunction(|_, _: &mut ExecutionEnvironment| Ok(json!("x".repeat(7_000_000)))),
        )
        .build();
    let mut state = invoke_state(
        "huge",
        json!({"Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}]}),
    );
    state.as_object_mut().unwrap().remove("End");
    state["Next"] = json!("Caught");
    let definition =
        json!({"StartAt": "T", "States": {"T": state, "Caught": {"Type": "Pass", "End": true}}});
    let out = run(definition, functions, json!({})).await;
    assert_eq!(out.status, ExecutionStatus::Succeeded);
    assert_eq!(
        out.output.unwrap()["Error"],
        json!(crate::runner::function::RESPONSE_TOO_LARGE)
    );
}

fn map_of_pass(items: usize) -> (Value, Value) {
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 40,
        "ItemSelector": {"i.$": "$$.Map.Item.Index"},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "ResultPath": null, "End": true}}});
    (definition, json!({"items": vec![0; items]}))
}

#[tokio::test]
async fn history_past_25000_events_fails_the_execution() {
    // 4 events per iteration (iteration started/succeeded, Pass entered/exited).
    let (definition, input) = map_of_pass(6_000);
    let out = run(definition, echo(), input).await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    assert_eq!(out.history_events, 2 + 4 + 6_000 * 4);
    let (definition, input) = map_of_pass(6_300);
    let out = run(definition, echo(), input).await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    let error = out.error.unwrap();
    assert_eq!(error.error, "States.Runtime");
    assert!(error.cause.contains("25000"), "{}", error.cause);
}

/// Counts how many invocations are in flight at once.
struct Gauge {
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl LambdaFunction for Arc<Gauge> {
    fn invoke<'a>(
        &'a self,
        payload: Value,
        env: &'a mut ExecutionEnvironment,
    ) -> BoxFuture<'a, Result<Value, LambdaError>> {
        Box::pin(async move {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            self.running.fetch_sub(1, Ordering::SeqCst);
            Ok(json!({"item": payload, "env": env.id()}))
        })
    }
}

#[tokio::test]
async fn map_runs_iterations_concurrently_up_to_max_concurrency() {
    let gauge = Arc::new(Gauge {
        running: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
    });
    let functions = Functions::builder()
        .function("gauge", gauge.clone())
        .build();
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3,
        "ItemProcessor": {"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:gauge", "End": true}}},
        "End": true}}});
    let out = run(
        definition,
        functions,
        json!({"items": [10, 11, 12, 13, 14, 15, 16]}),
    )
    .await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 3);
    let output = out.output.unwrap();
    let items: Vec<Value> = output
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["item"].clone())
        .collect();
    assert_eq!(
        items,
        (10..17).map(Value::from).collect::<Vec<_>>(),
        "results keep item order"
    );
    // 7 iterations of 1 s on 3 slots: 3 rounds.
    assert_eq!(out.virtual_elapsed, 3 * SECOND);
    // The first round runs at once, so it needs 3 environments; later rounds reuse them.
    assert_eq!(out.environments, 3);
}

#[tokio::test]
async fn choice_wait_parallel_and_fail_behave_as_in_aws() {
    let definition = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.n", "NumericGreaterThan": 5}, {"Variable": "$.s", "StringMatches": "ab*"}], "Next": "W"},
            {"Variable": "$.missing", "IsPresent": false, "Next": "F"}], "Default": "F"},
        "W": {"Type": "Wait", "SecondsPath": "$.n", "Next": "P"},
        "P": {"Type": "Parallel", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 30, "End": true}}}], "ResultPath": "$.branches", "End": true},
        "F": {"Type": "Fail", "Error": "Custom.Error", "Cause": "no match"}}});
    let out = run(definition.clone(), echo(), json!({"n": 7, "s": "abc"})).await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    assert_eq!(
        out.output.unwrap()["branches"],
        json!([1, {"n": 7, "s": "abc"}])
    );
    assert_eq!(out.virtual_elapsed, Duration::from_secs(7 + 30));
    let out = run(definition, echo(), json!({"n": 1, "s": "abc"})).await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(
        out.error.unwrap(),
        StateError::new("Custom.Error", "no match")
    );
}

/// A machine of one Wait state on `$.at`.
fn wait_on(field: &str) -> Value {
    json!({"StartAt": "W", "States": {"W": {"Type": "Wait", field: "$.at", "End": true}}})
}

#[tokio::test]
async fn a_wait_timestamp_needs_an_uppercase_t_and_a_zone() {
    let in_an_hour = Utc::now() + chrono::Duration::hours(1);
    let base = in_an_hour.format("%Y-%m-%dT%H:%M:%S").to_string();
    for (timestamp, waits) in [
        (format!("{base}Z"), true),
        (format!("{base}.000001Z"), true),
        (format!("{base}.5+00:00"), true),
        (base.clone(), false),
        (format!("{base}.000000"), false),
        (format!("{base}z"), false),
        (base.replace('T', " ") + "Z", false),
    ] {
        let out = run(wait_on("TimestampPath"), echo(), json!({"at": timestamp})).await;
        if waits {
            assert_eq!(out.status, ExecutionStatus::Succeeded, "{timestamp}");
            assert!(
                out.virtual_elapsed > Duration::from_secs(3500),
                "{timestamp}"
            );
        } else {
            let error = out.error.expect(&timestamp);
            assert_eq!(error.error, "States.Runtime");
            assert!(
                error.cause.contains("does not reference a valid ISO-8601"),
                "{}",
                error.cause
            );
        }
    }
}

#[tokio::test]
async fn a_wait_past_2_pow_31_seconds_is_too_long_and_seconds_path_needs_a_long() {
    let far = |days| (Utc::now() + chrono::Duration::days(days)).format("%Y-%m-%dT%H:%M:%SZ");
    let out = run(
        wait_on("TimestampPath"),
        echo(),
        json!({"at": far(24_854).to_string()}),
    )
    .await;
    // AWS starts the Wait; the execution times out in it, at its maximum time of one year.
    assert_eq!(out.status, ExecutionStatus::TimedOut, "{:?}", out.error);
    assert_eq!(out.error.unwrap().error, "States.Timeout");
    let out = run(
        wait_on("TimestampPath"),
        echo(),
        json!({"at": far(24_856).to_string()}),
    )
    .await;
    assert_eq!(
        out.error.unwrap(),
        StateError::runtime_in("W", 2, "Wait state delay is too long.")
    );
    for (seconds, cause) in [
        (json!(1.5), "cannot be parsed as a long value: $.at == 1.5"),
        (json!(-1), "references a negative value: $.at == -1"),
        (json!(3_000_000_000u64), "Wait state delay is too long."),
    ] {
        let out = run(wait_on("SecondsPath"), echo(), json!({"at": seconds})).await;
        let error = out.error.unwrap();
        assert_eq!(error.error, "States.Runtime");
        assert!(error.cause.ends_with(cause), "{}", error.cause);
    }
}

#[tokio::test]
async fn fail_paths_may_be_intrinsic_functions_or_context_paths() {
    let definition = json!({"StartAt": "F", "States": {"F": {"Type": "Fail",
        "ErrorPath": "States.Format('{}.Failed', $.kind)", "CausePath": "$$.State.Name"}}});
    let out = run(definition, echo(), json!({"kind": "Order"})).await;
    assert_eq!(out.error.unwrap(), StateError::new("Order.Failed", "F"));
    let missing = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.nope"}}});
    let out = run(missing, echo(), json!({})).await;
    assert_eq!(out.error.unwrap().error, "States.Runtime");
    let unreadable =
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "States.Format("}}});
    assert!(crate::runner::load::from_json(&unreadable.to_string()).is_err());
}

#[tokio::test]
async fn only_states_that_can_retry_have_a_retry_count_in_the_context_object() {
    let definition = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Parameters": {"state.$": "$$.State"}, "ResultPath": "$.pass", "Next": "T"},
        "T": invoke_state("echo", json!({"Parameters": {
            "FunctionName": "echo", "Payload": {"state.$": "$$.State"}},
            "ResultSelector": {"state.$": "$.Payload.state"}, "ResultPath": "$.task"}))}});
    let out = run(definition, echo(), json!({})).await;
    let output = out.output.unwrap();
    let keys = |state: &Value| {
        let mut keys: Vec<String> = state.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&output["pass"]["state"]), ["EnteredTime", "Name"]);
    assert_eq!(
        keys(&output["task"]["state"]),
        ["EnteredTime", "Name", "RetryCount"]
    );
}

#[tokio::test]
async fn intrinsic_random_values_are_distinct_within_a_run_and_repeat_across_runs() {
    let definition = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemProcessor": {"StartAt": "U", "States": {"U": {"Type": "Pass", "End": true,
            "Parameters": {"id.$": "States.UUID()", "n.$": "States.MathRandom(0, 1000000)"}}}}}}});
    let input = json!([1, 2, 3, 4]);
    let first = run(definition.clone(), echo(), input.clone())
        .await
        .output
        .unwrap();
    let again = run(definition, echo(), input).await.output.unwrap();
    assert_eq!(first, again, "the same execution draws the same values");
    let ids: std::collections::HashSet<&Value> =
        first.as_array().unwrap().iter().map(|o| &o["id"]).collect();
    assert_eq!(ids.len(), 4, "{first}");
}

#[tokio::test]
async fn an_intrinsic_function_that_fails_is_a_runtime_error() {
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
        "Parameters": {"x.$": "States.ArrayGetItem($.items, 5)"}}}});
    let out = run(definition, echo(), json!({"items": [1]})).await;
    assert_eq!(out.error.unwrap().error, "States.Runtime");
}

#[tokio::test]
async fn a_missing_input_path_is_a_runtime_error_that_catch_cannot_handle() {
    let definition = json!({"StartAt": "T", "States": {
        "T": {"Type": "Pass", "InputPath": "$.nope", "Next": "D"},
        "D": {"Type": "Succeed"}}});
    let out = run(definition, echo(), json!({})).await;
    assert_eq!(out.error.unwrap().error, "States.Runtime");
}

#[tokio::test]
async fn a_map_catches_an_iteration_failure() {
    let definition = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Item.Bad", "Cause": "bad"}}},
            "Catch": [{"ErrorEquals": ["Item.Bad"], "ResultPath": "$.err", "Next": "D"}], "Next": "D"},
        "D": {"Type": "Succeed"}}});
    let out = run(definition, echo(), json!({"items": [1]})).await;
    assert_eq!(
        out.output.unwrap()["err"],
        json!({"Error": "Item.Bad", "Cause": "bad"})
    );
}

/// A local object store in a temporary directory with bucket `items` holding `objects`.
async fn objects_with(objects: &[(&str, &str)]) -> (tempfile::TempDir, ObjectStore) {
    let root = tempfile::tempdir().unwrap();
    let store = ObjectStore::local(root.path());
    store.create_local_bucket("items").await.unwrap();
    for (key, body) in objects {
        store
            .put("items", key, body.as_bytes().to_vec())
            .await
            .unwrap();
    }
    (root, store)
}

async fn run_on(
    definition: Value,
    functions: Functions,
    objects: &ObjectStore,
    input: Value,
) -> ExecutionOutcome {
    let machine = crate::runner::load::from_json(&definition.to_string()).unwrap();
    Engine::new(functions)
        .invocation_time(InvocationTime::Fixed(SECOND))
        .objects(objects.clone())
        .execute(&machine, &spec(input))
        .await
}

/// A Distributed Map state (`M`) with `fields`, whose processor is `processor`.
fn distributed(fields: Value, processor: Value) -> Value {
    let mut map = json!({
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": processor}},
        "End": true});
    map.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    json!({"StartAt": "M", "States": {"M": map}})
}

fn pass_end() -> Value {
    json!({"Type": "Pass", "End": true})
}

fn reader(input_type: &str, extra: Value) -> Value {
    let mut config = json!({"InputType": input_type});
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": config,
           "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"}})
}

#[tokio::test]
async fn an_item_reader_reads_json_jsonl_and_csv_and_ignores_items_path() {
    let (_root, objects) = objects_with(&[
        ("a.json", r#"[{"n": 1}, {"n": 2}]"#),
        ("a.jsonl", "{\"n\": 1}\n{\"n\": 2}\n"),
        ("a.csv", "n,m\n1,x\n2\n"),
    ])
    .await;
    for (key, input_type, extra, expected) in [
        ("a.json", "JSON", json!({}), json!([{"n": 1}, {"n": 2}])),
        ("a.jsonl", "JSONL", json!({}), json!([{"n": 1}, {"n": 2}])),
        (
            "a.csv",
            "CSV",
            json!({"CSVHeaderLocation": "FIRST_ROW"}),
            json!([{"n": "1", "m": "x"}, {"n": "2", "m": ""}]),
        ),
    ] {
        let definition = distributed(
            json!({"ItemReader": reader(input_type, extra), "ItemsPath": "$.not_here"}),
            pass_end(),
        );
        let input = json!({"bucket": "items", "key": key, "from_input": [9, 9, 9]});
        let out = run_on(definition, echo(), &objects, input).await;
        assert_eq!(
            out.status,
            ExecutionStatus::Succeeded,
            "{key}: {:?}",
            out.error
        );
        assert_eq!(out.output.unwrap(), expected, "{key}");
    }
}

#[tokio::test]
async fn list_objects_v2_gives_one_item_per_object_under_the_prefix() {
    let (_root, objects) = objects_with(&[("in/b", "2"), ("in/a", "1"), ("out/c", "3")]).await;
    let definition = distributed(
        json!({"ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                              "Parameters": {"Bucket": "items", "Prefix": "in/"}},
               "ItemSelector": {"key.$": "$$.Map.Item.Value.Key", "size.$": "$$.Map.Item.Value.Size"}}),
        pass_end(),
    );
    let out = run_on(definition, echo(), &objects, json!({})).await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    assert_eq!(
        out.output.unwrap(),
        json!([{"key": "in/a", "size": 1}, {"key": "in/b", "size": 1}])
    );
}

#[tokio::test]
async fn max_items_path_limits_the_items_and_a_bad_value_fails_as_aws_fails() {
    let (_root, objects) = objects_with(&[("n.json", "[1, 2, 3, 4]")]).await;
    let definition = distributed(
        json!({"ItemReader": reader("JSON", json!({"MaxItemsPath": "$.max"}))}),
        pass_end(),
    );
    let run = |max: Value| {
        let (definition, objects) = (definition.clone(), objects.clone());
        async move {
            let input = json!({"bucket": "items", "key": "n.json", "max": max});
            run_on(definition, echo(), &objects, input).await
        }
    };
    assert_eq!(run(json!(2)).await.output.unwrap(), json!([1, 2]));
    // AWS reads a numeric string too (a variable assigned "2" limited a recorded run).
    assert_eq!(run(json!("2")).await.output.unwrap(), json!([1, 2]));
    assert_eq!(run(json!(0)).await.output.unwrap(), json!([1, 2, 3, 4]));
    let negative = run(json!(-1)).await.error.unwrap();
    assert_eq!(
        negative,
        StateError::new("States.ItemReaderFailed", "field MaxItems must be positive")
    );
    for bad in [json!(1.5), json!("1.5"), json!("two")] {
        let error = run(bad.clone()).await.error.unwrap();
        assert_eq!(error.error, "States.Runtime", "{bad}");
        assert!(
            error.cause.starts_with(
                "An error occurred while executing the state 'M' (entered at the event id #2). The MaxItemsPath field"
            ) && error.cause.contains("not a valid integer"),
            "{}",
            error.cause
        );
    }
}

#[tokio::test]
async fn an_item_reader_on_an_object_that_is_not_an_array_fails_the_map() {
    let (_root, objects) = objects_with(&[("o.json", r#"{"Hello": "world"}"#)]).await;
    let definition = distributed(json!({"ItemReader": reader("JSON", json!({}))}), pass_end());
    let out = run_on(
        definition,
        echo(),
        &objects,
        json!({"bucket": "items", "key": "o.json"}),
    )
    .await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(
        out.error.unwrap(),
        StateError::new(
            "States.ItemReaderFailed",
            "Attempting to map over non-iterable node."
        )
    );
    assert!(out.map_runs.is_empty(), "no Map Run started");
}

#[tokio::test]
async fn an_item_batcher_gives_each_child_a_batch_with_the_batch_input() {
    let (_root, objects) = objects_with(&[]).await;
    let definition = distributed(
        json!({"ItemsPath": "$.items",
               "ItemSelector": {"i.$": "$$.Map.Item.Index"},
               "ItemBatcher": {"MaxItemsPerBatchPath": "$.per_batch",
                               "BatchInput": {"run.$": "$.run"}}}),
        pass_end(),
    );
    let input = json!({"items": ["a", "b", "c", "d", "e"], "per_batch": 2, "run": "r1"});
    let out = run_on(definition.clone(), echo(), &objects, input).await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    assert_eq!(
        out.output.unwrap(),
        json!([
            {"Items": [{"i": 0}, {"i": 1}], "BatchInput": {"run": "r1"}},
            {"Items": [{"i": 2}, {"i": 3}], "BatchInput": {"run": "r1"}},
            {"Items": [{"i": 4}], "BatchInput": {"run": "r1"}},
        ])
    );
    let run = &out.map_runs[0];
    assert_eq!((run.items_total, run.succeeded), (5, 5));
    let zero = json!({"items": [1], "per_batch": 0, "run": "r1"});
    let error = run_on(definition, echo(), &objects, zero)
        .await
        .error
        .unwrap();
    assert_eq!(error.error, "States.Runtime");
    assert!(
        error.cause.contains("MaxItemsPerBatchPath"),
        "{}",
        error.cause
    );
}

/// A processor that fails on the items listed in the input's `fail` field.
fn failing_on_listed() -> Value {
    json!({"Type": "Choice",
           "Choices": [{"Variable": "$.fail", "BooleanEquals": true, "Next": "Boom"}],
           "Default": "Fine"})
}

fn map_failing(items: usize, failing: &[usize], tolerance: Value) -> (Value, Value) {
    let mut map = distributed(
        json!({"ItemsPath": "$.items", "MaxConcurrency": 1}),
        failing_on_listed(),
    );
    let processor = &mut map["States"]["M"]["ItemProcessor"]["States"];
    processor["Boom"] = json!({"Type": "Fail", "Error": "Item.Bad", "Cause": "listed"});
    processor["Fine"] = json!({"Type": "Succeed"});
    map["States"]["M"]
        .as_object_mut()
        .unwrap()
        .extend(tolerance.as_object().unwrap().clone());
    let items: Vec<Value> = (0..items)
        .map(|i| json!({"fail": failing.contains(&i)}))
        .collect();
    (map, json!({"items": items}))
}

#[tokio::test]
async fn a_failed_child_fails_the_map_run_with_the_threshold_error_not_its_own() {
    let (_root, objects) = objects_with(&[]).await;
    let (definition, input) = map_failing(10, &[1, 4], json!({}));
    let out = run_on(definition, echo(), &objects, input).await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(
        out.error.unwrap(),
        StateError::new(
            "States.ExceedToleratedFailureThreshold",
            "The specified tolerated failure threshold was exceeded"
        )
    );
    let run = &out.map_runs[0];
    // One child at a time: the first failure (item 1) stops the Map Run; 8 never start.
    assert_eq!((run.succeeded, run.failed, run.items_total), (1, 1, 10));
    assert_eq!(
        run.first_failure,
        Some(StateError::new("Item.Bad", "listed"))
    );
}

#[tokio::test]
async fn a_failed_map_run_still_writes_the_results_of_the_children_that_ran() {
    let (root, objects) = objects_with(&[]).await;
    let writer = json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                                         "Parameters": {"Bucket": "items", "Prefix": "out"}}});
    let (definition, input) = map_failing(10, &[1], writer);
    let out = run_on(definition, echo(), &objects, input).await;
    assert_eq!(
        out.error.unwrap().error,
        "States.ExceedToleratedFailureThreshold"
    );
    let run = &out.map_runs[0];
    assert_eq!(run.results_written, 2, "item 0 succeeded, item 1 failed");
    let run_id = run.map_run_arn.rsplit(':').next().unwrap();
    let folder = root.path().join("items/out").join(run_id);
    let failed: Value =
        serde_json::from_slice(&std::fs::read(folder.join("FAILED_0.json")).unwrap()).unwrap();
    assert_eq!(failed[0]["Error"], json!("Item.Bad"));
    assert!(folder.join("manifest.json").exists());
}

#[tokio::test]
async fn tolerated_failure_count_and_percentage_let_the_map_succeed_up_to_the_threshold() {
    let (_root, objects) = objects_with(&[]).await;
    for (tolerance, succeeds) in [
        (json!({"ToleratedFailureCount": 2}), true),
        (json!({"ToleratedFailureCount": 1}), false),
        (json!({"ToleratedFailurePercentage": 20}), true),
        (json!({"ToleratedFailurePercentage": 19.9}), false),
        (json!({"ToleratedFailureCountPath": "$.tolerated"}), true),
    ] {
        let (definition, mut input) = map_failing(10, &[3, 7], tolerance.clone());
        input["tolerated"] = json!(2);
        let out = run_on(definition, echo(), &objects, input).await;
        let run = &out.map_runs[0];
        if succeeds {
            assert_eq!(out.status, ExecutionStatus::Succeeded, "{tolerance}");
            assert_eq!((run.succeeded, run.failed), (8, 2), "{tolerance}");
        } else {
            assert_eq!(
                out.error.unwrap().error,
                "States.ExceedToleratedFailureThreshold",
                "{tolerance}"
            );
            assert_eq!(run.failed, 2, "{tolerance}");
        }
    }
}

#[tokio::test]
async fn a_path_setting_that_selects_no_number_fails_with_states_runtime() {
    let (_root, objects) = objects_with(&[]).await;
    for (field, value) in [
        ("ToleratedFailureCountPath", json!("two")),
        ("ToleratedFailurePercentagePath", json!(150)),
        ("MaxConcurrencyPath", json!(-3)),
        ("MaxConcurrencyPath", Value::Null),
    ] {
        let (definition, mut input) = map_failing(2, &[], json!({field: "$.setting"}));
        let definition = {
            let mut d = definition;
            d["States"]["M"]
                .as_object_mut()
                .unwrap()
                .remove("MaxConcurrency");
            d
        };
        input["setting"] = value.clone();
        let error = run_on(definition, echo(), &objects, input)
            .await
            .error
            .unwrap();
        assert_eq!(error.error, "States.Runtime", "{field} {value}");
        assert!(error.cause.contains(field), "{field}: {}", error.cause);
    }
}

/// The runner's own parser used to drop MaxConcurrencyPath on an inline Map, so `"NoNumber"` ran;
/// AWS fails the execution with States.Runtime. A Task's TimeoutSecondsPath is read the same way.
#[tokio::test]
async fn an_inline_maps_max_concurrency_path_and_a_tasks_timeout_path_must_select_numbers() {
    let map = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
        "MaxConcurrencyPath": "$.limit", "End": true,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
    let out = run(
        map.clone(),
        echo(),
        json!({"items": [1, 2], "limit": "NoNumber"}),
    )
    .await;
    let error = out.error.unwrap();
    assert_eq!(error.error, "States.Runtime");
    assert!(
        error.cause.contains("MaxConcurrencyPath"),
        "{}",
        error.cause
    );
    let out = run(map, echo(), json!({"items": [1, 2], "limit": 1})).await;
    assert_eq!(out.output, Some(json!([1, 2])));

    let mut task = invoke_state("echo", json!({}));
    task["TimeoutSecondsPath"] = json!("$.timeout");
    let definition = json!({"StartAt": "T", "States": {"T": task}});
    let out = run(definition.clone(), echo(), json!({"timeout": "soon"})).await;
    assert_eq!(out.error.unwrap().error, "States.Runtime");
    for timeout in [json!(60), json!("60")] {
        let out = run(definition.clone(), echo(), json!({"timeout": timeout})).await;
        assert!(out.error.is_none(), "{timeout}: {:?}", out.error);
    }
}

#[tokio::test]
async fn each_child_counts_its_own_history_so_5000_children_pass_where_an_inline_map_cannot() {
    let (_root, objects) = objects_with(&[]).await;
    let task = json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo", "End": true});
    let definition = distributed(
        json!({"ItemsPath": "$.items", "MaxConcurrency": 1000, "Label": "chunks"}),
        task,
    );
    let out = run_on(
        definition,
        echo(),
        &objects,
        json!({"items": vec![0; 5_000]}),
    )
    .await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    let run = &out.map_runs[0];
    assert_eq!(
        (run.items_total, run.succeeded, run.failed),
        (5_000, 5_000, 0)
    );
    // ExecutionStarted, TaskStateEntered, TaskScheduled/Started/Succeeded, TaskStateExited,
    // ExecutionSucceeded.
    assert_eq!(run.largest_child_history_events, 7);
    // Execution started/succeeded, Map entered/exited, and four Map Run events: nothing per child.
    assert_eq!(out.history_events, 2 + 2 + 4);
    assert_eq!(out.invocations, 5_000);
    // 1,000 at a time for 1 s each: five rounds.
    assert_eq!(out.virtual_elapsed, 5 * SECOND);
}

#[tokio::test]
async fn a_child_past_25000_events_fails_alone() {
    let (_root, objects) = objects_with(&[]).await;
    let inline_in_child = json!({"Type": "Map", "ItemsPath": "$.inner",
        "ItemProcessor": {"StartAt": "Q", "States": {"Q": {"Type": "Pass", "End": true}}},
        "End": true});
    let definition = distributed(
        json!({"ItemsPath": "$.items", "ToleratedFailureCount": 1}),
        inline_in_child,
    );
    // 4 events per inner iteration: 7,000 of them are past 25,000 in one child.
    let input = json!({"items": [{"inner": vec![0; 7_000]}, {"inner": [0]}]});
    let out = run_on(definition, echo(), &objects, input).await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    let run = &out.map_runs[0];
    assert_eq!((run.succeeded, run.failed), (1, 1));
    let failure = run.first_failure.as_ref().unwrap();
    assert_eq!(failure.error, "States.Runtime");
    assert!(failure.cause.contains("25000"), "{}", failure.cause);
    assert!(out.history_events < 20);
}

#[tokio::test]
async fn a_result_writer_writes_the_results_and_the_map_returns_where() {
    let (root, objects) = objects_with(&[]).await;
    let definition = distributed(
        json!({"ItemsPath": "$.items", "Label": "chunks",
               "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                                "Parameters": {"Bucket": "items",
                                               "Prefix.$": "States.Format('runs/{}/map-results', $$.Execution.Name)"}},
               "ResultPath": "$.written"}),
        pass_end(),
    );
    let out = run_on(definition, echo(), &objects, json!({"items": [1, 2, 3]})).await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    let written = &out.output.unwrap()["written"];
    let run = &out.map_runs[0];
    assert_eq!(written["MapRunArn"], json!(run.map_run_arn));
    assert_eq!(written["ResultWriterDetails"]["Bucket"], json!("items"));
    let key = written["ResultWriterDetails"]["Key"].as_str().unwrap();
    let run_id = run.map_run_arn.rsplit(':').next().unwrap();
    assert_eq!(
        key,
        format!("runs/exec-1/map-results/{run_id}/manifest.json")
    );
    assert!(
        run.map_run_arn
            .starts_with("arn:aws:states:us-east-1:123456789012:mapRun:sm/chunks:")
    );
    assert_eq!(run.results_written, 3);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(root.path().join("items").join(key)).unwrap())
            .unwrap();
    let results_key = manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]
        .as_str()
        .unwrap();
    let results: Value = serde_json::from_slice(
        &std::fs::read(root.path().join("items").join(results_key)).unwrap(),
    )
    .unwrap();
    let mut outputs: Vec<&str> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Output"].as_str().unwrap())
        .collect();
    outputs.sort();
    assert_eq!(outputs, ["1", "2", "3"]);
}

#[tokio::test]
async fn a_child_sees_its_own_execution_in_the_context_object() {
    let (_root, objects) = objects_with(&[]).await;
    let definition = distributed(
        json!({"ItemsPath": "$.items", "Label": "chunks"}),
        json!({"Type": "Pass", "Parameters": {
            "name.$": "$$.Execution.Name", "id.$": "$$.Execution.Id",
            "input.$": "$$.Execution.Input", "machine.$": "$$.StateMachine.Id"}, "End": true}),
    );
    let out = run_on(definition, echo(), &objects, json!({"items": ["a", "b"]})).await;
    let outputs = out.output.unwrap();
    let children = outputs.as_array().unwrap();
    assert_eq!(children[0]["input"], json!("a"));
    assert_ne!(children[0]["name"], children[1]["name"]);
    for child in children {
        let name = child["name"].as_str().unwrap();
        assert_ne!(name, "exec-1");
        assert_eq!(
            child["id"],
            json!(format!(
                "arn:aws:states:us-east-1:123456789012:execution:sm/chunks:{name}"
            ))
        );
        assert_eq!(
            child["machine"],
            json!("arn:aws:states:us-east-1:123456789012:stateMachine:sm/chunks")
        );
    }
}

#[tokio::test]
async fn lambdas_concurrency_quota_throttles_a_wide_map_and_the_jittered_retry_gets_through() {
    let (_root, objects) = objects_with(&[]).await;
    let limited = || {
        Functions::builder()
            .function(
                "echo",
                SyncFunction(|payload, _: &mut ExecutionEnvironment| Ok(payload)),
            )
            .concurrency_limit(3)
            .build()
    };
    let task = |retry: Value| {
        let mut task = invoke_state("echo", retry);
        task["Parameters"]["Payload.$"] = json!("$");
        task
    };
    let wide = |retry: Value| {
        distributed(
            json!({"ItemsPath": "$.items", "MaxConcurrency": 10, "ToleratedFailurePercentage": 100}),
            task(retry),
        )
    };
    let items = json!({"items": (0..10).collect::<Vec<_>>()});
    let out = run_on(wide(json!({})), limited(), &objects, items.clone()).await;
    let run = &out.map_runs[0];
    assert_eq!(
        (run.succeeded, run.failed),
        (3, 7),
        "3 environments at once"
    );
    assert_eq!(
        run.first_failure.as_ref().unwrap().error,
        "Lambda.TooManyRequestsException"
    );
    let jittered = json!({"Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"],
        "IntervalSeconds": 1, "MaxAttempts": 8, "BackoffRate": 2.0, "MaxDelaySeconds": 60,
        "JitterStrategy": "FULL"}]});
    let out = run_on(wide(jittered), limited(), &objects, items).await;
    let run = &out.map_runs[0];
    assert_eq!(
        (run.succeeded, run.failed),
        (10, 0),
        "{:?}",
        run.first_failure
    );
    assert_eq!(out.environments, 3);
    assert!(out.task_attempts > 10);
}

#[tokio::test]
async fn variables_are_read_in_both_languages_and_assigned_after_the_state_from_old_values() {
    let definition = json!({"StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"a": 1, "from.$": "$.x"}, "Next": "Bump"},
        // Assign reads the variables as they were when the state started: `old` gets 1, not 2.
        "Bump": {"Type": "Pass", "QueryLanguage": "JSONata",
                 "Assign": {"a": "{% $a + 1 %}", "old": "{% $a %}"}, "Next": "Read"},
        "Read": {"Type": "Pass", "Parameters": {"a.$": "$a", "old.$": "$old", "from.$": "$from",
                 "sum.$": "States.MathAdd($a, $old)"}, "End": true}}});
    let out = run(definition, echo(), json!({"x": "input"})).await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    assert_eq!(
        out.output.unwrap(),
        json!({"a": 2, "old": 1, "from": "input", "sum": 3})
    );
}

#[tokio::test]
async fn a_map_body_reads_outer_variables_and_its_own_stay_inside() {
    let definition = json!({"QueryLanguage": "JSONata", "StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"bias": 10}, "Next": "Each"},
        "Each": {"Type": "Map", "Items": "{% [1, 2] %}", "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Inner", "States": {
                "Inner": {"Type": "Pass", "Assign": {"inner": "{% $states.input %}"}, "Next": "Use"},
                "Use": {"Type": "Pass", "Output": "{% $inner + $bias %}", "End": true}}},
            "Next": "After"},
        "After": {"Type": "Pass", "Output": {"sums": "{% $states.input %}", "inner": "{% $inner %}"}, "End": true}}});
    let out = run(definition, echo(), json!({})).await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    let error = out.error.unwrap();
    assert_eq!(error.error, "States.QueryEvaluationError");
    assert!(
        error.cause.ends_with(
            "The JSONata expression '$inner' specified for the field 'Output/inner' returned nothing (undefined)."
        ),
        "{}",
        error.cause
    );
    assert!(
        error
            .cause
            .starts_with("An error occurred while executing the state 'After'")
    );
}

#[tokio::test]
async fn a_jsonata_task_takes_its_arguments_and_shapes_its_output_and_catcher_output() {
    let definition = json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Arguments": {"FunctionName": "echo", "Payload": {"doubled": "{% $states.input.n * 2 %}"}},
              "Output": {"got": "{% $states.result.Payload.doubled %}", "was": "{% $states.input.n %}"},
              "Assign": {"status": "{% $states.result.StatusCode %}"},
              "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [
            {"Condition": "{% $status = 200 and $states.input.got = 42 %}", "Next": "Fail", "Output": {"ok": true}}],
            "Default": "Done"},
        "Fail": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Arguments": {"FunctionName": "missing"},
                 "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done",
                            "Output": {"error": "{% $states.errorOutput.Error %}", "ok": "{% $states.input.ok %}"}}],
                 "End": true},
        "Done": {"Type": "Succeed"}}});
    let out = run(definition, echo(), json!({"n": 21})).await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    assert_eq!(
        out.output.unwrap(),
        json!({"error": "Lambda.ResourceNotFoundException", "ok": true})
    );
}

#[tokio::test]
async fn jsonata_map_items_must_be_an_array_and_settings_may_be_expressions() {
    let map = |items: Value| {
        json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {"Type": "Map",
            "Items": items, "MaxConcurrency": "{% $states.input.max %}",
            "ItemSelector": {"item": "{% $states.context.Map.Item.Value %}", "at": "{% $states.context.Map.Item.Index %}"},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "P",
                "States": {"P": {"Type": "Pass", "End": true}}},
            "End": true}}})
    };
    let out = run(
        map(json!("{% $states.input.list %}")),
        echo(),
        json!({"list": ["a", "b"], "max": 1}),
    )
    .await;
    assert_eq!(
        out.output.unwrap(),
        json!([{"item": "a", "at": 0}, {"item": "b", "at": 1}])
    );
    let out = run(
        map(json!("{% $states.input.list %}")),
        echo(),
        json!({"list": {"a": 1}, "max": 1}),
    )
    .await;
    let error = out.error.unwrap();
    assert_eq!(error.error, "States.QueryEvaluationError");
    assert!(
        error.cause.ends_with(
            "The JSONata expression '$states.input.list' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'object' for value: {\"a\":1}"
        ),
        "{}",
        error.cause
    );
    let out = run(
        map(json!("{% $states.input.list %}")),
        echo(),
        json!({"list": [1], "max": "x"}),
    )
    .await;
    assert_eq!(out.error.unwrap().error, "States.QueryEvaluationError");
}

#[tokio::test]
async fn a_distributed_child_execution_does_not_read_its_parents_variables() {
    let (_root, objects) = objects_with(&[]).await;
    let mut definition = distributed(
        json!({"ItemSelector": {"v.$": "$$.Map.Item.Value"}}),
        json!({"Type": "Pass", "Parameters": {"seen.$": "$parent"}, "End": true}),
    );
    definition["StartAt"] = json!("Set");
    definition["States"]["Set"] =
        json!({"Type": "Pass", "Assign": {"parent": 1}, "Result": [1], "Next": "M"});
    let out = run_on(definition, echo(), &objects, json!({})).await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    let error = out.error.unwrap();
    assert_eq!(
        error.error, "States.ExceedToleratedFailureThreshold",
        "{error:?}"
    );
}

/// A function `gate` that echoes its payload, but fails with `Gate.Broken` on `{"n": 2}` (or on
/// any payload, with `all`) while the switch is on; it records every payload it gets.
fn gate(
    all: bool,
) -> (
    Functions,
    Arc<std::sync::atomic::AtomicBool>,
    Arc<Mutex<Vec<Value>>>,
) {
    let broken = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (switch, seen) = (broken.clone(), calls.clone());
    let functions = Functions::builder()
        .function(
            "gate",
            SyncFunction(move |payload: Value, _: &mut ExecutionEnvironment| {
                seen.lock().unwrap().push(payload.clone());
                if switch.load(Ordering::SeqCst) && (all || payload["n"] == json!(2)) {
                    Err(LambdaError::new("Gate.Broken", "the gate is broken"))
                } else {
                    Ok(payload)
                }
            }),
        )
        .build();
    (functions, broken, calls)
}

fn machine_of(definition: &Value) -> StateMachine {
    crate::runner::load::from_json(&definition.to_string()).unwrap()
}

fn engine(functions: Functions) -> Engine {
    Engine::new(functions).invocation_time(InvocationTime::Fixed(SECOND))
}

/// AWS's redrive: the execution continues from the state that failed, with the input it had
/// there; the states before it are not run again, and `$$.Execution.RedriveCount` counts it.
#[tokio::test]
async fn a_redrive_restarts_at_the_failed_task_with_the_input_it_had() {
    let definition = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": 7, "ResultPath": "$.a", "Next": "T"},
        "T": invoke_state("gate", json!({"Parameters": {
            "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:gate:live",
            "Payload": {"a.$": "$.a", "redrives.$": "$$.Execution.RedriveCount"}},
            "OutputPath": "$.Payload"}))}});
    let machine = machine_of(&definition);
    let (functions, broken, calls) = gate(true);
    let engine = engine(functions);
    let failed = engine.execute(&machine, &spec(json!({}))).await;
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(failed.failed_state(), Some("T"));
    assert_eq!(failed.error.as_ref().unwrap().error, "Gate.Broken");

    broken.store(false, Ordering::SeqCst);
    let redriven = engine
        .redrive(&machine, &spec(json!({})), &failed)
        .await
        .unwrap();
    assert_eq!(
        redriven.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        redriven.error
    );
    assert_eq!(redriven.output, Some(json!({"a": 7, "redrives": 1})));
    assert_eq!(redriven.failed_state(), None);
    // One attempt before, one on the redrive; the history goes on from where it stopped.
    assert_eq!(calls.lock().unwrap().len(), 2);
    assert!(redriven.history_events > failed.history_events);
    let refused = engine.redrive(&machine, &spec(json!({})), &redriven).await;
    assert!(matches!(refused, Err(RedriveRefused::Succeeded)));
}

/// The rule the pipeline's shape follows: a failure caught into a Fail state ends the execution
/// in the Fail state, and a redrive re-enters it and fails again, running nothing.
#[tokio::test]
async fn a_redrive_of_a_failure_caught_into_a_fail_state_only_fails_again() {
    let definition = json!({"StartAt": "T", "States": {
        "T": invoke_state("gate", json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]})),
        "F": {"Type": "Fail", "Error": "Caught", "Cause": "caught"}}});
    let machine = machine_of(&definition);
    let (functions, broken, calls) = gate(true);
    let engine = engine(functions);
    let failed = engine.execute(&machine, &spec(json!({"n": 1}))).await;
    assert_eq!(failed.failed_state(), Some("F"));
    broken.store(false, Ordering::SeqCst);
    let redriven = engine
        .redrive(&machine, &spec(json!({"n": 1})), &failed)
        .await
        .unwrap();
    assert_eq!(redriven.status, ExecutionStatus::Failed);
    assert_eq!(redriven.failed_state(), Some("F"));
    assert_eq!(redriven.error.unwrap().error, "Caught");
    assert_eq!(
        calls.lock().unwrap().len(),
        1,
        "the fixed task is not run again"
    );
}

/// A Distributed Map whose Map Run failed: a redrive re-runs, in the same Map Run, only the child
/// executions that did not succeed (the failed one, and those never started), then goes on.
#[tokio::test]
async fn a_redriven_distributed_map_reruns_only_the_children_that_did_not_succeed() {
    let mut definition = distributed(
        json!({"ItemsPath": "$.items", "MaxConcurrency": 1, "Next": "After"}),
        invoke_state("gate", json!({"OutputPath": "$.Payload"})),
    );
    definition["States"]["M"]
        .as_object_mut()
        .unwrap()
        .remove("End");
    definition["States"]["After"] = json!({"Type": "Pass", "End": true});
    let machine = machine_of(&definition);
    let input = json!({"items": [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]});
    let (functions, broken, calls) = gate(false);
    let engine = engine(functions);
    let failed = engine.execute(&machine, &spec(input.clone())).await;
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(
        failed.error.as_ref().unwrap().error,
        "States.ExceedToleratedFailureThreshold"
    );
    assert_eq!(failed.failed_state(), Some("M"));
    assert_eq!(
        failed
            .redrive
            .as_ref()
            .unwrap()
            .map_run_children_succeeded(),
        Some(1)
    );
    // One at a time: 1 succeeded, 2 failed, and the Map Run stopped before 3 and 4.
    let seen = |calls: &Mutex<Vec<Value>>| -> Vec<Value> {
        calls
            .lock()
            .unwrap()
            .iter()
            .map(|c| c["n"].clone())
            .collect()
    };
    assert_eq!(seen(&calls), [json!(1), json!(2)]);

    broken.store(false, Ordering::SeqCst);
    let redriven = engine
        .redrive(&machine, &spec(input), &failed)
        .await
        .unwrap();
    assert_eq!(
        redriven.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        redriven.error
    );
    assert_eq!(
        redriven.output,
        Some(json!([{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]))
    );
    assert_eq!(
        seen(&calls),
        [json!(1), json!(2), json!(2), json!(3), json!(4)]
    );
    let (before, after) = (&failed.map_runs[0], &redriven.map_runs[0]);
    assert_eq!(before.map_run_arn, after.map_run_arn, "the same Map Run");
    assert_eq!((after.succeeded, after.failed), (4, 0));
    assert_eq!(redriven.invocations, 3);
}

#[tokio::test]
async fn a_failed_parallel_is_not_redriven_locally() {
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
        "Branches": [{"StartAt": "T", "States": {"T": invoke_state("gate", json!({}))}}]}}});
    let machine = machine_of(&definition);
    let (functions, _, _) = gate(true);
    let engine = engine(functions);
    let failed = engine.execute(&machine, &spec(json!({}))).await;
    assert_eq!(failed.failed_state(), Some("P"));
    let refused = engine.redrive(&machine, &spec(json!({})), &failed).await;
    assert!(matches!(refused, Err(RedriveRefused::NestedState(state)) if state == "P"));
}

/// Step Functions bills a Standard execution per state transition: each state entered and each
/// retry. Pass, a Task failing twice and retried, a Choice and Succeed: 4 states and 2 retries
/// are 6 transitions; the history has the same states entered and exited (8 events), 3 Task
/// attempts of 3 events each, and the execution's 2. Lambda bills each of the 3 invocations its
/// second.
#[tokio::test]
async fn state_transitions_count_each_state_entered_and_each_retry() {
    let (functions, calls) = flaky("Boom", 2);
    let mut task = invoke_state(
        "flaky",
        json!({"Next": "C", "ResultSelector": {"ok.$": "$.Payload.ok"},
               "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": 3}]}),
    );
    task.as_object_mut().unwrap().remove("End");
    let outcome = run(
        json!({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "Next": "T"},
            "T": task,
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": true, "Next": "Done"}]},
            "Done": {"Type": "Succeed"}}}),
        functions,
        json!({}),
    )
    .await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(outcome.state_transitions, 4 + 2);
    assert_eq!(outcome.history_events, 2 * 4 + 3 * 3 + 2);
    assert_eq!(outcome.lambda_billed_ms, 3 * 1000);
}

/// Definitions AWS accepts and how it runs them: a constant `Condition`, a written `null`
/// Output, comments in retriers, catchers and rules, and a body assigning an outer name.
#[tokio::test]
async fn constant_conditions_null_outputs_comments_and_shadowed_variables_run_as_in_aws() {
    let constant = json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Condition": false, "Next": "A"},
            {"Comment": "always", "Condition": true, "Next": "B"}]},
        "A": {"Type": "Pass", "Output": "a", "End": true},
        "B": {"Type": "Pass", "Output": null, "End": true}}});
    let out = run(constant, echo(), json!({"x": 1})).await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    assert_eq!(out.output, Some(Value::Null));

    let commented = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel",
            "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}],
            "Retry": [{"Comment": "once more", "ErrorEquals": ["E"], "MaxAttempts": 1}],
            "Catch": [{"Comment": "then give up", "ErrorEquals": ["States.ALL"], "Next": "S"}],
            "End": true},
        "S": {"Type": "Pass", "End": true}}});
    let out = run(commented, echo(), json!({})).await;
    assert_eq!(out.output.unwrap()["Error"], "E");

    let shadowed = json!({"QueryLanguage": "JSONata", "StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"v": "outer"}, "Next": "P"},
        "P": {"Type": "Parallel", "Branches": [{"StartAt": "I", "States": {
            "I": {"Type": "Pass", "Assign": {"v": "inner"}, "Next": "Read"},
            "Read": {"Type": "Pass", "Output": "{% $v %}", "End": true}}}],
            "Output": {"branch": "{% $states.result[0] %}", "after": "{% $v %}"}, "End": true}}});
    let out = run(shadowed, echo(), json!({})).await;
    assert_eq!(
        out.output,
        Some(json!({"branch": "inner", "after": "outer"}))
    );
}

/// The execution's error, as `(Error, Cause)`.
async fn failure(definition: Value, functions: Functions, input: Value) -> (String, String) {
    let out = run(definition, functions, input).await;
    assert_eq!(out.status, ExecutionStatus::Failed, "{:?}", out.output);
    let error = out.error.unwrap();
    (error.error, error.cause)
}

fn pass(fields: Value) -> Value {
    let mut state = json!({"Type": "Pass", "End": true});
    state
        .as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    json!({"StartAt": "P", "States": {"P": state}})
}

#[tokio::test]
async fn a_path_that_selects_nothing_is_worded_as_aws_words_it() {
    // AWS: "An error occurred while executing the state 'AggregateIdentityResults' (entered at
    // the event id #13). Invalid path '$.Payload' : No results for path: $['Payload']".
    for field in ["InputPath", "OutputPath"] {
        let (error, cause) = failure(pass(json!({field: "$.Payload"})), echo(), json!({})).await;
        assert_eq!(error, "States.Runtime");
        assert_eq!(
            cause,
            "An error occurred while executing the state 'P' (entered at the event id #2). Invalid path '$.Payload' : No results for path: $['Payload']",
            "{field}"
        );
    }
    // AWS: "... The JSONPath '$.JobName' specified for the field 'JobName.$' could not be found
    // in the input '{}'".
    let (_, cause) = failure(
        pass(json!({"Parameters": {"JobName.$": "$.JobName"}})),
        echo(),
        json!({"a": [1]}),
    )
    .await;
    assert_eq!(
        cause,
        "An error occurred while executing the state 'P' (entered at the event id #2). The JSONPath '$.JobName' specified for the field 'JobName.$' could not be found in the input '{\"a\":[1]}'"
    );
}

#[tokio::test]
async fn a_map_whose_items_are_not_an_array_names_what_they_are() {
    // AWS's wording for a Map's items that are not an array: "Map state input must be an array
    // but was: 1".
    let definition = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.n",
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
        "End": true}}});
    let (error, cause) = failure(definition, echo(), json!({"n": 1})).await;
    assert_eq!(error, "States.Runtime");
    assert!(
        cause.ends_with(". Map state input must be an array but was: 1"),
        "{cause}"
    );
}

#[tokio::test]
async fn choice_failures_are_worded_as_aws_words_them() {
    // AWS: "An error occurred while executing the state 'IsDataset' (entered at the event id
    // #2). Invalid path '$.processing_type': The choice state's condition path references an
    // invalid value." The same for a `...Path` operand.
    let choice = |rule: Value| {
        let mut rule = rule;
        rule["Next"] = json!("D");
        json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [rule]},
            "D": {"Type": "Succeed"}}})
    };
    for (rule, path) in [
        (json!({"Variable": "$.left", "StringEquals": "x"}), "$.left"),
        (
            json!({"Variable": "$.there", "StringEqualsPath": "$.right"}),
            "$.right",
        ),
    ] {
        let (error, cause) = failure(choice(rule), echo(), json!({"there": "x"})).await;
        assert_eq!(error, "States.Runtime");
        assert_eq!(
            cause,
            format!(
                "An error occurred while executing the state 'C' (entered at the event id #2). Invalid path '{path}': The choice state's condition path references an invalid value."
            )
        );
    }
    let (error, cause) = failure(
        choice(json!({"Variable": "$.there", "StringEquals": "y"})),
        echo(),
        json!({"there": "x"}),
    )
    .await;
    assert_eq!(error, "States.NoChoiceMatched");
    assert_eq!(
        cause,
        "An error occurred while executing the state 'C' (entered at the event id #2). Failed to transition out of the state. The state does not point to a next state."
    );
}

#[tokio::test]
async fn a_state_output_over_the_quota_is_worded_as_aws_words_it() {
    // AWS: "The state/task 'PostCoeffgen' returned a result with a size exceeding the maximum
    // number of bytes service limit."
    let big = pass(json!({"Result": "x".repeat(PAYLOAD_BYTES)}));
    let (error, cause) = failure(big, echo(), json!({})).await;
    assert_eq!(error, "States.DataLimitExceeded");
    assert_eq!(
        cause,
        "The state/task 'P' returned a result with a size exceeding the maximum number of bytes service limit."
    );
}

#[tokio::test]
async fn lambda_failures_are_worded_as_aws_words_them() {
    // A missing function: Lambda's service error as AWS records it, "Function not found:
    // arn:aws:lambda:<region>:111111111111:function:no_such_fn (Service: AWSLambda; Status Code:
    // 404; Error Code: ResourceNotFoundException; Request ID: <request_id>; Proxy: null)".
    let definition = json!({"StartAt": "T", "States": {"T": {"Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "no_such_fn", "Payload": {}}, "End": true}}});
    let (error, cause) = failure(definition, echo(), json!({})).await;
    assert_eq!(error, "Lambda.ResourceNotFoundException");
    let wildcards = crate::conformance::compare::Wildcards::new(&[]);
    assert!(
        wildcards.matches_text(
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:no_such_fn (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: <request_id>; Proxy: null)",
            &cause
        ),
        "{cause}"
    );
    // A function error: the runtime's error payload, {"errorMessage", "errorType",
    // "requestId", "stackTrace"}, for a function ARN resource as for lambda:invoke.
    let (functions, _) = flaky("ValueError", 1);
    let definition = json!({"StartAt": "T", "States": {"T": {"Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:flaky", "End": true}}});
    let (error, cause) = failure(definition, functions, json!({})).await;
    assert_eq!(error, "ValueError");
    let cause: Value = serde_json::from_str(&cause).unwrap();
    assert_eq!(
        cause.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["errorMessage", "errorType", "requestId", "stackTrace"]
    );
    assert_eq!(
        (&cause["errorMessage"], &cause["errorType"]),
        (&json!("try again"), &json!("ValueError"))
    );
    assert_eq!(cause["requestId"].as_str().map(str::len), Some(36));
}

#[tokio::test]
async fn a_task_timeout_has_no_cause_as_in_aws() {
    // AWS's TaskTimedOut / LambdaFunctionTimedOut and ExecutionFailed events carry only
    // `"error": "States.Timeout"`.
    let definition = json!({"StartAt": "T", "States": {"T": {"Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:echo",
        "TimeoutSeconds": 1, "End": true}}});
    let machine = crate::runner::load::from_json(&definition.to_string()).unwrap();
    let out = Engine::new(echo())
        .invocation_time(InvocationTime::Fixed(SECOND * 2))
        .execute(&machine, &spec(json!({})))
        .await;
    let error = out.error.unwrap();
    assert_eq!(
        (error.error.as_str(), error.cause.as_str()),
        ("States.Timeout", "")
    );
}

/// One year on the virtual clock: Step Functions' maximum execution time.
const ONE_YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);

fn assert_timed_out_after_one_year(out: &ExecutionOutcome) {
    assert_eq!(out.status, ExecutionStatus::TimedOut, "{:?}", out.error);
    let error = out.error.as_ref().unwrap();
    assert_eq!(error.error, "States.Timeout");
    assert!(
        error.cause.contains("maximum execution time of one year"),
        "{}",
        error.cause
    );
    assert_eq!(out.virtual_elapsed, ONE_YEAR);
}

#[tokio::test]
async fn a_retrier_with_100_attempts_on_a_parallel_that_keeps_failing_ends_without_overflow() {
    // 1 s x 2^attempt: past attempt 63 the delay no longer fits a Duration; the execution times
    // out after a year first (attempt 25), and its Catch of States.ALL does not take that.
    let definition = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel",
              "Branches": [{"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Boom"}}}],
              "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 100, "BackoffRate": 2.0}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
              "End": true},
        "Caught": {"Type": "Succeed"}}});
    let out = run(definition, echo(), json!({})).await;
    assert_timed_out_after_one_year(&out);
    assert!(out.history_events < 1_000, "{}", out.history_events);
}

#[test]
fn a_retry_delay_saturates_instead_of_overflowing() {
    let engine = Engine::new(echo());
    let spec = spec(json!({}));
    let run = Run {
        engine: &engine,
        spec: &spec,
        language: QueryLanguage::JsonPath,
        started: Utc::now(),
        payloads: Mutex::default(),
        results: Mutex::default(),
        handled: Mutex::default(),
        task_attempts: AtomicU64::new(0),
        invocations: AtomicU64::new(0),
        lambda_billed_ms: AtomicU64::new(0),
        map_runs: Mutex::default(),
        map_run_sequence: AtomicU64::new(0),
        random_seed: 0,
        random_draws: AtomicU64::new(0),
        redrive_count: 0,
        resume: Mutex::default(),
        redriven_map_run: Mutex::default(),
        failed_at: Mutex::default(),
        failed_map_run: Mutex::default(),
    };
    let retrier = |interval: u32, backoff: f64, jitter: Option<JitterStrategy>| Retrier {
        comment: None,
        error_equals: vec![ErrorName::all()],
        interval_seconds: Some(interval),
        max_attempts: Some(u32::MAX),
        backoff_rate: Some(backoff),
        max_delay_seconds: None,
        jitter_strategy: jitter,
    };
    let delay = |r: &Retrier, attempt: u32| run.retry_delay("e", "S", r, attempt, attempt);
    let longest = ONE_YEAR + SECOND;
    assert_eq!(delay(&retrier(1, 2.0, None), 3), 8 * SECOND);
    assert_eq!(delay(&retrier(1, 2.0, None), 99), longest);
    assert_eq!(delay(&retrier(u32::MAX, 2.0, None), u32::MAX), longest);
    assert_eq!(delay(&retrier(u32::MAX, f64::MAX, None), 2), longest);
    // 0 x infinity is no delay, not NaN.
    assert_eq!(delay(&retrier(0, f64::MAX, None), 1_000), Duration::ZERO);
    assert!(delay(&retrier(1, 2.0, Some(JitterStrategy::Full)), 1_000) <= longest);
}

#[tokio::test]
async fn a_choice_loop_of_the_longest_waits_times_out_after_one_year_instead_of_overflowing_the_date()
 {
    // 2^31 - 1 seconds is 68 years: AWS starts such a Wait, and the execution times out in it.
    let definition = json!({"StartAt": "Wait", "States": {
        "Wait": {"Type": "Wait", "Seconds": 2_147_483_647, "Next": "Again"},
        "Again": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "Done"}], "Default": "Wait"},
        "Done": {"Type": "Succeed"}}});
    let out = run(definition, echo(), json!({})).await;
    assert_timed_out_after_one_year(&out);
    // Waits that each fit the year time out once they add up past it.
    let definition = json!({"StartAt": "Wait", "States": {
        "Wait": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "Again"},
        "Again": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "Done"}], "Default": "Wait"},
        "Done": {"Type": "Succeed"}}});
    let out = run(definition, echo(), json!({"seconds": 1_000_000})).await;
    assert_timed_out_after_one_year(&out);
    // 31 Waits of 1,000,000 s fit in the year (and their Choices); the 32nd does not.
    assert_eq!(out.state_transitions, 32 + 31);
}

#[tokio::test]
async fn a_wait_past_the_longest_or_at_the_end_of_time_fails_cleanly() {
    for (wait_for, input) in [
        (
            json!({"SecondsPath": "$.s"}),
            json!({"s": 9_223_372_036_854_775_807_i64}),
        ),
        (json!({"Timestamp": "9999-12-31T23:59:59Z"}), json!({})),
        (
            json!({"TimestampPath": "$.t"}),
            json!({"t": "+262142-12-31T23:59:59Z"}),
        ),
    ] {
        let mut wait = json!({"Type": "Wait", "End": true});
        wait.as_object_mut()
            .unwrap()
            .extend(wait_for.as_object().unwrap().clone());
        let definition = json!({"StartAt": "W", "States": {"W": wait}});
        let out = run(definition, echo(), input).await;
        assert_eq!(out.status, ExecutionStatus::Failed, "{wait_for}");
        let error = out.error.unwrap();
        assert_eq!(error.error, "States.Runtime", "{wait_for}");
    }
    // An execution that starts at the last instant chrono represents still runs its Wait.
    let machine = crate::runner::load::from_json(
        &json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 86_400, "Next": "P"},
            "P": {"Type": "Pass", "Parameters": {"at.$": "$$.State.EnteredTime"}, "End": true}}})
        .to_string(),
    )
    .unwrap();
    let out = Engine::new(echo())
        .start_time(DateTime::<Utc>::MAX_UTC - chrono::Duration::hours(1))
        .execute(&machine, &spec(json!({})))
        .await;
    assert_eq!(out.status, ExecutionStatus::Succeeded, "{:?}", out.error);
    assert!(
        out.output.unwrap()["at"]
            .as_str()
            .unwrap()
            .starts_with("+262142-12-31")
    );
}

#[tokio::test]
async fn an_endless_pass_and_choice_loop_fails_at_25000_history_events() {
    let definition = json!({"StartAt": "Count", "States": {
        "Count": {"Type": "Pass", "Next": "Again"},
        "Again": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "Done"}], "Default": "Count"},
        "Done": {"Type": "Succeed"}}});
    let out = run(definition, echo(), json!({})).await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    let error = out.error.unwrap();
    assert_eq!(error.error, "States.Runtime");
    assert!(error.cause.contains("25000"), "{}", error.cause);
    // The event past the quota is not run: ExecutionFailed is the only one after it.
    assert_eq!(out.history_events, 25_000 + 2);
}

#[tokio::test]
async fn a_huge_execution_input_fails_with_data_limit_exceeded_before_any_state() {
    let out = run(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
        echo(),
        json!({"big": "x".repeat(20 * PAYLOAD_BYTES)}),
    )
    .await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    let error = out.error.unwrap();
    assert_eq!(error.error, "States.DataLimitExceeded");
    assert!(error.cause.contains("5242890 bytes"), "{}", error.cause);
    assert_eq!(out.state_transitions, 0);
}
