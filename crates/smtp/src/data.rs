//! The message content of `DATA` (RFC 5321 §4.5.2 transparency, §2.3.8
//! line endings).
//!
//! Every line ends in CRLF on the wire (a bare LF or bare CR is turned into
//! CRLF: servers reject bare line ends), a line that starts with `.` gets a
//! second `.` in front so the server cannot take it for the end of data,
//! and the content ends with CRLF `.` CRLF.

/// Appends `message`, dot-stuffed and CRLF-normalised, and the
/// end-of-data marker to `out`.
pub fn stuff_into(message: &[u8], out: &mut Vec<u8>) {
    out.reserve(message.len() + message.len() / 64 + 8);
    // What Assent itself sends is already in wire form (CRLF everywhere, no
    // line starting with a dot: quoted-printable escapes those): copy it.
    if is_wire_form(message) {
        out.extend_from_slice(message);
        out.extend_from_slice(b".\r\n");
        return;
    }
    stuff_lines(message, out);
}

/// The general case of [`stuff_into`], line by line.
fn stuff_lines(message: &[u8], out: &mut Vec<u8>) {
    let mut rest = message;
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.contains(&b'\r') {
            for (k, segment) in line.split(|&b| b == b'\r').enumerate() {
                if k > 0 {
                    out.extend_from_slice(b"\r\n");
                }
                push_line(segment, out);
            }
        } else {
            push_line(line, out);
        }
        out.extend_from_slice(b"\r\n");
        rest = next;
    }
    out.extend_from_slice(b".\r\n");
}

/// Whether `message` needs no change for `DATA`: every CR is followed by
/// LF and every LF preceded by CR, no line starts with `.`, and the last
/// line is terminated.
fn is_wire_form(message: &[u8]) -> bool {
    if !message.ends_with(b"\r\n") || message.first() == Some(&b'.') {
        return false;
    }
    // Every LF preceded by CR, and as many CRs as LFs: then every CR is
    // the one before an LF. One search and one vectorised count instead
    // of visiting both bytes of every line end.
    let mut line_ends = 0;
    for i in memchr::memchr_iter(b'\n', message) {
        if i == 0 || message[i - 1] != b'\r' || message.get(i + 1) == Some(&b'.') {
            return false;
        }
        line_ends += 1;
    }
    line_ends == count_cr(message)
}

/// The number of CRs in `bytes`. Counted per 64-byte chunk into a `u8`
/// (at most 64 fits), the form that compiles to SIMD compares: a plain
/// `filter().count()` over the bytes is about ten times slower.
fn count_cr(bytes: &[u8]) -> usize {
    let mut chunks = bytes.chunks_exact(64);
    let mut count = 0;
    for chunk in &mut chunks {
        let mut n = 0u8;
        for &b in chunk {
            n += u8::from(b == b'\r');
        }
        count += usize::from(n);
    }
    count + chunks.remainder().iter().filter(|&&b| b == b'\r').count()
}

fn push_line(line: &[u8], out: &mut Vec<u8>) {
    if line.first() == Some(&b'.') {
        out.push(b'.');
    }
    out.extend_from_slice(line);
}

/// Dot-stuffs `message` into a new buffer (see [`stuff_into`]).
pub fn stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    stuff_into(message, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy as _;

    use super::*;

    #[test]
    fn lone_dot_and_double_dot_lines_are_stuffed() {
        assert_eq!(stuff(b"a\r\n.\r\n..\r\n.x\r\nb\r\n"), b"a\r\n..\r\n...\r\n..x\r\nb\r\n.\r\n");
        assert_eq!(stuff(b".\r\n"), b"..\r\n.\r\n");
    }

    #[test]
    fn line_endings_are_normalised() {
        assert_eq!(stuff(b"a\nb\r\nc"), b"a\r\nb\r\nc\r\n.\r\n");
        assert_eq!(stuff(b"a\rb\r\n"), b"a\r\nb\r\n.\r\n");
        assert_eq!(stuff(b"a\r\r\n.b"), b"a\r\n\r\n..b\r\n.\r\n");
        assert_eq!(stuff(b"a\r.b\r\n"), b"a\r\n..b\r\n.\r\n");
    }

    #[test]
    fn empty_and_unterminated() {
        assert_eq!(stuff(b""), b".\r\n");
        assert_eq!(stuff(b"x"), b"x\r\n.\r\n");
        assert_eq!(stuff(b"\r\n"), b"\r\n.\r\n");
        assert_eq!(stuff(b"x\r\n\r\n"), b"x\r\n\r\n.\r\n");
    }

    #[test]
    fn wire_form_is_copied() {
        let m = b"From: a@b.example\r\n\r\nline\r\n=2E dotted\r\n";
        let mut out = Vec::new();
        stuff_into(m, &mut out);
        assert_eq!(&out[..m.len()], m);
        assert_eq!(&out[m.len()..], b".\r\n");
        assert!(!is_wire_form(b"a\r\n.b\r\n") && !is_wire_form(b"a\nb\r\n") && !is_wire_form(b"a\r\nb"));
        let long: Vec<u8> = b"x\r\n".iter().copied().cycle().take(3 * 70).collect();
        assert_eq!(count_cr(&long), 70);
        // A bare CR anywhere, even next to a CRLF.
        assert!(!is_wire_form(b"a\rb\r\n") && !is_wire_form(b"a\r\r\nb\r\n") && !is_wire_form(b"a\r\n\r"));
    }

    proptest::proptest! {
        #[test]
        fn the_copy_agrees_with_the_line_by_line_path(parts in proptest::collection::vec(proptest::prop_oneof![
            proptest::strategy::Just(b"\r\n".to_vec()),
            proptest::strategy::Just(b".".to_vec()),
            proptest::strategy::Just(b"\n".to_vec()),
            proptest::strategy::Just(b"\r".to_vec()),
            "[a-z .]{0,6}".prop_map(String::into_bytes),
        ], 0..40)) {
            let m = parts.concat();
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            stuff_into(&m, &mut fast);
            stuff_lines(&m, &mut slow);
            proptest::prop_assert_eq!(fast, slow);
        }
    }

    #[test]
    fn never_contains_an_early_end_marker() {
        let s = stuff(b"Subject: x\r\n\r\n.\r\n\n.\n.\r.\r\n");
        let body = &s[..s.len() - 3];
        assert!(!body.windows(5).any(|w| w == b"\r\n.\r\n"), "{:?}", String::from_utf8_lossy(&s));
        assert!(s.ends_with(b"\r\n.\r\n"));
    }
}
