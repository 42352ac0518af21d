//! The S3 side of bootstrap: the chunk bucket, with default encryption (SSE-S3, or SSE-KMS with
//! `[chunk_store] kms_key_arn`), every public access block on, a bucket policy refusing requests
//! without TLS, and a lifecycle rule expiring the chunk prefix after `[chunk_store]
//! expire_after_days`. The bucket's other policy statements and lifecycle rules are kept.
//!
//! A versioned bucket (or one whose versioning is turned on later) keeps nothing longer either: a
//! DeleteObject there only adds a delete marker, so the rule also expires noncurrent versions a day
//! after they stop being current, and, as S3 does for a rule with `Days`, removes the delete
//! markers left with no version behind them. Bootstrap does not own the bucket's versioning, so the
//! rule is the same whatever it is.
//!
//! A bucket already encrypting by default with a customer-managed KMS key other than the
//! configured one (or with none configured) is refused: the roles could not read its objects.

use std::fmt;

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    CreateBucketConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use serde_json::{Value, json};

use crate::aws::AwsClients;
use crate::aws::error::service_error_code;
use crate::config::{DeployConfig, KmsKeyArn};

/// The id of the lifecycle rule bootstrap owns.
pub const LIFECYCLE_RULE_ID: &str = "cm-etl-expire-chunks";
/// The `Sid` of the bucket policy statement bootstrap owns.
pub const TLS_ONLY_SID: &str = "DenyRequestsWithoutTls";
/// Days after which an unfinished multipart upload under the prefix is aborted.
const ABORT_UPLOADS_AFTER_DAYS: i32 = 1;
/// Days a version under the prefix is kept once it is no longer current (deleted or expired, on a
/// versioned bucket): the least S3 allows. A noncurrent chunk serves no redrive.
const NONCURRENT_VERSIONS_KEPT_DAYS: i32 = 1;

/// The chunk bucket as deploy.toml describes it.
pub struct ChunkBucket {
    pub name: String,
    pub prefix: String,
    pub expire_after_days: i32,
    /// The key of SSE-KMS; none: SSE-S3.
    pub kms_key: Option<KmsKeyArn>,
}

/// A bucket's default encryption as GetBucketEncryption answers it.
#[derive(Debug, PartialEq)]
enum LiveEncryption {
    None,
    SseS3,
    /// SSE-KMS (or DSSE-KMS), with the key it names; none: AWS's managed key `aws/s3`.
    Kms(Option<String>),
}

/// One S3 write.
pub enum BucketStep {
    Create {
        bucket: String,
    },
    /// Puts the bucket's default encryption: SSE-KMS with `key`, or SSE-S3.
    Encrypt {
        bucket: String,
        key: Option<String>,
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
            BucketStep::Encrypt { bucket, key: None } => write!(
                f,
                "turn on default encryption (SSE-S3, AES256) of the bucket {bucket}"
            ),
            BucketStep::Encrypt {
                bucket,
                key: Some(key),
            } => write!(
                f,
                "turn on default encryption (SSE-KMS with the key {key}, S3 Bucket Key on) of the bucket {bucket}"
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
                "expire the objects under s3://{bucket}/{prefix} after {days} days (on a versioned bucket: their noncurrent versions {NONCURRENT_VERSIONS_KEPT_DAYS} day after they stop being current, and their leftover delete markers) and abort their unfinished uploads after {ABORT_UPLOADS_AFTER_DAYS} day (lifecycle rule {LIFECYCLE_RULE_ID})"
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
            kms_key: store.kms_key_arn.clone(),
        }
    }

    fn encrypt(&self) -> BucketStep {
        BucketStep::Encrypt {
            bucket: self.name.clone(),
            key: self.kms_key.as_ref().map(|key| key.to_string()),
        }
    }

    /// Whether the bucket's default encryption must be put (SSE-S3 or AWS's managed key becomes
    /// the configured key: objects already there stay readable), or an error when the bucket
    /// encrypts with a customer-managed key the roles may not use.
    fn must_encrypt(&self, live: &LiveEncryption) -> anyhow::Result<bool> {
        let bucket = &self.name;
        let live_key = match live {
            LiveEncryption::None => return Ok(true),
            LiveEncryption::SseS3 | LiveEncryption::Kms(None) => return Ok(self.kms_key.is_some()),
            LiveEncryption::Kms(Some(key))
                if key == "alias/aws/s3" || key.ends_with(":alias/aws/s3") =>
            {
                return Ok(self.kms_key.is_some());
            }
            LiveEncryption::Kms(Some(key)) => key,
        };
        match &self.kms_key {
            Some(ours) if live_key == ours.as_str() || live_key == ours.key_id() => Ok(false),
            Some(ours) => anyhow::bail!(
                "the bucket {bucket} encrypts objects by default with the KMS key {live_key}, but deploy.toml's `chunk_store.kms_key_arn` is {ours}: the roles may use only that key, and the objects already in the bucket are encrypted with the other; set `kms_key_arn` to the bucket's key (its key ARN) and run `cargo run -- synth`, or change the bucket's default encryption to {ours} yourself once nothing under s3://{bucket}/{} needs the old key",
                self.prefix
            ),
            None => anyhow::bail!(
                "the bucket {bucket} encrypts objects by default with the KMS key {live_key}, but deploy.toml names no `chunk_store.kms_key_arn`, so the roles would get no permission to use that key: add `kms_key_arn = \"<that key's ARN>\"` under [chunk_store] and run `cargo run -- synth`, or change the bucket's default encryption to SSE-S3"
            ),
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
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(NONCURRENT_VERSIONS_KEPT_DAYS)
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
                .noncurrent_version_expiration()
                .and_then(|n| n.noncurrent_days())
                == Some(NONCURRENT_VERSIONS_KEPT_DAYS)
            && rule
                .abort_incomplete_multipart_upload()
                .and_then(|a| a.days_after_initiation())
                == Some(ABORT_UPLOADS_AFTER_DAYS)
    }

    /// Reads the bucket and each setting; the steps that make them what deploy.toml says.
    pub async fn plan(&self, aws: &AwsClients) -> anyhow::Result<Vec<BucketStep>> {
        let bucket = self.name.clone();
        let exists = match aws.s3.head_bucket().bucket(&bucket).send().await {
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
            Err(err) => return Err(aws.fail(&err, "HeadBucket")),
        };
        if !exists {
            return Ok(vec![
                BucketStep::Create {
                    bucket: bucket.clone(),
                },
                self.encrypt(),
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
        let live_encryption = match aws.s3.get_bucket_encryption().bucket(&bucket).send().await {
            Ok(output) => output
                .server_side_encryption_configuration()
                .map(|c| c.rules())
                .unwrap_or_default()
                .iter()
                .filter_map(|rule| rule.apply_server_side_encryption_by_default())
                .find_map(|default| match default.sse_algorithm() {
                    ServerSideEncryption::Aes256 => Some(LiveEncryption::SseS3),
                    ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse => Some(
                        LiveEncryption::Kms(default.kms_master_key_id().map(str::to_owned)),
                    ),
                    _ => None,
                })
                .unwrap_or(LiveEncryption::None),
            Err(err)
                if service_error_code(&err)
                    == Some("ServerSideEncryptionConfigurationNotFoundError") =>
            {
                LiveEncryption::None
            }
            Err(err) => return Err(aws.fail(&err, "GetBucketEncryption")),
        };
        if self.must_encrypt(&live_encryption)? {
            steps.push(self.encrypt());
        }

        let blocked = match aws
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
            Err(err)
                if service_error_code(&err) == Some("NoSuchPublicAccessBlockConfiguration") =>
            {
                false
            }
            Err(err) => return Err(aws.fail(&err, "GetPublicAccessBlock")),
        };
        if !blocked {
            steps.push(BucketStep::BlockPublicAccess {
                bucket: bucket.clone(),
            });
        }

        let live_policy = match aws.s3.get_bucket_policy().bucket(&bucket).send().await {
            Ok(output) => output.policy().map(str::to_owned),
            Err(err) if service_error_code(&err) == Some("NoSuchBucketPolicy") => None,
            Err(err) => return Err(aws.fail(&err, "GetBucketPolicy")),
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

        let live_rules = match aws
            .s3
            .get_bucket_lifecycle_configuration()
            .bucket(&bucket)
            .send()
            .await
        {
            Ok(output) => output.rules().to_vec(),
            Err(err) if service_error_code(&err) == Some("NoSuchLifecycleConfiguration") => {
                Vec::new()
            }
            Err(err) => return Err(aws.fail(&err, "GetBucketLifecycleConfiguration")),
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
    pub async fn apply(&self, aws: &AwsClients) -> anyhow::Result<()> {
        let s3 = &aws.s3;
        match self {
            BucketStep::Create { bucket } => {
                // us-east-1 is the one region that takes no location constraint.
                let location = (aws.region != "us-east-1").then(|| {
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(aws.region.as_str()))
                        .build()
                });
                s3.create_bucket()
                    .bucket(bucket)
                    .set_create_bucket_configuration(location)
                    .send()
                    .await
                    .map_err(|err| aws.fail(&err, "CreateBucket"))?;
            }
            BucketStep::Encrypt { bucket, key } => {
                let algorithm = match key {
                    Some(_) => ServerSideEncryption::AwsKms,
                    None => ServerSideEncryption::Aes256,
                };
                let by_default = ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(algorithm)
                    .set_kms_master_key_id(key.clone())
                    .build()?;
                // An S3 Bucket Key makes S3 ask KMS for a data key per bucket and period rather
                // than per object: the same permissions, far fewer (billed) KMS requests.
                let configuration = ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(by_default)
                            .set_bucket_key_enabled(key.is_some().then_some(true))
                            .build(),
                    )
                    .build()?;
                s3.put_bucket_encryption()
                    .bucket(bucket)
                    .server_side_encryption_configuration(configuration)
                    .send()
                    .await
                    .map_err(|err| aws.fail(&err, "PutBucketEncryption"))?;
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
                    .map_err(|err| aws.fail(&err, "PutPublicAccessBlock"))?;
            }
            BucketStep::RequireTls { bucket, policy } => {
                s3.put_bucket_policy()
                    .bucket(bucket)
                    .policy(policy)
                    .send()
                    .await
                    .map_err(|err| aws.fail(&err, "PutBucketPolicy"))?;
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
                    .map_err(|err| aws.fail(&err, "PutBucketLifecycleConfiguration"))?;
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
            kms_key: None,
        }
    }

    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const OTHER_KEY: &str =
        "arn:aws:kms:us-east-1:123456789012:key/99999999-12ab-34cd-56ef-1234567890ab";

    fn with_key(key: &str) -> ChunkBucket {
        ChunkBucket {
            kms_key: Some(KmsKeyArn::try_from(key.to_owned()).unwrap()),
            ..bucket("task02/", 7)
        }
    }

    #[test]
    fn sse_s3_or_aws_managed_keys_become_the_configured_key_and_a_matching_key_is_kept() {
        let kms = |key: Option<&str>| LiveEncryption::Kms(key.map(str::to_owned));
        let sse_s3 = bucket("task02/", 7);
        let keyed = with_key(KEY);
        for (live, s3_must, keyed_must) in [
            (LiveEncryption::None, true, true),
            (LiveEncryption::SseS3, false, true),
            (kms(None), false, true),
            (kms(Some("alias/aws/s3")), false, true),
            (
                kms(Some("arn:aws:kms:us-east-1:123456789012:alias/aws/s3")),
                false,
                true,
            ),
        ] {
            assert_eq!(sse_s3.must_encrypt(&live).unwrap(), s3_must, "{live:?}");
            assert_eq!(keyed.must_encrypt(&live).unwrap(), keyed_must, "{live:?}");
        }
        // The key as its ARN or as its bare id.
        assert!(!keyed.must_encrypt(&kms(Some(KEY))).unwrap());
        assert!(
            !keyed
                .must_encrypt(&kms(Some("1234abcd-12ab-34cd-56ef-1234567890ab")))
                .unwrap()
        );
        assert_eq!(
            keyed.encrypt().to_string(),
            format!(
                "turn on default encryption (SSE-KMS with the key {KEY}, S3 Bucket Key on) of the bucket b"
            )
        );
    }

    #[test]
    fn a_customer_key_other_than_the_configured_one_is_refused_naming_both() {
        let kms = LiveEncryption::Kms(Some(OTHER_KEY.to_owned()));
        let err = with_key(KEY).must_encrypt(&kms).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "with the KMS key {OTHER_KEY}, but deploy.toml's `chunk_store.kms_key_arn` is {KEY}"
            )),
            "{err}"
        );
        assert!(
            err.contains("set `kms_key_arn` to the bucket's key"),
            "{err}"
        );
        let err = bucket("task02/", 7)
            .must_encrypt(&kms)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!(
                "with the KMS key {OTHER_KEY}, but deploy.toml names no `chunk_store.kms_key_arn`"
            )),
            "{err}"
        );
        assert!(err.contains("add `kms_key_arn = "), "{err}");
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
        // A rule of before noncurrent versions expired is not current either.
        let mut without_noncurrent = ours.lifecycle_rule();
        without_noncurrent.noncurrent_version_expiration = None;
        assert!(!ours.is_current(&without_noncurrent));
        assert_eq!(
            ours.lifecycle_rule()
                .noncurrent_version_expiration()
                .and_then(|n| n.noncurrent_days()),
            Some(1)
        );
    }
}
