//! The function's settings at cold start: which warehouse (a URL, or the Secrets Manager secret
//! that holds one, with its TLS mode and root certificates), the TLS opt-out if deploy.toml gives
//! one, and which chunk store, read from the environment deploy sets (`contract::env`).
//!
//! The warehouse URL carries a password, so it lives in a secret, is never logged, and no error
//! here quotes it: messages name the variable or the secret's ARN instead.

use std::fmt;

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use crate::contract::{ChunkStoreUri, HandlerErrorName, env};
use crate::warehouse::{InsecureTransport, SslMode, TlsOptions};
use crate::{ChunkStores, HandlerError, Handlers, Warehouse};

/// Where the warehouse URL comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum WarehouseSource {
    /// `DATABASE_URL` itself (local runs and tests).
    Url(String),
    /// `WAREHOUSE_SECRET_ARN`: the secret's value is the URL, or an RDS-style JSON object.
    Secret {
        /// The secret's ARN (safe to log, unlike the URL).
        arn: String,
    },
}

impl fmt::Debug for WarehouseSource {
    /// Never prints a URL: it may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(_) => f.write_str("Url(..)"),
            Self::Secret { arn } => write!(f, "Secret({arn})"),
        }
    }
}

/// Everything the handlers need to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionSettings {
    /// Where the warehouse URL comes from.
    pub warehouse: WarehouseSource,
    /// The base chunk store; each execution's chunks go under `<base><execution>-<arn digest>/`.
    pub chunk_store: ChunkStoreUri,
    /// Create missing warehouse tables at cold start.
    pub create_schema: bool,
    /// deploy.toml's explicit opt-out of verified TLS to the warehouse, if any.
    pub insecure_transport: Option<InsecureTransport>,
}

impl FunctionSettings {
    /// Reads the settings through `var` (the process environment in the `etl-lambda` binary).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, HandlerError> {
        let var = |name: &str| var(name).filter(|value| !value.is_empty());
        let warehouse = match (var(env::DATABASE_URL), var(env::WAREHOUSE_SECRET_ARN)) {
            (Some(_), Some(_)) => {
                return Err(config_error(format!(
                    "both {} and {} are set; set one (deploy sets only the secret's ARN)",
                    env::DATABASE_URL,
                    env::WAREHOUSE_SECRET_ARN
                )));
            }
            (Some(url), None) => WarehouseSource::Url(url),
            (None, Some(arn)) => WarehouseSource::Secret { arn },
            (None, None) => {
                return Err(config_error(format!(
                    "neither {} nor {} is set; deploy sets the secret's ARN from deploy.toml's function.warehouse_secret_arn",
                    env::WAREHOUSE_SECRET_ARN,
                    env::DATABASE_URL
                )));
            }
        };
        let chunk_store = var(env::CHUNK_STORE_URI).ok_or_else(|| {
            config_error(format!(
                "{} is not set; give s3://bucket/prefix/",
                env::CHUNK_STORE_URI
            ))
        })?;
        let chunk_store = ChunkStoreUri::new(chunk_store).map_err(|_| {
            config_error(format!(
                "{} must be s3://bucket/prefix/",
                env::CHUNK_STORE_URI
            ))
        })?;
        let insecure_transport = var(env::WAREHOUSE_INSECURE_TRANSPORT)
            .map(|value| {
                InsecureTransport::parse(&value).ok_or_else(|| {
                    config_error(format!(
                        "{} is `{value}`; give unverified or plaintext (deploy.toml's function.warehouse_insecure_transport), or unset it to verify TLS",
                        env::WAREHOUSE_INSECURE_TRANSPORT
                    ))
                })
            })
            .transpose()?;
        Ok(Self {
            warehouse,
            chunk_store,
            create_schema: var(env::WAREHOUSE_CREATE_SCHEMA).as_deref() == Some("true"),
            insecure_transport,
        })
    }

    /// Reads the secret if there is one, connects the warehouse and builds the handlers; AWS
    /// clients (Secrets Manager, S3) come from `sdk_config`.
    pub async fn handlers(self, sdk_config: &SdkConfig) -> Result<Handlers, HandlerError> {
        let (url, root_certificates_pem) = match &self.warehouse {
            WarehouseSource::Url(url) => (url.clone(), None),
            WarehouseSource::Secret { arn } => {
                let client = aws_sdk_secretsmanager::Client::new(sdk_config);
                let secret = warehouse_from_secret(&client, arn).await?;
                (secret.url, secret.root_certificates_pem)
            }
        };
        let tls = TlsOptions {
            root_certificates_pem,
            insecure_transport: self.insecure_transport,
        };
        let warehouse = Warehouse::connect_with(&url, &tls).await?;
        if self.create_schema {
            warehouse.create_schema().await?;
        }
        Ok(Handlers::with_stores(
            warehouse,
            self.chunk_store,
            ChunkStores::with_sdk_config(sdk_config.clone()),
        ))
    }
}

/// The warehouse a secret names: its URL, and the root certificates an RDS secret may carry.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretWarehouse {
    /// The URL, with the secret's `sslmode` if it has one.
    pub url: String,
    /// The secret's `sslrootcert`: PEM text, the CA certificates that sign the server's.
    pub root_certificates_pem: Option<String>,
}

impl fmt::Debug for SecretWarehouse {
    /// Never prints the URL's password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretWarehouse")
            .field("url", &crate::warehouse::database_url::redacted(&self.url))
            .field(
                "root_certificates_pem",
                &self.root_certificates_pem.is_some(),
            )
            .finish()
    }
}

/// Reads the warehouse from the secret `arn`.
pub async fn warehouse_from_secret(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> Result<SecretWarehouse, HandlerError> {
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|err| secret_read_error(&err, arn))?;
    let value = output.secret_string().ok_or_else(|| {
        config_error(format!(
            "the secret {arn} holds binary data; store the warehouse URL as its secret string"
        ))
    })?;
    warehouse_of_secret_value(value)
        .map_err(|rule| config_error(format!("the secret {arn} {rule}")))
}

/// The warehouse in a secret's value: a URL (`postgres://...`, `sqlite://...`), or the JSON object
/// RDS writes for a managed secret (`engine`, `host`, `port`, `username`, `password`, `dbname`),
/// with optional `sslmode` and `sslrootcert` (the PEM text of the CA bundle). The error says what
/// is wrong without quoting the value.
pub fn warehouse_of_secret_value(value: &str) -> Result<SecretWarehouse, &'static str> {
    let value = value.trim();
    if value.starts_with('{') {
        let secret: RdsSecret = serde_json::from_str(value).map_err(|_| {
            "holds JSON that is not an RDS secret (engine, host, port, username, password, dbname)"
        })?;
        return secret.warehouse();
    }
    let url = |url: &str| SecretWarehouse {
        url: url.to_owned(),
        root_certificates_pem: None,
    };
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        if !crate::warehouse::parses(value) {
            return Err("holds a postgres:// URL that does not parse");
        }
        Ok(url(value))
    } else if value.starts_with("sqlite:") {
        Ok(url(value))
    } else {
        Err("holds neither a postgres:// or sqlite:// URL nor an RDS JSON secret")
    }
}

/// The JSON shape of an RDS-managed database secret.
#[derive(Deserialize)]
struct RdsSecret {
    engine: String,
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    username: String,
    password: String,
    #[serde(default = "default_dbname")]
    dbname: String,
    /// libpq's name of the TLS mode (none: verify-full).
    #[serde(default)]
    sslmode: Option<String>,
    /// The PEM text of the CA certificates the server's chains to (none: the system's roots).
    #[serde(default)]
    sslrootcert: Option<String>,
}

fn default_port() -> u16 {
    5432
}

fn default_dbname() -> String {
    "postgres".into()
}

impl RdsSecret {
    fn warehouse(&self) -> Result<SecretWarehouse, &'static str> {
        if !matches!(
            self.engine.as_str(),
            "postgres" | "postgresql" | "aurora-postgresql"
        ) {
            return Err("is for a database engine other than PostgreSQL");
        }
        // Everything but RFC 3986's unreserved characters, so `@ : / %` in a password stay data.
        const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~');
        let encode = |part: &str| utf8_percent_encode(part, COMPONENT).to_string();
        let mut url = format!(
            "postgres://{}:{}@{}:{}/{}",
            encode(&self.username),
            encode(&self.password),
            encode(&self.host),
            self.port,
            encode(&self.dbname)
        );
        if let Some(mode) = &self.sslmode {
            if SslMode::parse(mode).is_none() {
                return Err(
                    "has an sslmode that is none of disable, allow, prefer, require, verify-ca, verify-full",
                );
            }
            url = format!("{url}?sslmode={mode}");
        }
        // A path would name a file of the function's host, which a secret cannot know.
        if let Some(pem) = &self.sslrootcert
            && !pem.trim_start().starts_with("-----BEGIN ")
        {
            return Err(
                "has an sslrootcert that is not PEM text; store the CA bundle's text (RDS: global-bundle.pem), not a path",
            );
        }
        Ok(SecretWarehouse {
            url,
            root_certificates_pem: self.sslrootcert.clone(),
        })
    }
}

fn secret_read_error<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>, arn: &str) -> HandlerError {
    let code = err.code().unwrap_or_default();
    match code {
        "ResourceNotFoundException" => config_error(format!(
            "the secret {arn} does not exist; create it with the warehouse URL, or fix deploy.toml's function.warehouse_secret_arn"
        )),
        "AccessDeniedException" => config_error(format!(
            "the function's role may not read the secret {arn}; give it secretsmanager:GetSecretValue (see definitions/iam/lambda-role-policy.json)"
        )),
        "DecryptionFailure" => config_error(format!(
            "the secret {arn} cannot be decrypted with its KMS key; give the function's role kms:Decrypt on it"
        )),
        "" => HandlerError::transient(
            "reading the warehouse secret",
            "Secrets Manager could not be reached",
        ),
        code => HandlerError::transient("reading the warehouse secret", code),
    }
}

/// The function's configuration is wrong: not retryable, and no request to blame.
fn config_error(message: String) -> HandlerError {
    HandlerError::new(HandlerErrorName::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<FunctionSettings, HandlerError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        FunctionSettings::from_env(|name| vars.get(name).cloned())
    }

    #[test]
    fn the_secret_arn_or_the_url_names_the_warehouse_never_both() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:w";
        let store = (env::CHUNK_STORE_URI, "s3://bucket/task02/");
        let from_secret = settings(&[(env::WAREHOUSE_SECRET_ARN, arn), store]).unwrap();
        assert_eq!(
            from_secret.warehouse,
            WarehouseSource::Secret { arn: arn.into() }
        );
        assert!(!from_secret.create_schema);

        let url = "postgres://etl:s3cret@db/w";
        let both = settings(&[
            (env::WAREHOUSE_SECRET_ARN, arn),
            (env::DATABASE_URL, url),
            store,
        ])
        .unwrap_err();
        assert!(both.message.contains("both"), "{both}");
        assert!(!both.message.contains("s3cret"), "{both}");

        let neither = settings(&[store]).unwrap_err();
        assert!(
            neither.message.contains("WAREHOUSE_SECRET_ARN"),
            "{neither}"
        );

        let no_store = settings(&[(env::DATABASE_URL, url)]).unwrap_err();
        assert!(no_store.message.contains("CHUNK_STORE_URI"), "{no_store}");
        let direct = settings(&[(env::DATABASE_URL, url), store]).unwrap();
        assert!(!format!("{direct:?}").contains("s3cret"));
    }

    #[test]
    fn a_secret_holds_a_url_or_an_rds_json_object() {
        assert_eq!(
            warehouse_of_secret_value(" postgres://u:p@h:5432/db?sslmode=verify-full\n").unwrap(),
            SecretWarehouse {
                url: "postgres://u:p@h:5432/db?sslmode=verify-full".to_owned(),
                root_certificates_pem: None
            }
        );
        let rds = r#"{"engine":"postgres","host":"db.internal","port":6432,
                      "username":"etl","password":"p@ss:w/rd%","dbname":"warehouse"}"#;
        let warehouse = warehouse_of_secret_value(rds).unwrap();
        assert_eq!(warehouse.root_certificates_pem, None);
        let url = warehouse.url;
        assert_eq!(
            url,
            "postgres://etl:p%40ss%3Aw%2Frd%25@db.internal:6432/warehouse"
        );
        let parsed: tokio_postgres::Config = url.parse().unwrap();
        assert_eq!(parsed.get_password(), Some("p@ss:w/rd%".as_bytes()));
        assert_eq!(parsed.get_dbname(), Some("warehouse"));
        assert_eq!(parsed.get_ports(), [6432]);
        assert!(
            matches!(&parsed.get_hosts()[0], tokio_postgres::config::Host::Tcp(h) if h == "db.internal")
        );

        let mysql = rds.replace("postgres", "mysql");
        assert!(
            warehouse_of_secret_value(&mysql)
                .unwrap_err()
                .contains("other than PostgreSQL")
        );
        assert!(
            warehouse_of_secret_value("hunter2")
                .unwrap_err()
                .contains("neither")
        );
        assert!(
            warehouse_of_secret_value("postgres://etl:hunter2@db:notaport/w")
                .unwrap_err()
                .contains("does not parse")
        );
        assert!(
            warehouse_of_secret_value("{\"password\":\"x\"}")
                .unwrap_err()
                .contains("not an RDS secret")
        );
    }

    #[test]
    fn an_rds_secret_may_carry_the_tls_mode_and_the_root_certificates() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let secret = |extra: serde_json::Value| {
            let mut value = serde_json::json!({"engine": "postgres", "host": "db", "username": "etl", "password": "hunter2"});
            value
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            warehouse_of_secret_value(&value.to_string())
        };
        let warehouse =
            secret(serde_json::json!({"sslmode": "verify-full", "sslrootcert": pem})).unwrap();
        assert_eq!(
            warehouse.url,
            "postgres://etl:hunter2@db:5432/postgres?sslmode=verify-full"
        );
        assert_eq!(warehouse.root_certificates_pem.as_deref(), Some(pem));
        assert!(!format!("{warehouse:?}").contains("hunter2"));

        let err = secret(serde_json::json!({"sslmode": "verify_full"})).unwrap_err();
        assert!(err.contains("sslmode that is none of"), "{err}");
        let err =
            secret(serde_json::json!({"sslrootcert": "/opt/rds/global-bundle.pem"})).unwrap_err();
        assert!(err.contains("not PEM text"), "{err}");
    }

    #[test]
    fn the_tls_opt_out_is_read_and_checked() {
        let store = (env::CHUNK_STORE_URI, "s3://bucket/task02/");
        let url = (env::DATABASE_URL, "postgres://db/w");
        assert_eq!(settings(&[url, store]).unwrap().insecure_transport, None);
        for (value, opt_out) in [
            ("unverified", InsecureTransport::Unverified),
            ("plaintext", InsecureTransport::Plaintext),
        ] {
            let read = settings(&[url, store, (env::WAREHOUSE_INSECURE_TRANSPORT, value)]).unwrap();
            assert_eq!(read.insecure_transport, Some(opt_out));
        }
        let err = settings(&[url, store, (env::WAREHOUSE_INSECURE_TRANSPORT, "yes")]).unwrap_err();
        assert!(
            err.message.contains("give unverified or plaintext"),
            "{err}"
        );
    }
}
