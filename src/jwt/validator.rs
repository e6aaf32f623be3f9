//! `JwtValidator`: checks a JWT against the allow-list and the keys, then
//! its claims, and hands the claims on as the principal.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::request::Parts;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};

use super::cache::{CacheLimits, TokenCache};
use super::claims::{BasicClaims, ClaimsProblem, CustomClaims, RawClaims};
use super::fetch::{FetchJwks, HttpFetcher};
use super::header::{Peeked, with_header};
use super::jwks::{KeySet, Keys, Source, Timing, Unusable};
use super::{JwtClaims, JwtKey, NoCustomClaims, ScopeClaim};
use crate::{TokenValidator, ValidationError};

/// How long a request waits for a refetch asked for by an unknown `kid`.
const REFETCH_WAIT: Duration = Duration::from_secs(3);

/// The largest leeway a validator takes: one day.
const MAX_LEEWAY_SECONDS: u64 = 86_400;

/// With no `kid` in the token, at most this many keys are tried.
const MAX_TRIES_WITHOUT_KID: usize = 4;

/// Validates JWT access tokens (RFC 7519, JWS compact serialization):
/// the algorithm against an explicit allow-list (never `none`, and never an
/// algorithm of another family than the key's: an RSA public key is not an
/// HMAC secret), the signature, `exp` (required), `nbf`, and `iss` and
/// `aud` when configured, with a small leeway (30 s by default). Its
/// principal is the token's [`JwtClaims`].
///
/// Keys are static, or a JWKS fetched by URL or through OIDC discovery by
/// a thread of its own, refreshed every 5 minutes; a token naming an
/// unknown `kid` triggers a refetch at most once per `min_refetch` (10 s);
/// when the JWKS cannot be fetched, the keys fetched before keep working
/// for `max_stale` (1 hour), then JWTs get 503. Until a first fetch
/// succeeds, JWTs get 503 (never 401: the keys are unknown, not the
/// token).
///
/// ```
/// use jsonwebtoken::Algorithm;
/// use tower_bearer_auth::BearerAuthLayer;
/// use tower_bearer_auth::jwt::{JwtKey, JwtValidator};
///
/// let validator = JwtValidator::builder([Algorithm::HS256])
///     .key(JwtKey::hmac(b"a secret of at least 32 bytes!!!"))
///     .issuer("https://issuer.example")
///     .audience("https://api.example")
///     .build()?;
/// let layer = BearerAuthLayer::new(validator);
/// # Ok::<(), tower_bearer_auth::jwt::JwtConfigError>(())
/// ```
pub struct JwtValidator<C = NoCustomClaims> {
    inner: Arc<Inner>,
    /// Tokens verified before (none when turned off).
    cache: Option<Arc<TokenCache<C>>>,
    claims: PhantomData<fn() -> C>,
}

struct Inner {
    keys: Arc<Keys>,
    algorithms: Vec<Algorithm>,
    /// The checks for a token of each allowed algorithm, built once.
    validations: Vec<(Algorithm, Validation)>,
    scope_claim: ScopeClaim,
}

/// Why a validator cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtConfigError {
    /// The allow-list is empty.
    NoAlgorithms,
    /// No key and no JWKS.
    NoKeys,
    /// A static key verifies none of the allowed algorithms.
    KeyFitsNoAlgorithm {
        /// The key's `kid`, if any.
        kid: Option<String>,
    },
    /// The leeway is over a day (the most this validator allows: a
    /// larger one makes `exp` meaningless, and overflows the library's
    /// arithmetic near `u64::MAX`).
    LeewayTooLarge {
        /// The leeway asked for, in seconds.
        seconds: u64,
    },
    /// The refresh thread could not start.
    Thread {
        /// Why.
        problem: String,
    },
}

impl fmt::Display for JwtConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoAlgorithms => f.write_str("the JWT algorithm allow-list is empty"),
            Self::NoKeys => f.write_str("a JWT validator needs keys or a JWKS"),
            Self::KeyFitsNoAlgorithm { kid } => {
                write!(f, "JWT key {kid:?} verifies none of the allowed algorithms")
            }
            Self::LeewayTooLarge { seconds } => {
                write!(
                    f,
                    "a JWT leeway of {seconds} s is over the maximum of {MAX_LEEWAY_SECONDS} s"
                )
            }
            Self::Thread { problem } => write!(f, "cannot start the JWKS thread: {problem}"),
        }
    }
}

impl std::error::Error for JwtConfigError {}

/// Configures a [`JwtValidator`].
#[must_use]
pub struct JwtValidatorBuilder<C = NoCustomClaims> {
    algorithms: Vec<Algorithm>,
    keys: Vec<JwtKey>,
    source: Option<Source>,
    fetcher: Option<Arc<dyn FetchJwks>>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    scope_claim: ScopeClaim,
    timing: Timing,
    cache: Option<CacheLimits>,
    claims: PhantomData<fn() -> C>,
}

/// The verified-token cache by default: 10,000 tokens, 16 MiB, a minute.
const DEFAULT_CACHE: CacheLimits = CacheLimits {
    entries: 10_000,
    bytes: 16 * 1024 * 1024,
    ttl: Duration::from_secs(60),
};

impl JwtValidator {
    /// Starts a validator that accepts exactly `algorithms` (there is no
    /// default: say which).
    pub fn builder(algorithms: impl IntoIterator<Item = Algorithm>) -> JwtValidatorBuilder {
        JwtValidatorBuilder {
            algorithms: algorithms.into_iter().collect(),
            keys: Vec::new(),
            source: None,
            fetcher: None,
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(30),
            scope_claim: ScopeClaim::default(),
            timing: Timing {
                refresh_every: Duration::from_secs(300),
                min_refetch: Duration::from_secs(10),
                max_stale: Duration::from_secs(3_600),
            },
            cache: Some(DEFAULT_CACHE),
            claims: PhantomData,
        }
    }
}

impl<C> JwtValidatorBuilder<C> {
    /// A static key (several: tokens choose by `kid`).
    pub fn key(mut self, key: JwtKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Keys from the JWKS at `url` (`http://`, or any scheme your
    /// [`fetcher`](Self::fetcher) speaks).
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.source = Some(Source::Jwks(url.into()));
        self
    }

    /// Keys from the JWKS the OIDC discovery document of `issuer` names
    /// (`<issuer>/.well-known/openid-configuration`).
    pub fn oidc_discovery(mut self, issuer: impl Into<String>) -> Self {
        self.source = Some(Source::Discovery(issuer.into()));
        self
    }

    /// How JWKS documents are fetched (default: [`HttpFetcher`], plain
    /// HTTP).
    pub fn fetcher(mut self, fetcher: impl FetchJwks) -> Self {
        self.fetcher = Some(Arc::new(fetcher));
        self
    }

    /// `iss` must be exactly this.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// `aud` must contain this.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Clock skew allowed on `exp` and `nbf` (default 30 s, at most a day:
    /// [`build`](Self::build) refuses more).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Where the scopes are (default: `scope`, else `scp`).
    pub fn scope_claim(mut self, claim: ScopeClaim) -> Self {
        self.scope_claim = claim;
        self
    }

    /// How often the JWKS is fetched again (default 5 minutes; at most
    /// half of [`jwks_max_stale`](Self::jwks_max_stale), so that a failed
    /// fetch is retried before the keys go stale).
    pub fn jwks_refresh_every(mut self, every: Duration) -> Self {
        self.timing.refresh_every = every;
        self
    }

    /// The shortest time between two fetches asked for by unknown `kid`s
    /// (default 10 s): a flood of made-up `kid`s costs one fetch per
    /// interval, never one per token.
    pub fn jwks_min_refetch(mut self, interval: Duration) -> Self {
        self.timing.min_refetch = interval;
        self
    }

    /// How long the keys of the last successful fetch keep working while
    /// the JWKS cannot be fetched (default 1 hour); after that, JWTs get
    /// 503.
    pub fn jwks_max_stale(mut self, max_stale: Duration) -> Self {
        self.timing.max_stale = max_stale;
        self
    }

    /// Reads the application's own claims into `T` (serde) beside the
    /// registered ones: `JwtClaims::custom`.
    pub fn custom_claims<T: CustomClaims>(self) -> JwtValidatorBuilder<T> {
        JwtValidatorBuilder {
            algorithms: self.algorithms,
            keys: self.keys,
            source: self.source,
            fetcher: self.fetcher,
            issuer: self.issuer,
            audience: self.audience,
            leeway: self.leeway,
            scope_claim: self.scope_claim,
            timing: self.timing,
            cache: self.cache,
            claims: PhantomData,
        }
    }

    /// Keeps verified tokens (by SHA-256) with their claims, so that a
    /// repeated JWT skips its signature check: at most `entries` tokens
    /// and `bytes` bytes, each until its `exp` and for at most `ttl`,
    /// dropped when the key that verified it leaves the JWKS; `exp` and
    /// `nbf` are checked again on every hit. Default: 10,000 tokens,
    /// 16 MiB, 60 s. `entries` 0 turns it off.
    pub fn token_cache(mut self, entries: usize, bytes: usize, ttl: Duration) -> Self {
        self.cache = (entries > 0).then_some(CacheLimits {
            entries,
            bytes,
            ttl,
        });
        self
    }

    /// The validator; with a JWKS, its thread starts fetching now.
    ///
    /// # Errors
    ///
    /// [`JwtConfigError`] for an empty allow-list, no keys, a static key
    /// that fits no allowed algorithm, a leeway over a day, or no thread.
    pub fn build(self) -> Result<JwtValidator<C>, JwtConfigError> {
        super::install_crypto_provider();
        if self.algorithms.is_empty() {
            return Err(JwtConfigError::NoAlgorithms);
        }
        if self.leeway.as_secs() > MAX_LEEWAY_SECONDS {
            return Err(JwtConfigError::LeewayTooLarge {
                seconds: self.leeway.as_secs(),
            });
        }
        for key in &self.keys {
            if !self.algorithms.iter().any(|alg| key.verifies(*alg)) {
                return Err(JwtConfigError::KeyFitsNoAlgorithm {
                    kid: key.kid.clone(),
                });
            }
        }
        let keys = match self.source {
            Some(source) => Keys::remote(
                source,
                self.fetcher.unwrap_or_else(|| Arc::new(HttpFetcher::new())),
                self.timing,
            )
            .map_err(|e| JwtConfigError::Thread {
                problem: e.to_string(),
            })?,
            None if self.keys.is_empty() => return Err(JwtConfigError::NoKeys),
            None => Keys::fixed(self.keys),
        };
        let validations = self
            .algorithms
            .iter()
            .map(|&alg| {
                let mut validation = Validation::new(alg);
                validation.leeway = self.leeway.as_secs();
                validation.validate_nbf = true;
                // A configured issuer or audience is a required claim: a
                // token without it is refused, not waved through.
                let mut required = vec!["exp"];
                if let Some(issuer) = &self.issuer {
                    validation.set_issuer(&[issuer]);
                    required.push("iss");
                }
                match &self.audience {
                    Some(audience) => {
                        validation.set_audience(&[audience]);
                        required.push("aud");
                    }
                    None => validation.validate_aud = false,
                }
                validation.set_required_spec_claims(&required);
                (alg, validation)
            })
            .collect();
        Ok(JwtValidator {
            inner: Arc::new(Inner {
                keys,
                algorithms: self.algorithms,
                validations,
                scope_claim: self.scope_claim,
            }),
            cache: self
                .cache
                .map(|limits| Arc::new(TokenCache::new(limits, self.leeway.as_secs()))),
            claims: PhantomData,
        })
    }
}

impl<C> JwtValidator<C> {
    /// Waits (up to `within`) until JWTs can be checked: at once for static
    /// keys, after the first successful fetch for a JWKS. `false` if not
    /// within the time (JWTs get 503 meanwhile).
    pub async fn ready(&self, within: Duration) -> bool {
        self.inner.keys.ready(within).await
    }

    /// How many JWKS fetches have started (0 for static keys).
    #[must_use]
    pub fn jwks_fetches(&self) -> u64 {
        self.inner.keys.fetches()
    }
}

/// One decision on a token, with the keys as they are now.
enum Outcome<C> {
    Done(Result<JwtClaims<C>, ValidationError>),
    /// Verified now with the key of this `kid` (for the cache).
    Verified(JwtClaims<C>, Option<String>),
    /// No key has the token's `kid`.
    UnknownKid,
}

impl<C: CustomClaims> JwtValidator<C> {
    fn check(&self, token: &str, set: &KeySet) -> Outcome<C> {
        with_header(token, |header| self.check_with(token, header, set))
            .unwrap_or(Outcome::Done(Err(ValidationError::malformed())))
    }

    fn check_with(&self, token: &str, header: &Peeked<'_>, set: &KeySet) -> Outcome<C> {
        // RFC 7515 §4.1.11: a header naming critical extensions must be
        // refused unless each is understood; this validator implements
        // none (not `b64` either), so any `crit` is refused, before any key.
        if header.crit {
            return Outcome::Done(Err(ValidationError::invalid()));
        }
        // The allow-list first: `none` and anything not allowed never reach
        // a key.
        let Some((_, validation)) = self
            .inner
            .validations
            .iter()
            .find(|(alg, _)| *alg == header.alg)
        else {
            return Outcome::Done(Err(ValidationError::invalid()));
        };
        let candidates = set
            .keys
            .iter()
            .filter(|key| key.verifies(header.alg))
            .filter(|key| header.kid.is_none() || key.kid.as_deref() == header.kid.as_deref());
        let mut tried = 0;
        let mut last = None;
        for key in candidates.take(if header.kid.is_some() {
            1
        } else {
            MAX_TRIES_WITHOUT_KID
        }) {
            tried += 1;
            match self.decode(token, key, validation) {
                Ok(claims) => return Outcome::Verified(claims, key.kid.clone()),
                Err(error) => last = Some(error),
            }
        }
        match last {
            Some(error) => Outcome::Done(Err(error)),
            None if header.kid.is_some() && tried == 0 => Outcome::UnknownKid,
            None => Outcome::Done(Err(ValidationError::invalid())),
        }
    }

    fn decode(
        &self,
        token: &str,
        key: &JwtKey,
        validation: &Validation,
    ) -> Result<JwtClaims<C>, ValidationError> {
        let scope_claim = self.inner.scope_claim;
        let claims = if std::any::TypeId::of::<C>() == std::any::TypeId::of::<NoCustomClaims>() {
            let claims = jsonwebtoken::decode::<BasicClaims>(token, &key.decoding, validation)
                .map_err(|e| refusal(e.kind()))?
                .claims
                .into_claims(scope_claim, NoCustomClaims, token)
                .map_err(problem)?;
            // `C` is `NoCustomClaims` here: the same type, seen through
            // `Any` (no allocation).
            let mut basic = Some(claims);
            let slot: &mut dyn Any = &mut basic;
            slot.downcast_mut::<Option<JwtClaims<C>>>()
                .and_then(Option::take)
                .ok_or_else(ValidationError::invalid)?
        } else {
            jsonwebtoken::decode::<RawClaims<C>>(token, &key.decoding, validation)
                .map_err(|e| refusal(e.kind()))?
                .claims
                .into_claims(scope_claim, token)
                .map_err(problem)?
        };
        Ok(claims)
    }

    /// The decision with the keys in force, or 503 when there are none: a
    /// token verified before (and still good) from the cache, else checked.
    fn now(&self, token: &str) -> Result<Outcome<C>, ValidationError> {
        let set = self.inner.keys.usable().map_err(unusable)?;
        let Some(cache) = &self.cache else {
            return Ok(match self.check(token, &set) {
                Outcome::Verified(claims, _) => Outcome::Done(Ok(claims)),
                other => other,
            });
        };
        let digest = super::cache::digest(token);
        if let Some(claims) = cache.get(&digest, &set) {
            return Ok(Outcome::Done(Ok(claims)));
        }
        Ok(match self.check(token, &set) {
            Outcome::Verified(claims, kid) => {
                cache.insert(digest, claims.clone(), kid.as_deref(), &set, token.len());
                Outcome::Done(Ok(claims))
            }
            other => other,
        })
    }

    /// How many verified tokens the cache holds now.
    #[must_use]
    pub fn cached_tokens(&self) -> usize {
        self.cache.as_deref().map_or(0, TokenCache::len)
    }
}

fn unusable(reason: Unusable) -> ValidationError {
    ValidationError::unavailable(match reason {
        Unusable::NoKeys => "no JWT keys: the JWKS has not been fetched yet",
        Unusable::Stale => "the JWT keys are too old: the JWKS cannot be fetched",
    })
}

fn problem(problem: ClaimsProblem) -> ValidationError {
    match problem {
        ClaimsProblem::BadScope | ClaimsProblem::NoExpiry | ClaimsProblem::ExpiryOutOfRange => {
            ValidationError::invalid()
        }
    }
}

/// The answer to a library error: expired is its own 401; a token that is
/// not even a JWS is malformed; everything else is invalid.
fn refusal(kind: &ErrorKind) -> ValidationError {
    match kind {
        ErrorKind::ExpiredSignature => ValidationError::expired(),
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => ValidationError::malformed(),
        _ => ValidationError::invalid(),
    }
}

/// The future of [`JwtValidator`]: ready at once, or after a refetch asked
/// for by an unknown `kid`.
pub struct JwtFuture<C> {
    state: FutureState<C>,
}

enum FutureState<C> {
    Ready(Option<Result<JwtClaims<C>, ValidationError>>),
    Refetching(Pin<Box<dyn Future<Output = Result<JwtClaims<C>, ValidationError>> + Send>>),
}

impl<C> Future for JwtFuture<C> {
    type Output = Result<JwtClaims<C>, ValidationError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().state {
            FutureState::Ready(outcome) => Poll::Ready(
                outcome
                    .take()
                    .unwrap_or_else(|| Err(ValidationError::invalid())),
            ),
            FutureState::Refetching(future) => future.as_mut().poll(cx),
        }
    }
}

// Nothing in the future is pinned in place: the boxed refetch is pinned in
// its own box, and the ready outcome is only moved out.
impl<C> Unpin for JwtFuture<C> {}

impl<C> fmt::Debug for JwtFuture<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtFuture").finish_non_exhaustive()
    }
}

impl<C: CustomClaims> TokenValidator for JwtValidator<C> {
    type Principal = JwtClaims<C>;
    type Future = JwtFuture<C>;

    fn validate(&self, token: &str, _request: &Parts) -> Self::Future {
        let ready = |outcome| JwtFuture {
            state: FutureState::Ready(Some(outcome)),
        };
        match self.now(token) {
            Err(unavailable) => ready(Err(unavailable)),
            Ok(Outcome::Done(outcome)) => ready(outcome),
            Ok(Outcome::Verified(claims, _)) => ready(Ok(claims)),
            Ok(Outcome::UnknownKid) => match self.inner.keys.refetch() {
                // Fetched less than `min_refetch` ago: the key is unknown.
                None => ready(Err(ValidationError::invalid())),
                Some(mut finished) => {
                    let this = self.clone();
                    let token = token.to_owned();
                    JwtFuture {
                        state: FutureState::Refetching(Box::pin(async move {
                            let _ = tokio::time::timeout(REFETCH_WAIT, finished.changed()).await;
                            match this.now(&token)? {
                                Outcome::Done(outcome) => outcome,
                                Outcome::Verified(claims, _) => Ok(claims),
                                Outcome::UnknownKid => Err(ValidationError::invalid()),
                            }
                        })),
                    }
                }
            },
        }
    }
}

impl<C> Clone for JwtValidator<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            cache: self.cache.clone(),
            claims: PhantomData,
        }
    }
}

impl<C> fmt::Debug for JwtValidator<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtValidator")
            .field("algorithms", &self.inner.algorithms)
            .field(
                "issuer",
                &self.inner.validations.first().map(|(_, v)| &v.iss),
            )
            .field(
                "audience",
                &self.inner.validations.first().map(|(_, v)| &v.aud),
            )
            .field("scope_claim", &self.inner.scope_claim)
            .finish_non_exhaustive()
    }
}

impl<C> fmt::Debug for JwtValidatorBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtValidatorBuilder")
            .field("algorithms", &self.algorithms)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}
