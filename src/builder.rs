//! Configuring a [`BearerAuthLayer`]: the one place every default is set.

use std::fmt;
use std::sync::Arc;

use http::HeaderName;
use http::header::{AUTHORIZATION, COOKIE};

use crate::admission::Admission;
use crate::credentials::{CredentialRules, TokenSource};
use crate::error::ConfigError;
use crate::gate::Gate;
use crate::key_policy::gate::PolicyRules;
use crate::key_policy::{CreditCosts, TrustedProxies};
use crate::layer::BearerAuthLayer;
#[cfg(feature = "rate-limit")]
use crate::rate_limit::gate::RateGate;
#[cfg(feature = "rate-limit")]
use crate::rate_limit::{RateLimited, RateLimiter};
use crate::rejection::{self, ApiErrorJson, RejectionFormat, RejectionRenderer};
use crate::scope::AuthenticatedOnly;
use crate::validator::TokenValidator;

/// The realm of a layer that is not given one.
const DEFAULT_REALM: &str = "api";

/// The longest token accepted by default, in bytes.
const DEFAULT_MAX_TOKEN_LEN: usize = 4096;

/// Builds a [`BearerAuthLayer`]; every mistake is reported by
/// [`build`](Self::build), none panics.
///
/// The defaults, which [`BearerAuthLayer::new`] uses too: realm `api`, the
/// `Authorization` header only, tokens up to 4096 bytes, any valid token
/// accepted everywhere ([`AuthenticatedOnly`]), JSON rejection bodies
/// ([`ApiErrorJson`]), the principal in the request extensions only.
///
/// ```
/// use tower_bearer_auth::{BearerAuthLayer, KeyStore, ScopeRequirement};
/// use tower_bearer_auth::rejection::ProblemDetails;
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
#[must_use]
pub struct BearerAuthBuilder<V: TokenValidator, Pol = AuthenticatedOnly> {
    validator: V,
    policy: Pol,
    /// `Bearer realm="..."`, built as soon as the realm is set.
    challenge_start: String,
    max_token_len: usize,
    sources: Vec<TokenSource>,
    format: Arc<dyn RejectionFormat>,
    principal_in_response: bool,
    gate: Option<Arc<dyn Gate<V::Principal>>>,
    policies: PolicyRules,
    #[cfg(feature = "metrics")]
    metrics: Option<Arc<crate::metrics::RequestMetrics>>,
    error: Option<ConfigError>,
}

impl<V: TokenValidator> BearerAuthBuilder<V> {
    pub(crate) fn new(validator: V) -> Self {
        let mut builder = Self {
            validator,
            policy: AuthenticatedOnly,
            challenge_start: String::new(),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            sources: vec![TokenSource::AuthorizationHeader],
            format: Arc::new(ApiErrorJson),
            principal_in_response: false,
            gate: None,
            policies: PolicyRules::default(),
            #[cfg(feature = "metrics")]
            metrics: None,
            error: None,
        };
        builder.set_realm(DEFAULT_REALM);
        builder
    }
}

impl<V: TokenValidator, Pol> BearerAuthBuilder<V, Pol> {
    /// The realm named in `WWW-Authenticate` challenges (default `api`).
    /// Printable ASCII; quotes and backslashes are escaped.
    pub fn realm(mut self, realm: impl AsRef<str>) -> Self {
        self.set_realm(realm.as_ref());
        self
    }

    /// The longest token accepted, in bytes (default 4096). Longer tokens are
    /// refused as malformed before any hashing or validator call.
    pub fn max_token_len(mut self, max_token_len: usize) -> Self {
        if max_token_len == 0 {
            self.fail(ConfigError::ZeroMaxTokenLen);
        }
        self.max_token_len = max_token_len;
        self
    }

    /// Also read the token from a header of its own, e.g. `X-API-Key`, whose
    /// whole value is the token (no scheme).
    pub fn accept_header(mut self, name: &str) -> Self {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(header) if header == AUTHORIZATION || header == COOKIE => {
                self.fail(ConfigError::ReservedHeaderName {
                    name: name.to_owned(),
                });
            }
            Ok(header) => self.add_source(TokenSource::Header(header)),
            Err(_) => self.fail(ConfigError::InvalidHeaderName {
                name: name.to_owned(),
            }),
        }
        self
    }

    /// Also read the token from the cookie `name`.
    pub fn accept_cookie(mut self, name: &str) -> Self {
        // RFC 6265: cookie-name = token (RFC 9110 tchar)
        let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if name.is_empty() || !name.bytes().all(is_tchar) {
            self.fail(ConfigError::InvalidCookieName {
                name: name.to_owned(),
            });
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
    pub fn accept_query_parameter(mut self) -> Self {
        self.add_source(TokenSource::QueryParameter);
        self
    }

    /// Decides, once the token is valid, whether its scopes suffice for the
    /// request (default: [`AuthenticatedOnly`]).
    pub fn scope_policy<Pol2>(self, policy: Pol2) -> BearerAuthBuilder<V, Pol2> {
        BearerAuthBuilder {
            validator: self.validator,
            policy,
            challenge_start: self.challenge_start,
            max_token_len: self.max_token_len,
            sources: self.sources,
            format: self.format,
            principal_in_response: self.principal_in_response,
            gate: self.gate,
            policies: self.policies,
            #[cfg(feature = "metrics")]
            metrics: self.metrics,
            error: self.error,
        }
    }

    /// The body format of HTTP rejections (default: [`ApiErrorJson`]).
    pub fn rejection_format(mut self, format: impl RejectionFormat) -> Self {
        self.format = Arc::new(format);
        self
    }

    /// Limits the rate of each authenticated principal with `limiter`, in
    /// this layer itself: the same quotas, 429s and `RateLimit` fields as
    /// [`BearerAuthLayer::rate_limit`](crate::BearerAuthLayer::rate_limit)'s
    /// separate layer inside this one, decided right after the scope check,
    /// so that a request goes through one service, one future and one
    /// response body wrapper instead of two (see `BENCHMARKS.md` for what
    /// that saves). Give clones of one limiter to every layer that should
    /// share the quotas (REST and gRPC).
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use tower_bearer_auth::rate_limit::{Quota, RateLimiter};
    /// use tower_bearer_auth::{BearerAuthLayer, KeyStore};
    ///
    /// let limiter = RateLimiter::builder().default_quota(Quota::new(100, 60)?).build();
    /// let auth = BearerAuthLayer::builder(KeyStore::new())
    ///     .rate_limiter(limiter)
    ///     .build()?;
    /// let app: Router = Router::new()
    ///     .route("/v1/profile", get(|| async { "ok" }))
    ///     .layer(auth);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "rate-limit")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rate-limit")))]
    pub fn rate_limiter(mut self, limiter: RateLimiter) -> Self
    where
        V: TokenValidator,
        V::Principal: RateLimited,
    {
        self.gate = Some(Arc::new(RateGate::new(limiter)));
        self
    }

    /// The proxies whose `Forwarded` / `X-Forwarded-For` say who the
    /// client is, for keys with an address allowlist (default: none, the
    /// client is the connection's peer). See
    /// [`key_policy`](crate::key_policy).
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.policies.proxies = proxies;
        self
    }

    /// What requests cost in usage credits, for keys with credits
    /// (default: 1 each). See [`key_policy`](crate::key_policy).
    pub fn credit_costs(mut self, costs: CreditCosts) -> Self {
        self.policies.costs = costs;
        self
    }

    /// Counts keys' credits in the Redis of `store` (next to its key set),
    /// exactly across every replica: one script per request checks and
    /// spends (a round trip; a Redis failure answers 503, never lets the
    /// request through). Without this call each replica counts on its own.
    /// A store that another backend (Postgres) feeds has no Redis: credits
    /// then count per replica, as without this call.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn shared_credits(mut self, store: &crate::key_store::redis::SharedKeyStore) -> Self {
        self.policies.shared = store.redis_home().map(|home| {
            Arc::new(crate::key_policy::redis::RedisCredits::new(
                home.source,
                &home.hash_tag,
            ))
        });
        self
    }

    /// Also put a clone of the principal into the extensions of every
    /// response that passed (default: off), so that layers *outside* this
    /// one (an access log, metrics) can attribute the request, e.g. by
    /// `response.extensions().get::<ApiKey>()`. Off by default because it
    /// costs an extension insert per request. With the `tracing` feature the
    /// principal's [`subject`](crate::Principal::subject) is also recorded on
    /// the current span, whatever this setting.
    pub fn principal_in_response(mut self, enabled: bool) -> Self {
        self.principal_in_response = enabled;
        self
    }

    /// Records each decided request on the [`metrics`](https://docs.rs/metrics)
    /// facade: outcomes, validation latency and, on request, per-key counts
    /// (see [`metrics`](crate::metrics)). Off by default. Layers given the
    /// same `Arc` share its per-key cap.
    ///
    /// ```
    /// use tower_bearer_auth::metrics::RequestMetrics;
    /// use tower_bearer_auth::{BearerAuthLayer, KeyStore};
    ///
    /// let auth = BearerAuthLayer::builder(KeyStore::new())
    ///     .metrics(RequestMetrics::new())
    ///     .build()?;
    /// # Ok::<(), tower_bearer_auth::ConfigError>(())
    /// ```
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics(mut self, metrics: impl Into<Arc<crate::metrics::RequestMetrics>>) -> Self {
        self.metrics = Some(metrics.into());
        self
    }

    /// Builds the layer.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for the first invalid setting: a realm that is not
    /// printable ASCII, an invalid or repeated header or cookie name, or a
    /// zero `max_token_len`.
    pub fn build(self) -> Result<BearerAuthLayer<V, Pol>, ConfigError> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.assemble()),
        }
    }

    /// The layer of a checked configuration.
    pub(crate) fn assemble(self) -> BearerAuthLayer<V, Pol> {
        BearerAuthLayer::from_admission(Admission {
            validator: self.validator,
            credentials: CredentialRules::new(self.sources, self.max_token_len),
            policy: self.policy,
            renderer: Arc::new({
                #[allow(unused_mut)]
                let mut renderer = RejectionRenderer::new(self.challenge_start, self.format);
                #[cfg(feature = "metrics")]
                {
                    renderer.metrics.clone_from(&self.metrics);
                }
                renderer
            }),
            principal_in_response: self.principal_in_response,
            gate: self.gate,
            policies: self.policies,
            #[cfg(feature = "metrics")]
            metrics: self.metrics,
        })
    }

    fn set_realm(&mut self, realm: &str) {
        match rejection::challenge_start(realm) {
            Ok(start) => self.challenge_start = start,
            Err(error) => self.fail(error),
        }
    }

    fn add_source(&mut self, source: TokenSource) {
        if self.sources.contains(&source) {
            self.fail(ConfigError::DuplicateTokenSource {
                source: source.to_string(),
            });
        } else {
            self.sources.push(source);
        }
    }

    fn fail(&mut self, error: ConfigError) {
        self.error.get_or_insert(error);
    }
}

impl<V: TokenValidator, Pol: fmt::Debug> fmt::Debug for BearerAuthBuilder<V, Pol> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuthBuilder")
            .field("policy", &self.policy)
            .field("challenge_start", &self.challenge_start)
            .field("max_token_len", &self.max_token_len)
            .field("sources", &self.sources)
            .field("format", &self.format)
            .field("principal_in_response", &self.principal_in_response)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error<V: TokenValidator>(builder: BearerAuthBuilder<V>) -> ConfigError {
        builder.build().err().expect("refused")
    }

    /// A validator that never accepts (the configuration is what is tested).
    fn refuse_all(
        _: &str,
        _: &http::request::Parts,
    ) -> std::future::Ready<Result<(), crate::validator::ValidationError>> {
        std::future::ready(Err(crate::validator::ValidationError::invalid()))
    }

    #[test]
    fn each_mistake_is_reported_with_its_value() {
        let new = || BearerAuthBuilder::new(refuse_all);
        assert_eq!(
            error(new().realm("caf\u{e9}")),
            ConfigError::InvalidRealm {
                realm: "caf\u{e9}".to_owned()
            }
        );
        assert_eq!(error(new().max_token_len(0)), ConfigError::ZeroMaxTokenLen);
        assert_eq!(
            error(new().accept_header("bad header")),
            ConfigError::InvalidHeaderName {
                name: "bad header".to_owned()
            }
        );
        assert_eq!(
            error(new().accept_header("Authorization")),
            ConfigError::ReservedHeaderName {
                name: "Authorization".to_owned()
            }
        );
        assert_eq!(
            error(new().accept_cookie("a;b")),
            ConfigError::InvalidCookieName {
                name: "a;b".to_owned()
            }
        );
        assert_eq!(
            error(new().accept_cookie("k").accept_cookie("k")),
            ConfigError::DuplicateTokenSource {
                source: "cookie k".to_owned()
            }
        );
        assert_eq!(
            error(new().accept_query_parameter().accept_query_parameter()).to_string(),
            "token source the access_token query parameter is configured twice"
        );
    }

    #[test]
    fn the_first_mistake_wins_and_a_later_good_realm_does_not_hide_it() {
        let builder = BearerAuthBuilder::new(refuse_all)
            .realm("bad\n")
            .max_token_len(0)
            .realm("good");
        assert!(matches!(error(builder), ConfigError::InvalidRealm { .. }));
    }
}
