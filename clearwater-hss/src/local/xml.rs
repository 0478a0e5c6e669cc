//! The XML fragments the provisioning API takes (a `<PublicIdentity>`
//! element, a `<ServiceProfile>` with filter criteria) and the IMS
//! subscription document built from them.
//!
//! Fragments are stored as text, as Clearwater does, and validated by the
//! subscription parser at provisioning time: each is wrapped in a minimal
//! `IMSSubscription` and parsed, so anything stored is known to parse
//! again when the subscription is assembled for a SAR.

use std::fmt::Write as _;
use std::ops::Range;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::subscription::{ImsSubscription, ParseLimits, ProfilePartIndicator, PublicIdentity};

use super::ProvisioningError;

/// The private id of the wrapper documents used for validation.
const PLACEHOLDER_PRIVATE_ID: &str = "placeholder@validation.invalid";
/// The public identity added to a filter criteria fragment for validation
/// (a `ServiceProfile` must have one).
const PLACEHOLDER_IDENTITY: &str = "sip:placeholder@validation.invalid";

/// One top-level element of a fragment.
struct Element {
    name: String,
    /// The whole element.
    outer: Range<usize>,
    /// Its content (empty for `<x/>`).
    inner: Range<usize>,
}

fn invalid(reason: impl Into<String>) -> ProvisioningError {
    ProvisioningError::Invalid(reason.into())
}

/// The top-level elements of `xml`, which may start with a byte-order
/// mark and an XML declaration and may hold comments, processing
/// instructions and whitespace between elements; anything else outside
/// the elements (text, a DOCTYPE) is refused, as is malformed XML.
fn top_elements(xml: &str) -> Result<(usize, Vec<Element>), ProvisioningError> {
    let offset = if xml.starts_with('\u{feff}') { 3 } else { 0 };
    let text = &xml[offset..];
    let mut reader = Reader::from_str(text);
    let mut depth = 0usize;
    let mut elements = Vec::new();
    let mut open: Option<(String, usize, usize)> = None;
    let mut first = true;
    loop {
        let before = position(&reader);
        let event = reader.read_event().map_err(|e| {
            invalid(format!(
                "malformed XML at byte {}: {e}",
                reader.error_position() as usize + offset
            ))
        })?;
        let after = position(&reader);
        let is_first = std::mem::replace(&mut first, false);
        match event {
            Event::Start(start) => {
                if depth == 0 {
                    open = Some((start.local_name().as_ref().to_owned(), before, after));
                }
                depth += 1;
            }
            Event::End(_) => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| invalid(format!("unexpected end tag at byte {before}")))?;
                if depth == 0
                    && let Some((name, start, inner_start)) = open.take()
                {
                    elements.push(Element {
                        name,
                        outer: start..after,
                        inner: inner_start..before,
                    });
                }
            }
            Event::Empty(start) if depth == 0 => elements.push(Element {
                name: start.local_name().as_ref().to_owned(),
                outer: before..after,
                inner: after..after,
            }),
            Event::Text(t) if depth == 0 => {
                if !t.chars().all(|c| c.is_ascii_whitespace()) {
                    return Err(invalid(format!(
                        "text outside the XML elements at byte {}",
                        before + offset
                    )));
                }
                first = is_first;
            }
            Event::CData(_) | Event::GeneralRef(_) if depth == 0 => {
                return Err(invalid(format!(
                    "text outside the XML elements at byte {}",
                    before + offset
                )));
            }
            Event::Decl(_) if !is_first => {
                return Err(invalid("the XML declaration must come first"));
            }
            Event::DocType(_) => return Err(invalid("a DOCTYPE is not allowed")),
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err(invalid("the XML ends inside an element"));
    }
    Ok((offset, elements))
}

fn position(reader: &Reader<&[u8]>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

/// Escapes text for element content. The identities written this way are
/// checked to hold no whitespace or control characters.
pub(crate) fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Limits for the documents assembled here: those of the provisioning
/// limits (checked before anything is stored) are tighter, except the
/// document size, which grows with the number of profiles.
fn assembled_limits() -> ParseLimits {
    ParseLimits {
        max_document_bytes: 64 * 1024 * 1024,
        ..ParseLimits::default()
    }
}

fn parse(document: &str, what: &str) -> Result<ImsSubscription, ProvisioningError> {
    ImsSubscription::parse_with_limits(document, &assembled_limits()).map_err(|e| match e {
        crate::HssError::Invalid(reason) => invalid(format!("invalid {what}: {reason}")),
        other => invalid(format!("invalid {what}: {other}")),
    })
}

/// A validated `<PublicIdentity>` element: its text (without declaration)
/// and its parsed form.
pub(crate) fn public_identity(xml: &str) -> Result<(String, PublicIdentity), ProvisioningError> {
    let (offset, elements) = top_elements(xml)?;
    let element = match elements.as_slice() {
        [one] if one.name == "PublicIdentity" => one,
        [] => return Err(invalid("the body holds no <PublicIdentity> element")),
        [one] => {
            return Err(invalid(format!(
                "expected a <PublicIdentity> element, found <{}>",
                one.name
            )));
        }
        _ => {
            return Err(invalid(
                "the body must hold exactly one <PublicIdentity> element",
            ));
        }
    };
    let text = &xml[offset..][element.outer.clone()];
    let document = format!(
        "<IMSSubscription><PrivateID>{PLACEHOLDER_PRIVATE_ID}</PrivateID>\
         <ServiceProfile>{text}</ServiceProfile></IMSSubscription>"
    );
    let mut subscription = parse(&document, "<PublicIdentity>")?;
    let identity = subscription
        .service_profiles
        .pop()
        .and_then(|mut p| p.public_identities.pop())
        .ok_or_else(|| invalid("the body holds no <PublicIdentity> element"))?;
    Ok((text.to_owned(), identity))
}

/// Validated filter criteria: the content to store inside
/// `<ServiceProfile>`, and whether it has services for the unregistered
/// state. Accepts a `<ServiceProfile>` element (Clearwater's form) or a
/// list of `<InitialFilterCriteria>` elements.
pub(crate) fn filter_criteria(xml: &str) -> Result<(String, bool), ProvisioningError> {
    let (offset, elements) = top_elements(xml)?;
    let text = &xml[offset..];
    let inner = match elements.as_slice() {
        [] => {
            return Err(invalid(
                "the body holds no <ServiceProfile> or <InitialFilterCriteria> element",
            ));
        }
        [one] if one.name == "ServiceProfile" => &text[one.inner.clone()],
        [first, ..] if elements.iter().all(|e| e.name == "InitialFilterCriteria") => {
            let end = elements.last().map_or(first.outer.end, |e| e.outer.end);
            &text[first.outer.start..end]
        }
        _ => {
            return Err(invalid(
                "expected one <ServiceProfile> element or <InitialFilterCriteria> elements",
            ));
        }
    };
    let document = format!(
        "<IMSSubscription><PrivateID>{PLACEHOLDER_PRIVATE_ID}</PrivateID><ServiceProfile>\
         <PublicIdentity><Identity>{PLACEHOLDER_IDENTITY}</Identity></PublicIdentity>\
         {inner}</ServiceProfile></IMSSubscription>"
    );
    let subscription = parse(&document, "filter criteria")?;
    let profile = subscription
        .service_profiles
        .first()
        .ok_or_else(|| invalid("no <ServiceProfile>"))?;
    if profile.public_identities.len() != 1 {
        return Err(invalid(
            "<PublicIdentity> elements do not belong in filter criteria: \
             provision them under .../public_ids/<identity>",
        ));
    }
    let unregistered = !profile.shared_ifc_set_ids.is_empty()
        || profile
            .initial_filter_criteria
            .iter()
            .any(|ifc| ifc.profile_part_indicator != Some(ProfilePartIndicator::Registered));
    Ok((inner.to_owned(), unregistered))
}

/// The `<ServiceProfile>` document returned for stored filter criteria.
pub(crate) fn filter_criteria_document(inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceProfile>{inner}</ServiceProfile>\n"
    )
}

/// The `<PublicIdentity>` element for a plain, unbarred identity.
pub(crate) fn plain_public_identity(identity: &str) -> String {
    format!(
        "<PublicIdentity><Identity>{}</Identity></PublicIdentity>",
        escape(identity)
    )
}

/// One profile of an assembled subscription: its public identity elements
/// and its stored filter criteria content.
pub(crate) struct ProfileParts<'a> {
    pub(crate) public_ids: Vec<&'a str>,
    pub(crate) ifc: Option<&'a str>,
}

/// Assembles and parses the IMS subscription of `private_id` with
/// `profiles` (those without public identities are left out, as a
/// `ServiceProfile` must have one).
pub(crate) fn subscription(
    private_id: &str,
    profiles: &[ProfileParts<'_>],
) -> Result<ImsSubscription, ProvisioningError> {
    let mut doc = String::with_capacity(256);
    doc.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?><IMSSubscription><PrivateID>");
    doc.push_str(&escape(private_id));
    doc.push_str("</PrivateID>");
    for profile in profiles.iter().filter(|p| !p.public_ids.is_empty()) {
        doc.push_str("<ServiceProfile>");
        for id in &profile.public_ids {
            doc.push_str(id);
        }
        if let Some(ifc) = profile.ifc {
            doc.push_str(ifc);
        }
        doc.push_str("</ServiceProfile>");
    }
    let _ = write!(doc, "</IMSSubscription>");
    parse(&doc, "stored subscription")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn reason(r: Result<impl std::fmt::Debug, ProvisioningError>) -> String {
        match r {
            Err(ProvisioningError::Invalid(reason)) => reason,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn public_identity_fragments() {
        let (text, id) = public_identity(
            "\u{feff}<?xml version=\"1.0\"?>\n<!-- c --><PublicIdentity>\
             <BarringIndication>1</BarringIndication>\
             <Identity>sip:a&amp;b@example.net</Identity></PublicIdentity>\n",
        )
        .unwrap();
        assert!(text.starts_with("<PublicIdentity>") && text.ends_with("</PublicIdentity>"));
        assert_eq!(id.identity, "sip:a&b@example.net");
        assert!(id.barring_indication);

        for (bad, needle) in [
            ("", "no <PublicIdentity>"),
            ("<Identity>x</Identity>", "found <Identity>"),
            (
                "<PublicIdentity><Identity>a</Identity></PublicIdentity>\
                 <PublicIdentity><Identity>b</Identity></PublicIdentity>",
                "exactly one",
            ),
            ("<PublicIdentity><Identity>a</Identity>", "ends inside"),
            (
                "<PublicIdentity><Identity>a</Identity></PublicIdentity>x",
                "text outside",
            ),
            ("<PublicIdentity></PublicIdentity>", "Identity"),
            (
                "<!DOCTYPE x [<!ENTITY e \"v\">]><PublicIdentity/>",
                "DOCTYPE",
            ),
            (
                "<PublicIdentity><Identity>a</Identity></ServiceProfile>",
                "malformed",
            ),
            // A fragment cannot close the wrapper and open a second profile.
            (
                "<PublicIdentity><Identity>a</Identity></PublicIdentity></ServiceProfile>\
                 <ServiceProfile><PublicIdentity><Identity>b</Identity></PublicIdentity>",
                "",
            ),
        ] {
            let r = reason(public_identity(bad));
            assert!(r.contains(needle), "{bad}: {r}");
        }
    }

    #[test]
    fn filter_criteria_fragments() {
        let ifc = "<InitialFilterCriteria><Priority>1</Priority>\
                   <ApplicationServer><ServerName>sip:as@example.net</ServerName>\
                   </ApplicationServer><ProfilePartIndicator>0</ProfilePartIndicator>\
                   </InitialFilterCriteria>";
        let (inner, unreg) = filter_criteria(&format!(
            "<?xml version=\"1.0\"?><ServiceProfile>{ifc}</ServiceProfile>"
        ))
        .unwrap();
        assert_eq!(inner, ifc);
        assert!(!unreg, "registered-only iFC");
        let (inner, _) = filter_criteria(&format!("{ifc}\n{ifc}")).unwrap();
        assert_eq!(inner, format!("{ifc}\n{ifc}"));
        let (_, unreg) =
            filter_criteria(&ifc.replace("<ProfilePartIndicator>0</ProfilePartIndicator>", ""))
                .unwrap();
        assert!(unreg);
        let (inner, unreg) = filter_criteria("<ServiceProfile/>").unwrap();
        assert!(inner.is_empty() && !unreg);

        assert!(reason(filter_criteria("")).contains("no <ServiceProfile>"));
        assert!(reason(filter_criteria("<Foo/>")).contains("expected one"));
        assert!(
            reason(filter_criteria(
                "<ServiceProfile><PublicIdentity><Identity>sip:x@y</Identity>\
                 </PublicIdentity></ServiceProfile>"
            ))
            .contains("do not belong")
        );
        assert!(
            reason(filter_criteria(
                "<ServiceProfile><InitialFilterCriteria><Priority>1</Priority>\
                 </InitialFilterCriteria></ServiceProfile>"
            ))
            .contains("ApplicationServer")
        );
    }

    #[test]
    fn assembled_subscription() {
        let a = plain_public_identity("sip:a@example.net");
        let b = plain_public_identity("tel:+1<2>&3");
        let sub = subscription(
            "a&b@example.net",
            &[
                ProfileParts {
                    public_ids: vec![&a, &b],
                    ifc: None,
                },
                ProfileParts {
                    public_ids: vec![],
                    ifc: None,
                },
            ],
        )
        .unwrap();
        assert_eq!(sub.private_id, "a&b@example.net");
        assert_eq!(sub.service_profiles.len(), 1);
        assert_eq!(
            sub.service_profiles[0].public_identities[1].identity,
            "tel:+1<2>&3"
        );
    }
}
