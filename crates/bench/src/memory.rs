//! `memory`: resident memory and readiness of the `fapiao` binary with many delivered orders
//! stored and many more driven through the pipeline at once.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

use crate::DbKind;
use crate::pipeline::{authorize_all, create_orders, s_pappid, wait_delivered};
use crate::served::{Served, resident};
use crate::support::{API_KEY, LIVE_API_KEY, fresh_database, http_client, start_service};

pub(crate) async fn memory(stored: usize, in_flight: usize) -> anyhow::Result<()> {
    let db = fresh_database(DbKind::Sqlite).await?;
    let file = db
        .sqlite_path()
        .context("a SQLite bench database has a file")?;

    // Stored orders: a few hundred delivered through the real pipeline, then copied (with their
    // history, under new order ids and card codes) up to `stored`.
    let seed = stored.clamp(1, 500);
    {
        let running = start_service(&db, 32, false).await?;
        let client = http_client(64)?;
        let (base, sandbox) = (
            running.base_url(),
            running.sandbox_url().unwrap_or_default(),
        );
        let s_pappid = s_pappid(&client, &base, API_KEY).await?;
        create_orders(&client, &base, API_KEY, "SEED", seed).await?;
        authorize_all(&client, &sandbox, &s_pappid, "SEED", seed).await?;
        wait_delivered(&db, seed, Duration::from_secs(300)).await?;
        running.shutdown().await;
    }
    let copies = stored.div_ceil(seed).saturating_sub(1);
    if copies > 0 {
        for (table, columns) in [
            (
                "invoice_orders",
                "s_pappid, order_id || '-' || k, scenario, state, seller, money_fen, card_id, \
                 card_code || '-' || k, NULL, \
                 replace(aggregate, '\"' || order_id || '\"', '\"' || order_id || '-' || k || '\"'), \
                 version, created_at, updated_at",
            ),
            (
                "order_history",
                "s_pappid, order_id || '-' || k, seq, from_state, to_state, cause, at",
            ),
        ] {
            db.execute(&format!(
                    "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < {copies}) \
                     INSERT INTO {table} SELECT {columns} FROM {table}, n"
                ))
                .await?;
        }
    }
    let total = db.count("SELECT COUNT(*) FROM invoice_orders").await?;
    let history = db.count("SELECT COUNT(*) FROM order_history").await?;
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    let file_mb = std::fs::metadata(&file)?.len() as f64 / 1e6;
    println!(
        "memory: the SQLite file holds {total} delivered orders ({history} history rows, {file_mb:.0} MB)"
    );

    // The binary on that file, as an operator runs it against live Weixin: here the Weixin
    // sandbox runs in this process, so its own memory (it keeps every card and PDF it is
    // sent, as Weixin does) is not counted against fapiao. That sandbox is new, so what the
    // seeding one minted (tokens, card templates) is forgotten and setup runs again.
    db.execute("DELETE FROM token_cache; DELETE FROM setup_state; DELETE FROM card_templates;")
        .await?;
    let served = Served::start(&db, &[]).await?;
    let (pid, base, sandbox) = (served.pid, served.base.clone(), served.sandbox.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (idle, _) = resident(pid);
    println!(
        "memory: `fapiao serve` (live mode, Weixin sandbox in another process) ready {:.0} ms after spawn; \
         {idle:.1} MB resident at rest",
        served.ready.as_secs_f64() * 1000.0
    );
    let client = http_client(64)?;
    served.setup(&client).await?;

    let s_pappid = s_pappid(&client, &base, LIVE_API_KEY).await?;
    create_orders(&client, &base, LIVE_API_KEY, "FLIGHT", in_flight).await?;
    let (after_create, _) = resident(pid);
    let sampler = tokio::spawn(async move {
        let mut peak = 0.0f64;
        loop {
            peak = peak.max(resident(pid).0);
            tokio::time::sleep(Duration::from_millis(100)).await;
            if std::fs::metadata(format!("/proc/{pid}")).is_err() {
                return peak;
            }
        }
    });
    let started = Instant::now();
    authorize_all(&client, &sandbox, &s_pappid, "FLIGHT", in_flight).await?;
    let expected = total as usize + in_flight;
    let done = wait_delivered(&db, expected, Duration::from_secs(1800)).await?;
    let (rss, hwm) = resident(pid);
    served.stop().await?;
    let peak = sampler.await.unwrap_or(0.0).max(hwm);
    let driven = (done - started).as_secs_f64();
    println!(
        "memory: {in_flight} orders created ({after_create:.1} MB resident) then driven to delivered at once in {driven:.1} s \
         ({:.0} orders/s: `fapiao serve` in its own process, its runner on, the Weixin sandbox in this one); \
         peak {peak:.1} MB resident, {rss:.1} MB at the end",
        in_flight as f64 / driven
    );
    // Every issue call the sandbox issuer answered is a ledger row under its idempotency key:
    // the seeded orders' and the in-flight ones' (the copies have none).
    let ledger = db.count("SELECT COUNT(*) FROM sandbox_ledger").await?;
    let issued = i64::try_from(seed + in_flight).unwrap_or(i64::MAX);
    ensure!(
        ledger == issued,
        "the sandbox issuer's ledger holds {ledger} invoices for {issued} orders issued through the pipeline"
    );
    println!(
        "memory: the sandbox issuer's ledger holds {ledger} invoices for {issued} orders issued"
    );
    db.close().await?;
    Ok(())
}
