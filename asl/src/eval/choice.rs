//! Choice conditions evaluated against a Choice state's effective input, as AWS does: `IsPresent`
//! tests the variable's path; every other comparison on a path that selects nothing fails the
//! state (`States.Runtime`); a comparison of values of another kind (a string against
//! `NumericEquals`) is false.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::{EvalError, Variables};
use crate::path::ReferencePath;
use crate::state::{Comparison, Condition};

impl Condition {
    /// Whether the condition holds on `input`, `$name` paths reading `variables`. A JSONata
    /// `Condition` is evaluated by [`super::jsonata`], not here.
    pub fn holds(&self, input: &Value, variables: &Variables) -> Result<bool, EvalError> {
        match self {
            Condition::Constant(holds) => Ok(*holds),
            Condition::Jsonata(expression) => Err(EvalError::Runtime(format!(
                "the JSONata condition `{expression}` needs a JSONata evaluation"
            ))),
            Condition::And(all) => {
                for condition in all {
                    if !condition.holds(input, variables)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::Or(any) => {
                for condition in any {
                    if condition.holds(input, variables)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::Not(inner) => Ok(!inner.holds(input, variables)?),
            Condition::Compare {
                variable,
                comparison,
            } => compare(variable, comparison, input, variables),
        }
    }
}

fn compare(
    variable: &ReferencePath,
    comparison: &Comparison,
    input: &Value,
    variables: &Variables,
) -> Result<bool, EvalError> {
    use Comparison as C;
    let value = variable.resolve(input, variables);
    if let C::IsPresent(expect) = comparison {
        return Ok(value.is_some() == *expect);
    }
    let value = value.ok_or_else(|| {
        EvalError::Runtime(format!(
            "Invalid path '{variable}': The choice state's condition path references an invalid value."
        ))
    })?;
    let other = |path: &ReferencePath| {
        path.resolve(input, variables).ok_or_else(|| {
            EvalError::Runtime(format!(
                "Invalid path '{path}': The choice state's condition path references an invalid value."
            ))
        })
    };
    let string = |operand: &str| value.as_str().map(|v| v.cmp(operand));
    let string_path = |path| other(path).map(|o| o.as_str().and_then(&string));
    let number = |operand: f64| value.as_f64()?.partial_cmp(&operand);
    let number_path = |path| other(path).map(|o| o.as_f64().and_then(number));
    let time = |operand: &str| Some(timestamp(value)?.cmp(&timestamp_text(operand)?));
    let time_path = |path| other(path).map(|o| o.as_str().and_then(time));
    let ordering = match comparison {
        C::IsPresent(_) => unreachable!("handled above"),
        C::IsNull(expect) => return Ok(value.is_null() == *expect),
        C::IsString(expect) => return Ok(value.is_string() == *expect),
        C::IsNumeric(expect) => return Ok(value.is_number() == *expect),
        C::IsBoolean(expect) => return Ok(value.is_boolean() == *expect),
        C::IsTimestamp(expect) => return Ok(timestamp(value).is_some() == *expect),
        C::BooleanEquals(operand) => return Ok(value.as_bool() == Some(*operand)),
        C::BooleanEqualsPath(path) => {
            let other = other(path)?;
            return Ok(value.as_bool().is_some() && value == other);
        }
        C::StringMatches(pattern) => {
            return Ok(value
                .as_str()
                .is_some_and(|text| glob_matches(pattern, text)));
        }
        C::StringEquals(o)
        | C::StringLessThan(o)
        | C::StringGreaterThan(o)
        | C::StringLessThanEquals(o)
        | C::StringGreaterThanEquals(o) => string(o),
        C::StringEqualsPath(p)
        | C::StringLessThanPath(p)
        | C::StringGreaterThanPath(p)
        | C::StringLessThanEqualsPath(p)
        | C::StringGreaterThanEqualsPath(p) => string_path(p)?,
        C::NumericEquals(o)
        | C::NumericLessThan(o)
        | C::NumericGreaterThan(o)
        | C::NumericLessThanEquals(o)
        | C::NumericGreaterThanEquals(o) => number(*o),
        C::NumericEqualsPath(p)
        | C::NumericLessThanPath(p)
        | C::NumericGreaterThanPath(p)
        | C::NumericLessThanEqualsPath(p)
        | C::NumericGreaterThanEqualsPath(p) => number_path(p)?,
        C::TimestampEquals(o)
        | C::TimestampLessThan(o)
        | C::TimestampGreaterThan(o)
        | C::TimestampLessThanEquals(o)
        | C::TimestampGreaterThanEquals(o) => time(o),
        C::TimestampEqualsPath(p)
        | C::TimestampLessThanPath(p)
        | C::TimestampGreaterThanPath(p)
        | C::TimestampLessThanEqualsPath(p)
        | C::TimestampGreaterThanEqualsPath(p) => time_path(p)?,
    };
    let Some(ordering) = ordering else {
        return Ok(false);
    };
    let operator = comparison.operator();
    let relation = operator.strip_suffix("Path").unwrap_or(operator);
    Ok(if relation.ends_with("GreaterThanEquals") {
        ordering != Ordering::Less
    } else if relation.ends_with("LessThanEquals") {
        ordering != Ordering::Greater
    } else if relation.ends_with("GreaterThan") {
        ordering == Ordering::Greater
    } else if relation.ends_with("LessThan") {
        ordering == Ordering::Less
    } else {
        ordering == Ordering::Equal
    })
}

fn timestamp(value: &Value) -> Option<DateTime<FixedOffset>> {
    timestamp_text(value.as_str()?)
}

fn timestamp_text(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok()
}

/// `StringMatches`: `*` matches any run of characters, `\*` a literal star.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts: Vec<String> = vec![String::new()];
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => parts.last_mut().unwrap().extend(chars.next()),
            '*' => parts.push(String::new()),
            c => parts.last_mut().unwrap().push(c),
        }
    }
    let (first, rest) = parts.split_first().expect("at least one part");
    let Some(mut remaining) = text.strip_prefix(first.as_str()) else {
        return false;
    };
    if rest.is_empty() {
        return remaining.is_empty();
    }
    let (last, middle) = rest.split_last().expect("non-empty");
    for part in middle {
        match remaining.find(part.as_str()) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.ends_with(last.as_str())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::state::ChoiceRule;

    fn holds(rule: Value, input: Value) -> Result<bool, EvalError> {
        let mut rule = rule;
        rule["Next"] = json!("X");
        let rule: ChoiceRule = serde_json::from_value(rule).unwrap();
        rule.condition.holds(&input, &Variables::new())
    }

    #[test]
    fn comparisons_of_each_family() {
        let input = json!({"n": 3, "s": "b", "t": "2024-01-02T00:00:00Z", "m": 5, "f": true});
        for (rule, expected) in [
            (json!({"Variable": "$.n", "NumericGreaterThan": 2}), true),
            (
                json!({"Variable": "$.n", "NumericLessThanEqualsPath": "$.m"}),
                true,
            ),
            (json!({"Variable": "$.s", "StringLessThan": "a"}), false),
            (json!({"Variable": "$.s", "NumericEquals": 3}), false),
            (
                json!({"Variable": "$.t", "TimestampGreaterThan": "2024-01-01T00:00:00Z"}),
                true,
            ),
            (json!({"Variable": "$.f", "BooleanEquals": true}), true),
            (json!({"Variable": "$.s", "StringMatches": "*b"}), true),
            (json!({"Variable": "$.t", "IsTimestamp": true}), true),
            (json!({"Variable": "$.nope", "IsPresent": false}), true),
            (
                json!({"Not": {"Variable": "$.n", "IsNumeric": true}}),
                false,
            ),
            (
                json!({"And": [{"Variable": "$.n", "IsNumeric": true}, {"Variable": "$.s", "StringEquals": "b"}]}),
                true,
            ),
        ] {
            assert_eq!(holds(rule.clone(), input.clone()), Ok(expected), "{rule}");
        }
    }

    #[test]
    fn a_missing_variable_fails_the_state() {
        let err = holds(json!({"Variable": "$.x", "IsNull": true}), json!({})).unwrap_err();
        assert!(err.to_string().contains("Invalid path '$.x'"), "{err}");
    }

    #[test]
    fn string_matches_reads_stars_and_escapes() {
        assert!(glob_matches("log-*.txt", "log-1.txt"));
        assert!(glob_matches("a\\*b", "a*b"));
        assert!(!glob_matches("a\\*b", "axb"));
        assert!(glob_matches("*", ""));
    }
}
