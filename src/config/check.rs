//! The rules of deploy.toml that span several keys (a KMS key in the bucket's region, an EXPRESS
//! Map within its time limit, ...), each reported on the line of the key to change.

use asl::limits::EXPRESS_EXECUTION_SECONDS;
use etl_lambda::contract::{ChunkStoreUri, env};

use super::error::{ConfigError, Source};
use super::{ChildExecutionType, DeployConfig, LogLevel};

impl DeployConfig {
    /// The rules that span several keys, each reported on the line of the key to change.
    pub(super) fn check(
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
                && function.timeout_seconds.get() > EXPRESS_EXECUTION_SECONDS
            {
                return invalid(
                    &["state_machines", name.as_str(), "map", "execution_type"],
                    format!(
                        "`state_machines.{name}.map.execution_type` is EXPRESS, whose child executions stop after {} s, but `function.timeout_seconds` is {}: lower the timeout to {} or use STANDARD",
                        EXPRESS_EXECUTION_SECONDS,
                        function.timeout_seconds.get(),
                        EXPRESS_EXECUTION_SECONDS
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
}
