//! The call log: an SDK interceptor on every client of [`super::AwsClients`] records each
//! operation (waiter polls included), so a summary can say how many calls a command made and how
//! many of them wrote.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_lambda::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_lambda::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_lambda::error::BoxError;
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
