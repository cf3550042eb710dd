//! Weixin's side of the push protocol, for tools that play it against a fapiao service: the
//! signed URL check an operator's "save server URL" triggers, and a push sealed in safe mode.
//! `fapiao doctor`, the benchmarks and tests use these instead of spelling the wire format.

use crate::crypto::{self, AesKey, RANDOM_LEN};
use crate::wire::PushQuery;

/// A push as Weixin sends it: the query string of the callback URL and the POSTed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedPush {
    /// The query string (without `?`).
    pub query: String,
    /// The body.
    pub body: String,
}

/// The signed query string of Weixin's URL check (GET) for `token`; a receiver configured with
/// the same token answers `echostr`.
pub fn url_check_query(token: &str, timestamp: &str, nonce: &str, echostr: &str) -> String {
    PushQuery {
        signature: Some(crypto::url_signature(token, timestamp, nonce)),
        timestamp: Some(timestamp.to_owned()),
        nonce: Some(nonce.to_owned()),
        echostr: Some(echostr.to_owned()),
        ..PushQuery::default()
    }
    .to_query_string()
}

/// What a safe-mode push is made of.
#[derive(Debug, Clone, Copy)]
pub struct SafePush<'a> {
    /// The callback token.
    pub token: &'a str,
    /// The current EncodingAESKey.
    pub key: &'a AesKey,
    /// The Official Account's appid (the ciphertext's trailer).
    pub appid: &'a str,
    /// `ToUserName` of the envelope (the account's original id).
    pub to_user_name: &'a str,
    /// The sender's openid (in the query).
    pub openid: &'a str,
    /// Unix seconds.
    pub timestamp: i64,
    /// The nonce.
    pub nonce: &'a str,
    /// The 16 random bytes that lead the plaintext.
    pub random: &'a [u8; RANDOM_LEN],
}

impl SafePush<'_> {
    /// Encrypts and signs the plaintext event `xml` as Weixin does in safe mode.
    pub fn seal(&self, xml: &str) -> SealedPush {
        let encrypt = crypto::encrypt(self.key, self.random, xml.as_bytes(), self.appid);
        let timestamp = self.timestamp.to_string();
        let query = PushQuery {
            signature: Some(crypto::url_signature(self.token, &timestamp, self.nonce)),
            msg_signature: Some(crypto::msg_signature(
                self.token, &timestamp, self.nonce, &encrypt,
            )),
            timestamp: Some(timestamp),
            nonce: Some(self.nonce.to_owned()),
            openid: Some(self.openid.to_owned()),
            encrypt_type: Some("aes".to_owned()),
            echostr: None,
        };
        SealedPush {
            query: query.to_query_string(),
            body: format!(
                "<xml><ToUserName><![CDATA[{}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>",
                self.to_user_name
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use fapiao_domain::ports::PushDecoder;
    use fapiao_domain::weixin::WeixinEvent;
    use fapiao_domain::{AppId, Timestamp};

    use super::*;
    use crate::crypto::KeyRing;
    use crate::event::{PushConfig, PushMode, PushReceiver};

    const TOKEN: &str = "sealtoken";
    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    const APPID: &str = "wxsealtest00000001";

    fn receiver(mode: PushMode) -> PushReceiver {
        let appid = AppId::parse(APPID).unwrap_or_else(|e| panic!("{e}"));
        let key = AesKey::from_encoding_aes_key(KEY).unwrap_or_else(|e| panic!("{e}"));
        PushReceiver::new(PushConfig::encrypted(TOKEN, appid, mode, KeyRing::new(key)))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_receiver_answers_a_url_check_and_refuses_another_token() {
        let query = url_check_query(TOKEN, "1700000000", "n 1", "echo+this");
        assert_eq!(
            PushDecoder::verify_url(&receiver(PushMode::Safe), &query).as_deref(),
            Ok("echo+this")
        );
        let forged = url_check_query("othertoken", "1700000000", "n 1", "echo+this");
        assert!(PushDecoder::verify_url(&receiver(PushMode::Safe), &forged).is_err());
    }

    #[test]
    fn a_sealed_push_decodes_to_its_event_and_a_changed_byte_is_refused() {
        let key = AesKey::from_encoding_aes_key(KEY).unwrap_or_else(|e| panic!("{e}"));
        let push = SafePush {
            token: TOKEN,
            key: &key,
            appid: APPID,
            to_user_name: "gh_seal",
            openid: "oSeal",
            timestamp: 1_700_000_000,
            nonce: "42",
            random: &[7; RANDOM_LEN],
        }
        .seal(
            "<xml><ToUserName><![CDATA[gh_seal]]></ToUserName><FromUserName><![CDATA[oSeal]]></FromUserName>\
             <CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>\
             <Event><![CDATA[user_authorize_invoice]]></Event><SuccOrderId><![CDATA[SEAL-1]]></SuccOrderId>\
             <FailOrderId><![CDATA[]]></FailOrderId><AuthorizeAppId><![CDATA[wxsealtest00000001]]></AuthorizeAppId>\
             <Source><![CDATA[web]]></Source></xml>",
        );
        let now = Timestamp::from_unix_seconds(1_700_000_000);
        let event = PushDecoder::decode(
            &receiver(PushMode::Safe),
            &push.query,
            push.body.as_bytes(),
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let WeixinEvent::Authorization(auth) = event else {
            panic!("not an authorization: {event:?}");
        };
        assert_eq!(auth.outcome.order_id().as_str(), "SEAL-1");
        let tampered = push
            .body
            .replacen("<Encrypt><![CDATA[", "<Encrypt><![CDATA[A", 1);
        assert!(
            PushDecoder::decode(
                &receiver(PushMode::Safe),
                &push.query,
                tampered.as_bytes(),
                now
            )
            .is_err()
        );
    }
}
