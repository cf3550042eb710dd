use super::{Hidden, check_visible};

#[test]
fn names_must_show_what_they_say() {
    let check = |text: &str| check_visible(text).err();
    assert_eq!(check("咖啡"), None);
    assert_eq!(check("Coffee 咖啡"), None);
    assert_eq!(
        check("\u{200B}\u{200C}\u{FEFF}"),
        Some(Hidden::NothingVisible)
    );
    assert_eq!(check("\u{3000}\u{00A0}"), Some(Hidden::NothingVisible));
    assert_eq!(
        check("abc\u{202E}fed"),
        Some(Hidden::Bidi {
            position: 4,
            found: '\u{202E}'
        })
    );
    assert_eq!(
        check("\u{2067}x").map(|h| h.to_string()).as_deref(),
        Some("character 1 is U+2067, a bidi control; bidi controls are not allowed")
    );
}
