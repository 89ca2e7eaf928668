//! Server responses (RFC 3501 §7, §9): what the client needs of them.
//!
//! A [`Frame`] becomes a [`Response`]: a tagged status, a continuation
//! request, or untagged data (status with response code, CAPABILITY,
//! EXISTS, EXPUNGE, SEARCH, FETCH). Anything else is [`Data::Other`] and
//! ignored. Parsing is iterative over bytes: no recursion the server could
//! drive deep, no indexing that can panic.

use super::wire::{Frame, Literal};

/// The status of a status response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
    PreAuth,
    Bye,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::PreAuth => "PREAUTH",
            Status::Bye => "BYE",
        }
    }

    fn parse(word: &[u8]) -> Option<Status> {
        Some(match word.to_ascii_uppercase().as_slice() {
            b"OK" => Status::Ok,
            b"NO" => Status::No,
            b"BAD" => Status::Bad,
            b"PREAUTH" => Status::PreAuth,
            b"BYE" => Status::Bye,
            _ => return None,
        })
    }
}

/// A status response: `OK [CODE args] text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusText {
    pub status: Status,
    /// The response code without brackets, e.g. `UIDVALIDITY 3857529045`.
    pub code: Option<String>,
    pub text: String,
}

impl StatusText {
    /// The response code's name (upper-case), e.g. `TRYCREATE`.
    pub fn code_name(&self) -> Option<String> {
        self.code.as_deref().and_then(|c| c.split_whitespace().next()).map(str::to_ascii_uppercase)
    }

    /// The arguments after the code's name.
    pub fn code_args(&self) -> &str {
        self.code.as_deref().and_then(|c| c.split_once(' ')).map_or("", |(_, a)| a.trim())
    }

    /// Code and text as the server wrote them, shortened for messages.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(c) = &self.code {
            s.push('[');
            s.push_str(c);
            s.push_str("] ");
        }
        s.push_str(&self.text);
        shorten(&s, 300)
    }
}

/// A message body from FETCH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Data(Vec<u8>),
    /// Larger than the limit: not kept.
    TooBig(u64),
}

/// The items of one FETCH response that the client asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fetch {
    pub seq: u32,
    pub uid: Option<u32>,
    pub size: Option<u64>,
    pub flags: Option<Vec<String>>,
    /// `BODY[]` (the whole message).
    pub body: Option<Body>,
}

/// Untagged data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Data {
    Status(StatusText),
    Capability(Vec<String>),
    Exists(u32),
    Expunge(u32),
    Search(Vec<u32>),
    Fetch(Fetch),
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    Tagged {
        tag: String,
        status: StatusText,
    },
    /// `+ text`: the server waits for a literal.
    Continue,
    Data(Data),
}

/// Parses one response; the error says what was wrong.
pub(crate) fn parse(frame: Frame) -> Result<Response, String> {
    let mut t = Tokens { s: &frame.text, i: 0, literals: frame.literals.into_iter() };
    if t.s.starts_with(b"+") {
        return Ok(Response::Continue);
    }
    let tag = t.word().ok_or("empty response")?;
    if tag == b"*" {
        return untagged(&mut t).map(Response::Data);
    }
    if !tag.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'.') {
        return Err(format!("bad tag {:?}", lossy(tag)));
    }
    let tag = lossy(tag);
    let status = status_text(&mut t)?;
    if matches!(status.status, Status::PreAuth | Status::Bye) {
        return Err(format!("tagged {}", status.status.as_str()));
    }
    Ok(Response::Tagged { tag, status })
}

fn untagged(t: &mut Tokens<'_, impl Iterator<Item = Literal>>) -> Result<Data, String> {
    let save = t.i;
    let word = t.word().ok_or("untagged response without content")?;
    if Status::parse(word).is_some() {
        t.i = save;
        return status_text(t).map(Data::Status);
    }
    let upper = word.to_ascii_uppercase();
    match upper.as_slice() {
        b"CAPABILITY" => Ok(Data::Capability(t.rest_words())),
        b"SEARCH" => {
            // Numbers only; a CONDSTORE `(MODSEQ n)` tail is not a UID.
            let rest = t.rest();
            let end = rest.iter().position(|b| *b == b'(').unwrap_or(rest.len());
            let mut uids = Vec::new();
            for w in rest[..end].split(|b| *b == b' ').filter(|w| !w.is_empty()) {
                uids.push(number(w).ok_or_else(|| format!("SEARCH result {:?} is no number", lossy(w)))?);
            }
            Ok(Data::Search(uids))
        }
        _ => {
            let Some(n) = number(word) else { return Ok(Data::Other) };
            let what = t.word().map(<[u8]>::to_ascii_uppercase).unwrap_or_default();
            match what.as_slice() {
                b"EXISTS" => Ok(Data::Exists(n)),
                b"EXPUNGE" => Ok(Data::Expunge(n)),
                b"FETCH" => fetch(t, n).map(Data::Fetch),
                _ => Ok(Data::Other),
            }
        }
    }
}

fn status_text(t: &mut Tokens<'_, impl Iterator<Item = Literal>>) -> Result<StatusText, String> {
    let word = t.word().ok_or("status response without status")?;
    let status = Status::parse(word).ok_or_else(|| format!("unknown status {:?}", lossy(word)))?;
    t.spaces();
    let mut code = None;
    if t.peek() == Some(b'[') {
        let rest = t.rest();
        let close = rest.iter().position(|b| *b == b']').ok_or("response code without ']'")?;
        code = Some(lossy(&rest[1..close]));
        t.i += close + 1;
        t.spaces();
    }
    Ok(StatusText { status, code, text: shorten(&lossy(t.rest()), 1000) })
}

/// `(UID 7 RFC822.SIZE 100 FLAGS (\Seen) BODY[] {100}…)`.
fn fetch(t: &mut Tokens<'_, impl Iterator<Item = Literal>>, seq: u32) -> Result<Fetch, String> {
    let mut f = Fetch { seq, ..Fetch::default() };
    if t.next()? != Tok::Open {
        return Err("FETCH without '('".into());
    }
    loop {
        let key = match t.next()? {
            Tok::Close => return Ok(f),
            Tok::Atom(a) => a.to_ascii_uppercase(),
            other => return Err(format!("FETCH item name expected, got {other:?}")),
        };
        match key.as_slice() {
            b"UID" => f.uid = Some(t.number()?),
            b"RFC822.SIZE" => f.size = Some(u64::from(t.number()?)),
            b"FLAGS" => f.flags = Some(t.flag_list()?),
            k if k.starts_with(b"BODY[]") || k == b"RFC822" => {
                f.body = match t.next()? {
                    Tok::Literal(Literal::Data(d)) => Some(Body::Data(d)),
                    Tok::Literal(Literal::Skipped(n)) => Some(Body::TooBig(n)),
                    Tok::Quoted(q) => Some(Body::Data(q)),
                    Tok::Atom(a) if a.eq_ignore_ascii_case(b"NIL") => None,
                    other => return Err(format!("BODY[] value expected, got {other:?}")),
                }
            }
            _ => t.skip_value()?,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Tok<'a> {
    Atom(&'a [u8]),
    Quoted(Vec<u8>),
    Literal(Literal),
    Open,
    Close,
    End,
}

struct Tokens<'a, L> {
    s: &'a [u8],
    i: usize,
    literals: L,
}

impl<'a, L: Iterator<Item = Literal>> Tokens<'a, L> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn rest(&self) -> &'a [u8] {
        self.s.get(self.i..).unwrap_or(&[])
    }

    fn spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    /// The next space-delimited word.
    fn word(&mut self) -> Option<&'a [u8]> {
        self.spaces();
        let rest = self.rest();
        let len = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
        self.i += len;
        (len > 0).then(|| &rest[..len])
    }

    fn rest_words(&mut self) -> Vec<String> {
        self.rest().split(|b| *b == b' ').filter(|w| !w.is_empty()).take(1000).map(lossy).collect()
    }

    fn next(&mut self) -> Result<Tok<'a>, String> {
        self.spaces();
        let Some(c) = self.peek() else { return Ok(Tok::End) };
        match c {
            b'(' => {
                self.i += 1;
                Ok(Tok::Open)
            }
            b')' => {
                self.i += 1;
                Ok(Tok::Close)
            }
            b'"' => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    match self.peek() {
                        None => return Err("unterminated quoted string".into()),
                        Some(b'"') => {
                            self.i += 1;
                            return Ok(Tok::Quoted(out));
                        }
                        Some(b'\\') => {
                            self.i += 1;
                            let escaped = self.peek().ok_or("unterminated quoted string")?;
                            out.push(escaped);
                            self.i += 1;
                        }
                        Some(b) => {
                            out.push(b);
                            self.i += 1;
                        }
                    }
                }
            }
            b'{' => {
                let rest = self.rest();
                let close = rest.iter().position(|b| *b == b'}').ok_or("'{' without '}'")?;
                self.i += close + 1;
                self.literals.next().map(Tok::Literal).ok_or_else(|| "literal marker without literal".into())
            }
            _ => {
                // An atom; `[…]` inside it (BODY[HEADER.FIELDS (A B)]) may
                // hold spaces and parentheses.
                let rest = self.rest();
                let mut len = 0;
                let mut in_brackets = false;
                for &b in rest {
                    match b {
                        b'[' => in_brackets = true,
                        b']' => in_brackets = false,
                        b' ' | b'(' | b')' | b'"' | b'{' if !in_brackets => break,
                        _ => {}
                    }
                    len += 1;
                }
                self.i += len;
                Ok(Tok::Atom(&rest[..len]))
            }
        }
    }

    fn number(&mut self) -> Result<u32, String> {
        match self.next()? {
            Tok::Atom(a) => number(a).ok_or_else(|| format!("number expected, got {:?}", lossy(a))),
            other => Err(format!("number expected, got {other:?}")),
        }
    }

    fn flag_list(&mut self) -> Result<Vec<String>, String> {
        if self.next()? != Tok::Open {
            return Err("flag list without '('".into());
        }
        let mut flags = Vec::new();
        loop {
            match self.next()? {
                Tok::Close => return Ok(flags),
                Tok::Atom(a) if flags.len() < 1000 => flags.push(lossy(a)),
                Tok::Atom(_) => {}
                other => return Err(format!("flag expected, got {other:?}")),
            }
        }
    }

    /// Skips one value: an atom, string, literal or parenthesised list
    /// (nested lists counted, not recursed).
    fn skip_value(&mut self) -> Result<(), String> {
        let mut depth = 0usize;
        loop {
            match self.next()? {
                Tok::Open => depth += 1,
                Tok::Close if depth > 0 => depth -= 1,
                Tok::Close => return Err("unbalanced ')'".into()),
                Tok::End => return Err("response ends inside a value".into()),
                Tok::Atom(_) | Tok::Quoted(_) | Tok::Literal(_) => {}
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }
}

/// A non-zero 32-bit number (RFC 3501 nz-number / number).
fn number(w: &[u8]) -> Option<u32> {
    if w.is_empty() || w.len() > 10 || !w.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(w).ok()?.parse().ok()
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// At most `max` characters, with an ellipsis when cut.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str, literals: Vec<Literal>) -> Frame {
        Frame { text: text.as_bytes().to_vec(), literals }
    }

    fn p(text: &str) -> Result<Response, String> {
        parse(frame(text, Vec::new()))
    }

    #[test]
    fn status_responses() {
        let r = p("A0001 NO [AUTHENTICATIONFAILED] Authentication failed.").expect("tagged");
        let Response::Tagged { tag, status } = r else { panic!("{r:?}") };
        assert_eq!((tag.as_str(), status.status), ("A0001", Status::No));
        assert_eq!(status.code_name().as_deref(), Some("AUTHENTICATIONFAILED"));
        assert_eq!(status.text, "Authentication failed.");
        let r = p("* OK [PERMANENTFLAGS (\\Seen \\*)] Flags permitted.").expect("untagged");
        let Response::Data(Data::Status(s)) = r else { panic!("{r:?}") };
        assert_eq!((s.code_name().as_deref(), s.code_args()), (Some("PERMANENTFLAGS"), "(\\Seen \\*)"));
        assert_eq!(p("+ go ahead"), Ok(Response::Continue));
        assert_eq!(p("* BYE server shutting down").map(|r| matches!(r, Response::Data(Data::Status(_)))), Ok(true));
        assert!(p("A1 BYE").is_err());
        assert!(p("A1 MAYBE").is_err());
        assert!(p("* OK [UNCLOSED").is_err());
    }

    #[test]
    fn data_responses() {
        assert_eq!(
            p("* CAPABILITY IMAP4rev1 MOVE UIDPLUS"),
            Ok(Response::Data(Data::Capability(vec!["IMAP4rev1".into(), "MOVE".into(), "UIDPLUS".into()])))
        );
        assert_eq!(p("* 23 EXISTS"), Ok(Response::Data(Data::Exists(23))));
        assert_eq!(p("* 3 EXPUNGE"), Ok(Response::Data(Data::Expunge(3))));
        assert_eq!(p("* SEARCH 2 84 882"), Ok(Response::Data(Data::Search(vec![2, 84, 882]))));
        assert_eq!(p("* SEARCH"), Ok(Response::Data(Data::Search(vec![]))));
        assert_eq!(p("* SEARCH 2 5 (MODSEQ 917162500)"), Ok(Response::Data(Data::Search(vec![2, 5]))));
        assert!(p("* SEARCH 2 x").is_err());
        assert_eq!(p("* FLAGS (\\Seen)"), Ok(Response::Data(Data::Other)));
        assert_eq!(p("* 5 RECENT"), Ok(Response::Data(Data::Other)));
        assert_eq!(p("* LIST (\\HasNoChildren) \".\" INBOX"), Ok(Response::Data(Data::Other)));
    }

    #[test]
    fn fetch_responses() {
        let body = b"Subject: x\r\n\r\nhello\r\n".to_vec();
        let r = parse(frame(
            "* 12 FETCH (FLAGS (\\Seen $AssentProcessed) UID 7 RFC822.SIZE 22 \
             ENVELOPE (\"date\" NIL ((\"a\" NIL \"b\" \"c\")) {3}) BODY[] {22})",
            vec![Literal::Data(b"x y".to_vec()), Literal::Data(body.clone())],
        ))
        .expect("fetch");
        let Response::Data(Data::Fetch(f)) = r else { panic!("{r:?}") };
        assert_eq!((f.seq, f.uid, f.size), (12, Some(7), Some(22)));
        assert_eq!(f.flags, Some(vec!["\\Seen".to_string(), "$AssentProcessed".to_string()]));
        assert_eq!(f.body, Some(Body::Data(body)));
        let r = parse(frame("* 1 FETCH (UID 9 BODY[]<0> {99999})", vec![Literal::Skipped(99999)]));
        let Ok(Response::Data(Data::Fetch(f))) = r else { panic!("{r:?}") };
        assert_eq!(f.body, Some(Body::TooBig(99999)));
        let r = p("* 1 FETCH (UID 9 BODY[HEADER.FIELDS (TO FROM)] \"x\" BODY[] \"a\\\"b\")");
        let Ok(Response::Data(Data::Fetch(f))) = r else { panic!("{r:?}") };
        assert_eq!(f.body, Some(Body::Data(b"a\"b".to_vec())));
        assert!(p("* 1 FETCH (UID 9 BODY[] {5})").is_err(), "marker without literal");
        assert!(p("* 1 FETCH (UID x)").is_err());
        assert!(p("* 1 FETCH (UID 1 X (((").is_err());
        assert!(p("* 1 FETCH UID 1").is_err());
    }

    /// Random server output, raw and in IMAP-looking pieces, through the
    /// framing and the parser: errors are fine, panics are not.
    mod props {
        use super::super::super::wire::{Limits, Reader};
        use super::*;
        use proptest::prelude::*;
        use std::time::Duration;

        fn all(input: &[u8]) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
            rt.block_on(async {
                let mut r = Reader::new(input);
                let limits = Limits { max_text: 4096, idle: Duration::from_secs(1) };
                for _ in 0..1000 {
                    let mut keep = 64;
                    let Ok(f) = r.frame(limits, &mut keep).await else { return };
                    let _ = parse(f);
                }
            });
        }

        fn piece() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                Just(b"* ".to_vec()),
                Just(b"A0001 ".to_vec()),
                Just(b"OK ".to_vec()),
                Just(b"NO [".to_vec()),
                Just(b"]".to_vec()),
                Just(b"FETCH (".to_vec()),
                Just(b"UID ".to_vec()),
                Just(b"BODY[] ".to_vec()),
                Just(b"BODY[HEADER.FIELDS (".to_vec()),
                Just(b"(".to_vec()),
                Just(b")".to_vec()),
                Just(b"\"".to_vec()),
                Just(b"\\".to_vec()),
                Just(b"{3}\r\n".to_vec()),
                Just(b"{100}\r\n".to_vec()),
                Just(b"\r\n".to_vec()),
                Just(b"SEARCH 1 2 ".to_vec()),
                Just(b"4294967296 ".to_vec()),
                any::<u32>().prop_map(|n| n.to_string().into_bytes()),
                proptest::collection::vec(any::<u8>(), 0..8),
            ]
        }

        proptest! {
            #[test]
            fn random_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..600)) {
                all(&input);
            }

            #[test]
            fn imap_like_pieces_never_panic(pieces in proptest::collection::vec(piece(), 0..60)) {
                all(&pieces.concat());
            }
        }
    }
}
