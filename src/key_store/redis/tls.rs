//! TLS to Redis beyond `rediss://` with the system's roots: a CA of your
//! own (managed Redis often signs with one), and a client certificate
//! (mutual TLS). Feature `redis-tls` (rustls, ring).

use std::fmt;
use std::path::Path;

/// TLS settings for a `rediss://` URL, for [`SharedKeyStoreBuilder::tls`](super::SharedKeyStoreBuilder::tls)
/// and [`RedisKeyWriter::with_tls`](super::RedisKeyWriter::with_tls).
/// Without any, a `rediss://` URL trusts the system's roots.
///
/// ```no_run
/// use tower_bearer_auth::key_store::redis::{RedisTls, SharedKeyStore};
///
/// let tls = RedisTls::from_files(Some("ca.pem".as_ref()), None)?;
/// let store = SharedKeyStore::builder("rediss://redis.internal:6380/")
///     .tls(tls)
///     .start()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct RedisTls {
    ca_pem: Option<Vec<u8>>,
    client_pem: Option<(Vec<u8>, Vec<u8>)>,
}

impl RedisTls {
    /// No CA of its own, no client certificate.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts this CA (PEM), instead of the system's roots.
    #[must_use]
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Presents this client certificate and its private key (both PEM).
    #[must_use]
    pub fn client_cert_pem(mut self, cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.client_pem = Some((cert.into(), key.into()));
        self
    }

    /// Reads a CA file and a client certificate and key files (PEM), each
    /// optional.
    ///
    /// # Errors
    ///
    /// The first file that cannot be read, named.
    pub fn from_files(ca: Option<&Path>, client: Option<(&Path, &Path)>) -> Result<Self, String> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        let mut tls = Self::new();
        if let Some(ca) = ca {
            tls = tls.ca_pem(read(ca)?);
        }
        if let Some((cert, key)) = client {
            tls = tls.client_cert_pem(read(cert)?, read(key)?);
        }
        Ok(tls)
    }
}

impl fmt::Debug for RedisTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("RedisTls")
            .field("ca", &self.ca_pem.as_ref().map(|_| "set"))
            .field("client_cert", &self.client_pem.as_ref().map(|_| "set"))
            .finish()
    }
}

/// A client of `url`, with `tls` when given.
pub(super) fn client(url: &str, tls: Option<&RedisTls>) -> redis::RedisResult<redis::Client> {
    let Some(tls) = tls else {
        return redis::Client::open(url);
    };
    redis::Client::build_with_tls(
        url,
        redis::TlsCertificates {
            client_tls: tls
                .client_pem
                .as_ref()
                .map(|(cert, key)| redis::ClientTlsConfig {
                    client_cert: cert.clone(),
                    client_key: key.clone(),
                }),
            root_cert: tls.ca_pem.clone(),
        },
    )
}
