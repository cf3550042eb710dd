//! The sandbox tax platform (invoice-domain reference §8.4): issues recognisable test
//! invoices at once, with the faults of real platforms available on demand.
//!
//! - Numbers are 20 digits: `YY` + `00` (no province uses region 00) + channel `9` + a
//!   15-digit sequence per calendar year (China time) from the [`InvoiceNumbering`] port,
//!   series `sandbox-YYYY`, so they are gap-free. Red-letter confirmation forms get
//!   `YY` + `00` + `8` + a sequence of series `sandbox-red-form-YYYY`.
//! - The same idempotency key always answers with the invoice of that key; the records live
//!   in a [`SandboxLedger`] (in memory by default, pluggable for a durable one).
//! - [`SandboxMode`] switches at run time between issuing at once, pending for a number of
//!   polls, "outcome unknown" after applying, a rejection, "session required" and "not sent".
//! - `fetch_pdf` draws the invoice from the stored draft with a visible
//!   `SANDBOX / 非正式发票` mark; `reverse` issues a full red invoice at once (form state `01`
//!   无需确认).

mod ledger;
mod mix;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use fapiao_domain::IssueKey;
use fapiao_domain::ids::ProviderRef;
use fapiao_domain::invoice::{InvoiceDraft, InvoiceKind, InvoiceNumber, IssuedInvoice, RedLink};
use fapiao_domain::ports::{
    Clock, InvoiceIssuer, InvoiceNumbering, IssueError, IssueOutcome, IssueRejection, IssueRequest,
    IssuerCapabilities, PdfDocument, ReverseOutcome, ReverseRequest,
};

pub use crate::sandbox::ledger::{
    InMemorySandboxLedger, LedgerError, SandboxLedger, SandboxRecord, SandboxResult,
};
pub use crate::sandbox::mix::{MIX_REJECTION_CODE, ModeMix};

use crate::face::{invoice_face, qr_payload};
use crate::pdf::{InvoicePdfRenderer, RenderError};

/// The mark on every sandbox PDF.
pub const SANDBOX_MARK: &str = "SANDBOX / 非正式发票";

/// Channel digit (position 5) of sandbox invoice numbers.
const INVOICE_CHANNEL: u8 = 9;
/// Channel digit of sandbox red-letter confirmation form numbers.
const RED_FORM_CHANNEL: u8 = 8;
/// Largest 15-digit sequence.
const MAX_SEQUENCE: u64 = 999_999_999_999_999;

/// How the sandbox answers new requests (`issue` and `reverse`); requests whose key it has
/// seen are answered from its records whatever the mode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SandboxMode {
    /// Issue and answer `Issued` at once.
    #[default]
    Synchronous,
    /// Issue, but answer `Pending` to the request and to the next `polls` queries (or repeated
    /// requests with the same key), then `Issued`.
    Pending {
        /// Polls answered `Pending`.
        polls: u32,
    },
    /// Issue, then answer [`IssueError::OutcomeUnknown`], as after a timeout once sent; a
    /// query or a repeat with the same key finds the invoice.
    OutcomeUnknown,
    /// Refuse. A rejection with `serial_is_dead` is recorded, so the key keeps being refused;
    /// otherwise the key stays free for a retry.
    Reject(IssueRejection),
    /// Answer [`IssueError::SessionRequired`]; nothing is applied.
    SessionRequired,
    /// Answer [`IssueError::NotSent`]; nothing is applied.
    NotSent,
}

/// The sandbox tax platform, an [`InvoiceIssuer`].
pub struct SandboxIssuer {
    numbering: Arc<dyn InvoiceNumbering>,
    clock: Arc<dyn Clock>,
    ledger: Arc<dyn SandboxLedger>,
    renderer: InvoicePdfRenderer,
    mode: Mutex<SandboxMode>,
    mix: Mutex<ModeMix>,
    // Serialises look-up, numbering and recording of requests with the same key (by stripe),
    // so that concurrent requests with one key get one number; requests with other keys go
    // on in parallel, and the numbering itself is gap-free in the database.
    apply: Vec<tokio::sync::Mutex<()>>,
}

/// Lock stripes of [`SandboxIssuer`]: enough that unrelated orders rarely wait on each other.
const APPLY_STRIPES: usize = 64;

impl fmt::Debug for SandboxIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxIssuer")
            .field("mode", &self.mode())
            .finish_non_exhaustive()
    }
}

impl SandboxIssuer {
    /// A sandbox issuer keeping its records in memory.
    ///
    /// # Errors
    /// [`RenderError::Font`] if the vendored font cannot be read.
    pub fn new(
        numbering: Arc<dyn InvoiceNumbering>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, RenderError> {
        Self::with_ledger(numbering, clock, Arc::new(InMemorySandboxLedger::new()))
    }

    /// A sandbox issuer keeping its records in `ledger`.
    ///
    /// # Errors
    /// [`RenderError::Font`] if the vendored font cannot be read.
    pub fn with_ledger(
        numbering: Arc<dyn InvoiceNumbering>,
        clock: Arc<dyn Clock>,
        ledger: Arc<dyn SandboxLedger>,
    ) -> Result<Self, RenderError> {
        Ok(Self {
            numbering,
            clock,
            ledger,
            renderer: InvoicePdfRenderer::new()?,
            mode: Mutex::new(SandboxMode::default()),
            mix: Mutex::new(ModeMix::default()),
            apply: (0..APPLY_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        })
    }

    /// The lock of requests with `key`.
    fn apply_lock(&self, key: &IssueKey) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        let stripe = usize::try_from(hasher.finish() % APPLY_STRIPES as u64).unwrap_or(0);
        &self.apply[stripe]
    }

    /// How new requests are answered.
    pub fn mode(&self) -> SandboxMode {
        self.mode
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Changes how new requests are answered, from the next request on.
    pub fn set_mode(&self, mode: SandboxMode) {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }

    /// Answers a share of new issue requests in a fault mode chosen per key (see [`ModeMix`]);
    /// the others in the issuer's mode. Reversals are not mixed.
    pub fn set_mix(&self, mix: ModeMix) {
        *self.mix.lock().unwrap_or_else(PoisonError::into_inner) = mix;
    }

    /// The mode of a new issue request with `key`: the mix's draw, else the issuer's mode.
    fn issue_mode(&self, key: &IssueKey) -> SandboxMode {
        let mix = *self.mix.lock().unwrap_or_else(PoisonError::into_inner);
        mix.mode_for(key).unwrap_or_else(|| self.mode())
    }

    /// The records: what was issued or refused under which key (the witness that no order
    /// was issued twice).
    pub fn ledger(&self) -> &Arc<dyn SandboxLedger> {
        &self.ledger
    }

    /// The PDF bytes of a record's invoice, with the sandbox mark; `None` for a rejection.
    ///
    /// # Errors
    /// [`RenderError`] if drawing fails.
    pub fn render(&self, record: &SandboxRecord) -> Result<Option<Vec<u8>>, RenderError> {
        render_record(&self.renderer, record)
    }

    async fn record(&self, key: &IssueKey) -> Result<Option<SandboxRecord>, IssueError> {
        self.ledger
            .get(key)
            .await
            .map_err(|error| IssueError::Other(Box::new(error)))
    }

    /// A known key's record after one more poll.
    async fn poll(&self, record: SandboxRecord) -> Result<SandboxRecord, IssueError> {
        if let SandboxResult::Issued {
            polls_until_issued: 1..,
            ..
        } = &record.result
        {
            // The answer reflects the state before this poll.
            self.ledger
                .count_poll(&record.key)
                .await
                .map_err(|error| IssueError::Other(Box::new(error)))?;
        }
        Ok(record)
    }

    async fn insert(&self, record: SandboxRecord) -> Result<(), IssueError> {
        self.ledger
            .insert(record)
            .await
            .map_err(|error| IssueError::NotSent(format!("sandbox could not record: {error}")))
    }

    /// Numbers and stamps a new invoice of `draft`.
    async fn mint(
        &self,
        draft: &InvoiceDraft,
        red_of: Option<RedLink>,
    ) -> Result<IssuedInvoice, IssueError> {
        let now = self.clock.now();
        let (year, month, day, ..) = now.china_civil();
        let number = self
            .next_number(&format!("sandbox-{year:04}"), year, INVOICE_CHANNEL)
            .await?;
        let number = InvoiceNumber::digital(&number).map_err(|e| IssueError::Other(Box::new(e)))?;
        let totals = draft.lines().totals();
        let qr = qr_payload(
            draft.kind(),
            number.billing_no(),
            totals.amount_excl,
            (year, month, day),
        );
        let provider_ref = ProviderRef::parse(&format!("sandbox-{}", number.billing_no())).ok();
        Ok(IssuedInvoice {
            number,
            kind: draft.kind(),
            issued_at: now,
            totals,
            qr_payload: Some(qr),
            provider_ref,
            red_of,
        })
    }

    async fn next_number(
        &self,
        series: &str,
        year: i64,
        channel: u8,
    ) -> Result<String, IssueError> {
        let sequence = self
            .numbering
            .next(series)
            .await
            .map_err(|error| IssueError::NotSent(format!("sandbox numbering: {error}")))?;
        if sequence == 0 || sequence > MAX_SEQUENCE {
            return Err(IssueError::Other(
                format!("sandbox series {series} is exhausted at {sequence}").into(),
            ));
        }
        Ok(format!(
            "{:02}00{channel}{sequence:015}",
            year.rem_euclid(100)
        ))
    }

    /// The answer to a fault mode, or `None` to go on and issue.
    fn fault(mode: &SandboxMode) -> Option<IssueError> {
        match mode {
            SandboxMode::SessionRequired => Some(IssueError::SessionRequired(
                "sandbox: the drawer must log in to the tax bureau (simulated)".to_owned(),
            )),
            SandboxMode::NotSent => Some(IssueError::NotSent(
                "sandbox: the platform could not be reached (simulated)".to_owned(),
            )),
            _ => None,
        }
    }

    async fn reject(
        &self,
        key: &IssueKey,
        draft: &InvoiceDraft,
        rejection: &IssueRejection,
    ) -> Result<(), IssueError> {
        if rejection.serial_is_dead {
            self.insert(SandboxRecord {
                key: key.clone(),
                draft: draft.clone(),
                result: SandboxResult::Rejected(rejection.clone()),
            })
            .await?;
        }
        Ok(())
    }

    /// Why the sandbox refuses to reverse `original` with `request`, if it does.
    async fn reversal_refusal(
        &self,
        request: &ReverseRequest,
        original: &IssuedInvoice,
    ) -> Result<Option<String>, IssueError> {
        if original.red_of.is_some() {
            return Ok(Some(format!(
                "{} is a red invoice and cannot be reversed",
                original.number
            )));
        }
        let red = request.draft.lines().totals();
        let blue = original.totals;
        let mirrors = red.amount_excl.get() == -blue.amount_excl.get()
            && red.tax.get() == -blue.tax.get()
            && red.total.get() == -blue.total.get();
        if !mirrors {
            return Ok(Some(format!(
                "the sandbox reverses in full only: red totals {red} do not mirror blue totals {blue}"
            )));
        }
        let records = self
            .ledger
            .records()
            .await
            .map_err(|error| IssueError::Other(Box::new(error)))?;
        let reversed_by = records.iter().find(|record| {
            record.invoice().is_some_and(|invoice| {
                invoice
                    .red_of
                    .as_ref()
                    .is_some_and(|link| link.original == original.number)
            })
        });
        Ok(reversed_by.map(|record| {
            format!(
                "{} is already reversed in full (key {})",
                original.number, record.key
            )
        }))
    }
}

fn render_record(
    renderer: &InvoicePdfRenderer,
    record: &SandboxRecord,
) -> Result<Option<Vec<u8>>, RenderError> {
    let Some(invoice) = record.invoice() else {
        return Ok(None);
    };
    let mut face = invoice_face(&record.draft, invoice);
    face.watermark = Some(SANDBOX_MARK.to_owned());
    renderer.render(&face).map(Some)
}

fn issue_outcome(record: &SandboxRecord) -> IssueOutcome {
    match &record.result {
        SandboxResult::Issued {
            invoice,
            polls_until_issued: 0,
        } => IssueOutcome::Issued(invoice.clone()),
        SandboxResult::Issued { invoice, .. } => {
            IssueOutcome::Pending(invoice.provider_ref.clone())
        }
        SandboxResult::Rejected(rejection) => IssueOutcome::Rejected(rejection.clone()),
    }
}

fn reverse_outcome(record: &SandboxRecord) -> ReverseOutcome {
    match &record.result {
        SandboxResult::Issued {
            invoice,
            polls_until_issued,
        } => match &invoice.red_of {
            None => ReverseOutcome::Rejected(IssueRejection {
                reason: format!(
                    "idempotency key {} was used for blue invoice {}",
                    record.key, invoice.number
                ),
                code: Some("SANDBOX-KEY-REUSED".to_owned()),
                serial_is_dead: true,
            }),
            Some(_) if *polls_until_issued == 0 => ReverseOutcome::RedIssued(invoice.clone()),
            Some(link) => ReverseOutcome::Pending {
                reference: link.red_form_number.clone(),
            },
        },
        SandboxResult::Rejected(rejection) => ReverseOutcome::Rejected(rejection.clone()),
    }
}

fn refused(reason: String) -> IssueRejection {
    IssueRejection {
        reason,
        code: Some("SANDBOX-RED".to_owned()),
        serial_is_dead: false,
    }
}

#[async_trait]
impl InvoiceIssuer for SandboxIssuer {
    fn capabilities(&self) -> IssuerCapabilities {
        IssuerCapabilities {
            name: "sandbox".to_owned(),
            kinds: vec![InvoiceKind::DigitalOrdinary, InvoiceKind::DigitalSpecial],
            synchronous: true,
            full_reversal: true,
            partial_reversal: false,
            max_lines: 2000,
        }
    }

    async fn issue(&self, request: &IssueRequest) -> Result<IssueOutcome, IssueError> {
        let mode = self.issue_mode(&request.key);
        let _apply = self.apply_lock(&request.key).lock().await;
        if let Some(record) = self.record(&request.key).await? {
            let record = self.poll(record).await?;
            return Ok(issue_outcome(&record));
        }
        if let Some(error) = Self::fault(&mode) {
            return Err(error);
        }
        if let SandboxMode::Reject(rejection) = &mode {
            self.reject(&request.key, &request.draft, rejection).await?;
            return Ok(IssueOutcome::Rejected(rejection.clone()));
        }
        let invoice = self.mint(&request.draft, None).await?;
        let polls_until_issued = match mode {
            SandboxMode::Pending { polls } => polls,
            _ => 0,
        };
        self.insert(SandboxRecord {
            key: request.key.clone(),
            draft: request.draft.clone(),
            result: SandboxResult::Issued {
                invoice: invoice.clone(),
                polls_until_issued,
            },
        })
        .await?;
        match mode {
            SandboxMode::Pending { .. } => Ok(IssueOutcome::Pending(invoice.provider_ref)),
            SandboxMode::OutcomeUnknown => Err(IssueError::OutcomeUnknown(
                "sandbox: applied, but the answer was lost (simulated)".to_owned(),
            )),
            _ => Ok(IssueOutcome::Issued(invoice)),
        }
    }

    async fn query(&self, key: &IssueKey) -> Result<Option<IssueOutcome>, IssueError> {
        match self.record(key).await? {
            None => Ok(None),
            Some(record) => {
                let record = self.poll(record).await?;
                Ok(Some(issue_outcome(&record)))
            }
        }
    }

    async fn fetch_pdf(
        &self,
        key: &IssueKey,
        invoice: &IssuedInvoice,
    ) -> Result<PdfDocument, IssueError> {
        let record = self.record(key).await?.ok_or_else(|| {
            IssueError::NotFound(format!("sandbox has no request with key {key}"))
        })?;
        match &record.result {
            SandboxResult::Issued {
                invoice: stored,
                polls_until_issued: 0,
            } if stored.number == invoice.number => {}
            _ => {
                return Err(IssueError::NotFound(format!(
                    "sandbox has no issued invoice {} under key {key}",
                    invoice.number
                )));
            }
        }
        // Drawing takes milliseconds (over 100 for 2000 lines): off the async workers.
        let renderer = self.renderer.clone();
        let bytes = tokio::task::spawn_blocking(move || render_record(&renderer, &record))
            .await
            .map_err(|error| IssueError::Other(Box::new(error)))?
            .map_err(|error| IssueError::Other(Box::new(error)))?
            .ok_or_else(|| IssueError::NotFound(format!("key {key} was rejected")))?;
        PdfDocument::parse(bytes).map_err(|error| IssueError::Other(Box::new(error)))
    }

    async fn reverse(&self, request: &ReverseRequest) -> Result<ReverseOutcome, IssueError> {
        let mode = self.mode();
        let _apply = self.apply_lock(&request.key).lock().await;
        if let Some(record) = self.record(&request.key).await? {
            let record = self.poll(record).await?;
            return Ok(reverse_outcome(&record));
        }
        if let Some(error) = Self::fault(&mode) {
            return Err(error);
        }
        if let SandboxMode::Reject(rejection) = &mode {
            self.reject(&request.key, &request.draft, rejection).await?;
            return Ok(ReverseOutcome::Rejected(rejection.clone()));
        }
        let original = self
            .record(&request.original_key)
            .await?
            .and_then(|record| record.invoice().cloned())
            .filter(|invoice| invoice.number == request.original.number)
            .ok_or_else(|| {
                IssueError::NotFound(format!(
                    "sandbox has no invoice {} under key {}",
                    request.original.number, request.original_key
                ))
            })?;
        if let Some(reason) = self.reversal_refusal(request, &original).await? {
            return Ok(ReverseOutcome::Rejected(refused(reason)));
        }
        let (year, ..) = self.clock.now().china_civil();
        let form = self
            .next_number(
                &format!("sandbox-red-form-{year:04}"),
                year,
                RED_FORM_CHANNEL,
            )
            .await?;
        let link = RedLink {
            original: original.number.clone(),
            red_form_number: Some(form),
            reason: request.reason,
        };
        let red = self.mint(&request.draft, Some(link)).await?;
        let polls_until_issued = match mode {
            SandboxMode::Pending { polls } => polls,
            _ => 0,
        };
        let record = SandboxRecord {
            key: request.key.clone(),
            draft: request.draft.clone(),
            result: SandboxResult::Issued {
                invoice: red,
                polls_until_issued,
            },
        };
        self.insert(record.clone()).await?;
        match mode {
            SandboxMode::OutcomeUnknown => Err(IssueError::OutcomeUnknown(
                "sandbox: applied, but the answer was lost (simulated)".to_owned(),
            )),
            _ => Ok(reverse_outcome(&record)),
        }
    }
}

#[cfg(test)]
mod tests;
