//! Bounce and complaint classification (RFC 3463 codes + diagnostic text).
