//! The typed Amazon States Language model, in both query languages (JSONPath and JSONata).
//!
//! - [`state`]: the untyped model of a state machine and its states, rendered to and parsed from
//!   JSON by serde (`render`, `parse`).
//! - [`path`](mod@path): paths into a state's input (`ReferencePath`, `$...`) and the context object
//!   (`ContextPath`, `$$...`), distinct types.
//!   `JsonPath` is the wider path AWS allows where a value is only read (`$.items[*]`, filters).
//! - [`payload`]: payload templates (`Parameters`, `ItemSelector`, `ResultSelector`).
//! - [`query`]: the query languages, JSONata strings (`{% %}`), settings computed by one, and
//!   workflow variables (`Assign`).
//! - [`upgrade`](mod@upgrade): the deprecated Map shapes AWS still runs (`Iterator`, `Parameters`) rewritten
//!   to the current ones, on the JSON before parsing.
//! - [`eval`]: what paths, payload templates, intrinsic functions, Choice conditions and JSONata
//!   expressions give on a state's input and variables, as AWS evaluates them.
//! - [`limits`]: Step Functions' hard limits (definition size, payload size, history events,
//!   execution time), one constant each.
//! - [`bounds`]: the most events a definition's histories can hold (Step Functions' limit is
//!   25,000).
//! - [`bounded`]: short lists and text with their length limit in the type (`BoundedVec`,
//!   `BoundedString`), for payload fields.
//! - [`typed`]: the compile-time-checked layer: typed paths, payload values and selectors, and a
//!   Map whose item and processor input are types, and typed workflow variables (`path!`,
//!   `field!`, `selector!`, `record!`, `variable!`).
//!
//! Invariant: `asl` does no I/O and knows nothing of this pipeline, of the Lambda contract or of
//! AWS accounts; the pipeline writes its machine with it.

pub mod bounded;
pub mod bounds;
pub mod eval;
pub mod limits;
pub mod mermaid;
pub mod path;
pub mod payload;
pub mod query;
pub mod state;
pub mod translate;
pub mod typed;
pub mod upgrade;
pub mod validate;

pub use bounded::{BoundedString, BoundedVec};
pub use path::{
    ContextPath, ContextValue, DataPath, JsonPath, PathError, ReferencePath, SchemaRoot, Segment,
};
pub use payload::{PayloadTemplate, PayloadValue};
pub use query::{Assign, Evaluated, JsonataString, QueryLanguage, VariableName};
pub use state::*;
pub use translate::to_jsonata;
pub use typed::{
    Assignments, BatchLimits, FromContext, ItemBatch, MapItem, PayloadSafe, Processor, Record,
    S3ItemsObject, Scope, Selector, StateInput, StateResult, Value, Variable, context,
    distributed_map_over, map_over,
};
pub use upgrade::upgrade;

/// The definition as committed: pretty JSON indented by two spaces, keys in the model's fixed
/// order, one trailing newline. The same machine always renders to the same bytes.
pub fn render(machine: &StateMachine) -> String {
    let mut text =
        serde_json::to_string_pretty(machine).expect("the ASL model always serializes to JSON");
    text.push('\n');
    text
}

/// Parses a definition; the error names the line, the column and what is wrong.
pub fn parse(text: &str) -> Result<StateMachine, serde_json::Error> {
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn name(text: &str) -> StateName {
        StateName::new(text).unwrap()
    }

    fn path(text: &str) -> ReferencePath {
        ReferencePath::parse(text).unwrap()
    }

    /// A machine that uses every kind of state and most optional fields.
    fn every_state() -> StateMachine {
        let mut task = TaskState::new(
            "arn:aws:states:::lambda:invoke",
            Transition::Next(name("Branch")),
        );
        task.comment = Some("calls a function".into());
        task.input_path = Some(path("$.input").into());
        task.parameters = Some(
            PayloadTemplate::new()
                .with(
                    "FunctionName",
                    PayloadValue::Literal(json!(
                        "arn:aws:lambda:us-east-1:123456789012:function:f:live"
                    )),
                )
                .with("Payload", PayloadValue::Path(ReferencePath::root())),
        );
        task.timeout_seconds = Some(Limit::Fixed(60));
        task.result_selector =
            Some(PayloadTemplate::new().with("out", PayloadValue::Path(path("$.Payload"))));
        task.result_path = ResultPath::At(path("$.result"));
        task.retry = vec![Retrier {
            comment: None,
            error_equals: vec![ErrorName::new("Lambda.TooManyRequestsException")],
            interval_seconds: Some(1),
            max_attempts: Some(5),
            backoff_rate: Some(2.0),
            max_delay_seconds: Some(30),
            jitter_strategy: Some(JitterStrategy::Full),
        }];
        task.catch = vec![Catcher {
            comment: None,
            output: None,
            assign: None,
            error_equals: vec![ErrorName::all()],
            result_path: ResultPath::At(path("$.error")),
            next: name("Failed"),
        }];

        let choice = ChoiceState {
            query_language: None,
            output: None,
            assign: None,
            comment: None,
            input_path: None,
            choices: vec![
                ChoiceRule {
                    comment: None,
                    output: None,
                    assign: None,
                    condition: Condition::And(vec![
                        Condition::Compare {
                            variable: path("$.n"),
                            comparison: Comparison::NumericGreaterThan(3.0),
                        },
                        Condition::Not(Box::new(Condition::Compare {
                            variable: path("$.flag"),
                            comparison: Comparison::BooleanEquals(true),
                        })),
                    ]),
                    next: name("Each"),
                },
                ChoiceRule {
                    comment: None,
                    output: None,
                    assign: None,
                    condition: Condition::Or(vec![Condition::Compare {
                        variable: path("$.s"),
                        comparison: Comparison::StringEqualsPath(path("$.t")),
                    }]),
                    next: name("Both"),
                },
            ],
            default: Some(name("Pause")),
            output_path: None,
        };

        let mut processor_states = States::new();
        processor_states.insert(
            name("Inner"),
            State::Pass(PassState {
                result: Some(json!({"ok": true})),
                result_path: ResultPath::Discard,
                ..PassState::new(Transition::End)
            }),
        );
        let mut each = MapState::inline(
            Branch {
                comment: None,
                start_at: name("Inner"),
                states: processor_states.clone(),
            },
            Transition::Next(name("Distributed")),
        );
        each.items_path = Some(path("$.items").into());
        each.item_selector = Some(
            PayloadTemplate::new()
                .with(
                    "item",
                    PayloadValue::Context(ContextValue::MapItemValue.into()),
                )
                .with(
                    "index",
                    PayloadValue::Context(ContextValue::MapItemIndex.into()),
                ),
        );
        each.max_concurrency = Some(Limit::Fixed(10));
        each.result_path = ResultPath::Discard;

        let mut distributed = MapState::inline(
            Branch {
                comment: None,
                start_at: name("Inner"),
                states: processor_states.clone(),
            },
            Transition::Next(name("Pause")),
        );
        distributed.item_processor.processor_config = Some(ProcessorConfig {
            mode: ProcessorMode::Distributed,
            execution_type: Some(ExecutionType::Standard),
        });
        distributed.item_reader = Some(ItemReader {
            arguments: None,
            resource: S3_GET_OBJECT.into(),
            reader_config: Some(ReaderConfig {
                input_type: Some(ReaderInputType::Csv),
                csv_header_location: Some(CsvHeaderLocation::Given),
                csv_headers: Some(vec!["chunk_id".into(), "rows".into()]),
                csv_delimiter: Some(CsvDelimiter::Pipe),
                max_items: Some(Limit::Path(path("$.max_items"))),
            }),
            parameters: Some(
                PayloadTemplate::new()
                    .with("Bucket", PayloadValue::Literal(json!("b")))
                    .with("Key", PayloadValue::Path(path("$.key"))),
            ),
        });
        distributed.item_batcher = Some(ItemBatcher {
            max_items_per_batch: Some(Limit::Fixed(10)),
            max_input_bytes_per_batch: Some(Limit::Path(path("$.batch_bytes"))),
            batch_input: Some(
                PayloadTemplate::new().with("execution", PayloadValue::Path(path("$.execution"))),
            ),
        });
        distributed.max_concurrency = Some(Limit::Path(path("$.concurrency")));
        distributed.tolerated_failure_percentage = Some(Limit::Fixed(5.0));
        distributed.tolerated_failure_count = Some(Limit::Path(path("$.tolerated")));
        distributed.label = Some("chunks".into());
        distributed.result_writer = Some(ResultWriter {
            writer_config: Some(WriterConfig {
                output_type: Some(OutputType::Jsonl),
                transformation: Some(Transformation::Flatten),
            }),
            ..ResultWriter::s3(
                PayloadTemplate::new().with("Bucket", PayloadValue::Literal(json!("b"))),
            )
        });

        let both = ParallelState {
            query_language: None,
            arguments: None,
            output: None,
            assign: None,
            comment: None,
            input_path: None,
            parameters: None,
            branches: vec![
                Branch {
                    comment: Some("one".into()),
                    start_at: name("Inner"),
                    states: processor_states.clone(),
                },
                Branch {
                    comment: None,
                    start_at: name("Inner"),
                    states: processor_states,
                },
            ],
            result_selector: None,
            result_path: ResultPath::Discard,
            output_path: None,
            retry: Vec::new(),
            catch: Vec::new(),
            transition: Transition::Next(name("Pause")),
        };

        let mut states = States::new();
        states.insert(name("Call"), State::Task(task));
        states.insert(name("Branch"), State::Choice(choice));
        states.insert(name("Each"), State::Map(each));
        states.insert(name("Distributed"), State::Map(distributed));
        states.insert(name("Both"), State::Parallel(both));
        states.insert(
            name("Pause"),
            State::Wait(WaitState {
                query_language: None,
                output: None,
                assign: None,
                comment: None,
                input_path: None,
                wait_for: WaitFor::Seconds(Evaluated::Fixed(5)),
                output_path: None,
                transition: Transition::Next(name("Done")),
            }),
        );
        states.insert(name("Done"), State::Succeed(SucceedState::default()));
        states.insert(
            name("Failed"),
            State::Fail(FailState {
                query_language: None,
                comment: None,
                error: Some("Pipeline.Failed".into()),
                error_path: None,
                cause: Some("a task failed".into()),
                cause_path: None,
            }),
        );
        StateMachine {
            query_language: None,
            comment: Some("every state".into()),
            version: Some("1.0".into()),
            start_at: name("Call"),
            timeout_seconds: Some(3600),
            states,
        }
    }

    #[test]
    fn parse_of_render_is_the_same_machine() {
        let machine = every_state();
        let text = render(&machine);
        assert_eq!(parse(&text).unwrap(), machine);
        // Rendering is deterministic and parse-render is the identity on rendered text.
        assert_eq!(render(&parse(&text).unwrap()), text);
    }

    #[test]
    fn keys_follow_the_data_flow_order() {
        let text = render(&every_state());
        assert!(text.ends_with("}\n") && !text.ends_with("\n\n"));
        let call = text.find("\"Call\"").unwrap();
        let order = [
            "\"Type\": \"Task\"",
            "\"Comment\": \"calls a function\"",
            "\"Resource\"",
            "\"InputPath\"",
            "\"Parameters\"",
            "\"TimeoutSeconds\": 60",
            "\"ResultSelector\"",
            "\"ResultPath\": \"$.result\"",
            "\"Retry\"",
            "\"Catch\"",
            "\"Next\": \"Branch\"",
        ];
        let positions: Vec<usize> = order
            .iter()
            .map(|key| call + text[call..].find(key).unwrap())
            .collect();
        assert!(positions.is_sorted(), "{text}");
        assert!(text.contains("\"ResultPath\": null"));
        assert!(text.contains("\"item.$\": \"$$.Map.Item.Value\""));
        assert!(text.contains("\"BackoffRate\": 2.0"));
        assert!(!text.contains("Iterator"));
    }

    #[test]
    fn a_state_with_next_and_end_does_not_parse() {
        let text = render(&every_state())
            .replace("\"Next\": \"Done\"", "\"Next\": \"Done\",\n\"End\": true");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("never both"), "{err}");
        let text = render(&every_state()).replace("\"Next\": \"Done\"", "\"Seconds2\": 1");
        assert!(parse(&text).is_err());
    }

    #[test]
    fn unknown_keys_and_deprecated_map_fields_do_not_parse() {
        let text =
            render(&every_state()).replace("\"ItemsPath\"", "\"Iterator\": {},\n\"ItemsPath\"");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("Iterator"), "{err}");
        let text = render(&every_state()).replace(
            "\"MaxConcurrency\"",
            "\"Parameters\": {},\n\"MaxConcurrency\"",
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("Parameters"), "{err}");
        let text =
            render(&every_state()).replace("\"TimeoutSeconds\": 60", "\"TimeoutSecond\": 60");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("TimeoutSecond"), "{err}");
        // Objects with a flattened limit refuse unknown keys too.
        for (key, typo) in [
            ("\"CSVDelimiter\"", "\"CsvDelimiter\""),
            ("\"MaxItemsPerBatch\"", "\"MaxItemPerBatch\""),
        ] {
            let text = render(&every_state()).replace(key, typo);
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(&typo[1..typo.len() - 1]), "{err}");
        }
    }

    #[test]
    fn distributed_map_fields_keep_their_data_flow_order() {
        let text = render(&every_state());
        let map = text.find("\"Distributed\": {").unwrap();
        let order = [
            "\"ItemReader\"",
            "\"Resource\": \"arn:aws:states:::s3:getObject\"",
            "\"InputType\": \"CSV\"",
            "\"CSVHeaderLocation\": \"GIVEN\"",
            "\"CSVHeaders\"",
            "\"CSVDelimiter\": \"PIPE\"",
            "\"MaxItemsPath\": \"$.max_items\"",
            "\"Bucket\": \"b\"",
            "\"ItemBatcher\"",
            "\"MaxItemsPerBatch\": 10",
            "\"MaxInputBytesPerBatchPath\": \"$.batch_bytes\"",
            "\"BatchInput\"",
            "\"ItemProcessor\"",
            "\"MaxConcurrencyPath\": \"$.concurrency\"",
            "\"ToleratedFailurePercentage\": 5.0",
            "\"ToleratedFailureCountPath\": \"$.tolerated\"",
            "\"Label\": \"chunks\"",
            "\"ResultWriter\"",
            "\"Resource\": \"arn:aws:states:::s3:putObject\"",
            "\"WriterConfig\"",
            "\"OutputType\": \"JSONL\"",
            "\"Transformation\": \"FLATTEN\"",
            "\"Next\": \"Pause\"",
        ];
        let positions: Vec<usize> = order
            .iter()
            .map(|key| map + text[map..].find(key).unwrap_or_else(|| panic!("{key}")))
            .collect();
        assert!(positions.is_sorted(), "{text}");
    }

    #[test]
    fn a_limit_and_its_path_twin_do_not_parse_together() {
        for (given, twin) in [
            ("\"MaxConcurrency\": 10", "\"MaxConcurrencyPath\": \"$.n\""),
            (
                "\"MaxItemsPerBatch\": 10",
                "\"MaxItemsPerBatchPath\": \"$.n\"",
            ),
            (
                "\"ToleratedFailurePercentage\": 5.0",
                "\"ToleratedFailurePercentagePath\": \"$.n\"",
            ),
        ] {
            let text = render(&every_state()).replacen(given, &format!("{given},\n{twin}"), 1);
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains("cannot both be given"), "{given}: {err}");
        }
    }

    #[test]
    fn a_malformed_limit_is_an_error_not_dropped() {
        let text =
            render(&every_state()).replace("\"MaxConcurrency\": 10", "\"MaxConcurrency\": \"ten\"");
        assert!(parse(&text).is_err());
        let text = render(&every_state()).replace(
            "\"MaxItemsPath\": \"$.max_items\"",
            "\"MaxItemsPath\": \"max_items\"",
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("must start with `$`"), "{err}");
    }

    #[test]
    fn a_result_writer_may_be_only_a_writer_config() {
        let text = r#"{"WriterConfig": {"OutputType": "JSON", "Transformation": "COMPACT"}}"#;
        let writer: ResultWriter = serde_json::from_str(text).unwrap();
        assert_eq!(writer.resource, None);
        assert_eq!(
            serde_json::to_string(&writer).unwrap(),
            text.replace(' ', "")
        );
    }
}
