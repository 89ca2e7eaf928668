//! Mail handling without I/O. This crate owns the signed link tokens of
//! public pages (HMAC-SHA256), outbound message assembly (RFC 5322, RFC 2045–
//! 2047 MIME, RFC 2369/8058 list headers, RFC 2919 List-Id), DKIM signing
//! (RFC 6376, RFC 8463 Ed25519), campaign templates, and the parsing of
//! inbound reports: delivery status notifications (RFC 3464, RFC 3463
//! codes), feedback reports (RFC 5965 ARF) and auto-replies (RFC 3834).

pub mod html;
pub mod inbound;
pub mod outbound;
pub mod token;
