//! Cold start against moto's Secrets Manager: the function finds its warehouse through the secret
//! deploy names (a URL, or an RDS JSON secret pointing at the test PostgreSQL, carrying its TLS
//! mode and CA certificate), and a missing or malformed secret stops it with an error that names
//! the secret and never quotes its value.

use crate::common::{self, Engine, database_url, get_chunks, moto_sdk_config, sample, unique};
use etl_lambda::contract::{ChunkBudget, HandlerErrorName, env};
use etl_lambda::settings::FunctionSettings;
use etl_lambda::warehouse::InsecureTransport;

/// Stores `value` as a new secret on moto; returns its ARN.
async fn secret(value: &str) -> String {
    let client = aws_sdk_secretsmanager::Client::new(&moto_sdk_config());
    let created = client
        .create_secret()
        .name(format!("cm-etl/{}", unique("warehouse")))
        .secret_string(value)
        .send()
        .await
        .expect("create secret on moto");
    created.arn().expect("the secret's ARN").to_owned()
}

fn settings(arn: &str, chunk_store: &str) -> FunctionSettings {
    let vars = [
        (env::WAREHOUSE_SECRET_ARN, arn.to_owned()),
        (env::CHUNK_STORE_URI, chunk_store.to_owned()),
        (env::WAREHOUSE_CREATE_SCHEMA, "true".to_owned()),
    ];
    FunctionSettings::from_env(|name| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    })
    .unwrap()
}

#[tokio::test]
async fn a_url_secret_connects_the_warehouse_the_handlers_use() {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(Engine::Sqlite, &dir, "secret_url").await;
    let arn = secret(&url).await;
    let (_, bucket) = common::moto_bucket("secret-url").await;
    let store = format!("s3://{bucket}/task02/");

    let handlers = settings(&arn, &store)
        .handlers(&moto_sdk_config())
        .await
        .expect("cold start from the secret");
    assert_eq!(handlers.warehouse().engine_name(), "sqlite");

    // The tables were created in the file the secret names, and the handlers work on it.
    let data = sample(40, 2, 0);
    data.load_into(handlers.warehouse()).await.unwrap();
    let chunks = get_chunks(
        &handlers,
        "secret-exec",
        &data,
        ChunkBudget {
            max_rows: 20,
            max_keys: 10,
        },
    )
    .await;
    assert_eq!(chunks.num_chunks, 4);
    assert!(dir.path().join("warehouse.db").exists());
}

/// An RDS JSON secret for the test PostgreSQL, with `tls` (sslmode, sslrootcert) added.
fn rds_secret(tls: serde_json::Value) -> String {
    let url = common::required_env("TEST_DATABASE_URL");
    let base: tokio_postgres::Config = url.split('?').next().unwrap().parse().unwrap();
    let host = match &base.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
        other => panic!("TEST_DATABASE_URL must name a TCP host, not {other:?}"),
    };
    // The test cluster trusts loopback, so any password passes; this one needs encoding.
    let mut value = serde_json::json!({
        "engine": "postgres",
        "host": host,
        "port": base.get_ports().first().copied().unwrap_or(5432),
        "username": base.get_user().unwrap_or("postgres"),
        "password": "p@ss:w/rd%",
        "dbname": base.get_dbname().unwrap_or("postgres"),
    });
    let object = value.as_object_mut().unwrap();
    object.extend(tls.as_object().unwrap().clone());
    value.to_string()
}

fn test_ca_pem() -> String {
    std::fs::read_to_string(common::required_env("TEST_DATABASE_CA")).unwrap()
}

#[tokio::test]
async fn an_rds_json_secret_reaches_postgresql_verified_by_its_own_root_certificate() {
    let arn = secret(&rds_secret(serde_json::json!({
        "sslmode": "verify-full",
        "sslrootcert": test_ca_pem(),
    })))
    .await;
    let store = "s3://cm-etl-test-chunks/task02/";

    let mut settings = settings(&arn, store);
    settings.create_schema = false;
    let handlers = settings
        .handlers(&moto_sdk_config())
        .await
        .expect("cold start from the RDS secret");
    assert_eq!(handlers.warehouse().engine_name(), "postgres");
    assert!(handlers.warehouse().encrypted().await.unwrap());
    // The connection is live: a statement runs and its effect is visible.
    let schema = unique("secret_rds");
    let warehouse = handlers.warehouse();
    warehouse
        .execute_batch(&format!(
            "CREATE SCHEMA {schema}; SET search_path TO {schema}"
        ))
        .await
        .unwrap();
    warehouse.create_schema().await.unwrap();
    assert_eq!(warehouse.counts().await.unwrap().source_rows, 0);
}

#[tokio::test]
async fn an_rds_secret_without_its_ca_or_with_a_weak_mode_is_refused_unless_deploy_opts_out() {
    let store = "s3://cm-etl-test-chunks/task02/";
    let cold_start = |arn: String, opt_out: Option<InsecureTransport>| async move {
        let mut settings = settings(&arn, store);
        settings.create_schema = false;
        settings.insecure_transport = opt_out;
        settings.handlers(&moto_sdk_config()).await
    };

    // No sslrootcert: the system's roots, which do not hold the test CA.
    let arn = secret(&rds_secret(serde_json::json!({}))).await;
    let err = cold_start(arn, None).await.err().expect("refused");
    assert!(
        err.message.contains("does not chain to a trusted CA"),
        "{err}"
    );

    let arn = secret(&rds_secret(serde_json::json!({"sslmode": "disable"}))).await;
    let err = cold_start(arn.clone(), None).await.err().expect("refused");
    assert!(
        err.message.contains("sslmode=disable")
            && err
                .message
                .contains("function.warehouse_insecure_transport"),
        "{err}"
    );
    assert!(!err.message.contains("p@ss"), "{err}");
    let handlers = cold_start(arn, Some(InsecureTransport::Plaintext))
        .await
        .expect("deploy.toml's opt-out allows plain text");
    assert!(!handlers.warehouse().encrypted().await.unwrap());
}

#[tokio::test]
async fn a_missing_or_malformed_secret_is_named_and_never_quoted() {
    let store = "s3://cm-etl-test-chunks/task02/";

    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:cm-etl/nope-AbCdEf";
    let err = settings(missing, store)
        .handlers(&moto_sdk_config())
        .await
        .err()
        .expect("a missing secret fails the cold start");
    assert_eq!(err.name, HandlerErrorName::InvalidInput);
    assert!(err.message.contains(missing), "{err}");
    assert!(err.message.contains("does not exist"), "{err}");

    let arn = secret("hunter2-is-not-a-url").await;
    let err = settings(&arn, store)
        .handlers(&moto_sdk_config())
        .await
        .err()
        .expect("a malformed secret fails the cold start");
    assert!(err.message.contains(&arn), "{err}");
    assert!(err.message.contains("neither a postgres://"), "{err}");
    assert!(
        !err.message.contains("hunter2"),
        "the secret is quoted: {err}"
    );
}
