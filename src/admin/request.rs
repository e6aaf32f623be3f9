//! Reading admin requests: JSON bodies (type, size), their fields, and list
//! queries. Problems name the field, never repeat the value: a token pasted
//! into the wrong field must not come back in an answer.

use std::cell::Cell;
use std::time::SystemTime;

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde_json::{Map, Value};

use super::view::Problem;
use crate::key_policy::{AddressRange, Credits, OwnerLimits};
use crate::key_store::admin::CreditChange;
use crate::key_store::admin::audit::{AuditQuery, is_event_id};
use crate::key_store::usage::USAGE_DAYS_KEPT;
use crate::key_store::{
    ID_RULE, KeyEntry, LABEL_RULE, METADATA_RULE, Metadata, is_valid_id, is_valid_label,
    is_valid_metadata, keys_file, parse_quota, rfc3339, shown_field_name,
};
use crate::rate_limit::Quota;
use crate::scope::ScopeSet;

/// The largest request body accepted.
const MAX_BODY: usize = 64 * 1024;

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
    match json_without_repeats(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Problem::invalid("the request body must be a JSON object")),
        Err(Unreadable::Repeated(name)) => Err(Problem::invalid(match shown_field_name(&name) {
            Some(name) => format!("the field `{name}` appears more than once in the request body"),
            None => "a field appears more than once in the request body".to_owned(),
        })),
        Err(Unreadable::Syntax(error)) => Err(Problem::invalid(format!(
            "the request body is not JSON (line {}, column {})",
            error.line(),
            error.column()
        ))),
    }
}

/// Why a body is not a JSON value this API reads.
enum Unreadable {
    /// An object has a member name twice (at any depth): which one was
    /// meant cannot be known, so the body is refused rather than read as
    /// the last one (what `serde_json::Value` does).
    Repeated(String),
    Syntax(serde_json::Error),
}

/// The body as a JSON value, refusing repeated member names.
fn json_without_repeats(bytes: &[u8]) -> Result<Value, Unreadable> {
    use serde::de::DeserializeSeed;

    let repeated = Cell::new(None);
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let value = NoRepeats {
        repeated: &repeated,
    }
    .deserialize(&mut reader)
    .and_then(|value| reader.end().map(|()| value));
    match (value, repeated.take()) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(name)) => Err(Unreadable::Repeated(name)),
        (Err(error), None) => Err(Unreadable::Syntax(error)),
    }
}

/// Reads a JSON value as `serde_json::Value` does, but for objects with a
/// member name twice: it fails, leaving the name in `repeated`.
struct NoRepeats<'a> {
    repeated: &'a Cell<Option<String>>,
}

impl<'de> serde::de::DeserializeSeed<'de> for NoRepeats<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for NoRepeats<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(NoRepeats {
            repeated: self.repeated,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value_seed(NoRepeats {
                repeated: self.repeated,
            })?;
            if object.contains_key(&name) {
                self.repeated.set(Some(name));
                return Err(serde::de::Error::custom("a member name is repeated"));
            }
            object.insert(name, value);
        }
        Ok(Value::Object(object))
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

/// "unknown field `x`", or "an unknown field" for a name not to repeat
/// (the key model's rule: [`shown_field_name`]).
fn field_name(name: &str) -> String {
    match shown_field_name(name) {
        Some(name) => format!("unknown field `{name}`"),
        None => "an unknown field".to_owned(),
    }
}

/// `label`: the key model's rule ([`LABEL_RULE`]).
pub(super) fn label(value: &Value) -> Result<String, Problem> {
    match value {
        Value::String(label) if is_valid_label(label) => Ok(label.clone()),
        _ => Err(Problem::invalid(format!(
            "`label` must be a string of {LABEL_RULE}"
        ))),
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

/// The fields of a key that `POST /admin/v1/keys` and `PATCH` set, each
/// `None` when the request leaves it as it is.
#[derive(Default)]
pub(super) struct KeyFields {
    pub(super) label: Option<String>,
    scopes: Option<ScopeSet>,
    expires_at: Option<Option<SystemTime>>,
    rate_limit: Option<Option<Quota>>,
    owner: Option<Option<String>>,
    allowed_ips: Option<Vec<AddressRange>>,
    credits: Option<Option<Credits>>,
    metadata: Option<Metadata>,
}

/// The names of [`KeyFields`].
pub(super) const KEY_FIELDS: &[&str] = &[
    "label",
    "scopes",
    "expires_at",
    "rate_limit",
    "owner",
    "allowed_ips",
    "credits",
    "metadata",
];

impl KeyFields {
    /// The fields `object` sets (no other field allowed).
    pub(super) fn read(object: &Map<String, Value>) -> Result<Self, Problem> {
        only(object, KEY_FIELDS)?;
        Ok(Self {
            label: object.get("label").map(label).transpose()?,
            scopes: object.get("scopes").map(scopes).transpose()?,
            expires_at: object.get("expires_at").map(expires_at).transpose()?,
            rate_limit: object.get("rate_limit").map(rate_limit).transpose()?,
            owner: object.get("owner").map(owner).transpose()?,
            allowed_ips: object.get("allowed_ips").map(allowed_ips).transpose()?,
            credits: object.get("credits").map(credits).transpose()?,
            metadata: object.get("metadata").map(metadata).transpose()?,
        })
    }

    /// The owner a new key gets (`None`: none).
    pub(super) fn owner(&self) -> Option<&str> {
        self.owner.as_ref().and_then(Option::as_deref)
    }

    /// The owner a change moves a key to, when it names one (`Some(None)`:
    /// no owner any more).
    pub(super) fn owner_change(&self) -> Option<Option<&str>> {
        self.owner.as_ref().map(Option::as_deref)
    }

    /// `entry` with these fields set.
    pub(super) fn apply(&self, mut entry: KeyEntry) -> KeyEntry {
        if let Some(label) = &self.label {
            entry = entry.with_label(label.clone());
        }
        if let Some(scopes) = &self.scopes {
            entry = entry.with_scopes(scopes.clone());
        }
        match self.expires_at {
            Some(Some(time)) => entry = entry.with_expiry(time),
            Some(None) => entry = entry.without_expiry(),
            None => {}
        }
        if let Some(quota) = self.rate_limit {
            entry = entry.with_rate_limit(quota);
        }
        if let Some(owner) = &self.owner {
            entry = entry.with_owner(owner.clone());
        }
        if let Some(ranges) = &self.allowed_ips {
            entry = entry.with_allowed_ips(ranges.iter().copied());
        }
        if let Some(credits) = self.credits {
            entry = entry.with_credits(credits);
        }
        if let Some(metadata) = &self.metadata {
            entry = entry.with_metadata_map(metadata.clone());
        }
        entry
    }
}

/// `owner`: a customer id ([`ID_RULE`]'s characters), or `null` (none).
pub(super) fn owner(value: &Value) -> Result<Option<String>, Problem> {
    match value {
        Value::Null => Ok(None),
        Value::String(owner) if is_valid_id(owner) => Ok(Some(owner.clone())),
        _ => Err(Problem::invalid(format!(
            "`owner` must be a string of {ID_RULE}, or null"
        ))),
    }
}

/// `allowed_ips`: at most 64 address ranges; `null` or `[]`: anywhere.
pub(super) fn allowed_ips(value: &Value) -> Result<Vec<AddressRange>, Problem> {
    if value.is_null() {
        return Ok(Vec::new());
    }
    keys_file::allowed_ips(value)
        .map_err(|rule| Problem::invalid(format!("`allowed_ips` {rule}, or null")))
}

/// `credits`: `{"remaining": N, "refill": {...}}`, or `null` (unmetered).
pub(super) fn credits(value: &Value) -> Result<Option<Credits>, Problem> {
    if value.is_null() {
        return Ok(None);
    }
    // The refill period starts now, the same instant for every replica.
    keys_file::credits(value, false)
        .map(|credits| Some(credits.with_refilled_at(SystemTime::now())))
        .map_err(|rule| Problem::invalid(format!("`credits` {rule}, or null")))
}

/// `metadata`: an object of strings within [`METADATA_RULE`]; `null`: none.
pub(super) fn metadata(value: &Value) -> Result<Metadata, Problem> {
    let bad = || {
        Problem::invalid(format!(
            "`metadata` must be an object of strings, {METADATA_RULE}, or null"
        ))
    };
    let metadata: Metadata = match value {
        Value::Null => return Ok(Metadata::new()),
        Value::Object(object) => object
            .iter()
            .map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned())))
            .collect::<Option<_>>()
            .ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    if is_valid_metadata(&metadata) {
        Ok(metadata)
    } else {
        Err(bad())
    }
}

/// An owner's limits: `{"rate_limit"?: {...} | null, "credits"?: {...} |
/// null}`.
pub(super) fn owner_limits(object: &Map<String, Value>) -> Result<OwnerLimits, Problem> {
    only(object, &["rate_limit", "credits"])?;
    keys_file::owner_limits(&Value::Object(object.clone()), false).map_err(|rule| {
        Problem::invalid(format!(
            "the body {rule}; credits are {{\"remaining\": N, \"refill\"?: {{\"amount\", \"every_seconds\"}}}}"
        ))
    })
}

/// `{"add": N}` or `{"set": N}`, N a whole number 0 or more.
pub(super) fn credit_change(object: &Map<String, Value>) -> Result<CreditChange, Problem> {
    let bad = || {
        Problem::invalid(
            "the body must be {\"add\": N} or {\"set\": N}, N a whole number 0 or more",
        )
    };
    only(object, &["add", "set"])?;
    let number = |name: &str| {
        object
            .get(name)
            .map(|value| keys_file::whole_number(value).ok_or_else(bad))
    };
    match (number("add").transpose()?, number("set").transpose()?) {
        (Some(amount), None) => Ok(CreditChange::Add(amount)),
        (None, Some(remaining)) => Ok(CreditChange::Set(remaining)),
        _ => Err(bad()),
    }
}

/// `grace_seconds`: 0 to 604,800 (7 days).
pub(super) fn grace_seconds(value: Option<&Value>) -> Result<u64, Problem> {
    match value {
        None => Ok(0),
        Some(value) => keys_file::whole_number(value)
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
    pub(super) owner: Option<String>,
}

/// A query string's `name=value` pairs, values percent-decoded.
fn query_pairs(query_string: Option<&str>) -> Result<Vec<(&str, String)>, Problem> {
    let mut pairs = Vec::new();
    for pair in query_string.unwrap_or_default().split('&') {
        if pair.is_empty() {
            continue;
        }
        let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
        // Values arrive percent-encoded (`encodeURIComponent`): a cursor
        // holding `:` comes as `%3A`, and must be compared decoded.
        let value = percent_decoded(raw).ok_or_else(|| {
            Problem::invalid(match shown_field_name(name) {
                Some(name) => format!("`{name}` is not valid percent-encoded UTF-8"),
                None => "a parameter is not valid percent-encoded UTF-8".to_owned(),
            })
        })?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// A `limit` from 1 to 1,000.
fn page_limit(value: &str) -> Result<usize, Problem> {
    value
        .parse()
        .ok()
        .filter(|limit| (1..=1_000).contains(limit))
        .ok_or_else(|| Problem::invalid("`limit` must be a whole number from 1 to 1000"))
}

/// The problem of a parameter not in `known`.
fn unknown_parameter(name: &str, known: &str) -> Problem {
    Problem::invalid(format!(
        "{}; parameters are {known}",
        field_name(name).replace("field", "parameter")
    ))
}

/// Reads `limit` (1 to 1,000, default 100), `cursor`, `include_revoked`
/// (default `true`) and `owner` (only that owner's keys).
pub(super) fn list_query(query_string: Option<&str>) -> Result<ListQuery, Problem> {
    let mut query = ListQuery {
        limit: 100,
        cursor: None,
        include_revoked: true,
        owner: None,
    };
    for (name, value) in query_pairs(query_string)? {
        match name {
            "limit" => query.limit = page_limit(&value)?,
            "cursor" if !value.is_empty() => query.cursor = Some(value),
            "owner" if is_valid_id(&value) => query.owner = Some(value),
            "owner" => {
                return Err(Problem::invalid(format!("`owner` must be {ID_RULE}")));
            }
            "cursor" => {}
            "include_revoked" => {
                query.include_revoked = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(Problem::invalid("`include_revoked` must be true or false")),
                };
            }
            other => {
                return Err(unknown_parameter(
                    other,
                    "limit, cursor, include_revoked, owner",
                ));
            }
        }
    }
    Ok(query)
}

/// Reads `GET /admin/v1/audit`'s `limit` (1 to 1,000, default 100),
/// `cursor` (an event id) and `target` (a key id or owner).
pub(super) fn audit_query(query_string: Option<&str>) -> Result<AuditQuery, Problem> {
    let mut query = AuditQuery {
        limit: 100,
        cursor: None,
        target: None,
    };
    for (name, value) in query_pairs(query_string)? {
        match name {
            "limit" => query.limit = page_limit(&value)?,
            "cursor" if is_event_id(&value) => query.cursor = Some(value),
            "cursor" => return Err(Problem::invalid("`cursor` is not an event id")),
            "target" if is_valid_id(&value) => query.target = Some(value),
            "target" => return Err(Problem::invalid(format!("`target` must be {ID_RULE}"))),
            other => return Err(unknown_parameter(other, "limit, cursor, target")),
        }
    }
    Ok(query)
}

/// The most days `GET /admin/v1/keys/{id}/usage` answers.
pub(super) const MAX_USAGE_DAYS: u32 = USAGE_DAYS_KEPT;

/// Reads `GET /admin/v1/keys/{id}/usage`'s `days` (1 to 100, default 30).
pub(super) fn usage_days(query_string: Option<&str>) -> Result<u32, Problem> {
    let mut days = 30;
    for (name, value) in query_pairs(query_string)? {
        match name {
            "days" => {
                days = value
                    .parse()
                    .ok()
                    .filter(|days| (1..=MAX_USAGE_DAYS).contains(days))
                    .ok_or_else(|| {
                        Problem::invalid(format!(
                            "`days` must be a whole number from 1 to {MAX_USAGE_DAYS}"
                        ))
                    })?;
            }
            other => return Err(unknown_parameter(other, "days")),
        }
    }
    Ok(days)
}

/// `%XX` sequences decoded (a query value); `None` for a bad sequence or
/// bytes that are not UTF-8.
fn percent_decoded(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        if byte == b'%' {
            let hex = std::str::from_utf8(bytes.get(at + 1..at + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(byte);
            at += 1;
        }
    }
    String::from_utf8(out).ok()
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
        assert_eq!(
            list_query(Some("cursor=key%3Ab.c%2D"))
                .expect("encoded")
                .cursor
                .as_deref(),
            Some("key:b.c-")
        );
        assert_eq!(list_query(Some("limit=%31%30")).expect("encoded").limit, 10);
        for bad in [
            "limit=0",
            "limit=1001",
            "limit=",
            "limit=-1",
            "include_revoked=1",
            "x=1",
            "cursor=%zz",
            "cursor=%4",
            "cursor=%FF",
        ] {
            assert!(list_query(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_repeated_member_name_is_refused_at_any_depth() {
        for body in [
            r#"{"label":"a","label":"b"}"#,
            r#"{"rate_limit":{"requests":1,"requests":2,"per_seconds":1}}"#,
            r#"{"scopes":[{"x":1,"x":1}]}"#,
        ] {
            assert!(
                matches!(
                    json_without_repeats(body.as_bytes()),
                    Err(Unreadable::Repeated(_))
                ),
                "{body}"
            );
        }
        let Err(Unreadable::Repeated(name)) =
            json_without_repeats(br#"{"a":{"b":1},"label":"x","label":"y"}"#)
        else {
            panic!("repeated");
        };
        assert_eq!(name, "label");
        let read = json_without_repeats(
            br#"{"label":"a","scopes":["x","x"],"n":-1,"f":1.5,"t":true,"z":null,"o":{"label":1}}"#,
        );
        assert!(
            matches!(read, Ok(Value::Object(_))),
            "names repeat only across objects"
        );
        assert!(matches!(
            json_without_repeats(b"{\"a\":1} x"),
            Err(Unreadable::Syntax(_))
        ));
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
