//! `[state_machines.NAME]`: one state machine's role, Distributed Map, releases, logging and
//! tags.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::values::{Arn, DistributedConcurrency, KeptReleases, MapLabel, StateMachineAliasName};

/// One `[state_machines.NAME]` table.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StateMachineConfig {
    pub role_arn: Arn,
    /// The Distributed Map that runs ProcessTask02Chunk once per chunk.
    pub map: MapConfig,
    /// How deploy publishes, routes and prunes this state machine's versions.
    #[serde(default)]
    pub releases: ReleasesConfig,
    #[serde(default)]
    pub logging: LoggingConfig,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// `[state_machines.NAME.releases]`: each deploy publishes a state machine version (a release)
/// and moves `alias` to it; `start` addresses the alias.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasesConfig {
    /// The state machine alias `start` addresses and deploy, `--canary` and rollback move.
    #[serde(default = "ReleasesConfig::default_alias")]
    pub alias: StateMachineAliasName,
    /// How many of the newest versions deploy keeps; older ones are deleted, except a version the
    /// alias routes to or an execution still runs on.
    #[serde(default)]
    pub keep: KeptReleases,
}

impl ReleasesConfig {
    fn default_alias() -> StateMachineAliasName {
        StateMachineAliasName::try_from("live".to_owned()).expect("`live` is an alias name")
    }
}

impl Default for ReleasesConfig {
    fn default() -> Self {
        Self {
            alias: Self::default_alias(),
            keep: KeptReleases::default(),
        }
    }
}

/// `[state_machines.NAME.map]`: how the Distributed Map runs its child executions.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MapConfig {
    /// Child executions running at once.
    pub max_concurrency: DistributedConcurrency,
    /// Children that may fail, as a share of all, before the Map Run fails.
    #[serde(default)]
    pub tolerated_failure_percentage: FailurePercentage,
    /// Children that may fail, as a count, before the Map Run fails.
    #[serde(default)]
    pub tolerated_failure_count: u32,
    /// Names the Map Run and its child executions.
    pub label: MapLabel,
    /// How each child execution runs.
    #[serde(default)]
    pub execution_type: ChildExecutionType,
}

/// A share of failed children, 0 to 100 (%).
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Deserialize, Serialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct FailurePercentage(f64);

impl FailurePercentage {
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for FailurePercentage {
    type Error = String;
    fn try_from(value: f64) -> Result<Self, String> {
        if (0.0..=100.0).contains(&value) {
            Ok(Self(value))
        } else {
            Err(format!(
                "{value} is out of range: it must be from 0 to 100 (%)"
            ))
        }
    }
}

impl From<FailurePercentage> for f64 {
    fn from(value: FailurePercentage) -> f64 {
        value.0
    }
}

/// STANDARD children run exactly once and keep their own history; EXPRESS children run at least
/// once (a chunk is idempotent, so that is safe), cost less, and stop after 5 minutes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChildExecutionType {
    #[default]
    Standard,
    Express,
}

/// CloudWatch Logs settings of a state machine.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    #[serde(default)]
    pub level: LogLevel,
    /// Whether execution input and output are logged; our payloads hold no SSN, but off is safer.
    #[serde(default)]
    pub include_execution_data: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group_arn: Option<Arn>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    #[default]
    Off,
    All,
    Error,
    Fatal,
}
