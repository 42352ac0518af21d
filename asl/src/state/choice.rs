//! The Choice state: its rules, their conditions and comparison operators, and their serde
//! (a rule is one JSON object holding its condition's keys beside `Next`).

use serde::de;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::StateName;
use super::fields::asl_struct;
use crate::path::ReferencePath;
use crate::query::{Assign, JsonataString};

asl_struct! {
    /// A Choice: goes to the first rule's `Next` whose condition holds, else to `Default`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    pub struct ChoiceState {
        comment,
        query_language,
        input_path,
        /// The rules, tried in order; the first whose condition holds is taken.
        pub choices: Vec<ChoiceRule>,
        /// Where to go when no rule holds; without it, the execution fails
        /// (`States.NoChoiceMatched`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub default: Option<StateName>,
        output_path,
        output,
        assign,
    }
}

/// A top-level Choice rule: a condition and where to go when it holds. Nested conditions (inside
/// And/Or/Not) have no `Next`, which is why they are a different type.
#[derive(Clone, Debug, PartialEq)]
pub struct ChoiceRule {
    /// A note for readers; AWS ignores it.
    pub comment: Option<String>,
    /// The test that picks this rule.
    pub condition: Condition,
    /// The state to go to when the condition holds.
    pub next: StateName,
    /// JSONata: the state's output when this rule is taken.
    pub output: Option<serde_json::Value>,
    /// The variables set when this rule is taken.
    pub assign: Option<Assign>,
}

/// A Choice condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// JSONata: `{"Condition": "{% ... %}"}`, a top-level rule's whole test.
    Jsonata(JsonataString),
    /// JSONata: `{"Condition": true}` (or `false`), a rule that always (or never) holds.
    Constant(bool),
    /// `And`: every condition holds.
    And(Vec<Condition>),
    /// `Or`: at least one condition holds.
    Or(Vec<Condition>),
    /// `Not`: the condition does not hold.
    Not(Box<Condition>),
    /// `{"Variable": "$.x", "<Operator>": operand}`.
    Compare {
        /// JSONPath: the value tested.
        variable: ReferencePath,
        /// The operator and its operand.
        comparison: Comparison,
    },
}

/// Declares the comparison operators with the type of their operand.
macro_rules! comparisons {
    ($($(#[$doc:meta])* $operator:ident($operand:ty)),* $(,)?) => {
        /// A comparison operator of a Choice rule, with its operand.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Comparison {
            $($(#[$doc])* $operator($operand),)*
        }

        impl Comparison {
            /// The operator's key in the condition object (`"StringEquals"`, ...).
            pub fn operator(&self) -> &'static str {
                match self {
                    $(Comparison::$operator(_) => stringify!($operator),)*
                }
            }

            fn operand_json(&self) -> serde_json::Value {
                match self {
                    $(Comparison::$operator(operand) => serde_json::to_value(operand)
                        .expect("comparison operands always serialize"),)*
                }
            }

            /// `Some` when `key` is an operator.
            fn parse(key: &str, operand: serde_json::Value) -> Option<Result<Self, String>> {
                match key {
                    $(stringify!($operator) => Some(
                        serde_json::from_value::<$operand>(operand)
                            .map(Comparison::$operator)
                            .map_err(|err| format!("`{}`: {err}", stringify!($operator))),
                    ),)*
                    _ => None,
                }
            }
        }
    };
}

comparisons!(
    /// The string at `Variable` equals this one.
    StringEquals(String),
    /// The string at `Variable` equals the one at this path.
    StringEqualsPath(ReferencePath),
    /// The string at `Variable` sorts before this one.
    StringLessThan(String),
    /// The string at `Variable` sorts before the one at this path.
    StringLessThanPath(ReferencePath),
    /// The string at `Variable` sorts after this one.
    StringGreaterThan(String),
    /// The string at `Variable` sorts after the one at this path.
    StringGreaterThanPath(ReferencePath),
    /// The string at `Variable` sorts before or equals this one.
    StringLessThanEquals(String),
    /// The string at `Variable` sorts before or equals the one at this path.
    StringLessThanEqualsPath(ReferencePath),
    /// The string at `Variable` sorts after or equals this one.
    StringGreaterThanEquals(String),
    /// The string at `Variable` sorts after or equals the one at this path.
    StringGreaterThanEqualsPath(ReferencePath),
    /// The string at `Variable` matches this pattern, where `*` stands for any characters.
    StringMatches(String),
    /// The number at `Variable` equals this one.
    NumericEquals(f64),
    /// The number at `Variable` equals the one at this path.
    NumericEqualsPath(ReferencePath),
    /// The number at `Variable` is less than this one.
    NumericLessThan(f64),
    /// The number at `Variable` is less than the one at this path.
    NumericLessThanPath(ReferencePath),
    /// The number at `Variable` is greater than this one.
    NumericGreaterThan(f64),
    /// The number at `Variable` is greater than the one at this path.
    NumericGreaterThanPath(ReferencePath),
    /// The number at `Variable` is at most this one.
    NumericLessThanEquals(f64),
    /// The number at `Variable` is at most the one at this path.
    NumericLessThanEqualsPath(ReferencePath),
    /// The number at `Variable` is at least this one.
    NumericGreaterThanEquals(f64),
    /// The number at `Variable` is at least the one at this path.
    NumericGreaterThanEqualsPath(ReferencePath),
    /// The boolean at `Variable` equals this one.
    BooleanEquals(bool),
    /// The boolean at `Variable` equals the one at this path.
    BooleanEqualsPath(ReferencePath),
    /// The timestamp at `Variable` is the same instant as this one.
    TimestampEquals(String),
    /// The timestamp at `Variable` is the same instant as the one at this path.
    TimestampEqualsPath(ReferencePath),
    /// The timestamp at `Variable` is before this one.
    TimestampLessThan(String),
    /// The timestamp at `Variable` is before the one at this path.
    TimestampLessThanPath(ReferencePath),
    /// The timestamp at `Variable` is after this one.
    TimestampGreaterThan(String),
    /// The timestamp at `Variable` is after the one at this path.
    TimestampGreaterThanPath(ReferencePath),
    /// The timestamp at `Variable` is at or before this one.
    TimestampLessThanEquals(String),
    /// The timestamp at `Variable` is at or before the one at this path.
    TimestampLessThanEqualsPath(ReferencePath),
    /// The timestamp at `Variable` is at or after this one.
    TimestampGreaterThanEquals(String),
    /// The timestamp at `Variable` is at or after the one at this path.
    TimestampGreaterThanEqualsPath(ReferencePath),
    /// `true`: the value at `Variable` is null (`false`: it is not).
    IsNull(bool),
    /// `true`: `Variable` exists in the input (`false`: it does not).
    IsPresent(bool),
    /// `true`: the value at `Variable` is a number (`false`: it is not).
    IsNumeric(bool),
    /// `true`: the value at `Variable` is a string (`false`: it is not).
    IsString(bool),
    /// `true`: the value at `Variable` is a boolean (`false`: it is not).
    IsBoolean(bool),
    /// `true`: the value at `Variable` is a timestamp (`false`: it is not).
    IsTimestamp(bool),
);

impl Condition {
    fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut object = serde_json::Map::new();
        match self {
            Condition::Jsonata(expression) => {
                object.insert("Condition".into(), expression.as_str().into());
            }
            Condition::Constant(holds) => {
                object.insert("Condition".into(), (*holds).into());
            }
            Condition::And(all) => {
                object.insert("And".into(), all.iter().map(Condition::to_value).collect());
            }
            Condition::Or(any) => {
                object.insert("Or".into(), any.iter().map(Condition::to_value).collect());
            }
            Condition::Not(inner) => {
                object.insert("Not".into(), inner.to_value());
            }
            Condition::Compare {
                variable,
                comparison,
            } => {
                object.insert("Variable".into(), variable.to_string().into());
                object.insert(comparison.operator().into(), comparison.operand_json());
            }
        }
        object
    }

    fn to_value(&self) -> serde_json::Value {
        serde_json::Value::Object(self.to_json())
    }

    /// Parses a condition object; `next` is true for a top-level rule, whose `Next` the caller
    /// has already taken out.
    fn from_json(mut object: serde_json::Map<String, serde_json::Value>) -> Result<Self, String> {
        let conditions = |value: serde_json::Value| -> Result<Vec<Condition>, String> {
            match value {
                serde_json::Value::Array(items) => {
                    items.into_iter().map(Condition::from_value).collect()
                }
                _ => Err("`And`/`Or` must be an array of conditions".into()),
            }
        };
        // A comment may annotate any condition, nested ones too; only a rule's is kept.
        object.shift_remove("Comment");
        let condition = if let Some(test) = object.shift_remove("Condition") {
            match test {
                serde_json::Value::Bool(holds) => Condition::Constant(holds),
                test => {
                    let text = test.as_str().unwrap_or_default().to_owned();
                    Condition::Jsonata(JsonataString::new(text).ok_or(
                        "`Condition` must be true, false or a JSONata string `{% ... %}` that gives true or false",
                    )?)
                }
            }
        } else if let Some(all) = object.shift_remove("And") {
            Condition::And(conditions(all)?)
        } else if let Some(any) = object.shift_remove("Or") {
            Condition::Or(conditions(any)?)
        } else if let Some(inner) = object.shift_remove("Not") {
            Condition::Not(Box::new(Condition::from_value(inner)?))
        } else {
            let variable = object.shift_remove("Variable").ok_or(
                "a condition needs `Condition` (JSONata), `And`, `Or`, `Not` or `Variable`",
            )?;
            let variable: ReferencePath =
                serde_json::from_value(variable).map_err(|err| format!("`Variable`: {err}"))?;
            let (key, operand) = object
                .iter()
                .next()
                .map(|(key, operand)| (key.clone(), operand.clone()))
                .ok_or("a condition with `Variable` needs a comparison operator")?;
            let comparison = Comparison::parse(&key, operand)
                .ok_or_else(|| format!("`{key}` is not a comparison operator"))??;
            object.shift_remove(&key);
            Condition::Compare {
                variable,
                comparison,
            }
        };
        match object.keys().next() {
            Some(extra) => Err(format!("unexpected `{extra}` in a Choice condition")),
            None => Ok(condition),
        }
    }

    fn from_value(value: serde_json::Value) -> Result<Self, String> {
        match value {
            serde_json::Value::Object(object) => Self::from_json(object),
            _ => Err("a Choice condition must be an object".into()),
        }
    }
}

impl Serialize for ChoiceRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = self.condition.to_json();
        if let Some(comment) = &self.comment {
            object.insert("Comment".into(), comment.as_str().into());
        }
        object.insert("Next".into(), self.next.as_str().into());
        if let Some(output) = &self.output {
            object.insert("Output".into(), output.clone());
        }
        if let Some(assign) = &self.assign {
            object.insert("Assign".into(), assign.to_object());
        }
        object.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ChoiceRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut object = serde_json::Map::deserialize(deserializer)?;
        let next = object
            .shift_remove("Next")
            .ok_or_else(|| de::Error::custom("a Choice rule needs `Next`"))?;
        let next = StateName::deserialize(next).map_err(de::Error::custom)?;
        let comment = object
            .get("Comment")
            .map(|comment| {
                comment
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| de::Error::custom("a Choice rule's `Comment` must be a string"))
            })
            .transpose()?;
        let output = object.shift_remove("Output");
        let assign = object
            .shift_remove("Assign")
            .map(|assign| {
                serde_json::from_value(assign)
                    .map_err(|err| de::Error::custom(format!("`Assign`: {err}")))
            })
            .transpose()?;
        let condition = Condition::from_json(object).map_err(de::Error::custom)?;
        Ok(ChoiceRule {
            comment,
            condition,
            next,
            output,
            assign,
        })
    }
}
