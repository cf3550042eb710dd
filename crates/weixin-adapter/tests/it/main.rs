//! Integration tests of the Weixin adapter against a local wiremock server (127.0.0.1 only).

mod endpoints;
mod support;
mod tokens;
