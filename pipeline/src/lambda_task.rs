//! Lambda Tasks: a handler of the one function invoked through `arn:aws:states:::lambda:invoke`,
//! its result unwrapped from `Payload`, and the retries AWS recommends for Lambda.

use etl_lambda::contract::{Handler, HandlerErrorName};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use asl::field;
use asl::typed::{Path, Processor, Record, Scope, StateInput, Value};
use asl::{
    Branch, ErrorName, JitterStrategy, LAMBDA_INVOKE, PayloadTemplate, PayloadValue, ResultPath,
    Retrier, State, StateName, States, TaskState, Transition,
};

/// What `lambda:invoke` returns to the state machine: the handler's output under `Payload`.
/// The fields keep AWS's JSON names, so typed paths into it render as AWS spells them.
#[allow(non_snake_case)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LambdaInvokeResult<T> {
    /// The function version that ran (`$LATEST` or a number).
    pub ExecutedVersion: String,
    /// The handler's output.
    pub Payload: T,
    /// The HTTP status of the invocation (200 when the handler returned).
    pub StatusCode: u16,
}

/// A Task invoking handler `H` of `function` with the request `{"action": .., "input": ..}`
/// (the adjacently tagged `Request` of the contract), retried as [`retriers`] says.
pub fn invoke<H: Handler, S: Scope>(
    function: &str,
    input: impl Into<Value<S, H::Input>>,
    transition: Transition,
) -> TaskState {
    let request = PayloadTemplate::new()
        .with("action", PayloadValue::Literal(H::ACTION.as_str().into()))
        .with("input", input.into().into_payload());
    let mut task = TaskState::new(LAMBDA_INVOKE, transition);
    task.parameters = Some(
        PayloadTemplate::new()
            .with("FunctionName", PayloadValue::Literal(function.into()))
            .with("Payload", PayloadValue::Object(request)),
    );
    task.retry = retriers();
    task
}

/// A `ResultSelector` that unwraps the handler's output `T` from `Payload`, field by field (a
/// ResultSelector can only build an object). `T`'s `record!` lists every field, so a field added
/// to the contract is unwrapped too.
pub fn unwrap_payload<T: Record>() -> PayloadTemplate {
    let payload = Path::<LambdaInvokeResult<T>, _>::root()
        .at(field!(Payload))
        .reference();
    T::FIELD_NAMES
        .iter()
        .fold(PayloadTemplate::new(), |template, name| {
            template.with(*name, PayloadValue::Path(payload.clone().field(*name)))
        })
}

/// `OutputPath: $.Payload`: the Task's output is the handler's output.
pub fn payload_only<T: JsonSchema>() -> asl::ReferencePath {
    Path::<LambdaInvokeResult<T>, _>::root()
        .at(field!(Payload))
        .reference()
}

/// Where handler `H`'s output goes in the state: a path to a field of exactly `H::Output`.
pub fn result_at<H: Handler, Out: JsonSchema>(path: Path<Out, H::Output>) -> ResultPath {
    ResultPath::At(path.reference())
}

/// The Map processor that runs handler `H` on each item, taking the ItemSelector's output as
/// its input. Its output is the handler's output.
pub fn processor<H: Handler>(function: &str) -> Processor<H::Input, H> {
    let input = StateInput::<H::Input>::new();
    let mut task = invoke::<H, _>(function, input.input(Path::root()), Transition::End);
    task.output_path = Some(payload_only::<H::Output>().into());
    let name = StateName::new(H::STATE_NAME).expect("handler state names are 1 to 80 characters");
    let mut states = States::new();
    states.insert(name.clone(), State::Task(task));
    Processor::new(Branch {
        comment: None,
        start_at: name,
        states,
    })
}

/// The retries of every Lambda Task, most specific first:
/// 1. our handlers' retryable errors (`HandlerErrorName::is_retryable`);
/// 2. AWS's recommended retrier for Lambda service errors (2 s, 6 attempts, backoff 2);
/// 3. throttling, with full jitter and a cap, so a Map's iterations do not retry in lockstep.
pub fn retriers() -> Vec<Retrier> {
    let handler_retryable = HandlerErrorName::ALL
        .into_iter()
        .filter(|error| error.is_retryable())
        .map(|error| ErrorName::new(error.as_str()));
    vec![
        Retrier {
            interval_seconds: Some(5),
            max_attempts: Some(3),
            backoff_rate: Some(2.0),
            ..Retrier::on(handler_retryable)
        },
        Retrier {
            interval_seconds: Some(2),
            max_attempts: Some(6),
            backoff_rate: Some(2.0),
            ..Retrier::on(
                [
                    "Lambda.ClientExecutionTimeoutException",
                    "Lambda.ServiceException",
                    "Lambda.AWSLambdaException",
                    "Lambda.SdkClientException",
                ]
                .map(ErrorName::new),
            )
        },
        Retrier {
            interval_seconds: Some(1),
            max_attempts: Some(8),
            backoff_rate: Some(2.0),
            max_delay_seconds: Some(60),
            jitter_strategy: Some(JitterStrategy::Full),
            ..Retrier::on([ErrorName::new("Lambda.TooManyRequestsException")])
        },
    ]
}
