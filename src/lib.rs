//! Tower middleware that authenticates HTTP and gRPC requests with bearer
//! tokens (API keys).
//!
//! ```
//! use axum::{Extension, Router, routing::get};
//! use tower_bearer_auth::{ApiKey, BearerAuthLayer, KeyEntry, KeyGenerator, KeyStore, ScopeSet};
//!
//! // A store holding only SHA-256 digests; the token is shown once.
//! let store = KeyStore::new();
//! let key = KeyGenerator::new().generate()?;
//! store.insert(
//!     KeyEntry::new(key.id(), "Staging Server", key.digest())
//!         .with_scopes(ScopeSet::parse("profile:read")?),
//! )?;
//!
//! let app: Router = Router::new()
//!     .route("/v1/profile", get(|Extension(key): Extension<ApiKey>| async move {
//!         format!("hello, {}", key.label())
//!     }))
//!     .layer(BearerAuthLayer::new(store));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What the layer does
//!
//! For each request, [`BearerAuth`] finds exactly one token (the
//! `Authorization: Bearer` header, and optionally a custom header, a cookie
//! or the `access_token` query parameter), checks it against the RFC 6750
//! `b64token` grammar and a length limit, asks the [`TokenValidator`], applies
//! the [`ScopePolicy`], inserts the principal into the request extensions,
//! marks the credential headers sensitive, and calls the inner service.
//!
//! Every refusal is a response, never an error:
//!
//! | cause | HTTP | `WWW-Authenticate` error | JSON `code` | gRPC |
//! |---|---|---|---|---|
//! | no credentials, other scheme | 401 | (none) | `unauthorized` | 16 |
//! | malformed, unknown, revoked, expired | 401 | `invalid_token` | `unauthorized` | 16 |
//! | valid token without the scope | 403 | `insufficient_scope` + `scope` | `forbidden` | 7 |
//! | two credentials | 400 | `invalid_request` | `invalid_request` | 16 |
//! | validator backend failed or timed out | 503 | (no challenge) | `unavailable` | 14 |
//!
//! gRPC requests (`content-type: application/grpc...`) get a trailers-only
//! response: HTTP 200, `grpc-status`, a percent-encoded `grpc-message`, no
//! body. `HEAD` requests get the headers without the body. Each rejection
//! carries its [`RejectionKind`] in the response extensions.
//!
//! # Panics in a validator
//!
//! A validator that panics never lets a request through: the panic unwinds
//! out of `call` (or the response future), so the inner service is not
//! called. What the client sees is up to the server: hyper drops the
//! connection (HTTP/1.1: the connection closes without a response; HTTP/2:
//! the stream is reset). To answer 500 instead, put tower-http's
//! `CatchPanicLayer` *outside* this layer.
//!
//! # Features
//!
//! | feature | default | brings |
//! |---|---|---|
//! | `key-store` | yes | [`KeyStore`], [`KeyGenerator`] (sha2, arc-swap, getrandom) |
//! | `keys-file` | no | JSON keys file load/save (serde, serde_json) |
//! | `axum` | no | the [`axum::Authenticated`] extractor (axum-core) |
//! | `tonic` | no | [`tonic::principal`] for handlers (tonic, no transport) |
//! | `tracing` | no | one event per rejection (tracing) |
//! | `timeout` | no | [`TimeoutValidator`] (tokio's timer) |

#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "axum", feature = "tonic", feature = "key-store"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod api_error_json;
mod authorization_header;
#[cfg(feature = "axum")]
pub mod axum;
mod b64token;
mod body;
mod builder;
mod challenge;
mod config_error;
mod credentials;
mod future;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzz_api;
mod grpc;
#[cfg(feature = "key-store")]
mod key_store;
#[cfg(feature = "keys-file")]
mod keys_file;
mod layer;
mod principal;
mod problem_details;
mod rejection;
mod rejection_format;
mod rejection_renderer;
mod require_scope;
#[cfg(feature = "keys-file")]
mod rfc3339;
mod scope;
mod scope_policy;
mod scope_table;
mod service;
mod settings;
#[cfg(feature = "timeout")]
mod timeout_validator;
mod token_source;
#[cfg(feature = "tonic")]
pub mod tonic;
mod trace;
mod validation_error;
mod validator;

pub use api_error_json::ApiErrorJson;
pub use body::AuthBody;
pub use builder::BearerAuthBuilder;
pub use config_error::ConfigError;
pub use future::ResponseFuture;
#[cfg(feature = "key-store")]
pub use key_store::{
    ApiKey, GeneratedKey, KeyCounts, KeyEntry, KeyGenError, KeyGenerator, KeyStore,
    KeyStoreBuilder, KeyStoreError, Metadata, SecretToken, TokenDigest, new_key_id,
};
#[cfg(feature = "keys-file")]
pub use keys_file::{KeysFile, KeysFileError};
pub use layer::BearerAuthLayer;
pub use principal::Principal;
pub use problem_details::ProblemDetails;
pub use rejection::{Rejection, RejectionKind};
pub use rejection_format::RejectionFormat;
pub use require_scope::{RequireScope, RequireScopeFuture, RequireScopeLayer};
pub use scope::{InvalidScope, ScopeSet};
pub use scope_policy::{AuthenticatedOnly, ScopePolicy, ScopeRequirement};
pub use scope_table::{ScopeTable, Unlisted};
pub use service::BearerAuth;
#[cfg(feature = "timeout")]
pub use timeout_validator::{TimeoutFuture, TimeoutValidator};
pub use validation_error::{BoxError, ValidationError, ValidationFailure};
pub use validator::TokenValidator;
