//! Which deployed state machine and which execution a command means: the ARN computed from
//! deploy.toml's account and region, or found by name when that ARN is not there (which
//! `[state_machines.NAME]` table is meant is `DeployConfig::state_machine`'s to say); and the one
//! DescribeExecution call that `status`, `--wait` and `redrive` share.

use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;

use crate::aws::{AwsClients, error};
use crate::config::{DeployConfig, StateMachineName};

/// The deployed state machine's ARN: the one deploy.toml implies, else the one with that name in
/// the account and region the SDK talks to (a different account, or a `--region` override).
pub async fn state_machine_arn(
    aws: &AwsClients,
    config: &DeployConfig,
    name: &StateMachineName,
) -> anyhow::Result<String> {
    let computed = config.state_machine_arn(name);
    match aws
        .sfn
        .describe_state_machine()
        .state_machine_arn(&computed)
        .send()
        .await
    {
        Ok(found) => return Ok(found.state_machine_arn().to_owned()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_state_machine_does_not_exist() || e.is_invalid_arn()) => {}
        Err(err) => return Err(aws.fail(&err, "DescribeStateMachine")),
    }
    let mut pages = aws.sfn.list_state_machines().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| aws.fail(&err, "ListStateMachines"))?;
        if let Some(item) = page
            .state_machines()
            .iter()
            .find(|item| item.name() == name.as_str())
        {
            return Ok(item.state_machine_arn().to_owned());
        }
    }
    anyhow::bail!(
        "state machine `{name}` is not deployed (looked for {computed} and by name); deploy it with \
         `cm-etl deploy --state-machine {name}` or check --region and --profile"
    )
}

/// A call that AWS throttled: whoever polls waits longer and tries again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Throttled(anyhow::Error);

/// `described`, marked [`Throttled`] when `err` is AWS throttling the call.
pub fn throttled_or<E: aws_sdk_sfn::error::ProvideErrorMetadata, R>(
    err: &aws_sdk_sfn::error::SdkError<E, R>,
    described: anyhow::Error,
) -> anyhow::Error {
    if error::is_throttling(err) {
        Throttled(described).into()
    } else {
        described
    }
}

/// DescribeExecution of `execution_arn`: an execution that does not exist is said in our words,
/// any other failure as `crate::aws::error` explains it ([`Throttled`] when AWS throttled the call).
pub async fn describe_execution(
    aws: &AwsClients,
    execution_arn: &str,
) -> anyhow::Result<DescribeExecutionOutput> {
    aws.sfn
        .describe_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .map_err(|err| {
            if err
                .as_service_error()
                .is_some_and(|e| e.is_execution_does_not_exist())
            {
                anyhow::anyhow!(
                    "there is no execution {execution_arn}; check the name, --state-machine and --region"
                )
            } else {
                throttled_or(&err, aws.fail(&err, "DescribeExecution"))
            }
        })
}

/// The ARN of execution `execution` of the state machine `state_machine_arn`:
/// `arn:aws:states:REGION:ACCOUNT:execution:SM_NAME:NAME`.
pub fn execution_arn(state_machine_arn: &str, execution: &str) -> anyhow::Result<String> {
    match state_machine_arn.split_once(":stateMachine:") {
        Some((prefix, machine)) => Ok(format!("{prefix}:execution:{machine}:{execution}")),
        None => anyhow::bail!("`{state_machine_arn}` is not a state machine ARN"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_execution_arn_is_built_from_the_state_machine_arn() {
        assert_eq!(
            execution_arn(
                "arn:aws:states:eu-west-1:111122223333:stateMachine:cm-etl-pipeline-phase2",
                "nightly-1"
            )
            .unwrap(),
            "arn:aws:states:eu-west-1:111122223333:execution:cm-etl-pipeline-phase2:nightly-1"
        );
        assert!(execution_arn("arn:aws:lambda:x", "n").is_err());
    }
}
