//! Payload templates (Parameters, ItemSelector, ResultSelector, a Pass state's Parameters, an
//! ItemReader's and ItemBatcher's templates) expanded against a state's input and the context
//! object, and intrinsic function calls (`States.Format(...)`, see [`super::intrinsic`]) parsed
//! and evaluated. Every other value is copied, as AWS does.

use std::cell::{Cell, OnceCell};

use serde_json::{Map, Value};

use super::intrinsic::{self, Argument};
use super::random::splitmix64;
use super::{EvalError, Variables};
use crate::path::{ContextPath, JsonPath};
use crate::payload::{PayloadTemplate, PayloadValue};

static NO_VARIABLES: std::sync::LazyLock<Variables> = std::sync::LazyLock::new(Variables::new);

/// What `$` and `$$` mean while evaluating, and where random values come from. The context
/// object is built only when a `$$` path asks for it.
pub struct Sources<'a> {
    input: &'a Value,
    variables: &'a Variables,
    build_context: &'a dyn Fn() -> Value,
    context: OnceCell<Value>,
    draw: Option<&'a dyn Fn() -> u64>,
    /// Draws made without a `draw` of the caller's.
    own_draws: Cell<u64>,
}

impl<'a> Sources<'a> {
    /// `$` is `input`; the context object (`$$`) is `build_context`'s, called on first use.
    pub fn new(input: &'a Value, build_context: &'a dyn Fn() -> Value) -> Self {
        Self {
            input,
            variables: &*NO_VARIABLES,
            build_context,
            context: OnceCell::new(),
            draw: None,
            own_draws: Cell::new(0),
        }
    }

    /// Random values (`States.UUID`, `States.MathRandom`) come from `draw` (by default a fixed
    /// sequence).
    pub fn random(self, draw: &'a dyn Fn() -> u64) -> Self {
        Self {
            draw: Some(draw),
            ..self
        }
    }

    /// `$name` paths read `variables`.
    pub fn variables(self, variables: &'a Variables) -> Self {
        Self { variables, ..self }
    }

    fn draw(&self) -> u64 {
        match self.draw {
            Some(draw) => draw(),
            None => {
                self.own_draws.set(self.own_draws.get() + 1);
                splitmix64(self.own_draws.get())
            }
        }
    }

    /// The state input, what `$` paths select in.
    pub fn input(&self) -> &Value {
        self.input
    }

    /// The context object (`$$`), built on first use.
    pub fn context(&self) -> &Value {
        self.context.get_or_init(|| (self.build_context)())
    }

    /// What `path` selects in the input; `field` names it in the error when nothing is there.
    pub fn select(&self, field: &str, path: &JsonPath) -> Result<Value, EvalError> {
        path.select_in(self.input, self.variables)
            .ok_or_else(|| not_found(field, path.as_str(), self.input))
    }

    /// What `path` selects in the context object.
    pub fn select_context(&self, field: &str, path: &ContextPath) -> Result<Value, EvalError> {
        path.in_context()
            .select(self.context())
            .ok_or_else(|| not_found(field, &path.to_string(), self.context()))
    }

    /// Evaluates a path written as text (an intrinsic function's argument): `$...` against the
    /// input, `$$...` against the context object.
    fn resolve(&self, field: &str, text: &str) -> Result<Value, EvalError> {
        if text.starts_with("$$") {
            let path = ContextPath::parse(text).map_err(|e| EvalError::Runtime(e.to_string()))?;
            self.select_context(field, &path)
        } else {
            let path = JsonPath::parse(text).map_err(|e| EvalError::Runtime(e.to_string()))?;
            self.select(field, &path)
        }
    }
}

/// AWS's cause for a `.$` field whose path selects nothing in `document` (the state input, or
/// the context object for `$$`): "The JSONPath '$.JobName' specified for the field 'JobName.$'
/// could not be found in the input '{}'", the document as compact JSON.
fn not_found(field: &str, path: &str, document: &Value) -> EvalError {
    EvalError::Runtime(format!(
        "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{document}'"
    ))
}

/// Expands a payload template.
pub fn expand(template: &PayloadTemplate, sources: &Sources<'_>) -> Result<Value, EvalError> {
    let mut out = Map::new();
    for (name, value) in template.iter() {
        let field = match value {
            PayloadValue::Literal(_) | PayloadValue::Object(_) | PayloadValue::Array(_) => {
                name.to_owned()
            }
            _ => format!("{name}.$"),
        };
        out.insert(name.to_owned(), evaluate(&field, value, sources)?);
    }
    Ok(Value::Object(out))
}

/// The value of one template value (a `.$` field's, or a Fail state's ErrorPath); `field` names
/// it in errors.
pub fn evaluate(
    field: &str,
    value: &PayloadValue,
    sources: &Sources<'_>,
) -> Result<Value, EvalError> {
    match value {
        PayloadValue::Literal(json) => Ok(json.clone()),
        PayloadValue::Object(template) => expand(template, sources),
        PayloadValue::Array(items) => items
            .iter()
            .map(|item| evaluate(field, item, sources))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        PayloadValue::Path(path) => path
            .resolve(sources.input, sources.variables)
            .cloned()
            .ok_or_else(|| not_found(field, &path.to_string(), sources.input)),
        PayloadValue::Select(path) => sources.select(field, path),
        PayloadValue::Context(path) => sources.select_context(field, path),
        PayloadValue::Intrinsic(call) => intrinsic_call(field, call, sources),
    }
}

/// Parses and evaluates an intrinsic function call.
fn intrinsic_call(field: &str, text: &str, sources: &Sources<'_>) -> Result<Value, EvalError> {
    let text = text.trim();
    let mut parser = IntrinsicParser {
        text,
        at: 0,
        depth: 0,
    };
    let call = parser.call()?;
    if parser.at != text.len() {
        return Err(EvalError::Runtime(format!(
            "the field `{field}` has text after its intrinsic function call"
        )));
    }
    call.evaluate(field, sources)
}

/// Whether an intrinsic function call reads as one (without evaluating it).
pub fn check_intrinsic(text: &str) -> Result<(), EvalError> {
    let text = text.trim();
    let mut parser = IntrinsicParser {
        text,
        at: 0,
        depth: 0,
    };
    parser.call()?;
    if parser.at == text.len() {
        Ok(())
    } else {
        Err(parser.fail("unexpected text after the call"))
    }
}

/// One parsed argument of an intrinsic function.
enum Arg {
    Literal(Value),
    /// A quoted string: its value and its text as written, escapes kept.
    Text {
        value: String,
        written: String,
    },
    Path(String),
    Call(Call),
}

struct Call {
    name: String,
    args: Vec<Arg>,
}

/// The deepest intrinsic function calls may nest (`States.Array(States.Array(...))`): parsing
/// and evaluating recurse once per level, so 100,000 levels would overflow the stack; no real
/// call comes near this bound.
pub const MAX_INTRINSIC_NESTING: usize = 100;

struct IntrinsicParser<'t> {
    text: &'t str,
    at: usize,
    /// Calls around the parser's position.
    depth: usize,
}

impl IntrinsicParser<'_> {
    fn fail(&self, what: &str) -> EvalError {
        EvalError::Runtime(format!(
            "invalid intrinsic function `{}`: {what} at character {}",
            self.text, self.at
        ))
    }

    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn skip_spaces(&mut self) {
        while self.rest().starts_with(' ') {
            self.at += 1;
        }
    }

    fn call(&mut self) -> Result<Call, EvalError> {
        let name_len = self
            .rest()
            .find('(')
            .ok_or_else(|| self.fail("expected `(`"))?;
        let name = self.rest()[..name_len].trim().to_owned();
        self.at += name_len + 1;
        let mut args = Vec::new();
        self.skip_spaces();
        if self.rest().starts_with(')') {
            self.at += 1;
            return Ok(Call { name, args });
        }
        loop {
            self.skip_spaces();
            args.push(self.arg()?);
            self.skip_spaces();
            match self.rest().chars().next() {
                Some(',') => self.at += 1,
                Some(')') => {
                    self.at += 1;
                    return Ok(Call { name, args });
                }
                _ => return Err(self.fail("expected `,` or `)`")),
            }
        }
    }

    fn arg(&mut self) -> Result<Arg, EvalError> {
        let rest = self.rest();
        if let Some(quoted) = rest.strip_prefix('\'') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, escaped)| escaped)),
                    '\'' => {
                        let written = quoted[..i].to_owned();
                        self.at += i + 2;
                        return Ok(Arg::Text { value, written });
                    }
                    c => value.push(c),
                }
            }
            Err(self.fail("unterminated string"))
        } else if rest.starts_with("States.") {
            if self.depth >= MAX_INTRINSIC_NESTING {
                return Err(self.fail(&format!(
                    "calls nest more than {MAX_INTRINSIC_NESTING} levels deep; simplify the expression"
                )));
            }
            self.depth += 1;
            let call = self.call()?;
            self.depth -= 1;
            Ok(Arg::Call(call))
        } else {
            let end = argument_end(rest);
            let token = rest[..end].trim().to_owned();
            self.at += end;
            if token.starts_with('$') {
                Ok(Arg::Path(token))
            } else {
                serde_json::from_str::<Value>(&token)
                    .ok()
                    .filter(|v| !v.is_object() && !v.is_array())
                    .map(Arg::Literal)
                    .ok_or_else(|| self.fail(&format!("`{token}` is not a literal")))
            }
        }
    }
}

/// Where the argument that starts `text` ends: at the first `,` or `)` outside brackets,
/// parentheses and quotes (a path's filter `[?(@.a > 1)]` holds both).
fn argument_end(text: &str) -> usize {
    let mut depth = 0usize;
    let mut quote = None;
    for (at, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '(') => depth += 1,
            (None, ']') => depth = depth.saturating_sub(1),
            (None, ')') if depth > 0 => depth -= 1,
            (None, ',' | ')') if depth == 0 => return at,
            _ => {}
        }
    }
    text.len()
}

impl Call {
    fn evaluate(&self, field: &str, sources: &Sources<'_>) -> Result<Value, EvalError> {
        let args = self
            .args
            .iter()
            .map(|arg| {
                Ok(match arg {
                    Arg::Literal(value) => Argument {
                        value: value.clone(),
                        written: None,
                    },
                    Arg::Text { value, written } => Argument {
                        value: Value::String(value.clone()),
                        written: Some(written.clone()),
                    },
                    Arg::Path(path) => Argument {
                        value: sources.resolve(field, path)?,
                        written: None,
                    },
                    Arg::Call(call) => Argument {
                        value: call.evaluate(field, sources)?,
                        written: None,
                    },
                })
            })
            .collect::<Result<Vec<_>, EvalError>>()?;
        intrinsic::call(&self.name, &args, &|| sources.draw())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(template: Value, input: Value) -> Result<Value, EvalError> {
        let context =
            || json!({"Execution": {"Name": "exec-1"}, "Map": {"Item": {"Value": 7, "Index": 2}}});
        let template: PayloadTemplate = serde_json::from_value(template).unwrap();
        expand(&template, &Sources::new(&input, &context))
    }

    #[test]
    fn dollar_fields_take_paths_into_the_input_and_the_context() {
        let out = run(
            json!({"a.$": "$.x", "n": {"item.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"}, "k": [{"e.$": "$$.Execution.Name"}], "lit": 1}),
            json!({"x": [1, 2]}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"a": [1, 2], "n": {"item": 7, "i": 2}, "k": [{"e": "exec-1"}], "lit": 1})
        );
    }

    #[test]
    fn the_whole_input_is_dollar_not_the_map_item() {
        // The design note's `{"chunk_id.$": "$"}`: the whole state input, whatever the item is.
        let out = run(json!({"chunk_id.$": "$"}), json!({"chunk_ids": [0, 1]})).unwrap();
        assert_eq!(out, json!({"chunk_id": {"chunk_ids": [0, 1]}}));
    }

    #[test]
    fn a_missing_path_is_a_runtime_error_naming_the_field() {
        let err = run(json!({"chunk_id.$": "$.chunk_id"}), json!({"a": 1})).unwrap_err();
        // AWS's wording, which shows the input the path was looked up in (state payloads
        // carry no SSN: see ARCHITECTURE.md's invariants). The test used to forbid the echo;
        // AWS's text has it ("... could not be found in the input '{}'").
        assert_eq!(
            err,
            EvalError::Runtime(
                "The JSONPath '$.chunk_id' specified for the field 'chunk_id.$' could not be found in the input '{\"a\":1}'".into()
            )
        );
    }

    #[test]
    fn intrinsic_functions_evaluate_nested_calls() {
        let out = run(
            json!({
                "f.$": "States.Format('chunk {} of {}', $$.Map.Item.Index, States.ArrayLength($.ids))",
                "p.$": "States.ArrayPartition($.ids, 2)",
                "j.$": "States.StringToJson('{\"a\": 1}')",
                "s.$": "States.MathAdd($.n, -1)"
            }),
            json!({"ids": [1, 2, 3], "n": 5}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"f": "chunk 2 of 3", "p": [[1, 2], [3]], "j": {"a": 1}, "s": 4})
        );
        let err = run(
            json!({"x.$": "States.ArrayGetItem($.ids, 9)"}),
            json!({"ids": []}),
        );
        assert!(matches!(err, Err(EvalError::Intrinsic(_))));
    }

    #[test]
    fn intrinsic_calls_nested_100000_deep_are_refused_without_overflowing_the_stack() {
        let nested =
            |depth: usize| format!("{}1{}", "States.Array(".repeat(depth), ")".repeat(depth));
        let err = check_intrinsic(&nested(100_000)).unwrap_err();
        let EvalError::Runtime(cause) = &err else {
            panic!("{err:?}")
        };
        assert!(
            cause.contains("calls nest more than 100 levels deep"),
            "{cause}"
        );
        let err = run(json!({"x.$": nested(100_000)}), json!({})).unwrap_err();
        assert!(matches!(err, EvalError::Runtime(_)), "{err:?}");
        // At the bound, the calls evaluate.
        let out = run(json!({"x.$": nested(MAX_INTRINSIC_NESTING)}), json!({})).unwrap();
        let mut expected = json!(1);
        for _ in 0..MAX_INTRINSIC_NESTING {
            expected = json!([expected]);
        }
        assert_eq!(out["x"], expected);
    }

    #[test]
    fn an_argument_path_may_hold_a_filter_and_a_literal_template_may_escape_braces() {
        let users = json!([{"year": 1997, "name": "a"}, {"year": 2001, "name": "b"}]);
        let out = run(
            json!({
                "old.$": "States.JsonToString($.[?(@.year <= 1998 && @.name in ['a', ')'])].name)",
                "count.$": "States.ArrayLength($[?(@.year > 1990)])",
                "text.$": "States.Format('\\{\\} is {}, it\\'s {}', 'kept', States.ArrayLength($))"
            }),
            users,
        );
        assert_eq!(
            out,
            Ok(json!({"old": "[\"a\"]", "count": 2, "text": "{} is kept, it's 2"}))
        );
    }

    #[test]
    fn expressions_are_read_without_being_evaluated() {
        for good in [
            "$.a",
            "$.a[*]",
            "$$.Execution.Id",
            "States.Format('{}', $.a)",
            "States.UUID()",
        ] {
            let value = PayloadValue::dynamic(good).unwrap();
            if let PayloadValue::Intrinsic(call) = value {
                assert!(check_intrinsic(&call).is_ok(), "{good}");
            }
        }
        for bad in ["a", "$.", "$$.a["] {
            assert!(PayloadValue::dynamic(bad).is_err(), "{bad}");
        }
        for bad in ["States.Format(", "States.UUID() x"] {
            assert!(check_intrinsic(bad).is_err(), "{bad}");
        }
    }
}
