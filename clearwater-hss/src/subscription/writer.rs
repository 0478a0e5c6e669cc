//! Writing the documents: straight into one `String`, two spaces of
//! indentation per level, the layout quick-xml's indenting writer gives
//! (which this module replaced: it allocated per element and made writing
//! a 6 KB subscription cost ≈ 15 µs).

use std::fmt::Write as _;

use super::model::{
    ApplicationServer, CoreNetworkServicesAuthorization, ImsSubscription, InitialFilterCriteria,
    PublicIdentity, ServicePointTrigger, ServiceProfile, SharedIfcSets, SptKind, TriggerPoint,
    is_xml_char, is_xml_whitespace,
};

pub(super) fn subscription_to_xml(subscription: &ImsSubscription) -> String {
    let mut w = Out::document(1024 + 1024 * subscription.service_profiles.len());
    w.open(
        "IMSSubscription",
        " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:noNamespaceSchemaLocation=\"CxDataType.xsd\"",
    );
    w.leaf("PrivateID", &subscription.private_id);
    for profile in &subscription.service_profiles {
        service_profile(&mut w, profile);
    }
    w.close("IMSSubscription");
    w.finish()
}

pub(super) fn shared_ifc_sets_to_xml(sets: &SharedIfcSets) -> String {
    let mut w = Out::document(1024);
    w.open("SharedIFCSets", "");
    for set in &sets.sets {
        w.open("SharedIFCSet", "");
        w.number("SetID", set.set_id);
        for ifc in &set.initial_filter_criteria {
            initial_filter_criteria(&mut w, ifc);
        }
        w.close("SharedIFCSet");
    }
    w.close("SharedIFCSets");
    w.finish()
}

/// The document being written and the current depth.
struct Out {
    s: String,
    depth: usize,
}

impl Out {
    /// A document starting with the XML declaration.
    fn document(capacity: usize) -> Out {
        let mut s = String::with_capacity(capacity);
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        Out { s, depth: 0 }
    }

    /// The document, ending with a line feed.
    fn finish(mut self) -> String {
        self.s.push('\n');
        self.s
    }

    /// A new line indented to the current depth.
    fn line(&mut self) {
        self.s.push('\n');
        for _ in 0..self.depth {
            self.s.push_str("  ");
        }
    }

    /// `<name attributes>` on a new line; what follows is one level deeper.
    fn open(&mut self, name: &str, attributes: &str) {
        self.line();
        self.s.push('<');
        self.s.push_str(name);
        self.s.push_str(attributes);
        self.s.push('>');
        self.depth += 1;
    }

    /// `</name>` on a new line (an element opened with [`Out::open`] holds
    /// elements, or nothing).
    fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.line();
        self.s.push_str("</");
        self.s.push_str(name);
        self.s.push('>');
    }

    /// `<name>` + what `text` writes + `</name>` on one line.
    fn text_element(&mut self, name: &str, text: impl FnOnce(&mut String)) {
        self.line();
        self.s.push('<');
        self.s.push_str(name);
        self.s.push('>');
        text(&mut self.s);
        self.s.push_str("</");
        self.s.push_str(name);
        self.s.push('>');
    }

    /// A text element holding `value`, escaped.
    fn leaf(&mut self, name: &str, value: &str) {
        self.text_element(name, |s| escape_into(s, value));
    }

    fn optional(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.leaf(name, value);
        }
    }

    /// A text element holding a number.
    fn number(&mut self, name: &str, value: impl std::fmt::Display) {
        // Writing into a `String` cannot fail.
        self.text_element(name, |s| {
            let _ = write!(s, "{value}");
        });
    }

    fn boolean(&mut self, name: &str, value: bool) {
        self.text_element(name, |s| s.push(if value { '1' } else { '0' }));
    }

    /// `<name/>` on a new line.
    fn empty(&mut self, name: &str) {
        self.line();
        self.s.push('<');
        self.s.push_str(name);
        self.s.push_str("/>");
    }
}

fn service_profile(w: &mut Out, profile: &ServiceProfile) {
    w.open("ServiceProfile", "");
    for identity in &profile.public_identities {
        public_identity(w, identity);
    }
    if let Some(cnsa) = &profile.core_network_services_authorization {
        core_network_services_authorization(w, cnsa);
    }
    for ifc in &profile.initial_filter_criteria {
        initial_filter_criteria(w, ifc);
    }
    if !profile.shared_ifc_set_ids.is_empty() {
        w.open("Extension", "");
        for id in &profile.shared_ifc_set_ids {
            w.number("SharedIFCSetID", *id);
        }
        w.close("Extension");
    }
    w.close("ServiceProfile");
}

fn public_identity(w: &mut Out, id: &PublicIdentity) {
    w.open("PublicIdentity", "");
    w.boolean("BarringIndication", id.barring_indication);
    w.leaf("Identity", &id.identity);
    w.open("Extension", "");
    w.number("IdentityType", id.identity_type.0);
    w.optional("WildcardedPSI", id.wildcarded_psi.as_deref());
    let level2 = id.display_name.is_some()
        || id.alias_identity_group_id.is_some()
        || id.wildcarded_impu.is_some();
    if level2 {
        w.open("Extension", "");
        w.optional("DisplayName", id.display_name.as_deref());
        w.optional(
            "AliasIdentityGroupID",
            id.alias_identity_group_id.as_deref(),
        );
        if let Some(impu) = &id.wildcarded_impu {
            w.open("Extension", "");
            w.leaf("WildcardedIMPU", impu);
            w.close("Extension");
        }
        w.close("Extension");
    }
    w.close("Extension");
    w.close("PublicIdentity");
}

fn core_network_services_authorization(w: &mut Out, cnsa: &CoreNetworkServicesAuthorization) {
    w.open("CoreNetworkServicesAuthorization", "");
    if let Some(id) = cnsa.subscribed_media_profile_id {
        w.number("SubscribedMediaProfileId", id);
    }
    if !cnsa.service_ids.is_empty() {
        w.open("Extension", "");
        w.open("ListOfServiceIds", "");
        for service_id in &cnsa.service_ids {
            w.leaf("ServiceId", service_id);
        }
        w.close("ListOfServiceIds");
        w.close("Extension");
    }
    w.close("CoreNetworkServicesAuthorization");
}

fn initial_filter_criteria(w: &mut Out, ifc: &InitialFilterCriteria) {
    w.open("InitialFilterCriteria", "");
    w.number("Priority", ifc.priority);
    if let Some(tp) = &ifc.trigger_point {
        trigger_point(w, tp);
    }
    application_server(w, &ifc.application_server);
    if let Some(part) = ifc.profile_part_indicator {
        w.number("ProfilePartIndicator", part.code());
    }
    w.close("InitialFilterCriteria");
}

fn trigger_point(w: &mut Out, tp: &TriggerPoint) {
    w.open("TriggerPoint", "");
    w.boolean("ConditionTypeCNF", tp.condition_type_cnf);
    for spt in &tp.spts {
        service_point_trigger(w, spt);
    }
    w.close("TriggerPoint");
}

fn service_point_trigger(w: &mut Out, spt: &ServicePointTrigger) {
    w.open("SPT", "");
    w.boolean("ConditionNegated", spt.condition_negated);
    for group in &spt.groups {
        w.number("Group", *group);
    }
    match &spt.kind {
        SptKind::RequestUri(uri) => w.leaf("RequestURI", uri),
        SptKind::Method(method) => w.leaf("Method", method),
        SptKind::SipHeader { header, content } => {
            w.open("SIPHeader", "");
            w.leaf("Header", header);
            w.optional("Content", content.as_deref());
            w.close("SIPHeader");
        }
        SptKind::SessionCase(case) => w.number("SessionCase", case.code()),
        SptKind::SessionDescription { line, content } => {
            w.open("SessionDescription", "");
            w.leaf("Line", line);
            w.optional("Content", content.as_deref());
            w.close("SessionDescription");
        }
    }
    if !spt.registration_types.is_empty() {
        w.open("Extension", "");
        for registration_type in &spt.registration_types {
            w.number("RegistrationType", registration_type.code());
        }
        w.close("Extension");
    }
    w.close("SPT");
}

fn application_server(w: &mut Out, app: &ApplicationServer) {
    w.open("ApplicationServer", "");
    w.leaf("ServerName", &app.server_name);
    w.number("DefaultHandling", app.default_handling.code());
    w.optional("ServiceInfo", app.service_info.as_deref());
    if app.include_register_request || app.include_register_response {
        w.open("Extension", "");
        if app.include_register_request {
            w.empty("IncludeRegisterRequest");
        }
        if app.include_register_response {
            w.empty("IncludeRegisterResponse");
        }
        w.close("Extension");
    }
    w.close("ApplicationServer");
}

/// Escapes text content so that the reader gives back exactly `value`:
/// `&`, `<` and `>` as entities; carriage returns (which XML line-end
/// normalisation would turn into line feeds), leading and trailing
/// whitespace (which the reader trims) and characters XML 1.0 does not
/// allow as character references. The reader refuses the last kind, so
/// [`ImsSubscription::validate`](super::ImsSubscription::validate) does
/// too.
fn escape_into(out: &mut String, value: &str) {
    let lead = value.len() - value.trim_start_matches(is_xml_whitespace).len();
    let trail = value.trim_end_matches(is_xml_whitespace).len();
    // Most values need nothing: copy them whole.
    if lead == 0
        && trail == value.len()
        && !value
            .bytes()
            .any(|b| matches!(b, b'&' | b'<' | b'>' | b'\r') || !(0x20..0x80).contains(&b))
    {
        out.push_str(value);
        return;
    }
    for (i, c) in value.char_indices() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if (i < lead || i >= trail) && is_xml_whitespace(c) => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            c if !is_xml_char(c) => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            c => out.push(c),
        }
    }
}
