//! One `GET` of a small JSON document (GitHub's secret-scanning keys):
//! HTTP/1.1 over TCP, or over TLS (rustls with ring, the system's roots)
//! for `https://`; 5 s, bodies up to 1 MiB, `200` only.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, HOST, USER_AGENT};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// The largest document read.
const MAX_DOCUMENT: usize = 1024 * 1024;

/// How long one fetch may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The body of `GET url`, or why not (naming the URL's host, never a body).
pub(super) async fn get(url: &str) -> Result<Bytes, String> {
    tokio::time::timeout(TIMEOUT, fetch(url))
        .await
        .map_err(|_| format!("fetching {url} took more than 5 s"))?
}

async fn fetch(url: &str) -> Result<Bytes, String> {
    let uri: http::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(format!("{url:?}: only http:// and https:// URLs")),
    };
    let host = uri
        .host()
        .ok_or_else(|| format!("{url:?} has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let authority = uri
        .authority()
        .map_or_else(|| host.clone(), |a| a.as_str().to_owned());
    let path = uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str)
        .to_owned();
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    if tls {
        let config = client_config()?;
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|_| format!("{host:?} is not a TLS server name"))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {authority}: {e}"))?;
        request(stream, &authority, &path).await
    } else {
        request(tcp, &authority, &path).await
    }
}

async fn request<S>(stream: S, authority: &str, path: &str) -> Result<Bytes, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP with {authority}: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = http::Request::get(path)
        .header(HOST, authority)
        .header(
            USER_AGENT,
            concat!("tower-bearer-auth/", env!("CARGO_PKG_VERSION")),
        )
        .header(ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("a request to {authority}: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("HTTP with {authority}: {e}"))?;
    if response.status() != http::StatusCode::OK {
        return Err(format!("{authority} answered {}", response.status()));
    }
    Limited::new(response.into_body(), MAX_DOCUMENT)
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .map_err(|e| format!("reading the answer of {authority}: {e}"))
}

/// rustls with ring and the system's roots.
fn client_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err("TLS: no root certificate on this system".to_owned());
    }
    // ring, as the other TLS features use (a C compiler alone builds it).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
