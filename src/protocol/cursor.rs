//! Opaque, tamper-evident cursors: the whole query and the pager's state, compactly encoded,
//! authenticated with HMAC-SHA256 under the proxy's secret, in URL-safe Base64. A cursor names
//! its query, so replaying it with other filters is refused.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::time::Date;
use crate::model::{Kind, Platform, Status};
use crate::protocol::paginate::PagerState;
use crate::protocol::query::{DateField, ListQuery};
use crate::Error;

/// Version 2 adds the upstream's `next_key`; version 1 cursors (issued before) are still read.
const VERSION: u8 = 2;
const VERSION_1: u8 = 1;
/// Truncated tag: 128 bits is ample against forgery and keeps cursors short.
const TAG_LEN: usize = 16;

/// The HMAC key for cursors; prints as `[redacted]`.
#[derive(Clone)]
pub struct CursorKey(Vec<u8>);

impl CursorKey {
    pub fn new(secret: &[u8]) -> CursorKey {
        CursorKey(secret.to_vec())
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }
}

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey([redacted])")
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }
    fn varint(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
}

const PLATFORMS: [Platform; Platform::ALL.len()] = Platform::ALL;
const DATE_FIELDS: [DateField; 3] = [DateField::Created, DateField::Updated, DateField::Refunded];
const KINDS: [Kind; 3] = [Kind::Refund, Kind::ReturnRefund, Kind::Exchange];

fn index_of<T: PartialEq>(all: &[T], v: &T) -> u8 {
    all.iter().position(|x| x == v).unwrap_or(0) as u8
}

fn date_days(d: Date) -> u64 {
    // Dates of interest are after 1970; shift so older ones still encode.
    (d.days_since_epoch() + 1_000_000) as u64
}

/// Encodes the query and state and signs them.
pub fn seal(key: &CursorKey, query: &ListQuery, state: &PagerState) -> String {
    let mut out = Vec::with_capacity(64 + state.recent.len() * 8);
    out.push(VERSION);
    out.push(index_of(&PLATFORMS, &query.platform));
    put_varint(&mut out, date_days(query.from));
    put_varint(&mut out, date_days(query.to));
    out.push(index_of(&DATE_FIELDS, &query.date_field));
    let mask = query.statuses.iter().fold(0u64, |m, s| m | 1 << index_of(&Status::ALL, s));
    put_varint(&mut out, mask);
    out.push(query.kind.map_or(0, |k| index_of(&KINDS, &k) + 1));
    put_varint(&mut out, u64::from(query.limit));
    out.push(u8::from(query.include_raw));
    match &query.order_id {
        Some(id) => {
            put_varint(&mut out, id.len() as u64 + 1);
            out.extend_from_slice(id.as_bytes());
        }
        None => put_varint(&mut out, 0),
    }
    put_varint(&mut out, u64::from(state.window));
    put_varint(&mut out, state.offset);
    put_varint(&mut out, state.known_total.map_or(0, |t| t + 1));
    put_varint(&mut out, state.grown);
    put_varint(&mut out, state.catch_up.map_or(0, |c| c + 1));
    put_varint(&mut out, state.recent.len() as u64);
    for h in &state.recent {
        out.extend_from_slice(&h.to_le_bytes());
    }
    // The key is the upstream's own opaque text: it is signed with the rest, never interpreted.
    match &state.next_key {
        Some(key) => {
            put_varint(&mut out, key.len() as u64 + 1);
            out.extend_from_slice(key.as_bytes());
        }
        None => put_varint(&mut out, 0),
    }
    let mut mac = key.mac();
    mac.update(&out);
    let tag = mac.finalize().into_bytes();
    out.extend_from_slice(&tag[..TAG_LEN]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
}

/// The first byte of a sealed payload ([`seal_payload`]): never a list cursor's version.
const PAYLOAD: u8 = 0x80;

/// Signs an opaque payload the same way (the mirror's keyset cursors carry their own JSON).
pub fn seal_payload(key: &CursorKey, payload: &[u8]) -> String {
    let mut out = Vec::with_capacity(payload.len() + 1 + TAG_LEN);
    out.push(PAYLOAD);
    out.extend_from_slice(payload);
    let mut mac = key.mac();
    mac.update(&out);
    out.extend_from_slice(&mac.finalize().into_bytes()[..TAG_LEN]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
}

/// Checks a payload sealed by [`seal_payload`] and returns it.
pub fn open_payload(key: &CursorKey, cursor: &str) -> Result<Vec<u8>, Error> {
    let mut body = verified_body(key, cursor, 1)?;
    match body.first() {
        Some(&PAYLOAD) => Ok(body.split_off(1)),
        _ => Err(bad_cursor("is a cursor of another kind of listing")),
    }
}

/// The signed body of a cursor (at least `min_body` bytes), its tag checked and removed.
fn verified_body(key: &CursorKey, cursor: &str, min_body: usize) -> Result<Vec<u8>, Error> {
    let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| bad_cursor("is not a cursor this proxy issued (not URL-safe Base64)"))?;
    if bytes.len() < TAG_LEN + min_body {
        return Err(bad_cursor("is too short to be a cursor this proxy issued"));
    }
    let tag = bytes.split_off(bytes.len() - TAG_LEN);
    let mut mac = key.mac();
    mac.update(&bytes);
    mac.verify_truncated_left(&tag).map_err(|_| bad_cursor("was altered or was not issued by this proxy"))?;
    Ok(bytes)
}

fn bad_cursor(reason: &str) -> Error {
    Error::invalid_request("cursor", String::from(reason))
}

/// Checks a cursor's signature and decodes the query and state it carries.
pub fn open(key: &CursorKey, cursor: &str) -> Result<(ListQuery, PagerState), Error> {
    let body = verified_body(key, cursor, 2)?;
    if body.first() == Some(&PAYLOAD) {
        return Err(bad_cursor(
            "is a mirror listing's cursor: send it with the query it came with (its platform, source=mirror and filters)",
        ));
    }
    let (query, state) =
        decode(&body).ok_or_else(|| bad_cursor("is signed but cannot be read by this version of the proxy"))?;
    // Signed is not the same as sound (a leaked or reused secret signs anything): the query and
    // state are checked as if the caller had typed them.
    query.validate()?;
    Ok((query, state))
}

fn decode(body: &[u8]) -> Option<(ListQuery, PagerState)> {
    let mut r = Reader { bytes: body, at: 0 };
    let version = r.byte()?;
    if version != VERSION && version != VERSION_1 {
        return None;
    }
    let platform = *PLATFORMS.get(usize::from(r.byte()?))?;
    let day = |v: u64| Some(Date::from_days_since_epoch(i64::try_from(v).ok()? - 1_000_000));
    let from = day(r.varint()?)?;
    let to = day(r.varint()?)?;
    let date_field = *DATE_FIELDS.get(usize::from(r.byte()?))?;
    let mask = r.varint()?;
    let statuses = Status::ALL.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, s)| *s).collect();
    let kind = match r.byte()? {
        0 => None,
        k => Some(*KINDS.get(usize::from(k) - 1)?),
    };
    let limit = u32::try_from(r.varint()?).ok()?;
    let include_raw = r.byte()? == 1;
    let order_id = match r.varint()? {
        0 => None,
        n => Some(String::from(core::str::from_utf8(r.take(usize::try_from(n - 1).ok()?)?).ok()?)),
    };
    let window = u32::try_from(r.varint()?).ok()?;
    let offset = r.varint()?;
    let known_total = r.varint()?.checked_sub(1);
    let grown = r.varint()?;
    let catch_up = r.varint()?.checked_sub(1);
    let n = usize::try_from(r.varint()?).ok()?;
    if n > 10_000 {
        return None;
    }
    let mut recent = Vec::with_capacity(n);
    for _ in 0..n {
        recent.push(u64::from_le_bytes(r.take(8)?.try_into().ok()?));
    }
    let next_key = match version {
        VERSION_1 => None,
        _ => match r.varint()? {
            0 => None,
            n => Some(String::from(core::str::from_utf8(r.take(usize::try_from(n - 1).ok()?)?).ok()?)),
        },
    };
    if r.at != body.len() {
        return None;
    }
    let query = ListQuery { platform, from, to, date_field, statuses, kind, order_id, limit, include_raw };
    Some((query, PagerState { window, offset, known_total, grown, catch_up, recent, next_key, done: false }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> ListQuery {
        let mut q =
            ListQuery::new(Platform::Xiaoe, Date::parse("2023-01-14").unwrap(), Date::parse("2023-02-14").unwrap());
        q.statuses = alloc::vec![Status::Refunding, Status::Completed];
        q.kind = Some(Kind::Refund);
        q.order_id = Some(String::from("o_1"));
        q
    }

    #[test]
    fn round_trips() {
        let key = CursorKey::new(b"k");
        let state = PagerState {
            window: 1,
            offset: 250,
            known_total: Some(300),
            grown: 2,
            catch_up: None,
            recent: alloc::vec![1, u64::MAX],
            next_key: Some(String::from("KEY/with+odd=chars 键")),
            done: false,
        };
        let c = seal(&key, &query(), &state);
        let (q, s) = open(&key, &c).unwrap();
        assert_eq!(q, query());
        assert_eq!(s, state);
    }

    #[test]
    fn payloads_round_trip_and_are_not_list_cursors() {
        let key = CursorKey::new(b"k");
        let sealed = seal_payload(&key, br#"{"after":[1,"x"]}"#);
        assert_eq!(open_payload(&key, &sealed).unwrap(), br#"{"after":[1,"x"]}"#);
        assert!(open_payload(&CursorKey::new(b"other"), &sealed).is_err());
        let alone = open(&key, &sealed).expect_err("a payload is not a list cursor");
        assert!(alloc::format!("{alone}").contains("source=mirror"), "says how to send it: {alone}");
        let list = seal(&key, &query(), &PagerState::default());
        assert!(open_payload(&key, &list).is_err(), "a list cursor is not a payload");
    }

    #[test]
    fn reads_version_1_cursors() {
        // A v1 cursor: the v2 layout without the next_key field, signed the same way.
        let key = CursorKey::new(b"k");
        let state = PagerState { window: 2, offset: 7, recent: alloc::vec![42], ..PagerState::default() };
        let v2 = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(seal(&key, &query(), &state)).unwrap();
        let mut body = v2[..v2.len() - TAG_LEN - 1].to_vec(); // drop the tag and the empty key
        body[0] = VERSION_1;
        let mut mac = key.mac();
        mac.update(&body);
        body.extend_from_slice(&mac.finalize().into_bytes()[..TAG_LEN]);
        let v1 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body);
        let (q, s) = open(&key, &v1).unwrap();
        assert_eq!((q, s), (query(), state));
    }

    #[test]
    fn refuses_tampering_and_other_keys() {
        let key = CursorKey::new(b"k");
        let c = seal(&key, &query(), &PagerState::default());
        assert!(open(&CursorKey::new(b"other"), &c).is_err());
        let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&c).unwrap();
        bytes[3] ^= 1;
        let tampered = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let e = open(&key, &tampered).unwrap_err();
        assert!(alloc::format!("{e}").contains("cursor"));
        assert!(open(&key, "not a cursor!").is_err());
        assert!(open(&key, "").is_err());
    }
}
