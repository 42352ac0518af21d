//! TLS to the test PostgreSQL (tests/run.sh turns it on with a throwaway CA): the URL's `sslmode`
//! and `sslrootcert` mean what they mean to libpq, and a certificate from another CA is refused
//! with an error that says what to give.

mod common;

use common::required_env;
use etl_lambda::Warehouse;
use etl_lambda::contract::ErrorName;

fn url(params: &str) -> String {
    format!("{}?{params}", required_env("TEST_DATABASE_URL"))
}

fn encoded(path: &str) -> String {
    path.replace('%', "%25").replace('&', "%26")
}

async fn encrypted(url: &str) -> bool {
    let warehouse = Warehouse::connect(url)
        .await
        .unwrap_or_else(|err| panic!("connect: {err}"));
    warehouse.encrypted().await.unwrap()
}

#[tokio::test]
async fn require_encrypts_and_disable_does_not() {
    assert!(encrypted(&url("sslmode=require")).await);
    assert!(
        encrypted(&required_env("TEST_DATABASE_URL")).await,
        "prefer (the default) encrypts when the server offers TLS"
    );
    assert!(!encrypted(&url("sslmode=disable")).await);
}

#[tokio::test]
async fn sslrootcert_verifies_the_server_and_refuses_another_ca() {
    let ca = required_env("TEST_DATABASE_CA");
    assert!(
        encrypted(&url(&format!(
            "sslmode=require&sslrootcert={}",
            encoded(&ca)
        )))
        .await
    );

    let other = required_env("TEST_DATABASE_OTHER_CA");
    let err = Warehouse::connect(&url(&format!(
        "sslmode=require&sslrootcert={}",
        encoded(&other)
    )))
    .await
    .err()
    .expect("a certificate from another CA is refused");
    assert_eq!(err.name, ErrorName::InvalidInput, "{err}");
    assert!(
        err.message.contains("not signed by a CA in sslrootcert"),
        "{err}"
    );

    let err = Warehouse::connect(&url("sslrootcert=/nonexistent/ca.pem"))
        .await
        .err()
        .expect("a missing CA file is an error");
    assert!(
        err.message
            .contains("/nonexistent/ca.pem, which cannot be read"),
        "{err}"
    );
}
