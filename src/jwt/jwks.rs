//! The validator's keys: static, or a JWKS kept fresh by a thread of its
//! own, with a refetch on an unknown `kid` at most once per interval, and
//! cached keys kept for a bounded time when the JWKS cannot be fetched.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::JwkSet;
use tokio::sync::{Notify, watch};

use super::JwtKey;
use super::fetch::{FetchJwks, discovery_url, jwks_uri};
use crate::BoxError;

/// Where the keys come from.
pub(super) enum Source {
    /// A JWKS at this URL.
    Jwks(String),
    /// The JWKS named by this issuer's OIDC discovery document.
    Discovery(String),
}

/// The keys in force.
pub(super) struct KeySet {
    pub(super) keys: Vec<JwtKey>,
    /// When they were last fetched successfully (`None`: static keys).
    pub(super) fetched_at: Option<Instant>,
}

/// Timing of a JWKS.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timing {
    pub(super) refresh_every: Duration,
    pub(super) min_refetch: Duration,
    pub(super) max_stale: Duration,
}

/// What the validator and the refresh thread share.
pub(super) struct Keys {
    pub(super) current: ArcSwap<KeySet>,
    /// `None` for static keys.
    remote: Option<Arc<Remote>>,
}

struct Remote {
    timing: Timing,
    /// When the last fetch was started (asked for, or periodic).
    last_attempt: Mutex<Option<Instant>>,
    /// Wakes the thread for a refetch.
    wake: Notify,
    /// Counts finished fetches (success or not).
    finished: watch::Sender<u64>,
    /// Counts fetches started, for tests and logs.
    started: std::sync::atomic::AtomicU64,
}

/// Why no key can be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unusable {
    /// The JWKS has never been fetched.
    NoKeys,
    /// The last successful fetch is older than the limit.
    Stale,
}

impl Keys {
    pub(super) fn fixed(keys: Vec<JwtKey>) -> Arc<Self> {
        Arc::new(Self {
            current: ArcSwap::from_pointee(KeySet {
                keys,
                fetched_at: None,
            }),
            remote: None,
        })
    }

    /// Keys fetched from `source`, by a thread that starts now (the first
    /// fetch is under way when this returns).
    pub(super) fn remote(
        source: Source,
        fetcher: Arc<dyn FetchJwks>,
        timing: Timing,
    ) -> Result<Arc<Self>, std::io::Error> {
        let keys = Arc::new(Self {
            current: ArcSwap::from_pointee(KeySet {
                keys: Vec::new(),
                fetched_at: None,
            }),
            remote: Some(Arc::new(Remote {
                timing,
                last_attempt: Mutex::new(None),
                wake: Notify::new(),
                finished: watch::Sender::new(0),
                started: std::sync::atomic::AtomicU64::new(0),
            })),
        });
        let weak = Arc::downgrade(&keys);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("tba-jwks".to_owned())
            .spawn(move || runtime.block_on(refresh(weak, source, fetcher)))?;
        Ok(keys)
    }

    /// The keys, if they may be used now.
    pub(super) fn usable(&self) -> Result<arc_swap::Guard<Arc<KeySet>>, Unusable> {
        let set = self.current.load();
        let Some(remote) = &self.remote else {
            return Ok(set);
        };
        match set.fetched_at {
            None => Err(Unusable::NoKeys),
            Some(at) if at.elapsed() > remote.timing.max_stale => Err(Unusable::Stale),
            Some(_) => Ok(set),
        }
    }

    /// Asks for a refetch now (an unknown `kid`), if the last fetch started
    /// at least `min_refetch` ago; returns a receiver that changes when a
    /// fetch finishes, or `None` when a refetch is not allowed yet.
    pub(super) fn refetch(&self) -> Option<watch::Receiver<u64>> {
        let remote = self.remote.as_ref()?;
        {
            let mut last = remote
                .last_attempt
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < remote.timing.min_refetch) {
                return None;
            }
            *last = Some(Instant::now());
        }
        let mut finished = remote.finished.subscribe();
        finished.mark_unchanged();
        remote.wake.notify_one();
        Some(finished)
    }

    /// How many fetches have started (tests, logs).
    pub(super) fn fetches(&self) -> u64 {
        self.remote.as_ref().map_or(0, |remote| {
            remote.started.load(std::sync::atomic::Ordering::Relaxed)
        })
    }

    /// Waits (up to `within`) for the first successful fetch.
    pub(super) async fn ready(&self, within: Duration) -> bool {
        let Some(remote) = &self.remote else {
            return true;
        };
        let mut finished = remote.finished.subscribe();
        let wait = async {
            while self.current.load().fetched_at.is_none() {
                if finished.changed().await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(within, wait).await;
        self.current.load().fetched_at.is_some()
    }
}

/// The refresh thread: fetches at start, every `refresh_every` (at most
/// half of `max_stale`) after a success, every `min_refetch` after a failure, and when woken.
async fn refresh(keys: std::sync::Weak<Keys>, source: Source, fetcher: Arc<dyn FetchJwks>) {
    loop {
        let Some(strong) = keys.upgrade() else {
            return;
        };
        let Some(remote) = strong.remote.clone() else {
            return;
        };
        let timing = remote.timing;
        *remote
            .last_attempt
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        remote
            .started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let outcome = fetch_keys(&source, fetcher.as_ref()).await;
        let next = match outcome {
            Ok(fetched) => {
                super::report::jwks_fetched(fetched.len());
                strong.current.store(Arc::new(KeySet {
                    keys: fetched,
                    fetched_at: Some(Instant::now()),
                }));
                // Never so late that the keys go stale before a retry.
                timing.refresh_every.min(timing.max_stale / 2)
            }
            Err(problem) => {
                super::report::jwks_failed(&problem.to_string());
                timing.min_refetch
            }
        };
        remote.finished.send_modify(|n| *n += 1);
        // Not the keys themselves while waiting: a dropped validator ends
        // this thread at its next wake.
        drop(strong);
        let woken = remote.wake.notified();
        tokio::select! {
            () = woken => {}
            () = tokio::time::sleep(next) => {}
        }
    }
}

/// The usable keys of the JWKS; an error if it cannot be fetched or read,
/// or holds no usable key.
async fn fetch_keys(source: &Source, fetcher: &dyn FetchJwks) -> Result<Vec<JwtKey>, BoxError> {
    let url = match source {
        Source::Jwks(url) => url.clone(),
        Source::Discovery(issuer) => jwks_uri(&fetcher.fetch(&discovery_url(issuer)).await?)?,
    };
    let body = fetcher.fetch(&url).await?;
    let set: JwkSet = serde_json::from_slice(&body)?;
    let keys: Vec<JwtKey> = set
        .keys
        .iter()
        .filter_map(|jwk| match JwtKey::from_parsed_jwk(jwk) {
            // A JWKS is public: an HMAC secret in it is a mistake, skip it.
            Ok(key) if key.family == jsonwebtoken::AlgorithmFamily::Hmac => None,
            Ok(key) => Some(key),
            Err(_) => None,
        })
        .collect();
    if keys.is_empty() {
        return Err("the JWKS holds no usable signing key".into());
    }
    Ok(keys)
}
