//! `ingest`: push ingestion over HTTP (verify, decrypt, parse, store in the inbox,
//! acknowledge), against an in-process fapiao or another receiver.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::ensure;

use crate::DbKind;
use crate::support::{fresh_database, http_client, percentiles, sealed_pushes, start_service};

pub(crate) async fn ingest(
    kind: DbKind,
    pushes: usize,
    duplicate_percent: usize,
    connections: usize,
    target: Option<String>,
) -> anyhow::Result<()> {
    let sealed = sealed_pushes(pushes)?;
    // Re-sends of pushes sent earlier, spread through the run, as Weixin's retries are.
    let duplicates = pushes * duplicate_percent / 100;
    let mut order: Vec<usize> = (0..pushes).collect();
    for d in 0..duplicates {
        let original = (d * 7_919) % pushes.max(1);
        let at = (original + 1 + (d * 104_729) % 5_000).min(order.len());
        order.insert(at, original);
    }

    let (db, running, url) = match &target {
        Some(url) => (None, None, url.clone()),
        None => {
            let db = fresh_database(kind).await?;
            // Only the receiving side: the runner would compete for the database and the
            // cores while it processes the (orderless) events.
            let running = start_service(&db, 1, true).await?;
            let url = format!("{}/weixin/callback", running.base_url());
            (Some(db), Some(running), url)
        }
    };
    let requests: Arc<Vec<(String, String)>> = Arc::new(
        order
            .iter()
            .map(|&i| {
                let push = &sealed[i];
                (format!("{url}?{}", push.query), push.body.clone())
            })
            .collect(),
    );
    let client = http_client(connections)?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (client, requests, next) = (client.clone(), requests.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(requests.len() / connections + 1);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((url, body)) = requests.get(i) else {
                    break;
                };
                let sent = Instant::now();
                let response = client.post(url).body(body.clone()).send().await?;
                let status = response.status();
                let text = response.text().await?;
                ensure!(
                    status.is_success() && text == "success",
                    "push {i}: {status} {text}"
                );
                latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(requests.len());
    for worker in workers {
        latencies.extend(worker.await??);
    }
    let elapsed = started.elapsed();
    let total = requests.len();
    println!(
        "ingest ({}): {pushes} distinct + {duplicates} re-sent pushes over {connections} connections in {:.2} s: \
         {:.0} pushes/s ({:.0} distinct/s); {}",
        target.as_deref().unwrap_or(match kind {
            DbKind::Sqlite => "fapiao, SQLite",
            DbKind::Postgres => "fapiao, PostgreSQL",
        }),
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        pushes as f64 / elapsed.as_secs_f64(),
        percentiles(&mut latencies)
    );
    if let (Some(db), Some(running)) = (db, running) {
        running.shutdown().await;
        let stored = db.count("SELECT COUNT(*) FROM event_inbox").await?;
        println!(
            "ingest: inbox holds {stored} events for {pushes} distinct pushes{}",
            if stored == pushes as i64 {
                " (each stored exactly once)"
            } else {
                " — MISMATCH"
            }
        );
        ensure!(stored == pushes as i64, "the inbox count is wrong");
        db.close().await?;
    }
    Ok(())
}
