//! Query and path extractors that answer in the JSON error envelope, naming the problem, instead
//! of axum's plain-text rejections.

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::Error;

/// `Query<T>` whose rejection is a 422 naming the query string's problem.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|e| {
                let text = e.body_text();
                let rule = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                // serde names the parameter first ("limit: invalid digit found in string").
                match rule.split_once(": ") {
                    Some((field, rule)) if !field.contains(' ') => {
                        Error::bad_request(field, rule.to_owned())
                    }
                    _ => Error::bad_request("query", rule.to_owned()),
                }
            })
    }
}

/// `Path<T>` whose rejection is a 422 naming the path's problem.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|e| Error::bad_request("path", e.body_text()))
    }
}
