//! The pipeline's jobs: claimed with a lease, run through [`steps`](super::steps), their
//! result fed back to the order, then completed, retried with backoff, polled or buried.

use fapiao_domain::order::{AttentionReason, Command, Input, IssueResult, Order, Step};
use fapiao_domain::ports::{IssueError, IssueOutcome, Job};
use fapiao_domain::weixin::{ErrorClass, WeixinError};
use tracing::warn;

use super::{Change, InvoiceService, new_job};
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
    /// Apply the input (if any) and also enqueue this command (e.g. re-issue with the same key).
    ApplyThen(Option<Input>, Command),
    Retry(String),
    /// A pending answer: poll again without counting a failure.
    Poll(String),
    Skip(String),
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
            Some(input) => {
                let change = Change::new(input)
                    .on(order)
                    .then(extra)
                    .completing(job, worker);
                match self.save(&job.order, change).await {
                    Ok(saved) if saved.job_completed => return Ok(JobOutcome::Completed),
                    Ok(_) => JobOutcome::Completed,
                    Err(AppError::Transition(e)) => JobOutcome::Skipped(e.to_string()),
                    Err(e) => return Err(e),
                }
            }
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
            .save(&job.order, Change::new(Input::StepFailed(reason)))
            .await
        {
            Ok(_) | Err(AppError::Transition(_)) => {}
            Err(e) => return Err(e),
        }
        self.ports.jobs.bury(job, worker, &text).await?;
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
