//! Reads an answer's status code without parsing the whole body: a scan of the top-level keys
//! that skips values it does not need. Every envelope puts its code first, so on success this
//! costs a few bytes, not a second parse of a 10 MB page.

use alloc::string::String;

/// The envelope's status, as text (`"0"`, `"42001"`, `"2001003"`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Status<'a> {
    pub code: Option<&'a str>,
    pub message: Option<String>,
}

const CODE_KEYS: &[&str] = &["errcode", "code"];
const MESSAGE_KEYS: &[&str] = &["errmsg", "msg", "message"];

pub fn status(body: &str) -> Status<'_> {
    let b = body.as_bytes();
    let mut out = Status::default();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return out;
    }
    i += 1;
    loop {
        i = skip_ws(b, i);
        match b.get(i) {
            Some(b'"') => {}
            _ => return out,
        }
        let Some((key_end, key)) = read_string(body, i) else { return out };
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return out;
        }
        i = skip_ws(b, i + 1);
        let key = key.trim();
        let is_code = CODE_KEYS.iter().any(|k| key.eq_ignore_ascii_case(k));
        let is_message = MESSAGE_KEYS.iter().any(|k| key.eq_ignore_ascii_case(k));
        let Some(value_end) = skip_value(b, i) else { return out };
        if is_code && out.code.is_none() {
            let raw = body[i..value_end].trim();
            out.code = Some(raw.trim_matches('"').trim());
        } else if is_message && out.message.is_none() {
            out.message = serde_json::from_str::<String>(&body[i..value_end]).ok();
        }
        // Success needs no message; an error's message usually follows its code closely.
        if let Some(code) = out.code {
            if code == "0" || code == "200" || out.message.is_some() {
                return out;
            }
        }
        i = skip_ws(b, value_end);
        match b.get(i) {
            Some(b',') => i += 1,
            _ => return out,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

/// A string starting at `i` (on its quote): where it ends, and its raw contents.
fn read_string(body: &str, i: usize) -> Option<(usize, &str)> {
    let b = body.as_bytes();
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some((j + 1, body.get(i + 1..j)?)),
            _ => j += 1,
        }
    }
    None
}

/// The end of the JSON value starting at `i`.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => {
            let mut j = i + 1;
            while j < b.len() {
                match b[j] {
                    b'\\' => j += 2,
                    b'"' => return Some(j + 1),
                    _ => j += 1,
                }
            }
            None
        }
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j += 1;
                        while j < b.len() && b[j] != b'"' {
                            j += if b[j] == b'\\' { 2 } else { 1 };
                        }
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                j += 1;
            }
            Some(j)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_codes_anywhere_at_top_level() {
        assert_eq!(status(r#"{"code":0,"data":{"code":5}}"#).code, Some("0"));
        let s = status(r#"{"data":{"code":5,"list":["}\"{"]},"errmsg":"token expired","errcode":42001}"#);
        assert_eq!(s.code, Some("42001"));
        assert_eq!(s.message.as_deref(), Some("token expired"));
        assert_eq!(
            status(r#"{"code":"2001003","message":"access token is missing or expired"}"#).code,
            Some("2001003")
        );
        assert_eq!(status(r#"{"Errcode ": -1}"#).code, Some("-1"));
        assert_eq!(status("<html>502</html>").code, None);
        assert_eq!(status(r#"{"list":[1,2"#).code, None);
    }
}
