//! Stub Lambda functions that replay the invocations AWS recorded: each call takes the first
//! unused recorded invocation whose payload equals the call's, else the first unused one in
//! recorded order; once all are used the last response repeats; a stub with none returns its
//! payload. Each stub keeps the payloads it was sent, for the payload check
//! ([`super::compare::check_payloads`]).

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use serde_json::Value;

use super::case::{RecordedFunction, RecordedInvocation, Response};
use super::compare::same_json;
use crate::runner::function::{ExecutionEnvironment, LambdaError, LambdaFunction};

/// One stub function and which of its recorded invocations were used.
pub struct Replay {
    invocations: Vec<RecordedInvocation>,
    used: Mutex<Vec<bool>>,
    sent: SentLog,
}

/// The payloads one stub was sent, in call order; shared with whoever checks them.
pub type SentLog = Arc<Mutex<Vec<Value>>>;

impl Replay {
    pub fn new(function: &RecordedFunction) -> Self {
        Self {
            invocations: function.invocations.clone(),
            used: Mutex::new(vec![false; function.invocations.len()]),
            sent: SentLog::default(),
        }
    }

    /// The log of the payloads this stub is sent.
    pub fn sent(&self) -> SentLog {
        self.sent.clone()
    }

    /// The response for a call with `payload`, marking its invocation used.
    fn response_for(&self, payload: &Value) -> Option<&Response> {
        let mut used = self.used.lock().expect("replay state poisoned");
        let unused: Vec<usize> = (0..self.invocations.len())
            .filter(|at| !used[*at])
            .collect();
        let same_payload = unused.iter().copied().find(|at| {
            self.invocations[*at]
                .payload
                .as_ref()
                .is_some_and(|recorded| same_json(recorded, payload))
        });
        match same_payload.or(unused.first().copied()) {
            Some(at) => {
                used[at] = true;
                Some(&self.invocations[at].response)
            }
            None => self.invocations.last().map(|last| &last.response),
        }
    }

    fn call(&self, payload: Value) -> Result<Value, LambdaError> {
        self.sent
            .lock()
            .expect("sent log poisoned")
            .push(payload.clone());
        match self.response_for(&payload) {
            None | Some(Response::Echoes) => Ok(payload),
            Some(Response::Returns(value)) => Ok(value.clone()),
            Some(Response::ReturnsBig(length)) => Ok(Value::String("a".repeat(*length))),
            Some(Response::Raises(raised)) => {
                let error = LambdaError::new(&raised.error_type, &raised.message);
                Err(match &raised.cause {
                    Some(cause) => error.with_cause(cause),
                    None => error,
                })
            }
        }
    }
}

impl LambdaFunction for Replay {
    fn invoke<'a>(
        &'a self,
        payload: Value,
        _env: &'a mut ExecutionEnvironment,
    ) -> BoxFuture<'a, Result<Value, LambdaError>> {
        Box::pin(async move { self.call(payload) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::case::RaisedError;
    use serde_json::json;

    fn recorded(invocations: &[(Option<Value>, Response)]) -> Replay {
        Replay::new(&RecordedFunction {
            invocations: invocations
                .iter()
                .map(|(payload, response)| RecordedInvocation {
                    payload: payload.clone(),
                    response: response.clone(),
                })
                .collect(),
        })
    }

    #[test]
    fn a_matching_payload_is_preferred_then_recorded_order_then_the_last_repeats() {
        let replay = recorded(&[
            (Some(json!({"n": 1})), Response::Returns(json!("first"))),
            (Some(json!({"n": 2.0})), Response::Returns(json!("second"))),
        ]);
        assert_eq!(replay.call(json!({"n": 2})), Ok(json!("second")));
        assert_eq!(replay.call(json!({"n": 2})), Ok(json!("first")));
        assert_eq!(replay.call(json!({"n": 1})), Ok(json!("second")));
        assert_eq!(
            *replay.sent().lock().unwrap(),
            [json!({"n": 2}), json!({"n": 2}), json!({"n": 1})]
        );
    }

    #[test]
    fn echo_big_and_raise_behave_as_recorded() {
        let raised = RaisedError {
            error_type: "Exception".into(),
            message: "boom".into(),
            cause: Some("{\"verbatim\": true}".into()),
        };
        let replay = recorded(&[
            (None, Response::Echoes),
            (None, Response::ReturnsBig(4)),
            (None, Response::Raises(raised)),
        ]);
        assert_eq!(replay.call(json!([1])), Ok(json!([1])));
        assert_eq!(replay.call(json!(null)), Ok(json!("aaaa")));
        let error = replay.call(json!(null)).unwrap_err();
        assert_eq!(
            (error.error_type.as_str(), error.cause("r-1").as_str()),
            ("Exception", "{\"verbatim\": true}")
        );
        assert_eq!(recorded(&[]).call(json!({"x": 1})), Ok(json!({"x": 1})));
    }
}
