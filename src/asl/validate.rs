//! Synth-time checks of a whole state machine: what the types cannot promise. Every problem is
//! collected, so one run reports them all.
//!
//! Errors: duplicate state names (across nested processors and branches too), a `StartAt`,
//! `Next`, `Default` or `Catch` target that does not exist in its scope, a state that cannot be
//! reached, a scope without a terminal state or a state from which no terminal state can be
//! reached, `States.ALL` not alone or not last, a Map-item context value outside an ItemSelector,
//! a Distributed-Map field on an inline Map, and a typed path that does not resolve in the JSON
//! schema of the type it starts from (a serde rename the Rust names do not show).
//!
//! Warnings: a state whose output grows with the number of items (a Map's result array kept in
//! the state), against the 256 KiB limit on any state's input or output.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde_json::Value as Json;

use super::path::{ContextPath, ReferencePath, Segment};
use super::payload::PayloadTemplate;
use super::state::{
    Catcher, ChoiceState, Condition, ErrorName, ResultPath, Retrier, State, StateMachine,
    StateName, States, WaitFor,
};

/// The most a state's input or output may hold (`States.DataLimitExceeded` beyond it, which
/// `States.ALL` cannot catch).
pub const PAYLOAD_LIMIT_BYTES: usize = 256 * 1024;

/// One finding, located by the state it is in (`Outer/Inner` for nested states).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub state: Option<String>,
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
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl Report {
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
    if !(1..=40).contains(&length) {
        return Some(format!("a Label is 1 to 40 characters, not {length}"));
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
    checker.report
}

#[derive(Default)]
struct Checker {
    report: Report,
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
        self.error_matchers(
            label,
            "Catch",
            state.catch().iter().map(|c: &Catcher| &c.error_equals),
        );
        for (field, path) in reference_paths(state) {
            self.resolves(label, &field, path);
        }
        for (field, path) in context_paths(state) {
            if path.value().is_map_item() && field != "ItemSelector" {
                self.error(
                    Some(label),
                    format!("{field} reads `{path}`, which exists only in a Map's ItemSelector"),
                );
            }
        }
        match state {
            State::Map(map) => {
                if !map.is_distributed() {
                    let distributed_only = [
                        ("ItemReader", map.item_reader.is_some()),
                        ("ItemBatcher", map.item_batcher.is_some()),
                        ("ResultWriter", map.result_writer.is_some()),
                        (
                            "ToleratedFailurePercentage",
                            map.tolerated_failure_percentage.is_some(),
                        ),
                        (
                            "ToleratedFailureCount",
                            map.tolerated_failure_count.is_some(),
                        ),
                        ("Label", map.label.is_some()),
                    ];
                    for (field, present) in distributed_only {
                        if present {
                            self.error(
                                Some(label),
                                format!("{field} needs a Distributed Map (ProcessorConfig.Mode DISTRIBUTED)"),
                            );
                        }
                    }
                }
                if map.result_path != ResultPath::Discard && map.result_writer.is_none() {
                    self.warning(
                        Some(label),
                        format!(
                            "the Map keeps its result array (one entry per item) in its output, so the output grows with the number of items and fails with States.DataLimitExceeded past {PAYLOAD_LIMIT_BYTES} bytes (256 KiB); set `ResultPath: null`, keep a summary, or write results to S3 with a ResultWriter"
                        ),
                    );
                }
            }
            State::Choice(ChoiceState { choices, .. }) if choices.is_empty() => {
                self.error(Some(label), "a Choice needs at least one rule".into());
            }
            _ => {}
        }
        for branch in state.nested() {
            self.scope(Some(label), &branch.start_at, &branch.states);
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
            add("InputPath", task.input_path.as_ref());
            add("ResultPath", result_path(&task.result_path));
            add("OutputPath", task.output_path.as_ref());
            vec![
                ("Parameters", task.parameters.as_ref()),
                ("ResultSelector", task.result_selector.as_ref()),
            ]
        }
        State::Map(map) => {
            add("InputPath", map.input_path.as_ref());
            add("ItemsPath", map.items_path.as_ref());
            add("ResultPath", result_path(&map.result_path));
            add("OutputPath", map.output_path.as_ref());
            vec![
                ("ItemSelector", map.item_selector.as_ref()),
                ("ResultSelector", map.result_selector.as_ref()),
            ]
        }
        State::Parallel(parallel) => {
            add("InputPath", parallel.input_path.as_ref());
            add("ResultPath", result_path(&parallel.result_path));
            add("OutputPath", parallel.output_path.as_ref());
            vec![
                ("Parameters", parallel.parameters.as_ref()),
                ("ResultSelector", parallel.result_selector.as_ref()),
            ]
        }
        State::Pass(pass) => {
            add("InputPath", pass.input_path.as_ref());
            add("ResultPath", result_path(&pass.result_path));
            add("OutputPath", pass.output_path.as_ref());
            vec![("Parameters", pass.parameters.as_ref())]
        }
        State::Wait(wait) => {
            add("InputPath", wait.input_path.as_ref());
            add("OutputPath", wait.output_path.as_ref());
            if let WaitFor::SecondsPath(path) | WaitFor::TimestampPath(path) = &wait.wait_for {
                add("Wait", Some(path));
            }
            Vec::new()
        }
        State::Choice(choice) => {
            add("InputPath", choice.input_path.as_ref());
            add("OutputPath", choice.output_path.as_ref());
            for rule in &choice.choices {
                condition_paths(&rule.condition, &mut add);
            }
            Vec::new()
        }
        State::Succeed(succeed) => {
            add("InputPath", succeed.input_path.as_ref());
            add("OutputPath", succeed.output_path.as_ref());
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
    }
}

/// Every context path of a state's templates (nested states excluded), with the field it is in.
fn context_paths(state: &State) -> Vec<(&'static str, &ContextPath)> {
    let templates: Vec<(&'static str, Option<&PayloadTemplate>)> = match state {
        State::Task(task) => vec![
            ("Parameters", task.parameters.as_ref()),
            ("ResultSelector", task.result_selector.as_ref()),
        ],
        State::Map(map) => vec![
            ("ItemSelector", map.item_selector.as_ref()),
            ("ResultSelector", map.result_selector.as_ref()),
        ],
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

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;
    use serde::Serialize;
    use serde_json::json;

    use super::*;
    use crate::asl::path::{ContextValue, SchemaRoot};
    use crate::asl::payload::PayloadValue;
    use crate::asl::state::{
        Branch, ChoiceRule, Comparison, FailState, MapState, PassState, SucceedState, TaskState,
        Transition,
    };

    fn name(text: &str) -> StateName {
        StateName::new(text).unwrap()
    }

    fn next(to: &str) -> Transition {
        Transition::Next(name(to))
    }

    fn pass(transition: Transition) -> State {
        State::Pass(PassState {
            comment: None,
            input_path: None,
            parameters: None,
            result: None,
            result_path: ResultPath::Replace,
            output_path: None,
            transition,
        })
    }

    fn build(states: Vec<(&str, State)>) -> StateMachine {
        StateMachine {
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
            comment: None,
            input_path: None,
            choices: vec![ChoiceRule {
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
        map.items_path = Some(typed("$.chunkIds"));
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
        let machine = build(vec![("Loop", State::Map(map))]);
        assert_one_error(&machine, "Label needs a Distributed Map");
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
