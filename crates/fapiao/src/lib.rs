//! The fapiao service: the composition root. It reads the configuration, builds the adapters
//! (storage, Weixin client and push receiver, issuer, and in the sandbox profile the Weixin
//! sandbox itself), hands them to `fapiao-app`, binds the sockets and runs the workflow runner.
//!
//! Hosts that want the batteries-included wiring call [`start`]; the `fapiao` binary does the
//! same from the command line.

pub mod ledger;
pub mod logging;
pub mod nuonuo;
pub mod server;
pub mod system;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use fapiao_app::config::{AccountConfig, CallbackMode, IssuerKind, SqliteSynchronous, WeixinMode};
use fapiao_app::{
    Accounts, AppState, Config, HttpSettings, InvoiceService, Ports, Runner, RunnerSettings,
    Settings, SetupService, WebhookService,
};
use fapiao_domain::ids::AppId;
use fapiao_domain::ports::{Clock, IdGenerator, InvoiceIssuer, SetupState, SetupStore};
use fapiao_issuer::{GatewayConfig, GatewayConfigError, HttpGatewayIssuer, ModeMix, SandboxIssuer};
use fapiao_sandbox::SandboxConfig;
use fapiao_storage::{
    Database, DatabaseOptions, GroupCommitInbox, SeaOrmConsoleSessions, SeaOrmEventInbox,
    SeaOrmInvoiceNumbering, SeaOrmJobQueue, SeaOrmOrderRepository, SeaOrmSetupStore,
    SeaOrmTokenCache, SeaOrmWebhookOutbox, SqliteSync,
};
use fapiao_weixin::crypto::{AesKey, KeyRing};
use fapiao_weixin::{
    Account, PushConfig, PushMode, PushReceiver, ReqwestWeixinClient, TokenEndpoint, WeixinConfig,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub use fapiao_weixin::SystemClock;
pub use system::RandomIds;

/// What [`start`] needs besides the configuration.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Use this database instead of connecting to `database.url` (migrations still run).
    pub database: Option<Database>,
    /// Bind the service here instead of `server.listen` (tests use `127.0.0.1:0`).
    pub listen: Option<SocketAddr>,
    /// Bind the sandbox here instead of `sandbox.listen`.
    pub sandbox_listen: Option<SocketAddr>,
    /// Skip the automatic setup of the sandbox profile.
    pub skip_setup: bool,
    /// Do not run the workflow runner: the instance serves the API and stores pushes, and
    /// another instance (or a later start) works the jobs and the inbox.
    pub skip_runner: bool,
}

/// A running service.
#[derive(Debug)]
pub struct Running {
    /// Where the service listens.
    pub addr: SocketAddr,
    /// Where the in-process Weixin sandbox listens, in the sandbox profile.
    pub sandbox_addr: Option<SocketAddr>,
    /// The router state (services for tests and embedding hosts).
    pub state: AppState,
    /// The sandbox issuer, in the sandbox profile (the witness of what was issued).
    pub sandbox_issuer: Option<Arc<SandboxIssuer>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Asks every task to stop and waits for the runner to finish its round.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }

    /// Stops at once, as a crash would: no graceful end of rounds.
    pub fn abort(self) {
        for task in &self.tasks {
            task.abort();
        }
    }

    /// The service's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The sandbox's base URL.
    pub fn sandbox_url(&self) -> Option<String> {
        self.sandbox_addr.map(|a| format!("http://{a}"))
    }
}

/// The process-wide Prometheus recorder (metrics macros record into the global recorder).
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}

fn prepare_sqlite_dir(url: &str) -> anyhow::Result<()> {
    let Some(rest) = url.strip_prefix("sqlite://") else {
        return Ok(());
    };
    let path = rest.split('?').next().unwrap_or_default();
    if let Some(dir) = std::path::Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && path != ":memory:")
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

/// Connects to the configured database and applies pending migrations.
///
/// # Errors
/// When the database cannot be reached or migrated.
pub async fn database(config: &Config) -> anyhow::Result<Database> {
    prepare_sqlite_dir(&config.database.url)?;
    let options = DatabaseOptions {
        sqlite_synchronous: match config.database.sqlite_synchronous {
            SqliteSynchronous::Full => SqliteSync::Full,
            SqliteSynchronous::Normal => SqliteSync::Normal,
        },
        ..DatabaseOptions::default()
    };
    let db = Database::connect_with(&config.database.url, &options)
        .await
        .context("connecting to the database (database.url)")?;
    db.migrate().await.context("applying migrations")?;
    Ok(db)
}

fn push_mode(mode: CallbackMode) -> PushMode {
    match mode {
        CallbackMode::Plain => PushMode::Plain,
        CallbackMode::Compatible => PushMode::Compatible,
        CallbackMode::Safe => PushMode::Safe,
    }
}

fn sandbox_push_mode(mode: CallbackMode) -> fapiao_sandbox::PushMode {
    match mode {
        CallbackMode::Plain => fapiao_sandbox::PushMode::Plain,
        CallbackMode::Compatible => fapiao_sandbox::PushMode::Compatible,
        CallbackMode::Safe => fapiao_sandbox::PushMode::Safe,
    }
}

/// The sandbox's accounts: the merchant's configured accounts, pushing to `callback_url`.
pub fn sandbox_config(config: &Config, callback_url: &str) -> SandboxConfig {
    let mut sandbox = sandbox_accounts(config);
    for account in &mut sandbox.accounts {
        if account.role == fapiao_domain::AccountRole::OfficialAccount {
            account.callback_url = Some(callback_url.to_owned());
        }
    }
    sandbox
}

/// The sandbox's accounts: the merchant's configured accounts (appids, secrets, the callback
/// Token and EncodingAESKey), with no callback URL yet; `fapiao sandbox` serves these, so a
/// configuration with its own credentials drives the sandbox and the service alike.
pub fn sandbox_accounts(config: &Config) -> SandboxConfig {
    let weixin = &config.weixin;
    let account = |account: &AccountConfig, role, name: &str| fapiao_sandbox::AccountConfig {
        appid: account.appid.clone(),
        secret: account.secret.expose().to_owned(),
        role,
        name: name.to_owned(),
        original_id: None,
        callback_url: None,
        token: weixin.callback.token.expose().to_owned(),
        encoding_aes_key: Some(weixin.callback.encoding_aes_key.expose().to_owned()),
        push_mode: sandbox_push_mode(weixin.callback.mode),
    };
    let seller_name = config
        .sellers
        .values()
        .next()
        .map_or("fapiao sandbox merchant", |s| s.name.as_str());
    let mut accounts = vec![account(
        &weixin.official_account,
        fapiao_domain::AccountRole::OfficialAccount,
        seller_name,
    )];
    if let Some(mp) = &weixin.mini_program {
        accounts.push(account(
            mp,
            fapiao_domain::AccountRole::MiniProgram,
            seller_name,
        ));
    }
    if let Some(app) = &weixin.open_platform_app {
        accounts.push(account(
            app,
            fapiao_domain::AccountRole::OpenPlatformApp,
            seller_name,
        ));
    }
    SandboxConfig {
        seed: config.sandbox.seed,
        accounts,
        ..SandboxConfig::default()
    }
}

fn weixin_client(
    config: &Config,
    accounts: &Accounts,
    base_url: &str,
    cache: Arc<SeaOrmTokenCache>,
) -> anyhow::Result<ReqwestWeixinClient> {
    let weixin = &config.weixin;
    let account = |appid: &AppId, a: &AccountConfig| {
        Account::new(appid.clone(), a.secret.expose().to_owned())
    };
    let mut client_config = WeixinConfig::new(account(
        &accounts.official_account,
        &weixin.official_account,
    ))
    .with_base_url(base_url);
    if let (Some(appid), Some(mp)) = (&accounts.mini_program, &weixin.mini_program) {
        client_config = client_config.with_account(account(appid, mp));
    }
    if let (Some(appid), Some(app)) = (&accounts.open_platform_app, &weixin.open_platform_app) {
        client_config = client_config.with_account(account(appid, app));
    }
    client_config.token_endpoint = if weixin.stable_token {
        TokenEndpoint::Stable
    } else {
        TokenEndpoint::Classic
    };
    client_config.request_timeout = Duration::from_millis(weixin.timeout_ms.max(100));
    ReqwestWeixinClient::with_cache(client_config, cache, Arc::new(SystemClock))
        .map_err(|e| anyhow::anyhow!("building the Weixin client: {e}"))
}

fn push_receiver(config: &Config, accounts: &Accounts) -> anyhow::Result<PushReceiver> {
    let callback = &config.weixin.callback;
    let appid = accounts.official_account.clone();
    let mode = push_mode(callback.mode);
    let keys = if mode == PushMode::Plain {
        None
    } else {
        let current = AesKey::from_encoding_aes_key(callback.encoding_aes_key.expose())
            .map_err(|e| anyhow::anyhow!("weixin.callback.encoding_aes_key: {e}"))?;
        Some(match &callback.previous_encoding_aes_key {
            Some(previous) => KeyRing::with_previous(
                current,
                AesKey::from_encoding_aes_key(previous.expose()).map_err(|e| {
                    anyhow::anyhow!("weixin.callback.previous_encoding_aes_key: {e}")
                })?,
            ),
            None => KeyRing::new(current),
        })
    };
    let mut push = PushConfig::plain(callback.token.expose().to_owned(), appid);
    push.mode = mode;
    push.keys = keys;
    push.timestamp_window = (callback.timestamp_window_seconds > 0)
        .then(|| Duration::from_secs(callback.timestamp_window_seconds));
    PushReceiver::new(push).map_err(|e| anyhow::anyhow!("weixin.callback: {e}"))
}

/// The HTTP gateway issuer of `[issuer]`; errors name the configuration key.
fn gateway_issuer(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<HttpGatewayIssuer> {
    let issuer = &config.issuer;
    let gateway = GatewayConfig::new(
        &issuer.gateway_url,
        issuer.gateway_secret.expose().to_owned(),
    )
    .map_err(|e| match e {
        GatewayConfigError::BaseUrl(rule) => anyhow::anyhow!("issuer.gateway_url: {rule}"),
        GatewayConfigError::Secret(rule) => anyhow::anyhow!("issuer.gateway_secret: {rule}"),
        other => anyhow::anyhow!(other),
    })?;
    HttpGatewayIssuer::new(gateway, clock).context("building the gateway issuer's HTTP client")
}

fn worker_id(config: &Config) -> String {
    if config.runner.worker_id.is_empty() {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "fapiao".to_owned());
        format!("{host}-{}-{}", std::process::id(), RandomIds::nonce_short())
    } else {
        config.runner.worker_id.clone()
    }
}

impl RandomIds {
    fn nonce_short() -> String {
        RandomIds.nonce().chars().take(6).collect()
    }
}

/// The adapters wired for one configuration: what the use cases run on.
#[derive(Debug, Clone)]
pub struct Wiring {
    /// The validated settings of the use cases.
    pub settings: Settings,
    /// The ports.
    pub ports: Ports,
    /// The sandbox issuer when `issuer.kind = "sandbox"` (the witness of what was issued).
    pub sandbox_issuer: Option<Arc<SandboxIssuer>>,
    /// Webhook delivery when `[[webhooks]]` lists endpoints (run it with
    /// [`WebhookService::run`]).
    pub webhooks: Option<WebhookService>,
}

/// Builds the ports of `config` on `db`, calling Weixin at `weixin_base_url`: the Weixin
/// client on the shared token cache, the push receiver, the issuer of `issuer.kind`, and the
/// storage adapters. Binds nothing and starts nothing.
///
/// # Errors
/// Configuration or wiring failures, naming the key.
pub fn wire(config: &Config, db: &Database, weixin_base_url: &str) -> anyhow::Result<Wiring> {
    let settings = config.settings()?;
    let webhook_settings = config.webhook_settings(&worker_id(config))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ids: Arc<dyn IdGenerator> = Arc::new(RandomIds);
    let weixin = Arc::new(weixin_client(
        config,
        &settings.accounts,
        weixin_base_url,
        Arc::new(SeaOrmTokenCache::new(db.clone())),
    )?);
    let decoder = Arc::new(push_receiver(config, &settings.accounts)?);
    let (issuer, sandbox_issuer): (Arc<dyn InvoiceIssuer>, Option<Arc<SandboxIssuer>>) =
        match config.issuer.kind {
            IssuerKind::Sandbox => {
                let ledger = Arc::new(ledger::DatabaseSandboxLedger::new(
                    fapiao_storage::SeaOrmSandboxLedgerStore::new(db.clone()),
                ));
                let numbering = Arc::new(SeaOrmInvoiceNumbering::new(db.clone()));
                let issuer = Arc::new(
                    SandboxIssuer::with_ledger(numbering, clock.clone(), ledger)
                        .context("loading the sandbox issuer's font")?,
                );
                let mix: ModeMix = config
                    .issuer
                    .sandbox_mix
                    .parse()
                    .map_err(|rule| anyhow::anyhow!("issuer.sandbox_mix: {rule}"))?;
                issuer.set_mix(mix);
                (issuer.clone(), Some(issuer))
            }
            IssuerKind::Gateway => (Arc::new(gateway_issuer(config, clock.clone())?), None),
            IssuerKind::Nuonuo => {
                let cache = Arc::new(SeaOrmTokenCache::new(db.clone()));
                (
                    Arc::new(nuonuo::nuonuo_issuer(config, cache, clock.clone())?),
                    None,
                )
            }
        };
    let ports = Ports {
        merchant: weixin.clone(),
        platform: weixin,
        decoder,
        issuer,
        // With endpoints configured, every saved change writes its event in its transaction.
        orders: Arc::new(
            SeaOrmOrderRepository::new(db.clone()).with_webhook_outbox(webhook_settings.is_some()),
        ),
        jobs: Arc::new(SeaOrmJobQueue::new(db.clone())),
        // Pushes arriving together are stored in one transaction each batch.
        inbox: Arc::new(GroupCommitInbox::spawn(SeaOrmEventInbox::new(db.clone()))),
        setup: Arc::new(SeaOrmSetupStore::new(db.clone())),
        console_sessions: Arc::new(SeaOrmConsoleSessions::new(db.clone())),
        clock,
        ids,
    };
    let webhooks = match webhook_settings {
        Some(hooks) => Some(WebhookService::new(
            Arc::new(SeaOrmWebhookOutbox::new(db.clone())),
            Arc::new(webhook::ReqwestWebhookTransport::new(Duration::from_secs(
                config.webhook_delivery.timeout_seconds,
            ))?),
            ports.clock.clone(),
            hooks,
        )),
        None => None,
    };
    Ok(Wiring {
        settings,
        ports,
        sandbox_issuer,
        webhooks,
    })
}

/// Where live mode calls Weixin: `weixin.base_url`, or Weixin itself when it is empty.
pub fn live_weixin_base_url(config: &Config) -> String {
    if config.weixin.base_url.is_empty() {
        fapiao_weixin::LIVE_BASE_URL.to_owned()
    } else {
        config.weixin.base_url.clone()
    }
}

/// Binds `addr`, naming the configuration key in the error.
async fn bind(addr: SocketAddr, key: &str) -> anyhow::Result<TcpListener> {
    server::bind(addr).with_context(|| format!("binding {addr} ({key})"))
}

/// Starts the in-process Weixin sandbox of the sandbox profile on `listener`, pushing to
/// `callback_url`, until `stop` changes. Embedding hosts call it to run the sandbox profile
/// beside their own routes.
pub fn spawn_sandbox(
    config: &Config,
    listener: TcpListener,
    callback_url: &str,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let mut sandbox = sandbox_config(config, callback_url);
    let limits = sandbox_limits(config);
    tokio::spawn(async move {
        if sandbox.public_base_url.is_none()
            && let Ok(addr) = listener.local_addr()
        {
            sandbox.public_base_url = Some(format!("http://{addr}"));
        }
        match fapiao_sandbox::Sandbox::new(sandbox) {
            Ok(sandbox) => {
                tracing::info!(url = sandbox.public_base_url(), "weixin sandbox listening");
                server::serve(listener, fapiao_sandbox::router(sandbox), limits, stop).await;
            }
            Err(e) => tracing::error!(error = %e, "weixin sandbox stopped"),
        }
    })
}

/// The sandbox listener's limits: the service's, with room for uploaded PDFs.
pub fn sandbox_limits(config: &Config) -> fapiao_app::http::limits::HttpLimits {
    let mut limits = config.http_limits();
    limits.max_body_bytes = limits.max_body_bytes.max(16 << 20);
    limits
}

/// The in-process sandbox starts empty every time: the Weixin tokens, tickets and card templates
/// an earlier one minted mean nothing to it, so they are forgotten and setup runs from the start
/// (a tax platform's tokens, scarce and still valid, are kept).
/// (Setup and doctor skip setup and leave them be, so they never disturb a running instance.)
///
/// # Errors
/// Storage errors.
pub async fn forget_sandbox_setup(db: &Database) -> anyhow::Result<()> {
    SeaOrmTokenCache::new(db.clone())
        .clear_prefix("fapiao:weixin:")
        .await
        .context("clearing the sandbox's cached tokens")?;
    SeaOrmSetupStore::new(db.clone())
        .save(&SetupState::default())
        .await
        .context("resetting the sandbox's setup state")
}

/// Serves `router` on `listener` under `limits` until `stop` changes.
fn spawn_server(
    listener: TcpListener,
    router: axum::Router,
    limits: fapiao_app::http::limits::HttpLimits,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(server::serve(listener, router, limits, stop))
}

/// Builds everything and starts serving: the database, the in-process sandbox (sandbox
/// profile), the [`wire`]d ports, the HTTP service, the sandbox profile's setup and the runner.
///
/// # Errors
/// Configuration, database, binding or wiring failures, with the key or step named.
pub async fn start(config: Config, options: StartOptions) -> anyhow::Result<Running> {
    // Validate before touching the database or a socket.
    config.settings()?;
    server::raise_descriptor_limit();
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let db = match options.database {
        Some(db) => {
            db.migrate().await.context("applying migrations")?;
            db
        }
        None => database(&config).await?,
    };
    let listener = bind(
        options.listen.unwrap_or(config.server.listen),
        "server.listen",
    )
    .await?;
    let addr = listener.local_addr()?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = Vec::new();

    let (base_url, sandbox_addr) = match config.weixin.mode {
        WeixinMode::Sandbox => {
            let sandbox_listener = bind(
                options.sandbox_listen.unwrap_or(config.sandbox.listen),
                "sandbox.listen",
            )
            .await?;
            let sandbox_addr = sandbox_listener.local_addr()?;
            tasks.push(spawn_sandbox(
                &config,
                sandbox_listener,
                &format!("http://{addr}/weixin/callback"),
                shutdown_rx.clone(),
            ));
            if !options.skip_setup {
                forget_sandbox_setup(&db).await?;
            }
            (format!("http://{sandbox_addr}"), Some(sandbox_addr))
        }
        WeixinMode::Live => (live_weixin_base_url(&config), None),
    };

    // `issuer.nuonuo.environment = "emulator"`: the Nuonuo emulator runs in-process and the
    // issuer is pointed at it.
    let config = match nuonuo::start_emulator(&config, shutdown_rx.clone()).await? {
        Some((url, task)) => {
            tasks.push(task);
            nuonuo::pointed_at(config, &url)
        }
        None => config,
    };
    let Wiring {
        settings,
        ports,
        sandbox_issuer,
        webhooks,
    } = wire(&config, &db, &base_url)?;
    let work = Arc::new(Notify::new());
    let metrics = metrics_handle().map(|handle| {
        let render: fapiao_app::http::MetricsRender = Arc::new(move || handle.render());
        render
    });
    let http = HttpSettings {
        api_key: config.api_key(),
        public_base_url: config
            .server
            .public_base_url
            .trim_end_matches('/')
            .to_owned(),
    };
    let state = AppState::new(settings.clone(), http, ports.clone(), metrics, work.clone())
        .with_metrics_access(config.metrics_access())
        .with_http_links(config.is_sandbox())
        .with_webhooks(webhooks.clone())
        .with_console(config.console_settings());
    tasks.push(spawn_server(
        listener,
        fapiao_app::router(state.clone()),
        config.http_limits(),
        shutdown_rx.clone(),
    ));

    if config.is_sandbox() && !options.skip_setup {
        let setup = SetupService::new(ports.clone(), settings.clone());
        let report = setup
            .run()
            .await
            .context("running setup against the sandbox")?;
        for step in report.steps {
            tracing::info!(step = %step.name, detail = %step.detail, changed = step.changed, "setup");
        }
        // Orders that awaited authorization before a restart are new to this sandbox.
        let renewed = InvoiceService::new(ports.clone(), settings.clone())
            .renew_auth_urls()
            .await
            .context("renewing auth URLs with the sandbox")?;
        if renewed > 0 {
            tracing::info!(
                orders = renewed,
                "orders awaiting authorization registered with the new sandbox"
            );
        }
    }

    if !options.skip_runner {
        let runner_settings = RunnerSettings {
            worker_id: worker_id(&config),
            concurrency: config.runner.concurrency.max(1),
            lease: Duration::from_secs(config.runner.lease_seconds.max(1)),
            inbox_retention: (config.runner.inbox_retention_hours > 0).then(|| {
                Duration::from_secs(config.runner.inbox_retention_hours.saturating_mul(3600))
            }),
            reconcile_every: Duration::from_secs(config.runner.reconcile_interval_seconds.max(1)),
            ..RunnerSettings::default()
        };
        let runner = Runner::new(InvoiceService::new(ports, settings), runner_settings, work);
        if let Some(webhooks) = webhooks {
            tasks.push(tokio::spawn(webhooks.run(shutdown_rx.clone())));
        }
        tasks.push(tokio::spawn(runner.run(shutdown_rx)));
    }

    Ok(Running {
        addr,
        sandbox_addr,
        state,
        sandbox_issuer,
        shutdown,
        tasks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_settings_are_checked_naming_the_key() {
        let gateway = |url: &str, secret: &str| {
            let toml = format!(
                "[issuer]\nkind = \"gateway\"\ngateway_url = {url:?}\ngateway_secret = {secret:?}\n"
            );
            let config = Config::from_toml(&toml).unwrap_or_else(|e| panic!("{e}"));
            gateway_issuer(&config, Arc::new(SystemClock)).map_err(|e| format!("{e:#}"))
        };
        let secret = "s".repeat(32);
        assert!(gateway("https://erp.example.com/fapiao", &secret).is_ok());
        assert!(gateway("http://127.0.0.1:9000", &secret).is_ok());
        let error = gateway("http://erp.example.com", &secret).unwrap_err();
        assert!(
            error.starts_with("issuer.gateway_url: must be https"),
            "{error}"
        );
        let error = gateway("", &secret).unwrap_err();
        assert!(error.starts_with("issuer.gateway_url: "), "{error}");
        let error = gateway("https://erp.example.com", "too-short").unwrap_err();
        assert_eq!(
            error,
            "issuer.gateway_secret: must be at least 32 characters, got 9"
        );
    }
}
