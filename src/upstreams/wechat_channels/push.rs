//! WeChat Channels message push (facts §10): the URL check, and the verification and
//! decryption of a pushed message. Sans-IO and without a clock: refusing stale timestamps is
//! the caller's (SPEC.md §8). Nothing here panics on any input.
//!
//! A push is `POST ?timestamp&nonce&msg_signature…` with the body `{"ToUserName","Encrypt"}`:
//! `msg_signature = hex(sha1(concat(sort([token, timestamp, nonce, Encrypt]))))`, and `Encrypt`
//! is Base64 of AES-256-CBC (key = Base64(EncodingAESKey + "="), IV = its first 16 bytes) over
//! `random16 ‖ u32be(len) ‖ message ‖ appid`, PKCS#7-padded to 32-byte blocks.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::Engine;
use sha1::{Digest, Sha1};

use crate::error::PushError;
use crate::parse::wire::{self, wire_struct, Text};
use crate::protocol::upstream::{PushEvent, PushRequest, PUSH_MAX_SKEW_S};
use crate::Error;

type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;
type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;

/// The padding block of WeChat's scheme: 32 bytes, not AES's 16.
const BLOCK: usize = 32;
/// The random prefix and the length field before the message.
const PREFIX: usize = 16 + 4;

/// The EncodingAESKey's 43rd character carries two bits the key does not use: its decoder
/// must not insist they are zero.
const KEY_ENGINE: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::STANDARD, GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true));

wire_struct! {
    /// The push body (JSON only for Channels shops).
    pub struct PushEnvelope<'a> {
        tousername: Text<'a>,
        encrypt: Text<'a>,
    }
}

/// Verifies and decrypts a push (SPEC.md §8), returning the message's JSON text.
///
/// `timestamp`, `nonce` and `msg_signature` are the query's; `body` is the request body. The
/// signature is checked (in constant time) before anything is decrypted; the message must be
/// addressed to `appid`.
pub fn open(
    token: &str,
    encoding_aes_key: &str,
    appid: &str,
    timestamp: &str,
    nonce: &str,
    msg_signature: &str,
    body: &str,
) -> Result<String, Error> {
    let key = aes_key(encoding_aes_key)?;
    let envelope: PushEnvelope<'_> = serde_json::from_str(body.strip_prefix('\u{feff}').unwrap_or(body))
        .map_err(|e| PushError::Envelope { reason: wire::clean_message(&e.to_string()) })?;
    let Some(Text(encrypt)) = envelope.encrypt else {
        return Err(PushError::Envelope { reason: String::from("no `Encrypt` member") }.into());
    };
    if !signature_matches(&mut [token, timestamp, nonce, &encrypt], msg_signature) {
        return Err(PushError::Signature.into());
    }
    decrypt(&key, appid, &encrypt)
}

wire_struct! {
    /// The decrypted message (§10.8): only what the proxy acts on.
    pub struct PushMessage<'a> {
        event: Text<'a>,
        finder_shop_aftersale_status_update: PushAfterSale<'a>,
    }
}

wire_struct! {
    /// `finder_shop_aftersale_status_update`: the after-sale that changed and its new status.
    pub struct PushAfterSale<'a> {
        after_sale_order_id: Text<'a>,
        status: Text<'a>,
    }
}

/// The event of an after-sale's change, the one the proxy fetches on.
pub const AFTERSALE_UPDATE: &str = "channels_ec_aftersale_update";

/// A whole push request, URL check (`GET`) or message (`POST`): the timestamp is checked
/// against `now` first (more than five minutes away is refused as a replay), then the
/// signature, then the ciphertext and its addressee. Every refusal is a [`PushError`].
pub fn open_request(
    token: &str,
    encoding_aes_key: &str,
    appid: &str,
    request: PushRequest<'_>,
) -> Result<PushEvent, Error> {
    let param = |name: &'static str| {
        request
            .query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or(PushError::Missing { parameter: name })
    };
    let timestamp = param("timestamp")?;
    let sent: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| PushError::Timestamp { reason: alloc::format!("{timestamp:?} is not unix seconds") })?;
    let skew = sent.saturating_sub(request.now_unix_s);
    if skew.unsigned_abs() > PUSH_MAX_SKEW_S.unsigned_abs() {
        return Err(PushError::Timestamp {
            reason: alloc::format!("is {} s from now; at most {PUSH_MAX_SKEW_S} s is accepted", skew.unsigned_abs()),
        }
        .into());
    }
    let nonce = param("nonce")?;
    if !request.method_is_post {
        let echostr = check_url(token, timestamp, nonce, param("signature")?, param("echostr")?)?;
        return Ok(PushEvent::UrlCheck { echostr: String::from(echostr) });
    }
    let text = open(token, encoding_aes_key, appid, timestamp, nonce, param("msg_signature")?, request.body)?;
    // Proven to be WeChat's from here on: a message we cannot read is acknowledged as "other"
    // rather than refused, so WeChat does not retry it for ever.
    let Ok(message) = serde_json::from_str::<PushMessage<'_>>(&text) else {
        return Ok(PushEvent::Other { event: String::from("(unreadable message)") });
    };
    let event = message.event.map(|t| t.0.into_owned()).unwrap_or_default();
    match message.finder_shop_aftersale_status_update {
        Some(update) if event == AFTERSALE_UPDATE => {
            match update.after_sale_order_id.map(|t| t.0.into_owned()).filter(|id| !id.is_empty()) {
                Some(aftersale_id) => {
                    Ok(PushEvent::AfterSaleChanged { aftersale_id, status: update.status.map(|t| t.0.into_owned()) })
                }
                None => Ok(PushEvent::Other { event }),
            }
        }
        _ => Ok(PushEvent::Other { event }),
    }
}

/// WeChat's URL check (`GET ?signature&timestamp&nonce&echostr`): when `signature` is
/// sha1 of the sorted token, timestamp and nonce, the answer is `echostr` as it came.
pub fn check_url<'e>(
    token: &str,
    timestamp: &str,
    nonce: &str,
    signature: &str,
    echostr: &'e str,
) -> Result<&'e str, Error> {
    if signature_matches(&mut [token, timestamp, nonce], signature) {
        Ok(echostr)
    } else {
        Err(PushError::Signature.into())
    }
}

/// `hex(sha1(concat(sort(parts))))`, the signature of both the URL check (token, timestamp,
/// nonce) and a push (the same and `Encrypt`). Sorting is by bytes, as WeChat's own code does.
pub fn signature(parts: &mut [&str]) -> String {
    hex(&digest(parts))
}

/// A message encrypted and signed as WeChat does, for simulators and tests of a receiver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// The `Encrypt` member of the body.
    pub encrypt: String,
    /// The `msg_signature` query parameter.
    pub msg_signature: String,
}

impl Sealed {
    /// The push body: `{"ToUserName":…,"Encrypt":…}`.
    pub fn body(&self, to_user_name: &str) -> String {
        let mut m = serde_json::Map::new();
        m.insert("ToUserName".into(), to_user_name.into());
        m.insert("Encrypt".into(), self.encrypt.as_str().into());
        serde_json::Value::Object(m).to_string()
    }
}

/// Encrypts `message` for `appid` with the caller's 16 random bytes (the core draws no random
/// numbers) and signs it with `timestamp` and `nonce`: the sender's side of [`open`] (§10.5).
pub fn seal(
    token: &str,
    encoding_aes_key: &str,
    appid: &str,
    timestamp: &str,
    nonce: &str,
    random: &[u8; 16],
    message: &str,
) -> Result<Sealed, Error> {
    let key = aes_key(encoding_aes_key)?;
    let len = u32::try_from(message.len()).map_err(|_| PushError::Length)?;
    let unpadded = PREFIX + message.len() + appid.len();
    let pad = BLOCK - unpadded % BLOCK; // 1..=32: a whole block when already aligned
    let mut buf = Vec::with_capacity(unpadded + pad);
    buf.extend_from_slice(random);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(message.as_bytes());
    buf.extend_from_slice(appid.as_bytes());
    buf.resize(unpadded + pad, pad as u8);
    let n = buf.len();
    let cipher = Aes256CbcEnc::new(&key.into(), key[..16].into());
    let ciphertext = cipher.encrypt_padded_mut::<NoPadding>(&mut buf, n).map_err(|_| PushError::Ciphertext)?;
    let encrypt = STANDARD.encode(ciphertext);
    let msg_signature = signature(&mut [token, timestamp, nonce, &encrypt]);
    Ok(Sealed { encrypt, msg_signature })
}

/// The AES key from the 43-character EncodingAESKey.
fn aes_key(encoding_aes_key: &str) -> Result<[u8; 32], PushError> {
    let wrong = || PushError::AesKeyLength { len: encoding_aes_key.chars().count() };
    if encoding_aes_key.len() != 43 || !encoding_aes_key.is_ascii() {
        return Err(wrong());
    }
    let mut padded = [b'='; 44];
    padded[..43].copy_from_slice(encoding_aes_key.as_bytes());
    let bytes = KEY_ENGINE.decode(padded).map_err(|_| wrong())?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| wrong())
}

fn decrypt(key: &[u8; 32], appid: &str, encrypt: &str) -> Result<String, Error> {
    let mut buf = STANDARD.decode(encrypt.trim_ascii()).map_err(|_| PushError::Ciphertext)?;
    if buf.is_empty() || buf.len() % BLOCK != 0 {
        return Err(PushError::Ciphertext.into());
    }
    let cipher = Aes256CbcDec::new(key.into(), key[..16].into());
    let plain = cipher.decrypt_padded_mut::<NoPadding>(&mut buf).map_err(|_| PushError::Ciphertext)?;
    // PKCS#7 with 32-byte blocks: the last byte p is 1..=32 and so are the p bytes it covers.
    let p = usize::from(*plain.last().ok_or(PushError::Padding)?);
    if p == 0 || p > BLOCK || p > plain.len() || plain[plain.len() - p..].iter().any(|&b| usize::from(b) != p) {
        return Err(PushError::Padding.into());
    }
    let full = &plain[..plain.len() - p];
    let len_field = full.get(16..PREFIX).ok_or(PushError::Length)?;
    let len = u32::from_be_bytes([len_field[0], len_field[1], len_field[2], len_field[3]]);
    let end = usize::try_from(len).ok().and_then(|l| PREFIX.checked_add(l)).ok_or(PushError::Length)?;
    let message = full.get(PREFIX..end).ok_or(PushError::Length)?;
    if &full[end..] != appid.as_bytes() {
        return Err(PushError::AppId.into());
    }
    let message = core::str::from_utf8(message).map_err(|_| PushError::NotText)?;
    Ok(String::from(message))
}

fn digest(parts: &mut [&str]) -> [u8; 20] {
    parts.sort_unstable();
    let mut h = Sha1::new();
    for p in parts.iter() {
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

/// Compares the expected digest with the given hex in time independent of where they differ.
fn signature_matches(parts: &mut [&str], given_hex: &str) -> bool {
    let Some(given) = unhex20(given_hex.trim_ascii()) else { return false };
    let expected = digest(parts);
    let diff = expected.iter().zip(given.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    core::hint::black_box(diff) == 0
}

fn unhex20(s: &str) -> Option<[u8; 20]> {
    let b = s.as_bytes();
    if b.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec;

    // The official worked vector (facts §10.6).
    const TOKEN: &str = "AAAAA";
    const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const APPID: &str = "wxba5fad812f8e6fb9";
    const TIMESTAMP: &str = "1714112445";
    const NONCE: &str = "415670741";
    const MSG_SIGNATURE: &str = "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3";
    const ENCRYPT: &str = "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=";
    const MESSAGE: &str = r#"{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}"#;

    fn body(encrypt: &str) -> String {
        format!(r#"{{"ToUserName":"gh_97417a04a28d","Encrypt":"{encrypt}"}}"#)
    }

    fn open_with(signature: &str, body: &str) -> Result<String, Error> {
        open(TOKEN, KEY, APPID, TIMESTAMP, NONCE, signature, body)
    }

    fn push_error(r: Result<String, Error>) -> PushError {
        match r {
            Err(Error::Push(p)) => p,
            other => panic!("expected a push error, got {other:?}"),
        }
    }

    #[test]
    fn the_official_vector_opens() {
        assert_eq!(open_with(MSG_SIGNATURE, &body(ENCRYPT)).unwrap(), MESSAGE);
        assert_eq!(signature(&mut [TOKEN, TIMESTAMP, NONCE, ENCRYPT]), MSG_SIGNATURE);
        // Upper-case hex is the same signature.
        assert_eq!(open_with(&MSG_SIGNATURE.to_ascii_uppercase(), &body(ENCRYPT)).unwrap(), MESSAGE);
        // JSON may escape the slashes of Base64; the signature is over the decoded value.
        assert_eq!(open_with(MSG_SIGNATURE, &body(&ENCRYPT.replace('/', "\\/"))).unwrap(), MESSAGE);
    }

    #[test]
    fn sealing_reproduces_the_official_vector() {
        let sealed = seal(TOKEN, KEY, APPID, TIMESTAMP, NONCE, b"a8eedb185eb2fecf", MESSAGE).unwrap();
        assert_eq!(sealed.encrypt, ENCRYPT);
        assert_eq!(sealed.msg_signature, MSG_SIGNATURE);
        // The reply of §10.6: 63 bytes of plaintext, one 64-byte cipher.
        let reply =
            seal(TOKEN, KEY, APPID, "1713424427", NONCE, b"707722b803182950", r#"{"demo_resp":"good luck"}"#).unwrap();
        assert_eq!(
            reply.encrypt,
            "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ=="
        );
        assert_eq!(reply.msg_signature, "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1");
        let opened = open(TOKEN, KEY, APPID, "1713424427", NONCE, &reply.msg_signature, &reply.body("gh_x")).unwrap();
        assert_eq!(opened, r#"{"demo_resp":"good luck"}"#);
    }

    #[test]
    fn the_url_check() {
        let ok = check_url(
            TOKEN,
            "1714036504",
            "1514711492",
            "f464b24fc39322e44b38aa78f5edd27bd1441696",
            "4375120948345356249",
        );
        assert_eq!(ok.unwrap(), "4375120948345356249");
        assert_eq!(signature(&mut [TOKEN, "1714036504", "1514711492"]), "f464b24fc39322e44b38aa78f5edd27bd1441696");
        // The plain-mode signature of §10.6.
        assert_eq!(signature(&mut [TOKEN, "1714037059", "486452656"]), "899cf89e464efb63f54ddac96b0a0a235f53aa78");
        let e = check_url(TOKEN, "1714036505", "1514711492", "f464b24fc39322e44b38aa78f5edd27bd1441696", "x");
        assert_eq!(e.unwrap_err().code(), crate::ErrorCode::Unauthorized);
        assert!(check_url(TOKEN, "1714036504", "1514711492", "", "x").is_err());
    }

    #[test]
    fn every_flipped_byte_of_encrypt_or_signature_is_refused() {
        for i in 0..ENCRYPT.len() {
            let mut bytes = ENCRYPT.as_bytes().to_vec();
            // Another Base64 character (or `=`), so the body stays JSON.
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert_eq!(push_error(open_with(MSG_SIGNATURE, &body(&tampered))), PushError::Signature, "byte {i}");
        }
        for i in 0..MSG_SIGNATURE.len() {
            let mut bytes = MSG_SIGNATURE.as_bytes().to_vec();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert_eq!(push_error(open_with(&tampered, &body(ENCRYPT))), PushError::Signature, "byte {i}");
        }
        // And the other signed inputs.
        assert_eq!(
            push_error(open(TOKEN, KEY, APPID, "1714112446", NONCE, MSG_SIGNATURE, &body(ENCRYPT))),
            PushError::Signature
        );
        assert_eq!(
            push_error(open("AAAAB", KEY, APPID, TIMESTAMP, NONCE, MSG_SIGNATURE, &body(ENCRYPT))),
            PushError::Signature
        );
        assert_eq!(push_error(open_with(&MSG_SIGNATURE[..39], &body(ENCRYPT))), PushError::Signature);
        assert_eq!(push_error(open_with(&format!("{MSG_SIGNATURE}0"), &body(ENCRYPT))), PushError::Signature);
        assert_eq!(
            push_error(open_with("zz6e02f8204d34f8ba5fa3b1db94908f3df2e9b3", &body(ENCRYPT))),
            PushError::Signature
        );
    }

    /// A correctly signed push of an arbitrary ciphertext: what a sender holding the token but
    /// not a valid encryption could send.
    fn signed(ciphertext: &[u8]) -> (String, String) {
        let encrypt = STANDARD.encode(ciphertext);
        let sig = signature(&mut [TOKEN, TIMESTAMP, NONCE, &encrypt]);
        (sig, body(&encrypt))
    }

    fn encrypt_raw(plain: &[u8]) -> Vec<u8> {
        let key = aes_key(KEY).unwrap();
        let mut buf = plain.to_vec();
        let n = buf.len();
        Aes256CbcEnc::new(&key.into(), key[..16].into()).encrypt_padded_mut::<NoPadding>(&mut buf, n).unwrap().to_vec()
    }

    fn full(message: &[u8], declared: u32, appid: &[u8]) -> Vec<u8> {
        let mut v = b"0123456789abcdef".to_vec();
        v.extend_from_slice(&declared.to_be_bytes());
        v.extend_from_slice(message);
        v.extend_from_slice(appid);
        v
    }

    fn padded(mut v: Vec<u8>) -> Vec<u8> {
        let pad = BLOCK - v.len() % BLOCK;
        v.resize(v.len() + pad, pad as u8);
        v
    }

    #[test]
    fn wrong_appid_padding_length_and_text_are_refused() {
        let sealed = seal(TOKEN, KEY, "wx0000000000000000", TIMESTAMP, NONCE, &[7; 16], "{}").unwrap();
        assert_eq!(push_error(open_with(&sealed.msg_signature, &sealed.body("gh"))), PushError::AppId);
        // An appid that is a prefix or an extension of ours is another appid.
        for other in ["wxba5fad812f8e6fb", "wxba5fad812f8e6fb90", ""] {
            let sealed = seal(TOKEN, KEY, other, TIMESTAMP, NONCE, &[7; 16], "{}").unwrap();
            assert_eq!(push_error(open_with(&sealed.msg_signature, &sealed.body("gh"))), PushError::AppId, "{other}");
        }

        // Padding: 0, 33 and inconsistent bytes.
        let base = full(b"{}", 2, APPID.as_bytes()); // 40 bytes
        for bad_tail in [vec![0u8; 24], vec![33u8; 24], {
            let mut t = vec![24u8; 24];
            t[0] = 23;
            t
        }] {
            let mut v = base.clone();
            v.extend_from_slice(&bad_tail);
            assert_eq!(v.len() % BLOCK, 0);
            let (sig, b) = signed(&encrypt_raw(&v));
            assert_eq!(push_error(open_with(&sig, &b)), PushError::Padding);
        }
        // A full block of padding on a block-aligned plaintext is valid.
        let aligned = full(&[b'x'; 26], 26, APPID.as_bytes()); // 16 + 4 + 26 + 18 = 64
        assert_eq!(aligned.len(), 64);
        let (sig, b) = signed(&encrypt_raw(&padded(aligned)));
        assert_eq!(open_with(&sig, &b).unwrap(), "x".repeat(26));

        // Declared lengths past the end, up to u32::MAX.
        for declared in [3, 40, u32::MAX] {
            let (sig, b) = signed(&encrypt_raw(&padded(full(b"{}", declared, APPID.as_bytes()))));
            let e = push_error(open_with(&sig, &b));
            assert!(e == PushError::Length || e == PushError::AppId, "{declared}: {e:?}");
        }
        let (sig, b) = signed(&encrypt_raw(&padded(full(b"{}", u32::MAX, b""))));
        assert_eq!(push_error(open_with(&sig, &b)), PushError::Length);
        // Fewer than 20 bytes before the padding.
        let (sig, b) = signed(&encrypt_raw(&padded(b"0123456789".to_vec())));
        assert_eq!(push_error(open_with(&sig, &b)), PushError::Length);
        // Not UTF-8.
        let (sig, b) = signed(&encrypt_raw(&padded(full(&[0xff, 0xfe], 2, APPID.as_bytes()))));
        assert_eq!(push_error(open_with(&sig, &b)), PushError::NotText);
    }

    #[test]
    fn short_or_broken_ciphertexts_are_refused() {
        // Empty, one AES block (16 bytes: not a 32-byte block), 48 bytes.
        for n in [0usize, 16, 48, 31] {
            let (sig, b) = signed(&alloc::vec![0x42u8; n]);
            assert_eq!(push_error(open_with(&sig, &b)), PushError::Ciphertext, "{n} bytes");
        }
        // Not Base64 at all, or Base64 with bad padding: still signed correctly.
        for encrypt in ["!!!!", "QUJD", "QUJDRA=", "QUJDRA==="] {
            let sig = signature(&mut [TOKEN, TIMESTAMP, NONCE, encrypt]);
            assert_eq!(push_error(open_with(&sig, &body(encrypt))), PushError::Ciphertext, "{encrypt}");
        }
    }

    #[test]
    fn bad_envelopes_and_keys_are_refused() {
        for b in ["", "x", "[]", r#"{"ToUserName":"gh"}"#, r#"{"Encrypt":{}}"#, r#"{"Encrypt":"abc""#] {
            let e = push_error(open_with(MSG_SIGNATURE, b));
            assert!(matches!(e, PushError::Envelope { .. }), "{b}: {e:?}");
            assert!(Error::Push(e).to_string().starts_with("push refused: the body is not the JSON envelope"));
        }
        assert_eq!(Error::Push(PushError::Signature).code(), crate::ErrorCode::Unauthorized);
        for key in [
            "",
            &KEY[..42],
            &format!("{KEY}A"),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!",
            "ÀAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            let e = open(TOKEN, key, APPID, TIMESTAMP, NONCE, MSG_SIGNATURE, &body(ENCRYPT)).unwrap_err();
            assert!(matches!(e, Error::Push(PushError::AesKeyLength { .. })), "{key}: {e:?}");
            assert_eq!(e.code(), crate::ErrorCode::Internal);
            assert!(e.to_string().contains("43"), "{e}");
        }
        // The lenient last character: `B` sets bits the key does not use, and is still a key.
        assert!(aes_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB").is_ok());
        assert_eq!(aes_key(KEY).unwrap(), [0u8; 32]);
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }

    fn request<'q>(post: bool, query: &'q [(String, String)], body: &'q str, now: i64) -> PushRequest<'q> {
        PushRequest { method_is_post: post, query, body, now_unix_s: now }
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (String::from(*k), String::from(*v))).collect()
    }

    #[test]
    fn whole_requests_check_the_clock_then_the_proof() {
        let now: i64 = TIMESTAMP.parse().unwrap();
        let q = pairs(&[("timestamp", TIMESTAMP), ("nonce", NONCE), ("msg_signature", MSG_SIGNATURE)]);
        let b = body(ENCRYPT);
        // The vector's message is another event: verified, acknowledged, nothing to fetch.
        assert_eq!(
            open_request(TOKEN, KEY, APPID, request(true, &q, &b, now + 299)),
            Ok(PushEvent::Other { event: "debug_demo".into() })
        );
        for skewed in [now + 301, now - 301] {
            let e = open_request(TOKEN, KEY, APPID, request(true, &q, &b, skewed)).unwrap_err();
            assert!(matches!(&e, Error::Push(PushError::Timestamp { .. })), "{e:?}");
            assert_eq!(e.code(), crate::ErrorCode::Unauthorized);
        }
        let e = open_request(TOKEN, KEY, "wx_other", request(true, &q, &b, now)).unwrap_err();
        assert_eq!(e, Error::Push(PushError::AppId));
        let q = pairs(&[("timestamp", TIMESTAMP), ("nonce", NONCE)]);
        let e = open_request(TOKEN, KEY, APPID, request(true, &q, &b, now)).unwrap_err();
        assert_eq!(e, Error::Push(PushError::Missing { parameter: "msg_signature" }));
        let q = pairs(&[("timestamp", "soon"), ("nonce", NONCE)]);
        assert!(matches!(
            open_request(TOKEN, KEY, APPID, request(true, &q, &b, now)),
            Err(Error::Push(PushError::Timestamp { .. }))
        ));
    }

    #[test]
    fn an_aftersale_update_names_the_id_digit_for_digit() {
        let now = 1_700_000_000i64;
        let ts = format!("{now}");
        let message = r#"{"ToUserName":"gh_1","FromUserName":"o1","CreateTime":1700000000,"MsgType":"event","Event":"channels_ec_aftersale_update","finder_shop_aftersale_status_update":{"status":"USER_WAIT_RETURN","after_sale_order_id":9007199254740993123,"order_id":"1"}}"#;
        let sealed = seal(TOKEN, KEY, APPID, &ts, "n", &[7; 16], message).unwrap();
        let q = pairs(&[("timestamp", &ts), ("nonce", "n"), ("msg_signature", &sealed.msg_signature)]);
        let b = sealed.body("gh_1");
        assert_eq!(
            open_request(TOKEN, KEY, APPID, request(true, &q, &b, now)),
            Ok(PushEvent::AfterSaleChanged {
                aftersale_id: "9007199254740993123".into(), // beyond 2^53, kept exact
                status: Some("USER_WAIT_RETURN".into())
            })
        );
    }

    #[test]
    fn the_url_check_answers_echostr_only_when_signed_and_fresh() {
        // The vector of §10.2.
        let q = pairs(&[
            ("signature", "f464b24fc39322e44b38aa78f5edd27bd1441696"),
            ("timestamp", "1714036504"),
            ("nonce", "1514711492"),
            ("echostr", "4375120948345356249"),
        ]);
        assert_eq!(
            open_request("AAAAA", KEY, APPID, request(false, &q, "", 1714036504)),
            Ok(PushEvent::UrlCheck { echostr: "4375120948345356249".into() })
        );
        assert_eq!(
            open_request("AAAAB", KEY, APPID, request(false, &q, "", 1714036504)),
            Err(Error::Push(PushError::Signature))
        );
        assert!(open_request("AAAAA", KEY, APPID, request(false, &q, "", 1714036504 + 3600)).is_err());
    }
}
