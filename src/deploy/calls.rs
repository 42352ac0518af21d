//! Counting and explaining AWS calls: an SDK interceptor records every operation (waiter polls
//! included) so the summary can say how many calls a deploy made and how many of them wrote; and
//! one function turns an SDK error into one line that names the fix.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_lambda::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_lambda::error::{BoxError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use serde::Serialize;

/// Operation names that change something in AWS start with one of these.
const MUTATING_PREFIXES: [&str; 9] = [
    "Create", "Update", "Publish", "Delete", "Put", "Tag", "Untag", "Start", "Stop",
];

/// Every AWS operation a command made, in order. Cloning shares the log.
#[derive(Clone, Debug, Default)]
pub struct ApiCalls(Arc<Mutex<Vec<String>>>);

/// How many calls, how many of them mutating, and how many of each operation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApiCallCount {
    pub total: usize,
    pub mutating: usize,
    pub by_operation: BTreeMap<String, usize>,
}

impl ApiCalls {
    fn record(&self, operation: &str) {
        self.0
            .lock()
            .expect("the call log is never poisoned")
            .push(operation.to_owned());
    }

    pub fn count(&self) -> ApiCallCount {
        let log = self.0.lock().expect("the call log is never poisoned");
        let mut count = ApiCallCount {
            total: log.len(),
            ..ApiCallCount::default()
        };
        for operation in log.iter() {
            if is_mutating(operation) {
                count.mutating += 1;
            }
            *count.by_operation.entry(operation.clone()).or_default() += 1;
        }
        count
    }
}

pub fn is_mutating(operation: &str) -> bool {
    MUTATING_PREFIXES
        .iter()
        .any(|prefix| operation.starts_with(prefix))
}

impl Intercept for ApiCalls {
    fn name(&self) -> &'static str {
        "ApiCalls"
    }

    /// Runs once per operation (not per retry attempt), after the operation's configuration (which
    /// names it) is in the bag; `read_before_execution` runs too early for a client interceptor.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            self.record(metadata.name());
        }
        Ok(())
    }
}

/// What an SDK error means for the user, when it is not specific to one operation.
#[derive(Debug, PartialEq, Eq)]
pub enum CallFailure {
    NoCredentials,
    Unreachable,
    /// The service answered with an error code and message.
    Service {
        code: String,
        message: String,
    },
    Other(String),
}

impl CallFailure {
    pub fn of<E>(err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let chain = DisplayErrorContext(err).to_string();
        let lower = chain.to_ascii_lowercase();
        if lower.contains("credential") && !matches!(err, SdkError::ServiceError(_)) {
            return CallFailure::NoCredentials;
        }
        match err {
            SdkError::DispatchFailure(failure) if failure.is_io() || failure.is_timeout() => {
                CallFailure::Unreachable
            }
            SdkError::TimeoutError(_) => CallFailure::Unreachable,
            SdkError::ServiceError(service) => CallFailure::Service {
                code: service.err().code().unwrap_or("Unknown").to_owned(),
                message: service.err().message().unwrap_or("no message").to_owned(),
            },
            _ => CallFailure::Other(chain),
        }
    }

    /// The service's error code, if the service answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            CallFailure::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// One line: what failed, why, what to do.
    pub fn explain(&self, operation: &str, endpoint: &str) -> String {
        match self {
            CallFailure::NoCredentials => format!(
                "no AWS credentials found ({operation}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile NAME (or `profile` in deploy.toml), or run `aws sso login`"
            ),
            CallFailure::Unreachable => format!(
                "cannot reach the AWS endpoint {endpoint} ({operation}): check the network, --region and --endpoint-url (AWS_ENDPOINT_URL)"
            ),
            CallFailure::Service { code, message } => {
                format!("{operation} failed: {code}: {message}")
            }
            CallFailure::Other(chain) => format!("{operation} failed: {chain}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_told_from_reads_by_the_operation_name() {
        let calls = ApiCalls::default();
        for op in [
            "GetFunctionConfiguration",
            "UpdateFunctionCode",
            "GetFunction",
            "PublishVersion",
            "DescribeStateMachine",
            "UpdateStateMachine",
            "ValidateStateMachineDefinition",
            "ListTagsForResource",
        ] {
            calls.record(op);
        }
        let count = calls.count();
        assert_eq!((count.total, count.mutating), (8, 3));
        assert_eq!(count.by_operation["GetFunction"], 1);
    }
}
