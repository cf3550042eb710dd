//! The `fapiao` command: `serve` (default), `sandbox`, `setup`, `doctor`, `migrate`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fapiao::StartOptions;
use fapiao_app::Config;

#[derive(Debug, Parser)]
#[command(
    name = "fapiao",
    version,
    about = "Weixin e-invoices in the self-deployed invoicing platform mode"
)]
struct Cli {
    /// Configuration file (default: ./fapiao.toml if present; built-in sandbox defaults otherwise).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service (and, in the sandbox profile, the Weixin sandbox and setup).
    Serve,
    /// Run only the Weixin sandbox, for any Weixin SDK.
    Sandbox {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
        /// Also run the Nuonuo emulator here (docs/issuers/nuonuo.md).
        #[arg(long)]
        nuonuo_listen: Option<SocketAddr>,
    },
    /// Run the one-time Weixin setup against live Weixin (idempotent).
    Setup,
    /// Check every setup step and name the missing one.
    Doctor,
    /// Apply database migrations and exit.
    Migrate,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // A configuration error ends the process non-zero, naming the key, before anything runs.
    let config = Config::load(cli.config.as_deref())?;
    let command = cli.command.unwrap_or(Command::Serve);
    // The one-shot commands print their own progress; their logs are only warnings.
    let level = match command {
        Command::Serve | Command::Sandbox { .. } => None,
        Command::Setup | Command::Doctor | Command::Migrate => Some("warn"),
    };
    fapiao::logging::init(&config.log, level);
    match command {
        Command::Serve => serve(config).await,
        Command::Sandbox {
            listen,
            nuonuo_listen,
        } => {
            if let Some(nuonuo_listen) = nuonuo_listen {
                let listener = tokio::net::TcpListener::bind(nuonuo_listen)
                    .await
                    .with_context(|| format!("binding {nuonuo_listen}"))?;
                println!("Nuonuo emulator on http://{}", listener.local_addr()?);
                println!(
                    "  invoices: http://{}/nuonuo/control/invoices",
                    listener.local_addr()?
                );
                let emulator = fapiao_sandbox::nuonuo::NuonuoEmulatorConfig::default();
                tokio::spawn(async move {
                    if let Err(e) = fapiao_sandbox::nuonuo::serve(listener, emulator).await {
                        tracing::error!(error = %e, "nuonuo emulator stopped");
                    }
                });
            }
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            println!("Weixin sandbox on http://{}", listener.local_addr()?);
            println!(
                "  accounts: http://{}/sandbox/control/accounts",
                listener.local_addr()?
            );
            // The accounts of the configuration (the built-in ones unless it sets its own).
            let sandbox = fapiao_sandbox::SandboxConfig {
                public_base_url: Some(format!("http://{}", listener.local_addr()?)),
                ..fapiao::sandbox_accounts(&config)
            };
            let sandbox = fapiao_sandbox::Sandbox::new(sandbox)?;
            let (_stop, stop) = tokio::sync::watch::channel(false);
            fapiao::server::serve(
                listener,
                fapiao_sandbox::router(sandbox),
                fapiao::sandbox_limits(&config),
                stop,
            )
            .await;
            Ok(())
        }
        command @ (Command::Setup | Command::Doctor) if config.is_sandbox() => {
            if matches!(command, Command::Doctor) && !nuonuo_doctor(&config).await? {
                std::process::exit(1);
            }
            println!(
                "The sandbox profile runs setup automatically when `fapiao serve` starts; set weixin.mode = \"live\" to set up a real account."
            );
            Ok(())
        }
        Command::Setup => {
            println!("Setting up the Weixin accounts, step by step:");
            let state = offline_state(config).await?;
            state
                .setup()
                .run_with(&|step| {
                    println!(
                        "  {:<15} {} ({})",
                        step.name,
                        step.detail,
                        if step.changed {
                            "changed now"
                        } else {
                            "already in place"
                        }
                    );
                })
                .await?;
            println!("Setup is complete.");
            Ok(())
        }
        Command::Doctor => {
            config.settings()?;
            for warning in config.warnings() {
                println!("WARNING {warning}");
            }
            let nuonuo = nuonuo_doctor(&config).await?;
            println!("Checking the Weixin setup, step by step:");
            let callback = callback_check(&config).await;
            let state = offline_state(config).await?;
            let report = state
                .setup()
                .doctor_with(&|check| {
                    println!(
                        "  {} {:<18} {}",
                        if check.ok { "ok  " } else { "FAIL" },
                        check.name,
                        check.detail
                    );
                })
                .await?;
            println!(
                "  {} {:<18} {}",
                if callback.0 { "ok  " } else { "FAIL" },
                "callback URL",
                callback.1
            );
            if let Some(webhooks) = state.webhooks() {
                // Deliveries that failed are the endpoint's problem, not setup's: said, not fatal.
                let counts = webhooks.counts().await?;
                let count = |status| {
                    counts
                        .iter()
                        .find(|(s, _)| *s == status)
                        .map_or(0, |(_, n)| *n)
                };
                let failed = count(fapiao_domain::ports::DeliveryStatus::Failed);
                let names: Vec<&str> = webhooks
                    .endpoints()
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect();
                println!(
                    "  {} {:<18} {} endpoint(s) ({}); {} pending, {failed} failed (GET /v1/webhooks/deliveries?status=failed, then redeliver)",
                    if failed == 0 { "ok  " } else { "WARN" },
                    "webhooks",
                    names.len(),
                    names.join(", "),
                    count(fapiao_domain::ports::DeliveryStatus::Pending),
                );
            }
            if !report.healthy() || !callback.0 || !nuonuo {
                println!("Some checks failed: each line above says what to do.");
                std::process::exit(1);
            }
            println!("Every check passed.");
            Ok(())
        }
        Command::Migrate => {
            // A migration run against the wrong database is worse than none: validate first.
            config.settings()?;
            let db = fapiao::database(&config).await?;
            for name in db.applied_migrations().await? {
                println!("applied {name}");
            }
            Ok(())
        }
    }
}

/// The Nuonuo issuer's `doctor` lines when `issuer.kind = "nuonuo"`; whether they passed.
async fn nuonuo_doctor(config: &Config) -> anyhow::Result<bool> {
    if config.issuer.kind != fapiao_app::config::IssuerKind::Nuonuo {
        return Ok(true);
    }
    let db = fapiao::database(config).await?;
    // With environment = "emulator", doctor runs its own emulator unless a serving instance
    // already holds the address.
    let (_stop, stop) = tokio::sync::watch::channel(false);
    let config = match fapiao::nuonuo::start_emulator(config, stop).await {
        Ok(Some((url, _))) => fapiao::nuonuo::pointed_at(config.clone(), &url),
        Ok(None) => config.clone(),
        Err(_) => {
            let url = format!("http://{}", config.issuer.nuonuo.emulator_listen);
            fapiao::nuonuo::pointed_at(config.clone(), &url)
        }
    };
    let issuer = fapiao::nuonuo::nuonuo_issuer(
        &config,
        std::sync::Arc::new(fapiao_storage::SeaOrmTokenCache::new(db)),
        std::sync::Arc::new(fapiao::SystemClock),
    )?;
    let mut healthy = true;
    for (ok, name, detail) in fapiao::nuonuo::doctor(&issuer).await {
        healthy &= ok;
        println!(
            "{} {:<18} {}",
            if ok { "ok  " } else { "FAIL" },
            name,
            detail
        );
    }
    Ok(healthy)
}

async fn offline_state(config: Config) -> anyhow::Result<fapiao_app::AppState> {
    let options = StartOptions {
        listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        skip_setup: true,
        // Setup and doctor only look; jobs are for the serving instances.
        skip_runner: true,
        ..StartOptions::default()
    };
    let running = fapiao::start(config, options).await?;
    Ok(running.state.clone())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let sandbox = config.is_sandbox();
    let key = config.server.api_key.expose().to_owned();
    let public = config.server.public_base_url.clone();
    let warnings = config.warnings();
    let running = fapiao::start(config, StartOptions::default()).await?;
    println!();
    println!("fapiao is running");
    println!(
        "  merchant API   {}/v1   (Authorization: Bearer {})",
        running.base_url(),
        if sandbox {
            key.as_str()
        } else {
            "<server.api_key>"
        }
    );
    println!("  OpenAPI        {}/openapi.json", running.base_url());
    println!("  callback URL   {public}/weixin/callback");
    println!(
        "  health         {}/healthz  {}/readyz  {}/metrics",
        running.base_url(),
        running.base_url(),
        running.base_url()
    );
    if let Some(sandbox) = running.sandbox_url() {
        println!("  Weixin sandbox {sandbox}  (accounts: {sandbox}/sandbox/control/accounts)");
        println!("  buyer's cards  {sandbox}/sandbox/cards?openid=<openid>");
        println!("  tour           README.md, \"A five-minute tour\"");
    }
    for warning in warnings {
        println!("  WARNING        {warning}");
    }
    println!();
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    println!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// Weixin's URL check against the public callback URL: a signed GET must echo its text.
async fn callback_check(config: &Config) -> (bool, String) {
    let url = format!(
        "{}/weixin/callback",
        config.server.public_base_url.trim_end_matches('/')
    );
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
        .to_string();
    let nonce = "fapiaodoctor";
    let echo = format!("doctor{timestamp}");
    let query = fapiao_weixin::seal::url_check_query(
        config.weixin.callback.token.expose(),
        &timestamp,
        nonce,
        &echo,
    );
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
    {
        Ok(client) => client,
        Err(e) => return (false, format!("cannot build an HTTP client: {e}")),
    };
    let request = client.get(format!("{url}?{query}"));
    match request.send().await {
        Ok(response) if response.status().is_success() => match response.text().await {
            Ok(body) if body == echo => (true, format!("{url} answers Weixin's URL check")),
            Ok(body) => (
                false,
                format!("{url} answered {body:?} instead of the echo: check weixin.callback.token"),
            ),
            Err(e) => (false, format!("{url}: {e}")),
        },
        Ok(response) => (
            false,
            format!(
                "{url} answered {}: check that fapiao serves it and weixin.callback.token matches",
                response.status()
            ),
        ),
        Err(e) => (
            false,
            format!("{url} is not reachable ({e}); Weixin must reach server.public_base_url"),
        ),
    }
}
