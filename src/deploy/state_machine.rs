//! The Step Functions side of deploy: validate the definition, read the live state machine,
//! create or update it (publishing a version described by the git commit), and wait until the
//! live definition is ours. Versions and the alias are `release`'s.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_sfn::config::retry::RetryConfig;
use aws_sdk_sfn::types::{
    CloudWatchLogsLogGroup, LogDestination, LogLevel as SfnLogLevel, LoggingConfiguration,
    StateMachineType, Tag, ValidateStateMachineDefinitionResultCode,
};

use crate::aws::AwsClients;
use crate::config::{DeployConfig, LogLevel, StateMachineConfig, StateMachineName};

/// How long deploy waits for the live definition to become ours.
const CONVERGE_WAIT: Duration = Duration::from_secs(60);

/// The logging settings, normalized so that "absent" and "OFF, no data, no group" compare equal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logging {
    pub level: String,
    pub include_execution_data: bool,
    pub log_group_arn: Option<String>,
}

impl Logging {
    fn from_config(config: &StateMachineConfig) -> Self {
        Self {
            level: sfn_level(config.logging.level).as_str().to_owned(),
            include_execution_data: config.logging.include_execution_data,
            log_group_arn: config
                .logging
                .log_group_arn
                .as_ref()
                .map(|arn| arn.as_str().to_owned()),
        }
    }

    fn from_live(live: Option<&LoggingConfiguration>) -> Self {
        Self {
            level: live
                .and_then(|l| l.level())
                .unwrap_or(&SfnLogLevel::Off)
                .as_str()
                .to_owned(),
            include_execution_data: live.is_some_and(|l| l.include_execution_data()),
            log_group_arn: live
                .and_then(|l| l.destinations().first())
                .and_then(|d| d.cloud_watch_logs_log_group())
                .and_then(|g| g.log_group_arn())
                .map(str::to_owned),
        }
    }

    fn to_sdk(&self) -> LoggingConfiguration {
        let builder = LoggingConfiguration::builder()
            .level(SfnLogLevel::from(self.level.as_str()))
            .include_execution_data(self.include_execution_data);
        match &self.log_group_arn {
            Some(arn) => builder
                .destinations(
                    LogDestination::builder()
                        .cloud_watch_logs_log_group(
                            CloudWatchLogsLogGroup::builder().log_group_arn(arn).build(),
                        )
                        .build(),
                )
                .build(),
            None => builder.build(),
        }
    }
}

fn sfn_level(level: LogLevel) -> SfnLogLevel {
    match level {
        LogLevel::Off => SfnLogLevel::Off,
        LogLevel::All => SfnLogLevel::All,
        LogLevel::Error => SfnLogLevel::Error,
        LogLevel::Fatal => SfnLogLevel::Fatal,
    }
}

/// The state machine as `deploy.toml` and the rendered definition describe it.
#[derive(Clone, Debug)]
pub struct DesiredStateMachine {
    pub name: String,
    pub arn: String,
    pub definition: String,
    pub role_arn: String,
    pub logging: Logging,
    pub tags: BTreeMap<String, String>,
}

impl DesiredStateMachine {
    pub fn new(
        config: &DeployConfig,
        name: &StateMachineName,
        machine: &StateMachineConfig,
        definition: String,
    ) -> anyhow::Result<Self> {
        if machine.logging.level != LogLevel::Off && machine.logging.log_group_arn.is_none() {
            anyhow::bail!(
                "[state_machines.{name}.logging] sets level = {:?} but no log_group_arn: add the CloudWatch log group's ARN (ending in :*) or set level = \"OFF\"",
                machine.logging.level
            );
        }
        Ok(Self {
            name: name.as_str().to_owned(),
            arn: config.state_machine_arn(name),
            definition,
            role_arn: machine.role_arn.as_str().to_owned(),
            logging: Logging::from_config(machine),
            tags: machine.tags.clone(),
        })
    }
}

/// The deployed state machine.
#[derive(Clone, Debug)]
pub struct LiveStateMachine {
    pub definition: String,
    pub role_arn: String,
    pub logging: Logging,
    pub tags: BTreeMap<String, String>,
}

/// DescribeStateMachine of a state machine or one of its versions; `None` when it does not exist.
pub async fn describe(
    aws: &AwsClients,
    arn: &str,
) -> anyhow::Result<
    Option<aws_sdk_sfn::operation::describe_state_machine::DescribeStateMachineOutput>,
> {
    match aws
        .sfn
        .describe_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
    {
        Ok(output) => Ok(Some(output)),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_state_machine_does_not_exist()) =>
        {
            Ok(None)
        }
        Err(err) => Err(aws.fail(&err, "DescribeStateMachine")),
    }
}

/// Reads the deployed state machine; `None` when it does not exist. Tags are read only when
/// `with_tags` (diff does not need them).
pub async fn read(
    aws: &AwsClients,
    arn: &str,
    with_tags: bool,
) -> anyhow::Result<Option<LiveStateMachine>> {
    let Some(described) = describe(aws, arn).await? else {
        return Ok(None);
    };
    let tags = if with_tags {
        aws.sfn
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|err| aws.fail(&err, "ListTagsForResource"))?
            .tags()
            .iter()
            .filter_map(|tag| Some((tag.key()?.to_owned(), tag.value()?.to_owned())))
            .collect()
    } else {
        BTreeMap::new()
    };
    Ok(Some(LiveStateMachine {
        definition: described.definition().to_owned(),
        role_arn: described.role_arn().to_owned(),
        logging: Logging::from_live(described.logging_configuration()),
        tags,
    }))
}

/// What deploy will do to the state machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateMachinePlan {
    Create,
    /// Update these fields (definition, role, logging) and publish a version.
    Update(Vec<&'static str>),
    Unchanged,
}

/// Tags to add or change (tags are only ever added: removing a tag someone else set is not ours
/// to do).
pub fn missing_tags(
    desired: &DesiredStateMachine,
    live: &LiveStateMachine,
) -> BTreeMap<String, String> {
    desired
        .tags
        .iter()
        .filter(|(k, v)| live.tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl StateMachinePlan {
    pub fn new(desired: &DesiredStateMachine, live: Option<&LiveStateMachine>) -> Self {
        let Some(live) = live else {
            return Self::Create;
        };
        let mut fields = Vec::new();
        // Bytes, not JSON values: the stored definition must be the committed file exactly.
        if live.definition != desired.definition {
            fields.push("definition");
        }
        if live.role_arn != desired.role_arn {
            fields.push("role");
        }
        if live.logging != desired.logging {
            fields.push("logging");
        }
        if fields.is_empty() {
            Self::Unchanged
        } else {
            Self::Update(fields)
        }
    }
}

impl StateMachinePlan {
    /// The plan when the definition changes whatever the live one is (it will pin a function
    /// version being published).
    pub fn with_definition(self) -> Self {
        match self {
            Self::Create => Self::Create,
            Self::Unchanged => Self::Update(vec!["definition"]),
            Self::Update(mut fields) => {
                if !fields.contains(&"definition") {
                    fields.insert(0, "definition");
                }
                Self::Update(fields)
            }
        }
    }
}

/// The outcome of ValidateStateMachineDefinition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Validation {
    Valid,
    /// The endpoint does not implement the call (moto): the definition was not validated.
    NotSupported(String),
}

/// Asks Step Functions to validate the definition; FAIL stops the deploy with every diagnostic.
/// Retries are off for this one call: moto answers it with HTTP 500, which the SDK would retry.
pub async fn validate(aws: &AwsClients, definition: &str) -> anyhow::Result<Validation> {
    let result = aws
        .sfn
        .validate_state_machine_definition()
        .definition(definition)
        .r#type(StateMachineType::Standard)
        .customize()
        .config_override(
            aws_sdk_sfn::config::Builder::default().retry_config(RetryConfig::disabled()),
        )
        .send()
        .await;
    let output = match result {
        Ok(output) => output,
        Err(err) => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            if aws.custom_endpoint && matches!(status, Some(500 | 501 | 404)) {
                return Ok(Validation::NotSupported(format!(
                    "the endpoint {} does not implement ValidateStateMachineDefinition (HTTP {}): the definition was not validated by Step Functions",
                    aws.endpoint,
                    status.unwrap_or_default()
                )));
            }
            return Err(aws.fail(&err, "ValidateStateMachineDefinition"));
        }
    };
    match output.result() {
        ValidateStateMachineDefinitionResultCode::Ok => Ok(Validation::Valid),
        _ => {
            let diagnostics: Vec<String> = output
                .diagnostics()
                .iter()
                .map(|d| {
                    format!(
                        "{} {} at {}: {}",
                        d.severity().as_str(),
                        d.code(),
                        d.location().unwrap_or("?"),
                        d.message()
                    )
                })
                .collect();
            anyhow::bail!(
                "Step Functions rejected the definition ({}); fix the pipeline, run `cargo run -- synth`, and deploy again; nothing was changed",
                diagnostics.join("; ")
            )
        }
    }
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Creates the state machine with its first published version; returns the version ARN.
pub async fn create(
    aws: &AwsClients,
    desired: &DesiredStateMachine,
    version_description: &str,
) -> anyhow::Result<Option<String>> {
    let output = aws
        .sfn
        .create_state_machine()
        .name(&desired.name)
        .definition(&desired.definition)
        .role_arn(&desired.role_arn)
        .r#type(StateMachineType::Standard)
        .logging_configuration(desired.logging.to_sdk())
        .set_tags(Some(sdk_tags(&desired.tags)))
        .publish(true)
        .version_description(version_description)
        .send()
        .await
        .map_err(|err| aws.fail(&err, "CreateStateMachine"))?;
    Ok(output.state_machine_version_arn().map(str::to_owned))
}

/// Updates the state machine and publishes a version; returns the version ARN.
pub async fn update(
    aws: &AwsClients,
    desired: &DesiredStateMachine,
    version_description: &str,
) -> anyhow::Result<Option<String>> {
    let output = aws
        .sfn
        .update_state_machine()
        .state_machine_arn(&desired.arn)
        .definition(&desired.definition)
        .role_arn(&desired.role_arn)
        .logging_configuration(desired.logging.to_sdk())
        .publish(true)
        .version_description(version_description)
        .send()
        .await
        .map_err(|err| aws.fail(&err, "UpdateStateMachine"))?;
    Ok(output.state_machine_version_arn().map(str::to_owned))
}

pub async fn tag(
    aws: &AwsClients,
    arn: &str,
    tags: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    aws.sfn
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(sdk_tags(tags)))
        .send()
        .await
        .map_err(|err| aws.fail(&err, "TagResource"))?;
    Ok(())
}

/// Publishes the current definition as a version (Step Functions returns the existing version
/// when this revision was published already); returns the version ARN.
pub async fn publish(
    aws: &AwsClients,
    arn: &str,
    version_description: &str,
) -> anyhow::Result<String> {
    Ok(aws
        .sfn
        .publish_state_machine_version()
        .state_machine_arn(arn)
        .description(version_description)
        .send()
        .await
        .map_err(|err| aws.fail(&err, "PublishStateMachineVersion"))?
        .state_machine_version_arn()
        .to_owned())
}

/// Polls DescribeStateMachine until the live definition is byte for byte ours.
pub async fn wait_converged(aws: &AwsClients, desired: &DesiredStateMachine) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut interval = Duration::from_millis(200);
    loop {
        if let Some(live) = read(aws, &desired.arn, false).await?
            && live.definition == desired.definition
        {
            return Ok(());
        }
        if started.elapsed() > CONVERGE_WAIT {
            anyhow::bail!(
                "the live definition of {} still differs from ours after {}s; run `cargo run -- diff --state-machine {}` to see how",
                desired.name,
                CONVERGE_WAIT.as_secs(),
                desired.name
            );
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(Duration::from_secs(2));
    }
}
