//! The registry: every upstream, one folder each, holding everything about it (requests, wire
//! types, mapping, status tables, limits, errors). Adding an upstream is adding its folder, its
//! `Platform` variant and one arm here.

use crate::model::Platform;
use crate::protocol::upstream::Upstream;

pub mod lingxing;
pub mod wechat;
pub mod wechat_channels;
pub mod xiaoe;

/// Verification and decryption of WeChat Channels pushes (SPEC.md §8).
pub use wechat_channels::push as wechat_push;

/// The description of `platform`'s upstream.
pub(crate) fn of(platform: Platform) -> &'static dyn Upstream {
    match platform {
        Platform::WechatShop => &wechat::WECHAT_SHOP,
        Platform::WechatStore => &wechat::WECHAT_STORE,
        Platform::Xiaoe => &xiaoe::Xiaoe,
        Platform::Lingxing => &lingxing::Lingxing,
        Platform::WechatChannels => &wechat_channels::WechatChannels,
    }
}

impl Platform {
    /// This platform's upstream description.
    pub fn upstream(self) -> &'static dyn Upstream {
        of(self)
    }
}
