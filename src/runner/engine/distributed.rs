//! The Distributed Map in the engine: evaluates the Map's fields against its input (ItemReader
//! Parameters and MaxItems, the `*Path` settings, ItemSelector, BatchInput, ResultWriter
//! Parameters) into [`map_run`]'s plain values, and runs each item (or batch) as a child
//! execution with its own history and context object.

use super::*;
use crate::runner::map_run::{
    self, BatchLimits, Batches, Child, ChildEnd, ChildInput, CsvHeader, ITEM_READER_FAILED,
    ItemFormat, ItemLimit, ItemSource, MapRunNames, MapRunPlan, RESULT_WRITER_FAILED,
    ResultDestination, Results, Tolerance,
};
use asl::{CsvHeaderLocation, ExecutionType, ItemReader, ReaderInputType, ResultWriter};

/// An EXPRESS child execution stops after this long.
const EXPRESS_MAX_DURATION: Duration = Duration::from_secs(300);

/// What every child execution of one Map Run shares.
struct Children<'a> {
    frame: Frame<'a>,
    map_state: &'a str,
    processor: Machine<'a>,
    names: &'a MapRunNames,
    express: bool,
}

impl Run<'_> {
    /// Reads the items, starts a Map Run over them and returns the Map's result: the children's
    /// outputs, or with a ResultWriter where it wrote them.
    pub(super) async fn distributed_map(
        &self,
        frame: Frame<'_>,
        name: &str,
        m: &MapState,
        effective: &Value,
        clock: &mut Duration,
        retry_count: u32,
    ) -> Result<Value, StateError> {
        let at = frame.at_attempt(name, *clock, retry_count);
        // The MapStateEntered event is the last one so far.
        let entered_event = frame.history.events();
        let settings = Settings::resolve(m, effective).map_err(|error| {
            if error.error == "States.Runtime" {
                StateError::runtime_in(name, entered_event, error.cause)
            } else {
                error
            }
        })?;
        // MapStateStarted, MapRunStarted, MapRunSucceeded/Failed, MapStateSucceeded/Failed: the
        // children's events go to their own histories.
        frame.history.add(4)?;
        let items = match &m.item_reader {
            // With an ItemReader, ItemsPath is ignored.
            Some(reader) => {
                self.read_items(reader, settings.max_items, effective, at)
                    .await?
            }
            None => items_at(m, name, effective)?,
        };
        let writer = match &m.result_writer {
            Some(writer) => Some((
                self.object_store(RESULT_WRITER_FAILED)?,
                self.result_destination(writer, effective, at)?,
            )),
            None => None,
        };
        self.observer().map_started(name, items.len());

        let sequence = self.map_run_sequence.fetch_add(1, Ordering::Relaxed);
        // The same execution, state and sequence give the same names.
        let seed = fnv1a(
            0xcbf2_9ce4_8422_2325 ^ sequence,
            frame.execution.name.bytes().chain([0]).chain(name.bytes()),
        );
        let names = MapRunNames::new(self.spec, m.label.as_deref(), seed);
        let plan = MapRunPlan {
            state: name,
            names: &names,
            max_concurrency: settings.max_concurrency,
            tolerance: settings.tolerance,
            items_total: items.len() as u64,
            epoch: self.started,
            results: match writer {
                Some(_) => Results::Record,
                None => Results::Collect,
            },
        };
        let selected = items
            .iter()
            .enumerate()
            .map(|(index, value)| self.select_item(m, effective, at, index, value));
        let inputs: Box<dyn Iterator<Item = Result<ChildInput, StateError>> + Send + '_> =
            match &m.item_batcher {
                Some(batcher) => {
                    let batch_input = batcher
                        .batch_input
                        .as_ref()
                        .map(|template| self.expand(template, effective, at))
                        .transpose()?;
                    Box::new(Batches::new(selected, settings.batch_limits, batch_input))
                }
                None => Box::new(selected.map(|input| input.map(ChildInput::single))),
            };
        let children = Children {
            frame,
            map_state: name,
            processor: Machine::from(&m.item_processor.branch),
            names: &names,
            express: m
                .item_processor
                .processor_config
                .as_ref()
                .and_then(|config| config.execution_type)
                == Some(ExecutionType::Express),
        };
        let end = map_run::run_children(&plan, inputs, *clock, |child| {
            self.child_execution(&children, child)
        })
        .await;
        *clock = end.finished;

        // A failed Map Run writes its results too: they say which children failed and why.
        let written = match &writer {
            Some((objects, destination)) => {
                Some(map_run::write_results(objects, destination, &names, end.records).await)
            }
            None => None,
        }
        .transpose();
        let mut summary = end.summary;
        summary.results_written = match &written {
            Ok(Some(written)) => written.items,
            _ => 0,
        };
        self.map_runs
            .lock()
            .expect("map runs poisoned")
            .push(summary);
        let written = written?;
        if let Some(error) = end.error {
            return Err(error);
        }
        Ok(written.map_or(Value::Array(end.outputs), |written| written.output))
    }

    /// One child execution: its own history (against its own quota), its own `$$.Execution`,
    /// the processor on its input from its virtual start.
    async fn child_execution(&self, children: &Children<'_>, child: Child) -> ChildEnd {
        let history = if children.express {
            History::unbounded()
        } else {
            History::default()
        };
        let execution = ExecutionContext {
            arn: child.arn,
            name: child.name,
            input: child.input.clone(),
            start_time: self.started + chrono::Duration::from_std(child.start).unwrap_or_default(),
            state_machine_arn: children.names.child_state_machine_arn.clone(),
            state_machine_name: children.names.child_state_machine_name.clone(),
        };
        let frame = Frame {
            run: children.frame.run,
            history: &history,
            execution: &execution,
        };
        let mut clock = child.start;
        let mut output = self
            .run_execution(frame, children.processor, child.input, &mut clock)
            .await;
        if children.express && clock.saturating_sub(child.start) > EXPRESS_MAX_DURATION {
            clock = child.start + EXPRESS_MAX_DURATION;
            output = Err(StateError::new(
                "States.Timeout",
                "The EXPRESS child execution ran past its 5 minutes.",
            ));
        }
        self.observer()
            .iteration_finished(children.map_state, child.items, output.as_ref().ok());
        ChildEnd {
            output,
            finished: clock,
            history_events: history.events(),
        }
    }

    /// The ItemReader's Parameters, evaluated, read from the object store.
    async fn read_items(
        &self,
        reader: &ItemReader,
        limit: ItemLimit,
        effective: &Value,
        at: At<'_>,
    ) -> Result<Vec<Value>, StateError> {
        let parameters = self.s3_parameters(reader.parameters.as_ref(), effective, at)?;
        let text = |field: &str| parameters.get(field).and_then(Value::as_str);
        let required = |field: &str| {
            text(field).map(str::to_owned).ok_or_else(|| {
                StateError::runtime(format!(
                    "The ItemReader's Parameters give no {field} string."
                ))
            })
        };
        let bucket = required("Bucket")?;
        let source = if reader.resource == asl::S3_LIST_OBJECTS_V2 {
            ItemSource::Listing {
                bucket,
                prefix: text("Prefix").unwrap_or_default().to_owned(),
            }
        } else {
            let config = reader.reader_config.as_ref();
            let format = match config.and_then(|c| c.input_type) {
                Some(ReaderInputType::Jsonl) => ItemFormat::JsonLines,
                Some(ReaderInputType::Csv) => {
                    ItemFormat::Csv(match config.and_then(|c| c.csv_header_location) {
                        Some(CsvHeaderLocation::Given) => CsvHeader::Given(
                            config
                                .and_then(|c| c.csv_headers.clone())
                                .unwrap_or_default(),
                        ),
                        _ => CsvHeader::FirstRow,
                    })
                }
                // The others were refused when the definition was loaded.
                _ => ItemFormat::Json,
            };
            ItemSource::Object {
                bucket,
                key: required("Key")?,
                format,
            }
        };
        let objects = self.object_store(ITEM_READER_FAILED)?;
        map_run::read_items(objects, &source, limit).await
    }

    /// The ResultWriter's Parameters, evaluated.
    fn result_destination(
        &self,
        writer: &ResultWriter,
        effective: &Value,
        at: At<'_>,
    ) -> Result<ResultDestination, StateError> {
        let parameters = self.s3_parameters(writer.parameters.as_ref(), effective, at)?;
        let text = |field: &str| parameters.get(field).and_then(Value::as_str);
        Ok(ResultDestination {
            bucket: text("Bucket")
                .ok_or_else(|| {
                    StateError::runtime("The ResultWriter's Parameters give no Bucket string.")
                })?
                .to_owned(),
            prefix: text("Prefix").unwrap_or_default().to_owned(),
        })
    }

    fn s3_parameters(
        &self,
        template: Option<&PayloadTemplate>,
        effective: &Value,
        at: At<'_>,
    ) -> Result<Value, StateError> {
        match template {
            Some(template) => self.expand(template, effective, at),
            None => Ok(json!({})),
        }
    }

    /// The engine's object store; without one, `error` says so.
    fn object_store(&self, error: &str) -> Result<&ObjectStore, StateError> {
        self.engine.objects.as_ref().ok_or_else(|| {
            StateError::new(
                error,
                "The runner has no object store to stand in for S3: give the engine one (Engine::objects).",
            )
        })
    }
}

/// The settings a Distributed Map may take from its input (`*Path`), resolved as AWS resolves
/// them: a path that selects no value or a value of the wrong kind is `States.Runtime`.
struct Settings {
    max_concurrency: u64,
    tolerance: Tolerance,
    max_items: ItemLimit,
    batch_limits: BatchLimits,
}

impl Settings {
    fn resolve(m: &MapState, input: &Value) -> Result<Self, StateError> {
        let max_concurrency = max_concurrency(m, input)?;
        let count = match &m.tolerated_failure_count {
            None => None,
            Some(Limit::Fixed(count)) => Some(u64::from(*count)),
            Some(Limit::Path(path)) => Some(non_negative_at("ToleratedFailureCount", path, input)?),
        };
        let percentage = match &m.tolerated_failure_percentage {
            None => None,
            Some(Limit::Fixed(percentage)) => Some(*percentage),
            Some(Limit::Path(path)) => Some(percentage_at(path, input)?),
        };
        let reader_limit = m
            .item_reader
            .as_ref()
            .and_then(|r| r.reader_config.as_ref()?.max_items.as_ref());
        let max_items = match reader_limit {
            Some(Limit::Path(path)) => ItemLimit::new(integer_at("MaxItems", path, input)?)?,
            Some(Limit::Fixed(max_items)) => ItemLimit::new(i64::from(*max_items))?,
            None => ItemLimit::ALL,
        };
        let batch_limits = match &m.item_batcher {
            Some(batcher) => BatchLimits {
                max_items: positive_setting(
                    "MaxItemsPerBatch",
                    batcher.max_items_per_batch.as_ref(),
                    input,
                )?,
                max_bytes: positive_setting(
                    "MaxInputBytesPerBatch",
                    batcher.max_input_bytes_per_batch.as_ref(),
                    input,
                )?,
            },
            None => BatchLimits::default(),
        };
        Ok(Self {
            max_concurrency,
            tolerance: Tolerance { count, percentage },
            max_items,
            batch_limits,
        })
    }
}

/// What `path` selects in `input` for the field `{field}Path`.
fn selected(field: &str, path: &ReferencePath, input: &Value) -> Result<Value, StateError> {
    path.read(input).cloned().ok_or_else(|| {
        StateError::runtime(format!(
            "Invalid path '{path}' : The {field}Path field references an invalid value."
        ))
    })
}

fn not_valid(field: &str, path: &ReferencePath, value: &Value, what: &str) -> StateError {
    let shown = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    StateError::runtime(format!(
        "The {field}Path field refers to value \"{shown}\" which is not a valid {what}: {path}"
    ))
}

/// An integer (`2`, or `2.0`) selected for `{field}Path`.
fn integer_at(field: &str, path: &ReferencePath, input: &Value) -> Result<i64, StateError> {
    let value = selected(field, path, input)?;
    value
        .as_i64()
        .or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        })
        .ok_or_else(|| not_valid(field, path, &value, "integer"))
}

pub(super) fn non_negative_at(
    field: &str,
    path: &ReferencePath,
    input: &Value,
) -> Result<u64, StateError> {
    let integer = integer_at(field, path, input)?;
    u64::try_from(integer)
        .map_err(|_| not_valid(field, path, &integer.into(), "non-negative integer"))
}

fn percentage_at(path: &ReferencePath, input: &Value) -> Result<f64, StateError> {
    const FIELD: &str = "ToleratedFailurePercentage";
    let value = selected(FIELD, path, input)?;
    value
        .as_f64()
        .filter(|p| (0.0..=100.0).contains(p))
        .ok_or_else(|| not_valid(FIELD, path, &value, "percentage from 0 to 100"))
}

/// A batch limit, written or selected by its `*Path`; at least 1.
fn positive_setting(
    field: &str,
    limit: Option<&Limit<u32>>,
    input: &Value,
) -> Result<Option<u64>, StateError> {
    let path = match limit {
        None => return Ok(None),
        Some(Limit::Fixed(written)) => return Ok(Some(u64::from(*written))),
        Some(Limit::Path(path)) => path,
    };
    match non_negative_at(field, path, input)? {
        0 => Err(not_valid(field, path, &0.into(), "positive integer")),
        n => Ok(Some(n)),
    }
}
