//! The one explanation of a failed AWS call, for every command that calls AWS (`deploy`, `diff`,
//! `start`, `status`, `bootstrap`, `redrive`): no credentials, an endpoint that cannot be reached
//! or does not answer, a throttled call, a refused one. Each is one line saying what to do, worded
//! the same everywhere; and the one line of a command that stopped part way through its writes.

use std::error::Error as StdError;
use std::fmt;

// The same smithy types every aws-sdk-* crate re-exports: Lambda's errors are these too.
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Error codes AWS uses when a caller is over its request rate; polling waits and tries again.
const THROTTLING_CODES: [&str; 5] = [
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ThrottledException",
];

/// What a failed call means for the user, whatever the operation.
#[derive(Debug, PartialEq, Eq)]
pub enum CallFailure {
    NoCredentials,
    /// The connection failed; `cause` is the innermost error ("Connection refused ...").
    Unreachable {
        cause: String,
    },
    /// The endpoint did not answer in time.
    TimedOut,
    /// The service answered "slow down".
    Throttled {
        code: String,
    },
    /// The service answered with an error code and message.
    Service {
        code: String,
        message: String,
    },
    Other(String),
}

impl CallFailure {
    pub fn of<E, R>(err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
        R: std::fmt::Debug + 'static,
    {
        let chain = DisplayErrorContext(err).to_string();
        // The SDK's credential chain fails before any request is sent, with a message naming
        // credentials somewhere down the chain (whichever provider failed last: a profile, IMDS).
        if !matches!(err, SdkError::ServiceError(_))
            && chain.to_ascii_lowercase().contains("credential")
        {
            return CallFailure::NoCredentials;
        }
        match err {
            SdkError::DispatchFailure(failure) if failure.is_timeout() => CallFailure::TimedOut,
            SdkError::DispatchFailure(failure) if failure.is_io() => CallFailure::Unreachable {
                cause: root_cause(err),
            },
            SdkError::TimeoutError(_) => CallFailure::TimedOut,
            SdkError::ServiceError(service) => {
                let code = service.err().code().unwrap_or("UnknownError").to_owned();
                if THROTTLING_CODES.contains(&code.as_str()) {
                    CallFailure::Throttled { code }
                } else {
                    CallFailure::Service {
                        code,
                        message: service.err().message().unwrap_or("no message").to_owned(),
                    }
                }
            }
            _ => CallFailure::Other(chain),
        }
    }

    /// The service's error code, if the service answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            CallFailure::Service { code, .. } | CallFailure::Throttled { code } => Some(code),
            _ => None,
        }
    }

    /// One line: what failed, why, what to do. `operation` is the AWS operation
    /// (`DescribeStateMachine`); `endpoint` where calls go ([`super::endpoint_name`]).
    pub fn explain(&self, operation: &str, endpoint: &str) -> String {
        match self {
            CallFailure::NoCredentials => "no AWS credentials found: set AWS_PROFILE or pass --profile NAME (or `profile` in deploy.toml; run `aws sso login` first for an SSO profile), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_owned(),
            CallFailure::Unreachable { cause } => format!(
                "cannot reach the AWS endpoint {endpoint} ({cause}): check the network, --region and --endpoint-url (AWS_ENDPOINT_URL)"
            ),
            CallFailure::TimedOut => format!(
                "the AWS endpoint {endpoint} did not answer {operation} in time: check the network and try again"
            ),
            CallFailure::Throttled { code } => {
                format!("AWS is throttling {operation} ({code}): try again later")
            }
            CallFailure::Service { code, message } => {
                format!("{operation} failed: {code}: {message}")
            }
            CallFailure::Other(chain) => format!("{operation} failed: {chain}"),
        }
    }
}

/// Whether `err` says "slow down" rather than "this failed".
pub fn is_throttling<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(_))
        && err
            .code()
            .is_some_and(|code| THROTTLING_CODES.contains(&code))
}

/// The service's error code of a failed call, when the service answered.
pub fn service_error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// [`CallFailure::explain`] as an error.
pub fn describe<E, R>(operation: &str, endpoint: &str, err: &SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: std::fmt::Debug + 'static,
{
    anyhow::anyhow!(CallFailure::of(err).explain(operation, endpoint))
}

/// The one line of a `command` that stopped at `steps[index]` with `err`: what changed before it,
/// what did not, and that a re-run continues (every step is an upsert planned from what is live).
pub fn stopped_part_way<S: fmt::Display>(
    command: &str,
    steps: &[S],
    index: usize,
    err: anyhow::Error,
) -> anyhow::Error {
    let list = |steps: &[S]| {
        if steps.is_empty() {
            "nothing".to_owned()
        } else {
            steps
                .iter()
                .map(S::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    anyhow::anyhow!(
        "{command} stopped at `{}`: {err:#}. Changed: {}. Not changed: {}. Re-run {command} to continue from here (every step is an upsert)",
        steps[index],
        list(&steps[..index]),
        list(&steps[index..])
    )
}

/// The innermost message of the chain: for a connection failure, "Connection refused" and the like.
fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::error::ErrorMetadata;
    use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;

    fn service_error(code: &str, message: &str) -> SdkError<DescribeExecutionError, ()> {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        SdkError::service_error(DescribeExecutionError::generic(meta), ())
    }

    #[test]
    fn throttling_is_told_apart_from_other_service_errors() {
        assert!(is_throttling(&service_error(
            "ThrottlingException",
            "Rate exceeded"
        )));
        assert!(!is_throttling(&service_error(
            "ExecutionDoesNotExist",
            "no such execution"
        )));
        let line = describe(
            "DescribeExecution",
            "AWS us-east-1",
            &service_error("ThrottlingException", "Rate exceeded"),
        );
        assert_eq!(
            line.to_string(),
            "AWS is throttling DescribeExecution (ThrottlingException): try again later"
        );
        let line = describe(
            "DescribeExecution",
            "AWS us-east-1",
            &service_error("AccessDeniedException", "not allowed"),
        );
        assert_eq!(
            line.to_string(),
            "DescribeExecution failed: AccessDeniedException: not allowed"
        );
    }
}
