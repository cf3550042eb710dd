//! Hand-written conversions between wire structs and domain types. Wire structs never leave
//! the crate's API surface as domain values; every field is mapped here by name.

use fapiao_domain::scenario::AuthSource;
use fapiao_domain::weixin::{
    AuthData, AuthFields, AuthOutcome, AuthStatus, AuthUrl, AuthUrlRequest, AuthorizationEvent,
    CardInsertion, CardItem, CardTemplate, CompanyFieldSettings, CompanyTitle, Contact,
    CustomField, InsertedCard, InvoiceCardData, InvoiceStatusEvent, PayMchBinding, PdfUrl,
    PersonalFieldSettings, PersonalTitle, ReimburseStatus, RejectRequest, WeixinEvent,
};
use fapiao_domain::{
    AppId, CardCode, CardId, IdError, MediaId, OpenId, OrderId, SPappId, Timestamp,
};
use secrecy::SecretString;

use super::{
    AuthFieldSetting, BizFieldSetting, BizTitle, CardBaseInfo, CardExt, ContactInfo,
    CreateCardRequest, CustomFieldSetting, CustomFieldValue, GetAuthDataResponse,
    GetAuthUrlRequest, GetAuthUrlResponse, GetPdfResponse, InsertCardRequest, InsertCardResponse,
    InvoiceInfo, InvoiceItem, InvoiceUserData, PayMchInfo, PushEvent, RejectInsertRequest,
    UpdateInvoiceStatusEvent, UserAuthorizeInvoiceEvent, UserCard, UserFieldSetting, UserTitle,
};
use crate::wire::push::{FieldLookup, HeaderFields, XmlError};

/// A wire value that does not make a valid domain value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConvertError {
    /// Wire field name.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl ConvertError {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

impl From<IdError> for ConvertError {
    fn from(error: IdError) -> Self {
        Self {
            field: error.field,
            reason: error.rule,
        }
    }
}

fn flag(value: bool) -> i64 {
    i64::from(value)
}

fn is_set(value: i64) -> bool {
    value != 0
}

// --- merchant ---------------------------------------------------------------------------

impl From<&AuthUrlRequest> for GetAuthUrlRequest {
    fn from(request: &AuthUrlRequest) -> Self {
        Self {
            s_pappid: request.s_pappid.as_str().to_owned(),
            order_id: request.order_id.as_str().to_owned(),
            money: request.money.get(),
            timestamp: request.timestamp.unix_seconds(),
            source: request.source.code().to_owned(),
            redirect_url: request.redirect_url.clone(),
            ticket: SecretString::from(request.ticket.expose()),
            page_type: request.page_style.code(),
        }
    }
}

impl TryFrom<GetAuthUrlResponse> for AuthUrl {
    type Error = ConvertError;

    fn try_from(response: GetAuthUrlResponse) -> Result<Self, ConvertError> {
        if response.auth_url.trim().is_empty() {
            return Err(ConvertError::new("auth_url", "empty"));
        }
        Ok(Self {
            url: response.auth_url,
            appid: response.appid.as_deref().map(AppId::parse).transpose()?,
        })
    }
}

impl From<GetAuthDataResponse> for AuthData {
    fn from(response: GetAuthDataResponse) -> Self {
        let status = match response.invoice_status.trim() {
            "auth success" => AuthStatus::AuthSuccess,
            "never auth" => AuthStatus::NeverAuth,
            other => AuthStatus::Other(other.to_owned()),
        };
        let info = response.user_auth_info.unwrap_or_default();
        Self {
            status,
            auth_time: response
                .auth_time
                .filter(|t| *t > 0)
                .map(Timestamp::from_unix_seconds),
            personal: info.user_field.map(PersonalTitle::from),
            company: info.biz_field.map(CompanyTitle::from),
        }
    }
}

fn custom_values(fields: Vec<CustomFieldValue>) -> Vec<(String, String)> {
    fields.into_iter().map(|f| (f.key, f.value)).collect()
}

impl From<UserTitle> for PersonalTitle {
    fn from(title: UserTitle) -> Self {
        Self {
            title: title.title,
            phone: title.phone,
            email: title.email,
            custom_fields: custom_values(title.custom_field),
        }
    }
}

impl From<BizTitle> for CompanyTitle {
    fn from(title: BizTitle) -> Self {
        Self {
            title: title.title,
            tax_no: title.tax_no,
            address: title.addr,
            phone: title.phone,
            bank_name: title.bank_type,
            bank_account: title.bank_no,
            custom_fields: custom_values(title.custom_field),
        }
    }
}

impl From<&RejectRequest> for RejectInsertRequest {
    fn from(request: &RejectRequest) -> Self {
        Self {
            s_pappid: request.s_pappid.as_str().to_owned(),
            order_id: request.order_id.as_str().to_owned(),
            reason: request.reason.clone(),
            url: request.url.clone(),
        }
    }
}

impl From<&Contact> for ContactInfo {
    fn from(contact: &Contact) -> Self {
        Self {
            phone: contact.phone.clone(),
            time_out: i64::from(contact.time_out_seconds),
        }
    }
}

impl TryFrom<ContactInfo> for Contact {
    type Error = ConvertError;

    fn try_from(contact: ContactInfo) -> Result<Self, ConvertError> {
        Ok(Self {
            phone: contact.phone,
            time_out_seconds: u32::try_from(contact.time_out).map_err(|_| {
                ConvertError::new(
                    "contact.time_out",
                    format!("out of range: {}", contact.time_out),
                )
            })?,
        })
    }
}

impl From<&CustomField> for CustomFieldSetting {
    fn from(field: &CustomField) -> Self {
        Self {
            key: field.key.clone(),
            is_require: flag(field.required),
            notice: field.notice.clone(),
        }
    }
}

impl From<CustomFieldSetting> for CustomField {
    fn from(field: CustomFieldSetting) -> Self {
        Self {
            key: field.key,
            required: is_set(field.is_require),
            notice: field.notice,
        }
    }
}

impl From<&AuthFields> for AuthFieldSetting {
    fn from(fields: &AuthFields) -> Self {
        let p = &fields.personal;
        let c = &fields.company;
        Self {
            user_field: UserFieldSetting {
                show_title: flag(p.show_title),
                show_phone: flag(p.show_phone),
                show_email: flag(p.show_email),
                require_phone: flag(p.require_phone),
                require_email: flag(p.require_email),
                custom_field: p
                    .custom_fields
                    .iter()
                    .map(CustomFieldSetting::from)
                    .collect(),
            },
            biz_field: BizFieldSetting {
                show_title: flag(c.show_title),
                show_tax_no: flag(c.show_tax_no),
                show_addr: flag(c.show_address),
                show_phone: flag(c.show_phone),
                show_bank_type: flag(c.show_bank_name),
                show_bank_no: flag(c.show_bank_account),
                require_tax_no: flag(c.require_tax_no),
                require_addr: flag(c.require_address),
                require_phone: flag(c.require_phone),
                require_bank_type: flag(c.require_bank_name),
                require_bank_no: flag(c.require_bank_account),
                custom_field: c
                    .custom_fields
                    .iter()
                    .map(CustomFieldSetting::from)
                    .collect(),
            },
        }
    }
}

impl From<AuthFieldSetting> for AuthFields {
    fn from(setting: AuthFieldSetting) -> Self {
        let u = setting.user_field;
        let b = setting.biz_field;
        Self {
            personal: PersonalFieldSettings {
                show_title: is_set(u.show_title),
                show_phone: is_set(u.show_phone),
                show_email: is_set(u.show_email),
                require_phone: is_set(u.require_phone),
                require_email: is_set(u.require_email),
                custom_fields: u.custom_field.into_iter().map(CustomField::from).collect(),
            },
            company: CompanyFieldSettings {
                show_title: is_set(b.show_title),
                show_tax_no: is_set(b.show_tax_no),
                show_address: is_set(b.show_addr),
                show_phone: is_set(b.show_phone),
                show_bank_name: is_set(b.show_bank_type),
                show_bank_account: is_set(b.show_bank_no),
                require_tax_no: is_set(b.require_tax_no),
                require_address: is_set(b.require_addr),
                require_phone: is_set(b.require_phone),
                require_bank_name: is_set(b.require_bank_type),
                require_bank_account: is_set(b.require_bank_no),
                custom_fields: b.custom_field.into_iter().map(CustomField::from).collect(),
            },
        }
    }
}

impl From<&PayMchBinding> for PayMchInfo {
    fn from(binding: &PayMchBinding) -> Self {
        Self {
            mchid: binding.mchid.clone(),
            s_pappid: binding.s_pappid.as_str().to_owned(),
        }
    }
}

impl TryFrom<PayMchInfo> for PayMchBinding {
    type Error = ConvertError;

    fn try_from(info: PayMchInfo) -> Result<Self, ConvertError> {
        Ok(Self {
            mchid: info.mchid,
            s_pappid: SPappId::parse(&info.s_pappid)?,
        })
    }
}

// --- platform ---------------------------------------------------------------------------

fn entry(
    entry: Option<&(String, String, Option<String>)>,
) -> (Option<String>, Option<String>, Option<String>) {
    match entry {
        Some((name, url, sub_title)) => (Some(name.clone()), Some(url.clone()), sub_title.clone()),
        None => (None, None, None),
    }
}

impl From<&CardTemplate> for CreateCardRequest {
    fn from(template: &CardTemplate) -> Self {
        let (custom_url_name, custom_url, custom_url_sub_title) =
            entry(template.custom_url.as_ref());
        let (promotion_url_name, promotion_url, promotion_url_sub_title) =
            entry(template.promotion_url.as_ref());
        Self {
            invoice_info: InvoiceInfo {
                base_info: CardBaseInfo {
                    logo_url: template.logo_url.clone(),
                    title: template.title.clone(),
                    custom_url_name,
                    custom_url,
                    custom_url_sub_title,
                    promotion_url_name,
                    promotion_url,
                    promotion_url_sub_title,
                },
                invoice_type: template.invoice_type.clone(),
                payee: template.payee.clone(),
                detail: None,
            },
        }
    }
}

impl TryFrom<GetPdfResponse> for PdfUrl {
    type Error = ConvertError;

    fn try_from(response: GetPdfResponse) -> Result<Self, ConvertError> {
        if response.pdf_url.trim().is_empty() {
            return Err(ConvertError::new("pdf_url", "empty"));
        }
        Ok(Self {
            url: response.pdf_url,
            expires_in_seconds: u32::try_from(response.pdf_url_expire_time).unwrap_or(0),
        })
    }
}

impl From<&CardItem> for InvoiceItem {
    fn from(item: &CardItem) -> Self {
        Self {
            name: item.name.clone(),
            num: item.num,
            unit: item.unit.clone(),
            price: item.price.get(),
        }
    }
}

impl From<&InvoiceCardData> for InvoiceUserData {
    fn from(data: &InvoiceCardData) -> Self {
        Self {
            fee: data.fee.get(),
            title: data.title.clone(),
            billing_time: data.billing_time.unix_seconds(),
            billing_no: data.billing_no.clone(),
            billing_code: data.billing_code.clone(),
            info: data.info.iter().map(InvoiceItem::from).collect(),
            fee_without_tax: data.fee_without_tax.get(),
            tax: data.tax.get(),
            s_pdf_media_id: data.pdf_media_id.as_str().to_owned(),
            s_trip_pdf_media_id: data
                .trip_pdf_media_id
                .as_ref()
                .map(|m| m.as_str().to_owned()),
            check_code: data.check_code.clone(),
            buyer_number: data.buyer_number.clone(),
            buyer_address_and_phone: data.buyer_address_and_phone.clone(),
            buyer_bank_account: data.buyer_bank_account.clone(),
            seller_number: data.seller_number.clone(),
            seller_address_and_phone: data.seller_address_and_phone.clone(),
            seller_bank_account: data.seller_bank_account.clone(),
            remarks: data.remarks.clone(),
            cashier: data.cashier.clone(),
            maker: data.maker.clone(),
        }
    }
}

impl From<&CardInsertion> for InsertCardRequest {
    fn from(insertion: &CardInsertion) -> Self {
        Self {
            order_id: insertion.order_id.as_str().to_owned(),
            card_id: insertion.card_id.as_str().to_owned(),
            appid: insertion.appid.as_str().to_owned(),
            card_ext: CardExt {
                nonce_str: insertion.nonce.clone(),
                user_card: UserCard {
                    invoice_user_data: InvoiceUserData::from(&insertion.data),
                },
            },
        }
    }
}

impl TryFrom<InsertCardResponse> for InsertedCard {
    type Error = ConvertError;

    fn try_from(response: InsertCardResponse) -> Result<Self, ConvertError> {
        Ok(Self {
            code: CardCode::parse(&response.code)?,
            openid: OpenId::parse(&response.openid)?,
            unionid: response.unionid,
        })
    }
}

// --- pushes -----------------------------------------------------------------------------

/// The fields of `user_authorize_invoice`, borrowed.
struct AuthorizeFields<'a> {
    from_user_name: &'a str,
    create_time: i64,
    succ_order_id: Option<&'a str>,
    fail_order_id: Option<&'a str>,
    authorize_appid: Option<&'a str>,
    source: Option<&'a str>,
    s_pappid: Option<&'a str>,
}

impl TryFrom<AuthorizeFields<'_>> for AuthorizationEvent {
    type Error = ConvertError;

    fn try_from(event: AuthorizeFields<'_>) -> Result<Self, ConvertError> {
        let outcome = match (event.succ_order_id, event.fail_order_id) {
            (Some(order), None) => AuthOutcome::Succeeded(OrderId::parse(order)?),
            (None, Some(order)) => AuthOutcome::Failed(OrderId::parse(order)?),
            (Some(_), Some(_)) => {
                return Err(ConvertError::new(
                    "SuccOrderId",
                    "both SuccOrderId and FailOrderId are set",
                ));
            }
            (None, None) => {
                return Err(ConvertError::new(
                    "SuccOrderId",
                    "neither SuccOrderId nor FailOrderId is set",
                ));
            }
        };
        Ok(Self {
            openid: OpenId::parse(event.from_user_name)?,
            create_time: Timestamp::from_unix_seconds(event.create_time),
            outcome,
            authorize_appid: event.authorize_appid.map(AppId::parse).transpose()?,
            // An unknown source is kept out rather than refusing an otherwise valid push.
            source: event.source.and_then(AuthSource::parse),
            s_pappid: event.s_pappid.map(SPappId::parse).transpose()?,
        })
    }
}

impl TryFrom<UserAuthorizeInvoiceEvent> for AuthorizationEvent {
    type Error = ConvertError;

    fn try_from(event: UserAuthorizeInvoiceEvent) -> Result<Self, ConvertError> {
        AuthorizeFields {
            from_user_name: &event.header.from_user_name,
            create_time: event.header.create_time,
            succ_order_id: event.succ_order_id.as_deref(),
            fail_order_id: event.fail_order_id.as_deref(),
            authorize_appid: event.authorize_appid.as_deref(),
            source: event.source.as_deref(),
            s_pappid: event.s_pappid.as_deref(),
        }
        .try_into()
    }
}

/// The fields of `update_invoice_status`, borrowed.
struct StatusFields<'a> {
    from_user_name: &'a str,
    create_time: i64,
    status: &'a str,
    card_id: &'a str,
    code: &'a str,
}

impl TryFrom<StatusFields<'_>> for InvoiceStatusEvent {
    type Error = ConvertError;

    fn try_from(event: StatusFields<'_>) -> Result<Self, ConvertError> {
        Ok(Self {
            openid: OpenId::parse(event.from_user_name)?,
            create_time: Timestamp::from_unix_seconds(event.create_time),
            status: ReimburseStatus::parse(event.status).ok_or_else(|| {
                ConvertError::new(
                    "Status",
                    format!("unknown reimburse status {:?}", event.status),
                )
            })?,
            card_id: CardId::parse(event.card_id)?,
            code: CardCode::parse(event.code)?,
        })
    }
}

impl TryFrom<UpdateInvoiceStatusEvent> for InvoiceStatusEvent {
    type Error = ConvertError;

    fn try_from(event: UpdateInvoiceStatusEvent) -> Result<Self, ConvertError> {
        StatusFields {
            from_user_name: &event.header.from_user_name,
            create_time: event.header.create_time,
            status: &event.status,
            card_id: &event.card_id,
            code: &event.code,
        }
        .try_into()
    }
}

impl TryFrom<PushEvent> for WeixinEvent {
    type Error = ConvertError;

    fn try_from(event: PushEvent) -> Result<Self, ConvertError> {
        Ok(match event {
            PushEvent::UserAuthorizeInvoice(e) => WeixinEvent::Authorization(e.try_into()?),
            PushEvent::UpdateInvoiceStatus(e) => WeixinEvent::InvoiceStatus(e.try_into()?),
            PushEvent::Unknown(e) => WeixinEvent::Other {
                msg_type: e.header.msg_type,
                event: e.event,
                from: e.header.from_user_name,
                create_time: Timestamp::from_unix_seconds(e.header.create_time),
            },
        })
    }
}

/// `WeixinEvent::try_from(PushEvent::from_fields(fields))` straight from borrowed fields,
/// without the owned wire structs in between: the XML errors of [`PushEvent::from_fields`],
/// then the conversion's.
///
/// # Errors
/// The outer [`XmlError`] as [`PushEvent::from_fields`]; the inner [`ConvertError`] as
/// `WeixinEvent::try_from`.
pub(crate) fn weixin_event(
    fields: &impl FieldLookup,
) -> Result<Result<WeixinEvent, ConvertError>, XmlError> {
    let header = HeaderFields::read(fields)?;
    let event = fields.non_empty_field("Event");
    let field = |name: &str| fields.non_empty_field(name);
    Ok(match (header.msg_type, event) {
        ("event", Some("user_authorize_invoice")) => AuthorizeFields {
            from_user_name: header.from_user_name,
            create_time: header.create_time,
            succ_order_id: field("SuccOrderId"),
            fail_order_id: field("FailOrderId"),
            authorize_appid: field("AuthorizeAppId").or_else(|| field("AppId")),
            source: field("Source"),
            s_pappid: field("SPAppId"),
        }
        .try_into()
        .map(WeixinEvent::Authorization),
        ("event", Some("update_invoice_status")) => {
            let required = |name: &'static str| field(name).ok_or(XmlError::MissingField(name));
            StatusFields {
                from_user_name: header.from_user_name,
                create_time: header.create_time,
                status: required("Status")?,
                card_id: required("CardId")?,
                code: required("Code")?,
            }
            .try_into()
            .map(WeixinEvent::InvoiceStatus)
        }
        _ => Ok(WeixinEvent::Other {
            msg_type: header.msg_type.to_owned(),
            event: event.map(str::to_owned),
            from: header.from_user_name.to_owned(),
            create_time: Timestamp::from_unix_seconds(header.create_time),
        }),
    })
}

/// Parses a media id answered by `setpdf`.
pub(crate) fn media_id(value: &str) -> Result<MediaId, ConvertError> {
    Ok(MediaId::parse(value)?)
}

/// Parses a card id answered by `createcard`.
pub(crate) fn card_id(value: &str) -> Result<CardId, ConvertError> {
    Ok(CardId::parse(value)?)
}
