//! WeChat Mini Store: one order's details with its after-sale references,
//! `POST /product/order/get` (seed 002).

use alloc::borrow::Cow;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::model::{
    Address, Buyer, Delivery, Order, OrderItem, OrderPrice, OrderStatus, Payment, Platform, ShippedItem, StatusRaw,
};
use crate::parse::normalize::{self, parse_body, text, NormalizeOptions, RecordCtx};
use crate::parse::wire::{wire_struct, Flag, Int, List, Text};
use crate::Error;

const PLATFORM: Platform = Platform::WechatStore;

wire_struct! {
    pub struct WechatStoreEnvelope<'a> {
        errcode: Int,
        errmsg: Text<'a>,
        order: &'a RawValue,
    }
}

wire_struct! {
    /// `order` (seed 002); the seed spells `craete_time`, `"order_detail "`, `"aftersale_detail "`.
    pub struct WechatStoreOrder<'a> {
        order_id: Text<'a>,
        out_order_id: Text<'a>,
        status: Int,
        create_time: Text<'a> | "craete_time",
        update_time: Text<'a>,
        order_detail: OrderDetail<'a>,
        aftersale_detail: AfterSaleDetail<'a>,
        openid: Text<'a>,
        ext_info: ExtInfo<'a>,
    }
}

wire_struct! {
    pub struct OrderDetail<'a> {
        product_infos: List<StoreProduct<'a>>,
        pay_info: PayInfo<'a>,
        price_info: PriceInfo<'a>,
        delivery_info: DeliveryInfo<'a>,
    }
}

wire_struct! {
    pub struct StoreProduct<'a> {
        product_id: Text<'a>,
        sku_id: Text<'a>,
        sku_cnt: Int,
        on_aftersale_sku_cnt: Int,
        finish_aftersale_sku_cnt: Int,
        title: Text<'a>,
        thumb_img: Text<'a>,
        sku_attrs: List<SkuAttr<'a>>,
        // The seed's example says `beats_price` where its table says `sale_price`.
        sale_price: Int | "beats_price",
    }
}

wire_struct! {
    pub struct SkuAttr<'a> {
        attr_key: Text<'a>,
        attr_value: Text<'a>,
    }
}

wire_struct! {
    pub struct PayInfo<'a> {
        pay_method: Text<'a>,
        prepay_id: Text<'a>,
        transaction_id: Text<'a>,
        prepay_time: Text<'a>,
        pay_time: Text<'a>,
    }
}

wire_struct! {
    pub struct PriceInfo<'a> {
        product_price: Int,
        order_price: Int,
        freight: Int,
        discounted_price: Int,
        is_discounted: Flag,
    }
}

wire_struct! {
    pub struct DeliveryInfo<'a> {
        delivery_method: Text<'a>,
        delivery_time: Text<'a>,
        delivery_product_info: DeliveryProductInfo<'a>,
        address_info: AddressInfo<'a>,
        express_fee: OneOrMany<ExpressFee<'a>>,
        ship_done_time: Text<'a>,
    }
}

wire_struct! {
    pub struct DeliveryProductInfo<'a> {
        waybill_id: Text<'a>,
        delivery_id: Text<'a>,
        product_infos: List<ShippedProduct<'a>>,
    }
}

wire_struct! {
    pub struct ShippedProduct<'a> {
        product_id: Text<'a>,
        sku_id: Text<'a>,
        product_cnt: Int,
    }
}

wire_struct! {
    /// The seed writes `"user_Name "` and `Tel_number`; the table says `username`.
    pub struct AddressInfo<'a> {
        user_name: Text<'a> | "username",
        postal_code: Text<'a>,
        province_name: Text<'a>,
        city_name: Text<'a>,
        county_name: Text<'a>,
        detail_info: Text<'a>,
        national_code: Text<'a>,
        tel_number: Text<'a>,
    }
}

wire_struct! {
    pub struct ExpressFee<'a> {
        shipping_method: Text<'a>,
    }
}

wire_struct! {
    pub struct AfterSaleDetail<'a> {
        aftersale_order_list: List<AfterSaleRef<'a>>,
    }
}

wire_struct! {
    pub struct AfterSaleRef<'a> {
        aftersale_order_id: Text<'a>,
    }
}

wire_struct! {
    pub struct ExtInfo<'a> {
        customer_notes: Text<'a>,
        merchant_notes: Text<'a>,
    }
}

/// The seed's example gives `express_fee` as an array, its table as an object: take both.
#[derive(Debug)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor rather than an untagged enum: errors then name the element and field
        // (`express_fee[0].shipping_method`) instead of "did not match any variant".
        struct OneOrManyVisitor<T>(core::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("an object or an array of objects")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, seq: S) -> Result<Self::Value, S::Error> {
                List::<T>::deserialize(SeqAccessDeserializer::new(seq)).map(|l| OneOrMany(l.0))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|t| OneOrMany(alloc::vec![t]))
            }
        }
        d.deserialize_any(OneOrManyVisitor(core::marker::PhantomData))
    }
}

/// Normalizes one order's details.
pub fn parse_order<'a>(body: &'a str, options: NormalizeOptions) -> Result<Order<'a>, Error> {
    let env: WechatStoreEnvelope<'a> =
        parse_body(PLATFORM, body).map_err(|e| super::error_or_parse(PLATFORM, body, e))?;
    super::check_status(PLATFORM, env.errcode, env.errmsg)?;
    let raw = env.order.ok_or_else(|| normalize::missing(PLATFORM, body, "order"))?;
    let order: WechatStoreOrder<'a> = serde_json::from_str(raw.get()).map_err(|e| {
        let mut err = normalize::parse_error(PLATFORM, raw.get(), &e);
        err.message = crate::parse::wire::message_under("order", &e.to_string());
        // The order was parsed on its own: move its position into the body's (the raw value
        // borrows from the body, so its address says where it starts).
        let start = (raw.get().as_ptr() as usize).checked_sub(body.as_ptr() as usize).filter(|&s| s <= body.len());
        err.offset = match (err.offset, start) {
            (Some(o), Some(s)) => Some(s + o),
            _ => None,
        };
        err.body = String::from(body);
        err
    })?;
    map_order(order, if options.include_raw { Some(raw) } else { None })
}

fn map_order<'a>(o: WechatStoreOrder<'a>, raw: Option<&'a RawValue>) -> Result<Order<'a>, Error> {
    let order_id = text(o.order_id);
    let ctx = RecordCtx { platform: PLATFORM, index: 0, id: order_id.as_deref() };
    let order_id = order_id.clone().ok_or_else(|| ctx.invalid("order.order_id", "", "missing"))?;
    let detail = o.order_detail;
    let (products, pay, price, delivery) = match detail {
        Some(d) => (d.product_infos.map(|l| l.0).unwrap_or_default(), d.pay_info, d.price_info, d.delivery_info),
        None => (Vec::new(), None, None, None),
    };
    let mut items = Vec::with_capacity(products.len());
    for p in products {
        let sku_info = p.sku_attrs.map(|l| l.0).filter(|a| !a.is_empty()).map(|attrs| {
            let mut s = String::new();
            for (i, a) in attrs.iter().enumerate() {
                if i > 0 {
                    s.push_str("; ");
                }
                s.push_str(a.attr_key.as_ref().map(|t| t.0.trim()).unwrap_or(""));
                s.push_str(": ");
                s.push_str(a.attr_value.as_ref().map(|t| t.0.trim()).unwrap_or(""));
            }
            Cow::Owned(s)
        });
        items.push(OrderItem {
            product_id: text(p.product_id),
            sku_id: text(p.sku_id),
            name: text(p.title),
            quantity: ctx.count("product_infos.sku_cnt", p.sku_cnt)?,
            unit_price: ctx.fen("product_infos.sale_price", p.sale_price)?,
            // The seed's example has a leading space in thumb_img.
            image_url: text(p.thumb_img).map(trim_cow),
            sku_info,
            on_aftersale_quantity: ctx.count("product_infos.on_aftersale_sku_cnt", p.on_aftersale_sku_cnt)?,
            finished_aftersale_quantity: ctx
                .count("product_infos.finish_aftersale_sku_cnt", p.finish_aftersale_sku_cnt)?,
        });
    }
    let price = match price {
        Some(p) => OrderPrice {
            product_price: ctx.fen("price_info.product_price", p.product_price)?,
            order_price: ctx.fen("price_info.order_price", p.order_price)?,
            freight: ctx.fen("price_info.freight", p.freight)?,
            discounted_price: ctx.fen("price_info.discounted_price", p.discounted_price)?,
            is_discounted: p.is_discounted.map(|f| f.0),
        },
        None => OrderPrice::default(),
    };
    let payment = match pay {
        Some(p) => Some(Payment {
            method: text(p.pay_method),
            prepay_id: text(p.prepay_id),
            transaction_id: text(p.transaction_id),
            prepaid_at: ctx.china_time("pay_info.prepay_time", &p.prepay_time)?,
            paid_at: ctx.china_time("pay_info.pay_time", &p.pay_time)?,
        }),
        None => None,
    };
    let (delivery, address) = match delivery {
        Some(d) => {
            let address = d.address_info.map(|a| Address {
                name: text(a.user_name).map(trim_cow),
                phone: text(a.tel_number),
                postal_code: text(a.postal_code),
                province: text(a.province_name),
                city: text(a.city_name),
                county: text(a.county_name),
                detail: text(a.detail_info),
                national_code: text(a.national_code),
            });
            let (carrier, waybill_id, shipped) = match d.delivery_product_info {
                Some(p) => (text(p.delivery_id), text(p.waybill_id), p.product_infos.map(|l| l.0).unwrap_or_default()),
                None => (None, None, Vec::new()),
            };
            let mut shipped_items = Vec::with_capacity(shipped.len());
            for s in shipped {
                shipped_items.push(ShippedItem {
                    product_id: text(s.product_id),
                    sku_id: text(s.sku_id),
                    quantity: ctx.count("delivery_product_info.product_infos.product_cnt", s.product_cnt)?,
                });
            }
            let delivery = Delivery {
                method: text(d.delivery_method),
                shipping_method: d.express_fee.and_then(|f| f.0.into_iter().find_map(|e| text(e.shipping_method))),
                carrier,
                waybill_id,
                shipped_items,
                delivered_at: ctx.china_time("delivery_info.delivery_time", &d.delivery_time)?,
                ship_done_at: ctx.unix_china_time("delivery_info.ship_done_time", &d.ship_done_time)?,
            };
            (Some(delivery), address)
        }
        None => (None, None),
    };
    let (status, status_raw) = match o.status {
        Some(Int(code)) => (OrderStatus::from_code(code), Some(StatusRaw::Number(code))),
        None => (OrderStatus::Unknown, None),
    };
    let aftersale_ids = o
        .aftersale_detail
        .and_then(|d| d.aftersale_order_list)
        .map(|l| l.0.into_iter().filter_map(|r| text(r.aftersale_order_id)).collect())
        .unwrap_or_default();
    let (buyer_note, merchant_note) = match o.ext_info {
        Some(e) => (text(e.customer_notes), text(e.merchant_notes)),
        None => (None, None),
    };
    Ok(Order {
        platform: PLATFORM,
        out_order_id: text(o.out_order_id),
        status,
        status_raw,
        items,
        price,
        payment,
        delivery,
        address,
        aftersale_ids,
        buyer: Buyer { openid: text(o.openid), user_id: None, nickname: None },
        buyer_note,
        merchant_note,
        created_at: ctx.china_time("create_time", &o.create_time)?,
        updated_at: ctx.china_time("update_time", &o.update_time)?,
        raw: raw.map(Cow::Borrowed),
        order_id,
    })
}

fn trim_cow(c: Cow<'_, str>) -> Cow<'_, str> {
    match c {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
        Cow::Owned(s) if s.trim().len() == s.len() => Cow::Owned(s),
        Cow::Owned(s) => Cow::Owned(String::from(s.trim())),
    }
}
