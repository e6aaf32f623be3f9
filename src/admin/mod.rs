//! The admin API and the portal (feature `admin`): keys managed at runtime.
//!
//! This folder decides the HTTP surface of the key lifecycle: JSON under
//! `/admin/v1/keys` to create (the token is in that response only), list,
//! get, change, revoke, rotate and delete keys, every endpoint behind the
//! application's own [`BearerAuthLayer`] and the scope `keys:admin`; and
//! `GET /portal`, one page that drives that API in a browser. It works over
//! any [`KeyAdmin`]: the embedded store persisted to its keys file, or the
//! key set shared through Redis. Keys are shown with a `hint`, never with
//! their token or digest.
//!
//! ```
//! use axum::Router;
//! use tower_bearer_auth::admin::AdminApi;
//! use tower_bearer_auth::key_store::admin::EmbeddedKeyAdmin;
//! use tower_bearer_auth::{BearerAuthLayer, KeyStore};
//!
//! let store = KeyStore::new();
//! let auth = BearerAuthLayer::new(store.clone());
//! let app: Router = Router::new()
//!     .merge(AdminApi::new(EmbeddedKeyAdmin::with_keys_file(store, "keys.json")).router(&auth))
//!     .merge(tower_bearer_auth::admin::portal());
//! ```
//!
//! | request | success |
//! |---|---|
//! | `POST /admin/v1/keys` `{"label", "scopes"?, "expires_at"?, "rate_limit"?, "owner"?, "allowed_ips"?, "credits"?, "metadata"?}` | `201 {"token", "key"}`, `Cache-Control: no-store` |
//! | `GET /admin/v1/keys?limit=&cursor=&include_revoked=&owner=` | `200 {"keys": [...], "next_cursor"}`, by id |
//! | `GET /admin/v1/keys/{id}` | `200` key |
//! | `PATCH /admin/v1/keys/{id}` any field of `POST` | `200` key; `null` removes a field |
//! | `POST /admin/v1/keys/{id}/credits` `{"add": N}` or `{"set": N}` | `200` key |
//! | `POST /admin/v1/owners/{owner}/revoke` (no body) | `200 {"revoked": N}` |
//! | `PUT /admin/v1/owners/{owner}` `{"rate_limit"?, "credits"?}` | `200` owner; its keys without their own share them |
//! | `GET /admin/v1/owners/{owner}` | `200 {"owner", "rate_limit", "credits", "keys"}` |
//! | `DELETE /admin/v1/owners/{owner}` | `204` |
//! | `POST /admin/v1/keys/{id}/revoke` (no body) | `200` key, idempotent |
//! | `POST /admin/v1/keys/{id}/rotate` `{"grace_seconds"?}` | `201 {"token", "key", "previous"}` |
//! | `DELETE /admin/v1/keys/{id}` | `204` |
//! | `GET /admin/v1/keys/{id}/usage?days=N` (1-100, default 30) | `200 {"days": [{"date", "passed", "rate_limited", "usage_exceeded", "refused"}]}`, oldest first, zeros included |
//! | `GET /admin/v1/audit?limit=&cursor=&target=` | `200 {"events": [{"id", "time", "action", "target", "actor", "fields"}], "next_cursor"}`, newest first |
//! | `GET /admin/v1/openapi.json` (no key needed) | `200`: the OpenAPI 3.1 document of all of the above ([`OPENAPI`]) |
//!
//! Errors have the crate's body, `{"error": {"code", "message"}}`:
//! `invalid_request` (400, naming the field), `not_found` (404), `conflict`
//! (409), `payload_too_large` (413, bodies over 64 KiB),
//! `unsupported_media_type` (415, bodies must be `application/json`),
//! `unavailable` (503: the store could not be written, or is not fresh).
//! Every change is logged once at info and written to the audit log
//! before it is answered (the action, the key id or owner, the id of the
//! admin key that asked, the names of the fields set; never a value): in
//! the JSON-lines file beside the keys file (fsynced), a capped Redis
//! stream, or a Postgres table. A change whose event cannot be written is
//! answered 503 (the change itself stands, and the message says so).
//!
//! With the `secret-scanning` feature, [`GithubSecretScanning`] receives
//! GitHub's leak reports and revokes the reported keys (see [`leaks`]).
//!
//! [`BearerAuthLayer`]: crate::BearerAuthLayer
//! [`KeyAdmin`]: crate::key_store::admin::KeyAdmin

mod api;
mod handlers;
#[cfg(feature = "secret-scanning")]
#[cfg_attr(docsrs, doc(cfg(feature = "secret-scanning")))]
pub mod leaks;
mod portal;
mod request;
mod view;

pub use self::api::{AdminApi, OPENAPI};
#[cfg(feature = "secret-scanning")]
pub use self::leaks::GithubSecretScanning;
pub use self::portal::portal;
