//! The emulated Nuonuo in memory: tokens and their 30-day budget, invoices by order number,
//! red confirmation forms. Every method is synchronous, takes the time, and returns the JSON
//! answer Nuonuo would give (errors included), so every code path is decided here.

use std::collections::BTreeMap;

use fapiao_domain::Fen;
use fapiao_domain::TaxRate;
use fapiao_domain::tax::check_line_tax;
use serde::Serialize;
use serde_json::{Value, json};

use super::NuonuoEmulatorConfig;

/// Nuonuo's 30-day window of the token-call limit, in milliseconds.
const WINDOW_MILLIS: i64 = 30 * 24 * 3600 * 1000;

/// A business answer: `{"code", "describe", "result"}`.
pub fn answer(code: &str, describe: &str, result: Value) -> Value {
    json!({ "code": code, "describe": describe, "result": result })
}

fn error(code: &str, describe: &str) -> Value {
    json!({ "code": code, "describe": describe, "result": null })
}

/// One invoice at the emulated platform (blue or red).
#[derive(Debug, Clone, Serialize)]
pub struct EmulatedInvoice {
    /// `orderNo`.
    pub order_no: String,
    /// `invoiceSerialNum`.
    pub serial: String,
    /// The seller's tax id.
    pub tax_num: String,
    /// `status` as the query reports it now: 20, 2, 22, 24.
    pub status: String,
    /// `failCause` of a failed issue.
    pub fail_cause: Option<String>,
    /// The 20-digit 数电 number (once numbered at acceptance, shown when issued).
    pub number: String,
    /// `pc` or `bs`.
    pub invoice_line: String,
    /// Issue time, epoch milliseconds.
    pub issued_at: i64,
    /// Totals in fen.
    pub amount_excl: i64,
    /// Tax in fen.
    pub tax: i64,
    /// Total in fen.
    pub total: i64,
    /// For a red invoice: the blue number and Nuonuo's `redReason`.
    pub red_of: Option<(String, String)>,
    /// Queries still answered `E9500` (not yet known to the query service).
    pub unknown_polls: u32,
    /// Queries still answered `20` (issuing).
    pub pending_polls: u32,
    /// `reInvoice` calls today.
    pub reinvoices: u32,
    /// Whether a red invoice reversed it.
    pub reversed: bool,
    /// The `order` object as received (for the PDF and the callback).
    #[serde(skip)]
    pub order: Value,
}

/// A red confirmation form.
#[derive(Debug, Clone, Serialize)]
pub struct RedForm {
    /// `billId`.
    pub bill_id: String,
    /// `billNo`.
    pub bill_no: String,
    /// `billStatus`.
    pub bill_status: String,
    /// The red invoice's `orderNo`.
    pub order_no: String,
    /// The blue number.
    pub blue_number: String,
    /// `redReason`.
    pub red_reason: String,
    /// Queries before the bureau confirms and issues.
    pub polls_left: u32,
    /// Whether the red invoice exists.
    pub opened: bool,
}

/// A completed issue that must be pushed to a `callBackUrl`.
#[derive(Debug, Clone)]
pub struct Callback {
    /// Where.
    pub url: String,
    /// The form fields.
    pub form: Vec<(String, String)>,
}

/// Everything the emulator remembers.
#[derive(Debug, Default)]
pub struct NuonuoState {
    /// Issued access tokens → expiry (ms).
    pub tokens: BTreeMap<String, i64>,
    /// Times of token calls (ms), all of them.
    pub token_calls: Vec<i64>,
    /// The current ISV refresh token.
    pub refresh_token: Option<String>,
    /// Invoices by (tax id, orderNo).
    pub invoices: BTreeMap<(String, String), EmulatedInvoice>,
    /// Red forms by billId.
    pub red_forms: BTreeMap<String, RedForm>,
    /// Calls per method.
    pub calls: BTreeMap<String, u64>,
    /// Requests refused for their signature.
    pub signature_refusals: u64,
    /// Next invoice sequence.
    pub next_number: u64,
    /// Callbacks delivered (url, orderno, status).
    pub callbacks: Vec<(String, String, String)>,
}

impl NuonuoState {
    /// Token calls in the 30 days before `now`.
    pub fn token_calls_in_window(&self, now: i64) -> usize {
        self.token_calls
            .iter()
            .filter(|t| **t > now.saturating_sub(WINDOW_MILLIS))
            .count()
    }

    /// `POST /accessToken`.
    pub fn token(
        &mut self,
        config: &NuonuoEmulatorConfig,
        form: &BTreeMap<String, String>,
        new_token: String,
        now: i64,
    ) -> Value {
        let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
        let refuse = |code: &str, description: &str| json!({ "error": code, "error_description": description });
        match field("grant_type") {
            "client_credentials" => {
                if field("client_id") != config.app_key {
                    return refuse("070304", "Incorrect clientId");
                }
                if field("client_secret") != config.app_secret {
                    return refuse("070305", "Incorrect clientSecret");
                }
            }
            "refresh_token" => {
                let Some(user) = &config.isv_user_id else {
                    return refuse("070307", "Incorrect appType");
                };
                if field("client_id") != user {
                    return refuse("070304", "Incorrect clientId");
                }
                if field("client_secret") != config.app_secret {
                    return refuse("070305", "Incorrect clientSecret");
                }
                let current = self
                    .refresh_token
                    .clone()
                    .or_else(|| config.isv_refresh_token.clone());
                if current.as_deref() != Some(field("refresh_token")) {
                    return refuse("070308", "Incorrect refreshToken");
                }
            }
            _ => return refuse("070307", "Incorrect appType"),
        }
        if self.token_calls_in_window(now) >= config.token_budget as usize {
            return refuse("070306", "the number of token requests exceeds the limit");
        }
        self.token_calls.push(now);
        self.tokens.insert(
            new_token.clone(),
            now.saturating_add(config.token_ttl_seconds.saturating_mul(1000)),
        );
        let mut reply = json!({ "access_token": new_token, "expires_in": config.token_ttl_seconds.to_string() });
        if config.isv_user_id.is_some() {
            let refresh = format!("r{}", self.token_calls.len());
            self.refresh_token = Some(refresh.clone());
            reply["refresh_token"] = json!(refresh);
            reply["userId"] = json!(config.isv_user_id);
        }
        reply
    }

    /// Whether `token` is a live token.
    pub fn token_valid(&self, token: &str, now: i64) -> bool {
        self.tokens.get(token).is_some_and(|until| *until > now)
    }

    fn number(&mut self, now: i64) -> String {
        self.next_number += 1;
        let year = (1970 + now / 31_556_952_000) % 100;
        format!("{year:02}332{:015}", self.next_number)
    }

    /// `requestBillingNew`.
    pub fn request_billing(
        &mut self,
        config: &NuonuoEmulatorConfig,
        user_tax: &str,
        body: &Value,
        now: i64,
    ) -> Value {
        let Some(order) = body.get("order").filter(|o| o.is_object()) else {
            return error("E4000", "order: 必填");
        };
        let text = |name: &str| order.get(name).and_then(Value::as_str).unwrap_or_default();
        let order_no = text("orderNo");
        if order_no.is_empty() || order_no.chars().count() > 20 {
            return error("E4000", "orderNo: 必填且不超过20位");
        }
        if text("salerTaxNum") != user_tax {
            return error("E9302", "销方税号与请求头userTax不一致");
        }
        if text("buyerName").is_empty() {
            return error("E4000", "buyerName: 必填");
        }
        if text("clerk").is_empty() {
            return error("E4000", "clerk: 必填");
        }
        if text("invoiceType") != "1" {
            return error("E4000", "数电票冲红请对接数电快捷冲红接口");
        }
        let line = text("invoiceLine");
        if !matches!(line, "pc" | "bs") {
            return error("E4000", "invoiceLine: 仅支持pc、bs");
        }
        if line == "bs" && text("buyerTaxNum").is_empty() {
            return error("E4000", "buyerTaxNum: 数电专票必填");
        }
        let key = (user_tax.to_owned(), order_no.to_owned());
        if self.invoices.contains_key(&key) {
            return error("E9106", "订单编号重复");
        }
        let Some(lines) = order
            .get("invoiceDetail")
            .and_then(Value::as_array)
            .filter(|l| !l.is_empty())
        else {
            return error("E9122", "发票明细不能为空");
        };
        let (mut amount_excl, mut tax, mut total) = (0_i64, 0_i64, 0_i64);
        for (index, line) in lines.iter().enumerate() {
            let text = |name: &str| line.get(name).and_then(Value::as_str).unwrap_or_default();
            let code = text("goodsCode");
            if code.len() != 19 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return error("E9138", &format!("第{}行商品编码有误", index + 1));
            }
            let parse = |name: &str| Fen::parse_yuan(text(name)).ok();
            let (Some(excl), Some(line_tax), Some(incl)) = (
                parse("taxExcludedAmount"),
                parse("tax"),
                parse("taxIncludedAmount"),
            ) else {
                return error("E9123", &format!("第{}行金额格式有误", index + 1));
            };
            if excl.checked_add(line_tax) != Some(incl) {
                return error(
                    "E9125",
                    &format!("第{}行含税金额不等于不含税金额加税额", index + 1),
                );
            }
            let Ok(rate) = TaxRate::parse(text("taxRate")) else {
                return error("E9127", &format!("第{}行税率有误", index + 1));
            };
            if check_line_tax(excl, line_tax, rate).is_err() {
                return error("E9131", "金额*税率-税额>0.06");
            }
            amount_excl = amount_excl.saturating_add(excl.get());
            tax = tax.saturating_add(line_tax.get());
            total = total.saturating_add(incl.get());
        }
        let serial = format!("{}{:06}", now, self.invoices.len() % 1_000_000)
            .chars()
            .take(20)
            .collect::<String>();
        let number = self.number(now);
        self.invoices.insert(
            key,
            EmulatedInvoice {
                order_no: order_no.to_owned(),
                serial: serial.clone(),
                tax_num: user_tax.to_owned(),
                status: "20".to_owned(),
                fail_cause: None,
                number,
                invoice_line: line.to_owned(),
                issued_at: now,
                amount_excl,
                tax,
                total,
                red_of: None,
                unknown_polls: config.unknown_polls,
                pending_polls: config.pending_polls,
                reinvoices: 0,
                reversed: false,
                order: order.clone(),
            },
        );
        answer(
            "E0000",
            "开票提交成功",
            json!({ "invoiceSerialNum": serial }),
        )
    }

    /// `queryInvoiceResult`: each query of an invoice counts one poll; returns the answer and
    /// the callbacks of invoices this query completed.
    pub fn query(
        &mut self,
        config: &NuonuoEmulatorConfig,
        user_tax: &str,
        body: &Value,
    ) -> (Value, Vec<Callback>) {
        let list = |name: &str| -> Vec<String> {
            body.get(name)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let serials = list("serialNos");
        let orders = list("orderNos");
        if serials.is_empty() && orders.is_empty() {
            return (error("E9611", "流水号和订单号不能同时为空"), Vec::new());
        }
        if serials.len() > 50 || orders.len() > 50 {
            return (error("E4000", "最多查询50条"), Vec::new());
        }
        let by_serial = !serials.is_empty();
        let mut items = Vec::new();
        let mut callbacks = Vec::new();
        for invoice in self.invoices.values_mut() {
            if invoice.tax_num != user_tax {
                continue;
            }
            let wanted = if by_serial {
                serials.contains(&invoice.serial)
            } else {
                orders.contains(&invoice.order_no)
            };
            if !wanted {
                continue;
            }
            if invoice.unknown_polls > 0 {
                invoice.unknown_polls -= 1;
                continue;
            }
            if invoice.status == "20" {
                if invoice.pending_polls > 0 {
                    invoice.pending_polls -= 1;
                } else {
                    invoice.status = "2".to_owned();
                    if let Some(callback) = callback_of(invoice) {
                        callbacks.push(callback);
                    }
                }
            }
            items.push(item(config, invoice));
        }
        if items.is_empty() {
            return (error("E9500", "发票不存在"), callbacks);
        }
        (answer("E0000", "查询成功", Value::Array(items)), callbacks)
    }

    /// Completes an invoice at once (the timer of asynchronous completion).
    pub fn complete(&mut self, tax_num: &str, order_no: &str) -> Option<Callback> {
        let invoice = self
            .invoices
            .get_mut(&(tax_num.to_owned(), order_no.to_owned()))?;
        if invoice.status != "20" {
            return None;
        }
        invoice.status = "2".to_owned();
        invoice.pending_polls = 0;
        invoice.unknown_polls = 0;
        callback_of(invoice)
    }

    /// Fails an invoice (`22` with a cause, or `24`), for tests of `reInvoice`.
    pub fn fail(&mut self, order_no: &str, status: &str, cause: Option<String>) -> bool {
        let Some(invoice) = self.invoices.values_mut().find(|i| i.order_no == order_no) else {
            return false;
        };
        invoice.status = status.to_owned();
        invoice.fail_cause = cause;
        true
    }

    /// `reInvoice`.
    pub fn re_invoice(&mut self, user_tax: &str, body: &Value) -> Value {
        let text = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
        let (serial, order_no) = (text("fpqqlsh"), text("orderno"));
        let Some(invoice) = self.invoices.values_mut().find(|i| {
            i.tax_num == user_tax
                && if serial.is_empty() {
                    i.order_no == order_no
                } else {
                    i.serial == serial
                }
        }) else {
            return error("E9500", "发票不存在");
        };
        match invoice.status.as_str() {
            "2" => answer("E0000", "发票已生成，无需再重试开票", Value::Null),
            "20" => answer("E0000", "开票中（重试中）", Value::Null),
            _ if invoice.reinvoices >= 20 => error("E9613", "同一流水号每天最多重试20次"),
            _ => {
                invoice.reinvoices += 1;
                invoice.status = "20".to_owned();
                invoice.fail_cause = None;
                answer("E0000", "开票中（重试中）", Value::Null)
            }
        }
    }

    /// `saveInvoiceRedConfirm`.
    pub fn save_red_confirm(
        &mut self,
        config: &NuonuoEmulatorConfig,
        user_tax: &str,
        body: &Value,
        now: i64,
    ) -> Value {
        let text = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
        let bill_id = text("billId");
        if bill_id.is_empty() || bill_id.len() > 32 {
            return error("E4000", "billId: 必填且不超过32位");
        }
        if self.red_forms.contains_key(bill_id) {
            return error("E9530", "billId重复");
        }
        if text("sellerTaxNo") != user_tax {
            return error("E9302", "销方税号与请求头userTax不一致");
        }
        if !matches!(text("redReason"), "1" | "2" | "3" | "4") {
            return error(
                "E4000",
                "redReason: 1 销货退回 2 开票有误 3 服务中止 4 销售折让",
            );
        }
        let blue_number = text("blueElecInvoiceNumber");
        let Some(blue) = self
            .invoices
            .values()
            .find(|i| i.number == blue_number && i.tax_num == user_tax && i.red_of.is_none())
        else {
            return error("E9500", "蓝字发票不存在");
        };
        if blue.status != "2" {
            return error("E9500", "蓝字发票未开具成功");
        }
        if blue.reversed
            || self
                .red_forms
                .values()
                .any(|f| f.blue_number == blue_number)
        {
            return error("E9531", "该蓝字发票已申请红字确认单");
        }
        let order_no = match text("orderNo") {
            "" => format!("RED{}", self.red_forms.len() + 1),
            order_no => order_no.to_owned(),
        };
        let bill_no = format!(
            "{:020}",
            now % 100_000_000_000 * 1000 + self.red_forms.len() as i64
        );
        self.red_forms.insert(
            bill_id.to_owned(),
            RedForm {
                bill_id: bill_id.to_owned(),
                bill_no,
                bill_status: "15".to_owned(),
                order_no,
                blue_number: blue_number.to_owned(),
                red_reason: text("redReason").to_owned(),
                polls_left: config.red_polls,
                opened: false,
            },
        );
        answer("E0000", "保存成功", json!(bill_id))
    }

    /// `queryInvoiceRedConfirm`: each query of a form counts one poll; when the polls run out
    /// the form is confirmed (`01`) and the bureau issues the red invoice at once.
    pub fn query_red_confirm(&mut self, user_tax: &str, body: &Value, now: i64) -> Value {
        let text = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
        let (bill_id, bill_no) = (text("billId"), text("billNo"));
        let ids: Vec<String> = self
            .red_forms
            .values()
            .filter(|f| {
                (!bill_id.is_empty() && f.bill_id == bill_id)
                    || (!bill_no.is_empty() && f.bill_no == bill_no)
            })
            .map(|f| f.bill_id.clone())
            .collect();
        let mut list = Vec::new();
        for id in ids {
            let Some(form) = self.red_forms.get_mut(&id) else {
                continue;
            };
            if !form.opened {
                if form.polls_left > 0 {
                    form.polls_left -= 1;
                } else {
                    form.bill_status = "01".to_owned();
                    form.opened = true;
                    let form = form.clone();
                    self.issue_red(user_tax, &form, now);
                }
            }
            let Some(form) = self.red_forms.get(&id) else {
                continue;
            };
            let red = self
                .invoices
                .get(&(user_tax.to_owned(), form.order_no.clone()));
            list.push(json!({
                "billId": form.bill_id,
                "billNo": form.bill_no,
                "billUuid": format!("uuid{}", form.bill_no),
                "billStatus": form.bill_status,
                "openStatus": if form.opened { "1" } else { "0" },
                "orderNo": form.order_no,
                "invoiceSerialNum": red.map(|r| r.serial.clone()),
                "redInvoiceNumber": red.map(|r| r.number.clone()),
            }));
        }
        json!({ "code": "0000", "describe": "查询成功", "total": list.len(), "list": list })
    }

    fn issue_red(&mut self, user_tax: &str, form: &RedForm, now: i64) {
        let Some(blue) = self
            .invoices
            .values_mut()
            .find(|i| i.number == form.blue_number && i.tax_num == user_tax)
        else {
            return;
        };
        blue.reversed = true;
        let blue = blue.clone();
        let number = self.number(now);
        let serial = format!("{now}R{:05}", self.invoices.len())
            .chars()
            .take(20)
            .collect();
        self.invoices.insert(
            (user_tax.to_owned(), form.order_no.clone()),
            EmulatedInvoice {
                order_no: form.order_no.clone(),
                serial,
                tax_num: user_tax.to_owned(),
                status: "2".to_owned(),
                fail_cause: None,
                number,
                invoice_line: blue.invoice_line.clone(),
                issued_at: now,
                amount_excl: blue.amount_excl.saturating_neg(),
                tax: blue.tax.saturating_neg(),
                total: blue.total.saturating_neg(),
                red_of: Some((blue.number.clone(), form.red_reason.clone())),
                unknown_polls: 0,
                pending_polls: 0,
                reinvoices: 0,
                reversed: false,
                order: blue.order.clone(),
            },
        );
    }
}

fn yuan(fen: i64) -> String {
    Fen::new(fen).to_yuan_string()
}

/// The `queryInvoiceResult` item of an invoice.
fn item(config: &NuonuoEmulatorConfig, invoice: &EmulatedInvoice) -> Value {
    let issued = invoice.status == "2";
    let (old, reason) = invoice
        .red_of
        .clone()
        .map_or((String::new(), String::new()), |(n, r)| (n, r));
    json!({
        "serialNo": invoice.serial,
        "orderNo": invoice.order_no,
        "status": invoice.status,
        "statusMsg": match invoice.status.as_str() {
            "2" => "开票完成（最终状态）",
            "20" => "开票中",
            "22" => "开票失败",
            "24" => "开票成功签章失败",
            _ => "",
        },
        "failCause": invoice.fail_cause.clone().unwrap_or_default(),
        "allElectronicInvoiceNumber": if issued { invoice.number.clone() } else { String::new() },
        "invoiceNo": if issued { invoice.number.clone() } else { String::new() },
        "invoiceCode": "",
        "invoiceTime": invoice.issued_at,
        "exTaxAmount": yuan(invoice.amount_excl),
        "taxAmount": yuan(invoice.tax),
        "orderAmount": yuan(invoice.total),
        "invoiceLine": invoice.invoice_line,
        "invoiceKind": if invoice.invoice_line == "bs" { "电子发票(增值税专用发票)" } else { "电子发票(普通发票)" },
        "pdfUrl": if issued { format!("{}/nuonuo/pdf/{}.pdf", config.public_base_url.clone().unwrap_or_default(), invoice.serial) } else { String::new() },
        "ofdUrl": "",
        "qrCode": if issued { format!("01,32,,{},{},{},,", invoice.number, yuan(invoice.total), invoice.issued_at) } else { String::new() },
        "oldEleInvoiceNumber": old,
        "redReason": reason,
        "checkCode": "",
    })
}

fn callback_of(invoice: &EmulatedInvoice) -> Option<Callback> {
    let url = invoice
        .order
        .get("callBackUrl")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())?
        .to_owned();
    let content = json!({
        "c_status": "1",
        "c_fpqqlsh": invoice.serial,
        "c_orderno": invoice.order_no,
        "c_kprq": invoice.issued_at,
        "c_fpdm": "",
        "c_fphm": "",
        "allElectronicInvoiceNumber": invoice.number,
        "c_hjse": yuan(invoice.total),
        "c_bhsje": yuan(invoice.amount_excl),
    });
    Some(Callback {
        url,
        form: vec![
            ("operater".to_owned(), "callback".to_owned()),
            ("orderno".to_owned(), invoice.order_no.clone()),
            ("content".to_owned(), content.to_string()),
        ],
    })
}
