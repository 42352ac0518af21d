//! One-line messages for failed AWS calls: no credentials, an endpoint that cannot be reached, a
//! throttled or refused call, each saying what to do next.

use std::error::Error as StdError;
use std::fmt::Debug;

use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Error codes AWS uses when a caller is over its request rate; polling waits and tries again.
const THROTTLING_CODES: [&str; 5] = [
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ThrottledException",
];

/// Whether `err` says "slow down" rather than "this failed".
pub fn is_throttling<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code()
        .is_some_and(|code| THROTTLING_CODES.contains(&code))
}

/// Turns a failed call into one line: `doing` says what was being done ("starting the execution").
pub fn describe<E, R>(doing: &str, err: &SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: Debug + 'static,
{
    if mentions_credentials(err) {
        return anyhow::anyhow!(
            "{doing}: no AWS credentials were found; set AWS_PROFILE or pass --profile (run \
             `aws sso login` first for an SSO profile), or set AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY"
        );
    }
    match err {
        SdkError::DispatchFailure(_) => anyhow::anyhow!(
            "{doing}: cannot reach the AWS endpoint ({}); check --endpoint-url, --region and the \
             network",
            root_cause(err)
        ),
        SdkError::TimeoutError(_) => {
            anyhow::anyhow!("{doing}: AWS did not answer in time; check the network and try again")
        }
        SdkError::ServiceError(_) => {
            let code = err.code().unwrap_or("UnknownError");
            let message = err.message().unwrap_or("no message");
            if is_throttling(err) {
                anyhow::anyhow!("{doing}: AWS is throttling these calls ({code}); try again later")
            } else {
                anyhow::anyhow!("{doing}: {code}: {message}")
            }
        }
        _ => anyhow::anyhow!("{doing}: {}", DisplayErrorContext(err)),
    }
}

fn mentions_credentials(err: &(dyn StdError + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("no credentials") || text.contains("credentials provider") {
            return true;
        }
        current = e.source();
    }
    false
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
            "describing the execution",
            &service_error("ThrottlingException", "Rate exceeded"),
        );
        assert!(line.to_string().contains("throttling"), "{line}");
        let line = describe(
            "describing the execution",
            &service_error("AccessDeniedException", "not allowed"),
        );
        assert_eq!(
            line.to_string(),
            "describing the execution: AccessDeniedException: not allowed"
        );
    }
}
