use super::*;

// Reference §8.3 (wechatpy vectors, WeChat Work flavour).
const TOKEN: &str = "123456";
const ENCODING_AES_KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
const APPID: &str = "wx49f0ab532d5d035a";

const V1_ENCRYPT: &str =
    "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==";

const V2_PLAIN: &str = "<xml>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[test]]></Content>
<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>
<ToUserName><![CDATA[messense]]></ToUserName>
<AgentID>1</AgentID>
<CreateTime>1411525903</CreateTime>
</xml>";
const V2_ENCRYPT: &str = "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3";

const V3_ENCRYPT: &str = "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=";
const V3_PLAIN: &str = "<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>
<FromUserName><![CDATA[messense]]></FromUserName>
<CreateTime>1411525903</CreateTime>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[test]]></Content>
<MsgId>4363689963896700987</MsgId>
<AgentID>1</AgentID>
</xml>";

// Reference §8.4 (self-generated invoice-event vector).
const INV_TOKEN: &str = "invoicetoken";
const INV_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const INV_APPID: &str = "wxb11529c136998cb6";
pub(crate) const INV_PLAIN: &str = "<xml><ToUserName><![CDATA[gh_fc0a06a20993]]></ToUserName><FromUserName><![CDATA[oZI8Fj040-be6rlDohc6gkoPOQTQ]]></FromUserName><CreateTime>1475134700</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[user_authorize_invoice]]></Event><SuccOrderId><![CDATA[1202933957956]]></SuccOrderId><FailOrderId><![CDATA[]]></FailOrderId><AuthorizeAppId><![CDATA[wxb11529c136998cb6]]></AuthorizeAppId><Source><![CDATA[web]]></Source></xml>";
pub(crate) const INV_ENCRYPT: &str = "jn1L23DB+6ELqJ+6bruv2wD7PggfNmqpGkEERwEFG6I4U/lGQ/tHfxernsePCRDzrsiuJivOP17MH2QSPxsigZsnK27YomKQVB0zD4EL+8ZCbvfo4GpDjGlDN4PS+Go7U14NrBjGEJGJhNHMmj/57syw53mBY0aOTfpFMqBgYpCj0UCYzeUfioCtt4J4oeasSkHrGiuXi5dgZiNOzI8oXa8lkJkX/7wYekaF1AmSEq8+rRk22LN1A4PDa/Xcl3lD9n/yZ/f1EaeRiZ4Z1vABq/A/wsKJ80lKhcHGLnDeDh9YtHubnPie9pWA0a75GNna5WzHf6pt/nq7k5S1Mm+kJs78EbqTOvWawBd8BIvLgAkTZVSPebIVZTB0r2LwJ6eOKnQIdzlZM2H62i0KGt/sSFQ6HHazX7r4Xsax4jiPKQb7Lv2zHdnhZj6Xs7kxHa8/Ve7UuSwu9cwSSOAy5tPN7pHcQURKIomg8+LpPLFUUJlwxNCpVYio+OEUQAGXRPhxGCi/zDZcIEJ4LLIaDuaXrGT0gzpjwbZ3tnMTXZWbO8SSfLInlICb2/qdes55ZQYQjJX8SKF6fIT7+u+o8J92wCIVcZ8eOzAyXWZODB//QbvzAJdITDZ0a8MEKk4bykZP";

fn key() -> AesKey {
    AesKey::from_encoding_aes_key(ENCODING_AES_KEY).expect("reference key parses")
}

fn inv_key() -> AesKey {
    AesKey::from_encoding_aes_key(INV_KEY).expect("reference key parses")
}

fn raw_plain(key: &AesKey, encrypt: &str) -> Vec<u8> {
    let mut buf = STANDARD.decode(encrypt).expect("base64");
    let decryptor =
        cbc::Decryptor::<Aes256>::new_from_slices(key.bytes(), key.iv()).expect("sizes");
    decryptor
        .decrypt_padded::<NoPadding>(&mut buf)
        .expect("whole blocks")
        .to_vec()
}

#[test]
fn plain_mode_signatures_of_reference_8_1() {
    let verify = url_signature("AAAAA", "1714036504", "1514711492");
    assert_eq!(verify, "f464b24fc39322e44b38aa78f5edd27bd1441696");
    let push = url_signature("AAAAA", "1714037059", "486452656");
    assert_eq!(push, "899cf89e464efb63f54ddac96b0a0a235f53aa78");
}

#[test]
fn v1_signature_and_decrypt() {
    let sig = msg_signature(TOKEN, "1411443780", "437374425", V1_ENCRYPT);
    assert_eq!(sig, "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96");
    assert!(signature_matches(
        &sig,
        "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
    ));
    assert!(signature_matches(
        &sig,
        "DD6B9C95B495B3F7E2901BFBC76C664930FFDB96"
    ));
    // One digit of the nonce changed: the signature no longer verifies.
    let forged = msg_signature(TOKEN, "1411443780", "437374424", V1_ENCRYPT);
    assert!(!signature_matches(&forged, &sig));

    let decrypted = decrypt(&key(), V1_ENCRYPT).expect("v1 decrypts");
    assert_eq!(decrypted.message, "5927782489442352469");
    assert_eq!(decrypted.appid, APPID);
    let plain = raw_plain(&key(), V1_ENCRYPT);
    assert_eq!(&plain[..16], b"2304fc2fe146f1f8");
    assert_eq!(plain.last(), Some(&7));
    assert_eq!(
        KeyRing::new(key())
            .decrypt_for(V1_ENCRYPT, APPID)
            .as_deref(),
        Ok("5927782489442352469")
    );
}

#[test]
fn v2_encrypt_with_fixed_random() {
    let encrypt = encrypt(&key(), b"1234567890123456", V2_PLAIN.as_bytes(), APPID);
    assert_eq!(encrypt, V2_ENCRYPT);
    let sig = msg_signature(TOKEN, "1411525903", "461056294", &encrypt);
    assert_eq!(sig, "407518b7649e86ef23978113f92d27afa9296533");
    // And back.
    let decrypted = decrypt(&key(), V2_ENCRYPT).expect("v2 decrypts");
    assert_eq!(decrypted.message, V2_PLAIN);
    assert_eq!(decrypted.appid, APPID);

    let reply = EncryptedReply::seal(
        TOKEN,
        &key(),
        APPID,
        V2_PLAIN,
        1_411_525_903,
        "461056294",
        b"1234567890123456",
    );
    assert_eq!(reply.encrypt, V2_ENCRYPT);
    assert_eq!(
        reply.msg_signature,
        "407518b7649e86ef23978113f92d27afa9296533"
    );
    assert_eq!(
        reply.to_xml(),
        format!(
            "<xml><Encrypt><![CDATA[{V2_ENCRYPT}]]></Encrypt><MsgSignature><![CDATA[407518b7649e86ef23978113f92d27afa9296533]]></MsgSignature><TimeStamp>1411525903</TimeStamp><Nonce><![CDATA[461056294]]></Nonce></xml>"
        )
    );
}

#[test]
fn v3_signature_and_decrypt() {
    let sig = msg_signature(TOKEN, "1411525903", "461056294", V3_ENCRYPT);
    assert_eq!(sig, "74d92dfeb87ba7c714f89d98870ae5eb62dff26d");
    let decrypted = decrypt(&key(), V3_ENCRYPT).expect("v3 decrypts");
    assert_eq!(decrypted.message, V3_PLAIN);
    assert_eq!(decrypted.appid, APPID);
    let plain = raw_plain(&key(), V3_ENCRYPT);
    assert_eq!(&plain[..16], b"ec90b1530358d4d3");
    assert_eq!(plain.last(), Some(&1));
    // The other direction: the recovered random prefix re-encrypts to the same bytes.
    let random: [u8; 16] = plain[..16].try_into().expect("16 bytes");
    assert_eq!(
        encrypt(&key(), &random, V3_PLAIN.as_bytes(), APPID),
        V3_ENCRYPT
    );
}

#[test]
fn invoice_event_vector_of_reference_8_4_both_directions() {
    let key = inv_key();
    assert_eq!(
        hex::encode(key.bytes()),
        "69b71d79f8218a39259a7a29aabb2dbafc31cb3d35db7e39ebbf3d0010831051"
    );
    assert_eq!(INV_PLAIN.len(), 438);
    let encrypt = encrypt(&key, b"aaaabbbbccccdddd", INV_PLAIN.as_bytes(), INV_APPID);
    assert_eq!(encrypt, INV_ENCRYPT);
    assert_eq!(
        msg_signature(INV_TOKEN, "1409304348", "xxxxxx", INV_ENCRYPT),
        "a86a386443f0bb51b7980a0fb18e9e44f60631a4"
    );
    assert_eq!(
        url_signature(INV_TOKEN, "1409304348", "xxxxxx"),
        "3f5318b003e99b3e638d725029e846400b9daebe"
    );
    let plain = raw_plain(&key, INV_ENCRYPT);
    assert_eq!(plain.last(), Some(&4));
    assert_eq!(
        KeyRing::new(key)
            .decrypt_for(INV_ENCRYPT, INV_APPID)
            .as_deref(),
        Ok(INV_PLAIN)
    );
}

#[test]
fn encoding_aes_key_rules() {
    assert_eq!(
        AesKey::from_encoding_aes_key("short").map(|_| ()),
        Err(CryptoError::InvalidKey)
    );
    let with_symbol = format!("{}+", &ENCODING_AES_KEY[..42]);
    assert_eq!(
        AesKey::from_encoding_aes_key(&with_symbol).map(|_| ()),
        Err(CryptoError::InvalidKey)
    );
    assert_eq!(format!("{:?}", key()), "AesKey(***)");
}

#[test]
fn wrong_appid_is_rejected() {
    assert_eq!(
        KeyRing::new(key()).decrypt_for(V1_ENCRYPT, "wx0000000000000000"),
        Err(CryptoError::AppIdMismatch)
    );
}

#[test]
fn malformed_ciphertexts_are_typed_errors() {
    let key = key();
    assert_eq!(decrypt(&key, "not base64!"), Err(CryptoError::Base64));
    assert_eq!(decrypt(&key, ""), Err(CryptoError::CiphertextLength(0)));
    // Truncated: drop the last block of V1.
    let bytes = STANDARD.decode(V1_ENCRYPT).expect("base64");
    let truncated = STANDARD.encode(&bytes[..bytes.len() - 16]);
    assert!(matches!(
        decrypt(&key, &truncated),
        Err(CryptoError::Padding | CryptoError::Truncated)
    ));
    let ragged = STANDARD.encode(&bytes[..bytes.len() - 3]);
    assert_eq!(
        decrypt(&key, &ragged),
        Err(CryptoError::CiphertextLength(61))
    );
}

/// Encrypts a raw plaintext (already padded by the caller) so padding and length faults can be
/// produced on purpose.
fn encrypt_raw(key: &AesKey, mut plain: Vec<u8>) -> String {
    let len = plain.len();
    let encryptor =
        cbc::Encryptor::<Aes256>::new_from_slices(key.bytes(), key.iv()).expect("sizes");
    let out = encryptor
        .encrypt_padded::<NoPadding>(&mut plain, len)
        .expect("whole blocks")
        .to_vec();
    STANDARD.encode(out)
}

#[test]
fn bad_padding_is_rejected() {
    let key = key();
    // Pad byte 0.
    assert_eq!(
        decrypt(&key, &encrypt_raw(&key, vec![0; 32])),
        Err(CryptoError::Padding)
    );
    // Pad byte 33 (legal for no block size Weixin uses).
    assert_eq!(
        decrypt(&key, &encrypt_raw(&key, vec![33; 64])),
        Err(CryptoError::Padding)
    );
    // Pad bytes that disagree.
    let mut plain = vec![4; 32];
    plain[29] = 5;
    assert_eq!(
        decrypt(&key, &encrypt_raw(&key, plain)),
        Err(CryptoError::Padding)
    );
    // A length prefix beyond the message.
    let mut plain = vec![b'r'; 16];
    plain.extend_from_slice(&1000_u32.to_be_bytes());
    plain.extend_from_slice(b"short");
    let pad = 32 - plain.len() % 32;
    plain.resize(plain.len() + pad, pad as u8);
    assert_eq!(
        decrypt(&key, &encrypt_raw(&key, plain)),
        Err(CryptoError::Truncated)
    );
    // Shorter than the 20-byte header after unpadding.
    let mut plain = vec![b'r'; 10];
    plain.resize(32, 22);
    assert_eq!(
        decrypt(&key, &encrypt_raw(&key, plain)),
        Err(CryptoError::Truncated)
    );
}

#[test]
fn key_rotation_tries_the_previous_key() {
    let ring = KeyRing::with_previous(inv_key(), key());
    assert_eq!(
        ring.decrypt_for(V1_ENCRYPT, APPID).as_deref(),
        Ok("5927782489442352469")
    );
    assert_eq!(
        ring.decrypt_for(INV_ENCRYPT, INV_APPID).as_deref(),
        Ok(INV_PLAIN)
    );
    // Neither key: the current key's error is reported.
    let ring = KeyRing::new(inv_key());
    assert!(ring.decrypt_for(V1_ENCRYPT, APPID).is_err());
}

#[test]
fn cdata_survives_terminator() {
    assert_eq!(cdata("a]]>b"), "<![CDATA[a]]]]><![CDATA[>b]]>");
}
