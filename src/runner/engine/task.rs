//! A Task: its request (Parameters or Arguments), the Lambda invocation through the simulated
//! Lambda, TimeoutSeconds on the virtual clock, and the result in AWS's shape (the optimised
//! integration's envelope and HTTP headers).

use super::*;
use asl::LAMBDA_INVOKE;

impl Run<'_> {
    pub(super) async fn task(
        &self,
        frame: Frame<'_>,
        name: &str,
        t: &TaskState,
        effective: &Value,
        clock: &mut Duration,
        retry_count: u32,
    ) -> Result<Value, StateError> {
        // HeartbeatSeconds(Path) is modelled but has nothing to act on here: AWS applies it to
        // activities and callback tasks, and a Lambda invocation sends no heartbeats.
        let at = frame.at_attempt(name, *clock, retry_count);
        let timeout = match &t.timeout_seconds {
            None => None,
            Some(Limit::Fixed(seconds)) => Some(u64::from(*seconds)),
            Some(Limit::Path(path)) => Some(positive_seconds(
                "TimeoutSecondsPath",
                path,
                effective,
                frame.variables,
            )?),
            Some(Limit::Expression(expression)) => {
                let value =
                    self.jsonata_setting(frame, at, "TimeoutSeconds", expression, effective)?;
                Some(value.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                    query_error(
                        frame,
                        name,
                        format!(
                            "The TimeoutSeconds field must be a positive integer, but was: {value}"
                        ),
                    )
                })?)
            }
        };
        let request = self
            .request(
                frame,
                at,
                "Arguments",
                (t.parameters.as_ref(), t.arguments.as_ref()),
                effective,
            )?
            .unwrap_or_else(|| effective.clone());
        frame.history.add(3)?; // TaskScheduled, TaskStarted, TaskSucceeded/TaskFailed
        self.task_attempts.fetch_add(1, Ordering::Relaxed);
        let optimised = t.resource == LAMBDA_INVOKE;
        let (function, payload) = if optimised {
            let function = request
                .get("FunctionName")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    StateError::runtime(format!("the Task `{name}` has no FunctionName parameter"))
                })?
                .to_owned();
            let payload = request.get("Payload").cloned().unwrap_or_else(|| json!({}));
            (function, payload)
        } else {
            (t.resource.clone(), request)
        };
        let functions = &self.engine.functions;
        let Some(resolved) = functions.resolve(&function) else {
            return Err(StateError::task(
                "Lambda.ResourceNotFoundException",
                self.function_not_found(&function),
            ));
        };
        let timing = self.engine.invocation_time;
        let invocation = functions
            .invoke(&resolved, payload, *clock, |real| match timing {
                InvocationTime::Measured => real,
                InvocationTime::Fixed(fixed) => fixed,
            })
            .await
            .map_err(|error| match error {
                InvokeError::Throttled { .. } => {
                    StateError::task(TOO_MANY_REQUESTS, error.to_string())
                }
                InvokeError::Environment(_) => {
                    StateError::task("Lambda.ServiceException", error.to_string())
                }
            })?;
        self.invocations.fetch_add(1, Ordering::Relaxed);
        let took = match timing {
            InvocationTime::Measured => invocation.real_duration,
            InvocationTime::Fixed(fixed) => fixed,
        };
        *clock = clock.saturating_add(took);
        self.lambda_billed_ms
            .fetch_add(took.as_micros().div_ceil(1000) as u64, Ordering::Relaxed);
        if let Some(timeout) = timeout
            && took > Duration::from_secs(timeout)
        {
            // AWS's TaskTimedOut and LambdaFunctionTimedOut events carry no cause.
            return Err(StateError::task("States.Timeout", ""));
        }
        let payload = invocation.result.map_err(|e| {
            let request_id = asl::eval::random::pseudo_uuid(self.draw());
            StateError::task(e.error_type.clone(), e.cause(&request_id))
        })?;
        let result = if optimised {
            let at = self.instant(*clock);
            invoke_result(payload, &asl::eval::random::pseudo_uuid(self.draw()), at)
        } else {
            payload
        };
        // A result over the quota fails the task itself (TaskFailed), so unlike the state's own
        // input and output, Retry and Catch handle it.
        self.record(name, Measured::Result, &result).map_err(|limit| {
            let task = if optimised { "lambda" } else { &t.resource };
            StateError::task(
                limit.error,
                format!(
                    "The state/task '{task}' returned a result with a size exceeding the maximum number of bytes service limit."
                ),
            )
        })?;
        Ok(result)
    }

    /// AWS's cause for a function that does not exist: Lambda's service error, naming the
    /// function's ARN, with the AWS SDK's suffix ("Function not found:
    /// arn:aws:lambda:us-east-1:111111111111:function:no_such_fn (Service: AWSLambda; Status
    /// Code: 404; Error Code: ResourceNotFoundException; Request ID: …; Proxy: null)").
    fn function_not_found(&self, function: &str) -> String {
        let arn = if function.starts_with("arn:") {
            function.to_owned()
        } else {
            format!(
                "arn:aws:lambda:{}:{}:function:{function}",
                self.spec.region, self.spec.account
            )
        };
        let request_id = asl::eval::random::pseudo_uuid(self.draw());
        format!(
            "Function not found: {arn} (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: {request_id}; Proxy: null)"
        )
    }
}

/// A Task's TimeoutSecondsPath (or HeartbeatSecondsPath): a positive integer (`60` or `"60"`),
/// else `States.Runtime`.
pub(super) fn positive_seconds(
    field: &str,
    path: &ReferencePath,
    effective: &Value,
    variables: &Variables,
) -> Result<u64, StateError> {
    let value = path.resolve(effective, variables).ok_or_else(|| {
        StateError::runtime(format!(
            "Invalid path '{path}' : {}",
            path.not_found_in(effective)
        ))
    })?;
    let seconds = super::distributed::integer_in(value).and_then(|n| u64::try_from(n).ok());
    seconds.filter(|n| *n > 0).ok_or_else(|| {
        StateError::runtime(format!(
            "The {field} field refers to value \"{value}\" which is not a positive integer: {path}"
        ))
    })
}

/// The result of `arn:aws:states:::lambda:invoke` around the function's `payload`, in AWS's
/// shape: the HTTP response's headers (twice, as AWS gives them) and the request id.
pub(super) fn invoke_result(payload: Value, request_id: &str, at: DateTime<Utc>) -> Value {
    let length = python_json_len(&payload).to_string();
    let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let trace = format!(
        "Root=1-{:08x}-{}",
        at.timestamp(),
        &request_id.replace('-', "")[..24]
    );
    json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Length": [length],
                "Date": [date],
                "X-Amzn-Trace-Id": [trace],
                "Content-Type": ["application/json"]
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "application/json",
                "Date": date,
                "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id,
                "X-Amzn-Trace-Id": trace
            },
            "HttpStatusCode": 200
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200
    })
}

/// The length of `value` as Python's `json.dumps` writes it (`", "` and `": "` between items),
/// the body a Python function's response has: AWS's Content-Length header.
pub(super) fn python_json_len(value: &Value) -> usize {
    let separators = |items: usize| 2 * items.saturating_sub(1);
    match value {
        Value::Array(items) => {
            2 + separators(items.len()) + items.iter().map(python_json_len).sum::<usize>()
        }
        Value::Object(members) => {
            2 + separators(members.len())
                + members
                    .iter()
                    .map(|(key, value)| {
                        json_len(&Value::String(key.clone())) + 2 + python_json_len(value)
                    })
                    .sum::<usize>()
        }
        scalar => json_len(scalar),
    }
}
