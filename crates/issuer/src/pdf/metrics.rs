//! Glyphs and advance widths of the vendored font.
//!
//! The face is Han characters, digits and Latin letters in one font, which need no shaping
//! beyond mapping characters to glyphs, so the renderer maps and measures here and hands krilla
//! positioned glyphs: the widths used for alignment are then exactly the ones drawn, and no
//! shaping engine re-parses the 5 MB font for every text run.

use krilla::text::KrillaGlyph;
use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{GlyphId, MetadataProvider};

/// Character map and advance widths of the vendored font.
pub(crate) struct FontMetrics {
    charmap: Charmap<'static>,
    glyphs: GlyphMetrics<'static>,
    units_per_em: f32,
}

impl FontMetrics {
    /// Reads the metrics of face `index` of `data`; `None` when the font cannot be read.
    pub(crate) fn new(data: &'static [u8], index: u32) -> Option<Self> {
        let font = skrifa::FontRef::from_index(data, index).ok()?;
        let glyphs = font.glyph_metrics(Size::unscaled(), LocationRef::default());
        let units_per_em = f32::from(
            font.metrics(Size::unscaled(), LocationRef::default())
                .units_per_em,
        );
        if units_per_em <= 0.0 {
            return None;
        }
        Some(Self {
            charmap: font.charmap(),
            glyphs,
            units_per_em,
        })
    }

    fn glyph(&self, c: char) -> (GlyphId, f32) {
        let glyph = self.charmap.map(c).unwrap_or(GlyphId::NOTDEF);
        let advance = self.glyphs.advance_width(glyph).unwrap_or(0.0) / self.units_per_em;
        (glyph, advance)
    }

    /// The advance of one character at `size` points.
    pub(crate) fn char_width(&self, c: char, size: f32) -> f32 {
        self.glyph(c).1 * size
    }

    /// `text` as glyphs for krilla, one per character, each mapped back to its character so
    /// that the PDF's text layer (ToUnicode) reads as `text`.
    pub(crate) fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        text.char_indices()
            .map(|(start, c)| {
                let (glyph, advance) = self.glyph(c);
                KrillaGlyph::new(
                    krilla::text::GlyphId::new(glyph.to_u32()),
                    advance,
                    0.0,
                    0.0,
                    0.0,
                    start..start + c.len_utf8(),
                    None,
                )
            })
            .collect()
    }

    /// The advance of `text` at `size` points, without kerning (the font's CJK and digits have
    /// none that matters at invoice sizes).
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.char_width(c, size)).sum()
    }

    /// Lays `text` out in a box `width` × `height` points: at `base_size` if it fits, else at
    /// sizes stepped down by half a point to `min_size`, breaking lines at characters (and at
    /// `\n`); at `min_size` the lines that fit are kept and the last one ends in `…`.
    pub(crate) fn block(
        &self,
        text: &str,
        width: f32,
        height: f32,
        base_size: f32,
        min_size: f32,
    ) -> Fitted {
        let mut size = base_size.max(min_size);
        loop {
            let lines = self.wrap(text, width, size);
            let fits = lines.len() as f32 * size * LINE_GAP <= height || lines.len() <= 1;
            let one_line_too_wide = lines.len() == 1 && self.width(&lines[0], size) > width;
            if fits && !one_line_too_wide {
                return Fitted { size, lines };
            }
            if size <= min_size {
                return self.truncate(lines, width, height, size);
            }
            size = (size - 0.5).max(min_size);
        }
    }

    fn wrap(&self, text: &str, width: f32, size: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            let mut used = 0.0;
            for c in paragraph.chars() {
                let advance = self.char_width(c, size);
                if used + advance > width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    used = 0.0;
                }
                line.push(c);
                used += advance;
            }
            lines.push(line);
        }
        lines
    }

    fn truncate(&self, mut lines: Vec<String>, width: f32, height: f32, size: f32) -> Fitted {
        // Truncation keeps at least one line; `height / line height` is small and positive.
        let max_lines = ((height / (size * LINE_GAP)).floor() as usize).max(1);
        let cut = lines.len() > max_lines;
        lines.truncate(max_lines);
        let overflows = lines
            .last()
            .is_some_and(|last| self.width(last, size) > width);
        if (cut || overflows)
            && let Some(last) = lines.pop()
        {
            lines.push(self.with_ellipsis(&last, width, size));
        }
        Fitted { size, lines }
    }

    fn with_ellipsis(&self, line: &str, width: f32, size: f32) -> String {
        let ellipsis = self.char_width('…', size);
        let mut out = String::new();
        let mut used = 0.0;
        for c in line.chars() {
            let advance = self.char_width(c, size);
            if used + advance + ellipsis > width {
                break;
            }
            out.push(c);
            used += advance;
        }
        out.push('…');
        out
    }
}

/// Line height as a multiple of the font size.
pub(crate) const LINE_GAP: f32 = 1.2;

/// Text laid out for a box: its size and its lines.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fitted {
    pub(crate) size: f32,
    pub(crate) lines: Vec<String>,
}
