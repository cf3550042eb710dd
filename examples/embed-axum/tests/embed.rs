//! The embedding example as a host runs it: its own page, fapiao nested under `/fapiao`, an
//! order delivered through the host's own issuer, and a clean shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

const KEY: &str = "sandbox-api-key-change-me";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_serves_its_own_routes_and_fapiao_delivers_through_its_issuer() {
    let dir = std::env::temp_dir().join(format!("fapiao-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = fapiao_app::Config::from_toml(&format!(
        "[database]\nurl = \"sqlite://{}?mode=rwc\"\n[runner]\nconcurrency = 4\n",
        dir.join("host.db").display()
    ))
    .unwrap();
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let host = fapiao_example_embed_axum::start(config, any, any)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let base = format!("http://{}", host.addr);
    let sandbox = format!("http://{}", host.sandbox_addr.unwrap());
    let http = reqwest::Client::new();

    let page = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.text().await.unwrap(), "the host's own page");

    let created = http
        .post(format!("{base}/fapiao/v1/orders"))
        .bearer_auth(KEY)
        .json(&json!({
            "scenario": "official_account", "order_id": "EMBED-1", "seller": "store-01",
            "lines": [{ "name": "咖啡", "tax_code": "3070401000000000000", "quantity": "2",
                        "unit_price": "28.00", "tax_rate": "0.06" }]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let created: Value = created.json().await.unwrap();
    let auth_url = created["action"]["auth_url"].as_str().unwrap();
    assert!(auth_url.starts_with(&sandbox), "{auth_url}");

    let doctor: Value = http
        .get(format!("{base}/fapiao/v1/setup/doctor"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let s_pappid = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "token and s_pappid")
        .and_then(|c| c["detail"].as_str())
        .unwrap()
        .trim_start_matches("s_pappid ")
        .to_owned();
    let authorized = http
        .post(format!("{sandbox}/sandbox/control/authorize"))
        .json(
            &json!({ "s_pappid": s_pappid, "order_id": "EMBED-1", "wait": true,
                       "title": { "kind": "company", "title": "深圳市腾讯计算机系统有限公司",
                                  "tax_no": "91440300708461136T" } }),
        )
        .send()
        .await
        .unwrap();
    assert!(authorized.status().is_success());

    let mut order = Value::Null;
    for _ in 0..200 {
        order = http
            .get(format!("{base}/fapiao/v1/orders/EMBED-1"))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if order["state"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(order["state"], "delivered", "{order:#}");
    let number = order["invoice"]["number"].as_str().unwrap().to_owned();
    assert_eq!(
        host.issuer.trail(),
        vec![number],
        "issued through the host's issuer, once"
    );

    assert!(
        host.shutdown(Duration::from_secs(10)).await,
        "every task ended"
    );
    assert!(
        http.get(format!("{base}/")).send().await.is_err(),
        "the host no longer listens"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_readme_snippet_is_this_examples_code() {
    let readme = include_str!("../../../README.md");
    let source = include_str!("../src/lib.rs");
    let section = readme
        .split("## Embedding `fapiao-app` in an existing axum service")
        .nth(1)
        .expect("the README has an embedding section");
    let snippet = section
        .split("```rust")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section has a rust snippet");
    let mut checked = 0;
    for line in snippet.lines().map(str::trim).filter(|l| !l.is_empty()) {
        assert!(
            source.lines().any(|s| s.trim() == line),
            "README line not in examples/embed-axum/src/lib.rs: {line}"
        );
        checked += 1;
    }
    assert!(checked > 15, "only {checked} lines checked");
}
