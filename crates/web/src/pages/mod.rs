//! Public pages for recipients, who never log in: the hosted sign-up form
//! and its embeddable snippet (`/f`), confirmation (`/c`), unsubscribe
//! (`/u`) and preferences (`/p`). Every page is server-rendered HTML with
//! all text escaped, works without JavaScript, and is sent with a strict
//! Content-Security-Policy and `Referrer-Policy: no-referrer` (the tokens in
//! these URLs must not leak to other sites).

pub mod body;
pub mod confirm;
pub mod form;
pub mod preferences;
pub mod unsubscribe;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use assent_mail::html::escape;

/// Page texts in the languages forms can have.
pub struct Texts {
    pub lang: &'static str,
    pub email: &'static str,
    pub subscribe: &'static str,
    pub check_inbox_title: &'static str,
    pub check_inbox: &'static str,
    pub consent_required: &'static str,
    pub invalid_email: &'static str,
    pub role_address: &'static str,
    pub disposable: &'static str,
    pub too_many: &'static str,
    pub unavailable: &'static str,
    pub not_found: &'static str,
    pub bad_link: &'static str,
    pub expired_link: &'static str,
    pub confirm_title: &'static str,
    pub confirm_button: &'static str,
    pub confirming: &'static str,
    pub confirmed_title: &'static str,
    pub confirmed: &'static str,
    pub already_confirmed: &'static str,
    pub unsubscribe_title: &'static str,
    pub unsubscribe_question: &'static str,
    pub unsubscribe_button: &'static str,
    pub unsubscribed: &'static str,
    pub preferences_title: &'static str,
    pub save: &'static str,
    pub saved: &'static str,
    pub export: &'static str,
    pub erase: &'static str,
    pub erase_confirm: &'static str,
    pub erased: &'static str,
    pub erase_needs_tick: &'static str,
    pub resubscribe_pending: &'static str,
    pub too_large: &'static str,
}

pub const EN: Texts = Texts {
    lang: "en",
    email: "Email address",
    subscribe: "Subscribe",
    check_inbox_title: "Almost done",
    check_inbox: "Thank you. If this address can be subscribed, we have sent it an email with a confirmation link. Your subscription starts only once you click it.",
    consent_required: "Please tick the box to agree — we only send email to people who asked for it.",
    invalid_email: "This does not look like a valid email address. Please check it.",
    role_address: "Please use a personal address: shared addresses like info@ or sales@ cannot subscribe.",
    disposable: "Please use a permanent address: disposable email addresses cannot subscribe.",
    too_many: "Too many attempts. Please wait a little and try again.",
    unavailable: "This form is not accepting sign-ups at the moment.",
    not_found: "This page does not exist.",
    bad_link: "This link is not valid. It may have been cut off — try copying the whole link from the email.",
    expired_link: "This link has expired. Please sign up again to get a new one.",
    confirm_title: "Confirm your subscription",
    confirm_button: "Confirm subscription",
    confirming: "Confirming…",
    confirmed_title: "Subscription confirmed",
    confirmed: "Thank you — your subscription is confirmed. You can unsubscribe at any time with the link in every email.",
    already_confirmed: "This link has already been used; nothing more to do.",
    unsubscribe_title: "Unsubscribe",
    unsubscribe_question: "Do you want to stop receiving these emails?",
    unsubscribe_button: "Unsubscribe",
    unsubscribed: "You are unsubscribed and will receive no more of these emails.",
    preferences_title: "Your email preferences",
    save: "Save",
    saved: "Your preferences are saved.",
    export: "Download my data",
    erase: "Erase my data",
    erase_confirm: "Yes, erase all my data and never email me again",
    erased: "Your data has been erased. Only a one-way hash of your address is kept so that you are never emailed again.",
    erase_needs_tick: "Please tick the box to confirm the erasure.",
    resubscribe_pending: "We have sent you an email to confirm the lists you switched on.",
    too_large: "The submitted data is too large.",
};

pub const DE: Texts = Texts {
    lang: "de",
    email: "E-Mail-Adresse",
    subscribe: "Anmelden",
    check_inbox_title: "Fast geschafft",
    check_inbox: "Vielen Dank. Sofern diese Adresse angemeldet werden kann, haben wir ihr eine E-Mail mit einem Bestätigungslink geschickt. Die Anmeldung gilt erst, wenn Sie ihn anklicken.",
    consent_required: "Bitte setzen Sie das Häkchen zur Einwilligung — wir schreiben nur Menschen, die es wünschen.",
    invalid_email: "Das sieht nicht nach einer gültigen E-Mail-Adresse aus. Bitte prüfen Sie sie.",
    role_address: "Bitte verwenden Sie eine persönliche Adresse: Sammeladressen wie info@ oder vertrieb@ können sich nicht anmelden.",
    disposable: "Bitte verwenden Sie eine dauerhafte Adresse: Wegwerf-Adressen können sich nicht anmelden.",
    too_many: "Zu viele Versuche. Bitte warten Sie einen Moment und versuchen Sie es erneut.",
    unavailable: "Dieses Formular nimmt derzeit keine Anmeldungen an.",
    not_found: "Diese Seite gibt es nicht.",
    bad_link: "Dieser Link ist ungültig. Vielleicht wurde er abgeschnitten — kopieren Sie bitte den ganzen Link aus der E-Mail.",
    expired_link: "Dieser Link ist abgelaufen. Bitte melden Sie sich erneut an, um einen neuen zu erhalten.",
    confirm_title: "Anmeldung bestätigen",
    confirm_button: "Anmeldung bestätigen",
    confirming: "Wird bestätigt …",
    confirmed_title: "Anmeldung bestätigt",
    confirmed: "Vielen Dank — Ihre Anmeldung ist bestätigt. Sie können sich jederzeit über den Link in jeder E-Mail abmelden.",
    already_confirmed: "Dieser Link wurde bereits verwendet; es ist nichts weiter zu tun.",
    unsubscribe_title: "Abmelden",
    unsubscribe_question: "Möchten Sie diese E-Mails nicht mehr erhalten?",
    unsubscribe_button: "Abmelden",
    unsubscribed: "Sie sind abgemeldet und erhalten keine dieser E-Mails mehr.",
    preferences_title: "Ihre E-Mail-Einstellungen",
    save: "Speichern",
    saved: "Ihre Einstellungen sind gespeichert.",
    export: "Meine Daten herunterladen",
    erase: "Meine Daten löschen",
    erase_confirm: "Ja, alle meine Daten löschen und mir nie wieder schreiben",
    erased: "Ihre Daten wurden gelöscht. Nur ein Einweg-Hash Ihrer Adresse bleibt, damit Sie nie wieder angeschrieben werden.",
    erase_needs_tick: "Bitte setzen Sie das Häkchen, um die Löschung zu bestätigen.",
    resubscribe_pending: "Wir haben Ihnen eine E-Mail geschickt, um die eingeschalteten Listen zu bestätigen.",
    too_large: "Die gesendeten Daten sind zu groß.",
};

pub fn texts(lang: &str) -> &'static Texts {
    if lang.to_ascii_lowercase().starts_with("de") { &DE } else { &EN }
}

/// The confirm page's one script: submit the form. Allowed by its hash so
/// the policy can forbid every other script.
pub const AUTO_SUBMIT: &str = "document.getElementById('go').submit();";

fn csp(framable: bool) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(AUTO_SUBMIT.as_bytes()));
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'; form-action 'self'; base-uri 'none'; frame-ancestors {}",
        if framable { "*" } else { "'none'" }
    )
}

/// A complete page: a small layout around already-escaped `body_html`.
pub struct Page {
    pub status: StatusCode,
    pub lang: &'static str,
    pub title: String,
    pub body_html: String,
    /// The hosted form may be shown in an iframe on the customer's site.
    pub framable: bool,
}

impl Page {
    pub fn new(status: StatusCode, t: &Texts, title: &str, body_html: String) -> Page {
        Page { status, lang: t.lang, title: title.to_string(), body_html, framable: false }
    }

    /// A page with one message paragraph.
    pub fn message(status: StatusCode, t: &Texts, title: &str, message: &str) -> Page {
        Page::new(status, t, title, format!("<p>{}</p>", escape(message)))
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <meta name=\"robots\" content=\"noindex\"><title>{title}</title>\
             <style>body{{font-family:system-ui,sans-serif;max-width:36em;margin:2em auto;padding:0 1em;line-height:1.5}}\
             label{{display:block;margin:.8em 0}}input[type=email],input[type=text]{{width:100%;padding:.4em;box-sizing:border-box}}\
             button{{padding:.5em 1.2em}}.error{{color:#a00}}.hp{{position:absolute;left:-10000px}}</style></head>\
             <body><h1>{title}</h1>\n{body}\n</body></html>\n",
            lang = self.lang,
            title = escape(&self.title),
            body = self.body_html,
        );
        let mut response = (self.status, html).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        if let Ok(v) = HeaderValue::from_str(&csp(self.framable)) {
            headers.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Seconds since the epoch, for token expiry checks.
pub fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
