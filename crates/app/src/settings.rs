//! What the use cases need to know about the merchant (read from configuration by the host).

use std::collections::BTreeMap;
use std::sync::Arc;

use fapiao_domain::SellerId;
use fapiao_domain::ids::AppId;
use fapiao_domain::invoice::InvoiceKind;
use fapiao_domain::party::Seller;
use fapiao_domain::scenario::{AccountRole, PageStyle};
use fapiao_domain::tax_category::TaxCategories;
use fapiao_domain::weixin::{AuthFields, CardTemplate, Contact};

/// The merchant's Weixin accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounts {
    /// The Official Account (owns `s_pappid`, receives pushes, inserts cards).
    pub official_account: AppId,
    /// The Mini Program, if the merchant has one.
    pub mini_program: Option<AppId>,
    /// The native App's Open Platform appid, if the merchant has one.
    pub open_platform_app: Option<AppId>,
}

impl Accounts {
    /// The appid of `role`, if configured.
    pub fn appid(&self, role: AccountRole) -> Option<&AppId> {
        match role {
            AccountRole::OfficialAccount => Some(&self.official_account),
            AccountRole::MiniProgram => self.mini_program.as_ref(),
            AccountRole::OpenPlatformApp => self.open_platform_app.as_ref(),
        }
    }
}

/// One invoicing entity.
#[derive(Debug, Clone, PartialEq)]
pub struct SellerSettings {
    /// Face data of the seller.
    pub seller: Seller,
    /// Kind of invoice it issues.
    pub kind: InvoiceKind,
    /// Its Weixin card template.
    pub card_template: CardTemplate,
}

/// Retry policy of pipeline steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before giving up into needs-attention.
    pub max_attempts: u32,
    /// First backoff.
    pub base_delay_millis: i64,
    /// Longest backoff.
    pub max_delay_millis: i64,
    /// Interval between queries of a pending invoice.
    pub poll_interval_millis: i64,
    /// Queries of a pending invoice before needs-attention.
    pub max_polls: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay_millis: 1_000,
            max_delay_millis: 300_000,
            poll_interval_millis: 5_000,
            max_polls: 720,
        }
    }
}

impl RetryPolicy {
    /// Backoff before attempt `attempt + 1`: exponential from the base, capped, with up to 20 %
    /// jitter taken from `jitter_seed` (so the domain of randomness stays with the caller).
    pub fn backoff_millis(&self, attempt: u32, jitter_seed: u64) -> i64 {
        let exp = self
            .base_delay_millis
            .saturating_mul(1_i64 << attempt.min(30))
            .min(self.max_delay_millis);
        let jitter_span = (exp / 5).max(1);
        let jitter =
            i64::try_from(jitter_seed % u64::try_from(jitter_span).unwrap_or(1)).unwrap_or(0);
        exp.saturating_add(jitter)
    }
}

/// Everything the use cases read from configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Weixin accounts.
    pub accounts: Accounts,
    /// Invoicing entities by key.
    pub sellers: BTreeMap<SellerId, SellerSettings>,
    /// Auth page style when the request names none.
    pub default_page_style: PageStyle,
    /// Merchant contact for the auth page.
    pub contact: Contact,
    /// Style-1 auth page fields.
    pub auth_fields: AuthFields,
    /// WeChat Pay merchant id to bind for post-payment invoicing.
    pub pay_mchid: Option<String>,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// How long an order may wait for its authorization push before `getauthdata` is polled.
    pub reconcile_after_millis: i64,
    /// Ask `card/user/getcardlist` for the code of a card whose `insert` answer was lost
    /// (unconfirmed for invoice cards: off, the code waits for a status push).
    pub lookup_lost_card_codes: bool,
    /// The tax category tables (embedded, with the merchant's override); a line is checked
    /// against the one in force on its date.
    pub tax_categories: Arc<TaxCategories>,
}
