//! `cm-etl redrive` against moto server (`bash tests/run.sh -- --test integration redrive::`).
//! moto 5.2.5 has no RedriveExecution, so a proxy in front of it answers that call in AWS's
//! documented shape (`{"redriveDate": ...}`) and records what was sent; every other call reaches
//! moto. Executions are real moto executions of small state machines that fail, succeed or wait.
//!
//! Covered: a failed execution redriven by name (the request carries the execution ARN and a client
//! token; the output names the date); `--wait` follows the redriven execution past a stale answer
//! and a RUNNING one to SUCCEEDED (exit 0); a running, a succeeded and a missing execution, and one
//! that stopped 15 days ago, are one-line errors and no RedriveExecution is sent.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::fault_proxy::{FaultProxy, Request, Route, http_response, rewrite_json};
use support::*;

/// What the proxy answers RedriveExecution with: 2025-11-30T12:00:00.250Z (exact in binary).
const REDRIVE_DATE: f64 = 1_764_504_000.25;

/// A state machine in moto, and a deploy.toml naming it.
struct Machine {
    name: String,
    config: tempfile::TempDir,
}

impl Machine {
    fn config_path(&self) -> String {
        self.config
            .path()
            .join("deploy.toml")
            .to_str()
            .unwrap()
            .to_owned()
    }

    fn execution_arn(&self, execution: &str) -> String {
        format!(
            "arn:aws:states:us-east-1:123456789012:execution:{}:{execution}",
            self.name
        )
    }
}

fn machine(moto: &Moto, name: &str, definition: Value) -> Machine {
    let role = create_role(&format!("{name}-role"), "state-machine-role-trust.json");
    moto.block_on(
        moto.sfn
            .create_state_machine()
            .name(name)
            .role_arn(role)
            .definition(definition.to_string())
            .send(),
    )
    .expect("CreateStateMachine");
    let text = std::fs::read_to_string(repo().join("deploy.toml"))
        .unwrap()
        .replace(
            "state_machines.cm-etl-pipeline-phase2",
            &format!("state_machines.{name}"),
        );
    let config = tempfile::tempdir().unwrap();
    std::fs::write(config.path().join("deploy.toml"), text).unwrap();
    Machine {
        name: name.to_owned(),
        config,
    }
}

/// Starts `execution` and waits until its status is `until` (RUNNING: returns at once).
fn start(moto: &Moto, machine: &Machine, execution: &str, until: &str) -> String {
    let arn = moto
        .block_on(
            moto.sfn
                .start_execution()
                .state_machine_arn(format!(
                    "arn:aws:states:us-east-1:123456789012:stateMachine:{}",
                    machine.name
                ))
                .name(execution)
                .input("{}")
                .send(),
        )
        .expect("StartExecution")
        .execution_arn()
        .to_owned();
    let started = Instant::now();
    loop {
        let status = moto
            .block_on(moto.sfn.describe_execution().execution_arn(&arn).send())
            .unwrap()
            .status()
            .as_str()
            .to_owned();
        if status == until {
            return arn;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{arn} stays {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn failing(moto: &Moto, name: &str) -> Machine {
    machine(
        moto,
        name,
        json!({"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Task02.Failed", "Cause": "a chunk kept failing"}}}),
    )
}

/// Whether `request` is the Step Functions call `operation`.
fn is(request: &Request, operation: &str) -> bool {
    request.json_operation() == Some(operation)
}

fn redrive_answer() -> Route {
    Route::Answer(http_response(
        200,
        "application/x-amz-json-1.0",
        json!({"redriveDate": REDRIVE_DATE}).to_string().as_bytes(),
    ))
}

/// A proxy answering RedriveExecution; everything else reaches moto.
fn redrive_proxy() -> FaultProxy {
    FaultProxy::start(&moto_endpoint(), |request| {
        if is(request, "RedriveExecution") {
            redrive_answer()
        } else {
            Route::Forward
        }
    })
}

fn redrive(machine: &Machine, proxy: &FaultProxy, args: &[&str]) -> Run {
    run(cm_etl().arg("redrive").args(args).args([
        "--config",
        &machine.config_path(),
        "--endpoint-url",
        &proxy.endpoint,
    ]))
}

fn redrives_sent(proxy: &FaultProxy) -> Vec<Value> {
    proxy
        .requests()
        .iter()
        .filter(|r| is(r, "RedriveExecution"))
        .map(Request::json)
        .collect()
}

#[test]
fn a_failed_execution_is_redriven_by_name_and_aws_gets_what_it_documents() {
    let _serial = serial();
    reset_moto();
    let moto = Moto::connect();
    let machine = failing(&moto, "redrive-failed");
    let arn = start(&moto, &machine, "run-1", "FAILED");
    let proxy = redrive_proxy();

    let redriven = redrive(
        &machine,
        &proxy,
        &["run-1", "--state-machine", &machine.name],
    );
    assert_eq!(redriven.code, 0, "{}", redriven.stderr);
    assert_eq!(
        redriven.stdout,
        format!("redrove {arn} at 2025-11-30T12:00:00.250Z\n")
    );
    let sent = redrives_sent(&proxy);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["executionArn"], arn.as_str());
    // The SDK's idempotency token: a retried call redrives once.
    assert!(
        sent[0]["clientToken"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{sent:?}"
    );

    let as_json = redrive(&machine, &proxy, &[&arn, "--output", "json"]).json();
    assert_eq!(
        as_json,
        json!({"execution_arn": arn, "redrive_date": "2025-11-30T12:00:00.250Z", "redrives_before": 0})
    );
}

/// AWS may show the stop for a moment after accepting a redrive: `--wait` waits for the redrive
/// to show (a higher redrive count) and follows the execution to its end. The proxy plays that
/// on moto's DescribeExecution answers: unchanged once, then RUNNING, then SUCCEEDED.
#[test]
fn redrive_wait_follows_the_restarted_execution_until_it_ends() {
    let _serial = serial();
    reset_moto();
    let moto = Moto::connect();
    let machine = failing(&moto, "redrive-wait");
    let arn = start(&moto, &machine, "run-1", "FAILED");
    let redriven = Arc::new(AtomicUsize::new(0));
    let described_after = Arc::new(AtomicUsize::new(0));
    let (redriven_in_proxy, described_in_proxy) = (redriven.clone(), described_after.clone());
    let proxy = FaultProxy::start(&moto_endpoint(), move |request| {
        if is(request, "RedriveExecution") {
            redriven_in_proxy.store(1, Ordering::SeqCst);
            return redrive_answer();
        }
        if !is(request, "DescribeExecution") || redriven_in_proxy.load(Ordering::SeqCst) == 0 {
            return Route::Forward;
        }
        match described_in_proxy.fetch_add(1, Ordering::SeqCst) {
            0 => Route::Forward,
            1 => Route::Rewrite(Box::new(|response| {
                rewrite_json(&response, |json| {
                    let object = json.as_object_mut().unwrap();
                    object.remove("stopDate");
                    object.insert("status".into(), "RUNNING".into());
                    object.insert("redriveCount".into(), 1.into());
                })
            })),
            _ => Route::Rewrite(Box::new(|response| {
                rewrite_json(&response, |json| {
                    json["status"] = "SUCCEEDED".into();
                    json["redriveCount"] = 1.into();
                    json["output"] = "{}".into();
                })
            })),
        }
    });

    let followed = redrive(&machine, &proxy, &[&arn, "--wait", "--output", "json"]);
    assert_eq!(followed.code, 0, "{}\n{}", followed.stdout, followed.stderr);
    let report = followed.json();
    assert_eq!(report["status"], "SUCCEEDED", "{report}");
    assert_eq!(report["execution_arn"], arn.as_str());
    assert!(
        followed.stderr.contains(&format!("redrove {arn}")),
        "{}",
        followed.stderr
    );
    assert!(
        described_after.load(Ordering::SeqCst) >= 3,
        "followed past the stale answer and the running one"
    );
}

#[test]
fn a_running_or_succeeded_execution_is_one_clear_error_and_nothing_is_redriven() {
    let _serial = serial();
    reset_moto();
    let moto = Moto::connect();
    let proxy = redrive_proxy();
    let waiting = machine(
        &moto,
        "redrive-running",
        json!({"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 120, "End": true}}}),
    );
    let running = start(&moto, &waiting, "run-1", "RUNNING");
    let succeeding = machine(
        &moto,
        "redrive-succeeded",
        json!({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
    );
    let succeeded = start(&moto, &succeeding, "run-1", "SUCCEEDED");

    for (machine, arn, expected) in [
        (
            &waiting,
            &running,
            format!(
                "error: {running} is still RUNNING: only a FAILED, TIMED_OUT or ABORTED execution can be redriven; follow it with `cm-etl status {running} --wait`; nothing was redriven"
            ),
        ),
        (
            &succeeding,
            &succeeded,
            format!(
                "error: {succeeded} SUCCEEDED: there is nothing to redrive; start a new execution with `cm-etl start`; nothing was redriven"
            ),
        ),
    ] {
        let refused = redrive(machine, &proxy, &[arn.as_str()]);
        assert_eq!(refused.code, 2, "{}", refused.stderr);
        assert_eq!(refused.stderr.trim(), expected);
    }
    let missing = redrive(&waiting, &proxy, &[&waiting.execution_arn("no-such-run")]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("there is no execution"),
        "{}",
        missing.stderr
    );
    assert_eq!(redrives_sent(&proxy), Vec::<Value>::new());
}

#[test]
fn an_execution_that_stopped_15_days_ago_is_past_the_redrive_window() {
    let _serial = serial();
    reset_moto();
    let moto = Moto::connect();
    let machine = failing(&moto, "redrive-old");
    let arn = start(&moto, &machine, "run-1", "FAILED");
    let days_ago = |days: f64| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            - days * 86_400.0
    };
    let (started, stopped) = (days_ago(15.2), days_ago(15.0));
    let proxy = FaultProxy::start(&moto_endpoint(), move |request| {
        if is(request, "RedriveExecution") {
            redrive_answer()
        } else if is(request, "DescribeExecution") {
            Route::Rewrite(Box::new(move |response| {
                rewrite_json(&response, |json| {
                    json["startDate"] = started.into();
                    json["stopDate"] = stopped.into();
                })
            }))
        } else {
            Route::Forward
        }
    });
    let refused = redrive(&machine, &proxy, &[&arn]);
    assert_eq!(refused.code, 2);
    let line = refused.stderr.trim();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.contains(", 15 days ago: AWS redrives an execution only within 14 days of its stop"),
        "{line}"
    );
    assert_eq!(redrives_sent(&proxy), Vec::<Value>::new());
}
