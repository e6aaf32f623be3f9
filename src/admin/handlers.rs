//! The admin endpoints. Each reads its request, asks the [`KeyAdmin`], logs
//! the change once, and answers with the key as the API shows it.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Path, Request, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{Extensions, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::request::{self, BodyRule, KeyFields};
use super::view::{self, Problem};
use crate::Principal;
use crate::key_policy::OwnerLimits;
use crate::key_store::admin::audit::AuditEvent;
use crate::key_store::admin::{AdminError, KeyAdmin};
use crate::key_store::{GeneratedKey, KeyEntry, KeyGenerator};

/// What every handler shares: the key set and how keys are made. `P` is
/// the principal type the layer puts in requests (for the acting key's id).
pub(super) struct Api<A, P> {
    pub(super) admin: A,
    pub(super) generator: KeyGenerator,
    pub(super) principal: PhantomData<fn() -> P>,
}

type Shared<A, P> = State<Arc<Api<A, P>>>;

/// What a handler answers: a response, or a problem in the error shape.
type Answer = Result<Response, Problem>;

/// The id of the admin key that asked (never its token), for the log.
fn acting<P: Principal>(extensions: &Extensions) -> String {
    extensions
        .get::<P>()
        .and_then(Principal::subject)
        .unwrap_or("-")
        .to_owned()
}

/// A change made: one log line, and its event written to the audit log
/// before the change is answered. A change whose event cannot be written
/// answers 503 (the change itself stands: say so).
async fn record<A: KeyAdmin>(
    admin: &A,
    action: &str,
    key_id: &str,
    by: &str,
    fields: &[&str],
) -> Result<(), Problem> {
    tracing::info!(action, key_id, by, "admin: key changed");
    write_event(admin, action, key_id, by, fields).await
}

/// A change's event, written to the audit log before the answer (an
/// owner's change calls it alone: its handler logs its own line, with how
/// many keys changed).
async fn write_event<A: KeyAdmin>(
    admin: &A,
    action: &str,
    target: &str,
    by: &str,
    fields: &[&str],
) -> Result<(), Problem> {
    admin
        .record_audit(AuditEvent::new(action, target, by, fields.iter().copied()))
        .await
        .map_err(|problem| {
            tracing::error!(action, target, by, %problem, "admin: audit event not written");
            Problem::unavailable(format!(
                "the change was made, but its audit event could not be written: {problem}"
            ))
        })
}

/// The names of a body's fields (checked already: all known).
fn names(object: &serde_json::Map<String, serde_json::Value>) -> Vec<&str> {
    object.keys().map(String::as_str).collect()
}

impl<A: KeyAdmin, P> Api<A, P> {
    fn generate(&self) -> Result<GeneratedKey, Problem> {
        self.generator
            .generate()
            .map_err(|error| Problem::unavailable(error.to_string()))
    }
}

/// `POST /admin/v1/keys`: a new key; its token is in this answer only.
pub(super) async fn create<A: KeyAdmin, P: Principal>(
    State(api): Shared<A, P>,
    request: Request,
) -> Answer {
    let (parts, body) = request.into_parts();
    let object = request::object(&parts, body, BodyRule::Required).await?;
    let fields = KeyFields::read(&object)?;
    let label = fields
        .label
        .clone()
        .ok_or_else(|| Problem::invalid("`label` is required"))?;
    let key = api.generate()?;
    let entry = fields.apply(KeyEntry::new(key.id(), label, key.digest()).with_hint(key.hint()));
    // A key of an owner shares the owner's limits, as its other keys do.
    let entry = entry.with_owner_limits(limits_of(&api.admin, fields.owner()).await?);
    api.admin.insert(entry.clone()).await?;
    let by = acting::<P>(&parts.extensions);
    record(&api.admin, "create", key.id(), &by, &names(&object)).await?;
    Ok(view::answer(
        StatusCode::CREATED,
        json!({"token": key.token().expose(), "key": view::key(&entry)}),
    ))
}

/// `GET /admin/v1/keys`: one page of keys, by id.
pub(super) async fn list<A: KeyAdmin, P: Principal>(
    State(api): Shared<A, P>,
    request: Request,
) -> Answer {
    let query = request::list_query(request.uri().query())?;
    let mut entries = api.admin.entries().await?;
    entries.retain(|entry| {
        (query.include_revoked || !entry.is_revoked())
            && query
                .owner
                .as_deref()
                .is_none_or(|owner| entry.owner() == Some(owner))
            && query
                .cursor
                .as_deref()
                .is_none_or(|after| entry.id() > after)
    });
    entries.sort_unstable_by(|a, b| a.id().cmp(b.id()));
    let more = entries.len() > query.limit;
    entries.truncate(query.limit);
    let next_cursor = more
        .then(|| entries.last().map(|entry| entry.id().to_owned()))
        .flatten();
    Ok(view::answer(
        StatusCode::OK,
        json!({
            "keys": entries.iter().map(view::key).collect::<Vec<_>>(),
            "next_cursor": next_cursor,
        }),
    ))
}

/// `GET /admin/v1/keys/{id}`.
pub(super) async fn show<A: KeyAdmin, P: Principal>(
    State(api): Shared<A, P>,
    Path(id): Path<String>,
) -> Answer {
    let entry = api.admin.entry(&id).await?.ok_or_else(Problem::not_found)?;
    Ok(view::answer(StatusCode::OK, view::key(&entry)))
}

/// `PATCH /admin/v1/keys/{id}`: label, scopes, expiry, rate limit, owner,
/// allowlist, credits, metadata.
pub(super) async fn change<A: KeyAdmin, P: Principal>(
    State(api): Shared<A, P>,
    Path(id): Path<String>,
    request: Request,
) -> Answer {
    let (parts, body) = request.into_parts();
    let object = request::object(&parts, body, BodyRule::Required).await?;
    if object.is_empty() {
        return Err(Problem::invalid(
            "the body names no field to change; fields are label, scopes, expires_at, \
             rate_limit, owner, allowed_ips, credits, metadata",
        ));
    }
    let fields = KeyFields::read(&object)?;
    // A key moved to another owner takes that owner's limits.
    let moved_to = match fields.owner_change() {
        Some(owner) => Some(limits_of(&api.admin, owner).await?),
        None => None,
    };
    let entry = api
        .admin
        .update(&id, |entry| {
            let before = entry.owner().map(str::to_owned);
            let entry = fields.apply(entry);
            Ok(match moved_to {
                Some(limits) if entry.owner() != before.as_deref() => {
                    entry.with_owner_limits(limits)
                }
                _ => entry,
            })
        })
        .await?;
    let by = acting::<P>(&parts.extensions);
    record(&api.admin, "update", &id, &by, &names(&object)).await?;
    Ok(view::answer(StatusCode::OK, view::key(&entry)))
}

/// `POST /admin/v1/keys/{id}/credits`: `{"add": N}` or `{"set": N}`, in
/// one atomic change of the balance.
pub(super) async fn credits<A: KeyAdmin, P: Principal>(
    State(api): Shared<A, P>,
    Path(id): Path<String>,
    request: Request,
) -> Answer {
    let (parts, body) = request.into_parts();
    let object = request::object(&parts, body, BodyRule::Required).await?;
    let change = request::credit_change(&object)?;
    let entry = api.admin.change_credits(&id, change).await?;
    let by = acting::<P>(&parts.extensions);
    record(&api.admin, "credits", &id, &by, &["credits"]).await?;
    Ok(view::answer(StatusCode::OK, view::key(&entry)))
}

/// The limits the keys of `owner` carry now (none when it has no keys):
/// a new key of the owner, or a key moved to it, carries them too.
async fn limits_of<A: KeyAdmin>(admin: &A, owner: Option<&str>) -> Result<OwnerLimits, Problem> {
    let Some(owner) = owner else {
        return Ok(OwnerLimits::new());
    };
    // As written on the owner's keys (the balance stays the owner's).
    Ok(admin
        .owner_limits(owner)
        .await?
        .map_or_else(OwnerLimits::new, |(limits, _)| limits))
}

/// An owner's view: its limits, with its credits' live balance.
async fn owner_view<A: KeyAdmin>(admin: &A, owner: &str) -> Result<serde_json::Value, Problem> {
    let (limits, keys) = admin
        .owner_limits(owner)
        .await?
        .ok_or_else(Problem::no_owner)?;
    let limits = match admin.owner_credits(owner).await? {
        Some(live) => limits.with_credits(Some(live)),
        None => limits,
    };
    Ok(view::owner(owner, &limits, keys))
}

/// The owner named in the path, checked as the API checks an owner.
fn owner_in_path(owner: String) -> Result<String, Problem> {
    Ok(request::owner(&serde_json::Value::String(owner))?.unwrap_or_default())
}

/// `GET /admin/v1/owners/{owner}`: the owner's limits and how many keys
/// it has; 404 for an owner without keys.
pub(super) async fn show_owner<A: KeyAdmin, P: Principal>(
    State(api): Shared<A, P>,
    Path(owner): Path<String>,
) -> Answer {
    let owner = owner_in_path(owner)?;
    Ok(view::answer(
        StatusCode::OK,
        owner_view(&api.admin, &owner).await?,
    ))
}

/// `PUT /admin/v1/owners/{owner}` `{"rate_limit"?, "credits"?}`: the
/// owner's limits, written to all its keys at once (its keys without their
/// own share them); 404 for an owner without keys.
pub(super) async fn set_owner<A: KeyAdmin, P: Principal>(
    State(api): Shared<A, P>,
    Path(owner): Path<String>,
    request: Request,
) -> Answer {
    let owner = owner_in_path(owner)?;
    let (parts, body) = request.into_parts();
    let object = request::object(&parts, body, BodyRule::Required).await?;
    let limits = request::owner_limits(&object)?;
    if api.admin.owner_limits(&owner).await?.is_none() {
        return Err(Problem::no_owner());
    }
    let changed = api.admin.set_owner_limits(&owner, limits).await?;
    let by = acting::<P>(&parts.extensions);
    tracing::info!(
        action = "set_owner",
        owner,
        keys = changed,
        by,
        "admin: keys changed"
    );
    write_event(&api.admin, "set_owner", &owner, &by, &names(&object)).await?;
    Ok(view::answer(
        StatusCode::OK,
        owner_view(&api.admin, &owner).await?,
    ))
}

/// `DELETE /admin/v1/owners/{owner}`: the owner's limits removed from all
/// its keys; 404 for an owner without keys.
pub(super) async fn delete_owner<A: KeyAdmin, P: Principal>(
    State(api): Shared<A, P>,
    Path(owner): Path<String>,
    request: Request,
) -> Answer {
    let owner = owner_in_path(owner)?;
    if api.admin.owner_limits(&owner).await?.is_none() {
        return Err(Problem::no_owner());
    }
    let changed = api
        .admin
        .set_owner_limits(&owner, OwnerLimits::new())
        .await?;
    let by = acting::<P>(request.extensions());
    tracing::info!(
        action = "delete_owner",
        owner,
        keys = changed,
        by,
        "admin: keys changed"
    );
    write_event(
        &api.admin,
        "delete_owner",
        &owner,
        &by,
        &["rate_limit", "credits"],
    )
    .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /admin/v1/owners/{owner}/revoke`: no body; revokes every active
/// key of the owner, answers `{"revoked": N}` (0 for an unknown owner).
pub(super) async fn revoke_owner<A: KeyAdmin, P: Principal>(
    State(api): Shared<A, P>,
    Path(owner): Path<String>,
    request: Request,
) -> Answer {
    let (parts, body) = request.into_parts();
    request::object(&parts, body, BodyRule::Refused).await?;
    let owner = owner_in_path(owner)?;
    let revoked = api.admin.revoke_owner(&owner).await?;
    let by = acting::<P>(&parts.extensions);
    tracing::info!(
        action = "revoke_owner",
        owner,
        revoked,
        by,
        "admin: keys changed"
    );
    write_event(&api.admin, "revoke_owner", &owner, &by, &["revoked"]).await?;
    Ok(view::answer(StatusCode::OK, json!({ "revoked": revoked })))
}

/// `POST /admin/v1/keys/{id}/revoke`: no body; revoking twice is fine.
pub(super) async fn revoke<A: KeyAdmin, P: Principal>(
    State(api): Shared<A, P>,
    Path(id): Path<String>,
    request: Request,
) -> Answer {
    let (parts, body) = request.into_parts();
    request::object(&parts, body, BodyRule::Refused).await?;
    let entry = api
        .admin
        .update(&id, |entry| Ok(entry.with_revoked(true)))
        .await?;
    let by = acting::<P>(&parts.extensions);
    record(&api.admin, "revoke", &id, &by, &["revoked"]).await?;
    Ok(view::answer(StatusCode::OK, view::key(&entry)))
}

/// `POST /admin/v1/keys/{id}/rotate`: a new key, with a new id, with the
/// old one's label, scopes, expiry, rate limit, owner, allowlist,
/// metadata and credits (the balance as it stands: during the grace
/// period each key spends its own); the old one expires
/// `grace_seconds` from now (0: revoked at once). The new token is in this
/// answer only. A key is rotated once: the old key names its successor
/// (`rotated_to`), the new one its predecessor (`rotated_from`), and a
/// second rotation of the same key is 409 `conflict`, however many race.
pub(super) async fn rotate<A: KeyAdmin, P: Principal>(
    State(api): Shared<A, P>,
    Path(id): Path<String>,
    request: Request,
) -> Answer {
    let (parts, body) = request.into_parts();
    let object = request::object(&parts, body, BodyRule::Optional).await?;
    request::only(&object, &["grace_seconds"])?;
    let grace = request::grace_seconds(object.get("grace_seconds"))?;
    let old = api.admin.entry(&id).await?.ok_or_else(Problem::not_found)?;
    rotatable(&old)?;
    let key = api.generate()?;
    let mut fresh = KeyEntry::new(key.id(), old.label(), key.digest())
        .with_scopes(old.scopes().clone())
        .with_hint(key.hint())
        .with_rate_limit(old.rate_limit())
        .with_owner(old.owner().map(str::to_owned))
        .with_allowed_ips(old.allowed_ips().iter().copied())
        .with_credits(old.credits())
        .with_metadata_map(old.metadata().clone())
        .with_rotated_from(id.as_str());
    if let Some(expires_at) = old.expires_at() {
        fresh = fresh.with_expiry(expires_at);
    }
    api.admin.insert(fresh.clone()).await?;
    let grace_end = SystemTime::now() + Duration::from_secs(grace);
    // The old key names its successor in the same compare-and-set that
    // retires it: of concurrent rotations, one finds no successor yet and
    // wins; the others find one and are refused.
    let retired = api
        .admin
        .update(&id, |entry| {
            rotatable(&entry).map_err(|_| AdminError::Conflict { id: id.clone() })?;
            let entry = entry.with_rotated_to(fresh.id());
            Ok(if grace == 0 {
                entry.with_revoked(true)
            } else {
                let end = entry.expires_at().map_or(grace_end, |e| e.min(grace_end));
                entry.with_expiry(end)
            })
        })
        .await;
    let previous = match retired {
        Ok(previous) => previous,
        Err(refusal) => {
            // Undo the new key: its token was never shown to anyone.
            if api.admin.remove(fresh.id()).await.is_err() {
                tracing::warn!(
                    key_id = fresh.id(),
                    "admin: rotation failed, and its unshown new key could not be removed"
                );
            }
            return Err(match refusal {
                AdminError::Conflict { .. } => Problem::conflict(ROTATED_ALREADY),
                other => other.into(),
            });
        }
    };
    let by = acting::<P>(&parts.extensions);
    let retired_by = if grace == 0 { "revoked" } else { "expires_at" };
    record(&api.admin, "rotate", &id, &by, &["rotated_to", retired_by]).await?;
    record(&api.admin, "create", fresh.id(), &by, &["rotated_from"]).await?;
    Ok(view::answer(
        StatusCode::CREATED,
        json!({
            "token": key.token().expose(),
            "key": view::key(&fresh),
            "previous": view::key(&previous),
        }),
    ))
}

/// Why a second rotation is refused.
const ROTATED_ALREADY: &str =
    "this key was rotated already (see its `rotated_to`); rotate its successor instead";

/// A key may be rotated when it is not revoked and has no successor yet.
fn rotatable(entry: &KeyEntry) -> Result<(), Problem> {
    if entry.rotated_to().is_some() {
        Err(Problem::conflict(ROTATED_ALREADY))
    } else if entry.is_revoked() {
        Err(Problem::conflict("a revoked key cannot be rotated"))
    } else {
        Ok(())
    }
}

/// `DELETE /admin/v1/keys/{id}`: the key is gone (it fails like a revoked
/// one), and is 404 afterwards.
pub(super) async fn delete<A: KeyAdmin, P: Principal>(
    State(api): Shared<A, P>,
    Path(id): Path<String>,
    request: Request,
) -> Answer {
    api.admin.remove(&id).await?;
    let by = acting::<P>(request.extensions());
    record(&api.admin, "delete", &id, &by, &[]).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /admin/v1/keys/{id}/usage?days=N` (1 to 100, default 30): the
/// key's requests per UTC day by outcome, oldest first, days without
/// requests as zeros.
pub(super) async fn usage<A: KeyAdmin, P: Principal>(
    State(api): Shared<A, P>,
    Path(id): Path<String>,
    request: Request,
) -> Answer {
    let days = request::usage_days(request.uri().query())?;
    if api.admin.entry(&id).await?.is_none() {
        return Err(Problem::not_found());
    }
    let usage = api.admin.usage(&id, days).await?;
    Ok(view::answer(StatusCode::OK, view::usage(&usage)))
}

/// `GET /admin/v1/audit?limit=&cursor=&target=`: the audit log, newest
/// first.
pub(super) async fn audit<A: KeyAdmin, P: Principal>(
    State(api): Shared<A, P>,
    request: Request,
) -> Answer {
    let query = request::audit_query(request.uri().query())?;
    let page = api.admin.audit(query).await?;
    Ok(view::answer(StatusCode::OK, view::audit(&page)))
}

/// Any other method on an admin path.
pub(super) async fn method_not_allowed() -> Problem {
    Problem::method_not_allowed()
}
