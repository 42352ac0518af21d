//! Paths: where a state reads from or writes to in its input (`ReferencePath`, `$...`), the wider
//! selection paths AWS allows where a value is only read (`JsonPath`, `$.items[*]`), and paths
//! into the context object (`ContextPath`, `$$...`). They are distinct types because they do
//! different things: only a reference path can be written, a context value can never be, and a
//! `$` never names the Map item. This module parses and renders them; [`crate::eval`] evaluates
//! them.

pub(crate) mod filter;
pub(crate) mod json;

use std::fmt;

pub use json::JsonPath;

use crate::query::VariableName;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One step of a path: a member name or an array index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    Field(String),
    Index(usize),
}

/// A path that cannot be parsed, with the text and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a {kind}: {problem}")]
pub struct PathError {
    pub text: String,
    pub kind: &'static str,
    pub problem: String,
}

/// The type a path starts from, so that synth can resolve the path in that type's JSON schema.
/// Paths parsed from a file have none: only paths built from typed values carry one.
#[derive(Clone, Copy)]
pub struct SchemaRoot {
    type_name: &'static str,
    schema: fn() -> schemars::Schema,
}

impl SchemaRoot {
    pub fn of<T: schemars::JsonSchema>() -> Self {
        Self {
            type_name: std::any::type_name::<T>(),
            schema: || schemars::schema_for!(T),
        }
    }

    /// The Rust type's name without its module path.
    pub fn type_name(&self) -> &'static str {
        short_type_name(self.type_name)
    }

    pub fn schema(&self) -> schemars::Schema {
        (self.schema)()
    }
}

impl fmt::Debug for SchemaRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())
    }
}

/// `a::b::C<d::E>` -> `C<E>`.
pub(crate) fn short_type_name(full: &'static str) -> &'static str {
    let generic = full.find('<').unwrap_or(full.len());
    match full[..generic].rfind("::") {
        // Keep generics readable without allocating: only the outer path is dropped.
        Some(at) => &full[at + 2..],
        None => full,
    }
}

/// A reference path into a state's input: `$`, `$.a.b`, `$.a[0]`, `$['a key']`. No wildcards or
/// filters: ASL allows only these where a single value is read or written.
#[derive(Clone, Debug)]
pub struct ReferencePath {
    /// `$name...` reads a workflow variable instead of the state's input.
    variable: Option<VariableName>,
    segments: Vec<Segment>,
    root: Option<SchemaRoot>,
}

impl PartialEq for ReferencePath {
    /// Two paths are equal when they render the same; the schema root is a build-time annotation.
    fn eq(&self, other: &Self) -> bool {
        self.variable == other.variable && self.segments == other.segments
    }
}

impl ReferencePath {
    /// `$`: the whole input.
    pub fn root() -> Self {
        Self::from_segments(Vec::new())
    }

    pub fn from_segments(segments: Vec<Segment>) -> Self {
        Self {
            variable: None,
            segments,
            root: None,
        }
    }

    /// `$name`: the whole value of the workflow variable `name`.
    pub fn of_variable(name: VariableName) -> Self {
        Self {
            variable: Some(name),
            ..Self::root()
        }
    }

    /// Parses `$`, `$.name`, `$['name']` and `$[0]` steps.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let error = |problem: &str| PathError {
            text: text.to_owned(),
            kind: "reference path",
            problem: problem.to_owned(),
        };
        if text.starts_with("$$") {
            return Err(error(
                "it reads the context object; a context value is a ContextPath",
            ));
        }
        let rest = text
            .strip_prefix('$')
            .ok_or_else(|| error("it must start with `$`"))?;
        let (variable, rest) = split_variable(rest).map_err(|problem| error(&problem))?;
        let segments = parse_segments(rest).map_err(|problem| error(&problem))?;
        Ok(Self {
            variable,
            ..Self::from_segments(segments)
        })
    }

    /// The workflow variable this path reads (`$name...`), if it reads one.
    pub fn variable(&self) -> Option<&VariableName> {
        self.variable.as_ref()
    }

    /// The same path, one member further.
    pub fn field(mut self, name: impl Into<String>) -> Self {
        self.segments.push(Segment::Field(name.into()));
        self
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// `$`: the whole input.
    pub fn is_root(&self) -> bool {
        self.variable.is_none() && self.segments.is_empty()
    }

    /// The type this path starts from, when it was built from typed values.
    pub fn schema_root(&self) -> Option<SchemaRoot> {
        self.root
    }

    pub fn with_schema_root(mut self, root: SchemaRoot) -> Self {
        self.root = Some(root);
        self
    }
}

impl fmt::Display for ReferencePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        if let Some(variable) = &self.variable {
            f.write_str(variable.as_str())?;
        }
        write_segments(f, &self.segments)
    }
}

fn write_segments(f: &mut fmt::Formatter<'_>, segments: &[Segment]) -> fmt::Result {
    for segment in segments {
        match segment {
            Segment::Field(name) if is_plain_name(name) => write!(f, ".{name}")?,
            Segment::Field(name) => write!(f, "['{}']", name.replace('\'', "\\'"))?,
            Segment::Index(index) => write!(f, "[{index}]")?,
        }
    }
    Ok(())
}

fn is_plain_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Splits the variable name off the text after `$` (`total.sum` -> `total`, `.sum`).
pub(crate) fn split_variable(rest: &str) -> Result<(Option<VariableName>, &str), String> {
    if !rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return Ok((None, rest));
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Ok((Some(VariableName::new(&rest[..end])?), &rest[end..]))
}

/// Parses the steps after `$` (or after a context value's fixed prefix).
fn parse_segments(mut rest: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("['") {
            // The closing quote is the first one not escaped by a backslash.
            let mut name = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next().ok_or("a `['` is not closed by `']`")? {
                    (_, '\\') if after[chars.offset()..].starts_with('\'') => {
                        chars.next();
                        name.push('\'');
                    }
                    (at, '\'') => break at,
                    (_, c) => name.push(c),
                }
            };
            rest = after[end + 1..]
                .strip_prefix(']')
                .ok_or("a quoted name must be alone in its `[...]` (a list of names is not a reference path)")?;
            segments.push(Segment::Field(name));
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or("a `[` is not closed by `]`")?;
            let index = after[..end].parse().map_err(|_| {
                format!(
                    "`[{}]` is not an array index (wildcards, slices and filters are not reference paths)",
                    &after[..end]
                )
            })?;
            segments.push(Segment::Index(index));
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if !is_plain_name(name) {
                return Err(format!(
                    "`{name}` after `.` is not a member name (use ['...'] for other characters)"
                ));
            }
            segments.push(Segment::Field(name.to_owned()));
            rest = &after[end..];
        } else {
            return Err(format!("unexpected `{rest}`"));
        }
    }
    Ok(segments)
}

impl Serialize for ReferencePath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReferencePath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A state's `InputPath`, `OutputPath` or a Map's `ItemsPath` (ASL's *Path*): a reference path
/// (all synth writes), a wider selection path, or `null` (the state sees `{}`).
#[derive(Clone, Debug, PartialEq)]
pub enum DataPath {
    Reference(ReferencePath),
    Select(JsonPath),
    Null,
}

impl DataPath {
    /// The reference path, when it is one (synth's typed paths always are).
    pub fn reference(&self) -> Option<&ReferencePath> {
        match self {
            DataPath::Reference(path) => Some(path),
            _ => None,
        }
    }

    /// For `#[serde(deserialize_with)]` on an `Option<DataPath>` field: a present key, `null`
    /// included, is `Some` (an absent key is `None` by `default`).
    pub(crate) fn present<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Self>, D::Error> {
        Self::deserialize(deserializer).map(Some)
    }
}

impl From<ReferencePath> for DataPath {
    fn from(path: ReferencePath) -> Self {
        DataPath::Reference(path)
    }
}

impl fmt::Display for DataPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataPath::Reference(path) => path.fmt(f),
            DataPath::Select(path) => path.fmt(f),
            DataPath::Null => f.write_str("null"),
        }
    }
}

impl Serialize for DataPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            DataPath::Reference(path) => path.serialize(serializer),
            DataPath::Select(path) => path.serialize(serializer),
            DataPath::Null => serializer.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for DataPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<String>::deserialize(deserializer)? {
            None => DataPath::Null,
            Some(text) => match ReferencePath::parse(&text) {
                Ok(path) => DataPath::Reference(path),
                Err(_) => {
                    DataPath::Select(JsonPath::parse(&text).map_err(serde::de::Error::custom)?)
                }
            },
        })
    }
}

/// The fields of the context object (`$$`) a state can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContextValue {
    ExecutionId,
    ExecutionName,
    ExecutionStartTime,
    ExecutionRoleArn,
    ExecutionInput,
    StateMachineId,
    StateMachineName,
    StateName,
    StateEnteredTime,
    StateRetryCount,
    TaskToken,
    /// The index of the current Map item (only inside a Map's ItemSelector).
    MapItemIndex,
    /// The current Map item (only inside a Map's ItemSelector).
    MapItemValue,
}

impl ContextValue {
    pub const ALL: [ContextValue; 13] = [
        ContextValue::ExecutionId,
        ContextValue::ExecutionName,
        ContextValue::ExecutionStartTime,
        ContextValue::ExecutionRoleArn,
        ContextValue::ExecutionInput,
        ContextValue::StateMachineId,
        ContextValue::StateMachineName,
        ContextValue::StateName,
        ContextValue::StateEnteredTime,
        ContextValue::StateRetryCount,
        ContextValue::TaskToken,
        ContextValue::MapItemIndex,
        ContextValue::MapItemValue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ContextValue::ExecutionId => "$$.Execution.Id",
            ContextValue::ExecutionName => "$$.Execution.Name",
            ContextValue::ExecutionStartTime => "$$.Execution.StartTime",
            ContextValue::ExecutionRoleArn => "$$.Execution.RoleArn",
            ContextValue::ExecutionInput => "$$.Execution.Input",
            ContextValue::StateMachineId => "$$.StateMachine.Id",
            ContextValue::StateMachineName => "$$.StateMachine.Name",
            ContextValue::StateName => "$$.State.Name",
            ContextValue::StateEnteredTime => "$$.State.EnteredTime",
            ContextValue::StateRetryCount => "$$.State.RetryCount",
            ContextValue::TaskToken => "$$.Task.Token",
            ContextValue::MapItemIndex => "$$.Map.Item.Index",
            ContextValue::MapItemValue => "$$.Map.Item.Value",
        }
    }

    /// Whether the value exists only while a Map's ItemSelector is evaluated.
    pub fn is_map_item(self) -> bool {
        matches!(
            self,
            ContextValue::MapItemIndex | ContextValue::MapItemValue
        )
    }
}

/// A path into the context object (`$$`, `$$.Execution.Input.date_range`, `$$.Map.Item.Value`),
/// knowing which of the documented values it starts with, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct ContextPath {
    value: Option<ContextValue>,
    /// The same path with the context object as its `$`.
    path: JsonPath,
}

impl ContextPath {
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let rest = text.strip_prefix("$$").ok_or_else(|| PathError {
            text: text.to_owned(),
            kind: "context path",
            problem: "it must start with `$$`".into(),
        })?;
        let path = JsonPath::parse(&format!("${rest}")).map_err(|error| PathError {
            text: text.to_owned(),
            kind: "context path",
            problem: error.problem,
        })?;
        // The longest known prefix that ends at a step boundary.
        let value = ContextValue::ALL
            .iter()
            .filter(|value| {
                text.strip_prefix(value.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
            })
            .max_by_key(|value| value.as_str().len())
            .copied();
        Ok(Self { value, path })
    }

    /// The documented value the path starts with (`None` for `$$`, `$$.Execution` and the like).
    pub fn value(&self) -> Option<ContextValue> {
        self.value
    }

    /// The path with the context object as its root (`$$.Execution.Id` is `$.Execution.Id`).
    pub fn in_context(&self) -> &JsonPath {
        &self.path
    }
}

impl From<ContextValue> for ContextPath {
    fn from(value: ContextValue) -> Self {
        Self::parse(value.as_str()).expect("a documented context value parses")
    }
}

impl fmt::Display for ContextPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.path)
    }
}

impl Serialize for ContextPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ContextPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_paths_render_as_they_parse() {
        for text in [
            "$",
            "$.a",
            "$.task02_chunks.chunk_ids",
            "$.a[3].b",
            "$['a b'].c",
            "$['it\\'s']",
        ] {
            assert_eq!(ReferencePath::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            ReferencePath::root()
                .field("x")
                .field("odd-name")
                .to_string(),
            "$.x['odd-name']"
        );
    }

    #[test]
    fn a_path_of_a_variable_renders_as_it_parses() {
        let total = ReferencePath::of_variable(VariableName::new("total").unwrap()).field("a");
        assert_eq!(total.to_string(), "$total.a");
        assert_eq!(ReferencePath::parse("$total.a").unwrap(), total);
        assert!(!ReferencePath::of_variable(VariableName::new("x").unwrap()).is_root());
    }

    #[test]
    fn reference_paths_refuse_context_paths_wildcards_and_garbage() {
        for text in [
            "$$.Execution.Name",
            "$.a[*]",
            "a.b",
            "$.a..b",
            "$[?(@.x)]",
            "$.1a",
            "$['a','b']",
        ] {
            assert!(ReferencePath::parse(text).is_err(), "{text} parsed");
        }
    }

    #[test]
    fn context_paths_know_their_value() {
        let item = ContextPath::parse("$$.Map.Item.Value").unwrap();
        assert_eq!(item.value(), Some(ContextValue::MapItemValue));
        let nested = ContextPath::parse("$$.Map.Item.Value.chunk_id").unwrap();
        assert_eq!(nested.value(), Some(ContextValue::MapItemValue));
        assert_eq!(nested.to_string(), "$$.Map.Item.Value.chunk_id");
        assert_eq!(nested.in_context().as_str(), "$.Map.Item.Value.chunk_id");
        // AWS reads any path into the context object; only documented values are known.
        for other in ["$$", "$$.Execution", "$$.Map.Item.Valuex"] {
            let path = ContextPath::parse(other).unwrap();
            assert_eq!(path.value(), None, "{other}");
            assert_eq!(path.to_string(), other);
        }
        assert!(ContextPath::parse("$.Execution.Name").is_err());
        assert!(ContextPath::parse("$$.a[").is_err());
    }
}
