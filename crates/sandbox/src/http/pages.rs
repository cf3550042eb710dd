//! The pages a person clicks through: an overview with a simulated WeChat Pay payment, the
//! auth page an `auth_url` opens, and the buyer's Cards & Offers with each card's PDF and the
//! reimburser's buttons. Plain HTML forms, no scripts.

use std::fmt::Write as _;

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use fapiao_domain::Fen;
use serde::Deserialize;

use crate::error::ControlError;
use crate::merchant::{AuthorizeRequest, PayRequest};
use crate::platform::ReimburseRequest;
use crate::push::PushRecord;
use crate::sandbox::Sandbox;
use crate::state::{BuyerTitle, OrderStatus, TitleKind, percent_encode};

pub(super) fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/sandbox", get(index))
        .route("/sandbox/", get(index))
        .route("/sandbox/auth", get(auth_page).post(auth_submit))
        .route("/sandbox/cards", get(cards_page))
        .route("/sandbox/reimburse", axum::routing::post(reimburse_submit))
        .route("/sandbox/pay", axum::routing::post(pay_submit))
        .route("/sandbox/pdf/{media}", get(pdf))
}

/// Escapes text for HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn yuan(fen: i64) -> String {
    format!("¥{}", Fen::new(fen).to_yuan_string())
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:52rem;margin:1.5rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .4rem;text-align:left;font-size:.9rem}\
.box{border:1px solid #ccc;border-radius:.5rem;padding:1rem;margin:1rem 0}.amount{font-size:1.8rem;font-weight:600}\
label{display:block;margin:.3rem 0}input[type=text]{width:20rem}button{margin:.4rem .4rem 0 0;padding:.4rem .9rem}\
.muted{color:#777;font-size:.85rem}.sandbox{background:#fff3cd;padding:.3rem .6rem;border-radius:.3rem;font-size:.85rem}";

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{title}</title>\
<style>{STYLE}</style></head><body><p class=\"sandbox\">fapiao Weixin sandbox — 非正式环境 · <a href=\"/sandbox\">overview</a></p>\
<h1>{title}</h1>{body}</body></html>",
        title = esc(title),
    ))
}

fn error_page(error: &ControlError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        page("Sorry", &format!("<p>{}</p>", esc(&error.message))),
    )
        .into_response()
}

fn status_text(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Pending => "awaiting the buyer",
        OrderStatus::Authorized => "authorized",
        OrderStatus::Failed => "authorization failed",
        OrderStatus::Rejected => "rejected by the merchant",
        OrderStatus::Inserted => "invoice delivered",
    }
}

fn push_summary(pushes: &[PushRecord]) -> String {
    let mut out = String::new();
    for push in pushes {
        let state = serde_json::to_value(push.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<li>push #{} <code>{}</code> to {}: {}{}</li>",
            push.id,
            esc(push.event),
            esc(&push.appid),
            esc(&state),
            push.note
                .as_deref()
                .map(|n| format!(" ({})", esc(n)))
                .unwrap_or_default()
        );
    }
    format!("<ul>{out}</ul>")
}

#[derive(Debug, Default, Deserialize)]
struct IndexQuery {
    s_pappid: Option<String>,
}

async fn index(
    State(sandbox): State<Sandbox>,
    query: Result<Query<IndexQuery>, QueryRejection>,
) -> Html<String> {
    let filter = query.ok().and_then(|Query(q)| q.s_pappid);
    let mut body = String::from(
        "<p>A local stand-in for Weixin's e-invoice APIs. Point a client's base URL here; \
         the buyer's side is below.</p><h2>Accounts</h2><table><tr><th>name</th><th>role</th>\
         <th>appid</th><th>callback</th><th>buyer</th></tr>",
    );
    for account in sandbox.accounts() {
        let role = serde_json::to_value(account.role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td>\
             <td><a href=\"/sandbox/cards?openid={}\">Cards &amp; Offers</a></td></tr>",
            esc(&account.name),
            esc(&role),
            esc(&account.appid),
            esc(account.callback_url.as_deref().unwrap_or("—")),
            percent_encode(&account.buyer_openid),
        );
    }
    body.push_str("</table><h2>Invoice requests</h2><table><tr><th>order</th><th>amount</th><th>source</th><th>status</th><th></th></tr>");
    for order in sandbox
        .orders()
        .into_iter()
        .filter(|o| filter.as_deref().is_none_or(|f| f == o.s_pappid))
    {
        let link = if matches!(order.status, OrderStatus::Pending | OrderStatus::Failed) {
            format!("<a href=\"{}\">open auth page</a>", esc(&order.auth_url))
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{link}</td></tr>",
            esc(&order.order_id),
            yuan(order.money),
            esc(&order.source),
            status_text(order.status),
        );
    }
    body.push_str(
        "</table><h2>Pay with WeChat Pay</h2><form method=\"post\" action=\"/sandbox/pay\">\
         <label>Amount (fen) <input type=\"text\" name=\"money\" value=\"3800\"></label>\
         <label><input type=\"checkbox\" name=\"receipt\" value=\"Y\" checked> show the invoice entry \
         on the receipt (<code>receipt=Y</code>; needs <code>set_pay_mch</code>)</label>\
         <button type=\"submit\">Pay</button></form>",
    );
    page("Weixin sandbox", &body)
}

#[derive(Debug, Default, Deserialize)]
struct AuthQuery {
    #[serde(default)]
    s_pappid: String,
    #[serde(default)]
    order_id: String,
    #[serde(default)]
    k: String,
}

async fn auth_page(
    State(sandbox): State<Sandbox>,
    query: Result<Query<AuthQuery>, QueryRejection>,
) -> Response {
    let Query(query) = query.unwrap_or_default();
    let now = sandbox.clock().now_secs();
    let found = sandbox.with_state(|state| {
        let order = state
            .order_for_page(&query.s_pappid, &query.order_id, &query.k, now)?
            .clone();
        let merchant = state
            .account_by_s_pappid(&order.s_pappid)
            .map(|a| a.config.name.clone())
            .unwrap_or_default();
        Ok::<_, ControlError>((order, merchant))
    });
    let (order, merchant) = match found {
        Ok(found) => found,
        Err(error) => return error_page(&error),
    };
    let status = order.status();
    if !matches!(status, OrderStatus::Pending | OrderStatus::Failed) {
        return page(
            "Invoice request",
            &format!(
                "<p>Order <code>{}</code> is {}.</p>",
                esc(&order.order_id),
                status_text(status)
            ),
        )
        .into_response();
    }
    let style = match order.page_type {
        0 => "申请开票 apply for an invoice",
        1 => "填写抬头并申请开票 fill in a title and apply",
        _ => "领取发票 receive an invoice",
    };
    let title_form = if order.page_type == 1 {
        "<div class=\"box\"><p><b>发票抬头 Invoice title</b></p>\
         <label><input type=\"radio\" name=\"kind\" value=\"personal\" checked> 个人 personal</label>\
         <label><input type=\"radio\" name=\"kind\" value=\"company\"> 单位 company</label>\
         <label>抬头 title <input type=\"text\" name=\"title\" value=\"张三\"></label>\
         <label>税号 tax number (company) <input type=\"text\" name=\"tax_no\" value=\"\"></label>\
         <label>地址 address (company) <input type=\"text\" name=\"addr\"></label>\
         <label>电话 phone <input type=\"text\" name=\"phone\"></label>\
         <label>开户行 bank (company) <input type=\"text\" name=\"bank_type\"></label>\
         <label>账号 account (company) <input type=\"text\" name=\"bank_no\"></label>\
         <label>邮箱 e-mail (personal) <input type=\"text\" name=\"email\"></label></div>"
    } else {
        ""
    };
    let body = format!(
        "<div class=\"box\"><p>{merchant}</p><p class=\"amount\">{amount}</p>\
         <p class=\"muted\">order <code>{order_id}</code> · {style} · source <code>{source}</code></p></div>\
         <form method=\"post\" action=\"/sandbox/auth\">\
         <input type=\"hidden\" name=\"s_pappid\" value=\"{s_pappid}\">\
         <input type=\"hidden\" name=\"order_id\" value=\"{order_id}\">\
         <input type=\"hidden\" name=\"k\" value=\"{k}\">{title_form}\
         <button type=\"submit\" name=\"action\" value=\"authorize\">授权 Authorize</button>\
         <button type=\"submit\" name=\"action\" value=\"fail\">授权失败 Fail</button></form>",
        merchant = esc(&merchant),
        amount = yuan(order.money),
        order_id = esc(&order.order_id),
        source = esc(&order.source),
        s_pappid = esc(&order.s_pappid),
        k = esc(&order.auth_key),
    );
    page("开具电子发票 Invoice authorization", &body).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct AuthForm {
    #[serde(default)]
    s_pappid: String,
    #[serde(default)]
    order_id: String,
    #[serde(default)]
    k: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    tax_no: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    addr: Option<String>,
    #[serde(default)]
    bank_type: Option<String>,
    #[serde(default)]
    bank_no: Option<String>,
}

async fn auth_submit(
    State(sandbox): State<Sandbox>,
    form: Result<Form<AuthForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(&ControlError::bad_request("the form could not be read"));
    };
    let now = sandbox.clock().now_secs();
    let checked = sandbox.with_state(|state| {
        state
            .order_for_page(&form.s_pappid, &form.order_id, &form.k, now)
            .map(|order| (order.page_type, order.redirect_url.clone()))
    });
    let (page_type, redirect_url) = match checked {
        Ok(found) => found,
        Err(error) => return error_page(&error),
    };
    let fail = form.action == "fail";
    let title = (page_type == 1 && !fail).then(|| BuyerTitle {
        kind: if form.kind.as_deref() == Some("company") {
            TitleKind::Company
        } else {
            TitleKind::Personal
        },
        title: form.title.clone().unwrap_or_default(),
        tax_no: form.tax_no.clone(),
        phone: form.phone.clone(),
        email: form.email.clone(),
        addr: form.addr.clone(),
        bank_type: form.bank_type.clone(),
        bank_no: form.bank_no.clone(),
    });
    let request = AuthorizeRequest {
        s_pappid: form.s_pappid.clone(),
        order_id: form.order_id.clone(),
        title,
        fail,
        openid: None,
        wait: false,
    };
    let outcome = match sandbox.authorize(request).await {
        Ok(outcome) => outcome,
        Err(error) => return error_page(&error),
    };
    let openid = outcome.order.openid.clone().unwrap_or_default();
    let mut body = format!(
        "<p>Order <code>{}</code>: {}.</p><p>The merchant is notified:</p>{}",
        esc(&outcome.order.order_id),
        status_text(outcome.order.status),
        push_summary(&outcome.pushes),
    );
    if !fail && let Some(url) = redirect_url {
        let _ = write!(
            body,
            "<p><a href=\"{}\">Back to the merchant</a></p>",
            esc(&url)
        );
    }
    let _ = write!(
        body,
        "<p><a href=\"/sandbox/cards?openid={}\">卡包 Cards &amp; Offers</a> — the invoice appears \
         there once the merchant has issued it.</p>",
        percent_encode(&openid)
    );
    page(
        if fail {
            "Authorization failed"
        } else {
            "Authorized"
        },
        &body,
    )
    .into_response()
}

#[derive(Debug, Default, Deserialize)]
struct CardsQuery {
    openid: Option<String>,
}

async fn cards_page(
    State(sandbox): State<Sandbox>,
    query: Result<Query<CardsQuery>, QueryRejection>,
) -> Html<String> {
    let openid = query
        .ok()
        .and_then(|Query(q)| q.openid)
        .filter(|o| !o.is_empty());
    let view = sandbox.cards(openid.as_deref());
    let mut body = format!(
        "<p class=\"muted\">buyer {}</p>",
        esc(openid.as_deref().unwrap_or("(all buyers)"))
    );
    if view.cards.is_empty() {
        body.push_str("<p>No invoice cards yet.</p>");
    }
    for card in &view.cards {
        let back = percent_encode(openid.as_deref().unwrap_or_default());
        let mut buttons = String::new();
        for (status, label) in [
            ("INVOICE_REIMBURSE_LOCK", "Lock"),
            ("INVOICE_REIMBURSE_INIT", "Unlock"),
            ("INVOICE_REIMBURSE_CLOSURE", "Close (reimbursed)"),
        ] {
            let _ = write!(
                buttons,
                "<button type=\"submit\" name=\"status\" value=\"{status}\">{label}</button>"
            );
        }
        let trip = card
            .trip_pdf_url
            .as_deref()
            .map(|url| format!(" · <a href=\"{}\">other voucher</a>", esc(url)))
            .unwrap_or_default();
        let _ = write!(
            body,
            "<div class=\"box\"><p><b>{payee}</b> · {kind}</p><p class=\"amount\">{amount}</p>\
             <p>抬头 {title} · 发票号码 <code>{no}</code>{code}</p>\
             <p class=\"muted\">status {status} · card <code>{card_id}</code> code <code>{card_code}</code></p>\
             <p><a href=\"{pdf}\">查看发票 PDF</a>{trip}</p>\
             <form method=\"post\" action=\"/sandbox/reimburse\">\
             <input type=\"hidden\" name=\"card_id\" value=\"{card_id}\">\
             <input type=\"hidden\" name=\"code\" value=\"{card_code}\">\
             <input type=\"hidden\" name=\"back\" value=\"{back}\">\
             <span class=\"muted\">reimburser:</span> {buttons}</form></div>",
            payee = esc(&card.payee),
            kind = esc(&card.invoice_type),
            amount = yuan(card.invoice.fee.unwrap_or_default()),
            title = esc(&card.invoice.title),
            no = esc(&card.invoice.billing_no),
            code = if card.invoice.billing_code.is_empty() {
                String::new()
            } else {
                format!(
                    " · 发票代码 <code>{}</code>",
                    esc(&card.invoice.billing_code)
                )
            },
            status = esc(&card.status),
            card_id = esc(&card.card_id),
            card_code = esc(&card.code),
            pdf = esc(&card.pdf_url),
        );
    }
    for notice in &view.notices {
        let _ = write!(
            body,
            "<div class=\"box\"><p>The merchant declined to invoice order <code>{}</code>: {}</p>{}</div>",
            esc(&notice.order_id),
            esc(&notice.reason),
            notice
                .url
                .as_deref()
                .map(|u| format!("<p><a href=\"{}\">next step</a></p>", esc(u)))
                .unwrap_or_default()
        );
    }
    page("卡包 Cards & Offers", &body)
}

#[derive(Debug, Default, Deserialize)]
struct ReimburseForm {
    #[serde(default)]
    card_id: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    back: String,
}

async fn reimburse_submit(
    State(sandbox): State<Sandbox>,
    form: Result<Form<ReimburseForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(&ControlError::bad_request("the form could not be read"));
    };
    let request = ReimburseRequest {
        card_id: form.card_id,
        code: form.code,
        status: form.status,
        wait: false,
    };
    match sandbox.reimburse(request).await {
        Ok(_) => Redirect::to(&format!(
            "/sandbox/cards?openid={}",
            percent_encode(&form.back)
        ))
        .into_response(),
        Err(error) => error_page(&error),
    }
}

#[derive(Debug, Default, Deserialize)]
struct PayForm {
    #[serde(default)]
    money: String,
    #[serde(default)]
    receipt: Option<String>,
}

async fn pay_submit(
    State(sandbox): State<Sandbox>,
    form: Result<Form<PayForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(&ControlError::bad_request("the form could not be read"));
    };
    let Ok(money) = form.money.trim().parse::<i64>() else {
        return error_page(&ControlError::bad_request(
            "the amount is a whole number of fen",
        ));
    };
    let request = PayRequest {
        money,
        receipt: Some(form.receipt.unwrap_or_else(|| "N".to_owned())),
        ..PayRequest::default()
    };
    match sandbox.pay(&request) {
        Ok(outcome) => {
            let mut body = format!(
                "<p>Paid {} — transaction <code>{}</code>.</p>",
                yuan(outcome.payment.money),
                esc(&outcome.payment.transaction_id)
            );
            match &outcome.order {
                Some(order) => {
                    let _ = write!(
                        body,
                        "<p>The receipt shows an invoice entry: <a href=\"{}\">开发票 request an invoice</a></p>",
                        esc(&order.auth_url)
                    );
                }
                None => body.push_str("<p>No invoice entry (receipt≠Y).</p>"),
            }
            page("支付成功 Payment done", &body).into_response()
        }
        Err(error) => error_page(&error),
    }
}

async fn pdf(State(sandbox): State<Sandbox>, Path(media): Path<String>) -> Response {
    let now = sandbox.clock().now_secs();
    match sandbox.with_state(|state| state.pdf_bytes(&media, now)) {
        Some(bytes) => (
            [
                (header::CONTENT_TYPE, "application/pdf"),
                (
                    header::CONTENT_DISPOSITION,
                    "inline; filename=\"invoice.pdf\"",
                ),
            ],
            bytes.to_vec(),
        )
            .into_response(),
        None => error_page(&ControlError::not_found("no such PDF (or it has expired)")),
    }
}
