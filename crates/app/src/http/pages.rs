//! The buyer's pages: what a phone shows when a receipt QR code can no longer be used.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// A small Chinese page, sized for a phone, for a scanned QR code that cannot open the
/// authorization page; the status stays that of the error.
pub fn qr_unavailable(error: &AppError) -> Response {
    let (status, title, text) = match error {
        AppError::Conflict(_) | AppError::Transition(_) => (
            StatusCode::CONFLICT,
            "此二维码已使用",
            "这张小票的发票已经申请过了，请在微信“卡包”中查看发票。如有疑问，请联系商家。",
        ),
        AppError::NotFound(_) | AppError::Invalid { .. } => (
            StatusCode::NOT_FOUND,
            "二维码无效或已过期",
            "无法识别这张小票的开票二维码，请向商家索取新的二维码。",
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "暂时无法开票",
            "开票服务暂时不可用，请稍后再扫码重试。",
        ),
    };
    let page = format!(
        "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:-apple-system,\"PingFang SC\",\
         \"Microsoft YaHei\",sans-serif;margin:0;padding:48px 24px;text-align:center;\
         color:#333;background:#f7f7f7}}h1{{font-size:20px;margin:0 0 16px}}\
         p{{font-size:15px;line-height:1.6;color:#666;max-width:420px;margin:0 auto}}</style>\
         </head><body><h1>{title}</h1><p>{text}</p></body></html>\n"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}
