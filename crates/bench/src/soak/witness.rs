//! The witnesses of a soak run and the verdict: the sandbox issuer's ledger (invoices per
//! order), the Weixin sandbox's cards (cards per order) and the service's own view of each
//! order (`GET /v1/orders/{id}`, cross-checked with `GET /v1/orders?state=…`).

use std::collections::{BTreeMap, HashMap};

use fapiao_issuer::MIX_REJECTION_CODE;
use fapiao_storage::testing::TestDatabase;
use serde_json::Value;

use crate::support::{LIVE_API_KEY, percentiles};

use super::fleet::SandboxProcess;
use super::load::Planned;

/// States an order rests in until someone acts.
pub(crate) const FINAL_STATES: [&str; 4] = [
    "delivered",
    "rejected",
    "needs_attention",
    "authorization_failed",
];

/// What the witnesses saw of one order.
#[derive(Debug, Default, Clone)]
struct Seen {
    state: Option<String>,
    attention: Option<String>,
    card_code: Option<String>,
    blue: usize,
    red: usize,
    deliberate_rejections: usize,
    other_rejections: usize,
    cards: Vec<String>,
    delivered_at_ms: Option<i64>,
}

/// The verdict of a run.
pub(crate) struct Verdict {
    pub violations: Vec<String>,
}

/// The order id a ledger record names through the order's remark (`soak <order id>`).
fn remark_order(record: &Value) -> Option<String> {
    fn find(value: &Value) -> Option<String> {
        match value {
            Value::String(s) => s.strip_prefix("soak ").map(str::to_owned),
            Value::Array(items) => items.iter().find_map(find),
            Value::Object(map) => map.values().find_map(find),
            _ => None,
        }
    }
    find(&record["draft"])
}

pub(crate) async fn service_view(
    client: &reqwest::Client,
    base: &str,
    order_id: &str,
) -> anyhow::Result<Option<Value>> {
    for _ in 0..20 {
        let response = client
            .get(format!("{base}/v1/orders/{order_id}"))
            .bearer_auth(LIVE_API_KEY)
            .send()
            .await;
        if let Ok(response) = response {
            match response.status().as_u16() {
                200 => return Ok(Some(response.json().await?)),
                404 => return Ok(None),
                _ => {}
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    anyhow::bail!("GET /v1/orders/{order_id} kept failing")
}

/// Gathers the witnesses, prints the table, and lists every violation.
pub(crate) async fn judge(
    client: &reqwest::Client,
    base: &str,
    sandbox: &SandboxProcess,
    db: &TestDatabase,
    planned: &[Planned],
    settle_secs: f64,
) -> anyhow::Result<Verdict> {
    let mut seen: HashMap<String, Seen> = planned
        .iter()
        .filter(|p| !p.order_id.is_empty())
        .map(|p| (p.order_id.clone(), Seen::default()))
        .collect();
    let mut violations = Vec::new();

    // The service's own view, order by order.
    for plan in planned.iter().filter(|p| p.created) {
        let view = service_view(client, base, &plan.order_id).await?;
        let entry = seen.entry(plan.order_id.clone()).or_default();
        if let Some(view) = view {
            entry.state = view["state"].as_str().map(str::to_owned);
            entry.attention = view["attention"]["reason"].as_str().map(str::to_owned);
            entry.card_code = view["card"]["code"].as_str().map(str::to_owned);
        }
    }

    // The sandbox issuer's ledger: one blue invoice per order, red ones only for reversals.
    let mut orphans = 0usize;
    for row in db
        .query("SELECT idem_key, record FROM sandbox_ledger")
        .await?
    {
        let key = row.string(0)?;
        let record: Value = serde_json::from_str(&row.string(1)?)?;
        let Some(entry) = remark_order(&record).and_then(|id| seen.get_mut(&id)) else {
            orphans += 1;
            violations.push(format!(
                "ledger record {key} names no order of this run: {record}"
            ));
            continue;
        };
        let result = &record["result"];
        if let Some(issued) = result.get("issued") {
            if issued["red_of"].is_null() {
                entry.blue += 1;
            } else {
                entry.red += 1;
            }
        } else if result["rejected"]["code"].as_str() == Some(MIX_REJECTION_CODE) {
            entry.deliberate_rejections += 1;
        } else {
            entry.other_rejections += 1;
        }
    }

    // The Weixin sandbox's cards: one per order.
    let cards: Value = client
        .get(format!("{}/sandbox/control/cards", sandbox.url))
        .send()
        .await?
        .json()
        .await?;
    let mut foreign_cards = 0usize;
    for card in cards["cards"].as_array().into_iter().flatten() {
        let order_id = card["order_id"].as_str().unwrap_or_default();
        match seen.get_mut(order_id) {
            Some(entry) => entry
                .cards
                .push(card["code"].as_str().unwrap_or_default().to_owned()),
            None => foreign_cards += 1,
        }
    }
    if foreign_cards > 0 {
        violations.push(format!(
            "{foreign_cards} cards at Weixin for orders this run did not create"
        ));
    }

    // When each order was delivered, from its history.
    for row in db
        .query("SELECT order_id, MIN(at) FROM order_history WHERE to_state = 'delivered' GROUP BY order_id")
        .await?
    {
        if let Some(entry) = seen.get_mut(&row.string(0)?) {
            entry.delivered_at_ms = Some(row.i64(1)?);
        }
    }

    // The verdict, order by order.
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    let mut attention: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (mut duplicate_invoices, mut duplicate_cards, mut lost) = (0usize, 0usize, Vec::new());
    // Delivered cards whose insert answer was lost and whose code no lookup could tell (the
    // buyer has the card; a status push names the code later): counted, not a violation.
    let mut unknown_codes = Vec::new();
    let mut lost_states: BTreeMap<String, usize> = BTreeMap::new();
    let mut settle_micros = Vec::new();
    let mut harness_errors = Vec::new();
    for plan in planned {
        if let Some(error) = &plan.harness_error {
            harness_errors.push(format!("{} ({}): {error}", plan.order_id, plan.scenario));
        }
        let Some(entry) = seen.get(&plan.order_id) else {
            continue;
        };
        let state = entry
            .state
            .clone()
            .unwrap_or_else(|| "unknown to the service".to_owned());
        *by_state.entry(state.clone()).or_default() += 1;
        let id = &plan.order_id;
        if entry.blue > 1 {
            duplicate_invoices += 1;
            violations.push(format!("{id}: {} blue invoices", entry.blue));
        }
        if entry.red > 0 {
            violations.push(format!(
                "{id}: {} red invoices, no reversal asked",
                entry.red
            ));
        }
        if entry.cards.len() > 1 {
            duplicate_cards += 1;
            violations.push(format!("{id}: {} cards at Weixin", entry.cards.len()));
        }
        if entry.other_rejections > 0 {
            violations.push(format!(
                "{id}: {} issuer rejections the run did not ask for",
                entry.other_rejections
            ));
        }
        if plan.authorized && !FINAL_STATES.contains(&state.as_str()) {
            lost.push(format!("{id} ({}) in {state}", plan.scenario));
            *lost_states.entry(state.clone()).or_default() += 1;
        }
        match state.as_str() {
            "delivered" => {
                if entry.blue != 1 || entry.cards.len() != 1 {
                    violations.push(format!(
                        "{id}: delivered with {} blue invoices and {} cards",
                        entry.blue,
                        entry.cards.len()
                    ));
                } else if entry.card_code.is_none() {
                    unknown_codes.push(format!("{id} ({})", plan.scenario));
                } else if entry.card_code.as_deref() != entry.cards.first().map(String::as_str) {
                    violations.push(format!(
                        "{id}: the service holds card code {:?}, Weixin {:?}",
                        entry.card_code, entry.cards
                    ));
                }
                if let Some(at) = entry.delivered_at_ms
                    && plan.authorized
                {
                    let micros = (at - plan.authorized_at_ms).max(0) * 1000;
                    settle_micros.push(u32::try_from(micros).unwrap_or(u32::MAX));
                }
            }
            "rejected" => {
                if entry.deliberate_rejections == 0 || entry.blue > 0 || !entry.cards.is_empty() {
                    violations.push(format!(
                        "{id}: rejected with {} deliberate rejections, {} blue invoices, {} cards",
                        entry.deliberate_rejections,
                        entry.blue,
                        entry.cards.len()
                    ));
                }
            }
            "needs_attention" => {
                let reason = entry.attention.clone().unwrap_or_default();
                let deliberate =
                    entry.deliberate_rejections > 0 && entry.blue == 0 && entry.cards.is_empty();
                attention
                    .entry(reason_class(&reason))
                    .or_default()
                    .push(id.clone());
                if !deliberate {
                    violations.push(format!(
                        "{id} ({}): needs_attention not caused by a deliberate fault: {reason} \
                         ({} blue invoices, {} cards at Weixin)",
                        plan.scenario,
                        entry.blue,
                        entry.cards.len()
                    ));
                }
            }
            _ => {
                if !entry.cards.is_empty() {
                    violations.push(format!("{id}: a card at Weixin while the order is {state}"));
                }
            }
        }
    }
    for entry in &lost {
        violations.push(format!("lost: {entry}"));
    }
    for error in &harness_errors {
        violations.push(format!("the harness could not drive {error}"));
    }

    // The list endpoint agrees with the order views (up to its page of 500).
    for (state, count) in &by_state {
        if state.contains(' ') {
            continue;
        }
        let listed: Value = client
            .get(format!("{base}/v1/orders?state={state}&limit=500"))
            .bearer_auth(LIVE_API_KEY)
            .send()
            .await?
            .json()
            .await?;
        let listed = listed["orders"].as_array().map_or(0, Vec::len);
        if listed != (*count).min(500) {
            violations.push(format!(
                "GET /v1/orders?state={state} lists {listed}, the order views say {count}"
            ));
        }
    }

    let created = planned.iter().filter(|p| p.created).count();
    let authorized = planned.iter().filter(|p| p.authorized).count();
    let total_blue: usize = seen.values().map(|s| s.blue).sum();
    let total_cards: usize = seen.values().map(|s| s.cards.len()).sum();
    println!();
    println!("| witness | figure |");
    println!("|---|---|");
    println!(
        "| orders planned / created / authorized | {} / {created} / {authorized} |",
        planned.len()
    );
    for (state, count) in &by_state {
        println!("| orders in `{state}` at the end | {count} |");
    }
    println!("| blue invoices in the issuer's ledger | {total_blue} |");
    println!("| cards at Weixin (sandbox) | {total_cards} |");
    println!("| orders with more than one invoice | {duplicate_invoices} |");
    println!("| orders with more than one card | {duplicate_cards} |");
    println!(
        "| delivered cards whose code is still unknown | {} {} |",
        unknown_codes.len(),
        if unknown_codes.is_empty() {
            String::new()
        } else {
            format!("({})", unknown_codes.join(", "))
        }
    );
    println!("| ledger records naming no order | {orphans} |");
    let lost_states: Vec<String> = lost_states
        .iter()
        .map(|(state, n)| format!("{state} ×{n}"))
        .collect();
    println!(
        "| lost (authorized, not in a final state) | {} {} |",
        lost.len(),
        if lost_states.is_empty() {
            String::new()
        } else {
            format!("({})", lost_states.join(", "))
        }
    );
    for (reason, orders) in &attention {
        println!(
            "| needs_attention: {reason} | {} (e.g. {}) |",
            orders.len(),
            orders
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!("| harness errors | {} |", harness_errors.len());
    println!(
        "| authorization → delivered | {} |",
        if settle_micros.is_empty() {
            "no order delivered".to_owned()
        } else {
            percentiles(&mut settle_micros)
        }
    );
    println!("| settled after the load | {settle_secs:.1} s |");
    println!();
    Ok(Verdict { violations })
}

/// The reason without what varies per order (the `rid:` of Weixin's message), so orders
/// that failed the same way group together.
fn reason_class(reason: &str) -> String {
    let cut = reason.find("rid:").unwrap_or(reason.len());
    reason[..cut]
        .trim_end_matches([' ', '(', ')', ',', ':'])
        .chars()
        .take(160)
        .collect()
}
