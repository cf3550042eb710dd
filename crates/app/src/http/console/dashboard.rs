//! `/console`: orders per state and scenario, needs attention, today's throughput, Weixin
//! errors by errcode (the `/metrics` counter of this instance) and what `doctor` says.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use fapiao_domain::order::OrderState;
use fapiao_domain::ports::OrderFilter;
use fapiao_domain::scenario::Scenario;

use super::html::{self, esc};
use super::i18n::{Lang, Msg, scenario_label, state_label};
use super::session::SignedIn;
use super::{Nav, app_error, start_of_china_day};
use crate::error::AppError;
use crate::http::AppState;

/// How long the dashboard shows a `doctor` report before asking Weixin again (the setup page
/// always asks).
const DOCTOR_MAX_AGE_MILLIS: i64 = 60_000;

/// `GET /console`.
pub async fn page(
    State(state): State<AppState>,
    lang: Lang,
    Extension(session): Extension<SignedIn>,
) -> Response {
    match body(&state, lang).await {
        Ok(body) => html::respond(
            StatusCode::OK,
            html::layout(
                lang,
                Some(&session),
                Some(Nav::Dashboard),
                lang.t(Msg::NavDashboard),
                &body,
            ),
        ),
        Err(e) => app_error(lang, e),
    }
}

async fn body(state: &AppState, lang: Lang) -> Result<String, AppError> {
    let invoices = state.invoices();
    let counts = invoices.counts().await?;
    let today = start_of_china_day(state.ports().clock.now());
    let delivered_today = invoices
        .count(&OrderFilter {
            state: Some(OrderState::Delivered),
            updated_after: Some(today.plus_millis(-1)),
            ..OrderFilter::default()
        })
        .await?;
    let created_today = invoices
        .count(&OrderFilter {
            created_from: Some(today),
            ..OrderFilter::default()
        })
        .await?;
    let attention: u64 = counts
        .iter()
        .filter(|c| c.state == OrderState::NeedsAttention)
        .map(|c| c.count)
        .sum();

    let mut out = String::from(r#"<div class="cards">"#);
    out.push_str(&format!(
        r#"<a class="card attention" href="/console/orders?state=needs_attention"><div class="muted">{}</div><div class="value" id="needs-attention">{attention}</div></a>"#,
        lang.t(Msg::NeedsAttention)
    ));
    out.push_str(&format!(
        r#"<div class="card"><div class="muted">{}</div><div class="value">{delivered_today}</div></div>"#,
        lang.t(Msg::DeliveredToday)
    ));
    out.push_str(&format!(
        r#"<div class="card"><div class="muted">{}</div><div class="value">{created_today}</div></div>"#,
        lang.t(Msg::CreatedToday)
    ));
    out.push_str(&format!(
        r#"</div><p class="muted">{}</p>"#,
        lang.t(Msg::TodayNote)
    ));

    // States as rows, scenarios as columns; only states some order is in.
    let mut grid: BTreeMap<OrderState, BTreeMap<Scenario, u64>> = BTreeMap::new();
    for count in &counts {
        *grid
            .entry(count.state)
            .or_default()
            .entry(count.scenario)
            .or_default() += count.count;
    }
    out.push_str(&format!("<h2>{}</h2>", lang.t(Msg::OrdersByState)));
    let mut headers = vec![lang.t(Msg::State)];
    headers.extend(Scenario::ALL.iter().map(|s| scenario_label(*s, lang)));
    headers.push(lang.t(Msg::Total));
    let rows: Vec<Vec<String>> = grid
        .iter()
        .map(|(state, per)| {
            let mut row = vec![format!(
                r#"<a href="/console/orders?state={code}"><span class="state state-{code}">{label}</span></a>"#,
                code = state.code(),
                label = state_label(*state, lang)
            )];
            for scenario in Scenario::ALL {
                let n = per.get(&scenario).copied().unwrap_or(0);
                row.push(if n == 0 {
                    String::new()
                } else {
                    format!(
                        r#"<a href="/console/orders?state={}&amp;scenario={}">{n}</a>"#,
                        state.code(),
                        scenario.code()
                    )
                });
            }
            row.push(per.values().sum::<u64>().to_string());
            row
        })
        .collect();
    out.push_str(&html::table(&headers, &rows));

    out.push_str(&format!("<h2>{}</h2>", lang.t(Msg::WeixinErrors)));
    match state.metrics_text() {
        None => out.push_str(&format!(
            r#"<p class="muted">{}</p>"#,
            lang.t(Msg::MetricsOff)
        )),
        Some(text) => {
            let errors = weixin_errors(&text);
            if errors.is_empty() {
                out.push_str(&format!(
                    r#"<p class="muted">{}</p>"#,
                    lang.t(Msg::NoWeixinErrors)
                ));
            } else {
                let rows: Vec<Vec<String>> = errors
                    .iter()
                    .map(|(step, errcode, n)| vec![esc(step), esc(errcode), n.to_string()])
                    .collect();
                out.push_str(&html::table(
                    &[lang.t(Msg::Step), lang.t(Msg::Errcode), lang.t(Msg::Count)],
                    &rows,
                ));
            }
        }
    }

    out.push_str(&format!("<h2>{}</h2>", lang.t(Msg::Health)));
    let report = state.doctor_cached(DOCTOR_MAX_AGE_MILLIS).await?;
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
            ]
        })
        .collect();
    out.push_str(&html::table(
        &[lang.t(Msg::Check), lang.t(Msg::Status), lang.t(Msg::Detail)],
        &rows,
    ));
    Ok(out)
}

/// The `fapiao_weixin_errors_total{step,errcode}` samples of a Prometheus exposition, as
/// (step, errcode, count), most frequent first.
pub fn weixin_errors(exposition: &str) -> Vec<(String, String, u64)> {
    let mut found: Vec<(String, String, u64)> = exposition
        .lines()
        .filter_map(|line| line.strip_prefix("fapiao_weixin_errors_total{"))
        .filter_map(|rest| {
            let (labels, value) = rest.split_once('}')?;
            let count = value.trim().parse::<f64>().ok()?;
            let label = |name: &str| {
                labels.split(',').find_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    (key.trim() == name).then(|| value.trim().trim_matches('"').to_owned())
                })
            };
            // Counters are whole numbers; the cast only drops the ".0".
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let count = count.max(0.0) as u64;
            Some((label("step")?, label("errcode")?, count))
        })
        .collect();
    found.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
    found
}

#[cfg(test)]
mod tests {
    use super::weixin_errors;

    #[test]
    fn weixin_errors_are_read_from_the_exposition() {
        let text = "# TYPE fapiao_weixin_errors_total counter\n\
            fapiao_weixin_errors_total{step=\"insert_card\",errcode=\"72056\"} 2\n\
            fapiao_weixin_errors_total{step=\"fetch_auth_data\",errcode=\"-1\"} 5\n\
            fapiao_jobs_total{step=\"issue\",outcome=\"done\"} 9\n";
        assert_eq!(
            weixin_errors(text),
            [
                ("fetch_auth_data".to_owned(), "-1".to_owned(), 5),
                ("insert_card".to_owned(), "72056".to_owned(), 2),
            ]
        );
    }
}
