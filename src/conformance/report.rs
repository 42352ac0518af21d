//! What `conformance` shows: per case file the cases, passed, failed and unsupported counts, the
//! pass rate (passed / (passed + failed)), the causes matched of those compared, and the passing
//! cases whose Lambda payloads were checked and differ; each failure's expected and actual
//! outcome, each payload difference; as aligned text for people or one JSON document for scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use super::case::Outcome;
use super::compare::{PayloadDifference, compact, truncate};

/// The results of one case file.
#[derive(Debug, Default, Serialize)]
pub struct FileReport {
    pub file: String,
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub unsupported: usize,
    /// Why cases are unsupported: how many cases use each feature the runner refuses.
    pub unsupported_features: BTreeMap<String, usize>,
    pub failures: Vec<Failure>,
    /// Causes compared softly (never failing a case), and how many matched.
    pub causes_compared: u32,
    pub causes_matched: u32,
    /// Passing cases whose stubs had recorded payloads to check the runner's calls against.
    pub payloads_checked: usize,
    /// The passing cases among them whose payloads differ (soft: they still pass).
    pub payload_mismatches: Vec<PayloadMismatch>,
}

/// A passing case whose stubs were sent payloads other than the recorded ones.
#[derive(Debug, Serialize)]
pub struct PayloadMismatch {
    pub id: String,
    #[serde(flatten)]
    pub difference: PayloadDifference,
}

/// A case whose outcome differs from AWS's.
#[derive(Debug, Serialize)]
pub struct Failure {
    pub id: String,
    pub expected: Outcome,
    pub actual: Actual,
    /// Where the outcomes first differ.
    #[serde(skip)]
    pub difference: String,
}

/// What the runner did with a failed case.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Actual {
    Ended(Outcome),
    /// It could not read a definition that AWS ran: `{"refused": why}`.
    Refused {
        refused: String,
    },
}

impl FileReport {
    /// Passed / (passed + failed), in percent; `None` when every case is unsupported.
    pub fn pass_rate(&self) -> Option<f64> {
        let ran = self.passed + self.failed;
        (ran > 0).then(|| self.passed as f64 * 100.0 / ran as f64)
    }

    /// Whether the pass rate is under `min` percent.
    pub fn is_below(&self, min: f64) -> bool {
        self.pass_rate().is_some_and(|rate| rate < min)
    }
}

/// Every file's results, in the order the files were given.
#[derive(Debug, Serialize)]
pub struct Report {
    pub files: Vec<FileReport>,
}

impl Report {
    /// The table, the failures and the soft cause count.
    pub fn text(&self) -> String {
        let width = self
            .files
            .iter()
            .map(|file| file.file.chars().count())
            .max()
            .unwrap_or(0)
            .max("file".len());
        let mut out = format!(
            "{:<width$}  {:>6}  {:>6}  {:>6}  {:>11}  {:>9}  {:>9}  {:>16}\n",
            "file",
            "cases",
            "passed",
            "failed",
            "unsupported",
            "pass rate",
            "causes",
            "payloads differ"
        );
        for file in &self.files {
            let rate = file.pass_rate().map_or_else(|| "-".to_owned(), shown_rate);
            let causes = format!("{}/{}", file.causes_matched, file.causes_compared);
            let payloads = format!(
                "{}/{}",
                file.payload_mismatches.len(),
                file.payloads_checked
            );
            let _ = writeln!(
                out,
                "{:<width$}  {:>6}  {:>6}  {:>6}  {:>11}  {:>9}  {:>9}  {:>16}",
                file.file,
                file.total,
                file.passed,
                file.failed,
                file.unsupported,
                rate,
                causes,
                payloads
            );
        }
        for file in self.files.iter().filter(|file| file.unsupported > 0) {
            let _ = writeln!(out, "\nunsupported in {}:", file.file);
            for (feature, cases) in &file.unsupported_features {
                let _ = writeln!(out, "  {cases:>5}  {feature}");
            }
        }
        for file in self.files.iter().filter(|file| !file.failures.is_empty()) {
            let _ = writeln!(out, "\nfailures in {}:", file.file);
            for failure in &file.failures {
                let _ = writeln!(out, "  {}", failure.id);
                let _ = writeln!(out, "    expected: {}", outcome_line(&failure.expected));
                let _ = writeln!(out, "    actual:   {}", actual_line(&failure.actual));
                let _ = writeln!(out, "    {}", failure.difference);
            }
        }
        for file in self
            .files
            .iter()
            .filter(|f| !f.payload_mismatches.is_empty())
        {
            let _ = writeln!(
                out,
                "\npasses whose Lambda payloads differ in {}:",
                file.file
            );
            for mismatch in &file.payload_mismatches {
                let shown = |payload: &Option<Value>, none: &str| {
                    payload
                        .as_ref()
                        .map_or_else(|| none.to_owned(), |p| compact(p, 300))
                };
                let difference = &mismatch.difference;
                let _ = writeln!(out, "  {} ({})", mismatch.id, difference.function);
                let _ = writeln!(
                    out,
                    "    expected: {}",
                    shown(&difference.expected, "(no further call)")
                );
                let _ = writeln!(
                    out,
                    "    actual:   {}",
                    shown(&difference.actual, "(no such call)")
                );
            }
        }
        let (compared, matched) = self.files.iter().fold((0, 0), |(c, m), file| {
            (c + file.causes_compared, m + file.causes_matched)
        });
        let (checked, differ) = self.files.iter().fold((0, 0), |(c, d), file| {
            (c + file.payloads_checked, d + file.payload_mismatches.len())
        });
        let _ = writeln!(
            out,
            "\ncauses: {matched} of {compared} match AWS's text (compared softly: a different cause never fails a case)"
        );
        let _ = writeln!(
            out,
            "payloads: {differ} of {checked} passing cases with recorded Lambda payloads sent other payloads (passes whose Lambda payloads differ; soft)"
        );
        out
    }

    pub fn json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a report always serializes");
        text.push('\n');
        text
    }
}

/// A pass rate rounded down to one decimal, so that only 100 % shows as `100.0%`.
fn shown_rate(rate: f64) -> String {
    format!("{:.1}%", (rate * 10.0).floor() / 10.0)
}

/// One line for an outcome: the status, then the output or the error and cause.
fn outcome_line(outcome: &Outcome) -> String {
    let mut line = outcome.status.to_string();
    if let Some(output) = &outcome.output {
        let _ = write!(line, " {}", compact(output, 300));
    }
    if outcome.output.is_none() {
        let _ = write!(
            line,
            " {}",
            outcome.error.as_deref().unwrap_or("(no error name)")
        );
        if let Some(cause) = &outcome.cause {
            let cause = match cause {
                Value::String(text) => truncate(text, 200),
                other => compact(other, 200),
            };
            let _ = write!(line, ": {cause}");
        }
    }
    line
}

fn actual_line(actual: &Actual) -> String {
    match actual {
        Actual::Ended(outcome) => outcome_line(outcome),
        Actual::Refused { refused } => format!("refused: {}", truncate(refused, 300)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::case::Status;
    use serde_json::json;

    fn file(passed: usize, failed: usize, unsupported: usize) -> FileReport {
        FileReport {
            file: "cases.jsonl".into(),
            total: passed + failed + unsupported,
            passed,
            failed,
            unsupported,
            ..FileReport::default()
        }
    }

    #[test]
    fn the_pass_rate_leaves_unsupported_cases_out() {
        assert_eq!(file(3, 1, 6).pass_rate(), Some(75.0));
        assert_eq!(file(0, 0, 2).pass_rate(), None);
        assert!(!file(0, 0, 2).is_below(100.0));
        assert!(file(1999, 1, 0).is_below(100.0));
        assert_eq!(shown_rate(file(1999, 1, 0).pass_rate().unwrap()), "99.9%");
    }

    #[test]
    fn the_text_has_a_row_per_file_and_each_failure_with_both_outcomes() {
        let mut report = file(1, 1, 1);
        report.unsupported_features.insert(
            "the resource `arn:aws:states:::sqs:sendMessage` cannot run locally".into(),
            1,
        );
        report.failures.push(Failure {
            id: "case-7".into(),
            expected: Outcome {
                status: Status::Failed,
                output: None,
                error: Some("States.Runtime".into()),
                cause: Some(json!("bad path")),
            },
            actual: Actual::Ended(Outcome {
                status: Status::Succeeded,
                output: Some(json!({"a": 1})),
                error: None,
                cause: None,
            }),
            difference: "status: expected FAILED, actual SUCCEEDED".into(),
        });
        report.causes_compared = 2;
        report.causes_matched = 1;
        report.payloads_checked = 1;
        report.payload_mismatches.push(PayloadMismatch {
            id: "case-3".into(),
            difference: PayloadDifference {
                function: "stubfn".into(),
                expected: Some(json!({"n": 1})),
                actual: None,
            },
        });
        let report = Report {
            files: vec![report],
        };
        let (text, report_json) = (report.text(), report.json());
        assert!(
            text.contains(
                "cases.jsonl       3       1       1            1      50.0%        1/2               1/1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "passes whose Lambda payloads differ in cases.jsonl:\n  case-3 (stubfn)\n    expected: {\"n\":1}\n    actual:   (no such call)"
            ),
            "{text}"
        );
        assert!(
            text.contains("\ncauses: 1 of 2 match") && text.contains("\npayloads: 1 of 1 "),
            "{text}"
        );
        let json: Value = serde_json::from_str(&report_json).unwrap();
        let file = &json["files"][0];
        assert_eq!(
            (&file["causes_matched"], &file["causes_compared"]),
            (&json!(1), &json!(2))
        );
        assert_eq!(file["payloads_checked"], json!(1));
        assert_eq!(
            file["payload_mismatches"][0],
            json!({"id": "case-3", "function": "stubfn", "expected": {"n": 1}, "actual": null})
        );
        assert!(
            text.contains("expected: FAILED States.Runtime: bad path"),
            "{text}"
        );
        assert!(text.contains("actual:   SUCCEEDED {\"a\":1}"), "{text}");
        assert!(
            text.contains(
                "unsupported in cases.jsonl:\n      1  the resource `arn:aws:states:::sqs:sendMessage` cannot run locally"
            ),
            "{text}"
        );
    }
}
