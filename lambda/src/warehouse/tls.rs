//! TLS to PostgreSQL on rustls, verified unless the URL or deploy.toml explicitly opts out.
//!
//! The URL's `sslmode` keeps libpq's names, but its default is `verify-full`: TLS is required, the
//! server's certificate must chain to `sslrootcert` (a PEM bundle, such as RDS's
//! global-bundle.pem) or else to the system's roots, and must name the URL's host. `verify-ca`
//! checks the chain only, as does `require` with an `sslrootcert` (libpq's meaning). The weaker
//! modes are refused unless the opt-out [`INSECURE_TRANSPORT_PARAMETER`] allows them:
//! `=unverified` for `require` without a root certificate (encrypted, server not checked),
//! `=plaintext` for `disable`, `allow` and `prefer` too. tokio-postgres knows neither the verifying
//! modes nor these parameters, so they are taken out of the URL here.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, aws_lc_rs, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use serde::{Deserialize, Serialize};
use tokio_postgres::config::SslMode as WireMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::contract::HandlerErrorName;
use crate::error::HandlerError;

/// The URL parameter that opts out of verified TLS; the tool takes it out of the URL.
pub const INSECURE_TRANSPORT_PARAMETER: &str = "cm_etl_insecure_transport";

/// An explicit opt-out of verified TLS: what a weaker `sslmode` needs to be accepted. The URL's
/// [`INSECURE_TRANSPORT_PARAMETER`] or deploy.toml's `function.warehouse_insecure_transport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InsecureTransport {
    /// Encrypted, but anyone may pose as the server (`sslmode=require` without a root
    /// certificate).
    Unverified,
    /// Plain text too (`sslmode=disable`, `allow`, `prefer`); allows `Unverified` as well.
    Plaintext,
}

impl InsecureTransport {
    /// The value's name in URLs, deploy.toml and the function's environment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unverified => "unverified",
            Self::Plaintext => "plaintext",
        }
    }

    /// The opt-out named `value`, if it names one.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "unverified" => Some(Self::Unverified),
            "plaintext" => Some(Self::Plaintext),
            _ => None,
        }
    }
}

/// What a connection's TLS takes from outside its URL (the function's settings): the URL's own
/// `sslrootcert` and opt-out come first.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Root certificates as PEM text (an RDS secret's `sslrootcert`), used when the URL names
    /// no `sslrootcert` file.
    pub root_certificates_pem: Option<String>,
    /// deploy.toml's opt-out; the more permissive of it and the URL's applies.
    pub insecure_transport: Option<InsecureTransport>,
}

impl std::fmt::Debug for TlsOptions {
    /// A PEM bundle is long and public: only whether there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field(
                "root_certificates_pem",
                &self.root_certificates_pem.is_some(),
            )
            .field("insecure_transport", &self.insecure_transport)
            .finish()
    }
}

/// libpq's `sslmode` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    /// Every name, in libpq's order from weakest to strongest.
    pub(crate) const NAMES: [&'static str; 6] = [
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
    ];

    pub(crate) fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// What tokio-postgres does on the wire: ask for TLS and insist, ask and accept a refusal,
    /// or never ask (libpq's `allow` tries plain text first; asking first only encrypts more).
    fn wire(self) -> WireMode {
        match self {
            Self::Disable => WireMode::Disable,
            Self::Allow | Self::Prefer => WireMode::Prefer,
            Self::Require | Self::VerifyCa | Self::VerifyFull => WireMode::Require,
        }
    }
}

/// How the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// Chain to the roots, and the URL's host among its names.
    Full,
    /// Chain to the roots only.
    ChainOnly,
    /// Not at all (the opt-out allowed it).
    Nothing,
}

/// Whether `url` is a PostgreSQL URL this module and tokio-postgres both understand.
#[cfg(feature = "runtime")]
pub(crate) fn parses(url: &str) -> bool {
    Parameters::take_from(url)
        .is_ok_and(|parameters| parameters.url.parse::<tokio_postgres::Config>().is_ok())
}

/// A PostgreSQL URL's TLS: the URL as tokio-postgres should see it, and how to connect.
pub(super) struct Tls {
    pub(super) config: tokio_postgres::Config,
    pub(super) connector: MakeRustlsConnect,
}

/// Reads the TLS parameters out of `url`, checks they are allowed and builds the connector.
pub(super) fn configure(url: &str, options: &TlsOptions) -> Result<Tls, HandlerError> {
    let parameters = Parameters::take_from(url)?;
    let insecure = parameters.insecure.max(options.insecure_transport);
    let mode = parameters.mode.unwrap_or(SslMode::VerifyFull);
    let root_file = parameters.root_cert.as_deref();
    let has_roots = root_file.is_some() || options.root_certificates_pem.is_some();
    let (check, needs) = match mode {
        SslMode::VerifyFull => (Check::Full, None),
        SslMode::VerifyCa => (Check::ChainOnly, None),
        SslMode::Require if has_roots => (Check::ChainOnly, None),
        SslMode::Require => (Check::Nothing, Some(InsecureTransport::Unverified)),
        SslMode::Disable | SslMode::Allow | SslMode::Prefer => {
            (Check::Nothing, Some(InsecureTransport::Plaintext))
        }
    };
    if let Some(needed) = needs
        && insecure < Some(needed)
    {
        let risk = match needed {
            InsecureTransport::Unverified => "encrypts but lets anyone pose as the server",
            InsecureTransport::Plaintext => "may send the data in plain text",
        };
        return Err(url_error(format_args!(
            "has sslmode={}, which {risk}; use sslmode=verify-full (sslrootcert=PATH for a private CA such as RDS's), or opt out explicitly with {INSECURE_TRANSPORT_PARAMETER}={} (deploy.toml: function.warehouse_insecure_transport)",
            mode.name(),
            needed.as_str()
        )));
    }
    let mut config: tokio_postgres::Config = parameters
        .url
        .parse()
        .map_err(|_| url_error("is not a valid PostgreSQL URL"))?;
    config.ssl_mode(mode.wire());
    let roots = match check {
        Check::Nothing => None,
        Check::Full | Check::ChainOnly => Some(match (root_file, &options.root_certificates_pem) {
            (Some(path), _) => file_roots(Path::new(path))?,
            (None, Some(pem)) => pem_roots(pem)?,
            (None, None) => system_roots()?,
        }),
    };
    Ok(Tls {
        config,
        connector: connector(check, roots)?,
    })
}

/// The TLS parameters of a URL, taken out of it.
#[derive(Debug, PartialEq, Eq)]
struct Parameters {
    /// The URL without them.
    url: String,
    mode: Option<SslMode>,
    /// `sslrootcert`, percent-decoded.
    root_cert: Option<String>,
    insecure: Option<InsecureTransport>,
}

impl Parameters {
    fn take_from(url: &str) -> Result<Self, HandlerError> {
        let mut parameters = Self {
            url: url.to_owned(),
            mode: None,
            root_cert: None,
            insecure: None,
        };
        let Some((base, query)) = url.split_once('?') else {
            return Ok(parameters);
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
            match name {
                "sslmode" => {
                    parameters.mode = Some(SslMode::parse(&value).ok_or_else(|| {
                        url_error(format_args!(
                            "has sslmode={value}, which is none of {}",
                            SslMode::NAMES.join(", ")
                        ))
                    })?);
                }
                "sslrootcert" => parameters.root_cert = Some(value.into_owned()),
                INSECURE_TRANSPORT_PARAMETER => {
                    parameters.insecure = Some(InsecureTransport::parse(&value).ok_or_else(|| {
                        url_error(format_args!(
                            "has {INSECURE_TRANSPORT_PARAMETER}={value}; the opt-outs are unverified and plaintext"
                        ))
                    })?);
                }
                _ => kept.push(pair),
            }
        }
        parameters.url = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok(parameters)
    }
}

/// The warehouse is configured wrongly (not retryable): the URL, the secret or deploy.toml.
fn url_error(rule: impl std::fmt::Display) -> HandlerError {
    HandlerError::new(
        HandlerErrorName::InvalidInput,
        format!("the warehouse URL {rule}"),
    )
}

fn connector(
    check: Check,
    roots: Option<RootCertStore>,
) -> Result<MakeRustlsConnect, HandlerError> {
    let provider = Arc::new(aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|_| HandlerError::transient("TLS set-up", "no protocol version"))?;
    let config = match (check, roots) {
        (Check::Full, Some(roots)) => builder.with_root_certificates(roots).with_no_client_auth(),
        (Check::ChainOnly, Some(roots)) => {
            let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|_| HandlerError::transient("TLS set-up", "no root certificate"))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(verifier)))
                .with_no_client_auth()
        }
        _ => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth(),
    };
    Ok(MakeRustlsConnect::new(config))
}

fn file_roots(path: &Path) -> Result<RootCertStore, HandlerError> {
    let unusable = |why: &str| {
        url_error(format_args!(
            "names sslrootcert {}, which {why}; give a PEM file of CA certificates",
            path.display()
        ))
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|_| unusable("cannot be read"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| unusable("is not PEM"))?;
    store_of(certificates).ok_or_else(|| unusable("holds no usable certificate"))
}

fn pem_roots(pem: &str) -> Result<RootCertStore, HandlerError> {
    let unusable = || {
        HandlerError::new(
            HandlerErrorName::InvalidInput,
            "the warehouse secret's sslrootcert is not PEM CA certificates; store the text of a bundle such as RDS's global-bundle.pem",
        )
    };
    let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| unusable())?;
    store_of(certificates).ok_or_else(unusable)
}

/// The operating system's roots (or `SSL_CERT_FILE` / `SSL_CERT_DIR`), for a server with a
/// certificate from a public CA.
fn system_roots() -> Result<RootCertStore, HandlerError> {
    store_of(rustls_native_certs::load_native_certs().certs).ok_or_else(|| {
        url_error(
            "has no sslrootcert and this system has no root certificates; give the server's CA bundle as sslrootcert=PATH",
        )
    })
}

/// The parsable certificates as a root store; `None` when there is none.
fn store_of(certificates: Vec<CertificateDer<'static>>) -> Option<RootCertStore> {
    let mut store = RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(certificates);
    (added > 0).then_some(store)
}

/// The error for a failed connection: one line saying what to do when TLS was the cause, else
/// the connection error as it is.
pub(super) fn connect_error(error: tokio_postgres::Error) -> HandlerError {
    let fix = match certificate_error(&error) {
        Some(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => {
            "reaches a server whose TLS certificate does not name the URL's host; connect by a name the certificate holds (hostaddr=IP keeps the address), or use sslmode=verify-ca to check the chain only"
        }
        Some(_) => {
            "reaches a server whose TLS certificate does not chain to a trusted CA (sslrootcert, else the system's roots); give the server's CA bundle as sslrootcert=PATH"
        }
        None if refused_tls(&error) => {
            "reaches a server that does not offer TLS; turn TLS on at the server, or opt out explicitly with sslmode=prefer and cm_etl_insecure_transport=plaintext"
        }
        None => return error.into(),
    };
    url_error(fix)
}

/// The certificate error of a failed handshake, if that is what failed.
fn certificate_error(error: &tokio_postgres::Error) -> Option<&CertificateError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        let inner = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        if let Some(rustls::Error::InvalidCertificate(certificate)) =
            inner.and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(certificate);
        }
        source = error.source();
    }
    None
}

/// Whether the server answered the request for TLS with no (tokio-postgres words it so; its
/// error kinds are private).
fn refused_tls(error: &tokio_postgres::Error) -> bool {
    std::error::Error::source(error)
        .is_some_and(|source| source.to_string() == "server does not support TLS")
}

/// Checks the chain to the roots but not the host name (`verify-ca`): every other failure of
/// the full check stands.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            // webpki checks the name last, so this error means the chain held.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Encrypts without checking who the server is (only with the opt-out); the handshake
/// signatures are still checked, so the session key is the certificate holder's.
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
    fn tls_parameters_are_taken_out_of_the_url() {
        let parameters = Parameters::take_from(
            "postgres://h/db?sslmode=verify-ca&sslrootcert=%2Fopt%2Fca.pem&x=1&cm_etl_insecure_transport=plaintext",
        )
        .unwrap();
        assert_eq!(
            parameters,
            Parameters {
                url: "postgres://h/db?x=1".to_owned(),
                mode: Some(SslMode::VerifyCa),
                root_cert: Some("/opt/ca.pem".to_owned()),
                insecure: Some(InsecureTransport::Plaintext),
            }
        );
        let bare = Parameters::take_from("postgres://h/db?sslrootcert=ca.pem").unwrap();
        assert_eq!(bare.url, "postgres://h/db");
        assert_eq!(bare.mode, None);
        assert_eq!(
            Parameters::take_from("postgres://h/db").unwrap().url,
            "postgres://h/db"
        );
    }

    #[test]
    fn unknown_modes_and_opt_outs_are_refused_by_name() {
        let err = Parameters::take_from("postgres://h/db?sslmode=verify_full").unwrap_err();
        assert!(
            err.message
                .contains("sslmode=verify_full, which is none of disable"),
            "{err}"
        );
        let err =
            Parameters::take_from("postgres://h/db?cm_etl_insecure_transport=yes").unwrap_err();
        assert!(
            err.message
                .contains("the opt-outs are unverified and plaintext"),
            "{err}"
        );
    }

    fn refusal(url: &str, options: &TlsOptions) -> Option<String> {
        configure(url, options).err().map(|err| err.message)
    }

    #[test]
    fn weaker_modes_need_the_opt_out_that_allows_them() {
        let none = TlsOptions::default();
        for mode in ["disable", "allow", "prefer"] {
            let url = format!("postgres://h/db?sslmode={mode}");
            let err = refusal(&url, &none).expect(mode);
            assert!(
                err.contains(&format!(
                    "sslmode={mode}, which may send the data in plain text; use sslmode=verify-full"
                )),
                "{err}"
            );
            assert!(err.contains("cm_etl_insecure_transport=plaintext"), "{err}");
            let unverified = format!("{url}&cm_etl_insecure_transport=unverified");
            assert!(refusal(&unverified, &none).is_some(), "{mode}");
            let plaintext = format!("{url}&cm_etl_insecure_transport=plaintext");
            assert_eq!(refusal(&plaintext, &none), None, "{mode}");
            let from_deploy = TlsOptions {
                insecure_transport: Some(InsecureTransport::Plaintext),
                ..TlsOptions::default()
            };
            assert_eq!(refusal(&url, &from_deploy), None, "{mode}");
        }
        let err = refusal("postgres://h/db?sslmode=require", &none).unwrap();
        assert!(
            err.contains("cm_etl_insecure_transport=unverified"),
            "{err}"
        );
        for opt_out in ["unverified", "plaintext"] {
            let url =
                format!("postgres://h/db?sslmode=require&cm_etl_insecure_transport={opt_out}");
            assert_eq!(refusal(&url, &none), None);
        }
    }

    #[test]
    fn verifying_modes_need_no_opt_out_and_the_default_is_verify_full() {
        let none = TlsOptions::default();
        let pem = TlsOptions {
            root_certificates_pem: Some("not a certificate".to_owned()),
            ..TlsOptions::default()
        };
        // With roots from the options, the store is built: a bad PEM shows that they were used.
        for url in [
            "postgres://h/db",
            "postgres://h/db?sslmode=verify-full",
            "postgres://h/db?sslmode=verify-ca",
            "postgres://h/db?sslmode=require",
        ] {
            let err = refusal(url, &pem).expect(url);
            assert!(err.contains("sslrootcert is not PEM"), "{url}: {err}");
        }
        let tls = configure("postgres://h/db?application_name=x", &none);
        if let Ok(tls) = tls {
            assert_eq!(tls.config.get_ssl_mode(), WireMode::Require);
        }
        let err = refusal("postgres://h/db?sslrootcert=/nonexistent/ca.pem", &none).unwrap();
        assert!(
            err.contains("/nonexistent/ca.pem, which cannot be read"),
            "{err}"
        );
    }
}
