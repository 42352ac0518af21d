//! The largest payload each state of the pipeline can hold, from the types its states are built
//! from (`PayloadSafe::MAX_JSON_BYTES`), and the envelopes AWS puts around them: what `synth`
//! commits beside the definition and checks against Step Functions' 256 KiB.

use std::collections::BTreeMap;

use asl::typed::{PayloadSafe, json_string_bytes};
use etl_lambda::contract::{
    DeleteTask02Chunks, ExecutionArn, GetTask02Chunks, Handler, MAX_BUCKET_LEN, MAX_KEY_LEN,
    PipelineInput, ProcessTask02Chunk,
};
use serde::Serialize;

use crate::{
    PROCESS_TASK02_CHUNKS, TASK02_CHUNKS_LEFT_BEHIND, TASK02_MIGRATED, TASK02_REJECTED, Task02State,
};

/// The most bytes of JSON of one state's input, raw result (what the Task or Map returned,
/// before `ResultSelector` and `ResultPath`) and output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PayloadBound {
    /// The state's input.
    pub input: usize,
    /// What a Task or Map returned, for the states that return something.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<usize>,
    /// The state's output.
    pub output: usize,
}

impl PayloadBound {
    /// The largest of the three.
    pub fn largest(&self) -> usize {
        self.input.max(self.output).max(self.result.unwrap_or(0))
    }
}

/// `lambda:invoke`'s envelope around the handler's output: `ExecutedVersion`, `StatusCode` and
/// the HTTP response's headers, twice (a request id, a date, a trace id, the length: about
/// 1 KiB in the local runner's rendering of AWS's).
pub const LAMBDA_ENVELOPE_BYTES: usize = 2048;

use asl::limits::{ERROR_CAUSE_CHARS, ERROR_NAME_CHARS};

/// `{"Error": .., "Cause": ..}`: what a Catch passes on.
const ERROR_OUTPUT_BYTES: usize = r#"{"Error":,"Cause":}"#.len()
    + json_string_bytes(ERROR_NAME_CHARS)
    + json_string_bytes(ERROR_CAUSE_CHARS);

/// A Distributed Map's result with a ResultWriter: its Map Run's ARN and where the manifest is.
const MAP_RUN_RESULT_BYTES: usize = r#"{"MapRunArn":,"ResultWriterDetails":{"Bucket":,"Key":}}"#
    .len()
    + json_string_bytes(ExecutionArn::MAX_LEN)
    + json_string_bytes(MAX_BUCKET_LEN)
    + json_string_bytes(MAX_KEY_LEN);

/// The raw result of a Task invoking handler `H`.
const fn invoke_result<H: Handler>() -> usize {
    H::Output::MAX_JSON_BYTES + LAMBDA_ENVELOPE_BYTES
}

/// Every state of the pipeline (the Map's processor's included) with its bound.
pub fn payload_bounds() -> BTreeMap<&'static str, PayloadBound> {
    let state = Task02State::MAX_JSON_BYTES;
    let task = |input, result, output| PayloadBound {
        input,
        result: Some(result),
        output,
    };
    let pass = |payload| PayloadBound {
        input: payload,
        result: None,
        output: payload,
    };
    BTreeMap::from([
        (
            GetTask02Chunks::STATE_NAME,
            task(
                PipelineInput::MAX_JSON_BYTES,
                invoke_result::<GetTask02Chunks>(),
                state,
            ),
        ),
        (
            PROCESS_TASK02_CHUNKS,
            task(state, MAP_RUN_RESULT_BYTES, state),
        ),
        (
            ProcessTask02Chunk::STATE_NAME,
            task(
                <ProcessTask02Chunk as Handler>::Input::MAX_JSON_BYTES,
                invoke_result::<ProcessTask02Chunk>(),
                <ProcessTask02Chunk as Handler>::Output::MAX_JSON_BYTES,
            ),
        ),
        (
            DeleteTask02Chunks::STATE_NAME,
            task(state, invoke_result::<DeleteTask02Chunks>(), state),
        ),
        (TASK02_MIGRATED, pass(state)),
        (TASK02_REJECTED, pass(ERROR_OUTPUT_BYTES)),
        (TASK02_CHUNKS_LEFT_BEHIND, pass(ERROR_OUTPUT_BYTES)),
    ])
}
