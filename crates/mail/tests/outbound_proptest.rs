//! Properties of message assembly over arbitrary Unicode input: it never
//! panics, the result is 7-bit with lines of at most 998 octets, no input
//! can add a header line, and an independent parser decodes the text back.

mod outbound_support;

use assent_domain::EmailAddress;
use assent_mail::outbound::encode::sanitize_header_text;
use assent_mail::outbound::{CampaignMessage, ListId, Mailbox, MessageId, css, text};
use mail_parser::MessageParser;
use outbound_support::assert_wire_safe;
use proptest::prelude::*;

/// Arbitrary text, biased towards the characters that break mail: line
/// breaks, encoded-word markers, white space, non-ASCII.
fn nasty_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => any::<char>(),
            1 => Just('\r'),
            1 => Just('\n'),
            1 => Just(' '),
            1 => Just('\t'),
            1 => Just('='),
            1 => Just('?'),
            1 => Just('"'),
            1 => Just('ü'),
            1 => Just('.'),
        ],
        0..300,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

const HEADERS: [&str; 14] = [
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
    "X-CSA-Complaints",
    "Content-Type",
    "Content-Transfer-Encoding",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn campaign_messages_are_wire_safe(
        from_name in nasty_text(),
        to_name in prop::option::of(nasty_text()),
        reply_name in prop::option::of(nasty_text()),
        subject in nasty_text(),
        list_name in nasty_text(),
        text in nasty_text(),
        html in nasty_text(),
        long_word in 0usize..400,
    ) {
        let from = EmailAddress::parse("news@example.com").expect("address");
        let to = EmailAddress::parse("a.b+tag@sub.example.org").expect("address");
        let id = MessageId::new("p1", 1, "example.com").expect("id");
        let subject = format!("{subject}{}", "W".repeat(long_word));
        let msg = CampaignMessage {
            from: Mailbox::new(Some(&from_name), &from),
            to: Mailbox::new(to_name.as_deref(), &to),
            reply_to: reply_name.as_deref().map(|n| Mailbox::new(Some(n), &from)),
            subject: &subject,
            date: 1_751_371_200,
            message_id: &id,
            list_id: ListId { name: &list_name, id: "1.lists.example.com" },
            unsubscribe_url: "https://example.com/u/T",
            unsubscribe_mailto: "unsubscribe+T@example.com",
            feedback_id: "1:2:news:assent",
            csa_complaints: true,
            text: &text,
            html: &html,
        };
        let bytes = msg.to_bytes().expect("free text never makes assembly fail");
        assert_wire_safe(&bytes);

        let s = String::from_utf8(bytes.clone()).expect("ascii");
        let (head, _) = s.split_once("\r\n\r\n").expect("header/body separator");
        let mut seen = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with(' ') || line.starts_with('\t') {
                continue;
            }
            let name = line.split(':').next().unwrap_or_default();
            prop_assert!(HEADERS.contains(&name), "unexpected header line {:?}", line);
            seen.push(name.to_owned());
        }
        let expected = 12 + usize::from(reply_name.is_some());
        prop_assert_eq!(seen.len(), expected, "{:?}", seen);
        seen.sort();
        seen.dedup();
        prop_assert_eq!(seen.len(), expected, "a header appears twice");

        let parsed = MessageParser::default().parse(&bytes).expect("parses");
        let want_subject = sanitize_header_text(&subject);
        // mail-parser unfolds `CRLF WSP+` to one space, so it sees runs of
        // white space at a fold collapsed; RFC 5322 unfolding (removing the
        // CRLF only) must give the subject exactly.
        let squeeze = |t: &str| t.split([' ', '\t']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
        prop_assert_eq!(squeeze(parsed.subject().unwrap_or("")), squeeze(&want_subject));
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", "\t");
        let raw_subject = unfolded.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap_or_default();
        if !raw_subject.starts_with("=?") {
            prop_assert_eq!(raw_subject, want_subject.as_ref());
        }
        let body_text = parsed.body_text(0).map(|t| t.replace("\r\n", "\n")).unwrap_or_default();
        prop_assert_eq!(body_text, text.replace("\r\n", "\n"));
    }

    #[test]
    fn html_helpers_never_panic(input in nasty_text(), tags in prop::collection::vec(
        prop_oneof![
            Just("<p>"), Just("</p>"), Just("<a href=\"x\">"), Just("</a>"), Just("<style>p{color:red}"),
            Just("</style>"), Just("<!--"), Just("-->"), Just("<br/>"), Just("<td class='a b'>"), Just("&amp;"),
            Just("&#x1F600;"), Just("&#99999999;"), Just("<"), Just(">"), Just("{{ x }}"), Just("<pre>"), Just("</pre>"),
        ],
        0..30,
    )) {
        let mut html = input;
        for (i, tag) in tags.iter().enumerate() {
            let at = html.char_indices().nth(i * 3).map_or(html.len(), |(p, _)| p);
            html.insert_str(at, tag);
        }
        let text = text::html_to_text(&html);
        prop_assert!(!text.lines().any(|l| l.ends_with(' ')));
        let _ = css::inline_css(&html);
    }
}
