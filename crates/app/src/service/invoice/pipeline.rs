//! The pipeline's jobs: claimed with a lease, run through [`steps`](super::steps), their
//! result fed back to the order, then completed, retried with backoff, polled or buried.

use fapiao_domain::order::{AttentionReason, Input, IssueResult, Order, Step};
use fapiao_domain::ports::{IssueError, IssueOutcome, Job, RepositoryError};
use fapiao_domain::weixin::{ErrorClass, WeixinError};
use tracing::warn;

use super::{Change, InvoiceService};
use crate::error::AppError;

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
pub(super) enum StepResult {
    Apply(Input),
    Retry(String),
    /// A pending answer: poll again without counting a failure.
    Poll(String),
    Skip(String),
}

fn lease_lost(error: &RepositoryError) -> bool {
    matches!(error, RepositoryError::LeaseLost(_))
}

impl InvoiceService {
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
        let jobs = self.claim_jobs(worker, limit, lease_millis).await?;
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in jobs {
            outcomes.push(self.run_job(&job, worker).await?);
        }
        Ok(outcomes)
    }

    /// Runs one claimed job: executes its command through the ports while renewing its lease,
    /// feeds the result to the order, and completes, retries or buries the job — every write
    /// fenced by the lease, so a worker whose lease passed to another saves nothing.
    ///
    /// # Errors
    /// Storage errors (the job's lease then expires and another worker retries it).
    pub async fn run_job(&self, job: &Job, worker: &str) -> Result<JobOutcome, AppError> {
        self.run_job_chained(job, worker, None, None)
            .await
            .map(|(outcome, _)| outcome)
    }

    /// Runs one claimed job as [`run_job`](Self::run_job) does, on `order` when the caller
    /// holds it as just saved (else it is read). With `chain` (a lease length in
    /// milliseconds), the next job the step's change makes due at once comes back leased to
    /// `worker`, with the order as saved: the caller runs it next, neither claiming it nor
    /// reading the order again (a stale order is caught by the version check of its save).
    ///
    /// # Errors
    /// As for [`run_job`](Self::run_job).
    pub async fn run_job_chained(
        &self,
        job: &Job,
        worker: &str,
        order: Option<Order>,
        chain: Option<i64>,
    ) -> Result<(JobOutcome, Option<(Job, Order)>), AppError> {
        let order = match order {
            Some(order) => order,
            None => match self.ports.orders.get(&job.order).await? {
                Some(order) => order,
                None => {
                    self.ports.jobs.bury(job, worker, "order not found").await?;
                    return Ok((JobOutcome::Buried("order not found".into()), None));
                }
            },
        };
        let step = job.command.step();
        let span = tracing::info_span!("job", order_id = %job.order.order_id, step = %step, attempt = job.attempts + 1);
        let _enter = span.enter();
        let Some((result, held)) = self.execute_holding(job, worker, &order).await else {
            return Ok((
                JobOutcome::Skipped(
                    "the lease passed to another worker while the step ran; its holder does the step"
                        .into(),
                ),
                None,
            ));
        };
        let outcome = self
            .conclude(&held, worker, order, step, result, chain)
            .await;
        match outcome {
            Err(AppError::Repository(e)) if lease_lost(&e) => Ok((
                JobOutcome::Skipped(format!(
                    "nothing saved: {e}; the holder of the lease does the step"
                )),
                None,
            )),
            other => other,
        }
    }

    /// Runs the step, renewing the job's lease every third of its length while it runs (the
    /// heartbeat of a slow call). Answers the result and the job at its current lease, or
    /// `None` when the lease was lost to another worker (the step is abandoned: its answer,
    /// if any, will be asked again by the holder).
    async fn execute_holding(
        &self,
        job: &Job,
        worker: &str,
        order: &Order,
    ) -> Option<(StepResult, Job)> {
        let mut held = job.clone();
        let lease_millis = (job.lease_until.millis() - self.ports.clock.now().millis()).max(1_000);
        let every = std::time::Duration::from_millis(lease_millis.unsigned_abs() / 3);
        let step = self.execute(order, &job.command, job.attempts);
        tokio::pin!(step);
        loop {
            tokio::select! {
                result = &mut step => return Some((result, held)),
                () = tokio::time::sleep(every) => {
                    let until = self.ports.clock.now().plus_millis(lease_millis);
                    match self.ports.jobs.renew(&held, worker, until).await {
                        Ok(()) => held.lease_until = until,
                        Err(e) if lease_lost(&e) => {
                            warn!(error = %e, "lease lost while the step ran; abandoning it");
                            return None;
                        }
                        // The database is busy: try again at the next beat.
                        Err(e) => warn!(error = %e, "lease renewal failed"),
                    }
                }
            }
        }
    }

    async fn conclude(
        &self,
        job: &Job,
        worker: &str,
        order: Order,
        step: Step,
        result: StepResult,
        chain: Option<i64>,
    ) -> Result<(JobOutcome, Option<(Job, Order)>), AppError> {
        match result {
            StepResult::Apply(input) => self.finish(job, worker, order, input, chain).await,
            StepResult::Skip(reason) => {
                self.ports.jobs.complete(job, worker).await?;
                Ok((JobOutcome::Skipped(reason), None))
            }
            StepResult::Poll(error) => {
                let policy = &self.settings.retry;
                let again =
                    (job.attempts + 1 < policy.max_polls).then_some(policy.poll_interval_millis);
                self.again(job, worker, order, step, error, again)
                    .await
                    .map(|outcome| (outcome, None))
            }
            StepResult::Retry(error) => {
                let policy = &self.settings.retry;
                let again = (job.attempts + 1 < policy.max_attempts)
                    .then(|| policy.backoff_millis(job.attempts, job.id.0.unsigned_abs()));
                if let Some(after) = again {
                    warn!(error = %error, after_millis = after, "step failed; retrying");
                }
                self.again(job, worker, order, step, error, again)
                    .await
                    .map(|outcome| (outcome, None))
            }
        }
    }

    /// Runs the job again after `after` milliseconds, or gives up when there is no next time.
    async fn again(
        &self,
        job: &Job,
        worker: &str,
        order: Order,
        step: Step,
        error: String,
        after: Option<i64>,
    ) -> Result<JobOutcome, AppError> {
        let Some(after) = after else {
            return self.give_up(job, worker, order, step, error).await;
        };
        let run_at = self.ports.clock.now().plus_millis(after);
        self.ports.jobs.retry(job, worker, run_at, &error).await?;
        Ok(JobOutcome::Retried {
            after_millis: after,
            error,
        })
    }

    /// Saves the step's answer and ends its job in one fenced write (with `chain`, answering
    /// the next job leased to `worker`, see [`run_job_chained`](Self::run_job_chained)).
    async fn finish(
        &self,
        job: &Job,
        worker: &str,
        order: Order,
        input: Input,
        chain: Option<i64>,
    ) -> Result<(JobOutcome, Option<(Job, Order)>), AppError> {
        let change = Change::new(input)
            .on(order)
            .completing(job, worker)
            .chaining(chain);
        match self.save(&job.order, change).await {
            Ok(saved) if saved.changed => Ok((
                JobOutcome::Completed,
                saved.chained.map(|next| (next, saved.order)),
            )),
            // Nothing to save (a repeated answer): the job still ends, fenced.
            Ok(_) => {
                self.ports.jobs.complete(job, worker).await?;
                Ok((JobOutcome::Completed, None))
            }
            Err(AppError::Transition(e)) => {
                self.ports.jobs.complete(job, worker).await?;
                Ok((JobOutcome::Skipped(e.to_string()), None))
            }
            Err(e) => Err(e),
        }
    }

    /// Retries ran out: the order needs attention, and the job ends with that change.
    async fn give_up(
        &self,
        job: &Job,
        worker: &str,
        order: Order,
        step: Step,
        last_error: String,
    ) -> Result<JobOutcome, AppError> {
        let reason = AttentionReason::RetriesExhausted { step, last_error };
        let text = reason.to_string();
        let change = Change::new(Input::StepFailed(reason))
            .on(order)
            .completing(job, worker);
        match self.save(&job.order, change).await {
            Ok(saved) if saved.changed => {}
            Ok(_) | Err(AppError::Transition(_)) => {
                self.ports.jobs.bury(job, worker, &text).await?;
            }
            Err(e) => return Err(e),
        }
        warn!(reason = %text, "gave up; order needs attention");
        Ok(JobOutcome::Buried(text))
    }

    pub(super) fn weixin_failure(step: Step, error: WeixinError) -> StepResult {
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

    pub(super) fn issuer_failure(step: Step, error: IssueError) -> StepResult {
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

    pub(super) fn outcome_input(outcome: IssueOutcome) -> Input {
        Input::IssueAnswered(match outcome {
            IssueOutcome::Issued(invoice) => IssueResult::Issued(invoice),
            IssueOutcome::Pending(reference) => IssueResult::Pending(reference),
            IssueOutcome::Rejected(rejection) => IssueResult::Rejected {
                reason: rejection.reason,
            },
        })
    }
}
