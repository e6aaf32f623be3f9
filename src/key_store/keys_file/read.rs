//! Reading a keys file entry by entry. Each entry is checked on its own
//! (shape, types, hash, timestamps, scopes, id, label), then the entries
//! against each other (no id or hash twice). Problems name the field, never
//! the value.

use std::cell::Cell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde_json::{Map, Value};

use super::KeysFileError;
use super::policies;
use crate::key_store::entry::{HINT_RULE, ID_RULE, LABEL_RULE, METADATA_RULE, is_valid_id};
use crate::key_store::{KeyEntry, KeyStoreError, TokenDigest, rfc3339};
use crate::rate_limit::Quota;
use crate::scope::ScopeSet;

const HASH_PREFIX: &str = "sha256:";

const RATE_LIMIT: &str =
    "must be {\"requests\": 1 or more, \"per_seconds\": 1 to 86400}, nothing else";

/// A whole number 0 or more: an integer, or a number whose fraction is
/// zero (`5.0`: JSON, and JSON Schema, call it an integer too) up to 2^53,
/// where a float is still exact.
pub(crate) fn whole_number(value: &Value) -> Option<u64> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    value.as_u64().or_else(|| {
        let float = value.as_f64()?;
        // In range and whole: the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        ((0.0..=EXACT).contains(&float) && float.fract() == 0.0).then_some(float as u64)
    })
}

/// `{"requests": N, "per_seconds": S}`, exactly.
pub(crate) fn quota(value: &Value) -> Option<Quota> {
    let object = value.as_object()?;
    if object.len() != 2 {
        return None;
    }
    let number = |name: &str| {
        object
            .get(name)
            .and_then(whole_number)
            .and_then(|n| u32::try_from(n).ok())
    };
    Quota::new(number("requests")?, number("per_seconds")?).ok()
}

/// The fields an entry may have.
const FIELDS: [&str; 17] = [
    "id",
    "label",
    "hash",
    "scopes",
    "created_at",
    "expires_at",
    "revoked",
    "metadata",
    "hint",
    "last_used_at",
    "rate_limit",
    "rotated_from",
    "rotated_to",
    "owner",
    "allowed_ips",
    "credits",
    "owner_limits",
];

/// One result per entry, in file order; `Err` for the file as a whole when
/// it is not JSON or not `{"keys": [...]}`. The file is read entry by
/// entry: one entry's JSON value at a time, never the whole document as a
/// `serde_json::Value` (which took about seven times the file's size).
pub(super) fn entries(json: &str) -> Result<Vec<Result<KeyEntry, KeysFileError>>, KeysFileError> {
    let mut results = Vec::new();
    for_each(json, &mut |result| results.push(result))?;
    refuse_repeats(&mut results);
    Ok(results)
}

/// Hands each entry's result to `sink`, in file order, one at a time (the
/// entries are never all held); `Err` for the file as a whole, as
/// [`entries`]. Entries are not checked against each other here.
pub(super) fn for_each(
    json: &str,
    sink: &mut dyn FnMut(Result<KeyEntry, KeysFileError>),
) -> Result<(), KeysFileError> {
    use serde::de::DeserializeSeed;

    let shape = Cell::new(None);
    let mut reader = serde_json::Deserializer::from_str(json);
    let read = FileSeed {
        shape: &shape,
        sink,
    }
    .deserialize(&mut reader)
    .and_then(|()| reader.end());
    match (read, shape.take()) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(problem)) => Err(KeysFileError::whole(problem)),
        (Err(error), None) if error.classify() == serde_json::error::Category::Data => Err(
            KeysFileError::whole("the file must be a JSON object {\"keys\": [...]}"),
        ),
        (Err(error), None) => Err(KeysFileError::syntax(&error)),
    }
}

/// Reads `{"keys": [...]}`, each entry as it comes; a wrong shape leaves
/// its message in `shape`.
struct FileSeed<'a> {
    shape: &'a Cell<Option<String>>,
    sink: &'a mut dyn FnMut(Result<KeyEntry, KeysFileError>),
}

impl<'de> serde::de::DeserializeSeed<'de> for FileSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for FileSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a keys file, {\"keys\": [...]}")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let wrong = |problem: String| {
            self.shape.set(Some(problem));
            serde::de::Error::custom("not a keys file")
        };
        let mut seen = false;
        while let Some(name) = map.next_key::<String>()? {
            if name != "keys" {
                return Err(wrong(format!("{} besides \"keys\"", unknown_field(&name))));
            }
            if seen {
                return Err(wrong("the file has \"keys\" twice".to_owned()));
            }
            map.next_value_seed(EntriesSeed {
                shape: self.shape,
                sink: &mut *self.sink,
            })?;
            seen = true;
        }
        if seen {
            Ok(())
        } else {
            Err(wrong("the file must have a \"keys\" array".to_owned()))
        }
    }
}

/// Reads the `keys` array, one entry's value at a time.
struct EntriesSeed<'a> {
    shape: &'a Cell<Option<String>>,
    sink: &'a mut dyn FnMut(Result<KeyEntry, KeysFileError>),
}

impl EntriesSeed<'_> {
    fn not_array<E: serde::de::Error>(&self) -> Result<(), E> {
        self.shape
            .set(Some("the file must have a \"keys\" array".to_owned()));
        Err(E::custom("not a keys array"))
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for EntriesSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of keys")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut index = 0;
        while let Some(value) = seq.next_element::<Value>()? {
            (self.sink)(entry(index, value));
            index += 1;
        }
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        self.not_array()
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        self.not_array()
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        self.not_array()
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        self.not_array()
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        self.not_array()
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
        self.not_array()
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        self.not_array()
    }
}

/// Reads one entry on its own, from its JSON text (the form a shared store
/// keeps each record in).
#[cfg(feature = "replica")]
pub(super) fn single(json: &str) -> Result<KeyEntry, KeysFileError> {
    let value: Value = serde_json::from_str(json).map_err(|e| KeysFileError::syntax(&e))?;
    entry(0, value)
}

/// Reads one entry.
fn entry(index: usize, value: Value) -> Result<KeyEntry, KeysFileError> {
    let Value::Object(mut object) = value else {
        return Err(KeysFileError::entry(index, None, None, "is not an object"));
    };
    // Name the entry by its id in every message, when the id is valid.
    let id = match object.get("id") {
        Some(Value::String(id)) if is_valid_id(id) => Some(id.clone()),
        _ => None,
    };
    let problem = |field, problem: &str| KeysFileError::entry(index, id.as_deref(), field, problem);
    if let Some(unknown) = object.keys().find(|key| !FIELDS.contains(&key.as_str())) {
        return Err(problem(
            None,
            &format!(
                "has {}; fields are {}",
                unknown_field(unknown),
                FIELDS.join(", ")
            ),
        ));
    }
    let mut field = |name: &'static str| object.remove(name);
    let id_text = required_string(field("id"), "id", &problem)?;
    let label = required_string(field("label"), "label", &problem)?;
    let hash = required_string(field("hash"), "hash", &problem)?;
    let digest = hash
        .strip_prefix(HASH_PREFIX)
        .and_then(TokenDigest::from_hex)
        .ok_or_else(|| {
            problem(
                Some("hash"),
                "must be \"sha256:\" followed by 64 lowercase hexadecimal digits",
            )
        })?;
    let created_at = required_string(field("created_at"), "created_at", &problem)?;
    let created_at =
        rfc3339::parse(&created_at).ok_or_else(|| problem(Some("created_at"), NOT_A_TIMESTAMP))?;
    let scopes = match field("scopes") {
        None => ScopeSet::empty(),
        Some(Value::Array(items)) => {
            let names: Option<Vec<String>> = items
                .into_iter()
                .map(|item| match item {
                    Value::String(scope) => Some(scope),
                    _ => None,
                })
                .collect();
            let names =
                names.ok_or_else(|| problem(Some("scopes"), "must be an array of strings"))?;
            ScopeSet::new(&names).map_err(|_| {
                problem(
                    Some("scopes"),
                    "holds an invalid scope: a scope is printable ASCII without spaces, '\"' or '\\'",
                )
            })?
        }
        Some(_) => return Err(problem(Some("scopes"), "must be an array of strings")),
    };
    let revoked = match field("revoked") {
        None => false,
        Some(Value::Bool(revoked)) => revoked,
        Some(_) => return Err(problem(Some("revoked"), "must be true or false")),
    };
    let mut entry = KeyEntry::new(id_text, label, digest)
        .with_scopes(scopes)
        .with_created_at(created_at)
        .with_revoked(revoked);
    match field("expires_at") {
        None | Some(Value::Null) => {}
        Some(Value::String(expires_at)) => {
            let expires_at = rfc3339::parse(&expires_at)
                .ok_or_else(|| problem(Some("expires_at"), NOT_A_TIMESTAMP))?;
            entry = entry.with_expiry(expires_at);
        }
        Some(_) => return Err(problem(Some("expires_at"), NOT_A_TIMESTAMP)),
    }
    match field("metadata") {
        None => {}
        Some(Value::Object(metadata)) => entry = with_metadata(entry, metadata, &problem)?,
        Some(_) => return Err(problem(Some("metadata"), METADATA)),
    }
    match field("hint") {
        None | Some(Value::Null) => {}
        Some(Value::String(hint)) => entry = entry.with_hint(hint),
        Some(_) => return Err(problem(Some("hint"), "must be a string")),
    }
    match field("last_used_at") {
        None | Some(Value::Null) => {}
        Some(Value::String(used)) => {
            let used = rfc3339::parse(&used)
                .ok_or_else(|| problem(Some("last_used_at"), NOT_A_TIMESTAMP))?;
            entry = entry.with_last_used_at(Some(used));
        }
        Some(_) => return Err(problem(Some("last_used_at"), NOT_A_TIMESTAMP)),
    }
    match field("rate_limit") {
        None | Some(Value::Null) => {}
        Some(value) => {
            let quota = quota(&value).ok_or_else(|| problem(Some("rate_limit"), RATE_LIMIT))?;
            entry = entry.with_rate_limit(Some(quota));
        }
    }
    for (name, with) in [
        (
            "rotated_from",
            KeyEntry::with_rotated_from as fn(KeyEntry, String) -> KeyEntry,
        ),
        ("rotated_to", KeyEntry::with_rotated_to),
    ] {
        match field(name) {
            None | Some(Value::Null) => {}
            Some(Value::String(id)) if is_valid_id(&id) => entry = with(entry, id),
            Some(_) => return Err(problem(Some(name), &format!("must be a key id: {ID_RULE}"))),
        }
    }
    match field("owner") {
        None | Some(Value::Null) => {}
        Some(Value::String(owner)) => entry = entry.with_owner(Some(owner)),
        Some(_) => return Err(problem(Some("owner"), &format!("must be {ID_RULE}"))),
    }
    if let Some(value) = field("allowed_ips") {
        let ranges =
            policies::allowed_ips(&value).map_err(|rule| problem(Some("allowed_ips"), rule))?;
        entry = entry.with_allowed_ips(ranges);
    }
    match field("credits") {
        None | Some(Value::Null) => {}
        Some(value) => {
            let credits =
                policies::credits(&value, true).map_err(|rule| problem(Some("credits"), rule))?;
            entry = entry.with_credits(Some(credits));
        }
    }
    match field("owner_limits") {
        None | Some(Value::Null) => {}
        Some(value) => {
            let limits = policies::owner_limits(&value, true)
                .map_err(|rule| problem(Some("owner_limits"), rule))?;
            entry = entry.with_owner_limits(limits);
        }
    }
    entry.validate().map_err(|error| match error {
        KeyStoreError::InvalidLabel { .. } => {
            problem(Some("label"), &format!("must be {LABEL_RULE}"))
        }
        KeyStoreError::InvalidHint { .. } => problem(Some("hint"), &format!("must be {HINT_RULE}")),
        KeyStoreError::InvalidOwner { .. } => problem(Some("owner"), &format!("must be {ID_RULE}")),
        KeyStoreError::MetadataTooLarge { .. } => {
            problem(Some("metadata"), &format!("must be {METADATA_RULE}"))
        }
        _ => problem(Some("id"), &format!("must be {ID_RULE}")),
    })?;
    Ok(entry)
}

const NOT_A_TIMESTAMP: &str = "is not an RFC 3339 timestamp (e.g. 2027-01-01T00:00:00Z)";
const METADATA: &str = "must be an object of strings";

fn required_string(
    value: Option<Value>,
    field: &'static str,
    problem: &impl Fn(Option<&'static str>, &str) -> KeysFileError,
) -> Result<String, KeysFileError> {
    match value {
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(problem(Some(field), "must be a string")),
        None => Err(problem(Some(field), "is missing")),
    }
}

fn with_metadata(
    mut entry: KeyEntry,
    metadata: Map<String, Value>,
    problem: &impl Fn(Option<&'static str>, &str) -> KeysFileError,
) -> Result<KeyEntry, KeysFileError> {
    for (key, value) in metadata {
        let Value::String(value) = value else {
            return Err(problem(Some("metadata"), METADATA));
        };
        entry = entry.with_metadata(key, value);
    }
    Ok(entry)
}

/// Refuses every entry that shares its id or its hash with another: which
/// of them was meant cannot be known, so none is put in force.
fn refuse_repeats(results: &mut [Result<KeyEntry, KeysFileError>]) {
    let mut ids: HashMap<String, Vec<usize>> = HashMap::new();
    let mut digests: HashMap<TokenDigest, Vec<usize>> = HashMap::new();
    for (index, result) in results.iter().enumerate() {
        if let Ok(entry) = result {
            ids.entry(entry.id().to_owned()).or_default().push(index);
            match digests.entry(*entry.digest()) {
                Entry::Occupied(mut users) => users.get_mut().push(index),
                Entry::Vacant(slot) => {
                    slot.insert(vec![index]);
                }
            }
        }
    }
    // A repeated id is named before a repeated hash: it is the likelier
    // mistake (an entry pasted twice) and the clearer message.
    let mut refusals: Vec<(usize, u8, &'static str, usize)> = Vec::new();
    for (users, rank, field) in ids
        .values()
        .map(|users| (users, 0, "id"))
        .chain(digests.values().map(|users| (users, 1, "hash")))
    {
        if users.len() > 1 {
            for &index in users {
                let other = users.iter().copied().find(|&i| i != index).unwrap_or(index);
                refusals.push((index, rank, field, other));
            }
        }
    }
    refusals.sort_unstable();
    for (index, _, field, other) in refusals {
        if let Ok(entry) = &results[index] {
            results[index] = Err(KeysFileError::entry(
                index,
                Some(entry.id()),
                Some(field),
                format!("is also used by entry {other}"),
            ));
        }
    }
}

/// "an unknown field `x`", or "an unknown field" when the name is not one
/// to repeat ([`shown_field_name`]).
fn unknown_field(name: &str) -> String {
    match shown_field_name(name) {
        Some(name) => format!("an unknown field `{name}`"),
        None => "an unknown field".to_owned(),
    }
}

/// A field name from outside (a keys file, a request body) as it may be
/// repeated in an error message: quoted when it is a plain short name (a
/// typo such as `expires`), withheld otherwise: a token pasted as a field
/// name must not reach a log or an answer. The one rule for the keys file,
/// the admin API and the shared store.
pub(crate) fn shown_field_name(name: &str) -> Option<&str> {
    let plain =
        (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    plain.then_some(name)
}

#[cfg(test)]
mod whole_number_tests {
    use serde_json::json;

    use super::whole_number;

    #[test]
    fn whole_numbers_may_be_written_as_floats() {
        assert_eq!(whole_number(&json!(5)), Some(5));
        assert_eq!(whole_number(&json!(5.0)), Some(5));
        assert_eq!(whole_number(&json!(u64::MAX)), Some(u64::MAX));
        for not in [
            json!(5.5),
            json!(-1),
            json!(-1.0),
            json!(1e300),
            json!("5"),
            json!(null),
        ] {
            assert_eq!(whole_number(&not), None, "{not}");
        }
    }
}
