//! In-memory fakes of the ports, for tests of the core and of hosts embedding it.
//!
//! They keep state like the real adapters do (versions, leases, dedupe keys, idempotency keys),
//! so state-machine flows can run end to end without I/O. Use mockall mocks instead when a test
//! asserts calls ("the issuer was called once").

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::ids::{CardCode, CardId, IssueKey, OrderId, OrderKey, QrToken};
use crate::invoice::{InvoiceNumber, IssuedInvoice};
use crate::order::Order;
use crate::ports::{
    CachedToken, Clock, EventInbox, IdGenerator, InboxItem, InvoiceIssuer, InvoiceNumbering,
    IssueError, IssueOutcome, IssueRequest, IssuerCapabilities, Job, JobId, JobQueue, NewJob,
    OrderFilter, OrderRepository, PdfDocument, RecordOutcome, RepositoryError, ReverseOutcome,
    ReverseRequest, SetupState, SetupStore, StateCount, TokenCache,
};
use crate::time::Timestamp;
use crate::weixin::WeixinEvent;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned fake only means another test thread panicked; its data is still usable.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A clock the test moves by hand.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(AtomicI64::new(start.millis()))
    }
    /// Moves the clock forward.
    pub fn advance_millis(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// Sequential, predictable ids.
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl SequentialIds {
    fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
}

impl IdGenerator for SequentialIds {
    fn issue_key(&self) -> IssueKey {
        let text = format!("K{:019}", self.next());
        IssueKey::parse(&text).unwrap_or_else(|_| unreachable_key())
    }
    fn order_id(&self) -> OrderId {
        let text = format!("ORD{:012}", self.next());
        OrderId::parse(&text).unwrap_or_else(|_| unreachable_order_id())
    }
    fn qr_token(&self) -> QrToken {
        let text = format!("QR{:014}", self.next());
        QrToken::parse(&text).unwrap_or_else(|_| unreachable_qr())
    }
    fn nonce(&self) -> String {
        format!("nonce{}", self.next())
    }
}

// The formats above are valid by construction (fixed prefix + digits within the length rules).
#[allow(clippy::panic)]
fn unreachable_key() -> IssueKey {
    panic!("sequential issue key format is valid by construction")
}
#[allow(clippy::panic)]
fn unreachable_order_id() -> OrderId {
    panic!("sequential order id format is valid by construction")
}
#[allow(clippy::panic)]
fn unreachable_qr() -> QrToken {
    panic!("sequential qr token format is valid by construction")
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

#[derive(Debug)]
struct InboxRow {
    item: InboxItem,
    processed: bool,
    lease_until: Option<Timestamp>,
    not_before: Timestamp,
    note: Option<String>,
}

/// The event inbox in memory, deduplicating on [`WeixinEvent::dedupe_key`].
#[derive(Debug, Default)]
pub struct InMemoryEventInbox {
    rows: Mutex<(HashMap<String, i64>, BTreeMap<i64, InboxRow>)>,
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
        let id = i64::try_from(rows.1.len()).unwrap_or(i64::MAX) + 1;
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
            .ok_or_else(|| RepositoryError::NotFound(format!("inbox event {id}")))?;
        row.item.attempts += 1;
        row.lease_until = None;
        row.not_before = retry_at;
        row.note = Some(error.to_owned());
        Ok(())
    }
}

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

/// How [`FakeIssuer`] answers `issue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeIssuerMode {
    /// Issue at once.
    Synchronous,
    /// Answer pending; `query` issues after this many polls.
    PendingPolls(u32),
    /// Apply the request but answer "outcome unknown" (a timeout after sending).
    ApplyThenTimeout,
    /// Refuse with this reason.
    Reject(String),
}

#[derive(Debug, Default)]
struct FakeIssuerState {
    issued: HashMap<IssueKey, (IssueOutcome, u32)>,
    issue_calls: u32,
    reverse_calls: u32,
    numbers: u64,
}

/// A tax platform in memory: idempotent by key, numbering `26009` + sequence, with modes for
/// the asynchronous and faulty paths.
#[derive(Debug)]
pub struct FakeIssuer {
    mode: Mutex<FakeIssuerMode>,
    state: Mutex<FakeIssuerState>,
    issued_at: Timestamp,
}

impl FakeIssuer {
    /// A fake issuer in `mode`, stamping invoices with `issued_at`.
    pub fn new(mode: FakeIssuerMode, issued_at: Timestamp) -> Self {
        Self {
            mode: Mutex::new(mode),
            state: Mutex::new(FakeIssuerState::default()),
            issued_at,
        }
    }

    /// Changes the mode.
    pub fn set_mode(&self, mode: FakeIssuerMode) {
        *lock(&self.mode) = mode;
    }

    /// Distinct invoices issued (the witness for "one invoice per order").
    pub fn invoices_issued(&self) -> usize {
        lock(&self.state)
            .issued
            .values()
            .filter(|(o, _)| matches!(o, IssueOutcome::Issued(_)))
            .count()
    }

    /// Calls to `issue` so far.
    pub fn issue_calls(&self) -> u32 {
        lock(&self.state).issue_calls
    }

    fn mint(&self, state: &mut FakeIssuerState, request: &IssueRequest) -> IssueOutcome {
        state.numbers += 1;
        let text = format!("26009{:015}", state.numbers);
        match InvoiceNumber::digital(&text) {
            Ok(number) => IssueOutcome::Issued(IssuedInvoice {
                number,
                kind: request.draft.kind(),
                issued_at: self.issued_at,
                totals: request.draft.lines().totals(),
                qr_payload: None,
                provider_ref: None,
                red_of: None,
            }),
            Err(e) => IssueOutcome::Rejected(crate::ports::IssueRejection {
                reason: e.to_string(),
                code: None,
                serial_is_dead: false,
            }),
        }
    }
}

#[async_trait]
impl InvoiceIssuer for FakeIssuer {
    fn capabilities(&self) -> IssuerCapabilities {
        IssuerCapabilities {
            name: "fake".to_owned(),
            kinds: vec![crate::invoice::InvoiceKind::DigitalOrdinary],
            synchronous: true,
            full_reversal: true,
            partial_reversal: false,
            max_lines: 2000,
        }
    }

    async fn issue(&self, request: &IssueRequest) -> Result<IssueOutcome, IssueError> {
        let mode = lock(&self.mode).clone();
        let mut state = lock(&self.state);
        state.issue_calls += 1;
        if let Some((outcome, _)) = state.issued.get(&request.key) {
            return Ok(outcome.clone());
        }
        match mode {
            FakeIssuerMode::Synchronous => {
                let outcome = self.mint(&mut state, request);
                state
                    .issued
                    .insert(request.key.clone(), (outcome.clone(), 0));
                Ok(outcome)
            }
            FakeIssuerMode::PendingPolls(polls) => {
                let outcome = self.mint(&mut state, request);
                state.issued.insert(request.key.clone(), (outcome, polls));
                Ok(IssueOutcome::Pending(None))
            }
            FakeIssuerMode::ApplyThenTimeout => {
                let outcome = self.mint(&mut state, request);
                state.issued.insert(request.key.clone(), (outcome, 0));
                Err(IssueError::OutcomeUnknown(
                    "timed out after sending".to_owned(),
                ))
            }
            FakeIssuerMode::Reject(reason) => {
                let outcome = IssueOutcome::Rejected(crate::ports::IssueRejection {
                    reason,
                    code: Some("E1".to_owned()),
                    serial_is_dead: true,
                });
                state
                    .issued
                    .insert(request.key.clone(), (outcome.clone(), 0));
                Ok(outcome)
            }
        }
    }

    async fn query(&self, key: &IssueKey) -> Result<Option<IssueOutcome>, IssueError> {
        let mut state = lock(&self.state);
        match state.issued.get_mut(key) {
            None => Ok(None),
            Some((outcome, polls)) if *polls > 0 => {
                *polls -= 1;
                let _ = outcome;
                Ok(Some(IssueOutcome::Pending(None)))
            }
            Some((outcome, _)) => Ok(Some(outcome.clone())),
        }
    }

    async fn fetch_pdf(
        &self,
        key: &IssueKey,
        _invoice: &IssuedInvoice,
    ) -> Result<PdfDocument, IssueError> {
        let body = format!("%PDF-1.7\n% fake invoice for {key}\n%%EOF\n");
        PdfDocument::parse(body.into_bytes()).map_err(|e| IssueError::Other(Box::new(e)))
    }

    async fn reverse(&self, request: &ReverseRequest) -> Result<ReverseOutcome, IssueError> {
        let mut state = lock(&self.state);
        state.reverse_calls += 1;
        if let Some((IssueOutcome::Issued(red), _)) = state.issued.get(&request.key) {
            return Ok(ReverseOutcome::RedIssued(red.clone()));
        }
        state.numbers += 1;
        let text = format!("26009{:015}", state.numbers);
        let number = InvoiceNumber::digital(&text).map_err(|e| IssueError::Other(Box::new(e)))?;
        let red = IssuedInvoice {
            number,
            kind: request.original.kind,
            issued_at: self.issued_at,
            totals: request.draft.lines().totals(),
            qr_payload: None,
            provider_ref: None,
            red_of: Some(crate::invoice::RedLink {
                original: request.original.number.clone(),
                red_form_number: None,
                reason: request.reason,
            }),
        };
        state
            .issued
            .insert(request.key.clone(), (IssueOutcome::Issued(red.clone()), 0));
        Ok(ReverseOutcome::RedIssued(red))
    }
}

/// Sample data for tests: one catering line of ¥100.00 at 6 %, tax-inclusive.
pub mod fixtures {
    use crate::ids::{AppId, OrderId, OrderKey, SPappId, SellerId};
    use crate::invoice::{
        Direction, InvoiceKind, InvoiceLines, ItemName, LineInput, TaxCategory, TaxCategoryCode,
    };
    use crate::money::{Fen, Quantity, UnitPrice};
    use crate::order::NewOrder;
    use crate::party::{Buyer, PartyName, Seller, TaxpayerId};
    use crate::scenario::{PageStyle, Scenario};
    use crate::tax::TaxRate;
    use crate::tax::{LineKind, PriceBasis};

    #[allow(clippy::panic)]
    fn ok<T, E: std::fmt::Display>(value: Result<T, E>) -> T {
        value.unwrap_or_else(|e| panic!("fixture data is valid: {e}"))
    }

    /// The sandbox platform id.
    pub fn s_pappid() -> SPappId {
        ok(SPappId::parse("d3hzYW5kYm94b2ZmaWNpYWwwMV9zYW5kYm94"))
    }

    /// The Official Account appid.
    pub fn oa_appid() -> AppId {
        ok(AppId::parse("wxsandboxofficial01"))
    }

    /// An order key.
    pub fn key(order_id: &str) -> OrderKey {
        OrderKey {
            s_pappid: s_pappid(),
            order_id: ok(OrderId::parse(order_id)),
        }
    }

    /// The seller key.
    pub fn seller_id() -> SellerId {
        ok(SellerId::parse("store-01"))
    }

    /// A line input: `amount` yuan tax-inclusive of 餐费 at 6 %.
    pub fn line(amount: &str) -> LineInput {
        LineInput {
            kind: LineKind::Normal,
            name: ok(ItemName::parse("餐费")),
            category: ok(TaxCategory::new(
                ok(TaxCategoryCode::parse("3070401000000000000")),
                None,
            )),
            spec: None,
            unit: Some("份".to_owned()),
            quantity: Some(ok(Quantity::parse("1"))),
            unit_price: Some(ok(UnitPrice::parse(amount))),
            amount: None,
            basis: PriceBasis::TaxInclusive,
            rate: TaxRate::P6,
        }
    }

    /// Computed blue lines for one line of `amount` yuan.
    pub fn lines(amount: &str) -> InvoiceLines {
        ok(InvoiceLines::compute(vec![line(amount)], Direction::Blue))
    }

    /// The amount in fen.
    pub fn fen(yuan: &str) -> Fen {
        ok(Fen::parse_yuan(yuan))
    }

    /// A company buyer with a valid credit code.
    pub fn company() -> Buyer {
        ok(Buyer::organization(
            ok(PartyName::parse("深圳市腾讯计算机系统有限公司")),
            Some(ok(TaxpayerId::parse("91440300708461136T"))),
            None,
            None,
            None,
            None,
        ))
    }

    /// A personal buyer.
    pub fn person() -> Buyer {
        Buyer::individual(ok(PartyName::parse("张三")))
    }

    /// The sandbox seller.
    pub fn seller() -> Seller {
        ok(Seller::new(
            ok(PartyName::parse("沙箱餐饮有限公司")),
            ok(TaxpayerId::parse("91110000000000000E")),
            Some("北京市海淀区沙箱路1号 010-12345678".to_owned()),
            None,
            "沙箱开票员",
        ))
    }

    /// A new order for `scenario` with page style 1 and no buyer.
    pub fn new_order(order_id: &str, scenario: Scenario) -> NewOrder {
        NewOrder {
            key: key(order_id),
            scenario,
            seller: seller_id(),
            kind: InvoiceKind::DigitalOrdinary,
            lines: lines("100.00"),
            buyer: None,
            page_style: PageStyle::FillTitle,
            authorizing_appid: oa_appid(),
            redirect_url: None,
            qr_token: None,
            remark: None,
        }
    }
}
