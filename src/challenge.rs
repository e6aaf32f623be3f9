//! `WWW-Authenticate: Bearer ...` challenges (RFC 6750 §3, RFC 9110 §11.6.1).
//!
//! The realm is a quoted-string, escaped here; the other attribute values are
//! restricted to the characters RFC 6750 allows, so they need no escaping:
//! `error` and `error_description` come from [`RejectionKind`], and `scope`
//! from a validated [`ScopeSet`](crate::ScopeSet).

use http::HeaderValue;

use crate::config_error::ConfigError;
use crate::rejection::{Rejection, RejectionKind};

/// The realm of a layer built without one.
pub(crate) const DEFAULT_REALM: &str = "api";

/// The challenges of one realm, built once: only the insufficient-scope
/// challenge, which names scopes, is built per rejection.
#[derive(Debug, Clone)]
pub(crate) struct Challenges {
    /// `Bearer realm="..."` or `Bearer`.
    scheme_and_realm: String,
    plain: HeaderValue,
    malformed: HeaderValue,
    invalid: HeaderValue,
    expired: HeaderValue,
    invalid_request: HeaderValue,
}

impl Challenges {
    /// Challenges naming `realm`.
    pub(crate) fn with_realm(realm: &str) -> Result<Self, ConfigError> {
        Ok(Self::from_scheme_and_realm(format!(
            "Bearer realm={}",
            quote_realm(realm)?
        )))
    }

    /// Challenges for the default realm, [`DEFAULT_REALM`].
    pub(crate) fn default_realm() -> Self {
        Self::from_scheme_and_realm(format!("Bearer realm=\"{DEFAULT_REALM}\""))
    }

    /// Challenges without a realm attribute.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn without_realm() -> Self {
        Self::from_scheme_and_realm("Bearer".to_owned())
    }

    fn from_scheme_and_realm(scheme_and_realm: String) -> Self {
        let with_error = |kind: RejectionKind| {
            build(
                &scheme_and_realm,
                kind.oauth_error().unwrap_or_default(),
                kind.description(),
                None,
            )
        };
        Self {
            plain: header_value(scheme_and_realm.clone()),
            malformed: with_error(RejectionKind::MalformedToken),
            invalid: with_error(RejectionKind::InvalidToken),
            expired: with_error(RejectionKind::ExpiredToken),
            invalid_request: with_error(RejectionKind::AmbiguousCredentials),
            scheme_and_realm,
        }
    }

    /// The challenge for `rejection`, or `None` for a 503.
    pub(crate) fn for_rejection(&self, rejection: &Rejection) -> Option<HeaderValue> {
        let value = match rejection.kind() {
            RejectionKind::MissingCredentials | RejectionKind::UnsupportedScheme => &self.plain,
            RejectionKind::MalformedToken => &self.malformed,
            RejectionKind::InvalidToken => &self.invalid,
            RejectionKind::ExpiredToken => &self.expired,
            RejectionKind::AmbiguousCredentials => &self.invalid_request,
            RejectionKind::InsufficientScope => {
                let kind = RejectionKind::InsufficientScope;
                return Some(build(
                    &self.scheme_and_realm,
                    kind.oauth_error().unwrap_or_default(),
                    kind.description(),
                    rejection.required_scopes().map(crate::ScopeSet::as_str),
                ));
            }
            RejectionKind::ValidatorUnavailable | RejectionKind::ValidatorTimeout => return None,
        };
        Some(value.clone())
    }
}

fn build(
    scheme_and_realm: &str,
    error: &str,
    description: &str,
    scope: Option<&str>,
) -> HeaderValue {
    let separator = if scheme_and_realm.contains(' ') {
        ", "
    } else {
        " "
    };
    let mut value = format!(
        "{scheme_and_realm}{separator}error=\"{error}\", error_description=\"{description}\""
    );
    if let Some(scope) = scope.filter(|scope| !scope.is_empty()) {
        value.push_str(", scope=\"");
        value.push_str(scope);
        value.push('"');
    }
    header_value(value)
}

/// Every byte reaching here is visible ASCII or a space (the realm is checked,
/// the rest is restricted by construction), which `HeaderValue` accepts.
fn header_value(value: String) -> HeaderValue {
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// Quotes a realm as an RFC 9110 quoted-string, escaping `"` and `\`.
fn quote_realm(realm: &str) -> Result<String, ConfigError> {
    let mut quoted = String::with_capacity(realm.len() + 2);
    quoted.push('"');
    for c in realm.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            ' '..='~' => quoted.push(c),
            _ => {
                return Err(ConfigError::new(format!(
                    "realm {realm:?} must be printable ASCII"
                )));
            }
        }
    }
    quoted.push('"');
    Ok(quoted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::ScopeSet;

    fn challenge(challenges: &Challenges, rejection: &Rejection) -> String {
        let value = challenges.for_rejection(rejection).expect("a challenge");
        value.to_str().expect("ascii").to_owned()
    }

    #[test]
    fn missing_credentials_get_no_error_attribute() {
        let c = Challenges::with_realm("api").expect("valid realm");
        let rejection = Rejection::new(RejectionKind::MissingCredentials);
        assert_eq!(challenge(&c, &rejection), r#"Bearer realm="api""#);
        let rejection = Rejection::new(RejectionKind::UnsupportedScheme);
        assert_eq!(challenge(&c, &rejection), r#"Bearer realm="api""#);
    }

    #[test]
    fn invalid_and_expired_tokens() {
        let c = Challenges::with_realm("api").expect("valid realm");
        assert_eq!(
            challenge(&c, &Rejection::new(RejectionKind::InvalidToken)),
            r#"Bearer realm="api", error="invalid_token", error_description="The bearer token is invalid or has been revoked""#
        );
        assert_eq!(
            challenge(&c, &Rejection::new(RejectionKind::ExpiredToken)),
            r#"Bearer realm="api", error="invalid_token", error_description="The bearer token has expired""#
        );
    }

    #[test]
    fn insufficient_scope_names_the_scopes() {
        let c = Challenges::with_realm("api").expect("valid realm");
        let scopes = ScopeSet::parse("profile:read calls:write").expect("valid");
        assert_eq!(
            challenge(&c, &Rejection::insufficient_scope(scopes)),
            r#"Bearer realm="api", error="insufficient_scope", error_description="The bearer token lacks the required scope", scope="calls:write profile:read""#
        );
        let none = Rejection::insufficient_scope(ScopeSet::empty());
        assert!(!challenge(&c, &none).contains("scope=\""));
    }

    #[test]
    fn realm_is_escaped_and_validated() {
        let c = Challenges::with_realm(r#"my "quoted" \ realm"#).expect("valid realm");
        assert_eq!(
            challenge(&c, &Rejection::new(RejectionKind::MissingCredentials)),
            r#"Bearer realm="my \"quoted\" \\ realm""#
        );
        assert!(Challenges::with_realm("new\nline").is_err());
        assert!(Challenges::with_realm("caf\u{e9}").is_err());
    }

    #[test]
    fn default_realm_is_api() {
        let c = Challenges::default_realm();
        let rejection = Rejection::new(RejectionKind::MissingCredentials);
        assert_eq!(challenge(&c, &rejection), r#"Bearer realm="api""#);
    }

    #[test]
    fn without_realm() {
        let c = Challenges::without_realm();
        assert_eq!(
            challenge(&c, &Rejection::new(RejectionKind::MissingCredentials)),
            "Bearer"
        );
        assert_eq!(
            challenge(&c, &Rejection::new(RejectionKind::AmbiguousCredentials)),
            r#"Bearer error="invalid_request", error_description="The request must carry exactly one bearer token""#
        );
    }

    #[test]
    fn server_errors_get_no_challenge() {
        let c = Challenges::with_realm("api").expect("valid realm");
        let rejection = Rejection::new(RejectionKind::ValidatorUnavailable);
        assert!(c.for_rejection(&rejection).is_none());
    }
}
