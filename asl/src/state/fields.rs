//! The one table of ASL fields. [`asl_struct!`] declares a state (or an object inside one, such
//! as an `ItemReader`) from its fields in written order: a shared field is written by name only
//! (`input_path,`) and its declaration comes from the table below, its own fields are written
//! out. A field the query-language checks and the path walkers must see carries its ASL key and
//! query language: `#[asl("ItemsPath", JsonPath)]`.
//!
//! From that one list come the struct (serde keeps the written order, so a definition renders
//! byte for byte as before), the accessors [`State`](super::State) delegates to, and
//! [`Fields::walk`], which hands every such field to `validate` (which language it belongs to,
//! its `*Path` twin, the paths and JSONata strings it holds) and to `translate`.

use serde_json::Value as Json;

use super::{Catcher, Limit, ResultPath, Retrier, Transition};
use crate::path::{ContextPath, DataPath, ReferencePath};
use crate::payload::{PayloadTemplate, PayloadValue};
use crate::query::{Assign, JsonataString, QueryLanguage};

/// Declares an ASL struct from its fields in written order; see the module documentation.
///
/// The table of shared fields is the list of `@munch` rules that name one field each: its doc,
/// serde attributes, type, ASL key and query language, and the accessor [`Fields`] gets from it.
macro_rules! asl_struct {
    ($(#[$outer:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $crate::state::fields::asl_struct!(@munch [$(#[$outer])* $name] [] [] [] $($body)*);
    };

    // All fields read: the struct, its walk and its accessors.
    (@munch [$(#[$outer:meta])* $name:ident] [$($fields:tt)*]
        [$(($walked:ident $key:literal $language:ident))*] [$($accessors:tt)*]) => {
        $(#[$outer])*
        pub struct $name { $($fields)* }

        impl $crate::state::fields::Fields for $name {
            $($accessors)*

            fn walk<'a>(&'a self, out: &mut Vec<$crate::state::fields::Field<'a>>) {
                $($crate::state::fields::Walk::walk(
                    &self.$walked,
                    $key,
                    $crate::state::fields::FieldLanguage::$language,
                    out,
                );)*
            }

            fn limits_mut<'a>(&'a mut self, out: &mut Vec<&'a mut dyn $crate::state::fields::LimitMut>) {
                $($crate::state::fields::Walk::limits_mut(&mut self.$walked, out);)*
            }
        }

        impl $crate::state::fields::Walk for $name {
            fn walk<'a>(
                &'a self,
                key: &'static str,
                _language: $crate::state::fields::FieldLanguage,
                out: &mut Vec<$crate::state::fields::Field<'a>>,
            ) {
                $crate::state::fields::nested(key, self, out);
            }

            fn limits_mut<'a>(&'a mut self, out: &mut Vec<&'a mut dyn $crate::state::fields::LimitMut>) {
                $crate::state::fields::Fields::limits_mut(self, out);
            }
        }
    };

    // An own field the walkers see: `#[asl("Key", Language)]` before its doc.
    (@munch $head:tt [$($fields:tt)*] [$($walks:tt)*] $accessors:tt
        #[asl($key:literal, $language:ident)] $(#[$attr:meta])* pub $field:ident : $type:ty,
        $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head [$($fields)* $(#[$attr])* pub $field: $type,]
            [$($walks)* ($field $key $language)] $accessors $($rest)*);
    };

    // An own field the walkers do not see.
    (@munch $head:tt [$($fields:tt)*] $walks:tt $accessors:tt
        $(#[$attr:meta])* pub $field:ident : $type:ty, $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head [$($fields)* $(#[$attr])* pub $field: $type,]
            $walks $accessors $($rest)*);
    };

    // The shared fields, in the order a state writes them.
    (@munch $head:tt $fields:tt $walks:tt $accessors:tt comment, $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head $fields $walks $accessors
            /// A human-readable description; AWS does not act on it.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub comment: Option<String>,
            $($rest)*);
    };
    (@munch $head:tt $fields:tt $walks:tt [$($accessors:tt)*] query_language, $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head $fields $walks [$($accessors)*
            fn query_language(&self) -> Option<$crate::query::QueryLanguage> {
                self.query_language
            }
            fn query_language_mut(&mut self) -> Option<&mut Option<$crate::query::QueryLanguage>> {
                Some(&mut self.query_language)
            }
        ]
            /// This state's query language, when it is not the machine's.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub query_language: Option<$crate::query::QueryLanguage>,
            $($rest)*);
    };
    (@munch $head:tt $fields:tt $walks:tt [$($accessors:tt)*] input_path, $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head $fields $walks [$($accessors)*
            fn input_path_mut(&mut self) -> Option<&mut Option<$crate::path::DataPath>> {
                Some(&mut self.input_path)
            }
        ]
            #[asl("InputPath", JsonPath)]
            /// JSONPath: the part of the input the state works on (`null` gives it `{}`).
            #[serde(
                default,
                deserialize_with = "crate::path::DataPath::present",
                skip_serializing_if = "Option::is_none"
            )]
            pub input_path: Option<$crate::path::DataPath>,
            $($rest)*);
    };
    (@munch $head:tt $fields:tt $walks:tt $accessors:tt parameters, $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head $fields $walks $accessors
            #[asl("Parameters", JsonPath)]
            /// JSONPath: the payload template that builds the request (a Task's, an ItemReader's,
            /// a ResultWriter's), the branches' input, or a Pass's result.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub parameters: Option<$crate::payload::PayloadTemplate>,
            $($rest)*);
    };
    (@munch $head:tt $fields:tt $walks:tt $accessors:tt arguments, $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head $fields $walks $accessors
            #[asl("Arguments", Jsonata)]
            /// JSONata: the task's (or branches', or S3 request's) input, a JSON value whose
            /// JSONata strings are evaluated.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub arguments: Option<serde_json::Value>,
            $($rest)*);
    };
    (@munch $head:tt $fields:tt $walks:tt $accessors:tt timeout_seconds, $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head $fields $walks $accessors
            #[asl("TimeoutSeconds", Both)]
            /// How long the task may run (`States.Timeout` past it); AWS's default is 60 seconds
            /// for an activity and unlimited otherwise.
            #[serde(flatten, with = "crate::state::limit::timeout_seconds")]
            pub timeout_seconds: Option<$crate::state::Limit<u32>>,
            $($rest)*);
    };
    (@munch $head:tt $fields:tt $walks:tt $accessors:tt heartbeat_seconds, $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head $fields $walks $accessors
            #[asl("HeartbeatSeconds", Both)]
            /// How long the task may go without a heartbeat before it fails
            /// (`States.HeartbeatTimeout`).
            #[serde(flatten, with = "crate::state::limit::heartbeat_seconds")]
            pub heartbeat_seconds: Option<$crate::state::Limit<u32>>,
            $($rest)*);
    };
    (@munch $head:tt $fields:tt $walks:tt $accessors:tt result_selector, $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head $fields $walks $accessors
            #[asl("ResultSelector", JsonPath)]
            /// JSONPath: the payload template that reshapes the result before `ResultPath`
            /// places it.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub result_selector: Option<$crate::payload::PayloadTemplate>,
            $($rest)*);
    };
    (@munch $head:tt $fields:tt $walks:tt $accessors:tt result_path, $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head $fields $walks $accessors
            #[asl("ResultPath", JsonPath)]
            /// JSONPath: where the result (or error output) goes in the state's input (see
            /// [`ResultPath`](crate::state::ResultPath)).
            #[serde(default, skip_serializing_if = "crate::state::ResultPath::is_replace")]
            pub result_path: $crate::state::ResultPath,
            $($rest)*);
    };
    (@munch $head:tt $fields:tt $walks:tt $accessors:tt output_path, $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head $fields $walks $accessors
            #[asl("OutputPath", JsonPath)]
            /// JSONPath: the part of the input-with-result passed on as output (`null` passes
            /// `{}`).
            #[serde(
                default,
                deserialize_with = "crate::path::DataPath::present",
                skip_serializing_if = "Option::is_none"
            )]
            pub output_path: Option<$crate::path::DataPath>,
            $($rest)*);
    };
    (@munch $head:tt $fields:tt $walks:tt [$($accessors:tt)*] output, $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head $fields $walks [$($accessors)*
            fn output(&self) -> Option<&serde_json::Value> {
                self.output.as_ref()
            }
        ]
            #[asl("Output", Jsonata)]
            /// JSONata: the state's output, a JSON value whose JSONata strings are evaluated.
            #[serde(
                default,
                skip_serializing_if = "Option::is_none",
                deserialize_with = "crate::state::written"
            )]
            pub output: Option<serde_json::Value>,
            $($rest)*);
    };
    (@munch $head:tt $fields:tt $walks:tt [$($accessors:tt)*] assign, $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head $fields $walks [$($accessors)*
            fn assign(&self) -> Option<&$crate::query::Assign> {
                self.assign.as_ref()
            }
        ]
            /// The variables this state sets when it ends.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub assign: Option<$crate::query::Assign>,
            $($rest)*);
    };
    (@munch $head:tt $fields:tt $walks:tt [$($accessors:tt)*] retry, $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head $fields $walks [$($accessors)*
            fn retry(&self) -> &[$crate::state::Retrier] {
                &self.retry
            }
        ]
            /// The retriers: on an error, the first whose `ErrorEquals` matches retries the state.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub retry: Vec<$crate::state::Retrier>,
            $($rest)*);
    };
    (@munch $head:tt $fields:tt $walks:tt [$($accessors:tt)*] catch, $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head $fields $walks [$($accessors)*
            fn catch(&self) -> &[$crate::state::Catcher] {
                &self.catch
            }
        ]
            /// The catchers: once retries are used up (or none matched), the first match picks
            /// `Next`.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub catch: Vec<$crate::state::Catcher>,
            $($rest)*);
    };
    (@munch $head:tt $fields:tt $walks:tt [$($accessors:tt)*] transition, $($rest:tt)*) => {
        $crate::state::fields::asl_struct!(@munch $head $fields $walks [$($accessors)*
            fn transition(&self) -> Option<&$crate::state::Transition> {
                Some(&self.transition)
            }
        ]
            /// `Next` or `End`, flattened into the state's keys.
            #[serde(flatten)]
            pub transition: $crate::state::Transition,
            $($rest)*);
    };
}

pub(crate) use asl_struct;

/// What every struct [`asl_struct!`] declares can tell about its fields; a state lacking a shared
/// field answers with the default (none, or empty).
pub(crate) trait Fields {
    /// `QueryLanguage`, when the state names one.
    fn query_language(&self) -> Option<QueryLanguage> {
        None
    }
    /// `QueryLanguage` to change, for the states that have the field.
    fn query_language_mut(&mut self) -> Option<&mut Option<QueryLanguage>> {
        None
    }
    /// `InputPath` to change, for the states that have the field.
    fn input_path_mut(&mut self) -> Option<&mut Option<DataPath>> {
        None
    }
    /// `Output` (JSONata).
    fn output(&self) -> Option<&Json> {
        None
    }
    /// `Assign`.
    fn assign(&self) -> Option<&Assign> {
        None
    }
    /// `Retry`.
    fn retry(&self) -> &[Retrier] {
        &[]
    }
    /// `Catch`.
    fn catch(&self) -> &[Catcher] {
        &[]
    }
    /// `Next`/`End`.
    fn transition(&self) -> Option<&Transition> {
        None
    }
    /// Every field marked with its key and language that is present, in written order; the
    /// fields of an object inside (an `ItemReader`) follow, keyed `ItemReader.Parameters`.
    fn walk<'a>(&'a self, out: &mut Vec<Field<'a>>);
    /// Every `Limit` field, to rewrite (`translate` turns a `*Path` into JSONata).
    fn limits_mut<'a>(&'a mut self, out: &mut Vec<&'a mut dyn LimitMut>);
}

/// Which query language a field belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldLanguage {
    /// Only JSONPath states have it (`InputPath`, `Parameters`, ...).
    JsonPath,
    /// Only JSONata states have it (`Arguments`, `Output`, `Items`).
    Jsonata,
    /// Both, in a form that tells: a `Limit`'s `*Path` twin is JSONPath and its JSONata string
    /// JSONata; a template's `.$` keys are JSONPath.
    Both,
}

/// One present field of a state, as the walkers see it.
#[derive(Clone, Debug)]
pub(crate) struct Field<'a> {
    /// Its ASL key, `ItemReader.Parameters` for a field of an object inside the state; a limit's
    /// is the fixed key (see [`Field::written_key`]).
    pub key: String,
    /// The language the table gives it.
    pub belongs_to: FieldLanguage,
    /// What it holds.
    pub value: FieldValue<'a>,
}

/// What a field holds.
#[derive(Clone, Copy, Debug)]
pub(crate) enum FieldValue<'a> {
    /// A path, or `null` (`InputPath`, `OutputPath`, `ItemsPath`).
    Data(&'a DataPath),
    /// A `ResultPath` that is written (a path or `null`).
    Result(&'a ResultPath),
    /// A payload template (`Parameters`, `ResultSelector`, `ItemSelector`, `BatchInput`).
    Template(&'a PayloadTemplate),
    /// A JSON value (`Arguments`, `Output`, `Items`, a Pass's `Result`).
    Json(&'a Json),
    /// A string (a Fail's `Error`, `Cause`), a JSONata string in a JSONata state.
    Text(&'a str),
    /// A path or intrinsic function (a Fail's `ErrorPath`, `CausePath`).
    Expression(&'a PayloadValue),
    /// A limit, fixed, read from a path (`*Path`) or a JSONata string.
    Limit(LimitForm<'a>),
}

/// A [`Limit`] whatever its number type.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LimitForm<'a> {
    /// A number written in the definition.
    Fixed,
    /// JSONPath: the `*Path` twin, read from the input.
    Path(&'a ReferencePath),
    /// JSONata: a JSONata string.
    Expression(&'a JsonataString),
}

impl<'a> Field<'a> {
    /// The key as written: a limit read from the input is under its `*Path` twin
    /// (`MaxConcurrencyPath`, `ItemReader.ReaderConfig.MaxItemsPath`).
    pub fn written_key(&self) -> String {
        match self.value {
            FieldValue::Limit(LimitForm::Path(_)) => format!("{}Path", self.key),
            _ => self.key.clone(),
        }
    }

    /// The language of the field as written; `None` when it fits both (a fixed limit, a
    /// template of literals).
    pub fn language(&self) -> Option<QueryLanguage> {
        match (self.belongs_to, self.value) {
            (FieldLanguage::JsonPath, _) => Some(QueryLanguage::JsonPath),
            (FieldLanguage::Jsonata, _) => Some(QueryLanguage::Jsonata),
            (_, FieldValue::Limit(LimitForm::Path(_))) => Some(QueryLanguage::JsonPath),
            (_, FieldValue::Limit(LimitForm::Expression(_))) => Some(QueryLanguage::Jsonata),
            (_, FieldValue::Template(template)) if template.has_dynamic() => {
                Some(QueryLanguage::JsonPath)
            }
            _ => None,
        }
    }

    /// The reference paths the field reads (or, for `ResultPath`, writes).
    pub fn reference_paths(&self) -> Vec<&'a ReferencePath> {
        match self.value {
            FieldValue::Data(path) => path.reference().into_iter().collect(),
            FieldValue::Result(ResultPath::At(path)) => vec![path],
            FieldValue::Template(template) => template.reference_paths(),
            FieldValue::Expression(value) => value.reference_paths(),
            FieldValue::Limit(LimitForm::Path(path)) => vec![path],
            _ => Vec::new(),
        }
    }

    /// The context paths (`$$.`) the field reads.
    pub fn context_paths(&self) -> Vec<&'a ContextPath> {
        match self.value {
            FieldValue::Template(template) => template.context_paths(),
            FieldValue::Expression(value) => value.context_paths(),
            _ => Vec::new(),
        }
    }
}

/// A field type the walkers understand.
pub(crate) trait Walk {
    /// Adds `self`, present, as the field `key` of `language`.
    fn walk<'a>(&'a self, key: &'static str, language: FieldLanguage, out: &mut Vec<Field<'a>>);
    /// Adds `self` if it is a limit (or holds some).
    fn limits_mut<'a>(&'a mut self, _out: &mut Vec<&'a mut dyn LimitMut>) {}
}

/// Adds the fields of `object`, an object inside a state, under `key` (`ItemReader.Parameters`).
pub(crate) fn nested<'a>(key: &'static str, object: &'a dyn Fields, out: &mut Vec<Field<'a>>) {
    let mut inner = Vec::new();
    object.walk(&mut inner);
    out.extend(inner.into_iter().map(|field| Field {
        key: format!("{key}.{}", field.key),
        ..field
    }));
}

impl<T: Walk> Walk for Option<T> {
    fn walk<'a>(&'a self, key: &'static str, language: FieldLanguage, out: &mut Vec<Field<'a>>) {
        if let Some(value) = self {
            value.walk(key, language, out);
        }
    }

    fn limits_mut<'a>(&'a mut self, out: &mut Vec<&'a mut dyn LimitMut>) {
        if let Some(value) = self {
            value.limits_mut(out);
        }
    }
}

/// Declares how a leaf type is walked: the [`FieldValue`] it becomes.
macro_rules! walk_as {
    ($type:ty, $value:ident => $field:expr) => {
        impl Walk for $type {
            fn walk<'a>(
                &'a self,
                key: &'static str,
                language: FieldLanguage,
                out: &mut Vec<Field<'a>>,
            ) {
                let $value = self;
                out.push(Field {
                    key: key.to_owned(),
                    belongs_to: language,
                    value: $field,
                });
            }
        }
    };
}

walk_as!(DataPath, path => FieldValue::Data(path));
walk_as!(PayloadTemplate, template => FieldValue::Template(template));
walk_as!(Json, json => FieldValue::Json(json));
walk_as!(String, text => FieldValue::Text(text));
walk_as!(PayloadValue, value => FieldValue::Expression(value));

impl Walk for ResultPath {
    fn walk<'a>(&'a self, key: &'static str, language: FieldLanguage, out: &mut Vec<Field<'a>>) {
        if !self.is_replace() {
            out.push(Field {
                key: key.to_owned(),
                belongs_to: language,
                value: FieldValue::Result(self),
            });
        }
    }
}

impl<T: 'static> Walk for Limit<T> {
    fn walk<'a>(&'a self, key: &'static str, language: FieldLanguage, out: &mut Vec<Field<'a>>) {
        let form = match self {
            Limit::Fixed(_) => LimitForm::Fixed,
            Limit::Path(path) => LimitForm::Path(path),
            Limit::Expression(expression) => LimitForm::Expression(expression),
        };
        out.push(Field {
            key: key.to_owned(),
            belongs_to: language,
            value: FieldValue::Limit(form),
        });
    }

    fn limits_mut<'a>(&'a mut self, out: &mut Vec<&'a mut dyn LimitMut>) {
        out.push(self);
    }
}

/// A limit of any number type, to rewrite.
pub(crate) trait LimitMut {
    /// Replaces a `*Path` limit by the JSONata string `expression` gives for its path.
    fn path_to_expression(&mut self, expression: &dyn Fn(&ReferencePath) -> JsonataString);
}

impl<T> LimitMut for Limit<T> {
    fn path_to_expression(&mut self, expression: &dyn Fn(&ReferencePath) -> JsonataString) {
        if let Limit::Path(path) = self {
            *self = Limit::Expression(expression(path));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::State;

    fn state(json: serde_json::Value) -> State {
        serde_json::from_value(json).unwrap()
    }

    /// The walk yields a state's fields in written order, those of an object inside it keyed
    /// under the object, and a limit read from the input under its `*Path` twin.
    #[test]
    fn the_walk_follows_the_written_order_and_names_twins_and_objects() {
        let map = state(json!({"Type": "Map", "InputPath": "$.in",
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "JSON", "MaxItemsPath": "$.max"},
                "Parameters": {"Bucket": "b", "Key.$": "$.key"}},
            "ItemBatcher": {"MaxItemsPerBatch": 5},
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "MaxConcurrency": "{% $states.input.n %}", "ResultPath": null, "End": true}));
        let keys: Vec<String> = map.walk().iter().map(|f| f.written_key()).collect();
        assert_eq!(
            keys,
            [
                "InputPath",
                "ItemReader.ReaderConfig.MaxItemsPath",
                "ItemReader.Parameters",
                "ItemBatcher.MaxItemsPerBatch",
                "MaxConcurrency",
                "ResultPath",
            ]
        );
        let languages: Vec<_> = map.walk().iter().map(|f| f.language()).collect();
        use crate::QueryLanguage::{JsonPath, Jsonata};
        assert_eq!(
            languages,
            [
                Some(JsonPath),
                Some(JsonPath),
                Some(JsonPath),
                None,
                Some(Jsonata),
                Some(JsonPath)
            ]
        );
    }

    /// The accessors come from the table: a state without the field answers none.
    #[test]
    fn the_accessors_answer_for_every_kind() {
        let task = state(
            json!({"Type": "Task", "Resource": "r", "QueryLanguage": "JSONata",
            "Output": 1, "Retry": [{"ErrorEquals": ["States.ALL"]}], "End": true}),
        );
        assert_eq!(task.query_language(), Some(crate::QueryLanguage::Jsonata));
        assert_eq!(task.output(), Some(&json!(1)));
        assert_eq!(task.retry().len(), 1);
        let fail = state(json!({"Type": "Fail", "Error": "E"}));
        assert_eq!(fail.transition(), None);
        assert_eq!(fail.output(), None);
        assert!(fail.retry().is_empty() && fail.catch().is_empty());
    }
}
