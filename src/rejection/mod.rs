//! Why a request is refused, and how each refusal is answered.
//!
//! This folder decides everything a client sees when the layer says no: the
//! cause ([`RejectionKind`]), its HTTP status, RFC 6750 challenge and JSON
//! code, its gRPC form (a trailers-only response with `grpc-status` 16, 7 or
//! 14), the body format ([`RejectionFormat`]: [`ApiErrorJson`] by default, or
//! RFC 9457 [`ProblemDetails`]), and the one log event per refusal. The
//! request path hands it a [`Rejection`] and gets a finished response back;
//! nothing here sees a token.
//!
//! ```
//! use tower_bearer_auth::rejection::{ApiErrorJson, Rejection, RejectionFormat, RejectionKind};
//!
//! let kind = RejectionKind::InsufficientScope;
//! assert_eq!((kind.status().as_u16(), kind.code(), kind.grpc_code()), (403, "forbidden", 7));
//! let body = ApiErrorJson.body(&Rejection::new(RejectionKind::InvalidToken));
//! assert_eq!(body, r#"{"error":{"code":"unauthorized","message":"The bearer token is invalid or has been revoked"}}"#);
//! ```

mod challenge;
mod format;
mod grpc;
mod renderer;
mod trace;

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use http::StatusCode;

use crate::scope::ScopeSet;

pub(crate) use self::challenge::with_realm as challenge_start;
pub use self::format::{ApiErrorJson, ProblemDetails, RejectionFormat};
pub(crate) use self::renderer::RejectionRenderer;
pub(crate) use self::trace::missing_principal;

/// Why the layer refused a request.
///
/// Every rejection response carries its kind in its extensions, so that
/// outer layers (logging, metrics) can tell causes apart even where the
/// client is deliberately told the same thing (an unknown and a revoked key
/// are both [`InvalidToken`](Self::InvalidToken)).
///
/// ```
/// use tower_bearer_auth::RejectionKind;
///
/// # fn log(response: &http::Response<()>) {
/// if let Some(kind) = response.extensions().get::<RejectionKind>() {
///     println!("refused: {kind} ({})", kind.status());
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// No credentials at all: 401, challenge without an error attribute.
    MissingCredentials,
    /// An `Authorization` header with another scheme (`Basic ...`): 401,
    /// challenge without an error attribute.
    UnsupportedScheme,
    /// A bearer token that breaks the b64token grammar, is too long, or fails
    /// its checksum: 401 `invalid_token`.
    MalformedToken,
    /// A well-formed token the validator does not accept (unknown or
    /// revoked): 401 `invalid_token`.
    InvalidToken,
    /// A token that was valid and has expired: 401 `invalid_token`.
    ExpiredToken,
    /// A valid token without the scope the resource requires: 403
    /// `insufficient_scope`.
    InsufficientScope,
    /// More than one credential (two headers, or a header and a cookie...):
    /// 400 `invalid_request`.
    AmbiguousCredentials,
    /// The validator's backend failed: 503. The request is never let through.
    ValidatorUnavailable,
    /// The validator did not answer within the configured timeout: 503.
    ValidatorTimeout,
    /// The key sent more requests than its quota allows (the rate-limit
    /// layer, or a validator that limits rates itself): 429 with
    /// `Retry-After`, no challenge; gRPC 8 `RESOURCE_EXHAUSTED`.
    RateLimited,
    /// The key may not be used from the client's address (its allowlist,
    /// [`key_policy`](crate::key_policy)): 403 `forbidden`, no challenge
    /// (another token would not help), gRPC 7 `PERMISSION_DENIED`.
    AddressNotAllowed,
    /// The key has no usage credits left for the request
    /// ([`key_policy`](crate::key_policy)): 429 `usage_exceeded`, with
    /// `Retry-After` when the balance refills; gRPC 8 `RESOURCE_EXHAUSTED`.
    UsageExceeded,
}

impl RejectionKind {
    /// Every kind, for tables indexed by kind.
    pub(crate) const ALL: [Self; 12] = [
        Self::MissingCredentials,
        Self::UnsupportedScheme,
        Self::MalformedToken,
        Self::InvalidToken,
        Self::ExpiredToken,
        Self::InsufficientScope,
        Self::AmbiguousCredentials,
        Self::ValidatorUnavailable,
        Self::ValidatorTimeout,
        Self::RateLimited,
        Self::AddressNotAllowed,
        Self::UsageExceeded,
    ];

    /// The position of the kind in [`Self::ALL`]. An exhaustive match, so a
    /// new kind cannot be forgotten here.
    pub(crate) const fn index(self) -> usize {
        match self {
            Self::MissingCredentials => 0,
            Self::UnsupportedScheme => 1,
            Self::MalformedToken => 2,
            Self::InvalidToken => 3,
            Self::ExpiredToken => 4,
            Self::InsufficientScope => 5,
            Self::AmbiguousCredentials => 6,
            Self::ValidatorUnavailable => 7,
            Self::ValidatorTimeout => 8,
            Self::RateLimited => 9,
            Self::AddressNotAllowed => 10,
            Self::UsageExceeded => 11,
        }
    }

    /// The HTTP status of the rejection.
    #[must_use]
    pub const fn status(self) -> StatusCode {
        match self {
            Self::MissingCredentials
            | Self::UnsupportedScheme
            | Self::MalformedToken
            | Self::InvalidToken
            | Self::ExpiredToken => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope | Self::AddressNotAllowed => StatusCode::FORBIDDEN,
            Self::AmbiguousCredentials => StatusCode::BAD_REQUEST,
            Self::ValidatorUnavailable | Self::ValidatorTimeout => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited | Self::UsageExceeded => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The error code of the JSON body: `unauthorized`, `forbidden`,
    /// `invalid_request`, `unavailable`, `rate_limited` or `usage_exceeded`.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::MissingCredentials
            | Self::UnsupportedScheme
            | Self::MalformedToken
            | Self::InvalidToken
            | Self::ExpiredToken => "unauthorized",
            Self::InsufficientScope | Self::AddressNotAllowed => "forbidden",
            Self::AmbiguousCredentials => "invalid_request",
            Self::ValidatorUnavailable | Self::ValidatorTimeout => "unavailable",
            Self::RateLimited => "rate_limited",
            Self::UsageExceeded => "usage_exceeded",
        }
    }

    /// The RFC 6750 `error` attribute of the challenge, if any. Requests
    /// without bearer credentials get a challenge without one (§3.1), and a
    /// 503 gets no challenge at all.
    #[must_use]
    pub const fn oauth_error(self) -> Option<&'static str> {
        match self {
            Self::MalformedToken | Self::InvalidToken | Self::ExpiredToken => Some("invalid_token"),
            Self::InsufficientScope => Some("insufficient_scope"),
            Self::AmbiguousCredentials => Some("invalid_request"),
            Self::MissingCredentials
            | Self::UnsupportedScheme
            | Self::ValidatorUnavailable
            | Self::ValidatorTimeout
            | Self::RateLimited
            | Self::AddressNotAllowed
            | Self::UsageExceeded => None,
        }
    }

    /// Whether the response carries a `WWW-Authenticate` challenge (every
    /// 400 and 401, a 403 for scope; not a 403 for the address, a 429 or a
    /// 503: another token would not help).
    #[must_use]
    pub const fn has_challenge(self) -> bool {
        !self.is_server_error()
            && !matches!(
                self,
                Self::RateLimited | Self::UsageExceeded | Self::AddressNotAllowed
            )
    }

    /// The gRPC status code for gRPC requests: 16 `UNAUTHENTICATED`,
    /// 7 `PERMISSION_DENIED`, 14 `UNAVAILABLE` or 8 `RESOURCE_EXHAUSTED`.
    #[must_use]
    pub const fn grpc_code(self) -> u8 {
        match self {
            Self::MissingCredentials
            | Self::UnsupportedScheme
            | Self::MalformedToken
            | Self::InvalidToken
            | Self::ExpiredToken
            | Self::AmbiguousCredentials => 16,
            Self::InsufficientScope | Self::AddressNotAllowed => 7,
            Self::ValidatorUnavailable | Self::ValidatorTimeout => 14,
            Self::RateLimited | Self::UsageExceeded => 8,
        }
    }

    /// A human-readable description, suitable for the client. It uses only
    /// the characters RFC 6750 allows in `error_description`.
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            Self::MissingCredentials => "A bearer token is required",
            Self::UnsupportedScheme => "The Authorization header must use the Bearer scheme",
            Self::MalformedToken => "The bearer token is malformed",
            Self::InvalidToken => "The bearer token is invalid or has been revoked",
            Self::ExpiredToken => "The bearer token has expired",
            Self::InsufficientScope => "The bearer token lacks the required scope",
            Self::AmbiguousCredentials => "The request must carry exactly one bearer token",
            Self::ValidatorUnavailable => "Authentication is temporarily unavailable",
            Self::ValidatorTimeout => "Authentication timed out",
            Self::RateLimited => "Too many requests for this key",
            Self::AddressNotAllowed => "This key may not be used from the client's address",
            Self::UsageExceeded => "This key has no usage credits left",
        }
    }

    /// A stable `snake_case` name, for logs and metrics labels.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MissingCredentials => "missing_credentials",
            Self::UnsupportedScheme => "unsupported_scheme",
            Self::MalformedToken => "malformed_token",
            Self::InvalidToken => "invalid_token",
            Self::ExpiredToken => "expired_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::AmbiguousCredentials => "ambiguous_credentials",
            Self::ValidatorUnavailable => "validator_unavailable",
            Self::ValidatorTimeout => "validator_timeout",
            Self::RateLimited => "rate_limited",
            Self::AddressNotAllowed => "address_not_allowed",
            Self::UsageExceeded => "usage_exceeded",
        }
    }

    /// Whether the cause is on the server's side (503) rather than the client's.
    #[must_use]
    pub const fn is_server_error(self) -> bool {
        matches!(self, Self::ValidatorUnavailable | Self::ValidatorTimeout)
    }
}

impl fmt::Display for RejectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused request, as handed to a [`RejectionFormat`]
/// to render its body.
#[derive(Debug, Clone)]
pub struct Rejection {
    kind: RejectionKind,
    required_scopes: Option<ScopeSet>,
    retry_after: Option<Duration>,
}

impl Rejection {
    /// A rejection of the given kind. For
    /// [`InsufficientScope`](RejectionKind::InsufficientScope) use
    /// [`Rejection::insufficient_scope`] to name the scopes.
    #[must_use]
    pub const fn new(kind: RejectionKind) -> Self {
        Self {
            kind,
            required_scopes: None,
            retry_after: None,
        }
    }

    /// A 403 naming the scopes the resource requires.
    #[must_use]
    pub const fn insufficient_scope(required: ScopeSet) -> Self {
        Self {
            kind: RejectionKind::InsufficientScope,
            required_scopes: Some(required),
            retry_after: None,
        }
    }

    /// A 429: the key may retry after `retry_after` (sent as
    /// `Retry-After` in whole seconds, rounded up).
    #[must_use]
    pub const fn rate_limited(retry_after: Duration) -> Self {
        Self {
            kind: RejectionKind::RateLimited,
            required_scopes: None,
            retry_after: Some(retry_after),
        }
    }

    /// A 429 for a key without credits: retry after `retry_after`, when
    /// the balance refills (none: it does not refill by itself).
    #[must_use]
    pub const fn usage_exceeded(retry_after: Option<Duration>) -> Self {
        Self {
            kind: RejectionKind::UsageExceeded,
            required_scopes: None,
            retry_after,
        }
    }

    /// Why the request was refused.
    #[must_use]
    pub const fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The scopes the resource requires, for an insufficient-scope rejection.
    #[must_use]
    pub const fn required_scopes(&self) -> Option<&ScopeSet> {
        self.required_scopes.as_ref()
    }

    /// When a rate-limited request may be retried.
    #[must_use]
    pub const fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// [`retry_after`](Self::retry_after) in whole seconds, rounded up, as
    /// `Retry-After` says it.
    #[must_use]
    pub fn retry_after_seconds(&self) -> Option<u64> {
        self.retry_after.map(whole_seconds_up)
    }

    /// The message for the response body: the kind's description, followed by
    /// the required scopes where there are any, or when to retry.
    #[must_use]
    pub fn message(&self) -> Cow<'static, str> {
        match (&self.required_scopes, self.retry_after_seconds()) {
            (Some(scopes), _) if !scopes.is_empty() => {
                Cow::Owned(format!("{}: {}", self.kind.description(), scopes.as_str()))
            }
            (_, Some(seconds)) => Cow::Owned(format!(
                "{}; retry after {seconds} s",
                self.kind.description()
            )),
            _ => Cow::Borrowed(self.kind.description()),
        }
    }
}

/// A duration in whole seconds, rounded up (a retry at that time is not
/// early).
pub(crate) fn whole_seconds_up(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

impl From<RejectionKind> for Rejection {
    fn from(kind: RejectionKind) -> Self {
        Self::new(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [RejectionKind; 12] = RejectionKind::ALL;

    #[test]
    fn all_lists_every_kind_at_its_index() {
        for (i, kind) in ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i, "{kind}");
        }
    }

    #[test]
    fn statuses_codes_and_grpc_agree() {
        for kind in ALL {
            let expected = match kind.status().as_u16() {
                401 => ("unauthorized", 16),
                403 => ("forbidden", 7),
                400 => ("invalid_request", 16),
                503 => ("unavailable", 14),
                429 if kind == RejectionKind::UsageExceeded => ("usage_exceeded", 8),
                429 => ("rate_limited", 8),
                other => panic!("unexpected status {other}"),
            };
            assert_eq!((kind.code(), kind.grpc_code()), expected, "{kind}");
        }
    }

    #[test]
    fn descriptions_use_only_rfc6750_characters() {
        // error-description = *( %x20-21 / %x23-5B / %x5D-7E )
        for kind in ALL {
            for b in kind.description().bytes() {
                assert!(
                    matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E),
                    "{kind}: {b:#x}"
                );
            }
        }
    }

    #[test]
    fn unknown_and_revoked_share_one_kind_and_message() {
        // The validator reports both as `invalid`; the kind and message cannot differ.
        assert_eq!(
            RejectionKind::InvalidToken.description(),
            "The bearer token is invalid or has been revoked"
        );
    }

    #[test]
    fn rate_limited_says_when_to_retry_in_whole_seconds_rounded_up() {
        let rejection = Rejection::rate_limited(Duration::from_millis(1_200));
        assert_eq!(rejection.retry_after_seconds(), Some(2));
        assert_eq!(
            rejection.message(),
            "Too many requests for this key; retry after 2 s"
        );
        assert_eq!(
            Rejection::rate_limited(Duration::from_secs(3)).retry_after_seconds(),
            Some(3)
        );
        let kind = RejectionKind::RateLimited;
        assert!(!kind.has_challenge() && !kind.is_server_error());
        assert_eq!(kind.oauth_error(), None);
    }

    #[test]
    fn message_names_required_scopes() {
        let scopes = ScopeSet::new(["calls:write", "profile:read"]).expect("valid scopes");
        let rejection = Rejection::insufficient_scope(scopes);
        assert_eq!(
            rejection.message(),
            "The bearer token lacks the required scope: calls:write profile:read"
        );
        assert_eq!(
            Rejection::new(RejectionKind::ExpiredToken).message(),
            "The bearer token has expired"
        );
    }
}
