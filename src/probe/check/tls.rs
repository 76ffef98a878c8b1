//! TLS: handshake, verify the chain (unless told not to), report the leaf certificate's expiry.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use tokio_rustls::rustls::{
    self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::{Outcome, cert_not_after_ms};
use crate::probe::condition::Observation;
use crate::probe::config::TlsCheck;

type ConfigKey = (bool, Option<PathBuf>);

fn configs() -> &'static Mutex<HashMap<ConfigKey, Arc<ClientConfig>>> {
    static C: OnceLock<Mutex<HashMap<ConfigKey, Arc<ClientConfig>>>> = OnceLock::new();
    C.get_or_init(|| Mutex::new(HashMap::new()))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts any certificate (for `verify_tls: false`) but still checks handshake signatures, so
/// the session is real and the presented chain can be inspected.
#[derive(Debug)]
struct AcceptAny(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAny {
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
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

fn client_config(verify: bool, ca_file: Option<&PathBuf>) -> Result<Arc<ClientConfig>, String> {
    let key = (verify, ca_file.cloned());
    let mut map = configs().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = map.get(&key) {
        return Ok(c.clone());
    }
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?;
    let config = if verify {
        let mut roots = RootCertStore::empty();
        for c in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(c);
        }
        if let Some(ca) = ca_file {
            let certs = CertificateDer::pem_file_iter(ca)
                .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
            for c in certs {
                let c = c.map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
                roots
                    .add(c)
                    .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth()
    };
    let config = Arc::new(config);
    map.insert(key, config.clone());
    Ok(config)
}

pub async fn check(t: &TlsCheck, source: Option<std::net::IpAddr>) -> Outcome {
    let started = Instant::now();
    let config = match client_config(t.verify_tls, t.ca_file.as_ref()) {
        Ok(c) => c,
        Err(e) => return Outcome::failed(started, e),
    };
    let name = t.server_name.clone().unwrap_or_else(|| t.host.clone());
    let server_name = match ServerName::try_from(name.clone()) {
        Ok(n) => n,
        Err(e) => return Outcome::failed(started, format!("server name `{name}`: {e}")),
    };
    let tcp = match super::tcp::connect(&t.host, t.port, source).await {
        Ok(s) => s,
        Err(e) => return Outcome::failed(started, format!("connect {}:{}: {e}", t.host, t.port)),
    };
    let ip = tcp.peer_addr().ok().map(|a| a.ip().to_string());
    let stream = match TlsConnector::from(config).connect(server_name, tcp).await {
        Ok(s) => s,
        Err(e) => {
            let mut out = Outcome::failed(started, format!("tls handshake: {e}"));
            out.obs.ip = ip;
            return out;
        }
    };
    let (_, session) = stream.get_ref();
    let expiry = session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| cert_not_after_ms(leaf.as_ref()));
    Outcome {
        obs: Observation {
            response_time_ms: started.elapsed().as_millis() as u64,
            certificate_expiration_ms: None,
            certificate_not_after_ms: expiry,
            connected: true,
            ip,
            ..Default::default()
        },
        error: None,
    }
}
