//! Lingxing ERP (领星, Amazon): the token endpoints and the signed after-sale list (seed 003's
//! envelope).

use serde::Serialize;
use serde_json::{Map, Value};

use aftersale::http::Response;
use aftersale::time::Date;

use crate::calendar::{china_local, moment_in, parse_day, Calendar, Life, Time, Week, CHINA, DAY, HOUR, SLOTS};
use crate::request::{int_of, ok, parse_pairs, reply, text_of, Ctx};
use crate::rng::{hash_bytes, mix, stream, uuid, Rng, ALNUM, UPPER_ALNUM};

/// Amazon orders with after-sales per day of the week: twelve a week, about 360 in the window.
pub(crate) const LINGXING_WEEK: Week = [2, 1, 2, 2, 1, 2, 2];

/// The auth server's envelope: a string `code`, `data` null on errors.
#[derive(Serialize)]
struct AuthEnvelope<'a> {
    code: &'a str,
    msg: &'a str,
    data: Option<Grant>,
}

#[derive(Serialize)]
struct Grant {
    access_token: String,
    refresh_token: String,
    expires_in: i64,
}

fn auth_error(code: &str, msg: &str) -> Response {
    ok(&AuthEnvelope { code, msg, data: None })
}

/// `POST /api/auth-server/oauth/access-token` (`appId`, `appSecret`) or
/// `/api/auth-server/oauth/refresh` (`appId`, `refreshToken`): form fields or query parameters.
pub(crate) fn token(ctx: &Ctx<'_>, refresh: bool) -> Response {
    if !ctx.is_post() {
        return auth_error("405", "Request method 'GET' not supported");
    }
    let form = parse_pairs(std::str::from_utf8(&ctx.request.body).unwrap_or(""));
    let field = |name: &str| -> String {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| ctx.param(name).map(str::to_string))
            .unwrap_or_default()
    };
    let app_id = field("appId");
    if app_id.is_empty() {
        return auth_error("2001001", "appId 不能为空");
    }
    if refresh {
        if field("refreshToken").is_empty() {
            return auth_error("2001009", "refreshToken 无效");
        }
    } else if field("appSecret").is_empty() {
        return auth_error("2001002", "appSecret 不能为空");
    }
    let mut r = Rng::new(stream::TOKEN, hash_bytes(app_id.as_bytes()) ^ mix(ctx.now_ms ^ u64::from(refresh)));
    let access_token = uuid(&mut r, false);
    let refresh_token = uuid(&mut r, false);
    ok(&AuthEnvelope { code: "200", msg: "OK", data: Some(Grant { access_token, refresh_token, expires_in: 7199 }) })
}

/// The OpenAPI's answer to a GET.
#[derive(Serialize)]
struct NotAllowed<'a> {
    code: i64,
    message: &'a str,
}

/// The OpenAPI's envelope, on success and on error alike.
#[derive(Serialize)]
struct Envelope<'a> {
    code: i64,
    message: &'a str,
    error_details: &'a [&'a str],
    request_id: String,
    response_time: Time,
    data: Vec<Record>,
    total: u64,
}

fn envelope(ctx: &Ctx<'_>, code: i64, message: &str, details: &[&str], records: &[LSkel], total: u64) -> Response {
    let mut r = Rng::new(stream::TOKEN ^ 0x1d, ctx.nonce());
    ok(&Envelope {
        code,
        message,
        error_details: details,
        request_id: uuid(&mut r, true),
        response_time: Time(china_local(ctx.now_ms)),
        data: records.iter().map(record).collect(),
        total,
    })
}

fn error(ctx: &Ctx<'_>, code: i64, message: &str) -> Response {
    envelope(ctx, code, message, &[message], &[], 0)
}

struct Market {
    country: &'static str,
    symbol: &'static str,
    sid: i64,
    domain: &'static str,
    prefixes: &'static [u32],
    decimals: &'static [u32],
    /// Price level against USD, in percent.
    rate: u64,
    carriers: &'static [&'static str],
}

const MARKETS: [Market; 4] = [
    Market {
        country: "8p-US 美国",
        symbol: "$",
        sid: 101,
        domain: "www.amazon.com",
        prefixes: &[111, 112, 113, 114],
        decimals: &[2, 3, 3, 4],
        rate: 100,
        carriers: &["USPS", "UPS", "FedEx"],
    },
    Market {
        country: "UK 英国",
        symbol: "£",
        sid: 102,
        domain: "www.amazon.co.uk",
        prefixes: &[202, 203, 204, 205, 206],
        decimals: &[2],
        rate: 80,
        carriers: &["Royal Mail", "Evri", "DPD"],
    },
    Market {
        country: "DE 德国",
        symbol: "€",
        sid: 103,
        domain: "www.amazon.de",
        prefixes: &[302, 303, 304, 305, 306],
        decimals: &[2, 6],
        rate: 92,
        carriers: &["DHL", "Hermes", "DPD"],
    },
    Market {
        country: "FR 法国",
        symbol: "€",
        sid: 104,
        domain: "www.amazon.fr",
        prefixes: &[402, 403, 404, 405, 407],
        decimals: &[2, 3],
        rate: 92,
        carriers: &["La Poste", "Colissimo", "Chronopost"],
    },
];
/// US half the records, UK and DE a fifth each, FR a tenth.
const MARKET_WEIGHTS: [usize; 10] = [0, 0, 0, 0, 0, 1, 1, 2, 2, 3];

struct AItem {
    name: &'static str,
    local_name: &'static str,
    local_sku: &'static str,
    msku: &'static str,
    /// US cents.
    price: u64,
}

const fn item(
    name: &'static str,
    local_name: &'static str,
    local_sku: &'static str,
    msku: &'static str,
    price: u64,
) -> AItem {
    AItem { name, local_name, local_sku, msku, price }
}

const AMAZON_ITEMS: &[AItem] = &[
    item("Love Pearl Bottom Hair Circle", "自动010", "auto010", "Pink_Head_Rope_12", 235),
    item(
        "Wireless Earbuds Bluetooth 5.3 Headphones with Charging Case, IPX7 Waterproof",
        "[演示数据]无线蓝牙耳机",
        "EAR-BT53-BK",
        "EAR-BT53-Black",
        2999,
    ),
    item(
        "Kids Headphones Over Ear with 85dB Volume Limit, Foldable",
        "[演示数据]Sony儿童耳机",
        "KH-085-BL",
        "MSKU52FB8CE",
        1999,
    ),
    item(
        "Stainless Steel Insulated Water Bottle 32oz, Leak Proof Lid",
        "保温水杯 1L",
        "WB-32-SS",
        "WB32-Steel-Blue",
        2499,
    ),
    item("Silicone Kitchen Utensil Set, 12 Pieces with Holder", "硅胶厨具12件套", "KU-12-GR", "KU12-Gray", 3299),
    item("LED Desk Lamp with USB Charging Port, 5 Color Modes", "LED护眼台灯", "DL-LED-05", "DeskLamp-5Mode-W", 3599),
    item("Yoga Mat Non Slip 6mm Thick with Carrying Strap", "加厚防滑瑜伽垫", "YM-6MM-PU", "YogaMat-6mm-Purple", 2299),
    item(
        "Clear Phone Case for iPhone 15 Pro, Shockproof Bumper",
        "iPhone15Pro透明手机壳",
        "PC-IP15P-CL",
        "Case-IP15Pro-Clear",
        999,
    ),
    item("Resistance Bands Set of 5 with Door Anchor and Handles", "弹力带5件套", "RB-5SET", "ResBand-5Set", 1599),
    item("Bamboo Cutting Board Set of 3 with Juice Groove", "竹制砧板三件套", "CB-BAM-3", "BambooBoard-3", 2799),
    item("Magnetic Car Phone Holder Mount for Dashboard", "磁吸车载支架", "CH-MAG-01", "CarMount-Mag-01", 1499),
    item(
        "Pet Grooming Brush, Self Cleaning Slicker for Dogs and Cats",
        "宠物除毛梳",
        "PB-SC-01",
        "PetBrush-SelfClean",
        1299,
    ),
    item("Portable Blender USB Rechargeable 380ml", "便携榨汁杯", "PBL-380-PK", "Blender380-Pink", 2599),
    item("Ceramic Coffee Mugs Set of 4, 12oz", "陶瓷马克杯4只装", "MUG-12-4", "Mug12oz-Set4", 2899),
    item(
        "Packing Cubes for Travel, 6 Set Luggage Organizers",
        "旅行收纳袋6件套",
        "PC-6SET-NV",
        "PackCube-6-Navy",
        1899,
    ),
    item("Electric Milk Frother Handheld with Stand", "电动打奶器", "MF-HH-01", "Frother-Stand-BK", 1099),
];

fn asin(item: usize) -> String {
    let mut r = Rng::new(stream::L_ASIN, item as u64);
    let mut s = String::from("B0");
    r.push_from(&mut s, 8, UPPER_ALNUM);
    s
}

/// Line types of a record: 1 refund (退款), 2 return (退货), 3 exchange (换货).
const PATTERNS: &[&[u8]] =
    &[&[1], &[1], &[1], &[1], &[1], &[1, 1], &[2, 1], &[2, 1], &[2, 1], &[2], &[2, 1, 1], &[3], &[3], &[3, 2], &[2]];

/// `return_status` values, as the states of a line's [`Life`].
const STATUS: [&str; 11] = [
    "",
    "Pending",
    "Cancelled",
    "Rejected",
    "Refunded",
    "Approved",
    "In transit",
    "Received",
    "Unit returned to inventory",
    "Completed",
    "Closed",
];
const BLANK: u8 = 0;
const PENDING: u8 = 1;
const CANCELLED: u8 = 2;
const REJECTED: u8 = 3;
const REFUNDED: u8 = 4;
const APPROVED: u8 = 5;
const IN_TRANSIT: u8 = 6;
const RECEIVED: u8 = 7;
const RETURNED: u8 = 8;
const COMPLETED: u8 = 9;
const CLOSED: u8 = 10;

/// A line's way to its last status: requested, approved, the goods on their way back, received.
fn path(kind: u8, last: u8) -> &'static [u8] {
    match last {
        BLANK => &[BLANK],
        PENDING => &[PENDING],
        CANCELLED => &[PENDING, CANCELLED],
        REJECTED => &[PENDING, REJECTED],
        REFUNDED => &[PENDING, REFUNDED],
        APPROVED => &[PENDING, APPROVED],
        IN_TRANSIT => &[PENDING, APPROVED, IN_TRANSIT],
        RECEIVED => &[PENDING, APPROVED, IN_TRANSIT, RECEIVED],
        RETURNED => &[PENDING, APPROVED, IN_TRANSIT, RECEIVED, RETURNED],
        COMPLETED if kind == 3 => &[PENDING, APPROVED, IN_TRANSIT, COMPLETED],
        COMPLETED => &[PENDING, APPROVED, IN_TRANSIT, RECEIVED, COMPLETED],
        _ => &[PENDING, APPROVED, CLOSED],
    }
}

/// A line's last status, and whether it ends refunded.
fn last_status(r: &mut Rng, kind: u8) -> (u8, bool) {
    match kind {
        1 if r.pct(80) => (r.pick(&[BLANK, BLANK, BLANK, BLANK, REFUNDED]), true),
        1 => (r.pick(&[BLANK, PENDING, CANCELLED, REJECTED]), false),
        2 => {
            let st = r.pick(&[
                PENDING, APPROVED, APPROVED, IN_TRANSIT, RECEIVED, RETURNED, COMPLETED, COMPLETED, CLOSED, REJECTED,
                CANCELLED,
            ]);
            (st, st == COMPLETED && r.pct(50))
        }
        _ => (r.pick(&[PENDING, APPROVED, IN_TRANSIT, COMPLETED, CLOSED]), false),
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct LSkel {
    pub index: u64,
    pub market: usize,
    /// The after-sale lines that exist at the caller's clock (a later one may be to come).
    pub lines: &'static [u8],
    pub purchase: i64,
    pub deal: i64,
    pub modified: i64,
    pub after: [i64; 3],
    /// Each line's status at the caller's clock (an index of [`STATUS`]) and since when.
    pub status: [u8; 3],
    pub update: [i64; 3],
    /// Whether each line has been refunded by the caller's clock.
    pub refunded: [bool; 3],
}

/// Record `i` (a slot index) as it stands at `now` (China-local seconds).
pub(crate) fn l_skel(now: i64, i: u64) -> LSkel {
    let mut r = Rng::new(stream::L_RECORD, i);
    let market = r.pick(&MARKET_WEIGHTS);
    let pattern = r.pick(PATTERNS);
    let deal = moment_in(&mut r, (i / SLOTS) as i64);
    let mut after = [deal; 3];
    let mut status = [BLANK; 3];
    let mut update = [deal; 3];
    let mut refunded = [false; 3];
    let mut present = 0;
    for (j, &kind) in pattern.iter().enumerate() {
        if j > 0 {
            after[j] = after[j - 1] + r.between(0, 2 * DAY);
        }
        let mut lr = Rng::new(stream::L_LIFE, i * 4 + j as u64);
        let (last, ends_refunded) = last_status(&mut lr, kind);
        let life = Life::new(&mut lr, after[j], path(kind, last), |r, _| r.between(HOUR, 3 * DAY));
        if after[j] <= now {
            present = j + 1;
            (status[j], update[j]) = life.at(now);
            refunded[j] = ends_refunded && status[j] == last;
        }
    }
    let lines = &pattern[..present];
    let modified = update[..present].iter().copied().max().unwrap_or(deal);
    let purchase = deal - r.between(DAY / 2, 40 * DAY);
    LSkel { index: i, market, lines, purchase, deal, modified, after, status, update, refunded }
}

/// The records of the window that exist at its clock, oldest slot first. Never on the window's
/// first China day: on a site's clock (up to 16 h behind China) it would fall before it.
pub(crate) fn skeletons(cal: Calendar) -> impl Iterator<Item = LSkel> {
    cal.slots(&LINGXING_WEEK, 1).map(move |s| l_skel(cal.now, s.index)).filter(|s| !s.lines.is_empty())
}

impl LSkel {
    pub fn amazon_order_id(&self) -> String {
        let mut r = Rng::new(stream::L_DETAIL ^ 0xa0, self.index);
        let prefix = r.pick(MARKETS[self.market].prefixes);
        format!("{prefix:03}-{:07}-{:07}", r.below(10_000_000), r.below(10_000_000))
    }

    /// The queried date on its field's own clock: purchase and deal times are in the shop's
    /// site time, the modification time in Beijing time (UPSTREAMS.md).
    fn date(&self, date_type: i64) -> i64 {
        match date_type {
            2 => self.site(self.purchase),
            3 => self.modified,
            _ => self.site(self.deal),
        }
    }

    /// A moment the calendar keeps in China time, on the site's clock instead.
    pub(crate) fn site(&self, china: i64) -> i64 {
        site_time(self.market, china)
    }
}

/// `china` (China-local seconds, as the calendar counts) on the clock of market `market`'s site:
/// its zone's offset at that instant, daylight saving included.
fn site_time(market: usize, china: i64) -> i64 {
    let unix = china - CHINA;
    match aftersale::lingxing::marketplace::site(MARKETS[market].country).zone {
        Some(zone) => unix + i64::from(zone.offset_at(unix)) * 60,
        None => china,
    }
}

struct LQuery {
    start_day: i64,
    end_day: i64,
    date_type: i64,
    offset: u64,
    length: u64,
    after_types: Vec<u8>,
    sids: Vec<i64>,
    order_ids: Vec<String>,
}

fn parse_query(body: &Map<String, Value>) -> Result<LQuery, String> {
    let day = |name: &str| -> Result<i64, String> {
        match body.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => {
                parse_day(s).ok_or_else(|| format!("{name} 格式错误, 应为 Y-m-d: {s:?}"))
            }
            _ => Err(format!("{name} 不能为空")),
        }
    };
    let int = |name: &str, default: i64| -> Result<i64, String> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => int_of(v).ok_or_else(|| format!("{name} 必须是整数")),
        }
    };
    let start_day = day("start_date")?;
    let end_day = day("end_date")?;
    if end_day < start_day {
        return Err("end_date 不能早于 start_date".into());
    }
    let date_type = int("date_type", 1)?;
    if !(1..=3).contains(&date_type) {
        return Err(format!("date_type 取值无效: {date_type}"));
    }
    let offset = int("offset", 0)?;
    if offset < 0 {
        return Err(format!("offset 不能为负数: {offset}"));
    }
    let length = int("length", 1000)?;
    if !(1..=5000).contains(&length) {
        return Err(format!("length 取值范围为 1-5000, 收到 {length}"));
    }
    let list = |name: &str| -> Result<Vec<String>, String> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(v) => match text_of(v) {
                Some(s) => Ok(s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()),
                None => Err(format!("{name} 必须是以英文逗号分隔的字符串")),
            },
        }
    };
    let after_types = list("after_type")?
        .iter()
        .map(|t| match t.as_str() {
            "1" => Ok(1),
            "2" => Ok(2),
            "3" => Ok(3),
            other => Err(format!("after_type 取值无效: {other:?}")),
        })
        .collect::<Result<Vec<u8>, String>>()?;
    let sids = list("sid")?
        .iter()
        .map(|s| s.parse::<i64>().map_err(|_| format!("sid 取值无效: {s:?}")))
        .collect::<Result<Vec<i64>, String>>()?;
    let order_ids = match body.get("amazon_order_id_list") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            if items.len() > 50 {
                return Err(format!("amazon_order_id_list 上限50, 收到 {}", items.len()));
            }
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.trim().to_string()),
                    _ => Err("amazon_order_id_list 必须是字符串数组".to_string()),
                })
                .collect::<Result<Vec<String>, String>>()?
        }
        Some(_) => return Err("amazon_order_id_list 必须是数组".into()),
    };
    Ok(LQuery {
        start_day,
        end_day,
        date_type,
        offset: offset as u64,
        length: length as u64,
        after_types,
        sids,
        order_ids,
    })
}

/// The matching records, newest first by the queried date, ties in record order.
fn select(cal: Calendar, q: &LQuery) -> Vec<LSkel> {
    let mut hits: Vec<(i64, LSkel)> = skeletons(cal)
        .filter_map(|s| {
            // Sorted by the stored local text, as a database of site times would.
            let t = s.date(q.date_type);
            (q.start_day..q.end_day).contains(&t.div_euclid(DAY)).then_some((t, s))
        })
        .filter(|(_, s)| q.after_types.is_empty() || s.lines.iter().any(|t| q.after_types.contains(t)))
        .filter(|(_, s)| q.sids.is_empty() || q.sids.contains(&MARKETS[s.market].sid))
        .filter(|(_, s)| q.order_ids.is_empty() || q.order_ids.contains(&s.amazon_order_id()))
        .collect();
    hits.sort_by(|(ta, a), (tb, b)| tb.cmp(ta).then_with(|| a.index.cmp(&b.index)));
    hits.into_iter().map(|(_, s)| s).collect()
}

/// `POST /erp/sc/routing/amzod/order/afterSaleList?access_token&app_key&timestamp&sign`.
pub(crate) fn list(ctx: &Ctx<'_>) -> Response {
    if !ctx.is_post() {
        return reply(405, &NotAllowed { code: 405, message: "Request method 'GET' not supported" });
    }
    for name in ["access_token", "app_key", "timestamp", "sign"] {
        if ctx.param(name).is_none_or(|v| v.trim().is_empty()) {
            return error(ctx, 3001001, &format!("缺少公共参数: {name}"));
        }
    }
    let app_key = ctx.param("app_key").unwrap_or("");
    let timestamp = ctx.param("timestamp").unwrap_or("");
    match timestamp.parse::<i64>() {
        Ok(ts) if (ts - (ctx.now_ms / 1000) as i64).abs() <= 120 => {}
        _ => return error(ctx, 2001007, "签名已过期, timestamp 与服务器时间相差超过 120 秒"),
    }
    let body = if ctx.request.body.iter().all(u8::is_ascii_whitespace) { Some(Map::new()) } else { ctx.json_body() };
    let Some(body) = body else {
        return error(ctx, 102, "请求体必须是 JSON 对象");
    };
    let mut signed = body.clone();
    for (k, v) in ctx.query.iter().filter(|(k, _)| k != "sign") {
        signed.insert(k.clone(), Value::String(v.clone()));
    }
    match aftersale::lingxing::sign(&signed, app_key) {
        Ok(expected) if expected == ctx.param("sign").unwrap_or("") => {}
        _ => return error(ctx, 2001006, "签名错误"),
    }
    let q = match parse_query(&body) {
        Ok(q) => q,
        Err(msg) => return error(ctx, 102, &msg),
    };
    let hits = select(ctx.cal, &q);
    let start = usize::try_from(q.offset).unwrap_or(usize::MAX).min(hits.len());
    let end = start.saturating_add(q.length as usize).min(hits.len());
    envelope(ctx, 0, "success", &[], &hits[start..end], hits.len() as u64)
}

/// `units` of 10^-decimals as `-$4.700` (sign, symbol, digits).
fn amount(negative: bool, symbol: &str, units: u64, decimals: u32) -> String {
    let scale = 10u64.pow(decimals);
    let sign = if negative { "-" } else { "" };
    if decimals == 0 {
        return format!("{sign}{symbol}{units}");
    }
    format!("{sign}{symbol}{}.{:0width$}", units / scale, units % scale, width = decimals as usize)
}

/// One rendered after-sale line, before it is written.
struct LLine {
    kind: u8,
    item: usize,
    qty: u64,
    status: &'static str,
    refund: Vec<(&'static str, u64)>,
    cost: Vec<(&'static str, u64)>,
}

fn l_lines(s: &LSkel, decimals: u32) -> Vec<LLine> {
    let m = &MARKETS[s.market];
    let mut r = Rng::new(stream::L_DETAIL, s.index);
    let main = r.below(AMAZON_ITEMS.len() as u64) as usize;
    let mut lines = Vec::with_capacity(s.lines.len());
    for (j, &kind) in s.lines.iter().enumerate() {
        let mut lr = Rng::new(stream::L_LINE, s.index * 4 + j as u64);
        // Two refund lines in a row are two products; a refund after a return is the same one.
        let item = if j > 0 && kind == 1 && s.lines[j - 1] == 1 {
            (main + 1 + lr.below(AMAZON_ITEMS.len() as u64 - 1) as usize) % AMAZON_ITEMS.len()
        } else {
            main
        };
        let qty = lr.pick(&[1, 1, 1, 1, 2, 3]);
        let (status, refunded) = (STATUS[s.status[j] as usize], s.refunded[j]);
        let mut refund = Vec::new();
        let mut cost = Vec::new();
        if refunded {
            let scale = 10u64.pow(decimals - 2);
            let price = AMAZON_ITEMS[item].price * m.rate / 100;
            let mut principal = price * qty * scale;
            if decimals == 6 {
                principal -= lr.below(scale);
            }
            refund.push(("Principal", principal));
            if lr.pct(30) {
                refund.push(("ShippingCharge", lr.between(99, 599) as u64 * scale));
            }
            if lr.pct(10) {
                refund.push(("Goodwill", lr.between(100, 500) as u64 * scale));
            }
            let total: u64 = refund.iter().map(|(_, u)| u).sum();
            cost.push(("Commission", total * lr.between(8, 15) as u64 / 100));
            if lr.pct(40) {
                cost.push(("RefundCommission", lr.between(10, 120) as u64 * scale));
            }
        }
        lines.push(LLine { kind, item, qty, status, refund, cost });
    }
    lines
}

/// One Amazon order with after-sales, as the list gives it.
#[derive(Serialize)]
struct Record {
    /// Documented as not unique: neighbouring records share one.
    id: i64,
    asin: String,
    msku: &'static str,
    amazon_order_id: String,
    sid: i64,
    purchase_time: Time,
    deal_time: Time,
    gmt_modified: Time,
    correlation_id: i64,
    interval_days: i64,
    is_mcf_order: i64,
    seller_country: &'static str,
    delivery_type: &'static str,
    order_total_amount: String,
    order_total_amount_currency_code: &'static str,
    order_total_amount_number: String,
    /// These six are `""` when nothing was refunded.
    total_refund_amount: String,
    total_refund_amount_currency_code: &'static str,
    total_refund_amount_number: String,
    total_refund_cost: String,
    total_refund_cost_currency_code: &'static str,
    total_refund_cost_number: String,
    after_type_tag: Vec<&'static str>,
    item_list: Vec<Line>,
}

#[derive(Serialize)]
struct Detail {
    #[serde(rename = "type")]
    kind: &'static str,
    amount: String,
}

/// One after-sale line of a record.
#[derive(Serialize)]
struct Line {
    small_image_url: String,
    item_name: &'static str,
    local_sku: &'static str,
    local_name: &'static str,
    asin: String,
    asin_url: String,
    msku: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fid: Option<String>,
    after_type: &'static str,
    after_time: Time,
    data_update_time: Time,
    after_interval: String,
    refund_amount: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refund_amount_details: Option<Vec<Detail>>,
    refund_cost: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refund_cost_details: Option<Vec<Detail>>,
    refund_currency_icon: &'static str,
    after_quantity: u64,
    after_reason: &'static str,
    return_status: &'static str,
    inventory_attributes: &'static str,
    lpn_number: String,
    buyers_note: &'static str,
    rma_order_number: String,
    carriers: &'static str,
    waybill_number: String,
    exchange_order_number: String,
    md5: String,
    md5_new: String,
    /// The key; missing (or empty) on some lines, which then carry only `md5_v2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    item_identifier: Option<String>,
    md5_v2: String,
    #[serde(rename = "orderDateYear")]
    order_date_year: i64,
    row_index: u64,
}

fn record(s: &LSkel) -> Record {
    let m = &MARKETS[s.market];
    let mut r = Rng::new(stream::L_DETAIL ^ 0x5c, s.index);
    let decimals = r.pick(m.decimals);
    let lines = l_lines(s, decimals);
    let main = &AMAZON_ITEMS[lines[0].item];
    let order_total: u64 = lines.iter().map(|l| AMAZON_ITEMS[l.item].price * m.rate / 100 * l.qty).sum();
    let refund_total: u64 = lines.iter().flat_map(|l| l.refund.iter().map(|(_, u)| *u)).sum();
    let cost_total: u64 = lines.iter().flat_map(|l| l.cost.iter().map(|(_, u)| *u)).sum();
    let mut tags: Vec<&'static str> = Vec::new();
    for l in &lines {
        let tag = after_type_name(l.kind);
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let refunded = refund_total > 0;
    let when_refunded = |f: &dyn Fn() -> String| if refunded { f() } else { String::new() };
    Record {
        id: 10 + s.index as i64 / 3,
        asin: asin(lines[0].item),
        msku: main.msku,
        amazon_order_id: s.amazon_order_id(),
        sid: m.sid,
        purchase_time: Time(s.site(s.purchase)),
        deal_time: Time(s.site(s.deal)),
        gmt_modified: Time(s.modified),
        correlation_id: r.between(1, 9),
        interval_days: (s.deal - s.purchase) / DAY,
        is_mcf_order: if r.pct(10) { 2 } else { 1 },
        seller_country: m.country,
        delivery_type: if r.pct(70) { "FBA" } else { "FBM" },
        order_total_amount: amount(false, m.symbol, order_total, 2),
        order_total_amount_currency_code: m.symbol,
        order_total_amount_number: amount(false, "", order_total, 2),
        total_refund_amount: when_refunded(&|| amount(true, m.symbol, refund_total, decimals)),
        total_refund_amount_currency_code: if refunded { m.symbol } else { "" },
        total_refund_amount_number: when_refunded(&|| amount(true, "", refund_total, decimals)),
        total_refund_cost: when_refunded(&|| amount(false, m.symbol, cost_total, decimals)),
        total_refund_cost_currency_code: if refunded { m.symbol } else { "" },
        total_refund_cost_number: when_refunded(&|| amount(false, "", cost_total, decimals)),
        after_type_tag: tags,
        item_list: lines.iter().enumerate().map(|(j, l)| line(s, m, j, l, decimals)).collect(),
    }
}

fn after_type_name(kind: u8) -> &'static str {
    match kind {
        1 => "退款",
        2 => "退货",
        _ => "换货",
    }
}

fn line(s: &LSkel, m: &Market, j: usize, l: &LLine, decimals: u32) -> Line {
    let mut r = Rng::new(stream::L_LINE ^ 0x77, s.index * 4 + j as u64);
    let it = &AMAZON_ITEMS[l.item];
    let asin = asin(l.item);
    let refund_total: u64 = l.refund.iter().map(|(_, u)| u).sum();
    let cost_total: u64 = l.cost.iter().map(|(_, u)| u).sum();
    let refunded = refund_total > 0;
    // What comes with a status has a stream of its own, so a line moving on keeps the rest (and
    // an RMA keeps its number once the goods are on their way).
    let own = |salt: u64| Rng::new(stream::L_LINE ^ salt, s.index * 4 + j as u64);
    let mut money = own(0x101);
    // Now and then the amount comes without its symbol, which is then in refund_currency_icon.
    let bare = refunded && money.pct(10);
    let symbol = if bare { "" } else { m.symbol };
    let after_days = (s.after[j] - s.purchase) / DAY;
    let shipped_back = l.kind != 1 && !matches!(l.status, "Pending" | "Approved" | "Cancelled" | "Rejected");
    let received = matches!(l.status, "Received" | "Unit returned to inventory" | "Completed");
    let fid = r.pct(30).then(|| {
        let mut fid = String::new();
        r.push_from(&mut fid, 13, UPPER_ALNUM);
        fid
    });
    let details = |parts: &[(&'static str, u64)], negative: bool| -> Option<Vec<Detail>> {
        refunded.then(|| {
            parts.iter().map(|(t, u)| Detail { kind: t, amount: amount(negative, m.symbol, *u, decimals) }).collect()
        })
    };
    let refund_currency_icon = if bare || (refunded && money.pct(50)) { m.symbol } else { "" };
    let after_reason = match l.kind {
        1 => r.pick(&[
            "",
            "",
            "CR-UNWANTED_ITEM",
            "CR-MISSED_ESTIMATED_DELIVERY",
            "CR-DAMAGED_BY_CARRIER",
            "AMZ-PG-BAD-DESC",
        ]),
        _ => r.pick(&[
            "CR-ORDERED_WRONG_ITEM",
            "CR-DEFECTIVE",
            "CR-UNWANTED_ITEM",
            "CR-NOT_AS_DESCRIBED",
            "CR-SWITCHEROO",
            "CR-QUALITY_UNACCEPTABLE",
            "CR-FOUND_BETTER_PRICE",
            "CR-NO_REASON_GIVEN",
        ]),
    };
    let mut receipt = own(0x102);
    let inventory_attributes = if received { receipt.pick(&["SELLABLE", "DEFECTIVE", "CUSTOMER_DAMAGED"]) } else { "" };
    let mut lpn_number = String::new();
    if received {
        lpn_number.push_str("LPN");
        receipt.push_from(&mut lpn_number, 10, UPPER_ALNUM);
    }
    let buyers_note = if r.pct(35) {
        r.pick(&[
            "Item arrived damaged, box was crushed.",
            "Wrong color sent.",
            "No longer needed.",
            "Stopped working after two days.",
            "自动化备注",
            "Size too small.",
            "Ordered by mistake.",
        ])
    } else {
        ""
    };
    let (mut rma, mut waybill) = (String::new(), String::new());
    let carriers = if shipped_back || (l.kind != 1 && l.status == "Approved") {
        own(0x103).push_from(&mut rma, 8, ALNUM);
        rma.push_str("RMA");
        if shipped_back {
            let mut parcel = own(0x104);
            parcel.push_digits(&mut waybill, 22);
            parcel.pick(m.carriers)
        } else {
            ""
        }
    } else {
        ""
    };
    let exchange = if l.kind == 3 && matches!(l.status, "Approved" | "In transit" | "Completed") {
        let mut e = own(0x105);
        let p = e.pick(m.prefixes);
        format!("{p:03}-{:07}-{:07}", e.below(10_000_000), e.below(10_000_000))
    } else {
        String::new()
    };
    let mut md5 = String::new();
    r.push_hex(&mut md5, 32);
    let mut md5_new = String::new();
    r.push_hex(&mut md5_new, 32);
    let mut id = Rng::new(stream::L_LINE ^ 0x1d, s.index * 4 + j as u64);
    let mut identifier = String::new();
    id.push_hex(&mut identifier, 32);
    let mut md5_v2 = String::new();
    id.push_hex(&mut md5_v2, 24);
    let item_identifier = match id.below(12) {
        0 | 1 => None,
        2 => Some(String::new()),
        _ => Some(identifier),
    };
    Line {
        small_image_url: format!("https://images.example.com/amazon/{asin}.jpg"),
        item_name: it.name,
        local_sku: it.local_sku,
        local_name: it.local_name,
        asin_url: format!("https://{}/dp/{asin}", m.domain),
        asin,
        msku: it.msku,
        fid,
        after_type: after_type_name(l.kind),
        after_time: Time(s.site(s.after[j])),
        data_update_time: Time(s.update[j]),
        after_interval: format!("{after_days}天"),
        refund_amount: if refunded { amount(true, symbol, refund_total, decimals) } else { String::new() },
        refund_amount_details: details(&l.refund, true),
        refund_cost: if refunded { amount(false, symbol, cost_total, decimals) } else { String::new() },
        refund_cost_details: details(&l.cost, false),
        refund_currency_icon,
        after_quantity: l.qty,
        after_reason,
        return_status: l.status,
        inventory_attributes,
        lpn_number,
        buyers_note,
        rma_order_number: rma,
        carriers,
        waybill_number: waybill,
        exchange_order_number: exchange,
        md5,
        md5_new,
        item_identifier,
        md5_v2,
        order_date_year: i64::from(Date::from_days_since_epoch(s.purchase.div_euclid(DAY)).year),
        row_index: j as u64 + 1,
    }
}
