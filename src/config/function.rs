//! `[function]`: the one Lambda function behind every Task, its extra environment, its VPC and
//! its architecture.

use std::collections::BTreeMap;
use std::fmt;

use etl_lambda::contract::env;
use etl_lambda::warehouse::{InsecureTransport, database_url};
use serde::{Deserialize, Serialize};

use super::values::{
    Arn, KmsKeyArn, MemoryMb, ResourceName, SecurityGroupId, SubnetId, TimeoutSeconds,
};

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
pub(super) fn is_ec2_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
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
