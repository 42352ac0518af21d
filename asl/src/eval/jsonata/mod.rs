//! JSONata expressions (`{% … %}`) as AWS Step Functions evaluates them: parsing, evaluation
//! against `$states` and the workflow variables, JSON templates whose strings are expressions,
//! and the cause texts AWS writes when an expression fails.
//!
//! The language itself comes from `jsonata-rs`; this module runs it within AWS-like bounds (stack,
//! depth, time) and converts values between it and `serde_json`. What it adds lives beside it:
//! - `functions`: AWS's own functions and the standard ones `jsonata-rs` lacks or gets wrong
//!   for AWS, with the reproducible draws behind `$random`, `$uuid` and `$shuffle`;
//! - `order`: the key order of the result's objects, as AWS (JavaScript) would write them.

mod functions;
mod order;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use bumpalo::Bump;
use jsonata_rs::{ArrayFlags, Error as JError, JsonAta, Value as JValue};
use serde_json::{Map, Number, Value};

use crate::limits;
use functions::{DrawScope, REBOUND, register_functions};
use order::{ENTRY_ORDER, KeyOrder, Known};

/// A JSONata expression as written between `{%` and `%}` (trimmed), checked to parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expression(String);

impl Expression {
    /// Parses `text`, the inside of `{% %}` (surrounding whitespace is trimmed). Brackets
    /// nested past [`limits::JSONATA_MAX_NESTING`] are refused first: the parser recurses on them.
    pub fn parse(text: &str) -> Result<Self, SyntaxError> {
        let text = text.trim();
        let nesting = nesting_depth(text);
        if nesting > limits::JSONATA_MAX_NESTING {
            return Err(SyntaxError {
                expression: text.chars().take(80).collect(),
                message: format!(
                    "its brackets nest {nesting} levels deep; at most {} are read",
                    limits::JSONATA_MAX_NESTING
                ),
            });
        }
        JsonAta::new(text, &Bump::new()).map_err(|error| SyntaxError {
            expression: text.to_owned(),
            message: error.to_string(),
        })?;
        Ok(Self(text.to_owned()))
    }

    /// The expression's text, without `{% %}`.
    pub fn text(&self) -> &str {
        &self.0
    }
}

/// `Some(expr)` when `s` is a JSONata string `{% … %}`, else `None`; `Some(Err)` when it is one
/// but does not parse.
pub fn expression_in(s: &str) -> Option<Result<Expression, SyntaxError>> {
    let inside = s.strip_prefix("{%")?.strip_suffix("%}")?;
    Some(Expression::parse(inside))
}

/// An expression that does not parse: the expression and `jsonata-rs`'s message (code, position).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("The JSONata expression '{expression}' is not valid: {message}")]
pub struct SyntaxError {
    /// The expression as written (trimmed).
    pub expression: String,
    /// What is wrong, e.g. `S0207 @ 15: Unexpected end of expression`.
    pub message: String,
}

/// What an expression may read.
pub struct Bindings<'a> {
    /// `$states`: {"input": …, "context": …, and when present "result", "errorOutput"}.
    pub states: &'a Value,
    /// Workflow variables by name (without `$`).
    pub variables: &'a Map<String, Value>,
    /// Source of reproducible randomness for `$random`, `$uuid` and `$shuffle`.
    pub draw: &'a dyn Fn() -> u64,
}

/// Why an expression gave no value; the texts are AWS's causes (`States.QueryEvaluationError`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The expression evaluated to nothing.
    #[error(
        "The JSONata expression '{expression}' specified for the field '{field}' returned nothing (undefined)."
    )]
    Undefined {
        /// The expression, without its `{% %}`.
        expression: String,
        /// Where the expression is written (`Output`, `Arguments/a/0`).
        field: String,
    },
    /// The expression raised an error (`jsonata-rs`'s message, or one of the added functions').
    #[error(
        "The JSONata expression '{expression}' specified for the field '{field}' threw an error during evaluation. {message}"
    )]
    Evaluation {
        /// The expression, without its `{% %}`.
        expression: String,
        /// Where the expression is written; empty until [`QueryError::with_field`] names it.
        field: String,
        /// What went wrong, as the evaluator reports it.
        message: String,
    },
    /// The value has a type the field does not take.
    #[error(
        "The JSONata expression '{expression}' specified for the field '{field}' returned an unexpected result type. Expected '{expected}', but was '{actual}' for value: {value}"
    )]
    UnexpectedType {
        /// The expression, without its `{% %}`.
        expression: String,
        /// Where the expression is written (`Output`, `Arguments/a/0`).
        field: String,
        /// The JSON type the field takes (`array`, `string`, ...).
        expected: String,
        /// The JSON type of the value it got (see [`type_name`]).
        actual: &'static str,
        /// The value as compact JSON.
        value: String,
    },
    /// A template string `{% … %}` that does not parse (AWS rejects these when the state
    /// machine is created, so only unchecked templates meet it).
    #[error("{error} (field '{field}')")]
    Syntax {
        /// Where the expression is written (`Output`, `Arguments/a/0`).
        field: String,
        /// The expression and the parser's message.
        error: SyntaxError,
    },
}

impl QueryError {
    /// The error for `value`, of the wrong type for `field` that takes `expected` (an AWS type
    /// name, see [`type_name`]).
    pub fn unexpected_type(expression: &str, field: &str, expected: &str, value: &Value) -> Self {
        QueryError::UnexpectedType {
            expression: expression.to_owned(),
            field: field.to_owned(),
            expected: expected.to_owned(),
            actual: type_name(value),
            value: value.to_string(),
        }
    }

    /// The same error for the field `field`; [`evaluate`] leaves the field empty.
    pub fn with_field(mut self, name: &str) -> Self {
        match &mut self {
            QueryError::Undefined { field, .. }
            | QueryError::Evaluation { field, .. }
            | QueryError::UnexpectedType { field, .. }
            | QueryError::Syntax { field, .. } => *field = name.to_owned(),
        }
        self
    }
}

/// AWS's name for a JSON value's type: 'array', 'boolean', 'null', 'number', 'object', 'string'.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "array",
        Value::Bool(_) => "boolean",
        Value::Null => "null",
        Value::Number(_) => "number",
        Value::Object(_) => "object",
        Value::String(_) => "string",
    }
}

/// Evaluates `expr`: `Ok(None)` when the result is undefined (JSONata's "nothing"). Errors name
/// no field; see [`QueryError::with_field`].
///
/// `jsonata-rs` recurses on the native stack, about 20 KiB a level in a debug build, so an
/// evaluation runs on a thread of its own with [`EVALUATION_STACK_BYTES`] of stack (reserved, not
/// committed), within AWS-like bounds: [`limits::JSONATA_MAX_DEPTH`] levels and
/// [`limits::JSONATA_TIME_LIMIT_MS`]. Neither a deep recursion nor an endless loop nor a panic in
/// the library can take the runner down: each is an evaluation error.
pub fn evaluate(expr: &Expression, bindings: &Bindings) -> Result<Option<Value>, QueryError> {
    let text = expr.text();
    let fail = |message: String| QueryError::Evaluation {
        expression: text.to_owned(),
        field: String::new(),
        message,
    };
    let draws = (text.contains("$random") || text.contains("$uuid") || text.contains("$shuffle"))
        .then(|| (bindings.draw)());
    let (states, variables) = (bindings.states, bindings.variables);
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("jsonata".into())
            .stack_size(EVALUATION_STACK_BYTES)
            .spawn_scoped(scope, || evaluate_here(text, states, variables, draws))
            .map_err(|error| fail(format!("cannot start the evaluation: {error}")))?
            .join()
            .unwrap_or_else(|_| Err("the JSONata evaluator failed on this expression".into()))
            .map_err(fail)
    })
}

/// The stack of an evaluation's thread: enough for [`limits::JSONATA_MAX_DEPTH`] levels in a
/// debug build, three times over.
const EVALUATION_STACK_BYTES: usize = 64 << 20;

/// How deep `text`'s brackets nest.
fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for c in text.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// [`evaluate`] on the current thread: the value, or the error message.
fn evaluate_here(
    text: &str,
    states: &Value,
    variables: &Map<String, Value>,
    draws: Option<u64>,
) -> Result<Option<Value>, String> {
    let rebinds: String = REBOUND
        .iter()
        .filter(|(name, _)| text.contains(name))
        .map(|(name, ours)| format!("{name}:={ours};"))
        .collect();
    let (source, offset) = if rebinds.is_empty() {
        (text.to_owned(), 0)
    } else {
        (format!("({rebinds}{text}\n)"), rebinds.len() + 1)
    };
    let arena = Bump::new();
    let jsonata = JsonAta::new(&source, &arena).map_err(|error| error.to_string())?;
    register_functions(&jsonata, &arena);

    // Only what the expression names is converted for it: inputs and variables can be large.
    let mut vars: HashMap<&str, &Value> = variables
        .iter()
        .filter(|(name, _)| text.contains(&format!("${name}")))
        .map(|(name, value)| (name.as_str(), value))
        .collect();
    if text.contains("$states") {
        vars.insert("states", states);
    }
    let mut names: Vec<&&str> = vars.keys().collect();
    names.sort();
    let inputs: Vec<&Value> = names.into_iter().map(|name| vars[*name]).collect();
    for (name, value) in &vars {
        jsonata.assign_var(name, from_json(&arena, value));
    }

    let _draws = draws.map(DrawScope::enter);
    let run = || {
        jsonata.evaluate_timeboxed(
            None,
            Some(limits::JSONATA_MAX_DEPTH),
            Some(limits::JSONATA_TIME_LIMIT_MS),
        )
    };
    let mut order = KeyOrder::new(text);
    // `$spread` and `$sift` list an object's members, in the order of the result's objects.
    let (result, mut order) = if text.contains("$spread") || text.contains("$sift") {
        order.known = Some(Known::of(&inputs));
        ENTRY_ORDER.set(Some(order));
        let result = run();
        (result, ENTRY_ORDER.take().expect("set for this evaluation"))
    } else {
        (run(), order)
    };
    let result = result.map_err(|error| shifted(&error.to_string(), offset))?;
    let Some(value) = to_json(result)? else {
        return Ok(None);
    };
    Ok(Some(order.apply(value, &inputs)))
}

/// Evaluates a JSON template: every string that is `{% expr %}` is replaced by its value,
/// through objects and arrays (keys are kept as written); `field` names the template in errors,
/// extended with `/key` or `/index` for nested positions.
pub fn evaluate_template(
    template: &Value,
    field: &str,
    bindings: &Bindings,
) -> Result<Value, QueryError> {
    match template {
        Value::String(text) => match expression_in(text) {
            None => Ok(template.clone()),
            Some(Err(error)) => Err(QueryError::Syntax {
                field: field.to_owned(),
                error,
            }),
            Some(Ok(expr)) => evaluate(&expr, bindings)
                .map_err(|error| error.with_field(field))?
                .ok_or_else(|| QueryError::Undefined {
                    expression: expr.text().to_owned(),
                    field: field.to_owned(),
                }),
        },
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| evaluate_template(item, &format!("{field}/{index}"), bindings))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        Value::Object(members) => members
            .iter()
            .map(|(key, value)| {
                evaluate_template(value, &format!("{field}/{key}"), bindings)
                    .map(|value| (key.clone(), value))
            })
            .collect::<Result<_, _>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

/// `message` (`CODE @ position: …`) with the position moved back by `offset`, the length of
/// the [`REBOUND`] prefix the user did not write.
fn shifted(message: &str, offset: usize) -> String {
    let Some((code, rest)) = message.split_once(" @ ") else {
        return message.to_owned();
    };
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    match rest[..digits].parse::<usize>() {
        Ok(position) if offset > 0 && position >= offset => {
            format!("{code} @ {}{}", position - offset, &rest[digits..])
        }
        _ => message.to_owned(),
    }
}

// ---- conversions between serde_json and jsonata-rs values ----

/// A JSONata value as JSON; `None` for undefined (and functions, which JSON cannot hold).
/// Integral numbers become integers; a non-finite number is an error, as in JavaScript JSONata.
fn to_json<'a>(value: &'a JValue<'a>) -> Result<Option<Value>, String> {
    Ok(Some(match value {
        JValue::Null => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number(*n)?,
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(..) | JValue::Range(..) => {
            let mut items = Vec::with_capacity(value.len());
            for member in value.members() {
                items.extend(to_json(member)?);
            }
            Value::Array(items)
        }
        JValue::Object(..) => {
            let mut members = Map::new();
            for (key, member) in value.entries() {
                if let Some(member) = to_json(member)? {
                    members.insert(key.to_string(), member);
                }
            }
            Value::Object(members)
        }
        _ => return Ok(None),
    }))
}

/// A number as JSON: an integer when it is one (JavaScript writes `3`, not `3.0`).
fn number(n: f64) -> Result<Value, String> {
    if !n.is_finite() {
        return Err(JError::D1001NumberOfOutRange(n).to_string());
    }
    if n.fract() == 0.0 && n.abs() < 9.0e18 {
        return Ok(Value::from(n as i64));
    }
    Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
}

/// A JSON value as a JSONata value in `arena`.
fn from_json<'a>(arena: &'a Bump, value: &Value) -> &'a JValue<'a> {
    match value {
        Value::Null => JValue::null(arena),
        Value::Bool(b) => JValue::bool(*b),
        Value::Number(n) => JValue::number(arena, n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => JValue::string(arena, s),
        Value::Array(items) => {
            let array = JValue::array_with_capacity(arena, items.len(), ArrayFlags::empty());
            for item in items {
                array.push(from_json(arena, item));
            }
            array
        }
        Value::Object(members) => {
            let object = JValue::object_with_capacity(arena, members.len());
            for (key, member) in members {
                object.insert(key, from_json(arena, member));
            }
            object
        }
    }
}
