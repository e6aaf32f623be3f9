//! Configuring a [`BearerAuthLayer`].

use std::fmt;
use std::sync::Arc;

use http::HeaderName;
use http::header::{AUTHORIZATION, COOKIE};

use crate::api_error_json::ApiErrorJson;
use crate::b64token::DEFAULT_MAX_TOKEN_LEN;
use crate::challenge::DEFAULT_REALM;
use crate::config_error::ConfigError;
use crate::credentials::CredentialRules;
use crate::layer::BearerAuthLayer;
use crate::rejection_format::RejectionFormat;
use crate::rejection_renderer::RejectionRenderer;
use crate::scope_policy::AuthenticatedOnly;
use crate::settings::Settings;
use crate::token_source::TokenSource;

/// Builds a [`BearerAuthLayer`]; every mistake is reported by
/// [`build`](Self::build), none panics.
///
/// ```
/// use tower_bearer_auth::{BearerAuthLayer, KeyStore, ProblemDetails, ScopeRequirement};
///
/// let layer = BearerAuthLayer::builder(KeyStore::new())
///     .realm("billing")
///     .max_token_len(256)
///     .accept_header("x-api-key")
///     .scope_policy(ScopeRequirement::all(["billing:read"])?)
///     .rejection_format(ProblemDetails)
///     .build()?;
/// # Ok::<(), tower_bearer_auth::ConfigError>(())
/// ```
pub struct BearerAuthBuilder<V, P = AuthenticatedOnly> {
    validator: V,
    policy: P,
    realm: String,
    max_token_len: usize,
    sources: Vec<TokenSource>,
    format: Arc<dyn RejectionFormat>,
    error: Option<ConfigError>,
}

impl<V> BearerAuthBuilder<V> {
    pub(crate) fn new(validator: V) -> Self {
        Self {
            validator,
            policy: AuthenticatedOnly,
            realm: DEFAULT_REALM.to_owned(),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            sources: vec![TokenSource::AuthorizationHeader],
            format: Arc::new(ApiErrorJson),
            error: None,
        }
    }
}

impl<V, P> BearerAuthBuilder<V, P> {
    /// The realm named in `WWW-Authenticate` challenges (default `api`).
    /// Printable ASCII; quotes and backslashes are escaped.
    #[must_use]
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// The longest token accepted, in bytes (default 4096). Longer tokens are
    /// refused as malformed before any hashing or validator call.
    #[must_use]
    pub fn max_token_len(mut self, max_token_len: usize) -> Self {
        if max_token_len == 0 {
            self.fail("max_token_len must be at least 1");
        }
        self.max_token_len = max_token_len;
        self
    }

    /// Also read the token from a header of its own, e.g. `X-API-Key`, whose
    /// whole value is the token (no scheme).
    #[must_use]
    pub fn accept_header(mut self, name: &str) -> Self {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(name) if name == AUTHORIZATION || name == COOKIE => {
                self.fail(format!("{name} cannot be a custom token header"));
            }
            Ok(name) => self.add_source(TokenSource::Header(name)),
            Err(_) => self.fail(format!("invalid header name {name:?}")),
        }
        self
    }

    /// Also read the token from the cookie `name`.
    #[must_use]
    pub fn accept_cookie(mut self, name: &str) -> Self {
        // RFC 6265: cookie-name = token (RFC 9110 tchar)
        let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || !name.bytes().all(is_tchar) {
            self.fail(format!("invalid cookie name {name:?}"));
        } else {
            self.add_source(TokenSource::Cookie(name.into()));
        }
        self
    }

    /// Also read the token from the `access_token` query parameter
    /// (RFC 6750 §2.3), for clients that cannot set headers (browser
    /// WebSocket and `EventSource`). Successful responses to such requests
    /// carry `Cache-Control: private`, and the parameter is removed from the
    /// URI before the request reaches the inner service. Layers *outside*
    /// this one, proxies and browser history still see it: prefer headers
    /// wherever the client allows.
    #[must_use]
    pub fn accept_query_parameter(mut self) -> Self {
        self.add_source(TokenSource::QueryParameter);
        self
    }

    /// Decides, once the token is valid, whether its scopes suffice for the
    /// request (default: [`AuthenticatedOnly`]).
    pub fn scope_policy<P2>(self, policy: P2) -> BearerAuthBuilder<V, P2> {
        BearerAuthBuilder {
            validator: self.validator,
            policy,
            realm: self.realm,
            max_token_len: self.max_token_len,
            sources: self.sources,
            format: self.format,
            error: self.error,
        }
    }

    /// The body format of HTTP rejections (default: [`ApiErrorJson`]).
    #[must_use]
    pub fn rejection_format(mut self, format: impl RejectionFormat) -> Self {
        self.format = Arc::new(format);
        self
    }

    /// Builds the layer.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for the first invalid setting: a realm that is not
    /// printable ASCII, an invalid or repeated header or cookie name, or a
    /// zero `max_token_len`.
    pub fn build(self) -> Result<BearerAuthLayer<V, P>, ConfigError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let renderer = RejectionRenderer::new(&self.realm, self.format)?;
        Ok(BearerAuthLayer::from_parts(
            self.validator,
            Settings {
                policy: self.policy,
                credentials: CredentialRules::new(self.sources, self.max_token_len),
                renderer: Arc::new(renderer),
            },
        ))
    }

    fn add_source(&mut self, source: TokenSource) {
        if self.sources.contains(&source) {
            self.fail(format!("token source {source:?} is configured twice"));
        } else {
            self.sources.push(source);
        }
    }

    fn fail(&mut self, message: impl Into<String>) {
        self.error.get_or_insert_with(|| ConfigError::new(message));
    }
}

impl<V, P: fmt::Debug> fmt::Debug for BearerAuthBuilder<V, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuthBuilder")
            .field("policy", &self.policy)
            .field("realm", &self.realm)
            .field("max_token_len", &self.max_token_len)
            .field("sources", &self.sources)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}
