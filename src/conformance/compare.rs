//! Comparing what the runner did with what AWS recorded: the status and error name must be
//! equal, outputs are compared as JSON values (numbers by value, object keys in any order), a
//! recorded string may be a redaction wildcard, and causes are compared softly (counted, never
//! failing a case). The payloads sent to the stub functions are checked against the recorded
//! ones ([`check_payloads`]), softly too.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::case::{Outcome, RecordedFunction, Response, Status};

/// The replacement values of the transformers every recorded snapshot applies: wherever one of
/// these is expected, any actual value matches.
const GLOBAL_WILDCARDS: [&str; 11] = [
    "snf_role_arn",
    "sfn_role_arn",
    "start-time",
    "entered-time",
    "timestamp",
    "date",
    "RequestId",
    "X-Amzn-Trace-Id",
    "x-amz-crc32",
    "x-amzn-RequestId",
    "x-amzn-requestid",
];

/// The names that stand for any value in one case's expected outcome: snapshot placeholders
/// (`<uuid:1>`), the case's own wildcards and the global ones.
pub struct Wildcards<'c> {
    names: Vec<&'c str>,
}

impl<'c> Wildcards<'c> {
    pub fn new(case_wildcards: &'c [String]) -> Self {
        let mut names: Vec<&str> = case_wildcards
            .iter()
            .map(String::as_str)
            .filter(|name| !name.is_empty())
            .chain(GLOBAL_WILDCARDS)
            .collect();
        // The longest first, so that a name inside another never splits it.
        names.sort_by_key(|name| std::cmp::Reverse(name.len()));
        Self { names }
    }

    /// Whether the whole `expected` string is a wildcard (it then matches any value).
    fn is_whole(&self, expected: &str) -> bool {
        placeholder_len(expected) == Some(expected.len()) || self.names.contains(&expected)
    }

    /// The length of the wildcard that starts `text`, if one does.
    fn wildcard_at(&self, text: &str) -> Option<usize> {
        placeholder_len(text).or_else(|| {
            self.names
                .iter()
                .find(|name| text.starts_with(**name))
                .map(|name| name.len())
        })
    }

    /// Whether `actual` is `expected`, each wildcard inside `expected` matching any text.
    pub fn matches_text(&self, expected: &str, actual: &str) -> bool {
        if expected == actual {
            return true;
        }
        // The literal parts between wildcards, in order.
        let mut literals = vec![String::new()];
        let mut rest = expected;
        while let Some(c) = rest.chars().next() {
            match self.wildcard_at(rest) {
                Some(len) => {
                    literals.push(String::new());
                    rest = &rest[len..];
                }
                None => {
                    literals.last_mut().expect("never empty").push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        glob_matches(&literals, actual)
    }
}

/// The length of the snapshot placeholder `<[A-Za-z_][A-Za-z0-9_:.\-]*>` that starts `text`.
fn placeholder_len(text: &str) -> Option<usize> {
    let inner = text.strip_prefix('<')?;
    let first = inner.chars().next()?;
    if !(first.is_ascii_alphabetic() || first == '_') {
        return None;
    }
    let end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || "_:.-".contains(c)))?;
    inner[end..].starts_with('>').then_some(end + 2)
}

/// Whether `text` is `literals` joined by runs of any text (the first at the start, the last at
/// the end).
fn glob_matches(literals: &[String], text: &str) -> bool {
    let (first, rest) = literals.split_first().expect("at least one literal");
    let Some(mut remaining) = text.strip_prefix(first.as_str()) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    // The leftmost occurrence of each middle literal leaves the most text for the rest.
    for literal in middle {
        match remaining.find(literal.as_str()) {
            Some(at) => remaining = &remaining[at + literal.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last.as_str())
}

/// Two JSON values are the same: objects with the same keys in any order, numbers by value.
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => same_number(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, a)| y.get(key).is_some_and(|b| same_json(a, b)))
        }
        _ => a == b,
    }
}

fn same_number(x: &serde_json::Number, y: &serde_json::Number) -> bool {
    if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
        return x == y;
    }
    x.as_f64() == y.as_f64()
}

/// What comparing an actual outcome with the expected one found.
#[derive(Debug, Default, PartialEq)]
pub struct Verdict {
    /// The first difference that fails the case, where it is (`$.a[0]`) and what it is.
    pub difference: Option<String>,
    /// Causes compared softly (the execution's, and every `Cause` inside the output)...
    pub causes_compared: u32,
    /// ...and how many of them matched.
    pub causes_matched: u32,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.difference.is_none()
    }
}

/// Compares the runner's outcome with the recorded one.
pub fn compare<'a>(
    expected: &'a Outcome,
    actual: &'a Outcome,
    wildcards: &Wildcards<'_>,
) -> Verdict {
    let mut walk = Walk::new(wildcards);
    let null = Value::Null;
    let difference = if expected.status != actual.status {
        Some(format!(
            "status: expected {}, actual {}",
            expected.status, actual.status
        ))
    } else if expected.status == Status::Succeeded {
        let output = |outcome: &'a Outcome| outcome.output.as_ref().unwrap_or(&null);
        walk.value("$", output(expected), output(actual))
    } else {
        let cause = |outcome: &'a Outcome| outcome.cause.as_ref().unwrap_or(&null);
        walk.count_cause(cause(expected), cause(actual));
        let shown = |error: &Option<String>| match error {
            Some(name) => format!("`{name}`"),
            None => "no error name".to_owned(),
        };
        (expected.error != actual.error).then(|| {
            format!(
                "error: expected {}, actual {}",
                shown(&expected.error),
                shown(&actual.error)
            )
        })
    };
    Verdict {
        difference,
        causes_compared: walk.causes_compared,
        causes_matched: walk.causes_matched,
    }
}

/// One recursive comparison of an output, counting the causes it compares softly.
struct Walk<'w, 'c> {
    wildcards: &'w Wildcards<'c>,
    causes_compared: u32,
    causes_matched: u32,
}

impl<'w, 'c> Walk<'w, 'c> {
    fn new(wildcards: &'w Wildcards<'c>) -> Self {
        Self {
            wildcards,
            causes_compared: 0,
            causes_matched: 0,
        }
    }

    /// Counts a cause compared softly: it matches when it is the same text (wildcards allowed),
    /// or the same JSON value where either side is JSON text.
    fn count_cause(&mut self, expected: &Value, actual: &Value) {
        let parsed = |value: &Value| match value {
            Value::String(text) => serde_json::from_str(text).unwrap_or_else(|_| value.clone()),
            Value::Null => Value::String(String::new()),
            other => other.clone(),
        };
        let mut alone = Walk::new(self.wildcards);
        let matched = alone.value("$", expected, actual).is_none()
            || alone
                .value("$", &parsed(expected), &parsed(actual))
                .is_none();
        self.causes_compared += 1;
        self.causes_matched += u32::from(matched);
    }

    /// The first difference between `expected` and `actual` at `path`, if any.
    fn value(&mut self, path: &str, expected: &Value, actual: &Value) -> Option<String> {
        let differ = || {
            Some(format!(
                "at {path}: expected {}, actual {}",
                compact(expected, 120),
                compact(actual, 120)
            ))
        };
        match (expected, actual) {
            (Value::String(e), _) if self.wildcards.is_whole(e) => None,
            (Value::String(e), Value::String(a)) => {
                (!self.wildcards.matches_text(e, a)).then(differ).flatten()
            }
            (Value::Number(e), Value::Number(a)) => (!same_number(e, a)).then(differ).flatten(),
            (Value::Array(e), Value::Array(a)) => {
                if e.len() != a.len() {
                    return Some(format!(
                        "at {path}: expected {} items, actual {}",
                        e.len(),
                        a.len()
                    ));
                }
                e.iter()
                    .zip(a)
                    .enumerate()
                    .find_map(|(at, (e, a))| self.value(&format!("{path}[{at}]"), e, a))
            }
            (Value::Object(e), Value::Object(a)) => {
                let missing: Vec<&str> = e
                    .keys()
                    .filter(|key| !a.contains_key(*key))
                    .map(String::as_str)
                    .collect();
                let extra: Vec<&str> = a
                    .keys()
                    .filter(|key| !e.contains_key(*key))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() || !extra.is_empty() {
                    return Some(format!(
                        "at {path}: missing keys {missing:?}, unexpected keys {extra:?}"
                    ));
                }
                for (key, e) in e {
                    let a = &a[key];
                    if key == "Cause" {
                        self.count_cause(e, a);
                        continue;
                    }
                    if let Some(difference) = self.value(&format!("{path}.{key}"), e, a) {
                        return Some(difference);
                    }
                }
                None
            }
            _ => (expected != actual).then(differ).flatten(),
        }
    }
}

/// How the payloads sent to a case's stub functions compare with the payloads AWS sent.
#[derive(Debug, PartialEq)]
pub enum PayloadCheck {
    /// No stub has a recorded payload to check a call against.
    Unchecked,
    /// Every function was sent its recorded payloads, as a multiset.
    Same,
    /// The first function whose payloads differ.
    Differs(PayloadDifference),
}

/// Where a function's payloads first differ from the recorded ones.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PayloadDifference {
    pub function: String,
    /// A recorded payload no call matched; `None` for a call beyond the recorded ones.
    pub expected: Option<Value>,
    /// A call that matched no recorded payload; `None` when the runner made no such call.
    pub actual: Option<Value>,
}

/// Checks the payloads each stub was sent (`sent`, by function name) against the recorded
/// invocations, as a multiset per function (order is free: Map iterations and Parallel branches
/// run in any order), each recorded payload matching as an expected output does (wildcards
/// included). Following FORMAT.md's "Lambda stubs":
/// - a recorded invocation without a payload, or an echo (a Distributed Map child's call,
///   whose history AWS did not record), stands for one call with any payload;
/// - a function with no recorded payload at all is not checked;
/// - a call beyond the recorded invocations (the stub repeating its last response) is a
///   difference, and so is a recorded payload no call matched.
pub fn check_payloads(
    recorded: &BTreeMap<String, RecordedFunction>,
    sent: &BTreeMap<String, Vec<Value>>,
    wildcards: &Wildcards<'_>,
) -> PayloadCheck {
    let mut checked = false;
    for (function, recording) in recorded {
        let mut expected = Vec::new();
        let mut free = 0;
        for invocation in &recording.invocations {
            match (&invocation.payload, &invocation.response) {
                (Some(payload), response) if *response != Response::Echoes => {
                    expected.push(payload)
                }
                _ => free += 1,
            }
        }
        if expected.is_empty() {
            continue;
        }
        checked = true;
        let calls = sent.get(function).map_or(&[][..], Vec::as_slice);
        let matches = |e: usize, c: usize| {
            Walk::new(wildcards)
                .value("$", expected[e], &calls[c])
                .is_none()
        };
        let call_of = max_matching(expected.len(), calls.len(), matches);
        let used: Vec<bool> = (0..calls.len())
            .map(|c| call_of.contains(&Some(c)))
            .collect();
        let mut unmatched_calls = (0..calls.len()).filter(|c| !used[*c]);
        let missing = call_of.iter().position(Option::is_none);
        let difference = match missing {
            Some(e) => Some((Some(expected[e].clone()), unmatched_calls.next())),
            // Unmatched calls take the free invocations first; any left are extra.
            None => unmatched_calls.nth(free).map(|extra| (None, Some(extra))),
        };
        if let Some((expected, actual)) = difference {
            return PayloadCheck::Differs(PayloadDifference {
                function: function.clone(),
                expected,
                actual: actual.map(|c| calls[c].clone()),
            });
        }
    }
    if checked {
        PayloadCheck::Same
    } else {
        PayloadCheck::Unchecked
    }
}

/// A maximum matching of `left` items to `right` items where `fits(l, r)`: for each left item,
/// its right item (Kuhn's augmenting paths; a case has a handful of calls per function).
fn max_matching(
    left: usize,
    right: usize,
    fits: impl Fn(usize, usize) -> bool,
) -> Vec<Option<usize>> {
    let fits: Vec<Vec<bool>> = (0..left)
        .map(|l| (0..right).map(|r| fits(l, r)).collect())
        .collect();
    let mut left_of: Vec<Option<usize>> = vec![None; right];
    fn augment(
        l: usize,
        fits: &[Vec<bool>],
        seen: &mut [bool],
        left_of: &mut [Option<usize>],
    ) -> bool {
        for r in 0..seen.len() {
            if fits[l][r] && !seen[r] {
                seen[r] = true;
                if left_of[r].is_none_or(|other| augment(other, fits, seen, left_of)) {
                    left_of[r] = Some(l);
                    return true;
                }
            }
        }
        false
    }
    for l in 0..left {
        augment(l, &fits, &mut vec![false; right], &mut left_of);
    }
    let mut right_of = vec![None; left];
    for (r, l) in left_of.iter().enumerate() {
        if let Some(l) = l {
            right_of[*l] = Some(r);
        }
    }
    right_of
}

/// `value` as compact JSON, cut to about `limit` characters.
pub fn compact(value: &Value, limit: usize) -> String {
    let text = value.to_string();
    truncate(&text, limit)
}

/// `text` cut to `limit` characters, with `…` when cut.
pub fn truncate(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn succeeded(output: Value) -> Outcome {
        Outcome {
            status: Status::Succeeded,
            output: Some(output),
            error: None,
            cause: None,
        }
    }

    fn failed(error: Option<&str>, cause: Value) -> Outcome {
        Outcome {
            status: Status::Failed,
            output: None,
            error: error.map(str::to_owned),
            cause: Some(cause),
        }
    }

    fn passes(expected: Value, actual: Value, case_wildcards: &[&str]) -> bool {
        let names: Vec<String> = case_wildcards.iter().map(|w| (*w).to_owned()).collect();
        compare(
            &succeeded(expected),
            &succeeded(actual),
            &Wildcards::new(&names),
        )
        .passed()
    }

    #[test]
    fn outputs_compare_as_json_values() {
        assert!(passes(
            json!({"a": 1, "b": [true, null]}),
            json!({"b": [true, null], "a": 1.0}),
            &[]
        ));
        assert!(!passes(json!({"a": 1}), json!({"a": true}), &[]));
        assert!(!passes(json!({"a": 1}), json!({"a": 1, "b": 2}), &[]));
        assert!(!passes(json!([1, 2]), json!([2, 1]), &[]));
        assert!(!passes(json!("1"), json!(1), &[]));
    }

    #[test]
    fn a_whole_wildcard_matches_any_value_and_an_inner_one_any_text() {
        assert!(passes(
            json!({"t": "<uuid:1>"}),
            json!({"t": {"any": 1}}),
            &[]
        ));
        assert!(passes(json!("RandomNumber"), json!(42), &["RandomNumber"]));
        assert!(passes(
            json!({"s": "start-time"}),
            json!({"s": "2026"}),
            &[]
        ));
        let arn = "arn:<partition>:states:<region>:111111111111:mapRun:<ArnPart_0idx>/TestMap:<MapRunArnPart1_0idx>";
        assert!(passes(
            json!(arn),
            json!("arn:aws:states:us-east-1:111111111111:mapRun:sm/TestMap:0a1b"),
            &[]
        ));
        assert!(!passes(
            json!(arn),
            json!("arn:aws:states:us-east-1:111111111111:mapRun:sm/Other:0a1b"),
            &[]
        ));
        assert!(passes(
            json!("fn=lambda_name!"),
            json!("fn=my-fn!"),
            &["lambda_name"]
        ));
        // Not a placeholder: `<` must open a name.
        assert!(!passes(json!("<1>"), json!("x"), &[]));
    }

    #[test]
    fn status_and_error_fail_a_case_but_causes_are_only_counted() {
        let wildcards = Wildcards::new(&[]);
        let expected = failed(
            Some("E"),
            json!({"errorMessage": "m", "requestId": "<uuid:1>"}),
        );
        let same_cause = failed(
            Some("E"),
            json!("{\"requestId\": \"x\", \"errorMessage\": \"m\"}"),
        );
        let verdict = compare(&expected, &same_cause, &wildcards);
        assert!(verdict.passed());
        assert_eq!((verdict.causes_compared, verdict.causes_matched), (1, 1));
        let other_cause = compare(&expected, &failed(Some("E"), json!("other")), &wildcards);
        assert!(other_cause.passed());
        assert_eq!(other_cause.causes_matched, 0);
        let other_error = compare(&expected, &failed(None, json!("")), &wildcards);
        assert_eq!(
            other_error.difference.as_deref(),
            Some("error: expected `E`, actual no error name")
        );
        let status = compare(&expected, &succeeded(json!({})), &wildcards);
        assert_eq!(
            status.difference.as_deref(),
            Some("status: expected FAILED, actual SUCCEEDED")
        );
    }

    #[test]
    fn a_cause_inside_the_output_is_compared_softly() {
        let verdict = compare(
            &succeeded(json!({"Error": "E", "Cause": "AWS's wording"})),
            &succeeded(json!({"Error": "E", "Cause": "ours"})),
            &Wildcards::new(&[]),
        );
        assert!(verdict.passed());
        assert_eq!((verdict.causes_compared, verdict.causes_matched), (1, 0));
    }

    #[test]
    fn the_first_difference_says_where_it_is() {
        let verdict = compare(
            &succeeded(json!({"a": [1, {"b": 2}]})),
            &succeeded(json!({"a": [1, {"b": 3}]})),
            &Wildcards::new(&[]),
        );
        assert_eq!(
            verdict.difference.as_deref(),
            Some("at $.a[1].b: expected 2, actual 3")
        );
    }

    fn function(invocations: &[(Option<Value>, Response)]) -> RecordedFunction {
        RecordedFunction {
            invocations: invocations
                .iter()
                .map(
                    |(payload, response)| crate::conformance::case::RecordedInvocation {
                        payload: payload.clone(),
                        response: response.clone(),
                    },
                )
                .collect(),
        }
    }

    fn check(recorded: RecordedFunction, sent: &[Value]) -> PayloadCheck {
        let recorded = BTreeMap::from([("f".to_owned(), recorded)]);
        let sent = BTreeMap::from([("f".to_owned(), sent.to_vec())]);
        check_payloads(&recorded, &sent, &Wildcards::new(&[]))
    }

    fn ok(payload: Value) -> (Option<Value>, Response) {
        (Some(payload), Response::Returns(json!(null)))
    }

    fn differs(expected: Option<Value>, actual: Option<Value>) -> PayloadCheck {
        PayloadCheck::Differs(PayloadDifference {
            function: "f".into(),
            expected,
            actual,
        })
    }

    #[test]
    fn payloads_compare_as_a_multiset_with_wildcards() {
        let recorded = function(&[ok(json!({"i": 1})), ok(json!({"i": 2, "t": "<uuid:1>"}))]);
        assert_eq!(
            check(
                recorded.clone(),
                &[json!({"i": 2, "t": "x"}), json!({"i": 1.0})]
            ),
            PayloadCheck::Same,
            "in any order, numbers by value, placeholders matching any text"
        );
        // A wildcard payload must not take the call only the other recorded payload fits.
        let loose = function(&[ok(json!("<any>")), ok(json!({"i": 1}))]);
        assert_eq!(
            check(loose, &[json!({"i": 1}), json!(7)]),
            PayloadCheck::Same
        );
    }

    #[test]
    fn a_missing_or_an_extra_call_is_a_difference() {
        let recorded = function(&[ok(json!({"i": 1})), ok(json!({"i": 2}))]);
        assert_eq!(
            check(recorded.clone(), &[json!({"i": 2})]),
            differs(Some(json!({"i": 1})), None)
        );
        assert_eq!(
            check(recorded.clone(), &[json!({"i": 2}), json!({"i": 3})]),
            differs(Some(json!({"i": 1})), Some(json!({"i": 3})))
        );
        assert_eq!(
            check(
                recorded,
                &[json!({"i": 2}), json!({"i": 1}), json!({"i": 1})]
            ),
            differs(None, Some(json!({"i": 1}))),
            "a call beyond the recorded ones"
        );
    }

    #[test]
    fn unrecorded_payloads_and_echoes_stand_for_any_one_call() {
        let partly = function(&[
            ok(json!({"i": 1})),
            (None, Response::Returns(json!(null))),
            (Some(json!({"i": 9})), Response::Echoes),
        ]);
        assert_eq!(
            check(
                partly.clone(),
                &[json!({"i": 5}), json!({"i": 1}), json!("x")]
            ),
            PayloadCheck::Same
        );
        assert_eq!(
            check(partly, &[json!(1), json!({"i": 1}), json!(2), json!(3)]),
            differs(None, Some(json!(3)))
        );
        let echoes_only = function(&[(Some(json!({"i": 1})), Response::Echoes)]);
        assert_eq!(check(echoes_only, &[json!(2)]), PayloadCheck::Unchecked);
        assert_eq!(check(function(&[]), &[json!(2)]), PayloadCheck::Unchecked);
    }
}
