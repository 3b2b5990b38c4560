//! Property tests of the pager against hostile input (issue 13, item 4): arbitrary decoded cursor
//! states (what a forged cursor signed with a leaked secret could carry) and arbitrary upstream
//! pages. Whatever comes in, the pager answers an error or carries on; it never panics, never
//! asks for an absurd page, and never delivers a record twice.

use std::borrow::Cow;
use std::collections::BTreeSet;

use aftersale::cursor::{self, CursorKey};
use aftersale::model::Buyer;
use aftersale::paginate::{Pager, PagerState, MAX_POSITION};
use aftersale::query::ListQuery;
use aftersale::{AfterSale, Date, Kind, Page, Platform, Status};
use proptest::prelude::*;

fn record(id: u32) -> AfterSale<'static> {
    AfterSale {
        platform: Platform::Xiaoe,
        aftersale_id: Cow::Owned(format!("A{id}")),
        order_id: Some(Cow::Owned(format!("o{}", id % 7))),
        out_order_id: None,
        kind: if id % 3 == 0 { Kind::Refund } else { Kind::ReturnRefund },
        status: Status::ALL[id as usize % Status::ALL.len()],
        overdue: false,
        status_raw: None,
        refund: None,
        requested: None,
        items: Vec::new(),
        reason: None,
        buyer_note: None,
        merchant_note: None,
        buyer: Buyer { openid: None, user_id: Some(Cow::Owned(format!("u{}", id % 5))), nickname: None },
        return_logistics: None,
        exchange_order_id: None,
        created_at: None,
        updated_at: None,
        refunded_at: None,
        raw: None,
    }
}

fn arb_state() -> impl Strategy<Value = PagerState> {
    (
        any::<u32>(),
        prop_oneof![any::<u64>(), 0u64..1000, Just(u64::MAX), Just(1u64 << 63)],
        proptest::option::of(prop_oneof![any::<u64>(), 0u64..1000]),
        prop_oneof![any::<u64>(), 0u64..50],
        proptest::option::of(prop_oneof![any::<u64>(), 0u64..50]),
        proptest::collection::vec(any::<u64>(), 0..40),
        proptest::option::of(".{0,40}"),
        any::<bool>(),
    )
        .prop_map(|(window, offset, known_total, grown, catch_up, recent, next_key, done)| PagerState {
            window: window % 40,
            offset,
            known_total,
            grown,
            catch_up,
            recent,
            next_key,
            done,
        })
}

fn arb_platform() -> impl Strategy<Value = Platform> {
    proptest::sample::select(Platform::ALL.to_vec())
}

/// Queries as a cursor could carry them, sound or not (limit 0, reversed or huge ranges).
fn arb_query() -> impl Strategy<Value = ListQuery> {
    (
        arb_platform(),
        prop_oneof![-800_000i64..800_000, 10_950i64..21_900],
        prop_oneof![-400i64..800, 1i64..60],
        prop_oneof![0u32..300, 1u32..=100],
        proptest::option::of("[a-z0-9]{0,3}"),
        any::<bool>(),
    )
        .prop_map(|(platform, from, span, limit, order_id, raw)| {
            let from = Date::from_days_since_epoch(from);
            let mut q = ListQuery::new(platform, from, from.add_days(span));
            q.limit = limit;
            q.order_id = order_id;
            q.include_raw = raw;
            q
        })
}

/// An upstream page: records with ids that may repeat, a count that may disagree with them, a
/// total that may jump anywhere, positions that may point past the page.
fn arb_page() -> impl Strategy<Value = Page<'static>> {
    (
        proptest::collection::vec(0u32..60, 0..30),
        proptest::option::of(prop_oneof![any::<u64>(), 0u64..200]),
        0usize..200,
        proptest::collection::vec(any::<u32>(), 0..4),
    )
        .prop_map(|(ids, total, upstream_count, upstream_index)| Page {
            records: ids.into_iter().map(record).collect(),
            total,
            upstream_count,
            upstream_index,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    /// A state straight from a cursor: resumed or refused, then driven through hostile pages.
    #[test]
    fn resumed_states_never_panic(query in arb_query(), state in arb_state(), pages in proptest::collection::vec(arb_page(), 0..12)) {
        let Ok(mut pager) = Pager::resume(query, state) else { return Ok(()) };
        let mut delivered = BTreeSet::new();
        for page in pages {
            let Some(spec) = pager.next_call() else { break };
            // The call it plans is a sane one.
            if let aftersale::call::Call::ListPage(list) = &spec.call {
                prop_assert!(list.offset <= MAX_POSITION * 2, "offset {}", list.offset);
                prop_assert!(list.page_size >= 1);
            }
            let _ = pager.speculative_next();
            for r in pager.handle_page(page) {
                // Within one page the pager drops repeats of the previous page only; an id may
                // come again later only after the list moved, which these pages may claim.
                delivered.insert(r.aftersale_id.into_owned());
            }
            let _ = pager.total();
        }
        // Whatever the pages did to the state, its cursor opens and resumes or is refused cleanly.
        let key = CursorKey::new(b"props");
        let sealed = cursor::seal(&key, pager.query(), pager.state());
        if let Ok((q, s)) = cursor::open(&key, &sealed) {
            let _ = Pager::resume(q, s);
        }
    }

    /// Exports remember every id: whatever the pages say, no record is delivered twice.
    #[test]
    fn exports_never_repeat(query in arb_query(), pages in proptest::collection::vec(arb_page(), 0..12)) {
        let Ok(mut pager) = Pager::for_export(query) else { return Ok(()) };
        let mut delivered = BTreeSet::new();
        for page in pages {
            if pager.next_call().is_none() { break }
            for r in pager.handle_page(page) {
                prop_assert!(delivered.insert(r.aftersale_id.into_owned()), "a record came twice");
            }
        }
    }

    /// A cursor sealed over any state opens to the same state or to an error naming `cursor`
    /// (or the query's parameter), never to a panic; and a resumed pager accepts only sound states.
    #[test]
    fn sealed_states_open_or_fail_cleanly(query in arb_query(), state in arb_state()) {
        let key = CursorKey::new(b"props");
        let sealed = cursor::seal(&key, &query, &state);
        match cursor::open(&key, &sealed) {
            Ok((q, s)) => {
                prop_assert_eq!(&q, &query);
                prop_assert!(q.validate().is_ok());
                match Pager::resume(q, s) {
                    Ok(p) => prop_assert!(p.state().offset <= MAX_POSITION),
                    Err(e) => prop_assert_eq!(e.code(), aftersale::ErrorCode::InvalidRequest),
                }
            }
            Err(e) => prop_assert_eq!(e.code(), aftersale::ErrorCode::InvalidRequest),
        }
    }

    /// Arbitrary bytes as a cursor: refused, never a panic.
    #[test]
    fn garbage_cursors_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        use base64::Engine as _;
        let key = CursorKey::new(b"props");
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        prop_assert!(cursor::open(&key, &text).is_err());
    }
}

#[test]
fn the_issue_s_forged_states_are_refused() {
    let from = Date::parse("2023-03-01").unwrap();
    let mut zero = ListQuery::new(Platform::Xiaoe, from, from.add_days(7));
    zero.limit = 0;
    assert!(Pager::resume(zero, PagerState::default()).is_err(), "limit=0 is refused");
    let q = ListQuery::new(Platform::Xiaoe, from, from.add_days(7));
    let huge = PagerState { offset: 1 << 63, ..PagerState::default() };
    let e = Pager::resume(q.clone(), huge).unwrap_err();
    assert!(e.to_string().contains("cursor"), "{e}");
    let past = PagerState { window: 99, ..PagerState::default() };
    assert!(Pager::resume(q, past).is_err());
    let ancient = ListQuery::new(Platform::Xiaoe, Date::parse("0000-01-01").unwrap(), from);
    assert!(ancient.validate().is_err(), "year 0 is refused before any upstream call");
}

/// `order_id` is sent upstream and checked again: an upstream that ignores it hands back other
/// orders' records, which the pager must not deliver (issue 13: "order_id= that matches nothing
/// returned other buyers' records").
#[test]
fn an_ignored_order_filter_is_applied_to_what_comes_back() {
    let from = Date::parse("2023-03-01").unwrap();
    let mut q = ListQuery::new(Platform::Xiaoe, from, from.add_days(7));
    q.order_id = Some(String::from("o3"));
    let mut pager = Pager::new(q).unwrap();
    let page = Page {
        records: (0..14).map(record).collect(),
        total: Some(14),
        upstream_count: 14,
        upstream_index: Vec::new(),
    };
    let got = pager.handle_page(page);
    assert!(!got.is_empty());
    assert!(
        got.iter().all(|r| r.order_id.as_deref() == Some("o3")),
        "{:?}",
        got.iter().map(|r| &r.order_id).collect::<Vec<_>>()
    );
    let mut none = ListQuery::new(Platform::Xiaoe, from, from.add_days(7));
    none.order_id = Some(String::from("o_matches_nothing"));
    let mut pager = Pager::new(none).unwrap();
    let page = Page {
        records: (0..14).map(record).collect(),
        total: Some(14),
        upstream_count: 14,
        upstream_index: Vec::new(),
    };
    assert!(pager.handle_page(page).is_empty());
}
