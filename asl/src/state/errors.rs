//! What a state does on an error: `Retry` (retriers) and `Catch` (catchers), and the error
//! names they match.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::fields::asl_struct;
use super::{ResultPath, StateName};

/// An error name a Retry or Catch matches: `States.ALL`, `States.Timeout`, or a name a task
/// raises such as `Lambda.ServiceException`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ErrorName(String);

impl ErrorName {
    /// An error name as written; any string is accepted.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// Matches every error; must be alone in its ErrorEquals and the last retrier or catcher.
    pub fn all() -> Self {
        Self::new("States.ALL")
    }

    /// Whether this is `States.ALL`, which matches every error.
    pub fn is_all(&self) -> bool {
        self.0 == "States.ALL"
    }

    /// The name as written in `ErrorEquals`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How retries spread out: `FULL` picks each delay at random up to the backoff interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum JitterStrategy {
    /// `FULL`: each delay is random between 0 and the backoff interval.
    Full,
    /// `NONE`: each delay is the backoff interval exactly (AWS's default).
    None,
}

/// One entry of `Retry`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Retrier {
    /// A note for readers; AWS ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The errors this retrier handles.
    pub error_equals: Vec<ErrorName>,
    /// Seconds before the first retry (AWS's default is 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u32>,
    /// How many retries at most (AWS's default is 3; 0 never retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// What the interval is multiplied by after each retry (AWS's default is 2.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_rate: Option<f64>,
    /// The longest any retry interval may grow to, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay_seconds: Option<u32>,
    /// Whether the retry delays are randomized (`NONE` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_strategy: Option<JitterStrategy>,
}

impl Retrier {
    /// A retrier for `errors` with AWS's defaults for everything else.
    pub fn on(errors: impl IntoIterator<Item = ErrorName>) -> Self {
        Self {
            comment: None,
            error_equals: errors.into_iter().collect(),
            interval_seconds: None,
            max_attempts: None,
            backoff_rate: None,
            max_delay_seconds: None,
            jitter_strategy: None,
        }
    }
}

asl_struct! {
    /// One entry of `Catch`: on a matching error, go to `Next` with the error output placed by
    /// `ResultPath` (JSONPath) or made by `Output` (JSONata).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    pub struct Catcher {
        comment,
        /// The errors this catcher handles.
        pub error_equals: Vec<ErrorName>,
        result_path,
        output,
        assign,
        /// The state to go to on a matching error.
        pub next: StateName,
    }
}

impl Catcher {
    /// Goes to `next` on any of `error_equals`, the error output replacing the input.
    pub fn new(error_equals: Vec<ErrorName>, next: StateName) -> Self {
        Self {
            comment: None,
            error_equals,
            result_path: ResultPath::Replace,
            output: None,
            assign: None,
            next,
        }
    }
}
