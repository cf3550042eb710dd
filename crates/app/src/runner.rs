//! The workflow runner: drives stored jobs and pushes with bounded concurrency until shut down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::service::{InvoiceService, JobOutcome};

/// The pushes and steps a runner has started and not reaped yet.
type Tasks = JoinSet<Result<JobOutcome, crate::AppError>>;

/// Runner settings.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Name of this worker in job leases (unique per instance).
    pub worker_id: String,
    /// Jobs run at once.
    pub concurrency: usize,
    /// Longest wait between polls when idle.
    pub idle_poll: Duration,
    /// Lease of a claimed job; a crashed worker's jobs are reclaimed after it.
    pub lease: Duration,
    /// How often orders awaiting authorization are reconciled with `getauthdata`.
    pub reconcile_every: Duration,
    /// Processed pushes older than this are purged from the inbox (`None` keeps them all).
    /// A push redelivered after its row went is processed again, which changes nothing
    /// (inputs are idempotent) but is work; keep rows well past Weixin's retry span.
    pub inbox_retention: Option<Duration>,
    /// How often the inbox purge runs (also once when the runner starts).
    pub purge_every: Duration,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            worker_id: "fapiao-1".to_owned(),
            concurrency: 16,
            idle_poll: Duration::from_millis(500),
            lease: Duration::from_secs(60),
            reconcile_every: Duration::from_secs(60),
            inbox_retention: Some(Duration::from_secs(7 * 24 * 3600)),
            purge_every: Duration::from_secs(3600),
        }
    }
}

/// How long an idle runner woken by new work waits before it claims: a lone push is acknowledged
/// at once either way (handling it is the runner's business), and a trickle of pushes is then
/// claimed, and marked or released, in one commit rather than in one each.
const GATHER: Duration = Duration::from_millis(5);

/// Drives the pipeline.
#[derive(Debug)]
pub struct Runner {
    invoices: InvoiceService,
    settings: RunnerSettings,
    work: Arc<Notify>,
}

/// The most steps one task runs back to back for one order before leaving the next to a claim.
const MAX_CHAIN: usize = 8;

/// Runs `job`, then each next step of its order that the step made due at once, with the order
/// as just saved (no claim and no read in between), up to [`MAX_CHAIN`] steps; the last one's
/// follow-up, if any, is enqueued and claimed like any other. Answers the last outcome.
async fn run_chain(
    invoices: &InvoiceService,
    job: fapiao_domain::ports::Job,
    worker: &str,
    lease: i64,
) -> Result<JobOutcome, crate::AppError> {
    let mut next = Some((job, None));
    let mut last = Ok(JobOutcome::Completed);
    for run in 1..=MAX_CHAIN {
        let Some((job, order)) = next.take() else {
            break;
        };
        let step = job.command.step();
        let started = Instant::now();
        let chain = (run < MAX_CHAIN).then_some(lease);
        let outcome = invoices.run_job_chained(&job, worker, order, chain).await;
        metrics::histogram!("fapiao_step_seconds", "step" => step.code())
            .record(started.elapsed().as_secs_f64());
        let label = match &outcome {
            Ok((JobOutcome::Completed, _)) => "completed",
            Ok((JobOutcome::Skipped(_), _)) => "skipped",
            Ok((JobOutcome::Retried { .. }, _)) => "retried",
            Ok((JobOutcome::Buried(_), _)) => "buried",
            Err(_) => "error",
        };
        metrics::counter!("fapiao_jobs_total", "step" => step.code(), "outcome" => label)
            .increment(1);
        last = match outcome {
            Ok((outcome, follow)) => {
                next = follow.map(|(job, order)| (job, Some(order)));
                Ok(outcome)
            }
            Err(e) => Err(e),
        };
    }
    last
}

impl Runner {
    /// A runner over `invoices`; `work` wakes it early (e.g. when a push was stored).
    pub fn new(invoices: InvoiceService, settings: RunnerSettings, work: Arc<Notify>) -> Self {
        Runner {
            invoices,
            settings,
            work,
        }
    }

    /// One round: claims pushes and starts them in `set`, then claims due jobs — only as many
    /// as there are free slots, so no claimed job waits for a slot while its lease runs — and
    /// starts them, with at most `concurrency` running at once, claiming again as long as the
    /// last claim came back full. Returns how many items were started.
    ///
    /// The round does not wait for what it started: a step that runs long (a Weixin call held
    /// up to its timeout, an issuer that answers slowly) holds one slot, never the others, and
    /// the next round fills the free slots.
    ///
    /// Pushes and jobs run side by side: two items of one order may race, and the loser's
    /// optimistic version check sends it back for a retry, so no state is ever overwritten.
    ///
    /// # Errors
    /// Storage errors (logged by [`Runner::run`], which keeps going).
    async fn round(&self, set: &mut Tasks) -> Result<usize, crate::AppError> {
        let worker = &self.settings.worker_id;
        let concurrency = self.settings.concurrency.max(1);
        let inbox_limit = 256;
        let lease = i64::try_from(self.settings.lease.as_millis()).unwrap_or(60_000);
        let mut handled = 0;
        while let Some(result) = set.try_join_next() {
            Self::reap(Some(result));
        }
        loop {
            let items = self.invoices.claim_inbox(worker, inbox_limit).await?;
            let inbox_full = items.len() == inbox_limit as usize;
            handled += items.len();
            for item in items {
                while set.len() >= concurrency {
                    Self::reap(set.join_next().await);
                }
                let invoices = self.invoices.clone();
                set.spawn(async move {
                    invoices
                        .process_event(&item)
                        .await
                        .map(|()| JobOutcome::Completed)
                });
            }
            if set.len() >= concurrency {
                Self::reap(set.join_next().await);
            }
            // Every slot freed meanwhile is filled by this one claim: claiming for one slot at a
            // time would make the claim's round trip (a commit) the pace of the whole runner.
            while let Some(result) = set.try_join_next() {
                Self::reap(Some(result));
            }
            let free = concurrency - set.len();
            let free_u32 = u32::try_from(free).unwrap_or(u32::MAX);
            let jobs = self.invoices.claim_jobs(worker, free_u32, lease).await?;
            let more = inbox_full || jobs.len() == free;
            handled += jobs.len();
            for job in jobs {
                let invoices = self.invoices.clone();
                let worker = worker.clone();
                set.spawn(async move { run_chain(&invoices, job, &worker, lease).await });
            }
            if !more {
                break;
            }
        }
        Ok(handled)
    }

    fn reap(result: Option<Result<Result<JobOutcome, crate::AppError>, tokio::task::JoinError>>) {
        match result {
            Some(Ok(Err(e))) => {
                warn!(error = %e, "job failed on storage; its lease will expire and it runs again")
            }
            Some(Err(e)) => error!(error = %e, "job task panicked"),
            _ => {}
        }
    }

    /// Purges processed pushes older than the retention, if one is set; failures are logged
    /// (the next purge catches up).
    async fn purge_inbox(&self) {
        let Some(retention) = self.settings.inbox_retention else {
            return;
        };
        let retention_millis = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        match self.invoices.purge_inbox(retention_millis).await {
            Ok(0) => {}
            Ok(purged) => info!(purged, "processed pushes purged from the inbox"),
            Err(e) => warn!(error = %e, "inbox purge failed"),
        }
    }

    /// Runs until `shutdown` turns true; lets the steps in progress finish first (dropping
    /// them would abort them midway).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        info!(worker = %self.settings.worker_id, concurrency = self.settings.concurrency, "runner started");
        let mut last_reconcile = Instant::now();
        let mut last_purge: Option<Instant> = None;
        let mut set = Tasks::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            if last_purge.is_none_or(|at| at.elapsed() >= self.settings.purge_every) {
                last_purge = Some(Instant::now());
                self.purge_inbox().await;
            }
            let handled = match self.round(&mut set).await {
                Ok(n) => n,
                Err(e) => {
                    warn!(error = %e, "runner round failed");
                    0
                }
            };
            if last_reconcile.elapsed() >= self.settings.reconcile_every {
                last_reconcile = Instant::now();
                if let Err(e) = self.invoices.reconcile_awaiting(200).await {
                    warn!(error = %e, "reconciliation failed");
                }
            }
            if handled == 0 {
                // A step that ends may have queued the next one: look again then too.
                tokio::select! {
                    // Woken by a push (or an API call): the pushes arriving just after it are
                    // claimed with it, and settled together, in one commit instead of one each.
                    _ = self.work.notified() => tokio::time::sleep(GATHER).await,
                    Some(result) = set.join_next(), if !set.is_empty() => Self::reap(Some(result)),
                    _ = tokio::time::sleep(self.settings.idle_poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        while let Some(result) = set.join_next().await {
            Self::reap(Some(result));
        }
        info!("runner stopped");
    }
}
