//! The untyped ASL model: a state machine and its states as the Amazon States Language defines
//! them, with serde giving the JSON form both ways. A state holds the fields of both query
//! languages (JSONPath's `Parameters`, `ResultPath`..., JSONata's `Arguments`, `Output`...);
//! [`crate::validate`] refuses the fields of the language a state does not run in.
//!
//! Keys are written in one fixed order, the data flow of a state: `Type`, `Comment`, what the
//! state does (`Resource`, `ItemsPath`, `Choices`, ...), then `InputPath` -> `Parameters` ->
//! (the work) -> `ResultSelector` -> `ResultPath` -> `OutputPath`, then `Retry`, `Catch` and last
//! `Next`/`End`. Unknown keys are an error when parsing, so a parsed definition re-renders to the
//! same bytes. A value and its `*Path` twin (`MaxConcurrency`/`MaxConcurrencyPath`, ...) are one
//! [`Limit`] field, so a definition cannot hold both.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::path::{DataPath, PathError, ReferencePath};
use super::payload::{PayloadTemplate, PayloadValue};
use super::query::{Assign, Evaluated, JsonataString, QueryLanguage};

/// The states of a machine, a Map's processor or a Parallel branch, in the order they were added.
pub type States = IndexMap<StateName, State>;

/// A whole state machine definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct StateMachine {
    /// A human-readable description of the machine; AWS does not act on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// This state's query language, when it is not the machine's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_language: Option<QueryLanguage>,
    /// The ASL version the definition is written in (`1.0` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The state the execution starts with.
    pub start_at: StateName,
    /// How long the whole execution may run before it fails with `States.Timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    /// The machine's top-level states by name.
    pub states: States,
}

/// The name of a state: 1 to 80 characters, unique within the machine.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct StateName(String);

impl StateName {
    /// The name, or an error unless it is 1 to 80 characters long.
    pub fn new(name: impl Into<String>) -> Result<Self, PathError> {
        let name = name.into();
        if (1..=80).contains(&name.chars().count()) {
            Ok(Self(name))
        } else {
            Err(PathError {
                text: name,
                kind: "state name",
                problem: "it must be 1 to 80 characters".into(),
            })
        }
    }

    /// The name as written in the definition.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for StateName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for StateName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::new(String::deserialize(deserializer)?).map_err(de::Error::custom)
    }
}

impl fmt::Display for StateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a state goes when it is done: to the next state, or the (sub)machine ends. A state
/// cannot have both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    /// `Next`: the state that runs after this one.
    Next(StateName),
    /// `"End": true`: the (sub)machine ends with this state's output.
    End,
}

impl Serialize for Transition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Serialized as a map so that, flattened into its state, it becomes one key of the state.
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Transition::Next(name) => map.serialize_entry("Next", name)?,
            Transition::End => map.serialize_entry("End", &true)?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Transition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TransitionVisitor;
        impl<'de> Visitor<'de> for TransitionVisitor {
            type Value = Transition;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`Next` or `End`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Transition, A::Error> {
                let mut next: Option<StateName> = None;
                let mut end: Option<bool> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "Next" => next = Some(map.next_value()?),
                        "End" => end = Some(map.next_value()?),
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                match (next, end) {
                    (Some(_), Some(_)) => Err(de::Error::custom(
                        "a state has `Next` or `\"End\": true`, never both",
                    )),
                    (Some(next), None) => Ok(Transition::Next(next)),
                    (None, Some(true)) => Ok(Transition::End),
                    (None, Some(false)) => Err(de::Error::custom(
                        "`\"End\": false` is not allowed: give the state a `Next` instead",
                    )),
                    (None, None) => Err(de::Error::custom(
                        "a state that is not Choice, Succeed or Fail needs `Next` or `\"End\": true`",
                    )),
                }
            }
        }
        // A struct request, so that a flattening parent hands over only these two keys.
        deserializer.deserialize_struct("Transition", &["Next", "End"], TransitionVisitor)
    }
}

/// Where a state puts its result in its input: absent means the result replaces the input,
/// `null` discards the result (the output is the input).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum ResultPath {
    /// No `ResultPath` key: the result replaces the input.
    #[default]
    Replace,
    /// A path into the input, at which the result is written.
    At(ReferencePath),
    /// `"ResultPath": null`: the result is dropped and the input passed on.
    Discard,
}

impl ResultPath {
    /// Whether `ResultPath` is absent (and so not written).
    pub fn is_replace(&self) -> bool {
        matches!(self, ResultPath::Replace)
    }
}

impl Serialize for ResultPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ResultPath::Replace => ReferencePath::root().serialize(serializer),
            ResultPath::At(path) => path.serialize(serializer),
            ResultPath::Discard => serializer.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for ResultPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Reached only when the key is present (absent is `Default`), so `null` means discard.
        Ok(match Option::<ReferencePath>::deserialize(deserializer)? {
            None => ResultPath::Discard,
            Some(path) => ResultPath::At(path),
        })
    }
}

/// An error name a Retry or Catch matches: `States.ALL`, `States.Timeout`, or a name a task
/// raises such as `Lambda.ServiceException`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ErrorName(String);

impl ErrorName {
    /// An error name as written; any string is accepted.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// Matches every error; must be alone in its ErrorEquals and the last retrier or catcher.
    pub fn all() -> Self {
        Self::new("States.ALL")
    }

    /// Whether this is `States.ALL`, which matches every error.
    pub fn is_all(&self) -> bool {
        self.0 == "States.ALL"
    }

    /// The name as written in `ErrorEquals`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How retries spread out: `FULL` picks each delay at random up to the backoff interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum JitterStrategy {
    /// `FULL`: each delay is random between 0 and the backoff interval.
    Full,
    /// `NONE`: each delay is the backoff interval exactly (AWS's default).
    None,
}

/// One entry of `Retry`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Retrier {
    /// A note for readers; AWS ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The errors this retrier handles.
    pub error_equals: Vec<ErrorName>,
    /// Seconds before the first retry (AWS's default is 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u32>,
    /// How many retries at most (AWS's default is 3; 0 never retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// What the interval is multiplied by after each retry (AWS's default is 2.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_rate: Option<f64>,
    /// The longest any retry interval may grow to, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay_seconds: Option<u32>,
    /// Whether the retry delays are randomized (`NONE` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_strategy: Option<JitterStrategy>,
}

impl Retrier {
    /// A retrier for `errors` with AWS's defaults for everything else.
    pub fn on(errors: impl IntoIterator<Item = ErrorName>) -> Self {
        Self {
            comment: None,
            error_equals: errors.into_iter().collect(),
            interval_seconds: None,
            max_attempts: None,
            backoff_rate: None,
            max_delay_seconds: None,
            jitter_strategy: None,
        }
    }
}

/// One entry of `Catch`: on a matching error, go to `Next` with the error at `ResultPath`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Catcher {
    /// A note for readers; AWS ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The errors this catcher handles.
    pub error_equals: Vec<ErrorName>,
    /// JSONPath: where the error output (`Error`, `Cause`) goes in the state's input.
    #[serde(default, skip_serializing_if = "ResultPath::is_replace")]
    pub result_path: ResultPath,
    /// JSONata: the state's output, a JSON value whose JSONata strings are evaluated.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "written"
    )]
    pub output: Option<serde_json::Value>,
    /// The variables this state sets when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign: Option<Assign>,
    /// The state to go to on a matching error.
    pub next: StateName,
}

impl Catcher {
    /// Goes to `next` on any of `error_equals`, the error output replacing the input.
    pub fn new(error_equals: Vec<ErrorName>, next: StateName) -> Self {
        Self {
            comment: None,
            error_equals,
            result_path: ResultPath::Replace,
            output: None,
            assign: None,
            next,
        }
    }
}

/// A state, tagged by its `Type`.
// A definition holds a handful of states, built once: boxing the Map would only clutter matches.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "Type")]
pub enum State {
    /// `Task`: runs a resource.
    Task(TaskState),
    /// `Map`: runs a processor once per item.
    Map(MapState),
    /// `Parallel`: runs every branch on the same input.
    Parallel(ParallelState),
    /// `Choice`: picks the next state by conditions.
    Choice(ChoiceState),
    /// `Pass`: passes its input on, or a fixed or built result.
    Pass(PassState),
    /// `Wait`: pauses for a time or until a timestamp.
    Wait(WaitState),
    /// `Succeed`: ends the (sub)machine successfully.
    Succeed(SucceedState),
    /// `Fail`: ends the execution as failed.
    Fail(FailState),
}

impl State {
    /// The `Type` the state is written with (`"Task"`, `"Map"`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            State::Task(_) => "Task",
            State::Map(_) => "Map",
            State::Parallel(_) => "Parallel",
            State::Choice(_) => "Choice",
            State::Pass(_) => "Pass",
            State::Wait(_) => "Wait",
            State::Succeed(_) => "Succeed",
            State::Fail(_) => "Fail",
        }
    }

    /// The query language the state names for itself, if it names one.
    pub fn query_language(&self) -> Option<QueryLanguage> {
        match self {
            State::Task(s) => s.query_language,
            State::Map(s) => s.query_language,
            State::Parallel(s) => s.query_language,
            State::Choice(s) => s.query_language,
            State::Pass(s) => s.query_language,
            State::Wait(s) => s.query_language,
            State::Succeed(s) => s.query_language,
            State::Fail(s) => s.query_language,
        }
    }

    /// The variables the state sets when it ends normally (a catcher's or a Choice rule's own
    /// `Assign` is theirs).
    pub fn assign(&self) -> Option<&Assign> {
        match self {
            State::Task(s) => s.assign.as_ref(),
            State::Map(s) => s.assign.as_ref(),
            State::Parallel(s) => s.assign.as_ref(),
            State::Choice(s) => s.assign.as_ref(),
            State::Pass(s) => s.assign.as_ref(),
            State::Wait(s) => s.assign.as_ref(),
            State::Succeed(_) | State::Fail(_) => None,
        }
    }

    /// `Output` (JSONata), for the states that have one.
    pub fn output(&self) -> Option<&serde_json::Value> {
        match self {
            State::Task(s) => s.output.as_ref(),
            State::Map(s) => s.output.as_ref(),
            State::Parallel(s) => s.output.as_ref(),
            State::Choice(s) => s.output.as_ref(),
            State::Pass(s) => s.output.as_ref(),
            State::Wait(s) => s.output.as_ref(),
            State::Succeed(s) => s.output.as_ref(),
            State::Fail(_) => None,
        }
    }

    /// `Next`/`End`, for the states that have one.
    pub fn transition(&self) -> Option<&Transition> {
        match self {
            State::Task(s) => Some(&s.transition),
            State::Map(s) => Some(&s.transition),
            State::Parallel(s) => Some(&s.transition),
            State::Pass(s) => Some(&s.transition),
            State::Wait(s) => Some(&s.transition),
            State::Choice(_) | State::Succeed(_) | State::Fail(_) => None,
        }
    }

    /// `Retry`, empty for the states that cannot have one.
    pub fn retry(&self) -> &[Retrier] {
        match self {
            State::Task(s) => &s.retry,
            State::Map(s) => &s.retry,
            State::Parallel(s) => &s.retry,
            _ => &[],
        }
    }

    /// `Catch`, empty for the states that cannot have one.
    pub fn catch(&self) -> &[Catcher] {
        match self {
            State::Task(s) => &s.catch,
            State::Map(s) => &s.catch,
            State::Parallel(s) => &s.catch,
            _ => &[],
        }
    }

    /// Every state this one can go to next, in the order they are written: its `Next`, a
    /// Choice's rule targets and `Default`, and its catchers' targets.
    pub fn targets(&self) -> Vec<&StateName> {
        let mut targets = Vec::new();
        if let Some(Transition::Next(next)) = self.transition() {
            targets.push(next);
        }
        if let State::Choice(choice) = self {
            targets.extend(choice.choices.iter().map(|rule| &rule.next));
            targets.extend(choice.default.iter());
        }
        targets.extend(self.catch().iter().map(|catcher| &catcher.next));
        targets
    }

    /// Whether the (sub)machine can end at this state.
    pub fn is_terminal(&self) -> bool {
        matches!(self, State::Succeed(_) | State::Fail(_))
            || self.transition() == Some(&Transition::End)
    }

    /// The nested machines of a Map (its processor) or a Parallel (its branches).
    pub fn nested(&self) -> Vec<&Branch> {
        match self {
            State::Map(map) => vec![&map.item_processor.branch],
            State::Parallel(parallel) => parallel.branches.iter().collect(),
            _ => Vec::new(),
        }
    }
}

/// The optimised Lambda integration: a Task with this resource invokes the function named in its
/// arguments and returns the response with the function's output under `Payload`.
pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// A Task: runs a resource (a Lambda function, a service integration, an activity).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TaskState {
    /// A human-readable description of the state; AWS does not act on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// This state's query language, when it is not the machine's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_language: Option<QueryLanguage>,
    /// What the task runs: the ARN of a Lambda function, an activity or a service integration
    /// (`arn:aws:states:::...`).
    pub resource: String,
    /// JSONPath: the part of the input the state works on (`null` gives it `{}`).
    #[serde(
        default,
        deserialize_with = "DataPath::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub input_path: Option<DataPath>,
    /// JSONPath: the payload template that builds the task's input from the effective input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<PayloadTemplate>,
    /// JSONata: the task's (or branches') input, a JSON value whose JSONata strings are
    /// evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<serde_json::Value>,
    /// How long the task may run (`States.Timeout` past it); AWS's default is 60 seconds for
    /// an activity and unlimited otherwise.
    #[serde(flatten, with = "timeout_seconds")]
    pub timeout_seconds: Option<Limit<u32>>,
    /// How long the task may go without a heartbeat before it fails (`States.HeartbeatTimeout`).
    #[serde(flatten, with = "heartbeat_seconds")]
    pub heartbeat_seconds: Option<Limit<u32>>,
    /// JSONPath: the payload template that reshapes the result before `ResultPath` places it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_selector: Option<PayloadTemplate>,
    /// JSONPath: where the result goes in the state's input (see [`ResultPath`]).
    #[serde(default, skip_serializing_if = "ResultPath::is_replace")]
    pub result_path: ResultPath,
    /// JSONPath: the part of the input-with-result passed on as output (`null` passes `{}`).
    #[serde(
        default,
        deserialize_with = "DataPath::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub output_path: Option<DataPath>,
    /// JSONata: the state's output, a JSON value whose JSONata strings are evaluated.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "written"
    )]
    pub output: Option<serde_json::Value>,
    /// The variables this state sets when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign: Option<Assign>,
    /// The retriers: on an error, the first whose `ErrorEquals` matches retries the state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retrier>,
    /// The catchers: once retries are used up (or none matched), the first match picks `Next`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catcher>,
    /// `Next` or `End`, flattened into the state's keys.
    #[serde(flatten)]
    pub transition: Transition,
}

impl TaskState {
    /// A Task running `resource` with nothing else set.
    pub fn new(resource: impl Into<String>, transition: Transition) -> Self {
        Self {
            comment: None,
            query_language: None,
            resource: resource.into(),
            input_path: None,
            parameters: None,
            arguments: None,
            timeout_seconds: None,
            heartbeat_seconds: None,
            result_selector: None,
            result_path: ResultPath::Replace,
            output_path: None,
            output: None,
            assign: None,
            retry: Vec::new(),
            catch: Vec::new(),
            transition,
        }
    }
}

/// A machine inside a state: a Parallel branch or (with its configuration) a Map's processor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Branch {
    /// A human-readable description of the branch; AWS does not act on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The state the branch (or each iteration) starts with.
    pub start_at: StateName,
    /// The branch's states by name.
    pub states: States,
}

/// A Map's `ItemProcessor`: how and what runs for each item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ItemProcessor {
    /// The mode (`INLINE` when absent) and, for a Distributed Map, the children's workflow type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processor_config: Option<ProcessorConfig>,
    /// The states run for each item, flattened into the processor (`StartAt`, `States`).
    #[serde(flatten)]
    pub branch: Branch,
}

/// A Map processor's `ProcessorConfig`: inline or distributed, and the child workflow type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ProcessorConfig {
    /// Whether the iterations run in this execution or as child executions.
    pub mode: ProcessorMode,
    /// Only for `DISTRIBUTED`: how each child workflow runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_type: Option<ExecutionType>,
}

/// `INLINE` runs the iterations in this execution (at most 40 at once); `DISTRIBUTED` starts
/// child executions (up to 10,000 at once), reading items with an ItemReader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProcessorMode {
    /// `INLINE`: the iterations run in this execution.
    Inline,
    /// `DISTRIBUTED`: the iterations run as child executions.
    Distributed,
}

/// The workflow type of a Distributed Map's child executions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ExecutionType {
    /// `STANDARD`: each child is a Standard workflow execution.
    Standard,
    /// `EXPRESS`: each child is an Express workflow execution (at most five minutes).
    Express,
}

/// A Map: runs its processor once per item. Only `ItemProcessor` and `ItemSelector` exist here;
/// the deprecated `Iterator` and Map `Parameters` cannot be written (a definition that has them
/// is read through [`crate::upgrade()`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MapState {
    /// A human-readable description of the state; AWS does not act on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// This state's query language, when it is not the machine's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_language: Option<QueryLanguage>,
    /// JSONPath: the part of the input the state works on (`null` gives it `{}`).
    #[serde(
        default,
        deserialize_with = "DataPath::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub input_path: Option<DataPath>,
    /// Distributed only: where the items are read from (an S3 object or listing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_reader: Option<ItemReader>,
    /// JSONPath: where the items array is in the effective input (`$` when absent).
    #[serde(
        default,
        deserialize_with = "DataPath::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub items_path: Option<DataPath>,
    /// JSONata: the items, an array or a JSONata string that gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<serde_json::Value>,
    /// Builds each iteration's input from the item (`$$.Map.Item.Value`) and the state's input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_selector: Option<PayloadTemplate>,
    /// Distributed only: groups items into batches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_batcher: Option<ItemBatcher>,
    /// What runs for each item: the mode and the states.
    pub item_processor: ItemProcessor,
    /// Iterations (child executions) running at once; absent or 0 means as many as AWS allows.
    #[serde(flatten, with = "max_concurrency")]
    pub max_concurrency: Option<Limit<u32>>,
    /// Distributed only: the share of failed children (0 to 100 %) past which the Map Run fails.
    #[serde(flatten, with = "tolerated_failure_percentage")]
    pub tolerated_failure_percentage: Option<Limit<f64>>,
    /// Distributed only: the number of failed children past which the Map Run fails.
    #[serde(flatten, with = "tolerated_failure_count")]
    pub tolerated_failure_count: Option<Limit<u32>>,
    /// Distributed only: names the child executions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Distributed only: writes the results to S3 instead of the state output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_writer: Option<ResultWriter>,
    /// JSONPath: the payload template that reshapes the result before `ResultPath` places it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_selector: Option<PayloadTemplate>,
    /// JSONPath: where the result goes in the state's input (see [`ResultPath`]).
    #[serde(default, skip_serializing_if = "ResultPath::is_replace")]
    pub result_path: ResultPath,
    /// JSONPath: the part of the input-with-result passed on as output (`null` passes `{}`).
    #[serde(
        default,
        deserialize_with = "DataPath::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub output_path: Option<DataPath>,
    /// JSONata: the state's output, a JSON value whose JSONata strings are evaluated.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "written"
    )]
    pub output: Option<serde_json::Value>,
    /// The variables this state sets when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign: Option<Assign>,
    /// The retriers: on an error, the first whose `ErrorEquals` matches retries the state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retrier>,
    /// The catchers: once retries are used up (or none matched), the first match picks `Next`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catcher>,
    /// `Next` or `End`, flattened into the state's keys.
    #[serde(flatten)]
    pub transition: Transition,
}

impl MapState {
    /// An inline Map running `processor` for each item, with nothing else set.
    pub fn inline(processor: Branch, transition: Transition) -> Self {
        Self {
            comment: None,
            query_language: None,
            input_path: None,
            item_reader: None,
            items_path: None,
            items: None,
            item_selector: None,
            item_batcher: None,
            item_processor: ItemProcessor {
                processor_config: Some(ProcessorConfig {
                    mode: ProcessorMode::Inline,
                    execution_type: None,
                }),
                branch: processor,
            },
            max_concurrency: None,
            tolerated_failure_percentage: None,
            tolerated_failure_count: None,
            label: None,
            result_writer: None,
            result_selector: None,
            result_path: ResultPath::Replace,
            output_path: None,
            output: None,
            assign: None,
            retry: Vec::new(),
            catch: Vec::new(),
            transition,
        }
    }

    /// Whether the processor runs in `DISTRIBUTED` mode, as child executions.
    pub fn is_distributed(&self) -> bool {
        self.item_processor
            .processor_config
            .as_ref()
            .is_some_and(|config| config.mode == ProcessorMode::Distributed)
    }
}

/// A limit given in the definition (`MaxItems: 100`) or read from the state's input when the
/// state starts (`MaxItemsPath: "$.limit"`). AWS takes one of the two keys, never both, and so
/// does this type.
#[derive(Clone, Debug, PartialEq)]
pub enum Limit<T> {
    /// A value written in the definition (`"MaxItems": 100`).
    Fixed(T),
    /// JSONPath: a path read from the state's input (`"MaxItemsPath": "$.limit"`).
    Path(ReferencePath),
    /// JSONata: computed when the state starts (`"MaxItems": "{% $states.input.n %}"`).
    Expression(JsonataString),
}

impl<T> Limit<T> {
    /// The number given in the definition, when it is one.
    pub fn fixed(&self) -> Option<&T> {
        match self {
            Limit::Fixed(value) => Some(value),
            Limit::Path(_) | Limit::Expression(_) => None,
        }
    }

    /// The path the limit is read from at run time, when it is one.
    pub fn path(&self) -> Option<&ReferencePath> {
        match self {
            Limit::Path(path) => Some(path),
            Limit::Fixed(_) | Limit::Expression(_) => None,
        }
    }

    /// The key this limit is written under, `name` or `<name>Path`.
    pub fn key(&self, name: &str) -> String {
        match self {
            Limit::Fixed(_) | Limit::Expression(_) => name.to_owned(),
            Limit::Path(_) => format!("{name}Path"),
        }
    }
}

/// Writes an `Option<Limit<T>>` flattened into its object as `Key` or `KeyPath`, and reads it
/// back. A flattened `Option` would read a malformed value as `None` (serde drops the error), so
/// the pair is read as a two-key struct instead, as `Transition` is.
mod limit_keys {
    use super::*;

    pub fn serialize<T: Serialize, S: Serializer>(
        limit: &Option<Limit<T>>,
        keys: &'static [&'static str; 2],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(usize::from(limit.is_some())))?;
        match limit {
            Some(Limit::Fixed(value)) => map.serialize_entry(keys[0], value)?,
            Some(Limit::Expression(expression)) => map.serialize_entry(keys[0], expression)?,
            Some(Limit::Path(path)) => map.serialize_entry(keys[1], path)?,
            None => {}
        }
        map.end()
    }

    pub fn deserialize<'de, T: de::DeserializeOwned, D: Deserializer<'de>>(
        deserializer: D,
        keys: &'static [&'static str; 2],
    ) -> Result<Option<Limit<T>>, D::Error> {
        struct LimitVisitor<T> {
            keys: &'static [&'static str; 2],
            value: std::marker::PhantomData<T>,
        }
        impl<'de, T: de::DeserializeOwned> Visitor<'de> for LimitVisitor<T> {
            type Value = Option<Limit<T>>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "`{}` or `{}`", self.keys[0], self.keys[1])
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let [fixed_key, path_key] = *self.keys;
                let mut fixed: Option<Evaluated<T>> = None;
                let mut path: Option<ReferencePath> = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == fixed_key {
                        let value = map.next_value::<serde_json::Value>()?;
                        fixed = Some(Evaluated::from_json(value).map_err(de::Error::custom)?);
                    } else if key == path_key {
                        path = Some(map.next_value()?);
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                match (fixed, path) {
                    (Some(_), Some(_)) => Err(de::Error::custom(format!(
                        "`{fixed_key}` and `{path_key}` cannot both be given: keep one"
                    ))),
                    (Some(Evaluated::Fixed(value)), None) => Ok(Some(Limit::Fixed(value))),
                    (Some(Evaluated::Expression(expression)), None) => {
                        Ok(Some(Limit::Expression(expression)))
                    }
                    (None, Some(path)) => Ok(Some(Limit::Path(path))),
                    (None, None) => Ok(None),
                }
            }
        }
        // A struct request, so that a flattening parent hands over only these two keys.
        deserializer.deserialize_struct(
            "Limit",
            keys,
            LimitVisitor {
                keys,
                value: std::marker::PhantomData,
            },
        )
    }
}

/// Declares the serde `with` module of one `Key`/`KeyPath` pair.
macro_rules! limit_field {
    ($module:ident, $key:literal) => {
        mod $module {
            use super::*;

            const KEYS: &[&str; 2] = &[$key, concat!($key, "Path")];

            pub fn serialize<T: Serialize, S: Serializer>(
                limit: &Option<Limit<T>>,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                limit_keys::serialize(limit, KEYS, serializer)
            }

            pub fn deserialize<'de, T: de::DeserializeOwned, D: Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Option<Limit<T>>, D::Error> {
                limit_keys::deserialize(deserializer, KEYS)
            }
        }
    };
}

limit_field!(timeout_seconds, "TimeoutSeconds");
limit_field!(heartbeat_seconds, "HeartbeatSeconds");
limit_field!(max_concurrency, "MaxConcurrency");
limit_field!(tolerated_failure_percentage, "ToleratedFailurePercentage");
limit_field!(tolerated_failure_count, "ToleratedFailureCount");
limit_field!(max_items, "MaxItems");
limit_field!(max_items_per_batch, "MaxItemsPerBatch");
limit_field!(max_input_bytes_per_batch, "MaxInputBytesPerBatch");

/// A Distributed Map's `ItemReader`: the S3 object (`s3:getObject`) or listing
/// (`s3:listObjectsV2`) its items come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ItemReader {
    /// [`S3_GET_OBJECT`] or [`S3_LIST_OBJECTS_V2`]: what kind of S3 read gives the items.
    pub resource: String,
    /// The object's format and how many items to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_config: Option<ReaderConfig>,
    /// JSONPath: the S3 location to read (`Bucket`, and `Key` or `Prefix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<PayloadTemplate>,
    /// JSONata: the task's (or branches') input, a JSON value whose JSONata strings are
    /// evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<serde_json::Value>,
}

/// The ItemReader resource that reads the items of one S3 object.
pub const S3_GET_OBJECT: &str = "arn:aws:states:::s3:getObject";
/// The ItemReader resource whose items are the objects under a prefix.
pub const S3_LIST_OBJECTS_V2: &str = "arn:aws:states:::s3:listObjectsV2";
/// The ResultWriter resource that writes the results to S3.
pub const S3_PUT_OBJECT: &str = "arn:aws:states:::s3:putObject";

/// How an ItemReader reads the object: its format and how many items to take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ReaderConfig {
    /// The object's format: CSV, JSON, JSON Lines, Parquet or an S3 Inventory manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_type: Option<ReaderInputType>,
    /// Where a CSV's column names come from: its first row, or `CSVHeaders`.
    #[serde(
        default,
        rename = "CSVHeaderLocation",
        skip_serializing_if = "Option::is_none"
    )]
    pub csv_header_location: Option<CsvHeaderLocation>,
    /// The column names when `CSVHeaderLocation` is `GIVEN`.
    #[serde(
        default,
        rename = "CSVHeaders",
        skip_serializing_if = "Option::is_none"
    )]
    pub csv_headers: Option<Vec<String>>,
    /// What separates a CSV row's fields.
    #[serde(
        default,
        rename = "CSVDelimiter",
        skip_serializing_if = "Option::is_none"
    )]
    pub csv_delimiter: Option<CsvDelimiter>,
    /// Reads only the first items (at most 100,000,000).
    #[serde(flatten, with = "max_items")]
    pub max_items: Option<Limit<u32>>,
}

/// The format of the object an ItemReader reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ReaderInputType {
    /// `CSV`: one item per row, an object keyed by the column names.
    Csv,
    /// `JSON`: a JSON array, one item per element.
    Json,
    /// `JSONL`: JSON Lines, one item per line.
    Jsonl,
    /// `PARQUET`: one item per row of a Parquet file.
    Parquet,
    /// `MANIFEST`: an S3 Inventory manifest, one item per object it lists.
    Manifest,
}

/// Where the column names of a CSV the ItemReader reads come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CsvHeaderLocation {
    /// `FIRST_ROW`: the file's first line.
    #[serde(rename = "FIRST_ROW")]
    FirstRow,
    /// `GIVEN`: the `CSVHeaders` list.
    Given,
}

/// What separates the fields of a CSV row (`COMMA` when absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CsvDelimiter {
    /// `COMMA`: `,`.
    Comma,
    /// `PIPE`: `|`.
    Pipe,
    /// `SEMICOLON`: `;`.
    Semicolon,
    /// `SPACE`: a space.
    Space,
    /// `TAB`: a tab.
    Tab,
}

/// A Distributed Map's `ItemBatcher`: each child execution gets a batch of items, with the
/// `BatchInput` built once from the Map's input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ItemBatcher {
    /// The most items in one batch.
    #[serde(flatten, with = "max_items_per_batch")]
    pub max_items_per_batch: Option<Limit<u32>>,
    /// At most 256 KiB, the most a child execution's input may hold.
    #[serde(flatten, with = "max_input_bytes_per_batch")]
    pub max_input_bytes_per_batch: Option<Limit<u32>>,
    /// A JSON object added to every batch as `BatchInput`, built from the Map's input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_input: Option<PayloadTemplate>,
}

/// A Distributed Map's `ResultWriter`: writes the children's results to S3 (`Resource` and
/// `Parameters`), formatted as `WriterConfig` says. AWS takes the S3 pair, the `WriterConfig`, or
/// all three.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ResultWriter {
    /// [`S3_PUT_OBJECT`] when the results are written to S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// How the results are formatted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_config: Option<WriterConfig>,
    /// JSONPath: where the results go (`Bucket`, `Prefix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<PayloadTemplate>,
    /// JSONata: the task's (or branches') input, a JSON value whose JSONata strings are
    /// evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<serde_json::Value>,
}

impl ResultWriter {
    /// Writes the results with `s3:putObject` under `parameters` (`Bucket`, and `Prefix`).
    pub fn s3(parameters: PayloadTemplate) -> Self {
        Self {
            resource: Some(S3_PUT_OBJECT.into()),
            writer_config: None,
            parameters: Some(parameters),
            arguments: None,
        }
    }
}

/// How a ResultWriter formats the children's results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct WriterConfig {
    /// The file format: a JSON array or JSON Lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_type: Option<OutputType>,
    /// What of each child's output is written (see [`Transformation`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transformation: Option<Transformation>,
}

/// A JSON array, or JSON Lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OutputType {
    /// `JSON`: one JSON array.
    Json,
    /// `JSONL`: one JSON value per line.
    Jsonl,
}

/// `NONE`: each child's output with its execution's metadata; `COMPACT`: the outputs only;
/// `FLATTEN`: the outputs, an output that is an array flattened into the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Transformation {
    /// `NONE`: each output with its execution's metadata.
    None,
    /// `COMPACT`: the outputs only.
    Compact,
    /// `FLATTEN`: the outputs, array outputs flattened into the result.
    Flatten,
}

/// A Parallel: runs every branch on the same input; the result is the array of their outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ParallelState {
    /// A human-readable description of the state; AWS does not act on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// This state's query language, when it is not the machine's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_language: Option<QueryLanguage>,
    /// JSONPath: the part of the input the state works on (`null` gives it `{}`).
    #[serde(
        default,
        deserialize_with = "DataPath::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub input_path: Option<DataPath>,
    /// JSONPath: the payload template that builds the branches' input from the effective input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<PayloadTemplate>,
    /// JSONata: the task's (or branches') input, a JSON value whose JSONata strings are
    /// evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<serde_json::Value>,
    /// The machines run on the same input; the result holds their outputs in this order.
    pub branches: Vec<Branch>,
    /// JSONPath: the payload template that reshapes the result before `ResultPath` places it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_selector: Option<PayloadTemplate>,
    /// JSONPath: where the result goes in the state's input (see [`ResultPath`]).
    #[serde(default, skip_serializing_if = "ResultPath::is_replace")]
    pub result_path: ResultPath,
    /// JSONPath: the part of the input-with-result passed on as output (`null` passes `{}`).
    #[serde(
        default,
        deserialize_with = "DataPath::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub output_path: Option<DataPath>,
    /// JSONata: the state's output, a JSON value whose JSONata strings are evaluated.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "written"
    )]
    pub output: Option<serde_json::Value>,
    /// The variables this state sets when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign: Option<Assign>,
    /// The retriers: on an error, the first whose `ErrorEquals` matches retries the state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retrier>,
    /// The catchers: once retries are used up (or none matched), the first match picks `Next`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catcher>,
    /// `Next` or `End`, flattened into the state's keys.
    #[serde(flatten)]
    pub transition: Transition,
}

/// A Choice: goes to the first rule's `Next` whose condition holds, else to `Default`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ChoiceState {
    /// A human-readable description of the state; AWS does not act on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// This state's query language, when it is not the machine's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_language: Option<QueryLanguage>,
    /// JSONPath: the part of the input the state works on (`null` gives it `{}`).
    #[serde(
        default,
        deserialize_with = "DataPath::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub input_path: Option<DataPath>,
    /// The rules, tried in order; the first whose condition holds is taken.
    pub choices: Vec<ChoiceRule>,
    /// Where to go when no rule holds; without it, the execution fails (`States.NoChoiceMatched`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<StateName>,
    /// JSONPath: the part of the input-with-result passed on as output (`null` passes `{}`).
    #[serde(
        default,
        deserialize_with = "DataPath::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub output_path: Option<DataPath>,
    /// JSONata: the state's output, a JSON value whose JSONata strings are evaluated.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "written"
    )]
    pub output: Option<serde_json::Value>,
    /// The variables this state sets when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign: Option<Assign>,
}

/// A top-level Choice rule: a condition and where to go when it holds. Nested conditions (inside
/// And/Or/Not) have no `Next`, which is why they are a different type.
#[derive(Clone, Debug, PartialEq)]
pub struct ChoiceRule {
    /// A note for readers; AWS ignores it.
    pub comment: Option<String>,
    /// The test that picks this rule.
    pub condition: Condition,
    /// The state to go to when the condition holds.
    pub next: StateName,
    /// JSONata: the state's output when this rule is taken.
    pub output: Option<serde_json::Value>,
    /// The variables set when this rule is taken.
    pub assign: Option<Assign>,
}

/// A Choice condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// JSONata: `{"Condition": "{% ... %}"}`, a top-level rule's whole test.
    Jsonata(JsonataString),
    /// JSONata: `{"Condition": true}` (or `false`), a rule that always (or never) holds.
    Constant(bool),
    /// `And`: every condition holds.
    And(Vec<Condition>),
    /// `Or`: at least one condition holds.
    Or(Vec<Condition>),
    /// `Not`: the condition does not hold.
    Not(Box<Condition>),
    /// `{"Variable": "$.x", "<Operator>": operand}`.
    Compare {
        /// JSONPath: the value tested.
        variable: ReferencePath,
        /// The operator and its operand.
        comparison: Comparison,
    },
}

/// Declares the comparison operators with the type of their operand.
macro_rules! comparisons {
    ($($(#[$doc:meta])* $operator:ident($operand:ty)),* $(,)?) => {
        /// A comparison operator of a Choice rule, with its operand.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Comparison {
            $($(#[$doc])* $operator($operand),)*
        }

        impl Comparison {
            /// The operator's key in the condition object (`"StringEquals"`, ...).
            pub fn operator(&self) -> &'static str {
                match self {
                    $(Comparison::$operator(_) => stringify!($operator),)*
                }
            }

            fn operand_json(&self) -> serde_json::Value {
                match self {
                    $(Comparison::$operator(operand) => serde_json::to_value(operand)
                        .expect("comparison operands always serialize"),)*
                }
            }

            /// `Some` when `key` is an operator.
            fn parse(key: &str, operand: serde_json::Value) -> Option<Result<Self, String>> {
                match key {
                    $(stringify!($operator) => Some(
                        serde_json::from_value::<$operand>(operand)
                            .map(Comparison::$operator)
                            .map_err(|err| format!("`{}`: {err}", stringify!($operator))),
                    ),)*
                    _ => None,
                }
            }
        }
    };
}

comparisons!(
    /// The string at `Variable` equals this one.
    StringEquals(String),
    /// The string at `Variable` equals the one at this path.
    StringEqualsPath(ReferencePath),
    /// The string at `Variable` sorts before this one.
    StringLessThan(String),
    /// The string at `Variable` sorts before the one at this path.
    StringLessThanPath(ReferencePath),
    /// The string at `Variable` sorts after this one.
    StringGreaterThan(String),
    /// The string at `Variable` sorts after the one at this path.
    StringGreaterThanPath(ReferencePath),
    /// The string at `Variable` sorts before or equals this one.
    StringLessThanEquals(String),
    /// The string at `Variable` sorts before or equals the one at this path.
    StringLessThanEqualsPath(ReferencePath),
    /// The string at `Variable` sorts after or equals this one.
    StringGreaterThanEquals(String),
    /// The string at `Variable` sorts after or equals the one at this path.
    StringGreaterThanEqualsPath(ReferencePath),
    /// The string at `Variable` matches this pattern, where `*` stands for any characters.
    StringMatches(String),
    /// The number at `Variable` equals this one.
    NumericEquals(f64),
    /// The number at `Variable` equals the one at this path.
    NumericEqualsPath(ReferencePath),
    /// The number at `Variable` is less than this one.
    NumericLessThan(f64),
    /// The number at `Variable` is less than the one at this path.
    NumericLessThanPath(ReferencePath),
    /// The number at `Variable` is greater than this one.
    NumericGreaterThan(f64),
    /// The number at `Variable` is greater than the one at this path.
    NumericGreaterThanPath(ReferencePath),
    /// The number at `Variable` is at most this one.
    NumericLessThanEquals(f64),
    /// The number at `Variable` is at most the one at this path.
    NumericLessThanEqualsPath(ReferencePath),
    /// The number at `Variable` is at least this one.
    NumericGreaterThanEquals(f64),
    /// The number at `Variable` is at least the one at this path.
    NumericGreaterThanEqualsPath(ReferencePath),
    /// The boolean at `Variable` equals this one.
    BooleanEquals(bool),
    /// The boolean at `Variable` equals the one at this path.
    BooleanEqualsPath(ReferencePath),
    /// The timestamp at `Variable` is the same instant as this one.
    TimestampEquals(String),
    /// The timestamp at `Variable` is the same instant as the one at this path.
    TimestampEqualsPath(ReferencePath),
    /// The timestamp at `Variable` is before this one.
    TimestampLessThan(String),
    /// The timestamp at `Variable` is before the one at this path.
    TimestampLessThanPath(ReferencePath),
    /// The timestamp at `Variable` is after this one.
    TimestampGreaterThan(String),
    /// The timestamp at `Variable` is after the one at this path.
    TimestampGreaterThanPath(ReferencePath),
    /// The timestamp at `Variable` is at or before this one.
    TimestampLessThanEquals(String),
    /// The timestamp at `Variable` is at or before the one at this path.
    TimestampLessThanEqualsPath(ReferencePath),
    /// The timestamp at `Variable` is at or after this one.
    TimestampGreaterThanEquals(String),
    /// The timestamp at `Variable` is at or after the one at this path.
    TimestampGreaterThanEqualsPath(ReferencePath),
    /// `true`: the value at `Variable` is null (`false`: it is not).
    IsNull(bool),
    /// `true`: `Variable` exists in the input (`false`: it does not).
    IsPresent(bool),
    /// `true`: the value at `Variable` is a number (`false`: it is not).
    IsNumeric(bool),
    /// `true`: the value at `Variable` is a string (`false`: it is not).
    IsString(bool),
    /// `true`: the value at `Variable` is a boolean (`false`: it is not).
    IsBoolean(bool),
    /// `true`: the value at `Variable` is a timestamp (`false`: it is not).
    IsTimestamp(bool),
);

impl Condition {
    fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut object = serde_json::Map::new();
        match self {
            Condition::Jsonata(expression) => {
                object.insert("Condition".into(), expression.as_str().into());
            }
            Condition::Constant(holds) => {
                object.insert("Condition".into(), (*holds).into());
            }
            Condition::And(all) => {
                object.insert("And".into(), all.iter().map(Condition::to_value).collect());
            }
            Condition::Or(any) => {
                object.insert("Or".into(), any.iter().map(Condition::to_value).collect());
            }
            Condition::Not(inner) => {
                object.insert("Not".into(), inner.to_value());
            }
            Condition::Compare {
                variable,
                comparison,
            } => {
                object.insert("Variable".into(), variable.to_string().into());
                object.insert(comparison.operator().into(), comparison.operand_json());
            }
        }
        object
    }

    fn to_value(&self) -> serde_json::Value {
        serde_json::Value::Object(self.to_json())
    }

    /// Parses a condition object; `next` is true for a top-level rule, whose `Next` the caller
    /// has already taken out.
    fn from_json(mut object: serde_json::Map<String, serde_json::Value>) -> Result<Self, String> {
        let conditions = |value: serde_json::Value| -> Result<Vec<Condition>, String> {
            match value {
                serde_json::Value::Array(items) => {
                    items.into_iter().map(Condition::from_value).collect()
                }
                _ => Err("`And`/`Or` must be an array of conditions".into()),
            }
        };
        // A comment may annotate any condition, nested ones too; only a rule's is kept.
        object.shift_remove("Comment");
        let condition = if let Some(test) = object.shift_remove("Condition") {
            match test {
                serde_json::Value::Bool(holds) => Condition::Constant(holds),
                test => {
                    let text = test.as_str().unwrap_or_default().to_owned();
                    Condition::Jsonata(JsonataString::new(text).ok_or(
                        "`Condition` must be true, false or a JSONata string `{% ... %}` that gives true or false",
                    )?)
                }
            }
        } else if let Some(all) = object.shift_remove("And") {
            Condition::And(conditions(all)?)
        } else if let Some(any) = object.shift_remove("Or") {
            Condition::Or(conditions(any)?)
        } else if let Some(inner) = object.shift_remove("Not") {
            Condition::Not(Box::new(Condition::from_value(inner)?))
        } else {
            let variable = object.shift_remove("Variable").ok_or(
                "a condition needs `Condition` (JSONata), `And`, `Or`, `Not` or `Variable`",
            )?;
            let variable: ReferencePath =
                serde_json::from_value(variable).map_err(|err| format!("`Variable`: {err}"))?;
            let (key, operand) = object
                .iter()
                .next()
                .map(|(key, operand)| (key.clone(), operand.clone()))
                .ok_or("a condition with `Variable` needs a comparison operator")?;
            let comparison = Comparison::parse(&key, operand)
                .ok_or_else(|| format!("`{key}` is not a comparison operator"))??;
            object.shift_remove(&key);
            Condition::Compare {
                variable,
                comparison,
            }
        };
        match object.keys().next() {
            Some(extra) => Err(format!("unexpected `{extra}` in a Choice condition")),
            None => Ok(condition),
        }
    }

    fn from_value(value: serde_json::Value) -> Result<Self, String> {
        match value {
            serde_json::Value::Object(object) => Self::from_json(object),
            _ => Err("a Choice condition must be an object".into()),
        }
    }
}

impl Serialize for ChoiceRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = self.condition.to_json();
        if let Some(comment) = &self.comment {
            object.insert("Comment".into(), comment.as_str().into());
        }
        object.insert("Next".into(), self.next.as_str().into());
        if let Some(output) = &self.output {
            object.insert("Output".into(), output.clone());
        }
        if let Some(assign) = &self.assign {
            object.insert("Assign".into(), assign.to_object());
        }
        object.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ChoiceRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut object = serde_json::Map::deserialize(deserializer)?;
        let next = object
            .shift_remove("Next")
            .ok_or_else(|| de::Error::custom("a Choice rule needs `Next`"))?;
        let next = StateName::deserialize(next).map_err(de::Error::custom)?;
        let comment = object
            .get("Comment")
            .map(|comment| {
                comment
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| de::Error::custom("a Choice rule's `Comment` must be a string"))
            })
            .transpose()?;
        let output = object.shift_remove("Output");
        let assign = object
            .shift_remove("Assign")
            .map(|assign| {
                serde_json::from_value(assign)
                    .map_err(|err| de::Error::custom(format!("`Assign`: {err}")))
            })
            .transpose()?;
        let condition = Condition::from_json(object).map_err(de::Error::custom)?;
        Ok(ChoiceRule {
            comment,
            condition,
            next,
            output,
            assign,
        })
    }
}

/// A Pass: passes its input on, or a fixed `Result`, or the `Parameters` it builds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PassState {
    /// A human-readable description of the state; AWS does not act on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// This state's query language, when it is not the machine's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_language: Option<QueryLanguage>,
    /// JSONPath: the part of the input the state works on (`null` gives it `{}`).
    #[serde(
        default,
        deserialize_with = "DataPath::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub input_path: Option<DataPath>,
    /// JSONPath: builds the effective input, the state's result when there is no `Result`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<PayloadTemplate>,
    /// A fixed JSON value that is the state's result, placed by `ResultPath`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "written"
    )]
    pub result: Option<serde_json::Value>,
    /// JSONPath: where the result goes in the state's input (see [`ResultPath`]).
    #[serde(default, skip_serializing_if = "ResultPath::is_replace")]
    pub result_path: ResultPath,
    /// JSONPath: the part of the input-with-result passed on as output (`null` passes `{}`).
    #[serde(
        default,
        deserialize_with = "DataPath::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub output_path: Option<DataPath>,
    /// JSONata: the state's output, a JSON value whose JSONata strings are evaluated.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "written"
    )]
    pub output: Option<serde_json::Value>,
    /// The variables this state sets when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign: Option<Assign>,
    /// `Next` or `End`, flattened into the state's keys.
    #[serde(flatten)]
    pub transition: Transition,
}

impl PassState {
    /// A Pass that passes its input on unchanged.
    pub fn new(transition: Transition) -> Self {
        Self {
            comment: None,
            query_language: None,
            input_path: None,
            parameters: None,
            result: None,
            result_path: ResultPath::Replace,
            output_path: None,
            output: None,
            assign: None,
            transition,
        }
    }
}

/// How long a Wait waits: exactly one of the four forms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum WaitFor {
    /// Seconds to wait, or (JSONata) an expression that gives them.
    Seconds(Evaluated<u32>),
    /// An ISO-8601 timestamp, or (JSONata) an expression that gives one.
    Timestamp(String),
    /// `SecondsPath`: the seconds, read from the input.
    SecondsPath(ReferencePath),
    /// `TimestampPath`: the timestamp, read from the input.
    TimestampPath(ReferencePath),
}

/// A Wait: pauses for a time or until a timestamp.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct WaitState {
    /// A human-readable description of the state; AWS does not act on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// This state's query language, when it is not the machine's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_language: Option<QueryLanguage>,
    /// JSONPath: the part of the input the state works on (`null` gives it `{}`).
    #[serde(
        default,
        deserialize_with = "DataPath::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub input_path: Option<DataPath>,
    /// How long to wait, flattened into the state as its one key.
    #[serde(flatten)]
    pub wait_for: WaitFor,
    /// JSONPath: the part of the input-with-result passed on as output (`null` passes `{}`).
    #[serde(
        default,
        deserialize_with = "DataPath::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub output_path: Option<DataPath>,
    /// JSONata: the state's output, a JSON value whose JSONata strings are evaluated.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "written"
    )]
    pub output: Option<serde_json::Value>,
    /// The variables this state sets when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign: Option<Assign>,
    /// `Next` or `End`, flattened into the state's keys.
    #[serde(flatten)]
    pub transition: Transition,
}

/// A Succeed: ends the (sub)machine successfully.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SucceedState {
    /// A human-readable description of the state; AWS does not act on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// This state's query language, when it is not the machine's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_language: Option<QueryLanguage>,
    /// JSONPath: the part of the input the state works on (`null` gives it `{}`).
    #[serde(
        default,
        deserialize_with = "DataPath::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub input_path: Option<DataPath>,
    /// JSONPath: the part of the input-with-result passed on as output (`null` passes `{}`).
    #[serde(
        default,
        deserialize_with = "DataPath::present",
        skip_serializing_if = "Option::is_none"
    )]
    pub output_path: Option<DataPath>,
    /// JSONata: the state's output, a JSON value whose JSONata strings are evaluated.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "written"
    )]
    pub output: Option<serde_json::Value>,
}

/// A Fail: ends the execution as failed with an error name and a cause.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FailState {
    /// A human-readable description of the state; AWS does not act on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// This state's query language, when it is not the machine's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_language: Option<QueryLanguage>,
    /// The error name the execution fails with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error name read at run time: a path or an intrinsic function.
    #[serde(
        default,
        with = "crate::payload::expression",
        skip_serializing_if = "Option::is_none"
    )]
    pub error_path: Option<PayloadValue>,
    /// A human-readable explanation of the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The cause read at run time: a path or an intrinsic function.
    #[serde(
        default,
        with = "crate::payload::expression",
        skip_serializing_if = "Option::is_none"
    )]
    pub cause_path: Option<PayloadValue>,
}

/// A JSON field where a written `null` is a value, not an absent field (`"Output": null` makes
/// the state's output null).
fn written<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(deserializer).map(Some)
}
