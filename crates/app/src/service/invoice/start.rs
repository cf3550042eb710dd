//! Starting an order: check the request against setup and configuration, store the order,
//! and hand the front end its next step per scenario; resolving a printed QR code.

use fapiao_domain::OrderId;
use fapiao_domain::ids::{AppId, OrderKey, QrToken, SellerId};
use fapiao_domain::invoice::{Direction, InvoiceDraft, InvoiceLines, LineInput, normalize_remark};
use fapiao_domain::order::{Input, NewOrder, Order, OrderState};
use fapiao_domain::party::Buyer;
use fapiao_domain::ports::{OrderFilter, OrderPosition, RepositoryError};
use fapiao_domain::scenario::{PageStyle, Scenario};
use fapiao_domain::time::Timestamp;
use fapiao_domain::weixin::{AuthUrl, AuthUrlRequest, WeixinEvent};
use tracing::{info, warn};

use super::{Change, InvoiceService};
use crate::error::AppError;

/// What the merchant asks for when a buyer wants an invoice.
#[derive(Debug, Clone, PartialEq)]
pub struct StartRequest {
    /// Scenario.
    pub scenario: Scenario,
    /// The merchant's order id; fapiao mints one when absent. For post-payment, the id Weixin
    /// will report (the WeChat Pay transaction id by default).
    pub order_id: Option<OrderId>,
    /// Invoicing entity.
    pub seller: SellerId,
    /// Invoice lines as entered.
    pub lines: Vec<LineInput>,
    /// The buyer's title, when the merchant already has it.
    pub buyer: Option<Buyer>,
    /// Auth page style; the configured default when absent.
    pub page_style: Option<PageStyle>,
    /// Page to open after authorization (H5).
    pub redirect_url: Option<String>,
    /// Remark printed on the invoice.
    pub remark: Option<String>,
}

/// What the merchant's front end does next (`SPEC.md` §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontendAction {
    /// H5 in Weixin: redirect the buyer's browser to the auth URL.
    Redirect {
        /// Auth URL.
        auth_url: String,
    },
    /// Receipt QR: print a code for the short URL of this token; scanning it resolves a fresh
    /// auth URL.
    QrCode {
        /// The token of `/q/{token}`.
        token: QrToken,
    },
    /// Native App: hand the URL to the OpenSDK (`WXInvoiceAuthInsertReq.urlString` on iOS,
    /// `WXInvoiceAuthInsert.Req.url` on Android).
    AppSdk {
        /// Auth URL.
        auth_url: String,
    },
    /// Mini Program: `wx.navigateToMiniProgram({ appId, path })`.
    MiniProgram {
        /// The Mini Program to navigate to.
        app_id: AppId,
        /// Its path (the auth URL).
        path: String,
    },
    /// Post-payment: add the pay-request flag to the WeChat Pay order; the buyer taps the
    /// invoice entry on the receipt.
    PayRequestFlag {
        /// Field name in the WeChat Pay v2 order request.
        field: &'static str,
        /// Its value.
        value: &'static str,
    },
}

/// A started order and the front end's next step.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// The order as stored.
    pub order: Order,
    /// What the front end does.
    pub action: FrontendAction,
    /// Authorization pushes that arrived before the order and were kept for it, now due at
    /// once (the runner should be woken when there are any).
    pub woken_pushes: u64,
}

impl InvoiceService {
    /// Wakes the authorization pushes kept for `key` before it was registered; a failure is
    /// only logged (they are then handled at their next retry).
    async fn wake_early_pushes(&self, key: &OrderKey, now: Timestamp) -> u64 {
        let keys = WeixinEvent::authorization_dedupe_keys(key);
        match self.ports.inbox.wake(&keys, now).await {
            Ok(0) => 0,
            Ok(woken) => {
                info!(order_id = %key.order_id, woken, "pushes that arrived before the order are due now");
                woken
            }
            Err(e) => {
                warn!(order_id = %key.order_id, error = %e, "pushes kept for the order not woken; they wait for their retry");
                0
            }
        }
    }

    /// Starts invoicing: stores the order and returns what the front end needs.
    ///
    /// Starting an order id that already exists for the same scenario and amount resumes it
    /// (a fresh auth URL while it awaits authorization), so a retried request is harmless.
    ///
    /// # Errors
    /// [`AppError::Invalid`] naming the field for bad input (nothing stored);
    /// [`AppError::SetupIncomplete`] when setup lacks what the scenario needs;
    /// [`AppError::Conflict`] for an existing order id with different content;
    /// [`AppError::Weixin`] when `getauthurl` fails (the order stays `created`).
    pub async fn start(&self, request: StartRequest) -> Result<Started, AppError> {
        let now = self.ports.clock.now();
        let setup = self.setup_state().await?;
        let s_pappid = setup.s_pappid.clone().ok_or_else(|| {
            AppError::SetupIncomplete("s_pappid is unknown: run setup (seturl)".into())
        })?;
        let seller = self.settings.sellers.get(&request.seller).ok_or_else(|| {
            AppError::invalid(
                "seller",
                format!(
                    "unknown seller {:?}; configured: {}",
                    request.seller.as_str(),
                    self.seller_list()
                ),
            )
        })?;
        if !setup.card_templates.contains_key(&request.seller) {
            return Err(AppError::SetupIncomplete(format!(
                "seller {} has no invoice card template: run setup",
                request.seller
            )));
        }
        if request.scenario == Scenario::PostPayment && setup.pay_mch.is_none() {
            return Err(AppError::SetupIncomplete(
                "post-payment invoicing needs the set_pay_mch binding: configure the WeChat Pay mchid and run setup".into(),
            ));
        }
        let role = request.scenario.authorizing_account();
        let authorizing_appid = self.settings.accounts.appid(role).cloned().ok_or_else(|| {
            AppError::invalid(
                "scenario",
                format!(
                    "{} needs the {role:?} appid in the configuration",
                    request.scenario
                ),
            )
        })?;
        let page_style = match request.scenario {
            Scenario::PostPayment => PageStyle::FillTitle,
            _ => request
                .page_style
                .unwrap_or(self.settings.default_page_style),
        };
        if page_style == PageStyle::FillTitle && !setup.auth_fields_set {
            return Err(AppError::SetupIncomplete(
                "auth page style 1 needs the auth page fields (set_auth_field): run setup".into(),
            ));
        }
        let lines = InvoiceLines::compute(request.lines, Direction::Blue)
            .map_err(|e| AppError::invalid("lines", e.to_string()))?;
        if lines.lines().len() > self.ports.issuer.capabilities().max_lines {
            return Err(AppError::invalid(
                "lines",
                format!(
                    "the tax platform takes at most {} lines",
                    self.ports.issuer.capabilities().max_lines
                ),
            ));
        }
        let remark =
            normalize_remark(request.remark).map_err(|rule| AppError::invalid("remark", rule))?;
        // Build the draft once now so a bad buyer/seller/kind combination fails at the request,
        // not at issue time.
        if let Some(buyer) = &request.buyer {
            InvoiceDraft::new(
                seller.kind,
                buyer.clone(),
                seller.seller.clone(),
                lines.clone(),
                remark.clone(),
            )
            .map_err(|e| AppError::invalid("buyer", e.to_string()))?;
        }
        let order_id = request
            .order_id
            .unwrap_or_else(|| self.ports.ids.order_id());
        let key = OrderKey {
            s_pappid: s_pappid.clone(),
            order_id: order_id.clone(),
        };
        let qr_token = (request.scenario == Scenario::ScanQr).then(|| self.ports.ids.qr_token());
        let new = NewOrder {
            key: key.clone(),
            scenario: request.scenario,
            seller: request.seller.clone(),
            kind: seller.kind,
            lines,
            buyer: request.buyer,
            page_style,
            authorizing_appid,
            redirect_url: request.redirect_url,
            qr_token,
            remark,
        };
        let order = Order::create(new, now).map_err(|e| AppError::invalid(e.field, e.rule))?;
        let mut woken_pushes = 0;
        let mut order = match self.ports.orders.insert(&order, &[]).await {
            Ok(()) => {
                woken_pushes = self.wake_early_pushes(&key, now).await;
                let mut stored = order;
                stored.mark_saved();
                stored
            }
            Err(RepositoryError::Conflict(_)) => {
                let existing = self.reload(&key).await?;
                if existing.scenario() != order.scenario() || existing.money() != order.money() {
                    return Err(AppError::Conflict(format!(
                        "order_id {order_id} already exists with another scenario or amount"
                    )));
                }
                existing
            }
            Err(e) => return Err(e.into()),
        };
        info!(order_id = %order_id, scenario = %order.scenario(), "invoicing started");
        let action = match order.scenario() {
            Scenario::ScanQr => FrontendAction::QrCode {
                token: order.qr_token().cloned().ok_or_else(|| {
                    AppError::Conflict(format!("order {order_id} has no QR token"))
                })?,
            },
            Scenario::PostPayment => FrontendAction::PayRequestFlag {
                field: "receipt",
                value: "Y",
            },
            scenario => {
                let auth = self.issue_auth_url(&mut order).await?;
                match (scenario, auth.appid) {
                    (Scenario::MiniProgram, Some(app_id)) => FrontendAction::MiniProgram {
                        app_id,
                        path: auth.url,
                    },
                    (Scenario::MiniProgram, None) => {
                        return Err(AppError::Unavailable(
                            "getauthurl with source wxa answered no appid".into(),
                        ));
                    }
                    (Scenario::App, _) => FrontendAction::AppSdk { auth_url: auth.url },
                    _ => FrontendAction::Redirect { auth_url: auth.url },
                }
            }
        };
        Ok(Started {
            order,
            action,
            woken_pushes,
        })
    }

    fn seller_list(&self) -> String {
        self.settings
            .sellers
            .keys()
            .map(SellerId::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Gets a fresh auth URL for an order that awaits authorization and records it.
    async fn issue_auth_url(&self, order: &mut Order) -> Result<AuthUrl, AppError> {
        let source = order
            .scenario()
            .auth_source()
            .ok_or_else(|| AppError::invalid("scenario", "post-payment orders get no auth URL"))?;
        let account = order.authorizing_appid().clone();
        let ticket = self.ports.merchant.wx_card_ticket(&account).await?;
        let request = AuthUrlRequest {
            s_pappid: order.key().s_pappid.clone(),
            order_id: order.key().order_id.clone(),
            money: order.money(),
            timestamp: self.ports.clock.now(),
            source,
            redirect_url: order.redirect_url().map(str::to_owned),
            ticket,
            page_style: order.page_style(),
        };
        let auth = self.ports.merchant.auth_url(&account, &request).await?;
        if order.state() == OrderState::Created {
            let key = order.key().clone();
            let change = Change::new(Input::AuthUrlIssued).on(order.clone());
            *order = self.save(&key, change).await?.order;
        }
        Ok(auth)
    }

    /// Asks Weixin again for the auth URL of every order awaiting authorization, oldest first.
    /// The sandbox profile calls it after a restart: the new in-process sandbox starts empty, and
    /// an order it does not know could never be authorized there. Returns how many were renewed;
    /// an order whose call fails is logged and the others go on.
    ///
    /// # Errors
    /// Storage errors listing the orders.
    pub async fn renew_auth_urls(&self) -> Result<usize, AppError> {
        const PAGE: u32 = 200;
        let mut cursor = None;
        let mut renewed = 0;
        loop {
            let filter = OrderFilter {
                state: Some(OrderState::AwaitingAuthorization),
                scenario: None,
                limit: PAGE,
                updated_before: None,
                updated_after: None,
                oldest_first: true,
                after: cursor,
                ..OrderFilter::default()
            };
            let page = self.ports.orders.list(&filter).await?;
            let full = page.len() >= PAGE as usize;
            cursor = page.last().map(OrderPosition::of);
            for mut order in page {
                if order.scenario().auth_source().is_none() {
                    continue;
                }
                match self.issue_auth_url(&mut order).await {
                    Ok(_) => renewed += 1,
                    Err(e) => tracing::warn!(
                        order_id = %order.key().order_id,
                        error = %e,
                        "could not renew the auth URL"
                    ),
                }
            }
            if !full || cursor.is_none() {
                return Ok(renewed);
            }
        }
    }

    /// Resolves a printed QR code: a fresh auth URL for its order.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown token; [`AppError::Conflict`] when the order no
    /// longer awaits authorization; Weixin errors as for [`InvoiceService::start`].
    pub async fn scan_qr(&self, token: &QrToken) -> Result<String, AppError> {
        let mut order = self
            .ports
            .orders
            .find_by_qr_token(token)
            .await?
            .ok_or_else(|| AppError::NotFound("unknown QR code".into()))?;
        if !matches!(
            order.state(),
            OrderState::Created | OrderState::AwaitingAuthorization
        ) {
            return Err(AppError::Conflict(format!(
                "order {} is {}: this QR code was already used",
                order.key().order_id,
                order.state()
            )));
        }
        Ok(self.issue_auth_url(&mut order).await?.url)
    }
}
