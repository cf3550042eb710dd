//! The application's error type.

use fapiao_domain::order::TransitionError;
use fapiao_domain::ports::{IssueError, PushError, RepositoryError};
use fapiao_domain::weixin::{WeixinError, errcode_hint};

/// A use case failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request broke a rule; nothing changed.
    #[error("{field}: {rule}")]
    Invalid {
        /// The field.
        field: String,
        /// The rule.
        rule: String,
    },
    /// The thing does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The thing exists already, differently.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The one-time setup is missing a step.
    #[error("setup incomplete: {0}")]
    SetupIncomplete(String),
    /// The action is not possible in the order's state.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// Weixin refused.
    #[error("weixin errcode {errcode}: {errmsg}{}", hint.map(|h| format!(" ({h})")).unwrap_or_default())]
    Weixin {
        /// `errcode`.
        errcode: i64,
        /// `errmsg`.
        errmsg: String,
        /// What it usually means.
        hint: Option<&'static str>,
    },
    /// A dependency is unavailable; try again.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Storage failed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    /// The tax platform failed.
    #[error(transparent)]
    Issuer(#[from] IssueError),
    /// A push failed verification; nothing was stored.
    #[error("push refused: {0}")]
    Push(#[from] PushError),
}

impl AppError {
    /// An invalid-input error.
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

impl From<WeixinError> for AppError {
    fn from(error: WeixinError) -> Self {
        match error {
            WeixinError::Api { errcode, errmsg } => AppError::Weixin {
                errcode,
                errmsg,
                hint: errcode_hint(errcode),
            },
            other => AppError::Unavailable(other.to_string()),
        }
    }
}
