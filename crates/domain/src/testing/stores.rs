//! The small stores: setup state, cached tokens and invoice number counters.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::ports::{
    CachedToken, InvoiceNumbering, RepositoryError, SetupState, SetupStore, TokenCache,
};
use crate::time::Timestamp;

/// Setup state in memory.
#[derive(Debug, Default)]
pub struct InMemorySetupStore(Mutex<SetupState>);

impl InMemorySetupStore {
    /// A store holding `state`.
    pub fn with(state: SetupState) -> Self {
        Self(Mutex::new(state))
    }
}

#[async_trait]
impl SetupStore for InMemorySetupStore {
    async fn load(&self) -> Result<SetupState, RepositoryError> {
        Ok(lock(&self.0).clone())
    }
    async fn save(&self, state: &SetupState) -> Result<(), RepositoryError> {
        *lock(&self.0) = state.clone();
        Ok(())
    }
}

/// Token cache in memory.
#[derive(Debug, Default)]
pub struct InMemoryTokenCache(Mutex<HashMap<String, TokenEntry>>);

/// The cached token and the refresh lease (holder, until) of one key.
type TokenEntry = (Option<CachedToken>, Option<(String, Timestamp)>);

#[async_trait]
impl TokenCache for InMemoryTokenCache {
    async fn get(&self, key: &str) -> Result<Option<CachedToken>, RepositoryError> {
        Ok(lock(&self.0).get(key).and_then(|(t, _)| t.clone()))
    }
    async fn put(&self, key: &str, token: &CachedToken) -> Result<(), RepositoryError> {
        lock(&self.0).entry(key.to_owned()).or_default().0 = Some(token.clone());
        Ok(())
    }
    async fn try_acquire_refresh(
        &self,
        key: &str,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let mut map = lock(&self.0);
        let entry = map.entry(key.to_owned()).or_default();
        match &entry.1 {
            Some((owner, until)) if owner != holder && *until > now => Ok(false),
            _ => {
                entry.1 = Some((holder.to_owned(), lease_until));
                Ok(true)
            }
        }
    }
    async fn release_refresh(&self, key: &str, holder: &str) -> Result<(), RepositoryError> {
        let mut map = lock(&self.0);
        if let Some(entry) = map.get_mut(key)
            && entry.1.as_ref().is_some_and(|(owner, _)| owner == holder)
        {
            entry.1 = None;
        }
        Ok(())
    }
}

/// Gap-free numbering in memory.
#[derive(Debug, Default)]
pub struct InMemoryNumbering(Mutex<HashMap<String, u64>>);

#[async_trait]
impl InvoiceNumbering for InMemoryNumbering {
    async fn next(&self, series: &str) -> Result<u64, RepositoryError> {
        let mut map = lock(&self.0);
        let counter = map.entry(series.to_owned()).or_default();
        *counter += 1;
        Ok(*counter)
    }
}
