//! `/console/setup`: each setup step with its state (what `doctor` finds at Weixin and what
//! setup recorded) and a button to run it again.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::html::{self, csrf_field, esc};
use super::i18n::{Lang, Msg};
use super::session::SignedIn;
use super::{Nav, app_error};
use crate::error::AppError;
use crate::http::AppState;
use crate::service::SetupReport;

/// `GET /console/setup`.
pub async fn page(
    State(state): State<AppState>,
    lang: Lang,
    Extension(session): Extension<SignedIn>,
) -> Response {
    match body(&state, lang, &session, None).await {
        Ok(body) => respond(lang, &session, &body),
        Err(e) => app_error(lang, e),
    }
}

/// `POST /console/setup` (CSRF-checked by the session layer): runs setup again, in Weixin's
/// order, and shows what each step did beside the steps' state.
pub async fn rerun(
    State(state): State<AppState>,
    lang: Lang,
    Extension(session): Extension<SignedIn>,
) -> Response {
    let ran = state.setup().run().await;
    tracing::info!(
        ok = ran.is_ok(),
        operator = session.operator(),
        "setup run from the console"
    );
    let report = match ran {
        Ok(report) => report,
        Err(e) => return app_error(lang, e),
    };
    match body(&state, lang, &session, Some(&report)).await {
        Ok(body) => respond(lang, &session, &body),
        Err(e) => app_error(lang, e),
    }
}

fn respond(lang: Lang, session: &SignedIn, body: &str) -> Response {
    html::respond(
        StatusCode::OK,
        html::layout(
            lang,
            Some(session),
            Some(Nav::Setup),
            lang.t(Msg::NavSetup),
            body,
        ),
    )
}

async fn body(
    state: &AppState,
    lang: Lang,
    session: &SignedIn,
    ran: Option<&SetupReport>,
) -> Result<String, AppError> {
    let mut out = String::new();
    if let Some(report) = ran {
        out.push_str(&format!(
            r#"<div class="notice" id="setup-ran"><strong>{}</strong><ul>"#,
            lang.t(Msg::SetupRan)
        ));
        for step in &report.steps {
            out.push_str(&format!(
                "<li>{} — {} ({})</li>",
                esc(&step.name),
                esc(&step.detail),
                if step.changed {
                    lang.t(Msg::Changed)
                } else {
                    lang.t(Msg::Unchanged)
                }
            ));
        }
        out.push_str("</ul></div>");
    }
    out.push_str(&format!(
        r#"<p class="muted">{}</p><h2>{}</h2>"#,
        lang.t(Msg::RerunHint),
        lang.t(Msg::SetupSteps)
    ));
    let report = state.setup().doctor().await?;
    let button = format!(
        r#"<form method="post" action="/console/setup">{}<button type="submit" class="rerun">{}</button></form>"#,
        csrf_field(session),
        lang.t(Msg::Rerun)
    );
    let rows: Vec<Vec<String>> = report
        .checks
        .iter()
        .map(|check| {
            vec![
                esc(&check.name),
                if check.ok {
                    format!(r#"<span class="ok">{}</span>"#, lang.t(Msg::Ok))
                } else {
                    format!(r#"<span class="bad">{}</span>"#, lang.t(Msg::Problem))
                },
                esc(&check.detail),
                button.clone(),
            ]
        })
        .collect();
    out.push_str(&html::table(
        &[
            lang.t(Msg::Step),
            lang.t(Msg::Status),
            lang.t(Msg::Detail),
            lang.t(Msg::Actions),
        ],
        &rows,
    ));
    Ok(out)
}
