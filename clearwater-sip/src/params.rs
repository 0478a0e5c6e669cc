//! Parameter lists (`;name=value`), shared by URIs and header values.

use std::borrow::Cow;
use std::fmt;

use crate::error::Error;
use crate::scan::{self, Scanner};

/// A borrowed view of a `;`-separated parameter list, as written.
///
/// The text was validated when its owner (a URI or a typed header) was parsed, so
/// iteration cannot fail. Names compare ASCII-case-insensitively; values are
/// returned as written (quoted values keep their quotes: use
/// [`Params::get_unquoted`] to resolve them).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Params<'a> {
    raw: &'a str,
}

impl<'a> Params<'a> {
    /// A view over `raw` (either empty or starting with `;`, possibly after LWS).
    #[inline]
    pub(crate) fn new(raw: &'a str) -> Self {
        Params { raw }
    }

    /// The list as written, including the leading `;`.
    #[inline]
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Whether the list is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The parameters in order: `(name, value)` with LWS trimmed.
    #[inline]
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter { rest: self.raw }
    }

    /// Whether a parameter named `name` is present (flag or valued).
    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The value of the first parameter named `name`. `Some(None)` is a flag
    /// parameter without a value.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The value of `name`, with surrounding quotes removed and quoted-pairs
    /// resolved. Flag parameters give an empty string.
    pub fn get_unquoted(&self, name: &str) -> Option<Cow<'a, str>> {
        self.get(name).map(|v| unquote_value(v.unwrap_or("")))
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.iter().count()
    }
}

impl fmt::Debug for Params<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for Params<'a> {
    type Item = (&'a str, Option<&'a str>);
    type IntoIter = ParamIter<'a>;
    fn into_iter(self) -> ParamIter<'a> {
        self.iter()
    }
}

/// Iterator over a [`Params`] list.
#[derive(Clone, Debug)]
pub struct ParamIter<'a> {
    rest: &'a str,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = (&'a str, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let b = self.rest.as_bytes();
            // skip LWS, then expect ';'
            let mut i = 0;
            while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
                i += 1;
            }
            if b.get(i) != Some(&b';') {
                self.rest = "";
                return None;
            }
            let start = i + 1;
            // End of this parameter: the next ';' outside a quoted string.
            let mut end = start;
            let mut eq = None;
            loop {
                match memchr::memchr3(b';', b'"', b'=', &b[end..]) {
                    None => {
                        end = b.len();
                        break;
                    }
                    Some(off) => {
                        let j = end + off;
                        match b[j] {
                            b';' => {
                                end = j;
                                break;
                            }
                            b'=' => {
                                if eq.is_none() {
                                    eq = Some(j);
                                }
                                end = j + 1;
                            }
                            _ => {
                                // skip the quoted string
                                let mut k = j + 1;
                                while k < b.len() && b[k] != b'"' {
                                    if b[k] == b'\\' {
                                        k += 1;
                                    }
                                    k += 1;
                                }
                                end = (k + 1).min(b.len());
                            }
                        }
                    }
                }
            }
            let text = self.rest;
            self.rest = &text[end..];
            let (name, value) = match eq {
                Some(e) => (
                    scan::trim_lws_str(&text[start..e]),
                    Some(scan::trim_lws_str(&text[e + 1..end])),
                ),
                None => (scan::trim_lws_str(&text[start..end]), None),
            };
            if name.is_empty() {
                continue;
            }
            return Some((name, value));
        }
    }
}

/// Removes the quotes of a quoted-string value and resolves its quoted-pairs;
/// other values are returned unchanged.
pub(crate) fn unquote_value(v: &str) -> Cow<'_, str> {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        let inner = &v[1..v.len() - 1];
        match scan::unquote(inner.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(inner),
            Cow::Owned(o) => Cow::Owned(String::from_utf8_lossy(&o).into_owned()),
        }
    } else {
        Cow::Borrowed(v)
    }
}

/// Validates a header parameter list (`*( SEMI generic-param )`) starting at the
/// scanner position and returns where it ends. Stops before `,` or end of input.
///
/// generic-param = token [ EQUAL gen-value ]; gen-value = token / host /
/// quoted-string. Empty parameters (`;;`) are errors.
pub(crate) fn scan_header_params(sc: &mut Scanner<'_>) -> Result<(), Error> {
    scan_header_params_visit(sc, |_, _| Ok(()))
}

/// What kind of `gen-value` [`scan_gen_value`] accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GenValue {
    /// A `token`.
    Token,
    /// A `quoted-string` (quotes included in the range).
    Quoted,
    /// An IPv6 address, bare or as a `[reference]` (a `host` that is not a token).
    Ipv6,
}

/// A parameter value found by [`scan_header_params_visit`]: its absolute
/// byte range in the scanner's input and its kind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ParamValue {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) kind: GenValue,
}

/// [`scan_header_params`], calling `visit(name, value)` for each parameter
/// with absolute byte ranges into the scanner's input, so owners can validate
/// and remember the parameters they care about in the same pass.
pub(crate) fn scan_header_params_visit(
    sc: &mut Scanner<'_>,
    mut visit: impl FnMut(&[u8], Option<ParamValue>) -> Result<(), Error>,
) -> Result<(), Error> {
    loop {
        let save = sc.pos();
        sc.skip_lws();
        if !sc.eat(b';') {
            sc.set_pos(save);
            return Ok(());
        }
        sc.skip_lws();
        let name = sc.token("empty parameter")?;
        let value = if sc.eat_sep(b'=') {
            let start = sc.pos();
            let kind = scan_gen_value(sc)?;
            Some(ParamValue {
                start,
                end: sc.pos(),
                kind,
            })
        } else {
            None
        };
        visit(name, value)?;
    }
}

/// gen-value = token / host / quoted-string. Hosts cover IPv6 references, and
/// (as RFC 5118 §4.5 asks of robust parsers) bare IPv6 addresses with colons.
///
/// Returns which of the three it accepted, so owners need not look at the
/// value again (an IPv6 address, bare or in brackets, is validated here).
pub(crate) fn scan_gen_value(sc: &mut Scanner<'_>) -> Result<GenValue, Error> {
    match sc.peek() {
        Some(b'"') => {
            sc.quoted_string()?;
            Ok(GenValue::Quoted)
        }
        Some(b'[') => {
            let start = sc.pos();
            while let Some(b) = sc.peek() {
                sc.set_pos(sc.pos() + 1);
                if b == b']' {
                    break;
                }
            }
            let inner = &sc.input()[start..sc.pos()];
            if inner.len() < 3 || inner.last() != Some(&b']') {
                return Err(Error::syntax("bad IPv6 reference in parameter"));
            }
            if !crate::uri::host::is_ipv6(&inner[1..inner.len() - 1]) {
                return Err(Error::syntax("bad IPv6 reference in parameter"));
            }
            Ok(GenValue::Ipv6)
        }
        _ => {
            let v = sc.take_class(scan::TOKEN);
            if v.is_empty() && sc.peek() != Some(b':') {
                return Err(Error::syntax("empty parameter value"));
            }
            // A bare IPv6 address (token chars and colons; `::…` included).
            if sc.peek() == Some(b':') {
                let start = sc.pos() - v.len();
                while let Some(b) = sc.peek() {
                    if b == b':' || b.is_ascii_hexdigit() || b == b'.' {
                        sc.set_pos(sc.pos() + 1);
                    } else {
                        break;
                    }
                }
                if !crate::uri::host::is_ipv6(&sc.input()[start..sc.pos()]) {
                    return Err(Error::syntax("bad parameter value"));
                }
                return Ok(GenValue::Ipv6);
            }
            Ok(GenValue::Token)
        }
    }
}

/// Appends `;name[=value]` to `out`, validating that `name` is a token and that
/// `value` is a token, host or quoted string.
pub(crate) fn push_param(out: &mut String, name: &str, value: Option<&str>) -> Result<(), Error> {
    if !scan::is_token(name.as_bytes()) {
        return Err(Error::Invalid("parameter name is not a token"));
    }
    out.push(';');
    out.push_str(name);
    if let Some(v) = value {
        let mut sc = Scanner::new(v.as_bytes());
        scan_gen_value(&mut sc)
            .ok()
            .filter(|_| sc.at_end())
            .ok_or(Error::Invalid(
                "parameter value is not a token, host or quoted string",
            ))?;
        out.push('=');
        out.push_str(v);
    }
    Ok(())
}

/// Rebuilds a parameter list with `name` set to `value` (replacing an existing
/// one in place, or appended), or removed when `value` is `None` and `remove`.
pub(crate) fn edit_params(
    raw: &str,
    name: &str,
    value: Option<Option<&str>>,
) -> Result<String, Error> {
    let mut out = String::with_capacity(raw.len() + name.len() + 8);
    let mut done = false;
    for (n, v) in Params::new(raw).iter() {
        if n.eq_ignore_ascii_case(name) {
            if let (Some(newv), false) = (value, done) {
                push_param(&mut out, name, newv)?;
                done = true;
            }
            continue;
        }
        out.push(';');
        out.push_str(n);
        if let Some(v) = v {
            out.push('=');
            out.push_str(v);
        }
    }
    if let (Some(newv), false) = (value, done) {
        push_param(&mut out, name, newv)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterate_with_lws_and_quotes() {
        let p = Params::new(";   tag    = 1918181833n ; x;q=\"a;b\\\"c\"");
        let v: Vec<_> = p.iter().collect();
        assert_eq!(
            v,
            vec![
                ("tag", Some("1918181833n")),
                ("x", None),
                ("q", Some("\"a;b\\\"c\"")),
            ]
        );
        assert_eq!(p.get("TAG"), Some(Some("1918181833n")));
        assert_eq!(p.get("x"), Some(None));
        assert_eq!(p.get("nope"), None);
        assert_eq!(p.get_unquoted("q").unwrap(), "a;b\"c");
    }

    #[test]
    fn header_param_grammar() {
        let ok = |s: &str| {
            let mut sc = Scanner::new(s.as_bytes());
            scan_header_params(&mut sc).is_ok() && sc.at_end()
        };
        assert!(ok(";a=b;c;d=\"q v\""));
        assert!(ok(" ;\r\n  tag = 98asjd8"));
        assert!(ok(";received=[2001:db8::9:255]"));
        assert!(ok(";received=2001:db8::9:255"));
        assert!(!ok(";;"));
        assert!(!ok(";a="));
        assert!(!ok(";a=\"open"));
    }

    #[test]
    fn edit() {
        assert_eq!(
            edit_params(";a=1;b", "b", Some(Some("2"))).unwrap(),
            ";a=1;b=2"
        );
        assert_eq!(edit_params(";a=1;b", "c", Some(None)).unwrap(), ";a=1;b;c");
        assert_eq!(edit_params(";a=1;b", "a", None).unwrap(), ";b");
        assert!(edit_params("", "a b", Some(None)).is_err());
    }
}
