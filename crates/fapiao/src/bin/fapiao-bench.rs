//! `fapiao-bench`: the performance figures of `docs/BENCHMARKS.md`.
//!
//! Every figure comes from the real code paths: the push receiver of `fapiao-weixin`, the
//! service started by [`fapiao::start`] on a real SQLite file or PostgreSQL schema, the
//! in-process Weixin sandbox and the sandbox issuer with its real PDFs, and the `fapiao`
//! binary itself for memory and readiness. The load generator runs on the same machine (in this
//! process, or against `--target` for another receiver).
//!
//! ```sh
//! cargo build --release -p fapiao --bins
//! target/release/fapiao-bench decode
//! target/release/fapiao-bench ingest --db sqlite
//! target/release/fapiao-bench pipeline --db postgres
//! target/release/fapiao-bench pdf
//! target/release/fapiao-bench memory
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use clap::{Parser, Subcommand, ValueEnum};
use fapiao::{Running, StartOptions};
use fapiao_app::Config;
use fapiao_domain::ports::PushDecoder;
use fapiao_domain::time::Timestamp;
use fapiao_issuer::pdf::{FaceParty, FaceRow, InvoiceFace, InvoicePdfRenderer};
use fapiao_storage::{Database, DatabaseOptions};
use fapiao_weixin::crypto::{AesKey, KeyRing};
use fapiao_weixin::seal::{SafePush, SealedPush};
use fapiao_weixin::{PushConfig, PushMode, PushReceiver};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

/// The embedded defaults' push settings (`crates/app/src/defaults.toml`).
const TOKEN: &str = "sandboxtoken";
const ENCODING_AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wxsandboxofficial01";
const API_KEY: &str = "sandbox-api-key-change-me";
/// The API key of the `fapiao serve` child in live mode (which refuses the public default).
const LIVE_API_KEY: &str = "fapiao-bench-live-api-key";

#[derive(Debug, Parser)]
#[command(
    name = "fapiao-bench",
    about = "fapiao's benchmarks (docs/BENCHMARKS.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DbKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify + decrypt + parse of safe-mode pushes on one thread, no I/O.
    Decode {
        #[arg(long, default_value_t = 300_000)]
        messages: usize,
    },
    /// Push ingestion over HTTP: verify, decrypt, parse, store in the inbox, acknowledge.
    Ingest {
        #[arg(long, value_enum, default_value = "sqlite")]
        db: DbKind,
        /// Distinct pushes.
        #[arg(long, default_value_t = 100_000)]
        pushes: usize,
        /// Extra re-sends of already sent pushes, in percent of `pushes` (Weixin retries).
        #[arg(long, default_value_t = 10)]
        duplicate_percent: usize,
        /// Concurrent connections of the load generator.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Send to this callback URL instead of an in-process fapiao (e.g. another receiver
        /// configured with the same token, EncodingAESKey and appid); nothing is counted there.
        #[arg(long)]
        target: Option<String>,
    },
    /// The whole pipeline against the sandbox: authorization push → getauthdata → issue with
    /// PDF → setpdf → insert, for orders created through the merchant API.
    Pipeline {
        #[arg(long, value_enum, default_value = "sqlite")]
        db: DbKind,
        #[arg(long, default_value_t = 2_000)]
        orders: usize,
        /// The runner's concurrency (`runner.concurrency`).
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// Render invoice PDFs on one thread.
    Pdf {
        #[arg(long, default_value_t = 500)]
        invoices: usize,
        /// Lines per invoice.
        #[arg(long, default_value_t = 3)]
        lines: usize,
    },
    /// Resident memory and readiness of the `fapiao` binary with `stored` delivered orders in
    /// its SQLite file and `in_flight` orders driven through the pipeline at once.
    Memory {
        #[arg(long, default_value_t = 100_000)]
        stored: usize,
        #[arg(long, default_value_t = 10_000)]
        in_flight: usize,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!("machine: {}", machine());
    match cli.command {
        Command::Decode { messages } => decode(messages),
        Command::Ingest {
            db,
            pushes,
            duplicate_percent,
            connections,
            target,
        } => runtime.block_on(ingest(db, pushes, duplicate_percent, connections, target)),
        Command::Pipeline {
            db,
            orders,
            concurrency,
        } => runtime.block_on(pipeline(db, orders, concurrency)),
        Command::Pdf { invoices, lines } => pdf(invoices, lines),
        Command::Memory { stored, in_flight } => runtime.block_on(memory(stored, in_flight)),
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{cores} cores, load average {} at start, {} build",
        load.join(" "),
        if cfg!(debug_assertions) {
            "DEBUG (figures are meaningless)"
        } else {
            "release"
        }
    )
}

// ---------------------------------------------------------------------------------------------
// Pushes

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The buyer with `index` authorized order `order_id`, sealed as Weixin does in safe mode.
fn seal_push(key: &AesKey, order_id: &str, index: u64, timestamp: i64) -> SealedPush {
    let openid = format!("oBENCH{index:022}");
    let inner = format!(
        "<xml><ToUserName><![CDATA[gh_fapiao_bench]]></ToUserName>\
         <FromUserName><![CDATA[{openid}]]></FromUserName>\
         <CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
         <Event><![CDATA[user_authorize_invoice]]></Event>\
         <SuccOrderId><![CDATA[{order_id}]]></SuccOrderId><FailOrderId><![CDATA[]]></FailOrderId>\
         <AuthorizeAppId><![CDATA[{APPID}]]></AuthorizeAppId><Source><![CDATA[web]]></Source></xml>"
    );
    let mut random = [0u8; 16];
    random[..8].copy_from_slice(&index.to_le_bytes());
    SafePush {
        token: TOKEN,
        key,
        appid: APPID,
        to_user_name: "gh_fapiao_bench",
        openid: &openid,
        timestamp,
        nonce: &format!("{}", 1_000_000_000 + index),
        random: &random,
    }
    .seal(&inner)
}

fn sealed_pushes(count: usize) -> anyhow::Result<Vec<SealedPush>> {
    let key = AesKey::from_encoding_aes_key(ENCODING_AES_KEY)?;
    let now = unix_now();
    Ok((0..count as u64)
        .map(|i| seal_push(&key, &format!("BENCH-{i:09}"), i, now))
        .collect())
}

fn decode(messages: usize) -> anyhow::Result<()> {
    let receiver = PushReceiver::new(PushConfig::encrypted(
        TOKEN,
        fapiao_domain::ids::AppId::parse(APPID).map_err(|e| anyhow::anyhow!(e.rule))?,
        PushMode::Safe,
        KeyRing::new(AesKey::from_encoding_aes_key(ENCODING_AES_KEY)?),
    ))?;
    let pushes = sealed_pushes(messages)?;
    let now = Timestamp::from_millis(unix_now() * 1000);
    // Warm up, and check that every push decodes to the order it was sealed for.
    for (i, push) in pushes.iter().enumerate().take(1000) {
        let event = receiver
            .decode(&push.query, push.body.as_bytes(), now)
            .map_err(|e| anyhow::anyhow!("push {i}: {e}"))?;
        ensure!(
            event.dedupe_key().contains(&format!("BENCH-{i:09}")),
            "push {i} decoded to {event:?}"
        );
    }
    let started = Instant::now();
    let mut decoded = 0usize;
    for push in &pushes {
        if receiver
            .decode(&push.query, push.body.as_bytes(), now)
            .is_ok()
        {
            decoded += 1;
        }
    }
    let elapsed = started.elapsed();
    ensure!(decoded == messages, "only {decoded} of {messages} decoded");
    println!(
        "decode: {messages} safe-mode pushes on one thread in {:.3} s: {:.0} messages/s, {:.2} µs each",
        elapsed.as_secs_f64(),
        messages as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / messages as f64
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// A service on a fresh database

/// A fresh database: a SQLite file in a temporary directory, or a new PostgreSQL schema that
/// is dropped at the end.
struct BenchDb {
    db: Database,
    raw: DatabaseConnection,
    dir: Option<PathBuf>,
    schema: Option<(String, String)>,
}

impl BenchDb {
    async fn new(kind: DbKind) -> anyhow::Result<Self> {
        match kind {
            DbKind::Sqlite => {
                let dir = std::env::temp_dir().join(format!("fapiao-bench-{}", std::process::id()));
                std::fs::create_dir_all(&dir)?;
                let url = format!("sqlite://{}?mode=rwc", dir.join("fapiao.db").display());
                let db = Database::connect(&url).await?;
                let raw = sea_orm::Database::connect(url.as_str()).await?;
                Ok(Self {
                    db,
                    raw,
                    dir: Some(dir),
                    schema: None,
                })
            }
            DbKind::Postgres => {
                let url = std::env::var("FAPIAO_BENCH_DATABASE_URL")
                    .or_else(|_| std::env::var("FAPIAO_TEST_DATABASE_URL"))
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
                let schema = format!("fapiao_bench_{}", std::process::id());
                let admin = sea_orm::Database::connect(url.as_str())
                    .await
                    .with_context(|| format!("connecting to {url}"))?;
                admin
                    .execute_unprepared(&format!(
                        "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE; CREATE SCHEMA \"{schema}\""
                    ))
                    .await?;
                admin.close().await?;
                let options = DatabaseOptions {
                    postgres_schema: Some(schema.clone()),
                    ..DatabaseOptions::default()
                };
                let db = Database::connect_with(&url, &options).await?;
                let mut raw = sea_orm::ConnectOptions::new(url.as_str());
                raw.set_schema_search_path(schema.clone())
                    .sqlx_logging(false);
                let raw = sea_orm::Database::connect(raw).await?;
                Ok(Self {
                    db,
                    raw,
                    dir: None,
                    schema: Some((url, schema)),
                })
            }
        }
    }

    async fn count(&self, sql: &str) -> anyhow::Result<i64> {
        let row = self
            .raw
            .query_one_raw(Statement::from_string(self.raw.get_database_backend(), sql))
            .await?
            .with_context(|| format!("no row from {sql}"))?;
        Ok(row.try_get_by_index::<i64>(0)?)
    }

    async fn drop(self) -> anyhow::Result<()> {
        self.raw.close().await?;
        self.db.close().await?;
        if let Some(dir) = self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((url, schema)) = self.schema {
            let admin = sea_orm::Database::connect(url.as_str()).await?;
            admin
                .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .await?;
            admin.close().await?;
        }
        Ok(())
    }
}

async fn start_service(
    db: &BenchDb,
    concurrency: usize,
    skip_runner: bool,
) -> anyhow::Result<Running> {
    let config = Config::from_toml(&format!("[runner]\nconcurrency = {concurrency}\n"))?;
    let loopback = || Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    fapiao::start(
        config,
        StartOptions {
            database: Some(db.db.clone()),
            listen: loopback(),
            sandbox_listen: loopback(),
            skip_setup: false,
            skip_runner,
        },
    )
    .await
}

fn http_client(connections: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Latency percentiles of `micros` (sorted in place), in milliseconds.
fn percentiles(micros: &mut [u32]) -> String {
    micros.sort_unstable();
    let at = |p: f64| {
        let i = ((micros.len() as f64 - 1.0) * p).round() as usize;
        f64::from(micros.get(i).copied().unwrap_or(0)) / 1000.0
    };
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        at(0.50),
        at(0.99),
        at(0.999),
        at(1.0)
    )
}

// ---------------------------------------------------------------------------------------------
// Ingestion

async fn ingest(
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
            let db = BenchDb::new(kind).await?;
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
        db.drop().await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Pipeline

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

async fn create_orders(
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

async fn s_pappid(client: &reqwest::Client, base: &str, key: &str) -> anyhow::Result<String> {
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
async fn authorize_all(
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
async fn wait_delivered(
    raw: &DatabaseConnection,
    expected: usize,
    timeout: Duration,
) -> anyhow::Result<Instant> {
    let started = Instant::now();
    loop {
        let row = raw
            .query_one_raw(Statement::from_string(
                raw.get_database_backend(),
                "SELECT COUNT(*) FROM invoice_orders WHERE state = 'delivered'",
            ))
            .await?
            .context("no count")?;
        let delivered: i64 = row.try_get_by_index(0)?;
        if delivered >= expected as i64 {
            return Ok(Instant::now());
        }
        if started.elapsed() > timeout {
            bail!("only {delivered} of {expected} orders delivered after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn pipeline(kind: DbKind, orders: usize, concurrency: usize) -> anyhow::Result<()> {
    let db = Arc::new(BenchDb::new(kind).await?);
    let running = start_service(&db, concurrency, false).await?;
    let (base, sandbox) = (
        running.base_url(),
        running
            .sandbox_url()
            .context("the sandbox profile has a sandbox")?,
    );
    let client = http_client(64)?;
    let s_pappid = s_pappid(&client, &base, API_KEY).await?;

    let created = create_orders(&client, &base, API_KEY, "PIPE", orders).await?;
    let started = Instant::now();
    authorize_all(&client, &sandbox, &s_pappid, "PIPE", orders).await?;
    let authorized = started.elapsed();
    let done = wait_delivered(&db.raw, orders, Duration::from_secs(900)).await?;
    let elapsed = done - started;
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    running.shutdown().await;

    let label = match kind {
        DbKind::Sqlite => "SQLite",
        DbKind::Postgres => "PostgreSQL",
    };
    println!(
        "pipeline ({label}, runner concurrency {concurrency}): {orders} orders created through the API in {:.2} s ({:.0}/s); \
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
    Arc::into_inner(db)
        .context("the database is still shared")?
        .drop()
        .await
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
async fn time_in_states(db: &BenchDb) -> anyhow::Result<String> {
    let rows = db
        .raw
        .query_all_raw(Statement::from_string(
            db.raw.get_database_backend(),
            "SELECT order_id, to_state, at FROM order_history ORDER BY s_pappid, order_id, seq",
        ))
        .await?;
    let mut totals: Vec<(String, i64, i64)> = Vec::new();
    let mut previous: Option<(String, String, i64)> = None;
    for row in &rows {
        let order: String = row.try_get_by_index(0)?;
        let state: String = row.try_get_by_index(1)?;
        let at: i64 = row.try_get_by_index(2)?;
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
async fn order_latencies(db: &BenchDb) -> anyhow::Result<Vec<u32>> {
    let rows = db
        .raw
        .query_all_raw(Statement::from_string(
            db.raw.get_database_backend(),
            "SELECT d.at - a.at FROM order_history a JOIN order_history d \
             ON a.s_pappid = d.s_pappid AND a.order_id = d.order_id \
             WHERE a.to_state = 'authorized' AND d.to_state = 'delivered'",
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let millis = row.try_get_by_index::<i64>(0)?;
            Ok(u32::try_from(millis.max(0) * 1000).unwrap_or(u32::MAX))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// PDF

fn face(lines: usize, index: usize) -> InvoiceFace {
    InvoiceFace {
        title: "电子发票（普通发票）".to_owned(),
        number: format!("26009{index:015}"),
        issue_date: "2026年11月27日".to_owned(),
        buyer: FaceParty {
            name: "深圳市腾讯计算机系统有限公司".to_owned(),
            tax_id: "91440300708461136T".to_owned(),
        },
        seller: FaceParty {
            name: "示例餐饮管理有限公司".to_owned(),
            tax_id: "91110000000000000X".to_owned(),
        },
        rows: (0..lines)
            .map(|i| FaceRow {
                name: format!("*餐饮服务*餐费第{i}份"),
                spec: String::new(),
                unit: "份".to_owned(),
                quantity: "1".to_owned(),
                unit_price: "94.3396226".to_owned(),
                amount: "94.34".to_owned(),
                rate: "6%".to_owned(),
                tax: "5.66".to_owned(),
            })
            .collect(),
        total_amount: "¥283.02".to_owned(),
        total_tax: "¥16.98".to_owned(),
        total_in_words: "叁佰圆整".to_owned(),
        total_in_figures: "¥300.00".to_owned(),
        red: false,
        remark: format!("订单号：BENCH-{index:07}"),
        drawer: "李四".to_owned(),
        qr_payload: format!("01,32,,26009{index:015},283.02,20261127,,0000"),
        watermark: Some("SANDBOX / 非正式发票".to_owned()),
    }
}

fn pdf(invoices: usize, lines: usize) -> anyhow::Result<()> {
    let renderer = InvoicePdfRenderer::new()?;
    let faces: Vec<InvoiceFace> = (0..invoices).map(|i| face(lines, i)).collect();
    let first = renderer.render(&faces[0])?;
    ensure!(first.starts_with(b"%PDF-"), "not a PDF");
    let mut micros = Vec::with_capacity(invoices);
    let mut bytes = 0usize;
    let started = Instant::now();
    for face in &faces {
        let t = Instant::now();
        bytes += renderer.render(face)?.len();
        micros.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    let elapsed = started.elapsed();
    println!(
        "pdf: {invoices} invoices of {lines} lines on one thread in {:.2} s: {:.2} ms each on average, \
         {:.0} KB each; {}",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / invoices as f64,
        bytes as f64 / invoices as f64 / 1024.0,
        percentiles(&mut micros)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Memory and readiness of the binary

/// `VmRSS` and `VmHWM` of `pid`, in MB.
fn resident(pid: u32) -> (f64, f64) {
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

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn memory(stored: usize, in_flight: usize) -> anyhow::Result<()> {
    let binary = std::env::current_exe()?.with_file_name("fapiao");
    ensure!(
        binary.exists(),
        "{} is missing: build it with `cargo build --release -p fapiao --bins`",
        binary.display()
    );
    let db = BenchDb::new(DbKind::Sqlite).await?;
    let dir = db
        .dir
        .clone()
        .context("a SQLite bench database has a directory")?;
    let url = format!("sqlite://{}?mode=rwc", dir.join("fapiao.db").display());

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
        wait_delivered(&db.raw, seed, Duration::from_secs(300)).await?;
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
            db.raw
                .execute_unprepared(&format!(
                    "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < {copies}) \
                     INSERT INTO {table} SELECT {columns} FROM {table}, n"
                ))
                .await?;
        }
    }
    let total = db.count("SELECT COUNT(*) FROM invoice_orders").await?;
    let history = db.count("SELECT COUNT(*) FROM order_history").await?;
    db.raw
        .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await?;
    let file_mb = std::fs::metadata(dir.join("fapiao.db"))?.len() as f64 / 1e6;
    println!(
        "memory: the SQLite file holds {total} delivered orders ({history} history rows, {file_mb:.0} MB)"
    );

    // The binary on that file, as an operator runs it against live Weixin: here the Weixin
    // sandbox runs in this process, so its own memory (it keeps every card and PDF it is
    // sent, as Weixin does) is not counted against fapiao. That sandbox is new, so what the
    // seeding one minted (tokens, card templates) is forgotten and setup runs again.
    db.raw
        .execute_unprepared(
            "DELETE FROM token_cache; DELETE FROM setup_state; DELETE FROM card_templates;",
        )
        .await?;
    let (port, sandbox_port) = (free_port()?, free_port()?);
    let base = format!("http://127.0.0.1:{port}");
    let sandbox = format!("http://127.0.0.1:{sandbox_port}");
    let sandbox_listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], sandbox_port))).await?;
    let sandbox_config =
        fapiao::sandbox_config(&Config::from_toml("")?, &format!("{base}/weixin/callback"));
    let sandbox_task = tokio::spawn(fapiao_sandbox::serve(sandbox_listener, sandbox_config));
    let spawned = Instant::now();
    let mut child = tokio::process::Command::new(&binary)
        .arg("serve")
        .env("FAPIAO__DATABASE__URL", &url)
        .env("FAPIAO__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("FAPIAO__SERVER__PUBLIC_BASE_URL", &base)
        .env("FAPIAO__WEIXIN__MODE", "live")
        .env("FAPIAO__SERVER__API_KEY", LIVE_API_KEY)
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
    let done = wait_delivered(&db.raw, expected, Duration::from_secs(1800)).await?;
    let (rss, hwm) = resident(pid);
    child.kill().await?;
    sandbox_task.abort();
    let peak = sampler.await.unwrap_or(0.0).max(hwm);
    println!(
        "memory: {in_flight} orders created ({after_create:.1} MB resident) then driven to delivered at once in {:.1} s; \
         peak {peak:.1} MB resident, {rss:.1} MB at the end",
        (done - started).as_secs_f64()
    );
    db.drop().await
}
