//! What an execution is given (its names and input) and what it gives back: its outcome, with the
//! figures the report shows and, when it failed, where a redrive restarts it.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use asl::eval::Variables;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::StateError;
use crate::runner::map_run::MapRunSummary;

/// How many handled errors an outcome keeps.
pub const KEPT_ERRORS: usize = 20;

/// An error a Retry or Catch handled, with the state it happened in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HandledError {
    pub state: String,
    pub error: String,
    pub cause: String,
    /// `retried` or `caught`.
    pub handled_by: &'static str,
}

/// Who and what is executed: the names the context object (`$$`) reports.
#[derive(Clone, Debug)]
pub struct ExecutionSpec {
    pub region: String,
    pub account: String,
    pub state_machine: String,
    pub name: String,
    pub role_arn: String,
    pub input: Value,
}

impl ExecutionSpec {
    pub fn state_machine_arn(&self) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{}",
            self.region, self.account, self.state_machine
        )
    }

    pub fn execution_arn(&self) -> String {
        format!(
            "arn:aws:states:{}:{}:execution:{}:{}",
            self.region, self.account, self.state_machine, self.name
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
    TimedOut,
}

/// How an execution ended, with what the report shows.
#[derive(Clone, Debug, Serialize)]
pub struct ExecutionOutcome {
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<StateError>,
    pub virtual_elapsed: Duration,
    pub history_events: u64,
    /// The largest input or output per state, in bytes.
    pub largest_payload_bytes: BTreeMap<String, usize>,
    /// The largest raw result per Task, Map or Parallel state (before ResultSelector and
    /// ResultPath: a Lambda envelope, a Map's array of iteration outputs), in bytes. AWS limits
    /// these too.
    pub largest_result_bytes: BTreeMap<String, usize>,
    /// Errors that a Retry or Catch handled, in the order they happened (at most
    /// [`KEPT_ERRORS`]): what AWS's execution history would show.
    pub handled_errors: Vec<HandledError>,
    /// Task attempts, retries included (TaskScheduled events).
    pub task_attempts: u64,
    /// Lambda invocations that ran a function.
    pub invocations: u64,
    /// Their durations, each rounded up to the millisecond as Lambda bills them.
    pub lambda_billed_ms: u64,
    /// State transitions of the execution itself (each state entered, each retry), as Step
    /// Functions bills a Standard execution; its Map Runs' children count their own.
    pub state_transitions: u64,
    pub environments: usize,
    /// Every Distributed Map's Map Run, in the order they ended.
    pub map_runs: Vec<MapRunSummary>,
    /// Where a failed execution stopped, for [`Engine::redrive`].
    #[serde(skip)]
    pub redrive: Option<RedrivePoint>,
}

impl ExecutionOutcome {
    /// The top-level state the execution failed in (the one a redrive restarts from).
    pub fn failed_state(&self) -> Option<&str> {
        self.redrive.as_ref().map(|point| point.state.as_str())
    }
}

/// Where a failed execution stopped, as AWS keeps it for RedriveExecution: the top-level state
/// that failed (the unsuccessful step) with the input and variables it had, and, when that state
/// is a Distributed Map whose Map Run failed, which of its child executions succeeded.
#[derive(Clone, Debug)]
pub struct RedrivePoint {
    /// The state a redrive re-enters.
    pub state: String,
    pub(super) input: Value,
    pub(super) variables: Variables,
    /// The execution's start: a redrive keeps its `$$.Execution.StartTime`.
    pub(super) started: DateTime<Utc>,
    /// Virtual time and history events so far: a redrive continues both.
    pub(super) clock: Duration,
    pub(super) history_events: u64,
    /// Redrives so far (`$$.Execution.RedriveCount`).
    pub(super) redrive_count: u32,
    pub(super) map_run: Option<FailedMapRun>,
}

impl RedrivePoint {
    /// How many child executions of the failed Map Run succeeded (a redrive does not run them
    /// again); `None` when the failed state did not run a Map Run a redrive continues.
    pub fn map_run_children_succeeded(&self) -> Option<usize> {
        self.map_run.as_ref().map(|run| run.succeeded.len())
    }
}

/// A failed Map Run as a redrive continues it: the same Map Run (its sequence in the execution
/// gives its names, so the same ARN and child execution names) and the outputs of the children
/// that succeeded, by child execution name.
#[derive(Clone, Debug)]
pub(super) struct FailedMapRun {
    pub(super) state: String,
    pub(super) sequence: u64,
    pub(super) succeeded: HashMap<String, Value>,
}

/// Why [`Engine::redrive`] refused.
#[derive(Debug, thiserror::Error)]
pub enum RedriveRefused {
    #[error("the execution SUCCEEDED: there is nothing to redrive")]
    Succeeded,
    #[error("the execution failed before entering any state: there is no state to restart from")]
    NoFailedState,
    #[error(
        "the execution failed in `{0}`, a Parallel or inline Map: AWS redrives only its failed branches or iterations, which the local runner does not keep; start a new execution"
    )]
    NestedState(String),
}
