//! Query-language checks: a state holds only the fields of the language it runs in (its own
//! `QueryLanguage`, else the machine's), a state of a JSONata machine does not switch back to
//! JSONPath (AWS refuses it), every JSONata string parses, and `Assign` sets valid variables: not
//! the reserved `$states` (a warning for the name of an enclosing scope's variable: a Map or
//! Parallel body reads outer variables, and assigning one there makes a variable of its own). A variable read that no state of its scope or an
//! enclosing one assigns is undefined when it runs: an error for a typed read (built from a
//! `Variable<T>`), a warning otherwise (AWS accepts the definition).

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::Checker;
use crate::eval::jsonata;
use crate::payload::PayloadTemplate;
use crate::query::{Assign, QueryLanguage};
use crate::state::{Condition, Limit, State, StateMachine, States, WaitFor};

use QueryLanguage::{JsonPath, Jsonata};

impl Checker {
    /// Checks the languages and variables of the whole machine.
    pub(super) fn languages(&mut self, machine: &StateMachine) {
        let language = machine.query_language.unwrap_or_default();
        self.language_scope(None, &machine.states, language, &[]);
    }

    /// One machine, processor or branch; its states inherit the machine's language, nested
    /// ones too (as AWS does); `outer` holds the variables each enclosing scope assigns,
    /// innermost last.
    fn language_scope(
        &mut self,
        parent: Option<&str>,
        states: &States,
        machine: QueryLanguage,
        outer: &[BTreeSet<String>],
    ) {
        let mut assigned = BTreeSet::new();
        for (name, state) in states {
            let label = super::qualified(parent, name);
            let language = state.query_language().unwrap_or(machine);
            if machine == Jsonata && language == JsonPath {
                self.error(
                    Some(&label),
                    "a state of a JSONata machine cannot use JSONPath (AWS refuses it): write the \
                     state in JSONata, or make the machine JSONPath and the JSONata states say so"
                        .into(),
                );
            }
            for (field, belongs_to) in language_fields(state) {
                if belongs_to != language {
                    self.error(
                        Some(&label),
                        format!(
                            "`{field}` is a {belongs_to} field, but the state runs in {language}: {}",
                            alternative(field)
                        ),
                    );
                }
            }
            if language == Jsonata {
                for (field, text) in jsonata_strings(state) {
                    if let Some(Err(err)) = jsonata::expression_in(text) {
                        self.error(
                            Some(&label),
                            format!("the JSONata expression in `{field}` does not parse: {err}"),
                        );
                    }
                }
            }
            for assign in assigns(state) {
                for (variable, key) in assign.variables() {
                    let variable = match variable {
                        Ok(variable) => variable,
                        Err(problem) => {
                            self.error(Some(&label), format!("`Assign`: {problem}"));
                            continue;
                        }
                    };
                    if variable.is_reserved() {
                        self.error(
                            Some(&label),
                            format!("`Assign` cannot set `${variable}`: AWS reserves the name"),
                        );
                    } else if language == Jsonata && key.ends_with(".$") {
                        self.error(
                            Some(&label),
                            format!(
                                "`Assign` key `{key}` is JSONPath: in a JSONata state write \
                                 `\"{variable}\": \"{{% ... %}}\"`"
                            ),
                        );
                    } else if outer.iter().any(|scope| scope.contains(variable.as_str())) {
                        // AWS accepts it: the body gets a variable of its own, and the outer
                        // one keeps its value.
                        self.warning(
                            Some(&label),
                            format!(
                                "`Assign` sets `${variable}`, a name an enclosing scope also \
                                 assigns: inside this Map or Parallel body it is a variable of \
                                 its own and the outer `${variable}` keeps its value; return the \
                                 value in the body's output to pass it out"
                            ),
                        );
                    }
                    assigned.insert(variable.as_str().to_owned());
                }
            }
        }
        let mut chain = outer.to_vec();
        chain.push(assigned);
        for (name, state) in states {
            let label = super::qualified(parent, name);
            let language = state.query_language().unwrap_or(machine);
            for read in variable_reads(state, language) {
                if chain.iter().any(|scope| scope.contains(&read.name)) {
                    continue;
                }
                let message = format!(
                    "{} reads `${}`, which no state of its scope or an enclosing one assigns: it is undefined when the state runs",
                    read.field, read.name
                );
                if read.typed {
                    self.error(Some(&label), message);
                } else {
                    self.warning(Some(&label), message);
                }
            }
            // A Distributed Map's children are executions of their own: no outer variable.
            let distributed = matches!(state, State::Map(map) if map.is_distributed());
            let outer = if distributed { &[][..] } else { &chain[..] };
            for branch in state.nested() {
                self.language_scope(Some(&label), &branch.states, machine, outer);
            }
        }
    }
}

/// The language-specific fields `state` holds, each with the language it belongs to.
fn language_fields(state: &State) -> Vec<(&'static str, QueryLanguage)> {
    let mut fields = Vec::new();
    let mut has = |present: bool, field: &'static str, language: QueryLanguage| {
        if present {
            fields.push((field, language));
        }
    };
    macro_rules! data_flow {
        ($s:expr) => {
            has($s.input_path.is_some(), "InputPath", JsonPath);
            has($s.output_path.is_some(), "OutputPath", JsonPath);
            has($s.output.is_some(), "Output", Jsonata);
        };
    }
    macro_rules! result {
        ($s:expr) => {
            has($s.result_selector.is_some(), "ResultSelector", JsonPath);
            has(!$s.result_path.is_replace(), "ResultPath", JsonPath);
            for catcher in &$s.catch {
                has(
                    !catcher.result_path.is_replace(),
                    "Catch.ResultPath",
                    JsonPath,
                );
                has(catcher.output.is_some(), "Catch.Output", Jsonata);
            }
        };
    }
    let limit = |limit: Option<&Limit<u32>>| match limit {
        Some(Limit::Path(_)) => Some(JsonPath),
        Some(Limit::Expression(_)) => Some(Jsonata),
        _ => None,
    };
    let mut limits: Vec<(&'static str, Option<QueryLanguage>)> = Vec::new();
    match state {
        State::Task(s) => {
            data_flow!(s);
            result!(s);
            has(s.parameters.is_some(), "Parameters", JsonPath);
            has(s.arguments.is_some(), "Arguments", Jsonata);
            limits.push(("TimeoutSeconds", limit(s.timeout_seconds.as_ref())));
            limits.push(("HeartbeatSeconds", limit(s.heartbeat_seconds.as_ref())));
        }
        State::Map(s) => {
            data_flow!(s);
            result!(s);
            has(s.items_path.is_some(), "ItemsPath", JsonPath);
            has(s.items.is_some(), "Items", Jsonata);
            has(
                s.item_selector
                    .as_ref()
                    .is_some_and(PayloadTemplate::has_dynamic),
                "ItemSelector with `.$` keys",
                JsonPath,
            );
            if let Some(reader) = &s.item_reader {
                has(
                    reader.parameters.is_some(),
                    "ItemReader.Parameters",
                    JsonPath,
                );
                has(reader.arguments.is_some(), "ItemReader.Arguments", Jsonata);
                let max_items = reader
                    .reader_config
                    .as_ref()
                    .and_then(|c| c.max_items.as_ref());
                limits.push(("ItemReader.ReaderConfig.MaxItems", limit(max_items)));
            }
            if let Some(writer) = &s.result_writer {
                has(
                    writer.parameters.is_some(),
                    "ResultWriter.Parameters",
                    JsonPath,
                );
                has(
                    writer.arguments.is_some(),
                    "ResultWriter.Arguments",
                    Jsonata,
                );
            }
            limits.push(("MaxConcurrency", limit(s.max_concurrency.as_ref())));
            limits.push((
                "ToleratedFailureCount",
                limit(s.tolerated_failure_count.as_ref()),
            ));
            let percentage = match &s.tolerated_failure_percentage {
                Some(Limit::Path(_)) => Some(JsonPath),
                Some(Limit::Expression(_)) => Some(Jsonata),
                _ => None,
            };
            limits.push(("ToleratedFailurePercentage", percentage));
        }
        State::Parallel(s) => {
            data_flow!(s);
            result!(s);
            has(s.parameters.is_some(), "Parameters", JsonPath);
            has(s.arguments.is_some(), "Arguments", Jsonata);
        }
        State::Pass(s) => {
            data_flow!(s);
            has(s.parameters.is_some(), "Parameters", JsonPath);
            has(s.result.is_some(), "Result", JsonPath);
            has(!s.result_path.is_replace(), "ResultPath", JsonPath);
        }
        State::Choice(s) => {
            data_flow!(s);
            for rule in &s.choices {
                let jsonata = matches!(
                    rule.condition,
                    Condition::Jsonata(_) | Condition::Constant(_)
                );
                has(jsonata, "Condition", Jsonata);
                has(!jsonata, "Variable (a JSONPath rule)", JsonPath);
                has(rule.output.is_some(), "Choices.Output", Jsonata);
            }
        }
        State::Wait(s) => {
            data_flow!(s);
            match &s.wait_for {
                WaitFor::SecondsPath(_) => has(true, "SecondsPath", JsonPath),
                WaitFor::TimestampPath(_) => has(true, "TimestampPath", JsonPath),
                WaitFor::Seconds(seconds) => {
                    has(
                        seconds.fixed().is_none(),
                        "Seconds (a JSONata string)",
                        Jsonata,
                    );
                }
                WaitFor::Timestamp(_) => {}
            }
        }
        State::Succeed(s) => {
            data_flow!(s);
        }
        State::Fail(s) => {
            has(s.error_path.is_some(), "ErrorPath", JsonPath);
            has(s.cause_path.is_some(), "CausePath", JsonPath);
        }
    }
    for (field, language) in limits {
        if let Some(language) = language {
            fields.push((
                if language == JsonPath {
                    path_key(field)
                } else {
                    field
                },
                language,
            ));
        }
    }
    fields
}

/// `MaxConcurrency` -> `MaxConcurrencyPath`, for the few keys that have a `*Path` twin.
fn path_key(field: &'static str) -> &'static str {
    match field {
        "TimeoutSeconds" => "TimeoutSecondsPath",
        "HeartbeatSeconds" => "HeartbeatSecondsPath",
        "MaxConcurrency" => "MaxConcurrencyPath",
        "ToleratedFailureCount" => "ToleratedFailureCountPath",
        "ToleratedFailurePercentage" => "ToleratedFailurePercentagePath",
        "ItemReader.ReaderConfig.MaxItems" => "ItemReader.ReaderConfig.MaxItemsPath",
        other => other,
    }
}

/// What to write instead of `field` in the other language.
fn alternative(field: &str) -> &'static str {
    match field {
        "Parameters" | "ItemReader.Parameters" | "ResultWriter.Parameters" => {
            "JSONata states take `Arguments`"
        }
        "Arguments" | "ItemReader.Arguments" | "ResultWriter.Arguments" => {
            "JSONPath states take `Parameters`"
        }
        "InputPath" | "ResultSelector" | "ResultPath" | "OutputPath" | "Catch.ResultPath"
        | "Result" => "JSONata states shape their output with `Output` (and `$states.input`)",
        "Output" | "Catch.Output" | "Choices.Output" => {
            "JSONPath states shape their output with ResultSelector, ResultPath and OutputPath"
        }
        "ItemsPath" => "JSONata Maps take `Items`",
        "Items" => "JSONPath Maps take `ItemsPath`",
        "Condition" => "JSONPath rules compare a `Variable`",
        "Variable (a JSONPath rule)" => "JSONata rules take a `Condition`",
        field if field.ends_with("Path") => {
            "in JSONata, write the value as a JSONata string `{% ... %}`"
        }
        _ => "set the state's `QueryLanguage` to the language of this field",
    }
}

/// A variable a state reads.
struct VariableRead {
    name: String,
    field: String,
    /// Built from a typed `Variable<T>` (its path knows the variable's type).
    typed: bool,
}

/// The variables a state reads: in its paths and payload templates (JSONPath), or in its
/// JSONata strings; `$states` is not a variable.
fn variable_reads(state: &State, language: QueryLanguage) -> Vec<VariableRead> {
    let mut reads = Vec::new();
    if language == JsonPath {
        for (field, path) in super::reference_paths(state) {
            if let Some(name) = path.variable() {
                reads.push(VariableRead {
                    name: name.as_str().to_owned(),
                    field,
                    typed: path.schema_root().is_some(),
                });
            }
        }
        for assign in assigns(state) {
            for (key, value) in &assign.0 {
                let read = key
                    .ends_with(".$")
                    .then(|| value.as_str())
                    .flatten()
                    .and_then(|text| crate::ReferencePath::parse(text).ok());
                if let Some(name) = read.as_ref().and_then(|path| path.variable()) {
                    reads.push(VariableRead {
                        name: name.as_str().to_owned(),
                        field: format!("Assign/{key}"),
                        typed: false,
                    });
                }
            }
        }
    } else {
        for (field, text) in jsonata_strings(state) {
            if let Some(Ok(expression)) = jsonata::expression_in(text) {
                for name in jsonata_variables(expression.text()) {
                    reads.push(VariableRead {
                        name,
                        field: field.clone(),
                        typed: false,
                    });
                }
            }
        }
    }
    reads.retain(|read| read.name != "states");
    reads
}

/// The `$name`s a JSONata expression reads from outside: not in quotes, not a function call,
/// not bound inside it (`$x := ...`, a lambda's parameters).
fn jsonata_variables(expression: &str) -> Vec<String> {
    let bytes = expression.as_bytes();
    let mut tokens: Vec<(String, usize)> = Vec::new();
    let mut quote = None;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        match quote {
            Some(_) if byte == b'\\' => at += 1,
            Some(q) if byte == q => quote = None,
            Some(_) => {}
            None if byte == b'"' || byte == b'\'' || byte == b'`' => quote = Some(byte),
            None if byte == b'$' => {
                let start = at + 1;
                let end = expression[start..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(bytes.len(), |n| start + n);
                if end > start {
                    tokens.push((expression[start..end].to_owned(), end));
                }
                at = end;
                continue;
            }
            None => {}
        }
        at += 1;
    }
    let next_char = |end: usize| expression[end..].trim_start().chars().next();
    let bound: BTreeSet<&str> = tokens
        .iter()
        .filter(|(_, end)| expression[*end..].trim_start().starts_with(":="))
        .map(|(name, _)| name.as_str())
        .chain(
            expression
                .match_indices("function")
                .filter_map(|(at, _)| {
                    let params = expression[at..].split_once('(')?.1.split_once(')')?.0;
                    Some(params.split(',').filter_map(|p| p.trim().strip_prefix('$')))
                })
                .flatten(),
        )
        .collect();
    let mut reads: Vec<String> = tokens
        .iter()
        .filter(|(name, end)| next_char(*end) != Some('(') && !bound.contains(name.as_str()))
        .map(|(name, _)| name.clone())
        .collect();
    reads.dedup();
    reads
}

/// Every `Assign` of a state: its own, its catchers' and its Choice rules'.
fn assigns(state: &State) -> Vec<&Assign> {
    let mut all: Vec<&Assign> = state.assign().into_iter().collect();
    all.extend(state.catch().iter().filter_map(|c| c.assign.as_ref()));
    if let State::Choice(choice) = state {
        all.extend(choice.choices.iter().filter_map(|r| r.assign.as_ref()));
    }
    all
}

/// Every string of a JSONata state that may hold an expression, with the field it is in.
fn jsonata_strings(state: &State) -> Vec<(String, &str)> {
    let mut found = Vec::new();
    let mut values: Vec<(String, &Json)> = Vec::new();
    if let Some(output) = state.output() {
        values.push(("Output".into(), output));
    }
    for assign in assigns(state) {
        for (key, value) in &assign.0 {
            values.push((format!("Assign/{key}"), value));
        }
    }
    for catcher in state.catch() {
        if let Some(output) = &catcher.output {
            values.push(("Catch/Output".into(), output));
        }
    }
    match state {
        State::Task(s) => {
            values.extend(s.arguments.as_ref().map(|a| ("Arguments".into(), a)));
        }
        State::Parallel(s) => {
            values.extend(s.arguments.as_ref().map(|a| ("Arguments".into(), a)));
        }
        State::Map(s) => {
            values.extend(s.items.as_ref().map(|a| ("Items".into(), a)));
        }
        State::Choice(s) => {
            for rule in &s.choices {
                if let Condition::Jsonata(condition) = &rule.condition {
                    found.push(("Condition".into(), condition.as_str()));
                }
                values.extend(rule.output.as_ref().map(|o| ("Choices/Output".into(), o)));
            }
        }
        State::Wait(s) => {
            if let WaitFor::Timestamp(timestamp) = &s.wait_for {
                found.push(("Timestamp".into(), timestamp.as_str()));
            }
        }
        State::Fail(s) => {
            found.extend(s.error.as_deref().map(|e| ("Error".to_owned(), e)));
            found.extend(s.cause.as_deref().map(|c| ("Cause".to_owned(), c)));
        }
        State::Pass(_) | State::Succeed(_) => {}
    }
    for (field, value) in values {
        strings_in(field, value, &mut found);
    }
    found
}

fn strings_in<'a>(field: String, value: &'a Json, found: &mut Vec<(String, &'a str)>) {
    match value {
        Json::String(text) => found.push((field, text)),
        Json::Object(object) => {
            for (key, value) in object {
                strings_in(format!("{field}/{key}"), value, found);
            }
        }
        Json::Array(items) => {
            for (index, value) in items.iter().enumerate() {
                strings_in(format!("{field}/{index}"), value, found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::validate::validate;

    /// The errors of a definition given as JSON.
    fn errors(definition: serde_json::Value) -> Vec<String> {
        let machine = crate::parse(&definition.to_string()).unwrap();
        validate(&machine)
            .errors
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_field_of_the_other_language_is_refused_with_what_to_write_instead() {
        let found = errors(json!({"StartAt": "T", "States": {"T": {"Type": "Task",
            "QueryLanguage": "JSONata", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
            "InputPath": "$.a", "TimeoutSecondsPath": "$.t", "End": true}}}));
        assert_eq!(
            found,
            [
                "state `T`: `InputPath` is a JSONPath field, but the state runs in JSONata: JSONata states shape their output with `Output` (and `$states.input`)",
                "state `T`: `TimeoutSecondsPath` is a JSONPath field, but the state runs in JSONata: in JSONata, write the value as a JSONata string `{% ... %}`",
            ]
        );
        let found = errors(json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
            "Output": {"a": 1}, "End": true}}}));
        assert_eq!(
            found,
            [
                "state `P`: `Output` is a JSONata field, but the state runs in JSONPath: JSONPath states shape their output with ResultSelector, ResultPath and OutputPath"
            ]
        );
    }

    #[test]
    fn a_jsonata_machine_has_no_jsonpath_state_and_its_expressions_parse() {
        let found = errors(
            json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
            "Type": "Map", "ItemProcessor": {"StartAt": "In", "States": {"In": {"Type": "Pass",
                "QueryLanguage": "JSONPath", "End": true}}},
            "Output": {"n": "{% $count( %}"}, "End": true}}}),
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("state `M`: the JSONata expression in `Output/n` does not parse")
        );
        assert!(
            found[1].starts_with("state `M/In`: a state of a JSONata machine cannot use JSONPath")
        );
    }

    fn warnings(definition: serde_json::Value) -> Vec<String> {
        let machine = crate::parse(&definition.to_string()).unwrap();
        validate(&machine)
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_variable_no_state_assigns_is_a_warning_and_an_error_when_typed() {
        let read = |parameters: serde_json::Value| {
            json!({"StartAt": "Set", "States": {
                "Set": {"Type": "Pass", "Assign": {"known": 1}, "Next": "Read"},
                "Read": {"Type": "Pass", "Parameters": parameters, "End": true}}})
        };
        assert_eq!(
            warnings(read(json!({"a.$": "$known", "b.$": "$unknown.x"}))),
            [
                "state `Read`: Parameters reads `$unknown`, which no state of its scope or an enclosing one assigns: it is undefined when the state runs"
            ]
        );
        let jsonata = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {
            "Type": "Pass", "End": true,
            "Output": "{% ($n := 2; $map([1], function($v) { $v * $n + $sum([$missing]) })) %}"}}});
        assert_eq!(
            warnings(jsonata),
            [
                "state `P`: Output reads `$missing`, which no state of its scope or an enclosing one assigns: it is undefined when the state runs"
            ]
        );

        let mut machine = crate::parse(&read(json!({})).to_string()).unwrap();
        let crate::State::Pass(pass) = &mut machine.states[1] else {
            panic!("the Pass")
        };
        let typed = crate::typed::Variable::<u64>::new("total");
        let scope = crate::typed::StateInput::<u64>::new();
        use crate::Scope as _;
        pass.parameters = Some(
            crate::PayloadTemplate::new().with(
                "t",
                scope
                    .variable_at(&typed, crate::typed::Path::root())
                    .into_payload(),
            ),
        );
        let errors: Vec<String> = validate(&machine)
            .errors
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "state `Read`: Parameters reads `$total`, which no state of its scope or an enclosing one assigns: it is undefined when the state runs"
            ]
        );
    }

    /// AWS reserves `$states` and refuses a name that is not an identifier; a body assigning an
    /// outer variable's name is accepted (AWS ran a Parallel whose branch and Catch both assign
    /// `inputVar`): the body gets a variable of its own, which is worth a warning.
    #[test]
    fn assign_sets_no_reserved_name_and_an_outer_name_is_only_a_warning() {
        let definition = json!({"StartAt": "Set", "States": {
            "Set": {"Type": "Pass", "Assign": {"total": 0, "states": 1, "1x": 2}, "Next": "P"},
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "In", "States": {"In": {
                "Type": "Pass", "Assign": {"total.$": "$.n", "mine": 1}, "End": true}}}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"mine": 2}, "Next": "Set"}],
                "End": true}}});
        let found = errors(definition.clone());
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("`Assign` cannot set `$states`: AWS reserves the name"));
        assert!(found[1].contains("`1x` is not a variable name"));
        let warned = warnings(definition);
        for name in ["total", "mine"] {
            assert!(
                warned.iter().any(|w| w.starts_with(&format!(
                    "state `P/In`: `Assign` sets `${name}`, a name an enclosing scope also assigns"
                ))),
                "{warned:?}"
            );
        }
    }

    /// The ASL grammar allows `Comment` in a retrier, a catcher and any Choice rule, nested ones
    /// too; a rule's, a retrier's and a catcher's are kept when the definition is written back.
    #[test]
    fn a_comment_is_accepted_in_retriers_catchers_and_choice_rules() {
        let definition = json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}],
                "Retry": [{"Comment": "once more", "ErrorEquals": ["E"], "MaxAttempts": 1}],
                "Catch": [{"Comment": "then decide", "ErrorEquals": ["States.ALL"], "Next": "C"}],
                "End": true},
            "C": {"Type": "Choice", "Choices": [
                {"Comment": "named", "Variable": "$.Error", "StringEquals": "E", "Next": "S"},
                {"And": [{"Comment": "nested", "Variable": "$.Error", "IsPresent": true}], "Next": "S"}],
                "Default": "S"},
            "S": {"Type": "Succeed"}}});
        assert_eq!(errors(definition.clone()), Vec::<String>::new());
        let machine = crate::parse(&definition.to_string()).unwrap();
        let written = serde_json::to_value(&machine).unwrap();
        assert_eq!(written["States"]["P"]["Retry"][0]["Comment"], "once more");
        assert_eq!(written["States"]["P"]["Catch"][0]["Comment"], "then decide");
        assert_eq!(written["States"]["C"]["Choices"][0]["Comment"], "named");
    }

    /// AWS's grammar: a JSONata rule's `Condition` is `true`, `false` or a `{% %}` string; it is
    /// a JSONata field, and anything else is refused.
    #[test]
    fn a_constant_condition_is_a_jsonata_rule() {
        let choice = |language: &str, condition: serde_json::Value| {
            json!({"QueryLanguage": language, "StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Condition": condition, "Next": "S"}], "Default": "S"},
                "S": {"Type": "Succeed"}}})
        };
        let definition = choice("JSONata", json!(true));
        assert_eq!(errors(definition.clone()), Vec::<String>::new());
        let machine = crate::parse(&definition.to_string()).unwrap();
        let written = serde_json::to_value(&machine).unwrap();
        assert_eq!(written["States"]["C"]["Choices"][0]["Condition"], true);
        let found = errors(choice("JSONPath", json!(false)));
        assert!(
            found
                .iter()
                .any(|e| e.contains("`Condition` is a JSONata field")),
            "{found:?}"
        );
        let refused = crate::parse(&choice("JSONata", json!(1)).to_string()).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("`Condition` must be true, false or a JSONata string"),
            "{refused}"
        );
    }

    /// AWS's grammar allows `null` as a JSONata `Output` (and a Pass's `Result`): the state's
    /// output is null, not its input.
    #[test]
    fn a_written_null_output_is_a_value_not_an_absent_field() {
        let definition = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Output": null, "End": true}}});
        let machine = crate::parse(&definition.to_string()).unwrap();
        let crate::State::Pass(pass) = &machine.states[&crate::StateName::new("A").unwrap()] else {
            panic!("a Pass");
        };
        assert_eq!(pass.output, Some(serde_json::Value::Null));
        let written = serde_json::to_value(&machine).unwrap();
        assert_eq!(
            written["States"]["A"].get("Output"),
            Some(&serde_json::Value::Null)
        );
    }

    /// The ASL specification: BackoffRate is at least 1.0, IntervalSeconds and MaxDelaySeconds
    /// are positive; AWS caps IntervalSeconds and MaxAttempts at 99999999 and MaxDelaySeconds at
    /// 31622400.
    #[test]
    fn a_retrier_whose_interval_would_shrink_or_overflow_is_refused() {
        let retry = |retrier: serde_json::Value| {
            let mut retrier = retrier;
            retrier["ErrorEquals"] = json!(["States.ALL"]);
            errors(json!({"StartAt": "P", "States": {"P": {"Type": "Parallel",
                "Branches": [{"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}],
                "Retry": [retrier], "End": true}}}))
        };
        assert_eq!(
            retry(
                json!({"BackoffRate": 1.0, "IntervalSeconds": 1, "MaxAttempts": 0, "MaxDelaySeconds": 31_622_400})
            ),
            Vec::<String>::new()
        );
        let found = retry(json!({"BackoffRate": 0.5}));
        assert_eq!(
            found,
            [
                "state `P`: Retry[0]: BackoffRate is 0.5, but a retry interval may not shrink: give a number of at least 1.0"
            ]
        );
        for (field, value) in [
            ("IntervalSeconds", 0),
            ("IntervalSeconds", 100_000_000),
            ("MaxAttempts", 100_000_000),
            ("MaxDelaySeconds", 0),
            ("MaxDelaySeconds", 31_622_401),
        ] {
            let found = retry(json!({field: value}));
            assert_eq!(found.len(), 1, "{field} {value}: {found:?}");
            assert!(
                found[0].starts_with(&format!(
                    "state `P`: Retry[0]: {field} is {value}: give a whole number from"
                )),
                "{found:?}"
            );
        }
    }
}
