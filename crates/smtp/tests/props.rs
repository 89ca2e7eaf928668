//! Properties of the pure parts: reply parsing never panics and finds what
//! was written; dot-stuffing is undone exactly by a receiving server.

use assent_smtp::data::stuff;
use assent_smtp::{EnhancedCode, RecipientOutcome, Stage, parse_reply};
use proptest::prelude::*;

/// What a server does with the stuffed content (RFC 5321 §4.5.2).
fn unstuff(wire: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = wire;
    loop {
        let nl = rest.windows(2).position(|w| w == b"\r\n")?;
        let line = &rest[..nl];
        rest = &rest[nl + 2..];
        if line == b"." {
            return rest.is_empty().then_some(out);
        }
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        out.extend_from_slice(b"\r\n");
    }
}

/// The message with every line end made CRLF, as the client sends it.
fn normalised(message: &[u8]) -> Vec<u8> {
    let text = message.to_vec();
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'\r' if text.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
            }
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn reply_parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(Some((reply, used))) = parse_reply(&bytes) {
            prop_assert!(used <= bytes.len());
            prop_assert!((200..600).contains(&reply.code));
            let _ = reply.to_string();
            let _ = RecipientOutcome::from_reply(&reply, Stage::Rcpt).to_string();
        }
    }

    #[test]
    fn reply_parsing_never_panics_on_reply_like_input(
        lines in proptest::collection::vec("[2-5][0-9][0-9][ -]?[0-9. A-Za-z]{0,30}\r?\n?", 0..6)
    ) {
        let bytes = lines.concat().into_bytes();
        let _ = parse_reply(&bytes);
    }

    #[test]
    fn written_replies_are_read_back(
        code in 200u16..600,
        subject in 0u16..1000,
        detail in 0u16..1000,
        texts in proptest::collection::vec("[A-Za-z][A-Za-z0-9 ,:<>@.]{0,40}", 1..5),
    ) {
        let class = (code / 100) as u8;
        let enhanced = (class != 3).then_some(EnhancedCode { class, subject, detail });
        let mut wire = String::new();
        for (i, t) in texts.iter().enumerate() {
            let sep = if i + 1 == texts.len() { ' ' } else { '-' };
            match enhanced {
                Some(e) => wire.push_str(&format!("{code}{sep}{e} {t}\r\n")),
                None => wire.push_str(&format!("{code}{sep}{t}\r\n")),
            }
        }
        wire.push_str("250 next\r\n");
        let (reply, used) = parse_reply(wire.as_bytes()).expect("valid").expect("complete");
        prop_assert_eq!(used, wire.len() - "250 next\r\n".len());
        prop_assert_eq!(reply.code, code);
        prop_assert_eq!(reply.enhanced, enhanced);
        let lines: Vec<&str> = reply.lines().collect();
        prop_assert_eq!(lines, texts.iter().map(|t| t.trim_start()).collect::<Vec<_>>());
        // Every prefix is incomplete, never an error.
        for cut in 0..used {
            if wire.is_char_boundary(cut) && !wire[..cut].ends_with('\n') {
                prop_assert_eq!(parse_reply(&wire.as_bytes()[..cut]), Ok(None));
            }
        }
    }

    #[test]
    fn dot_stuffing_round_trips(
        lines in proptest::collection::vec(prop_oneof![
            Just(".".to_string()), Just("..".to_string()), Just(String::new()),
            "\\.?[ -~]{0,20}", "[a-z.]{0,5}\r", "[a-z.]{0,5}\n",
        ], 0..20),
        end in prop_oneof![Just(""), Just("\r\n"), Just("\n")],
    ) {
        let message = format!("{}{end}", lines.join("\r\n")).into_bytes();
        let wire = stuff(&message);
        prop_assert!(wire.ends_with(b".\r\n"));
        let back = unstuff(&wire);
        prop_assert_eq!(back, Some(normalised(&message)));
    }
}
