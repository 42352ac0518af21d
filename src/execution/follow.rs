//! Looking at an execution once (DescribeExecution + the new history events + DescribeMapRun) and
//! following it until it ends: polls back off from 200 ms to 5 s, throttling only slows them
//! down, and a progress bar on a terminal shows the Map's chunks as they finish.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::history::{self, HistoryTally};
use super::report::{ExecutionReport, Status, duration_ms, rfc3339};
use super::resolve::{self, Throttled, throttled_or};
use crate::aws::AwsClients;

const FIRST_POLL: Duration = Duration::from_millis(200);
const LONGEST_POLL: Duration = Duration::from_secs(5);
/// How long to wait at most between two attempts while AWS throttles us.
const LONGEST_THROTTLED_WAIT: Duration = Duration::from_secs(30);
/// Consecutive throttled polls before giving up.
const MAX_THROTTLED_POLLS: u32 = 20;

/// Looks at one execution, remembering the history read so far.
pub struct ExecutionWatch<'a> {
    aws: &'a AwsClients,
    execution_arn: String,
    tally: HistoryTally,
}

impl<'a> ExecutionWatch<'a> {
    pub fn new(aws: &'a AwsClients, execution_arn: impl Into<String>) -> Self {
        Self {
            aws,
            execution_arn: execution_arn.into(),
            tally: HistoryTally::default(),
        }
    }

    pub fn current_state(&self) -> Option<&str> {
        self.tally.current_state()
    }

    /// The execution as it is now. Describes it before reading the history, so once the status
    /// says it ended, the history read after it is complete.
    pub async fn observe(&mut self) -> anyhow::Result<ExecutionReport> {
        let described = resolve::describe_execution(self.aws, &self.execution_arn).await?;
        history::read_new_events(&self.aws.sfn, &self.execution_arn, &mut self.tally)
            .await
            .map_err(|err| throttled_or(&err, self.aws.fail(&err, "GetExecutionHistory")))?;
        let map_runs: Vec<String> = self.tally.map_run_arns().map(str::to_owned).collect();
        for arn in map_runs {
            let run = self
                .aws
                .sfn
                .describe_map_run()
                .map_run_arn(&arn)
                .send()
                .await
                .map_err(|err| throttled_or(&err, self.aws.fail(&err, "DescribeMapRun")))?;
            if let Some(counts) = run.item_counts() {
                self.tally.set_map_run_counts(&arn, counts);
            }
        }

        let status = Status::from_sdk(described.status())?;
        let failed = matches!(status, Status::Failed | Status::TimedOut | Status::Aborted);
        let (history_error, history_cause) = self.tally.failure_error_and_cause();
        let error = failed
            .then(|| described.error().or(history_error).map(str::to_owned))
            .flatten();
        let cause = failed
            .then(|| described.cause().or(history_cause).map(str::to_owned))
            .flatten();
        Ok(ExecutionReport {
            status,
            execution_arn: described.execution_arn().to_owned(),
            name: described.name().map(str::to_owned).unwrap_or_else(|| {
                self.execution_arn
                    .rsplit(':')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            }),
            state_machine_arn: described.state_machine_arn().to_owned(),
            release_arn: described.state_machine_version_arn().map(str::to_owned),
            start: rfc3339(described.start_date()),
            stop: described.stop_date().map(rfc3339),
            duration_ms: described
                .stop_date()
                .and_then(|stop| duration_ms(described.start_date(), stop)),
            map_iterations: self.tally.map_iterations(),
            output: described
                .output()
                .map(|text| serde_json::from_str(text).unwrap_or_else(|_| text.into())),
            error,
            cause,
            failed_state: failed
                .then(|| self.tally.failed_state().map(str::to_owned))
                .flatten(),
        })
    }
}

/// Polls until the execution ends and returns its final report.
pub async fn follow(
    observer: &mut ExecutionWatch<'_>,
    progress: &ExecutionProgress,
) -> anyhow::Result<ExecutionReport> {
    let mut delay = FIRST_POLL;
    let mut throttled_polls = 0;
    loop {
        match observer.observe().await {
            Ok(report) => {
                throttled_polls = 0;
                progress.show(&report, observer.current_state());
                if report.status.has_ended() {
                    progress.finish();
                    return Ok(report);
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(LONGEST_POLL);
            }
            Err(err) if err.is::<Throttled>() && throttled_polls < MAX_THROTTLED_POLLS => {
                throttled_polls += 1;
                delay = (delay * 2).min(LONGEST_THROTTLED_WAIT);
                tokio::time::sleep(delay).await;
            }
            Err(err) => {
                progress.finish();
                return Err(err);
            }
        }
    }
}

/// The progress bar: drawn on stderr when it is a terminal, hidden otherwise (CI logs, pipes).
pub struct ExecutionProgress {
    bar: ProgressBar,
}

impl ExecutionProgress {
    pub fn on_stderr() -> Self {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .expect("the spinner template is valid"),
        );
        Self { bar }
    }

    fn show(&self, report: &ExecutionReport, current_state: Option<&str>) {
        let it = report.map_iterations;
        let state = current_state.unwrap_or("starting");
        if it.total > 0 {
            if self.bar.length().is_none() {
                self.bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} chunks {msg}",
                    )
                    .expect("the bar template is valid")
                    .progress_chars("=> "),
                );
            }
            self.bar.set_length(it.total);
            self.bar.set_position(it.done());
            self.bar
                .set_message(format!("({} failed) {state}", it.failed));
        } else {
            self.bar
                .set_message(format!("{} {state}", report.status.as_str()));
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
