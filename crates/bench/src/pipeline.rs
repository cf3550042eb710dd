//! `pipeline`: the whole pipeline against the sandbox (authorization push → getauthdata →
//! issue with PDF → setpdf → insert) for orders created through the merchant API, with
//! `fapiao serve` in its own process; the order helpers here also drive `memory`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use fapiao_storage::testing::TestDatabase;
use serde_json::{Value, json};

use crate::DbKind;
use crate::served::Served;
use crate::support::{
    LIVE_API_KEY, fresh_database, http_client, percentiles, sqlite_synchronous_setting,
};

fn order_body(order_id: &str) -> Value {
    json!({
        "scenario": "official_account",
        "order_id": order_id,
        "seller": "store-01",
        "lines": [
            { "name": "咖啡", "tax_code": "3070401000000000000", "quantity": "2", "unit_price": "28.00", "unit": "杯", "tax_rate": "0.06" },
            { "name": "蛋糕", "tax_code": "3070401000000000000", "amount": "44.00", "tax_rate": "0.06" }
        ],
        "redirect_url": "https://shop.invalid/done"
    })
}

/// Runs `f(i)` for `i in 0..count` on `connections` concurrent tasks.
async fn concurrently<F, Fut>(count: usize, connections: usize, f: F) -> anyhow::Result<()>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (f, next) = (f.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return anyhow::Ok(());
                }
                f(i).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

pub(crate) async fn create_orders(
    client: &reqwest::Client,
    base: &str,
    key: &'static str,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let (client, base, prefix) = (client.clone(), base.to_owned(), prefix.to_owned());
    concurrently(count, 32, move |i| {
        let (client, base, prefix) = (client.clone(), base.clone(), prefix.clone());
        async move {
            let response = client
                .post(format!("{base}/v1/orders"))
                .bearer_auth(key)
                .json(&order_body(&format!("{prefix}-{i:07}")))
                .send()
                .await?;
            let status = response.status();
            ensure!(
                status.as_u16() == 201,
                "create order {i}: {status} {}",
                response.text().await?
            );
            Ok(())
        }
    })
    .await?;
    Ok(started.elapsed())
}

pub(crate) async fn s_pappid(
    client: &reqwest::Client,
    base: &str,
    key: &str,
) -> anyhow::Result<String> {
    let doctor: Value = client
        .get(format!("{base}/v1/setup/doctor"))
        .bearer_auth(key)
        .send()
        .await?
        .json()
        .await?;
    doctor["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["check"] == "token and s_pappid"))
        .and_then(|c| c["detail"].as_str())
        .map(|d| d.trim_start_matches("s_pappid ").to_owned())
        .with_context(|| format!("no s_pappid in the doctor's answer: {doctor}"))
}

/// Every order authorizes (company title) through the sandbox's control API.
pub(crate) async fn authorize_all(
    client: &reqwest::Client,
    sandbox: &str,
    s_pappid: &str,
    prefix: &str,
    count: usize,
) -> anyhow::Result<()> {
    let (client, sandbox, s_pappid, prefix) = (
        client.clone(),
        sandbox.to_owned(),
        s_pappid.to_owned(),
        prefix.to_owned(),
    );
    concurrently(count, 16, move |i| {
        let body = json!({
            "s_pappid": s_pappid,
            "order_id": format!("{prefix}-{i:07}"),
            "title": { "kind": "company", "title": "深圳市腾讯计算机系统有限公司", "tax_no": "91440300708461136T" },
        });
        let (client, sandbox) = (client.clone(), sandbox.clone());
        async move {
            let response = client
                .post(format!("{sandbox}/sandbox/control/authorize"))
                .json(&body)
                .send()
                .await?;
            let status = response.status();
            ensure!(
                status.is_success(),
                "authorize {i}: {status} {}",
                response.text().await?
            );
            Ok(())
        }
    })
    .await
}

/// Waits until `expected` orders are delivered; answers when the last one was.
pub(crate) async fn wait_delivered(
    db: &TestDatabase,
    expected: usize,
    timeout: Duration,
) -> anyhow::Result<Instant> {
    let started = Instant::now();
    loop {
        let delivered = db
            .count("SELECT COUNT(*) FROM invoice_orders WHERE state = 'delivered'")
            .await?;
        if delivered >= expected as i64 {
            return Ok(Instant::now());
        }
        if started.elapsed() > timeout {
            bail!("only {delivered} of {expected} orders delivered after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The whole pipeline as deployed: `fapiao serve` in its own process (its runner on, live
/// mode), the Weixin sandbox in this one, the orders created through the merchant API and
/// authorized through the sandbox's control API at once.
pub(crate) async fn pipeline(
    kind: DbKind,
    orders: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let db = fresh_database(kind).await?;
    let served = Served::start(
        &db,
        &[
            ("FAPIAO__RUNNER__CONCURRENCY", concurrency.to_string()),
            (
                "FAPIAO__DATABASE__SQLITE_SYNCHRONOUS",
                sqlite_synchronous_setting().to_owned(),
            ),
        ],
    )
    .await?;
    let client = http_client(64)?;
    served.setup(&client).await?;
    let (base, sandbox) = (served.base.clone(), served.sandbox.clone());
    let s_pappid = s_pappid(&client, &base, LIVE_API_KEY).await?;

    let created = create_orders(&client, &base, LIVE_API_KEY, "PIPE", orders).await?;
    let started = Instant::now();
    authorize_all(&client, &sandbox, &s_pappid, "PIPE", orders).await?;
    let authorized = started.elapsed();
    let done = wait_delivered(&db, orders, Duration::from_secs(900)).await?;
    let elapsed = done - started;
    let metrics = client
        .get(format!("{base}/metrics"))
        .bearer_auth(LIVE_API_KEY)
        .send()
        .await?
        .text()
        .await?;
    served.stop().await?;

    let label = match kind {
        DbKind::Sqlite => "SQLite",
        DbKind::Postgres => "PostgreSQL",
    };
    println!(
        "pipeline ({label}, `fapiao serve` in its own process, runner concurrency {concurrency}): {orders} orders created through the API in {:.2} s ({:.0}/s); \
         authorized through the sandbox in {:.2} s; all delivered {:.2} s after the first authorization: {:.0} orders/s",
        created.as_secs_f64(),
        orders as f64 / created.as_secs_f64(),
        authorized.as_secs_f64(),
        elapsed.as_secs_f64(),
        orders as f64 / elapsed.as_secs_f64()
    );
    let mut latencies = order_latencies(&db).await?;
    println!(
        "pipeline: per order, authorization stored → delivered: {}",
        percentiles(&mut latencies)
    );
    println!(
        "pipeline: mean time in each state: {}",
        time_in_states(&db).await?
    );
    println!("pipeline: {}", step_summary(&metrics));
    // Every issue call the sandbox issuer answered is a ledger row under its idempotency key:
    // with every order delivered, as many rows as orders means none was issued twice.
    let ledger = db.count("SELECT COUNT(*) FROM sandbox_ledger").await?;
    println!(
        "pipeline: the sandbox issuer's ledger holds {ledger} invoices for {orders} delivered orders"
    );
    ensure!(
        ledger == orders as i64,
        "exactly one invoice per order was not kept"
    );
    db.close().await?;
    Ok(())
}

/// Mean duration per step and job outcomes, from the service's Prometheus metrics.
fn step_summary(metrics: &str) -> String {
    let value = |line: &str| {
        line.rsplit(' ')
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let label = |line: &str, name: &str| {
        line.split_once(&format!("{name}=\""))
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(v, _)| v.to_owned())
            .unwrap_or_default()
    };
    let mut steps = Vec::new();
    for line in metrics.lines() {
        if let Some(rest) = line.strip_prefix("fapiao_step_seconds_sum") {
            let step = label(rest, "step");
            let count = metrics
                .lines()
                .find(|l| l.starts_with("fapiao_step_seconds_count") && label(l, "step") == step)
                .map_or(0.0, value);
            if count > 0.0 {
                steps.push(format!(
                    "{step} {:.1} ms × {count:.0}",
                    value(line) * 1000.0 / count
                ));
            }
        }
    }
    let outcomes: Vec<String> = metrics
        .lines()
        .filter(|l| l.starts_with("fapiao_jobs_total"))
        .map(|l| {
            format!(
                "{}/{} {:.0}",
                label(l, "step"),
                label(l, "outcome"),
                value(l)
            )
        })
        .collect();
    format!(
        "mean run time per step: {}; jobs: {}",
        steps.join(", "),
        outcomes.join(", ")
    )
}

/// Mean milliseconds each order spent in each state before its next transition.
async fn time_in_states(db: &TestDatabase) -> anyhow::Result<String> {
    let rows = db
        .query("SELECT order_id, to_state, at FROM order_history ORDER BY s_pappid, order_id, seq")
        .await?;
    let mut totals: Vec<(String, i64, i64)> = Vec::new();
    let mut previous: Option<(String, String, i64)> = None;
    for row in &rows {
        let order = row.string(0)?;
        let state = row.string(1)?;
        let at = row.i64(2)?;
        if let Some((last_order, last_state, last_at)) = previous.take()
            && last_order == order
        {
            match totals.iter_mut().find(|(s, _, _)| *s == last_state) {
                Some(entry) => {
                    entry.1 += at - last_at;
                    entry.2 += 1;
                }
                None => totals.push((last_state, at - last_at, 1)),
            }
        }
        previous = Some((order, state, at));
    }
    Ok(totals
        .iter()
        .map(|(state, millis, n)| format!("{state} {:.0} ms", *millis as f64 / *n as f64))
        .collect::<Vec<_>>()
        .join(", "))
}

/// Milliseconds from `authorized` to `delivered` per order, from the transition history.
async fn order_latencies(db: &TestDatabase) -> anyhow::Result<Vec<u32>> {
    let rows = db
        .query(
            "SELECT d.at - a.at FROM order_history a JOIN order_history d \
             ON a.s_pappid = d.s_pappid AND a.order_id = d.order_id \
             WHERE a.to_state = 'authorized' AND d.to_state = 'delivered'",
        )
        .await?;
    rows.iter()
        .map(|row| {
            let millis = row.i64(0)?;
            Ok(u32::try_from(millis.max(0) * 1000).unwrap_or(u32::MAX))
        })
        .collect()
}
