//! Step Functions' hard limits that a definition, an execution or its data run into, one
//! constant each, with where AWS states it. Checks elsewhere refer here rather than repeating the
//! numbers.

/// The largest definition a state machine may have, in bytes (Step Functions quotas: maximum
/// size of state machine definition, 1 MB, a hard quota).
pub const DEFINITION_BYTES: usize = 1_048_576;

/// The largest input or output of a task, state or execution, in UTF-8 bytes of its JSON (Step
/// Functions quotas: maximum input or output size, 256 KiB).
pub const PAYLOAD_BYTES: usize = 262_144;

/// The most events one execution's history may hold (Step Functions quotas: maximum execution
/// history size, 25,000 events; the execution fails when it reaches it).
pub const HISTORY_EVENTS: u64 = 25_000;

/// The longest a Standard execution runs, in seconds (Step Functions quotas: maximum execution
/// time, Standard, 1 year; past it the execution times out with `States.Timeout`).
pub const EXECUTION_SECONDS: u64 = 365 * 24 * 60 * 60;

/// The longest Wait AWS runs, in seconds: 2^31 - 1 (observed: a Wait of 24,855 days starts, one
/// of 24,856 days fails with `States.Runtime`, "Wait state delay is too long.").
pub const WAIT_SECONDS: i64 = i32::MAX as i64;

/// The largest response a synchronous Lambda invocation returns, in bytes (Lambda quotas:
/// invocation payload, 6 MB each for request and response; observed: 6 MB plus 100 bytes).
pub const LAMBDA_RESPONSE_BYTES: usize = 6_291_556;

/// JSONata evaluation depth (nested calls and sub-expressions, about four a level of a
/// recursive function); past it the expression fails with JSONata's U1001 "Stack overflow".
/// AWS documents none; its JavaScript evaluator's call stack ends a runaway recursion too.
pub const JSONATA_MAX_DEPTH: usize = 1_000;

/// JSONata evaluation time, milliseconds; past it the expression fails with JSONata's U1001
/// "Expression evaluation timeout". AWS documents none; no state should hang on one expression.
pub const JSONATA_TIME_LIMIT_MS: usize = 5_000;

/// How deeply a JSONata expression's brackets may nest: its parser recurses on them, and 64
/// levels parse on a 2 MiB thread stack (a debug build overflows one past about 120).
pub const JSONATA_MAX_NESTING: usize = 64;

/// The most iterations an inline Map runs at once (Step Functions: an inline Map's concurrency
/// is at most 40; a higher MaxConcurrency has no effect).
pub const INLINE_MAP_MAX_CONCURRENCY: u32 = 40;

/// The most child executions a Distributed Map runs at once (Step Functions quotas: Distributed
/// Map concurrency, 10,000; also what it runs when MaxConcurrency is 0 or absent).
pub const DISTRIBUTED_MAP_MAX_CONCURRENCY: u32 = 10_000;

/// The most items a Distributed Map's ItemReader reads (Step Functions: ReaderConfig MaxItems
/// is at most 100,000,000).
pub const READER_MAX_ITEMS: u32 = 100_000_000;

/// The longest a Distributed Map's `Label` may be, in characters (Step Functions: Label, 1 to 40
/// characters).
pub const MAP_LABEL_CHARS: usize = 40;

/// The longest name of a state, a state machine, an execution or a workflow variable, in
/// characters (Step Functions: names are 1 to 80 characters).
pub const NAME_CHARS: usize = 80;

/// The longest ARN, in characters (IAM: an ARN is at most 2,048 characters).
pub const ARN_CHARS: usize = 2048;

/// The longest error name and cause a state may report, in characters (Step Functions: a Fail
/// state's or a task failure's error is at most 256 characters, its cause 32,768).
pub const ERROR_NAME_CHARS: usize = 256;
/// See [`ERROR_NAME_CHARS`].
pub const ERROR_CAUSE_CHARS: usize = 32_768;

/// The largest `IntervalSeconds` and `MaxAttempts` of a retrier (Step Functions: both are at
/// most 99,999,999).
pub const RETRY_MAX: u32 = 99_999_999;

/// The largest `MaxDelaySeconds` of a retrier, 366 days (Step Functions: MaxDelaySeconds is at
/// most 31,622,400).
pub const RETRY_MAX_DELAY_SECONDS: u32 = 31_622_400;

/// The longest an Express execution runs, in seconds (Step Functions quotas: maximum execution
/// time, Express, 5 minutes).
pub const EXPRESS_EXECUTION_SECONDS: u32 = 300;

/// How long after it stopped an execution may be redriven, in days (Step Functions: redrive is
/// available for 14 days after a failed execution stops).
pub const REDRIVE_WINDOW_DAYS: i64 = 14;

/// The most published versions a state machine may have (Step Functions quotas: versions per
/// state machine, 1,000).
pub const STATE_MACHINE_VERSIONS: u32 = 1000;
