//! The message content after `DATA` (RFC 5321 §4.1.1.4, §4.5.2): lines
//! up to the lone `.` that ends it, with the transparency dot removed and
//! line endings made CRLF, and the size limit (RFC 1870) enforced while
//! reading, so an oversized message never sits in memory.
//!
//! [`DataReader`] is fed bytes as they arrive and says how many it took;
//! it is pure, so the socket handling in `session` stays small.

/// Where the end-of-data marker search stands.
#[derive(Debug)]
pub(crate) struct DataReader {
    message: Vec<u8>,
    limit: usize,
    /// Octets that did not fit under the limit (dropped, but counted).
    overflow: u64,
    /// The next byte starts a line (the marker and dot-stuffing only apply there).
    at_line_start: bool,
}

/// The result of [`DataReader::feed`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fed {
    /// Took this many bytes; the message goes on.
    More(usize),
    /// Took this many bytes, the last of them the end marker.
    Done(usize),
}

/// A partial line is taken once this much of it is buffered, so one
/// endless line cannot grow the buffer without bound.
pub(crate) const PARTIAL_LINE: usize = 64 * 1024;

impl DataReader {
    pub(crate) fn new(limit: usize) -> DataReader {
        DataReader { message: Vec::new(), limit, overflow: 0, at_line_start: true }
    }

    /// Takes complete lines from `input` (and a long partial line), up to
    /// and including the end marker.
    pub(crate) fn feed(&mut self, input: &[u8]) -> Fed {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            let (segment, complete) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..=i], true),
                // Keep a short tail for the next read: it may be the start of
                // the end marker or of a dot-stuffed line.
                None if rest.len() >= PARTIAL_LINE => (rest, false),
                None => return Fed::More(used),
            };
            used += segment.len();
            if self.at_line_start && complete && matches!(segment, b".\r\n" | b".\n") {
                return Fed::Done(used);
            }
            let mut content = segment;
            if self.at_line_start && content.first() == Some(&b'.') {
                content = &content[1..];
            }
            if complete {
                let line = content.strip_suffix(b"\n").unwrap_or(content);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                self.push(line);
                self.push(b"\r\n");
            } else {
                self.push(content);
            }
            self.at_line_start = complete;
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.overflow == 0 && self.message.len() + bytes.len() <= self.limit {
            self.message.extend_from_slice(bytes);
        } else {
            self.overflow += bytes.len() as u64;
        }
    }

    /// True once the message went over the limit.
    pub(crate) fn too_big(&self) -> bool {
        self.overflow > 0
    }

    /// Everything read past the limit; the caller stops reading (and
    /// drops the connection) when a client keeps sending far beyond it.
    pub(crate) fn overflow(&self) -> u64 {
        self.overflow
    }

    pub(crate) fn into_message(self) -> Vec<u8> {
        self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(chunks: &[&[u8]], limit: usize) -> (Vec<u8>, bool, usize) {
        let mut r = DataReader::new(limit);
        let mut pending: Vec<u8> = Vec::new();
        let mut done_at = None;
        for c in chunks {
            pending.extend_from_slice(c);
            match r.feed(&pending) {
                Fed::More(n) => {
                    pending.drain(..n);
                }
                Fed::Done(n) => {
                    pending.drain(..n);
                    done_at = Some(pending.len());
                    break;
                }
            }
        }
        let left = done_at.expect("end marker seen");
        let too_big = r.too_big();
        (r.into_message(), too_big, left)
    }

    #[test]
    fn unstuffs_and_normalises() {
        let (m, big, left) = read_all(&[b"Subject: x\r\n\r\n..dot\r\nbare\nend\r\n.\r\nQUIT\r\n"], 1000);
        assert_eq!(m, b"Subject: x\r\n\r\n.dot\r\nbare\r\nend\r\n");
        assert!(!big);
        assert_eq!(left, 6, "what follows the marker stays for the command reader");
    }

    #[test]
    fn marker_split_across_reads() {
        let (m, _, _) = read_all(&[b"a\r\n", b".", b"\r", b"\n"], 1000);
        assert_eq!(m, b"a\r\n");
        let (m, _, _) = read_all(&[b"a\r\n.", b"b\r\n.\r\n"], 1000);
        assert_eq!(m, b"a\r\nb\r\n");
    }

    #[test]
    fn a_dot_inside_a_line_is_no_marker() {
        let (m, _, _) = read_all(&[b"x.\r\n.\r\n", b""], 1000);
        assert_eq!(m, b"x.\r\n");
    }

    #[test]
    fn over_the_limit_is_dropped_but_read_to_the_end() {
        let (m, big, _) = read_all(&[b"0123456789\r\n0123456789\r\n.\r\n"], 15);
        assert!(big);
        assert_eq!(m, b"0123456789\r\n");
    }

    #[test]
    fn endless_lines_are_taken_in_pieces() {
        let long = vec![b'a'; PARTIAL_LINE * 3];
        let mut r = DataReader::new(PARTIAL_LINE);
        assert_eq!(r.feed(&long), Fed::More(long.len()));
        assert!(r.too_big());
        // The partial line is no line start: a following ".\r\n" ends that line, not the data.
        assert_eq!(r.feed(b".\r\n"), Fed::More(3));
        assert_eq!(r.feed(b".\r\n"), Fed::Done(3));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_never_exceeds_the_limit(input in proptest::collection::vec(proptest::num::u8::ANY, 0..2000), limit in 0usize..500) {
            let mut r = DataReader::new(limit);
            let _ = r.feed(&input);
            proptest::prop_assert!(r.into_message().len() <= limit);
        }
    }
}
