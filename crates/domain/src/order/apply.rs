//! The transitions: [`Order::apply`] and the match on (state, input) behind it.

use super::{
    Attention, AttentionReason, Command, DeliveredCard, HistoryEntry, Input, IssueResult, Order,
    OrderState, Reversal, TransitionError,
};
use crate::ids::{CardCode, OpenId};
use crate::scenario::PageStyle;
use crate::time::Timestamp;
use crate::weixin::ReimburseStatus;

impl Order {
    /// Applies an input: on success the order has moved (or, for a repeated input, stayed
    /// unchanged) and the returned commands must run; on error nothing changed.
    ///
    /// # Errors
    /// [`TransitionError`] when the input is not allowed in the current state or contradicts
    /// the order.
    pub fn apply(&mut self, input: Input, at: Timestamp) -> Result<Vec<Command>, TransitionError> {
        let mut next = self.clone();
        let commands = next.transition(input, at)?;
        *self = next;
        Ok(commands)
    }

    fn not_allowed(&self, input: &Input) -> TransitionError {
        TransitionError::NotAllowed {
            order: self.key.order_id.to_string(),
            state: self.state,
            input: input.name(),
        }
    }

    fn invalid(&self, detail: impl Into<String>) -> TransitionError {
        TransitionError::Invalid {
            order: self.key.order_id.to_string(),
            detail: detail.into(),
        }
    }

    pub(super) fn record(
        &mut self,
        from: Option<OrderState>,
        to: OrderState,
        cause: String,
        at: Timestamp,
    ) {
        let seq = u32::try_from(self.history.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        self.history.push(HistoryEntry {
            seq,
            from,
            to,
            cause,
            at,
        });
        self.updated_at = at;
    }

    fn move_to(&mut self, to: OrderState, cause: impl Into<String>, at: Timestamp) {
        let from = self.state;
        self.state = to;
        self.record(Some(from), to, cause.into(), at);
    }

    fn attention(&mut self, reason: AttentionReason, at: Timestamp) {
        let resume = match self.state {
            OrderState::NeedsAttention => self
                .attention
                .as_ref()
                .map_or(OrderState::Created, |a| a.resume),
            other => other,
        };
        let cause = reason.to_string();
        self.attention = Some(Attention {
            reason,
            resume,
            since: at,
        });
        self.move_to(OrderState::NeedsAttention, cause, at);
    }

    /// The command that continues the pipeline from `state`, if any.
    fn resume_command(&self, state: OrderState) -> Option<Command> {
        match state {
            OrderState::Authorized => Some(Command::FetchAuthData),
            OrderState::Issuing => self
                .issue_key
                .clone()
                .map(|key| Command::IssueInvoice { key }),
            OrderState::IssuePending | OrderState::IssueOutcomeUnknown => self
                .issue_key
                .clone()
                .map(|key| Command::QueryIssue { key }),
            OrderState::Issued => Some(Command::UploadPdf),
            OrderState::PdfUploaded => Some(Command::InsertCard),
            OrderState::Rejected if !self.rejection_sent => self
                .rejection
                .clone()
                .map(|reason| Command::RejectInsert { reason, url: None }),
            OrderState::Reversing => self.reversal.as_ref().map(|r| Command::ReverseInvoice {
                key: r.key.clone(),
                reason: r.reason,
            }),
            // A card whose code is unknown cannot be cancelled until the code is learned.
            OrderState::Reversed => match (&self.reversal, &self.card) {
                (Some(r), Some(card)) if !r.card_cancelled && card.code.is_some() => {
                    Some(Command::UpdateCardStatus {
                        status: ReimburseStatus::Cancel,
                    })
                }
                _ => None,
            },
            _ => None,
        }
    }

    fn transition(&mut self, input: Input, at: Timestamp) -> Result<Vec<Command>, TransitionError> {
        use OrderState as S;
        match (self.state, input) {
            // --- authorization -------------------------------------------------------------
            (S::Created, Input::AuthUrlIssued) if !self.scenario.is_buyer_initiated() => {
                self.move_to(S::AwaitingAuthorization, "auth URL issued", at);
                Ok(vec![])
            }
            // A re-scanned QR code or a re-opened H5 page gets a fresh URL; nothing changes.
            (S::AwaitingAuthorization, Input::AuthUrlIssued) => Ok(vec![]),
            (
                S::Created | S::AwaitingAuthorization | S::AuthorizationFailed,
                Input::BuyerAuthorized(auth),
            ) => {
                let cause = match (&auth.appid, &auth.source) {
                    (Some(appid), Some(source)) => {
                        format!("buyer authorized via {} ({appid})", source.code())
                    }
                    (Some(appid), None) => format!("buyer authorized ({appid})"),
                    _ => "buyer authorized".to_owned(),
                };
                self.authorization = Some(auth);
                self.move_to(S::Authorized, cause, at);
                Ok(vec![Command::FetchAuthData])
            }
            // A repeated authorization changes nothing.
            (
                S::Authorized
                | S::Issuing
                | S::IssuePending
                | S::IssueOutcomeUnknown
                | S::Issued
                | S::PdfUploaded
                | S::Delivered
                | S::Reversing
                | S::Reversed,
                Input::BuyerAuthorized(_),
            ) => Ok(vec![]),
            (S::NeedsAttention, Input::BuyerAuthorized(_)) if self.authorization.is_some() => {
                Ok(vec![])
            }
            (S::Created | S::AwaitingAuthorization, Input::AuthorizationFailed { .. }) => {
                self.move_to(S::AuthorizationFailed, "buyer's authorization failed", at);
                Ok(vec![])
            }
            (S::AuthorizationFailed, Input::AuthorizationFailed { .. }) => Ok(vec![]),
            (
                S::Authorized,
                Input::AuthDataFetched {
                    buyer,
                    note,
                    issue_key,
                },
            ) => {
                // The title the buyer chose on a style-1 page wins over one the merchant guessed.
                let buyer = match (buyer, self.page_style) {
                    (Some(from_page), PageStyle::FillTitle) => Some(from_page),
                    (from_page, _) => self.buyer.clone().or(from_page),
                };
                let Some(buyer) = buyer else {
                    self.attention(AttentionReason::MissingBuyerTitle, at);
                    return Ok(vec![]);
                };
                self.buyer = Some(buyer);
                let key = self.issue_key.get_or_insert(issue_key).clone();
                let mut cause = format!("auth data fetched; issuing with key {key}");
                if let Some(note) = note {
                    cause.push_str("; ");
                    cause.push_str(&note);
                }
                self.move_to(S::Issuing, cause, at);
                Ok(vec![Command::IssueInvoice { key }])
            }
            // --- issuing -------------------------------------------------------------------
            (
                S::Issuing | S::IssuePending | S::IssueOutcomeUnknown,
                Input::IssueAnswered(result),
            ) => self.issue_answered(result, at),
            (
                S::Issued | S::PdfUploaded | S::Delivered,
                Input::IssueAnswered(IssueResult::Issued(inv)),
            ) if self.invoice.as_ref() == Some(&inv) => Ok(vec![]),
            // --- delivery ------------------------------------------------------------------
            (S::Issued, Input::PdfUploaded(pdf)) => {
                let cause = format!("PDF uploaded as s_media_id {}", pdf.media_id);
                self.pdf = Some(pdf);
                self.move_to(S::PdfUploaded, cause, at);
                Ok(vec![Command::InsertCard])
            }
            (S::PdfUploaded, Input::PdfMediaExpired) => {
                self.pdf = None;
                self.move_to(
                    S::Issued,
                    "uploaded PDF expired before insert; uploading again",
                    at,
                );
                Ok(vec![Command::UploadPdf])
            }
            (S::PdfUploaded, Input::CardInserted { card_id, card }) => {
                let cause = format!("card {card_id}/{} inserted for {}", card.code, card.openid);
                self.card = Some(DeliveredCard {
                    card_id,
                    code: Some(card.code),
                    openid: Some(card.openid),
                    reimbursement: ReimburseStatus::Init,
                    reimbursement_at: None,
                });
                self.move_to(S::Delivered, cause, at);
                Ok(vec![])
            }
            (S::PdfUploaded, Input::CardAlreadyInserted { card_id, code }) => {
                let cause = match &code {
                    Some(code) => format!(
                        "card {card_id} was inserted earlier and its answer lost (Weixin: order_id repeated); its code {code} found in the buyer's card list"
                    ),
                    None => format!(
                        "card {card_id} was inserted earlier and its answer lost (Weixin: order_id repeated); the card code is unknown until a status push names it"
                    ),
                };
                self.card = Some(DeliveredCard {
                    card_id,
                    code,
                    openid: self.authorization.as_ref().and_then(|a| a.openid.clone()),
                    reimbursement: ReimburseStatus::Init,
                    reimbursement_at: None,
                });
                self.move_to(S::Delivered, cause, at);
                Ok(vec![])
            }
            (S::Delivered | S::Reversing | S::Reversed, Input::CardAlreadyInserted { .. }) => {
                Ok(vec![])
            }
            (S::Delivered, Input::CardInserted { card_id, card }) => match &self.card {
                Some(c) if c.card_id == card_id && c.code.as_ref() == Some(&card.code) => {
                    Ok(vec![])
                }
                // A late answer of the insert whose code was unknown: now it is known.
                Some(c) if c.card_id == card_id && c.code.is_none() => {
                    self.learn_card_code(card.code, card.openid, at);
                    Ok(vec![])
                }
                _ => Err(self.invalid("a second card for an order that already has one")),
            },
            (
                S::Delivered | S::Reversing | S::Reversed | S::NeedsAttention,
                Input::CardCodeLearned { code, openid },
            ) => match &self.card {
                Some(c) if c.code.as_ref() == Some(&code) => Ok(vec![]),
                Some(c) if c.code.is_none() => {
                    self.learn_card_code(code, openid, at);
                    Ok(self.resume_command(self.state).into_iter().collect())
                }
                _ => Err(self.invalid("the order's card has another code")),
            },
            // --- rejection -----------------------------------------------------------------
            (
                S::Created | S::AwaitingAuthorization | S::Authorized | S::NeedsAttention,
                Input::RejectRequested { reason, url },
            ) => {
                if self.may_have_invoice() {
                    return Err(self.invalid(
                        "a tax invoice exists or may exist for this order; reverse it instead of rejecting",
                    ));
                }
                let reason = reason.trim().to_owned();
                if reason.is_empty() || reason.chars().count() > 200 {
                    return Err(self.invalid("reason: must be 1 to 200 characters"));
                }
                self.rejection = Some(reason.clone());
                self.attention = None;
                // Weixin takes rejectinsert only for an authorized order (72038 otherwise): before
                // the buyer authorized, the refusal is recorded and sent when they do.
                if self.authorization.is_none() {
                    self.move_to(
                        S::Rejected,
                        format!("rejected before the buyer authorized: {reason}"),
                        at,
                    );
                    return Ok(vec![]);
                }
                self.move_to(S::Rejected, format!("rejected: {reason}"), at);
                Ok(vec![Command::RejectInsert { reason, url }])
            }
            (S::Rejected, Input::RejectRequested { .. }) => Ok(vec![]),
            (S::Rejected, Input::BuyerAuthorized(auth)) => {
                if self.authorization.is_some() || self.rejection_sent {
                    return Ok(vec![]);
                }
                self.authorization = Some(auth);
                self.record(
                    Some(S::Rejected),
                    S::Rejected,
                    "buyer authorized after the rejection; telling them via rejectinsert".into(),
                    at,
                );
                Ok(self
                    .rejection
                    .clone()
                    .map(|reason| Command::RejectInsert { reason, url: None })
                    .into_iter()
                    .collect())
            }
            (S::Rejected, Input::AuthorizationFailed { .. }) => Ok(vec![]),
            (
                S::Issuing
                | S::IssuePending
                | S::IssueOutcomeUnknown
                | S::Issued
                | S::PdfUploaded
                | S::Delivered
                | S::Reversing,
                Input::RejectRequested { .. },
            ) => Err(self.invalid(
                "a tax invoice exists or may exist for this order; reverse it instead of rejecting",
            )),
            (S::Rejected, Input::RejectionSent) => {
                if !self.rejection_sent {
                    self.rejection_sent = true;
                    self.record(
                        Some(S::Rejected),
                        S::Rejected,
                        "buyer told via rejectinsert".into(),
                        at,
                    );
                }
                Ok(vec![])
            }
            // --- attention and retry -------------------------------------------------------
            (state, Input::StepFailed(reason))
                if !state.is_terminal() || state == S::Rejected || state == S::Reversed =>
            {
                self.attention(reason, at);
                Ok(vec![])
            }
            (S::NeedsAttention, Input::RetryRequested) => {
                let Some(attention) = self.attention.take() else {
                    return Err(self.invalid("needs attention without a recorded reason"));
                };
                let resume = attention.resume;
                let command = self.resume_command(resume);
                self.move_to(
                    resume,
                    format!("operator retry after: {}", attention.reason),
                    at,
                );
                Ok(command.into_iter().collect())
            }
            // --- reversal ------------------------------------------------------------------
            (
                S::Issued | S::PdfUploaded | S::Delivered | S::NeedsAttention,
                Input::ReverseRequested { reason, key },
            ) => {
                if self.invoice.is_none() {
                    return Err(self.invalid("no tax invoice to reverse"));
                }
                // A reversal under way is retried, not requested twice; one the platform rejected
                // is over, and a new request (new key, possibly corrected) may follow.
                if self.state == S::NeedsAttention
                    && self.attention.as_ref().is_some_and(|a| {
                        (a.resume == S::Reversing || a.resume == S::Reversed)
                            && !matches!(a.reason, AttentionReason::ReversalRejected { .. })
                    })
                {
                    return Err(self.invalid("a reversal is already under way; retry it instead"));
                }
                self.attention = None;
                self.reversal = Some(Reversal {
                    key: key.clone(),
                    reason,
                    red_invoice: None,
                    card_cancelled: false,
                });
                self.move_to(
                    S::Reversing,
                    format!("reversal requested ({})", reason.label()),
                    at,
                );
                Ok(vec![Command::ReverseInvoice { key, reason }])
            }
            (S::Reversing, Input::RedIssued(red)) => {
                let cause = format!("red invoice {} issued", red.number);
                if let Some(reversal) = self.reversal.as_mut() {
                    reversal.red_invoice = Some(red);
                }
                self.move_to(S::Reversed, cause, at);
                Ok(self.resume_command(S::Reversed).into_iter().collect())
            }
            (S::Reversing, Input::RedPending) => Ok(vec![]),
            (S::Reversed, Input::CardStatusUpdated(ReimburseStatus::Cancel)) => {
                if let Some(reversal) = self.reversal.as_mut() {
                    reversal.card_cancelled = true;
                }
                if let Some(card) = self.card.as_mut() {
                    card.reimbursement = ReimburseStatus::Cancel;
                }
                self.record(
                    Some(S::Reversed),
                    S::Reversed,
                    crate::webhook::CARD_CANCELLED_CAUSE.into(),
                    at,
                );
                Ok(vec![])
            }
            // --- reimbursement track -------------------------------------------------------
            (
                S::Delivered | S::Reversed | S::Reversing | S::NeedsAttention,
                Input::ReimbursementChanged {
                    status,
                    at: changed_at,
                },
            ) => {
                let order = self.key.order_id.to_string();
                let Some(card) = self.card.as_mut() else {
                    return Err(TransitionError::Invalid {
                        order,
                        detail: "a status change for an order without a card".into(),
                    });
                };
                // Pushes can arrive out of order: an older change never overwrites a newer one.
                if card.reimbursement == status
                    || card
                        .reimbursement_at
                        .is_some_and(|known| changed_at < known)
                {
                    return Ok(vec![]);
                }
                if card.reimbursement.is_final() {
                    return Err(TransitionError::Invalid {
                        order,
                        detail: format!(
                            "card is {} (final); {} is not possible",
                            card.reimbursement, status
                        ),
                    });
                }
                let cause = format!(
                    "{}{} -> {}",
                    crate::webhook::REIMBURSEMENT_CAUSE,
                    card.reimbursement,
                    status
                );
                card.reimbursement = status;
                card.reimbursement_at = Some(changed_at);
                let state = self.state;
                self.record(Some(state), state, cause, at);
                Ok(vec![])
            }
            (_, input) => Err(self.not_allowed(&input)),
        }
    }

    fn learn_card_code(&mut self, code: CardCode, openid: OpenId, at: Timestamp) {
        let state = self.state;
        if let Some(card) = self.card.as_mut() {
            let cause = format!("card code {code} learned for card {}", card.card_id);
            card.code = Some(code);
            card.openid = Some(openid);
            self.record(Some(state), state, cause, at);
        }
    }

    fn issue_answered(
        &mut self,
        result: IssueResult,
        at: Timestamp,
    ) -> Result<Vec<Command>, TransitionError> {
        use OrderState as S;
        let Some(key) = self.issue_key.clone() else {
            return Err(self.invalid("an issue answer for an order without an idempotency key"));
        };
        match result {
            IssueResult::Issued(invoice) => {
                let cause = format!("invoice {} issued", invoice.number);
                if let Some(reference) = &invoice.provider_ref {
                    self.provider_ref = Some(reference.clone());
                }
                let expected = self.lines.totals();
                let differ = invoice.totals != expected;
                let reason = AttentionReason::IssuedTotalsDiffer {
                    number: invoice.number.to_string(),
                    issued: format!(
                        "{} / {} / {}",
                        invoice.totals.amount_excl, invoice.totals.tax, invoice.totals.total
                    ),
                    expected: format!(
                        "{} / {} / {}",
                        expected.amount_excl, expected.tax, expected.total
                    ),
                };
                // The invoice exists either way: it is recorded, so it can be delivered or reversed.
                self.invoice = Some(invoice);
                self.move_to(S::Issued, cause, at);
                if differ {
                    self.attention(reason, at);
                    return Ok(vec![]);
                }
                Ok(vec![Command::UploadPdf])
            }
            IssueResult::Pending(reference) => {
                if reference.is_some() {
                    self.provider_ref = reference;
                }
                if self.state != S::IssuePending {
                    self.move_to(S::IssuePending, "pending at the tax platform", at);
                }
                Ok(vec![Command::QueryIssue { key }])
            }
            IssueResult::OutcomeUnknown { detail } => {
                if self.state != S::IssueOutcomeUnknown {
                    self.move_to(
                        S::IssueOutcomeUnknown,
                        format!("issue outcome unknown ({detail}); querying with the same key"),
                        at,
                    );
                }
                Ok(vec![Command::QueryIssue { key }])
            }
            IssueResult::Rejected { reason } => {
                let buyer_reason = format!("开票失败：{reason}");
                self.rejection = Some(buyer_reason.clone());
                self.move_to(
                    S::Rejected,
                    format!("tax platform rejected the invoice: {reason}"),
                    at,
                );
                Ok(vec![Command::RejectInsert {
                    reason: buyer_reason,
                    url: None,
                }])
            }
        }
    }
}
