//! One error type for the whole core, grouped by where the trouble came from.
//!
//! Every error maps onto one of the proxy's error codes (SPEC.md §3) through [`Error::code`], so
//! the Worker and the npm module never have to guess how to present it.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use crate::Platform;

/// The error codes of the proxy's HTTP interface (SPEC.md §3), shared by the npm module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    InvalidRequest,
    Unauthorized,
    /// A caller reading beyond its scope (SPEC.md §10).
    Forbidden,
    ForbiddenOrigin,
    NotFound,
    RateLimited,
    UpstreamAuth,
    UpstreamError,
    UpstreamUnavailable,
    Internal,
}

impl ErrorCode {
    /// Every code, to read one back from its text (the proxy's `error.code`).
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::InvalidRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::ForbiddenOrigin,
        ErrorCode::NotFound,
        ErrorCode::RateLimited,
        ErrorCode::UpstreamAuth,
        ErrorCode::UpstreamError,
        ErrorCode::UpstreamUnavailable,
        ErrorCode::Internal,
    ];

    /// The code named by `text` (`"rate_limited"`), if it is one.
    pub fn from_name(text: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == text)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::ForbiddenOrigin => "forbidden_origin",
            ErrorCode::NotFound => "not_found",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::UpstreamAuth => "upstream_auth",
            ErrorCode::UpstreamError => "upstream_error",
            ErrorCode::UpstreamUnavailable => "upstream_unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status the proxy answers with.
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden | ErrorCode::ForbiddenOrigin => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::RateLimited => 429,
            ErrorCode::UpstreamAuth | ErrorCode::UpstreamError => 502,
            ErrorCode::UpstreamUnavailable => 504,
            ErrorCode::Internal => 500,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The proxy's error answer (SPEC.md §3): written by the Worker, read back by its handlers and
/// by the npm client. Members serialize in SPEC's order (`code`, `message`, `upstream`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody<'a> {
    #[serde(borrow)]
    pub error: ErrorDetail<'a>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErrorDetail<'a> {
    #[serde(borrow)]
    pub code: Cow<'a, str>,
    #[serde(borrow)]
    pub message: Cow<'a, str>,
    #[serde(default, borrow)]
    pub upstream: Option<UpstreamDetail<'a>>,
}

/// The upstream's own error, as the proxy reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UpstreamDetail<'a> {
    #[serde(borrow)]
    pub platform: Cow<'a, str>,
    #[serde(borrow)]
    pub code: Cow<'a, str>,
    #[serde(borrow)]
    pub message: Cow<'a, str>,
}

impl<'a> From<&'a UpstreamError> for UpstreamDetail<'a> {
    fn from(e: &'a UpstreamError) -> Self {
        UpstreamDetail {
            platform: Cow::Borrowed(e.platform.as_str()),
            code: Cow::Borrowed(&e.code),
            message: Cow::Borrowed(&e.message),
        }
    }
}

impl ErrorBody<'_> {
    /// The body's JSON text; a body of strings always serializes.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Everything that can go wrong in the core.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// An upstream body that is not the JSON shape its documentation describes.
    Parse(ParseError),
    /// A well-formed upstream record holding a value we cannot represent faithfully.
    InvalidValue(InvalidValue),
    /// The upstream answered with an error of its own.
    Upstream(UpstreamError),
    /// The caller asked for something that cannot be served (a bad date, limit, cursor, ...).
    Request(RequestError),
    /// Signing a Lingxing request failed.
    Sign(SignError),
    /// A protocol driver gave up (retries exhausted, answers out of order).
    Protocol(ProtocolError),
    /// Writing the normalized JSON failed: a bug of ours, never the caller's or the upstream's.
    Serialize(String),
    /// A pushed message (WeChat Channels) that did not verify or decrypt.
    Push(PushError),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Parse(_) | Error::InvalidValue(_) => ErrorCode::UpstreamError,
            Error::Upstream(e) => e.class.code(),
            Error::Request(_) => ErrorCode::InvalidRequest,
            Error::Sign(_) => ErrorCode::InvalidRequest,
            Error::Protocol(e) => e.code(),
            Error::Serialize(_) => ErrorCode::Internal,
            Error::Push(e) => e.code(),
        }
    }

    /// The upstream's own error, when there is one, for the `upstream` member of error bodies.
    pub fn upstream(&self) -> Option<&UpstreamError> {
        match self {
            Error::Upstream(e) => Some(e),
            Error::Protocol(ProtocolError::RetriesExhausted { last, .. }) => last.as_deref(),
            Error::Protocol(ProtocolError::AuthFailedAfterRefresh(e)) => Some(e),
            _ => None,
        }
    }

    /// The proxy's error body for this error.
    pub fn to_body(&self) -> ErrorBody<'static> {
        ErrorBody {
            error: ErrorDetail {
                code: Cow::Borrowed(self.code().as_str()),
                message: Cow::Owned(alloc::string::ToString::to_string(self)),
                upstream: self.upstream().map(|u| UpstreamDetail {
                    platform: Cow::Borrowed(u.platform.as_str()),
                    code: Cow::Owned(u.code.clone()),
                    message: Cow::Owned(u.message.clone()),
                }),
            },
        }
    }

    pub(crate) fn invalid_request(parameter: &'static str, reason: impl Into<String>) -> Self {
        Error::Request(RequestError { parameter, reason: reason.into() })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Parse(e) => e.fmt(f),
            Error::InvalidValue(e) => e.fmt(f),
            Error::Upstream(e) => e.fmt(f),
            Error::Request(e) => e.fmt(f),
            Error::Sign(e) => e.fmt(f),
            Error::Protocol(e) => e.fmt(f),
            Error::Serialize(why) => write!(f, "the normalized records could not be written as JSON: {why}"),
            Error::Push(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for Error {}

/// An upstream body that could not be read as the documented shape. Keeps the raw body, as
/// oauth2-rs does, so a caller can log what the upstream actually said.
#[derive(Clone, PartialEq)]
pub struct ParseError {
    pub platform: Platform,
    /// What was wrong and where: `data.list[3].created_at: invalid type: ...`.
    pub message: String,
    /// Byte offset in the body where parsing stopped, when known.
    pub offset: Option<usize>,
    pub body: String,
}

impl fmt::Debug for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParseError")
            .field("platform", &self.platform)
            .field("message", &self.message)
            .field("offset", &self.offset)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} response could not be read: {}", self.platform, self.message)?;
        if let Some(offset) = self.offset {
            write!(f, " (at byte {offset})")?;
        }
        Ok(())
    }
}

/// A value in an otherwise well-formed record that cannot be normalized faithfully.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidValue {
    pub platform: Platform,
    /// Which record: its position in the upstream's list (0-based), when it has one.
    pub record: Option<usize>,
    /// The record's own id, when it was readable.
    pub record_id: Option<String>,
    /// The upstream field, as the seed documents name it.
    pub field: &'static str,
    pub value: String,
    pub reason: &'static str,
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} record", self.platform)?;
        if let Some(i) = self.record {
            write!(f, " #{i}")?;
        }
        if let Some(id) = &self.record_id {
            write!(f, " ({id})")?;
        }
        write!(f, ": field `{}` = {:?}: {}", self.field, self.value, self.reason)
    }
}

/// How an upstream error should be treated; decides retries and the proxy's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpstreamClass {
    /// The access token is invalid or expired: refresh it once, retry once.
    TokenRejected,
    /// The refresh token is spent or expired: fetch a fresh token.
    RefreshTokenRejected,
    /// Credentials, permissions or IP whitelist: no retry will help.
    Auth,
    /// Throttled; retry after backing off.
    RateLimited,
    /// A quota that resets only later (WeChat's daily quota).
    QuotaExhausted,
    /// The Lingxing signature is older than its two minutes: sign again, retry.
    SignatureExpired,
    /// The upstream says our parameters are wrong.
    InvalidParameter,
    /// System busy, 5xx: retry after backing off.
    Transient,
    /// Anything else: surfaced as it is.
    Other,
}

impl UpstreamClass {
    pub fn code(self) -> ErrorCode {
        match self {
            UpstreamClass::TokenRejected | UpstreamClass::RefreshTokenRejected | UpstreamClass::Auth => {
                ErrorCode::UpstreamAuth
            }
            UpstreamClass::RateLimited | UpstreamClass::QuotaExhausted => ErrorCode::RateLimited,
            UpstreamClass::InvalidParameter => ErrorCode::InvalidRequest,
            UpstreamClass::Transient => ErrorCode::UpstreamUnavailable,
            UpstreamClass::SignatureExpired | UpstreamClass::Other => ErrorCode::UpstreamError,
        }
    }

    /// Whether waiting and sending the same call again may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, UpstreamClass::RateLimited | UpstreamClass::Transient | UpstreamClass::SignatureExpired)
    }
}

/// An error the upstream reported, with its own code and message kept as given.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamError {
    pub platform: Platform,
    /// The upstream's code as text (`"42001"`, `"2001003"`, `"HTTP 503"`).
    pub code: String,
    pub message: String,
    pub class: UpstreamClass,
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answered error {}: {}", self.platform, self.code, self.message)
    }
}

/// A request the core refuses, naming the parameter and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestError {
    pub parameter: &'static str,
    pub reason: String,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parameter `{}`: {}", self.parameter, self.reason)
    }
}

#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SignError {
    /// AES-128 needs a 16-byte key; Lingxing uses the appId as that key.
    AppIdLength { len: usize },
    /// A parameter value that has no place in a signed string (a non-finite number, ...).
    UnsignableValue { key: String },
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::AppIdLength { len } => {
                write!(f, "the appId must be exactly 16 bytes (it is the AES-128 key of the sign), got {len}")
            }
            SignError::UnsignableValue { key } => write!(f, "parameter `{key}` has a value that cannot be signed"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Gave up after this many attempts; `last` is the final upstream answer, if it was one.
    RetriesExhausted { attempts: u32, last: Option<Box<UpstreamError>>, transport: Option<String> },
    /// A token endpoint answered something that is not a token.
    BadTokenResponse { platform: Platform, message: String },
    /// The driver polled a call again after it was done.
    PolledAfterDone,
    /// The token was refused again right after a refresh.
    AuthFailedAfterRefresh(Box<UpstreamError>),
}

impl ProtocolError {
    fn code(&self) -> ErrorCode {
        match self {
            ProtocolError::RetriesExhausted { last: Some(last), .. } => last.class.code(),
            ProtocolError::RetriesExhausted { last: None, .. } => ErrorCode::UpstreamUnavailable,
            ProtocolError::BadTokenResponse { .. } | ProtocolError::AuthFailedAfterRefresh(_) => {
                ErrorCode::UpstreamAuth
            }
            ProtocolError::PolledAfterDone => ErrorCode::Internal,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::RetriesExhausted { attempts, last, transport } => {
                write!(f, "gave up after {attempts} attempts")?;
                if let Some(last) = last {
                    write!(f, "; last answer: {last}")?;
                }
                if let Some(t) = transport {
                    write!(f, "; last transport error: {t}")?;
                }
                Ok(())
            }
            ProtocolError::BadTokenResponse { platform, message } => {
                write!(f, "{platform} token endpoint answered no usable token: {message}")
            }
            ProtocolError::PolledAfterDone => f.write_str("a call was polled again after it was done"),
            ProtocolError::AuthFailedAfterRefresh(e) => {
                write!(f, "token refused again after a refresh: {e}")
            }
        }
    }
}

/// Why a pushed message was refused. Every variant but [`PushError::AesKeyLength`] is the
/// sender's: the push is not proven to come from WeChat, so it is answered 401.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushError {
    /// The configured EncodingAESKey is not 43 Base64 characters for 32 bytes: our setup.
    AesKeyLength { len: usize },
    /// The body is not the JSON envelope `{"ToUserName","Encrypt"}`.
    Envelope { reason: String },
    /// The signature does not match (or is not 40 hex digits).
    Signature,
    /// `Encrypt` is not Base64 of whole 32-byte blocks.
    Ciphertext,
    /// The decrypted text does not end in valid PKCS#7 padding to 32-byte blocks.
    Padding,
    /// The decrypted text's declared message length runs past its end.
    Length,
    /// The message is addressed to another appid.
    AppId,
    /// The message is not UTF-8 text.
    NotText,
    /// The query's `timestamp` is missing, not a number, or too far from now (a replay).
    Timestamp { reason: String },
    /// A query parameter the check needs is missing.
    Missing { parameter: &'static str },
}

impl PushError {
    fn code(&self) -> ErrorCode {
        match self {
            PushError::AesKeyLength { .. } => ErrorCode::Internal,
            _ => ErrorCode::Unauthorized,
        }
    }
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("push refused: ")?;
        match self {
            PushError::AesKeyLength { len } => {
                write!(f, "the EncodingAESKey must be 43 Base64 characters (32 bytes), got {len} characters")
            }
            PushError::Envelope { reason } => write!(f, "the body is not the JSON envelope with `Encrypt`: {reason}"),
            PushError::Signature => f.write_str("the signature does not match"),
            PushError::Ciphertext => f.write_str("`Encrypt` is not Base64 of whole 32-byte AES blocks"),
            PushError::Padding => f.write_str("the decrypted message has no valid PKCS#7 padding"),
            PushError::Length => f.write_str("the decrypted message's length field runs past its end"),
            PushError::AppId => f.write_str("the message is for another appid"),
            PushError::NotText => f.write_str("the decrypted message is not UTF-8 text"),
            PushError::Timestamp { reason } => write!(f, "`timestamp` {reason}"),
            PushError::Missing { parameter } => write!(f, "the query has no `{parameter}`"),
        }
    }
}

impl From<PushError> for Error {
    fn from(e: PushError) -> Self {
        Error::Push(e)
    }
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::Parse(e)
    }
}
impl From<InvalidValue> for Error {
    fn from(e: InvalidValue) -> Self {
        Error::InvalidValue(e)
    }
}
impl From<UpstreamError> for Error {
    fn from(e: UpstreamError) -> Self {
        Error::Upstream(e)
    }
}
impl From<SignError> for Error {
    fn from(e: SignError) -> Self {
        Error::Sign(e)
    }
}
impl From<RequestError> for Error {
    fn from(e: RequestError) -> Self {
        Error::Request(e)
    }
}
