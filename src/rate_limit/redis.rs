//! The Redis backend: one GCRA script per request, on Redis's clock, next
//! to the shared key set (`{tba:<ns>}:rl:<key id>`, one hash tag, so one
//! Redis Cluster slot). While Redis fails, the local table decides.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Script};
use tokio::sync::Mutex;

use super::Quota;
use super::gcra::{self, Decision, Units};
use super::local::{LocalLimiter, fingerprint};
use crate::key_store::redis::{LimiterHome, Source};

/// How long a connection attempt or a script may take before the request
/// is decided locally.
const TIMEOUT: Duration = Duration::from_millis(250);

/// After a failure, how long requests are decided locally before Redis is
/// asked again (and the shortest time between two warnings).
const FALLBACK: Duration = Duration::from_secs(1);

/// A Redis failure is logged again only after this long.
const WARN_EVERY: Duration = Duration::from_secs(60);

pub(crate) struct RedisLimiter {
    source: Source,
    prefix: String,
    /// The store's slot for a refusal that makes this limiter count per
    /// replica (shown in its status).
    problem: Arc<std::sync::Mutex<Option<String>>>,
    script: Script,
    connection: Mutex<Option<MultiplexedConnection>>,
    /// The local table's clock (ns) and table, for the fallback.
    local: Arc<LocalLimiter>,
    /// Until when (local ns) requests are decided locally; 0: ask Redis.
    fallback_until: AtomicU64,
    /// When the last warning was logged (local ns; 0: never).
    warned_at: AtomicU64,
}

impl RedisLimiter {
    pub(crate) fn new(home: LimiterHome, local: &Arc<LocalLimiter>) -> Self {
        Self {
            source: home.source,
            prefix: format!("{}:rl:", home.hash_tag),
            problem: home.problem,
            script: Script::new(include_str!("scripts/gcra.lua")),
            connection: Mutex::new(None),
            local: Arc::clone(local),
            fallback_until: AtomicU64::new(0),
            warned_at: AtomicU64::new(0),
        }
    }

    /// Whether to ask Redis (not inside a fallback period).
    pub(crate) fn is_answering(&self) -> bool {
        let until = self.fallback_until.load(Ordering::Relaxed);
        until == 0 || self.local.now() >= until
    }

    /// The decision for a request of `key` (wait in nanoseconds): from
    /// Redis, or locally if Redis fails.
    pub(crate) async fn check(self: Arc<Self>, key: String, quota: Quota) -> Decision {
        match self.ask(&key, quota).await {
            Ok(decision) => {
                if self.fallback_until.swap(0, Ordering::Relaxed) != 0 {
                    super::report::redis_back();
                    self.set_problem(None);
                }
                decision
            }
            Err(problem) => {
                self.fail(&problem).await;
                self.local.check(fingerprint(&key), Units::nanos(quota))
            }
        }
    }

    async fn ask(&self, key: &str, quota: Quota) -> Result<Decision, Problem> {
        let mut connection = self.connection().await?;
        let units = Units::micros(quota);
        let mut call = self.script.key(format!("{}{key}", self.prefix));
        call.arg(units.emission).arg(units.window);
        let (allowed, amount): (u8, u64) =
            tokio::time::timeout(TIMEOUT, call.invoke_async(&mut connection))
                .await
                .map_err(|_| Problem::failed("the rate-limit script timed out".to_owned()))?
                .map_err(|e| Problem {
                    refused: e.code() == Some("NOPERM"),
                    text: e.to_string(),
                })?;
        let decision = if allowed == 1 {
            gcra::allowed_with_debt(amount, units)
        } else {
            Decision {
                allowed: false,
                remaining: 0,
                wait: amount,
            }
        };
        Ok(Decision {
            wait: decision.wait.saturating_mul(1_000),
            ..decision
        })
    }

    async fn connection(&self) -> Result<MultiplexedConnection, Problem> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let connection = self
            .source
            .connect(&config, &self.prefix)
            .await
            .map_err(Problem::failed)?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Decides locally for a while, forgets the connection, and warns (at
    /// most once a minute).
    async fn fail(&self, problem: &Problem) {
        let now = self.local.now();
        let fallback = u64::try_from(FALLBACK.as_nanos()).unwrap_or(u64::MAX);
        self.fallback_until
            .store(now.saturating_add(fallback).max(1), Ordering::Relaxed);
        *self.connection.lock().await = None;
        let last = self.warned_at.load(Ordering::Relaxed);
        let every = u64::try_from(WARN_EVERY.as_nanos()).unwrap_or(u64::MAX);
        if (last == 0 || now.saturating_sub(last) >= every)
            && self
                .warned_at
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            if problem.refused {
                super::report::redis_refused(&problem.text);
            } else {
                super::report::redis_fallback(&problem.text);
            }
        }
        if problem.refused {
            self.set_problem(Some(format!(
                "Redis refuses the rate-limit script, so limits count per replica: {}",
                problem.text
            )));
        }
    }

    fn set_problem(&self, problem: Option<String>) {
        *self
            .problem
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = problem;
    }
}

/// Why Redis did not decide: refused (a permission: it will not change by
/// itself), or failed (down, slow).
struct Problem {
    refused: bool,
    text: String,
}

impl Problem {
    fn failed(text: String) -> Self {
        Self {
            refused: false,
            text,
        }
    }
}
