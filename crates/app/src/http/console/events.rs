//! `/console/events`: the pushes set aside without being applied (no order matched them, or
//! they did not apply), each with a confirmed replay.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::html::{self, csrf_field, esc};
use super::i18n::{Lang, Msg};
use super::session::SignedIn;
use super::{Nav, app_error};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::events::event_view;
use crate::service::EventOutcome;

/// Pushes per page.
const PAGE: u32 = 100;

fn event_id(raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AppError::invalid("event_id", "a positive integer"))
}

/// What a push is about, from the merchant API's view of it.
fn subject(view: &Value, lang: Lang) -> String {
    let text = |key: &str| view[key].as_str().unwrap_or_default().to_owned();
    match view["kind"].as_str() {
        Some("authorization") => format!(
            "{} · {} {} · {}",
            lang.t(Msg::EventAuthorization),
            lang.t(Msg::OrderId),
            text("order_id"),
            if view["authorized"] == true {
                lang.t(Msg::EventAuthorized)
            } else {
                lang.t(Msg::EventAuthFailed)
            }
        ),
        Some("invoice_status") => format!(
            "{} · {} {} / {} · {}",
            lang.t(Msg::EventInvoiceStatus),
            lang.t(Msg::CardTemplate),
            text("card_id"),
            text("code"),
            text("status")
        ),
        _ => format!(
            "{} · {} / {}",
            lang.t(Msg::EventOther),
            text("msg_type"),
            text("event")
        ),
    }
}

/// `GET /console/events`; `?after=<id>` pages on; `?replayed=<id>&outcome=<…>` tells how a
/// replay went.
pub async fn page(
    State(state): State<AppState>,
    lang: Lang,
    Extension(session): Extension<SignedIn>,
    RawQuery(query): RawQuery,
) -> Response {
    let mut after = None;
    let mut replayed = None;
    for (key, value) in form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes()) {
        match &*key {
            "after" => after = value.parse::<i64>().ok(),
            "outcome" => replayed = Some(value.into_owned()),
            _ => {}
        }
    }
    let events = match state.invoices().unmatched_events(after, PAGE).await {
        Ok(events) => events,
        Err(e) => return app_error(lang, e),
    };
    let mut body = String::new();
    if let Some(outcome) = replayed {
        body.push_str(&format!(
            r#"<p class="notice">{}{}</p>"#,
            lang.t(Msg::Replayed),
            esc(&outcome)
        ));
    }
    if events.is_empty() {
        body.push_str(&format!(
            r#"<p class="muted">{}</p>"#,
            lang.t(Msg::NoUnmatched)
        ));
    } else {
        let rows: Vec<Vec<String>> = events
            .iter()
            .map(|event| {
                let view = event_view(event);
                vec![
                    event.item.id.to_string(),
                    super::when(event.item.received_at),
                    esc(&subject(&view, lang)),
                    esc(&event.note),
                    format!(
                        r#"<a class="button" href="/console/events/{}/replay">{}</a>"#,
                        event.item.id,
                        lang.t(Msg::Replay)
                    ),
                ]
            })
            .collect();
        body.push_str(&html::table(
            &[
                lang.t(Msg::EventId),
                lang.t(Msg::Received),
                lang.t(Msg::Event),
                lang.t(Msg::Note),
                lang.t(Msg::Actions),
            ],
            &rows,
        ));
        if events.len() >= PAGE as usize
            && let Some(last) = events.last()
        {
            body.push_str(&format!(
                r#"<div class="pager"><a href="/console/events?after={}">{}</a></div>"#,
                last.item.id,
                lang.t(Msg::NextPage)
            ));
        }
    }
    html::respond(
        StatusCode::OK,
        html::layout(
            lang,
            Some(&session),
            Some(Nav::Events),
            lang.t(Msg::NavEvents),
            &body,
        ),
    )
}

/// `GET /console/events/{id}/replay`: the confirming form.
pub async fn confirm(
    lang: Lang,
    Extension(session): Extension<SignedIn>,
    Path(raw): Path<String>,
) -> Response {
    let id = match event_id(&raw) {
        Ok(id) => id,
        Err(e) => return app_error(lang, e),
    };
    let body = format!(
        r#"<p>{explain}</p><form method="post" action="/console/events/{id}/replay" class="stack">{csrf}
<div class="actions"><button type="submit" id="confirm">{confirm}</button><a class="button secondary" href="/console/events">{back}</a></div></form>"#,
        explain = lang.t(Msg::ConfirmReplay),
        csrf = csrf_field(&session),
        confirm = lang.t(Msg::Confirm),
        back = lang.t(Msg::Back),
    );
    let title = format!("{} #{id}", lang.t(Msg::Replay));
    html::respond(
        StatusCode::OK,
        html::layout(lang, Some(&session), Some(Nav::Events), &title, &body),
    )
}

/// `POST /console/events/{id}/replay` (CSRF-checked by the session layer).
pub async fn replay(
    State(state): State<AppState>,
    lang: Lang,
    Extension(session): Extension<SignedIn>,
    Path(raw): Path<String>,
) -> Response {
    let outcome = async {
        let id = event_id(&raw)?;
        tracing::info!(event = id, operator = session.operator(), "console replay");
        state.invoices().replay_event(id).await
    };
    match outcome.await {
        Ok(outcome) => {
            let text = match &outcome {
                EventOutcome::Applied(key) => {
                    format!("{} {}", lang.t(Msg::ReplayApplied), key.order_id)
                }
                EventOutcome::NoChange(key) => {
                    format!("{} {}", lang.t(Msg::ReplayNoChange), key.order_id)
                }
                EventOutcome::Unmatched(note)
                | EventOutcome::Early(note)
                | EventOutcome::Ignored(note) => {
                    format!("{}: {note}", lang.t(Msg::ReplayStillSetAside))
                }
            };
            if matches!(outcome, EventOutcome::Applied(_)) {
                state.wake_runner();
            }
            let location = format!("/console/events?outcome={}", super::html::url_value(&text));
            axum::response::IntoResponse::into_response(axum::response::Redirect::to(&location))
        }
        Err(e) => app_error(lang, e),
    }
}
