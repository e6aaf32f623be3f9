//! Getting a JWKS: over plain HTTP (built in), or through any
//! [`FetchJwks`] (for `https://`, bring your client); OIDC discovery
//! (`/.well-known/openid-configuration`) finds the JWKS of an issuer.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::BoxError;

/// The largest JWKS or discovery document read.
const MAX_DOCUMENT: usize = 1024 * 1024;

/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// A boxed fetch.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Bytes, BoxError>> + Send + 'a>>;

/// Fetches a document (a JWKS, an OIDC discovery document) by URL: the
/// body of a `200` answer to `GET`. The built-in [`HttpFetcher`] speaks
/// plain HTTP; for `https://` URLs, implement this with the HTTP client
/// (and TLS configuration) your application already uses.
///
/// ```
/// use tower_bearer_auth::jwt::{FetchFuture, FetchJwks};
///
/// /// Serves a fixed document (tests, air-gapped setups).
/// struct Fixed(&'static str);
///
/// impl FetchJwks for Fixed {
///     fn fetch<'a>(&'a self, _url: &'a str) -> FetchFuture<'a> {
///         Box::pin(async move { Ok(bytes::Bytes::from_static(self.0.as_bytes())) })
///     }
/// }
/// ```
pub trait FetchJwks: Send + Sync + 'static {
    /// The body of `GET url`, or why not.
    fn fetch<'a>(&'a self, url: &'a str) -> FetchFuture<'a>;
}

/// Plain HTTP/1.1 `GET` with hyper: a 5 s limit, bodies up to 1 MiB, `200`
/// only. `https://` URLs are refused: give the validator a [`FetchJwks`]
/// of your own for them.
#[derive(Clone, Debug)]
pub struct HttpFetcher {
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl HttpFetcher {
    /// A fetcher with its own connection pool.
    #[must_use]
    pub fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }
}

impl Default for HttpFetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl FetchJwks for HttpFetcher {
    fn fetch<'a>(&'a self, url: &'a str) -> FetchFuture<'a> {
        Box::pin(async move {
            if !url.starts_with("http://") {
                return Err("the built-in fetcher speaks plain HTTP only; give the validator a FetchJwks for https".into());
            }
            let uri: http::Uri = url.parse()?;
            let get = async {
                let response = self.client.get(uri).await?;
                if response.status() != http::StatusCode::OK {
                    return Err::<Bytes, BoxError>(
                        format!("the server answered {}", response.status()).into(),
                    );
                }
                let body = Limited::new(response.into_body(), MAX_DOCUMENT)
                    .collect()
                    .await?;
                Ok(body.to_bytes())
            };
            tokio::time::timeout(FETCH_TIMEOUT, get)
                .await
                .map_err(|_| BoxError::from("the fetch took longer than 5 s"))?
        })
    }
}

/// The `jwks_uri` of an OIDC discovery document.
pub(super) fn jwks_uri(discovery: &[u8]) -> Result<String, BoxError> {
    let document: serde_json::Value = serde_json::from_slice(discovery)?;
    document
        .get("jwks_uri")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "the discovery document has no jwks_uri".into())
}

/// The discovery document's URL for an issuer.
pub(super) fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}
