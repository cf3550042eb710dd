//! fapiao's Weixin sandbox: a local emulator of Weixin's e-invoice APIs for the merchant in
//! the self-deployed invoicing platform mode, so every scenario runs end to end on one machine.
//!
//! - Every endpoint of the reference §5 at Weixin's paths, with Weixin's JSON shapes and
//!   errcodes (`http::api`); state lives in memory ([`state`]) and time on an adjustable
//!   [`SandboxClock`].
//! - A simulated buyer and reimburser as pages and a JSON control API (`/sandbox/control/…`).
//! - Event pushes to the merchant's callback URL in plain, compatible or safe mode, with
//!   Weixin's retry rule ([`push`]).
//! - Seeded, reproducible fault injection ([`faults`]).
//!
//! - [`nuonuo`]: a separate emulator of Nuonuo's 诺税通saas open platform for the Nuonuo issuer.
//!
//! It reuses the Weixin adapter's wire definitions and message crypto (never re-implementing
//! a signature or a cipher) and the domain's identifiers; it depends on no other fapiao crate.
//! [`router`] gives the axum router; [`serve`] runs it on a listener.

pub mod clock;
pub mod config;
pub mod error;
pub mod faults;
mod http;
mod ids;
pub mod merchant;
pub mod nuonuo;
pub mod platform;
pub mod push;
mod sandbox;
pub mod state;
mod tokens;
pub mod wire;

pub use clock::SandboxClock;
pub use config::{
    AccountConfig, AppIdElement, AuthInfoFields, AuthUrlCaller, FaultConfig, FaultKind, FaultRule,
    PostPaymentOrderId, PushMode, PushSettings, SandboxConfig, ScriptedFault, StatusTransitions,
    Timing, Unconfirmed,
};
pub use error::{ApiError, ControlError, SandboxError};
pub use http::{router, serve};
pub use sandbox::{
    AccountUpdate, AccountView, AuthorizeOutcome, ClockView, FaultUpdate, FaultsView,
    ReimburseOutcome, Sandbox,
};
