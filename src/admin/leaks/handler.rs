//! One report from GitHub: the signature checked over the raw body, then
//! each token labelled, and each live key among them revoked.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use p256::ecdsa::Signature;
use p256::ecdsa::signature::Verifier as _;
use serde_json::{Value, json};

use super::keys::GithubKeys;
use crate::admin::view::{self, Problem};
use crate::key_store::admin::KeyAdmin;
use crate::key_store::admin::audit::AuditEvent;
use crate::key_store::{TokenDigest, has_valid_checksum};

/// The largest report read.
const MAX_BODY: usize = 1024 * 1024;

/// The receiver's state.
pub(super) struct Receiver<A> {
    pub(super) admin: A,
    pub(super) keys: GithubKeys,
}

/// `POST /admin/v1/secret-scanning/github`.
pub(super) async fn receive<A: KeyAdmin>(
    State(receiver): State<Arc<Receiver<A>>>,
    request: Request,
) -> Result<Response, Problem> {
    let (parts, body): (_, Body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| Problem::payload_too_large("the report is larger than 1 MiB"))?;
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty())
    };
    let (Some(id), Some(signature)) = (
        header("github-public-key-identifier"),
        header("github-public-key-signature"),
    ) else {
        return Err(Problem::unauthorized(
            "the report needs Github-Public-Key-Identifier and Github-Public-Key-Signature",
        ));
    };
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .ok()
        .and_then(|der| Signature::from_der(&der).ok())
        .ok_or_else(|| {
            Problem::unauthorized("the report's signature is not a DER ECDSA signature")
        })?;
    let key = receiver.keys.key(id).await.map_err(|problem| {
        tracing::warn!("secret scanning: GitHub's keys could not be fetched: {problem}");
        Problem::unavailable("GitHub's public keys could not be fetched; retry later")
    })?;
    let Some(key) = key else {
        return Err(Problem::unauthorized(
            "the report is signed with a key GitHub does not publish",
        ));
    };
    if key.verify(&body, &signature).is_err() {
        return Err(Problem::unauthorized(
            "the report's signature does not match its body",
        ));
    }
    let reports = reports(&body)?;
    let mut answer = Vec::with_capacity(reports.len());
    for report in reports {
        let label = revoke_if_live(&receiver.admin, &report).await?;
        answer.push(json!({
            "token_hash": TokenDigest::of(&report.token).to_hex(),
            "token_type": report.kind,
            "label": if label { "true_positive" } else { "false_positive" },
        }));
    }
    Ok(view::answer(StatusCode::OK, Value::Array(answer)))
}

/// One reported match.
struct Report {
    token: String,
    kind: String,
    url: String,
    source: String,
}

/// `[{"token", "type", "url"?, "source"?}, ...]`: 400 for anything else
/// (naming the shape, never a value).
fn reports(body: &[u8]) -> Result<Vec<Report>, Problem> {
    let bad = || {
        Problem::invalid(
            "the report must be a JSON array of {\"token\", \"type\", \"url\", \"source\"} strings",
        )
    };
    let value: Value = serde_json::from_slice(body).map_err(|_| bad())?;
    let items = value.as_array().ok_or_else(bad)?;
    items
        .iter()
        .map(|item| {
            let text = |name: &str, required: bool| match item.get(name) {
                Some(Value::String(text)) => Ok(text.clone()),
                None | Some(Value::Null) if !required => Ok(String::new()),
                _ => Err(bad()),
            };
            Ok(Report {
                token: text("token", true)?,
                kind: text("type", true)?,
                url: text("url", false)?,
                source: text("source", false)?,
            })
        })
        .collect()
}

/// Who revokes a leaked key, in the audit log.
pub(crate) const LEAK_ACTOR: &str = "github-secret-scanning";

/// Whether the token is a key's (`true_positive`); a live key is revoked,
/// and its revocation is an audit event (`leak_revoke`, by
/// `github-secret-scanning`).
async fn revoke_if_live<A: KeyAdmin>(admin: &A, report: &Report) -> Result<bool, Problem> {
    if !has_valid_checksum(&report.token) {
        return Ok(false);
    }
    let Some(entry) = admin
        .entry_by_digest(&TokenDigest::of(&report.token))
        .await?
    else {
        return Ok(false);
    };
    if !entry.is_revoked() {
        // Compare-and-set: of concurrent reports of one token, one
        // revokes; the others find it revoked and change nothing.
        let revoked = admin
            .update(entry.id(), |entry| Ok(entry.with_revoked(true)))
            .await?;
        tracing::warn!(
            action = "leak_revoke",
            key_id = revoked.id(),
            url = report.url.as_str(),
            source = report.source.as_str(),
            "secret scanning: a leaked key was revoked"
        );
        let event = AuditEvent::new("leak_revoke", revoked.id(), LEAK_ACTOR, ["revoked"]);
        admin.record_audit(event).await.map_err(|problem| {
            Problem::unavailable(format!(
                "the key was revoked, but its audit event could not be written: {problem}"
            ))
        })?;
    }
    Ok(true)
}
