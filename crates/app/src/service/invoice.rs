//! Invoicing: start an order per scenario, take Weixin's pushes, run the pipeline's jobs, and
//! the operator's actions (reject, retry, reverse).

use fapiao_domain::Timestamp;
use fapiao_domain::ids::{AppId, OrderId, OrderKey, QrToken, SellerId};
use fapiao_domain::invoice::{Direction, InvoiceDraft, InvoiceLines, LineInput};
use fapiao_domain::money::Fen;
use fapiao_domain::order::{
    AttentionReason, Authorization, Command, Input, IssueResult, NewOrder, Order, OrderState, Step,
    UploadedPdf,
};
use fapiao_domain::party::Buyer;
use fapiao_domain::ports::{
    InboxItem, IssueError, IssueOutcome, IssueRequest, Job, NewJob, RepositoryError,
    ReverseOutcome, ReverseRequest, SetupState,
};
use fapiao_domain::scenario::{PageStyle, Scenario};
use fapiao_domain::weixin::{
    AuthOutcome, AuthStatus, AuthUrlRequest, CardInsertion, CardItem, ErrorClass, InvoiceCardData,
    RejectRequest, WeixinError, WeixinEvent,
};
use tracing::{info, warn};

use super::Ports;
use crate::error::AppError;
use crate::settings::Settings;

/// What the merchant asks for when a buyer wants an invoice.
#[derive(Debug, Clone, PartialEq)]
pub struct StartRequest {
    /// Scenario.
    pub scenario: Scenario,
    /// The merchant's order id; fapiao mints one when absent. For post-payment, the id Weixin
    /// will report (the WeChat Pay transaction id by default).
    pub order_id: Option<OrderId>,
    /// Invoicing entity.
    pub seller: SellerId,
    /// Invoice lines as entered.
    pub lines: Vec<LineInput>,
    /// The buyer's title, when the merchant already has it.
    pub buyer: Option<Buyer>,
    /// Auth page style; the configured default when absent.
    pub page_style: Option<PageStyle>,
    /// Page to open after authorization (H5).
    pub redirect_url: Option<String>,
    /// Remark printed on the invoice.
    pub remark: Option<String>,
}

/// What the merchant's front end does next (`SPEC.md` §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontendAction {
    /// H5 in Weixin: redirect the buyer's browser to the auth URL.
    Redirect {
        /// Auth URL.
        auth_url: String,
    },
    /// Receipt QR: print a code for the short URL of this token; scanning it resolves a fresh
    /// auth URL.
    QrCode {
        /// The token of `/q/{token}`.
        token: QrToken,
    },
    /// Native App: hand the URL to the OpenSDK (`WXInvoiceAuthInsertReq.urlString` on iOS,
    /// `WXInvoiceAuthInsert.Req.url` on Android).
    AppSdk {
        /// Auth URL.
        auth_url: String,
    },
    /// Mini Program: `wx.navigateToMiniProgram({ appId, path })`.
    MiniProgram {
        /// The Mini Program to navigate to.
        app_id: AppId,
        /// Its path (the auth URL).
        path: String,
    },
    /// Post-payment: add the pay-request flag to the WeChat Pay order; the buyer taps the
    /// invoice entry on the receipt.
    PayRequestFlag {
        /// Field name in the WeChat Pay v2 order request.
        field: &'static str,
        /// Its value.
        value: &'static str,
    },
}

/// A started order and the front end's next step.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// The order as stored.
    pub order: Order,
    /// What the front end does.
    pub action: FrontendAction,
}

/// What became of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    /// It moved an order.
    Applied(OrderKey),
    /// It repeated what the order already knew.
    NoChange(OrderKey),
    /// It matched no order (kept in the inbox with this note for operators).
    Unmatched(String),
    /// It was not applicable (kept with this note).
    Ignored(String),
}

/// What became of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Done; the order moved and follow-up jobs are enqueued.
    Completed,
    /// No longer applicable to the order's state; dropped.
    Skipped(String),
    /// Failed transiently; runs again later.
    Retried {
        /// Delay before the next attempt.
        after_millis: i64,
        /// The error.
        error: String,
    },
    /// Gave up; the order is in needs-attention.
    Buried(String),
}

/// The result of one step, before it is applied to the order.
enum StepResult {
    Apply(Input),
    /// Apply the input and also enqueue this command (e.g. re-issue with the same key).
    ApplyThen(Option<Input>, Command),
    Retry(String),
    /// A pending answer: poll again without counting a failure.
    Poll(String),
    Skip(String),
}

/// Invoicing use cases.
#[derive(Debug, Clone)]
pub struct InvoiceService {
    ports: Ports,
    settings: std::sync::Arc<Settings>,
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
            settings: std::sync::Arc::new(settings),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    async fn setup_state(&self) -> Result<SetupState, AppError> {
        Ok(self.ports.setup.load().await?)
    }

    async fn platform_id(&self) -> Result<fapiao_domain::SPappId, AppError> {
        self.setup_state().await?.s_pappid.ok_or_else(|| {
            AppError::SetupIncomplete("s_pappid is unknown: run setup (seturl)".into())
        })
    }

    fn commands_to_jobs(
        &self,
        key: &OrderKey,
        commands: Vec<Command>,
        now: Timestamp,
    ) -> Vec<NewJob> {
        commands.into_iter().map(|c| new_job(key, c, now)).collect()
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
        self.ports
            .orders
            .get(&key)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("order {order_id}")))
    }

    /// Starts invoicing: stores the order and returns what the front end needs.
    ///
    /// Starting an order id that already exists for the same scenario and amount resumes it
    /// (a fresh auth URL while it awaits authorization), so a retried request is harmless.
    ///
    /// # Errors
    /// [`AppError::Invalid`] naming the field for bad input (nothing stored);
    /// [`AppError::SetupIncomplete`] when setup lacks what the scenario needs;
    /// [`AppError::Conflict`] for an existing order id with different content;
    /// [`AppError::Weixin`] when `getauthurl` fails (the order stays `created`).
    pub async fn start(&self, request: StartRequest) -> Result<Started, AppError> {
        let now = self.ports.clock.now();
        let setup = self.setup_state().await?;
        let s_pappid = setup.s_pappid.clone().ok_or_else(|| {
            AppError::SetupIncomplete("s_pappid is unknown: run setup (seturl)".into())
        })?;
        let seller = self.settings.sellers.get(&request.seller).ok_or_else(|| {
            AppError::invalid(
                "seller",
                format!(
                    "unknown seller {:?}; configured: {}",
                    request.seller.as_str(),
                    self.seller_list()
                ),
            )
        })?;
        if !setup.card_templates.contains_key(&request.seller) {
            return Err(AppError::SetupIncomplete(format!(
                "seller {} has no invoice card template: run setup",
                request.seller
            )));
        }
        if request.scenario == Scenario::PostPayment && setup.pay_mch.is_none() {
            return Err(AppError::SetupIncomplete(
                "post-payment invoicing needs the set_pay_mch binding: configure the WeChat Pay mchid and run setup".into(),
            ));
        }
        let role = request.scenario.authorizing_account();
        let authorizing_appid = self.settings.accounts.appid(role).cloned().ok_or_else(|| {
            AppError::invalid(
                "scenario",
                format!(
                    "{} needs the {role:?} appid in the configuration",
                    request.scenario
                ),
            )
        })?;
        let page_style = match request.scenario {
            Scenario::PostPayment => PageStyle::FillTitle,
            _ => request
                .page_style
                .unwrap_or(self.settings.default_page_style),
        };
        if page_style == PageStyle::FillTitle && !setup.auth_fields_set {
            return Err(AppError::SetupIncomplete(
                "auth page style 1 needs the auth page fields (set_auth_field): run setup".into(),
            ));
        }
        let lines = InvoiceLines::compute(request.lines, Direction::Blue)
            .map_err(|e| AppError::invalid("lines", e.to_string()))?;
        if lines.lines().len() > self.ports.issuer.capabilities().max_lines {
            return Err(AppError::invalid(
                "lines",
                format!(
                    "the tax platform takes at most {} lines",
                    self.ports.issuer.capabilities().max_lines
                ),
            ));
        }
        // Build the draft once now so a bad buyer/seller/kind combination fails at the request,
        // not at issue time.
        if let Some(buyer) = &request.buyer {
            InvoiceDraft::new(
                seller.kind,
                buyer.clone(),
                seller.seller.clone(),
                lines.clone(),
                request.remark.clone(),
            )
            .map_err(|e| AppError::invalid("buyer", e.to_string()))?;
        }
        let order_id = request
            .order_id
            .unwrap_or_else(|| self.ports.ids.order_id());
        let key = OrderKey {
            s_pappid: s_pappid.clone(),
            order_id: order_id.clone(),
        };
        let qr_token = (request.scenario == Scenario::ScanQr).then(|| self.ports.ids.qr_token());
        let new = NewOrder {
            key: key.clone(),
            scenario: request.scenario,
            seller: request.seller.clone(),
            kind: seller.kind,
            lines,
            buyer: request.buyer,
            page_style,
            authorizing_appid,
            redirect_url: request.redirect_url,
            qr_token,
            remark: request.remark,
        };
        let order = Order::create(new, now).map_err(|e| AppError::invalid(e.field, e.rule))?;
        let mut order = match self.ports.orders.insert(&order, &[]).await {
            Ok(()) => self.reload(&key).await?,
            Err(RepositoryError::Conflict(_)) => {
                let existing = self.reload(&key).await?;
                if existing.scenario() != order.scenario() || existing.money() != order.money() {
                    return Err(AppError::Conflict(format!(
                        "order_id {order_id} already exists with another scenario or amount"
                    )));
                }
                existing
            }
            Err(e) => return Err(e.into()),
        };
        info!(order_id = %order_id, scenario = %order.scenario(), "invoicing started");
        let action = match order.scenario() {
            Scenario::ScanQr => FrontendAction::QrCode {
                token: order.qr_token().cloned().ok_or_else(|| {
                    AppError::Conflict(format!("order {order_id} has no QR token"))
                })?,
            },
            Scenario::PostPayment => FrontendAction::PayRequestFlag {
                field: "receipt",
                value: "Y",
            },
            scenario => {
                let auth = self.issue_auth_url(&mut order).await?;
                match (scenario, auth.appid) {
                    (Scenario::MiniProgram, Some(app_id)) => FrontendAction::MiniProgram {
                        app_id,
                        path: auth.url,
                    },
                    (Scenario::MiniProgram, None) => {
                        return Err(AppError::Unavailable(
                            "getauthurl with source wxa answered no appid".into(),
                        ));
                    }
                    (Scenario::App, _) => FrontendAction::AppSdk { auth_url: auth.url },
                    _ => FrontendAction::Redirect { auth_url: auth.url },
                }
            }
        };
        Ok(Started { order, action })
    }

    fn seller_list(&self) -> String {
        self.settings
            .sellers
            .keys()
            .map(SellerId::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    async fn reload(&self, key: &OrderKey) -> Result<Order, AppError> {
        self.ports
            .orders
            .get(key)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("order {}", key.order_id)))
    }

    /// Gets a fresh auth URL for an order that awaits authorization and records it.
    async fn issue_auth_url(
        &self,
        order: &mut Order,
    ) -> Result<fapiao_domain::weixin::AuthUrl, AppError> {
        let source = order
            .scenario()
            .auth_source()
            .ok_or_else(|| AppError::invalid("scenario", "post-payment orders get no auth URL"))?;
        let account = order.authorizing_appid().clone();
        let ticket = self.ports.merchant.wx_card_ticket(&account).await?;
        let request = AuthUrlRequest {
            s_pappid: order.key().s_pappid.clone(),
            order_id: order.key().order_id.clone(),
            money: order.money(),
            timestamp: self.ports.clock.now(),
            source,
            redirect_url: order.redirect_url().map(str::to_owned),
            ticket,
            page_style: order.page_style(),
        };
        let auth = self.ports.merchant.auth_url(&account, &request).await?;
        if order.state() == OrderState::Created {
            self.apply_and_save(order.key(), Input::AuthUrlIssued)
                .await?;
            *order = self.reload(order.key()).await?;
        }
        Ok(auth)
    }

    /// Resolves a printed QR code: a fresh auth URL for its order.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown token; [`AppError::Conflict`] when the order no
    /// longer awaits authorization; Weixin errors as for [`InvoiceService::start`].
    pub async fn scan_qr(&self, token: &QrToken) -> Result<String, AppError> {
        let mut order = self
            .ports
            .orders
            .find_by_qr_token(token)
            .await?
            .ok_or_else(|| AppError::NotFound("unknown QR code".into()))?;
        if !matches!(
            order.state(),
            OrderState::Created | OrderState::AwaitingAuthorization
        ) {
            return Err(AppError::Conflict(format!(
                "order {} is {}: this QR code was already used",
                order.key().order_id,
                order.state()
            )));
        }
        Ok(self.issue_auth_url(&mut order).await?.url)
    }

    /// Applies `input` to the stored order and saves it with the resulting jobs, reloading and
    /// re-applying on a concurrent change (the input is a fact; it is never lost or doubled).
    async fn apply_and_save(
        &self,
        key: &OrderKey,
        input: Input,
    ) -> Result<(Order, bool), AppError> {
        self.apply_and_save_with(key, None, input, Vec::new()).await
    }

    /// Applies `input` (plus `extra` commands) and saves, reloading and retrying when another
    /// writer got there first. `loaded`, when given, is used for the first attempt instead of
    /// a fresh read: the version check on save still catches any change since it was read.
    async fn apply_and_save_with(
        &self,
        key: &OrderKey,
        loaded: Option<Order>,
        input: Input,
        extra: Vec<Command>,
    ) -> Result<(Order, bool), AppError> {
        self.apply_save_complete(key, loaded, input, extra, None)
            .await
            .map(|(order, changed, _)| (order, changed))
    }

    /// [`Self::apply_and_save_with`], completing `done` (held by the worker) in the same
    /// transaction when there is something to save. The third value says whether the job was
    /// dealt with; if not, the caller completes it.
    async fn apply_save_complete(
        &self,
        key: &OrderKey,
        loaded: Option<Order>,
        input: Input,
        extra: Vec<Command>,
        done: Option<(&Job, &str)>,
    ) -> Result<(Order, bool, bool), AppError> {
        let mut attempts = 0;
        let mut loaded = loaded;
        loop {
            attempts += 1;
            let mut order = match loaded.take() {
                Some(order) => order,
                None => self.reload(key).await?,
            };
            let before = order.clone();
            let now = self.ports.clock.now();
            let mut commands = order.apply(input.clone(), now)?;
            commands.extend(extra.iter().cloned());
            if order == before && commands.is_empty() {
                return Ok((order, false, false));
            }
            let jobs = self.commands_to_jobs(key, commands, now);
            let saved = match done {
                Some((job, worker)) => {
                    self.ports
                        .orders
                        .update_completing(&order, &jobs, job, worker)
                        .await
                }
                None => self
                    .ports
                    .orders
                    .update(&order, &jobs)
                    .await
                    .map(|()| false),
            };
            match saved {
                Ok(completed) => {
                    order.mark_saved();
                    info!(order_id = %key.order_id, from = %before.state(), to = %order.state(), "order moved");
                    return Ok((order, true, completed));
                }
                Err(RepositoryError::StaleVersion { .. }) if attempts < 5 => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Handles a verified push (called for each inbox event, off the request path).
    ///
    /// # Errors
    /// Storage errors only (the inbox keeps the event for another attempt); business outcomes
    /// are [`EventOutcome`]s.
    pub async fn handle_event(&self, event: &WeixinEvent) -> Result<EventOutcome, AppError> {
        match event {
            WeixinEvent::Authorization(auth) => {
                let s_pappid = match &auth.s_pappid {
                    Some(id) => id.clone(),
                    None => self.platform_id().await?,
                };
                let key = OrderKey {
                    s_pappid,
                    order_id: auth.outcome.order_id().clone(),
                };
                if self.ports.orders.get(&key).await?.is_none() {
                    return Ok(EventOutcome::Unmatched(format!(
                        "authorization for unknown order {} (a post-payment order must be registered before the buyer taps the receipt)",
                        key.order_id
                    )));
                }
                let input = match &auth.outcome {
                    AuthOutcome::Succeeded(_) => Input::BuyerAuthorized(Authorization {
                        openid: Some(auth.openid.clone()),
                        appid: auth.authorize_appid.clone(),
                        source: auth.source,
                        at: auth.create_time,
                    }),
                    AuthOutcome::Failed(_) => Input::AuthorizationFailed {
                        at: auth.create_time,
                    },
                };
                self.event_input(&key, input).await
            }
            WeixinEvent::InvoiceStatus(status) => {
                let Some(order) = self
                    .ports
                    .orders
                    .find_by_card(&status.card_id, &status.code)
                    .await?
                else {
                    return Ok(EventOutcome::Unmatched(format!(
                        "status {} for unknown card {}/{}",
                        status.status, status.card_id, status.code
                    )));
                };
                self.event_input(order.key(), Input::ReimbursementChanged(status.status))
                    .await
            }
            WeixinEvent::Other {
                msg_type, event, ..
            } => Ok(EventOutcome::Ignored(format!(
                "not an invoice event ({msg_type}/{})",
                event.as_deref().unwrap_or("-")
            ))),
        }
    }

    async fn event_input(&self, key: &OrderKey, input: Input) -> Result<EventOutcome, AppError> {
        match self.apply_and_save(key, input).await {
            Ok((_, true)) => Ok(EventOutcome::Applied(key.clone())),
            Ok((_, false)) => Ok(EventOutcome::NoChange(key.clone())),
            Err(AppError::Transition(e)) => Ok(EventOutcome::Ignored(e.to_string())),
            Err(e) => Err(e),
        }
    }

    /// Claims and handles up to `limit` inbox events, one after the other. Returns how many
    /// were handled.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn process_inbox(&self, worker: &str, limit: u32) -> Result<usize, AppError> {
        let items = self.claim_inbox(worker, limit).await?;
        let count = items.len();
        for item in items {
            self.process_event(&item).await?;
        }
        Ok(count)
    }

    /// Claims up to `limit` unprocessed inbox events for `worker` (leased for a minute).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn claim_inbox(&self, worker: &str, limit: u32) -> Result<Vec<InboxItem>, AppError> {
        let now = self.ports.clock.now();
        Ok(self
            .ports
            .inbox
            .claim(worker, limit, now, now.plus_millis(60_000))
            .await?)
    }

    /// Handles one claimed inbox event: applied, or noted and set aside, or released for a
    /// retry with backoff when handling failed.
    ///
    /// # Errors
    /// Storage errors while recording the result (the event's lease then expires and it is
    /// handled again).
    pub async fn process_event(&self, item: &InboxItem) -> Result<(), AppError> {
        match self.handle_event(&item.event).await {
            Ok(EventOutcome::Applied(_) | EventOutcome::NoChange(_)) => {
                self.ports.inbox.mark_processed(item.id, None).await?;
            }
            Ok(EventOutcome::Unmatched(note) | EventOutcome::Ignored(note)) => {
                warn!(event = item.id, note = %note, "push not applied");
                self.ports.inbox.mark_processed(item.id, Some(note)).await?;
            }
            Err(e) => {
                let now = self.ports.clock.now();
                let delay = self
                    .settings
                    .retry
                    .backoff_millis(item.attempts, item.id.unsigned_abs());
                warn!(event = item.id, error = %e, "push processing failed; will retry");
                self.ports
                    .inbox
                    .release(item.id, now.plus_millis(delay), &e.to_string())
                    .await?;
            }
        }
        Ok(())
    }

    /// Claims up to `limit` due jobs for `worker`.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn claim_jobs(
        &self,
        worker: &str,
        limit: u32,
        lease_millis: i64,
    ) -> Result<Vec<Job>, AppError> {
        let now = self.ports.clock.now();
        Ok(self
            .ports
            .jobs
            .claim(worker, limit, now, now.plus_millis(lease_millis))
            .await?)
    }

    /// Claims and runs up to `limit` due jobs one after another. Returns their outcomes.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn run_due_jobs(
        &self,
        worker: &str,
        limit: u32,
        lease_millis: i64,
    ) -> Result<Vec<JobOutcome>, AppError> {
        let now = self.ports.clock.now();
        let jobs = self
            .ports
            .jobs
            .claim(worker, limit, now, now.plus_millis(lease_millis))
            .await?;
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in jobs {
            outcomes.push(self.run_job(&job, worker).await?);
        }
        Ok(outcomes)
    }

    /// Runs one claimed job: executes its command through the ports, feeds the result to the
    /// order, and completes, retries or buries the job.
    ///
    /// # Errors
    /// Storage errors (the job's lease then expires and another worker retries it).
    pub async fn run_job(&self, job: &Job, worker: &str) -> Result<JobOutcome, AppError> {
        let order = match self.ports.orders.get(&job.order).await? {
            Some(order) => order,
            None => {
                self.ports.jobs.bury(job, worker, "order not found").await?;
                return Ok(JobOutcome::Buried("order not found".into()));
            }
        };
        let step = job.command.step();
        let span = tracing::info_span!("job", order_id = %job.order.order_id, step = %step, attempt = job.attempts + 1);
        let _enter = span.enter();
        let result = self.execute(&order, &job.command, job.attempts).await;
        let now = self.ports.clock.now();
        match result {
            StepResult::Apply(input) => {
                self.finish(job, worker, order, Some(input), Vec::new())
                    .await
            }
            StepResult::ApplyThen(input, command) => {
                self.finish(job, worker, order, input, vec![command]).await
            }
            StepResult::Skip(reason) => {
                self.ports.jobs.complete(job, worker).await?;
                Ok(JobOutcome::Skipped(reason))
            }
            StepResult::Poll(error) => {
                if job.attempts + 1 >= self.settings.retry.max_polls {
                    return self.give_up(job, worker, step, error).await;
                }
                let after = self.settings.retry.poll_interval_millis;
                self.ports
                    .jobs
                    .retry(job, worker, now.plus_millis(after), &error)
                    .await?;
                Ok(JobOutcome::Retried {
                    after_millis: after,
                    error,
                })
            }
            StepResult::Retry(error) => {
                if job.attempts + 1 >= self.settings.retry.max_attempts {
                    return self.give_up(job, worker, step, error).await;
                }
                let after = self
                    .settings
                    .retry
                    .backoff_millis(job.attempts, job.id.0.unsigned_abs());
                warn!(error = %error, after_millis = after, "step failed; retrying");
                self.ports
                    .jobs
                    .retry(job, worker, now.plus_millis(after), &error)
                    .await?;
                Ok(JobOutcome::Retried {
                    after_millis: after,
                    error,
                })
            }
        }
    }

    async fn finish(
        &self,
        job: &Job,
        worker: &str,
        order: Order,
        input: Option<Input>,
        extra: Vec<Command>,
    ) -> Result<JobOutcome, AppError> {
        let outcome = match input {
            Some(input) => match self
                .apply_save_complete(&job.order, Some(order), input, extra, Some((job, worker)))
                .await
            {
                Ok((_, _, true)) => return Ok(JobOutcome::Completed),
                Ok(_) => JobOutcome::Completed,
                Err(AppError::Transition(e)) => JobOutcome::Skipped(e.to_string()),
                Err(e) => return Err(e),
            },
            None => {
                let now = self.ports.clock.now();
                for command in extra {
                    self.ports
                        .jobs
                        .enqueue(&new_job(&job.order, command, now))
                        .await?;
                }
                JobOutcome::Completed
            }
        };
        self.ports.jobs.complete(job, worker).await?;
        Ok(outcome)
    }

    async fn give_up(
        &self,
        job: &Job,
        worker: &str,
        step: Step,
        last_error: String,
    ) -> Result<JobOutcome, AppError> {
        let reason = AttentionReason::RetriesExhausted { step, last_error };
        let text = reason.to_string();
        match self
            .apply_and_save(&job.order, Input::StepFailed(reason))
            .await
        {
            Ok(_) | Err(AppError::Transition(_)) => {}
            Err(e) => return Err(e),
        }
        self.ports.jobs.bury(job, worker, &text).await?;
        warn!(reason = %text, "gave up; order needs attention");
        Ok(JobOutcome::Buried(text))
    }

    /// Whether `command` still fits the order (jobs can outlive the state that made them).
    fn applicable(order: &Order, command: &Command) -> bool {
        use OrderState as S;
        match command {
            Command::FetchAuthData => order.state() == S::Authorized,
            Command::IssueInvoice { key } => {
                matches!(
                    order.state(),
                    S::Issuing | S::IssueOutcomeUnknown | S::IssuePending
                ) && order.issue_key() == Some(key)
            }
            Command::QueryIssue { key } => {
                matches!(
                    order.state(),
                    S::Issuing | S::IssueOutcomeUnknown | S::IssuePending
                ) && order.issue_key() == Some(key)
            }
            Command::UploadPdf => order.state() == S::Issued,
            Command::InsertCard => order.state() == S::PdfUploaded,
            Command::RejectInsert { .. } => {
                order.state() == S::Rejected && order.rejection().is_some()
            }
            Command::ReverseInvoice { key, .. } => {
                order.state() == S::Reversing && order.reversal().is_some_and(|r| &r.key == key)
            }
            Command::UpdateCardStatus { .. } => {
                order.card().is_some() && order.state() == S::Reversed
            }
        }
    }

    fn weixin_failure(step: Step, error: WeixinError) -> StepResult {
        let errcode = error
            .errcode()
            .map_or_else(|| "transport".to_owned(), |code| code.to_string());
        metrics::counter!("fapiao_weixin_errors_total", "step" => step.code(), "errcode" => errcode).increment(1);
        match error.class() {
            ErrorClass::Transient | ErrorClass::Token => StepResult::Retry(error.to_string()),
            ErrorClass::Business => match error {
                WeixinError::Api { errcode, errmsg } => {
                    StepResult::Apply(Input::StepFailed(AttentionReason::WeixinBusiness {
                        step,
                        errcode,
                        errmsg,
                    }))
                }
                // Not an errcode: malformed answers and refusals before sending are retried and
                // end in needs-attention if they persist.
                other => StepResult::Retry(other.to_string()),
            },
        }
    }

    fn issuer_failure(step: Step, error: IssueError) -> StepResult {
        match error {
            IssueError::NotSent(e) => StepResult::Retry(format!("not sent: {e}")),
            // Only an issue request moves the order to `issue_outcome_unknown` (then queried
            // with the same key). A reversal whose answer was lost is sent again with the same
            // key (the platform answers a repeated key with its first outcome); reads are retried.
            IssueError::OutcomeUnknown(detail) if step == Step::Issue => {
                StepResult::Apply(Input::IssueAnswered(IssueResult::OutcomeUnknown { detail }))
            }
            IssueError::OutcomeUnknown(detail) => StepResult::Retry(format!(
                "{step}: outcome unknown ({detail}); repeating with the same key"
            )),
            IssueError::Configuration(message) => {
                StepResult::Apply(Input::StepFailed(AttentionReason::IssuerConfiguration {
                    message,
                }))
            }
            IssueError::SessionRequired(message) => {
                StepResult::Apply(Input::StepFailed(AttentionReason::IssuerSessionRequired {
                    message,
                }))
            }
            other => StepResult::Retry(format!("{step}: {other}")),
        }
    }

    fn outcome_input(outcome: IssueOutcome) -> Input {
        Input::IssueAnswered(match outcome {
            IssueOutcome::Issued(invoice) => IssueResult::Issued(invoice),
            IssueOutcome::Pending(reference) => IssueResult::Pending(reference),
            IssueOutcome::Rejected(rejection) => IssueResult::Rejected {
                reason: rejection.reason,
            },
        })
    }

    fn draft(
        &self,
        order: &Order,
        lines: InvoiceLines,
        remark: Option<String>,
    ) -> Result<InvoiceDraft, String> {
        let seller = self
            .settings
            .sellers
            .get(order.seller())
            .ok_or_else(|| format!("seller {} is no longer configured", order.seller()))?;
        let buyer = order
            .buyer()
            .cloned()
            .ok_or("the order has no buyer title")?;
        InvoiceDraft::new(order.kind(), buyer, seller.seller.clone(), lines, remark)
            .map_err(|e| e.to_string())
    }

    async fn execute(&self, order: &Order, command: &Command, attempts: u32) -> StepResult {
        if !Self::applicable(order, command) {
            return StepResult::Skip(format!(
                "{} no longer applies in state {}",
                command.step(),
                order.state()
            ));
        }
        let step = command.step();
        let key = order.key();
        match command {
            Command::FetchAuthData => match self
                .ports
                .merchant
                .auth_data(&key.s_pappid, &key.order_id)
                .await
            {
                Ok(data) => match &data.status {
                    AuthStatus::AuthSuccess => match data.buyer() {
                        Ok(title) => {
                            let (buyer, note) = match title {
                                Some(t) => (Some(t.buyer), t.warning),
                                None => (None, None),
                            };
                            StepResult::Apply(Input::AuthDataFetched {
                                buyer,
                                note,
                                issue_key: self.ports.ids.issue_key(),
                            })
                        }
                        Err(e) => StepResult::Apply(Input::StepFailed(
                            AttentionReason::InvalidBuyerTitle {
                                detail: e.to_string(),
                            },
                        )),
                    },
                    // The push can overtake getauthdata by a moment; ask again a few times.
                    status if attempts + 1 < 3 => {
                        StepResult::Retry(format!("getauthdata says {status:?}"))
                    }
                    status => StepResult::Apply(Input::StepFailed(
                        AttentionReason::AuthorizationNotConfirmed {
                            status: match status {
                                AuthStatus::NeverAuth => "never auth".to_owned(),
                                AuthStatus::Other(s) => s.clone(),
                                AuthStatus::AuthSuccess => "auth success".to_owned(),
                            },
                        },
                    )),
                },
                Err(e) => Self::weixin_failure(step, e),
            },
            Command::IssueInvoice { key: issue_key } => {
                let draft = match self.draft(
                    order,
                    order.lines().clone(),
                    order.remark().map(str::to_owned),
                ) {
                    Ok(draft) => draft,
                    Err(detail) => {
                        return StepResult::Apply(Input::StepFailed(
                            AttentionReason::Inconsistent { detail },
                        ));
                    }
                };
                let request = IssueRequest {
                    key: issue_key.clone(),
                    order: key.clone(),
                    draft,
                };
                match self.ports.issuer.issue(&request).await {
                    Ok(outcome) => StepResult::Apply(Self::outcome_input(outcome)),
                    Err(e) => Self::issuer_failure(step, e),
                }
            }
            Command::QueryIssue { key: issue_key } => {
                match self.ports.issuer.query(issue_key).await {
                    Ok(Some(IssueOutcome::Pending(reference))) => {
                        if order.state() == OrderState::IssuePending {
                            StepResult::Poll("still pending at the tax platform".into())
                        } else {
                            StepResult::Apply(Input::IssueAnswered(IssueResult::Pending(reference)))
                        }
                    }
                    Ok(Some(outcome)) => StepResult::Apply(Self::outcome_input(outcome)),
                    // The platform never saw the request: send it again with the same key.
                    Ok(None) => StepResult::ApplyThen(
                        None,
                        Command::IssueInvoice {
                            key: issue_key.clone(),
                        },
                    ),
                    Err(e) => Self::issuer_failure(step, e),
                }
            }
            Command::UploadPdf => {
                let (Some(invoice), Some(issue_key)) = (order.invoice(), order.issue_key()) else {
                    return StepResult::Apply(Input::StepFailed(AttentionReason::Inconsistent {
                        detail: "issued without an invoice".into(),
                    }));
                };
                let pdf = match self.ports.issuer.fetch_pdf(issue_key, invoice).await {
                    Ok(pdf) => pdf,
                    Err(e) => return Self::issuer_failure(step, e),
                };
                match self.ports.platform.upload_pdf(pdf.as_bytes()).await {
                    Ok(media_id) => StepResult::Apply(Input::PdfUploaded(UploadedPdf {
                        media_id,
                        uploaded_at: self.ports.clock.now(),
                    })),
                    Err(e) => Self::weixin_failure(step, e),
                }
            }
            Command::InsertCard => {
                if !order.pdf_attachable(self.ports.clock.now()) {
                    return StepResult::Apply(Input::PdfMediaExpired);
                }
                let setup = match self.ports.setup.load().await {
                    Ok(setup) => setup,
                    Err(e) => return StepResult::Retry(e.to_string()),
                };
                let Some(card_id) = setup.card_templates.get(order.seller()).cloned() else {
                    return StepResult::Apply(Input::StepFailed(
                        AttentionReason::MissingCardTemplate {
                            seller: order.seller().clone(),
                        },
                    ));
                };
                let data = match self.card_data(order) {
                    Ok(data) => data,
                    Err(detail) => {
                        return StepResult::Apply(Input::StepFailed(
                            AttentionReason::InvalidCardData { detail },
                        ));
                    }
                };
                if let Err(e) = data.validate() {
                    return StepResult::Apply(Input::StepFailed(
                        AttentionReason::InvalidCardData {
                            detail: e.to_string(),
                        },
                    ));
                }
                let insertion = CardInsertion {
                    order_id: key.order_id.clone(),
                    card_id: card_id.clone(),
                    appid: order.insert_appid().clone(),
                    nonce: self.ports.ids.nonce(),
                    data,
                };
                match self.ports.platform.insert_card(&insertion).await {
                    Ok(card) => StepResult::Apply(Input::CardInserted { card_id, card }),
                    Err(e) => Self::weixin_failure(step, e),
                }
            }
            Command::RejectInsert { reason, url } => {
                let request = RejectRequest {
                    s_pappid: key.s_pappid.clone(),
                    order_id: key.order_id.clone(),
                    reason: reason.clone(),
                    url: url.clone(),
                };
                match self.ports.merchant.reject_insert(&request).await {
                    Ok(()) => StepResult::Apply(Input::RejectionSent),
                    // Already rejected earlier (a retried call whose reply was lost).
                    Err(WeixinError::Api { errcode: 72035, .. }) => {
                        StepResult::Apply(Input::RejectionSent)
                    }
                    Err(e) => Self::weixin_failure(step, e),
                }
            }
            Command::ReverseInvoice {
                key: red_key,
                reason,
            } => {
                let (Some(original), Some(original_key)) = (order.invoice(), order.issue_key())
                else {
                    return StepResult::Apply(Input::StepFailed(AttentionReason::Inconsistent {
                        detail: "no invoice to reverse".into(),
                    }));
                };
                let remark = format!("被红冲蓝字数电发票号码：{}", original.number);
                let draft = match self.draft(order, order.lines().full_reversal(), Some(remark)) {
                    Ok(draft) => draft,
                    Err(detail) => {
                        return StepResult::Apply(Input::StepFailed(
                            AttentionReason::Inconsistent { detail },
                        ));
                    }
                };
                let request = ReverseRequest {
                    key: red_key.clone(),
                    original_key: original_key.clone(),
                    original: original.clone(),
                    draft,
                    reason: *reason,
                };
                match self.ports.issuer.reverse(&request).await {
                    Ok(ReverseOutcome::RedIssued(red)) => StepResult::Apply(Input::RedIssued(red)),
                    Ok(ReverseOutcome::Pending { reference }) => StepResult::Poll(format!(
                        "red invoice pending ({})",
                        reference.unwrap_or_default()
                    )),
                    Ok(ReverseOutcome::Rejected(rejection)) => {
                        StepResult::Apply(Input::StepFailed(AttentionReason::ReversalRejected {
                            message: rejection.reason,
                        }))
                    }
                    Err(e) => Self::issuer_failure(step, e),
                }
            }
            Command::UpdateCardStatus { status } => {
                let Some(card) = order.card() else {
                    return StepResult::Skip("no card".into());
                };
                match self
                    .ports
                    .platform
                    .update_card_status(&card.card_id, &card.code, *status)
                    .await
                {
                    Ok(()) => StepResult::Apply(Input::CardStatusUpdated(*status)),
                    Err(e) => Self::weixin_failure(step, e),
                }
            }
        }
    }

    /// The card payload: amounts from the issued invoice, display lines from the order.
    fn card_data(&self, order: &Order) -> Result<InvoiceCardData, String> {
        let invoice = order.invoice().ok_or("no invoice")?;
        let pdf = order.pdf().ok_or("no uploaded PDF")?;
        let buyer = order.buyer().ok_or("no buyer title")?;
        let seller = &self
            .settings
            .sellers
            .get(order.seller())
            .ok_or_else(|| format!("seller {} is no longer configured", order.seller()))?
            .seller;
        let mut info = Vec::new();
        for line in order.lines().lines() {
            if line.amount_excl().is_negative() {
                continue; // discount lines are folded away: card lines are display data
            }
            let (num, price) = match (line.quantity(), line.unit_price_excl()) {
                (Some(quantity), Some(price)) if quantity.get().fract().is_zero() => {
                    let num = quantity.get().trunc().mantissa();
                    let num = i64::try_from(num).ok();
                    (num, Fen::round_half_up(price).map_err(|e| e.to_string())?)
                }
                _ => (None, line.amount_excl()),
            };
            info.push(CardItem {
                name: line.face_name(),
                num,
                unit: line.unit().map(str::to_owned),
                price,
            });
        }
        Ok(InvoiceCardData {
            fee: invoice.totals.total,
            title: buyer.name().to_owned(),
            billing_time: invoice.issued_at,
            billing_no: invoice.number.billing_no().to_owned(),
            billing_code: invoice.number.billing_code().to_owned(),
            info,
            fee_without_tax: invoice.totals.amount_excl,
            tax: invoice.totals.tax,
            pdf_media_id: pdf.media_id.clone(),
            trip_pdf_media_id: None,
            check_code: invoice.number.check_code().to_owned(),
            buyer_number: buyer.tax_id().map(|id| id.as_str().to_owned()),
            buyer_address_and_phone: None,
            buyer_bank_account: None,
            seller_number: Some(seller.tax_id().as_str().to_owned()),
            seller_address_and_phone: seller.address_phone().map(str::to_owned),
            seller_bank_account: seller.bank_account().map(str::to_owned),
            remarks: order.remark().map(str::to_owned),
            cashier: None,
            maker: Some(seller.drawer().to_owned()),
        })
    }

    /// Orders matching `filter`, most recently updated first.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list(
        &self,
        filter: &fapiao_domain::ports::OrderFilter,
    ) -> Result<Vec<Order>, AppError> {
        Ok(self.ports.orders.list(filter).await?)
    }

    /// Orders per scenario and state.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn counts(&self) -> Result<Vec<fapiao_domain::ports::StateCount>, AppError> {
        Ok(self.ports.orders.count_by_state().await?)
    }

    /// The invoice PDF of an issued order (the red invoice's after a reversal is not served here).
    ///
    /// # Errors
    /// [`AppError::NotFound`] when the order has no invoice yet.
    pub async fn pdf(
        &self,
        order_id: &OrderId,
    ) -> Result<fapiao_domain::ports::PdfDocument, AppError> {
        let order = self.order(order_id).await?;
        match (order.invoice(), order.issue_key()) {
            (Some(invoice), Some(key)) => Ok(self.ports.issuer.fetch_pdf(key, invoice).await?),
            _ => Err(AppError::NotFound(format!(
                "order {order_id} has no issued invoice yet"
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
        let order = self.order(order_id).await?;
        let (order, _) = self
            .apply_and_save(
                order.key(),
                Input::RejectRequested {
                    reason: reason.to_owned(),
                    url,
                },
            )
            .await?;
        Ok(order)
    }

    /// An operator resumes an order from needs-attention.
    ///
    /// # Errors
    /// [`AppError::Transition`] when the order does not need attention.
    pub async fn retry(&self, order_id: &OrderId) -> Result<Order, AppError> {
        let order = self.order(order_id).await?;
        let (order, _) = self
            .apply_and_save(order.key(), Input::RetryRequested)
            .await?;
        Ok(order)
    }

    /// Fully reverses the order's invoice with a red invoice and cancels its card.
    ///
    /// # Errors
    /// [`AppError::Transition`] when there is no invoice or a reversal is under way.
    pub async fn reverse(
        &self,
        order_id: &OrderId,
        reason: fapiao_domain::invoice::RedReason,
    ) -> Result<Order, AppError> {
        let order = self.order(order_id).await?;
        let key = self.ports.ids.issue_key();
        let (order, _) = self
            .apply_and_save(order.key(), Input::ReverseRequested { reason, key })
            .await?;
        Ok(order)
    }

    /// Polls `getauthdata` for orders that waited longer than the configured time for their
    /// authorization push (pushes can be lost). Returns how many were found authorized.
    ///
    /// # Errors
    /// Storage errors; Weixin errors per order are logged and skipped.
    pub async fn reconcile_awaiting(&self, limit: u32) -> Result<usize, AppError> {
        let now = self.ports.clock.now();
        let filter = fapiao_domain::ports::OrderFilter {
            state: Some(OrderState::AwaitingAuthorization),
            scenario: None,
            limit,
            updated_before: Some(now.plus_millis(-self.settings.reconcile_after_millis)),
        };
        let mut found = 0;
        for order in self.ports.orders.list(&filter).await? {
            let key = order.key();
            match self
                .ports
                .merchant
                .auth_data(&key.s_pappid, &key.order_id)
                .await
            {
                Ok(data) if data.status == AuthStatus::AuthSuccess => {
                    let auth = Authorization {
                        openid: None,
                        appid: None,
                        source: None,
                        at: data.auth_time.unwrap_or(now),
                    };
                    self.apply_and_save(key, Input::BuyerAuthorized(auth))
                        .await?;
                    info!(order_id = %key.order_id, "authorization found by reconciliation");
                    found += 1;
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(order_id = %key.order_id, error = %e, "reconciliation getauthdata failed")
                }
            }
        }
        Ok(found)
    }
}
