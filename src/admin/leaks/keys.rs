//! GitHub's secret-scanning public keys: fetched from a URL, cached by
//! identifier, fetched again for an unknown identifier at most once per
//! interval (so that a flood of forged identifiers costs GitHub's API one
//! request per interval, not one per report).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use p256::ecdsa::VerifyingKey;
use p256::pkcs8::DecodePublicKey;
use serde_json::Value;
use tokio::sync::Mutex;

/// The keys, and when they were last fetched.
pub(super) struct GithubKeys {
    url: String,
    min_refetch: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    keys: HashMap<String, VerifyingKey>,
    fetched_at: Option<Instant>,
}

impl GithubKeys {
    pub(super) fn new(url: String, min_refetch: Duration) -> Self {
        Self {
            url,
            min_refetch,
            state: Mutex::new(State::default()),
        }
    }

    /// The key `id`: cached, or after a fetch when none happened for
    /// `min_refetch`; `Ok(None)` when the published keys do not hold it.
    pub(super) async fn key(&self, id: &str) -> Result<Option<VerifyingKey>, String> {
        let mut state = self.state.lock().await;
        if let Some(key) = state.keys.get(id) {
            return Ok(Some(*key));
        }
        if state
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.min_refetch)
        {
            return Ok(None);
        }
        state.fetched_at = Some(Instant::now());
        let document = super::fetch::get(&self.url).await?;
        state.keys = parse(&document)?;
        Ok(state.keys.get(id).copied())
    }
}

/// `{"public_keys": [{"key_identifier": "...", "key": "-----BEGIN PUBLIC
/// KEY-----..."}]}`; a key that is not a P-256 public key is left out.
fn parse(document: &[u8]) -> Result<HashMap<String, VerifyingKey>, String> {
    let value: Value =
        serde_json::from_slice(document).map_err(|_| "GitHub's keys are not JSON".to_owned())?;
    let keys = value
        .get("public_keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "GitHub's keys have no `public_keys` array".to_owned())?;
    Ok(keys
        .iter()
        .filter_map(|key| {
            let id = key.get("key_identifier")?.as_str()?;
            let pem = key.get("key")?.as_str()?;
            let key = VerifyingKey::from_public_key_pem(pem).ok()?;
            Some((id.to_owned(), key))
        })
        .collect())
}
