use std::collections::BTreeSet;
use std::sync::Arc;

use fapiao_domain::IssueKey;
use fapiao_domain::order::Command;
use fapiao_domain::ports::{Job, JobQueue, NewJob, PendingJob, RepositoryError};
use fapiao_storage::SeaOrmJobQueue;

use crate::harness::{Kind, TestDb, at, key};
use crate::on_both;

on_both!(
    enqueue_claim_complete,
    commands_with_data_round_trip,
    claim_takes_due_jobs_oldest_first_up_to_the_limit,
    a_leased_job_is_not_claimed_again_until_the_lease_expires,
    an_expired_lease_is_reclaimed_and_fences_out_the_old_worker,
    retry_counts_the_attempt_records_the_error_and_waits,
    bury_keeps_the_job_dead,
    concurrent_claimers_never_get_the_same_job,
    an_undecodable_job_is_buried_and_the_others_claimed,
    pending_for_shows_an_orders_live_jobs_with_their_retries,
);

fn new_job(order: &str, command: Command, run_at: i64) -> NewJob {
    NewJob {
        order: key(order),
        command,
        run_at: at(run_at),
    }
}

async fn enqueue_claim_complete(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    let id = queue
        .enqueue(&new_job("o-1", Command::FetchAuthData, 1_000))
        .await
        .expect("enqueue");
    assert_eq!(queue.pending_count().await.expect("count"), 1);

    let jobs = queue
        .claim("w1", 10, at(1_000), at(31_000))
        .await
        .expect("claim");
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.id, id);
    assert_eq!(job.order, key("o-1"));
    assert_eq!(job.command, Command::FetchAuthData);
    assert_eq!(job.attempts, 0);
    assert_eq!(job.lease_until, at(31_000));
    assert_eq!(job.last_error, None);

    queue.complete(job, "w1").await.expect("complete");
    assert_eq!(queue.pending_count().await.expect("count"), 0);
    let again = queue
        .complete(job, "w1")
        .await
        .expect_err("already completed");
    assert!(matches!(again, RepositoryError::LeaseLost(_)), "{again:?}");
    assert!(
        queue
            .claim("w1", 10, at(99_000), at(120_000))
            .await
            .expect("claim")
            .is_empty()
    );
}

async fn claim_takes_due_jobs_oldest_first_up_to_the_limit(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    for (order, run_at) in [("late", 5_000), ("b", 2_000), ("a", 1_000), ("c", 3_000)] {
        queue
            .enqueue(&new_job(order, Command::UploadPdf, run_at))
            .await
            .expect("enqueue");
    }
    assert_eq!(
        queue
            .claim("w", 0, at(10_000), at(20_000))
            .await
            .expect("claim")
            .len(),
        0
    );

    let jobs = queue
        .claim("w", 2, at(3_000), at(20_000))
        .await
        .expect("claim");
    let orders: Vec<_> = jobs.iter().map(|j| j.order.order_id.to_string()).collect();
    assert_eq!(orders, ["a", "b"]);

    let jobs = queue
        .claim("w", 10, at(3_000), at(20_000))
        .await
        .expect("claim");
    let orders: Vec<_> = jobs.iter().map(|j| j.order.order_id.to_string()).collect();
    assert_eq!(orders, ["c"], "the job due at 5000 is not due at 3000");
}

async fn a_leased_job_is_not_claimed_again_until_the_lease_expires(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    queue
        .enqueue(&new_job("o-1", Command::InsertCard, 0))
        .await
        .expect("enqueue");
    let first = queue
        .claim("w1", 5, at(1_000), at(11_000))
        .await
        .expect("claim");
    assert_eq!(first.len(), 1);
    for now in [1_000, 5_000, 10_999] {
        let other = queue
            .claim("w2", 5, at(now), at(now + 10_000))
            .await
            .expect("claim");
        assert!(other.is_empty(), "still leased at {now}");
    }
    // The lease counts as a pending job.
    assert_eq!(queue.pending_count().await.expect("count"), 1);
}

async fn an_expired_lease_is_reclaimed_and_fences_out_the_old_worker(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    queue
        .enqueue(&new_job("o-1", Command::InsertCard, 0))
        .await
        .expect("enqueue");
    let crashed = queue
        .claim("w1", 5, at(1_000), at(11_000))
        .await
        .expect("claim");
    assert_eq!(crashed.len(), 1);

    // w1 crashed; once its lease has run out, w2 picks the job up.
    let reclaimed = queue
        .claim("w2", 5, at(11_000), at(21_000))
        .await
        .expect("claim");
    assert_eq!(reclaimed.len(), 1);
    assert_eq!(reclaimed[0].id, crashed[0].id);
    assert_eq!(reclaimed[0].lease_until, at(21_000));

    // w1 comes back: every outcome it reports is refused and changes nothing.
    for outcome in [
        queue.complete(&crashed[0], "w1").await,
        queue.retry(&crashed[0], "w1", at(50_000), "late").await,
        queue.bury(&crashed[0], "w1", "late").await,
    ] {
        let err = outcome.expect_err("w1 no longer holds the job");
        assert!(matches!(err, RepositoryError::LeaseLost(_)), "{err:?}");
    }
    // Even the same worker name with a stale claim is fenced out by the lease end.
    let stale = Job {
        lease_until: crashed[0].lease_until,
        ..reclaimed[0].clone()
    };
    assert!(matches!(
        queue.complete(&stale, "w2").await,
        Err(RepositoryError::LeaseLost(_))
    ));
    queue
        .complete(&reclaimed[0], "w2")
        .await
        .expect("w2 holds it");
    assert_eq!(queue.pending_count().await.expect("count"), 0);
}

async fn retry_counts_the_attempt_records_the_error_and_waits(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    queue
        .enqueue(&new_job("o-1", Command::UploadPdf, 0))
        .await
        .expect("enqueue");
    let job = queue
        .claim("w", 1, at(100), at(10_000))
        .await
        .expect("claim")
        .remove(0);
    // The caller computed backoff plus jitter: next run at 2_345.
    queue
        .retry(&job, "w", at(2_345), "weixin -1: system busy")
        .await
        .expect("retry");
    assert!(
        queue
            .claim("w", 1, at(2_344), at(20_000))
            .await
            .expect("claim")
            .is_empty(),
        "not due before run_at, although the lease was released"
    );
    let job = queue
        .claim("w", 1, at(2_345), at(20_000))
        .await
        .expect("claim")
        .remove(0);
    assert_eq!(job.attempts, 1);
    assert_eq!(job.last_error.as_deref(), Some("weixin -1: system busy"));
    queue
        .retry(&job, "w", at(3_000), "again")
        .await
        .expect("retry");
    let job = queue
        .claim("w", 1, at(3_000), at(20_000))
        .await
        .expect("claim")
        .remove(0);
    assert_eq!(job.attempts, 2);
    assert_eq!(job.last_error.as_deref(), Some("again"));
}

async fn bury_keeps_the_job_dead(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    queue
        .enqueue(&new_job("o-1", Command::UploadPdf, 0))
        .await
        .expect("enqueue");
    queue
        .enqueue(&new_job("o-2", Command::UploadPdf, 0))
        .await
        .expect("enqueue");
    let jobs = queue.claim("w", 1, at(0), at(10_000)).await.expect("claim");
    queue
        .bury(&jobs[0], "w", "retries exhausted")
        .await
        .expect("bury");
    assert_eq!(queue.pending_count().await.expect("count"), 1);
    assert_eq!(queue.dead_count().await.expect("count"), 1);
    // A dead job is never claimed again, whatever the time.
    let later = queue
        .claim("w", 10, at(1_000_000), at(2_000_000))
        .await
        .expect("claim");
    assert_eq!(later.len(), 1);
    assert_ne!(later[0].id, jobs[0].id);
}

async fn concurrent_claimers_never_get_the_same_job(kind: Kind) {
    const JOBS: usize = 120;
    const WORKERS: usize = 6;
    let test_db = TestDb::new(kind).await;
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    for n in 0..JOBS {
        queue
            .enqueue(&new_job(&format!("o-{n}"), Command::FetchAuthData, 0))
            .await
            .expect("enqueue");
    }
    // Half the workers use a second pool, like a second instance.
    let other = Arc::new(SeaOrmJobQueue::new(test_db.second_instance().await));
    let queue = Arc::new(queue);
    let mut tasks = Vec::new();
    for worker in 0..WORKERS {
        let queue = if worker % 2 == 0 {
            queue.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            let name = format!("w{worker}");
            let mut claimed = Vec::new();
            loop {
                let jobs = queue
                    .claim(&name, 3, at(1), at(600_000))
                    .await
                    .expect("claim");
                if jobs.is_empty() {
                    break;
                }
                claimed.extend(jobs.iter().map(|job| job.id));
                tokio::task::yield_now().await;
            }
            claimed
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("worker task"));
    }
    let distinct: BTreeSet<_> = all.iter().copied().collect();
    assert_eq!(all.len(), JOBS, "every job claimed exactly once");
    assert_eq!(distinct.len(), JOBS, "no job claimed twice");
}

async fn commands_with_data_round_trip(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    let commands = [
        Command::IssueInvoice {
            key: IssueKey::parse("K20261127A1").expect("issue key"),
        },
        Command::RejectInsert {
            reason: "开票失败：购方税号有误".to_owned(),
            url: Some("https://example.com/why?a=1&b=2".to_owned()),
        },
    ];
    for (n, command) in commands.iter().enumerate() {
        let run_at = i64::try_from(n).expect("small");
        queue
            .enqueue(&new_job("o-1", command.clone(), run_at))
            .await
            .expect("enqueue");
    }
    let claimed = queue
        .claim("w", 10, at(10), at(1_000))
        .await
        .expect("claim");
    let back: Vec<_> = claimed.into_iter().map(|job| job.command).collect();
    assert_eq!(back, commands);
}

async fn an_undecodable_job_is_buried_and_the_others_claimed(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    for order in ["a", "bad", "c"] {
        queue
            .enqueue(&new_job(order, Command::UploadPdf, 1_000))
            .await
            .expect("enqueue");
    }
    test_db
        .execute("UPDATE jobs SET payload = '{\"no_such_command\":1}' WHERE order_id = 'bad'")
        .await;

    let jobs = queue
        .claim("w1", 10, at(1_000), at(31_000))
        .await
        .expect("the good rows are claimed despite the bad one");
    assert_eq!(
        jobs.iter().map(|j| j.order.clone()).collect::<Vec<_>>(),
        [key("a"), key("c")]
    );
    let rows = test_db
        .strings(
            "SELECT status, last_error, COALESCE(lease_owner, '-') FROM jobs WHERE order_id = 'bad'",
            3,
        )
        .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], "dead");
    assert!(
        rows[0][1].starts_with("undecodable job row: stored data is corrupt: jobs.payload: "),
        "{}",
        rows[0][1]
    );
    assert_eq!(rows[0][2], "-", "the lease is released");
    assert_eq!(queue.dead_count().await.expect("dead"), 1);
    assert_eq!(queue.pending_count().await.expect("pending"), 2);
    // Buried for good: a later claim, after every lease, does not see it again.
    assert!(
        queue
            .claim("w2", 10, at(99_000), at(120_000))
            .await
            .expect("claim")
            .iter()
            .all(|j| j.order != key("bad"))
    );
}

async fn pending_for_shows_an_orders_live_jobs_with_their_retries(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let queue = SeaOrmJobQueue::new(test_db.db.clone());
    queue
        .enqueue(&new_job("o-1", Command::UploadPdf, 2_000))
        .await
        .expect("enqueue");
    queue
        .enqueue(&new_job("o-1", Command::FetchAuthData, 1_000))
        .await
        .expect("enqueue");
    queue
        .enqueue(&new_job("other", Command::FetchAuthData, 1_000))
        .await
        .expect("enqueue");
    let dead = queue
        .enqueue(&new_job("o-1", Command::InsertCard, 500))
        .await
        .expect("enqueue");
    let claimed = queue
        .claim("w1", 10, at(2_000), at(32_000))
        .await
        .expect("claim");
    let job = |id| claimed.iter().find(|j| j.id == id).expect("claimed");
    queue.bury(job(dead), "w1", "gave up").await.expect("bury");
    let fetch = claimed
        .iter()
        .find(|j| j.order == key("o-1") && j.command == Command::FetchAuthData)
        .expect("claimed");
    queue
        .retry(fetch, "w1", at(9_000), "weixin errcode -1: system error")
        .await
        .expect("retry");

    let pending = queue.pending_for(&key("o-1")).await.expect("read");
    assert_eq!(
        pending,
        [
            PendingJob {
                command: Command::UploadPdf,
                attempts: 0,
                last_error: None,
                run_at: at(2_000),
            },
            PendingJob {
                command: Command::FetchAuthData,
                attempts: 1,
                last_error: Some("weixin errcode -1: system error".to_owned()),
                run_at: at(9_000),
            },
        ]
    );
    assert!(
        queue
            .pending_for(&key("none"))
            .await
            .expect("read")
            .is_empty()
    );
}
