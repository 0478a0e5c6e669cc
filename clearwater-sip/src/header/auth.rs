//! Authentication headers (RFC 3261 §20.7, §20.27, §20.28, §20.44): a scheme
//! followed by comma-separated `name=value` parameters.
//!
//! These views are scheme-agnostic; [`crate::digest`] interprets Digest ones.

use std::borrow::Cow;
use std::fmt;

use super::{R, Text, TypedHeader};
use crate::error::Error;
use crate::name::HeaderName;
use crate::params::unquote_value;
use crate::scan::{self, Scanner};

/// A parsed `scheme param=value, param="value"` header value.
#[derive(Clone)]
struct AuthValue<'a> {
    text: Text<'a>,
    scheme: R,
    params: R,
    /// The parameter part is one RFC 7235 token68, not `name=value` pairs.
    token68: bool,
}

/// token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
fn is_token68(b: &[u8]) -> bool {
    let body = b.iter().rposition(|&c| c != b'=').map_or(0, |i| i + 1);
    body > 0
        && b[..body].iter().all(|&c| {
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

impl<'a> AuthValue<'a> {
    fn parse(text: Text<'a>) -> Result<AuthValue<'a>, Error> {
        let mut sc = Scanner::new(text.as_bytes());
        sc.skip_lws();
        let ss = sc.pos();
        sc.token("missing authentication scheme")?;
        let scheme = R::new(ss, sc.pos());
        sc.skip_lws();
        let ps = sc.pos();
        // RFC 7235 token68 credentials (`Bearer <token>`, RFC 8898).
        if is_token68(scan::trim_lws(sc.rest())) {
            return Ok(AuthValue {
                scheme,
                params: R::new(ps, text.len()),
                token68: true,
                text,
            });
        }
        let mut first = true;
        while !sc.at_end() {
            if !first && !sc.eat_sep(b',') {
                return Err(Error::syntax("expected ',' between parameters"));
            }
            first = false;
            sc.skip_lws();
            sc.token("empty authentication parameter")?;
            if !sc.eat_sep(b'=') {
                return Err(Error::syntax("authentication parameter without '='"));
            }
            if sc.peek() == Some(b'"') {
                sc.quoted_string()?;
            } else {
                // token, leniently extended to any run of visible characters
                // other than ',' and '"', as deployed clients leave URIs and
                // such unquoted. Control characters end the value (and so make
                // the field invalid).
                let start = sc.pos();
                while let Some(c) = sc.peek() {
                    if c <= b' ' || c == 0x7f || c == b',' || c == b'"' {
                        break;
                    }
                    sc.set_pos(sc.pos() + 1);
                }
                if sc.pos() == start {
                    return Err(Error::syntax("empty authentication parameter value"));
                }
            }
            sc.skip_lws();
        }
        Ok(AuthValue {
            scheme,
            params: R::new(ps, text.len()),
            token68: false,
            text,
        })
    }

    fn scheme(&self) -> &str {
        self.scheme.get(&self.text)
    }

    fn iter(&self) -> AuthParams<'_> {
        AuthParams {
            rest: if self.token68 {
                ""
            } else {
                self.params.get(&self.text)
            },
        }
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    fn into_owned(self) -> AuthValue<'static> {
        AuthValue {
            text: Cow::Owned(self.text.into_owned()),
            scheme: self.scheme,
            params: self.params,
            token68: self.token68,
        }
    }
}

/// Iterator over `(name, raw value)` authentication parameters.
#[derive(Clone, Debug)]
pub struct AuthParams<'a> {
    rest: &'a str,
}

impl<'a> Iterator for AuthParams<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let r = scan::trim_lws_str(self.rest);
        let r = r.strip_prefix(',').map(scan::trim_lws_str).unwrap_or(r);
        if r.is_empty() {
            return None;
        }
        let eq = r.find('=')?;
        let name = scan::trim_lws_str(&r[..eq]);
        let after = scan::trim_lws_str(&r[eq + 1..]);
        let b = after.as_bytes();
        let end = if b.first() == Some(&b'"') {
            let mut i = 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            (i + 1).min(b.len())
        } else {
            b.iter()
                .position(|&c| matches!(c, b',' | b' ' | b'\t' | b'\r' | b'\n'))
                .unwrap_or(b.len())
        };
        self.rest = &after[end..];
        Some((name, &after[..end]))
    }
}

macro_rules! auth_type {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $ty<'a>(AuthValue<'a>);

        impl<'a> $ty<'a> {
            /// Parses `scheme params`.
            pub fn parse(text: &'a str) -> Result<$ty<'a>, Error> {
                AuthValue::parse(Cow::Borrowed(text)).map($ty)
            }

            /// Builds a value from a scheme and `(name, value)` pairs; values
            /// are written as given (quote them with their quotes where the
            /// scheme asks for quoted strings).
            pub fn new(scheme: &str, params: &[(&str, &str)]) -> Result<$ty<'static>, Error> {
                let mut s = String::with_capacity(64);
                s.push_str(scheme);
                for (i, (n, v)) in params.iter().enumerate() {
                    s.push_str(if i == 0 { " " } else { ", " });
                    s.push_str(n);
                    s.push('=');
                    s.push_str(v);
                }
                AuthValue::parse(Cow::Owned(s))
                    .map($ty)
                    .map_err(|_| Error::Invalid("bad authentication scheme or parameter"))
            }

            /// The scheme (`Digest`), as written.
            pub fn scheme(&self) -> &str {
                self.0.scheme()
            }

            /// Whether the scheme is `scheme` (case-insensitive).
            pub fn is_scheme(&self, scheme: &str) -> bool {
                self.0.scheme().eq_ignore_ascii_case(scheme)
            }

            /// The token68 form's token (`Bearer <token>`), when the value is
            /// not `name=value` parameters.
            pub fn token68(&self) -> Option<&str> {
                self.0
                    .token68
                    .then(|| scan::trim_lws_str(self.0.params.get(&self.0.text)))
            }

            /// The parameters, raw (quoted values keep their quotes).
            pub fn params(&self) -> AuthParams<'_> {
                self.0.iter()
            }

            /// Parameter `name` as written.
            pub fn param_raw(&self, name: &str) -> Option<&str> {
                self.0.param(name)
            }

            /// Parameter `name` with quotes removed.
            pub fn param(&self, name: &str) -> Option<Cow<'_, str>> {
                self.0.param(name).map(unquote_value)
            }

            /// The value as written.
            pub fn as_str(&self) -> &str {
                &self.0.text
            }

            /// A copy that owns its text.
            pub fn into_owned(self) -> $ty<'static> {
                $ty(self.0.into_owned())
            }
        }

        impl fmt::Display for $ty<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(scan::trim_lws_str(&self.0.text))
            }
        }

        impl fmt::Debug for $ty<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($ty), self.0.text)
            }
        }
    };
}

auth_type!(
    /// A challenge (`WWW-Authenticate` / `Proxy-Authenticate` value).
    Challenge
);
auth_type!(
    /// Credentials (`Authorization` / `Proxy-Authorization` value).
    Credentials
);

macro_rules! auth_header {
    ($(#[$doc:meta])* $ty:ident($inner:ident), $name:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $ty<'a>(pub $inner<'a>);

        impl<'a> std::ops::Deref for $ty<'a> {
            type Target = $inner<'a>;
            fn deref(&self) -> &$inner<'a> {
                &self.0
            }
        }

        impl fmt::Display for $ty<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl<'a> TypedHeader<'a> for $ty<'a> {
            const NAME: HeaderName = $name;
            fn parse(value: &'a str) -> Result<Self, Error> {
                $inner::parse(value).map($ty)
            }
        }
    };
}

auth_header!(
    /// `WWW-Authenticate` (RFC 3261 §20.44).
    WwwAuthenticate(Challenge), HeaderName::WWW_AUTHENTICATE
);
auth_header!(
    /// `Proxy-Authenticate` (RFC 3261 §20.27).
    ProxyAuthenticate(Challenge), HeaderName::PROXY_AUTHENTICATE
);
auth_header!(
    /// `Authorization` (RFC 3261 §20.7).
    Authorization(Credentials), HeaderName::AUTHORIZATION
);
auth_header!(
    /// `Proxy-Authorization` (RFC 3261 §20.28).
    ProxyAuthorization(Credentials), HeaderName::PROXY_AUTHORIZATION
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_credentials() {
        let c = Credentials::parse(
            "Digest username=\"001010000012345@ims.example.net\", realm=\"ims.example.net\",\r\n nonce=\"\", uri=\"sip:ims.example.net\", response=\"\", algorithm=AKAv1-MD5",
        )
        .unwrap();
        assert!(c.is_scheme("digest"));
        assert_eq!(
            c.param("username").unwrap(),
            "001010000012345@ims.example.net"
        );
        assert_eq!(c.param("nonce").unwrap(), "");
        assert_eq!(c.param_raw("algorithm"), Some("AKAv1-MD5"));
        assert_eq!(c.params().count(), 6);
    }

    #[test]
    fn bad_values() {
        // RFC 7235: `scheme token68` is a valid value (digest rejects it later).
        assert_eq!(
            Challenge::parse("Digest realm").unwrap().token68(),
            Some("realm")
        );
        for bad in [
            "",
            "Digest realm=\"open",
            "Digest ,",
            "Digest a=b c=d",
            "Digest =x",
        ] {
            assert!(Challenge::parse(bad).is_err(), "{bad}");
        }
        assert!(Challenge::parse("NewAuth").is_ok());
        let b = Credentials::parse("Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig-_~+/==").unwrap();
        assert_eq!(b.token68(), Some("eyJhbGciOiJSUzI1NiJ9.e30.sig-_~+/=="));
        assert_eq!(b.params().count(), 0);
        let basic = Credentials::parse("Basic dXNlcjpwYXNz").unwrap();
        assert_eq!(basic.token68(), Some("dXNlcjpwYXNz"));
        let d = Credentials::parse("Digest a=b").unwrap();
        assert_eq!(d.token68(), None);
        assert!(Credentials::parse("Bearer a b").is_err());
        let c = Challenge::new("Digest", &[("realm", "\"x\""), ("qop", "\"auth\"")]).unwrap();
        assert_eq!(c.as_str(), "Digest realm=\"x\", qop=\"auth\"");
    }
}
