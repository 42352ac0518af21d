//! The case format of recorded executions (the shared set's `FORMAT.md`): one JSON object per
//! line, each a definition, an input, what AWS returned, and the Lambda stubs and S3 objects the
//! execution needs. Reading checks every field the command relies on, so a malformed case is one
//! error naming its file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;
use serde_json::{Map, Value};

/// How long an invocation lasts on the virtual clock when a case does not say.
const DEFAULT_INVOCATION_MS: u64 = 100;

/// One recorded execution.
#[derive(Debug)]
pub struct Case {
    pub id: String,
    /// The ASL definition, as JSON text (read by the runner, which may refuse it).
    pub definition: String,
    pub input: Value,
    pub expected: Outcome,
    /// Stub functions by function name.
    pub functions: BTreeMap<String, RecordedFunction>,
    /// This case's redaction names (see [`super::compare::Wildcards`]).
    pub wildcards: Vec<String>,
    pub invocation_time: Duration,
    /// `(bucket, key, body)` of every object that exists when the execution starts.
    pub s3_objects: Vec<(String, String, String)>,
    /// Every bucket that exists, the buckets of `s3_objects` included.
    pub s3_buckets: Vec<String>,
}

/// How an execution ends, as AWS records it (the case's `expected`) or as the runner ended it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Outcome {
    pub status: Status,
    /// The output of a `SUCCEEDED` execution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// The error name; `None` when there is none (AWS's `null` and `""` alike).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The cause: a string, or the parsed object where AWS's cause text was JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::TimedOut => "TIMED_OUT",
            Self::Aborted => "ABORTED",
        })
    }
}

/// A stub function: the invocations AWS recorded for it, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordedFunction {
    pub invocations: Vec<RecordedInvocation>,
}

/// One recorded invocation: the payload AWS sent (when recorded) and what the function did.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedInvocation {
    pub payload: Option<Value>,
    pub response: Response,
}

/// What a stub does when invoked.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub enum Response {
    /// Returns this value.
    Returns(Value),
    /// Raises this error.
    Raises(RaisedError),
    /// Returns its payload.
    Echoes,
    /// Returns a string of this many `a` characters.
    ReturnsBig(usize),
}

/// A function error: `errorType`, `errorMessage` and, when recorded, AWS's exact Cause text.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RaisedError {
    #[serde(rename = "type")]
    pub error_type: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub cause: Option<String>,
}

impl TryFrom<Map<String, Value>> for Response {
    type Error = String;

    fn try_from(mut fields: Map<String, Value>) -> Result<Self, String> {
        let kinds = ["ok", "err", "echo", "big"];
        let given: Vec<&str> = kinds
            .into_iter()
            .filter(|kind| fields.contains_key(*kind))
            .collect();
        let [kind] = given.as_slice() else {
            return Err(format!(
                "a response needs exactly one of `ok`, `err`, `echo`, `big`, got {}",
                Value::Object(fields)
            ));
        };
        let value = fields.remove(*kind).expect("present");
        let invalid = |what: &str| format!("`{kind}` must be {what}");
        match *kind {
            "ok" => Ok(Self::Returns(value)),
            "err" => serde_json::from_value(value)
                .map(Self::Raises)
                .map_err(|e| invalid(&format!("{{\"type\", \"message\", \"cause\"}} ({e})"))),
            "echo" => Ok(Self::Echoes),
            _ => {
                let length = value
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| invalid("a non-negative integer"))?;
                // Lambda itself refuses a longer response, so AWS cannot have recorded one; and
                // replaying it would build the whole string in memory.
                let longest = asl::limits::LAMBDA_RESPONSE_BYTES - 2;
                if length > longest {
                    return Err(format!(
                        "`big` is {length} characters, more than a Lambda function can return (a response of at most {} bytes, {longest} characters in a JSON string); record the function's error with `err` instead",
                        asl::limits::LAMBDA_RESPONSE_BYTES
                    ));
                }
                Ok(Self::ReturnsBig(length))
            }
        }
    }
}

/// A case line as written.
#[derive(Deserialize)]
struct CaseLine {
    id: String,
    definition: String,
    input: String,
    expected: ExpectedLine,
    #[serde(default)]
    functions: BTreeMap<String, FunctionLine>,
    #[serde(default)]
    wildcards: Vec<String>,
    #[serde(default)]
    invocation_ms: Option<u64>,
    #[serde(default)]
    s3_objects: BTreeMap<String, String>,
    #[serde(default)]
    s3_buckets: Vec<String>,
}

#[derive(Deserialize)]
struct ExpectedLine {
    status: Status,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    cause: Option<Value>,
}

#[derive(Deserialize)]
struct FunctionLine {
    #[serde(default)]
    responses: Vec<Response>,
    #[serde(default)]
    by_payload: Vec<(Value, Response)>,
}

impl TryFrom<CaseLine> for Case {
    type Error = String;

    fn try_from(line: CaseLine) -> Result<Self, String> {
        let input = serde_json::from_str(&line.input)
            .map_err(|e| format!("`input` is not JSON text ({e})"))?;
        let output = match (line.expected.status, &line.expected.output) {
            (Status::Succeeded, Some(text)) => Some(
                serde_json::from_str(text)
                    .map_err(|e| format!("`expected.output` is not JSON text ({e})"))?,
            ),
            (Status::Succeeded, None) => {
                return Err("a SUCCEEDED case needs `expected.output`".into());
            }
            (_, _) => None,
        };
        let expected = Outcome {
            status: line.expected.status,
            output,
            error: line.expected.error.filter(|name| !name.is_empty()),
            cause: line.expected.cause.filter(|cause| !cause.is_null()),
        };
        let functions = line
            .functions
            .into_iter()
            .map(|(name, function)| {
                let invocations = function
                    .responses
                    .into_iter()
                    .enumerate()
                    .map(|(at, response)| RecordedInvocation {
                        payload: function
                            .by_payload
                            .get(at)
                            .map(|(payload, _)| payload.clone()),
                        response,
                    })
                    .collect();
                (name, RecordedFunction { invocations })
            })
            .collect();
        let mut s3_objects = Vec::with_capacity(line.s3_objects.len());
        let mut s3_buckets = line.s3_buckets;
        for (location, body) in line.s3_objects {
            let (bucket, key) = location
                .split_once('/')
                .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
                .ok_or_else(|| format!("the s3_objects key `{location}` is not BUCKET/KEY"))?;
            if !s3_buckets.iter().any(|known| known == bucket) {
                s3_buckets.push(bucket.to_owned());
            }
            s3_objects.push((bucket.to_owned(), key.to_owned(), body));
        }
        Ok(Self {
            id: line.id,
            definition: line.definition,
            input,
            expected,
            functions,
            wildcards: line.wildcards,
            invocation_time: Duration::from_millis(
                line.invocation_ms.unwrap_or(DEFAULT_INVOCATION_MS),
            ),
            s3_objects,
            s3_buckets,
        })
    }
}

/// The cases of one file, in order.
#[derive(Debug)]
pub struct CaseFile {
    pub path: PathBuf,
    pub cases: Vec<Case>,
}

impl CaseFile {
    /// Reads every case of `path`; blank lines are skipped.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the case file {}; pass files or directories of *.jsonl cases",
                path.display()
            )
        })?;
        Self::parse(path, &text)
    }

    /// The cases of `text`, read from `path`.
    pub fn parse(path: &Path, text: &str) -> anyhow::Result<Self> {
        let mut cases = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let case = serde_json::from_str::<CaseLine>(line)
                .map_err(|e| e.to_string())
                .and_then(Case::try_from)
                .map_err(|problem| {
                    anyhow::anyhow!(
                        "{}:{}: not a conformance case: {problem}; see the case format (FORMAT.md)",
                        path.display(),
                        index + 1
                    )
                })?;
            cases.push(case);
        }
        Ok(Self {
            path: path.to_owned(),
            cases,
        })
    }
}

/// The case files that `paths` name: files as given, and the `*.jsonl` files of directories
/// (sorted by name).
pub fn case_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path)
            .with_context(|| format!("cannot list the directory {}", path.display()))?;
        let mut found = Vec::new();
        for entry in entries {
            let file = entry
                .with_context(|| format!("cannot list the directory {}", path.display()))?
                .path();
            if file.extension().is_some_and(|ext| ext == "jsonl") {
                found.push(file);
            }
        }
        anyhow::ensure!(
            !found.is_empty(),
            "the directory {} holds no *.jsonl case file",
            path.display()
        );
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(lines: &[Value]) -> anyhow::Result<CaseFile> {
        let text: Vec<String> = lines.iter().map(Value::to_string).collect();
        CaseFile::parse(Path::new("cases.jsonl"), &text.join("\n\n"))
    }

    fn minimal() -> Value {
        json!({"id": "c", "definition": "{}", "input": "{\"a\": 1}",
               "expected": {"status": "SUCCEEDED", "output": "[1.0]"}})
    }

    #[test]
    fn a_case_reads_with_its_defaults_and_parsed_json() {
        let file = parse(&[minimal()]).unwrap();
        let case = &file.cases[0];
        assert_eq!(case.input, json!({"a": 1}));
        assert_eq!(case.expected.output, Some(json!([1.0])));
        assert_eq!(case.invocation_time, Duration::from_millis(100));
        assert!(case.functions.is_empty() && case.s3_buckets.is_empty());
    }

    #[test]
    fn stubs_pair_each_response_with_its_payload_and_objects_create_their_buckets() {
        let mut line = minimal();
        line["functions"] = json!({"f": {
            "responses": [{"ok": 1}, {"err": {"type": "E", "message": "m"}}, {"echo": true}, {"big": 3}],
            "by_payload": [[{"p": 0}, {"ok": 1}]],
            "handler": "ignored.py"}});
        line["s3_objects"] = json!({"b/k/x.csv": "a,b"});
        line["s3_buckets"] = json!(["empty"]);
        line["expected"] = json!({"status": "FAILED", "error": "", "cause": null});
        let case = &parse(&[line]).unwrap().cases[0];
        let invocations = &case.functions["f"].invocations;
        assert_eq!(invocations[0].payload, Some(json!({"p": 0})));
        assert_eq!(invocations[1].payload, None);
        assert_eq!(
            invocations[1].response,
            Response::Raises(RaisedError {
                error_type: "E".into(),
                message: "m".into(),
                cause: None
            })
        );
        assert_eq!(invocations[2].response, Response::Echoes);
        assert_eq!(invocations[3].response, Response::ReturnsBig(3));
        assert_eq!(case.s3_buckets, ["empty", "b"]);
        assert_eq!(
            case.s3_objects,
            [("b".into(), "k/x.csv".into(), "a,b".into())]
        );
        assert_eq!((&case.expected.error, &case.expected.cause), (&None, &None));
    }

    fn big(length: u64) -> Value {
        let mut line = minimal();
        line["functions"] = json!({"f": {"responses": [{"big": length}]}});
        line
    }

    #[test]
    fn a_big_response_up_to_lambdas_limit_reads_as_recorded() {
        for length in [263_168, 6_291_554] {
            let case = &parse(&[big(length)]).unwrap().cases[0];
            assert_eq!(
                case.functions["f"].invocations[0].response,
                Response::ReturnsBig(length as usize)
            );
        }
    }

    #[test]
    fn a_malformed_case_names_its_file_and_line() {
        let mut no_output = minimal();
        no_output["expected"] = json!({"status": "SUCCEEDED"});
        let mut two_kinds = minimal();
        two_kinds["functions"] = json!({"f": {"responses": [{"ok": 1, "echo": true}]}});
        for (bad, needle) in [
            (json!({"id": "x"}), "missing field"),
            (no_output, "needs `expected.output`"),
            (two_kinds, "exactly one of"),
            (
                big(100_000_000_000),
                "`big` is 100000000000 characters, more than a Lambda function can return (a response of at most 6291556 bytes",
            ),
            (big(6_291_555), "`big` is 6291555 characters"),
        ] {
            let error = parse(&[minimal(), bad]).unwrap_err().to_string();
            assert!(error.starts_with("cases.jsonl:3: "), "{error}");
            assert!(error.contains(needle), "{error}");
        }
    }
}
