//! `conformance`: runs Step Functions executions that AWS really ran (recorded cases, one JSON
//! object per line) in the local runner and compares each outcome with AWS's.
//!
//! - [`case`]: the case format, read and checked.
//! - [`replay`]: stub Lambda functions replaying the recorded invocations.
//! - [`execute`]: the seam with the runner: runs one case, returns its outcome.
//! - [`compare`]: status, output (with redaction wildcards), error name; causes and the payloads
//!   sent to the stubs softly.
//! - [`report`]: the table per file and the failures, as text or JSON.
//!
//! A case the runner cannot run (a feature it refuses, such as a non-Lambda service integration)
//! counts as unsupported, not failed. Cases run concurrently, a few per core.

pub mod case;
pub mod compare;
pub mod execute;
pub mod replay;
pub mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use futures::StreamExt;

use crate::output::{self, OutputArgs, OutputFormat};
use case::{Case, CaseFile};
use compare::{PayloadCheck, Verdict, Wildcards};
use execute::CaseRun;
use report::{Actual, Failure, FileReport, PayloadMismatch, Report};

/// Run recorded Step Functions executions in the local runner and compare with AWS's outcomes.
#[derive(clap::Args, Debug)]
pub struct ConformanceArgs {
    /// Case files (`*.jsonl`, one recorded execution per line), or directories of them.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Exit 1 when a file's pass rate (passed / (passed + failed)) is under this percentage.
    #[arg(long, value_name = "PCT", default_value_t = 100.0, value_parser = percentage)]
    pub min_pass_rate: f64,
    /// Start every execution at this moment (RFC 3339, e.g. `2026-11-30T09:57:13Z`) instead of
    /// now: the moment the recordings' clock-derived inputs (a Wait's "now + N days") were
    /// computed, so that they are replayed as AWS ran them.
    #[arg(long, value_name = "TIME", value_parser = moment)]
    pub start_time: Option<DateTime<Utc>>,
    #[command(flatten)]
    pub output: OutputArgs,
}

fn moment(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| format!("`{text}` is not an RFC 3339 time such as 2026-11-30T09:57:13Z"))
}

fn percentage(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|pct| (0.0..=100.0).contains(pct))
        .ok_or_else(|| format!("`{text}` is not a percentage from 0 to 100"))
}

pub async fn main(args: ConformanceArgs) -> anyhow::Result<ExitCode> {
    let report = check(&args.paths, args.start_time).await?;
    output::to_stdout(&match args.output.format {
        OutputFormat::Text => report.text(),
        OutputFormat::Json => report.json(),
    })?;
    let below: Vec<&str> = report
        .files
        .iter()
        .filter(|file| file.is_below(args.min_pass_rate))
        .map(|file| file.file.as_str())
        .collect();
    if below.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "conformance: the pass rate of {} is under --min-pass-rate {}",
        below.join(", "),
        args.min_pass_rate
    );
    Ok(ExitCode::FAILURE)
}

/// Reads every case file of `paths` (all of them before running any case) and checks every case.
pub async fn check(paths: &[PathBuf], start_time: Option<DateTime<Utc>>) -> anyhow::Result<Report> {
    let files = case::case_files(paths)?
        .iter()
        .map(|path| CaseFile::read(path))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut reports = Vec::with_capacity(files.len());
    let mut cases = Vec::new();
    for (at, file) in files.into_iter().enumerate() {
        reports.push(FileReport {
            file: file.path.display().to_string(),
            total: file.cases.len(),
            ..FileReport::default()
        });
        cases.extend(file.cases.into_iter().map(|case| (at, case)));
    }
    let concurrency = std::thread::available_parallelism().map_or(2, |n| n.get()) * 4;
    let mut results = futures::stream::iter(cases)
        .map(|(at, case)| async move { (at, tokio::spawn(check_case(case, start_time)).await) })
        .buffered(concurrency);
    while let Some((at, checked)) = results.next().await {
        let report = &mut reports[at];
        match checked?? {
            Checked::Unsupported(feature) => {
                report.unsupported += 1;
                *report.unsupported_features.entry(feature).or_default() += 1;
            }
            Checked::Compared {
                verdict,
                failure,
                payloads,
            } => {
                report.causes_compared += verdict.causes_compared;
                report.causes_matched += verdict.causes_matched;
                match failure {
                    None => {
                        report.passed += 1;
                        // Payloads are counted for passing cases only: a failure already
                        // shows its difference.
                        match *payloads {
                            (_, PayloadCheck::Unchecked) => {}
                            (_, PayloadCheck::Same) => report.payloads_checked += 1,
                            (id, PayloadCheck::Differs(difference)) => {
                                report.payloads_checked += 1;
                                report
                                    .payload_mismatches
                                    .push(PayloadMismatch { id, difference });
                            }
                        }
                    }
                    Some(failure) => {
                        report.failed += 1;
                        report.failures.push(*failure);
                    }
                }
            }
        }
    }
    Ok(Report { files: reports })
}

/// What checking one case found.
enum Checked {
    /// The runner does not support this feature the case uses.
    Unsupported(String),
    Compared {
        verdict: Verdict,
        failure: Option<Box<Failure>>,
        /// The case's id and how the payloads sent to its stubs compare with AWS's.
        payloads: Box<(String, PayloadCheck)>,
    },
}

async fn check_case(case: Case, start_time: Option<DateTime<Utc>>) -> anyhow::Result<Checked> {
    let mut payloads = PayloadCheck::Unchecked;
    let (verdict, actual) = match execute::run_case(&case, start_time).await? {
        CaseRun::Unsupported(feature) => return Ok(Checked::Unsupported(feature)),
        CaseRun::Refused(why) => {
            let verdict = Verdict {
                difference: Some("the runner cannot read a definition that AWS ran".into()),
                ..Verdict::default()
            };
            (verdict, Actual::Refused { refused: why })
        }
        CaseRun::Ended(outcome, sent) => {
            let wildcards = Wildcards::new(&case.wildcards);
            let verdict = compare::compare(&case.expected, &outcome, &wildcards);
            payloads = compare::check_payloads(&case.functions, &sent, &wildcards);
            (verdict, Actual::Ended(outcome))
        }
    };
    let id = case.id.clone();
    let failure = verdict.difference.clone().map(|difference| {
        Box::new(Failure {
            id: case.id,
            expected: case.expected,
            actual,
            difference,
        })
    });
    Ok(Checked::Compared {
        verdict,
        failure,
        payloads: Box::new((id, payloads)),
    })
}
