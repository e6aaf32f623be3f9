//! Reading admin requests: JSON bodies (type, size), their fields, and list
//! queries. Problems name the field, never repeat the value: a token pasted
//! into the wrong field must not come back in an answer.

use std::time::SystemTime;

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde_json::{Map, Value};

use super::view::Problem;
use crate::key_store::parse_quota;
use crate::key_store::rfc3339;
use crate::rate_limit::Quota;
use crate::scope::ScopeSet;

/// The largest request body accepted.
const MAX_BODY: usize = 64 * 1024;

/// The longest label the API accepts.
const MAX_LABEL: usize = 128;

/// The longest rotation grace period: 7 days.
const MAX_GRACE_SECONDS: u64 = 604_800;

/// Whether a body is needed, allowed, or refused.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyRule {
    Required,
    Optional,
    Refused,
}

/// The request's JSON object, or the error answer: 415 for another type,
/// 413 past 64 KiB, 400 for what is not a JSON object. An absent body reads
/// as `{}` where a body is optional.
pub(super) async fn object(
    parts: &Parts,
    body: Body,
    expect: BodyRule,
) -> Result<Map<String, Value>, Problem> {
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| Problem::too_large())?;
    if bytes.is_empty() {
        return match expect {
            BodyRule::Required => Err(Problem::invalid("a JSON object body is required")),
            BodyRule::Optional | BodyRule::Refused => Ok(Map::new()),
        };
    }
    if expect == BodyRule::Refused {
        return Err(Problem::invalid("this request takes no body"));
    }
    let json_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(Problem::not_json());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Problem::invalid("the request body must be a JSON object")),
        Err(error) => Err(Problem::invalid(format!(
            "the request body is not JSON (line {}, column {})",
            error.line(),
            error.column()
        ))),
    }
}

/// Refuses fields other than `allowed`.
pub(super) fn only(object: &Map<String, Value>, allowed: &[&str]) -> Result<(), Problem> {
    match object.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(unknown) => Err(Problem::invalid(format!(
            "{}; fields are {}",
            field_name(unknown),
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

/// A field name from the request, quoted when it is a plain short name,
/// withheld otherwise.
fn field_name(name: &str) -> String {
    let plain =
        (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if plain {
        format!("unknown field `{name}`")
    } else {
        "an unknown field".to_owned()
    }
}

/// `label`: 1 to 128 characters, no control characters.
pub(super) fn label(value: &Value) -> Result<String, Problem> {
    match value {
        Value::String(label)
            if !label.trim().is_empty()
                && label.chars().count() <= MAX_LABEL
                && !label.chars().any(char::is_control) =>
        {
            Ok(label.clone())
        }
        _ => Err(Problem::invalid(
            "`label` must be a string of 1 to 128 characters without control characters",
        )),
    }
}

/// `scopes`: an array of RFC 6749 scope tokens.
pub(super) fn scopes(value: &Value) -> Result<ScopeSet, Problem> {
    let bad = || {
        Problem::invalid(
            "`scopes` must be an array of scopes: printable ASCII without spaces, '\"' or '\\'",
        )
    };
    let Value::Array(items) = value else {
        return Err(bad());
    };
    let names: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
    ScopeSet::new(names.ok_or_else(bad)?).map_err(|_| bad())
}

/// `expires_at`: an RFC 3339 time in the future, or `null` (no expiry).
pub(super) fn expires_at(value: &Value) -> Result<Option<SystemTime>, Problem> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => match rfc3339::parse(text) {
            Some(time) if time > SystemTime::now() => Ok(Some(time)),
            Some(_) => Err(Problem::invalid("`expires_at` is in the past")),
            None => Err(Problem::invalid(
                "`expires_at` must be an RFC 3339 time (e.g. 2027-01-01T00:00:00Z) or null",
            )),
        },
        _ => Err(Problem::invalid(
            "`expires_at` must be an RFC 3339 time (e.g. 2027-01-01T00:00:00Z) or null",
        )),
    }
}

/// `rate_limit`: `{"requests": N, "per_seconds": S}`, or `null` (none:
/// the rate-limit layer's default applies).
pub(super) fn rate_limit(value: &Value) -> Result<Option<Quota>, Problem> {
    if value.is_null() {
        return Ok(None);
    }
    parse_quota(value).map(Some).ok_or_else(|| {
        Problem::invalid(
            "`rate_limit` must be {\"requests\": 1 or more, \"per_seconds\": 1 to 86400} or null",
        )
    })
}

/// `grace_seconds`: 0 to 604,800 (7 days).
pub(super) fn grace_seconds(value: Option<&Value>) -> Result<u64, Problem> {
    match value {
        None => Ok(0),
        Some(value) => value
            .as_u64()
            .filter(|&seconds| seconds <= MAX_GRACE_SECONDS)
            .ok_or_else(|| {
                Problem::invalid("`grace_seconds` must be a whole number from 0 to 604800")
            }),
    }
}

/// A list request's query.
pub(super) struct ListQuery {
    pub(super) limit: usize,
    pub(super) cursor: Option<String>,
    pub(super) include_revoked: bool,
}

/// Reads `limit` (1 to 1,000, default 100), `cursor` and
/// `include_revoked` (default `true`).
pub(super) fn list_query(query_string: Option<&str>) -> Result<ListQuery, Problem> {
    let mut query = ListQuery {
        limit: 100,
        cursor: None,
        include_revoked: true,
    };
    for pair in query_string.unwrap_or_default().split('&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "limit" => {
                query.limit = value
                    .parse()
                    .ok()
                    .filter(|limit| (1..=1_000).contains(limit))
                    .ok_or_else(|| {
                        Problem::invalid("`limit` must be a whole number from 1 to 1000")
                    })?;
            }
            "cursor" if !value.is_empty() => query.cursor = Some(value.to_owned()),
            "cursor" => {}
            "include_revoked" => {
                query.include_revoked = match value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(Problem::invalid("`include_revoked` must be true or false")),
                };
            }
            other => {
                return Err(Problem::invalid(format!(
                    "{}; parameters are limit, cursor, include_revoked",
                    field_name(other).replace("field", "parameter")
                )));
            }
        }
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn list_queries_have_defaults_and_limits() {
        let query = list_query(None).expect("empty");
        assert_eq!(
            (query.limit, query.cursor, query.include_revoked),
            (100, None, true)
        );
        let query =
            list_query(Some("limit=1000&cursor=key_b&include_revoked=false")).expect("valid");
        assert_eq!(query.limit, 1000);
        assert_eq!(query.cursor.as_deref(), Some("key_b"));
        assert!(!query.include_revoked);
        assert!(
            list_query(Some("cursor="))
                .expect("empty cursor")
                .cursor
                .is_none()
        );
        for bad in [
            "limit=0",
            "limit=1001",
            "limit=",
            "limit=-1",
            "include_revoked=1",
            "x=1",
        ] {
            assert!(list_query(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_plain_field_names_are_repeated() {
        assert_eq!(field_name("revoked"), "unknown field `revoked`");
        for withheld in [
            "",
            "sk_0j8getr74edHoPo3MP54ozbDTfkKID40devq",
            "a b",
            "Token",
            "x\"y",
        ] {
            assert_eq!(field_name(withheld), "an unknown field", "{withheld:?}");
        }
    }

    #[test]
    fn fields_are_checked() {
        assert!(label(&json!("Staging Server")).is_ok());
        assert!(
            label(&json!("é".repeat(128))).is_ok(),
            "characters, not bytes"
        );
        for bad in [
            json!(""),
            json!("   "),
            json!("x".repeat(129)),
            json!("a\nb"),
            json!(1),
        ] {
            assert!(label(&bad).is_err(), "{bad}");
        }
        assert!(scopes(&json!(["profile:read", "calls:write"])).is_ok());
        for bad in [
            json!("profile:read"),
            json!(["a b"]),
            json!([1]),
            json!(["\""]),
        ] {
            assert!(scopes(&bad).is_err(), "{bad}");
        }
        assert_eq!(expires_at(&json!(null)).ok(), Some(None));
        assert!(matches!(
            expires_at(&json!("2099-01-01T00:00:00Z")),
            Ok(Some(_))
        ));
        for bad in [json!("2001-01-01T00:00:00Z"), json!("soon"), json!(5)] {
            assert!(expires_at(&bad).is_err(), "{bad}");
        }
        assert_eq!(grace_seconds(None).ok(), Some(0));
        assert_eq!(grace_seconds(Some(&json!(604_800))).ok(), Some(604_800));
        for bad in [json!(604_801), json!(-1), json!(1.5), json!("60")] {
            assert!(grace_seconds(Some(&bad)).is_err(), "{bad}");
        }
    }
}
