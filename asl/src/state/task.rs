//! The Task state.

use serde::{Deserialize, Serialize};

use super::fields::asl_struct;
use super::{ResultPath, Transition};

/// The optimised Lambda integration: a Task with this resource invokes the function named in its
/// arguments and returns the response with the function's output under `Payload`.
pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

asl_struct! {
    /// A Task: runs a resource (a Lambda function, a service integration, an activity).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    pub struct TaskState {
        comment,
        query_language,
        /// What the task runs: the ARN of a Lambda function, an activity or a service
        /// integration (`arn:aws:states:::...`).
        pub resource: String,
        input_path,
        parameters,
        arguments,
        timeout_seconds,
        heartbeat_seconds,
        result_selector,
        result_path,
        output_path,
        output,
        assign,
        retry,
        catch,
        transition,
    }
}

impl TaskState {
    /// A Task running `resource` with nothing else set.
    pub fn new(resource: impl Into<String>, transition: Transition) -> Self {
        Self {
            comment: None,
            query_language: None,
            resource: resource.into(),
            input_path: None,
            parameters: None,
            arguments: None,
            timeout_seconds: None,
            heartbeat_seconds: None,
            result_selector: None,
            result_path: ResultPath::Replace,
            output_path: None,
            output: None,
            assign: None,
            retry: Vec::new(),
            catch: Vec::new(),
            transition,
        }
    }
}
