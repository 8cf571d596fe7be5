//! Certificates the TLS tests make (rcgen): a CA, and what it signs for servers and clients,
//! valid now or expired, each written as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// A certificate authority, its certificate in `pem`.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pub pem: PathBuf,
    dir: PathBuf,
}

/// A certificate chain and its key, as PEM files.
#[derive(Clone, Debug)]
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Authority {
    /// A new CA named `name`, its files in `dir` (`NAME-ca.pem`).
    pub fn new(dir: &Path, name: &str) -> Authority {
        let key = KeyPair::generate().expect("a key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, format!("{name} test CA"));
        let cert = params.self_signed(&key).expect("a CA certificate");
        let pem = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&pem, cert.pem()).expect("writing the CA");
        Authority { issuer: Issuer::new(params, key), pem, dir: dir.to_path_buf() }
    }

    /// A certificate this CA signs for `names` (DNS names, or IP addresses), valid now unless
    /// `expired`: `NAME.pem` and `NAME.key`.
    pub fn sign(&self, name: &str, names: &[&str], expired: bool) -> Pair {
        let key = KeyPair::generate().expect("a key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("certificate parameters");
        params.distinguished_name.push(DnType::CommonName, name);
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).expect("a signed certificate");
        let pair = Pair { cert: self.dir.join(format!("{name}.pem")), key: self.dir.join(format!("{name}.key")) };
        std::fs::write(&pair.cert, cert.pem()).expect("writing a certificate");
        std::fs::write(&pair.key, key.serialize_pem()).expect("writing a key");
        pair
    }
}
