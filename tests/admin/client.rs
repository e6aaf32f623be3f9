//! An in-process client of the admin API: an axum router called with
//! `oneshot`, one bearer token, JSON in and out.

#![allow(unreachable_pub)]

use axum::Router;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use std::time::Duration;
use tower::ServiceExt;

pub use crate::support::answer::Answer;
use tower_bearer_auth::admin::AdminApi;

use tower_bearer_auth::key_store::{
    admin::EmbeddedKeyAdmin, redis::RedisKeyWriter, redis::SharedKeyAdmin, redis::SharedKeyStore,
};
use tower_bearer_auth::{BearerAuthLayer, KeyEntry, KeyGenerator, KeyStore, ScopeSet};

pub const KEYS: &str = "/admin/v1/keys";

/// The admin API as a router, and the bearer value that calls it.
#[derive(Clone)]
pub struct Admin {
    pub router: Router,
    pub bearer: String,
}

/// A key store with one `keys:admin` key, and the admin API over it
/// (embedded, in memory).
pub fn embedded() -> (Admin, KeyStore) {
    let store = KeyStore::new();
    let token = admin_key(&store);
    let auth = BearerAuthLayer::builder(store.clone())
        .realm("api")
        .build()
        .expect("valid layer");
    let router = AdminApi::new(EmbeddedKeyAdmin::new(store.clone())).router(&auth);
    (Admin::new(router, &token), store)
}

/// Inserts a `keys:admin` key into `store`; returns its token.
pub fn admin_key(store: &KeyStore) -> String {
    let key = KeyGenerator::new().generate().expect("random source");
    store
        .insert(
            KeyEntry::new(key.id(), "Admin", key.digest())
                .with_scopes(ScopeSet::parse("keys:admin").expect("valid scope")),
        )
        .expect("insert");
    key.token().expose().to_owned()
}

/// The admin API over the key set shared through the Redis at `url`
/// (namespace `namespace`), behind a layer on one replica, with one
/// `keys:admin` key; and the replica.
pub async fn on_redis(url: &str, namespace: &str) -> (Admin, SharedKeyStore) {
    // The admin key first: its write initialises the store the replica loads.
    let writer = RedisKeyWriter::connect(url, namespace)
        .await
        .expect("connect");
    let key = KeyGenerator::new().generate().expect("random source");
    writer
        .insert(
            KeyEntry::new(key.id(), "Admin", key.digest())
                .with_scopes(ScopeSet::parse("keys:admin").expect("valid scope")),
        )
        .await
        .expect("insert the admin key");
    let replica = SharedKeyStore::builder(url)
        .namespace(namespace)
        .start()
        .expect("start a replica");
    replica
        .ready(Duration::from_secs(10))
        .await
        .expect("the replica loads");
    let shared = SharedKeyAdmin::new(writer, replica.clone());
    let auth = BearerAuthLayer::builder(replica.clone())
        .realm("api")
        .build()
        .expect("valid layer");
    let admin = Admin::new(AdminApi::new(shared).router(&auth), key.token().expose());
    (admin, replica)
}

impl Admin {
    pub fn new(router: Router, token: &str) -> Self {
        Self {
            router,
            bearer: format!("Bearer {token}"),
        }
    }

    /// A JSON request (`body` sent as `application/json` when given).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let bytes = body.map(|b| Bytes::from(b.to_string()));
        let content_type = bytes.as_ref().map(|_| "application/json");
        self.raw(
            method,
            path,
            content_type,
            bytes.unwrap_or_default(),
            Some(&self.bearer.clone()),
        )
        .await
    }

    /// Any request: content type, body bytes and `Authorization` as given.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
        authorization: Option<&str>,
    ) -> Answer {
        let mut request = Request::builder().method(method.clone()).uri(path);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let request = request
            .body(axum::body::Body::from(body))
            .expect("valid request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Answer {
            asked: format!("{method} {path}"),
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// Creates a key; returns (token, key).
    pub async fn create(&self, body: Value) -> (String, Value) {
        let answer = self.call(Method::POST, KEYS, Some(body)).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json());
        let json = answer.json();
        (
            json["token"].as_str().expect("token").to_owned(),
            json["key"].clone(),
        )
    }
}
