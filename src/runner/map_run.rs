//! A Distributed Map's Map Run, apart from how the definition is modelled: reading the items
//! (`s3:getObject` as JSON, JSON Lines or CSV; `s3:listObjectsV2`; MaxItems), grouping them into
//! batches (ItemBatcher), naming the Map Run and its child executions, running the children on
//! virtual time under MaxConcurrency until the tolerated failure threshold is exceeded, and
//! writing their results (ResultWriter).
//!
//! Plain values in ([`ItemSource`], [`ItemLimit`], [`ResolvedBatchLimits`], [`Tolerance`], a
//! closure that runs one [`Child`]), JSON values out. The engine (`super::engine`) evaluates the
//! `asl` Map's fields into these; this module never sees the definition.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use asl::limits::{DISTRIBUTED_MAP_MAX_CONCURRENCY, READER_MAX_ITEMS};
use chrono::{DateTime, SecondsFormat, Utc};
use etl_lambda::{ObjectError, ObjectStore};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value, json};

use asl::eval::random::pseudo_uuid;

use super::engine::{ExecutionSpec, StateError};
use super::function::json_len;

/// Children really in flight (tokio tasks) at once, whatever the virtual concurrency: the virtual
/// schedule does not need more, and each one in flight holds memory and an environment.
pub const MAX_IN_FLIGHT: usize = 256;

/// The error of a failed ItemReader.
pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
/// The error of a failed ResultWriter.
pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
/// The error of a Map Run whose failed children exceed the tolerated threshold.
pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";

fn item_reader_failed(cause: impl Into<String>) -> StateError {
    StateError::new(ITEM_READER_FAILED, cause)
}

fn result_writer_failed(cause: impl Into<String>) -> StateError {
    StateError::new(RESULT_WRITER_FAILED, cause)
}

/// What an ItemReader reads, its Parameters already evaluated.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemSource {
    /// `s3:getObject`: one object holding every item.
    Object {
        bucket: String,
        key: String,
        format: ItemFormat,
    },
    /// `s3:listObjectsV2`: one item per object whose key starts with `prefix`.
    Listing { bucket: String, prefix: String },
}

/// How an object holds its items.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemFormat {
    /// One JSON array.
    Json,
    /// One JSON value per line.
    JsonLines,
    /// Comma-separated rows, each item an object of strings keyed by the header.
    Csv(CsvHeader),
}

#[derive(Clone, Debug, PartialEq)]
pub enum CsvHeader {
    /// The object's first row.
    FirstRow,
    /// Given by the definition (`CSVHeaders`).
    Given(Vec<String>),
}

/// ReaderConfig's MaxItems: 0 reads every item; AWS reads at most 100,000,000.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ItemLimit(Option<u64>);

impl ItemLimit {
    pub const ALL: Self = Self(None);

    /// MaxItems as written or selected by MaxItemsPath; a negative one fails the ItemReader.
    pub fn new(max_items: i64) -> Result<Self, StateError> {
        match u64::try_from(max_items) {
            Err(_) => Err(item_reader_failed("field MaxItems must be positive")),
            Ok(0) => Ok(Self::ALL),
            Ok(n) => Ok(Self(Some(n.min(u64::from(READER_MAX_ITEMS))))),
        }
    }

    fn take(self) -> usize {
        self.0
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
    }
}

/// Reads the items of `source` from `objects`, at most `limit` of them.
pub async fn read_items(
    objects: &ObjectStore,
    source: &ItemSource,
    limit: ItemLimit,
) -> Result<Vec<Value>, StateError> {
    match source {
        ItemSource::Object {
            bucket,
            key,
            format,
        } => {
            let body = objects
                .get(bucket, key)
                .await
                .map_err(|error| item_reader_failed(object_error_cause(&error, bucket)))?
                .ok_or_else(|| {
                    item_reader_failed(format!(
                        "The specified key does not exist: s3://{bucket}/{key} (S3 GetObject: NoSuchKey)"
                    ))
                })?;
            parse_items(&body, format, limit.take())
        }
        ItemSource::Listing { bucket, prefix } => {
            let listing = objects
                .list(bucket, prefix)
                .await
                .map_err(|error| item_reader_failed(object_error_cause(&error, bucket)))?;
            let mut items = Vec::with_capacity(listing.len().min(limit.take()));
            for object in listing.into_iter().take(limit.take()) {
                let etag = match object.etag {
                    Some(etag) => etag,
                    None => local_etag(objects, bucket, &object.key).await?,
                };
                let last_modified = object
                    .last_modified
                    .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |since| since.as_secs());
                // Step Functions spells it `Etag`, not S3's `ETag`.
                items.push(json!({
                    "Etag": etag,
                    "Key": object.key,
                    "LastModified": last_modified,
                    "Size": object.size,
                    "StorageClass": object.storage_class.as_deref().unwrap_or("STANDARD"),
                }));
            }
            Ok(items)
        }
    }
}

/// What S3 would give as the ETag of an object written in one PutObject: the quoted MD5 of its
/// bytes (a local store keeps no digest, so it is computed here).
async fn local_etag(objects: &ObjectStore, bucket: &str, key: &str) -> Result<String, StateError> {
    use md5::Digest;
    let body = objects
        .get(bucket, key)
        .await
        .map_err(|error| item_reader_failed(object_error_cause(&error, bucket)))?
        .unwrap_or_default();
    let digest = md5::Md5::digest(&body);
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    Ok(format!("\"{hex}\""))
}

fn object_error_cause(error: &ObjectError, bucket: &str) -> String {
    match error {
        ObjectError::NoSuchBucket { operation } => {
            format!("The specified bucket does not exist: {bucket} (S3 {operation}: NoSuchBucket)")
        }
        ObjectError::AccessDenied { .. } | ObjectError::Failed { .. } => format!("S3 {error}"),
    }
}

fn parse_items(body: &[u8], format: &ItemFormat, take: usize) -> Result<Vec<Value>, StateError> {
    match format {
        ItemFormat::Json => {
            let value: Value = serde_json::from_slice(body).map_err(|error| {
                item_reader_failed(format!("The object is not valid JSON: {error}"))
            })?;
            match value {
                Value::Array(mut items) => {
                    items.truncate(take);
                    Ok(items)
                }
                _ => Err(item_reader_failed(
                    "Attempting to map over non-iterable node.",
                )),
            }
        }
        ItemFormat::JsonLines => {
            let text = std::str::from_utf8(body)
                .map_err(|_| item_reader_failed("The object is not UTF-8 text."))?;
            text.lines()
                .enumerate()
                .filter(|(_, line)| !line.trim().is_empty())
                .take(take)
                .map(|(number, line)| {
                    serde_json::from_str(line).map_err(|error| {
                        item_reader_failed(format!(
                            "Line {} of the object is not valid JSON: {error}",
                            number + 1
                        ))
                    })
                })
                .collect()
        }
        ItemFormat::Csv(header) => parse_csv(body, header, take),
    }
}

/// CSV rows as objects of strings: a short row is padded with `""`, extra fields are dropped; the
/// header's columns must be distinct.
fn parse_csv(body: &[u8], header: &CsvHeader, take: usize) -> Result<Vec<Value>, StateError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut rows = reader.records();
    let mut next_row = || {
        rows.next()
            .transpose()
            .map_err(|error| item_reader_failed(format!("The object is not valid CSV: {error}")))
    };
    let columns: Vec<String> = match header {
        CsvHeader::Given(columns) => columns.clone(),
        CsvHeader::FirstRow => match next_row()? {
            Some(first) => first.iter().map(str::to_owned).collect(),
            None => return Ok(Vec::new()),
        },
    };
    let mut distinct = std::collections::HashSet::new();
    if !columns.iter().all(|column| distinct.insert(column)) {
        return Err(item_reader_failed("CSV headers cannot contain duplicates."));
    }
    let mut items = Vec::new();
    while items.len() < take {
        let Some(record) = next_row()? else { break };
        let fields: Map<String, Value> = columns
            .iter()
            .enumerate()
            .map(|(at, column)| {
                let field = record.get(at).unwrap_or_default();
                (column.clone(), Value::String(field.to_owned()))
            })
            .collect();
        items.push(Value::Object(fields));
    }
    Ok(items)
}

/// One child execution's input: one selected item, or a batch of `items` of them.
#[derive(Clone, Debug, PartialEq)]
pub struct ChildInput {
    pub items: u64,
    pub input: Value,
}

impl ChildInput {
    pub fn single(input: Value) -> Self {
        Self { items: 1, input }
    }
}

/// ItemBatcher's limits, resolved: at most `max_items` items per batch, and at most `max_bytes`
/// bytes of child input (`{"Items": [...], "BatchInput": ...}` as compact JSON).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResolvedBatchLimits {
    pub max_items: Option<u64>,
    pub max_bytes: Option<u64>,
}

/// Groups selected items, in order, into batches `{"Items": [...]}` (with `"BatchInput"` when
/// given), each as large as the limits allow. Lazy: a batch is built when a child needs it.
pub struct Batches<I> {
    items: I,
    limits: ResolvedBatchLimits,
    batch_input: Option<Value>,
    /// The size of a batch with no items.
    empty_bytes: u64,
    /// An item read but left for the next batch.
    carried: Option<Value>,
}

impl<I> Batches<I> {
    pub fn new(items: I, limits: ResolvedBatchLimits, batch_input: Option<Value>) -> Self {
        let empty_bytes = json_len(&batch_value(Vec::new(), batch_input.as_ref())) as u64;
        Self {
            items,
            limits,
            batch_input,
            empty_bytes,
            carried: None,
        }
    }
}

fn batch_value(items: Vec<Value>, batch_input: Option<&Value>) -> Value {
    let mut batch = json!({ "Items": items });
    if let Some(batch_input) = batch_input {
        batch["BatchInput"] = batch_input.clone();
    }
    batch
}

impl<I: Iterator<Item = Result<Value, StateError>>> Iterator for Batches<I> {
    type Item = Result<ChildInput, StateError>;

    fn next(&mut self) -> Option<Self::Item> {
        let max_items = self.limits.max_items.unwrap_or(u64::MAX);
        let max_bytes = self.limits.max_bytes.unwrap_or(u64::MAX);
        let mut batch = Vec::new();
        let mut bytes = self.empty_bytes;
        while (batch.len() as u64) < max_items {
            let item = match self.carried.take() {
                Some(item) => item,
                None => match self.items.next() {
                    Some(Ok(item)) => item,
                    Some(Err(error)) => return Some(Err(error)),
                    None => break,
                },
            };
            let separator = u64::from(!batch.is_empty());
            let item_bytes = json_len(&item) as u64 + separator;
            if bytes + item_bytes > max_bytes {
                if batch.is_empty() {
                    return Some(Err(StateError::runtime(format!(
                        "An item of {item_bytes} bytes does not fit in a batch of at most {max_bytes} bytes (MaxInputBytesPerBatch)."
                    ))));
                }
                self.carried = Some(item);
                break;
            }
            bytes += item_bytes;
            batch.push(item);
        }
        (!batch.is_empty()).then(|| {
            Ok(ChildInput {
                items: batch.len() as u64,
                input: batch_value(batch, self.batch_input.as_ref()),
            })
        })
    }
}

/// The tolerated failure thresholds. Only those given apply; with neither, the first failed item
/// fails the Map Run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tolerance {
    pub count: Option<u64>,
    /// Percent of all items, 0 to 100.
    pub percentage: Option<f64>,
}

impl Tolerance {
    /// Whether `failed` items of `total` exceed a threshold.
    pub fn exceeded(&self, failed: u64, total: u64) -> bool {
        let by_count = self.count.map(|count| failed > count);
        let by_share = self
            .percentage
            .map(|percentage| failed as f64 * 100.0 / total.max(1) as f64 > percentage);
        match (by_count, by_share) {
            (None, None) => failed > 0,
            (count, share) => count.unwrap_or(false) || share.unwrap_or(false),
        }
    }
}

/// The names AWS gives a Map Run and its child executions:
/// `arn:aws:states:REGION:ACCOUNT:mapRun:MACHINE/LABEL:RUN_ID` and
/// `arn:aws:states:REGION:ACCOUNT:execution:MACHINE/LABEL:CHILD_NAME`, where LABEL is the Map's
/// Label or, without one, a generated id.
#[derive(Clone, Debug)]
pub struct MapRunNames {
    pub arn: String,
    /// The Map Run's id: the last part of its ARN and the folder of its results.
    pub id: String,
    /// What the children run: `arn:...:stateMachine:MACHINE/LABEL`.
    pub child_state_machine_arn: String,
    pub child_state_machine_name: String,
    child_execution_prefix: String,
    seed: u64,
}

impl MapRunNames {
    /// Names derived from `seed`, so a run is reproducible.
    pub fn new(spec: &ExecutionSpec, label: Option<&str>, seed: u64) -> Self {
        let id = pseudo_uuid(seed);
        // Without a Label, AWS puts a generated id in its place.
        let label_or_id = label.map_or_else(|| pseudo_uuid(!seed), str::to_owned);
        let machine = format!("{}/{label_or_id}", spec.state_machine);
        let arn_prefix = format!("arn:aws:states:{}:{}", spec.region, spec.account);
        Self {
            arn: format!("{arn_prefix}:mapRun:{machine}:{id}"),
            child_state_machine_arn: format!("{arn_prefix}:stateMachine:{machine}"),
            child_execution_prefix: format!("{arn_prefix}:execution:{machine}:"),
            child_state_machine_name: machine,
            id,
            seed,
        }
    }

    /// The name and ARN of child execution `index`.
    pub fn child(&self, index: usize) -> (String, String) {
        let name = pseudo_uuid(self.seed.wrapping_add(1 + index as u64));
        let arn = format!("{}{name}", self.child_execution_prefix);
        (name, arn)
    }
}

/// One child execution to run.
#[derive(Debug)]
pub struct Child {
    pub name: String,
    pub arn: String,
    pub input: Value,
    /// How many items its input holds (1 without an ItemBatcher).
    pub items: u64,
    /// When it starts, on the virtual clock.
    pub start: Duration,
}

/// How a child execution ended.
#[derive(Debug)]
pub struct ChildEnd {
    pub output: Result<Value, StateError>,
    /// When it ended, on the virtual clock.
    pub finished: Duration,
    pub history_events: u64,
    /// Its state transitions (what a Standard child is billed for).
    pub state_transitions: u64,
    /// Its duration rounded up to 100 ms (what an Express child is billed for); 0 when it did
    /// not run.
    pub billed_ms: u64,
}

/// What a Map Run does with its children's results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Results {
    /// Keeps their outputs, in item order: the Map's result array.
    Collect,
    /// Keeps what a ResultWriter writes (execution records by status).
    Record,
}

/// How one Map Run runs.
pub struct MapRunPlan<'a> {
    /// The Map state's name.
    pub state: &'a str,
    pub names: &'a MapRunNames,
    /// At most this many children at once on the virtual clock (0: [`DISTRIBUTED_MAP_MAX_CONCURRENCY`]).
    pub max_concurrency: u64,
    pub tolerance: Tolerance,
    pub items_total: u64,
    /// The wall-clock instant of virtual time zero (the execution's start), for result dates.
    pub epoch: DateTime<Utc>,
    pub results: Results,
    /// Whether the children are Express executions.
    pub express: bool,
}

/// A Map Run's figures, as the report shows them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MapRunSummary {
    pub state: String,
    pub map_run_arn: String,
    pub items_total: u64,
    pub succeeded: u64,
    /// Items whose child failed, timed out or was aborted.
    pub failed: u64,
    /// Items whose results a ResultWriter wrote.
    pub results_written: u64,
    pub largest_child_history_events: u64,
    /// Child executions that ran (not those a redrive skipped), their state transitions and
    /// their durations rounded up as Express executions are billed.
    pub children_run: u64,
    pub child_state_transitions: u64,
    pub child_billed_ms: u64,
    /// Whether the children are Express executions (else Standard).
    pub express_children: bool,
    /// The first failed child's error, when one failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<StateError>,
}

/// The end of a Map Run.
pub struct MapRunEnd {
    pub summary: MapRunSummary,
    /// When its last child ended, on the virtual clock.
    pub finished: Duration,
    /// The children's outputs in item order ([`Results::Collect`]); a failed child's place holds
    /// `null`.
    pub outputs: Vec<Value>,
    /// What a ResultWriter writes ([`Results::Record`]).
    pub records: ResultRecords,
    /// Why the Map Run failed: too many failed children, or a child input that could not be
    /// built.
    pub error: Option<StateError>,
}

/// Runs one child execution per input, each started on the virtual clock at the earliest instant
/// one of `max_concurrency` slots is free (from `start`); stops starting children once the
/// failed items exceed the tolerance or an input cannot be built.
pub async fn run_children<I, F, Fut>(
    plan: &MapRunPlan<'_>,
    inputs: I,
    start: Duration,
    run_child: F,
) -> MapRunEnd
where
    I: Iterator<Item = Result<ChildInput, StateError>>,
    F: Fn(Child) -> Fut,
    Fut: Future<Output = ChildEnd>,
{
    let virtual_concurrency = match plan.max_concurrency {
        0 => u64::from(DISTRIBUTED_MAP_MAX_CONCURRENCY),
        n => n,
    }
    .min(plan.items_total.max(1));
    let in_flight = usize::try_from(virtual_concurrency)
        .unwrap_or(MAX_IN_FLIGHT)
        .min(MAX_IN_FLIGHT);
    let slots = Mutex::new(BinaryHeap::from(vec![
        Reverse(start);
        usize::try_from(virtual_concurrency)
            .expect(
                "bounded by the item count"
            )
    ]));
    let stop = AtomicBool::new(false);
    let input_error = Mutex::new(None);
    let keep_input_text = plan.results == Results::Record;

    let started = inputs.enumerate().map_while(|(index, input)| {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        match input {
            Ok(input) => Some((index, input)),
            Err(error) => {
                *input_error.lock().expect("input error poisoned") = Some(error);
                None
            }
        }
    });
    let mut children = futures::stream::iter(started)
        .map(|(index, ChildInput { items, input })| {
            let slots = &slots;
            let run_child = &run_child;
            async move {
                let Reverse(at) = slots
                    .lock()
                    .expect("slots poisoned")
                    .pop()
                    .expect("one slot per running child");
                let (name, arn) = plan.names.child(index);
                let input_text = keep_input_text.then(|| input.to_string());
                let child = Child {
                    name: name.clone(),
                    arn: arn.clone(),
                    input,
                    items,
                    start: at,
                };
                let end = run_child(child).await;
                slots
                    .lock()
                    .expect("slots poisoned")
                    .push(Reverse(end.finished));
                let record = ChildRecord {
                    name,
                    arn,
                    input_text,
                    items,
                    start: at,
                };
                (index, record, end)
            }
        })
        .buffer_unordered(in_flight);

    let mut summary = MapRunSummary {
        state: plan.state.to_owned(),
        map_run_arn: plan.names.arn.clone(),
        items_total: plan.items_total,
        succeeded: 0,
        failed: 0,
        results_written: 0,
        largest_child_history_events: 0,
        children_run: 0,
        child_state_transitions: 0,
        child_billed_ms: 0,
        express_children: plan.express,
        first_failure: None,
    };
    let mut finished = start;
    let mut outputs = Vec::new();
    let mut records = ResultRecords::default();
    let mut exceeded = false;
    while let Some((index, record, end)) = children.next().await {
        finished = finished.max(end.finished);
        summary.largest_child_history_events =
            summary.largest_child_history_events.max(end.history_events);
        if end.billed_ms > 0 {
            summary.children_run += 1;
        }
        summary.child_state_transitions += end.state_transitions;
        summary.child_billed_ms += end.billed_ms;
        match &end.output {
            Ok(_) => summary.succeeded += record.items,
            Err(error) => {
                summary.failed += record.items;
                summary.first_failure.get_or_insert_with(|| error.clone());
                if plan.tolerance.exceeded(summary.failed, plan.items_total) {
                    exceeded = true;
                    stop.store(true, Ordering::SeqCst);
                }
            }
        }
        match plan.results {
            Results::Collect => {
                if let Ok(output) = end.output {
                    if outputs.len() <= index {
                        outputs.resize(index + 1, Value::Null);
                    }
                    outputs[index] = output;
                }
            }
            Results::Record => records.push(plan, &record, &end),
        }
    }
    drop(children);
    let error = input_error
        .into_inner()
        .expect("input error poisoned")
        .or_else(|| {
            exceeded.then(|| {
                StateError::new(
                    EXCEED_TOLERATED_FAILURE_THRESHOLD,
                    "The specified tolerated failure threshold was exceeded",
                )
            })
        });
    MapRunEnd {
        summary,
        finished,
        outputs,
        records,
        error,
    }
}

/// What a result record needs of a child beyond how it ended.
struct ChildRecord {
    name: String,
    arn: String,
    input_text: Option<String>,
    items: u64,
    start: Duration,
}

/// The children's execution records by status, as a ResultWriter writes them: each a JSON array
/// built as the children end.
#[derive(Default)]
pub struct ResultRecords {
    succeeded: RecordFile,
    failed: RecordFile,
}

#[derive(Default)]
struct RecordFile {
    body: Vec<u8>,
    items: u64,
}

impl RecordFile {
    fn push(&mut self, record: &Value, items: u64) {
        self.body
            .push(if self.body.is_empty() { b'[' } else { b',' });
        serde_json::to_writer(&mut self.body, record).expect("a Value always serializes");
        self.items += items;
    }

    fn into_body(mut self) -> Option<Vec<u8>> {
        (!self.body.is_empty()).then(|| {
            self.body.push(b']');
            self.body
        })
    }
}

impl ResultRecords {
    fn push(&mut self, plan: &MapRunPlan<'_>, child: &ChildRecord, end: &ChildEnd) {
        let date = |at: Duration| {
            chrono::Duration::from_std(at)
                .ok()
                .and_then(|at| plan.epoch.checked_add_signed(at))
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
                .to_rfc3339_opts(SecondsFormat::Millis, true)
        };
        let mut record = json!({
            "ExecutionArn": child.arn,
            "Input": child.input_text.as_deref().unwrap_or("{}"),
            "InputDetails": {"Included": true},
            "Name": child.name,
            "RedriveCount": 0,
            "RedriveStatus": "NOT_REDRIVABLE",
            "StartDate": date(child.start),
            "StateMachineArn": plan.names.child_state_machine_arn,
            "StopDate": date(end.finished),
        });
        let file = match &end.output {
            Ok(output) => {
                record["Output"] = Value::String(output.to_string());
                record["OutputDetails"] = json!({"Included": true});
                record["Status"] = json!("SUCCEEDED");
                &mut self.succeeded
            }
            Err(error) => {
                record["Error"] = Value::String(error.error.clone());
                record["Cause"] = Value::String(error.cause.clone());
                record["Status"] = json!("FAILED");
                &mut self.failed
            }
        };
        file.push(&record, child.items);
    }
}

/// Where a ResultWriter writes: its evaluated `Bucket` and `Prefix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultDestination {
    pub bucket: String,
    pub prefix: String,
}

impl ResultDestination {
    /// `<Prefix>/<map run id>/<name>`: a `/` follows a non-empty Prefix that lacks one.
    fn key(&self, names: &MapRunNames, name: &str) -> String {
        let prefix = match self.prefix.as_str() {
            "" => String::new(),
            p if p.ends_with('/') => p.to_owned(),
            p => format!("{p}/"),
        };
        format!("{prefix}{}/{name}", names.id)
    }
}

/// What a ResultWriter wrote: the Map's result, and how many items' results.
pub struct Written {
    /// `{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}` (Key: the manifest).
    pub output: Value,
    pub items: u64,
}

/// Writes `SUCCEEDED_0.json` and `FAILED_0.json` (those that have records) and `manifest.json`
/// next to them, under the Map Run's folder of `destination`.
pub async fn write_results(
    objects: &ObjectStore,
    destination: &ResultDestination,
    names: &MapRunNames,
    records: ResultRecords,
) -> Result<Written, StateError> {
    let bucket = &destination.bucket;
    let mut items = 0;
    let mut files: Map<String, Value> = ["FAILED", "PENDING", "SUCCEEDED"]
        .into_iter()
        .map(|status| (status.to_owned(), json!([])))
        .collect();
    for (status, file) in [("SUCCEEDED", records.succeeded), ("FAILED", records.failed)] {
        let written = file.items;
        let Some(body) = file.into_body() else {
            continue;
        };
        let key = destination.key(names, &format!("{status}_0.json"));
        let size = body.len();
        put(objects, bucket, &key, body).await?;
        files[status] = json!([{ "Key": key, "Size": size }]);
        items += written;
    }
    let manifest_key = destination.key(names, "manifest.json");
    let manifest = json!({
        "DestinationBucket": bucket,
        "MapRunArn": names.arn,
        "ResultFiles": files,
    });
    put(
        objects,
        bucket,
        &manifest_key,
        manifest.to_string().into_bytes(),
    )
    .await?;
    Ok(Written {
        output: json!({
            "MapRunArn": names.arn,
            "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key},
        }),
        items,
    })
}

async fn put(
    objects: &ObjectStore,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
) -> Result<(), StateError> {
    objects
        .put(bucket, key, body)
        .await
        .map_err(|error| result_writer_failed(object_error_cause(&error, bucket)))
}

#[cfg(test)]
mod tests;
