//! Print-ready QR codes of an order's short URL.

use std::io::Cursor;

use qrcode::QrCode;
use qrcode::render::svg;

/// The QR code as SVG (vector, for print).
///
/// # Errors
/// A message when the URL does not fit in a QR code.
pub fn svg(url: &str) -> Result<String, String> {
    let code = QrCode::new(url.as_bytes()).map_err(|e| format!("cannot encode {url:?}: {e}"))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

/// The QR code as PNG.
///
/// # Errors
/// A message when the URL does not fit in a QR code or the PNG cannot be encoded.
pub fn png(url: &str) -> Result<Vec<u8>, String> {
    let code = QrCode::new(url.as_bytes()).map_err(|e| format!("cannot encode {url:?}: {e}"))?;
    let image = code
        .render::<image::Luma<u8>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .map_err(|e| format!("cannot encode PNG: {e}"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_png_and_svg() {
        let url = "http://127.0.0.1:8080/q/QR00000000000001";
        let bytes = png(url).unwrap_or_default();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        let svg = svg(url).unwrap_or_default();
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
        assert!(png(&"x".repeat(5000)).is_err());
    }
}
