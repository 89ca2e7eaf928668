//! Streaming CSV reading with bounded memory, for imports of any size.
//!
//! Built on `csv-core`, which parses into caller-owned buffers: a record
//! larger than the buffer or with more fields than allowed is reported as
//! such and skipped, never grown into memory. Encodings: UTF-8 (with or
//! without BOM) and Windows-1252/Latin-1, detected or given; delimiters `,`
//! `;` and tab, sniffed from the header; quoted fields may hold delimiters,
//! quotes and line breaks; CRLF or LF. Byte offsets of record boundaries
//! are exposed so an interrupted import can resume exactly where it
//! stopped.

use std::io::Read;

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};
use thiserror::Error;

/// Largest record (all fields of one row) accepted.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// Most columns a file may have.
pub const MAX_FIELDS: usize = 1000;
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    /// Windows-1252, a superset of Latin-1's printable characters; every
    /// byte decodes to exactly one character.
    Windows1252,
}

impl Encoding {
    pub fn parse(s: &str) -> Option<Option<Encoding>> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "" | "auto" => Some(None),
            "utf-8" | "utf8" => Some(Some(Encoding::Utf8)),
            "windows-1252" | "cp1252" | "latin1" | "latin-1" | "iso-8859-1" | "iso-8859-15" => {
                Some(Some(Encoding::Windows1252))
            }
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Windows1252 => "windows-1252",
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("this looks like a compressed file ({0}); upload the CSV file itself")]
    Compressed(&'static str),
    #[error("this is UTF-16 text; save the file as UTF-8 CSV and upload it again")]
    Utf16,
    #[error("this is not a CSV text file (it contains binary data)")]
    Binary,
    #[error("the header row has more than {MAX_FIELDS} columns")]
    TooManyColumns,
    #[error("the header row is longer than {MAX_RECORD_BYTES} bytes")]
    HeaderTooLarge,
    #[error("the header row is not valid {0}; give the file's encoding explicitly")]
    HeaderEncoding(&'static str),
    #[error("there is no email column; name one column `email` or map one to it")]
    NoEmailColumn,
    #[error("the column {0:?} appears twice in the header")]
    DuplicateColumn(String),
    #[error("cannot read the file: {0}")]
    Io(String),
}

/// What the start of a file says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    pub encoding: Encoding,
    pub delimiter: u8,
    /// Length of a UTF-8 byte order mark to skip.
    pub bom: usize,
}

/// Inspects the first bytes of a file (64 KiB is plenty).
pub fn sniff(head: &[u8], encoding: Option<Encoding>, delimiter: Option<u8>) -> Result<Sniffed, FileError> {
    if head.is_empty() {
        return Err(FileError::Empty);
    }
    if head.starts_with(b"PK\x03\x04") {
        return Err(FileError::Compressed("zip"));
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Err(FileError::Compressed("gzip"));
    }
    if head.starts_with(b"BZh") || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z']) || head.starts_with(b"7z\xbc\xaf")
    {
        return Err(FileError::Compressed("bzip2/xz/7z"));
    }
    if head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]) {
        return Err(FileError::Utf16);
    }
    if head.contains(&0) {
        return Err(FileError::Binary);
    }
    let bom = if head.starts_with(&[0xef, 0xbb, 0xbf]) { 3 } else { 0 };
    let body = &head[bom..];
    let encoding = encoding.unwrap_or_else(|| {
        match std::str::from_utf8(body) {
            Ok(_) => Encoding::Utf8,
            // A multi-byte character cut off by the end of the sample is fine.
            Err(e) if e.error_len().is_none() => Encoding::Utf8,
            Err(_) if bom > 0 => Encoding::Utf8,
            Err(_) => Encoding::Windows1252,
        }
    });
    let delimiter = delimiter.unwrap_or_else(|| sniff_delimiter(body));
    Ok(Sniffed { encoding, delimiter, bom })
}

/// The most frequent of `,` `;` tab in the first line (outside quotes).
fn sniff_delimiter(body: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in body {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], usize::from(i == 0))).unwrap_or(0);
    [b',', b';', b'\t'][best]
}

/// Decodes one field.
pub fn decode(encoding: Encoding, bytes: &[u8]) -> Option<String> {
    match encoding {
        Encoding::Utf8 => std::str::from_utf8(bytes).ok().map(str::to_string),
        Encoding::Windows1252 => Some(bytes.iter().map(|&b| windows_1252(b)).collect()),
    }
}

fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}', '\u{90}', '‘',
        '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9f => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// One record as the reader saw it.
#[derive(Debug, PartialEq, Eq)]
pub enum Row<'a> {
    Fields(Fields<'a>),
    /// Longer than `MAX_RECORD_BYTES`: skipped, not buffered.
    TooLarge,
    /// More than `MAX_FIELDS` fields.
    TooManyFields,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Fields<'a> {
    data: &'a [u8],
    ends: &'a [usize],
}

impl<'a> Fields<'a> {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.data.get(start..end)
    }

    /// A record that is one empty field: a blank line.
    pub fn is_blank(&self) -> bool {
        self.ends.len() == 1 && self.ends[0] == 0
    }
}

/// A streaming record reader over any `Read`.
pub struct RecordReader<R> {
    inner: R,
    core: Reader,
    input: Vec<u8>,
    pos: usize,
    len: usize,
    eof: bool,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// Bytes consumed from `inner` so far (plus the starting offset).
    consumed: u64,
    /// Offset just after the last complete record.
    boundary: u64,
    /// Line (1-based) where the next record starts.
    line: u64,
    record_line: u64,
    /// The last byte consumed: a record ended by `\r` leaves its `\n` for
    /// later, which must not count towards the next record's line.
    last: u8,
}

impl<R: Read> RecordReader<R> {
    /// `offset`/`line` say where `inner` starts within the file, so offsets
    /// and line numbers stay file-absolute after a resume.
    pub fn new(inner: R, delimiter: u8, offset: u64, line: u64) -> Self {
        RecordReader {
            inner,
            core: ReaderBuilder::new().delimiter(delimiter).build(),
            input: vec![0; READ_CHUNK],
            pos: 0,
            len: 0,
            eof: false,
            out: vec![0; MAX_RECORD_BYTES],
            ends: vec![0; MAX_FIELDS],
            consumed: offset,
            boundary: offset,
            line: line.max(1),
            record_line: line.max(1),
            last: 0,
        }
    }

    /// Byte offset just after the last record returned.
    pub fn offset(&self) -> u64 {
        self.boundary
    }

    /// Line on which the last record returned started.
    pub fn record_line(&self) -> u64 {
        self.record_line
    }

    /// Line where the next record starts.
    pub fn next_line(&self) -> u64 {
        self.line
    }

    fn fill(&mut self) -> std::io::Result<()> {
        if self.pos == self.len && !self.eof {
            self.len = read_full(&mut self.inner, &mut self.input)?;
            self.pos = 0;
            self.eof = self.len == 0;
        }
        Ok(())
    }

    /// The next record, or `None` at the end of the input.
    pub fn next_row(&mut self) -> std::io::Result<Option<Row<'_>>> {
        let mut nout = 0;
        let mut nend = 0;
        let mut too_large = false;
        let mut too_many = false;
        if self.last == b'\r' {
            self.fill()?;
            if self.pos < self.len && self.input[self.pos] == b'\n' {
                self.pos += 1;
                self.consumed += 1;
                self.line += 1;
            }
            self.last = 0;
        }
        self.record_line = self.line;
        loop {
            self.fill()?;
            let input = &self.input[self.pos..self.len];
            let (result, nin, o, e) = self.core.read_record(input, &mut self.out[nout..], &mut self.ends[nend..]);
            self.line += input[..nin].iter().filter(|&&b| b == b'\n').count() as u64;
            if nin > 0 {
                self.last = input[nin - 1];
            }
            self.pos += nin;
            self.consumed += nin as u64;
            nout += o;
            nend += e;
            match result {
                ReadRecordResult::InputEmpty => continue,
                ReadRecordResult::OutputFull => {
                    // Keep parsing to find the end of this record, but drop
                    // its contents.
                    too_large = true;
                    nout = 0;
                    nend = 0;
                }
                ReadRecordResult::OutputEndsFull => {
                    too_many = true;
                    nend = 0;
                    nout = 0;
                }
                ReadRecordResult::Record => {
                    if self.last == b'\r' {
                        // Take the `\n` of a CRLF now, so the boundary is a
                        // clean place to resume.
                        self.fill()?;
                        if self.pos < self.len && self.input[self.pos] == b'\n' {
                            self.pos += 1;
                            self.consumed += 1;
                            self.line += 1;
                        }
                        self.last = 0;
                    }
                    self.boundary = self.consumed;
                    if too_large {
                        return Ok(Some(Row::TooLarge));
                    }
                    if too_many {
                        return Ok(Some(Row::TooManyFields));
                    }
                    // csv-core reports field ends relative to this call's
                    // output slice; they are cumulative within the record.
                    return Ok(Some(Row::Fields(Fields { data: &self.out[..nout], ends: &self.ends[..nend] })));
                }
                ReadRecordResult::End => return Ok(None),
            }
        }
    }
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match r.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rows(data: &[u8], delimiter: u8) -> Vec<Result<Vec<String>, &'static str>> {
        let mut r = RecordReader::new(data, delimiter, 0, 1);
        let mut out = Vec::new();
        while let Some(row) = r.next_row().expect("read") {
            out.push(match row {
                Row::Fields(f) => {
                    Ok((0..f.len()).map(|i| String::from_utf8_lossy(f.get(i).expect("field")).into_owned()).collect())
                }
                Row::TooLarge => Err("too large"),
                Row::TooManyFields => Err("too many"),
            });
        }
        out
    }

    #[test]
    fn quoted_fields_with_newlines_crlf_and_delimiters() {
        let data = b"email;name\r\n\"a@x.org\";\"Doe; \"\"John\"\"\r\nsecond line\"\r\nb@x.org;Bob\r\n";
        assert_eq!(
            rows(data, b';'),
            vec![
                Ok(vec!["email".into(), "name".into()]),
                Ok(vec!["a@x.org".into(), "Doe; \"John\"\r\nsecond line".into()]),
                Ok(vec!["b@x.org".into(), "Bob".into()]),
            ]
        );
    }

    #[test]
    fn oversized_records_and_columns_are_skipped_not_buffered() {
        let mut data = b"email,name\n".to_vec();
        data.extend_from_slice(b"a@x.org,\"");
        data.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
        data.extend_from_slice(b"\"\nb@x.org,ok\n");
        data.extend(std::iter::repeat_n(b',', 5000));
        data.extend_from_slice(b"\nc@x.org,ok\n");
        let got = rows(&data, b',');
        assert_eq!(got.len(), 5);
        assert_eq!(got[1], Err("too large"));
        assert_eq!(got[2], Ok(vec!["b@x.org".into(), "ok".into()]));
        assert_eq!(got[3], Err("too many"));
        assert_eq!(got[4], Ok(vec!["c@x.org".into(), "ok".into()]));
    }

    #[test]
    fn offsets_allow_an_exact_resume() {
        let data = b"email\na@x.org\n\"b\nquoted\"@x.org\nc@x.org\n";
        let mut r = RecordReader::new(&data[..], b',', 0, 1);
        r.next_row().expect("read");
        r.next_row().expect("read");
        assert_eq!(r.record_line(), 2);
        let offset = r.offset();
        let line = r.next_line();
        let mut resumed = RecordReader::new(&data[offset as usize..], b',', offset, line);
        let Some(Row::Fields(f)) = resumed.next_row().expect("read") else { panic!("row") };
        assert_eq!(f.get(0), Some(&b"b\nquoted@x.org"[..]));
        assert_eq!(resumed.record_line(), 3);
        resumed.next_row().expect("read");
        assert_eq!(resumed.record_line(), 5);
    }

    #[test]
    fn crlf_line_numbers_and_offsets() {
        let data = b"email\r\na@x.org\r\n\"b\r\nq\"@x.org\r\nc@x.org\r\n";
        let mut r = RecordReader::new(&data[..], b',', 0, 1);
        let mut lines = Vec::new();
        while let Some(_row) = r.next_row().expect("read") {
            lines.push(r.record_line());
        }
        assert_eq!(lines, [1, 2, 3, 5]);
        assert_eq!(r.offset(), data.len() as u64);
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff(b"email;name\na;b", None, None).map(|s| s.delimiter), Ok(b';'));
        assert_eq!(sniff(b"email\tname\n", None, None).map(|s| s.delimiter), Ok(b'\t'));
        assert_eq!(sniff(b"email,\"a;b;c\"\n", None, None).map(|s| s.delimiter), Ok(b','));
        assert_eq!(sniff(b"email\n", None, None).map(|s| s.delimiter), Ok(b','));
        let bom = sniff(b"\xef\xbb\xbfemail\n", None, None).expect("sniff");
        assert_eq!((bom.bom, bom.encoding), (3, Encoding::Utf8));
        assert_eq!(sniff(b"email\nm\xfcller@x.de\n", None, None).map(|s| s.encoding), Ok(Encoding::Windows1252));
        assert_eq!(sniff("email\nmüller@x.de\n".as_bytes(), None, None).map(|s| s.encoding), Ok(Encoding::Utf8));
        assert_eq!(sniff(b"PK\x03\x04zip", None, None), Err(FileError::Compressed("zip")));
        assert_eq!(sniff(&[0x1f, 0x8b, 8], None, None), Err(FileError::Compressed("gzip")));
        assert_eq!(sniff(b"\xff\xfee\0m\0", None, None), Err(FileError::Utf16));
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01\0\0", None, None), Err(FileError::Binary));
        assert_eq!(sniff(b"", None, None), Err(FileError::Empty));
        assert_eq!(decode(Encoding::Windows1252, b"M\xfcller \x80"), Some("Müller €".into()));
        assert_eq!(decode(Encoding::Utf8, b"\xfc"), None);
    }

    proptest! {
        #[test]
        fn never_panics_and_always_advances(data in proptest::collection::vec(any::<u8>(), 0..4096), delim in prop::sample::select(vec![b',', b';', b'\t'])) {
            let _ = sniff(&data, None, None);
            let mut r = RecordReader::new(&data[..], delim, 0, 1);
            let mut n = 0;
            while let Some(_row) = r.next_row().expect("in-memory read") {
                n += 1;
                prop_assert!(n <= data.len() + 1);
            }
            prop_assert!(r.offset() <= data.len() as u64);
        }
    }
}
