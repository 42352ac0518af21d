//! The Distributed Map in the engine: evaluates the Map's fields against its input (ItemReader
//! Parameters and MaxItems, the `*Path` settings, ItemSelector, BatchInput, ResultWriter
//! Parameters) into [`map_run`]'s plain values, and runs each item (or batch) as a child
//! execution with its own history and context object.

use super::*;
use crate::runner::map_run::{
    self, Batches, Child, ChildEnd, ChildInput, CsvHeader, ITEM_READER_FAILED, ItemFormat,
    ItemLimit, ItemSource, MapRunNames, MapRunPlan, RESULT_WRITER_FAILED, ResolvedBatchLimits,
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
    /// A redriven Map Run: the outputs of the children that succeeded before, by name; they are
    /// not run again.
    succeeded_before: HashMap<String, Value>,
    /// The outputs of the children that succeeded, by name (kept for a redrive of the top-level
    /// Map only).
    succeeded: Option<Mutex<HashMap<String, Value>>>,
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
        let settings = self
            .with_setting_reader(frame, at, effective, |reader| Settings::resolve(m, reader))
            .map_err(|error| {
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
                self.read_items(frame, reader, settings.max_items, effective, at)
                    .await?
            }
            None => self.items(frame, at, m, effective)?,
        };
        let writer = match &m.result_writer {
            Some(writer) => Some((
                self.object_store(RESULT_WRITER_FAILED)?,
                self.result_destination(frame, writer, effective, at)?,
            )),
            None => None,
        };
        self.observer().map_started(name, items.len());

        // A redrive continues the failed Map Run of the execution's own Map (AWS redrives its
        // unsuccessful children under the same Map Run); anything else starts a new one.
        let top_level = frame.execution.arn == self.spec.execution_arn();
        let redriven = match top_level {
            true => {
                let mut redriven = self.redriven_map_run.lock().expect("map run poisoned");
                match redriven.take() {
                    Some(run) if run.state == name => Some(run),
                    other => {
                        *redriven = other;
                        None
                    }
                }
            }
            false => None,
        };
        let (sequence, succeeded_before) = match redriven {
            Some(run) => (run.sequence, run.succeeded),
            None => (
                self.map_run_sequence.fetch_add(1, Ordering::Relaxed),
                HashMap::new(),
            ),
        };
        // The same execution, state and sequence give the same names.
        let seed = fnv1a(
            0xcbf2_9ce4_8422_2325 ^ sequence,
            frame.execution.name.bytes().chain([0]).chain(name.bytes()),
        );
        let names = MapRunNames::new(self.spec, m.label.as_deref(), seed);
        let express = m
            .item_processor
            .processor_config
            .as_ref()
            .and_then(|config| config.execution_type)
            == Some(ExecutionType::Express);
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
            express,
        };
        let selected = items
            .iter()
            .enumerate()
            .map(|(index, value)| self.select_item(frame, m, effective, at, index, value));
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
            express,
            succeeded_before,
            succeeded: top_level.then(|| Mutex::new(HashMap::new())),
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
        let failure = match (&end.error, &written) {
            (Some(error), _) | (None, Err(error)) => Some(error),
            _ => None,
        };
        // AWS redrives a failed Map Run's unsuccessful children, except after these errors,
        // where it starts a new Map Run.
        if let (Some(error), Some(succeeded)) = (failure, children.succeeded)
            && !matches!(
                error.error.as_str(),
                "States.DataLimitExceeded" | "States.Runtime"
            )
        {
            *self.failed_map_run.lock().expect("map run poisoned") = Some(FailedMapRun {
                state: name.to_owned(),
                sequence,
                succeeded: succeeded.into_inner().expect("outputs poisoned"),
            });
        }
        let written = written?;
        if let Some(error) = end.error {
            return Err(error);
        }
        Ok(written.map_or(Value::Array(end.outputs), |written| written.output))
    }

    /// One child execution, unless it succeeded before a redrive; what it output when it
    /// succeeds is kept for a redrive of the execution's own Map.
    async fn child_execution(&self, children: &Children<'_>, child: Child) -> ChildEnd {
        let name = child.name.clone();
        let end = match children.succeeded_before.get(&name) {
            // It succeeded before the redrive: not run again.
            Some(output) => {
                self.observer()
                    .iteration_finished(children.map_state, child.items, Some(output));
                ChildEnd {
                    output: Ok(output.clone()),
                    finished: child.start,
                    history_events: 0,
                    state_transitions: 0,
                    billed_ms: 0,
                }
            }
            None => self.run_child_execution(children, child).await,
        };
        if let (Ok(output), Some(succeeded)) = (&end.output, &children.succeeded) {
            succeeded
                .lock()
                .expect("outputs poisoned")
                .insert(name, output.clone());
        }
        end
    }

    /// One child execution: its own history (against its own quota), its own `$$.Execution`,
    /// the processor on its input from its virtual start.
    async fn run_child_execution(&self, children: &Children<'_>, child: Child) -> ChildEnd {
        let history = if children.express {
            History::unbounded()
        } else {
            History::default()
        };
        let execution = ExecutionContext {
            arn: child.arn,
            name: child.name,
            input: child.input.clone(),
            start_time: self.instant(child.start),
            state_machine_arn: children.names.child_state_machine_arn.clone(),
            state_machine_name: children.names.child_state_machine_name.clone(),
        };
        // A child execution reads no variable of its parent's.
        let variables = Variables::new();
        let frame = Frame {
            run: children.frame.run,
            history: &history,
            execution: &execution,
            variables: &variables,
            ..children.frame
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
            state_transitions: history.transitions(),
            billed_ms: (clock.saturating_sub(child.start).as_millis() as u64)
                .div_ceil(100)
                .max(1)
                * 100,
        }
    }

    /// The ItemReader's Parameters, evaluated, read from the object store.
    async fn read_items(
        &self,
        frame: Frame<'_>,
        reader: &ItemReader,
        limit: ItemLimit,
        effective: &Value,
        at: At<'_>,
    ) -> Result<Vec<Value>, StateError> {
        let parameters = self.s3_request(
            frame,
            "ItemReader",
            (reader.parameters.as_ref(), reader.arguments.as_ref()),
            effective,
            at,
        )?;
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
        frame: Frame<'_>,
        writer: &ResultWriter,
        effective: &Value,
        at: At<'_>,
    ) -> Result<ResultDestination, StateError> {
        let parameters = self.s3_request(
            frame,
            "ResultWriter",
            (writer.parameters.as_ref(), writer.arguments.as_ref()),
            effective,
            at,
        )?;
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

    /// An ItemReader's or ResultWriter's S3 request: its Parameters (JSONPath) or Arguments
    /// (JSONata), evaluated; `{}` when it has neither.
    fn s3_request(
        &self,
        frame: Frame<'_>,
        field: &str,
        request: (Option<&PayloadTemplate>, Option<&Value>),
        effective: &Value,
        at: At<'_>,
    ) -> Result<Value, StateError> {
        let field = format!("{field}/Arguments");
        Ok(self
            .request(frame, at, &field, request, effective)?
            .unwrap_or_else(|| json!({})))
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

/// The settings a Distributed Map may take from its input (`*Path`, or in JSONata a JSONata
/// string), resolved as AWS resolves them: a path that selects no value or a value of the wrong
/// kind is `States.Runtime` (`States.QueryEvaluationError` for an expression).
struct Settings {
    max_concurrency: u64,
    tolerance: Tolerance,
    max_items: ItemLimit,
    batch_limits: ResolvedBatchLimits,
}

impl Settings {
    fn resolve(m: &MapState, reader: &SettingReader<'_>) -> Result<Self, StateError> {
        let max_concurrency = match &m.max_concurrency {
            None => 0,
            Some(limit) => reader.non_negative("MaxConcurrency", limit)?.unwrap_or(0),
        };
        let count = match &m.tolerated_failure_count {
            None => None,
            Some(limit) => reader.non_negative("ToleratedFailureCount", limit)?,
        };
        let percentage = match &m.tolerated_failure_percentage {
            None => None,
            Some(Limit::Fixed(percentage)) => Some(*percentage),
            Some(Limit::Path(path)) => Some(reader.percentage(Source::Path(path))?),
            Some(Limit::Expression(e)) => Some(reader.percentage(Source::Expression(e))?),
        };
        let reader_limit = m
            .item_reader
            .as_ref()
            .and_then(|r| r.reader_config.as_ref()?.max_items.as_ref());
        let max_items = match reader_limit {
            None => ItemLimit::ALL,
            Some(Limit::Fixed(max_items)) => ItemLimit::new(i64::from(*max_items))?,
            Some(Limit::Path(path)) => {
                ItemLimit::new(reader.integer("MaxItems", Source::Path(path))?)?
            }
            Some(Limit::Expression(e)) => {
                ItemLimit::new(reader.integer("MaxItems", Source::Expression(e))?)?
            }
        };
        let batch_limits = match &m.item_batcher {
            Some(batcher) => ResolvedBatchLimits {
                max_items: reader
                    .positive("MaxItemsPerBatch", batcher.max_items_per_batch.as_ref())?,
                max_bytes: reader.positive(
                    "MaxInputBytesPerBatch",
                    batcher.max_input_bytes_per_batch.as_ref(),
                )?,
            },
            None => ResolvedBatchLimits::default(),
        };
        Ok(Self {
            max_concurrency,
            tolerance: Tolerance { count, percentage },
            max_items,
            batch_limits,
        })
    }
}

/// Where a setting is read when the state starts.
#[derive(Clone, Copy)]
pub(super) enum Source<'a> {
    Path(&'a ReferencePath),
    Expression(&'a JsonataString),
}

/// Reads the settings of one state: `*Path`s in its input or variables, JSONata strings
/// evaluated on its input.
pub(super) struct SettingReader<'a> {
    pub read: &'a dyn Fn(&str, Source<'_>) -> Result<Value, StateError>,
    pub invalid: &'a dyn Fn(&str, Source<'_>, &Value, &str) -> StateError,
}

/// The integer `value` is: `2`, `2.0` or `"2"`.
pub(super) fn integer_in(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        })
        .or_else(|| value.as_str()?.parse().ok())
}

impl SettingReader<'_> {
    /// An integer: `2`, `2.0` or the string `"2"` (AWS reads every `*Path` limit from a
    /// numeric string too).
    fn integer(&self, field: &str, source: Source<'_>) -> Result<i64, StateError> {
        let value = (self.read)(field, source)?;
        integer_in(&value).ok_or_else(|| (self.invalid)(field, source, &value, "integer"))
    }

    /// A count of at least 0: written, or read when the state starts.
    pub(super) fn non_negative(
        &self,
        field: &str,
        limit: &Limit<u32>,
    ) -> Result<Option<u64>, StateError> {
        let source = match limit {
            Limit::Fixed(written) => return Ok(Some(u64::from(*written))),
            Limit::Path(path) => Source::Path(path),
            Limit::Expression(e) => Source::Expression(e),
        };
        let integer = self.integer(field, source)?;
        u64::try_from(integer)
            .map(Some)
            .map_err(|_| (self.invalid)(field, source, &integer.into(), "non-negative integer"))
    }

    /// A batch limit: at least 1.
    fn positive(&self, field: &str, limit: Option<&Limit<u32>>) -> Result<Option<u64>, StateError> {
        let Some(limit) = limit else {
            return Ok(None);
        };
        match self.non_negative(field, limit)? {
            Some(0) => {
                let source = match limit {
                    Limit::Path(path) => Source::Path(path),
                    Limit::Expression(e) => Source::Expression(e),
                    Limit::Fixed(_) => unreachable!("a written limit of 0 is refused at synth"),
                };
                Err((self.invalid)(field, source, &0.into(), "positive integer"))
            }
            n => Ok(n),
        }
    }

    fn percentage(&self, source: Source<'_>) -> Result<f64, StateError> {
        const FIELD: &str = "ToleratedFailurePercentage";
        let value = (self.read)(FIELD, source)?;
        value
            .as_f64()
            .or_else(|| value.as_str()?.parse().ok())
            .filter(|p| (0.0..=100.0).contains(p))
            .ok_or_else(|| (self.invalid)(FIELD, source, &value, "percentage from 0 to 100"))
    }
}

impl Run<'_> {
    /// Reads the settings of the state at `at`, with AWS's errors.
    pub(super) fn with_setting_reader<T>(
        &self,
        frame: Frame<'_>,
        at: At<'_>,
        input: &Value,
        use_reader: impl FnOnce(&SettingReader<'_>) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let read = |field: &str, source: Source<'_>| match source {
            Source::Path(path) => path
                .resolve(input, frame.variables)
                .cloned()
                .ok_or_else(|| {
                    StateError::runtime(format!(
                        "Invalid path '{path}' : {}",
                        path.not_found_in(input)
                    ))
                }),
            Source::Expression(expression) => {
                self.jsonata_setting(frame, at, field, expression, input)
            }
        };
        let invalid = |field: &str, source: Source<'_>, value: &Value, what: &str| match source {
            Source::Path(path) => {
                let shown = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                StateError::runtime(format!(
                    "The {field}Path field refers to value \"{shown}\" which is not a valid {what}: {path}"
                ))
            }
            Source::Expression(expression) => query_failed(
                frame,
                at.state,
                eval::jsonata::QueryError::unexpected_type(
                    expression.expression(),
                    field,
                    what,
                    value,
                ),
            ),
        };
        use_reader(&SettingReader {
            read: &read,
            invalid: &invalid,
        })
    }
}
