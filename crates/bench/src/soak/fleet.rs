//! The processes of a soak run: the Weixin sandbox (`fapiao sandbox`) and one or more
//! `fapiao serve` instances in live mode against it, on one shared database; SIGKILL and
//! restart on the same database, with crash points armed on a restart.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use tokio::process::{Child, Command};

use crate::served::free_port;

/// What every instance is started with.
#[derive(Debug, Clone)]
pub(crate) struct InstanceSettings {
    pub binary: PathBuf,
    pub database_url: String,
    pub sandbox_url: String,
    pub issuer_mix: String,
    pub lease_seconds: u64,
    pub reconcile_after_seconds: u64,
    pub concurrency: usize,
    pub log_dir: PathBuf,
    /// The live-mode configuration file (the bench's own credentials).
    pub config: PathBuf,
}

/// One `fapiao serve` process, restartable on the same port and database.
pub(crate) struct Instance {
    pub index: usize,
    pub port: u16,
    child: Option<Child>,
    /// Crash points armed in the running process (`FAPIAO_CRASH_POINTS`), if any.
    pub armed: Option<String>,
    pub starts: u32,
}

impl Instance {
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the process (again), with `crash_points` armed if given; waits for `/readyz`.
    pub async fn start(
        &mut self,
        settings: &InstanceSettings,
        client: &reqwest::Client,
        crash_points: Option<&str>,
    ) -> anyhow::Result<()> {
        let base = self.base_url();
        let log = log_file(&settings.log_dir, &format!("instance-{}.log", self.index))?;
        let mut command = Command::new(&settings.binary);
        command
            .arg("--config")
            .arg(&settings.config)
            .arg("serve")
            .env("FAPIAO__DATABASE__URL", &settings.database_url)
            .env("FAPIAO__SERVER__LISTEN", format!("127.0.0.1:{}", self.port))
            .env("FAPIAO__SERVER__PUBLIC_BASE_URL", &base)
            .env("FAPIAO__WEIXIN__MODE", "live")
            .env("FAPIAO__WEIXIN__BASE_URL", &settings.sandbox_url)
            .env("FAPIAO__ISSUER__SANDBOX_MIX", &settings.issuer_mix)
            .env(
                "FAPIAO__RUNNER__LEASE_SECONDS",
                settings.lease_seconds.to_string(),
            )
            .env(
                "FAPIAO__RUNNER__CONCURRENCY",
                settings.concurrency.to_string(),
            )
            .env("FAPIAO__RUNNER__WORKER_ID", format!("soak-{}", self.index))
            .env(
                "FAPIAO__INVOICING__RECONCILE_AFTER_SECONDS",
                settings.reconcile_after_seconds.to_string(),
            )
            .env("RUST_LOG", "warn")
            .env_remove("FAPIAO_CRASH_POINTS")
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        if let Some(points) = crash_points {
            command.env("FAPIAO_CRASH_POINTS", points);
        }
        let mut child = command.spawn().context("spawning fapiao serve")?;
        self.starts += 1;
        self.armed = crash_points.map(str::to_owned);
        let spawned = Instant::now();
        loop {
            if let Ok(response) = client.get(format!("{base}/readyz")).send().await
                && response.status().is_success()
            {
                break;
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "instance {} exited with {status} before it was ready (see {})",
                    self.index,
                    settings.log_dir.display()
                );
            }
            ensure!(
                spawned.elapsed() < Duration::from_secs(60),
                "instance {} not ready after 60 s",
                self.index
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL, as an operator's `kill -9` or the OOM killer would end it.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        self.armed = None;
        Ok(())
    }

    /// Whether the process ended by itself (a crash point); reaps it.
    pub fn exited(&mut self) -> anyhow::Result<Option<String>> {
        let Some(child) = self.child.as_mut() else {
            return Ok(None);
        };
        match child.try_wait()? {
            Some(status) => {
                self.child = None;
                Ok(Some(status.to_string()))
            }
            None => Ok(None),
        }
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }
}

pub(crate) fn instances(count: usize) -> anyhow::Result<Vec<Instance>> {
    (0..count)
        .map(|index| {
            Ok(Instance {
                index,
                port: free_port()?,
                child: None,
                armed: None,
                starts: 0,
            })
        })
        .collect()
}

/// The Weixin sandbox in a process of its own: the witness of cards.
pub(crate) struct SandboxProcess {
    pub url: String,
    _child: Child,
}

impl SandboxProcess {
    pub async fn start(
        binary: &Path,
        config: &Path,
        log_dir: &Path,
        client: &reqwest::Client,
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let url = format!("http://127.0.0.1:{port}");
        let log = log_file(log_dir, "sandbox.log")?;
        let mut child = Command::new(binary)
            .arg("--config")
            .arg(config)
            .args(["sandbox", "--listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("spawning fapiao sandbox")?;
        let spawned = Instant::now();
        loop {
            if let Ok(response) = client
                .get(format!("{url}/sandbox/control/accounts"))
                .send()
                .await
                && response.status().is_success()
            {
                break;
            }
            if let Some(status) = child.try_wait()? {
                bail!("the sandbox exited with {status}");
            }
            ensure!(
                spawned.elapsed() < Duration::from_secs(30),
                "the sandbox is not up after 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Self { url, _child: child })
    }

    /// POSTs `body` to the control API at `path`; the answer's JSON.
    pub async fn control(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let response = client
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(status.is_success(), "sandbox {path}: {status} {text}");
        Ok(serde_json::from_str(&text)?)
    }
}

fn log_file(dir: &Path, name: &str) -> anyhow::Result<std::fs::File> {
    Ok(std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))?)
}
