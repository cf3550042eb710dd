use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::*;
use crate::crypto::AesKey;
use crate::wire::PushEvent;

// Reference §8.4.
const TOKEN: &str = "invoicetoken";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wxb11529c136998cb6";
const TIMESTAMP: &str = "1409304348";
const NONCE: &str = "xxxxxx";
const MSG_SIGNATURE: &str = "a86a386443f0bb51b7980a0fb18e9e44f60631a4";
const URL_SIGNATURE: &str = "3f5318b003e99b3e638d725029e846400b9daebe";
const PLAIN: &str = "<xml><ToUserName><![CDATA[gh_fc0a06a20993]]></ToUserName><FromUserName><![CDATA[oZI8Fj040-be6rlDohc6gkoPOQTQ]]></FromUserName><CreateTime>1475134700</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[user_authorize_invoice]]></Event><SuccOrderId><![CDATA[1202933957956]]></SuccOrderId><FailOrderId><![CDATA[]]></FailOrderId><AuthorizeAppId><![CDATA[wxb11529c136998cb6]]></AuthorizeAppId><Source><![CDATA[web]]></Source></xml>";
const ENCRYPT: &str = "jn1L23DB+6ELqJ+6bruv2wD7PggfNmqpGkEERwEFG6I4U/lGQ/tHfxernsePCRDzrsiuJivOP17MH2QSPxsigZsnK27YomKQVB0zD4EL+8ZCbvfo4GpDjGlDN4PS+Go7U14NrBjGEJGJhNHMmj/57syw53mBY0aOTfpFMqBgYpCj0UCYzeUfioCtt4J4oeasSkHrGiuXi5dgZiNOzI8oXa8lkJkX/7wYekaF1AmSEq8+rRk22LN1A4PDa/Xcl3lD9n/yZ/f1EaeRiZ4Z1vABq/A/wsKJ80lKhcHGLnDeDh9YtHubnPie9pWA0a75GNna5WzHf6pt/nq7k5S1Mm+kJs78EbqTOvWawBd8BIvLgAkTZVSPebIVZTB0r2LwJ6eOKnQIdzlZM2H62i0KGt/sSFQ6HHazX7r4Xsax4jiPKQb7Lv2zHdnhZj6Xs7kxHa8/Ve7UuSwu9cwSSOAy5tPN7pHcQURKIomg8+LpPLFUUJlwxNCpVYio+OEUQAGXRPhxGCi/zDZcIEJ4LLIaDuaXrGT0gzpjwbZ3tnMTXZWbO8SSfLInlICb2/qdes55ZQYQjJX8SKF6fIT7+u+o8J92wCIVcZ8eOzAyXWZODB//QbvzAJdITDZ0a8MEKk4bykZP";

fn appid(value: &str) -> AppId {
    AppId::parse(value).expect("appid")
}

fn key() -> AesKey {
    AesKey::from_encoding_aes_key(KEY).expect("key")
}

fn receiver(mode: PushMode) -> PushReceiver {
    let config = match mode {
        PushMode::Plain => PushConfig::plain(TOKEN, appid(APPID)),
        _ => PushConfig::encrypted(TOKEN, appid(APPID), mode, KeyRing::new(key())),
    };
    PushReceiver::new(config).expect("receiver")
}

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_409_304_348)
}

fn envelope(encrypt: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_fc0a06a20993]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    )
}

fn aes_query(encrypt: &str) -> PushQuery {
    PushQuery {
        signature: Some(URL_SIGNATURE.into()),
        timestamp: Some(TIMESTAMP.into()),
        nonce: Some(NONCE.into()),
        openid: Some("oZI8Fj040-be6rlDohc6gkoPOQTQ".into()),
        encrypt_type: Some("aes".into()),
        msg_signature: Some(crypto::msg_signature(TOKEN, TIMESTAMP, NONCE, encrypt)),
        ..PushQuery::default()
    }
}

fn plain_query() -> PushQuery {
    PushQuery {
        signature: Some(URL_SIGNATURE.into()),
        timestamp: Some(TIMESTAMP.into()),
        nonce: Some(NONCE.into()),
        ..PushQuery::default()
    }
}

fn assert_authorization(push: &Push) {
    let PushEvent::UserAuthorizeInvoice(event) = &push.event else {
        panic!("not an authorization: {push:?}");
    };
    assert_eq!(event.succ_order_id.as_deref(), Some("1202933957956"));
    assert_eq!(event.authorize_appid.as_deref(), Some(APPID));
    assert_eq!(push.dedupe_key(), "oZI8Fj040-be6rlDohc6gkoPOQTQ:1475134700");
}

#[test]
fn url_verification_plain_reference_8_1() {
    let receiver = PushReceiver::new(PushConfig::plain("AAAAA", appid(APPID))).expect("receiver");
    let query = PushQuery {
        signature: Some("f464b24fc39322e44b38aa78f5edd27bd1441696".into()),
        timestamp: Some("1714036504".into()),
        nonce: Some("1514711492".into()),
        echostr: Some("4375120948345356249".into()),
        ..PushQuery::default()
    };
    assert_eq!(
        receiver.verify_url(&query).as_deref(),
        Ok("4375120948345356249")
    );
    let forged = PushQuery {
        nonce: Some("1514711493".into()),
        ..query.clone()
    };
    assert_eq!(receiver.verify_url(&forged), Err(ReceiveError::Signature));
    let missing = PushQuery {
        echostr: None,
        ..query
    };
    assert_eq!(
        receiver.verify_url(&missing),
        Err(ReceiveError::MissingParameter("echostr"))
    );
}

#[test]
fn url_verification_with_encrypted_echo_reference_8_3_v1() {
    let keys = KeyRing::new(
        AesKey::from_encoding_aes_key("kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR").expect("key"),
    );
    let config = PushConfig::encrypted("123456", appid("wx49f0ab532d5d035a"), PushMode::Safe, keys);
    let receiver = PushReceiver::new(config).expect("receiver");
    let query = PushQuery {
        signature: None,
        timestamp: Some("1411443780".into()),
        nonce: Some("437374425".into()),
        echostr: Some("4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==".into()),
        msg_signature: Some("dd6b9c95b495b3f7e2901bfbc76c664930ffdb96".into()),
        ..PushQuery::default()
    };
    assert_eq!(
        receiver.verify_url(&query).as_deref(),
        Ok("5927782489442352469")
    );
    let forged = PushQuery {
        nonce: Some("437374424".into()),
        ..query
    };
    assert_eq!(receiver.verify_url(&forged), Err(ReceiveError::Signature));
}

#[test]
fn plain_push() {
    let push = receiver(PushMode::Plain)
        .receive(&plain_query(), PLAIN.as_bytes(), now())
        .expect("accepted");
    assert!(!push.encrypted);
    assert_authorization(&push);
}

#[test]
fn safe_push_reference_8_4() {
    let query = aes_query(ENCRYPT);
    assert_eq!(query.msg_signature.as_deref(), Some(MSG_SIGNATURE));
    let push = receiver(PushMode::Safe)
        .receive(&query, envelope(ENCRYPT).as_bytes(), now())
        .expect("accepted");
    assert!(push.encrypted);
    assert_authorization(&push);
}

#[test]
fn compatible_mode_trusts_the_ciphertext_and_accepts_plaintext() {
    // The plaintext copy says another order; only the signed ciphertext counts.
    let body = format!(
        "<xml><ToUserName><![CDATA[gh_fc0a06a20993]]></ToUserName><FromUserName><![CDATA[attacker]]></FromUserName>\
         <CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[user_authorize_invoice]]></Event>\
         <SuccOrderId><![CDATA[999]]></SuccOrderId><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>"
    );
    let compatible = receiver(PushMode::Compatible);
    let push = compatible
        .receive(&aes_query(ENCRYPT), body.as_bytes(), now())
        .expect("accepted");
    assert_authorization(&push);
    let plain = compatible
        .receive(&plain_query(), PLAIN.as_bytes(), now())
        .expect("accepted");
    assert!(!plain.encrypted);
}

#[test]
fn safe_mode_refuses_plaintext() {
    assert_eq!(
        receiver(PushMode::Safe).receive(&plain_query(), PLAIN.as_bytes(), now()),
        Err(ReceiveError::PlaintextRefused)
    );
    assert_eq!(
        receiver(PushMode::Plain).receive(&aes_query(ENCRYPT), envelope(ENCRYPT).as_bytes(), now()),
        Err(ReceiveError::NoKey)
    );
}

#[test]
fn forged_signatures_are_refused() {
    let mut query = plain_query();
    query.signature = Some("3f5318b003e99b3e638d725029e846400b9daebf".into());
    assert_eq!(
        receiver(PushMode::Plain).receive(&query, PLAIN.as_bytes(), now()),
        Err(ReceiveError::Signature)
    );
    let mut query = aes_query(ENCRYPT);
    query.nonce = Some("xxxxxy".into());
    assert_eq!(
        receiver(PushMode::Safe).receive(&query, envelope(ENCRYPT).as_bytes(), now()),
        Err(ReceiveError::Signature)
    );
    let mut query = aes_query(ENCRYPT);
    query.msg_signature = None;
    assert_eq!(
        receiver(PushMode::Safe).receive(&query, envelope(ENCRYPT).as_bytes(), now()),
        Err(ReceiveError::MissingParameter("msg_signature"))
    );
}

#[test]
fn wrong_appid_is_refused() {
    let config = PushConfig::encrypted(
        TOKEN,
        appid("wx0000000000000000"),
        PushMode::Safe,
        KeyRing::new(key()),
    );
    let receiver = PushReceiver::new(config).expect("receiver");
    assert_eq!(
        receiver.receive(&aes_query(ENCRYPT), envelope(ENCRYPT).as_bytes(), now()),
        Err(ReceiveError::Crypto(CryptoError::AppIdMismatch))
    );
}

#[test]
fn truncated_and_badly_padded_ciphertexts_are_refused() {
    let bytes = STANDARD.decode(ENCRYPT).expect("base64");
    let truncated = STANDARD.encode(&bytes[..bytes.len() - 32]);
    let result = receiver(PushMode::Safe).receive(
        &aes_query(&truncated),
        envelope(&truncated).as_bytes(),
        now(),
    );
    assert!(
        matches!(
            result,
            Err(ReceiveError::Crypto(
                CryptoError::Padding | CryptoError::Truncated
            ))
        ),
        "{result:?}"
    );
    let ragged = STANDARD.encode(&bytes[..bytes.len() - 5]);
    let result =
        receiver(PushMode::Safe).receive(&aes_query(&ragged), envelope(&ragged).as_bytes(), now());
    assert!(
        matches!(
            result,
            Err(ReceiveError::Crypto(CryptoError::CiphertextLength(_)))
        ),
        "{result:?}"
    );
    // Flip a bit in the second-to-last block: the last block's pad bytes change.
    let mut flipped = bytes.clone();
    let at = flipped.len() - 17;
    flipped[at] ^= 0x40;
    let flipped = STANDARD.encode(flipped);
    let result = receiver(PushMode::Safe).receive(
        &aes_query(&flipped),
        envelope(&flipped).as_bytes(),
        now(),
    );
    assert!(matches!(result, Err(ReceiveError::Crypto(_))), "{result:?}");
    assert_eq!(
        receiver(PushMode::Safe).receive(&aes_query("@@@"), envelope("@@@").as_bytes(), now()),
        Err(ReceiveError::Crypto(CryptoError::Base64))
    );
    let no_encrypt = "<xml><ToUserName>gh</ToUserName></xml>";
    assert_eq!(
        receiver(PushMode::Safe).receive(&aes_query(""), no_encrypt.as_bytes(), now()),
        Err(ReceiveError::MissingEncrypt)
    );
}

#[test]
fn oversized_bodies_are_refused_before_parsing() {
    let mut config = PushConfig::plain(TOKEN, appid(APPID));
    config.max_body_bytes = 1024;
    let receiver = PushReceiver::new(config).expect("receiver");
    let body = vec![b'<'; 1025];
    assert_eq!(
        receiver.receive(&PushQuery::default(), &body, now()),
        Err(ReceiveError::BodyTooLarge {
            size: 1025,
            limit: 1024
        })
    );
}

#[test]
fn timestamp_window() {
    let mut config = PushConfig::plain(TOKEN, appid(APPID));
    config.timestamp_window = Some(Duration::from_secs(300));
    let receiver = PushReceiver::new(config).expect("receiver");
    let at = |seconds| Timestamp::from_unix_seconds(seconds);
    assert!(
        receiver
            .receive(&plain_query(), PLAIN.as_bytes(), at(1_409_304_348 + 300))
            .is_ok()
    );
    assert!(
        receiver
            .receive(&plain_query(), PLAIN.as_bytes(), at(1_409_304_348 - 300))
            .is_ok()
    );
    assert_eq!(
        receiver.receive(&plain_query(), PLAIN.as_bytes(), at(1_409_304_348 + 301)),
        Err(ReceiveError::Stale {
            timestamp: 1_409_304_348
        })
    );
    let mut query = plain_query();
    query.timestamp = Some("yesterday".into());
    assert_eq!(
        receiver.receive(&query, PLAIN.as_bytes(), now()),
        Err(ReceiveError::InvalidTimestamp)
    );
}

#[test]
fn dtd_and_entities_are_refused_in_both_layers() {
    let hostile = "<!DOCTYPE xml [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><FromUserName>&e;</FromUserName><CreateTime>1</CreateTime></xml>";
    assert_eq!(
        receiver(PushMode::Plain).receive(&plain_query(), hostile.as_bytes(), now()),
        Err(ReceiveError::Xml(XmlError::EntityDeclaration))
    );
    // Inside a correctly signed and encrypted envelope.
    let inner = crypto::encrypt(&key(), b"0123456789abcdef", hostile.as_bytes(), APPID);
    assert_eq!(
        receiver(PushMode::Safe).receive(&aes_query(&inner), envelope(&inner).as_bytes(), now()),
        Err(ReceiveError::Xml(XmlError::EntityDeclaration))
    );
    let bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><xml>&lol2;</xml>";
    assert_eq!(
        receiver(PushMode::Plain).receive(&plain_query(), bomb.as_bytes(), now()),
        Err(ReceiveError::Xml(XmlError::EntityDeclaration))
    );
    let doctype = "<!DOCTYPE xml SYSTEM \"http://127.0.0.1/x.dtd\"><xml/>";
    assert_eq!(
        receiver(PushMode::Plain).receive(&plain_query(), doctype.as_bytes(), now()),
        Err(ReceiveError::Xml(XmlError::Doctype))
    );
}

#[test]
fn key_rotation_accepts_the_previous_key() {
    let current =
        AesKey::from_encoding_aes_key("kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR").expect("key");
    let config = PushConfig::encrypted(
        TOKEN,
        appid(APPID),
        PushMode::Safe,
        KeyRing::with_previous(current, key()),
    );
    let receiver = PushReceiver::new(config).expect("receiver");
    let push = receiver
        .receive(&aes_query(ENCRYPT), envelope(ENCRYPT).as_bytes(), now())
        .expect("accepted");
    assert_authorization(&push);
}

#[test]
fn encrypted_reply_round_trips() {
    let receiver = receiver(PushMode::Safe);
    let reply = receiver
        .encrypt_reply("<xml><Content>ok</Content></xml>", now())
        .expect("reply");
    let fields = XmlFields::parse(reply.as_bytes()).expect("xml");
    let encrypt = fields.get("Encrypt").expect("encrypt");
    let nonce = fields.get("Nonce").expect("nonce");
    assert_eq!(fields.get("TimeStamp"), Some(TIMESTAMP));
    assert_eq!(
        fields.get("MsgSignature").map(str::to_owned),
        Some(crypto::msg_signature(TOKEN, TIMESTAMP, nonce, encrypt))
    );
    assert_eq!(
        KeyRing::new(key()).decrypt_for(encrypt, APPID).as_deref(),
        Ok("<xml><Content>ok</Content></xml>")
    );
    assert_eq!(receiver.ack(), "success");
}

#[test]
fn encrypted_modes_need_keys_and_debug_hides_them() {
    let config = PushConfig {
        mode: PushMode::Safe,
        ..PushConfig::plain(TOKEN, appid(APPID))
    };
    assert!(matches!(
        PushReceiver::new(config),
        Err(ReceiveError::Config(_))
    ));
    let shown = format!("{:?}", receiver(PushMode::Safe));
    assert!(!shown.contains(TOKEN) && !shown.contains(KEY), "{shown}");
}

mod decoder {
    use fapiao_domain::ports::{PushDecoder, PushError};
    use fapiao_domain::weixin::{AuthOutcome, ReimburseStatus, WeixinEvent};
    use fapiao_domain::{AuthSource, OrderId};

    use super::*;

    fn decode(mode: PushMode, query: &PushQuery, body: &str) -> Result<WeixinEvent, PushError> {
        PushDecoder::decode(
            &receiver(mode),
            &query.to_query_string(),
            body.as_bytes(),
            now(),
        )
    }

    fn plain_event(inner: &str) -> String {
        format!(
            "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oZI8Fj040-be6rlDohc6gkoPOQTQ]]></FromUserName>\
             <CreateTime>1475134700</CreateTime><MsgType><![CDATA[event]]></MsgType>{inner}</xml>"
        )
    }

    #[test]
    fn safe_push_becomes_an_authorization_event() {
        let event =
            decode(PushMode::Safe, &aes_query(ENCRYPT), &envelope(ENCRYPT)).expect("decoded");
        let WeixinEvent::Authorization(auth) = &event else {
            panic!("not an authorization: {event:?}");
        };
        assert_eq!(auth.openid.as_str(), "oZI8Fj040-be6rlDohc6gkoPOQTQ");
        assert_eq!(
            auth.create_time,
            Timestamp::from_unix_seconds(1_475_134_700)
        );
        assert_eq!(
            auth.outcome,
            AuthOutcome::Succeeded(OrderId::parse("1202933957956").expect("order"))
        );
        assert_eq!(
            auth.authorize_appid.as_ref().map(AppId::as_str),
            Some(APPID)
        );
        assert_eq!(auth.source, Some(AuthSource::Web));
        assert_eq!(auth.s_pappid, None);
        assert_eq!(event.dedupe_key(), "auth:ok:-:1202933957956");
    }

    #[test]
    fn failed_authorization_with_appid_and_sp_appid() {
        let body = plain_event(
            "<Event><![CDATA[user_authorize_invoice]]></Event><SuccOrderId><![CDATA[]]></SuccOrderId>\
             <FailOrderId><![CDATA[o-9]]></FailOrderId><AppId><![CDATA[wxf83dd777cffa4eab]]></AppId>\
             <Source><![CDATA[somewhere-new]]></Source><SPAppId><![CDATA[d3h4NWNkODUy+X==]]></SPAppId>",
        );
        let WeixinEvent::Authorization(auth) =
            decode(PushMode::Plain, &plain_query(), &body).expect("decoded")
        else {
            panic!("not an authorization");
        };
        assert_eq!(
            auth.outcome,
            AuthOutcome::Failed(OrderId::parse("o-9").expect("order"))
        );
        assert_eq!(
            auth.authorize_appid.as_ref().map(AppId::as_str),
            Some("wxf83dd777cffa4eab")
        );
        // An unknown Source is dropped, not an error.
        assert_eq!(auth.source, None);
        assert_eq!(
            auth.s_pappid.as_ref().map(|s| s.as_str()),
            Some("d3h4NWNkODUy+X==")
        );
    }

    #[test]
    fn status_and_unknown_events() {
        let body = plain_event(
            "<Event><![CDATA[update_invoice_status]]></Event><Status><![CDATA[INVOICE_REIMBURSE_LOCK]]></Status>\
             <CardId><![CDATA[pjZ8Yt7Um2jYxzneP8GomnxoVFWo]]></CardId><Code><![CDATA[186921658591]]></Code>",
        );
        let WeixinEvent::InvoiceStatus(status) =
            decode(PushMode::Plain, &plain_query(), &body).expect("decoded")
        else {
            panic!("not a status event");
        };
        assert_eq!(status.status, ReimburseStatus::Lock);
        assert_eq!(status.code.as_str(), "186921658591");

        let body = plain_event("<Event><![CDATA[subscribe]]></Event>");
        let event = decode(PushMode::Plain, &plain_query(), &body).expect("decoded");
        assert_eq!(
            event,
            WeixinEvent::Other {
                msg_type: "event".into(),
                event: Some("subscribe".into()),
                from: "oZI8Fj040-be6rlDohc6gkoPOQTQ".into(),
                create_time: Timestamp::from_unix_seconds(1_475_134_700),
            }
        );
    }

    #[test]
    fn events_that_do_not_make_domain_values_are_malformed() {
        let cases = [
            "<Event>user_authorize_invoice</Event><SuccOrderId>1</SuccOrderId><FailOrderId>2</FailOrderId>",
            "<Event>user_authorize_invoice</Event>",
            "<Event>user_authorize_invoice</Event><SuccOrderId>not an id!</SuccOrderId>",
            "<Event>user_authorize_invoice</Event><SuccOrderId>1</SuccOrderId><AuthorizeAppId>wx-bad!</AuthorizeAppId>",
            "<Event>update_invoice_status</Event><Status>REIMBURSED</Status><CardId>c</CardId><Code>1</Code>",
        ];
        for inner in cases {
            let result = decode(PushMode::Plain, &plain_query(), &plain_event(inner));
            assert!(
                matches!(result, Err(PushError::Malformed(_))),
                "{inner}: {result:?}"
            );
        }
    }

    #[test]
    fn refusals_map_to_the_domain_push_error() {
        let mut forged = plain_query();
        forged.nonce = Some("other".into());
        assert_eq!(
            decode(PushMode::Plain, &forged, PLAIN),
            Err(PushError::BadSignature)
        );
        assert_eq!(
            decode(PushMode::Safe, &plain_query(), PLAIN),
            Err(PushError::Missing("msg_signature"))
        );
        let wrong = PushConfig::encrypted(
            TOKEN,
            appid("wx0000000000000000"),
            PushMode::Safe,
            KeyRing::new(key()),
        );
        let receiver = PushReceiver::new(wrong).expect("receiver");
        assert_eq!(
            PushDecoder::decode(
                &receiver,
                &aes_query(ENCRYPT).to_query_string(),
                envelope(ENCRYPT).as_bytes(),
                now()
            ),
            Err(PushError::WrongAppId)
        );
        let mut config = PushConfig::plain(TOKEN, appid(APPID));
        config.max_body_bytes = 10;
        config.timestamp_window = Some(Duration::from_secs(60));
        let receiver = PushReceiver::new(config).expect("receiver");
        assert_eq!(
            PushDecoder::decode(
                &receiver,
                &plain_query().to_query_string(),
                PLAIN.as_bytes(),
                now()
            ),
            Err(PushError::TooLarge(PLAIN.len()))
        );
        assert_eq!(
            PushDecoder::decode(
                &receiver,
                &plain_query().to_query_string(),
                b"<xml/>",
                Timestamp::from_unix_seconds(2_000_000_000)
            ),
            Err(PushError::Stale)
        );
        let missing = "<xml><FromUserName>o</FromUserName></xml>";
        assert_eq!(
            decode(PushMode::Plain, &plain_query(), missing),
            Err(PushError::Missing("CreateTime"))
        );
        let dtd = "<!DOCTYPE x [<!ENTITY e \"e\">]><xml/>";
        assert!(matches!(
            decode(PushMode::Plain, &plain_query(), dtd),
            Err(PushError::Malformed(_))
        ));
        let mut query = aes_query("AAAA");
        query.msg_signature = Some(crypto::msg_signature(TOKEN, TIMESTAMP, NONCE, "AAAA"));
        assert!(matches!(
            decode(PushMode::Safe, &query, &envelope("AAAA")),
            Err(PushError::Decrypt(_))
        ));
        let verify = PushQuery {
            echostr: Some("e".into()),
            ..plain_query()
        };
        assert_eq!(
            PushDecoder::verify_url(&receiver, &verify.to_query_string()).as_deref(),
            Ok("e")
        );
        let forged = PushQuery {
            nonce: Some("other".into()),
            ..verify
        };
        assert_eq!(
            PushDecoder::verify_url(&receiver, &forged.to_query_string()),
            Err(PushError::BadSignature)
        );
    }
}

mod borrowed {
    use fapiao_domain::ports::{PushDecoder, PushError};
    use fapiao_domain::weixin::WeixinEvent;
    use proptest::prelude::*;

    use super::*;

    fn query_fragment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "signature=",
            "timestamp=",
            "nonce=",
            "encrypt_type=",
            "msg_signature=",
            "echostr=",
            "time%73tamp=",
            "&",
            "&",
            "=",
            "%41",
            "+",
            "%",
            "%zz",
            "%e4%b8%ad",
            "%ff",
            "a",
            "1",
            "中",
        ])
    }

    /// What `decode` answered before it read borrowed fields: `receive`, then the conversion.
    fn decode_owned(
        receiver: &PushReceiver,
        query: &str,
        body: &[u8],
    ) -> Result<WeixinEvent, PushError> {
        let push = receiver.receive(&PushQuery::parse(query), body, now())?;
        WeixinEvent::try_from(push.event).map_err(|e| PushError::Malformed(e.to_string()))
    }

    fn field_value() -> impl Strategy<Value = Option<&'static str>> {
        prop::sample::select(vec![
            None,
            Some(""),
            Some(" "),
            Some("oZI8Fj040-be6rlDohc6gkoPOQTQ"),
            Some(" wxb11529c136998cb6 "),
            Some("1475134700"),
            Some("x1"),
            Some("event"),
            Some("text"),
            Some("user_authorize_invoice"),
            Some("update_invoice_status"),
            Some("INVOICE_REIMBURSE_INIT"),
            Some("web"),
            Some("bad id!"),
            Some("&amp;"),
        ])
    }

    const FIELDS: [&str; 14] = [
        "ToUserName",
        "FromUserName",
        "CreateTime",
        "MsgType",
        "Event",
        "SuccOrderId",
        "FailOrderId",
        "AuthorizeAppId",
        "AppId",
        "Source",
        "SPAppId",
        "Status",
        "CardId",
        "Code",
    ];

    /// Messages mostly of the shape of the events the decoder knows, with fields absent, blank
    /// or invalid, some in CDATA, some forcing the full parser.
    fn message() -> impl Strategy<Value = String> {
        (
            prop::collection::vec((field_value(), any::<bool>()), FIELDS.len()),
            prop::sample::select(vec!["", "", "\n", "<!-- c -->"]),
        )
            .prop_map(|(values, separator)| {
                let mut text = String::from("<xml>");
                for (name, (value, cdata)) in FIELDS.iter().zip(values) {
                    let Some(value) = value else { continue };
                    if cdata {
                        text.push_str(&format!("<{name}><![CDATA[{value}]]></{name}>"));
                    } else {
                        text.push_str(&format!("<{name}>{value}</{name}>"));
                    }
                    text.push_str(separator);
                }
                text.push_str("</xml>");
                text
            })
    }

    #[test]
    fn signature_checks_agree_with_the_string_comparison() {
        let expected = crypto::msg_signature(TOKEN, TIMESTAMP, NONCE, ENCRYPT);
        for received in [
            expected.clone(),
            expected.to_ascii_uppercase(),
            expected[1..].to_owned(),
            format!("{expected}0"),
            format!("{}é", &expected[2..]),
            String::new(),
            MSG_SIGNATURE.to_owned(),
        ] {
            assert_eq!(
                crypto::msg_signature_matches(TOKEN, TIMESTAMP, NONCE, ENCRYPT, &received),
                crypto::signature_matches(&expected, &received),
                "{received}"
            );
        }
        assert!(crypto::msg_signature_matches(
            TOKEN,
            TIMESTAMP,
            NONCE,
            ENCRYPT,
            MSG_SIGNATURE
        ));
        assert!(crypto::url_signature_matches(
            TOKEN,
            TIMESTAMP,
            NONCE,
            &URL_SIGNATURE.to_ascii_uppercase()
        ));
        assert!(!crypto::url_signature_matches(
            TOKEN,
            TIMESTAMP,
            "other",
            URL_SIGNATURE
        ));
    }

    proptest! {
        #[test]
        fn params_read_what_push_query_reads(parts in prop::collection::vec(query_fragment(), 0..16)) {
            let raw = parts.concat();
            let params = PushParams::parse(&raw);
            let query = PushQuery::parse(&raw);
            prop_assert_eq!(params.signature.as_deref(), query.signature.as_deref());
            prop_assert_eq!(params.timestamp.as_deref(), query.timestamp.as_deref());
            prop_assert_eq!(params.nonce.as_deref(), query.nonce.as_deref());
            prop_assert_eq!(params.encrypt_type.as_deref(), query.encrypt_type.as_deref());
            prop_assert_eq!(params.msg_signature.as_deref(), query.msg_signature.as_deref());
        }

        #[test]
        fn decode_answers_what_receive_and_the_conversion_answer(
            message in message(),
            random in any::<[u8; RANDOM_LEN]>(),
        ) {
            let plain = receiver(PushMode::Plain);
            let query = plain_query().to_query_string();
            prop_assert_eq!(
                PushDecoder::decode(&plain, &query, message.as_bytes(), now()),
                decode_owned(&plain, &query, message.as_bytes())
            );

            let safe = receiver(PushMode::Safe);
            let encrypt = crypto::encrypt(&key(), &random, message.as_bytes(), APPID);
            let query = aes_query(&encrypt).to_query_string();
            let body = envelope(&encrypt);
            prop_assert_eq!(
                PushDecoder::decode(&safe, &query, body.as_bytes(), now()),
                decode_owned(&safe, &query, body.as_bytes())
            );
        }
    }
}
