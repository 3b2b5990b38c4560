//! Money: integer minor units plus the exact decimal as given (SPEC.md §2).
//!
//! WeChat and Xiaoe give integer fen; Lingxing gives strings such as `"-$4.700"` or `"5.555555"`
//! whose currency has to come from the marketplace, because `$` alone is five currencies.

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt::{self, Write as _};

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;

/// An ISO 4217 currency with its number of minor-unit digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency {
    pub code: &'static str,
    pub exponent: u8,
}

macro_rules! currencies {
    ($($name:ident = $code:literal / $exp:literal),* $(,)?) => {
        impl Currency {
            $(pub const $name: Currency = Currency { code: $code, exponent: $exp };)*
            pub const KNOWN: &'static [Currency] = &[$(Currency::$name),*];
        }
    };
}

currencies! {
    CNY = "CNY" / 2, USD = "USD" / 2, CAD = "CAD" / 2, MXN = "MXN" / 2, BRL = "BRL" / 2,
    GBP = "GBP" / 2, EUR = "EUR" / 2, SEK = "SEK" / 2, PLN = "PLN" / 2, TRY = "TRY" / 2,
    JPY = "JPY" / 0, AUD = "AUD" / 2, SGD = "SGD" / 2, INR = "INR" / 2, AED = "AED" / 2,
    SAR = "SAR" / 2, EGP = "EGP" / 2, ZAR = "ZAR" / 2,
}

impl Currency {
    pub fn from_code(code: &str) -> Option<Currency> {
        Currency::KNOWN.iter().copied().find(|c| c.code.eq_ignore_ascii_case(code))
    }
}

/// The decimal text of an amount: derived from minor units (fen) or kept exactly as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decimal<'a> {
    /// Formatted from `minor` with the currency's exponent when serialized.
    FromMinor,
    /// Every digit the upstream gave, sign removed.
    Given(Cow<'a, str>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Money<'a> {
    pub currency: Currency,
    pub minor: i64,
    pub decimal: Decimal<'a>,
}

impl<'a> Money<'a> {
    /// An amount in fen (1/100 CNY), as WeChat and Xiaoe give it.
    pub const fn cny_fen(fen: i64) -> Money<'static> {
        Money { currency: Currency::CNY, minor: fen, decimal: Decimal::FromMinor }
    }

    pub fn into_owned(self) -> Money<'static> {
        Money {
            currency: self.currency,
            minor: self.minor,
            decimal: match self.decimal {
                Decimal::FromMinor => Decimal::FromMinor,
                Decimal::Given(c) => Decimal::Given(Cow::Owned(c.into_owned())),
            },
        }
    }

    /// The decimal text, as serialized.
    pub fn decimal_string(&self) -> String {
        let mut s = String::new();
        let _ = write!(s, "{}", DecimalText(self));
        s
    }
}

struct DecimalText<'m, 'a>(&'m Money<'a>);

impl fmt::Display for DecimalText<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.decimal {
            Decimal::Given(text) => f.write_str(text),
            Decimal::FromMinor => {
                let minor = self.0.minor;
                let exp = u32::from(self.0.currency.exponent);
                if minor < 0 {
                    f.write_char('-')?;
                }
                let abs = minor.unsigned_abs();
                if exp == 0 {
                    return write!(f, "{abs}");
                }
                let scale = 10u64.pow(exp);
                write!(f, "{}.{:0width$}", abs / scale, abs % scale, width = exp as usize)
            }
        }
    }
}

impl Serialize for Money<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Money", 3)?;
        st.serialize_field("currency", self.currency.code)?;
        st.serialize_field("minor", &self.minor)?;
        match &self.decimal {
            Decimal::Given(text) => st.serialize_field("decimal", text.as_ref())?,
            Decimal::FromMinor => {
                let mut buf = [0u8; 24];
                st.serialize_field("decimal", minor_to_decimal(self.minor, self.currency.exponent, &mut buf))?
            }
        }
        st.end()
    }
}

/// `minor` as a decimal with `exponent` fraction digits, written right to left into `buf`
/// (the fast path of serialization; `DecimalText` is the same for `Display`).
pub(crate) fn minor_to_decimal(minor: i64, exponent: u8, buf: &mut [u8; 24]) -> &str {
    let mut abs = minor.unsigned_abs();
    let mut at = buf.len();
    let mut digits = 0u8;
    loop {
        if digits == exponent && exponent > 0 {
            at -= 1;
            buf[at] = b'.';
        }
        at -= 1;
        buf[at] = b'0' + (abs % 10) as u8;
        abs /= 10;
        digits += 1;
        if abs == 0 && digits > exponent {
            break;
        }
    }
    if minor < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    core::str::from_utf8(&buf[at..]).unwrap_or("")
}

/// Why an amount string could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmountError {
    NotANumber,
    TooLarge,
    UnknownCurrency,
    CurrencyMismatch,
}

impl AmountError {
    pub const fn reason(self) -> &'static str {
        match self {
            AmountError::NotANumber => "not a decimal amount",
            AmountError::TooLarge => "amount too large to represent in minor units",
            AmountError::UnknownCurrency => {
                "currency cannot be known: the symbol is ambiguous or missing and the marketplace is not recognized"
            }
            AmountError::CurrencyMismatch => "currency symbol does not match the marketplace's currency",
        }
    }
}

/// A signed amount split from its currency symbol: `"-$4.700"` → sign -1, symbol `$`, digits `4.700`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolAmount<'a> {
    pub negative: bool,
    pub symbol: &'a str,
    pub digits: Cow<'a, str>,
}

/// Splits `"-$4.700"`, `"$-4.700"`, `"4.70 €"`, `"-4.700"`, `"1,234.50"` into sign, symbol, digits.
pub fn split_amount(text: &str) -> Result<SymbolAmount<'_>, AmountError> {
    let t = text.trim();
    let mut negative = false;
    let mut rest = t;
    let mut prefix_symbol = "";
    // Sign and symbol may come in either order before the digits.
    for _ in 0..2 {
        if let Some(r) = rest.strip_prefix('-') {
            negative = true;
            rest = r.trim_start();
        } else if let Some(r) = rest.strip_prefix('+') {
            rest = r.trim_start();
        }
        let sym_len = rest.find(|c: char| c.is_ascii_digit() || c == '.' || c == '-' || c == '+').unwrap_or(rest.len());
        if sym_len > 0 && prefix_symbol.is_empty() {
            prefix_symbol = rest[..sym_len].trim();
            rest = rest[sym_len..].trim_start();
        }
    }
    let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ',')).unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(num_len);
    let suffix = suffix.trim();
    let symbol = match (prefix_symbol.is_empty(), suffix.is_empty()) {
        (_, true) => prefix_symbol,
        (true, false) => suffix,
        (false, false) => return Err(AmountError::NotANumber),
    };
    let digits = validate_digits(number)?;
    Ok(SymbolAmount { negative, symbol, digits })
}

/// Accepts `123`, `123.45`, `.5`, `1,234.5`; returns the digits without grouping commas.
fn validate_digits(number: &str) -> Result<Cow<'_, str>, AmountError> {
    if number.is_empty() {
        return Err(AmountError::NotANumber);
    }
    let (int, frac) = match number.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (number, None),
    };
    if let Some(f) = frac {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError::NotANumber);
        }
    }
    if int.contains(',') {
        // Thousands grouping only: 1,234,567 — anything else is not a number we can trust.
        let mut groups = int.split(',');
        let first = groups.next().unwrap_or("");
        if first.is_empty() || first.len() > 3 || !groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(AmountError::NotANumber);
        }
        let mut s = String::with_capacity(number.len());
        s.extend(int.chars().filter(|&c| c != ','));
        if let Some(f) = frac {
            s.push('.');
            s.push_str(f);
        }
        return Ok(Cow::Owned(s));
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || (int.is_empty() && frac.is_none()) {
        return Err(AmountError::NotANumber);
    }
    if int.is_empty() {
        let mut s = String::with_capacity(number.len() + 1);
        s.push('0');
        s.push_str(number);
        return Ok(Cow::Owned(s));
    }
    Ok(Cow::Borrowed(number))
}

/// Minor units of a plain decimal string (`"4.705"` → 470 with exponent 2), rounded half-even.
pub fn to_minor(digits: &str, exponent: u8) -> Result<i64, AmountError> {
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let exp = usize::from(exponent);
    let mut minor: i64 = 0;
    let push = |acc: i64, d: u8| -> Result<i64, AmountError> {
        acc.checked_mul(10).and_then(|v| v.checked_add(i64::from(d - b'0'))).ok_or(AmountError::TooLarge)
    };
    for &b in int.as_bytes() {
        minor = push(minor, b)?;
    }
    let frac = frac.as_bytes();
    for i in 0..exp {
        minor = push(minor, frac.get(i).copied().unwrap_or(b'0'))?;
    }
    if frac.len() > exp {
        let first = frac[exp];
        let rest_nonzero = frac[exp + 1..].iter().any(|&b| b != b'0');
        let round_up = match first {
            b'6'..=b'9' => true,
            b'5' => rest_nonzero || minor % 2 == 1,
            _ => false,
        };
        if round_up {
            minor = minor.checked_add(1).ok_or(AmountError::TooLarge)?;
        }
    }
    Ok(minor)
}

/// What a currency symbol says: one currency, several possible ones, or nothing.
fn symbol_candidates(symbol: &str) -> Option<&'static [Currency]> {
    const DOLLARS: &[Currency] = &[Currency::USD, Currency::CAD, Currency::MXN, Currency::AUD, Currency::SGD];
    const YEN: &[Currency] = &[Currency::JPY, Currency::CNY];
    Some(match symbol {
        "$" | "＄" => DOLLARS,
        "US$" => &[Currency::USD],
        "C$" | "CA$" => &[Currency::CAD],
        "MX$" => &[Currency::MXN],
        "A$" | "AU$" => &[Currency::AUD],
        "S$" | "SG$" => &[Currency::SGD],
        "R$" => &[Currency::BRL],
        "£" | "￡" => &[Currency::GBP],
        "€" => &[Currency::EUR],
        "¥" | "￥" => YEN,
        "₹" | "Rs" | "Rs." => &[Currency::INR],
        "kr" | "SEK" => &[Currency::SEK],
        "zł" => &[Currency::PLN],
        "₺" | "TL" => &[Currency::TRY],
        "E£" => &[Currency::EGP],
        "R" => &[Currency::ZAR],
        "د.إ" => &[Currency::AED],
        "﷼" => &[Currency::SAR],
        code => {
            let c = Currency::KNOWN.iter().find(|c| c.code.eq_ignore_ascii_case(code))?;
            core::slice::from_ref(c)
        }
    })
}

/// The currency of an amount: the symbol when it is unambiguous, else the marketplace's, and the
/// two must agree. An unknown or ambiguous result is an error, never a guess.
pub fn resolve_currency(symbol: &str, marketplace: Option<Currency>) -> Result<Currency, AmountError> {
    if symbol.is_empty() {
        return marketplace.ok_or(AmountError::UnknownCurrency);
    }
    let candidates = symbol_candidates(symbol).ok_or(AmountError::UnknownCurrency)?;
    match marketplace {
        Some(m) if candidates.contains(&m) => Ok(m),
        Some(_) => Err(AmountError::CurrencyMismatch),
        None if candidates.len() == 1 => Ok(candidates[0]),
        None => Err(AmountError::UnknownCurrency),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_even_rounding() {
        assert_eq!(to_minor("5.555555", 2), Ok(556));
        assert_eq!(to_minor("4.705", 2), Ok(470));
        assert_eq!(to_minor("4.715", 2), Ok(472));
        assert_eq!(to_minor("4.7050001", 2), Ok(471));
        assert_eq!(to_minor("4.7", 2), Ok(470));
        assert_eq!(to_minor("1200", 0), Ok(1200));
        assert_eq!(to_minor("0.5", 0), Ok(0));
        assert_eq!(to_minor("1.5", 0), Ok(2));
        assert_eq!(to_minor("99999999999999999999", 2), Err(AmountError::TooLarge));
    }

    #[test]
    fn splits_sign_symbol_digits() {
        let a = split_amount("-$4.700").unwrap();
        assert!(a.negative);
        assert_eq!((a.symbol, &*a.digits), ("$", "4.700"));
        let b = split_amount("$-28.0200").unwrap();
        assert!(b.negative);
        assert_eq!(&*b.digits, "28.0200");
        let c = split_amount("4.70 €").unwrap();
        assert_eq!((c.symbol, &*c.digits), ("€", "4.70"));
        assert_eq!(&*split_amount("1,234.5").unwrap().digits, "1234.5");
        assert_eq!(&*split_amount(".5").unwrap().digits, "0.5");
        for bad in ["", "$", "abc", "1.2.3", "12,34", "1.", "$4.7x"] {
            assert!(split_amount(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn currency_needs_marketplace_for_dollar() {
        assert_eq!(resolve_currency("$", None), Err(AmountError::UnknownCurrency));
        assert_eq!(resolve_currency("$", Some(Currency::USD)), Ok(Currency::USD));
        assert_eq!(resolve_currency("£", None), Ok(Currency::GBP));
        assert_eq!(resolve_currency("£", Some(Currency::USD)), Err(AmountError::CurrencyMismatch));
    }

    #[test]
    fn decimal_from_fen() {
        assert_eq!(Money::cny_fen(1000).decimal_string(), "10.00");
        assert_eq!(Money::cny_fen(5).decimal_string(), "0.05");
        assert_eq!(Money::cny_fen(0).decimal_string(), "0.00");
    }

    #[test]
    fn serialized_decimal_matches_display() {
        for (minor, exp) in [(0, 2), (5, 2), (1000, 2), (-1234, 2), (7, 0), (i64::MIN, 2), (i64::MAX, 0), (123456, 3)] {
            let m = Money { currency: Currency { code: "TST", exponent: exp }, minor, decimal: Decimal::FromMinor };
            let mut buf = [0u8; 24];
            assert_eq!(minor_to_decimal(minor, exp, &mut buf), m.decimal_string(), "{minor} e{exp}");
        }
    }
}
