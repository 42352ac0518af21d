//! The intrinsic functions (`States.*`) of payload templates, as AWS evaluates them on their
//! evaluated arguments. Where AWS's documentation and its recorded executions disagree, the
//! recordings win: `States.MathAdd` rounds non-integer arguments half up (Java's `Math.round`),
//! `States.StringToJson` of a blank string is `null`, `States.Format` writes objects and arrays
//! as Java does (`{a=1, b=[x, y]}`).
//!
//! Random results (`States.MathRandom` without a seed, `States.UUID`) come from the draws the
//! caller supplies, so a run is reproducible.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::EvalError;
use super::random::{pseudo_uuid, splitmix64};

/// AWS's limit on the input of `States.Hash`, `States.Base64Encode` and `States.Base64Decode`.
const MAX_INPUT_CHARS: usize = 10_000;
/// AWS's limit on the array `States.ArrayRange` makes.
const MAX_RANGE_ITEMS: usize = 1_000;

/// One evaluated argument: its value and, for a quoted literal, its text as written (escapes
/// kept), which `States.Format` needs to tell an escaped `\{\}` from a placeholder.
pub struct Argument {
    /// The evaluated argument.
    pub value: Value,
    /// A quoted literal's text as written (escapes kept); `None` for any other argument.
    pub written: Option<String>,
}

/// Calls the intrinsic function `name`; `draw` gives a fresh random 64-bit value.
pub fn call(name: &str, args: &[Argument], draw: &dyn Fn() -> u64) -> Result<Value, EvalError> {
    let call = Call { name, args };
    let values: Vec<&Value> = args.iter().map(|arg| &arg.value).collect();
    match name {
        "States.Format" => call.format(),
        "States.StringToJson" => {
            let [text] = call.exactly()?;
            let text = call.string(text)?;
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            serde_json::from_str(text).map_err(|e| call.fail(&format!("not JSON text ({e})")))
        }
        "States.JsonToString" => {
            let [value] = call.exactly()?;
            Ok(Value::String(value.to_string()))
        }
        "States.JsonMerge" => {
            let [first, second, deep] = call.exactly()?;
            match (first, second, deep) {
                (Value::Object(a), Value::Object(b), Value::Bool(false)) => {
                    let mut merged = a.clone();
                    merged.extend(b.clone());
                    Ok(Value::Object(merged))
                }
                (_, _, Value::Bool(true)) => Err(call
                    .fail("only the shallow merge is supported: the third argument must be false")),
                _ => Err(call.fail("expects two objects and false")),
            }
        }
        "States.Array" => Ok(Value::Array(values.into_iter().cloned().collect())),
        "States.ArrayLength" => {
            let [items] = call.exactly()?;
            Ok(Value::from(call.array(items)?.len()))
        }
        "States.ArrayGetItem" => {
            let [items, index] = call.exactly()?;
            let index = usize::try_from(call.integer(index)?)
                .map_err(|_| call.fail("the index must not be negative"))?;
            call.array(items)?
                .get(index)
                .cloned()
                .ok_or_else(|| call.fail(&format!("the index {index} is out of range")))
        }
        "States.ArrayContains" => {
            let [items, wanted] = call.exactly()?;
            Ok(Value::Bool(call.array(items)?.contains(wanted)))
        }
        "States.ArrayPartition" => {
            let [items, size] = call.exactly()?;
            let size = usize::try_from(call.integer(size)?)
                .ok()
                .filter(|size| *size > 0)
                .ok_or_else(|| call.fail("the chunk size must be positive"))?;
            let chunks = call.array(items)?.chunks(size);
            Ok(Value::Array(
                chunks.map(|chunk| Value::Array(chunk.to_vec())).collect(),
            ))
        }
        "States.ArrayRange" => {
            let [from, to, step] = call.exactly()?;
            let (from, to, step) = (call.integer(from)?, call.integer(to)?, call.integer(step)?);
            if step == 0 {
                return Err(call.fail("the step must not be 0"));
            }
            let mut items = Vec::new();
            let mut at = from;
            while (step > 0 && at <= to) || (step < 0 && at >= to) {
                if items.len() == MAX_RANGE_ITEMS {
                    return Err(call.fail(&format!("makes more than {MAX_RANGE_ITEMS} items")));
                }
                items.push(Value::from(at));
                at += step;
            }
            Ok(Value::Array(items))
        }
        "States.ArrayUnique" => {
            let [items] = call.exactly()?;
            let mut unique: Vec<Value> = Vec::new();
            for item in call.array(items)? {
                if !unique.contains(item) {
                    unique.push(item.clone());
                }
            }
            Ok(Value::Array(unique))
        }
        "States.Base64Encode" => {
            let [text] = call.exactly()?;
            let text = call.limited_string(text)?;
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(text),
            ))
        }
        "States.Base64Decode" => {
            let [encoded] = call.exactly()?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(call.limited_string(encoded)?)
                .map_err(|_| call.fail("the argument is not base64"))?;
            String::from_utf8(bytes)
                .map(Value::String)
                .map_err(|_| call.fail("the decoded bytes are not UTF-8 text"))
        }
        "States.Hash" => {
            let [data, algorithm] = call.exactly()?;
            let data = call.limited_string(data)?.as_bytes();
            let digest: Vec<u8> = match call.string(algorithm)? {
                "MD5" => <md5::Md5 as md5::Digest>::digest(data).to_vec(),
                "SHA-1" => <sha1::Sha1 as sha1::Digest>::digest(data).to_vec(),
                "SHA-256" => <sha2::Sha256 as sha2::Digest>::digest(data).to_vec(),
                "SHA-384" => <sha2::Sha384 as sha2::Digest>::digest(data).to_vec(),
                "SHA-512" => <sha2::Sha512 as sha2::Digest>::digest(data).to_vec(),
                other => {
                    return Err(call.fail(&format!(
                        "the algorithm `{other}` is none of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
                    )));
                }
            };
            Ok(Value::String(
                digest.iter().map(|byte| format!("{byte:02x}")).collect(),
            ))
        }
        "States.MathAdd" => {
            let [a, b] = call.exactly()?;
            let sum = call.rounded(a)?.checked_add(call.rounded(b)?);
            sum.map(Value::from)
                .ok_or_else(|| call.fail("the sum overflows"))
        }
        "States.MathRandom" => {
            let (start, end, seed) = match values.as_slice() {
                [start, end] => (start, end, None),
                [start, end, seed] => (start, end, Some(call.integer(seed)?)),
                _ => return Err(call.fail(&format!("takes 2 or 3 arguments, got {}", args.len()))),
            };
            let (start, end) = (call.rounded(start)?, call.rounded(end)?);
            let span = end
                .checked_sub(start)
                .and_then(|span| u64::try_from(span).ok())
                .filter(|span| *span > 0)
                .ok_or_else(|| call.fail("the end must be greater than the start"))?;
            let random = seed.map_or_else(draw, |seed| splitmix64(seed as u64));
            Ok(Value::from(start + (random % span) as i64))
        }
        "States.StringSplit" => {
            let [text, separators] = call.exactly()?;
            let (text, separators) = (call.string(text)?, call.string(separators)?);
            Ok(Value::Array(
                text.split(|c| separators.contains(c))
                    .filter(|part| !part.is_empty())
                    .map(|part| Value::String(part.to_owned()))
                    .collect(),
            ))
        }
        "States.UUID" => {
            let [] = call.exactly()?;
            Ok(Value::String(pseudo_uuid(draw())))
        }
        other => Err(EvalError::Runtime(format!(
            "`{other}` is not an intrinsic function"
        ))),
    }
}

/// One call, for its argument checks and errors.
struct Call<'a> {
    name: &'a str,
    args: &'a [Argument],
}

impl<'a> Call<'a> {
    fn fail(&self, why: &str) -> EvalError {
        EvalError::Intrinsic(format!("{}: {why}", self.name))
    }

    /// The arguments, exactly `N` of them.
    fn exactly<const N: usize>(&self) -> Result<[&'a Value; N], EvalError> {
        let values: Vec<&Value> = self.args.iter().map(|arg| &arg.value).collect();
        <[&Value; N]>::try_from(values)
            .map_err(|values| self.fail(&format!("takes {N} arguments, got {}", values.len())))
    }

    fn string<'v>(&self, value: &'v Value) -> Result<&'v str, EvalError> {
        value
            .as_str()
            .ok_or_else(|| self.fail("expects a string argument"))
    }

    /// A string of at most [`MAX_INPUT_CHARS`] characters.
    fn limited_string<'v>(&self, value: &'v Value) -> Result<&'v str, EvalError> {
        let text = self.string(value)?;
        if text.chars().count() > MAX_INPUT_CHARS {
            return Err(self.fail(&format!(
                "the input is longer than {MAX_INPUT_CHARS} characters"
            )));
        }
        Ok(text)
    }

    fn array<'v>(&self, value: &'v Value) -> Result<&'v Vec<Value>, EvalError> {
        value
            .as_array()
            .ok_or_else(|| self.fail("expects an array argument"))
    }

    /// An integer argument (`2` or `2.0`).
    fn integer(&self, value: &Value) -> Result<i64, EvalError> {
        value
            .as_i64()
            .or_else(|| {
                let float = value.as_f64()?;
                (float.fract() == 0.0 && float.abs() < 9.0e15).then_some(float as i64)
            })
            .ok_or_else(|| self.fail("expects an integer argument"))
    }

    /// A number rounded to the nearest integer, halves up (Java's `Math.round`): 1.5 is 2,
    /// -1.5 is -1.
    fn rounded(&self, value: &Value) -> Result<i64, EvalError> {
        if let Some(integer) = value.as_i64() {
            return Ok(integer);
        }
        value
            .as_f64()
            .map(|float| (float + 0.5).floor())
            .filter(|rounded| rounded.abs() < 9.0e15)
            .map(|rounded| rounded as i64)
            .ok_or_else(|| self.fail("expects a number argument"))
    }

    /// `States.Format`: each `{}` of the template (not an escaped `\{\}` of a literal) replaced by
    /// the next argument.
    fn format(&self) -> Result<Value, EvalError> {
        let (template, values) = self
            .args
            .split_first()
            .ok_or_else(|| self.fail("needs a template"))?;
        let text = self.string(&template.value)?;
        let mut values = values.iter();
        let mut out = String::new();
        let mut pending = match &template.written {
            Some(written) => written.as_str(),
            None => text,
        };
        let escapes = template.written.is_some();
        while let Some(c) = pending.chars().next() {
            if escapes && c == '\\' {
                let mut rest = pending[1..].chars();
                out.extend(rest.next());
                pending = rest.as_str();
            } else if pending.starts_with("{}") {
                let value = values
                    .next()
                    .ok_or_else(|| self.fail("the template has more {} than arguments"))?;
                out.push_str(&formatted(&value.value));
                pending = &pending[2..];
            } else {
                out.push(c);
                pending = &pending[c.len_utf8()..];
            }
        }
        Ok(Value::String(out))
    }
}

/// A value as `States.Format` writes it: strings as they are, objects and arrays as Java writes
/// maps and lists (`{a=1, b=[x, y]}`), anything else as JSON.
fn formatted(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(formatted).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(fields) => format!("{{{}}}", formatted_fields(fields)),
        other => other.to_string(),
    }
}

fn formatted_fields(fields: &Map<String, Value>) -> String {
    let fields: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("{key}={}", formatted(value)))
        .collect();
    fields.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(name: &str, args: &[Value]) -> Result<Value, EvalError> {
        let args: Vec<Argument> = args
            .iter()
            .map(|value| Argument {
                value: value.clone(),
                written: None,
            })
            .collect();
        let draws = std::cell::Cell::new(0u64);
        let draw = || {
            draws.set(draws.get() + 1);
            splitmix64(draws.get())
        };
        call(name, &args, &draw)
    }

    #[test]
    fn math_add_rounds_each_argument_half_up_as_java_does() {
        for (a, b, sum) in [
            (json!(-9), json!(3), -6),
            (json!(1.49), json!(1.5), 3),
            (json!(-1.49), json!(-1.5), -2),
            (json!(-1.5), json!(-1.51), -3),
            (json!(2.5), json!(0), 3),
            (json!(-2.5), json!(0), -2),
            (json!(-0.5), json!(0.5), 1),
        ] {
            assert_eq!(
                run("States.MathAdd", &[a.clone(), b.clone()]),
                Ok(json!(sum)),
                "{a} + {b}"
            );
        }
        assert!(run("States.MathAdd", &[json!("1"), json!(1)]).is_err());
    }

    #[test]
    fn string_to_json_of_a_blank_string_is_null() {
        for (text, value) in [
            ("", json!(null)),
            ("  ", json!(null)),
            ("{\"a\": [1]}", json!({"a": [1]})),
        ] {
            assert_eq!(
                run("States.StringToJson", &[json!(text)]),
                Ok(value),
                "{text:?}"
            );
        }
        let zero = run("States.StringToJson", &[json!("-0")]).unwrap();
        assert_eq!(zero.as_f64(), Some(0.0));
        assert!(run("States.StringToJson", &[json!("{")]).is_err());
    }

    #[test]
    fn format_writes_objects_and_arrays_as_java_does() {
        let out = run(
            "States.Format",
            &[
                json!("{} {} {} {} {}"),
                json!({"a": 1, "b": [null, "x", {"c": true}]}),
                json!(["s", 1.5]),
                json!(null),
                json!("plain"),
                json!(false),
            ],
        );
        assert_eq!(
            out,
            Ok(json!(
                "{a=1, b=[null, x, {c=true}]} [s, 1.5] null plain false"
            ))
        );
        assert!(run("States.Format", &[json!("{} {}"), json!(1)]).is_err());
    }

    #[test]
    fn an_escaped_brace_pair_of_a_literal_template_is_text() {
        let args = [
            Argument {
                value: json!("{} {}"),
                written: Some("\\{\\} {}".into()),
            },
            Argument {
                value: json!(7),
                written: None,
            },
        ];
        assert_eq!(call("States.Format", &args, &|| 0), Ok(json!("{} 7")));
    }

    #[test]
    fn hashes_are_lowercase_hex_digests() {
        for (algorithm, digest) in [
            ("MD5", "5d41402abc4b2a76b9719d911017c592"),
            ("SHA-1", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
            (
                "SHA-256",
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            ),
        ] {
            assert_eq!(
                run("States.Hash", &[json!("hello"), json!(algorithm)]),
                Ok(json!(digest))
            );
        }
        let sha512 = run("States.Hash", &[json!("hello"), json!("SHA-512")]).unwrap();
        assert_eq!(sha512.as_str().unwrap().len(), 128);
        let sha384 = run("States.Hash", &[json!("hello"), json!("SHA-384")]).unwrap();
        assert_eq!(sha384.as_str().unwrap().len(), 96);
        assert!(run("States.Hash", &[json!("hello"), json!("SHA-3")]).is_err());
        assert!(run("States.Hash", &[json!("x".repeat(10_001)), json!("MD5")]).is_err());
    }

    #[test]
    fn base64_round_trips_text() {
        assert_eq!(
            run("States.Base64Encode", &[json!("Data to encode")]),
            Ok(json!("RGF0YSB0byBlbmNvZGU="))
        );
        assert_eq!(
            run("States.Base64Decode", &[json!("RGF0YSB0byBlbmNvZGU=")]),
            Ok(json!("Data to encode"))
        );
        assert_eq!(run("States.Base64Encode", &[json!("")]), Ok(json!("")));
        assert!(run("States.Base64Decode", &[json!("not base64!")]).is_err());
    }

    #[test]
    fn random_numbers_are_integers_in_range_and_a_seed_repeats_them() {
        for (start, end) in [(json!(12.5), json!(44.51)), (json!(-99999), json!(-9999))] {
            for _ in 0..50 {
                let n = run("States.MathRandom", &[start.clone(), end.clone()])
                    .unwrap()
                    .as_i64()
                    .unwrap();
                let (low, high) = (start.as_f64().unwrap(), end.as_f64().unwrap());
                assert!(
                    (low.round() as i64..high.round() as i64).contains(&n),
                    "{n}"
                );
            }
        }
        let seeded = |seed| run("States.MathRandom", &[json!(0), json!(999), json!(seed)]);
        assert_eq!(seeded(3), seeded(3));
        assert!(run("States.MathRandom", &[json!(5), json!(5)]).is_err());
    }

    #[test]
    fn uuids_are_version_4_and_distinct() {
        let draws = std::cell::Cell::new(0u64);
        let draw = || {
            draws.set(draws.get() + 1);
            splitmix64(draws.get())
        };
        let first = call("States.UUID", &[], &draw).unwrap();
        let second = call("States.UUID", &[], &draw).unwrap();
        assert_ne!(first, second);
        let text = first.as_str().unwrap();
        let groups: Vec<&str> = text.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4'));
        assert!("89ab".contains(groups[3].chars().next().unwrap()));
        assert!(text.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }

    #[test]
    fn json_merge_is_shallow_only() {
        assert_eq!(
            run(
                "States.JsonMerge",
                &[
                    json!({"a": {"x": 1}, "b": 2}),
                    json!({"a": {"y": 2}}),
                    json!(false)
                ]
            ),
            Ok(json!({"a": {"y": 2}, "b": 2}))
        );
        assert!(run("States.JsonMerge", &[json!({}), json!({}), json!(true)]).is_err());
    }
}
