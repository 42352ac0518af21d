//! JSONPath as Amazon States Language uses it: reference paths (`$`, `$.a.b`, `$['a'][0]`) for
//! InputPath, ResultPath, OutputPath and ItemsPath, and the wider selection paths (`[*]`, `..`,
//! slices) allowed in `.$` fields of payload templates.
//!
//! Filter expressions (`[?(...)]`) are not supported: parsing one is an error that says so, rather
//! than a silent mismatch with AWS.

use std::fmt;

use serde_json::{Map, Value};

/// One step of a parsed path.
#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Field(String),
    Index(i64),
    Wildcard,
    Slice {
        start: Option<i64>,
        end: Option<i64>,
        step: i64,
    },
    /// `..x`: the step applied to the value and to every value below it.
    Descendants(Box<Segment>),
}

/// A parsed JSONPath starting at `$`.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

/// A path that does not parse: names the path and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSONPath `{path}`: {reason}")]
pub struct PathError {
    pub path: String,
    pub reason: String,
}

/// Why a ResultPath could not place the result into the state input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    #[error("the path `{0}` selects more than one value; a ResultPath must be a reference path")]
    NotDefinite(String),
    #[error("the path `{path}` goes through a value that is not an object or array")]
    NotAContainer { path: String },
    #[error("the path `{path}` indexes past the end of an array")]
    IndexOutOfRange { path: String },
}

impl JsonPath {
    /// Parses `text`, which must start with `$`.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        Parser {
            text,
            bytes: text.as_bytes(),
            at: 0,
        }
        .parse()
    }

    /// The root path `$`.
    pub fn root() -> Self {
        Self {
            text: "$".to_owned(),
            segments: Vec::new(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A reference path selects at most one value (no wildcard, slice or descendants).
    pub fn is_definite(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Field(_) | Segment::Index(_)))
    }

    /// What the path selects in `value`, as AWS returns it: the one value for a reference path
    /// (`None` when absent), an array of every match otherwise.
    pub fn select(&self, value: &Value) -> Option<Value> {
        let matches = self.matches(value);
        if self.is_definite() {
            matches.into_iter().next().cloned()
        } else {
            Some(Value::Array(matches.into_iter().cloned().collect()))
        }
    }

    fn matches<'v>(&self, value: &'v Value) -> Vec<&'v Value> {
        let mut current = vec![value];
        for segment in &self.segments {
            let mut next = Vec::new();
            for v in current {
                apply(segment, v, &mut next);
            }
            current = next;
        }
        current
    }

    /// Places `result` at this path inside `target`, creating missing objects on the way, as a
    /// ResultPath does. `$` replaces the target.
    pub fn set(&self, target: &mut Value, result: Value) -> Result<(), SetError> {
        if !self.is_definite() {
            return Err(SetError::NotDefinite(self.text.clone()));
        }
        let mut slot = target;
        for segment in &self.segments {
            slot = match segment {
                Segment::Field(name) => {
                    if slot.is_null() {
                        *slot = Value::Object(Map::new());
                    }
                    match slot {
                        Value::Object(map) => map.entry(name.clone()).or_insert(Value::Null),
                        _ => {
                            return Err(SetError::NotAContainer {
                                path: self.text.clone(),
                            });
                        }
                    }
                }
                Segment::Index(index) => match slot {
                    Value::Array(items) => {
                        let at = resolve_index(*index, items.len()).ok_or_else(|| {
                            SetError::IndexOutOfRange {
                                path: self.text.clone(),
                            }
                        })?;
                        &mut items[at]
                    }
                    _ => {
                        return Err(SetError::NotAContainer {
                            path: self.text.clone(),
                        });
                    }
                },
                _ => unreachable!("checked definite above"),
            };
        }
        *slot = result;
        Ok(())
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let at = if index < 0 { len + index } else { index };
    (0..len).contains(&at).then_some(at as usize)
}

fn apply<'v>(segment: &Segment, value: &'v Value, out: &mut Vec<&'v Value>) {
    match segment {
        Segment::Field(name) => {
            if let Some(v) = value.as_object().and_then(|m| m.get(name)) {
                out.push(v);
            }
        }
        Segment::Index(index) => {
            if let Some(items) = value.as_array()
                && let Some(at) = resolve_index(*index, items.len())
            {
                out.push(&items[at]);
            }
        }
        Segment::Wildcard => match value {
            Value::Array(items) => out.extend(items.iter()),
            Value::Object(map) => out.extend(map.values()),
            _ => {}
        },
        Segment::Slice { start, end, step } => {
            if let Some(items) = value.as_array() {
                let len = items.len() as i64;
                let clamp = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
                let from = start.map_or(0, clamp);
                let to = end.map_or(len, clamp);
                let mut i = from;
                while i < to {
                    out.push(&items[i as usize]);
                    i += step;
                }
            }
        }
        Segment::Descendants(inner) => {
            apply(inner, value, out);
            match value {
                Value::Array(items) => items.iter().for_each(|v| apply(segment, v, out)),
                Value::Object(map) => map.values().for_each(|v| apply(segment, v, out)),
                _ => {}
            }
        }
    }
}

struct Parser<'t> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, reason: impl Into<String>) -> PathError {
        PathError {
            path: self.text.to_owned(),
            reason: reason.into(),
        }
    }

    fn parse(mut self) -> Result<JsonPath, PathError> {
        if self.bytes.first() != Some(&b'$') {
            return Err(self.error("a path must start with `$`"));
        }
        self.at = 1;
        let mut segments = Vec::new();
        while self.at < self.bytes.len() {
            match self.bytes[self.at] {
                b'.' if self.bytes.get(self.at + 1) == Some(&b'.') => {
                    self.at += 2;
                    let inner = if self.bytes.get(self.at) == Some(&b'[') {
                        self.bracket()?
                    } else {
                        self.dotted()?
                    };
                    segments.push(Segment::Descendants(Box::new(inner)));
                }
                b'.' => {
                    self.at += 1;
                    segments.push(self.dotted()?);
                }
                b'[' => segments.push(self.bracket()?),
                _ => return Err(self.error(format!("unexpected character at {}", self.at))),
            }
        }
        Ok(JsonPath {
            text: self.text.to_owned(),
            segments,
        })
    }

    fn dotted(&mut self) -> Result<Segment, PathError> {
        let start = self.at;
        while self.at < self.bytes.len() && !matches!(self.bytes[self.at], b'.' | b'[') {
            self.at += 1;
        }
        match &self.text[start..self.at] {
            "" => Err(self.error("a `.` must be followed by a field name")),
            "*" => Ok(Segment::Wildcard),
            name => Ok(Segment::Field(name.to_owned())),
        }
    }

    fn bracket(&mut self) -> Result<Segment, PathError> {
        self.at += 1; // '['
        let close = self.text[self.at..]
            .find(']')
            .map(|i| self.at + i)
            .ok_or_else(|| self.error("`[` without `]`"))?;
        let inside = self.text[self.at..close].trim();
        let segment = if let Some(quoted) = inside
            .strip_prefix('\'')
            .and_then(|s| s.strip_suffix('\''))
            .or_else(|| inside.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
        {
            Segment::Field(quoted.to_owned())
        } else if inside == "*" {
            Segment::Wildcard
        } else if inside.starts_with('?') || inside.starts_with('(') {
            return Err(self.error("filter and script expressions are not supported"));
        } else if inside.contains(':') {
            let parts: Vec<&str> = inside.split(':').collect();
            let num = |s: &str| -> Result<Option<i64>, PathError> {
                let s = s.trim();
                if s.is_empty() {
                    Ok(None)
                } else {
                    s.parse()
                        .map(Some)
                        .map_err(|_| self.error(format!("`{s}` is not an integer")))
                }
            };
            let step = match parts.get(2) {
                Some(s) => num(s)?.unwrap_or(1),
                None => 1,
            };
            if parts.len() > 3 || step < 1 {
                return Err(self.error("a slice is [start:end] or [start:end:step] with step >= 1"));
            }
            Segment::Slice {
                start: num(parts[0])?,
                end: num(parts[1])?,
                step,
            }
        } else {
            Segment::Index(inside.parse().map_err(|_| {
                self.error(format!("`[{inside}]` is not an index or a quoted name"))
            })?)
        };
        self.at = close + 1;
        Ok(segment)
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
    fn bad_paths_are_rejected_with_the_reason() {
        for bad in ["a.b", "$.", "$[", "$[?(@.a)]", "$[x]", "$.a[1:2:0]"] {
            let err = JsonPath::parse(bad).unwrap_err();
            assert_eq!(err.path, bad);
        }
    }

    #[test]
    fn set_creates_missing_objects_and_refuses_scalars() {
        let mut v = json!({"a": 1});
        JsonPath::parse("$.r.s")
            .unwrap()
            .set(&mut v, json!(true))
            .unwrap();
        assert_eq!(v, json!({"a": 1, "r": {"s": true}}));
        let err = JsonPath::parse("$.a.b").unwrap().set(&mut v, json!(0));
        assert!(matches!(err, Err(SetError::NotAContainer { .. })));
        JsonPath::root().set(&mut v, json!([1])).unwrap();
        assert_eq!(v, json!([1]));
        assert!(
            JsonPath::parse("$[*]")
                .unwrap()
                .set(&mut v, json!(0))
                .is_err()
        );
    }
}
