use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;

#[test]
fn s_pappid_is_stable_and_shaped_like_weixin() {
    let first = s_pappid(7, "wx5cd85275b847e3b6");
    assert_eq!(first, s_pappid(7, "wx5cd85275b847e3b6"));
    assert_ne!(first, s_pappid(8, "wx5cd85275b847e3b6"));
    assert_ne!(first, s_pappid(7, "wx5cd85275b847e3b7"));
    // 18-character appid + "_" + 32 bytes = 51 bytes = 68 base64 characters.
    assert_eq!(first.len(), 68);
    let decoded = URL_SAFE_NO_PAD.decode(&first).unwrap_or_default();
    assert_eq!(decoded.len(), 51);
    assert!(decoded.starts_with(b"wx5cd85275b847e3b6_"));
}

#[test]
fn minted_ids_have_weixin_shapes() {
    let mut minter = Minter::new(1, 1_780_000_000_000);
    let card_id = minter.card_id();
    assert_eq!(card_id.len(), 28);
    assert!(card_id.starts_with('p'));
    let media = minter.media_id();
    assert_eq!(media.len(), 17);
    assert!(media.parse::<u64>().is_ok());
    let code = minter.card_code();
    assert_eq!(code, "17800000000000000001");
    assert_eq!(minter.card_code(), "17800000000000000002");
    assert!(fapiao_domain::CardCode::parse(&code).is_ok());
    assert!(minter.access_token().starts_with("SBX_"));
    assert_eq!(minter.transaction_id().len(), 28);
    assert!(fapiao_domain::OpenId::parse(&openid(1, "wx1", "buyer")).is_ok());
    assert!(fapiao_domain::CardId::parse(&card_id).is_ok());
    assert!(fapiao_domain::MediaId::parse(&media).is_ok());
}

#[test]
fn same_seed_same_ids() {
    let mut a = Minter::new(42, 7);
    let mut b = Minter::new(42, 7);
    for _ in 0..5 {
        assert_eq!(a.card_id(), b.card_id());
        assert_eq!(a.access_token(), b.access_token());
        assert_eq!(a.card_code(), b.card_code());
    }
    assert_ne!(Minter::new(43, 7).card_id(), Minter::new(42, 7).card_id());
}

#[test]
fn runs_of_other_epochs_mint_other_ids() {
    let mut first = Minter::new(42, next_epoch());
    let mut second = Minter::new(42, next_epoch());
    assert_ne!(first.card_id(), second.card_id());
    assert_ne!(first.media_id(), second.media_id());
    let codes: std::collections::BTreeSet<String> = (0..1_000)
        .flat_map(|_| [first.card_code(), second.card_code()])
        .collect();
    assert_eq!(codes.len(), 2_000);
}

#[test]
fn epochs_rise_within_a_process() {
    let epochs: Vec<u64> = (0..100).map(|_| next_epoch()).collect();
    assert!(epochs.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(epochs[0] > 1_700_000_000_000, "Unix milliseconds");
}
