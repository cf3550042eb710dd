//! The use-case services.

mod invoice;
mod setup;
mod webhooks;

use std::sync::Arc;

use fapiao_domain::ports::{
    Clock, ConsoleSessions, EventInbox, IdGenerator, InvoiceIssuer, JobQueue, OrderRepository,
    PushDecoder, SetupStore, WeixinMerchantApi, WeixinPlatformApi,
};

pub use invoice::{
    EventOutcome, FrontendAction, InvoiceService, JobOutcome, PdfKind, PushAccepted, StartRequest,
    Started,
};
pub use setup::{DoctorCheck, DoctorReport, SetupReport, SetupService, SetupStep};
pub use webhooks::{
    EVENT_ID_HEADER, EVENT_TYPE_HEADER, RoundReport, SIGNATURE_HEADER, WebhookEndpoint,
    WebhookService, WebhookSettings, envelope, event_id, signature,
};

/// The ports the services run on. Cheap to clone.
#[derive(Clone)]
pub struct Ports {
    /// Weixin merchant APIs.
    pub merchant: Arc<dyn WeixinMerchantApi>,
    /// Weixin invoicing-platform APIs.
    pub platform: Arc<dyn WeixinPlatformApi>,
    /// Verifies and decodes Weixin's pushes.
    pub decoder: Arc<dyn PushDecoder>,
    /// The tax platform.
    pub issuer: Arc<dyn InvoiceIssuer>,
    /// Orders.
    pub orders: Arc<dyn OrderRepository>,
    /// Jobs.
    pub jobs: Arc<dyn JobQueue>,
    /// Event inbox.
    pub inbox: Arc<dyn EventInbox>,
    /// Setup state.
    pub setup: Arc<dyn SetupStore>,
    /// The operator console's sessions.
    pub console_sessions: Arc<dyn ConsoleSessions>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ports { .. }")
    }
}
