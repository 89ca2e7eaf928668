//! The double opt-in confirmation mail (PRODUCT.md rule 2, RULES.md
//! "Consent"): no advertising — only the date and time of the request, its
//! source, the consent wording, the confirmation link and the sender's
//! imprint.

use std::sync::Arc;

use assent_mail::html::{escape, escape_lines};
use assent_mail::token::{Claims, Purpose, TokenKey};
use assent_store::{Confirmation, Store};

/// What the confirmation mail says, before it becomes a MIME message.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmationContent {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub link: String,
}

/// Renders confirmation mails for the outbox.
pub struct ConfirmationMailer {
    pub store: Arc<dyn Store>,
    pub tokens: Arc<TokenKey>,
    /// Base URL of the public pages, without a trailing slash.
    pub public_url: String,
}

/// The link that confirms this request (sealed token, no readable id).
pub fn confirm_link(tokens: &TokenKey, public_url: &str, c: &Confirmation) -> String {
    let token = tokens.sign(
        Purpose::Confirm,
        Claims { account: c.account_id.get(), subject: c.id, nonce: c.nonce, expires: c.expires_at.div_euclid(1000) },
    );
    format!("{}/c/{token}", public_url.trim_end_matches('/'))
}

fn utc(ms: i64) -> (String, String) {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    (
        format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
        format!("{:02}:{:02}:{:02} UTC", t.hour(), t.minute(), t.second()),
    )
}

impl ConfirmationMailer {
    /// Loads what the mail needs and renders it. `None` when the request
    /// no longer exists (erased meanwhile).
    pub async fn content(
        &self,
        account: assent_domain::AccountId,
        id: i64,
    ) -> assent_store::Result<Option<ConfirmationContent>> {
        let Some(c) = self.store.get_confirmation(account, id).await? else { return Ok(None) };
        let Some(acc) = self.store.get_account(account).await? else { return Ok(None) };
        let imprint = self.store.get_imprint(account).await?.map(|i| i.to_text()).unwrap_or_else(|| acc.name.clone());
        let mut lists = Vec::new();
        for l in &c.list_ids {
            if let Some(list) = self.store.get_list(account, *l).await? {
                lists.push(list.name);
            }
        }
        let link = confirm_link(&self.tokens, &self.public_url, &c);
        Ok(Some(render(&c, &acc.name, &lists, &imprint, &link)))
    }
}

/// The mail text in the request's language (German or English).
pub fn render(c: &Confirmation, sender: &str, lists: &[String], imprint: &str, link: &str) -> ConfirmationContent {
    let (date, time) = utc(c.requested_at);
    let lists = lists.join(", ");
    let german = c.language.starts_with("de");
    let source = describe_source(&c.source, german);
    let (subject, intro, wording_label, action, ignore, button) = if german {
        (
            format!("Bitte bestätigen Sie Ihre Anmeldung bei {sender}"),
            format!(
                "Am {date} um {time} wurde über {source} beantragt, dass diese Adresse E-Mails von {sender} erhält (Liste: {lists})."
            ),
            "Dabei wurde dieser Einwilligungstext angezeigt:",
            "Wenn Sie das waren und zustimmen, bestätigen Sie bitte hier:",
            "Wenn Sie das nicht waren, ignorieren Sie diese E-Mail: Sie erhalten dann nichts weiter, und die Anfrage wird gelöscht.",
            "Anmeldung bestätigen",
        )
    } else {
        (
            format!("Please confirm your subscription to {sender}"),
            format!(
                "On {date} at {time}, a request was made via {source} for this address to receive email from {sender} (list: {lists})."
            ),
            "The consent wording shown was:",
            "If this was you and you agree, please confirm here:",
            "If this was not you, ignore this email: you will receive nothing further and the request will be deleted.",
            "Confirm subscription",
        )
    };
    let text = format!(
        "{intro}\r\n\r\n{wording_label}\r\n\r\n  \"{wording}\"\r\n\r\n{action}\r\n\r\n{link}\r\n\r\n{ignore}\r\n\r\n-- \r\n{imprint}\r\n",
        wording = c.consent_text.replace('\n', "\r\n  "),
        imprint = imprint.replace('\n', "\r\n"),
    );
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;max-width:40em\"><p>{intro}</p><p>{wording_label}</p>\
         <blockquote style=\"border-left:3px solid #ccc;padding-left:1em\">{wording}</blockquote>\
         <p>{action}</p><p><a href=\"{href}\" style=\"display:inline-block;padding:.6em 1.2em;background:#1a5fb4;color:#fff;text-decoration:none;border-radius:4px\">{button}</a></p>\
         <p style=\"font-size:small\">{href_text}</p><p>{ignore}</p><hr><p style=\"font-size:small;color:#555\">{imprint}</p></body></html>",
        title = escape(&subject),
        intro = escape(&intro),
        wording_label = escape(wording_label),
        wording = escape_lines(&c.consent_text),
        action = escape(action),
        href = escape(link),
        button = escape(button),
        href_text = escape(link),
        ignore = escape(ignore),
        imprint = escape_lines(imprint),
    );
    ConfirmationContent { subject, text, html, link: link.to_string() }
}

fn describe_source(source: &str, german: bool) -> String {
    match (source.split_once(':'), german) {
        (Some(("form", id)), false) => format!("the sign-up form {id}"),
        (Some(("form", id)), true) => format!("das Anmeldeformular {id}"),
        (Some(("preferences", _)), false) => "the preference page".to_string(),
        (Some(("preferences", _)), true) => "die Einstellungsseite".to_string(),
        (_, false) => "the sender's system (API)".to_string(),
        (_, true) => "das System des Absenders (API)".to_string(),
    }
}
