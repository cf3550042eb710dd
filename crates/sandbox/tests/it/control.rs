//! Running with no configuration, the accounts listing, the clock, and configuration files.

use fapiao_sandbox::{PushMode, SandboxConfig, serve};
use serde_json::{Value, json};

use crate::support::{MINI, OA, OA_SECRET, TestSandbox};

#[tokio::test]
async fn serve_runs_with_no_configuration() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(serve(listener, SandboxConfig::default()));
    let http = reqwest::Client::new();

    let accounts: Value = http
        .get(format!("{base}/sandbox/control/accounts"))
        .send()
        .await
        .expect("accounts")
        .json()
        .await
        .expect("json");
    let accounts = accounts.as_array().expect("a list");
    assert_eq!(accounts.len(), 3);
    let oa = &accounts[0];
    assert_eq!(oa["appid"], OA);
    assert_eq!(oa["role"], "official_account");
    assert_eq!(oa["secret"], OA_SECRET);
    assert_eq!(oa["token"], "sandboxtoken");
    assert_eq!(oa["push_mode"], "safe");
    assert_eq!(
        oa["encoding_aes_key"],
        fapiao_sandbox::config::DEFAULT_ENCODING_AES_KEY
    );
    assert_eq!(accounts[1]["role"], "mini_program");
    assert_eq!(accounts[2]["role"], "open_platform_app");

    // URLs handed out point at the listener.
    let token: Value = http
        .get(format!(
            "{base}/cgi-bin/token?grant_type=client_credential&appid={OA}&secret={OA_SECRET}"
        ))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let token = token["access_token"].as_str().expect("token");
    let seturl: Value = http
        .post(format!("{base}/card/invoice/seturl?access_token={token}"))
        .body("{}")
        .send()
        .await
        .expect("seturl")
        .json()
        .await
        .expect("json");
    let invoice_url = seturl["invoice_url"].as_str().expect("invoice_url");
    assert!(invoice_url.starts_with(&format!("{base}/sandbox?action=list&s_pappid=")));
    assert!(invoice_url.ends_with(oa["s_pappid"].as_str().expect("s_pappid")));
}

#[tokio::test]
async fn accounts_clock_and_orders() {
    let sandbox = TestSandbox::start().await;
    let updated = sandbox
        .control_ok(
            &format!("/sandbox/control/accounts/{MINI}"),
            json!({"callback_url": "http://127.0.0.1:9/cb", "push_mode": "compatible", "token": "t2"}),
        )
        .await;
    assert_eq!(updated["push_mode"], "compatible");
    assert_eq!(updated["token"], "t2");
    let (status, _) = sandbox
        .control_post(
            &format!("/sandbox/control/accounts/{MINI}"),
            json!({"encoding_aes_key": "too-short"}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = sandbox
        .control_post("/sandbox/control/accounts/wxnobody", json!({}))
        .await;
    assert_eq!(status, 404);
    let (status, _) = sandbox
        .control_post("/sandbox/control/authorize", json!({"nonsense": 1}))
        .await;
    assert_eq!(status, 400);

    let before = sandbox.control_get("/sandbox/control/clock").await;
    let after = sandbox
        .control_ok("/sandbox/control/clock", json!({"advance_secs": 3600}))
        .await;
    assert_eq!(after["offset_secs"], 3600);
    assert!(after["now"].as_i64() >= before["now"].as_i64().map(|n| n + 3600));

    assert_eq!(
        sandbox.control_get("/sandbox/control/orders").await,
        json!([])
    );
    assert_eq!(
        sandbox.control_get("/sandbox/control/pushes").await,
        json!([])
    );

    // stable_token is POST only, like the rest.
    let get = sandbox.control_get("/cgi-bin/stable_token").await;
    assert_eq!(get["errcode"], 43002);
}

#[test]
fn configuration_documents() {
    let empty: SandboxConfig = serde_json::from_str("{}").expect("empty config");
    assert_eq!(empty, SandboxConfig::default());
    let config: SandboxConfig = serde_json::from_value(json!({
        "seed": 7,
        "accounts": [{
            "appid": "wx1234567890abcdef",
            "secret": "s",
            "role": "official_account",
            "callback_url": "http://127.0.0.1:8080/weixin/callback",
            "push_mode": "plain"
        }],
        "push": {"timeout_ms": 1000},
        "unconfirmed": {"event_appid_element": "both", "duplicate_insert_errcode": 72018},
        "faults": {"rules": [{"endpoint": "insert", "system_error_rate": 0.1}],
                   "script": [{"endpoint": "*", "fault": "http_5xx"}]}
    }))
    .expect("config");
    assert_eq!(config.accounts[0].push_mode, PushMode::Plain);
    assert_eq!(config.accounts[0].token, "sandboxtoken");
    assert_eq!(config.push.attempts, 3);
    assert_eq!(config.unconfirmed.duplicate_insert_errcode, 72018);
    assert_eq!(config.faults.rules[0].http_status, 503);
    assert!(fapiao_sandbox::Sandbox::new(config).is_ok());

    let typo: Result<SandboxConfig, _> = serde_json::from_value(json!({"sede": 1}));
    assert!(typo.is_err());
    let no_key = SandboxConfig {
        accounts: vec![fapiao_sandbox::AccountConfig {
            encoding_aes_key: None,
            push_mode: PushMode::Safe,
            ..SandboxConfig::default().accounts[0].clone()
        }],
        ..SandboxConfig::default()
    };
    assert!(fapiao_sandbox::Sandbox::new(no_key).is_err());
    let no_official_account = SandboxConfig {
        accounts: vec![SandboxConfig::default().accounts[1].clone()],
        ..SandboxConfig::default()
    };
    assert!(fapiao_sandbox::Sandbox::new(no_official_account).is_err());
}
