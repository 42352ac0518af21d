//! The Map state: its processor, its configuration and its `ItemBatcher`. The S3 side of a
//! Distributed Map (`ItemReader`, `ResultWriter`) is in `item_reader.rs` and `result_writer.rs`.

use serde::{Deserialize, Serialize};

use super::fields::asl_struct;
use super::limit::{
    max_concurrency, max_input_bytes_per_batch, max_items_per_batch, tolerated_failure_count,
    tolerated_failure_percentage,
};
use super::{Branch, ItemReader, Limit, ResultPath, ResultWriter, Transition};
use crate::path::DataPath;
use crate::payload::PayloadTemplate;

/// A Map's `ItemProcessor`: how and what runs for each item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ItemProcessor {
    /// The mode (`INLINE` when absent) and, for a Distributed Map, the children's workflow type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processor_config: Option<ProcessorConfig>,
    /// The states run for each item, flattened into the processor (`StartAt`, `States`).
    #[serde(flatten)]
    pub branch: Branch,
}

/// A Map processor's `ProcessorConfig`: inline or distributed, and the child workflow type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ProcessorConfig {
    /// Whether the iterations run in this execution or as child executions.
    pub mode: ProcessorMode,
    /// Only for `DISTRIBUTED`: how each child workflow runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_type: Option<ExecutionType>,
}

/// `INLINE` runs the iterations in this execution (at most
/// [`INLINE_MAP_MAX_CONCURRENCY`](crate::limits::INLINE_MAP_MAX_CONCURRENCY) at once);
/// `DISTRIBUTED` starts child executions (up to
/// [`DISTRIBUTED_MAP_MAX_CONCURRENCY`](crate::limits::DISTRIBUTED_MAP_MAX_CONCURRENCY) at once),
/// reading items with an ItemReader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProcessorMode {
    /// `INLINE`: the iterations run in this execution.
    Inline,
    /// `DISTRIBUTED`: the iterations run as child executions.
    Distributed,
}

/// The workflow type of a Distributed Map's child executions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ExecutionType {
    /// `STANDARD`: each child is a Standard workflow execution.
    Standard,
    /// `EXPRESS`: each child is an Express workflow execution (at most five minutes).
    Express,
}

asl_struct! {
    /// A Map: runs its processor once per item. Only `ItemProcessor` and `ItemSelector` exist
    /// here; the deprecated `Iterator` and Map `Parameters` cannot be written (a definition that
    /// has them is read through [`crate::upgrade()`]).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    pub struct MapState {
        comment,
        query_language,
        input_path,
        #[asl("ItemReader", Both)]
        /// Distributed only: where the items are read from (an S3 object or listing).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub item_reader: Option<ItemReader>,
        #[asl("ItemsPath", JsonPath)]
        /// JSONPath: where the items array is in the effective input (`$` when absent).
        #[serde(
            default,
            deserialize_with = "DataPath::present",
            skip_serializing_if = "Option::is_none"
        )]
        pub items_path: Option<DataPath>,
        #[asl("Items", Jsonata)]
        /// JSONata: the items, an array or a JSONata string that gives one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub items: Option<serde_json::Value>,
        #[asl("ItemSelector", Both)]
        /// Builds each iteration's input from the item (`$$.Map.Item.Value`) and the state's
        /// input.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub item_selector: Option<PayloadTemplate>,
        #[asl("ItemBatcher", Both)]
        /// Distributed only: groups items into batches.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub item_batcher: Option<ItemBatcher>,
        /// What runs for each item: the mode and the states.
        pub item_processor: ItemProcessor,
        #[asl("MaxConcurrency", Both)]
        /// Iterations (child executions) running at once; absent or 0 means as many as AWS
        /// allows.
        #[serde(flatten, with = "max_concurrency")]
        pub max_concurrency: Option<Limit<u32>>,
        #[asl("ToleratedFailurePercentage", Both)]
        /// Distributed only: the share of failed children (0 to 100 %) past which the Map Run
        /// fails.
        #[serde(flatten, with = "tolerated_failure_percentage")]
        pub tolerated_failure_percentage: Option<Limit<f64>>,
        #[asl("ToleratedFailureCount", Both)]
        /// Distributed only: the number of failed children past which the Map Run fails.
        #[serde(flatten, with = "tolerated_failure_count")]
        pub tolerated_failure_count: Option<Limit<u32>>,
        /// Distributed only: names the child executions.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub label: Option<String>,
        #[asl("ResultWriter", Both)]
        /// Distributed only: writes the results to S3 instead of the state output.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub result_writer: Option<ResultWriter>,
        result_selector,
        result_path,
        output_path,
        output,
        assign,
        retry,
        catch,
        transition,
    }
}

impl MapState {
    /// An inline Map running `processor` for each item, with nothing else set.
    pub fn inline(processor: Branch, transition: Transition) -> Self {
        Self {
            comment: None,
            query_language: None,
            input_path: None,
            item_reader: None,
            items_path: None,
            items: None,
            item_selector: None,
            item_batcher: None,
            item_processor: ItemProcessor {
                processor_config: Some(ProcessorConfig {
                    mode: ProcessorMode::Inline,
                    execution_type: None,
                }),
                branch: processor,
            },
            max_concurrency: None,
            tolerated_failure_percentage: None,
            tolerated_failure_count: None,
            label: None,
            result_writer: None,
            result_selector: None,
            result_path: ResultPath::Replace,
            output_path: None,
            output: None,
            assign: None,
            retry: Vec::new(),
            catch: Vec::new(),
            transition,
        }
    }

    /// Whether the processor runs in `DISTRIBUTED` mode, as child executions.
    pub fn is_distributed(&self) -> bool {
        self.item_processor
            .processor_config
            .as_ref()
            .is_some_and(|config| config.mode == ProcessorMode::Distributed)
    }
}

asl_struct! {
    /// A Distributed Map's `ItemBatcher`: each child execution gets a batch of items, with the
    /// `BatchInput` built once from the Map's input.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    pub struct ItemBatcher {
        #[asl("MaxItemsPerBatch", Both)]
        /// The most items in one batch.
        #[serde(flatten, with = "max_items_per_batch")]
        pub max_items_per_batch: Option<Limit<u32>>,
        #[asl("MaxInputBytesPerBatch", Both)]
        /// At most [`PAYLOAD_BYTES`](crate::limits::PAYLOAD_BYTES), the most a child
        /// execution's input may hold.
        #[serde(flatten, with = "max_input_bytes_per_batch")]
        pub max_input_bytes_per_batch: Option<Limit<u32>>,
        #[asl("BatchInput", Both)]
        /// A JSON object added to every batch as `BatchInput`, built from the Map's input.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub batch_input: Option<PayloadTemplate>,
    }
}
