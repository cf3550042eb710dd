//! Weixin's endpoints (reference §5) at their real paths, behind fault injection.
//!
//! Like Weixin, these answer HTTP 200 with an `errcode` for every refusal: a malformed
//! request never panics and never gets a framework error page.

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest as _, Multipart, Query, Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use fapiao_weixin::wire::{self, WeixinRequest};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::faults::Injected;
use crate::sandbox::Sandbox;
use crate::state::{Answer, ApiResult};
use crate::wire::{StableTokenBody, parse_body};

/// Largest JSON body read.
const MAX_JSON_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Token,
    StableToken,
    Ticket,
    SetUrl,
    SetBizAttr,
    GetAuthUrl,
    GetAuthData,
    RejectInsert,
    CreateCard,
    SetPdf,
    GetPdf,
    Insert,
    UpdateStatus,
    GetCardList,
}

impl Api {
    const ALL: [Api; 14] = [
        Api::Token,
        Api::StableToken,
        Api::Ticket,
        Api::SetUrl,
        Api::SetBizAttr,
        Api::GetAuthUrl,
        Api::GetAuthData,
        Api::RejectInsert,
        Api::CreateCard,
        Api::SetPdf,
        Api::GetPdf,
        Api::Insert,
        Api::UpdateStatus,
        Api::GetCardList,
    ];

    /// The adapter's endpoint facts, so paths and names cannot drift apart.
    fn endpoint(self) -> wire::Endpoint {
        match self {
            Api::Token => wire::TokenRequest::ENDPOINT,
            Api::StableToken => wire::StableTokenRequest::ENDPOINT,
            Api::Ticket => wire::TicketRequest::ENDPOINT,
            Api::SetUrl => wire::SetUrlRequest::ENDPOINT,
            Api::SetBizAttr => wire::SetContactRequest::ENDPOINT,
            Api::GetAuthUrl => wire::GetAuthUrlRequest::ENDPOINT,
            Api::GetAuthData => wire::GetAuthDataRequest::ENDPOINT,
            Api::RejectInsert => wire::RejectInsertRequest::ENDPOINT,
            Api::CreateCard => wire::CreateCardRequest::ENDPOINT,
            Api::SetPdf => wire::SetPdfRequest::ENDPOINT,
            Api::GetPdf => wire::GetPdfRequest::ENDPOINT,
            Api::Insert => wire::InsertCardRequest::ENDPOINT,
            Api::UpdateStatus => wire::UpdateStatusRequest::ENDPOINT,
            Api::GetCardList => wire::GetCardListRequest::ENDPOINT,
        }
    }

    /// The name fault rules match: the adapter's endpoint name, `setbizattr.<action>` for
    /// the six actions.
    fn name(self, action: Option<&str>) -> String {
        match (self, action) {
            (
                Api::SetBizAttr,
                Some(
                    action @ ("set_contact" | "get_contact" | "set_auth_field" | "get_auth_field"
                    | "set_pay_mch" | "get_pay_mch"),
                ),
            ) => format!("setbizattr.{action}"),
            (Api::SetBizAttr, _) => "setbizattr".to_owned(),
            _ => self.endpoint().name.to_owned(),
        }
    }

    fn post_only(self) -> bool {
        self.endpoint().method == wire::Method::Post
    }
}

pub(super) fn routes() -> Router<Sandbox> {
    let mut router = Router::new();
    for api in Api::ALL {
        router = router.route(
            api.endpoint().path,
            any(
                move |State(sandbox): State<Sandbox>, request: Request| async move {
                    handle(sandbox, api, request).await
                },
            ),
        );
    }
    router
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|Query(pairs)| pairs)
        .unwrap_or_default()
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

async fn handle(sandbox: Sandbox, api: Api, request: Request) -> Response {
    let query = query_pairs(request.uri());
    let rid = sandbox.next_rid();
    let name = api.name(param(&query, "action"));
    let plan = sandbox.plan(&name);
    if plan.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(plan.latency_ms)).await;
    }
    match plan.fault {
        Some(Injected::SystemError) => return render(Err(ApiError::code(-1)), &rid),
        Some(Injected::QuotaExceeded) => return render(Err(ApiError::code(45009)), &rid),
        Some(Injected::Http(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return (status, "sandbox: injected server error").into_response();
        }
        _ => {}
    }
    let result = apply(&sandbox, api, &query, request).await;
    if let Err(error) = &result {
        tracing::debug!(endpoint = %name, errcode = error.errcode, "sandbox refused a call");
    }
    let response = render(result, &rid);
    match plan.fault {
        Some(Injected::ApplyThenTimeout { delay_ms }) => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            response
        }
        Some(Injected::ApplyThenDrop) => dropped_connection(),
        _ => response,
    }
}

/// A response whose body fails at once: the server closes the connection after the head,
/// so the client cannot read an answer although the request was applied.
fn dropped_connection() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("sandbox: connection dropped"))
    });
    Response::new(Body::from_stream(stream))
}

fn render(result: ApiResult, rid: &str) -> Response {
    let body = match result {
        Ok(Answer::Bare(value)) => value,
        Ok(Answer::Ok(extra)) => {
            let mut map = Map::new();
            map.insert("errcode".to_owned(), json!(0));
            map.insert("errmsg".to_owned(), json!("ok"));
            if let Value::Object(extra) = extra {
                map.extend(extra);
            }
            Value::Object(map)
        }
        Err(error) => json!({
            "errcode": error.errcode,
            "errmsg": format!("{} rid: {rid}", error.errmsg),
        }),
    };
    axum::Json(body).into_response()
}

async fn read_body(request: Request) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(request.into_body(), MAX_JSON_BYTES)
        .await
        .map_err(|_| ApiError::data_format("body is larger than 1 MiB or unreadable"))
}

/// Reads the multipart part `pdf` (any content type, any filename) up to `max` bytes + 1.
async fn read_pdf(request: Request, max: usize) -> Result<Vec<u8>, ApiError> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|_| ApiError::invalid("expected a multipart/form-data body with a pdf part"))?;
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::invalid(format!("malformed multipart body: {e}")))?;
        let Some(mut field) = field else {
            return Err(ApiError::invalid("pdf is empty"));
        };
        if field.name() != Some(wire::SetPdfRequest::PART) {
            continue;
        }
        let mut pdf = Vec::new();
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| ApiError::invalid(format!("malformed multipart body: {e}")))?
        {
            pdf.extend_from_slice(&chunk);
            if pdf.len() > max {
                // The state answers 72040 for an oversized file.
                break;
            }
        }
        return Ok(pdf);
    }
}

async fn apply(
    sandbox: &Sandbox,
    api: Api,
    query: &[(String, String)],
    request: Request,
) -> ApiResult {
    if api.post_only() && request.method() != Method::POST {
        return Err(ApiError::code(43002));
    }
    let now = sandbox.clock().now_secs();
    match api {
        Api::Token => {
            let (grant_type, appid, secret) = (
                param(query, "grant_type").unwrap_or_default().trim(),
                param(query, "appid").unwrap_or_default().trim(),
                param(query, "secret").unwrap_or_default().trim(),
            );
            sandbox.with_state(|state| state.token(grant_type, appid, secret, now))
        }
        Api::StableToken => {
            let body = read_body(request).await?;
            let body: StableTokenBody = parse_body(&body, false)?;
            sandbox.with_state(|state| state.stable_token(&body, now))
        }
        _ => {
            let token = param(query, "access_token");
            let caller = sandbox.with_state(|state| state.authenticate(token, now))?;
            match api {
                Api::Ticket => {
                    sandbox.with_state(|state| state.ticket(&caller, param(query, "type"), now))
                }
                Api::SetPdf => {
                    let max = sandbox.settings().unconfirmed.max_pdf_bytes;
                    let pdf = read_pdf(request, max).await?;
                    sandbox.with_state(|state| state.setpdf(&caller, pdf, now))
                }
                _ => {
                    let body = read_body(request).await?;
                    sandbox.with_state(|state| match api {
                        Api::SetUrl => state.seturl(&caller, &body),
                        Api::SetBizAttr => state.setbizattr(&caller, param(query, "action"), &body),
                        Api::GetAuthUrl => state.getauthurl(&caller, &body, now),
                        Api::GetAuthData => state.getauthdata(&body),
                        Api::RejectInsert => state.rejectinsert(&body, now),
                        Api::CreateCard => state.createcard(&caller, &body, now),
                        Api::GetPdf => state.getpdf(&caller, &body, param(query, "action"), now),
                        Api::Insert => state.insert(&caller, &body, now),
                        Api::UpdateStatus => state.updatestatus(&caller, &body),
                        Api::GetCardList => state.getcardlist(&caller, &body),
                        Api::Token | Api::StableToken | Api::Ticket | Api::SetPdf => {
                            Err(ApiError::code(-1))
                        }
                    })
                }
            }
        }
    }
}
