use async_trait::async_trait;

use crate::ids::{AppId, CardCode, CardId, MediaId, OpenId, OrderId, SPappId};
use crate::secret::Secret;
use crate::weixin::{
    AuthData, AuthFields, AuthUrl, AuthUrlRequest, CardInsertion, CardTemplate, Contact,
    InsertedCard, PayMchBinding, PdfUrl, ReimburseStatus, RejectRequest, WeixinError,
};

/// Weixin's merchant APIs (auth page, authorization, merchant settings).
///
/// Token handling is the adapter's business: implementations fetch, cache, share and refresh
/// access tokens themselves and retry once on a token error.
///
/// # Errors
/// Every method returns [`WeixinError::Api`] with Weixin's `errcode` and `errmsg` unchanged
/// for any non-zero errcode left after the single token retry, [`WeixinError::Unavailable`]
/// for transport failures and 5xx (the request may have been applied), and
/// [`WeixinError::Rejected`] when the request was not sent (unknown account, invalid payload).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WeixinMerchantApi: Send + Sync {
    /// The `wx_card` ticket of `account`, cached until shortly before it expires.
    async fn wx_card_ticket(&self, account: &AppId) -> Result<Secret, WeixinError>;

    /// `getauthurl` called with `account`'s access token.
    async fn auth_url(
        &self,
        account: &AppId,
        request: &AuthUrlRequest,
    ) -> Result<AuthUrl, WeixinError>;

    /// `getauthdata`.
    async fn auth_data(
        &self,
        s_pappid: &SPappId,
        order_id: &OrderId,
    ) -> Result<AuthData, WeixinError>;

    /// `rejectinsert`.
    async fn reject_insert(&self, request: &RejectRequest) -> Result<(), WeixinError>;

    /// `setbizattr?action=get_contact`; `None` when no contact is set.
    async fn contact(&self) -> Result<Option<Contact>, WeixinError>;

    /// `setbizattr?action=set_contact`.
    async fn set_contact(&self, contact: &Contact) -> Result<(), WeixinError>;

    /// `setbizattr?action=get_auth_field`; `None` when never set.
    async fn auth_fields(&self) -> Result<Option<AuthFields>, WeixinError>;

    /// `setbizattr?action=set_auth_field`.
    async fn set_auth_fields(&self, fields: &AuthFields) -> Result<(), WeixinError>;

    /// `setbizattr?action=get_pay_mch`; `None` when not bound (72028).
    async fn pay_mch(&self) -> Result<Option<PayMchBinding>, WeixinError>;

    /// `setbizattr?action=set_pay_mch`.
    async fn set_pay_mch(&self, binding: &PayMchBinding) -> Result<(), WeixinError>;
}

/// Weixin's invoicing-platform APIs (platform id, card templates, PDFs, cards), called with the
/// Official Account's token (the account that called `seturl`).
///
/// # Errors
/// As for [`WeixinMerchantApi`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WeixinPlatformApi: Send + Sync {
    /// `seturl`: the account's own `s_pappid`, parsed out of `invoice_url`.
    async fn platform_id(&self) -> Result<SPappId, WeixinError>;

    /// `platform/createcard`.
    async fn create_card_template(&self, template: &CardTemplate) -> Result<CardId, WeixinError>;

    /// `platform/setpdf` (multipart field `pdf`).
    async fn upload_pdf(&self, pdf: &[u8]) -> Result<MediaId, WeixinError>;

    /// `platform/getpdf`.
    async fn pdf_url(&self, media_id: &MediaId) -> Result<PdfUrl, WeixinError>;

    /// `insert`.
    async fn insert_card(&self, insertion: &CardInsertion) -> Result<InsertedCard, WeixinError>;

    /// `platform/updatestatus` (the card code, not the tax invoice number).
    async fn update_card_status(
        &self,
        card_id: &CardId,
        code: &CardCode,
        status: ReimburseStatus,
    ) -> Result<(), WeixinError>;

    /// `card/user/getcardlist`: the codes `openid` holds of the template `card_id`. Whether
    /// Weixin lists invoice cards there is unconfirmed (reference §4.14.1); it is asked only to
    /// learn the code of a card whose `insert` answer was lost.
    async fn user_card_codes(
        &self,
        openid: &OpenId,
        card_id: &CardId,
    ) -> Result<Vec<CardCode>, WeixinError>;
}

/// A push that must not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// A required query parameter or XML element is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// The signature does not match.
    #[error("signature mismatch")]
    BadSignature,
    /// The timestamp is outside the accepted window (replay protection).
    #[error("timestamp outside the accepted window")]
    Stale,
    /// The body exceeds the size limit.
    #[error("body of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// The ciphertext does not decrypt (bad base64, length, padding or key).
    #[error("cannot decrypt: {0}")]
    Decrypt(String),
    /// The decrypted message names another appid.
    #[error("message is for another appid")]
    WrongAppId,
    /// The XML is malformed or forbidden (DTD, entities).
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// Verifies, decrypts and parses Weixin pushes (CPU only, no I/O).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait PushDecoder: Send + Sync {
    /// The URL check (GET): the text to answer, if the signature matches. `query` is the
    /// request's raw query string (without `?`); its parameters are the adapter's business.
    ///
    /// # Errors
    /// [`PushError`] for a missing parameter or a bad signature.
    fn verify_url(&self, query: &str) -> Result<String, PushError>;

    /// A push (POST): the event, if the push is authentic and well formed. `query` is the raw
    /// query string, as for [`PushDecoder::verify_url`].
    ///
    /// # Errors
    /// [`PushError`] naming what is wrong; nothing may be stored then.
    fn decode(
        &self,
        query: &str,
        body: &[u8],
        now: crate::time::Timestamp,
    ) -> Result<crate::weixin::WeixinEvent, PushError>;
}
