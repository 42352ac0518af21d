//! The two query languages of ASL and what belongs to them: [`QueryLanguage`], a JSONata
//! expression string ([`JsonataString`], `"{% ... %}"`), a value that is fixed or computed by one
//! ([`Evaluated`]), and workflow variables ([`Assign`], [`VariableName`]).
//!
//! Which fields a state may hold depends on its language (`Parameters` in JSONPath, `Arguments`
//! in JSONata, ...). A state inherits the machine's language unless it names its own, so the
//! model keeps both sets of fields and [`crate::validate`] refuses a field of the other language.

use std::fmt;

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The query language of a machine or a state; JSONPath when absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QueryLanguage {
    /// `JSONPath`: paths, payload templates and intrinsic functions.
    #[default]
    #[serde(rename = "JSONPath")]
    JsonPath,
    /// `JSONata`: `{% ... %}` expressions in `Arguments`, `Output` and the other JSONata fields.
    #[serde(rename = "JSONata")]
    Jsonata,
}

impl QueryLanguage {
    /// The language a state runs in: its own, else the one it inherits.
    pub fn of_state(own: Option<QueryLanguage>, inherited: QueryLanguage) -> QueryLanguage {
        own.unwrap_or(inherited)
    }
}

impl fmt::Display for QueryLanguage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QueryLanguage::JsonPath => "JSONPath",
            QueryLanguage::Jsonata => "JSONata",
        })
    }
}

/// A JSONata string as written in a definition: `{%` expression `%}`. Only the shape is checked
/// here; [`crate::validate`] parses the expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JsonataString(String);

impl JsonataString {
    /// `Some` when `text` is `{% ... %}`.
    pub fn new(text: impl Into<String>) -> Option<Self> {
        let text = text.into();
        Self::is_jsonata(&text).then_some(Self(text))
    }

    /// Wraps an expression: `$states.input.a` -> `{% $states.input.a %}`.
    pub fn of_expression(expression: &str) -> Self {
        Self(format!("{{% {expression} %}}"))
    }

    /// Whether `text` is written as a JSONata string.
    pub fn is_jsonata(text: &str) -> bool {
        let text = text.trim();
        text.len() >= 4 && text.starts_with("{%") && text.ends_with("%}")
    }

    /// The expression between the braces, trimmed.
    pub fn expression(&self) -> &str {
        let text = self.0.trim();
        text[2..text.len() - 2].trim()
    }

    /// The string as written, braces included.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JsonataString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for JsonataString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for JsonataString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::new(text.clone()).ok_or_else(|| {
            serde::de::Error::custom(format!("`{text}` is not a JSONata string `{{% ... %}}`"))
        })
    }
}

/// A value written in the definition (`MaxConcurrency: 5`) or, in a JSONata state, computed by
/// an expression when the state runs (`MaxConcurrency: "{% $states.input.n %}"`).
#[derive(Clone, Debug, PartialEq)]
pub enum Evaluated<T> {
    /// A value written in the definition.
    Fixed(T),
    /// A JSONata string evaluated when the state runs.
    Expression(JsonataString),
}

impl<T> Evaluated<T> {
    /// The value written in the definition, when it is one.
    pub fn fixed(&self) -> Option<&T> {
        match self {
            Evaluated::Fixed(value) => Some(value),
            Evaluated::Expression(_) => None,
        }
    }
}

impl<T: Serialize> Serialize for Evaluated<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Evaluated::Fixed(value) => value.serialize(serializer),
            Evaluated::Expression(expression) => expression.serialize(serializer),
        }
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Evaluated<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Evaluated::from_json(serde_json::Value::deserialize(deserializer)?)
            .map_err(serde::de::Error::custom)
    }
}

impl<T: serde::de::DeserializeOwned> Evaluated<T> {
    /// A JSONata string, else a `T`.
    pub(crate) fn from_json(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        if let Some(expression) = value
            .as_str()
            .and_then(|text| JsonataString::new(text.to_owned()))
        {
            return Ok(Evaluated::Expression(expression));
        }
        serde_json::from_value(value).map(Evaluated::Fixed)
    }
}

/// The name of a workflow variable, read as `$name`: a letter or `_`, then letters, digits and
/// `_`; at most 80 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VariableName(String);

impl VariableName {
    /// Names AWS keeps for itself.
    pub const RESERVED: &[&str] = &["states"];

    /// The name, or why AWS would refuse it (a bad character, over 80 characters).
    pub fn new(name: &str) -> Result<Self, String> {
        let mut chars = name.chars();
        let starts_well = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !starts_well || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`{name}` is not a variable name: use a letter or `_`, then letters, digits or `_`"
            ));
        }
        if name.len() > crate::limits::NAME_CHARS {
            return Err(format!(
                "the variable name `{name}` is over {} characters",
                crate::limits::NAME_CHARS
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name without the `$`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether AWS keeps this name for itself (`$states`).
    pub fn is_reserved(&self) -> bool {
        Self::RESERVED.contains(&self.0.as_str())
    }
}

impl fmt::Display for VariableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A state's `Assign`: the variables it sets when it ends, by name. In a JSONPath state a key
/// ending in `.$` reads its value (`"total.$": "$.sum"`); in a JSONata state a value may be a
/// JSONata string. The values are evaluated against the state's input and result, and assigned
/// together after the state's output is computed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Assign(pub IndexMap<String, serde_json::Value>);

impl Assign {
    /// The variable each entry sets, with its key as written (`total.$` sets `total`).
    pub fn variables(&self) -> impl Iterator<Item = (Result<VariableName, String>, &str)> {
        self.0.keys().map(|key| {
            let name = key.strip_suffix(".$").unwrap_or(key);
            (VariableName::new(name), key.as_str())
        })
    }

    /// The entries as one JSON object (the form a payload template or JSONata template takes).
    pub fn to_object(&self) -> serde_json::Value {
        serde_json::Value::Object(self.0.clone().into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_jsonata_string_is_told_from_a_plain_one_and_keeps_its_text() {
        let expression = JsonataString::new(" {% $states.input.a %} ").unwrap();
        assert_eq!(expression.expression(), "$states.input.a");
        assert_eq!(expression.as_str(), " {% $states.input.a %} ");
        assert_eq!(JsonataString::new("$.a"), None);
        assert_eq!(JsonataString::new("{%"), None);
        assert_eq!(
            JsonataString::of_expression("$x").as_str(),
            "{% $x %}",
            "wrapping puts one space inside each brace"
        );
    }

    #[test]
    fn an_evaluated_value_reads_a_number_or_an_expression_and_refuses_other_strings() {
        let fixed: Evaluated<u32> = serde_json::from_value(json!(5)).unwrap();
        assert_eq!(fixed, Evaluated::Fixed(5));
        let computed: Evaluated<u32> = serde_json::from_value(json!("{% $n %}")).unwrap();
        assert_eq!(
            computed,
            Evaluated::Expression(JsonataString::new("{% $n %}").unwrap())
        );
        assert_eq!(serde_json::to_value(&computed).unwrap(), json!("{% $n %}"));
        assert!(serde_json::from_value::<Evaluated<u32>>(json!("5")).is_err());
    }

    #[test]
    fn variable_names_follow_aws_rules_and_states_is_reserved() {
        assert!(VariableName::new("x_1").is_ok());
        assert!(VariableName::new("_x").is_ok());
        assert!(VariableName::new("1x").is_err());
        assert!(VariableName::new("a-b").is_err());
        assert!(VariableName::new(&"a".repeat(81)).is_err());
        assert!(VariableName::new("states").unwrap().is_reserved());
        let assign: Assign = serde_json::from_value(json!({"a.$": "$.x", "b": 1})).unwrap();
        let names: Vec<String> = assign
            .variables()
            .map(|(name, _)| name.unwrap().to_string())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }
}
