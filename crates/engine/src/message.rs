//! Turns rendered transactional content into a MIME message.

use base64::Engine;

/// A multipart/alternative message with text and HTML, base64-encoded
/// parts (7-bit safe), RFC 2047 subject.
pub fn transactional(from: &str, to: &str, subject: &str, text: &str, html: &str) -> Vec<u8> {
    let now = time::OffsetDateTime::now_utc();
    let date = now.format(&time::format_description::well_known::Rfc2822).unwrap_or_default();
    let domain = from.rsplit_once('@').map_or("localhost", |(_, d)| d.trim_end_matches('>'));
    let unique = format!("{}.{}", now.unix_timestamp_nanos(), std::process::id());
    let boundary = format!("=_assent_{unique}");
    let b64 = |s: &str| {
        let enc = base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        enc.as_bytes().chunks(76).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("\r\n")
    };
    let subject =
        format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(subject.replace(['\r', '\n'], " ")));
    let clean = |s: &str| s.replace(['\r', '\n'], "");
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{unique}@{domain}>\r\n\
         Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{text}\r\n\
         --{boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{html}\r\n\
         --{boundary}--\r\n",
        from = clean(from),
        to = clean(to),
        text = b64(text),
        html = b64(html),
    )
    .into_bytes()
}
