//! Transaction matching keys (RFC 3261 §17.1.3, §17.2.3 and the RFC 2543
//! fallback of §17.2.3).

use crate::header::{MAGIC_COOKIE, Via};
use crate::message::{Request, Response};
use crate::method::Method;

/// What identifies a client transaction: the branch it put in its Via and the
/// CSeq method (so a CANCEL, which shares the INVITE's branch, has its own).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    branch: String,
    method: Method,
}

impl ClientKey {
    /// The key of a request whose top Via is `via`.
    pub(crate) fn of_request(req: &Request, via: &Via<'_>) -> Option<ClientKey> {
        Some(ClientKey {
            branch: via.branch()?.to_owned(),
            method: req.method().clone(),
        })
    }

    /// §17.1.3: top Via branch (`via`, the response's) and CSeq method of
    /// the response.
    pub(crate) fn of_response(resp: &Response, via: &Via<'_>) -> Option<ClientKey> {
        let cseq = resp.cseq().ok()?;
        Some(ClientKey {
            branch: via.branch()?.to_owned(),
            method: cseq.method,
        })
    }
}

/// What identifies a server transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ServerKey {
    /// §17.2.3: RFC 3261 branch (magic cookie), sent-by, and method (ACK
    /// matches INVITE).
    Rfc3261 {
        branch: String,
        sent_by: String,
        method: Method,
    },
    /// RFC 2543 fallback: Request-URI, From tag, Call-ID, CSeq number, top
    /// Via, method (ACK matches INVITE); the To tag is checked separately for
    /// ACK (it must match the tag of the response sent).
    Rfc2543 {
        request_uri: String,
        from_tag: String,
        call_id: String,
        cseq: u32,
        top_via: String,
        method: Method,
    },
}

/// The method a request's transaction is keyed by (ACK belongs to INVITE).
fn tx_method(m: &Method) -> Method {
    if m == &Method::ACK {
        Method::INVITE
    } else {
        m.clone()
    }
}

impl ServerKey {
    /// The key of the transaction `req` belongs to. The key of what a
    /// CANCEL cancels is its own with another method ([`Self::set_method`];
    /// §9.2: the same match, method aside).
    pub(crate) fn of_request(req: &Request) -> Option<ServerKey> {
        let via = req.via().ok()?;
        let method = tx_method(req.method());
        match via.branch() {
            Some(b) if is_rfc3261_branch(b) => Some(ServerKey::Rfc3261 {
                branch: b.to_owned(),
                sent_by: sent_by(&via),
                method,
            }),
            _ => {
                let from = req.from().ok()?;
                let cseq = req.cseq().ok()?;
                Some(ServerKey::Rfc2543 {
                    request_uri: req.uri().to_string(),
                    from_tag: from.tag().unwrap_or("").to_owned(),
                    call_id: req.call_id().ok()?.as_str().to_owned(),
                    cseq: cseq.seq,
                    top_via: via.to_string(),
                    method,
                })
            }
        }
    }

    /// Makes this the key of the same request with another method.
    pub(crate) fn set_method(&mut self, m: Method) {
        match self {
            ServerKey::Rfc3261 { method, .. } | ServerKey::Rfc2543 { method, .. } => *method = m,
        }
    }

    pub(crate) fn is_rfc2543(&self) -> bool {
        matches!(self, ServerKey::Rfc2543 { .. })
    }
}

/// sent-by as compared by §17.2.3: host (lower case) and port.
fn sent_by(via: &Via<'_>) -> String {
    let mut host = via.host().as_str().to_ascii_lowercase();
    if let Some(p) = via.port() {
        host.push(':');
        crate::scan::push_decimal(&mut host, u64::from(p));
    }
    host
}

/// Whether `branch` is an RFC 3261 branch: the magic cookie and more.
pub(crate) fn is_rfc3261_branch(branch: &str) -> bool {
    branch.len() > MAGIC_COOKIE.len() && branch.starts_with(MAGIC_COOKIE)
}

/// The To tag of a message's headers, if any (for the RFC 2543 ACK match).
pub(crate) fn to_tag(headers: &crate::headers::Headers) -> Option<String> {
    headers
        .typed::<crate::header::To<'_>>()
        .ok()
        .flatten()
        .and_then(|t| t.tag().map(str::to_owned))
}
