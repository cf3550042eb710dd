//! [`FlatFields`]: the allocation-free scan of the shape every Weixin push has.

use super::FieldLookup;

/// At most this many children are read by [`FlatFields::scan`]; a document with more goes to
/// the full parser (Weixin's pushes have about a dozen).
const FLAT_CAPACITY: usize = 24;

/// The children of a root element borrowed from the document, read without allocating.
///
/// [`FlatFields::scan`] reads only the shape every Weixin push has: a root element holding flat
/// children, each empty or holding plain text or one CDATA section. For such a document it
/// yields exactly what [`XmlFields::parse`](super::XmlFields::parse) does; anything else (a declaration, a comment, an
/// attribute, a reference, nesting, a carriage return, a duplicate, any error) is left to the
/// full parser, which then gives the same answer and the same errors as ever.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlatFields<'a> {
    len: usize,
    fields: [(&'a str, &'a str); FLAT_CAPACITY],
}

impl<'a> FlatFields<'a> {
    /// The children of `text`, or `None` when `text` is not of the simple shape.
    pub(crate) fn scan(text: &'a str) -> Option<Self> {
        let mut flat = Self {
            len: 0,
            fields: [("", ""); FLAT_CAPACITY],
        };
        let bytes = text.as_bytes();
        let mut at = skip_whitespace(bytes, 0);
        let (root, after, empty) = open_tag(text, at)?;
        if empty {
            // `<xml/>`: rare, and the full parser reads it.
            return None;
        }
        at = after;
        loop {
            // Text between children is ignored, as the full parser does, unless it holds a
            // reference (which the full parser resolves or refuses).
            let tag = at + find_byte(&bytes[at..], b'<')?;
            if !plain_text(&bytes[at..tag]) {
                return None;
            }
            if bytes.get(tag + 1) == Some(&b'/') {
                at = close_tag(text, tag, root)?;
                break;
            }
            let (name, after, empty) = open_tag(text, tag)?;
            let (value, after) = if empty {
                ("", after)
            } else {
                let (value, end) = field_value(text, after)?;
                (value, close_tag(text, end, name)?)
            };
            flat.push(name, value)?;
            at = after;
        }
        if skip_whitespace(bytes, at) != bytes.len() {
            return None;
        }
        Some(flat)
    }

    fn push(&mut self, name: &'a str, value: &'a str) -> Option<()> {
        if self.iter().any(|(key, _)| key == name) {
            return None;
        }
        *self.fields.get_mut(self.len)? = (name, value);
        self.len += 1;
        Some(())
    }

    /// The children in document order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.fields.iter().take(self.len).copied()
    }
}

impl FieldLookup for FlatFields<'_> {
    fn field(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }
}

fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while bytes
        .get(at)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        at += 1;
    }
    at
}

fn find_byte(haystack: &[u8], needle: u8) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Text the full parser would take verbatim: no reference to resolve, no line end to
/// normalize, and no `>` (kept out so nothing odd reaches the fast path).
fn plain_text(bytes: &[u8]) -> bool {
    !bytes.iter().any(|b| matches!(b, b'&' | b'\r' | b'>'))
}

/// `<name>` or `<name/>` at `at`: the name, the index after the tag and whether it is empty.
/// Names are restricted to ASCII letters, digits, `_`, `-`, `.` and `:`, starting with a
/// letter or `_`.
fn open_tag(text: &str, at: usize) -> Option<(&str, usize, bool)> {
    let bytes = text.as_bytes();
    if bytes.get(at) != Some(&b'<') {
        return None;
    }
    let start = at + 1;
    if !bytes
        .get(start)
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return None;
    }
    let mut end = start + 1;
    while bytes
        .get(end)
        .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
    {
        end += 1;
    }
    let name = text.get(start..end)?;
    match bytes.get(end..end + 2)? {
        [b'>', _] => Some((name, end + 1, false)),
        b"/>" => Some((name, end + 2, true)),
        _ => None,
    }
}

/// `</name>` at `at`: the index after it.
fn close_tag(text: &str, at: usize, name: &str) -> Option<usize> {
    let rest = text.as_bytes().get(at..)?;
    let rest = rest.strip_prefix(b"</")?;
    let rest = rest.strip_prefix(name.as_bytes())?;
    rest.first().filter(|&&b| b == b'>')?;
    Some(at + 2 + name.len() + 1)
}

/// The content of a field starting at `at`: empty, plain text, or one CDATA section; the
/// value and the index of the closing tag.
fn field_value(text: &str, at: usize) -> Option<(&str, usize)> {
    const CDATA_OPEN: &[u8] = b"<![CDATA[";
    let bytes = text.as_bytes();
    let rest = bytes.get(at..)?;
    if rest.starts_with(CDATA_OPEN) {
        let start = at + CDATA_OPEN.len();
        let end = start + find_cdata_end(bytes.get(start..)?)?;
        return Some((text.get(start..end)?, end + 3));
    }
    let end = at + find_byte(rest, b'<')?;
    if !plain_text(&bytes[at..end]) {
        return None;
    }
    Some((text.get(at..end)?, end))
}

/// The index of the first `]]>` in `bytes`, or `None` when there is none or a carriage return
/// (which the full parser normalizes) comes before it.
fn find_cdata_end(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = from + find_either(bytes.get(from..)?, b']', b'\r')?;
        if bytes[at] == b'\r' {
            return None;
        }
        if bytes.get(at + 1..at + 3)? == b"]>" {
            return Some(at);
        }
        from = at + 1;
    }
}

/// The index of the first `a` or `b` in `haystack`. CDATA sections hold the whole ciphertext,
/// so this is the scan's longest loop (and query strings are a few hundred bytes): it tests
/// 32 bytes at a time without an early exit, which the compiler turns into vector compares
/// when it sees the two bytes as constants (so inlined at each call).
#[inline(always)]
pub(crate) fn find_either(haystack: &[u8], a: u8, b: u8) -> Option<usize> {
    const CHUNK: usize = 32;
    let is_either = |byte: &u8| *byte == a || *byte == b;
    let mut chunks = haystack.chunks_exact(CHUNK);
    let mut offset = 0;
    for chunk in &mut chunks {
        if chunk
            .iter()
            .fold(false, |found, byte| found | (*byte == a) | (*byte == b))
        {
            return chunk.iter().position(is_either).map(|i| offset + i);
        }
        offset += CHUNK;
    }
    chunks
        .remainder()
        .iter()
        .position(is_either)
        .map(|i| offset + i)
}
