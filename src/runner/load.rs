//! From a definition's JSON to the `asl` model the engine executes: the deprecated shapes AWS
//! still runs are upgraded ([`asl::upgrade`]), the model parses the JSON (a field it does not
//! know is refused, never dropped), [`asl::validate`] checks it as synth does, and what AWS runs
//! but the local runner does not (service integrations other than Lambda, some ItemReader
//! formats) is reported as unsupported.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use asl::limits::DEFINITION_BYTES;
use asl::{
    CsvDelimiter, LAMBDA_INVOKE, ReaderInputType, S3_GET_OBJECT, S3_LIST_OBJECTS_V2, S3_PUT_OBJECT,
    State, StateMachine, States,
};
use serde_json::Value;

/// A definition the runner cannot execute.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error("the definition is not valid ASL: {0}")]
    Parse(#[from] serde_json::Error),
    /// Over Step Functions' 1 MB quota, which AWS refuses too.
    #[error(
        "the definition is {bytes} bytes, over Step Functions' limit of {DEFINITION_BYTES} bytes (1 MB) for a state machine definition; AWS refuses it: split the work into state machines that start one another"
    )]
    TooLarge { bytes: usize },
    /// What synth's checks refuse (AWS refuses most of it too), every problem.
    #[error("{} problem(s), found by the checks synth runs:\n{}", .0.len(), .0.join("\n"))]
    Invalid(Vec<String>),
    /// AWS runs the state, but the runner does not support what it uses (a service
    /// integration other than Lambda, ...).
    #[error("state `{state}`: {feature}")]
    Unsupported { state: String, feature: String },
}

/// Reads a definition's JSON text.
pub fn from_json(text: &str) -> Result<StateMachine, DefinitionError> {
    if text.len() > DEFINITION_BYTES {
        return Err(DefinitionError::TooLarge { bytes: text.len() });
    }
    load(serde_json::from_str(text)?)
}

/// The text of the definition file `path`, refused before it is read whole when it is over
/// Step Functions' 1 MB limit: by its size where the file system knows it, else (a pipe) by
/// reading at most one byte past the limit.
pub fn read_definition(path: &Path) -> anyhow::Result<String> {
    let too_large = |size: String| {
        anyhow::anyhow!(
            "the definition {} is {size} bytes, over Step Functions' limit of {DEFINITION_BYTES} bytes (1 MB) for a state machine definition; AWS refuses it: pass a definition of at most 1 MB",
            path.display()
        )
    };
    let cannot_read = || {
        format!(
            "cannot read the definition {}; run from the repository root, run `cargo run -- synth`, or pass --definition PATH",
            path.display()
        )
    };
    let file = std::fs::File::open(path).with_context(cannot_read)?;
    let metadata = file.metadata().with_context(cannot_read)?;
    if metadata.is_file() && metadata.len() > DEFINITION_BYTES as u64 {
        return Err(too_large(metadata.len().to_string()));
    }
    let mut bytes = Vec::new();
    file.take(DEFINITION_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(cannot_read)?;
    if bytes.len() > DEFINITION_BYTES {
        return Err(too_large(format!("more than {DEFINITION_BYTES}")));
    }
    String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!(
            "the definition {} is not UTF-8 text: a definition is JSON",
            path.display()
        )
    })
}

/// Reads a definition already parsed as JSON.
pub fn load(mut value: Value) -> Result<StateMachine, DefinitionError> {
    asl::upgrade(&mut value);
    let machine: StateMachine = serde_json::from_value(value)?;
    let report = asl::validate::validate(&machine);
    if !report.is_ok() {
        return Err(DefinitionError::Invalid(
            report.errors.iter().map(ToString::to_string).collect(),
        ));
    }
    unsupported_state(&machine.states).map_or(Ok(machine), Err)
}

/// The first state, nested ones included, that the model holds but the runner cannot execute.
fn unsupported_state(states: &States) -> Option<DefinitionError> {
    states.iter().find_map(|(name, state)| {
        let unsupported = |feature: String| DefinitionError::Unsupported {
            state: name.to_string(),
            feature,
        };
        let problem = match state {
            State::Task(task) => {
                let lambda =
                    task.resource == LAMBDA_INVOKE || task.resource.starts_with("arn:aws:lambda:");
                (!lambda).then(|| format!(
                    "the resource `{}` cannot run locally: only `{LAMBDA_INVOKE}` and Lambda function ARNs",
                    task.resource
                ))
            }
            State::Map(map) => map
                .item_reader
                .as_ref()
                .and_then(|reader| {
                    let config = reader.reader_config.as_ref();
                    match (reader.resource.as_str(), config.and_then(|c| c.input_type)) {
                        (S3_LIST_OBJECTS_V2, _) => None,
                        (
                            S3_GET_OBJECT,
                            Some(ReaderInputType::Json | ReaderInputType::Jsonl | ReaderInputType::Csv),
                        ) => config
                            .and_then(|c| c.csv_delimiter)
                            .filter(|d| *d != CsvDelimiter::Comma)
                            .map(|d| format!(
                                "the ItemReader CSVDelimiter {d:?} cannot run locally: only COMMA"
                            )),
                        (S3_GET_OBJECT, other) => Some(format!(
                            "the ItemReader InputType {other:?} cannot run locally: only JSON, JSONL and CSV"
                        )),
                        (other, _) => Some(format!(
                            "the ItemReader resource `{other}` cannot run locally: only `{S3_GET_OBJECT}` and `{S3_LIST_OBJECTS_V2}`"
                        )),
                    }
                })
                .or_else(|| {
                    let writer = map.result_writer.as_ref()?;
                    if writer.writer_config.is_some() {
                        return Some(
                            "the ResultWriter's WriterConfig cannot run locally".to_owned(),
                        );
                    }
                    (writer.resource.as_deref() != Some(S3_PUT_OBJECT)).then(|| format!(
                        "the ResultWriter resource {:?} cannot run locally: only `{S3_PUT_OBJECT}`",
                        writer.resource
                    ))
                }),
            _ => None,
        };
        problem.map(unsupported).or_else(|| {
            state
                .nested()
                .into_iter()
                .find_map(|branch| unsupported_state(&branch.states))
        })
    })
}

#[cfg(test)]
mod tests {
    use asl::{Limit, ProcessorMode};
    use proptest::prelude::Strategy;
    use serde_json::json;

    use super::*;

    /// A one-state machine whose Map `M` has `fields` and a processor in `mode`.
    fn map_with(mode: &str, fields: Value) -> String {
        let mut map = json!({"Type": "Map", "End": true,
            "ItemProcessor": {"ProcessorConfig": {"Mode": mode},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}});
        map.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        json!({"StartAt": "M", "States": {"M": map}}).to_string()
    }

    #[test]
    fn problems_name_the_state_and_every_one_is_listed() {
        for (text, needle) in [
            (
                r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}"#,
                "`B`",
            ),
            (
                r#"{"StartAt": "A", "States": {"A": {"Type": "Pass"}}}"#,
                "`Next` or `\"End\": true`",
            ),
            (
                r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "InputPath": "x"}}}"#,
                "start with `$`",
            ),
            (
                r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Nope": 1}}}"#,
                "unknown field `Nope`",
            ),
        ] {
            let err = from_json(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        let two = r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
            "C": {"Type": "Succeed"}}}"#;
        let Err(DefinitionError::Invalid(problems)) = from_json(two) else {
            panic!("two problems")
        };
        assert!(problems.len() >= 2, "{problems:?}");
    }

    #[test]
    fn the_committed_distributed_map_is_read_with_its_reader_writer_and_thresholds() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(crate::synth::DEFINITION_PATH),
        )
        .unwrap();
        let machine = from_json(&text).unwrap();
        let State::Map(map) = &machine.states[pipeline::PROCESS_TASK02_CHUNKS] else {
            panic!("the pipeline's Map")
        };
        assert!(map.is_distributed());
        let reader = map.item_reader.as_ref().unwrap();
        assert_eq!(reader.resource, S3_GET_OBJECT);
        assert_eq!(
            reader.reader_config.as_ref().unwrap().input_type,
            Some(ReaderInputType::Json)
        );
        assert_eq!(
            map.result_writer.as_ref().unwrap().resource.as_deref(),
            Some(S3_PUT_OBJECT)
        );
        assert_eq!(map.tolerated_failure_count, Some(Limit::Fixed(0)));
        assert_eq!(map.label.as_deref(), Some("chunks"));
        let config = map.item_processor.processor_config.as_ref().unwrap();
        assert_eq!(config.mode, ProcessorMode::Distributed);
    }

    #[test]
    fn distributed_fields_are_checked_as_synth_checks_them() {
        let reader = |config: Value| {
            json!({"ItemReader": {"Resource": S3_GET_OBJECT, "ReaderConfig": config,
                "Parameters": {"Bucket": "b", "Key": "k"}}})
        };
        for (mode, fields, needle) in [
            ("INLINE", reader(json!({"InputType": "JSON"})), "ItemReader"),
            ("INLINE", json!({"Label": "x"}), "Label"),
            ("DISTRIBUTED", reader(json!({})), "InputType"),
            (
                "DISTRIBUTED",
                reader(json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN"})),
                "CSVHeaders",
            ),
            (
                "DISTRIBUTED",
                reader(json!({"InputType": "MANIFEST"})),
                "only JSON, JSONL and CSV",
            ),
            (
                "DISTRIBUTED",
                reader(json!({"InputType": "JSON", "MaxItems": 1, "MaxItemsPath": "$.m"})),
                "`MaxItems` and `MaxItemsPath` cannot both be given",
            ),
            (
                "DISTRIBUTED",
                json!({"ItemBatcher": {"BatchInput": {}}}),
                "MaxItemsPerBatch",
            ),
            (
                "DISTRIBUTED",
                json!({"ItemBatcher": {"MaxItemsPerBatch": 0}}),
                "MaxItemsPerBatch",
            ),
            (
                "DISTRIBUTED",
                json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {}}}),
                "ResultWriter",
            ),
            (
                "DISTRIBUTED",
                json!({"ResultWriter": {"WriterConfig": {"OutputType": "JSONL"}}}),
                "WriterConfig",
            ),
            (
                "DISTRIBUTED",
                json!({"ToleratedFailureCount": 1, "ToleratedFailureCountPath": "$.c"}),
                "cannot both be given",
            ),
            (
                "DISTRIBUTED",
                json!({"ToleratedFailurePercentage": 101}),
                "ToleratedFailurePercentage",
            ),
            ("DISTRIBUTED", json!({"Label": "a:b"}), "Label"),
        ] {
            let err = from_json(&map_with(mode, fields.clone()))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{fields}: {err}");
        }
        let listing = json!({"ItemReader": {"Resource": S3_LIST_OBJECTS_V2,
            "Parameters": {"Bucket": "b"}, "ReaderConfig": {"MaxItems": 5}}});
        from_json(&map_with("DISTRIBUTED", listing)).unwrap();
    }

    #[test]
    fn a_service_aws_runs_and_the_runner_does_not_is_unsupported_not_invalid() {
        let task =
            json!({"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": true});
        let text = json!({"StartAt": "S", "States": {"S": task}}).to_string();
        let error = from_json(&text).unwrap_err();
        assert!(
            matches!(&error, DefinitionError::Unsupported { feature, .. } if feature.contains("cannot run locally")),
            "{error:?}"
        );
        let invalid = r#"{"StartAt": "S", "States": {"S": {"Type": "Pass", "Next": "T"}}}"#;
        assert!(matches!(
            from_json(invalid),
            Err(DefinitionError::Invalid(_))
        ));
    }

    #[test]
    fn a_jsonata_definition_is_read_with_its_expressions_and_checked_for_the_other_language() {
        let text = r#"{"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {"Type": "Map",
            "ItemReader": {"ReaderConfig": {"InputType": "JSON", "MaxItems": "{% 2 %}"},
                           "Resource": "arn:aws:states:::s3:getObject", "Arguments": {"Bucket": "b", "Key": "k"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "Assign": {"total": "{% $count($states.result) %}"}, "End": true}}}"#;
        let machine = from_json(text).unwrap();
        let State::Map(map) = &machine.states["M"] else {
            panic!("a Map")
        };
        let max_items = map
            .item_reader
            .as_ref()
            .unwrap()
            .reader_config
            .as_ref()
            .unwrap();
        assert!(
            matches!(&max_items.max_items, Some(Limit::Expression(e)) if e.expression() == "2")
        );
        let mixed = r#"{"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass",
            "QueryLanguage": "JSONPath", "InputPath": "$.a", "End": true}}}"#;
        let Err(DefinitionError::Invalid(problems)) = from_json(mixed) else {
            panic!("a JSONPath state in a JSONata machine is refused")
        };
        assert!(
            problems.iter().any(|p| p.contains("cannot use JSONPath")),
            "{problems:?}"
        );
        let wrong_field = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass",
            "QueryLanguage": "JSONata", "Parameters": {"a": 1}, "End": true}}}"#;
        let Err(DefinitionError::Invalid(problems)) = from_json(wrong_field) else {
            panic!("Parameters in a JSONata state is refused")
        };
        assert!(
            problems.iter().any(
                |p| p.contains("`Parameters` is a JSONPath field") && p.contains("`Arguments`")
            ),
            "{problems:?}"
        );
        let bad_syntax = r#"{"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass",
            "Output": {"a": "{% $states.input. %}"}, "End": true}}}"#;
        let Err(DefinitionError::Invalid(problems)) = from_json(bad_syntax) else {
            panic!("an expression that does not parse is refused")
        };
        assert!(
            problems
                .iter()
                .any(|p| p.contains("state `P`") && p.contains("`Output/a`")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_definition_over_1_mb_is_refused_before_it_is_parsed() {
        let machine = |comment_bytes: usize| {
            let text = json!({"Comment": "", "StartAt": "P",
                "States": {"P": {"Type": "Pass", "End": true}}})
            .to_string();
            let padding = comment_bytes - text.len();
            text.replacen(
                "\"Comment\":\"\"",
                &format!("\"Comment\":\"{}\"", "x".repeat(padding)),
                1,
            )
        };
        let at_limit = machine(DEFINITION_BYTES);
        assert_eq!(at_limit.len(), DEFINITION_BYTES);
        from_json(&at_limit).unwrap();
        let over = machine(DEFINITION_BYTES + 1);
        let err = from_json(&over).unwrap_err();
        assert!(
            matches!(err, DefinitionError::TooLarge { bytes: 1_048_577 }),
            "{err}"
        );
        assert!(
            err.to_string().starts_with(
                "the definition is 1048577 bytes, over Step Functions' limit of 1048576 bytes (1 MB)"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_multi_gigabyte_definition_file_is_refused_by_its_size_and_a_stream_is_not_read_past_the_limit()
     {
        let dir = tempfile::tempdir().unwrap();
        let huge = dir.path().join("huge.json");
        // Sparse: 5 GB that take no disk and, read whole, would take 5 GB of memory.
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(5 << 30)
            .unwrap();
        let err = read_definition(&huge).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "the definition {} is 5368709120 bytes, over Step Functions' limit of 1048576 bytes (1 MB) for a state machine definition; AWS refuses it: pass a definition of at most 1 MB",
                huge.display()
            )
        );
        let err = read_definition(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "the definition /dev/zero is more than 1048576 bytes, over Step Functions' limit"
            ),
            "{err}"
        );
        let small = dir.path().join("small.json");
        std::fs::write(&small, "{}").unwrap();
        assert_eq!(read_definition(&small).unwrap(), "{}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 1_000,
            failure_persistence: None,
            ..Default::default()
        })]

        /// Whatever the text, the loader gives a machine or a clean error.
        #[test]
        fn generated_definition_text_loads_or_is_refused(
            text in "\\PC{0,200}",
            kind in proptest::sample::select(vec!["Pass", "Wait", "Choice", "Map", "Parallel", "Task", "Fail", "X"]),
            field in proptest::sample::select(vec!["Seconds", "InputPath", "ItemsPath", "TimeoutSeconds", "Result", "Parameters"]),
            value in proptest::prop_oneof![
                proptest::prelude::any::<i64>().prop_map(|n| json!(n)),
                "\\$[\\[\\]().:?@!*a-z0-9-]{0,30}".prop_map(|p| json!(p)),
                "States\\.[A-Za-z]{0,10}\\([$.a-z0-9, ']{0,20}\\)".prop_map(|c| json!({"x.$": c})),
            ],
        ) {
            let _ = from_json(&text);
            let definition = json!({"StartAt": "S", "States": {"S": {"Type": kind, field: value, "End": true}}});
            let _ = from_json(&definition.to_string());
        }
    }
}
