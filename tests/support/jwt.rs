//! JWT test helpers: signers over the test-only keys in `jwt_keys/`, the
//! usual claims, and a JWKS server of our own (axum on 127.0.0.1:0) whose
//! keys can change and which can go down, counting its requests.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const ISSUER: &str = "http://issuer.test";
pub const AUDIENCE: &str = "api.test";

const RSA_PRIVATE: &[u8] = include_bytes!("jwt_keys/rsa_private.pem");
pub const RSA_PUBLIC: &[u8] = include_bytes!("jwt_keys/rsa_public.pem");
const EC_PRIVATE: &[u8] = include_bytes!("jwt_keys/ec_private.pem");
pub const EC_PUBLIC: &[u8] = include_bytes!("jwt_keys/ec_public.pem");
const ED_PRIVATE: &[u8] = include_bytes!("jwt_keys/ed25519_private.pem");
pub const ED_PUBLIC: &[u8] = include_bytes!("jwt_keys/ed25519_public.pem");

/// Signs tokens with one key and algorithm, naming `kid` when set.
#[derive(Clone)]
pub struct Signer {
    pub alg: Algorithm,
    key: EncodingKey,
    pub kid: Option<String>,
}

impl Signer {
    /// The process's JOSE backend chosen first (with `jwt-aws-lc` both
    /// backends are compiled in, and jsonwebtoken cannot pick one itself).
    fn backend() {
        tower_bearer_auth::jwt::install_crypto_provider();
    }

    pub fn rsa(kid: &str) -> Self {
        Self::new(
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(RSA_PRIVATE).expect("RSA key"),
            kid,
        )
    }

    pub fn ec(kid: &str) -> Self {
        Self::new(
            Algorithm::ES256,
            EncodingKey::from_ec_pem(EC_PRIVATE).expect("EC key"),
            kid,
        )
    }

    pub fn ed(kid: &str) -> Self {
        Self::new(
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(ED_PRIVATE).expect("Ed25519 key"),
            kid,
        )
    }

    pub fn hmac(secret: &[u8], kid: &str) -> Self {
        Self::new(Algorithm::HS256, EncodingKey::from_secret(secret), kid)
    }

    fn new(alg: Algorithm, key: EncodingKey, kid: &str) -> Self {
        Self {
            alg,
            key,
            kid: (!kid.is_empty()).then(|| kid.to_owned()),
        }
    }

    /// A signer with the same key under another `kid` (or an `alg`
    /// header of another algorithm: see `sign_as`).
    pub fn with_kid(&self, kid: &str) -> Self {
        Self {
            kid: Some(kid.to_owned()),
            ..self.clone()
        }
    }

    pub fn sign(&self, claims: &Value) -> String {
        Self::backend();
        let mut header = Header::new(self.alg);
        header.kid = self.kid.clone();
        jsonwebtoken::encode(&header, claims, &self.key).expect("sign")
    }

    /// A token whose header names `crit` extensions (RFC 7515 §4.1.11).
    pub fn sign_with_crit(&self, claims: &Value, crit: &[&str]) -> String {
        Self::backend();
        let mut header = Header::new(self.alg);
        header.kid = self.kid.clone();
        header.crit = Some(crit.iter().map(|name| (*name).to_owned()).collect());
        jsonwebtoken::encode(&header, claims, &self.key).expect("sign")
    }

    /// The public JWK of the key, with its `kid` and `alg`.
    pub fn jwk(&self) -> Value {
        Self::backend();
        let mut jwk = Jwk::from_encoding_key(&self.key, self.alg).expect("public JWK");
        jwk.common.key_id = self.kid.clone();
        serde_json::to_value(jwk).expect("JSON")
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// `iss`, `aud`, `sub`, `scope`, and `exp` an hour from now.
pub fn claims(scope: &str) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-42",
        "scope": scope,
        "exp": now() + 3_600,
    })
}

/// A JWKS (and OIDC discovery) server on 127.0.0.1:0.
#[derive(Clone)]
pub struct JwksServer {
    pub base: String,
    keys: Arc<Mutex<Vec<Value>>>,
    down: Arc<AtomicBool>,
    jwks_hits: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Shared {
    keys: Arc<Mutex<Vec<Value>>>,
    down: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
    base: String,
}

async fn jwks(State(shared): State<Shared>) -> Response {
    shared.hits.fetch_add(1, Ordering::SeqCst);
    if shared.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = shared.keys.lock().expect("keys").clone();
    axum::Json(json!({ "keys": keys })).into_response()
}

async fn discovery(State(shared): State<Shared>) -> Response {
    if shared.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    axum::Json(json!({
        "issuer": shared.base,
        "jwks_uri": format!("{}/jwks.json", shared.base),
    }))
    .into_response()
}

impl JwksServer {
    /// Serves `keys` (JWKs) at `/jwks.json`, and a discovery document at
    /// `/.well-known/openid-configuration`, from a thread of its own.
    pub fn start(keys: Vec<Value>) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let server = Self {
            base: base.clone(),
            keys: Arc::new(Mutex::new(keys)),
            down: Arc::new(AtomicBool::new(false)),
            jwks_hits: Arc::new(AtomicUsize::new(0)),
        };
        let shared = Shared {
            keys: Arc::clone(&server.keys),
            down: Arc::clone(&server.down),
            hits: Arc::clone(&server.jwks_hits),
            base,
        };
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = Router::new()
                    .route("/jwks.json", get(jwks))
                    .route("/.well-known/openid-configuration", get(discovery))
                    .with_state(shared);
                let _ = axum::serve(listener, app).await;
            });
        });
        server
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks.json", self.base)
    }

    pub fn set_keys(&self, keys: Vec<Value>) {
        *self.keys.lock().expect("keys") = keys;
    }

    /// Answers 503 to everything while down.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Requests of `/jwks.json` so far.
    pub fn hits(&self) -> usize {
        self.jwks_hits.load(Ordering::SeqCst)
    }
}
