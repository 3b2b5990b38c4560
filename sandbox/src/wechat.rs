//! WeChat: the access tokens (classic and stable), the transaction component's after-sales by
//! order (`wechat_shop`, seed 000) and the Mini Store's order (`wechat_store`, seed 002).

use serde::Serialize;
use serde_json::{Map, Value};

use aftersale::http::Response;

use crate::calendar::{compact_time, moment_in, shared_delay, shared_path, Calendar, Life, Time, CHINA, DAY, HOUR};
use crate::request::{ok, text_of, Ctx};
use crate::rng::{stream, token_value, Rng, OPENID_CHARS};
use crate::{SandboxOrder, K, WECHAT_ORDERS};

/// WeChat's error answer (`errcode` 0 never comes alone).
#[derive(Serialize)]
pub(crate) struct Error<'a> {
    pub errcode: i64,
    pub errmsg: &'a str,
}

fn error(errcode: i64, errmsg: &str) -> Response {
    ok(&Error { errcode, errmsg })
}

#[derive(Serialize)]
struct Token {
    access_token: String,
    expires_in: i64,
}

/// `GET /cgi-bin/token?grant_type=client_credential&appid&secret`, or
/// `POST /cgi-bin/stable_token {grant_type, appid, secret, force_refresh}`.
pub(crate) fn token(ctx: &Ctx<'_>, stable: bool) -> Response {
    let get = |name: &str| -> String {
        if stable {
            ctx.json_body().and_then(|b| b.get(name).and_then(text_of)).unwrap_or_default()
        } else {
            ctx.param(name).unwrap_or("").to_string()
        }
    };
    if stable && !ctx.is_post() {
        return error(43002, "require POST method");
    }
    if stable && ctx.json_body().is_none() {
        return error(47001, "data format error");
    }
    let grant_type = get("grant_type");
    let appid = get("appid");
    let secret = get("secret");
    if appid.is_empty() {
        return error(41002, "appid missing");
    }
    if secret.is_empty() {
        return error(41004, "appsecret missing");
    }
    if grant_type != "client_credential" {
        return error(40002, "invalid grant_type");
    }
    let what = if stable { "wechat-stable" } else { "wechat" };
    let access_token = format!("86_{}", token_value(what, &appid, ctx.now_ms, 104, OPENID_CHARS));
    ok(&Token { access_token, expires_in: 7200 })
}

#[derive(Serialize)]
struct Login {
    openid: String,
    session_key: String,
}

/// The login code the sandbox accepts for one of its buyers: `sandbox-` and the buyer's openid
/// (a real `wx.login()` code is opaque and single-use; the sandbox has no mini program to
/// issue one, so a storefront example signs a sandbox buyer in by naming them).
pub const SANDBOX_LOGIN_PREFIX: &str = "sandbox-";

/// `GET /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code`: the buyer's
/// openid (and a session key the proxy drops), or 40029 for a code naming no sandbox buyer.
pub(crate) fn jscode2session(ctx: &Ctx<'_>) -> Response {
    if ctx.is_post() {
        return error(43001, "require GET method");
    }
    let (appid, secret) = (ctx.param("appid").unwrap_or(""), ctx.param("secret").unwrap_or(""));
    if appid.is_empty() {
        return error(41002, "appid missing");
    }
    if secret.is_empty() {
        return error(41004, "appsecret missing");
    }
    if ctx.param("grant_type") != Some("authorization_code") {
        return error(40002, "invalid grant_type");
    }
    let code = ctx.param("js_code").unwrap_or("");
    if code.is_empty() {
        return error(41008, "missing code");
    }
    let buyer = code
        .strip_prefix(SANDBOX_LOGIN_PREFIX)
        .filter(|openid| (0..29).any(|b| w_openid(b) == *openid))
        .map(str::to_string);
    match buyer {
        Some(openid) => {
            let session_key = token_value("wechat-login", &openid, ctx.now_ms, 24, OPENID_CHARS);
            ok(&Login { openid, session_key })
        }
        None => error(40029, "invalid code"),
    }
}

/// The orders of the window at the caller's clock, for the console and tests, with the
/// after-sales each has by then.
pub(crate) fn orders(cal: Calendar) -> Vec<SandboxOrder> {
    window(cal)
        .map(|k| SandboxOrder {
            order_id: w_order_id(k).to_string(),
            out_order_id: w_out_order_id(k),
            openid: w_openid(w_buyer(k)),
            aftersales: w_order(cal.now, k).aftersales.len(),
        })
        .collect()
}

/// An order is placed every this many days: order `k` on day `k * ORDER_EVERY_DAYS`.
const ORDER_EVERY_DAYS: i64 = 4;

/// The [`WECHAT_ORDERS`] newest orders placed by the caller's clock, oldest first.
pub(crate) fn window(cal: Calendar) -> std::ops::RangeInclusive<usize> {
    let mut last = cal.now.div_euclid(DAY).div_euclid(ORDER_EVERY_DAYS).max(WECHAT_ORDERS as i64) as usize;
    if w_created(last) > cal.now {
        last -= 1;
    }
    last + 1 - WECHAT_ORDERS..=last
}

struct WGoods {
    title: &'static str,
    price: i64,
    attrs: &'static [(&'static str, &'static str)],
}

const WECHAT_GOODS: &[WGoods] = &[
    WGoods {
        title: "智能健身环 体感运动游戏", price: 29900, attrs: &[("颜色", "雾霾蓝"), ("颜色", "樱花粉")]
    },
    WGoods {
        title: "主动降噪无线蓝牙耳机", price: 49900, attrs: &[("颜色", "曜石黑"), ("颜色", "珍珠白")]
    },
    WGoods {
        title: "316不锈钢保温杯 500ml", price: 12900, attrs: &[("颜色", "奶白"), ("颜色", "深空灰")]
    },
    WGoods {
        title: "空气炸锅 家用4.5L大容量",
        price: 39900,
        attrs: &[("规格", "4.5L 触屏款"), ("规格", "4.5L 旋钮款")],
    },
    WGoods { title: "新疆长绒棉四件套", price: 45900, attrs: &[("尺寸", "1.5m床"), ("尺寸", "1.8m床")] },
    WGoods {
        title: "儿童绘本套装（全10册）", price: 9900, attrs: &[("版本", "平装"), ("版本", "精装")]
    },
    WGoods {
        title: "运动速干T恤 男款", price: 7900, attrs: &[("尺码", "M"), ("尺码", "L"), ("尺码", "XL")]
    },
    WGoods { title: "护手霜礼盒 5支装", price: 8800, attrs: &[("香型", "混合香型")] },
    WGoods { title: "声波电动牙刷", price: 19900, attrs: &[("颜色", "白色"), ("颜色", "黑色")] },
    WGoods {
        title: "手冲咖啡壶套装 600ml", price: 16800, attrs: &[("颜色", "银色"), ("颜色", "哑光黑")]
    },
    WGoods { title: "五常有机大米 5kg", price: 8990, attrs: &[("规格", "5kg")] },
    WGoods { title: "磁吸车载手机支架", price: 5900, attrs: &[("颜色", "黑色")] },
];

const ADDRESSES: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("广东省", "广州市", "海珠区", "新港中路397号", "440105", "510220"),
    ("浙江省", "杭州市", "西湖区", "文三路478号华星时代广场", "330106", "310012"),
    ("上海市", "上海市", "浦东新区", "张杨路500号", "310115", "200120"),
    ("北京市", "北京市", "朝阳区", "建国路88号SOHO现代城", "110105", "100022"),
    ("四川省", "成都市", "武侯区", "天府大道北段1700号", "510107", "610041"),
    ("江苏省", "南京市", "鼓楼区", "中山北路30号", "320106", "210008"),
    ("湖北省", "武汉市", "洪山区", "珞喻路1037号", "420111", "430074"),
];

const SURNAMES: &[&str] = &["陈", "李", "王", "张", "刘", "杨", "黄", "赵", "周", "吴"];

/// After-sales per order, by `k % 10` (12 per ten orders).
const W_AFTERSALES: [usize; 10] = [1, 2, 0, 1, 3, 1, 0, 2, 1, 1];
const W_AFTERSALES_BEFORE: [usize; 10] = [0, 1, 3, 3, 4, 7, 8, 8, 10, 11];
/// Statuses of the orders with no after-sale (`k % 10` is 2 or 6), by `k / 10 % 4`: every
/// pre-sale status.
const W_PLAIN_STATUS: [i64; 8] = [10, 250, 15, 16, 17, 20, 30, 100];

pub(crate) fn w_order_id(k: usize) -> u64 {
    let mut r = Rng::new(stream::W_ID, k as u64);
    let digits = [16u32, 17, 18, 19][k % 4];
    let low = 10u64.pow(digits - 1);
    // 19-digit ids stay below i64::MAX, as WeChat's do.
    let span = if digits == 19 { 8 * low } else { 9 * low };
    low + r.below(span)
}

fn w_buyer(k: usize) -> u64 {
    (k % 29) as u64
}

fn w_openid(buyer: u64) -> String {
    let mut r = Rng::new(stream::W_BUYER, buyer);
    let mut s = String::from("oTVP5");
    r.push_from(&mut s, 23, OPENID_CHARS);
    s
}

fn w_created(k: usize) -> i64 {
    moment_in(&mut Rng::new(stream::W_ORDER, k as u64), k as i64 * ORDER_EVERY_DAYS)
}

/// The merchant's own order id: `SO`, the order's time, a serial.
pub(crate) fn w_out_order_id(k: usize) -> String {
    format!("SO{}{:04}", compact_time(w_created(k)), 1000 + k * 7)
}

fn w_product_ids(goods: usize, attr: usize) -> (u64, u64) {
    let mut r = Rng::new(stream::W_PRODUCT, goods as u64);
    let product = 10_000_000_000 + r.below(9_000_000_000);
    (product, product % 100_000_000 * 100 + attr as u64 + 1)
}

struct WLine {
    goods: usize,
    attr: usize,
    qty: i64,
}

struct WAfter {
    id: u64,
    out_id: Option<String>,
    kind: K,
    status: u8,
    line: usize,
    qty: i64,
    requested: i64,
    refund: i64,
    reason: &'static str,
    created: i64,
    updated: i64,
}

impl WAfter {
    fn open(&self) -> bool {
        matches!(self.status, 0 | 2 | 3 | 6 | 8 | 9 | 10 | 11 | 12 | 16 | 17 | 19)
    }
    fn finished(&self) -> bool {
        matches!(self.status, 13..=15)
    }
}

struct WOrder {
    k: usize,
    order_id: u64,
    out_order_id: String,
    buyer: u64,
    openid: String,
    /// The order's status at the caller's clock.
    status: i64,
    created: i64,
    /// Each event once it has happened by the caller's clock.
    paid: Option<i64>,
    shipped: Option<i64>,
    done: Option<i64>,
    updated: i64,
    lines: Vec<WLine>,
    freight: i64,
    discount: i64,
    /// The after-sales made by the caller's clock, each as it stands then.
    aftersales: Vec<WAfter>,
}

/// An order's status at `now` on its way to `last`: unpaid (10) until paid, awaiting shipment
/// (20) until shipped, shipped (30) until done; `closed` is when a cancelled order (200, 250)
/// was cancelled.
fn order_status(
    last: i64,
    now: i64,
    paid: Option<i64>,
    shipped: Option<i64>,
    done: Option<i64>,
    closed: Option<i64>,
) -> i64 {
    let by = |t: Option<i64>| t.is_some_and(|t| t <= now);
    match last {
        10 => 10,
        250 => {
            if by(closed) {
                250
            } else {
                10
            }
        }
        _ if !by(paid) => 10,
        21 | 30 => {
            if by(shipped) {
                last
            } else {
                20
            }
        }
        100 if by(done) => 100,
        100 => {
            if by(shipped) {
                30
            } else {
                20
            }
        }
        200 => {
            if by(closed) {
                200
            } else {
                20
            }
        }
        _ => last,
    }
}

/// A shop's after-sales take longer than a course's: goods travel both ways.
fn slower(r: &mut Rng, next: u8) -> i64 {
    match next {
        3 | 12 => shared_delay(r, next),
        _ => r.between(2 * HOUR, 6 * DAY),
    }
}

/// Order `k` as it stands at `now` (China-local seconds).
fn w_order(now: i64, k: usize) -> WOrder {
    let mut r = Rng::new(stream::W_ORDER ^ 0x3f, k as u64);
    let created = w_created(k);
    let n_lines = if r.pct(30) { 2 } else { 1 };
    let mut lines: Vec<WLine> = Vec::with_capacity(n_lines);
    while lines.len() < n_lines {
        let goods = r.below(WECHAT_GOODS.len() as u64) as usize;
        if lines.iter().any(|l| l.goods == goods) {
            continue;
        }
        let attr = r.below(WECHAT_GOODS[goods].attrs.len() as u64) as usize;
        lines.push(WLine { goods, attr, qty: r.pick(&[1, 1, 1, 2, 3]) });
    }
    let n_after = W_AFTERSALES[k % 10];
    // Enough units for every after-sale, so no line has more units in after-sales than bought.
    for l in &mut lines {
        l.qty = l.qty.max(n_after as i64);
    }
    // Last statuses of the after-sales: the g-th after-sale of all has code 7g mod 20, so any
    // twenty in a row cover every code 0–19.
    let first_global = 12 * (k / 10) + W_AFTERSALES_BEFORE[k % 10];
    let codes: Vec<u8> = (0..n_after).map(|j| ((first_global + j) * 7 % 20) as u8).collect();
    let kinds: Vec<K> = codes
        .iter()
        .map(|&c| match c {
            15..=19 => K::Exchange,
            5..=8 | 14 => K::Return,
            _ if r.pct(30) => K::Return,
            _ => K::Refund,
        })
        .collect();
    let last_status = if n_after == 0 {
        W_PLAIN_STATUS[(k / 10 % 4) * 2 + usize::from(k % 10 == 6)]
    } else if kinds.iter().any(|&k| k != K::Refund) {
        [30, 100, 21][k % 3]
    } else {
        [20, 21, 100, 200, 30][k % 5]
    };
    let paid = (last_status != 10 && last_status != 250).then(|| created + r.between(15, 900));
    let shipped = matches!(last_status, 21 | 30 | 100).then(|| paid.unwrap_or(created) + r.between(2 * HOUR, 3 * DAY));
    let done = (last_status == 100).then(|| shipped.unwrap_or(created) + r.between(DAY, 4 * DAY));
    let product_price: i64 = lines.iter().map(|l| WECHAT_GOODS[l.goods].price * l.qty).sum();
    let freight = if product_price < 9900 { 800 } else { 0 };
    let discount = if r.pct(35) { r.pick(&[500, 1000, 2000, 3000]).min(product_price / 2) } else { 0 };

    let mut aftersales = Vec::with_capacity(n_after);
    let mut t = done.or(shipped).or(paid).unwrap_or(created);
    let mut settled = t;
    for (j, (&code, &kind)) in codes.iter().zip(&kinds).enumerate() {
        let mut ar = Rng::new(stream::W_AFTERSALE, (k * 4 + j) as u64);
        let line = ar.below(lines.len() as u64) as usize;
        let qty = if n_after > 1 { 1 } else { ar.between(1, lines[line].qty) };
        let requested = if kind == K::Exchange { 0 } else { WECHAT_GOODS[lines[line].goods].price * qty };
        let created = t + ar.between(HOUR, 7 * DAY);
        t = created;
        let id = 1_000_000_000_000_000 + ar.below(9_000_000_000_000_000);
        let out_id = ar.pct(75).then(|| format!("AS{}{:02}", &w_out_order_id(k)[2..], j + 1));
        let reason = match kind {
            K::Refund => ar.pick(&["不想要了", "拍错了/多拍了", "未按约定时间发货", "协商一致退款", "其他"]),
            K::Return => ar.pick(&["七天无理由退货", "质量问题", "商品破损/少件", "与商品描述不符"]),
            K::Exchange => ar.pick(&["尺码不合适", "颜色/款式不喜欢", "商品有瑕疵"]),
        };
        let life = Life::new(&mut Rng::new(stream::W_LIFE, (k * 4 + j) as u64), created, shared_path(code), slower);
        settled = settled.max(life.last().1);
        if created > now {
            continue;
        }
        let (status, updated) = life.at(now);
        let refund = if matches!(status, 11..=14) { requested } else { 0 };
        aftersales.push(WAfter { id, out_id, kind, status, line, qty, requested, refund, reason, created, updated });
    }
    // A cancelled order is cancelled once its after-sales are settled (200) or soon after it was
    // placed, unpaid (250).
    let closed = match last_status {
        200 => Some(settled + r.between(60, HOUR)),
        250 => Some(created + r.between(15 * 60, HOUR)),
        _ => None,
    };
    let status = order_status(last_status, now, paid, shipped, done, closed);
    let happened = |t: Option<i64>| t.filter(|&t| t <= now);
    let (paid, shipped, done) = (happened(paid), happened(shipped), happened(done));
    let updated = aftersales
        .iter()
        .map(|a| a.updated)
        .chain([created, paid.unwrap_or(0), shipped.unwrap_or(0), done.unwrap_or(0), happened(closed).unwrap_or(0)])
        .max()
        .unwrap_or(created);
    let buyer = w_buyer(k);
    WOrder {
        k,
        order_id: w_order_id(k),
        out_order_id: w_out_order_id(k),
        buyer,
        openid: w_openid(buyer),
        status,
        created,
        paid,
        shipped,
        done,
        updated,
        lines,
        freight,
        discount,
        aftersales,
    }
}

/// The WeChat data endpoints' common checks: POST, a token, a JSON object body.
fn data_request(ctx: &Ctx<'_>) -> Result<Map<String, Value>, Response> {
    if !ctx.is_post() {
        return Err(error(43002, "require POST method"));
    }
    if ctx.param("access_token").is_none_or(|t| t.trim().is_empty()) {
        return Err(error(41001, "access_token missing"));
    }
    ctx.json_body().ok_or_else(|| error(47001, "data format error"))
}

/// An order id from the body: a JSON number (as WeChat sends them) or a string of digits.
fn order_id_of(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn invalid_order() -> Response {
    error(9401020, "invalid parameter: order not found for this openid")
}

#[derive(Serialize)]
struct ShopAnswer<'a> {
    errcode: i64,
    errmsg: &'a str,
    aftersale_infos: Vec<ShopAfterSale>,
}

#[derive(Serialize)]
struct ShopProduct {
    out_product_id: String,
    out_sku_id: String,
    product_cnt: i64,
}

#[derive(Serialize)]
struct ShopAfterSale {
    aftersale_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    out_aftersale_id: Option<String>,
    order_id: u64,
    out_order_id: String,
    openid: String,
    #[serde(rename = "type")]
    kind: i64,
    create_time: Time,
    update_time: Time,
    path: String,
    status: i64,
    refund: i64,
    orderamt: i64,
    refund_reason: &'static str,
    /// Where the goods go back: only when something is sent back.
    #[serde(skip_serializing_if = "Option::is_none")]
    refund_address: Option<String>,
    product_infos: [ShopProduct; 1],
}

/// `POST /shop/aftersale/get?access_token=T` `{order_id | out_order_id, openid}` (seed 000).
pub(crate) fn shop_aftersales(ctx: &Ctx<'_>) -> Response {
    let body = match data_request(ctx) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let openid = body.get("openid").and_then(Value::as_str).unwrap_or("");
    if openid.is_empty() {
        return error(9401020, "invalid parameter: openid missing");
    }
    let k = if let Some(id) = order_id_of(body.get("order_id")) {
        window(ctx.cal).find(|&k| w_order_id(k) == id)
    } else if let Some(out) = body.get("out_order_id").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        window(ctx.cal).find(|&k| w_out_order_id(k) == out)
    } else {
        return error(9401020, "invalid parameter: order_id or out_order_id required");
    };
    let Some(k) = k.filter(|&k| w_openid(w_buyer(k)) == openid) else {
        return invalid_order();
    };
    let order = w_order(ctx.cal.now, k);
    let aftersale_infos = order
        .aftersales
        .iter()
        .map(|a| {
            let line = &order.lines[a.line];
            let (product_id, sku_id) = w_product_ids(line.goods, line.attr);
            let addr = ADDRESSES[order.k % ADDRESSES.len()];
            ShopAfterSale {
                aftersale_id: a.id.to_string(),
                out_aftersale_id: a.out_id.clone(),
                order_id: order.order_id,
                out_order_id: order.out_order_id.clone(),
                openid: order.openid.clone(),
                kind: a.kind.code(),
                create_time: Time(a.created),
                update_time: Time(a.updated),
                path: format!("/pages/aftersale/detail?aftersale_id={}", a.id),
                status: i64::from(a.status),
                refund: a.refund,
                orderamt: a.requested,
                refund_reason: a.reason,
                refund_address: (a.kind != K::Refund).then(|| format!("{}{}{}{}", addr.0, addr.1, addr.2, addr.3)),
                product_infos: [ShopProduct {
                    out_product_id: product_id.to_string(),
                    out_sku_id: sku_id.to_string(),
                    product_cnt: a.qty,
                }],
            }
        })
        .collect();
    ok(&ShopAnswer { errcode: 0, errmsg: "ok", aftersale_infos })
}

#[derive(Serialize)]
struct StoreAnswer<'a> {
    errcode: i64,
    errmsg: &'a str,
    order: StoreOrder,
}

#[derive(Serialize)]
struct StoreOrder {
    order_id: u64,
    out_order_id: String,
    status: i64,
    create_time: Time,
    update_time: Time,
    order_detail: OrderDetail,
    aftersale_detail: AfterSaleDetail,
    openid: String,
    ext_info: ExtInfo,
}

#[derive(Serialize)]
struct OrderDetail {
    product_infos: Vec<StoreProduct>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pay_info: Option<PayInfo>,
    price_info: PriceInfo,
    delivery_info: DeliveryInfo,
}

#[derive(Serialize)]
struct SkuAttr {
    attr_key: &'static str,
    attr_value: &'static str,
}

#[derive(Serialize)]
struct StoreProduct {
    product_id: u64,
    sku_id: u64,
    sku_cnt: i64,
    on_aftersale_sku_cnt: i64,
    finish_aftersale_sku_cnt: i64,
    title: &'static str,
    thumb_img: String,
    sku_attrs: [SkuAttr; 1],
    sale_price: i64,
}

#[derive(Serialize)]
struct PayInfo {
    pay_method: &'static str,
    prepay_id: String,
    transaction_id: String,
    prepay_time: Time,
    pay_time: Time,
}

#[derive(Serialize)]
struct PriceInfo {
    product_price: i64,
    order_price: i64,
    freight: i64,
    discounted_price: i64,
    is_discounted: bool,
}

#[derive(Serialize)]
struct DeliveryInfo {
    delivery_method: &'static str,
    /// A time once shipped, else `""`.
    delivery_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery_product_info: Option<DeliveryProducts>,
    address_info: AddressInfo,
    express_fee: [ExpressFee; 1],
    offline_delivery_time: i64,
    offline_pickup_time: i64,
    /// Unix seconds, as text, once the order is done.
    #[serde(skip_serializing_if = "Option::is_none")]
    ship_done_time: Option<String>,
}

#[derive(Serialize)]
struct DeliveryProducts {
    waybill_id: String,
    delivery_id: &'static str,
    product_infos: Vec<DeliveredProduct>,
}

#[derive(Serialize)]
struct DeliveredProduct {
    product_id: u64,
    sku_id: u64,
    product_cnt: i64,
}

#[derive(Serialize)]
struct AddressInfo {
    user_name: String,
    postal_code: &'static str,
    province_name: &'static str,
    city_name: &'static str,
    county_name: &'static str,
    detail_info: &'static str,
    national_code: &'static str,
    tel_number: String,
}

#[derive(Serialize)]
struct ExpressFee {
    shipping_method: &'static str,
    distance: i64,
}

#[derive(Serialize)]
struct AfterSaleDetail {
    aftersale_order_list: Vec<AfterSaleRef>,
    on_aftersale_order_cnt: u64,
}

#[derive(Serialize)]
struct AfterSaleRef {
    aftersale_order_id: u64,
}

#[derive(Serialize)]
struct ExtInfo {
    customer_notes: &'static str,
    merchant_notes: &'static str,
}

/// `POST /product/order/get?access_token=T` `{order_id}` (seed 002).
pub(crate) fn store_order(ctx: &Ctx<'_>) -> Response {
    let body = match data_request(ctx) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Some(id) = order_id_of(body.get("order_id")) else {
        return error(9401020, "invalid parameter: order_id required");
    };
    let Some(k) = window(ctx.cal).find(|&k| w_order_id(k) == id) else {
        return error(9401020, "invalid parameter: order not found");
    };
    ok(&StoreAnswer { errcode: 0, errmsg: "ok", order: store(&w_order(ctx.cal.now, k)) })
}

fn store(order: &WOrder) -> StoreOrder {
    let mut r = Rng::new(stream::W_ORDER ^ 0x51, order.k as u64);
    let product_price: i64 = order.lines.iter().map(|l| WECHAT_GOODS[l.goods].price * l.qty).sum();
    let product_infos = order
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let g = &WECHAT_GOODS[l.goods];
            let (product_id, sku_id) = w_product_ids(l.goods, l.attr);
            let on: i64 = order.aftersales.iter().filter(|a| a.line == i && a.open()).map(|a| a.qty).sum();
            let finished: i64 = order.aftersales.iter().filter(|a| a.line == i && a.finished()).map(|a| a.qty).sum();
            let (attr_key, attr_value) = g.attrs[l.attr];
            StoreProduct {
                product_id,
                sku_id,
                sku_cnt: l.qty,
                on_aftersale_sku_cnt: on.min(l.qty),
                finish_aftersale_sku_cnt: finished.min(l.qty),
                title: g.title,
                thumb_img: format!("https://img.example.com/wxstore/{product_id}.jpg"),
                sku_attrs: [SkuAttr { attr_key, attr_value }],
                sale_price: g.price,
            }
        })
        .collect();
    // Payment and delivery draw from streams of their own: an order moving on keeps the rest.
    let pay_info = order.paid.map(|paid| {
        let mut r = Rng::new(stream::W_ORDER ^ 0x52, order.k as u64);
        let mut prepay_id = format!("wx{}", compact_time(paid));
        r.push_hex(&mut prepay_id, 20);
        let mut transaction_id = String::from("4200002");
        r.push_digits(&mut transaction_id, 21);
        PayInfo {
            pay_method: "微信支付",
            prepay_id,
            transaction_id,
            prepay_time: Time(paid - r.between(5, 60)),
            pay_time: Time(paid),
        }
    });
    let delivery_product_info = order.shipped.map(|_| {
        let mut r = Rng::new(stream::W_ORDER ^ 0x53, order.k as u64);
        let carrier = r.pick(&["SF", "YTO", "ZTO", "STO", "YD", "JD"]);
        let mut waybill_id = String::from(carrier);
        r.push_digits(&mut waybill_id, 13);
        let product_infos = order
            .lines
            .iter()
            .map(|l| {
                let (product_id, sku_id) = w_product_ids(l.goods, l.attr);
                DeliveredProduct { product_id, sku_id, product_cnt: l.qty }
            })
            .collect();
        DeliveryProducts { waybill_id, delivery_id: carrier, product_infos }
    });
    let addr = ADDRESSES[order.k % ADDRESSES.len()];
    let mut tel_number = String::from("1");
    tel_number.push(r.pick(&['3', '5', '7', '8', '9']));
    r.push_digits(&mut tel_number, 9);
    let user_name = format!(
        "{}{}",
        SURNAMES[(order.buyer % SURNAMES.len() as u64) as usize],
        r.pick(&["先生", "女士", "小姐", "同学"])
    );
    let delivery_info = DeliveryInfo {
        delivery_method: "express",
        delivery_time: order.shipped.map(|t| Time(t).to_string()).unwrap_or_default(),
        delivery_product_info,
        address_info: AddressInfo {
            user_name,
            postal_code: addr.5,
            province_name: addr.0,
            city_name: addr.1,
            county_name: addr.2,
            detail_info: addr.3,
            national_code: addr.4,
            tel_number,
        },
        express_fee: [ExpressFee { shipping_method: "ShippingMethod_Express", distance: 0 }],
        offline_delivery_time: 0,
        offline_pickup_time: 0,
        ship_done_time: order.done.map(|done| (done - CHINA).to_string()),
    };
    let customer_notes = if r.pct(40) {
        r.pick(&["请尽快发货", "放门口即可", "工作日送货", "礼物，请不要放发票"])
    } else {
        ""
    };
    let merchant_notes = match order.status {
        200 | 250 => r.pick(&["库存不足，取消", "买家申请取消"]),
        _ if r.pct(25) => r.pick(&["已备注加急", "赠品已放入"]),
        _ => "",
    };
    StoreOrder {
        order_id: order.order_id,
        out_order_id: order.out_order_id.clone(),
        status: order.status,
        create_time: Time(order.created),
        update_time: Time(order.updated),
        order_detail: OrderDetail {
            product_infos,
            pay_info,
            price_info: PriceInfo {
                product_price,
                order_price: product_price + order.freight - order.discount,
                freight: order.freight,
                discounted_price: order.discount,
                is_discounted: order.discount > 0,
            },
            delivery_info,
        },
        aftersale_detail: AfterSaleDetail {
            aftersale_order_list: order.aftersales.iter().map(|a| AfterSaleRef { aftersale_order_id: a.id }).collect(),
            on_aftersale_order_cnt: order.aftersales.iter().filter(|a| a.open()).count() as u64,
        },
        openid: order.openid.clone(),
        ext_info: ExtInfo { customer_notes, merchant_notes },
    }
}

#[cfg(test)]
mod login_tests {
    use aftersale::Platform;

    use super::*;
    use crate::{answer, sandbox_account};

    /// The core's sign-in request, answered by the sandbox, read back by the core.
    #[test]
    fn a_sandbox_buyer_signs_in_and_others_do_not() {
        let account = sandbox_account(Platform::WechatShop).unwrap();
        let upstream = Platform::WechatShop.upstream();
        let openid = w_openid(3);
        let request = upstream.login_request(&account, &format!("{SANDBOX_LOGIN_PREFIX}{openid}")).unwrap();
        let response = answer(&request, 1_700_000_000_000);
        assert_eq!(upstream.parse_login(&response.body).unwrap(), openid);
        assert!(!response.body.is_empty());
        let request = upstream.login_request(&account, "sandbox-oNOBODY").unwrap();
        let e = upstream.parse_login(&answer(&request, 0).body).unwrap_err();
        assert_eq!(e.code(), aftersale::ErrorCode::InvalidRequest, "{e}");
        assert!(upstream.login_request(&account, "").is_err(), "an empty code never reaches the upstream");
    }
}
