//! Turning a campaign into messages: DKIM keys for a sender domain, the
//! compliance gate run on a rendered sample, and the per-recipient message
//! (render, assemble with every header RULES.md asks for, sign).

use std::sync::Arc;

use assent_domain::compliance::{self, Failure};
use assent_domain::{AccountId, EmailAddress, Imprint, ListId};
use assent_mail::outbound::{
    CampaignMessage, CampaignTemplate, DkimKey, DkimSigner, Mailbox, MessageId, RenderContext, sign_all, verp_sender,
};
use assent_mail::token::{Claims, Purpose, TokenKey};
use assent_store::{AudienceMember, Campaign, NewSenderDomain, SenderDomain, Store};
use serde_json::{Value, json};
use thiserror::Error;

use crate::keys::SecretBox;

pub const RSA_SELECTOR: &str = "assent-r1";
pub const ED25519_SELECTOR: &str = "assent-e1";

/// The guidelines a sender accepts before each send (PRODUCT.md rule 6).
/// Changing the text means changing the version.
pub const GUIDELINES_VERSION: &str = "2026-11";
pub const GUIDELINES: &str = "Anti-spam guidelines for sending with Assent (version 2026-11)

1. I send only to people who gave provable consent to receive email from me: double opt-in, or one of the
   documented exceptions (existing customers for similar products, business cards, offline forms,
   co-registration naming me, contracts). I never send to bought, rented, scraped or shared lists.
2. Every mail names me as the sender with my complete imprint, has a visible unsubscribe link, and its
   subject does not hide that it is advertising.
3. Unsubscribes, complaints and bounces take effect at once; I do not re-add such addresses.
4. I do not send to role addresses (info@, sales@, …) or to addresses I did not collect myself.
5. I keep complaint rates below 0.1 % and accept that campaigns are paused, and my account suspended, when
   complaint or bounce rates exceed the limits (0.3 % complaints, 5 % hard bounces).
6. The operator of this installation may audit my lists and consent records at any time.";

/// The notice purchase-origin contacts get in every mail (UWG §7(3) Nr. 4).
pub fn objection_notice(unsubscribe_url: &str) -> String {
    format!(
        "You receive this email because you bought from us. You may object to such emails at any time, \
         at no cost other than basic transmission rates: {unsubscribe_url}"
    )
}

#[derive(Debug, Error)]
pub enum CampaignError {
    #[error("cannot open the sender domain's keys: {0}")]
    Keys(String),
    #[error("the sender address {0:?} is not usable: {1}")]
    From(String, String),
    #[error("{0}")]
    Template(String),
    #[error("{0}")]
    Message(String),
    #[error("storage error: {0}")]
    Store(#[from] assent_store::StoreError),
}

/// New DKIM keys (RSA-2048 and Ed25519) for a domain, sealed, and the DNS
/// records to publish.
pub fn new_sender_domain(
    domain: &str,
    secrets: &SecretBox,
    spf_mechanism: &str,
    bounce_mx: &str,
) -> Result<NewSenderDomain, CampaignError> {
    let rsa = DkimKey::generate_rsa2048().map_err(|e| CampaignError::Keys(e.to_string()))?;
    let ed = DkimKey::generate_ed25519().map_err(|e| CampaignError::Keys(e.to_string()))?;
    let seal = |k: &DkimKey| secrets.seal(k.to_pkcs8_der()).map_err(|e| CampaignError::Keys(e.to_string()));
    let records = json!([
        {"type": "TXT", "name": format!("{RSA_SELECTOR}._domainkey.{domain}"), "value": rsa.dns_txt_value(), "purpose": "dkim_rsa"},
        {"type": "TXT", "name": format!("{ED25519_SELECTOR}._domainkey.{domain}"), "value": ed.dns_txt_value(), "purpose": "dkim_ed25519"},
        {"type": "TXT", "name": domain, "value": format!("v=spf1 {spf_mechanism} ~all"), "purpose": "spf", "mechanism": spf_mechanism},
        {"type": "TXT", "name": format!("_dmarc.{domain}"), "value": format!("v=DMARC1; p=none; rua=mailto:dmarc@{domain}"), "purpose": "dmarc"},
        {"type": "MX", "name": bounce_domain(domain), "value": format!("10 {bounce_mx}"), "purpose": "bounce_mx"},
    ]);
    Ok(NewSenderDomain {
        domain: domain.to_string(),
        selector: RSA_SELECTOR.to_string(),
        rsa_key: seal(&rsa)?,
        ed25519_key: seal(&ed)?,
        records,
    })
}

/// Where bounces for a sender domain go (VERP envelope senders).
pub fn bounce_domain(domain: &str) -> String {
    format!("bounce.{domain}")
}

/// Both signers of a verified domain.
pub fn signers(domain: &SenderDomain, secrets: &SecretBox) -> Result<Vec<DkimSigner>, CampaignError> {
    let open = |sealed: &str, selector: &str| -> Result<DkimSigner, CampaignError> {
        let der = secrets.open(sealed).map_err(|e| CampaignError::Keys(e.to_string()))?;
        let key = DkimKey::from_pkcs8_der(&der).map_err(|e| CampaignError::Keys(e.to_string()))?;
        DkimSigner::new(key, &domain.domain, selector).map_err(|e| CampaignError::Keys(e.to_string()))
    };
    Ok(vec![open(&domain.rsa_key, RSA_SELECTOR)?, open(&domain.ed25519_key, ED25519_SELECTOR)?])
}

/// The imprint pieces that must visibly appear in every mail.
pub fn imprint_parts(i: &Imprint) -> Vec<String> {
    vec![i.name.clone(), i.street.clone(), format!("{} {}", i.postal_code, i.city)]
}

/// Everything needed to produce the messages of one campaign, prepared once.
pub struct Prepared {
    pub campaign: Campaign,
    pub template: CampaignTemplate,
    pub imprint: Option<Imprint>,
    pub imprint_text: String,
    pub from: EmailAddress,
    pub reply_to: Option<EmailAddress>,
    /// The From's domain, when verified.
    pub domain: Option<SenderDomain>,
    pub signers: Vec<DkimSigner>,
    pub tokens: Arc<TokenKey>,
    pub public_url: String,
    pub account_active: bool,
    pub list_names: Vec<(ListId, String)>,
}

impl Prepared {
    pub async fn load(
        store: &dyn Store,
        campaign: Campaign,
        secrets: &SecretBox,
        tokens: Arc<TokenKey>,
        public_url: &str,
    ) -> Result<Prepared, CampaignError> {
        let account = campaign.account_id;
        let template = CampaignTemplate::compile(&campaign.subject, &campaign.html_inlined, campaign.text.as_deref())
            .map_err(|e| CampaignError::Template(e.to_string()))?;
        let from = EmailAddress::parse(&campaign.from_email)
            .map_err(|e| CampaignError::From(campaign.from_email.clone(), e.to_string()))?;
        let reply_to = campaign.reply_to.as_deref().and_then(|r| EmailAddress::parse(r).ok());
        let domain = store.verified_domain(account, from.domain()).await?;
        let signers = match &domain {
            Some(d) => signers(d, secrets)?,
            None => Vec::new(),
        };
        let imprint = store.get_imprint(account).await?;
        let imprint_text = imprint.as_ref().map(Imprint::to_text).unwrap_or_default();
        let account_active = store.get_account(account).await?.is_some_and(|a| a.status.can_send());
        let mut list_names = Vec::new();
        for l in &campaign.list_ids {
            if let Some(list) = store.get_list(account, *l).await? {
                list_names.push((list.id, list.name));
            }
        }
        Ok(Prepared {
            campaign,
            template,
            imprint,
            imprint_text,
            from,
            reply_to,
            domain,
            signers,
            tokens,
            public_url: public_url.trim_end_matches('/').to_string(),
            account_active,
            list_names,
        })
    }

    fn account(&self) -> AccountId {
        self.campaign.account_id
    }

    pub fn unsubscribe_url(&self, contact: i64, list: ListId) -> String {
        let t = self.tokens.sign(
            Purpose::Unsubscribe,
            Claims { account: self.account().get(), subject: contact, nonce: list.get(), expires: 0 },
        );
        format!("{}/u/{t}", self.public_url)
    }

    pub fn preferences_url(&self, contact: i64) -> String {
        let t = self.tokens.sign(
            Purpose::Preferences,
            Claims { account: self.account().get(), subject: contact, nonce: 0, expires: 0 },
        );
        format!("{}/p/{t}", self.public_url)
    }

    /// The compliance gate on a sample message, rendered for several
    /// attribute shapes; `audience` is the number of eligible contacts.
    pub fn preflight(&self, audience: i64) -> Vec<Failure> {
        let sample_list = self.campaign.list_ids.first().copied().unwrap_or(ListId(0));
        let unsubscribe_url = self.unsubscribe_url(0, sample_list);
        let preferences_url = self.preferences_url(0);
        let notice = objection_notice(&unsubscribe_url);
        let shapes: Vec<serde_json::Map<String, Value>> = {
            let mut full = serde_json::Map::new();
            for name in self.template.attribute_names() {
                full.insert(name.clone(), Value::String(format!("Sample {name}")));
            }
            let mut numbers = serde_json::Map::new();
            for name in self.template.attribute_names() {
                numbers.insert(name.clone(), json!(42));
            }
            vec![full, serde_json::Map::new(), numbers]
        };
        let mut render_errors = Vec::new();
        let mut sample = None;
        let mut purchase = None;
        for (i, attrs) in shapes.iter().enumerate() {
            let ctx = RenderContext {
                email: "sample@example.org",
                attributes: attrs,
                unsubscribe_url: &unsubscribe_url,
                preferences_url: &preferences_url,
                imprint: &self.imprint_text,
                objection_notice: "",
            };
            match self.template.render(&ctx) {
                Ok(r) => {
                    if sample.is_none() {
                        sample = Some(r);
                    }
                }
                Err(e) => render_errors.push(format!(
                    "{} (attributes {})",
                    e,
                    ["filled in", "all missing", "numbers"][i.min(2)]
                )),
            }
            if i == 0 {
                purchase = self.template.render(&RenderContext { objection_notice: &notice, ..ctx }).ok();
            }
        }
        // Assemble a sample too: header values (the unsubscribe URL must be
        // https, RFC 8058) are checked by the message builder.
        let sample_member = AudienceMember {
            contact: 0,
            list: sample_list,
            email: "sample@example.org".into(),
            attributes: "{}".into(),
            origin: "double_opt_in".into(),
        };
        let mut assembly_error = None;
        if sample.is_some()
            && let Err(e) =
                self.message(&sample_member, time::OffsetDateTime::now_utc().unix_timestamp(), &mut Vec::new())
        {
            assembly_error = Some(e.to_string());
        }
        let sample = sample.unwrap_or_default();
        let purchase = purchase.unwrap_or_default();
        let parts = self.imprint.as_ref().map(imprint_parts).unwrap_or_default();
        let part_refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let mut failures = compliance::check(&compliance::Facts {
            account_active: self.account_active,
            from: &self.campaign.from_email,
            from_domain_verified: self.domain.is_some(),
            imprint_text: self.imprint.as_ref().map(|_| self.imprint_text.as_str()),
            imprint_parts: &part_refs,
            subject: &sample.subject,
            html: &sample.html,
            text: &sample.text,
            unsubscribe_url: &unsubscribe_url,
            needs_objection_notice: self.campaign.product_category.is_some(),
            objection_notice: &notice,
            purchase_html: &purchase.html,
            purchase_text: &purchase.text,
            audience,
            render_errors: &render_errors,
        });
        if let Some(e) = assembly_error {
            failures.push(Failure { code: "message_invalid", message: e });
        }
        failures
    }

    /// The message for one recipient: rendered, assembled, DKIM-signed.
    /// Returns the envelope sender and the bytes. `buf` is reused.
    pub fn message(
        &self,
        member: &AudienceMember,
        now_secs: i64,
        buf: &mut Vec<u8>,
    ) -> Result<(String, Vec<u8>), CampaignError> {
        let to = EmailAddress::parse(&member.email).map_err(|e| CampaignError::Message(format!("recipient: {e}")))?;
        let attrs: serde_json::Map<String, Value> = serde_json::from_str(&member.attributes).unwrap_or_default();
        let unsubscribe_url = self.unsubscribe_url(member.contact, member.list);
        let preferences_url = self.preferences_url(member.contact);
        let notice = if member.origin == "purchase" { objection_notice(&unsubscribe_url) } else { String::new() };
        let rendered = self
            .template
            .render(&RenderContext {
                email: to.as_str(),
                attributes: &attrs,
                unsubscribe_url: &unsubscribe_url,
                preferences_url: &preferences_url,
                imprint: &self.imprint_text,
                objection_notice: &notice,
            })
            .map_err(|e| CampaignError::Template(e.to_string()))?;
        let sender_domain = self.from.domain();
        let bounces = bounce_domain(sender_domain);
        let ids = [self.account().get() as u64, self.campaign.id as u64, member.contact as u64];
        let verp = verp_sender(&self.tokens.sign_short(Purpose::Bounce, ids), &bounces)
            .map_err(|e| CampaignError::Message(e.to_string()))?;
        let mailto = format!("unsubscribe+{}@{bounces}", self.tokens.sign_short(Purpose::MailtoUnsubscribe, ids));
        let message_id =
            MessageId::new(&format!("{:x}.{:x}", self.campaign.id, member.contact), now_secs as u64, sender_domain)
                .map_err(|e| CampaignError::Message(e.to_string()))?;
        let list_name = self
            .list_names
            .iter()
            .find(|(id, _)| *id == member.list)
            .map(|(_, n)| n.as_str())
            .unwrap_or(self.campaign.name.as_str());
        let list_id = format!("{}.{}.lists.{sender_domain}", member.list, self.account());
        let feedback_id = format!("{}:{}:{}:assent", self.campaign.id, self.account(), member.list);
        let from_name = (!self.campaign.from_name.is_empty()).then_some(self.campaign.from_name.as_str());
        let to_name = attrs.get("first_name").and_then(Value::as_str);
        let msg = CampaignMessage {
            from: Mailbox::new(from_name, &self.from),
            to: Mailbox::new(to_name, &to),
            reply_to: self.reply_to.as_ref().map(|r| Mailbox::new(None, r)),
            subject: &rendered.subject,
            date: now_secs,
            message_id: &message_id,
            list_id: assent_mail::outbound::ListId { name: list_name, id: &list_id },
            unsubscribe_url: &unsubscribe_url,
            unsubscribe_mailto: &mailto,
            feedback_id: &feedback_id,
            csa_complaints: false,
            text: &rendered.text,
            html: &rendered.html,
        };
        buf.clear();
        msg.write_to(buf).map_err(|e| CampaignError::Message(e.to_string()))?;
        let mut out = Vec::with_capacity(buf.len() + 1200);
        if !self.signers.is_empty() {
            let sig = sign_all(self.signers.iter(), buf, now_secs as u64)
                .map_err(|e| CampaignError::Message(e.to_string()))?;
            out.extend_from_slice(sig.as_bytes());
        }
        out.extend_from_slice(buf);
        Ok((verp, out))
    }
}
