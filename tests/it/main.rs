//! End to end: the fapiao service in-process on a free port with the Weixin sandbox, driven
//! through the merchant API and the sandbox's control API, on SQLite — and on PostgreSQL too
//! when `FAPIAO_TEST_DATABASE_URL` is set.

mod apigaps;
mod app;
mod badinput;
mod console;
mod failures;
mod golive;
mod nuonuo;
mod openapi;
mod restart;
mod scenarios;
mod tax_categories;
mod webhooks;
