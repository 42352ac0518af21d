//! The S3 side of bootstrap: the chunk bucket, with default encryption (SSE-S3), every public
//! access block on, a bucket policy refusing requests without TLS, and a lifecycle rule expiring
//! the chunk prefix after `[chunk_store] expire_after_days`. The bucket's other policy statements
//! and lifecycle rules are kept.

use std::fmt;

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    CreateBucketConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use serde_json::{Value, json};

use super::{Clients, error_code};
use crate::config::DeployConfig;

/// The id of the lifecycle rule bootstrap owns.
pub const LIFECYCLE_RULE_ID: &str = "cm-etl-expire-chunks";
/// The `Sid` of the bucket policy statement bootstrap owns.
pub const TLS_ONLY_SID: &str = "DenyRequestsWithoutTls";
/// Days after which an unfinished multipart upload under the prefix is aborted.
const ABORT_UPLOADS_AFTER_DAYS: i32 = 1;

/// The chunk bucket as deploy.toml describes it.
pub struct ChunkBucket {
    pub name: String,
    pub prefix: String,
    pub expire_after_days: i32,
}

/// One S3 write.
pub enum BucketStep {
    Create {
        bucket: String,
    },
    Encrypt {
        bucket: String,
    },
    BlockPublicAccess {
        bucket: String,
    },
    /// The whole policy to put: the bucket's other statements and ours.
    RequireTls {
        bucket: String,
        policy: String,
    },
    /// Every rule to put: the bucket's other rules and ours.
    ExpireChunks {
        bucket: String,
        prefix: String,
        days: i32,
        rules: Vec<LifecycleRule>,
    },
}

impl fmt::Display for BucketStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BucketStep::Create { bucket } => write!(f, "create the bucket {bucket}"),
            BucketStep::Encrypt { bucket } => write!(
                f,
                "turn on default encryption (SSE-S3, AES256) of the bucket {bucket}"
            ),
            BucketStep::BlockPublicAccess { bucket } => {
                write!(f, "block all public access to the bucket {bucket}")
            }
            BucketStep::RequireTls { bucket, .. } => write!(
                f,
                "deny requests without TLS to the bucket {bucket} (bucket policy statement {TLS_ONLY_SID})"
            ),
            BucketStep::ExpireChunks {
                bucket,
                prefix,
                days,
                ..
            } => write!(
                f,
                "expire the objects under s3://{bucket}/{prefix} after {days} days and abort their unfinished uploads after {ABORT_UPLOADS_AFTER_DAYS} day (lifecycle rule {LIFECYCLE_RULE_ID})"
            ),
        }
    }
}

impl ChunkBucket {
    pub fn from_config(config: &DeployConfig) -> Self {
        let store = &config.chunk_store;
        Self {
            name: store.bucket.to_string(),
            prefix: store.prefix.clone(),
            // 1..=3650 always fits.
            expire_after_days: store.expire_after_days.get() as i32,
        }
    }

    /// The statement denying every request made without TLS, on the bucket and its objects.
    fn tls_only_statement(&self) -> Value {
        json!({
            "Sid": TLS_ONLY_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [
                format!("arn:aws:s3:::{}", self.name),
                format!("arn:aws:s3:::{}/*", self.name),
            ],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        })
    }

    fn lifecycle_rule(&self) -> LifecycleRule {
        LifecycleRule::builder()
            .id(LIFECYCLE_RULE_ID)
            .filter(LifecycleRuleFilter::builder().prefix(&self.prefix).build())
            .status(ExpirationStatus::Enabled)
            .expiration(
                LifecycleExpiration::builder()
                    .days(self.expire_after_days)
                    .build(),
            )
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(ABORT_UPLOADS_AFTER_DAYS)
                    .build(),
            )
            .build()
            .expect("the rule has its status")
    }

    /// Whether `rule` is ours as we want it.
    fn is_current(&self, rule: &LifecycleRule) -> bool {
        let prefix = rule.filter().and_then(|filter| filter.prefix());
        rule.status() == &ExpirationStatus::Enabled
            && prefix.unwrap_or_default() == self.prefix
            && rule.expiration().and_then(|e| e.days()) == Some(self.expire_after_days)
            && rule
                .abort_incomplete_multipart_upload()
                .and_then(|a| a.days_after_initiation())
                == Some(ABORT_UPLOADS_AFTER_DAYS)
    }

    /// Reads the bucket and each setting; the steps that make them what deploy.toml says.
    pub async fn plan(&self, clients: &Clients) -> anyhow::Result<Vec<BucketStep>> {
        let bucket = self.name.clone();
        let exists = match clients.s3.head_bucket().bucket(&bucket).send().await {
            Ok(_) => true,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => false,
            Err(err)
                if err
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 403) =>
            {
                anyhow::bail!(
                    "the bucket {bucket} exists but these credentials cannot use it (bucket names are global: another account may own it); name another `[chunk_store] bucket` in deploy.toml, or run bootstrap as its owner"
                );
            }
            Err(err) => return Err(clients.fail(&err, "HeadBucket")),
        };
        if !exists {
            return Ok(vec![
                BucketStep::Create {
                    bucket: bucket.clone(),
                },
                BucketStep::Encrypt {
                    bucket: bucket.clone(),
                },
                BucketStep::BlockPublicAccess {
                    bucket: bucket.clone(),
                },
                BucketStep::RequireTls {
                    bucket: bucket.clone(),
                    policy: policy_with(None, self.tls_only_statement()),
                },
                BucketStep::ExpireChunks {
                    bucket,
                    prefix: self.prefix.clone(),
                    days: self.expire_after_days,
                    rules: vec![self.lifecycle_rule()],
                },
            ]);
        }

        let mut steps = Vec::new();
        // SSE-S3 is what bootstrap sets; a bucket already encrypted with KMS keys is left as it is.
        let encrypted = match clients
            .s3
            .get_bucket_encryption()
            .bucket(&bucket)
            .send()
            .await
        {
            Ok(output) => output
                .server_side_encryption_configuration()
                .map(|c| c.rules())
                .unwrap_or_default()
                .iter()
                .filter_map(|rule| rule.apply_server_side_encryption_by_default())
                .any(|default| {
                    matches!(
                        default.sse_algorithm(),
                        ServerSideEncryption::Aes256
                            | ServerSideEncryption::AwsKms
                            | ServerSideEncryption::AwsKmsDsse
                    )
                }),
            Err(err)
                if error_code(&err) == Some("ServerSideEncryptionConfigurationNotFoundError") =>
            {
                false
            }
            Err(err) => return Err(clients.fail(&err, "GetBucketEncryption")),
        };
        if !encrypted {
            steps.push(BucketStep::Encrypt {
                bucket: bucket.clone(),
            });
        }

        let blocked = match clients
            .s3
            .get_public_access_block()
            .bucket(&bucket)
            .send()
            .await
        {
            Ok(output) => output.public_access_block_configuration().is_some_and(|c| {
                c.block_public_acls() == Some(true)
                    && c.ignore_public_acls() == Some(true)
                    && c.block_public_policy() == Some(true)
                    && c.restrict_public_buckets() == Some(true)
            }),
            Err(err) if error_code(&err) == Some("NoSuchPublicAccessBlockConfiguration") => false,
            Err(err) => return Err(clients.fail(&err, "GetPublicAccessBlock")),
        };
        if !blocked {
            steps.push(BucketStep::BlockPublicAccess {
                bucket: bucket.clone(),
            });
        }

        let live_policy = match clients.s3.get_bucket_policy().bucket(&bucket).send().await {
            Ok(output) => output.policy().map(str::to_owned),
            Err(err) if error_code(&err) == Some("NoSuchBucketPolicy") => None,
            Err(err) => return Err(clients.fail(&err, "GetBucketPolicy")),
        };
        let ours = self.tls_only_statement();
        let live_policy: Option<Value> = match live_policy {
            None => None,
            Some(text) => Some(serde_json::from_str(&text).map_err(|err| {
                anyhow::anyhow!("the bucket {bucket}'s policy is not JSON ({err}); fix or delete it, then re-run bootstrap")
            })?),
        };
        let has_ours = live_policy
            .as_ref()
            .and_then(|policy| policy["Statement"].as_array())
            .is_some_and(|statements| statements.contains(&ours));
        if !has_ours {
            steps.push(BucketStep::RequireTls {
                bucket: bucket.clone(),
                policy: policy_with(live_policy, ours),
            });
        }

        let live_rules = match clients
            .s3
            .get_bucket_lifecycle_configuration()
            .bucket(&bucket)
            .send()
            .await
        {
            Ok(output) => output.rules().to_vec(),
            Err(err) if error_code(&err) == Some("NoSuchLifecycleConfiguration") => Vec::new(),
            Err(err) => return Err(clients.fail(&err, "GetBucketLifecycleConfiguration")),
        };
        let current = live_rules
            .iter()
            .any(|rule| rule.id() == Some(LIFECYCLE_RULE_ID) && self.is_current(rule));
        if !current {
            let mut rules: Vec<LifecycleRule> = live_rules
                .into_iter()
                .filter(|rule| rule.id() != Some(LIFECYCLE_RULE_ID))
                .collect();
            rules.push(self.lifecycle_rule());
            steps.push(BucketStep::ExpireChunks {
                bucket,
                prefix: self.prefix.clone(),
                days: self.expire_after_days,
                rules,
            });
        }
        Ok(steps)
    }
}

/// `policy` (or a new one) with `statement` in place of any statement with the same Sid.
fn policy_with(policy: Option<Value>, statement: Value) -> String {
    let mut policy = policy.unwrap_or_else(|| json!({"Version": "2012-10-17", "Statement": []}));
    let mut statements: Vec<Value> = match policy["Statement"].take() {
        Value::Array(statements) => statements,
        Value::Null => Vec::new(),
        single => vec![single],
    };
    statements.retain(|s| s["Sid"] != statement["Sid"]);
    statements.push(statement);
    policy["Statement"] = Value::Array(statements);
    serde_json::to_string(&policy).expect("a policy always serializes")
}

impl BucketStep {
    pub async fn apply(&self, clients: &Clients) -> anyhow::Result<()> {
        let s3 = &clients.s3;
        match self {
            BucketStep::Create { bucket } => {
                // us-east-1 is the one region that takes no location constraint.
                let location = (clients.region != "us-east-1").then(|| {
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(
                            clients.region.as_str(),
                        ))
                        .build()
                });
                s3.create_bucket()
                    .bucket(bucket)
                    .set_create_bucket_configuration(location)
                    .send()
                    .await
                    .map_err(|err| clients.fail(&err, "CreateBucket"))?;
            }
            BucketStep::Encrypt { bucket } => {
                let by_default = ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()?;
                let configuration = ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(by_default)
                            .build(),
                    )
                    .build()?;
                s3.put_bucket_encryption()
                    .bucket(bucket)
                    .server_side_encryption_configuration(configuration)
                    .send()
                    .await
                    .map_err(|err| clients.fail(&err, "PutBucketEncryption"))?;
            }
            BucketStep::BlockPublicAccess { bucket } => {
                s3.put_public_access_block()
                    .bucket(bucket)
                    .public_access_block_configuration(
                        PublicAccessBlockConfiguration::builder()
                            .block_public_acls(true)
                            .ignore_public_acls(true)
                            .block_public_policy(true)
                            .restrict_public_buckets(true)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|err| clients.fail(&err, "PutPublicAccessBlock"))?;
            }
            BucketStep::RequireTls { bucket, policy } => {
                s3.put_bucket_policy()
                    .bucket(bucket)
                    .policy(policy)
                    .send()
                    .await
                    .map_err(|err| clients.fail(&err, "PutBucketPolicy"))?;
            }
            BucketStep::ExpireChunks { bucket, rules, .. } => {
                s3.put_bucket_lifecycle_configuration()
                    .bucket(bucket)
                    .lifecycle_configuration(
                        BucketLifecycleConfiguration::builder()
                            .set_rules(Some(rules.clone()))
                            .build()?,
                    )
                    .send()
                    .await
                    .map_err(|err| clients.fail(&err, "PutBucketLifecycleConfiguration"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(prefix: &str, expire_after_days: i32) -> ChunkBucket {
        ChunkBucket {
            name: "b".into(),
            prefix: prefix.into(),
            expire_after_days,
        }
    }

    #[test]
    fn the_tls_statement_replaces_its_old_self_and_keeps_the_others() {
        let bucket = bucket("task02/", 7);
        let other = json!({"Sid": "TheirStatement", "Effect": "Allow", "Principal": {"AWS": "x"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"});
        let stale = json!({"Sid": TLS_ONLY_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b"});
        let live = json!({"Version": "2012-10-17", "Statement": [other, stale]});
        let merged: Value =
            serde_json::from_str(&policy_with(Some(live), bucket.tls_only_statement())).unwrap();
        assert_eq!(
            merged["Statement"],
            json!([other, bucket.tls_only_statement()])
        );
        let fresh: Value =
            serde_json::from_str(&policy_with(None, bucket.tls_only_statement())).unwrap();
        assert_eq!(fresh["Version"], "2012-10-17");
        assert_eq!(
            fresh["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"],
            "false"
        );
    }

    #[test]
    fn a_rule_with_other_days_or_prefix_is_not_current() {
        let ours = bucket("task02/", 7);
        assert!(ours.is_current(&ours.lifecycle_rule()));
        assert!(!ours.is_current(&bucket("task02/", 30).lifecycle_rule()));
        assert!(!ours.is_current(&bucket("other/", 7).lifecycle_rule()));
    }
}
