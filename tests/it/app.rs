#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use fapiao::{Running, StartOptions};
use fapiao_app::Config;
use fapiao_storage::testing::TestDatabase;
use serde_json::{Value, json};

pub use fapiao_storage::Backend as Db;
pub use fapiao_storage::testing::postgres_enabled;

pub const KEY: &str = "sandbox-api-key-change-me";

/// Declares `<name>::sqlite` and `<name>::postgres` tests running `body(Db)`.
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident, $body:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                $body($crate::app::Db::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if $crate::app::postgres_enabled(stringify!($name)) {
                    $body($crate::app::Db::Postgres).await;
                }
            }
        }
    };
}

/// A database for one test: a temporary SQLite file or a fresh PostgreSQL schema, removed
/// when the test ends.
pub async fn test_db(kind: Db, name: &str) -> TestDatabase {
    TestDatabase::new(kind, &format!("fapiao_e2e_{name}"))
        .await
        .unwrap_or_else(|e| panic!("a fresh {kind:?} database: {e}"))
}

pub fn config(extra: &str) -> Config {
    // Pushes in the sandbox profile are encrypted (safe mode) with the default keys.
    Config::from_toml(&format!("[runner]\nconcurrency = 8\n{extra}")).unwrap()
}

/// A running service with its sandbox and an HTTP client.
pub struct TestApp {
    pub running: Running,
    pub http: reqwest::Client,
    pub base: String,
    pub sandbox: String,
    pub _db: Option<TestDatabase>,
}

pub async fn spawn_app(kind: Db, name: &str) -> TestApp {
    spawn_app_with(kind, name, "").await
}

/// [`spawn_app`] with `extra` TOML appended to the configuration.
pub async fn spawn_app_with(kind: Db, name: &str, extra: &str) -> TestApp {
    let db = test_db(kind, name).await;
    let options = StartOptions {
        database: Some(db.database().clone()),
        listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        sandbox_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        skip_setup: false,
        skip_runner: false,
    };
    let running = fapiao::start(config(extra), options)
        .await
        .unwrap_or_else(|e| panic!("start: {e:#}"));
    let base = running.base_url();
    let sandbox = running.sandbox_url().unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        running,
        http,
        base,
        sandbox,
        _db: Some(db),
    }
}

impl TestApp {
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method.parse().unwrap(), url)
            .bearer_auth(KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// The service's `/openapi.json`.
    pub async fn openapi(&self) -> Value {
        self.http
            .get(format!("{}/openapi.json", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.sandbox))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let value: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }

    pub async fn sandbox_get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.sandbox))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn s_pappid(&self) -> String {
        let (status, order) = self.api("GET", "/v1/setup/doctor", None).await;
        assert_eq!(status, 200, "{order}");
        let check = order["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "token and s_pappid")
            .unwrap()
            .clone();
        check["detail"]
            .as_str()
            .unwrap()
            .trim_start_matches("s_pappid ")
            .to_owned()
    }

    /// The buyer authorizes on the auth page with a company title.
    pub async fn authorize(&self, order_id: &str, title: &str, tax_no: Option<&str>, fail: bool) {
        let kind = if tax_no.is_some() {
            "company"
        } else {
            "personal"
        };
        let mut title_json = json!({ "kind": kind, "title": title });
        if let Some(tax_no) = tax_no {
            title_json["tax_no"] = json!(tax_no);
        }
        let body = json!({ "s_pappid": self.s_pappid().await, "order_id": order_id, "title": title_json, "fail": fail, "wait": true });
        self.control("/sandbox/control/authorize", body).await;
    }

    /// Waits until the order reaches `state` (or fails the test with its history).
    pub async fn wait_for(&self, order_id: &str, state: &str) -> Value {
        self.wait_until(order_id, state, |order| order["state"] == state)
            .await
    }

    /// Waits until the order satisfies `done` (named `what` in the failure), polling every
    /// 25 ms up to [`DEADLINE`].
    pub async fn wait_until(
        &self,
        order_id: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let (status, order) = self
                .api("GET", &format!("/v1/orders/{order_id}"), None)
                .await;
            if status == 200 && done(&order) {
                return order;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "order {order_id}: never {what} within {DEADLINE:?}: {order:#}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Polls `probe` every 25 ms until it answers something, up to [`DEADLINE`].
    pub async fn poll<T, F: std::future::Future<Output = Option<T>>>(
        &self,
        what: &str,
        probe: impl Fn() -> F,
    ) -> T {
        poll(what, probe).await
    }
}

/// The longest any test waits for the service to reach a state; generous for two busy cores,
/// never reached when the code is right (the wait ends as soon as the state is there).
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `probe` every 25 ms until it answers something, failing the test after [`DEADLINE`].
pub async fn poll<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    probe: impl Fn() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {DEADLINE:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub fn order_body(scenario: &str, order_id: &str) -> Value {
    json!({
        "scenario": scenario,
        "order_id": order_id,
        "seller": "store-01",
        "lines": [
            { "name": "咖啡", "tax_code": "3070401000000000000", "quantity": "2", "unit_price": "28.00", "unit": "杯", "tax_rate": "0.06" },
            { "name": "蛋糕", "tax_code": "3070401000000000000", "amount": "44.00", "tax_rate": "0.06" }
        ],
        "redirect_url": "https://shop.invalid/done"
    })
}

/// The text layer of a PDF.
pub fn pdf_text(bytes: &[u8]) -> String {
    let document = lopdf::Document::load_mem(bytes).unwrap();
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    document.extract_text(&pages).unwrap()
}

/// Live mode refuses the built-in sandbox credentials: a live-mode test and the sandbox it runs
/// as Weixin get these (the `[issuer]` section is the test's own).
pub const LIVE_CREDENTIALS: &str = "[weixin.official_account]\nappid = \"wxliveofficial01\"\n\
    secret = \"live-test-official-secret\"\n\
    [weixin.mini_program]\nappid = \"wxliveminiprog01\"\nsecret = \"live-test-mini-secret\"\n\
    [weixin.open_platform_app]\nappid = \"wxliveopenapp01\"\nsecret = \"live-test-open-secret\"\n\
    [weixin.callback]\ntoken = \"livetesttoken\"\n\
    encoding_aes_key = \"ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut\"\n\
    [sellers.store-01]\ntax_id = \"91310000000000001Y\"\n";
/// The seller's tax id in [`LIVE_CREDENTIALS`].
pub const LIVE_SELLER_TAX_ID: &str = "91310000000000001Y";
