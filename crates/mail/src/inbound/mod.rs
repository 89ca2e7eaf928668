//! Inbound reports: bounces, complaints, auto-replies.
