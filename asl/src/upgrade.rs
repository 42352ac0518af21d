//! The deprecated shapes AWS still runs, rewritten to the current ones so that the model, which
//! holds only current shapes, can read them: a Map's `Iterator` becomes its `ItemProcessor`, a
//! Map's `Parameters` its `ItemSelector`. Applied to the JSON before [`crate::parse`] by whoever
//! reads definitions written elsewhere (`run --definition`, the conformance command); synth
//! never needs it, since it only renders current shapes.

use serde_json::{Map, Value};

/// The renames, deprecated name first.
const RENAMES: [(&str, &str); 2] = [
    ("Iterator", "ItemProcessor"),
    ("Parameters", "ItemSelector"),
];

/// Rewrites every Map of `definition` (nested ones included) to the current shape. A Map that
/// has both the old and the new field is left alone, for the parser to refuse.
pub fn upgrade(definition: &mut Value) {
    if let Some(states) = definition.get_mut("States").and_then(Value::as_object_mut) {
        states.values_mut().for_each(upgrade_state);
    }
}

fn upgrade_state(state: &mut Value) {
    let Some(fields) = state.as_object_mut() else {
        return;
    };
    if fields.get("Type").and_then(Value::as_str) == Some("Map") {
        for (old, new) in RENAMES {
            if !fields.contains_key(new)
                && let Some(value) = fields.remove(old)
            {
                fields.insert(new.to_owned(), value);
            }
        }
    }
    for nested in nested_machines(fields) {
        upgrade(nested);
    }
}

/// A Map's processor and a Parallel's branches.
fn nested_machines(fields: &mut Map<String, Value>) -> Vec<&mut Value> {
    let mut nested = Vec::new();
    for (key, value) in fields.iter_mut() {
        match (key.as_str(), value) {
            ("ItemProcessor", processor) => nested.push(processor),
            ("Branches", Value::Array(branches)) => nested.extend(branches.iter_mut()),
            _ => {}
        }
    }
    nested
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn iterator_and_parameters_become_item_processor_and_item_selector_at_any_depth() {
        let inner_map = json!({"Type": "Map", "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
                               "Parameters": {"x.$": "$$.Map.Item.Value"}, "End": true});
        let mut definition = json!({"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": true,
            "Branches": [{"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
                "Iterator": {"StartAt": "Inner", "States": {"Inner": inner_map}}}}}]},
            "T": {"Type": "Task", "Resource": "r", "Parameters": {"a": 1}, "End": true}}});
        upgrade(&mut definition);
        let outer = &definition["States"]["Par"]["Branches"][0]["States"]["M"];
        assert!(outer.get("Iterator").is_none());
        let inner = &outer["ItemProcessor"]["States"]["Inner"];
        assert_eq!(inner["ItemSelector"], json!({"x.$": "$$.Map.Item.Value"}));
        assert!(inner.get("ItemProcessor").is_some() && inner.get("Parameters").is_none());
        // A Task's Parameters are current.
        assert_eq!(definition["States"]["T"]["Parameters"], json!({"a": 1}));
    }

    #[test]
    fn a_map_with_both_shapes_is_left_for_the_parser_to_refuse() {
        let mut definition = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "Parameters": {}, "ItemSelector": {},
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
        upgrade(&mut definition);
        assert!(definition["States"]["M"].get("Parameters").is_some());
        assert!(crate::parse(&definition.to_string()).is_err());
    }
}
