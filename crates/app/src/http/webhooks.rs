//! `GET /v1/webhooks/deliveries` (the delivery log, newest first) and
//! `POST /v1/webhooks/deliveries/{id}/redeliver` (send one again now).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use fapiao_domain::ports::{DeliveryFilter, DeliveryRecord, DeliveryStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{ApiPath, ApiQuery};
use super::{AppState, Error};
use crate::AppError;
use crate::service::{WebhookService, event_id};

/// The most deliveries one page holds (the page asks storage for one more).
const MAX_LIMIT: u32 = 200;

#[derive(Debug, Deserialize)]
pub(super) struct DeliveryQuery {
    endpoint: Option<String>,
    order_id: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn delivery_id(field: &str, raw: &str) -> Result<i64, Error> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        Error::bad_request(
            field,
            format!("{raw:?} is not a delivery id (a positive integer)"),
        )
    })
}

fn service(state: &AppState) -> Result<&WebhookService, Error> {
    state.webhooks().ok_or_else(|| {
        Error::App(AppError::NotFound(
            "webhooks: no endpoint is configured ([[webhooks]] in the configuration)".to_owned(),
        ))
    })
}

pub(super) async fn deliveries(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
) -> Result<Response, Error> {
    let webhooks = service(&state)?;
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_LIMIT);
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            DeliveryStatus::parse(s).ok_or_else(|| {
                Error::bad_request(
                    "status",
                    format!("{s:?} is not pending, delivered or failed"),
                )
            })
        })
        .transpose()?;
    let order = match query.order_id.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(id) => Some(
            state
                .invoices()
                .order(&super::order_id(id)?)
                .await?
                .key()
                .clone(),
        ),
    };
    let before_id = query
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| delivery_id("cursor", c))
        .transpose()?;
    let mut records = webhooks
        .deliveries(&DeliveryFilter {
            endpoint: query.endpoint.filter(|e| !e.is_empty()),
            order,
            status,
            before_id,
            limit: limit.saturating_add(1),
        })
        .await?;
    let more = records.len() > limit as usize;
    records.truncate(limit as usize);
    let next = match records.last() {
        Some(last) if more => Value::String(last.id.to_string()),
        _ => Value::Null,
    };
    let views: Vec<Value> = records.iter().map(delivery_view).collect();
    Ok(axum::Json(json!({ "deliveries": views, "next_cursor": next })).into_response())
}

pub(super) async fn redeliver(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Error> {
    let webhooks = service(&state)?;
    let id = delivery_id("delivery_id", &id)?;
    webhooks.redeliver(id).await?;
    Ok(axum::Json(json!({ "id": id, "status": "pending" })).into_response())
}

/// A delivery as the log shows it.
pub fn delivery_view(record: &DeliveryRecord) -> Value {
    json!({
        "id": record.id,
        "endpoint": record.endpoint,
        "event_id": event_id(record.event_id),
        "event_type": record.event_type.code(),
        "s_pappid": record.key.s_pappid.as_str(),
        "order_id": record.key.order_id.as_str(),
        "sequence": record.sequence,
        "status": record.status.code(),
        "attempts": record.attempts,
        "next_attempt_at": record.next_attempt_at.map(|t| t.to_string()),
        "last_status": record.last_status,
        "last_error": record.last_error,
        "delivered_at": record.delivered_at.map(|t| t.to_string()),
        "created_at": record.created_at.to_string(),
    })
}
