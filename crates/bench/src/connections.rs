//! `connections`: the `fapiao` binary (`fapiao serve`, its own process, the runner on) held by
//! many idle connections and many slow-header ones opened from this process, while a fresh
//! connection asks `/healthz` every 100 ms: how fast it answers throughout, how many of the
//! held connections the server closes within its timeouts, and its resident memory before,
//! at the peak and after.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::DbKind;
use crate::served::{fapiao_binary, free_port, resident};
use crate::support::{fresh_database, percentiles};

/// The server's timeouts for this run: short, so the run does not wait out the defaults.
const IDLE_TIMEOUT_MS: u64 = 10_000;
const HEADER_TIMEOUT_MS: u64 = 10_000;

fn micros(took: Duration) -> u32 {
    u32::try_from(took.as_micros()).unwrap_or(u32::MAX)
}

/// One `GET /healthz` on a new connection: its latency, or `None` past 2 s or on an error.
async fn healthz(addr: SocketAddr) -> Option<Duration> {
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(2), async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut buffer = Vec::new();
        stream.read_to_end(&mut buffer).await.ok()?;
        buffer.starts_with(b"HTTP/1.1 200").then_some(())
    })
    .await;
    matches!(answer, Ok(Some(()))).then(|| started.elapsed())
}

/// Holds a connection: idle ones send nothing, slow ones trickle a request line byte by byte.
/// Counts it in `closed` when the server closes it, with the time it took.
async fn hold(
    addr: SocketAddr,
    slow: bool,
    opened: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
) -> Option<Duration> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    opened.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let request = b"GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Slow: ";
    let mut sent = 0;
    let mut buffer = [0u8; 256];
    loop {
        let wait = if slow && sent < request.len() {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(3600)
        };
        tokio::select! {
            _ = stream.read(&mut buffer) => {
                // Closed, reset, or answered (408) and closed: the server let go of it.
                closed.fetch_add(1, Ordering::Relaxed);
                return Some(started.elapsed());
            }
            () = tokio::time::sleep(wait) => {
                if sent < request.len() {
                    if stream.write_all(&request[sent..=sent]).await.is_err() {
                        closed.fetch_add(1, Ordering::Relaxed);
                        return Some(started.elapsed());
                    }
                    sent += 1;
                }
            }
        }
    }
}

pub(crate) async fn connections(idle: usize, slow: usize) -> anyhow::Result<()> {
    let binary = fapiao_binary()?;
    // The service's own way of raising the soft limit to the hard one.
    let limit = fapiao::server::raise_descriptor_limit().unwrap_or(0);
    ensure!(
        limit as usize >= idle + slow + 256,
        "this process may open only {limit} files; {} are needed",
        idle + slow + 256
    );
    let db = fresh_database(DbKind::Sqlite).await?;
    let (port, sandbox_port) = (free_port()?, free_port()?);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut child = tokio::process::Command::new(&binary)
        .arg("serve")
        .env("FAPIAO__DATABASE__URL", db.url())
        .env("FAPIAO__SERVER__LISTEN", addr.to_string())
        .env("FAPIAO__SERVER__PUBLIC_BASE_URL", format!("http://{addr}"))
        .env(
            "FAPIAO__SANDBOX__LISTEN",
            format!("127.0.0.1:{sandbox_port}"),
        )
        .env(
            "FAPIAO__SERVER__IDLE_TIMEOUT_MS",
            IDLE_TIMEOUT_MS.to_string(),
        )
        .env(
            "FAPIAO__SERVER__HEADER_READ_TIMEOUT_MS",
            HEADER_TIMEOUT_MS.to_string(),
        )
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().context("the child has a pid")?;
    let spawned = Instant::now();
    while healthz(addr).await.is_none() {
        if let Some(status) = child.try_wait()? {
            bail!("fapiao exited with {status} before it was ready");
        }
        ensure!(spawned.elapsed() < Duration::from_secs(60), "not ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let nofile = std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .map(|l| l.split_whitespace().nth(3).unwrap_or("?").to_owned())
        .unwrap_or_default();
    let (at_rest, _) = resident(pid);
    println!(
        "connections: `fapiao serve` (sandbox profile, runner on) at rest: {at_rest:.1} MB; \
         its open-file limit {nofile}; idle timeout {IDLE_TIMEOUT_MS} ms, header timeout {HEADER_TIMEOUT_MS} ms"
    );

    // /healthz every 100 ms on a fresh connection, from before the flood until after.
    let probing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let probe = {
        let probing = probing.clone();
        tokio::spawn(async move {
            let (mut answered, mut failed) = (Vec::<u32>::new(), 0usize);
            while probing.load(Ordering::Relaxed) {
                match healthz(addr).await {
                    Some(took) => answered.push(micros(took)),
                    None => failed += 1,
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (answered, failed)
        })
    };
    let peak = tokio::spawn(async move {
        let mut peak = 0.0f64;
        while std::fs::metadata(format!("/proc/{pid}")).is_ok() {
            peak = peak.max(resident(pid).0);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        peak
    });

    let (opened, closed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let started = Instant::now();
    let mut held = tokio::task::JoinSet::new();
    for i in 0..idle + slow {
        held.spawn(hold(addr, i >= idle, opened.clone(), closed.clone()));
        // Connect in waves so the kernel's accept backlog is not the thing measured.
        if i % 500 == 499 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let opening = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (during, _) = resident(pid);
    println!(
        "connections: {} of {} connections opened in {:.1} s ({idle} idle, {slow} sending a header byte a second); \
         {during:.1} MB resident while held",
        opened.load(Ordering::Relaxed),
        idle + slow,
        opening.as_secs_f64()
    );
    // Wait until the server has closed them all (or three times its timeouts have passed: connections past its cap wait in the backlog).
    let bound = Duration::from_millis(3 * IDLE_TIMEOUT_MS.max(HEADER_TIMEOUT_MS) + 10_000);
    let mut close_times = Vec::new();
    while let Ok(Some(joined)) = tokio::time::timeout(
        bound
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1)),
        held.join_next(),
    )
    .await
    {
        if let Ok(Some(took)) = joined {
            close_times.push(micros(took));
        }
    }
    let still_open = held.len();
    held.abort_all();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (after, _) = resident(pid);
    probing.store(false, Ordering::Relaxed);
    let (mut answered, failed) = probe.await?;
    child.kill().await?;
    let peak = peak.await?;

    let count = answered.len();
    println!(
        "connections: closed by the server: {} (time held: {}); still open after {:.0} s: {still_open}",
        closed.load(Ordering::Relaxed),
        percentiles(&mut close_times),
        bound.as_secs_f64()
    );
    println!(
        "connections: /healthz on a fresh connection every 100 ms throughout: {count} answered, \
         {failed} not within 2 s; {}",
        percentiles(&mut answered)
    );
    println!(
        "connections: resident memory {at_rest:.1} MB at rest, {peak:.1} MB at the peak, {after:.1} MB after the connections closed"
    );
    Ok(())
}
