//! Scopes, and whether a valid token's scopes allow a request.
//!
//! This folder decides authorization once authentication has succeeded: the
//! vocabulary ([`ScopeSet`], RFC 6749 §3.3 scope tokens), the policies the
//! layer applies to every request ([`ScopePolicy`]: [`AuthenticatedOnly`],
//! [`ScopeRequirement`], a per-route and per-gRPC-method [`ScopeTable`], or
//! a closure), and a per-route check ([`RequireScopeLayer`]) that reads the
//! principal an outer layer authenticated. A refusal is a 403 naming the
//! scopes required; a per-route check without an outer layer fails closed
//! with 401.
//!
//! ```
//! use http::Method;
//! use tower_bearer_auth::{BearerAuthLayer, KeyStore, ScopeRequirement};
//! use tower_bearer_auth::scope::{ScopeTable, Unlisted};
//!
//! let table = ScopeTable::new(Unlisted::Forbidden)
//!     .route_method(Method::GET, "/v1/profile", ScopeRequirement::all(["profile:read"])?)?
//!     .grpc_method("demo.v1.Profiles", "*", ScopeRequirement::all(["profile:read"])?)?;
//! let layer = BearerAuthLayer::builder(KeyStore::new()).scope_policy(table).build()?;
//! # Ok::<(), tower_bearer_auth::ConfigError>(())
//! ```

mod policy;
mod require;
mod set;
mod table;

pub use self::policy::{AuthenticatedOnly, ScopePolicy, ScopeRequirement};
pub use self::require::{RequireScope, RequireScopeFuture, RequireScopeLayer};
pub use self::set::{InvalidScope, ScopeSet};
pub use self::table::{ScopeTable, Unlisted};
