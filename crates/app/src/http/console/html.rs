//! HTML by hand: [`esc`] for every value that is not a literal of this crate, and the page
//! [`layout`] with the navigation bar built from [`super::NAV`].
//!
//! The console needs a dozen small pages; a template crate would add a proc-macro tree to a
//! service that otherwise renders no HTML. The rule that keeps this safe: text reaches markup
//! only through `esc` (attribute and element content alike, both quote kinds escaped).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::i18n::{Lang, Msg};
use super::session::SignedIn;
use super::{NAV, Nav};

/// The console's stylesheet, embedded in the binary.
pub const CSS: &str = include_str!("console.css");

/// `text` escaped for HTML element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `text` percent-encoded for a query string value (then escaped where it goes into markup).
pub fn url_value(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The hidden CSRF field every form of a signed-in page carries.
pub fn csrf_field(session: &SignedIn) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(session.csrf())
    )
}

/// A page of the console: the header (navigation, language switch, sign-out) around `body`.
/// `session` is `None` on the sign-in page (no navigation).
pub fn layout(
    lang: Lang,
    session: Option<&SignedIn>,
    active: Option<Nav>,
    title: &str,
    body: &str,
) -> String {
    let other = match lang {
        Lang::Zh => Lang::En,
        Lang::En => Lang::Zh,
    };
    let mut nav = String::new();
    if let Some(session) = session {
        for item in NAV {
            let class = if Some(item.nav) == active {
                r#" class="active""#
            } else {
                ""
            };
            nav.push_str(&format!(
                r#"<a href="{}"{class}>{}</a>"#,
                item.href,
                lang.t(item.label)
            ));
        }
        nav.push_str(&format!(
            r#"<span class="operator">{}{}</span><form method="post" action="/console/logout" class="signout">{}<button type="submit">{}</button></form>"#,
            lang.t(Msg::SignedInAs),
            esc(session.operator()),
            csrf_field(session),
            lang.t(Msg::SignOut)
        ));
    }
    format!(
        r#"<!doctype html>
<html lang="{html_lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {console}</title>
<link rel="stylesheet" href="/console/assets/console.css">
</head>
<body>
<header><span class="brand">{console}</span><nav>{nav}</nav><a class="lang" href="?lang={other_code}">{other_label}</a></header>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"#,
        html_lang = lang.html(),
        title = esc(title),
        console = lang.t(Msg::Console),
        other_code = other.code(),
        other_label = lang.t(Msg::Language),
    )
}

/// An HTML response: never cached, never framed by another site, no script at all.
pub fn respond(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'none'; object-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A table: the header cells, then rows of cells that are already markup.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><thead><tr>");
    for h in headers {
        out.push_str(&format!("<th>{}</th>", esc(h)));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            out.push_str(&format!("<td>{cell}</td>"));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A definition list of label → markup pairs.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let mut out = String::from(r#"<dl class="fields">"#);
    for (label, value) in pairs {
        out.push_str(&format!("<dt>{}</dt><dd>{value}</dd>", esc(label)));
    }
    out.push_str("</dl>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esc_escapes_markup_and_both_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(esc("购买方 Ltd."), "购买方 Ltd.");
        assert_eq!(url_value("a b&c=d/中"), "a+b%26c%3Dd%2F%E4%B8%AD");
    }
}
