//! The interpreter against small fake functions: data flow, Retry/Catch on virtual time, limits,
//! Map concurrency and environments, and the flow states.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::*;
use crate::runner::lambda::{ExecutionEnvironment, LambdaError, LambdaFunction, SyncFunction};

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
    let machine = StateMachineDef::from_json(&definition.to_string()).unwrap();
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
async fn data_limit_exceeded_is_not_caught_by_states_all() {
    let functions = Functions::builder()
        .function(
            "big",
            SyncFunction(|_, _: &mut ExecutionEnvironment| {
                Ok(json!("x".repeat(MAX_PAYLOAD_BYTES)))
            }),
        )
        .build();
    let mut state = invoke_state(
        "big",
        json!({"Retry": [{"ErrorEquals": ["States.ALL"]}], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]}),
    );
    state.as_object_mut().unwrap().remove("End");
    state["Next"] = json!("Caught");
    let definition = json!({"StartAt": "T", "States": {"T": state, "Caught": {"Type": "Succeed"}}});
    let out = run(definition, functions, json!({})).await;
    assert_eq!(out.status, ExecutionStatus::Failed);
    assert_eq!(out.error.unwrap().error, "States.DataLimitExceeded");
    assert_eq!(out.invocations, 1, "not retried");
    assert!(out.largest_result_bytes["T"] > MAX_PAYLOAD_BYTES);
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
        json!(crate::runner::lambda::RESPONSE_TOO_LARGE)
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
