//! Evaluation: what the model's paths, payload templates, intrinsic functions and Choice
//! conditions give on a state's input, as AWS Step Functions evaluates them (the recorded
//! executions in the conformance cases decide where AWS's documentation is silent or wrong).
//!
//! - [`path`]: [`JsonPath`](crate::JsonPath) selection (filters in [`filter`]), and reading and
//!   writing a [`ReferencePath`](crate::ReferencePath) (ResultPath).
//! - [`template`]: payload templates expanded against [`Sources`] (`$` and `$$`).
//! - [`intrinsic`]: the `States.*` functions on evaluated arguments.
//! - [`choice`]: whether a Choice [`Condition`](crate::Condition) holds.
//! - [`jsonata`]: JSONata expressions (`{% … %}`) and templates, with AWS's added functions and
//!   error causes.
//! - [`random`]: the reproducible draws behind `States.UUID`, `States.MathRandom` and generated
//!   ids.
//!
//! Invariant: evaluation is pure. It reads the values it is given (the context object is built by
//! the caller, on demand) and does no I/O; the runner turns an [`EvalError`] into the error AWS
//! raises (`States.Runtime`).

pub mod choice;
pub mod filter;
pub mod intrinsic;
pub mod jsonata;
pub mod path;
pub mod random;
pub mod template;

pub use path::SetError;

/// Workflow variables in scope, by name (without `$`).
pub type Variables = serde_json::Map<String, serde_json::Value>;
pub use template::{Sources, check_intrinsic, evaluate, expand};

/// Why an expression could not be evaluated; AWS fails the state with `States.Runtime` for both.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// A bad path, a path that selects nothing, an invalid Choice rule.
    #[error("{0}")]
    Runtime(String),
    /// An intrinsic function failed on its arguments (`States.IntrinsicFailure` is reserved).
    #[error("{0}")]
    Intrinsic(String),
}
