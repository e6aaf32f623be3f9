//! The stored form of a key: one immutable, compact record per key, shared
//! by every index that holds it and by every [`ApiKey`](super::ApiKey)
//! handed to handlers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use super::{KeyEntry, TokenDigest};
use crate::key_policy::{CreditAccount, KeyPolicies, OwnerShare};
use crate::rate_limit::Quota;
use crate::scope::ScopeSet;

/// Free-form key metadata (owner, environment...).
pub type Metadata = BTreeMap<String, String>;

/// One stored key. Immutable once built but for the minute it was last
/// used; shared by the index, the catalog and every [`ApiKey`] handed to
/// handlers.
///
/// Laid out to fit a 144-byte allocation (with the `Arc` counts): the id,
/// label and hint share one string, the scope set is one pointer to an
/// interned set, and the timestamps are packed.
pub(crate) struct KeyRecord {
    pub(crate) digest: TokenDigest,
    /// The id, the label, then the hint.
    text: Box<str>,
    pub(crate) scopes: Arc<ScopeSet>,
    /// Metadata and rotation lineage, which few keys have: boxed, so that
    /// a plain key pays one pointer for both.
    extra: Option<Box<Extra>>,
    times: PackedTimes,
    /// Minutes since the Unix epoch when a request last used the key; 0:
    /// never. Written on the request path, without a lock, at most once a
    /// minute.
    last_used: AtomicU32,
    /// How often the key was used, per day and outcome, not drained yet.
    pub(crate) usage: super::usage::KeyUsage,
    /// The key's own rate limit.
    pub(crate) rate_limit: Option<Quota>,
    id_len: u8,
    hint_len: u8,
}

/// What few keys have: metadata, the keys it was rotated from or to, its
/// owner, and the policies the layer enforces (allowlist, credits).
#[derive(Debug, Default, PartialEq)]
struct Extra {
    metadata: Metadata,
    rotated_from: Option<String>,
    rotated_to: Option<String>,
    owner: Option<String>,
    policies: Option<KeyPolicies>,
}

impl KeyRecord {
    /// The record of a checked entry (ids are at most 128 bytes, hints 32,
    /// labels 256: the lengths fit), with its interned scope set. Its
    /// credits, if any, start a live balance from the entry's.
    #[cfg(test)]
    pub(crate) fn new(entry: KeyEntry, scopes: Arc<ScopeSet>) -> Self {
        Self::with_owner_account(entry, scopes, None)
    }

    /// [`new`](Self::new), sharing `owner_credits` (the account of the
    /// owner's credits the catalog holds) when the entry carries those very
    /// credits.
    pub(crate) fn with_owner_account(
        mut entry: KeyEntry,
        scopes: Arc<ScopeSet>,
        owner_credits: Option<Arc<CreditAccount>>,
    ) -> Self {
        let account = entry
            .credits
            .map(|credits| Arc::new(CreditAccount::new(credits)));
        let limits = entry.owner_limits;
        let share = entry
            .owner
            .as_deref()
            .filter(|_| !limits.is_empty())
            .map(|name| OwnerShare {
                name: format!("@{name}").into_boxed_str(),
                limits,
                credits: limits.credits().map(|credits| {
                    owner_credits
                        .filter(|account| account.was_given(&credits))
                        .unwrap_or_else(|| Arc::new(CreditAccount::new(credits)))
                }),
            });
        let policies = KeyPolicies::of(&entry.allowed_ips, account, share);
        let owner = entry.owner.take();
        let hint = entry.hint.as_deref().unwrap_or_default();
        let mut text = String::with_capacity(entry.id.len() + entry.label.len() + hint.len());
        text.push_str(&entry.id);
        text.push_str(&entry.label);
        text.push_str(hint);
        Self {
            digest: entry.digest,
            text: text.into_boxed_str(),
            scopes,
            extra: (!entry.metadata.is_empty()
                || entry.rotated_from.is_some()
                || entry.rotated_to.is_some()
                || owner.is_some()
                || policies.is_some())
            .then(|| {
                Box::new(Extra {
                    metadata: entry.metadata,
                    rotated_from: entry.rotated_from,
                    rotated_to: entry.rotated_to,
                    owner,
                    policies,
                })
            }),
            times: PackedTimes::new(entry.created_at, entry.expires_at),
            last_used: AtomicU32::new(entry.last_used_at.map_or(0, minutes_since_epoch)),
            usage: super::usage::KeyUsage::default(),
            rate_limit: entry.rate_limit,
            id_len: u8::try_from(entry.id.len()).unwrap_or(u8::MAX),
            hint_len: u8::try_from(hint.len()).unwrap_or(0),
        }
    }

    pub(crate) fn id(&self) -> &str {
        self.text
            .get(..usize::from(self.id_len))
            .unwrap_or_default()
    }

    pub(crate) fn label(&self) -> &str {
        let end = self.text.len() - usize::from(self.hint_len);
        self.text
            .get(usize::from(self.id_len)..end)
            .unwrap_or_default()
    }

    pub(crate) fn hint(&self) -> Option<&str> {
        let start = self.text.len() - usize::from(self.hint_len);
        (self.hint_len > 0).then(|| self.text.get(start..).unwrap_or_default())
    }

    /// The metadata, if the key has any.
    pub(crate) fn metadata(&self) -> Option<&Metadata> {
        self.extra
            .as_deref()
            .map(|extra| &extra.metadata)
            .filter(|metadata| !metadata.is_empty())
    }

    /// The key's owner, if it has one.
    pub(crate) fn owner(&self) -> Option<&str> {
        self.extra.as_deref()?.owner.as_deref()
    }

    /// The key's allowlist and credits, if it has either.
    pub(crate) fn key_policies(&self) -> Option<&KeyPolicies> {
        self.extra.as_deref()?.policies.as_ref()
    }

    /// The id of the key this one was rotated from.
    pub(crate) fn rotated_from(&self) -> Option<&str> {
        self.extra.as_deref()?.rotated_from.as_deref()
    }

    /// The id of the key this one was rotated to.
    pub(crate) fn rotated_to(&self) -> Option<&str> {
        self.extra.as_deref()?.rotated_to.as_deref()
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

    /// Whether `entry` describes this record's key exactly (the last use
    /// aside, which only moves forward): a full load shares this record
    /// instead of building it again.
    #[cfg(feature = "replica")]
    pub(crate) fn is_same_key(&self, entry: &KeyEntry) -> bool {
        self.digest == entry.digest
            && self.id() == entry.id
            && self.label() == entry.label
            && self.hint() == entry.hint.as_deref()
            && *self.scopes == entry.scopes
            && self.created_at() == entry.created_at
            && self.expires_at() == entry.expires_at
            && self.rate_limit == entry.rate_limit
            && self.metadata().is_none_or(Metadata::is_empty) == entry.metadata.is_empty()
            && self.metadata().is_none_or(|held| *held == entry.metadata)
            && self.rotated_from() == entry.rotated_from.as_deref()
            && self.rotated_to() == entry.rotated_to.as_deref()
            && self.owner() == entry.owner.as_deref()
            && self
                .key_policies()
                .and_then(KeyPolicies::owner)
                .map_or_else(crate::key_policy::OwnerLimits::new, |owner| owner.limits)
                == entry.owner_limits
            && self
                .key_policies()
                .map_or(&[][..], KeyPolicies::allowed_ips)
                == entry.allowed_ips
            && match (
                self.key_policies().and_then(KeyPolicies::own_account),
                &entry.credits,
            ) {
                (None, None) => true,
                (Some(account), Some(credits)) => account.was_given(credits),
                _ => false,
            }
    }

    /// Notes a use in `minute` (minutes since the epoch): one relaxed load,
    /// and a write only when the minute changed. No lock, no allocation.
    pub(crate) fn touch(&self, minute: u32) {
        if self.last_used.load(Ordering::Relaxed) < minute {
            self.last_used.fetch_max(minute, Ordering::Relaxed);
        }
    }

    /// The minute the key was last used (0: never).
    pub(crate) fn last_used_minute(&self) -> u32 {
        self.last_used.load(Ordering::Relaxed)
    }

    /// When the key was last used, to the minute.
    pub(crate) fn last_used_at(&self) -> Option<SystemTime> {
        match self.last_used_minute() {
            0 => None,
            minute => Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(minute) * 60)),
        }
    }
}

/// Whole minutes from the Unix epoch to `time` (0 before it).
pub(crate) fn minutes_since_epoch(time: SystemTime) -> u32 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            u32::try_from(since.as_secs() / 60).unwrap_or(u32::MAX)
        })
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
    fn a_record_fits_a_144_byte_allocation() {
        // Two `Arc` counters plus the record, and glibc's 8-byte chunk
        // header: 128 bytes before the usage counters' pointer (16 bytes),
        // 144 since.
        assert!(
            16 + size_of::<KeyRecord>() <= 136,
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
            extra,
            times,
            last_used,
            usage: _,
            rate_limit,
            id_len,
            hint_len,
        } = &*a;
        assert_ne!(*digest, b.digest);
        assert_eq!(*text, b.text);
        assert_eq!(&**text, "key_sameSame Label", "only the id and the label");
        assert_eq!(*scopes, b.scopes);
        assert_eq!(*extra, b.extra);
        assert_eq!(
            (times.created(), times.expires()),
            (b.times.created(), b.times.expires())
        );
        assert_eq!(
            last_used.load(Ordering::Relaxed),
            b.last_used.load(Ordering::Relaxed)
        );
        assert_eq!((*id_len, *hint_len), (b.id_len, b.hint_len));
        assert_eq!(*rate_limit, b.rate_limit);
    }

    #[test]
    fn id_label_and_hint_share_one_string() {
        let entry = KeyEntry::new("key_1", "Staging Server", TokenDigest::of("t"));
        let record = KeyRecord::new(entry.clone(), Arc::new(ScopeSet::empty()));
        assert_eq!(
            (record.id(), record.label(), record.hint()),
            ("key_1", "Staging Server", None)
        );
        let record = KeyRecord::new(entry.with_hint("ais_0j8g"), Arc::new(ScopeSet::empty()));
        assert_eq!(
            (record.id(), record.label(), record.hint()),
            ("key_1", "Staging Server", Some("ais_0j8g"))
        );
    }

    #[test]
    fn last_use_is_kept_to_the_minute_and_never_goes_back() {
        let entry = KeyEntry::new("key_1", "Label", TokenDigest::of("t"));
        let record = KeyRecord::new(entry, Arc::new(ScopeSet::empty()));
        assert_eq!(record.last_used_at(), None);
        record.touch(29_500_000);
        record.touch(29_499_999);
        assert_eq!(record.last_used_minute(), 29_500_000);
        let at = record.last_used_at().expect("used");
        assert_eq!(minutes_since_epoch(at), 29_500_000);
        assert_eq!(
            at.duration_since(SystemTime::UNIX_EPOCH)
                .expect("after")
                .as_secs()
                % 60,
            0
        );
    }
}
