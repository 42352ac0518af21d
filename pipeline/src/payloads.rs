//! The state between the pipeline's tasks, declared to the ASL model. (The handlers' contract types
//! are declared in `etl_lambda::contract`, next to their definitions.)

use asl::record;
use etl_lambda::contract::{DateRange, Task02Chunks};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The state after GetTask02Chunks: the pipeline's input with the chunks' ids, counts and store
/// at `task02_chunks` (its ResultPath). The Map reads it and passes it on unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Task02State {
    /// The date range the execution was started with.
    pub date_range: DateRange,
    /// GetTask02Chunks' result: where the chunks are and how many.
    pub task02_chunks: Task02Chunks,
}

record!(Task02State {
    date_range: DateRange,
    task02_chunks: Task02Chunks,
});
