//! The normalized model of SPEC.md §2.
//!
//! Strings borrow from the upstream body where they can (`Cow`), money and times are kept as
//! numbers and formatted only when serialized, so normalizing a page allocates little more than
//! the output itself.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;

pub mod json;
pub mod money;
pub mod time;
pub mod zone;

use crate::model::money::Money;
use crate::model::time::Timestamp;
use crate::Error;

/// The upstreams, by the ids of SPEC.md §2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    WechatShop,
    WechatStore,
    Xiaoe,
    Lingxing,
    /// The WeChat Channels shop (微信小店, `channels/ec`), SPEC.md §8.
    WechatChannels,
}

impl Platform {
    // Appended last: cursors encode a platform by its position here.
    pub const ALL: [Platform; 5] =
        [Platform::WechatShop, Platform::WechatStore, Platform::Xiaoe, Platform::Lingxing, Platform::WechatChannels];

    pub const fn as_str(self) -> &'static str {
        match self {
            Platform::WechatShop => "wechat_shop",
            Platform::WechatStore => "wechat_store",
            Platform::Xiaoe => "xiaoe",
            Platform::Lingxing => "lingxing",
            Platform::WechatChannels => "wechat_channels",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            Error::invalid_request(
                "platform",
                alloc::format!("unknown platform {s:?}; expected one of wechat_shop, wechat_store, xiaoe, lingxing, wechat_channels"),
            )
        })
    }
}

impl Serialize for Platform {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Platform {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s: Cow<'de, str> = serde::Deserialize::deserialize(d)?;
        s.parse().map_err(|e: Error| serde::de::Error::custom(e))
    }
}

/// Which date the `[from, to)` range applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateField {
    Created,
    Updated,
    Refunded,
}

impl DateField {
    pub const fn as_str(self) -> &'static str {
        match self {
            DateField::Created => "created",
            DateField::Updated => "updated",
            DateField::Refunded => "refunded",
        }
    }
}

/// What the buyer asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Refund,
    ReturnRefund,
    Exchange,
}

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Refund => "refund",
            Kind::ReturnRefund => "return_refund",
            Kind::Exchange => "exchange",
        }
    }
}

impl FromStr for Kind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "refund" => Ok(Kind::Refund),
            "return_refund" => Ok(Kind::ReturnRefund),
            "exchange" => Ok(Kind::Exchange),
            _ => Err(Error::invalid_request(
                "kind",
                alloc::format!("unknown kind {s:?}; expected refund, return_refund or exchange"),
            )),
        }
    }
}

/// Where an after-sale stands, in one vocabulary for every upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Processing,
    AwaitingBuyerReturn,
    AwaitingMerchantReceipt,
    Refunding,
    AwaitingMerchantShipment,
    AwaitingBuyerReceipt,
    Completed,
    Rejected,
    Cancelled,
    Closed,
    Unknown,
}

impl Status {
    pub const ALL: [Status; 12] = [
        Status::Pending,
        Status::Processing,
        Status::AwaitingBuyerReturn,
        Status::AwaitingMerchantReceipt,
        Status::Refunding,
        Status::AwaitingMerchantShipment,
        Status::AwaitingBuyerReceipt,
        Status::Completed,
        Status::Rejected,
        Status::Cancelled,
        Status::Closed,
        Status::Unknown,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Processing => "processing",
            Status::AwaitingBuyerReturn => "awaiting_buyer_return",
            Status::AwaitingMerchantReceipt => "awaiting_merchant_receipt",
            Status::Refunding => "refunding",
            Status::AwaitingMerchantShipment => "awaiting_merchant_shipment",
            Status::AwaitingBuyerReceipt => "awaiting_buyer_receipt",
            Status::Completed => "completed",
            Status::Rejected => "rejected",
            Status::Cancelled => "cancelled",
            Status::Closed => "closed",
            Status::Unknown => "unknown",
        }
    }

    /// The status table shared by the WeChat transaction component and Xiaoe (codes 0–19),
    /// with the overdue flag of codes 3 and 12.
    pub const fn from_shared_code(code: i64) -> (Status, bool) {
        match code {
            0 => (Status::Pending, false),
            1 => (Status::Cancelled, false),
            2 => (Status::Processing, false),
            3 => (Status::Pending, true),
            4 | 5 | 18 => (Status::Rejected, false),
            6 => (Status::AwaitingBuyerReturn, false),
            7 => (Status::Closed, false),
            8 | 19 => (Status::AwaitingMerchantReceipt, false),
            11 => (Status::Refunding, false),
            12 => (Status::Refunding, true),
            13..=15 => (Status::Completed, false),
            16 => (Status::AwaitingMerchantShipment, false),
            17 => (Status::AwaitingBuyerReceipt, false),
            _ => (Status::Unknown, false),
        }
    }
}

impl FromStr for Status {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| Error::invalid_request("status", alloc::format!("unknown status {s:?}")))
    }
}

/// The upstream's status exactly as given: a number or a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusRaw<'a> {
    Number(i64),
    Text(Cow<'a, str>),
}

impl StatusRaw<'_> {
    pub fn into_owned(self) -> StatusRaw<'static> {
        match self {
            StatusRaw::Number(n) => StatusRaw::Number(n),
            StatusRaw::Text(t) => StatusRaw::Text(Cow::Owned(t.into_owned())),
        }
    }
}

impl Serialize for StatusRaw<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StatusRaw::Number(n) => s.serialize_i64(*n),
            StatusRaw::Text(t) => s.serialize_str(t),
        }
    }
}

pub type Text<'a> = Option<Cow<'a, str>>;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Item<'a> {
    pub product_id: Text<'a>,
    pub sku_id: Text<'a>,
    pub name: Text<'a>,
    pub quantity: Option<u64>,
    pub unit_price: Option<Money<'a>>,
    pub image_url: Text<'a>,
    pub sku_info: Text<'a>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Buyer<'a> {
    pub openid: Text<'a>,
    pub user_id: Text<'a>,
    pub nickname: Text<'a>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReturnLogistics<'a> {
    pub carrier: Text<'a>,
    pub waybill_id: Text<'a>,
}

/// One after-sale, normalized (SPEC.md §2).
#[derive(Clone, Debug)]
pub struct AfterSale<'a> {
    pub platform: Platform,
    pub aftersale_id: Cow<'a, str>,
    pub order_id: Text<'a>,
    pub out_order_id: Text<'a>,
    pub kind: Kind,
    pub status: Status,
    pub overdue: bool,
    /// `None` only when the upstream record has no status at all.
    pub status_raw: Option<StatusRaw<'a>>,
    pub refund: Option<Money<'a>>,
    pub requested: Option<Money<'a>>,
    pub items: Vec<Item<'a>>,
    pub reason: Text<'a>,
    pub buyer_note: Text<'a>,
    pub merchant_note: Text<'a>,
    pub buyer: Buyer<'a>,
    pub return_logistics: Option<ReturnLogistics<'a>>,
    pub exchange_order_id: Text<'a>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    pub refunded_at: Option<Timestamp>,
    /// The upstream record as it came, only when the caller asked for it.
    pub raw: Option<Cow<'a, RawValue>>,
}

impl AfterSale<'_> {
    /// `platform:aftersale_id`, the stable id of SPEC.md §2.
    pub fn id(&self) -> String {
        let mut id = String::with_capacity(self.platform.as_str().len() + 1 + self.aftersale_id.len());
        id.push_str(self.platform.as_str());
        id.push(':');
        id.push_str(&self.aftersale_id);
        id
    }

    /// Detaches the record from the body it borrows from.
    pub fn into_owned(self) -> AfterSale<'static> {
        fn own(t: Text<'_>) -> Text<'static> {
            t.map(|c| Cow::Owned(c.into_owned()))
        }
        AfterSale {
            platform: self.platform,
            aftersale_id: Cow::Owned(self.aftersale_id.into_owned()),
            order_id: own(self.order_id),
            out_order_id: own(self.out_order_id),
            kind: self.kind,
            status: self.status,
            overdue: self.overdue,
            status_raw: self.status_raw.map(StatusRaw::into_owned),
            refund: self.refund.map(Money::into_owned),
            requested: self.requested.map(Money::into_owned),
            items: self
                .items
                .into_iter()
                .map(|i| Item {
                    product_id: own(i.product_id),
                    sku_id: own(i.sku_id),
                    name: own(i.name),
                    quantity: i.quantity,
                    unit_price: i.unit_price.map(Money::into_owned),
                    image_url: own(i.image_url),
                    sku_info: own(i.sku_info),
                })
                .collect(),
            reason: own(self.reason),
            buyer_note: own(self.buyer_note),
            merchant_note: own(self.merchant_note),
            buyer: Buyer {
                openid: own(self.buyer.openid),
                user_id: own(self.buyer.user_id),
                nickname: own(self.buyer.nickname),
            },
            return_logistics: self
                .return_logistics
                .map(|r| ReturnLogistics { carrier: own(r.carrier), waybill_id: own(r.waybill_id) }),
            exchange_order_id: own(self.exchange_order_id),
            created_at: self.created_at,
            updated_at: self.updated_at,
            refunded_at: self.refunded_at,
            raw: self.raw.map(|r| Cow::Owned(r.into_owned())),
        }
    }
}

/// `id` is derived, not stored, so serialization writes it first by hand.
impl Serialize for AfterSale<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = if self.raw.is_some() { 22 } else { 21 };
        let mut st = s.serialize_struct("AfterSale", fields)?;
        st.serialize_field("id", &IdRef(self.platform, &self.aftersale_id))?;
        st.serialize_field("platform", &self.platform)?;
        st.serialize_field("aftersale_id", &self.aftersale_id)?;
        st.serialize_field("order_id", &self.order_id)?;
        st.serialize_field("out_order_id", &self.out_order_id)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("status", &self.status)?;
        st.serialize_field("overdue", &self.overdue)?;
        st.serialize_field("status_raw", &self.status_raw)?;
        st.serialize_field("refund", &self.refund)?;
        st.serialize_field("requested", &self.requested)?;
        st.serialize_field("items", &self.items)?;
        st.serialize_field("reason", &self.reason)?;
        st.serialize_field("buyer_note", &self.buyer_note)?;
        st.serialize_field("merchant_note", &self.merchant_note)?;
        st.serialize_field("buyer", &self.buyer)?;
        st.serialize_field("return_logistics", &self.return_logistics)?;
        st.serialize_field("exchange_order_id", &self.exchange_order_id)?;
        st.serialize_field("created_at", &self.created_at)?;
        st.serialize_field("updated_at", &self.updated_at)?;
        st.serialize_field("refunded_at", &self.refunded_at)?;
        if let Some(raw) = &self.raw {
            st.serialize_field("raw", &**raw)?;
        }
        st.end()
    }
}

/// Serializes `platform:id` without building the string first.
struct IdRef<'s>(Platform, &'s str);

impl Serialize for IdRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Most ids fit a stack buffer; going through `fmt` costs more than the copy.
        let (platform, key) = (self.0.as_str().as_bytes(), self.1.as_bytes());
        let mut buf = [0u8; 128];
        let len = platform.len() + 1 + key.len();
        if len <= buf.len() {
            buf[..platform.len()].copy_from_slice(platform);
            buf[platform.len()] = b':';
            buf[platform.len() + 1..len].copy_from_slice(key);
            if let Ok(id) = core::str::from_utf8(&buf[..len]) {
                return s.serialize_str(id);
            }
        }
        s.collect_str(&format_args!("{}:{}", self.0.as_str(), self.1))
    }
}

/// Order status of the WeChat Mini Store (seed 002).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Unpaid,
    Paid,
    AwaitingShipment,
    PartiallyShipped,
    Shipped,
    Completed,
    Cancelled,
    Unknown,
}

impl OrderStatus {
    pub const fn from_code(code: i64) -> OrderStatus {
        match code {
            10 => OrderStatus::Unpaid,
            15..=17 => OrderStatus::Paid,
            20 => OrderStatus::AwaitingShipment,
            21 => OrderStatus::PartiallyShipped,
            30 => OrderStatus::Shipped,
            100 => OrderStatus::Completed,
            200 | 250 => OrderStatus::Cancelled,
            _ => OrderStatus::Unknown,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderItem<'a> {
    pub product_id: Text<'a>,
    pub sku_id: Text<'a>,
    pub name: Text<'a>,
    pub quantity: Option<u64>,
    pub unit_price: Option<Money<'a>>,
    pub image_url: Text<'a>,
    pub sku_info: Text<'a>,
    pub on_aftersale_quantity: Option<u64>,
    pub finished_aftersale_quantity: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct OrderPrice<'a> {
    pub product_price: Option<Money<'a>>,
    pub order_price: Option<Money<'a>>,
    pub freight: Option<Money<'a>>,
    pub discounted_price: Option<Money<'a>>,
    pub is_discounted: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Payment<'a> {
    pub method: Text<'a>,
    pub prepay_id: Text<'a>,
    pub transaction_id: Text<'a>,
    pub prepaid_at: Option<Timestamp>,
    pub paid_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShippedItem<'a> {
    pub product_id: Text<'a>,
    pub sku_id: Text<'a>,
    pub quantity: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Delivery<'a> {
    pub method: Text<'a>,
    pub shipping_method: Text<'a>,
    pub carrier: Text<'a>,
    pub waybill_id: Text<'a>,
    pub shipped_items: Vec<ShippedItem<'a>>,
    pub delivered_at: Option<Timestamp>,
    pub ship_done_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Address<'a> {
    pub name: Text<'a>,
    pub phone: Text<'a>,
    pub postal_code: Text<'a>,
    pub province: Text<'a>,
    pub city: Text<'a>,
    pub county: Text<'a>,
    pub detail: Text<'a>,
    pub national_code: Text<'a>,
}

/// One WeChat Mini Store order with its after-sale references (SPEC.md §2).
#[derive(Clone, Debug)]
pub struct Order<'a> {
    pub platform: Platform,
    pub order_id: Cow<'a, str>,
    pub out_order_id: Text<'a>,
    pub status: OrderStatus,
    pub status_raw: Option<StatusRaw<'a>>,
    pub items: Vec<OrderItem<'a>>,
    pub price: OrderPrice<'a>,
    pub payment: Option<Payment<'a>>,
    pub delivery: Option<Delivery<'a>>,
    pub address: Option<Address<'a>>,
    pub aftersale_ids: Vec<Cow<'a, str>>,
    pub buyer: Buyer<'a>,
    pub buyer_note: Text<'a>,
    pub merchant_note: Text<'a>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    pub raw: Option<Cow<'a, RawValue>>,
}

impl Order<'_> {
    /// Detaches the order from the body it borrows from.
    pub fn into_owned(self) -> Order<'static> {
        fn own(t: Text<'_>) -> Text<'static> {
            t.map(|c| Cow::Owned(c.into_owned()))
        }
        fn own_money(m: Option<Money<'_>>) -> Option<Money<'static>> {
            m.map(Money::into_owned)
        }
        Order {
            platform: self.platform,
            order_id: Cow::Owned(self.order_id.into_owned()),
            out_order_id: own(self.out_order_id),
            status: self.status,
            status_raw: self.status_raw.map(StatusRaw::into_owned),
            items: self
                .items
                .into_iter()
                .map(|i| OrderItem {
                    product_id: own(i.product_id),
                    sku_id: own(i.sku_id),
                    name: own(i.name),
                    quantity: i.quantity,
                    unit_price: own_money(i.unit_price),
                    image_url: own(i.image_url),
                    sku_info: own(i.sku_info),
                    on_aftersale_quantity: i.on_aftersale_quantity,
                    finished_aftersale_quantity: i.finished_aftersale_quantity,
                })
                .collect(),
            price: OrderPrice {
                product_price: own_money(self.price.product_price),
                order_price: own_money(self.price.order_price),
                freight: own_money(self.price.freight),
                discounted_price: own_money(self.price.discounted_price),
                is_discounted: self.price.is_discounted,
            },
            payment: self.payment.map(|p| Payment {
                method: own(p.method),
                prepay_id: own(p.prepay_id),
                transaction_id: own(p.transaction_id),
                prepaid_at: p.prepaid_at,
                paid_at: p.paid_at,
            }),
            delivery: self.delivery.map(|d| Delivery {
                method: own(d.method),
                shipping_method: own(d.shipping_method),
                carrier: own(d.carrier),
                waybill_id: own(d.waybill_id),
                shipped_items: d
                    .shipped_items
                    .into_iter()
                    .map(|s| ShippedItem { product_id: own(s.product_id), sku_id: own(s.sku_id), quantity: s.quantity })
                    .collect(),
                delivered_at: d.delivered_at,
                ship_done_at: d.ship_done_at,
            }),
            address: self.address.map(|a| Address {
                name: own(a.name),
                phone: own(a.phone),
                postal_code: own(a.postal_code),
                province: own(a.province),
                city: own(a.city),
                county: own(a.county),
                detail: own(a.detail),
                national_code: own(a.national_code),
            }),
            aftersale_ids: self.aftersale_ids.into_iter().map(|id| Cow::Owned(id.into_owned())).collect(),
            buyer: Buyer {
                openid: own(self.buyer.openid),
                user_id: own(self.buyer.user_id),
                nickname: own(self.buyer.nickname),
            },
            buyer_note: own(self.buyer_note),
            merchant_note: own(self.merchant_note),
            created_at: self.created_at,
            updated_at: self.updated_at,
            raw: self.raw.map(|r| Cow::Owned(r.into_owned())),
        }
    }
}

impl Serialize for Order<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Order", if self.raw.is_some() { 18 } else { 17 })?;
        st.serialize_field("id", &IdRef(self.platform, &self.order_id))?;
        st.serialize_field("platform", &self.platform)?;
        st.serialize_field("order_id", &self.order_id)?;
        st.serialize_field("out_order_id", &self.out_order_id)?;
        st.serialize_field("status", &self.status)?;
        st.serialize_field("status_raw", &self.status_raw)?;
        st.serialize_field("items", &self.items)?;
        st.serialize_field("price", &self.price)?;
        st.serialize_field("payment", &self.payment)?;
        st.serialize_field("delivery", &self.delivery)?;
        st.serialize_field("address", &self.address)?;
        st.serialize_field("aftersale_ids", &self.aftersale_ids)?;
        st.serialize_field("buyer", &self.buyer)?;
        st.serialize_field("buyer_note", &self.buyer_note)?;
        st.serialize_field("merchant_note", &self.merchant_note)?;
        st.serialize_field("created_at", &self.created_at)?;
        st.serialize_field("updated_at", &self.updated_at)?;
        if let Some(raw) = &self.raw {
            st.serialize_field("raw", &**raw)?;
        }
        st.end()
    }
}
