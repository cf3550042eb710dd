//! [`Sandbox`]: the shared handle behind the router, and the control operations the JSON
//! control API and the pages call (also usable in-process by tests).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fapiao_domain::AccountRole;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use crate::clock::SandboxClock;
use crate::config::{FaultConfig, FaultRule, PushMode, SandboxConfig, ScriptedFault};
use crate::error::{ControlError, SandboxError};
use crate::faults::{Faults, InjectedFault, Plan};
use crate::ids::fnv1a;
use crate::merchant::{AuthorizeRequest, OrderView, PayOutcome, PayRequest};
use crate::platform::{CardView, CardsView, ReimburseRequest};
use crate::push::{self, PushRecord};
use crate::state::{Settings, State, check_account};

struct Inner {
    settings: Arc<Settings>,
    clock: SandboxClock,
    state: Mutex<State>,
    faults: Mutex<Faults>,
    http: reqwest::Client,
    rids: AtomicU64,
}

/// The running emulator. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("public_base_url", &self.inner.settings.public_base_url)
            .finish_non_exhaustive()
    }
}

/// An account as `GET /sandbox/control/accounts` shows it, secrets included.
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    /// The appid.
    pub appid: String,
    /// Official Account, Mini Program or app.
    pub role: AccountRole,
    /// Display name.
    pub name: String,
    /// `gh_…`.
    pub original_id: String,
    /// The AppSecret.
    pub secret: String,
    /// The account's stable platform id (what `seturl` returns).
    pub s_pappid: String,
    /// Where pushes go.
    pub callback_url: Option<String>,
    /// The push Token.
    pub token: String,
    /// The EncodingAESKey.
    pub encoding_aes_key: Option<String>,
    /// The message security mode.
    pub push_mode: PushMode,
    /// Whether `set_contact` was called.
    pub contact_set: bool,
    /// Whether `set_auth_field` was called.
    pub auth_field_set: bool,
    /// The `set_pay_mch` binding `(mchid, s_pappid)`.
    pub pay_mch: Option<(String, String)>,
    /// The simulated buyer's openid under this account.
    pub buyer_openid: String,
}

/// Changes to an account's push settings; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountUpdate {
    /// A new callback URL; `""` removes it.
    #[serde(default)]
    pub callback_url: Option<String>,
    /// A new mode.
    #[serde(default)]
    pub push_mode: Option<PushMode>,
    /// A new push Token.
    #[serde(default)]
    pub token: Option<String>,
    /// A new EncodingAESKey.
    #[serde(default)]
    pub encoding_aes_key: Option<String>,
}

/// The answer of an authorization.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorizeOutcome {
    /// The order after the buyer acted.
    pub order: OrderView,
    /// The `user_authorize_invoice` push (two with an injected duplicate).
    pub pushes: Vec<PushRecord>,
}

/// The answer of a reimburser's change.
#[derive(Debug, Clone, Serialize)]
pub struct ReimburseOutcome {
    /// The card after the change.
    pub card: CardView,
    /// The `update_invoice_status` push (two with an injected duplicate).
    pub pushes: Vec<PushRecord>,
}

/// A fault configuration change and token invalidation; absent fields stay as they are.
/// Any configuration change reseeds the generators and clears the log.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultUpdate {
    /// New seed.
    #[serde(default)]
    pub seed: Option<u64>,
    /// New rules (replacing all).
    #[serde(default)]
    pub rules: Option<Vec<FaultRule>>,
    /// New script (replacing what is left of the old one).
    #[serde(default)]
    pub script: Option<Vec<ScriptedFault>>,
    /// New duplicate push rate.
    #[serde(default)]
    pub duplicate_push_rate: Option<f64>,
    /// New delayed push rate.
    #[serde(default)]
    pub delayed_push_rate: Option<f64>,
    /// New delay of a delayed push, in milliseconds.
    #[serde(default)]
    pub push_delay_ms: Option<u64>,
    /// Invalidate access tokens now (of `appid`, or of every account).
    #[serde(default)]
    pub invalidate_tokens: bool,
    /// The account whose tokens are invalidated.
    #[serde(default)]
    pub appid: Option<String>,
}

/// Fault injection as `GET /sandbox/control/faults` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FaultsView {
    /// The configuration in force.
    pub config: FaultConfig,
    /// Every fault injected since it was set.
    pub injected: Vec<InjectedFault>,
    /// Tokens invalidated by this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalidated_tokens: Option<usize>,
}

/// The sandbox clock.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ClockView {
    /// Sandbox time, Unix seconds.
    pub now: i64,
    /// Seconds ahead of the system clock.
    pub offset_secs: i64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; if something did, the maps are still valid.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Sandbox {
    /// A sandbox from `config`.
    ///
    /// # Errors
    /// [`SandboxError::Config`] for an invalid account or fault setting;
    /// [`SandboxError::Http`] when the push client cannot be built.
    pub fn new(config: SandboxConfig) -> Result<Self, SandboxError> {
        let public_base_url = config
            .public_base_url
            .clone()
            .unwrap_or_else(|| "http://127.0.0.1".to_owned())
            .trim_end_matches('/')
            .to_owned();
        let settings = Arc::new(Settings {
            seed: config.seed,
            public_base_url,
            timing: config.timing.clone(),
            push: config.push.clone(),
            unconfirmed: config.unconfirmed.clone(),
        });
        let state = State::new(&config, Arc::clone(&settings))?;
        let faults =
            Faults::new(config.faults.clone(), config.seed).map_err(SandboxError::Config)?;
        let http = reqwest::Client::builder()
            .user_agent("Mozilla/4.0 (fapiao-sandbox push)")
            .build()
            .map_err(SandboxError::Http)?;
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                clock: SandboxClock::new(),
                state: Mutex::new(state),
                faults: Mutex::new(faults),
                http,
                rids: AtomicU64::new(0),
            }),
        })
    }

    /// The URL clients and browsers use to reach the sandbox.
    pub fn public_base_url(&self) -> &str {
        &self.inner.settings.public_base_url
    }

    /// The sandbox clock.
    pub fn clock(&self) -> &SandboxClock {
        &self.inner.clock
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Runs `f` on the state under the lock (never held across an await).
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut lock(&self.inner.state))
    }

    pub(crate) fn plan(&self, endpoint: &str) -> Plan {
        lock(&self.inner.faults).plan(endpoint)
    }

    /// A request id for the `rid:` suffix of error messages.
    pub(crate) fn next_rid(&self) -> String {
        let n = self.inner.rids.fetch_add(1, Ordering::Relaxed);
        let now = self.inner.clock.now_secs();
        let mixed = fnv1a(&(self.inner.settings.seed ^ n).to_le_bytes());
        format!(
            "{:08x}-{:08x}-{:08x}",
            now & 0xffff_ffff,
            n & 0xffff_ffff,
            mixed & 0xffff_ffff
        )
    }

    /// Delivers push `id` (and an injected duplicate) in the background; with `wait`,
    /// returns once delivery has finished.
    async fn dispatch(&self, id: u64, wait: bool) -> Vec<PushRecord> {
        let duplicate = lock(&self.inner.faults).duplicate_push();
        let mut ids = vec![id];
        if duplicate && let Some(copy) = self.with_state(|state| state.duplicate_push(id)) {
            ids.push(copy);
        }
        let mut tasks = JoinSet::new();
        for push_id in &ids {
            let delay = lock(&self.inner.faults).push_delay();
            let sandbox = self.clone();
            let push_id = *push_id;
            tasks.spawn(async move {
                if let Some(delay) = delay {
                    tracing::info!(push = push_id, delay_ms = delay, "sandbox push delayed");
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                push::deliver(sandbox, push_id).await;
            });
        }
        if wait {
            while tasks.join_next().await.is_some() {}
        } else {
            tasks.detach_all();
        }
        self.with_state(|state| {
            ids.iter()
                .filter_map(|id| state.push(*id).cloned())
                .collect()
        })
    }

    /// Every account with its secrets and push settings.
    pub fn accounts(&self) -> Vec<AccountView> {
        self.with_state(|state| {
            state
                .accounts
                .iter()
                .map(|a| AccountView {
                    appid: a.appid.to_string(),
                    role: a.config.role,
                    name: a.config.name.clone(),
                    original_id: a.original_id.clone(),
                    secret: a.config.secret.clone(),
                    s_pappid: a.s_pappid.clone(),
                    callback_url: a.config.callback_url.clone(),
                    token: a.config.token.clone(),
                    encoding_aes_key: a.config.encoding_aes_key.clone(),
                    push_mode: a.config.push_mode,
                    contact_set: a.contact.is_some(),
                    auth_field_set: a.auth_field.is_some(),
                    pay_mch: a
                        .pay_mch
                        .as_ref()
                        .map(|p| (p.mchid.clone(), p.s_pappid.clone())),
                    buyer_openid: state.default_openid(&a.s_pappid),
                })
                .collect()
        })
    }

    /// Changes an account's push settings.
    ///
    /// # Errors
    /// 404 for an unknown appid, 400 for an unusable setting.
    pub fn update_account(
        &self,
        appid: &str,
        update: AccountUpdate,
    ) -> Result<AccountView, ControlError> {
        self.with_state(|state| {
            let account = state
                .account_mut(appid)
                .ok_or_else(|| ControlError::not_found(format!("no account {appid}")))?;
            let mut config = account.config.clone();
            if let Some(url) = update.callback_url {
                config.callback_url = Some(url).filter(|u| !u.trim().is_empty());
            }
            if let Some(mode) = update.push_mode {
                config.push_mode = mode;
            }
            if let Some(token) = update.token {
                config.token = token;
            }
            if let Some(key) = update.encoding_aes_key {
                config.encoding_aes_key = Some(key);
            }
            check_account(&config).map_err(ControlError::bad_request)?;
            account.config = config;
            Ok(())
        })?;
        self.accounts()
            .into_iter()
            .find(|a| a.appid == appid)
            .ok_or_else(|| ControlError::not_found(format!("no account {appid}")))
    }

    /// The buyer authorizes an order (or fails to) and `user_authorize_invoice` is pushed.
    ///
    /// # Errors
    /// 404 for an unknown order, 409 when it was already authorized, 400 for a bad title.
    pub async fn authorize(
        &self,
        request: AuthorizeRequest,
    ) -> Result<AuthorizeOutcome, ControlError> {
        let now = self.clock().now_secs();
        let (order, push) = self.with_state(|state| state.authorize(&request, now))?;
        let pushes = self.dispatch(push, request.wait).await;
        Ok(AuthorizeOutcome { order, pushes })
    }

    /// A WeChat Pay payment, with the invoice entry when `receipt` is `Y`.
    ///
    /// # Errors
    /// 409 when no WeChat Pay merchant is bound (`set_pay_mch`), 400 for a bad amount.
    pub fn pay(&self, request: &PayRequest) -> Result<PayOutcome, ControlError> {
        let now = self.clock().now_secs();
        self.with_state(|state| state.pay(request, now))
    }

    /// The reimburser changes a card's status and `update_invoice_status` is pushed.
    ///
    /// # Errors
    /// 404 for an unknown card, 400 for an unknown status, 409 for a refused transition.
    pub async fn reimburse(
        &self,
        request: ReimburseRequest,
    ) -> Result<ReimburseOutcome, ControlError> {
        let now = self.clock().now_secs();
        let (card, push) = self.with_state(|state| state.reimburse(&request, now))?;
        let pushes = self.dispatch(push, request.wait).await;
        Ok(ReimburseOutcome { card, pushes })
    }

    /// The invoice cards (and notices) of a buyer, or of every buyer.
    pub fn cards(&self, openid: Option<&str>) -> CardsView {
        self.with_state(|state| state.cards_view(openid))
    }

    /// Every order.
    pub fn orders(&self) -> Vec<OrderView> {
        self.with_state(|state| state.order_views())
    }

    /// Every push with its attempts.
    pub fn pushes(&self) -> Vec<PushRecord> {
        self.with_state(|state| state.pushes.clone())
    }

    /// Fault injection in force and its log.
    pub fn faults(&self) -> FaultsView {
        let faults = lock(&self.inner.faults);
        FaultsView {
            config: faults.config(),
            injected: faults.log().to_vec(),
            invalidated_tokens: None,
        }
    }

    /// Changes fault injection and/or invalidates tokens now.
    ///
    /// # Errors
    /// 400 for invalid rates, 404 for an unknown appid.
    pub fn set_faults(&self, update: FaultUpdate) -> Result<FaultsView, ControlError> {
        let reconfigure = update.seed.is_some()
            || update.rules.is_some()
            || update.script.is_some()
            || update.duplicate_push_rate.is_some()
            || update.delayed_push_rate.is_some()
            || update.push_delay_ms.is_some();
        if reconfigure {
            let mut faults = lock(&self.inner.faults);
            let mut config = faults.config();
            if let Some(seed) = update.seed {
                config.seed = Some(seed);
            }
            if let Some(rules) = update.rules {
                config.rules = rules;
            }
            if let Some(script) = update.script {
                config.script = script;
            }
            if let Some(rate) = update.duplicate_push_rate {
                config.duplicate_push_rate = rate;
            }
            if let Some(rate) = update.delayed_push_rate {
                config.delayed_push_rate = rate;
            }
            if let Some(delay) = update.push_delay_ms {
                config.push_delay_ms = delay;
            }
            *faults =
                Faults::new(config, self.inner.settings.seed).map_err(ControlError::bad_request)?;
        }
        let mut invalidated = None;
        if update.invalidate_tokens {
            let now = self.clock().now_secs();
            let appid = update.appid.as_deref();
            invalidated = Some(self.with_state(|state| {
                if let Some(appid) = appid
                    && state.account(appid).is_none()
                {
                    return Err(ControlError::not_found(format!("no account {appid}")));
                }
                Ok(state.invalidate_tokens(appid, now))
            })?);
        }
        Ok(FaultsView {
            invalidated_tokens: invalidated,
            ..self.faults()
        })
    }

    /// Moves the sandbox clock forward by `seconds`.
    pub fn advance_clock(&self, seconds: i64) -> ClockView {
        self.inner.clock.advance(seconds);
        self.clock_view()
    }

    /// The sandbox clock.
    pub fn clock_view(&self) -> ClockView {
        ClockView {
            now: self.inner.clock.now_secs(),
            offset_secs: self.inner.clock.offset_secs(),
        }
    }
}
