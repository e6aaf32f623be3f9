//! Building the admin API's router.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use http::request::Parts;

use super::handlers::{self, Api};
use crate::key_store::KeyGenerator;
use crate::key_store::admin::KeyAdmin;
use crate::principal::{CredentialKind, Principal};
use crate::scope::{ScopePolicy, ScopeRequirement};
use crate::{BearerAuthLayer, TokenValidator};

/// The scope every admin endpoint requires.
const ADMIN_SCOPE: &str = "keys:admin";

/// The admin API over a [`KeyAdmin`]; see [the module](super) for the
/// endpoints.
///
/// ```
/// use tower_bearer_auth::admin::AdminApi;
/// use tower_bearer_auth::key_store::admin::EmbeddedKeyAdmin;
/// use tower_bearer_auth::{BearerAuthLayer, KeyGenerator, KeyStore};
///
/// let store = KeyStore::new();
/// let auth = BearerAuthLayer::new(store.clone());
/// let admin: axum::Router = AdminApi::new(EmbeddedKeyAdmin::new(store))
///     .generator(KeyGenerator::with_prefix("ais")?)
///     .router(&auth);
/// # Ok::<(), tower_bearer_auth::ConfigError>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct AdminApi<A> {
    admin: A,
    generator: KeyGenerator,
    administrators: Vec<CredentialKind>,
}

impl<A: KeyAdmin> AdminApi<A> {
    /// The API over `admin`, generating keys with the prefix `sk`.
    pub fn new(admin: A) -> Self {
        Self {
            admin,
            generator: KeyGenerator::new(),
            administrators: vec![CredentialKind::ApiKey],
        }
    }

    /// Which kinds of credential may administer keys, given the scope
    /// `keys:admin` (default: API keys only). A JWT, or an application's
    /// own principal, holding `keys:admin` gets 403 `forbidden` on every
    /// admin route unless its kind is named here: an identity provider's
    /// scope should not mint permanent keys unless the application says
    /// so.
    ///
    /// ```
    /// use tower_bearer_auth::admin::AdminApi;
    /// use tower_bearer_auth::key_store::admin::EmbeddedKeyAdmin;
    /// use tower_bearer_auth::{CredentialKind, KeyStore};
    ///
    /// // Keys and the identity provider's JWTs with `keys:admin`.
    /// let api = AdminApi::new(EmbeddedKeyAdmin::new(KeyStore::new()))
    ///     .administered_by([CredentialKind::ApiKey, CredentialKind::Jwt]);
    /// ```
    pub fn administered_by(mut self, kinds: impl IntoIterator<Item = CredentialKind>) -> Self {
        self.administrators = kinds.into_iter().collect();
        self
    }

    /// How new keys are generated (their prefix).
    pub fn generator(mut self, generator: KeyGenerator) -> Self {
        self.generator = generator;
        self
    }

    /// The routes under `/admin/v1/keys`, behind `auth` (the application's
    /// own layer, so its realm, body format and validator apply), the
    /// scope `keys:admin` and a credential of a kind allowed by
    /// [`administered_by`](Self::administered_by).
    pub fn router<V, Pol>(self, auth: &BearerAuthLayer<V, Pol>) -> Router
    where
        V: TokenValidator + Clone + Send + Sync + 'static,
        V::Future: Send,
        Pol: ScopePolicy<V::Principal> + Send + Sync + 'static,
    {
        let state = Arc::new(Api {
            admin: self.admin,
            generator: self.generator,
            principal: PhantomData::<fn() -> V::Principal>,
        });
        // A valid scope by construction.
        let admin_scope = ScopeRequirement::all([ADMIN_SCOPE])
            .unwrap_or_else(|_| unreachable!("`keys:admin` is a valid scope"));
        let administrators = self.administrators;
        // One 403 for both: the scope missing, or a credential that may not
        // administer whatever scopes it holds.
        let admins_only = move |_: &Parts, principal: &V::Principal| {
            if administrators.contains(&principal.credential())
                && admin_scope.is_satisfied_by(principal)
            {
                Ok(())
            } else {
                Err(admin_scope.scopes().clone())
            }
        };
        routes::<A, V::Principal>()
            .with_state(state)
            .route_layer(auth.require_scope(admins_only))
            .layer(auth.clone())
            // The document describes the API to anyone: no key needed.
            .route(
                "/admin/v1/openapi.json",
                get(openapi).fallback(handlers::method_not_allowed),
            )
    }
}

/// The OpenAPI 3.1 document of the admin API (`GET /admin/v1/openapi.json`).
pub const OPENAPI: &str = include_str!("openapi.json");

/// `GET /admin/v1/openapi.json`.
async fn openapi() -> impl axum::response::IntoResponse {
    ([(http::header::CONTENT_TYPE, "application/json")], OPENAPI)
}

fn routes<A: KeyAdmin, P: Principal>() -> Router<Arc<Api<A, P>>> {
    Router::new()
        .route(
            "/admin/v1/keys",
            get(handlers::list::<A, P>)
                .post(handlers::create::<A, P>)
                .fallback(handlers::method_not_allowed),
        )
        .route(
            "/admin/v1/keys/{id}",
            get(handlers::show::<A, P>)
                .patch(handlers::change::<A, P>)
                .delete(handlers::delete::<A, P>)
                .fallback(handlers::method_not_allowed),
        )
        .route(
            "/admin/v1/keys/{id}/revoke",
            post(handlers::revoke::<A, P>).fallback(handlers::method_not_allowed),
        )
        .route(
            "/admin/v1/keys/{id}/rotate",
            post(handlers::rotate::<A, P>).fallback(handlers::method_not_allowed),
        )
        .route(
            "/admin/v1/keys/{id}/usage",
            get(handlers::usage::<A, P>).fallback(handlers::method_not_allowed),
        )
        .route(
            "/admin/v1/audit",
            get(handlers::audit::<A, P>).fallback(handlers::method_not_allowed),
        )
        .route(
            "/admin/v1/keys/{id}/credits",
            post(handlers::credits::<A, P>).fallback(handlers::method_not_allowed),
        )
        .route(
            "/admin/v1/owners/{owner}",
            get(handlers::show_owner::<A, P>)
                .put(handlers::set_owner::<A, P>)
                .delete(handlers::delete_owner::<A, P>)
                .fallback(handlers::method_not_allowed),
        )
        .route(
            "/admin/v1/owners/{owner}/revoke",
            post(handlers::revoke_owner::<A, P>).fallback(handlers::method_not_allowed),
        )
}
