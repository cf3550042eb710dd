//! The opaque cursor of `GET /v1/orders`: the listing position of a page's last order
//! (update time, platform id, order id), as hex-encoded JSON so clients treat it as a token.

use fapiao_domain::Timestamp;
use fapiao_domain::ids::{OrderId, OrderKey, SPappId};
use fapiao_domain::ports::OrderPosition;

/// The longest cursor accepted (a real one is a few hundred characters).
const MAX_CURSOR_CHARS: usize = 1024;

/// The cursor of `position`.
pub fn encode(position: &OrderPosition) -> String {
    let json = serde_json::json!([
        1,
        position.updated_at.millis(),
        position.key.s_pappid.as_str(),
        position.key.order_id.as_str(),
    ])
    .to_string();
    json.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The position a cursor stands for.
///
/// # Errors
/// The rule the cursor breaks, for a 422 naming `cursor`.
pub fn decode(cursor: &str) -> Result<OrderPosition, String> {
    const RULE: &str = "not a cursor this service handed out (pass next_cursor unchanged)";
    if cursor.len() > MAX_CURSOR_CHARS
        || !cursor.len().is_multiple_of(2)
        || !cursor.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(RULE.to_owned());
    }
    let bytes: Vec<u8> = (0..cursor.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok())
        .collect();
    let parsed: (u8, i64, String, String) =
        serde_json::from_slice(&bytes).map_err(|_| RULE.to_owned())?;
    let (1, millis, s_pappid, order_id) = parsed else {
        return Err(RULE.to_owned());
    };
    Ok(OrderPosition {
        updated_at: Timestamp::from_millis(millis),
        key: OrderKey {
            s_pappid: SPappId::parse(&s_pappid).map_err(|_| RULE.to_owned())?,
            order_id: OrderId::parse(&order_id).map_err(|_| RULE.to_owned())?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let position = OrderPosition {
            updated_at: Timestamp::from_millis(1_700_000_000_123),
            key: OrderKey {
                s_pappid: SPappId::parse("wxpappid0001").unwrap(),
                order_id: OrderId::parse("A-1_b").unwrap(),
            },
        };
        let cursor = encode(&position);
        assert_eq!(decode(&cursor), Ok(position));
        for bad in [
            "",
            "zz",
            "abc",
            "5b5d",
            &"0".repeat(2000),
            &encode_raw("[2,1,\"wxpappid0001\",\"A\"]"),
            &encode_raw("[1,1,\"wxpappid0001\",\"bad id!\"]"),
            &encode_raw("[1,\"x\",\"wxpappid0001\",\"A\"]"),
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
    }

    fn encode_raw(json: &str) -> String {
        json.bytes().map(|b| format!("{b:02x}")).collect()
    }
}
