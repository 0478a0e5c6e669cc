//! Messages: the header, decoding (zero-copy: AVP data are slices of the
//! received buffer), encoding, stream framing and error answers.

use bytes::{Bytes, BytesMut};

use crate::avp::{Avp, AvpCode, AvpIter, code, read_header};
use crate::codes::{ApplicationId, CommandCode, CommandFlags, ResultCode};
use crate::{DiameterError, Result};

/// The header's size.
pub const HEADER_LEN: usize = 20;
/// The largest message the 24-bit length field can describe.
pub const MAX_LEN: usize = 0x00ff_ffff;
/// How deep Grouped AVPs may nest before a message is refused.
pub const MAX_DEPTH: usize = 16;

/// A Diameter message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// R, P, E, T.
    pub flags: CommandFlags,
    /// The command.
    pub code: CommandCode,
    /// The application.
    pub application: ApplicationId,
    /// Hop-by-Hop Identifier.
    pub hop_by_hop: u32,
    /// End-to-End Identifier.
    pub end_to_end: u32,
    /// The AVPs, in order (unknown ones included, as received).
    pub avps: Vec<Avp>,
}

/// What [`frame`] found at the start of a stream buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Framing {
    /// A whole message of this many octets is buffered.
    Complete(usize),
    /// More octets are needed.
    Partial,
    /// The stream cannot be Diameter (bad version or length): close it.
    Invalid(DiameterError),
}

/// Finds the first message in a stream buffer (TCP/SCTP reads), refusing
/// messages over `max_len` octets before they are buffered.
pub fn frame(buf: &[u8], max_len: usize) -> Framing {
    if buf.len() < 4 {
        return Framing::Partial;
    }
    if buf[0] != 1 {
        return Framing::Invalid(DiameterError::new(
            ResultCode::UNSUPPORTED_VERSION,
            format!("version {} (only 1 is supported)", buf[0]),
        ));
    }
    let len = u32::from_be_bytes([0, buf[1], buf[2], buf[3]]) as usize;
    if len < HEADER_LEN || !len.is_multiple_of(4) {
        return Framing::Invalid(DiameterError::new(
            ResultCode::INVALID_MESSAGE_LENGTH,
            format!("message length {len} (must be at least 20 and a multiple of 4)"),
        ));
    }
    if len > max_len {
        return Framing::Invalid(DiameterError::new(
            ResultCode::INVALID_MESSAGE_LENGTH,
            format!("message length {len} over the limit of {max_len}"),
        ));
    }
    if buf.len() < len {
        Framing::Partial
    } else {
        Framing::Complete(len)
    }
}

impl Message {
    /// A request (R set) with no AVPs and zero identifiers (the peer layer
    /// allocates them).
    pub fn request(code: CommandCode, application: ApplicationId) -> Message {
        Message {
            flags: CommandFlags(CommandFlags::REQUEST),
            code,
            application,
            hop_by_hop: 0,
            end_to_end: 0,
            avps: Vec::new(),
        }
    }

    /// Sets the P bit.
    pub fn proxiable(mut self) -> Message {
        self.flags.0 |= CommandFlags::PROXIABLE;
        self
    }

    /// The answer's skeleton: same command, application and identifiers,
    /// R cleared, P copied (RFC 6733 §6.2), no AVPs.
    pub fn answer(&self) -> Message {
        Message {
            flags: CommandFlags(self.flags.0 & CommandFlags::PROXIABLE),
            code: self.code,
            application: self.application,
            hop_by_hop: self.hop_by_hop,
            end_to_end: self.end_to_end,
            avps: Vec::new(),
        }
    }

    /// Adds an AVP.
    pub fn push(&mut self, avp: Avp) {
        self.avps.push(avp);
    }

    /// Adds an AVP, builder style.
    pub fn with(mut self, avp: Avp) -> Message {
        self.avps.push(avp);
        self
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        self.flags.is_request()
    }

    /// The first AVP with `code`.
    pub fn avp(&self, code: AvpCode) -> Option<&Avp> {
        self.avps.iter().find(|a| a.code == code)
    }

    /// Every AVP with `code`.
    pub fn avps_with(&self, code: AvpCode) -> impl Iterator<Item = &Avp> {
        self.avps.iter().filter(move |a| a.code == code)
    }

    /// A required AVP (5005 MISSING_AVP when absent).
    pub fn required(&self, code: AvpCode) -> Result<&Avp> {
        self.avp(code).ok_or_else(|| missing(code))
    }

    /// The Session-Id, if present.
    pub fn session_id(&self) -> Result<Option<&str>> {
        self.avp(code::SESSION_ID).map(Avp::as_str).transpose()
    }

    /// The Origin-Host (required in every message).
    pub fn origin_host(&self) -> Result<&str> {
        self.required(code::ORIGIN_HOST)?.as_identity()
    }

    /// The Origin-Realm (required in every message).
    pub fn origin_realm(&self) -> Result<&str> {
        self.required(code::ORIGIN_REALM)?.as_identity()
    }

    /// The Result-Code, if present.
    pub fn result_code(&self) -> Result<Option<ResultCode>> {
        self.avp(code::RESULT_CODE)
            .map(|a| a.as_u32().map(ResultCode))
            .transpose()
    }

    /// The Experimental-Result's (Vendor-Id, Experimental-Result-Code), if
    /// present.
    pub fn experimental_result(&self) -> Result<Option<(u32, ResultCode)>> {
        let Some(er) = self.avp(code::EXPERIMENTAL_RESULT) else {
            return Ok(None);
        };
        let mut vendor = None;
        let mut result = None;
        for c in er.children()? {
            if c.code == code::VENDOR_ID {
                vendor = Some(c.as_u32()?);
            } else if c.code == code::EXPERIMENTAL_RESULT_CODE {
                result = Some(ResultCode(c.as_u32()?));
            }
        }
        match (vendor, result) {
            (Some(v), Some(r)) => Ok(Some((v, r))),
            (None, _) => Err(missing(code::VENDOR_ID)),
            (_, None) => Err(missing(code::EXPERIMENTAL_RESULT_CODE)),
        }
    }

    /// The header of a message (flags, command, application, identifiers)
    /// with no AVPs and nothing checked: enough to answer a message whose
    /// body cannot be decoded. `None` when `buf` is shorter than a header.
    pub fn header(buf: &[u8]) -> Option<Message> {
        let h: &[u8; HEADER_LEN] = buf.get(..HEADER_LEN)?.try_into().ok()?;
        let word = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        Some(Message {
            flags: CommandFlags(h[4]),
            code: CommandCode(word(4) & 0x00ff_ffff),
            application: ApplicationId(word(8)),
            hop_by_hop: word(12),
            end_to_end: word(16),
            avps: Vec::new(),
        })
    }

    /// Decodes one whole message (`buf` holds exactly it, as [`frame`]
    /// delimited). Structural errors are refused with the Result-Code an
    /// answer would carry: 5011 version, 5015 message length, 3008 header
    /// bits, 5014 AVP length (with the AVP as Failed-AVP), including inside
    /// Grouped AVPs the dictionary knows. AVP values and the command's
    /// grammar are checked by [`Message::validate`], so that a relay can
    /// forward what it does not understand.
    pub fn decode(buf: Bytes) -> Result<Message> {
        let Some(mut msg) = Message::header(&buf) else {
            return Err(DiameterError::new(
                ResultCode::INVALID_MESSAGE_LENGTH,
                format!("{} octets: shorter than the header", buf.len()),
            ));
        };
        if buf[0] != 1 {
            return Err(DiameterError::new(
                ResultCode::UNSUPPORTED_VERSION,
                format!("version {} (only 1 is supported)", buf[0]),
            ));
        }
        let len = u32::from_be_bytes([0, buf[1], buf[2], buf[3]]) as usize;
        if len != buf.len() || !len.is_multiple_of(4) {
            return Err(DiameterError::new(
                ResultCode::INVALID_MESSAGE_LENGTH,
                format!("message length field {len} for {} octets", buf.len()),
            ));
        }
        let flags = msg.flags;
        if flags.0 & CommandFlags::RESERVED != 0 {
            return Err(DiameterError::new(
                ResultCode::INVALID_HDR_BITS,
                "reserved command flag bits set",
            ));
        }
        if flags.is_request() && flags.is_error() {
            return Err(DiameterError::new(
                ResultCode::INVALID_HDR_BITS,
                "E bit set on a request",
            ));
        }
        msg.avps.reserve(16);
        for avp in AvpIter::new(buf.slice(HEADER_LEN..)) {
            let avp = avp?;
            check_structure(&avp, 1)?;
            msg.avps.push(avp);
        }
        Ok(msg)
    }

    /// The encoded length.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.avps.iter().map(Avp::padded_len).sum::<usize>()
    }

    /// Appends the encoded message to `out`.
    pub fn encode_into(&self, out: &mut BytesMut) {
        let len = self.encoded_len();
        out.reserve(len);
        let mut h = [0u8; HEADER_LEN];
        let words = [
            1 << 24 | (len as u32 & 0x00ff_ffff),
            u32::from(self.flags.0) << 24 | (self.code.0 & 0x00ff_ffff),
            self.application.0,
            self.hop_by_hop,
            self.end_to_end,
        ];
        for (chunk, w) in h.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
        out.extend_from_slice(&h);
        for a in &self.avps {
            a.encode_into(out);
        }
    }

    /// The encoded message.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(self.encoded_len());
        self.encode_into(&mut b);
        b.freeze()
    }

    /// An answer refusing this request with `error`'s Result-Code: the E
    /// bit for 3xxx codes, Session-Id and the application's identifying
    /// AVPs copied, Origin-Host/-Realm ours,
    /// Error-Message with the reason, Failed-AVP when the error names one
    /// (RFC 6733 §7).
    pub fn error_answer(
        &self,
        error: &DiameterError,
        origin_host: &str,
        origin_realm: &str,
    ) -> Message {
        let mut a = self.answer();
        let rc = error.result_code();
        if rc.is_protocol_error() {
            a.flags.0 |= CommandFlags::ERROR;
        }
        if let Some(sid) = self.avp(code::SESSION_ID) {
            a.push(sid.clone());
        }
        // What the application's answer grammar wants echoed.
        for c in [
            code::VENDOR_SPECIFIC_APPLICATION_ID,
            code::AUTH_APPLICATION_ID,
            code::ACCT_APPLICATION_ID,
            code::AUTH_SESSION_STATE,
            code::ACCOUNTING_RECORD_TYPE,
            code::ACCOUNTING_RECORD_NUMBER,
        ] {
            if let Some(avp) = self.avp(c) {
                a.push(avp.clone());
            }
        }
        a.push(Avp::u32(code::RESULT_CODE, rc.0));
        a.push(Avp::utf8(code::ORIGIN_HOST, origin_host));
        a.push(Avp::utf8(code::ORIGIN_REALM, origin_realm));
        a.push(Avp::utf8(code::ERROR_MESSAGE, &error.to_string()));
        if let DiameterError::Malformed {
            failed_avp: Some(f),
            ..
        } = error
        {
            a.push(Avp::grouped(code::FAILED_AVP, [(**f).clone()]));
        }
        a
    }
}

fn missing(code: AvpCode) -> DiameterError {
    // RFC 6733 §7.5: Failed-AVP names the missing AVP with minimal data.
    DiameterError::avp(
        ResultCode::MISSING_AVP,
        format!("{code} is missing"),
        &Avp::new(code, Bytes::new()),
    )
}

/// Lengths inside Grouped AVPs the dictionary knows, to `MAX_DEPTH`. The
/// children are read in place (no reference counting per child).
fn check_structure(avp: &Avp, depth: usize) -> Result<()> {
    if !avp.code.is_grouped() {
        return Ok(());
    }
    check_children(&avp.data, depth).map_err(|e| {
        // The whole Grouped AVP is the one to report.
        let (rc, why) = match e {
            Nested::TooDeep => (
                ResultCode::INVALID_AVP_VALUE,
                format!("{}: Grouped AVPs nested over {MAX_DEPTH} deep", avp.code),
            ),
            Nested::Bad(e) => (e.result_code(), format!("inside {}: {e}", avp.code)),
        };
        DiameterError::avp(rc, why, avp)
    })
}

enum Nested {
    TooDeep,
    Bad(DiameterError),
}

fn check_children(data: &[u8], depth: usize) -> std::result::Result<(), Nested> {
    if depth > MAX_DEPTH {
        return Err(Nested::TooDeep);
    }
    let mut pos = 0;
    while pos < data.len() {
        let h = read_header(data, pos).map_err(Nested::Bad)?;
        if h.code.is_grouped() {
            check_children(&data[h.data], depth + 1)?;
        }
        pos = h.next;
    }
    Ok(())
}
