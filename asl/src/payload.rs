//! Payload templates: the JSON objects of `Parameters`, `ItemSelector`, `ResultSelector` and the
//! like, where a value is a literal or is read from a path (`"key.$": "$.a"`).

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::path::{ContextPath, JsonPath, ReferencePath};

/// An object whose values are literals or read at run time. Keys are stored without the `.$`
/// suffix, which rendering adds for every value read from a path.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PayloadTemplate(IndexMap<String, PayloadValue>);

/// One value of a payload template.
#[derive(Clone, Debug, PartialEq)]
pub enum PayloadValue {
    /// A JSON value used as is.
    Literal(serde_json::Value),
    /// A nested template.
    Object(PayloadTemplate),
    /// Read from the state's input (`"key.$": "$.a"`).
    Path(ReferencePath),
    /// Selected from the state's input by a path that is not a reference path
    /// (`"key.$": "$.items[*].id"`): one value or an array of every match.
    Select(JsonPath),
    /// Read from the context object (`"key.$": "$$.Execution.Name"`).
    Context(ContextPath),
    /// An intrinsic function call (`"key.$": "States.Format('{}', $.a)"`), kept as written.
    Intrinsic(String),
    /// An array holding templates (`[{"id.$": "$.a"}]`); an array of literals is a `Literal`.
    Array(Vec<PayloadValue>),
}

impl PayloadValue {
    /// A JSON value fixed at synth time. An object becomes a nested template of literals, the
    /// form parsing gives it, so a parsed definition equals the one it was rendered from.
    pub fn literal(json: serde_json::Value) -> Self {
        match json {
            serde_json::Value::Object(object) => PayloadValue::Object(PayloadTemplate(
                object
                    .into_iter()
                    .map(|(key, value)| (key, PayloadValue::literal(value)))
                    .collect(),
            )),
            other => PayloadValue::Literal(other),
        }
    }

    /// Whether rendering suffixes the key with `.$`.
    fn is_dynamic(&self) -> bool {
        matches!(
            self,
            PayloadValue::Path(_)
                | PayloadValue::Select(_)
                | PayloadValue::Context(_)
                | PayloadValue::Intrinsic(_)
        )
    }

    /// The value of a `.$` field (or of a Fail state's `ErrorPath`): a path into the input or
    /// the context object, or an intrinsic function call.
    pub fn dynamic(text: &str) -> Result<Self, String> {
        Ok(if text.starts_with("$$") {
            PayloadValue::Context(ContextPath::parse(text).map_err(|e| e.to_string())?)
        } else if text.starts_with('$') {
            match ReferencePath::parse(text) {
                Ok(path) => PayloadValue::Path(path),
                Err(_) => PayloadValue::Select(JsonPath::parse(text).map_err(|e| e.to_string())?),
            }
        } else if text.starts_with("States.") {
            PayloadValue::Intrinsic(text.to_owned())
        } else {
            return Err(format!(
                "`{text}` is not a path (`$...`, `$$...`) or an intrinsic function (`States.*`)"
            ));
        })
    }

    /// A value without `.$`: nested objects are templates, an array is a `Literal` unless an
    /// object in it has a `.$` field.
    fn from_json(value: serde_json::Value) -> Result<Self, String> {
        Ok(match value {
            serde_json::Value::Object(object) => {
                PayloadValue::Object(PayloadTemplate::from_json(object)?)
            }
            serde_json::Value::Array(items) if items.iter().any(has_dynamic_field) => {
                PayloadValue::Array(
                    items
                        .into_iter()
                        .map(PayloadValue::from_json)
                        .collect::<Result<_, _>>()?,
                )
            }
            other => PayloadValue::Literal(other),
        })
    }

    /// Whether this value, or one nested in it, is read at run time (a JSONPath template).
    pub fn has_dynamic(&self) -> bool {
        match self {
            PayloadValue::Object(template) => template.has_dynamic(),
            PayloadValue::Array(items) => items.iter().any(PayloadValue::has_dynamic),
            value => value.is_dynamic(),
        }
    }

    /// Every context path in this value, nested templates included.
    pub fn context_paths(&self) -> Vec<&ContextPath> {
        match self {
            PayloadValue::Context(path) => vec![path],
            PayloadValue::Object(template) => template.context_paths(),
            PayloadValue::Array(items) => {
                items.iter().flat_map(PayloadValue::context_paths).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Every reference path in this value, nested templates included.
    pub fn reference_paths(&self) -> Vec<&ReferencePath> {
        match self {
            PayloadValue::Path(path) => vec![path],
            PayloadValue::Object(template) => template.reference_paths(),
            PayloadValue::Array(items) => items
                .iter()
                .flat_map(PayloadValue::reference_paths)
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl PayloadTemplate {
    /// Whether any value, nested ones included, is read at run time (a `.$` key).
    pub fn has_dynamic(&self) -> bool {
        self.iter().any(|(_, value)| value.has_dynamic())
    }

    /// An empty template (`{}`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a key; keys keep the order they were first inserted in.
    pub fn insert(&mut self, key: impl Into<String>, value: PayloadValue) -> &mut Self {
        self.0.insert(key.into(), value);
        self
    }

    /// Adds (or replaces) `key` and returns the template, for building one in a chain.
    pub fn with(mut self, key: impl Into<String>, value: PayloadValue) -> Self {
        self.insert(key, value);
        self
    }

    /// The value of `key`, without the `.$` suffix a path's key carries in JSON.
    pub fn get(&self, key: &str) -> Option<&PayloadValue> {
        self.0.get(key)
    }

    /// The keys and values, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &PayloadValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Every reference path in the template, nested templates included.
    pub fn reference_paths(&self) -> Vec<&ReferencePath> {
        self.0
            .values()
            .flat_map(PayloadValue::reference_paths)
            .collect()
    }

    /// Every context path in the template, nested templates included.
    pub fn context_paths(&self) -> Vec<&ContextPath> {
        self.0
            .values()
            .flat_map(PayloadValue::context_paths)
            .collect()
    }

    fn from_json(object: serde_json::Map<String, serde_json::Value>) -> Result<Self, String> {
        let mut template = Self::new();
        for (key, value) in object {
            let value = match key.strip_suffix(".$") {
                Some(name) => {
                    let text = value.as_str().ok_or_else(|| {
                        format!("`{key}` must be a string (a path or an intrinsic function)")
                    })?;
                    let dynamic = PayloadValue::dynamic(text).map_err(|problem| {
                        format!("`{key}` must be a path (`$...`, `$$...`) or an intrinsic function (`States.*`): {problem}")
                    })?;
                    (name.to_owned(), dynamic)
                }
                None => (key, PayloadValue::from_json(value)?),
            };
            if template.0.insert(value.0.clone(), value.1).is_some() {
                return Err(format!(
                    "`{}` is given twice (with and without `.$`)",
                    value.0
                ));
            }
        }
        Ok(template)
    }
}

impl Serialize for PayloadTemplate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            if value.is_dynamic() {
                map.serialize_key(&format!("{key}.$"))?;
            } else {
                map.serialize_key(key)?;
            }
            match value {
                PayloadValue::Literal(json) => map.serialize_value(json)?,
                PayloadValue::Object(template) => map.serialize_value(template)?,
                PayloadValue::Path(path) => map.serialize_value(path)?,
                PayloadValue::Select(path) => map.serialize_value(path)?,
                PayloadValue::Array(items) => map.serialize_value(&ArrayOf(items))?,
                PayloadValue::Context(path) => map.serialize_value(path)?,
                PayloadValue::Intrinsic(call) => map.serialize_value(call)?,
            }
        }
        map.end()
    }
}

/// An array of payload values, rendered as the JSON array it was parsed from.
struct ArrayOf<'a>(&'a [PayloadValue]);

impl Serialize for ArrayOf<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            match item {
                PayloadValue::Literal(json) => seq.serialize_element(json)?,
                PayloadValue::Object(template) => seq.serialize_element(template)?,
                PayloadValue::Array(items) => seq.serialize_element(&ArrayOf(items))?,
                // A path needs a `.$` key, which an array item does not have.
                dynamic => {
                    return Err(serde::ser::Error::custom(format!(
                        "an array item cannot be read from a path: {dynamic:?}"
                    )));
                }
            }
        }
        seq.end()
    }
}

/// Whether `value` is an object with a `.$` field, or holds one.
fn has_dynamic_field(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(object) => object
            .iter()
            .any(|(key, value)| key.ends_with(".$") || has_dynamic_field(value)),
        serde_json::Value::Array(items) => items.iter().any(has_dynamic_field),
        _ => false,
    }
}

impl<'de> Deserialize<'de> for PayloadTemplate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let object = serde_json::Map::deserialize(deserializer)?;
        Self::from_json(object).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::path::ContextValue;

    #[test]
    fn dynamic_values_get_the_suffix_and_parse_back() {
        let template = PayloadTemplate::new()
            .with("FunctionName", PayloadValue::Literal(json!("arn:fn")))
            .with(
                "Payload",
                PayloadValue::Object(
                    PayloadTemplate::new()
                        .with(
                            "id",
                            PayloadValue::Context(ContextValue::MapItemValue.into()),
                        )
                        .with("all", PayloadValue::Path(ReferencePath::root()))
                        .with(
                            "n",
                            PayloadValue::Intrinsic("States.ArrayLength($.a)".into()),
                        ),
                ),
            );
        let json = serde_json::to_value(&template).unwrap();
        assert_eq!(
            json,
            json!({"FunctionName": "arn:fn", "Payload": {"id.$": "$$.Map.Item.Value", "all.$": "$", "n.$": "States.ArrayLength($.a)"}})
        );
        assert_eq!(
            serde_json::from_value::<PayloadTemplate>(json).unwrap(),
            template
        );
    }

    #[test]
    fn a_dynamic_key_needs_a_path() {
        let err = serde_json::from_value::<PayloadTemplate>(json!({"id.$": "chunk"})).unwrap_err();
        assert!(err.to_string().contains("`id.$` must be a path"), "{err}");
        let err = serde_json::from_value::<PayloadTemplate>(json!({"id.$": 3})).unwrap_err();
        assert!(err.to_string().contains("must be a string"), "{err}");
    }
}

/// A Fail state's `ErrorPath`/`CausePath`: one dynamic value written as its text.
pub(crate) mod expression {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{PayloadTemplate, PayloadValue};

    pub fn serialize<S: Serializer>(
        value: &Option<PayloadValue>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let text = value.as_ref().and_then(|value| {
            let rendered = serde_json::to_value(PayloadTemplate::new().with("x", value.clone()));
            rendered.ok()?.get("x.$")?.as_str().map(str::to_owned)
        });
        match text {
            Some(text) => serializer.serialize_str(&text),
            None => Err(serde::ser::Error::custom(
                "an ErrorPath or CausePath is a path or an intrinsic function",
            )),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<PayloadValue>, D::Error> {
        let text = String::deserialize(deserializer)?;
        let value = PayloadValue::dynamic(text.trim()).map_err(serde::de::Error::custom)?;
        if let PayloadValue::Intrinsic(call) = &value {
            crate::eval::check_intrinsic(call).map_err(serde::de::Error::custom)?;
        }
        Ok(Some(value))
    }
}
