//! The keys that make a repeated push a no-op ([`WeixinEvent::dedupe_key`]).

use super::{AuthOutcome, WeixinEvent};
use crate::ids::{OrderId, OrderKey, SPappId};

/// The dedupe key of an authorization push (`kind` is `ok` or `fail`).
fn auth_dedupe_key(kind: &str, s_pappid: Option<&SPappId>, order: &OrderId) -> String {
    let s_pappid = s_pappid.map_or("-", SPappId::as_str);
    format!("auth:{kind}:{s_pappid}:{order}")
}

impl WeixinEvent {
    /// The dedupe keys any authorization push for the order `key` is stored under: succeeded
    /// or failed, naming its platform id or none. When the order is registered, the pushes
    /// kept for it under these keys are woken ([`crate::ports::EventInbox::wake`]).
    pub fn authorization_dedupe_keys(key: &OrderKey) -> [String; 4] {
        let order = &key.order_id;
        let named = Some(&key.s_pappid);
        [
            auth_dedupe_key("ok", named, order),
            auth_dedupe_key("fail", named, order),
            auth_dedupe_key("ok", None, order),
            auth_dedupe_key("fail", None, order),
        ]
    }

    /// The key that makes a retried or duplicated push a no-op.
    ///
    /// Authorizations are keyed by business identity (outcome + order id), so a push repeated
    /// by Weixin, by a second instance or a day later collapses into one. Status changes are
    /// keyed by card, code, status and `CreateTime` (a card may legitimately go back and forth
    /// between INIT and LOCK). Anything else falls back to Weixin's `FromUserName + CreateTime`.
    pub fn dedupe_key(&self) -> String {
        match self {
            WeixinEvent::Authorization(e) => {
                let (kind, order) = match &e.outcome {
                    AuthOutcome::Succeeded(id) => ("ok", id),
                    AuthOutcome::Failed(id) => ("fail", id),
                };
                auth_dedupe_key(kind, e.s_pappid.as_ref(), order)
            }
            WeixinEvent::InvoiceStatus(e) => format!(
                "status:{}:{}:{}:{}",
                e.card_id,
                e.code,
                e.status.code(),
                e.create_time.unix_seconds()
            ),
            WeixinEvent::Other {
                from,
                create_time,
                event,
                msg_type,
            } => format!(
                "other:{from}:{}:{}",
                create_time.unix_seconds(),
                event.as_deref().unwrap_or(msg_type)
            ),
        }
    }
}
