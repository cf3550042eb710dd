#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Going live safely: live mode refuses the built-in sandbox credentials and wants the issuer
//! stated, `/metrics` can be protected, and every listener holds its connection limits.

use std::net::SocketAddr;

use fapiao::StartOptions;
use fapiao_app::Config;

use crate::app::{Db, test_db};

fn options(db: &fapiao_storage::testing::TestDatabase) -> StartOptions {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    StartOptions {
        database: Some(db.database().clone()),
        listen: Some(any),
        sandbox_listen: Some(any),
        skip_setup: false,
        skip_runner: true,
    }
}

async fn start_error(toml: &str) -> String {
    let db = test_db(Db::Sqlite, "golive_refused").await;
    let config = Config::from_toml(toml).unwrap_or_else(|e| panic!("{e}"));
    match fapiao::start(config, options(&db)).await {
        Ok(running) => {
            running.shutdown().await;
            panic!("started with {toml}");
        }
        Err(e) => format!("{e:#}"),
    }
}

/// Live mode with credentials of its own; `issuer` is added to `[issuer]`.
fn live(issuer: &str) -> String {
    format!(
        "[server]\napi_key = \"live-api-key-0123456789\"\n\
         [weixin]\nmode = \"live\"\nbase_url = \"http://127.0.0.1:9\"\n\
         [weixin.official_account]\nappid = \"wx1234567890abcdef\"\nsecret = \"own-official-secret\"\n\
         [weixin.mini_program]\nappid = \"\"\n[weixin.open_platform_app]\nappid = \"\"\n\
         [weixin.callback]\ntoken = \"own-token\"\n\
         encoding_aes_key = \"ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut\"\n\
         [sellers.store-01]\ntax_id = \"91440300708461136T\"\n[issuer]\n{issuer}\n"
    )
}

#[tokio::test]
async fn live_mode_refuses_every_builtin_credential_naming_the_key() {
    let error = start_error("[weixin]\nmode = \"live\"\n").await;
    for key in [
        "server.api_key",
        "weixin.callback.token",
        "weixin.callback.encoding_aes_key",
        "weixin.official_account.appid",
        "weixin.official_account.secret",
        "weixin.mini_program.secret",
        "weixin.open_platform_app.secret",
        "sellers.store-01.tax_id",
    ] {
        assert!(error.contains(key), "{key} not named: {error}");
    }
    // A push sealed with the public sandbox token would be accepted: the token alone is refused.
    let own = live("kind = \"gateway\"");
    let error = start_error(&own.replace("own-token", "sandboxtoken")).await;
    assert!(
        error.starts_with("configuration: weixin.callback.token: live mode refuses"),
        "{error}"
    );
}

#[tokio::test]
async fn live_mode_wants_the_issuer_stated() {
    let error = start_error(&live("")).await;
    assert!(
        error.starts_with("configuration: issuer.kind: must be stated in live mode"),
        "{error}"
    );
    let error = start_error(&live("kind = \"sandbox\"")).await;
    assert!(
        error.starts_with("configuration: issuer.allow_sandbox_in_live: "),
        "{error}"
    );
}

pub async fn metrics_are_protected(kind: Db) {
    let db = test_db(kind, "golive_metrics").await;
    let config = Config::from_toml(
        "[server]\nmetrics_auth = \"token\"\nmetrics_token = \"prometheus-token-0001\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let running = fapiao::start(config, options(&db))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let url = format!("{}/metrics", running.base_url());
    let http = reqwest::Client::new();
    let status = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    };
    let (code, body) = status(http.get(&url)).await;
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("\"unauthorized\""), "{body}");
    let (code, _) = status(http.get(&url).bearer_auth(crate::app::KEY)).await;
    assert_eq!(code, 401, "the API key is not the metrics token");
    let (code, body) = status(http.get(&url).bearer_auth("prometheus-token-0001")).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("fapiao_"), "{body}");
    running.shutdown().await;
}

crate::on_both_databases!(
    metrics_can_be_protected_by_a_token,
    crate::golive::metrics_are_protected
);

/// Limits short enough for a test of a few seconds.
const SHORT_LIMITS: &str = "[server]\nheader_read_timeout_ms = 1000\nbody_read_timeout_ms = 1000\n\
     idle_timeout_ms = 1500\nmax_connections = 6000\n";

async fn start_short(name: &str) -> (fapiao::Running, fapiao_storage::testing::TestDatabase) {
    let db = test_db(Db::Sqlite, name).await;
    let config = Config::from_toml(SHORT_LIMITS).unwrap_or_else(|e| panic!("{e}"));
    let mut start = options(&db);
    start.skip_setup = true;
    let running = fapiao::start(config, start)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    (running, db)
}

/// Sends `request` on a fresh connection and reads the answer until the server closes it.
async fn raw(addr: SocketAddr, request: &[u8]) -> (String, std::time::Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let started = std::time::Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await;
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

/// `/healthz` on a fresh connection; the time to the full answer.
async fn healthz(addr: SocketAddr) -> std::time::Duration {
    let (answer, took) = raw(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: fapiao\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");
    took
}

/// Holds a connection: idle (nothing sent), or trickling an endless request head one header
/// line every 100 ms. Returns how long the server took to close it after it was opened.
async fn held(
    mut stream: tokio::net::TcpStream,
    opened: std::time::Instant,
    trickle: bool,
) -> std::time::Duration {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if trickle {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: fapiao\r\n")
            .await
            .unwrap();
    }
    let mut buf = [0u8; 256];
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    let deadline = tokio::time::sleep(std::time::Duration::from_secs(10));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => return opened.elapsed(),
                Ok(_) => {}
            },
            _ = tick.tick(), if trickle => {
                if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                    return opened.elapsed();
                }
            }
            () = &mut deadline => return opened.elapsed(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_and_slow_connections_are_closed_while_healthz_answers() {
    let (running, _db) = start_short("golive_connections").await;
    let addr = running.addr;
    // Healthz throughout: while the connections are opened, held and closed.
    let (done, mut done_rx) = tokio::sync::watch::channel(false);
    let probe = tokio::spawn(async move {
        let mut slowest = std::time::Duration::ZERO;
        let mut probes = 0;
        while !*done_rx.borrow_and_update() {
            slowest = slowest.max(healthz(addr).await);
            probes += 1;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        (slowest, probes)
    });
    let mut holders = Vec::new();
    for i in 0..2_500 {
        let opened = std::time::Instant::now();
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        holders.push(tokio::spawn(held(stream, opened, i % 5 == 0)));
    }
    let mut closed_after = Vec::new();
    for holder in holders {
        closed_after.push(holder.await.unwrap());
    }
    closed_after.sort();
    let _ = done.send(true);
    let (slowest, probes) = probe.await.unwrap();
    assert!(probes >= 20, "only {probes} healthz probes");
    let longest = closed_after.last().copied().unwrap_or_default();
    eprintln!(
        "2,000 idle + 500 slow-header connections: healthz slowest {slowest:?} of {probes}; closed after {:?} (first) to {longest:?} (last)",
        closed_after[0]
    );
    assert!(
        slowest < std::time::Duration::from_millis(100),
        "healthz took {slowest:?}"
    );
    // Idle: 1.5 s; slow header: 1 s from the first byte; plus the watchdog's tick and setup.
    assert!(
        longest < std::time::Duration::from_millis(3_500),
        "a held connection lasted {longest:?}"
    );
    assert!(
        closed_after[0] >= std::time::Duration::from_millis(900),
        "closed too early: {:?}",
        closed_after[0]
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_oversize_body_is_refused_at_once_and_a_slow_body_times_out() {
    let (running, _db) = start_short("golive_bodies").await;
    let addr = running.addr;
    let key = crate::app::KEY;
    // Over the server's limit, no body sent: 413 at once.
    let (answer, took) = raw(
        addr,
        format!(
            "POST /v1/orders HTTP/1.1\r\nHost: fapiao\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"too_large\""), "{answer}");
    assert!(took < std::time::Duration::from_millis(500), "{took:?}");
    // Over the push route's 64 KiB (under the server's limit): 413 at once too.
    let (answer, took) = raw(
        addr,
        b"POST /weixin/callback HTTP/1.1\r\nHost: fapiao\r\nContent-Length: 100000\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(took < std::time::Duration::from_millis(500), "{took:?}");
    // A body that never finishes: 408 after the body read timeout (1 s).
    let (answer, took) = raw(
        addr,
        format!(
            "POST /v1/invoices/preview HTTP/1.1\r\nHost: fapiao\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"lines\":"
        )
        .as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"timeout\""), "{answer}");
    assert!(
        took >= std::time::Duration::from_millis(900) && took < std::time::Duration::from_secs(3),
        "{took:?}"
    );
    // Every answer carries a request id.
    assert!(answer.to_lowercase().contains("x-request-id: "), "{answer}");
    running.shutdown().await;
}

/// The commented production example of `docs/fapiao.example.toml` is a valid live
/// configuration: strict keys, no built-in credential, the issuer stated and its settings whole.
#[test]
fn the_documented_example_configuration_is_valid_for_live_mode() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/fapiao.example.toml");
    let config = Config::load(Some(&path)).unwrap_or_else(|e| panic!("{e}"));
    assert!(!config.is_sandbox());
    config.check_live().unwrap_or_else(|e| panic!("{e}"));
    config.settings().unwrap_or_else(|e| panic!("{e}"));
    fapiao::nuonuo::nuonuo_config(&config).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    let hooks = config
        .webhook_settings("example")
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("the example lists an endpoint");
    assert_eq!(hooks.endpoints[0].name, "erp");
}
