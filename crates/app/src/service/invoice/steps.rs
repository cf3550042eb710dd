//! One function per pipeline command: each calls its port and says what the answer means for
//! the order ([`StepResult`]); none of them saves anything.

use fapiao_domain::ids::{CardCode, CardId, IssueKey};
use fapiao_domain::invoice::RedReason;
use fapiao_domain::order::{
    AttentionReason, Command, Input, IssueResult, Order, OrderState, Step, UploadedPdf,
};
use fapiao_domain::ports::{
    IssueOutcome, IssueRequest, RepositoryError, ReverseOutcome, ReverseRequest,
};
use fapiao_domain::weixin::{
    AuthStatus, CardInsertion, ReimburseStatus, RejectRequest, WeixinError,
};

use super::InvoiceService;
use super::pipeline::StepResult;

fn inconsistent(detail: impl Into<String>) -> StepResult {
    StepResult::Apply(Input::StepFailed(AttentionReason::Inconsistent {
        detail: detail.into(),
    }))
}

impl InvoiceService {
    /// Runs `command` for `order` (after `attempts` earlier failed attempts).
    pub(super) async fn execute(
        &self,
        order: &Order,
        command: &Command,
        attempts: u32,
    ) -> StepResult {
        if !order.accepts(command) {
            return StepResult::Skip(format!(
                "{} no longer applies in state {}",
                command.step(),
                order.state()
            ));
        }
        let result = match command {
            Command::FetchAuthData => self.fetch_auth_data(order, attempts).await,
            Command::IssueInvoice { key } => self.issue_invoice(order, key).await,
            Command::QueryIssue { key } => self.query_issue(order, key).await,
            Command::UploadPdf => self.upload_pdf(order).await,
            Command::InsertCard => self.insert_card(order).await,
            Command::RejectInsert { reason, url } => {
                self.reject_insert(order, reason, url.as_deref()).await
            }
            Command::ReverseInvoice { key, reason } => {
                self.reverse_invoice(order, key, *reason).await
            }
            Command::UpdateCardStatus { status } => self.update_card_status(order, *status).await,
        };
        crate::crash::after_call(command.step());
        result
    }

    /// `getauthdata`: the buyer's title, and the idempotency key of the invoice to come.
    async fn fetch_auth_data(&self, order: &Order, attempts: u32) -> StepResult {
        let key = order.key();
        let data = match self
            .ports
            .merchant
            .auth_data(&key.s_pappid, &key.order_id)
            .await
        {
            Ok(data) => data,
            Err(e) => return Self::weixin_failure(Step::FetchAuthData, e),
        };
        match &data.status {
            AuthStatus::AuthSuccess => match data.buyer() {
                Ok(title) => {
                    let (buyer, note) = match title {
                        Some(t) => (Some(t.buyer), t.warning),
                        None => (None, None),
                    };
                    StepResult::Apply(Input::AuthDataFetched {
                        buyer,
                        note,
                        issue_key: self.ports.ids.issue_key(),
                    })
                }
                Err(e) => {
                    StepResult::Apply(Input::StepFailed(AttentionReason::InvalidBuyerTitle {
                        detail: e.to_string(),
                    }))
                }
            },
            // The push can overtake getauthdata by a moment; ask again a few times.
            status if attempts + 1 < 3 => StepResult::Retry(format!("getauthdata says {status:?}")),
            status => StepResult::Apply(Input::StepFailed(
                AttentionReason::AuthorizationNotConfirmed {
                    status: match status {
                        AuthStatus::NeverAuth => "never auth".to_owned(),
                        AuthStatus::Other(s) => s.clone(),
                        AuthStatus::AuthSuccess => "auth success".to_owned(),
                    },
                },
            )),
        }
    }

    /// Issues the blue invoice under the order's idempotency key.
    async fn issue_invoice(&self, order: &Order, issue_key: &IssueKey) -> StepResult {
        let draft = match self.draft(
            order,
            order.lines().clone(),
            order.remark().map(str::to_owned),
        ) {
            Ok(draft) => draft,
            Err(detail) => return inconsistent(detail),
        };
        let request = IssueRequest {
            key: issue_key.clone(),
            order: order.key().clone(),
            draft,
        };
        match self.ports.issuer.issue(&request).await {
            Ok(outcome) => StepResult::Apply(Self::outcome_input(outcome)),
            Err(e) => Self::issuer_failure(Step::Issue, e),
        }
    }

    /// Asks the tax platform what became of the request under `issue_key`.
    async fn query_issue(&self, order: &Order, issue_key: &IssueKey) -> StepResult {
        match self.ports.issuer.query(issue_key).await {
            Ok(Some(IssueOutcome::Pending(reference))) => {
                if order.state() == OrderState::IssuePending {
                    StepResult::Poll("still pending at the tax platform".into())
                } else {
                    StepResult::Apply(Input::IssueAnswered(IssueResult::Pending(reference)))
                }
            }
            Ok(Some(outcome)) => StepResult::Apply(Self::outcome_input(outcome)),
            // The platform never saw the request: send it again with the same key, in this
            // job, so a platform that keeps losing requests is asked with backoff and within
            // the attempt limit rather than in a tight issue/query loop.
            Ok(None) => match self.issue_invoice(order, issue_key).await {
                StepResult::Apply(Input::IssueAnswered(IssueResult::OutcomeUnknown { detail })) => {
                    StepResult::Retry(format!(
                        "the platform had no record of key {issue_key}; sent again, outcome unknown again ({detail})"
                    ))
                }
                other => other,
            },
            Err(e) => Self::issuer_failure(Step::QueryIssue, e),
        }
    }

    /// Fetches the invoice PDF from the tax platform and uploads it to Weixin (`setpdf`).
    async fn upload_pdf(&self, order: &Order) -> StepResult {
        let (Some(invoice), Some(issue_key)) = (order.invoice(), order.issue_key()) else {
            return inconsistent("issued without an invoice");
        };
        let pdf = match self.ports.issuer.fetch_pdf(issue_key, invoice).await {
            Ok(pdf) => pdf,
            Err(e) => return Self::issuer_failure(Step::UploadPdf, e),
        };
        match self.ports.platform.upload_pdf(pdf.as_bytes()).await {
            Ok(media_id) => StepResult::Apply(Input::PdfUploaded(UploadedPdf {
                media_id,
                uploaded_at: self.ports.clock.now(),
            })),
            Err(e) => Self::weixin_failure(Step::UploadPdf, e),
        }
    }

    /// Inserts the invoice card into the buyer's Cards & Offers.
    async fn insert_card(&self, order: &Order) -> StepResult {
        if !order.pdf_attachable(self.ports.clock.now()) {
            return StepResult::Apply(Input::PdfMediaExpired);
        }
        let setup = match self.ports.setup.load().await {
            Ok(setup) => setup,
            Err(e) => return StepResult::Retry(e.to_string()),
        };
        let Some(card_id) = setup.card_templates.get(order.seller()).cloned() else {
            return StepResult::Apply(Input::StepFailed(AttentionReason::MissingCardTemplate {
                seller: order.seller().clone(),
            }));
        };
        let data = match self
            .card_data(order)
            .and_then(|data| data.validate().map(|()| data).map_err(|e| e.to_string()))
        {
            Ok(data) => data,
            Err(detail) => {
                return StepResult::Apply(Input::StepFailed(AttentionReason::InvalidCardData {
                    detail,
                }));
            }
        };
        let insertion = CardInsertion {
            order_id: order.key().order_id.clone(),
            card_id: card_id.clone(),
            appid: order.insert_appid().clone(),
            nonce: self.ports.ids.nonce(),
            data,
        };
        match self.ports.platform.insert_card(&insertion).await {
            Ok(card) => StepResult::Apply(Input::CardInserted { card_id, card }),
            // One card per order_id: Weixin refuses a repeat once an earlier insert was applied
            // (its answer lost to a timeout, a dropped connection or a crash). The buyer has the
            // card; only its code is unknown.
            Err(WeixinError::Api {
                errcode: 72056 | 72018,
                ..
            }) => match self.lost_card_code(order, &card_id).await {
                Ok(code) => StepResult::Apply(Input::CardAlreadyInserted { card_id, code }),
                // The store could not say which codes other orders hold: ask again later
                // (the repeat answers 72056 again) rather than give the code up.
                Err(e) => StepResult::Retry(e.to_string()),
            },
            Err(e) => Self::weixin_failure(Step::InsertCard, e),
        }
    }

    /// The code of this order's card whose `insert` answer was lost: of the codes the buyer
    /// holds of the template (`card/user/getcardlist`), the one no other order holds, if there
    /// is exactly one. Anything else (the lookup off or failing at Weixin, none, several)
    /// leaves it unknown: the order is delivered all the same and a status push names the
    /// code later.
    ///
    /// # Errors
    /// Storage errors reading which order holds a code.
    async fn lost_card_code(
        &self,
        order: &Order,
        card_id: &CardId,
    ) -> Result<Option<CardCode>, RepositoryError> {
        if !self.settings.lookup_lost_card_codes {
            return Ok(None);
        }
        let Some(openid) = order.authorization().and_then(|a| a.openid.clone()) else {
            return Ok(None);
        };
        let codes = match self.ports.platform.user_card_codes(&openid, card_id).await {
            Ok(codes) => codes,
            Err(e) => {
                tracing::info!(error = %e, order_id = %order.key().order_id, "card list lookup failed; the card code stays unknown");
                return Ok(None);
            }
        };
        let mut unaccounted = Vec::new();
        for code in codes {
            if self
                .ports
                .orders
                .find_by_card(card_id, &code)
                .await?
                .is_none()
            {
                unaccounted.push(code);
            }
        }
        Ok(if unaccounted.len() == 1 {
            unaccounted.pop()
        } else {
            None
        })
    }

    /// Tells the buyer the merchant refused (`rejectinsert`).
    async fn reject_insert(&self, order: &Order, reason: &str, url: Option<&str>) -> StepResult {
        let key = order.key();
        let request = RejectRequest {
            s_pappid: key.s_pappid.clone(),
            order_id: key.order_id.clone(),
            reason: reason.to_owned(),
            url: url.map(str::to_owned),
        };
        match self.ports.merchant.reject_insert(&request).await {
            Ok(()) => StepResult::Apply(Input::RejectionSent),
            // Already rejected earlier (a retried call whose reply was lost).
            Err(WeixinError::Api { errcode: 72035, .. }) => StepResult::Apply(Input::RejectionSent),
            Err(e) => Self::weixin_failure(Step::RejectInsert, e),
        }
    }

    /// Issues the full red invoice under `red_key`.
    async fn reverse_invoice(
        &self,
        order: &Order,
        red_key: &IssueKey,
        reason: RedReason,
    ) -> StepResult {
        let (Some(original), Some(original_key)) = (order.invoice(), order.issue_key()) else {
            return inconsistent("no invoice to reverse");
        };
        let remark = format!("被红冲蓝字数电发票号码：{}", original.number);
        let draft = match self.draft(order, order.lines().full_reversal(), Some(remark)) {
            Ok(draft) => draft,
            Err(detail) => return inconsistent(detail),
        };
        let request = ReverseRequest {
            key: red_key.clone(),
            original_key: original_key.clone(),
            original: original.clone(),
            draft,
            reason,
        };
        match self.ports.issuer.reverse(&request).await {
            Ok(ReverseOutcome::RedIssued(red)) => StepResult::Apply(Input::RedIssued(red)),
            Ok(ReverseOutcome::Pending { reference }) => StepResult::Poll(format!(
                "red invoice pending ({})",
                reference.unwrap_or_default()
            )),
            Ok(ReverseOutcome::Rejected(rejection)) => {
                StepResult::Apply(Input::StepFailed(AttentionReason::ReversalRejected {
                    message: rejection.reason,
                }))
            }
            Err(e) => Self::issuer_failure(Step::Reverse, e),
        }
    }

    /// Sets the card's reimbursement status (`updatestatus`).
    async fn update_card_status(&self, order: &Order, status: ReimburseStatus) -> StepResult {
        let Some((card_id, code)) = order
            .card()
            .and_then(|card| card.code.as_ref().map(|code| (&card.card_id, code)))
        else {
            return StepResult::Skip("no card with a known code".into());
        };
        match self
            .ports
            .platform
            .update_card_status(card_id, code, status)
            .await
        {
            Ok(()) => StepResult::Apply(Input::CardStatusUpdated(status)),
            // "This invoice has been cancelled": an earlier cancel was applied, its answer lost.
            Err(WeixinError::Api { errcode: 72060, .. }) if status == ReimburseStatus::Cancel => {
                StepResult::Apply(Input::CardStatusUpdated(status))
            }
            Err(e) => Self::weixin_failure(Step::UpdateCardStatus, e),
        }
    }
}
