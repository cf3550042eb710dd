//! The merchant APIs (`setbizattr`, `getauthurl`, `getauthdata`, `rejectinsert`) and the
//! simulated buyer who authorizes, and pays with WeChat Pay.

use fapiao_domain::AccountRole;
use fapiao_weixin::wire::{AuthFieldSetting, PayMchInfo};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::{AuthInfoFields, AuthUrlCaller, PostPaymentOrderId};
use crate::error::{ApiError, ControlError};
use crate::push::{EventBody, EventMessage};
use crate::state::{
    Answer, ApiResult, Authorization, BuyerTitle, Order, OrderStatus, Payment, Rejection, State,
    TitleKind,
};
use crate::wire::{
    BizFieldAnswer, GetAuthDataAnswer, GetAuthUrlBody, OrderRefBody, RejectBody, SetAuthFieldBody,
    SetContactBody, SetPayMchBody, UserAuthInfoAnswer, UserFieldAnswer, parse_body,
};

/// What the control API and the auth page send when the buyer acts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// The order's platform id.
    pub s_pappid: String,
    /// The order.
    pub order_id: String,
    /// The title the buyer picks (needed on page style 1).
    #[serde(default)]
    pub title: Option<BuyerTitle>,
    /// The buyer's authorization fails instead (`FailOrderId`).
    #[serde(default)]
    pub fail: bool,
    /// Another buyer than the default one.
    #[serde(default)]
    pub openid: Option<String>,
    /// Answer only when the pushes are delivered (or have failed).
    #[serde(default)]
    pub wait: bool,
}

/// A simulated WeChat Pay payment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// Amount in fen.
    pub money: i64,
    /// `Y` shows the invoice entry on the receipt (the default); anything else does not.
    #[serde(default)]
    pub receipt: Option<String>,
    /// The merchant's id of the payment; minted when absent.
    #[serde(default)]
    pub out_trade_no: Option<String>,
    /// The paying merchant number; must match the `set_pay_mch` binding when given.
    #[serde(default)]
    pub mchid: Option<String>,
    /// The account the payment is made under; the platform Official Account when absent.
    #[serde(default)]
    pub appid: Option<String>,
}

/// An order as the control API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct OrderView {
    /// Platform id.
    pub s_pappid: String,
    /// Order id.
    pub order_id: String,
    /// Where it stands.
    pub status: OrderStatus,
    /// The account that obtained the auth URL.
    pub authorize_appid: String,
    /// `getauthurl` `source`.
    pub source: String,
    /// Auth page style.
    pub page_type: u8,
    /// Amount in fen.
    pub money: i64,
    /// The auth page.
    pub auth_url: String,
    /// Where the page goes after authorizing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// The buyer, once they acted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openid: Option<String>,
    /// The chosen title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<BuyerTitle>,
    /// When the buyer authorized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The merchant's rejection reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_reason: Option<String>,
    /// The inserted card `(card_id, code)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_id: Option<String>,
    /// The inserted card code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The WeChat Pay transaction of a post-payment order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// The answer of a simulated payment.
#[derive(Debug, Clone, Serialize)]
pub struct PayOutcome {
    /// The payment.
    pub payment: Payment,
    /// The authorizable order behind the receipt's invoice entry (`receipt=Y` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderView>,
}

impl State {
    pub(crate) fn order_view(&self, order: &Order) -> OrderView {
        let authorization = order.authorization.as_ref();
        OrderView {
            s_pappid: order.s_pappid.clone(),
            order_id: order.order_id.clone(),
            status: order.status(),
            authorize_appid: order.authorize_appid.clone(),
            source: order.source.clone(),
            page_type: order.page_type,
            money: order.money,
            auth_url: self.auth_url(order),
            redirect_url: order.redirect_url.clone(),
            openid: authorization
                .map(|a| a.openid.clone())
                .or_else(|| order.failed.as_ref().map(|(_, openid)| openid.clone())),
            title: authorization.and_then(|a| a.title.clone()),
            auth_time: authorization.map(|a| a.at),
            reject_reason: order.rejection.as_ref().map(|r| r.reason.clone()),
            card_id: order.card.as_ref().map(|(card_id, _)| card_id.clone()),
            code: order.card.as_ref().map(|(_, code)| code.clone()),
            transaction_id: order.transaction_id.clone(),
            created_at: order.created_at,
        }
    }

    /// Every order, oldest first.
    pub(crate) fn order_views(&self) -> Vec<OrderView> {
        let mut orders: Vec<&Order> = self.orders.values().collect();
        orders.sort_by_key(|o| o.seq);
        orders.into_iter().map(|o| self.order_view(o)).collect()
    }

    /// `setbizattr?action=…` (reference §4.3–4.5), settings kept per calling account.
    pub(crate) fn setbizattr(
        &mut self,
        caller: &str,
        action: Option<&str>,
        body: &[u8],
    ) -> ApiResult {
        let account = self.account(caller).ok_or_else(|| ApiError::code(40013))?;
        match action.map(str::trim).unwrap_or_default() {
            "set_contact" => {
                let body: SetContactBody = parse_body(body, false)?;
                let contact = body
                    .contact
                    .ok_or_else(|| ApiError::invalid("contact is empty"))?;
                if contact.phone.trim().is_empty() {
                    return Err(ApiError::invalid("contact.phone is empty"));
                }
                if contact.time_out <= 0 {
                    return Err(ApiError::invalid("contact.time_out must be positive"));
                }
                if let Some(account) = self.account_mut(caller) {
                    account.contact = Some(contact);
                }
                Ok(Answer::ok())
            }
            "get_contact" => {
                parse_body::<serde_json::Value>(body, true)?;
                Ok(match &account.contact {
                    Some(contact) => Answer::Ok(json!({ "contact": contact })),
                    None => Answer::ok(),
                })
            }
            "set_auth_field" => {
                let body: SetAuthFieldBody = parse_body(body, false)?;
                let fields: AuthFieldSetting = body
                    .auth_field
                    .ok_or_else(|| ApiError::invalid("auth_field is empty"))?;
                if let Some(account) = self.account_mut(caller) {
                    account.auth_field = Some(fields);
                }
                Ok(Answer::ok())
            }
            "get_auth_field" => {
                parse_body::<serde_json::Value>(body, true)?;
                Ok(match &account.auth_field {
                    Some(fields) => Answer::Ok(json!({ "auth_field": fields })),
                    None => Answer::ok(),
                })
            }
            "set_pay_mch" => {
                let body: SetPayMchBody = parse_body(body, false)?;
                let info: PayMchInfo = body
                    .paymch_info
                    .ok_or_else(|| ApiError::invalid("paymch_info is empty"))?;
                let mchid = info.mchid.trim();
                if mchid.is_empty()
                    || !mchid.bytes().all(|b| b.is_ascii_digit())
                    || mchid.len() > 32
                {
                    return Err(ApiError::code(72030));
                }
                let s_pappid = info.s_pappid.trim();
                if s_pappid.is_empty() {
                    return Err(ApiError::invalid("s_pappid is empty"));
                }
                if self.account_by_s_pappid(s_pappid).is_none() {
                    return Err(ApiError::invalid("s_pappid is invalid"));
                }
                let info = PayMchInfo {
                    mchid: mchid.to_owned(),
                    s_pappid: s_pappid.to_owned(),
                };
                if let Some(account) = self.account_mut(caller) {
                    account.pay_mch = Some(info);
                }
                Ok(Answer::ok())
            }
            "get_pay_mch" => {
                parse_body::<serde_json::Value>(body, true)?;
                match &account.pay_mch {
                    Some(info) => Ok(Answer::Ok(json!({ "paymch_info": info }))),
                    None => Err(ApiError::code(72028)),
                }
            }
            "" => Err(ApiError::invalid("action is empty")),
            other => Err(ApiError::invalid(format!("action {other} is invalid"))),
        }
    }

    /// Checks `s_pappid` as every merchant API does: 72031 when empty or unknown.
    fn known_s_pappid(&self, s_pappid: &str) -> Result<String, ApiError> {
        if s_pappid.is_empty() {
            return Err(ApiError::invalid("s_pappid is empty"));
        }
        self.account_by_s_pappid(s_pappid)
            .map(|a| a.appid.to_string())
            .ok_or_else(|| ApiError::invalid("s_pappid is invalid"))
    }

    /// `getauthurl` (reference §4.6).
    pub(crate) fn getauthurl(&mut self, caller: &str, body: &[u8], now: i64) -> ApiResult {
        let body: GetAuthUrlBody = parse_body(body, false)?;
        let owner = self.known_s_pappid(&body.s_pappid)?;
        if self.settings.unconfirmed.getauthurl_caller == AuthUrlCaller::PlatformOnly
            && owner != caller
        {
            return Err(ApiError::code(72015));
        }
        if body.order_id.is_empty() {
            return Err(ApiError::invalid("order_id is empty"));
        }
        if body.order_id.len() > 64 {
            return Err(ApiError::invalid("order_id is too long"));
        }
        let money = body
            .money
            .ok_or_else(|| ApiError::invalid("money is empty"))?;
        if money <= 0 {
            return Err(ApiError::invalid("money must be positive"));
        }
        if body.timestamp.is_none() {
            return Err(ApiError::invalid("timestamp is empty"));
        }
        let source = body.source.as_str();
        if !matches!(source, "app" | "web" | "wxa" | "wap") {
            return Err(ApiError::invalid(format!(
                "source {source:?} is invalid (app, web, wxa or wap)"
            )));
        }
        let page_type = match body.page_type {
            Some(t @ 0..=2) => u8::try_from(t).unwrap_or_default(),
            Some(other) => return Err(ApiError::invalid(format!("type {other} is invalid"))),
            None => return Err(ApiError::invalid("type is empty")),
        };
        if body.ticket.is_empty() {
            return Err(ApiError::invalid("ticket is empty"));
        }
        if self.wx_card_ticket_owner(&body.ticket, now).is_none() {
            return Err(ApiError::invalid("ticket is invalid or expired"));
        }
        // Contact and auth fields count when set on the caller or on the platform account.
        let set_on = |f: &dyn Fn(&crate::state::AccountState) -> bool| {
            [caller, owner.as_str()]
                .iter()
                .filter_map(|appid| self.account(appid))
                .any(f)
        };
        if !set_on(&|a| a.contact.is_some()) {
            return Err(ApiError::code(72063));
        }
        if page_type == 1 && !set_on(&|a| a.auth_field.is_some()) {
            return Err(ApiError::code(72029));
        }
        let key = (body.s_pappid.clone(), body.order_id.clone());
        let auth_key = self.minter.auth_key();
        let seq = self.order_seq + 1;
        let order = self.orders.entry(key).or_insert_with(|| Order {
            seq,
            s_pappid: body.s_pappid.clone(),
            order_id: body.order_id.clone(),
            authorize_appid: caller.to_owned(),
            source: source.to_owned(),
            page_type,
            money,
            redirect_url: body.redirect_url.clone(),
            created_at: now,
            auth_key,
            auth_url_issued_at: now,
            transaction_id: None,
            authorization: None,
            failed: None,
            rejection: None,
            card: None,
        });
        if order.seq == seq {
            self.order_seq = seq;
        } else if matches!(order.status(), OrderStatus::Pending | OrderStatus::Failed) {
            // A new auth URL for an order the buyer has not authorized replaces the old one.
            order.authorize_appid = caller.to_owned();
            order.source = source.to_owned();
            order.page_type = page_type;
            order.money = money;
            order.redirect_url = body.redirect_url.clone();
            order.auth_url_issued_at = now;
            order.failed = None;
        }
        let order = order.clone();
        let mut answer = json!({ "auth_url": self.auth_url(&order) });
        if source == "wxa" {
            answer["appid"] = json!(self.settings.unconfirmed.invoice_wxa_appid);
        }
        Ok(Answer::Ok(answer))
    }

    /// `getauthdata` (reference §4.9).
    pub(crate) fn getauthdata(&self, body: &[u8]) -> ApiResult {
        let body: OrderRefBody = parse_body(body, false)?;
        self.known_s_pappid(&body.s_pappid)?;
        if body.order_id.is_empty() {
            return Err(ApiError::invalid("order_id is empty"));
        }
        let never = || {
            Answer::Ok(json!(GetAuthDataAnswer {
                invoice_status: "never auth".to_owned(),
                ..GetAuthDataAnswer::default()
            }))
        };
        let Some(order) = self.orders.get(&(body.s_pappid, body.order_id)) else {
            return Ok(never());
        };
        match order.status() {
            OrderStatus::Rejected => Err(ApiError::code(72035)),
            OrderStatus::Pending => Ok(never()),
            OrderStatus::Failed => Ok(Answer::Ok(json!(GetAuthDataAnswer {
                invoice_status: self.settings.unconfirmed.failed_invoice_status.clone(),
                ..GetAuthDataAnswer::default()
            }))),
            OrderStatus::Authorized | OrderStatus::Inserted => {
                let authorization = order.authorization.as_ref();
                let user_auth_info = (order.page_type == 1)
                    .then(|| authorization.and_then(|a| a.title.as_ref()))
                    .flatten()
                    .map(|title| self.user_auth_info(title));
                Ok(Answer::Ok(json!(GetAuthDataAnswer {
                    invoice_status: "auth success".to_owned(),
                    auth_time: authorization.map(|a| a.at),
                    user_auth_info,
                })))
            }
        }
    }

    fn user_auth_info(&self, title: &BuyerTitle) -> UserAuthInfoAnswer {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let personal = UserFieldAnswer {
            title: title.title.clone(),
            phone: text(&title.phone),
            email: text(&title.email),
            custom_field: Vec::new(),
        };
        let company = BizFieldAnswer {
            title: title.title.clone(),
            tax_no: text(&title.tax_no),
            addr: text(&title.addr),
            phone: text(&title.phone),
            bank_type: text(&title.bank_type),
            bank_no: text(&title.bank_no),
            custom_field: Vec::new(),
        };
        let both = self.settings.unconfirmed.user_auth_info == AuthInfoFields::Both;
        match title.kind {
            TitleKind::Personal => UserAuthInfoAnswer {
                user_field: Some(personal),
                biz_field: both.then(BizFieldAnswer::default),
            },
            TitleKind::Company => UserAuthInfoAnswer {
                user_field: both.then(UserFieldAnswer::default),
                biz_field: Some(company),
            },
        }
    }

    /// `rejectinsert` (reference §4.10): the order can never be invoiced afterwards.
    pub(crate) fn rejectinsert(&mut self, body: &[u8], now: i64) -> ApiResult {
        let body: RejectBody = parse_body(body, false)?;
        self.known_s_pappid(&body.s_pappid)?;
        if body.order_id.is_empty() {
            return Err(ApiError::invalid("order_id is empty"));
        }
        if body.reason.is_empty() {
            return Err(ApiError::invalid("reason is empty"));
        }
        let key = (body.s_pappid.clone(), body.order_id.clone());
        let order = self
            .orders
            .get_mut(&key)
            .ok_or_else(|| ApiError::code(72038))?;
        match order.status() {
            OrderStatus::Rejected => return Ok(Answer::ok()),
            OrderStatus::Inserted => return Err(ApiError::code(72024)),
            OrderStatus::Pending | OrderStatus::Failed => return Err(ApiError::code(72038)),
            OrderStatus::Authorized => {}
        }
        order.rejection = Some(Rejection {
            reason: body.reason.clone(),
        });
        let openid = order
            .authorization
            .as_ref()
            .map(|a| a.openid.clone())
            .unwrap_or_default();
        self.notices.push(crate::state::Notice {
            openid,
            order_id: body.order_id,
            reason: body.reason,
            url: body.url,
            at: now,
        });
        Ok(Answer::ok())
    }

    /// The buyer authorizes (or fails to) on the auth page; records the
    /// `user_authorize_invoice` push to the platform account and returns its id.
    pub(crate) fn authorize(
        &mut self,
        request: &AuthorizeRequest,
        now: i64,
    ) -> Result<(OrderView, u64), ControlError> {
        let key = (request.s_pappid.clone(), request.order_id.clone());
        let default_openid = self.default_openid(&request.s_pappid);
        let order = self.orders.get_mut(&key).ok_or_else(|| {
            ControlError::not_found(format!(
                "no order {} under s_pappid {}: call getauthurl (or pay) first",
                request.order_id, request.s_pappid
            ))
        })?;
        match order.status() {
            OrderStatus::Pending | OrderStatus::Failed => {}
            status => {
                return Err(ControlError::conflict(format!(
                    "order {} is already {}",
                    request.order_id,
                    serde_json::to_value(status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                )));
            }
        }
        let openid = request
            .openid
            .clone()
            .filter(|o| !o.trim().is_empty())
            .unwrap_or(default_openid);
        if fapiao_domain::OpenId::parse(&openid).is_err() {
            return Err(ControlError::bad_request(
                "openid: ASCII letters, digits, '_' and '-' only",
            ));
        }
        let (succ_order_id, fail_order_id) = if request.fail {
            order.failed = Some((now, openid.clone()));
            (String::new(), order.order_id.clone())
        } else {
            let title = request.title.clone().map(trim_title);
            if let Some(title) = &title
                && title.title.is_empty()
            {
                return Err(ControlError::bad_request("title.title must not be empty"));
            }
            if order.page_type == 1 && title.is_none() {
                return Err(ControlError::bad_request(
                    "page style 1 (fill in title): a title is required",
                ));
            }
            order.authorization = Some(Authorization {
                at: now,
                openid: openid.clone(),
                title,
            });
            order.failed = None;
            (order.order_id.clone(), String::new())
        };
        let order = order.clone();
        let view = self.order_view(&order);
        let receiver = self
            .account_by_s_pappid(&order.s_pappid)
            .map(|a| (a.appid.to_string(), a.original_id.clone()));
        let Some((receiver, to_user_name)) = receiver else {
            return Err(ControlError::not_found("no account owns this s_pappid"));
        };
        let push = self.record_push(
            &receiver,
            &EventMessage {
                to_user_name,
                from_user_name: openid,
                create_time: now,
                body: EventBody::Authorize {
                    succ_order_id,
                    fail_order_id,
                    authorize_appid: order.authorize_appid.clone(),
                    source: order.source.clone(),
                    s_pappid: order.s_pappid.clone(),
                },
            },
        );
        Ok((view, push))
    }

    /// A WeChat Pay payment; with `receipt=Y` its receipt carries the invoice entry, i.e. an
    /// authorizable order (page style 1) under the bound `s_pappid`.
    pub(crate) fn pay(
        &mut self,
        request: &PayRequest,
        now: i64,
    ) -> Result<PayOutcome, ControlError> {
        if request.money <= 0 {
            return Err(ControlError::bad_request(
                "money must be a positive number of fen",
            ));
        }
        let account = match &request.appid {
            Some(appid) => self.account(appid),
            None => self.platform_account(),
        }
        .ok_or_else(|| ControlError::not_found("no such account"))?;
        if account.config.role == AccountRole::OpenPlatformApp && request.appid.is_none() {
            return Err(ControlError::bad_request("pay needs an official account"));
        }
        let appid = account.appid.to_string();
        let binding = account.pay_mch.clone().ok_or_else(|| {
            ControlError::conflict(format!(
                "account {appid} has no WeChat Pay merchant bound: call setbizattr?action=set_pay_mch first (72028)"
            ))
        })?;
        if let Some(mchid) = &request.mchid
            && *mchid != binding.mchid
        {
            return Err(ControlError::conflict(format!(
                "mchid {mchid} is not the bound merchant {}",
                binding.mchid
            )));
        }
        let receipt = request
            .receipt
            .as_deref()
            .is_none_or(|r| r.eq_ignore_ascii_case("y"));
        let transaction_id = self.minter.transaction_id();
        let out_trade_no = match &request.out_trade_no {
            Some(no) if !no.trim().is_empty() => no.trim().to_owned(),
            _ => self.minter.out_trade_no(),
        };
        let order_id = match self.settings.unconfirmed.post_payment_order_id {
            PostPaymentOrderId::TransactionId => transaction_id.clone(),
            PostPaymentOrderId::OutTradeNo => out_trade_no.clone(),
        };
        let mut payment = Payment {
            transaction_id: transaction_id.clone(),
            out_trade_no,
            mchid: binding.mchid.clone(),
            money: request.money,
            receipt,
            order_id: None,
            paid_at: now,
        };
        let mut order_view = None;
        if receipt {
            let key = (binding.s_pappid.clone(), order_id.clone());
            if self.orders.contains_key(&key) {
                return Err(ControlError::conflict(format!(
                    "order {order_id} already exists under s_pappid {}",
                    binding.s_pappid
                )));
            }
            self.order_seq += 1;
            let order = Order {
                seq: self.order_seq,
                s_pappid: binding.s_pappid.clone(),
                order_id: order_id.clone(),
                authorize_appid: appid,
                source: self.settings.unconfirmed.post_payment_source.clone(),
                page_type: 1,
                money: request.money,
                redirect_url: None,
                created_at: now,
                auth_key: self.minter.auth_key(),
                auth_url_issued_at: now,
                transaction_id: Some(transaction_id),
                authorization: None,
                failed: None,
                rejection: None,
                card: None,
            };
            order_view = Some(self.order_view(&order));
            self.orders.insert(key, order);
            payment.order_id = Some(order_id);
        }
        self.payments.push(payment.clone());
        Ok(PayOutcome {
            payment,
            order: order_view,
        })
    }

    /// The auth page's order, if `key` is the latest one issued and the URL has not expired.
    pub(crate) fn order_for_page(
        &self,
        s_pappid: &str,
        order_id: &str,
        key: &str,
        now: i64,
    ) -> Result<&Order, ControlError> {
        let order = self
            .orders
            .get(&(s_pappid.to_owned(), order_id.to_owned()))
            .filter(|o| o.auth_key == key)
            .ok_or_else(|| ControlError::not_found("this authorization link is not valid"))?;
        if let Some(ttl) = self.settings.unconfirmed.auth_url_ttl_secs
            && order.status() == OrderStatus::Pending
            && now >= order.auth_url_issued_at.saturating_add(ttl)
        {
            return Err(ControlError::gone(
                "this authorization link has expired; ask the merchant for a new one",
            ));
        }
        Ok(order)
    }
}

fn trim_title(title: BuyerTitle) -> BuyerTitle {
    let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    BuyerTitle {
        kind: title.kind,
        title: title.title.trim().to_owned(),
        tax_no: clean(title.tax_no),
        phone: clean(title.phone),
        email: clean(title.email),
        addr: clean(title.addr),
        bank_type: clean(title.bank_type),
        bank_no: clean(title.bank_no),
    }
}
