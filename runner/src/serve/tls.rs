//! `serve`'s TLS: the listener's certificate and key (read again on SIGHUP, so that a renewed
//! certificate takes effect without a restart), the client certificates it asks for (mutual
//! TLS: only a shipper whose certificate a given CA signed is served), and what the forwarder
//! trusts (the system's roots, or a given CA) and shows (a client certificate) to the next hop.
//!
//! rustls with ring: a TLS stack in Rust whose C and assembly build with `cc` in seconds,
//! where rustls' default provider (aws-lc-rs) needs cmake and minutes of C. The same provider
//! serves the listener and the forwarder (reqwest, built without a provider of its own).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{Context, Result, anyhow, bail};
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

/// Makes this module's provider the process's default, which reqwest (built without a
/// provider of its own) needs before it builds a client: for a program of its own that posts
/// with reqwest, such as a test.
pub fn install_provider() {
    provider();
}

/// The provider everything here uses; installed as the process's default for reqwest.
fn provider() -> Arc<CryptoProvider> {
    // Deprecated for offering no post-quantum key exchange (X25519 and the NIST curves only);
    // the provider that has one is aws-lc-rs, which this build avoids (see above).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Only the first install counts; a second (a test starting serve twice) changes nothing.
    let _ = CryptoProvider::install_default((*provider).clone());
    provider
}

/// What the listener is configured with: files, read at start and on every reload.
#[derive(Clone, Debug)]
pub struct ListenerFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Ask every client for a certificate signed by one of these CAs, and refuse one without.
    pub client_ca: Option<PathBuf>,
}

/// The listener's TLS: the acceptor each new connection takes, swapped whole on reload.
pub struct ListenerTls {
    files: ListenerFiles,
    current: RwLock<TlsAcceptor>,
}

impl ListenerTls {
    pub fn load(files: ListenerFiles) -> Result<ListenerTls> {
        let acceptor = acceptor(&files)?;
        Ok(ListenerTls { files, current: RwLock::new(acceptor) })
    }

    /// The acceptor for a connection accepted now (connections already open keep theirs).
    pub fn acceptor(&self) -> TlsAcceptor {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads the files again. On an error the configuration in use stays, and the error says
    /// why: a certificate renewed halfway (the key not yet written) never stops the service.
    pub fn reload(&self) -> Result<()> {
        let fresh = acceptor(&self.files)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    pub fn mutual(&self) -> bool {
        self.files.client_ca.is_some()
    }
}

fn acceptor(files: &ListenerFiles) -> Result<TlsAcceptor> {
    let provider = provider();
    let certs = certificates(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| anyhow!("--tls-key {}: no private key read ({e})", files.key.display()))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow!("{e}"))?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let roots = Arc::new(roots(ca, "--tls-client-ca")?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| anyhow!("--tls-client-ca {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| anyhow!("--tls-cert {} with --tls-key {}: {e}", files.cert.display(), files.key.display()))?;
    // HTTP/1.1 is all serve speaks; saying so lets a client that offers h2 fall back at once.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Every certificate in a PEM file, the leaf first as the file has it.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        bail!("{}: no PEM certificate in it", path.display());
    }
    Ok(certs)
}

/// The CAs of a PEM file, as trust anchors; `flag` names it in an error.
fn roots(path: &Path, flag: &str) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(path).with_context(|| flag.to_string())? {
        roots.add(cert).map_err(|e| anyhow!("{flag} {}: {e}", path.display()))?;
    }
    Ok(roots)
}

/// What the forwarder trusts and shows, applied to its client: only the CAs of `ca` when
/// given (else the system's roots, reqwest's platform verifier), and a client certificate
/// when the next hop asks for one. Verification cannot be turned off.
pub fn forward_client(
    mut builder: reqwest::ClientBuilder,
    ca: Option<&Path>,
    identity: Option<(&Path, &Path)>,
) -> Result<reqwest::ClientBuilder> {
    provider();
    if let Some(ca) = ca {
        // Read as trust anchors first: reqwest takes a file with no certificate in it as an
        // empty list and would trust nothing, each forward then failing; this refuses it at
        // start, naming the file.
        roots(ca, "--forward-ca")?;
        let pem = std::fs::read(ca).with_context(|| format!("reading --forward-ca {}", ca.display()))?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| anyhow!("--forward-ca {}: {e}", ca.display()))?;
        builder = builder.tls_certs_only(certs);
    }
    if let Some((cert, key)) = identity {
        let mut pem = std::fs::read(key).with_context(|| format!("reading --forward-client-key {}", key.display()))?;
        pem.push(b'\n');
        pem.extend(std::fs::read(cert).with_context(|| format!("reading --forward-client-cert {}", cert.display()))?);
        let identity = reqwest::Identity::from_pem(&pem)
            .map_err(|e| anyhow!("--forward-client-cert {} with its key: {e}", cert.display()))?;
        builder = builder.identity(identity);
    }
    Ok(builder)
}
