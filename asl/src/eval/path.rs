//! Selecting with a [`JsonPath`] and reading or writing with a [`ReferencePath`], as AWS does.

use serde_json::{Map, Value};

use super::Variables;
use crate::path::json::Step;
use crate::path::{JsonPath, ReferencePath, Segment};

/// Why a ResultPath could not place the result into the state input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    /// A step of the path reaches a value that is not an object or array.
    #[error("the path `{path}` goes through a value that is not an object or array")]
    NotAContainer {
        /// The ResultPath, as written.
        path: String,
    },
    /// An index step is past the end of its array.
    #[error("the path `{path}` indexes past the end of an array")]
    IndexOutOfRange {
        /// The ResultPath, as written.
        path: String,
    },
}

impl ReferencePath {
    /// Why this path selects nothing in `value`, in the words of the JSONPath library AWS
    /// evaluates with (Jayway): a missing last step is "No results for path: $['a']['b']", a
    /// missing step before it "Missing property in path $['a']". AWS's InputPath and
    /// OutputPath causes end with it ("Invalid path '$.Payload' : No results for path:
    /// $['Payload']").
    pub fn not_found_in(&self, value: &Value) -> String {
        let bracketed = |segments: &[Segment]| {
            segments.iter().fold("$".to_owned(), |mut text, segment| {
                match segment {
                    Segment::Field(name) => text.push_str(&format!("['{name}']")),
                    Segment::Index(index) => text.push_str(&format!("[{index}]")),
                }
                text
            })
        };
        let segments = self.segments();
        let whole = || format!("No results for path: {}", bracketed(segments));
        if self.variable().is_some() {
            return whole();
        }
        let mut current = value;
        for (at, segment) in segments.iter().enumerate() {
            let next = match (segment, current) {
                (Segment::Field(name), Value::Object(members)) => members.get(name),
                (Segment::Index(index), Value::Array(items)) => items.get(*index),
                _ => None,
            };
            match next {
                Some(next) => current = next,
                None if at + 1 < segments.len() && matches!(segment, Segment::Field(_)) => {
                    return format!("Missing property in path {}", bracketed(&segments[..=at]));
                }
                None => return whole(),
            }
        }
        whole()
    }
}

impl JsonPath {
    /// What the path selects in `value`, as AWS returns it: the one value for a path of names
    /// and indices (`None` when absent; a name list last gives an object of those fields), an
    /// array of every match otherwise.
    pub fn select(&self, value: &Value) -> Option<Value> {
        let (fields, steps) = match self.steps.split_last() {
            Some((Step::Fields(names), steps)) => (Some(names), steps),
            _ => (None, self.steps.as_slice()),
        };
        let mut current = vec![value];
        for segment in steps {
            let mut next = Vec::new();
            for v in current {
                apply(segment, v, value, &mut next);
            }
            current = next;
        }
        let definite = steps
            .iter()
            .all(|s| matches!(s, Step::Field(_) | Step::Index(_)));
        let mut selected = current.into_iter().filter_map(|v| match fields {
            None => Some(v.clone()),
            Some(names) => v.as_object().map(|object| {
                let picked: Map<String, Value> = names
                    .iter()
                    .filter_map(|name| Some((name.clone(), object.get(name)?.clone())))
                    .collect();
                Value::Object(picked)
            }),
        });
        if definite {
            selected.next()
        } else {
            Some(Value::Array(selected.collect()))
        }
    }
}

impl JsonPath {
    /// What the path selects: in the variable it names (`$name...`), else in `input`. `None`
    /// for a variable that is not set.
    pub fn select_in(&self, input: &Value, variables: &Variables) -> Option<Value> {
        match &self.variable {
            Some(name) => self.select(variables.get(name.as_str())?),
            None => self.select(input),
        }
    }
}

impl ReferencePath {
    /// The one value this path names: in the variable it reads (`$name...`), else in `input`.
    pub fn resolve<'v>(&self, input: &'v Value, variables: &'v Variables) -> Option<&'v Value> {
        match self.variable() {
            Some(name) => self.read(variables.get(name.as_str())?),
            None => self.read(input),
        }
    }

    /// The one value this path's steps name in `value`, if it is there (a variable it names is
    /// the caller's to resolve: see [`ReferencePath::resolve`]).
    pub fn read<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.segments()
            .iter()
            .try_fold(value, |value, segment| match segment {
                Segment::Field(name) => value.as_object()?.get(name),
                Segment::Index(index) => value.as_array()?.get(*index),
            })
    }

    /// Places `result` at this path inside `target`, creating missing objects on the way, as a
    /// ResultPath does. `$` replaces the target.
    pub fn set(&self, target: &mut Value, result: Value) -> Result<(), SetError> {
        let mut slot = target;
        for segment in self.segments() {
            slot = match segment {
                Segment::Field(name) => {
                    if slot.is_null() {
                        *slot = Value::Object(Map::new());
                    }
                    match slot {
                        Value::Object(map) => map.entry(name.clone()).or_insert(Value::Null),
                        _ => {
                            return Err(SetError::NotAContainer {
                                path: self.to_string(),
                            });
                        }
                    }
                }
                Segment::Index(index) => match slot {
                    Value::Array(items) => {
                        items
                            .get_mut(*index)
                            .ok_or_else(|| SetError::IndexOutOfRange {
                                path: self.to_string(),
                            })?
                    }
                    _ => {
                        return Err(SetError::NotAContainer {
                            path: self.to_string(),
                        });
                    }
                },
            };
        }
        *slot = result;
        Ok(())
    }
}

fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let at = if index < 0 { len + index } else { index };
    (0..len).contains(&at).then_some(at as usize)
}

/// Adds what `segment` selects in `value` to `out`; `root` is the whole document (for `$` in a
/// filter).
fn apply<'v>(segment: &Step, value: &'v Value, root: &Value, out: &mut Vec<&'v Value>) {
    match segment {
        Step::Field(name) => {
            if let Some(v) = value.as_object().and_then(|m| m.get(name)) {
                out.push(v);
            }
        }
        Step::Index(index) => apply(&Step::Indices(vec![*index]), value, root, out),
        Step::Indices(indices) => {
            if let Some(items) = value.as_array() {
                out.extend(
                    indices
                        .iter()
                        .filter_map(|index| resolve_index(*index, items.len()))
                        .map(|at| &items[at]),
                );
            }
        }
        Step::Wildcard => match value {
            Value::Array(items) => out.extend(items.iter()),
            Value::Object(map) => out.extend(map.values()),
            _ => {}
        },
        Step::Slice { start, end, step } => {
            if let Some(items) = value.as_array() {
                let len = items.len() as i64;
                let clamp = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
                let from = start.map_or(0, clamp);
                let to = end.map_or(len, clamp);
                // A step past the array's length (up to i64::MAX) ends the slice, never overflows.
                let mut i = from;
                while i < to {
                    out.push(&items[i as usize]);
                    match i.checked_add(*step) {
                        Some(next) => i = next,
                        None => break,
                    }
                }
            }
        }
        Step::Fields(names) => {
            if let Some(map) = value.as_object() {
                out.extend(names.iter().filter_map(|name| map.get(name)));
            }
        }
        Step::Filter(filter) => match value {
            Value::Array(items) => out.extend(items.iter().filter(|v| filter.accepts(v, root))),
            Value::Object(_) if filter.accepts(value, root) => out.push(value),
            _ => {}
        },
        Step::Descendants(inner) => {
            // A filter below `..` tests every object, as Jayway's deep scan does.
            match inner.as_ref() {
                Step::Filter(filter) => {
                    if value.is_object() && filter.accepts(value, root) {
                        out.push(value);
                    }
                }
                other => apply(other, value, root, out),
            }
            match value {
                Value::Array(items) => items.iter().for_each(|v| apply(segment, v, root, out)),
                Value::Object(map) => map.values().for_each(|v| apply(segment, v, root, out)),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(path: &str, value: &Value) -> Option<Value> {
        JsonPath::parse(path).unwrap().select(value)
    }

    #[test]
    fn reference_paths_select_one_value_or_none() {
        let v = json!({"a": {"b": [10, 20, 30]}, "c d": 1});
        assert_eq!(sel("$", &v), Some(v.clone()));
        assert_eq!(sel("$.a.b[1]", &v), Some(json!(20)));
        assert_eq!(sel("$['a']['b'][-1]", &v), Some(json!(30)));
        assert_eq!(sel("$['c d']", &v), Some(json!(1)));
        assert_eq!(sel("$.a.x", &v), None);
        assert_eq!(sel("$.a.b[3]", &v), None);
    }

    #[test]
    fn selection_paths_return_every_match_as_an_array() {
        let v = json!({"items": [{"id": 1}, {"id": 2}, {"x": 3}], "n": {"id": 9}});
        assert_eq!(sel("$.items[*].id", &v), Some(json!([1, 2])));
        assert_eq!(sel("$.items[0:2].id", &v), Some(json!([1, 2])));
        assert_eq!(sel("$..id", &v), Some(json!([1, 2, 9])));
        assert_eq!(sel("$.none[*]", &v), Some(json!([])));
    }

    #[test]
    fn slices_with_extreme_bounds_and_steps_select_without_overflow() {
        let v = json!({"a": [0, 1, 2, 3, 4]});
        assert_eq!(sel("$.a[1::9223372036854775807]", &v), Some(json!([1])));
        assert_eq!(
            sel("$.a[-9223372036854775808:]", &v),
            Some(json!([0, 1, 2, 3, 4]))
        );
        assert_eq!(sel("$.a[:-9223372036854775808]", &v), Some(json!([])));
        assert_eq!(
            sel(
                "$.a[-9223372036854775808:9223372036854775807:9223372036854775807]",
                &v
            ),
            Some(json!([0]))
        );
        assert_eq!(sel("$.a[9223372036854775807:]", &v), Some(json!([])));
        assert_eq!(sel("$.a[-9223372036854775808]", &v), None);
        // Normal slices as before.
        assert_eq!(sel("$.a[1:4:2]", &v), Some(json!([1, 3])));
        assert_eq!(sel("$.a[-2:]", &v), Some(json!([3, 4])));
        assert!(JsonPath::parse("$.a[1::-9223372036854775808]").is_err());
    }

    #[test]
    fn bad_paths_are_rejected_with_the_reason() {
        for bad in [
            "a.b",
            "$.",
            "$[",
            "$[?(@.a ==)]",
            "$[?@.a]",
            "$[(@.length-1)]",
            "$[x]",
            "$.a[1:2:0]",
            "$['a','b'].c",
        ] {
            let err = JsonPath::parse(bad).unwrap_err();
            assert_eq!(err.text, bad);
        }
    }

    #[test]
    fn filters_select_the_items_that_pass_in_any_position() {
        let users = json!([{"year": 1997, "name": "a", "status": 0},
                           {"year": 1998, "name": "b", "status": 1},
                           {"year": 2000, "last": "c", "status": 0}]);
        let v = json!({"users": users, "max": 1998});
        assert_eq!(
            sel("$.users[?(@.status == 0)].year", &v),
            Some(json!([1997, 2000]))
        );
        assert_eq!(
            sel("$.users[?(@.year <= $.max)].name", &v),
            Some(json!(["a", "b"]))
        );
        assert_eq!(sel("$.users[?(@.last)]", &v), Some(json!([users[2]])));
        // `$.[...]` is `$[...]`; a filter over an array at the root.
        assert_eq!(
            sel("$.[?(@.year < 1998 || @.status > 0)].name", &users),
            Some(json!(["a", "b"]))
        );
        assert_eq!(sel("$..[?(@.status == 1)].name", &v), Some(json!(["b"])));
        assert_eq!(sel("$.users[?(@.year > 3000)]", &v), Some(json!([])));
    }

    #[test]
    fn index_and_name_lists() {
        let v = json!({"a": [10, 20, 30], "b": {"x": 1, "y": 2, "z": 3}});
        assert_eq!(sel("$.a[0,2]", &v), Some(json!([10, 30])));
        assert_eq!(sel("$.a[-1,5]", &v), Some(json!([30])));
        assert_eq!(sel("$.b['x','z']", &v), Some(json!({"x": 1, "z": 3})));
        assert_eq!(sel("$.b['x', 'q']", &v), Some(json!({"x": 1})));
    }

    #[test]
    fn set_creates_missing_objects_and_refuses_scalars() {
        let path = |text| ReferencePath::parse(text).unwrap();
        let mut v = json!({"a": 1});
        path("$.r.s").set(&mut v, json!(true)).unwrap();
        assert_eq!(v, json!({"a": 1, "r": {"s": true}}));
        assert_eq!(path("$.r.s").read(&v), Some(&json!(true)));
        let err = path("$.a.b").set(&mut v, json!(0));
        assert!(matches!(err, Err(SetError::NotAContainer { .. })));
        ReferencePath::root().set(&mut v, json!([1])).unwrap();
        assert_eq!(v, json!([1]));
        assert!(matches!(
            path("$[3]").set(&mut v, json!(0)),
            Err(SetError::IndexOutOfRange { .. })
        ));
    }

    #[test]
    fn a_path_that_selects_nothing_is_explained_in_jayway_words() {
        // AWS's wording: "Invalid path '$.Payload' : No results for path: $['Payload']".
        let path = |text| ReferencePath::parse(text).unwrap();
        let input = json!({"a": {"b": 1}, "list": [1]});
        assert_eq!(
            path("$.Payload").not_found_in(&input),
            "No results for path: $['Payload']"
        );
        assert_eq!(
            path("$.a.c").not_found_in(&input),
            "No results for path: $['a']['c']"
        );
        assert_eq!(
            path("$.x.y").not_found_in(&input),
            "Missing property in path $['x']"
        );
        assert_eq!(
            path("$.list[4]").not_found_in(&input),
            "No results for path: $['list'][4]"
        );
    }
}
