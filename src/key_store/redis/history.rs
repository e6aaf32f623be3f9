//! What the admin API reads and writes beside the key set in Redis: the
//! audit log (a capped stream, `{tba:<ns>}:audit`) and the usage every
//! replica flushed (one hash per UTC day, `{tba:<ns>}:us:<day>`).

use std::collections::HashMap;

use redis::Script;

use super::RedisKeyWriter;
use crate::key_store::admin::AdminError;
use crate::key_store::admin::audit::{AuditEvent, AuditPage, AuditQuery, is_event_id};
use crate::key_store::rfc3339;
use crate::key_store::usage::DayCounts;

/// How many audit events the stream keeps (approximately, `MAXLEN ~`).
pub(super) const AUDIT_LENGTH: usize = 100_000;

/// Entries read per `XREVRANGE` while looking for one target's events.
const AUDIT_SCAN_PAGE: usize = 1_000;

impl RedisKeyWriter {
    /// Appends `event` to the audit stream.
    pub(super) async fn append_audit(&self, event: &AuditEvent) -> Result<(), AdminError> {
        let mut add = redis::cmd("XADD");
        add.arg(self.layout.audit())
            .arg("MAXLEN")
            .arg("~")
            .arg(AUDIT_LENGTH)
            .arg("*")
            .arg("t")
            .arg(rfc3339::format(event.time))
            .arg("a")
            .arg(&event.action)
            .arg("g")
            .arg(&event.target)
            .arg("b")
            .arg(&event.actor)
            .arg("f")
            .arg(event.fields.join(","));
        let _: String = self.read(&add).await?;
        Ok(())
    }

    /// One page of the audit stream, newest first.
    pub(super) async fn audit_page(&self, query: &AuditQuery) -> Result<AuditPage, AdminError> {
        let mut end = match &query.cursor {
            None => "+".to_owned(),
            Some(cursor) if is_event_id(cursor) => format!("({cursor}"),
            Some(cursor) => {
                return Err(AdminError::InvalidCursor {
                    cursor: cursor.clone(),
                });
            }
        };
        let wanted = query.limit + 1;
        let page = if query.target.is_some() {
            AUDIT_SCAN_PAGE
        } else {
            wanted
        };
        let mut events = Vec::new();
        loop {
            let mut range = redis::cmd("XREVRANGE");
            range
                .arg(self.layout.audit())
                .arg(&end)
                .arg("-")
                .arg("COUNT")
                .arg(page);
            let reply: redis::streams::StreamRangeReply = self.read(&range).await?;
            let read = reply.ids.len();
            for entry in reply.ids {
                end = format!("({}", entry.id);
                if let Some(event) = event_of(entry.id, &entry.map)
                    && query.matches(&event)
                {
                    events.push(event);
                }
            }
            if events.len() >= wanted || read < page {
                break;
            }
        }
        events.truncate(wanted);
        Ok(AuditPage::of(events, query.limit))
    }

    /// The counts of key `id` on the days `first..=last`.
    pub(super) async fn usage_days(
        &self,
        id: &str,
        first: u32,
        last: u32,
    ) -> Result<Vec<(u32, DayCounts)>, AdminError> {
        let script = Script::new(include_str!("scripts/usage_read.lua"));
        let mut call = script.prepare_invoke();
        for day in first..=last {
            call.key(self.layout.usage(day));
        }
        call.arg(id);
        let mut con = self.connection().await?;
        let counts: Vec<Option<u64>> =
            call.invoke_async(&mut con)
                .await
                .map_err(|error| AdminError::Unavailable {
                    problem: format!("reading usage from Redis failed: {error}"),
                })?;
        Ok((first..=last)
            .zip(counts.chunks(4))
            .map(|(day, four)| {
                let mut counts = DayCounts::default();
                for (count, read) in counts.0.iter_mut().zip(four) {
                    *count = read.unwrap_or(0);
                }
                (day, counts)
            })
            .filter(|(_, counts)| !counts.is_zero())
            .collect())
    }
}

/// The event of one stream entry; `None` for an entry not written here.
fn event_of(id: String, fields: &HashMap<String, redis::Value>) -> Option<AuditEvent> {
    let text = |name: &str| match fields.get(name)? {
        redis::Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        redis::Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    };
    let fields_text = text("f")?;
    Some(AuditEvent {
        id,
        time: rfc3339::parse(&text("t")?)?,
        action: text("a")?,
        target: text("g")?,
        actor: text("b")?,
        fields: fields_text
            .split(',')
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}
