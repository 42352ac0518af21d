//! TLS to the test PostgreSQL (tests/run.sh turns it on with a throwaway CA; its certificate names
//! 127.0.0.1 and localhost). By default the tool requires TLS and verifies the chain and the host
//! name: a good certificate is accepted and encrypts; another CA's, another host's and a server
//! without TLS are refused, each with one line saying what to do; the weaker sslmodes need the
//! explicit opt-out `cm_etl_insecure_transport`, and with it behave as libpq's.

use crate::common::required_env;
use etl_lambda::Warehouse;
use etl_lambda::contract::HandlerErrorName;
use etl_lambda::warehouse::{InsecureTransport, TlsOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The test server's URL without its query: `postgres://postgres@127.0.0.1:PORT/cm_etl_test`.
fn base() -> String {
    let url = required_env("TEST_DATABASE_URL");
    url.split_once('?')
        .map_or(url.clone(), |(base, _)| base.to_owned())
}

fn url(params: &str) -> String {
    format!("{}?{params}", base())
}

fn encoded(path: &str) -> String {
    path.replace('%', "%25").replace('&', "%26")
}

fn ca() -> String {
    encoded(&required_env("TEST_DATABASE_CA"))
}

async fn encrypted(url: &str) -> bool {
    let warehouse = Warehouse::connect(url)
        .await
        .unwrap_or_else(|err| panic!("connect: {err}"));
    warehouse.encrypted().await.unwrap()
}

/// The one-line error refusing `url`.
async fn refusal(url: &str) -> String {
    let err = Warehouse::connect(url)
        .await
        .err()
        .unwrap_or_else(|| panic!("{url} is accepted"));
    assert_eq!(err.name, HandlerErrorName::InvalidInput, "{err}");
    assert_eq!(err.message.lines().count(), 1, "{err}");
    err.message
}

/// `url` reaching the test server at 127.0.0.1 while naming the host `host` (the name TLS checks).
fn as_host(host: &str, params: &str) -> String {
    let port: tokio_postgres::Config = base().parse().unwrap();
    let port = port.get_ports()[0];
    format!("postgres://postgres@{host}:{port}/cm_etl_test?hostaddr=127.0.0.1&{params}")
}

#[tokio::test]
async fn a_good_certificate_is_accepted_and_the_connection_encrypted() {
    assert!(
        encrypted(&required_env("TEST_DATABASE_URL")).await,
        "no sslmode means verify-full"
    );
    assert!(encrypted(&url(&format!("sslmode=verify-full&sslrootcert={}", ca()))).await);
    assert!(encrypted(&url(&format!("sslmode=verify-ca&sslrootcert={}", ca()))).await);
    // libpq's require with a root certificate checks the chain: no opt-out needed.
    assert!(encrypted(&url(&format!("sslmode=require&sslrootcert={}", ca()))).await);
    // The certificate's DNS name is checked too, not only its IP address.
    assert!(encrypted(&as_host("localhost", &format!("sslrootcert={}", ca()))).await);

    // The root certificates may come from outside the URL (an RDS secret's PEM).
    let pem = std::fs::read_to_string(required_env("TEST_DATABASE_CA")).unwrap();
    let tls = TlsOptions {
        root_certificates_pem: Some(pem),
        insecure_transport: None,
    };
    let warehouse = Warehouse::connect_with(&base(), &tls).await.unwrap();
    assert!(warehouse.encrypted().await.unwrap());
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let other = encoded(&required_env("TEST_DATABASE_OTHER_CA"));
    for url in [
        url(&format!("sslrootcert={other}")),
        url(&format!("sslmode=verify-ca&sslrootcert={other}")),
        // Without sslrootcert, the system's roots: they do not hold the throwaway CA.
        base(),
    ] {
        let err = refusal(&url).await;
        assert!(
            err.contains("does not chain to a trusted CA") && err.contains("sslrootcert=PATH"),
            "{url}: {err}"
        );
    }

    let err = refusal(&url("sslrootcert=/nonexistent/ca.pem")).await;
    assert!(
        err.contains("/nonexistent/ca.pem, which cannot be read"),
        "{err}"
    );
}

#[tokio::test]
async fn a_wrong_host_name_is_refused() {
    // The socket still goes to 127.0.0.1; only the name checked against the certificate differs.
    let err = refusal(&as_host(
        "db.example.invalid",
        &format!("sslrootcert={}", ca()),
    ))
    .await;
    assert!(err.contains("does not name the URL's host"), "{err}");
    // verify-ca checks the chain only, as libpq's does.
    assert!(
        encrypted(&as_host(
            "db.example.invalid",
            &format!("sslmode=verify-ca&sslrootcert={}", ca())
        ))
        .await
    );
}

#[tokio::test]
async fn weaker_modes_are_refused_unless_explicitly_opted_out() {
    for (mode, opt_out) in [
        ("disable", "plaintext"),
        ("allow", "plaintext"),
        ("prefer", "plaintext"),
        ("require", "unverified"),
    ] {
        // A password in the URL is never quoted.
        let with_password = format!(
            "postgres://postgres:s3cret@127.0.0.1:{}/cm_etl_test?sslmode={mode}",
            base()
                .rsplit_once(':')
                .unwrap()
                .1
                .split('/')
                .next()
                .unwrap()
        );
        let err = refusal(&with_password).await;
        assert!(
            err.contains(&format!("has sslmode={mode}, which"))
                && err.contains("use sslmode=verify-full")
                && err.contains(&format!("cm_etl_insecure_transport={opt_out}")),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }
    // With the opt-out they mean what they mean to libpq.
    assert!(!encrypted(&url("sslmode=disable&cm_etl_insecure_transport=plaintext")).await);
    assert!(encrypted(&url("sslmode=prefer&cm_etl_insecure_transport=plaintext")).await);
    assert!(encrypted(&url("sslmode=require&cm_etl_insecure_transport=unverified")).await);
    // The weaker opt-out does not allow plain text.
    assert!(
        refusal(&url("sslmode=disable&cm_etl_insecure_transport=unverified"))
            .await
            .contains("cm_etl_insecure_transport=plaintext")
    );
    // The opt-out may come from outside the URL (deploy.toml through the function's settings).
    let tls = TlsOptions {
        root_certificates_pem: None,
        insecure_transport: Some(InsecureTransport::Plaintext),
    };
    let warehouse = Warehouse::connect_with(&url("sslmode=disable"), &tls)
        .await
        .unwrap();
    assert!(!warehouse.encrypted().await.unwrap());
}

/// A server on 127.0.0.1 that answers PostgreSQL's request for TLS with "no", then returns what
/// the client sent next in plain text (nothing when the client hung up).
async fn server_without_tls() -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0; 8];
        socket.read_exact(&mut request).await.unwrap();
        // SSLRequest: length 8, code 80877103.
        assert_eq!(request, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
        socket.write_all(b"N").await.unwrap();
        let mut length = [0; 4];
        if socket.read_exact(&mut length).await.is_err() {
            return Vec::new();
        }
        let mut message = vec![0; u32::from_be_bytes(length) as usize - 4];
        socket.read_exact(&mut message).await.unwrap();
        message
    });
    (port, server)
}

#[tokio::test]
async fn a_plaintext_server_is_refused_unless_explicitly_opted_out() {
    let (port, server) = server_without_tls().await;
    let err = refusal(&format!("postgres://postgres@127.0.0.1:{port}/w")).await;
    assert!(
        err.contains("does not offer TLS") && err.contains("cm_etl_insecure_transport=plaintext"),
        "{err}"
    );
    assert_eq!(server.await.unwrap(), b"", "nothing is sent in plain text");

    // With the opt-out the client goes on in plain text: its startup message arrives readable.
    let (port, server) = server_without_tls().await;
    let url = format!(
        "postgres://postgres@127.0.0.1:{port}/w?sslmode=prefer&cm_etl_insecure_transport=plaintext"
    );
    let _ = Warehouse::connect(&url).await;
    let startup = server.await.unwrap();
    assert!(
        startup.windows(14).any(|w| w == b"user\0postgres\0"),
        "{startup:?}"
    );
}
