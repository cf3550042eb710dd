//! Invoicing: start an order per scenario (`start`), take Weixin's pushes (`events`), run the
//! pipeline's jobs (`pipeline`, one function per command in `steps`, the card payload in
//! `card`), and the operator's actions and reads (here).

mod card;
mod events;
mod pipeline;
mod start;
mod steps;

use std::sync::Arc;

use fapiao_domain::Timestamp;
use fapiao_domain::ids::{OrderId, OrderKey, SPappId};
use fapiao_domain::invoice::{Direction, InvoiceLines, LineInput, RedReason};
use fapiao_domain::order::{AttentionReason, Command, Input, Order};
use fapiao_domain::ports::{
    Job, NewJob, OrderFilter, OrderPosition, PdfDocument, PendingJob, RepositoryError, SetupState,
    StateCount,
};
use fapiao_domain::weixin::ReimburseStatus;
use tracing::info;

use super::Ports;
use crate::error::AppError;
use crate::settings::Settings;

pub use events::{EventOutcome, PushAccepted};
pub use pipeline::JobOutcome;
pub use start::{FrontendAction, StartRequest, Started};

/// Which of an order's invoices a PDF is asked of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PdfKind {
    /// The (blue) invoice issued for the order.
    Blue,
    /// The red invoice of its reversal.
    Red,
}

/// Invoicing use cases.
#[derive(Debug, Clone)]
pub struct InvoiceService {
    ports: Ports,
    settings: Arc<Settings>,
    /// Where the next reconciliation round starts (the last round's newest order).
    reconcile_cursor: Arc<std::sync::Mutex<Option<OrderPosition>>>,
    /// The platform id as last read from the setup state, and when: every push without an
    /// `SPappId` needs it, so it is read at most every [`PLATFORM_ID_TTL`].
    platform_id: Arc<std::sync::Mutex<Option<(SPappId, std::time::Instant)>>>,
}

/// How long a platform id read from the setup state is used before it is read again. A push
/// handled meanwhile under an id that `fapiao setup` just changed finds no order and is kept
/// and tried again (`EventOutcome::Early`), so a stale id only delays it.
const PLATFORM_ID_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// One change to an order: an input and what the save rides on.
struct Change<'a> {
    input: Input,
    /// The order as just read, used for the first attempt (the version check on save still
    /// catches any change since).
    loaded: Option<Order>,
    /// The job (and its worker) whose step made this change: completed in the same
    /// transaction, fenced by its lease (nothing is saved when the lease was lost).
    completing: Option<(&'a Job, &'a str)>,
    /// With `completing`: lease the next job due now to the same worker for this many
    /// milliseconds and answer it ([`Saved::chained`]).
    chain: Option<i64>,
}

impl<'a> Change<'a> {
    fn new(input: Input) -> Self {
        Change {
            input,
            loaded: None,
            completing: None,
            chain: None,
        }
    }

    fn on(mut self, order: Order) -> Self {
        self.loaded = Some(order);
        self
    }

    fn completing(mut self, job: &'a Job, worker: &'a str) -> Self {
        self.completing = Some((job, worker));
        self
    }

    fn chaining(mut self, lease_millis: Option<i64>) -> Self {
        self.chain = lease_millis;
        self
    }
}

/// What a save did.
struct Saved {
    /// The order as stored now.
    order: Order,
    /// Whether anything changed (a repeated input changes nothing and saves nothing).
    changed: bool,
    /// The next job, already leased to the completing worker (see [`Change::chaining`]).
    chained: Option<Job>,
}

fn new_job(order: &OrderKey, command: Command, run_at: Timestamp) -> NewJob {
    NewJob {
        order: order.clone(),
        command,
        run_at,
    }
}

impl InvoiceService {
    /// A service over `ports` with `settings`.
    pub fn new(ports: Ports, settings: Settings) -> Self {
        Self {
            ports,
            settings: Arc::new(settings),
            reconcile_cursor: Arc::default(),
            platform_id: Arc::default(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The tax category table in force today (China Standard Time): the table a line written
    /// now is checked against and takes its 简称 from.
    pub fn tax_table_today(&self) -> &fapiao_domain::TaxCategoryTable {
        let today = self.ports.clock.now().china_date();
        self.settings.tax_categories.in_force(today)
    }

    async fn setup_state(&self) -> Result<SetupState, AppError> {
        Ok(self.ports.setup.load().await?)
    }

    async fn platform_id(&self) -> Result<SPappId, AppError> {
        if let Ok(cached) = self.platform_id.lock()
            && let Some((id, read_at)) = cached.as_ref()
            && read_at.elapsed() < PLATFORM_ID_TTL
        {
            return Ok(id.clone());
        }
        let id = self.setup_state().await?.s_pappid.ok_or_else(|| {
            AppError::SetupIncomplete("s_pappid is unknown: run setup (seturl)".into())
        })?;
        if let Ok(mut cached) = self.platform_id.lock() {
            *cached = Some((id.clone(), std::time::Instant::now()));
        }
        Ok(id)
    }

    async fn reload(&self, key: &OrderKey) -> Result<Order, AppError> {
        self.ports
            .orders
            .get(key)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("order {}", key.order_id)))
    }

    /// Applies the change's input to the order and saves it with the resulting jobs,
    /// reloading and re-applying on a concurrent change (the input is a fact; it is never lost
    /// or doubled).
    async fn save(&self, key: &OrderKey, change: Change<'_>) -> Result<Saved, AppError> {
        let Change {
            input,
            mut loaded,
            completing,
            chain,
        } = change;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut order = match loaded.take() {
                Some(order) => order,
                None => self.reload(key).await?,
            };
            let before = order.clone();
            let now = self.ports.clock.now();
            let commands = order.apply(input.clone(), now)?;
            if order == before && commands.is_empty() {
                return Ok(Saved {
                    order,
                    changed: false,
                    chained: None,
                });
            }
            let jobs: Vec<NewJob> = commands.into_iter().map(|c| new_job(key, c, now)).collect();
            let saved = match (completing, chain) {
                (Some((job, worker)), Some(lease_millis)) => {
                    self.ports
                        .orders
                        .update_completing_chained(
                            &order,
                            &jobs,
                            job,
                            worker,
                            now,
                            now.plus_millis(lease_millis),
                        )
                        .await
                }
                (Some((job, worker)), None) => self
                    .ports
                    .orders
                    .update_completing(&order, &jobs, job, worker)
                    .await
                    .map(|()| None),
                (None, _) => self.ports.orders.update(&order, &jobs).await.map(|()| None),
            };
            match saved {
                Ok(chained) => {
                    order.mark_saved();
                    info!(order_id = %key.order_id, from = %before.state(), to = %order.state(), "order moved");
                    return Ok(Saved {
                        order,
                        changed: true,
                        chained,
                    });
                }
                Err(RepositoryError::StaleVersion { .. }) if attempts < 5 => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Loads an order.
    ///
    /// # Errors
    /// [`AppError::NotFound`] when it does not exist.
    pub async fn order(&self, order_id: &OrderId) -> Result<Order, AppError> {
        let key = OrderKey {
            s_pappid: self.platform_id().await?,
            order_id: order_id.clone(),
        };
        self.reload(&key).await
    }

    /// The jobs `order` waits on, the next due first, with their attempts, last error and
    /// next run (so an order being retried does not look healthy).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn pending_jobs(&self, order: &Order) -> Result<Vec<PendingJob>, AppError> {
        Ok(self.ports.jobs.pending_for(order.key()).await?)
    }

    /// Deletes the processed pushes received more than `retention_millis` ago; answers how
    /// many went. Unprocessed pushes are kept whatever their age.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn purge_inbox(&self, retention_millis: i64) -> Result<u64, AppError> {
        let before = self.ports.clock.now().plus_millis(-retention_millis);
        Ok(self.ports.inbox.purge_processed(before).await?)
    }

    /// Orders matching `filter`, most recently updated first.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list(&self, filter: &OrderFilter) -> Result<Vec<Order>, AppError> {
        Ok(self.ports.orders.list(filter).await?)
    }

    /// How many orders match `filter` (its limit and position aside).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn count(&self, filter: &OrderFilter) -> Result<u64, AppError> {
        Ok(self.ports.orders.count(filter).await?)
    }

    /// Orders per scenario and state.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn counts(&self) -> Result<Vec<StateCount>, AppError> {
        Ok(self.ports.orders.count_by_state().await?)
    }

    /// The PDF of an order's blue invoice or, after a reversal, of its red invoice.
    ///
    /// # Errors
    /// [`AppError::NotFound`] when the order has no such invoice (yet).
    pub async fn pdf(&self, order_id: &OrderId, kind: PdfKind) -> Result<PdfDocument, AppError> {
        let order = self.order(order_id).await?;
        let issued = match kind {
            PdfKind::Blue => order.issue_key().zip(order.invoice()),
            PdfKind::Red => order
                .reversal()
                .and_then(|r| r.red_invoice.as_ref().map(|red| (&r.key, red))),
        };
        match (issued, kind) {
            (Some((key, invoice)), _) => Ok(self.ports.issuer.fetch_pdf(key, invoice).await?),
            (None, PdfKind::Blue) => Err(AppError::NotFound(format!(
                "order {order_id} has no issued invoice yet"
            ))),
            (None, PdfKind::Red) => Err(AppError::NotFound(format!(
                "order {order_id} has no red invoice (it is not reversed, or its red invoice is not issued yet)"
            ))),
        }
    }

    /// Computes the lines, totals and 大写 without storing anything.
    ///
    /// # Errors
    /// [`AppError::Invalid`] naming the line and the rule.
    pub fn preview(&self, lines: Vec<LineInput>) -> Result<InvoiceLines, AppError> {
        InvoiceLines::compute(lines, Direction::Blue)
            .map_err(|e| AppError::invalid("lines", e.to_string()))
    }

    /// Applies an operator's input to the order `order_id`.
    async fn operate(&self, order_id: &OrderId, input: Input) -> Result<Order, AppError> {
        let order = self.order(order_id).await?;
        let key = order.key().clone();
        Ok(self.save(&key, Change::new(input).on(order)).await?.order)
    }

    /// The merchant refuses to invoice; the buyer is told `reason`.
    ///
    /// # Errors
    /// [`AppError::Transition`] when a tax invoice exists or may exist (reverse instead) or the
    /// order is finished.
    pub async fn reject(
        &self,
        order_id: &OrderId,
        reason: &str,
        url: Option<String>,
    ) -> Result<Order, AppError> {
        let input = Input::RejectRequested {
            reason: reason.to_owned(),
            url,
        };
        self.operate(order_id, input).await
    }

    /// An operator resumes an order from needs-attention.
    ///
    /// # Errors
    /// [`AppError::Transition`] when the order does not need attention.
    pub async fn retry(&self, order_id: &OrderId) -> Result<Order, AppError> {
        let order = self.order(order_id).await?;
        // The platform answers a repeated key with its first outcome: a rejected reversal is
        // retried as a new request, under a new key.
        let input = match (order.attention_details(), order.reversal()) {
            (Some(attention), Some(reversal))
                if matches!(attention.reason, AttentionReason::ReversalRejected { .. }) =>
            {
                Input::ReverseRequested {
                    reason: reversal.reason,
                    key: self.ports.ids.issue_key(),
                }
            }
            _ => Input::RetryRequested,
        };
        let key = order.key().clone();
        Ok(self.save(&key, Change::new(input).on(order)).await?.order)
    }

    /// Sets the card's status at Weixin again (a job of its own), for an operator who sees the
    /// buyer's card disagree with the order: the cancellation of a reversed order's card.
    ///
    /// # Errors
    /// [`AppError::Invalid`] when the order has no card status to set: it is not reversed, or
    /// its card's code is not known yet.
    pub async fn resend_card_status(&self, order_id: &OrderId) -> Result<Order, AppError> {
        let order = self.order(order_id).await?;
        let command = Command::UpdateCardStatus {
            status: ReimburseStatus::Cancel,
        };
        if !order.accepts(&command) {
            return Err(AppError::invalid(
                "order_id",
                format!(
                    "order {order_id} has no card status to set: only a reversed order's card (with a known code) is set by fapiao, to cancelled"
                ),
            ));
        }
        let job = new_job(order.key(), command, self.ports.clock.now());
        self.ports.jobs.enqueue(&job).await?;
        info!(order_id = %order_id, "card status update enqueued by an operator");
        Ok(order)
    }

    /// Fully reverses the order's invoice with a red invoice and cancels its card.
    ///
    /// # Errors
    /// [`AppError::Transition`] when there is no invoice or a reversal is under way.
    pub async fn reverse(&self, order_id: &OrderId, reason: RedReason) -> Result<Order, AppError> {
        let key = self.ports.ids.issue_key();
        self.operate(order_id, Input::ReverseRequested { reason, key })
            .await
    }
}
