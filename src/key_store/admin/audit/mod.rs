//! The audit log of admin changes: one durable event per change (who did
//! what to which key or owner, and which fields), written before the
//! change is answered, listed newest first.
//!
//! Events never hold a token, a digest or a field's value: only the names
//! of the fields a change set. Where they are kept is the key set's
//! business: the keys file's JSON-lines file beside it (fsynced), a capped
//! Redis stream under the namespace's hash tag, a Postgres table.

#[cfg(feature = "admin")]
mod file;

use std::time::SystemTime;

use super::AdminError;

#[cfg(feature = "admin")]
pub(crate) use self::file::EmbeddedAudit;

/// The most events one page lists.
pub const AUDIT_PAGE_MAX: usize = 1000;

/// One admin change, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// The event's id in its log (the cursor that pages from it); empty
    /// until the log has written it.
    pub id: String,
    /// When the change was made.
    pub time: SystemTime,
    /// What was done: `create`, `update`, `revoke`, `rotate`, `delete`,
    /// `credits`, `set_owner`, `delete_owner`, `revoke_owner`,
    /// `leak_revoke`.
    pub action: String,
    /// The key id (or, for owner actions, the owner) the change was made
    /// to.
    pub target: String,
    /// Who made it: the acting principal's id (an admin key's id), or
    /// `github-secret-scanning` for a leak report.
    pub actor: String,
    /// The names of the fields the change set (never their values).
    pub fields: Vec<String>,
}

impl AuditEvent {
    /// An event of `action` on `target` by `actor`, now, setting `fields`.
    #[must_use]
    pub fn new(
        action: impl Into<String>,
        target: impl Into<String>,
        actor: impl Into<String>,
        fields: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            id: String::new(),
            time: SystemTime::now(),
            action: action.into(),
            target: target.into(),
            actor: actor.into(),
            fields: fields.into_iter().map(Into::into).collect(),
        }
    }
}

/// Which events to list: newest first, at most `limit`, older than
/// `cursor` (an event id a previous page ended with), only of `target`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// How many events at most (1 to [`AUDIT_PAGE_MAX`]).
    pub limit: usize,
    /// Only events older than this event id.
    pub cursor: Option<String>,
    /// Only events of this key id or owner.
    pub target: Option<String>,
}

impl AuditQuery {
    /// Whether `event` is listed (its position aside).
    #[must_use]
    pub fn matches(&self, event: &AuditEvent) -> bool {
        self.target
            .as_deref()
            .is_none_or(|target| event.target == target)
    }
}

/// Whether `cursor` has the shape of an event id: a number, or two joined
/// by `-` (a Redis stream entry's id), each of 1 to 19 digits.
#[must_use]
pub fn is_event_id(cursor: &str) -> bool {
    let digits =
        |part: &str| (1..=19).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
    match cursor.split_once('-') {
        Some((first, second)) => digits(first) && digits(second),
        None => digits(cursor),
    }
}

/// The sequence number a cursor names, for logs that number their events
/// (a keys file's lines, a Postgres table): its first number.
#[cfg_attr(not(any(feature = "admin", feature = "postgres")), allow(dead_code))]
pub(crate) fn sequence_of(cursor: &str) -> Result<u64, AdminError> {
    let first = cursor.split_once('-').map_or(cursor, |(first, _)| first);
    match first.parse() {
        Ok(sequence) if is_event_id(cursor) => Ok(sequence),
        _ => Err(AdminError::InvalidCursor {
            cursor: cursor.to_owned(),
        }),
    }
}

/// One page of events, newest first, and the cursor of the next page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditPage {
    /// The events.
    pub events: Vec<AuditEvent>,
    /// The cursor of the next (older) page, if there are more.
    pub next_cursor: Option<String>,
}

impl AuditPage {
    /// A page of `limit` from `newest_first` (which may hold one more:
    /// then there is a next page).
    #[must_use]
    pub fn of(mut newest_first: Vec<AuditEvent>, limit: usize) -> Self {
        let more = newest_first.len() > limit;
        newest_first.truncate(limit);
        let next_cursor = more
            .then(|| newest_first.last().map(|event| event.id.clone()))
            .flatten();
        Self {
            events: newest_first,
            next_cursor,
        }
    }
}

/// An event as one JSON object (the keys file's audit lines, Redis's
/// stream entries carry the same fields).
#[cfg(feature = "admin")]
pub(crate) fn to_json(event: &AuditEvent) -> serde_json::Value {
    serde_json::json!({
        "id": event.id,
        "time": crate::key_store::rfc3339::format(event.time),
        "action": event.action,
        "target": event.target,
        "actor": event.actor,
        "fields": event.fields,
    })
}

/// The event of one JSON object; `None` if it is not one.
#[cfg(feature = "admin")]
pub(crate) fn from_json(value: &serde_json::Value) -> Option<AuditEvent> {
    let text = |name: &str| value.get(name)?.as_str().map(str::to_owned);
    Some(AuditEvent {
        id: text("id")?,
        time: crate::key_store::rfc3339::parse(value.get("time")?.as_str()?)?,
        action: text("action")?,
        target: text("target")?,
        actor: text("actor")?,
        fields: value
            .get("fields")?
            .as_array()?
            .iter()
            .map(|field| field.as_str().map(str::to_owned))
            .collect::<Option<_>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids() {
        for good in ["1", "1733500000000-0", "9999999999999999999"] {
            assert!(is_event_id(good), "{good}");
        }
        for bad in ["", "-0", "1-", "1-x", "1-2-3", "99999999999999999999", "١"] {
            assert!(!is_event_id(bad), "{bad}");
        }
        assert_eq!(sequence_of("17-3"), Ok(17));
        assert!(sequence_of("x").is_err());
    }
}
