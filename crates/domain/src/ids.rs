//! Typed ids. A bare `i64` can be passed where another entity's id is meant;
//! these newtypes make the compiler catch that, which matters most for
//! `AccountId`, the key of tenant isolation.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A customer account (tenant). Every tenant query is scoped by one.
    AccountId
);
id_type!(
    /// A user who logs in on behalf of an account.
    UserId
);
id_type!(
    /// An operator of the installation.
    OperatorId
);
id_type!(
    /// A mailing list of one account.
    ListId
);
id_type!(
    /// A contact (one address) of one account.
    ContactId
);
id_type!(
    /// An API token (the id, never the secret).
    TokenId
);
