//! Payload templates: Parameters, ItemSelector, ResultSelector and a Pass state's Parameters.
//!
//! A field whose name ends in `.$` takes its value from a path into the state input (`$...`), the
//! context object (`$$...`) or an intrinsic function (`States.Format(...)` etc.); every other
//! field is copied, recursing into objects and arrays, as AWS does.

use std::cell::OnceCell;

use serde_json::{Map, Number, Value};

use super::path::JsonPath;

/// Why a template could not be expanded; the engine turns it into the error AWS raises.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A bad path or a path that selects nothing: AWS fails with `States.Runtime`.
    #[error("{0}")]
    Runtime(String),
    /// An intrinsic function failed on its arguments: AWS fails with `States.IntrinsicFailure`.
    #[error("{0}")]
    Intrinsic(String),
}

/// What `$` and `$$` mean while expanding one template. The context object is built only when a
/// `$$` field asks for it.
pub struct Scope<'a> {
    input: &'a Value,
    build_context: &'a dyn Fn() -> Value,
    context: OnceCell<Value>,
}

impl<'a> Scope<'a> {
    pub fn new(input: &'a Value, build_context: &'a dyn Fn() -> Value) -> Self {
        Self {
            input,
            build_context,
            context: OnceCell::new(),
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

/// The value of one `.$` field: a path or an intrinsic function call.
fn evaluate(field: &str, expr: &str, scope: &Scope<'_>) -> Result<Value, TemplateError> {
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

/// One parsed argument of an intrinsic function.
enum Arg {
    Literal(Value),
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
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            out.push(escaped);
                        }
                    }
                    '\'' => {
                        self.at += i + 2;
                        return Ok(Arg::Literal(Value::String(out)));
                    }
                    c => out.push(c),
                }
            }
            Err(self.fail("unterminated string"))
        } else if rest.starts_with("States.") {
            Ok(Arg::Call(self.call()?))
        } else {
            let end = rest.find([',', ')']).unwrap_or(rest.len());
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

impl Call {
    fn evaluate(&self, field: &str, scope: &Scope<'_>) -> Result<Value, TemplateError> {
        let args = self
            .args
            .iter()
            .map(|arg| match arg {
                Arg::Literal(v) => Ok(v.clone()),
                Arg::Path(p) => scope.resolve(field, p),
                Arg::Call(c) => c.evaluate(field, scope),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let fail = |why: &str| TemplateError::Intrinsic(format!("{}: {why}", self.name));
        let arity = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(fail(&format!("takes {n} arguments, got {}", args.len())))
            }
        };
        let int = |v: &Value| {
            v.as_i64()
                .ok_or_else(|| fail("expected an integer argument"))
        };
        let array = |v: &Value| {
            v.as_array()
                .cloned()
                .ok_or_else(|| fail("expected an array argument"))
        };
        let string = |v: &Value| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| fail("expected a string argument"))
        };
        match self.name.as_str() {
            "States.Format" => {
                let template = string(args.first().ok_or_else(|| fail("needs a template"))?)?;
                let mut values = args[1..].iter();
                let mut out = String::new();
                let mut pieces = template.split("{}").peekable();
                while let Some(piece) = pieces.next() {
                    out.push_str(piece);
                    if pieces.peek().is_some() {
                        let v = values
                            .next()
                            .ok_or_else(|| fail("more {} than arguments"))?;
                        match v {
                            Value::String(s) => out.push_str(s),
                            other => out.push_str(&other.to_string()),
                        }
                    }
                }
                Ok(Value::String(out))
            }
            "States.StringToJson" => {
                arity(1)?;
                serde_json::from_str(&string(&args[0])?).map_err(|_| fail("not valid JSON"))
            }
            "States.JsonToString" => {
                arity(1)?;
                Ok(Value::String(args[0].to_string()))
            }
            "States.Array" => Ok(Value::Array(args)),
            "States.ArrayLength" => {
                arity(1)?;
                Ok(Value::from(array(&args[0])?.len()))
            }
            "States.ArrayGetItem" => {
                arity(2)?;
                let items = array(&args[0])?;
                let at = usize::try_from(int(&args[1])?).map_err(|_| fail("negative index"))?;
                items
                    .get(at)
                    .cloned()
                    .ok_or_else(|| fail("index out of range"))
            }
            "States.ArrayContains" => {
                arity(2)?;
                Ok(Value::Bool(array(&args[0])?.contains(&args[1])))
            }
            "States.ArrayPartition" => {
                arity(2)?;
                let size = usize::try_from(int(&args[1])?)
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| fail("chunk size must be positive"))?;
                Ok(Value::Array(
                    array(&args[0])?
                        .chunks(size)
                        .map(|c| Value::Array(c.to_vec()))
                        .collect(),
                ))
            }
            "States.ArrayRange" => {
                arity(3)?;
                let (from, to, step) = (int(&args[0])?, int(&args[1])?, int(&args[2])?);
                if step == 0 {
                    return Err(fail("step must not be 0"));
                }
                let mut out = Vec::new();
                let mut i = from;
                while (step > 0 && i <= to) || (step < 0 && i >= to) {
                    out.push(Value::from(i));
                    if out.len() > 1000 {
                        return Err(fail("more than 1000 items"));
                    }
                    i += step;
                }
                Ok(Value::Array(out))
            }
            "States.ArrayUnique" => {
                arity(1)?;
                let mut out: Vec<Value> = Vec::new();
                for v in array(&args[0])? {
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                Ok(Value::Array(out))
            }
            "States.MathAdd" => {
                arity(2)?;
                Ok(Value::Number(Number::from(
                    int(&args[0])?
                        .checked_add(int(&args[1])?)
                        .ok_or_else(|| fail("overflow"))?,
                )))
            }
            "States.StringSplit" => {
                arity(2)?;
                let (s, sep) = (string(&args[0])?, string(&args[1])?);
                Ok(Value::Array(
                    s.split(|c| sep.contains(c))
                        .filter(|p| !p.is_empty())
                        .map(|p| Value::String(p.to_owned()))
                        .collect(),
                ))
            }
            "States.JsonMerge" => {
                arity(3)?;
                match (&args[0], &args[1]) {
                    (Value::Object(a), Value::Object(b)) => {
                        let mut merged = a.clone();
                        merged.extend(b.clone());
                        Ok(Value::Object(merged))
                    }
                    _ => Err(fail("expected two objects")),
                }
            }
            other => Err(TemplateError::Runtime(format!(
                "the intrinsic function `{other}` is not supported by the local runner"
            ))),
        }
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
}
