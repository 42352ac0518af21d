//! JSONPath as Amazon States Language uses it (AWS evaluates it with Jayway's JsonPath): reference
//! paths (`$`, `$.a.b`, `$['a'][0]`) for ResultPath, and the wider selection paths (`[*]`, `..`,
//! slices, index lists `[0,2]`, name lists `['a','b']`, filter expressions `[?(@.x > 1)]`, see
//! [`filter`]) allowed in InputPath, OutputPath, ItemsPath and the `.$` fields of payload
//! templates.

mod filter;

use std::fmt;

use serde_json::{Map, Value};

use filter::Filter;

/// One step of a parsed path.
#[derive(Clone, Debug)]
enum Segment {
    Field(String),
    Index(i64),
    Wildcard,
    Slice {
        start: Option<i64>,
        end: Option<i64>,
        step: i64,
    },
    /// `[0,2]`: each listed index that exists.
    Indices(Vec<i64>),
    /// `['a','b']`: an object of the listed fields that exist (a path's last step only).
    Fields(Vec<String>),
    /// `[?(...)]`: the items of an array (or an object itself) that pass the filter.
    Filter(Box<Filter>),
    /// `..x`: the step applied to the value and to every value below it.
    Descendants(Box<Segment>),
}

/// A parsed JSONPath starting at `$`.
#[derive(Clone, Debug)]
pub struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

impl PartialEq for JsonPath {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
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

    /// A reference path: only names and indices, so it selects at most one value.
    fn is_reference(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Field(_) | Segment::Index(_)))
    }

    /// What the path selects in `value`, as AWS returns it: the one value for a path of names
    /// and indices (`None` when absent; a name list last gives an object of those fields), an
    /// array of every match otherwise.
    pub fn select(&self, value: &Value) -> Option<Value> {
        let (fields, steps) = match self.segments.split_last() {
            Some((Segment::Fields(names), steps)) => (Some(names), steps),
            _ => (None, self.segments.as_slice()),
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
            .all(|s| matches!(s, Segment::Field(_) | Segment::Index(_)));
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

    /// Places `result` at this path inside `target`, creating missing objects on the way, as a
    /// ResultPath does. `$` replaces the target.
    pub fn set(&self, target: &mut Value, result: Value) -> Result<(), SetError> {
        if !self.is_reference() {
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

/// Adds what `segment` selects in `value` to `out`; `root` is the whole document (for `$` in a
/// filter).
fn apply<'v>(segment: &Segment, value: &'v Value, root: &Value, out: &mut Vec<&'v Value>) {
    match segment {
        Segment::Field(name) => {
            if let Some(v) = value.as_object().and_then(|m| m.get(name)) {
                out.push(v);
            }
        }
        Segment::Index(index) => apply(&Segment::Indices(vec![*index]), value, root, out),
        Segment::Indices(indices) => {
            if let Some(items) = value.as_array() {
                out.extend(
                    indices
                        .iter()
                        .filter_map(|index| resolve_index(*index, items.len()))
                        .map(|at| &items[at]),
                );
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
        Segment::Fields(names) => {
            if let Some(map) = value.as_object() {
                out.extend(names.iter().filter_map(|name| map.get(name)));
            }
        }
        Segment::Filter(filter) => match value {
            Value::Array(items) => out.extend(items.iter().filter(|v| filter.accepts(v, root))),
            Value::Object(_) if filter.accepts(value, root) => out.push(value),
            _ => {}
        },
        Segment::Descendants(inner) => {
            // A filter below `..` tests every object, as Jayway's deep scan does.
            match inner.as_ref() {
                Segment::Filter(filter) => {
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
                // `$.[0]` is read as `$[0]`.
                b'.' if self.bytes.get(self.at + 1) == Some(&b'[') => {
                    self.at += 1;
                    segments.push(self.bracket()?);
                }
                b'.' => {
                    self.at += 1;
                    segments.push(self.dotted()?);
                }
                b'[' => segments.push(self.bracket()?),
                _ => return Err(self.error(format!("unexpected character at {}", self.at))),
            }
        }
        if segments
            .iter()
            .rev()
            .skip(1)
            .any(|s| matches!(s, Segment::Fields(_)))
        {
            return Err(self.error("a list of names `['a','b']` can only be the last step"));
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
        let close =
            filter::bracket_end(self.text, self.at).ok_or_else(|| self.error("`[` without `]`"))?;
        let inside = self.text[self.at + 1..close].trim();
        let segment = if let Some(expression) = inside.strip_prefix('?') {
            let expression = expression
                .trim()
                .strip_prefix('(')
                .and_then(|e| e.strip_suffix(')'))
                .ok_or_else(|| self.error("a filter is written `[?(expression)]`"))?;
            Segment::Filter(Box::new(
                Filter::parse(expression).map_err(|reason| self.error(reason))?,
            ))
        } else if inside.starts_with('(') {
            return Err(self.error("script expressions `[(...)]` are not supported"));
        } else if inside == "*" {
            Segment::Wildcard
        } else if inside.starts_with(['\'', '"']) {
            let mut names = Vec::new();
            for part in split_top_level(inside) {
                let part = part.trim();
                let name = part
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| part.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                    .ok_or_else(|| self.error(format!("`{part}` is not a quoted name")))?;
                names.push(name.replace("\\'", "'"));
            }
            match <[String; 1]>::try_from(names) {
                Ok([name]) => Segment::Field(name),
                Err(names) => Segment::Fields(names),
            }
        } else if inside.contains(':') {
            let parts: Vec<&str> = inside.split(':').collect();
            let step = match parts.get(2) {
                Some(s) => self.integer(s)?.unwrap_or(1),
                None => 1,
            };
            if parts.len() > 3 || step < 1 {
                return Err(self.error("a slice is [start:end] or [start:end:step] with step >= 1"));
            }
            Segment::Slice {
                start: self.integer(parts[0])?,
                end: self.integer(parts[1])?,
                step,
            }
        } else {
            let indices = inside
                .split(',')
                .map(|part| {
                    self.integer(part)?.ok_or_else(|| {
                        self.error(format!("`[{inside}]` is not an index or a quoted name"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            match <[i64; 1]>::try_from(indices) {
                Ok([index]) => Segment::Index(index),
                Err(indices) => Segment::Indices(indices),
            }
        };
        self.at = close + 1;
        Ok(segment)
    }

    /// An optional integer (empty: `None`).
    fn integer(&self, text: &str) -> Result<Option<i64>, PathError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse()
            .map(Some)
            .map_err(|_| self.error(format!("`{text}` is not an integer")))
    }
}

/// `text` split at the commas outside quotes.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quote = None;
    let mut escaped = false;
    let mut start = 0;
    for (at, c) in text.char_indices() {
        match (quote, c) {
            (Some(_), _) if escaped => escaped = false,
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, ',') => {
                parts.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
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
            assert_eq!(err.path, bad);
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
