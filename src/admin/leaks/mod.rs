//! Leaked keys revoke themselves (feature `secret-scanning`): a receiver
//! for GitHub's secret-scanning partner program.
//!
//! GitHub scans every public push for a provider's token pattern and posts
//! the matches to the provider's endpoint. [`GithubSecretScanning`]
//! serves that endpoint, `POST /admin/v1/secret-scanning/github`, outside
//! any key layer: GitHub authenticates each report with an ECDSA P-256
//! (SHA-256) signature over the raw body (`Github-Public-Key-Signature`),
//! made with the key `Github-Public-Key-Identifier` names among GitHub's
//! published keys, fetched from a URL and cached.
//!
//! For each reported token: a token whose checksum fails, or that no key
//! holds, is a `false_positive`; a key's token is a `true_positive`, and
//! the key is revoked (once: a revoked key is left alone, however often it
//! is reported; the owner's other keys are untouched), with one log event
//! (action, key id, the report's `url` and `source`). The answer labels
//! each token by its SHA-256 (`token_hash`), never echoing a token.
//!
//! A missing or bad signature, or an unknown key identifier (after one
//! fetch of the keys, at most once per interval) is 401 and revokes
//! nothing; a body over 1 MiB is 413; GitHub's keys unreachable, or the
//! store failing, is 503 (GitHub sends the report again). The body is
//! never logged.
//!
//! ```
//! use axum::Router;
//! use tower_bearer_auth::admin::GithubSecretScanning;
//! use tower_bearer_auth::key_store::admin::EmbeddedKeyAdmin;
//! use tower_bearer_auth::KeyStore;
//!
//! let admin = EmbeddedKeyAdmin::new(KeyStore::new());
//! let app: Router = Router::new().merge(GithubSecretScanning::new().router(admin));
//! ```

mod fetch;
mod handler;
mod keys;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::post;

use crate::key_store::admin::KeyAdmin;

/// The path GitHub posts reports to.
pub const GITHUB_PATH: &str = "/admin/v1/secret-scanning/github";

/// Where GitHub publishes its secret-scanning public keys.
pub const GITHUB_KEYS_URL: &str = "https://api.github.com/meta/public_keys/secret_scanning";

/// The receiver of GitHub's secret-scanning reports; see [the
/// module](self).
#[derive(Debug, Clone)]
#[must_use]
pub struct GithubSecretScanning {
    keys_url: String,
    min_refetch: Duration,
}

impl Default for GithubSecretScanning {
    fn default() -> Self {
        Self::new()
    }
}

impl GithubSecretScanning {
    /// A receiver trusting the keys at [`GITHUB_KEYS_URL`], fetched again
    /// for an unknown identifier at most once a minute.
    pub fn new() -> Self {
        Self {
            keys_url: GITHUB_KEYS_URL.to_owned(),
            min_refetch: Duration::from_secs(60),
        }
    }

    /// Fetch the keys from `url` instead (`http://` or `https://`; a test's
    /// own server, a proxy).
    pub fn keys_url(mut self, url: impl Into<String>) -> Self {
        self.keys_url = url.into();
        self
    }

    /// The shortest time between two fetches of the keys (default 60 s).
    pub fn min_refetch(mut self, interval: Duration) -> Self {
        self.min_refetch = interval;
        self
    }

    /// The route `POST` [`GITHUB_PATH`], revoking through `admin`.
    pub fn router<A: KeyAdmin>(self, admin: A) -> Router {
        let receiver = Arc::new(handler::Receiver {
            admin,
            keys: keys::GithubKeys::new(self.keys_url, self.min_refetch),
        });
        Router::new()
            .route(GITHUB_PATH, post(handler::receive::<A>))
            .with_state(receiver)
    }
}
