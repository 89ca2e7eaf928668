//! The compliance gate (PRODUCT.md rule 7, RULES.md "Every campaign
//! message"): the checks a campaign must pass, on a message rendered for a
//! sample contact, before anything is sent. Each failed rule comes back
//! with a stable code and a message that says what to change; `send`
//! refuses while any remains.

use serde::Serialize;

/// One rule broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
}

impl Failure {
    fn new(code: &'static str, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }
}

/// What the gate looks at.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub account_active: bool,
    /// The From address as written on the campaign.
    pub from: &'a str,
    /// The From domain is one the account verified.
    pub from_domain_verified: bool,
    /// The account's imprint, complete, as text; `None` if it has none.
    pub imprint_text: Option<&'a str>,
    /// Pieces of the imprint that must appear in every mail (name, street,
    /// city, register number …).
    pub imprint_parts: &'a [&'a str],
    /// The rendered subject, HTML and text of the sample message.
    pub subject: &'a str,
    pub html: &'a str,
    pub text: &'a str,
    /// The sample's unsubscribe URL.
    pub unsubscribe_url: &'a str,
    /// The campaign advertises a product category (purchase-origin
    /// contacts get it), so the objection notice must be in it.
    pub needs_objection_notice: bool,
    /// The objection notice text as rendered for a purchase-origin contact.
    pub objection_notice: &'a str,
    /// The HTML and text rendered for a purchase-origin sample.
    pub purchase_html: &'a str,
    pub purchase_text: &'a str,
    /// Contacts that may receive it.
    pub audience: i64,
    /// Errors from rendering the templates for each attribute shape.
    pub render_errors: &'a [String],
}

/// Prefixes that pretend a mail is a reply or forward in an ongoing
/// conversation, hiding that it is advertising (UWG §6 (2) Nr. 1 TMG/DDG).
const FAKE_REPLY: &[&str] = &["re:", "aw:", "fw:", "fwd:", "wg:", "tr:", "sv:", "vs:", "antw:"];

/// Runs every check; an empty list means the campaign may be sent.
pub fn check(f: &Facts<'_>) -> Vec<Failure> {
    let mut out = Vec::new();
    if !f.account_active {
        out.push(Failure::new(
            "account_not_active",
            "the account is not active; campaigns can be sent once the operator has activated it",
        ));
    }
    let from = f.from.trim();
    if from.is_empty() || from.contains(',') || from.contains(';') || from.matches('@').count() != 1 {
        out.push(Failure::new("from_not_single", "the From must be exactly one address"));
    }
    if !f.from_domain_verified {
        out.push(Failure::new(
            "from_domain_unverified",
            format!(
                "{from} is not on a domain this account has verified; add the domain under sender domains and publish its DNS records"
            ),
        ));
    }
    let subject = f.subject.trim();
    if subject.is_empty() {
        out.push(Failure::new("subject_empty", "the subject is empty"));
    } else if FAKE_REPLY.iter().any(|p| subject.to_lowercase().starts_with(p)) {
        out.push(Failure::new(
            "subject_disguised",
            "the subject pretends to be a reply or forward; a campaign must not hide its commercial nature",
        ));
    }
    match f.imprint_text {
        None => out.push(Failure::new(
            "imprint_incomplete",
            "the account has no complete imprint; submit it with the audit (PUT /api/v1/account/audit)",
        )),
        Some(_) => {
            let html_text = visible_text(f.html);
            let missing_html: Vec<&str> =
                f.imprint_parts.iter().copied().filter(|p| !contains_loose(&html_text, p)).collect();
            let missing_text: Vec<&str> =
                f.imprint_parts.iter().copied().filter(|p| !contains_loose(f.text, p)).collect();
            if !missing_html.is_empty() {
                out.push(Failure::new(
                    "imprint_missing_html",
                    format!(
                        "the HTML part lacks the imprint ({}); add {{{{ imprint }}}} to it",
                        missing_html.join(", ")
                    ),
                ));
            }
            if !missing_text.is_empty() {
                out.push(Failure::new(
                    "imprint_missing_text",
                    format!(
                        "the text part lacks the imprint ({}); add {{{{ imprint }}}} to it",
                        missing_text.join(", ")
                    ),
                ));
            }
        }
    }
    if !visible_link(f.html, f.unsubscribe_url) {
        out.push(Failure::new(
            "unsubscribe_missing_html",
            "the HTML part has no visible unsubscribe link; add <a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>",
        ));
    }
    if f.unsubscribe_url.is_empty() || !f.text.contains(f.unsubscribe_url) {
        out.push(Failure::new(
            "unsubscribe_missing_text",
            "the text part has no unsubscribe link; add {{ unsubscribe_url }} to it",
        ));
    }
    if f.needs_objection_notice {
        let notice = f.objection_notice.trim();
        let first = notice.lines().next().unwrap_or_default().trim();
        if first.is_empty()
            || !contains_loose(&visible_text(f.purchase_html), first)
            || !contains_loose(f.purchase_text, first)
        {
            out.push(Failure::new(
                "objection_notice_missing",
                "this campaign advertises to existing customers (purchase consent): every mail must tell them they may \
                 object at any time; add {{ objection_notice }} to the HTML and text",
            ));
        }
    }
    for e in f.render_errors {
        out.push(Failure::new("render_error", e.clone()));
    }
    if f.audience <= 0 {
        out.push(Failure::new(
            "audience_empty",
            "no contact of the chosen lists may receive this campaign (see the audience counts for the reasons)",
        ));
    }
    out
}

/// Text a reader sees: tags removed, entities for the few common
/// characters decoded, white space collapsed.
pub fn visible_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let lower = html.to_ascii_lowercase();
    let mut offset = 0;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let tag_start = offset + start;
        // Skip whole <style> and <script> elements: their content is not seen.
        let skip_to = ["style", "script", "head"].iter().find_map(|name| {
            let open = format!("<{name}");
            lower[tag_start..].starts_with(&open).then(|| {
                let close = format!("</{name}>");
                lower[tag_start..].find(&close).map(|e| tag_start + e + close.len())
            })?
        });
        let end = match skip_to {
            Some(e) => e,
            None => match rest[start..].find('>') {
                Some(e) => offset + start + e + 1,
                None => html.len(),
            },
        };
        out.push(' ');
        offset = end;
        rest = &html[end..];
    }
    out.push_str(rest);
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `haystack` contains `needle`, comparing with white space collapsed.
fn contains_loose(haystack: &str, needle: &str) -> bool {
    let h = haystack.split_whitespace().collect::<Vec<_>>().join(" ");
    let n = needle.split_whitespace().collect::<Vec<_>>().join(" ");
    !n.is_empty() && h.contains(&n)
}

/// There is an `<a href="url">` with visible text and no hiding style.
fn visible_link(html: &str, url: &str) -> bool {
    if url.is_empty() {
        return false;
    }
    let escaped = url.replace('&', "&amp;");
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find("<a") {
        let start = from + pos;
        let Some(tag_len) = lower[start..].find('>') else { return false };
        let tag = &html[start..start + tag_len + 1];
        let tag_lower = tag.to_ascii_lowercase();
        let end = lower[start..].find("</a>").map_or(html.len(), |e| start + e);
        let inner = &html[(start + tag_len + 1).min(end)..end];
        let hidden = ["display:none", "visibility:hidden", "font-size:0", "opacity:0", "color:transparent"]
            .iter()
            .any(|h| tag_lower.replace(' ', "").contains(h));
        if (tag.contains(url) || tag.contains(&escaped)) && !hidden && !visible_text(inner).is_empty() {
            return true;
        }
        from = start + 2;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://x.example/u/TOKEN";

    fn good<'a>(html: &'a str, text: &'a str) -> Facts<'a> {
        Facts {
            account_active: true,
            from: "news@shop.example",
            from_domain_verified: true,
            imprint_text: Some("Shop GmbH\nMain St 1\n10115 Berlin"),
            imprint_parts: &["Shop GmbH", "Main St 1", "10115 Berlin"],
            subject: "Our autumn offers",
            html,
            text,
            unsubscribe_url: URL,
            audience: 10,
            ..Facts::default()
        }
    }

    const HTML: &str = "<html><head><style>a{color:red}</style></head><body><p>Hi</p>\
        <p><a href=\"https://x.example/u/TOKEN\">Unsubscribe</a></p><p>Shop GmbH<br>Main St 1<br>10115 Berlin</p></body></html>";
    const TEXT: &str = "Hi\n\nUnsubscribe: https://x.example/u/TOKEN\n\nShop GmbH\nMain St 1\n10115 Berlin\n";

    fn codes(f: &Facts<'_>) -> Vec<&'static str> {
        check(f).into_iter().map(|f| f.code).collect()
    }

    #[test]
    fn a_complete_campaign_passes() {
        assert_eq!(codes(&good(HTML, TEXT)), Vec::<&str>::new());
    }

    #[test]
    fn each_rule_fails_alone() {
        let errors = ["html line 3: undefined".to_string()];
        let cases: Vec<(Facts<'_>, &str)> = vec![
            (Facts { account_active: false, ..good(HTML, TEXT) }, "account_not_active"),
            (Facts { from: "a@x.example, b@x.example", ..good(HTML, TEXT) }, "from_not_single"),
            (Facts { from_domain_verified: false, ..good(HTML, TEXT) }, "from_domain_unverified"),
            (Facts { subject: "  ", ..good(HTML, TEXT) }, "subject_empty"),
            (Facts { subject: "RE: your order", ..good(HTML, TEXT) }, "subject_disguised"),
            (Facts { imprint_text: None, ..good(HTML, TEXT) }, "imprint_incomplete"),
            (Facts { audience: 0, ..good(HTML, TEXT) }, "audience_empty"),
            (Facts { render_errors: &errors, ..good(HTML, TEXT) }, "render_error"),
        ];
        for (facts, code) in cases {
            assert_eq!(codes(&facts), vec![code]);
        }
        let no_link_html = HTML.replace("<a href=\"https://x.example/u/TOKEN\">Unsubscribe</a>", "");
        assert_eq!(codes(&good(&no_link_html, TEXT)), vec!["unsubscribe_missing_html"]);
        let hidden = HTML.replace("<a href", "<a style=\"display: none\" href");
        assert_eq!(codes(&good(&hidden, TEXT)), vec!["unsubscribe_missing_html"]);
        let empty_anchor = HTML.replace(">Unsubscribe</a>", "></a>");
        assert_eq!(codes(&good(&empty_anchor, TEXT)), vec!["unsubscribe_missing_html"]);
        assert_eq!(codes(&good(HTML, &TEXT.replace(URL, ""))), vec!["unsubscribe_missing_text"]);
        assert_eq!(codes(&good(&HTML.replace("Main St 1", ""), TEXT)), vec!["imprint_missing_html"]);
        assert_eq!(codes(&good(HTML, &TEXT.replace("Main St 1", ""))), vec!["imprint_missing_text"]);
        // The imprint hidden in a style element does not count.
        let in_style = HTML.replace(
            "<p>Shop GmbH<br>Main St 1<br>10115 Berlin</p>",
            "<style>Shop GmbH Main St 1 10115 Berlin</style>",
        );
        assert_eq!(codes(&good(&in_style, TEXT)), vec!["imprint_missing_html"]);
        let purchase = Facts {
            needs_objection_notice: true,
            objection_notice: "You may object at any time.",
            purchase_html: HTML,
            purchase_text: TEXT,
            ..good(HTML, TEXT)
        };
        assert_eq!(codes(&purchase), vec!["objection_notice_missing"]);
        let with_notice_html = format!("{HTML}<p>You may object at any time.</p>");
        let with_notice_text = format!("{TEXT}You may object at any time.");
        let ok = Facts { purchase_html: &with_notice_html, purchase_text: &with_notice_text, ..purchase };
        assert_eq!(codes(&ok), Vec::<&str>::new());
    }

    #[test]
    fn visible_text_strips_markup() {
        assert_eq!(visible_text("<p>a&amp;b</p><script>x</script><b>c</b>"), "a&b c");
    }
}
