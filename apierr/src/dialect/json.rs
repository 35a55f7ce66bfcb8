//! The JSON writer the dialects render with.
//!
//! Error bodies are a handful of string and number members under keys known at compile
//! time. Writing them directly, with the keys copied as they are and each value scanned
//! once for characters that need escaping, takes about half the instructions serde's
//! serializer spends on the same bodies (`benches/instructions.py apierr dialects`), and
//! rendering is paid on every error response. The output is byte for byte what
//! `serde_json` writes: the same escapes, no whitespace. Objects and arrays are written
//! by closures, closed when the closure returns, so a body is always well formed.

use crate::Code;

/// Writes one JSON object: `fill` writes its members, and the object is closed when
/// `fill` returns, so that no path can leave it open.
pub(crate) fn object(out: &mut Vec<u8>, fill: impl FnOnce(&mut Object<'_>)) {
    out.push(b'{');
    fill(&mut Object { out, empty: true });
    out.push(b'}');
}

/// The members of an object being written (see [`object`]).
pub(crate) struct Object<'o> {
    out: &'o mut Vec<u8>,
    empty: bool,
}

impl Object<'_> {
    /// Writes `"key":`, after a comma unless it is the first member. Keys are literals
    /// of the dialects and never need escaping.
    #[inline]
    fn key(&mut self, key: &'static str) {
        debug_assert!(is_plain(key.as_bytes()), "key {key:?} needs escaping");
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// A string member.
    #[inline]
    pub(crate) fn str(&mut self, key: &'static str, value: &str) -> &mut Self {
        self.key(key);
        string(self.out, value);
        self
    }

    /// A string member, left out when `None`.
    #[inline]
    pub(crate) fn opt_str(&mut self, key: &'static str, value: Option<&str>) -> &mut Self {
        if let Some(value) = value {
            self.str(key, value);
        }
        self
    }

    /// A number member.
    #[inline]
    pub(crate) fn num(&mut self, key: &'static str, value: u32) -> &mut Self {
        self.key(key);
        number(self.out, value);
        self
    }

    /// A code member: a number or a string, as the code is.
    #[inline(always)]
    pub(crate) fn code(&mut self, key: &'static str, code: &Code) -> &mut Self {
        self.key(key);
        match code {
            Code::Numeric(n) => number(self.out, *n),
            Code::Text(t) => string(self.out, t),
        }
        self
    }

    /// A `null` member.
    #[inline]
    pub(crate) fn null(&mut self, key: &'static str) -> &mut Self {
        self.key(key);
        self.out.extend_from_slice(b"null");
        self
    }

    /// An array of strings, left out when empty.
    pub(crate) fn strs<'s>(
        &mut self,
        key: &'static str,
        values: impl IntoIterator<Item = &'s str>,
    ) -> &mut Self {
        let mut values = values.into_iter().peekable();
        if values.peek().is_some() {
            self.array(key, |list| values.for_each(|value| list.str(value)));
        }
        self
    }

    /// An object member whose members `fill` writes; closed when `fill` returns.
    #[inline]
    pub(crate) fn object(
        &mut self,
        key: &'static str,
        fill: impl FnOnce(&mut Object<'_>),
    ) -> &mut Self {
        self.key(key);
        object(self.out, fill);
        self
    }

    /// An array member whose elements `fill` writes; closed when `fill` returns.
    #[inline]
    pub(crate) fn array(
        &mut self,
        key: &'static str,
        fill: impl FnOnce(&mut Array<'_>),
    ) -> &mut Self {
        self.key(key);
        self.out.push(b'[');
        fill(&mut Array {
            out: self.out,
            empty: true,
        });
        self.out.push(b']');
        self
    }
}

/// The elements of an array being written (see [`Object::array`]).
pub(crate) struct Array<'o> {
    out: &'o mut Vec<u8>,
    empty: bool,
}

impl Array<'_> {
    #[inline]
    fn comma(&mut self) {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
    }

    /// A string element.
    pub(crate) fn str(&mut self, value: &str) {
        self.comma();
        string(self.out, value);
    }

    /// An object element whose members `fill` writes; closed when `fill` returns.
    pub(crate) fn object(&mut self, fill: impl FnOnce(&mut Object<'_>)) {
        self.comma();
        object(self.out, fill);
    }
}

/// Whether no byte of `bytes` needs escaping (a control character, `"` or `\\`).
///
/// Checks eight bytes at a time with word arithmetic: for the 10–40 byte strings of an
/// error body this is several times faster than serde_json's byte-by-byte table lookup.
fn is_plain(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        if !plain_word(u64::from_le_bytes(w)) {
            return false;
        }
    }
    // The tail, padded with a byte that needs no escape.
    let mut tail = [b'a'; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    plain_word(u64::from_le_bytes(tail))
}

/// Whether `bytes` are visible ASCII or spaces that need no escaping in JSON: no control
/// character, `"`, `\\`, DEL or byte above it. A request id of such bytes reads the same
/// as header text and as a JSON string.
pub(crate) fn is_plain_ascii(bytes: &[u8]) -> bool {
    const LOWS: u64 = u64::from_ne_bytes([0x7f; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    let mut words = bytes.chunks_exact(8);
    let ascii = |w: u64| {
        // A lane's low seven bits plus one carries into its high bit only from 0x7f, and
        // never into the next lane; with the lane's own high bit, that is "0x7f or above".
        (((w & LOWS) + ONES) | w) & HIGHS == 0
    };
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let w = u64::from_le_bytes(w);
        if !(ascii(w) && plain_word(w)) {
            return false;
        }
    }
    let mut tail = [b'a'; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    let w = u64::from_le_bytes(tail);
    ascii(w) && plain_word(w)
}

/// Whether none of the eight bytes of `w` needs escaping. Each test sets the high bit of
/// a byte's lane when that byte matches (exact as to whether any byte does).
fn plain_word(w: u64) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS;
    let zero = |x: u64| below(x, 1);
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    (below(w, 0x20) | zero(quote) | zero(backslash)) == 0
}

/// Writes `value` as a JSON string.
#[inline(always)]
pub(crate) fn string(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if is_plain(bytes) {
        out.extend_from_slice(bytes);
    } else {
        escape(out, bytes);
    }
    out.push(b'"');
}

/// The slow path of [`string`]: serde_json's escapes (`\"`, `\\`, the short forms of
/// backspace, form feed, newline, carriage return and tab, `\u00XX` for other control
/// characters).
#[cold]
fn escape(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x00..=0x1f => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if short == 0 {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(&[b'\\', short]);
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Writes a number.
pub(crate) fn number(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn strings_match_serde_json(s in any::<String>()) {
            // Scenario: any string, with control characters, quotes and non-ASCII, is
            // written exactly as serde_json writes it.
            let mut out = Vec::new();
            string(&mut out, &s);
            prop_assert_eq!(out, serde_json::to_vec(&s).unwrap());
        }

        #[test]
        fn numbers_match_serde_json(n in any::<u32>()) {
            let mut out = Vec::new();
            number(&mut out, n);
            prop_assert_eq!(out, serde_json::to_vec(&n).unwrap());
        }

        #[test]
        fn plain_ascii_is_exact(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            // Scenario: the word test agrees with the byte test on any bytes.
            let expected = bytes.iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
            prop_assert_eq!(is_plain_ascii(&bytes), expected);
        }

        #[test]
        fn plain_is_exact(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            // Scenario: the word test agrees with the byte test on any bytes.
            let expected = bytes.iter().all(|&b| b >= 0x20 && b != b'"' && b != b'\\');
            prop_assert_eq!(is_plain(&bytes), expected);
        }
    }

    #[test]
    fn plain_finds_any_byte_at_any_position() {
        // Scenario: one byte of every value at every position of otherwise plain text,
        // across word boundaries and tails.
        for len in 1..20 {
            for at in 0..len {
                for b in 0..=u8::MAX {
                    let mut bytes = vec![b'~'; len];
                    bytes[at] = b;
                    let expected = b >= 0x20 && b != b'"' && b != b'\\';
                    assert_eq!(is_plain(&bytes), expected, "byte {b:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn every_control_character_escapes_as_serde_json_does() {
        // Scenario: each byte below 0x20, and DEL which JSON leaves alone.
        for b in (0u8..0x20).chain([0x7f, b'"', b'\\', b'/']) {
            let s = format!("a{}b", char::from(b));
            let mut out = Vec::new();
            string(&mut out, &s);
            assert_eq!(out, serde_json::to_vec(&s).unwrap(), "byte {b:#x}");
        }
    }

    #[test]
    fn objects_and_arrays_nest() {
        // Scenario: members in order, commas between them, nothing for empty lists.
        let mut out = Vec::new();
        object(&mut out, |o| {
            o.str("a", "x").num("n", 7).null("z").strs("none", []);
            o.array("l", |list| {
                list.object(|i| {
                    i.code("c", &Code::text("t"));
                });
                list.object(|i| {
                    i.code("c", &Code::numeric(2)).object("empty", |_| {});
                });
            });
            o.strs("m", ["p", "q"]);
        });
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":"x","n":7,"z":null,"l":[{"c":"t"},{"c":2,"empty":{}}],"m":["p","q"]}"#
        );
    }
}
