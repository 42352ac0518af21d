//! The runner's reading of an ASL definition: the fields the interpreter executes, with AWS's
//! defaults applied and every path parsed up front.
//!
//! Deliberately wider than `asl`: it also reads the deprecated shapes (Map `Iterator` and
//! `Parameters`) so that the seed's definitions can be run and shown to fail the way AWS fails.
//! The committed definition is parsed by `asl` first (see `super::load_committed`).
//!
//! A Distributed Map's own fields (ItemReader, ItemBatcher, ResultWriter, the tolerated failure
//! thresholds, Label, and their `*Path` forms) are read here as written; the values a `*Path`
//! selects are checked when the Map runs (`super::engine`), as AWS checks them.

use std::collections::HashSet;

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use asl::{ChoiceRule, JsonPath, PayloadTemplate, PayloadValue, ReferencePath};

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

/// A nullable ResultPath: absent means `$`, JSON `null` discards the result.
pub type NullableReference = Option<ReferencePath>;

fn nullable_reference<'de, D: Deserializer<'de>>(d: D) -> Result<NullableReference, D::Error> {
    Option::<ReferencePath>::deserialize(d)
}

fn root_reference() -> NullableReference {
    Some(ReferencePath::root())
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
    pub parameters: Option<PayloadTemplate>,
    #[serde(default)]
    pub result_selector: Option<PayloadTemplate>,
    #[serde(default = "root_reference", deserialize_with = "nullable_reference")]
    pub result_path: NullableReference,
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
    pub parameters: Option<PayloadTemplate>,
    #[serde(default = "root_reference", deserialize_with = "nullable_reference")]
    pub result_path: NullableReference,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessorConfig {
    #[serde(default)]
    pub mode: Option<String>,
    /// How a Distributed Map's child executions run.
    #[serde(default)]
    pub execution_type: Option<ExecutionType>,
}

/// STANDARD child executions keep a history (25,000 events each); EXPRESS ones keep none and
/// stop after 5 minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ExecutionType {
    Standard,
    Express,
}

/// Where a Distributed Map reads its items: an S3 object (`s3:getObject`) or a listing
/// (`s3:listObjectsV2`), located by `Parameters` (a payload template over the state input).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ItemReaderDef {
    pub resource: String,
    #[serde(default)]
    pub reader_config: ReaderConfigDef,
    #[serde(default)]
    pub parameters: Option<PayloadTemplate>,
}

impl ItemReaderDef {
    pub fn reads_listing(&self) -> bool {
        self.resource == S3_LIST_OBJECTS
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ReaderConfigDef {
    #[serde(default)]
    pub input_type: Option<ReaderInputType>,
    #[serde(default, rename = "CSVHeaderLocation")]
    pub csv_header_location: Option<CsvHeaderLocation>,
    #[serde(default, rename = "CSVHeaders")]
    pub csv_headers: Option<Vec<String>>,
    /// At most this many items (0: all of them).
    #[serde(default)]
    pub max_items: Option<u64>,
    #[serde(default, deserialize_with = "optional_path")]
    pub max_items_path: Option<JsonPath>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ReaderInputType {
    Json,
    Jsonl,
    Csv,
    Manifest,
    Parquet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CsvHeaderLocation {
    FirstRow,
    Given,
}

/// Groups a Distributed Map's items into batches, one child execution per batch.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ItemBatcherDef {
    #[serde(default)]
    pub max_items_per_batch: Option<u64>,
    #[serde(default, deserialize_with = "optional_path")]
    pub max_items_per_batch_path: Option<JsonPath>,
    #[serde(default)]
    pub max_input_bytes_per_batch: Option<u64>,
    #[serde(default, deserialize_with = "optional_path")]
    pub max_input_bytes_per_batch_path: Option<JsonPath>,
    /// A payload template over the Map's input, given to every batch as `BatchInput`.
    #[serde(default)]
    pub batch_input: Option<PayloadTemplate>,
}

/// Where a Distributed Map writes its children's results (`s3:putObject`, `Parameters`: `Bucket`
/// and `Prefix`, a payload template over the state input).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ResultWriterDef {
    pub resource: String,
    #[serde(default)]
    pub parameters: Option<PayloadTemplate>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MapDef {
    #[serde(flatten)]
    pub flow: Flow,
    #[serde(default = "root", deserialize_with = "nullable_path")]
    pub items_path: NullablePath,
    #[serde(default)]
    pub item_selector: Option<PayloadTemplate>,
    /// Deprecated name of ItemSelector.
    #[serde(default)]
    pub parameters: Option<PayloadTemplate>,
    #[serde(default)]
    pub item_processor: Option<ProcessorDef>,
    /// Deprecated name of ItemProcessor.
    #[serde(default)]
    pub iterator: Option<StateMachineDef>,
    #[serde(default)]
    pub item_reader: Option<ItemReaderDef>,
    #[serde(default)]
    pub item_batcher: Option<ItemBatcherDef>,
    #[serde(default)]
    pub result_writer: Option<ResultWriterDef>,
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    #[serde(default, deserialize_with = "optional_path")]
    pub max_concurrency_path: Option<JsonPath>,
    #[serde(default)]
    pub tolerated_failure_percentage: Option<f64>,
    #[serde(default, deserialize_with = "optional_path")]
    pub tolerated_failure_percentage_path: Option<JsonPath>,
    #[serde(default)]
    pub tolerated_failure_count: Option<u64>,
    #[serde(default, deserialize_with = "optional_path")]
    pub tolerated_failure_count_path: Option<JsonPath>,
    /// Names the Map Run and its child executions.
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub result_selector: Option<PayloadTemplate>,
    #[serde(default = "root_reference", deserialize_with = "nullable_reference")]
    pub result_path: NullableReference,
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

    pub fn selector(&self) -> Option<&PayloadTemplate> {
        self.item_selector.as_ref().or(self.parameters.as_ref())
    }

    fn processor_config(&self) -> Option<&ProcessorConfig> {
        self.item_processor.as_ref()?.processor_config.as_ref()
    }

    /// A Distributed Map runs each iteration as a child execution with its own history.
    pub fn is_distributed(&self) -> bool {
        self.processor_config().and_then(|c| c.mode.as_deref()) == Some("DISTRIBUTED")
    }

    /// How the child executions of a Distributed Map run (AWS's default: STANDARD).
    pub fn execution_type(&self) -> ExecutionType {
        self.processor_config()
            .and_then(|c| c.execution_type)
            .unwrap_or(ExecutionType::Standard)
    }

    /// The fields only a Distributed Map may have, by name, when present.
    fn distributed_fields(&self) -> Vec<&'static str> {
        let present = [
            ("ItemReader", self.item_reader.is_some()),
            ("ItemBatcher", self.item_batcher.is_some()),
            ("ResultWriter", self.result_writer.is_some()),
            (
                "ToleratedFailurePercentage",
                self.tolerated_failure_percentage.is_some(),
            ),
            (
                "ToleratedFailurePercentagePath",
                self.tolerated_failure_percentage_path.is_some(),
            ),
            (
                "ToleratedFailureCount",
                self.tolerated_failure_count.is_some(),
            ),
            (
                "ToleratedFailureCountPath",
                self.tolerated_failure_count_path.is_some(),
            ),
            ("Label", self.label.is_some()),
            (
                "ProcessorConfig.ExecutionType",
                self.processor_config()
                    .is_some_and(|c| c.execution_type.is_some()),
            ),
        ];
        present
            .into_iter()
            .filter_map(|(field, given)| given.then_some(field))
            .collect()
    }

    /// What AWS refuses in a Distributed Map's own fields, or the runner does not run.
    fn distributed_problem(&self) -> Option<Problem> {
        if !self.is_distributed() {
            let fields = self.distributed_fields();
            return (!fields.is_empty()).then(|| {
                Problem::Invalid(format!(
                    "{} need a Distributed Map: set ItemProcessor.ProcessorConfig.Mode to DISTRIBUTED",
                    fields.join(", ")
                ))
            });
        }
        let both = [
            (
                "MaxConcurrency",
                self.max_concurrency.is_some() && self.max_concurrency_path.is_some(),
            ),
            (
                "ToleratedFailurePercentage",
                self.tolerated_failure_percentage.is_some()
                    && self.tolerated_failure_percentage_path.is_some(),
            ),
            (
                "ToleratedFailureCount",
                self.tolerated_failure_count.is_some()
                    && self.tolerated_failure_count_path.is_some(),
            ),
        ];
        if let Some((field, _)) = both.iter().find(|(_, twice)| *twice) {
            return Some(Problem::Invalid(format!(
                "give {field} or {field}Path, not both"
            )));
        }
        if let Some(percentage) = self.tolerated_failure_percentage
            && !(0.0..=100.0).contains(&percentage)
        {
            return Some(Problem::Invalid(format!(
                "ToleratedFailurePercentage is {percentage}; it must be from 0 to 100"
            )));
        }
        if let Some(label) = &self.label {
            let forbidden = |c: char| c.is_whitespace() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c);
            if label.is_empty() || label.chars().count() > 40 || label.chars().any(forbidden) {
                return Some(Problem::Invalid(format!(
                    "the Label `{label}` must be 1 to 40 characters without whitespace or any of < > {{ }} [ ] ? * \" # % \\ ^ | ~ ` $ & , ; : /"
                )));
            }
        }
        self.item_reader
            .as_ref()
            .and_then(ItemReaderDef::problem)
            .or_else(|| self.item_batcher.as_ref().and_then(ItemBatcherDef::problem))
            .or_else(|| {
                self.result_writer
                    .as_ref()
                    .and_then(ResultWriterDef::problem)
            })
    }
}

impl ItemReaderDef {
    fn problem(&self) -> Option<Problem> {
        let config = &self.reader_config;
        if config.max_items.is_some() && config.max_items_path.is_some() {
            return Some("give ReaderConfig.MaxItems or MaxItemsPath, not both".into());
        }
        if self.parameters.is_none() {
            return Some("the ItemReader needs Parameters with its Bucket".into());
        }
        match (self.resource.as_str(), config.input_type) {
            (S3_LIST_OBJECTS, None) => None,
            (S3_LIST_OBJECTS, Some(_)) => Some(Problem::Invalid(format!(
                "an ItemReader reading `{S3_LIST_OBJECTS}` takes no InputType"
            ))),
            (S3_GET_OBJECT, None) => Some(Problem::Invalid(format!(
                "an ItemReader reading `{S3_GET_OBJECT}` needs ReaderConfig.InputType (JSON, JSONL or CSV)"
            ))),
            (S3_GET_OBJECT, Some(ReaderInputType::Csv)) => {
                match (config.csv_header_location, &config.csv_headers) {
                    (Some(CsvHeaderLocation::FirstRow), None) => None,
                    (Some(CsvHeaderLocation::Given), Some(headers)) if !headers.is_empty() => None,
                    (Some(CsvHeaderLocation::FirstRow), Some(_)) => Some(
                        "CSVHeaders are given while CSVHeaderLocation is FIRST_ROW; use GIVEN".into(),
                    ),
                    _ => Some(
                        "a CSV ItemReader needs CSVHeaderLocation FIRST_ROW, or GIVEN with CSVHeaders"
                            .into(),
                    ),
                }
            }
            (S3_GET_OBJECT, Some(ReaderInputType::Json | ReaderInputType::Jsonl)) => None,
            (S3_GET_OBJECT, Some(other)) => Some(Problem::Unsupported(format!(
                "the ItemReader InputType {other:?} cannot run locally: only JSON, JSONL and CSV"
            ))),
            (other, _) => Some(Problem::Unsupported(format!(
                "the ItemReader resource `{other}` cannot run locally: only `{S3_GET_OBJECT}` and `{S3_LIST_OBJECTS}`"
            ))),
        }
    }
}

impl ItemBatcherDef {
    fn problem(&self) -> Option<Problem> {
        let items = (
            self.max_items_per_batch.is_some(),
            self.max_items_per_batch_path.is_some(),
        );
        let bytes = (
            self.max_input_bytes_per_batch.is_some(),
            self.max_input_bytes_per_batch_path.is_some(),
        );
        if items == (true, true) {
            return Some("give MaxItemsPerBatch or MaxItemsPerBatchPath, not both".into());
        }
        if bytes == (true, true) {
            return Some(
                "give MaxInputBytesPerBatch or MaxInputBytesPerBatchPath, not both".into(),
            );
        }
        if self.max_items_per_batch == Some(0) || self.max_input_bytes_per_batch == Some(0) {
            return Some("MaxItemsPerBatch and MaxInputBytesPerBatch must be at least 1".into());
        }
        if items == (false, false) && bytes == (false, false) {
            return Some(
                "an ItemBatcher needs MaxItemsPerBatch(Path) or MaxInputBytesPerBatch(Path)".into(),
            );
        }
        None
    }
}

impl ResultWriterDef {
    fn problem(&self) -> Option<Problem> {
        if self.resource != S3_PUT_OBJECT {
            return Some(Problem::Unsupported(format!(
                "the ResultWriter resource `{}` cannot run locally: only `{S3_PUT_OBJECT}`",
                self.resource
            )));
        }
        self.parameters
            .is_none()
            .then(|| "the ResultWriter needs Parameters with its Bucket and Prefix".into())
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParallelDef {
    #[serde(flatten)]
    pub flow: Flow,
    pub branches: Vec<StateMachineDef>,
    #[serde(default)]
    pub parameters: Option<PayloadTemplate>,
    #[serde(default)]
    pub result_selector: Option<PayloadTemplate>,
    #[serde(default = "root_reference", deserialize_with = "nullable_reference")]
    pub result_path: NullableReference,
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
    pub choices: Vec<ChoiceRule>,
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
    /// A path (into the input or, `$$`, the context object) or an intrinsic function.
    #[serde(default, deserialize_with = "optional_expression")]
    pub error_path: Option<PayloadValue>,
    #[serde(default, deserialize_with = "optional_expression")]
    pub cause_path: Option<PayloadValue>,
}

/// A path or an intrinsic function call, checked as the template evaluator reads it.
fn optional_expression<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PayloadValue>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    let value = PayloadValue::dynamic(text.trim()).map_err(serde::de::Error::custom)?;
    if let PayloadValue::Intrinsic(call) = &value {
        asl::eval::check_intrinsic(call).map_err(serde::de::Error::custom)?;
    }
    Ok(Some(value))
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
    #[serde(default = "root_reference", deserialize_with = "nullable_reference")]
    pub result_path: NullableReference,
}

/// A definition the runner cannot execute: names the state and what to change.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error("the definition is not valid ASL for the runner: {0}")]
    Parse(#[from] serde_json::Error),
    /// AWS would refuse the state too.
    #[error("state `{state}`: {problem}")]
    State { state: String, problem: String },
    /// AWS runs the state, but the runner does not support what it uses (JSONata, variables, a
    /// service integration other than Lambda, ...).
    #[error("state `{state}`: {feature}")]
    Unsupported { state: String, feature: String },
}

/// What is wrong with a state, as one sentence.
enum Problem {
    /// AWS would refuse it.
    Invalid(String),
    /// AWS would run it; the runner does not.
    Unsupported(String),
}

impl From<&str> for Problem {
    fn from(problem: &str) -> Self {
        Self::Invalid(problem.to_owned())
    }
}

impl Problem {
    fn of(self, state: &str) -> DefinitionError {
        let state = state.to_owned();
        match self {
            Self::Invalid(problem) => DefinitionError::State { state, problem },
            Self::Unsupported(feature) => DefinitionError::Unsupported { state, feature },
        }
    }
}

/// State fields AWS runs and the runner does not, with what they are.
const UNSUPPORTED_FIELDS: [(&str, &str); 5] = [
    ("Assign", "variables (`Assign`)"),
    ("Arguments", "JSONata `Arguments`"),
    ("Output", "JSONata `Output`"),
    ("Items", "JSONata `Items`"),
    ("Condition", "JSONata `Condition`"),
];

/// The first state (in `states`, or nested in a Map or Parallel, or in a Choice rule or Catch)
/// using a field the runner does not support, as the error naming it.
fn unsupported_field(states: &Value) -> Option<DefinitionError> {
    let states = states.as_object()?;
    states.iter().find_map(|(name, state)| {
        let unsupported = |feature: &str| {
            Some(DefinitionError::Unsupported {
                state: name.clone(),
                feature: format!("{feature} is not supported by the local runner"),
            })
        };
        if state.get("QueryLanguage").and_then(Value::as_str) == Some("JSONata") {
            return unsupported("JSONata");
        }
        let nested = ["Choices", "Catch"]
            .iter()
            .filter_map(|field| state.get(field)?.as_array())
            .flatten();
        for holder in std::iter::once(state).chain(nested) {
            if let Some((_, feature)) = UNSUPPORTED_FIELDS
                .iter()
                .find(|(field, _)| holder.get(field).is_some())
            {
                return unsupported(feature);
            }
        }
        let processors = ["ItemProcessor", "Iterator"]
            .iter()
            .filter_map(|field| state.get(field))
            .chain(
                state
                    .get("Branches")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            );
        processors
            .filter_map(|machine| machine.get("States"))
            .find_map(unsupported_field)
    })
}

impl StateMachineDef {
    /// Parses the JSON text of a definition and checks what the interpreter relies on.
    pub fn from_json(text: &str) -> Result<Self, DefinitionError> {
        Self::from_value(serde_json::from_str(text)?)
    }

    /// Reads a definition already parsed as JSON (e.g. rendered from `asl`'s model).
    pub fn from_value(value: Value) -> Result<Self, DefinitionError> {
        // JSONata fields do not have JSONPath's types: say so before serde trips on one.
        if value.get("QueryLanguage").and_then(Value::as_str) == Some("JSONata") {
            return Err(DefinitionError::Unsupported {
                state: value["StartAt"].as_str().unwrap_or_default().to_owned(),
                feature: JSONATA_UNSUPPORTED.into(),
            });
        }
        if let Some(unsupported) = value.get("States").and_then(unsupported_field) {
            return Err(unsupported);
        }
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
            return Err(Problem::Unsupported(JSONATA_UNSUPPORTED.into()).of(&self.start_at));
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
                        return Err(Problem::Unsupported(format!(
                            "the resource `{}` cannot run locally: only `{LAMBDA_INVOKE}` and Lambda function ARNs",
                            t.resource
                        ))
                        .of(name));
                    }
                    &t.catch
                }
                StateDef::Pass(p) => {
                    flow(name, &p.flow)?;
                    continue;
                }
                StateDef::Map(m) => {
                    flow(name, &m.flow)?;
                    if let Some(distributed) = m.distributed_problem() {
                        return Err(distributed.of(name));
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
                        target(name, rule.next.as_str())?;
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
/// An ItemReader reading one S3 object.
pub const S3_GET_OBJECT: &str = "arn:aws:states:::s3:getObject";
/// An ItemReader reading an S3 listing.
pub const S3_LIST_OBJECTS: &str = "arn:aws:states:::s3:listObjectsV2";
/// A ResultWriter.
pub const S3_PUT_OBJECT: &str = "arn:aws:states:::s3:putObject";

const JSONATA_UNSUPPORTED: &str =
    "JSONata states are not supported by the local runner; use JSONPath";

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

    /// A one-state machine whose Map `M` has `fields` and a processor in `mode`.
    fn map_with(mode: &str, fields: Value) -> String {
        let mut map = serde_json::json!({"Type": "Map", "End": true,
            "ItemProcessor": {"ProcessorConfig": {"Mode": mode},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}});
        map.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        serde_json::json!({"StartAt": "M", "States": {"M": map}}).to_string()
    }

    #[test]
    fn the_committed_distributed_map_is_read_with_its_reader_writer_and_thresholds() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(crate::synth::DEFINITION_PATH),
        )
        .unwrap();
        let machine = StateMachineDef::from_json(&text).unwrap();
        let StateDef::Map(map) = &machine.states[pipeline::PROCESS_TASK02_CHUNKS] else {
            panic!("the pipeline's Map")
        };
        assert!(map.is_distributed());
        let reader = map.item_reader.as_ref().unwrap();
        assert_eq!(reader.resource, S3_GET_OBJECT);
        assert_eq!(reader.reader_config.input_type, Some(ReaderInputType::Json));
        assert_eq!(map.result_writer.as_ref().unwrap().resource, S3_PUT_OBJECT);
        assert_eq!(map.tolerated_failure_count, Some(0));
        assert_eq!(map.label.as_deref(), Some("chunks"));
        assert_eq!(map.execution_type(), ExecutionType::Standard);
    }

    #[test]
    fn distributed_fields_are_checked_as_aws_checks_them() {
        let reader = |config: serde_json::Value| {
            serde_json::json!({"ItemReader": {"Resource": S3_GET_OBJECT, "ReaderConfig": config,
                "Parameters": {"Bucket": "b", "Key": "k"}}})
        };
        for (mode, fields, needle) in [
            (
                "INLINE",
                reader(serde_json::json!({"InputType": "JSON"})),
                "ItemReader need a Distributed Map",
            ),
            (
                "INLINE",
                serde_json::json!({"Label": "x"}),
                "Label need a Distributed Map",
            ),
            (
                "DISTRIBUTED",
                reader(serde_json::json!({})),
                "needs ReaderConfig.InputType",
            ),
            (
                "DISTRIBUTED",
                reader(serde_json::json!({"InputType": "CSV"})),
                "CSVHeaderLocation",
            ),
            (
                "DISTRIBUTED",
                reader(serde_json::json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN"})),
                "GIVEN with CSVHeaders",
            ),
            (
                "DISTRIBUTED",
                reader(serde_json::json!({"InputType": "MANIFEST"})),
                "only JSON, JSONL and CSV",
            ),
            (
                "DISTRIBUTED",
                reader(
                    serde_json::json!({"InputType": "JSON", "MaxItems": 1, "MaxItemsPath": "$.m"}),
                ),
                "MaxItems or MaxItemsPath",
            ),
            (
                "DISTRIBUTED",
                serde_json::json!({"ItemBatcher": {"BatchInput": {}}}),
                "needs MaxItemsPerBatch(Path) or MaxInputBytesPerBatch(Path)",
            ),
            (
                "DISTRIBUTED",
                serde_json::json!({"ItemBatcher": {"MaxItemsPerBatch": 0}}),
                "at least 1",
            ),
            (
                "DISTRIBUTED",
                serde_json::json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {}}}),
                "only `arn:aws:states:::s3:putObject`",
            ),
            (
                "DISTRIBUTED",
                serde_json::json!({"ResultWriter": {"WriterConfig": {"OutputType": "JSONL"}}}),
                "unknown field `WriterConfig`",
            ),
            (
                "DISTRIBUTED",
                serde_json::json!({"ToleratedFailureCount": 1, "ToleratedFailureCountPath": "$.c"}),
                "ToleratedFailureCount or ToleratedFailureCountPath",
            ),
            (
                "DISTRIBUTED",
                serde_json::json!({"ToleratedFailurePercentage": 101}),
                "from 0 to 100",
            ),
            (
                "DISTRIBUTED",
                serde_json::json!({"Label": "a:b"}),
                "the Label `a:b`",
            ),
        ] {
            let err = StateMachineDef::from_json(&map_with(mode, fields.clone()))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{fields}: {err}");
        }
        let listing = serde_json::json!({"ItemReader": {"Resource": S3_LIST_OBJECTS,
            "Parameters": {"Bucket": "b"}, "ReaderConfig": {"MaxItems": 5}}});
        StateMachineDef::from_json(&map_with("DISTRIBUTED", listing)).unwrap();
    }

    #[test]
    fn features_aws_runs_and_the_runner_does_not_are_unsupported_not_invalid() {
        let pass = serde_json::json!({"Type": "Pass", "End": true});
        let with = |extra: Value| {
            let mut state = pass.clone();
            state
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            state
        };
        let parallel = |state: Value| {
            serde_json::json!({"Type": "Parallel", "End": true,
                "Branches": [{"StartAt": "Inner", "States": {"Inner": state}}]})
        };
        for (state, needle) in [
            (with(serde_json::json!({"Assign": {"x": 1}})), "`Assign`"),
            (
                with(serde_json::json!({"QueryLanguage": "JSONata"})),
                "JSONata",
            ),
            (
                parallel(with(serde_json::json!({"Output": "{% 1 %}"}))),
                "`Output`",
            ),
            (
                serde_json::json!({"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": true}),
                "cannot run locally",
            ),
        ] {
            let text = serde_json::json!({"StartAt": "S", "States": {"S": state}}).to_string();
            let error = StateMachineDef::from_json(&text).unwrap_err();
            assert!(
                matches!(&error, DefinitionError::Unsupported { feature, .. } if feature.contains(needle)),
                "{error:?}"
            );
        }
        let invalid = r#"{"StartAt": "S", "States": {"S": {"Type": "Pass"}}}"#;
        assert!(matches!(
            StateMachineDef::from_json(invalid),
            Err(DefinitionError::State { .. })
        ));
    }

    #[test]
    fn a_jsonata_definition_is_refused_before_its_fields_are_read() {
        let text = r#"{"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {"Type": "Map",
            "ItemReader": {"ReaderConfig": {"InputType": "JSON", "MaxItems": "{% 2 %}"},
                           "Resource": "arn:aws:states:::s3:getObject", "Arguments": {}},
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}}"#;
        let err = StateMachineDef::from_json(text).unwrap_err().to_string();
        assert!(err.contains("JSONata"), "{err}");
    }
}
