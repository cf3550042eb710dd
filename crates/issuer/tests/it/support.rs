//! Helpers shared by the tests.

/// The text layer of every page of a PDF, as a reader extracts it (through the fonts'
/// ToUnicode maps), with whitespace removed so that runs split across lines still match.
pub fn pdf_text(bytes: &[u8]) -> String {
    let document = lopdf::Document::load_mem(bytes).unwrap();
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    let text = document.extract_text(&pages).unwrap();
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

pub fn page_count(bytes: &[u8]) -> usize {
    lopdf::Document::load_mem(bytes).unwrap().get_pages().len()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
