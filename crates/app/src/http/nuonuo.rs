//! Nuonuo's result callback (`POST /nuonuo/callback`, reference §1.11): a FORM post with
//! `operater`, `orderno` and `content`. Nuonuo signs nothing, so the callback is only a hint:
//! it never changes an order; it schedules an immediate query of the order whose idempotency
//! key is `orderno` (the query, signed both ways, decides). It is answered as Nuonuo expects,
//! `{"status":"0000","message":"同步成功"}`, once the query is scheduled; when scheduling fails
//! the answer is a bare `500`, which Nuonuo retries (up to 3 times, a minute apart).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fapiao_domain::ids::IssueKey;
use fapiao_domain::order::{Command, OrderState};
use fapiao_domain::ports::{NewJob, OrderFilter};
use serde_json::json;

use super::AppState;

/// Orders looked at per state for the one a callback names.
const SCAN_LIMIT: u32 = 500;

/// The fields of a form body (`+` is a space, `%XX` a byte; malformed escapes stay as sent).
fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn acknowledged() -> Response {
    axum::Json(json!({ "status": "0000", "message": "同步成功" })).into_response()
}

/// The fields of a JSON object body (the red-confirm callback is documented as JSON): its
/// top-level strings and numbers, `orderNo` also as `orderno`.
fn json_fields(body: &[u8]) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return Vec::new();
    };
    map.into_iter()
        .filter_map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(text) => text,
                serde_json::Value::Number(number) => number.to_string(),
                _ => return None,
            };
            let key = if key == "orderNo" {
                "orderno".to_owned()
            } else {
                key
            };
            Some((key, text))
        })
        .collect()
}

pub(super) async fn callback(State(state): State<AppState>, body: Bytes) -> Response {
    let fields = if body.first() == Some(&b'{') {
        json_fields(&body)
    } else {
        form_fields(&body)
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let operater: &'static str = match field("operater") {
        "callback" => "callback",
        "invoiceInvalid" => "invoiceInvalid",
        "redConfirmCallback" => "redConfirmCallback",
        _ => "other",
    };
    metrics::counter!("fapiao_nuonuo_callbacks_total", "operater" => operater).increment(1);
    // A red invoice's result comes as an issue result under the red key too.
    if !matches!(operater, "callback" | "redConfirmCallback") {
        return acknowledged();
    }
    let Ok(key) = IssueKey::parse(field("orderno")) else {
        tracing::info!(
            operater,
            "nuonuo callback for an order number fapiao never sent"
        );
        return acknowledged();
    };
    match schedule_query(&state, &key).await {
        Ok(found) => {
            tracing::info!(operater, order_no = %key, found, "nuonuo callback: query scheduled");
            acknowledged()
        }
        Err(error) => {
            tracing::warn!(error = %error, "nuonuo callback: query not scheduled");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Enqueues an immediate query of the order waiting on `key`; whether one was found.
async fn schedule_query(
    state: &AppState,
    key: &IssueKey,
) -> Result<bool, fapiao_domain::ports::RepositoryError> {
    let ports = &state.0.ports;
    let now = ports.clock.now();
    for waiting in [
        OrderState::IssuePending,
        OrderState::IssueOutcomeUnknown,
        OrderState::Reversing,
    ] {
        let filter = OrderFilter {
            state: Some(waiting),
            scenario: None,
            limit: SCAN_LIMIT,
            updated_before: None,
            updated_after: None,
            // A callback concerns a recent order.
            oldest_first: false,
            after: None,
            ..OrderFilter::default()
        };
        for order in ports.orders.list(&filter).await? {
            let command = if order.issue_key() == Some(key) && waiting != OrderState::Reversing {
                Command::QueryIssue { key: key.clone() }
            } else if let Some(reversal) = order.reversal().filter(|r| &r.key == key) {
                Command::ReverseInvoice {
                    key: key.clone(),
                    reason: reversal.reason,
                }
            } else {
                continue;
            };
            ports
                .jobs
                .enqueue(&NewJob {
                    order: order.key().clone(),
                    command,
                    run_at: now,
                })
                .await?;
            state.0.work.notify_one();
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::{form_fields, json_fields};

    #[test]
    fn a_json_callback_names_its_order_too() {
        let fields = json_fields(
            br#"{"operater":"redConfirmCallback","orderNo":"R1","billStatus":"04","n":1,"x":{}}"#,
        );
        assert!(fields.contains(&("operater".to_owned(), "redConfirmCallback".to_owned())));
        assert!(fields.contains(&("orderno".to_owned(), "R1".to_owned())));
        assert!(fields.contains(&("n".to_owned(), "1".to_owned())));
        assert_eq!(fields.len(), 4);
        assert!(json_fields(b"{not json").is_empty());
    }

    #[test]
    fn form_fields_are_decoded_and_never_panic() {
        let fields = form_fields(
            "operater=callback&orderno=K1&content=%7B%22c_status%22%3A%221%22%7D+x".as_bytes(),
        );
        assert_eq!(
            fields,
            vec![
                ("operater".to_owned(), "callback".to_owned()),
                ("orderno".to_owned(), "K1".to_owned()),
                ("content".to_owned(), "{\"c_status\":\"1\"} x".to_owned()),
            ]
        );
        for body in ["%", "a=%", "a=%4", "%zz=1", "&&=&", "a=%E4%B8"] {
            let _ = form_fields(body.as_bytes());
        }
    }
}
