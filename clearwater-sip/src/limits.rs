//! Configured limits on what the parser and framer accept.

/// Limits applied when parsing and framing messages. Exceeding one is answered
/// with 513 Message Too Large ([`Error::Limit`](crate::Error::Limit)).
///
/// The defaults suit a core network element: a 64 KiB message (the largest UDP
/// datagram), 256 header fields, 8 KiB per header field (including its folded
/// continuation lines) and 70 Via values (one per hop a request with the
/// recommended Max-Forwards of 70 can travel).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest message (start line, headers and body) in octets.
    pub max_message_size: usize,
    /// Most header fields (lines) in one message.
    pub max_headers: usize,
    /// Longest start line or header field (with its continuation lines), in octets.
    pub max_line_length: usize,
    /// Most Via values (counted across fields and comma lists).
    pub max_vias: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 65_535,
            max_headers: 256,
            max_line_length: 8_192,
            max_vias: 70,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_message_size`].
    pub fn with_max_message_size(mut self, v: usize) -> Self {
        self.max_message_size = v;
        self
    }

    /// Sets [`Limits::max_headers`] (at most 65 534).
    pub fn with_max_headers(mut self, v: usize) -> Self {
        self.max_headers = v.min(65_534);
        self
    }

    /// Sets [`Limits::max_line_length`].
    pub fn with_max_line_length(mut self, v: usize) -> Self {
        self.max_line_length = v;
        self
    }

    /// Sets [`Limits::max_vias`].
    pub fn with_max_vias(mut self, v: usize) -> Self {
        self.max_vias = v;
        self
    }
}
