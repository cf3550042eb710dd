//! `fapiao serve` as an operator runs it, for the figures taken as deployed: the release
//! binary in its own process, its runner on, in live mode against the Weixin sandbox that
//! this process serves (so the sandbox's work and memory are not counted as the service's).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use fapiao_app::Config;
use fapiao_storage::testing::TestDatabase;

use crate::support::{LIVE_API_KEY, LIVE_TOML, write_live_config};

/// A running `fapiao serve` child and the sandbox it talks to.
pub(crate) struct Served {
    child: tokio::process::Child,
    /// The child's process id (for its memory).
    pub(crate) pid: u32,
    /// Where the service listens, e.g. `http://127.0.0.1:40001`.
    pub(crate) base: String,
    /// Where the Weixin sandbox listens (its control API included).
    pub(crate) sandbox: String,
    /// From the spawn to the first successful `/readyz`.
    pub(crate) ready: Duration,
    sandbox_task: tokio::task::JoinHandle<()>,
    config_dir: PathBuf,
}

/// The URL a child process connects with: on PostgreSQL the test schema goes in as a
/// connection option (the child has no other way to be told it).
pub(crate) fn child_database_url(db: &TestDatabase) -> String {
    match db.postgres_schema() {
        Some(schema) => {
            let separator = if db.url().contains('?') { '&' } else { '?' };
            format!("{}{separator}options=-c%20search_path%3D{schema}", db.url())
        }
        None => db.url().to_owned(),
    }
}

/// The `fapiao` binary: `FAPIAO_BIN` when set (another build, to compare before and after
/// with one bench), else the one beside this bench.
pub(crate) fn fapiao_binary() -> anyhow::Result<PathBuf> {
    let binary = match std::env::var_os("FAPIAO_BIN") {
        Some(path) => PathBuf::from(path),
        None => std::env::current_exe()?.with_file_name("fapiao"),
    };
    ensure!(
        binary.exists(),
        "{} is missing: build it with `cargo build --release -p fapiao -p fapiao-bench`",
        binary.display()
    );
    Ok(binary)
}

/// `VmRSS` and `VmHWM` of `pid`, in MB.
pub(crate) fn resident(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `POST /v1/setup` on the live-mode service at `base`.
pub(crate) async fn live_setup(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let setup = client
        .post(format!("{base}/v1/setup"))
        .bearer_auth(LIVE_API_KEY)
        .send()
        .await?;
    ensure!(
        setup.status().is_success(),
        "setup: {}",
        setup.text().await?
    );
    Ok(())
}

impl Served {
    /// Starts the sandbox here and `fapiao serve` (the `fapiao` binary beside this one) on
    /// `db` with [`LIVE_TOML`] and the extra `env` (`FAPIAO__…` settings); waits until the
    /// service is ready. Setup is left to [`Served::setup`].
    pub(crate) async fn start(db: &TestDatabase, env: &[(&str, String)]) -> anyhow::Result<Self> {
        let binary = fapiao_binary()?;
        let (port, sandbox_port) = (free_port()?, free_port()?);
        let base = format!("http://127.0.0.1:{port}");
        let sandbox = format!("http://127.0.0.1:{sandbox_port}");
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], sandbox_port))).await?;
        let config_dir =
            std::env::temp_dir().join(format!("fapiao-served-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&config_dir)?;
        let config_file = write_live_config(&config_dir)?;
        let sandbox_config = fapiao::sandbox_config(
            &Config::from_toml(LIVE_TOML)?,
            &format!("{base}/weixin/callback"),
        );
        let sandbox_task = tokio::spawn(async move {
            if let Err(err) = fapiao_sandbox::serve(listener, sandbox_config).await {
                eprintln!("the Weixin sandbox stopped: {err}");
            }
        });
        let spawned = Instant::now();
        let mut command = tokio::process::Command::new(&binary);
        command
            .arg("--config")
            .arg(&config_file)
            .arg("serve")
            .env("FAPIAO__DATABASE__URL", child_database_url(db))
            .env("FAPIAO__SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("FAPIAO__SERVER__PUBLIC_BASE_URL", &base)
            .env("FAPIAO__WEIXIN__MODE", "live")
            .env("FAPIAO__WEIXIN__BASE_URL", &sandbox)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn()?;
        let pid = child.id().context("the child has a pid")?;
        let client = reqwest::Client::new();
        let ready = loop {
            if let Ok(response) = client.get(format!("{base}/readyz")).send().await
                && response.status().is_success()
            {
                break spawned.elapsed();
            }
            if let Some(status) = child.try_wait()? {
                bail!("fapiao exited with {status} before it was ready");
            }
            ensure!(
                spawned.elapsed() < Duration::from_secs(60),
                "not ready after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        Ok(Served {
            child,
            pid,
            base,
            sandbox,
            ready,
            sandbox_task,
            config_dir,
        })
    }

    /// `POST /v1/setup`: access tokens, the card template, the callback, against the sandbox.
    pub(crate) async fn setup(&self, client: &reqwest::Client) -> anyhow::Result<()> {
        live_setup(client, &self.base).await
    }

    /// Kills the child and stops the sandbox.
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        self.sandbox_task.abort();
        let _ = std::fs::remove_dir_all(&self.config_dir);
        Ok(())
    }
}
