//! `cm-etl conformance` from outside: the hand-written cases of `tests/fixtures/conformance/`
//! (one file per class of behaviour, written from AWS's documented and recorded behaviour) all
//! pass; a pass rate under `--min-pass-rate` exits 1 and shows each failure; a malformed case
//! or an unreadable path exits 2 with one line naming it.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

const FIXTURES: &str = "tests/fixtures/conformance";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn conformance(args: &[&str]) -> Output {
    assert_cmd::Command::cargo_bin("cm-etl")
        .unwrap()
        .arg("conformance")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A case file of `cases` in a temporary directory.
fn case_file(cases: &[Value]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.jsonl");
    let lines: Vec<String> = cases.iter().map(Value::to_string).collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    (dir, path)
}

/// A case whose Pass state outputs `{"n": 2}`, expected to output `expected`.
fn pass_case(id: &str, expected: Value) -> Value {
    let definition =
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"n": 2}, "End": true}}});
    json!({"id": id, "definition": definition.to_string(), "input": "{}",
           "expected": {"status": "SUCCEEDED", "output": expected.to_string()},
           "functions": {}, "wildcards": []})
}

#[test]
fn every_hand_written_case_passes_and_another_service_is_unsupported() {
    let fixtures = repo(FIXTURES);
    let output = conformance(&[fixtures.to_str().unwrap(), "--output", "json"]);
    assert!(output.status.success(), "{}", stdout(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let files = report["files"].as_array().unwrap();
    let names: Vec<&str> = files
        .iter()
        .map(|file| {
            Path::new(file["file"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        names,
        [
            "intrinsic_functions.jsonl",
            "item_reader.jsonl",
            "json_path.jsonl",
            "lambda.jsonl",
            "states.jsonl"
        ]
    );
    for file in files {
        assert_eq!(file["failed"], json!(0), "{file:#}");
        assert!(file["passed"].as_u64().unwrap() > 0, "{file:#}");
    }
    let states = &files[4];
    assert_eq!(states["unsupported"], json!(1), "the SQS task");
    assert_eq!(
        states["total"].as_u64(),
        Some(states["passed"].as_u64().unwrap() + 1)
    );
}

#[test]
fn a_pass_rate_under_the_minimum_exits_1_and_shows_expected_and_actual() {
    let (_dir, path) = case_file(&[
        pass_case("right", json!({"n": 2.0})),
        pass_case("wrong", json!({"n": 3})),
    ]);
    let path = path.to_str().unwrap();

    let output = conformance(&[path]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("mine.jsonl       2       1       1            0      50.0%"),
        "{text}"
    );
    assert!(text.contains("  wrong\n"), "{text}");
    assert!(text.contains("expected: SUCCEEDED {\"n\":3}"), "{text}");
    assert!(text.contains("actual:   SUCCEEDED {\"n\":2}"), "{text}");
    assert!(text.contains("at $.n: expected 3, actual 2"), "{text}");
    assert!(stderr(&output).contains("under --min-pass-rate 100"));

    assert_eq!(
        conformance(&[path, "--min-pass-rate", "50"]).status.code(),
        Some(0)
    );

    let output = conformance(&[path, "--output", "json", "--min-pass-rate", "50"]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let file = &report["files"][0];
    assert_eq!(
        (
            &file["total"],
            &file["passed"],
            &file["failed"],
            &file["unsupported"]
        ),
        (&json!(2), &json!(1), &json!(1), &json!(0))
    );
    let failure = &file["failures"][0];
    assert_eq!(failure["id"], json!("wrong"));
    assert_eq!(
        failure["expected"],
        json!({"status": "SUCCEEDED", "output": {"n": 3}})
    );
    assert_eq!(
        failure["actual"],
        json!({"status": "SUCCEEDED", "output": {"n": 2}})
    );
}

/// `--start-time` replays a recording at the moment its clock-derived inputs were computed:
/// `$$.Execution.StartTime` is that moment, and a Wait's timestamp is measured from it (AWS
/// refuses a delay past 2^31 - 1 seconds).
#[test]
fn start_time_is_the_executions_start_and_the_origin_of_a_waits_delay() {
    let started = json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
        "Parameters": {"at.$": "$$.Execution.StartTime"}, "End": true}}});
    let wait = json!({"StartAt": "W", "States": {"W": {"Type": "Wait",
        "TimestampPath": "$.until", "End": true}}});
    let (_dir, path) = case_file(&[
        json!({"id": "started", "definition": started.to_string(), "input": "{}",
               "expected": {"status": "SUCCEEDED",
                            "output": json!({"at": "2030-01-01T00:00:00.000Z"}).to_string()},
               "functions": {}, "wildcards": []}),
        // 2^31 seconds after 2030-01-01T00:00:00Z.
        json!({"id": "too-far", "definition": wait.to_string(),
               "input": json!({"until": "2098-01-19T03:14:08Z"}).to_string(),
               "expected": {"status": "FAILED", "error": "States.Runtime",
                            "cause": "An error occurred while executing the state 'W' (entered at the event id #2). Wait state delay is too long."},
               "functions": {}, "wildcards": []}),
    ]);
    let path = path.to_str().unwrap();
    let failed = |start: &[&str]| {
        let mut args = vec![path, "--output", "json", "--min-pass-rate", "0"];
        args.extend(start);
        let output = conformance(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        report["files"][0]["failures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|failure| failure["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(failed(&["--start-time", "2030-01-01T00:00:00Z"]).is_empty());
    assert!(failed(&["--start-time", "2030-01-01T01:00:00+01:00"]).is_empty());
    // A day later the same timestamp is within the limit: the Wait succeeds.
    assert_eq!(
        failed(&["--start-time", "2030-01-02T00:00:00Z"]),
        ["started", "too-far"]
    );
    // Without it, executions start now.
    assert_eq!(failed(&[]), ["started"]);

    let output = conformance(&[path, "--start-time", "2030-01-01"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("`2030-01-01` is not an RFC 3339 time"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_malformed_case_exits_2_with_one_line_naming_its_file_and_line() {
    let (_dir, path) = case_file(&[pass_case("fine", json!({"n": 2})), json!({"id": "half"})]);
    let output = conformance(&[path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(
        error.contains(&format!("{}:2: not a conformance case", path.display())),
        "{error}"
    );
    assert!(
        output.stdout.is_empty(),
        "nothing runs before every case is read"
    );
}

#[test]
fn an_unreadable_path_exits_2_naming_it() {
    let output = conformance(&["/nonexistent/cases.jsonl"]);
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert!(
        error.contains("cannot read the case file /nonexistent/cases.jsonl"),
        "{error}"
    );
    assert_eq!(error.lines().count(), 1, "{error}");
}
