//! [`FakeIssuer`]: a tax platform idempotent by key, with pending, timeout and reject modes.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::ids::IssueKey;
use crate::invoice::{InvoiceNumber, IssuedInvoice};
use crate::ports::{
    InvoiceIssuer, IssueError, IssueOutcome, IssueRequest, IssuerCapabilities, PdfDocument,
    ReverseOutcome, ReverseRequest,
};
use crate::time::Timestamp;

/// How [`FakeIssuer`] answers `issue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeIssuerMode {
    /// Issue at once.
    Synchronous,
    /// Answer pending; `query` issues after this many polls.
    PendingPolls(u32),
    /// Apply the request but answer "outcome unknown" (a timeout after sending).
    ApplyThenTimeout,
    /// Refuse with this reason.
    Reject(String),
}

#[derive(Debug, Default)]
struct FakeIssuerState {
    issued: HashMap<IssueKey, (IssueOutcome, u32)>,
    issue_calls: u32,
    reverse_calls: u32,
    numbers: u64,
}

/// A tax platform in memory: idempotent by key, numbering `26009` + sequence, with modes for
/// the asynchronous and faulty paths.
#[derive(Debug)]
pub struct FakeIssuer {
    mode: Mutex<FakeIssuerMode>,
    state: Mutex<FakeIssuerState>,
    issued_at: Timestamp,
}

impl FakeIssuer {
    /// A fake issuer in `mode`, stamping invoices with `issued_at`.
    pub fn new(mode: FakeIssuerMode, issued_at: Timestamp) -> Self {
        Self {
            mode: Mutex::new(mode),
            state: Mutex::new(FakeIssuerState::default()),
            issued_at,
        }
    }

    /// Changes the mode.
    pub fn set_mode(&self, mode: FakeIssuerMode) {
        *lock(&self.mode) = mode;
    }

    /// Distinct invoices issued (the witness for "one invoice per order").
    pub fn invoices_issued(&self) -> usize {
        lock(&self.state)
            .issued
            .values()
            .filter(|(o, _)| matches!(o, IssueOutcome::Issued(_)))
            .count()
    }

    /// Calls to `issue` so far.
    pub fn issue_calls(&self) -> u32 {
        lock(&self.state).issue_calls
    }

    fn mint(&self, state: &mut FakeIssuerState, request: &IssueRequest) -> IssueOutcome {
        state.numbers += 1;
        let text = format!("26009{:015}", state.numbers);
        match InvoiceNumber::digital(&text) {
            Ok(number) => IssueOutcome::Issued(IssuedInvoice {
                number,
                kind: request.draft.kind(),
                issued_at: self.issued_at,
                totals: request.draft.lines().totals(),
                qr_payload: None,
                provider_ref: None,
                red_of: None,
            }),
            Err(e) => IssueOutcome::Rejected(crate::ports::IssueRejection {
                reason: e.to_string(),
                code: None,
                serial_is_dead: false,
            }),
        }
    }
}

#[async_trait]
impl InvoiceIssuer for FakeIssuer {
    fn capabilities(&self) -> IssuerCapabilities {
        IssuerCapabilities {
            name: "fake".to_owned(),
            kinds: vec![crate::invoice::InvoiceKind::DigitalOrdinary],
            synchronous: true,
            full_reversal: true,
            partial_reversal: false,
            max_lines: 2000,
        }
    }

    async fn issue(&self, request: &IssueRequest) -> Result<IssueOutcome, IssueError> {
        let mode = lock(&self.mode).clone();
        let mut state = lock(&self.state);
        state.issue_calls += 1;
        if let Some((outcome, _)) = state.issued.get(&request.key) {
            return Ok(outcome.clone());
        }
        match mode {
            FakeIssuerMode::Synchronous => {
                let outcome = self.mint(&mut state, request);
                state
                    .issued
                    .insert(request.key.clone(), (outcome.clone(), 0));
                Ok(outcome)
            }
            FakeIssuerMode::PendingPolls(polls) => {
                let outcome = self.mint(&mut state, request);
                state.issued.insert(request.key.clone(), (outcome, polls));
                Ok(IssueOutcome::Pending(None))
            }
            FakeIssuerMode::ApplyThenTimeout => {
                let outcome = self.mint(&mut state, request);
                state.issued.insert(request.key.clone(), (outcome, 0));
                Err(IssueError::OutcomeUnknown(
                    "timed out after sending".to_owned(),
                ))
            }
            FakeIssuerMode::Reject(reason) => {
                let outcome = IssueOutcome::Rejected(crate::ports::IssueRejection {
                    reason,
                    code: Some("E1".to_owned()),
                    serial_is_dead: true,
                });
                state
                    .issued
                    .insert(request.key.clone(), (outcome.clone(), 0));
                Ok(outcome)
            }
        }
    }

    async fn query(&self, key: &IssueKey) -> Result<Option<IssueOutcome>, IssueError> {
        let mut state = lock(&self.state);
        match state.issued.get_mut(key) {
            None => Ok(None),
            Some((outcome, polls)) if *polls > 0 => {
                *polls -= 1;
                let _ = outcome;
                Ok(Some(IssueOutcome::Pending(None)))
            }
            Some((outcome, _)) => Ok(Some(outcome.clone())),
        }
    }

    async fn fetch_pdf(
        &self,
        key: &IssueKey,
        _invoice: &IssuedInvoice,
    ) -> Result<PdfDocument, IssueError> {
        let body = format!("%PDF-1.7\n% fake invoice for {key}\n%%EOF\n");
        PdfDocument::parse(body.into_bytes()).map_err(|e| IssueError::Other(Box::new(e)))
    }

    async fn reverse(&self, request: &ReverseRequest) -> Result<ReverseOutcome, IssueError> {
        let mut state = lock(&self.state);
        state.reverse_calls += 1;
        if let Some((IssueOutcome::Issued(red), _)) = state.issued.get(&request.key) {
            return Ok(ReverseOutcome::RedIssued(red.clone()));
        }
        state.numbers += 1;
        let text = format!("26009{:015}", state.numbers);
        let number = InvoiceNumber::digital(&text).map_err(|e| IssueError::Other(Box::new(e)))?;
        let red = IssuedInvoice {
            number,
            kind: request.original.kind,
            issued_at: self.issued_at,
            totals: request.draft.lines().totals(),
            qr_payload: None,
            provider_ref: None,
            red_of: Some(crate::invoice::RedLink {
                original: request.original.number.clone(),
                red_form_number: None,
                reason: request.reason,
            }),
        };
        state
            .issued
            .insert(request.key.clone(), (IssueOutcome::Issued(red.clone()), 0));
        Ok(ReverseOutcome::RedIssued(red))
    }
}
