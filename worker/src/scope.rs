//! Who may read what (SPEC.md §10), decided in one place. Every request gets a [`Caller`] from
//! `access::authorize`; the dispatch asks [`Caller::allow_route`] before any handler runs, and
//! the handlers that read buyer data pass what they are about to answer through
//! [`Caller::buyer_filter`], [`Caller::check_records`] and [`Caller::check_order`].
//!
//! A session reads only its own buyer's records on its own platform: a query naming another
//! buyer or a record of another buyer is 403 `forbidden` (not an empty
//! answer, so a probing storefront learns nothing by sweeping ids); on another platform a session
//! is no credential (401). Records read with a session
//! leave out the merchant-only fields of the model: `merchant_note` and `raw` (the upstream
//! record as it came, with every field the merchant sees); `include_raw=true` is refused.

use aftersale::model::Buyer;
use aftersale::{AfterSale, ErrorCode, Order, Platform};

use crate::api_error::ApiError;
use crate::session::{BuyerId, Session};

/// Who is calling.
#[derive(Clone, Debug)]
pub enum Caller {
    /// A `CLIENT_KEYS` key (or, in the open sandbox, no key): the merchant, everything.
    /// `quota_key` identifies the key for its quota without being the key.
    SecretKey { quota_key: String },
    /// A buyer session: one buyer on one platform.
    Session(Session),
}

/// The kinds of route, for the scope check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Health,
    /// Lists, exports (and the changes, summary and sync routes when they come): merchant-wide.
    MerchantWide,
    /// Order and after-sale lookups: a session reads its own buyer's.
    Lookup,
    /// `GET /v1/me/aftersales`: sessions only.
    Me,
    /// `POST /v1/sessions`: minted by the merchant's server.
    MintSession,
    /// `POST /v1/sessions/{kind}`: a mini program signs its buyer in with a login code.
    Login,
}

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::Forbidden, message)
}

impl Caller {
    pub fn session(&self) -> Option<&Session> {
        match self {
            Caller::Session(s) => Some(s),
            Caller::SecretKey { .. } => None,
        }
    }

    /// The one key quotas count this caller by: the key's fingerprint, or the session's buyer.
    pub fn quota_key(&self) -> String {
        match self {
            Caller::SecretKey { quota_key } => format!("key:{quota_key}"),
            Caller::Session(s) => format!("buyer:{}:{}", s.platform, s.buyer.key()),
        }
    }

    /// Whether this caller may use this kind of route at all.
    pub fn allow_route(&self, route: Route) -> Result<(), ApiError> {
        match (self, route) {
            (Caller::Session(_), Route::MerchantWide) => Err(forbidden(
                "a buyer session cannot list or export the merchant's after-sales: use /v1/me/aftersales, \
                 the order routes or /v1/aftersales/{id}",
            )),
            (Caller::Session(_), Route::MintSession) => {
                Err(forbidden("sessions are minted with a secret key (from the merchant's server), not with a session"))
            }
            (Caller::SecretKey { .. }, Route::Me) => Err(forbidden(
                "/v1/me/aftersales reads a buyer session's own after-sales: send a session (POST /v1/sessions mints one), \
                 or list with /v1/aftersales",
            )),
            _ => Ok(()),
        }
    }

    /// A session reads its own platform only; on another it is no credential at all (401).
    pub fn check_platform(&self, platform: Platform) -> Result<(), ApiError> {
        match self.session() {
            Some(s) if s.platform != platform => Err(ApiError::new(
                ErrorCode::Unauthorized,
                format!("this session is for platform {}, not {platform}", s.platform),
            )),
            _ => Ok(()),
        }
    }

    /// `include_raw=true` hands out the upstream's whole record: merchant-only.
    pub fn check_raw(&self, include_raw: bool) -> Result<(), ApiError> {
        if include_raw && self.session().is_some() {
            return Err(forbidden(
                "include_raw is for secret keys: a session's records leave out merchant-only fields",
            ));
        }
        Ok(())
    }

    /// The buyer a lookup names through `field` (`openid`): for a session, its own buyer (a
    /// query naming another one is 403); for a key, what the query gave.
    pub fn buyer_filter(&self, field: &'static str, given: Option<String>) -> Result<Option<String>, ApiError> {
        let Some(s) = self.session() else { return Ok(given) };
        let own = (s.buyer.field() == field).then(|| s.buyer.value().to_string());
        match (given, own) {
            (Some(g), Some(own)) if g == own => Ok(Some(own)),
            (None, own) => Ok(own),
            (Some(_), _) => Err(forbidden(format!("{field}= names another buyer than this session's"))),
        }
    }

    /// Checks after-sales about to be answered. A session gets 403 if any is another buyer's
    /// (`vouched`: the upstream looked them up by the session's own buyer, so a record that
    /// names no buyer at all is taken as theirs), and its records lose the merchant-only
    /// fields. For a key, `filter` (a buyer the query named, which the upstream may have
    /// ignored) drops records of other buyers.
    pub fn check_records(
        &self,
        records: &mut Vec<AfterSale<'_>>,
        filter: Option<(&'static str, &str)>,
        vouched: bool,
    ) -> Result<(), ApiError> {
        match self.session() {
            Some(s) => {
                for r in records.iter_mut() {
                    check_owner(s, r.platform, &r.buyer, vouched, "after-sale")?;
                    strip_record(r);
                }
            }
            None => {
                if let Some((field, value)) = filter {
                    records.retain(|r| match buyer_field(&r.buyer, field) {
                        Some(v) => v == value,
                        None => true,
                    });
                }
            }
        }
        Ok(())
    }

    /// Checks an order about to be answered, as [`Caller::check_records`].
    pub fn check_order(&self, order: &mut Order<'_>) -> Result<(), ApiError> {
        if let Some(s) = self.session() {
            check_owner(s, order.platform, &order.buyer, false, "order")?;
            order.merchant_note = None;
            order.raw = None;
        }
        Ok(())
    }
}

/// Whether a record belongs to the session's buyer, as the session names them.
fn owns(buyer: &BuyerId, record: &Buyer<'_>) -> Option<bool> {
    buyer_field(record, buyer.field()).map(|v| v == buyer.value())
}

/// A buyer's id by the session's field name.
pub fn buyer_field<'b>(buyer: &'b Buyer<'_>, field: &str) -> Option<&'b str> {
    match field {
        "openid" => buyer.openid.as_deref(),
        "user_id" => buyer.user_id.as_deref(),
        _ => None,
    }
    .filter(|v| !v.is_empty())
}

fn check_owner(s: &Session, platform: Platform, buyer: &Buyer<'_>, vouched: bool, what: &str) -> Result<(), ApiError> {
    if platform != s.platform {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            format!("this session is for platform {}, not {platform}", s.platform),
        ));
    }
    match owns(&s.buyer, buyer) {
        Some(true) => Ok(()),
        None if vouched => Ok(()),
        _ => Err(forbidden(format!("this {what} is not this session's buyer's"))),
    }
}

/// Leaves out what only the merchant sees (documented in README.md, "Buyer sessions").
pub fn strip_record(record: &mut AfterSale<'_>) {
    record.merchant_note = None;
    record.raw = None;
}
