//! Byte-level encoders that keep a message 7-bit clean and its lines short:
//! quoted-printable bodies (RFC 2045 §6.7), RFC 2047 encoded-words for header
//! text, header folding (RFC 5322 §2.2.3) and the RFC 5322 §3.3 date.
//!
//! Everything here appends to a caller-owned `Vec<u8>` so that assembling a
//! message does not allocate per header or per line.

/// Recommended maximum line length without CRLF (RFC 5322 §2.1.1). Folding
/// aims for it; only a single unbreakable token (a long URL) may exceed it.
pub const LINE_SOFT_LIMIT: usize = 78;
/// Hard maximum line length without CRLF (RFC 5322 §2.1.1).
pub const LINE_HARD_LIMIT: usize = 998;
/// Quoted-printable output lines, including a trailing soft-break `=`
/// (RFC 2045 §6.7 rule 5).
const QP_LINE: usize = 76;
/// Longest RFC 2047 encoded-word written. The RFC allows 75; 66 keeps
/// `Reply-To: ` plus one word within 78 columns on the first line.
const MAX_ENCODED_WORD: usize = 66;
/// `=?UTF-8?Q?` + `?=`.
const ENCODED_WORD_OVERHEAD: usize = 12;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Byte classes for quoted-printable: which bytes may stand for themselves.
/// `=` and every non-printable or 8-bit byte must be encoded; space and tab
/// only at the end of a line (where transports may strip them).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Qp {
    Literal,
    Escape,
    Space,
}

const QP_CLASS: [Qp; 256] = {
    let mut table = [Qp::Escape; 256];
    let mut b = 33;
    while b <= 126 {
        table[b] = Qp::Literal;
        b += 1;
    }
    table[b'=' as usize] = Qp::Escape;
    table[b' ' as usize] = Qp::Space;
    table[b'\t' as usize] = Qp::Space;
    table
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// High bit set in exactly the bytes of `w` equal to `b`. Exact (no false
/// positives from borrows), because the DKIM body scan relies on it: a
/// missed byte would produce a wrong hash.
pub(crate) fn bytes_equal(w: u64, b: u8) -> u64 {
    let x = w ^ (ONES * u64::from(b));
    !(((x & LOW7) + LOW7) | x) & HIGH
}

/// High bit set in the bytes of `w` that are at most 0x20 (controls and
/// space), exactly; bytes of 0x80 and above are not flagged.
pub(crate) fn at_most_space(w: u64) -> u64 {
    !((w & LOW7) + ONES * 0x5f) & !w & HIGH
}

/// Bytes per block of the wide scans: plain loops over fixed-size arrays
/// with no early exit, which the compiler turns into SIMD compares (SSE2 on
/// x86-64) — several times faster than SWAR words on long runs of text.
pub(crate) const BLOCK: usize = 32;

/// Whether every flag is set. A fold with `&`, not `all()`: `all()` stops
/// at the first `false`, and that early exit keeps the compiler from
/// turning the test into one SIMD compare (measured: 4–5× slower).
#[inline]
pub(crate) fn all_set(flags: &[bool; BLOCK]) -> bool {
    flags.iter().fold(true, |all, &f| all & f)
}

/// `N` bytes from `at` as an array, or `None` past the end.
#[inline]
pub(crate) fn array_at<const N: usize>(bytes: &[u8], at: usize) -> Option<&[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Every byte of `block` is printable ASCII or space (0x20–0x7e), none is
/// `=`: quoted-printable may copy the block as it is (if it fits the line
/// and a final space is not at a line end).
#[inline]
pub(crate) fn qp_literal_block(block: &[u8; BLOCK]) -> bool {
    // Computed for all bytes, then combined: the form that vectorises.
    let mut literal = [false; BLOCK];
    for (literal, &c) in literal.iter_mut().zip(block) {
        *literal = (c.wrapping_sub(0x20) <= 0x5e) & (c != b'=');
    }
    all_set(&literal)
}

/// Bit `k` set when `block[k]` may stand for itself in quoted-printable
/// (the test of [`qp_literal_block`], as a mask): the run of literal bytes
/// at the start of the block is its count of trailing ones.
#[inline]
pub(crate) fn qp_literal_mask(block: &[u8; BLOCK]) -> u32 {
    let mut mask = 0u32;
    for (k, &c) in block.iter().enumerate() {
        let literal = (c.wrapping_sub(0x20) <= 0x5e) & (c != b'=');
        mask |= u32::from(literal) << k;
    }
    mask
}

/// Eight bytes from `at`, little-endian (a SWAR word).
pub(crate) fn load_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn push_escaped(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[b'=', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]]);
}

/// Appends `input` as quoted-printable text (RFC 2045 §6.7).
///
/// Line breaks (`\n` or `\r\n`) become CRLF hard breaks; a lone `\r` is
/// encoded. Output lines are at most 76 octets; trailing white space is
/// encoded so transports cannot strip it; a `.` at the start of a line is
/// encoded so no relay can mistake it for the SMTP end of data. The output
/// never contains `=` followed by anything but two hex digits or CRLF, which
/// is what makes a MIME boundary starting with `=_` safe (RFC 2045 §6.7 note
/// 8). No CRLF is appended after the last line.
pub fn quoted_printable(input: &[u8], out: &mut Vec<u8>) {
    out.reserve(input.len() + input.len() / 8 + 8);
    let n = input.len();
    let mut col = 0usize;
    let mut i = 0usize;
    while i < n {
        let b = input[i];
        if b == b'\n' {
            out.extend_from_slice(b"\r\n");
            col = 0;
            i += 1;
            continue;
        }
        if b == b'\r' && input.get(i + 1) == Some(&b'\n') {
            out.extend_from_slice(b"\r\n");
            col = 0;
            i += 2;
            continue;
        }
        // Fastest path: a whole output line of plain bytes (the common case
        // in long HTML lines), copied at once and ended with a soft break.
        const FULL: usize = QP_LINE - 1;
        if col == 0
            && b != b'.'
            && i + FULL < n
            && array_at(input, i).is_some_and(qp_literal_block)
            && array_at(input, i + BLOCK).is_some_and(qp_literal_block)
            && array_at(input, i + FULL - BLOCK).is_some_and(qp_literal_block)
            && (input[i + FULL - 1] != b' ' || !matches!(input[i + FULL], b'\r' | b'\n'))
        {
            out.extend_from_slice(&input[i..i + FULL]);
            i += FULL;
            if matches!(input[i], b'\r' | b'\n') {
                col = FULL; // the hard break follows
            } else {
                out.extend_from_slice(b"=\r\n");
            }
            continue;
        }
        // Fast path, one block at a time: the run of bytes that stand for
        // themselves (cut to the room on the line), or one byte that needs
        // `=XX` when it fits. HTML has an `=` in every attribute, so runs
        // are short and the escape must not leave the fast path. White
        // space before a line end, a `.` at the start of a line, tabs and
        // the last bytes of the input take the careful path below.
        let room = QP_LINE - 1 - col;
        if room > 0
            && (b != b'.' || col != 0)
            && let Some(block) = array_at(input, i)
        {
            // The mask costs a few times the all-literal test; text is
            // mostly whole literal blocks.
            let run = if qp_literal_block(block) { BLOCK } else { qp_literal_mask(block).trailing_ones() as usize };
            let run = run.min(room);
            if run > 0 {
                let mut take = run;
                // A space the run ends on must not end a line.
                if input[i + take - 1] == b' ' && matches!(input.get(i + take), None | Some(b'\r' | b'\n')) {
                    take -= 1;
                }
                if take > 0 {
                    out.extend_from_slice(&input[i..i + take]);
                    col += take;
                    i += take;
                    continue;
                }
            } else if QP_CLASS[usize::from(b)] == Qp::Escape && room >= 3 {
                push_escaped(out, b);
                col += 3;
                i += 1;
                continue;
            }
        }
        let at_line_end = match input.get(i + 1) {
            None | Some(b'\n') => true,
            Some(b'\r') => input.get(i + 2) == Some(&b'\n'),
            Some(_) => false,
        };
        let literal = |col: usize| match QP_CLASS[usize::from(b)] {
            Qp::Literal => b != b'.' || col != 0,
            Qp::Space => !at_line_end,
            Qp::Escape => false,
        };
        let width = if literal(col) { 1 } else { 3 };
        // Keep one column for the soft-break `=`.
        if col + width > QP_LINE - 1 {
            out.extend_from_slice(b"=\r\n");
            col = 0;
        }
        if literal(col) {
            out.push(b);
            col += 1;
        } else {
            push_escaped(out, b);
            col += 3;
        }
        i += 1;
    }
}

/// Replaces every control character (C0, DEL, C1 — CR and LF included) with
/// a space and trims: header text comes from people and templates, and a CR
/// or LF in it must never start a new header line.
pub fn sanitize_header_text(value: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = value.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    if trimmed.chars().any(char::is_control) {
        std::borrow::Cow::Owned(trimmed.chars().map(|c| if c.is_control() { ' ' } else { c }).collect())
    } else {
        std::borrow::Cow::Borrowed(trimmed)
    }
}

/// A header field being written, with folding at allowed points so lines
/// stay within [`LINE_SOFT_LIMIT`] wherever the tokens allow.
pub struct HeaderLine<'a> {
    out: &'a mut Vec<u8>,
    col: usize,
    has_token: bool,
}

impl<'a> HeaderLine<'a> {
    /// Writes `Name:`; the value follows as tokens.
    pub fn start(out: &'a mut Vec<u8>, name: &str) -> Self {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        HeaderLine { col: name.len() + 1, out, has_token: false }
    }

    /// Continues a header whose current line is `col` octets long.
    pub fn resume(out: &'a mut Vec<u8>, col: usize) -> Self {
        HeaderLine { out, col, has_token: true }
    }

    /// Current column (octets on the current line).
    pub fn col(&self) -> usize {
        self.col
    }

    /// Appends `sep` then `token`. If that would pass the soft limit, the
    /// header is folded before `sep` (CRLF is inserted, and unfolding
    /// restores the original text exactly). `sep` must be white space; when
    /// it is empty, a fold inserts one space, so pass an empty `sep` only
    /// where the syntax allows optional folding white space.
    pub fn token(&mut self, sep: &[u8], token: &[u8]) {
        if self.has_token && self.col + sep.len() + token.len() > LINE_SOFT_LIMIT {
            self.out.extend_from_slice(b"\r\n");
            if sep.is_empty() {
                self.out.push(b' ');
                self.col = 1;
            } else {
                self.out.extend_from_slice(sep);
                self.col = sep.len();
            }
        } else {
            self.out.extend_from_slice(sep);
            self.col += sep.len();
        }
        self.out.extend_from_slice(token);
        self.col += token.len();
        self.has_token = true;
    }

    /// Ends the field with CRLF.
    pub fn finish(self) {
        self.out.extend_from_slice(b"\r\n");
    }
}

/// Writes a complete unstructured header field (e.g. `Subject`): plain ASCII
/// stays readable and is folded at its own white space; anything else —
/// non-ASCII, words too long to fold, or text that looks like an
/// encoded-word — becomes RFC 2047 encoded-words.
pub fn write_unstructured(out: &mut Vec<u8>, name: &str, value: &str) {
    let value = sanitize_header_text(value);
    let mut h = HeaderLine::start(out, name);
    if value.is_empty() {
        h.finish();
        return;
    }
    if can_stay_raw(&value) {
        let bytes = value.as_bytes();
        let mut i = 0;
        let mut sep: &[u8] = b" ";
        while i < bytes.len() {
            let word_end = bytes[i..].iter().position(|&b| b == b' ' || b == b'\t').map_or(bytes.len(), |p| i + p);
            h.token(sep, &bytes[i..word_end]);
            let ws_end =
                bytes[word_end..].iter().position(|&b| b != b' ' && b != b'\t').map_or(bytes.len(), |p| word_end + p);
            sep = &bytes[word_end..ws_end];
            i = ws_end;
        }
    } else {
        push_encoded_words(&mut h, &value);
    }
    h.finish();
}

/// ASCII text without controls, without anything a decoder could take for an
/// encoded-word, and with every word short enough to fold.
fn can_stay_raw(value: &str) -> bool {
    value.is_ascii()
        && !value.contains("=?")
        && value
            .split([' ', '\t'])
            .all(|w| w.len() <= LINE_SOFT_LIMIT - 2 && w.bytes().all(|b| (0x20..0x7f).contains(&b)))
}

/// RFC 5322 `atext`.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// Writes a display name (RFC 5322 `phrase`): atoms when possible, a
/// quoted-string when short, encoded-words otherwise. Returns false (and
/// writes nothing) when the sanitized name is empty.
pub fn write_phrase(h: &mut HeaderLine<'_>, name: &str) -> bool {
    let name = sanitize_header_text(name);
    if name.is_empty() {
        return false;
    }
    let ascii_ok = name.is_ascii() && !name.contains("=?");
    if ascii_ok && name.bytes().all(|b| is_atext(b) || b == b' ') && name.split(' ').all(|w| w.len() <= 60) {
        for word in name.split(' ').filter(|w| !w.is_empty()) {
            h.token(b" ", word.as_bytes());
        }
    } else if ascii_ok && name.len() <= 60 {
        let mut quoted = Vec::with_capacity(name.len() + 4);
        quoted.push(b'"');
        for b in name.bytes() {
            if b == b'"' || b == b'\\' {
                quoted.push(b'\\');
            }
            quoted.push(b);
        }
        quoted.push(b'"');
        h.token(b" ", &quoted);
    } else {
        push_encoded_words(h, &name);
    }
    true
}

/// Characters that may stand for themselves inside a Q encoded-word in every
/// header context, including phrases (RFC 2047 §5 rule 3).
fn q_literal(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'!' | b'*' | b'+' | b'-' | b'/')
}

fn q_len(b: u8) -> usize {
    if q_literal(b) || b == b' ' { 1 } else { 3 }
}

/// Appends `text` as UTF-8 encoded-words, each a separate foldable token.
/// Adjacent encoded-words are joined without the white space between them
/// when decoded (RFC 2047 §6.2), so the split points are invisible. Q or B
/// is chosen by which is shorter; words never split a character.
fn push_encoded_words(h: &mut HeaderLine<'_>, text: &str) {
    let q_total: usize = text.bytes().map(q_len).sum();
    let b_total = text.len().div_ceil(3) * 4;
    let use_q = q_total <= b_total;
    let payload_max = MAX_ENCODED_WORD - ENCODED_WORD_OVERHEAD;
    // B: whole 3-byte groups only, so each word's base64 stands alone.
    let b_bytes_max = payload_max / 4 * 3;

    let mut word = Vec::with_capacity(MAX_ENCODED_WORD);
    let mut chunk_start = 0;
    let mut chunk_cost = 0;
    let flush = |h: &mut HeaderLine<'_>, chunk: &str, word: &mut Vec<u8>| {
        word.clear();
        if use_q {
            word.extend_from_slice(b"=?UTF-8?Q?");
            for b in chunk.bytes() {
                if b == b' ' {
                    word.push(b'_');
                } else if q_literal(b) {
                    word.push(b);
                } else {
                    push_escaped(word, b);
                }
            }
        } else {
            word.extend_from_slice(b"=?UTF-8?B?");
            push_base64(chunk.as_bytes(), word);
        }
        word.extend_from_slice(b"?=");
        h.token(b" ", word);
    };
    for (idx, c) in text.char_indices() {
        let mut buf = [0u8; 4];
        let encoded = c.encode_utf8(&mut buf);
        let cost = if use_q { encoded.bytes().map(q_len).sum() } else { encoded.len() };
        let max = if use_q { payload_max } else { b_bytes_max };
        if chunk_cost + cost > max && idx > chunk_start {
            flush(h, &text[chunk_start..idx], &mut word);
            chunk_start = idx;
            chunk_cost = 0;
        }
        chunk_cost += cost;
    }
    if chunk_start < text.len() {
        flush(h, &text[chunk_start..], &mut word);
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding, appended to `out`.
fn push_base64(input: &[u8], out: &mut Vec<u8>) {
    for group in input.chunks(3) {
        let b0 = group[0];
        let b1 = group.get(1).copied().unwrap_or(0);
        let b2 = group.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        out.push(B64[(n >> 18) as usize & 63]);
        out.push(B64[(n >> 12) as usize & 63]);
        out.push(if group.len() > 1 { B64[(n >> 6) as usize & 63] } else { b'=' });
        out.push(if group.len() > 2 { B64[n as usize & 63] } else { b'=' });
    }
}

/// Appends the RFC 5322 §3.3 date for a Unix timestamp, in UTC:
/// `Tue, 01 Jul 2025 12:00:00 +0000`.
pub fn write_date(unix_seconds: i64, out: &mut Vec<u8>) {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let text = format!(
        "{weekday}, {day:02} {} {year:04} {:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    out.extend_from_slice(text.as_bytes());
}

/// Days since 1970-01-01 to (year, month 1–12, day 1–31), proleptic
/// Gregorian (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Test inputs: up to `max` of `pieces`, concatenated. Lets a property
/// test put the bytes that matter (white space, line ends, escapes) at every
/// offset of long plain runs.
#[cfg(test)]
pub(crate) fn concatenations(
    pieces: &'static [&'static str],
    max: usize,
) -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::strategy::Strategy;
    proptest::collection::vec(proptest::sample::select(pieces), 0..max).prop_map(|parts| parts.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qp(s: &str) -> String {
        let mut out = Vec::new();
        quoted_printable(s.as_bytes(), &mut out);
        String::from_utf8(out).expect("QP output is ASCII")
    }

    fn qp_decode(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'=' {
                if b[i + 1] == b'\r' {
                    i += 3;
                } else {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("hex");
                    out.push(u8::from_str_radix(hex, 16).expect("hex"));
                    i += 3;
                }
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }

    #[test]
    fn qp_round_trips_and_keeps_lines_short() {
        let inputs = [
            "hello",
            "Grüße aus Köln = schön\nzweite Zeile   \n",
            ".starts with a dot\n.and again",
            &"x".repeat(500),
            &"ü".repeat(200),
            "tab\tat end\t\nspace at end ",
            "lone\rcarriage",
            "crlf\r\nline",
        ];
        for input in inputs {
            let encoded = qp(input);
            for line in encoded.split("\r\n") {
                assert!(line.len() <= 76, "line too long: {line:?}");
                assert!(!line.ends_with(' ') && !line.ends_with('\t'), "trailing white space: {line:?}");
                assert!(!line.starts_with('.'), "leading dot: {line:?}");
            }
            assert!(!encoded.contains("=_"));
            assert!(encoded.is_ascii());
            let expected = input.replace("\r\n", "\n").replace('\n', "\r\n");
            assert_eq!(qp_decode(&encoded), expected.as_bytes(), "input {input:?}");
        }
    }

    #[test]
    fn at_most_space_is_exact() {
        for b in 0..=255u8 {
            let w = u64::from_le_bytes([b'a', b, b'a', b'a', b'a', b'a', b'a', b'a']);
            let expected = if b <= 0x20 { 0x80 << 8 } else { 0 };
            assert_eq!(at_most_space(w), expected, "byte {b:#x}");
            let expected = 0x80u64 << 8;
            assert_eq!(bytes_equal(w, b) & expected, expected, "byte {b:#x}");
        }
    }

    #[test]
    fn qp_literal_block_flags_every_byte_that_needs_encoding() {
        for b in 0..=255u8 {
            for at in [0, 13, BLOCK - 1] {
                let mut block = [b'a'; BLOCK];
                block[at] = b;
                let literal = (0x20..=0x7e).contains(&b) && b != b'=';
                assert_eq!(qp_literal_block(&block), literal, "byte {b:#x} at {at}");
                let run = qp_literal_mask(&block).trailing_ones() as usize;
                assert_eq!(run, if literal { BLOCK } else { at }, "byte {b:#x} at {at}");
            }
        }
    }

    proptest::proptest! {
        // Long plain runs between the bytes that matter, so the block path
        // meets line ends, soft breaks and escapes at every offset.
        #[test]
        fn qp_round_trips_text_with_long_plain_runs(
            s in concatenations(&[
                "0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                "a b", " ", "  ", "\t", "\n", "\r\n", "=", ".", "ü", "x",
            ], 60)
        ) {
            let encoded = qp(&s);
            for line in encoded.split("\r\n") {
                proptest::prop_assert!(line.len() <= 76);
                proptest::prop_assert!(!line.ends_with(' ') && !line.ends_with('\t'));
                proptest::prop_assert!(!line.starts_with('.'));
            }
            let normalized = s.replace("\r\n", "\n").replace('\n', "\r\n");
            proptest::prop_assert_eq!(qp_decode(&encoded), normalized.as_bytes());
        }

        #[test]
        fn qp_round_trips_arbitrary_text(s in "[ -~\t\r\nüß=. ]{0,400}") {
            let encoded = qp(&s);
            for line in encoded.split("\r\n") {
                proptest::prop_assert!(line.len() <= 76);
                proptest::prop_assert!(!line.ends_with(' ') && !line.ends_with('\t'));
                proptest::prop_assert!(!line.starts_with('.'));
            }
            proptest::prop_assert!(!encoded.contains("=_"));
            let normalized = s.replace("\r\n", "\n").replace('\n', "\r\n");
            proptest::prop_assert_eq!(qp_decode(&encoded), normalized.as_bytes());
        }
    }

    #[test]
    fn qp_encodes_equals_and_eight_bit() {
        assert_eq!(qp("a=b ü"), "a=3Db =C3=BC");
        assert_eq!(qp("end "), "end=20");
    }

    #[test]
    fn dates_are_rfc5322() {
        let mut out = Vec::new();
        write_date(0, &mut out);
        assert_eq!(out, b"Thu, 01 Jan 1970 00:00:00 +0000");
        out.clear();
        write_date(1_751_371_200, &mut out);
        assert_eq!(out, b"Tue, 01 Jul 2025 12:00:00 +0000");
        out.clear();
        write_date(951_782_400, &mut out); // leap day
        assert_eq!(out, b"Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn plain_subject_stays_readable_and_folds_at_spaces() {
        let mut out = Vec::new();
        let subject = "Our  newsletter for July with lots of words that will certainly need folding somewhere";
        write_unstructured(&mut out, "Subject", subject);
        let text = String::from_utf8(out).expect("ascii");
        assert!(text.lines().all(|l| l.len() <= 78), "{text}");
        let unfolded = text.trim_end().replace("\r\n", "");
        assert_eq!(unfolded, format!("Subject: {subject}"));
    }

    #[test]
    fn crlf_in_header_text_never_starts_a_header() {
        let mut out = Vec::new();
        write_unstructured(&mut out, "Subject", "Hi\r\nBcc: victim@example.com");
        let text = String::from_utf8(out).expect("ascii");
        for line in text.split("\r\n").skip(1) {
            assert!(line.is_empty() || line.starts_with(' '), "{text:?}");
        }
    }

    #[test]
    fn non_ascii_subject_is_encoded_in_short_words() {
        let mut out = Vec::new();
        write_unstructured(&mut out, "Subject", &"Grüße aus Köln ☕ ".repeat(10));
        let text = String::from_utf8(out).expect("ascii");
        assert!(text.is_ascii());
        for line in text.split("\r\n") {
            assert!(line.len() <= 78, "{line}");
        }
        assert!(text.starts_with("Subject: =?UTF-8?"));
    }

    #[test]
    fn phrases_choose_atoms_quotes_or_encoded_words() {
        let render = |name: &str| {
            let mut out = Vec::new();
            let mut h = HeaderLine::start(&mut out, "From");
            write_phrase(&mut h, name);
            h.token(b" ", b"<a@example.com>");
            h.finish();
            String::from_utf8(out).expect("ascii")
        };
        assert_eq!(render("Shop Team"), "From: Shop Team <a@example.com>\r\n");
        assert_eq!(render("J. \"Jo\" Smith"), "From: \"J. \\\"Jo\\\" Smith\" <a@example.com>\r\n");
        assert_eq!(render("Jürgen"), "From: =?UTF-8?Q?J=C3=BCrgen?= <a@example.com>\r\n");
        assert_eq!(render("=?utf-8?q?x?="), "From: =?UTF-8?B?PT91dGYtOD9xP3g/PQ==?= <a@example.com>\r\n");
    }
}
