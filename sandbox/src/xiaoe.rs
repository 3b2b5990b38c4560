//! Xiaoe-tech (小鹅通): the token endpoint and the after-sale list (seed 001's shape).

use serde::Serialize;
use serde_json::{Map, Value};

use aftersale::http::Response;

use crate::calendar::{
    moment_in, parse_day, shared_delay, shared_path, Calendar, Life, Time, Week, CHINA, DAY, HOUR, SLOTS,
};
use crate::request::{int_of, ok, text_of, Ctx};
use crate::rng::{mix, stream, token_value, Rng, ALNUM};
use crate::K;

/// After-sales created per day of the week: twenty a week, about 600 in the window.
pub(crate) const XIAOE_WEEK: Week = [3, 2, 4, 3, 2, 3, 3];

/// Xiaoe's envelope: `{code, msg, data}`, `data` null on errors.
#[derive(Serialize)]
struct Envelope<'a, T> {
    code: i64,
    msg: &'a str,
    data: Option<T>,
}

fn error(code: i64, msg: &str) -> Response {
    ok(&Envelope::<()> { code, msg, data: None })
}

#[derive(Serialize)]
struct Token {
    access_token: String,
    expires_in: i64,
}

/// `GET /token?app_id&client_id&secret_key&grant_type=client_credential`.
pub(crate) fn token(ctx: &Ctx<'_>) -> Response {
    for name in ["app_id", "client_id", "secret_key", "grant_type"] {
        if ctx.param(name).unwrap_or("").is_empty() {
            return error(2002, &format!("参数错误: {name} 不能为空"));
        }
    }
    if ctx.param("grant_type") != Some("client_credential") {
        return error(2002, "参数错误: grant_type 只能是 client_credential");
    }
    let access_token = token_value("xiaoe", ctx.param("app_id").unwrap_or(""), ctx.now_ms, 32, b"0123456789abcdef");
    ok(&Envelope { code: 0, msg: "ok", data: Some(Token { access_token, expires_in: 7200 }) })
}

#[derive(Serialize)]
struct ListData {
    list: Vec<Record>,
    row_count: u64,
}

/// `POST /xe.ecommerce.after_sale.list/1.0.0`.
pub(crate) fn list(ctx: &Ctx<'_>) -> Response {
    if !ctx.is_post() {
        return error(2055, "请求方法错误, 请使用 POST");
    }
    let Some(body) = ctx.json_body() else {
        return error(2002, "参数错误: 请求体必须是 JSON 对象");
    };
    match body.get("access_token").and_then(text_of) {
        Some(t) if !t.trim().is_empty() => {}
        _ => return error(2007, "access_token 缺失"),
    }
    let q = match parse_query(&body) {
        Ok(q) => q,
        Err(msg) => return error(2002, &msg),
    };
    let hits = select(ctx.cal, &q);
    let start = usize::try_from((q.page_index - 1).saturating_mul(q.page_size)).unwrap_or(usize::MAX);
    let list = hits.iter().skip(start).take(q.page_size as usize).map(record).collect();
    ok(&Envelope { code: 0, msg: "操作成功", data: Some(ListData { list, row_count: hits.len() as u64 }) })
}

struct XGoods {
    name: &'static str,
    tag: &'static str,
    resource_type: i64,
    /// Fen.
    price: i64,
    physical: bool,
    img: &'static str,
    skus: &'static [&'static str],
}

const fn course(name: &'static str, tag: &'static str, resource_type: i64, price: i64, img: &'static str) -> XGoods {
    XGoods { name, tag, resource_type, price, physical: false, img, skus: &[] }
}

const fn goods(name: &'static str, price: i64, img: &'static str, skus: &'static [&'static str]) -> XGoods {
    XGoods { name, tag: "实物商品", resource_type: 21, price, physical: true, img, skus }
}

const XIAOE_GOODS: &[XGoods] = &[
    course("21天Python编程入门训练营", "训练营", 25, 19900, "python-camp"),
    course("零基础水彩画入门课（32节）", "视频", 3, 9900, "watercolor"),
    course("高效时间管理：从拖延到自律", "音频", 2, 2990, "time-management"),
    course("《小王子》逐章精读", "音频", 2, 1990, "little-prince"),
    course("职场Excel实战技巧100讲", "专栏", 6, 6900, "excel-100"),
    course("育儿心理学50讲", "专栏", 6, 9900, "parenting-50"),
    course("播音主持声音训练营", "训练营", 25, 29900, "voice-camp"),
    course("Lightroom摄影后期调色精讲", "视频", 3, 12800, "lightroom"),
    course("考研英语词汇精讲班", "视频", 3, 39900, "kaoyan-english"),
    course("30天瑜伽晨练计划", "视频", 3, 4900, "yoga-30"),
    course("HX付费图文关联作业", "图文", 1, 20, "hx-homework"),
    course("家庭理财入门：小白也能学会的记账法", "图文", 1, 990, "family-finance"),
    course("年度会员（全站课程畅学）", "会员", 5, 36500, "annual-member"),
    course("直播回放：短视频运营实战", "直播", 4, 1990, "short-video-live"),
    course("《认知觉醒》精读电子书", "电子书", 20, 3990, "ebook-awakening"),
    course("AI绘画入门：Midjourney实战", "视频", 3, 15900, "ai-painting"),
    goods("课程配套练习册（全3册）", 6800, "workbook", &["规格:全3册", "规格:单册-上", "规格:单册-下"]),
    goods("A5皮面定制笔记本", 5900, "notebook-a5", &["颜色:棕色;尺寸:A5", "颜色:黑色;尺寸:A5", "颜色:墨绿;尺寸:B5"]),
    goods("手冲咖啡入门套装", 25900, "pour-over-kit", &["颜色:白色", "颜色:黑色"]),
    goods("书法练字字帖套装", 3990, "calligraphy", &["字体:楷书", "字体:行书"]),
    goods("正念冥想坐垫", 12900, "meditation-cushion", &["颜色:燕麦色", "颜色:灰蓝色"]),
    goods("24色固体水彩颜料套装", 8900, "watercolor-set", &["规格:24色", "规格:36色"]),
    goods("加厚防滑瑜伽垫 6mm", 9900, "yoga-mat", &["颜色:香芋紫", "颜色:岩石灰"]),
    goods("儿童英语点读笔礼盒", 39900, "reading-pen", &["版本:标准版", "版本:升级版(32G)"]),
];
const XIAOE_COURSES: usize = 16;

const NICKS: &[&str] = &[
    "大肉丸",
    "小鹅同学",
    "Lily🌸",
    "阿杰",
    "晴天",
    "木子李",
    "一只鱼",
    "Kevin_W",
    "向日葵",
    "橙子味的夏天",
    "张老师",
    "momo",
    "陈小姐",
    "追光的人",
    "Yuki",
    "不吃香菜",
    "王大锤",
    "静待花开",
    "Tony",
    "小太阳☀",
    "林间有风",
    "三金",
    "Amy妈妈",
    "路人甲",
    "😊",
    "欧阳",
    "糖糖",
    "北方的狼",
    "苏苏",
    "学无止境",
];

const XIAOE_REFUND_STATES: &[u8] = &[0, 0, 1, 1, 2, 3, 4, 4, 9, 10, 11, 12, 13, 13, 13, 13, 13, 13];
const XIAOE_RETURN_STATES: &[u8] = &[0, 1, 2, 3, 5, 5, 6, 6, 7, 8, 8, 11, 12, 14, 14, 14, 14, 14];
const XIAOE_EXCHANGE_STATES: &[u8] = &[0, 1, 2, 6, 8, 15, 15, 15, 15, 16, 16, 17, 17, 18, 19, 19];

/// The order an after-sale belongs to: its own, or (for about one odd slot in eight) the
/// previous slot's of the same day, so some orders carry two after-sales.
fn x_owner(i: u64) -> u64 {
    if i % SLOTS % 2 == 1 && Rng::new(stream::X_PAIR, i / 2).pct(12) {
        i - 1
    } else {
        i
    }
}

#[derive(Clone, Copy, Debug)]
struct XLine {
    goods: usize,
    sku: usize,
    qty: i64,
}

#[derive(Clone, Copy, Debug)]
struct XOrder {
    placed: i64,
    first_aftersale: i64,
    lines: [Option<XLine>; 2],
    user: u64,
    usec: u32,
    suffix: u32,
    coupon: i64,
}

fn x_order(owner: u64) -> XOrder {
    let mut r = Rng::new(stream::X_ORDER, owner);
    let first_aftersale = moment_in(&mut r, (owner / SLOTS) as i64);
    let placed = first_aftersale - r.between(600, 20 * DAY);
    let physical = r.pct(40);
    let line = |r: &mut Rng| {
        let goods = if physical {
            XIAOE_COURSES + r.below((XIAOE_GOODS.len() - XIAOE_COURSES) as u64) as usize
        } else {
            r.below(XIAOE_COURSES as u64) as usize
        };
        let g = &XIAOE_GOODS[goods];
        let sku = if g.skus.is_empty() { 0 } else { r.below(g.skus.len() as u64) as usize };
        let qty = if physical { r.pick(&[1, 1, 1, 2, 2, 3]) } else { 1 };
        XLine { goods, sku, qty }
    };
    let first = line(&mut r);
    let second = if physical && r.pct(15) { Some(line(&mut r)).filter(|l| l.goods != first.goods) } else { None };
    let user = r.below(180);
    let usec = r.below(1_000_000) as u32;
    let suffix = r.between(10_000_000, 99_999_999) as u32;
    let coupon = if r.pct(30) { r.pick(&[300, 500, 1000, 2000]) } else { 0 };
    XOrder { placed, first_aftersale, lines: [Some(first), second], user, usec, suffix, coupon }
}

/// What filtering and sorting need of a Xiaoe record: no strings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct XSkel {
    pub index: u64,
    order: XOrder,
    pub kind: K,
    /// Where its life stands at the caller's clock.
    pub state: u8,
    pub created: i64,
    pub updated: i64,
    pub refunded: Option<i64>,
    pub usec: u32,
    pub suffix: u32,
}

/// Record `i` (a slot index) as it stands at `now` (China-local seconds).
pub(crate) fn x_skel(now: i64, i: u64) -> XSkel {
    let owner = x_owner(i);
    let order = x_order(owner);
    let mut r = Rng::new(stream::X_RECORD, i);
    let created = if owner == i { order.first_aftersale } else { order.first_aftersale + r.between(HOUR, 5 * DAY) };
    let physical = order.lines[0].is_some_and(|l| XIAOE_GOODS[l.goods].physical);
    let kind = if !physical {
        K::Refund
    } else {
        match r.below(100) {
            0..=24 => K::Refund,
            25..=69 => K::Return,
            _ => K::Exchange,
        }
    };
    let last = r.pick(match kind {
        K::Refund => XIAOE_REFUND_STATES,
        K::Return => XIAOE_RETURN_STATES,
        K::Exchange => XIAOE_EXCHANGE_STATES,
    });
    let life = Life::new(&mut r, created, shared_path(last), shared_delay);
    let (state, updated) = life.at(now);
    let refunded = matches!(state, 13 | 14).then_some(updated);
    let usec = r.below(1_000_000) as u32;
    let suffix = r.between(10_000_000, 99_999_999) as u32;
    XSkel { index: i, order, kind, state, created, updated, refunded, usec, suffix }
}

/// The records of the window that exist at its clock, oldest slot first.
pub(crate) fn skeletons(cal: Calendar) -> impl Iterator<Item = XSkel> {
    cal.slots(&XIAOE_WEEK, 0).map(move |s| x_skel(cal.now, s.index)).filter(move |s| s.created <= cal.now)
}

impl XSkel {
    pub fn aftersale_id(&self) -> String {
        let unix = self.created - CHINA;
        format!("A{unix}_{unix:08x}{:05x}_{:08}", self.usec, self.suffix)
    }

    pub fn order_id(&self) -> String {
        let unix = self.order.placed - CHINA;
        format!("o_{unix}_{unix:08x}{:05x}_{:08}", self.order.usec, self.order.suffix)
    }

    /// Sorts exactly as `aftersale_id` does as text (fixed widths: 10-digit unix, hex, 8 digits).
    fn id_key(&self) -> (i64, u32, u32) {
        (self.created, self.usec, self.suffix)
    }

    pub fn date(&self, field: XDateField) -> Option<i64> {
        match field {
            XDateField::Created => Some(self.created),
            XDateField::Updated => Some(self.updated),
            XDateField::Refunded => self.refunded,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum XDateField {
    Created,
    Updated,
    Refunded,
}

/// The validated list query.
pub(crate) struct XQuery {
    pub from_day: i64,
    pub to_day_inclusive: i64,
    pub field: XDateField,
    pub page_index: u64,
    pub page_size: u64,
    pub order_id: Option<String>,
}

fn parse_query(body: &Map<String, Value>) -> Result<XQuery, String> {
    let int = |name: &str| -> Result<Option<i64>, String> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => int_of(v).map(Some).ok_or_else(|| format!("参数错误: {name} 必须是整数")),
        }
    };
    let page_size = int("page_size")?.ok_or("参数错误: page_size 不能为空")?;
    if !(1..=100).contains(&page_size) {
        return Err(format!("参数错误: page_size 取值范围为 1-100, 收到 {page_size}"));
    }
    let page_index = int("page_index")?.ok_or("参数错误: page_index 不能为空")?;
    if page_index < 1 {
        return Err(format!("参数错误: page_index 必须大于等于 1, 收到 {page_index}"));
    }
    let range = match body.get("created_at") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim(),
        _ => return Err("参数错误: created_at 不能为空, 格式 YYYY-MM-DD||YYYY-MM-DD".into()),
    };
    let (a, b) = range
        .split_once("||")
        .ok_or_else(|| format!("参数错误: created_at 格式应为 YYYY-MM-DD||YYYY-MM-DD, 收到 {range:?}"))?;
    let (Some(from_day), Some(to_day)) = (parse_day(a), parse_day(b)) else {
        return Err(format!("参数错误: created_at 日期无效: {range:?}"));
    };
    if to_day < from_day {
        return Err(format!("参数错误: created_at 开始日期晚于结束日期: {range:?}"));
    }
    if to_day - from_day + 1 > 31 {
        return Err(format!("参数错误: created_at 时间跨度不能超过31天: {range:?}"));
    }
    let field = match body.get("date_type") {
        None | Some(Value::Null) => XDateField::Created,
        Some(Value::String(s)) => match s.as_str() {
            "" | "created_at" | "apply_time" => XDateField::Created,
            "updated_at" => XDateField::Updated,
            "refund_time" => XDateField::Refunded,
            other => return Err(format!("参数错误: date_type 取值无效: {other:?}")),
        },
        Some(other) => return Err(format!("参数错误: date_type 取值无效: {other}")),
    };
    let order_id = match body.get("order_id") {
        None | Some(Value::Null) => None,
        Some(v) => match text_of(v) {
            Some(s) if s.is_empty() => None,
            Some(s) => Some(s),
            None => return Err("参数错误: order_id 必须是字符串".into()),
        },
    };
    Ok(XQuery {
        from_day,
        to_day_inclusive: to_day,
        field,
        page_index: page_index as u64,
        page_size: page_size as u64,
        order_id,
    })
}

/// The matching records in the upstream's order: newest first by the queried date, ties by
/// `aftersale_id` ascending.
pub(crate) fn select(cal: Calendar, q: &XQuery) -> Vec<XSkel> {
    let mut hits: Vec<(i64, XSkel)> = skeletons(cal)
        .filter_map(|s| {
            let t = s.date(q.field)?;
            let day = t.div_euclid(DAY);
            (q.from_day..=q.to_day_inclusive).contains(&day).then_some((t, s))
        })
        .filter(|(_, s)| q.order_id.as_ref().is_none_or(|o| *o == s.order_id()))
        .collect();
    hits.sort_by(|(ta, a), (tb, b)| tb.cmp(ta).then_with(|| a.id_key().cmp(&b.id_key())));
    hits.into_iter().map(|(_, s)| s).collect()
}

fn xiaoe_state_str(state: u8) -> &'static str {
    match state {
        0 | 3 => "待商家处理",
        13..=15 => "售后成功",
        1 => "已撤销",
        4 | 5 | 7 | 18 => "售后关闭",
        _ => "售后中",
    }
}

fn xiaoe_state_reason(r: &mut Rng, state: u8) -> &'static str {
    match state {
        0 => "买家申请售后",
        1 => "买家撤销售后申请",
        2 => "商家已受理",
        3 => "商家逾期未处理",
        4 => r.pick(&["商家拒绝退款：课程已学习超过50%", "商家拒绝退款：已超过退款期限"]),
        5 => "商家拒绝退货退款：商品已影响二次销售",
        6 => "商家同意退货，等待买家寄回",
        7 => "买家逾期未寄回，售后关闭",
        8 => "买家已寄回，等待商家收货",
        11 => "商家同意退款，退款处理中",
        12 => "商家逾期未退款",
        13 => r.pick(&["商家同意退款", "商家主动发起售后", "系统自动退款"]),
        14 => "商家确认收货并退款",
        15 => "换货完成",
        16 => "商家已收到退货，待发出换货",
        17 => "换货已发出，待买家确认收货",
        18 => "商家拒绝换货：商品无质量问题",
        19 => "商家已收到退货",
        _ => "",
    }
}

fn x_user(user: u64) -> (String, String, String) {
    let mut r = Rng::new(stream::X_USER, user);
    let base = NICKS[(user % NICKS.len() as u64) as usize];
    let nick = if user < NICKS.len() as u64 { base.to_string() } else { format!("{base}{}", r.between(1, 9999)) };
    let mut user_id = String::from("u_");
    r.push_hex(&mut user_id, 13);
    user_id.push('_');
    r.push_from(&mut user_id, 10, ALNUM);
    let mut avatar = String::from("https://avatar.example.com/xiaoe/");
    r.push_hex(&mut avatar, 24);
    avatar.push_str(".png");
    (nick, user_id, avatar)
}

#[derive(Serialize)]
struct Goods {
    buy_num: i64,
    goods_name: &'static str,
    goods_price: i64,
    goods_tag: &'static str,
    img_url: String,
    resource_id: String,
    resource_type: i64,
    single_type: i64,
    /// Only goods with specifications have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    sku_id: Option<String>,
    sku_info: Option<&'static str>,
}

/// One after-sale as Xiaoe lists it; members in the seed's (alphabetical) order.
#[derive(Serialize)]
struct Record {
    actual_fee: i64,
    aftersale_id: String,
    apply_refund_money: i64,
    created_at: Time,
    goods_list: Vec<Goods>,
    goods_name: &'static str,
    img_url: String,
    invalid_time: Time,
    merchant_remark: &'static str,
    nick_name: String,
    order_id: String,
    original_price: i64,
    reason: &'static str,
    refund_money: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refund_time: Option<Time>,
    remark: &'static str,
    resource_type_str: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sale_type: Option<i64>,
    sale_type_name: &'static str,
    ship_state_str: &'static str,
    sku_id: String,
    sku_info: &'static str,
    state: i64,
    /// A time while the state can still lapse, else the upstream's own "no time" text.
    state_invalid_time: String,
    state_reason: &'static str,
    state_str: &'static str,
    updated_at: Time,
    use_collection: i64,
    user_id: String,
    wx_avatar: String,
}

fn image(g: &XGoods) -> String {
    format!("https://img.example.com/xiaoe/goods/{}.png", g.img)
}

fn record(s: &XSkel) -> Record {
    let mut r = Rng::new(stream::X_DETAIL, s.index);
    let lines: Vec<XLine> = s.order.lines.iter().flatten().copied().collect();
    let first = &XIAOE_GOODS[lines[0].goods];
    let original: i64 = lines.iter().map(|l| XIAOE_GOODS[l.goods].price * l.qty).sum();
    let actual = (original - s.order.coupon).max(original.min(1));
    let requested = match s.kind {
        K::Exchange => 0,
        _ if r.pct(70) => actual,
        _ => actual * r.between(30, 90) / 100,
    };
    let refund = if matches!(s.state, 13 | 14) { requested } else { 0 };
    let (nick, user_id, avatar) = x_user(s.order.user);
    let sku_info = if first.skus.is_empty() { "--" } else { first.skus[lines[0].sku] };
    let sku_id = |l: &XLine| {
        if XIAOE_GOODS[l.goods].physical {
            format!("SKU_{:08x}{:02}", mix(l.goods as u64 + 1) as u32, l.sku)
        } else {
            String::new()
        }
    };
    let reason = match s.kind {
        K::Refund => r.pick(&[
            "",
            "不想学了",
            "拍错了/多拍了",
            "课程内容与描述不符",
            "重复购买",
            "七天无理由退款",
            "老师讲得太快跟不上",
        ]),
        K::Return => r.pick(&["", "七天无理由退货", "质量问题", "商品破损", "与描述不符", "发错货了"]),
        K::Exchange => r.pick(&["尺寸/规格不合适", "颜色不喜欢", "质量问题", "发错规格"]),
    };
    let remark = if r.pct(40) {
        r.pick(&["麻烦尽快处理，谢谢", "已经联系过客服", "包装还没拆", "请换成黑色", "课程只看了一节"])
    } else {
        ""
    };
    let merchant_remark = if r.pct(30) {
        r.pick(&["已电话沟通", "客服小美跟进", "退回运费由商家承担", "VIP客户优先处理"])
    } else {
        ""
    };
    let ship_state_str = if !first.physical {
        "无需发货"
    } else if s.kind == K::Refund {
        r.pick(&["待发货", "已发货", "已签收"])
    } else {
        "已签收"
    };
    let open = matches!(s.state, 0 | 2 | 3 | 6 | 8 | 11 | 12 | 16 | 17 | 19);
    let goods_list = lines
        .iter()
        .map(|l| {
            let g = &XIAOE_GOODS[l.goods];
            Goods {
                buy_num: l.qty,
                goods_name: g.name,
                goods_price: g.price,
                goods_tag: g.tag,
                img_url: image(g),
                resource_id: format!("{}_{:08x}", if g.physical { "p" } else { "i" }, mix(l.goods as u64) as u32),
                resource_type: g.resource_type,
                single_type: 0,
                sku_id: (!g.skus.is_empty()).then(|| sku_id(l)),
                sku_info: g.skus.get(l.sku).copied(),
            }
        })
        .collect();
    // About one record in five says only the type's name, as seed 001's example does.
    let name_only = Rng::new(stream::X_DETAIL ^ 0xff, s.index).pct(20);
    let sale_type_name = match s.kind {
        K::Refund => r.pick(&["仅退款", "仅退款", "退款"]),
        K::Return => "退货退款",
        K::Exchange => "换货",
    };
    let state_invalid_time = if open {
        Time(s.updated + if s.state == 3 || s.state == 12 { DAY } else { 2 * DAY }).to_string()
    } else {
        "-0001-11-30 00:00:00".to_string()
    };
    Record {
        actual_fee: actual,
        aftersale_id: s.aftersale_id(),
        apply_refund_money: requested,
        created_at: Time(s.created),
        goods_list,
        goods_name: first.name,
        img_url: image(first),
        invalid_time: Time(s.created + 7 * DAY),
        merchant_remark,
        nick_name: nick,
        order_id: s.order_id(),
        original_price: original,
        reason,
        refund_money: refund,
        refund_time: s.refunded.map(Time),
        remark,
        resource_type_str: first.tag,
        sale_type: (!name_only).then(|| s.kind.code()),
        sale_type_name,
        ship_state_str,
        sku_id: sku_id(&lines[0]),
        sku_info,
        state: i64::from(s.state),
        state_invalid_time,
        state_reason: xiaoe_state_reason(&mut r, s.state),
        state_str: xiaoe_state_str(s.state),
        updated_at: Time(s.updated),
        use_collection: 0,
        user_id,
        wx_avatar: avatar,
    }
}
