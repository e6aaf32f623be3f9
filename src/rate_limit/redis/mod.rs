//! The Redis backends of the limiter, next to the shared key set
//! (`{tba:<ns>}:rl:<key id>`, one hash tag, so one Redis Cluster slot),
//! sharing one GCRA state per key:
//!
//! - exact (`exact.rs`): one script per request, on Redis's clock;
//! - shares (`shares.rs`, `share_table.rs`): each replica takes a share of
//!   a key's quota at a time in the background and decides locally.
//!
//! Both reach Redis through `link.rs`; while Redis fails, the local table
//! decides.

mod exact;
mod link;
mod share_size;
mod share_table;
mod shares;

pub(crate) use self::exact::ExactLimiter;
pub use self::share_size::ShareSize;
pub(crate) use self::shares::{ShareCheck, ShareLimiter};
