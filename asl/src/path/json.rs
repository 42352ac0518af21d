//! ASL's *Path* as AWS reads it (Jayway's JsonPath): besides the steps of a reference path, the
//! selection steps (`[*]`, `..`, slices, index lists `[0,2]`, name lists `['a','b']`, filter
//! expressions `[?(@.x > 1)]`, see [`super::filter`]) allowed in InputPath, OutputPath, ItemsPath
//! and the `.$` fields of payload templates. This module parses; [`crate::eval`] selects.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::PathError;
use super::filter::{self, Filter};
use crate::query::VariableName;

/// One step of a parsed [`JsonPath`].
#[derive(Clone, Debug)]
pub(crate) enum Step {
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
    Descendants(Box<Step>),
}

/// A parsed JSONPath starting at `$`: selects one value (names and indices only) or an array of
/// every match. It renders as it was written.
#[derive(Clone, Debug)]
pub struct JsonPath {
    text: String,
    /// `$name...` selects in a workflow variable instead of the state's input.
    pub(crate) variable: Option<VariableName>,
    pub(crate) steps: Vec<Step>,
}

impl PartialEq for JsonPath {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl JsonPath {
    /// Parses `text`, which must start with `$`.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        Self::parse_nested(text, 0)
    }

    /// Parses a path that stands `depth` levels of filters, `!` and parentheses deep (a path in
    /// a filter expression), so nesting is bounded however the levels alternate.
    pub(crate) fn parse_nested(text: &str, depth: usize) -> Result<Self, PathError> {
        Parser {
            text,
            bytes: text.as_bytes(),
            at: 0,
            depth,
        }
        .parse()
    }

    /// The root path `$`.
    pub fn root() -> Self {
        Self {
            text: "$".to_owned(),
            variable: None,
            steps: Vec::new(),
        }
    }

    /// The path as written in the definition.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The workflow variable this path selects in (`$name...`), if any.
    pub fn variable(&self) -> Option<&VariableName> {
        self.variable.as_ref()
    }

    /// Whether the path has only names and indices, so it selects at most one value.
    pub fn is_definite(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s, Step::Field(_) | Step::Index(_)))
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for JsonPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for JsonPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

struct Parser<'t> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
    /// How deep in filter expressions this path stands.
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, problem: impl Into<String>) -> PathError {
        PathError {
            text: self.text.to_owned(),
            kind: "JSONPath",
            problem: problem.into(),
        }
    }

    fn parse(mut self) -> Result<JsonPath, PathError> {
        if self.bytes.first() != Some(&b'$') {
            return Err(self.error("a path must start with `$`"));
        }
        let (variable, rest) =
            super::split_variable(&self.text[1..]).map_err(|problem| self.error(problem))?;
        self.at = self.text.len() - rest.len();
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
                    segments.push(Step::Descendants(Box::new(inner)));
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
            .any(|s| matches!(s, Step::Fields(_)))
        {
            return Err(self.error("a list of names `['a','b']` can only be the last step"));
        }
        Ok(JsonPath {
            text: self.text.to_owned(),
            variable,
            steps: segments,
        })
    }

    fn dotted(&mut self) -> Result<Step, PathError> {
        let start = self.at;
        while self.at < self.bytes.len() && !matches!(self.bytes[self.at], b'.' | b'[') {
            self.at += 1;
        }
        match &self.text[start..self.at] {
            "" => Err(self.error("a `.` must be followed by a field name")),
            "*" => Ok(Step::Wildcard),
            name => Ok(Step::Field(name.to_owned())),
        }
    }

    fn bracket(&mut self) -> Result<Step, PathError> {
        let close =
            filter::bracket_end(self.text, self.at).ok_or_else(|| self.error("`[` without `]`"))?;
        let inside = self.text[self.at + 1..close].trim();
        let segment = if let Some(expression) = inside.strip_prefix('?') {
            let expression = expression
                .trim()
                .strip_prefix('(')
                .and_then(|e| e.strip_suffix(')'))
                .ok_or_else(|| self.error("a filter is written `[?(expression)]`"))?;
            Step::Filter(Box::new(
                Filter::parse_nested(expression, self.depth)
                    .map_err(|reason| self.error(reason))?,
            ))
        } else if inside.starts_with('(') {
            return Err(self.error("script expressions `[(...)]` are not supported"));
        } else if inside == "*" {
            Step::Wildcard
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
                Ok([name]) => Step::Field(name),
                Err(names) => Step::Fields(names),
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
            Step::Slice {
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
                Ok([index]) => Step::Index(index),
                Err(indices) => Step::Indices(indices),
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
