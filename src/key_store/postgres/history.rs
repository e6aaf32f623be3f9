//! What the admin API reads and writes beside the key set in Postgres: the
//! audit log (`tba_audit`) and the usage every replica flushed
//! (`tba_usage`).

use std::time::SystemTime;

use super::PostgresKeyWriter;
use super::statements as sql;
use crate::key_store::admin::AdminError;
use crate::key_store::admin::audit::{AuditEvent, AuditPage, AuditQuery, sequence_of};
use crate::key_store::usage::DayCounts;

impl PostgresKeyWriter {
    /// Appends `event` to the audit table.
    pub(super) async fn append_audit(&self, event: &AuditEvent) -> Result<(), AdminError> {
        let namespace = self.namespace.as_str();
        self.with_plain_client(async |client| {
            client
                .query_one(
                    sql::APPEND_AUDIT,
                    &[
                        &namespace,
                        &event.time,
                        &event.action,
                        &event.target,
                        &event.actor,
                        &event.fields,
                    ],
                )
                .await?;
            Ok(())
        })
        .await
    }

    /// One page of the audit table, newest first.
    pub(super) async fn audit_page(&self, query: &AuditQuery) -> Result<AuditPage, AdminError> {
        let before: Option<i64> = match &query.cursor {
            None => None,
            Some(cursor) => Some(i64::try_from(sequence_of(cursor)?).unwrap_or(i64::MAX)),
        };
        let limit = i64::try_from(query.limit + 1).unwrap_or(i64::MAX);
        let namespace = self.namespace.as_str();
        let target = query.target.as_deref();
        let rows = self
            .with_plain_client(async |client| {
                Ok(client
                    .query(sql::AUDIT, &[&namespace, &before, &target, &limit])
                    .await?)
            })
            .await?;
        let events = rows
            .iter()
            .filter_map(|row| {
                let seq: i64 = row.try_get(0).ok()?;
                Some(AuditEvent {
                    id: seq.to_string(),
                    time: row.try_get::<_, SystemTime>(1).ok()?,
                    action: row.try_get(2).ok()?,
                    target: row.try_get(3).ok()?,
                    actor: row.try_get(4).ok()?,
                    fields: row.try_get(5).ok()?,
                })
            })
            .collect();
        Ok(AuditPage::of(events, query.limit))
    }

    /// The counts of key `id` on the days `first..=last`.
    pub(super) async fn usage_days(
        &self,
        id: &str,
        first: u32,
        last: u32,
    ) -> Result<Vec<(u32, DayCounts)>, AdminError> {
        let namespace = self.namespace.as_str();
        let day = |day: u32| i32::try_from(day).unwrap_or(i32::MAX);
        let (first, last) = (day(first), day(last));
        let rows = self
            .with_plain_client(async |client| {
                Ok(client
                    .query(sql::USAGE, &[&namespace, &id, &first, &last])
                    .await?)
            })
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let day: i32 = row.try_get(0).ok()?;
                let mut counts = DayCounts::default();
                for (at, count) in counts.0.iter_mut().enumerate() {
                    *count = u64::try_from(row.try_get::<_, i64>(at + 1).ok()?).unwrap_or(0);
                }
                Some((u32::try_from(day).ok()?, counts))
            })
            .collect())
    }
}
