//! DKIM signatures checked by independent verifiers fed the published TXT
//! records — Python's dkimpy and Perl's Mail::DKIM: both signatures of a
//! campaign message verify, for plain, non-ASCII, long-line and
//! header-folded messages, and any tampering makes them fail.

mod outbound_support;

use assent_mail::outbound::{DkimAlgorithm, DkimKey, DkimSigner, sign_all};
use outbound_support::*;

const MODULES: &str = "dkim, nacl";

fn verify(test: &str, message: &[u8]) -> Vec<bool> {
    dkimpy_verify(test, message, &dns_records_json(&signers()))
}

#[test]
fn both_signatures_verify() {
    if !python_has(MODULES) {
        return;
    }
    let signed = Sample::new().signed(&signers());
    assert_wire_safe(&signed);
    let headers = header_block(&signed);
    assert!(headers.starts_with("DKIM-Signature: v=1; a=rsa-sha256;"), "{headers}");
    assert_eq!(headers.matches("DKIM-Signature:").count(), 2);
    assert!(headers.contains("a=ed25519-sha256"));
    assert_eq!(verify("both", &signed), [true, true]);
}

#[test]
fn non_ascii_names_and_subject_verify() {
    if !python_has(MODULES) {
        return;
    }
    let mut sample = Sample::new();
    sample.from_name = "Bäckerei Müller & Söhne".into();
    sample.to_name = Some("Zoë Øster 🙂".into());
    sample.subject = "Grüße aus Köln — 20 % auf alles ☕".into();
    sample.list_name = "Neuigkeiten für Kunden".into();
    sample.text = "Schöne Grüße\n".repeat(20);
    sample.html = "<p>Schöne Grüße – ✓</p>".repeat(20);
    let signed = sample.signed(&signers());
    assert_wire_safe(&signed);
    assert_eq!(verify("non-ascii", &signed), [true, true]);
}

#[test]
fn long_lines_and_folded_headers_verify() {
    if !python_has(MODULES) {
        return;
    }
    let mut sample = Sample::new();
    sample.subject = "A very long subject line that goes on and on, well past the seventy-eight columns \
                      a header line should have, so it must be folded at least twice to stay readable"
        .into();
    sample.unsubscribe_url = format!("https://app.example.com/u/{}", "x".repeat(300));
    sample.html = format!("<p>{}</p>", "word&nbsp;".repeat(2000));
    sample.text = format!("{}\n  trailing spaces   \n\n\n", "y".repeat(5000));
    let signed = sample.signed(&signers());
    assert_wire_safe(&signed);
    let headers = header_block(&signed);
    assert!(headers.contains("Subject: A very long subject line"));
    assert!(headers.contains("\r\n "), "expected folded header lines");
    assert_eq!(verify("long", &signed), [true, true]);
}

#[test]
fn tampering_breaks_both_signatures() {
    if !python_has(MODULES) {
        return;
    }
    let signed = String::from_utf8(Sample::new().signed(&signers())).expect("ascii");

    let body_changed = signed.replacen("our July offers", "our JULY offers", 1);
    assert_ne!(body_changed, signed);
    assert_eq!(verify("tamper-body", body_changed.as_bytes()), [false, false]);

    let subject_changed = signed.replacen("Subject: Our July newsletter", "Subject: Our June newsletter", 1);
    assert_ne!(subject_changed, signed);
    assert_eq!(verify("tamper-subject", subject_changed.as_bytes()), [false, false]);

    let unsubscribe_changed = signed.replacen("https://app.example.com/u/", "https://evil.example.net/u/", 1);
    assert_ne!(unsubscribe_changed, signed);
    assert_eq!(verify("tamper-unsub", unsubscribe_changed.as_bytes()), [false, false]);

    // Over-signing: a second From added below the signatures breaks them.
    let extra_from = signed.replacen("From: ", "From: Mallory <m@evil.example.net>\r\nFrom: ", 1);
    assert_eq!(verify("tamper-from", extra_from.as_bytes()), [false, false]);

    // Relaxed canonicalisation tolerates what relays do to white space.
    let rewrapped = signed.replacen("Subject: Our July", "Subject:  Our \t July", 1);
    assert_eq!(verify("relaxed", rewrapped.as_bytes()), [true, true]);
}

/// The samples of the tests above, as Mail::DKIM sees them.
#[test]
fn mail_dkim_agrees() {
    if !perl_has_mail_dkim() {
        return;
    }
    let records = dns_records_json(&signers());
    let mut non_ascii = Sample::new();
    non_ascii.from_name = "Bäckerei Müller & Söhne".into();
    non_ascii.subject = "Grüße aus Köln — 20 % auf alles ☕".into();
    non_ascii.html = "<p>Schöne Grüße – ✓</p>".repeat(20);
    let mut long = Sample::new();
    long.subject = "A very long subject line that goes on and on, well past the seventy-eight columns \
                    a header line should have, so it must be folded at least twice"
        .into();
    long.html = format!("<p>{}</p>", "word&nbsp;".repeat(2000));
    long.text = format!("{}\n  trailing spaces   \n\n\n", "y".repeat(5000));
    let plain = String::from_utf8(Sample::new().signed(&signers())).expect("ascii");
    let rewrapped = plain.replacen("Subject: Our July", "Subject:  Our \t July", 1);
    let tampered = plain.replacen("our July offers", "our JULY offers", 1);
    assert_ne!(tampered, plain);

    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("perl-plain", plain.clone().into_bytes(), "pass"),
        ("perl-non-ascii", non_ascii.signed(&signers()), "pass"),
        ("perl-long", long.signed(&signers()), "pass"),
        ("perl-relaxed", rewrapped.into_bytes(), "pass"),
        ("perl-tampered", tampered.into_bytes(), "fail"),
    ];
    for (name, message, want) in cases {
        let results = mail_dkim_verify(name, &message, &records);
        assert_eq!(results.len(), 2, "{name}: {results:?}");
        let (alg, result, detail) = &results[0];
        assert_eq!((alg.as_str(), result.as_str()), ("rsa-sha256", want), "{name}: {detail}");
        // Mail::DKIM before 1.20240619 (Debian 12's) knows no Ed25519;
        // a version that does must agree.
        let (alg, result, detail) = &results[1];
        assert_eq!(alg, "ed25519-sha256", "{name}");
        assert!(result == want || detail.contains("unsupported algorithm"), "{name}: {result} ({detail})");
    }
}

#[test]
fn wrong_key_in_dns_fails() {
    if !python_has(MODULES) {
        return;
    }
    let signed = Sample::new().signed(&signers());
    let other = DkimSigner::new(DkimKey::generate_ed25519().expect("keygen"), DOMAIN, ED_SELECTOR).expect("signer");
    let records = serde_json::json!({
        format!("{RSA_SELECTOR}._domainkey.{DOMAIN}"): rsa_key().dns_txt_value(),
        format!("{ED_SELECTOR}._domainkey.{DOMAIN}"): other.key().dns_txt_value(),
    });
    assert_eq!(dkimpy_verify("wrong-key", &signed, &records.to_string()), [true, false]);
}

#[test]
fn freshly_generated_keys_sign_verifiably() {
    let rsa = DkimKey::generate_rsa2048().expect("rsa keygen");
    assert_eq!(rsa.algorithm(), DkimAlgorithm::RsaSha256);
    let txt = rsa.dns_txt_value();
    assert!(txt.starts_with("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"), "{txt}");
    // The stored form loads back to the same key.
    let reloaded = DkimKey::from_pkcs8_der(rsa.to_pkcs8_der()).expect("reload");
    assert_eq!(reloaded.dns_txt_value(), txt);

    let ed = DkimKey::generate_ed25519().expect("ed keygen");
    let signers = [
        DkimSigner::new(rsa, DOMAIN, RSA_SELECTOR).expect("signer"),
        DkimSigner::new(ed, DOMAIN, ED_SELECTOR).expect("signer"),
    ];
    let body = Sample::new().message().to_bytes().expect("message");
    let sigs = sign_all(&signers, &body, DATE as u64).expect("signs");
    let mut signed = sigs.into_bytes();
    signed.extend_from_slice(&body);
    if python_has(MODULES) {
        assert_eq!(dkimpy_verify("fresh", &signed, &dns_records_json(&signers)), [true, true]);
    }
}

#[test]
fn signature_lists_headers_and_over_signs_from() {
    let signed = Sample::new().signed(&signers());
    let headers = header_block(&signed).replace("\r\n ", " ");
    let first = headers.lines().next().expect("first line");
    let h = first.split("; ").find(|t| t.starts_with("h=")).expect("h= tag").replace(' ', "");
    assert_eq!(
        h,
        "h=from:from:to:subject:date:message-id:mime-version:content-type:list-id:list-unsubscribe:\
         list-unsubscribe-post:feedback-id"
    );
    assert!(first.contains("c=relaxed/relaxed"));
    assert!(first.contains(&format!("t={DATE}")));
    assert!(!headers.contains("rsa-sha1"));
    for line in header_block(&signed).split("\r\n") {
        assert!(line.len() <= 78, "DKIM header line over 78: {line}");
    }
}

#[test]
fn single_signer_helper_matches_sign_all() {
    let [rsa, ed] = signers();
    let body = Sample::new().message().to_bytes().expect("message");
    let both = sign_all([&rsa, &ed], &body, 5).expect("signs");
    let one = rsa.sign(&body, 5).expect("signs");
    let two = ed.sign(&body, 5).expect("signs");
    assert_eq!(both, format!("{one}{two}"));
}

#[test]
fn reply_to_is_signed_when_present() {
    let sample = Sample::new();
    let support = assent_domain::EmailAddress::parse("support@news.example.com").expect("address");
    let message = assent_mail::outbound::CampaignMessage {
        reply_to: Some(assent_mail::outbound::Mailbox::new(Some("Support"), &support)),
        ..sample.message()
    };
    let body = message.to_bytes().expect("message");
    let signers = signers();
    let mut signed = sign_all(&signers, &body, DATE as u64).expect("signs").into_bytes();
    signed.extend_from_slice(&body);
    let headers = header_block(&signed).replace("\r\n ", " ");
    assert!(headers.contains("h=from:from:reply-to:to:"), "{headers}");
    if python_has(MODULES) {
        assert_eq!(verify("reply-to", &signed), [true, true]);
        let text = String::from_utf8(signed).expect("ascii");
        let redirected = text.replacen("Reply-To: Support <support@", "Reply-To: Support <phish@", 1);
        assert_eq!(verify("reply-to-tampered", redirected.as_bytes()), [false, false]);
    }
}
