//! Property tests of the unified social credit code: every body with its computed check
//! character parses, and every single substitution or adjacent swap is refused.

use proptest::prelude::*;

use super::Uscc;

const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const AUTHORITIES: &[u8] = b"123456789ANY";

/// The check character of GB 32100-2015, computed here on its own (weights 3^i mod 31).
fn check_character(body: &[u8]) -> u8 {
    let mut weight = 1_u32;
    let mut sum = 0_u32;
    for &c in body {
        let value = ALPHABET
            .iter()
            .position(|&a| a == c)
            .expect("in the alphabet") as u32;
        sum += value * weight;
        weight = weight * 3 % 31;
    }
    ALPHABET[((31 - sum % 31) % 31) as usize]
}

fn code() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(AUTHORITIES),
        prop::collection::vec(prop::sample::select(ALPHABET), 16),
    )
        .prop_map(|(first, rest)| {
            let mut code = vec![first];
            code.extend(rest);
            let check = check_character(&code);
            code.push(check);
            code
        })
}

fn text(code: &[u8]) -> String {
    String::from_utf8(code.to_vec()).expect("ASCII")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn a_code_with_its_check_character_parses(code in code()) {
        let parsed = Uscc::parse(&text(&code));
        prop_assert!(parsed.is_ok(), "{}: {:?}", text(&code), parsed);
        prop_assert_eq!(parsed.expect("checked").as_str().to_owned(), text(&code));
    }

    #[test]
    fn a_single_substitution_is_refused(
        code in code(),
        position in 0_usize..18,
        replacement in prop::sample::select(ALPHABET),
    ) {
        prop_assume!(code[position] != replacement);
        let mut changed = code.clone();
        changed[position] = replacement;
        prop_assert!(Uscc::parse(&text(&changed)).is_err(), "{} → {}", text(&code), text(&changed));
    }

    #[test]
    fn an_adjacent_swap_is_refused(code in code(), position in 0_usize..17) {
        prop_assume!(code[position] != code[position + 1]);
        let mut swapped = code.clone();
        swapped.swap(position, position + 1);
        prop_assert!(Uscc::parse(&text(&swapped)).is_err(), "{} → {}", text(&code), text(&swapped));
    }
}
