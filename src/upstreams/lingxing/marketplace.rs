//! The Amazon marketplaces Lingxing serves, named by a record's `seller_country` (`"8p-US 美国"`,
//! `"UK 英国"`, `"XPXC美国"`): each one's currency and its **site time**, the zone of
//! `deal_time`, `after_time` and `purchase_time` (UPSTREAMS.md).
//!
//! Site zones are Amazon's own per marketplace (the time zone Amazon Ads gives each marketplace's
//! profiles, as collected by the `@scaleleap/amazon-marketplaces` package, and Seller Central's
//! "Pacific time" for North America). Choices where no source speaks for Lingxing itself:
//! - Canada and Mexico: US Pacific, as Amazon keeps every North American marketplace on the
//!   Pacific clock (so Mexico's 2022 abolition of daylight saving does not apply);
//! - the Central European marketplaces (DE, FR, IT, ES, NL, BE, SE, PL) share one zone: their
//!   capitals' clocks have been the same since 1996;
//! - Ireland (amazon.ie, 2025, not in that package): Europe/Dublin, whose instants equal London's;
//! - South Africa: Africa/Johannesburg.

use crate::model::money::Currency;
use crate::model::zone::{self, Zone};

/// One marketplace: its code, its Chinese name (as Lingxing writes it), currency and site zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marketplace {
    pub code: &'static str,
    pub name: &'static str,
    pub currency: Currency,
    pub site_zone: &'static Zone,
}

const fn m(code: &'static str, name: &'static str, currency: Currency, site_zone: &'static Zone) -> Marketplace {
    Marketplace { code, name, currency, site_zone }
}

pub const MARKETPLACES: &[Marketplace] = &[
    m("US", "美国", Currency::USD, &zone::PACIFIC),
    m("CA", "加拿大", Currency::CAD, &zone::PACIFIC),
    m("MX", "墨西哥", Currency::MXN, &zone::PACIFIC),
    m("BR", "巴西", Currency::BRL, &zone::SAO_PAULO),
    m("UK", "英国", Currency::GBP, &zone::LONDON),
    m("DE", "德国", Currency::EUR, &zone::CENTRAL_EUROPE),
    m("FR", "法国", Currency::EUR, &zone::CENTRAL_EUROPE),
    m("IT", "意大利", Currency::EUR, &zone::CENTRAL_EUROPE),
    m("ES", "西班牙", Currency::EUR, &zone::CENTRAL_EUROPE),
    m("NL", "荷兰", Currency::EUR, &zone::CENTRAL_EUROPE),
    m("BE", "比利时", Currency::EUR, &zone::CENTRAL_EUROPE),
    m("SE", "瑞典", Currency::SEK, &zone::CENTRAL_EUROPE),
    m("PL", "波兰", Currency::PLN, &zone::CENTRAL_EUROPE),
    m("IE", "爱尔兰", Currency::EUR, &zone::DUBLIN),
    m("TR", "土耳其", Currency::TRY, &zone::ISTANBUL),
    m("JP", "日本", Currency::JPY, &zone::TOKYO),
    m("AU", "澳大利亚", Currency::AUD, &zone::SYDNEY),
    m("SG", "新加坡", Currency::SGD, &zone::SINGAPORE),
    m("IN", "印度", Currency::INR, &zone::KOLKATA),
    m("AE", "阿联酋", Currency::AED, &zone::DUBAI),
    m("SA", "沙特", Currency::SAR, &zone::RIYADH),
    m("EG", "埃及", Currency::EGP, &zone::CAIRO),
    m("ZA", "南非", Currency::ZAR, &zone::JOHANNESBURG),
];

/// Other spellings of a marketplace in `seller_country`.
const ALIASES: &[(&str, &str)] = &[("GB", "UK"), ("澳洲", "AU")];

/// What `seller_country` tells: each fact only when every marketplace it names agrees on it
/// (`"DE FR"` still has one currency and one zone; `"US-DE"` has neither). Nothing is guessed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Site {
    pub currency: Option<Currency>,
    pub zone: Option<&'static Zone>,
}

fn by_code(code: &str) -> Option<&'static Marketplace> {
    MARKETPLACES.iter().find(|m| m.code == code)
}

/// The marketplaces a `seller_country` names: Chinese names anywhere in it, codes as whole
/// ASCII tokens (`"8p-US"` names US; `"USA"` does not).
fn named(seller_country: &str, mut each: impl FnMut(&'static Marketplace)) {
    for m in MARKETPLACES {
        if seller_country.contains(m.name) {
            each(m);
        }
    }
    for &(alias, code) in ALIASES {
        if !alias.is_ascii() && seller_country.contains(alias) {
            each(by_code(code).expect("aliases name listed marketplaces"));
        }
    }
    for token in seller_country.split(|c: char| !c.is_ascii_alphanumeric()) {
        let code = ALIASES.iter().find(|(a, _)| a.eq_ignore_ascii_case(token)).map_or(token, |&(_, c)| c);
        if let Some(m) = MARKETPLACES.iter().find(|m| m.code.eq_ignore_ascii_case(code)) {
            each(m);
        }
    }
}

/// The currency and site zone of a record's `seller_country`.
pub fn site(seller_country: &str) -> Site {
    let mut currency: Option<Option<Currency>> = None;
    let mut zone: Option<Option<&'static Zone>> = None;
    named(seller_country, |m| {
        // `None` until something is named, then the agreed value, or `Some(None)` on disagreement.
        currency = Some(match currency {
            None => Some(m.currency),
            Some(c) => c.filter(|c| *c == m.currency),
        });
        zone = Some(match zone {
            None => Some(m.site_zone),
            Some(z) => z.filter(|z| **z == *m.site_zone),
        });
    });
    Site { currency: currency.flatten(), zone: zone.flatten() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seller_country_names_currency_and_zone() {
        let us = site("8p-US 美国");
        assert_eq!(us.currency, Some(Currency::USD));
        assert_eq!(us.zone.map(|z| z.name), Some("America/Los_Angeles"));
        assert_eq!(site("XPXC美国"), us);
        assert_eq!(site("UK 英国").currency, Some(Currency::GBP));
        assert_eq!(site("GB").zone.map(|z| z.name), Some("Europe/London"));
        assert_eq!(site("澳洲店").zone.map(|z| z.name), Some("Australia/Sydney"));
        assert_eq!(site("JP 日本").zone.map(|z| z.name), Some("Asia/Tokyo"));
        assert_eq!(site("MX 墨西哥").zone.map(|z| z.name), Some("America/Los_Angeles"));
        assert_eq!(site("BR").zone.map(|z| z.name), Some("America/Sao_Paulo"));
    }

    #[test]
    fn unknown_or_conflicting_names_tell_nothing_they_disagree_on() {
        assert_eq!(site("Mars"), Site::default());
        assert_eq!(site(""), Site::default());
        assert_eq!(site("USA"), Site::default(), "codes are whole tokens");
        assert_eq!(site("US-DE"), Site::default());
        assert_eq!(site("UK 美国"), Site::default());
        // Two euro marketplaces of one zone: both facts still known.
        let de_fr = site("DE FR");
        assert_eq!(de_fr.currency, Some(Currency::EUR));
        assert_eq!(de_fr.zone.map(|z| z.name), Some("Europe/Paris"));
        // Same currency, other zone (Ireland and Germany): the currency only.
        assert_eq!(site("IE DE"), Site { currency: Some(Currency::EUR), zone: None });
    }

    #[test]
    fn every_marketplace_is_named_by_its_code_and_its_name() {
        for m in MARKETPLACES {
            assert_eq!(site(m.code), Site { currency: Some(m.currency), zone: Some(m.site_zone) }, "{}", m.code);
            assert_eq!(site(m.name), site(m.code), "{}", m.name);
        }
    }
}
