//! `/console/webhooks`: the webhook delivery log (filtered by endpoint, status and order,
//! newest first) with a confirmed redelivery of any delivery.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use fapiao_domain::OrderId;
use fapiao_domain::ports::{DeliveryFilter, DeliveryStatus};

use super::html::{self, csrf_field, esc, url_value};
use super::i18n::{Lang, Msg};
use super::session::SignedIn;
use super::{Nav, app_error, when};
use crate::error::AppError;
use crate::http::AppState;
use crate::service::{WebhookService, event_id};

/// Deliveries per page.
const PAGE: u32 = 100;

fn delivery_id(raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AppError::invalid("delivery_id", "a positive integer"))
}

fn service(state: &AppState) -> Result<&WebhookService, AppError> {
    state.webhooks().ok_or_else(|| {
        AppError::NotFound(
            "webhooks: no endpoint is configured ([[webhooks]] in the configuration)".to_owned(),
        )
    })
}

fn status_label(status: DeliveryStatus, lang: Lang) -> &'static str {
    lang.t(match status {
        DeliveryStatus::Pending => Msg::DeliveryPending,
        DeliveryStatus::Delivered => Msg::DeliveryDelivered,
        DeliveryStatus::Failed => Msg::DeliveryFailed,
    })
}

/// The filters as the form sends them (empty fields are no filter).
#[derive(Debug, Default)]
struct Query {
    endpoint: String,
    status: String,
    order_id: String,
    before: Option<i64>,
    redelivered: Option<i64>,
}

impl Query {
    fn parse(raw: Option<&str>) -> Query {
        let mut query = Query::default();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match &*key {
                "endpoint" => query.endpoint = value.trim().to_owned(),
                "status" => query.status = value.trim().to_owned(),
                "order_id" => query.order_id = value.trim().to_owned(),
                "before" => query.before = value.parse().ok(),
                "redelivered" => query.redelivered = value.parse().ok(),
                _ => {}
            }
        }
        query
    }

    /// The query string of this filter (for the next page's link).
    fn filters(&self) -> String {
        format!(
            "endpoint={}&status={}&order_id={}",
            url_value(&self.endpoint),
            url_value(&self.status),
            url_value(&self.order_id)
        )
    }
}

/// `GET /console/webhooks`.
pub async fn page(
    State(state): State<AppState>,
    lang: Lang,
    Extension(session): Extension<SignedIn>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    match body(&state, lang, &query).await {
        Ok(body) => html::respond(
            StatusCode::OK,
            html::layout(
                lang,
                Some(&session),
                Some(Nav::Webhooks),
                lang.t(Msg::NavWebhooks),
                &body,
            ),
        ),
        Err(e) => app_error(lang, e),
    }
}

async fn body(state: &AppState, lang: Lang, query: &Query) -> Result<String, AppError> {
    let Some(webhooks) = state.webhooks() else {
        return Ok(format!(
            r#"<p class="muted">{}</p>"#,
            lang.t(Msg::NoWebhooks)
        ));
    };
    let mut out = String::new();
    if let Some(id) = query.redelivered {
        out.push_str(&format!(
            r#"<p class="notice">{} #{id}</p>"#,
            lang.t(Msg::Redelivered)
        ));
    }
    let counts = webhooks.counts().await?;
    let endpoints: Vec<Vec<String>> = webhooks
        .endpoints()
        .iter()
        .map(|e| vec![esc(&e.name), esc(&e.url)])
        .collect();
    out.push_str(&html::table(&[lang.t(Msg::Endpoint), "URL"], &endpoints));
    out.push_str(&html::fields(
        &[
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
        ]
        .map(|status| {
            let n = counts
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| *n);
            (status_label(status, lang), n.to_string())
        }),
    ));

    let status = match query.status.as_str() {
        "" => None,
        other => Some(
            DeliveryStatus::parse(other)
                .ok_or_else(|| AppError::invalid("status", "pending, delivered or failed"))?,
        ),
    };
    let order = match query.order_id.as_str() {
        "" => None,
        id => {
            let id = OrderId::parse(id).map_err(|e| AppError::invalid("order_id", e.rule))?;
            Some(state.invoices().order(&id).await?.key().clone())
        }
    };
    let records = webhooks
        .deliveries(&DeliveryFilter {
            endpoint: (!query.endpoint.is_empty()).then(|| query.endpoint.clone()),
            order,
            status,
            before_id: query.before,
            limit: PAGE,
        })
        .await?;

    let any = lang.t(Msg::Any);
    let endpoint_options: Vec<(String, String)> = webhooks
        .endpoints()
        .iter()
        .map(|e| (e.name.clone(), e.name.clone()))
        .collect();
    let status_options: Vec<(String, String)> = [
        DeliveryStatus::Pending,
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
    ]
    .iter()
    .map(|s| (s.code().to_owned(), status_label(*s, lang).to_owned()))
    .collect();
    out.push_str(r#"<form method="get" action="/console/webhooks" class="filters">"#);
    out.push_str(&super::orders::select(
        "endpoint",
        lang.t(Msg::Endpoint),
        any,
        &query.endpoint,
        &endpoint_options,
    ));
    out.push_str(&super::orders::select(
        "status",
        lang.t(Msg::Status),
        any,
        &query.status,
        &status_options,
    ));
    out.push_str(&format!(
        r#"<label>{}<input type="search" name="order_id" value="{}" size="24"></label><button type="submit">{}</button></form>"#,
        lang.t(Msg::OrderId),
        esc(&query.order_id),
        lang.t(Msg::Apply),
    ));

    if records.is_empty() {
        out.push_str(&format!(
            r#"<p class="muted">{}</p>"#,
            lang.t(Msg::NoDeliveries)
        ));
        return Ok(out);
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|d| {
            let order = d.key.order_id.as_str();
            vec![
                d.id.to_string(),
                esc(&d.endpoint),
                format!(
                    "{}<br><code>{}</code>",
                    esc(d.event_type.code()),
                    esc(&event_id(d.event_id))
                ),
                format!(
                    r#"<a href="/console/orders/{}">{}</a> · {}"#,
                    url_value(order),
                    esc(order),
                    d.sequence
                ),
                format!(
                    r#"<span class="delivery-{}">{}</span>"#,
                    d.status.code(),
                    status_label(d.status, lang)
                ),
                d.attempts.to_string(),
                d.last_status.map_or_else(String::new, |s| s.to_string()),
                esc(d.last_error.as_deref().unwrap_or_default()),
                match (d.delivered_at, d.next_attempt_at) {
                    (Some(at), _) | (None, Some(at)) => when(at),
                    (None, None) => String::new(),
                },
                format!(
                    r#"<a class="button" href="/console/webhooks/{}/redeliver">{}</a>"#,
                    d.id,
                    lang.t(Msg::Redeliver)
                ),
            ]
        })
        .collect();
    out.push_str(&html::table(
        &[
            "#",
            lang.t(Msg::Endpoint),
            lang.t(Msg::Event),
            lang.t(Msg::Order),
            lang.t(Msg::Status),
            lang.t(Msg::DeliveryAttempts),
            "HTTP",
            lang.t(Msg::LastError),
            lang.t(Msg::DeliveryWhen),
            lang.t(Msg::Actions),
        ],
        &rows,
    ));
    if records.len() >= PAGE as usize
        && let Some(last) = records.last()
    {
        out.push_str(&format!(
            r#"<div class="pager"><a href="/console/webhooks?{}&before={}">{}</a></div>"#,
            query.filters(),
            last.id,
            lang.t(Msg::NextPage)
        ));
    }
    Ok(out)
}

/// `GET /console/webhooks/{id}/redeliver`: the confirming form.
pub async fn confirm(
    State(state): State<AppState>,
    lang: Lang,
    Extension(session): Extension<SignedIn>,
    Path(raw): Path<String>,
) -> Response {
    let id = match service(&state).and_then(|_| delivery_id(&raw)) {
        Ok(id) => id,
        Err(e) => return app_error(lang, e),
    };
    let body = format!(
        r#"<p>{explain}</p><form method="post" action="/console/webhooks/{id}/redeliver" class="stack">{csrf}
<div class="actions"><button type="submit" id="confirm">{confirm}</button><a class="button secondary" href="/console/webhooks">{back}</a></div></form>"#,
        explain = lang.t(Msg::ConfirmRedeliver),
        csrf = csrf_field(&session),
        confirm = lang.t(Msg::Confirm),
        back = lang.t(Msg::Back),
    );
    let title = format!("{} #{id}", lang.t(Msg::Redeliver));
    html::respond(
        StatusCode::OK,
        html::layout(lang, Some(&session), Some(Nav::Webhooks), &title, &body),
    )
}

/// `POST /console/webhooks/{id}/redeliver` (CSRF-checked by the session layer).
pub async fn redeliver(
    State(state): State<AppState>,
    lang: Lang,
    Extension(session): Extension<SignedIn>,
    Path(raw): Path<String>,
) -> Response {
    let done = async {
        let webhooks = service(&state)?;
        let id = delivery_id(&raw)?;
        tracing::info!(
            delivery = id,
            operator = session.operator(),
            "console redelivery"
        );
        webhooks.redeliver(id).await?;
        Ok::<i64, AppError>(id)
    };
    match done.await {
        Ok(id) => axum::response::IntoResponse::into_response(axum::response::Redirect::to(
            &format!("/console/webhooks?redelivered={id}"),
        )),
        Err(e) => app_error(lang, e),
    }
}
