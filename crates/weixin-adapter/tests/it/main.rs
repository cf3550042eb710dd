//! Integration tests of the Weixin adapter against a local wiremock server.
