//! The one HTTP error type.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::AppError;
use fapiao_domain::ports::{IssueError, PushError, RepositoryError};

/// Every handler error; the only `IntoResponse` error of the crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A use case failed.
    #[error(transparent)]
    App(#[from] AppError),
    /// Missing or wrong API key.
    #[error("missing or invalid API key (send `Authorization: Bearer <key>`)")]
    Unauthorized,
    /// The declared body is larger than the route takes.
    #[error("the body is larger than {limit} bytes")]
    TooLarge {
        /// The route's limit in bytes.
        limit: u64,
    },
    /// The route exists but not with this method.
    #[error("{path} does not take {method}")]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The path.
        path: String,
    },
    /// The body did not arrive in time.
    #[error("the request body did not arrive in time")]
    Timeout,
    /// The request body or query does not parse.
    #[error("{field}: {rule}")]
    BadRequest {
        /// Field or `body`.
        field: String,
        /// What is wrong.
        rule: String,
    },
}

impl Error {
    /// A bad-request error.
    pub fn bad_request(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Error::BadRequest {
            field: field.into(),
            rule: rule.into(),
        }
    }

    pub(crate) fn status_code(&self) -> StatusCode {
        match self {
            Error::App(AppError::Invalid { .. }) | Error::BadRequest { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Error::App(AppError::NotFound(_)) => StatusCode::NOT_FOUND,
            Error::App(AppError::Conflict(_) | AppError::Transition(_)) => StatusCode::CONFLICT,
            Error::App(AppError::SetupIncomplete(_)) => StatusCode::PRECONDITION_FAILED,
            Error::App(AppError::Weixin { .. }) => StatusCode::BAD_GATEWAY,
            Error::App(
                AppError::Unavailable(_)
                | AppError::Repository(RepositoryError::Unavailable(_))
                | AppError::Issuer(IssueError::NotSent(_) | IssueError::OutcomeUnknown(_)),
            ) => StatusCode::SERVICE_UNAVAILABLE,
            Error::App(AppError::Issuer(IssueError::NotFound(_))) => StatusCode::NOT_FOUND,
            Error::App(AppError::Repository(_) | AppError::Issuer(_)) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Error::App(AppError::Push(
                PushError::BadSignature | PushError::WrongAppId | PushError::Stale,
            )) => StatusCode::FORBIDDEN,
            Error::App(AppError::Push(PushError::TooLarge(_))) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::App(AppError::Push(_)) => StatusCode::BAD_REQUEST,
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Timeout => StatusCode::REQUEST_TIMEOUT,
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::App(AppError::Invalid { .. }) | Error::BadRequest { .. } => "invalid",
            Error::App(AppError::NotFound(_)) => "not_found",
            Error::App(AppError::Conflict(_)) => "conflict",
            Error::App(AppError::Transition(_)) => "not_allowed",
            Error::App(AppError::SetupIncomplete(_)) => "setup_incomplete",
            Error::App(AppError::Weixin { .. }) => "weixin",
            Error::App(AppError::Unavailable(_)) => "unavailable",
            Error::App(AppError::Repository(_) | AppError::Issuer(_)) => "internal",
            Error::App(AppError::Push(_)) => "push_refused",
            Error::Unauthorized => "unauthorized",
            Error::TooLarge { .. } => "too_large",
            Error::Timeout => "timeout",
            Error::MethodNotAllowed { .. } => "method_not_allowed",
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let field = match &self {
            Error::App(AppError::Invalid { field, .. }) | Error::BadRequest { field, .. } => {
                Some(field.clone())
            }
            _ => None,
        };
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            // Internal details go to the log with their source chain, not to the caller.
            let mut chain = self.to_string();
            let mut source = std::error::Error::source(&self);
            while let Some(cause) = source {
                chain.push_str(": ");
                chain.push_str(&cause.to_string());
                source = cause.source();
            }
            tracing::error!(error = %chain, "internal error");
            "internal error; see the service log".to_owned()
        } else {
            self.to_string()
        };
        let mut body = json!({ "error": { "code": self.code(), "message": message } });
        if let (Some(field), Some(error)) = (field, body.get_mut("error")) {
            error["field"] = json!(field);
        }
        if let Error::App(AppError::Weixin { errcode, .. }) = &self
            && let Some(error) = body.get_mut("error")
        {
            error["errcode"] = json!(errcode);
        }
        (status, Json(body)).into_response()
    }
}
