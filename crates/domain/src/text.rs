//! What a name on a legal invoice may not hide: bidi controls that reorder what is shown, and
//! nothing visible at all (zero-width characters and spaces only).

/// Bidi controls: marks, embeddings, overrides and isolates.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Characters that show nothing: white space and the zero-width and format characters.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2060}'..='\u{2064}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
        )
}

/// Why a name is refused, for the caller to phrase with its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hidden {
    /// A bidi control at this 1-based position.
    Bidi {
        /// Position (1-based, in characters).
        position: usize,
        /// The control.
        found: char,
    },
    /// Nothing visible once invisible characters are removed.
    NothingVisible,
}

impl std::fmt::Display for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hidden::Bidi { position, found } => write!(
                f,
                "character {position} is U+{:04X}, a bidi control; bidi controls are not allowed",
                u32::from(*found)
            ),
            Hidden::NothingVisible => {
                f.write_str("must hold a visible character (only invisible characters given)")
            }
        }
    }
}

/// Checks that `text` holds no bidi control and something visible.
pub(crate) fn check_visible(text: &str) -> Result<(), Hidden> {
    if let Some((index, found)) = text.chars().enumerate().find(|(_, c)| is_bidi_control(*c)) {
        return Err(Hidden::Bidi {
            position: index + 1,
            found,
        });
    }
    if text.chars().all(is_invisible) {
        return Err(Hidden::NothingVisible);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
