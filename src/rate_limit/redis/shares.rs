//! The share mode: each replica takes shares of a key's quota from Redis
//! (`scripts/take.lua`, the exact mode's GCRA state) in the background and
//! decides from what it holds, with no round trip on the request's path.
//! A request waits for Redis only when its replica holds nothing of the
//! key's quota (its first request there, or one that outran the refill).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use redis::Script;

use super::super::Quota;
use super::super::gcra::{Decision, Units};
use super::super::local::LocalLimiter;
use super::ShareSize;
use super::link::RedisLink;
use super::share_table::{ShareTable, Step, Take, Taken, Taking};
use crate::key_store::redis::LimiterHome;

/// How a request of the share mode goes.
pub(crate) enum ShareCheck {
    /// Decided from this replica's share.
    Now(Decision),
    /// Decided once a take is answered.
    Later(Pin<Box<dyn Future<Output = Decision> + Send>>),
    /// Redis is failing or the table is full: the local limiter decides.
    Local,
}

pub(crate) struct ShareLimiter {
    link: RedisLink,
    script: Script,
    table: ShareTable,
    size: ShareSize,
}

impl ShareLimiter {
    pub(crate) fn new(
        home: LimiterHome,
        local: &Arc<LocalLimiter>,
        size: ShareSize,
        max_keys: usize,
    ) -> Self {
        Self {
            link: RedisLink::new(home, local),
            script: Script::new(include_str!("../scripts/take.lua")),
            table: ShareTable::new(max_keys),
            size,
        }
    }

    /// How many keys this replica holds a share entry for.
    pub(crate) fn tracked_keys(&self) -> usize {
        self.table.len()
    }

    /// Decides a request of the key with fingerprint `hash` and id `id`.
    pub(crate) fn check(self: &Arc<Self>, hash: u64, id: &str, quota: Quota) -> ShareCheck {
        match self.step(hash, id, quota) {
            Step::Decided(decision) => ShareCheck::Now(decision),
            Step::Local => ShareCheck::Local,
            Step::Wait(taking) => {
                let this = Arc::clone(self);
                let id = id.to_owned();
                ShareCheck::Later(Box::pin(this.wait(taking, hash, id, quota)))
            }
        }
    }

    /// One decision of the table; sends the take it asks for.
    fn step(self: &Arc<Self>, hash: u64, id: &str, quota: Quota) -> Step {
        let size = self.size.of(quota);
        let now = self.link.local.now();
        let (step, take) = self
            .table
            .decide(hash, quota, size, now, self.link.is_answering());
        let sent = take.is_none_or(|take| self.send(take, id));
        if !sent && matches!(step, Step::Wait(_)) {
            // No runtime to ask Redis from: nothing to wait for.
            return Step::Local;
        }
        step
    }

    /// Waits for takes until the table decides (each take either gives
    /// requests or says none are left, so this ends).
    async fn wait(
        self: Arc<Self>,
        mut taking: Arc<Taking>,
        hash: u64,
        id: String,
        quota: Quota,
    ) -> Decision {
        loop {
            taking.done().await;
            match self.step(hash, &id, quota) {
                Step::Decided(decision) => return decision,
                Step::Local => return self.link.local.check(hash, Units::nanos(quota)),
                Step::Wait(next) => taking = next,
            }
        }
    }

    /// Sends `take` to Redis in a task of its own. Without a Tokio runtime,
    /// answers it as a failure at once and says it was not sent.
    fn send(self: &Arc<Self>, take: Take, id: &str) -> bool {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.table.taken(&take, None, self.link.local.now());
            return false;
        };
        let this = Arc::clone(self);
        let state_key = self.link.state_key(id);
        runtime.spawn(async move {
            let units = Units::micros(take.quota);
            let mut call = this.script.key(state_key);
            call.arg(units.emission).arg(units.window).arg(take.wanted);
            let answer = this.link.run::<(u32, u32, u64)>(&call).await.ok();
            let answer = answer.map(|(taken, left, wait)| Taken {
                taken,
                left,
                wait: wait.saturating_mul(1_000),
            });
            this.table.taken(&take, answer, this.link.local.now());
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> Arc<ShareLimiter> {
        // Nothing listens on port 1: every take fails at once.
        let source = crate::key_store::redis::Source::Node(
            redis::Client::open("redis://127.0.0.1:1/").expect("url"),
        );
        let home = LimiterHome {
            source,
            hash_tag: "{tba:test}".to_owned(),
            problem: Arc::default(),
        };
        let local = Arc::new(LocalLimiter::new(1_000));
        Arc::new(ShareLimiter::new(home, &local, ShareSize::default(), 1_000))
    }

    #[test]
    fn without_a_runtime_the_local_limiter_decides_at_once() {
        let limiter = limiter();
        let quota = Quota::new(2, 60).expect("valid");
        for _ in 0..3 {
            assert!(matches!(
                limiter.check(9, "key_x", quota),
                ShareCheck::Local
            ));
        }
    }

    #[tokio::test]
    async fn redis_unreachable_the_waiting_request_is_decided_locally() {
        let limiter = limiter();
        let quota = Quota::new(2, 60).expect("valid");
        let ShareCheck::Later(pending) = limiter.check(9, "key_x", quota) else {
            panic!("the first request waits for a share");
        };
        assert!(pending.await.allowed, "the local count's first request");
        // The failure starts a fallback period: decided locally at once.
        assert!(matches!(
            limiter.check(9, "key_x", quota),
            ShareCheck::Local
        ));
    }
}
