//! Integration tests of the Weixin adapter against a local wiremock server (127.0.0.1 only).

mod endpoints;
mod logs;
mod ports;
mod properties;
mod support;
mod tokens;
