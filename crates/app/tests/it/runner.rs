#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The runner's housekeeping, driven through `Runner::run` over the in-memory fakes.

use std::time::Duration;

use fapiao_app::{Runner, RunnerSettings};
use fapiao_domain::Timestamp;
use fapiao_domain::ports::{
    EventInbox, MockWeixinMerchantApi, MockWeixinPlatformApi, RecordOutcome,
};
use fapiao_domain::testing::FakeIssuerMode;
use fapiao_domain::weixin::WeixinEvent;
use tokio::sync::{Notify, watch};

use crate::harness::*;

const HOUR: i64 = 3_600_000;

fn push(from: &str) -> WeixinEvent {
    WeixinEvent::Other {
        msg_type: "event".to_owned(),
        event: Some("subscribe".to_owned()),
        from: from.to_owned(),
        create_time: Timestamp::from_millis(T0),
    }
}

async fn record(h: &Harness, from: &str, received_at: i64) -> i64 {
    match h
        .inbox
        .record(&push(from), Timestamp::from_millis(received_at))
        .await
        .unwrap()
    {
        RecordOutcome::Recorded(id) => id,
        RecordOutcome::Duplicate => panic!("{from} stored twice"),
    }
}

fn senders(h: &Harness) -> Vec<(String, bool)> {
    h.inbox
        .entries()
        .into_iter()
        .map(|(event, processed, _)| match event {
            WeixinEvent::Other { from, .. } => (from, processed),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn the_runner_purges_processed_pushes_older_than_the_retention() {
    let h = harness(
        MockWeixinMerchantApi::new(),
        MockWeixinPlatformApi::new(),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    let old = record(&h, "old-processed", T0 - 48 * HOUR).await;
    let recent = record(&h, "recent-processed", T0 - HOUR).await;
    record(&h, "old-unprocessed", T0 - 48 * HOUR).await;
    h.inbox.mark_processed(old, None).await.unwrap();
    h.inbox.mark_processed(recent, None).await.unwrap();
    // Another instance holds the unprocessed push, so this runner's rounds leave it alone.
    let held = h
        .inbox
        .claim(
            "other-instance",
            10,
            h.clock_now(),
            Timestamp::from_millis(T0 + 24 * HOUR),
        )
        .await
        .unwrap();
    assert_eq!(held.len(), 1);

    let settings = RunnerSettings {
        inbox_retention: Some(Duration::from_secs(24 * 3600)),
        purge_every: Duration::from_secs(3600),
        idle_poll: Duration::from_millis(10),
        ..RunnerSettings::default()
    };
    let runner = Runner::new(
        h.service.clone(),
        settings,
        std::sync::Arc::new(Notify::new()),
    );
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(runner.run(stopped));
    // The purge runs when the runner starts (then every `purge_every`).
    for _ in 0..500 {
        if h.inbox.entries().len() < 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap();

    assert_eq!(
        senders(&h),
        [
            ("recent-processed".to_owned(), true),
            ("old-unprocessed".to_owned(), false)
        ]
    );
}

#[tokio::test]
async fn without_a_retention_the_runner_keeps_every_push() {
    let h = harness(
        MockWeixinMerchantApi::new(),
        MockWeixinPlatformApi::new(),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    let old = record(&h, "old-processed", T0 - 480 * HOUR).await;
    h.inbox.mark_processed(old, None).await.unwrap();
    let settings = RunnerSettings {
        inbox_retention: None,
        idle_poll: Duration::from_millis(10),
        ..RunnerSettings::default()
    };
    let runner = Runner::new(
        h.service.clone(),
        settings,
        std::sync::Arc::new(Notify::new()),
    );
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(runner.run(stopped));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(true).unwrap();
    task.await.unwrap();
    assert_eq!(senders(&h), [("old-processed".to_owned(), true)]);
}
