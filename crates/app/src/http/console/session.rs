//! Sign-in with the merchant API key, server-side sessions (the SHA-256 of a random token in
//! the database, the token only in an `HttpOnly; SameSite=Strict; Secure` cookie), idle and
//! absolute expiry, sign-out, and the CSRF check of every POST: the session's token in the
//! form's `csrf` field and, when the browser sends one, an `Origin`/`Referer` of this site.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use fapiao_domain::Secret;
use fapiao_domain::ports::ConsoleSession;
use sha2::{Digest, Sha256};

use super::html::{self, esc};
use super::i18n::{Lang, Msg};
use super::{ConsoleSettings, page_error};
use crate::error::AppError;
use crate::http::AppState;
use crate::http::access::constant_time_eq;

/// The session cookie.
pub const SESSION_COOKIE: &str = "fapiao_console";
/// The largest form body a console POST takes.
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// Who signs in with the merchant API key.
const API_KEY_OPERATOR: &str = "api_key";
/// A session's last-seen time is written at most this often (idle expiry is in minutes).
const TOUCH_EVERY_MILLIS: i64 = 30_000;

/// An operator account: a name and the argon2 hash (PHC form) of its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The name typed at sign-in.
    pub name: String,
    /// The password's argon2 hash in PHC form.
    pub password_hash: Secret,
}

/// What a sign-in with an unknown operator name is checked against, so it takes as long as one
/// with a known name (the password of this hash is not used anywhere).
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$ZmFwaWFvLWR1bW15$6mXmVv0J0U0lYvC4N+7z0x3Q0pXJZ0m6n2y1Jb0Yq8Q";

impl Operator {
    /// Whether `phc` is an argon2 hash in PHC form.
    ///
    /// # Errors
    /// The rule it breaks.
    pub fn check_hash(phc: &str) -> Result<(), String> {
        let parsed =
            argon2::PasswordHash::new(phc).map_err(|e| format!("not a PHC hash string ({e})"))?;
        match parsed.algorithm.as_str() {
            "argon2id" | "argon2i" | "argon2d" => Ok(()),
            other => Err(format!("an argon2 hash, not {other}")),
        }
    }

    /// Whether `password` is this operator's, checked off the async threads (argon2 is slow
    /// on purpose).
    async fn verify(phc: String, password: String) -> bool {
        tokio::task::spawn_blocking(move || {
            use argon2::PasswordVerifier;
            argon2::PasswordHash::new(&phc).is_ok_and(|hash| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false)
    }
}

/// The signed-in operator of a request, put in its extensions by [`require_session`].
#[derive(Clone)]
pub struct SignedIn {
    token_hash: String,
    csrf: Secret,
    operator: String,
}

impl SignedIn {
    /// The CSRF token of the session, for the hidden field of forms.
    pub fn csrf(&self) -> &str {
        self.csrf.expose()
    }

    /// Who signed in.
    pub fn operator(&self) -> &str {
        &self.operator
    }
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("operator", &self.operator)
            .finish_non_exhaustive()
    }
}

/// The value of cookie `name` in `headers`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// The stored form of a session token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 32 random bytes from the operating system, as 64 hex characters.
fn random_token() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| AppError::Unavailable(format!("no randomness for a session token: {e}")))?;
    Ok(hex::encode(bytes))
}

/// Whether `token` looks like one this service hands out (64 lowercase hex characters).
fn well_formed(token: &str) -> bool {
    token.len() == 64
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A `Set-Cookie` value for the console's path.
pub fn set_cookie(settings: &ConsoleSettings, name: &str, value: &str, max_age: i64) -> String {
    let secure = if settings.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn to_login(settings: &ConsoleSettings, clear: bool) -> Response {
    let response = Redirect::to("/console/login").into_response();
    if clear {
        with_cookie(response, &set_cookie(settings, SESSION_COOKIE, "", 0))
    } else {
        response
    }
}

/// The authority (`host[:port]`) of an absolute URL.
fn authority(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// Whether the request comes from a page of this site, as far as the browser says: an `Origin`
/// (or, without one, a `Referer`) naming another site is refused; none at all is allowed (the
/// CSRF token is the check that always applies).
pub fn same_origin(headers: &HeaderMap, public_base_url: &str) -> bool {
    let claimed = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .map(|v| v.to_str().unwrap_or("null"));
    let Some(claimed) = claimed else {
        return true;
    };
    let Some(claimed) = authority(claimed) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    host.is_some_and(|h| h.eq_ignore_ascii_case(claimed))
        || authority(public_base_url).is_some_and(|a| a.eq_ignore_ascii_case(claimed))
}

fn refused(lang: Lang) -> Response {
    page_error(lang, StatusCode::FORBIDDEN, lang.t(Msg::CsrfRefused))
}

/// Lets a request through only with a live session; a POST also needs the session's CSRF token
/// in its form and no foreign `Origin`/`Referer`. Without a session: 303 to the sign-in page.
pub async fn require_session(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(settings) = state.console().cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let token = cookie(request.headers(), SESSION_COOKIE)
        .filter(|t| well_formed(t))
        .map(token_hash);
    let Some(hash) = token else {
        return to_login(&settings, false);
    };
    let (mut parts, body) = request.into_parts();
    let lang = Lang::of(&parts);
    let sessions = &state.ports().console_sessions;
    let now = state.ports().clock.now();
    let session = match sessions.get(&hash).await {
        Ok(Some(session)) => session,
        Ok(None) => return to_login(&settings, true),
        Err(e) => return page_error(lang, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let idle_for = now.millis().saturating_sub(session.last_seen_at.millis());
    if now >= session.expires_at || idle_for > settings.idle_millis() {
        if let Err(e) = sessions.delete(&hash).await {
            tracing::warn!(error = %e, "deleting an expired console session");
        }
        return to_login(&settings, true);
    }
    let body = if parts.method == Method::POST {
        let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
            return refused(lang);
        };
        let presented = form_urlencoded::parse(&bytes)
            .find(|(key, _)| key == "csrf")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        let expected = session.csrf_token.expose().as_bytes();
        if expected.is_empty()
            || !constant_time_eq(expected, presented.as_bytes())
            || !same_origin(&parts.headers, state.public_base_url())
        {
            tracing::warn!(path = %parts.uri.path(), "console POST refused: CSRF");
            return refused(lang);
        }
        Body::from(bytes)
    } else {
        body
    };
    if idle_for >= TOUCH_EVERY_MILLIS
        && let Err(e) = sessions.touch(&hash, now).await
    {
        tracing::warn!(error = %e, "recording console session activity");
    }
    parts.extensions.insert(SignedIn {
        token_hash: hash,
        csrf: session.csrf_token,
        operator: session.operator,
    });
    next.run(Request::from_parts(parts, body)).await
}

fn login_page(lang: Lang, operators: bool, status: StatusCode, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!(r#"<p class="error">{}</p>"#, esc(e)))
        .unwrap_or_default();
    let body = format!(
        r#"<div class="login">{error}<p class="muted">{hint}</p>
<form method="post" action="/console/login" class="stack">{operator}
<label>{key}<input type="password" name="api_key" autocomplete="current-password" required autofocus></label>
<button type="submit" id="sign-in">{sign_in}</button>
</form></div>"#,
        hint = lang.t(if operators {
            Msg::SignInOperatorHint
        } else {
            Msg::SignInHint
        }),
        operator = if operators {
            format!(
                r#"<label>{}<input type="text" name="operator" autocomplete="username"></label>"#,
                lang.t(Msg::OperatorName)
            )
        } else {
            String::new()
        },
        key = lang.t(if operators {
            Msg::PasswordOrKey
        } else {
            Msg::ApiKey
        }),
        sign_in = lang.t(Msg::SignIn),
    );
    html::respond(
        status,
        html::layout(lang, None, None, lang.t(Msg::SignIn), &body),
    )
}

/// `GET /console/login`.
pub async fn login_form(State(state): State<AppState>, lang: Lang) -> Response {
    let operators = state.console().is_some_and(|c| !c.operators.is_empty());
    login_page(lang, operators, StatusCode::OK, None)
}

/// `POST /console/login`: an operator's name and password (argon2), or without a name the
/// API key (compared in constant time); a session on success.
pub async fn login(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(settings) = state.console().cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !same_origin(&headers, state.public_base_url()) {
        return refused(lang);
    }
    let field = |name: &str| {
        form_urlencoded::parse(&body)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    let (name, presented) = (field("operator"), field("api_key"));
    let name = name.trim();
    let operator = if name.is_empty() {
        let expected = state.api_key().expose().as_bytes();
        (!expected.is_empty() && constant_time_eq(expected, presented.as_bytes()))
            .then(|| API_KEY_OPERATOR.to_owned())
    } else {
        let account = settings.operators.iter().find(|o| o.name == name);
        let phc = account.map_or(DUMMY_HASH, |o| o.password_hash.expose());
        let verified = Operator::verify(phc.to_owned(), presented).await;
        account.filter(|_| verified).map(|o| o.name.clone())
    };
    let Some(operator) = operator else {
        tracing::warn!("console sign-in refused: wrong name, password or API key");
        // A guess costs a second.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        return login_page(
            lang,
            !settings.operators.is_empty(),
            StatusCode::UNAUTHORIZED,
            Some(lang.t(Msg::SignInFailed)),
        );
    };
    match start_session(&state, &settings, &operator).await {
        Ok(token) => {
            tracing::info!(operator = %operator, "console sign-in");
            let max_age = i64::from(settings.session_minutes) * 60;
            with_cookie(
                Redirect::to("/console").into_response(),
                &set_cookie(&settings, SESSION_COOKIE, &token, max_age),
            )
        }
        Err(e) => page_error(lang, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// Stores a new session and answers its token (for the cookie only).
async fn start_session(
    state: &AppState,
    settings: &ConsoleSettings,
    operator: &str,
) -> Result<String, AppError> {
    let ports = state.ports();
    let now = ports.clock.now();
    // Sessions that ran out go whenever someone signs in.
    if let Err(e) = ports
        .console_sessions
        .purge(now, now.plus_millis(-settings.idle_millis()))
        .await
    {
        tracing::warn!(error = %e, "purging expired console sessions");
    }
    let token = random_token()?;
    let session = ConsoleSession {
        token_hash: token_hash(&token),
        csrf_token: Secret::new(random_token()?),
        operator: operator.to_owned(),
        created_at: now,
        last_seen_at: now,
        expires_at: now.plus_millis(i64::from(settings.session_minutes) * 60_000),
    };
    ports.console_sessions.create(&session).await?;
    Ok(token)
}

/// `POST /console/logout` (behind [`require_session`], so CSRF-checked): deletes the session.
pub async fn logout(
    State(state): State<AppState>,
    axum::Extension(session): axum::Extension<SignedIn>,
) -> Response {
    let Some(settings) = state.console().cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Err(e) = state
        .ports()
        .console_sessions
        .delete(&session.token_hash)
        .await
    {
        tracing::warn!(error = %e, "deleting a console session at sign-out");
    }
    to_login(&settings, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_tokens() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; fapiao_console=abc ; fapiao_console_lang=en"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "fapiao_console_lang"), Some("en"));
        assert_eq!(cookie(&headers, "missing"), None);
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let token = random_token().expect("randomness");
        assert!(well_formed(&token), "{token}");
        assert_ne!(token, random_token().expect("randomness"));
        assert!(!well_formed("ABC"));
    }

    #[test]
    fn argon2_hashes_are_checked_and_verified() {
        use argon2::PasswordHasher;
        assert_eq!(Operator::check_hash(DUMMY_HASH), Ok(()));
        assert!(Operator::check_hash("plain-text-password").is_err());
        assert!(
            Operator::check_hash("$pbkdf2-sha256$i=1000$c2FsdHNhbHQ$c2FsdHNhbHRzYWx0c2FsdA")
                .is_err()
        );
        let salt =
            argon2::password_hash::SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").expect("salt");
        let phc = argon2::Argon2::default()
            .hash_password(b"correct horse", &salt)
            .expect("hash")
            .to_string();
        assert_eq!(Operator::check_hash(&phc), Ok(()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        assert!(runtime.block_on(Operator::verify(phc.clone(), "correct horse".into())));
        assert!(!runtime.block_on(Operator::verify(phc, "wrong horse".into())));
    }

    #[test]
    fn origin_must_be_this_site_when_given() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&headers, "https://fapiao.example"));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&headers, "https://fapiao.example"));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://fapiao.example"),
        );
        assert!(same_origin(&headers, "https://fapiao.example"));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&headers, "https://fapiao.example"));
        headers.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&headers, "https://fapiao.example"));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_when_set() {
        let settings = ConsoleSettings {
            session_minutes: 480,
            idle_minutes: 60,
            secure_cookie: true,
            operators: Vec::new(),
        };
        assert_eq!(
            set_cookie(&settings, SESSION_COOKIE, "t", 60),
            "fapiao_console=t; Path=/console; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
    }
}
