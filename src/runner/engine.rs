//! The interpreter: runs an [`asl::StateMachine`] the way Step Functions does, on virtual time.
//! Paths, payload templates, intrinsic functions and Choice conditions are evaluated by
//! [`asl::eval`]; this module moves the data between states and keeps time and quotas.
//!
//! Data moves InputPath -> Parameters -> task -> ResultSelector -> ResultPath -> OutputPath.
//! Retry delays and Wait states advance a virtual clock instead of sleeping; Map iterations run
//! concurrently (bounded by MaxConcurrency, at most 40 as an inline Map) and are scheduled on the
//! virtual clock as AWS would schedule them. A Distributed Map (`distributed`) runs each item as
//! a child execution with its own history and context object, through [`super::map_run`].
//! AWS's quotas are enforced: 256 KiB per state input, output and task result
//! (`States.DataLimitExceeded`: terminal for a state's input or output, a task failure that Retry
//! and Catch handle for a task's result), 25,000 history events per execution, Lambda's 6 MB
//! response and its concurrency quota.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use etl_lambda::ObjectStore;
use futures::StreamExt;
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::{Value, json};

use asl::eval::random::splitmix64;
use asl::eval::{self, EvalError, Sources, Variables};
use asl::{
    Assign, Branch, Catcher, ChoiceState, Condition, DataPath, ErrorName, Evaluated, FailState,
    JitterStrategy, JsonataString, Limit, MapState, ParallelState, PassState, PayloadTemplate,
    PayloadValue, QueryLanguage, ReferencePath, ResultPath, Retrier, State, StateMachine,
    StateName, States, TaskState, Transition, WaitFor, WaitState,
};

use super::lambda::{Functions, InvokeError, TOO_MANY_REQUESTS, json_len};
use super::load::LAMBDA_INVOKE;
use super::map_run::MapRunSummary;

mod distributed;
mod query;

use query::{Ending, StatesView, query_error, query_failed};

/// Step Functions' quota on any state's input, output or task result (UTF-8 bytes of the JSON).
pub const MAX_PAYLOAD_BYTES: usize = 262_144;
/// Step Functions' quota on one execution's history.
pub const MAX_HISTORY_EVENTS: u64 = 25_000;
/// An inline Map runs at most this many iterations at once, whatever MaxConcurrency says.
pub const INLINE_MAP_MAX_CONCURRENCY: usize = 40;
/// The longest Wait AWS accepts, in seconds (2^31 - 1: a Wait of 24,855 days starts, one of
/// 24,856 days fails).
pub const MAX_WAIT_SECONDS: i64 = i32::MAX as i64;

/// An error as Step Functions names it: `Error` and `Cause`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StateError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause")]
    pub cause: String,
    /// Raised by a Task's work (so `States.TaskFailed` matches it).
    #[serde(skip)]
    from_task: bool,
}

impl StateError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
            from_task: false,
        }
    }

    fn task(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            from_task: true,
            ..Self::new(error, cause)
        }
    }

    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new("States.Runtime", cause)
    }

    /// `States.Runtime` worded as AWS words it for a state: naming the state and the history
    /// event that entered it.
    pub fn runtime_in(state: &str, entered_event: u64, cause: impl std::fmt::Display) -> Self {
        Self::runtime(format!(
            "An error occurred while executing the state '{state}' (entered at the event id #{entered_event}). {cause}"
        ))
    }

    fn data_limit(state: &str, what: &str, bytes: usize) -> Self {
        Self::new(
            "States.DataLimitExceeded",
            format!(
                "The state/task '{state}' {what} of {bytes} bytes, exceeding the maximum number of bytes service limit ({MAX_PAYLOAD_BYTES})."
            ),
        )
    }

    /// Errors that end the execution whatever the Retry and Catch say (a task's own result over
    /// the quota is not one: it fails the task, which Retry and Catch handle).
    pub fn is_terminal(&self) -> bool {
        !self.from_task
            && matches!(
                self.error.as_str(),
                "States.DataLimitExceeded" | "States.Runtime"
            )
    }

    /// Whether an `ErrorEquals` list matches this error.
    fn matched_by(&self, names: &[ErrorName]) -> bool {
        !self.is_terminal()
            && names.iter().map(ErrorName::as_str).any(|name| {
                name == self.error
                    || name == "States.ALL"
                    || (name == "States.TaskFailed"
                        && self.from_task
                        && self.error != "States.Timeout")
            })
    }
}

impl From<EvalError> for StateError {
    /// A path that selects nothing and an intrinsic function that fails are both `States.Runtime`
    /// (AWS reserves `States.IntrinsicFailure`).
    fn from(err: EvalError) -> Self {
        match err {
            EvalError::Runtime(cause) | EvalError::Intrinsic(cause) => Self::runtime(cause),
        }
    }
}

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

/// How long an invocation lasts on the virtual clock.
#[derive(Clone, Copy, Debug)]
pub enum InvocationTime {
    /// As long as the handler really took (the CLI).
    Measured,
    /// A fixed duration (tests: deterministic schedules and environment reuse).
    Fixed(Duration),
}

/// Notified as the execution progresses (the CLI's progress bar).
pub trait Observer: Send + Sync {
    /// A Map starts on `items` items.
    fn map_started(&self, _state: &str, _items: usize) {}
    /// An iteration (or a Distributed Map's child execution) over `items` items ended, with its
    /// output when it succeeded.
    fn iteration_finished(&self, _state: &str, _items: u64, _output: Option<&Value>) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

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
    pub environments: usize,
    /// Every Distributed Map's Map Run, in the order they ended.
    pub map_runs: Vec<MapRunSummary>,
}

/// Runs executions against a set of functions.
pub struct Engine {
    functions: Functions,
    invocation_time: InvocationTime,
    observer: Box<dyn Observer>,
    /// Where Distributed Maps read items and write results (S3, or a local stand-in).
    objects: Option<ObjectStore>,
    seed: u64,
}

impl Engine {
    pub fn new(functions: Functions) -> Self {
        Self {
            functions,
            invocation_time: InvocationTime::Measured,
            observer: Box::new(Quiet),
            objects: None,
            seed: 0x5eed,
        }
    }

    /// The object store behind `arn:aws:states:::s3:*` (ItemReader, ResultWriter).
    pub fn objects(mut self, objects: ObjectStore) -> Self {
        self.objects = Some(objects);
        self
    }

    pub fn invocation_time(mut self, time: InvocationTime) -> Self {
        self.invocation_time = time;
        self
    }

    pub fn observer(mut self, observer: impl Observer + 'static) -> Self {
        self.observer = Box::new(observer);
        self
    }

    pub async fn execute(&self, machine: &StateMachine, spec: &ExecutionSpec) -> ExecutionOutcome {
        let started = Utc::now();
        let run = Run {
            engine: self,
            spec,
            language: machine.query_language.unwrap_or_default(),
            started,
            payloads: Mutex::new(BTreeMap::new()),
            results: Mutex::new(BTreeMap::new()),
            handled: Mutex::new(Vec::new()),
            task_attempts: AtomicU64::new(0),
            invocations: AtomicU64::new(0),
            map_runs: Mutex::new(Vec::new()),
            map_run_sequence: AtomicU64::new(0),
            random_seed: fnv1a(self.seed, spec.name.bytes()),
            random_draws: AtomicU64::new(0),
        };
        let execution = ExecutionContext {
            arn: spec.execution_arn(),
            name: spec.name.clone(),
            input: spec.input.clone(),
            start_time: started,
            state_machine_arn: spec.state_machine_arn(),
            state_machine_name: spec.state_machine.clone(),
        };
        let history = History::default();
        let variables = Variables::new();
        let frame = Frame {
            run: &run,
            history: &history,
            execution: &execution,
            variables: &variables,
            language: run.language,
            entered_event: 0,
        };
        let mut clock = Duration::ZERO;
        let result = run
            .run_execution(
                frame,
                Machine::from(machine),
                spec.input.clone(),
                &mut clock,
            )
            .await;
        let (status, output, error) = match result {
            Ok(output) => (ExecutionStatus::Succeeded, Some(output), None),
            Err(error) => {
                let status = if error.error == "States.Timeout"
                    && machine
                        .timeout_seconds
                        .is_some_and(|t| clock >= Duration::from_secs(t.into()))
                {
                    ExecutionStatus::TimedOut
                } else {
                    ExecutionStatus::Failed
                };
                (status, None, Some(error))
            }
        };
        ExecutionOutcome {
            status,
            output,
            error,
            virtual_elapsed: clock,
            history_events: history.events.load(Ordering::Relaxed),
            largest_payload_bytes: run.payloads.into_inner().expect("payload map poisoned"),
            largest_result_bytes: run.results.into_inner().expect("result map poisoned"),
            handled_errors: run.handled.into_inner().expect("error list poisoned"),
            task_attempts: run.task_attempts.load(Ordering::Relaxed),
            invocations: run.invocations.load(Ordering::Relaxed),
            environments: self.functions.environments_created(),
            map_runs: run.map_runs.into_inner().expect("map run list poisoned"),
        }
    }
}

/// One execution's (or Distributed Map child execution's) event count, against its quota.
struct History {
    events: AtomicU64,
    limit: u64,
}

impl Default for History {
    fn default() -> Self {
        Self {
            events: AtomicU64::new(0),
            limit: MAX_HISTORY_EVENTS,
        }
    }
}

impl History {
    /// An EXPRESS execution keeps no history, so it has no quota; its events are still counted.
    fn unbounded() -> Self {
        Self {
            limit: u64::MAX,
            ..Self::default()
        }
    }

    fn add(&self, events: u64) -> Result<(), StateError> {
        let total = self.events.fetch_add(events, Ordering::Relaxed) + events;
        if total > self.limit {
            Err(StateError::runtime(format!(
                "The execution reached the maximum number of history events ({MAX_HISTORY_EVENTS})."
            )))
        } else {
            Ok(())
        }
    }

    fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }
}

/// The execution states run in, as the context object (`$$.Execution`, `$$.StateMachine`)
/// reports it: the execution itself, or one of a Distributed Map's child executions.
struct ExecutionContext {
    arn: String,
    name: String,
    input: Value,
    start_time: DateTime<Utc>,
    state_machine_arn: String,
    state_machine_name: String,
}

/// What one running execution shares across its states, its Distributed Maps' child executions
/// included: the figures of the report.
struct Run<'e> {
    engine: &'e Engine,
    spec: &'e ExecutionSpec,
    /// The machine's query language, which a state uses unless it names its own.
    language: QueryLanguage,
    /// The wall-clock instant of virtual time zero.
    started: DateTime<Utc>,
    payloads: Mutex<BTreeMap<String, usize>>,
    results: Mutex<BTreeMap<String, usize>>,
    handled: Mutex<Vec<HandledError>>,
    task_attempts: AtomicU64,
    invocations: AtomicU64,
    map_runs: Mutex<Vec<MapRunSummary>>,
    /// Map Runs started so far: seeds each one's names.
    map_run_sequence: AtomicU64,
    /// Seeds the random values of intrinsic functions (`States.UUID`, `States.MathRandom`), so a
    /// run is reproducible...
    random_seed: u64,
    /// ...and distinct within it.
    random_draws: AtomicU64,
}

/// Where a state runs: the run, the execution (parent or child) whose history it adds to, and
/// the state's own scope: the variables it reads, its query language, the event that entered it.
#[derive(Clone, Copy)]
struct Frame<'r> {
    run: &'r Run<'r>,
    history: &'r History,
    execution: &'r ExecutionContext,
    variables: &'r Variables,
    language: QueryLanguage,
    /// The id of the state's StateEntered event, which AWS's error causes name.
    entered_event: u64,
}

impl<'r> Frame<'r> {
    /// The context of state `state` at virtual time `clock`.
    fn at(&self, state: &'r str, clock: Duration) -> At<'r> {
        At {
            execution: self.execution,
            state,
            clock,
            retry_count: None,
            item: None,
            variables: self.variables,
        }
    }

    /// The context of attempt `retry_count` (0 the first) of a Task, Map or Parallel state.
    fn at_attempt(&self, state: &'r str, clock: Duration, retry_count: u32) -> At<'r> {
        At {
            retry_count: Some(retry_count),
            ..self.at(state, clock)
        }
    }
}

/// What an expression of a state sees besides its input: what the context object (`$$`,
/// `$states.context`) describes, and the variables.
#[derive(Clone, Copy)]
struct At<'a> {
    variables: &'a Variables,
    execution: &'a ExecutionContext,
    state: &'a str,
    clock: Duration,
    /// `$$.State.RetryCount`, which only the states that can retry have.
    retry_count: Option<u32>,
    /// `$$.Map.Item`, in a Map's ItemSelector only.
    item: Option<MapItem<'a>>,
}

/// Where a state sends the execution next.
enum Step {
    Next(String, Value),
    End(Value),
}

/// The `$$.Map.Item` of one iteration, seen only by the Map's ItemSelector.
#[derive(Clone, Copy)]
struct MapItem<'v> {
    index: usize,
    value: &'v Value,
}

impl<'e> Run<'e> {
    fn handled(&self, state: &str, error: &StateError, handled_by: &'static str) {
        let mut handled = self.handled.lock().expect("error list poisoned");
        if handled.len() < KEPT_ERRORS {
            handled.push(HandledError {
                state: state.to_owned(),
                error: error.error.clone(),
                cause: error.cause.clone(),
                handled_by,
            });
        }
    }

    /// Measures a state's input, output or result against the quota, keeping the largest.
    fn record(&self, state: &str, what: Measured, value: &Value) -> Result<(), StateError> {
        let bytes = json_len(value);
        let (map, what) = match what {
            Measured::Input => (&self.payloads, "received an input"),
            Measured::Output => (&self.payloads, "returned an output"),
            Measured::Result => (&self.results, "returned a result"),
        };
        let mut payloads = map.lock().expect("payload map poisoned");
        let largest = payloads.entry(state.to_owned()).or_default();
        *largest = (*largest).max(bytes);
        if bytes > MAX_PAYLOAD_BYTES {
            return Err(StateError::data_limit(state, what, bytes));
        }
        Ok(())
    }

    fn context(&self, at: At<'_>) -> Value {
        let execution = at.execution;
        let entered = self.started + chrono::Duration::from_std(at.clock).unwrap_or_default();
        let mut context = json!({
            "Execution": {
                "Id": execution.arn,
                "Input": execution.input,
                "Name": execution.name,
                "RoleArn": self.spec.role_arn,
                "StartTime": execution.start_time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "RedriveCount": 0,
            },
            "State": {
                "EnteredTime": entered.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "Name": at.state,
            },
            "StateMachine": {"Id": execution.state_machine_arn, "Name": execution.state_machine_name},
        });
        if let Some(retry_count) = at.retry_count {
            context["State"]["RetryCount"] = json!(retry_count);
        }
        if let Some(item) = at.item {
            context["Map"] = json!({"Item": {"Index": item.index, "Value": item.value}});
        }
        context
    }

    /// Expands a payload template; a sync function so the lazily built context never lives across
    /// an await.
    fn expand(
        &self,
        template: &PayloadTemplate,
        input: &Value,
        at: At<'_>,
    ) -> Result<Value, StateError> {
        self.in_scope(input, at, |sources| eval::expand(template, sources))
    }

    /// Runs `evaluate` with `$` as `input`, `$$` as the context object at `at`, and the run's
    /// random draws.
    fn in_scope<T>(
        &self,
        input: &Value,
        at: At<'_>,
        evaluate: impl FnOnce(&Sources<'_>) -> Result<T, EvalError>,
    ) -> Result<T, StateError> {
        let build = || self.context(at);
        let draw = || self.draw();
        Ok(evaluate(
            &Sources::new(input, &build)
                .random(&draw)
                .variables(at.variables),
        )?)
    }

    /// The run's next random value: reproducible, distinct within the run.
    fn draw(&self) -> u64 {
        let draw = self.random_draws.fetch_add(1, Ordering::Relaxed);
        splitmix64(self.random_seed ^ draw.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// One execution from start to end: ExecutionStarted, its input against the quota, its
    /// states, ExecutionSucceeded (or ExecutionFailed, counted whatever the quota).
    async fn run_execution(
        &self,
        frame: Frame<'_>,
        machine: Machine<'_>,
        input: Value,
        clock: &mut Duration,
    ) -> Result<Value, StateError> {
        let result = async {
            frame.history.add(1)?; // ExecutionStarted
            let bytes = json_len(&input);
            if bytes > MAX_PAYLOAD_BYTES {
                return Err(StateError::new(
                    "States.DataLimitExceeded",
                    format!("The execution input of {bytes} bytes exceeds the maximum number of bytes service limit ({MAX_PAYLOAD_BYTES})."),
                ));
            }
            let output = self.run_machine(frame, machine, input, clock).await?;
            frame.history.add(1)?; // ExecutionSucceeded
            Ok(output)
        }
        .await;
        if result.is_err() {
            frame.history.events.fetch_add(1, Ordering::Relaxed); // ExecutionFailed
        }
        result
    }

    fn run_machine<'a>(
        &'a self,
        frame: Frame<'a>,
        machine: Machine<'a>,
        input: Value,
        clock: &'a mut Duration,
    ) -> BoxFuture<'a, Result<Value, StateError>> {
        Box::pin(async move {
            let deadline = machine
                .timeout_seconds
                .map(|t| *clock + Duration::from_secs(t.into()));
            let mut current = machine.start_at.as_str();
            let mut input = input;
            // A scope starts with the variables of the scopes around it; what its states
            // assign stays in it.
            let mut variables = frame.variables.clone();
            loop {
                let (name, state) = machine
                    .states
                    .get_key_value(current)
                    .expect("targets checked when the definition was loaded");
                let name = name.as_str();
                let scope = Frame {
                    variables: &variables,
                    language: state.query_language().unwrap_or(self.language),
                    ..frame
                };
                let (step, assigned) = self.run_state(scope, name, state, input, clock).await?;
                variables.extend(assigned);
                if deadline.is_some_and(|d| *clock > d) {
                    return Err(StateError::new(
                        "States.Timeout",
                        "The execution ran past the state machine's TimeoutSeconds.",
                    ));
                }
                match step {
                    Step::Next(next, output) => {
                        current = machine
                            .states
                            .get_key_value(next.as_str())
                            .map(|(k, _)| k.as_str())
                            .expect("targets checked when the definition was loaded");
                        input = output;
                    }
                    Step::End(output) => return Ok(output),
                }
            }
        })
    }

    async fn run_state(
        &self,
        frame: Frame<'_>,
        name: &str,
        state: &State,
        raw_input: Value,
        clock: &mut Duration,
    ) -> Result<(Step, Variables), StateError> {
        frame.history.add(1)?; // *StateEntered
        let frame = Frame {
            entered_event: frame.history.events(),
            ..frame
        };
        self.record(name, Measured::Input, &raw_input)?;
        let (step, assigned) = match state {
            State::Task(_) | State::Map(_) | State::Parallel(_) => {
                let work = Retryable::of(state).expect("Task, Map and Parallel can retry");
                self.run_with_retries(frame, name, work, raw_input, clock)
                    .await?
            }
            State::Pass(p) => self.pass(frame, frame.at(name, *clock), p, raw_input)?,
            State::Choice(c) => self.choice(frame, frame.at(name, *clock), c, raw_input)?,
            State::Wait(w) => self.wait(frame, name, w, raw_input, clock)?,
            State::Succeed(s) => {
                let effective = input_path(s.input_path.as_ref(), &raw_input, frame.variables)?;
                let ending = Ending {
                    result_path: None,
                    output_path: s.output_path.as_ref(),
                    output: s.output.as_ref(),
                    assign: None,
                };
                let view = StatesView::of_input(&raw_input);
                let (output, _) =
                    self.conclude(frame, frame.at(name, *clock), ending, view, effective)?;
                (Step::End(output), Variables::new())
            }
            State::Fail(f) => return Err(self.fail(frame, frame.at(name, *clock), f, &raw_input)),
        };
        let output = match &step {
            Step::Next(_, output) | Step::End(output) => output,
        };
        self.record(name, Measured::Output, output)?;
        frame.history.add(1)?; // *StateExited
        Ok((step, assigned))
    }

    /// The error a Fail state raises: Error and Cause as written (in JSONata, evaluated when
    /// they are JSONata strings), or their ErrorPath and CausePath evaluated (a path or an
    /// intrinsic function; a value that is not a string is its JSON text).
    fn fail(&self, frame: Frame<'_>, at: At<'_>, f: &FailState, raw_input: &Value) -> StateError {
        let text = |value: Value| match value {
            Value::String(text) => text,
            other => other.to_string(),
        };
        let pick = |field: &str, literal: &Option<String>, expr: &Option<PayloadValue>| match (
            literal, expr,
        ) {
            (Some(literal), _) if frame.language == QueryLanguage::Jsonata => {
                let template = Value::String(literal.clone());
                self.jsonata(frame, at, field, &template, StatesView::of_input(raw_input))
                    .map(text)
            }
            (Some(literal), _) => Ok(literal.clone()),
            (None, Some(expr)) => self
                .in_scope(raw_input, at, |sources| {
                    eval::evaluate(&format!("{field}Path"), expr, sources)
                })
                .map(text),
            (None, None) => Ok(String::new()),
        };
        let error = pick("Error", &f.error, &f.error_path);
        let cause = pick("Cause", &f.cause, &f.cause_path);
        match (error, cause) {
            (Ok(error), Ok(cause)) => StateError::new(error, cause),
            (Err(failed), _) | (_, Err(failed)) => failed,
        }
    }

    fn pass(
        &self,
        frame: Frame<'_>,
        at: At<'_>,
        p: &PassState,
        raw_input: Value,
    ) -> Result<(Step, Variables), StateError> {
        let effective = input_path(p.input_path.as_ref(), &raw_input, frame.variables)?;
        let result = match (&p.parameters, &p.result) {
            (Some(params), _) => Some(self.expand(params, &effective, at)?),
            (None, Some(result)) => Some(result.clone()),
            (None, None) if frame.language == QueryLanguage::JsonPath => Some(effective),
            (None, None) => None,
        };
        let ending = Ending {
            result_path: Some(&p.result_path),
            output_path: p.output_path.as_ref(),
            output: p.output.as_ref(),
            assign: p.assign.as_ref(),
        };
        let view = StatesView {
            result: result.as_ref(),
            ..StatesView::of_input(&raw_input)
        };
        let (output, assigned) = self.conclude(frame, at, ending, view, raw_input.clone())?;
        Ok((next(&p.transition, output)?, assigned))
    }

    /// A Choice: the first rule whose condition holds, else Default. In JSONata a rule may set
    /// its own Output and Assign; the state's apply when Default is taken.
    fn choice(
        &self,
        frame: Frame<'_>,
        at: At<'_>,
        c: &ChoiceState,
        raw_input: Value,
    ) -> Result<(Step, Variables), StateError> {
        let effective = input_path(c.input_path.as_ref(), &raw_input, frame.variables)?;
        let view = StatesView::of_input(&raw_input);
        let mut taken = None;
        for rule in &c.choices {
            let holds = match &rule.condition {
                Condition::Jsonata(condition) => {
                    match self.jsonata_setting(frame, at, "Condition", condition, &raw_input)? {
                        Value::Bool(holds) => holds,
                        other => {
                            return Err(query_failed(
                                frame,
                                at.state,
                                eval::jsonata::QueryError::unexpected_type(
                                    condition.expression(),
                                    "Condition",
                                    "boolean",
                                    &other,
                                ),
                            ));
                        }
                    }
                }
                condition => condition.holds(&effective, frame.variables)?,
            };
            if holds {
                taken = Some(rule);
                break;
            }
        }
        let (target, output, assign) = match (taken, &c.default) {
            (Some(rule), _) => (&rule.next, rule.output.as_ref(), rule.assign.as_ref()),
            (None, Some(default)) => (default, c.output.as_ref(), c.assign.as_ref()),
            (None, None) => {
                return Err(StateError::new(
                    "States.NoChoiceMatched",
                    "No Choice rule matched and the Choice state has no Default.",
                ));
            }
        };
        let ending = Ending {
            result_path: None,
            output_path: c.output_path.as_ref(),
            output,
            assign,
        };
        let (output, assigned) = self.conclude(frame, at, ending, view, effective)?;
        Ok((Step::Next(target.to_string(), output), assigned))
    }

    /// A Wait: Seconds, SecondsPath (a non-negative integer), Timestamp or TimestampPath (see
    /// [`wait_timestamp`]) advance the virtual clock; a delay past [`MAX_WAIT_SECONDS`] is
    /// `States.Runtime`, as in AWS. In JSONata, Seconds and Timestamp may be JSONata strings.
    fn wait(
        &self,
        frame: Frame<'_>,
        name: &str,
        w: &WaitState,
        raw_input: Value,
        clock: &mut Duration,
    ) -> Result<(Step, Variables), StateError> {
        let effective = input_path(w.input_path.as_ref(), &raw_input, frame.variables)?;
        let at = frame.at(name, *clock);
        let entered_event = frame.entered_event;
        let fails = |cause: String| StateError::runtime_in(name, entered_event, cause);
        let shown = |value: &Value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let now = self.started + chrono::Duration::from_std(*clock).unwrap_or_default();
        let until = |field: &str, shown_as: &str, timestamp: &str| {
            let at = wait_timestamp(timestamp).ok_or_else(|| {
                fails(format!(
                    "The {field} parameter does not reference a valid ISO-8601 extended offset date-time format string: {shown_as} == {timestamp}"
                ))
            })?;
            Ok::<_, StateError>((at.with_timezone(&Utc) - now).num_seconds().max(0))
        };
        let seconds = match &w.wait_for {
            WaitFor::Seconds(Evaluated::Fixed(seconds)) => i64::from(*seconds),
            WaitFor::Seconds(Evaluated::Expression(expression)) => {
                let value = self.jsonata_setting(frame, at, "Seconds", expression, &raw_input)?;
                match value.as_i64() {
                    Some(seconds) if seconds >= 0 => seconds,
                    _ => {
                        return Err(query_error(
                            frame,
                            name,
                            format!(
                                "The Seconds field must be a non-negative integer, but was: {value}"
                            ),
                        ));
                    }
                }
            }
            WaitFor::Timestamp(timestamp) if frame.language == QueryLanguage::Jsonata => {
                let template = Value::String(timestamp.clone());
                let value = self.jsonata(
                    frame,
                    at,
                    "Timestamp",
                    &template,
                    StatesView::of_input(&raw_input),
                )?;
                let text = shown(&value);
                let at = wait_timestamp(&text).ok_or_else(|| {
                    query_error(
                        frame,
                        name,
                        format!(
                            "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"
                        ),
                    )
                })?;
                (at.with_timezone(&Utc) - now).num_seconds().max(0)
            }
            WaitFor::SecondsPath(path) => {
                let value = path
                    .resolve(&effective, frame.variables)
                    .cloned()
                    .ok_or_else(|| {
                        fails(format!(
                            "The SecondsPath parameter does not reference an input value: {path}"
                        ))
                    })?;
                match value.as_i64() {
                    Some(seconds) if seconds >= 0 => seconds,
                    Some(_) => {
                        return Err(fails(format!(
                            "The SecondsPath parameter references a negative value: {path} == {}",
                            shown(&value)
                        )));
                    }
                    None => {
                        return Err(fails(format!(
                            "The SecondsPath parameter cannot be parsed as a long value: {path} == {}",
                            shown(&value)
                        )));
                    }
                }
            }
            WaitFor::Timestamp(timestamp) => until("Timestamp", timestamp, timestamp)?,
            WaitFor::TimestampPath(path) => {
                let value = path.resolve(&effective, frame.variables).ok_or_else(|| {
                    fails(format!(
                        "The TimestampPath parameter does not reference an input value: {path}"
                    ))
                })?;
                until("TimestampPath", &path.to_string(), &shown(value))?
            }
        };
        if seconds > MAX_WAIT_SECONDS {
            return Err(fails("Wait state delay is too long.".into()));
        }
        *clock += Duration::from_secs(seconds.unsigned_abs());
        let ending = Ending {
            result_path: None,
            output_path: w.output_path.as_ref(),
            output: w.output.as_ref(),
            assign: w.assign.as_ref(),
        };
        let view = StatesView::of_input(&raw_input);
        let (output, assigned) =
            self.conclude(frame, frame.at(name, *clock), ending, view, effective)?;
        Ok((next(&w.transition, output)?, assigned))
    }

    async fn run_with_retries(
        &self,
        frame: Frame<'_>,
        name: &str,
        retryable: Retryable<'_>,
        raw_input: Value,
        clock: &mut Duration,
    ) -> Result<(Step, Variables), StateError> {
        let Retryable {
            work,
            transition,
            input_path: input_path_,
            retriers,
            catchers,
            result_selector,
            ending,
        } = retryable;
        let effective = input_path(input_path_, &raw_input, frame.variables)?;
        let mut attempts = vec![0u32; retriers.len()];
        let mut retry_count = 0u32;
        let outcome = loop {
            let attempt = match work {
                Work::Task(t) => {
                    self.task(frame, name, t, &effective, clock, retry_count)
                        .await
                }
                Work::Map(m) => {
                    self.map(frame, name, m, &effective, clock, retry_count)
                        .await
                }
                Work::Parallel(p) => {
                    self.parallel(frame, name, p, &effective, clock, retry_count)
                        .await
                }
            };
            let error = match attempt {
                Ok(result) => break Ok(result),
                Err(error) => error,
            };
            // The first retrier whose ErrorEquals matches decides; an exhausted one stops retries.
            let Some(at) = retriers
                .iter()
                .position(|r| error.matched_by(&r.error_equals))
            else {
                break Err(error);
            };
            let retrier = &retriers[at];
            if attempts[at] >= retrier.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS) {
                break Err(error);
            }
            self.handled(name, &error, "retried");
            *clock += self.retry_delay(
                &frame.execution.name,
                name,
                retrier,
                attempts[at],
                retry_count,
            );
            attempts[at] += 1;
            retry_count += 1;
        };
        let at = frame.at_attempt(name, *clock, retry_count);
        match outcome {
            Ok(result) => {
                self.record(name, Measured::Result, &result)?;
                let selected = match result_selector {
                    Some(selector) => self.expand(selector, &result, at)?,
                    None => result,
                };
                let view = StatesView {
                    result: Some(&selected),
                    ..StatesView::of_input(&raw_input)
                };
                let (output, assigned) =
                    self.conclude(frame, at, ending, view, raw_input.clone())?;
                Ok((next(transition, output)?, assigned))
            }
            Err(error) => {
                let catcher = catchers.iter().find(|c| error.matched_by(&c.error_equals));
                let Some(catcher) = catcher else {
                    return Err(error);
                };
                self.handled(name, &error, "caught");
                let error_output = json!(error);
                let view = StatesView {
                    error_output: Some(&error_output),
                    ..StatesView::of_input(&raw_input)
                };
                let ending = Ending {
                    result_path: Some(&catcher.result_path),
                    output_path: None,
                    output: catcher.output.as_ref(),
                    assign: catcher.assign.as_ref(),
                };
                // A catcher's result is the error output, placed by its ResultPath (JSONPath).
                let view_with_result = StatesView {
                    result: Some(&error_output),
                    ..view
                };
                let view = match frame.language {
                    QueryLanguage::JsonPath => view_with_result,
                    QueryLanguage::Jsonata => view,
                };
                let (output, assigned) =
                    self.conclude(frame, at, ending, view, raw_input.clone())?;
                Ok((Step::Next(catcher.next.to_string(), output), assigned))
            }
        }
    }

    /// IntervalSeconds x BackoffRate^attempt, capped by MaxDelaySeconds, FULL jitter drawn from a
    /// generator seeded per execution, state and retry, so a run is reproducible (and the child
    /// executions of a Distributed Map, throttled together, do not retry together).
    fn retry_delay(
        &self,
        execution: &str,
        state: &str,
        retrier: &Retrier,
        attempt: u32,
        retry_count: u32,
    ) -> Duration {
        let interval = retrier.interval_seconds.unwrap_or(DEFAULT_INTERVAL_SECONDS);
        let backoff = retrier.backoff_rate.unwrap_or(DEFAULT_BACKOFF_RATE);
        let mut seconds = f64::from(interval) * backoff.powi(attempt as i32);
        if let Some(max) = retrier.max_delay_seconds {
            seconds = seconds.min(max as f64);
        }
        if retrier.jitter_strategy == Some(JitterStrategy::Full) {
            let seed =
                self.engine.seed ^ u64::from(retry_count).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            seconds *= unit_interval(fnv1a(seed, state.bytes().chain(execution.bytes())));
        }
        Duration::from_secs_f64(seconds)
    }

    async fn task(
        &self,
        frame: Frame<'_>,
        name: &str,
        t: &TaskState,
        effective: &Value,
        clock: &mut Duration,
        retry_count: u32,
    ) -> Result<Value, StateError> {
        // HeartbeatSeconds(Path) is modelled but has nothing to act on here: AWS applies it to
        // activities and callback tasks, and a Lambda invocation sends no heartbeats.
        let at = frame.at_attempt(name, *clock, retry_count);
        let timeout = match &t.timeout_seconds {
            None => None,
            Some(Limit::Fixed(seconds)) => Some(u64::from(*seconds)),
            Some(Limit::Path(path)) => Some(positive_seconds(
                "TimeoutSecondsPath",
                path,
                effective,
                frame.variables,
            )?),
            Some(Limit::Expression(expression)) => {
                let value =
                    self.jsonata_setting(frame, at, "TimeoutSeconds", expression, effective)?;
                Some(value.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                    query_error(
                        frame,
                        name,
                        format!(
                            "The TimeoutSeconds field must be a positive integer, but was: {value}"
                        ),
                    )
                })?)
            }
        };
        let request = match (&t.parameters, &t.arguments) {
            (Some(params), _) => self.expand(params, effective, at)?,
            (None, Some(arguments)) => self.jsonata(
                frame,
                at,
                "Arguments",
                arguments,
                StatesView::of_input(effective),
            )?,
            (None, None) => effective.clone(),
        };
        frame.history.add(3)?; // TaskScheduled, TaskStarted, TaskSucceeded/TaskFailed
        self.task_attempts.fetch_add(1, Ordering::Relaxed);
        let optimised = t.resource == LAMBDA_INVOKE;
        let (function, payload) = if optimised {
            let function = request
                .get("FunctionName")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    StateError::runtime(format!("the Task `{name}` has no FunctionName parameter"))
                })?
                .to_owned();
            let payload = request.get("Payload").cloned().unwrap_or_else(|| json!({}));
            (function, payload)
        } else {
            (t.resource.clone(), request)
        };
        let functions = &self.engine.functions;
        let Some(resolved) = functions.resolve(&function) else {
            return Err(StateError::task(
                "Lambda.ResourceNotFoundException",
                format!("Function not found: {function}"),
            ));
        };
        let timing = self.engine.invocation_time;
        let invocation = functions
            .invoke(resolved, payload, *clock, |real| match timing {
                InvocationTime::Measured => real,
                InvocationTime::Fixed(fixed) => fixed,
            })
            .await
            .map_err(|error| match error {
                InvokeError::Throttled { .. } => {
                    StateError::task(TOO_MANY_REQUESTS, error.to_string())
                }
                InvokeError::Environment(_) => {
                    StateError::task("Lambda.ServiceException", error.to_string())
                }
            })?;
        self.invocations.fetch_add(1, Ordering::Relaxed);
        let took = match timing {
            InvocationTime::Measured => invocation.real_duration,
            InvocationTime::Fixed(fixed) => fixed,
        };
        *clock += took;
        if let Some(timeout) = timeout
            && took > Duration::from_secs(timeout)
        {
            return Err(StateError::task(
                "States.Timeout",
                format!("The task `{name}` ran past its TimeoutSeconds ({timeout})."),
            ));
        }
        let payload = invocation
            .result
            .map_err(|e| StateError::task(e.error_type.clone(), e.cause()))?;
        let result = if optimised {
            let at = self.started + chrono::Duration::from_std(*clock).unwrap_or_default();
            invoke_result(payload, &asl::eval::random::pseudo_uuid(self.draw()), at)
        } else {
            payload
        };
        // A result over the quota fails the task itself (TaskFailed), so unlike the state's own
        // input and output, Retry and Catch handle it.
        self.record(name, Measured::Result, &result).map_err(|limit| {
            let task = if optimised { "lambda" } else { &t.resource };
            StateError::task(
                limit.error,
                format!(
                    "The state/task '{task}' returned a result with a size exceeding the maximum number of bytes service limit."
                ),
            )
        })?;
        Ok(result)
    }

    async fn map(
        &self,
        frame: Frame<'_>,
        name: &str,
        m: &MapState,
        effective: &Value,
        clock: &mut Duration,
        retry_count: u32,
    ) -> Result<Value, StateError> {
        if m.is_distributed() {
            return self
                .distributed_map(frame, name, m, effective, clock, retry_count)
                .await;
        }
        let at = frame.at_attempt(name, *clock, retry_count);
        let max_concurrency = self.max_concurrency(frame, at, m, effective)?;
        let items = self.items(frame, at, m, effective)?;
        frame.history.add(1)?; // MapStateStarted
        self.observer().map_started(name, items.len());
        let concurrency = match max_concurrency {
            0 => INLINE_MAP_MAX_CONCURRENCY,
            n => usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(INLINE_MAP_MAX_CONCURRENCY),
        };
        // Virtual time: each slot is free from some instant; an iteration starts at the earliest.
        let slots = Mutex::new(BinaryHeap::from(vec![Reverse(*clock); concurrency]));
        let processor = Machine::from(&m.item_processor.branch);
        let mut inputs = Vec::with_capacity(items.len());
        for (index, value) in items.iter().enumerate() {
            inputs.push(self.select_item(frame, m, effective, at, index, value)?);
        }
        let slots = &slots;
        let mut iterations = futures::stream::iter(inputs.into_iter().enumerate())
            .map(|(index, input)| async move {
                let Reverse(mut iteration_clock) = slots
                    .lock()
                    .expect("slots poisoned")
                    .pop()
                    .expect("one slot per running iteration");
                let output = async {
                    frame.history.add(1)?; // MapIterationStarted
                    let output = self
                        .run_machine(frame, processor, input, &mut iteration_clock)
                        .await?;
                    frame.history.add(1)?; // MapIterationSucceeded
                    self.observer().iteration_finished(name, 1, Some(&output));
                    Ok::<_, StateError>(output)
                }
                .await;
                slots
                    .lock()
                    .expect("slots poisoned")
                    .push(Reverse(iteration_clock));
                (index, output, iteration_clock)
            })
            .buffer_unordered(concurrency);
        let mut results = vec![Value::Null; items.len()];
        let mut end = at.clock;
        while let Some((index, output, finished)) = iterations.next().await {
            end = end.max(finished);
            match output {
                Ok(output) => results[index] = output,
                // The first failed iteration fails the Map (at the virtual time it failed);
                // dropping the stream aborts the others.
                Err(error) => {
                    *clock = end;
                    frame.history.events.fetch_add(1, Ordering::Relaxed); // MapStateFailed
                    return Err(error);
                }
            }
        }
        *clock = end;
        // After the iterations' events, so the ids of the events after it are AWS's.
        frame.history.add(1)?; // MapStateSucceeded
        Ok(Value::Array(results))
    }

    /// The input of the iteration over item `index`: the ItemSelector evaluated with
    /// `$$.Map.Item`, or the item itself.
    fn select_item(
        &self,
        frame: Frame<'_>,
        m: &MapState,
        effective: &Value,
        at: At<'_>,
        index: usize,
        value: &Value,
    ) -> Result<Value, StateError> {
        let Some(selector) = &m.item_selector else {
            return Ok(value.clone());
        };
        let at = At {
            item: Some(MapItem { index, value }),
            ..at
        };
        match frame.language {
            QueryLanguage::JsonPath => self.expand(selector, effective, at),
            QueryLanguage::Jsonata => {
                let template = serde_json::to_value(selector).expect("a template serializes");
                self.jsonata(
                    frame,
                    at,
                    "ItemSelector",
                    &template,
                    StatesView::of_input(effective),
                )
            }
        }
    }

    /// The items a Map iterates. JSONPath: what its ItemsPath (default `$`) selects. JSONata:
    /// its Items evaluated (default the input). Either must be an array.
    fn items(
        &self,
        frame: Frame<'_>,
        at: At<'_>,
        m: &MapState,
        effective: &Value,
    ) -> Result<Vec<Value>, StateError> {
        if frame.language == QueryLanguage::JsonPath {
            return items_at(m, at.state, effective, frame.variables);
        }
        let items = match &m.items {
            None => effective.clone(),
            Some(items) => {
                self.jsonata(frame, at, "Items", items, StatesView::of_input(effective))?
            }
        };
        match (items, &m.items) {
            (Value::Array(items), _) => Ok(items),
            (other, Some(Value::String(expression))) => Err(query_failed(
                frame,
                at.state,
                eval::jsonata::QueryError::unexpected_type(
                    JsonataString::new(expression.clone())
                        .as_ref()
                        .map_or(expression.as_str(), JsonataString::expression),
                    "Items",
                    "array",
                    &other,
                ),
            )),
            (other, _) => Err(query_error(
                frame,
                at.state,
                format!("Map state input must be an array but was: {other}"),
            )),
        }
    }

    /// A Map's MaxConcurrency: written, read by its MaxConcurrencyPath or (JSONata) evaluated;
    /// 0 means no limit of its own.
    fn max_concurrency(
        &self,
        frame: Frame<'_>,
        at: At<'_>,
        m: &MapState,
        effective: &Value,
    ) -> Result<u64, StateError> {
        let Some(limit) = &m.max_concurrency else {
            return Ok(0);
        };
        let max = self.with_setting_reader(frame, at, effective, |reader| {
            reader.non_negative("MaxConcurrency", limit)
        })?;
        Ok(max.unwrap_or(0))
    }

    async fn parallel(
        &self,
        frame: Frame<'_>,
        name: &str,
        p: &ParallelState,
        effective: &Value,
        clock: &mut Duration,
        retry_count: u32,
    ) -> Result<Value, StateError> {
        let at = frame.at_attempt(name, *clock, retry_count);
        let input = match (&p.parameters, &p.arguments) {
            (Some(params), _) => self.expand(params, effective, at)?,
            (None, Some(arguments)) => self.jsonata(
                frame,
                at,
                "Arguments",
                arguments,
                StatesView::of_input(effective),
            )?,
            (None, None) => effective.clone(),
        };
        frame.history.add(1)?; // ParallelStateStarted
        let start = *clock;
        let branches = p.branches.iter().map(|branch| {
            let input = input.clone();
            async move {
                let mut branch_clock = start;
                let output = self
                    .run_machine(frame, Machine::from(branch), input, &mut branch_clock)
                    .await?;
                Ok::<_, StateError>((output, branch_clock))
            }
        });
        let mut outputs = Vec::with_capacity(p.branches.len());
        for result in futures::future::join_all(branches).await {
            let (output, finished) = result.inspect_err(|_| {
                frame.history.events.fetch_add(1, Ordering::Relaxed); // ParallelStateFailed
            })?;
            *clock = (*clock).max(finished);
            outputs.push(output);
        }
        frame.history.add(1)?; // ParallelStateSucceeded
        Ok(Value::Array(outputs))
    }

    fn observer(&self) -> &dyn Observer {
        self.engine.observer.as_ref()
    }
}

/// What [`Run::record`] measures.
#[derive(Clone, Copy)]
enum Measured {
    Input,
    Output,
    Result,
}

/// The work of a state that can Retry and Catch.
#[derive(Clone, Copy)]
enum Work<'d> {
    Task(&'d TaskState),
    Map(&'d MapState),
    Parallel(&'d ParallelState),
}

/// A state that can Retry and Catch, with what it does with its result.
struct Retryable<'d> {
    work: Work<'d>,
    transition: &'d Transition,
    input_path: Option<&'d DataPath>,
    retriers: &'d [Retrier],
    catchers: &'d [Catcher],
    result_selector: Option<&'d PayloadTemplate>,
    ending: Ending<'d>,
}

impl<'d> Retryable<'d> {
    /// A Task, Map or Parallel state (the others cannot retry).
    fn of(state: &'d State) -> Option<Self> {
        // The three definitions name these fields alike.
        macro_rules! retryable {
            ($def:expr, $work:expr) => {
                Self {
                    work: $work,
                    transition: &$def.transition,
                    input_path: $def.input_path.as_ref(),
                    retriers: &$def.retry,
                    catchers: &$def.catch,
                    result_selector: $def.result_selector.as_ref(),
                    ending: Ending {
                        result_path: Some(&$def.result_path),
                        output_path: $def.output_path.as_ref(),
                        output: $def.output.as_ref(),
                        assign: $def.assign.as_ref(),
                    },
                }
            };
        }
        Some(match state {
            State::Task(t) => retryable!(t, Work::Task(t)),
            State::Map(m) => retryable!(m, Work::Map(m)),
            State::Parallel(p) => retryable!(p, Work::Parallel(p)),
            _ => return None,
        })
    }
}

/// The items a JSONPath Map iterates: what its ItemsPath (default `$`) selects, which must be
/// an array.
fn items_at(
    m: &MapState,
    name: &str,
    effective: &Value,
    variables: &Variables,
) -> Result<Vec<Value>, StateError> {
    let selected = match &m.items_path {
        None | Some(DataPath::Null) => Some(effective.clone()),
        Some(DataPath::Reference(path)) => path.resolve(effective, variables).cloned(),
        Some(DataPath::Select(path)) => path.select_in(effective, variables),
    };
    match selected {
        Some(Value::Array(items)) => Ok(items),
        _ => Err(StateError::runtime(format!(
            "the ItemsPath `{}` of the Map `{name}` does not select an array",
            m.items_path
                .as_ref()
                .map_or_else(|| "$".to_owned(), ToString::to_string)
        ))),
    }
}

/// A Task's TimeoutSecondsPath (or HeartbeatSecondsPath): a positive integer, else `States.Runtime`.
fn positive_seconds(
    field: &str,
    path: &ReferencePath,
    effective: &Value,
    variables: &Variables,
) -> Result<u64, StateError> {
    let value = path.resolve(effective, variables).ok_or_else(|| {
        StateError::runtime(format!(
            "Invalid path '{path}' : The {field} field references an invalid value."
        ))
    })?;
    value.as_u64().filter(|n| *n > 0).ok_or_else(|| {
        StateError::runtime(format!(
            "The {field} field refers to value \"{value}\" which is not a positive integer: {path}"
        ))
    })
}

/// A machine the engine runs: the execution's, a Map's processor or a Parallel branch.
#[derive(Clone, Copy)]
struct Machine<'m> {
    start_at: &'m StateName,
    states: &'m States,
    /// Only a whole state machine has one.
    timeout_seconds: Option<u32>,
}

impl<'m> From<&'m StateMachine> for Machine<'m> {
    fn from(machine: &'m StateMachine) -> Self {
        Self {
            start_at: &machine.start_at,
            states: &machine.states,
            timeout_seconds: machine.timeout_seconds,
        }
    }
}

impl<'m> From<&'m Branch> for Machine<'m> {
    fn from(branch: &'m Branch) -> Self {
        Self {
            start_at: &branch.start_at,
            states: &branch.states,
            timeout_seconds: None,
        }
    }
}

/// The result of `arn:aws:states:::lambda:invoke` around the function's `payload`, in AWS's
/// shape: the HTTP response's headers (twice, as AWS gives them) and the request id.
fn invoke_result(payload: Value, request_id: &str, at: DateTime<Utc>) -> Value {
    let length = python_json_len(&payload).to_string();
    let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let trace = format!(
        "Root=1-{:08x}-{}",
        at.timestamp(),
        &request_id.replace('-', "")[..24]
    );
    json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Length": [length],
                "Date": [date],
                "X-Amzn-Trace-Id": [trace],
                "Content-Type": ["application/json"]
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "application/json",
                "Date": date,
                "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id,
                "X-Amzn-Trace-Id": trace
            },
            "HttpStatusCode": 200
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200
    })
}

/// The length of `value` as Python's `json.dumps` writes it (`", "` and `": "` between items),
/// the body a Python function's response has: AWS's Content-Length header.
fn python_json_len(value: &Value) -> usize {
    let separators = |items: usize| 2 * items.saturating_sub(1);
    match value {
        Value::Array(items) => {
            2 + separators(items.len()) + items.iter().map(python_json_len).sum::<usize>()
        }
        Value::Object(members) => {
            2 + separators(members.len())
                + members
                    .iter()
                    .map(|(key, value)| {
                        json_len(&Value::String(key.clone())) + 2 + python_json_len(value)
                    })
                    .sum::<usize>()
        }
        scalar => json_len(scalar),
    }
}

/// AWS's Retry defaults: IntervalSeconds 1, MaxAttempts 3, BackoffRate 2.0.
const DEFAULT_INTERVAL_SECONDS: u32 = 1;
const DEFAULT_MAX_ATTEMPTS: u32 = 3;
const DEFAULT_BACKOFF_RATE: f64 = 2.0;

/// splitmix64 mapped to [0, 1).
fn unit_interval(seed: u64) -> f64 {
    (splitmix64(seed) >> 11) as f64 / (1u64 << 53) as f64
}

/// FNV-1a of `bytes` from `seed`: a stable seed from names.
fn fnv1a(seed: u64, bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(seed, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01B3)
    })
}

fn next(transition: &Transition, output: Value) -> Result<Step, StateError> {
    Ok(match transition {
        Transition::Next(next) => Step::Next(next.to_string(), output),
        Transition::End => Step::End(output),
    })
}

/// InputPath: absent is `$`, `null` gives `{}`, a path that selects nothing is `States.Runtime`.
fn input_path(
    path: Option<&DataPath>,
    raw: &Value,
    variables: &Variables,
) -> Result<Value, StateError> {
    select_or_runtime(path, raw, variables, "InputPath")
}

fn output_path(
    path: Option<&DataPath>,
    output: Value,
    variables: &Variables,
) -> Result<Value, StateError> {
    match path {
        None => Ok(output),
        Some(DataPath::Reference(path)) if path.is_root() => Ok(output),
        Some(path) => select_or_runtime(Some(path), &output, variables, "OutputPath"),
    }
}

fn select_or_runtime(
    path: Option<&DataPath>,
    value: &Value,
    variables: &Variables,
    field: &str,
) -> Result<Value, StateError> {
    let selected = match path {
        None => Some(value.clone()),
        Some(DataPath::Null) => return Ok(json!({})),
        Some(DataPath::Reference(path)) => path.resolve(value, variables).cloned(),
        Some(DataPath::Select(path)) => path.select_in(value, variables),
    };
    selected.ok_or_else(|| {
        StateError::runtime(format!(
            "Invalid path '{}' : The {field} references an invalid value.",
            path.expect("the root always selects")
        ))
    })
}

/// ResultPath: absent or `$` replaces the input, `null` keeps the input, a deeper path merges
/// the result in.
fn result_path(path: &ResultPath, raw_input: Value, result: Value) -> Result<Value, StateError> {
    match path {
        ResultPath::Replace => Ok(result),
        ResultPath::Discard => Ok(raw_input),
        ResultPath::At(path) => {
            let mut output = raw_input;
            path.set(&mut output, result).map_err(|e| {
                StateError::new(
                    "States.ResultPathMatchFailure",
                    format!("Unable to apply ResultPath '{path}' to the state input: {e}"),
                )
            })?;
            Ok(output)
        }
    }
}

/// A Wait's timestamp as AWS reads it: RFC 3339 with an uppercase `T` between date and time and
/// an uppercase `Z` or a numeric offset (`2016-03-14T01:59:00Z`, `...:00.5+01:00`); fractions of
/// a second of any length. No zone at all, a lowercase `t`/`z` or a space is refused.
fn wait_timestamp(text: &str) -> Option<DateTime<chrono::FixedOffset>> {
    let bytes = text.as_bytes();
    let numeric_offset = |offset: &[u8]| {
        matches!(offset, [b'+' | b'-', h1, h2, b':', m1, m2]
            if [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()))
    };
    let zoned = text.ends_with('Z') || bytes.len() > 6 && numeric_offset(&bytes[bytes.len() - 6..]);
    if bytes.get(10) != Some(&b'T') || !zoned {
        return None;
    }
    DateTime::parse_from_rfc3339(text).ok()
}

#[cfg(test)]
mod tests;
