//! Lenient, borrowing deserialization of the upstreams' wire shapes.
//!
//! The seed documents carry typos (`"aftersale_Infos "`, `Errcode`, `craete_time`) and the real
//! upstreams send ids as numbers or strings as they please. [`wire_struct!`] matches keys after
//! trimming and ASCII case folding, takes the first non-null value of a key, ignores unknown keys
//! and prefixes every error with the path to the field (`list[3].created_at: ...`). The value
//! types here accept the evidently intended alternatives and borrow from the body where they can.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

/// Declares a wire struct: every field is optional, keys match after trim + ASCII lowercase, and
/// extra literal aliases (already folded) may follow a field after `|`.
macro_rules! wire_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident<'a $(, $g:ident)?> {
            $( $field:ident : $ty:ty $( | $alias:literal )* ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name<'a $(, $g)?> {
            $( pub $field: Option<$ty>, )*
            _body: core::marker::PhantomData<&'a str>,
        }

        impl<'de: 'a, 'a $(, $g: serde::Deserialize<'de>)?> serde::Deserialize<'de> for $name<'a $(, $g)?> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct FieldsVisitor<'a $(, $g)?>(core::marker::PhantomData<(&'a str, $($g)?)>);
                impl<'de: 'a, 'a $(, $g: serde::Deserialize<'de>)?> serde::de::Visitor<'de> for FieldsVisitor<'a $(, $g)?> {
                    type Value = $name<'a $(, $g)?>;
                    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                        f.write_str("a JSON object")
                    }
                    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                        let mut out = $name { $( $field: None, )* _body: core::marker::PhantomData };
                        let mut buf = [0u8; 48];
                        while let Some(key) = map.next_key::<$crate::parse::wire::Key<'de>>()? {
                            match $crate::parse::wire::fold_key(&key.0, &mut buf) {
                                $(
                                    stringify!($field) $( | $alias )* => {
                                        $crate::parse::wire::read_field(&mut map, &mut out.$field, stringify!($field))?;
                                    }
                                )*
                                _ => {
                                    map.next_value::<serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(FieldsVisitor(core::marker::PhantomData))
            }
        }
    };
}
pub(crate) use wire_struct;

/// Reads one field's value into its slot, keeping the first non-null one. Out of line on
/// purpose: one copy per field *type* serves every field of that type in every struct, instead
/// of the deserializer being inlined at each of ~200 field sites (most of the wasm's size).
#[inline(never)]
pub fn read_field<'de, M: de::MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut M,
    slot: &mut Option<T>,
    name: &'static str,
) -> Result<(), M::Error> {
    let value: Option<T> = map.next_value().map_err(|e| in_field::<M::Error>(name, &e))?;
    if slot.is_none() {
        *slot = value;
    }
    Ok(())
}

/// A map key, borrowed when the body has no escapes in it.
pub struct Key<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor).map(Key)
    }
}

/// The key as documented, trimmed and ASCII-lowercased; the common case (already clean) costs
/// one scan and no copy. Keys longer than the buffer are left as they are (no field is that long).
pub fn fold_key<'k>(key: &'k str, buf: &'k mut [u8; 48]) -> &'k str {
    // ASCII trimming: the documents' stray spaces are ASCII, and Unicode trimming costs a
    // char decode per key on the hot path.
    let trimmed = key.trim_ascii();
    if !trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        return trimmed;
    }
    let bytes = trimmed.as_bytes();
    if bytes.len() > buf.len() {
        return trimmed;
    }
    let out = &mut buf[..bytes.len()];
    out.copy_from_slice(bytes);
    out.make_ascii_lowercase();
    // Lowercasing ASCII bytes of valid UTF-8 keeps it valid.
    core::str::from_utf8(out).unwrap_or(trimmed)
}

/// Marks the path part of an error message, so nested contexts join into `a.b[3].c: message`.
const PATH_MARK: char = '\u{1}';

/// serde_json appends ` at line L column C` to errors; keep it only once, at the outermost level.
pub fn strip_position(msg: &str) -> &str {
    if let Some(i) = msg.rfind(" at line ") {
        let tail = &msg[i + " at line ".len()..];
        let mut parts = tail.splitn(3, ' ');
        if let (Some(l), Some("column"), Some(c)) = (parts.next(), parts.next(), parts.next()) {
            if l.bytes().all(|b| b.is_ascii_digit()) && c.bytes().all(|b| b.is_ascii_digit()) {
                return &msg[..i];
            }
        }
    }
    msg
}

fn join_path(segment: &str, inner: &dyn fmt::Display) -> String {
    let inner = inner.to_string();
    let inner = strip_position(&inner);
    match inner.strip_prefix(PATH_MARK) {
        Some(rest) => {
            let sep = if rest.starts_with('[') { "" } else { "." };
            format!("{PATH_MARK}{segment}{sep}{rest}")
        }
        None => format!("{PATH_MARK}{segment}: {inner}"),
    }
}

pub fn in_field<E: de::Error>(field: &str, inner: &dyn fmt::Display) -> E {
    // Fields named by Rust keywords are declared raw (`r#type`); errors name the upstream key.
    let field = field.strip_prefix("r#").unwrap_or(field);
    E::custom(join_path(field, inner))
}

pub fn in_index<E: de::Error>(index: usize, inner: &dyn fmt::Display) -> E {
    E::custom(join_path(&format!("[{index}]"), inner))
}

/// An error message from a nested deserialization, made readable: the path marker removed.
pub fn clean_message(msg: &str) -> String {
    msg.replace(PATH_MARK, "")
}

/// The message of an error from parsing a piece of the body on its own (a raw record, the
/// WeChat order) under that piece's path: `data.list[3].created_at: ...`, or `data.list[3]: ...`
/// when the error is about the piece itself. serde_json's line and column are dropped: they
/// count within the piece, not the body.
pub fn message_under(prefix: &str, msg: &str) -> String {
    let msg = strip_position(msg);
    match msg.strip_prefix(PATH_MARK) {
        Some(rest) => {
            let sep = if rest.starts_with('[') { "" } else { "." };
            format!("{prefix}{sep}{}", clean_message(rest))
        }
        None => format!("{prefix}: {}", clean_message(msg)),
    }
}

/// A list whose element errors name the element's index.
#[derive(Debug)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON array")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<List<T>, S::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                loop {
                    let index = out.len();
                    match seq.next_element::<T>() {
                        Ok(Some(v)) => out.push(v),
                        Ok(None) => break,
                        Err(e) => return Err(in_index(index, &e)),
                    }
                }
                Ok(List(out))
            }
        }
        d.deserialize_seq(ListVisitor(PhantomData))
    }
}

/// Text as given; numbers are accepted and kept as their decimal text (ids come both ways).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor).map(Text)
    }
}

/// Strings, borrowed where the body has no escapes; integers as their decimal text. Keys use it
/// too (through `deserialize_str`, so only strings reach it there).
struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an integer")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        // A float here is an id too large for 64 bits or with a fraction: its exact digits are
        // already lost, so refuse it rather than pass on a rounded id. (The value is not
        // printed: float formatting would add ~15 KB to the wasm for one message.)
        Err(E::custom("this number is not an exact integer id (too large or fractional); send it as a string"))
    }
}

impl<'a> Text<'a> {
    /// `None` for empty or whitespace-only text, which the upstreams use for "nothing".
    pub fn non_empty(this: Option<Text<'a>>) -> Option<Cow<'a, str>> {
        match this {
            Some(Text(c)) if !c.trim_ascii().is_empty() => Some(c),
            _ => None,
        }
    }
}

/// An integer, sent as a JSON integer, an integral float (`100.0`), or a string of digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int(pub i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IntVisitor;
        impl Visitor<'_> for IntVisitor {
            type Value = i64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E>(self, v: i64) -> Result<i64, E> {
                Ok(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
                i64::try_from(v).map_err(|_| E::custom(format!("integer {v} is out of range")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
                if v.is_finite() && v.abs() < 9.0e15 && (v as i64) as f64 == v {
                    Ok(v as i64)
                } else {
                    Err(E::custom("a number that is not a whole number in range"))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
                v.trim().parse::<i64>().map_err(|_| E::custom(format!("{v:?} is not an integer")))
            }
        }
        d.deserialize_any(IntVisitor).map(Int)
    }
}

/// A boolean, also as 0/1 or `"true"`/`"false"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FlagVisitor;
        impl Visitor<'_> for FlagVisitor {
            type Value = bool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E>(self, v: bool) -> Result<bool, E> {
                Ok(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
                match v {
                    0 => Ok(false),
                    1 => Ok(true),
                    _ => Err(E::custom(format!("{v} is not a boolean"))),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
                self.visit_u64(v as u64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
                match v.trim() {
                    "true" | "1" => Ok(true),
                    "false" | "0" => Ok(false),
                    _ => Err(E::custom(format!("{v:?} is not a boolean"))),
                }
            }
        }
        d.deserialize_any(FlagVisitor).map(Flag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    wire_struct! {
        pub struct Probe<'a> {
            aftersale_infos: List<Inner<'a>>,
            create_time: Text<'a> | "craete_time",
        }
    }
    wire_struct! {
        pub struct Inner<'a> {
            refund: Int,
            name: Text<'a>,
        }
    }

    #[test]
    fn keys_fold_and_alias() {
        let p: Probe<'_> = serde_json::from_str(
            r#"{"aftersale_Infos ":[{"REFUND":"100","name":"a"}],"craete_time":"x","create_time":"y","other":[1,{"a":2}]}"#,
        )
        .unwrap();
        let list = p.aftersale_infos.unwrap().0;
        assert_eq!(list[0].refund, Some(Int(100)));
        assert!(matches!(list[0].name.as_ref().unwrap().0, Cow::Borrowed("a")));
        assert_eq!(p.create_time.unwrap().0, "x"); // first non-null wins
    }

    #[test]
    fn errors_name_the_path() {
        let e = serde_json::from_str::<Probe<'_>>(r#"{"aftersale_infos":[{"refund":1},{"refund":[]}]}"#).unwrap_err();
        let msg = clean_message(&e.to_string());
        assert!(msg.starts_with("aftersale_infos[1].refund: invalid type"), "{msg}");
        assert_eq!(msg.matches(" at line ").count(), 1, "{msg}");
    }

    #[test]
    fn float_ids_are_refused() {
        assert!(serde_json::from_str::<Text<'_>>("1e30").is_err());
        assert_eq!(serde_json::from_str::<Text<'_>>("32423523451235145").unwrap().0, "32423523451235145");
    }
}
