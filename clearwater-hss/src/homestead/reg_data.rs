//! Homestead's `ClearwaterRegData` document: what `GET|PUT
//! /impu/<impu>/reg-data` answers.
//!
//! ```xml
//! <ClearwaterRegData>
//!   <RegistrationState>REGISTERED</RegistrationState>
//!   <IMSSubscription>…</IMSSubscription>
//!   <ChargingAddresses>
//!     <CCF priority="1">aaa://ccf1.example.net</CCF>
//!     <CCF priority="2">aaa://ccf2.example.net</CCF>
//!     <ECF priority="1">aaa://ecf1.example.net</ECF>
//!   </ChargingAddresses>
//! </ClearwaterRegData>
//! ```
//!
//! As Clearwater writes it: no XML declaration, `IMSSubscription` (TS 29.228
//! Annex E, written by [`ImsSubscription::to_xml`] without its declaration)
//! only when there is a subscription, `ChargingAddresses` only when there is
//! an address, CCFs before ECFs, priorities counting from 1 in list order
//! (Clearwater writes at most two of each; all are written here).

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::subscription::{ImsSubscription, ParseLimits, first_non_xml_char, is_xml_char};
use crate::{ChargingAddresses, HssError, RegData, RegistrationState};

/// Most CCFs, and most ECFs, [`RegData::parse`] accepts.
const MAX_CHARGING_ADDRESSES: usize = 16;
/// Longest text value (registration state, one address) accepted.
const MAX_VALUE: usize = 8 * 1024;

impl RegData {
    /// Writes Homestead's `ClearwaterRegData` document (see the
    /// [module docs](crate::homestead)). `associated_impis` are not part of
    /// it.
    pub fn to_xml(&self) -> String {
        let subscription = self.subscription.as_ref().map(ImsSubscription::to_xml);
        let mut out = String::with_capacity(
            128 + subscription.as_ref().map_or(0, String::len)
                + 64 * (self.charging.ccfs.len() + self.charging.ecfs.len()),
        );
        out.push_str("<ClearwaterRegData>\n  <RegistrationState>");
        out.push_str(self.state.as_str());
        out.push_str("</RegistrationState>\n");
        if let Some(xml) = &subscription {
            out.push_str(strip_declaration(xml).trim_end_matches('\n'));
            out.push('\n');
        }
        if !self.charging.is_empty() {
            out.push_str("  <ChargingAddresses>\n");
            for (name, list) in [("CCF", &self.charging.ccfs), ("ECF", &self.charging.ecfs)] {
                for (i, address) in list.iter().enumerate() {
                    out.push_str("    <");
                    out.push_str(name);
                    out.push_str(" priority=\"");
                    out.push_str(&(i + 1).to_string());
                    out.push_str("\">");
                    escape_into(&mut out, address);
                    out.push_str("</");
                    out.push_str(name);
                    out.push_str(">\n");
                }
            }
            out.push_str("  </ChargingAddresses>\n");
        }
        out.push_str("</ClearwaterRegData>\n");
        out
    }

    /// Reads a `ClearwaterRegData` document (what [`RegData::to_xml`] and
    /// Clearwater's Homestead write). An XML declaration is allowed, a
    /// DOCTYPE refused; unknown elements are skipped; `RegistrationState`
    /// is required; the `IMSSubscription` is read by
    /// [`ImsSubscription::parse`] with its limits; CCFs and ECFs are ordered
    /// by their `priority` (those without one last, in document order), at
    /// most 16 of each. `associated_impis` comes back empty.
    ///
    /// # Errors
    ///
    /// [`HssError::Invalid`] with the reason.
    pub fn parse(xml: &str) -> Result<RegData, HssError> {
        let limit = ParseLimits::default().max_document_bytes + 64 * 1024;
        if xml.len() > limit {
            return Err(invalid(format!(
                "ClearwaterRegData is {} bytes, over the limit of {limit}",
                xml.len()
            )));
        }
        let xml = xml.strip_prefix('\u{FEFF}').unwrap_or(xml);
        let mut r = Reader::from_str(xml);
        // Prologue, then the root.
        loop {
            match next(&mut r)? {
                Event::Decl(_) => {}
                Event::Text(t) if is_blank(&t.xml10_content()) => {}
                Event::Start(e) if e.local_name().as_ref() == "ClearwaterRegData" => break,
                Event::Start(e) | Event::Empty(e) => {
                    return Err(invalid(format!(
                        "the root element is <{}>, expected <ClearwaterRegData> with a \
                         <RegistrationState>",
                        e.local_name().as_ref()
                    )));
                }
                Event::Eof => return Err(invalid("no <ClearwaterRegData> element")),
                _ => return Err(invalid("unexpected content before <ClearwaterRegData>")),
            }
        }
        let mut state = None;
        let mut subscription = None;
        let mut charging = None;
        loop {
            let before = position(&r);
            match next(&mut r)? {
                Event::Start(e) => match e.local_name().as_ref() {
                    "RegistrationState" => {
                        once(&state, "RegistrationState")?;
                        let text = text(&mut r, "RegistrationState")?;
                        state = Some(RegistrationState::parse(&text).ok_or_else(|| {
                            invalid(format!(
                                "<RegistrationState> {text:?} is not REGISTERED, UNREGISTERED \
                                 or NOT_REGISTERED"
                            ))
                        })?);
                    }
                    "IMSSubscription" => {
                        once(&subscription, "IMSSubscription")?;
                        r.read_to_end(e.name()).map_err(malformed(&r))?;
                        let document = xml.get(before..position(&r)).unwrap_or("");
                        subscription = Some(
                            ImsSubscription::parse(document)
                                .map_err(|e| context(e, "in <IMSSubscription>"))?,
                        );
                    }
                    "ChargingAddresses" => {
                        once(&charging, "ChargingAddresses")?;
                        charging = Some(charging_addresses(&mut r)?);
                    }
                    _ => {
                        r.read_to_end(e.name()).map_err(malformed(&r))?;
                    }
                },
                Event::Empty(e) => match e.local_name().as_ref() {
                    "RegistrationState" => {
                        return Err(invalid("<RegistrationState> is empty"));
                    }
                    "IMSSubscription" => {
                        return Err(invalid("<IMSSubscription> is empty"));
                    }
                    "ChargingAddresses" => {
                        once(&charging, "ChargingAddresses")?;
                        charging = Some(ChargingAddresses::default());
                    }
                    _ => {}
                },
                Event::End(_) => break,
                Event::Text(t) if is_blank(&t.xml10_content()) => {}
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => return Err(invalid("the document ends inside <ClearwaterRegData>")),
                _ => return Err(invalid("unexpected text in <ClearwaterRegData>")),
            }
        }
        loop {
            match next(&mut r)? {
                Event::Eof => break,
                Event::Text(t) if is_blank(&t.xml10_content()) => {}
                Event::Comment(_) | Event::PI(_) => {}
                _ => return Err(invalid("unexpected content after </ClearwaterRegData>")),
            }
        }
        Ok(RegData {
            state: state
                .ok_or_else(|| invalid("<ClearwaterRegData> has no <RegistrationState>"))?,
            subscription,
            charging: charging.unwrap_or_default(),
            associated_impis: Vec::new(),
        })
    }
}

/// `ChargingAddresses`, its start tag read.
fn charging_addresses(r: &mut Reader<&[u8]>) -> Result<ChargingAddresses, HssError> {
    let mut ccfs: Vec<(u32, String)> = Vec::new();
    let mut ecfs: Vec<(u32, String)> = Vec::new();
    loop {
        match next(r)? {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                let list = match name.as_str() {
                    "CCF" => &mut ccfs,
                    "ECF" => &mut ecfs,
                    _ => {
                        r.read_to_end(e.name()).map_err(malformed(r))?;
                        continue;
                    }
                };
                if list.len() >= MAX_CHARGING_ADDRESSES {
                    return Err(invalid(format!(
                        "more than {MAX_CHARGING_ADDRESSES} <{name}> addresses"
                    )));
                }
                let priority = priority(&e, &name)?;
                let address = text(r, &name)?;
                if address.is_empty() {
                    return Err(invalid(format!("<{name}> is empty")));
                }
                list.push((priority, address));
            }
            Event::Empty(e) => {
                let name = e.local_name().as_ref().to_owned();
                if name == "CCF" || name == "ECF" {
                    return Err(invalid(format!("<{name}> is empty")));
                }
            }
            Event::End(_) => break,
            Event::Text(t) if is_blank(&t.xml10_content()) => {}
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => return Err(invalid("the document ends inside <ChargingAddresses>")),
            _ => return Err(invalid("unexpected text in <ChargingAddresses>")),
        }
    }
    let ordered = |mut list: Vec<(u32, String)>| {
        list.sort_by_key(|(p, _)| *p);
        list.into_iter().map(|(_, a)| a).collect()
    };
    Ok(ChargingAddresses {
        ccfs: ordered(ccfs),
        ecfs: ordered(ecfs),
    })
}

/// The `priority` attribute (absent: after all the others).
fn priority(e: &BytesStart<'_>, name: &str) -> Result<u32, HssError> {
    let attribute = e
        .try_get_attribute("priority")
        .map_err(|err| invalid(format!("<{name}>: bad attribute: {err}")))?;
    let Some(attribute) = attribute else {
        return Ok(u32::MAX);
    };
    let value = attribute
        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
        .map_err(|err| invalid(format!("<{name}> priority: {err}")))?;
    value
        .trim()
        .parse()
        .map_err(|_| invalid(format!("<{name}> priority {value:?} is not a number")))
}

/// The text of an element whose start tag was read, up to its end tag:
/// references resolved, the whitespace written literally around it trimmed
/// (whitespace written as a character reference or in CDATA is kept, as
/// [`escape_into`] writes it), characters XML 1.0 does not allow refused.
fn text(r: &mut Reader<&[u8]>, name: &str) -> Result<String, HssError> {
    let mut value = String::new();
    // Everything before this offset came from a reference or CDATA.
    let mut protected = 0;
    loop {
        match next(r)? {
            Event::Text(t) => {
                let t = t.xml10_content();
                value.push_str(if value.is_empty() { t.trim_start() } else { &t });
            }
            Event::CData(c) => {
                value.push_str(&c.xml10_content());
                protected = value.len();
            }
            Event::GeneralRef(g) => {
                let c = match g.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match &*g {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => {
                            return Err(invalid(format!("<{name}>: undefined entity &{other};")));
                        }
                    },
                    Err(e) => return Err(invalid(format!("<{name}>: {e}"))),
                };
                value.push(c);
                protected = value.len();
            }
            Event::End(_) => break,
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => return Err(invalid(format!("the document ends inside <{name}>"))),
            _ => return Err(invalid(format!("<{name}> holds text only"))),
        }
        if value.len() > MAX_VALUE {
            return Err(invalid(format!(
                "<{name}> is longer than {MAX_VALUE} bytes"
            )));
        }
    }
    let keep = protected + value[protected..].trim_end().len();
    value.truncate(keep);
    if let Some(c) = first_non_xml_char(&value) {
        return Err(invalid(format!(
            "<{name}> holds U+{:04X}, which XML 1.0 does not allow",
            u32::from(c)
        )));
    }
    Ok(value)
}

/// The next event; a DOCTYPE is refused (no DTD is ever read).
fn next<'a>(r: &mut Reader<&'a [u8]>) -> Result<Event<'a>, HssError> {
    match r.read_event() {
        Ok(Event::DocType(_)) => Err(invalid("a DOCTYPE is not allowed")),
        Ok(event) => Ok(event),
        Err(e) => Err(invalid(format!(
            "malformed XML at byte {}: {e}",
            r.error_position()
        ))),
    }
}

fn malformed<'r>(r: &'r Reader<&[u8]>) -> impl Fn(quick_xml::Error) -> HssError + 'r {
    move |e| invalid(format!("malformed XML at byte {}: {e}", r.error_position()))
}

fn position(r: &Reader<&[u8]>) -> usize {
    usize::try_from(r.buffer_position()).unwrap_or(usize::MAX)
}

fn once<T>(seen: &Option<T>, name: &str) -> Result<(), HssError> {
    if seen.is_some() {
        return Err(invalid(format!("<{name}> appears more than once")));
    }
    Ok(())
}

fn is_blank(s: &str) -> bool {
    s.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

fn invalid(reason: impl Into<String>) -> HssError {
    HssError::Invalid(reason.into())
}

fn context(e: HssError, at: &str) -> HssError {
    match e {
        HssError::Invalid(reason) => HssError::Invalid(format!("{at}: {reason}")),
        other => other,
    }
}

/// The document without its leading XML declaration.
fn strip_declaration(xml: &str) -> &str {
    let trimmed = xml.trim_start();
    match trimmed
        .strip_prefix("<?xml")
        .and_then(|rest| rest.split_once("?>"))
    {
        Some((_, rest)) => rest.trim_start_matches(['\r', '\n']),
        None => xml,
    }
}

/// Escapes element text: `&`, `<`, `>`, and characters the reader would
/// change (carriage returns, surrounding whitespace), as character
/// references. A character XML 1.0 does not allow (a NUL...) cannot be
/// written in any form a reader accepts: it becomes U+FFFD. No value that
/// came in through Cx (DiameterURI checks), Homestead-prov or
/// [`RegData::parse`] holds one; only values built in code can.
fn escape_into(out: &mut String, value: &str) {
    let lead = value.len() - value.trim_start().len();
    let trail = value.trim_end().len();
    for (i, c) in value.char_indices() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if !is_xml_char(c) => out.push(char::REPLACEMENT_CHARACTER),
            c if c == '\r' || ((i < lead || i >= trail) && c.is_whitespace()) => {
                out.push_str("&#");
                out.push_str(&u32::from(c).to_string());
                out.push(';');
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscription::{PublicIdentity, ServiceProfile};

    fn subscription() -> ImsSubscription {
        ImsSubscription {
            private_id: "alice@example.net".into(),
            service_profiles: vec![ServiceProfile {
                public_identities: vec![PublicIdentity::new("sip:alice@example.net")],
                ..ServiceProfile::default()
            }],
        }
    }

    #[test]
    fn writes_clearwater_shape() {
        let data = RegData {
            state: RegistrationState::Registered,
            subscription: Some(subscription()),
            charging: ChargingAddresses {
                ccfs: vec!["aaa://ccf1".into(), "aaa://ccf2;a=1&b".into()],
                ecfs: vec!["aaa://ecf1".into()],
            },
            associated_impis: vec!["alice@example.net".into()],
        };
        let xml = data.to_xml();
        assert!(xml.starts_with("<ClearwaterRegData>\n  <RegistrationState>REGISTERED</RegistrationState>\n<IMSSubscription"), "{xml}");
        assert!(!xml.contains("<?xml"));
        assert!(xml.contains("<CCF priority=\"1\">aaa://ccf1</CCF>"));
        assert!(xml.contains("<CCF priority=\"2\">aaa://ccf2;a=1&amp;b</CCF>"));
        assert!(xml.contains("<ECF priority=\"1\">aaa://ecf1</ECF>"));
        let back = RegData::parse(&xml).unwrap();
        assert_eq!(
            back,
            RegData {
                associated_impis: Vec::new(),
                ..data
            }
        );
    }

    #[test]
    fn addresses_with_awkward_text_read_back_exactly() {
        // Built in code: surrounding whitespace, a carriage return, markup.
        let data = RegData {
            charging: ChargingAddresses {
                ccfs: vec![" aaa://ccf1 ".into(), "a\r\nb".into(), "\t<x>&".into()],
                ecfs: vec!["\n".into()],
            },
            ..RegData::default()
        };
        assert_eq!(RegData::parse(&data.to_xml()).unwrap(), data);
        // Literal whitespace around the text is layout, not content.
        let xml = "<ClearwaterRegData><RegistrationState>REGISTERED</RegistrationState>\
            <ChargingAddresses><CCF>\n  aaa://c&#32;<![CDATA[ d ]]>  \n</CCF></ChargingAddresses>\
            </ClearwaterRegData>";
        assert_eq!(RegData::parse(xml).unwrap().charging.ccfs, ["aaa://c  d "]);
    }

    #[test]
    fn characters_xml_does_not_allow_are_written_as_replacements() {
        // Only a value built in code can hold one; the document must still
        // be one a reader (ours included) accepts.
        let data = RegData {
            charging: ChargingAddresses {
                ccfs: vec!["a\u{0}b".into(), "\u{1}".into()],
                ecfs: vec!["\u{FFFF}c".into()],
            },
            ..RegData::default()
        };
        let back = RegData::parse(&data.to_xml()).unwrap();
        assert_eq!(back.charging.ccfs, ["a\u{FFFD}b", "\u{FFFD}"]);
        assert_eq!(back.charging.ecfs, ["\u{FFFD}c"]);
    }

    #[test]
    fn characters_xml_does_not_allow_are_refused() {
        // Found by the `subscription` fuzz target: a literal NUL was accepted
        // and written back as `&#0;`, which no reader accepts.
        for bad in ["a\u{0}b", "a\u{1}", "\u{FFFE}"] {
            let xml = format!(
                "<ClearwaterRegData><RegistrationState>REGISTERED</RegistrationState>\
                 <ChargingAddresses><CCF>{bad}</CCF></ChargingAddresses></ClearwaterRegData>"
            );
            let err = RegData::parse(&xml).unwrap_err();
            assert!(err.to_string().contains("XML 1.0 does not allow"), "{err}");
        }
    }

    #[test]
    fn minimal_documents() {
        let data = RegData::default();
        assert_eq!(
            data.to_xml(),
            "<ClearwaterRegData>\n  <RegistrationState>NOT_REGISTERED</RegistrationState>\n</ClearwaterRegData>\n"
        );
        assert_eq!(RegData::parse(&data.to_xml()).unwrap(), data);
    }

    #[test]
    fn reads_priorities_declarations_and_unknown_elements() {
        let xml = r#"<?xml version="1.0"?>
<ClearwaterRegData><Future><RegistrationState>X</RegistrationState></Future>
<RegistrationState> UNREGISTERED </RegistrationState>
<ChargingAddresses><ECF priority="2">e2</ECF><ECF priority="1">e1</ECF><CCF>c</CCF></ChargingAddresses>
</ClearwaterRegData>"#;
        let data = RegData::parse(xml).unwrap();
        assert_eq!(data.state, RegistrationState::Unregistered);
        assert_eq!(data.charging.ecfs, ["e1", "e2"]);
        assert_eq!(data.charging.ccfs, ["c"]);
        assert!(data.subscription.is_none());
    }

    #[test]
    fn damaged_documents_never_panic() {
        let data = RegData {
            state: RegistrationState::Registered,
            subscription: Some(subscription()),
            charging: ChargingAddresses {
                ccfs: vec!["aaa://ccf1".into()],
                ecfs: vec!["aaa://ecf&1".into()],
            },
            associated_impis: Vec::new(),
        };
        let xml = data.to_xml();
        for end in 0..xml.len() {
            if xml.is_char_boundary(end) {
                let _ = RegData::parse(&xml[..end]);
            }
        }
        let bytes = xml.as_bytes();
        for i in 0..bytes.len() {
            for b in [b'<', b'>', b'&', b'"', b'/', b' ', b'x'] {
                let mut damaged = bytes.to_vec();
                damaged[i] = b;
                if let Ok(text) = std::str::from_utf8(&damaged) {
                    let _ = RegData::parse(text);
                }
            }
        }
        assert_eq!(RegData::parse(&xml).unwrap(), data);
    }

    #[test]
    fn refuses_bad_documents() {
        for (xml, want) in [
            ("", "no <ClearwaterRegData>"),
            ("<Other/>", "root element is <Other>"),
            (
                "<ClearwaterRegData></ClearwaterRegData>",
                "no <RegistrationState>",
            ),
            (
                "<ClearwaterRegData><RegistrationState>BAD</RegistrationState></ClearwaterRegData>",
                "is not REGISTERED",
            ),
            (
                "<ClearwaterRegData><RegistrationState>REGISTERED</RegistrationState><RegistrationState>REGISTERED</RegistrationState></ClearwaterRegData>",
                "more than once",
            ),
            ("<!DOCTYPE x><ClearwaterRegData/>", "DOCTYPE"),
            (
                "<ClearwaterRegData><RegistrationState>REGISTERED</RegistrationState><IMSSubscription><PrivateID>a</PrivateID></IMSSubscription></ClearwaterRegData>",
                "in <IMSSubscription>",
            ),
            (
                "<ClearwaterRegData><RegistrationState>REGISTERED</RegistrationState>",
                "ends inside",
            ),
            (
                "<ClearwaterRegData><RegistrationState>REGISTERED</RegistrationState></ClearwaterRegData>junk",
                "after </ClearwaterRegData>",
            ),
            (
                "<ClearwaterRegData><RegistrationState>&foo;</RegistrationState></ClearwaterRegData>",
                "undefined entity",
            ),
        ] {
            match RegData::parse(xml) {
                Err(HssError::Invalid(reason)) => assert!(reason.contains(want), "{xml}: {reason}"),
                other => panic!("{xml}: {other:?}"),
            }
        }
    }
}
