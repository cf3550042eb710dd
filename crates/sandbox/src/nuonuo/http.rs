//! The emulator's HTTP surface: Nuonuo's token and business endpoints at their real paths, the
//! PDF links, and the JSON control API under `/nuonuo/control`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fapiao_issuer::nuonuo::sign::{SignParams, verify};
use serde::Deserialize;
use serde_json::{Value, json};

use super::state::answer;
use super::{NuonuoEmulator, NuonuoFault, NuonuoFaultKind, now_millis};

/// The emulator's router.
pub fn router(emulator: NuonuoEmulator) -> Router {
    Router::new()
        .route("/accessToken", post(token))
        .route("/open/v1/services", post(services))
        .route("/nuonuo/pdf/{file}", get(pdf))
        .route("/nuonuo/control/invoices", get(invoices))
        .route("/nuonuo/control/stats", get(stats))
        .route("/nuonuo/control/faults", post(fault))
        .route("/nuonuo/control/settings", post(settings))
        .route("/nuonuo/control/fail", post(fail))
        .with_state(emulator)
}

/// `application/x-www-form-urlencoded` fields; `+` is a space, `%XX` a byte.
fn parse_form(body: &[u8]) -> BTreeMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

async fn token(
    State(emulator): State<NuonuoEmulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return axum::Json(
            json!({ "error": "070315", "error_description": "Incorrect content-type" }),
        )
        .into_response();
    }
    let form = parse_form(&body);
    let config = emulator.config();
    let now = now_millis();
    // Unique per emulator run (the start time) and per call: a token of an earlier run is refused.
    let reply = emulator.with_state(|s| {
        let value = format!("nnemu{now:x}{:04x}", s.token_calls.len());
        s.token(&config, &form, value, now)
    });
    axum::Json(reply).into_response()
}

fn envelope(code: &str, describe: &str) -> Response {
    axum::Json(answer(code, describe, Value::Null)).into_response()
}

async fn services(
    State(emulator): State<NuonuoEmulator>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let method = header_text("method");
    emulator.with_state(|s| *s.calls.entry(method.clone()).or_default() += 1);
    let mut applied_then_wait = None;
    if let Some(fault) = emulator.take_fault(&method) {
        match fault.kind {
            NuonuoFaultKind::Error { code, describe } => return envelope(&code, &describe),
            NuonuoFaultKind::BadGateway => return StatusCode::BAD_GATEWAY.into_response(),
            NuonuoFaultKind::Timeout { delay_ms } => {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                return envelope("0200", "服务异常（模拟超时）");
            }
            NuonuoFaultKind::AppliedThenTimeout { delay_ms } => {
                applied_then_wait = Some(Duration::from_millis(delay_ms));
            }
        }
    }
    let config = emulator.config();
    let param = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    if param("appkey") != config.app_key {
        return envelope("070101", "appKey无效");
    }
    let (senid, nonce, timestamp) = (param("senid"), param("nonce"), param("timestamp"));
    if senid.is_empty() || nonce.is_empty() || timestamp.is_empty() {
        return envelope("0201", "senid、nonce、timestamp不能为空");
    }
    let now = now_millis();
    let skewed = timestamp.parse::<i64>().map_or(true, |t| {
        t.saturating_sub(now / 1000).saturating_abs() > config.clock_skew_seconds
    });
    if skewed {
        return envelope("070601", "验签失败：请检查服务器时间是否与北京时间保持一致");
    }
    let params = SignParams {
        app_key: &config.app_key,
        senid,
        nonce,
        timestamp,
    };
    if !verify(
        &config.app_secret,
        &params,
        &body,
        &header_text("X-Nuonuo-Sign"),
    ) {
        emulator.with_state(|s| s.signature_refusals += 1);
        return envelope("070601", "签名不匹配");
    }
    let access_token = header_text("accessToken");
    if !emulator.with_state(|s| s.token_valid(&access_token, now)) {
        return envelope("070301", "accessToken与appKey不匹配或已过期");
    }
    let user_tax = header_text("userTax");
    if !config.tax_ids.contains(&user_tax) {
        return envelope("070401", "税号与授权不匹配");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return envelope("0201", "报文格式错误");
    };
    let (reply, callbacks) = emulator.with_state(|s| match method.as_str() {
        "nuonuo.OpeMplatform.requestBillingNew" => (
            s.request_billing(&config, &user_tax, &request, now),
            Vec::new(),
        ),
        "nuonuo.OpeMplatform.queryInvoiceResult" => s.query(&config, &user_tax, &request),
        "nuonuo.OpeMplatform.reInvoice" => (s.re_invoice(&user_tax, &request), Vec::new()),
        "nuonuo.OpeMplatform.saveInvoiceRedConfirm" => (
            s.save_red_confirm(&config, &user_tax, &request, now),
            Vec::new(),
        ),
        "nuonuo.OpeMplatform.queryInvoiceRedConfirm" => {
            (s.query_red_confirm(&user_tax, &request, now), Vec::new())
        }
        _ => (answer("070501", "API不存在", Value::Null), Vec::new()),
    });
    for callback in callbacks {
        emulator.deliver(callback);
    }
    if method == "nuonuo.OpeMplatform.requestBillingNew"
        && reply["code"] == "E0000"
        && let Some(delay) = config.complete_after_ms
    {
        let order_no = request["order"]["orderNo"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let timer = emulator.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            if let Some(callback) = timer.with_state(|s| s.complete(&user_tax, &order_no)) {
                timer.deliver(callback);
            }
        });
    }
    if let Some(wait) = applied_then_wait {
        tokio::time::sleep(wait).await;
    }
    axum::Json(reply).into_response()
}

async fn pdf(State(emulator): State<NuonuoEmulator>, Path(file): Path<String>) -> Response {
    let serial = file.strip_suffix(".pdf").unwrap_or(&file).to_owned();
    let invoice = emulator.with_state(|s| {
        s.invoices
            .values()
            .find(|i| i.serial == serial && i.status == "2")
            .cloned()
    });
    let Some(invoice) = invoice else {
        return (StatusCode::NOT_FOUND, "no such invoice").into_response();
    };
    let config = emulator.config();
    match super::pdf::render(&emulator.0.renderer, &config, &invoice) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/pdf")], bytes).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

async fn invoices(State(emulator): State<NuonuoEmulator>) -> Response {
    axum::Json(json!(emulator.invoices())).into_response()
}

async fn stats(State(emulator): State<NuonuoEmulator>) -> Response {
    let now = now_millis();
    let stats = emulator.with_state(|s| {
        json!({
            "token_calls_total": s.token_calls.len(),
            "token_calls_30d": s.token_calls_in_window(now),
            "signature_refusals": s.signature_refusals,
            "calls": s.calls,
            "callbacks": s.callbacks,
            "red_forms": s.red_forms.values().collect::<Vec<_>>(),
        })
    });
    axum::Json(stats).into_response()
}

async fn fault(State(emulator): State<NuonuoEmulator>, body: Bytes) -> Response {
    match serde_json::from_slice::<NuonuoFault>(&body) {
        Ok(fault) => {
            emulator.push_fault(fault);
            axum::Json(json!({ "queued": true })).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct SettingsUpdate {
    unknown_polls: Option<u32>,
    pending_polls: Option<u32>,
    red_polls: Option<u32>,
    complete_after_ms: Option<u64>,
}

async fn settings(State(emulator): State<NuonuoEmulator>, body: Bytes) -> Response {
    let update = match serde_json::from_slice::<SettingsUpdate>(&body) {
        Ok(update) => update,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({ "error": e.to_string() })),
            )
                .into_response();
        }
    };
    emulator.update_config(|c| {
        if let Some(v) = update.unknown_polls {
            c.unknown_polls = v;
        }
        if let Some(v) = update.pending_polls {
            c.pending_polls = v;
        }
        if let Some(v) = update.red_polls {
            c.red_polls = v;
        }
        if update.complete_after_ms.is_some() {
            c.complete_after_ms = update.complete_after_ms;
        }
    });
    axum::Json(json!(emulator.config())).into_response()
}

#[derive(Debug, Deserialize)]
struct FailRequest {
    order_no: String,
    status: String,
    cause: Option<String>,
}

async fn fail(State(emulator): State<NuonuoEmulator>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<FailRequest>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            "expected {order_no, status, cause}",
        )
            .into_response();
    };
    if !matches!(request.status.as_str(), "22" | "24") {
        return (StatusCode::BAD_REQUEST, "status must be 22 or 24").into_response();
    }
    if emulator.with_state(|s| s.fail(&request.order_no, &request.status, request.cause)) {
        axum::Json(json!({ "failed": request.order_no })).into_response()
    } else {
        (StatusCode::NOT_FOUND, "no such order").into_response()
    }
}
