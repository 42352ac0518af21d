//! The runner's reading of an ASL definition: the fields the interpreter executes, with AWS's
//! defaults applied and every path parsed up front.
//!
//! Deliberately wider than `crate::asl`: it also reads the deprecated shapes (Map `Iterator` and
//! `Parameters`) so that the seed's definitions can be run and shown to fail the way AWS fails.
//! The committed definition is parsed by `crate::asl` first (see `super::load_committed`).

use std::collections::HashSet;

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::path::JsonPath;

/// A state machine or a Map processor / Parallel branch.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateMachineDef {
    pub start_at: String,
    pub states: IndexMap<String, StateDef>,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    #[serde(default)]
    pub query_language: Option<String>,
}

/// A nullable path field: absent means `$`, JSON `null` means "nothing" (its own meaning per
/// field: `{}` for InputPath/OutputPath, "discard the result" for ResultPath).
pub type NullablePath = Option<JsonPath>;

fn nullable_path<'de, D: Deserializer<'de>>(d: D) -> Result<NullablePath, D::Error> {
    let raw = Option::<String>::deserialize(d)?;
    raw.map(|text| JsonPath::parse(&text).map_err(serde::de::Error::custom))
        .transpose()
}

fn root() -> NullablePath {
    Some(JsonPath::root())
}

fn optional_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<JsonPath>, D::Error> {
    nullable_path(d)
}

/// The fields every state that moves data has.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Flow {
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub end: bool,
    #[serde(default = "root", deserialize_with = "nullable_path")]
    pub input_path: NullablePath,
    #[serde(default = "root", deserialize_with = "nullable_path")]
    pub output_path: NullablePath,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "Type")]
pub enum StateDef {
    Task(TaskDef),
    Pass(PassDef),
    /// Boxed: by far the largest state (it holds its processor).
    Map(Box<MapDef>),
    Parallel(ParallelDef),
    Choice(ChoiceDef),
    Wait(WaitDef),
    Succeed(SucceedDef),
    Fail(FailDef),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskDef {
    pub resource: String,
    #[serde(flatten)]
    pub flow: Flow,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub result_selector: Option<Value>,
    #[serde(default = "root", deserialize_with = "nullable_path")]
    pub result_path: NullablePath,
    #[serde(default)]
    pub retry: Vec<Retrier>,
    #[serde(default)]
    pub catch: Vec<Catcher>,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PassDef {
    #[serde(flatten)]
    pub flow: Flow,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default = "root", deserialize_with = "nullable_path")]
    pub result_path: NullablePath,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessorConfig {
    #[serde(default)]
    pub mode: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MapDef {
    #[serde(flatten)]
    pub flow: Flow,
    #[serde(default = "root", deserialize_with = "nullable_path")]
    pub items_path: NullablePath,
    #[serde(default)]
    pub item_selector: Option<Value>,
    /// Deprecated name of ItemSelector.
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub item_processor: Option<ProcessorDef>,
    /// Deprecated name of ItemProcessor.
    #[serde(default)]
    pub iterator: Option<StateMachineDef>,
    #[serde(default)]
    pub item_reader: Option<Value>,
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    #[serde(default)]
    pub result_selector: Option<Value>,
    #[serde(default = "root", deserialize_with = "nullable_path")]
    pub result_path: NullablePath,
    #[serde(default)]
    pub retry: Vec<Retrier>,
    #[serde(default)]
    pub catch: Vec<Catcher>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessorDef {
    #[serde(default)]
    pub processor_config: Option<ProcessorConfig>,
    #[serde(flatten)]
    pub machine: StateMachineDef,
}

impl MapDef {
    pub fn processor(&self) -> &StateMachineDef {
        match (&self.item_processor, &self.iterator) {
            (Some(p), _) => &p.machine,
            (None, Some(i)) => i,
            (None, None) => unreachable!("checked by validate"),
        }
    }

    pub fn selector(&self) -> Option<&Value> {
        self.item_selector.as_ref().or(self.parameters.as_ref())
    }

    /// A Distributed Map runs each iteration as a child execution with its own history.
    pub fn is_distributed(&self) -> bool {
        self.item_processor
            .as_ref()
            .and_then(|p| p.processor_config.as_ref())
            .and_then(|c| c.mode.as_deref())
            == Some("DISTRIBUTED")
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParallelDef {
    #[serde(flatten)]
    pub flow: Flow,
    pub branches: Vec<StateMachineDef>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub result_selector: Option<Value>,
    #[serde(default = "root", deserialize_with = "nullable_path")]
    pub result_path: NullablePath,
    #[serde(default)]
    pub retry: Vec<Retrier>,
    #[serde(default)]
    pub catch: Vec<Catcher>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChoiceDef {
    #[serde(default = "root", deserialize_with = "nullable_path")]
    pub input_path: NullablePath,
    #[serde(default = "root", deserialize_with = "nullable_path")]
    pub output_path: NullablePath,
    pub choices: Vec<Value>,
    #[serde(default)]
    pub default: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitDef {
    #[serde(flatten)]
    pub flow: Flow,
    #[serde(default)]
    pub seconds: Option<u64>,
    #[serde(default, deserialize_with = "optional_path")]
    pub seconds_path: Option<JsonPath>,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default, deserialize_with = "optional_path")]
    pub timestamp_path: Option<JsonPath>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SucceedDef {
    #[serde(default = "root", deserialize_with = "nullable_path")]
    pub input_path: NullablePath,
    #[serde(default = "root", deserialize_with = "nullable_path")]
    pub output_path: NullablePath,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailDef {
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
    #[serde(default, deserialize_with = "optional_path")]
    pub error_path: Option<JsonPath>,
    #[serde(default, deserialize_with = "optional_path")]
    pub cause_path: Option<JsonPath>,
}

/// AWS's defaults: IntervalSeconds 1, MaxAttempts 3, BackoffRate 2.0.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retrier {
    pub error_equals: Vec<String>,
    #[serde(default = "one")]
    pub interval_seconds: u64,
    #[serde(default = "three")]
    pub max_attempts: u32,
    #[serde(default = "two")]
    pub backoff_rate: f64,
    #[serde(default)]
    pub max_delay_seconds: Option<u64>,
    #[serde(default)]
    pub jitter_strategy: Option<JitterStrategy>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum JitterStrategy {
    Full,
    None,
}

fn one() -> u64 {
    1
}
fn three() -> u32 {
    3
}
fn two() -> f64 {
    2.0
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    #[serde(default = "root", deserialize_with = "nullable_path")]
    pub result_path: NullablePath,
}

/// A definition the runner cannot execute: names the state and what to change.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error("the definition is not valid ASL for the runner: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("state `{state}`: {problem}")]
    State { state: String, problem: String },
}

impl StateMachineDef {
    /// Parses the JSON text of a definition and checks what the interpreter relies on.
    pub fn from_json(text: &str) -> Result<Self, DefinitionError> {
        let machine: Self = serde_json::from_str(text)?;
        machine.validate()?;
        Ok(machine)
    }

    /// Reads a definition already parsed as JSON (e.g. rendered from `crate::asl`'s model).
    pub fn from_value(value: Value) -> Result<Self, DefinitionError> {
        let machine: Self = serde_json::from_value(value)?;
        machine.validate()?;
        Ok(machine)
    }

    pub fn validate(&self) -> Result<(), DefinitionError> {
        let mut seen = HashSet::new();
        self.validate_into(&mut seen)
    }

    fn validate_into<'a>(&'a self, seen: &mut HashSet<&'a str>) -> Result<(), DefinitionError> {
        let problem = |state: &str, problem: String| DefinitionError::State {
            state: state.to_owned(),
            problem,
        };
        if self.query_language.as_deref() == Some("JSONata") {
            return Err(problem(
                &self.start_at,
                "JSONata states are not supported by the local runner; use JSONPath".into(),
            ));
        }
        if !self.states.contains_key(&self.start_at) {
            return Err(problem(&self.start_at, "StartAt names no state".into()));
        }
        let target = |state: &str, next: &str| {
            if self.states.contains_key(next) {
                Ok(())
            } else {
                Err(problem(
                    state,
                    format!("`{next}` is not a state of this machine"),
                ))
            }
        };
        let flow = |state: &str, flow: &Flow| match (&flow.next, flow.end) {
            (Some(next), false) => target(state, next),
            (None, true) => Ok(()),
            _ => Err(problem(state, "needs exactly one of Next and End".into())),
        };
        for (name, state) in &self.states {
            if !seen.insert(name) {
                return Err(problem(name, "the state name is used twice".into()));
            }
            let catchers = match state {
                StateDef::Task(t) => {
                    flow(name, &t.flow)?;
                    let supported =
                        t.resource == LAMBDA_INVOKE || t.resource.starts_with("arn:aws:lambda:");
                    if !supported {
                        return Err(problem(
                            name,
                            format!(
                                "the resource `{}` cannot run locally: only `{LAMBDA_INVOKE}` and Lambda function ARNs",
                                t.resource
                            ),
                        ));
                    }
                    &t.catch
                }
                StateDef::Pass(p) => {
                    flow(name, &p.flow)?;
                    continue;
                }
                StateDef::Map(m) => {
                    flow(name, &m.flow)?;
                    if m.item_reader.is_some() {
                        return Err(problem(
                            name,
                            "ItemReader is not supported by the local runner".into(),
                        ));
                    }
                    match (&m.item_processor, &m.iterator) {
                        (Some(p), None) => p.machine.validate_into(seen)?,
                        (None, Some(i)) => i.validate_into(seen)?,
                        _ => {
                            return Err(problem(
                                name,
                                "a Map needs exactly one of ItemProcessor and Iterator".into(),
                            ));
                        }
                    }
                    if m.item_selector.is_some() && m.parameters.is_some() {
                        return Err(problem(
                            name,
                            "a Map takes ItemSelector or Parameters, not both".into(),
                        ));
                    }
                    &m.catch
                }
                StateDef::Parallel(p) => {
                    flow(name, &p.flow)?;
                    for branch in &p.branches {
                        branch.validate_into(seen)?;
                    }
                    &p.catch
                }
                StateDef::Choice(c) => {
                    for rule in &c.choices {
                        let next = rule.get("Next").and_then(Value::as_str).ok_or_else(|| {
                            problem(name, "every choice rule needs a Next".into())
                        })?;
                        target(name, next)?;
                    }
                    if let Some(default) = &c.default {
                        target(name, default)?;
                    }
                    continue;
                }
                StateDef::Wait(w) => {
                    flow(name, &w.flow)?;
                    let given = [
                        w.seconds.is_some(),
                        w.seconds_path.is_some(),
                        w.timestamp.is_some(),
                        w.timestamp_path.is_some(),
                    ];
                    if given.iter().filter(|g| **g).count() != 1 {
                        return Err(problem(
                            name,
                            "a Wait needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath"
                                .into(),
                        ));
                    }
                    continue;
                }
                StateDef::Succeed(_) | StateDef::Fail(_) => continue,
            };
            for catcher in catchers {
                target(name, &catcher.next)?;
            }
        }
        Ok(())
    }
}

/// The optimised Lambda integration's resource.
pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_aws() {
        let m = StateMachineDef::from_json(
            r#"{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "ResultPath": null, "Retry": [{"ErrorEquals": ["States.ALL"]}], "End": true}}}"#,
        )
        .unwrap();
        let StateDef::Task(t) = &m.states["T"] else {
            panic!()
        };
        assert_eq!(t.result_path, None);
        assert_eq!(t.flow.input_path, Some(JsonPath::root()));
        let r = &t.retry[0];
        assert_eq!(
            (r.interval_seconds, r.max_attempts, r.backoff_rate),
            (1, 3, 2.0)
        );
    }

    #[test]
    fn problems_name_the_state() {
        for (text, needle) in [
            (
                r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}"#,
                "`B`",
            ),
            (
                r#"{"StartAt": "A", "States": {"A": {"Type": "Pass"}}}"#,
                "Next and End",
            ),
            (
                r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": true}}}"#,
                "cannot run locally",
            ),
            (
                r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "InputPath": "x"}}}"#,
                "start with `$`",
            ),
        ] {
            let err = StateMachineDef::from_json(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
