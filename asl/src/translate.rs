//! A JSONPath machine rewritten in JSONata, state by state, with the same behaviour: the
//! machine's `QueryLanguage` becomes JSONata and each state's data flow is written with
//! JSONata's fields.
//!
//! - `InputPath` + `Parameters` -> `Arguments` (a template of `{% %}` strings reading
//!   `$states.input`, `$states.context`);
//! - `ResultSelector` + `ResultPath` + `OutputPath` -> `Output` (one expression over
//!   `$states.result` and `$states.input`; a one-field `ResultPath` merges with `$merge`);
//! - `ItemsPath` -> `Items`, an ItemReader's and a ResultWriter's `Parameters` -> `Arguments`,
//!   `*Path` settings -> JSONata strings, a catcher's `ResultPath` -> its `Output`;
//! - Choice rules -> `Condition`s, a Fail's `ErrorPath`/`CausePath` -> JSONata `Error`/`Cause`.
//!
//! Typed paths, selectors and context values keep their compile-time checks: they are built by
//! the same [`crate::typed`] code and only rendered differently. What has no JSONata form here
//! (a selection path with wildcards or filters, an intrinsic function other than
//! `States.Format` of paths and `States.Hash` of a path, a `ResultPath` deeper than one field, a JSONPath `Assign` that reads a
//! path) is an error naming the state and the field.

use serde_json::{Map, Value as Json};

use crate::path::{ContextPath, DataPath, ReferencePath, Segment};
use crate::payload::{PayloadTemplate, PayloadValue};
use crate::query::{Assign, JsonataString, QueryLanguage};
use crate::state::{
    Branch, Catcher, ChoiceRule, Comparison, Condition, ResultPath, State, StateMachine, States,
    WaitFor,
};

/// Why a machine cannot be rewritten in JSONata.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("state `{state}`, {field}: {problem}")]
pub struct Untranslatable {
    /// The state that cannot be rewritten (`Outer/Inner` for a nested one).
    pub state: String,
    /// The field of that state that has no JSONata equivalent here.
    pub field: String,
    /// Why it cannot be rewritten.
    pub problem: String,
}

/// The JSONata rendering of a JSONPath machine. A machine already in JSONata (as a whole or in
/// part) is refused: its states would mix the two.
pub fn to_jsonata(machine: &StateMachine) -> Result<StateMachine, Untranslatable> {
    let mut translated = machine.clone();
    translated.query_language = Some(QueryLanguage::Jsonata);
    translated.states = states(&machine.states, "")?;
    Ok(translated)
}

fn states(states: &States, parent: &str) -> Result<States, Untranslatable> {
    states
        .iter()
        .map(|(name, state)| {
            let at = format!("{parent}{name}");
            Ok((name.clone(), translate_state(state, &at)?))
        })
        .collect()
}

fn branch(branch: &Branch, at: &str) -> Result<Branch, Untranslatable> {
    Ok(Branch {
        comment: branch.comment.clone(),
        start_at: branch.start_at.clone(),
        states: states(&branch.states, &format!("{at}/"))?,
    })
}

/// The roots a state's expressions read.
const INPUT: &str = "$states.input";
const RESULT: &str = "$states.result";

fn translate_state(state: &State, at: &str) -> Result<State, Untranslatable> {
    let fail = |field: &str, problem: String| Untranslatable {
        state: at.to_owned(),
        field: field.to_owned(),
        problem,
    };
    if state.query_language() == Some(QueryLanguage::Jsonata) {
        return Err(fail("QueryLanguage", "the state is already JSONata".into()));
    }
    let mut state = state.clone();
    *state.query_language_mut() = None;
    // `$` after InputPath; a Fail, which has no InputPath, reads the state's input.
    let input = input_root(state.input_path_mut().and_then(Option::take), at)?;
    for limit in state.limits_mut() {
        limit.path_to_expression(&|path| JsonataString::of_expression(&reference(path, &input)));
    }
    match &mut state {
        State::Task(task) => {
            task.arguments = arguments(task.parameters.take(), &input, at)?;
            task.output = output(
                task.result_selector.take(),
                std::mem::take(&mut task.result_path),
                task.output_path.take(),
                at,
            )?;
            task.assign = assign(task.assign.take(), RESULT, at)?;
            task.catch = catchers(&task.catch, at)?;
        }
        State::Parallel(parallel) => {
            parallel.arguments = arguments(parallel.parameters.take(), &input, at)?;
            parallel.output = output(
                parallel.result_selector.take(),
                std::mem::take(&mut parallel.result_path),
                parallel.output_path.take(),
                at,
            )?;
            parallel.assign = assign(parallel.assign.take(), RESULT, at)?;
            parallel.catch = catchers(&parallel.catch, at)?;
            parallel.branches = parallel
                .branches
                .iter()
                .map(|b| branch(b, at))
                .collect::<Result<_, _>>()?;
        }
        State::Map(map) => {
            if let Some(items) = map.items_path.take() {
                map.items = Some(jsonata(&data_path(&items, &input, at, "ItemsPath")?));
            } else if input != INPUT {
                map.items = Some(jsonata(&input));
            }
            if let Some(selector) = map.item_selector.take() {
                map.item_selector = Some(literal_template(&template(&selector, &input, at)?));
            }
            if let Some(reader) = &mut map.item_reader {
                reader.arguments = arguments(reader.parameters.take(), &input, at)?;
            }
            if let Some(batcher) = &mut map.item_batcher
                && let Some(batch_input) = batcher.batch_input.take()
            {
                batcher.batch_input = Some(literal_template(&template(&batch_input, &input, at)?));
            }
            if let Some(writer) = &mut map.result_writer {
                writer.arguments = arguments(writer.parameters.take(), &input, at)?;
            }
            map.output = output(
                map.result_selector.take(),
                std::mem::take(&mut map.result_path),
                map.output_path.take(),
                at,
            )?;
            map.assign = assign(map.assign.take(), RESULT, at)?;
            map.catch = catchers(&map.catch, at)?;
            map.item_processor.branch = branch(&map.item_processor.branch, at)?;
        }
        State::Pass(pass) => {
            let result = match (pass.parameters.take(), pass.result.take()) {
                (Some(parameters), _) => object_expression(&parameters, &input, at)?,
                (None, Some(result)) => result.to_string(),
                (None, None) => input.clone(),
            };
            let placed = place(&result, std::mem::take(&mut pass.result_path), at)?;
            let out = select(&placed, pass.output_path.take(), at)?;
            pass.output = (out != INPUT).then(|| jsonata(&out));
            pass.assign = assign(pass.assign.take(), &format!("({result})"), at)?;
        }
        State::Choice(choice) => {
            let out = select(&input, choice.output_path.take(), at)?;
            let output = (out != INPUT).then(|| jsonata(&out));
            choice.output = output.clone();
            choice.assign = assign(choice.assign.take(), &input, at)?;
            choice.choices =
                choice
                    .choices
                    .iter()
                    .map(|rule| {
                        Ok(ChoiceRule {
                            comment: None,
                            condition: Condition::Jsonata(JsonataString::of_expression(
                                &condition(&rule.condition, &input, at)?,
                            )),
                            next: rule.next.clone(),
                            output: rule.output.clone().or(output.clone()),
                            assign: assign(rule.assign.clone(), &input, at)?,
                        })
                    })
                    .collect::<Result<_, _>>()?;
        }
        State::Wait(wait) => {
            wait.wait_for = match &wait.wait_for {
                WaitFor::SecondsPath(path) => WaitFor::Seconds(crate::Evaluated::Expression(
                    JsonataString::of_expression(&reference(path, &input)),
                )),
                WaitFor::TimestampPath(path) => WaitFor::Timestamp(
                    jsonata(&reference(path, &input))
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                ),
                other => other.clone(),
            };
            let out = select(&input, wait.output_path.take(), at)?;
            wait.output = (out != INPUT).then(|| jsonata(&out));
            wait.assign = assign(wait.assign.take(), &input, at)?;
        }
        State::Succeed(succeed) => {
            let out = select(&input, succeed.output_path.take(), at)?;
            succeed.output = (out != INPUT).then(|| jsonata(&out));
        }
        State::Fail(fail_state) => {
            if let Some(error) = fail_state.error_path.take() {
                fail_state.error = Some(expression_string(&error, INPUT, at, "ErrorPath")?);
            }
            if let Some(cause) = fail_state.cause_path.take() {
                fail_state.cause = Some(expression_string(&cause, INPUT, at, "CausePath")?);
            }
        }
    }
    Ok(state)
}

/// `{% expression %}` as a JSON string.
fn jsonata(expression: &str) -> Json {
    Json::String(JsonataString::of_expression(expression).as_str().to_owned())
}

fn untranslatable(at: &str, field: &str, problem: impl Into<String>) -> Untranslatable {
    Untranslatable {
        state: at.to_owned(),
        field: field.to_owned(),
        problem: problem.into(),
    }
}

/// What `$` means after InputPath: `$states.input`, or an expression into it.
fn input_root(input_path: Option<DataPath>, at: &str) -> Result<String, Untranslatable> {
    match input_path {
        None => Ok(INPUT.to_owned()),
        Some(path) => data_path(&path, INPUT, at, "InputPath"),
    }
}

fn data_path(path: &DataPath, root: &str, at: &str, field: &str) -> Result<String, Untranslatable> {
    match path {
        DataPath::Null => Ok("{}".to_owned()),
        DataPath::Reference(path) => Ok(reference(path, root)),
        DataPath::Select(path) => Err(untranslatable(
            at,
            field,
            format!(
                "`{path}` selects with wildcards or filters, which have no JSONata rendering here; write the state in JSONata"
            ),
        )),
    }
}

/// A reference path as a JSONata path from `root` (or from the variable it reads).
fn reference(path: &ReferencePath, root: &str) -> String {
    let mut text = match path.variable() {
        Some(variable) => format!("${variable}"),
        None => root.to_owned(),
    };
    for segment in path.segments() {
        match segment {
            Segment::Field(name) => {
                text.push('.');
                text.push_str(&field_name(name));
            }
            Segment::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

/// A field name in a JSONata path: backquoted unless it is a plain name.
fn field_name(name: &str) -> String {
    if crate::path::is_plain_name(name) {
        name.to_owned()
    } else {
        format!("`{name}`")
    }
}

fn context(path: &ContextPath) -> String {
    let text = path.to_string();
    format!(
        "$states.context{}",
        text.strip_prefix("$$").unwrap_or_default()
    )
}

/// One payload value as a JSONata expression, paths read from `root`.
fn value_expression(
    value: &PayloadValue,
    root: &str,
    at: &str,
    field: &str,
) -> Result<String, Untranslatable> {
    match value {
        PayloadValue::Literal(json) => Ok(json.to_string()),
        PayloadValue::Object(template) => object_expression(template, root, at),
        PayloadValue::Array(items) => Ok(format!(
            "[{}]",
            items
                .iter()
                .map(|item| value_expression(item, root, at, field))
                .collect::<Result<Vec<_>, _>>()?
                .join(", ")
        )),
        PayloadValue::Path(path) => Ok(reference(path, root)),
        PayloadValue::Select(path) => data_path(&DataPath::Select(path.clone()), root, at, field),
        PayloadValue::Context(path) => Ok(context(path)),
        PayloadValue::Intrinsic(call) => format_call(call, root)
            .ok_or_else(|| untranslatable(at, field, format!("`{call}` has no JSONata rendering here (only States.Format of paths and States.Hash of a path do); write the state in JSONata"))),
    }
}

fn object_expression(
    template: &PayloadTemplate,
    root: &str,
    at: &str,
) -> Result<String, Untranslatable> {
    let members = template
        .iter()
        .map(|(name, value)| {
            Ok(format!(
                "{}: {}",
                Json::String(name.to_owned()),
                value_expression(value, root, at, name)?
            ))
        })
        .collect::<Result<Vec<_>, Untranslatable>>()?;
    Ok(format!("{{{}}}", members.join(", ")))
}

/// A payload template as a JSONata template: literals stay, every value read at run time
/// becomes a `{% %}` string.
fn template(template: &PayloadTemplate, root: &str, at: &str) -> Result<Json, Untranslatable> {
    let mut object = Map::new();
    for (name, value) in template.iter() {
        object.insert(name.to_owned(), template_value(value, root, at, name)?);
    }
    Ok(Json::Object(object))
}

fn template_value(
    value: &PayloadValue,
    root: &str,
    at: &str,
    field: &str,
) -> Result<Json, Untranslatable> {
    match value {
        PayloadValue::Literal(json) => Ok(json.clone()),
        PayloadValue::Object(nested) => template(nested, root, at),
        PayloadValue::Array(items) => items
            .iter()
            .map(|item| template_value(item, root, at, field))
            .collect::<Result<Vec<_>, _>>()
            .map(Json::Array),
        dynamic => Ok(jsonata(&value_expression(dynamic, root, at, field)?)),
    }
}

/// A JSONata template held where the model keeps a payload template (ItemSelector,
/// BatchInput): every member a literal.
fn literal_template(json: &Json) -> PayloadTemplate {
    serde_json::from_value(json.clone())
        .expect("a template of literals reads as a payload template")
}

fn arguments(
    parameters: Option<PayloadTemplate>,
    input: &str,
    at: &str,
) -> Result<Option<Json>, Untranslatable> {
    match parameters {
        Some(parameters) => template(&parameters, input, at).map(Some),
        None if input == INPUT => Ok(None),
        None => Ok(Some(jsonata(input))),
    }
}

/// ResultSelector, ResultPath and OutputPath as one `Output` (none when it is the default,
/// `$states.result`).
fn output(
    result_selector: Option<PayloadTemplate>,
    result_path: ResultPath,
    output_path: Option<DataPath>,
    at: &str,
) -> Result<Option<Json>, Untranslatable> {
    // The common case reads best as a template: a selector placed as the whole output.
    if let (Some(selector), ResultPath::Replace, None) =
        (&result_selector, &result_path, &output_path)
    {
        return template(selector, RESULT, at).map(Some);
    }
    let selected = match &result_selector {
        Some(selector) => object_expression(selector, RESULT, at)?,
        None => RESULT.to_owned(),
    };
    let placed = place(&selected, result_path, at)?;
    let out = select(&placed, output_path, at)?;
    Ok((out != RESULT).then(|| jsonata(&out)))
}

/// Where ResultPath puts `result`: replacing the input, dropped, or merged as one field.
fn place(result: &str, result_path: ResultPath, at: &str) -> Result<String, Untranslatable> {
    match result_path {
        ResultPath::Replace => Ok(result.to_owned()),
        ResultPath::Discard => Ok(INPUT.to_owned()),
        ResultPath::At(path) => match (path.variable(), path.segments()) {
            (None, [Segment::Field(name)]) => Ok(format!(
                "$merge([{INPUT}, {{{}: {result}}}])",
                Json::String(name.clone())
            )),
            _ => Err(untranslatable(
                at,
                "ResultPath",
                format!(
                    "`{path}` is deeper than one field, which has no JSONata rendering here; write the state in JSONata"
                ),
            )),
        },
    }
}

/// OutputPath applied to `value`.
fn select(value: &str, output_path: Option<DataPath>, at: &str) -> Result<String, Untranslatable> {
    match output_path {
        None => Ok(value.to_owned()),
        Some(DataPath::Reference(path)) if path.is_root() => Ok(value.to_owned()),
        Some(path) => {
            let root = if value.starts_with('$') && !value.contains(' ') {
                value.to_owned()
            } else {
                format!("({value})")
            };
            data_path(&path, &root, at, "OutputPath")
        }
    }
}

fn catchers(catchers: &[Catcher], at: &str) -> Result<Vec<Catcher>, Untranslatable> {
    catchers
        .iter()
        .map(|catcher| {
            let mut catcher = catcher.clone();
            let placed = place(
                "$states.errorOutput",
                std::mem::take(&mut catcher.result_path),
                at,
            )?;
            catcher.output = (placed != "$states.errorOutput").then(|| jsonata(&placed));
            catcher.assign = assign(catcher.assign.take(), "$states.errorOutput", at)?;
            Ok(catcher)
        })
        .collect()
}

/// A JSONPath Assign in JSONata: literals stay, `.$` values read from `dollar` (what `$` was).
fn assign(
    assign: Option<Assign>,
    dollar: &str,
    at: &str,
) -> Result<Option<Assign>, Untranslatable> {
    let Some(assign) = assign else {
        return Ok(None);
    };
    let parsed: PayloadTemplate = serde_json::from_value(assign.to_object())
        .map_err(|err| untranslatable(at, "Assign", err.to_string()))?;
    let Json::Object(object) = template(&parsed, dollar, at)? else {
        unreachable!("a template renders as an object")
    };
    Ok(Some(Assign(object.into_iter().collect())))
}

/// A Fail's ErrorPath or CausePath as a JSONata string.
fn expression_string(
    value: &PayloadValue,
    root: &str,
    at: &str,
    field: &str,
) -> Result<String, Untranslatable> {
    let expression = value_expression(value, root, at, field)?;
    Ok(JsonataString::of_expression(&expression)
        .as_str()
        .to_owned())
}

/// A Choice condition as a JSONata boolean expression.
fn condition(condition: &Condition, input: &str, at: &str) -> Result<String, Untranslatable> {
    let all = |conditions: &[Condition], joiner: &str| -> Result<String, Untranslatable> {
        Ok(conditions
            .iter()
            .map(|c| Ok(format!("({})", self::condition(c, input, at)?)))
            .collect::<Result<Vec<_>, Untranslatable>>()?
            .join(joiner))
    };
    match condition {
        Condition::Jsonata(expression) => Ok(expression.expression().to_owned()),
        Condition::Constant(holds) => Ok(holds.to_string()),
        Condition::And(conditions) => all(conditions, " and "),
        Condition::Or(conditions) => all(conditions, " or "),
        Condition::Not(inner) => Ok(format!("$not({})", self::condition(inner, input, at)?)),
        Condition::Compare {
            variable,
            comparison,
        } => {
            let value = reference(variable, input);
            let path = |path: &ReferencePath| reference(path, input);
            let literal = |json: Json| json.to_string();
            use Comparison as C;
            Ok(match comparison {
                C::StringEquals(s) => format!("{value} = {}", literal(s.clone().into())),
                C::StringLessThan(s) => format!("{value} < {}", literal(s.clone().into())),
                C::StringGreaterThan(s) => format!("{value} > {}", literal(s.clone().into())),
                C::StringLessThanEquals(s) => format!("{value} <= {}", literal(s.clone().into())),
                C::StringGreaterThanEquals(s) => {
                    format!("{value} >= {}", literal(s.clone().into()))
                }
                C::NumericEquals(n) => format!("{value} = {n}"),
                C::NumericLessThan(n) => format!("{value} < {n}"),
                C::NumericGreaterThan(n) => format!("{value} > {n}"),
                C::NumericLessThanEquals(n) => format!("{value} <= {n}"),
                C::NumericGreaterThanEquals(n) => format!("{value} >= {n}"),
                C::BooleanEquals(b) => format!("{value} = {b}"),
                C::StringEqualsPath(p) | C::NumericEqualsPath(p) | C::BooleanEqualsPath(p) => {
                    format!("{value} = {}", path(p))
                }
                C::StringLessThanPath(p) | C::NumericLessThanPath(p) => {
                    format!("{value} < {}", path(p))
                }
                C::StringGreaterThanPath(p) | C::NumericGreaterThanPath(p) => {
                    format!("{value} > {}", path(p))
                }
                C::StringLessThanEqualsPath(p) | C::NumericLessThanEqualsPath(p) => {
                    format!("{value} <= {}", path(p))
                }
                C::StringGreaterThanEqualsPath(p) | C::NumericGreaterThanEqualsPath(p) => {
                    format!("{value} >= {}", path(p))
                }
                C::IsPresent(present) => format!("$exists({value}) = {present}"),
                C::IsNull(null) => format!("({value} = null) = {null}"),
                C::IsNumeric(yes) => format!("($type({value}) = \"number\") = {yes}"),
                C::IsString(yes) => format!("($type({value}) = \"string\") = {yes}"),
                C::IsBoolean(yes) => format!("($type({value}) = \"boolean\") = {yes}"),
                other => {
                    return Err(untranslatable(
                        at,
                        "Choices",
                        format!(
                            "`{}` has no JSONata rendering here; write the rule as a JSONata Condition",
                            other.operator()
                        ),
                    ));
                }
            })
        }
    }
}

/// `States.Format('literal {} literal', arg, ...)` as a JSONata string concatenation, when every
/// argument is a path or `States.Hash` of one; `None` for anything else.
fn format_call(call: &str, root: &str) -> Option<String> {
    let inner = call
        .trim()
        .strip_prefix("States.Format(")?
        .strip_suffix(')')?;
    let inner = inner.trim_start().strip_prefix('\'')?;
    // The template: up to the first unescaped quote; `\'`, `\{`, `\}`, `\\` are escapes.
    let mut pieces = vec![String::new()];
    let mut chars = inner.char_indices();
    let rest = loop {
        let (at, c) = chars.next()?;
        match c {
            '\\' => pieces.last_mut()?.push(chars.next()?.1),
            '\'' => break &inner[at + 1..],
            '{' if inner[at + 1..].starts_with('}') => {
                chars.next();
                pieces.push(String::new());
            }
            c => pieces.last_mut()?.push(c),
        }
    };
    let rest = rest.trim_start().strip_prefix(',').unwrap_or(rest);
    let arguments: Vec<String> = split_arguments(rest)?
        .into_iter()
        .map(|argument| argument_expression(argument, root))
        .collect::<Option<_>>()?;
    if arguments.len() + 1 != pieces.len() {
        return None;
    }
    let mut parts = Vec::new();
    for (index, piece) in pieces.iter().enumerate() {
        if !piece.is_empty() {
            parts.push(Json::String(piece.clone()).to_string());
        }
        if let Some(argument) = arguments.get(index) {
            parts.push(format!("$string({argument})"));
        }
    }
    Some(parts.join(" & "))
}

/// An intrinsic function's argument as JSONata: a context or reference path, or `States.Hash` of
/// one with a quoted algorithm (`$hash`, which AWS's JSONata has); `None` for anything else.
fn argument_expression(argument: &str, root: &str) -> Option<String> {
    if let Some(inner) = argument
        .strip_prefix("States.Hash(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        let [data, algorithm] = split_arguments(inner)?[..] else {
            return None;
        };
        let algorithm = algorithm.strip_prefix('\'')?.strip_suffix('\'')?;
        if algorithm.contains(['\'', '\\']) || data.starts_with("States.") {
            return None;
        }
        let data = argument_expression(data, root)?;
        return Some(format!("$hash({data}, {})", Json::String(algorithm.into())));
    }
    if argument.starts_with("$$") {
        ContextPath::parse(argument).ok().map(|p| context(&p))
    } else {
        let path = ReferencePath::parse(argument).ok()?;
        Some(reference(&path, root))
    }
}

/// The comma-separated arguments of an intrinsic call (its text between the parentheses),
/// trimmed; commas inside quotes or nested calls do not split. `None` if unbalanced.
fn split_arguments(text: &str) -> Option<Vec<&str>> {
    let mut arguments = Vec::new();
    let (mut depth, mut quoted, mut escaped, mut start) = (0usize, false, false, 0);
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.checked_sub(1)?,
            ',' if !quoted && depth == 0 => {
                arguments.push(text[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    if quoted || depth != 0 {
        return None;
    }
    let last = text[start..].trim();
    if !last.is_empty() || !arguments.is_empty() {
        arguments.push(last);
    }
    Some(arguments)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn translated(definition: Json) -> Json {
        let machine = crate::parse(&definition.to_string()).unwrap();
        serde_json::to_value(to_jsonata(&machine).unwrap()).unwrap()
    }

    #[test]
    fn a_task_data_flow_becomes_arguments_and_one_output() {
        let out = translated(json!({"StartAt": "T", "States": {"T": {"Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f", "Payload": {"id.$": "$.job.id", "run.$": "$$.Execution.Name", "n": 1}},
            "ResultSelector": {"count.$": "$.Payload.count"},
            "ResultPath": "$.done",
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "T"}],
            "End": true}}}));
        assert_eq!(out["QueryLanguage"], "JSONata");
        let task = &out["States"]["T"];
        assert_eq!(
            task["Arguments"],
            json!({"FunctionName": "f", "Payload": {"id": "{% $states.input.job.id %}",
                "run": "{% $states.context.Execution.Name %}", "n": 1}})
        );
        assert_eq!(
            task["Output"],
            "{% $merge([$states.input, {\"done\": {\"count\": $states.result.Payload.count}}]) %}"
        );
        assert_eq!(
            task["Catch"][0]["Output"],
            "{% $merge([$states.input, {\"error\": $states.errorOutput}]) %}"
        );
        for gone in ["Parameters", "ResultSelector", "ResultPath"] {
            assert!(task.get(gone).is_none(), "{gone}");
        }
    }

    #[test]
    fn a_map_reads_its_items_and_the_item_as_jsonata() {
        let out = translated(json!({"StartAt": "M", "States": {"M": {"Type": "Map",
            "ItemsPath": "$.list", "MaxConcurrencyPath": "$.max",
            "ItemSelector": {"item.$": "$$.Map.Item.Value", "path.$": States_format()},
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "OutputPath": "$.item", "End": true}}},
            "ResultPath": null, "End": true}}}));
        let map = &out["States"]["M"];
        assert_eq!(map["Items"], "{% $states.input.list %}");
        assert_eq!(map["MaxConcurrency"], "{% $states.input.max %}");
        assert_eq!(
            map["ItemSelector"],
            json!({"item": "{% $states.context.Map.Item.Value %}",
                   "path": "{% \"runs/\" & $string($states.context.Execution.Name) & \"/x\" %}"})
        );
        assert_eq!(map["Output"], "{% $states.input %}");
        assert_eq!(
            map["ItemProcessor"]["States"]["P"]["Output"],
            "{% $states.input.item %}"
        );
    }

    #[test]
    fn a_format_of_a_hash_becomes_a_concatenation_with_hash() {
        let call = "States.Format('p\\'s/{}-{}/x', $$.Execution.Name, States.Hash($$.Execution.Id, 'SHA-256'))";
        assert_eq!(
            format_call(call, "$states.input").unwrap(),
            "\"p's/\" & $string($states.context.Execution.Name) & \"-\" & $string($hash($states.context.Execution.Id, \"SHA-256\")) & \"/x\""
        );
        assert_eq!(
            split_arguments("$.a, States.Hash($.b, 'x,y'), 'q\\'r'").unwrap(),
            ["$.a", "States.Hash($.b, 'x,y')", "'q\\'r'"]
        );
        for other in [
            "States.Format('{}', States.UUID())",
            "States.Format('{}', States.Hash($.a))",
            "States.Format('{}', States.Hash(States.UUID(), 'MD5'))",
        ] {
            assert_eq!(format_call(other, "$states.input"), None, "{other}");
        }
    }

    #[allow(non_snake_case)]
    fn States_format() -> &'static str {
        "States.Format('runs/{}/x', $$.Execution.Name)"
    }

    #[test]
    fn choice_rules_become_conditions_and_what_has_no_rendering_is_named() {
        let out = translated(json!({"StartAt": "C", "States": {"C": {"Type": "Choice",
            "Choices": [{"And": [{"Variable": "$.n", "NumericGreaterThan": 1},
                                 {"Variable": "$.s", "StringEquals": "a"}], "Next": "D"}],
            "Default": "D"}, "D": {"Type": "Succeed"}}}));
        assert_eq!(
            out["States"]["C"]["Choices"][0]["Condition"],
            "{% ($states.input.n > 1) and ($states.input.s = \"a\") %}"
        );
        let machine = crate::parse(
            &json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
                "Parameters": {"x.$": "States.UUID()"}, "End": true}}})
            .to_string(),
        )
        .unwrap();
        let err = to_jsonata(&machine).unwrap_err();
        assert_eq!(err.state, "P");
        assert!(
            err.problem
                .contains("`States.UUID()` has no JSONata rendering"),
            "{err}"
        );
    }
}
