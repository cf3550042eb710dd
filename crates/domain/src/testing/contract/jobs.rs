//! The job queue's part of the contract: fencing, claims, retries and burials.

use super::*;
/// The lease is the fence: another worker, and the same worker holding an older claim, can
/// neither complete, retry, bury nor renew the job.
pub async fn a_claim_is_fenced_by_worker_and_lease(stores: Stores) {
    let q = &stores.jobs;
    q.enqueue(&job("o-1", Command::UploadPdf, 1_000))
        .await
        .expect("enqueue");
    let first = q
        .claim("w1", 10, at(1_000), at(31_000))
        .await
        .expect("claim");
    assert_eq!(first.len(), 1);
    let first = &first[0];
    assert!(
        q.claim("w2", 10, at(2_000), at(32_000))
            .await
            .expect("claim")
            .is_empty(),
        "a leased job is not claimed again before its lease ends"
    );
    assert!(
        is_lease_lost(q.complete(first, "w2").await),
        "w2 never held it"
    );

    // w1's lease ends unfinished; w1 itself claims again: a new lease, the old one is void.
    let second = q
        .claim("w1", 10, at(31_000), at(61_000))
        .await
        .expect("claim");
    assert_eq!(second.len(), 1);
    let second = &second[0];
    assert_eq!(second.id, first.id);
    assert_eq!(second.lease_until, at(61_000));
    assert!(
        is_lease_lost(q.complete(first, "w1").await),
        "an old lease completes nothing"
    );
    assert!(is_lease_lost(
        q.retry(first, "w1", at(70_000), "late").await
    ));
    assert!(is_lease_lost(q.bury(first, "w1", "late").await));
    assert!(is_lease_lost(q.renew(first, "w1", at(90_000)).await));

    // Expired again, now w2 holds it: w1's current claim is as dead as the first.
    let third = q
        .claim("w2", 10, at(61_000), at(91_000))
        .await
        .expect("claim");
    assert_eq!(third.len(), 1);
    assert!(is_lease_lost(q.complete(second, "w1").await));
    assert!(is_lease_lost(q.renew(second, "w1", at(99_000)).await));
    q.renew(&third[0], "w2", at(95_000)).await.expect("renew");
    let renewed = Job {
        lease_until: at(95_000),
        ..third[0].clone()
    };
    assert!(
        q.claim("w1", 10, at(92_000), at(120_000))
            .await
            .expect("claim")
            .is_empty(),
        "a renewed lease holds past its first end"
    );
    assert!(
        is_lease_lost(q.complete(&third[0], "w2").await),
        "renewing moved the fence"
    );
    q.complete(&renewed, "w2")
        .await
        .expect("the holder completes");
    assert_eq!(q.pending_count().await.expect("count"), 0);
}

/// Two workers claiming in parallel, over and over, never both get a job.
pub async fn two_workers_claiming_at_once_never_share_a_job(stores: Stores) {
    const JOBS: usize = 24;
    for n in 0..JOBS {
        stores
            .jobs
            .enqueue(&job(&format!("o-{n:02}"), Command::UploadPdf, 1_000))
            .await
            .expect("enqueue");
    }
    let worker = |name: &'static str| {
        let jobs = Arc::clone(&stores.jobs);
        async move {
            let mut mine = Vec::new();
            loop {
                let claimed = jobs
                    .claim(name, 3, at(2_000), at(60_000))
                    .await
                    .expect("claim");
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|j| j.id));
            }
        }
    };
    let (a, b) = futures_join(worker("w1"), worker("w2")).await;
    let a_ids: BTreeSet<_> = a.iter().copied().collect();
    let b_ids: BTreeSet<_> = b.iter().copied().collect();
    assert_eq!(a_ids.len(), a.len(), "w1 got a job twice");
    assert_eq!(b_ids.len(), b.len(), "w2 got a job twice");
    assert!(
        a_ids.is_disjoint(&b_ids),
        "both workers hold {:?}",
        a_ids.intersection(&b_ids)
    );
    assert_eq!(a.len() + b.len(), JOBS, "every job claimed once");
}

/// Polls both futures in turn on the caller's executor, so each one's awaits interleave with
/// the other's (on a database adapter they are two connections racing).
async fn futures_join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    use std::pin::pin;
    use std::task::Poll;
    let mut a = pin!(a);
    let mut b = pin!(b);
    let mut out_a = None;
    let mut out_b = None;
    std::future::poll_fn(|cx| {
        if out_a.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            out_a = Some(v);
        }
        if out_b.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            out_b = Some(v);
        }
        if out_a.is_some() && out_b.is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    (
        out_a.expect("polled to the end"),
        out_b.expect("polled to the end"),
    )
}

/// Due jobs come out earliest `run_at` first, ties in enqueue order, up to the limit; jobs not
/// yet due stay.
pub async fn claim_takes_due_jobs_by_run_at_then_id(stores: Stores) {
    let q = &stores.jobs;
    for (order, run_at) in [
        ("late", 9_000),
        ("b", 2_000),
        ("a", 1_000),
        ("c", 2_000),
        ("d", 3_000),
    ] {
        q.enqueue(&job(order, Command::UploadPdf, run_at))
            .await
            .expect("enqueue");
    }
    let names = |jobs: Vec<Job>| -> Vec<String> {
        jobs.into_iter()
            .map(|j| j.order.order_id.as_str().to_owned())
            .collect()
    };
    let first = q
        .claim("w1", 3, at(5_000), at(60_000))
        .await
        .expect("claim");
    assert_eq!(names(first), ["a", "b", "c"]);
    let rest = q
        .claim("w1", 10, at(5_000), at(60_000))
        .await
        .expect("claim");
    assert_eq!(names(rest), ["d"], "the job due at 9 000 waits");
}

/// A retry counts the attempt, records the error, releases the lease and waits for `run_at`;
/// a bury counts the attempt too and the job is never claimed again.
pub async fn retry_and_bury_count_the_attempt(stores: Stores) {
    let q = &stores.jobs;
    q.enqueue(&job("o-1", Command::InsertCard, 1_000))
        .await
        .expect("enqueue");
    let claimed = q
        .claim("w1", 1, at(1_000), at(31_000))
        .await
        .expect("claim");
    q.retry(&claimed[0], "w1", at(10_000), "timed out")
        .await
        .expect("retry");
    assert!(
        q.claim("w2", 1, at(9_999), at(40_000))
            .await
            .expect("claim")
            .is_empty(),
        "not before run_at, though the lease was released"
    );
    let pending = q.pending_for(&fixtures::key("o-1")).await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].attempts, 1);
    assert_eq!(pending[0].last_error.as_deref(), Some("timed out"));
    assert_eq!(pending[0].run_at, at(10_000));

    let again = q
        .claim("w2", 1, at(10_000), at(40_000))
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].last_error.as_deref(), Some("timed out"));
    q.bury(&again[0], "w2", "gave up").await.expect("bury");
    assert_eq!(q.pending_count().await.expect("count"), 0);
    assert!(
        q.pending_for(&fixtures::key("o-1"))
            .await
            .expect("pending")
            .is_empty()
    );
    assert!(
        q.claim("w1", 10, at(1_000_000), at(2_000_000))
            .await
            .expect("claim")
            .is_empty(),
        "a buried job stays dead"
    );
    assert!(
        is_lease_lost(q.complete(&again[0], "w2").await),
        "a buried job is no longer held"
    );
}
