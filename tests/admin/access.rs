//! Who may administer keys: API keys with `keys:admin`, and nothing else
//! unless the application names it (`AdminApi::administered_by`). A JWT
//! holding `keys:admin` once minted permanent keys.

use http::{Method, StatusCode};
use jsonwebtoken::Algorithm;
use serde_json::json;
use tower_bearer_auth::admin::AdminApi;
use tower_bearer_auth::jwt::{JwtKey, JwtValidator, KeyOrJwt};
use tower_bearer_auth::key_store::admin::EmbeddedKeyAdmin;
use tower_bearer_auth::{BearerAuthLayer, CredentialKind, KeyStore};

use crate::client::{Admin, KEYS, admin_key};
use crate::support::jwt::{AUDIENCE, ISSUER, Signer, claims};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

/// The admin API behind a layer that takes keys and JWTs, administered by
/// `kinds` (the default when `None`); a key of the store's, and a JWT,
/// both with `keys:admin`.
fn keys_and_jwts(kinds: Option<&[CredentialKind]>) -> (Admin, String, String) {
    let store = KeyStore::new();
    let key_token = admin_key(&store);
    let jwt = JwtValidator::builder([Algorithm::HS256])
        .key(JwtKey::hmac(SECRET))
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .expect("valid validator");
    let auth = BearerAuthLayer::builder(KeyOrJwt::new(store.clone(), Some(jwt)))
        .realm("api")
        .build()
        .expect("valid layer");
    let mut api = AdminApi::new(EmbeddedKeyAdmin::new(store));
    if let Some(kinds) = kinds {
        api = api.administered_by(kinds.iter().copied());
    }
    let jwt_token = Signer::hmac(SECRET, "").sign(&claims("keys:admin"));
    (
        Admin::new(api.router(&auth), &key_token),
        key_token,
        jwt_token,
    )
}

#[tokio::test]
async fn a_jwt_with_keys_admin_is_403_on_every_admin_route_by_default() {
    let (admin, _, jwt) = keys_and_jwts(None);
    let (_, key) = admin.create(json!({"label": "Target"})).await;
    let one = format!("{KEYS}/{}", key["id"].as_str().expect("id"));
    let as_jwt = Admin {
        bearer: format!("Bearer {jwt}"),
        ..admin.clone()
    };
    for (method, path, body) in [
        (Method::GET, KEYS.to_owned(), None),
        (
            Method::POST,
            KEYS.to_owned(),
            Some(json!({"label": "Minted"})),
        ),
        (Method::GET, one.clone(), None),
        (
            Method::PATCH,
            one.clone(),
            Some(json!({"label": "Renamed"})),
        ),
        (Method::POST, format!("{one}/rotate"), None),
        (Method::POST, format!("{one}/revoke"), None),
        (Method::DELETE, one.clone(), None),
    ] {
        let answer = as_jwt.call(method, &path, body).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.asked);
        assert_eq!(
            answer.json()["error"]["code"],
            "forbidden",
            "{}",
            answer.asked
        );
        assert!(
            answer.headers["www-authenticate"]
                .to_str()
                .expect("ASCII")
                .contains("insufficient_scope"),
            "{}",
            answer.asked
        );
    }
    // Nothing changed: the key is still there, unrevoked, with its label,
    // and no key was minted.
    let listed = admin.call(Method::GET, KEYS, None).await.json();
    let labels: Vec<&str> = listed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["label"].as_str().expect("label"))
        .collect();
    assert_eq!(labels.len(), 2, "{listed}");
    assert!(labels.contains(&"Target") && !labels.contains(&"Minted"));
    assert_eq!(
        admin.call(Method::GET, &one, None).await.json()["revoked"],
        false
    );
}

#[tokio::test]
async fn an_application_may_name_jwts_as_administrators() {
    let (admin, key, jwt) = keys_and_jwts(Some(&[CredentialKind::ApiKey, CredentialKind::Jwt]));
    for token in [key, jwt] {
        let caller = Admin {
            bearer: format!("Bearer {token}"),
            ..admin.clone()
        };
        let answer = caller
            .call(Method::POST, KEYS, Some(json!({"label": "Minted"})))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json());
    }
    // JWTs only: the API key with `keys:admin` is now refused.
    let (admin, key, jwt) = keys_and_jwts(Some(&[CredentialKind::Jwt]));
    let as_key = Admin {
        bearer: format!("Bearer {key}"),
        ..admin.clone()
    };
    assert_eq!(
        as_key.call(Method::GET, KEYS, None).await.status,
        StatusCode::FORBIDDEN
    );
    let as_jwt = Admin {
        bearer: format!("Bearer {jwt}"),
        ..admin
    };
    assert_eq!(
        as_jwt.call(Method::GET, KEYS, None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_api_key_needs_the_scope_and_no_key_is_401() {
    let (admin, _, _) = keys_and_jwts(None);
    assert_eq!(
        admin.call(Method::GET, KEYS, None).await.status,
        StatusCode::OK
    );
    let (token, _) = admin.create(json!({"label": "No scope"})).await;
    let plain = Admin {
        bearer: format!("Bearer {token}"),
        ..admin.clone()
    };
    assert_eq!(
        plain.call(Method::GET, KEYS, None).await.status,
        StatusCode::FORBIDDEN
    );
    let anonymous = admin
        .raw(Method::GET, KEYS, None, bytes::Bytes::new(), None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}
