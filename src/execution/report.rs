//! The report `start --wait` and `status` print: status, times, Map iterations, output, and where
//! and why a failure happened; as aligned text for people or JSON for scripts.

use std::fmt;

use aws_sdk_sfn::primitives::DateTime;
use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::history::MapIterations;

/// Where an execution is: running, or ended one of four ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Running,
    PendingRedrive,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl Status {
    pub fn from_sdk(status: &ExecutionStatus) -> anyhow::Result<Self> {
        Ok(match status {
            ExecutionStatus::Running => Status::Running,
            ExecutionStatus::PendingRedrive => Status::PendingRedrive,
            ExecutionStatus::Succeeded => Status::Succeeded,
            ExecutionStatus::Failed => Status::Failed,
            ExecutionStatus::TimedOut => Status::TimedOut,
            ExecutionStatus::Aborted => Status::Aborted,
            other => {
                anyhow::bail!("AWS reported an execution status this tool does not know: {other}")
            }
        })
    }

    /// Whether the execution has ended; a pending redrive has too, until someone redrives it.
    pub fn has_ended(self) -> bool {
        !matches!(self, Status::Running)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::PendingRedrive => "PENDING_REDRIVE",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
            Status::Aborted => "ABORTED",
        }
    }
}

/// One look at an execution. Serialized as the `--output json` document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecutionReport {
    pub status: Status,
    pub execution_arn: String,
    pub name: String,
    pub state_machine_arn: String,
    /// The state machine version (release) it runs on, start to finish; absent for an execution
    /// started on the unqualified state machine.
    #[serde(default)]
    pub release_arn: Option<String>,
    /// RFC 3339, UTC, milliseconds.
    pub start: String,
    pub stop: Option<String>,
    /// From start to stop; absent while running.
    pub duration_ms: Option<u64>,
    pub map_iterations: MapIterations,
    /// The execution's output as JSON (only when it succeeded).
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The state the failure happened in (the innermost one, such as a Task inside a Map).
    pub failed_state: Option<String>,
}

/// An SDK timestamp as RFC 3339 UTC with milliseconds.
pub fn rfc3339(time: &DateTime) -> String {
    chrono::DateTime::<Utc>::from_timestamp(time.secs(), time.subsec_nanos())
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| time.to_string())
}

/// Milliseconds from `start` to `stop`.
pub fn duration_ms(start: &DateTime, stop: &DateTime) -> Option<u64> {
    let (start, stop) = (start.to_millis().ok()?, stop.to_millis().ok()?);
    u64::try_from(stop - start).ok()
}

impl ExecutionReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }
}

impl fmt::Display for ExecutionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = |f: &mut fmt::Formatter<'_>, heading: &str, value: &dyn fmt::Display| {
            writeln!(f, "{heading:<14}{value}")
        };
        line(f, "execution", &self.execution_arn)?;
        line(f, "status", &self.status.as_str())?;
        if let Some(release) = &self.release_arn {
            line(f, "release", release)?;
        }
        line(f, "started", &self.start)?;
        if let Some(stop) = &self.stop {
            line(f, "stopped", stop)?;
        }
        if let Some(ms) = self.duration_ms {
            line(
                f,
                "duration",
                &format_args!("{}.{:03} s", ms / 1000, ms % 1000),
            )?;
        }
        let it = self.map_iterations;
        let running = match it.running {
            0 => String::new(),
            n => format!(", {n} running"),
        };
        line(
            f,
            "chunks",
            &format_args!(
                "{} of {} succeeded, {} failed{running} (Map iterations)",
                it.succeeded, it.total, it.failed
            ),
        )?;
        if let Some(state) = &self.failed_state {
            line(f, "failed state", state)?;
        }
        if let Some(error) = &self.error {
            line(f, "error", error)?;
        }
        if let Some(cause) = &self.cause {
            line(f, "cause", cause)?;
        }
        if let Some(output) = &self.output {
            line(f, "output", output)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_millis_and_durations_are_exact() {
        let start = DateTime::from_millis(1_764_173_600_123);
        let stop = DateTime::from_millis(1_764_173_601_160);
        assert_eq!(rfc3339(&start), "2025-11-26T16:13:20.123Z");
        assert_eq!(duration_ms(&start, &stop), Some(1037));
    }

    #[test]
    fn a_failed_report_names_state_error_and_cause() {
        let report = ExecutionReport {
            status: Status::Failed,
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:sm:e".into(),
            name: "e".into(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:sm".into(),
            release_arn: Some("arn:aws:states:us-east-1:123456789012:stateMachine:sm:3".into()),
            start: "2025-11-26T16:13:20.123Z".into(),
            stop: Some("2025-11-26T16:13:21.160Z".into()),
            duration_ms: Some(1037),
            map_iterations: MapIterations {
                succeeded: 2,
                failed: 1,
                running: 0,
                total: 3,
            },
            output: None,
            error: Some("Task02.ChunkNotFound".into()),
            cause: Some("chunk 1 is missing".into()),
            failed_state: Some("ProcessTask02Chunk".into()),
        };
        let text = report.to_string();
        assert!(text.contains("status        FAILED"), "{text}");
        assert!(
            text.contains("release       arn:aws:states:us-east-1:123456789012:stateMachine:sm:3"),
            "{text}"
        );
        assert!(text.contains("duration      1.037 s"), "{text}");
        assert!(text.contains("2 of 3 succeeded, 1 failed"), "{text}");
        assert!(text.contains("failed state  ProcessTask02Chunk"), "{text}");
        let json: ExecutionReport = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json, report);
        assert!(report.to_json().contains(r#""status": "FAILED""#));

        let running = ExecutionReport {
            status: Status::Running,
            map_iterations: MapIterations {
                succeeded: 2,
                failed: 0,
                running: 3,
                total: 5,
            },
            ..report
        };
        assert!(
            running
                .to_string()
                .contains("2 of 5 succeeded, 0 failed, 3 running"),
            "{running}"
        );
    }
}
