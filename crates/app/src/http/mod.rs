//! The axum router: merchant API (`/v1`, API key), Weixin callback, QR redirect, health,
//! readiness, metrics and the OpenAPI document. The host service binds the socket.

mod access;
pub mod console;
mod cursor;
pub mod dto;
pub mod error;
mod events;
mod extract;
pub mod limits;
mod nuonuo;
mod pages;
mod tax_categories;
mod webhooks;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use fapiao_domain::Secret;
use fapiao_domain::ids::{OrderId, QrToken};
use fapiao_domain::invoice::RedReason;
use fapiao_domain::order::OrderState;
use fapiao_domain::ports::{OrderFilter, OrderPosition};
use fapiao_domain::scenario::Scenario;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::Notify;

pub use access::MetricsAccess;
pub use error::Error;
use extract::{ApiPath, ApiQuery};

use crate::error::AppError;
use crate::service::{InvoiceService, PdfKind, Ports, PushAccepted, SetupService, WebhookService};
use crate::settings::Settings;

/// Largest push body accepted (Weixin pushes are a few KB).
pub const MAX_PUSH_BYTES: usize = 64 * 1024;
/// Largest merchant API body accepted.
pub const MAX_API_BYTES: usize = 2 * 1024 * 1024;

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// API key of the merchant API (`Authorization: Bearer <key>`).
    pub api_key: Secret,
    /// Public base URL of this service, for QR code short URLs (no trailing slash).
    pub public_base_url: String,
}

/// Renders the Prometheus exposition text; the host installs the recorder.
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

struct Inner {
    invoices: InvoiceService,
    setup: SetupService,
    ports: Ports,
    http: HttpSettings,
    metrics: Option<MetricsRender>,
    work: Arc<Notify>,
    /// The console dashboard's last `doctor` report and when it was made: `doctor` asks Weixin,
    /// and a dashboard left open must not ask on every reload.
    doctor: tokio::sync::Mutex<Option<(fapiao_domain::Timestamp, crate::service::DoctorReport)>>,
}

/// Shared state of the router. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>, Access);

/// What the host decides about access and links; cheap to clone.
#[derive(Debug, Clone)]
struct Access {
    metrics: MetricsAccess,
    /// Webhook delivery, when endpoints are configured.
    webhooks: Option<WebhookService>,
    /// Whether links the merchant hands the buyer may be plain `http://` (the sandbox profile).
    http_links: bool,
    /// The operator console, when the host serves it.
    console: Option<console::ConsoleSettings>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppState { .. }")
    }
}

impl AppState {
    /// State over the ports. `work` is notified whenever a push is stored, so a runner can
    /// pick it up at once.
    pub fn new(
        settings: Settings,
        http: HttpSettings,
        ports: Ports,
        metrics: Option<MetricsRender>,
        work: Arc<Notify>,
    ) -> Self {
        AppState(
            Arc::new(Inner {
                invoices: InvoiceService::new(ports.clone(), settings.clone()),
                setup: SetupService::new(ports.clone(), settings),
                ports,
                http,
                metrics,
                work,
                doctor: tokio::sync::Mutex::new(None),
            }),
            Access {
                metrics: MetricsAccess::Open,
                webhooks: None,
                http_links: false,
                console: None,
            },
        )
    }

    /// Who may read `/metrics` (open unless set).
    #[must_use]
    pub fn with_metrics_access(mut self, access: MetricsAccess) -> Self {
        self.1.metrics = access;
        self
    }

    /// Whether links for the buyer (a reject `url`) may be plain `http://`; only `https://`
    /// unless set (the sandbox profile sets it).
    #[must_use]
    pub fn with_http_links(mut self, allowed: bool) -> Self {
        self.1.http_links = allowed;
        self
    }

    /// Webhook delivery (its log and redelivery), when endpoints are configured.
    #[must_use]
    pub fn with_webhooks(mut self, webhooks: Option<WebhookService>) -> Self {
        self.1.webhooks = webhooks;
        self
    }

    /// Webhook delivery, when endpoints are configured.
    pub fn webhooks(&self) -> Option<&WebhookService> {
        self.1.webhooks.as_ref()
    }

    /// Serves the operator console at `/console` with `settings` (not served unless set).
    #[must_use]
    pub fn with_console(mut self, settings: Option<console::ConsoleSettings>) -> Self {
        self.1.console = settings;
        self
    }

    pub(crate) fn console(&self) -> Option<&console::ConsoleSettings> {
        self.1.console.as_ref()
    }

    pub(crate) fn ports(&self) -> &Ports {
        &self.0.ports
    }

    pub(crate) fn api_key(&self) -> &Secret {
        &self.0.http.api_key
    }

    pub(crate) fn public_base_url(&self) -> &str {
        &self.0.http.public_base_url
    }

    pub(crate) fn http_links(&self) -> bool {
        self.1.http_links
    }

    /// The Prometheus exposition of this instance, when the host installed a recorder.
    pub(crate) fn metrics_text(&self) -> Option<String> {
        self.0.metrics.as_ref().map(|render| render())
    }

    /// `doctor`'s report, made again only when the last is older than `max_age_millis`.
    pub(crate) async fn doctor_cached(
        &self,
        max_age_millis: i64,
    ) -> Result<crate::service::DoctorReport, AppError> {
        let now = self.0.ports.clock.now();
        // Held across the call, so concurrent reloads ask Weixin once.
        let mut cached = self.0.doctor.lock().await;
        if let Some((at, report)) = cached.as_ref()
            && now.millis().saturating_sub(at.millis()) < max_age_millis
        {
            return Ok(report.clone());
        }
        let report = self.0.setup.doctor().await?;
        *cached = Some((now, report.clone()));
        Ok(report)
    }

    /// Tells the runner that work may be due now.
    pub(crate) fn wake_runner(&self) {
        self.0.work.notify_one();
    }

    /// The invoicing service.
    pub fn invoices(&self) -> &InvoiceService {
        &self.0.invoices
    }

    /// The setup service.
    pub fn setup(&self) -> &SetupService {
        &self.0.setup
    }
}

/// The router: mount it in a host service or serve it alone.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/orders", post(create_order).get(list_orders))
        .route("/orders/{order_id}", get(get_order))
        .route("/orders/{order_id}/reject", post(reject_order))
        .route("/orders/{order_id}/retry", post(retry_order))
        .route("/orders/{order_id}/reverse", post(reverse_order))
        .route("/orders/{order_id}/pdf", get(order_pdf))
        .route("/orders/{order_id}/qr.png", get(order_qr_png))
        .route("/orders/{order_id}/qr.svg", get(order_qr_svg))
        .route("/events/unmatched", get(events::unmatched))
        .route("/events/{event_id}/replay", post(events::replay))
        .route("/webhooks/deliveries", get(webhooks::deliveries))
        .route(
            "/webhooks/deliveries/{delivery_id}/redeliver",
            post(webhooks::redeliver),
        )
        .route("/invoices/preview", post(preview))
        .route("/tax-categories", get(tax_categories::search))
        .route("/tax-categories/{code}", get(tax_categories::lookup))
        .route("/setup", post(run_setup))
        .route("/setup/doctor", get(doctor))
        .layer(DefaultBodyLimit::max(MAX_API_BYTES))
        .layer(middleware::from_fn_with_state(
            MAX_API_BYTES,
            limits::declared_size,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
        ));
    let console = match state.console() {
        Some(_) => console::router(state.clone()),
        None => Router::new(),
    };
    Router::new()
        .nest("/v1", api)
        .merge(console)
        .route(
            "/weixin/callback",
            get(verify_callback)
                .post(receive_push)
                .layer(DefaultBodyLimit::max(MAX_PUSH_BYTES))
                .layer(middleware::from_fn_with_state(
                    MAX_PUSH_BYTES,
                    limits::declared_size,
                )),
        )
        .route(
            "/nuonuo/callback",
            post(nuonuo::callback).layer(DefaultBodyLimit::max(MAX_PUSH_BYTES)),
        )
        .route("/q/{token}", get(scan_qr))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(render_metrics))
        .route("/openapi.json", get(openapi))
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .with_state(state)
}

async fn require_api_key(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let expected = state.0.http.api_key.expose().as_bytes();
    let given = access::presented(request.headers());
    if expected.is_empty() || !access::constant_time_eq(expected, given) {
        return Error::Unauthorized.into_response();
    }
    next.run(request).await
}

fn order_id(raw: &str) -> Result<OrderId, Error> {
    OrderId::parse(raw).map_err(|e| Error::bad_request("order_id", e.rule))
}

async fn create_order(State(state): State<AppState>, body: Bytes) -> Result<Response, Error> {
    let table = state.0.invoices.tax_table_today();
    let request = dto::parse_body::<dto::CreateOrderDto>(&body)?.parse(table)?;
    let started = state.0.invoices.start(request).await?;
    if started.woken_pushes > 0 {
        state.0.work.notify_one();
    }
    metrics::counter!("fapiao_orders_started_total", "scenario" => started.order.scenario().code())
        .increment(1);
    let view = dto::started_view(&started, &state.0.http.public_base_url);
    Ok((StatusCode::CREATED, axum::Json(view)).into_response())
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    state: Option<String>,
    scenario: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list_orders(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Response, Error> {
    let filter = OrderFilter {
        state: query
            .state
            .as_deref()
            .map(|s| {
                OrderState::parse(s)
                    .ok_or_else(|| Error::bad_request("state", format!("unknown state {s:?}")))
            })
            .transpose()?,
        scenario: query
            .scenario
            .as_deref()
            .map(|s| Scenario::parse(s).map_err(|e| Error::bad_request("scenario", e)))
            .transpose()?,
        limit: query.limit.unwrap_or(50).clamp(1, 500),
        updated_before: None,
        updated_after: None,
        oldest_first: false,
        // An empty cursor is the first page (clients often send `cursor=` then).
        after: query
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| cursor::decode(c).map_err(|rule| Error::bad_request("cursor", rule)))
            .transpose()?,
        ..OrderFilter::default()
    };
    let orders = state.0.invoices.list(&filter).await?;
    // A full page has a next one only if an order lies past its last (one probe row).
    let next = match orders.last() {
        Some(last) if orders.len() >= filter.limit as usize => {
            let position = OrderPosition::of(last);
            let probe = OrderFilter {
                limit: 1,
                after: Some(position.clone()),
                ..filter.clone()
            };
            let more = !state.0.invoices.list(&probe).await?.is_empty();
            more.then(|| cursor::encode(&position))
        }
        _ => None,
    };
    let views: Vec<_> = orders.iter().map(dto::order_view).collect();
    Ok(axum::Json(json!({ "orders": views, "next_cursor": next })).into_response())
}

async fn get_order(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Error> {
    let order = state.0.invoices.order(&order_id(&id)?).await?;
    let jobs = state.0.invoices.pending_jobs(&order).await?;
    let mut view = dto::order_view(&order);
    view["step"] = dto::step_view(jobs.first());
    Ok(axum::Json(view).into_response())
}

async fn reject_order(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response, Error> {
    let request: dto::RejectDto = dto::parse_body(&body)?;
    request.validate(state.1.http_links)?;
    let order = state
        .0
        .invoices
        .reject(&order_id(&id)?, &request.reason, request.url)
        .await?;
    state.0.work.notify_one();
    Ok(axum::Json(dto::order_view(&order)).into_response())
}

async fn retry_order(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Error> {
    let order = state.0.invoices.retry(&order_id(&id)?).await?;
    state.0.work.notify_one();
    Ok(axum::Json(dto::order_view(&order)).into_response())
}

async fn reverse_order(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Response, Error> {
    let request: dto::ReverseDto = dto::parse_body(&body)?;
    let reason = match request.reason.as_str() {
        "invoicing_error" => RedReason::InvoicingError,
        "sales_return" => RedReason::SalesReturn,
        "service_termination" => RedReason::ServiceTermination,
        "sales_allowance" => RedReason::SalesAllowance,
        other => {
            return Err(Error::bad_request(
                "reason",
                format!(
                    "unknown reason {other:?} (invoicing_error, sales_return, service_termination, sales_allowance)"
                ),
            ));
        }
    };
    let order = state.0.invoices.reverse(&order_id(&id)?, reason).await?;
    state.0.work.notify_one();
    Ok(axum::Json(dto::order_view(&order)).into_response())
}

#[derive(Debug, Deserialize)]
struct PdfQuery {
    kind: Option<String>,
}

async fn order_pdf(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<PdfQuery>,
) -> Result<Response, Error> {
    let id = order_id(&id)?;
    let (kind, suffix) = match query.kind.as_deref() {
        None | Some("blue") => (PdfKind::Blue, ""),
        Some("red") => (PdfKind::Red, "-red"),
        Some(other) => {
            return Err(Error::bad_request(
                "kind",
                format!("unknown kind {other:?} (blue, red)"),
            ));
        }
    };
    let pdf = state.0.invoices.pdf(&id, kind).await?;
    let disposition = format!("inline; filename=\"fapiao-{id}{suffix}.pdf\"");
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok((headers, pdf.into_bytes()).into_response())
}

async fn qr_url(state: &AppState, id: &str) -> Result<String, Error> {
    let order = state.0.invoices.order(&order_id(id)?).await?;
    let token = order.qr_token().ok_or_else(|| {
        Error::bad_request("order_id", format!("order {id} is not a qr_code order"))
    })?;
    Ok(format!("{}/q/{token}", state.0.http.public_base_url))
}

async fn order_qr_png(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Error> {
    let url = qr_url(&state, &id).await?;
    let png = crate::qr::png(&url).map_err(|e| Error::bad_request("qr", e))?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

async fn order_qr_svg(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Error> {
    let url = qr_url(&state, &id).await?;
    let svg = crate::qr::svg(&url).map_err(|e| Error::bad_request("qr", e))?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

async fn preview(State(state): State<AppState>, body: Bytes) -> Result<Response, Error> {
    let request: dto::PreviewDto = dto::parse_body(&body)?;
    let table = state.0.invoices.tax_table_today();
    let lines = state
        .0
        .invoices
        .preview(dto::parse_lines(request.lines, table)?)?;
    Ok(axum::Json(dto::lines_view(&lines)).into_response())
}

async fn run_setup(State(state): State<AppState>) -> Result<Response, Error> {
    let report = state.0.setup.run().await?;
    let steps: Vec<_> = report
        .steps
        .iter()
        .map(|s| json!({ "step": s.name, "detail": s.detail, "changed": s.changed }))
        .collect();
    Ok(axum::Json(json!({ "steps": steps })).into_response())
}

async fn doctor(State(state): State<AppState>) -> Result<Response, Error> {
    let report = state.0.setup.doctor().await?;
    let checks: Vec<_> = report
        .checks
        .iter()
        .map(|c| json!({ "check": c.name, "ok": c.ok, "detail": c.detail }))
        .collect();
    Ok(axum::Json(json!({ "healthy": report.healthy(), "checks": checks })).into_response())
}

async fn scan_qr(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> Result<Response, Error> {
    // The buyer's phone shows a page in words, not an error envelope.
    let url = match QrToken::parse(&token) {
        Err(e) => Err(AppError::NotFound(e.rule.to_string())),
        Ok(token) => state.0.invoices.scan_qr(&token).await,
    };
    Ok(match url {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(error) => {
            tracing::info!(error = %error, "receipt QR code not usable");
            pages::qr_unavailable(&error)
        }
    })
}

async fn verify_callback(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, Error> {
    let echo = state
        .0
        .invoices
        .verify_callback(query.as_deref().unwrap_or_default())?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], echo).into_response())
}

/// A push is acknowledged only after it is durably in the inbox; processing happens later.
async fn receive_push(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, Error> {
    let accepted = state
        .0
        .invoices
        .accept_push(query.as_deref().unwrap_or_default(), &body)
        .await?;
    if accepted == PushAccepted::Recorded {
        state.0.work.notify_one();
    }
    Ok(([(header::CONTENT_TYPE, "text/plain")], "success").into_response())
}

async fn ready(State(state): State<AppState>) -> Response {
    match state.0.ports.setup.load().await {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("storage unavailable: {e}"),
        )
            .into_response(),
    }
}

async fn render_metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !state.1.metrics.allows(&headers, &state.0.http.api_key) {
        return Error::Unauthorized.into_response();
    }
    let Some(render) = &state.0.metrics else {
        return (StatusCode::NOT_FOUND, "metrics are not enabled").into_response();
    };
    // Order gauges are read from storage at scrape time, so every instance reports the truth.
    if let Ok(counts) = state.0.invoices.counts().await {
        for count in counts {
            metrics::gauge!("fapiao_orders", "state" => count.state.code(), "scenario" => count.scenario.code())
                .set(count.count as f64);
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        render(),
    )
        .into_response()
}

async fn no_route(uri: axum::http::Uri) -> Response {
    Error::App(AppError::NotFound(format!("no route at {}", uri.path()))).into_response()
}

async fn no_method(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    Error::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
    .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The OpenAPI 3.1 document of the merchant API.
pub const OPENAPI: &str = include_str!("openapi.json");
