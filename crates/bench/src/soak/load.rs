//! The load of a soak run: orders created through the merchant API in every scenario, as a
//! merchant's backend would (retrying while an instance is down), and authorized by their
//! buyers through the sandbox's control API.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{LIVE_API_KEY, unix_millis};

use super::fleet::SandboxProcess;

/// The scenarios of the load, one order each in turn.
pub(crate) const SCENARIOS: [&str; 5] = [
    "official_account",
    "qr_code",
    "app",
    "mini_program",
    "post_payment",
];

/// What the harness did to one order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Planned {
    pub order_id: String,
    pub scenario: &'static str,
    /// `POST /v1/orders` answered 201 (or 409 to a retry whose first try was applied).
    pub created: bool,
    /// The sandbox took the buyer's authorization.
    pub authorized: bool,
    /// Unix milliseconds when the authorization was taken.
    pub authorized_at_ms: i64,
    /// Why the harness gave up on this order, if it did.
    pub harness_error: Option<String>,
}

pub(crate) struct Load {
    pub client: reqwest::Client,
    /// The instances' base URLs; a request goes to the next one when one is down.
    pub bases: Vec<String>,
    pub sandbox: Arc<SandboxProcess>,
    pub s_pappid: String,
    pub prefix: String,
    pub scenarios: Vec<&'static str>,
    /// Orders created so far (the chaos schedule follows it).
    pub progress: Arc<AtomicUsize>,
}

fn order_body(scenario: &str, order_id: &str) -> Value {
    let mut body = json!({
        "scenario": scenario,
        "order_id": order_id,
        "seller": "store-01",
        "lines": [
            { "name": "咖啡", "tax_code": "3070401000000000000", "quantity": "2", "unit_price": "28.00", "unit": "杯", "tax_rate": "0.06" },
            { "name": "蛋糕", "tax_code": "3070401000000000000", "amount": "44.00", "tax_rate": "0.06" }
        ],
        // The witness finds the order of each invoice in the issuer's ledger by this remark.
        "remark": format!("soak {order_id}"),
    });
    if scenario == "official_account" {
        body["redirect_url"] = json!("https://shop.invalid/done");
    }
    body
}

/// Attempts of one request while instances restart (about 30 s).
const ATTEMPTS: usize = 120;

impl Load {
    /// Drives order `index`: create, open the front end's step where it reaches Weixin, authorize.
    pub async fn order(&self, index: usize) -> Planned {
        let scenario = self.scenarios[index % self.scenarios.len()];
        let mut planned = Planned {
            scenario,
            ..Planned::default()
        };
        if let Err(error) = self.drive(index, &mut planned).await {
            planned.harness_error = Some(format!("{error:#}"));
        }
        self.progress.fetch_add(1, Ordering::Relaxed);
        planned
    }

    async fn drive(&self, index: usize, planned: &mut Planned) -> anyhow::Result<()> {
        planned.order_id = if planned.scenario == "post_payment" {
            // The buyer pays first; the payment's id becomes the order id.
            let paid = self
                .sandbox
                .control(
                    &self.client,
                    "/sandbox/control/pay",
                    &json!({ "money": 10000, "receipt": "Y" }),
                )
                .await?;
            paid["order"]["order_id"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("pay: no order id in {paid}"))?
                .to_owned()
        } else {
            format!("{}-{index:07}", self.prefix)
        };
        let order_id = planned.order_id.clone();
        let started = self.create(index, planned.scenario, &order_id).await?;
        planned.created = true;
        if planned.scenario == "qr_code"
            && let Some(url) = started
                .as_ref()
                .and_then(|s| s["action"]["url"].as_str().map(str::to_owned))
        {
            self.scan(index, &url).await?;
        }
        // Buyers as in life: most have one card of the merchant's, one in ten orders comes from
        // a regular who holds many (whose lost insert answers the card list cannot tell apart).
        let buyer = (planned.scenario != "post_payment").then(|| {
            if index.is_multiple_of(10) {
                "oSoakRegularBuyer".to_owned()
            } else {
                format!("oSoakBuyer{index:07}")
            }
        });
        self.authorize(&order_id, buyer.as_deref()).await?;
        planned.authorized = true;
        planned.authorized_at_ms = unix_millis();
        Ok(())
    }

    /// `POST /v1/orders`, retried on another instance while one is down. `None` when a retry
    /// found the order already created (the first answer was lost).
    async fn create(
        &self,
        index: usize,
        scenario: &str,
        order_id: &str,
    ) -> anyhow::Result<Option<Value>> {
        let body = order_body(scenario, order_id);
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            let base = &self.bases[(index + attempt) % self.bases.len()];
            match self
                .client
                .post(format!("{base}/v1/orders"))
                .bearer_auth(LIVE_API_KEY)
                .json(&body)
                .send()
                .await
            {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let text = response.text().await.unwrap_or_default();
                    match status {
                        201 => return Ok(Some(serde_json::from_str(&text)?)),
                        409 if attempt > 0 => return Ok(None),
                        // A Weixin fault during `getauthurl` and the like: the merchant retries.
                        _ => last = format!("{status} {text}"),
                    }
                }
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        anyhow::bail!("create {order_id}: gave up after {ATTEMPTS} attempts: {last}")
    }

    /// The buyer scans the receipt's QR code: the short URL redirects to Weixin's auth page.
    async fn scan(&self, index: usize, url: &str) -> anyhow::Result<()> {
        let path = url
            .split_once("/q/")
            .map(|(_, token)| format!("/q/{token}"))
            .ok_or_else(|| anyhow::anyhow!("qr_code: unexpected short URL {url}"))?;
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            let base = &self.bases[(index + attempt) % self.bases.len()];
            match self.client.get(format!("{base}{path}")).send().await {
                Ok(response) if response.status().as_u16() == 303 => return Ok(()),
                Ok(response) => last = response.status().to_string(),
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        anyhow::bail!("scan {url}: gave up: {last}")
    }

    async fn authorize(&self, order_id: &str, openid: Option<&str>) -> anyhow::Result<()> {
        let body = json!({
            "s_pappid": self.s_pappid,
            "order_id": order_id,
            "title": { "kind": "company", "title": "深圳市腾讯计算机系统有限公司", "tax_no": "91440300708461136T" },
            "openid": openid,
        });
        let response = self
            .client
            .post(format!("{}/sandbox/control/authorize", self.sandbox.url))
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        anyhow::ensure!(
            status.is_success(),
            "authorize {order_id}: {status} {}",
            response.text().await?
        );
        Ok(())
    }
}
