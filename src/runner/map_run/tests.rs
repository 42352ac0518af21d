//! The Map Run's parts on plain values: item formats on a local object store, batches, the
//! tolerated failure thresholds, names, scheduling, and the ResultWriter's files.

use std::sync::atomic::AtomicUsize;

use super::*;

async fn store_with(objects: &[(&str, &str)]) -> (tempfile::TempDir, ObjectStore) {
    let root = tempfile::tempdir().unwrap();
    let store = ObjectStore::local(root.path());
    store.create_local_bucket("items").await.unwrap();
    for (key, body) in objects {
        store
            .put("items", key, body.as_bytes().to_vec())
            .await
            .unwrap();
    }
    (root, store)
}

fn object(key: &str, format: ItemFormat) -> ItemSource {
    ItemSource::Object {
        bucket: "items".into(),
        key: key.into(),
        format,
    }
}

#[tokio::test]
async fn json_jsonl_and_csv_objects_give_their_items() {
    let (_root, store) = store_with(&[
        ("a.json", r#"[{"id": 1}, 2, "three"]"#),
        ("a.jsonl", "{\"id\": 1}\n\n[2]\r\n\"three\"\n"),
        (
            "a.csv",
            "h1,h2,h3\nv1,v2,v3\n,,,\nshort\n\"quoted, comma\",x,y\n",
        ),
    ])
    .await;
    let read = |key: &'static str, format| {
        let store = store.clone();
        async move {
            read_items(&store, &object(key, format), ItemLimit::ALL)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        read("a.json", ItemFormat::Json).await,
        [json!({"id": 1}), json!(2), json!("three")]
    );
    assert_eq!(
        read("a.jsonl", ItemFormat::JsonLines).await,
        [json!({"id": 1}), json!([2]), json!("three")]
    );
    assert_eq!(
        read("a.csv", ItemFormat::Csv(CsvHeader::FirstRow)).await,
        [
            json!({"h1": "v1", "h2": "v2", "h3": "v3"}),
            // Extra fields are dropped, missing ones are "".
            json!({"h1": "", "h2": "", "h3": ""}),
            json!({"h1": "short", "h2": "", "h3": ""}),
            json!({"h1": "quoted, comma", "h2": "x", "h3": "y"}),
        ]
    );
    let given = ItemFormat::Csv(CsvHeader::Given(vec!["only".into()]));
    assert_eq!(
        read("a.csv", given).await[..2],
        [json!({"only": "h1"}), json!({"only": "v1"})]
    );
}

#[tokio::test]
async fn duplicate_csv_headers_fail_the_item_reader() {
    let (_root, store) = store_with(&[("d.csv", "a,b,a\n1,2,3\n")]).await;
    for header in [
        CsvHeader::FirstRow,
        CsvHeader::Given(vec!["x".into(), "x".into()]),
    ] {
        let error = read_items(
            &store,
            &object("d.csv", ItemFormat::Csv(header)),
            ItemLimit::ALL,
        )
        .await
        .unwrap_err();
        assert_eq!(
            error,
            StateError::new(ITEM_READER_FAILED, "CSV headers cannot contain duplicates.")
        );
    }
}

#[tokio::test]
async fn max_items_limits_every_format_and_zero_reads_all() {
    let (_root, store) = store_with(&[("n.json", "[1, 2, 3, 4]"), ("n.csv", "h\n1\n2\n3\n")]).await;
    let two = ItemLimit::new(2).unwrap();
    let json_items = read_items(&store, &object("n.json", ItemFormat::Json), two)
        .await
        .unwrap();
    assert_eq!(json_items, [json!(1), json!(2)]);
    let csv = object("n.csv", ItemFormat::Csv(CsvHeader::FirstRow));
    assert_eq!(read_items(&store, &csv, two).await.unwrap().len(), 2);
    let all = ItemLimit::new(0).unwrap();
    assert_eq!(
        read_items(&store, &object("n.json", ItemFormat::Json), all)
            .await
            .unwrap()
            .len(),
        4
    );
    let negative = ItemLimit::new(-1).unwrap_err();
    assert_eq!(
        negative,
        StateError::new(ITEM_READER_FAILED, "field MaxItems must be positive")
    );
}

#[tokio::test]
async fn an_object_that_is_no_array_missing_or_in_no_bucket_fails_the_item_reader() {
    let (_root, store) =
        store_with(&[("o.json", r#"{"Hello": "world"}"#), ("bad.json", "[1,")]).await;
    let failure = |source: ItemSource| {
        let store = store.clone();
        async move {
            read_items(&store, &source, ItemLimit::ALL)
                .await
                .unwrap_err()
        }
    };
    let not_array = failure(object("o.json", ItemFormat::Json)).await;
    assert_eq!(
        not_array,
        StateError::new(
            ITEM_READER_FAILED,
            "Attempting to map over non-iterable node."
        )
    );
    for (source, needle) in [
        (object("bad.json", ItemFormat::Json), "not valid JSON"),
        (
            object("missing.json", ItemFormat::Json),
            "key does not exist",
        ),
        (
            ItemSource::Object {
                bucket: "no-bucket".into(),
                key: "o.json".into(),
                format: ItemFormat::Json,
            },
            "bucket does not exist",
        ),
    ] {
        let error = failure(source).await;
        assert_eq!(error.error, ITEM_READER_FAILED);
        assert!(error.cause.contains(needle), "{}", error.cause);
    }
}

#[tokio::test]
async fn a_listing_gives_each_objects_etag_key_date_size_and_class_in_key_order() {
    let (_root, store) = store_with(&[
        ("p/b.txt", "bb"),
        ("p/a.txt", "HelloWorld!"),
        ("q/c.txt", "c"),
    ])
    .await;
    let listing = ItemSource::Listing {
        bucket: "items".into(),
        prefix: "p/".into(),
    };
    let items = read_items(&store, &listing, ItemLimit::ALL).await.unwrap();
    let keys: Vec<&str> = items.iter().map(|i| i["Key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["p/a.txt", "p/b.txt"]);
    let first = &items[0];
    let mut fields: Vec<&String> = first.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(
        fields,
        ["Etag", "Key", "LastModified", "Size", "StorageClass"]
    );
    // S3's ETag of a single-part object: the quoted MD5 of its bytes.
    assert_eq!(first["Etag"], json!("\"06e0e6637d27b2622ab52022db713ce2\""));
    assert_eq!(first["Size"], json!(11));
    assert_eq!(first["StorageClass"], json!("STANDARD"));
    let now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let modified = first["LastModified"].as_u64().unwrap();
    assert!(now.abs_diff(modified) < 600, "{modified} vs {now}");
}

fn batches(items: usize, limits: ResolvedBatchLimits, batch_input: Option<Value>) -> Vec<Value> {
    Batches::new((0..items).map(|i| Ok(json!(i))), limits, batch_input)
        .map(|batch| batch.unwrap().input)
        .collect()
}

#[test]
fn batches_hold_at_most_max_items_with_the_batch_input() {
    let limits = ResolvedBatchLimits {
        max_items: Some(2),
        max_bytes: None,
    };
    assert_eq!(
        batches(5, limits, Some(json!({"run": "r1"}))),
        [
            json!({"Items": [0, 1], "BatchInput": {"run": "r1"}}),
            json!({"Items": [2, 3], "BatchInput": {"run": "r1"}}),
            json!({"Items": [4], "BatchInput": {"run": "r1"}}),
        ]
    );
    assert_eq!(batches(3, limits, None)[0], json!({"Items": [0, 1]}));
}

#[test]
fn batches_stay_within_max_input_bytes_and_an_item_too_big_alone_is_an_error() {
    // `{"Items":[]}` is 12 bytes; each one-digit item adds 1, and a comma before all but the first.
    let limits = ResolvedBatchLimits {
        max_items: None,
        max_bytes: Some(17),
    };
    let inputs = batches(10, limits, None);
    assert_eq!(inputs[0], json!({"Items": [0, 1, 2]}));
    assert!(inputs.iter().all(|b| json_len(b) <= 17));
    assert_eq!(
        inputs
            .iter()
            .map(|b| b["Items"].as_array().unwrap().len())
            .sum::<usize>(),
        10
    );
    let tiny = ResolvedBatchLimits {
        max_items: None,
        max_bytes: Some(12),
    };
    let mut too_small = Batches::new([Ok(json!(1))].into_iter(), tiny, None);
    let error = too_small.next().unwrap().unwrap_err();
    assert_eq!(error.error, "States.Runtime");
    assert!(
        error.cause.contains("MaxInputBytesPerBatch"),
        "{}",
        error.cause
    );
}

#[test]
fn tolerance_applies_the_thresholds_given_and_none_tolerates_nothing() {
    let none = Tolerance::default();
    assert!(!none.exceeded(0, 10));
    assert!(none.exceeded(1, 10));
    let count = Tolerance {
        count: Some(2),
        percentage: None,
    };
    assert!(!count.exceeded(2, 10));
    assert!(count.exceeded(3, 10));
    let share = Tolerance {
        count: None,
        percentage: Some(20.0),
    };
    assert!(!share.exceeded(2, 10));
    assert!(share.exceeded(3, 10));
    let both = Tolerance {
        count: Some(5),
        percentage: Some(20.0),
    };
    assert!(both.exceeded(3, 10), "either threshold exceeded fails");
    let zeroes = Tolerance {
        count: Some(0),
        percentage: Some(0.0),
    };
    assert!(zeroes.exceeded(1, 1000));
}

fn spec() -> ExecutionSpec {
    ExecutionSpec {
        region: "us-east-1".into(),
        account: "123456789012".into(),
        state_machine: "sm".into(),
        name: "exec-1".into(),
        role_arn: "arn:aws:iam::123456789012:role/r".into(),
        input: json!({}),
    }
}

fn is_uuid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && text.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

#[test]
fn map_run_and_child_names_follow_aws_and_are_reproducible() {
    let names = MapRunNames::new(&spec(), Some("chunks"), 42);
    let (prefix, id) = names.arn.rsplit_once(':').unwrap();
    assert_eq!(
        prefix,
        "arn:aws:states:us-east-1:123456789012:mapRun:sm/chunks"
    );
    assert!(is_uuid(id) && id == names.id, "{}", names.arn);
    assert_eq!(
        names.child_state_machine_arn,
        "arn:aws:states:us-east-1:123456789012:stateMachine:sm/chunks"
    );
    let (name, arn) = names.child(7);
    assert!(is_uuid(&name));
    assert_eq!(
        arn,
        format!("arn:aws:states:us-east-1:123456789012:execution:sm/chunks:{name}")
    );
    assert_ne!(names.child(8).0, name);
    assert_eq!(MapRunNames::new(&spec(), Some("chunks"), 42).arn, names.arn);
    assert_ne!(MapRunNames::new(&spec(), Some("chunks"), 43).id, names.id);
    let unlabelled = MapRunNames::new(&spec(), None, 42);
    let generated_id = unlabelled
        .arn
        .strip_prefix("arn:aws:states:us-east-1:123456789012:mapRun:sm/")
        .unwrap()
        .split(':')
        .next()
        .unwrap();
    assert!(is_uuid(generated_id), "{}", unlabelled.arn);
}

fn plan<'a>(
    names: &'a MapRunNames,
    items: u64,
    concurrency: u64,
    results: Results,
) -> MapRunPlan<'a> {
    MapRunPlan {
        state: "M",
        names,
        max_concurrency: concurrency,
        tolerance: Tolerance::default(),
        items_total: items,
        epoch: DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        results,
        express: false,
    }
}

/// Runs children lasting one virtual second each; item `n` fails when `fails(n)`.
async fn run_items(
    plan: &MapRunPlan<'_>,
    items: usize,
    fails: impl Fn(u64) -> bool,
    started: &AtomicUsize,
) -> MapRunEnd {
    let inputs = (0..items).map(|i| Ok(ChildInput::single(json!(i))));
    run_children(plan, inputs, Duration::ZERO, |child| {
        started.fetch_add(1, Ordering::SeqCst);
        let n = child.input.as_u64().unwrap();
        let output = if fails(n) {
            Err(StateError::new("Item.Failed", format!("item {n}")))
        } else {
            Ok(json!({"doubled": n * 2}))
        };
        async move {
            ChildEnd {
                output,
                finished: child.start + Duration::from_secs(1),
                history_events: 3 + n,
                state_transitions: 1 + n,
                billed_ms: 1000,
            }
        }
    })
    .await
}

#[tokio::test]
async fn children_run_max_concurrency_at_a_time_on_the_virtual_clock_and_keep_item_order() {
    let names = MapRunNames::new(&spec(), Some("l"), 1);
    let started = AtomicUsize::new(0);
    let end = run_items(
        &plan(&names, 7, 3, Results::Collect),
        7,
        |_| false,
        &started,
    )
    .await;
    assert!(end.error.is_none());
    // 7 children of 1 s on 3 slots: 3 rounds.
    assert_eq!(end.finished, Duration::from_secs(3));
    assert_eq!(
        end.outputs,
        (0..7)
            .map(|n| json!({"doubled": n * 2}))
            .collect::<Vec<_>>()
    );
    let summary = &end.summary;
    assert_eq!(
        (summary.items_total, summary.succeeded, summary.failed),
        (7, 7, 0)
    );
    assert_eq!(summary.largest_child_history_events, 3 + 6);
    // Items 0..7 make 1 + n transitions each, and each child is billed one second.
    assert_eq!(
        (
            summary.children_run,
            summary.child_state_transitions,
            summary.child_billed_ms
        ),
        (7, (1..=7).sum(), 7_000)
    );
    // MaxConcurrency 0 means up to 10,000: every child starts at once.
    let started = AtomicUsize::new(0);
    let end = run_items(
        &plan(&names, 500, 0, Results::Collect),
        500,
        |_| false,
        &started,
    )
    .await;
    assert_eq!(end.finished, Duration::from_secs(1));
}

#[tokio::test]
async fn past_the_tolerated_failures_no_child_starts_and_the_map_run_fails() {
    let names = MapRunNames::new(&spec(), Some("l"), 1);
    let mut one_at_a_time = plan(&names, 10, 1, Results::Collect);
    one_at_a_time.tolerance = Tolerance {
        count: Some(1),
        percentage: None,
    };
    let started = AtomicUsize::new(0);
    let end = run_items(&one_at_a_time, 10, |n| n % 2 == 0, &started).await;
    let error = end.error.unwrap();
    assert_eq!(error.error, EXCEED_TOLERATED_FAILURE_THRESHOLD);
    assert_eq!(
        error.cause,
        "The specified tolerated failure threshold was exceeded"
    );
    // Items 0 and 2 fail: the second failure exceeds 1, so item 3 never starts.
    assert_eq!(started.load(Ordering::SeqCst), 3);
    assert_eq!((end.summary.succeeded, end.summary.failed), (1, 2));
    assert_eq!(
        end.summary.first_failure,
        Some(StateError::new("Item.Failed", "item 0"))
    );

    let mut tolerant = plan(&names, 10, 1, Results::Collect);
    tolerant.tolerance = Tolerance {
        count: None,
        percentage: Some(50.0),
    };
    let started = AtomicUsize::new(0);
    let end = run_items(&tolerant, 10, |n| n % 2 == 0, &started).await;
    assert!(end.error.is_none(), "5 of 10 is not over 50 %");
    assert_eq!((end.summary.succeeded, end.summary.failed), (5, 5));
}

#[tokio::test]
async fn a_child_input_that_cannot_be_built_stops_the_map_run_with_its_error() {
    let names = MapRunNames::new(&spec(), Some("l"), 1);
    let started = AtomicUsize::new(0);
    let inputs = (0..5).map(|i| match i {
        2 => Err(StateError::runtime("no such field")),
        i => Ok(ChildInput::single(json!(i))),
    });
    let end = run_children(
        &plan(&names, 5, 1, Results::Collect),
        inputs,
        Duration::ZERO,
        |child| {
            started.fetch_add(1, Ordering::SeqCst);
            async move {
                ChildEnd {
                    output: Ok(child.input),
                    finished: child.start,
                    history_events: 2,
                    state_transitions: 1,
                    billed_ms: 100,
                }
            }
        },
    )
    .await;
    assert_eq!(end.error, Some(StateError::runtime("no such field")));
    assert_eq!(started.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn result_writer_files_hold_each_childs_execution_and_the_manifest_lists_them() {
    let (root, store) = store_with(&[]).await;
    let names = MapRunNames::new(&spec(), Some("l"), 1);
    let mut recorded = plan(&names, 4, 2, Results::Record);
    recorded.tolerance = Tolerance {
        count: Some(1),
        percentage: None,
    };
    let started = AtomicUsize::new(0);
    let end = run_items(&recorded, 4, |n| n == 3, &started).await;
    assert!(end.error.is_none());
    assert!(end.outputs.is_empty(), "a ResultWriter keeps no outputs");
    let destination = ResultDestination {
        bucket: "items".into(),
        prefix: "runs/exec-1/map-results".into(),
    };
    let written = write_results(&store, &destination, &names, end.records)
        .await
        .unwrap();
    assert_eq!(written.items, 4);
    let folder = format!("runs/exec-1/map-results/{}", names.id);
    assert_eq!(
        written.output,
        json!({"MapRunArn": names.arn, "ResultWriterDetails": {"Bucket": "items", "Key": format!("{folder}/manifest.json")}})
    );
    let read = |name: &str| -> Value {
        let path = root.path().join("items").join(&folder).join(name);
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let manifest = read("manifest.json");
    assert_eq!(manifest["DestinationBucket"], json!("items"));
    assert_eq!(manifest["MapRunArn"], json!(names.arn));
    assert_eq!(manifest["ResultFiles"]["PENDING"], json!([]));
    let succeeded_key = format!("{folder}/SUCCEEDED_0.json");
    let listed = &manifest["ResultFiles"]["SUCCEEDED"][0];
    assert_eq!(listed["Key"], json!(succeeded_key));
    let size = std::fs::metadata(root.path().join("items").join(&succeeded_key))
        .unwrap()
        .len();
    assert_eq!(listed["Size"], json!(size));

    let succeeded = read("SUCCEEDED_0.json");
    let mut inputs: Vec<Value> = succeeded
        .as_array()
        .unwrap()
        .iter()
        .map(|record| {
            assert_eq!(record["Status"], json!("SUCCEEDED"));
            assert_eq!(
                record["StateMachineArn"],
                json!(names.child_state_machine_arn)
            );
            let name = record["Name"].as_str().unwrap();
            assert!(record["ExecutionArn"].as_str().unwrap().ends_with(name));
            assert_eq!(record["InputDetails"], json!({"Included": true}));
            assert_eq!(record["RedriveStatus"], json!("NOT_REDRIVABLE"));
            let input: Value = serde_json::from_str(record["Input"].as_str().unwrap()).unwrap();
            let output: Value = serde_json::from_str(record["Output"].as_str().unwrap()).unwrap();
            assert_eq!(output, json!({"doubled": input.as_u64().unwrap() * 2}));
            let start =
                DateTime::parse_from_rfc3339(record["StartDate"].as_str().unwrap()).unwrap();
            let stop = DateTime::parse_from_rfc3339(record["StopDate"].as_str().unwrap()).unwrap();
            assert_eq!((stop - start).num_seconds(), 1);
            input
        })
        .collect();
    inputs.sort_by_key(|i| i.as_u64());
    assert_eq!(inputs, [json!(0), json!(1), json!(2)]);
    let failed = read("FAILED_0.json");
    assert_eq!(failed.as_array().unwrap().len(), 1);
    assert_eq!(failed[0]["Status"], json!("FAILED"));
    assert_eq!(failed[0]["Error"], json!("Item.Failed"));
    assert_eq!(failed[0]["Cause"], json!("item 3"));
    assert!(failed[0].get("Output").is_none());
}

#[tokio::test]
async fn an_empty_prefix_puts_the_results_at_the_buckets_top_and_a_missing_bucket_fails() {
    let (_root, store) = store_with(&[]).await;
    let names = MapRunNames::new(&spec(), None, 5);
    let at_top = ResultDestination {
        bucket: "items".into(),
        prefix: String::new(),
    };
    let written = write_results(&store, &at_top, &names, ResultRecords::default())
        .await
        .unwrap();
    assert_eq!(
        written.output["ResultWriterDetails"]["Key"],
        json!(format!("{}/manifest.json", names.id))
    );
    let nowhere = ResultDestination {
        bucket: "no-bucket".into(),
        prefix: "p".into(),
    };
    let error = write_results(&store, &nowhere, &names, ResultRecords::default())
        .await
        .err()
        .unwrap();
    assert_eq!(error.error, RESULT_WRITER_FAILED);
}
