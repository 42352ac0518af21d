//! `deploy.toml`: where and how the pipeline is deployed (account, region, the function, the chunk
//! store, one table per state machine).
//!
//! Unknown keys and wrong types are errors that name the key and its line (serde + toml spans), and
//! every value with a rule is a small type that checks it while parsing, so a loaded `DeployConfig`
//! is always valid.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use etl_lambda::contract::{ChunkBudget, ChunkStoreUri, env};
use etl_lambda::warehouse::{InsecureTransport, database_url};
use serde::{Deserialize, Serialize};

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

/// The one Lambda function behind every Task.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionConfig {
    pub name: ResourceName,
    pub role_arn: Arn,
    pub memory_mb: MemoryMb,
    pub timeout_seconds: TimeoutSeconds,
    pub architecture: Architecture,
    /// The alias the state machine invokes; deploy moves it to each published version.
    pub alias: ResourceName,
    /// The Secrets Manager secret holding the warehouse's connection URL (never the password here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_secret_arn: Option<Arn>,
    /// The customer-managed KMS key that secret is encrypted with (none: AWS's managed key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_secret_kms_key_arn: Option<KmsKeyArn>,
    /// The explicit opt-out of verified TLS to the warehouse (none: TLS required, the server's
    /// certificate and host name checked); passed as `WAREHOUSE_INSECURE_TRANSPORT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse_insecure_transport: Option<InsecureTransport>,
    /// The VPC subnets and security groups the function runs in (none: outside any VPC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<FunctionVpc>,
    #[serde(default)]
    pub environment: FunctionEnvironment,
}

/// `[function.environment]`: extra variables of the function. They may not override what deploy
/// sets itself, nor put a password into the function's configuration (readable by anyone allowed
/// `lambda:GetFunctionConfiguration`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(
    try_from = "BTreeMap<String, String>",
    into = "BTreeMap<String, String>"
)]
pub struct FunctionEnvironment(BTreeMap<String, String>);

impl FunctionEnvironment {
    pub fn variables(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl TryFrom<BTreeMap<String, String>> for FunctionEnvironment {
    type Error = String;

    fn try_from(variables: BTreeMap<String, String>) -> Result<Self, String> {
        for (name, value) in &variables {
            let valid_name = name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid_name {
                return Err(format!(
                    "`{name}` is not an environment variable name (a letter, then letters, digits or '_')"
                ));
            }
            if name == env::CHUNK_STORE_URI
                || name == env::WAREHOUSE_SECRET_ARN
                || name == env::WAREHOUSE_INSECURE_TRANSPORT
            {
                return Err(format!(
                    "`{name}` is set by deploy from [chunk_store], function.warehouse_secret_arn and function.warehouse_insecure_transport; remove it here"
                ));
            }
            if name == env::DATABASE_URL && database_url::has_password(value) {
                return Err(format!(
                    "`{name}` carries a password, which anyone who can read the function's configuration would see; put the URL in a Secrets Manager secret and name it in function.warehouse_secret_arn"
                ));
            }
        }
        Ok(Self(variables))
    }
}

impl From<FunctionEnvironment> for BTreeMap<String, String> {
    fn from(environment: FunctionEnvironment) -> Self {
        environment.0
    }
}

/// `[function.vpc]`: the subnets (each gets the function's network interface) and security groups
/// of the VPC the warehouse is in.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionVpc {
    pub subnet_ids: DistinctIds<SubnetId, 16>,
    pub security_group_ids: DistinctIds<SecurityGroupId, 5>,
}

/// 1 to `MAX` ids, none twice (Lambda's limits: 16 subnets, 5 security groups).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "Vec<Id>", into = "Vec<Id>")]
#[serde(bound(deserialize = "Id: Deserialize<'de> + PartialEq + fmt::Display"))]
#[serde(bound(serialize = "Id: Serialize + Clone"))]
pub struct DistinctIds<Id, const MAX: usize>(Vec<Id>);

impl<Id: fmt::Display, const MAX: usize> DistinctIds<Id, MAX> {
    pub fn ids(&self) -> &[Id] {
        &self.0
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(Id::to_string).collect()
    }
}

impl<Id: PartialEq + fmt::Display, const MAX: usize> TryFrom<Vec<Id>> for DistinctIds<Id, MAX> {
    type Error = String;
    fn try_from(ids: Vec<Id>) -> Result<Self, String> {
        if !(1..=MAX).contains(&ids.len()) {
            return Err(format!("{} ids given: list 1 to {MAX}", ids.len()));
        }
        if let Some(twice) = ids
            .iter()
            .enumerate()
            .find_map(|(i, id)| ids[..i].contains(id).then_some(id))
        {
            return Err(format!("`{twice}` is listed twice"));
        }
        Ok(Self(ids))
    }
}

impl<Id, const MAX: usize> From<DistinctIds<Id, MAX>> for Vec<Id> {
    fn from(ids: DistinctIds<Id, MAX>) -> Self {
        ids.0
    }
}

/// Whether `id` is `prefix` and 8 or 17 lower-case hexadecimal digits, as EC2 ids are.
fn is_ec2_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
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
        StateMachineAliasName("live".into())
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

impl ChildExecutionType {
    /// The longest an EXPRESS execution may run.
    pub const EXPRESS_LIMIT_SECONDS: u32 = 300;
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum Architecture {
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl Architecture {
    /// The name AWS Lambda uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

/// Declares a string newtype that is checked while `deploy.toml` is parsed.
macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $rule:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                let check: fn(&str) -> bool = $check;
                if check(&value) {
                    Ok(Self(value))
                } else {
                    // A URL pasted into the wrong key must not show its password.
                    Err(format!("`{}` {}", database_url::redacted(&value), $rule))
                }
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// Declares an integer newtype with an inclusive range, checked while parsing.
macro_rules! checked_range {
    ($(#[$doc:meta])* $name:ident, $min:literal ..= $max:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
        #[serde(try_from = "u32", into = "u32")]
        pub struct $name(u32);

        impl $name {
            pub fn get(self) -> u32 {
                self.0
            }
        }

        impl TryFrom<u32> for $name {
            type Error = String;
            fn try_from(value: u32) -> Result<Self, String> {
                if ($min..=$max).contains(&value) {
                    Ok(Self(value))
                } else {
                    Err(format!("{value} is out of range: it must be from {} to {}", $min, $max))
                }
            }
        }

        impl From<$name> for u32 {
            fn from(value: $name) -> u32 {
                value.0
            }
        }
    };
}

checked_string!(
    /// An AWS region such as `us-east-1`.
    Region,
    "is not an AWS region (like us-east-1)",
    |s| {
        let parts: Vec<&str> = s.split('-').collect();
        parts.len() >= 3
            && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
            && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
    }
);
checked_string!(
    /// A 12-digit AWS account id.
    AccountId,
    "is not a 12-digit AWS account id",
    |s| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
);
checked_string!(
    /// An ARN (`arn:partition:service:...`).
    Arn,
    "is not an ARN (arn:aws:SERVICE:...)",
    |s| s.starts_with("arn:") && s.split(':').count() >= 6
);
checked_string!(
    /// The name of a function, alias, bucket or state machine: 1 to 80 of A-Z a-z 0-9 - _ .
    ResourceName,
    "must be 1 to 80 characters of A-Z, a-z, 0-9, '-', '_' or '.'",
    |s| (1..=80).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
);
checked_string!(
    /// The name of a state machine, the key of its `[state_machines.NAME]` table.
    StateMachineName,
    "must be 1 to 80 characters of A-Z, a-z, 0-9, '-' or '_'",
    |s| (1..=80).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
);

checked_string!(
    /// The name of a state machine alias: 1 to 80 of A-Z a-z 0-9 - _, not all digits (a number
    /// names a version).
    StateMachineAliasName,
    "must be 1 to 80 characters of A-Z, a-z, 0-9, '-' or '_', not all digits",
    |s| (1..=80).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        && !s.bytes().all(|b| b.is_ascii_digit())
);

checked_range!(
    /// Lambda memory in MB.
    MemoryMb, 128..=10240
);
checked_range!(
    /// Lambda timeout in seconds.
    TimeoutSeconds, 1..=900
);
checked_range!(
    /// Distributed Map concurrency: AWS runs at most 10,000 child executions of a Map Run at once.
    DistributedConcurrency, 1..=10000
);
checked_range!(
    /// Days before the chunk store's lifecycle rule expires a chunk object.
    ExpireAfterDays, 1..=3650
);

checked_range!(
    /// State machine versions deploy keeps: Step Functions allows 1,000 per state machine.
    KeptReleases, 1..=1000
);

impl Default for KeptReleases {
    /// Enough to roll back across a few weeks of daily deploys.
    fn default() -> Self {
        Self(20)
    }
}

impl Default for ExpireAfterDays {
    /// A week: time to notice a failed execution and redrive it.
    fn default() -> Self {
        Self(7)
    }
}

checked_string!(
    /// A VPC subnet id, `subnet-` and 8 or 17 hexadecimal digits.
    SubnetId,
    "is not a subnet id (subnet- and 8 or 17 lower-case hexadecimal digits)",
    |s| is_ec2_id(s, "subnet-")
);
checked_string!(
    /// A VPC security group id, `sg-` and 8 or 17 hexadecimal digits.
    SecurityGroupId,
    "is not a security group id (sg- and 8 or 17 lower-case hexadecimal digits)",
    |s| is_ec2_id(s, "sg-")
);
checked_string!(
    /// The ARN of a KMS key (not an alias: a key policy and `kms:Decrypt` name the key).
    KmsKeyArn,
    "is not the ARN of a KMS key (arn:aws:kms:REGION:ACCOUNT:key/KEY_ID)",
    |s| {
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == "kms"
            && !parts[3].is_empty()
            && parts[4].len() == 12
            && parts[4].bytes().all(|b| b.is_ascii_digit())
            && parts[5].strip_prefix("key/").is_some_and(|id| !id.is_empty() && !id.contains('/'))
    }
);

/// The region field of an ARN (empty for a global service such as IAM).
fn region_of(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or_default()
}

impl Arn {
    pub fn region(&self) -> &str {
        region_of(&self.0)
    }
}

impl KmsKeyArn {
    pub fn region(&self) -> &str {
        region_of(&self.0)
    }

    /// The key id, the ARN's part after `key/`.
    pub fn key_id(&self) -> &str {
        self.0
            .rsplit_once("key/")
            .map(|(_, id)| id)
            .unwrap_or_default()
    }
}

checked_string!(
    /// A Distributed Map's label: it names the Map Run and its child executions.
    MapLabel,
    "is not a Map label: 1 to 40 characters, without whitespace, control characters or any of < > { } [ ] ? * \" # % \\ ^ | ~ ` $ & , ; : /",
    |s| asl::validate::label_problem(s).is_none()
);

/// `deploy.toml` could not be used: one line naming the file, the line, the key and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}; run from the repository root or pass --config PATH")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}{}: {message}", line.map(|n| format!(" line {n}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error(
        "{path} has no [state_machines.{name}] table; the state machines it defines are: {known}"
    )]
    UnknownStateMachine {
        path: PathBuf,
        name: String,
        known: String,
    },
    #[error("{path} defines several state machines ({known}); pass --state-machine NAME")]
    SeveralStateMachines { path: PathBuf, known: String },
}

/// The text of a deploy.toml being parsed, for errors that point at a line.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    /// A TOML syntax or type error as one line (toml's own message spans five, with a snippet).
    /// `key` is the dotted path serde was reading.
    fn toml_error(&self, error: &toml::de::Error, key: Option<String>) -> ConfigError {
        let span = error.span();
        let mut message = error.message().trim_end().replace('\n', "; ");
        // serde may quote the value it refused; a URL there must not show its password.
        if let Some(value) = span.as_ref().and_then(|span| self.text.get(span.clone())) {
            let value = value.trim_matches(['"', '\'']);
            if database_url::has_password(value) {
                message = message.replace(value, &database_url::redacted(value));
            }
        }
        let what_to_do = if message.starts_with("unknown field") {
            "; fix its name or remove it (docs/deploy-toml.md lists every key)"
        } else if message.starts_with("missing field") {
            "; add it (see the committed deploy.toml)"
        } else {
            ""
        };
        let message = match key.filter(|key| !key.is_empty() && key != ".") {
            Some(key) => format!("`{key}`: {message}{what_to_do}"),
            None => format!("{message}{what_to_do}"),
        };
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line: span.map(|span| self.line_of(span.start)),
            message,
        }
    }

    /// An error about the value of `key` (a path of table names and a key), on its line.
    fn key_error(
        &self,
        document: &toml::de::DeTable<'_>,
        key: &[&str],
        message: String,
    ) -> ConfigError {
        let mut table = Some(document);
        let mut offset = None;
        for name in key {
            let Some((found, value)) =
                table.and_then(|t| t.iter().find(|(k, _)| k.get_ref() == name))
            else {
                break;
            };
            offset = Some(found.span().start);
            table = value.get_ref().as_table();
        }
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line: offset.map(|offset| self.line_of(offset)),
            message,
        }
    }
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

    /// The rules that span several keys, each reported on the line of the key to change.
    fn check(
        &self,
        source: &Source<'_>,
        document: &toml::de::DeTable<'_>,
    ) -> Result<(), ConfigError> {
        let invalid = |key: &[&str], message: String| Err(source.key_error(document, key, message));
        for (key, value) in [
            ("max_rows", self.chunking.max_rows),
            ("max_keys", self.chunking.max_keys),
        ] {
            if value == 0 {
                return invalid(
                    &["chunking", key],
                    format!("`chunking.{key}` must be at least 1"),
                );
            }
        }
        let store = &self.chunk_store;
        if let Err(err) = ChunkStoreUri::new(format!("s3://{}/{}", store.bucket, store.prefix)) {
            return invalid(
                &["chunk_store"],
                format!(
                    "[chunk_store] bucket and prefix do not make a chunk store: {}",
                    err.rule
                ),
            );
        }
        if let Some(key) = &store.kms_key_arn
            && key.region() != self.region.as_str()
        {
            return invalid(
                &["chunk_store", "kms_key_arn"],
                format!(
                    "`chunk_store.kms_key_arn` is in {} but the bucket is in {} (`region`): S3 encrypts a bucket's objects only with a KMS key of the bucket's region",
                    key.region(),
                    self.region
                ),
            );
        }
        let function = &self.function;
        for (name, machine) in &self.state_machines {
            if machine.map.execution_type == ChildExecutionType::Express
                && function.timeout_seconds.get() > ChildExecutionType::EXPRESS_LIMIT_SECONDS
            {
                return invalid(
                    &["state_machines", name.as_str(), "map", "execution_type"],
                    format!(
                        "`state_machines.{name}.map.execution_type` is EXPRESS, whose child executions stop after {} s, but `function.timeout_seconds` is {}: lower the timeout to {} or use STANDARD",
                        ChildExecutionType::EXPRESS_LIMIT_SECONDS,
                        function.timeout_seconds.get(),
                        ChildExecutionType::EXPRESS_LIMIT_SECONDS
                    ),
                );
            }
            let logging = &machine.logging;
            if logging.level != LogLevel::Off && logging.log_group_arn.is_none() {
                return invalid(
                    &["state_machines", name.as_str(), "logging", "level"],
                    format!(
                        "`state_machines.{name}.logging.level` is {}, which needs a CloudWatch Logs group: add `log_group_arn = \"arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*\"` to [state_machines.{name}.logging], or set the level to \"OFF\"",
                        format!("{:?}", logging.level).to_uppercase()
                    ),
                );
            }
        }
        if function.warehouse_secret_arn.is_some()
            && function
                .environment
                .variables()
                .contains_key(env::DATABASE_URL)
        {
            return invalid(
                &["function", "environment", env::DATABASE_URL],
                "`function.warehouse_secret_arn` and `function.environment.DATABASE_URL` both name the warehouse; keep one (the secret, for anything with a password)".to_owned(),
            );
        }
        if let Some(key) = &function.warehouse_secret_kms_key_arn {
            let at = ["function", "warehouse_secret_kms_key_arn"];
            match &function.warehouse_secret_arn {
                None => {
                    return invalid(
                        &at,
                        "`function.warehouse_secret_kms_key_arn` is set without `function.warehouse_secret_arn`: the key only decrypts that secret; name the secret or remove the key".to_owned(),
                    );
                }
                Some(secret) if secret.region() != key.region() => {
                    return invalid(
                        &at,
                        format!(
                            "`function.warehouse_secret_kms_key_arn` is in {} but the warehouse secret is in {}: Secrets Manager encrypts a secret with a key of its own region",
                            key.region(),
                            secret.region()
                        ),
                    );
                }
                Some(_) => {}
            }
        }
        Ok(())
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
mod tests {
    use super::*;

    fn committed() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy.toml")).unwrap()
    }

    #[test]
    fn the_committed_file_parses_and_uses_the_documentation_account() {
        let config = DeployConfig::parse(&committed(), Path::new("deploy.toml")).unwrap();
        assert_eq!(config.account.as_str(), "123456789012");
        assert_eq!(config.region.as_str(), "us-east-1");
        let (name, _) = config
            .state_machine(Some("cm-etl-pipeline-phase2"), Path::new("deploy.toml"))
            .unwrap();
        assert_eq!(
            config.state_machine_arn(name),
            "arn:aws:states:us-east-1:123456789012:stateMachine:cm-etl-pipeline-phase2"
        );
        assert!(config.function_alias_arn().ends_with(&format!(
            ":function:{}:{}",
            config.function.name, config.function.alias
        )));
    }

    /// `[prices]` is optional: each key absent keeps AWS's us-east-1 list price; a negative or
    /// unknown one is refused by name.
    #[test]
    fn prices_default_to_the_list_and_any_may_be_overridden() {
        let config = DeployConfig::parse(&committed(), Path::new("deploy.toml")).unwrap();
        assert_eq!(config.prices, crate::cost::Prices::default());
        let text = committed() + "\n[prices]\nlambda_per_million_requests = 0.25\n";
        let config = DeployConfig::parse(&text, Path::new("deploy.toml")).unwrap();
        assert_eq!(config.prices.lambda_per_million_requests.get(), 0.25);
        assert_eq!(
            config.prices.s3_per_1000_get,
            crate::cost::Prices::default().s3_per_1000_get
        );
        let err = parse_error(&(committed() + "\n[prices]\ns3_per_1000_get = -1.0\n"));
        assert!(err.contains("-1 is not a price"), "{err}");
        let err = parse_error(&(committed() + "\n[prices]\nlambda_per_request = 0.2\n"));
        assert!(err.contains("lambda_per_request"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let text = committed().replace("[function]\n", "[function]\nmemroy_mb = 1\n");
        let line = text
            .lines()
            .position(|l| l.starts_with("memroy_mb"))
            .unwrap()
            + 1;
        let err = DeployConfig::parse(&text, Path::new("deploy.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("memroy_mb"), "{err}");
        assert!(err.contains(&format!("line {line}")), "{err}");
    }

    #[test]
    fn a_wrong_type_or_value_is_named_with_its_line() {
        let text = committed().replace("timeout_seconds = 900", "timeout_seconds = \"900\"");
        let err = DeployConfig::parse(&text, Path::new("deploy.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line "), "{err}");
        assert!(err.contains("timeout_seconds"), "{err}");

        let text = committed().replace("max_concurrency = 40", "max_concurrency = 10001");
        let err = DeployConfig::parse(&text, Path::new("deploy.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("from 1 to 10000"), "{err}");

        let text = committed().replace("123456789012", "1234");
        let err = DeployConfig::parse(&text, Path::new("deploy.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("12-digit"), "{err}");
    }

    #[test]
    fn the_distributed_map_settings_are_checked() {
        for (from, to, needle) in [
            (
                "tolerated_failure_percentage = 0",
                "tolerated_failure_percentage = 100.5",
                "from 0 to 100",
            ),
            (
                "tolerated_failure_count = 0",
                "tolerated_failure_count = -1",
                "tolerated_failure_count",
            ),
            (
                "label = \"chunks\"",
                "label = \"two words\"",
                "not a Map label",
            ),
            (
                "label = \"chunks\"",
                &format!("label = \"{}\"", "x".repeat(41)),
                "not a Map label",
            ),
            (
                "execution_type = \"STANDARD\"",
                "execution_type = \"EXPRESS\"",
                "lower the timeout to 300",
            ),
        ] {
            let text = committed().replace(from, to);
            assert_ne!(text, committed(), "{from}");
            let err = parse_error(&text);
            assert!(err.contains(needle), "{to}: {err}");
        }
        let express = committed()
            .replace(
                "execution_type = \"STANDARD\"",
                "execution_type = \"EXPRESS\"",
            )
            .replace("timeout_seconds = 900", "timeout_seconds = 300");
        let config = DeployConfig::parse(&express, Path::new("deploy.toml")).unwrap();
        let machine = &config.state_machines.values().next().unwrap().map;
        assert_eq!(machine.execution_type, ChildExecutionType::Express);
    }

    #[test]
    fn the_chunk_store_must_be_an_s3_bucket_and_a_safe_prefix() {
        for (from, to) in [
            (
                "bucket = \"cm-etl-phase2-chunks\"",
                "bucket = \"Upper_Case\"",
            ),
            ("prefix = \"task02/\"", "prefix = \"a b/\""),
            ("prefix = \"task02/\"", "prefix = \"../task02/\""),
        ] {
            let text = committed().replace(from, to);
            assert_ne!(text, committed(), "{from}");
            let err = parse_error(&text);
            assert!(err.contains("[chunk_store]"), "{to}: {err}");
        }
    }

    #[test]
    fn an_unknown_state_machine_lists_the_known_ones() {
        let config = DeployConfig::parse(&committed(), Path::new("deploy.toml")).unwrap();
        let err = config
            .state_machine(Some("nope"), Path::new("deploy.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("[state_machines.nope]"), "{err}");
        assert!(err.contains("cm-etl-pipeline-phase2"), "{err}");
    }

    #[test]
    fn without_a_name_the_only_state_machine_is_meant_and_of_several_none() {
        let config = DeployConfig::parse(&committed(), Path::new("deploy.toml")).unwrap();
        let (name, _) = config
            .state_machine(None, Path::new("deploy.toml"))
            .unwrap();
        assert_eq!(name.as_str(), "cm-etl-pipeline-phase2");

        let tables = &committed()[committed().find("[state_machines.").unwrap()..];
        let two = format!(
            "{}\n{}",
            committed(),
            tables.replace(
                "[state_machines.cm-etl-pipeline-phase2",
                "[state_machines.nightly"
            )
        );
        let config = DeployConfig::parse(&two, Path::new("deploy.toml")).unwrap();
        let err = config
            .state_machine(None, Path::new("deploy.toml"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "deploy.toml defines several state machines (cm-etl-pipeline-phase2, nightly); \
             pass --state-machine NAME"
        );
        let (name, _) = config
            .state_machine(Some("nightly"), Path::new("deploy.toml"))
            .unwrap();
        assert_eq!(name.as_str(), "nightly");
    }

    fn parse_error(text: &str) -> String {
        DeployConfig::parse(text, Path::new("deploy.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_environment_cannot_override_deploy_or_carry_a_password() {
        let with_env = |line: &str| {
            committed().replace(
                "[function.environment]\n",
                &format!("[function.environment]\n{line}\n"),
            )
        };
        let err = parse_error(&with_env("CHUNK_STORE_URI = \"s3://elsewhere/\""));
        assert!(err.contains("`CHUNK_STORE_URI` is set by deploy"), "{err}");
        assert!(err.contains("line "), "{err}");

        let url = "postgres://etl:s3cret@db.internal/warehouse";
        let text = with_env(&format!("DATABASE_URL = \"{url}\""))
            .replace("warehouse_secret_arn = ", "# warehouse_secret_arn = ");
        let err = parse_error(&text);
        assert!(err.contains("carries a password"), "{err}");
        assert!(!err.contains("s3cret"), "the password is echoed: {err}");

        let sqlite = with_env("DATABASE_URL = \"sqlite:///tmp/warehouse.db\"");
        let err = parse_error(&sqlite);
        assert!(err.contains("both name the warehouse"), "{err}");
        let without_secret = sqlite.replace("warehouse_secret_arn = ", "# warehouse_secret_arn = ");
        DeployConfig::parse(&without_secret, Path::new("deploy.toml")).unwrap();

        let err = parse_error(&with_env("1BAD = \"x\""));
        assert!(
            err.contains("`1BAD` is not an environment variable name"),
            "{err}"
        );
    }

    /// The one-line error for `text`, which must name `key` and the line that sets it.
    fn error_at_key(text: &str, key: &str, line_text: &str) -> String {
        let err = parse_error(text);
        let line = text.lines().position(|l| l.contains(line_text)).unwrap() + 1;
        // An element of a list is named by its index: `key[0]`.
        assert!(
            err.contains(&format!("line {line}: `{key}`"))
                || err.contains(&format!("line {line}: `{key}[")),
            "no line {line} and `{key}` in: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        err
    }

    #[test]
    fn chunks_expire_after_7_days_unless_set_from_1_to_3650() {
        let config = DeployConfig::parse(&committed(), Path::new("deploy.toml")).unwrap();
        assert_eq!(config.chunk_store.expire_after_days.get(), 7);
        let without = committed().replace("expire_after_days = 7\n", "");
        assert_ne!(without, committed());
        let config = DeployConfig::parse(&without, Path::new("deploy.toml")).unwrap();
        assert_eq!(
            config.chunk_store.expire_after_days,
            ExpireAfterDays::default()
        );
        let year = committed().replace("expire_after_days = 7", "expire_after_days = 365");
        let config = DeployConfig::parse(&year, Path::new("deploy.toml")).unwrap();
        assert_eq!(config.chunk_store.expire_after_days.get(), 365);
        for days in ["0", "3651", "\"7\""] {
            let text = committed().replace(
                "expire_after_days = 7",
                &format!("expire_after_days = {days}"),
            );
            error_at_key(
                &text,
                "chunk_store.expire_after_days",
                "expire_after_days =",
            );
        }
    }

    /// The committed file with its commented `[function.vpc]` example turned on, then `edit`ed.
    fn with_vpc(subnets: &str, groups: &str) -> String {
        let text = committed().replace("# [function.vpc]\n", "[function.vpc]\n");
        assert_ne!(
            text,
            committed(),
            "the committed file shows a [function.vpc] example"
        );
        let text = text
            .lines()
            .map(|line| match line {
                l if l.starts_with("# subnet_ids = ") => format!("subnet_ids = {subnets}"),
                l if l.starts_with("# security_group_ids = ") => {
                    format!("security_group_ids = {groups}")
                }
                l => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        text + "\n"
    }

    #[test]
    fn a_vpc_needs_1_to_16_distinct_subnets_and_1_to_5_distinct_security_groups() {
        let text = with_vpc(
            r#"["subnet-0a1b2c3d", "subnet-0123456789abcdef0"]"#,
            r#"["sg-0a1b2c3d"]"#,
        );
        let config = DeployConfig::parse(&text, Path::new("deploy.toml")).unwrap();
        let vpc = config.function.vpc.unwrap();
        assert_eq!(vpc.subnet_ids.ids().len(), 2);
        assert_eq!(vpc.security_group_ids.ids()[0].as_str(), "sg-0a1b2c3d");
        assert_eq!(
            DeployConfig::parse(&committed(), Path::new("deploy.toml"))
                .unwrap()
                .function
                .vpc,
            None,
            "no VPC in the committed file"
        );

        let subnets = |n: usize| {
            let ids: Vec<String> = (0..n).map(|i| format!("\"subnet-{i:08x}\"")).collect();
            format!("[{}]", ids.join(", "))
        };
        let groups = |n: usize| {
            let ids: Vec<String> = (0..n).map(|i| format!("\"sg-{i:08x}\"")).collect();
            format!("[{}]", ids.join(", "))
        };
        DeployConfig::parse(
            &with_vpc(&subnets(16), &groups(5)),
            Path::new("deploy.toml"),
        )
        .unwrap();
        for (subnet_list, group_list, key, needle) in [
            (
                subnets(17),
                groups(1),
                "function.vpc.subnet_ids",
                "17 ids given: list 1 to 16",
            ),
            (
                subnets(0),
                groups(1),
                "function.vpc.subnet_ids",
                "0 ids given",
            ),
            (
                subnets(1),
                groups(6),
                "function.vpc.security_group_ids",
                "list 1 to 5",
            ),
            (
                r#"["subnet-0a1b2c3d", "subnet-0a1b2c3d"]"#.into(),
                groups(1),
                "function.vpc.subnet_ids",
                "`subnet-0a1b2c3d` is listed twice",
            ),
            (
                r#"["subnet-0a1b2c3"]"#.into(),
                groups(1),
                "function.vpc.subnet_ids",
                "is not a subnet id",
            ),
            (
                r#"["subnet-0A1B2C3D"]"#.into(),
                groups(1),
                "function.vpc.subnet_ids",
                "is not a subnet id",
            ),
            (
                subnets(1),
                r#"["sg-0a1b2c3g"]"#.into(),
                "function.vpc.security_group_ids",
                "is not a security group id",
            ),
            (
                subnets(1),
                r#"["subnet-0a1b2c3d"]"#.into(),
                "function.vpc.security_group_ids",
                "is not a security group id",
            ),
        ] {
            let text = with_vpc(&subnet_list, &group_list);
            let line_text = format!("{} = ", key.rsplit('.').next().unwrap());
            let err = error_at_key(&text, key, &line_text);
            assert!(err.contains(needle), "{subnet_list} {group_list}: {err}");
        }
        // A multi-line array is named by its key's line.
        let text = with_vpc(
            "[\n  \"subnet-0a1b2c3d\",\n  \"subnet-bad\",\n]",
            &groups(1),
        );
        let err = error_at_key(&text, "function.vpc.subnet_ids", "subnet_ids = [");
        assert!(err.contains("`subnet-bad` is not a subnet id"), "{err}");
        let unknown = with_vpc(&subnets(1), &groups(1)).replace(
            "[function.vpc]\n",
            "[function.vpc]\nvpc_id = \"vpc-0a1b2c3d\"\n",
        );
        error_at_key(&unknown, "function.vpc.vpc_id", "vpc_id =");
    }

    #[test]
    fn the_secret_kms_key_is_a_key_arn_in_the_secret_region_and_needs_the_secret() {
        let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let with_key = |value: &str| {
            committed().replace(
                "# warehouse_secret_kms_key_arn = ",
                &format!("warehouse_secret_kms_key_arn = \"{value}\" #"),
            )
        };
        assert_ne!(
            with_key(key),
            committed(),
            "the committed file shows the key"
        );
        let config = DeployConfig::parse(&with_key(key), Path::new("deploy.toml")).unwrap();
        assert_eq!(
            config
                .function
                .warehouse_secret_kms_key_arn
                .unwrap()
                .as_str(),
            key
        );
        let at_key = "warehouse_secret_kms_key_arn =";
        for bad in [
            "arn:aws:kms:us-east-1:123456789012:alias/cm-etl",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            let err = error_at_key(
                &with_key(bad),
                "function.warehouse_secret_kms_key_arn",
                at_key,
            );
            assert!(err.contains("is not the ARN of a KMS key"), "{err}");
        }
        let other_region = key.replace("us-east-1", "eu-west-1");
        let err = error_at_key(
            &with_key(&other_region),
            "function.warehouse_secret_kms_key_arn",
            at_key,
        );
        assert!(
            err.contains("is in eu-west-1 but the warehouse secret is in us-east-1"),
            "{err}"
        );
        let without_secret =
            with_key(key).replace("warehouse_secret_arn = ", "# warehouse_secret_arn = ");
        let err = error_at_key(
            &without_secret,
            "function.warehouse_secret_kms_key_arn",
            at_key,
        );
        assert!(
            err.contains("without `function.warehouse_secret_arn`"),
            "{err}"
        );
    }

    #[test]
    fn the_chunk_store_kms_key_is_a_key_arn_in_the_region() {
        assert_eq!(
            DeployConfig::parse(&committed(), Path::new("deploy.toml"))
                .unwrap()
                .chunk_store
                .kms_key_arn,
            None
        );
        let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let with_key = |value: &str| {
            committed().replace("# kms_key_arn = ", &format!("kms_key_arn = \"{value}\" #"))
        };
        assert_ne!(
            with_key(key),
            committed(),
            "the committed file shows the key"
        );
        let config = DeployConfig::parse(&with_key(key), Path::new("deploy.toml")).unwrap();
        let parsed = config.chunk_store.kms_key_arn.unwrap();
        assert_eq!(parsed.as_str(), key);
        assert_eq!(parsed.key_id(), "1234abcd-12ab-34cd-56ef-1234567890ab");
        for bad in [
            "arn:aws:kms:us-east-1:123456789012:alias/aws/s3",
            "arn:aws:s3:::cm-etl-phase2-chunks",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            // The line's own text: the commented warehouse key above has `kms_key_arn =` too.
            let line = format!("kms_key_arn = \"{bad}\" #");
            let err = error_at_key(&with_key(bad), "chunk_store.kms_key_arn", &line);
            assert!(err.contains("is not the ARN of a KMS key"), "{err}");
        }
        let other_region = key.replace("us-east-1", "eu-west-1");
        let err = error_at_key(
            &with_key(&other_region),
            "chunk_store.kms_key_arn",
            &format!("kms_key_arn = \"{other_region}\" #"),
        );
        assert!(
            err.contains("is in eu-west-1 but the bucket is in us-east-1"),
            "{err}"
        );
    }

    #[test]
    fn the_warehouse_tls_opt_out_is_absent_unless_named_and_only_deploy_sets_it() {
        let config = DeployConfig::parse(&committed(), Path::new("deploy.toml")).unwrap();
        assert_eq!(config.function.warehouse_insecure_transport, None);
        let with = |value: &str| {
            // The function's alias, the first of the two.
            committed().replacen(
                "alias = \"live\"\n",
                &format!("alias = \"live\"\nwarehouse_insecure_transport = {value}\n"),
                1,
            )
        };
        for (value, opt_out) in [
            ("\"unverified\"", InsecureTransport::Unverified),
            ("\"plaintext\"", InsecureTransport::Plaintext),
        ] {
            let config = DeployConfig::parse(&with(value), Path::new("deploy.toml")).unwrap();
            assert_eq!(config.function.warehouse_insecure_transport, Some(opt_out));
        }
        let err = error_at_key(
            &with("\"yes\""),
            "function.warehouse_insecure_transport",
            "warehouse_insecure_transport = ",
        );
        assert!(
            err.contains("unverified") && err.contains("plaintext"),
            "{err}"
        );
        let err = parse_error(&committed().replace(
            "[function.environment]\n",
            "[function.environment]\nWAREHOUSE_INSECURE_TRANSPORT = \"plaintext\"\n",
        ));
        assert!(
            err.contains("`WAREHOUSE_INSECURE_TRANSPORT` is set by deploy"),
            "{err}"
        );
    }

    #[test]
    fn a_password_anywhere_in_database_url_is_refused_and_never_echoed() {
        for url in [
            "postgres://etl:s3cret@db.internal/warehouse",
            "postgres://etl@db.internal/warehouse?password=s3cret",
            "postgres://etl@db.internal/warehouse?sslmode=require&PASSWORD=s3cret",
            "postgres://etl@db.internal/warehouse?pass%77ord=s3cret",
            "postgres://etl@db.internal/warehouse?sslpassword=s3cret",
        ] {
            let text = committed()
                .replace(
                    "[function.environment]\n",
                    &format!("[function.environment]\nDATABASE_URL = \"{url}\"\n"),
                )
                .replace("warehouse_secret_arn = ", "# warehouse_secret_arn = ");
            let err = parse_error(&text);
            assert!(err.contains("carries a password"), "{url}: {err}");
            assert!(
                !err.contains("s3cret"),
                "{url}: the password is echoed: {err}"
            );
        }
        let err = parse_error(&committed().replace(
            "role_arn = \"arn:aws:iam::123456789012:role/cm-etl-phase2-lambda\"",
            "role_arn = \"postgres://etl:s3cret@db/w\"",
        ));
        assert!(
            err.contains("is not an ARN") && !err.contains("s3cret"),
            "{err}"
        );
    }

    #[test]
    fn every_error_is_one_line_naming_the_file_line_and_key() {
        let text = committed().replace("timeout_seconds = 900", "timeout_seconds = \"900\"");
        let line = text
            .lines()
            .position(|l| l.starts_with("timeout_seconds"))
            .unwrap()
            + 1;
        let err = parse_error(&text);
        assert!(
            err.starts_with(&format!(
                "deploy.toml line {line}: `function.timeout_seconds`: "
            )),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");

        let err = parse_error(&committed().replace("[chunking]", "[chunking"));
        assert!(err.starts_with("deploy.toml line "), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }

    #[test]
    fn logging_other_than_off_needs_a_log_group() {
        for level in ["ALL", "ERROR", "FATAL"] {
            let text = committed().replace("level = \"OFF\"", &format!("level = \"{level}\""));
            let line = text
                .lines()
                .position(|l| l.starts_with("level = "))
                .unwrap()
                + 1;
            let err = parse_error(&text);
            assert!(
                err.starts_with(&format!("deploy.toml line {line}: "))
                    && err.contains(&format!(
                        "is {level}, which needs a CloudWatch Logs group: add `log_group_arn"
                    )),
                "{err}"
            );
            let with_group = text.replace(
                &format!("level = \"{level}\"\n"),
                &format!("level = \"{level}\"\nlog_group_arn = \"arn:aws:logs:us-east-1:123456789012:log-group:sfn:*\"\n"),
            );
            DeployConfig::parse(&with_group, Path::new("deploy.toml")).unwrap();
        }
    }
}
