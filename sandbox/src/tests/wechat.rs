//! WeChat's orders through both endpoints.

use super::*;

#[test]
fn wechat_orders_and_aftersales() {
    let orders = sandbox_orders(NOW);
    assert_eq!(orders.len(), WECHAT_ORDERS);
    let ids: BTreeSet<_> = orders.iter().map(|o| o.order_id.clone()).collect();
    assert_eq!(ids.len(), orders.len());
    let digits: BTreeSet<usize> = orders.iter().map(|o| o.order_id.len()).collect();
    assert_eq!(digits, BTreeSet::from([16, 17, 18, 19]));
    let mut codes = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    let mut order_statuses = BTreeSet::new();
    let mut empty = 0;
    for SandboxOrder { order_id, out_order_id, openid, aftersales } in &orders {
        let by_id = WechatShopAfterSales { order: OrderRef::OrderId(order_id.clone()), openid: openid.clone() }
            .to_request(SANDBOX_BASE_URL, TOKEN);
        assert!(std::str::from_utf8(&by_id.body).unwrap().contains(&format!("\"order_id\":{order_id}")));
        let resp = answer(&by_id, NOW);
        let page = normalize_page(Platform::WechatShop, &resp.body, NormalizeOptions::default())
            .unwrap_or_else(|e| panic!("{order_id}: {e}"));
        normalize_page(Platform::WechatShop, &resp.body, RAW).unwrap();
        let by_out = WechatShopAfterSales { order: OrderRef::OutOrderId(out_order_id.clone()), openid: openid.clone() }
            .to_request(SANDBOX_BASE_URL, TOKEN);
        assert_eq!(answer(&by_out, NOW).body, resp.body);
        // The raw order id keeps every digit.
        assert!(resp.body.contains(&format!("\"order_id\":{order_id}")) || page.records.is_empty());
        for r in &page.records {
            assert_eq!(r.order_id.as_deref(), Some(order_id.as_str()));
            assert_eq!(r.buyer.openid.as_deref(), Some(openid.as_str()));
            if let Some(StatusRaw::Number(n)) = r.status_raw {
                codes.insert(n);
            }
            kinds.insert(r.kind.as_str());
        }
        assert_eq!(page.records.len(), *aftersales, "{order_id}: after-sales announced");
        empty += usize::from(page.records.is_empty());
        let store =
            answer(&WechatStoreOrderGet { order_id: order_id.clone() }.to_request(SANDBOX_BASE_URL, TOKEN), NOW);
        let order =
            normalize_order(&store.body, NormalizeOptions::default()).unwrap_or_else(|e| panic!("{order_id}: {e}"));
        normalize_order(&store.body, RAW).unwrap();
        assert_eq!(order.order_id, order_id.as_str());
        assert_eq!(order.buyer.openid.as_deref(), Some(openid.as_str()));
        let shop_ids: Vec<&str> = page.records.iter().map(|r| r.aftersale_id.as_ref()).collect();
        let store_ids: Vec<&str> = order.aftersale_ids.iter().map(|c| c.as_ref()).collect();
        assert_eq!(shop_ids, store_ids);
        assert_ne!(order.status, OrderStatus::Unknown);
        if let Some(StatusRaw::Number(n)) = order.status_raw {
            order_statuses.insert(n);
        }
        // Someone else's openid, or none: refused.
        let other = WechatShopAfterSales { order: OrderRef::OrderId(order_id.clone()), openid: "oTVP5nobody".into() }
            .to_request(SANDBOX_BASE_URL, TOKEN);
        assert_eq!(json(&answer(&other, NOW))["errcode"], 9401020);
    }
    assert_eq!(codes, (0..=19).collect(), "after-sale status codes");
    assert_eq!(kinds.len(), 3);
    assert_eq!(order_statuses, BTreeSet::from([10, 15, 16, 17, 20, 21, 30, 100, 200, 250]));
    assert!(empty > 0);
    // Unknown orders.
    let unknown = WechatStoreOrderGet { order_id: "1234567890123456".into() }.to_request(SANDBOX_BASE_URL, TOKEN);
    let resp = answer(&unknown, NOW);
    assert_eq!(json(&resp)["errcode"], 9401020);
    assert_eq!(upstream_code(normalize_order(&resp.body, NormalizeOptions::default()).unwrap_err()), "9401020");
    let SandboxOrder { order_id, openid, .. } = &orders[3];
    let unknown = WechatShopAfterSales { order: OrderRef::OutOrderId("SO-nope".into()), openid: openid.clone() }
        .to_request(SANDBOX_BASE_URL, TOKEN);
    let resp = answer(&unknown, NOW);
    assert_eq!(
        upstream_code(normalize_page(Platform::WechatShop, &resp.body, NormalizeOptions::default()).unwrap_err()),
        "9401020"
    );
    // No token.
    let no_token = WechatStoreOrderGet { order_id: order_id.clone() }.to_request(SANDBOX_BASE_URL, "");
    assert_eq!(json(&answer(&no_token, NOW))["errcode"], 41001);
}
/// The window moves on (an order every four days, statuses moving), and at any clock it still
/// holds every after-sale code and every order status.
#[test]
fn wechat_coverage_holds_at_any_clock() {
    for d in 0..15u64 {
        let now = NOW + d * 11 * 86_400_000 + d * 3_700_000;
        let mut codes = BTreeSet::new();
        let mut order_statuses = BTreeSet::new();
        for o in sandbox_orders(now) {
            let shop = WechatShopAfterSales { order: OrderRef::OrderId(o.order_id.clone()), openid: o.openid.clone() };
            let resp = answer(&shop.to_request(SANDBOX_BASE_URL, TOKEN), now);
            for r in normalize_page(Platform::WechatShop, &resp.body, NormalizeOptions::default()).unwrap().records {
                if let Some(StatusRaw::Number(n)) = r.status_raw {
                    codes.insert(n);
                }
            }
            let store = WechatStoreOrderGet { order_id: o.order_id.clone() };
            let body = answer(&store.to_request(SANDBOX_BASE_URL, TOKEN), now).body;
            let order = normalize_order(&body, NormalizeOptions::default()).unwrap();
            if let Some(StatusRaw::Number(n)) = order.status_raw {
                order_statuses.insert(n);
            }
        }
        assert_eq!(codes, (0..=19).collect(), "after-sale codes at {now}");
        assert_eq!(order_statuses, BTreeSet::from([10, 15, 16, 17, 20, 21, 30, 100, 200, 250]), "at {now}");
    }
}
