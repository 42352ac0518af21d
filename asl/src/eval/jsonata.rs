//! JSONata expressions (`{% … %}`) as AWS Step Functions evaluates them: parsing, evaluation
//! against `$states` and the workflow variables, JSON templates whose strings are expressions,
//! and the cause texts AWS writes when an expression fails.
//!
//! The language itself comes from `jsonata-rs`; this module adds what that crate lacks and AWS
//! has: AWS's own functions (`$partition`, `$range`, `$hash`, `$random`, `$uuid`, `$parse`, the
//! first three sharing their code with the intrinsics `States.ArrayPartition`,
//! `States.ArrayRange` and `States.Hash`) and the standard functions `$average`, `$type`,
//! `$spread`, `$shuffle` and `$sift`.
//!
//! Randomness (`$random()`, `$uuid()`, `$shuffle`) is reproducible: an evaluation that may need
//! it takes one value from the caller's [`Bindings::draw`] and derives every draw of that
//! evaluation from it (functions are plain `fn` pointers, so the seed lives in a thread-local
//! for the duration of the call).
//!
//! Objects built by `jsonata-rs` are hash maps, so their key order is lost; AWS (JavaScript)
//! keeps insertion order. The result's objects are re-ordered deterministically to the most
//! likely AWS order: keys written in the expression's object constructors in written order, an
//! object with the same keys as one of the inputs in the input's order, and integer-like keys
//! first, ascending, as JavaScript enumerates them.

use std::cell::Cell;
use std::collections::HashMap;

use bumpalo::Bump;
use jsonata_rs::{ArrayFlags, Error as JError, FunctionContext, JsonAta, Value as JValue};
use serde_json::{Map, Number, Value};

use super::intrinsic::{self, Argument};
use super::random::{pseudo_uuid, splitmix64};
use crate::limits;

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

/// Functions `jsonata-rs` gets wrong for AWS, with the hidden names of ours: the seeded
/// `$random` and `$uuid`, `$append` (never a sequence), `$match` (JavaScript's index and
/// singleton) and `$pad` (a width past the payload limit is an error, not an abort). `jsonata-rs` binds its own at every evaluation, over any registered function of
/// the same name, so an expression that uses them is evaluated inside a block that rebinds them
/// first.
const REBOUND: [(&str, &str); 5] = [
    ("$random", "$__asl_random"),
    ("$uuid", "$__asl_uuid"),
    ("$append", "$__asl_append"),
    ("$match", "$__asl_match"),
    ("$pad", "$__asl_pad"),
];

thread_local! {
    /// The key order of the evaluation running on this thread, when it lists objects' members.
    static ENTRY_ORDER: std::cell::RefCell<Option<KeyOrder>> = const { std::cell::RefCell::new(None) };
    /// The draws of the evaluation running on this thread; `None` outside one.
    static DRAWS: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Sets [`DRAWS`] for one evaluation and restores the previous state when dropped.
struct DrawScope(Option<u64>);

impl DrawScope {
    fn enter(seed: u64) -> Self {
        DrawScope(DRAWS.replace(Some(seed)))
    }
}

impl Drop for DrawScope {
    fn drop(&mut self) {
        DRAWS.set(self.0);
    }
}

/// The next random value of the running evaluation.
fn next_draw() -> u64 {
    let state = DRAWS.get().unwrap_or_default();
    DRAWS.set(Some(state.wrapping_add(1)));
    splitmix64(state)
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

// ---- key order ----

/// Where the keys of a result's objects most likely stand in AWS's (JavaScript's) output.
struct KeyOrder {
    /// Keys written as object-constructor keys (`"name": …`), by first position.
    written: HashMap<String, usize>,
    /// The inputs' key orders, indexed on first need.
    known: Option<Known>,
}

/// The key orders of the inputs' objects.
#[derive(Default)]
struct Known {
    /// An input object's keys in order, by its sorted keys.
    by_set: HashMap<Vec<String>, Vec<String>>,
    /// Each key's first position in a walk of the inputs.
    rank: HashMap<String, usize>,
}

impl KeyOrder {
    fn new(text: &str) -> Self {
        let literal = regex_lite::Regex::new(r#""((?:[^"\\]|\\.)*)"\s*:|'((?:[^'\\]|\\.)*)'\s*:"#)
            .expect("the key pattern is valid");
        let mut written = HashMap::new();
        for found in literal.captures_iter(text) {
            // `'a' := …` is not a key; `? 'a' : 'b'` is taken for one, harmlessly.
            if text[found.get(0).map_or(0, |m| m.end())..].starts_with('=') {
                continue;
            }
            if let Some(key) = found.get(1).or_else(|| found.get(2)) {
                let next = written.len();
                written.entry(key.as_str().to_owned()).or_insert(next);
            }
        }
        KeyOrder {
            written,
            known: None,
        }
    }

    /// `value` with each object's keys in order; `inputs` are what the expression read.
    fn apply(&mut self, value: Value, inputs: &[&Value]) -> Value {
        match value {
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|item| self.apply(item, inputs))
                    .collect(),
            ),
            Value::Object(mut members) => {
                let keys = self.ordered(members.keys().cloned().collect(), inputs);
                Value::Object(
                    keys.into_iter()
                        .filter_map(|key| {
                            let member = members.remove(&key)?;
                            Some((key, self.apply(member, inputs)))
                        })
                        .collect(),
                )
            }
            other => other,
        }
    }

    /// `keys`, the keys of one object, in order.
    fn ordered(&mut self, mut keys: Vec<String>, inputs: &[&Value]) -> Vec<String> {
        if keys.len() > 1 {
            if keys.iter().all(|key| self.written.contains_key(key)) {
                keys.sort_by_key(|key| self.written[key]);
            } else {
                let known = self.known.get_or_insert_with(|| Known::of(inputs));
                let mut set = keys.clone();
                set.sort();
                if let Some(order) = known.by_set.get(&set) {
                    keys = order.clone();
                } else {
                    let written = &self.written;
                    keys.sort_by_cached_key(|key| match known.rank.get(key) {
                        Some(rank) => (0, *rank, String::new()),
                        None => (
                            1,
                            written.get(key).copied().unwrap_or(usize::MAX),
                            key.clone(),
                        ),
                    });
                }
            }
        }
        // JavaScript enumerates integer-like keys first, ascending.
        keys.sort_by_key(|key| match array_index(key) {
            Some(index) => (0, index),
            None => (1, 0),
        });
        keys
    }
}

impl Known {
    fn of(inputs: &[&Value]) -> Self {
        let mut known = Known::default();
        inputs.iter().for_each(|input| known.index(input));
        known
    }

    fn index(&mut self, value: &Value) {
        match value {
            Value::Array(items) => items.iter().for_each(|item| self.index(item)),
            Value::Object(members) => {
                let keys: Vec<String> = members.keys().cloned().collect();
                for key in &keys {
                    let next = self.rank.len();
                    self.rank.entry(key.clone()).or_insert(next);
                }
                let mut set = keys.clone();
                set.sort();
                self.by_set.entry(set).or_insert(keys);
                members.values().for_each(|member| self.index(member));
            }
            _ => {}
        }
    }
}

/// `key` as a JavaScript array index (`"0"`, `"12"`, not `"012"`), which objects list first.
fn array_index(key: &str) -> Option<u32> {
    let index: u32 = key.parse().ok()?;
    (index.to_string() == key && index < u32::MAX).then_some(index)
}

// ---- the added functions ----

type JResult<'a> = jsonata_rs::Result<&'a JValue<'a>>;

fn register_functions<'a>(jsonata: &JsonAta<'a>, arena: &'a Bump) {
    jsonata.register_function("average", 1, fn_average);
    jsonata.register_function("type", 1, fn_type);
    jsonata.register_function("spread", 1, fn_spread);
    jsonata.register_function("shuffle", 1, fn_shuffle);
    jsonata.register_function("sift", 2, fn_sift);
    jsonata.register_function("partition", 2, fn_partition);
    jsonata.register_function("range", 3, fn_range);
    jsonata.register_function("hash", 2, fn_hash);
    jsonata.register_function("parse", 1, fn_parse);

    jsonata.assign_var(
        "__asl_random",
        JValue::nativefn(arena, "random", 1, fn_random),
    );
    jsonata.assign_var("__asl_uuid", JValue::nativefn(arena, "uuid", 0, fn_uuid));
    jsonata.assign_var(
        "__asl_append",
        JValue::nativefn(arena, "append", 2, fn_append),
    );
    jsonata.assign_var("__asl_match", JValue::nativefn(arena, "match", 3, fn_match));
    jsonata.assign_var("__asl_pad", JValue::nativefn(arena, "pad", 3, fn_pad));
}

/// The members of `object` in the running evaluation's key order.
fn entries_in_order<'a>(object: &'a JValue<'a>) -> Vec<(String, &'a JValue<'a>)> {
    let keys: Vec<String> = object.entries().map(|(key, _)| key.to_string()).collect();
    let keys = ENTRY_ORDER.with_borrow_mut(|order| match order {
        Some(order) => order.ordered(keys.clone(), &[]),
        None => keys.clone(),
    });
    keys.into_iter()
        .map(|key| {
            let member = object.get_entry(&key);
            (key, member)
        })
        .collect()
}

fn arg<'a>(args: &[&'a JValue<'a>], index: usize) -> &'a JValue<'a> {
    args.get(index).copied().unwrap_or_else(JValue::undefined)
}

/// JSONata's "argument does not match the function signature" (`index` counts from 1).
fn bad_arg<'a>(ctx: &FunctionContext<'a, '_>, index: usize) -> JResult<'a> {
    Err(JError::T0410ArgumentNotValid(
        ctx.char_index,
        index,
        ctx.name.to_owned(),
    ))
}

/// `$average(array)`: the mean of the numbers; undefined for nothing or an empty array.
fn fn_average<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let values = arg(args, 0);
    if values.is_undefined() {
        return Ok(JValue::undefined());
    }
    let values = JValue::wrap_in_array_if_needed(ctx.arena, values, ArrayFlags::empty());
    let mut sum = 0.0;
    for member in values.members() {
        if !member.is_number() {
            return Err(JError::T0412ArgumentMustBeArrayOfType(
                ctx.char_index,
                1,
                ctx.name.to_owned(),
                "number".to_owned(),
            ));
        }
        sum += member.as_f64();
    }
    if values.is_empty() {
        return Ok(JValue::undefined());
    }
    Ok(JValue::number(ctx.arena, sum / values.len() as f64))
}

/// `$type(value)`: the JSONata type name; undefined for nothing.
fn fn_type<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let value = arg(args, 0);
    let name = match value {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::Null => "null",
        JValue::Number(_) => "number",
        JValue::String(_) => "string",
        JValue::Bool(_) => "boolean",
        JValue::Array(..) | JValue::Range(..) => "array",
        JValue::Object(..) => "object",
        _ => "function",
    };
    Ok(JValue::string(ctx.arena, name))
}

/// `$spread(value)`: an object split into single-member objects, through arrays.
fn fn_spread<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    fn spread<'a>(arena: &'a Bump, value: &'a JValue<'a>, out: &mut Vec<&'a JValue<'a>>) {
        match value {
            JValue::Array(..) | JValue::Range(..) => value
                .members()
                .for_each(|member| spread(arena, member, out)),
            JValue::Object(..) => {
                for (key, member) in entries_in_order(value) {
                    let single = JValue::object_with_capacity(arena, 1);
                    single.insert(&key, member);
                    out.push(single);
                }
            }
            JValue::Undefined => {}
            other => out.push(other),
        }
    }
    let value = arg(args, 0);
    if !(value.is_array() || value.is_object()) {
        return Ok(value);
    }
    let mut parts = Vec::new();
    spread(ctx.arena, value, &mut parts);
    let result = JValue::array_with_capacity(ctx.arena, parts.len(), ArrayFlags::SEQUENCE);
    parts.into_iter().for_each(|part| result.push(part));
    Ok(result)
}

/// `$shuffle(array)`: the items in an order drawn from the evaluation's seed.
fn fn_shuffle<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let values = arg(args, 0);
    if values.is_undefined() {
        return Ok(values);
    }
    let values = JValue::wrap_in_array_if_needed(ctx.arena, values, ArrayFlags::empty());
    let mut items: Vec<&'a JValue<'a>> = values.members().collect();
    // Fisher-Yates.
    for last in (1..items.len()).rev() {
        let pick = (next_draw() % (last as u64 + 1)) as usize;
        items.swap(last, pick);
    }
    let result = JValue::array_with_capacity(ctx.arena, items.len(), ArrayFlags::empty());
    items.into_iter().for_each(|item| result.push(item));
    Ok(result)
}

/// `$sift(object, function)`: the members for which `function(value, key, object)` is truthy;
/// undefined when none is.
fn fn_sift<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let (object, function) = (arg(args, 0), arg(args, 1));
    if object.is_undefined() {
        return Ok(object);
    }
    if !object.is_object() {
        return bad_arg(&ctx, 1);
    }
    if !function.is_function() {
        return bad_arg(&ctx, 2);
    }
    let arity = function.arity();
    let result = JValue::object(ctx.arena);
    let mut kept = 0;
    for (key, member) in entries_in_order(object) {
        let key_value: &'a JValue<'a> = JValue::string(ctx.arena, &key);
        let call_args: Vec<&'a JValue<'a>> = [member, key_value, object]
            .into_iter()
            .take(arity.max(1))
            .collect();
        let keep = ctx.trampoline_evaluate_value(ctx.evaluate_function(function, &call_args)?)?;
        if keep.is_truthy() {
            result.insert(&key, member);
            kept += 1;
        }
    }
    if kept == 0 {
        return Ok(JValue::undefined());
    }
    Ok(result)
}

/// `$append(a, b)`: one array of both (a value that is not an array counts as one item). Like
/// JavaScript's `concat`, the result is a plain array, never a sequence: `$append(1, [])` is `[1]`.
fn fn_append<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let (first, second) = (arg(args, 0), arg(args, 1));
    if first.is_undefined() {
        return Ok(second);
    }
    if second.is_undefined() {
        return Ok(first);
    }
    let result = JValue::array(ctx.arena, ArrayFlags::empty());
    for part in [first, second] {
        if part.is_array() {
            part.members().for_each(|member| result.push(member));
        } else {
            result.push(part);
        }
    }
    Ok(result)
}

/// `$match(text, pattern[, limit])`: a sequence of `{"match", "index", "groups"}`, one per match;
/// `index` is where the match starts in UTF-16 code units, as in JavaScript.
fn fn_match<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let (text, pattern, limit) = (arg(args, 0), arg(args, 1), arg(args, 2));
    if text.is_undefined() {
        return Ok(text);
    }
    if !text.is_string() {
        return bad_arg(&ctx, 1);
    }
    let JValue::Regex(pattern) = pattern else {
        return bad_arg(&ctx, 2);
    };
    let limit = if limit.is_undefined() {
        usize::MAX
    } else if limit.is_number() {
        limit.as_f64().max(0.0) as usize
    } else {
        return bad_arg(&ctx, 3);
    };
    let text = text.as_str();
    let result = JValue::array(ctx.arena, ArrayFlags::SEQUENCE);
    for found in pattern.get_regex().find_iter(&text).take(limit) {
        let groups = JValue::array(ctx.arena, ArrayFlags::empty());
        for group in found.groups().skip(1) {
            let captured = group.map_or("", |range| &text[range]);
            groups.push(JValue::string(ctx.arena, captured));
        }
        let index = text[..found.start()].encode_utf16().count();
        let object = JValue::object(ctx.arena);
        object.insert("match", JValue::string(ctx.arena, &text[found.range()]));
        object.insert("index", JValue::number(ctx.arena, index as f64));
        object.insert("groups", groups);
        result.push(object);
    }
    Ok(result)
}

/// `$pad(text, width[, chars])`: `text` padded with `chars` (a space by default) to `|width|`
/// characters, on the right for a positive width, on the left for a negative one. A width whose
/// result could not fit in a state's payload is an error rather than an allocation.
fn fn_pad<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let (text, width, chars) = (arg(args, 0), arg(args, 1), arg(args, 2));
    if text.is_undefined() {
        return Ok(text);
    }
    if !text.is_string() {
        return bad_arg(&ctx, 1);
    }
    if !width.is_number() {
        return bad_arg(&ctx, 2);
    }
    let width = width.as_f64().trunc();
    if width.abs() > limits::PAYLOAD_BYTES as f64 {
        return Err(JError::D3137Error(format!(
            "$pad: a width of {width} characters cannot fit in a {}-byte state payload",
            limits::PAYLOAD_BYTES
        )));
    }
    let chars = if chars.is_undefined() {
        " ".to_owned()
    } else if chars.is_string() {
        chars.as_str().into_owned()
    } else {
        return bad_arg(&ctx, 3);
    };
    let chars = if chars.is_empty() {
        " ".to_owned()
    } else {
        chars
    };
    let text = text.as_str();
    let missing = (width.abs() as usize).saturating_sub(text.chars().count());
    let padding: String = chars.chars().cycle().take(missing).collect();
    let padded = if width > 0.0 {
        format!("{text}{padding}")
    } else {
        format!("{padding}{text}")
    };
    Ok(JValue::string(ctx.arena, &padded))
}

/// Calls the intrinsic `name` (which AWS's JSONata function `ctx.name` mirrors) on the
/// arguments as JSON; undefined when the first argument is.
fn via_intrinsic<'a>(
    ctx: &FunctionContext<'a, '_>,
    name: &str,
    args: &[&'a JValue<'a>],
) -> JResult<'a> {
    if arg(args, 0).is_undefined() {
        return Ok(JValue::undefined());
    }
    let mut arguments = Vec::with_capacity(args.len());
    for (index, value) in args.iter().enumerate() {
        match to_json(value) {
            Ok(Some(value)) => arguments.push(Argument {
                value,
                written: None,
            }),
            _ => return bad_arg(ctx, index + 1),
        }
    }
    // These intrinsics draw nothing.
    match intrinsic::call(name, &arguments, &|| 0) {
        Ok(value) => Ok(from_json(ctx.arena, &value)),
        Err(error) => Err(JError::D3137Error(
            error.to_string().replace(name, &format!("${}", ctx.name)),
        )),
    }
}

/// `$partition(array, size)`: the array in chunks of `size` (the last may be shorter).
fn fn_partition<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    via_intrinsic(&ctx, "States.ArrayPartition", args)
}

/// `$range(start, end, step)`: `start`, `start + step`, … up to `end` inclusive.
fn fn_range<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    via_intrinsic(&ctx, "States.ArrayRange", args)
}

/// `$hash(data, algorithm)`: the lowercase hex digest (MD5, SHA-1, SHA-256, SHA-384, SHA-512).
fn fn_hash<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    via_intrinsic(&ctx, "States.Hash", args)
}

/// `$parse(text)`: the JSON value `text` holds.
fn fn_parse<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let text = arg(args, 0);
    if text.is_undefined() {
        return Ok(text);
    }
    if !text.is_string() {
        return bad_arg(&ctx, 1);
    }
    match serde_json::from_str::<Value>(&text.as_str()) {
        Ok(value) => Ok(from_json(ctx.arena, &value)),
        Err(error) => Err(JError::D3137Error(format!(
            "$parse: the argument is not JSON text ({error})"
        ))),
    }
}

/// `$random()` in [0, 1) from the evaluation's draws; `$random(seed)` the same for the same seed.
fn fn_random<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let bits = match arg(args, 0) {
        JValue::Undefined => next_draw(),
        JValue::Number(seed) if seed.fract() == 0.0 => splitmix64(*seed as i64 as u64),
        JValue::Number(seed) => splitmix64(seed.to_bits()),
        _ => return bad_arg(&ctx, 1),
    };
    // The top 53 bits, as a fraction: every value in [0, 1) a double can hold evenly spaced.
    Ok(JValue::number(
        ctx.arena,
        (bits >> 11) as f64 / (1u64 << 53) as f64,
    ))
}

/// `$uuid()`: a version-4-shaped UUID from the evaluation's draws.
fn fn_uuid<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    if !args.is_empty() {
        return bad_arg(&ctx, 1);
    }
    Ok(JValue::string(ctx.arena, &pseudo_uuid(next_draw())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Evaluates `text` on `states` and `variables`, with draws counting up from `seed`.
    fn run_seeded(text: &str, states: Value, variables: Value, seed: u64) -> Option<Value> {
        let expr = Expression::parse(text).expect("the expression parses");
        let variables = variables.as_object().cloned().unwrap_or_default();
        let draws = Cell::new(seed);
        let draw = || {
            draws.set(draws.get() + 1);
            splitmix64(draws.get())
        };
        let bindings = Bindings {
            states: &states,
            variables: &variables,
            draw: &draw,
        };
        evaluate(&expr, &bindings).expect("the expression evaluates")
    }

    fn run(text: &str) -> Value {
        run_seeded(text, json!({}), json!({}), 0).expect("a value")
    }

    fn error(text: &str) -> QueryError {
        let expr = Expression::parse(text).expect("the expression parses");
        let (states, variables) = (json!({}), Map::new());
        let bindings = Bindings {
            states: &states,
            variables: &variables,
            draw: &|| 7,
        };
        evaluate(&expr, &bindings).expect_err("the evaluation fails")
    }

    #[test]
    fn partition_chunks_an_array() {
        assert_eq!(run("$partition([0,1,2], 2)"), json!([[0, 1], [2]]));
        assert_eq!(run("$partition([0], 5)"), json!([[0]]));
        assert_eq!(
            run("$partition([1,2,3,4,5,6,7,8,9], 3)"),
            json!([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
        );
        assert!(
            matches!(error("$partition([1], 0)"), QueryError::Evaluation { message, .. } if message.contains("$partition"))
        );
    }

    #[test]
    fn range_includes_its_end() {
        assert_eq!(run("$range(0, 10, 2)"), json!([0, 2, 4, 6, 8, 10]));
        assert_eq!(run("$range(3, 1, -1)"), json!([3, 2, 1]));
        assert!(matches!(
            error("$range(0, 1, 0)"),
            QueryError::Evaluation { .. }
        ));
    }

    #[test]
    fn hash_gives_known_digests() {
        assert_eq!(
            run("$hash('input data', 'SHA-256')"),
            json!("b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3")
        );
        assert_eq!(
            run("$hash('input data', 'MD5')"),
            json!("812f45842bc6d66ee14572ce20db8e86")
        );
        assert_eq!(run("$length($hash('x', 'SHA-512'))"), json!(128));
        let QueryError::Evaluation { message, .. } = error("$hash('x', 'SHA-3')") else {
            panic!("not an evaluation error");
        };
        assert!(
            message.contains("$hash") && message.contains("SHA-3"),
            "{message}"
        );
    }

    #[test]
    fn random_is_in_range_and_reproducible() {
        let draw = |seed| run_seeded("$random()", json!({}), json!({}), seed).unwrap();
        for seed in 0..50 {
            let n = draw(seed).as_f64().unwrap();
            assert!((0.0..1.0).contains(&n), "{n}");
            assert_eq!(draw(seed), json!(n));
        }
        assert_ne!(draw(1), draw(2));
        // Two draws in one evaluation differ.
        assert_eq!(run("$random() = $random()"), json!(false));
        // A seed argument decides the value, whatever the draws.
        let seeded = |seed| run_seeded("$random(42)", json!({}), json!({}), seed).unwrap();
        assert_eq!(seeded(1), seeded(2));
        assert!((0.0..1.0).contains(&seeded(1).as_f64().unwrap()));
        assert_ne!(run("$random(1)"), run("$random(2)"));
    }

    #[test]
    fn uuid_is_v4_shaped_and_reproducible() {
        let shape = regex_lite::Regex::new(
            "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
        )
        .unwrap();
        let uuid = run("$uuid()");
        assert!(shape.is_match(uuid.as_str().unwrap()), "{uuid}");
        assert_eq!(run("$uuid()"), uuid);
        assert_eq!(run("$uuid() = $uuid()"), json!(false));
    }

    #[test]
    fn parse_reads_json_text() {
        assert_eq!(
            run(r#"$parse('{"a": [1, 2.5, "x", null, true]}')"#),
            json!({"a": [1, 2.5, "x", null, true]})
        );
        assert_eq!(
            run_seeded(
                "$parse($states.input.text).b",
                json!({"input": {"text": "{\"b\": 3}"}}),
                json!({}),
                0
            ),
            Some(json!(3))
        );
        assert!(matches!(
            error("$parse('{')"),
            QueryError::Evaluation { .. }
        ));
    }

    #[test]
    fn added_standard_functions() {
        assert_eq!(run("$average([1, 2, 3, 4])"), json!(2.5));
        assert_eq!(run("$average(4)"), json!(4));
        assert_eq!(run_seeded("$average([])", json!({}), json!({}), 0), None);
        assert!(matches!(
            error("$average(['a'])"),
            QueryError::Evaluation { .. }
        ));

        assert_eq!(
            run(
                "[$type(1), $type('a'), $type(true), $type(null), $type([]), $type({}), $type($sum)]"
            ),
            json!([
                "number", "string", "boolean", "null", "array", "object", "function"
            ])
        );
        assert_eq!(run_seeded("$type($nothing)", json!({}), json!({}), 0), None);

        assert_eq!(
            run(r#"$spread({"a": 1, "b": 2})"#),
            json!([{"a": 1}, {"b": 2}])
        );
        assert_eq!(
            run(r#"$spread([{"a": 1}, {"b": 2}])"#),
            json!([{"a": 1}, {"b": 2}])
        );
        assert_eq!(run("$spread(5)"), json!(5));

        assert_eq!(
            run(r#"$sift({"a": 1, "b": 2, "c": 3}, function($v) { $v > 1 })"#),
            json!({"b": 2, "c": 3})
        );
        assert_eq!(
            run(r#"$sift({"ab": 1, "b": 2}, function($v, $k) { $contains($k, 'a') })"#),
            json!({"ab": 1})
        );

        let shuffled = |seed| run_seeded("$shuffle([1..20])", json!({}), json!({}), seed).unwrap();
        let mut items: Vec<i64> = shuffled(3)
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(shuffled(3), shuffled(3));
        assert_ne!(shuffled(3), shuffled(4));
        items.sort();
        assert_eq!(items, (1..=20).collect::<Vec<_>>());
    }

    #[test]
    fn reads_states_and_variables() {
        let states = json!({"input": {"x": "hello", "input_values": [1, 2, 3]}, "context": {}});
        let vars = json!({"var_constant_1": 5, "status": "done"});
        let read = |text| run_seeded(text, states.clone(), vars.clone(), 0);
        assert_eq!(read("$states.input.x"), Some(json!("hello")));
        assert_eq!(
            read("$sum($states.input.input_values) + $var_constant_1"),
            Some(json!(11))
        );
        assert_eq!(
            read("$exists($status) ? 'completed' : 'running'"),
            Some(json!("completed"))
        );
        assert_eq!(
            read("$exists($other) ? 'completed' : 'running'"),
            Some(json!("running"))
        );
        assert_eq!(read("$variable := 1"), Some(json!(1)));
        assert_eq!(read("$doesNotExist"), None);
        assert_eq!(read("$states.input.missing"), None);
    }

    #[test]
    fn numbers_come_back_as_json_numbers() {
        assert_eq!(run("1 + 2"), json!(3));
        assert!(run("1 + 2").is_i64());
        assert_eq!(run("7 / 2"), json!(3.5));
        assert_eq!(run("0.1 + 0.2"), json!(0.1 + 0.2));
        let QueryError::Evaluation { message, .. } = error("1e300 * 1e300") else {
            panic!("not an evaluation error");
        };
        assert!(message.contains("D1001"), "{message}");
    }

    #[test]
    fn objects_keep_the_written_and_the_input_order() {
        assert_eq!(
            run(r#"{"zeta": 1, "alpha": 2, "mid": {"y": 1, "b": 2}}"#).to_string(),
            r#"{"zeta":1,"alpha":2,"mid":{"y":1,"b":2}}"#
        );
        let input = json!({"input": {"k": 1, "c": 2, "x": {"q": 1, "a": 2}}});
        assert_eq!(
            run_seeded("$states.input", input.clone(), json!({}), 0)
                .unwrap()
                .to_string(),
            r#"{"k":1,"c":2,"x":{"q":1,"a":2}}"#
        );
        assert_eq!(
            run_seeded(
                r#"$merge([$states.input, {"added": 3}])"#,
                input,
                json!({}),
                0
            )
            .unwrap()
            .to_string(),
            r#"{"k":1,"c":2,"x":{"q":1,"a":2},"added":3}"#
        );
        // JavaScript lists integer-like keys first.
        assert_eq!(
            run(r#"{"b": 1, "2": 2, "1": 3}"#).to_string(),
            r#"{"1":3,"2":2,"b":1}"#
        );
    }

    #[test]
    fn errors_point_into_the_expression_as_written() {
        // The block that reseeds `$random` must not move the reported position.
        let plain = error("$undefinedFn(1)");
        let reseeded = error("$undefinedFn($random())");
        let position = |error: &QueryError| match error {
            QueryError::Evaluation { message, .. } => message.clone(),
            other => panic!("{other}"),
        };
        assert_eq!(
            position(&plain).split(':').next(),
            position(&reseeded).split(':').next()
        );
    }

    #[test]
    fn expressions_are_found_only_between_the_markers() {
        assert_eq!(
            expression_in("{% $states.input.x %}")
                .unwrap()
                .unwrap()
                .text(),
            "$states.input.x"
        );
        assert!(expression_in("$states.input.x").is_none());
        assert!(expression_in("{% x").is_none());
        let syntax = expression_in("{% $states.input. %}").unwrap().unwrap_err();
        assert_eq!(syntax.expression, "$states.input.");
        assert!(
            syntax
                .to_string()
                .starts_with("The JSONata expression '$states.input.' is not valid: S0"),
            "{syntax}"
        );
    }

    #[test]
    fn templates_evaluate_their_expression_strings() {
        let states = json!({"input": {"x": 1}});
        let variables = Map::new();
        let bindings = Bindings {
            states: &states,
            variables: &variables,
            draw: &|| 0,
        };
        let template = json!({
            "plain": "$states.input.x",
            "value": "{% $states.input.x + 1 %}",
            "list": ["{% 'a' & 'b' %}", 2, {"deep": "{%$states.input%}"}],
            "keep": [true, null, 1.5]
        });
        assert_eq!(
            evaluate_template(&template, "Output", &bindings),
            Ok(json!({
                "plain": "$states.input.x",
                "value": 2,
                "list": ["ab", 2, {"deep": {"x": 1}}],
                "keep": [true, null, 1.5]
            }))
        );
        let undefined = evaluate_template(
            &json!({"ok": 1, "result": "{% $doesNotExist %}"}),
            "Output",
            &bindings,
        )
        .unwrap_err();
        assert_eq!(
            undefined.to_string(),
            "The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined)."
        );
        let nested =
            evaluate_template(&json!({"a": ["{% $nope %}"]}), "Arguments", &bindings).unwrap_err();
        assert_eq!(
            nested,
            QueryError::Undefined {
                expression: "$nope".into(),
                field: "Arguments/a/0".into()
            }
        );
        let failed = evaluate_template(&json!("{% $sum('a') %}"), "Output", &bindings).unwrap_err();
        assert!(
            failed.to_string().starts_with(
                "The JSONata expression '$sum('a')' specified for the field 'Output' threw an error during evaluation. T0412"
            ),
            "{failed}"
        );
    }

    #[test]
    fn unexpected_types_are_described_as_aws_does() {
        assert_eq!(
            QueryError::unexpected_type("$ItemsVar", "Items", "array", &json!(true)).to_string(),
            "The JSONata expression '$ItemsVar' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'boolean' for value: true"
        );
        assert_eq!(
            QueryError::unexpected_type("$x", "Items", "array", &json!({"foo": "bar"})).to_string(),
            r#"The JSONata expression '$x' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'object' for value: {"foo":"bar"}"#
        );
        assert_eq!(
            [json!([]), json!(1), json!("s"), json!(null)].map(|v| type_name(&v)),
            ["array", "number", "string", "null"]
        );
    }

    /// JSONata's documentation: `$append` joins two arrays (a single value counts as an array
    /// of one) into an array, which stays an array however many items it has.
    #[test]
    fn append_gives_an_array_even_of_one_item() {
        assert_eq!(run("$append([1,2,3], [4,5,6])"), json!([1, 2, 3, 4, 5, 6]));
        assert_eq!(run("$append([1,2,3], 4)"), json!([1, 2, 3, 4]));
        assert_eq!(
            run(r#"$append("Hello", "World")"#),
            json!(["Hello", "World"])
        );
        assert_eq!(run("$append(1, [])"), json!([1]));
        assert_eq!(run("{'x': $append([], [7])}.x"), json!([7]));
    }

    /// JSONata's documentation: `$match` gives one object per match, with the index where it
    /// starts; a sequence of one is that one value (JSONata's singleton sequence rule).
    #[test]
    fn match_gives_each_match_where_it_starts_and_a_single_match_alone() {
        assert_eq!(
            run(r#"$match("ababbabbcc", /a(b+)/)"#),
            json!([
                {"match": "ab", "index": 0, "groups": ["b"]},
                {"match": "abb", "index": 2, "groups": ["bb"]},
                {"match": "abb", "index": 5, "groups": ["bb"]}
            ])
        );
        assert_eq!(
            run(r#"$match("ababbabbcc", /a(b+)/, 1)"#),
            json!({"match": "ab", "index": 0, "groups": ["b"]})
        );
        assert_eq!(run(r#"$count($match("xyz", /a/))"#), json!(0));
    }

    /// A runaway recursion (a million levels deep, or never ending) fails the expression with
    /// JSONata's U1001 instead of overflowing the runner's stack or running forever.
    #[test]
    fn a_deep_or_endless_recursion_is_an_evaluation_error_not_a_crash() {
        let deep = error("($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(1000000))");
        assert!(deep.to_string().contains("U1001"), "{deep}");
        let started = std::time::Instant::now();
        let endless = error("($f := function($n){ $f($n + 1) }; $f(0))");
        assert!(endless.to_string().contains("U1001"), "{endless}");
        assert!(started.elapsed().as_millis() < 3 * crate::limits::JSONATA_TIME_LIMIT_MS as u128);
        // Recursion within the bound still works.
        assert_eq!(
            run("($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100))"),
            json!(100)
        );
    }

    /// The parser recurses on brackets: an expression nested past the bound is refused before.
    #[test]
    fn brackets_nested_past_the_bound_are_refused_before_parsing() {
        let nested = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        let refused = Expression::parse(&nested).unwrap_err();
        assert!(
            refused.message.contains("nest 100000 levels deep"),
            "{refused}"
        );
        let bound = crate::limits::JSONATA_MAX_NESTING;
        let deepest = format!("{}1{}", "[".repeat(bound), "]".repeat(bound));
        assert!(Expression::parse(&deepest).is_ok());
    }

    /// JSONata's documentation for `$pad`; a width no payload can hold is an error, not an
    /// allocation of that size.
    #[test]
    fn pad_pads_either_side_and_refuses_a_width_past_the_payload_limit() {
        assert_eq!(run(r#"$pad("foo", 5)"#), json!("foo  "));
        assert_eq!(run(r#"$pad("foo", -5)"#), json!("  foo"));
        assert_eq!(run(r##"$pad("foo", -5, "#")"##), json!("##foo"));
        assert_eq!(run(r#"$pad("foo", 1)"#), json!("foo"));
        let huge = error(r#"$pad("a", -9223372036854775808)"#);
        assert!(
            huge.to_string()
                .contains("cannot fit in a 262144-byte state payload"),
            "{huge}"
        );
    }

    /// A panic inside the JSONata library (`$round()` indexes an argument it never got) is an
    /// evaluation error, not a crash of the runner.
    #[test]
    fn a_panic_inside_the_evaluator_is_an_evaluation_error() {
        let failed = error("$round()");
        assert!(
            failed.to_string().contains("the JSONata evaluator failed"),
            "{failed}"
        );
    }
}
