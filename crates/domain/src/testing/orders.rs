//! [`InMemoryOrderRepository`]: orders with versions and the job queue, changed together.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::ids::{CardCode, CardId, OrderKey, QrToken};
use crate::order::Order;
use crate::ports::{
    Job, JobId, JobQueue, NewJob, OrderFilter, OrderRepository, RepositoryError, StateCount,
};
use crate::time::Timestamp;

#[derive(Debug, Default)]
struct StoreState {
    orders: BTreeMap<OrderKey, Order>,
    jobs: BTreeMap<i64, StoredJob>,
    next_job: i64,
}

#[derive(Debug, Clone)]
struct StoredJob {
    job: NewJob,
    attempts: u32,
    lease: Option<(String, Timestamp)>,
    dead: bool,
    last_error: Option<String>,
}

/// Orders and jobs in memory, with the same optimistic concurrency and atomic enqueue as the
/// database adapters. Implements both [`OrderRepository`] and [`JobQueue`].
#[derive(Debug, Default)]
pub struct InMemoryOrderRepository {
    state: Mutex<StoreState>,
}

impl InMemoryOrderRepository {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Live jobs as `(order, command)`, oldest first (for assertions).
    pub fn live_jobs(&self) -> Vec<NewJob> {
        lock(&self.state)
            .jobs
            .values()
            .filter(|j| !j.dead)
            .map(|j| j.job.clone())
            .collect()
    }

    /// Dead jobs with their errors.
    pub fn dead_jobs(&self) -> Vec<(NewJob, Option<String>)> {
        lock(&self.state)
            .jobs
            .values()
            .filter(|j| j.dead)
            .map(|j| (j.job.clone(), j.last_error.clone()))
            .collect()
    }

    fn push_jobs(state: &mut StoreState, jobs: &[NewJob]) {
        for job in jobs {
            state.next_job += 1;
            let id = state.next_job;
            state.jobs.insert(
                id,
                StoredJob {
                    job: job.clone(),
                    attempts: 0,
                    lease: None,
                    dead: false,
                    last_error: None,
                },
            );
        }
    }
}

#[async_trait]
impl OrderRepository for InMemoryOrderRepository {
    async fn insert(&self, order: &Order, jobs: &[NewJob]) -> Result<(), RepositoryError> {
        let mut state = lock(&self.state);
        if state.orders.contains_key(order.key()) {
            return Err(RepositoryError::Conflict(format!(
                "order {} already exists",
                order.key().order_id
            )));
        }
        let mut stored = order.clone();
        stored.mark_saved();
        state.orders.insert(order.key().clone(), stored);
        Self::push_jobs(&mut state, jobs);
        Ok(())
    }

    async fn get(&self, key: &OrderKey) -> Result<Option<Order>, RepositoryError> {
        Ok(lock(&self.state).orders.get(key).cloned())
    }

    async fn find_by_card(
        &self,
        card_id: &CardId,
        code: &CardCode,
    ) -> Result<Option<Order>, RepositoryError> {
        Ok(lock(&self.state)
            .orders
            .values()
            .find(|o| {
                o.card()
                    .is_some_and(|c| &c.card_id == card_id && &c.code == code)
            })
            .cloned())
    }

    async fn find_by_qr_token(&self, token: &QrToken) -> Result<Option<Order>, RepositoryError> {
        Ok(lock(&self.state)
            .orders
            .values()
            .find(|o| o.qr_token() == Some(token))
            .cloned())
    }

    async fn update(&self, order: &Order, jobs: &[NewJob]) -> Result<(), RepositoryError> {
        let mut state = lock(&self.state);
        let Some(current) = state.orders.get(order.key()) else {
            return Err(RepositoryError::NotFound(format!(
                "order {}",
                order.key().order_id
            )));
        };
        if current.version() != order.version() {
            return Err(RepositoryError::StaleVersion {
                expected: order.version(),
            });
        }
        let mut stored = order.clone();
        stored.mark_saved();
        state.orders.insert(order.key().clone(), stored);
        Self::push_jobs(&mut state, jobs);
        Ok(())
    }

    async fn list(&self, filter: &OrderFilter) -> Result<Vec<Order>, RepositoryError> {
        let state = lock(&self.state);
        let mut orders: Vec<Order> = state
            .orders
            .values()
            .filter(|o| filter.state.is_none_or(|s| o.state() == s))
            .filter(|o| filter.scenario.is_none_or(|s| o.scenario() == s))
            .filter(|o| filter.updated_before.is_none_or(|t| o.updated_at() < t))
            .cloned()
            .collect();
        orders.sort_by_key(|o| std::cmp::Reverse(o.updated_at()));
        orders.truncate(filter.limit.clamp(1, 500) as usize);
        Ok(orders)
    }

    async fn count_by_state(&self) -> Result<Vec<StateCount>, RepositoryError> {
        let state = lock(&self.state);
        let mut counts: BTreeMap<(crate::scenario::Scenario, crate::order::OrderState), u64> =
            BTreeMap::new();
        for order in state.orders.values() {
            *counts.entry((order.scenario(), order.state())).or_default() += 1;
        }
        Ok(counts
            .into_iter()
            .map(|((scenario, state), count)| StateCount {
                scenario,
                state,
                count,
            })
            .collect())
    }
}

#[async_trait]
impl JobQueue for InMemoryOrderRepository {
    async fn enqueue(&self, job: &NewJob) -> Result<JobId, RepositoryError> {
        let mut state = lock(&self.state);
        Self::push_jobs(&mut state, std::slice::from_ref(job));
        Ok(JobId(state.next_job))
    }

    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<Job>, RepositoryError> {
        let mut state = lock(&self.state);
        let mut claimed = Vec::new();
        for (id, stored) in state.jobs.iter_mut() {
            if claimed.len() >= limit as usize {
                break;
            }
            let leased = stored.lease.as_ref().is_some_and(|(_, until)| *until > now);
            if stored.dead || leased || stored.job.run_at > now {
                continue;
            }
            stored.lease = Some((worker.to_owned(), lease_until));
            claimed.push(Job {
                id: JobId(*id),
                order: stored.job.order.clone(),
                command: stored.job.command.clone(),
                attempts: stored.attempts,
                lease_until,
                last_error: stored.last_error.clone(),
            });
        }
        Ok(claimed)
    }

    async fn complete(&self, job: &Job, worker: &str) -> Result<(), RepositoryError> {
        let mut state = lock(&self.state);
        match state.jobs.get(&job.id.0) {
            Some(stored) if stored.lease.as_ref().is_some_and(|(w, _)| w == worker) => {
                state.jobs.remove(&job.id.0);
                Ok(())
            }
            _ => Err(RepositoryError::NotFound(format!(
                "job {} held by {worker}",
                job.id.0
            ))),
        }
    }

    async fn retry(
        &self,
        job: &Job,
        worker: &str,
        run_at: Timestamp,
        error: &str,
    ) -> Result<(), RepositoryError> {
        let mut state = lock(&self.state);
        match state.jobs.get_mut(&job.id.0) {
            Some(stored) if stored.lease.as_ref().is_some_and(|(w, _)| w == worker) => {
                stored.attempts += 1;
                stored.lease = None;
                stored.job.run_at = run_at;
                stored.last_error = Some(error.to_owned());
                Ok(())
            }
            _ => Err(RepositoryError::NotFound(format!(
                "job {} held by {worker}",
                job.id.0
            ))),
        }
    }

    async fn bury(&self, job: &Job, worker: &str, error: &str) -> Result<(), RepositoryError> {
        let mut state = lock(&self.state);
        match state.jobs.get_mut(&job.id.0) {
            Some(stored) if stored.lease.as_ref().is_some_and(|(w, _)| w == worker) => {
                stored.dead = true;
                stored.lease = None;
                stored.last_error = Some(error.to_owned());
                Ok(())
            }
            _ => Err(RepositoryError::NotFound(format!(
                "job {} held by {worker}",
                job.id.0
            ))),
        }
    }

    async fn pending_count(&self) -> Result<u64, RepositoryError> {
        Ok(lock(&self.state).jobs.values().filter(|j| !j.dead).count() as u64)
    }
}
