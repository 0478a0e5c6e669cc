//! Writing the documents with quick-xml's writer.

use std::fmt::Write as _;
use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::model::{
    ApplicationServer, CoreNetworkServicesAuthorization, ImsSubscription, InitialFilterCriteria,
    PublicIdentity, ServicePointTrigger, ServiceProfile, SharedIfcSets, SptKind, TriggerPoint,
    is_xml_char, is_xml_whitespace,
};

type XmlWriter = Writer<Vec<u8>>;

pub(super) fn subscription_to_xml(subscription: &ImsSubscription) -> String {
    document(|w| {
        w.create_element("IMSSubscription")
            .with_attribute(("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"))
            .with_attribute(("xsi:noNamespaceSchemaLocation", "CxDataType.xsd"))
            .write_inner_content(|w| {
                leaf(w, "PrivateID", &subscription.private_id)?;
                for profile in &subscription.service_profiles {
                    service_profile(w, profile)?;
                }
                Ok(())
            })?;
        Ok(())
    })
}

pub(super) fn shared_ifc_sets_to_xml(sets: &SharedIfcSets) -> String {
    document(|w| {
        element(w, "SharedIFCSets", |w| {
            for set in &sets.sets {
                element(w, "SharedIFCSet", |w| {
                    number(w, "SetID", set.set_id)?;
                    for ifc in &set.initial_filter_criteria {
                        initial_filter_criteria(w, ifc)?;
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })
    })
}

/// The XML declaration, then what `body` writes, indented by two spaces.
fn document(body: impl FnOnce(&mut XmlWriter) -> io::Result<()>) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let written = w
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .and_then(|()| body(&mut w));
    // Writing to a `Vec<u8>` cannot fail, and only `&str` text goes in.
    if written.is_err() {
        return String::new();
    }
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn service_profile(w: &mut XmlWriter, profile: &ServiceProfile) -> io::Result<()> {
    element(w, "ServiceProfile", |w| {
        for identity in &profile.public_identities {
            public_identity(w, identity)?;
        }
        if let Some(cnsa) = &profile.core_network_services_authorization {
            core_network_services_authorization(w, cnsa)?;
        }
        for ifc in &profile.initial_filter_criteria {
            initial_filter_criteria(w, ifc)?;
        }
        if !profile.shared_ifc_set_ids.is_empty() {
            element(w, "Extension", |w| {
                for id in &profile.shared_ifc_set_ids {
                    number(w, "SharedIFCSetID", *id)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    })
}

fn public_identity(w: &mut XmlWriter, id: &PublicIdentity) -> io::Result<()> {
    element(w, "PublicIdentity", |w| {
        boolean(w, "BarringIndication", id.barring_indication)?;
        leaf(w, "Identity", &id.identity)?;
        element(w, "Extension", |w| {
            number(w, "IdentityType", id.identity_type.0)?;
            optional(w, "WildcardedPSI", id.wildcarded_psi.as_deref())?;
            let level2 = id.display_name.is_some()
                || id.alias_identity_group_id.is_some()
                || id.wildcarded_impu.is_some();
            if level2 {
                element(w, "Extension", |w| {
                    optional(w, "DisplayName", id.display_name.as_deref())?;
                    optional(
                        w,
                        "AliasIdentityGroupID",
                        id.alias_identity_group_id.as_deref(),
                    )?;
                    if let Some(impu) = &id.wildcarded_impu {
                        element(w, "Extension", |w| leaf(w, "WildcardedIMPU", impu))?;
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })
    })
}

fn core_network_services_authorization(
    w: &mut XmlWriter,
    cnsa: &CoreNetworkServicesAuthorization,
) -> io::Result<()> {
    element(w, "CoreNetworkServicesAuthorization", |w| {
        if let Some(id) = cnsa.subscribed_media_profile_id {
            number(w, "SubscribedMediaProfileId", id)?;
        }
        if !cnsa.service_ids.is_empty() {
            element(w, "Extension", |w| {
                element(w, "ListOfServiceIds", |w| {
                    for service_id in &cnsa.service_ids {
                        leaf(w, "ServiceId", service_id)?;
                    }
                    Ok(())
                })
            })?;
        }
        Ok(())
    })
}

fn initial_filter_criteria(w: &mut XmlWriter, ifc: &InitialFilterCriteria) -> io::Result<()> {
    element(w, "InitialFilterCriteria", |w| {
        number(w, "Priority", ifc.priority)?;
        if let Some(tp) = &ifc.trigger_point {
            trigger_point(w, tp)?;
        }
        application_server(w, &ifc.application_server)?;
        if let Some(part) = ifc.profile_part_indicator {
            number(w, "ProfilePartIndicator", part.code())?;
        }
        Ok(())
    })
}

fn trigger_point(w: &mut XmlWriter, tp: &TriggerPoint) -> io::Result<()> {
    element(w, "TriggerPoint", |w| {
        boolean(w, "ConditionTypeCNF", tp.condition_type_cnf)?;
        for spt in &tp.spts {
            service_point_trigger(w, spt)?;
        }
        Ok(())
    })
}

fn service_point_trigger(w: &mut XmlWriter, spt: &ServicePointTrigger) -> io::Result<()> {
    element(w, "SPT", |w| {
        boolean(w, "ConditionNegated", spt.condition_negated)?;
        for group in &spt.groups {
            number(w, "Group", *group)?;
        }
        match &spt.kind {
            SptKind::RequestUri(uri) => leaf(w, "RequestURI", uri)?,
            SptKind::Method(method) => leaf(w, "Method", method)?,
            SptKind::SipHeader { header, content } => element(w, "SIPHeader", |w| {
                leaf(w, "Header", header)?;
                optional(w, "Content", content.as_deref())
            })?,
            SptKind::SessionCase(case) => number(w, "SessionCase", case.code())?,
            SptKind::SessionDescription { line, content } => {
                element(w, "SessionDescription", |w| {
                    leaf(w, "Line", line)?;
                    optional(w, "Content", content.as_deref())
                })?;
            }
        }
        if !spt.registration_types.is_empty() {
            element(w, "Extension", |w| {
                for registration_type in &spt.registration_types {
                    number(w, "RegistrationType", registration_type.code())?;
                }
                Ok(())
            })?;
        }
        Ok(())
    })
}

fn application_server(w: &mut XmlWriter, app: &ApplicationServer) -> io::Result<()> {
    element(w, "ApplicationServer", |w| {
        leaf(w, "ServerName", &app.server_name)?;
        number(w, "DefaultHandling", app.default_handling.code())?;
        optional(w, "ServiceInfo", app.service_info.as_deref())?;
        if app.include_register_request || app.include_register_response {
            element(w, "Extension", |w| {
                if app.include_register_request {
                    w.create_element("IncludeRegisterRequest").write_empty()?;
                }
                if app.include_register_response {
                    w.create_element("IncludeRegisterResponse").write_empty()?;
                }
                Ok(())
            })?;
        }
        Ok(())
    })
}

/// An element holding what `content` writes.
fn element(
    w: &mut XmlWriter,
    name: &str,
    content: impl FnOnce(&mut XmlWriter) -> io::Result<()>,
) -> io::Result<()> {
    w.create_element(name).write_inner_content(content)?;
    Ok(())
}

/// A text element holding `value`.
fn leaf(w: &mut XmlWriter, name: &str, value: &str) -> io::Result<()> {
    number(w, name, escape(value))
}

fn optional(w: &mut XmlWriter, name: &str, value: Option<&str>) -> io::Result<()> {
    match value {
        Some(value) => leaf(w, name, value),
        None => Ok(()),
    }
}

/// A text element holding `value` written out as it is: numbers, or text
/// already [escaped](escape).
fn number(w: &mut XmlWriter, name: &str, value: impl std::fmt::Display) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::from_escaped(value.to_string()))?;
    Ok(())
}

fn boolean(w: &mut XmlWriter, name: &str, value: bool) -> io::Result<()> {
    number(w, name, u8::from(value))
}

/// Escapes text content so that the reader gives back exactly `value`:
/// `&`, `<` and `>` as entities; carriage returns (which XML line-end
/// normalisation would turn into line feeds), leading and trailing
/// whitespace (which the reader trims) and characters XML 1.0 does not
/// allow as character references. The reader refuses the last kind, so
/// [`ImsSubscription::validate`](super::ImsSubscription::validate) does
/// too.
fn escape(value: &str) -> String {
    let lead = value.len() - value.trim_start_matches(is_xml_whitespace).len();
    let trail = value.trim_end_matches(is_xml_whitespace).len();
    let mut out = String::with_capacity(value.len() + 8);
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
    out
}
