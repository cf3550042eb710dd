//! The operator's actions on an order, each confirmed on a page of its own before the POST
//! (with the session's CSRF token) runs it: retry, reject (reason), reverse (reason), re-send
//! the card status.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use fapiao_domain::invoice::RedReason;
use fapiao_domain::order::{Command, Order, OrderState};
use fapiao_domain::weixin::ReimburseStatus;

use super::html::{self, csrf_field, esc, url_value};
use super::i18n::{Lang, Msg};
use super::order::order_id;
use super::session::SignedIn;
use super::{Nav, app_error};
use crate::error::AppError;
use crate::http::{AppState, dto};

/// An action on an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Resume from needs-attention.
    Retry,
    /// Refuse to invoice, telling the buyer why.
    Reject,
    /// Reverse with a red invoice.
    Reverse,
    /// Set the card's status at Weixin again.
    CardStatus,
}

const REASONS: [(RedReason, &str); 4] = [
    (RedReason::InvoicingError, "invoicing_error"),
    (RedReason::SalesReturn, "sales_return"),
    (RedReason::ServiceTermination, "service_termination"),
    (RedReason::SalesAllowance, "sales_allowance"),
];

impl Action {
    /// Every action, in the order the buttons show.
    pub const ALL: [Action; 4] = [
        Action::Retry,
        Action::Reject,
        Action::Reverse,
        Action::CardStatus,
    ];

    /// The path segment.
    pub fn code(self) -> &'static str {
        match self {
            Action::Retry => "retry",
            Action::Reject => "reject",
            Action::Reverse => "reverse",
            Action::CardStatus => "card-status",
        }
    }

    /// The action of a path segment.
    pub fn parse(code: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.code() == code)
    }

    /// The button's label.
    pub fn label(self) -> Msg {
        match self {
            Action::Retry => Msg::Retry,
            Action::Reject => Msg::Reject,
            Action::Reverse => Msg::Reverse,
            Action::CardStatus => Msg::ResendCardStatus,
        }
    }

    fn explanation(self) -> Msg {
        match self {
            Action::Retry => Msg::ConfirmRetry,
            Action::Reject => Msg::ConfirmReject,
            Action::Reverse => Msg::ConfirmReverse,
            Action::CardStatus => Msg::ConfirmResend,
        }
    }

    /// Whether the order's page offers it (the service still decides when it runs).
    pub fn offered(self, order: &Order) -> bool {
        let state = order.state();
        match self {
            Action::Retry => state == OrderState::NeedsAttention,
            Action::Reject => !order.may_have_invoice() && !state.is_terminal(),
            Action::Reverse => {
                order.invoice().is_some()
                    && matches!(state, OrderState::Delivered | OrderState::NeedsAttention)
                    && order.reversal().is_none()
            }
            Action::CardStatus => order.accepts(&Command::UpdateCardStatus {
                status: ReimburseStatus::Cancel,
            }),
        }
    }
}

fn parse_action(raw: &str) -> Result<Action, AppError> {
    Action::parse(raw).ok_or_else(|| AppError::NotFound(format!("no action {raw:?}")))
}

/// `GET /console/orders/{order_id}/{action}`: what the action does, its reason field, and the
/// confirming form.
pub async fn confirm(
    State(state): State<AppState>,
    lang: Lang,
    Extension(session): Extension<SignedIn>,
    Path((raw_id, raw_action)): Path<(String, String)>,
) -> Response {
    let loaded = async {
        let action = parse_action(&raw_action)?;
        let order = state.invoices().order(&order_id(&raw_id)?).await?;
        Ok::<_, AppError>((action, order))
    };
    let (action, order) = match loaded.await {
        Ok(found) => found,
        Err(e) => return app_error(lang, e),
    };
    let id = order.key().order_id.as_str();
    let reason = match action {
        Action::Reject => format!(
            r#"<label>{}<input type="text" name="reason" maxlength="{}" required></label>"#,
            lang.t(Msg::Reason),
            dto::MAX_REJECT_REASON_CHARS
        ),
        Action::Reverse => {
            let options: String = REASONS
                .iter()
                .map(|(reason, code)| {
                    format!(
                        r#"<option value="{code}">{} ({code})</option>"#,
                        reason.label()
                    )
                })
                .collect();
            format!(
                r#"<label>{}<select name="reason">{options}</select></label>"#,
                lang.t(Msg::Reason)
            )
        }
        Action::Retry | Action::CardStatus => String::new(),
    };
    let body = format!(
        r#"<p>{explain}</p>
<form method="post" action="/console/orders/{path_id}/{code}" class="stack">{csrf}{reason}
<div class="actions"><button type="submit" id="confirm">{confirm}</button><a class="button secondary" href="/console/orders/{path_id}">{back}</a></div>
</form>"#,
        explain = lang.t(action.explanation()),
        path_id = url_value(id),
        code = action.code(),
        csrf = csrf_field(&session),
        confirm = lang.t(Msg::Confirm),
        back = lang.t(Msg::Back),
    );
    let title = format!("{} · {}", lang.t(action.label()), esc(id));
    html::respond(
        StatusCode::OK,
        html::layout(lang, Some(&session), Some(Nav::Orders), &title, &body),
    )
}

/// `POST /console/orders/{order_id}/{action}` (CSRF-checked by the session layer): runs the
/// action, then back to the order's page.
pub async fn run(
    State(state): State<AppState>,
    lang: Lang,
    Extension(session): Extension<SignedIn>,
    Path((raw_id, raw_action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let reason = form_urlencoded::parse(&body)
        .find(|(key, _)| key == "reason")
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    let outcome = async {
        let action = parse_action(&raw_action)?;
        let id = order_id(&raw_id)?;
        let invoices = state.invoices();
        match action {
            Action::Retry => invoices.retry(&id).await?,
            Action::Reject => {
                let request = dto::RejectDto { reason, url: None };
                request.validate(state.http_links())?;
                invoices.reject(&id, &request.reason, None).await?
            }
            Action::Reverse => {
                let reason = REASONS
                    .iter()
                    .find(|(_, code)| *code == reason)
                    .map(|(r, _)| *r)
                    .ok_or_else(|| {
                        AppError::invalid("reason", format!("unknown reason {reason:?}"))
                    })?;
                invoices.reverse(&id, reason).await?
            }
            Action::CardStatus => invoices.resend_card_status(&id).await?,
        };
        tracing::info!(
            order_id = %id,
            action = action.code(),
            operator = session.operator(),
            "console action"
        );
        Ok::<_, crate::http::Error>((id, action))
    };
    match outcome.await {
        Ok((id, action)) => {
            state.wake_runner();
            Redirect::to(&format!(
                "/console/orders/{}?done={}",
                url_value(id.as_str()),
                action.code()
            ))
            .into_response()
        }
        Err(e) => app_error(lang, e),
    }
}
