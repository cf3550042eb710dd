//! `GET /v1/tax-categories/{code}` and `GET /v1/tax-categories?q=…`: the tax category table in
//! force (today, or on `date`), so a merchant writing lines finds the code, its 简称 and rates.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use fapiao_domain::invoice::TaxCategoryCode;
use fapiao_domain::tax_category::{Page, TaxCategoryEntry, TaxCategoryTable};
use fapiao_domain::{Date, TaxCategories};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{ApiPath, ApiQuery};
use super::{AppState, Error};
use crate::error::AppError;

/// Results per page when the query names no `limit`, and the most it may name.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LookupQuery {
    date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchQuery {
    q: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
    date: Option<String>,
}

fn table<'a>(
    state: &'a AppState,
    tables: &'a TaxCategories,
    date: Option<&str>,
) -> Result<&'a TaxCategoryTable, Error> {
    match date {
        None => Ok(state.0.invoices.tax_table_today()),
        Some(text) => Date::parse(text)
            .map(|date| tables.in_force(date))
            .ok_or_else(|| {
                Error::bad_request("date", format!("{text:?} is not a date YYYY-MM-DD"))
            }),
    }
}

fn table_view(table: &TaxCategoryTable) -> Value {
    json!({
        "version": table.version(),
        "effective_from": table.effective_from().to_string(),
        "source": table.source(),
        "codes": table.len(),
    })
}

fn entry_view(entry: &TaxCategoryEntry<'_>) -> Value {
    json!({
        "code": entry.code(),
        "name": entry.name(),
        "short_name": entry.short_name(),
        "rates": entry.rates().iter().map(|r| format!("{r}%")).collect::<Vec<_>>(),
        "summary": entry.is_summary(),
        "parent": entry.parent(),
    })
}

pub(super) async fn lookup(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
    ApiQuery(query): ApiQuery<LookupQuery>,
) -> Result<Response, Error> {
    let code = TaxCategoryCode::parse(&code).map_err(|e| match e {
        fapiao_domain::InvoiceError::Field { rule, .. } => Error::bad_request("code", rule),
        other => Error::bad_request("code", other.to_string()),
    })?;
    let tables = state.0.invoices.settings().tax_categories.clone();
    let table = table(&state, &tables, query.date.as_deref())?;
    let entry = table.get(&code).ok_or_else(|| {
        AppError::NotFound(format!(
            "code {code} is not in table {} (in force from {})",
            table.version(),
            table.effective_from()
        ))
    })?;
    Ok(axum::Json(json!({
        "table": table_view(table),
        "category": entry_view(&entry),
    }))
    .into_response())
}

pub(super) async fn search(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Response, Error> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::bad_request(
            "limit",
            format!("must be 1 to {MAX_LIMIT}, got {limit}"),
        ));
    }
    let offset = query.offset.unwrap_or(0);
    let q = query.q.unwrap_or_default();
    if q.chars().count() > 50 {
        return Err(Error::bad_request("q", "must be at most 50 characters"));
    }
    let tables = state.0.invoices.settings().tax_categories.clone();
    let table = table(&state, &tables, query.date.as_deref())?;
    let (total, found) = table.search(&q, Page { offset, limit });
    Ok(axum::Json(json!({
        "table": table_view(table),
        "q": q.trim(),
        "total": total,
        "offset": offset,
        "limit": limit,
        "categories": found.iter().map(entry_view).collect::<Vec<_>>(),
    }))
    .into_response())
}
