//! The gateway's JSON bodies (`docs/issuers/gateway.md`), mapped to and from domain types by
//! hand.
//!
//! Requests are serialised from the structs below. Answers are read from a `serde_json::Value`
//! field by field, so that every error names its field (`invoice.totals.tax: …`); unknown
//! fields are ignored, and an absent field, `null` and `""` all mean "none" where a field is
//! optional.

use std::fmt;

use fapiao_domain::ids::ProviderRef;
use fapiao_domain::invoice::{
    self, InvoiceError, InvoiceKind, InvoiceLine, InvoiceNumber, IssuedInvoice, RedLink, RedReason,
};
use fapiao_domain::money::Fen;
use fapiao_domain::party;
use fapiao_domain::ports::{
    IssueOutcome, IssueRejection, IssueRequest, ReverseOutcome, ReverseRequest,
};
use fapiao_domain::tax::LineKind;
use fapiao_domain::time::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

/// A body field broke the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WireError {
    /// The field's path, e.g. `invoice.totals.tax`.
    pub(super) field: String,
    /// The rule it broke.
    pub(super) rule: String,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)
    }
}

/// `POST /v1/invoices`.
#[derive(Debug, Serialize)]
pub(super) struct IssueInvoiceRequest {
    key: String,
    order_id: String,
    kind: &'static str,
    buyer: Buyer,
    seller: Seller,
    lines: Vec<Line>,
    totals: Totals,
    remark: Option<String>,
}

impl IssueInvoiceRequest {
    pub(super) fn new(request: &IssueRequest) -> IssueInvoiceRequest {
        let draft = &request.draft;
        IssueInvoiceRequest {
            key: request.key.as_str().to_owned(),
            order_id: request.order.order_id.as_str().to_owned(),
            kind: kind_code(draft.kind()),
            buyer: Buyer::new(draft.buyer()),
            seller: Seller::new(draft.seller()),
            lines: draft.lines().lines().iter().map(Line::new).collect(),
            totals: Totals::new(draft.lines().totals()),
            remark: draft.remark().map(str::to_owned),
        }
    }
}

/// `POST /v1/reversals`.
#[derive(Debug, Serialize)]
pub(super) struct ReversalRequest {
    key: String,
    original_key: String,
    original: Invoice,
    reason: &'static str,
    lines: Vec<Line>,
    totals: Totals,
    remark: Option<String>,
}

impl ReversalRequest {
    /// # Errors
    /// A [`WireError`] for an original with a legacy (pre-数电) number.
    pub(super) fn new(request: &ReverseRequest) -> Result<ReversalRequest, WireError> {
        let draft = &request.draft;
        Ok(ReversalRequest {
            key: request.key.as_str().to_owned(),
            original_key: request.original_key.as_str().to_owned(),
            original: Invoice::new("original", &request.original)?,
            reason: request.reason.sta_code(),
            lines: draft.lines().lines().iter().map(Line::new).collect(),
            totals: Totals::new(draft.lines().totals()),
            remark: draft.remark().map(str::to_owned),
        })
    }
}

#[derive(Debug, Serialize)]
struct Buyer {
    kind: &'static str,
    name: String,
    tax_id: Option<String>,
    natural_person: bool,
    address: Option<String>,
    phone: Option<String>,
    bank: Option<String>,
    account: Option<String>,
}

impl Buyer {
    fn new(buyer: &party::Buyer) -> Buyer {
        let text = |value: &Option<String>| value.clone();
        let (kind, address, phone, bank, account) = match buyer {
            party::Buyer::Individual { .. } => ("individual", None, None, None, None),
            party::Buyer::Organization {
                address,
                phone,
                bank,
                account,
                ..
            } => (
                "organization",
                text(address),
                text(phone),
                text(bank),
                text(account),
            ),
        };
        Buyer {
            kind,
            name: buyer.name().to_owned(),
            tax_id: buyer.tax_id().map(|id| id.as_str().to_owned()),
            natural_person: buyer.is_natural_person(),
            address,
            phone,
            bank,
            account,
        }
    }
}

#[derive(Debug, Serialize)]
struct Seller {
    name: String,
    tax_id: String,
    drawer: String,
    address_phone: Option<String>,
    bank_account: Option<String>,
}

impl Seller {
    fn new(seller: &party::Seller) -> Seller {
        Seller {
            name: seller.name().to_owned(),
            tax_id: seller.tax_id().as_str().to_owned(),
            drawer: seller.drawer().to_owned(),
            address_phone: seller.address_phone().map(str::to_owned),
            bank_account: seller.bank_account().map(str::to_owned),
        }
    }
}

#[derive(Debug, Serialize)]
struct Line {
    kind: &'static str,
    name: String,
    tax_code: String,
    short_name: String,
    spec: Option<String>,
    unit: Option<String>,
    quantity: Option<String>,
    unit_price_excl: Option<String>,
    amount_excl: String,
    tax: String,
    rate: String,
}

impl Line {
    fn new(line: &InvoiceLine) -> Line {
        Line {
            kind: match line.kind() {
                LineKind::Normal => "normal",
                LineKind::Discounted => "discounted",
                LineKind::Discount => "discount",
            },
            name: line.name().as_str().to_owned(),
            tax_code: line.category().code().as_str().to_owned(),
            short_name: line.category().short_name().to_owned(),
            spec: line.spec().map(str::to_owned),
            unit: line.unit().map(str::to_owned),
            // Both are normalised: no trailing zeros, at most 8 decimals, never an exponent.
            quantity: line.quantity().map(|quantity| quantity.to_string()),
            unit_price_excl: line.unit_price_excl().map(|price| price.to_string()),
            amount_excl: line.amount_excl().to_yuan_string(),
            tax: line.tax().to_yuan_string(),
            rate: line.rate().code(),
        }
    }
}

#[derive(Debug, Serialize)]
struct Totals {
    amount_excl: String,
    tax: String,
    total: String,
}

impl Totals {
    fn new(totals: invoice::Totals) -> Totals {
        Totals {
            amount_excl: totals.amount_excl.to_yuan_string(),
            tax: totals.tax.to_yuan_string(),
            total: totals.total.to_yuan_string(),
        }
    }
}

#[derive(Debug, Serialize)]
struct Invoice {
    number: String,
    kind: &'static str,
    issued_at: String,
    totals: Totals,
    qr_payload: Option<String>,
    provider_ref: Option<String>,
    red_of: Option<RedOf>,
}

impl Invoice {
    fn new(field: &str, invoice: &IssuedInvoice) -> Result<Invoice, WireError> {
        let legacy = |field: String| WireError {
            field,
            rule: "a legacy (pre-数电) invoice number is not in the gateway contract".to_owned(),
        };
        let number = match &invoice.number {
            InvoiceNumber::Digital(number) => number.clone(),
            InvoiceNumber::Legacy { .. } => return Err(legacy(format!("{field}.number"))),
        };
        let red_of = match &invoice.red_of {
            None => None,
            Some(link) => Some(RedOf {
                original: match &link.original {
                    InvoiceNumber::Digital(number) => number.clone(),
                    InvoiceNumber::Legacy { .. } => {
                        return Err(legacy(format!("{field}.red_of.original")));
                    }
                },
                red_form_number: link.red_form_number.clone(),
                reason: link.reason.sta_code(),
            }),
        };
        Ok(Invoice {
            number,
            kind: kind_code(invoice.kind),
            issued_at: invoice.issued_at.to_string(),
            totals: Totals::new(invoice.totals),
            qr_payload: invoice.qr_payload.clone(),
            provider_ref: invoice
                .provider_ref
                .as_ref()
                .map(|reference| reference.as_str().to_owned()),
            red_of,
        })
    }
}

#[derive(Debug, Serialize)]
struct RedOf {
    original: String,
    red_form_number: Option<String>,
    reason: &'static str,
}

fn kind_code(kind: InvoiceKind) -> &'static str {
    match kind {
        InvoiceKind::DigitalOrdinary => "digital_ordinary",
        InvoiceKind::DigitalSpecial => "digital_special",
    }
}

/// The body of an error answer, `{"error": …, "message": …}`, read leniently: it only adds
/// words to an error.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ErrorBody {
    pub(super) error: Option<String>,
    pub(super) message: Option<String>,
}

impl ErrorBody {
    pub(super) fn parse(body: &[u8]) -> ErrorBody {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return ErrorBody::default();
        };
        let text = |name: &str| {
            map.get(name)
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
                .map(|text| text.chars().take(500).collect::<String>())
        };
        ErrorBody {
            error: text("error"),
            message: text("message"),
        }
    }

    /// `: <error>: <message>`, with what is present, or empty.
    pub(super) fn detail(&self) -> String {
        [&self.error, &self.message]
            .into_iter()
            .flatten()
            .map(|part| format!(": {part}"))
            .collect()
    }
}

/// The answer to `issue` and `query`.
///
/// # Errors
/// A [`WireError`] naming the first bad field.
pub(super) fn issue_outcome(body: &[u8]) -> Result<IssueOutcome, WireError> {
    let value = json(body)?;
    let outcome = Object::root(&value)?;
    match outcome.str("status")? {
        "issued" => Ok(IssueOutcome::Issued(issued_invoice(
            &outcome.object("invoice")?,
        )?)),
        "pending" => {
            let reference = outcome
                .optional_str("reference")?
                .map(|reference| {
                    ProviderRef::parse(reference).map_err(|e| outcome.error("reference", e.rule))
                })
                .transpose()?;
            Ok(IssueOutcome::Pending(reference))
        }
        "rejected" => Ok(IssueOutcome::Rejected(rejection(
            &outcome.object("rejection")?,
        )?)),
        other => Err(unknown_status(&outcome, other)),
    }
}

/// The answer to `reverse`; an issued red invoice must carry `red_of`.
///
/// # Errors
/// A [`WireError`] naming the first bad field.
pub(super) fn reverse_outcome(body: &[u8]) -> Result<ReverseOutcome, WireError> {
    let value = json(body)?;
    let outcome = Object::root(&value)?;
    match outcome.str("status")? {
        "issued" => {
            let object = outcome.object("invoice")?;
            let red = issued_invoice(&object)?;
            if red.red_of.is_none() {
                return Err(object.error("red_of", "required on a red invoice"));
            }
            Ok(ReverseOutcome::RedIssued(red))
        }
        "pending" => Ok(ReverseOutcome::Pending {
            reference: outcome.optional_str("reference")?.map(str::to_owned),
        }),
        "rejected" => Ok(ReverseOutcome::Rejected(rejection(
            &outcome.object("rejection")?,
        )?)),
        other => Err(unknown_status(&outcome, other)),
    }
}

fn unknown_status(outcome: &Object<'_>, status: &str) -> WireError {
    outcome.error(
        "status",
        format!("{status:?} is not issued, pending or rejected"),
    )
}

fn json(body: &[u8]) -> Result<Value, WireError> {
    serde_json::from_slice(body).map_err(|e| WireError {
        field: "body".to_owned(),
        rule: format!("not JSON ({e})"),
    })
}

fn rejection(object: &Object<'_>) -> Result<IssueRejection, WireError> {
    Ok(IssueRejection {
        reason: object.str("reason")?.to_owned(),
        code: object.optional_str("code")?.map(str::to_owned),
        serial_is_dead: object.bool("serial_is_dead")?,
    })
}

fn issued_invoice(object: &Object<'_>) -> Result<IssuedInvoice, WireError> {
    let number = digital_number(object, "number")?;
    let kind = match object.str("kind")? {
        "digital_ordinary" => InvoiceKind::DigitalOrdinary,
        "digital_special" => InvoiceKind::DigitalSpecial,
        other => {
            return Err(object.error(
                "kind",
                format!("{other:?} is not digital_ordinary or digital_special"),
            ));
        }
    };
    let issued_at = object.str("issued_at")?;
    let issued_at = parse_rfc3339(issued_at).ok_or_else(|| {
        object.error(
            "issued_at",
            format!(
                "{issued_at:?} is not an RFC 3339 date-time with an offset, e.g. 2026-03-17T10:30:00+08:00"
            ),
        )
    })?;
    let totals = totals(&object.object("totals")?)?;
    let qr_payload = object.optional_str("qr_payload")?.map(str::to_owned);
    let provider_ref = object
        .optional_str("provider_ref")?
        .map(|reference| {
            ProviderRef::parse(reference).map_err(|e| object.error("provider_ref", e.rule))
        })
        .transpose()?;
    let red_of = object
        .optional_object("red_of")?
        .map(|red_of| red_link(&red_of))
        .transpose()?;
    Ok(IssuedInvoice {
        number,
        kind,
        issued_at,
        totals,
        qr_payload,
        provider_ref,
        red_of,
    })
}

fn red_link(object: &Object<'_>) -> Result<RedLink, WireError> {
    let original = digital_number(object, "original")?;
    let red_form_number = object.optional_str("red_form_number")?.map(str::to_owned);
    let reason = object.str("reason")?;
    let reason = RedReason::from_sta_code(reason).ok_or_else(|| {
        object.error(
            "reason",
            format!("{reason:?} is not an STA reason code 01 to 04"),
        )
    })?;
    Ok(RedLink {
        original,
        red_form_number,
        reason,
    })
}

fn digital_number(object: &Object<'_>, name: &str) -> Result<InvoiceNumber, WireError> {
    InvoiceNumber::digital(object.str(name)?).map_err(|e| {
        let rule = match e {
            InvoiceError::Field { rule, .. } => rule,
            other => other.to_string(),
        };
        object.error(name, rule)
    })
}

fn totals(object: &Object<'_>) -> Result<invoice::Totals, WireError> {
    let amount_excl = yuan(object, "amount_excl")?;
    let tax = yuan(object, "tax")?;
    let total = yuan(object, "total")?;
    if amount_excl.checked_add(tax) != Some(total) {
        return Err(object.error(
            "total",
            format!("{total} is not amount_excl + tax = {amount_excl} + {tax}"),
        ));
    }
    Ok(invoice::Totals {
        amount_excl,
        tax,
        total,
    })
}

fn yuan(object: &Object<'_>, name: &str) -> Result<Fen, WireError> {
    let text = object.str(name)?;
    Fen::parse_yuan(text).map_err(|_| {
        object.error(
            name,
            format!("{text:?} is not an amount in yuan with at most two decimals"),
        )
    })
}

/// A JSON object being read, with its path for error messages.
struct Object<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Object<'a> {
    fn root(value: &'a Value) -> Result<Object<'a>, WireError> {
        match value {
            Value::Object(map) => Ok(Object {
                path: String::new(),
                map,
            }),
            other => Err(WireError {
                field: "body".to_owned(),
                rule: format!("expected a JSON object, got {}", type_name(other)),
            }),
        }
    }

    fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    fn error(&self, name: &str, rule: impl Into<String>) -> WireError {
        WireError {
            field: self.path_of(name),
            rule: rule.into(),
        }
    }

    /// The field, `None` when absent or null.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|value| !value.is_null())
    }

    fn wrong_type(&self, name: &str, expected: &str, found: &Value) -> WireError {
        self.error(
            name,
            format!("expected {expected}, got {}", type_name(found)),
        )
    }

    fn str(&self, name: &str) -> Result<&'a str, WireError> {
        self.optional_str(name)?
            .ok_or_else(|| self.error(name, "required"))
    }

    /// An optional string; `""` counts as absent.
    fn optional_str(&self, name: &str) -> Result<Option<&'a str>, WireError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) if text.is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(self.wrong_type(name, "a string", other)),
        }
    }

    fn bool(&self, name: &str) -> Result<bool, WireError> {
        match self.get(name) {
            None => Err(self.error(name, "required")),
            Some(Value::Bool(value)) => Ok(*value),
            Some(other) => Err(self.wrong_type(name, "true or false", other)),
        }
    }

    fn object(&self, name: &str) -> Result<Object<'a>, WireError> {
        self.optional_object(name)?
            .ok_or_else(|| self.error(name, "required"))
    }

    fn optional_object(&self, name: &str) -> Result<Option<Object<'a>>, WireError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Object {
                path: self.path_of(name),
                map,
            })),
            Some(other) => Err(self.wrong_type(name, "an object", other)),
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An RFC 3339 date-time with an offset (`2026-03-17T10:30:00+08:00`, `…Z`, fractions of a
/// second to the millisecond), `None` when it is not one.
pub(super) fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    let bytes = text.as_bytes();
    let number = |from: usize, to: usize| -> Option<i64> {
        let part = bytes.get(from..to)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            part.iter()
                .fold(0, |value, digit| value * 10 + i64::from(digit - b'0')),
        )
    };
    let separator =
        |at: usize, expected: &[u8]| bytes.get(at).is_some_and(|b| expected.contains(b));
    if !(separator(4, b"-")
        && separator(7, b"-")
        && separator(10, b"Tt")
        && separator(13, b":")
        && separator(16, b":"))
    {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = bytes.get(19..)?;
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if !(1..=9).contains(&digits) {
            return None;
        }
        let (whole, after) = fraction.split_at(digits);
        millis = whole
            .iter()
            .chain(b"000")
            .take(3)
            .fold(0, |value, digit| value * 10 + i64::from(digit - b'0'));
        rest = after;
    }
    let offset = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let [h1, h2, m1, m2] = digits.map(|d| i64::from(d - b'0'));
            let (hours, minutes) = (h1 * 10 + h2, m1 * 10 + m2);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(Timestamp::from_millis(seconds * 1000 + millis))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}
