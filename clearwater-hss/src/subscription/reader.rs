//! Parsing the documents with quick-xml's streaming reader.
//!
//! A [`Parser`] walks the event stream with the element structure of
//! TS 29.228 Annex E written out as one function per element type. Each
//! function is handed an element whose start tag has been read and consumes
//! it up to and including its end tag, through one of three primitives:
//! [`Parser::children`] (an element holding elements), [`Parser::text`] (an
//! element holding text) or [`Parser::skip`] (an element this crate does not
//! know, consumed without looking at it).

use std::str::FromStr;

use quick_xml::Reader;
use quick_xml::events::{BytesRef, Event};

use crate::HssError;

use super::model::{
    ApplicationServer, CoreNetworkServicesAuthorization, DefaultHandling, IdentityType,
    ImsSubscription, InitialFilterCriteria, ParseLimits, ProfilePartIndicator, PublicIdentity,
    RegistrationType, ServicePointTrigger, ServiceProfile, SessionCase, SharedIfcSet,
    SharedIfcSets, SptKind, TriggerPoint, first_non_xml_char, invalid, is_xml_whitespace,
};

/// The bytes of a document as UTF-8 text (a leading byte-order mark is
/// left for [`Parser::document`] to skip).
pub(super) fn utf8(bytes: &[u8]) -> Result<&str, HssError> {
    std::str::from_utf8(bytes).map_err(|e| {
        invalid(format!(
            "the document is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

pub(super) fn parse_subscription(
    xml: &str,
    limits: &ParseLimits,
) -> Result<ImsSubscription, HssError> {
    Parser::document(xml, limits, "IMSSubscription", subscription)
}

pub(super) fn parse_shared_ifc_sets(
    xml: &str,
    limits: &ParseLimits,
) -> Result<SharedIfcSets, HssError> {
    Parser::document(xml, limits, "SharedIFCSets", shared_ifc_sets)
}

struct Parser<'a> {
    reader: Reader<&'a [u8]>,
    limits: ParseLimits,
    /// Local names of the open elements, root first.
    path: Vec<String>,
    /// Whether only whitespace has been read so far (an XML declaration may
    /// still come; XML wants it first, whitespace before it is tolerated).
    at_start: bool,
}

impl<'a> Parser<'a> {
    /// Parses a whole document whose root element is `root`: prologue
    /// (declaration, comments, processing instructions), the root element
    /// through `body`, and an epilogue of comments and whitespace only.
    fn document<T>(
        xml: &'a str,
        limits: &ParseLimits,
        root: &str,
        body: impl FnOnce(&mut Self, bool) -> Result<T, HssError>,
    ) -> Result<T, HssError> {
        if xml.len() > limits.max_document_bytes {
            return Err(invalid(format!(
                "the document is {} bytes, more than the limit of {} (max_document_bytes)",
                xml.len(),
                limits.max_document_bytes
            )));
        }
        let xml = xml.strip_prefix('\u{FEFF}').unwrap_or(xml);
        let mut parser = Self {
            reader: Reader::from_str(xml),
            limits: *limits,
            path: Vec::new(),
            at_start: true,
        };
        let value = loop {
            // `next` has refused a declaration anywhere but at the start.
            match parser.next()? {
                Event::Decl(_) => {}
                Event::Start(e) => {
                    parser.root(e.local_name().as_ref(), root)?;
                    break body(&mut parser, false)?;
                }
                Event::Empty(e) => {
                    parser.root(e.local_name().as_ref(), root)?;
                    break body(&mut parser, true)?;
                }
                Event::Text(t) if t.chars().all(is_xml_whitespace) => {}
                Event::Eof => {
                    return Err(parser.error(format!("no <{root}> element: the document is empty")));
                }
                other => return Err(parser.unexpected(&other, "before the root element")),
            }
        };
        loop {
            match parser.next()? {
                Event::Eof => return Ok(value),
                Event::Text(t) if t.chars().all(is_xml_whitespace) => {}
                other => return Err(parser.unexpected(&other, "after the root element")),
            }
        }
    }

    fn root(&mut self, name: &str, expected: &str) -> Result<(), HssError> {
        if name != expected {
            return Err(self.error(format!(
                "the root element is <{name}>, expected <{expected}>"
            )));
        }
        self.enter(name)
    }

    /// The next event that matters: comments and processing instructions
    /// are dropped; a DOCTYPE, or an XML declaration after anything but
    /// whitespace, is refused.
    fn next(&mut self) -> Result<Event<'a>, HssError> {
        loop {
            let event = self.reader.read_event().map_err(|e| {
                invalid(format!(
                    "malformed XML at byte {}: {e}",
                    self.reader.error_position()
                ))
            })?;
            let declaration_allowed = self.at_start;
            if self.at_start {
                self.at_start =
                    matches!(&event, Event::Text(t) if t.chars().all(is_xml_whitespace));
            }
            match event {
                Event::Comment(_) | Event::PI(_) => {}
                Event::DocType(_) => {
                    return Err(self.error(
                        "a DOCTYPE is not allowed (DTDs and entity declarations are refused)",
                    ));
                }
                Event::Decl(_) if !declaration_allowed => {
                    return Err(self.error("an XML declaration is only allowed at the start"));
                }
                other => return Ok(other),
            }
        }
    }

    /// An `Invalid` error with the reason, where it happened (the open
    /// elements) and the byte offset.
    fn error(&self, reason: impl std::fmt::Display) -> HssError {
        let at = self.reader.buffer_position();
        if self.path.is_empty() {
            invalid(format!("{reason} (at byte {at})"))
        } else {
            invalid(format!(
                "{reason} (in {}, at byte {at})",
                self.path.join("/")
            ))
        }
    }

    fn unexpected(&self, event: &Event<'_>, place: &str) -> HssError {
        match event {
            Event::Start(e) | Event::Empty(e) => self.error(format!(
                "unexpected element <{}> {place}",
                e.local_name().as_ref()
            )),
            Event::End(e) => self.error(format!(
                "unexpected end tag </{}> {place}",
                e.local_name().as_ref()
            )),
            Event::Text(t) => self.error(format!("unexpected text {:?} {place}", snippet(t))),
            Event::CData(_) => self.error(format!("unexpected CDATA section {place}")),
            Event::GeneralRef(r) => {
                self.error(format!("unexpected reference &{}; {place}", snippet(r)))
            }
            Event::Decl(_) => self.error(format!("unexpected XML declaration {place}")),
            Event::DocType(_) => self.error(format!("unexpected DOCTYPE {place}")),
            Event::Comment(_) | Event::PI(_) => self.error(format!("unexpected markup {place}")),
            Event::Eof => self.error(format!("the document ends {place}")),
        }
    }

    fn truncated(&self) -> HssError {
        let open = self.path.last().map_or("", String::as_str);
        self.error(format!("the document ends inside <{open}>"))
    }

    /// Records that an element opened, enforcing the depth limit.
    fn enter(&mut self, name: &str) -> Result<(), HssError> {
        if self.path.len() >= self.limits.max_depth {
            return Err(self.error(format!(
                "elements nest deeper than the limit of {} (max_depth)",
                self.limits.max_depth
            )));
        }
        self.path.push(name.to_owned());
        Ok(())
    }

    fn leave(&mut self) {
        self.path.pop();
    }

    /// Consumes the content of the current element, which holds elements:
    /// `on_child` is called with each child's local name and whether it is
    /// an empty-element tag, and must either consume the child (through
    /// `children`, `text` or `skip`) and return `true`, or return `false`
    /// without reading anything, in which case the child is skipped.
    /// Non-whitespace text between the children is refused.
    fn children(
        &mut self,
        empty: bool,
        mut on_child: impl FnMut(&mut Self, &str, bool) -> Result<bool, HssError>,
    ) -> Result<(), HssError> {
        if empty {
            self.leave();
            return Ok(());
        }
        loop {
            match self.next()? {
                Event::Start(e) => {
                    let name = e.local_name();
                    self.enter(name.as_ref())?;
                    if !on_child(self, name.as_ref(), false)? {
                        self.skip(false)?;
                    }
                }
                Event::Empty(e) => {
                    let name = e.local_name();
                    self.enter(name.as_ref())?;
                    if !on_child(self, name.as_ref(), true)? {
                        self.skip(true)?;
                    }
                }
                Event::End(_) => {
                    self.leave();
                    return Ok(());
                }
                Event::Text(t) if t.chars().all(is_xml_whitespace) => {}
                Event::CData(c) if c.chars().all(is_xml_whitespace) => {}
                Event::Eof => return Err(self.truncated()),
                other => {
                    let parent = self.path.last().cloned().unwrap_or_default();
                    return Err(self
                        .unexpected(&other, &format!("in <{parent}>, which holds elements only")));
                }
            }
        }
    }

    /// Consumes the content of the current element, which holds text, and
    /// returns the text: references resolved, line ends normalised, literal
    /// leading and trailing whitespace removed (whitespace written as a
    /// character reference or in CDATA is kept).
    fn text(&mut self, empty: bool) -> Result<String, HssError> {
        let mut value = String::new();
        if empty {
            self.leave();
            return Ok(value);
        }
        // `value[..kept]` came (or ends with what came) from references or
        // CDATA and is never trimmed.
        let mut kept = 0;
        loop {
            match self.next()? {
                Event::Text(t) => {
                    let content = t.xml10_content();
                    if value.is_empty() {
                        value.push_str(content.trim_start_matches(is_xml_whitespace));
                    } else {
                        value.push_str(&content);
                    }
                }
                Event::GeneralRef(r) => {
                    value.push(self.resolve(&r)?);
                    kept = value.len();
                }
                Event::CData(c) => {
                    value.push_str(&c.xml10_content());
                    kept = value.len();
                }
                Event::End(_) => break,
                Event::Eof => return Err(self.truncated()),
                Event::Start(e) | Event::Empty(e) => {
                    let parent = self.path.last().cloned().unwrap_or_default();
                    return Err(self.error(format!(
                        "<{parent}> holds text only, but contains element <{}>",
                        e.local_name().as_ref()
                    )));
                }
                other => return Err(self.unexpected(&other, "in a text element")),
            }
            if value.len() > self.limits.max_value_bytes {
                return Err(self.error(format!(
                    "a text value is longer than the limit of {} bytes (max_value_bytes)",
                    self.limits.max_value_bytes
                )));
            }
        }
        let end = value.trim_end_matches(is_xml_whitespace).len().max(kept);
        value.truncate(end);
        if let Some(c) = first_non_xml_char(&value) {
            return Err(self.error(format!(
                "the text contains {c:?}, which XML 1.0 does not allow"
            )));
        }
        self.leave();
        Ok(value)
    }

    /// Resolves a character reference or one of the five predefined
    /// entities; any other entity is refused (there is no DTD to define it).
    fn resolve(&self, r: &BytesRef<'_>) -> Result<char, HssError> {
        match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            Ok(None) => match &**r {
                "lt" => Ok('<'),
                "gt" => Ok('>'),
                "amp" => Ok('&'),
                "apos" => Ok('\''),
                "quot" => Ok('"'),
                name => Err(self.error(format!(
                    "undefined entity &{};: only the five predefined entities and character references are allowed",
                    snippet(name)
                ))),
            },
            Err(e) => Err(self.error(format!(
                "bad character reference &{};: {e}",
                snippet(r)
            ))),
        }
    }

    /// Consumes the current element and everything in it unread, keeping
    /// the depth limit.
    fn skip(&mut self, empty: bool) -> Result<(), HssError> {
        if empty {
            self.leave();
            return Ok(());
        }
        let base = self.path.len();
        loop {
            match self.next()? {
                Event::Start(e) => self.enter(e.local_name().as_ref())?,
                Event::Empty(e) => {
                    self.enter(e.local_name().as_ref())?;
                    self.leave();
                }
                Event::End(_) => {
                    self.leave();
                    if self.path.len() < base {
                        return Ok(());
                    }
                }
                Event::Eof => return Err(self.truncated()),
                _ => {}
            }
        }
    }

    /// A text element whose value is parsed by `convert`, which returns the
    /// reason when the value is wrong.
    fn value<T>(
        &mut self,
        empty: bool,
        name: &str,
        convert: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, HssError> {
        let text = self.text(empty)?;
        convert(&text)
            .map_err(|reason| self.error(format!("<{name}> {:?} {reason}", snippet(&text))))
    }

    fn boolean(&mut self, empty: bool, name: &str) -> Result<bool, HssError> {
        self.value(empty, name, |text| match text {
            "0" | "false" => Ok(false),
            "1" | "true" => Ok(true),
            _ => Err("is not a boolean (0, 1, false or true)".to_owned()),
        })
    }

    fn number<T: FromStr>(&mut self, empty: bool, name: &str) -> Result<T, HssError> {
        self.value(empty, name, |text| {
            text.parse().map_err(|_| {
                if text.starts_with('-') {
                    "is negative".to_owned()
                } else if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
                    "is too large".to_owned()
                } else {
                    "is not a non-negative integer".to_owned()
                }
            })
        })
    }

    /// A coded enumeration: a number in `0..=max` turned into a value.
    fn code<T>(
        &mut self,
        empty: bool,
        name: &str,
        max: u8,
        from_code: impl FnOnce(u8) -> Option<T>,
    ) -> Result<T, HssError> {
        self.value(empty, name, |text| {
            text.parse::<u8>()
                .ok()
                .and_then(from_code)
                .ok_or_else(|| format!("is not one of the values 0 to {max}"))
        })
    }

    /// Reads the current `name` element, which may appear once, with `read`
    /// and stores its value in `slot`. A second one is refused once read
    /// (so a bad value in it is reported as such).
    fn once<T>(
        &mut self,
        slot: &mut Option<T>,
        name: &str,
        read: impl FnOnce(&mut Self) -> Result<T, HssError>,
    ) -> Result<(), HssError> {
        let value = read(self)?;
        if slot.is_some() {
            return Err(self.error(format!("<{name}> appears more than once")));
        }
        *slot = Some(value);
        Ok(())
    }

    /// Records an element that may appear once and holds elements.
    fn once_flag(&self, seen: &mut bool, name: &str) -> Result<(), HssError> {
        if *seen {
            return Err(self.error(format!("<{name}> appears more than once")));
        }
        *seen = true;
        Ok(())
    }

    /// Reads the current `name` element with `read` and appends its value
    /// to `list`, after refusing it if `list` already holds `max` (the
    /// [`ParseLimits`] field called `limit`).
    fn push<T>(
        &mut self,
        list: &mut Vec<T>,
        (max, limit): (usize, &str),
        name: &str,
        read: impl FnOnce(&mut Self) -> Result<T, HssError>,
    ) -> Result<(), HssError> {
        if list.len() >= max {
            return Err(self.error(format!("more than {max} <{name}> elements (limit {limit})")));
        }
        list.push(read(self)?);
        Ok(())
    }

    /// The error for a mandatory child that did not appear in `parent`.
    fn missing(&self, parent: &str, child: &str) -> HssError {
        self.error(format!("<{parent}> has no <{child}>"))
    }
}

/// The start of a value for an error message: at most 64 characters.
fn snippet(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

fn subscription(p: &mut Parser<'_>, empty: bool) -> Result<ImsSubscription, HssError> {
    let mut private_id = None;
    let mut service_profiles = Vec::new();
    p.children(empty, |p, name, empty| {
        match name {
            "PrivateID" => p.once(&mut private_id, name, |p| p.text(empty))?,
            "ServiceProfile" => {
                let limit = (p.limits.max_service_profiles, "max_service_profiles");
                p.push(&mut service_profiles, limit, name, |p| {
                    service_profile(p, empty)
                })?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let private_id = private_id.ok_or_else(|| p.missing("IMSSubscription", "PrivateID"))?;
    if service_profiles.is_empty() {
        return Err(p.missing("IMSSubscription", "ServiceProfile"));
    }
    Ok(ImsSubscription {
        private_id,
        service_profiles,
    })
}

fn service_profile(p: &mut Parser<'_>, empty: bool) -> Result<ServiceProfile, HssError> {
    let mut profile = ServiceProfile::default();
    let mut cnsa = None;
    let mut extension = false;
    p.children(empty, |p, name, empty| {
        match name {
            "PublicIdentity" => {
                let limit = (p.limits.max_public_identities, "max_public_identities");
                p.push(&mut profile.public_identities, limit, name, |p| {
                    public_identity(p, empty)
                })?;
            }
            "CoreNetworkServicesAuthorization" => p.once(&mut cnsa, name, |p| {
                core_network_services_authorization(p, empty)
            })?,
            "InitialFilterCriteria" => {
                let limit = (p.limits.max_ifcs, "max_ifcs");
                p.push(&mut profile.initial_filter_criteria, limit, name, |p| {
                    ifc(p, empty)
                })?;
            }
            "Extension" => {
                p.once_flag(&mut extension, name)?;
                let ids = &mut profile.shared_ifc_set_ids;
                p.children(empty, |p, name, empty| {
                    if name != "SharedIFCSetID" {
                        return Ok(false);
                    }
                    let limit = (p.limits.max_list_items, "max_list_items");
                    p.push(ids, limit, name, |p| p.number(empty, name))?;
                    Ok(true)
                })?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if profile.public_identities.is_empty() {
        return Err(p.missing("ServiceProfile", "PublicIdentity"));
    }
    profile.core_network_services_authorization = cnsa;
    Ok(profile)
}

fn core_network_services_authorization(
    p: &mut Parser<'_>,
    empty: bool,
) -> Result<CoreNetworkServicesAuthorization, HssError> {
    let mut media_profile = None;
    let mut service_ids = Vec::new();
    let mut extension = false;
    p.children(empty, |p, name, empty| {
        match name {
            "SubscribedMediaProfileId" => {
                p.once(&mut media_profile, name, |p| p.number(empty, name))?;
            }
            "Extension" => {
                p.once_flag(&mut extension, name)?;
                let mut list = false;
                p.children(empty, |p, name, empty| {
                    if name != "ListOfServiceIds" {
                        return Ok(false);
                    }
                    p.once_flag(&mut list, name)?;
                    p.children(empty, |p, name, empty| {
                        if name != "ServiceId" {
                            return Ok(false);
                        }
                        let limit = (p.limits.max_list_items, "max_list_items");
                        p.push(&mut service_ids, limit, name, |p| p.text(empty))?;
                        Ok(true)
                    })?;
                    Ok(true)
                })?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(CoreNetworkServicesAuthorization {
        subscribed_media_profile_id: media_profile,
        service_ids,
    })
}

fn public_identity(p: &mut Parser<'_>, empty: bool) -> Result<PublicIdentity, HssError> {
    let mut barring = None;
    let mut identity = None;
    let mut extensions = IdentityExtensions::default();
    let mut extension = false;
    p.children(empty, |p, name, empty| {
        match name {
            "BarringIndication" => p.once(&mut barring, name, |p| p.boolean(empty, name))?,
            "Identity" => p.once(&mut identity, name, |p| p.text(empty))?,
            "Extension" => {
                p.once_flag(&mut extension, name)?;
                identity_extension(p, empty, 1, &mut extensions)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let IdentityExtensions {
        identity_type,
        wildcarded_psi,
        display_name,
        alias_identity_group_id,
        wildcarded_impu,
    } = extensions;
    Ok(PublicIdentity {
        identity: identity.ok_or_else(|| p.missing("PublicIdentity", "Identity"))?,
        barring_indication: barring.unwrap_or(false),
        identity_type: identity_type.unwrap_or_default(),
        wildcarded_psi,
        display_name,
        alias_identity_group_id,
        wildcarded_impu,
    })
}

/// What the `Extension` chain of a `PublicIdentity` holds.
#[derive(Default)]
struct IdentityExtensions {
    identity_type: Option<IdentityType>,
    wildcarded_psi: Option<String>,
    display_name: Option<String>,
    alias_identity_group_id: Option<String>,
    wildcarded_impu: Option<String>,
}

/// The `Extension` of a `PublicIdentity` at nesting `level` (1 to 3):
/// `IdentityType` and `WildcardedPSI` at level 1, `DisplayName` and
/// `AliasIdentityGroupID` at level 2, `WildcardedIMPU` at level 3. Some
/// HSSs (and Clearwater's tests) put `WildcardedIMPU` one or two levels up,
/// so it is accepted at every level (once in all).
fn identity_extension(
    p: &mut Parser<'_>,
    empty: bool,
    level: u8,
    ext: &mut IdentityExtensions,
) -> Result<(), HssError> {
    let mut deeper = false;
    p.children(empty, |p, name, empty| {
        match (level, name) {
            (1, "IdentityType") => p.once(&mut ext.identity_type, name, |p| {
                p.number(empty, name).map(IdentityType)
            })?,
            (1, "WildcardedPSI") => p.once(&mut ext.wildcarded_psi, name, |p| p.text(empty))?,
            (2, "DisplayName") => p.once(&mut ext.display_name, name, |p| p.text(empty))?,
            (2, "AliasIdentityGroupID") => {
                p.once(&mut ext.alias_identity_group_id, name, |p| p.text(empty))?;
            }
            (_, "WildcardedIMPU") => p.once(&mut ext.wildcarded_impu, name, |p| p.text(empty))?,
            (1 | 2, "Extension") => {
                p.once_flag(&mut deeper, name)?;
                identity_extension(p, empty, level + 1, ext)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })
}

fn ifc(p: &mut Parser<'_>, empty: bool) -> Result<InitialFilterCriteria, HssError> {
    let mut priority = None;
    let mut trigger_point = None;
    let mut application_server = None;
    let mut profile_part = None;
    p.children(empty, |p, name, empty| {
        match name {
            "Priority" => p.once(&mut priority, name, |p| {
                p.value(empty, name, |text| match text.parse::<i64>() {
                    Ok(n) if n < 0 => Err("is negative".to_owned()),
                    Ok(n) => i32::try_from(n).map_err(|_| "is too large".to_owned()),
                    Err(_) => Err("is not an integer".to_owned()),
                })
            })?,
            "TriggerPoint" => p.once(&mut trigger_point, name, |p| trigger(p, empty))?,
            "ApplicationServer" => {
                p.once(&mut application_server, name, |p| app_server(p, empty))?;
            }
            "ProfilePartIndicator" => p.once(&mut profile_part, name, |p| {
                p.code(empty, name, 1, ProfilePartIndicator::from_code)
            })?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(InitialFilterCriteria {
        priority: priority.ok_or_else(|| p.missing("InitialFilterCriteria", "Priority"))?,
        trigger_point,
        application_server: application_server
            .ok_or_else(|| p.missing("InitialFilterCriteria", "ApplicationServer"))?,
        profile_part_indicator: profile_part,
    })
}

fn trigger(p: &mut Parser<'_>, empty: bool) -> Result<TriggerPoint, HssError> {
    let mut cnf = None;
    let mut spts = Vec::new();
    p.children(empty, |p, name, empty| {
        match name {
            "ConditionTypeCNF" => p.once(&mut cnf, name, |p| p.boolean(empty, name))?,
            "SPT" => {
                let limit = (p.limits.max_spts, "max_spts");
                p.push(&mut spts, limit, name, |p| spt(p, empty))?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(TriggerPoint {
        condition_type_cnf: cnf.ok_or_else(|| p.missing("TriggerPoint", "ConditionTypeCNF"))?,
        spts,
    })
}

fn spt(p: &mut Parser<'_>, empty: bool) -> Result<ServicePointTrigger, HssError> {
    let mut negated = None;
    let mut groups = Vec::new();
    // The condition and the name of the element it came from.
    let mut kind: Option<(SptKind, &'static str)> = None;
    let mut registration_types = Vec::new();
    let mut extension = false;
    p.children(empty, |p, name, empty| {
        let condition = match name {
            "ConditionNegated" => {
                p.once(&mut negated, name, |p| p.boolean(empty, name))?;
                return Ok(true);
            }
            "Group" => {
                let limit = (p.limits.max_list_items, "max_list_items");
                p.push(&mut groups, limit, name, |p| p.number(empty, name))?;
                return Ok(true);
            }
            "Extension" => {
                p.once_flag(&mut extension, name)?;
                p.children(empty, |p, name, empty| {
                    if name != "RegistrationType" {
                        return Ok(false);
                    }
                    let limit = (p.limits.max_list_items, "max_list_items");
                    p.push(&mut registration_types, limit, name, |p| {
                        p.code(empty, name, 2, RegistrationType::from_code)
                    })?;
                    Ok(true)
                })?;
                return Ok(true);
            }
            "RequestURI" => (SptKind::RequestUri(p.text(empty)?), "RequestURI"),
            "Method" => (SptKind::Method(p.text(empty)?), "Method"),
            "SessionCase" => {
                let case = p.code(empty, name, 4, SessionCase::from_code)?;
                (SptKind::SessionCase(case), "SessionCase")
            }
            "SIPHeader" => {
                let (header, content) = pair(p, empty, "SIPHeader", "Header")?;
                (SptKind::SipHeader { header, content }, "SIPHeader")
            }
            "SessionDescription" => {
                let (line, content) = pair(p, empty, "SessionDescription", "Line")?;
                (
                    SptKind::SessionDescription { line, content },
                    "SessionDescription",
                )
            }
            _ => return Ok(false),
        };
        if let Some((_, first)) = &kind {
            return Err(p.error(format!(
                "<SPT> holds both <{first}> and <{}>, but only one condition is allowed",
                condition.1
            )));
        }
        kind = Some(condition);
        Ok(true)
    })?;
    let (kind, _) = kind.ok_or_else(|| {
        p.error(
            "<SPT> has none of <RequestURI>, <Method>, <SIPHeader>, <SessionCase>, <SessionDescription>",
        )
    })?;
    if groups.is_empty() {
        return Err(p.missing("SPT", "Group"));
    }
    Ok(ServicePointTrigger {
        condition_negated: negated.unwrap_or(false),
        groups,
        kind,
        registration_types,
    })
}

/// `SIPHeader` (`Header`, `Content`) or `SessionDescription` (`Line`,
/// `Content`): a mandatory first element and an optional `Content`.
fn pair(
    p: &mut Parser<'_>,
    empty: bool,
    parent: &str,
    first: &str,
) -> Result<(String, Option<String>), HssError> {
    let mut head = None;
    let mut content = None;
    p.children(empty, |p, name, empty| {
        let slot = if name == first {
            &mut head
        } else if name == "Content" {
            &mut content
        } else {
            return Ok(false);
        };
        p.once(slot, name, |p| p.text(empty))?;
        Ok(true)
    })?;
    Ok((head.ok_or_else(|| p.missing(parent, first))?, content))
}

fn app_server(p: &mut Parser<'_>, empty: bool) -> Result<ApplicationServer, HssError> {
    let mut server_name = None;
    let mut default_handling = None;
    let mut service_info = None;
    let mut include_request = false;
    let mut include_response = false;
    let mut extension = false;
    p.children(empty, |p, name, empty| {
        match name {
            "ServerName" => p.once(&mut server_name, name, |p| p.text(empty))?,
            "DefaultHandling" => p.once(&mut default_handling, name, |p| {
                p.code(empty, name, 1, DefaultHandling::from_code)
            })?,
            "ServiceInfo" => p.once(&mut service_info, name, |p| p.text(empty))?,
            "Extension" => {
                p.once_flag(&mut extension, name)?;
                p.children(empty, |p, name, empty| {
                    let flag = match name {
                        "IncludeRegisterRequest" => &mut include_request,
                        "IncludeRegisterResponse" => &mut include_response,
                        _ => return Ok(false),
                    };
                    p.once_flag(flag, name)?;
                    p.value(empty, name, |text| {
                        if text.is_empty() {
                            Ok(())
                        } else {
                            Err("must be empty".to_owned())
                        }
                    })?;
                    Ok(true)
                })?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(ApplicationServer {
        server_name: server_name.ok_or_else(|| p.missing("ApplicationServer", "ServerName"))?,
        default_handling: default_handling.unwrap_or_default(),
        service_info,
        include_register_request: include_request,
        include_register_response: include_response,
    })
}

fn shared_ifc_sets(p: &mut Parser<'_>, empty: bool) -> Result<SharedIfcSets, HssError> {
    let mut sets = Vec::new();
    p.children(empty, |p, name, empty| {
        if name != "SharedIFCSet" {
            return Ok(false);
        }
        let limit = (p.limits.max_shared_ifc_sets, "max_shared_ifc_sets");
        p.push(&mut sets, limit, name, |p| shared_ifc_set(p, empty))?;
        Ok(true)
    })?;
    Ok(SharedIfcSets { sets })
}

fn shared_ifc_set(p: &mut Parser<'_>, empty: bool) -> Result<SharedIfcSet, HssError> {
    let mut set_id = None;
    let mut ifcs = Vec::new();
    p.children(empty, |p, name, empty| {
        match name {
            "SetID" => p.once(&mut set_id, name, |p| p.number(empty, name))?,
            "InitialFilterCriteria" => {
                let limit = (p.limits.max_ifcs, "max_ifcs");
                p.push(&mut ifcs, limit, name, |p| ifc(p, empty))?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(SharedIfcSet {
        set_id: set_id.ok_or_else(|| p.missing("SharedIFCSet", "SetID"))?,
        initial_filter_criteria: ifcs,
    })
}
