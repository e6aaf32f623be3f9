//! What the admin API answers: keys as JSON (never a token or a digest),
//! and problems in the crate's error shape.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::key_policy::OwnerLimits;
use crate::key_store::KeyEntry;
use crate::key_store::admin::AdminError;
use crate::key_store::admin::audit::AuditPage;
use crate::key_store::usage::{DayUsage, UsageOutcome};
use crate::key_store::{keys_file, rfc3339};

/// A key as the API shows it: id, label, hint, scopes, times, status,
/// owner, allowlist, credits and metadata.
pub(super) fn key(entry: &KeyEntry) -> Value {
    json!({
        "id": entry.id(),
        "label": entry.label(),
        "hint": entry.hint(),
        "scopes": entry.scopes().iter().collect::<Vec<_>>(),
        "created_at": whole_seconds(entry.created_at()),
        "expires_at": entry.expires_at().map(whole_seconds),
        "revoked": entry.is_revoked(),
        // Whole minutes: the store keeps last uses to the minute.
        "last_used_at": entry.last_used_at().map(whole_seconds),
        "rate_limit": entry.rate_limit().map(|quota| json!({
            "requests": quota.requests(),
            "per_seconds": quota.per_seconds(),
        })),
        // The rotation lineage: the key this one replaced, and the one
        // that replaced it.
        "rotated_from": entry.rotated_from(),
        "rotated_to": entry.rotated_to(),
        "owner": entry.owner(),
        "allowed_ips": keys_file::allowed_ips_json(entry.allowed_ips()),
        // The live balance, as the store holding the key counts it.
        "credits": entry.credits().as_ref().map(keys_file::credits_json),
        "metadata": entry.metadata(),
        // The owner's limits this key shares, as written (the owner's
        // live balance: `GET /admin/v1/owners/{owner}`).
        "owner_limits": (!entry.owner_limits().is_empty())
            .then(|| keys_file::owner_limits_json(&entry.owner_limits())),
    })
}

/// An owner as the API shows it: its limits and how many keys it has.
pub(super) fn owner(owner: &str, limits: &OwnerLimits, keys: usize) -> Value {
    let mut view = keys_file::owner_limits_json(limits);
    view["owner"] = Value::from(owner);
    view["keys"] = Value::from(keys);
    view
}

/// `2026-11-27T18:42:40Z`: RFC 3339 in UTC, to the second (rounded down).
fn whole_seconds(time: SystemTime) -> String {
    let seconds = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(time, |since| {
            SystemTime::UNIX_EPOCH + Duration::from_secs(since.as_secs())
        });
    rfc3339::format(seconds)
}

/// A key's usage as the API shows it: `{"days": [{"date", "passed",
/// "rate_limited", "usage_exceeded", "refused"}]}`.
pub(super) fn usage(days: &[DayUsage]) -> Value {
    let days: Vec<Value> = days
        .iter()
        .map(|day| {
            let mut object = serde_json::Map::new();
            object.insert("date".to_owned(), json!(date(day.day)));
            for outcome in UsageOutcome::ALL {
                object.insert(outcome.as_str().to_owned(), json!(day.counts.get(outcome)));
            }
            Value::Object(object)
        })
        .collect();
    json!({ "days": days })
}

/// `YYYY-MM-DD` of a day since 1970-01-01.
fn date(day: u32) -> String {
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(day) * 86_400);
    rfc3339::format(time)[..10].to_owned()
}

/// A page of the audit log as the API shows it.
pub(super) fn audit(page: &AuditPage) -> Value {
    json!({
        "events": page.events.iter().map(|event| json!({
            "id": event.id,
            "time": rfc3339::format(event.time),
            "action": event.action,
            "target": event.target,
            "actor": event.actor,
            "fields": event.fields,
        })).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
    })
}

/// A JSON answer that no cache may keep.
pub(super) fn answer(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Why a request was refused, answered as `{"error": {"code", "message"}}`.
/// Messages name fields, never repeat what the request held.
#[derive(Debug)]
pub(super) struct Problem {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
}

impl Problem {
    /// `400 invalid_request`, naming the field.
    pub(super) fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            message: message.into(),
        }
    }

    /// `401 unauthorized`, saying why (a secret-scanning report's
    /// signature).
    #[cfg(feature = "secret-scanning")]
    pub(super) fn unauthorized(message: &'static str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: Cow::Borrowed(message),
        }
    }

    /// `413 payload_too_large`, saying the limit.
    #[cfg(feature = "secret-scanning")]
    pub(super) fn payload_too_large(message: &'static str) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
            message: Cow::Borrowed(message),
        }
    }

    /// `404 not_found` for a key id. The id is not repeated: whatever was
    /// pasted into the path (a token, by mistake) stays out of the answer.
    pub(super) fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: Cow::Borrowed("no key with this id"),
        }
    }

    /// `404 not_found` for an owner: no key has it.
    pub(super) fn no_owner() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: Cow::Borrowed("no key has this owner"),
        }
    }

    /// `405 method_not_allowed`.
    pub(super) fn method_not_allowed() -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "method_not_allowed",
            message: Cow::Borrowed("this method is not allowed here"),
        }
    }

    /// `409 conflict`.
    pub(super) fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: message.into(),
        }
    }

    /// `413 payload_too_large`.
    pub(super) fn too_large() -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
            message: Cow::Borrowed("the request body is larger than 64 KiB"),
        }
    }

    /// `415 unsupported_media_type`.
    pub(super) fn not_json() -> Self {
        Self {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
            message: Cow::Borrowed("the request body must be application/json"),
        }
    }

    /// `503 unavailable`.
    pub(super) fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: message.into(),
        }
    }
}

impl From<AdminError> for Problem {
    fn from(refusal: AdminError) -> Self {
        match refusal {
            AdminError::UnknownId { .. } => Self::not_found(),
            AdminError::Invalid(problem) => Self::invalid(problem.to_string()),
            AdminError::InvalidCursor { .. } => Self::invalid(refusal.to_string()),
            AdminError::DuplicateId { .. }
            | AdminError::DuplicateDigest { .. }
            | AdminError::Conflict { .. } => Self::conflict(refusal.to_string()),
            AdminError::Unavailable { .. } | AdminError::Corrupt { .. } => {
                Self::unavailable(refusal.to_string())
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        answer(
            self.status,
            json!({"error": {"code": self.code, "message": self.message}}),
        )
    }
}
