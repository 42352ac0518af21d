//! The paths a state reads, collected from its fields (see `state/fields.rs`): typed paths must
//! resolve in the JSON schema of the type they start from, and a Map item's context value
//! exists only in an ItemSelector.

use serde_json::Value as Json;

use super::Checker;
use crate::path::{ContextPath, ReferencePath, Segment};
use crate::state::{Condition, State, WaitFor};

impl Checker {
    /// A typed path must resolve in the schema of the type it starts from.
    pub(super) fn resolves(&mut self, at: &str, field: &str, path: &ReferencePath) {
        let Some(root) = path.schema_root() else {
            return;
        };
        let schema = root.schema();
        if let Err(problem) = resolve(schema.as_value(), path.segments()) {
            self.error(
                Some(at),
                format!(
                    "{field} `{path}` does not resolve in the JSON schema of `{}`: {problem} (a serde rename?)",
                    root.type_name()
                ),
            );
        }
    }
}

/// Every reference path of a state (nested states excluded), with the field it is in.
pub(super) fn reference_paths<'a>(state: &'a State) -> Vec<(String, &'a ReferencePath)> {
    let mut paths: Vec<(String, &'a ReferencePath)> = Vec::new();
    for field in state.walk() {
        let key = field.written_key();
        paths.extend(
            field
                .reference_paths()
                .into_iter()
                .map(|path| (key.clone(), path)),
        );
    }
    let mut add = |field: &str, path: Option<&'a ReferencePath>| {
        if let Some(path) = path {
            paths.push((field.to_owned(), path));
        }
    };
    match state {
        State::Wait(wait) => {
            if let WaitFor::SecondsPath(path) | WaitFor::TimestampPath(path) = &wait.wait_for {
                add("Wait", Some(path));
            }
        }
        State::Choice(choice) => {
            for rule in &choice.choices {
                condition_paths(&rule.condition, &mut add);
            }
        }
        _ => {}
    }
    paths
}

fn condition_paths<'a>(
    condition: &'a Condition,
    add: &mut impl FnMut(&str, Option<&'a ReferencePath>),
) {
    match condition {
        Condition::And(all) | Condition::Or(all) => {
            all.iter().for_each(|c| condition_paths(c, add));
        }
        Condition::Not(inner) => condition_paths(inner, add),
        Condition::Compare { variable, .. } => add("Choices", Some(variable)),
        Condition::Jsonata(_) | Condition::Constant(_) => {}
    }
}

/// Every context path of a state's fields (nested states excluded), with the field it is in.
pub(super) fn context_paths(state: &State) -> Vec<(String, &ContextPath)> {
    state
        .walk()
        .into_iter()
        .flat_map(|field| {
            let key = field.written_key();
            field
                .context_paths()
                .into_iter()
                .map(move |path| (key.clone(), path))
        })
        .collect()
}

/// Follows `segments` through a JSON schema (schemars 1.x: `$ref` into `$defs`, `properties`,
/// `items`, and the alternatives of `anyOf`/`oneOf`/`allOf`).
fn resolve(root: &Json, segments: &[Segment]) -> Result<(), String> {
    let mut current = vec![root];
    for segment in segments {
        let mut next = Vec::new();
        let mut fields: Vec<String> = Vec::new();
        for schema in current.iter().flat_map(|schema| alternatives(root, schema)) {
            match (segment, schema) {
                (_, Json::Bool(true)) => next.push(schema),
                (Segment::Field(name), Json::Object(object)) => {
                    if let Some(properties) = object.get("properties").and_then(Json::as_object) {
                        fields.extend(properties.keys().cloned());
                        if let Some(property) = properties.get(name) {
                            next.push(property);
                            continue;
                        }
                    }
                    if let Some(additional) = object
                        .get("additionalProperties")
                        .filter(|a| a.is_object() || **a == Json::Bool(true))
                    {
                        next.push(additional);
                    }
                }
                (Segment::Index(index), Json::Object(object)) => {
                    if let Some(item) = object
                        .get("prefixItems")
                        .and_then(Json::as_array)
                        .and_then(|items| items.get(*index))
                        .or_else(|| object.get("items"))
                    {
                        next.push(item);
                    }
                }
                _ => {}
            }
        }
        if next.is_empty() {
            return Err(match segment {
                Segment::Field(name) if fields.is_empty() => {
                    format!("`{name}` is not a field of an object there")
                }
                Segment::Field(name) => {
                    format!(
                        "there is no field `{name}` (the fields are {})",
                        fields.join(", ")
                    )
                }
                Segment::Index(index) => format!("`[{index}]` is not an array element there"),
            });
        }
        current = next;
    }
    Ok(())
}

/// A schema with its `$ref` followed and its `anyOf`/`oneOf`/`allOf` alternatives expanded.
fn alternatives<'a>(root: &'a Json, schema: &'a Json) -> Vec<&'a Json> {
    let schema = match schema.get("$ref").and_then(Json::as_str) {
        Some(reference) => reference
            .strip_prefix("#/")
            .map(|pointer| pointer.split('/').try_fold(root, |at, key| at.get(key)))
            .and_then(|found| found)
            .unwrap_or(&Json::Null),
        None => schema,
    };
    let mut all = vec![schema];
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(options) = schema.get(key).and_then(Json::as_array) {
            all.extend(options.iter().flat_map(|option| alternatives(root, option)));
        }
    }
    all
}
