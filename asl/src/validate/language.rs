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
use crate::query::{Assign, QueryLanguage};
use crate::state::fields::{self, FieldLanguage, FieldValue, LimitForm};
use crate::state::{Condition, State, StateMachine, States, WaitFor};

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
            let at = super::qualified(parent, name);
            let language = state.query_language().unwrap_or(machine);
            if machine == Jsonata && language == JsonPath {
                self.error(
                    Some(&at),
                    "a state of a JSONata machine cannot use JSONPath (AWS refuses it): write the \
                     state in JSONata, or make the machine JSONPath and the JSONata states say so"
                        .into(),
                );
            }
            for (field, belongs_to) in language_fields(state) {
                if belongs_to != language {
                    self.error(
                        Some(&at),
                        format!(
                            "`{field}` is a {belongs_to} field, but the state runs in {language}: {}",
                            alternative(&field)
                        ),
                    );
                }
            }
            if language == Jsonata {
                for (field, text) in jsonata_strings(state) {
                    if let Some(Err(err)) = jsonata::expression_in(text) {
                        self.error(
                            Some(&at),
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
                            self.error(Some(&at), format!("`Assign`: {problem}"));
                            continue;
                        }
                    };
                    if variable.is_reserved() {
                        self.error(
                            Some(&at),
                            format!("`Assign` cannot set `${variable}`: AWS reserves the name"),
                        );
                    } else if language == Jsonata && key.ends_with(".$") {
                        self.error(
                            Some(&at),
                            format!(
                                "`Assign` key `{key}` is JSONPath: in a JSONata state write \
                                 `\"{variable}\": \"{{% ... %}}\"`"
                            ),
                        );
                    } else if outer.iter().any(|scope| scope.contains(variable.as_str())) {
                        // AWS accepts it: the body gets a variable of its own, and the outer
                        // one keeps its value.
                        self.warning(
                            Some(&at),
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
            let at = super::qualified(parent, name);
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
                    self.error(Some(&at), message);
                } else {
                    self.warning(Some(&at), message);
                }
            }
            // A Distributed Map's children are executions of their own: no outer variable.
            let distributed = matches!(state, State::Map(map) if map.is_distributed());
            let outer = if distributed { &[][..] } else { &chain[..] };
            for branch in state.nested() {
                self.language_scope(Some(&at), &branch.states, machine, outer);
            }
        }
    }
}

/// The language-specific fields `state` holds (as they are written), each with the language it
/// belongs to: the state's fields from the table in `state/fields.rs`, its catchers', and the
/// forms of a Choice rule, a Wait and its own that tell the language.
fn language_fields(state: &State) -> Vec<(String, QueryLanguage)> {
    let mut walked = state.walk();
    for catcher in state.catch() {
        fields::nested("Catch", catcher, &mut walked);
    }
    let mut fields: Vec<(String, QueryLanguage)> = walked
        .iter()
        .filter_map(|field| {
            let language = field.language()?;
            let key = match field.value {
                // Only a template's `.$` keys tell its language.
                FieldValue::Template(_) if field.belongs_to == FieldLanguage::Both => {
                    format!("{} with `.$` keys", field.written_key())
                }
                _ => field.written_key(),
            };
            Some((key, language))
        })
        .collect();
    let mut has = |present: bool, field: &str, language: QueryLanguage| {
        if present {
            fields.push((field.to_owned(), language));
        }
    };
    match state {
        State::Choice(s) => {
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
        State::Wait(s) => match &s.wait_for {
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
        },
        _ => {}
    }
    fields
}

/// What to write instead of `field` in the other language; a field inside an object
/// (`ItemReader.Parameters`, `Catch.Output`) is answered by its own key.
fn alternative(field: &str) -> &'static str {
    let key = match field.rsplit_once('.') {
        Some((_, key)) if !field.contains('`') => key,
        _ => field,
    };
    match key {
        "Parameters" => "JSONata states take `Arguments`",
        "Arguments" => "JSONPath states take `Parameters`",
        "InputPath" | "ResultSelector" | "ResultPath" | "OutputPath" | "Result" => {
            "JSONata states shape their output with `Output` (and `$states.input`)"
        }
        "Output" => {
            "JSONPath states shape their output with ResultSelector, ResultPath and OutputPath"
        }
        "ItemsPath" => "JSONata Maps take `Items`",
        "Items" => "JSONPath Maps take `ItemsPath`",
        "Condition" => "JSONPath rules compare a `Variable`",
        "Variable (a JSONPath rule)" => "JSONata rules take a `Condition`",
        key if key.ends_with("Path") => {
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
        for (field, path) in super::schema::reference_paths(state) {
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

/// Every string of a JSONata state that may hold an expression, with the field it is in: its
/// fields of JSONata (or either language) from the table, its `Assign`s, its catchers' `Output`
/// and the conditions and timestamps of a Choice and a Wait.
fn jsonata_strings(state: &State) -> Vec<(String, &str)> {
    let mut found = Vec::new();
    let mut values: Vec<(String, &Json)> = Vec::new();
    for field in state.walk() {
        if field.belongs_to == FieldLanguage::JsonPath {
            continue;
        }
        match field.value {
            FieldValue::Json(json) => values.push((field.key, json)),
            FieldValue::Text(text) => found.push((field.key, text)),
            FieldValue::Limit(LimitForm::Expression(expression)) => {
                found.push((field.key, expression.as_str()));
            }
            _ => {}
        }
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
        _ => {}
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
