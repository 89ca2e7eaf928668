//! The IMAP wire: one connection (plain or TLS) and the framing of server
//! responses (RFC 3501 §7, §4.3 literals).
//!
//! A response is a line that may end in a literal announcement `{n}`; then
//! `n` raw bytes follow and the line continues after them. [`Reader`]
//! collects one whole response as a [`Frame`]: its text (with the `{n}`
//! markers left in place) and its literals. Everything is bounded: a line
//! longer than the limit is an error, a literal larger than what the caller
//! still wants to keep is read and thrown away ([`Literal::Skipped`]), never
//! buffered, and every read has a timeout and a deadline. Hostile input can
//! make a response an error, never a panic or an allocation the server
//! chose.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_rustls::client::TlsStream;

/// A literal larger than this is not even skipped: no mailbox holds such a
/// message, so the server is broken or hostile.
const MAX_SKIP: u64 = 1 << 30;
/// Literals per response (a FETCH of a few items has one or two).
const MAX_LITERALS: usize = 64;
/// How much is asked of the socket at once.
const CHUNK: usize = 16 * 1024;

/// The connection: plain TCP or TLS over it.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Taken apart for the STARTTLS handshake (or after it failed).
    Closed,
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection closed")
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Closed => Poll::Ready(Err(closed())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Closed => Poll::Ready(Err(closed())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Closed => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Closed => Poll::Ready(Ok(())),
        }
    }
}

/// A literal of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Literal {
    Data(Vec<u8>),
    /// Larger than the caller wanted to keep: read and dropped.
    Skipped(u64),
}

/// One whole server response.
#[derive(Debug, Default)]
pub(crate) struct Frame {
    /// The text of the response without line ends; each literal is marked
    /// by its `{n}` announcement.
    pub text: Vec<u8>,
    pub literals: Vec<Literal>,
}

/// Why a response could not be read.
#[derive(Debug)]
pub(crate) enum WireError {
    Timeout(Duration),
    Io(io::Error),
    Closed,
    /// The server broke the framing rules (the connection is unusable).
    Malformed(String),
}

impl From<io::Error> for WireError {
    fn from(e: io::Error) -> Self {
        WireError::Io(e)
    }
}

/// Limits of one response read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// The longest response text (all its lines together).
    pub max_text: usize,
    /// Silence allowed between two reads.
    pub idle: Duration,
}

/// Buffered reading of responses from `S` (also the writer of commands).
pub(crate) struct Reader<S> {
    stream: S,
    buf: Vec<u8>,
    start: usize,
    /// No read may end later than this (the command's time budget).
    deadline: Option<Instant>,
}

impl<S: AsyncRead + Unpin> Reader<S> {
    pub fn new(stream: S) -> Reader<S> {
        Reader { stream, buf: Vec::new(), start: 0, deadline: None }
    }

    pub fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Bytes received but not yet read as a response.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// Reads more bytes into the buffer.
    async fn fill(&mut self, idle: Duration) -> Result<(), WireError> {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start >= CHUNK {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let wait = match self.deadline {
            Some(d) => idle.min(d.saturating_duration_since(Instant::now())),
            None => idle,
        };
        self.buf.reserve(CHUNK);
        match timeout(wait, self.stream.read_buf(&mut self.buf)).await {
            Err(_) => Err(WireError::Timeout(wait)),
            Ok(Err(e)) => Err(WireError::Io(e)),
            Ok(Ok(0)) => Err(WireError::Closed),
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// Appends one line (without its CRLF) to `out`, at most `max` bytes.
    async fn line_into(&mut self, out: &mut Vec<u8>, max: usize, idle: Duration) -> Result<(), WireError> {
        let mut scanned = 0;
        loop {
            let pending = &self.buf[self.start..];
            if let Some(i) = pending[scanned..].iter().position(|b| *b == b'\n') {
                let end = scanned + i;
                let line = &pending[..end];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if out.len() + line.len() > max {
                    return Err(too_long(max));
                }
                out.extend_from_slice(line);
                self.start += end + 1;
                return Ok(());
            }
            scanned = pending.len();
            if out.len() + scanned > max + 1 {
                return Err(too_long(max));
            }
            self.fill(idle).await?;
        }
    }

    /// Takes `n` bytes into `out`.
    async fn take_into(&mut self, mut n: u64, out: &mut Vec<u8>, idle: Duration) -> Result<(), WireError> {
        while n > 0 {
            if self.buffered() == 0 {
                self.fill(idle).await?;
            }
            let have = self.buffered().min(usize::try_from(n).unwrap_or(usize::MAX));
            out.extend_from_slice(&self.buf[self.start..self.start + have]);
            self.start += have;
            n -= have as u64;
        }
        Ok(())
    }

    /// Reads and drops `n` bytes.
    async fn skip(&mut self, mut n: u64, idle: Duration) -> Result<(), WireError> {
        while n > 0 {
            if self.buffered() == 0 {
                self.fill(idle).await?;
            }
            let have = self.buffered().min(usize::try_from(n).unwrap_or(usize::MAX));
            self.start += have;
            n -= have as u64;
        }
        Ok(())
    }

    /// Reads one whole response. Literals are kept while `keep` (bytes the
    /// caller still accepts in this command) allows; larger ones are
    /// skipped and `keep` shrinks by what was kept.
    pub async fn frame(&mut self, limits: Limits, keep: &mut u64) -> Result<Frame, WireError> {
        let mut frame = Frame::default();
        loop {
            let from = frame.text.len();
            self.line_into(&mut frame.text, limits.max_text, limits.idle).await?;
            let Some(n) = literal_announced(&frame.text[from..]) else { return Ok(frame) };
            if frame.literals.len() >= MAX_LITERALS {
                return Err(WireError::Malformed(format!("more than {MAX_LITERALS} literals in one response")));
            }
            let n = n?;
            if n <= *keep {
                // Never reserve what the server announced: only what arrives.
                let mut data = Vec::with_capacity(usize::try_from(n.min(CHUNK as u64)).unwrap_or(CHUNK));
                self.take_into(n, &mut data, limits.idle).await?;
                *keep -= n;
                frame.literals.push(Literal::Data(data));
            } else if n <= MAX_SKIP {
                self.skip(n, limits.idle).await?;
                frame.literals.push(Literal::Skipped(n));
            } else {
                return Err(WireError::Malformed(format!("literal of {n} bytes announced")));
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> Reader<S> {
    /// Writes `bytes` and flushes, within `limit`.
    pub async fn send(&mut self, bytes: &[u8], limit: Duration) -> Result<(), WireError> {
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match timeout(limit, write).await {
            Err(_) => Err(WireError::Timeout(limit)),
            Ok(r) => r.map_err(WireError::Io),
        }
    }
}

impl Reader<Stream> {
    /// Takes the stream out (for the STARTTLS handshake).
    pub fn take_stream(&mut self) -> Stream {
        std::mem::replace(&mut self.stream, Stream::Closed)
    }

    pub fn put_stream(&mut self, stream: Stream) {
        self.stream = stream;
    }
}

fn too_long(max: usize) -> WireError {
    WireError::Malformed(format!("response longer than {max} bytes"))
}

/// The `n` of a line ending in `{n}` (a server never sends `{n+}`, but it
/// is accepted). `Some(Err)` for a number that does not fit.
fn literal_announced(line: &[u8]) -> Option<Result<u64, WireError>> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|b| *b == b'{')?;
    let digits = &body[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // ASCII digits only, so this is UTF-8.
    let text = std::str::from_utf8(digits).unwrap_or("");
    Some(text.parse::<u64>().map_err(|_| WireError::Malformed(format!("literal size {text} does not fit"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_text: 1024, idle: Duration::from_secs(1) };

    async fn frames(input: &[u8], keep: u64) -> Vec<Result<Frame, String>> {
        let mut r = Reader::new(input);
        let mut out = Vec::new();
        loop {
            let mut k = keep;
            match r.frame(LIMITS, &mut k).await {
                Ok(f) => out.push(Ok(f)),
                Err(WireError::Closed) => return out,
                Err(e) => {
                    out.push(Err(format!("{e:?}")));
                    return out;
                }
            }
        }
    }

    #[tokio::test]
    async fn lines_and_literals() {
        let input = b"* OK ready\r\n* 1 FETCH (UID 7 BODY[] {11}\r\nline1\r\nl2\r\n)\r\nA1 OK done\n";
        let f = frames(input, 100).await;
        assert_eq!(f.len(), 3);
        let fetch = f[1].as_ref().expect("fetch");
        assert_eq!(fetch.text, b"* 1 FETCH (UID 7 BODY[] {11})");
        assert_eq!(fetch.literals, vec![Literal::Data(b"line1\r\nl2\r\n".to_vec())]);
        assert_eq!(f[2].as_ref().expect("tagged").text, b"A1 OK done");
    }

    #[tokio::test]
    async fn big_literals_are_skipped_not_kept() {
        let mut input = b"* 1 FETCH (BODY[] {2000}\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 2000));
        input.extend_from_slice(b")\r\nA1 OK\r\n");
        let f = frames(&input, 100).await;
        let fetch = f[0].as_ref().expect("fetch");
        assert_eq!(fetch.literals, vec![Literal::Skipped(2000)]);
        assert_eq!(f[1].as_ref().expect("tagged").text, b"A1 OK");
    }

    #[tokio::test]
    async fn limits_hold() {
        let long = vec![b'a'; 5000];
        let f = frames(&long, 10).await;
        assert!(f[0].as_ref().is_err_and(|e| e.contains("longer than")), "{f:?}");
        let f = frames(b"* X {99999999999999999999999}\r\n", 10).await;
        assert!(f[0].is_err(), "{f:?}");
        let f = frames(b"* X {2000000000}\r\n", 10).await;
        assert!(f[0].as_ref().is_err_and(|e| e.contains("announced")), "{f:?}");
        // A literal cut short by the end of the connection is no frame.
        assert!(frames(b"* X {10}\r\nabc", 100).await.is_empty());
    }

    #[test]
    fn announcements() {
        assert!(matches!(literal_announced(b"A {12}"), Some(Ok(12))));
        assert!(matches!(literal_announced(b"A {12+}"), Some(Ok(12))));
        assert!(literal_announced(b"A {}").is_none());
        assert!(literal_announced(b"A {1a}").is_none());
        assert!(literal_announced(b"A 12}").is_none());
    }
}
