//! `WWW-Authenticate: Bearer ...` challenges (RFC 6750 §3, RFC 9110 §11.6.1).
//!
//! The realm is a quoted-string, escaped here; the other attribute values are
//! restricted to the characters RFC 6750 allows, so they need no escaping:
//! `error` and `error_description` come from [`RejectionKind`], and `scope`
//! from a validated [`ScopeSet`].

use http::HeaderValue;

use super::RejectionKind;
use crate::error::ConfigError;
use crate::scope::ScopeSet;

/// The start of every challenge of a layer without a realm.
pub(super) const WITHOUT_REALM: &str = "Bearer";

/// `Bearer realm="<realm>"`, the start of every challenge of one realm.
///
/// # Errors
///
/// [`ConfigError::InvalidRealm`] if the realm is not printable ASCII.
pub(crate) fn with_realm(realm: &str) -> Result<String, ConfigError> {
    let mut start = String::with_capacity(realm.len() + 15);
    start.push_str("Bearer realm=\"");
    for c in realm.chars() {
        match c {
            '"' | '\\' => {
                start.push('\\');
                start.push(c);
            }
            ' '..='~' => start.push(c),
            _ => {
                return Err(ConfigError::InvalidRealm {
                    realm: realm.to_owned(),
                });
            }
        }
    }
    start.push('"');
    Ok(start)
}

/// The challenge refusing a request for `kind`, or `None` for a 503.
/// `start` comes from [`with_realm`] or is [`WITHOUT_REALM`]; `scope` is
/// named for insufficient-scope refusals.
pub(super) fn challenge(
    start: &str,
    kind: RejectionKind,
    scope: Option<&ScopeSet>,
) -> Option<HeaderValue> {
    if !kind.has_challenge() {
        return None;
    }
    let Some(error) = kind.oauth_error() else {
        return Some(header_value(start.to_owned()));
    };
    let separator = if start.contains(' ') { ", " } else { " " };
    let mut value = format!(
        "{start}{separator}error=\"{error}\", error_description=\"{}\"",
        kind.description()
    );
    if let Some(scope) = scope.filter(|scope| !scope.is_empty()) {
        value.push_str(", scope=\"");
        value.push_str(scope.as_str());
        value.push('"');
    }
    Some(header_value(value))
}

/// Every byte reaching here is visible ASCII or a space (the realm is checked,
/// the rest is restricted by construction), which `HeaderValue` accepts.
fn header_value(value: String) -> HeaderValue {
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(WITHOUT_REALM))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> String {
        with_realm("api").expect("valid realm")
    }

    fn text(start: &str, kind: RejectionKind, scope: Option<&ScopeSet>) -> String {
        let value = challenge(start, kind, scope).expect("a challenge");
        value.to_str().expect("ascii").to_owned()
    }

    #[test]
    fn missing_credentials_get_no_error_attribute() {
        assert_eq!(
            text(&api(), RejectionKind::MissingCredentials, None),
            r#"Bearer realm="api""#
        );
        assert_eq!(
            text(&api(), RejectionKind::UnsupportedScheme, None),
            r#"Bearer realm="api""#
        );
    }

    #[test]
    fn invalid_and_expired_tokens() {
        assert_eq!(
            text(&api(), RejectionKind::InvalidToken, None),
            r#"Bearer realm="api", error="invalid_token", error_description="The bearer token is invalid or has been revoked""#
        );
        assert_eq!(
            text(&api(), RejectionKind::ExpiredToken, None),
            r#"Bearer realm="api", error="invalid_token", error_description="The bearer token has expired""#
        );
    }

    #[test]
    fn insufficient_scope_names_the_scopes() {
        let scopes = ScopeSet::parse("profile:read calls:write").expect("valid");
        assert_eq!(
            text(&api(), RejectionKind::InsufficientScope, Some(&scopes)),
            r#"Bearer realm="api", error="insufficient_scope", error_description="The bearer token lacks the required scope", scope="calls:write profile:read""#
        );
        let none = ScopeSet::empty();
        assert!(!text(&api(), RejectionKind::InsufficientScope, Some(&none)).contains("scope=\""));
    }

    #[test]
    fn realm_is_escaped_and_validated() {
        let start = with_realm(r#"my "quoted" \ realm"#).expect("valid realm");
        assert_eq!(
            text(&start, RejectionKind::MissingCredentials, None),
            r#"Bearer realm="my \"quoted\" \\ realm""#
        );
        assert_eq!(
            with_realm("new\nline"),
            Err(ConfigError::InvalidRealm {
                realm: "new\nline".to_owned()
            })
        );
        assert!(with_realm("caf\u{e9}").is_err());
    }

    #[test]
    fn without_realm() {
        assert_eq!(
            text(WITHOUT_REALM, RejectionKind::MissingCredentials, None),
            "Bearer"
        );
        assert_eq!(
            text(WITHOUT_REALM, RejectionKind::AmbiguousCredentials, None),
            r#"Bearer error="invalid_request", error_description="The request must carry exactly one bearer token""#
        );
    }

    #[test]
    fn server_errors_get_no_challenge() {
        assert!(challenge(&api(), RejectionKind::ValidatorUnavailable, None).is_none());
        assert!(challenge(&api(), RejectionKind::ValidatorTimeout, None).is_none());
    }
}
