//! [`InMemoryConsoleSessions`]: the operator console's sessions in memory.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::ports::{ConsoleSession, ConsoleSessions, RepositoryError};
use crate::time::Timestamp;

/// Console sessions in memory, by token hash.
#[derive(Debug, Default)]
pub struct InMemoryConsoleSessions(Mutex<BTreeMap<String, ConsoleSession>>);

impl InMemoryConsoleSessions {
    /// How many sessions are stored.
    pub fn len(&self) -> usize {
        lock(&self.0).len()
    }

    /// Whether no session is stored.
    pub fn is_empty(&self) -> bool {
        lock(&self.0).is_empty()
    }
}

#[async_trait]
impl ConsoleSessions for InMemoryConsoleSessions {
    async fn create(&self, session: &ConsoleSession) -> Result<(), RepositoryError> {
        let mut sessions = lock(&self.0);
        if sessions.contains_key(&session.token_hash) {
            return Err(RepositoryError::Conflict("console session exists".into()));
        }
        sessions.insert(session.token_hash.clone(), session.clone());
        Ok(())
    }

    async fn get(&self, token_hash: &str) -> Result<Option<ConsoleSession>, RepositoryError> {
        Ok(lock(&self.0).get(token_hash).cloned())
    }

    async fn touch(&self, token_hash: &str, at: Timestamp) -> Result<(), RepositoryError> {
        if let Some(session) = lock(&self.0).get_mut(token_hash) {
            session.last_seen_at = at;
        }
        Ok(())
    }

    async fn delete(&self, token_hash: &str) -> Result<(), RepositoryError> {
        lock(&self.0).remove(token_hash);
        Ok(())
    }

    async fn purge(&self, now: Timestamp, idle_before: Timestamp) -> Result<u64, RepositoryError> {
        let mut sessions = lock(&self.0);
        let before = sessions.len();
        sessions.retain(|_, s| s.expires_at > now && s.last_seen_at >= idle_before);
        Ok((before - sessions.len()) as u64)
    }
}
