//! The operator console in a real headless Chromium, driven over the W3C WebDriver protocol by
//! `chromedriver` (Debian's `chromium` and `chromium-driver`): sign in, find the order that
//! needs attention, retry it and see it delivered; a form post without the CSRF token is
//! refused and a request without a session is sent to the sign-in page.
//!
//! `FAPIAO_CONSOLE_SCREENSHOTS=docs/console` (a path from the workspace root, or absolute)
//! saves PNG screenshots of the main pages there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use fapiao_issuer::SandboxMode;
use serde_json::{Value, json};

use crate::app::*;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const BUYER: &str = "深圳市腾讯计算机系统有限公司";
const BUYER_TAX: &str = "91440300708461136T";

/// A `chromedriver` child process with one browser session; both end on drop.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    async fn start() -> Browser {
        let driver_path = std::env::var("FAPIAO_CHROMEDRIVER").unwrap_or(CHROMEDRIVER.into());
        let chromium = std::env::var("FAPIAO_CHROMIUM").unwrap_or(CHROMIUM.into());
        assert!(
            Path::new(&driver_path).exists() && Path::new(&chromium).exists(),
            "the console's browser test needs {driver_path} and {chromium}: install them with \
             `apt-get install -y chromium chromium-driver` (.ci/run does when they are missing)"
        );
        let profile = tempfile::tempdir().unwrap();
        // The console names no web font; Chinese text needs a CJK font on the machine. The
        // issuer's vendored WenQuanYi Micro Hei is offered to the browser through fontconfig's
        // per-user directory, so the test needs no font package.
        let fonts = profile.path().join("data/fonts");
        std::fs::create_dir_all(&fonts).unwrap();
        let font =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/issuer/fonts/wqy-microhei.ttc");
        std::fs::copy(&font, fonts.join("wqy-microhei.ttc")).unwrap();
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .env("XDG_DATA_HOME", profile.path().join("data"))
            .env("XDG_CACHE_HOME", profile.path().join("cache"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {driver_path}: {e}"));
        let http = reqwest::Client::new();
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            http,
            _profile: profile,
        };
        poll("chromedriver to answer", || async {
            let status = browser
                .http
                .get(format!("http://127.0.0.1:{port}/status"))
                .send()
                .await
                .ok()?;
            let body: Value = status.json().await.ok()?;
            (body["value"]["ready"] == true).then_some(())
        })
        .await;
        let user_data = browser._profile.path().join("chromium");
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1280,1400", "--hide-scrollbars",
                    format!("--user-data-dir={}", user_data.display()),
                ],
            },
        }}});
        let created = browser.raw("POST", "/session", Some(capabilities)).await;
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {created}"))
            .to_owned();
        browser
    }

    /// A WebDriver command; answers its `value`, failing the test on a WebDriver error.
    async fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let mut request = self.http.request(method.parse().unwrap(), url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        let value = answer["value"].clone();
        assert!(
            value.get("error").is_none(),
            "WebDriver {method} {path}: {value}"
        );
        value
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.raw(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).await;
    }

    async fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits until the page's address ends with `suffix` (a click's navigation may still run).
    async fn wait_url(&self, suffix: &str) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let url = self.url().await;
            if url.ends_with(suffix) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the browser never reached …{suffix} (at {url})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The first element matching `css`, waiting for it up to the deadline.
    async fn find(&self, css: &str) -> String {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let url = format!(
            "http://127.0.0.1:{}/session/{}/element",
            self.port, self.session
        );
        loop {
            let answer: Value = self
                .http
                .post(&url)
                .json(&json!({ "using": "css selector", "value": css }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(element) = answer["value"][ELEMENT].as_str() {
                return element.to_owned();
            }
            if tokio::time::Instant::now() > deadline {
                let source = self.cmd("GET", "/source", None).await;
                panic!(
                    "no element {css} at {}: {answer}\n{}",
                    self.url().await,
                    source.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.cmd(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.cmd(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        let text = self
            .cmd("GET", &format!("/element/{element}/text"), None)
            .await;
        text.as_str().unwrap_or_default().to_owned()
    }

    async fn attribute(&self, css: &str, name: &str) -> String {
        let element = self.find(css).await;
        let value = self
            .cmd("GET", &format!("/element/{element}/attribute/{name}"), None)
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Saves a screenshot as `<dir>/<name>.png` when `dir` is set.
    async fn screenshot(&self, dir: Option<&Path>, name: &str) {
        let Some(dir) = dir else { return };
        let encoded = self.cmd("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends the browser through chromedriver (killing chromedriver alone would leave
        // Chromium running), then chromedriver itself; blocking, as drop cannot await.
        if !self.session.is_empty()
            && let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port))
        {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                self.session
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn screenshot_dir(db: Db) -> Option<PathBuf> {
    let dir = std::env::var("FAPIAO_CONSOLE_SCREENSHOTS").ok()?;
    // One set of pictures: the SQLite run takes them.
    if db != Db::Sqlite || dir.is_empty() {
        return None;
    }
    let dir = PathBuf::from(dir);
    Some(if dir.is_absolute() {
        dir
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir)
    })
}

async fn start_and_authorize(app: &TestApp, order_id: &str) {
    let (status, started) = app
        .api(
            "POST",
            "/v1/orders",
            Some(order_body("official_account", order_id)),
        )
        .await;
    assert_eq!(status, 201, "{started}");
    app.authorize(order_id, BUYER, Some(BUYER_TAX), false).await;
}

/// The order page's state, reloaded until it is `state`.
async fn wait_for_page_state(browser: &Browser, url: &str, state: &str) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        browser.goto(url).await;
        let shown = browser.attribute("#order-state", "data-state").await;
        if shown == state {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{url} never showed {state} (last {shown})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn console_in_a_browser(db: Db) {
    let shots = screenshot_dir(db);
    // A webhook endpoint nobody listens on: the console's delivery log shows its retries.
    let hooks = "[[webhooks]]\nname = \"erp\"\nurl = \"http://127.0.0.1:9/fapiao/events\"\nsecret = \"0123456789abcdef\"\n";
    let app = spawn_app_with(db, "console", hooks).await;
    let issuer = app.running.sandbox_issuer.clone().unwrap();
    // One order delivered, one stopped for the operator (the drawer must log in first).
    start_and_authorize(&app, "CONSOLE-OK").await;
    app.wait_for("CONSOLE-OK", "delivered").await;
    issuer.set_mode(SandboxMode::SessionRequired);
    start_and_authorize(&app, "CONSOLE-STUCK").await;
    app.wait_for("CONSOLE-STUCK", "needs_attention").await;
    let (status, _) = app
        .api(
            "POST",
            "/v1/orders",
            Some(
                order_body("qr_code", "CONSOLE-QR")
                    .as_object()
                    .map(|o| {
                        let mut o = o.clone();
                        o.remove("redirect_url");
                        Value::Object(o)
                    })
                    .unwrap(),
            ),
        )
        .await;
    assert_eq!(status, 201);
    issuer.set_mode(SandboxMode::Synchronous);

    let browser = Browser::start().await;
    let base = &app.base;

    // No session: the console sends the browser to the sign-in page.
    browser
        .goto(&format!("{base}/console/orders?lang=zh"))
        .await;
    assert!(
        browser.url().await.ends_with("/console/login"),
        "{}",
        browser.url().await
    );
    browser.type_into("input[name=api_key]", KEY).await;
    browser.click("#sign-in").await;
    assert_eq!(browser.text("#needs-attention").await, "1");
    browser.screenshot(shots.as_deref(), "dashboard").await;

    // The session cookie as Chromium keeps it (it accepted `Secure` on http://127.0.0.1).
    let cookie = browser.cmd("GET", "/cookie/fapiao_console", None).await;
    assert_eq!(cookie["httpOnly"], true, "{cookie}");
    assert_eq!(cookie["secure"], true, "{cookie}");
    assert_eq!(cookie["sameSite"], "Strict", "{cookie}");
    let session = cookie["value"].as_str().unwrap().to_owned();

    browser.goto(&format!("{base}/console/orders")).await;
    assert!(browser.text("table").await.contains("CONSOLE-OK"));
    browser.screenshot(shots.as_deref(), "orders").await;

    // From the dashboard's needs-attention count to the order, and its retry.
    browser.goto(&format!("{base}/console")).await;
    browser.click("a.card.attention").await;
    assert_eq!(browser.text("a.order-link").await, "CONSOLE-STUCK");
    browser.click("a.order-link").await;
    assert_eq!(
        browser.attribute("#order-state", "data-state").await,
        "needs_attention"
    );
    browser.click("#action-retry").await;
    browser.click("#confirm").await;
    browser
        .wait_url("/console/orders/CONSOLE-STUCK?done=retry")
        .await;
    let detail = format!("{base}/console/orders/CONSOLE-STUCK");
    wait_for_page_state(&browser, &detail, "delivered").await;
    let number = browser.text("#invoice-number").await;
    let order = app.wait_for("CONSOLE-STUCK", "delivered").await;
    assert_eq!(order["invoice"]["number"], number.as_str());
    // The blue PDF the page embeds is the issuer's.
    let pdf = app
        .http
        .get(format!("{detail}/pdf/blue"))
        .header("cookie", format!("fapiao_console={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    let bytes = pdf.bytes().await.unwrap();
    assert!(pdf_text(&bytes).contains(BUYER));
    if shots.is_some() {
        // Chromium's PDF viewer draws the embedded invoice after the page's load event.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    browser.screenshot(shots.as_deref(), "order").await;

    browser.goto(&format!("{base}/console/webhooks")).await;
    assert!(browser.text("main").await.contains("order.created"));
    browser.screenshot(shots.as_deref(), "webhooks").await;

    browser.goto(&format!("{base}/console/setup")).await;
    assert!(browser.text("table").await.contains("s_pappid"));
    browser.screenshot(shots.as_deref(), "setup").await;
    // Setup runs again from its page (every step confirmed, nothing created twice).
    browser.click("button.rerun").await;
    let ran = browser.text("#setup-ran").await;
    assert!(
        ran.contains("seturl") && ran.contains("createcard"),
        "{ran}"
    );

    // A form post with the session but without its CSRF token changes nothing.
    let forged = app
        .http
        .post(format!("{base}/console/orders/CONSOLE-OK/reverse"))
        .header("cookie", format!("fapiao_console={session}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("reason=sales_return")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let (_, order) = app.api("GET", "/v1/orders/CONSOLE-OK", None).await;
    assert_eq!(order["state"], "delivered");
    // No session: a redirect to the sign-in page, for pages and posts alike.
    for (method, path) in [
        ("GET", "/console/orders"),
        ("POST", "/console/orders/CONSOLE-OK/retry"),
    ] {
        let answer = app
            .http
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 303, "{method} {path}");
        assert_eq!(answer.headers()["location"], "/console/login");
    }

    // A reversal from the console: the red invoice's PDF beside the blue one, then the card's
    // cancellation sent again.
    let ok_page = format!("{base}/console/orders/CONSOLE-OK");
    browser.goto(&ok_page).await;
    browser.click("#action-reverse").await;
    browser.click("#confirm").await;
    browser
        .wait_url("/console/orders/CONSOLE-OK?done=reverse")
        .await;
    wait_for_page_state(&browser, &ok_page, "reversed").await;
    browser.find(r#"iframe[src$="/pdf/red"]"#).await;
    let red = app
        .http
        .get(format!("{ok_page}/pdf/red"))
        .header("cookie", format!("fapiao_console={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(red.status(), 200);
    assert!(red.bytes().await.unwrap().starts_with(b"%PDF"));
    let reversed = app
        .wait_until("CONSOLE-OK", "its card cancelled", |o| {
            o["reversal"]["card_cancelled"] == true
        })
        .await;
    assert_eq!(reversed["reversal"]["reason"], "开票有误");
    browser.goto(&ok_page).await;
    browser.click("#action-card-status").await;
    browser.click("#confirm").await;
    browser
        .wait_url("/console/orders/CONSOLE-OK?done=card-status")
        .await;

    // Sign-out ends the session: the old cookie opens nothing.
    browser.click("header form.signout button").await;
    browser.wait_url("/console/login").await;
    let after = app
        .http
        .get(format!("{base}/console"))
        .header("cookie", format!("fapiao_console={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303);
    drop(browser);
    app.running.shutdown().await;
}

crate::on_both_databases!(
    console_signs_in_and_retries_in_chromium,
    super::console_in_a_browser
);
