//! Outbound mail: everything between a campaign template and the bytes handed
//! to SMTP, without I/O.
//!
//! * [`template`] compiles a campaign's subject/HTML/text templates once
//!   (minijinja, sandboxed: no loader, fuel-limited, HTML autoescaped) and
//!   renders them per contact; [`css`] inlines `<style>` rules at compile time
//!   and [`text`] derives a text part from HTML when the campaign has none.
//! * [`message`] assembles RFC 5322 messages: campaign mail with the list
//!   headers of RFC 2369/8058 (List-Unsubscribe, one-click) and RFC 2919
//!   (List-Id), Feedback-ID, and transactional mail (confirmations). Bodies are
//!   MIME (RFC 2045/2046) multipart/alternative in quoted-printable, header
//!   text is RFC 2047 encoded, so a message is 7-bit clean with lines of at
//!   most 78 octets wherever the content allows and never more than 998.
//! * [`encode`] holds the byte-level encoders those build on.
//! * [`dkim`] signs messages (RFC 6376, relaxed/relaxed, rsa-sha256 and
//!   RFC 8463 ed25519-sha256) and generates the keys and their DNS records.
//!
//! The hot path of a campaign is render → assemble → sign, once per
//! recipient: the assembly writes into caller-owned buffers and the signer
//! hashes the body once for all signatures, so RSA signing dominates.

pub mod css;
pub mod dkim;
pub mod encode;
pub mod message;
mod splice;
pub mod template;
pub mod text;

pub use dkim::{DkimAlgorithm, DkimError, DkimKey, DkimSigner, sign_all};
pub use message::{
    AutoSubmitted, CampaignMessage, ListId, Mailbox, MessageError, MessageId, TransactionalMessage, verp_sender,
};
pub use template::{CampaignTemplate, RenderContext, Rendered, TemplateError, TemplatePart};
