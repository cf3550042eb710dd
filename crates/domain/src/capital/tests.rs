use super::*;

/// `fen` renders as `words`, and `words` parses back to `fen`.
#[track_caller]
fn check(fen: i64, words: &str) {
    assert_eq!(amount_in_words(Fen::new(fen)), words, "render {fen}");
    assert_eq!(
        parse_amount_in_words(words),
        Ok(Fen::new(fen)),
        "parse {words}"
    );
}

/// `words` (a non-canonical variant) parses to `fen`.
#[track_caller]
fn check_parse(words: &str, fen: i64) {
    assert_eq!(
        parse_amount_in_words(words),
        Ok(Fen::new(fen)),
        "parse {words}"
    );
}

/// `words` is rejected with `message`.
#[track_caller]
fn check_error(words: &str, message: &str) {
    assert_eq!(
        parse_amount_in_words(words).map_err(|e| e.to_string()),
        Err(message.to_owned()),
        "parse {words}"
    );
}

#[test]
fn reference_vectors() {
    // §9.2, every row.
    check(0, "零圆整");
    check(1, "壹分");
    check(5, "伍分");
    check(50, "伍角整");
    check(55, "伍角伍分");
    check(100, "壹圆整");
    check(1000, "壹拾圆整");
    check(1500, "壹拾伍圆整");
    check(566, "伍圆陆角陆分");
    check(10600, "壹佰零陆圆整");
    check(11300, "壹佰壹拾叁圆整");
    check(12345, "壹佰贰拾叁圆肆角伍分");
    check(30000, "叁佰圆整");
    check(32504, "叁佰贰拾伍圆零肆分");
    check(100_100, "壹仟零壹圆整");
    check(101_000, "壹仟零壹拾圆整");
    check(140_950, "壹仟肆佰零玖圆伍角整");
    check(168_032, "壹仟陆佰捌拾圆叁角贰分");
    check(799_590, "柒仟玖佰玖拾伍圆玖角整");
    check(25640, "贰佰伍拾陆圆肆角整");
    check(18760, "壹佰捌拾柒圆陆角整");
    check(1_400_000, "壹万肆仟圆整");
    check(-1_400_000, "（负数）壹万肆仟圆整");
    check(10_700_053, "壹拾万柒仟圆伍角叁分");
    check(100_000_000, "壹佰万圆整");
    check(100_100_000, "壹佰万壹仟圆整");
    check(10_000_000_000, "壹亿圆整");
    check(10_000_000_100, "壹亿零壹圆整");
    check(10_001_000_000, "壹亿零壹万圆整");
    check(
        9_999_999_999_999,
        "玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖圆玖角玖分",
    );
}

#[test]
fn more_renderings() {
    check(61020, "陆佰壹拾圆贰角整");
    check(126_577, "壹仟贰佰陆拾伍圆柒角柒分");
    check(1_008_812, "壹万零捌拾捌圆壹角贰分");
    check(1_640_902, "壹万陆仟肆佰零玖圆零贰分");
    check(1_000_000, "壹万圆整");
    check(1_000_500, "壹万零伍圆整");
    check(1_050_000, "壹万零伍佰圆整");
    check(10_000_100_000, "壹亿零壹仟圆整");
    check(10_010_000_000, "壹亿零壹拾万圆整");
    check(11_000_000_000, "壹亿壹仟万圆整");
    check(100_000_000_000_000, "壹万亿圆整");
    check(100_000_000_000_001, "壹万亿圆零壹分");
    check(-5, "（负数）伍分");
    check(-1, "（负数）壹分");
    check(
        i64::MAX,
        "玖亿亿贰仟贰佰叁拾叁万亿柒仟贰佰零叁亿陆仟捌佰伍拾肆万柒仟柒佰伍拾捌圆零柒分",
    );
    check(
        i64::MIN,
        "（负数）玖亿亿贰仟贰佰叁拾叁万亿柒仟贰佰零叁亿陆仟捌佰伍拾肆万柒仟柒佰伍拾捌圆零捌分",
    );
}

#[test]
fn parser_variants() {
    // Rule 4: optional 零 when the 万 or 圆 digit is 0 and the next digit is not.
    check_parse("壹仟陆佰捌拾圆零叁角贰分", 168_032);
    check_parse("壹拾万零柒仟圆伍角叁分", 10_700_053);
    check_parse("壹拾万零柒仟元零伍角叁分", 10_700_053);
    check_parse("壹佰万零壹仟圆整", 100_100_000);
    // 元 / 圓 and 整 / 正.
    check_parse("壹万肆仟元整", 1_400_000);
    check_parse("壹万肆仟圓正", 1_400_000);
    check_parse("叁佰元整", 30000);
    check_parse("零元整", 0);
    // 整 after 角 is optional.
    check_parse("柒仟玖佰玖拾伍圆玖角", 799_590);
    check_parse("伍角", 50);
    check_parse("伍角正", 50);
    // Prefixes and surrounding spaces.
    check_parse("⊗壹仟贰佰陆拾伍圆柒角柒分", 126_577);
    check_parse("人民币壹佰圆整", 10000);
    check_parse("（负数）⊗壹万肆仟圆整", -1_400_000);
    check_parse("⊗（负数）人民币壹万肆仟元整", -1_400_000);
    check_parse("  壹圆整 ", 100);
    // A bare 拾 at the start.
    check_parse("拾伍圆整", 1500);
    check_parse("拾万圆整", 10_000_000);
}

#[test]
fn parser_errors() {
    check_error("", "amount in words: empty");
    check_error("⊗", "amount in words: empty");
    check_error(
        "壹佰圆",
        "amount in words: ends after character 3, expected 整 after 圆",
    );
    check_error(
        "壹佰陆圆整",
        "amount in words: character 3 is '陆', expected 零 before this digit (a zero digit is skipped)",
    );
    check_error(
        "壹仟零壹佰圆整",
        "amount in words: character 3 is '零', no digit is skipped here, so 零 must not be written",
    );
    check_error(
        "壹仟零零壹圆整",
        "amount in words: character 4 is '零', write one 零 for a run of zeros",
    );
    check_error(
        "壹万伍佰圆整",
        "amount in words: character 3 is '伍', expected 零 before this group (a zero digit or group is skipped)",
    );
    check_error(
        "壹亿壹圆整",
        "amount in words: character 3 is '壹', expected 零 before this group (a zero digit or group is skipped)",
    );
    check_error(
        "壹万零肆仟圆整",
        "amount in words: character 3 is '零', no digit is skipped here, so 零 must not be written",
    );
    check_error(
        "壹圆伍分",
        "amount in words: character 3 is '伍', expected 零 between 圆 and 分 when 角 is zero",
    );
    check_error(
        "壹圆零伍角",
        "amount in words: character 3 is '零', 零 before 角 is written only when the 圆 digit is 0",
    );
    check_error(
        "零圆伍角",
        "amount in words: character 3 is '伍', expected 整 after 零圆",
    );
    check_error(
        "零伍分",
        "amount in words: character 1 is '零', expected a digit 壹–玖",
    );
    check_error(
        "壹圆伍分整",
        "amount in words: character 5 is '整', nothing may follow 分 or 角整",
    );
    check_error(
        "壹圆零伍分整",
        "amount in words: character 6 is '整', nothing may follow 分 or 角整",
    );
    check_error(
        "壹拾拾圆整",
        "amount in words: character 3 is '拾', expected 万, 亿 or 圆 after a group of digits",
    );
    check_error(
        "壹佰壹仟圆整",
        "amount in words: character 4 is '仟', digit places must decrease (仟, 佰, 拾, units)",
    );
    check_error(
        "壹万壹亿圆整",
        "amount in words: character 4 is '亿', group units must decrease (亿亿, 万亿, 亿, 万)",
    );
    check_error(
        "零壹圆整",
        "amount in words: character 1 is '零', an amount cannot start with 零",
    );
    check_error(
        "圆整",
        "amount in words: character 1 is '圆', expected a digit before 圆",
    );
    check_error(
        "壹贰圆整",
        "amount in words: character 2 is '贰', expected 万, 亿 or 圆 after a group of digits",
    );
    check_error(
        "伍",
        "amount in words: ends after character 1, expected 角 or 分 after the digit",
    );
    check_error(
        "整",
        "amount in words: character 1 is '整', expected a digit 壹–玖",
    );
    check_error(
        "壹圆整 abc",
        "amount in words: character 4 is ' ', nothing may follow 整",
    );
    check_error(
        "（负数）（负数）壹圆整",
        "amount in words: character 5 is '（', expected a digit 壹–玖",
    );
    check_error(
        "玖佰玖拾玖亿亿圆整",
        "amount in words: the amount is out of range",
    );
}

#[test]
fn every_small_amount_round_trips() {
    let every = 0..20_000;
    let sampled = (20_000..100_000_000).step_by(997);
    let negative = (-3_000..0).map(|fen| fen * 997);
    for fen in every.chain(sampled).chain(negative) {
        let words = amount_in_words(Fen::new(fen));
        assert_eq!(
            parse_amount_in_words(&words),
            Ok(Fen::new(fen)),
            "{fen}: {words}"
        );
    }
    for yuan in [
        1_0000_0000u64,
        1_0000_1000,
        1_0001_0000,
        10_1000_0000,
        1000_0000_0001,
        1_0000_0000_0000,
        1_2345_0000_0000,
        1_0000_2345_0000,
        9999_9999_9999_9999,
        1_0000_0000_0000_0000,
    ] {
        for fen_part in [0, 1, 10, 99] {
            let fen = yuan
                .checked_mul(100)
                .and_then(|fen| fen.checked_add(fen_part))
                .and_then(|fen| i64::try_from(fen).ok());
            let Some(fen) = fen else { continue };
            let words = amount_in_words(Fen::new(fen));
            assert_eq!(
                parse_amount_in_words(&words),
                Ok(Fen::new(fen)),
                "{fen}: {words}"
            );
        }
    }
}
