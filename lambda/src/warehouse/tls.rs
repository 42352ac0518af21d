//! TLS to PostgreSQL, with libpq's meaning of the URL's `sslmode` and `sslrootcert`, on rustls.
//!
//! `sslmode=disable` sends plain text; `prefer` (the default) encrypts when the server offers TLS;
//! `require` refuses a server without it. Without `sslrootcert` the connection is encrypted but the
//! server's certificate is not checked (libpq's `require`: RDS's certificates are signed by
//! Amazon's own CA, which no public root store holds). With `sslrootcert=PATH` (a PEM bundle, such
//! as RDS's global-bundle.pem) the chain and the host name are verified. tokio-postgres does not
//! know `sslrootcert`, so it is taken out of the URL here.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, aws_lc_rs, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::HandlerError;

/// The URL without `sslrootcert`, and that parameter's value (percent-decoded).
pub(super) fn split_root_cert(url: &str) -> (String, Option<String>) {
    const KEY: &str = "sslrootcert=";
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let (root_certs, kept): (Vec<&str>, Vec<&str>) =
        query.split('&').partition(|pair| pair.starts_with(KEY));
    let root_cert = root_certs.last().map(|pair| {
        percent_encoding::percent_decode_str(&pair[KEY.len()..])
            .decode_utf8_lossy()
            .into_owned()
    });
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, root_cert)
}

/// The connector for this warehouse: verifying against `root_cert` when given.
pub(super) fn connector(root_cert: Option<&str>) -> Result<MakeRustlsConnect, HandlerError> {
    let provider = Arc::new(aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|_| HandlerError::transient("TLS set-up", "no protocol version"))?;
    let config = match root_cert {
        Some(path) => builder
            .with_root_certificates(root_store(Path::new(path))?)
            .with_no_client_auth(),
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth(),
    };
    Ok(MakeRustlsConnect::new(config))
}

fn root_store(path: &Path) -> Result<RootCertStore, HandlerError> {
    let unusable = |why: &str| {
        HandlerError::invalid_input(
            "DATABASE_URL",
            format_args!(
                "names sslrootcert {}, which {why}; give a PEM file of CA certificates",
                path.display()
            ),
        )
    };
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|_| unusable("cannot be read"))?
        .collect::<Result<_, _>>()
        .map_err(|_| unusable("is not PEM"))?;
    let mut store = RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(unusable("holds no usable certificate"));
    }
    Ok(store)
}

/// The error for a failed connection: one naming sslrootcert when the server's certificate
/// failed verification, else the connection error as it is.
pub(super) fn connect_error(error: tokio_postgres::Error) -> HandlerError {
    if is_untrusted_certificate(&error) {
        HandlerError::invalid_input(
            "DATABASE_URL",
            "reaches a server whose TLS certificate is not signed by a CA in sslrootcert (or names another host); give the server's CA bundle",
        )
    } else {
        error.into()
    }
}

/// Whether a connection error is the server's certificate failing verification.
fn is_untrusted_certificate(error: &tokio_postgres::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        let inner = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        if let Some(rustls::Error::InvalidCertificate(_)) =
            inner.and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return true;
        }
        source = error.source();
    }
    false
}

/// Encrypts without checking who the server is (libpq's `sslmode=require` without a root
/// certificate); the handshake signatures are still checked, so the session key is the server's.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslrootcert_is_taken_out_of_the_url() {
        assert_eq!(
            split_root_cert("postgres://h/db?sslmode=require&sslrootcert=%2Fopt%2Fca.pem&x=1"),
            (
                "postgres://h/db?sslmode=require&x=1".to_owned(),
                Some("/opt/ca.pem".to_owned())
            )
        );
        assert_eq!(
            split_root_cert("postgres://h/db?sslrootcert=ca.pem"),
            ("postgres://h/db".to_owned(), Some("ca.pem".to_owned()))
        );
        assert_eq!(
            split_root_cert("postgres://h/db"),
            ("postgres://h/db".to_owned(), None)
        );
    }
}
