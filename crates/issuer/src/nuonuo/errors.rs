//! The calls fapiao makes and how their failures map to the port's errors (reference §1.12).

use std::fmt;

use fapiao_domain::ports::IssueError;

/// The business methods used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    Billing,
    Query,
    ReInvoice,
    SaveRed,
    QueryRed,
}

impl Method {
    pub(super) fn name(self) -> &'static str {
        match self {
            Method::Billing => "nuonuo.OpeMplatform.requestBillingNew",
            Method::Query => "nuonuo.OpeMplatform.queryInvoiceResult",
            Method::ReInvoice => "nuonuo.OpeMplatform.reInvoice",
            Method::SaveRed => "nuonuo.OpeMplatform.saveInvoiceRedConfirm",
            Method::QueryRed => "nuonuo.OpeMplatform.queryInvoiceRedConfirm",
        }
    }

    /// Whether the call changes something, so that a lost answer leaves its outcome unknown.
    pub(super) fn may_apply(self) -> bool {
        matches!(self, Method::Billing | Method::ReInvoice | Method::SaveRed)
    }

    /// The documented success code; `queryInvoiceRedConfirm` documents `0000` (§1.6).
    pub(super) fn succeeded(self, code: &str) -> bool {
        code == "E0000" || (self == Method::QueryRed && code == "0000")
    }
}

/// What went wrong in a call, carried by [`IssueError::Other`] and spelled out in the other
/// variants.
#[derive(Debug, thiserror::Error)]
pub enum NuonuoError {
    /// The connection failed or timed out after the request may have been written.
    #[error("nuonuo {method}: the call failed after sending")]
    Transport {
        /// The method.
        method: &'static str,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// An HTTP status other than 200.
    #[error("nuonuo {method}: HTTP {status}")]
    Status {
        /// The method.
        method: &'static str,
        /// The status.
        status: u16,
    },
    /// An answer that breaks the contract.
    #[error("nuonuo {method}: answer body: {reason}")]
    Body {
        /// The method.
        method: &'static str,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// Nuonuo's error code.
    #[error("nuonuo {method}: {code} {describe}")]
    Code {
        /// The method.
        method: &'static str,
        /// `code`.
        code: String,
        /// `describe`.
        describe: String,
    },
    /// A request that cannot be sent.
    #[error("nuonuo {method}: request: {reason}")]
    Request {
        /// The method.
        method: &'static str,
        /// Why.
        reason: String,
    },
}

/// `error` and its sources, joined by `: `.
pub(super) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The port error for a call whose answer is lost or unusable after it was written.
pub(super) fn after_sending(method: Method, error: NuonuoError) -> IssueError {
    if method.may_apply() {
        IssueError::OutcomeUnknown(chain(&error))
    } else {
        IssueError::Other(Box::new(error))
    }
}

pub(super) fn transport_error(method: Method, error: reqwest::Error) -> IssueError {
    let error = error.without_url();
    if error.is_connect() || error.is_builder() {
        IssueError::NotSent(format!("nuonuo {}: {}", method.name(), chain(&error)))
    } else {
        after_sending(
            method,
            NuonuoError::Transport {
                method: method.name(),
                source: error,
            },
        )
    }
}

/// Whether a `describe`/`failCause` is about the bureau login or identity verification.
pub(super) fn session_cause(text: &str) -> bool {
    ["登录", "登陆", "身份认证", "实名认证", "扫码认证", "人脸"]
        .iter()
        .any(|word| text.contains(word))
}

/// The port error for a Nuonuo error code (§1.12) other than the ones a method handles itself.
pub(super) fn code_error(method: Method, code: &str, describe: &str) -> IssueError {
    let error = || NuonuoError::Code {
        method: method.name(),
        code: code.to_owned(),
        describe: describe.to_owned(),
    };
    let configuration = |hint: &str| {
        IssueError::Configuration(format!(
            "nuonuo {}: {code} {describe} ({hint})",
            method.name()
        ))
    };
    match code {
        // Refused by the gateway before the business service saw it: safe to send again.
        "040102" | "070201" => IssueError::NotSent(error().to_string()),
        // Platform faults: the business service may have acted.
        "0200" | "0202" | "0203" => after_sending(method, error()),
        "0201" | "05" | "070501" => {
            configuration("the request is malformed: a fapiao bug or an API version change")
        }
        "0701" | "070101" | "070102" | "070301" => {
            configuration("check issuer.nuonuo.app_key and app_secret")
        }
        "070204" => configuration("the paid quota is used up"),
        "070302" => configuration("the API is not granted to this app"),
        "070401" | "E9302" => configuration(
            "the seller tax id does not match the token (issuer.nuonuo.seller_tax_id)",
        ),
        "070601" => {
            configuration("signature refused: check app_secret and that the server clock is on NTP")
        }
        "E9301" => configuration(
            "no 企业资质 on Nuonuo for this tax id (in the sandbox: use a test tax id)",
        ),
        "E9338" => configuration("API issuing is not enabled for this seller"),
        _ if session_cause(describe) => {
            IssueError::SessionRequired(format!("nuonuo {}: {code} {describe}", method.name()))
        }
        _ => IssueError::Other(Box::new(error())),
    }
}

/// Codes that refuse the invoice's data: a rejection the buyer is told about.
pub(super) fn rejects_data(code: &str) -> bool {
    code == "E4000"
        || (code.starts_with("E91") && code != "E9106")
        || code == "E9154"
        || (code.starts_with("E97") || code.starts_with("E98"))
}

pub(super) fn encode(method: Method, body: &impl serde::Serialize) -> Result<Vec<u8>, IssueError> {
    serde_json::to_vec(body).map_err(|e| {
        IssueError::Other(Box::new(NuonuoError::Request {
            method: method.name(),
            reason: e.to_string(),
        }))
    })
}

pub(super) fn bad_body(method: Method, reason: &dyn fmt::Display) -> IssueError {
    after_sending(
        method,
        NuonuoError::Body {
            method: method.name(),
            reason: reason.to_string(),
        },
    )
}
