//! The window relative to the caller's clock: a newcomer's "last 30 days" has answers on every
//! platform, today included, and nothing lies in the future.

use super::*;

use super::living::{created_day, list_at, wechat_aftersales, LATER};

/// The newcomer's question: the last 30 days, today included (the range ends tomorrow).
fn last_30_days(now: u64) -> (Date, Date) {
    let tomorrow = range(now).to;
    (tomorrow.add_days(-30), tomorrow)
}

#[test]
fn the_range_ends_tomorrow_in_china() {
    // NOW is 16:53 in China on 2025-10-09.
    assert_eq!(range(NOW), Range { from: date("2025-10-09").add_days(-SPAN_DAYS), to: date("2025-10-10") });
    // 2025-10-08T16:00:00Z is midnight in China: already the 9th there.
    let midnight = 1_759_939_200_000;
    assert_eq!(range(midnight).to, date("2025-10-10"));
    assert_eq!(range(midnight - 1).to, date("2025-10-09"));
    assert_eq!(range(LATER).to, date("2026-12-02"));
    let serialized = serde_json::to_value(examples(NOW)).unwrap();
    assert_eq!(serialized["range"], serde_json::json!({"from": "2025-03-13", "to": "2025-10-10"}));
    assert_eq!(serialized["orders"].as_array().unwrap().len(), WECHAT_ORDERS);
    assert!(serialized["orders"][0]["aftersales"].is_u64());
}

#[test]
fn every_platform_has_records_in_the_last_30_days() {
    for now in [NOW, LATER, NOW + 17 * 86_400_000 + 5_000_000] {
        let (from, to) = last_30_days(now);
        for platform in [Platform::Xiaoe, Platform::Lingxing] {
            for field in [DateField::Created, DateField::Updated] {
                let records = list_at(now, platform, from, to, field);
                assert!(records.len() >= 10, "{platform:?} {field:?} at {now}: {} records", records.len());
            }
        }
        let recent = wechat_aftersales(now).iter().filter(|r| created_day(r) >= from).count();
        assert!(recent > 0, "no WeChat after-sale in the last 30 days at {now}");
        // Nothing lies in the future: tomorrow onwards is empty.
        let tomorrow = range(now).to;
        for platform in [Platform::Xiaoe, Platform::Lingxing] {
            for &field in platform.upstream().list().expect("listed").date_fields {
                let later = list_at(now, platform, tomorrow, tomorrow.add_days(60), field);
                assert!(later.is_empty(), "{platform:?} {field:?}");
            }
        }
    }
}
