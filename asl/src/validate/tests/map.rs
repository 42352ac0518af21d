//! A Map's settings: Distributed-only fields, the reader, batcher, writer, Label and limits.

use super::*;

#[test]
fn distributed_fields_need_a_distributed_map() {
    let mut map = inline_map(vec![("Each", pass(Transition::End))], Transition::End);
    map.result_path = ResultPath::Discard;
    map.label = Some("x".into());
    let machine = build(vec![("Loop", State::Map(map.clone()))]);
    assert_one_error(&machine, "Label needs a Distributed Map");

    map.label = None;
    map.tolerated_failure_count = Some(Limit::Path(ReferencePath::parse("$.n").unwrap()));
    let machine = build(vec![("Loop", State::Map(map))]);
    let report = validate(&machine);
    assert!(report.is_ok(), "{:?}", report.errors);
    assert_eq!(
        report.warnings[0].to_string(),
        "state `Loop`: ToleratedFailureCountPath has no effect on an inline Map (its first failed iteration fails it): set ItemProcessor.ProcessorConfig.Mode to DISTRIBUTED, or remove ToleratedFailureCountPath",
    );
}

#[test]
fn a_correct_distributed_map_has_no_problem() {
    assert_eq!(validate(&with_map(distributed_map())), Report::default());
}

#[test]
fn an_item_reader_reads_with_s3_get_object_or_list_objects_v2() {
    let mut map = distributed_map();
    map.item_reader.as_mut().unwrap().resource = S3_PUT_OBJECT.into();
    assert_one_error(
        &with_map(map),
        "state `Chunks`: ItemReader.Resource `arn:aws:states:::s3:putObject` is not one a Distributed Map reads items with: use `arn:aws:states:::s3:getObject` (the items stored in one object) or `arn:aws:states:::s3:listObjectsV2` (the objects under a prefix)",
    );
}

#[test]
fn an_item_reader_names_the_bucket_and_for_get_object_the_key() {
    let mut map = distributed_map();
    let reader = map.item_reader.as_mut().unwrap();
    reader.parameters = Some(PayloadTemplate::new().with(
        "Bucket",
        PayloadValue::Path(ReferencePath::parse("$.ids.bucket").unwrap()),
    ));
    assert_one_error(
        &with_map(map.clone()),
        "ItemReader.Parameters has no `Key`, which `arn:aws:states:::s3:getObject` needs: give it literally (`Key`) or from the input (`Key.$`)",
    );
    // A listing needs only the bucket (and no InputType).
    let reader = map.item_reader.as_mut().unwrap();
    reader.resource = S3_LIST_OBJECTS_V2.into();
    reader.reader_config = None;
    assert_eq!(errors(&with_map(map.clone())), Vec::<String>::new());

    map.item_reader.as_mut().unwrap().parameters = None;
    assert_one_error(&with_map(map), "ItemReader.Parameters has no `Bucket`");
}

#[test]
fn get_object_needs_the_input_type() {
    let mut map = distributed_map();
    reader_config(&mut map).input_type = None;
    assert_one_error(
        &with_map(map),
        "ItemReader.ReaderConfig.InputType is missing: `arn:aws:states:::s3:getObject` must be told how the object stores its items",
    );
}

#[test]
fn csv_settings_need_a_csv_input_and_agree_on_the_header() {
    let mut map = distributed_map();
    reader_config(&mut map).csv_delimiter = Some(CsvDelimiter::Tab);
    assert_one_error(
        &with_map(map.clone()),
        "ItemReader.ReaderConfig.CSVDelimiter applies only to InputType CSV: remove it, or set InputType to CSV",
    );

    let config = reader_config(&mut map);
    config.input_type = Some(ReaderInputType::Csv);
    config.csv_header_location = Some(CsvHeaderLocation::Given);
    assert_one_error(
        &with_map(map.clone()),
        "CSVHeaderLocation is GIVEN but CSVHeaders is missing",
    );

    reader_config(&mut map).csv_headers = Some(vec!["chunk_id".into()]);
    assert_eq!(errors(&with_map(map.clone())), Vec::<String>::new());

    reader_config(&mut map).csv_header_location = Some(CsvHeaderLocation::FirstRow);
    assert_one_error(
        &with_map(map),
        "CSVHeaders is given but CSVHeaderLocation is FIRST_ROW",
    );
}

#[test]
fn max_items_is_at_most_what_aws_reads() {
    let mut map = distributed_map();
    reader_config(&mut map).max_items = Some(Limit::Fixed(READER_MAX_ITEMS));
    assert_eq!(errors(&with_map(map.clone())), Vec::<String>::new());
    reader_config(&mut map).max_items = Some(Limit::Fixed(READER_MAX_ITEMS + 1));
    assert_one_error(
        &with_map(map),
        "ItemReader.ReaderConfig.MaxItems 100000001 is more than AWS reads: use at most 100000000",
    );
}

#[test]
fn a_map_label_is_valid_and_unique_in_the_machine() {
    let mut map = distributed_map();
    map.label = Some("chunk ids".into());
    assert_one_error(
        &with_map(map),
        "state `Chunks`: Label \"chunk ids\" cannot name a Map Run: a Label cannot contain ' '",
    );

    // The same label on a Map nested in another Map's processor.
    let mut outer = distributed_map();
    outer.item_processor.branch = Branch {
        comment: None,
        start_at: name("Inner"),
        states: [(name("Inner"), State::Map(distributed_map()))]
            .into_iter()
            .collect(),
    };
    assert_one_error(
        &with_map(outer),
        "state `Chunks/Inner`: Label \"chunks\" is already the Label of `Chunks`: give each Map its own Label",
    );
}

#[test]
fn the_tolerated_failure_percentage_is_a_share() {
    for percentage in [100.5, -1.0, f64::NAN] {
        let mut map = distributed_map();
        map.tolerated_failure_percentage = Some(Limit::Fixed(percentage));
        assert_one_error(
            &with_map(map),
            &format!(
                "ToleratedFailurePercentage {percentage} is not a share of the children: use 0 to 100 (%)"
            ),
        );
    }
}

#[test]
fn max_concurrency_is_within_what_aws_runs_at_once() {
    let mut map = distributed_map();
    map.max_concurrency = Some(Limit::Fixed(DISTRIBUTED_MAP_MAX_CONCURRENCY + 1));
    assert_one_error(
        &with_map(map),
        "MaxConcurrency 10001 is more child executions than a Distributed Map runs at once: use 1 to 10000",
    );

    let mut inline = inline_map(vec![("Each", pass(Transition::End))], Transition::End);
    inline.result_path = ResultPath::Discard;
    inline.max_concurrency = Some(Limit::Fixed(INLINE_MAP_MAX_CONCURRENCY));
    assert_eq!(validate(&with_map(inline.clone())), Report::default());
    inline.max_concurrency = Some(Limit::Fixed(INLINE_MAP_MAX_CONCURRENCY + 1));
    let report = validate(&with_map(inline));
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.warnings.len(), 1, "{report:?}");
    assert!(
        report.warnings[0].to_string().contains(
            "MaxConcurrency 41 has no effect above 40: AWS runs at most 40 iterations of an inline Map at once"
        ),
        "{report:?}"
    );
}

#[test]
fn an_item_batcher_has_a_limit_of_at_least_one_and_at_most_256_kib() {
    let batcher = |items: Option<u32>, bytes: Option<u32>| ItemBatcher {
        max_items_per_batch: items.map(Limit::Fixed),
        max_input_bytes_per_batch: bytes.map(Limit::Fixed),
        batch_input: None,
    };
    let check = |batcher: ItemBatcher| {
        let mut map = distributed_map();
        map.item_batcher = Some(batcher);
        errors(&with_map(map))
    };
    assert_eq!(
        check(batcher(Some(1), Some(PAYLOAD_BYTES as u32))),
        Vec::<String>::new()
    );
    let found = check(batcher(None, None));
    assert!(
        found.len() == 1
            && found[0]
                .contains("ItemBatcher has no limit: give MaxItemsPerBatch, MaxInputBytesPerBatch"),
        "{found:#?}"
    );
    let found = check(batcher(Some(0), Some(0)));
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].contains("ItemBatcher.MaxItemsPerBatch is 0: a batch holds at least 1"));
    assert!(found[1].contains("ItemBatcher.MaxInputBytesPerBatch is 0"));
    let found = check(batcher(None, Some(PAYLOAD_BYTES as u32 + 1)));
    assert!(
        found.len() == 1 && found[0].contains("ItemBatcher.MaxInputBytesPerBatch 262145 is more than a child execution's input may hold: use at most 262144 (256 KiB)"),
        "{found:#?}"
    );
}

#[test]
fn a_result_writer_is_one_of_the_combinations_aws_takes() {
    let bucket = || PayloadTemplate::new().with("Bucket", PayloadValue::Literal(json!("b")));
    let format_only = WriterConfig {
        output_type: Some(OutputType::Json),
        transformation: None,
    };
    let check = |writer: ResultWriter| {
        let mut map = distributed_map();
        map.result_path = ResultPath::Discard;
        map.result_writer = Some(writer);
        errors(&with_map(map))
    };
    let fine = [
        ResultWriter::s3(bucket()),
        ResultWriter {
            writer_config: Some(format_only),
            ..ResultWriter::default()
        },
        ResultWriter {
            writer_config: Some(format_only),
            ..ResultWriter::s3(bucket())
        },
    ];
    for writer in fine {
        assert_eq!(check(writer.clone()), Vec::<String>::new(), "{writer:?}");
    }
    let wrong = [
        (
            ResultWriter::default(),
            "ResultWriter is empty: give Resource",
        ),
        (
            ResultWriter {
                parameters: None,
                ..ResultWriter::s3(bucket())
            },
            "ResultWriter.Resource needs Parameters saying where to write",
        ),
        (
            ResultWriter {
                resource: None,
                ..ResultWriter::s3(bucket())
            },
            "ResultWriter.Parameters needs a Resource to write with: add Resource `arn:aws:states:::s3:putObject`",
        ),
        (
            ResultWriter {
                resource: Some(S3_GET_OBJECT.into()),
                ..ResultWriter::s3(bucket())
            },
            "ResultWriter.Resource `arn:aws:states:::s3:getObject` cannot write the results: use `arn:aws:states:::s3:putObject`",
        ),
        (
            ResultWriter::s3(PayloadTemplate::new()),
            "ResultWriter.Parameters has no `Bucket`",
        ),
    ];
    for (writer, needle) in wrong {
        let found = check(writer);
        assert!(
            found.len() == 1 && found[0].contains(needle),
            "expected {needle:?}, got {found:#?}"
        );
    }
}

#[test]
fn items_path_beside_an_item_reader_is_a_warning() {
    let mut map = distributed_map();
    map.items_path = Some(ReferencePath::parse("$.ids").unwrap().into());
    let report = validate(&with_map(map));
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.warnings.len(), 1, "{report:?}");
    assert!(
        report.warnings[0].to_string().contains(
            "state `Chunks`: ItemsPath `$.ids` has no effect: AWS ignores ItemsPath when an ItemReader is given"
        ),
        "{report:?}"
    );
}

#[test]
fn a_distributed_map_result_kept_without_a_writer_to_s3_is_a_warning() {
    let warnings = |writer: Option<ResultWriter>| {
        let mut map = distributed_map();
        map.result_writer = writer;
        let report = validate(&with_map(map));
        assert!(report.is_ok(), "{report:?}");
        report.warnings
    };
    // distributed_map() keeps its result (ResultPath absent): written to S3, it is small.
    assert_eq!(warnings(distributed_map().result_writer), Vec::new());
    let format_only = ResultWriter {
        writer_config: Some(WriterConfig {
            output_type: Some(OutputType::Json),
            transformation: None,
        }),
        ..ResultWriter::default()
    };
    for writer in [None, Some(format_only)] {
        let found = warnings(writer);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].to_string().contains("the Distributed Map has no ResultWriter writing to S3, so its result is the array of its child executions' outputs (one entry per item or batch), which counts against the 262144-byte (256 KiB) limit"),
            "{found:?}"
        );
    }
}

#[test]
fn a_map_result_kept_in_the_state_is_a_warning() {
    let map = inline_map(vec![("Each", pass(Transition::End))], Transition::End);
    let machine = build(vec![("Loop", State::Map(map.clone()))]);
    let report = validate(&machine);
    assert!(report.is_ok());
    assert_eq!(report.warnings.len(), 1);
    assert!(
        report.warnings[0].to_string().contains("262144 bytes"),
        "{:?}",
        report.warnings
    );
    let mut discarded = map;
    discarded.result_path = ResultPath::Discard;
    assert!(
        validate(&build(vec![("Loop", State::Map(discarded))]))
            .warnings
            .is_empty()
    );
}
