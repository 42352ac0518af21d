//! `deploy.toml`: where and how the pipeline is deployed (account, region, the function, the chunk
//! store, one table per state machine).
//!
//! Unknown keys and wrong types are errors that name the key and its line (serde + toml spans), and
//! every value with a rule is a small type that checks it while parsing, so a loaded `DeployConfig`
//! is always valid. This module holds the file's top level and what commands ask of it (ARNs, the
//! pipeline's settings); `function` and `state_machine` its tables, `values` the checked value
//! types, `check` the rules spanning several keys, `error` the messages that point at a line.

mod check;
mod error;
mod function;
mod state_machine;
mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use etl_lambda::contract::{ChunkBudget, ChunkStoreUri};
use serde::{Deserialize, Serialize};

pub use self::error::ConfigError;
use self::error::Source;
pub use self::function::{
    Architecture, DistinctIds, FunctionConfig, FunctionEnvironment, FunctionVpc,
};
pub use self::state_machine::{
    ChildExecutionType, FailurePercentage, LogLevel, LoggingConfig, MapConfig, ReleasesConfig,
    StateMachineConfig,
};
pub use self::values::{
    AccountId, Arn, DistributedConcurrency, ExpireAfterDays, KeptReleases, KmsKeyArn, MapLabel,
    MemoryMb, Region, ResourceName, SecurityGroupId, StateMachineAliasName, StateMachineName,
    SubnetId, TimeoutSeconds,
};

/// The file `synth`, `deploy`, `start` and `status` read unless `--config` says otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "deploy.toml";

/// `--config PATH`: the deploy.toml a command reads. Declared once, flattened into every command.
#[derive(clap::Args, Clone, Debug)]
pub struct ConfigArgs {
    /// deploy.toml: the account, region, function, roles, chunk bucket and state machines.
    #[arg(id = "config", long = "config", value_name = "PATH", default_value = DEFAULT_CONFIG_PATH)]
    pub path: PathBuf,
}

impl ConfigArgs {
    pub fn load(&self) -> Result<DeployConfig, ConfigError> {
        DeployConfig::load(&self.path)
    }
}

/// `--state-machine NAME`: which `[state_machines.NAME]` table of deploy.toml a command means.
/// Declared once, flattened into every command; resolved by [`DeployConfig::state_machine`].
#[derive(clap::Args, Clone, Debug, Default)]
pub struct StateMachineArgs {
    /// A `[state_machines.NAME]` table of deploy.toml (default: the only one).
    #[arg(id = "state_machine", long = "state-machine", value_name = "NAME")]
    pub name: Option<String>,
}

/// The whole of `deploy.toml`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeployConfig {
    pub region: Region,
    pub account: AccountId,
    /// A named profile of the shared AWS config; the default credential chain when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub function: FunctionConfig,
    pub chunk_store: ChunkStoreConfig,
    pub chunking: ChunkBudget,
    pub state_machines: BTreeMap<StateMachineName, StateMachineConfig>,
    /// What `run` prices an execution at (none: us-east-1 list prices).
    #[serde(default)]
    pub prices: crate::cost::Prices,
}

/// The S3 location under which each execution's chunks are stored.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkStoreConfig {
    pub bucket: ResourceName,
    /// A key prefix such as `task02/`; each execution's chunks go under
    /// `<prefix><execution>-<arn digest>/`.
    #[serde(default)]
    pub prefix: String,
    /// The bucket's lifecycle rule expires objects under the prefix this many days after they
    /// were written: the chunks of a failed execution (kept for a redrive) do not stay forever.
    #[serde(default)]
    pub expire_after_days: ExpireAfterDays,
    /// The customer-managed KMS key the bucket encrypts objects with by default (SSE-KMS); none:
    /// SSE-S3. Bootstrap sets it as the bucket's default encryption, and both roles may use it
    /// through S3 only (`iam`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<KmsKeyArn>,
}

impl DeployConfig {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses `text` as the contents of `path` (the path is only used in messages).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let source = Source { path, text };
        let document =
            toml::de::DeTable::parse(text).map_err(|err| source.toml_error(&err, None))?;
        let config: Self =
            serde_path_to_error::deserialize(toml::de::Deserializer::from(document.clone()))
                .map_err(|err| source.toml_error(err.inner(), Some(err.path().to_string())))?;
        config.check(&source, document.get_ref())?;
        Ok(config)
    }
    /// The state machine a command means: the `[state_machines.NAME]` table `name` names, or
    /// without a name the only one there is; otherwise an error listing the names there are.
    pub fn state_machine(
        &self,
        name: Option<&str>,
        path: &Path,
    ) -> Result<(&StateMachineName, &StateMachineConfig), ConfigError> {
        let Some(name) = name else {
            let mut tables = self.state_machines.iter();
            return match (tables.next(), tables.next()) {
                (Some(only), None) => Ok(only),
                _ => Err(ConfigError::SeveralStateMachines {
                    path: path.to_owned(),
                    known: self.state_machine_names(),
                }),
            };
        };
        self.state_machines
            .iter()
            .find(|(key, _)| key.as_str() == name)
            .ok_or_else(|| ConfigError::UnknownStateMachine {
                path: path.to_owned(),
                name: name.to_owned(),
                known: self.state_machine_names(),
            })
    }

    fn state_machine_names(&self) -> String {
        let names: Vec<_> = self.state_machines.keys().map(|k| k.as_str()).collect();
        names.join(", ")
    }

    /// The unqualified function ARN.
    pub fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account, self.function.name
        )
    }

    /// The function ARN qualified with its alias: what the committed definition names (deploy
    /// ships it with each Task pinned to a published version instead).
    pub fn function_alias_arn(&self) -> String {
        format!("{}:{}", self.function_arn(), self.function.alias)
    }

    /// The state machine ARN qualified with its releases alias: what `start` addresses.
    pub fn state_machine_alias_arn(&self, name: &StateMachineName) -> String {
        format!(
            "{}:{}",
            self.state_machine_arn(name),
            self.state_machines[name].releases.alias
        )
    }

    pub fn state_machine_arn(&self, name: &StateMachineName) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{}",
            self.region, self.account, name
        )
    }

    /// What the pipeline of the state machine `name` takes from this file.
    ///
    /// # Panics
    /// When there is no `[state_machines.NAME]` table: callers look it up first
    /// ([`DeployConfig::state_machine`]), which names the tables there are.
    pub fn pipeline_settings(&self, name: &StateMachineName) -> pipeline::PipelineSettings {
        self.pipeline_settings_invoking(name, self.function_alias_arn())
    }

    /// [`Self::pipeline_settings`] with every Task invoking `function_arn` (a version's ARN).
    pub fn pipeline_settings_invoking(
        &self,
        name: &StateMachineName,
        function_arn: String,
    ) -> pipeline::PipelineSettings {
        let map = &self.state_machines[name].map;
        pipeline::PipelineSettings {
            function_arn,
            chunking: self.chunking,
            chunk_store: self.chunk_store_uri(),
            map: pipeline::MapSettings {
                max_concurrency: map.max_concurrency.get(),
                tolerated_failure_percentage: map.tolerated_failure_percentage.get(),
                tolerated_failure_count: map.tolerated_failure_count,
                label: map.label.to_string(),
                execution_type: match map.execution_type {
                    ChildExecutionType::Standard => asl::ExecutionType::Standard,
                    ChildExecutionType::Express => asl::ExecutionType::Express,
                },
            },
        }
    }

    /// Where the deployed function stores chunks (each execution under its own key prefix).
    pub fn chunk_store_uri(&self) -> ChunkStoreUri {
        ChunkStoreUri::new(format!(
            "s3://{}/{}",
            self.chunk_store.bucket, self.chunk_store.prefix
        ))
        .expect("parse checks that the bucket and prefix make a chunk store")
    }
}

#[cfg(test)]
mod tests;
