//! [`InMemoryOrderRepository`]: orders with versions and the job queue, changed together.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::ids::{CardCode, CardId, OpenId, OrderKey, QrToken};
use crate::order::Order;
use crate::ports::{
    Job, JobId, JobQueue, NewJob, OrderFilter, OrderRepository, PendingJob, RepositoryError,
    StateCount,
};
use crate::time::Timestamp;

/// Whether `order` passes `filter`'s conditions (not its paging), as the database's `WHERE`.
fn matches(filter: &OrderFilter, order: &Order) -> bool {
    filter.state.is_none_or(|s| order.state() == s)
        && filter.scenario.is_none_or(|s| order.scenario() == s)
        && filter.updated_before.is_none_or(|t| order.updated_at() < t)
        && filter.updated_after.is_none_or(|t| order.updated_at() > t)
        && filter.seller.as_ref().is_none_or(|s| order.seller() == s)
        && filter.created_from.is_none_or(|t| order.created_at() >= t)
        && filter.created_before.is_none_or(|t| order.created_at() < t)
        && filter.text.as_deref().is_none_or(|text| {
            // The database matches the order id column and the stored JSON the same way.
            order.key().order_id.as_str().contains(text)
                || serde_json::to_string(order).is_ok_and(|json| json.contains(text))
        })
}

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

    fn save(state: &mut StoreState, order: &Order, jobs: &[NewJob]) -> Result<(), RepositoryError> {
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
        let stored = Self::stored(state, order)?;
        state.orders.insert(order.key().clone(), stored);
        Self::push_jobs(state, jobs);
        Ok(())
    }

    /// `order` at its next version as the database would give it back: through its JSON (so a
    /// field that does not survive serialization fails here as it would in production), after
    /// the unique constraints on the card (template and code) and the QR token.
    fn stored(state: &StoreState, order: &Order) -> Result<Order, RepositoryError> {
        let card = order
            .card()
            .and_then(|c| c.code.as_ref().map(|code| (&c.card_id, code)));
        for other in state.orders.values().filter(|o| o.key() != order.key()) {
            let other_card = other
                .card()
                .and_then(|c| c.code.as_ref().map(|code| (&c.card_id, code)));
            if card.is_some() && other_card == card {
                return Err(RepositoryError::Conflict(format!(
                    "card already held by order {}",
                    other.key().order_id
                )));
            }
            if order.qr_token().is_some() && other.qr_token() == order.qr_token() {
                return Err(RepositoryError::Conflict(format!(
                    "QR token already printed for order {}",
                    other.key().order_id
                )));
            }
        }
        let mut stored = order.clone();
        stored.mark_saved();
        let json =
            serde_json::to_string(&stored).map_err(|err| RepositoryError::Other(Box::new(err)))?;
        serde_json::from_str(&json).map_err(|err| RepositoryError::Corrupt(err.to_string()))
    }

    /// Whether `worker` holds `job` at its lease, as the real queue fences: by worker and by
    /// the exact lease of the claim (a later claim by the same worker is another lease).
    fn holds(stored: &StoredJob, job: &Job, worker: &str) -> bool {
        !stored.dead
            && stored
                .lease
                .as_ref()
                .is_some_and(|(w, until)| w == worker && *until == job.lease_until)
    }

    fn not_held(job: &Job, worker: &str) -> RepositoryError {
        RepositoryError::LeaseLost(format!("job {} is not held by {worker}", job.id.0))
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
        let stored = Self::stored(&state, order)?;
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
                    .is_some_and(|c| &c.card_id == card_id && c.code.as_ref() == Some(code))
            })
            .cloned())
    }

    async fn find_by_unknown_card(
        &self,
        card_id: &CardId,
        openid: &OpenId,
    ) -> Result<Vec<Order>, RepositoryError> {
        let mut found: Vec<Order> = lock(&self.state)
            .orders
            .values()
            .filter(|o| {
                o.card().is_some_and(|c| {
                    &c.card_id == card_id && c.code.is_none() && c.openid.as_ref() == Some(openid)
                })
            })
            .cloned()
            .collect();
        found.sort_by(|a, b| a.key().order_id.as_str().cmp(b.key().order_id.as_str()));
        Ok(found)
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
        Self::save(&mut state, order, jobs)
    }

    async fn update_completing(
        &self,
        order: &Order,
        jobs: &[NewJob],
        done: &Job,
        worker: &str,
    ) -> Result<(), RepositoryError> {
        let mut state = lock(&self.state);
        // The fence first: nothing is written unless the worker still holds the lease.
        if !state
            .jobs
            .get(&done.id.0)
            .is_some_and(|stored| Self::holds(stored, done, worker))
        {
            return Err(RepositoryError::LeaseLost(format!(
                "job {} is no longer held by {worker}",
                done.id.0
            )));
        }
        Self::save(&mut state, order, jobs)?;
        state.jobs.remove(&done.id.0);
        Ok(())
    }

    async fn list(&self, filter: &OrderFilter) -> Result<Vec<Order>, RepositoryError> {
        let state = lock(&self.state);
        let mut orders: Vec<Order> = state
            .orders
            .values()
            .filter(|o| matches(filter, o))
            .cloned()
            .collect();
        // The real store's order: by update time, then platform and order id.
        orders.sort_by(|a, b| {
            (
                a.updated_at(),
                a.key().s_pappid.as_str(),
                a.key().order_id.as_str(),
            )
                .cmp(&(
                    b.updated_at(),
                    b.key().s_pappid.as_str(),
                    b.key().order_id.as_str(),
                ))
        });
        if !filter.oldest_first {
            orders.reverse();
        }
        if let Some(after) = &filter.after {
            // Past the position in the listing's direction (keyset paging).
            orders.retain(|o| {
                let position = crate::ports::OrderPosition::of(o);
                if filter.oldest_first {
                    position > *after
                } else {
                    position < *after
                }
            });
        }
        orders.truncate(filter.limit.clamp(1, 500) as usize);
        Ok(orders)
    }

    async fn count(&self, filter: &OrderFilter) -> Result<u64, RepositoryError> {
        let state = lock(&self.state);
        Ok(state.orders.values().filter(|o| matches(filter, o)).count() as u64)
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
        // As the real queue: due jobs, earliest `run_at` first, then by id.
        let mut due: Vec<(Timestamp, i64)> = state
            .jobs
            .iter()
            .filter(|(_, stored)| {
                let leased = stored.lease.as_ref().is_some_and(|(_, until)| *until > now);
                !stored.dead && !leased && stored.job.run_at <= now
            })
            .map(|(id, stored)| (stored.job.run_at, *id))
            .collect();
        due.sort_unstable();
        due.truncate(limit as usize);
        let mut claimed = Vec::new();
        for (_, id) in due {
            let Some(stored) = state.jobs.get_mut(&id) else {
                continue;
            };
            stored.lease = Some((worker.to_owned(), lease_until));
            claimed.push(Job {
                id: JobId(id),
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
            Some(stored) if Self::holds(stored, job, worker) => {
                state.jobs.remove(&job.id.0);
                Ok(())
            }
            _ => Err(Self::not_held(job, worker)),
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
            Some(stored) if Self::holds(stored, job, worker) => {
                stored.attempts += 1;
                stored.lease = None;
                stored.job.run_at = run_at;
                stored.last_error = Some(error.to_owned());
                Ok(())
            }
            _ => Err(Self::not_held(job, worker)),
        }
    }

    async fn bury(&self, job: &Job, worker: &str, error: &str) -> Result<(), RepositoryError> {
        let mut state = lock(&self.state);
        match state.jobs.get_mut(&job.id.0) {
            Some(stored) if Self::holds(stored, job, worker) => {
                stored.dead = true;
                stored.attempts += 1;
                stored.lease = None;
                stored.last_error = Some(error.to_owned());
                Ok(())
            }
            _ => Err(Self::not_held(job, worker)),
        }
    }

    async fn renew(
        &self,
        job: &Job,
        worker: &str,
        lease_until: Timestamp,
    ) -> Result<(), RepositoryError> {
        let mut state = lock(&self.state);
        match state.jobs.get_mut(&job.id.0) {
            Some(stored) if Self::holds(stored, job, worker) => {
                stored.lease = Some((worker.to_owned(), lease_until));
                Ok(())
            }
            _ => Err(Self::not_held(job, worker)),
        }
    }

    async fn pending_count(&self) -> Result<u64, RepositoryError> {
        Ok(lock(&self.state).jobs.values().filter(|j| !j.dead).count() as u64)
    }

    async fn pending_for(&self, order: &OrderKey) -> Result<Vec<PendingJob>, RepositoryError> {
        let mut jobs: Vec<(Timestamp, i64, PendingJob)> = lock(&self.state)
            .jobs
            .iter()
            .filter(|(_, j)| !j.dead && j.job.order == *order)
            .map(|(id, j)| {
                let pending = PendingJob {
                    command: j.job.command.clone(),
                    attempts: j.attempts,
                    last_error: j.last_error.clone(),
                    run_at: j.job.run_at,
                };
                (j.job.run_at, *id, pending)
            })
            .collect();
        jobs.sort_by_key(|(run_at, id, _)| (*run_at, *id));
        Ok(jobs.into_iter().map(|(_, _, job)| job).collect())
    }
}
