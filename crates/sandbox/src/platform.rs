//! The invoicing-platform APIs (`seturl`, `createcard`, `setpdf`, `getpdf`, `insert`,
//! `updatestatus`), the buyer's Cards & Offers and the simulated reimburser.

use std::sync::Arc;

use fapiao_domain::weixin::ReimburseStatus;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::StatusTransitions;
use crate::error::{ApiError, ControlError};
use crate::push::{EventBody, EventMessage};
use crate::state::{
    Answer, ApiResult, Card, CardTemplate, Media, Notice, OrderStatus, State, percent_encode,
};
use crate::wire::{
    CardExtBody, CreateCardBody, GetCardListBody, GetPdfBody, InsertBody, InvoiceUserData,
    UpdateStatusBody, parse_body,
};

/// What the reimburser does to a card.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReimburseRequest {
    /// Template card id.
    pub card_id: String,
    /// Card code.
    pub code: String,
    /// `INVOICE_REIMBURSE_LOCK` (or `lock`), …
    pub status: String,
    /// Answer only when the push is delivered (or has failed).
    #[serde(default)]
    pub wait: bool,
}

/// An invoice card as the control API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CardView {
    /// Template card id.
    pub card_id: String,
    /// Card code.
    pub code: String,
    /// The buyer.
    pub openid: String,
    /// The account that inserted it.
    pub appid: String,
    /// The order it was inserted for.
    pub order_id: String,
    /// Its platform id.
    pub s_pappid: String,
    /// Reimbursement status (`INVOICE_REIMBURSE_INIT`, …).
    pub status: String,
    /// Payee from the template.
    pub payee: String,
    /// Invoice type text from the template.
    pub invoice_type: String,
    /// Unix seconds.
    pub inserted_at: i64,
    /// The invoice PDF.
    pub pdf_url: String,
    /// The other voucher PDF, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trip_pdf_url: Option<String>,
    /// The invoice data as inserted.
    pub invoice: InvoiceUserData,
}

/// The buyer's Cards & Offers.
#[derive(Debug, Clone, Serialize)]
pub struct CardsView {
    /// The cards, oldest first.
    pub cards: Vec<CardView>,
    /// Messages the buyer received about rejected requests.
    pub notices: Vec<Notice>,
}

fn parse_status(value: &str) -> Option<ReimburseStatus> {
    let value = value.trim();
    ReimburseStatus::parse(value).or_else(|| {
        serde_json::from_value(serde_json::Value::String(value.to_ascii_lowercase())).ok()
    })
}

fn digits(value: &str, lengths: &[usize]) -> bool {
    lengths.contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit())
}

impl State {
    /// `seturl`: the account's stable `s_pappid` in an `invoice_url`.
    pub(crate) fn seturl(&self, caller: &str, body: &[u8]) -> ApiResult {
        parse_body::<serde_json::Value>(body, true)?;
        let account = self.account(caller).ok_or_else(|| ApiError::code(40013))?;
        Ok(Answer::Ok(json!({
            "invoice_url": format!(
                "{}/sandbox?action=list&s_pappid={}",
                self.settings.public_base_url,
                percent_encode(&account.s_pappid)
            )
        })))
    }

    /// `platform/createcard` (reference §4.11).
    pub(crate) fn createcard(&mut self, caller: &str, body: &[u8], now: i64) -> ApiResult {
        let body: CreateCardBody = parse_body(body, false)?;
        let info = body
            .invoice_info
            .ok_or_else(|| ApiError::invalid("invoice_info is empty"))?;
        let base = info
            .base_info
            .as_ref()
            .ok_or_else(|| ApiError::invalid("base_info is empty"))?;
        if base.logo_url.is_empty() {
            return Err(ApiError::invalid("logo_url is empty"));
        }
        if base.title.is_empty() {
            return Err(ApiError::invalid("title is empty"));
        }
        if base.title.chars().count() > 9 {
            return Err(ApiError::invalid("title is longer than 9 characters"));
        }
        if info.payee.is_empty() {
            return Err(ApiError::invalid("payee is empty"));
        }
        if info.invoice_type.is_empty() {
            return Err(ApiError::invalid("type is empty"));
        }
        let card_id = self.minter.card_id();
        self.templates.insert(
            card_id.clone(),
            CardTemplate {
                appid: caller.to_owned(),
                created_at: now,
                info,
            },
        );
        Ok(Answer::Ok(json!({ "card_id": card_id })))
    }

    /// `platform/setpdf` (reference §4.12), after the multipart part was read.
    pub(crate) fn setpdf(&mut self, caller: &str, pdf: Vec<u8>, now: i64) -> ApiResult {
        let unconfirmed = &self.settings.unconfirmed;
        if pdf.is_empty() {
            return Err(ApiError::invalid("pdf is empty"));
        }
        if pdf.len() > unconfirmed.max_pdf_bytes {
            return Err(ApiError::new(
                72040,
                format!(
                    "invoice pdf error, larger than {} bytes",
                    unconfirmed.max_pdf_bytes
                ),
            ));
        }
        if unconfirmed.validate_pdf_on_upload && !pdf.starts_with(b"%PDF-") {
            return Err(ApiError::new(72040, "invoice pdf error, not a pdf file"));
        }
        self.uploads += 1;
        if self.uploads.is_multiple_of(256) {
            let ttl = self.settings.timing.media_ttl_secs;
            self.media
                .retain(|_, m| m.consumed || m.uploaded_at.saturating_add(ttl) > now);
        }
        let media_id = self.minter.media_id();
        self.media.insert(
            media_id.clone(),
            Media {
                appid: caller.to_owned(),
                bytes: Arc::from(pdf),
                uploaded_at: now,
                consumed: false,
            },
        );
        Ok(Answer::Ok(json!({ "s_media_id": media_id })))
    }

    /// The uploaded PDF `media_id` of `caller`: the configured errcodes when unknown or
    /// deleted after its lifetime.
    fn usable_media(
        &self,
        caller: &str,
        media_id: &str,
        field: &str,
        now: i64,
    ) -> Result<(), ApiError> {
        let unconfirmed = &self.settings.unconfirmed;
        let media = self
            .media
            .get(media_id)
            .filter(|m| m.appid == caller)
            .ok_or_else(|| {
                ApiError::new(
                    unconfirmed.unknown_media_errcode,
                    format!("invalid params, {field} is invalid"),
                )
            })?;
        if !media.consumed
            && now
                >= media
                    .uploaded_at
                    .saturating_add(self.settings.timing.media_ttl_secs)
        {
            return Err(ApiError::new(
                unconfirmed.expired_media_errcode,
                format!("invoice pdf error, {field} has expired"),
            ));
        }
        Ok(())
    }

    /// `platform/getpdf` (reference §4.13): `action` in the body or the query.
    pub(crate) fn getpdf(
        &self,
        caller: &str,
        body: &[u8],
        query_action: Option<&str>,
        now: i64,
    ) -> ApiResult {
        let body: GetPdfBody = parse_body(body, false)?;
        let action = body.action.as_deref().or(query_action).map(str::trim);
        match action {
            Some("get_url") => {}
            None | Some("") => return Err(ApiError::invalid("action is empty")),
            Some(other) => return Err(ApiError::invalid(format!("action {other} is invalid"))),
        }
        if body.s_media_id.is_empty() {
            return Err(ApiError::invalid("s_media_id is empty"));
        }
        self.usable_media(caller, &body.s_media_id, "s_media_id", now)?;
        Ok(Answer::Ok(json!({
            "pdf_url": self.pdf_url(&body.s_media_id),
            "pdf_url_expire_time": self.settings.timing.pdf_url_ttl_secs,
        })))
    }

    /// `insert` (reference §4.14): only for an order the buyer authorized under the caller's
    /// `s_pappid`, with the authorizing appid and a card template of the caller.
    pub(crate) fn insert(&mut self, caller: &str, body: &[u8], now: i64) -> ApiResult {
        let body: InsertBody = parse_body(body, false)?;
        if body.order_id.is_empty() {
            return Err(ApiError::invalid("order_id is empty"));
        }
        if body.card_id.is_empty() {
            return Err(ApiError::invalid("card_id is empty"));
        }
        if body.appid.is_empty() {
            return Err(ApiError::invalid("appid is empty"));
        }
        let card_ext = match body.card_ext {
            Some(value @ serde_json::Value::Object(_)) => {
                serde_json::from_value::<CardExtBody>(value)
                    .map_err(|e| ApiError::data_format(format!("card_ext: {e}")))?
            }
            Some(serde_json::Value::Null) | None => {
                return Err(ApiError::invalid("card_ext is empty"));
            }
            Some(_) => return Err(ApiError::invalid("card_ext must be a json object")),
        };
        let data = card_ext
            .user_card
            .and_then(|u| u.invoice_user_data)
            .ok_or_else(|| ApiError::invalid("invoice_user_data is empty"))?;

        let s_pappid = self
            .account(caller)
            .map(|a| a.s_pappid.clone())
            .ok_or_else(|| ApiError::code(40013))?;
        let key = (s_pappid.clone(), body.order_id.clone());
        let order = self.orders.get(&key).ok_or_else(|| ApiError::code(72038))?;
        match order.status() {
            OrderStatus::Rejected => return Err(ApiError::code(72035)),
            OrderStatus::Inserted => {
                return Err(ApiError::code(
                    self.settings.unconfirmed.duplicate_insert_errcode,
                ));
            }
            OrderStatus::Pending | OrderStatus::Failed => return Err(ApiError::code(72038)),
            OrderStatus::Authorized => {}
        }
        if order.authorize_appid != body.appid {
            return Err(ApiError::new(
                72038,
                "invoice order never auth, appid does not match the authorization",
            ));
        }
        let openid = order
            .authorization
            .as_ref()
            .map(|a| a.openid.clone())
            .unwrap_or_default();
        let template = self
            .templates
            .get(&body.card_id)
            .filter(|t| t.appid == caller)
            .ok_or_else(|| ApiError::invalid("card_id is invalid"))?;
        if now
            < template
                .created_at
                .saturating_add(self.settings.unconfirmed.card_ready_after_secs)
        {
            return Err(ApiError::code(40078));
        }
        self.check_invoice_data(caller, &data, now)?;
        let billing = (data.billing_code.clone(), data.billing_no.clone());
        if self.billing_numbers.contains(&billing) {
            return Err(ApiError::code(72042));
        }

        let code = self.minter.card_code();
        self.billing_numbers.insert(billing);
        for media_id in
            std::iter::once(&data.s_pdf_media_id).chain(data.s_trip_pdf_media_id.as_ref())
        {
            if let Some(media) = self.media.get_mut(media_id) {
                media.consumed = true;
            }
        }
        if let Some(order) = self.orders.get_mut(&key) {
            order.card = Some((body.card_id.clone(), code.clone()));
        }
        self.card_seq += 1;
        self.cards.insert(
            (body.card_id.clone(), code.clone()),
            Card {
                seq: self.card_seq,
                card_id: body.card_id,
                code: code.clone(),
                appid: caller.to_owned(),
                openid: openid.clone(),
                order_id: body.order_id,
                s_pappid,
                status: ReimburseStatus::Init,
                inserted_at: now,
                data,
            },
        );
        Ok(Answer::Ok(json!({ "code": code, "openid": openid })))
    }

    fn check_invoice_data(
        &self,
        caller: &str,
        data: &InvoiceUserData,
        now: i64,
    ) -> Result<(), ApiError> {
        let unconfirmed = &self.settings.unconfirmed;
        let fee = data.fee.ok_or_else(|| ApiError::invalid("fee is empty"))?;
        if data.title.is_empty() {
            return Err(ApiError::invalid("title is empty"));
        }
        let billing_time = data
            .billing_time
            .ok_or_else(|| ApiError::invalid("billing time is empty"))?;
        if billing_time <= 0 {
            return Err(ApiError::invalid("billing time is invalid"));
        }
        if data.billing_no.is_empty() {
            return Err(ApiError::invalid("billing no is empty"));
        }
        let fee_without_tax = data
            .fee_without_tax
            .ok_or_else(|| ApiError::invalid("fee_without_tax is empty"))?;
        let tax = data.tax.ok_or_else(|| ApiError::invalid("tax is empty"))?;
        if data.s_pdf_media_id.is_empty() {
            return Err(ApiError::invalid("s_pdf_media_id is empty"));
        }
        for (index, item) in data.info.iter().enumerate() {
            if item.name.is_empty() {
                return Err(ApiError::invalid(format!("info[{index}].name is empty")));
            }
            if item.price.is_none() {
                return Err(ApiError::invalid(format!("info[{index}].price is empty")));
            }
        }
        if unconfirmed.check_fee_sum && fee_without_tax.checked_add(tax) != Some(fee) {
            return Err(ApiError::invalid(format!(
                "fee {fee} is not fee_without_tax {fee_without_tax} + tax {tax}"
            )));
        }
        if unconfirmed.check_billing_format {
            let number_ok = digits(&data.billing_no, &[8, 20]);
            let code_ok = data.billing_code.is_empty() || digits(&data.billing_code, &[10, 12]);
            if !number_ok || !code_ok {
                return Err(ApiError::code(72043));
            }
            if !data.billing_code.is_empty() && data.check_code.is_empty() {
                return Err(ApiError::code(72045));
            }
        }
        self.usable_media(caller, &data.s_pdf_media_id, "s_pdf_media_id", now)?;
        if let Some(trip) = &data.s_trip_pdf_media_id {
            self.usable_media(caller, trip, "s_trip_pdf_media_id", now)?;
        }
        Ok(())
    }

    fn change_status(
        &mut self,
        card_id: &str,
        code: &str,
        status: ReimburseStatus,
    ) -> Result<(), ApiError> {
        let strict = self.settings.unconfirmed.status_transitions == StatusTransitions::Strict;
        let card = self
            .cards
            .get_mut(&(card_id.to_owned(), code.to_owned()))
            .ok_or_else(|| ApiError::code(72038))?;
        if strict && card.status != status {
            match card.status {
                ReimburseStatus::Closure => return Err(ApiError::code(72061)),
                ReimburseStatus::Cancel => return Err(ApiError::code(72060)),
                ReimburseStatus::Init if status == ReimburseStatus::Closure => {
                    return Err(ApiError::code(72039));
                }
                _ => {}
            }
        }
        card.status = status;
        Ok(())
    }

    /// `platform/updatestatus` (reference §4.15): 72038 for a card code the caller never
    /// inserted under this card id.
    pub(crate) fn updatestatus(&mut self, caller: &str, body: &[u8]) -> ApiResult {
        let body: UpdateStatusBody = parse_body(body, false)?;
        if body.card_id.is_empty() {
            return Err(ApiError::invalid("card_id is empty"));
        }
        if body.code.is_empty() {
            return Err(ApiError::invalid("code is empty"));
        }
        let status = ReimburseStatus::parse(&body.reimburse_status).ok_or_else(|| {
            ApiError::invalid(format!(
                "reimburse_status {:?} is invalid",
                body.reimburse_status
            ))
        })?;
        let owned = self
            .cards
            .get(&(body.card_id.clone(), body.code.clone()))
            .is_some_and(|c| c.appid == caller);
        if !owned {
            return Err(ApiError::code(72038));
        }
        self.change_status(&body.card_id, &body.code, status)?;
        Ok(Answer::ok())
    }

    /// `card/user/getcardlist` (reference §4.14.1): the codes `openid` holds of `card_id`
    /// among the cards the caller inserted, oldest first; an empty list when
    /// `unconfirmed.getcardlist_lists_invoice_cards` is off.
    pub(crate) fn getcardlist(&mut self, caller: &str, body: &[u8]) -> ApiResult {
        let body: GetCardListBody = parse_body(body, false)?;
        if body.openid.is_empty() {
            return Err(ApiError::invalid("openid is empty"));
        }
        let mut cards: Vec<&Card> = if self.settings.unconfirmed.getcardlist_lists_invoice_cards {
            self.cards
                .values()
                .filter(|c| {
                    c.appid == caller
                        && c.openid == body.openid
                        && (body.card_id.is_empty() || c.card_id == body.card_id)
                })
                .collect()
        } else {
            Vec::new()
        };
        cards.sort_by_key(|c| c.seq);
        let list: Vec<_> = cards
            .iter()
            .map(|c| json!({ "code": c.code, "card_id": c.card_id }))
            .collect();
        Ok(Answer::Ok(
            json!({ "card_list": list, "has_share_card": false }),
        ))
    }

    /// The reimburser changes a card's status: records the `update_invoice_status` push to
    /// the account that inserted the card.
    pub(crate) fn reimburse(
        &mut self,
        request: &ReimburseRequest,
        now: i64,
    ) -> Result<(CardView, u64), ControlError> {
        let status = parse_status(&request.status).ok_or_else(|| {
            ControlError::bad_request(format!(
                "status {:?}: one of INVOICE_REIMBURSE_INIT, _LOCK, _CLOSURE, _CANCEL",
                request.status
            ))
        })?;
        self.change_status(&request.card_id, &request.code, status)
            .map_err(|e| match e.errcode {
                72038 => ControlError::not_found(format!(
                    "no card {} with code {}",
                    request.card_id, request.code
                )),
                _ => ControlError::conflict(format!("{} ({})", e.errmsg, e.errcode)),
            })?;
        let card = self
            .cards
            .get(&(request.card_id.clone(), request.code.clone()))
            .cloned()
            .ok_or_else(|| ControlError::not_found("no such card"))?;
        let to_user_name = self
            .account(&card.appid)
            .map(|a| a.original_id.clone())
            .unwrap_or_default();
        let push = self.record_push(
            &card.appid,
            &EventMessage {
                to_user_name,
                from_user_name: card.openid.clone(),
                create_time: now,
                body: EventBody::StatusUpdate {
                    status: status.code().to_owned(),
                    card_id: card.card_id.clone(),
                    code: card.code.clone(),
                },
            },
        );
        Ok((self.card_view(&card), push))
    }

    pub(crate) fn card_view(&self, card: &Card) -> CardView {
        let template = self.templates.get(&card.card_id);
        CardView {
            card_id: card.card_id.clone(),
            code: card.code.clone(),
            openid: card.openid.clone(),
            appid: card.appid.clone(),
            order_id: card.order_id.clone(),
            s_pappid: card.s_pappid.clone(),
            status: card.status.code().to_owned(),
            payee: template.map(|t| t.info.payee.clone()).unwrap_or_default(),
            invoice_type: template
                .map(|t| t.info.invoice_type.clone())
                .unwrap_or_default(),
            inserted_at: card.inserted_at,
            pdf_url: self.pdf_url(&card.data.s_pdf_media_id),
            trip_pdf_url: card
                .data
                .s_trip_pdf_media_id
                .as_deref()
                .map(|m| self.pdf_url(m)),
            invoice: card.data.clone(),
        }
    }

    /// The cards (and notices) of `openid`, or of every buyer.
    pub(crate) fn cards_view(&self, openid: Option<&str>) -> CardsView {
        let mut cards: Vec<&Card> = self
            .cards
            .values()
            .filter(|c| openid.is_none_or(|o| o == c.openid))
            .collect();
        cards.sort_by_key(|c| c.seq);
        CardsView {
            cards: cards.into_iter().map(|c| self.card_view(c)).collect(),
            notices: self
                .notices
                .iter()
                .filter(|n| openid.is_none_or(|o| o == n.openid))
                .cloned()
                .collect(),
        }
    }

    /// The bytes of an uploaded PDF, while it exists.
    pub(crate) fn pdf_bytes(&self, media_id: &str, now: i64) -> Option<Arc<[u8]>> {
        let media = self.media.get(media_id)?;
        (media.consumed
            || now
                < media
                    .uploaded_at
                    .saturating_add(self.settings.timing.media_ttl_secs))
        .then(|| Arc::clone(&media.bytes))
    }
}
