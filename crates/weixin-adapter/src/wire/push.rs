//! Pushed XML: the encrypted envelope and the messages inside it.
//!
//! The parser is deliberately small. Weixin's pushes are one root element with flat children
//! holding text or CDATA, so it accepts exactly that (nested children of unknown messages are
//! skipped) and refuses anything that could make a parser do more work than the bytes it was
//! given: a document type, an entity declaration, a reference to an entity that is not one of
//! XML's five predefined ones, or deep nesting.

use quick_xml::Reader;
use quick_xml::events::{BytesRef, Event};

mod flat;

pub(crate) use flat::{FlatFields, find_either};

/// The query parameters Weixin puts on a push to the callback URL (and on the URL check).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushQuery {
    /// `signature` (plain-mode signature over token, timestamp, nonce).
    pub signature: Option<String>,
    /// `timestamp`.
    pub timestamp: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `echostr` (URL verification only).
    pub echostr: Option<String>,
    /// `encrypt_type` (`aes` in compatible and safe modes).
    pub encrypt_type: Option<String>,
    /// `msg_signature` (over token, timestamp, nonce and the ciphertext).
    pub msg_signature: Option<String>,
    /// `openid` of the sender.
    pub openid: Option<String>,
}

impl PushQuery {
    /// The parameters of a whole URL (those after its first `?`, up to any `#`).
    pub fn from_url(url: &str) -> PushQuery {
        let query = url.split_once('?').map_or("", |(_, query)| query);
        PushQuery::parse(query.split('#').next().unwrap_or(query))
    }

    /// Parses a raw query string (what follows the `?`) as a browser form encodes it: `+` is a
    /// space, `%XX` a byte; a malformed escape is kept as it is. Unknown parameters are
    /// ignored; a repeated one keeps its last value.
    pub fn parse(raw: &str) -> PushQuery {
        let mut query = PushQuery::default();
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            let slot = match name.as_ref() {
                "signature" => &mut query.signature,
                "timestamp" => &mut query.timestamp,
                "nonce" => &mut query.nonce,
                "echostr" => &mut query.echostr,
                "encrypt_type" => &mut query.encrypt_type,
                "msg_signature" => &mut query.msg_signature,
                "openid" => &mut query.openid,
                _ => continue,
            };
            *slot = Some(value.into_owned());
        }
        query
    }

    /// The query string of these parameters (no leading `?`), each value percent-encoded;
    /// [`PushQuery::parse`] reads it back unchanged.
    pub fn to_query_string(&self) -> String {
        let pairs = [
            ("signature", &self.signature),
            ("timestamp", &self.timestamp),
            ("nonce", &self.nonce),
            ("echostr", &self.echostr),
            ("openid", &self.openid),
            ("encrypt_type", &self.encrypt_type),
            ("msg_signature", &self.msg_signature),
        ];
        pairs
            .iter()
            .filter_map(|(name, value)| {
                value
                    .as_deref()
                    .map(|v| format!("{name}={}", form_encode(v)))
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Nesting allowed below the root; Weixin's deepest pushes (menu events) use two levels.
pub const MAX_DEPTH: usize = 8;

/// Why pushed XML was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// The bytes are not UTF-8.
    #[error("xml is not utf-8")]
    Utf8,
    /// A `<!DOCTYPE …>` is present; DTDs are never processed.
    #[error("xml declares a document type, which is refused")]
    Doctype,
    /// An `<!ENTITY …>` declaration is present.
    #[error("xml declares an entity, which is refused")]
    EntityDeclaration,
    /// A reference to an entity other than `lt`, `gt`, `amp`, `apos`, `quot` or a character.
    #[error("xml references entity `{0}`, which is not predefined")]
    UndefinedEntity(String),
    /// Elements nest deeper than [`MAX_DEPTH`].
    #[error("xml nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// No root element.
    #[error("xml has no root element")]
    NoRoot,
    /// A child of the root appears twice, which would make its value ambiguous.
    #[error("xml element <{0}> appears twice")]
    DuplicateField(String),
    /// Not well-formed.
    #[error("xml is malformed: {0}")]
    Malformed(String),
    /// A field every push carries is absent or empty.
    #[error("xml field <{0}> is missing")]
    MissingField(&'static str),
    /// A field does not have its documented form.
    #[error("xml field <{field}> is invalid: {reason}")]
    InvalidField {
        /// Element name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The children of the root element, in document order, with their text (CDATA and
/// predefined entities resolved; nested elements skipped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XmlFields {
    fields: Vec<(String, String)>,
}

impl XmlFields {
    /// The text of the child named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The text of the child named `name`, when present and not blank.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// All children.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Parses pushed XML.
    ///
    /// # Errors
    /// [`XmlError`] for anything but a well-formed document of the accepted shape; never
    /// panics, whatever the bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, XmlError> {
        let text = std::str::from_utf8(bytes).map_err(|_| XmlError::Utf8)?;
        Self::parse_text(text)
    }

    /// [`XmlFields::parse`] of text already known to be UTF-8.
    pub(crate) fn parse_text(text: &str) -> Result<Self, XmlError> {
        match FlatFields::scan(text) {
            Some(flat) => Ok(Self {
                fields: flat
                    .iter()
                    .map(|(name, value)| (name.to_owned(), value.to_owned()))
                    .collect(),
            }),
            None => Self::parse_full(text),
        }
    }

    /// The parser behind [`XmlFields::parse`] for every document, including those the
    /// allocation-free [`FlatFields::scan`] leaves to it; the only one that reports errors.
    pub(crate) fn parse_full(text: &str) -> Result<Self, XmlError> {
        refuse_declarations(text)?;
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = true;
        config.allow_unmatched_ends = false;

        let mut fields: Vec<(String, String)> = Vec::new();
        // Depth 0 = outside the root, 1 = inside the root, 2 = inside a field.
        let mut depth = 0_usize;
        let mut seen_root = false;
        let mut current: Option<(String, String)> = None;
        loop {
            let event = reader
                .read_event()
                .map_err(|e| XmlError::Malformed(e.to_string()))?;
            match event {
                Event::Start(start) => {
                    if depth == 0 {
                        if seen_root {
                            return Err(XmlError::Malformed("more than one root element".into()));
                        }
                        seen_root = true;
                    } else if depth == 1 {
                        let name = start.name().as_ref().to_owned();
                        current = Some((name, String::new()));
                    }
                    depth += 1;
                    if depth > MAX_DEPTH + 1 {
                        return Err(XmlError::TooDeep);
                    }
                }
                Event::Empty(start) => {
                    if depth == 0 {
                        if seen_root {
                            return Err(XmlError::Malformed("more than one root element".into()));
                        }
                        seen_root = true;
                    } else if depth == 1 {
                        let name = start.name().as_ref().to_owned();
                        push_field(&mut fields, name, String::new())?;
                    }
                }
                Event::End(_) => {
                    depth = depth.saturating_sub(1);
                    if depth == 1
                        && let Some((name, value)) = current.take()
                    {
                        push_field(&mut fields, name, value)?;
                    }
                }
                Event::Text(t) => {
                    let content = t.xml10_content();
                    if depth == 2 {
                        if let Some((_, value)) = current.as_mut() {
                            value.push_str(&content);
                        }
                    } else if depth == 0 && !content.trim().is_empty() {
                        return Err(XmlError::Malformed("text outside the root element".into()));
                    }
                }
                Event::CData(c) => {
                    if depth == 2 {
                        if let Some((_, value)) = current.as_mut() {
                            value.push_str(&c.xml10_content());
                        }
                    } else if depth == 0 {
                        return Err(XmlError::Malformed("cdata outside the root element".into()));
                    }
                }
                Event::GeneralRef(r) => {
                    let resolved = resolve_reference(&r)?;
                    if depth == 2
                        && let Some((_, value)) = current.as_mut()
                    {
                        value.push(resolved);
                    }
                }
                Event::DocType(d) => {
                    return Err(if d.xml10_content().contains("ENTITY") {
                        XmlError::EntityDeclaration
                    } else {
                        XmlError::Doctype
                    });
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
                Event::Eof => break,
            }
        }
        if !seen_root {
            return Err(XmlError::NoRoot);
        }
        if depth != 0 {
            return Err(XmlError::Malformed("unclosed element".into()));
        }
        Ok(Self { fields })
    }
}

/// Looks up the children of a parsed root element by name.
pub(crate) trait FieldLookup {
    /// The text of the child named `name`.
    fn field(&self, name: &str) -> Option<&str>;

    /// The text of the child named `name`, when present and not blank.
    fn non_empty_field(&self, name: &str) -> Option<&str> {
        self.field(name).map(str::trim).filter(|v| !v.is_empty())
    }
}

impl FieldLookup for XmlFields {
    fn field(&self, name: &str) -> Option<&str> {
        self.get(name)
    }
}

/// Pushed XML read by [`FlatFields::scan`] when it can, else by the full parser.
#[derive(Debug, Clone)]
pub(crate) enum PushFields<'a> {
    /// The common shape, borrowed.
    Flat(FlatFields<'a>),
    /// Anything else.
    Parsed(XmlFields),
}

impl<'a> PushFields<'a> {
    /// Parses `text` as [`XmlFields::parse`] does.
    ///
    /// # Errors
    /// [`XmlError`], as [`XmlFields::parse`].
    pub(crate) fn parse(text: &'a str) -> Result<Self, XmlError> {
        match FlatFields::scan(text) {
            Some(flat) => Ok(Self::Flat(flat)),
            None => XmlFields::parse_full(text).map(Self::Parsed),
        }
    }
}

impl FieldLookup for PushFields<'_> {
    fn field(&self, name: &str) -> Option<&str> {
        match self {
            Self::Flat(flat) => flat.field(name),
            Self::Parsed(fields) => fields.get(name),
        }
    }
}

fn push_field(
    fields: &mut Vec<(String, String)>,
    name: String,
    value: String,
) -> Result<(), XmlError> {
    if fields.iter().any(|(key, _)| *key == name) {
        return Err(XmlError::DuplicateField(name));
    }
    fields.push((name, value));
    Ok(())
}

fn resolve_reference(reference: &BytesRef<'_>) -> Result<char, XmlError> {
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            _ => Err(XmlError::Malformed(format!(
                "invalid character reference &{};",
                &**reference
            ))),
        };
    }
    match &**reference {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(XmlError::UndefinedEntity(other.chars().take(64).collect())),
    }
}

/// Refuses `<!DOCTYPE` and `<!ENTITY` anywhere outside CDATA sections, before any parsing.
fn refuse_declarations(text: &str) -> Result<(), XmlError> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| b == b'<') {
        let at = i + offset;
        let rest = &bytes[at..];
        if rest.starts_with(b"<![CDATA[") {
            match find(&rest[9..], b"]]>") {
                Some(end) => {
                    i = at + 9 + end + 3;
                    continue;
                }
                // Unterminated: the parser reports it.
                None => return Ok(()),
            }
        }
        if starts_with_ignore_case(rest, b"<!ENTITY") {
            return Err(XmlError::EntityDeclaration);
        }
        if starts_with_ignore_case(rest, b"<!DOCTYPE") {
            return Err(if find(rest, b"<!ENTITY").is_some() {
                XmlError::EntityDeclaration
            } else {
                XmlError::Doctype
            });
        }
        i = at + 1;
    }
    Ok(())
}

fn starts_with_ignore_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The outer envelope of an encrypted push: `<xml><ToUserName/><Encrypt/></xml>` (compatible
/// mode adds the plaintext fields beside `Encrypt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEnvelope {
    /// The Official Account's original id, when present.
    pub to_user_name: Option<String>,
    /// Base64 ciphertext, when present.
    pub encrypt: Option<String>,
}

impl PushEnvelope {
    /// Reads the envelope fields.
    pub fn from_fields(fields: &XmlFields) -> Self {
        Self {
            to_user_name: fields.non_empty("ToUserName").map(str::to_owned),
            encrypt: fields.non_empty("Encrypt").map(str::to_owned),
        }
    }
}

/// Fields every pushed message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushHeader {
    /// `ToUserName`: the Official Account's original id (`gh_…`).
    pub to_user_name: String,
    /// `FromUserName`: the sender's openid.
    pub from_user_name: String,
    /// `CreateTime`: Unix seconds.
    pub create_time: i64,
    /// `MsgType`, e.g. `event`.
    pub msg_type: String,
}

impl PushHeader {
    fn from_fields(fields: &XmlFields) -> Result<Self, XmlError> {
        let header = HeaderFields::read(fields)?;
        Ok(Self {
            to_user_name: header.to_user_name.to_owned(),
            from_user_name: header.from_user_name.to_owned(),
            create_time: header.create_time,
            msg_type: header.msg_type.to_owned(),
        })
    }
}

/// [`PushHeader`] borrowed from the fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderFields<'a> {
    /// `ToUserName`, empty when absent.
    pub(crate) to_user_name: &'a str,
    /// `FromUserName`.
    pub(crate) from_user_name: &'a str,
    /// `CreateTime`.
    pub(crate) create_time: i64,
    /// `MsgType`, empty when absent.
    pub(crate) msg_type: &'a str,
}

impl<'a> HeaderFields<'a> {
    /// Reads the common fields.
    ///
    /// # Errors
    /// [`XmlError::MissingField`]/[`XmlError::InvalidField`] when `FromUserName` or
    /// `CreateTime` is absent or malformed.
    pub(crate) fn read(fields: &'a impl FieldLookup) -> Result<Self, XmlError> {
        let from_user_name = fields
            .non_empty_field("FromUserName")
            .ok_or(XmlError::MissingField("FromUserName"))?;
        let create_time = fields
            .non_empty_field("CreateTime")
            .ok_or(XmlError::MissingField("CreateTime"))?;
        let create_time = create_time
            .parse::<i64>()
            .map_err(|_| XmlError::InvalidField {
                field: "CreateTime",
                reason: "not an integer".to_owned(),
            })?;
        Ok(Self {
            to_user_name: fields.non_empty_field("ToUserName").unwrap_or_default(),
            from_user_name,
            create_time,
            msg_type: fields.non_empty_field("MsgType").unwrap_or_default(),
        })
    }
}

/// `user_authorize_invoice` (reference §4.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAuthorizeInvoiceEvent {
    /// Common fields.
    pub header: PushHeader,
    /// `SuccOrderId`, when the buyer authorized.
    pub succ_order_id: Option<String>,
    /// `FailOrderId`, when the authorization failed.
    pub fail_order_id: Option<String>,
    /// `AuthorizeAppId` or, in the documentation's own sample and wechatpy, `AppId`.
    pub authorize_appid: Option<String>,
    /// `Source`: `web`, `app`, `wxa` or `wap`.
    pub source: Option<String>,
    /// `SPAppId`: undocumented, seen in production pushes.
    pub s_pappid: Option<String>,
}

/// `update_invoice_status` (reference §4.16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateInvoiceStatusEvent {
    /// Common fields.
    pub header: PushHeader,
    /// `Status`: a reimburse status.
    pub status: String,
    /// `CardId`.
    pub card_id: String,
    /// `Code`.
    pub code: String,
}

/// Any other message or event, kept so it is acknowledged and visible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEvent {
    /// Common fields.
    pub header: PushHeader,
    /// `Event`, when `MsgType` is `event`.
    pub event: Option<String>,
    /// Every child of the root.
    pub fields: XmlFields,
}

/// A parsed push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    /// `user_authorize_invoice`.
    UserAuthorizeInvoice(UserAuthorizeInvoiceEvent),
    /// `update_invoice_status`.
    UpdateInvoiceStatus(UpdateInvoiceStatusEvent),
    /// Anything else.
    Unknown(UnknownEvent),
}

impl PushEvent {
    /// Reads a message from its fields.
    ///
    /// # Errors
    /// [`XmlError::MissingField`]/[`XmlError::InvalidField`] when `FromUserName` or
    /// `CreateTime` is absent or malformed, or when a known event lacks its own fields.
    pub fn from_fields(fields: XmlFields) -> Result<Self, XmlError> {
        let header = PushHeader::from_fields(&fields)?;
        let event = fields.non_empty("Event").map(str::to_owned);
        let owned = |name: &str| fields.non_empty(name).map(str::to_owned);
        match (header.msg_type.as_str(), event.as_deref()) {
            ("event", Some("user_authorize_invoice")) => {
                Ok(PushEvent::UserAuthorizeInvoice(UserAuthorizeInvoiceEvent {
                    succ_order_id: owned("SuccOrderId"),
                    fail_order_id: owned("FailOrderId"),
                    authorize_appid: owned("AuthorizeAppId").or_else(|| owned("AppId")),
                    source: owned("Source"),
                    s_pappid: owned("SPAppId"),
                    header,
                }))
            }
            ("event", Some("update_invoice_status")) => {
                let required = |name: &'static str| owned(name).ok_or(XmlError::MissingField(name));
                Ok(PushEvent::UpdateInvoiceStatus(UpdateInvoiceStatusEvent {
                    status: required("Status")?,
                    card_id: required("CardId")?,
                    code: required("Code")?,
                    header,
                }))
            }
            _ => Ok(PushEvent::Unknown(UnknownEvent {
                header,
                event,
                fields,
            })),
        }
    }

    /// Parses a plaintext push.
    ///
    /// # Errors
    /// [`XmlError`]; never panics.
    pub fn parse(bytes: &[u8]) -> Result<Self, XmlError> {
        Self::from_fields(XmlFields::parse(bytes)?)
    }

    /// The common fields.
    pub fn header(&self) -> &PushHeader {
        match self {
            PushEvent::UserAuthorizeInvoice(e) => &e.header,
            PushEvent::UpdateInvoiceStatus(e) => &e.header,
            PushEvent::Unknown(e) => &e.header,
        }
    }

    /// Weixin's documented retry key: `FromUserName` + `CreateTime`.
    pub fn dedupe_key(&self) -> String {
        let header = self.header();
        format!("{}:{}", header.from_user_name, header.create_time)
    }
}
