//! `redrive`: restarts a FAILED, TIMED_OUT or ABORTED execution from the states that did not
//! succeed (RedriveExecution). Safe for this pipeline: a failed execution keeps its chunk store
//! folder (only a successful one deletes it), and processing a chunk again replaces exactly that
//! chunk's rows. Refused, before any write, when AWS would refuse it or when the chunks may
//! already have expired.

use std::time::Duration;

use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::types::ExecutionRedriveStatus;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::report::{Status, rfc3339};
use crate::aws::AwsClients;

use asl::limits::REDRIVE_WINDOW_DAYS;
/// How long to wait for a redrive AWS accepted to show in DescribeExecution.
const RESTART_WAIT: Duration = Duration::from_secs(60);

/// What DescribeExecution says about an execution, as far as a redrive is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedriveFacts {
    pub status: Status,
    pub start: DateTime<Utc>,
    pub stop: Option<DateTime<Utc>>,
    /// `NOT_REDRIVABLE` and why, when AWS says so (older endpoints and moto say nothing).
    pub not_redrivable: Option<String>,
    pub redrive_count: i32,
}

impl RedriveFacts {
    fn of(described: &DescribeExecutionOutput) -> anyhow::Result<Self> {
        let time = |t: &aws_sdk_sfn::primitives::DateTime| {
            DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()).unwrap_or_default()
        };
        Ok(Self {
            status: Status::from_sdk(described.status())?,
            start: time(described.start_date()),
            stop: described.stop_date().map(time),
            not_redrivable: (described.redrive_status()
                == Some(&ExecutionRedriveStatus::NotRedrivable))
            .then(|| {
                described
                    .redrive_status_reason()
                    .unwrap_or("no reason given")
                    .to_owned()
            }),
            redrive_count: described.redrive_count().unwrap_or(0),
        })
    }

    /// Why `execution` must not be redriven now, or `None` when it may. `expire_after_days` is
    /// the chunk store's lifecycle rule: chunks written at the start are gone after it.
    pub fn refusal(
        &self,
        execution: &str,
        expire_after_days: u32,
        now: DateTime<Utc>,
    ) -> Option<String> {
        let start_new = "start a new execution with `cm-etl start`";
        match self.status {
            Status::Running => {
                return Some(format!(
                    "{execution} is still RUNNING: only a FAILED, TIMED_OUT or ABORTED execution can be redriven; follow it with `cm-etl status {execution} --wait`"
                ));
            }
            Status::PendingRedrive => {
                return Some(format!(
                    "{execution} is already being redriven (PENDING_REDRIVE); follow it with `cm-etl status {execution} --wait`"
                ));
            }
            Status::Succeeded => {
                return Some(format!(
                    "{execution} SUCCEEDED: there is nothing to redrive; {start_new}"
                ));
            }
            Status::Failed | Status::TimedOut | Status::Aborted => {}
        }
        let days_since = |time: DateTime<Utc>| (now - time).num_days();
        if let Some(stop) = self.stop
            && now - stop > chrono::Duration::days(REDRIVE_WINDOW_DAYS)
        {
            return Some(format!(
                "{execution} stopped at {}, {} days ago: AWS redrives an execution only within {REDRIVE_WINDOW_DAYS} days of its stop; {start_new}",
                stop.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                days_since(stop)
            ));
        }
        if let Some(reason) = &self.not_redrivable {
            return Some(format!(
                "AWS will not redrive {execution}: {reason}; {start_new}"
            ));
        }
        // S3 expires an object at the first midnight UTC after its age passes the rule's days.
        if now - self.start >= chrono::Duration::days(i64::from(expire_after_days)) {
            return Some(format!(
                "{execution} started at {}, {} days ago, and the chunk store's lifecycle rule expires chunks after {expire_after_days} days ([chunk_store] expire_after_days): its chunks may be gone, and a redrive would fail with Task02.ChunkNotFound; {start_new}",
                self.start
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                days_since(self.start)
            ));
        }
        None
    }
}

/// A redrive AWS accepted.
#[derive(Clone, Debug, Serialize)]
pub struct Redriven {
    pub execution_arn: String,
    /// RFC 3339, UTC, milliseconds.
    pub redrive_date: String,
    /// How many redrives the execution had before this one.
    pub redrives_before: i32,
}

async fn describe(aws: &AwsClients, execution_arn: &str) -> anyhow::Result<RedriveFacts> {
    let described = super::resolve::describe_execution(aws, execution_arn).await?;
    RedriveFacts::of(&described)
}

/// Checks that `execution_arn` may be redriven, then redrives it.
pub async fn redrive(
    aws: &AwsClients,
    execution_arn: &str,
    expire_after_days: u32,
) -> anyhow::Result<Redriven> {
    let facts = describe(aws, execution_arn).await?;
    if let Some(refusal) = facts.refusal(execution_arn, expire_after_days, Utc::now()) {
        anyhow::bail!("{refusal}; nothing was redriven");
    }
    // The SDK fills in the idempotency token (clientToken), so its own retries redrive once.
    let output = aws
        .sfn
        .redrive_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .map_err(|err| match err.as_service_error() {
            Some(e) if e.is_execution_not_redrivable() => anyhow::anyhow!(
                "AWS will not redrive {execution_arn}: {}; start a new execution with `cm-etl start`",
                e.meta().message().unwrap_or("no reason given")
            ),
            _ => aws.fail(&err, "RedriveExecution"),
        })?;
    Ok(Redriven {
        execution_arn: execution_arn.to_owned(),
        redrive_date: rfc3339(output.redrive_date()),
        redrives_before: facts.redrive_count,
    })
}

/// Waits until DescribeExecution shows the redrive (a higher redrive count, or RUNNING), so that
/// following it does not report the stop before it.
pub async fn wait_until_restarted(aws: &AwsClients, redriven: &Redriven) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let facts = describe(aws, &redriven.execution_arn).await?;
        if facts.redrive_count > redriven.redrives_before || facts.status == Status::Running {
            return Ok(());
        }
        if started.elapsed() > RESTART_WAIT {
            anyhow::bail!(
                "AWS accepted the redrive of {} at {}, but after {} s the execution still shows {}; follow it with `cm-etl status {} --wait`",
                redriven.execution_arn,
                redriven.redrive_date,
                RESTART_WAIT.as_secs(),
                facts.status.as_str(),
                redriven.execution_arn
            );
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:sm:run-1";

    fn facts(
        status: Status,
        started_days_ago: i64,
        stopped_days_ago: i64,
    ) -> (RedriveFacts, DateTime<Utc>) {
        let now: DateTime<Utc> = "2026-11-30T12:00:00Z".parse().unwrap();
        (
            RedriveFacts {
                status,
                start: now - chrono::Duration::days(started_days_ago),
                stop: Some(now - chrono::Duration::days(stopped_days_ago)),
                not_redrivable: None,
                redrive_count: 0,
            },
            now,
        )
    }

    #[test]
    fn a_failed_timed_out_or_aborted_execution_may_be_redriven() {
        for status in [Status::Failed, Status::TimedOut, Status::Aborted] {
            let (facts, now) = facts(status, 1, 1);
            assert_eq!(facts.refusal(ARN, 7, now), None, "{status:?}");
        }
    }

    #[test]
    fn a_running_succeeded_or_pending_execution_is_refused_with_what_to_do() {
        for (status, needle) in [
            (Status::Running, "is still RUNNING"),
            (Status::Succeeded, "SUCCEEDED: there is nothing to redrive"),
            (Status::PendingRedrive, "already being redriven"),
        ] {
            let (facts, now) = facts(status, 0, 0);
            let refusal = facts.refusal(ARN, 7, now).unwrap();
            assert!(
                refusal.contains(needle) && refusal.contains(ARN),
                "{refusal}"
            );
        }
    }

    #[test]
    fn past_the_14_day_window_or_the_chunk_expiry_is_refused() {
        let (facts_15, now) = facts(Status::Failed, 15, 15);
        let refusal = facts_15.refusal(ARN, 3650, now).unwrap();
        assert!(
            refusal.contains("15 days ago") && refusal.contains("within 14 days"),
            "{refusal}"
        );
        let (facts_13, now) = facts(Status::Failed, 13, 13);
        assert_eq!(facts_13.refusal(ARN, 30, now), None);
        // Within AWS's window but older than the chunk store's lifecycle rule.
        let refusal = facts_13.refusal(ARN, 7, now).unwrap();
        assert!(refusal.contains("expires chunks after 7 days"), "{refusal}");
        let (facts_6, now) = facts(Status::Failed, 6, 6);
        assert_eq!(facts_6.refusal(ARN, 7, now), None);
        let (mut facts_1, now) = facts(Status::Failed, 1, 1);
        facts_1.not_redrivable = Some("the state machine is EXPRESS".into());
        let refusal = facts_1.refusal(ARN, 7, now).unwrap();
        assert!(
            refusal.contains("AWS will not redrive") && refusal.contains("EXPRESS"),
            "{refusal}"
        );
    }
}
