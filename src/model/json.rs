//! The normalized records written as JSON directly into bytes: the same text serde_json writes
//! from the `Serialize` impls (tests compare the two byte for byte), without its per-field
//! machinery. Keys are literals written with their punctuation, strings are copied in runs
//! between the bytes that need escaping, integers go through a small digit buffer, and times and
//! decimals through the stack buffers the model already has. With serde_json, writing took
//! 35–55% of `normalize_json` on 10,000-record pages.

use alloc::vec::Vec;

use super::money::{minor_to_decimal, Decimal, Money};
use super::time::Timestamp;
use super::{AfterSale, Item, StatusRaw, Text};

/// `records` as a JSON array, appended to `out`.
pub fn write_after_sales(records: &[AfterSale<'_>], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_after_sale(r, out);
    }
    out.push(b']');
}

fn write_after_sale(r: &AfterSale<'_>, out: &mut Vec<u8>) {
    let platform = r.platform.as_str().as_bytes();
    out.extend_from_slice(b"{\"id\":\"");
    out.extend_from_slice(platform); // ids of SPEC.md §2: ASCII, nothing to escape
    out.push(b':');
    escape_into(&r.aftersale_id, out);
    out.extend_from_slice(b"\",\"platform\":\"");
    out.extend_from_slice(platform);
    out.extend_from_slice(b"\",\"aftersale_id\":");
    string(&r.aftersale_id, out);
    out.extend_from_slice(b",\"order_id\":");
    text(&r.order_id, out);
    out.extend_from_slice(b",\"out_order_id\":");
    text(&r.out_order_id, out);
    out.extend_from_slice(b",\"kind\":\"");
    out.extend_from_slice(r.kind.as_str().as_bytes());
    out.extend_from_slice(b"\",\"status\":\"");
    out.extend_from_slice(r.status.as_str().as_bytes());
    out.extend_from_slice(if r.overdue { b"\",\"overdue\":true" } else { b"\",\"overdue\":false" });
    out.extend_from_slice(b",\"status_raw\":");
    match &r.status_raw {
        None => out.extend_from_slice(b"null"),
        Some(StatusRaw::Number(n)) => int(*n, out),
        Some(StatusRaw::Text(t)) => string(t, out),
    }
    out.extend_from_slice(b",\"refund\":");
    money(r.refund.as_ref(), out);
    out.extend_from_slice(b",\"requested\":");
    money(r.requested.as_ref(), out);
    out.extend_from_slice(b",\"items\":[");
    for (i, item) in r.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_item(item, out);
    }
    out.extend_from_slice(b"],\"reason\":");
    text(&r.reason, out);
    out.extend_from_slice(b",\"buyer_note\":");
    text(&r.buyer_note, out);
    out.extend_from_slice(b",\"merchant_note\":");
    text(&r.merchant_note, out);
    out.extend_from_slice(b",\"buyer\":{\"openid\":");
    text(&r.buyer.openid, out);
    out.extend_from_slice(b",\"user_id\":");
    text(&r.buyer.user_id, out);
    out.extend_from_slice(b",\"nickname\":");
    text(&r.buyer.nickname, out);
    out.extend_from_slice(b"},\"return_logistics\":");
    match &r.return_logistics {
        None => out.extend_from_slice(b"null"),
        Some(l) => {
            out.extend_from_slice(b"{\"carrier\":");
            text(&l.carrier, out);
            out.extend_from_slice(b",\"waybill_id\":");
            text(&l.waybill_id, out);
            out.push(b'}');
        }
    }
    out.extend_from_slice(b",\"exchange_order_id\":");
    text(&r.exchange_order_id, out);
    out.extend_from_slice(b",\"created_at\":");
    time(r.created_at.as_ref(), out);
    out.extend_from_slice(b",\"updated_at\":");
    time(r.updated_at.as_ref(), out);
    out.extend_from_slice(b",\"refunded_at\":");
    time(r.refunded_at.as_ref(), out);
    if let Some(raw) = &r.raw {
        // Already JSON (checked when it was read): written as it came, as serde_json does.
        out.extend_from_slice(b",\"raw\":");
        out.extend_from_slice(raw.get().as_bytes());
    }
    out.push(b'}');
}

fn write_item(item: &Item<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"product_id\":");
    text(&item.product_id, out);
    out.extend_from_slice(b",\"sku_id\":");
    text(&item.sku_id, out);
    out.extend_from_slice(b",\"name\":");
    text(&item.name, out);
    out.extend_from_slice(b",\"quantity\":");
    match item.quantity {
        None => out.extend_from_slice(b"null"),
        Some(q) => uint(q, out),
    }
    out.extend_from_slice(b",\"unit_price\":");
    money(item.unit_price.as_ref(), out);
    out.extend_from_slice(b",\"image_url\":");
    text(&item.image_url, out);
    out.extend_from_slice(b",\"sku_info\":");
    text(&item.sku_info, out);
    out.push(b'}');
}

fn money(m: Option<&Money<'_>>, out: &mut Vec<u8>) {
    let Some(m) = m else {
        out.extend_from_slice(b"null");
        return;
    };
    out.extend_from_slice(b"{\"currency\":");
    string(m.currency.code, out);
    out.extend_from_slice(b",\"minor\":");
    int(m.minor, out);
    out.extend_from_slice(b",\"decimal\":");
    match &m.decimal {
        Decimal::Given(text) => string(text, out),
        Decimal::FromMinor => {
            let mut buf = [0u8; 24];
            string(minor_to_decimal(m.minor, m.currency.exponent, &mut buf), out);
        }
    }
    out.push(b'}');
}

fn time(t: Option<&Timestamp>, out: &mut Vec<u8>) {
    let Some(t) = t else {
        out.extend_from_slice(b"null");
        return;
    };
    let mut buf = [0u8; 25];
    match t.write_rfc3339(&mut buf) {
        Some(text) => {
            out.push(b'"');
            out.extend_from_slice(text.as_bytes()); // digits and punctuation only
            out.push(b'"');
        }
        // Years outside 0000–9999: rare enough for `fmt`.
        None => string(&alloc::string::ToString::to_string(t), out),
    }
}

fn text(t: &Text<'_>, out: &mut Vec<u8>) {
    match t {
        None => out.extend_from_slice(b"null"),
        Some(s) => string(s, out),
    }
}

fn string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    escape_into(s, out);
    out.push(b'"');
}

/// serde_json's escaping: `"` and `\`, the short forms `\b \t \n \f \r`, other control bytes as
/// `\u00xx` (lower-case hex); everything else, non-ASCII included, as it is.
fn escape_into(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !ESCAPED[usize::from(b)] {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// The bytes `escape_into` rewrites: one lookup a byte, as serde_json does.
static ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

fn int(n: i64, out: &mut Vec<u8>) {
    if n < 0 {
        out.push(b'-');
    }
    uint(n.unsigned_abs(), out);
}

fn uint(mut n: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::money::Currency;
    use crate::model::{Buyer, Kind, Platform, ReturnLogistics, Status};
    use alloc::borrow::Cow;
    use alloc::string::String;
    use alloc::vec;

    fn direct(records: &[AfterSale<'_>]) -> String {
        let mut out = Vec::new();
        write_after_sales(records, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn record(text: &'static str) -> AfterSale<'static> {
        let t = || Some(Cow::Borrowed(text));
        let money = |minor, decimal| Money { currency: Currency::USD, minor, decimal };
        AfterSale {
            platform: Platform::Lingxing,
            aftersale_id: Cow::Borrowed(text),
            order_id: t(),
            out_order_id: None,
            kind: Kind::ReturnRefund,
            status: Status::AwaitingBuyerReturn,
            overdue: true,
            status_raw: Some(StatusRaw::Text(Cow::Borrowed(text))),
            refund: Some(money(i64::MIN, Decimal::FromMinor)),
            requested: Some(money(-5, Decimal::Given(Cow::Borrowed("-0.050")))),
            items: vec![
                Item {
                    product_id: t(),
                    sku_id: None,
                    name: t(),
                    quantity: Some(u64::MAX),
                    unit_price: Some(Money::cny_fen(0)),
                    image_url: None,
                    sku_info: t(),
                },
                Item {
                    product_id: None,
                    sku_id: None,
                    name: None,
                    quantity: None,
                    unit_price: None,
                    image_url: None,
                    sku_info: None,
                },
            ],
            reason: t(),
            buyer_note: None,
            merchant_note: t(),
            buyer: Buyer { openid: t(), user_id: None, nickname: t() },
            return_logistics: Some(ReturnLogistics { carrier: t(), waybill_id: None }),
            exchange_order_id: None,
            created_at: Some(Timestamp::from_unix(1_676_284_458, 480)),
            updated_at: Some(Timestamp::from_unix(1_676_620_250, -480)),
            refunded_at: Some(Timestamp { offset_minutes: None, ..Timestamp::from_unix(0, 0) }),
            raw: None,
        }
    }

    #[test]
    fn writes_what_serde_json_writes_for_every_byte() {
        // Every byte that needs escaping, the ones around them, and text beyond ASCII.
        let mut all = String::new();
        for b in 0u8..0x80 {
            all.push(char::from(b));
        }
        all.push_str("é中文😀\u{2028}\u{7f}");
        let all: &'static str = alloc::boxed::Box::leak(all.into_boxed_str());
        for text in ["", "plain", "a\"b\\c", "\n\r\t\u{8}\u{c}\u{1}\u{1f}", all] {
            let records = vec![record(text), record(text)];
            assert_eq!(direct(&records), serde_json::to_string(&records).unwrap(), "{text:?}");
        }
        assert_eq!(direct(&[]), "[]");
    }

    #[test]
    fn golden_pages_write_as_serde_json_does() {
        let pages = [
            (Platform::Xiaoe, include_str!("../../tests/golden/xiaoe.clean.json")),
            (Platform::Lingxing, include_str!("../../tests/golden/lingxing.clean.json")),
            (Platform::WechatShop, include_str!("../../tests/golden/wechat_shop.clean.json")),
            (Platform::WechatChannels, include_str!("../../tests/golden/wechat_channels.as_written.json")),
        ];
        for (platform, body) in pages {
            for include_raw in [false, true] {
                let options = crate::NormalizeOptions { include_raw, ..Default::default() };
                let records = crate::normalize_page(platform, body, options).unwrap().records;
                assert!(!records.is_empty(), "{platform}");
                assert_eq!(direct(&records), serde_json::to_string(&records).unwrap(), "{platform} raw={include_raw}");
            }
        }
    }

    #[test]
    fn numbers_at_their_limits() {
        for n in [0i64, 1, -1, 9, 10, -10, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            int(n, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&n).unwrap());
        }
        let mut out = Vec::new();
        uint(u64::MAX, &mut out);
        assert_eq!(out, b"18446744073709551615");
    }
}
