//! Lexical layer: RFC 3261 §25 character classes and a byte cursor.
//!
//! Everything above this module parses with [`Scanner`] and the class table, so
//! the grammar's character sets live in exactly one place.

use crate::error::Error;

/// `token` (RFC 3261 §25.1).
pub(crate) const TOKEN: u16 = 1 << 0;
/// `word` (Call-ID parts).
pub(crate) const WORD: u16 = 1 << 1;
/// `unreserved` (alphanum / mark).
pub(crate) const UNRESERVED: u16 = 1 << 2;
/// Characters of `user` besides escapes: unreserved / user-unreserved.
pub(crate) const USER: u16 = 1 << 3;
/// Characters of `password` besides escapes.
pub(crate) const PASSWORD: u16 = 1 << 4;
/// `paramchar` besides escapes: param-unreserved / unreserved.
pub(crate) const PARAM: u16 = 1 << 5;
/// `hname`/`hvalue` characters besides escapes: hnv-unreserved / unreserved.
pub(crate) const HNV: u16 = 1 << 6;
/// Hostname characters: alphanum / "-" / ".".
pub(crate) const HOST: u16 = 1 << 7;
/// `uric` besides escapes: reserved / unreserved (absoluteURI opaque parts).
pub(crate) const URIC: u16 = 1 << 8;
/// ALPHA / DIGIT / "+" / "-" / "." (URI scheme characters after the first).
pub(crate) const SCHEME: u16 = 1 << 9;
/// Digits.
pub(crate) const DIGIT: u16 = 1 << 10;
/// Hex digits.
pub(crate) const HEX: u16 = 1 << 11;
/// Characters a host name span may contain: alphanum / "-" / "." / "_".
pub(crate) const HOST_CHAR: u16 = 1 << 12;

const fn build_table() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        let alpha = b.is_ascii_alphabetic();
        let digit = b.is_ascii_digit();
        let alnum = alpha || digit;
        let mark = matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        );
        let unreserved = alnum || mark;
        let reserved = matches!(
            b,
            b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b','
        );
        let mut v = 0u16;
        if alnum
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            )
        {
            v |= TOKEN;
        }
        if alnum
            || matches!(
                b,
                b'-' | b'.'
                    | b'!'
                    | b'%'
                    | b'*'
                    | b'_'
                    | b'+'
                    | b'`'
                    | b'\''
                    | b'~'
                    | b'('
                    | b')'
                    | b'<'
                    | b'>'
                    | b':'
                    | b'\\'
                    | b'"'
                    | b'/'
                    | b'['
                    | b']'
                    | b'?'
                    | b'{'
                    | b'}'
            )
        {
            v |= WORD;
        }
        if unreserved {
            v |= UNRESERVED;
        }
        if unreserved || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/') {
            v |= USER;
        }
        if unreserved || matches!(b, b'&' | b'=' | b'+' | b'$' | b',') {
            v |= PASSWORD;
        }
        if unreserved || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
            v |= PARAM;
        }
        if unreserved || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$') {
            v |= HNV;
        }
        if alnum || b == b'-' || b == b'.' {
            v |= HOST;
        }
        if alnum || b == b'-' || b == b'.' || b == b'_' {
            v |= HOST_CHAR;
        }
        if unreserved || reserved {
            v |= URIC;
        }
        if alnum || b == b'+' || b == b'-' || b == b'.' {
            v |= SCHEME;
        }
        if digit {
            v |= DIGIT;
        }
        if b.is_ascii_hexdigit() {
            v |= HEX;
        }
        t[c] = v;
        c += 1;
    }
    t
}

static CLASS: [u16; 256] = build_table();

/// Whether `b` belongs to `class` (one of the constants above).
#[inline(always)]
pub(crate) fn is(b: u8, class: u16) -> bool {
    CLASS[b as usize] & class != 0
}

/// Whether every byte of `s` is a `token` character and `s` is not empty.
#[inline]
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is(b, TOKEN))
}

/// Whether `s` is a `token` or a quoted-string (`gen-value` without host).
pub(crate) fn is_token_or_quoted(s: &[u8]) -> bool {
    if s.first() == Some(&b'"') {
        let mut sc = Scanner::new(s);
        sc.quoted_string().is_ok() && sc.at_end()
    } else {
        is_token(s)
    }
}

/// Whether `b` is SP or HTAB.
#[inline(always)]
pub(crate) fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Value of one hex digit.
#[inline]
pub(crate) fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Trims leading and trailing linear white space (including folded line breaks).
pub(crate) fn trim_lws(s: &[u8]) -> &[u8] {
    let mut a = 0;
    let mut b = s.len();
    while a < b && matches!(s[a], b' ' | b'\t' | b'\r' | b'\n') {
        a += 1;
    }
    while b > a && matches!(s[b - 1], b' ' | b'\t' | b'\r' | b'\n') {
        b -= 1;
    }
    &s[a..b]
}

/// Trims leading and trailing linear white space from a `str` (the bytes
/// [`trim_lws`] trims).
#[inline]
pub(crate) fn trim_lws_str(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\r', '\n'])
}

/// Appends `v` in decimal (hot paths build header text without `format!`).
pub(crate) fn push_decimal(out: &mut String, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend(digits[i..].iter().map(|&d| char::from(d)));
}

/// Parses a run of decimal digits into a `u64`, rejecting empty input and overflow
/// beyond `max`.
pub(crate) fn parse_decimal(s: &[u8], max: u64) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    // Up to 19 digits cannot overflow a u64: no checks per digit.
    if s.len() <= 19 {
        let mut v: u64 = 0;
        for &b in s {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + u64::from(d);
        }
        return (v <= max).then_some(v);
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        if v > max {
            return None;
        }
    }
    Some(v)
}

/// A forward-only cursor over a byte slice with the SIP lexical helpers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scanner<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner at the start of `s`.
    #[inline]
    pub(crate) fn new(s: &'a [u8]) -> Self {
        Scanner { s, pos: 0 }
    }

    /// The whole input.
    #[inline]
    pub(crate) fn input(&self) -> &'a [u8] {
        self.s
    }

    /// Current offset.
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Moves to an absolute offset (must be within the input).
    #[inline]
    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.s.len());
    }

    /// Whether all input is consumed.
    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// The next byte, if any.
    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// The byte after the next one, if any.
    #[inline]
    pub(crate) fn peek2(&self) -> Option<u8> {
        self.s.get(self.pos + 1).copied()
    }

    /// The unconsumed rest.
    #[inline]
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.s[self.pos..]
    }

    /// Consumes `b` if it is next.
    #[inline]
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `b` or fails with `what`.
    #[inline]
    pub(crate) fn expect(&mut self, b: u8, what: &'static str) -> Result<(), Error> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(Error::syntax(what))
        }
    }

    /// Consumes bytes while they belong to `class`; returns them.
    #[inline]
    pub(crate) fn take_class(&mut self, class: u16) -> &'a [u8] {
        let start = self.pos.min(self.s.len());
        let rest = &self.s[start..];
        let n = rest
            .iter()
            .position(|&b| CLASS[b as usize] & class == 0)
            .unwrap_or(rest.len());
        self.pos = start + n;
        &rest[..n]
    }

    /// Consumes bytes of `class` or `%HEXHEX` escapes; fails on a bad escape.
    #[inline]
    pub(crate) fn take_escaped(&mut self, class: u16) -> Result<&'a [u8], Error> {
        let start = self.pos.min(self.s.len());
        let rest = &self.s[start..];
        let mut i = 0;
        while i < rest.len() {
            let b = rest[i];
            if CLASS[b as usize] & class != 0 {
                i += 1;
            } else if b == b'%' {
                match (rest.get(i + 1), rest.get(i + 2)) {
                    (Some(&h), Some(&l)) if is(h, HEX) && is(l, HEX) => i += 3,
                    _ => return Err(Error::syntax("bad %-escape")),
                }
            } else {
                break;
            }
        }
        self.pos = start + i;
        Ok(&rest[..i])
    }

    /// Consumes a non-empty `token`.
    #[inline]
    pub(crate) fn token(&mut self, what: &'static str) -> Result<&'a [u8], Error> {
        let t = self.take_class(TOKEN);
        if t.is_empty() {
            Err(Error::syntax(what))
        } else {
            Ok(t)
        }
    }

    /// Skips linear white space: SP/HT and folded line breaks (CRLF or LF followed
    /// by SP/HT). Returns whether anything was skipped.
    #[inline]
    pub(crate) fn skip_lws(&mut self) -> bool {
        // Most separators have no white space around them.
        if !matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            return false;
        }
        self.skip_lws_slow()
    }

    #[inline(never)]
    fn skip_lws_slow(&mut self) -> bool {
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.pos += 1,
                Some(b'\r') if self.s.get(self.pos + 1) == Some(&b'\n') => {
                    match self.s.get(self.pos + 2) {
                        Some(b' ' | b'\t') => self.pos += 3,
                        _ => break,
                    }
                }
                Some(b'\n') => match self.s.get(self.pos + 1) {
                    Some(b' ' | b'\t') => self.pos += 2,
                    _ => break,
                },
                _ => break,
            }
        }
        self.pos != start
    }

    /// `SWS sep SWS` where sep is `b`: consumes it with surrounding LWS, or nothing.
    #[inline(always)]
    pub(crate) fn eat_sep(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            self.skip_lws();
            return true;
        }
        let save = self.pos;
        self.skip_lws();
        if self.eat(b) {
            self.skip_lws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// Consumes a quoted-string starting at the current `"`; returns the inner
    /// raw bytes (quoted-pairs still escaped).
    ///
    /// Control characters other than HTAB are refused, except line breaks that
    /// are part of folded LWS.
    pub(crate) fn quoted_string(&mut self) -> Result<&'a [u8], Error> {
        self.expect(b'"', "expected quoted string")?;
        let start = self.pos;
        loop {
            let rest = &self.s[self.pos..];
            let Some(off) = memchr::memchr2(b'"', b'\\', rest) else {
                return Err(Error::syntax("unterminated quoted string"));
            };
            let span = &rest[..off];
            // Branch-free scan for control characters (vectorises).
            let ctl = span.iter().fold(false, |acc, &c| {
                acc | ((c < 0x20) & (c != b'\t')) | (c == 0x7f)
            });
            if ctl {
                check_folds(span)?;
            }
            self.pos += off;
            if self.s[self.pos] == b'"' {
                let inner = &self.s[start..self.pos];
                self.pos += 1;
                return Ok(inner);
            }
            // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
            match self.s.get(self.pos + 1) {
                Some(&c) if c <= 0x7f && c != b'\r' && c != b'\n' => self.pos += 2,
                _ => return Err(Error::syntax("bad quoted-pair")),
            }
        }
    }

    /// Consumes a comment `( ... )` with nesting; returns the whole comment.
    pub(crate) fn comment(&mut self) -> Result<&'a [u8], Error> {
        let start = self.pos;
        self.expect(b'(', "expected comment")?;
        let mut depth = 1usize;
        while depth > 0 {
            match self.peek() {
                None => return Err(Error::syntax("unterminated comment")),
                Some(b'(') => {
                    depth += 1;
                    self.pos += 1;
                }
                Some(b')') => {
                    depth -= 1;
                    self.pos += 1;
                }
                Some(b'\\') => {
                    if self.peek2().is_none() {
                        return Err(Error::syntax("bad quoted-pair"));
                    }
                    self.pos += 2;
                }
                Some(_) => self.pos += 1,
            }
        }
        Ok(&self.s[start..self.pos])
    }
}

/// Checks that the control characters of a quoted-string span are only HTAB
/// and line breaks of folded LWS (CRLF or LF followed by SP/HT).
fn check_folds(span: &[u8]) -> Result<(), Error> {
    let mut i = 0;
    while i < span.len() {
        let c = span[i];
        if c == b'\r' && span.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        if c == b'\n' {
            if !matches!(span.get(i + 1), Some(b' ' | b'\t')) {
                return Err(Error::syntax("line break in quoted string"));
            }
        } else if (c < 0x20 && c != b'\t') || c == 0x7f {
            return Err(Error::syntax("control character in quoted string"));
        }
        i += 1;
    }
    Ok(())
}

/// Resolves the quoted-pairs of a quoted-string's inner bytes, and replaces
/// each line fold (`[*WSP CRLF] 1*WSP`, bare LF accepted) with one SP, as
/// RFC 3261 §7.3.1 asks before a value is interpreted.
pub(crate) fn unquote(inner: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if memchr::memchr3(b'\\', b'\r', b'\n', inner).is_none() {
        return std::borrow::Cow::Borrowed(inner);
    }
    let mut out = Vec::with_capacity(inner.len());
    // Octets before this index came from quoted-pairs: a fold never eats them.
    let mut escaped_to = 0;
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            b'\\' if i + 1 < inner.len() => {
                out.push(inner[i + 1]);
                escaped_to = out.len();
                i += 2;
            }
            b'\r' | b'\n' => {
                while out.len() > escaped_to && matches!(out.last(), Some(b' ' | b'\t')) {
                    out.pop();
                }
                while i < inner.len() && matches!(inner[i], b'\r' | b'\n' | b' ' | b'\t') {
                    i += 1;
                }
                out.push(b' ');
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Splits a header value into its comma-separated elements (RFC 3261 §7.3.1),
/// honouring quoted strings and `<...>` URIs. Elements are trimmed of LWS.
/// Empty elements are reported (as empty slices) so callers can reject them.
pub(crate) struct CommaSplit<'a> {
    s: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> CommaSplit<'a> {
    pub(crate) fn new(s: &'a [u8]) -> Self {
        CommaSplit {
            s,
            pos: 0,
            done: false,
        }
    }

    /// Offset of the text after the element last returned, when another follows.
    pub(crate) fn rest_offset(&self) -> Option<usize> {
        (!self.done).then_some(self.pos)
    }
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.done {
            return None;
        }
        let s = self.s;
        let start = self.pos.min(s.len());
        // Most list values hold one element: without a comma further on, the
        // rest is the last element (no quote or bracket walking needed).
        let Some(first_comma) = memchr::memchr(b',', &s[start..]) else {
            self.done = true;
            return Some(trim_lws(&s[start..]));
        };
        let mut i = start;
        // Quotes and brackets only matter before a comma.
        if memchr::memchr2(b'"', b'<', &s[start..start + first_comma]).is_none() {
            self.pos = start + first_comma + 1;
            return Some(trim_lws(&s[start..start + first_comma]));
        }
        while let Some(off) = memchr::memchr3(b',', b'"', b'<', &s[i..]) {
            let j = i + off;
            match s[j] {
                b',' => {
                    self.pos = j + 1;
                    return Some(trim_lws(&s[start..j]));
                }
                b'"' => {
                    let mut k = j + 1;
                    while k < s.len() && s[k] != b'"' {
                        if s[k] == b'\\' {
                            k += 1;
                        }
                        k += 1;
                    }
                    i = (k + 1).min(s.len());
                }
                _ => {
                    // <URI>: commas inside are not separators
                    i = match memchr::memchr(b'>', &s[j..]) {
                        Some(c) => j + c + 1,
                        None => s.len(),
                    };
                }
            }
        }
        self.done = true;
        Some(trim_lws(&s[start..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquote_resolves_pairs_and_folds() {
        let u = |s: &str| String::from_utf8(unquote(s.as_bytes()).into_owned()).unwrap();
        assert_eq!(u("plain"), "plain");
        assert_eq!(u(r#"a\"b\\c"#), r#"a"b\c"#);
        // A fold, with or without CR and surrounding blanks, is one SP.
        assert_eq!(u("a\r\n b"), "a b");
        assert_eq!(u("a \t\n\t  b"), "a b");
        // An escaped blank before a fold is content, not folding.
        assert_eq!(u("a\\ \r\n b"), "a  b");
    }

    #[test]
    fn classes() {
        assert!(is(b'a', TOKEN) && is(b'%', TOKEN) && !is(b'(', TOKEN));
        assert!(is(b'(', WORD) && is(b'"', WORD) && !is(b' ', WORD));
        assert!(is(b';', USER) && !is(b'@', USER) && !is(b':', USER));
        assert!(is(b':', PARAM) && !is(b';', PARAM) && !is(b'=', PARAM));
        assert!(!is(0x80, TOKEN) && !is(0, URIC));
    }

    #[test]
    fn lws_and_quotes() {
        let mut s = Scanner::new(b" \r\n\tx");
        assert!(s.skip_lws());
        assert_eq!(s.peek(), Some(b'x'));
        let mut s = Scanner::new(b" \r\nx");
        s.skip_lws();
        assert_eq!(s.peek(), Some(b'\r'));
        let mut s = Scanner::new(br#""a \"b\"" rest"#);
        assert_eq!(s.quoted_string().unwrap(), br#"a \"b\""#);
        assert_eq!(&*unquote(br#"a \"b\""#), b"a \"b\"");
        assert!(Scanner::new(b"\"open").quoted_string().is_err());
        assert!(Scanner::new(b"\"a\\").quoted_string().is_err());
        assert!(Scanner::new(b"\"a\r\n b\"").quoted_string().is_ok());
        assert!(Scanner::new(b"\"a\r\nb\"").quoted_string().is_err());
        assert!(Scanner::new(b"\"a\rb\"").quoted_string().is_err());
        assert!(Scanner::new(b"\"a\x01b\"").quoted_string().is_err());
        assert!(Scanner::new(b"\"\\\x01\\\x7f\"").quoted_string().is_ok());
        assert!(
            Scanner::new("\"\u{e9}t\u{e9}\"".as_bytes())
                .quoted_string()
                .is_ok()
        );
    }

    #[test]
    fn comma_split() {
        let v: Vec<&[u8]> = CommaSplit::new(br#"<sip:a,b>;x="1,2" , "d, n" <sip:c>,e"#).collect();
        assert_eq!(
            v,
            vec![&br#"<sip:a,b>;x="1,2""#[..], br#""d, n" <sip:c>"#, b"e"]
        );
        let v: Vec<&[u8]> = CommaSplit::new(b";;,;,,").collect();
        assert_eq!(v.len(), 4);
    }

    /// The splitting rule written plainly: a comma outside quotes and `<>`.
    fn reference_split(s: &[u8]) -> Vec<&[u8]> {
        let (mut out, mut start, mut i) = (Vec::new(), 0, 0);
        while i < s.len() {
            match s[i] {
                b',' => {
                    out.push(trim_lws(&s[start..i]));
                    start = i + 1;
                    i += 1;
                }
                b'"' => {
                    i += 1;
                    while i < s.len() && s[i] != b'"' {
                        if s[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                    i = (i + 1).min(s.len());
                }
                b'<' => {
                    i = match s[i..].iter().position(|&c| c == b'>') {
                        Some(c) => i + c + 1,
                        None => s.len(),
                    };
                }
                _ => i += 1,
            }
        }
        out.push(trim_lws(&s[start..]));
        out
    }

    proptest::proptest! {
        #[test]
        fn comma_split_agrees_with_the_plain_rule(s in "[a<>\",\\ ;=]{0,40}") {
            let got: Vec<&[u8]> = CommaSplit::new(s.as_bytes()).collect();
            proptest::prop_assert_eq!(got, reference_split(s.as_bytes()));
        }
    }

    #[test]
    fn decimal() {
        assert_eq!(parse_decimal(b"0068", 255), Some(68));
        assert_eq!(parse_decimal(b"300", 255), None);
        assert_eq!(parse_decimal(b"", 255), None);
        assert_eq!(parse_decimal(b"99999999999999999999999", u64::MAX), None);
        assert_eq!(
            parse_decimal(b"9999999999999999999", u64::MAX),
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(
            parse_decimal(b"18446744073709551615", u64::MAX),
            Some(u64::MAX)
        );
        assert_eq!(parse_decimal(b"18446744073709551616", u64::MAX), None);
        assert_eq!(parse_decimal(b"000000000000000000000042", 42), Some(42));
        for bad in [&b"+1"[..], b"-1", b"1a", b" 1", b"1/", b"1:"] {
            assert_eq!(parse_decimal(bad, u64::MAX), None, "{bad:?}");
        }
    }

    proptest::proptest! {
        /// `push_decimal` writes what `Display` writes.
        #[test]
        fn decimal_writer_agrees_with_display(v in proptest::num::u64::ANY, small in 0u64..1000) {
            for v in [v, small, 0, u64::MAX] {
                let mut s = String::from("x");
                push_decimal(&mut s, v);
                proptest::prop_assert_eq!(s, format!("x{v}"));
            }
        }

        /// The `str` and byte trims take the same white space off.
        #[test]
        fn lws_trims_agree(s in "[ \t\r\na\u{e9},]{0,12}") {
            proptest::prop_assert_eq!(trim_lws_str(&s).as_bytes(), trim_lws(s.as_bytes()));
        }

        /// Digits only (no sign, unlike `str::parse`), any length, bounded by `max`.
        #[test]
        fn decimal_agrees_with_std(s in "[0-9+/:a]{0,24}", max in proptest::num::u64::ANY) {
            let want = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse::<u64>().ok().filter(|&v| v <= max)
            } else {
                None
            };
            proptest::prop_assert_eq!(parse_decimal(s.as_bytes(), max), want);
        }
    }
}
