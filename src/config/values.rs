//! The checked values of deploy.toml: each a small type whose rule is checked while the file is
//! parsed (a region, an account id, an ARN, a name, a number in its range), so a loaded
//! `DeployConfig` holds only valid values.

use std::fmt;

use asl::limits::{DISTRIBUTED_MAP_MAX_CONCURRENCY, MAP_LABEL_CHARS};
use etl_lambda::warehouse::database_url;
use serde::{Deserialize, Serialize};

use super::function::is_ec2_id;

/// Declares a string newtype that is checked while `deploy.toml` is parsed.
macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $rule:expr, $check:expr) => {
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
    ($(#[$doc:meta])* $name:ident, $min:literal ..= $max:tt) => {
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
    DistributedConcurrency, 1..=DISTRIBUTED_MAP_MAX_CONCURRENCY
);
checked_range!(
    /// Days before the chunk store's lifecycle rule expires a chunk object.
    ExpireAfterDays, 1..=3650
);

checked_range!(
    /// State machine versions deploy keeps: Step Functions allows 1,000 per state machine.
    KeptReleases, 1..={ asl::limits::STATE_MACHINE_VERSIONS }
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
    format!(
        "is not a Map label: 1 to {MAP_LABEL_CHARS} characters, without whitespace, control characters or any of < > {{ }} [ ] ? * \" # % \\ ^ | ~ ` $ & , ; : /"
    ),
    |s| asl::validate::label_problem(s).is_none()
);
