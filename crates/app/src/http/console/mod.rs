//! The operator console at `/console`: server-rendered pages over the same services as the
//! merchant API, in Chinese and English, behind a sign-in with the merchant API key.
//!
//! One module per page (`dashboard`, `orders`, `order`, `actions`, `events`, `setup`); the
//! navigation bar is built from [`NAV`], so a page is added with its module, its routes in
//! [`router`] and one entry there. `session` holds sign-in, sessions and the CSRF check that
//! every POST behind [`session::require_session`] passes; `html` the escaping and the layout;
//! `i18n` every string.

mod actions;
mod dashboard;
mod events;
pub mod html;
pub mod i18n;
mod order;
mod orders;
pub mod session;
mod setup;
mod webhooks;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fapiao_domain::Timestamp;

use super::AppState;
use i18n::{LANG_COOKIE, Lang, Msg};
pub use session::Operator;

/// What the host decides about the console (`[console]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// A session ends this long after sign-in.
    pub session_minutes: u32,
    /// A session ends after this long without a request.
    pub idle_minutes: u32,
    /// Whether cookies carry `Secure`.
    pub secure_cookie: bool,
    /// Operator accounts, besides the API key.
    pub operators: Vec<Operator>,
}

impl ConsoleSettings {
    fn idle_millis(&self) -> i64 {
        i64::from(self.idle_minutes) * 60_000
    }
}

/// A page of the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// `/console`.
    Dashboard,
    /// `/console/orders` and an order's pages.
    Orders,
    /// `/console/events`.
    Events,
    /// `/console/webhooks`.
    Webhooks,
    /// `/console/setup`.
    Setup,
}

/// One entry of the navigation bar.
#[derive(Debug)]
pub struct NavItem {
    /// Which page.
    pub nav: Nav,
    /// Where it is.
    pub href: &'static str,
    /// Its label.
    pub label: Msg,
}

/// The navigation bar, in order.
pub const NAV: &[NavItem] = &[
    NavItem {
        nav: Nav::Dashboard,
        href: "/console",
        label: Msg::NavDashboard,
    },
    NavItem {
        nav: Nav::Orders,
        href: "/console/orders",
        label: Msg::NavOrders,
    },
    NavItem {
        nav: Nav::Events,
        href: "/console/events",
        label: Msg::NavEvents,
    },
    NavItem {
        nav: Nav::Webhooks,
        href: "/console/webhooks",
        label: Msg::NavWebhooks,
    },
    NavItem {
        nav: Nav::Setup,
        href: "/console/setup",
        label: Msg::NavSetup,
    },
];

/// The console's routes (mounted by [`crate::http::router`] when the host enabled it).
pub fn router(state: AppState) -> Router<AppState> {
    let signed_in = Router::new()
        .route("/console", get(dashboard::page))
        .route("/console/orders", get(orders::page))
        .route("/console/orders/{order_id}", get(order::page))
        .route("/console/orders/{order_id}/pdf/{kind}", get(order::pdf))
        .route(
            "/console/orders/{order_id}/{action}",
            get(actions::confirm).post(actions::run),
        )
        .route("/console/events", get(events::page))
        .route(
            "/console/events/{event_id}/replay",
            get(events::confirm).post(events::replay),
        )
        .route("/console/webhooks", get(webhooks::page))
        .route(
            "/console/webhooks/{delivery_id}/redeliver",
            get(webhooks::confirm).post(webhooks::redeliver),
        )
        .route("/console/setup", get(setup::page).post(setup::rerun))
        .route("/console/logout", post(session::logout))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            session::require_session,
        ));
    Router::new()
        .route(
            "/console/login",
            get(session::login_form).post(session::login),
        )
        .route("/console/assets/console.css", get(css))
        .route(
            "/console/",
            get(|| async { axum::response::Redirect::permanent("/console") }),
        )
        .merge(signed_in)
        .layer(middleware::from_fn_with_state(state, remember_lang))
        .layer(DefaultBodyLimit::max(session::MAX_FORM_BYTES))
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        html::CSS,
    )
        .into_response()
}

/// `?lang=zh|en` is remembered in a cookie for the console's pages.
async fn remember_lang(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let asked = Lang::from_query(request.uri().query());
    let mut response = next.run(request).await;
    if let (Some(lang), Some(settings)) = (asked, state.console()) {
        let cookie = session::set_cookie(settings, LANG_COOKIE, lang.code(), 31_536_000);
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// An error page (no navigation: it may be shown before sign-in).
pub fn page_error(lang: Lang, status: StatusCode, message: &str) -> Response {
    let body = format!(
        r#"<p class="error">{}</p><p><a href="/console">{}</a></p>"#,
        html::esc(message),
        lang.t(Msg::Back)
    );
    html::respond(
        status,
        html::layout(lang, None, None, lang.t(Msg::Error), &body),
    )
}

/// The page for a failed use case, with the status the merchant API would answer.
pub fn app_error(lang: Lang, error: impl Into<super::Error>) -> Response {
    let error: super::Error = error.into();
    let status = error.status_code();
    let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %error, "console: internal error");
        lang.t(Msg::InternalError).to_owned()
    } else {
        error.to_string()
    };
    page_error(lang, status, &message)
}

/// A time as the console shows it: China Standard Time, to the second.
pub fn when(at: Timestamp) -> String {
    let (y, mo, d, h, mi, s) = at.china_civil();
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// Midnight China Standard Time of the day `now` falls on.
pub fn start_of_china_day(now: Timestamp) -> Timestamp {
    const DAY: i64 = 86_400_000;
    const OFFSET: i64 = 8 * 3_600_000;
    let local = now.millis().saturating_add(OFFSET);
    Timestamp::from_millis(local - local.rem_euclid(DAY) - OFFSET)
}

/// Midnight China Standard Time starting `date`.
pub fn china_midnight(date: fapiao_domain::Date) -> Timestamp {
    // Howard Hinnant's days-from-civil (proleptic Gregorian calendar).
    let (year, month, day) = date.parts();
    let (month, day) = (i64::from(month), i64::from(day));
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Timestamp::from_millis(days * 86_400_000 - 8 * 3_600_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_midnight_of_a_date() {
        for text in ["1970-01-01", "2000-02-29", "2026-12-08", "2100-03-01"] {
            let date = fapiao_domain::Date::parse(text).expect("date");
            let midnight = china_midnight(date);
            assert_eq!(when(midnight), format!("{text} 00:00:00"));
            assert_eq!(start_of_china_day(midnight.plus_millis(5_000)), midnight);
        }
    }

    #[test]
    fn the_china_day_starts_at_16_utc() {
        // 2026-12-07T18:10:00Z is 2026-12-08 02:10 in China.
        let now = Timestamp::from_millis(1_796_667_000_000);
        let start = start_of_china_day(now);
        assert_eq!(when(start), "2026-12-08 00:00:00");
        assert!(start <= now && now.millis() - start.millis() < 86_400_000);
    }
}
