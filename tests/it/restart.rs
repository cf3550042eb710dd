//! Killing the service mid-pipeline and starting it again completes every order, with the
//! sandbox issuer's records as the witness that none was issued twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::net::SocketAddr;

use fapiao::StartOptions;
use fapiao_app::Config;
use fapiao_issuer::SandboxMode;
use serde_json::{Value, json};

use crate::app::*;

const ORDERS: usize = 12;
const KEY: &str = "restart-test-api-key-0001";

async fn free_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// Waits until a killed instance's listener is gone, so the next one can bind its port.
async fn port_released(addr: SocketAddr) {
    poll("the killed instance's port released", || async move {
        tokio::net::TcpListener::bind(addr).await.ok().map(drop)
    })
    .await;
}

async fn api(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .bearer_auth(KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn states(http: &reqwest::Client, base: &str) -> Vec<String> {
    let (_, list) = api(http, base, "GET", "/v1/orders?limit=500", None).await;
    list["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["state"].as_str().unwrap().to_owned())
        .collect()
}

/// A service address, the Weixin sandbox on its own (it outlives the crashes, as Weixin would)
/// pushing to that address, and the live-mode configuration pointed at it.
struct LiveWorld {
    db: LiveDb,
    service_addr: SocketAddr,
    sandbox_url: String,
    config: Config,
}

/// The test's database, and how each instance starts on it.
struct LiveDb(fapiao_storage::testing::TestDatabase);

impl LiveDb {
    fn options(&self, listen: SocketAddr) -> StartOptions {
        StartOptions {
            database: Some(self.0.database().clone()),
            listen: Some(listen),
            sandbox_listen: None,
            skip_setup: true,
            skip_runner: false,
        }
    }
}

/// `weixin` adds keys to `[weixin]`; `concurrency` is the runner's.
async fn live_world(kind: Db, name: &str, weixin: &str, concurrency: usize) -> LiveWorld {
    let db = LiveDb(test_db(kind, name).await);
    let service_addr = free_port().await;
    let sandbox_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox_url = format!("http://{}", sandbox_listener.local_addr().unwrap());
    let config = Config::from_toml(&format!(
        "[server]\napi_key = \"{KEY}\"\n[weixin]\nmode = \"live\"\nbase_url = \"{sandbox_url}\"\n{weixin}\
         [runner]\nconcurrency = {concurrency}\nlease_seconds = 2\n{LIVE_CREDENTIALS}\
         [issuer]\nkind = \"sandbox\"\nallow_sandbox_in_live = true\n"
    ))
    .unwrap();
    let sandbox =
        fapiao::sandbox_config(&config, &format!("http://{service_addr}/weixin/callback"));
    tokio::spawn(async move { fapiao_sandbox::serve(sandbox_listener, sandbox).await });
    LiveWorld {
        db,
        service_addr,
        sandbox_url,
        config,
    }
}

/// The next instance after a crash: started, and waited on until all `orders` are delivered;
/// with what its sandbox tax platform issued.
async fn restart_until_delivered(
    config: &Config,
    options: StartOptions,
    http: &reqwest::Client,
    base: &str,
    orders: usize,
) -> (fapiao::Running, Vec<fapiao_issuer::SandboxRecord>) {
    let second = fapiao::start(config.clone(), options)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    poll("every order delivered after the restart", || {
        let states = states(http, base);
        async move {
            let now = states.await;
            (now.len() == orders && now.iter().all(|s| s == "delivered")).then_some(())
        }
    })
    .await;
    let records = second
        .sandbox_issuer
        .as_ref()
        .unwrap()
        .ledger()
        .records()
        .await
        .unwrap();
    (second, records)
}

pub async fn crash_and_restart(kind: Db) {
    let LiveWorld {
        db,
        service_addr,
        sandbox_url,
        config,
    } = live_world(kind, "restart", "", 4).await;
    let options = || db.options(service_addr);
    let http = reqwest::Client::new();

    let first = fapiao::start(config.clone(), options())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let base = first.base_url();
    let (status, report) = api(&http, &base, "POST", "/v1/setup", None).await;
    assert_eq!(status, 200, "{report}");
    // The tax platform accepts but issues only after a poll: orders stop mid-pipeline.
    first
        .sandbox_issuer
        .as_ref()
        .unwrap()
        .set_mode(SandboxMode::Pending { polls: 1 });
    let s_pappid = {
        let (_, doctor) = api(&http, &base, "GET", "/v1/setup/doctor", None).await;
        doctor["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .trim_start_matches("s_pappid ")
            .to_owned()
    };
    for i in 0..ORDERS {
        let order_id = format!("CRASH-{i:02}");
        let (status, body) = api(
            &http,
            &base,
            "POST",
            "/v1/orders",
            Some(order_body("official_account", &order_id)),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let title = json!({ "kind": "company", "title": "深圳市腾讯计算机系统有限公司", "tax_no": "91440300708461136T" });
        let response = http
            .post(format!("{sandbox_url}/sandbox/control/authorize"))
            .json(&json!({ "s_pappid": s_pappid, "order_id": order_id, "title": title, "wait": true }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    // Wait until every order is past authorization and waiting on the tax platform.
    poll("every order in issue_pending", || {
        let states = states(&http, &base);
        async move {
            let now = states.await;
            (now.len() == ORDERS && now.iter().all(|s| s == "issue_pending")).then_some(())
        }
    })
    .await;
    // Crash: no graceful end, in-flight work is lost.
    first.abort();
    port_released(service_addr).await;

    let (second, records) = restart_until_delivered(&config, options(), &http, &base, ORDERS).await;
    // The witness: the sandbox tax platform issued exactly one invoice per order.
    assert_eq!(
        records.len(),
        ORDERS,
        "one idempotency key per order reached the tax platform"
    );
    let numbers: BTreeSet<String> = records
        .iter()
        .filter_map(|r| r.invoice())
        .map(|i| i.number.to_string())
        .collect();
    assert_eq!(numbers.len(), ORDERS, "one invoice number per order");
    let mut on_orders = BTreeSet::new();
    for i in 0..ORDERS {
        let (_, order) = api(
            &http,
            &base,
            "GET",
            &format!("/v1/orders/CRASH-{i:02}"),
            None,
        )
        .await;
        on_orders.insert(order["invoice"]["number"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        on_orders, numbers,
        "every order carries the invoice the platform issued for it"
    );
    // Numbers are gap-free: the highest sequence equals the count.
    let highest: u64 = numbers
        .iter()
        .map(|n| n[5..].parse::<u64>().unwrap())
        .max()
        .unwrap();
    assert_eq!(highest, ORDERS as u64);
    // And Weixin holds exactly one card per order.
    let cards: Value = http
        .get(format!("{sandbox_url}/sandbox/control/cards"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cards = cards["cards"].as_array().unwrap();
    assert_eq!(cards.len(), ORDERS);
    second.shutdown().await;
}

crate::on_both_databases!(
    killed_mid_pipeline_completes_every_order_once_after_restart,
    super::crash_and_restart
);

/// Killed while every order's insert is leased and in flight, after Weixin applied it and
/// before its answer came back (a crash between the external call and its save): the next
/// instance takes the jobs over when their leases end, Weixin answers the repeated inserts
/// "already inserted", and every order ends delivered with the one card it has.
pub async fn killed_between_insert_and_its_save(kind: Db) {
    const ORDERS: usize = 6;
    // A client timeout far past the test, so no answer is given up on before the kill.
    let LiveWorld {
        db,
        service_addr,
        sandbox_url,
        config,
    } = live_world(kind, "restart_insert", "timeout_ms = 60000\n", 8).await;
    let options = || db.options(service_addr);
    let http = reqwest::Client::new();
    let control = |path: &'static str, body: Value| {
        let request = http.post(format!("{sandbox_url}{path}")).json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{path}");
            response.json::<Value>().await.unwrap()
        }
    };
    let first = fapiao::start(config.clone(), options())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let base = first.base_url();
    let (status, report) = api(&http, &base, "POST", "/v1/setup", None).await;
    assert_eq!(status, 200, "{report}");
    // Weixin applies every insert, then holds its answer far past the kill.
    control(
        "/sandbox/control/faults",
        json!({ "rules": [{ "endpoint": "insert", "apply_then_timeout_rate": 1.0, "timeout_delay_ms": 120000 }] }),
    )
    .await;
    let (_, doctor) = api(&http, &base, "GET", "/v1/setup/doctor", None).await;
    let s_pappid = doctor["checks"][0]["detail"]
        .as_str()
        .unwrap()
        .trim_start_matches("s_pappid ")
        .to_owned();
    for i in 0..ORDERS {
        let order_id = format!("LEASED-{i:02}");
        let (status, body) = api(
            &http,
            &base,
            "POST",
            "/v1/orders",
            Some(order_body("official_account", &order_id)),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let title = json!({ "kind": "company", "title": "深圳市腾讯计算机系统有限公司", "tax_no": "91440300708461136T" });
        control(
            "/sandbox/control/authorize",
            json!({ "s_pappid": s_pappid, "order_id": order_id, "title": title, "wait": true }),
        )
        .await;
    }
    // Every card is in the buyers' Cards & Offers, no answer came back: the jobs are leased.
    let cards_url = format!("{sandbox_url}/sandbox/control/cards");
    poll("every insert applied at Weixin", || {
        let request = http.get(&cards_url);
        async move {
            let cards: Value = request.send().await.unwrap().json().await.unwrap();
            (cards["cards"].as_array().unwrap().len() == ORDERS).then_some(())
        }
    })
    .await;
    let now = states(&http, &base).await;
    assert!(
        now.len() == ORDERS && now.iter().all(|s| s == "pdf_uploaded"),
        "no insert answer was saved before the kill: {now:?}"
    );
    first.abort();
    port_released(service_addr).await;
    control("/sandbox/control/faults", json!({ "rules": [] })).await;

    let (second, records) = restart_until_delivered(&config, options(), &http, &base, ORDERS).await;
    // The witnesses: one invoice per order at the tax platform, one card per order at Weixin.
    assert_eq!(records.len(), ORDERS);
    let cards: Value = http
        .get(&cards_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cards = cards["cards"].as_array().unwrap();
    assert_eq!(cards.len(), ORDERS, "{cards:#?}");
    for i in 0..ORDERS {
        let order_id = format!("LEASED-{i:02}");
        let (_, order) = api(&http, &base, "GET", &format!("/v1/orders/{order_id}"), None).await;
        let card: Vec<&Value> = cards
            .iter()
            .filter(|c| c["order_id"] == order_id.as_str())
            .collect();
        assert_eq!(card.len(), 1, "{order_id}");
        assert_eq!(card[0]["invoice"]["billing_no"], order["invoice"]["number"]);
        let issued = records
            .iter()
            .filter_map(|r| r.invoice())
            .filter(|inv| order["invoice"]["number"] == inv.number.to_string().as_str())
            .count();
        assert_eq!(issued, 1, "{order_id}: its invoice is in the ledger once");
        let causes: Vec<&str> = order["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["cause"].as_str().unwrap())
            .collect();
        assert!(
            causes.iter().any(|c| c.contains("answer lost")),
            "{order_id}: delivered by the repeated insert: {causes:?}"
        );
    }
    second.shutdown().await;
}

crate::on_both_databases!(
    killed_between_insert_and_its_save_delivers_each_order_once,
    super::killed_between_insert_and_its_save
);

/// The sandbox profile after a restart: the new in-process sandbox starts empty, so the orders
/// that awaited authorization are registered with it again at start; the buyer can still
/// authorize, and the card codes it mints never repeat a stored one.
pub async fn sandbox_profile_restart(kind: Db) {
    let db = test_db(kind, "sandbox_restart").await;
    let start = || async {
        let running = fapiao::start(
            config(""),
            StartOptions {
                database: Some(db.database().clone()),
                listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
                sandbox_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
                skip_setup: false,
                skip_runner: false,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("start: {e:#}"));
        TestApp {
            base: running.base_url(),
            sandbox: running.sandbox_url().unwrap(),
            running,
            http: reqwest::Client::new(),
            _db: None,
        }
    };
    let first = start().await;
    for order_id in ["SR-DONE", "SR-WAIT"] {
        let (status, body) = first
            .api(
                "POST",
                "/v1/orders",
                Some(order_body("official_account", order_id)),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    first
        .authorize(
            "SR-DONE",
            "深圳市腾讯计算机系统有限公司",
            Some("91440300708461136T"),
            false,
        )
        .await;
    let done = first.wait_for("SR-DONE", "delivered").await;
    first.wait_for("SR-WAIT", "awaiting_authorization").await;
    first.running.shutdown().await;

    let second = start().await;
    second
        .authorize(
            "SR-WAIT",
            "深圳市腾讯计算机系统有限公司",
            Some("91440300708461136T"),
            false,
        )
        .await;
    let waited = second.wait_for("SR-WAIT", "delivered").await;
    assert!(waited["card"]["code"].is_string(), "{waited:#}");
    assert_ne!(waited["card"]["code"], done["card"]["code"]);
    assert_eq!(
        second.sandbox_get("/sandbox/control/cards").await["cards"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "the new sandbox holds only the card it inserted"
    );
    second.running.shutdown().await;
}

crate::on_both_databases!(
    the_sandbox_profile_keeps_awaiting_orders_across_a_restart,
    super::sandbox_profile_restart
);
