//! Property tests: no input makes the push parser, the decryptor or the receiver panic, what is
//! encrypted or written decrypts and parses back, and a sealed push with one character changed
//! never decodes.
//!
//! Eight properties, `CASES` (2048) cases each per `cargo test` (the tamper property a quarter
//! of that). Uniform bytes and XML-like token soup mostly exercise the refusals (about 0.2 % of
//! the soup is well-formed); the push-like documents reach the success path (about a third
//! parse, a quarter become domain events, authorizations and status changes included).

use fapiao_domain::ports::PushDecoder;
use fapiao_domain::{AppId, Timestamp};
use fapiao_weixin::crypto::{self, AesKey, KeyRing};
use fapiao_weixin::event::{PushConfig, PushMode, PushReceiver};
use fapiao_weixin::wire::{PushEvent, PushQuery, XmlFields};
use proptest::prelude::*;

const TOKEN: &str = "invoicetoken";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APPID: &str = "wxb11529c136998cb6";

/// Cases of each property below per `cargo test`; `FAPIAO_PROPTEST_CASES` overrides it for a
/// longer run.
const CASES: u32 = 2048;

fn cases() -> u32 {
    std::env::var("FAPIAO_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES)
}

fn key() -> AesKey {
    AesKey::from_encoding_aes_key(KEY).expect("key")
}

fn receiver(mode: PushMode) -> PushReceiver {
    let appid = AppId::parse(APPID).expect("appid");
    let config = match mode {
        PushMode::Plain => PushConfig::plain(TOKEN, appid),
        _ => PushConfig::encrypted(TOKEN, appid, mode, KeyRing::new(key())),
    };
    PushReceiver::new(config).expect("receiver")
}

/// Strings built from XML's own punctuation and the names pushes use, so generated inputs get
/// past the first byte far more often than uniform noise.
fn xmlish() -> impl Strategy<Value = String> {
    const ATOMS: &[&str] = &[
        "<xml>",
        "</xml>",
        "<FromUserName>",
        "</FromUserName>",
        "<CreateTime>",
        "</CreateTime>",
        "<MsgType>event</MsgType>",
        "<Event>user_authorize_invoice</Event>",
        "<Event>update_invoice_status</Event>",
        "<SuccOrderId>",
        "</SuccOrderId>",
        "<![CDATA[",
        "]]>",
        "<!DOCTYPE",
        "<!ENTITY",
        "<!--",
        "-->",
        "<?xml version=\"1.0\"?>",
        "&amp;",
        "&#x4e2d;",
        "&#0;",
        "&e;",
        "<a/>",
        "<",
        ">",
        "/",
        "=\"",
        " ",
        "\u{4e2d}",
        "1475134700",
        "oZI8Fj040",
    ];
    let atom = prop_oneof![
        4 => prop::sample::select(ATOMS).prop_map(str::to_owned),
        1 => any::<u32>().prop_map(|n| n.to_string()),
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(atom, 0..40).prop_map(|parts| parts.concat())
}

/// Well-formed pushes with arbitrary field names, values and content kinds, one in four then
/// damaged by a byte-level edit: these reach the success path and the domain conversion.
fn pushlike() -> impl Strategy<Value = Vec<u8>> {
    const NAMES: &[&str] = &[
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
        "Encrypt",
        "Other",
    ];
    const EVENTS: &[&str] = &[
        "user_authorize_invoice",
        "update_invoice_status",
        "subscribe",
        "",
    ];
    let value = prop_oneof![
        "[A-Za-z0-9_-]{0,24}",
        "[0-9]{1,12}",
        ".{0,16}".prop_map(|s| s.replace("]]>", "")),
        prop::sample::select(&["web", "wxa", "INVOICE_REIMBURSE_LOCK", "wxb11529c136998cb6"][..])
            .prop_map(str::to_owned),
    ];
    let content = (value, 0_u8..4).prop_map(|(value, kind)| match kind {
        0 => format!("<![CDATA[{value}]]>"),
        1 => value.replace('&', "&amp;").replace('<', "&lt;"),
        2 => format!("{}&#x4e2d;&amp;", value.replace(['&', '<'], "")),
        _ => format!("<n>{}</n>", value.replace(['&', '<'], "")),
    });
    let field = (prop::sample::select(NAMES), content);
    let edit = (any::<prop::sample::Index>(), any::<u8>(), 0_u8..8);
    (
        prop::sample::select(EVENTS),
        prop::collection::vec(field, 0..12),
        any::<bool>(),
        edit,
    )
        .prop_map(|(event, fields, keep_header, (at, byte, op))| {
            let mut xml = String::from("<xml>");
            if keep_header {
                xml.push_str("<FromUserName><![CDATA[oZI8Fj040]]></FromUserName><CreateTime>1475134700</CreateTime>");
                xml.push_str(&format!("<MsgType>event</MsgType><Event>{event}</Event>"));
            }
            let mut seen = std::collections::HashSet::new();
            for (name, content) in fields {
                if keep_header && matches!(name, "FromUserName" | "CreateTime" | "MsgType" | "Event") {
                    continue;
                }
                if seen.insert(name) {
                    xml.push_str(&format!("<{name}>{content}</{name}>"));
                }
            }
            // Complete most known events so the domain conversion gets exercised too.
            if keep_header && event == "update_invoice_status" {
                for (name, value) in [("Status", "INVOICE_REIMBURSE_LOCK"), ("CardId", "c1"), ("Code", "1")] {
                    if seen.insert(name) {
                        xml.push_str(&format!("<{name}>{value}</{name}>"));
                    }
                }
            }
            if keep_header && event == "user_authorize_invoice" && !seen.contains("FailOrderId") && seen.insert("SuccOrderId") {
                xml.push_str("<SuccOrderId>o-1</SuccOrderId>");
            }
            xml.push_str("</xml>");
            let mut bytes = xml.into_bytes();
            let i = at.index(bytes.len());
            match op {
                0 => bytes.insert(i, byte),
                1 => {
                    bytes.remove(i);
                }
                2 => bytes[i] = byte,
                _ => {}
            }
            bytes
        })
}

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_409_304_348)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = XmlFields::parse(&bytes);
        let _ = PushEvent::parse(&bytes);
    }

    #[test]
    fn push_query_round_trips_and_never_panics(
        values in prop::collection::vec(prop::option::of(".{0,40}"), 7),
        raw in ".{0,200}",
    ) {
        let query = PushQuery {
            signature: values[0].clone(),
            timestamp: values[1].clone(),
            nonce: values[2].clone(),
            echostr: values[3].clone(),
            encrypt_type: values[4].clone(),
            msg_signature: values[5].clone(),
            openid: values[6].clone(),
        };
        prop_assert_eq!(PushQuery::parse(&query.to_query_string()), query);
        let _ = PushQuery::parse(&raw);
    }

    #[test]
    fn parser_never_panics_on_xmlish_text(text in xmlish()) {
        let _ = PushEvent::parse(text.as_bytes());
    }

    #[test]
    fn push_like_documents_never_panic(bytes in pushlike()) {
        if let Ok(event) = PushEvent::parse(&bytes) {
            let _ = event.dedupe_key();
            let _ = fapiao_domain::weixin::WeixinEvent::try_from(event);
        }
        let receiver = receiver(PushMode::Plain);
        let query = PushQuery {
            signature: Some(crypto::url_signature(TOKEN, "1409304348", "n")),
            timestamp: Some("1409304348".to_owned()),
            nonce: Some("n".to_owned()),
            ..PushQuery::default()
        };
        let _ = PushDecoder::decode(&receiver, &query.to_query_string(), &bytes, now());
    }

    #[test]
    fn decryptor_never_panics(text in ".{0,400}", raw in prop::collection::vec(any::<u8>(), 0..512)) {
        let key = key();
        let _ = crypto::decrypt(&key, &text);
        // Valid base64 of arbitrary bytes reaches the cipher and the unpadding.
        let encoded = base64_standard(&raw);
        let _ = crypto::decrypt(&key, &encoded);
        let _ = KeyRing::new(key).decrypt_for(&encoded, APPID);
    }

    #[test]
    fn receiver_never_panics(
        body in prop::collection::vec(any::<u8>(), 0..1024),
        text in xmlish(),
        timestamp in "[0-9a-z]{0,12}",
        nonce in "[0-9a-z]{0,8}",
        signature in "[0-9a-f]{0,40}",
        encrypted in any::<bool>(),
        raw in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        for mode in [PushMode::Plain, PushMode::Compatible, PushMode::Safe] {
            let receiver = receiver(mode);
            let query = PushQuery {
                signature: Some(signature.clone()),
                timestamp: Some(timestamp.clone()),
                nonce: Some(nonce.clone()),
                openid: None,
                encrypt_type: encrypted.then(|| "aes".to_owned()),
                msg_signature: Some(signature.clone()),
                echostr: None,
            };
            let _ = receiver.receive(&query, &body, now());
            let _ = receiver.receive(&query, text.as_bytes(), now());
            let _ = PushDecoder::decode(&receiver, &query.to_query_string(), &body, now());
            let _ = PushDecoder::decode(&receiver, &query.to_query_string(), text.as_bytes(), now());
            let _ = PushDecoder::verify_url(&receiver, &PushQuery { echostr: Some(text.clone()), ..query.clone() }.to_query_string());
            // Correctly signed envelopes around arbitrary ciphertext get to decryption.
            let encrypt = base64_standard(&raw);
            let signed = PushQuery {
                timestamp: Some("1409304348".to_owned()),
                nonce: Some("n".to_owned()),
                encrypt_type: Some("aes".to_owned()),
                msg_signature: Some(crypto::msg_signature(TOKEN, "1409304348", "n", &encrypt)),
                ..PushQuery::default()
            };
            let envelope = format!("<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>");
            let _ = receiver.receive(&signed, envelope.as_bytes(), now());
            // And correctly encrypted arbitrary plaintext gets to the XML parser.
            let inner = crypto::encrypt(&key(), b"0123456789abcdef", text.as_bytes(), APPID);
            let signed = PushQuery {
                msg_signature: Some(crypto::msg_signature(TOKEN, "1409304348", "n", &inner)),
                ..signed
            };
            let envelope = format!("<xml><Encrypt><![CDATA[{inner}]]></Encrypt></xml>");
            let _ = receiver.receive(&signed, envelope.as_bytes(), now());
            let _ = PushDecoder::decode(&receiver, &signed.to_query_string(), envelope.as_bytes(), now());
        }
    }

    #[test]
    fn encryption_round_trips(message in ".{0,600}", random in any::<[u8; 16]>(), appid in "[a-z0-9]{0,20}") {
        let key = key();
        let encrypted = crypto::encrypt(&key, &random, message.as_bytes(), &appid);
        let decrypted = crypto::decrypt(&key, &encrypted).expect("own ciphertext decrypts");
        prop_assert_eq!(decrypted.message, message);
        prop_assert_eq!(decrypted.appid, appid);
    }

    #[test]
    fn written_events_parse_back(
        order in "[A-Za-z0-9_-]{1,32}",
        from in "[A-Za-z0-9_-]{1,28}",
        create_time in 0_i64..4_000_000_000,
        // XML normalizes line ends, so a carriage return does not survive by design.
        content in "[^\r]{0,64}",
    ) {
        let cdata = |s: &str| format!("<![CDATA[{}]]>", s.replace("]]>", "]]]]><![CDATA[>"));
        let xml = format!(
            "<xml><FromUserName>{}</FromUserName><CreateTime>{create_time}</CreateTime>\
             <MsgType>event</MsgType><Event>user_authorize_invoice</Event>\
             <SuccOrderId>{}</SuccOrderId><Source>{}</Source></xml>",
            cdata(&from), cdata(&order), cdata(&content)
        );
        let PushEvent::UserAuthorizeInvoice(event) = PushEvent::parse(xml.as_bytes()).expect("parses") else {
            panic!("not an authorization");
        };
        prop_assert_eq!(event.succ_order_id, Some(order));
        prop_assert_eq!(event.header.from_user_name, from);
        prop_assert_eq!(event.header.create_time, create_time);
        let trimmed = content.trim();
        prop_assert_eq!(event.source.as_deref(), (!trimmed.is_empty()).then_some(trimmed));
    }
}

/// A safe-mode authorization push for `order`, sealed as Weixin seals it: the query and the body.
fn sealed_push(order: &str, random: &[u8; 16]) -> (PushQuery, String) {
    let xml = format!(
        "<xml><ToUserName><![CDATA[gh_sandbox]]></ToUserName><FromUserName><![CDATA[oZI8Fj040]]></FromUserName>\
         <CreateTime>1409304348</CreateTime><MsgType><![CDATA[event]]></MsgType>\
         <Event><![CDATA[user_authorize_invoice]]></Event><SuccOrderId><![CDATA[{order}]]></SuccOrderId>\
         <FailOrderId><![CDATA[]]></FailOrderId><AuthorizeAppId><![CDATA[{APPID}]]></AuthorizeAppId>\
         <Source><![CDATA[web]]></Source></xml>"
    );
    let encrypt = crypto::encrypt(&key(), random, xml.as_bytes(), APPID);
    let query = PushQuery {
        timestamp: Some("1409304348".to_owned()),
        nonce: Some("n".to_owned()),
        encrypt_type: Some("aes".to_owned()),
        msg_signature: Some(crypto::msg_signature(TOKEN, "1409304348", "n", &encrypt)),
        ..PushQuery::default()
    };
    (
        query,
        format!(
            "<xml><ToUserName><![CDATA[gh_sandbox]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        ),
    )
}

/// One character of `text` at `at` replaced by another from `alphabet`.
fn substitute(
    text: &str,
    at: prop::sample::Index,
    alphabet: &str,
    pick: prop::sample::Index,
) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let i = at.index(chars.len());
    let choices: Vec<char> = alphabet.chars().filter(|c| *c != chars[i]).collect();
    chars[i] = choices[pick.index(choices.len())];
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases() / 4))]

    /// A sealed push decodes to its order; the same push with one character of its ciphertext,
    /// its signature, its timestamp or its nonce changed never decodes.
    #[test]
    fn tampered_pushes_never_decode(
        order in "[A-Za-z0-9_-]{1,32}",
        random in any::<[u8; 16]>(),
        at in any::<prop::sample::Index>(),
        pick in any::<prop::sample::Index>(),
        part in 0_u8..4,
    ) {
        const BASE64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let receiver = receiver(PushMode::Safe);
        let (query, body) = sealed_push(&order, &random);
        let push = receiver.receive(&query, body.as_bytes(), now()).expect("an untouched push decodes");
        let PushEvent::UserAuthorizeInvoice(event) = push.event else {
            panic!("not an authorization");
        };
        prop_assert_eq!(event.succ_order_id, Some(order));

        let (mut query, mut body) = (query, body);
        match part {
            0 => {
                let start = body.find("<Encrypt><![CDATA[").expect("envelope") + "<Encrypt><![CDATA[".len();
                let end = start + body[start..].find("]]>").expect("envelope");
                // Keep the padding: a changed '=' could leave the same bytes.
                let data_end = start + body[start..end].trim_end_matches('=').len();
                let changed = substitute(&body[start..data_end], at, BASE64, pick);
                body = format!("{}{changed}{}", &body[..start], &body[data_end..]);
            }
            1 => {
                let signature = query.msg_signature.clone().expect("signed");
                query.msg_signature = Some(substitute(&signature, at, "0123456789abcdef", pick));
            }
            2 => query.timestamp = Some("1409304349".to_owned()),
            _ => query.nonce = Some(substitute("n", at, "abcdefghijklmopqrstuvwxyz0123456789", pick)),
        }
        let refused = receiver.receive(&query, body.as_bytes(), now());
        prop_assert!(refused.is_err(), "part {}: {:?}", part, refused);
    }
}

fn base64_standard(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
