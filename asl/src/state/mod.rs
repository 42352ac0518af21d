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
//!
//! The fields several states share are declared once, in `fields.rs`; this module holds the
//! machine, state names, transitions, `ResultPath` and the [`State`] enum, and re-exports the
//! states and objects of the other files.

mod choice;
mod errors;
pub(crate) mod fields;
mod item_reader;
pub(crate) mod limit;
mod map;
mod parallel;
mod result_writer;
mod simple;
mod task;

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::path::{DataPath, PathError, ReferencePath};
use super::query::{Assign, QueryLanguage};
use fields::Fields;

pub use choice::{ChoiceRule, ChoiceState, Comparison, Condition};
pub use errors::{Catcher, ErrorName, JitterStrategy, Retrier};
pub use item_reader::{
    CsvDelimiter, CsvHeaderLocation, ItemReader, ReaderConfig, ReaderInputType, S3_GET_OBJECT,
    S3_LIST_OBJECTS_V2, S3_PUT_OBJECT,
};
pub use limit::Limit;
pub use map::{
    ExecutionType, ItemBatcher, ItemProcessor, MapState, ProcessorConfig, ProcessorMode,
};
pub use parallel::ParallelState;
pub use result_writer::{OutputType, ResultWriter, Transformation, WriterConfig};
pub use simple::{FailState, PassState, SucceedState, WaitFor, WaitState};
pub use task::{LAMBDA_INVOKE, TaskState};

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
        if (1..=crate::limits::NAME_CHARS).contains(&name.chars().count()) {
            Ok(Self(name))
        } else {
            Err(PathError {
                text: name,
                kind: "state name",
                problem: format!("it must be 1 to {} characters", crate::limits::NAME_CHARS),
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

    /// The state's own fields, whatever its kind: the one place that lists the eight kinds.
    fn fields(&self) -> &dyn Fields {
        match self {
            State::Task(s) => s,
            State::Map(s) => s,
            State::Parallel(s) => s,
            State::Choice(s) => s,
            State::Pass(s) => s,
            State::Wait(s) => s,
            State::Succeed(s) => s,
            State::Fail(s) => s,
        }
    }

    fn fields_mut(&mut self) -> &mut dyn Fields {
        match self {
            State::Task(s) => s,
            State::Map(s) => s,
            State::Parallel(s) => s,
            State::Choice(s) => s,
            State::Pass(s) => s,
            State::Wait(s) => s,
            State::Succeed(s) => s,
            State::Fail(s) => s,
        }
    }

    /// The query language the state names for itself, if it names one.
    pub fn query_language(&self) -> Option<QueryLanguage> {
        self.fields().query_language()
    }

    /// The state's `QueryLanguage`, to change.
    pub(crate) fn query_language_mut(&mut self) -> &mut Option<QueryLanguage> {
        self.fields_mut()
            .query_language_mut()
            .expect("every state has `QueryLanguage`")
    }

    /// The state's `InputPath`, to change; `None` for a Fail, which has none.
    pub(crate) fn input_path_mut(&mut self) -> Option<&mut Option<DataPath>> {
        self.fields_mut().input_path_mut()
    }

    /// The variables the state sets when it ends normally (a catcher's or a Choice rule's own
    /// `Assign` is theirs).
    pub fn assign(&self) -> Option<&Assign> {
        self.fields().assign()
    }

    /// `Output` (JSONata), for the states that have one.
    pub fn output(&self) -> Option<&serde_json::Value> {
        self.fields().output()
    }

    /// `Next`/`End`, for the states that have one.
    pub fn transition(&self) -> Option<&Transition> {
        self.fields().transition()
    }

    /// `Retry`, empty for the states that cannot have one.
    pub fn retry(&self) -> &[Retrier] {
        self.fields().retry()
    }

    /// `Catch`, empty for the states that cannot have one.
    pub fn catch(&self) -> &[Catcher] {
        self.fields().catch()
    }

    /// The state's fields that belong to a query language or hold paths, templates or JSONata
    /// strings, in written order (see `fields.rs`).
    pub(crate) fn walk(&self) -> Vec<fields::Field<'_>> {
        let mut out = Vec::new();
        self.fields().walk(&mut out);
        out
    }

    /// The state's `Limit` fields, to rewrite.
    pub(crate) fn limits_mut(&mut self) -> Vec<&mut dyn fields::LimitMut> {
        let mut out = Vec::new();
        self.fields_mut().limits_mut(&mut out);
        out
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

/// A JSON field where a written `null` is a value, not an absent field (`"Output": null` makes
/// the state's output null).
pub(crate) fn written<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(deserializer).map(Some)
}
