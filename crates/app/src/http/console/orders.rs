//! `/console/orders`: the order list with filters (state, scenario, seller, creation dates,
//! a search over order id, invoice number and buyer) and keyset pagination (the merchant
//! API's cursor).

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use fapiao_domain::Date;
use fapiao_domain::ids::SellerId;
use fapiao_domain::order::OrderState;
use fapiao_domain::ports::{OrderFilter, OrderPosition};
use fapiao_domain::scenario::Scenario;

use super::html::{self, esc, url_value};
use super::i18n::{Lang, Msg, scenario_label, state_label};
use super::session::SignedIn;
use super::{Nav, app_error, china_midnight, when};
use crate::error::AppError;
use crate::http::{AppState, cursor};

/// Orders per page.
const PAGE: u32 = 50;

/// The filters as the form sends them (empty fields are no filter).
#[derive(Debug, Default)]
struct Query {
    state: String,
    scenario: String,
    seller: String,
    from: String,
    to: String,
    q: String,
    cursor: String,
}

impl Query {
    fn parse(raw: Option<&str>) -> Query {
        let mut query = Query::default();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let value = value.trim().to_owned();
            match &*key {
                "state" => query.state = value,
                "scenario" => query.scenario = value,
                "seller" => query.seller = value,
                "from" => query.from = value,
                "to" => query.to = value,
                "q" => query.q = value,
                "cursor" => query.cursor = value,
                _ => {}
            }
        }
        query
    }

    /// The query string of these filters (without the cursor).
    fn filters_query(&self) -> String {
        [
            ("state", &self.state),
            ("scenario", &self.scenario),
            ("seller", &self.seller),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", url_value(v)))
        .collect::<Vec<_>>()
        .join("&")
    }

    fn filter(&self) -> Result<OrderFilter, AppError> {
        let some = |v: &String| (!v.is_empty()).then(|| v.clone());
        let day = |field: &str, v: &String| -> Result<Option<i64>, AppError> {
            some(v)
                .map(|text| {
                    Date::parse(&text)
                        .map(|d| china_midnight(d).millis())
                        .ok_or_else(|| AppError::invalid(field, "a date YYYY-MM-DD"))
                })
                .transpose()
        };
        Ok(OrderFilter {
            state: some(&self.state)
                .map(|s| {
                    OrderState::parse(&s)
                        .ok_or_else(|| AppError::invalid("state", format!("unknown state {s:?}")))
                })
                .transpose()?,
            scenario: some(&self.scenario)
                .map(|s| Scenario::parse(&s).map_err(|e| AppError::invalid("scenario", e)))
                .transpose()?,
            seller: some(&self.seller)
                .map(|s| SellerId::parse(&s).map_err(|e| AppError::invalid("seller", e.rule)))
                .transpose()?,
            created_from: day("from", &self.from)?.map(fapiao_domain::Timestamp::from_millis),
            // `to` is the last day shown: orders created before the next midnight.
            created_before: day("to", &self.to)?
                .map(|m| fapiao_domain::Timestamp::from_millis(m.saturating_add(86_400_000))),
            text: some(&self.q),
            limit: PAGE,
            after: some(&self.cursor)
                .map(|c| cursor::decode(&c).map_err(|rule| AppError::invalid("cursor", rule)))
                .transpose()?,
            ..OrderFilter::default()
        })
    }
}

/// `GET /console/orders`.
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
                Some(Nav::Orders),
                lang.t(Msg::NavOrders),
                &body,
            ),
        ),
        Err(e) => app_error(lang, e),
    }
}

pub(super) fn select(
    name: &str,
    label: &str,
    any: &str,
    current: &str,
    options: &[(String, String)],
) -> String {
    let mut out = format!(
        r#"<label>{}<select name="{name}"><option value="">{}</option>"#,
        esc(label),
        esc(any)
    );
    for (value, text) in options {
        let selected = if value == current { " selected" } else { "" };
        out.push_str(&format!(
            r#"<option value="{}"{selected}>{}</option>"#,
            esc(value),
            esc(text)
        ));
    }
    out.push_str("</select></label>");
    out
}

async fn body(state: &AppState, lang: Lang, query: &Query) -> Result<String, AppError> {
    let filter = query.filter()?;
    let invoices = state.invoices();
    let orders = invoices.list(&filter).await?;
    let next = match orders.last() {
        Some(last) if orders.len() >= PAGE as usize => {
            let position = OrderPosition::of(last);
            let probe = OrderFilter {
                limit: 1,
                after: Some(position.clone()),
                ..filter.clone()
            };
            (!invoices.list(&probe).await?.is_empty()).then(|| cursor::encode(&position))
        }
        _ => None,
    };

    let states: Vec<(String, String)> = OrderState::ALL
        .iter()
        .map(|s| (s.code().to_owned(), state_label(*s, lang).to_owned()))
        .collect();
    let scenarios: Vec<(String, String)> = Scenario::ALL
        .iter()
        .map(|s| (s.code().to_owned(), scenario_label(*s, lang).to_owned()))
        .collect();
    let sellers: Vec<(String, String)> = invoices
        .settings()
        .sellers
        .keys()
        .map(|s| (s.as_str().to_owned(), s.as_str().to_owned()))
        .collect();
    let any = lang.t(Msg::Any);
    let mut out = String::from(r#"<form method="get" action="/console/orders" class="filters">"#);
    out.push_str(&select(
        "state",
        lang.t(Msg::State),
        any,
        &query.state,
        &states,
    ));
    out.push_str(&select(
        "scenario",
        lang.t(Msg::Scenario),
        any,
        &query.scenario,
        &scenarios,
    ));
    out.push_str(&select(
        "seller",
        lang.t(Msg::Seller),
        any,
        &query.seller,
        &sellers,
    ));
    out.push_str(&format!(
        r#"<label>{}<input type="date" name="from" value="{}"></label><label>{}<input type="date" name="to" value="{}"></label><label>{}<input type="search" name="q" value="{}" size="28"></label><button type="submit">{}</button></form>"#,
        lang.t(Msg::CreatedFrom),
        esc(&query.from),
        lang.t(Msg::CreatedTo),
        esc(&query.to),
        lang.t(Msg::Search),
        esc(&query.q),
        lang.t(Msg::Apply),
    ));

    if orders.is_empty() {
        out.push_str(&format!(
            r#"<p class="muted">{}</p>"#,
            lang.t(Msg::NoOrders)
        ));
    } else {
        let rows: Vec<Vec<String>> = orders
            .iter()
            .map(|order| {
                let id = order.key().order_id.as_str();
                vec![
                    format!(
                        r#"<a class="order-link" href="/console/orders/{}">{}</a>"#,
                        url_value(id),
                        esc(id)
                    ),
                    format!(
                        r#"<span class="state state-{}">{}</span>"#,
                        order.state().code(),
                        state_label(order.state(), lang)
                    ),
                    scenario_label(order.scenario(), lang).to_owned(),
                    esc(order.seller().as_str()),
                    order.money().to_yuan_string(),
                    order.buyer().map(|b| esc(b.name())).unwrap_or_default(),
                    order
                        .invoice()
                        .map(|i| esc(&i.number.to_string()))
                        .unwrap_or_default(),
                    when(order.created_at()),
                    when(order.updated_at()),
                ]
            })
            .collect();
        out.push_str(&html::table(
            &[
                lang.t(Msg::OrderId),
                lang.t(Msg::State),
                lang.t(Msg::Scenario),
                lang.t(Msg::Seller),
                lang.t(Msg::Amount),
                lang.t(Msg::Buyer),
                lang.t(Msg::InvoiceNumber),
                lang.t(Msg::Created),
                lang.t(Msg::Updated),
            ],
            &rows,
        ));
    }
    let filters = query.filters_query();
    out.push_str(r#"<div class="pager">"#);
    if !query.cursor.is_empty() {
        out.push_str(&format!(
            r#"<a href="/console/orders?{}">{}</a>"#,
            esc(&filters),
            lang.t(Msg::FirstPage)
        ));
    }
    if let Some(next) = next {
        let sep = if filters.is_empty() { "" } else { "&" };
        out.push_str(&format!(
            r#"<a id="next-page" href="/console/orders?{}{sep}cursor={}">{}</a>"#,
            esc(&filters),
            url_value(&next),
            lang.t(Msg::NextPage)
        ));
    }
    out.push_str("</div>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filters_parse_and_bad_values_name_their_field() {
        let query = Query::parse(Some(
            "state=needs_attention&scenario=qr_code&seller=store-01&from=2026-12-01&to=2026-12-07&q=%E5%85%AC%E5%8F%B8",
        ));
        let filter = query.filter().expect("valid");
        assert_eq!(filter.state, Some(OrderState::NeedsAttention));
        assert_eq!(filter.scenario, Some(Scenario::ScanQr));
        assert_eq!(filter.text.as_deref(), Some("公司"));
        let (from, to) = (
            filter.created_from.expect("from"),
            filter.created_before.expect("to"),
        );
        assert_eq!(when(from), "2026-12-01 00:00:00");
        assert_eq!(when(to), "2026-12-08 00:00:00");
        assert!(query.filters_query().contains("q=%E5%85%AC%E5%8F%B8"));
        for (raw, field) in [
            ("state=nope", "state"),
            ("scenario=nope", "scenario"),
            ("from=2026-13-01", "from"),
            ("cursor=zz", "cursor"),
            ("seller=%3Cb%3E", "seller"),
        ] {
            match Query::parse(Some(raw)).filter() {
                Err(AppError::Invalid { field: f, .. }) => assert_eq!(f, field, "{raw}"),
                other => panic!("{raw}: {other:?}"),
            }
        }
    }
}
