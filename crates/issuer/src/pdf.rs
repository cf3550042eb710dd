//! The PDF of a 数电 invoice face (电子发票（普通发票）), drawn with krilla at absolute positions on
//! A5 landscape pages with the vendored WenQuanYi Micro Hei font subset into each file.
//!
//! The renderer takes an [`InvoiceFace`]: the face's text, already formatted. Turning domain
//! invoices into faces lives in [`crate::face`], so this module knows layout and nothing of tax
//! rules.
//!
//! Many lines: up to [`ROWS_NORMAL`] rows fit one page at the normal size, up to
//! [`ROWS_COMPACT`] at a smaller size; beyond that the rows continue on further pages of
//! [`ROWS_COMPACT`] rows each, every page repeating the header, the parties, the totals and the
//! remark and saying `共N页 第M页`.
//! Cells whose text is too long shrink it, then wrap it, then cut it with `…`.

mod metrics;

use std::fmt;
use std::sync::Arc;

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Transform};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::surface::Surface;
use krilla::text::Font;
use krilla::{Document, SerializeSettings};
use qrcode::QrCode;

use crate::pdf::metrics::{FontMetrics, LINE_GAP};

/// WenQuanYi Micro Hei (Apache-2.0, see `fonts/LICENSE-wqy-microhei.txt`), face 0 of the TTC.
static FONT_DATA: &[u8] = include_bytes!("../fonts/wqy-microhei.ttc");
const FONT_INDEX: u32 = 0;

/// Rows that fit one page at the normal size.
pub const ROWS_NORMAL: usize = 11;
/// Rows per page at the compact size, used when there are more than [`ROWS_NORMAL`].
pub const ROWS_COMPACT: usize = 16;

/// The text of one invoice face, formatted for print.
///
/// A view model without invariants: [`crate::face`] builds it from domain invoices, tests and
/// tools may fill it by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceFace {
    /// `电子发票（普通发票）` or `电子发票（增值税专用发票）`.
    pub title: String,
    /// The 20-digit invoice number.
    pub number: String,
    /// The issue date as printed, `2026年03月17日`.
    pub issue_date: String,
    /// 购买方信息.
    pub buyer: FaceParty,
    /// 销售方信息.
    pub seller: FaceParty,
    /// The line table, in order.
    pub rows: Vec<FaceRow>,
    /// 合计 金额 with its sign, `¥100.00`.
    pub total_amount: String,
    /// 合计 税额, `¥13.00`, or `***` when every line is exempt or not taxable.
    pub total_tax: String,
    /// 价税合计 in capital numerals as printed: `壹佰壹拾叁圆整`, `（负数）壹佰壹拾叁圆整` on red
    /// invoices; the renderer draws `⊗` before it on blue invoices.
    pub total_in_words: String,
    /// 价税合计 in figures, `¥113.00` (`¥-113.00` on red invoices).
    pub total_in_figures: String,
    /// Whether this is a red (reversal) invoice.
    pub red: bool,
    /// 备注; `\n` breaks lines.
    pub remark: String,
    /// 开票人.
    pub drawer: String,
    /// The text encoded in the QR code.
    pub qr_payload: String,
    /// A mark drawn boxed in the header and diagonally across the page, e.g.
    /// `SANDBOX / 非正式发票`; `None` draws none.
    pub watermark: Option<String>,
}

/// One party block of the face.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaceParty {
    /// 名称.
    pub name: String,
    /// 统一社会信用代码/纳税人识别号; empty for buyers without one.
    pub tax_id: String,
}

/// One row of the line table, every cell formatted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaceRow {
    /// 项目名称, `*简称*名称`.
    pub name: String,
    /// 规格型号.
    pub spec: String,
    /// 单位.
    pub unit: String,
    /// 数量.
    pub quantity: String,
    /// 单价 (tax excluded).
    pub unit_price: String,
    /// 金额 (tax excluded).
    pub amount: String,
    /// 税率/征收率, `13%` or `免税`.
    pub rate: String,
    /// 税额, or `***` on exempt and not-taxable lines.
    pub tax: String,
}

/// Rendering a face failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The vendored font could not be read.
    #[error("the vendored font could not be read")]
    Font,
    /// The QR payload does not fit a QR code.
    #[error("qr code: {0}")]
    Qr(#[from] qrcode::types::QrError),
    /// krilla refused to write the document.
    #[error("pdf writer: {0}")]
    Write(String),
}

/// Renders [`InvoiceFace`]s to PDF bytes.
///
/// Build it once: it parses the font (a few milliseconds); cloning is cheap and renders are
/// independent, so one renderer serves every thread. The same face always gives the same bytes.
#[derive(Clone)]
pub struct InvoicePdfRenderer {
    font: Font,
    metrics: Arc<FontMetrics>,
}

impl fmt::Debug for InvoicePdfRenderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvoicePdfRenderer")
            .field("font", &"WenQuanYi Micro Hei")
            .finish_non_exhaustive()
    }
}

// Page geometry in points, origin top left (A5 landscape, 210 × 148 mm).
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 419.53;
const LEFT: f32 = 20.0;
const RIGHT: f32 = PAGE_W - 20.0;
const MID: f32 = PAGE_W / 2.0;
const LABEL_COL: f32 = 16.0;
const FRAME_TOP: f32 = 72.0;
const PARTY_BOTTOM: f32 = 118.0;
const HEAD_BOTTOM: f32 = 134.0;
const ROWS_BOTTOM: f32 = 318.0;
const TOTAL_BOTTOM: f32 = 334.0;
const WORDS_BOTTOM: f32 = 354.0;
const FRAME_BOTTOM: f32 = 398.0;
const FOOTER_BASELINE: f32 = 412.0;
const NAME_COL_RIGHT: f32 = 170.0;
const PAD: f32 = 3.0;

const BROWN: (u8, u8, u8) = (150, 80, 34);
const BLACK: (u8, u8, u8) = (0, 0, 0);
const RED: (u8, u8, u8) = (204, 28, 28);

#[derive(Clone, Copy)]
enum Align {
    Left,
    Center,
    Right,
}

/// The line table's columns: header, left and right edge, alignment of the data.
const COLUMNS: [(&str, f32, f32, Align); 8] = [
    ("项目名称", LEFT, NAME_COL_RIGHT, Align::Left),
    ("规格型号", 170.0, 236.0, Align::Left),
    ("单位", 236.0, 268.0, Align::Center),
    ("数量", 268.0, 330.0, Align::Right),
    ("单价", 330.0, 400.0, Align::Right),
    ("金额", 400.0, 470.0, Align::Right),
    ("税率/征收率", 470.0, 515.0, Align::Center),
    ("税额", 515.0, RIGHT, Align::Right),
];

impl InvoicePdfRenderer {
    /// Parses the vendored font.
    ///
    /// # Errors
    /// [`RenderError::Font`] if the embedded font bytes cannot be read (a build defect).
    pub fn new() -> Result<Self, RenderError> {
        let font = Font::new(FONT_DATA.into(), FONT_INDEX).ok_or(RenderError::Font)?;
        let metrics = FontMetrics::new(FONT_DATA, FONT_INDEX).ok_or(RenderError::Font)?;
        Ok(Self {
            font,
            metrics: Arc::new(metrics),
        })
    }

    /// Renders `face` to the bytes of a PDF file.
    ///
    /// # Errors
    /// [`RenderError::Qr`] when the QR payload is too long for a QR code, [`RenderError::Write`] when
    /// krilla cannot serialize the document.
    pub fn render(&self, face: &InvoiceFace) -> Result<Vec<u8>, RenderError> {
        let qr = QrCode::new(face.qr_payload.as_bytes())?;
        let (per_page, row_height, row_size) = if face.rows.len() <= ROWS_NORMAL {
            (
                ROWS_NORMAL,
                (ROWS_BOTTOM - HEAD_BOTTOM) / ROWS_NORMAL as f32,
                7.5,
            )
        } else {
            (
                ROWS_COMPACT,
                (ROWS_BOTTOM - HEAD_BOTTOM) / ROWS_COMPACT as f32,
                6.5,
            )
        };
        let chunks: Vec<&[FaceRow]> = if face.rows.is_empty() {
            vec![&[]]
        } else {
            face.rows.chunks(per_page).collect()
        };
        let settings = SerializeSettings {
            enable_tagging: false,
            ..SerializeSettings::default()
        };
        let mut document = Document::new_with(settings);
        document.set_metadata(
            Metadata::new()
                .title(format!("{} {}", face.title, face.number))
                .creator("fapiao".to_owned())
                .language("zh-CN".to_owned()),
        );
        let page_count = chunks.len();
        for (index, rows) in chunks.into_iter().enumerate() {
            let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
                .ok_or_else(|| RenderError::Write("invalid page size".to_owned()))?;
            let mut page = document.start_page_with(settings);
            let mut surface = page.surface();
            let mut painter = Painter {
                surface: &mut surface,
                font: &self.font,
                metrics: &self.metrics,
            };
            painter.page(
                face,
                &qr,
                rows,
                RowStyle {
                    height: row_height,
                    size: row_size,
                },
                (index + 1, page_count),
            );
            surface.finish();
            page.finish();
        }
        document
            .finish()
            .map_err(|err| RenderError::Write(format!("{err:?}")))
    }
}

#[derive(Clone, Copy)]
struct RowStyle {
    height: f32,
    size: f32,
}

struct Painter<'a, 'b> {
    surface: &'a mut Surface<'b>,
    font: &'a Font,
    metrics: &'a FontMetrics,
}

impl Painter<'_, '_> {
    fn page(
        &mut self,
        face: &InvoiceFace,
        qr: &QrCode,
        rows: &[FaceRow],
        style: RowStyle,
        (page, pages): (usize, usize),
    ) {
        self.header(face, qr, page, pages);
        self.frame();
        self.parties(face);
        self.table_head();
        let mut top = HEAD_BOTTOM;
        for row in rows {
            self.row(row, top, style);
            top += style.height;
        }
        self.totals(face);
        self.remark(face);
        self.text(LEFT + 24.0, FOOTER_BASELINE, 8.5, BROWN, "开票人：");
        let label = self.metrics.width("开票人：", 8.5);
        self.text(
            LEFT + 24.0 + label,
            FOOTER_BASELINE,
            8.5,
            BLACK,
            &face.drawer,
        );
        if let Some(mark) = &face.watermark {
            self.watermark(mark);
        }
    }

    fn header(&mut self, face: &InvoiceFace, qr: &QrCode, page: usize, pages: usize) {
        self.qr(qr, LEFT + 4.0, 10.0, 56.0);
        let title_size = 17.0;
        let title_width = self.metrics.width(&face.title, title_size);
        let title_left = (PAGE_W - title_width) / 2.0;
        self.text(title_left, 38.0, title_size, BROWN, &face.title);
        for y in [44.5, 47.0] {
            self.line(
                title_left - 4.0,
                y,
                title_left + title_width + 4.0,
                y,
                0.6,
                BROWN,
            );
        }
        let x = 410.0;
        let label_width = self.metrics.width("发票号码：", 8.5);
        self.text(x, 30.0, 8.5, BROWN, "发票号码：");
        self.text(x + label_width, 30.0, 8.5, BLACK, &face.number);
        self.text(x, 45.0, 8.5, BROWN, "开票日期：");
        self.text(x + label_width, 45.0, 8.5, BLACK, &face.issue_date);
        if pages > 1 {
            let text = format!("共{pages}页 第{page}页");
            self.text(x, 60.0, 7.5, BROWN, &text);
        }
    }

    fn frame(&mut self) {
        self.rect_stroke(LEFT, FRAME_TOP, RIGHT, FRAME_BOTTOM, 0.9, BROWN);
        self.line(LEFT, PARTY_BOTTOM, RIGHT, PARTY_BOTTOM, 0.6, BROWN);
        self.line(MID, FRAME_TOP, MID, PARTY_BOTTOM, 0.6, BROWN);
        for x in [LEFT + LABEL_COL, MID + LABEL_COL] {
            self.line(x, FRAME_TOP, x, PARTY_BOTTOM, 0.6, BROWN);
        }
        self.line(LEFT, TOTAL_BOTTOM, RIGHT, TOTAL_BOTTOM, 0.6, BROWN);
        self.line(LEFT, WORDS_BOTTOM, RIGHT, WORDS_BOTTOM, 0.6, BROWN);
        self.line(
            NAME_COL_RIGHT,
            TOTAL_BOTTOM,
            NAME_COL_RIGHT,
            WORDS_BOTTOM,
            0.6,
            BROWN,
        );
        self.line(
            LEFT + LABEL_COL,
            WORDS_BOTTOM,
            LEFT + LABEL_COL,
            FRAME_BOTTOM,
            0.6,
            BROWN,
        );
    }

    fn parties(&mut self, face: &InvoiceFace) {
        for (left, label, party) in [
            (LEFT, "购买方信息", &face.buyer),
            (MID, "销售方信息", &face.seller),
        ] {
            self.vertical_label(left, FRAME_TOP, PARTY_BOTTOM, label);
            let x = left + LABEL_COL + 5.0;
            let right = left + (MID - LEFT) - 5.0;
            let name_label = "名称：";
            let name_label_width = self.metrics.width(name_label, 8.0);
            self.text(x, 92.0, 8.0, BROWN, name_label);
            self.cell(
                &party.name,
                x + name_label_width,
                right,
                FRAME_TOP + 4.0,
                100.0,
                8.5,
                5.5,
                Align::Left,
                BLACK,
            );
            let id_label = "统一社会信用代码/纳税人识别号：";
            let id_label_width = self.metrics.width(id_label, 8.0);
            self.text(x, 111.0, 8.0, BROWN, id_label);
            self.cell(
                &party.tax_id,
                x + id_label_width,
                right,
                102.0,
                116.0,
                8.5,
                5.5,
                Align::Left,
                BLACK,
            );
        }
    }

    fn table_head(&mut self) {
        for (header, left, right, _) in COLUMNS {
            self.cell(
                header,
                left,
                right,
                PARTY_BOTTOM,
                HEAD_BOTTOM,
                8.0,
                6.0,
                Align::Center,
                BROWN,
            );
        }
    }

    fn row(&mut self, row: &FaceRow, top: f32, style: RowStyle) {
        let cells = [
            &row.name,
            &row.spec,
            &row.unit,
            &row.quantity,
            &row.unit_price,
            &row.amount,
            &row.rate,
            &row.tax,
        ];
        for ((_, left, right, align), text) in COLUMNS.into_iter().zip(cells) {
            self.cell(
                text,
                left,
                right,
                top,
                top + style.height,
                style.size,
                5.0,
                align,
                BLACK,
            );
        }
    }

    fn totals(&mut self, face: &InvoiceFace) {
        let top = ROWS_BOTTOM;
        let bottom = TOTAL_BOTTOM;
        self.cell(
            "合　　计",
            LEFT,
            NAME_COL_RIGHT,
            top,
            bottom,
            8.0,
            6.0,
            Align::Center,
            BROWN,
        );
        let (_, left, right, _) = COLUMNS[5];
        self.cell(
            &face.total_amount,
            left,
            right,
            top,
            bottom,
            8.0,
            5.0,
            Align::Right,
            BLACK,
        );
        let (_, left, right, _) = COLUMNS[7];
        self.cell(
            &face.total_tax,
            left,
            right,
            top,
            bottom,
            8.0,
            5.0,
            Align::Right,
            BLACK,
        );

        let top = TOTAL_BOTTOM;
        let bottom = WORDS_BOTTOM;
        self.cell(
            "价税合计（大写）",
            LEFT,
            NAME_COL_RIGHT,
            top,
            bottom,
            8.0,
            6.0,
            Align::Center,
            BROWN,
        );
        let words_left = NAME_COL_RIGHT + 8.0;
        let figures_label_x = 405.0;
        if face.red {
            self.cell(
                &face.total_in_words,
                words_left,
                figures_label_x - 6.0,
                top,
                bottom,
                9.5,
                6.0,
                Align::Left,
                BLACK,
            );
        } else {
            self.circled_x(words_left + 5.0, (top + bottom) / 2.0, 4.5);
            self.cell(
                &face.total_in_words,
                words_left + 13.0,
                figures_label_x - 6.0,
                top,
                bottom,
                9.5,
                6.0,
                Align::Left,
                BLACK,
            );
        }
        let label = "（小写）";
        let label_width = self.metrics.width(label, 8.0);
        let baseline = (top + bottom) / 2.0 + 3.0;
        self.text(figures_label_x, baseline, 8.0, BROWN, label);
        self.cell(
            &face.total_in_figures,
            figures_label_x + label_width,
            RIGHT - PAD,
            top,
            bottom,
            9.5,
            6.0,
            Align::Left,
            BLACK,
        );
    }

    fn remark(&mut self, face: &InvoiceFace) {
        self.vertical_label(LEFT, WORDS_BOTTOM, FRAME_BOTTOM, "备注");
        let left = LEFT + LABEL_COL + 5.0;
        let right = RIGHT - 5.0;
        let fitted = self.metrics.block(
            &face.remark,
            right - left,
            FRAME_BOTTOM - WORDS_BOTTOM - 6.0,
            8.0,
            5.5,
        );
        let line_height = fitted.size * LINE_GAP;
        for (index, line) in fitted.lines.iter().enumerate() {
            let baseline = WORDS_BOTTOM + 4.0 + line_height * (index as f32) + fitted.size;
            self.text(left, baseline, fitted.size, BLACK, line);
        }
    }

    fn watermark(&mut self, mark: &str) {
        // The boxed mark sits in the header beside the QR code; the diagonal one crosses the
        // page, faint enough to leave the face readable.
        let (left, top, right, bottom) = (90.0, 14.0, 200.0, 52.0);
        self.rect_stroke(left, top, right, bottom, 1.2, RED);
        let (first, second) = match mark.split_once('/') {
            Some((first, second)) => (first.trim(), second.trim()),
            None => (mark, ""),
        };
        self.cell(
            first,
            left,
            right,
            top + 2.0,
            top + 19.0,
            11.0,
            6.0,
            Align::Center,
            RED,
        );
        self.cell(
            second,
            left,
            right,
            top + 19.0,
            bottom - 2.0,
            10.0,
            6.0,
            Align::Center,
            RED,
        );

        let size = 46.0;
        let width = self.metrics.width(mark, size);
        let (cx, cy) = (PAGE_W / 2.0, (FRAME_TOP + FRAME_BOTTOM) / 2.0);
        self.surface
            .push_transform(&Transform::from_rotate_at(-16.0, cx, cy));
        self.surface.set_fill(Some(fill(RED, 0.16)));
        let glyphs = self.metrics.glyphs(mark);
        self.surface.draw_glyphs(
            Point::from_xy(cx - width / 2.0, cy + size * 0.35),
            &glyphs,
            self.font.clone(),
            mark,
            size,
            false,
        );
        self.surface.pop();
    }

    fn vertical_label(&mut self, left: f32, top: f32, bottom: f32, label: &str) {
        let count = label.chars().count().max(1) as f32;
        let step = (bottom - top) / count;
        let size = (step * 0.8).min(8.0);
        let mut buf = [0_u8; 4];
        for (index, c) in label.chars().enumerate() {
            let text = c.encode_utf8(&mut buf);
            let x = left + (LABEL_COL - self.metrics.width(text, size)) / 2.0;
            let baseline = top + step * (index as f32 + 0.5) + size * 0.36;
            self.text(x, baseline, size, BROWN, text);
        }
    }

    /// Draws `text` in the cell `left..right` × `top..bottom`, padded, vertically centred.
    #[allow(clippy::too_many_arguments)]
    fn cell(
        &mut self,
        text: &str,
        left: f32,
        right: f32,
        top: f32,
        bottom: f32,
        base_size: f32,
        min_size: f32,
        align: Align,
        color: (u8, u8, u8),
    ) {
        if text.is_empty() {
            return;
        }
        let width = right - left - 2.0 * PAD;
        let fitted = self
            .metrics
            .block(text, width, bottom - top - 1.0, base_size, min_size);
        let line_height = fitted.size * LINE_GAP;
        let block_top = top + (bottom - top - line_height * fitted.lines.len() as f32) / 2.0;
        for (index, line) in fitted.lines.iter().enumerate() {
            let line_width = self.metrics.width(line, fitted.size);
            let x = match align {
                Align::Left => left + PAD,
                Align::Center => (left + right - line_width) / 2.0,
                Align::Right => right - PAD - line_width,
            };
            let baseline = block_top + line_height * (index as f32 + 0.5) + fitted.size * 0.36;
            self.text(x, baseline, fitted.size, color, line);
        }
    }

    fn text(&mut self, x: f32, baseline: f32, size: f32, color: (u8, u8, u8), text: &str) {
        if text.is_empty() {
            return;
        }
        self.surface.set_fill(Some(fill(color, 1.0)));
        self.surface.set_stroke(None);
        let glyphs = self.metrics.glyphs(text);
        self.surface.draw_glyphs(
            Point::from_xy(x, baseline),
            &glyphs,
            self.font.clone(),
            text,
            size,
            false,
        );
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32, color: (u8, u8, u8)) {
        let mut builder = PathBuilder::new();
        builder.move_to(x1, y1);
        builder.line_to(x2, y2);
        self.stroke_path(builder, width, color);
    }

    fn rect_stroke(
        &mut self,
        left: f32,
        top: f32,
        right: f32,
        bottom: f32,
        width: f32,
        color: (u8, u8, u8),
    ) {
        let mut builder = PathBuilder::new();
        if let Some(rect) = Rect::from_ltrb(left, top, right, bottom) {
            builder.push_rect(rect);
        }
        self.stroke_path(builder, width, color);
    }

    fn stroke_path(&mut self, builder: PathBuilder, width: f32, color: (u8, u8, u8)) {
        if let Some(path) = builder.finish() {
            self.surface.set_fill(None);
            self.surface.set_stroke(Some(Stroke {
                paint: rgb(color).into(),
                width,
                ..Stroke::default()
            }));
            self.surface.draw_path(&path);
            self.surface.set_stroke(None);
        }
    }

    /// The `⊗` before the amount in words, drawn rather than typeset: it is decoration, not
    /// part of the amount's text.
    fn circled_x(&mut self, cx: f32, cy: f32, r: f32) {
        // Four cubic Bézier quarter circles; 0.5523 is the usual control-point factor.
        let k = 0.5523 * r;
        let mut builder = PathBuilder::new();
        builder.move_to(cx + r, cy);
        builder.cubic_to(cx + r, cy + k, cx + k, cy + r, cx, cy + r);
        builder.cubic_to(cx - k, cy + r, cx - r, cy + k, cx - r, cy);
        builder.cubic_to(cx - r, cy - k, cx - k, cy - r, cx, cy - r);
        builder.cubic_to(cx + k, cy - r, cx + r, cy - k, cx + r, cy);
        builder.close();
        let d = r * std::f32::consts::FRAC_1_SQRT_2;
        builder.move_to(cx - d, cy - d);
        builder.line_to(cx + d, cy + d);
        builder.move_to(cx + d, cy - d);
        builder.line_to(cx - d, cy + d);
        self.stroke_path(builder, 0.7, BLACK);
    }

    /// The QR code as filled rectangles, one per horizontal run of dark modules.
    fn qr(&mut self, qr: &QrCode, left: f32, top: f32, size: f32) {
        let width = qr.width();
        if width == 0 {
            return;
        }
        let module = size / width as f32;
        let colors = qr.to_colors();
        let mut builder = PathBuilder::new();
        for (y, row) in colors.chunks(width).enumerate() {
            let mut x = 0;
            while x < width {
                if row[x] == qrcode::Color::Dark {
                    let start = x;
                    while x < width && row[x] == qrcode::Color::Dark {
                        x += 1;
                    }
                    if let Some(rect) = Rect::from_xywh(
                        left + start as f32 * module,
                        top + y as f32 * module,
                        (x - start) as f32 * module,
                        module,
                    ) {
                        builder.push_rect(rect);
                    }
                } else {
                    x += 1;
                }
            }
        }
        if let Some(path) = builder.finish() {
            self.surface.set_stroke(None);
            self.surface.set_fill(Some(fill(BLACK, 1.0)));
            self.surface.draw_path(&path);
        }
    }
}

fn rgb((r, g, b): (u8, u8, u8)) -> rgb::Color {
    rgb::Color::new(r, g, b)
}

fn fill(color: (u8, u8, u8), opacity: f32) -> Fill {
    Fill {
        paint: rgb(color).into(),
        opacity: NormalizedF32::new(opacity).unwrap_or(NormalizedF32::ONE),
        rule: FillRule::NonZero,
    }
}

#[cfg(test)]
mod tests;
