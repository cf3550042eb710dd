use fapiao_domain::{AppId, Timestamp};
use fapiao_weixin::crypto::{AesKey, KeyRing};
use fapiao_weixin::event::{PushConfig, PushMode as ReceiverMode, PushReceiver};
use fapiao_weixin::wire::{PushEvent, PushQuery};

use super::*;
use crate::config::{DEFAULT_ENCODING_AES_KEY, SandboxConfig};
use crate::state::test_state;

const OA: &str = "wxsandboxofficial01";

fn authorize_event() -> EventMessage {
    EventMessage {
        to_user_name: "gh_0123456789ab".to_owned(),
        from_user_name: "oBuyer".to_owned(),
        create_time: 1_700_000_000,
        body: EventBody::Authorize {
            succ_order_id: "order-1".to_owned(),
            fail_order_id: String::new(),
            authorize_appid: "wxsandboxminiprog01".to_owned(),
            source: "wxa".to_owned(),
            s_pappid: "c3BhcHBpZA".to_owned(),
        },
    }
}

fn receiver(mode: ReceiverMode) -> PushReceiver {
    let appid = AppId::parse(OA).unwrap_or_else(|e| panic!("{e}"));
    let config = match mode {
        ReceiverMode::Plain => PushConfig::plain("sandboxtoken", appid),
        mode => {
            let key = AesKey::from_encoding_aes_key(DEFAULT_ENCODING_AES_KEY)
                .unwrap_or_else(|e| panic!("{e}"));
            PushConfig::encrypted("sandboxtoken", appid, mode, KeyRing::new(key))
        }
    };
    PushReceiver::new(config).unwrap_or_else(|e| panic!("{e}"))
}

/// Records a push in `mode` and has the Weixin adapter's receiver verify and parse it.
fn round_trip(mode: PushMode, receiver_mode: ReceiverMode) -> (PushRecord, PushEvent) {
    let mut config = SandboxConfig::default();
    config.accounts[0].callback_url = Some("http://merchant.test/weixin?x=1".to_owned());
    config.accounts[0].push_mode = mode;
    let mut state = test_state(&config);
    let id = state.record_push(OA, &authorize_event());
    let record = state
        .pushes
        .iter()
        .find(|p| p.id == id)
        .cloned()
        .unwrap_or_else(|| panic!("no push"));
    let url = record.url.clone().unwrap_or_default();
    assert!(url.starts_with("http://merchant.test/weixin?x=1&signature="));
    let push = receiver(receiver_mode)
        .receive(
            &PushQuery::from_url(&url),
            record.body.as_bytes(),
            Timestamp::from_unix_seconds(1_700_000_000),
        )
        .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
    (record, push.event)
}

fn expect_authorization(event: &PushEvent) {
    let PushEvent::UserAuthorizeInvoice(event) = event else {
        panic!("not an authorization: {event:?}");
    };
    assert_eq!(event.succ_order_id.as_deref(), Some("order-1"));
    assert_eq!(event.fail_order_id, None);
    assert_eq!(
        event.authorize_appid.as_deref(),
        Some("wxsandboxminiprog01")
    );
    assert_eq!(event.source.as_deref(), Some("wxa"));
    assert_eq!(event.s_pappid.as_deref(), Some("c3BhcHBpZA"));
    assert_eq!(event.header.from_user_name, "oBuyer");
    assert_eq!(event.header.create_time, 1_700_000_000);
}

#[test]
fn plain_push_verifies_with_the_adapter() {
    let (record, event) = round_trip(PushMode::Plain, ReceiverMode::Plain);
    assert_eq!(record.body, record.xml);
    assert!(!record.url.unwrap_or_default().contains("encrypt_type"));
    expect_authorization(&event);
}

#[test]
fn safe_push_is_encrypted_and_decrypts_with_the_adapter() {
    let (record, event) = round_trip(PushMode::Safe, ReceiverMode::Safe);
    assert!(!record.body.contains("SuccOrderId"));
    assert!(record.body.contains("<Encrypt>"));
    assert!(
        record
            .url
            .unwrap_or_default()
            .contains("encrypt_type=aes&msg_signature=")
    );
    expect_authorization(&event);
}

#[test]
fn compatible_push_carries_both() {
    let (record, event) = round_trip(PushMode::Compatible, ReceiverMode::Compatible);
    assert!(record.body.contains("SuccOrderId"));
    assert!(record.body.contains("<Encrypt>"));
    expect_authorization(&event);
}

#[test]
fn appid_element_and_sp_appid_are_configurable() {
    let mut unconfirmed = Unconfirmed {
        event_appid_element: AppIdElement::AppId,
        event_sp_appid: false,
        ..Unconfirmed::default()
    };
    let xml = to_xml(&authorize_event().fields(&unconfirmed));
    assert!(xml.contains("<AppId><![CDATA[wxsandboxminiprog01]]></AppId>"));
    assert!(!xml.contains("AuthorizeAppId"));
    assert!(!xml.contains("SPAppId"));
    unconfirmed.event_appid_element = AppIdElement::Both;
    let xml = to_xml(&authorize_event().fields(&unconfirmed));
    assert!(xml.contains("<AppId>") && xml.contains("<AuthorizeAppId>"));
}

#[test]
fn status_event_parses() {
    let message = EventMessage {
        to_user_name: "gh_1".to_owned(),
        from_user_name: "oBuyer".to_owned(),
        create_time: 1_700_000_001,
        body: EventBody::StatusUpdate {
            status: "INVOICE_REIMBURSE_LOCK".to_owned(),
            card_id: "pCard".to_owned(),
            code: "123456789012".to_owned(),
        },
    };
    let xml = to_xml(&message.fields(&Unconfirmed::default()));
    let Ok(PushEvent::UpdateInvoiceStatus(event)) = PushEvent::parse(xml.as_bytes()) else {
        panic!("not a status event: {xml}");
    };
    assert_eq!(event.status, "INVOICE_REIMBURSE_LOCK");
    assert_eq!(event.card_id, "pCard");
    assert_eq!(event.code, "123456789012");
}

#[test]
fn cdata_survives_its_terminator() {
    assert_eq!(cdata("a]]>b"), "<![CDATA[a]]]]><![CDATA[>b]]>");
}

#[test]
fn without_a_callback_url_the_push_is_skipped() {
    let mut state = test_state(&SandboxConfig::default());
    let id = state.record_push(OA, &authorize_event());
    let record = state.pushes.iter().find(|p| p.id == id).cloned();
    let record = record.unwrap_or_else(|| panic!("no push"));
    assert_eq!(record.state, PushState::Skipped);
    assert!(record.url.is_none());
    assert_eq!(state.duplicate_push(id), None);
}
