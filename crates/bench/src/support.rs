//! What the subcommands share: the sandbox's push settings, sealed pushes, a fresh database,
//! the service on it, an HTTP client and latency percentiles.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use fapiao::{Running, StartOptions};
use fapiao_app::Config;
use fapiao_storage::testing::TestDatabase;
use fapiao_storage::{Backend, DatabaseOptions, SqliteSync};
use fapiao_weixin::crypto::AesKey;
use fapiao_weixin::seal::SafePush;
pub(crate) use fapiao_weixin::seal::SealedPush;

use crate::{DbKind, SqliteSynchronous};

/// The embedded defaults' push settings (`crates/app/src/defaults.toml`).
pub(crate) const TOKEN: &str = "sandboxtoken";
pub(crate) const ENCODING_AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
pub(crate) const APPID: &str = "wxsandboxofficial01";
pub(crate) const API_KEY: &str = "sandbox-api-key-change-me";
/// The API key of the `fapiao serve` child in live mode (which refuses the public default).
pub(crate) const LIVE_API_KEY: &str = "fapiao-bench-live-api-key";
/// The Official Account of live-mode runs ([`LIVE_TOML`]).
pub(crate) const LIVE_APPID: &str = "wxbenchofficial01";
/// The configuration of live-mode runs, for `fapiao serve` and the sandbox alike: live mode
/// refuses every built-in sandbox credential, so these are the bench's own, and the sandbox
/// issuer is allowed explicitly.
pub(crate) const LIVE_TOML: &str = r#"
[server]
api_key = "fapiao-bench-live-api-key"

[weixin.official_account]
appid = "wxbenchofficial01"
secret = "bench-official-account-secret"

[weixin.mini_program]
appid = "wxbenchminiprog01"
secret = "bench-mini-program-secret"

[weixin.open_platform_app]
appid = "wxbenchopenapp01"
secret = "bench-open-platform-secret"

[weixin.callback]
token = "benchtoken"
encoding_aes_key = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"

[issuer]
kind = "sandbox"
allow_sandbox_in_live = true

[sellers.store-01]
tax_id = "91310000000000001Y"
"#;

/// Writes [`LIVE_TOML`] into `dir`; the path to hand `fapiao --config`.
pub(crate) fn write_live_config(dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join("fapiao-live.toml");
    std::fs::write(&path, LIVE_TOML)?;
    Ok(path)
}

// ---------------------------------------------------------------------------------------------
// Pushes

pub(crate) fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(crate) fn unix_now() -> i64 {
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

pub(crate) fn sealed_pushes(count: usize) -> anyhow::Result<Vec<SealedPush>> {
    let key = AesKey::from_encoding_aes_key(ENCODING_AES_KEY)?;
    let now = unix_now();
    Ok((0..count as u64)
        .map(|i| seal_push(&key, &format!("BENCH-{i:09}"), i, now))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// A service on a fresh database

/// `--sqlite-synchronous`, set once by `main` before any database is opened.
static SQLITE_SYNCHRONOUS: OnceLock<SqliteSync> = OnceLock::new();

pub(crate) fn set_sqlite_synchronous(mode: SqliteSynchronous) {
    let _ = SQLITE_SYNCHRONOUS.set(match mode {
        SqliteSynchronous::Full => SqliteSync::Full,
        SqliteSynchronous::Normal => SqliteSync::Normal,
    });
}

/// `--sqlite-synchronous` as `database.sqlite_synchronous` spells it, for a child `fapiao serve`.
pub(crate) fn sqlite_synchronous_setting() -> &'static str {
    match SQLITE_SYNCHRONOUS.get().copied().unwrap_or_default() {
        SqliteSync::Full => "full",
        SqliteSync::Normal => "normal",
    }
}

/// A fresh database (`fapiao_storage::testing`): a SQLite file in a temporary directory (with
/// `--sqlite-synchronous`), or a new PostgreSQL schema that is dropped at the end.
pub(crate) async fn fresh_database(kind: DbKind) -> anyhow::Result<TestDatabase> {
    match kind {
        DbKind::Sqlite => {
            let sqlite_synchronous = SQLITE_SYNCHRONOUS.get().copied().unwrap_or_default();
            println!("sqlite synchronous: {sqlite_synchronous:?}");
            Ok(TestDatabase::connect(
                Backend::Sqlite,
                "fapiao_bench",
                "",
                DatabaseOptions {
                    sqlite_synchronous,
                    ..DatabaseOptions::default()
                },
            )
            .await?)
        }
        DbKind::Postgres => {
            let url = std::env::var("FAPIAO_BENCH_DATABASE_URL")
                .or_else(|_| std::env::var("FAPIAO_TEST_DATABASE_URL"))
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
            TestDatabase::connect(
                Backend::Postgres,
                "fapiao_bench",
                &url,
                DatabaseOptions::default(),
            )
            .await
            .with_context(|| format!("connecting to {url}"))
        }
    }
}

pub(crate) async fn start_service(
    db: &TestDatabase,
    concurrency: usize,
    skip_runner: bool,
) -> anyhow::Result<Running> {
    let config = Config::from_toml(&format!("[runner]\nconcurrency = {concurrency}\n"))?;
    let loopback = || Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    fapiao::start(
        config,
        StartOptions {
            database: Some(db.database().clone()),
            listen: loopback(),
            sandbox_listen: loopback(),
            skip_setup: false,
            skip_runner,
        },
    )
    .await
}

pub(crate) fn http_client(connections: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Latency percentiles of `micros` (sorted in place), in milliseconds.
pub(crate) fn percentiles(micros: &mut [u32]) -> String {
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
