//! The JSON control API under `/sandbox/control`: what tests and other SDKs use to drive the
//! simulated buyer, reimburser and WeChat Pay, read what happened, and inject faults.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ControlError;
use crate::merchant::{AuthorizeRequest, PayRequest};
use crate::platform::ReimburseRequest;
use crate::sandbox::{AccountUpdate, FaultUpdate, Sandbox};

pub(super) fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/sandbox/control/accounts", get(accounts))
        .route("/sandbox/control/accounts/{appid}", post(update_account))
        .route("/sandbox/control/authorize", post(authorize))
        .route("/sandbox/control/pay", post(pay))
        .route("/sandbox/control/reimburse", post(reimburse))
        .route("/sandbox/control/cards", get(cards))
        .route("/sandbox/control/orders", get(orders))
        .route("/sandbox/control/pushes", get(pushes))
        .route("/sandbox/control/faults", get(faults).post(set_faults))
        .route("/sandbox/control/clock", get(clock).post(advance_clock))
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ControlError> {
    let body = if body.trim_ascii().is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| ControlError::bad_request(format!("body: {e}")))
}

fn answer<T: serde::Serialize>(result: Result<T, ControlError>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn accounts(State(sandbox): State<Sandbox>) -> Response {
    Json(sandbox.accounts()).into_response()
}

async fn update_account(
    State(sandbox): State<Sandbox>,
    Path(appid): Path<String>,
    body: Bytes,
) -> Response {
    answer(parse::<AccountUpdate>(&body).and_then(|update| sandbox.update_account(&appid, update)))
}

async fn authorize(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    match parse::<AuthorizeRequest>(&body) {
        Ok(request) => answer(sandbox.authorize(request).await),
        Err(error) => error.into_response(),
    }
}

async fn pay(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    answer(parse::<PayRequest>(&body).and_then(|request| sandbox.pay(&request)))
}

async fn reimburse(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    match parse::<ReimburseRequest>(&body) {
        Ok(request) => answer(sandbox.reimburse(request).await),
        Err(error) => error.into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
struct OpenIdQuery {
    openid: Option<String>,
}

async fn cards(
    State(sandbox): State<Sandbox>,
    query: Result<Query<OpenIdQuery>, QueryRejection>,
) -> Response {
    let openid = query
        .ok()
        .and_then(|Query(q)| q.openid)
        .filter(|o| !o.is_empty());
    Json(sandbox.cards(openid.as_deref())).into_response()
}

async fn orders(State(sandbox): State<Sandbox>) -> Response {
    Json(sandbox.orders()).into_response()
}

async fn pushes(State(sandbox): State<Sandbox>) -> Response {
    Json(sandbox.pushes()).into_response()
}

async fn faults(State(sandbox): State<Sandbox>) -> Response {
    Json(sandbox.faults()).into_response()
}

async fn set_faults(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    answer(parse::<FaultUpdate>(&body).and_then(|update| sandbox.set_faults(update)))
}

async fn clock(State(sandbox): State<Sandbox>) -> Response {
    Json(sandbox.clock_view()).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceClock {
    advance_secs: i64,
}

async fn advance_clock(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    answer(parse::<AdvanceClock>(&body).map(|request| sandbox.advance_clock(request.advance_secs)))
}
