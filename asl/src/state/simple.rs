//! The states that only pass data on or end: Pass, Wait, Succeed and Fail.

use serde::{Deserialize, Serialize};

use super::fields::asl_struct;
use super::{ResultPath, Transition};
use crate::path::ReferencePath;
use crate::payload::PayloadValue;
use crate::query::Evaluated;

asl_struct! {
    /// A Pass: passes its input on, or a fixed `Result`, or the `Parameters` it builds.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    pub struct PassState {
        comment,
        query_language,
        input_path,
        parameters,
        #[asl("Result", JsonPath)]
        /// A fixed JSON value that is the state's result, placed by `ResultPath`.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "super::written"
        )]
        pub result: Option<serde_json::Value>,
        result_path,
        output_path,
        output,
        assign,
        transition,
    }
}

impl PassState {
    /// A Pass that passes its input on unchanged.
    pub fn new(transition: Transition) -> Self {
        Self {
            comment: None,
            query_language: None,
            input_path: None,
            parameters: None,
            result: None,
            result_path: ResultPath::Replace,
            output_path: None,
            output: None,
            assign: None,
            transition,
        }
    }
}

/// How long a Wait waits: exactly one of the four forms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum WaitFor {
    /// Seconds to wait, or (JSONata) an expression that gives them.
    Seconds(Evaluated<u32>),
    /// An ISO-8601 timestamp, or (JSONata) an expression that gives one.
    Timestamp(String),
    /// `SecondsPath`: the seconds, read from the input.
    SecondsPath(ReferencePath),
    /// `TimestampPath`: the timestamp, read from the input.
    TimestampPath(ReferencePath),
}

asl_struct! {
    /// A Wait: pauses for a time or until a timestamp.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    pub struct WaitState {
        comment,
        query_language,
        input_path,
        /// How long to wait, flattened into the state as its one key.
        #[serde(flatten)]
        pub wait_for: WaitFor,
        output_path,
        output,
        assign,
        transition,
    }
}

asl_struct! {
    /// A Succeed: ends the (sub)machine successfully.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    pub struct SucceedState {
        comment,
        query_language,
        input_path,
        output_path,
        output,
    }
}

asl_struct! {
    /// A Fail: ends the execution as failed with an error name and a cause.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    pub struct FailState {
        comment,
        query_language,
        #[asl("Error", Both)]
        /// The error name the execution fails with (JSONata: a JSONata string may give it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub error: Option<String>,
        #[asl("ErrorPath", JsonPath)]
        /// The error name read at run time: a path or an intrinsic function.
        #[serde(
            default,
            with = "crate::payload::expression",
            skip_serializing_if = "Option::is_none"
        )]
        pub error_path: Option<PayloadValue>,
        #[asl("Cause", Both)]
        /// A human-readable explanation of the failure (JSONata: a JSONata string may give it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cause: Option<String>,
        #[asl("CausePath", JsonPath)]
        /// The cause read at run time: a path or an intrinsic function.
        #[serde(
            default,
            with = "crate::payload::expression",
            skip_serializing_if = "Option::is_none"
        )]
        pub cause_path: Option<PayloadValue>,
    }
}
