//! fapiao's application layer: the use cases that drive invoice orders through the pipeline,
//! the workflow runner, the configuration, and an axum router a host service can mount.
//!
//! Services hold the ports as `Arc<dyn Port>` and never name a concrete adapter; the `fapiao`
//! binary (the composition root) or a host service wires them. This crate never binds a
//! socket and never installs a global tracing subscriber.

pub mod config;
pub mod crash;
pub mod error;
pub mod http;
pub mod qr;
pub mod runner;
pub mod service;
pub mod settings;

pub use config::{Config, ConfigError};
pub use error::AppError;
pub use http::{AppState, HttpSettings, router};
pub use runner::{Runner, RunnerSettings};
pub use service::{
    DoctorCheck, DoctorReport, EventOutcome, FrontendAction, InvoiceService, JobOutcome, Ports,
    PushAccepted, SetupReport, SetupService, SetupStep, StartRequest, Started, WebhookEndpoint,
    WebhookService, WebhookSettings,
};
pub use settings::{Accounts, RetryPolicy, SellerSettings, Settings};
