//! Nuonuo's JSON bodies (reference §1.6–§1.9), mapped to and from domain types by hand.
//!
//! Requests are serialised once from the structs below (money as strings with fixed decimals,
//! never floats). Answers are read from a `serde_json::Value` field by field so that every
//! error names its field (`result[0].orderAmount: …`). Nuonuo sends some numbers as strings
//! and some strings as numbers, so scalar fields accept both; `""` and `null` mean absent.

use std::borrow::Cow;
use std::fmt;

use fapiao_domain::ids::ProviderRef;
use fapiao_domain::invoice::{
    InvoiceDraft, InvoiceKind, InvoiceLine, InvoiceNumber, IssuedInvoice, RedLink, RedReason,
    Totals,
};
use fapiao_domain::money::Fen;
use fapiao_domain::party;
use fapiao_domain::tax::LineKind;
use fapiao_domain::time::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

/// A body field broke the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// The field's path, e.g. `result[0].status`.
    pub field: String,
    /// The rule it broke.
    pub rule: String,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)
    }
}

impl std::error::Error for WireError {}

fn wire_error(field: impl Into<String>, rule: impl Into<String>) -> WireError {
    WireError {
        field: field.into(),
        rule: rule.into(),
    }
}

/// `invoiceLine` of an invoice kind: `pc` 数电普票, `bs` 数电专票.
pub fn invoice_line(kind: InvoiceKind) -> &'static str {
    match kind {
        InvoiceKind::DigitalOrdinary => "pc",
        InvoiceKind::DigitalSpecial => "bs",
    }
}

/// Nuonuo's `redReason` numbering, which differs from the STA codes (§1.9 trap):
/// 1 销货退回, 2 开票有误, 3 服务中止, 4 销售折让.
pub fn red_reason_code(reason: RedReason) -> &'static str {
    match reason {
        RedReason::SalesReturn => "1",
        RedReason::InvoicingError => "2",
        RedReason::ServiceTermination => "3",
        RedReason::SalesAllowance => "4",
    }
}

/// The reason of a Nuonuo `redReason`.
pub fn red_reason_from_code(code: &str) -> Option<RedReason> {
    match code {
        "1" => Some(RedReason::SalesReturn),
        "2" => Some(RedReason::InvoicingError),
        "3" => Some(RedReason::ServiceTermination),
        "4" => Some(RedReason::SalesAllowance),
        _ => None,
    }
}

/// What the issue request needs besides the draft.
#[derive(Debug, Clone)]
pub struct IssueContext<'a> {
    /// `orderNo`: the idempotency key.
    pub order_no: &'a str,
    /// `invoiceDate`, `yyyy-MM-dd HH:mm:ss` in China time.
    pub invoice_date: String,
    /// `pushMode`: `-1` when fapiao delivers through Weixin.
    pub push_mode: &'a str,
    /// `extensionNumber` (分机号), selecting the bureau account.
    pub extension_number: Option<&'a str>,
    /// `callBackUrl`.
    pub callback_url: Option<&'a str>,
}

/// `requestBillingNew`: `{"order": {…}}`.
#[derive(Debug, Serialize)]
pub struct BillingRequest {
    order: BillingOrder,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BillingOrder {
    buyer_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    buyer_tax_num: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    buyer_tel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    buyer_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    buyer_account: Option<String>,
    saler_tax_num: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    saler_tel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    saler_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    saler_account: Option<String>,
    order_no: String,
    invoice_date: String,
    clerk: String,
    push_mode: String,
    invoice_type: &'static str,
    invoice_line: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    remark: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    natural_person_flag: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extension_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_back_url: Option<String>,
    invoice_detail: Vec<BillingLine>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BillingLine {
    goods_name: String,
    goods_code: String,
    with_tax_flag: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    price: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    num: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec_type: Option<String>,
    tax_rate: String,
    tax_excluded_amount: String,
    tax: String,
    tax_included_amount: String,
    invoice_line_property: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    favoured_policy_flag: Option<&'static str>,
}

impl BillingLine {
    fn new(line: &InvoiceLine) -> BillingLine {
        let rate = line.rate();
        BillingLine {
            goods_name: line.name().as_str().to_owned(),
            goods_code: line.category().code().as_str().to_owned(),
            // Amounts go excluding tax, with the tax the domain computed: Nuonuo then has
            // nothing to recompute.
            with_tax_flag: "0",
            // Normalised by the domain: at most 8 decimals, no exponent.
            price: line.unit_price_excl().map(|p| p.normalize().to_string()),
            num: line.quantity().map(|q| q.to_string()),
            unit: line.unit().map(str::to_owned),
            spec_type: line.spec().map(str::to_owned),
            tax_rate: rate.fraction().normalize().to_string(),
            tax_excluded_amount: line.amount_excl().to_yuan_string(),
            tax: line.tax().to_yuan_string(),
            tax_included_amount: line.total().to_yuan_string(),
            invoice_line_property: match line.kind() {
                LineKind::Normal => "0",
                LineKind::Discount => "1",
                LineKind::Discounted => "2",
            },
            favoured_policy_flag: match rate.code().as_str() {
                "exempt" => Some("03"),
                "not_taxable" => Some("04"),
                _ => None,
            },
        }
    }
}

/// Splits `address phone` into the address and a trailing phone number, when the last word
/// looks like one (digits, `-`, `+`, parentheses).
fn split_address_phone(text: &str) -> (Option<String>, Option<String>) {
    let text = text.trim();
    if text.is_empty() {
        return (None, None);
    }
    match text.rsplit_once(char::is_whitespace) {
        Some((address, phone))
            if !phone.is_empty()
                && phone
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '(' | ')'))
                && phone.chars().any(|c| c.is_ascii_digit()) =>
        {
            let address = address.trim();
            (
                (!address.is_empty()).then(|| address.to_owned()),
                Some(phone.to_owned()),
            )
        }
        _ => (Some(text.to_owned()), None),
    }
}

fn join(parts: &[Option<&str>]) -> Option<String> {
    let text = parts
        .iter()
        .flatten()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!text.is_empty()).then_some(text)
}

impl BillingRequest {
    /// The blue-invoice request of `draft` under `context.order_no`.
    pub fn new(draft: &InvoiceDraft, context: &IssueContext<'_>) -> BillingRequest {
        let buyer = draft.buyer();
        let seller = draft.seller();
        let (buyer_tel, buyer_address, buyer_account, natural_person_flag) = match buyer {
            party::Buyer::Individual { natural_person, .. } => {
                (None, None, None, natural_person.then_some("1"))
            }
            party::Buyer::Organization {
                address,
                phone,
                bank,
                account,
                ..
            } => (
                phone.clone(),
                address.clone(),
                join(&[bank.as_deref(), account.as_deref()]),
                None,
            ),
        };
        let (saler_address, saler_tel) = seller
            .address_phone()
            .map_or((None, None), split_address_phone);
        BillingRequest {
            order: BillingOrder {
                buyer_name: buyer.name().to_owned(),
                buyer_tax_num: buyer.tax_id().map(|id| id.as_str().to_owned()),
                buyer_tel,
                buyer_address,
                buyer_account,
                saler_tax_num: seller.tax_id().as_str().to_owned(),
                saler_tel,
                saler_address,
                saler_account: seller.bank_account().map(str::to_owned),
                order_no: context.order_no.to_owned(),
                invoice_date: context.invoice_date.clone(),
                clerk: seller.drawer().to_owned(),
                push_mode: context.push_mode.to_owned(),
                invoice_type: "1",
                invoice_line: invoice_line(draft.kind()),
                remark: draft.remark().map(str::to_owned),
                natural_person_flag,
                extension_number: context.extension_number.map(str::to_owned),
                call_back_url: context.callback_url.map(str::to_owned),
                invoice_detail: draft.lines().lines().iter().map(BillingLine::new).collect(),
            },
        }
    }
}

/// `queryInvoiceResult` by order numbers.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryRequest {
    order_nos: Vec<String>,
    is_offer_invoice_detail: &'static str,
}

impl QueryRequest {
    /// A query for one order number.
    pub fn by_order_no(order_no: &str) -> QueryRequest {
        QueryRequest {
            order_nos: vec![order_no.to_owned()],
            is_offer_invoice_detail: "0",
        }
    }
}

/// `reInvoice` by order number.
#[derive(Debug, Serialize)]
pub struct ReInvoiceRequest {
    orderno: String,
}

impl ReInvoiceRequest {
    /// Retry of the invoice with `order_no`.
    pub fn new(order_no: &str) -> ReInvoiceRequest {
        ReInvoiceRequest {
            orderno: order_no.to_owned(),
        }
    }
}

/// `saveInvoiceRedConfirm` for a full reversal of a 数电 e-invoice (no lines).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedConfirmRequest {
    bill_id: String,
    blue_invoice_line: &'static str,
    apply_source: &'static str,
    blue_elec_invoice_number: String,
    seller_tax_no: String,
    seller_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    buyer_tax_no: Option<String>,
    buyer_name: String,
    red_reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    extension_number: Option<String>,
    order_no: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_url: Option<String>,
}

impl RedConfirmRequest {
    /// The form for reversing `blue` (a 数电 number) in full; `key` is both the form's
    /// `billId` and the red invoice's `orderNo`, so a retry finds both.
    ///
    /// # Errors
    /// A [`WireError`] for a legacy (pre-数电) blue number.
    pub fn new(
        key: &str,
        blue: &IssuedInvoice,
        draft: &InvoiceDraft,
        reason: RedReason,
        extension_number: Option<&str>,
        callback_url: Option<&str>,
    ) -> Result<RedConfirmRequest, WireError> {
        let number = match &blue.number {
            InvoiceNumber::Digital(number) => number.clone(),
            InvoiceNumber::Legacy { .. } => {
                return Err(wire_error(
                    "original.number",
                    "a legacy (pre-数电) invoice is reversed with a 红字信息表, not supported",
                ));
            }
        };
        Ok(RedConfirmRequest {
            bill_id: key.to_owned(),
            blue_invoice_line: invoice_line(blue.kind),
            apply_source: "0",
            blue_elec_invoice_number: number,
            seller_tax_no: draft.seller().tax_id().as_str().to_owned(),
            seller_name: draft.seller().name().to_owned(),
            buyer_tax_no: draft.buyer().tax_id().map(|id| id.as_str().to_owned()),
            buyer_name: draft.buyer().name().to_owned(),
            red_reason: red_reason_code(reason),
            extension_number: extension_number.map(str::to_owned),
            order_no: key.to_owned(),
            callback_url: callback_url.map(str::to_owned),
        })
    }
}

/// `queryInvoiceRedConfirm` by our `billId`, as the seller.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedConfirmQuery {
    identity: &'static str,
    bill_id: String,
    page_no: &'static str,
    page_size: &'static str,
}

impl RedConfirmQuery {
    /// The query of the form with `bill_id`.
    pub fn by_bill_id(bill_id: &str) -> RedConfirmQuery {
        RedConfirmQuery {
            identity: "0",
            bill_id: bill_id.to_owned(),
            page_no: "1",
            page_size: "10",
        }
    }
}

/// The envelope of every business answer: `{"code", "describe", "result"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `code`.
    pub code: String,
    /// `describe` (or `message`), truncated to 300 characters.
    pub describe: String,
    /// The whole answer, for methods that put their data beside `result`.
    pub body: Value,
}

impl Envelope {
    /// Reads the envelope.
    ///
    /// # Errors
    /// A [`WireError`] when the body is not a JSON object with a `code`.
    pub fn parse(body: &[u8]) -> Result<Envelope, WireError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| wire_error("body", format!("not JSON ({e})")))?;
        let object = Object::root(&value)?;
        let code = object.text("code")?.into_owned();
        let describe = object
            .optional_text("describe")?
            .or(object.optional_text("message")?)
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        Ok(Envelope {
            code,
            describe,
            body: value,
        })
    }

    /// `result`.
    pub fn result(&self) -> Option<&Value> {
        self.body.get("result").filter(|v| !v.is_null())
    }
}

/// `invoiceSerialNum` in the answer to `requestBillingNew`.
///
/// # Errors
/// A [`WireError`] naming the field.
pub fn billing_serial(envelope: &Envelope) -> Result<ProviderRef, WireError> {
    let result = envelope
        .result()
        .ok_or_else(|| wire_error("result", "required"))?;
    let object = Object::at(result, "result")?;
    let serial = object.text("invoiceSerialNum")?;
    ProviderRef::parse(&serial).map_err(|e| object.error("invoiceSerialNum", e.rule))
}

/// What `queryInvoiceResult` says about one invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvoiceStatus {
    /// `2`: issued.
    Issued(IssuedInvoice),
    /// `20` 开票中, `21` 签章中.
    Pending(Option<ProviderRef>),
    /// `22`: failed, with `failCause`.
    Failed {
        /// `failCause` or `statusMsg`.
        cause: String,
    },
    /// `24`: issued but the seal failed; `reInvoice` applies.
    SealFailed(Option<ProviderRef>),
    /// `3` 已作废, `31` 作废中.
    Voided,
}

/// One `queryInvoiceResult` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueriedInvoice {
    /// `orderNo`.
    pub order_no: Option<String>,
    /// `status`, mapped.
    pub status: InvoiceStatus,
    /// `pdfUrl`.
    pub pdf_url: Option<String>,
}

/// The item of `order_no` in the answer to `queryInvoiceResult` (`None` when absent).
///
/// # Errors
/// A [`WireError`] naming the first bad field.
pub fn queried_invoice(
    envelope: &Envelope,
    order_no: &str,
) -> Result<Option<QueriedInvoice>, WireError> {
    let Some(result) = envelope.result() else {
        return Ok(None);
    };
    let Value::Array(items) = result else {
        return Err(wire_error(
            "result",
            format!("expected an array, got {}", type_name(result)),
        ));
    };
    for (index, item) in items.iter().enumerate() {
        let object = Object::at(item, &format!("result[{index}]"))?;
        let item_order = object.optional_text("orderNo")?;
        if item_order.is_some_and(|o| o != order_no) {
            continue;
        }
        return queried(&object).map(Some);
    }
    Ok(None)
}

fn queried(object: &Object<'_>) -> Result<QueriedInvoice, WireError> {
    let serial = object
        .optional_text("serialNo")?
        .map(|s| ProviderRef::parse(&s).map_err(|e| object.error("serialNo", e.rule)))
        .transpose()?;
    let status = match object.text("status")?.as_ref() {
        "2" => InvoiceStatus::Issued(issued(object, serial)?),
        "20" | "21" => InvoiceStatus::Pending(serial),
        "22" => InvoiceStatus::Failed {
            cause: object
                .optional_text("failCause")?
                .or(object.optional_text("statusMsg")?)
                .unwrap_or(Cow::Borrowed("开票失败"))
                .chars()
                .take(300)
                .collect(),
        },
        "24" => InvoiceStatus::SealFailed(serial),
        "3" | "31" => InvoiceStatus::Voided,
        other => {
            return Err(object.error(
                "status",
                format!("{other:?} is not 2, 20, 21, 22, 24, 3 or 31"),
            ));
        }
    };
    Ok(QueriedInvoice {
        order_no: object.optional_text("orderNo")?.map(Cow::into_owned),
        status,
        pdf_url: object.optional_text("pdfUrl")?.map(Cow::into_owned),
    })
}

fn issued(object: &Object<'_>, serial: Option<ProviderRef>) -> Result<IssuedInvoice, WireError> {
    // `allElectronicInvoiceNumber` is the 数电 number; older answers carry it in `invoiceNo`.
    let (name, text) = match object.optional_text("allElectronicInvoiceNumber")? {
        Some(text) => ("allElectronicInvoiceNumber", text),
        None => ("invoiceNo", object.text("invoiceNo")?),
    };
    let number = InvoiceNumber::digital(&text)
        .map_err(|_| object.error(name, format!("{text:?} is not a 20-digit 数电 number")))?;
    let kind = match (
        object.optional_text("invoiceLine")?.as_deref(),
        object.optional_text("invoiceKind")?.as_deref(),
    ) {
        (Some("bs"), _) => InvoiceKind::DigitalSpecial,
        (Some("pc"), _) => InvoiceKind::DigitalOrdinary,
        (Some(other), _) => {
            return Err(object.error("invoiceLine", format!("{other:?} is not pc or bs")));
        }
        (None, Some(kind)) if kind.contains("专用") => InvoiceKind::DigitalSpecial,
        (None, _) => InvoiceKind::DigitalOrdinary,
    };
    let time = object.text("invoiceTime")?;
    let issued_at = time
        .parse::<i64>()
        .ok()
        .filter(|ms| *ms > 0)
        .map(Timestamp::from_millis)
        .ok_or_else(|| {
            object.error("invoiceTime", format!("{time:?} is not epoch milliseconds"))
        })?;
    let amount_excl = yuan(object, "exTaxAmount")?;
    let tax = yuan(object, "taxAmount")?;
    let total = yuan(object, "orderAmount")?;
    if amount_excl.checked_add(tax) != Some(total) {
        return Err(object.error(
            "orderAmount",
            format!("{total} is not exTaxAmount + taxAmount = {amount_excl} + {tax}"),
        ));
    }
    let red_of = match object.optional_text("oldEleInvoiceNumber")?.as_deref() {
        None => None,
        Some(original) => {
            let original = InvoiceNumber::digital(original).map_err(|_| {
                object.error(
                    "oldEleInvoiceNumber",
                    format!("{original:?} is not a 20-digit 数电 number"),
                )
            })?;
            let code = object.text("redReason")?;
            let reason = red_reason_from_code(&code).ok_or_else(|| {
                object.error("redReason", format!("{code:?} is not Nuonuo's 1 to 4"))
            })?;
            Some(RedLink {
                original,
                red_form_number: None,
                reason,
            })
        }
    };
    Ok(IssuedInvoice {
        number,
        kind,
        issued_at,
        totals: Totals {
            amount_excl,
            tax,
            total,
        },
        qr_payload: object.optional_text("qrCode")?.map(Cow::into_owned),
        provider_ref: serial,
        red_of,
    })
}

fn yuan(object: &Object<'_>, name: &str) -> Result<Fen, WireError> {
    let text = object.text(name)?;
    Fen::parse_yuan(&text).map_err(|_| {
        object.error(
            name,
            format!("{text:?} is not an amount in yuan with at most two decimals"),
        )
    })
}

/// A 红字确认单 as `queryInvoiceRedConfirm` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedForm {
    /// `billNo`: the bureau's form number.
    pub bill_no: Option<String>,
    /// `billStatus`.
    pub bill_status: String,
    /// `openStatus` = 1: the red invoice is issued.
    pub opened: bool,
}

impl RedForm {
    /// Whether the form is dead (05–09 voided variants, 16 申请失败).
    pub fn is_dead(&self) -> bool {
        matches!(
            self.bill_status.as_str(),
            "05" | "06" | "07" | "08" | "09" | "16"
        )
    }
}

/// The form with `bill_id` in the answer to `queryInvoiceRedConfirm`; the list may sit beside
/// `code` (as documented), in `result.list`, or be `result` itself.
///
/// # Errors
/// A [`WireError`] naming the first bad field.
pub fn red_form(envelope: &Envelope, bill_id: &str) -> Result<Option<RedForm>, WireError> {
    let body = &envelope.body;
    let (path, list) = if let Some(list) = body.get("list").filter(|v| !v.is_null()) {
        ("list", list)
    } else if let Some(list) = envelope.result().and_then(|r| r.get("list")) {
        ("result.list", list)
    } else if let Some(list) = envelope.result() {
        ("result", list)
    } else {
        return Ok(None);
    };
    let Value::Array(items) = list else {
        return Err(wire_error(
            path,
            format!("expected an array, got {}", type_name(list)),
        ));
    };
    for (index, item) in items.iter().enumerate() {
        let object = Object::at(item, &format!("{path}[{index}]"))?;
        if object
            .optional_text("billId")?
            .is_some_and(|b| b != bill_id)
        {
            continue;
        }
        return Ok(Some(RedForm {
            bill_no: object.optional_text("billNo")?.map(Cow::into_owned),
            bill_status: object.text("billStatus")?.into_owned(),
            opened: object.optional_text("openStatus")?.as_deref() == Some("1"),
        }));
    }
    Ok(None)
}

/// A JSON object being read, with its path for error messages.
struct Object<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Object<'a> {
    fn root(value: &'a Value) -> Result<Object<'a>, WireError> {
        Object::at(value, "")
    }

    fn at(value: &'a Value, path: &str) -> Result<Object<'a>, WireError> {
        match value {
            Value::Object(map) => Ok(Object {
                path: path.to_owned(),
                map,
            }),
            other => Err(wire_error(
                if path.is_empty() { "body" } else { path },
                format!("expected a JSON object, got {}", type_name(other)),
            )),
        }
    }

    fn error(&self, name: &str, rule: impl Into<String>) -> WireError {
        let field = if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        };
        wire_error(field, rule)
    }

    /// A string or number field, `None` when absent, null or `""`.
    fn optional_text(&self, name: &str) -> Result<Option<Cow<'a, str>>, WireError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
            Some(Value::String(text)) => Ok(Some(Cow::Borrowed(text.trim()))),
            Some(Value::Number(number)) => Ok(Some(Cow::Owned(number.to_string()))),
            Some(other) => Err(self.error(
                name,
                format!("expected a string or a number, got {}", type_name(other)),
            )),
        }
    }

    fn text(&self, name: &str) -> Result<Cow<'a, str>, WireError> {
        self.optional_text(name)?
            .ok_or_else(|| self.error(name, "required"))
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

/// `yyyy-MM-dd HH:mm:ss` in China time.
pub fn china_date_time(at: Timestamp) -> String {
    let (year, month, day, hour, minute, second) = at.china_civil();
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
}
