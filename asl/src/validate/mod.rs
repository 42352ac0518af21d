//! Synth-time checks of a whole state machine: what the types cannot promise. Every problem is
//! collected, so one run reports them all, each naming its state and field.
//!
//! Errors: duplicate state names (across nested processors and branches too), a `StartAt`,
//! `Next`, `Default` or `Catch` target that does not exist in its scope, a state that cannot be
//! reached, a scope without a terminal state or a state from which no terminal state can be
//! reached, `States.ALL` not alone or not last, a Map-item context value outside an ItemSelector,
//! and a typed path that does not resolve in the JSON schema of the type it starts from (a serde
//! rename the Rust names do not show). For a Map: a Distributed-Map field on an inline Map; an
//! ItemReader that is not `s3:getObject`/`s3:listObjectsV2`, misses its bucket or key or input
//! type, or has CSV settings that do not fit; MaxItems, MaxConcurrency, ToleratedFailurePercentage
//! and ItemBatcher limits outside AWS's ranges; a ResultWriter that is not one of the
//! combinations AWS takes; a Label AWS refuses or that another Map already has. Query languages
//! (see `language.rs`): a field of the other language, a JSONPath state in a JSONata machine, a
//! JSONata string that does not parse, an `Assign` of a reserved or outer-scope variable.
//!
//! Warnings: a state whose output grows with the number of items (a Map's result array kept in
//! the state), against the 256 KiB limit on any state's input or output; an inline Map's
//! MaxConcurrency above the 40 AWS runs; ItemsPath beside an ItemReader, which AWS ignores; a
//! failure tolerance on an inline Map, which AWS ignores too.

mod language;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde_json::Value as Json;

use super::path::{ContextPath, ContextValue, DataPath, ReferencePath, Segment};
use super::payload::PayloadTemplate;
use super::state::{
    Catcher, ChoiceState, Condition, CsvHeaderLocation, ErrorName, ItemBatcher, ItemReader, Limit,
    MapState, ReaderInputType, ResultPath, ResultWriter, Retrier, S3_GET_OBJECT,
    S3_LIST_OBJECTS_V2, S3_PUT_OBJECT, State, StateMachine, StateName, States, WaitFor,
};

use crate::limits::{
    DISTRIBUTED_MAP_MAX_CONCURRENCY, INLINE_MAP_MAX_CONCURRENCY, MAP_LABEL_CHARS, PAYLOAD_BYTES,
    READER_MAX_ITEMS,
};

/// One finding, located by the state it is in (`Outer/Inner` for nested states).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The state it is in (`Outer/Inner` for nested states); `None` for the machine itself.
    pub state: Option<String>,
    /// What is wrong, for a reader of the definition.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            Some(state) => write!(f, "state `{state}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Everything the checks found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// What AWS would refuse or the machine would get wrong: synth fails on any.
    pub errors: Vec<Problem>,
    /// What is likely a mistake but allowed, such as a state output that grows with the items.
    pub warnings: Vec<Problem>,
}

impl Report {
    /// Whether there are no errors (warnings allowed).
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Why `label` cannot be a Distributed Map's `Label`, or `None` when it can. AWS allows 1 to 40
/// characters, none of them whitespace, a control character or one of
/// `< > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /`.
pub fn label_problem(label: &str) -> Option<String> {
    const FORBIDDEN: &str = "<>{}[]?*\"#%\\^|~`$&,;:/";
    let length = label.chars().count();
    if !(1..=MAP_LABEL_CHARS).contains(&length) {
        return Some(format!(
            "a Label is 1 to {MAP_LABEL_CHARS} characters, not {length}"
        ));
    }
    label
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || FORBIDDEN.contains(*c))
        .map(|c| format!("a Label cannot contain {c:?}"))
}

/// Runs every check on `machine`.
pub fn validate(machine: &StateMachine) -> Report {
    let mut checker = Checker::default();
    checker.scope(None, &machine.start_at, &machine.states);
    checker.unique_names(machine);
    checker.unique_map_labels();
    checker.languages(machine);
    checker.report
}

#[derive(Default)]
struct Checker {
    report: Report,
    /// Each Distributed Map `Label` with the states that use it, in the order they were checked.
    map_labels: BTreeMap<String, Vec<String>>,
}

impl Checker {
    fn error(&mut self, state: Option<&str>, message: String) {
        self.report.errors.push(Problem {
            state: state.map(str::to_owned),
            message,
        });
    }

    fn warning(&mut self, state: Option<&str>, message: String) {
        self.report.warnings.push(Problem {
            state: state.map(str::to_owned),
            message,
        });
    }

    /// Checks one machine, processor or branch; `parent` is the state that contains it.
    fn scope(&mut self, parent: Option<&str>, start_at: &StateName, states: &States) {
        let where_ = parent.map(|p| format!(" of `{p}`")).unwrap_or_default();
        if !states.contains_key(start_at) {
            self.error(
                parent,
                format!("StartAt{where_} names `{start_at}`, which is not one of its states"),
            );
        }
        for (name, state) in states {
            let label = qualified(parent, name);
            for target in state.targets() {
                if !states.contains_key(target) {
                    self.error(
                        Some(&label),
                        format!(
                            "goes to `{target}`, which is not a state of the same {}",
                            if parent.is_some() {
                                "branch or processor"
                            } else {
                                "machine"
                            }
                        ),
                    );
                }
            }
            self.state(&label, state);
        }
        self.flow(parent, start_at, states);
    }

    /// Reachability from StartAt, and a way to a terminal state from every state.
    fn flow(&mut self, parent: Option<&str>, start_at: &StateName, states: &States) {
        let edges: HashMap<&StateName, Vec<&StateName>> = states
            .iter()
            .map(|(name, state)| (name, state.targets()))
            .collect();
        let reachable = closure([start_at], |name| {
            edges.get(name).cloned().unwrap_or_default()
        });
        for name in states.keys() {
            if !reachable.contains(name) {
                self.error(
                    Some(&qualified(parent, name)),
                    format!("cannot be reached from `{start_at}`"),
                );
            }
        }
        // Walk the edges backwards from the terminal states.
        let mut incoming: HashMap<&StateName, Vec<&StateName>> = HashMap::new();
        for (from, targets) in &edges {
            for to in targets {
                incoming.entry(to).or_default().push(from);
            }
        }
        let terminals: Vec<&StateName> = states
            .iter()
            .filter(|(_, state)| state.is_terminal())
            .map(|(name, _)| name)
            .collect();
        // A state going to a missing state is already reported; counting it as an end keeps
        // that one mistake from being reported again for every state before it.
        let broken = states
            .iter()
            .filter(|(_, state)| state.targets().iter().any(|t| !states.contains_key(*t)))
            .map(|(name, _)| name);
        if terminals.is_empty() && !states.is_empty() {
            let of = parent
                .map(|p| format!("the processor or branch of `{p}`"))
                .unwrap_or("the machine".into());
            self.error(
                parent,
                format!("{of} has no terminal state (Succeed, Fail or `\"End\": true`)"),
            );
            return;
        }
        let can_end = closure(terminals.iter().copied().chain(broken), |name| {
            incoming.get(name).cloned().unwrap_or_default()
        });
        for name in states.keys() {
            if reachable.contains(name) && !can_end.contains(name) {
                self.error(
                    Some(&qualified(parent, name)),
                    "no terminal state can be reached from it: the execution would never end"
                        .into(),
                );
            }
        }
    }

    fn state(&mut self, label: &str, state: &State) {
        self.error_matchers(
            label,
            "Retry",
            state.retry().iter().map(|r: &Retrier| &r.error_equals),
        );
        for (index, retrier) in state.retry().iter().enumerate() {
            for problem in retrier_problems(retrier) {
                self.error(Some(label), format!("Retry[{index}]: {problem}"));
            }
        }
        self.error_matchers(
            label,
            "Catch",
            state.catch().iter().map(|c: &Catcher| &c.error_equals),
        );
        for (field, path) in reference_paths(state) {
            self.resolves(label, &field, path);
        }
        for (field, path) in context_paths(state) {
            if path.value().is_some_and(ContextValue::is_map_item) && field != "ItemSelector" {
                self.error(
                    Some(label),
                    format!("{field} reads `{path}`, which exists only in a Map's ItemSelector"),
                );
            }
        }
        match state {
            State::Map(map) => self.map(label, map),
            State::Choice(ChoiceState { choices, .. }) if choices.is_empty() => {
                self.error(Some(label), "a Choice needs at least one rule".into());
            }
            _ => {}
        }
        for branch in state.nested() {
            self.scope(Some(label), &branch.start_at, &branch.states);
        }
    }

    /// Everything a Map's fields must agree on that the model cannot hold as types.
    fn map(&mut self, label: &str, map: &MapState) {
        let distributed = map.is_distributed();
        if !distributed {
            for field in distributed_only_fields(map) {
                self.error(
                    Some(label),
                    format!(
                        "{field} needs a Distributed Map: set ItemProcessor.ProcessorConfig.Mode to DISTRIBUTED, or remove {field}"
                    ),
                );
            }
            // AWS accepts these on an inline Map (the recorded executions run such Maps) and
            // ignores them: the first failed iteration fails an inline Map.
            for field in tolerance_fields(map) {
                self.warning(
                    Some(label),
                    format!(
                        "{field} has no effect on an inline Map (its first failed iteration fails it): set ItemProcessor.ProcessorConfig.Mode to DISTRIBUTED, or remove {field}"
                    ),
                );
            }
        }
        match map.max_concurrency.as_ref().and_then(Limit::fixed) {
            Some(&max) if distributed && max > DISTRIBUTED_MAP_MAX_CONCURRENCY => self.error(
                Some(label),
                format!(
                    "MaxConcurrency {max} is more child executions than a Distributed Map runs at once: use 1 to {DISTRIBUTED_MAP_MAX_CONCURRENCY} (0 or none for as many as AWS allows)"
                ),
            ),
            Some(&max) if !distributed && max > INLINE_MAP_MAX_CONCURRENCY => self.warning(
                Some(label),
                format!(
                    "MaxConcurrency {max} has no effect above {INLINE_MAP_MAX_CONCURRENCY}: AWS runs at most {INLINE_MAP_MAX_CONCURRENCY} iterations of an inline Map at once; use a Distributed Map for more"
                ),
            ),
            _ => {}
        }
        if let Some(&percentage) = map
            .tolerated_failure_percentage
            .as_ref()
            .and_then(Limit::fixed)
            && !(0.0..=100.0).contains(&percentage)
        {
            self.error(
                Some(label),
                format!(
                    "ToleratedFailurePercentage {percentage} is not a share of the children: use 0 to 100 (%)"
                ),
            );
        }
        if let Some(map_label) = &map.label {
            match label_problem(map_label) {
                Some(problem) => self.error(
                    Some(label),
                    format!("Label {map_label:?} cannot name a Map Run: {problem}"),
                ),
                None => self
                    .map_labels
                    .entry(map_label.clone())
                    .or_default()
                    .push(label.to_owned()),
            }
        }
        if let Some(reader) = &map.item_reader {
            self.item_reader(label, reader);
            if let Some(items_path) = &map.items_path {
                self.warning(
                    Some(label),
                    format!(
                        "ItemsPath `{items_path}` has no effect: AWS ignores ItemsPath when an ItemReader is given; remove it"
                    ),
                );
            }
        }
        if let Some(batcher) = &map.item_batcher {
            self.item_batcher(label, batcher);
        }
        if let Some(writer) = &map.result_writer {
            self.result_writer(label, writer);
        }
        self.result_array(label, map);
    }

    fn item_reader(&mut self, label: &str, reader: &ItemReader) {
        let resource = reader.resource.as_str();
        if ![S3_GET_OBJECT, S3_LIST_OBJECTS_V2].contains(&resource) {
            self.error(
                Some(label),
                format!(
                    "ItemReader.Resource `{resource}` is not one a Distributed Map reads items with: use `{S3_GET_OBJECT}` (the items stored in one object) or `{S3_LIST_OBJECTS_V2}` (the objects under a prefix)"
                ),
            );
            return;
        }
        let required: &[&str] = if resource == S3_GET_OBJECT {
            &["Bucket", "Key"]
        } else {
            &["Bucket"]
        };
        let request = S3Request::of(reader.parameters.as_ref(), reader.arguments.as_ref());
        for key in required {
            self.parameter_given(label, "ItemReader", resource, request, key);
        }
        let config = reader.reader_config.as_ref();
        let input_type = config.and_then(|c| c.input_type);
        if resource == S3_GET_OBJECT && input_type.is_none() {
            self.error(
                Some(label),
                format!(
                    "ItemReader.ReaderConfig.InputType is missing: `{S3_GET_OBJECT}` must be told how the object stores its items (CSV, JSON, JSONL, PARQUET or MANIFEST)"
                ),
            );
        }
        let Some(config) = config else { return };
        if input_type == Some(ReaderInputType::Csv) {
            match (config.csv_header_location, &config.csv_headers) {
                (Some(CsvHeaderLocation::Given), None) => self.error(
                    Some(label),
                    "ItemReader.ReaderConfig.CSVHeaderLocation is GIVEN but CSVHeaders is missing: list the column names in CSVHeaders".into(),
                ),
                (Some(CsvHeaderLocation::FirstRow), Some(_)) => self.error(
                    Some(label),
                    "ItemReader.ReaderConfig.CSVHeaders is given but CSVHeaderLocation is FIRST_ROW, which reads them from the file: remove CSVHeaders, or set CSVHeaderLocation to GIVEN".into(),
                ),
                _ => {}
            }
        } else {
            let csv_only = [
                ("CSVHeaderLocation", config.csv_header_location.is_some()),
                ("CSVHeaders", config.csv_headers.is_some()),
                ("CSVDelimiter", config.csv_delimiter.is_some()),
            ];
            for (field, _) in csv_only.iter().filter(|(_, given)| *given) {
                self.error(
                    Some(label),
                    format!(
                        "ItemReader.ReaderConfig.{field} applies only to InputType CSV: remove it, or set InputType to CSV"
                    ),
                );
            }
        }
        if let Some(&max) = config.max_items.as_ref().and_then(Limit::fixed)
            && max > READER_MAX_ITEMS
        {
            self.error(
                Some(label),
                format!(
                    "ItemReader.ReaderConfig.MaxItems {max} is more than AWS reads: use at most {READER_MAX_ITEMS}, or leave it out to read every item"
                ),
            );
        }
    }

    fn item_batcher(&mut self, label: &str, batcher: &ItemBatcher) {
        if batcher.max_items_per_batch.is_none() && batcher.max_input_bytes_per_batch.is_none() {
            self.error(
                Some(label),
                "ItemBatcher has no limit: give MaxItemsPerBatch, MaxInputBytesPerBatch (or their Path twins), or both".into(),
            );
        }
        let limits = [
            ("MaxItemsPerBatch", &batcher.max_items_per_batch),
            ("MaxInputBytesPerBatch", &batcher.max_input_bytes_per_batch),
        ];
        for (field, limit) in limits {
            if limit.as_ref().and_then(Limit::fixed) == Some(&0) {
                self.error(
                    Some(label),
                    format!("ItemBatcher.{field} is 0: a batch holds at least 1 (use 1 or more)"),
                );
            }
        }
        if let Some(&bytes) = batcher
            .max_input_bytes_per_batch
            .as_ref()
            .and_then(Limit::fixed)
            && bytes as usize > PAYLOAD_BYTES
        {
            self.error(
                Some(label),
                format!(
                    "ItemBatcher.MaxInputBytesPerBatch {bytes} is more than a child execution's input may hold: use at most {PAYLOAD_BYTES} (256 KiB)"
                ),
            );
        }
    }

    /// AWS takes `Resource` with `Parameters` (write to S3), `WriterConfig` (format only), or all
    /// three.
    fn result_writer(&mut self, label: &str, writer: &ResultWriter) {
        let request = S3Request::of(writer.parameters.as_ref(), writer.arguments.as_ref());
        match (&writer.resource, request) {
            (None, None) if writer.writer_config.is_none() => self.error(
                Some(label),
                format!(
                    "ResultWriter is empty: give Resource `{S3_PUT_OBJECT}` with Parameters (Bucket, Prefix) to write the results to S3, a WriterConfig to format them, or both"
                ),
            ),
            (None, None) => {}
            (Some(_), None) => self.error(
                Some(label),
                "ResultWriter.Resource needs Parameters saying where to write: add Parameters with Bucket (and Prefix)".into(),
            ),
            (None, Some(_)) => self.error(
                Some(label),
                format!(
                    "ResultWriter.Parameters needs a Resource to write with: add Resource `{S3_PUT_OBJECT}`"
                ),
            ),
            (Some(resource), Some(parameters)) => {
                if resource != S3_PUT_OBJECT {
                    self.error(
                        Some(label),
                        format!(
                            "ResultWriter.Resource `{resource}` cannot write the results: use `{S3_PUT_OBJECT}`"
                        ),
                    );
                }
                self.parameter_given(label, "ResultWriter", resource, Some(parameters), "Bucket");
            }
        }
    }

    /// `field.Parameters` (or `Arguments`) gives `key`, which `resource` needs, literally or
    /// read from the input.
    fn parameter_given(
        &mut self,
        label: &str,
        field: &str,
        resource: &str,
        request: Option<S3Request<'_>>,
        key: &str,
    ) {
        match request {
            Some(request) if request.gives(key) => {}
            Some(S3Request::Arguments(_)) => self.error(
                Some(label),
                format!(
                    "{field}.Arguments has no `{key}`, which `{resource}` needs: give it literally or as a JSONata string"
                ),
            ),
            _ => self.error(
                Some(label),
                format!(
                    "{field}.Parameters has no `{key}`, which `{resource}` needs: give it literally (`{key}`) or from the input (`{key}.$`)"
                ),
            ),
        }
    }

    /// A Map's result is the array of its iterations' outputs unless a ResultWriter writes it
    /// to S3; kept in the state, it grows with the number of items.
    fn result_array(&mut self, label: &str, map: &MapState) {
        let written_to_s3 = map
            .result_writer
            .as_ref()
            .is_some_and(|writer| writer.resource.is_some());
        if map.result_path == ResultPath::Discard || written_to_s3 {
            return;
        }
        let message = if map.is_distributed() {
            format!(
                "the Distributed Map has no ResultWriter writing to S3, so its result is the array of its child executions' outputs (one entry per item or batch), which counts against the {PAYLOAD_BYTES}-byte (256 KiB) limit like any state's output and fails with States.DataLimitExceeded past it; add a ResultWriter with Resource `{S3_PUT_OBJECT}`, or set `ResultPath: null`"
            )
        } else {
            format!(
                "the Map keeps its result array (one entry per item) in its output, so the output grows with the number of items and fails with States.DataLimitExceeded past {PAYLOAD_BYTES} bytes (256 KiB); set `ResultPath: null`, keep a summary, or make it a Distributed Map that writes its results to S3 with a ResultWriter"
            )
        };
        self.warning(Some(label), message);
    }

    /// A Map's `Label` names its Map Run and child executions, so no two Maps share one.
    fn unique_map_labels(&mut self) {
        for (map_label, states) in std::mem::take(&mut self.map_labels) {
            let (first, others) = states
                .split_first()
                .expect("a label is kept with its state");
            for state in others {
                self.error(
                    Some(state),
                    format!(
                        "Label {map_label:?} is already the Label of `{first}`: give each Map its own Label"
                    ),
                );
            }
        }
    }

    /// `States.ALL` must be alone in its ErrorEquals and in the last retrier or catcher.
    fn error_matchers<'a>(
        &mut self,
        label: &str,
        field: &str,
        lists: impl ExactSizeIterator<Item = &'a Vec<ErrorName>>,
    ) {
        let count = lists.len();
        for (index, errors) in lists.enumerate() {
            if errors.is_empty() {
                self.error(
                    Some(label),
                    format!("{field}[{index}].ErrorEquals is empty"),
                );
            }
            if errors.iter().any(ErrorName::is_all) {
                if errors.len() > 1 {
                    self.error(
                        Some(label),
                        format!("{field}[{index}]: States.ALL must be alone in its ErrorEquals"),
                    );
                }
                if index + 1 != count {
                    self.error(
                        Some(label),
                        format!("{field}[{index}]: the entry with States.ALL must be the last of {field}"),
                    );
                }
            }
        }
    }

    /// A typed path must resolve in the schema of the type it starts from.
    fn resolves(&mut self, label: &str, field: &str, path: &ReferencePath) {
        let Some(root) = path.schema_root() else {
            return;
        };
        let schema = root.schema();
        if let Err(problem) = resolve(schema.as_value(), path.segments()) {
            self.error(
                Some(label),
                format!(
                    "{field} `{path}` does not resolve in the JSON schema of `{}`: {problem} (a serde rename?)",
                    root.type_name()
                ),
            );
        }
    }

    fn unique_names(&mut self, machine: &StateMachine) {
        let mut seen: BTreeMap<&StateName, Vec<String>> = BTreeMap::new();
        collect_names(None, &machine.states, &mut seen);
        for (name, places) in seen {
            if places.len() > 1 {
                self.error(
                    None,
                    format!(
                        "the state name `{name}` is used {} times ({}); names must be unique in the whole machine",
                        places.len(),
                        places.join(", ")
                    ),
                );
            }
        }
    }
}

/// The S3 request of an ItemReader or a ResultWriter: JSONPath `Parameters` or JSONata
/// `Arguments`.
#[derive(Clone, Copy)]
enum S3Request<'a> {
    Parameters(&'a PayloadTemplate),
    Arguments(&'a Json),
}

impl<'a> S3Request<'a> {
    fn of(parameters: Option<&'a PayloadTemplate>, arguments: Option<&'a Json>) -> Option<Self> {
        parameters
            .map(S3Request::Parameters)
            .or(arguments.map(S3Request::Arguments))
    }

    /// Whether the request names `key` (a JSONata string for the whole request is only known
    /// when the state runs).
    fn gives(&self, key: &str) -> bool {
        match self {
            S3Request::Parameters(parameters) => parameters.get(key).is_some(),
            S3Request::Arguments(Json::Object(arguments)) => arguments.contains_key(key),
            S3Request::Arguments(_) => true,
        }
    }
}

fn qualified(parent: Option<&str>, name: &StateName) -> String {
    match parent {
        Some(parent) => format!("{parent}/{name}"),
        None => name.to_string(),
    }
}

fn collect_names<'a>(
    parent: Option<&str>,
    states: &'a States,
    seen: &mut BTreeMap<&'a StateName, Vec<String>>,
) {
    for (name, state) in states {
        seen.entry(name).or_default().push(match parent {
            Some(parent) => format!("in `{parent}`"),
            None => "at the top level".into(),
        });
        for branch in state.nested() {
            collect_names(Some(name.as_str()), &branch.states, seen);
        }
    }
}

/// Every node reachable from `start` through `next`.
fn closure<'a>(
    start: impl IntoIterator<Item = &'a StateName>,
    next: impl Fn(&'a StateName) -> Vec<&'a StateName>,
) -> HashSet<&'a StateName> {
    let mut seen = HashSet::new();
    let mut todo: Vec<&StateName> = start.into_iter().collect();
    while let Some(name) = todo.pop() {
        if seen.insert(name) {
            todo.extend(next(name));
        }
    }
    seen
}

/// Every reference path of a state (nested states excluded), with the field it is in.
fn reference_paths<'a>(state: &'a State) -> Vec<(String, &'a ReferencePath)> {
    let mut paths: Vec<(String, &ReferencePath)> = Vec::new();
    let mut add = |field: &str, path: Option<&'a ReferencePath>| {
        if let Some(path) = path {
            paths.push((field.to_owned(), path));
        }
    };
    let templates: Vec<(&str, Option<&'a PayloadTemplate>)> = match state {
        State::Task(task) => {
            add(
                "InputPath",
                task.input_path.as_ref().and_then(DataPath::reference),
            );
            add("ResultPath", result_path(&task.result_path));
            add(
                "OutputPath",
                task.output_path.as_ref().and_then(DataPath::reference),
            );
            vec![
                ("Parameters", task.parameters.as_ref()),
                ("ResultSelector", task.result_selector.as_ref()),
            ]
        }
        State::Map(map) => {
            let reader_config = map
                .item_reader
                .as_ref()
                .and_then(|r| r.reader_config.as_ref());
            let batcher = map.item_batcher.as_ref();
            add(
                "InputPath",
                map.input_path.as_ref().and_then(DataPath::reference),
            );
            add(
                "ItemReader.ReaderConfig.MaxItemsPath",
                reader_config.and_then(|c| c.max_items.as_ref()?.path()),
            );
            add(
                "ItemsPath",
                map.items_path.as_ref().and_then(DataPath::reference),
            );
            add(
                "ItemBatcher.MaxItemsPerBatchPath",
                batcher.and_then(|b| b.max_items_per_batch.as_ref()?.path()),
            );
            add(
                "ItemBatcher.MaxInputBytesPerBatchPath",
                batcher.and_then(|b| b.max_input_bytes_per_batch.as_ref()?.path()),
            );
            add(
                "MaxConcurrencyPath",
                map.max_concurrency.as_ref().and_then(Limit::path),
            );
            add(
                "ToleratedFailurePercentagePath",
                map.tolerated_failure_percentage
                    .as_ref()
                    .and_then(Limit::path),
            );
            add(
                "ToleratedFailureCountPath",
                map.tolerated_failure_count.as_ref().and_then(Limit::path),
            );
            add("ResultPath", result_path(&map.result_path));
            add(
                "OutputPath",
                map.output_path.as_ref().and_then(DataPath::reference),
            );
            map_templates(map)
        }
        State::Parallel(parallel) => {
            add(
                "InputPath",
                parallel.input_path.as_ref().and_then(DataPath::reference),
            );
            add("ResultPath", result_path(&parallel.result_path));
            add(
                "OutputPath",
                parallel.output_path.as_ref().and_then(DataPath::reference),
            );
            vec![
                ("Parameters", parallel.parameters.as_ref()),
                ("ResultSelector", parallel.result_selector.as_ref()),
            ]
        }
        State::Pass(pass) => {
            add(
                "InputPath",
                pass.input_path.as_ref().and_then(DataPath::reference),
            );
            add("ResultPath", result_path(&pass.result_path));
            add(
                "OutputPath",
                pass.output_path.as_ref().and_then(DataPath::reference),
            );
            vec![("Parameters", pass.parameters.as_ref())]
        }
        State::Wait(wait) => {
            add(
                "InputPath",
                wait.input_path.as_ref().and_then(DataPath::reference),
            );
            add(
                "OutputPath",
                wait.output_path.as_ref().and_then(DataPath::reference),
            );
            if let WaitFor::SecondsPath(path) | WaitFor::TimestampPath(path) = &wait.wait_for {
                add("Wait", Some(path));
            }
            Vec::new()
        }
        State::Choice(choice) => {
            add(
                "InputPath",
                choice.input_path.as_ref().and_then(DataPath::reference),
            );
            add(
                "OutputPath",
                choice.output_path.as_ref().and_then(DataPath::reference),
            );
            for rule in &choice.choices {
                condition_paths(&rule.condition, &mut add);
            }
            Vec::new()
        }
        State::Succeed(succeed) => {
            add(
                "InputPath",
                succeed.input_path.as_ref().and_then(DataPath::reference),
            );
            add(
                "OutputPath",
                succeed.output_path.as_ref().and_then(DataPath::reference),
            );
            Vec::new()
        }
        State::Fail(_) => Vec::new(),
    };
    for (field, template) in templates {
        for path in template
            .map(PayloadTemplate::reference_paths)
            .unwrap_or_default()
        {
            add(field, Some(path));
        }
    }
    paths
}

/// A Map's payload templates, with the field each is in, in data-flow order.
fn map_templates(map: &MapState) -> Vec<(&'static str, Option<&PayloadTemplate>)> {
    vec![
        (
            "ItemReader.Parameters",
            map.item_reader.as_ref().and_then(|r| r.parameters.as_ref()),
        ),
        ("ItemSelector", map.item_selector.as_ref()),
        (
            "ItemBatcher.BatchInput",
            map.item_batcher
                .as_ref()
                .and_then(|b| b.batch_input.as_ref()),
        ),
        (
            "ResultWriter.Parameters",
            map.result_writer
                .as_ref()
                .and_then(|w| w.parameters.as_ref()),
        ),
        ("ResultSelector", map.result_selector.as_ref()),
    ]
}

/// The fields of `map` that only a Distributed Map may have, as they are written.
fn distributed_only_fields(map: &MapState) -> Vec<String> {
    [
        ("ItemReader", map.item_reader.is_some()),
        ("ItemBatcher", map.item_batcher.is_some()),
        ("ResultWriter", map.result_writer.is_some()),
        ("Label", map.label.is_some()),
    ]
    .into_iter()
    .filter(|(_, given)| *given)
    .map(|(field, _)| field.to_owned())
    .collect()
}

/// The failure tolerance fields a Map has, by the key each is written under.
fn tolerance_fields(map: &MapState) -> Vec<String> {
    let mut fields = Vec::new();
    if let Some(limit) = &map.tolerated_failure_percentage {
        fields.push(limit.key("ToleratedFailurePercentage"));
    }
    if let Some(limit) = &map.tolerated_failure_count {
        fields.push(limit.key("ToleratedFailureCount"));
    }
    fields
}

fn result_path(result: &ResultPath) -> Option<&ReferencePath> {
    match result {
        ResultPath::At(path) => Some(path),
        _ => None,
    }
}

fn condition_paths<'a>(
    condition: &'a Condition,
    add: &mut impl FnMut(&str, Option<&'a ReferencePath>),
) {
    match condition {
        Condition::And(all) | Condition::Or(all) => {
            all.iter().for_each(|c| condition_paths(c, add));
        }
        Condition::Not(inner) => condition_paths(inner, add),
        Condition::Compare { variable, .. } => add("Choices", Some(variable)),
        Condition::Jsonata(_) | Condition::Constant(_) => {}
    }
}

/// Every context path of a state's templates (nested states excluded), with the field it is in.
fn context_paths(state: &State) -> Vec<(&'static str, &ContextPath)> {
    let templates: Vec<(&'static str, Option<&PayloadTemplate>)> = match state {
        State::Task(task) => vec![
            ("Parameters", task.parameters.as_ref()),
            ("ResultSelector", task.result_selector.as_ref()),
        ],
        State::Map(map) => map_templates(map),
        State::Parallel(parallel) => vec![
            ("Parameters", parallel.parameters.as_ref()),
            ("ResultSelector", parallel.result_selector.as_ref()),
        ],
        State::Pass(pass) => vec![("Parameters", pass.parameters.as_ref())],
        _ => Vec::new(),
    };
    templates
        .into_iter()
        .flat_map(|(field, template)| {
            template
                .map(PayloadTemplate::context_paths)
                .unwrap_or_default()
                .into_iter()
                .map(move |path| (field, path))
        })
        .collect()
}

/// Follows `segments` through a JSON schema (schemars 1.x: `$ref` into `$defs`, `properties`,
/// `items`, and the alternatives of `anyOf`/`oneOf`/`allOf`).
fn resolve(root: &Json, segments: &[Segment]) -> Result<(), String> {
    let mut current = vec![root];
    for segment in segments {
        let mut next = Vec::new();
        let mut fields: Vec<String> = Vec::new();
        for schema in current.iter().flat_map(|schema| alternatives(root, schema)) {
            match (segment, schema) {
                (_, Json::Bool(true)) => next.push(schema),
                (Segment::Field(name), Json::Object(object)) => {
                    if let Some(properties) = object.get("properties").and_then(Json::as_object) {
                        fields.extend(properties.keys().cloned());
                        if let Some(property) = properties.get(name) {
                            next.push(property);
                            continue;
                        }
                    }
                    if let Some(additional) = object
                        .get("additionalProperties")
                        .filter(|a| a.is_object() || **a == Json::Bool(true))
                    {
                        next.push(additional);
                    }
                }
                (Segment::Index(index), Json::Object(object)) => {
                    if let Some(item) = object
                        .get("prefixItems")
                        .and_then(Json::as_array)
                        .and_then(|items| items.get(*index))
                        .or_else(|| object.get("items"))
                    {
                        next.push(item);
                    }
                }
                _ => {}
            }
        }
        if next.is_empty() {
            return Err(match segment {
                Segment::Field(name) if fields.is_empty() => {
                    format!("`{name}` is not a field of an object there")
                }
                Segment::Field(name) => {
                    format!(
                        "there is no field `{name}` (the fields are {})",
                        fields.join(", ")
                    )
                }
                Segment::Index(index) => format!("`[{index}]` is not an array element there"),
            });
        }
        current = next;
    }
    Ok(())
}

/// A schema with its `$ref` followed and its `anyOf`/`oneOf`/`allOf` alternatives expanded.
fn alternatives<'a>(root: &'a Json, schema: &'a Json) -> Vec<&'a Json> {
    let schema = match schema.get("$ref").and_then(Json::as_str) {
        Some(reference) => reference
            .strip_prefix("#/")
            .map(|pointer| pointer.split('/').try_fold(root, |at, key| at.get(key)))
            .and_then(|found| found)
            .unwrap_or(&Json::Null),
        None => schema,
    };
    let mut all = vec![schema];
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(options) = schema.get(key).and_then(Json::as_array) {
            all.extend(options.iter().flat_map(|option| alternatives(root, option)));
        }
    }
    all
}

/// What AWS refuses in a retrier's numbers (the ASL specification's bounds, and AWS's maxima).
fn retrier_problems(retrier: &Retrier) -> Vec<String> {
    /// AWS's largest IntervalSeconds and MaxAttempts.
    const MAX_RETRY_COUNT_OR_INTERVAL: u32 = 99_999_999;
    /// AWS's largest MaxDelaySeconds (366 days).
    const MAX_RETRY_DELAY_SECONDS: u32 = 31_622_400;
    let mut problems = Vec::new();
    if let Some(rate) = retrier.backoff_rate
        && !(rate >= 1.0 && rate.is_finite())
    {
        problems.push(format!(
            "BackoffRate is {rate}, but a retry interval may not shrink: give a number of at least 1.0"
        ));
    }
    let mut bounded = |field: &str, value: Option<u32>, least: u32, most: u32| {
        if let Some(value) = value.filter(|v| !(least..=most).contains(v)) {
            problems.push(format!(
                "{field} is {value}: give a whole number from {least} to {most}"
            ));
        }
    };
    bounded(
        "IntervalSeconds",
        retrier.interval_seconds,
        1,
        MAX_RETRY_COUNT_OR_INTERVAL,
    );
    bounded(
        "MaxAttempts",
        retrier.max_attempts,
        0,
        MAX_RETRY_COUNT_OR_INTERVAL,
    );
    bounded(
        "MaxDelaySeconds",
        retrier.max_delay_seconds,
        1,
        MAX_RETRY_DELAY_SECONDS,
    );
    problems
}

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;
    use serde::Serialize;
    use serde_json::json;

    use super::*;
    use crate::path::{ContextValue, SchemaRoot};
    use crate::payload::PayloadValue;
    use crate::state::{
        Branch, ChoiceRule, Comparison, CsvDelimiter, ExecutionType, FailState, MapState,
        OutputType, PassState, ProcessorConfig, ProcessorMode, ReaderConfig, SucceedState,
        TaskState, Transition, WriterConfig,
    };

    fn name(text: &str) -> StateName {
        StateName::new(text).unwrap()
    }

    fn next(to: &str) -> Transition {
        Transition::Next(name(to))
    }

    fn pass(transition: Transition) -> State {
        State::Pass(PassState::new(transition))
    }

    fn build(states: Vec<(&str, State)>) -> StateMachine {
        StateMachine {
            query_language: None,
            comment: None,
            version: None,
            start_at: name(states[0].0),
            timeout_seconds: None,
            states: states.into_iter().map(|(n, s)| (name(n), s)).collect(),
        }
    }

    fn inline_map(processor: Vec<(&str, State)>, transition: Transition) -> MapState {
        MapState::inline(
            Branch {
                comment: None,
                start_at: name(processor[0].0),
                states: processor.into_iter().map(|(n, s)| (name(n), s)).collect(),
            },
            transition,
        )
    }

    fn errors(machine: &StateMachine) -> Vec<String> {
        validate(machine)
            .errors
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn assert_one_error(machine: &StateMachine, needle: &str) {
        let found = errors(machine);
        assert!(
            found.len() == 1 && found[0].contains(needle),
            "expected one error with {needle:?}, got {found:#?}"
        );
    }

    #[test]
    fn a_correct_machine_has_no_problem() {
        let mut map = inline_map(vec![("Each", pass(Transition::End))], next("Done"));
        map.result_path = ResultPath::Discard;
        let machine = build(vec![
            ("Start", pass(next("Loop"))),
            ("Loop", State::Map(map)),
            ("Done", State::Succeed(SucceedState::default())),
        ]);
        assert_eq!(validate(&machine), Report::default());
    }

    #[test]
    fn duplicate_names_across_nested_scopes_are_reported() {
        let mut map = inline_map(vec![("Start", pass(Transition::End))], Transition::End);
        map.result_path = ResultPath::Discard;
        let machine = build(vec![
            ("Start", pass(next("Loop"))),
            ("Loop", State::Map(map)),
        ]);
        assert_one_error(
            &machine,
            "the state name `Start` is used 2 times (at the top level, in `Loop`)",
        );
    }

    #[test]
    fn missing_targets_are_reported_with_their_scope() {
        let machine = build(vec![("Start", pass(next("Nowhere")))]);
        let found = errors(&machine);
        assert!(
            found[0].contains(
                "state `Start`: goes to `Nowhere`, which is not a state of the same machine"
            ),
            "{found:#?}"
        );

        let mut map = inline_map(vec![("Each", pass(next("Done")))], next("Done"));
        map.result_path = ResultPath::Discard;
        let machine = build(vec![
            ("Loop", State::Map(map)),
            ("Done", State::Succeed(SucceedState::default())),
        ]);
        // The processor cannot jump out of the Map: `Done` is in another scope.
        let found = errors(&machine);
        assert!(found.iter().any(|e| e.contains("state `Loop/Each`: goes to `Done`, which is not a state of the same branch or processor")), "{found:#?}");

        let mut bad_start = machine.clone();
        bad_start.start_at = name("Nope");
        assert!(
            errors(&bad_start)
                .iter()
                .any(|e| e.contains("StartAt names `Nope`"))
        );
    }

    #[test]
    fn unreachable_states_are_reported() {
        let machine = build(vec![
            ("Start", pass(Transition::End)),
            ("Orphan", pass(Transition::End)),
        ]);
        assert_one_error(&machine, "state `Orphan`: cannot be reached from `Start`");
    }

    #[test]
    fn a_loop_without_an_end_is_reported() {
        let machine = build(vec![("A", pass(next("B"))), ("B", pass(next("A")))]);
        assert_one_error(&machine, "the machine has no terminal state");

        let choice = State::Choice(ChoiceState {
            query_language: None,
            output: None,
            assign: None,
            comment: None,
            input_path: None,
            choices: vec![ChoiceRule {
                comment: None,
                output: None,
                assign: None,
                condition: Condition::Compare {
                    variable: ReferencePath::parse("$.done").unwrap(),
                    comparison: Comparison::BooleanEquals(true),
                },
                next: name("Done"),
            }],
            default: Some(name("Spin")),
            output_path: None,
        });
        let machine = build(vec![
            ("Check", choice),
            ("Spin", pass(next("Spin"))),
            ("Done", State::Succeed(SucceedState::default())),
        ]);
        assert_one_error(
            &machine,
            "state `Spin`: no terminal state can be reached from it",
        );
    }

    #[test]
    fn states_all_must_be_alone_and_last() {
        let catcher = |errors: Vec<ErrorName>| Catcher {
            comment: None,
            output: None,
            assign: None,
            error_equals: errors,
            result_path: ResultPath::Replace,
            next: name("Failed"),
        };
        let mut task = TaskState::new("arn:aws:states:::lambda:invoke", Transition::End);
        task.catch = vec![
            catcher(vec![ErrorName::all(), ErrorName::new("States.Timeout")]),
            catcher(vec![ErrorName::new("States.TaskFailed")]),
        ];
        task.retry = vec![
            Retrier::on([ErrorName::all()]),
            Retrier::on([ErrorName::new("X")]),
        ];
        let machine = build(vec![
            ("Call", State::Task(task)),
            ("Failed", State::Fail(FailState::default())),
        ]);
        let found = errors(&machine);
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(found[0].contains("Retry[0]: the entry with States.ALL must be the last of Retry"));
        assert!(found[1].contains("Catch[0]: States.ALL must be alone in its ErrorEquals"));
        assert!(found[2].contains("Catch[0]: the entry with States.ALL must be the last of Catch"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let machine = build(vec![
            ("Start", pass(next("Nowhere"))),
            ("Orphan", pass(Transition::End)),
        ]);
        assert_eq!(errors(&machine).len(), 2, "{:#?}", errors(&machine));
    }

    /// A struct whose serde name differs from its Rust name, the case the Rust compiler cannot see.
    #[derive(Serialize, JsonSchema)]
    struct Renamed {
        #[serde(rename = "chunkIds")]
        #[allow(dead_code)]
        chunk_ids: Vec<u32>,
        #[allow(dead_code)]
        nested: Option<Inner>,
    }

    #[derive(Serialize, JsonSchema)]
    struct Inner {
        #[allow(dead_code)]
        value: u32,
    }

    fn typed(text: &str) -> ReferencePath {
        ReferencePath::parse(text)
            .unwrap()
            .with_schema_root(SchemaRoot::of::<Renamed>())
    }

    #[test]
    fn typed_paths_must_resolve_in_their_schema() {
        let mut map = inline_map(vec![("Each", pass(Transition::End))], Transition::End);
        map.result_path = ResultPath::Discard;
        map.items_path = Some(typed("$.chunkIds").into());
        map.item_selector = Some(
            PayloadTemplate::new()
                .with("ok", PayloadValue::Path(typed("$.nested.value")))
                .with("first", PayloadValue::Path(typed("$.chunkIds[0]")))
                .with("renamed", PayloadValue::Path(typed("$.chunk_ids")))
                .with("deep", PayloadValue::Path(typed("$.nested.nope"))),
        );
        let machine = build(vec![("Loop", State::Map(map))]);
        let found = errors(&machine);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0].contains("ItemSelector `$.chunk_ids` does not resolve in the JSON schema of `Renamed`: there is no field `chunk_ids` (the fields are chunkIds, nested)"), "{found:#?}");
        assert!(found[1].contains("`$.nested.nope`"), "{found:#?}");
        // Untyped paths (from a parsed file) are not checked.
        let parsed: StateMachine = serde_json::from_value(json!({
            "StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.anything", "End": true}}
        })).unwrap();
        assert_eq!(validate(&parsed), Report::default());
    }

    #[test]
    fn the_map_item_exists_only_in_an_item_selector() {
        let mut task = TaskState::new("arn:aws:states:::lambda:invoke", Transition::End);
        task.parameters = Some(PayloadTemplate::new().with(
            "id",
            PayloadValue::Context(ContextValue::MapItemValue.into()),
        ));
        let machine = build(vec![("Call", State::Task(task))]);
        assert_one_error(
            &machine,
            "Parameters reads `$$.Map.Item.Value`, which exists only in a Map's ItemSelector",
        );
    }

    #[test]
    fn distributed_fields_need_a_distributed_map() {
        let mut map = inline_map(vec![("Each", pass(Transition::End))], Transition::End);
        map.result_path = ResultPath::Discard;
        map.label = Some("x".into());
        let machine = build(vec![("Loop", State::Map(map.clone()))]);
        assert_one_error(&machine, "Label needs a Distributed Map");

        map.label = None;
        map.tolerated_failure_count = Some(Limit::Path(ReferencePath::parse("$.n").unwrap()));
        let machine = build(vec![("Loop", State::Map(map))]);
        let report = validate(&machine);
        assert!(report.is_ok(), "{:?}", report.errors);
        assert_eq!(
            report.warnings[0].to_string(),
            "state `Loop`: ToleratedFailureCountPath has no effect on an inline Map (its first failed iteration fails it): set ItemProcessor.ProcessorConfig.Mode to DISTRIBUTED, or remove ToleratedFailureCountPath",
        );
    }

    /// A Distributed Map reading a JSON array from S3 and writing its results back, with no
    /// problem; each test below breaks one thing.
    fn distributed_map() -> MapState {
        let mut map = inline_map(vec![("Each", pass(Transition::End))], Transition::End);
        map.item_processor.processor_config = Some(ProcessorConfig {
            mode: ProcessorMode::Distributed,
            execution_type: Some(ExecutionType::Standard),
        });
        map.item_reader = Some(ItemReader {
            arguments: None,
            resource: S3_GET_OBJECT.into(),
            reader_config: Some(ReaderConfig {
                input_type: Some(ReaderInputType::Json),
                csv_header_location: None,
                csv_headers: None,
                csv_delimiter: None,
                max_items: None,
            }),
            parameters: Some(
                PayloadTemplate::new()
                    .with("Bucket", PayloadValue::Literal(json!("chunks")))
                    .with(
                        "Key",
                        PayloadValue::Path(ReferencePath::parse("$.ids.key").unwrap()),
                    ),
            ),
        });
        map.label = Some("chunks".into());
        map.max_concurrency = Some(Limit::Fixed(DISTRIBUTED_MAP_MAX_CONCURRENCY));
        map.tolerated_failure_percentage = Some(Limit::Fixed(100.0));
        map.result_writer = Some(ResultWriter::s3(
            PayloadTemplate::new().with("Bucket", PayloadValue::Literal(json!("results"))),
        ));
        map
    }

    fn reader_config(map: &mut MapState) -> &mut ReaderConfig {
        map.item_reader
            .as_mut()
            .unwrap()
            .reader_config
            .as_mut()
            .unwrap()
    }

    fn with_map(map: MapState) -> StateMachine {
        build(vec![("Chunks", State::Map(map))])
    }

    #[test]
    fn a_correct_distributed_map_has_no_problem() {
        assert_eq!(validate(&with_map(distributed_map())), Report::default());
    }

    #[test]
    fn an_item_reader_reads_with_s3_get_object_or_list_objects_v2() {
        let mut map = distributed_map();
        map.item_reader.as_mut().unwrap().resource = S3_PUT_OBJECT.into();
        assert_one_error(
            &with_map(map),
            "state `Chunks`: ItemReader.Resource `arn:aws:states:::s3:putObject` is not one a Distributed Map reads items with: use `arn:aws:states:::s3:getObject` (the items stored in one object) or `arn:aws:states:::s3:listObjectsV2` (the objects under a prefix)",
        );
    }

    #[test]
    fn an_item_reader_names_the_bucket_and_for_get_object_the_key() {
        let mut map = distributed_map();
        let reader = map.item_reader.as_mut().unwrap();
        reader.parameters = Some(PayloadTemplate::new().with(
            "Bucket",
            PayloadValue::Path(ReferencePath::parse("$.ids.bucket").unwrap()),
        ));
        assert_one_error(
            &with_map(map.clone()),
            "ItemReader.Parameters has no `Key`, which `arn:aws:states:::s3:getObject` needs: give it literally (`Key`) or from the input (`Key.$`)",
        );
        // A listing needs only the bucket (and no InputType).
        let reader = map.item_reader.as_mut().unwrap();
        reader.resource = S3_LIST_OBJECTS_V2.into();
        reader.reader_config = None;
        assert_eq!(errors(&with_map(map.clone())), Vec::<String>::new());

        map.item_reader.as_mut().unwrap().parameters = None;
        assert_one_error(&with_map(map), "ItemReader.Parameters has no `Bucket`");
    }

    #[test]
    fn get_object_needs_the_input_type() {
        let mut map = distributed_map();
        reader_config(&mut map).input_type = None;
        assert_one_error(
            &with_map(map),
            "ItemReader.ReaderConfig.InputType is missing: `arn:aws:states:::s3:getObject` must be told how the object stores its items",
        );
    }

    #[test]
    fn csv_settings_need_a_csv_input_and_agree_on_the_header() {
        let mut map = distributed_map();
        reader_config(&mut map).csv_delimiter = Some(CsvDelimiter::Tab);
        assert_one_error(
            &with_map(map.clone()),
            "ItemReader.ReaderConfig.CSVDelimiter applies only to InputType CSV: remove it, or set InputType to CSV",
        );

        let config = reader_config(&mut map);
        config.input_type = Some(ReaderInputType::Csv);
        config.csv_header_location = Some(CsvHeaderLocation::Given);
        assert_one_error(
            &with_map(map.clone()),
            "CSVHeaderLocation is GIVEN but CSVHeaders is missing",
        );

        reader_config(&mut map).csv_headers = Some(vec!["chunk_id".into()]);
        assert_eq!(errors(&with_map(map.clone())), Vec::<String>::new());

        reader_config(&mut map).csv_header_location = Some(CsvHeaderLocation::FirstRow);
        assert_one_error(
            &with_map(map),
            "CSVHeaders is given but CSVHeaderLocation is FIRST_ROW",
        );
    }

    #[test]
    fn max_items_is_at_most_what_aws_reads() {
        let mut map = distributed_map();
        reader_config(&mut map).max_items = Some(Limit::Fixed(READER_MAX_ITEMS));
        assert_eq!(errors(&with_map(map.clone())), Vec::<String>::new());
        reader_config(&mut map).max_items = Some(Limit::Fixed(READER_MAX_ITEMS + 1));
        assert_one_error(
            &with_map(map),
            "ItemReader.ReaderConfig.MaxItems 100000001 is more than AWS reads: use at most 100000000",
        );
    }

    #[test]
    fn a_map_label_is_valid_and_unique_in_the_machine() {
        let mut map = distributed_map();
        map.label = Some("chunk ids".into());
        assert_one_error(
            &with_map(map),
            "state `Chunks`: Label \"chunk ids\" cannot name a Map Run: a Label cannot contain ' '",
        );

        // The same label on a Map nested in another Map's processor.
        let mut outer = distributed_map();
        outer.item_processor.branch = Branch {
            comment: None,
            start_at: name("Inner"),
            states: [(name("Inner"), State::Map(distributed_map()))]
                .into_iter()
                .collect(),
        };
        assert_one_error(
            &with_map(outer),
            "state `Chunks/Inner`: Label \"chunks\" is already the Label of `Chunks`: give each Map its own Label",
        );
    }

    #[test]
    fn the_tolerated_failure_percentage_is_a_share() {
        for percentage in [100.5, -1.0, f64::NAN] {
            let mut map = distributed_map();
            map.tolerated_failure_percentage = Some(Limit::Fixed(percentage));
            assert_one_error(
                &with_map(map),
                &format!(
                    "ToleratedFailurePercentage {percentage} is not a share of the children: use 0 to 100 (%)"
                ),
            );
        }
    }

    #[test]
    fn max_concurrency_is_within_what_aws_runs_at_once() {
        let mut map = distributed_map();
        map.max_concurrency = Some(Limit::Fixed(DISTRIBUTED_MAP_MAX_CONCURRENCY + 1));
        assert_one_error(
            &with_map(map),
            "MaxConcurrency 10001 is more child executions than a Distributed Map runs at once: use 1 to 10000",
        );

        let mut inline = inline_map(vec![("Each", pass(Transition::End))], Transition::End);
        inline.result_path = ResultPath::Discard;
        inline.max_concurrency = Some(Limit::Fixed(INLINE_MAP_MAX_CONCURRENCY));
        assert_eq!(validate(&with_map(inline.clone())), Report::default());
        inline.max_concurrency = Some(Limit::Fixed(INLINE_MAP_MAX_CONCURRENCY + 1));
        let report = validate(&with_map(inline));
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.warnings.len(), 1, "{report:?}");
        assert!(
            report.warnings[0].to_string().contains(
                "MaxConcurrency 41 has no effect above 40: AWS runs at most 40 iterations of an inline Map at once"
            ),
            "{report:?}"
        );
    }

    #[test]
    fn an_item_batcher_has_a_limit_of_at_least_one_and_at_most_256_kib() {
        let batcher = |items: Option<u32>, bytes: Option<u32>| ItemBatcher {
            max_items_per_batch: items.map(Limit::Fixed),
            max_input_bytes_per_batch: bytes.map(Limit::Fixed),
            batch_input: None,
        };
        let check = |batcher: ItemBatcher| {
            let mut map = distributed_map();
            map.item_batcher = Some(batcher);
            errors(&with_map(map))
        };
        assert_eq!(
            check(batcher(Some(1), Some(PAYLOAD_BYTES as u32))),
            Vec::<String>::new()
        );
        let found = check(batcher(None, None));
        assert!(
            found.len() == 1
                && found[0].contains(
                    "ItemBatcher has no limit: give MaxItemsPerBatch, MaxInputBytesPerBatch"
                ),
            "{found:#?}"
        );
        let found = check(batcher(Some(0), Some(0)));
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0].contains("ItemBatcher.MaxItemsPerBatch is 0: a batch holds at least 1"));
        assert!(found[1].contains("ItemBatcher.MaxInputBytesPerBatch is 0"));
        let found = check(batcher(None, Some(PAYLOAD_BYTES as u32 + 1)));
        assert!(
            found.len() == 1 && found[0].contains("ItemBatcher.MaxInputBytesPerBatch 262145 is more than a child execution's input may hold: use at most 262144 (256 KiB)"),
            "{found:#?}"
        );
    }

    #[test]
    fn a_result_writer_is_one_of_the_combinations_aws_takes() {
        let bucket = || PayloadTemplate::new().with("Bucket", PayloadValue::Literal(json!("b")));
        let format_only = WriterConfig {
            output_type: Some(OutputType::Json),
            transformation: None,
        };
        let check = |writer: ResultWriter| {
            let mut map = distributed_map();
            map.result_path = ResultPath::Discard;
            map.result_writer = Some(writer);
            errors(&with_map(map))
        };
        let fine = [
            ResultWriter::s3(bucket()),
            ResultWriter {
                writer_config: Some(format_only),
                ..ResultWriter::default()
            },
            ResultWriter {
                writer_config: Some(format_only),
                ..ResultWriter::s3(bucket())
            },
        ];
        for writer in fine {
            assert_eq!(check(writer.clone()), Vec::<String>::new(), "{writer:?}");
        }
        let wrong = [
            (
                ResultWriter::default(),
                "ResultWriter is empty: give Resource",
            ),
            (
                ResultWriter {
                    parameters: None,
                    ..ResultWriter::s3(bucket())
                },
                "ResultWriter.Resource needs Parameters saying where to write",
            ),
            (
                ResultWriter {
                    resource: None,
                    ..ResultWriter::s3(bucket())
                },
                "ResultWriter.Parameters needs a Resource to write with: add Resource `arn:aws:states:::s3:putObject`",
            ),
            (
                ResultWriter {
                    resource: Some(S3_GET_OBJECT.into()),
                    ..ResultWriter::s3(bucket())
                },
                "ResultWriter.Resource `arn:aws:states:::s3:getObject` cannot write the results: use `arn:aws:states:::s3:putObject`",
            ),
            (
                ResultWriter::s3(PayloadTemplate::new()),
                "ResultWriter.Parameters has no `Bucket`",
            ),
        ];
        for (writer, needle) in wrong {
            let found = check(writer);
            assert!(
                found.len() == 1 && found[0].contains(needle),
                "expected {needle:?}, got {found:#?}"
            );
        }
    }

    #[test]
    fn the_map_item_is_not_in_the_reader_the_batcher_or_the_writer() {
        let item = || PayloadValue::Context(ContextValue::MapItemValue.into());
        let mut map = distributed_map();
        let reader = map.item_reader.as_mut().unwrap();
        reader.parameters = reader
            .parameters
            .take()
            .map(|p| p.with("VersionId", item()));
        map.item_batcher = Some(ItemBatcher {
            max_items_per_batch: Some(Limit::Fixed(10)),
            max_input_bytes_per_batch: None,
            batch_input: Some(PayloadTemplate::new().with("id", item())),
        });
        let writer = map.result_writer.as_mut().unwrap();
        writer.parameters = writer.parameters.take().map(|p| p.with("Prefix", item()));
        let found = errors(&with_map(map));
        assert_eq!(found.len(), 3, "{found:#?}");
        for (error, field) in found.iter().zip([
            "ItemReader.Parameters",
            "ItemBatcher.BatchInput",
            "ResultWriter.Parameters",
        ]) {
            assert!(
                error.contains(&format!(
                    "{field} reads `$$.Map.Item.Value`, which exists only in a Map's ItemSelector"
                )),
                "{error}"
            );
        }
    }

    #[test]
    fn typed_paths_in_the_reader_the_batcher_and_the_writer_must_resolve() {
        let mut map = distributed_map();
        map.item_reader.as_mut().unwrap().parameters = Some(
            PayloadTemplate::new()
                .with("Bucket", PayloadValue::Path(typed("$.chunkIds")))
                .with("Key", PayloadValue::Path(typed("$.chunk_ids"))),
        );
        map.item_batcher = Some(ItemBatcher {
            max_items_per_batch: Some(Limit::Fixed(10)),
            max_input_bytes_per_batch: None,
            batch_input: Some(
                PayloadTemplate::new().with("n", PayloadValue::Path(typed("$.nested.count"))),
            ),
        });
        map.result_writer = Some(ResultWriter::s3(
            PayloadTemplate::new().with("Bucket", PayloadValue::Path(typed("$.bucket"))),
        ));
        let found = errors(&with_map(map));
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(found[0].contains("ItemReader.Parameters `$.chunk_ids` does not resolve in the JSON schema of `Renamed`"), "{found:#?}");
        assert!(
            found[1].contains("ItemBatcher.BatchInput `$.nested.count` does not resolve"),
            "{found:#?}"
        );
        assert!(
            found[2].contains("ResultWriter.Parameters `$.bucket` does not resolve"),
            "{found:#?}"
        );
    }

    #[test]
    fn items_path_beside_an_item_reader_is_a_warning() {
        let mut map = distributed_map();
        map.items_path = Some(ReferencePath::parse("$.ids").unwrap().into());
        let report = validate(&with_map(map));
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.warnings.len(), 1, "{report:?}");
        assert!(
            report.warnings[0].to_string().contains(
                "state `Chunks`: ItemsPath `$.ids` has no effect: AWS ignores ItemsPath when an ItemReader is given"
            ),
            "{report:?}"
        );
    }

    #[test]
    fn a_distributed_map_result_kept_without_a_writer_to_s3_is_a_warning() {
        let warnings = |writer: Option<ResultWriter>| {
            let mut map = distributed_map();
            map.result_writer = writer;
            let report = validate(&with_map(map));
            assert!(report.is_ok(), "{report:?}");
            report.warnings
        };
        // distributed_map() keeps its result (ResultPath absent): written to S3, it is small.
        assert_eq!(warnings(distributed_map().result_writer), Vec::new());
        let format_only = ResultWriter {
            writer_config: Some(WriterConfig {
                output_type: Some(OutputType::Json),
                transformation: None,
            }),
            ..ResultWriter::default()
        };
        for writer in [None, Some(format_only)] {
            let found = warnings(writer);
            assert_eq!(found.len(), 1, "{found:?}");
            assert!(
                found[0].to_string().contains("the Distributed Map has no ResultWriter writing to S3, so its result is the array of its child executions' outputs (one entry per item or batch), which counts against the 262144-byte (256 KiB) limit"),
                "{found:?}"
            );
        }
    }

    #[test]
    fn a_map_result_kept_in_the_state_is_a_warning() {
        let map = inline_map(vec![("Each", pass(Transition::End))], Transition::End);
        let machine = build(vec![("Loop", State::Map(map.clone()))]);
        let report = validate(&machine);
        assert!(report.is_ok());
        assert_eq!(report.warnings.len(), 1);
        assert!(
            report.warnings[0].to_string().contains("262144 bytes"),
            "{:?}",
            report.warnings
        );
        let mut discarded = map;
        discarded.result_path = ResultPath::Discard;
        assert!(
            validate(&build(vec![("Loop", State::Map(discarded))]))
                .warnings
                .is_empty()
        );
    }
}
