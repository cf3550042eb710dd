//! `memory`: resident memory and readiness of the `fapiao` binary with many delivered orders
//! stored and many more driven through the pipeline at once.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use fapiao_app::Config;

use crate::DbKind;
use crate::pipeline::{authorize_all, create_orders, s_pappid, wait_delivered};
use crate::support::{
    API_KEY, LIVE_API_KEY, LIVE_TOML, fresh_database, http_client, start_service, write_live_config,
};

/// `VmRSS` and `VmHWM` of `pid`, in MB.
pub(crate) fn resident(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub(crate) async fn memory(stored: usize, in_flight: usize) -> anyhow::Result<()> {
    let binary = std::env::current_exe()?.with_file_name("fapiao");
    ensure!(
        binary.exists(),
        "{} is missing: build it with `cargo build --release -p fapiao -p fapiao-bench`",
        binary.display()
    );
    let db = fresh_database(DbKind::Sqlite).await?;
    let file = db
        .sqlite_path()
        .context("a SQLite bench database has a file")?;
    let url = db.url().to_owned();

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
    let (port, sandbox_port) = (free_port()?, free_port()?);
    let base = format!("http://127.0.0.1:{port}");
    let sandbox = format!("http://127.0.0.1:{sandbox_port}");
    let sandbox_listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], sandbox_port))).await?;
    let config_dir = std::env::temp_dir().join(format!("fapiao-memory-{}", std::process::id()));
    std::fs::create_dir_all(&config_dir)?;
    let config_file = write_live_config(&config_dir)?;
    let sandbox_config = fapiao::sandbox_config(
        &Config::from_toml(LIVE_TOML)?,
        &format!("{base}/weixin/callback"),
    );
    let sandbox_task = tokio::spawn(fapiao_sandbox::serve(sandbox_listener, sandbox_config));
    let spawned = Instant::now();
    let mut child = tokio::process::Command::new(&binary)
        .arg("--config")
        .arg(&config_file)
        .arg("serve")
        .env("FAPIAO__DATABASE__URL", &url)
        .env("FAPIAO__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("FAPIAO__SERVER__PUBLIC_BASE_URL", &base)
        .env("FAPIAO__WEIXIN__MODE", "live")
        .env("FAPIAO__WEIXIN__BASE_URL", &sandbox)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().context("the child has a pid")?;
    let client = http_client(64)?;
    let ready = loop {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status().is_success()
        {
            break spawned.elapsed();
        }
        if let Some(status) = child.try_wait()? {
            bail!("fapiao exited with {status} before it was ready");
        }
        ensure!(
            spawned.elapsed() < Duration::from_secs(60),
            "not ready after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (idle, _) = resident(pid);
    println!(
        "memory: `fapiao serve` (live mode, Weixin sandbox in another process) ready {:.0} ms after spawn; \
         {idle:.1} MB resident at rest",
        ready.as_secs_f64() * 1000.0
    );
    let setup = client
        .post(format!("{base}/v1/setup"))
        .bearer_auth(LIVE_API_KEY)
        .send()
        .await?;
    ensure!(
        setup.status().is_success(),
        "setup: {}",
        setup.text().await?
    );

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
    child.kill().await?;
    sandbox_task.abort();
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
