//! What the adapter logs: a span per call with endpoint and errcode, and never a token, a
//! ticket or a secret. The only test that installs a global subscriber.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fapiao_weixin::ReqwestWeixinClient;
use fapiao_weixin::wire::GetContactRequest;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer};

use crate::support::{SECRET, appid, config, err, ok, token_answer};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn logs_name_the_call_and_never_a_credential() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    // Global, not scoped: a span callsite first hit by another test thread under no
    // subscriber would otherwise stay disabled. Logs of tests running meanwhile land here too,
    // and must not hold a credential either.
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");

    let server = MockServer::start().await;
    Mock::given(path("/cgi-bin/stable_token"))
        .respond_with(token_answer("TOKEN_ONE_zz"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/cgi-bin/stable_token"))
        .respond_with(token_answer("TOKEN_TWO_zz"))
        .with_priority(2)
        .mount(&server)
        .await;
    let contact = || {
        Mock::given(method("POST"))
            .and(path("/card/invoice/setbizattr"))
            .and(query_param("action", "get_contact"))
    };
    contact()
        .and(query_param("access_token", "TOKEN_ONE_zz"))
        .respond_with(err(40001, "invalid credential"))
        .mount(&server)
        .await;
    contact()
        .and(query_param("access_token", "TOKEN_TWO_zz"))
        .respond_with(ok(json!({})).set_delay(Duration::from_millis(400)))
        .mount(&server)
        .await;
    Mock::given(path("/cgi-bin/ticket/getticket"))
        .respond_with(ok(json!({"ticket": "TICKET_zz", "expires_in": 7200})))
        .mount(&server)
        .await;

    let mut config = config(&server);
    config.request_timeout = Duration::from_millis(200);
    let client = ReqwestWeixinClient::new(config).expect("client");
    // A token refusal, a refresh, then timeouts on the retry.
    let _ = client.execute(&appid(), &GetContactRequest {}).await;
    let _ = client.wx_card_ticket(&appid()).await;

    let logs = String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("utf-8");
    assert!(logs.contains("weixin.call"), "{logs}");
    assert!(
        logs.contains("endpoint=\"setbizattr.get_contact\""),
        "{logs}"
    );
    assert!(logs.contains("errcode=40001"), "{logs}");
    for secret in [
        "TOKEN_ONE_zz",
        "TOKEN_TWO_zz",
        "TICKET_zz",
        SECRET,
        "access_token=",
    ] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked into the logs:\n{logs}"
        );
    }
}
