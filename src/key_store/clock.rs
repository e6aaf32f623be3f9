//! A coarse clock for the request path: the current minute since the Unix
//! epoch, kept in one atomic by a thread that wakes once a minute, so that
//! noting a key's last use reads no system clock.

use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use super::record::minutes_since_epoch;

static MINUTE: AtomicU32 = AtomicU32::new(0);
static STARTED: Once = Once::new();

/// Starts the clock (once per process; later calls do nothing).
pub(super) fn start() {
    STARTED.call_once(|| {
        MINUTE.store(minutes_since_epoch(SystemTime::now()), Ordering::Relaxed);
        // Without the thread the minute stays at its start value: last-used
        // times are then coarse, nothing else changes.
        let _ = std::thread::Builder::new()
            .name("tba-clock".to_owned())
            .spawn(|| {
                loop {
                    let now = SystemTime::now();
                    MINUTE.store(minutes_since_epoch(now), Ordering::Relaxed);
                    let into_minute = now
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |since| since.as_secs() % 60);
                    // Wake just after the next minute begins.
                    std::thread::sleep(Duration::from_millis((60 - into_minute) * 1_000 + 50));
                }
            });
    });
}

/// The current minute since the Unix epoch: one relaxed load.
pub(super) fn minute() -> u32 {
    MINUTE.load(Ordering::Relaxed)
}
