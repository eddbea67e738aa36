//! Canonical JSON: the one byte encoding that is hashed and signed.
//!
//! Signatures and event ids are computed over bytes, so every node must produce exactly the same bytes for the
//! same value. We therefore never sign "whatever `serde_json` printed": map order in `serde_json` depends on a
//! cargo feature (`preserve_order`) that any dependency can switch on, and its number and escape handling is
//! not specified as a canonical form. This module has its own [`Value`], its own encoder and its own strict
//! decoder.
//!
//! The canonical form:
//!
//! * UTF-8, no byte order mark, no whitespace outside strings;
//! * object keys sorted by the byte order of their UTF-8 encoding, no duplicate keys;
//! * integers only, within ±(2^53-1) (`MAX_SAFE_INTEGER`), no leading zeros, no `-0`, no fraction or exponent
//!   (so `1.0`, `1e3` and `-0` are all rejected);
//! * strings escape only `"`, `\` and control characters below U+0020; `\b \f \n \r \t` use their short form,
//!   the other control characters `\u00XX` with lowercase hex; `/` and non-ASCII characters are never escaped;
//! * nesting of arrays and objects at most [`MAX_DEPTH`] deep (the outermost container is depth 1).
//!
//! [`decode`] is a strict JSON parser (it rejects what is never valid for us: duplicate keys, floats, integers
//! out of range, invalid UTF-8, lone surrogates, trailing data, deep nesting) but tolerates non-canonical
//! layout. [`decode_canonical`] additionally requires the input to be byte-identical to its re-encoding and says
//! why when it is not.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize};
use serde::{Deserialize, Deserializer, Serializer};

/// Largest magnitude an integer may have: 2^53-1, exactly representable in every JSON implementation.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Deepest allowed nesting of arrays and objects; the outermost container has depth 1.
pub const MAX_DEPTH: usize = 64;

/// A JSON value restricted to what canonical JSON can express (no floats).
///
/// Objects are a [`BTreeMap`] keyed by [`String`], whose ordering is the byte order of the UTF-8 encoding, which
/// is exactly the canonical key order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer; the encoder rejects magnitudes above [`MAX_SAFE_INTEGER`].
    Int(i64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, keys in canonical (byte) order.
    Object(BTreeMap<String, Value>),
}

impl Value {
    /// The map if this is an object.
    pub fn as_object(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// The string if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer if this is an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The member `key` if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|map| map.get(key))
    }

    /// Encodes this value canonically; see [`encode`].
    pub fn to_canonical_bytes(&self) -> Result<Vec<u8>, CanonicalError> {
        encode(self)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}

impl From<BTreeMap<String, Value>> for Value {
    fn from(map: BTreeMap<String, Value>) -> Self {
        Value::Object(map)
    }
}

/// Why input that is valid JSON for us is still not in canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonCanonical {
    /// Object keys are not in byte order.
    KeysNotSorted,
    /// Whitespace outside a string.
    Whitespace,
    /// An escape that the canonical form does not use (`\/`, `\u0041`, `\u000a`, `\u001F`, `\u00e9`...).
    NonMinimalEscape,
    /// The re-encoded bytes differ for another reason (a safety net; not expected to occur).
    Differs,
}

impl NonCanonical {
    /// Short stable description, also used in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            NonCanonical::KeysNotSorted => "keys not sorted",
            NonCanonical::Whitespace => "whitespace",
            NonCanonical::NonMinimalEscape => "non-minimal escape",
            NonCanonical::Differs => "re-encoded bytes differ",
        }
    }
}

impl fmt::Display for NonCanonical {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors of canonical encoding and decoding. Decoding errors carry the byte offset in the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// The input ended in the middle of a value.
    #[error("unexpected end of input at byte {offset}")]
    UnexpectedEnd {
        /// Byte offset (the input length).
        offset: usize,
    },
    /// A byte that cannot start or continue the expected token.
    #[error("unexpected byte 0x{byte:02x} at byte {offset}, expected {expected}")]
    UnexpectedByte {
        /// Byte offset.
        offset: usize,
        /// The offending byte.
        byte: u8,
        /// What the parser expected there.
        expected: &'static str,
    },
    /// The input is not valid UTF-8.
    #[error("invalid UTF-8 at byte {offset}")]
    InvalidUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// A raw control character (below U+0020) inside a string.
    #[error("unescaped control character in string at byte {offset}")]
    ControlCharacter {
        /// Byte offset.
        offset: usize,
    },
    /// A backslash escape that JSON does not define, or bad hex digits in `\u`.
    #[error("invalid escape at byte {offset}")]
    InvalidEscape {
        /// Offset of the backslash.
        offset: usize,
    },
    /// A `\u` escape of a UTF-16 surrogate that is not part of a valid pair.
    #[error("lone surrogate escape at byte {offset}")]
    LoneSurrogate {
        /// Offset of the backslash.
        offset: usize,
    },
    /// The same key twice in one object.
    #[error("duplicate key {key:?} at byte {offset}")]
    DuplicateKey {
        /// Offset of the second occurrence.
        offset: usize,
        /// The key.
        key: String,
    },
    /// A number with a fraction or exponent.
    #[error("number with fraction or exponent at byte {offset}: only integers are allowed")]
    Float {
        /// Offset of the number.
        offset: usize,
    },
    /// The number `-0`.
    #[error("negative zero at byte {offset}")]
    NegativeZero {
        /// Offset of the number.
        offset: usize,
    },
    /// A number with a leading zero such as `01`.
    #[error("leading zero in number at byte {offset}")]
    LeadingZero {
        /// Offset of the number.
        offset: usize,
    },
    /// An integer whose magnitude exceeds 2^53-1.
    #[error("integer out of range ±(2^53-1) at byte {offset}")]
    IntegerOutOfRange {
        /// Offset of the number.
        offset: usize,
    },
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than 64 at byte {offset}")]
    TooDeep {
        /// Offset of the container that is too deep.
        offset: usize,
    },
    /// Bytes after the top-level value.
    #[error("trailing data at byte {offset}")]
    TrailingData {
        /// Offset of the first trailing byte.
        offset: usize,
    },
    /// Valid input that is not in canonical form.
    #[error("not canonical at byte {offset}: {reason}")]
    NotCanonical {
        /// Offset of the first violation.
        offset: usize,
        /// What is wrong.
        reason: NonCanonical,
    },
    /// Encoding: an integer whose magnitude exceeds 2^53-1.
    #[error("integer {value} out of range ±(2^53-1)")]
    IntegerValueOutOfRange {
        /// The value.
        value: i128,
    },
    /// Encoding: a floating-point value (canonical JSON has none; use integer units such as microdegrees).
    #[error("floating-point values are not allowed")]
    FloatValue,
    /// Encoding: arrays and objects nested deeper than [`MAX_DEPTH`].
    #[error("value nested deeper than 64")]
    ValueTooDeep,
    /// Conversion between [`Value`] and a Rust type failed.
    #[error("conversion: {0}")]
    Conversion(String),
}

impl CanonicalError {
    /// Stable `snake_case` code for logs, API errors and test vectors.
    pub fn code(&self) -> &'static str {
        match self {
            CanonicalError::UnexpectedEnd { .. } => "unexpected_end",
            CanonicalError::UnexpectedByte { .. } => "unexpected_byte",
            CanonicalError::InvalidUtf8 { .. } => "invalid_utf8",
            CanonicalError::ControlCharacter { .. } => "control_character",
            CanonicalError::InvalidEscape { .. } => "invalid_escape",
            CanonicalError::LoneSurrogate { .. } => "lone_surrogate",
            CanonicalError::DuplicateKey { .. } => "duplicate_key",
            CanonicalError::Float { .. } | CanonicalError::FloatValue => "float",
            CanonicalError::NegativeZero { .. } => "negative_zero",
            CanonicalError::LeadingZero { .. } => "leading_zero",
            CanonicalError::IntegerOutOfRange { .. }
            | CanonicalError::IntegerValueOutOfRange { .. } => "integer_out_of_range",
            CanonicalError::TooDeep { .. } | CanonicalError::ValueTooDeep => "too_deep",
            CanonicalError::TrailingData { .. } => "trailing_data",
            CanonicalError::NotCanonical { reason, .. } => match reason {
                NonCanonical::KeysNotSorted => "keys_not_sorted",
                NonCanonical::Whitespace => "whitespace",
                NonCanonical::NonMinimalEscape => "non_minimal_escape",
                NonCanonical::Differs => "not_canonical",
            },
            CanonicalError::Conversion(_) => "conversion",
        }
    }
}

impl ser::Error for CanonicalError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CanonicalError::Conversion(msg.to_string())
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------------------------

/// Encodes `value` in canonical form.
pub fn encode(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(128);
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Appends the canonical encoding of `value` to `out`. On error `out` may hold a partial encoding.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    write_value(value, out, 0)
}

fn write_value(value: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Int(i) => {
            if i.unsigned_abs() > MAX_SAFE_INTEGER.unsigned_abs() {
                return Err(CanonicalError::IntegerValueOutOfRange {
                    value: i128::from(*i),
                });
            }
            out.extend_from_slice(i.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            if depth >= MAX_DEPTH {
                return Err(CanonicalError::ValueTooDeep);
            }
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out, depth + 1)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            if depth >= MAX_DEPTH {
                return Err(CanonicalError::ValueTooDeep);
            }
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(item, out, depth + 1)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Appends `s` as a canonical JSON string literal (with quotes) to `out`.
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0x0f)]);
        } else {
            out.extend_from_slice(short);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

// ---------------------------------------------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------------------------------------------

/// Parses JSON strictly into a [`Value`], tolerating only non-canonical layout (whitespace, key order, escapes).
pub fn decode(bytes: &[u8]) -> Result<Value, CanonicalError> {
    Parser::new(bytes)?.parse_document().map(|(value, _)| value)
}

/// Parses canonical JSON: like [`decode`], and the input must be byte-identical to the re-encoding of the value.
pub fn decode_canonical(bytes: &[u8]) -> Result<Value, CanonicalError> {
    let (value, violation) = Parser::new(bytes)?.parse_document()?;
    if let Some((offset, reason)) = violation {
        return Err(CanonicalError::NotCanonical { offset, reason });
    }
    // Safety net: whatever the parser's bookkeeping missed, the bytes must be exactly the re-encoding.
    let again = encode(&value)?;
    if again != bytes {
        let offset = again.iter().zip(bytes).take_while(|(a, b)| a == b).count();
        return Err(CanonicalError::NotCanonical {
            offset,
            reason: NonCanonical::Differs,
        });
    }
    Ok(value)
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// First canonical-form violation seen, if any.
    violation: Option<(usize, NonCanonical)>,
}

impl<'a> Parser<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, CanonicalError> {
        // Validating UTF-8 once up front lets the string parser copy byte runs without re-checking them.
        if let Err(e) = std::str::from_utf8(bytes) {
            return Err(CanonicalError::InvalidUtf8 {
                offset: e.valid_up_to(),
            });
        }
        Ok(Parser {
            bytes,
            pos: 0,
            violation: None,
        })
    }

    fn note(&mut self, offset: usize, reason: NonCanonical) {
        if self.violation.is_none() {
            self.violation = Some((offset, reason));
        }
    }

    fn parse_document(mut self) -> Result<(Value, Option<(usize, NonCanonical)>), CanonicalError> {
        self.skip_ws();
        let value = self.parse_value(0)?;
        self.skip_ws();
        if self.pos < self.bytes.len() {
            return Err(CanonicalError::TrailingData { offset: self.pos });
        }
        Ok((value, self.violation))
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next_byte(&mut self) -> Result<u8, CanonicalError> {
        let b = self
            .peek()
            .ok_or(CanonicalError::UnexpectedEnd { offset: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    fn expect(&mut self, want: u8, expected: &'static str) -> Result<(), CanonicalError> {
        let offset = self.pos;
        let b = self.next_byte()?;
        if b == want {
            Ok(())
        } else {
            Err(CanonicalError::UnexpectedByte {
                offset,
                byte: b,
                expected,
            })
        }
    }

    fn skip_ws(&mut self) {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
        if self.pos > start {
            self.note(start, NonCanonical::Whitespace);
        }
    }

    fn parse_value(&mut self, depth: usize) -> Result<Value, CanonicalError> {
        let offset = self.pos;
        match self.peek() {
            None => Err(CanonicalError::UnexpectedEnd { offset }),
            Some(b'n') => self.parse_literal(b"null", Value::Null),
            Some(b't') => self.parse_literal(b"true", Value::Bool(true)),
            Some(b'f') => self.parse_literal(b"false", Value::Bool(false)),
            Some(b'"') => self.parse_string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.parse_number(),
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(CanonicalError::TooDeep { offset });
                }
                self.parse_array(depth + 1)
            }
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return Err(CanonicalError::TooDeep { offset });
                }
                self.parse_object(depth + 1)
            }
            Some(byte) => Err(CanonicalError::UnexpectedByte {
                offset,
                byte,
                expected: "a JSON value",
            }),
        }
    }

    fn parse_literal(
        &mut self,
        word: &'static [u8],
        value: Value,
    ) -> Result<Value, CanonicalError> {
        for &want in word {
            self.expect(want, "a literal (null, true, false)")?;
        }
        Ok(value)
    }

    fn parse_number(&mut self) -> Result<Value, CanonicalError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let digits_start = self.pos;
        match self.peek() {
            None => return Err(CanonicalError::UnexpectedEnd { offset: self.pos }),
            Some(b'0'..=b'9') => {}
            Some(byte) => {
                return Err(CanonicalError::UnexpectedByte {
                    offset: self.pos,
                    byte,
                    expected: "a digit",
                })
            }
        }
        let mut magnitude: u64 = 0;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            magnitude = magnitude
                .saturating_mul(10)
                .saturating_add(u64::from(b - b'0'));
            self.pos += 1;
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(CanonicalError::Float { offset: start });
        }
        if self.bytes[digits_start] == b'0' && self.pos - digits_start > 1 {
            return Err(CanonicalError::LeadingZero { offset: start });
        }
        if negative && magnitude == 0 {
            return Err(CanonicalError::NegativeZero { offset: start });
        }
        if magnitude > MAX_SAFE_INTEGER.unsigned_abs() {
            return Err(CanonicalError::IntegerOutOfRange { offset: start });
        }
        // In range, so the conversion is exact.
        let value = magnitude as i64;
        Ok(Value::Int(if negative { -value } else { value }))
    }

    fn parse_hex4(&mut self, escape_start: usize) -> Result<(u16, bool), CanonicalError> {
        let mut unit: u16 = 0;
        let mut lowercase = true;
        for _ in 0..4 {
            let b = self
                .peek()
                .ok_or(CanonicalError::UnexpectedEnd { offset: self.pos })?;
            let digit = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => {
                    lowercase = false;
                    b - b'A' + 10
                }
                _ => {
                    return Err(CanonicalError::InvalidEscape {
                        offset: escape_start,
                    })
                }
            };
            unit = (unit << 4) | u16::from(digit);
            self.pos += 1;
        }
        Ok((unit, lowercase))
    }

    fn parse_string(&mut self) -> Result<String, CanonicalError> {
        self.expect(b'"', "a string")?;
        let mut out: Vec<u8> = Vec::new();
        let mut run_start = self.pos;
        loop {
            let offset = self.pos;
            let Some(b) = self.peek() else {
                return Err(CanonicalError::UnexpectedEnd { offset });
            };
            match b {
                b'"' => {
                    out.extend_from_slice(&self.bytes[run_start..offset]);
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    out.extend_from_slice(&self.bytes[run_start..offset]);
                    self.pos += 1;
                    self.parse_escape(offset, &mut out)?;
                    run_start = self.pos;
                }
                0x00..=0x1f => return Err(CanonicalError::ControlCharacter { offset }),
                _ => self.pos += 1,
            }
        }
        // The input was validated as UTF-8 and escapes only add whole scalar values.
        String::from_utf8(out).map_err(|_| CanonicalError::InvalidUtf8 { offset: self.pos })
    }

    fn parse_escape(
        &mut self,
        escape_start: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), CanonicalError> {
        let b = self
            .peek()
            .ok_or(CanonicalError::UnexpectedEnd { offset: self.pos })?;
        self.pos += 1;
        let simple = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => {
                self.note(escape_start, NonCanonical::NonMinimalEscape);
                b'/'
            }
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let (unit, lowercase) = self.parse_hex4(escape_start)?;
                let ch = match unit {
                    0xd800..=0xdbff => {
                        // A high surrogate must be followed by an escaped low surrogate.
                        if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(CanonicalError::LoneSurrogate {
                                offset: escape_start,
                            });
                        }
                        self.pos += 2;
                        let (low, _) = self.parse_hex4(self.pos - 2)?;
                        if !(0xdc00..=0xdfff).contains(&low) {
                            return Err(CanonicalError::LoneSurrogate {
                                offset: escape_start,
                            });
                        }
                        let scalar = 0x10000
                            + ((u32::from(unit) - 0xd800) << 10)
                            + (u32::from(low) - 0xdc00);
                        char::from_u32(scalar).ok_or(CanonicalError::LoneSurrogate {
                            offset: escape_start,
                        })?
                    }
                    0xdc00..=0xdfff => {
                        return Err(CanonicalError::LoneSurrogate {
                            offset: escape_start,
                        })
                    }
                    _ => char::from_u32(u32::from(unit)).ok_or(CanonicalError::InvalidEscape {
                        offset: escape_start,
                    })?,
                };
                // Canonical only for control characters without a short form, written in lowercase hex.
                let minimal = lowercase
                    && (ch as u32) < 0x20
                    && !matches!(ch, '\u{08}' | '\u{0c}' | '\n' | '\r' | '\t');
                if !minimal {
                    self.note(escape_start, NonCanonical::NonMinimalEscape);
                }
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                return Ok(());
            }
            _ => {
                return Err(CanonicalError::InvalidEscape {
                    offset: escape_start,
                })
            }
        };
        out.push(simple);
        Ok(())
    }

    fn parse_array(&mut self, depth: usize) -> Result<Value, CanonicalError> {
        self.expect(b'[', "'['")?;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.parse_value(depth)?);
            self.skip_ws();
            let offset = self.pos;
            match self.next_byte()? {
                b',' => {}
                b']' => return Ok(Value::Array(items)),
                byte => {
                    return Err(CanonicalError::UnexpectedByte {
                        offset,
                        byte,
                        expected: "',' or ']'",
                    })
                }
            }
        }
    }

    fn parse_object(&mut self, depth: usize) -> Result<Value, CanonicalError> {
        self.expect(b'{', "'{'")?;
        let mut map: BTreeMap<String, Value> = BTreeMap::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(map));
        }
        let mut previous: Option<String> = None;
        loop {
            self.skip_ws();
            let key_offset = self.pos;
            if let Some(byte) = self.peek().filter(|&b| b != b'"') {
                return Err(CanonicalError::UnexpectedByte {
                    offset: key_offset,
                    byte,
                    expected: "a string key",
                });
            }
            let key = self.parse_string()?;
            if map.contains_key(&key) {
                return Err(CanonicalError::DuplicateKey {
                    offset: key_offset,
                    key,
                });
            }
            if previous.as_deref().is_some_and(|p| p > key.as_str()) {
                self.note(key_offset, NonCanonical::KeysNotSorted);
            }
            self.skip_ws();
            self.expect(b':', "':'")?;
            self.skip_ws();
            let value = self.parse_value(depth)?;
            previous = Some(key.clone());
            map.insert(key, value);
            self.skip_ws();
            let offset = self.pos;
            match self.next_byte()? {
                b',' => {}
                b'}' => return Ok(Value::Object(map)),
                byte => {
                    return Err(CanonicalError::UnexpectedByte {
                        offset,
                        byte,
                        expected: "',' or '}'",
                    })
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// serde conversions
// ---------------------------------------------------------------------------------------------------------------

/// Converts any `Serialize` type into a [`Value`]: floats (even NaN), integers out of range, non-string map keys
/// and duplicate keys are errors, never silently changed.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, CanonicalError> {
    value.serialize(ValueSerializer)
}

/// Serializes `value` straight to canonical bytes.
pub fn to_canonical_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    encode(&to_value(value)?)
}

/// Converts a [`Value`] into any `DeserializeOwned` type.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, CanonicalError> {
    serde_json::from_value(into_json(value)).map_err(|e| CanonicalError::Conversion(e.to_string()))
}

fn into_json(value: Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(b),
        Value::Int(i) => serde_json::Value::Number(i.into()),
        Value::String(s) => serde_json::Value::String(s),
        Value::Array(items) => serde_json::Value::Array(items.into_iter().map(into_json).collect()),
        Value::Object(map) => {
            serde_json::Value::Object(map.into_iter().map(|(k, v)| (k, into_json(v))).collect())
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(map) => {
                let mut m = serializer.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a canonical JSON value (no floats, integers within ±(2^53-1))")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        if v.unsigned_abs() > MAX_SAFE_INTEGER.unsigned_abs() {
            return Err(E::custom(format!("integer {v} out of range ±(2^53-1)")));
        }
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        if v > MAX_SAFE_INTEGER.unsigned_abs() {
            return Err(E::custom(format!("integer {v} out of range ±(2^53-1)")));
        }
        Ok(Value::Int(v as i64))
    }

    fn visit_f64<E: de::Error>(self, _v: f64) -> Result<Value, E> {
        Err(E::custom("floating-point values are not allowed"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = BTreeMap::new();
        while let Some((key, value)) = access.next_entry::<String, Value>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// A serde `Serializer` producing [`Value`].
struct ValueSerializer;

fn int_value(v: i128) -> Result<Value, CanonicalError> {
    if v.unsigned_abs() > u128::from(MAX_SAFE_INTEGER.unsigned_abs()) {
        return Err(CanonicalError::IntegerValueOutOfRange { value: v });
    }
    Ok(Value::Int(v as i64))
}

fn tagged(variant: &str, value: Value) -> Value {
    let mut map = BTreeMap::new();
    map.insert(variant.to_owned(), value);
    Value::Object(map)
}

impl Serializer for ValueSerializer {
    type Ok = Value;
    type Error = CanonicalError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = SeqBuilder;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = MapBuilder;

    fn serialize_bool(self, v: bool) -> Result<Value, CanonicalError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, CanonicalError> {
        int_value(i128::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, CanonicalError> {
        int_value(i128::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, CanonicalError> {
        int_value(i128::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, CanonicalError> {
        int_value(i128::from(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, CanonicalError> {
        int_value(v)
    }
    fn serialize_u8(self, v: u8) -> Result<Value, CanonicalError> {
        int_value(i128::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, CanonicalError> {
        int_value(i128::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, CanonicalError> {
        int_value(i128::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, CanonicalError> {
        int_value(i128::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, CanonicalError> {
        match i128::try_from(v) {
            Ok(v) => int_value(v),
            Err(_) => Err(CanonicalError::IntegerValueOutOfRange { value: i128::MAX }),
        }
    }
    fn serialize_f32(self, _v: f32) -> Result<Value, CanonicalError> {
        Err(CanonicalError::FloatValue)
    }
    fn serialize_f64(self, _v: f64) -> Result<Value, CanonicalError> {
        Err(CanonicalError::FloatValue)
    }
    fn serialize_char(self, v: char) -> Result<Value, CanonicalError> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, CanonicalError> {
        Ok(Value::String(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, CanonicalError> {
        Ok(Value::Array(
            v.iter().map(|&b| Value::Int(i64::from(b))).collect(),
        ))
    }
    fn serialize_none(self) -> Result<Value, CanonicalError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, CanonicalError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, CanonicalError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, CanonicalError> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, CanonicalError> {
        Ok(Value::String(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, CanonicalError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, CanonicalError> {
        Ok(tagged(variant, value.serialize(self)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, CanonicalError> {
        Ok(SeqBuilder {
            items: Vec::with_capacity(len.unwrap_or(0).min(1024)),
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, CanonicalError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, CanonicalError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, CanonicalError> {
        Ok(SeqBuilder {
            items: Vec::with_capacity(len.min(1024)),
            variant: Some(variant),
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapBuilder, CanonicalError> {
        Ok(MapBuilder {
            map: BTreeMap::new(),
            next_key: None,
            variant: None,
        })
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<MapBuilder, CanonicalError> {
        self.serialize_map(None)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<MapBuilder, CanonicalError> {
        Ok(MapBuilder {
            map: BTreeMap::new(),
            next_key: None,
            variant: Some(variant),
        })
    }
}

/// Collects the elements of a sequence, tuple or tuple variant.
struct SeqBuilder {
    items: Vec<Value>,
    variant: Option<&'static str>,
}

impl SeqBuilder {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        self.items.push(value.serialize(ValueSerializer)?);
        Ok(())
    }

    fn finish(self) -> Value {
        let array = Value::Array(self.items);
        match self.variant {
            Some(variant) => tagged(variant, array),
            None => array,
        }
    }
}

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Value;
    type Error = CanonicalError;
    fn serialize_element<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), CanonicalError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, CanonicalError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Value;
    type Error = CanonicalError;
    fn serialize_element<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<(), CanonicalError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, CanonicalError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Value;
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, CanonicalError> {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleVariant for SeqBuilder {
    type Ok = Value;
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, CanonicalError> {
        Ok(self.finish())
    }
}

/// Collects the entries of a map, struct or struct variant.
struct MapBuilder {
    map: BTreeMap<String, Value>,
    next_key: Option<String>,
    variant: Option<&'static str>,
}

impl MapBuilder {
    fn insert(&mut self, key: String, value: Value) -> Result<(), CanonicalError> {
        if self.map.contains_key(&key) {
            return Err(CanonicalError::Conversion(format!("duplicate key {key:?}")));
        }
        self.map.insert(key, value);
        Ok(())
    }

    fn finish(self) -> Value {
        let object = Value::Object(self.map);
        match self.variant {
            Some(variant) => tagged(variant, object),
            None => object,
        }
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Value;
    type Error = CanonicalError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CanonicalError> {
        match key.serialize(ValueSerializer)? {
            Value::String(s) => {
                self.next_key = Some(s);
                Ok(())
            }
            _ => Err(CanonicalError::Conversion(
                "map keys must be strings".to_owned(),
            )),
        }
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CanonicalError> {
        let key = self
            .next_key
            .take()
            .ok_or_else(|| CanonicalError::Conversion("map value without a key".to_owned()))?;
        let value = value.serialize(ValueSerializer)?;
        self.insert(key, value)
    }
    fn end(self) -> Result<Value, CanonicalError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Value;
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        let value = value.serialize(ValueSerializer)?;
        self.insert(key.to_owned(), value)
    }
    fn end(self) -> Result<Value, CanonicalError> {
        Ok(self.finish())
    }
}

impl ser::SerializeStructVariant for MapBuilder {
    type Ok = Value;
    type Error = CanonicalError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), CanonicalError> {
        let value = value.serialize(ValueSerializer)?;
        self.insert(key.to_owned(), value)
    }
    fn end(self) -> Result<Value, CanonicalError> {
        Ok(self.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(entries: &[(&str, Value)]) -> Value {
        Value::Object(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    fn enc(v: &Value) -> String {
        String::from_utf8(encode(v).unwrap()).unwrap()
    }

    fn reason(input: &str) -> NonCanonical {
        match decode_canonical(input.as_bytes()) {
            Err(CanonicalError::NotCanonical { reason, .. }) => reason,
            other => panic!("expected NotCanonical for {input:?}, got {other:?}"),
        }
    }

    #[test]
    fn keys_sorted_by_utf8_byte_order() {
        // 'Z' (0x5a) < 'a' (0x61) < 'é' (0xc3 0xa9) < '世' (0xe4 ...) < '😀' (0xf0 ...); "a" < "aa" < "ab".
        let v = obj(&[
            ("😀", Value::Int(5)),
            ("é", Value::Int(3)),
            ("ab", Value::Int(2)),
            ("a", Value::Int(1)),
            ("aa", Value::Int(6)),
            ("Z", Value::Int(0)),
            ("世", Value::Int(4)),
        ]);
        assert_eq!(
            enc(&v),
            r#"{"Z":0,"a":1,"aa":6,"ab":2,"é":3,"世":4,"😀":5}"#
        );
        // U+FFFD (ef bf bd) sorts before U+10000 (f0 90 80 80) in byte order, unlike UTF-16 order.
        let v = obj(&[("\u{10000}", Value::Null), ("\u{fffd}", Value::Null)]);
        assert_eq!(enc(&v), "{\"\u{fffd}\":null,\"\u{10000}\":null}");
    }

    #[test]
    fn escapes_are_minimal() {
        let s = "q\"b\\s/\u{8}\u{c}\n\r\t\u{0}\u{1f}\u{7f}é😀\u{2028}";
        let out = enc(&Value::String(s.to_owned()));
        assert_eq!(
            out,
            "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0000\\u001f\u{7f}é😀\u{2028}\""
        );
        assert_eq!(
            decode_canonical(out.as_bytes()).unwrap(),
            Value::String(s.to_owned())
        );
    }

    #[test]
    fn integers_and_literals() {
        let v = Value::Array(vec![
            Value::Int(0),
            Value::Int(-1),
            Value::Int(MAX_SAFE_INTEGER),
            Value::Int(-MAX_SAFE_INTEGER),
            Value::Bool(true),
            Value::Bool(false),
            Value::Null,
        ]);
        let out = enc(&v);
        assert_eq!(
            out,
            "[0,-1,9007199254740991,-9007199254740991,true,false,null]"
        );
        assert_eq!(decode_canonical(out.as_bytes()).unwrap(), v);
        assert!(matches!(
            encode(&Value::Int(MAX_SAFE_INTEGER + 1)),
            Err(CanonicalError::IntegerValueOutOfRange { .. })
        ));
        assert!(matches!(
            encode(&Value::Int(i64::MIN)),
            Err(CanonicalError::IntegerValueOutOfRange { .. })
        ));
    }

    #[test]
    fn round_trips() {
        let v = obj(&[
            (
                "payload",
                obj(&[
                    ("title", "Jalan rusak di Oebobo".into()),
                    ("lat_microdeg", Value::Int(-10_177_000)),
                ]),
            ),
            (
                "list",
                Value::Array(vec![
                    Value::Array(vec![]),
                    obj(&[]),
                    Value::String(String::new()),
                ]),
            ),
            ("k", Value::Null),
        ]);
        let bytes = encode(&v).unwrap();
        assert_eq!(decode_canonical(&bytes).unwrap(), v);
        assert_eq!(decode(&bytes).unwrap(), v);
    }

    #[test]
    fn rejects_floats() {
        for input in ["1.0", "1e3", "1E3", "-0", "0.5", "[1.5]", "{\"a\":2e0}"] {
            let err = decode(input.as_bytes()).unwrap_err();
            assert!(
                matches!(
                    err,
                    CanonicalError::Float { .. } | CanonicalError::NegativeZero { .. }
                ),
                "{input}: {err:?}"
            );
        }
        assert!(matches!(
            decode(b"-0"),
            Err(CanonicalError::NegativeZero { offset: 0 })
        ));
        assert!(matches!(
            decode(b"[-0]"),
            Err(CanonicalError::NegativeZero { offset: 1 })
        ));
    }

    #[test]
    fn rejects_out_of_range_and_leading_zeros() {
        assert!(matches!(
            decode(b"9007199254740992"),
            Err(CanonicalError::IntegerOutOfRange { offset: 0 })
        ));
        assert!(matches!(
            decode(b"-9007199254740992"),
            Err(CanonicalError::IntegerOutOfRange { .. })
        ));
        assert!(matches!(
            decode(b"[123456789012345678901234567890]"),
            Err(CanonicalError::IntegerOutOfRange { offset: 1 })
        ));
        assert!(matches!(
            decode(b"01"),
            Err(CanonicalError::LeadingZero { .. })
        ));
        assert!(matches!(
            decode(b"-01"),
            Err(CanonicalError::LeadingZero { .. })
        ));
        assert!(matches!(
            decode(b"-"),
            Err(CanonicalError::UnexpectedEnd { .. })
        ));
        assert!(matches!(
            decode(b"+1"),
            Err(CanonicalError::UnexpectedByte { .. })
        ));
    }

    #[test]
    fn rejects_duplicate_keys() {
        let err = decode(br#"{"a":1,"b":2,"a":3}"#).unwrap_err();
        assert_eq!(
            err,
            CanonicalError::DuplicateKey {
                offset: 13,
                key: "a".to_owned()
            }
        );
        // Also when the duplicate is spelled with an escape.
        assert!(matches!(
            decode(br#"{"a":1,"\u0061":2}"#),
            Err(CanonicalError::DuplicateKey { .. })
        ));
    }

    #[test]
    fn rejects_whitespace_in_canonical_mode() {
        assert_eq!(reason("{\"a\": 1}"), NonCanonical::Whitespace);
        assert_eq!(reason(" 1"), NonCanonical::Whitespace);
        assert_eq!(reason("[1]\n"), NonCanonical::Whitespace);
        assert!(matches!(
            decode_canonical(b"{\"a\":1 }"),
            Err(CanonicalError::NotCanonical {
                offset: 6,
                reason: NonCanonical::Whitespace
            })
        ));
        // The lenient decoder accepts it.
        assert!(decode(b" { \"a\" : [ 1 , 2 ] } ").is_ok());
    }

    #[test]
    fn rejects_unsorted_keys_in_canonical_mode() {
        assert_eq!(reason(r#"{"b":1,"a":2}"#), NonCanonical::KeysNotSorted);
        assert_eq!(reason(r#"{"é":1,"z":2}"#), NonCanonical::KeysNotSorted);
        assert_eq!(
            reason(r#"{"x":{"b":1,"a":2}}"#),
            NonCanonical::KeysNotSorted
        );
    }

    #[test]
    fn rejects_non_minimal_escapes() {
        for input in [
            r#""\/""#,
            r#""\u0041""#,
            r#""\u000a""#,
            r#""\u001F""#,
            r#""\u00e9""#,
            r#""\ud83d\ude00""#,
            r#""\u0022""#,
        ] {
            assert_eq!(reason(input), NonCanonical::NonMinimalEscape, "{input}");
            assert!(decode(input.as_bytes()).is_ok(), "{input}");
        }
        assert_eq!(
            decode(br#""\ud83d\ude00""#).unwrap(),
            Value::String("😀".to_owned())
        );
        assert!(decode_canonical(br#""\u001f\u0000""#).is_ok());
    }

    #[test]
    fn rejects_invalid_strings() {
        assert!(matches!(
            decode(b"\"\xff\""),
            Err(CanonicalError::InvalidUtf8 { offset: 1 })
        ));
        assert!(matches!(
            decode(b"\"\xc3\""),
            Err(CanonicalError::InvalidUtf8 { offset: 1 })
        ));
        assert!(matches!(
            decode(br#""\ud800""#),
            Err(CanonicalError::LoneSurrogate { offset: 1 })
        ));
        assert!(matches!(
            decode(br#""\udc00""#),
            Err(CanonicalError::LoneSurrogate { .. })
        ));
        assert!(matches!(
            decode(br#""\ud800\u0041""#),
            Err(CanonicalError::LoneSurrogate { .. })
        ));
        assert!(matches!(
            decode(br#""\ud800x""#),
            Err(CanonicalError::LoneSurrogate { .. })
        ));
        assert!(matches!(
            decode(br#""\x""#),
            Err(CanonicalError::InvalidEscape { offset: 1 })
        ));
        assert!(matches!(
            decode(br#""\u12g4""#),
            Err(CanonicalError::InvalidEscape { .. })
        ));
        assert!(matches!(
            decode(b"\"a\nb\""),
            Err(CanonicalError::ControlCharacter { offset: 2 })
        ));
        assert!(matches!(
            decode(b"\"abc"),
            Err(CanonicalError::UnexpectedEnd { offset: 4 })
        ));
    }

    #[test]
    fn rejects_trailing_data_and_syntax_errors() {
        assert!(matches!(
            decode(b"{}x"),
            Err(CanonicalError::TrailingData { offset: 2 })
        ));
        assert!(matches!(
            decode(b"1 2"),
            Err(CanonicalError::TrailingData { offset: 2 })
        ));
        assert!(matches!(
            decode(b"{} {}"),
            Err(CanonicalError::TrailingData { .. })
        ));
        assert!(matches!(
            decode(b""),
            Err(CanonicalError::UnexpectedEnd { offset: 0 })
        ));
        assert!(matches!(
            decode(b"[1,]"),
            Err(CanonicalError::UnexpectedByte { .. })
        ));
        assert!(matches!(
            decode(b"{\"a\"}"),
            Err(CanonicalError::UnexpectedByte { .. })
        ));
        assert!(matches!(
            decode(b"{1:2}"),
            Err(CanonicalError::UnexpectedByte { .. })
        ));
        assert!(matches!(
            decode(b"nul"),
            Err(CanonicalError::UnexpectedEnd { .. })
        ));
        assert!(matches!(
            decode(b"nulx"),
            Err(CanonicalError::UnexpectedByte { .. })
        ));
        assert!(matches!(
            decode(b"\xef\xbb\xbf{}"),
            Err(CanonicalError::UnexpectedByte { offset: 0, .. })
        ));
    }

    #[test]
    fn nesting_limit() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(decode_canonical(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(matches!(
            decode(deep.as_bytes()),
            Err(CanonicalError::TooDeep { offset: 64 })
        ));
        let mut v = Value::Null;
        for _ in 0..=MAX_DEPTH {
            v = Value::Array(vec![v]);
        }
        assert_eq!(encode(&v), Err(CanonicalError::ValueTooDeep));
        // Very deep input fails cleanly instead of overflowing the stack.
        let huge = "[".repeat(100_000);
        assert!(matches!(
            decode(huge.as_bytes()),
            Err(CanonicalError::TooDeep { .. })
        ));
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Sample {
        zeta: u32,
        alpha: Option<String>,
        list: Vec<i64>,
        kind: Kind,
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Complaint,
        Other { note: String },
    }

    #[test]
    fn serde_conversions() {
        let s = Sample {
            zeta: 7,
            alpha: None,
            list: vec![-3, 4],
            kind: Kind::Complaint,
        };
        let bytes = to_canonical_bytes(&s).unwrap();
        assert_eq!(
            bytes,
            br#"{"alpha":null,"kind":"complaint","list":[-3,4],"zeta":7}"#
        );
        let back: Sample = from_value(decode_canonical(&bytes).unwrap()).unwrap();
        assert_eq!(back, s);
        let s2 = Sample {
            zeta: 0,
            alpha: Some("x".into()),
            list: vec![],
            kind: Kind::Other { note: "n".into() },
        };
        let v = to_value(&s2).unwrap();
        assert_eq!(
            enc(&v),
            r#"{"alpha":"x","kind":{"other":{"note":"n"}},"list":[],"zeta":0}"#
        );
        assert_eq!(from_value::<Sample>(v).unwrap(), s2);
    }

    #[test]
    fn serde_rejects_floats_and_big_ints() {
        assert_eq!(to_value(&1.5f64), Err(CanonicalError::FloatValue));
        assert_eq!(to_value(&f64::NAN), Err(CanonicalError::FloatValue));
        assert_eq!(to_value(&vec![0.0f32]), Err(CanonicalError::FloatValue));
        assert!(matches!(
            to_value(&u64::MAX),
            Err(CanonicalError::IntegerValueOutOfRange { .. })
        ));
        assert!(matches!(
            to_value(&(1i64 << 53)),
            Err(CanonicalError::IntegerValueOutOfRange { .. })
        ));
        assert_eq!(
            to_value(&((1u64 << 53) - 1)).unwrap(),
            Value::Int(MAX_SAFE_INTEGER)
        );
        let mut m = std::collections::HashMap::new();
        m.insert(1u8, 2u8);
        assert!(matches!(to_value(&m), Err(CanonicalError::Conversion(_))));
        // Value itself round-trips through serde.
        let v = obj(&[("b", Value::Int(1)), ("a", Value::Array(vec![Value::Null]))]);
        assert_eq!(to_value(&v).unwrap(), v);
        assert_eq!(from_value::<Value>(v.clone()).unwrap(), v);
        assert!(serde_json::from_str::<Value>("1.5").is_err());
        assert!(serde_json::from_str::<Value>("9007199254740992").is_err());
    }
}
