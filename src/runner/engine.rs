//! The interpreter: runs an [`asl::StateMachine`] the way Step Functions does, on virtual time.
//! Paths, payload templates, intrinsic functions and Choice conditions are evaluated by
//! [`asl::eval`]; this module moves the data between states and keeps time and quotas.
//!
//! In JSONPath, data moves InputPath -> Parameters -> task -> ResultSelector -> ResultPath ->
//! OutputPath; in JSONata, Arguments -> task -> Output; in both, Assign sets variables after it.
//! Retry delays and Wait states advance a virtual clock instead of sleeping; Map iterations run
//! concurrently (bounded by MaxConcurrency, at most 40 as an inline Map) and are scheduled on the
//! virtual clock as AWS would schedule them. A Distributed Map (`distributed`) runs each item as
//! a child execution with its own history and context object, through [`super::map_run`].
//! AWS's quotas are enforced: 256 KiB per state input, output and task result
//! (`States.DataLimitExceeded`: terminal for a state's input or output, a task failure that Retry
//! and Catch handle for a task's result), 25,000 history events per execution, one year of
//! virtual time per execution (`States.Timeout`, TIMED_OUT), Lambda's 6 MB response and its
//! concurrency quota. The limits are [`asl::limits`]'.
//!
//! This file holds the engine, the execution's context object and the loop from state to state;
//! each concern has its own file: [`error`] (a state's error), [`outcome`] (an execution's spec,
//! outcome and redrive point), [`history`] (its event quota), [`flow`] (Pass, Choice, Wait, Fail), [`task`],
//! [`map`] (inline Map, Parallel), [`distributed`], [`retry`] (Retry and Catch), [`paths`]
//! (JSONPath's InputPath, ResultPath, OutputPath) and [`query`] (variables, JSONata, how a state
//! ends in either language).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use etl_lambda::ObjectStore;
use futures::StreamExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use asl::eval::random::splitmix64;
use asl::eval::{self, EvalError, Sources, Variables};
use asl::limits::PAYLOAD_BYTES;
use asl::{
    Assign, Branch, Catcher, ChoiceState, Condition, DataPath, Evaluated, FailState,
    JitterStrategy, JsonataString, Limit, MapState, ParallelState, PassState, PayloadTemplate,
    PayloadValue, QueryLanguage, ReferencePath, ResultPath, Retrier, State, StateMachine,
    StateName, States, TaskState, Transition, WaitFor, WaitState,
};

use super::function::{Functions, InvokeError, TOO_MANY_REQUESTS, json_len};
use super::map_run::MapRunSummary;

mod distributed;
mod error;
mod flow;
mod history;
mod map;
mod outcome;
mod paths;
mod query;
mod retry;
mod task;

pub use error::StateError;
use history::History;
use outcome::FailedMapRun;
pub use outcome::{
    ExecutionOutcome, ExecutionSpec, ExecutionStatus, HandledError, KEPT_ERRORS, RedrivePoint,
    RedriveRefused,
};
use paths::{input_path, output_path, result_path};
use query::{Ending, StatesView, query_error, query_failed};
use retry::Retryable;

/// The longest a Standard execution runs on the virtual clock: past it, it times out.
pub const MAX_EXECUTION_TIME: Duration = Duration::from_secs(asl::limits::EXECUTION_SECONDS);

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

/// Runs executions against a set of functions.
pub struct Engine {
    functions: Functions,
    invocation_time: InvocationTime,
    observer: Box<dyn Observer>,
    /// Where Distributed Maps read items and write results (S3, or a local stand-in).
    objects: Option<ObjectStore>,
    /// When executions start (see [`Engine::start_time`]); `None`: the moment each starts.
    start_time: Option<DateTime<Utc>>,
    seed: u64,
}

impl Engine {
    pub fn new(functions: Functions) -> Self {
        Self {
            functions,
            invocation_time: InvocationTime::Measured,
            observer: Box::new(Quiet),
            objects: None,
            start_time: None,
            seed: 0x5eed,
        }
    }

    /// The object store behind `arn:aws:states:::s3:*` (ItemReader, ResultWriter).
    pub fn objects(mut self, objects: ObjectStore) -> Self {
        self.objects = Some(objects);
        self
    }

    /// Starts every execution at `at` instead of now: `$$.Execution.StartTime` and the origin of
    /// the virtual clock against which a Wait's timestamp is measured. A recording replays at the
    /// moment its clock-derived inputs were computed.
    pub fn start_time(mut self, at: DateTime<Utc>) -> Self {
        self.start_time = Some(at);
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
        self.execute_from(machine, spec, None).await
    }

    /// Redrives a failed execution of `machine` as AWS's RedriveExecution does: the same
    /// execution (name, input, start time) continues from the top-level state that failed, with
    /// the input it had there; the states that succeeded are not run again. A Distributed Map
    /// whose Map Run failed re-runs only the child executions that did not succeed (from their
    /// first state: the local runner keeps no child's own failure point), under the same Map Run
    /// and child names; retries start again from 0. A Fail state is re-entered and fails again.
    ///
    /// `failed` is the outcome of the execution (or of its last redrive) with this engine's
    /// `spec`; the engine's functions and object store are the ones the redrive runs with (fixed,
    /// say, since the failure).
    pub async fn redrive(
        &self,
        machine: &StateMachine,
        spec: &ExecutionSpec,
        failed: &ExecutionOutcome,
    ) -> Result<ExecutionOutcome, RedriveRefused> {
        if failed.status == ExecutionStatus::Succeeded {
            return Err(RedriveRefused::Succeeded);
        }
        let point = failed
            .redrive
            .as_ref()
            .ok_or(RedriveRefused::NoFailedState)?;
        match machine.states.get(point.state.as_str()) {
            Some(State::Parallel(_)) => {
                return Err(RedriveRefused::NestedState(point.state.clone()));
            }
            Some(State::Map(m)) if !m.is_distributed() => {
                return Err(RedriveRefused::NestedState(point.state.clone()));
            }
            _ => {}
        }
        Ok(self.execute_from(machine, spec, Some(point)).await)
    }

    async fn execute_from(
        &self,
        machine: &StateMachine,
        spec: &ExecutionSpec,
        resume: Option<&RedrivePoint>,
    ) -> ExecutionOutcome {
        let started = resume.map_or_else(
            || self.start_time.unwrap_or_else(Utc::now),
            |point| point.started,
        );
        let redriven_map_run = resume.and_then(|point| point.map_run.clone());
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
            lambda_billed_ms: AtomicU64::new(0),
            map_runs: Mutex::new(Vec::new()),
            // A redriven Map Run keeps its sequence (so its names); later ones follow it.
            map_run_sequence: AtomicU64::new(
                redriven_map_run.as_ref().map_or(0, |run| run.sequence + 1),
            ),
            random_seed: fnv1a(self.seed, spec.name.bytes()),
            random_draws: AtomicU64::new(0),
            redrive_count: resume.map_or(0, |point| point.redrive_count + 1),
            resume: Mutex::new(resume.map(|point| FailedAt {
                state: point.state.clone(),
                input: point.input.clone(),
                variables: point.variables.clone(),
            })),
            redriven_map_run: Mutex::new(redriven_map_run),
            failed_at: Mutex::new(None),
            failed_map_run: Mutex::new(None),
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
        if let Some(point) = resume {
            // A redrive appends to the execution's history.
            history
                .events
                .store(point.history_events, Ordering::Relaxed);
        }
        let variables = Variables::new();
        let frame = Frame {
            run: &run,
            history: &history,
            execution: &execution,
            variables: &variables,
            language: run.language,
            entered_event: 0,
        };
        let mut clock = resume.map_or(Duration::ZERO, |point| point.clock);
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
                let status = if error.execution_timed_out
                    || error.error == "States.Timeout"
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
        let history_events = history.events.load(Ordering::Relaxed);
        let failed_at = run.failed_at.lock().expect("failure poisoned").take();
        // A redriven Map Run that failed before it started (its ItemReader, say) is still the
        // one the next redrive continues.
        let failed_map_run = run
            .failed_map_run
            .lock()
            .expect("map run poisoned")
            .take()
            .or_else(|| {
                run.redriven_map_run
                    .lock()
                    .expect("map run poisoned")
                    .take()
            });
        let redrive = match (&error, failed_at) {
            (Some(_), Some(failed_at)) => Some(RedrivePoint {
                map_run: failed_map_run.filter(|map_run| map_run.state == failed_at.state),
                state: failed_at.state,
                input: failed_at.input,
                variables: failed_at.variables,
                started,
                clock,
                history_events,
                redrive_count: run.redrive_count,
            }),
            _ => None,
        };
        ExecutionOutcome {
            status,
            output,
            error,
            virtual_elapsed: clock,
            history_events,
            largest_payload_bytes: run.payloads.into_inner().expect("payload map poisoned"),
            largest_result_bytes: run.results.into_inner().expect("result map poisoned"),
            handled_errors: run.handled.into_inner().expect("error list poisoned"),
            task_attempts: run.task_attempts.load(Ordering::Relaxed),
            invocations: run.invocations.load(Ordering::Relaxed),
            lambda_billed_ms: run.lambda_billed_ms.load(Ordering::Relaxed),
            state_transitions: history.transitions(),
            environments: self.functions.environments_created(),
            map_runs: run.map_runs.into_inner().expect("map run list poisoned"),
            redrive,
        }
    }
}

/// A top-level state with the input and variables it was entered with.
struct FailedAt {
    state: String,
    input: Value,
    variables: Variables,
}

/// Advances `clock` by a wait (a Wait state, a retry's delay): an execution that would still be
/// waiting at [`MAX_EXECUTION_TIME`] times out then.
fn wait_on(clock: &mut Duration, wait: Duration) -> Result<(), StateError> {
    let until = clock.saturating_add(wait);
    if until > MAX_EXECUTION_TIME {
        *clock = (*clock).max(MAX_EXECUTION_TIME);
        return Err(StateError::execution_timed_out());
    }
    *clock = until;
    Ok(())
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
    lambda_billed_ms: AtomicU64,
    map_runs: Mutex<Vec<MapRunSummary>>,
    /// Map Runs started so far: seeds each one's names.
    map_run_sequence: AtomicU64,
    /// Seeds the random values of intrinsic functions (`States.UUID`, `States.MathRandom`), so a
    /// run is reproducible...
    random_seed: u64,
    /// ...and distinct within it.
    random_draws: AtomicU64,
    /// `$$.Execution.RedriveCount`.
    redrive_count: u32,
    /// Where a redrive restarts the top-level machine; taken when it starts.
    resume: Mutex<Option<FailedAt>>,
    /// The failed Map Run a redrive continues; taken by its Distributed Map.
    redriven_map_run: Mutex<Option<FailedMapRun>>,
    /// The top-level state the execution failed in.
    failed_at: Mutex<Option<FailedAt>>,
    /// The last top-level Distributed Map whose Map Run failed.
    failed_map_run: Mutex<Option<FailedMapRun>>,
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
    item: Option<CurrentItem<'a>>,
}

/// Where a state sends the execution next.
enum Step {
    Next(String, Value),
    End(Value),
}

/// The `$$.Map.Item` of one iteration, seen only by the Map's ItemSelector.
#[derive(Clone, Copy)]
struct CurrentItem<'v> {
    index: usize,
    value: &'v Value,
}

impl<'e> Run<'e> {
    /// The wall-clock instant of virtual time `clock`: saturating at the last instant chrono
    /// represents (a clock that far has timed out long before).
    fn instant(&self, clock: Duration) -> DateTime<Utc> {
        chrono::Duration::from_std(clock)
            .ok()
            .and_then(|elapsed| self.started.checked_add_signed(elapsed))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

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
        let map = match what {
            Measured::Input | Measured::Output => &self.payloads,
            Measured::Result => &self.results,
        };
        let mut payloads = map.lock().expect("payload map poisoned");
        let largest = payloads.entry(state.to_owned()).or_default();
        *largest = (*largest).max(bytes);
        if bytes > PAYLOAD_BYTES {
            return Err(StateError::data_limit(state, what));
        }
        Ok(())
    }

    fn context(&self, at: At<'_>) -> Value {
        let execution = at.execution;
        let entered = self.instant(at.clock);
        let mut context = json!({
            "Execution": {
                "Id": execution.arn,
                "Input": execution.input,
                "Name": execution.name,
                "RoleArn": self.spec.role_arn,
                "StartTime": execution.start_time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "RedriveCount": self.redrive_count,
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
            if bytes > PAYLOAD_BYTES {
                return Err(StateError::new(
                    "States.DataLimitExceeded",
                    format!("The execution input of {bytes} bytes exceeds the maximum number of bytes service limit ({PAYLOAD_BYTES})."),
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
            let resume = match machine.root {
                true => self.resume.lock().expect("resume poisoned").take(),
                false => None,
            };
            if let Some(resume) = resume {
                current = machine
                    .states
                    .get_key_value(resume.state.as_str())
                    .map(|(k, _)| k.as_str())
                    .expect("a redrive restarts from a state of the same machine");
                input = resume.input;
                variables = resume.variables;
            }
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
                // The top-level machine remembers where it fails, for a redrive.
                let kept = machine.root.then(|| input.clone());
                let ran = self.run_state(scope, name, state, input, clock).await;
                let failed_here = |input: Option<Value>| {
                    if let Some(input) = input {
                        *self.failed_at.lock().expect("failure poisoned") = Some(FailedAt {
                            state: name.to_owned(),
                            input,
                            variables: variables.clone(),
                        });
                    }
                };
                // However the state ended, an execution past its maximum time has timed out.
                let ran = match ran {
                    _ if machine.root && *clock > MAX_EXECUTION_TIME => {
                        *clock = MAX_EXECUTION_TIME;
                        Err(StateError::execution_timed_out())
                    }
                    ran => ran,
                };
                let (step, assigned) = match ran {
                    Ok(ran) => ran,
                    Err(error) => {
                        failed_here(kept);
                        return Err(error);
                    }
                };
                if deadline.is_some_and(|d| *clock > d) {
                    failed_here(kept);
                    // AWS's ExecutionTimedOut event carries no cause.
                    return Err(StateError::new("States.Timeout", ""));
                }
                variables.extend(assigned);
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
        if *clock >= MAX_EXECUTION_TIME {
            return Err(StateError::execution_timed_out());
        }
        frame.history.add(1)?; // *StateEntered
        frame.history.transition();
        let frame = Frame {
            entered_event: frame.history.events(),
            ..frame
        };
        let entered_event = frame.entered_event;
        self.state_body(frame, name, state, raw_input, clock)
            .await
            .map_err(|error| error.located(name, entered_event))
    }

    /// What [`Self::run_state`] does once the state is entered.
    async fn state_body(
        &self,
        frame: Frame<'_>,
        name: &str,
        state: &State,
        raw_input: Value,
        clock: &mut Duration,
    ) -> Result<(Step, Variables), StateError> {
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

/// A machine the engine runs: the execution's, a Map's processor or a Parallel branch.
#[derive(Clone, Copy)]
struct Machine<'m> {
    start_at: &'m StateName,
    states: &'m States,
    /// Only a whole state machine has one.
    timeout_seconds: Option<u32>,
    /// The execution's own machine (not a Map's processor nor a Parallel branch): where a
    /// redrive restarts.
    root: bool,
}

impl<'m> From<&'m StateMachine> for Machine<'m> {
    fn from(machine: &'m StateMachine) -> Self {
        Self {
            start_at: &machine.start_at,
            states: &machine.states,
            timeout_seconds: machine.timeout_seconds,
            root: true,
        }
    }
}

impl<'m> From<&'m Branch> for Machine<'m> {
    fn from(branch: &'m Branch) -> Self {
        Self {
            start_at: &branch.start_at,
            states: &branch.states,
            timeout_seconds: None,
            root: false,
        }
    }
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

#[cfg(test)]
mod tests;
