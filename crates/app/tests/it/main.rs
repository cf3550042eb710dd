//! The use cases driven end to end through mocks (mockall, for Weixin) and the domain's
//! in-memory fakes (storage, issuer, clock, ids).

mod console;
mod harness;
mod http;
mod runner;
mod scenarios;
mod setup;
mod stuck;
