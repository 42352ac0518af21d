//! The key order of an evaluation's result. Objects built by `jsonata-rs` are hash maps, so their
//! key order is lost; AWS (JavaScript) keeps insertion order. The result's objects are re-ordered
//! deterministically to the most likely AWS order: keys written in the expression's object
//! constructors in written order, an object with the same keys as one of the inputs in the
//! input's order, and integer-like keys first, ascending, as JavaScript enumerates them.

use std::cell::RefCell;
use std::collections::HashMap;

use jsonata_rs::Value as JValue;
use serde_json::Value;

thread_local! {
    /// The key order of the evaluation running on this thread, when it lists objects' members.
    pub(super) static ENTRY_ORDER: RefCell<Option<KeyOrder>> = const { RefCell::new(None) };
}

/// Where the keys of a result's objects most likely stand in AWS's (JavaScript's) output.
pub(super) struct KeyOrder {
    /// Keys written as object-constructor keys (`"name": …`), by first position.
    written: HashMap<String, usize>,
    /// The inputs' key orders, indexed on first need.
    pub(super) known: Option<Known>,
}

/// The key orders of the inputs' objects.
#[derive(Default)]
pub(super) struct Known {
    /// An input object's keys in order, by its sorted keys.
    by_set: HashMap<Vec<String>, Vec<String>>,
    /// Each key's first position in a walk of the inputs.
    rank: HashMap<String, usize>,
}

impl KeyOrder {
    pub(super) fn new(text: &str) -> Self {
        let literal = regex_lite::Regex::new(r#""((?:[^"\\]|\\.)*)"\s*:|'((?:[^'\\]|\\.)*)'\s*:"#)
            .expect("the key pattern is valid");
        let mut written = HashMap::new();
        for found in literal.captures_iter(text) {
            // `'a' := …` is not a key; `? 'a' : 'b'` is taken for one, harmlessly.
            if text[found.get(0).map_or(0, |m| m.end())..].starts_with('=') {
                continue;
            }
            if let Some(key) = found.get(1).or_else(|| found.get(2)) {
                let next = written.len();
                written.entry(key.as_str().to_owned()).or_insert(next);
            }
        }
        KeyOrder {
            written,
            known: None,
        }
    }

    /// `value` with each object's keys in order; `inputs` are what the expression read.
    pub(super) fn apply(&mut self, value: Value, inputs: &[&Value]) -> Value {
        match value {
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|item| self.apply(item, inputs))
                    .collect(),
            ),
            Value::Object(mut members) => {
                let keys = self.ordered(members.keys().cloned().collect(), inputs);
                Value::Object(
                    keys.into_iter()
                        .filter_map(|key| {
                            let member = members.remove(&key)?;
                            Some((key, self.apply(member, inputs)))
                        })
                        .collect(),
                )
            }
            other => other,
        }
    }

    /// `keys`, the keys of one object, in order.
    pub(super) fn ordered(&mut self, mut keys: Vec<String>, inputs: &[&Value]) -> Vec<String> {
        if keys.len() > 1 {
            if keys.iter().all(|key| self.written.contains_key(key)) {
                keys.sort_by_key(|key| self.written[key]);
            } else {
                let known = self.known.get_or_insert_with(|| Known::of(inputs));
                let mut set = keys.clone();
                set.sort();
                if let Some(order) = known.by_set.get(&set) {
                    keys = order.clone();
                } else {
                    let written = &self.written;
                    keys.sort_by_cached_key(|key| match known.rank.get(key) {
                        Some(rank) => (0, *rank, String::new()),
                        None => (
                            1,
                            written.get(key).copied().unwrap_or(usize::MAX),
                            key.clone(),
                        ),
                    });
                }
            }
        }
        // JavaScript enumerates integer-like keys first, ascending.
        keys.sort_by_key(|key| match array_index(key) {
            Some(index) => (0, index),
            None => (1, 0),
        });
        keys
    }
}

impl Known {
    pub(super) fn of(inputs: &[&Value]) -> Self {
        let mut known = Known::default();
        inputs.iter().for_each(|input| known.index(input));
        known
    }

    fn index(&mut self, value: &Value) {
        match value {
            Value::Array(items) => items.iter().for_each(|item| self.index(item)),
            Value::Object(members) => {
                let keys: Vec<String> = members.keys().cloned().collect();
                for key in &keys {
                    let next = self.rank.len();
                    self.rank.entry(key.clone()).or_insert(next);
                }
                let mut set = keys.clone();
                set.sort();
                self.by_set.entry(set).or_insert(keys);
                members.values().for_each(|member| self.index(member));
            }
            _ => {}
        }
    }
}

/// `key` as a JavaScript array index (`"0"`, `"12"`, not `"012"`), which objects list first.
fn array_index(key: &str) -> Option<u32> {
    let index: u32 = key.parse().ok()?;
    (index.to_string() == key && index < u32::MAX).then_some(index)
}

/// The members of `object` in the running evaluation's key order.
pub(super) fn entries_in_order<'a>(object: &'a JValue<'a>) -> Vec<(String, &'a JValue<'a>)> {
    let keys: Vec<String> = object.entries().map(|(key, _)| key.to_string()).collect();
    let keys = ENTRY_ORDER.with_borrow_mut(|order| match order {
        Some(order) => order.ordered(keys.clone(), &[]),
        None => keys.clone(),
    });
    keys.into_iter()
        .map(|key| {
            let member = object.get_entry(&key);
            (key, member)
        })
        .collect()
}
