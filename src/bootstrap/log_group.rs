//! The CloudWatch Logs side of bootstrap: the log group a state machine logs to, when its logging
//! is on (`[state_machines.NAME.logging] log_group_arn`).

use std::fmt;

use crate::aws::AwsClients;
use crate::config::{DeployConfig, LogLevel};

/// A log group to create.
pub struct CreateLogGroup {
    pub name: String,
}

impl fmt::Display for CreateLogGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "create the log group {}", self.name)
    }
}

/// The names of the log groups of the state machines that log, from their ARNs
/// (`arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]`), which must be in deploy.toml's account and
/// region.
pub fn desired(config: &DeployConfig) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for (machine, settings) in &config.state_machines {
        let logging = &settings.logging;
        let Some(arn) = logging
            .log_group_arn
            .as_ref()
            .filter(|_| logging.level != LogLevel::Off)
        else {
            continue;
        };
        let key = format!("state_machines.{machine}.logging.log_group_arn");
        let parts: Vec<&str> = arn.as_str().splitn(7, ':').collect();
        let name = match parts.as_slice() {
            [_, _, "logs", _, _, "log-group", name] => name.strip_suffix(":*").unwrap_or(name),
            _ => anyhow::bail!(
                "`{key}` = {arn} is not a log group ARN (arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*)"
            ),
        };
        if parts[3] != config.region.as_str() || parts[4] != config.account.as_str() {
            anyhow::bail!(
                "`{key}` names a log group in {} {}, but deploy.toml's region and account are {} {}: bootstrap creates it there only",
                parts[3],
                parts[4],
                config.region,
                config.account
            );
        }
        if !names.iter().any(|known| known == name) {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// The log groups among `names` that do not exist yet.
pub async fn plan(aws: &AwsClients, names: &[String]) -> anyhow::Result<Vec<CreateLogGroup>> {
    let mut steps = Vec::new();
    for name in names {
        let mut pages = aws
            .logs
            .describe_log_groups()
            .log_group_name_prefix(name)
            .into_paginator()
            .send();
        let mut exists = false;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| aws.fail(&err, "DescribeLogGroups"))?;
            exists |= page
                .log_groups()
                .iter()
                .any(|group| group.log_group_name() == Some(name.as_str()));
        }
        if !exists {
            steps.push(CreateLogGroup { name: name.clone() });
        }
    }
    Ok(steps)
}

impl CreateLogGroup {
    pub async fn apply(&self, aws: &AwsClients) -> anyhow::Result<()> {
        aws.logs
            .create_log_group()
            .log_group_name(&self.name)
            .send()
            .await
            .map_err(|err| aws.fail(&err, "CreateLogGroup"))?;
        Ok(())
    }
}
