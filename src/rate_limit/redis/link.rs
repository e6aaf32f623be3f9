//! The connection both Redis limiters use: one multiplexed connection,
//! scripts with a time limit, and what a failure does (decide locally for
//! a second, warn at most once a minute, report a refused script in the
//! store's status).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::{FromRedisValue, ScriptInvocation};

use super::super::local::LocalLimiter;
use crate::key_store::redis::{KeptConnection, LimiterHome};

/// How long a connection attempt or a script may take before the request
/// is decided locally.
const TIMEOUT: Duration = Duration::from_millis(250);

/// After a failure, how long requests are decided locally before Redis is
/// asked again (and the shortest time between two warnings).
const FALLBACK: Duration = Duration::from_secs(1);

/// A Redis failure is logged again only after this long.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Redis as a limiter reaches it.
pub(super) struct RedisLink {
    /// `{tba:<ns>}:rl:`, before a key id.
    prefix: String,
    /// The store's slot for a refusal that makes this limiter count per
    /// replica (shown in its status).
    problem: Arc<std::sync::Mutex<Option<String>>>,
    connection: KeptConnection,
    /// The local table: its clock (ns), and the decisions while Redis fails.
    pub(super) local: Arc<LocalLimiter>,
    /// Until when (local ns) requests are decided locally; 0: ask Redis.
    fallback_until: AtomicU64,
    /// When the last warning was logged (local ns; 0: never).
    warned_at: AtomicU64,
}

/// Why Redis did not decide: refused (a permission: it will not change by
/// itself), or failed (down, slow).
pub(super) struct Problem {
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

impl RedisLink {
    pub(super) fn new(home: LimiterHome, local: &Arc<LocalLimiter>) -> Self {
        let prefix = format!("{}:rl:", home.hash_tag);
        Self {
            connection: KeptConnection::new(home.source, prefix.clone(), TIMEOUT, TIMEOUT),
            prefix,
            problem: home.problem,
            local: Arc::clone(local),
            fallback_until: AtomicU64::new(0),
            warned_at: AtomicU64::new(0),
        }
    }

    /// The Redis key of a rate-limit key id's state.
    pub(super) fn state_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Whether to ask Redis (not inside a fallback period).
    pub(super) fn is_answering(&self) -> bool {
        let until = self.fallback_until.load(Ordering::Relaxed);
        until == 0 || self.local.now() >= until
    }

    /// Runs `call` within the time limit; a failure starts a fallback
    /// period (and may warn), a success after one ends it.
    pub(super) async fn run<T: FromRedisValue>(
        &self,
        call: &ScriptInvocation<'_>,
    ) -> Result<T, Problem> {
        let outcome = match self.connection.get().await.map_err(Problem::failed) {
            Ok(mut connection) => tokio::time::timeout(TIMEOUT, call.invoke_async(&mut connection))
                .await
                .map_err(|_| Problem::failed("the rate-limit script timed out".to_owned()))
                .and_then(|answer| {
                    answer.map_err(|e| Problem {
                        refused: e.code() == Some("NOPERM"),
                        text: e.to_string(),
                    })
                }),
            Err(problem) => Err(problem),
        };
        match &outcome {
            Ok(_) => {
                if self.fallback_until.swap(0, Ordering::Relaxed) != 0 {
                    super::super::report::redis_back();
                    self.set_problem(None);
                }
            }
            Err(problem) => self.fail(problem).await,
        }
        outcome
    }

    /// Decides locally for a while, forgets the connection, and warns (at
    /// most once a minute).
    async fn fail(&self, problem: &Problem) {
        let now = self.local.now();
        let fallback = u64::try_from(FALLBACK.as_nanos()).unwrap_or(u64::MAX);
        self.fallback_until
            .store(now.saturating_add(fallback).max(1), Ordering::Relaxed);
        self.connection.forget().await;
        let last = self.warned_at.load(Ordering::Relaxed);
        let every = u64::try_from(WARN_EVERY.as_nanos()).unwrap_or(u64::MAX);
        if (last == 0 || now.saturating_sub(last) >= every)
            && self
                .warned_at
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            if problem.refused {
                super::super::report::redis_refused(&problem.text);
            } else {
                super::super::report::redis_fallback(&problem.text);
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
