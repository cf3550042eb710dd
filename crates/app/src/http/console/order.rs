//! `/console/orders/{id}`: one order — the history timeline, the invoice with its lines, the
//! blue and red PDFs inline, the card and its reimbursement status, the step it waits on with
//! its attempts and last error — and the actions that apply to it.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fapiao_domain::ids::OrderId;
use fapiao_domain::order::{Order, OrderState};
use fapiao_domain::ports::PendingJob;

use super::actions::Action;
use super::html::{self, esc, fields, url_value};
use super::i18n::{Lang, Msg, reimburse_label, scenario_label, state_label};
use super::session::SignedIn;
use super::{Nav, app_error, when};
use crate::error::AppError;
use crate::http::AppState;
use crate::service::PdfKind;

/// The order id of a path, refused with the rule it breaks.
pub fn order_id(raw: &str) -> Result<OrderId, AppError> {
    OrderId::parse(raw).map_err(|e| AppError::invalid("order_id", e.rule))
}

/// `GET /console/orders/{order_id}`; `?done=<action>` shows that the action was taken.
pub async fn page(
    State(state): State<AppState>,
    lang: Lang,
    Extension(session): Extension<SignedIn>,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let done = form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "done")
        .and_then(|(_, v)| Action::parse(&v));
    let loaded = async {
        let order = state.invoices().order(&order_id(&raw)?).await?;
        let jobs = state.invoices().pending_jobs(&order).await?;
        Ok::<_, AppError>((order, jobs))
    };
    match loaded.await {
        Ok((order, jobs)) => {
            let title = format!("{} {}", lang.t(Msg::Order), order.key().order_id);
            let body = body(lang, &order, &jobs, done);
            html::respond(
                StatusCode::OK,
                html::layout(lang, Some(&session), Some(Nav::Orders), &title, &body),
            )
        }
        Err(e) => app_error(lang, e),
    }
}

fn state_badge(state: OrderState, lang: Lang) -> String {
    format!(
        r#"<span class="state state-{}" id="order-state" data-state="{}">{}</span>"#,
        state.code(),
        state.code(),
        state_label(state, lang)
    )
}

fn body(lang: Lang, order: &Order, jobs: &[PendingJob], done: Option<Action>) -> String {
    let id = url_value(order.key().order_id.as_str());
    let mut out = String::new();
    if done.is_some() {
        out.push_str(&format!(
            r#"<p class="notice">{}</p>"#,
            lang.t(Msg::ActionDone)
        ));
    }
    out.push_str(&fields(&[
        (lang.t(Msg::State), state_badge(order.state(), lang)),
        (
            lang.t(Msg::Scenario),
            scenario_label(order.scenario(), lang).to_owned(),
        ),
        (lang.t(Msg::Seller), esc(order.seller().as_str())),
        (lang.t(Msg::Amount), order.money().to_yuan_string()),
        (
            lang.t(Msg::Buyer),
            order
                .buyer()
                .map(|b| {
                    let tax = b
                        .tax_id()
                        .map(|t| format!(" · {} {}", lang.t(Msg::TaxId), esc(t.as_str())))
                        .unwrap_or_default();
                    format!("{}{tax}", esc(b.name()))
                })
                .unwrap_or_default(),
        ),
        (lang.t(Msg::Created), when(order.created_at())),
        (lang.t(Msg::Updated), when(order.updated_at())),
    ]));

    if let Some(attention) = order.attention_details() {
        out.push_str(&format!(
            r#"<div class="error"><strong>{}</strong>: {} — {} {} · {} {}</div>"#,
            lang.t(Msg::Attention),
            esc(&attention.reason.to_string()),
            lang.t(Msg::Resume),
            state_label(attention.resume, lang),
            lang.t(Msg::Since),
            when(attention.since),
        ));
    }
    if let Some(reason) = order.rejection() {
        out.push_str(&fields(&[(lang.t(Msg::Rejection), esc(reason))]));
    }

    out.push_str(&format!("<h2>{}</h2>", lang.t(Msg::Actions)));
    out.push_str(r#"<div class="actions">"#);
    for action in Action::ALL {
        if action.offered(order) {
            out.push_str(&format!(
                r#"<a class="button" id="action-{code}" href="/console/orders/{id}/{code}">{label}</a>"#,
                code = action.code(),
                label = lang.t(action.label()),
            ));
        }
    }
    out.push_str("</div>");

    out.push_str(&format!("<h2>{}</h2>", lang.t(Msg::CurrentStep)));
    match jobs.first() {
        None => out.push_str(&format!(
            r#"<p class="muted">{}</p>"#,
            lang.t(Msg::NoPendingStep)
        )),
        Some(job) => out.push_str(&fields(&[
            (lang.t(Msg::Step), esc(job.command.step().code())),
            (lang.t(Msg::Attempts), job.attempts.to_string()),
            (
                lang.t(Msg::LastError),
                job.last_error
                    .as_deref()
                    .map(|e| format!("<pre>{}</pre>", esc(e)))
                    .unwrap_or_default(),
            ),
            (lang.t(Msg::NextAttempt), when(job.run_at)),
        ])),
    }

    out.push_str(&format!("<h2>{}</h2>", lang.t(Msg::Invoice)));
    match order.invoice() {
        None => out.push_str(&format!(
            r#"<p class="muted">{}</p>"#,
            lang.t(Msg::NoInvoice)
        )),
        Some(invoice) => out.push_str(&fields(&[
            (
                lang.t(Msg::InvoiceNumber),
                format!(
                    r#"<span id="invoice-number">{}</span>"#,
                    esc(&invoice.number.to_string())
                ),
            ),
            (lang.t(Msg::IssuedAt), when(invoice.issued_at)),
            (
                lang.t(Msg::AmountExcl),
                invoice.totals.amount_excl.to_yuan_string(),
            ),
            (lang.t(Msg::Tax), invoice.totals.tax.to_yuan_string()),
            (
                lang.t(Msg::TotalWithTax),
                format!(
                    "{} ({})",
                    invoice.totals.total.to_yuan_string(),
                    esc(&invoice.totals.total.in_words())
                ),
            ),
        ])),
    }
    out.push_str(&format!("<h3>{}</h3>", lang.t(Msg::Lines)));
    let rows: Vec<Vec<String>> = order
        .lines()
        .lines()
        .iter()
        .map(|line| {
            vec![
                esc(&line.face_name()),
                line.quantity().map(|q| q.to_string()).unwrap_or_default(),
                line.amount_excl().to_yuan_string(),
                esc(&line.rate().label()),
                if line.rate().is_tax_free_mark() {
                    "***".to_owned()
                } else {
                    line.tax().to_yuan_string()
                },
                line.total().to_yuan_string(),
            ]
        })
        .collect();
    out.push_str(&html::table(
        &[
            lang.t(Msg::ItemName),
            lang.t(Msg::Quantity),
            lang.t(Msg::AmountExcl),
            lang.t(Msg::Rate),
            lang.t(Msg::Tax),
            lang.t(Msg::TotalWithTax),
        ],
        &rows,
    ));

    if let Some(reversal) = order.reversal() {
        out.push_str(&format!("<h2>{}</h2>", lang.t(Msg::Reversal)));
        out.push_str(&fields(&[
            (lang.t(Msg::Reason), esc(reversal.reason.label())),
            (
                lang.t(Msg::RedInvoice),
                reversal
                    .red_invoice
                    .as_ref()
                    .map(|i| esc(&i.number.to_string()))
                    .unwrap_or_default(),
            ),
            (
                lang.t(Msg::CardCancelled),
                if reversal.card_cancelled {
                    "✓"
                } else {
                    "—"
                }
                .to_owned(),
            ),
        ]));
    }

    out.push_str(&format!("<h2>{}</h2>", lang.t(Msg::Card)));
    match order.card() {
        None => out.push_str(&format!(r#"<p class="muted">{}</p>"#, lang.t(Msg::NoCard))),
        Some(card) => out.push_str(&fields(&[
            (lang.t(Msg::CardTemplate), esc(card.card_id.as_str())),
            (
                lang.t(Msg::CardCode),
                card.code
                    .as_ref()
                    .map_or_else(|| lang.t(Msg::CodeUnknown).to_owned(), |c| esc(c.as_str())),
            ),
            (
                lang.t(Msg::Reimbursement),
                format!(
                    "{} <span class=\"muted\">{}</span>",
                    reimburse_label(card.reimbursement, lang),
                    card.reimbursement.code()
                ),
            ),
        ])),
    }

    out.push_str(&format!("<h2>{}</h2>", lang.t(Msg::History)));
    out.push_str(r#"<ol class="timeline">"#);
    for entry in order.history() {
        let from = entry
            .from
            .map(|s| format!("{} → ", state_label(s, lang)))
            .unwrap_or_default();
        out.push_str(&format!(
            r#"<li><span class="muted">{}</span> {from}<strong>{}</strong> — {}</li>"#,
            when(entry.at),
            state_label(entry.to, lang),
            esc(&entry.cause),
        ));
    }
    out.push_str("</ol>");
    let red = order.reversal().is_some_and(|r| r.red_invoice.is_some());
    if order.invoice().is_some() {
        out.push_str(r#"<div class="pdfs">"#);
        out.push_str(&pdf_frame(lang, &id, "blue", Msg::BluePdf));
        if red {
            out.push_str(&pdf_frame(lang, &id, "red", Msg::RedPdf));
        }
        out.push_str("</div>");
    }
    out
}

fn pdf_frame(lang: Lang, id: &str, kind: &str, label: Msg) -> String {
    format!(
        r#"<figure><h3>{label} <a href="/console/orders/{id}/pdf/{kind}" target="_blank" rel="noopener">{open}</a></h3><iframe src="/console/orders/{id}/pdf/{kind}" title="{label}"></iframe></figure>"#,
        label = lang.t(label),
        open = lang.t(Msg::OpenPdf),
    )
}

/// `GET /console/orders/{order_id}/pdf/{blue|red}`: the PDF from the issuer, shown inline.
pub async fn pdf(
    State(state): State<AppState>,
    lang: Lang,
    Path((raw, kind)): Path<(String, String)>,
) -> Response {
    let kind = match kind.as_str() {
        "blue" => PdfKind::Blue,
        "red" => PdfKind::Red,
        other => {
            return app_error(
                lang,
                AppError::invalid("kind", format!("unknown kind {other:?} (blue, red)")),
            );
        }
    };
    let fetched = async {
        let id = order_id(&raw)?;
        state.invoices().pdf(&id, kind).await
    };
    match fetched.await {
        Ok(pdf) => {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            (headers, pdf.into_bytes()).into_response()
        }
        Err(e) => app_error(lang, e),
    }
}
