//! Hand-written conversions between wire structs and domain types.

/// A wire value that does not make a valid domain value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConvertError {
    /// Wire field name.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}
