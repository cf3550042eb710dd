use serde_json::Value;

use super::*;
use crate::config::SandboxConfig;
use crate::state::test_state;

const OA: &str = "wxsandboxofficial01";
const SECRET: &str = "sandbox-official-account-secret";

fn token_of(answer: ApiResult) -> (String, i64) {
    match answer {
        Ok(Answer::Bare(Value::Object(map))) => (
            map.get("access_token")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            map.get("expires_in").and_then(Value::as_i64).unwrap_or(-1),
        ),
        other => panic!("unexpected answer {other:?}"),
    }
}

fn errcode<T: std::fmt::Debug>(result: Result<T, ApiError>) -> i64 {
    result.map_or_else(|e| e.errcode, |ok| panic!("expected an error, got {ok:?}"))
}

#[test]
fn classic_token_rotates_with_a_five_minute_overlap() {
    let mut state = test_state(&SandboxConfig::default());
    let t0 = 1_700_000_000;
    let (first, ttl) = token_of(state.token("client_credential", OA, SECRET, t0));
    assert_eq!(ttl, 7200);
    assert_eq!(state.authenticate(Some(&first), t0 + 10).as_deref(), Ok(OA));
    let (second, _) = token_of(state.token("client_credential", OA, SECRET, t0 + 100));
    assert_ne!(first, second);
    // The previous token keeps working for 300 s after the refresh.
    assert!(state.authenticate(Some(&first), t0 + 399).is_ok());
    assert_eq!(errcode(state.authenticate(Some(&first), t0 + 400)), 40001);
    assert!(state.authenticate(Some(&second), t0 + 7299).is_ok());
    assert_eq!(errcode(state.authenticate(Some(&second), t0 + 7300)), 42001);
}

#[test]
fn token_errors() {
    let mut state = test_state(&SandboxConfig::default());
    let now = 1_700_000_000;
    assert_eq!(errcode(state.authenticate(None, now)), 41001);
    assert_eq!(errcode(state.authenticate(Some("  "), now)), 41001);
    assert_eq!(errcode(state.authenticate(Some("garbage"), now)), 40014);
    let minted_elsewhere = format!("SBX_{}", "a".repeat(132));
    assert_eq!(
        errcode(state.authenticate(Some(&minted_elsewhere), now)),
        40001
    );
    assert_eq!(
        errcode(state.token("authorization_code", OA, SECRET, now)),
        40002
    );
    assert_eq!(
        errcode(state.token("client_credential", "", SECRET, now)),
        41002
    );
    assert_eq!(
        errcode(state.token("client_credential", "wx0", SECRET, now)),
        40013
    );
    assert_eq!(
        errcode(state.token("client_credential", OA, "", now)),
        41004
    );
    assert_eq!(
        errcode(state.token("client_credential", OA, "wrong", now)),
        40125
    );
}

#[test]
fn daily_quota_resets_at_midnight_china_time() {
    let mut config = SandboxConfig::default();
    config.unconfirmed.token_daily_quota = Some(2);
    let mut state = test_state(&config);
    // 2023-11-14 23:59:00 +08:00.
    let before_midnight = 1_699_977_540;
    assert!(
        state
            .token("client_credential", OA, SECRET, before_midnight)
            .is_ok()
    );
    assert!(
        state
            .token("client_credential", OA, SECRET, before_midnight)
            .is_ok()
    );
    assert_eq!(
        errcode(state.token("client_credential", OA, SECRET, before_midnight)),
        45009
    );
    assert!(
        state
            .token("client_credential", OA, SECRET, before_midnight + 60)
            .is_ok()
    );
}

fn stable(force_refresh: bool) -> StableTokenBody {
    StableTokenBody {
        grant_type: "client_credential".to_owned(),
        appid: OA.to_owned(),
        secret: SECRET.to_owned(),
        force_refresh,
    }
}

#[test]
fn stable_token_keeps_its_value_until_its_last_minutes() {
    let mut state = test_state(&SandboxConfig::default());
    let t0 = 1_700_000_000;
    let (first, ttl) = token_of(state.stable_token(&stable(false), t0));
    assert_eq!(ttl, 7200);
    let (again, left) = token_of(state.stable_token(&stable(false), t0 + 1000));
    assert_eq!(again, first);
    assert_eq!(left, 6200);
    // In the last 300 s the next token is handed out; the old one runs out by itself.
    let (next, ttl) = token_of(state.stable_token(&stable(false), t0 + 7000));
    assert_ne!(next, first);
    assert_eq!(ttl, 7200);
    assert!(state.authenticate(Some(&first), t0 + 7199).is_ok());
    assert_eq!(errcode(state.authenticate(Some(&first), t0 + 7200)), 42001);
}

#[test]
fn forced_stable_refresh_and_classic_tokens_are_separate_series() {
    let mut state = test_state(&SandboxConfig::default());
    let t0 = 1_700_000_000;
    let (classic, _) = token_of(state.token("client_credential", OA, SECRET, t0));
    let (stable_first, _) = token_of(state.stable_token(&stable(false), t0));
    let (forced, _) = token_of(state.stable_token(&stable(true), t0 + 10));
    assert_ne!(forced, stable_first);
    assert!(state.authenticate(Some(&stable_first), t0 + 309).is_ok());
    assert_eq!(
        errcode(state.authenticate(Some(&stable_first), t0 + 310)),
        40001
    );
    // Neither series invalidated the other.
    assert!(state.authenticate(Some(&classic), t0 + 1000).is_ok());
}

#[test]
fn invalidation_refuses_every_token_at_once() {
    let mut state = test_state(&SandboxConfig::default());
    let t0 = 1_700_000_000;
    let (classic, _) = token_of(state.token("client_credential", OA, SECRET, t0));
    let (stable_token, _) = token_of(state.stable_token(&stable(false), t0));
    assert_eq!(state.invalidate_tokens(Some(OA), t0 + 1), 2);
    assert_eq!(errcode(state.authenticate(Some(&classic), t0 + 1)), 40001);
    assert_eq!(
        errcode(state.authenticate(Some(&stable_token), t0 + 1)),
        40001
    );
    // A normal stable fetch now hands out a new token.
    let (renewed, _) = token_of(state.stable_token(&stable(false), t0 + 2));
    assert_ne!(renewed, stable_token);
    assert!(state.authenticate(Some(&renewed), t0 + 2).is_ok());
}

#[test]
fn tickets() {
    let mut state = test_state(&SandboxConfig::default());
    let t0 = 1_700_000_000;
    assert_eq!(errcode(state.ticket(OA, None, t0)), 40097);
    assert_eq!(errcode(state.ticket(OA, Some("card"), t0)), 40097);
    let Ok(Answer::Ok(answer)) = state.ticket(OA, Some("wx_card"), t0) else {
        panic!("no ticket");
    };
    let ticket = answer["ticket"].as_str().unwrap_or_default().to_owned();
    assert_eq!(answer["expires_in"], 7200);
    assert_eq!(state.wx_card_ticket_owner(&ticket, t0 + 7199), Some(OA));
    assert_eq!(state.wx_card_ticket_owner(&ticket, t0 + 7200), None);
    let Ok(Answer::Ok(jsapi)) = state.ticket(OA, Some("jsapi"), t0) else {
        panic!("no ticket");
    };
    assert_eq!(
        state.wx_card_ticket_owner(jsapi["ticket"].as_str().unwrap_or_default(), t0),
        None
    );
}

#[test]
fn tickets_can_be_made_to_die_with_a_token_refresh() {
    let mut config = SandboxConfig::default();
    config.unconfirmed.ticket_survives_token_refresh = false;
    let mut state = test_state(&config);
    let t0 = 1_700_000_000;
    let Ok(Answer::Ok(answer)) = state.ticket(OA, Some("wx_card"), t0) else {
        panic!("no ticket");
    };
    let ticket = answer["ticket"].as_str().unwrap_or_default().to_owned();
    assert!(state.token("client_credential", OA, SECRET, t0 + 1).is_ok());
    assert_eq!(state.wx_card_ticket_owner(&ticket, t0 + 2), None);
}
