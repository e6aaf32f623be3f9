//! The stored form of a key: one immutable, compact record per key, shared
//! by every index that holds it and by every [`ApiKey`](super::ApiKey)
//! handed to handlers.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::TokenDigest;
use crate::scope::ScopeSet;

/// Free-form key metadata (owner, environment...).
pub type Metadata = BTreeMap<String, String>;

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
        match time {
            Some(time) => {
                let (secs, nanos) = unix_parts(time);
                Self { secs, nanos }
            }
            None => Self::NONE,
        }
    }
}

/// A time as whole seconds from the Unix epoch (negative before it, floored)
/// and the nanoseconds after that second.
pub(crate) fn unix_parts(time: SystemTime) -> (i64, u32) {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => (
            i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            after.subsec_nanos(),
        ),
        Err(before) => {
            let before = before.duration();
            let secs = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            match before.subsec_nanos() {
                0 => (-secs, 0),
                n => (-secs - 1, 1_000_000_000 - n),
            }
        }
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

    /// Two keys alike in everything but their tokens, one short and bare,
    /// one long and prefixed: their stored records differ in the digest
    /// alone. Nothing else of a token (its length, its prefix) is kept, so
    /// nothing else can reach a lookup. The destructuring is exhaustive: a
    /// new field fails to compile here until it is considered.
    #[test]
    fn a_record_holds_nothing_of_the_token_but_its_digest() {
        let long = format!("sk_live_{}", "x".repeat(200));
        let [a, b] = ["a", long.as_str()].map(|token| {
            let store = crate::key_store::KeyStore::new();
            store
                .insert(
                    crate::key_store::KeyEntry::new(
                        "key_same",
                        "Same Label",
                        TokenDigest::of(token),
                    )
                    .with_created_at(SystemTime::UNIX_EPOCH),
                )
                .expect("insert");
            store.get("key_same").expect("stored").0
        });
        let KeyRecord {
            digest,
            text,
            scopes,
            metadata,
            times,
            id_len,
        } = &*a;
        assert_ne!(*digest, b.digest);
        assert_eq!(*text, b.text);
        assert_eq!(&**text, "key_sameSame Label", "only the id and the label");
        assert_eq!(*scopes, b.scopes);
        assert_eq!(*metadata, b.metadata);
        assert_eq!(
            (times.created(), times.expires()),
            (b.times.created(), b.times.expires())
        );
        assert_eq!(*id_len, b.id_len);
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
