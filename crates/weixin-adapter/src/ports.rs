//! [`WeixinMerchantApi`] and [`WeixinPlatformApi`] on [`ReqwestWeixinClient`] (the
//! `PushDecoder` port is implemented in `event`). Each method converts domain values to wire
//! structs, calls, and converts back; errors are translated to [`WeixinError`] at this edge.

use async_trait::async_trait;
use fapiao_domain::ports::{WeixinMerchantApi, WeixinPlatformApi};
use fapiao_domain::weixin::{
    AuthData, AuthFields, AuthUrl, AuthUrlRequest, CardInsertion, CardTemplate, Contact,
    InsertedCard, PayMchBinding, PdfUrl, ReimburseStatus, RejectRequest, WeixinError,
};
use fapiao_domain::{AppId, CardCode, CardId, MediaId, OpenId, OrderId, SPappId, Secret};
use secrecy::ExposeSecret;

use crate::client::ReqwestWeixinClient;
use crate::error::CallError;
use crate::wire::{self, ConvertError};

impl From<CallError> for WeixinError {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Api { errcode, errmsg } => WeixinError::Api { errcode, errmsg },
            CallError::Http { status } if status >= 500 || status == 429 => {
                WeixinError::Unavailable(format!("http status {status}"))
            }
            CallError::Http { status } => {
                WeixinError::InvalidResponse(format!("http status {status}"))
            }
            CallError::Transport { source, .. } => WeixinError::Unavailable(error_chain(&source)),
            CallError::Decode { endpoint, reason } => {
                WeixinError::InvalidResponse(format!("{endpoint}: {reason}"))
            }
            CallError::UnknownAccount(appid) => {
                WeixinError::Rejected(format!("no weixin account is configured for appid {appid}"))
            }
            CallError::Invalid(reason) => WeixinError::Rejected(reason),
            CallError::Cache(error) => WeixinError::Other(Box::new(error)),
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn invalid(endpoint: &'static str) -> impl Fn(ConvertError) -> WeixinError {
    move |error| WeixinError::InvalidResponse(format!("{endpoint}: {error}"))
}

#[async_trait]
impl WeixinMerchantApi for ReqwestWeixinClient {
    async fn wx_card_ticket(&self, account: &AppId) -> Result<Secret, WeixinError> {
        let ticket = ReqwestWeixinClient::wx_card_ticket(self, account).await?;
        Ok(Secret::new(ticket.expose_secret()))
    }

    async fn auth_url(
        &self,
        account: &AppId,
        request: &AuthUrlRequest,
    ) -> Result<AuthUrl, WeixinError> {
        let response = self
            .execute(account, &wire::GetAuthUrlRequest::from(request))
            .await?;
        AuthUrl::try_from(response).map_err(invalid("getauthurl"))
    }

    async fn auth_data(
        &self,
        s_pappid: &SPappId,
        order_id: &OrderId,
    ) -> Result<AuthData, WeixinError> {
        let request = wire::GetAuthDataRequest {
            s_pappid: s_pappid.as_str().to_owned(),
            order_id: order_id.as_str().to_owned(),
        };
        let response = self.execute(self.platform_appid(), &request).await?;
        Ok(AuthData::from(response))
    }

    async fn reject_insert(&self, request: &RejectRequest) -> Result<(), WeixinError> {
        self.execute(
            self.platform_appid(),
            &wire::RejectInsertRequest::from(request),
        )
        .await?;
        Ok(())
    }

    async fn contact(&self) -> Result<Option<Contact>, WeixinError> {
        let response = self
            .execute(self.platform_appid(), &wire::GetContactRequest {})
            .await?;
        response
            .contact
            .filter(|c| !c.phone.is_empty())
            .map(Contact::try_from)
            .transpose()
            .map_err(invalid("setbizattr.get_contact"))
    }

    async fn set_contact(&self, contact: &Contact) -> Result<(), WeixinError> {
        let request = wire::SetContactRequest {
            contact: contact.into(),
        };
        self.execute(self.platform_appid(), &request).await?;
        Ok(())
    }

    async fn auth_fields(&self) -> Result<Option<AuthFields>, WeixinError> {
        let response = self
            .execute(self.platform_appid(), &wire::GetAuthFieldRequest {})
            .await?;
        Ok(response.auth_field.map(AuthFields::from))
    }

    async fn set_auth_fields(&self, fields: &AuthFields) -> Result<(), WeixinError> {
        let request = wire::SetAuthFieldRequest {
            auth_field: fields.into(),
        };
        self.execute(self.platform_appid(), &request).await?;
        Ok(())
    }

    async fn pay_mch(&self) -> Result<Option<PayMchBinding>, WeixinError> {
        match self
            .execute(self.platform_appid(), &wire::GetPayMchRequest {})
            .await
        {
            Ok(response) => response
                .paymch_info
                .filter(|info| !info.mchid.is_empty())
                .map(PayMchBinding::try_from)
                .transpose()
                .map_err(invalid("setbizattr.get_pay_mch")),
            // 72028: "invoice never set pay mch info".
            Err(CallError::Api { errcode: 72028, .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    async fn set_pay_mch(&self, binding: &PayMchBinding) -> Result<(), WeixinError> {
        let request = wire::SetPayMchRequest {
            paymch_info: binding.into(),
        };
        self.execute(self.platform_appid(), &request).await?;
        Ok(())
    }
}

#[async_trait]
impl WeixinPlatformApi for ReqwestWeixinClient {
    async fn platform_id(&self) -> Result<SPappId, WeixinError> {
        let s_pappid = self.fetch_s_pappid(self.platform_appid()).await?;
        SPappId::parse(&s_pappid).map_err(|e| invalid("seturl")(e.into()))
    }

    async fn create_card_template(&self, template: &CardTemplate) -> Result<CardId, WeixinError> {
        template
            .validate()
            .map_err(|e| WeixinError::Rejected(e.to_string()))?;
        let response = self
            .execute(
                self.platform_appid(),
                &wire::CreateCardRequest::from(template),
            )
            .await?;
        wire::convert::card_id(&response.card_id).map_err(invalid("platform.createcard"))
    }

    async fn upload_pdf(&self, pdf: &[u8]) -> Result<MediaId, WeixinError> {
        let response = ReqwestWeixinClient::upload_pdf(self, self.platform_appid(), pdf).await?;
        wire::convert::media_id(&response.s_media_id).map_err(invalid("platform.setpdf"))
    }

    async fn pdf_url(&self, media_id: &MediaId) -> Result<PdfUrl, WeixinError> {
        let response = self
            .get_pdf(self.platform_appid(), media_id.as_str())
            .await?;
        PdfUrl::try_from(response).map_err(invalid("platform.getpdf"))
    }

    async fn insert_card(&self, insertion: &CardInsertion) -> Result<InsertedCard, WeixinError> {
        insertion
            .data
            .validate()
            .map_err(|e| WeixinError::Rejected(e.to_string()))?;
        let response = self
            .execute(
                self.platform_appid(),
                &wire::InsertCardRequest::from(insertion),
            )
            .await?;
        InsertedCard::try_from(response).map_err(invalid("insert"))
    }

    async fn update_card_status(
        &self,
        card_id: &CardId,
        code: &CardCode,
        status: ReimburseStatus,
    ) -> Result<(), WeixinError> {
        let request = wire::UpdateStatusRequest {
            card_id: card_id.as_str().to_owned(),
            code: code.as_str().to_owned(),
            reimburse_status: status.code().to_owned(),
        };
        self.execute(self.platform_appid(), &request).await?;
        Ok(())
    }

    async fn user_card_codes(
        &self,
        openid: &OpenId,
        card_id: &CardId,
    ) -> Result<Vec<CardCode>, WeixinError> {
        let request = wire::GetCardListRequest {
            openid: openid.as_str().to_owned(),
            card_id: card_id.as_str().to_owned(),
        };
        let response = self.execute(self.platform_appid(), &request).await?;
        response
            .card_list
            .iter()
            .filter(|entry| entry.card_id == card_id.as_str())
            .map(|entry| CardCode::parse(&entry.code).map_err(ConvertError::from))
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid("card.user.getcardlist"))
    }
}
