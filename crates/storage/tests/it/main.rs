//! fapiao-storage's integration suite.
//!
//! Every test runs on SQLite (a fresh file in a temporary directory, WAL mode) and, when
//! `FAPIAO_TEST_DATABASE_URL` names a PostgreSQL database, on PostgreSQL too, each test in a
//! schema of its own so the tests run in parallel. Without the variable the PostgreSQL variant
//! prints a skip line and returns.

mod harness;

mod console;
mod contract;
mod inbox;
mod jobs;
mod migrations;
mod numbering;
mod orders;
mod sandbox_ledger;
mod setup;
mod testing;
mod token;
mod webhooks;
