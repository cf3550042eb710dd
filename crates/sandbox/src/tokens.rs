//! Access tokens and tickets (reference §2.1, §4.1): `/cgi-bin/token` rotates on every fetch
//! and the previous token stays valid for the overlap; `/cgi-bin/stable_token` is a separate
//! series that only rotates when forced or near its end; tickets live their own 7200 s.

use serde_json::json;

use crate::error::ApiError;
use crate::ids::TOKEN_PREFIX;
use crate::state::{Answer, ApiResult, IssuedTicket, IssuedToken, State, TokenKind};
use crate::wire::StableTokenBody;

/// The sandbox day (UTC+8) of a time, for daily quotas.
fn china_day(now: i64) -> i64 {
    now.saturating_add(8 * 3600).div_euclid(86_400)
}

impl State {
    /// Checks `grant_type`, `appid` and `secret` like both token endpoints do.
    fn check_credentials(
        &self,
        grant_type: &str,
        appid: &str,
        secret: &str,
    ) -> Result<(), ApiError> {
        if grant_type != "client_credential" {
            return Err(ApiError::code(40002));
        }
        if appid.is_empty() {
            return Err(ApiError::code(41002));
        }
        let account = self.account(appid).ok_or_else(|| ApiError::code(40013))?;
        if secret.is_empty() {
            return Err(ApiError::code(41004));
        }
        if account.config.secret != secret {
            return Err(ApiError::code(40125));
        }
        Ok(())
    }

    fn mint_token(&mut self, appid: &str, kind: TokenKind, now: i64) -> String {
        let ttl = self.settings.timing.token_ttl_secs;
        // Forget tokens that expired more than a day ago, so a long run stays small.
        self.tokens
            .retain(|_, t| t.expires_at > now.saturating_sub(86_400));
        let token = self.minter.access_token();
        self.tokens.insert(
            token.clone(),
            IssuedToken {
                appid: appid.to_owned(),
                expires_at: now.saturating_add(ttl),
                superseded_at: None,
            },
        );
        if let Some(previous) = self
            .current_tokens
            .insert((appid.to_owned(), kind), token.clone())
            && let Some(record) = self.tokens.get_mut(&previous)
        {
            record.superseded_at.get_or_insert(now);
        }
        if !self.settings.unconfirmed.ticket_survives_token_refresh {
            self.tickets.retain(|_, t| t.appid != appid);
        }
        token
    }

    /// `GET /cgi-bin/token`: a new token on every call; the previous one keeps working for
    /// the overlap.
    pub(crate) fn token(
        &mut self,
        grant_type: &str,
        appid: &str,
        secret: &str,
        now: i64,
    ) -> ApiResult {
        self.check_credentials(grant_type, appid, secret)?;
        let quota = self.settings.unconfirmed.token_daily_quota;
        if let Some(account) = self.account_mut(appid) {
            let day = china_day(now);
            if account.token_calls.0 != day {
                account.token_calls = (day, 0);
            }
            if quota.is_some_and(|limit| account.token_calls.1 >= limit) {
                return Err(ApiError::code(45009));
            }
            account.token_calls.1 += 1;
        }
        let token = self.mint_token(appid, TokenKind::Classic, now);
        Ok(Answer::Bare(json!({
            "access_token": token,
            "expires_in": self.settings.timing.token_ttl_secs,
        })))
    }

    /// `POST /cgi-bin/stable_token`: the current stable token until its last minutes, a new
    /// one when forced (the old one then keeps the overlap).
    pub(crate) fn stable_token(&mut self, body: &StableTokenBody, now: i64) -> ApiResult {
        self.check_credentials(&body.grant_type, &body.appid, &body.secret)?;
        let renew = self.settings.timing.stable_token_renew_secs;
        let current = self
            .current_tokens
            .get(&(body.appid.clone(), TokenKind::Stable))
            .and_then(|token| self.tokens.get(token).map(|record| (token.clone(), record)))
            .filter(|(_, record)| record.superseded_at.is_none())
            .map(|(token, record)| (token, record.expires_at.saturating_sub(now)));
        let (token, expires_in) = match current {
            Some((token, left)) if !body.force_refresh && left > renew => (token, left),
            Some((_, left)) if !body.force_refresh && left > 0 => {
                // The last minutes: hand out the next token; the current one runs out by itself.
                self.current_tokens
                    .remove(&(body.appid.clone(), TokenKind::Stable));
                let next = self.mint_token(&body.appid, TokenKind::Stable, now);
                (next, self.settings.timing.token_ttl_secs)
            }
            _ => (
                self.mint_token(&body.appid, TokenKind::Stable, now),
                self.settings.timing.token_ttl_secs,
            ),
        };
        Ok(Answer::Bare(json!({
            "access_token": token,
            "expires_in": expires_in,
        })))
    }

    /// The account an `access_token` belongs to: 41001 missing, 40014 malformed, 42001
    /// expired, 40001 superseded or unknown to this run.
    pub(crate) fn authenticate(&self, token: Option<&str>, now: i64) -> Result<String, ApiError> {
        let token = token
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::code(41001))?;
        let Some(record) = self.tokens.get(token) else {
            let looks_minted = token.strip_prefix(TOKEN_PREFIX).is_some_and(|rest| {
                rest.len() == 133
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
            return Err(ApiError::code(if looks_minted { 40001 } else { 40014 }));
        };
        if now >= record.expires_at {
            return Err(ApiError::code(42001));
        }
        if let Some(superseded) = record.superseded_at
            && now >= superseded.saturating_add(self.settings.timing.token_overlap_secs)
        {
            return Err(ApiError::code(40001));
        }
        Ok(record.appid.clone())
    }

    /// Fault injection: every token of `appid` (or of every account) stops working now.
    pub(crate) fn invalidate_tokens(&mut self, appid: Option<&str>, now: i64) -> usize {
        let overlap = self.settings.timing.token_overlap_secs;
        let mut count = 0;
        for record in self.tokens.values_mut() {
            if appid.is_none_or(|a| a == record.appid) && record.expires_at > now {
                record.superseded_at = Some(now.saturating_sub(overlap));
                count += 1;
            }
        }
        self.current_tokens
            .retain(|(owner, _), _| appid.is_some_and(|a| a != owner));
        count
    }

    /// `GET /cgi-bin/ticket/getticket?type=wx_card` (or `jsapi`).
    pub(crate) fn ticket(&mut self, appid: &str, kind: Option<&str>, now: i64) -> ApiResult {
        let kind = match kind.map(str::trim) {
            Some(kind @ ("wx_card" | "jsapi")) => kind.to_owned(),
            _ => return Err(ApiError::code(40097)),
        };
        let ttl = self.settings.timing.ticket_ttl_secs;
        self.tickets.retain(|_, t| t.expires_at > now);
        let ticket = self.minter.ticket();
        self.tickets.insert(
            ticket.clone(),
            IssuedTicket {
                appid: appid.to_owned(),
                kind,
                expires_at: now.saturating_add(ttl),
            },
        );
        Ok(Answer::Ok(json!({ "ticket": ticket, "expires_in": ttl })))
    }

    /// The account of a live `wx_card` ticket.
    pub(crate) fn wx_card_ticket_owner(&self, ticket: &str, now: i64) -> Option<&str> {
        self.tickets
            .get(ticket)
            .filter(|t| t.kind == "wx_card" && t.expires_at > now)
            .map(|t| t.appid.as_str())
    }
}

#[cfg(test)]
mod tests;
