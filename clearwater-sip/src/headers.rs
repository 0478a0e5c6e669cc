//! The ordered header list of a message: raw values sharing the received bytes,
//! hot headers indexed at parse time, typed views decoded on demand.

use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;

use crate::error::Error;
use crate::header::TypedHeader;
use crate::name::{HOT_COUNT, HeaderName, Known, Repr};
use crate::scan::{self, CommaSplit};

/// Offsets of one piece of text in the message storage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    #[inline]
    pub(crate) fn new(start: usize, end: usize) -> Span {
        // Messages are bounded by `Limits::max_message_size` (< 4 GiB).
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
    #[inline]
    pub(crate) fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// Where a span's text lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Src {
    /// The received bytes.
    Buf,
    /// Text added by an edit.
    Extra,
}

/// One header field (one line, possibly folded, possibly a comma list).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub(crate) known: Option<Known>,
    pub(crate) src: Src,
    pub(crate) name: Span,
    pub(crate) value: Span,
    /// The whole field including its line terminator.
    pub(crate) line: Span,
}

const NONE: u16 = u16::MAX;

/// The header fields of a message, in order.
#[derive(Clone)]
pub struct Headers {
    pub(crate) buf: Bytes,
    pub(crate) extra: Vec<u8>,
    pub(crate) entries: Vec<Entry>,
    hot: [u16; HOT_COUNT],
    multi: u16,
}

impl Headers {
    pub(crate) fn new(buf: Bytes, capacity: usize) -> Headers {
        Headers {
            buf,
            extra: Vec::new(),
            entries: Vec::with_capacity(capacity),
            hot: [NONE; HOT_COUNT],
            multi: 0,
        }
    }

    /// Appends a parsed entry and indexes it (parse time).
    #[inline(always)]
    pub(crate) fn push_parsed(&mut self, e: Entry) {
        if let Some(h) = e.known.and_then(Known::hot_index) {
            if self.hot[h] == NONE {
                self.hot[h] = self.entries.len() as u16;
            } else {
                self.multi |= 1 << h;
            }
        }
        self.entries.push(e);
    }

    /// Rebuilds the hot index after an edit.
    pub(crate) fn reindex(&mut self) {
        self.hot = [NONE; HOT_COUNT];
        self.multi = 0;
        for (i, e) in self.entries.iter().enumerate() {
            if let Some(h) = e.known.and_then(Known::hot_index) {
                if self.hot[h] == NONE {
                    self.hot[h] = i as u16;
                } else {
                    self.multi |= 1 << h;
                }
            }
        }
    }

    #[inline]
    pub(crate) fn text(&self, src: Src, span: Span) -> &[u8] {
        let store: &[u8] = match src {
            Src::Buf => &self.buf,
            Src::Extra => &self.extra,
        };
        store.get(span.range()).unwrap_or(&[])
    }

    #[inline]
    fn view(&self, e: &Entry) -> Header<'_> {
        Header {
            name: self.text(e.src, e.name),
            value: self.text(e.src, e.value),
            known: e.known,
        }
    }

    /// Number of header fields (lines).
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no header fields.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All header fields in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Header<'_>> + ExactSizeIterator + '_ {
        self.entries.iter().map(|e| self.view(e))
    }

    /// Index of the first field named `name`.
    #[inline]
    fn first_index(&self, name: &HeaderName) -> Option<usize> {
        if let Repr::Known(k) = name.0
            && let Some(h) = k.hot_index()
        {
            let i = self.hot[h];
            return (i != NONE).then_some(i as usize);
        }
        self.entries
            .iter()
            .position(|e| name.matches(e.known, self.text(e.src, e.name)))
    }

    /// The first field named `name`.
    #[inline]
    pub fn get(&self, name: &HeaderName) -> Option<Header<'_>> {
        self.first_index(name).map(|i| self.view(&self.entries[i]))
    }

    /// Whether a field named `name` is present.
    pub fn contains(&self, name: &HeaderName) -> bool {
        self.first_index(name).is_some()
    }

    /// All fields named `name`, in order.
    pub fn get_all<'h>(&'h self, name: &'h HeaderName) -> impl Iterator<Item = Header<'h>> + 'h {
        let start = self.first_index(name).unwrap_or(self.entries.len());
        let single = match name.0 {
            Repr::Known(k) => k.hot_index().is_some_and(|h| self.multi & (1 << h) == 0),
            Repr::Extension(_) => false,
        };
        let end = if single {
            (start + 1).min(self.entries.len())
        } else {
            self.entries.len()
        };
        self.entries[start..end]
            .iter()
            .filter(move |e| name.matches(e.known, self.text(e.src, e.name)))
            .map(move |e| self.view(e))
    }

    /// Number of fields (lines) named `name`.
    pub fn count(&self, name: &HeaderName) -> usize {
        self.get_all(name).count()
    }

    /// Whether a hot header appears on more than one line.
    #[inline]
    pub(crate) fn hot_repeated(&self, k: Known) -> bool {
        k.hot_index().is_some_and(|h| self.multi & (1 << h) != 0)
    }

    /// The first value of typed header `H` (for list headers, the first element).
    /// `Ok(None)` when the header is absent.
    pub fn typed<'h, H: TypedHeader<'h>>(&'h self) -> Result<Option<H>, Error> {
        // The first field directly; the iterator (same rules) only when the
        // first element is empty and must be skipped.
        let Some(e) = self.first_index(&H::NAME).and_then(|i| self.entries.get(i)) else {
            return Ok(None);
        };
        let value = self.text(e.src, e.value);
        let element = if H::LIST {
            CommaSplit::new(value).next().unwrap_or_default()
        } else if e.src == Src::Buf {
            // The parser stored the value without surrounding white space.
            debug_assert_eq!(value, scan::trim_lws(value));
            value
        } else {
            scan::trim_lws(value)
        };
        if element.is_empty() {
            return self.typed_all::<H>().next().transpose();
        }
        parse_text(element).map(Some)
    }

    /// Every value of typed header `H`: for list headers, each comma-separated
    /// element of every field, in order.
    pub fn typed_all<'h, H: TypedHeader<'h>>(&'h self) -> TypedIter<'h, H> {
        let name = H::NAME;
        let start = self.first_index(&name).unwrap_or(self.entries.len());
        // A hot header that occurs once ends the search at its field.
        let end = match name.0 {
            Repr::Known(k) if k.hot_index().is_some() && !self.hot_repeated(k) => {
                (start + 1).min(self.entries.len())
            }
            _ => self.entries.len(),
        };
        TypedIter {
            headers: self,
            name,
            idx: start,
            end,
            split: None,
            _h: PhantomData,
        }
    }

    // ----- editing -----

    /// Appends text to the edit store; returns its span.
    fn push_extra(&mut self, text: &[u8]) -> Span {
        let start = self.extra.len();
        self.extra.extend_from_slice(text);
        Span::new(start, self.extra.len())
    }

    /// Builds an entry for `name: value` written into the edit store.
    pub(crate) fn make_entry(&mut self, name: &HeaderName, value: &[u8]) -> Entry {
        let n = name.as_str().as_bytes();
        let start = self.extra.len();
        let need = n.len() + value.len() + 4;
        // A proxy makes a few edits per message: room for them at the first.
        self.extra
            .reserve(if start == 0 { need.max(256) } else { need });
        self.extra.extend_from_slice(n);
        self.extra.extend_from_slice(b": ");
        let vstart = self.extra.len();
        self.extra.extend_from_slice(value);
        let vend = self.extra.len();
        self.extra.extend_from_slice(b"\r\n");
        Entry {
            known: name.known(),
            src: Src::Extra,
            name: Span::new(start, start + n.len()),
            value: Span::new(vstart, vend),
            line: Span::new(start, self.extra.len()),
        }
    }

    /// Inserts `name: value` at position `index` (clamped to the end).
    pub(crate) fn insert_raw(&mut self, index: usize, name: &HeaderName, value: &[u8]) {
        let e = self.make_entry(name, value);
        let index = index.min(self.entries.len());
        self.entries.insert(index, e);
        self.reindex();
    }

    /// Replaces entry `index` with `name: value`.
    pub(crate) fn replace_raw(&mut self, index: usize, name: &HeaderName, value: &[u8]) {
        if index < self.entries.len() {
            self.entries[index] = self.make_entry(name, value);
            self.reindex();
        }
    }

    /// Removes entry `index`.
    pub(crate) fn remove_index(&mut self, index: usize) {
        if index < self.entries.len() {
            self.entries.remove(index);
            self.reindex();
        }
    }

    /// Position of the first field named `name`.
    pub(crate) fn position(&self, name: &HeaderName) -> Option<usize> {
        self.first_index(name)
    }

    /// Removes every field named `name`; returns how many were removed.
    pub(crate) fn remove_all(&mut self, name: &HeaderName) -> usize {
        let before = self.entries.len();
        let buf = &self.buf;
        let extra = &self.extra;
        self.entries.retain(|e| {
            let store: &[u8] = match e.src {
                Src::Buf => buf,
                Src::Extra => extra,
            };
            let written = store.get(e.name.range()).unwrap_or(&[]);
            !name.matches(e.known, written)
        });
        let removed = before - self.entries.len();
        if removed > 0 {
            self.reindex();
        }
        removed
    }

    /// Removes the first comma-separated element of the first field named
    /// `name`, dropping the field when it held only that element. Returns the
    /// removed element's text.
    /// With `copy` false the element is dropped without being copied out
    /// (an empty vector comes back).
    pub(crate) fn pop_first_element(&mut self, name: &HeaderName, copy: bool) -> Option<Vec<u8>> {
        let i = self.first_index(name)?;
        let e = self.entries[i];
        // The first element is copied out, and the rest located by offsets,
        // while the value is borrowed; the entry is rewritten afterwards.
        // (A `Bytes` handle on the value would turn the received buffer into
        // a shared one: an allocation and atomic counts for every edit.)
        let (first, rest) = {
            let value = self.text(e.src, e.value);
            let mut split = CommaSplit::new(value);
            let first = split.next()?;
            let first = if copy { first.to_vec() } else { Vec::new() };
            // The rest: after the first top-level comma, without white space
            // and the empty elements that follow it (they go with it).
            let rest = split.rest_offset().and_then(|off| {
                let lws = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
                let mut end = value.len();
                while end > off && lws(value[end - 1]) {
                    end -= 1;
                }
                let mut start = off;
                while start < end && (lws(value[start]) || value[start] == b',') {
                    start += 1;
                }
                let base = e.value.start as usize;
                (start < end).then(|| Span::new(base + start, base + end))
            });
            (first, rest)
        };
        match rest {
            // Nothing left: the field goes (an empty `Via:` line is no
            // header field, §7.3.1).
            None => self.remove_index(i),
            // The same field, shorter: a known header under its full name
            // (as `replace_raw` would write it), an extension header under
            // the name as received, and the rest of the value copied within
            // the stores. Position and name are unchanged, so is the index.
            Some(rest) => {
                let start = self.extra.len();
                let need = (e.name.end - e.name.start) as usize + rest.range().len() + 4;
                self.extra
                    .reserve(if start == 0 { need.max(256) } else { need });
                match e.known {
                    Some(k) => self.extra.extend_from_slice(k.as_str().as_bytes()),
                    None => self.append_from(e.src, e.name),
                }
                let name_end = self.extra.len();
                self.extra.extend_from_slice(b": ");
                let vstart = self.extra.len();
                self.append_from(e.src, rest);
                let vend = self.extra.len();
                self.extra.extend_from_slice(b"\r\n");
                self.entries[i] = Entry {
                    known: e.known,
                    src: Src::Extra,
                    name: Span::new(start, name_end),
                    value: Span::new(vstart, vend),
                    line: Span::new(start, self.extra.len()),
                };
            }
        }
        Some(first)
    }

    /// Appends the text at `span` of store `src` to the edit store.
    fn append_from(&mut self, src: Src, span: Span) {
        match src {
            Src::Buf => {
                let text = self.buf.get(span.range()).unwrap_or_default();
                self.extra.extend_from_slice(text);
            }
            Src::Extra => {
                if span.end as usize <= self.extra.len() && span.start <= span.end {
                    self.extra.extend_from_within(span.range());
                }
            }
        }
    }

    /// Writes every field line, reusing unchanged byte ranges.
    pub(crate) fn write_lines(&self, out: &mut Vec<u8>) {
        // Runs of fields that still sit next to each other in the received
        // buffer are copied in one go.
        let mut run: Option<Span> = None;
        for e in &self.entries {
            if e.src == Src::Buf {
                match &mut run {
                    Some(r) if r.end == e.line.start => r.end = e.line.end,
                    _ => {
                        if let Some(r) = run.replace(e.line) {
                            out.extend_from_slice(self.text(Src::Buf, r));
                        }
                    }
                }
            } else {
                if let Some(r) = run.take() {
                    out.extend_from_slice(self.text(Src::Buf, r));
                }
                out.extend_from_slice(self.text(e.src, e.line));
            }
        }
        if let Some(r) = run {
            out.extend_from_slice(self.text(Src::Buf, r));
        }
    }

    /// Total length of the field lines.
    pub(crate) fn lines_len(&self) -> usize {
        self.entries
            .iter()
            .map(|e| (e.line.end - e.line.start) as usize)
            .sum()
    }

    /// Writes raw text to the edit store (for start lines).
    pub(crate) fn store_extra(&mut self, text: &[u8]) -> Span {
        self.push_extra(text)
    }
}

/// The canonical name of a well-known header as a static string (for errors).
pub(crate) fn static_name(name: &HeaderName) -> &'static str {
    match name.0 {
        Repr::Known(k) => k.as_str(),
        Repr::Extension(_) => "extension",
    }
}

/// Parses one value (or list element) of typed header `H`: it must be
/// UTF-8; errors name the header.
fn parse_text<'h, H: TypedHeader<'h>>(value: &'h [u8]) -> Result<H, Error> {
    let text = simdutf8::basic::from_utf8(value).map_err(|_| not_utf8::<H>())?;
    H::parse(text).map_err(|e| e.in_header(static_name(&H::NAME)))
}

fn not_utf8<'h, H: TypedHeader<'h>>() -> Error {
    Error::Header {
        header: static_name(&H::NAME),
        detail: "not UTF-8",
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A view of one header field: its name as written and its raw value.
#[derive(Clone, Copy)]
pub struct Header<'a> {
    name: &'a [u8],
    value: &'a [u8],
    known: Option<Known>,
}

impl<'a> Header<'a> {
    /// The name as written (`v`, `VIA`, `X-Custom`...).
    pub fn name_str(&self) -> &'a str {
        // Names are validated tokens, hence ASCII.
        std::str::from_utf8(self.name).unwrap_or("")
    }

    /// The name, resolved to a well-known name where it is one.
    pub fn name(&self) -> HeaderName {
        match self.known {
            Some(k) => HeaderName(Repr::Known(k)),
            None => HeaderName(Repr::Extension(Bytes::copy_from_slice(self.name))),
        }
    }

    /// Whether this field is named `name`.
    pub fn is(&self, name: &HeaderName) -> bool {
        name.matches(self.known, self.name)
    }

    /// The raw value (leading and trailing white space removed; folded line
    /// breaks inside are kept as received).
    #[inline]
    pub fn value(&self) -> &'a [u8] {
        self.value
    }

    /// The raw value as UTF-8, if it is.
    pub fn value_str(&self) -> Option<&'a str> {
        simdutf8::basic::from_utf8(self.value).ok()
    }

    /// Parses the value (the first element, for list headers) as `H`, ignoring
    /// the field's name.
    pub fn parse<H: TypedHeader<'a>>(&self) -> Result<H, Error> {
        // The whole value must be text, not only the element parsed.
        simdutf8::basic::from_utf8(self.value).map_err(|_| not_utf8::<H>())?;
        if H::LIST {
            parse_text(CommaSplit::new(self.value).next().unwrap_or_default())
        } else {
            parse_text(scan::trim_lws(self.value))
        }
    }
}

impl fmt::Debug for Header<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.name_str(),
            String::from_utf8_lossy(self.value)
        )
    }
}

/// Iterator over the typed values of one header across all its fields.
pub struct TypedIter<'h, H> {
    headers: &'h Headers,
    name: HeaderName,
    idx: usize,
    /// No field named `name` at or after this index.
    end: usize,
    split: Option<CommaSplit<'h>>,
    _h: PhantomData<fn() -> H>,
}

impl<'h, H: TypedHeader<'h>> Iterator for TypedIter<'h, H> {
    type Item = Result<H, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(split) = &mut self.split {
                if let Some(elem) = split.next() {
                    if elem.is_empty() {
                        if H::ALLOW_EMPTY {
                            continue;
                        }
                        self.split = None;
                        return Some(Err(Error::Header {
                            header: static_name(&H::NAME),
                            detail: "empty list element",
                        }));
                    }
                    return Some(parse_text(elem));
                }
                self.split = None;
            }
            let entries = self.headers.entries.get(..self.end).unwrap_or_default();
            while self.idx < entries.len() && {
                let e = &entries[self.idx];
                !self.name.matches(e.known, self.headers.text(e.src, e.name))
            } {
                self.idx += 1;
            }
            let e = entries.get(self.idx)?;
            self.idx += 1;
            let value = self.headers.text(e.src, e.value);
            if H::LIST {
                // Elements are validated as UTF-8 one by one.
                self.split = Some(CommaSplit::new(value));
                continue;
            }
            let v = scan::trim_lws(value);
            if v.is_empty() && !H::ALLOW_EMPTY {
                return Some(Err(Error::Header {
                    header: static_name(&H::NAME),
                    detail: "empty value",
                }));
            }
            return Some(parse_text(v));
        }
    }
}
