//! Tolerant reading of documentation-style JSON.
//!
//! The upstreams send JSON, but their documents (the seeds) show the shapes they promise in a
//! looser dialect: `'single quotes'`, `;` between members, commas missing at line ends, trailing
//! commas, `...` standing for "more of the same", `//` comments, a top level with no braces
//! (`"errcode": 0, "list": [...]`) and arrays holding `"key": value` pairs with no object around
//! them (`[ "out_order_id": 'x'; "openid": "o" ]`). [`repair`] re-emits such text as JSON.
//!
//! It is a tokenizer and a small state machine over a stack of open containers, not a set of
//! textual substitutions, so that it never touches the inside of a string and always knows which
//! bracket is open. It only runs after strict parsing has failed, so valid JSON costs nothing.
//!
//! What it will not do is guess at content: it never closes a bracket the text leaves open (a
//! body that ends inside a container is truncated, and normalizing half a list would silently
//! drop records), never invents a value, and never edits the text of a string.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

/// serde_json refuses to nest deeper than this, so there is no point in repairing deeper text;
/// the explicit limit also bounds the container stack on hostile input.
const MAX_DEPTH: usize = 128;

/// Why a text could not be read even tolerantly, and where (byte offset, line and column).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RepairError {
    pub offset: usize,
    pub line: usize,
    pub column: usize,
    pub kind: RepairErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RepairErrorKind {
    /// Nothing but whitespace and comments.
    Empty,
    /// The text ends while brackets are open; `innermost` is the last bracket opened.
    Truncated {
        open_brackets: usize,
        innermost: Option<(char, Position)>,
    },
    /// The text ends inside a string (or a comment) that starts at the given position.
    TruncatedInside {
        what: &'static str,
        start: Position,
    },
    /// A string with a raw line break before its closing quote.
    StringRunsPastLine,
    /// A backslash escape JSON does not have.
    BadEscape,
    /// A token where something else was needed.
    Unexpected {
        found: String,
        expected: &'static str,
    },
    /// Two values on one line with nothing between them.
    MissingSeparator,
    /// More text after the one top-level value.
    TrailingText,
    TooDeep,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {} (byte {})", self.line, self.column, self.offset)
    }
}

#[cfg(test)]
impl RepairError {
    /// Whether the text is cut short rather than malformed.
    pub fn is_truncated(&self) -> bool {
        matches!(self.kind, RepairErrorKind::Truncated { .. } | RepairErrorKind::TruncatedInside { .. })
    }
}

impl fmt::Display for RepairError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = Position { offset: self.offset, line: self.line, column: self.column };
        match &self.kind {
            RepairErrorKind::Empty => f.write_str("the body is empty"),
            RepairErrorKind::Truncated { open_brackets, innermost } => {
                write!(f, "the body ends early (truncated?) at {at}")?;
                match innermost {
                    Some((ch, pos)) if *open_brackets > 1 => {
                        write!(f, ": {open_brackets} brackets are never closed, the innermost `{ch}` opened at {pos}")
                    }
                    Some((ch, pos)) => write!(f, ": `{ch}` opened at {pos} is never closed"),
                    None => f.write_str(": a value is missing after the last key"),
                }
            }
            RepairErrorKind::TruncatedInside { what, start } => {
                write!(f, "the body ends early (truncated?) inside the {what} that starts at {start}")
            }
            RepairErrorKind::StringRunsPastLine => {
                write!(f, "the string starting at {at} is not closed on its line")
            }
            RepairErrorKind::BadEscape => write!(f, "invalid escape in a string at {at}"),
            RepairErrorKind::Unexpected { found, expected } => {
                write!(f, "unexpected {found} at {at}: expected {expected}")
            }
            RepairErrorKind::MissingSeparator => {
                write!(f, "two values on one line with no `,` between them at {at}")
            }
            RepairErrorKind::TrailingText => {
                write!(f, "more text after the end of the body at {at}")
            }
            RepairErrorKind::TooDeep => {
                write!(f, "nested more than {MAX_DEPTH} levels deep at {at}")
            }
        }
    }
}

/// Re-emits documentation-style JSON as compact, valid JSON (see the module documentation for
/// what is accepted). Text that ends inside an open container is an error, never closed here.
pub(crate) fn repair(body: &str) -> Result<String, RepairError> {
    let mut r = Repairer {
        lex: Lexer { src: body, pos: 0, peeked: None },
        out: String::with_capacity(body.len()),
        stack: Vec::new(),
        top_done: false,
        prev_placeholder: false,
    };
    r.run()?;
    Ok(r.out)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Colon,
    /// `,` or `;`: the documents use both between members.
    Separator,
    /// A string in double quotes, emitted as it is.
    Str,
    /// A string in single quotes, re-quoted on output.
    SingleStr,
    /// `true`, `false`, `null` or a JSON number.
    Literal,
    /// `...` or `…`: "more of the same", dropped.
    Placeholder,
}

#[derive(Clone, Copy, Debug)]
struct Tok {
    kind: Kind,
    start: usize,
    end: usize,
    /// A line break (or a line comment) separates this token from the one before: that is
    /// where the documents leave out commas.
    newline_before: bool,
}

struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    peeked: Option<Tok>,
}

impl<'s> Lexer<'s> {
    fn position(&self, offset: usize) -> Position {
        position_in(self.src, offset)
    }

    fn error(&self, offset: usize, kind: RepairErrorKind) -> RepairError {
        let p = self.position(offset);
        RepairError { offset: p.offset, line: p.line, column: p.column, kind }
    }

    fn peek(&mut self) -> Result<Option<Tok>, RepairError> {
        if self.peeked.is_none() {
            self.peeked = self.lex()?;
        }
        Ok(self.peeked)
    }

    fn next(&mut self) -> Result<Option<Tok>, RepairError> {
        match self.peeked.take() {
            Some(t) => Ok(Some(t)),
            None => self.lex(),
        }
    }

    /// Skips whitespace (Unicode whitespace and the BOM included) and comments; says whether a
    /// line ended on the way.
    fn skip_trivia(&mut self) -> Result<bool, RepairError> {
        let bytes = self.src.as_bytes();
        let mut newline = false;
        while self.pos < bytes.len() {
            let b = bytes[self.pos];
            match b {
                b'\n' | b'\r' => {
                    newline = true;
                    self.pos += 1;
                }
                b' ' | b'\t' | 0x0b | 0x0c => self.pos += 1,
                b'/' if bytes.get(self.pos + 1) == Some(&b'/') => {
                    // A line comment runs to the end of its line; the line break is seen next.
                    match bytes[self.pos..].iter().position(|&c| c == b'\n' || c == b'\r') {
                        Some(n) => self.pos += n,
                        None => self.pos = bytes.len(),
                    }
                }
                b'/' if bytes.get(self.pos + 1) == Some(&b'*') => {
                    let start = self.pos;
                    match self.src[self.pos + 2..].find("*/") {
                        Some(n) => {
                            let inner = &self.src[self.pos + 2..self.pos + 2 + n];
                            newline |= inner.contains(['\n', '\r']);
                            self.pos += 2 + n + 2;
                        }
                        None => {
                            return Err(self.error(
                                self.src.len(),
                                RepairErrorKind::TruncatedInside { what: "comment", start: self.position(start) },
                            ))
                        }
                    }
                }
                _ if b >= 0x80 => {
                    // Non-ASCII whitespace: the BOM, no-break and ideographic spaces, and the
                    // Unicode line separators (which end a line like `\n` does).
                    let ch = self.src[self.pos..].chars().next().unwrap_or('\0');
                    if ch == '\u{feff}' || ch.is_whitespace() {
                        newline |= matches!(ch, '\u{2028}' | '\u{2029}' | '\u{85}');
                        self.pos += ch.len_utf8();
                    } else {
                        break;
                    }
                }
                _ => break,
            }
        }
        Ok(newline)
    }

    fn lex(&mut self) -> Result<Option<Tok>, RepairError> {
        let newline_before = self.skip_trivia()?;
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let Some(&b) = bytes.get(start) else {
            return Ok(None);
        };
        let single = |kind| (kind, start + 1);
        let (kind, end) = match b {
            b'{' => single(Kind::LBrace),
            b'}' => single(Kind::RBrace),
            b'[' => single(Kind::LBracket),
            b']' => single(Kind::RBracket),
            b':' => single(Kind::Colon),
            b',' | b';' => single(Kind::Separator),
            b'"' => (Kind::Str, self.string_end(start, b'"')?),
            b'\'' => (Kind::SingleStr, self.string_end(start, b'\'')?),
            _ => self.word(start)?,
        };
        self.pos = end;
        Ok(Some(Tok { kind, start, end, newline_before }))
    }

    /// The end (past the closing quote) of the string starting at `start`. Escapes are checked
    /// here so that errors point into the original text.
    fn string_end(&self, start: usize, quote: u8) -> Result<usize, RepairError> {
        let bytes = self.src.as_bytes();
        let truncated = || {
            self.error(bytes.len(), RepairErrorKind::TruncatedInside { what: "string", start: self.position(start) })
        };
        let mut i = start + 1;
        loop {
            let Some(&c) = bytes.get(i) else {
                return Err(truncated());
            };
            match c {
                _ if c == quote => return Ok(i + 1),
                b'\n' | b'\r' => {
                    return Err(self.error(start, RepairErrorKind::StringRunsPastLine));
                }
                b'\\' => {
                    let Some(&e) = bytes.get(i + 1) else {
                        return Err(truncated());
                    };
                    match e {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                        b'\'' if quote == b'\'' => i += 2,
                        b'u' => {
                            for k in 0..4 {
                                match bytes.get(i + 2 + k) {
                                    None => return Err(truncated()),
                                    Some(h) if h.is_ascii_hexdigit() => {}
                                    Some(_) => return Err(self.error(i, RepairErrorKind::BadEscape)),
                                }
                            }
                            i += 6;
                        }
                        _ => return Err(self.error(i, RepairErrorKind::BadEscape)),
                    }
                }
                _ => i += 1,
            }
        }
    }

    /// A bare word: a literal, a number or a placeholder; anything else is refused.
    fn word(&self, start: usize) -> Result<(Kind, usize), RepairError> {
        let rest = &self.src[start..];
        let len = rest
            .char_indices()
            .find(|&(i, c)| {
                matches!(c, '{' | '}' | '[' | ']' | ':' | ',' | ';' | '"' | '\'')
                    || c.is_whitespace()
                    || c == '\u{feff}'
                    || (c == '/' && matches!(rest.as_bytes().get(i + 1), Some(b'/' | b'*')))
            })
            .map_or(rest.len(), |(i, _)| i);
        if len == 0 {
            // A character that starts no token at all (a control character, a stray `/`...).
            // Checked first: an empty word must never become a token, or the lexer would not
            // advance.
            let ch = rest.chars().next().unwrap_or('\0');
            return Err(self.error(
                start,
                RepairErrorKind::Unexpected {
                    found: describe_text(ch.encode_utf8(&mut [0; 4])),
                    expected: "a JSON value",
                },
            ));
        }
        let word = &rest[..len];
        let end = start + len;
        if matches!(word, "true" | "false" | "null") || is_json_number(word) {
            return Ok((Kind::Literal, end));
        }
        if (word.len() >= 2 && word.bytes().all(|b| b == b'.')) || word.chars().all(|c| c == '…') {
            return Ok((Kind::Placeholder, end));
        }
        if end == self.src.len() {
            // `tru`, `12.`, `-` at the very end: a value cut short.
            return Err(
                self.error(end, RepairErrorKind::TruncatedInside { what: "value", start: self.position(start) })
            );
        }
        Err(self.error(
            start,
            RepairErrorKind::Unexpected { found: describe_text(word), expected: "a JSON value (strings need quotes)" },
        ))
    }
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, exactly JSON's number grammar.
fn is_json_number(w: &str) -> bool {
    let b = w.as_bytes();
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let s = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - s
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A short, printable rendering of offending text for messages.
fn describe_text(s: &str) -> String {
    let mut out = String::from("`");
    for (n, c) in s.chars().enumerate() {
        if n == 24 {
            out.push('…');
            break;
        }
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out.push('`');
    out
}

fn position_in(src: &str, offset: usize) -> Position {
    let offset = offset.min(src.len());
    let before = &src.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    // Columns count characters, as editors do; the prefix may end inside a character only if
    // the offset does, which callers never pass.
    let column = src.get(line_start..offset).map_or(offset - line_start, |s| s.chars().count()) + 1;
    Position { offset, line, column }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ObjState {
    Key,
    Colon,
    Value,
    After,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArrState {
    Element,
    After,
}

#[derive(Clone, Copy, Debug)]
enum Frame {
    /// `opened_at` is `None` for an object the text implies but never opens: the braceless top
    /// level, or `"key": value` pairs standing in an array.
    Obj {
        opened_at: Option<usize>,
        state: ObjState,
        members: usize,
    },
    Arr {
        opened_at: usize,
        state: ArrState,
        elements: usize,
    },
}

struct Repairer<'s> {
    lex: Lexer<'s>,
    out: String,
    stack: Vec<Frame>,
    /// The one top-level value is complete: anything more is trailing text.
    top_done: bool,
    /// The last token was a `...` placeholder, so one separator after it is dropped with it.
    prev_placeholder: bool,
}

impl Repairer<'_> {
    fn error(&self, offset: usize, kind: RepairErrorKind) -> RepairError {
        self.lex.error(offset, kind)
    }

    fn unexpected(&self, t: Tok, expected: &'static str) -> RepairError {
        let found = match t.kind {
            Kind::Str | Kind::SingleStr => {
                let mut s = String::from("string ");
                s.push_str(&describe_text(&self.lex.src[t.start..t.end]));
                s
            }
            Kind::Placeholder => String::from("placeholder `...`"),
            _ => describe_text(&self.lex.src[t.start..t.end]),
        };
        self.error(t.start, RepairErrorKind::Unexpected { found, expected })
    }

    fn run(&mut self) -> Result<(), RepairError> {
        let Some(first) = self.lex.next()? else {
            return Err(self.error(0, RepairErrorKind::Empty));
        };
        // A top level with no braces: `"errcode": 0, "list": [...]`.
        if matches!(first.kind, Kind::Str | Kind::SingleStr) && self.lex.peek()?.is_some_and(|t| t.kind == Kind::Colon)
        {
            self.out.push('{');
            self.stack.push(Frame::Obj { opened_at: None, state: ObjState::Key, members: 0 });
        }
        let mut tok = Some(first);
        while let Some(t) = tok {
            self.step(t)?;
            self.prev_placeholder = t.kind == Kind::Placeholder;
            tok = self.lex.next()?;
        }
        self.finish()
    }

    fn step(&mut self, t: Tok) -> Result<(), RepairError> {
        match self.stack.last().copied() {
            None if self.top_done => Err(self.error(t.start, RepairErrorKind::TrailingText)),
            None => self.begin_value(t),
            Some(Frame::Arr { state, elements, .. }) => self.array_step(t, state, elements),
            Some(Frame::Obj { opened_at, state, members }) => self.object_step(t, opened_at.is_some(), state, members),
        }
    }

    fn set_top(&mut self, frame: Frame) {
        if let Some(top) = self.stack.last_mut() {
            *top = frame;
        }
    }

    fn is_value_start(kind: Kind) -> bool {
        matches!(kind, Kind::LBrace | Kind::LBracket | Kind::Str | Kind::SingleStr | Kind::Literal)
    }

    fn array_step(&mut self, t: Tok, state: ArrState, elements: usize) -> Result<(), RepairError> {
        let Some(Frame::Arr { opened_at, .. }) = self.stack.last().copied() else {
            unreachable!("array_step on an array frame")
        };
        let frame = |state, elements| Frame::Arr { opened_at, state, elements };
        match (state, t.kind) {
            (_, Kind::RBracket) => self.close(']'),
            (_, Kind::Placeholder) => Ok(()),
            (ArrState::After, Kind::Separator) => {
                self.set_top(frame(ArrState::Element, elements));
                Ok(())
            }
            (ArrState::Element, Kind::Separator) if self.prev_placeholder => Ok(()),
            (ArrState::Element, Kind::Str | Kind::SingleStr)
                if self.lex.peek()?.is_some_and(|n| n.kind == Kind::Colon) =>
            {
                // `[ "key": value; ... ]`: the object the document left out.
                if elements > 0 {
                    return Err(self
                        .unexpected(t, "a value: `key: value` pairs without braces must be the array's only content"));
                }
                self.set_top(frame(ArrState::After, 1));
                self.push(Frame::Obj { opened_at: None, state: ObjState::Key, members: 0 }, t.start)?;
                self.out.push('{');
                self.object_step(t, false, ObjState::Key, 0)
            }
            (ArrState::Element, k) if Self::is_value_start(k) => {
                if elements > 0 {
                    self.out.push(',');
                }
                self.set_top(frame(ArrState::After, elements + 1));
                self.begin_value(t)
            }
            (ArrState::After, k) if Self::is_value_start(k) => {
                if !t.newline_before {
                    return Err(self.error(t.start, RepairErrorKind::MissingSeparator));
                }
                // A comma left out at the end of a line.
                self.set_top(frame(ArrState::Element, elements));
                self.array_step(t, ArrState::Element, elements)
            }
            (ArrState::Element, _) => Err(self.unexpected(t, "a value or `]`")),
            (ArrState::After, _) => Err(self.unexpected(t, "`,` or `]`")),
        }
    }

    fn object_step(&mut self, t: Tok, explicit: bool, state: ObjState, members: usize) -> Result<(), RepairError> {
        let Some(Frame::Obj { opened_at, .. }) = self.stack.last().copied() else {
            unreachable!("object_step on an object frame")
        };
        let frame = |state, members| Frame::Obj { opened_at, state, members };
        // An implied object inside an array ends with that array's `]`.
        let in_array = !explicit && self.stack.len() >= 2;
        match (state, t.kind) {
            (ObjState::Key | ObjState::After, Kind::RBrace) if explicit => self.close('}'),
            (ObjState::Key | ObjState::After, Kind::RBracket) if in_array => {
                self.close('}')?;
                self.step(t)
            }
            (ObjState::Key | ObjState::After, Kind::Placeholder) => Ok(()),
            (ObjState::Key, Kind::Separator) if self.prev_placeholder => Ok(()),
            (ObjState::After, Kind::Separator) => {
                self.set_top(frame(ObjState::Key, members));
                Ok(())
            }
            (ObjState::Key, Kind::Str | Kind::SingleStr) => {
                if members > 0 {
                    self.out.push(',');
                }
                self.emit_string(t);
                self.set_top(frame(ObjState::Colon, members + 1));
                Ok(())
            }
            (ObjState::After, Kind::Str | Kind::SingleStr) => {
                if !t.newline_before {
                    return Err(self.error(t.start, RepairErrorKind::MissingSeparator));
                }
                self.set_top(frame(ObjState::Key, members));
                self.object_step(t, explicit, ObjState::Key, members)
            }
            (ObjState::Colon, Kind::Colon) => {
                self.out.push(':');
                self.set_top(frame(ObjState::Value, members));
                Ok(())
            }
            (ObjState::Value, k) if Self::is_value_start(k) => {
                self.set_top(frame(ObjState::After, members));
                self.begin_value(t)
            }
            (ObjState::Key, _) if explicit => Err(self.unexpected(t, "a quoted key or `}`")),
            (ObjState::Key, _) if in_array => Err(self.unexpected(t, "a quoted key or `]`")),
            (ObjState::Key, _) => Err(self.unexpected(t, "a quoted key")),
            (ObjState::Colon, _) => Err(self.unexpected(t, "`:` after the key")),
            (ObjState::Value, _) => Err(self.unexpected(t, "a value after `:`")),
            (ObjState::After, _) if explicit => Err(self.unexpected(t, "`,` or `}`")),
            (ObjState::After, _) if in_array => Err(self.unexpected(t, "`,` or `]`")),
            (ObjState::After, _) => Err(self.unexpected(t, "`,` or the end of the body")),
        }
    }

    /// A value where one is expected; the enclosing frame has already counted it.
    fn begin_value(&mut self, t: Tok) -> Result<(), RepairError> {
        match t.kind {
            Kind::LBrace => {
                self.push(Frame::Obj { opened_at: Some(t.start), state: ObjState::Key, members: 0 }, t.start)?;
                self.out.push('{');
            }
            Kind::LBracket => {
                self.push(Frame::Arr { opened_at: t.start, state: ArrState::Element, elements: 0 }, t.start)?;
                self.out.push('[');
            }
            Kind::Str | Kind::SingleStr => self.emit_string(t),
            Kind::Literal => self.out.push_str(&self.lex.src[t.start..t.end]),
            _ => return Err(self.unexpected(t, "a value")),
        }
        if self.stack.is_empty() {
            self.top_done = true;
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame, at: usize) -> Result<(), RepairError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.error(at, RepairErrorKind::TooDeep));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self, bracket: char) -> Result<(), RepairError> {
        self.out.push(bracket);
        self.stack.pop();
        if self.stack.is_empty() {
            self.top_done = true;
        }
        Ok(())
    }

    /// Double-quoted strings go out as they came (escapes were checked by the lexer); single-
    /// quoted ones are re-quoted. Raw control characters, which JSON forbids in strings, are
    /// escaped rather than refused: documents paste tabs into examples.
    fn emit_string(&mut self, t: Tok) {
        let src = self.lex.src;
        let inner = &src[t.start + 1..t.end - 1];
        let single = t.kind == Kind::SingleStr;
        let needs_work = single || inner.bytes().any(|b| b < 0x20);
        if !needs_work {
            self.out.push_str(&src[t.start..t.end]);
            return;
        }
        self.out.push('"');
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('\'') => self.out.push('\''),
                    Some(e) => {
                        self.out.push('\\');
                        self.out.push(e);
                    }
                    None => self.out.push_str("\\\\"),
                },
                '"' if single => self.out.push_str("\\\""),
                c if (c as u32) < 0x20 => {
                    let _ = write!(self.out, "\\u{:04x}", c as u32);
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    fn finish(&mut self) -> Result<(), RepairError> {
        let end = self.lex.src.len();
        match self.stack.as_slice() {
            [] => Ok(()),
            // The braceless top level ends with the text, after a complete member.
            [Frame::Obj { opened_at: None, state: ObjState::Key | ObjState::After, .. }] => {
                self.out.push('}');
                self.stack.clear();
                Ok(())
            }
            stack => {
                let brackets = stack.iter().filter_map(|f| match *f {
                    Frame::Arr { opened_at, .. } => Some(('[', opened_at)),
                    Frame::Obj { opened_at: Some(at), .. } => Some(('{', at)),
                    Frame::Obj { opened_at: None, .. } => None,
                });
                let open_brackets = brackets.clone().count();
                let innermost = brackets.clone().next_back().map(|(ch, at)| (ch, self.lex.position(at)));
                Err(self.error(end, RepairErrorKind::Truncated { open_brackets, innermost }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use serde_json::Value;

    fn fixed(s: &str) -> Value {
        let out = repair(s).unwrap_or_else(|e| panic!("repair of {s:?} failed: {e}"));
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("repair gave invalid JSON {out:?}: {e}"))
    }

    fn json(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    fn refused(s: &str) -> RepairError {
        match repair(s) {
            Ok(out) => panic!("repair of {s:?} should fail, gave {out:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn valid_json_is_kept() {
        let s = r#"{"a":[1,-2.5e3,true,false,null,"x\"y\u00e9"],"b":{},"c":[]}"#;
        assert_eq!(repair(s).unwrap(), s);
        assert_eq!(fixed("  [ 1 , 2 ]  "), json("[1,2]"));
        assert_eq!(fixed("\"just a string\""), json("\"just a string\""));
    }

    #[test]
    fn single_quotes() {
        assert_eq!(
            fixed(r#"{'a': 'x', "b": 'say "hi"', "c": 'don\'t', 'd': '\u00e9\n'}"#),
            json(r#"{"a":"x","b":"say \"hi\"","c":"don't","d":"\u00e9\n"}"#)
        );
    }

    #[test]
    fn semicolons_separate() {
        assert_eq!(fixed(r#"{"a": 'x'; "b": 2;}"#), json(r#"{"a":"x","b":2}"#));
        assert_eq!(fixed("[1; 2]"), json("[1,2]"));
    }

    #[test]
    fn missing_commas_at_line_ends() {
        assert_eq!(
            fixed("{\n \"a\": 1\n \"b\": {\"c\": 2}\n \"d\": [1\n 2]\n}"),
            json(r#"{"a":1,"b":{"c":2},"d":[1,2]}"#)
        );
        // The seed's `"Title": "Fitness Ring,"`: the comma inside the string stays data.
        assert_eq!(fixed("{\"t\": \"Fitness Ring,\"\n\"u\": 1}"), json(r#"{"t":"Fitness Ring,","u":1}"#));
        // On one line, two values with nothing between them are not a document's habit.
        let e = refused(r#"{"a": 1 "b": 2}"#);
        assert_eq!(e.kind, RepairErrorKind::MissingSeparator);
        assert_eq!((e.line, e.column, e.offset), (1, 9, 8));
        assert_eq!(refused("[1 2]").kind, RepairErrorKind::MissingSeparator);
    }

    #[test]
    fn trailing_commas() {
        assert_eq!(fixed(r#"{"a": [1, 2,], "b": {"c": 0,},}"#), json(r#"{"a":[1,2],"b":{"c":0}}"#));
        assert!(matches!(refused("[,1]").kind, RepairErrorKind::Unexpected { .. }));
        assert!(matches!(refused("[1,,2]").kind, RepairErrorKind::Unexpected { .. }));
        assert!(matches!(refused("{,}").kind, RepairErrorKind::Unexpected { .. }));
    }

    #[test]
    fn placeholders_are_dropped() {
        assert_eq!(fixed("[...]"), json("[]"));
        assert_eq!(fixed("[{\"a\":1},\n ...\n]"), json(r#"[{"a":1}]"#));
        assert_eq!(fixed("[1, ..., 2]"), json("[1,2]"));
        assert_eq!(fixed("[1, …]"), json("[1]"));
        assert_eq!(fixed(r#"{"a": 1, ..., "b": 2}"#), json(r#"{"a":1,"b":2}"#));
        assert_eq!(fixed(r#"{"list": [...], "n": 0}"#), json(r#"{"list":[],"n":0}"#));
        // A placeholder cannot stand for a value: what would it be?
        let e = refused(r#"{"a": ...}"#);
        assert!(e.to_string().contains("expected a value after `:`"), "{e}");
    }

    #[test]
    fn comments() {
        assert_eq!(
            fixed("{\n\"order_id\":32434234,            // Order ID\n\"b\": 'x' /* inline */ }"),
            json(r#"{"order_id":32434234,"b":"x"}"#)
        );
        // A line comment ends its line, so it also stands for the missing comma.
        assert_eq!(fixed("{\"a\": 1 // one\n\"b\": 2}"), json(r#"{"a":1,"b":2}"#));
        // `//` inside a string is text.
        assert_eq!(fixed("{'u': 'http://x'}"), json(r#"{"u":"http://x"}"#));
        assert!(refused("{\"a\": 1 /* never closed").is_truncated());
    }

    #[test]
    fn braceless_top_level() {
        assert_eq!(fixed("\"errcode\": 0,\n\"list\": [...]"), json(r#"{"errcode":0,"list":[]}"#));
        assert_eq!(fixed("'a': 1;"), json(r#"{"a":1}"#));
        // `]` cannot close an object that was never opened by a bracket.
        assert!(matches!(refused("\"a\": 1 ]").kind, RepairErrorKind::Unexpected { .. }));
    }

    #[test]
    fn pairs_in_an_array_are_one_object() {
        assert_eq!(
            fixed("[ \"out_order_id\": 'x'; \"openid\": \"o\" ]"),
            json(r#"[{"out_order_id":"x","openid":"o"}]"#)
        );
        assert_eq!(
            fixed("{\"l\": [\n \"a\": 1,\n \"p\": [\n \"b\": 2\n ]\n ]}"),
            json(r#"{"l":[{"a":1,"p":[{"b":2}]}]}"#)
        );
        // Only as the array's one content: after a value it is not an object but a mistake.
        assert!(matches!(refused("[1, \"a\": 2]").kind, RepairErrorKind::Unexpected { .. }));
        // `}` does not close an object the text never opened.
        assert!(matches!(refused("[\"a\": 1}]").kind, RepairErrorKind::Unexpected { .. }));
    }

    #[test]
    fn never_closes_open_brackets() {
        let e = refused("{\"a\": [1, 2");
        assert!(e.is_truncated());
        assert_eq!(
            e.kind,
            RepairErrorKind::Truncated { open_brackets: 2, innermost: Some(('[', position_in("{\"a\": [1, 2", 6))) }
        );
        let msg = e.to_string();
        assert!(msg.contains("ends early"), "{msg}");
        assert!(msg.contains("2 brackets are never closed"), "{msg}");
        assert!(msg.contains("line 1, column 7 (byte 6)"), "{msg}");
        // Cut inside a string, a literal, after a key, after a colon.
        for cut in ["{\"a\": \"tex", "{\"a\": tru", "{\"a\": 12.", "{\"a\"", "{\"a\":", "\"a\":", "[\"\\u12"] {
            let e = refused(cut);
            assert!(e.is_truncated(), "{cut:?}: {e}");
            assert!(e.to_string().contains("ends early"), "{cut:?}: {e}");
        }
        // The braceless top level (seed 000) never closing its lists.
        let e = refused("\"errcode\": 0,\n\"l\": [\n \"a\": 1,\n \"p\": [\n \"b\": 2\n");
        assert_eq!(
            e.to_string(),
            "the body ends early (truncated?) at line 6, column 1 (byte 46): 2 brackets are never \
             closed, the innermost `[` opened at line 4, column 7 (byte 36)"
        );
    }

    #[test]
    fn refuses_what_it_cannot_know() {
        assert_eq!(refused("").kind, RepairErrorKind::Empty);
        assert_eq!(refused("  // nothing\n").kind, RepairErrorKind::Empty);
        assert_eq!(refused("{} {}").kind, RepairErrorKind::TrailingText);
        assert_eq!(refused("{\"a\": \"x\ny\"}").kind, RepairErrorKind::StringRunsPastLine);
        assert_eq!(refused(r#"{"a": "\x"}"#).kind, RepairErrorKind::BadEscape);
        assert_eq!(refused(r#"{"a": "\u12G4"}"#).kind, RepairErrorKind::BadEscape);
        let e = refused("{\"a\": yes}");
        assert!(e.to_string().contains("unexpected `yes`"), "{e}");
        assert!(matches!(refused("{a: 1}").kind, RepairErrorKind::Unexpected { .. }));
        assert!(matches!(refused("[1}").kind, RepairErrorKind::Unexpected { .. }));
        assert!(matches!(refused("{\"a\" 1}").kind, RepairErrorKind::Unexpected { .. }));
        assert!(matches!(refused("[01]").kind, RepairErrorKind::Unexpected { .. }));
        // A character that starts no token is refused, not skipped forever.
        for odd in ["[\u{0}]", "[\u{1f}]", "{\"a\": \u{7f}}", "[1, /]"] {
            assert!(matches!(refused(odd).kind, RepairErrorKind::Unexpected { .. }), "{odd:?}");
        }
        assert_eq!(fixed("[\u{b}1\u{b}]"), json("[1]"));
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert_eq!(refused(&deep).kind, RepairErrorKind::TooDeep);
    }

    #[test]
    fn odd_text_passes_through_strings_untouched() {
        // BOM and non-ASCII spaces are whitespace; escapes (NUL, surrogates) are left for the
        // strict parser, which is the one that knows what they decode to.
        assert_eq!(repair("\u{feff}{'a':\u{3000}\"\\u0000\\ud800\"}").unwrap(), "{\"a\":\"\\u0000\\ud800\"}");
        // A raw tab in a quoted example is escaped, not refused.
        assert_eq!(fixed("{'a': 'x\ty'}"), json(r#"{"a":"x\ty"}"#));
        assert_eq!(fixed("{\"å¤§è\": 'ä¸¸'}"), json(r#"{"å¤§è":"ä¸¸"}"#));
    }

    #[test]
    fn seeds_as_written() {
        // The documents' own examples read as the clean fixtures, key for key.
        let cases = [
            (
                include_str!("../../tests/golden/wechat_store.as_written.txt"),
                include_str!("../../tests/golden/wechat_store.clean.json"),
            ),
            (
                include_str!("../../tests/golden/wechat_shop.as_written_closed.txt"),
                include_str!("../../tests/golden/wechat_shop.clean.json"),
            ),
            (
                include_str!("../../tests/golden/xiaoe.as_written.txt"),
                include_str!("../../tests/golden/xiaoe.clean.json"),
            ),
            (
                include_str!("../../tests/golden/lingxing.as_written.txt"),
                include_str!("../../tests/golden/lingxing.clean.json"),
            ),
        ];
        for (written, clean) in cases {
            assert_eq!(fixed(written), json(clean));
        }
        let e = refused(include_str!("../../tests/golden/wechat_shop.as_written.txt"));
        assert!(e.is_truncated(), "{e}");
        assert!(e.to_string().contains("2 brackets are never closed"), "{e}");
    }
}
