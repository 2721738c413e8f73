//! How a connection URL becomes a connection: libpq's `sslmode` and `sslrootcert`, which
//! operators copy from their provider's console, mean here what they mean to `psql`.
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (the default) | when the server offers it | not checked (libpq's meaning) |
//! | `require` | always | not checked (libpq's meaning) |
//! | `verify-ca`, `verify-full` | always | chain to a trusted root **and** host name |
//!
//! `verify-ca` checks the host name too: stricter than libpq, never weaker. The trusted
//! roots are `sslrootcert` (a PEM file: a managed database's CA) or else the system's.
//! `tokio-postgres` knows only `disable`, `prefer` and `require`, so the two parameters are
//! taken out of the URL before it parses the rest.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::OpenError;

/// What a URL asks of its connections.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) config: postgres::Config,
    pub(crate) tls: MakeRustlsConnect,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("ssl_mode", &self.config.get_ssl_mode())
            .finish_non_exhaustive()
    }
}

/// Parses a `postgres://` URL, `sslmode` and `sslrootcert` included.
pub(crate) fn target(url: &str) -> Result<Target, OpenError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode = "prefer".to_owned();
    let mut root_file = None;
    // The other parameters pass through as written: the driver decodes `%20`, not `+`.
    let mut rest: Vec<&str> = Vec::new();
    for raw in query.split('&').filter(|pair| !pair.is_empty()) {
        let decoded = form_urlencoded::parse(raw.as_bytes()).next();
        match decoded {
            Some((key, value)) if key == "sslmode" => mode = value.into_owned(),
            Some((key, value)) if key == "sslrootcert" => root_file = Some(value.into_owned()),
            _ => rest.push(raw),
        }
    }
    let verify = match mode.as_str() {
        "disable" | "prefer" | "require" => false,
        "verify-ca" | "verify-full" => true,
        other => {
            return Err(OpenError::Url(format!(
                "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    let driver_mode = if verify { "require" } else { mode.as_str() };
    let sslmode = format!("sslmode={driver_mode}");
    rest.push(&sslmode);
    let config: postgres::Config = format!("{base}?{}", rest.join("&"))
        .parse()
        .map_err(|e: postgres::Error| OpenError::Url(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| OpenError::Url(format!("TLS: {e}")))?;
    let client = if verify {
        builder
            .with_root_certificates(roots(root_file.as_deref())?)
            .with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
            .with_no_client_auth()
    };
    Ok(Target {
        config,
        tls: MakeRustlsConnect::new(client),
    })
}

/// The roots a verified connection trusts: the `sslrootcert` file, or the system's.
fn roots(file: Option<&str>) -> Result<RootCertStore, OpenError> {
    let mut roots = RootCertStore::empty();
    match file {
        Some(file) => {
            let certificates = CertificateDer::pem_file_iter(file)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| OpenError::Url(format!("sslrootcert {file}: {e}")))?;
            let (added, _) = roots.add_parsable_certificates(certificates);
            if added == 0 {
                return Err(OpenError::Url(format!(
                    "sslrootcert {file} holds no usable certificate"
                )));
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            if roots.is_empty() {
                return Err(OpenError::Url(
                    "sslmode asks to verify the server, but this system has no trusted roots: \
                     name the database's CA with sslrootcert=FILE"
                        .into(),
                ));
            }
        }
    }
    Ok(roots)
}

/// libpq's `prefer` and `require`: the channel is encrypted and the handshake's signatures
/// are checked, but the certificate is not (so a self-signed server certificate works).
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
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
        rustls::crypto::verify_tls12_signature(
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
        rustls::crypto::verify_tls13_signature(
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
    use postgres::config::SslMode;

    use super::target;

    #[test]
    fn libpq_parameters_are_taken_out_and_the_rest_passes_as_written() {
        let parsed =
            target("postgres://app@db/cs?options=-c%20search_path%3Dtenant_a&sslmode=disable")
                .unwrap();
        assert_eq!(parsed.config.get_options(), Some("-c search_path=tenant_a"));
        assert_eq!(parsed.config.get_ssl_mode(), SslMode::Disable);
        let default = target("postgres://app@db/cs").unwrap();
        assert_eq!(default.config.get_ssl_mode(), SslMode::Prefer);
        // Verified modes reach the driver as `require`, with the verification in the TLS setup.
        let verified = target("postgres://app@db/cs?sslmode=verify-full").unwrap();
        assert_eq!(verified.config.get_ssl_mode(), SslMode::Require);
    }
}
