//! Event pushes: the XML of `user_authorize_invoice` and `update_invoice_status`, its
//! envelope per message security mode (signed and encrypted with the Weixin adapter's
//! crypto), and delivery with Weixin's rule: a timeout per attempt, 3 attempts in total.

use std::time::{Duration, Instant};

use fapiao_weixin::crypto::{self, AesKey};
use serde::Serialize;

use crate::config::{AccountConfig, AppIdElement, PushMode, Unconfirmed};
use crate::sandbox::Sandbox;
use crate::state::{State, percent_encode};

/// Where a push stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PushState {
    /// Not yet delivered; attempts may be under way.
    Pending,
    /// An attempt got a 2xx answer in time.
    Delivered,
    /// Every attempt failed.
    Failed,
    /// The receiving account has no callback URL.
    Skipped,
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize)]
pub struct PushAttempt {
    /// 1-based.
    pub number: u32,
    /// Sandbox time the attempt started, Unix milliseconds.
    pub started_at_ms: i64,
    /// How long it took.
    pub elapsed_ms: u64,
    /// `http 200`, `timeout`, `connect error`, …
    pub outcome: String,
    /// The answer's status, if one came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The start of the answer's body, if one came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// Whether this attempt delivered the push.
    pub ok: bool,
}

/// A recorded event push.
#[derive(Debug, Clone, Serialize)]
pub struct PushRecord {
    /// 1-based, in creation order.
    pub id: u64,
    /// `user_authorize_invoice` or `update_invoice_status`.
    pub event: &'static str,
    /// The receiving account.
    pub appid: String,
    /// `FromUserName`.
    pub openid: String,
    /// `CreateTime`.
    pub create_time: i64,
    /// The receiving account's mode when the push was made.
    pub mode: PushMode,
    /// Callback URL with the signature query, when the account has a callback URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The plaintext message.
    pub xml: String,
    /// What is POSTed (the envelope in compatible and safe modes).
    pub body: String,
    /// Set on a duplicate delivery injected by fault injection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<u64>,
    /// Delivery state.
    pub state: PushState,
    /// Why it was skipped, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Every attempt so far.
    pub attempts: Vec<PushAttempt>,
}

/// What an event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EventBody {
    /// `user_authorize_invoice`.
    Authorize {
        succ_order_id: String,
        fail_order_id: String,
        authorize_appid: String,
        source: String,
        s_pappid: String,
    },
    /// `update_invoice_status`.
    StatusUpdate {
        status: String,
        card_id: String,
        code: String,
    },
}

/// An event for one receiving account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventMessage {
    pub to_user_name: String,
    pub from_user_name: String,
    pub create_time: i64,
    pub body: EventBody,
}

enum XmlValue {
    Text(String),
    Number(i64),
}

impl EventMessage {
    pub(crate) fn event_name(&self) -> &'static str {
        match self.body {
            EventBody::Authorize { .. } => "user_authorize_invoice",
            EventBody::StatusUpdate { .. } => "update_invoice_status",
        }
    }

    fn fields(&self, unconfirmed: &Unconfirmed) -> Vec<(&'static str, XmlValue)> {
        let text = |s: &str| XmlValue::Text(s.to_owned());
        let mut fields = vec![
            ("ToUserName", text(&self.to_user_name)),
            ("FromUserName", text(&self.from_user_name)),
            ("CreateTime", XmlValue::Number(self.create_time)),
            ("MsgType", text("event")),
            ("Event", text(self.event_name())),
        ];
        match &self.body {
            EventBody::Authorize {
                succ_order_id,
                fail_order_id,
                authorize_appid,
                source,
                s_pappid,
            } => {
                fields.push(("SuccOrderId", text(succ_order_id)));
                fields.push(("FailOrderId", text(fail_order_id)));
                if unconfirmed.event_appid_element != AppIdElement::AppId {
                    fields.push(("AuthorizeAppId", text(authorize_appid)));
                }
                if unconfirmed.event_appid_element != AppIdElement::AuthorizeAppId {
                    fields.push(("AppId", text(authorize_appid)));
                }
                fields.push(("Source", text(source)));
                if unconfirmed.event_sp_appid {
                    fields.push(("SPAppId", text(s_pappid)));
                }
            }
            EventBody::StatusUpdate {
                status,
                card_id,
                code,
            } => {
                fields.push(("Status", text(status)));
                fields.push(("CardId", text(card_id)));
                fields.push(("Code", text(code)));
            }
        }
        fields
    }
}

fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

fn to_xml(fields: &[(&str, XmlValue)]) -> String {
    let mut xml = String::from("<xml>");
    for (name, value) in fields {
        let value = match value {
            XmlValue::Text(text) => cdata(text),
            XmlValue::Number(n) => n.to_string(),
        };
        xml.push_str(&format!("<{name}>{value}</{name}>"));
    }
    xml.push_str("</xml>");
    xml
}

/// The query string and body of a push in the account's mode.
pub(crate) struct Sealed {
    pub query: String,
    pub body: String,
}

/// Signs (and in compatible and safe mode encrypts) `fields` for `account`.
fn seal(
    account: &AccountConfig,
    fields: Vec<(&'static str, XmlValue)>,
    openid: &str,
    timestamp: i64,
    nonce: &str,
    random: &[u8; 16],
) -> Result<Sealed, String> {
    let plain = to_xml(&fields);
    let timestamp = timestamp.to_string();
    let signature = crypto::url_signature(&account.token, &timestamp, nonce);
    let mut query = format!(
        "signature={signature}&timestamp={timestamp}&nonce={nonce}&openid={}",
        percent_encode(openid)
    );
    if account.push_mode == PushMode::Plain {
        return Ok(Sealed { query, body: plain });
    }
    let key = account
        .encoding_aes_key
        .as_deref()
        .ok_or("no encoding_aes_key configured")
        .and_then(|key| {
            AesKey::from_encoding_aes_key(key).map_err(|_| "invalid encoding_aes_key")
        })?;
    let encrypt = crypto::encrypt(&key, random, plain.as_bytes(), &account.appid);
    let msg_signature = crypto::msg_signature(&account.token, &timestamp, nonce, &encrypt);
    query.push_str(&format!("&encrypt_type=aes&msg_signature={msg_signature}"));
    let body = if account.push_mode == PushMode::Compatible {
        let mut fields = fields;
        fields.push(("Encrypt", XmlValue::Text(encrypt)));
        to_xml(&fields)
    } else {
        let to_user = fields
            .into_iter()
            .find(|(name, _)| *name == "ToUserName")
            .map_or(XmlValue::Text(String::new()), |(_, value)| value);
        to_xml(&[
            ("ToUserName", to_user),
            ("Encrypt", XmlValue::Text(encrypt)),
        ])
    };
    Ok(Sealed { query, body })
}

impl State {
    /// Records a push of `message` to `appid`'s callback URL and returns its id; the caller
    /// delivers it.
    pub(crate) fn record_push(&mut self, appid: &str, message: &EventMessage) -> u64 {
        let id = self.pushes.len() as u64 + 1;
        let fields = message.fields(&self.settings.unconfirmed);
        let xml = to_xml(&fields);
        let nonce = self.minter.nonce();
        let random = self.minter.aes_random();
        let account = self.account(appid).map(|a| a.config.clone());
        let mut record = PushRecord {
            id,
            event: message.event_name(),
            appid: appid.to_owned(),
            openid: message.from_user_name.clone(),
            create_time: message.create_time,
            mode: account.as_ref().map_or(PushMode::Plain, |a| a.push_mode),
            url: None,
            body: xml.clone(),
            xml,
            duplicate_of: None,
            state: PushState::Pending,
            note: None,
            attempts: Vec::new(),
        };
        match account {
            None => {
                record.state = PushState::Skipped;
                record.note = Some(format!("no account {appid}"));
            }
            Some(account) => match &account.callback_url {
                None => {
                    record.state = PushState::Skipped;
                    record.note = Some("the account has no callback_url".to_owned());
                }
                Some(callback) => match seal(
                    &account,
                    fields,
                    &message.from_user_name,
                    message.create_time,
                    &nonce,
                    &random,
                ) {
                    Ok(sealed) => {
                        let separator = if callback.contains('?') { '&' } else { '?' };
                        record.url = Some(format!("{callback}{separator}{}", sealed.query));
                        record.body = sealed.body;
                    }
                    Err(reason) => {
                        record.state = PushState::Skipped;
                        record.note = Some(reason);
                    }
                },
            },
        }
        self.pushes.push(record);
        id
    }

    /// Records a second delivery of push `id`, byte for byte the same.
    pub(crate) fn duplicate_push(&mut self, id: u64) -> Option<u64> {
        let original = self.push(id)?.clone();
        if original.state == PushState::Skipped {
            return None;
        }
        let duplicate_id = self.pushes.len() as u64 + 1;
        self.pushes.push(PushRecord {
            id: duplicate_id,
            duplicate_of: Some(id),
            state: PushState::Pending,
            attempts: Vec::new(),
            ..original
        });
        Some(duplicate_id)
    }

    /// Push `id` (ids are 1-based positions).
    pub(crate) fn push(&self, id: u64) -> Option<&PushRecord> {
        let index = usize::try_from(id.checked_sub(1)?).ok()?;
        self.pushes.get(index)
    }

    pub(crate) fn push_mut(&mut self, id: u64) -> Option<&mut PushRecord> {
        let index = usize::try_from(id.checked_sub(1)?).ok()?;
        self.pushes.get_mut(index)
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".to_owned()
    } else if error.is_connect() {
        "connect error".to_owned()
    } else {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            text.push_str(": ");
            text.push_str(&inner.to_string());
            source = inner.source();
        }
        format!("error: {text}")
    }
}

/// Delivers push `id`: up to the configured attempts, each bounded by the timeout, until one
/// gets a 2xx answer. Every attempt is recorded.
pub(crate) async fn deliver(sandbox: Sandbox, id: u64) {
    let Some((url, body)) = sandbox.with_state(|state| {
        let push = state.push(id)?;
        if push.state != PushState::Pending {
            return None;
        }
        Some((push.url.clone()?, push.body.clone()))
    }) else {
        return;
    };
    let settings = sandbox.settings().push.clone();
    let timeout = Duration::from_millis(settings.timeout_ms);
    let attempts = settings.attempts.max(1);
    for number in 1..=attempts {
        let started_at_ms = sandbox.clock().now().millis();
        let started = Instant::now();
        let result = sandbox
            .http()
            .post(&url)
            .header("content-type", "text/xml; charset=utf-8")
            .body(body.clone())
            .timeout(timeout)
            .send()
            .await;
        let (ok, outcome, http_status, reply) = match result {
            Ok(response) => {
                let status = response.status();
                match response.text().await {
                    Ok(text) => (
                        status.is_success(),
                        format!("http {}", status.as_u16()),
                        Some(status.as_u16()),
                        Some(text.chars().take(200).collect::<String>()),
                    ),
                    Err(error) => (false, describe(&error), Some(status.as_u16()), None),
                }
            }
            Err(error) => (false, describe(&error), None, None),
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::debug!(push = id, attempt = number, %outcome, "sandbox push attempt");
        sandbox.with_state(|state| {
            if let Some(push) = state.push_mut(id) {
                push.attempts.push(PushAttempt {
                    number,
                    started_at_ms,
                    elapsed_ms,
                    outcome,
                    http_status,
                    reply,
                    ok,
                });
                if ok {
                    push.state = PushState::Delivered;
                } else if number == attempts {
                    push.state = PushState::Failed;
                }
            }
        });
        if ok {
            return;
        }
        if number < attempts && settings.retry_delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(settings.retry_delay_ms)).await;
        }
    }
}

#[cfg(test)]
mod tests;
