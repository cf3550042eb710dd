//! `soak`: the chaos harness of issue 10 (`docs/RELIABILITY.md`).
//!
//! The Weixin sandbox runs as its own process (`fapiao sandbox`, the witness of cards) with
//! fault injection per endpoint, duplicate and delayed pushes; one or more `fapiao serve`
//! processes (built with the `crash-points` feature) run in live mode against it on one SQLite
//! file or PostgreSQL schema, with the sandbox issuer answering a share of invoices pending,
//! unknown or rejected. Orders are created in every scenario through the merchant API and
//! authorized through the sandbox's control API while instances are SIGKILLed and restarted,
//! some with named crash points armed. Once the system settles (bounded), the witnesses —
//! the issuer's ledger, the sandbox's cards, the service's order views — give the verdict.

mod fleet;
mod hooks;
mod load;
mod witness;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use fapiao_storage::testing::TestDatabase;
use serde_json::{Value, json};

use crate::DbKind;
use crate::pipeline::s_pappid;
use crate::support::{LIVE_API_KEY, LIVE_APPID, fresh_database, write_live_config};

use fleet::{Instance, InstanceSettings, SandboxProcess};
use load::{Load, Planned, SCENARIOS};
use witness::FINAL_STATES;

/// The knobs of a run (`fapiao-bench soak --help`).
#[derive(Debug, Clone)]
pub(crate) struct SoakOptions {
    pub db: DbKind,
    pub instances: usize,
    pub orders: usize,
    pub kills: usize,
    pub crash_points: Vec<String>,
    pub fault_rate: f64,
    pub fault_endpoints: Vec<String>,
    pub duplicate_push_rate: f64,
    pub delayed_push_rate: f64,
    pub push_delay_ms: u64,
    pub issuer_mix: String,
    pub post_payment: bool,
    pub seed: u64,
    pub settle_secs: u64,
    pub stall_secs: u64,
    pub lease_seconds: u64,
    pub reconcile_after_seconds: u64,
    pub connections: usize,
    pub runner_concurrency: usize,
    pub report_only: bool,
}

/// splitmix64: the harness's own seeded randomness (when to kill, whom).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// The fault rules: `fault_rate` of the calls to each endpoint fail, split evenly over -1,
/// 45009, 5xx, applied-then-timeout and applied-then-dropped.
fn fault_rules(options: &SoakOptions) -> Value {
    let share = options.fault_rate / 5.0;
    let rules: Vec<Value> = options
        .fault_endpoints
        .iter()
        .map(|endpoint| {
            json!({
                "endpoint": endpoint,
                "system_error_rate": share,
                "quota_error_rate": share,
                "http_error_rate": share,
                "apply_then_timeout_rate": share,
                "apply_then_drop_rate": share,
                // Past the service's Weixin timeout (weixin.timeout_ms, 5 s).
                "timeout_delay_ms": 6000,
            })
        })
        .collect();
    json!({
        "seed": options.seed,
        "rules": rules,
        "duplicate_push_rate": options.duplicate_push_rate,
        "delayed_push_rate": options.delayed_push_rate,
        "push_delay_ms": options.push_delay_ms,
    })
}

/// What the chaos task did.
#[derive(Debug, Default)]
struct ChaosLog {
    kills: Vec<String>,
    crashes: Vec<String>,
    unreached: Vec<String>,
}

/// Kills instances when the load passes its thresholds and restarts every instance that
/// ended (killed or crashed at a crash point), arming the next crash points on a restart.
async fn chaos(
    mut instances: Vec<Instance>,
    settings: InstanceSettings,
    client: reqwest::Client,
    options: SoakOptions,
    db: Arc<TestDatabase>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<(Vec<Instance>, ChaosLog)> {
    let mut rng = Rng(options.seed ^ 0x6b69_6c6c);
    let thresholds: Vec<usize> = (1..=options.kills)
        .map(|k| k * options.orders / (options.kills + 1))
        .collect();
    let mut next_kill = 0;
    let mut crash_points = options.crash_points.iter();
    let mut log = ChaosLog::default();
    let started = Instant::now();
    let (mut rested, mut tick, mut last_start) = (0usize, 0u64, Instant::now());
    while !stop.load(Ordering::Relaxed) {
        // The kills follow the pipeline's progress (orders come to rest), so they land while
        // the service works, not while orders are merely being created.
        if tick.is_multiple_of(5) {
            rested = usize::try_from(db.count(&rested_sql()).await.unwrap_or(0)).unwrap_or(0);
        }
        tick += 1;
        // A few seconds between a restart and the next kill, so crash points armed on the
        // restart get a chance to be reached.
        if next_kill < thresholds.len()
            && rested >= thresholds[next_kill]
            && last_start.elapsed() >= Duration::from_secs(5)
        {
            // A random moment shortly after the threshold, a random instance.
            tokio::time::sleep(Duration::from_millis(rng.below(400))).await;
            let victim = usize::try_from(rng.below(instances.len() as u64)).unwrap_or(0);
            if let Some(armed) = instances[victim].armed.clone() {
                log.unreached.push(format!(
                    "instance {victim}: crash points {armed} not reached before a SIGKILL"
                ));
            }
            instances[victim].kill().await?;
            let at = started.elapsed().as_secs_f64();
            log.kills.push(format!(
                "SIGKILL instance {victim} at {at:.1} s ({rested} orders at rest)"
            ));
            println!("soak: {}", log.kills.last().map_or("", String::as_str));
            next_kill += 1;
        }
        for instance in &mut instances {
            if let Some(status) = instance.exited()? {
                let armed = instance.armed.take().unwrap_or_default();
                log.crashes.push(format!(
                    "instance {} ended by itself ({status}) with crash points {armed:?} armed",
                    instance.index
                ));
                println!("soak: {}", log.crashes.last().map_or("", String::as_str));
            }
            if !instance.running() {
                let points = crash_points.next().map(String::as_str);
                tokio::time::sleep(Duration::from_millis(300)).await;
                instance.start(&settings, &client, points).await?;
                last_start = Instant::now();
                println!(
                    "soak: instance {} restarted (start {}){}",
                    instance.index,
                    instance.starts,
                    points.map_or(String::new(), |p| format!(" with crash points {p}"))
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for threshold in thresholds.iter().skip(next_kill) {
        log.kills.push(format!(
            "kill not made: fewer than {threshold} orders came to rest"
        ));
    }
    // Crash points not reached: restart those instances clean, so nothing is left armed.
    for instance in &mut instances {
        if let Some(armed) = instance.armed.clone() {
            log.unreached.push(format!(
                "instance {}: crash points {armed} not reached",
                instance.index
            ));
            instance.kill().await?;
            instance.start(&settings, &client, None).await?;
        }
    }
    Ok((instances, log))
}

/// Counts the orders at rest in a final state.
fn rested_sql() -> String {
    let states: Vec<String> = FINAL_STATES.iter().map(|s| format!("'{s}'")).collect();
    format!(
        "SELECT COUNT(*) FROM invoice_orders WHERE state IN ({})",
        states.join(", ")
    )
}

/// Waits until every authorized order rests in a final state, `limit` passes, or nothing
/// moved for `stall` while no retry or poll was scheduled (the orders left are stuck, not
/// slow). Answers the time waited and the
/// orders still moving.
async fn settle(
    db: &TestDatabase,
    planned: &[Planned],
    limit: Duration,
    stall: Duration,
) -> anyhow::Result<(Duration, usize)> {
    let started = Instant::now();
    let authorized: std::collections::HashSet<&str> = planned
        .iter()
        .filter(|p| p.authorized)
        .map(|p| p.order_id.as_str())
        .collect();
    let (mut last, mut changed) = (Vec::new(), Instant::now());
    loop {
        let rows = db
            .query("SELECT order_id, state, version FROM invoice_orders")
            .await?;
        let mut moving = Vec::new();
        for row in &rows {
            let (order_id, state) = (row.string(0)?, row.string(1)?);
            if authorized.contains(order_id.as_str()) && !FINAL_STATES.contains(&state.as_str()) {
                moving.push((order_id, state, row.i64(2)?));
            }
        }
        moving.sort();
        if moving != last {
            (last, changed) = (moving, Instant::now());
        }
        if last.is_empty() || started.elapsed() >= limit {
            return Ok((started.elapsed(), last.len()));
        }
        // A retry or poll scheduled for later is waiting, not stuck.
        let waiting = db
            .count(&format!(
                "SELECT COUNT(*) FROM jobs WHERE run_at > {}",
                crate::support::unix_millis()
            ))
            .await?;
        if waiting > 0 {
            changed = changed.max(Instant::now() - Duration::from_secs(1));
        }
        if changed.elapsed() >= stall {
            println!(
                "soak: {} orders have not moved for {} s: stuck",
                last.len(),
                stall.as_secs()
            );
            return Ok((started.elapsed(), last.len()));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub(crate) async fn soak(options: SoakOptions) -> anyhow::Result<()> {
    ensure!(options.instances >= 1, "--instances must be at least 1");
    ensure!(
        options.instances == 1 || options.db == DbKind::Postgres,
        "several instances share a database on PostgreSQL only"
    );
    println!("soak: {options:?}");
    println!(
        "soak: seed {} (rerun with --seed {})",
        options.seed, options.seed
    );
    let binary = std::env::current_exe()?.with_file_name("fapiao");
    ensure!(
        binary.exists(),
        "{} is missing: build it with `cargo build -p fapiao --features crash-points -p fapiao-bench`",
        binary.display()
    );
    let log_dir = std::env::temp_dir().join(format!(
        "fapiao-soak-{}-{}",
        options.seed,
        std::process::id()
    ));
    std::fs::create_dir_all(&log_dir)?;
    println!("soak: process logs in {}", log_dir.display());

    let db = Arc::new(fresh_database(options.db).await?);
    let database_url = crate::served::child_database_url(&db);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(options.connections)
        .build()?;

    let config = write_live_config(&log_dir)?;
    // The merchant's webhook endpoint, refusing a share of the requests like the Weixin faults.
    let hooks = hooks::HookReceiver::start(options.seed, options.fault_rate).await?;
    {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&config)?
            .write_all(hooks.toml().as_bytes())?;
    }
    let sandbox = Arc::new(SandboxProcess::start(&binary, &config, &log_dir, &client).await?);
    let mut instances = fleet::instances(options.instances)?;
    // Weixin pushes to one callback URL: the first instance's.
    let callback = format!("{}/weixin/callback", instances[0].base_url());
    sandbox
        .control(
            &client,
            &format!("/sandbox/control/accounts/{LIVE_APPID}"),
            &json!({ "callback_url": callback }),
        )
        .await?;
    let settings = InstanceSettings {
        binary: binary.clone(),
        database_url,
        sandbox_url: sandbox.url.clone(),
        issuer_mix: options.issuer_mix.clone(),
        lease_seconds: options.lease_seconds,
        reconcile_after_seconds: options.reconcile_after_seconds,
        concurrency: options.runner_concurrency,
        log_dir: log_dir.clone(),
        config,
    };
    instances[0].start(&settings, &client, None).await?;
    let base = instances[0].base_url();
    crate::served::live_setup(&client, &base).await?;
    for instance in instances.iter_mut().skip(1) {
        instance.start(&settings, &client, None).await?;
    }
    let s_pappid = s_pappid(&client, &base, LIVE_API_KEY).await?;
    sandbox
        .control(&client, "/sandbox/control/faults", &fault_rules(&options))
        .await
        .context("configuring the sandbox's faults")?;

    // The load, and the chaos beside it.
    let progress = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let bases: Vec<String> = instances.iter().map(Instance::base_url).collect();
    let chaos_task = tokio::spawn(chaos(
        instances,
        settings,
        client.clone(),
        options.clone(),
        db.clone(),
        stop.clone(),
    ));
    let load = Arc::new(Load {
        client: client.clone(),
        bases: bases.clone(),
        sandbox: sandbox.clone(),
        s_pappid,
        prefix: format!("SOAK{}", options.seed % 100_000),
        scenarios: SCENARIOS
            .iter()
            .copied()
            .filter(|s| options.post_payment || *s != "post_payment")
            .collect(),
        progress: progress.clone(),
    });
    let load_started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..options.connections.max(1) {
        let (load, next, orders) = (load.clone(), next.clone(), options.orders);
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= orders {
                    return done;
                }
                done.push((index, load.order(index).await));
            }
        }));
    }
    let mut planned: Vec<(usize, Planned)> = Vec::new();
    for task in tasks {
        planned.extend(task.await?);
    }
    planned.sort_by_key(|(index, _)| *index);
    let planned: Vec<Planned> = planned.into_iter().map(|(_, p)| p).collect();
    println!(
        "soak: {} orders driven in {:.1} s; waiting up to {} s for them to settle",
        planned.len(),
        load_started.elapsed().as_secs_f64(),
        options.settle_secs
    );

    let (settled, moving) = settle(
        &db,
        &planned,
        Duration::from_secs(options.settle_secs),
        Duration::from_secs(options.stall_secs),
    )
    .await?;
    stop.store(true, Ordering::Relaxed);
    let (mut instances, chaos_log) = chaos_task.await??;
    if moving > 0 {
        println!(
            "soak: {moving} authorized orders still moving after {:.1} s",
            settled.as_secs_f64()
        );
    }
    let faults: Value = client
        .get(format!("{}/sandbox/control/faults", sandbox.url))
        .send()
        .await?
        .json()
        .await?;
    let injected = faults["injected"].as_array().cloned().unwrap_or_default();
    let mut by_kind: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for fault in &injected {
        let endpoint = fault["endpoint"].as_str().unwrap_or_default();
        let kind = fault["fault"].as_str().unwrap_or_default();
        *by_kind.entry(format!("{endpoint} {kind}")).or_default() += 1;
    }
    let by_kind: Vec<String> = by_kind.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
    println!("soak: Weixin faults injected: {}", by_kind.join(", "));
    let injected = injected.len();
    let pushes: Value = client
        .get(format!("{}/sandbox/control/pushes", sandbox.url))
        .send()
        .await?
        .json()
        .await?;
    let pushes = pushes.as_array().cloned().unwrap_or_default();
    let duplicates = pushes
        .iter()
        .filter(|p| !p["duplicate_of"].is_null())
        .count();
    let failed = pushes.iter().filter(|p| p["state"] == "failed").count();
    println!(
        "soak: {injected} Weixin faults injected; {} pushes ({duplicates} duplicates, {failed} undelivered after 3 attempts)",
        pushes.len()
    );
    for line in chaos_log
        .kills
        .iter()
        .chain(&chaos_log.crashes)
        .chain(&chaos_log.unreached)
    {
        println!("soak: {line}");
    }

    let mut verdict = witness::judge(
        &client,
        &base,
        &sandbox,
        &db,
        &planned,
        settled.as_secs_f64(),
    )
    .await?;
    // A delivery leased by a killed instance waits for its lease (about 10 s here).
    hooks
        .judge(
            &client,
            &base,
            &planned,
            Duration::from_secs(options.settle_secs.min(120)),
            &mut verdict.violations,
        )
        .await?;
    println!();
    for instance in &mut instances {
        instance.kill().await?;
    }
    if let Ok(db) = Arc::try_unwrap(db) {
        db.close().await?;
    }
    if verdict.violations.is_empty() {
        println!("soak: PASS: no duplicate, no loss, no needs_attention but deliberate ones");
        return Ok(());
    }
    println!("soak: {} violations:", verdict.violations.len());
    for violation in verdict.violations.iter().take(60) {
        println!("  - {violation}");
    }
    if verdict.violations.len() > 60 {
        println!("  … and {} more", verdict.violations.len() - 60);
    }
    if options.report_only {
        println!("soak: FAIL (reported only: --report-only)");
        Ok(())
    } else {
        anyhow::bail!("soak: FAIL: {} violations", verdict.violations.len())
    }
}
