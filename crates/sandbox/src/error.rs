//! Errors: the Weixin-style answers of the emulated endpoints, the answers of the control API,
//! and configuration errors.

/// A Weixin business error: answered as `{"errcode":…,"errmsg":"… rid: …"}` with HTTP 200.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("weixin errcode {errcode}: {errmsg}")]
pub struct ApiError {
    /// The errcode.
    pub errcode: i64,
    /// The message, without the `rid:` suffix (added when answering).
    pub errmsg: String,
}

impl ApiError {
    /// An error with Weixin's usual message for `errcode`.
    pub fn code(errcode: i64) -> Self {
        Self {
            errcode,
            errmsg: standard_errmsg(errcode).to_owned(),
        }
    }

    /// An error with its own message.
    pub fn new(errcode: i64, errmsg: impl Into<String>) -> Self {
        Self {
            errcode,
            errmsg: errmsg.into(),
        }
    }

    /// 72031 with a detail, as real Weixin answers (`invalid params, s_pappid is empty`).
    pub fn invalid(detail: impl AsRef<str>) -> Self {
        Self::new(72031, format!("invalid params, {}", detail.as_ref()))
    }

    /// 47001 with a detail.
    pub fn data_format(detail: impl AsRef<str>) -> Self {
        Self::new(47001, format!("data format error, {}", detail.as_ref()))
    }
}

/// Weixin's usual `errmsg` per errcode (reference §3).
pub fn standard_errmsg(errcode: i64) -> &'static str {
    match errcode {
        -1 => "system error",
        0 => "ok",
        40001 => "invalid credential, access_token is invalid or not latest",
        40002 => "invalid grant_type",
        40013 => "invalid appid",
        40014 => "invalid access_token",
        40078 => "invalid card status",
        40097 => "invalid args",
        40125 => "invalid appsecret",
        41001 => "access_token missing",
        41002 => "appid missing",
        41004 => "appsecret missing",
        42001 => "access_token expired",
        43002 => "require POST method",
        44002 => "empty post data",
        45009 => "reach max api daily quota limit",
        47001 => "data format error",
        48001 => "api unauthorized",
        72015 => "unauthorized create invoice",
        72018 => "duplicate order id, invoice had inserted to user",
        72024 => "invoice status error",
        72028 => "invoice never set pay mch info",
        72029 => "invoice never set auth field",
        72030 => "invalid mchid",
        72031 => "invalid params",
        72035 => "biz reject insert",
        72038 => "invoice order never auth",
        72039 => "invoice must be lock first",
        72040 => "invoice pdf error",
        72042 => "billing_code and billing_no repeated",
        72043 => "billing_code or billing_no size error",
        72045 => "check_code is empty",
        72056 => "order_id repeated, please check order_id",
        72060 => "this invoice has been cancelled, check the reimburse_status please",
        72061 => "this invoice has been closed, check the reimburse_status please",
        72063 => "biz contact is empty, set contact first please",
        _ => "error",
    }
}

/// A refused control-API or page request: answered as `{"error": …}` with this HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ControlError {
    /// HTTP status.
    pub status: u16,
    /// What is wrong.
    pub message: String,
}

impl ControlError {
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: 404,
            message: message.into(),
        }
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self {
            status: 409,
            message: message.into(),
        }
    }

    /// 410.
    pub fn gone(message: impl Into<String>) -> Self {
        Self {
            status: 410,
            message: message.into(),
        }
    }
}

/// The sandbox cannot start with this configuration.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A configuration value is invalid.
    #[error("sandbox configuration: {0}")]
    Config(String),
    /// The push HTTP client could not be built.
    #[error("sandbox push client")]
    Http(#[source] reqwest::Error),
    /// Serving failed.
    #[error("sandbox server")]
    Io(#[from] std::io::Error),
}
