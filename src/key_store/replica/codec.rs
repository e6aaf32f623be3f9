//! The stored form of one key record in a shared source, for every
//! backend: a compact, versioned line of text, filed under the key's
//! digest (which it does not repeat).
//!
//! # Version 2 (written since 0.1)
//!
//! `tba2`, then 12 fields, every one after a tab (`\t`), in this order:
//!
//! | # | field | form |
//! |---|---|---|
//! | 1 | id | the id rule of the keys file |
//! | 2 | label | the label rule (no control characters, so no tab) |
//! | 3 | scopes | space-separated scope names, empty for none |
//! | 4 | created at | RFC 3339 |
//! | 5 | expires at | RFC 3339, empty: never |
//! | 6 | revoked | `r` when revoked, empty otherwise |
//! | 7 | hint | the hint rule, empty: none |
//! | 8 | last used at | RFC 3339, empty: never |
//! | 9 | rate limit | `REQUESTS/SECONDS`, empty: none |
//! | 10 | rotated from | a key id, empty: none |
//! | 11 | rotated to | a key id, empty: none |
//! | 12 | metadata | a JSON object of strings, empty: none |
//!
//! A JSON object never holds a raw tab (JSON escapes control characters),
//! so the last field needs no escaping either.
//!
//! # Version 3 (written since 0.2 for keys with an owner, an allowlist or
//! credits; others are still written as version 2, which older replicas
//! read)
//!
//! `tba3`, the 12 fields of version 2, then:
//!
//! | # | field | form |
//! |---|---|---|
//! | 13 | owner | the id rule, empty: none |
//! | 14 | allowed IPs | address ranges separated by `,`, empty: none |
//! | 15 | credits | the keys file's `credits` object as JSON, empty: none |
//! | 16 | owner limits | the keys file's `owner_limits` object as JSON, empty: none |
//!
//! # Version 1
//!
//! A keys-file entry as one JSON object, `hash` included (which must be
//! the digest it is filed under). Still read, never written: a store
//! written by an older version loads as it is, and each key moves to
//! version 2 when it is next written.
//!
//! Anything else, a field out of its rule, or a field count other than 12
//! is unreadable: the replica leaves that key out (it fails, the safe
//! side).

use std::fmt::Write as _;

use crate::key_policy::AddressRange;
use crate::key_store::entry::is_valid_id;
use crate::key_store::keys_file::{self, credits_json, parse_entry};
use crate::key_store::{KeyEntry, TokenDigest, rfc3339};
use crate::rate_limit::Quota;
use crate::scope::ScopeSet;

/// The tag of version 2.
const V2: &str = "tba2";

/// Fields after the tag.
const V2_FIELDS: usize = 12;

/// The tag of version 3.
const V3: &str = "tba3";

/// Fields after the tag.
const V3_FIELDS: usize = 16;

/// The stored form of `entry` (version 2).
pub(crate) fn encode(entry: &KeyEntry) -> String {
    let v3 = entry.owner().is_some()
        || !entry.allowed_ips().is_empty()
        || entry.credits().is_some()
        || !entry.owner_limits().is_empty();
    let mut text = String::with_capacity(96 + entry.label().len());
    let time = |text: &mut String, time: Option<std::time::SystemTime>| {
        text.push('\t');
        if let Some(time) = time {
            text.push_str(&rfc3339::format(time));
        }
    };
    text.push_str(if v3 { V3 } else { V2 });
    text.push('\t');
    text.push_str(entry.id());
    text.push('\t');
    text.push_str(entry.label());
    text.push('\t');
    for (index, scope) in entry.scopes().iter().enumerate() {
        if index > 0 {
            text.push(' ');
        }
        text.push_str(scope);
    }
    time(&mut text, Some(entry.created_at()));
    time(&mut text, entry.expires_at());
    text.push('\t');
    if entry.is_revoked() {
        text.push('r');
    }
    text.push('\t');
    text.push_str(entry.hint().unwrap_or_default());
    time(&mut text, entry.last_used_at());
    text.push('\t');
    if let Some(quota) = entry.rate_limit() {
        let _ = write!(text, "{}/{}", quota.requests(), quota.per_seconds());
    }
    text.push('\t');
    text.push_str(entry.rotated_from().unwrap_or_default());
    text.push('\t');
    text.push_str(entry.rotated_to().unwrap_or_default());
    text.push('\t');
    if !entry.metadata().is_empty() {
        // A map of strings always serializes.
        text.push_str(&serde_json::to_string(entry.metadata()).unwrap_or_default());
    }
    if v3 {
        text.push('\t');
        text.push_str(entry.owner().unwrap_or_default());
        text.push('\t');
        for (index, range) in entry.allowed_ips().iter().enumerate() {
            if index > 0 {
                text.push(',');
            }
            let _ = write!(text, "{range}");
        }
        text.push('\t');
        if let Some(credits) = entry.credits() {
            text.push_str(&credits_json(&credits).to_string());
        }
        text.push('\t');
        if !entry.owner_limits().is_empty() {
            text.push_str(&keys_file::stored_owner_limits_json(&entry.owner_limits()).to_string());
        }
    }
    text
}

/// The entry stored as `text` under `digest` (64 lowercase hex digits),
/// either version; why not, naming the field, never a value.
pub(crate) fn decode(digest: &str, text: &str) -> Result<KeyEntry, String> {
    let Some(filed) = TokenDigest::from_hex(digest) else {
        return Err("the record is not filed under a hash".to_owned());
    };
    if text.starts_with('{') {
        let entry = parse_entry(text).map_err(|e| e.to_string())?;
        if *entry.digest() != filed {
            return Err("the record's hash is not its field".to_owned());
        }
        return Ok(entry);
    }
    let mut fields = text.split('\t');
    let v3 = match fields.next() {
        Some(V2) => false,
        Some(V3) => true,
        _ => {
            return Err(
                "the record is neither version 1 (JSON), version 2 (tba2) nor version 3 (tba3)"
                    .to_owned(),
            );
        }
    };
    let mut next = || fields.next().ok_or("the record has too few fields");
    let (id, label, scopes) = (next()?, next()?, next()?);
    let (created_at, expires_at, revoked, hint) = (next()?, next()?, next()?, next()?);
    let (last_used_at, rate_limit, rotated_from, rotated_to) = (next()?, next()?, next()?, next()?);
    let metadata = next()?;
    let (owner, allowed_ips, credits, owner_limits) = if v3 {
        (next()?, next()?, next()?, next()?)
    } else {
        ("", "", "", "")
    };
    if fields.next().is_some() {
        let most = if v3 { V3_FIELDS } else { V2_FIELDS };
        return Err(format!("the record has more than {most} fields"));
    }
    let scopes = if scopes.is_empty() {
        ScopeSet::empty()
    } else {
        ScopeSet::new(scopes.split(' ')).map_err(|_| "the record's scopes are invalid")?
    };
    let time = |name: &str, text: &str| {
        rfc3339::parse(text).ok_or_else(|| format!("the record's {name} is not a timestamp"))
    };
    let optional_time =
        |name: &str, text: &str| (!text.is_empty()).then(|| time(name, text)).transpose();
    let mut entry = KeyEntry::new(id, label, filed)
        .with_scopes(scopes)
        .with_created_at(time("creation time", created_at)?)
        .with_revoked(match revoked {
            "" => false,
            "r" => true,
            _ => return Err("the record's revoked flag is neither empty nor r".to_owned()),
        })
        .with_last_used_at(optional_time("last use", last_used_at)?);
    if let Some(expires_at) = optional_time("expiry", expires_at)? {
        entry = entry.with_expiry(expires_at);
    }
    if !hint.is_empty() {
        entry = entry.with_hint(hint);
    }
    if !rate_limit.is_empty() {
        entry = entry.with_rate_limit(Some(quota(rate_limit)?));
    }
    for (text, with, name) in [
        (
            rotated_from,
            KeyEntry::with_rotated_from as fn(KeyEntry, String) -> KeyEntry,
            "rotated-from id",
        ),
        (rotated_to, KeyEntry::with_rotated_to, "rotated-to id"),
    ] {
        if !text.is_empty() {
            if !is_valid_id(text) {
                return Err(format!("the record's {name} is invalid"));
            }
            entry = with(entry, text.to_owned());
        }
    }
    if !metadata.is_empty() {
        let metadata: std::collections::BTreeMap<String, String> =
            serde_json::from_str(metadata)
                .map_err(|_| "the record's metadata is not a JSON object of strings")?;
        for (key, value) in metadata {
            entry = entry.with_metadata(key, value);
        }
    }
    if !owner.is_empty() {
        entry = entry.with_owner(Some(owner.to_owned()));
    }
    if !allowed_ips.is_empty() {
        let ranges: Result<Vec<AddressRange>, _> = allowed_ips.split(',').map(str::parse).collect();
        entry = entry.with_allowed_ips(
            ranges.map_err(|_| "the record's allowed IPs are invalid".to_owned())?,
        );
    }
    if !credits.is_empty() {
        let credits = serde_json::from_str(credits)
            .ok()
            .and_then(|value| keys_file::parse_credits(&value).ok())
            .ok_or_else(|| "the record's credits are invalid".to_owned())?;
        entry = entry.with_credits(Some(credits));
    }
    if !owner_limits.is_empty() {
        let limits = serde_json::from_str(owner_limits)
            .ok()
            .and_then(|value| keys_file::parse_owner_limits(&value).ok())
            .ok_or_else(|| "the record's owner limits are invalid".to_owned())?;
        entry = entry.with_owner_limits(limits);
    }
    entry.validate().map_err(|_| {
        "the record's id, label, hint, owner, allowed IPs or metadata break their rule".to_owned()
    })?;
    Ok(entry)
}

/// `REQUESTS/SECONDS`.
fn quota(text: &str) -> Result<Quota, String> {
    let unreadable = || "the record's rate limit is not REQUESTS/SECONDS".to_owned();
    let (requests, seconds) = text.split_once('/').ok_or_else(unreadable)?;
    let number = |text: &str| {
        // Digits only: `parse` would take a leading `+`.
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<u32>().ok())
            .flatten()
    };
    let (Some(requests), Some(seconds)) = (number(requests), number(seconds)) else {
        return Err(unreadable());
    };
    Quota::new(requests, seconds).map_err(|_| unreadable())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::key_store::keys_file::entry_json;

    fn digest(n: u8) -> TokenDigest {
        TokenDigest::of(&format!("sk_codec_{n}"))
    }

    fn full() -> KeyEntry {
        KeyEntry::new("key_full", "Production Dialer — ünïcode", digest(1))
            .with_scopes(ScopeSet::new(["calls:read", "calls:write"]).unwrap())
            .with_created_at(SystemTime::UNIX_EPOCH + Duration::new(1_790_000_000, 123_456_789))
            .with_expiry(SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000))
            .with_revoked(true)
            .with_hint("ais_0j8g")
            .with_last_used_at(Some(
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_020),
            ))
            .with_rate_limit(Some(Quota::new(100, 60).unwrap()))
            .with_rotated_from("key_old")
            .with_rotated_to("key_new")
            .with_metadata("tab", "a\tb")
            .with_metadata("owner", "cus_123")
    }

    #[test]
    fn every_field_round_trips_and_the_digest_is_not_repeated() {
        let plain = KeyEntry::new("key_plain", "Staging Server", digest(2));
        for entry in [full(), plain] {
            let text = encode(&entry);
            assert!(text.starts_with("tba2\t"), "{text}");
            assert!(!text.contains(&entry.digest().to_hex()));
            assert_eq!(text.split('\t').count(), 1 + V2_FIELDS, "{text}");
            assert_eq!(decode(&entry.digest().to_hex(), &text).unwrap(), entry);
        }
    }

    #[test]
    fn keys_with_an_owner_an_allowlist_or_credits_are_version_3_and_round_trip() {
        use crate::key_policy::{Credits, Refill};
        let entry = full()
            .with_owner(Some("cus_123".to_owned()))
            .with_allowed_ips([
                "203.0.113.0/24".parse().unwrap(),
                "2001:db8::1".parse().unwrap(),
            ])
            .with_credits(Some(
                Credits::new(42)
                    .with_refill(Refill::new(100, 3_600).unwrap())
                    .with_refilled_at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)),
            ))
            .with_owner_limits(
                crate::key_policy::OwnerLimits::new()
                    .with_rate_limit(Some(Quota::new(1_000, 60).unwrap()))
                    .with_credits(Some(Credits::new(9))),
            );
        let text = encode(&entry);
        assert!(text.starts_with("tba3\t"), "{text}");
        assert_eq!(text.split('\t').count(), 1 + V3_FIELDS, "{text}");
        assert_eq!(decode(&entry.digest().to_hex(), &text).unwrap(), entry);
        // Each field alone makes version 3; none keeps version 2.
        for one in [
            full().with_owner(Some("cus_1".to_owned())),
            full().with_allowed_ips(["192.0.2.1".parse().unwrap()]),
            full().with_credits(Some(Credits::new(0))),
            full()
                .with_owner(Some("cus_1".to_owned()))
                .with_owner_limits(
                    crate::key_policy::OwnerLimits::new().with_credits(Some(Credits::new(1))),
                ),
        ] {
            let text = encode(&one);
            assert!(text.starts_with("tba3\t"), "{text}");
            assert_eq!(decode(&one.digest().to_hex(), &text).unwrap(), one);
        }
        let with_field = |index: usize, value: &str| {
            let mut fields: Vec<&str> = text.split('\t').collect();
            fields[index] = value;
            fields.join("\t")
        };
        let hex = entry.digest().to_hex();
        for (bad, expected) in [
            (with_field(13, "cus 1"), "owner"),
            (with_field(14, "10.0.0.1/8"), "allowed IPs"),
            (with_field(14, "203.0.113.0/24,"), "allowed IPs"),
            (with_field(15, "{\"remaining\":-1}"), "credits"),
            (with_field(15, "7"), "credits"),
            (with_field(16, "{\"rate_limit\":5}"), "owner limits"),
            (format!("{text}\textra"), "more than 16"),
        ] {
            let problem = decode(&hex, &bad).unwrap_err();
            assert!(problem.contains(expected), "{bad:?}: {problem}");
            assert!(!problem.contains("cus_123"));
        }
    }

    #[test]
    fn version_1_json_is_still_read_and_checked_against_its_field() {
        let entry = full();
        let json = entry_json(&entry);
        assert_eq!(decode(&entry.digest().to_hex(), &json).unwrap(), entry);
        let problem = decode(&digest(9).to_hex(), &json).unwrap_err();
        assert!(problem.contains("hash is not its field"), "{problem}");
    }

    #[test]
    fn a_broken_record_is_refused_naming_the_field_not_the_value() {
        let good = encode(&full());
        let hex = digest(1).to_hex();
        let with_field = |index: usize, value: &str| {
            let mut fields: Vec<&str> = good.split('\t').collect();
            fields[index] = value;
            fields.join("\t")
        };
        let cases = [
            ("", "neither version"),
            ("tba4\tx", "neither version"),
            ("tba3\tx", "too few fields"),
            ("tba2\tkey\tlabel", "too few fields"),
            (&format!("{good}\textra"), "more than 12"),
            (&with_field(1, "bad id"), "break their rule"),
            (&with_field(2, " "), "break their rule"),
            (&with_field(3, "a  b"), "scopes"),
            (&with_field(4, "yesterday"), "creation time"),
            (&with_field(5, "2027-13-01T00:00:00Z"), "expiry"),
            (&with_field(6, "true"), "revoked flag"),
            (&with_field(7, "a-b"), "break their rule"),
            (&with_field(8, "soon"), "last use"),
            (&with_field(9, "100"), "rate limit"),
            (&with_field(9, "+1/60"), "rate limit"),
            (&with_field(9, "0/60"), "rate limit"),
            (&with_field(10, "a b"), "rotated-from"),
            (&with_field(11, ".."), "rotated-to"),
            (&with_field(12, "{\"a\":1}"), "metadata"),
            (&with_field(12, "[]"), "metadata"),
        ];
        for (text, expected) in cases {
            let problem = decode(&hex, text).unwrap_err();
            assert!(problem.contains(expected), "{text:?}: {problem}");
            assert!(!problem.contains("cus_123") && !problem.contains("Dialer"));
        }
        let problem = decode("not hex", &good).unwrap_err();
        assert!(problem.contains("not filed under a hash"), "{problem}");
    }
}
