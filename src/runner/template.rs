//! Payload templates: Parameters, ItemSelector, ResultSelector and a Pass state's Parameters.
//!
//! A field whose name ends in `.$` takes its value from a path into the state input (`$...`), the
//! context object (`$$...`) or an intrinsic function (`States.Format(...)` etc., see
//! [`intrinsic`]); every other field is copied, recursing into objects and arrays, as AWS does.
//! [`evaluate`] reads one such expression alone (a Fail state's ErrorPath and CausePath).

mod intrinsic;

use std::cell::{Cell, OnceCell};

use serde_json::{Map, Value};

use super::engine::splitmix64;
use super::path::JsonPath;
use intrinsic::Argument;

/// Why a template could not be expanded; the engine turns it into the error AWS raises.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A bad path or a path that selects nothing: AWS fails with `States.Runtime`.
    #[error("{0}")]
    Runtime(String),
    /// An intrinsic function failed on its arguments: AWS fails with `States.Runtime` too
    /// (`States.IntrinsicFailure` is reserved).
    #[error("{0}")]
    Intrinsic(String),
}

/// What `$` and `$$` mean while expanding one template, and where random values come from. The
/// context object is built only when a `$$` field asks for it.
pub struct Scope<'a> {
    input: &'a Value,
    build_context: &'a dyn Fn() -> Value,
    context: OnceCell<Value>,
    draw: Option<&'a dyn Fn() -> u64>,
    /// Draws made without a `draw` of the caller's.
    own_draws: Cell<u64>,
}

impl<'a> Scope<'a> {
    pub fn new(input: &'a Value, build_context: &'a dyn Fn() -> Value) -> Self {
        Self {
            input,
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

    fn draw(&self) -> u64 {
        match self.draw {
            Some(draw) => draw(),
            None => {
                self.own_draws.set(self.own_draws.get() + 1);
                splitmix64(self.own_draws.get())
            }
        }
    }

    fn context(&self) -> &Value {
        self.context.get_or_init(|| (self.build_context)())
    }

    /// Evaluates `$...` against the input or `$$...` against the context object.
    pub fn resolve(&self, field: &str, path: &str) -> Result<Value, TemplateError> {
        let (target, text) = match path.strip_prefix("$$") {
            Some(rest) => (self.context(), format!("${rest}")),
            None => (self.input, path.to_owned()),
        };
        let parsed = JsonPath::parse(&text).map_err(|e| TemplateError::Runtime(e.to_string()))?;
        parsed.select(target).ok_or_else(|| {
            TemplateError::Runtime(format!(
                "the JSONPath `{path}` specified for the field `{field}` could not be found in the {}",
                if path.starts_with("$$") {
                    "context object"
                } else {
                    "state input"
                }
            ))
        })
    }
}

/// Expands a payload template against `scope`.
pub fn expand(template: &Value, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    match template {
        Value::Object(fields) => {
            let mut out = Map::with_capacity(fields.len());
            for (name, value) in fields {
                match name.strip_suffix(".$") {
                    Some(bare) => {
                        let Value::String(expr) = value else {
                            return Err(TemplateError::Runtime(format!(
                                "the field `{name}` must be a string holding a path or an intrinsic function"
                            )));
                        };
                        out.insert(bare.to_owned(), evaluate(name, expr, scope)?);
                    }
                    None => {
                        out.insert(name.clone(), expand(value, scope)?);
                    }
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .map(|v| expand(v, scope))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// The value of one expression (a `.$` field's, or a Fail state's ErrorPath): a path or an
/// intrinsic function call; `field` names it in errors.
pub fn evaluate(field: &str, expr: &str, scope: &Scope<'_>) -> Result<Value, TemplateError> {
    let expr = expr.trim();
    if expr.starts_with('$') {
        scope.resolve(field, expr)
    } else if expr.starts_with("States.") {
        let mut parser = IntrinsicParser { text: expr, at: 0 };
        let call = parser.call()?;
        if parser.at != expr.len() {
            return Err(TemplateError::Runtime(format!(
                "the field `{field}` has text after its intrinsic function call"
            )));
        }
        call.evaluate(field, scope)
    } else {
        Err(TemplateError::Runtime(format!(
            "the field `{field}` must hold a path starting with `$` or an intrinsic function `States.*`"
        )))
    }
}

/// Whether `expr` reads as a path or an intrinsic function call (without evaluating it).
pub fn check(expr: &str) -> Result<(), TemplateError> {
    let expr = expr.trim();
    if expr.starts_with("$$") {
        JsonPath::parse(&expr[1..])
            .map(drop)
            .map_err(|e| TemplateError::Runtime(e.to_string()))
    } else if expr.starts_with('$') {
        JsonPath::parse(expr)
            .map(drop)
            .map_err(|e| TemplateError::Runtime(e.to_string()))
    } else {
        let mut parser = IntrinsicParser { text: expr, at: 0 };
        parser.call()?;
        if parser.at == expr.len() {
            Ok(())
        } else {
            Err(parser.fail("unexpected text after the call"))
        }
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

struct IntrinsicParser<'t> {
    text: &'t str,
    at: usize,
}

impl IntrinsicParser<'_> {
    fn fail(&self, what: &str) -> TemplateError {
        TemplateError::Runtime(format!(
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

    fn call(&mut self) -> Result<Call, TemplateError> {
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

    fn arg(&mut self) -> Result<Arg, TemplateError> {
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
            Ok(Arg::Call(self.call()?))
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
    fn evaluate(&self, field: &str, scope: &Scope<'_>) -> Result<Value, TemplateError> {
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
                        value: scope.resolve(field, path)?,
                        written: None,
                    },
                    Arg::Call(call) => Argument {
                        value: call.evaluate(field, scope)?,
                        written: None,
                    },
                })
            })
            .collect::<Result<Vec<_>, TemplateError>>()?;
        intrinsic::call(&self.name, &args, &|| scope.draw())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(template: Value, input: Value) -> Result<Value, TemplateError> {
        let context =
            || json!({"Execution": {"Name": "exec-1"}, "Map": {"Item": {"Value": 7, "Index": 2}}});
        expand(&template, &Scope::new(&input, &context))
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
        // The seed's `{"chunk_id.$": "$"}`: the whole state input, whatever the item is.
        let out = run(json!({"chunk_id.$": "$"}), json!({"chunk_ids": [0, 1]})).unwrap();
        assert_eq!(out, json!({"chunk_id": {"chunk_ids": [0, 1]}}));
    }

    #[test]
    fn a_missing_path_is_a_runtime_error_naming_the_field() {
        let err = run(json!({"chunk_id.$": "$.chunk_id"}), json!({"a": 1})).unwrap_err();
        assert!(
            matches!(&err, TemplateError::Runtime(m) if m.contains("chunk_id.$")),
            "{err}"
        );
        assert!(
            !err.to_string().contains("\"a\""),
            "input must not be echoed: {err}"
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
        assert!(matches!(err, Err(TemplateError::Intrinsic(_))));
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
    fn check_reads_an_expression_without_evaluating_it() {
        for good in [
            "$.a",
            "$$.Execution.Id",
            "States.Format('{}', $.a)",
            "States.UUID()",
        ] {
            assert!(check(good).is_ok(), "{good}");
        }
        for bad in ["a", "$.", "States.Format(", "States.UUID() x"] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
