//! `GET /v1/events/unmatched` and `POST /v1/events/{event_id}/replay`: the Weixin pushes the
//! inbox set aside without applying them (no order matched, or they did not apply), and
//! handling one again, e.g. once its order is registered.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use fapiao_domain::ports::SetAsideEvent;
use fapiao_domain::weixin::{AuthOutcome, WeixinEvent};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{ApiPath, ApiQuery};
use super::{AppState, Error};
use crate::service::EventOutcome;

/// The most events one page holds (the page asks storage for one more).
const MAX_LIMIT: u32 = 200;

#[derive(Debug, Deserialize)]
pub(super) struct UnmatchedQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// A positive event id, from the path or a cursor.
fn event_id(field: &str, raw: &str) -> Result<i64, Error> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        Error::bad_request(
            field,
            format!("{raw:?} is not an event id (a positive integer)"),
        )
    })
}

pub(super) async fn unmatched(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<UnmatchedQuery>,
) -> Result<Response, Error> {
    let limit = query.limit.unwrap_or(50).clamp(1, MAX_LIMIT);
    // The cursor is the id of the last event of the previous page.
    let after = query
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| event_id("cursor", c))
        .transpose()?;
    // One more than asked tells whether a next page exists.
    let mut events = state
        .invoices()
        .unmatched_events(after, limit.saturating_add(1))
        .await?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next = match events.last() {
        Some(last) if more => Value::String(last.item.id.to_string()),
        _ => Value::Null,
    };
    let views: Vec<Value> = events.iter().map(event_view).collect();
    Ok(axum::Json(json!({ "events": views, "next_cursor": next })).into_response())
}

pub(super) async fn replay(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Error> {
    let id = event_id("event_id", &id)?;
    let outcome = state.invoices().replay_event(id).await?;
    let (code, order_id, note) = match &outcome {
        EventOutcome::Applied(key) => ("applied", Some(key.order_id.to_string()), None),
        EventOutcome::NoChange(key) => ("no_change", Some(key.order_id.to_string()), None),
        EventOutcome::Unmatched(note) | EventOutcome::Early(note) => {
            ("unmatched", None, Some(note.clone()))
        }
        EventOutcome::Ignored(note) => ("ignored", None, Some(note.clone())),
    };
    if matches!(outcome, EventOutcome::Applied(_)) {
        // The order moved: its next step may be due now.
        state.0.work.notify_one();
    }
    Ok(axum::Json(json!({
        "id": id,
        "outcome": code,
        "order_id": order_id,
        "note": note,
    }))
    .into_response())
}

/// A set-aside push as operators see it: what it is about and why it was not applied.
pub(crate) fn event_view(event: &SetAsideEvent) -> Value {
    let item = &event.item;
    let mut view = json!({
        "id": item.id,
        "received_at": item.received_at.to_string(),
        "attempts": item.attempts,
        "note": event.note,
    });
    match &item.event {
        WeixinEvent::Authorization(auth) => {
            let (succeeded, order_id) = match &auth.outcome {
                AuthOutcome::Succeeded(id) => (true, id),
                AuthOutcome::Failed(id) => (false, id),
            };
            view["kind"] = json!("authorization");
            view["order_id"] = json!(order_id.as_str());
            view["authorized"] = json!(succeeded);
            view["created_at"] = json!(auth.create_time.to_string());
        }
        WeixinEvent::InvoiceStatus(status) => {
            view["kind"] = json!("invoice_status");
            view["card_id"] = json!(status.card_id.as_str());
            view["code"] = json!(status.code.as_str());
            view["status"] = json!(status.status.to_string());
            view["created_at"] = json!(status.create_time.to_string());
        }
        WeixinEvent::Other {
            msg_type,
            event,
            create_time,
            ..
        } => {
            view["kind"] = json!("other");
            view["msg_type"] = json!(msg_type);
            view["event"] = json!(event);
            view["created_at"] = json!(create_time.to_string());
        }
    }
    view
}
