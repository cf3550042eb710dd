//! [`InMemoryEventInbox`]: pushed events deduplicated by their business key.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::ports::{
    EventInbox, InboxItem, InboxStatus, RecordOutcome, RepositoryError, SetAsideEvent,
};
use crate::time::Timestamp;
use crate::weixin::WeixinEvent;

#[derive(Debug)]
struct InboxRow {
    item: InboxItem,
    processed: bool,
    lease_until: Option<Timestamp>,
    not_before: Timestamp,
    note: Option<String>,
}

/// Ids by dedupe key, rows by id, and the last id handed out (ids are never reused, also after
/// a purge).
type Rows = (HashMap<String, i64>, BTreeMap<i64, InboxRow>, i64);

/// The event inbox in memory, deduplicating on [`WeixinEvent::dedupe_key`].
#[derive(Debug, Default)]
pub struct InMemoryEventInbox {
    rows: Mutex<Rows>,
}

impl InMemoryEventInbox {
    /// An empty inbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// `(event, processed, note)` for every stored event.
    pub fn entries(&self) -> Vec<(WeixinEvent, bool, Option<String>)> {
        lock(&self.rows)
            .1
            .values()
            .map(|r| (r.item.event.clone(), r.processed, r.note.clone()))
            .collect()
    }
}

#[async_trait]
impl EventInbox for InMemoryEventInbox {
    async fn record(
        &self,
        event: &WeixinEvent,
        received_at: Timestamp,
    ) -> Result<RecordOutcome, RepositoryError> {
        let mut rows = lock(&self.rows);
        let key = event.dedupe_key();
        if rows.0.contains_key(&key) {
            return Ok(RecordOutcome::Duplicate);
        }
        rows.2 += 1;
        let id = rows.2;
        rows.0.insert(key, id);
        rows.1.insert(
            id,
            InboxRow {
                item: InboxItem {
                    id,
                    event: event.clone(),
                    received_at,
                    attempts: 0,
                },
                processed: false,
                lease_until: None,
                not_before: received_at,
                note: None,
            },
        );
        Ok(RecordOutcome::Recorded(id))
    }

    async fn claim(
        &self,
        _worker: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<InboxItem>, RepositoryError> {
        let mut rows = lock(&self.rows);
        let mut claimed = Vec::new();
        for row in rows.1.values_mut() {
            if claimed.len() >= limit as usize {
                break;
            }
            let leased = row.lease_until.is_some_and(|until| until > now);
            if row.processed || leased || row.not_before > now {
                continue;
            }
            row.lease_until = Some(lease_until);
            claimed.push(row.item.clone());
        }
        Ok(claimed)
    }

    async fn wake(&self, dedupe_keys: &[String], now: Timestamp) -> Result<u64, RepositoryError> {
        let mut rows = lock(&self.rows);
        let ids: Vec<i64> = dedupe_keys
            .iter()
            .filter_map(|key| rows.0.get(key).copied())
            .collect();
        let mut woken = 0;
        for id in ids {
            if let Some(row) = rows.1.get_mut(&id) {
                let leased = row.lease_until.is_some_and(|until| until > now);
                if !row.processed && !leased && row.not_before > now {
                    row.not_before = now;
                    woken += 1;
                }
            }
        }
        Ok(woken)
    }

    async fn mark_processed(&self, id: i64, note: Option<String>) -> Result<(), RepositoryError> {
        let mut rows = lock(&self.rows);
        let row = rows
            .1
            .get_mut(&id)
            .ok_or_else(|| RepositoryError::NotFound(format!("inbox event {id}")))?;
        row.processed = true;
        row.lease_until = None;
        row.note = note;
        Ok(())
    }

    async fn release(
        &self,
        id: i64,
        retry_at: Timestamp,
        error: &str,
    ) -> Result<(), RepositoryError> {
        let mut rows = lock(&self.rows);
        let row = rows
            .1
            .get_mut(&id)
            .filter(|row| !row.processed)
            .ok_or_else(|| RepositoryError::NotFound(format!("unprocessed inbox event {id}")))?;
        row.item.attempts += 1;
        row.lease_until = None;
        row.not_before = retry_at;
        row.note = Some(error.to_owned());
        Ok(())
    }

    async fn purge_processed(&self, before: Timestamp) -> Result<u64, RepositoryError> {
        let mut rows = lock(&self.rows);
        let (keys, by_id, _) = &mut *rows;
        let before_count = by_id.len();
        by_id.retain(|_, row| !(row.processed && row.item.received_at < before));
        keys.retain(|_, id| by_id.contains_key(id));
        Ok((before_count - by_id.len()) as u64)
    }

    async fn set_aside(
        &self,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<SetAsideEvent>, RepositoryError> {
        let rows = lock(&self.rows);
        Ok(rows
            .1
            .range(after.map_or(i64::MIN, |a| a.saturating_add(1))..)
            .filter_map(|(_, row)| set_aside(row))
            .take(limit.clamp(1, 500) as usize)
            .collect())
    }

    async fn status(&self, id: i64) -> Result<Option<InboxStatus>, RepositoryError> {
        let rows = lock(&self.rows);
        Ok(rows.1.get(&id).map(|row| {
            if !row.processed {
                InboxStatus::Pending
            } else {
                set_aside(row).map_or(InboxStatus::Applied, InboxStatus::SetAside)
            }
        }))
    }
}

/// The row as a set-aside push, when it is one.
fn set_aside(row: &InboxRow) -> Option<SetAsideEvent> {
    match (&row.note, row.processed) {
        (Some(note), true) => Some(SetAsideEvent {
            item: row.item.clone(),
            note: note.clone(),
        }),
        _ => None,
    }
}
