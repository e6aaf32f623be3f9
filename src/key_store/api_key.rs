//! The principal of an API key, and the record behind it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::key_store::token_digest::TokenDigest;
use crate::principal::Principal;
use crate::scope::ScopeSet;

/// Free-form key metadata (owner, environment...).
pub type Metadata = BTreeMap<String, String>;

static NO_METADATA: Metadata = BTreeMap::new();

/// One stored key. Immutable once built; shared by the index, the
/// catalog and every [`ApiKey`] handed to handlers.
///
/// Laid out to fit a 128-byte allocation (with the `Arc` counts): the id and
/// label share one string, and the timestamps are packed.
pub(crate) struct KeyRecord {
    pub(crate) digest: TokenDigest,
    /// The id followed by the label.
    text: Box<str>,
    pub(crate) scopes: ScopeSet,
    pub(crate) metadata: Option<Box<Metadata>>,
    times: PackedTimes,
    id_len: u32,
}

impl KeyRecord {
    pub(crate) fn new(
        digest: TokenDigest,
        id: &str,
        label: &str,
        scopes: ScopeSet,
        created_at: SystemTime,
        expires_at: Option<SystemTime>,
        metadata: Option<Box<Metadata>>,
    ) -> Self {
        let mut text = String::with_capacity(id.len() + label.len());
        text.push_str(id);
        text.push_str(label);
        Self {
            digest,
            text: text.into_boxed_str(),
            scopes,
            metadata,
            times: PackedTimes::new(created_at, expires_at),
            // Ids are validated to at most 128 bytes before records are built.
            id_len: u32::try_from(id.len()).unwrap_or(u32::MAX),
        }
    }

    pub(crate) fn id(&self) -> &str {
        self.text.get(..self.id_len as usize).unwrap_or_default()
    }

    pub(crate) fn label(&self) -> &str {
        self.text.get(self.id_len as usize..).unwrap_or_default()
    }

    pub(crate) fn created_at(&self) -> SystemTime {
        self.times.created().unwrap_or(SystemTime::UNIX_EPOCH)
    }

    pub(crate) fn expires_at(&self) -> Option<SystemTime> {
        self.times.expires()
    }

    /// Whether the key has expired; reads the clock only for keys that expire.
    pub(crate) fn is_expired(&self) -> bool {
        self.expires_at()
            .is_some_and(|expires_at| SystemTime::now() >= expires_at)
    }
}

/// Creation and expiry in 24 bytes (two `SystemTime`s take 32, their
/// `Option`s more).
#[derive(Clone, Copy)]
struct PackedTimes {
    created_secs: i64,
    expires_secs: i64,
    created_nanos: u32,
    expires_nanos: u32,
}

impl PackedTimes {
    fn new(created_at: SystemTime, expires_at: Option<SystemTime>) -> Self {
        let created = PackedTime::from(Some(created_at));
        let expires = PackedTime::from(expires_at);
        Self {
            created_secs: created.secs,
            expires_secs: expires.secs,
            created_nanos: created.nanos,
            expires_nanos: expires.nanos,
        }
    }

    fn created(self) -> Option<SystemTime> {
        PackedTime {
            secs: self.created_secs,
            nanos: self.created_nanos,
        }
        .get()
    }

    fn expires(self) -> Option<SystemTime> {
        PackedTime {
            secs: self.expires_secs,
            nanos: self.expires_nanos,
        }
        .get()
    }
}

/// A `SystemTime` as seconds and nanoseconds: whole seconds from the Unix epoch (negative
/// before it) and nanoseconds; `nanos == u32::MAX` means "none".
#[derive(Clone, Copy)]
struct PackedTime {
    secs: i64,
    nanos: u32,
}

impl PackedTime {
    const NONE: Self = Self {
        secs: 0,
        nanos: u32::MAX,
    };

    fn get(self) -> Option<SystemTime> {
        if self.nanos == u32::MAX {
            return None;
        }
        let nanos = Duration::from_nanos(u64::from(self.nanos));
        let secs = Duration::from_secs(self.secs.unsigned_abs());
        if self.secs >= 0 {
            SystemTime::UNIX_EPOCH.checked_add(secs + nanos)
        } else {
            SystemTime::UNIX_EPOCH
                .checked_sub(secs)
                .and_then(|t| t.checked_add(nanos))
        }
    }
}

impl From<Option<SystemTime>> for PackedTime {
    fn from(time: Option<SystemTime>) -> Self {
        let Some(time) = time else {
            return Self::NONE;
        };
        match time.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(after) => Self {
                secs: i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
                nanos: after.subsec_nanos(),
            },
            Err(before) => {
                let before = before.duration();
                let secs = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
                match before.subsec_nanos() {
                    0 => Self {
                        secs: -secs,
                        nanos: 0,
                    },
                    n => Self {
                        secs: -secs - 1,
                        nanos: 1_000_000_000 - n,
                    },
                }
            }
        }
    }
}

/// The principal of a request authenticated by a [`KeyStore`](crate::KeyStore)
/// key: its id, label and scopes. Handlers read it from the request
/// extensions. Cloning is a reference-count increment.
///
/// ```
/// use axum::Extension;
/// use tower_bearer_auth::ApiKey;
///
/// async fn profile(Extension(key): Extension<ApiKey>) -> String {
///     format!("{} ({}): {}", key.label(), key.id(), key.scopes())
/// }
/// ```
#[derive(Clone)]
pub struct ApiKey(pub(crate) Arc<KeyRecord>);

impl ApiKey {
    /// The key's id, e.g. `key_3kTMd...`. Not secret.
    #[must_use]
    pub fn id(&self) -> &str {
        self.0.id()
    }

    /// The label given at generation, e.g. `Staging Server`.
    #[must_use]
    pub fn label(&self) -> &str {
        self.0.label()
    }

    /// The scopes the key grants.
    #[must_use]
    pub fn scopes(&self) -> &ScopeSet {
        &self.0.scopes
    }

    /// When the key was created.
    #[must_use]
    pub fn created_at(&self) -> SystemTime {
        self.0.created_at()
    }

    /// When the key expires, if it does.
    #[must_use]
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.0.expires_at()
    }

    /// The key's metadata (empty if none).
    #[must_use]
    pub fn metadata(&self) -> &Metadata {
        self.0.metadata.as_deref().unwrap_or(&NO_METADATA)
    }
}

impl Principal for ApiKey {
    fn has_scope(&self, scope: &str) -> bool {
        self.0.scopes.contains(scope)
    }
}

impl PartialEq for ApiKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.id() == other.0.id()
    }
}

impl Eq for ApiKey {}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id())
            .field("label", &self.label())
            .field("scopes", self.scopes())
            .field("expires_at", &self.expires_at())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_fits_a_128_byte_allocation() {
        // Two `Arc` counters plus the record.
        assert!(
            16 + size_of::<KeyRecord>() <= 120,
            "{}",
            size_of::<KeyRecord>()
        );
    }

    #[test]
    fn packed_times_round_trip_around_the_epoch() {
        let epoch = SystemTime::UNIX_EPOCH;
        for time in [
            epoch,
            epoch + Duration::new(1_790_000_000, 123_456_789),
            epoch - Duration::new(5, 0),
            epoch - Duration::new(5, 250_000_000),
        ] {
            assert_eq!(PackedTime::from(Some(time)).get(), Some(time));
        }
        assert_eq!(PackedTime::from(None).get(), None);
    }

    #[test]
    fn id_and_label_share_one_string() {
        let record = KeyRecord::new(
            TokenDigest::of("t"),
            "key_1",
            "Staging Server",
            ScopeSet::empty(),
            SystemTime::UNIX_EPOCH,
            None,
            None,
        );
        assert_eq!((record.id(), record.label()), ("key_1", "Staging Server"));
    }
}
