//! A Map's settings: the Distributed-Map-only fields, MaxConcurrency and failure tolerance,
//! the `ItemReader`, `ItemBatcher` and `ResultWriter` AWS takes, the `Label`, and the warning for
//! a result array kept in the state.

use serde_json::Value as Json;

use super::Checker;
use crate::limits::{
    DISTRIBUTED_MAP_MAX_CONCURRENCY, INLINE_MAP_MAX_CONCURRENCY, MAP_LABEL_CHARS, PAYLOAD_BYTES,
    READER_MAX_ITEMS,
};
use crate::payload::PayloadTemplate;
use crate::state::{
    CsvHeaderLocation, ItemBatcher, ItemReader, Limit, MapState, ReaderInputType, ResultPath,
    ResultWriter, S3_GET_OBJECT, S3_LIST_OBJECTS_V2, S3_PUT_OBJECT,
};

/// Why `label` cannot be a Distributed Map's `Label`, or `None` when it can. AWS allows 1 to
/// [`MAP_LABEL_CHARS`] characters, none of them whitespace, a control character or one of
/// `< > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /`.
pub fn label_problem(label: &str) -> Option<String> {
    const FORBIDDEN: &str = "<>{}[]?*\"#%\\^|~`$&,;:/";
    let length = label.chars().count();
    if !(1..=MAP_LABEL_CHARS).contains(&length) {
        return Some(format!(
            "a Label is 1 to {MAP_LABEL_CHARS} characters, not {length}"
        ));
    }
    label
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || FORBIDDEN.contains(*c))
        .map(|c| format!("a Label cannot contain {c:?}"))
}

impl Checker {
    /// Everything a Map's fields must agree on that the model cannot hold as types.
    pub(super) fn map(&mut self, at: &str, map: &MapState) {
        let distributed = map.is_distributed();
        if !distributed {
            for field in distributed_only_fields(map) {
                self.error(
                    Some(at),
                    format!(
                        "{field} needs a Distributed Map: set ItemProcessor.ProcessorConfig.Mode to DISTRIBUTED, or remove {field}"
                    ),
                );
            }
            // AWS accepts these on an inline Map (the recorded executions run such Maps) and
            // ignores them: the first failed iteration fails an inline Map.
            for field in tolerance_fields(map) {
                self.warning(
                    Some(at),
                    format!(
                        "{field} has no effect on an inline Map (its first failed iteration fails it): set ItemProcessor.ProcessorConfig.Mode to DISTRIBUTED, or remove {field}"
                    ),
                );
            }
        }
        match map.max_concurrency.as_ref().and_then(Limit::fixed) {
            Some(&max) if distributed && max > DISTRIBUTED_MAP_MAX_CONCURRENCY => self.error(
                Some(at),
                format!(
                    "MaxConcurrency {max} is more child executions than a Distributed Map runs at once: use 1 to {DISTRIBUTED_MAP_MAX_CONCURRENCY} (0 or none for as many as AWS allows)"
                ),
            ),
            Some(&max) if !distributed && max > INLINE_MAP_MAX_CONCURRENCY => self.warning(
                Some(at),
                format!(
                    "MaxConcurrency {max} has no effect above {INLINE_MAP_MAX_CONCURRENCY}: AWS runs at most {INLINE_MAP_MAX_CONCURRENCY} iterations of an inline Map at once; use a Distributed Map for more"
                ),
            ),
            _ => {}
        }
        if let Some(&percentage) = map
            .tolerated_failure_percentage
            .as_ref()
            .and_then(Limit::fixed)
            && !(0.0..=100.0).contains(&percentage)
        {
            self.error(
                Some(at),
                format!(
                    "ToleratedFailurePercentage {percentage} is not a share of the children: use 0 to 100 (%)"
                ),
            );
        }
        if let Some(map_label) = &map.label {
            match label_problem(map_label) {
                Some(problem) => self.error(
                    Some(at),
                    format!("Label {map_label:?} cannot name a Map Run: {problem}"),
                ),
                None => self
                    .map_labels
                    .entry(map_label.clone())
                    .or_default()
                    .push(at.to_owned()),
            }
        }
        if let Some(reader) = &map.item_reader {
            self.item_reader(at, reader);
            if let Some(items_path) = &map.items_path {
                self.warning(
                    Some(at),
                    format!(
                        "ItemsPath `{items_path}` has no effect: AWS ignores ItemsPath when an ItemReader is given; remove it"
                    ),
                );
            }
        }
        if let Some(batcher) = &map.item_batcher {
            self.item_batcher(at, batcher);
        }
        if let Some(writer) = &map.result_writer {
            self.result_writer(at, writer);
        }
        self.result_array(at, map);
    }

    fn item_reader(&mut self, at: &str, reader: &ItemReader) {
        let resource = reader.resource.as_str();
        if ![S3_GET_OBJECT, S3_LIST_OBJECTS_V2].contains(&resource) {
            self.error(
                Some(at),
                format!(
                    "ItemReader.Resource `{resource}` is not one a Distributed Map reads items with: use `{S3_GET_OBJECT}` (the items stored in one object) or `{S3_LIST_OBJECTS_V2}` (the objects under a prefix)"
                ),
            );
            return;
        }
        let required: &[&str] = if resource == S3_GET_OBJECT {
            &["Bucket", "Key"]
        } else {
            &["Bucket"]
        };
        let request = S3Request::of(reader.parameters.as_ref(), reader.arguments.as_ref());
        for key in required {
            self.parameter_given(at, "ItemReader", resource, request, key);
        }
        let config = reader.reader_config.as_ref();
        let input_type = config.and_then(|c| c.input_type);
        if resource == S3_GET_OBJECT && input_type.is_none() {
            self.error(
                Some(at),
                format!(
                    "ItemReader.ReaderConfig.InputType is missing: `{S3_GET_OBJECT}` must be told how the object stores its items (CSV, JSON, JSONL, PARQUET or MANIFEST)"
                ),
            );
        }
        let Some(config) = config else { return };
        if input_type == Some(ReaderInputType::Csv) {
            match (config.csv_header_location, &config.csv_headers) {
                (Some(CsvHeaderLocation::Given), None) => self.error(
                    Some(at),
                    "ItemReader.ReaderConfig.CSVHeaderLocation is GIVEN but CSVHeaders is missing: list the column names in CSVHeaders".into(),
                ),
                (Some(CsvHeaderLocation::FirstRow), Some(_)) => self.error(
                    Some(at),
                    "ItemReader.ReaderConfig.CSVHeaders is given but CSVHeaderLocation is FIRST_ROW, which reads them from the file: remove CSVHeaders, or set CSVHeaderLocation to GIVEN".into(),
                ),
                _ => {}
            }
        } else {
            let csv_only = [
                ("CSVHeaderLocation", config.csv_header_location.is_some()),
                ("CSVHeaders", config.csv_headers.is_some()),
                ("CSVDelimiter", config.csv_delimiter.is_some()),
            ];
            for (field, _) in csv_only.iter().filter(|(_, given)| *given) {
                self.error(
                    Some(at),
                    format!(
                        "ItemReader.ReaderConfig.{field} applies only to InputType CSV: remove it, or set InputType to CSV"
                    ),
                );
            }
        }
        if let Some(&max) = config.max_items.as_ref().and_then(Limit::fixed)
            && max > READER_MAX_ITEMS
        {
            self.error(
                Some(at),
                format!(
                    "ItemReader.ReaderConfig.MaxItems {max} is more than AWS reads: use at most {READER_MAX_ITEMS}, or leave it out to read every item"
                ),
            );
        }
    }

    fn item_batcher(&mut self, at: &str, batcher: &ItemBatcher) {
        if batcher.max_items_per_batch.is_none() && batcher.max_input_bytes_per_batch.is_none() {
            self.error(
                Some(at),
                "ItemBatcher has no limit: give MaxItemsPerBatch, MaxInputBytesPerBatch (or their Path twins), or both".into(),
            );
        }
        let limits = [
            ("MaxItemsPerBatch", &batcher.max_items_per_batch),
            ("MaxInputBytesPerBatch", &batcher.max_input_bytes_per_batch),
        ];
        for (field, limit) in limits {
            if limit.as_ref().and_then(Limit::fixed) == Some(&0) {
                self.error(
                    Some(at),
                    format!("ItemBatcher.{field} is 0: a batch holds at least 1 (use 1 or more)"),
                );
            }
        }
        if let Some(&bytes) = batcher
            .max_input_bytes_per_batch
            .as_ref()
            .and_then(Limit::fixed)
            && bytes as usize > PAYLOAD_BYTES
        {
            self.error(
                Some(at),
                format!(
                    "ItemBatcher.MaxInputBytesPerBatch {bytes} is more than a child execution's input may hold: use at most {PAYLOAD_BYTES} (256 KiB)"
                ),
            );
        }
    }

    /// AWS takes `Resource` with `Parameters` (write to S3), `WriterConfig` (format only), or all
    /// three.
    fn result_writer(&mut self, at: &str, writer: &ResultWriter) {
        let request = S3Request::of(writer.parameters.as_ref(), writer.arguments.as_ref());
        match (&writer.resource, request) {
            (None, None) if writer.writer_config.is_none() => self.error(
                Some(at),
                format!(
                    "ResultWriter is empty: give Resource `{S3_PUT_OBJECT}` with Parameters (Bucket, Prefix) to write the results to S3, a WriterConfig to format them, or both"
                ),
            ),
            (None, None) => {}
            (Some(_), None) => self.error(
                Some(at),
                "ResultWriter.Resource needs Parameters saying where to write: add Parameters with Bucket (and Prefix)".into(),
            ),
            (None, Some(_)) => self.error(
                Some(at),
                format!(
                    "ResultWriter.Parameters needs a Resource to write with: add Resource `{S3_PUT_OBJECT}`"
                ),
            ),
            (Some(resource), Some(parameters)) => {
                if resource != S3_PUT_OBJECT {
                    self.error(
                        Some(at),
                        format!(
                            "ResultWriter.Resource `{resource}` cannot write the results: use `{S3_PUT_OBJECT}`"
                        ),
                    );
                }
                self.parameter_given(at, "ResultWriter", resource, Some(parameters), "Bucket");
            }
        }
    }

    /// `field.Parameters` (or `Arguments`) gives `key`, which `resource` needs, literally or
    /// read from the input.
    fn parameter_given(
        &mut self,
        at: &str,
        field: &str,
        resource: &str,
        request: Option<S3Request<'_>>,
        key: &str,
    ) {
        match request {
            Some(request) if request.gives(key) => {}
            Some(S3Request::Arguments(_)) => self.error(
                Some(at),
                format!(
                    "{field}.Arguments has no `{key}`, which `{resource}` needs: give it literally or as a JSONata string"
                ),
            ),
            _ => self.error(
                Some(at),
                format!(
                    "{field}.Parameters has no `{key}`, which `{resource}` needs: give it literally (`{key}`) or from the input (`{key}.$`)"
                ),
            ),
        }
    }

    /// A Map's result is the array of its iterations' outputs unless a ResultWriter writes it
    /// to S3; kept in the state, it grows with the number of items.
    fn result_array(&mut self, at: &str, map: &MapState) {
        let written_to_s3 = map
            .result_writer
            .as_ref()
            .is_some_and(|writer| writer.resource.is_some());
        if map.result_path == ResultPath::Discard || written_to_s3 {
            return;
        }
        let message = if map.is_distributed() {
            format!(
                "the Distributed Map has no ResultWriter writing to S3, so its result is the array of its child executions' outputs (one entry per item or batch), which counts against the {PAYLOAD_BYTES}-byte (256 KiB) limit like any state's output and fails with States.DataLimitExceeded past it; add a ResultWriter with Resource `{S3_PUT_OBJECT}`, or set `ResultPath: null`"
            )
        } else {
            format!(
                "the Map keeps its result array (one entry per item) in its output, so the output grows with the number of items and fails with States.DataLimitExceeded past {PAYLOAD_BYTES} bytes (256 KiB); set `ResultPath: null`, keep a summary, or make it a Distributed Map that writes its results to S3 with a ResultWriter"
            )
        };
        self.warning(Some(at), message);
    }

    /// A Map's `Label` names its Map Run and child executions, so no two Maps share one.
    pub(super) fn unique_map_labels(&mut self) {
        for (map_label, states) in std::mem::take(&mut self.map_labels) {
            let (first, others) = states.split_first().expect("a at is kept with its state");
            for state in others {
                self.error(
                    Some(state),
                    format!(
                        "Label {map_label:?} is already the Label of `{first}`: give each Map its own Label"
                    ),
                );
            }
        }
    }
}

/// The S3 request of an ItemReader or a ResultWriter: JSONPath `Parameters` or JSONata
/// `Arguments`.
#[derive(Clone, Copy)]
enum S3Request<'a> {
    Parameters(&'a PayloadTemplate),
    Arguments(&'a Json),
}

impl<'a> S3Request<'a> {
    fn of(parameters: Option<&'a PayloadTemplate>, arguments: Option<&'a Json>) -> Option<Self> {
        parameters
            .map(S3Request::Parameters)
            .or(arguments.map(S3Request::Arguments))
    }

    /// Whether the request names `key` (a JSONata string for the whole request is only known
    /// when the state runs).
    fn gives(&self, key: &str) -> bool {
        match self {
            S3Request::Parameters(parameters) => parameters.get(key).is_some(),
            S3Request::Arguments(Json::Object(arguments)) => arguments.contains_key(key),
            S3Request::Arguments(_) => true,
        }
    }
}

/// The fields of `map` that only a Distributed Map may have, as they are written.
fn distributed_only_fields(map: &MapState) -> Vec<String> {
    [
        ("ItemReader", map.item_reader.is_some()),
        ("ItemBatcher", map.item_batcher.is_some()),
        ("ResultWriter", map.result_writer.is_some()),
        ("Label", map.label.is_some()),
    ]
    .into_iter()
    .filter(|(_, given)| *given)
    .map(|(field, _)| field.to_owned())
    .collect()
}

/// The failure tolerance fields a Map has, by the key each is written under.
fn tolerance_fields(map: &MapState) -> Vec<String> {
    let mut fields = Vec::new();
    if let Some(limit) = &map.tolerated_failure_percentage {
        fields.push(limit.key("ToleratedFailurePercentage"));
    }
    if let Some(limit) = &map.tolerated_failure_count {
        fields.push(limit.key("ToleratedFailureCount"));
    }
    fields
}
