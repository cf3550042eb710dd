//! The merchant's webhook endpoint in a soak run, and its witness: every event of every order
//! arrives (at least once), an order's events never overtake one another, every signature
//! verifies, and an event id always carries the same body — through SIGKILLs, crash points
//! (`webhook.after_post`) and the endpoint's own refusals.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{KeyInit, Mac};
use serde_json::Value;

use super::Rng;
use super::load::Planned;
use super::witness::service_view;

const SECRET: &str = "soak-webhook-secret-0123456789";

struct Arrival {
    id: String,
    order_id: String,
    sequence: u64,
    body: String,
}

struct HookState {
    arrivals: Mutex<Vec<Arrival>>,
    bad_signatures: AtomicUsize,
    refused: AtomicUsize,
    /// Refuse this share of requests with 500 (the endpoint's own faults).
    fail_per_mille: u64,
    rng: Mutex<Rng>,
}

/// The endpoint, listening on loopback.
pub(crate) struct HookReceiver {
    state: Arc<HookState>,
    url: String,
}

/// The documented check: `t=<secs>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
fn signature_ok(header: &str, body: &[u8]) -> bool {
    let mut parts = header.split(',');
    let (Some(t), Some(v1)) = (
        parts.next().and_then(|p| p.strip_prefix("t=")),
        parts.next().and_then(|p| p.strip_prefix("v1=")),
    ) else {
        return false;
    };
    let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes())
    else {
        return false;
    };
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    expected == v1
}

async fn receive(
    State(state): State<Arc<HookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let refuse = state
        .rng
        .lock()
        .map(|mut rng| rng.below(1000) < state.fail_per_mille)
        .unwrap_or(false);
    if refuse {
        state.refused.fetch_add(1, Ordering::Relaxed);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let signature = headers
        .get("fapiao-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !signature_ok(signature, &body) {
        state.bad_signatures.fetch_add(1, Ordering::Relaxed);
        return StatusCode::BAD_REQUEST;
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        state.bad_signatures.fetch_add(1, Ordering::Relaxed);
        return StatusCode::BAD_REQUEST;
    };
    let arrival = Arrival {
        id: value["id"].as_str().unwrap_or_default().to_owned(),
        order_id: value["data"]["order_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        sequence: value["data"]["sequence"].as_u64().unwrap_or(0),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    if let Ok(mut arrivals) = state.arrivals.lock() {
        arrivals.push(arrival);
    }
    StatusCode::NO_CONTENT
}

impl HookReceiver {
    /// Listens on a free loopback port, refusing `fail_rate` of the requests.
    pub(crate) async fn start(seed: u64, fail_rate: f64) -> anyhow::Result<Self> {
        let state = Arc::new(HookState {
            arrivals: Mutex::new(Vec::new()),
            bad_signatures: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            fail_per_mille: (fail_rate.clamp(0.0, 1.0) * 1000.0) as u64,
            rng: Mutex::new(Rng(seed ^ 0x5eed_4007)),
        });
        let app = axum::Router::new()
            .route("/hooks", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hooks", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(HookReceiver { state, url })
    }

    /// The configuration that points every instance at this endpoint, with short backoffs
    /// (the retry span stays the default 72 h).
    pub(crate) fn toml(&self) -> String {
        format!(
            "\n[[webhooks]]\nname = \"soak\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n\
             [webhook_delivery]\ninitial_backoff_ms = 200\nmax_backoff_seconds = 2\n\
             timeout_seconds = 2\npoll_interval_ms = 50\n",
            self.url
        )
    }

    /// Sequences received per order, in arrival order.
    fn by_order(&self) -> HashMap<String, Vec<u64>> {
        let mut map: HashMap<String, Vec<u64>> = HashMap::new();
        if let Ok(arrivals) = self.state.arrivals.lock() {
            for a in arrivals.iter() {
                map.entry(a.order_id.clone()).or_default().push(a.sequence);
            }
        }
        map
    }

    /// Waits (up to `wait`) until every created order's events have all arrived, then adds a
    /// violation for each event missing, each order whose events overtook one another, each
    /// bad signature and each id seen with two bodies; prints the figures.
    pub(crate) async fn judge(
        &self,
        client: &reqwest::Client,
        base: &str,
        planned: &[Planned],
        wait: Duration,
        violations: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        let mut expected: BTreeMap<String, u64> = BTreeMap::new();
        for plan in planned.iter().filter(|p| p.created) {
            if let Some(view) = service_view(client, base, &plan.order_id).await? {
                let entries = view["history"].as_array().map_or(0, Vec::len);
                expected.insert(plan.order_id.clone(), entries as u64);
            }
        }
        let started = Instant::now();
        let missing = |got: &HashMap<String, Vec<u64>>| -> Vec<(String, u64)> {
            expected
                .iter()
                .flat_map(|(order, n)| {
                    let seen = got.get(order);
                    (1..=*n)
                        .filter(move |s| !seen.is_some_and(|v| v.contains(s)))
                        .map(move |s| (order.clone(), s))
                })
                .collect()
        };
        let mut lost = missing(&self.by_order());
        while !lost.is_empty() && started.elapsed() < wait {
            tokio::time::sleep(Duration::from_millis(250)).await;
            lost = missing(&self.by_order());
        }
        for (order, seq) in lost.iter().take(20) {
            violations.push(format!(
                "webhook event {seq} of order {order} never arrived"
            ));
        }
        if lost.len() > 20 {
            violations.push(format!(
                "… {} more webhook events never arrived",
                lost.len() - 20
            ));
        }
        let got = self.by_order();
        let mut overtaken = 0usize;
        let mut repeats = 0usize;
        for (order, sequences) in &got {
            let mut highest = 0u64;
            for &seq in sequences {
                if seq > highest + 1 {
                    overtaken += 1;
                    violations.push(format!(
                        "order {order}: webhook event {seq} arrived before event {}",
                        highest + 1
                    ));
                    highest = seq;
                } else if seq <= highest {
                    repeats += 1;
                } else {
                    highest = seq;
                }
            }
        }
        let mut bodies: HashMap<String, String> = HashMap::new();
        let mut changed = 0usize;
        let total = {
            let arrivals = self
                .state
                .arrivals
                .lock()
                .map_err(|_| anyhow::anyhow!("receiver lock poisoned"))?;
            for a in arrivals.iter() {
                if let Some(before) = bodies.insert(a.id.clone(), a.body.clone())
                    && before != a.body
                {
                    changed += 1;
                    violations.push(format!("webhook event {} arrived with two bodies", a.id));
                }
            }
            arrivals.len()
        };
        let bad = self.state.bad_signatures.load(Ordering::Relaxed);
        if bad > 0 {
            violations.push(format!("{bad} webhook requests with a bad signature"));
        }
        let events: u64 = expected.values().sum();
        println!("| webhook events expected (history entries of created orders) | {events} |");
        println!(
            "| webhook requests accepted / refused by the endpoint | {total} / {} |",
            self.state.refused.load(Ordering::Relaxed)
        );
        println!("| webhook events repeated (at least once) | {repeats} |");
        println!(
            "| webhook events lost / overtaken / changed / badly signed | {} / {overtaken} / {changed} / {bad} |",
            lost.len()
        );
        println!(
            "| webhook events all in after the settle | {:.1} s |",
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }
}
