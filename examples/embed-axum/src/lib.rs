//! An existing axum service that embeds fapiao — the code of the README's embedding section.
//!
//! The host keeps its own routes and nests fapiao's router under `/fapiao`, wires fapiao's
//! adapters from its configuration (`fapiao::wire`), hands in an `InvoiceIssuer` of its own
//! (here it wraps the configured one with the host's audit trail), runs fapiao's runner on its
//! own runtime, and shuts everything down cleanly.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use axum::Router;
use axum::routing::get;
use fapiao_app::{
    AppState, Config, HttpSettings, InvoiceService, Runner, RunnerSettings, SetupService,
};
use fapiao_domain::ids::IssueKey;
use fapiao_domain::invoice::IssuedInvoice;
use fapiao_domain::ports::{
    InvoiceIssuer, IssueError, IssueOutcome, IssueRequest, IssuerCapabilities, PdfDocument,
    ReverseOutcome, ReverseRequest,
};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// The host's own issuer: every invoice number issued is written to the host's audit trail,
/// then the configured tax platform does the work.
pub struct AuditedIssuer {
    inner: Arc<dyn InvoiceIssuer>,
    trail: Mutex<Vec<String>>,
}

impl AuditedIssuer {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn InvoiceIssuer>) -> Self {
        AuditedIssuer {
            inner,
            trail: Mutex::new(Vec::new()),
        }
    }

    /// The invoice numbers issued so far, in order.
    pub fn trail(&self) -> Vec<String> {
        self.trail.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

impl std::fmt::Debug for AuditedIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditedIssuer").finish_non_exhaustive()
    }
}

#[async_trait]
impl InvoiceIssuer for AuditedIssuer {
    fn capabilities(&self) -> IssuerCapabilities {
        self.inner.capabilities()
    }

    async fn issue(&self, request: &IssueRequest) -> Result<IssueOutcome, IssueError> {
        let outcome = self.inner.issue(request).await?;
        if let IssueOutcome::Issued(invoice) = &outcome
            && let Ok(mut trail) = self.trail.lock()
        {
            trail.push(invoice.number.to_string());
        }
        Ok(outcome)
    }

    async fn query(&self, key: &IssueKey) -> Result<Option<IssueOutcome>, IssueError> {
        self.inner.query(key).await
    }

    async fn fetch_pdf(
        &self,
        key: &IssueKey,
        invoice: &IssuedInvoice,
    ) -> Result<PdfDocument, IssueError> {
        self.inner.fetch_pdf(key, invoice).await
    }

    async fn reverse(&self, request: &ReverseRequest) -> Result<ReverseOutcome, IssueError> {
        self.inner.reverse(request).await
    }
}

/// The running host.
#[derive(Debug)]
pub struct Host {
    /// Where the host listens; fapiao is under `/fapiao`.
    pub addr: SocketAddr,
    /// The in-process Weixin sandbox, when the configuration is the sandbox profile.
    pub sandbox_addr: Option<SocketAddr>,
    /// The host's issuer.
    pub issuer: Arc<AuditedIssuer>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Host {
    /// Stops serving and lets the runner finish its round; answers whether every task ended
    /// within `grace`.
    pub async fn shutdown(self, grace: Duration) -> bool {
        let _ = self.shutdown.send(true);
        let mut clean = true;
        for task in self.tasks {
            clean &= matches!(tokio::time::timeout(grace, task).await, Ok(Ok(())));
        }
        clean
    }
}

/// Starts the host on `listen` (and, in the sandbox profile, the Weixin sandbox on
/// `sandbox_listen`).
///
/// # Errors
/// Configuration, database, binding or setup failures.
pub async fn start(
    config: Config,
    listen: SocketAddr,
    sandbox_listen: SocketAddr,
) -> anyhow::Result<Host> {
    let db = fapiao::database(&config).await?;
    let listener = TcpListener::bind(listen)
        .await
        .context("binding the host")?;
    let addr = listener.local_addr()?;
    let (shutdown, stop) = watch::channel(false);
    let mut tasks = Vec::new();

    // Weixin: the sandbox profile runs the sandbox beside the host, pushing to the nested
    // callback; live talks to Weixin.
    let (weixin_url, sandbox_addr) = if config.is_sandbox() {
        let sandbox = TcpListener::bind(sandbox_listen)
            .await
            .context("binding the sandbox")?;
        let sandbox_addr = sandbox.local_addr()?;
        let callback = format!("http://{addr}/fapiao/weixin/callback");
        tasks.push(fapiao::spawn_sandbox(
            &config,
            sandbox,
            &callback,
            stop.clone(),
        ));
        fapiao::forget_sandbox_setup(&db).await?;
        (format!("http://{sandbox_addr}"), Some(sandbox_addr))
    } else {
        (fapiao::live_weixin_base_url(&config), None)
    };

    // fapiao's adapters, with the host's own issuer handed in.
    let mut wiring = fapiao::wire(&config, &db, &weixin_url)?;
    let issuer = Arc::new(AuditedIssuer::new(wiring.ports.issuer.clone()));
    wiring.ports.issuer = issuer.clone();
    let (settings, ports) = (wiring.settings, wiring.ports);

    let work = Arc::new(Notify::new());
    let http = HttpSettings {
        api_key: config.api_key(),
        public_base_url: format!("http://{addr}/fapiao"),
    };
    let state = AppState::new(settings.clone(), http, ports.clone(), None, work.clone());
    let app = Router::new()
        .route("/", get(|| async { "the host's own page" }))
        .nest("/fapiao", fapiao_app::router(state));
    let mut server_stop = stop.clone();
    tasks.push(tokio::spawn(async move {
        let graceful = async move {
            let _ = server_stop.changed().await;
        };
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(graceful)
            .await;
    }));

    if config.is_sandbox() {
        SetupService::new(ports.clone(), settings.clone())
            .run()
            .await?;
    }

    // fapiao's runner on the host's runtime, stopped by the host's shutdown signal.
    let runner = Runner::new(
        InvoiceService::new(ports, settings),
        RunnerSettings {
            worker_id: format!("embed-axum-{}", std::process::id()),
            ..RunnerSettings::default()
        },
        work,
    );
    tasks.push(tokio::spawn(runner.run(stop)));

    Ok(Host {
        addr,
        sandbox_addr,
        issuer,
        shutdown,
        tasks,
    })
}
