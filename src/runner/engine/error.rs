//! The error a state raises, as Step Functions names it (`Error` and `Cause`), with AWS's wording
//! for the errors the runner raises itself and which of them Retry and Catch may handle.

use asl::ErrorName;
use asl::eval::EvalError;
use serde::Serialize;

use super::{MAX_EXECUTION_TIME, Measured};

/// An error as Step Functions names it: `Error` and `Cause`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StateError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause")]
    pub cause: String,
    /// Raised by a Task's work (so `States.TaskFailed` matches it).
    #[serde(skip)]
    pub(super) from_task: bool,
    /// A `States.Runtime` whose cause does not name its state yet: the state that raised it
    /// prefixes AWS's "An error occurred while executing the state ..." ([`Self::located`]).
    #[serde(skip)]
    pub(super) unlocated: bool,
    /// The execution ran past [`MAX_EXECUTION_TIME`]: it ends, whatever Retry and Catch say.
    #[serde(skip)]
    pub(super) execution_timed_out: bool,
}

impl StateError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
            from_task: false,
            unlocated: false,
            execution_timed_out: false,
        }
    }

    /// The execution ran past Step Functions' one-year maximum execution time.
    pub(super) fn execution_timed_out() -> Self {
        Self {
            execution_timed_out: true,
            ..Self::new(
                "States.Timeout",
                format!(
                    "The execution ran past Step Functions' maximum execution time of one year ({} seconds).",
                    MAX_EXECUTION_TIME.as_secs()
                ),
            )
        }
    }

    pub(super) fn task(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            from_task: true,
            ..Self::new(error, cause)
        }
    }

    /// `States.Runtime` raised while a state runs; the state names itself in the cause when the
    /// error leaves it ([`Self::located`]).
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self {
            unlocated: true,
            ..Self::new("States.Runtime", cause)
        }
    }

    /// The error as it leaves the state `state`: a `States.Runtime` raised inside it gets AWS's
    /// prefix naming the state and the event that entered it; any other error is unchanged.
    pub fn located(self, state: &str, entered_event: u64) -> Self {
        if self.unlocated {
            Self::runtime_in(state, entered_event, self.cause)
        } else {
            self
        }
    }

    /// `States.Runtime` worded as AWS words it for a state: naming the state and the history
    /// event that entered it.
    pub fn runtime_in(state: &str, entered_event: u64, cause: impl std::fmt::Display) -> Self {
        Self::in_state("States.Runtime", state, entered_event, cause)
    }

    /// `error` worded as AWS words an error raised while a state runs: the cause names the state
    /// and the history event that entered it.
    pub(super) fn in_state(
        error: &str,
        state: &str,
        entered_event: u64,
        cause: impl std::fmt::Display,
    ) -> Self {
        Self::new(
            error,
            format!(
                "An error occurred while executing the state '{state}' (entered at the event id #{entered_event}). {cause}"
            ),
        )
    }

    /// AWS's `States.DataLimitExceeded` for a state's input, output or task result over the
    /// quota. A result or an output is worded as AWS words it ("The state/task 'PostCoeffgen'
    /// returned a result with a size exceeding the maximum number of bytes service limit.", also
    /// in LocalStack's AWS-recorded `test_states_errors` snapshots); AWS's wording for an input
    /// is not known, so it says the same of the input.
    pub(super) fn data_limit(state: &str, what: Measured) -> Self {
        let did = match what {
            Measured::Input => "received an input",
            Measured::Output | Measured::Result => "returned a result",
        };
        Self::new(
            "States.DataLimitExceeded",
            format!(
                "The state/task '{state}' {did} with a size exceeding the maximum number of bytes service limit."
            ),
        )
    }

    /// Errors that end the execution whatever the Retry and Catch say (a task's own result over
    /// the quota is not one: it fails the task, which Retry and Catch handle).
    pub fn is_terminal(&self) -> bool {
        self.execution_timed_out
            || !self.from_task
                && matches!(
                    self.error.as_str(),
                    "States.DataLimitExceeded" | "States.Runtime"
                )
    }

    /// Whether an `ErrorEquals` list matches this error.
    pub(super) fn matched_by(&self, names: &[ErrorName]) -> bool {
        !self.is_terminal()
            && names.iter().map(ErrorName::as_str).any(|name| {
                name == self.error
                    || name == "States.ALL"
                    || (name == "States.TaskFailed"
                        && self.from_task
                        && self.error != "States.Timeout")
            })
    }
}

impl From<EvalError> for StateError {
    /// A path that selects nothing and an intrinsic function that fails are both `States.Runtime`
    /// (AWS reserves `States.IntrinsicFailure`).
    fn from(err: EvalError) -> Self {
        match err {
            EvalError::Runtime(cause) | EvalError::Intrinsic(cause) => Self::runtime(cause),
        }
    }
}
