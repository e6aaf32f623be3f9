//! A key as given to (and read back from) the store.

use std::time::SystemTime;

use super::record::{KeyRecord, Metadata};
use super::{KeyStoreError, TokenDigest};
use crate::key_policy::{AddressRange, Credits, KeyPolicies, MAX_ALLOWED_IPS, OwnerLimits};
use crate::rate_limit::Quota;
use crate::scope::ScopeSet;

/// A key to insert into a [`KeyStore`](crate::KeyStore): id, label, the
/// token's digest, scopes, optional expiry and metadata.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use tower_bearer_auth::{KeyEntry, ScopeSet};
/// use tower_bearer_auth::key_store::TokenDigest;
///
/// let entry = KeyEntry::new("key_staging", "Staging Server", TokenDigest::of("sk_..."))
///     .with_scopes(ScopeSet::parse("profile:read calls:write")?)
///     .with_expiry(SystemTime::now() + Duration::from_secs(90 * 86_400))
///     .with_metadata("owner", "ops@example.com");
/// # Ok::<(), tower_bearer_auth::scope::InvalidScope>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    pub(crate) id: String,
    pub(crate) label: String,
    pub(crate) digest: TokenDigest,
    pub(crate) scopes: ScopeSet,
    pub(crate) created_at: SystemTime,
    pub(crate) expires_at: Option<SystemTime>,
    pub(crate) metadata: Metadata,
    pub(crate) revoked: bool,
    pub(crate) hint: Option<String>,
    pub(crate) last_used_at: Option<SystemTime>,
    pub(crate) rate_limit: Option<Quota>,
    pub(crate) rotated_from: Option<String>,
    pub(crate) rotated_to: Option<String>,
    pub(crate) owner: Option<String>,
    pub(crate) allowed_ips: Vec<AddressRange>,
    pub(crate) credits: Option<Credits>,
    pub(crate) owner_limits: OwnerLimits,
}

impl KeyEntry {
    /// A key with no scopes, created now, never expiring.
    pub fn new(id: impl Into<String>, label: impl Into<String>, digest: TokenDigest) -> Self {
        Self {
            id: id.into(),
            label: label.into(),
            digest,
            scopes: ScopeSet::empty(),
            created_at: SystemTime::now(),
            expires_at: None,
            metadata: Metadata::new(),
            revoked: false,
            hint: None,
            last_used_at: None,
            rate_limit: None,
            rotated_from: None,
            rotated_to: None,
            owner: None,
            allowed_ips: Vec::new(),
            credits: None,
            owner_limits: OwnerLimits::new(),
        }
    }

    /// The limits of the key's owner that the key carries (the admin API
    /// writes them to every key of the owner): shared by the owner's keys
    /// without their own. Needs an owner.
    #[must_use]
    pub const fn with_owner_limits(mut self, limits: OwnerLimits) -> Self {
        self.owner_limits = limits;
        self
    }

    /// The owner's limits the key carries (read from a store: the owner's
    /// live balance).
    #[must_use]
    pub const fn owner_limits(&self) -> OwnerLimits {
        self.owner_limits
    }

    /// The customer the key belongs to, e.g. `cus_123` (1 to 128
    /// characters from `A-Z a-z 0-9 _ - . :`, as an id); `None` removes it.
    #[must_use]
    pub fn with_owner(mut self, owner: Option<String>) -> Self {
        self.owner = owner;
        self
    }

    /// The address ranges the key may be used from (at most
    /// [`MAX_ALLOWED_IPS`]); empty: anywhere.
    #[must_use]
    pub fn with_allowed_ips(mut self, ranges: impl IntoIterator<Item = AddressRange>) -> Self {
        self.allowed_ips = ranges.into_iter().collect();
        self
    }

    /// The key's usage credits; `None`: unmetered.
    #[must_use]
    pub const fn with_credits(mut self, credits: Option<Credits>) -> Self {
        self.credits = credits;
        self
    }

    /// The key's owner, if it has one.
    #[must_use]
    pub fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// The address ranges the key may be used from (empty: anywhere).
    #[must_use]
    pub fn allowed_ips(&self) -> &[AddressRange] {
        &self.allowed_ips
    }

    /// The key's usage credits (read from a store: the live balance).
    #[must_use]
    pub const fn credits(&self) -> Option<Credits> {
        self.credits
    }

    /// Replaces the metadata.
    #[must_use]
    pub fn with_metadata_map(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// The key this one was rotated from (its predecessor's id).
    #[must_use]
    pub fn with_rotated_from(mut self, id: impl Into<String>) -> Self {
        self.rotated_from = Some(id.into());
        self
    }

    /// The key this one was rotated to (its successor's id): a key is
    /// rotated once, and this says to which.
    #[must_use]
    pub fn with_rotated_to(mut self, id: impl Into<String>) -> Self {
        self.rotated_to = Some(id.into());
        self
    }

    /// The key's own rate limit (the rate-limit layer's default applies to
    /// keys without one); `None` removes it.
    #[must_use]
    pub const fn with_rate_limit(mut self, quota: Option<Quota>) -> Self {
        self.rate_limit = quota;
        self
    }

    /// Another label.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// The scopes the key grants.
    #[must_use]
    pub fn with_scopes(mut self, scopes: ScopeSet) -> Self {
        self.scopes = scopes;
        self
    }

    /// When the key was created (default: when the entry was made).
    #[must_use]
    pub fn with_created_at(mut self, created_at: SystemTime) -> Self {
        self.created_at = created_at;
        self
    }

    /// When the key stops working.
    #[must_use]
    pub fn with_expiry(mut self, expires_at: SystemTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Removes the expiry: the key never expires.
    #[must_use]
    pub fn without_expiry(mut self) -> Self {
        self.expires_at = None;
        self
    }

    /// The hint shown in key lists so that people recognise a key: its
    /// prefix and first characters, e.g. `ais_0j8g` (see
    /// [`GeneratedKey::hint`](super::GeneratedKey::hint)). 1 to 32
    /// characters from `A-Z a-z 0-9 _`.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// When the key was last used (kept to the minute).
    #[must_use]
    pub fn with_last_used_at(mut self, last_used_at: Option<SystemTime>) -> Self {
        self.last_used_at = last_used_at;
        self
    }

    /// Adds one metadata entry.
    #[must_use]
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Marks the key revoked: the store keeps it (so that a keys file
    /// round-trips) but never accepts it.
    #[must_use]
    pub fn with_revoked(mut self, revoked: bool) -> Self {
        self.revoked = revoked;
        self
    }

    /// The key's id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key's label.
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The token's digest.
    #[must_use]
    pub const fn digest(&self) -> &TokenDigest {
        &self.digest
    }

    /// The scopes.
    #[must_use]
    pub const fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// When the key was created.
    #[must_use]
    pub const fn created_at(&self) -> SystemTime {
        self.created_at
    }

    /// When the key expires, if it does.
    #[must_use]
    pub const fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The metadata.
    #[must_use]
    pub const fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Whether the key is revoked.
    #[must_use]
    pub const fn is_revoked(&self) -> bool {
        self.revoked
    }

    /// The hint, if the key has one.
    #[must_use]
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// When the key was last used, to the minute, if it was.
    #[must_use]
    pub const fn last_used_at(&self) -> Option<SystemTime> {
        self.last_used_at
    }

    /// The key's own rate limit, if it has one.
    #[must_use]
    pub const fn rate_limit(&self) -> Option<Quota> {
        self.rate_limit
    }

    /// The id of the key this one was rotated from, if it was.
    #[must_use]
    pub fn rotated_from(&self) -> Option<&str> {
        self.rotated_from.as_deref()
    }

    /// The id of the key this one was rotated to, if it was.
    #[must_use]
    pub fn rotated_to(&self) -> Option<&str> {
        self.rotated_to.as_deref()
    }

    pub(crate) fn from_record(record: &KeyRecord, revoked: bool) -> Self {
        Self {
            id: record.id().to_owned(),
            label: record.label().to_owned(),
            digest: record.digest,
            scopes: ScopeSet::clone(&record.scopes),
            created_at: record.created_at(),
            expires_at: record.expires_at(),
            metadata: record.metadata().cloned().unwrap_or_default(),
            revoked,
            hint: record.hint().map(str::to_owned),
            last_used_at: record.last_used_at(),
            rate_limit: record.rate_limit,
            rotated_from: record.rotated_from().map(str::to_owned),
            rotated_to: record.rotated_to().map(str::to_owned),
            owner: record.owner().map(str::to_owned),
            allowed_ips: record
                .key_policies()
                .map(|policies| policies.allowed_ips().to_vec())
                .unwrap_or_default(),
            credits: record.key_policies().and_then(KeyPolicies::credits),
            owner_limits: record
                .key_policies()
                .map(KeyPolicies::owner_limits)
                .unwrap_or_default(),
        }
    }

    /// Checks the entry on its own: the id and the ids of its lineage
    /// ([`ID_RULE`]), the label ([`LABEL_RULE`]) and the hint
    /// ([`HINT_RULE`]). The one place these rules are decided: the keys
    /// file, the admin API and the shared store all call it.
    pub(crate) fn validate(&self) -> Result<(), KeyStoreError> {
        for id in [
            Some(&self.id),
            self.rotated_from.as_ref(),
            self.rotated_to.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if !is_valid_id(id) {
                return Err(KeyStoreError::InvalidId {
                    id: id.escape_debug().to_string(),
                });
            }
        }
        if !is_valid_label(&self.label) {
            return Err(KeyStoreError::InvalidLabel {
                id: self.id.clone(),
            });
        }
        if self
            .hint
            .as_deref()
            .is_some_and(|hint| !is_valid_hint(hint))
        {
            return Err(KeyStoreError::InvalidHint {
                id: self.id.clone(),
            });
        }
        if self
            .owner
            .as_deref()
            .is_some_and(|owner| !is_valid_id(owner))
            || (self.owner.is_none() && !self.owner_limits.is_empty())
        {
            return Err(KeyStoreError::InvalidOwner {
                id: self.id.clone(),
            });
        }
        if self.allowed_ips.len() > MAX_ALLOWED_IPS {
            return Err(KeyStoreError::TooManyAllowedIps {
                id: self.id.clone(),
            });
        }
        if !is_valid_metadata(&self.metadata) {
            return Err(KeyStoreError::MetadataTooLarge {
                id: self.id.clone(),
            });
        }
        Ok(())
    }
}

/// A key id's rule, as error messages state it.
pub(crate) const ID_RULE: &str =
    "1 to 128 characters from A-Z a-z 0-9 _ - . : (but not \".\" or \"..\")";

/// A label's rule, as error messages state it.
pub(crate) const LABEL_RULE: &str =
    "1 to 128 characters, not only spaces, without control characters";

/// The metadata's rule, as error messages state it.
pub(crate) const METADATA_RULE: &str =
    "at most 16 entries of strings, 1024 bytes of names and values in all";

/// Whether `metadata` is within [`METADATA_RULE`].
pub(crate) fn is_valid_metadata(metadata: &Metadata) -> bool {
    metadata.len() <= 16
        && metadata
            .iter()
            .map(|(name, value)| name.len() + value.len())
            .sum::<usize>()
            <= 1024
}

/// A hint's rule, as error messages state it.
pub(crate) const HINT_RULE: &str = "1 to 32 characters from A-Z a-z 0-9 _";

/// The longest label, in characters.
const MAX_LABEL_CHARS: usize = 128;

/// Whether `hint` is a valid hint ([`HINT_RULE`]).
pub(crate) fn is_valid_hint(hint: &str) -> bool {
    (1..=32).contains(&hint.len()) && hint.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether `label` is a valid label ([`LABEL_RULE`]).
pub(crate) fn is_valid_label(label: &str) -> bool {
    !label.trim().is_empty()
        && label.chars().nth(MAX_LABEL_CHARS).is_none()
        && !label.chars().any(char::is_control)
}

/// Whether `id` is a valid key id ([`ID_RULE`]). `.` and `..` are not:
/// as a URL path segment (`/admin/v1/keys/{id}`) clients and proxies
/// rewrite them, so such a key could not be managed.
pub(crate) fn is_valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_each_for_ids_labels_and_hints() {
        for id in ["key_a", "a", "a:b", "...", "a.b", &"x".repeat(128)] {
            assert!(is_valid_id(id), "{id}");
        }
        for id in ["", ".", "..", "a/b", "a b", "é", &"x".repeat(129)] {
            assert!(!is_valid_id(id), "{id}");
        }
        for label in ["Staging Server", "x", &"é".repeat(128)] {
            assert!(is_valid_label(label), "{label}");
        }
        for label in ["", "   ", "a\nb", "tab\t", &"x".repeat(129)] {
            assert!(!is_valid_label(label), "{label:?}");
        }
        assert!(is_valid_hint("ais_0j8g"));
        assert!(!is_valid_hint(""));
        assert!(!is_valid_hint("a-b"));
    }
}
